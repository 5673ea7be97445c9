"""Single-map local resolution: a band-energy test against the exact noise null.

Decision D9 and ``ALGORITHMS.md`` §5. For a map ``u`` with noise power spectrum
``S`` (``E|F(k)|² = N S(k)``, white noise: ``S = σ²``):

1. One forward ``rfftn`` of the map; the DC bin is removed (a mean offset is not
   local detail). Every filter is a periodic convolution on the FFT grid, so a
   significant jump across opposite faces is removed first (one more FFT, see
   :func:`remove_face_jumps`).
2. For each band ``i`` (centres ``f_i = linspace(1/min(shape), 0.5, n_freq)``
   cycles/pixel, Gaussian profile ``H_i(f) = exp(-(|f| - f_i)² / (2 σ_f²))``,
   ``σ_f = 0.6 Δf``): ``v_i = irfftn(F H_i)`` and the local energy
   ``E_i = g ⊛ v_i²`` with the unit-sum Gaussian window ``g`` of standard
   deviation ``window_sigma``. Both are periodic convolutions on the FFT grid,
   so under the null ``E_i`` is stationary, borders included.
3. Under noise alone ``v_i`` is a stationary Gaussian field with covariance
   ``C_i = irfftn(S H_i²)``; ``E_i`` is a weighted χ² with mean ``C_i(0)`` and
   variance ``2 Σ_Δ (g⋆g)(Δ) C_i(Δ)²`` (the correlation of band-passed,
   window-averaged noise, computed here from the band filter and the window on
   the same grid). Its upper quantile comes from the moment-matched gamma law
   (Satterthwaite), valid also at coarse bands where the effective number of
   degrees of freedom is small.
4. ``E_i > t_i`` at level ``significance`` (or Benjamini–Hochberg over the
   mask voxels of the band with ``fdr=True``). Bands are tested from coarse to
   fine; a voxel's resolution is ``1/f`` of the finest band of the unbroken run
   of passes that starts at the coarsest band, NaN if it fails the coarsest.

Memory: the map, its half spectrum and one work spectrum in which every band is
filtered, transformed back, squared, smoothed and tested in place (plus an
``int8`` run counter); no full-size temporary is created per band.

A dask array goes to :mod:`._localres_dask`: the same kernels per chunk, with
an overlap that covers the band filter and the window, and the global noise
level, mask size and null laws reduced from small per-chunk results.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.special

from . import _kernels
from ._checks import warn_assumption
from ._correlation import default_workers
from ._dask import is_dask_array, require_dask
from ._progress import progress
from ._results import ResolutionMapViews, jsonable, length_unit, map_statistics
from ._shells import hermitian_weights, shell_frequencies
from ._validate import as_image, check_pixel_size

__all__ = ["LocalResolutionResult", "local_resolution", "NOISE_METHODS"]

NOISE_METHODS = ("corners", "highfreq", "mask")

#: toupy's band width: Gaussian standard deviation as a fraction of the band spacing
BAND_WIDTH_FACTOR = 0.6
#: per-voxel false-alarm rate of the automatic sample mask
MASK_SIGNIFICANCE = 1e-3
#: fewest Fourier modes (full-FFT count) per bin of an estimated noise spectrum
_MIN_MODES_PER_BIN = 64
#: lags of the window autocorrelation below this fraction of its peak are dropped
_LAG_CUTOFF = 1e-10
_ROW_BYTES = 4 << 20

# thresholds of the checks of the noise model (see local_resolution, Notes)
#: corner variance below this fraction of the variance of the box border: flattened solvent
FLAT_VS_BORDER = 1e-2
#: corner variance below this fraction of the variance of the whole box: flattened solvent
FLAT_VS_BOX = 1e-4
#: a standard deviation below this fraction of the map's is numerically zero (refused)
NUMERICALLY_FLAT = 1e-5
#: the high-frequency tail is falling when its fitted slope is this many standard errors
#: of a white tail below zero ...
TAIL_Z = 5.0
#: ... and the upper half of the tail has less than 1 - TAIL_FALL of the power of the lower half
TAIL_FALL = 0.1
#: the automatic mask holds at least this share of the noise region: the noise level is wrong
MASK_NOISE_SHARE = 0.5

if _kernels.HAVE_NUMBA:
    from numba import njit, prange
else:  # pragma: no cover - numba is a dependency
    njit = prange = None


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class LocalResolutionResult(ResolutionMapViews):
    """Local resolution map of a single image or volume.

    Attributes
    ----------
    resolution_map : ndarray or dask.array.Array
        Full-period local resolution in pixels (``1/f`` of the finest band of the
        unbroken run of passes from the coarsest band), NaN outside ``mask`` and
        where the coarsest band already fails. float32 for float32/integer
        input, float64 for float64 input. For a dask input computed with
        ``compute=False``, a lazy dask array with the chunks of the band
        tests (the derived maps are lazy too).
    mask : ndarray of bool or dask.array.Array
        Sample mask (user-supplied or automatic; lazy like the map).
    freq_bands : ndarray
        Band centres in cycles/pixel (coarse to fine).
    band_sigma : float
        Standard deviation of every Gaussian band in cycles/pixel.
    sigma_noise : float
        Noise standard deviation used by the test.
    noise_method : str
        ``'given'``, ``'corners'``, ``'highfreq'`` or ``'mask'``.
    noise_spectrum : tuple of ndarray or None
        ``(frequency_cpx, power)`` radial noise power spectrum (variance per
        unit frequency volume, white noise: ``σ²``) used with ``whiten=True``.
    noise_power_rel_var : float
        Relative variance of the estimated noise power (``2/(n - 1)`` for ``n``
        noise voxels, ``2/K`` for ``K`` Fourier modes, 0 for a given
        ``sigma_noise``); it is part of every band's null variance.
    mask_source : str
        ``'given'``, ``'automatic'`` or ``'field of view'`` (no noise region to
        set the background, or an empty automatic mask).
    null_mean, null_std : ndarray
        Mean and standard deviation of the band energy of noise alone, per band
        (the standard deviation includes the uncertainty of the noise level).
    null_shape, null_scale : ndarray
        Gamma law (shape, scale) matched to those moments, per band.
    thresholds : ndarray
        Energy threshold of each band (level ``significance``; with ``fdr=True``
        the Benjamini–Hochberg threshold, ``inf`` when nothing passes).
    band_pass_fraction : ndarray
        Fraction of mask voxels whose energy exceeds the band threshold (noise
        alone: about ``significance`` in every band).
    band_run_fraction : ndarray
        Fraction of mask voxels whose run of passes reaches the band, i.e. whose
        resolution is at least that fine.
    resolved_fraction : float
        Fraction of mask voxels with a resolution (passed the coarsest band).
    nyquist_fraction : float
        Fraction of resolved voxels that pass every band: their resolution,
        2 pixels, is only an upper bound set by the sampling.
    resolution_median, resolution_mean, resolution_std : float
        Statistics of the finite values of the map inside the mask (pixels,
        full period); the ``_half`` forms are half of them (half period).
    significance, fdr, n_freq, window_sigma, whiten
        The parameters used.
    pixel_size, unit, shape
        Pixel size, the name of its unit (labels every physical length) and
        the input shape.
    warnings : tuple of str
        The failed checks of the noise model and of the mask, one sentence
        each (also issued as :class:`ResolutionWarning`); empty when every
        check passed.
    face_jump_ratio : tuple of float
        Per axis, the mean squared jump across the wrap-around (last plane to
        first) over the mean squared step between neighbouring planes: about
        1 for a periodic map or one with noise or solvent on its faces.
    periodic_axes : tuple of int
        Axes whose wrap-around jump was significant and was removed before
        band-passing (periodic-plus-smooth decomposition, see
        :func:`local_resolution`, Notes); empty when none was.
    """

    resolution_map: np.ndarray
    mask: np.ndarray
    freq_bands: np.ndarray
    band_sigma: float
    sigma_noise: float
    noise_method: str
    noise_spectrum: tuple | None
    noise_power_rel_var: float
    mask_source: str
    null_mean: np.ndarray
    null_std: np.ndarray
    null_shape: np.ndarray
    null_scale: np.ndarray
    thresholds: np.ndarray
    band_pass_fraction: np.ndarray
    band_run_fraction: np.ndarray
    resolved_fraction: float
    nyquist_fraction: float
    resolution_median: float
    resolution_mean: float
    resolution_std: float
    resolution_median_half: float
    resolution_mean_half: float
    resolution_std_half: float
    significance: float
    fdr: bool
    n_freq: int
    window_sigma: float
    whiten: bool
    pixel_size: float
    unit: str
    shape: tuple
    warnings: tuple = ()
    face_jump_ratio: tuple = ()
    periodic_axes: tuple = ()

    @property
    def resolution_median_phys(self) -> float:
        """Median full-period resolution in ``unit``."""
        return self.resolution_median * self.pixel_size

    def summary(self) -> str:
        """One line: median local resolution, its spread and the test used."""
        test = "Benjamini-Hochberg FDR" if self.fdr else "per-voxel test"
        if not math.isfinite(self.resolution_median):
            return (
                f"LocalResolution: no voxel of the mask has signal above the noise "
                f"({test} at {self.significance:g}, sigma_noise {self.sigma_noise:.4g})"
            )
        pixel = "" if self.unit == "px" else (
            f" = {self.resolution_median * self.pixel_size:.4g} {self.unit}"
        )
        return (
            f"LocalResolution: median {self.resolution_median:.4g} px{pixel} full period "
            f"({self.resolution_median_half:.4g} px half period), mean {self.resolution_mean:.4g} "
            f"± {self.resolution_std:.4g} px; {100 * self.resolved_fraction:.1f} % of the mask "
            f"resolved, {100 * self.nyquist_fraction:.1f} % of those Nyquist-limited "
            f"({test} at {self.significance:g}, noise '{self.noise_method}', "
            f"sigma {self.sigma_noise:.4g}){self._faces_note()}"
        )

    def _faces_note(self) -> str:
        if not self.periodic_axes:
            return ""
        axes = ", ".join(str(a) for a in self.periodic_axes)
        return f"; the jump across the faces of axes {axes} was removed (map not periodic)"

    def to_dict(self, *, include_maps: bool = False) -> dict:
        """Fields as JSON-safe Python objects (NaN/inf become None).

        The map and the mask are as large as the input, so they are left out
        unless ``include_maps=True``.
        """
        out = {}
        for f in dataclasses.fields(self):
            if f.name in ("resolution_map", "mask") and not include_maps:
                continue
            value = getattr(self, f.name)
            out[f.name] = np.asarray(value) if is_dask_array(value) else value
        if self.noise_spectrum is not None:
            out["noise_spectrum"] = {
                "frequency_cpx": self.noise_spectrum[0], "power": self.noise_spectrum[1]
            }
        for name in ("resolution_median", "resolution_mean", "resolution_std"):
            out[f"{name}_phys"] = getattr(self, name) * self.pixel_size
            out[f"{name}_phys_half"] = getattr(self, name) * self.pixel_size / 2
        out["units"] = {
            "resolution_map": "px, full period",
            "resolution_median": "px, full period",
            "resolution_median_half": "px, half period",
            "resolution_median_phys": f"{self.unit}, full period",
            "resolution_median_phys_half": f"{self.unit}, half period",
            "freq_bands": "cycles/pixel",
            "band_sigma": "cycles/pixel",
            "window_sigma": "px",
            "null_mean": "squared map units",
            "thresholds": "squared map units",
        }
        return jsonable(out)

    def to_json(self, indent: int | None = 2, *, include_maps: bool = False) -> str:
        """The :meth:`to_dict` content as a JSON string."""
        return json.dumps(self.to_dict(include_maps=include_maps), indent=indent)

    def plot(self, *, slice_idx=None, axis=0, cmap="viridis_r", vmin=None, vmax=None):
        """Figure of the map (central slice in 3-D); returns ``(figure, shown)``.

        A lazy (dask) map is computed only for the slice on display.
        """
        from ._plotting import plot_resolution_map

        shown, title = self.resolution_map, "LocalResolution (full period)"
        return plot_resolution_map(
            shown, slice_idx=slice_idx, axis=axis, cmap=cmap, vmin=vmin,
            vmax=vmax, pixel_size=self.pixel_size, unit=self.unit, title=title,
        )


# ----------------------------------------------------------------------------- kernels
def _fill_band_numpy(F, out, f0sq, f1sq, f2sq, fc, inv2var):
    plane = f1sq[:, None] + f2sq[None, :]
    for i in range(F.shape[0]):
        r = np.sqrt(f0sq[i] + plane)
        h = np.exp(-((r - fc) ** 2) * inv2var).astype(out.real.dtype)
        if i == 0:
            h[0, 0] = 0.0
        np.multiply(F[i], h, out=out[i])


def _fill_null_numpy(out, f0sq, f1sq, f2sq, fc, inv2var, use_band, prof_f, prof_s, white, wlast):
    plane = f1sq[:, None] + f2sq[None, :]
    total = 0.0
    for i in range(out.shape[0]):
        r = np.sqrt(f0sq[i] + plane)
        s = np.interp(r, prof_f, prof_s) if prof_f.size else np.full(r.shape, white)
        if use_band:
            s = s * np.exp(-2.0 * ((r - fc) ** 2) * inv2var)
            if i == 0:
                s[0, 0] = 0.0
        total += float(np.sum(s * wlast[None, :]))
        out[i] = s
    return total


def _scale_separable_numpy(P, g0, g1, g2):
    P *= g0[:, None, None]
    P *= g1[None, :, None]
    P *= g2[None, None, :]


def _update_run_numpy(E, run, band, threshold):
    in_mask = run >= 0
    passed = (E > threshold) & in_mask
    run[passed & (run == band)] = band + 1
    return int(np.count_nonzero(passed)), int(np.count_nonzero(run > band))


def _finalise_numpy(run, table, out):
    out[...] = table[run.astype(np.intp) + 1]


def _histogram_numpy(run, n_values):
    return np.bincount(run.ravel().astype(np.intp) + 1, minlength=n_values)[:n_values]


def _mark_numpy(E, threshold, run):
    run[...] = np.where(E > threshold, 0, -1)
    return int(np.count_nonzero(run == 0))


if _kernels.HAVE_NUMBA:

    @njit(parallel=True, cache=True)
    def _fill_band_numba(F, out, f0sq, f1sq, f2sq, fc, inv2var):
        n0, n1, m = F.shape
        for row in prange(n0 * n1):
            i = row // n1
            j = row - i * n1
            base = f0sq[i] + f1sq[j]
            for k in range(m):
                d = math.sqrt(base + f2sq[k]) - fc
                out[i, j, k] = F[i, j, k] * math.exp(-d * d * inv2var)
        out[0, 0, 0] = 0.0

    @njit(parallel=True, cache=True)
    def _fill_null_numba(out, f0sq, f1sq, f2sq, fc, inv2var, use_band, prof_f, prof_s, white, wlast, partial):
        n0, n1, m = out.shape
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        profiled = prof_f.size > 0
        for c in prange(n_chunks):
            lo = c * n_rows // n_chunks
            hi = (c + 1) * n_rows // n_chunks
            acc = 0.0
            for row in range(lo, hi):
                i = row // n1
                j = row - i * n1
                base = f0sq[i] + f1sq[j]
                for k in range(m):
                    r = math.sqrt(base + f2sq[k])
                    s = np.interp(r, prof_f, prof_s) if profiled else white
                    if use_band:
                        if row == 0 and k == 0:
                            s = 0.0
                        else:
                            d = r - fc
                            s = s * math.exp(-2.0 * d * d * inv2var)
                    acc += wlast[k] * s
                    out[i, j, k] = s
            partial[c] = acc

    @njit(parallel=True, cache=True)
    def _scale_separable_numba(P, g0, g1, g2):
        n0, n1, m = P.shape
        for row in prange(n0 * n1):
            i = row // n1
            j = row - i * n1
            a = g0[i] * g1[j]
            for k in range(m):
                P[i, j, k] = P[i, j, k] * (a * g2[k])

    @njit(parallel=True, cache=True)
    def _update_run_numba(E, run, band, threshold, partial):
        n0, n1, n2 = E.shape
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        for c in prange(n_chunks):
            lo = c * n_rows // n_chunks
            hi = (c + 1) * n_rows // n_chunks
            passed = 0
            alive = 0
            for row in range(lo, hi):
                i = row // n1
                j = row - i * n1
                for k in range(n2):
                    state = run[i, j, k]
                    if state >= 0 and E[i, j, k] > threshold:
                        passed += 1
                        if state == band:
                            run[i, j, k] = state + 1
                            alive += 1
                    elif state > band:
                        alive += 1
            partial[c, 0] = passed
            partial[c, 1] = alive

    @njit(parallel=True, cache=True)
    def _histogram_numba(run, partial):
        n0, n1, n2 = run.shape
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        for c in prange(n_chunks):
            lo = c * n_rows // n_chunks
            hi = (c + 1) * n_rows // n_chunks
            for row in range(lo, hi):
                i = row // n1
                j = row - i * n1
                for k in range(n2):
                    partial[c, run[i, j, k] + 1] += 1

    @njit(parallel=True, cache=True)
    def _mark_numba(E, threshold, run, partial):
        n0, n1, n2 = E.shape
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        for c in prange(n_chunks):
            lo = c * n_rows // n_chunks
            hi = (c + 1) * n_rows // n_chunks
            inside = 0
            for row in range(lo, hi):
                i = row // n1
                j = row - i * n1
                for k in range(n2):
                    if E[i, j, k] > threshold:
                        run[i, j, k] = 0
                        inside += 1
                    else:
                        run[i, j, k] = -1
            partial[c] = inside

    @njit(parallel=True, cache=True)
    def _finalise_numba(run, table, out):
        n0, n1, n2 = run.shape
        for row in prange(n0 * n1):
            i = row // n1
            j = row - i * n1
            for k in range(n2):
                out[i, j, k] = table[run[i, j, k] + 1]


def _chunks(n_rows: int) -> int:
    return _kernels._n_chunks(n_rows)


# ----------------------------------------------------------------------------- grid
class _Grid:
    """Frequencies (cycles/pixel) of the ``rfftn`` grid of ``shape`` in slab view.

    A 2-D image is the single slab ``(1, nr, nc)``; the spectrum has shape
    ``(n0, n1, n2 // 2 + 1)``.
    """

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)
        self.slab = (1,) + self.shape if len(shape) == 2 else self.shape
        n0, n1, n2 = self.slab
        self.n_last = n2
        self.m = n2 // 2 + 1
        self.f = [np.fft.fftfreq(n0), np.fft.fftfreq(n1), np.fft.rfftfreq(n2)]
        self.fsq = [np.ascontiguousarray(f**2) for f in self.f]
        self.wlast = hermitian_weights(n2)
        self.size = n0 * n1 * n2
        self.spectrum_shape = (n0, n1, self.m)
        # scaled shell geometry of the shared kernels (shell s = s / max(shape) cpx)
        freqs = shell_frequencies(self.shape, real=True)
        self.shell_freqs = [np.zeros(1)] + freqs if len(shape) == 2 else freqs
        self.nmax = max(self.shape)

    def gaussian_axes(self, sigma: float) -> list[np.ndarray]:
        """Per-axis transfer function ``exp(-2 π² σ² f²)`` of the unit-sum Gaussian window."""
        return [np.exp(-2.0 * (math.pi * sigma) ** 2 * fsq) for fsq in self.fsq]

    def window_autocorrelation(self, sigma: float) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per axis: the lags (indices on the periodic grid) and values of ``g⋆g``.

        ``g⋆g`` has the transfer function ``exp(-4 π² σ² f²)`` and is separable;
        only lags above ``_LAG_CUTOFF`` of the peak are kept.
        """
        out = []
        for n in self.slab:
            f = np.fft.fftfreq(n)
            gg = np.fft.ifft(np.exp(-4.0 * (math.pi * sigma) ** 2 * f**2)).real
            keep = np.flatnonzero(np.abs(gg) > _LAG_CUTOFF * np.abs(gg).max())
            out.append((keep, gg[keep]))
        return out


# ----------------------------------------------------------------------------- in-place FFTs
def _real_view(P: np.ndarray, n_last: int) -> np.ndarray:
    """The real array of a half spectrum transformed in place (padded rows)."""
    real = P.view(P.real.dtype)
    return real[..., :n_last]


def _row_block(P: np.ndarray) -> int:
    return max(1, _ROW_BYTES // max(1, P.shape[-1] * P.itemsize))


def _inverse_in_place(P: np.ndarray, n_last: int, workers: int) -> np.ndarray:
    """Half spectrum ``P`` -> real array ``irfftn(P)`` in the same memory."""
    axes = (0, 1) if P.shape[0] > 1 else (1,)
    out = scipy.fft.ifftn(P, axes=axes, overwrite_x=True, workers=workers)
    if not np.shares_memory(out, P):  # pragma: no cover - scipy chose to copy
        P[...] = out
    rows = P.reshape(-1, P.shape[-1])
    real_rows = rows.view(P.real.dtype)
    step = _row_block(P)
    for a in range(0, rows.shape[0], step):
        b = min(a + step, rows.shape[0])
        # the block is read completely before its own memory is overwritten
        real_rows[a:b, :n_last] = scipy.fft.irfft(rows[a:b], n=n_last, axis=-1, workers=workers)
    return _real_view(P, n_last)


def _forward_in_place(P: np.ndarray, n_last: int, workers: int) -> None:
    """Real array held in ``P`` (see :func:`_real_view`) -> its half spectrum."""
    rows = P.reshape(-1, P.shape[-1])
    real_rows = rows.view(P.real.dtype)
    step = _row_block(P)
    for a in range(0, rows.shape[0], step):
        b = min(a + step, rows.shape[0])
        rows[a:b] = scipy.fft.rfft(real_rows[a:b, :n_last], axis=-1, workers=workers)
    axes = (0, 1) if P.shape[0] > 1 else (1,)
    out = scipy.fft.fftn(P, axes=axes, overwrite_x=True, workers=workers)
    if not np.shares_memory(out, P):  # pragma: no cover
        P[...] = out


def _smooth_in_place(P: np.ndarray, grid: _Grid, sigma: float, workers: int) -> np.ndarray:
    """Periodic convolution of the real array in ``P`` with the unit-sum Gaussian."""
    _forward_in_place(P, grid.n_last, workers)
    g0, g1, g2 = grid.gaussian_axes(sigma)
    if _kernels.HAVE_NUMBA:
        _scale_separable_numba(P, g0, g1, g2)
    else:  # pragma: no cover
        _scale_separable_numpy(P, g0, g1, g2)
    return _inverse_in_place(P, grid.n_last, workers)


# ----------------------------------------------------------------------------- null law
@dataclass(frozen=True)
class _Null:
    mean: float
    var: float

    @property
    def shape(self) -> float:
        return self.mean**2 / self.var if self.var > 0 else math.inf

    @property
    def scale(self) -> float:
        return self.var / self.mean if self.mean > 0 else 0.0

    def isf(self, alpha: float) -> float:
        """Upper ``alpha`` quantile of the matched gamma law."""
        if not (self.mean > 0 and self.var > 0):
            return math.inf
        return float(scipy.special.gammainccinv(self.shape, alpha) * self.scale)

    def sf(self, energy: np.ndarray) -> np.ndarray:
        """Upper-tail probability (p-value) of ``energy`` under the gamma law."""
        return scipy.special.gammaincc(self.shape, np.asarray(energy, np.float64) / self.scale)


class _NoiseModel:
    """Noise power spectrum ``S(|f|)`` (white: constant ``σ²``).

    ``rel_var`` is the relative variance of the estimated noise power (``2/(n - 1)``
    for ``n`` voxels of white noise, ``2/K`` for ``K`` Fourier modes, 0 when the
    level is given); ``baseline`` the mean of the noise region (None without one)
    and ``n_region`` its number of voxels (0 without one).
    A radial ``profile`` carries the modes behind each bin (``modes``), from which
    the uncertainty of a band's noise power is derived (:meth:`band_rel_var`).
    """

    def __init__(self, sigma: float, method: str, profile: tuple | None = None, baseline=None,
                 rel_var: float = 0.0, modes: np.ndarray | None = None, n_region: int = 0):
        self.sigma = float(sigma)
        self.n_region = int(n_region)
        self.method = method
        self.profile = profile
        self.baseline = baseline
        self.rel_var = float(rel_var)
        self.modes = modes

    def band_rel_var(self, fc: float, inv2var: float, band: bool) -> float:
        """Relative variance of the estimated noise power seen by one band.

        White model: ``rel_var``. Radial profile: the bins enter the band's mean
        power with weights ``w_b ∝ S_b H(f_b)² m_b`` (power, filter, modes), each
        bin mean having relative variance ``2/m_b``, so the band's relative
        variance is ``Σ w_b² (2/m_b) / (Σ w_b)²``.
        """
        if self.profile is None:
            return self.rel_var
        f, power = self.profile
        weight = power * self.modes
        if band:
            weight = weight * np.exp(-2.0 * (f - fc) ** 2 * inv2var)
        total = weight.sum()
        if not total > 0:
            return 0.0
        return float(np.sum(weight**2 * 2.0 / self.modes) / total**2)

    def arrays(self):
        if self.profile is None:
            empty = np.zeros(0)
            return empty, empty, self.sigma**2
        f, s = self.profile
        return np.ascontiguousarray(f, np.float64), np.ascontiguousarray(s, np.float64), 0.0


def _null_law(P, grid, noise, window_sigma, lags, workers, *, fc=0.0, inv2var=0.0, band=True,
              global_size=None) -> _Null:
    """Mean and variance of ``g ⊛ v²`` for noise alone, ``v`` the band-passed noise.

    ``C = irfftn(S H²)`` is computed in ``P`` (overwritten); the variance is
    ``2 Σ_Δ (g⋆g)(Δ) C(Δ)²`` over the lags where ``g⋆g`` is not negligible, plus
    ``mean² rel_var`` for the uncertainty of an estimated noise level (the
    threshold is then a prediction bound: noise passes at rate α on average
    over the estimate). ``band=False`` gives the law of the unfiltered field
    (DC included).

    ``global_size``: the map has this many voxels and ``grid`` is a smaller
    grid on which ``C`` is sampled (it must hold the lags of ``g⋆g`` and the
    extent of ``C``). By Poisson summation ``C`` on either grid is the lattice
    correlation plus aliases a period away, so they agree once those are
    negligible — except for the removed mean: the map loses its DC mode, worth
    ``S(0) H(0)² / global_size`` at every lag, not ``/ grid.size``; that
    difference is put back in the DC bin.
    """
    prof_f, prof_s, white = noise.arrays()
    f0sq, f1sq, f2sq = grid.fsq
    if _kernels.HAVE_NUMBA:
        partial = np.zeros(_chunks(P.shape[0] * P.shape[1]))
        _fill_null_numba(P, f0sq, f1sq, f2sq, fc, inv2var, band, prof_f, prof_s, white, grid.wlast, partial)
        total = float(partial.sum())
    else:  # pragma: no cover
        total = _fill_null_numpy(P, f0sq, f1sq, f2sq, fc, inv2var, band, prof_f, prof_s, white, grid.wlast)
    if band and global_size is not None and global_size != grid.size:
        s0 = float(np.interp(0.0, prof_f, prof_s)) if prof_f.size else white
        dc = s0 * math.exp(-2.0 * fc * fc * inv2var) * (1.0 - grid.size / global_size)
        P[0, 0, 0] = dc
        total += dc
    mean = total / grid.size
    C = _inverse_in_place(P, grid.n_last, workers)
    (i0, w0), (i1, w1), (i2, w2) = lags
    acc = 0.0
    for i, w in zip(i0, w0):  # one lag plane at a time: no box-sized temporaries
        plane = C[i][np.ix_(i1, i2)].astype(np.float64)
        acc += w * float(w1 @ (plane * plane) @ w2)
    rel_var = noise.band_rel_var(fc, inv2var, band)
    return _Null(mean=mean, var=2.0 * acc + mean * mean * rel_var)


# ----------------------------------------------------------------------------- validation
def _check_fraction(value, name: str, low: float, high: float, *, high_inclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number; got {value!r}")
    value = float(value)
    ok = low < value < high or (high_inclusive and value == high)
    if not (math.isfinite(value) and ok):
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must lie in ({low:g}, {high:g}{bracket}; got {value!r}")
    return value


def _check_bool_mask(mask, shape, name: str) -> np.ndarray:
    array = np.asarray(mask)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a boolean array; got dtype {array.dtype}")
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have the shape of vol {tuple(shape)}; got {array.shape}")
    if array.dtype != bool:
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if array.size and array.min() < 0:
            raise ValueError(f"{name} must be boolean (non-zero = selected, no negative values); "
                             f"its minimum is {array.min():g}")
        array = array != 0
    if not array.any():
        raise ValueError(f"{name} selects no voxel (it is False everywhere)")
    return array


def _validate(vol, pixel_size, significance, n_freq, window_sigma, noise_method, corner_fraction,
              highfreq_fraction, sigma_noise):
    volume = as_image(vol, "vol")
    if volume.dtype.kind == "c":
        raise TypeError("vol must be real; got a complex array (pass its modulus or phase)")
    pixel_size = check_pixel_size(pixel_size)
    significance = _check_fraction(significance, "significance", 0.0, 0.5, high_inclusive=True)
    if isinstance(n_freq, bool) or not isinstance(n_freq, numbers.Integral) or n_freq < 2:
        raise ValueError(f"n_freq must be an integer >= 2; got {n_freq!r}")
    if n_freq > 32000:
        raise ValueError(f"n_freq must be at most 32000; got {n_freq}")
    if isinstance(window_sigma, bool) or not isinstance(window_sigma, numbers.Real) or not (
        math.isfinite(float(window_sigma)) and window_sigma > 0
    ):
        raise ValueError(f"window_sigma must be a positive number of pixels; got {window_sigma!r}")
    if noise_method not in NOISE_METHODS:
        raise ValueError(f"noise_method must be one of {NOISE_METHODS}; got {noise_method!r}")
    corner_fraction = _check_fraction(corner_fraction, "corner_fraction", 0.0, 0.5)
    highfreq_fraction = _check_fraction(highfreq_fraction, "highfreq_fraction", 0.0, 1.0)
    if sigma_noise is not None:
        if isinstance(sigma_noise, bool) or not isinstance(sigma_noise, numbers.Real) or not (
            math.isfinite(float(sigma_noise)) and sigma_noise > 0
        ):
            raise ValueError(f"sigma_noise must be a positive finite number or None; got {sigma_noise!r}")
        sigma_noise = float(sigma_noise)
    return volume, pixel_size, significance, int(n_freq), float(window_sigma), corner_fraction, \
        highfreq_fraction, sigma_noise


def _check_noise_options(noise_method, noise_mask, sigma_noise, whiten) -> None:
    if sigma_noise is None and noise_method == "mask" and noise_mask is None:
        raise ValueError("noise_method='mask' needs noise_mask (a boolean array marking noise-only voxels)")
    if whiten and sigma_noise is not None:
        raise ValueError("whiten=True estimates the noise spectrum from a noise region; "
                         "it cannot be used with sigma_noise")
    if whiten and noise_method == "highfreq":
        raise ValueError("whiten=True needs a noise region: use noise_method='corners' or 'mask'")


def _as_work(volume: np.ndarray) -> np.ndarray:
    """float32/float64 C-contiguous version of ``volume`` (no copy when it already is)."""
    dtype = np.float64 if volume.dtype == np.float64 or volume.dtype.itemsize > 8 else np.float32
    return np.ascontiguousarray(volume, dtype=dtype)


def _check_values(work: np.ndarray) -> None:
    view = work[np.newaxis] if work.ndim == 2 else work
    rows = max(1, (16 << 20) // max(1, view.shape[1] * view.shape[2] * view.itemsize))
    ones_plane = np.ones(view.shape[1:])
    total, low, high = 0.0, np.inf, -np.inf
    for a in range(0, view.shape[0], rows):
        b = min(a + rows, view.shape[0])
        s, _, lo, hi = _kernels.block_stats(view[a:b], np.ones(b - a), ones_plane)
        total += s
        low, high = min(low, lo), max(high, hi)
    if not (math.isfinite(total) and math.isfinite(low) and math.isfinite(high)):
        raise ValueError("vol contains NaN or infinite values; replace or mask them first")
    if low == high:
        raise ValueError("vol is constant: it has no detail whose resolution could be measured")


# ----------------------------------------------------------------------------- noise
def _corner_boxes(shape, corner_fraction):
    sides = [max(2, int(round(corner_fraction * n))) for n in shape]
    boxes = []
    for corner in np.ndindex(*(2,) * len(shape)):
        boxes.append(tuple(
            slice(0, c) if end == 0 else slice(n - c, n) for end, c, n in zip(corner, sides, shape)
        ))
    return boxes, tuple(sides)


def _n_profile_bins(grid_shape) -> int:
    freqs = shell_frequencies(tuple(grid_shape), real=True)
    return int(np.ceil(np.sqrt(sum(float(np.max(np.abs(k))) ** 2 for k in freqs)))) + 2


def _shell_power(spec, grid_shape) -> tuple[np.ndarray, np.ndarray]:
    """Per-shell power ``Σ|X_k|²`` and full-FFT mode count of one half spectrum.

    ``spec`` is the ``rfftn`` half spectrum of a real array of ``grid_shape``;
    shells are ``s / max(grid_shape)`` cycles/pixel (the shared shell geometry).
    The sums of several spectra on the same grid simply add.
    """
    grid_shape = tuple(grid_shape)
    freqs = shell_frequencies(grid_shape, real=True)
    if len(grid_shape) == 2:
        freqs = [np.zeros(1)] + freqs
    view = spec[np.newaxis] if spec.ndim == 2 else spec
    sums = _kernels.shell_sums(view, view, freqs, hermitian_weights(grid_shape[-1]),
                               _n_profile_bins(grid_shape))
    return sums[2], sums[4]


def _binned_profile(power, count, grid_shape):
    """Mean power per Fourier mode in radial bins, from per-shell sums.

    ``power`` and ``count`` are per-shell sums (:func:`_shell_power`, added over
    spectra) of mean-removed noise regions (binary weights) on a grid of
    ``grid_shape``; for a region of ``n`` voxels ``E|X_k|² = n S(k)``, so the
    caller divides by ``n``. Neighbouring shells are merged until each bin holds
    at least ``_MIN_MODES_PER_BIN`` modes. Shell 0 (DC, emptied by the mean
    removal) is skipped.

    Returns
    -------
    frequency : ndarray
        Mode-weighted mean frequency of each bin, cycles/pixel.
    power : ndarray
        Mean ``|X_k|²`` of the bin.
    modes : ndarray
        Full-FFT modes per bin (about half of them independent).
    """
    nmax = max(grid_shape)
    bins = []  # [power, modes, frequency * modes]
    acc = [0.0, 0.0, 0.0]
    for s in range(1, len(power)):
        if count[s] == 0:
            continue
        acc = [acc[0] + power[s], acc[1] + count[s], acc[2] + count[s] * s / nmax]
        if acc[1] >= _MIN_MODES_PER_BIN:
            bins.append(acc)
            acc = [0.0, 0.0, 0.0]
    if acc[1] > 0:  # too few modes for a bin of its own: join the previous one
        if bins:
            bins[-1] = [a + b for a, b in zip(bins[-1], acc)]
        else:
            bins.append(acc)
    bins = np.asarray(bins)
    return bins[:, 2] / bins[:, 1], bins[:, 0] / bins[:, 1], bins[:, 1]


def _radial_profile(spectra, grid_shape):
    """:func:`_binned_profile` of the summed :func:`_shell_power` of ``spectra``."""
    power = count = 0.0
    for spec in spectra:
        p, c = _shell_power(spec, grid_shape)
        power, count = power + p, count + c
    return _binned_profile(power, count, grid_shape)


def _region_summary(values, spectrum_of=None) -> tuple:
    """``(n, mean, M2)`` of a noise region in float64, plus its shell power when asked.

    ``M2 = Σ (x - mean)²``. ``spectrum_of`` (the region as an array) adds the
    per-shell power of ``rfftn(region - mean)``: only the DC differs from the
    spectrum around a pooled mean, and the profile skips the DC, so the powers
    of several regions add exactly.
    """
    values = np.asarray(values, np.float64).ravel()
    n = values.size
    mean = float(values.mean()) if n else 0.0
    m2 = float(np.sum(np.square(values - mean))) if n else 0.0
    if spectrum_of is None:
        return n, mean, m2, None
    piece = np.asarray(spectrum_of, np.float64)
    return n, mean, m2, _shell_power(scipy.fft.rfftn(piece - mean), piece.shape)


def _pool(summaries) -> tuple[int, float, float]:
    """Pooled ``(n, mean, M2)`` of region summaries (Chan et al.'s parallel update)."""
    n, mean, m2 = 0, 0.0, 0.0
    for count, mu, s in ((s[0], s[1], s[2]) for s in summaries):
        if count == 0:
            continue
        total = n + count
        delta = mu - mean
        mean += delta * count / total
        m2 += s + delta * delta * n * count / total
        n = total
    return n, mean, m2


def _corner_summary(piece, whiten: bool) -> tuple:
    return _region_summary(piece, piece if whiten else None)


def _noise_from_corner_summaries(summaries, sides, whiten, record=None) -> _NoiseModel:
    """Noise model of the corner boxes from their :func:`_corner_summary` results."""
    n, mean, m2 = _pool(summaries)
    variance = m2 / (n - 1)
    if not variance > 0:
        raise ValueError(
            "noise_method='corners': the corner regions have zero variance (the corners are "
            "constant, e.g. zero-padded). Use noise_method='highfreq', a noise_mask or sigma_noise."
        )
    per_corner = np.array([s[2] / s[0] for s in summaries])
    if min(s[0] for s in summaries) >= 64 and per_corner.min() > 0 and per_corner.max() > 2 * per_corner.min():
        warn_assumption(
            "noise_method='corners': the corner variances differ by a factor "
            f"{per_corner.max() / per_corner.min():.1f}, so some corners probably contain sample; "
            "use noise_method='highfreq' (local tomography), a noise_mask, or sigma_noise.",
            record,
        )
    profile = modes = None
    if whiten:
        power = sum(s[3][0] for s in summaries)
        count = sum(s[3][1] for s in summaries)
        f, power, modes = _binned_profile(power, count, sides)
        profile = (f, power / float(np.prod(sides)))
    return _NoiseModel(math.sqrt(variance), "corners", profile, baseline=mean, rel_var=2.0 / (n - 1),
                       modes=modes, n_region=n)


def _noise_from_corners(work, corner_fraction, whiten, record=None):
    boxes, sides = _corner_boxes(work.shape, corner_fraction)
    summaries = [_corner_summary(work[b], whiten) for b in boxes]
    return _noise_from_corner_summaries(summaries, sides, whiten, record)


def _mask_noise_stats(n: int, mean: float, m2: float) -> float:
    """Variance of the ``noise_mask`` voxels; raise when it cannot be a noise region."""
    if n < 2:
        raise ValueError("noise_mask must select at least 2 voxels")
    variance = m2 / (n - 1)
    if not variance > 0:
        raise ValueError(
            "noise_mask selects voxels of zero variance: it must mark noise-only (empty) regions"
        )
    return variance


def _noise_from_mask_sums(n, mean, variance, shell_power, shape) -> _NoiseModel:
    """Noise model of ``noise_mask``: moments, and the profile from the shell power of
    ``(vol - mean) * noise_mask`` on the whole grid when whitening."""
    profile = modes = None
    if shell_power is not None:
        f, power, modes = _binned_profile(shell_power[0], shell_power[1], shape)
        profile = (f, power / n)
    return _NoiseModel(math.sqrt(variance), "mask", profile, baseline=mean, rel_var=2.0 / (n - 1),
                       modes=modes, n_region=n)


def _noise_from_mask(work, noise_mask, whiten, P, grid, workers):
    values = work[noise_mask].astype(np.float64)
    n = values.size
    mean = float(values.mean()) if n else 0.0
    variance = _mask_noise_stats(n, mean, float(np.sum(np.square(values - mean))) if n else 0.0)
    shell_power = None
    if whiten:
        real = _real_view(P, grid.n_last)
        view = work[np.newaxis] if work.ndim == 2 else work
        mview = noise_mask[np.newaxis] if work.ndim == 2 else noise_mask
        for i in range(view.shape[0]):
            np.subtract(view[i], mean, out=real[i])
            real[i] *= mview[i]
        _forward_in_place(P, grid.n_last, workers)
        shell_power = _shell_power(P[0] if work.ndim == 2 else P, work.shape)
    return _noise_from_mask_sums(n, mean, variance, shell_power, work.shape)


def _noise_from_shell_power(power, count, grid, highfreq_fraction, record=None) -> _NoiseModel:
    """``'highfreq'`` noise model from the per-shell power of the map's spectrum.

    The tail is checked first (:func:`check_highfreq_tail`).
    """
    f_shell = np.arange(len(power)) / grid.nmax
    keep = f_shell > 0.5 * (1.0 - highfreq_fraction)
    total = count[keep].sum()
    if total == 0:
        raise ValueError(
            f"highfreq_fraction={highfreq_fraction:g} leaves no Fourier voxel above "
            f"{0.5 * (1 - highfreq_fraction):.3f} cycles/pixel; increase it"
        )
    variance = float(power[keep].sum() / total / grid.size)
    if not variance > 0:
        raise ValueError("noise_method='highfreq': the map has no power near Nyquist (zero noise)")
    check_highfreq_tail(power, count, grid, highfreq_fraction, record)
    return _NoiseModel(math.sqrt(variance), "highfreq", rel_var=2.0 / float(total))


def _noise_from_highfreq(F, grid, highfreq_fraction, record=None):
    n_bins = int(np.ceil(np.sqrt(sum(float(np.max(np.abs(k))) ** 2 for k in grid.shell_freqs)))) + 2
    view = F[np.newaxis] if F.ndim == 2 else F
    sums = _kernels.shell_sums(view, view, grid.shell_freqs, grid.wlast, n_bins)
    return _noise_from_shell_power(sums[2], sums[4], grid, highfreq_fraction, record)


# ----------------------------------------------------------------------------- checks of the noise model
def _axis_parts(start: int, length: int, n: int, side: int) -> list:
    """Slices of a block ``[start, start + length)`` of an axis of ``n`` in its three zones.

    The zones are the first ``side`` voxels, the middle and the last ``side``
    (the last zone never overlaps the first); None where the block misses a zone.
    """
    bounds = ((0, side), (side, max(side, n - side)), (max(side, n - side), n))
    parts = []
    for lo, hi in bounds:
        a, b = max(lo, start), min(hi, start + length)
        parts.append(slice(a - start, b - start) if b > a else None)
    return parts


def _zones(block_shape, offset, shape, sides):
    """Yield ``(group, slices)`` of the parts of a block in the corner boxes (0), the border (1)
    and the interior (2) of a map of ``shape``; the block starts at ``offset``.

    A voxel is in a corner box when it lies within ``side`` of a face along
    every axis, in the border when along some axes but not all.
    """
    parts = [_axis_parts(o, m, n, s) for o, m, n, s in zip(offset, block_shape, shape, sides)]
    for zones in itertools.product(range(3), repeat=len(block_shape)):
        where = tuple(parts[axis][zone] for axis, zone in enumerate(zones))
        if any(w is None for w in where):
            continue
        middles = zones.count(1)
        yield (0 if middles == 0 else (2 if middles == len(block_shape) else 1)), where


def region_moments(block, offset, shape, sides) -> np.ndarray:
    """``(n, mean, M2)`` of a block's voxels in the corner boxes, the border and the interior.

    ``block`` is the part of a map of ``shape`` that starts at ``offset``;
    ``sides`` are the corner box sides (:func:`_corner_boxes`), the zones
    those of :func:`_zones`. Rows: corners, border, interior; the rows of
    several blocks pool with :func:`_pool`.
    """
    block = np.asarray(block)
    groups = ([], [], [])
    for group, where in _zones(block.shape, offset, shape, sides):
        groups[group].append(_region_summary(block[where])[:3])
    return np.array([_pool(g) for g in groups], np.float64)


def corner_count(inside, offset, shape, sides) -> int:
    """Number of ``True`` voxels of a block of a boolean map that lie in the corner boxes."""
    return sum(int(np.count_nonzero(inside[where])) for group, where in _zones(inside.shape, offset, shape, sides)
               if group == 0)


def _map_region_moments(work: np.ndarray, sides) -> np.ndarray:
    """:func:`region_moments` of a whole map, read in slabs of at most ~16 MB of float64."""
    step = max(1, (16 << 20) // max(1, 8 * work[0].size))
    rows = [region_moments(work[a:a + step], (a,) + (0,) * (work.ndim - 1), work.shape, sides)
            for a in range(0, work.shape[0], step)]
    return np.array([_pool([r[g] for r in rows]) for g in range(3)], np.float64)


def _variance(n: float, m2: float) -> float:
    return m2 / (n - 1) if n >= 2 else math.nan


def check_flat_corners(moments: np.ndarray, noise_method: str, record=None) -> None:
    """Refuse or warn when the corner boxes are masked or flattened solvent.

    ``moments`` are the pooled :func:`region_moments` of the map. The corner
    variance is compared with the variance of the border (voxels near some
    faces but not in a corner box: solvent in a map with empty corners) and of
    the whole box (which noise alone never makes smaller than the noise
    variance). With ``noise_method='corners'`` numerically flat corners
    (standard deviation below ``NUMERICALLY_FLAT`` of the map's) are refused
    and corners orders of magnitude quieter warned of; with ``'highfreq'`` both
    are warned of (the map's solvent is flattened, which dilutes the
    high-frequency noise power by the masked fraction).
    """
    (n_c, mean_c, m2_c), border, interior = moments
    corner_var = _variance(n_c, m2_c)
    n, _, m2 = _pool([tuple(row) for row in moments])
    box_var, border_var = _variance(n, m2), _variance(border[0], border[2])
    if not (box_var > 0 and corner_var >= 0):
        return
    if corner_var == 0 and noise_method == "corners":
        return  # refused by the corner noise model, which names the zero variance
    sd_ratio = math.sqrt(corner_var / box_var)
    vs_border = corner_var / border_var if border_var > 0 else math.inf
    numerically_flat = sd_ratio < NUMERICALLY_FLAT
    if not (numerically_flat or vs_border < FLAT_VS_BORDER or corner_var < FLAT_VS_BOX * box_var):
        return
    measured = (f"corner standard deviation {math.sqrt(corner_var):.3g}, {sd_ratio:.2g} of the "
                f"whole map's and {math.sqrt(vs_border):.2g} of the box border's")
    if noise_method == "corners":
        advice = ("so sigma_noise would be far too small and noise would pass as signal; use "
                  "noise_method='mask' with a noise_mask of unflattened solvent, the unmasked map, "
                  "or sigma_noise")
        if numerically_flat:
            raise ValueError(f"noise_method='corners': the corners are numerically flat ({measured}): "
                             f"they are masked or flattened solvent, not noise, {advice}.")
        warn_assumption(f"noise_method='corners': the corners are orders of magnitude quieter than the "
                        f"rest of the map ({measured}): masked or flattened solvent, not noise, {advice}.",
                        record)
    else:
        warn_assumption(f"noise_method='{noise_method}': the corners of this map are flattened "
                        f"({measured}): it is masked, so the high-frequency power is averaged over "
                        "noise-free solvent and the noise level is underestimated by the masked "
                        "fraction; use the unmasked map, or pass the sample mask as mask= and "
                        "noise_method='mask' with a noise_mask of solvent.", record)


@dataclass(frozen=True)
class TailFit:
    """Straight-line fit of the shell-mean power of the high-frequency tail.

    ``power`` is the mean power per mode (the noise variance of
    ``'highfreq'``), ``map_variance`` the variance of the map, ``z`` the
    fitted slope in standard errors of a white tail, ``fall`` one minus the
    ratio of the mean power of the upper half of the tail's modes (by
    frequency) to that of the lower half, and ``f_low`` the lowest shell's
    frequency (cycles/pixel).
    """

    power: float
    map_variance: float
    z: float
    fall: float
    f_low: float


def fit_highfreq_tail(power, count, grid, highfreq_fraction: float) -> TailFit:
    """:class:`TailFit` of the shells above ``0.5 (1 - highfreq_fraction)`` cycles/pixel.

    ``power`` and ``count`` are the per-shell power and full-FFT mode count of
    the mean-removed map (shells ``s / grid.nmax`` cycles/pixel). White noise
    gives every shell the mean power ``p`` with relative variance ``2 / K_s``
    (``K_s / 2`` independent exponential powers), so the weighted
    least-squares slope of the shell means against frequency, with weights
    ``K_s / 2``, has standard error ``p / sqrt(Σ_s (K_s / 2) (f_s - f̄)²)``.
    """
    count = np.asarray(count, np.float64)
    f = np.arange(len(power)) / grid.nmax
    keep = (f > 0.5 * (1.0 - highfreq_fraction)) & (count > 0)
    p_shell = np.asarray(power, np.float64)[keep] / count[keep] / grid.size
    f, weight = f[keep], count[keep] / 2.0
    mean = float(np.sum(weight * p_shell) / np.sum(weight))
    map_var = float(np.sum(power)) / float(grid.size) ** 2  # Parseval, the mean removed
    z = fall = 0.0
    if f.size >= 3 and mean > 0:
        centred = f - np.sum(weight * f) / np.sum(weight)
        spread = float(np.sum(weight * centred**2))
        slope = float(np.sum(weight * centred * p_shell)) / spread
        z = slope * math.sqrt(spread) / mean
        upper = np.cumsum(weight) > 0.5 * np.sum(weight)
        if upper.any() and not upper.all():
            halves = [np.sum(weight[part] * p_shell[part]) / np.sum(weight[part]) for part in (~upper, upper)]
            fall = float(1.0 - halves[1] / halves[0]) if halves[0] > 0 else 0.0
    return TailFit(power=mean, map_variance=map_var, z=z, fall=fall, f_low=float(f[0]))


def check_highfreq_tail(power, count, grid, highfreq_fraction: float, record=None) -> None:
    """Refuse a numerically empty tail; warn when the tail's power is still falling.

    Numerically empty: the tail's noise standard deviation is below
    ``NUMERICALLY_FLAT`` of the map's. Falling (:func:`fit_highfreq_tail`):
    the slope is more than ``TAIL_Z`` (5) standard errors below zero *and*
    the upper half of the tail has less than ``1 - TAIL_FALL`` (90 %) of the
    power of the lower half.
    """
    fit = fit_highfreq_tail(power, count, grid, highfreq_fraction)
    if fit.power < NUMERICALLY_FLAT**2 * fit.map_variance:
        raise ValueError(
            f"noise_method='highfreq': the power above {fit.f_low:.3g} cycles/pixel is numerically "
            f"zero (noise standard deviation {math.sqrt(fit.power):.3g}, "
            f"{math.sqrt(fit.power / fit.map_variance):.2g} of the map's): the map is low-pass "
            "filtered; use the unfiltered map, noise_method='corners' or 'mask', or sigma_noise."
        )
    if fit.z < -TAIL_Z and fit.fall > TAIL_FALL:
        warn_assumption(
            f"noise_method='highfreq': the power still falls across the tail above {fit.f_low:.3g} "
            f"cycles/pixel (its upper half holds {100 * (1 - fit.fall):.3g} % of the power of its lower "
            f"half; slope {-fit.z:.1f} standard errors below a white tail's): the map "
            "is band-limited, filtered or sharpened, or has signal there, so the tail is not the noise "
            "level; use the unfiltered map, whiten=True with a noise region (noise_method='mask'), "
            "or sigma_noise.",
            record,
        )


def check_auto_mask(n_mask: int, n_noise_in_mask: int, size: int, noise, record=None) -> None:
    """Warn when the automatic mask holds most of the corner boxes.

    The corner boxes (``noise.n_region`` voxels) are noise by assumption, so
    they enter the automatic mask at the per-voxel rate ``MASK_SIGNIFICANCE``
    (1e-3), plus the voxels within a window's width of the sample. More than
    ``MASK_NOISE_SHARE`` (half) of them inside the mask (``n_noise_in_mask``
    voxels) means the noise region does not look like noise at its own
    level: the noise level is too small. (A ``noise_mask`` is not checked: a
    region narrower than the window is legitimately covered by the mask of
    the sample next to it.)
    """
    if noise.n_region <= 0:
        return
    share = min(1.0, n_noise_in_mask / noise.n_region)
    if share > MASK_NOISE_SHARE:
        warn_assumption(
            f"the automatic sample mask covers {100 * n_mask / size:.1f} % of the box and "
            f"{100 * share:.0f} % of the noise region ('{noise.method}'), where noise alone enters at a "
            f"rate of {MASK_SIGNIFICANCE:g}: the noise level {noise.sigma:.3g} is too small for this map "
            "(flattened or filtered solvent?); pass mask= and a noise_mask of real solvent, or sigma_noise.",
            record,
        )


def warn_empty_auto_mask(record=None) -> None:
    warn_assumption(
        "the automatic sample mask is empty (nothing differs from the background by more "
        "than the noise), so the whole field of view is tested; pass mask= to choose the region.",
        record,
    )


# ----------------------------------------------------------------------------- faces
#: a face jump is significant when its mean square exceeds the mean over the interior planes of
#: the neighbour-step mean square by this many of their standard deviations across planes
FACE_Z = 8.0
#: where a jump cannot be removed, voxels within this many window_sigma of the face are unreliable
#: (measured: the spurious energy changes voxels' resolution up to about 4 window_sigma inward)
FACE_MARGIN_SIGMAS = 4.0


@dataclass(frozen=True)
class FaceSteps:
    """Squared steps of a map along each axis: across the wrap-around and between neighbours.

    ``jump[a]`` is the mean of ``(u[last] - u[first])²`` over the face plane of
    axis ``a``; ``planes[a]`` holds the mean of ``(u[i + 1] - u[i])²`` of each
    pair of neighbouring interior planes (``n_a - 1`` values, float64).
    """

    jump: tuple
    planes: tuple


@dataclass(frozen=True)
class FaceJumps:
    """The wrap-around test of every axis (:func:`face_jump_test`).

    ``ratio[a]`` is the face jump's mean square over the mean neighbour step's,
    ``z[a]`` its excess in standard deviations of the per-plane neighbour steps,
    ``axes`` the axes whose jump is significant (``z > FACE_Z``, 8).
    """

    ratio: tuple
    z: tuple
    axes: tuple


def face_steps(work: np.ndarray) -> FaceSteps:
    """:class:`FaceSteps` of an in-memory map, read one slab (index of axis 0) at a time."""
    n0 = work.shape[0]
    planes = [np.zeros(n - 1) for n in work.shape]
    jump = [0.0] * work.ndim
    for i in range(n0):
        slab = np.asarray(work[i], np.float64)
        if i + 1 < n0:
            planes[0][i] = float(np.mean(np.square(np.asarray(work[i + 1], np.float64) - slab)))
        for a in range(1, work.ndim):
            others = tuple(b for b in range(slab.ndim) if b != a - 1)
            planes[a] += np.sum(np.square(np.diff(slab, axis=a - 1)), axis=others)
            jump[a] += float(np.sum(np.square(np.take(slab, -1, a - 1) - np.take(slab, 0, a - 1))))
    jump[0] = float(np.mean(np.square(np.asarray(work[-1], np.float64) - np.asarray(work[0], np.float64))))
    for a in range(1, work.ndim):
        plane_size = work.size // work.shape[a]
        planes[a] /= plane_size
        jump[a] /= plane_size
    return FaceSteps(jump=tuple(jump), planes=tuple(planes))


def face_jump_test(steps: FaceSteps) -> FaceJumps:
    """Which axes' wrap-around jump exceeds what a step between neighbouring planes is.

    A periodic map (or noise, or solvent, on both faces) steps across the
    wrap-around as it steps between any two neighbouring planes, so the face
    jump's mean square is one draw of the per-plane neighbour steps; their
    spread across the planes is that draw's sampling error, correlation within
    the plane included. A jump more than ``FACE_Z`` (8) of those standard
    deviations above their mean is a discontinuity of the map (a crop, a map
    whose faces do not match). Axes shorter than 4 planes are never flagged.
    """
    ratio, z, axes = [], [], []
    for a, (jump, planes) in enumerate(zip(steps.jump, steps.planes)):
        mean = float(np.mean(planes)) if planes.size else 0.0
        spread = float(np.std(planes, ddof=1)) if planes.size >= 3 else math.inf
        ratio.append(jump / mean if mean > 0 else (math.inf if jump > 0 else 1.0))
        excess = jump - mean
        z.append(excess / spread if spread > 0 else (math.inf if excess > 0 else 0.0))
        if z[-1] > FACE_Z:
            axes.append(a)
    return FaceJumps(ratio=tuple(ratio), z=tuple(z), axes=tuple(axes))


def remove_face_jumps(work, F, P, grid: _Grid, axes, workers) -> None:
    """Subtract from ``F`` the smooth component carrying the wrap-around jumps of ``axes``.

    Moisan's periodic-plus-smooth decomposition (J. Math. Imaging Vis. 39:161,
    2011) restricted to ``axes``: ``u = p + s`` with ``s`` the periodic
    solution of ``Δs = v``, ``v`` the boundary image (``u[last] - u[first]``
    on the first plane of each axis, its negative on the last), so that ``p``
    has no jump across those faces and, away from them, the detail of ``u``
    (``s`` is harmonic there). In Fourier space ``ŝ = v̂ / Σ_b (2 cos 2πf_b -
    2)`` (``ŝ(0) = 0``): one forward FFT of ``v``, done in the work spectrum
    ``P``; ``F`` (the map's half spectrum) becomes that of ``p``.
    """
    real = _real_view(P, grid.n_last)
    real[...] = 0.0
    view = work[np.newaxis] if work.ndim == 2 else work
    offset = 3 - work.ndim  # axis a of the map is axis a + offset of the slab view
    for a in axes:
        s = a + offset
        jump = np.take(view, -1, s) - np.take(view, 0, s)
        first = [slice(None)] * 3
        first[s] = 0
        last = list(first)
        last[s] = -1
        real[tuple(first)] += jump
        real[tuple(last)] -= jump
    _forward_in_place(P, grid.n_last, workers)
    eig = [2.0 * np.cos(2.0 * math.pi * f) - 2.0 for f in grid.f]
    spectrum = F[np.newaxis] if F.ndim == 2 else F
    plane = eig[1][:, None] + eig[2][None, :]
    for i in range(P.shape[0]):  # one plane at a time: no box-sized temporaries
        laplacian = eig[0][i] + plane
        if i == 0:
            laplacian[0, 0] = 1.0  # ŝ(0) = 0: the DC of v is zero anyway
        spectrum[i] -= (P[i] / laplacian).astype(spectrum.dtype, copy=False)
    spectrum[0, 0, 0] = 0.0


def warn_face_jumps(jumps: FaceJumps, corrected: bool, margin: int, record=None) -> None:
    """Record what was done about significant wrap-around jumps (nothing when there are none)."""
    if corrected or not jumps.axes:
        return  # a correction is reported by the result's periodic_axes and summary
    measured = ", ".join(f"axis {a}: {jumps.ratio[a]:.3g}x" for a in jumps.axes)
    warn_assumption(
        f"the map is not periodic (mean squared jump across the faces / mean squared step between "
        f"neighbouring planes: {measured}) and this path cannot remove the jump, so voxels within "
        f"{margin} px of those faces would be resolved spuriously fine and were left out of the mask; "
        "compute in memory (a numpy array) to correct it instead.",
        record,
    )


# ----------------------------------------------------------------------------- masks
def _auto_mask(work, noise, grid, window_sigma, lags, P, run_view, workers, record=None) -> int | None:
    """Voxels whose window-averaged squared deviation from the background exceeds noise.

    ``g ⊛ (u - b)²`` (``b`` = mean of the noise region, ``g`` the Gaussian of
    ``window_sigma``) is compared with the upper ``MASK_SIGNIFICANCE`` quantile
    of its law for noise alone (a mean offset and texture both count as sample).
    The mask is written into ``run_view`` (0 inside, -1 outside). Without a noise
    region (``'highfreq'`` or a given ``sigma_noise``) the background level is
    unknown and nothing is written. Returns the number of mask voxels, or None
    when no mask was written.
    """
    if noise.baseline is None:
        return None
    null = _null_law(P, grid, noise, window_sigma, lags, workers, band=False)
    threshold = null.isf(MASK_SIGNIFICANCE)
    real = _real_view(P, grid.n_last)
    view = work[np.newaxis] if work.ndim == 2 else work
    for i in range(view.shape[0]):
        np.subtract(view[i], noise.baseline, out=real[i])
        np.square(real[i], out=real[i])
    energy = _smooth_in_place(P, grid, window_sigma, workers)
    if _kernels.HAVE_NUMBA:
        partial = np.zeros(_chunks(run_view.shape[0] * run_view.shape[1]), np.int64)
        _mark_numba(energy, threshold, run_view, partial)
        inside = int(partial.sum())
    else:  # pragma: no cover
        inside = _mark_numpy(energy, threshold, run_view)
    if inside == 0:
        warn_empty_auto_mask(record)
        run_view[...] = 0
        return None
    return inside


# ----------------------------------------------------------------------------- main
def local_resolution(
    vol: np.ndarray,
    *,
    pixel_size: float = 1.0,
    significance: float = 0.05,
    n_freq: int = 20,
    window_sigma: float = 7.0,
    mask: np.ndarray | None = None,
    noise_method: str = "corners",
    noise_mask: np.ndarray | None = None,
    sigma_noise: float | None = None,
    corner_fraction: float = 0.1,
    highfreq_fraction: float = 0.1,
    whiten: bool = False,
    fdr: bool = False,
    unit: str | None = None,
    workers: int | None = None,
    progress_bar: bool | None = None,
    compute: bool = False,
) -> LocalResolutionResult:
    """Local resolution of a single image or volume by a band-energy test against noise.

    Parameters
    ----------
    vol : ndarray or dask.array.Array
        2-D image or 3-D volume (``[slices, rows, cols]``), real. Integers are
        computed in float32, float32 stays float32, float64 stays float64. Not
        modified. A dask array (optional extra ``[dask]``) is processed chunk
        by chunk on the current scheduler or ``dask.distributed`` client and
        never gathered whole on the client (see Notes).
    pixel_size : float, optional
        Size of one pixel; ``resolution_map * pixel_size`` is in its unit.
    significance : float, optional
        Level ``α`` in (0, 0.5] of each one-sided band test (per voxel), or the
        false-discovery rate with ``fdr=True``. Noise alone obtains a resolution in
        about a fraction ``α`` of the voxels (less with ``fdr=True``).
    n_freq : int, optional
        Number of bands, centred on ``linspace(1/min(shape), 0.5, n_freq)``
        cycles/pixel, each a Gaussian of standard deviation 0.6 × the spacing.
    window_sigma : float, optional
        Standard deviation in pixels of the Gaussian window over which the band
        energy is averaged. Larger: a smoother map and a more sensitive test
        (more independent samples), but less local.
    mask : ndarray of bool or dask.array.Array, optional
        Sample region (non-zero = sample); the map is NaN outside. ``None``: an
        automatic mask, the voxels where the window-averaged squared deviation
        from the background level exceeds its noise-only ``1 - 1e-3`` quantile
        (Gaussian blur of ``window_sigma`` + threshold). It needs a noise region
        for the background level; with ``noise_method='highfreq'`` or a given
        ``sigma_noise`` the whole field of view is used (local tomography).
    noise_method : {'corners', 'highfreq', 'mask'}, optional
        Where the noise level comes from. ``'corners'``: boxes of
        ``corner_fraction`` of every edge in the 4 (2-D) or 8 (3-D) corners, which
        must hold unflattened solvent noise (warns when their variances disagree
        or are orders of magnitude below the rest of the map, refuses numerically
        flat corners). ``'highfreq'``: mean power above ``0.5 (1 - highfreq_fraction)``
        cycles/pixel; for maps filled with sample (local tomography), assuming
        white noise and no signal near Nyquist (warns when that power still
        falls, refuses a numerically empty tail). ``'mask'``: the voxels of
        ``noise_mask``, anywhere in the map. See Notes, checks of the noise model.
    noise_mask : ndarray of bool or dask.array.Array, optional
        Noise-only voxels for ``noise_method='mask'`` (ignored otherwise).
    sigma_noise : float, optional
        Known noise standard deviation (white noise); overrides ``noise_method``.
    corner_fraction : float, optional
        Corner box side as a fraction of each edge, in (0, 0.5).
    highfreq_fraction : float, optional
        Fraction of the frequency range below Nyquist used by ``'highfreq'``.
    whiten : bool, optional
        Coloured noise (filtered back-projection makes it ramp-shaped): estimate
        the noise power spectrum radially from the noise region (corners or
        ``noise_mask``) and use it in every band's null law, which amounts to
        whitening the map by that spectrum. Needs a noise region. Without it, a
        single ``σ²`` is assumed at every frequency, which for FBP noise
        overstates the significance of fine bands.
    fdr : bool, optional
        Replace the per-voxel level by Benjamini–Hochberg across the mask voxels
        of each band (false-discovery rate ``significance``): fewer spurious
        resolutions in empty regions of large maps, at some loss of sensitivity.
    unit : str, optional
        Name of the unit of ``pixel_size`` (e.g. ``'nm'``).
    workers : int, optional
        FFT threads; default all available cores. For dask inputs only the
        null laws, computed on the client, use them; each chunk task runs on
        one thread (the scheduler runs one task per thread).
    progress_bar : bool, optional
        Show a progress bar over the bands (default: when stderr is a terminal).
        Not drawn for dask inputs: watch the dashboard of a distributed
        client, or call inside ``with dask.diagnostics.ProgressBar():``.
    compute : bool, optional
        Dask inputs only. ``False`` (default): ``resolution_map`` (and an
        automatic ``mask``) are lazy dask arrays, to be stored (``to_zarr``)
        or computed in parts; computing the map repeats the band tests.
        ``True``: the map and the mask are computed in the same pass as the
        statistics and returned as numpy arrays (they must fit in memory).

    Returns
    -------
    LocalResolutionResult
        The map (full period, pixels), the mask, the bands, the noise model, the
        null law and threshold of every band and summary statistics.

    Raises
    ------
    ValueError
        A parameter out of range (the message names it), NaN/inf or constant
        values in ``vol``, a mask of the wrong shape or selecting nothing, a
        noise region of zero variance, numerically flat corners
        (``'corners'``) or a numerically empty high-frequency tail
        (``'highfreq'``).

    Warns
    -----
    ResolutionWarning
        A check of the noise model or of the automatic mask failed (see
        Notes); the sentences are also in the result's ``warnings``.
    TypeError
        ``vol`` is not a real array.
    ImportError
        ``vol`` is a dask array but dask is not installed
        (``pip install 'toupy-resolution[dask]'``).

    Notes
    -----
    The null law of the band energy accounts for the correlation of band-passed,
    window-averaged noise: with ``C_i = irfftn(S H_i²)`` the covariance of the
    band-passed noise and ``g`` the window, the energy has mean ``C_i(0)`` and
    variance ``2 Σ_Δ (g⋆g)(Δ) C_i(Δ)²``; its upper quantile is that of the
    gamma law with these moments (Satterthwaite), which stays accurate at coarse
    bands where the window holds few independent samples (measured on white
    noise at α = 0.05: 0.050–0.054 per band, the gamma tail being slightly
    light). Assuming instead ``(2 √π σ_w)^d`` independent samples per window
    ignores the correlation and lets noise pass 24–33 % of the time.

    An estimated noise level is uncertain (relative variance of the noise power
    ``2/(n - 1)`` for ``n`` noise voxels, ``2/K`` for ``K`` Fourier modes, per
    radial bin with ``whiten``); that variance, times the squared mean, is added
    to the null variance, so noise still passes at rate ``α`` on average over
    the estimate. Small noise regions therefore cost sensitivity: keep them at
    hundreds of voxels or more.

    Checks of the noise model. Every threshold below is the band test's null
    law only if the noise level is that of the map's noise; each estimator
    checks the assumption it rests on (the same functions, fed by per-chunk
    reductions, for dask arrays), records a failure in ``warnings`` and
    issues it as :class:`ResolutionWarning`:

    * ``'corners'``: the corner boxes must hold the map's solvent noise, not
      masked or flattened solvent (deposited cryo-EM maps are soft-masked).
      Their variance is compared with that of the *border* (voxels within
      the corner side of some faces but not a corner: the solvent nearest to
      the corners) and of the whole box. Under the model the border's variance
      equals the corners' (relative sampling error ``sqrt(2/n)``, below 0.2 for
      the smallest boxes) and the whole box's exceeds it only by the sample's
      variance: their ratio is ``1 + fill · SNR`` (``fill`` the sample's
      share of the box, ``SNR`` its power signal-to-noise ratio), and ``1e4``
      would need an amplitude SNR near 100 over the whole box. Corners
      quieter than ``1e-2`` of the border's variance or ``1e-4`` of the box's
      are warned of; a corner standard deviation below ``1e-5`` of the
      map's (numerically constant: what rounding of flattened solvent leaves)
      or exactly zero is refused. Use ``noise_method='mask'`` with a
      ``noise_mask`` of unflattened solvent, the unmasked map, or
      ``sigma_noise``. The corner variances must also agree within a factor
      2 (boxes of at least 64 voxels).
    * ``'highfreq'``: the tail must be flat, as white noise is. The shell
      means ``p_s`` of the power above ``0.5 (1 - highfreq_fraction)`` have,
      for white noise, relative variance ``2/K_s`` (``K_s`` full-FFT modes);
      the weighted least-squares slope of ``p_s`` against frequency is then
      ``N(0, 1)`` in units of its standard error (measured on white noise:
      mean within 0.06 of 0, sd 1.01–1.04 on 128²–256² maps, 0.8–0.86 on
      3-D maps, where it is conservative). A slope more than 5 standard errors
      below zero (false alarm 3e-7) together with an upper half of the tail
      holding less than 90 % of the power of its lower half means the power
      still falls: a band-limited, low-pass filtered or sharpened-then-filtered
      map, or signal up to Nyquist; the noise level is then too small and
      noise passes as signal. A tail power below ``1e-10`` of the map's
      variance (standard deviation ``1e-5``: round-off of a filter that is zero
      there) is refused. A rising tail (ramp-filtered FBP noise) makes the test
      conservative and is not warned of. The same corner check runs: a masked
      map's flattened solvent dilutes the tail's noise power by the masked
      fraction, which is warned of. Use the unfiltered, unmasked map (with the
      sample mask as ``mask=``), ``whiten=True`` with a noise region, or
      ``sigma_noise``.
    * automatic mask (``'corners'``): the corner boxes are noise by
      assumption, so they enter the mask at its false-alarm rate ``1e-3``
      (plus a window's width next to the sample). When more than half of
      the corner voxels are in the mask, the noise level does not describe
      the map (it is too small, e.g. flattened solvent with the sample's
      window spilling over it), which is warned of. An empty automatic mask
      is warned of as well (the whole field of view is then tested).

    Decision rule (D9): bands are tested from coarse to fine; the resolution of a
    voxel is ``1/f`` (full period, pixels) of the finest band of the unbroken
    run of passes that starts at the coarsest band, NaN if the coarsest band
    fails. Noise alone therefore gets a resolution in about a fraction
    ``significance`` of the voxels. The value 2 px (all bands pass) is an upper
    bound set by the sampling (``nyquist_fraction``). Detail confined to a
    narrow band with nothing coarser (a pure grating) is not resolved; maps
    whose spectra decay with frequency, as real reconstructions do, are.

    The coarsest bands are low-pass filters (the mean is removed): a region
    whose level differs from the map's mean, such as the background around a
    dense sample, carries energy there and gets a coarse resolution unless the
    mask excludes it (the automatic mask does). A band whose period is much
    longer than the window can also fail where the band-passed map crosses zero,
    leaving a few NaN voxels inside the sample; a larger ``window_sigma``
    reduces them.

    Maps that are not periodic. The FFT wraps the map around: where opposite
    faces do not match (a crop of a tomogram, a sample touching the border) the
    jump across them carries power up to Nyquist, and voxels within about
    ``4 window_sigma`` of those faces would pass every band (2 px). Each axis is
    therefore tested first: the mean squared jump from the last plane to the
    first is compared with the mean squared step between neighbouring planes,
    whose spread across the planes is the jump's sampling error (within-plane
    correlation included); a jump more than ``FACE_Z`` (8) of those standard
    deviations above the mean step is removed before band-passing by Moisan's
    periodic-plus-smooth decomposition restricted to those axes (the smooth
    component solves ``Δs = v`` for the boundary image ``v`` of the jumps, is
    harmonic away from the faces, and costs one extra FFT). The noise level of
    ``'highfreq'`` is measured after it; the corner boxes, the noise mask and
    the automatic mask use the map itself. Noise, solvent on the faces and
    periodic maps are not corrected (white noise and periodic blurred noise:
    z below 4.4 in 200 maps each; crops: z of 18 to 150), so the null law of
    noise alone is unchanged. ``face_jump_ratio`` and ``periodic_axes`` of the
    result report the test and what was removed. Dask arrays cannot be
    corrected chunk by chunk: they warn and leave the voxels within
    ``4 window_sigma`` of the flagged faces out of the mask.

    Memory: the input, its half spectrum and one work spectrum (about three
    times the input in float32) plus an ``int8`` counter; ``fdr=True`` adds
    temporary copies of the voxels that pass each band.

    **Dask arrays.** The global quantities are reduced from small per-chunk
    results: the finite/constant checks and the mean in one pass, the noise
    level from the corner boxes, from the ``noise_mask`` voxels, or
    (``'highfreq'``, and ``whiten`` with a ``noise_mask``) from the per-shell
    power of the whole map computed by the Dask FFT engine of
    :func:`fsc`; the size of the automatic mask in one more pass. The null
    laws are the in-memory ones, computed on the client from the band filter
    and the window on the global grid (maps above 2**24 voxels: on a grid
    that holds the lags of the window autocorrelation and the decay of the
    band correlation, at most ``2 (9.6 σ_w + 2 d_band) + 1`` per axis; measured
    against the global grid on 1024² and 256³ maps: thresholds within
    ``1e-3`` relative, means within ``3e-3`` null standard deviations).

    The band tests then run per chunk with ``dask.array.overlap`` (periodic
    boundaries, as the in-memory filters are periodic) of depth ``d_band +
    d_window``: ``d_band = ceil(4 / (2π σ_f))`` pixels, four widths of the
    Gaussian envelope of the band filter's impulse response (``σ_f`` the
    band width in cycles/pixel), and ``d_window = ceil(4 σ_w)``, four widths of
    the window; with the defaults 41 + 28 = 69 pixels. Each padded chunk is
    filtered, squared, smoothed and tested with the in-memory kernels after
    removing the global mean, and its interior is kept. Chunks shorter than
    twice the depth are merged with their neighbours, and an axis whose padded
    chunk would cover it is taken whole (that axis is then exact). Tolerance:
    the part of each filter beyond the depth is what a chunk misses. For the
    middle bands it is negligible (Gaussian tails: energies equal to
    ``1e-4`` of the null standard deviation). Two kinds of band have longer,
    algebraic tails: the finest ones, whose profile is cut by the border of
    the frequency cell, and the coarsest ones, whose Gaussian does not vanish
    at ``f = 0`` (``exp(-f_i² / (2 σ_f²)) > 1e-3``: the first two or three
    bands with the defaults) — a cone at the origin whose impulse response
    decays as ``r^-(d+1)``. On noise alone they change the energy by at most
    0.02–0.05 null standard deviations (measured on 512² and 96³–128³ maps),
    so the in-memory null law holds in every chunk and the pass rate of noise
    is unchanged; with signal the coarsest bands also carry differences of
    mean level farther than ``d_band`` (a sample on a background), which
    changes their energy by up to 5 % (filled maps) or 20 % (next to a sample
    edge). A decision changes only where an energy is that close to its
    threshold: measured, 0 to 3e-4 of the voxels get a different band with an
    automatic mask or a filled map at the defaults, up to 1.5e-3 with small
    windows and few, wide bands (``window_sigma=3, n_freq=8``); without a
    mask, around a sample on an empty background, the background voxels near
    its edge differ more often in the coarsest bands (2.8 % of a 256² map in
    that setting). Larger chunks, relative to the depth, need less overlap
    work; each task holds five to six times its padded chunk. With
    ``fdr=True`` the Benjamini–Hochberg threshold of each band is found
    exactly (for the chunked energies) without gathering them: per-chunk
    histograms of the energies above the per-voxel threshold, log-spaced in
    p-value, then a refinement of the one bin per band where the rule is
    undecided — one to three extra passes of the band tests.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.ndimage import gaussian_filter
    >>> from toupy.resolution import local_resolution
    >>> rng = np.random.default_rng(0)
    >>> obj = np.zeros((128, 128))
    >>> obj[32:96, 32:96] = gaussian_filter(rng.standard_normal((64, 64)), 1.5) * 10
    >>> res = local_resolution(obj + rng.standard_normal(obj.shape), window_sigma=4.0)
    >>> bool(2.0 <= res.resolution_median < 20.0)
    True

    The same band tests on a dask array, chunk by chunk (a lazy map):

    >>> import dask.array as da
    >>> image = np.zeros((256, 256))
    >>> image[64:192, 64:192] = gaussian_filter(rng.standard_normal((128, 128)), 1.5) * 10
    >>> image += rng.standard_normal(image.shape)
    >>> kw = dict(window_sigma=2.0, n_freq=8)
    >>> lazy = local_resolution(da.from_array(image, chunks=128), **kw)
    >>> type(lazy.resolution_map).__name__
    'Array'
    >>> ref = local_resolution(image, **kw)
    >>> same = np.isclose(lazy.resolution_map.compute(), ref.resolution_map, equal_nan=True)
    >>> bool(same.mean() > 0.999), lazy.resolution_median == ref.resolution_median
    (True, True)
    """
    volume, pixel_size, significance, n_freq, window_sigma, corner_fraction, highfreq_fraction, \
        sigma_noise = _validate(vol, pixel_size, significance, n_freq, window_sigma, noise_method,
                                corner_fraction, highfreq_fraction, sigma_noise)
    shape = volume.shape
    if is_dask_array(volume):
        require_dask()
        from ._localres_dask import dask_local_resolution

        return dask_local_resolution(
            volume, pixel_size=pixel_size, significance=significance, n_freq=n_freq,
            window_sigma=window_sigma, mask=mask, noise_method=noise_method, noise_mask=noise_mask,
            sigma_noise=sigma_noise, corner_fraction=corner_fraction, highfreq_fraction=highfreq_fraction,
            whiten=whiten, fdr=fdr, unit=unit, workers=workers, compute=compute,
            check_options=_check_noise_options,
        )
    sample_mask = None if mask is None else _check_bool_mask(mask, shape, "mask")
    if noise_mask is not None:
        noise_mask = _check_bool_mask(noise_mask, shape, "noise_mask")
    _check_noise_options(noise_method, noise_mask, sigma_noise, whiten)
    workers = workers or default_workers()

    work = _as_work(volume)
    _check_values(work)
    grid = _Grid(shape)
    lags = grid.window_autocorrelation(window_sigma)

    F = scipy.fft.rfftn(work, workers=workers)
    F[(0,) * F.ndim] = 0.0  # the mean is not local detail
    P = np.empty(grid.spectrum_shape, F.dtype)
    # the FFT wraps the map around: a jump across opposite faces would pass every band near them
    jumps = face_jump_test(face_steps(work))
    if jumps.axes:
        remove_face_jumps(work, F, P, grid, jumps.axes, workers)
    spectrum = F[np.newaxis] if F.ndim == 2 else F

    record: list[str] = []  # the failed checks, kept in the result
    if sigma_noise is None and noise_method in ("corners", "highfreq"):
        sides = _corner_boxes(shape, corner_fraction)[1]
        check_flat_corners(_map_region_moments(work, sides), noise_method, record)
    if sigma_noise is not None:
        noise = _NoiseModel(sigma_noise, "given")
    elif noise_method == "corners":
        noise = _noise_from_corners(work, corner_fraction, whiten, record)
    elif noise_method == "mask":
        noise = _noise_from_mask(work, noise_mask, whiten, P, grid, workers)
    else:
        noise = _noise_from_highfreq(F, grid, highfreq_fraction, record)

    # run[x] = -1 outside the mask, else the number of bands passed in a row from the coarsest
    run = np.zeros(shape, np.int8 if n_freq < 127 else np.int16)
    run_view = run[np.newaxis] if run.ndim == 2 else run
    if sample_mask is not None:
        np.subtract(sample_mask.view(np.int8), 1, out=run, casting="unsafe")
        n_mask, mask_source = int(np.count_nonzero(sample_mask)), "given"
    else:
        n_mask = _auto_mask(work, noise, grid, window_sigma, lags, P, run_view, workers, record)
        n_mask, mask_source = (n_mask, "automatic") if n_mask else (run.size, "field of view")
        if mask_source == "automatic" and noise.method == "corners":
            sides = _corner_boxes(shape, corner_fraction)[1]
            in_corners = corner_count(run >= 0, (0,) * run.ndim, shape, sides)
            check_auto_mask(n_mask, in_corners, run.size, noise, record)

    bands, band_sigma, inv2var = _band_centres(shape, n_freq)
    nulls, thresholds = [], np.empty(n_freq)
    pass_fraction, run_fraction = np.empty(n_freq), np.empty(n_freq)
    f0sq, f1sq, f2sq = grid.fsq

    for i in progress(range(n_freq), total=n_freq, desc="LocalResolution bands", enabled=progress_bar):
        null = _null_law(P, grid, noise, window_sigma, lags, workers, fc=bands[i], inv2var=inv2var)
        nulls.append(null)
        if _kernels.HAVE_NUMBA:
            _fill_band_numba(spectrum, P, f0sq, f1sq, f2sq, bands[i], inv2var)
        else:  # pragma: no cover
            _fill_band_numpy(spectrum, P, f0sq, f1sq, f2sq, bands[i], inv2var)
        real = _inverse_in_place(P, grid.n_last, workers)
        for j in range(real.shape[0]):
            np.square(real[j], out=real[j])
        energy = _smooth_in_place(P, grid, window_sigma, workers)
        threshold = null.isf(significance)
        if fdr:
            threshold = _bh_threshold(energy, run_view, null, significance, threshold, n_mask)
        thresholds[i] = threshold
        if _kernels.HAVE_NUMBA:
            partial = np.zeros((_chunks(run_view.shape[0] * run_view.shape[1]), 2), np.int64)
            _update_run_numba(energy, run_view, i, threshold, partial)
            passed, alive = (int(v) for v in partial.sum(axis=0))
        else:  # pragma: no cover
            passed, alive = _update_run_numpy(energy, run_view, i, threshold)
        pass_fraction[i] = passed / n_mask
        run_fraction[i] = alive / n_mask
    del P, F, spectrum, energy, real

    dtype = work.dtype
    table = _value_table(bands, dtype)
    resolution_map = np.empty(shape, dtype)
    out_view = resolution_map[np.newaxis] if resolution_map.ndim == 2 else resolution_map
    if _kernels.HAVE_NUMBA:
        _finalise_numba(run_view, table, out_view)
        partial = np.zeros((_chunks(run_view.shape[0] * run_view.shape[1]), n_freq + 2), np.int64)
        _histogram_numba(run_view, partial)
        histogram = partial.sum(axis=0)
    else:  # pragma: no cover
        _finalise_numpy(run_view, table, out_view)
        histogram = _histogram_numpy(run_view, n_freq + 2)
    if sample_mask is None:
        sample_mask = run >= 0
    del run, run_view
    return _make_result(
        resolution_map, sample_mask, bands, band_sigma, noise, mask_source, n_mask, nulls, thresholds,
        pass_fraction, run_fraction, histogram, significance=significance, fdr=fdr,
        window_sigma=window_sigma, whiten=whiten, pixel_size=pixel_size, unit=unit, shape=shape,
        warnings=record, face_jumps=jumps, periodic_axes=jumps.axes,
    )


def _band_centres(shape, n_freq: int) -> tuple[np.ndarray, float, float]:
    """Band centres (cycles/pixel), their Gaussian standard deviation and ``1 / (2 σ_f²)``."""
    bands = np.linspace(1.0 / min(shape), 0.5, n_freq)
    band_sigma = BAND_WIDTH_FACTOR * (bands[1] - bands[0])
    return bands, float(band_sigma), 1.0 / (2.0 * band_sigma**2)


def _value_table(bands: np.ndarray, dtype) -> np.ndarray:
    """Map value of each run length + 1: NaN outside the mask (-1) and for run 0, then ``1/f``."""
    table = np.empty(bands.size + 2, dtype)
    table[0] = table[1] = np.nan  # run -1 (outside the mask) and 0 (coarsest band failed)
    table[2:] = 1.0 / bands
    return table


def _make_result(resolution_map, sample_mask, bands, band_sigma, noise, mask_source, n_mask, nulls,
                 thresholds, pass_fraction, run_fraction, histogram, *, significance, fdr, window_sigma,
                 whiten, pixel_size, unit, shape, warnings=(), face_jumps=None,
                 periodic_axes=()) -> LocalResolutionResult:
    """The result from the map, the per-band counts and the histogram of run lengths.

    ``histogram[r + 1]`` counts the voxels whose run is ``r`` (-1 outside the
    mask), so the map statistics are exact without reading the map again.
    """
    n_resolved = n_mask * run_fraction[0]
    nyquist = run_fraction[-1] * n_mask / n_resolved if n_resolved > 0 else float("nan")
    stats = _histogram_statistics(1.0 / bands, np.asarray(histogram)[2:])
    return LocalResolutionResult(
        resolution_map=resolution_map,
        mask=sample_mask,
        freq_bands=bands,
        band_sigma=float(band_sigma),
        sigma_noise=noise.sigma,
        noise_method=noise.method,
        noise_spectrum=noise.profile,
        noise_power_rel_var=noise.rel_var if noise.profile is None else noise.band_rel_var(0.0, 0.0, False),
        mask_source=mask_source,
        null_mean=np.array([n.mean for n in nulls]),
        null_std=np.array([math.sqrt(n.var) for n in nulls]),
        null_shape=np.array([n.shape for n in nulls]),
        null_scale=np.array([n.scale for n in nulls]),
        thresholds=np.asarray(thresholds, np.float64),
        band_pass_fraction=np.asarray(pass_fraction, np.float64),
        band_run_fraction=np.asarray(run_fraction, np.float64),
        resolved_fraction=float(run_fraction[0]),
        nyquist_fraction=float(nyquist),
        **stats,
        significance=significance,
        fdr=bool(fdr),
        n_freq=int(bands.size),
        window_sigma=window_sigma,
        whiten=bool(whiten),
        pixel_size=pixel_size,
        unit=length_unit(pixel_size, unit),
        shape=tuple(shape),
        warnings=tuple(warnings),
        face_jump_ratio=() if face_jumps is None else tuple(float(r) for r in face_jumps.ratio),
        periodic_axes=tuple(int(a) for a in periodic_axes),
    )


def _histogram_statistics(values: np.ndarray, counts: np.ndarray) -> dict:
    """:func:`map_statistics` of a map holding ``values[b]`` in ``counts[b]`` voxels.

    The map takes only ``n_freq`` values, so its median, mean and standard
    deviation follow exactly from the count of each value, without copying the
    map (which :func:`map_statistics` would do in float64).
    """
    counts = np.asarray(counts, np.int64)
    values = np.asarray(values, np.float64)
    n = int(counts.sum())
    if n == 0:
        return map_statistics(np.array([np.nan]))
    order = np.argsort(values)
    v, c = values[order], counts[order]
    upper = np.cumsum(c)

    def kth(k):  # k-th smallest value, 0-based
        return v[np.searchsorted(upper, k + 1)]

    median = kth(n // 2) if n % 2 else 0.5 * (kth(n // 2 - 1) + kth(n // 2))
    mean = float(np.dot(c, v) / n)
    std = math.sqrt(float(np.dot(c, (v - mean) ** 2) / n))
    median = float(median)
    return {
        "resolution_median": median, "resolution_mean": mean, "resolution_std": std,
        "resolution_median_half": median / 2.0, "resolution_mean_half": mean / 2.0,
        "resolution_std_half": std / 2.0,
    }


def _bh_threshold(energy, run_view, null: _Null, alpha: float, t_alpha: float, n_tests: int) -> float:
    """Benjamini–Hochberg energy threshold over the mask voxels of one band.

    p-values are the gamma upper tail of the energy; only voxels with ``p <= α``
    (energy above the per-voxel threshold) can be discoveries, so only those
    are sorted. Returns the smallest discovered energy (just below it, so that
    ``energy > threshold`` selects it), or ``inf`` without discoveries.
    """
    if not math.isfinite(t_alpha):
        return math.inf
    candidates = energy[(energy > t_alpha) & (run_view >= 0)]
    if candidates.size == 0:
        return math.inf
    candidates = np.sort(candidates.astype(np.float64))[::-1]
    p = null.sf(candidates)
    ranks = np.arange(1, candidates.size + 1)
    ok = np.flatnonzero(p <= ranks * (alpha / n_tests))
    if ok.size == 0:
        return math.inf
    return float(np.nextafter(candidates[ok[-1]], -np.inf))
