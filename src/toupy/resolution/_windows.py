"""Apodization windows (decision D5).

A window is returned as two factors of the array seen as ``(n0, plane...)``:
a profile along axis 0 and a plane over the remaining axes, so that the
window of slab ``x[a:b]`` is ``profile[a:b, None, ...] * plane``. A 2-D image
is handled as a single slab (profile ``[1.0]``, plane = the 2-D window), a
3-D volume as slices along axis 0 (the rotation axis of a tomogram).

Kinds
-----
``'circle'`` (default)
    2-D: a disc of radius ``min(nr, nc) / 2`` about the image centre with a
    raised-cosine edge ``apod_width`` wide. 3-D: that disc on every slice times
    a Tukey taper along axis 0.
``'tukey'``
    Separable flat-top window, raised-cosine ramps of ``apod_width`` samples.
``'hann'``
    Separable Hann window over the whole array (``apod_width`` only switches
    it off when 0). Strongest leakage suppression, fewest effective samples.
``None``
    No window.
``'toupy'``
    toupy 0.2.2's windows, for comparison with old results: the 2-D choice is
    coupled to the threshold (circle for half-bit, transverse for one-bit), the
    circle radius is ``max(shape) / 2`` and the 3-D window tapers the slices twice.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from ._checks import warn_assumption

__all__ = [
    "WINDOWS",
    "DEFAULT_APOD_WIDTH",
    "validate_window",
    "validate_apod_width",
    "tukey_profile",
    "circle",
    "hann_profile",
    "legacy_transverse_profile",
    "legacy_circle",
    "window_factors",
    "window_rows",
    "full_window",
]

WINDOWS = ("circle", "tukey", "hann", "toupy", None)
#: windows whose edge is ``apod_width`` wide (``'hann'`` spans the whole axis)
_EDGED = ("circle", "tukey", "toupy")


def validate_window(window) -> str | None:
    """Return the normalised window name or raise ``ValueError``."""
    if window is None:
        return None
    if isinstance(window, str):
        key = window.lower()
        if key in ("none", ""):
            return None
        if key in WINDOWS:
            return key
    raise ValueError(
        f"window must be one of 'circle', 'tukey', 'hann', 'toupy' or None; got {window!r}"
    )


class _DefaultWidth(int):
    """The documented default edge width (20), told apart from an explicit 20 by identity.

    It is an ``int`` and prints as one, so signatures keep ``apod_width=20``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return int.__repr__(self)


#: default of every ``apod_width`` parameter; only this object is fitted to a small box
DEFAULT_APOD_WIDTH = _DefaultWidth(20)


def validate_apod_width(apod_width, shape: tuple[int, ...], window: str | None,
                        record: list | None = None) -> int:
    """Check ``apod_width`` is a non-negative integer that fits the image.

    An edge needs ``2 * apod_width`` pixels along every axis. An explicit
    width that does not fit raises ``ValueError``; the default
    (:data:`DEFAULT_APOD_WIDTH`) is narrowed to a quarter of the shortest
    axis instead (a 32³ subtomogram gets an 8-pixel edge) and a warning
    saying so is issued and appended to ``record``.
    """
    smallest = min(shape)
    if apod_width is DEFAULT_APOD_WIDTH and window in _EDGED and smallest < 2 * apod_width:
        fitted = smallest // 4
        warn_assumption(
            f"apod_width left at its default {int(apod_width)} does not fit the shortest axis of "
            f"{smallest} pixels (shape {tuple(shape)}): the window edge was narrowed to "
            f"{fitted} pixels (a quarter of it); pass apod_width explicitly to choose another.",
            record, stacklevel=5,
        )
        return fitted
    if isinstance(apod_width, bool) or not isinstance(apod_width, numbers.Integral):
        if isinstance(apod_width, numbers.Real) and float(apod_width).is_integer():
            apod_width = int(apod_width)
        else:
            raise ValueError(f"apod_width must be a non-negative integer; got {apod_width!r}")
    apod_width = int(apod_width)
    if apod_width < 0:
        raise ValueError(f"apod_width must be a non-negative integer; got {apod_width}")
    if window in _EDGED and apod_width > 0:
        if smallest < 2 * apod_width:
            raise ValueError(
                f"apod_width={apod_width} needs every axis to be at least "
                f"2*apod_width = {2 * apod_width} pixels long; the input has shape {shape}. "
                "Lower apod_width or use window=None."
            )
    return apod_width


def tukey_profile(n: int, width: int) -> np.ndarray:
    """Flat-top 1-D window with raised-cosine ramps of ``width`` samples.

    Not ``scipy.signal.windows.tukey``: that ramp is sampled at the ramp's
    ends (its first sample is 0, so a pixel of data is thrown away on each
    side), this one at the ``width`` pixel centres in between, half a sample
    in (first sample ``sin²(pi / (4 width))`` > 0); the ramp equals
    ``scipy.signal.windows.hann(4 * width + 1)[1:2 * width:2]``.
    """
    profile = np.ones(n)
    if width > 0:
        t = np.arange(width)
        ramp = 0.5 * (1.0 - np.cos(np.pi * (t + 0.5) / width))
        profile[:width] = ramp
        profile[n - width:] = ramp[::-1]
    return profile


def hann_profile(n: int) -> np.ndarray:
    """Symmetric Hann window over the whole axis (``scipy.signal.windows.hann(n, sym=True)``)."""
    from scipy.signal import windows  # scipy.signal takes a while to import: only when a Hann window is asked for

    return windows.hann(n, sym=True)


def _raised_cosine_disc(radius: np.ndarray, rmax: float, width: int) -> np.ndarray:
    """1 inside ``rmax - width``, cosine fall to 0 at ``rmax``, 0 beyond.

    Ours: ``scipy.signal.windows`` has only separable 1-D windows, and this
    edge is a function of the (non-integer) distance from the centre.
    """
    disc = np.zeros(radius.shape)
    disc[radius < rmax - width] = 1.0
    edge = (radius >= rmax - width) & (radius < rmax)
    if width > 0:
        disc[edge] = 0.5 * (1.0 - np.cos(np.pi * (radius[edge] - rmax) / width))
    return disc


def circle(nr: int, nc: int, width: int, rows: slice = slice(None)) -> np.ndarray:
    """Disc of radius ``min(nr, nc) / 2`` about the geometric centre, cosine edge.

    ``rows`` selects a band of rows (for streaming a large image).
    """
    rows = np.arange(nr)[rows] - (nr - 1) / 2.0
    cols = np.arange(nc) - (nc - 1) / 2.0
    radius = np.sqrt(rows[:, None] ** 2 + cols[None, :] ** 2)
    return _raised_cosine_disc(radius, min(nr, nc) / 2.0, width)


def legacy_circle(nr: int, nc: int, width: int, rows: slice = slice(None)) -> np.ndarray:
    """toupy 0.2.2's circle: centre ``round(n / 2)``, radius ``round(max(nr, nc) / 2)``."""
    rows = np.arange(nr)[rows] - np.round(nr / 2.0)
    cols = np.arange(nc) - np.round(nc / 2.0)
    radius = np.sqrt(rows[:, None] ** 2 + cols[None, :] ** 2)
    return _raised_cosine_disc(radius, float(np.round(max(nr, nc) / 2.0)), width)


def legacy_transverse_profile(n: int, width: int) -> np.ndarray:
    """toupy 0.2.2's 1-D taper: Hann ramp ``(1 + cos(2 pi m / (2 width + 1))) / 2``.

    Ours on purpose: ``window='toupy'`` must reproduce toupy 0.2.2 bit for
    bit, so the ramp is computed with 0.2.2's formula and operation order;
    no scipy window has this half-sample offset (the values agree with
    ``scipy.signal.windows.hann(4 * width + 3)[1:2 * width:2]`` to rounding
    only, which is not bit for bit).
    """
    profile = np.ones(n)
    if width > 0:
        m = np.arange(1, width + 1)
        ramp = 0.5 * (1.0 + np.cos(2.0 * np.pi * m / (2 * width + 1)))
        profile[:width] = ramp[::-1]
        profile[n - width:] = ramp
    return profile


def window_factors(
    shape: tuple[int, ...],
    window: str | None,
    apod_width: int,
    *,
    threshold: str | float = "halfbit",
) -> tuple[np.ndarray, np.ndarray] | None:
    """Cached :func:`_window_factors` (read-only arrays): a 4096² circle costs 0.1 s."""
    return _cached_window_factors(tuple(shape), window, apod_width, threshold)


@functools.lru_cache(maxsize=4)
def _cached_window_factors(shape, window, apod_width, threshold):
    factors = _window_factors(shape, window, apod_width, threshold=threshold)
    if factors is not None:
        for array in factors:
            array.flags.writeable = False
    return factors


def _window_factors(
    shape: tuple[int, ...],
    window: str | None,
    apod_width: int,
    *,
    threshold: str | float = "halfbit",
) -> tuple[np.ndarray, np.ndarray] | None:
    """Window of ``shape`` as ``(profile along axis 0, plane)`` of the slab view.

    For a 2-D ``shape`` the slab view is ``(1, nr, nc)``: the profile is
    ``[1.0]`` and the plane is the whole 2-D window. Returns ``None`` when no
    window applies (``window=None`` or ``apod_width == 0``).

    ``threshold`` matters only for ``window='toupy'``, whose 2-D window depends
    on it (circle for half-bit and fixed values, transverse for one-bit).
    """
    if window is None or apod_width == 0:
        return None
    ndim = len(shape)
    if ndim == 2:
        return np.ones(1), window_rows(shape, window, apod_width, slice(None), threshold=threshold)
    ns, nr, nc = shape
    if window == "circle":
        return tukey_profile(ns, apod_width), circle(nr, nc, apod_width)
    if window == "tukey":
        return tukey_profile(ns, apod_width), np.outer(
            tukey_profile(nr, apod_width), tukey_profile(nc, apod_width)
        )
    if window == "hann":
        return hann_profile(ns), np.outer(hann_profile(nr), hann_profile(nc))
    slices = legacy_transverse_profile(ns, apod_width)
    plane = legacy_circle(nr, nc, apod_width) * np.outer(
        legacy_transverse_profile(nr, apod_width), legacy_transverse_profile(nc, apod_width)
    )
    return slices**2, plane


def window_rows(
    shape: tuple[int, int],
    window: str | None,
    apod_width: int,
    rows: slice,
    *,
    threshold: str | float = "halfbit",
) -> np.ndarray:
    """Rows ``rows`` of a 2-D window (ones when no window applies)."""
    nr, nc = shape
    if window is None or apod_width == 0:
        return np.ones((len(range(nr)[rows]), nc))
    if window == "circle":
        return circle(nr, nc, apod_width, rows)
    if window == "tukey":
        return np.outer(tukey_profile(nr, apod_width)[rows], tukey_profile(nc, apod_width))
    if window == "hann":
        return np.outer(hann_profile(nr)[rows], hann_profile(nc))
    if threshold == "onebit":
        return np.outer(
            legacy_transverse_profile(nr, apod_width)[rows], legacy_transverse_profile(nc, apod_width)
        )
    return legacy_circle(nr, nc, apod_width, rows)


def full_window(
    shape: tuple[int, ...],
    window: str | None,
    apod_width: int,
    *,
    threshold: str | float = "halfbit",
) -> np.ndarray:
    """The window as one array of ``shape`` (ones when no window applies)."""
    factors = window_factors(shape, window, apod_width, threshold=threshold)
    if factors is None:
        return np.ones(shape)
    profile, plane = factors
    if len(shape) == 2:
        return plane.copy()
    return profile[:, None, None] * plane[None, :, :]
