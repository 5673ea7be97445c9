"""Fourier filters of filtered back-projection, projection derivatives, angle weights.

Conventions (shared with :func:`skimage.transform.iradon`): frequencies ``f`` in
cycles per detector pixel, ``0 <= |f| <= 0.5``; the ramp is ``2|f|`` so that the
back-projection scaled by ``pi / (2 * n_angles)`` gives the attenuation per pixel.

The ramp is not sampled as ``2|f|`` on the padded frequency grid: it is the DFT
of the band-limited ramp kernel sampled in real space (Kak & Slaney 1988,
ch. 3, eq. 61). Sampling ``2|f|`` directly sets the zero-frequency term to 0,
whereas the finite linear convolution needs a small positive one; the
difference shows up as a negative offset of the whole slice (-2 % of the value
of a uniform disc filling half of a 128-pixel field). With zero
padding to at least ``2n - 1`` the circular convolution then equals the linear
convolution with the exact band-limited kernel, whatever the padded length.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.fft

__all__ = [
    "FILTER_NAMES",
    "validate_filtertype",
    "validate_freqcutoff",
    "padded_length",
    "fourier_filter",
    "filter_projections",
    "projection_derivatives",
    "angle_weights",
]

#: accepted ``filtertype`` values (``'ramp'`` is scikit-image's name for ``'ram-lak'``)
FILTER_NAMES = ("ram-lak", "shepp-logan", "cosine", "hamming", "hann", None)
_ALIASES = {"ramp": "ram-lak", "ramlak": "ram-lak", "shepp_logan": "shepp-logan", "hanning": "hann"}


def validate_filtertype(filtertype) -> str | None:
    """Canonical filter name, or ``ValueError`` naming ``filtertype``."""
    if filtertype is None:
        return None
    if isinstance(filtertype, str):
        name = filtertype.strip().lower()
        name = _ALIASES.get(name, name)
        if name in FILTER_NAMES:
            return name
    raise ValueError(
        f"filtertype must be one of 'ram-lak', 'shepp-logan', 'cosine', 'hamming', 'hann' "
        f"or None; got {filtertype!r}"
    )


def validate_freqcutoff(freqcutoff) -> float:
    """A number in ``(0, 1]`` (fraction of the Nyquist frequency)."""
    if isinstance(freqcutoff, (bool, np.bool_)) or not isinstance(freqcutoff, (int, float, np.number)):
        raise ValueError(f"freqcutoff must be a number in (0, 1]; got {freqcutoff!r}")
    value = float(freqcutoff)
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"freqcutoff must be in (0, 1] (fraction of Nyquist); got {freqcutoff!r}")
    return value


def padded_length(n_detector: int) -> int:
    """Length of the zero-padded detector axis: >= 2n (exact linear convolution), FFT-friendly."""
    return scipy.fft.next_fast_len(max(64, 2 * n_detector), real=True)


def _window(f: np.ndarray, filtertype: str | None, freqcutoff: float) -> np.ndarray:
    """Apodization of the ramp at ``f`` cycles/pixel; zero above ``freqcutoff`` x Nyquist."""
    x = f / freqcutoff  # 0..0.5 inside the pass band
    if filtertype in ("ram-lak", None):
        w = np.ones_like(f)
    elif filtertype == "shepp-logan":
        w = np.sinc(x)
    elif filtertype == "cosine":
        w = np.cos(np.pi * x)
    elif filtertype == "hamming":
        w = 0.54 + 0.46 * np.cos(2 * np.pi * x)
    else:  # hann
        w = 0.5 * (1.0 + np.cos(2 * np.pi * x))
    w[np.abs(f) > 0.5 * freqcutoff] = 0.0
    return w


def _kernel_distance(n_padded: int) -> np.ndarray:
    """Signed circular distance of each sample of a length-``n_padded`` kernel."""
    k = np.arange(n_padded)
    return np.where(k <= n_padded // 2, k, k - n_padded)


def _ramp(n_padded: int) -> np.ndarray:
    """``2|f|`` on the rfft grid, from the band-limited kernel sampled in real space."""
    d = np.abs(_kernel_distance(n_padded))
    kernel = np.zeros(n_padded)
    kernel[0] = 0.25
    odd = d % 2 == 1
    kernel[odd] = -1.0 / (np.pi * d[odd]) ** 2
    return 2.0 * scipy.fft.rfft(kernel).real


def _hilbert(n_padded: int) -> np.ndarray:
    """``sign(f)/(i pi)`` on the rfft grid, from its band-limited kernel in real space.

    The kernel of ``sign(f)/(i pi)`` band-limited to ``|f| <= 1/2`` is
    ``(1 - cos(pi x))/(pi^2 x)``: ``2/(pi^2 k)`` at odd ``k``, 0 at even ``k``.
    Sampling ``sign(f)/(i pi)`` on the padded grid instead makes a periodic
    convolution whose low frequencies are wrong; on the Shepp-Logan phantom
    that costs 6 % RMS against the plain reconstruction, this form 0.5 %.
    """
    d = _kernel_distance(n_padded)
    kernel = np.zeros(n_padded)
    odd = np.abs(d) % 2 == 1
    kernel[odd] = 2.0 / (np.pi**2 * d[odd])
    response = 1j * scipy.fft.rfft(kernel).imag  # exactly odd: drop round-off in the real part
    if n_padded % 2 == 0:
        response[-1] = 0.0
    return response


@functools.lru_cache(maxsize=32)
def _cached_filter(n_padded: int, filtertype: str | None, freqcutoff: float, derivatives: bool):
    f = np.arange(n_padded // 2 + 1) / n_padded
    window = _window(f, filtertype, freqcutoff)
    if derivatives:
        # Hilbert filter: applied to the derivative of a projection (transfer 2 pi i f)
        # it gives the ramp 2|f| back, so the same filter windows apply.
        response = _hilbert(n_padded) * window
    elif filtertype is None:
        response = window
    else:
        response = _ramp(n_padded) * window
    response.setflags(write=False)
    return response


def fourier_filter(
    n_detector: int, filtertype: str | None = "ram-lak", freqcutoff: float = 1.0, derivatives: bool = False
) -> tuple[int, np.ndarray]:
    """Padded length and the filter on its rfft grid (read-only, cached).

    Real for projections, imaginary (Hilbert) for derivatives of projections.
    """
    n_padded = padded_length(n_detector)
    return n_padded, _cached_filter(n_padded, filtertype, float(freqcutoff), bool(derivatives))


def filter_projections(
    projections: np.ndarray,
    filtertype: str | None,
    freqcutoff: float,
    derivatives: bool,
    *,
    weights: np.ndarray | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Filtered projections ``[angle, detector]`` in the dtype of ``projections``.

    ``projections`` is ``[angle, detector]`` in the work dtype; it is zero-padded
    to :func:`padded_length` inside the transform (never modified). ``weights``
    (one per angle) multiply the filtered projections.
    """
    n = projections.shape[1]
    n_padded, response = fourier_filter(n, filtertype, freqcutoff, derivatives)
    spectrum = scipy.fft.rfft(projections, n=n_padded, axis=1, workers=workers)
    spectrum *= response.astype(spectrum.dtype if derivatives else projections.dtype, copy=False)
    if weights is not None:
        spectrum *= weights.astype(projections.dtype, copy=False)[:, None]
    filtered = scipy.fft.irfft(spectrum, n=n_padded, axis=1, workers=workers, overwrite_x=True)
    return np.ascontiguousarray(filtered[:, :n], dtype=projections.dtype)


def projection_derivatives(projections: np.ndarray, *, workers: int = 1) -> np.ndarray:
    """Derivative ``dp/dx`` along the detector (last axis), spectral and periodic.

    Multiplies the spectrum by ``2 pi i f``, the exact derivative of a
    band-limited projection, so that the Hilbert filter gives the ramp back and
    the derivative path reproduces the plain reconstruction. Being periodic over
    the detector, a constant offset of a projection vanishes exactly.
    """
    n = projections.shape[-1]
    transfer = 2j * np.pi * scipy.fft.rfftfreq(n)
    if n % 2 == 0:
        # the Nyquist bin of a real signal must stay real: an odd operator removes it
        transfer[-1] = 0.0
    spectrum = scipy.fft.rfft(projections, axis=-1, workers=workers)
    spectrum *= transfer.astype(spectrum.dtype)
    return scipy.fft.irfft(spectrum, n=n, axis=-1, workers=workers).astype(projections.dtype, copy=False)


def angle_weights(theta: np.ndarray) -> np.ndarray:
    """Weight of each projection from the spacing of its neighbours, mean 1.

    Directions are folded into ``[0, 180)`` degrees (a projection at
    ``theta + 180`` sees the same lines), sorted, and each angle gets half the
    distance between its two neighbours on that circle. Repeated directions
    share their interval, so a 360-degree scan or a range covered twice in part
    (e.g. 0-270 degrees) is weighted correctly. Uniform angles give weights 1.
    """
    folded = np.mod(np.asarray(theta, dtype=np.float64), 180.0)
    if np.unique(folded).size < 2:
        raise ValueError("theta must contain at least two different directions (modulo 180 degrees)")
    order = np.argsort(folded, kind="stable")
    ordered = folded[order]
    previous = np.roll(ordered, 1)
    previous[0] -= 180.0
    following = np.roll(ordered, -1)
    following[-1] += 180.0
    spacing = 0.5 * (following - previous)
    total = spacing.sum()  # 180 by construction
    weights = np.empty_like(spacing)
    weights[order] = spacing * (spacing.size / total)
    return weights
