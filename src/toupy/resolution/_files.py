"""Atomic file output for figures, reports and JSON: the file appears complete or not at all."""

from __future__ import annotations

import contextlib
import os

from toupy.resolution.io._atomic import atomic_stream

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, overwrite: bool = True):
    """Open a temporary file for ``path`` (``'wb'`` or ``'w'``, UTF-8); it becomes ``path`` on success.

    The temporary is anonymous where the platform allows (nothing visible if
    the run is killed), else ``.<name>.<pid>.<hex>.toupy-part`` in the same
    folder, removed by a later write once stale. On any error (including
    KeyboardInterrupt) nothing is left and ``path`` is as it was; a full disk
    raises :class:`toupy.resolution.io.DiskFullError` naming ``path``. The file gets the
    usual permissions (``0666`` minus the umask).
    """
    with atomic_stream(path, mode, overwrite=overwrite) as stream:
        yield stream
