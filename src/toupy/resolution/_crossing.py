"""Threshold crossings of correlation curves and their conversion to units.

Decision D2: the crossing is the first shell ``s >= start`` (default 1, so
the DC shell never decides) where the curve drops below the threshold,
linearly interpolated in ``curve - threshold`` between the last shell above
and ``s``. A curve that never drops below is *Nyquist-limited*: the crossing
is put at the last shell and flagged. A curve already below at the first
usable shell has no crossing (NaN here, ``None`` in the public results).
NaN shells (no power) are skipped.

All functions are vectorised over leading axes so that many curves (one per
box of a local-resolution map) are handled in one call.
"""

from __future__ import annotations

import numpy as np

__all__ = ["first_crossing", "shell_to_frequency"]


def first_crossing(
    curve: np.ndarray, threshold: np.ndarray, *, start: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """First downward crossing of ``curve`` through ``threshold``.

    Parameters
    ----------
    curve, threshold : ndarray, shape ``(..., n_shells)``
        Curves and thresholds (broadcastable) per shell.
    start : int
        First shell allowed to decide.

    Returns
    -------
    crossing : ndarray of float64, shape ``(...)``
        Interpolated crossing in shell units; NaN where the curve is below
        the threshold already at the first usable shell (or has no data).
    nyquist_limited : ndarray of bool, shape ``(...)``
        True where the curve never drops below (crossing = last shell).
    """
    curve, threshold = np.broadcast_arrays(
        np.asarray(curve, dtype=np.float64), np.asarray(threshold, dtype=np.float64)
    )
    n_shells = curve.shape[-1]
    shells = np.arange(n_shells)
    margin = curve - threshold
    usable = ~np.isnan(margin) & (shells >= start)
    below = usable & (margin < 0)

    any_below = below.any(axis=-1)
    first_below = np.where(any_below, np.argmax(below, axis=-1), n_shells)
    before = usable & (shells < first_below[..., None])
    has_before = before.any(axis=-1)
    last_before = n_shells - 1 - np.argmax(before[..., ::-1], axis=-1)

    safe_below = np.minimum(first_below, n_shells - 1)
    margin_before = np.take_along_axis(margin, last_before[..., None], axis=-1)[..., 0]
    margin_below = np.take_along_axis(margin, safe_below[..., None], axis=-1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = margin_before / (margin_before - margin_below)
        interpolated = last_before + (safe_below - last_before) * fraction

    nyquist_limited = ~any_below & usable.any(axis=-1)
    crossing = np.where(any_below & has_before, interpolated, np.nan)
    crossing = np.where(nyquist_limited, float(n_shells - 1), crossing)
    return crossing, nyquist_limited


def shell_to_frequency(crossing, nmax: int) -> dict:
    """Frequencies of a crossing given in shell units (decision D3).

    Returns a dict with ``fn`` (fraction of the Nyquist shell ``nmax // 2``)
    and ``cpx`` (cycles/pixel, ``s / nmax``), same shape as ``crossing``.
    """
    crossing = np.asarray(crossing, dtype=np.float64)
    return {"fn": crossing / (nmax // 2), "cpx": crossing / nmax}
