"""Progress reporting for long work (tqdm when available, silent otherwise)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

__all__ = ["progress"]


def progress(iterable: Iterable, *, total: int | None = None, desc: str = "", enabled: bool | None = None):
    """Wrap ``iterable`` in a progress bar on stderr.

    ``enabled=None`` shows the bar only when stderr is a terminal and the
    environment variable ``TOUPY_RESOLUTION_PROGRESS`` is not ``0``; set that
    variable to ``1`` to force bars in logs of batch jobs.
    """
    if enabled is None:
        setting = os.environ.get("TOUPY_RESOLUTION_PROGRESS", "")
        enabled = setting == "1" or (setting != "0" and sys.stderr.isatty())
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr)
