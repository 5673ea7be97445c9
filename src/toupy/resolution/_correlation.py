"""The Fourier shell correlation engine.

Pipeline for two images (in memory; each stage works on blocks so the same
code can later stream from disk or run on Dask):

1. **statistics pass** — per slab along axis 0: window-weighted sum, min and
   max (finite check, constant check, weighted mean);
2. **pass 1** — per slab: ``(x - mean) * window`` written into a reused
   buffer, 2-D ``rfft`` over the last two axes, stored in the half spectrum;
3. **pass 2** — per pencil block along axis 1: 1-D ``fft`` along axis 0 of
   both spectra, then the shell-sum kernel on the cache-hot block.

Real inputs use ``rfftn`` layout with Hermitian weights so every sum equals the
full-FFT sum (decision D4); complex inputs use full transforms. A 2-D image is
the single slab ``(1, nr, nc)`` and skips pass 2's FFT. The result is the
vector of per-shell sums; the curve, threshold and crossing follow from it.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.fft

from . import _kernels
from ._crossing import first_crossing, shell_to_frequency
from ._results import FSCResult, SSNRResult, length_unit
from ._shells import hermitian_weights, max_shell_index, n_shells, shell_frequencies
from ._thresholds import (
    legacy_threshold_curve,
    ssnr_from_fsc,
    threshold_curve,
    validate_threshold,
)
from ._validate import check_mask, check_nonnegative_int, check_pair, check_pixel_size, work_dtype
from ._windows import validate_apod_width, validate_window, window_factors

__all__ = ["ShellSums", "fourier_shell_sums", "pool_shells", "fsc", "ssnr", "default_workers"]

_SLAB_BYTES = 4 << 20
_PENCIL_BYTES = 8 << 20


def default_workers() -> int:
    """All cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class ShellSums:
    """Per-shell sums of two spectra (rows as in :func:`_kernels.shell_sums`).

    ``sums[:, s]`` covers every voxel of shell ``s``, including corner shells
    beyond Nyquist (needed when ``ring_thick`` pools across the last shell).
    """

    def __init__(self, sums: np.ndarray, shape: tuple[int, ...], complex_input: bool):
        self.sums = sums
        self.shape = tuple(shape)
        self.complex_input = complex_input

    def __add__(self, other: "ShellSums") -> "ShellSums":
        return ShellSums(self.sums + other.sums, self.shape, self.complex_input)


def _slab_view(image: np.ndarray) -> np.ndarray:
    return image[np.newaxis] if image.ndim == 2 else image


def _slab_rows(view: np.ndarray, itemsize: int, budget: int) -> int:
    plane_bytes = view.shape[1] * view.shape[2] * itemsize
    return int(max(1, min(view.shape[0], budget // max(plane_bytes, 1))))


def _as_work(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Slab in a dtype the compiled kernels accept (float32/float64, real or complex parts)."""
    if x.dtype.kind == "f" and x.dtype.itemsize in (4, 8):
        return x
    return x.astype(dtype)


def _weighted_mean(view, profile, plane, mask, dtype, name: str, subtract_mean: bool):
    """Weighted mean of one image; raise on NaN/inf or a constant image."""
    rows = _slab_rows(view, view.dtype.itemsize, 4 * _SLAB_BYTES)
    parts = [view.real, view.imag] if view.dtype.kind == "c" else [view]
    means = []
    constant = True
    for part in parts:
        weighted = weight = 0.0
        low, high = np.inf, -np.inf
        for a in range(0, view.shape[0], rows):
            b = min(a + rows, view.shape[0])
            s_wx, s_w, lo, hi = _kernels.block_stats(
                _as_work(part[a:b], dtype), profile[a:b], plane, None if mask is None else mask[a:b]
            )
            weighted += s_wx
            weight += s_w
            low = min(low, lo)
            high = max(high, hi)
        if not (np.isfinite(weighted) and np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"{name} contains NaN or infinite values; clean or mask them first")
        constant &= bool(low == high)
        means.append(weighted / weight if weight > 0 else 0.0)
    if constant:
        raise ValueError(f"{name} is constant: its Fourier correlation is undefined")
    if not subtract_mean:
        return 0.0
    return complex(means[0], means[1]) if len(means) == 2 else means[0]


def _spectrum(view, profile, plane, mask, mean, dtype, complex_input, workers):
    """Pass 1: window each slab and transform it over the last two axes."""
    n0, n1, n2 = view.shape
    cdtype = np.result_type(dtype, np.complex64)
    if complex_input:
        spectrum = np.empty((n0, n1, n2), cdtype)
        buffer_dtype, transform = cdtype, scipy.fft.fft2
    else:
        spectrum = np.empty((n0, n1, n2 // 2 + 1), cdtype)
        buffer_dtype, transform = dtype, scipy.fft.rfft2
    rows = _slab_rows(view, np.dtype(buffer_dtype).itemsize, _SLAB_BYTES)
    buffer = np.empty((rows, n1, n2), buffer_dtype)
    for a in range(0, n0, rows):
        b = min(a + rows, n0)
        slab = view[a:b] if complex_input else _as_work(view[a:b], dtype)
        _kernels.window_into(
            slab, mean, profile[a:b], plane, buffer[: b - a], None if mask is None else mask[a:b]
        )
        spectrum[a:b] = transform(buffer[: b - a], axes=(1, 2), workers=workers)
    return spectrum


def fourier_shell_sums(
    img1: np.ndarray,
    img2: np.ndarray,
    *,
    window: str | None,
    apod_width: int,
    threshold: str | float = "halfbit",
    subtract_mean: bool = True,
    mask: np.ndarray | None = None,
    workers: int | None = None,
    use_numba: bool = True,
) -> ShellSums:
    """Per-shell sums of the spectra of two validated, same-shape images.

    ``mask`` (validated, float64, input shape) multiplies the window; the
    means are then weighted by window times mask. The DC bin is zeroed when
    the means are subtracted (it holds only round-off after the weighted-mean
    removal).
    """
    workers = workers or default_workers()
    shape = img1.shape
    complex_input = img1.dtype.kind == "c" or img2.dtype.kind == "c"
    dtype = work_dtype(img1, img2)
    view1, view2 = _slab_view(img1), _slab_view(img2)
    factors = window_factors(shape, window, apod_width, threshold=threshold)
    if factors is None:
        profile, plane = np.ones(view1.shape[0]), np.ones(view1.shape[1:])
    else:
        profile, plane = factors
    profile = np.ascontiguousarray(profile, dtype=np.float64)
    plane = np.ascontiguousarray(plane, dtype=np.float64)

    mask_view = None if mask is None else _slab_view(mask)
    means = [
        _weighted_mean(v, profile, plane, mask_view, dtype, name, subtract_mean)
        for v, name in ((view1, "img1"), (view2, "img2"))
    ]
    spectra = [
        _spectrum(v, profile, plane, mask_view, m, dtype, complex_input, workers)
        for v, m in zip((view1, view2), means)
    ]

    freqs = shell_frequencies(shape, real=not complex_input)
    if img1.ndim == 2:
        freqs = [np.zeros(1)] + freqs
    last_weights = np.ones(freqs[2].size) if complex_input else hermitian_weights(shape[-1])
    n_bins = max_shell_index(shape) + 1

    f1, f2 = spectra
    n0, n1, m = f1.shape
    if n0 == 1:
        total = _kernels.shell_sums(f1, f2, freqs, last_weights, n_bins, use_numba=use_numba)
    else:
        total = np.zeros((_kernels.N_SUMS, n_bins))
        cols = max(1, _PENCIL_BYTES // (n0 * m * f1.itemsize))
        for j0 in range(0, n1, cols):
            j1 = min(j0 + cols, n1)
            g1 = scipy.fft.fft(f1[:, j0:j1], axis=0, workers=workers, overwrite_x=True)
            g2 = scipy.fft.fft(f2[:, j0:j1], axis=0, workers=workers, overwrite_x=True)
            total += _kernels.shell_sums(
                g1, g2, [freqs[0], freqs[1][j0:j1], freqs[2]], last_weights, n_bins,
                use_numba=use_numba,
            )
    if subtract_mean:
        total[:4, 0] = 0.0
    return ShellSums(total, shape, complex_input)


def pool_shells(sums: np.ndarray, ring_thick: int, n_out: int) -> np.ndarray:
    """Pool shells as toupy's ``ring_thick`` (decision D6), by prefix sums.

    Output shell ``i`` pools every shell ``j`` with ``i - t/2 <= j <= i + t/2``
    (so neighbouring outputs share shells and are correlated). Prefix sums run
    from the highest shell down, so the small high-frequency sums are not
    differences of large numbers.
    """
    if ring_thick <= 1:
        return sums[:, :n_out].copy()
    n_bins = sums.shape[1]
    i = np.arange(n_out)
    lo = np.clip(np.ceil(i - ring_thick / 2.0).astype(int), 0, n_bins)
    hi = np.clip(np.floor(i + ring_thick / 2.0).astype(int), -1, n_bins - 1)
    tail = np.zeros((sums.shape[0], n_bins + 1))
    tail[:, :n_bins] = np.cumsum(sums[:, ::-1], axis=1)[:, ::-1]
    return tail[:, lo] - tail[:, hi + 1]


def _correlation_from_sums(pooled: np.ndarray, complex_input: bool, legacy: bool) -> np.ndarray:
    cross_re, cross_im, power1, power2 = pooled[:4]
    if complex_input:
        cross = np.hypot(cross_re, cross_im)
    elif legacy:
        cross = np.abs(cross_re)
    else:
        cross = cross_re
    denominator = np.sqrt(power1 * power2)
    curve = np.full(cross.shape, np.nan)
    np.divide(cross, denominator, out=curve, where=denominator > 0)
    return curve


def _validated(img1, img2, threshold, ring_thick, apod_width, window, pixel_size, mask=None):
    a, b = check_pair(img1, img2)
    mask = check_mask(mask, a.shape)
    threshold = validate_threshold(threshold)
    ring_thick = check_nonnegative_int(ring_thick, "ring_thick")
    window = validate_window(window)
    apod_width = validate_apod_width(apod_width, a.shape, window)
    pixel_size = check_pixel_size(pixel_size)
    return a, b, threshold, ring_thick, apod_width, window, pixel_size, mask


def fsc(
    img1: np.ndarray,
    img2: np.ndarray,
    *,
    threshold: str | float = "halfbit",
    ring_thick: int = 1,
    apod_width: int = 20,
    window: str | None = "circle",
    pixel_size: float = 1.0,
    unit: str | None = None,
    mask: np.ndarray | None = None,
    workers: int | None = None,
) -> FSCResult:
    """Fourier ring (2-D) or shell (3-D) correlation of two images.

    Parameters
    ----------
    img1, img2 : ndarray
        Two independent measurements of the same object (half data sets),
        same shape, 2-D or 3-D (``[slices, rows, cols]``), real or complex.
        Integers are computed in float32, float32 stays float32 (sums in
        float64), float64 stays float64. Inputs are never modified.
    threshold : {'halfbit', 'onebit'} or float, optional
        Resolution criterion (van Heel & Schatz 2005). Half-bit is for two
        halves of one data set (split tomogram); one-bit for two full,
        independent measurements; a float such as 0.143 is a constant curve.
    ring_thick : int, optional
        Shells pooled per output point as in toupy: point ``i`` pools shells
        ``i - t/2 .. i + t/2``, so neighbouring points are correlated.
        0 and 1 mean single shells.
    apod_width : int, optional
        Width in pixels of the window edge; 0 disables the window.
    window : {'circle', 'tukey', 'hann', 'toupy', None}, optional
        Apodization (see :mod:`toupy.resolution._windows`). ``'circle'`` suits
        tomographic slices (the field of view is a disc); ``'tukey'`` keeps the
        most pixels of a rectangular image; ``'hann'`` suppresses leakage most;
        ``'toupy'`` reproduces toupy 0.2.2 (no mean removal, ``abs`` of the
        cross sum, rounded half-bit SNR) for comparison with old results only.
    pixel_size : float, optional
        Size of one pixel; every length in the result is in its unit.
    unit : str, optional
        Name of that unit (e.g. ``'nm'``), used in summaries and plots.
    mask : ndarray, optional
        Real weights of the input shape (binary or soft) multiplied into both
        images on top of the window, e.g. to restrict the correlation to the
        sample. A sharp mask correlates the halves at high frequency by itself;
        :func:`phase_randomized_fsc` measures that effect.
    workers : int, optional
        Threads for the FFTs; default all available cores.

    Returns
    -------
    FSCResult
        Curves per shell and the resolution at the first crossing.

    Notes
    -----
    For real inputs the correlation is the signed real part
    ``Σ Re(F1 F2*) / sqrt(Σ|F1|² Σ|F2|²)``: shells of pure noise scatter about
    0 with standard deviation ``1/sqrt(n)``. For complex inputs (e.g.
    ptychographic reconstructions) it is the modulus of the complex cross sum,
    which ignores a global phase offset between the two reconstructions.
    Each image's window-weighted mean is removed before windowing so that the
    window's own spectrum does not correlate the low shells; shell 0 (DC) is
    then empty and its value NaN. The crossing is the first shell at which the
    curve drops below the threshold, interpolated linearly; a curve that never
    drops is reported at Nyquist with ``nyquist_limited=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from toupy.resolution import fsc
    >>> rng = np.random.default_rng(0)
    >>> obj = rng.standard_normal((128, 128))
    >>> res = fsc(obj + 0.1 * rng.standard_normal(obj.shape),
    ...           obj + 0.1 * rng.standard_normal(obj.shape), pixel_size=20.0, unit='nm')
    >>> res.nyquist_limited
    True
    """
    a, b, threshold, ring_thick, apod_width, window, pixel_size, mask = _validated(
        img1, img2, threshold, ring_thick, apod_width, window, pixel_size, mask
    )
    legacy = window == "toupy"
    sums = fourier_shell_sums(
        a, b, window=window, apod_width=apod_width, threshold=threshold,
        subtract_mean=not legacy, mask=mask, workers=workers,
    )
    return _result_from_sums(sums, threshold, ring_thick, apod_width, window, pixel_size, unit)


def _result_from_sums(sums: ShellSums, threshold, ring_thick, apod_width, window, pixel_size, unit):
    shape = sums.shape
    nmax = max(shape)
    count = n_shells(shape)
    legacy = window == "toupy"
    pooled = pool_shells(sums.sums, ring_thick, count)
    curve = _correlation_from_sums(pooled, sums.complex_input, legacy)
    n_per_shell = pooled[4]
    thresholds = (legacy_threshold_curve if legacy else threshold_curve)(n_per_shell, threshold)
    crossing, limited = first_crossing(curve, thresholds)
    crossing = float(crossing)
    shells = np.arange(count, dtype=np.float64)
    if np.isnan(crossing):
        fn_res = fn_res_cpx = res_full = res_half = crossing_shell = None
    else:
        freq = shell_to_frequency(crossing, nmax)
        fn_res, fn_res_cpx = float(freq["fn"]), float(freq["cpx"])
        res_full = pixel_size / fn_res_cpx
        res_half = res_full / 2.0
        crossing_shell = crossing
    return FSCResult(
        fn=shells / (nmax // 2),
        frequency_cpx=shells / nmax,
        fsc=curve,
        threshold_curve=thresholds,
        n_per_shell=n_per_shell,
        fn_res=fn_res,
        fn_res_cpx=fn_res_cpx,
        resolution_full=res_full,
        resolution_half=res_half,
        nyquist_limited=bool(limited),
        crossing_shell=crossing_shell,
        threshold=threshold,
        ring_thick=ring_thick,
        apod_width=apod_width,
        window=window,
        pixel_size=pixel_size,
        unit=length_unit(pixel_size, unit),
        shape=tuple(shape),
        complex_input=sums.complex_input,
    )


def ssnr(
    img1: np.ndarray,
    img2: np.ndarray,
    *,
    threshold: str | float = "halfbit",
    ring_thick: int = 1,
    apod_width: int = 20,
    window: str | None = "circle",
    pixel_size: float = 1.0,
    unit: str | None = None,
    mask: np.ndarray | None = None,
    workers: int | None = None,
) -> SSNRResult:
    """Spectral signal-to-noise ratio from the FSC of two halves.

    ``SSNR = 2 FSC / (1 - FSC)`` is the SSNR of the average of the two halves
    (the SNR of one half is ``FSC / (1 - FSC)``); the threshold curve is
    transformed the same way, ``2 T / (1 - T)``, with asymptote
    ``sqrt(2) - 1 = 0.414`` for half-bit and 1 for one-bit. The map is monotone,
    so the SSNR crossing is the FSC crossing exactly. Parameters as :func:`fsc`.
    """
    base = fsc(
        img1, img2, threshold=threshold, ring_thick=ring_thick, apod_width=apod_width,
        window=window, pixel_size=pixel_size, unit=unit, mask=mask, workers=workers,
    )
    fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
    return SSNRResult(
        **fields,
        ssnr=ssnr_from_fsc(base.fsc),
        ssnr_threshold=ssnr_from_fsc(base.threshold_curve),
    )
