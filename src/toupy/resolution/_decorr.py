"""Single-image resolution by decorrelation analysis (Descloux et al. 2019).

The published method (decision D10, ``ALGORITHMS.md`` §6), following the
authors' MATLAB code ImDecorr v1.1.8 (``getDcorr.m``, ``getCorrcoef.m``,
``getDcorrLocalMax.m``, ``apodImRect.m``) step by step:

1. edge apodisation of the whole image with a sine ramp over the outer
   ``apod_width`` pixels, the image mean added back (``apodImRect``);
2. crop to odd sizes (``getDcorr`` drops the last row/column of an even
   axis *after* the taper); normalised frequency ``R`` (``R = 1`` on the
   axes' largest frequency);
3. spectrum ``F`` (its DC term, the image mean, included) and its phase
   ``F/|F|``, both restricted to ``R < 1``;
4. decorrelation curves ``d(r) = Σ_{R<r} Re(F_g·conj(F/|F|)) /
   (‖F_g‖·‖(F/|F|)[R<r]‖)`` for the unfiltered spectrum (``g`` = none) and
   for Gaussian high-pass filtered spectra ``F_g = F·(1 − exp(−2g²R²))``,
   each value floored to a multiple of 1e-3 as in the reference;
5. the first local maximum of each curve (the reference's peak rule);
6. one refinement pass of the high-pass ladder and of the radius sampling
   around the highest peak;
7. ``kcMax`` = highest peak position over all curves whose amplitude is at
   least ``min_peak_amplitude``; resolution ``2/kcMax`` pixels (full period).

Two checks of the method's premises follow (``DESIGN.md`` §8): the spread of
``kcMax`` when ``apod_width`` changes by a few pixels (the 1e-3 quantisation
of flat-topped curves makes the peak position jump; ImDecorr jumps alike),
and the trend of the noise power near Nyquist (the method assumes white
noise; a detector's MTF or any filtering makes the power fall, and ``kc``
then follows that filter rather than the object).

Because ``Re(F_g·conj(F/|F|)) = h_g(R)·|F|``, every curve depends on the image
only through ``|F|`` and ``R``. The spectrum is therefore reduced once to a
radial table (one row per distinct radius: ``Σ|F|``, ``Σ|F|²`` and the number
of non-zero coefficients, summed over the ``rfft`` half-plane and the
Hermitian mirrors), and each curve is a weighted cumulative sum over that
table: one FFT per image, no per-radius pixel masks. The radii are the
floating-point ``R.^2`` of ``getDcorr.m`` on Octave's ``linspace`` (as are the
radius grids and filter ladders), so that a pixel lying exactly on a grid
radius is counted as the reference counts it; the numbers then equal
ImDecorr's to the last bit of the kcMax grid except where the reference's
single-precision round-off moves a value of a flat-topped curve across a
1e-3 step (``kc_spread`` shows how large such jumps are).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from ._checks import warn_assumption
from ._correlation import default_workers
from ._dask import is_dask_array, require_dask
from ._progress import progress
from ._results import jsonable, length_unit
from ._validate import as_image, check_pixel_size, check_positive_int, work_dtype

__all__ = [
    "DecorrResult",
    "decorrelation_resolution",
    "sine_ramp_profile",
    "slice_indices",
    "local_max",
]

#: Curve values are floored to multiples of this (``getCorrcoef.m``).
QUANTUM = 1e-3
#: A maximum is a peak when the curve falls by at least this much after it
#: (``getDcorrLocalMax.m``); with the 1e-3 quantum it means "one step".
PROMINENCE = 5e-4
#: Smallest ``n_r`` (the reference silently raises smaller values to 30).
MIN_N_R = 30
#: Smallest ``n_g`` (the reference silently raises smaller values to 5).
MIN_N_G = 5
#: Smallest axis length analysed.
MIN_SIZE = 16
#: Power ratio (outer band / middle band) above which the noise is called
#: coloured: white noise gives ~1, signal only lowers it, FBP noise ~1.27.
COLOURED_NOISE_RATIO = 1.15
#: Power ratio below which the power is called falling towards Nyquist: a
#: pixel's sinc MTF alone gives 0.73, a sinc times a 0.6-px Gaussian 0.42.
FALLING_NOISE_RATIO = 0.85
#: Standard errors of the white-noise ratio a power trend must exceed.
NOISE_TREND_SE = 4.0
#: Largest (odd) axis length of the central part whose noise trend is measured.
NOISE_TREND_SIZE = 1023
#: Default half-range in pixels of the ``apod_width`` values of ``kc_spread``.
SPREAD_PX = 2


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class DecorrResult:
    """Decorrelation analysis of one image, or summary over slices of a volume.

    Frequencies come in two units: the normalised frequency ``k`` of the
    paper (0 to 1, 1 = the largest frequency on the image axes, i.e. Nyquist)
    and cycles/pixel (``k/2``). Resolutions are full periods
    (``2/kcMax`` pixels, the convention of Descloux et al.); the half
    periods are given by the ``*_half*`` properties.

    For a volume the curves and peaks (``k0``, ``r_values``, ``A``,
    ``first_pass_*``, ``refined_*``, ``candidate_*``, ``accepted``,
    ``analysed_shape``) are those of the last analysed slice (highest index),
    as toupy documents; every slice's own result is in ``slices``.

    Attributes
    ----------
    kc_max : float
        Highest accepted peak position, normalised frequency (0 when no peak
        is accepted). For a volume: ``2 r_res`` (median over slices).
    r_res : float
        ``kc_max / 2`` in cycles/pixel; NaN when no peak is accepted. For a
        volume: ``1 / resolution_px``.
    resolution_px : float
        Full-period resolution ``2 / kc_max`` in pixels (NaN without a peak).
        For a volume: median of the finite per-slice values.
    resolution : float
        ``pixel_size * resolution_px`` in ``unit``.
    A0 : float
        Amplitude of the peak of the unfiltered curve: the paper's image SNR
        proxy (``E|F| / sqrt(E|F|²)`` of the signal band; ``sqrt(pi)/2`` for
        noise-free Gaussian signal). For a volume: median over slices.
    k0 : float
        Position of the unfiltered peak (normalised frequency, 0 if none).
    r_values : ndarray
        Frequencies of ``A`` in cycles/pixel (``linspace(0, 0.5, n_r)``).
    A : ndarray
        The unfiltered decorrelation curve ``d0(r)`` (each value a multiple
        of 1e-3). For a volume: the last analysed slice (highest index).
    first_pass_g, first_pass_curves : ndarray
        The ``n_g + 1`` high-pass widths ``g`` (the filter is
        ``1 − exp(−2 g² R²)``, a Gaussian of σ = ``2g/π`` pixels subtracted in
        real space) and their curves on the grid of ``A``.
    first_pass_k, first_pass_A : ndarray
        Peak position (normalised) and amplitude of each first-pass curve.
    refined_g, refined_k_grid, refined_curves, refined_k, refined_A : ndarray
        The same for the refinement pass (``n_g`` filters on a finer radius
        grid ``refined_k_grid``, normalised frequency).
    candidate_k, candidate_A, accepted : ndarray
        The pooled peaks as ImDecorr pools them (unfiltered, first pass
        except its last filter, refinement, unfiltered again) and whether
        each passed ``A >= min_peak_amplitude``.
    hf_power_ratio : float
        Spectral power for ``0.9 <= R < 1`` over that for ``0.7 <= R < 0.8``
        (medians over the radii of each band of the mean ``|F|²``). About 1
        for white noise; above 1 means noise that rises towards Nyquist
        (about 1.27 for the ``|k|`` noise power of filtered back-projection);
        below 1 means power that falls towards Nyquist: noise filtered by a
        detector's MTF, interpolation or smoothing (then ``kc`` follows that
        filter, not the object), or signal that reaches Nyquist with no
        white noise floor left to find. Both violate the method's premise.
        For a volume: median over slices.
    coloured_noise : bool
        ``hf_power_ratio`` is above 1.15 or below 0.85, beyond 3 standard
        errors of its white-noise value 1 (a warning was issued). For a
        volume: in any slice.
    kc_spread : float
        ``max − min`` of ``kcMax`` over ``apod_width − spread_px`` …
        ``apod_width + spread_px`` (the widths in ``spread_apod_widths``,
        their ``kcMax`` in ``spread_kc_max``): how much the answer owes to
        the 1e-3 quantisation of flat-topped curves. A warning is issued
        when it exceeds one step of ``refined_k_grid``. NaN when not
        measured (``spread_px = 0`` or ``apod_width = 0``). For a volume:
        the largest over slices.
    spread_apod_widths, spread_kc_max : ndarray
        The apodisation widths tried for ``kc_spread`` and their ``kcMax``.
    warnings : tuple of str
        Every assumption warning issued for this result (also in
        :meth:`to_dict`).
    n_r, n_g, g_min, min_peak_amplitude, apod_width, pixel_size, unit
        The parameters used (``unit`` labels every physical length).
    keep_mean, crop_first, spread_px
        The preparation options used (see
        :func:`decorrelation_resolution`).
    shape : tuple
        Shape of the input (image or volume).
    analysed_shape : tuple
        Shape of each analysed 2-D image after cropping to odd sizes.
    axis, slice_indices, slices
        For a volume: the slicing axis, the analysed slice indices and the
        per-slice results (each a 2-D :class:`DecorrResult`); None in 2-D.
    resolutions_px : ndarray or None
        Per-slice full-period resolutions in pixels (NaN where no peak).
    resolution_px_mean, resolution_px_median, resolution_px_std : float or None
        Mean, median and standard deviation (``ddof=0``) of the finite
        per-slice resolutions in pixels; None in 2-D.
    """

    kc_max: float
    r_res: float
    resolution_px: float
    resolution: float
    A0: float
    k0: float
    r_values: np.ndarray
    A: np.ndarray
    first_pass_g: np.ndarray
    first_pass_curves: np.ndarray
    first_pass_k: np.ndarray
    first_pass_A: np.ndarray
    refined_g: np.ndarray
    refined_k_grid: np.ndarray
    refined_curves: np.ndarray
    refined_k: np.ndarray
    refined_A: np.ndarray
    candidate_k: np.ndarray
    candidate_A: np.ndarray
    accepted: np.ndarray
    hf_power_ratio: float
    coloured_noise: bool
    n_r: int
    n_g: int
    g_min: float
    min_peak_amplitude: float
    apod_width: int
    pixel_size: float
    unit: str
    shape: tuple
    analysed_shape: tuple
    axis: int | None = None
    slice_indices: np.ndarray | None = None
    slices: tuple | None = None
    resolutions_px: np.ndarray | None = None
    resolution_px_mean: float | None = None
    resolution_px_median: float | None = None
    resolution_px_std: float | None = None
    kc_spread: float = float("nan")
    spread_apod_widths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    spread_kc_max: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keep_mean: bool = True
    crop_first: bool = False
    spread_px: int = SPREAD_PX
    warnings: tuple = ()
    extras: dict = field(default_factory=dict)

    # -- derived quantities ----------------------------------------------------
    @property
    def d(self) -> np.ndarray:
        """``1 − A``, the decorrelation as toupy names it."""
        return 1.0 - self.A

    @property
    def k_values(self) -> np.ndarray:
        """Normalised frequencies of ``A`` (``2 r_values``; 1 = Nyquist)."""
        return 2.0 * self.r_values

    @property
    def is_volume(self) -> bool:
        """Whether this is the summary of the slices of a 3-D input."""
        return self.slices is not None

    @property
    def resolved(self) -> bool:
        """Whether a resolution was found (a finite ``resolution_px``)."""
        return bool(np.isfinite(self.resolution_px))

    @property
    def resolution_half_px(self) -> float:
        """Half-period resolution in pixels (``resolution_px / 2``)."""
        return self.resolution_px / 2.0

    @property
    def resolution_half(self) -> float:
        """Half-period resolution in ``unit`` (``resolution / 2``)."""
        return self.resolution / 2.0

    # -- reporting -----------------------------------------------------------
    def summary(self) -> str:
        """One line: resolution (full and half period), kcMax and A0."""
        pixel = "" if self.unit == "px" else f", pixel {self.pixel_size:g} {self.unit}"
        if self.is_volume:
            n = len(self.slices)
            finite = int(np.isfinite(self.resolutions_px).sum())
            if finite == 0:
                return f"decorrelation resolution: none in any of {n} slices along axis {self.axis}"
            return (
                f"decorrelation resolution (median of {finite}/{n} slices along axis {self.axis}): "
                f"{self.resolution:.4g} {self.unit} full period, {self.resolution_half:.4g} {self.unit} "
                f"half period; {self.resolution_px_median:.4g} ± {self.resolution_px_std:.2g} px "
                f"(mean {self.resolution_px_mean:.4g} px), median A0 {self.A0:.3f}{pixel}"
            )
        if not self.resolved:
            return (
                f"decorrelation resolution: none (no peak with amplitude >= "
                f"{self.min_peak_amplitude:g}); A0 {self.A0:.3f}"
            )
        return (
            f"decorrelation resolution: {self.resolution:.4g} {self.unit} full period, "
            f"{self.resolution_half:.4g} {self.unit} half period "
            f"(kcMax {self.kc_max:.4f} of Nyquist = {self.r_res:.4f} cycles/pixel, A0 {self.A0:.3f}{pixel})"
        )

    def to_dict(self) -> dict:
        """All fields as JSON-safe Python objects (NaN becomes None)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "slices" and value is not None:
                value = [s.to_dict() for s in value]
            out[f.name] = value
        out["d"] = self.d
        out["resolution_half_px"] = self.resolution_half_px
        out["resolution_half"] = self.resolution_half
        out["units"] = {
            "kc_max": "normalised frequency (1 = Nyquist)",
            "k0": "normalised frequency (1 = Nyquist)",
            "r_values": "cycles/pixel",
            "r_res": "cycles/pixel",
            "refined_k_grid": "normalised frequency (1 = Nyquist)",
            "candidate_k": "normalised frequency (1 = Nyquist)",
            "kc_spread": "normalised frequency (1 = Nyquist)",
            "spread_kc_max": "normalised frequency (1 = Nyquist)",
            "spread_apod_widths": "px",
            "resolution_px": "px (full period)",
            "resolution_half_px": "px (half period)",
            "resolution": f"{self.unit} (full period)",
            "resolution_half": f"{self.unit} (half period)",
            "first_pass_g": "normalised (filter 1 - exp(-2 g^2 R^2))",
        }
        return jsonable(out)

    def to_json(self, indent: int | None = 2) -> str:
        """The :meth:`to_dict` content as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def plot(self):
        """Draw the curves, the peaks and the resolution (and, for a volume,
        the histogram of per-slice resolutions); return the figure."""
        return plot_decorr(self)


# --------------------------------------------------------------------------- windows
def octave_linspace(start: float, stop: float, num: int) -> np.ndarray:
    """``linspace`` as GNU Octave computes it (7.x): from both ends towards the
    middle, ``start + i δ`` and ``stop − i δ``, the middle of an odd count
    exactly 0 for a symmetric range.

    ImDecorr's coordinates, radius grids and high-pass ladders are
    ``linspace`` values, and where a pixel radius equals a grid radius the
    last bit decides the comparison ``R.^2 < r^2``; numpy's ``linspace``
    (``start + i δ`` throughout) differs in that bit for most sizes.
    """
    out = np.empty(num)
    if num == 1:
        out[0] = stop
        return out
    out[0], out[-1] = start, stop
    delta = (stop - start) / (num - 1)
    i = np.arange(1, num // 2)
    out[i] = start + i * delta
    out[num - 1 - i] = stop - i * delta
    if num % 2:
        out[num // 2] = 0.0 if start == -stop else (start + stop) / 2
    return out


def sine_ramp_profile(n: int, width: int) -> np.ndarray:
    """ImDecorr's 1-D edge taper, ``(1 − cos(pi j/(width − 1)))/2`` for ``j < width``.

    Computed as ``apodImRect.m`` does (``sin`` of the ``linmap`` of the
    distance to the ramp's mean position on Octave's ``linspace``), so it
    equals the reference to the last bit, not only to round-off. Unlike
    :func:`._windows.tukey_profile` (raised cosine sampled at half-pixel
    offsets, never exactly 0 or 1), the ramp is exactly 0 on the edge pixel
    and exactly 1 on the ``width``-th pixel, so the periodic image has no
    jump at all at its borders. ``width = 1`` zeroes only the edge pixel
    (the reference's mask is NaN there).
    """
    if width <= 1:
        profile = np.ones(n)
        if width == 1:
            profile[[0, -1]] = 0.0
        return profile
    x = np.abs(octave_linspace(-n / 2, n / 2, n))
    ramp = x > n / 2 - width
    mean = np.cumsum(-x[ramp])[-1] / int(ramp.sum())  # Octave's mean: a sequential sum
    d = (-x - mean) * ramp
    lo, hi = d.min(), d.max()
    d = np.clip((d - lo) / (hi - lo), 0.0, 1.0) * np.pi - np.pi / 2  # linmap(d, -pi/2, pi/2)
    d[~ramp] = np.pi / 2
    return (np.sin(d) + 1) / 2


# --------------------------------------------------------------------------- radial table
@dataclass(frozen=True)
class _RadialTable:
    """The spectrum reduced to distinct radii ``0 < R < 1`` (sorted).

    ``s1 = Σ w|F|``, ``s2 = Σ w|F|²`` and ``count = Σ w [|F| > 0]`` over the
    coefficients of each radius, ``w`` the Hermitian weight, so that sums
    over the table equal sums over the full 2-D FFT without its DC term.
    """

    r2: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    count: np.ndarray

    def band_power(self, lo: float, hi: float) -> tuple[float, float]:
        """Median over the radii ``lo <= R < hi`` of the mean ``|F|²`` per
        coefficient, and its relative standard error for white noise.

        The median, unlike the mean, ignores the few huge coefficients of
        streaks and straight edges (spectra concentrated on lines). For
        white noise a radius with ``m`` independent coefficients (half its
        Hermitian-weighted count) has a mean power of relative spread
        ``1/sqrt(m)``, so the median over ``n`` radii has the relative
        standard error ``1.2533 sqrt(mean(1/m) / n)`` (within 10 % of the
        simulated spread from 64² to 512², square and rectangular).
        """
        keep = (self.r2 >= lo * lo) & (self.r2 < hi * hi) & (self.count > 0)
        n = int(keep.sum())
        if n == 0:
            return float("nan"), float("inf")
        independent = np.maximum(self.count[keep] / 2.0, 1.0)
        se = 1.2533 * math.sqrt(float(np.mean(1.0 / independent)) / n)
        return float(np.median(self.s2[keep] / self.count[keep])), se


@dataclass(frozen=True)
class _Grouping:
    """Which ``rfft2`` coefficients of an odd image share a radius, as ImDecorr compares radii.

    ``getDcorr.m`` puts a coefficient in the disc ``R < r`` by the test
    ``R.^2 < r^2`` on ``R = sqrt(X.^2 + Y.^2)`` built from ``linspace(-1, 1, n)``
    in double precision. Where an exact pixel radius equals a grid radius
    (e.g. ``R = m/99`` on the axis of a 199-row image against ``r = j/99``)
    that round-off decides, so the radii are these floating-point values,
    one group per distinct value, each coefficient and its Hermitian mirror
    (which may round differently) placed separately.
    """

    index: np.ndarray  # flat indices into the rfft half-plane (DC excluded)
    group: np.ndarray  # radius group of each entry (groups sorted by radius)
    weight: np.ndarray  # 2 where a coefficient and its mirror share the group, else 1
    r2: np.ndarray  # R^2 of each group, as the reference computes it
    count: np.ndarray  # number of full-plane coefficients per group
    dc_r2: float  # the reference's R^2 of the DC term (0 up to round-off)


def _reference_r2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``R.^2`` of ``getDcorr.m`` on coordinate vectors (``R = sqrt(X.^2 + Y.^2)``)."""
    return np.square(np.sqrt(np.square(y)[:, None] + np.square(x)[None, :]))


@functools.lru_cache(maxsize=8)
def _grouping(nr: int, nc: int) -> _Grouping:
    """Radius groups of an odd ``nr`` x ``nc`` image's ``rfft2`` half-plane (see :class:`_Grouping`)."""
    half_r, half_c = (nr - 1) // 2, (nc - 1) // 2
    mc = half_c + 1  # rfft columns; none of them is a Nyquist column (nc is odd)
    x, y = octave_linspace(-1.0, 1.0, nc), octave_linspace(-1.0, 1.0, nr)
    my = np.arange(nr)
    my = np.where(my <= half_r, my, my - nr)  # row frequency of each rfft row
    mx = np.arange(mc)
    # positions in the centred (fftshift) grid of each coefficient and of its mirror
    own = _reference_r2(y[my + half_r], x[mx + half_c]).ravel()
    mirror = _reference_r2(y[half_r - my], x[half_c - mx]).ravel()
    own_in = own < 1.0
    mirror_in = (mirror < 1.0) & np.tile(mx > 0, nr)  # column 0's mirror is itself an rfft coefficient
    own_in[0] = mirror_in[0] = False  # the DC term is added by the caller when kept
    paired = own_in & mirror_in & (own == mirror)
    alone = mirror_in & ~paired
    index = np.concatenate((np.flatnonzero(own_in), np.flatnonzero(alone)))
    r2 = np.concatenate((own[own_in], mirror[alone]))
    weight = np.concatenate((np.where(paired[own_in], 2.0, 1.0), np.ones(int(alone.sum()))))
    unique, group = np.unique(r2, return_inverse=True)
    order = np.argsort(index, kind="stable")  # gather the spectrum in memory order
    return _Grouping(
        index=index[order], group=group[order], weight=weight[order], r2=unique,
        count=np.bincount(group, weights=weight, minlength=unique.size),
        dc_r2=float(_reference_r2(y[half_r:half_r + 1], x[half_c:half_c + 1])[0, 0]),
    )


def _radial_table(image: np.ndarray, workers: int | None, dc_offset: float | None) -> _RadialTable:
    """Radial table of an odd-sized, apodised 2-D image.

    ``dc_offset`` is added to the DC coefficient, which then heads the table
    at ``R = 0`` (ImDecorr keeps it: the image mean, taken out before the
    taper for precision, goes back there); None leaves the DC term out.
    """
    return _spectrum_radial_table(scipy.fft.rfft2(image, workers=workers), image.shape, dc_offset)


def _spectrum_radial_table(spectrum: np.ndarray, shape: tuple, dc_offset: float | None) -> _RadialTable:
    """Radial table of the ``rfft2`` half-plane ``spectrum`` of an odd ``shape`` image."""
    geometry = _grouping(*shape)
    dc = abs(complex(spectrum[0, 0]) + dc_offset) if dc_offset is not None else None
    mag = np.abs(spectrum).ravel()[geometry.index]
    del spectrum

    def grouped(values: np.ndarray) -> np.ndarray:
        return np.bincount(geometry.group, weights=values * geometry.weight, minlength=geometry.r2.size)

    count = geometry.count
    if not np.all(mag):  # exact zeros have no phase: the reference leaves them out of the count
        count = count - grouped((mag == 0).astype(np.float64))
    table = _RadialTable(r2=geometry.r2, s1=grouped(mag.astype(np.float64)),
                         s2=grouped(np.square(mag, dtype=np.float64)), count=count)
    if dc is None:
        return table
    return _RadialTable(
        r2=np.concatenate(([geometry.dc_r2], table.r2)), s1=np.concatenate(([dc], table.s1)),
        s2=np.concatenate(([dc * dc], table.s2)), count=np.concatenate(([float(dc > 0)], table.count)),
    )


#: Bound on the elements of the (filters x radii) work arrays of one chunk.
_CHUNK_ELEMENTS = 1 << 22


def _curves(table: _RadialTable, k_grid: np.ndarray, gs: list[float | None]) -> np.ndarray:
    """Decorrelation curves on ``k_grid``, one row per high-pass width in ``gs``.

    ``g = None`` is the unfiltered curve; otherwise the spectrum is weighted by
    ``h = 1 − exp(−2 g² R²)``. Row ``i`` holds
    ``Σ_{R<r} h|F| / (sqrt(Σ_{R<1} h²|F|²) sqrt(#{R<r, F ≠ 0}))``, floored to
    1e-3; an empty disc or a filter without power gives 0, as in the reference.
    """
    inside = np.searchsorted(table.r2, k_grid * k_grid, side="left")  # radii with R < r
    counts = np.concatenate(([0.0], np.cumsum(table.count)))[inside]
    out = np.empty((len(gs), k_grid.size))
    step = max(1, _CHUNK_ELEMENTS // max(table.r2.size, 1))
    for lo in range(0, len(gs), step):
        chunk = gs[lo: lo + step]
        h = np.ones((len(chunk), table.r2.size))
        for row, g in enumerate(chunk):
            if g is not None:
                np.multiply(table.r2, -2.0 * g * g, out=h[row])
                np.expm1(h[row], out=h[row])
                np.negative(h[row], out=h[row])
        # a plain sum, not BLAS: OpenBLAS's own thread pool oversubscribes the
        # cores when slices run in parallel threads (measured 8x slower)
        norm = np.sqrt(np.sum(np.square(h) * table.s2, axis=1))
        h *= table.s1
        cumulative = np.cumsum(h, axis=1)
        numerator = np.concatenate((np.zeros((len(chunk), 1)), cumulative), axis=1)[:, inside]
        with np.errstate(invalid="ignore", divide="ignore"):
            values = numerator / (norm[:, None] * np.sqrt(counts)[None, :])
        out[lo: lo + len(chunk)] = np.where(np.isfinite(values), values, 0.0)
    # floor(1000 cc)/1000 exactly as getCorrcoef.m (cc/1e-3 rounds differently)
    return np.floor(out * (1.0 / QUANTUM)) / (1.0 / QUANTUM)


def _curve(table: _RadialTable, k_grid: np.ndarray, g: float | None) -> np.ndarray:
    """One decorrelation curve (see :func:`_curves`)."""
    return _curves(table, k_grid, [g])[0]


def local_max(curve: np.ndarray) -> tuple[int, float]:
    """Index and amplitude of the peak of a decorrelation curve.

    ImDecorr's rule (``getDcorrLocalMax.m``): take the first global maximum;
    while it is the last sample, or it is interior but the curve after it
    never falls by ``PROMINENCE``, drop the last sample and retry; stop when
    the maximum is at index 0 (no peak: the caller reads position ``k[0]``).
    """
    values = np.asarray(curve, dtype=np.float64)
    end = values.size
    if end < 2:
        return 0, float(values[0])
    index = int(np.argmax(values[:end]))
    while end > 1:
        if index == end - 1:
            end -= 1
        elif index == 0:
            break
        elif values[index] - values[index:end].min() >= PROMINENCE:
            break
        else:
            end -= 1
        index = int(np.argmax(values[:end]))
    return index, float(values[index])


# --------------------------------------------------------------------------- one image
@dataclass(frozen=True)
class _Preparation:
    """How the image is prepared for its spectrum (see :func:`_prepare`)."""

    apod_width: int
    keep_mean: bool
    crop_first: bool


def _odd_crop(shape: tuple) -> tuple[slice, slice]:
    """The leading odd-sized part of each axis (ImDecorr drops an even axis' last pixel)."""
    return tuple(slice(0, n - (1 - n % 2)) for n in shape)


def _prepare(image: np.ndarray, how: _Preparation, dtype: np.dtype) -> tuple[np.ndarray, float | None]:
    """The odd-sized, tapered, zero-mean image and the offset of its DC term.

    By default as ImDecorr: ``apodImRect`` tapers the whole image around its
    plain mean and adds the mean back, then ``getDcorr`` crops to odd sizes,
    so an even axis keeps a border one pixel short of 0 and the mean stays in
    the DC term. The mean is subtracted here and returned as the DC offset
    (``mean × pixels``) so the FFT works on small numbers. ``crop_first``
    crops before tapering (both borders reach 0); ``keep_mean=False``
    subtracts the taper-weighted mean instead (no taper blob at low
    frequency) and drops the DC term (offset None).
    """
    crop = _odd_crop(image.shape)
    region = image[crop] if how.crop_first else image
    rows, cols = (sine_ramp_profile(n, how.apod_width) for n in region.shape)
    rows, cols = rows[: crop[0].stop], cols[: crop[1].stop]
    out = image[crop].astype(dtype, copy=True)
    if how.keep_mean:
        mean = float(np.mean(region, dtype=np.float64))
    else:
        # sums rather than BLAS products (see _curves), accumulated in float64
        weighted = np.sum(out * cols.astype(dtype)[None, :], axis=1, dtype=np.float64)
        mean = float(np.sum(rows * weighted)) / (rows.sum() * cols.sum())
    out -= dtype.type(mean)
    if how.apod_width > 0:
        out *= rows.astype(dtype)[:, None]
        out *= cols.astype(dtype)[None, :]
    return out, (mean * out.size if how.keep_mean else None)


class _NoVariationError(ValueError):
    """The image (or slice) is constant, at least inside the taper."""


def _check_image_values(image: np.ndarray, label: str) -> None:
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{label} contains NaN or infinite values")
    if np.ptp(image) == 0:
        raise _NoVariationError(
            f"{label} is constant: decorrelation analysis needs an image with structure or noise"
        )


@dataclass(frozen=True)
class _Peaks:
    """The curves and peaks of one spectrum (steps 4-7 of the module docstring)."""

    k_grid: np.ndarray
    d0: np.ndarray
    k0: float
    a0: float
    first_g: np.ndarray
    first_curves: np.ndarray
    first_k: np.ndarray
    first_A: np.ndarray
    refined_g: np.ndarray
    refined_grid: np.ndarray
    refined_curves: np.ndarray
    refined_k: np.ndarray
    refined_A: np.ndarray
    candidate_k: np.ndarray
    candidate_A: np.ndarray
    accepted: np.ndarray
    kc_max: float


def _curve_peaks(table: _RadialTable, grid: np.ndarray, gs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Curves for the filters ``gs`` on ``grid``, their peak positions and amplitudes."""
    curves = _curves(table, grid, list(gs))
    peaks = [local_max(c) for c in curves]
    return curves, np.array([grid[i] for i, _ in peaks]), np.array([a for _, a in peaks])


def _log_ladder(first: float, last: float, n: int) -> np.ndarray:
    """``exp(linspace(log(first), log(last), n))`` as ``getDcorr.m`` builds its filters."""
    return np.exp(octave_linspace(math.log(first), math.log(last), n))


def _find_peaks(table: _RadialTable, shape: tuple, *, n_r: int, n_g: int, g_min: float,
                min_peak_amplitude: float) -> _Peaks:
    """``getDcorr.m``'s two passes on the radial table of an odd ``shape`` image."""
    n_rows = shape[0]
    k_grid = octave_linspace(0.0, 1.0, n_r)
    d0 = _curve(table, k_grid, None)
    i0, a0 = local_max(d0)
    k0 = float(k_grid[i0])

    # First pass: a weak filter (n_rows/4), then a log ladder from 2/k0 down to g_min.
    g_max = 2.0 / k0 if k0 > 0 else max(shape) / 2.0
    first_g = np.concatenate(([n_rows / 4.0], _log_ladder(g_max, g_min, n_g)))
    first_curves, first_k, first_A = _curve_peaks(table, k_grid, first_g)

    # Refinement around the highest peak, as getDcorr.m (including its index
    # conventions at both ends of the ladder): kc = [k0, first-pass peaks].
    kc = np.concatenate(([k0], first_k))
    best = int(np.flatnonzero(kc == kc.max())[-1])
    if best == 0:  # only the unfiltered curve found it: filters weaker than n_rows/4
        g1, g2 = float(n_rows), first_g[0]
    elif best >= n_g:  # one of the two strongest filters: stay inside the ladder
        g1, g2 = first_g[best - 2], first_g[best - 1]
    else:  # the filter that found it and the next stronger one
        g1, g2 = first_g[best - 1], first_g[best]
    refined_g = _log_ladder(g1, g2, n_g)
    lo = max(kc[best] - (k_grid[1] - k_grid[0]), 0.0)
    hi = min(kc[best] + 0.4, 1.0, k_grid[-1])
    refined_grid = octave_linspace(lo, hi, n_r)
    refined_curves, refined_k, refined_A = _curve_peaks(table, refined_grid, refined_g)

    # ImDecorr stores the refined peaks from the slot of the last first-pass
    # filter on (overwriting it) and appends the unfiltered peak again; the
    # pool is kept as published so that kcMax matches the reference.
    candidate_k = np.concatenate(([k0], first_k[:n_g], refined_k, [k0]))
    candidate_A = np.concatenate(([a0], first_A[:n_g], refined_A, [a0]))
    accepted = candidate_A >= min_peak_amplitude
    kc_max = float(candidate_k[accepted].max()) if accepted.any() else 0.0
    return _Peaks(
        k_grid=k_grid, d0=d0, k0=k0, a0=a0, first_g=first_g, first_curves=first_curves,
        first_k=first_k, first_A=first_A, refined_g=refined_g, refined_grid=refined_grid,
        refined_curves=refined_curves, refined_k=refined_k, refined_A=refined_A,
        candidate_k=candidate_k, candidate_A=candidate_A, accepted=accepted, kc_max=kc_max,
    )


def _spectrum_table(image: np.ndarray, how: _Preparation, dtype: np.dtype, workers, label: str):
    """Radial table and analysed shape of ``image`` prepared as ``how`` says."""
    crop = _odd_crop(image.shape)
    if how.apod_width > 0:
        # the taper is 0 only on the outermost pixel of each border
        inner = tuple(slice(1, stop - 1 if how.crop_first or n % 2 else stop)
                      for stop, n in ((c.stop, n) for c, n in zip(crop, image.shape)))
        if np.ptp(image[crop][inner]) == 0:
            raise _NoVariationError(
                f"{label} has no variation left inside the apodisation window (apod_width={how.apod_width})"
            )
    prepared, dc_offset = _prepare(image, how, dtype)
    return _radial_table(prepared, workers, dc_offset), prepared.shape


def spread_widths(apod_width: int, spread_px: int, shape: tuple) -> list[int]:
    """The apodisation widths of ``kc_spread``: ``apod_width ± 1 … spread_px``,
    those that fit the image (``1 <= w`` and ``2 w`` within the odd-cropped axes);
    none when the taper is off or ``spread_px`` is 0."""
    if apod_width == 0 or spread_px == 0:
        return []
    smallest = min(n - (1 - n % 2) for n in shape)
    return [w for w in range(apod_width - spread_px, apod_width + spread_px + 1)
            if 1 <= w and 2 * w <= smallest]


def _periodic_spectrum(image: np.ndarray, workers) -> np.ndarray:
    """``rfft2`` of the periodic component of ``image`` (Moisan's periodic plus
    smooth decomposition): the spectrum without the border discontinuity's
    cross and without any window, so white noise stays white and independent.

    The smooth component solves a Poisson equation driven by the jumps
    across the periodic borders; its spectrum is that of the jump image
    over the discrete Laplacian's eigenvalues.
    """
    nr, nc = image.shape
    jumps = np.zeros(image.shape, dtype=image.dtype)
    jumps[0, :] = image[-1, :] - image[0, :]
    jumps[-1, :] = -jumps[0, :]
    jumps[:, 0] += image[:, -1] - image[:, 0]
    jumps[:, -1] -= image[:, -1] - image[:, 0]
    laplacian = (2.0 * np.cos(2 * np.pi * np.fft.fftfreq(nr))[:, None]
                 + 2.0 * np.cos(2 * np.pi * np.fft.rfftfreq(nc))[None, :] - 4.0)
    laplacian[0, 0] = 1.0  # the smooth part has no mean; DC is not used
    smooth = scipy.fft.rfft2(jumps, workers=workers) / laplacian
    smooth[0, 0] = 0.0
    return scipy.fft.rfft2(image, workers=workers) - smooth


def _noise_trend(image: np.ndarray, dtype: np.dtype, workers) -> tuple[float, bool]:
    """``hf_power_ratio`` and whether it calls the noise not white near Nyquist.

    Measured on the periodic component of the (central, odd) image, not on the analysed
    spectrum: the short sine ramp leaks strong signal some ten frequency
    bins outwards (enough to make white noise past a sharp band edge look
    like falling power), and a smoother window would correlate neighbouring
    coefficients; the periodic component has neither problem.
    """
    # a central part of at most NOISE_TREND_SIZE per axis: its standard
    # error (0.008 at 1023^2) is already far below the alarm bounds
    crop = tuple(slice((n - m) // 2, (n - m) // 2 + m)
                 for n, m in ((n, min(n - (1 - n % 2), NOISE_TREND_SIZE)) for n in image.shape))
    cropped = image[crop].astype(dtype, copy=False)
    table = _spectrum_radial_table(_periodic_spectrum(cropped, workers), cropped.shape, None)
    (outer, se_outer), (middle, se_middle) = table.band_power(0.9, 1.0), table.band_power(0.7, 0.8)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = outer / middle
    # 4 standard errors of the white-noise ratio 1 keep small white-noise
    # images (ratio 1 +- 0.12 at 64^2, +- 0.07 at 127 x 99, simulated) from
    # being flagged; from about 257^2 on the fixed bounds decide
    noise_se = math.hypot(se_outer, se_middle)
    rising = ratio > 1.0 + max(COLOURED_NOISE_RATIO - 1.0, NOISE_TREND_SE * noise_se)
    falling = ratio < 1.0 - max(1.0 - FALLING_NOISE_RATIO, NOISE_TREND_SE * noise_se)
    return float(ratio), bool(rising or falling)


def _apod_width_kcs(image, how: _Preparation, dtype, peaks: _Peaks, spread_px: int, workers, label: str,
                    peak_options: dict) -> tuple[list[int], list[float]]:
    """``kcMax`` for each width of :func:`spread_widths` (``peaks`` is that of
    ``how.apod_width``); widths whose taper leaves no variation are dropped.

    The other widths run in parallel threads (each analysis is mostly numpy
    work that releases the GIL), each with a single-threaded FFT.
    """
    widths = spread_widths(how.apod_width, spread_px, image.shape)
    others = [w for w in widths if w != how.apod_width]
    threads = min(len(others), workers or default_workers())

    def kc_of(width: int) -> float | None:
        try:
            table, shape = _spectrum_table(image, dataclasses.replace(how, apod_width=width), dtype,
                                           1 if threads > 1 else workers, label)
        except _NoVariationError:  # a wider taper wiped out what little varies
            return None
        return _find_peaks(table, shape, **peak_options).kc_max

    if threads > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            found = dict(zip(others, pool.map(kc_of, others)))
    else:
        found = {w: kc_of(w) for w in others}
    found[how.apod_width] = peaks.kc_max
    kept = [w for w in widths if found.get(w) is not None]
    return kept, [found[w] for w in kept]


def _analyse(
    image: np.ndarray,
    *,
    n_r: int,
    n_g: int,
    g_min: float,
    min_peak_amplitude: float,
    apod_width: int,
    keep_mean: bool,
    crop_first: bool,
    spread_px: int,
    pixel_size: float,
    unit: str,
    workers: int | None,
    label: str,
) -> DecorrResult:
    """The published pipeline on one validated 2-D image; the result's
    ``warnings`` hold this image's sentences (not yet issued)."""
    _check_image_values(image, label)
    dtype = work_dtype(image)
    how = _Preparation(apod_width=apod_width, keep_mean=keep_mean, crop_first=crop_first)
    table, analysed_shape = _spectrum_table(image, how, dtype, workers, label)
    peak_options = dict(n_r=n_r, n_g=n_g, g_min=g_min, min_peak_amplitude=min_peak_amplitude)
    peaks = _find_peaks(table, analysed_shape, **peak_options)
    widths, spread_kc = _apod_width_kcs(image, how, dtype, peaks, spread_px, workers, label, peak_options)
    kc_spread = float(np.ptp(spread_kc)) if len(spread_kc) > 1 else float("nan")
    ratio, coloured = _noise_trend(image, dtype, workers)
    kc_max = peaks.kc_max
    resolution_px = 2.0 / kc_max if kc_max > 0 else float("nan")
    result = DecorrResult(
        kc_max=kc_max,
        r_res=kc_max / 2.0 if kc_max > 0 else float("nan"),
        resolution_px=resolution_px,
        resolution=pixel_size * resolution_px,
        A0=peaks.a0,
        k0=peaks.k0,
        r_values=peaks.k_grid / 2.0,
        A=peaks.d0,
        first_pass_g=peaks.first_g,
        first_pass_curves=peaks.first_curves,
        first_pass_k=peaks.first_k,
        first_pass_A=peaks.first_A,
        refined_g=peaks.refined_g,
        refined_k_grid=peaks.refined_grid,
        refined_curves=peaks.refined_curves,
        refined_k=peaks.refined_k,
        refined_A=peaks.refined_A,
        candidate_k=peaks.candidate_k,
        candidate_A=peaks.candidate_A,
        accepted=peaks.accepted,
        hf_power_ratio=ratio,
        coloured_noise=coloured,
        n_r=n_r,
        n_g=n_g,
        g_min=g_min,
        min_peak_amplitude=min_peak_amplitude,
        apod_width=apod_width,
        pixel_size=pixel_size,
        unit=unit,
        shape=tuple(image.shape),
        analysed_shape=tuple(analysed_shape),
        kc_spread=kc_spread,
        spread_apod_widths=np.array(widths, dtype=np.int64),
        spread_kc_max=np.array(spread_kc),
        keep_mean=keep_mean,
        crop_first=crop_first,
        spread_px=spread_px,
    )
    return dataclasses.replace(result, warnings=tuple(_image_messages(result)))


# --------------------------------------------------------------------------- warnings
def _refined_step(result: DecorrResult) -> float:
    grid = result.refined_k_grid
    return float(grid[1] - grid[0]) if grid.size > 1 else float("nan")


def _spread_exceeds_step(result: DecorrResult) -> bool:
    # a spread of exactly one grid step (the neighbouring radius) is not a warning
    return bool(result.kc_spread > _refined_step(result) * (1 + 1e-9))


def _no_peak_message(min_peak_amplitude: float, a0: float) -> str:
    return (
        f"decorrelation analysis found no peak with amplitude >= {min_peak_amplitude:g} "
        f"(A0 = {a0:.3f}): no resolution (NaN); either noise dominates at every frequency, or the "
        "signal fades into the noise so gradually (e.g. an image sharp almost to Nyquist) that "
        "the curves rise up to Nyquist without a peak."
    )


def _noise_message(ratios: list[float], kcs: list[float], where: str = "") -> str:
    band = "power ratio of 0.9-1.0 to 0.7-0.8 Nyquist"
    if ratios[0] > 1:
        return (
            f"the spectral power rises towards Nyquist{where} ({band} up to {max(ratios):.2f}, white "
            "noise gives 1): the noise is not white (e.g. a ramp-filtered tomogram) and the "
            "decorrelation resolution is unreliable; prefer FSC of two independent halves."
        )
    kc = f"kcMax {max(kcs):.3f}" if len(kcs) == 1 else f"kcMax up to {max(kcs):.3f}"
    return (
        f"the spectral power falls towards Nyquist{where} ({band} down to {min(ratios):.2f}, white "
        "noise gives 1): the noise is filtered (a detector's MTF, interpolation, smoothing) or the "
        f"signal reaches Nyquist, and {kc} then follows that filter rather than the object; "
        "correct for the detector's MTF or prefer FSC of two independent exposures."
    )


def _spread_message(results: list[DecorrResult], where: str = "") -> str:
    worst = max(results, key=lambda r: r.kc_spread)
    return (
        f"kcMax varies by {worst.kc_spread:.3f}{where} (from {worst.spread_kc_max.min():.3f} to "
        f"{worst.spread_kc_max.max():.3f}) when apod_width changes by up to {worst.spread_px} px "
        f"around {worst.apod_width}, more than one step ({_refined_step(worst):.4f}) of the refined "
        "radius grid: the curves are flat near their top (or hold two peaks of similar height), so the "
        "taper and the 1e-3 quantisation, not the image alone, place the peak; quote kcMax with "
        "kc_spread as its uncertainty."
    )


def _noise_messages(results: list[DecorrResult], where) -> list[str]:
    """One sentence per direction (rising, falling) among the flagged results."""
    out = []
    for rising in (True, False):
        flagged = [r for r in results if r.coloured_noise and (r.hf_power_ratio > 1) == rising]
        if flagged:
            out.append(_noise_message([r.hf_power_ratio for r in flagged],
                                      [r.kc_max for r in flagged], where(flagged)))
    return out


def _image_messages(result: DecorrResult) -> list[str]:
    """This image's assumption sentences."""
    out = [] if result.resolved else [_no_peak_message(result.min_peak_amplitude, result.A0)]
    out += _noise_messages([result], lambda flagged: "")
    if _spread_exceeds_step(result):
        out.append(_spread_message([result]))
    return out


def _volume_messages(results: list[DecorrResult], indices) -> list[str]:
    """The assumption sentences of a volume, each naming its slices."""
    n = len(results)

    def where(flagged):
        slices = [int(i) for i, r in zip(indices, results) if any(r is f for f in flagged)]
        return f" in {len(flagged)} of {n} slices ({slices})"

    failed = [r for r in results if not r.resolved]
    out = []
    if len(failed) == n:
        out.append(
            f"decorrelation analysis found no peak with amplitude >= {results[0].min_peak_amplitude:g} "
            f"in any of the {n} slices: no resolution (NaN)."
        )
    elif failed:
        slices = [int(i) for i, r in zip(indices, results) if not r.resolved]
        out.append(f"{len(failed)} of {n} slices gave no resolution (slices {slices}); the statistics "
                   "use the others.")
    out += _noise_messages(results, where)
    unstable = [r for r in results if _spread_exceeds_step(r)]
    if unstable:
        out.append(_spread_message(unstable, where(unstable)))
    return out


# --------------------------------------------------------------------------- volumes
def slice_indices(n_axis: int, n_slices: int, slice_range=None) -> np.ndarray:
    """Evenly spaced slice indices inside ``slice_range`` (half-open).

    The range ``[start, stop)`` is cut into ``n_slices`` equal parts and the
    slice at the centre of each part is taken (for one slice: the middle
    slice), so the first and last slices of the range, often the worst of a
    reconstruction, are not forced into the sample. Negative bounds count from
    the end; ``None`` for a bound means the end of the axis. Fewer indices are
    returned when the range holds fewer than ``n_slices`` slices.
    """
    if slice_range is None:
        start, stop = 0, n_axis
    else:
        try:
            start, stop = slice_range
        except (TypeError, ValueError):
            raise ValueError(
                f"slice_range must be None or a (start, stop) pair of integers; got {slice_range!r}"
            ) from None
        bounds = []
        for name, value, default in (("start", start, 0), ("stop", stop, n_axis)):
            if value is None:
                bounds.append(default)
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"slice_range {name} must be an integer or None; got {value!r}")
            value = int(value)
            resolved = value + n_axis if value < 0 else value
            if not 0 <= resolved <= n_axis:
                raise ValueError(
                    f"slice_range {name}={value} is outside the axis of length {n_axis} "
                    f"(allowed: -{n_axis} .. {n_axis})"
                )
            bounds.append(resolved)
        start, stop = bounds
        if start >= stop:
            raise ValueError(
                f"slice_range {tuple(slice_range)} is empty on an axis of length {n_axis} "
                f"(resolved to [{start}, {stop}))"
            )
    length = stop - start
    parts = np.arange(n_slices, dtype=np.int64)
    return np.unique(start + ((2 * parts + 1) * length) // (2 * n_slices))


def _largest_finite(values) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else float("nan")


def _volume_summary(
    slices: list[DecorrResult], indices: np.ndarray, axis: int, shape: tuple, pixel_size: float
) -> DecorrResult:
    resolutions = np.array([s.resolution_px for s in slices])
    finite = resolutions[np.isfinite(resolutions)]
    if finite.size:
        median, mean, std = float(np.median(finite)), float(finite.mean()), float(finite.std())
    else:
        median = mean = std = float("nan")
    last = slices[-1]
    kc_max = 2.0 / median if np.isfinite(median) else 0.0
    return dataclasses.replace(
        last,
        kc_max=kc_max,
        r_res=1.0 / median if np.isfinite(median) else float("nan"),
        resolution_px=median,
        resolution=pixel_size * median,
        A0=float(np.median([s.A0 for s in slices])),
        hf_power_ratio=float(np.median([s.hf_power_ratio for s in slices])),
        coloured_noise=any(s.coloured_noise for s in slices),
        kc_spread=_largest_finite([s.kc_spread for s in slices]),
        shape=tuple(shape),
        axis=axis,
        slice_indices=np.asarray(indices),
        slices=tuple(slices),
        resolutions_px=resolutions,
        resolution_px_mean=mean,
        resolution_px_median=median,
        resolution_px_std=std,
    )


# --------------------------------------------------------------------------- public
def _check_real_number(value, name: str, *, low: float, high: float | None = None, low_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    value = float(value)
    bad_low = value <= low if low_open else value < low
    if bad_low or (high is not None and value >= high):
        lo = f"> {low:g}" if low_open else f">= {low:g}"
        hi = f" and < {high:g}" if high is not None else ""
        raise ValueError(f"{name} must be {lo}{hi}; got {value!r}")
    return value


def _check_min_int(value, name: str, minimum: int, why: str) -> int:
    value = check_positive_int(value, name)
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum} ({why}); got {value}")
    return value


def decorrelation_resolution(
    image,
    pixel_size: float = 1.0,
    n_r: int = 100,
    apod_width: int = 20,
    axis: int = 0,
    n_slices: int = 10,
    slice_range: tuple[int | None, int | None] | None = None,
    *,
    n_g: int = 10,
    g_min: float = 0.15,
    min_peak_amplitude: float = 0.05,
    keep_mean: bool = True,
    crop_first: bool = False,
    spread_px: int = SPREAD_PX,
    unit: str | None = None,
    workers: int | None = None,
) -> DecorrResult:
    """Resolution of a single image by decorrelation analysis.

    Descloux, Grussmayer & Radenovic (2019) as published and as implemented
    in the authors' ImDecorr v1.1.8: no second image and no threshold; the
    resolution is the position of the highest significant peak of the
    decorrelation curves of the image and of high-pass filtered copies.

    Parameters
    ----------
    image : array_like or dask.array.Array, 2-D or 3-D, real
        An image, or a volume analysed slice by slice along ``axis``.
        Integers are computed in float32, float32 stays float32. A 3-D dask
        array (optional extra ``[dask]``) is analysed as one dask task per
        sampled slice, on the current scheduler or ``dask.distributed``
        client: only the chunks holding those slices are read, the volume is
        never computed whole. A 2-D dask image is computed (one image is
        analysed in memory). h5py datasets and zarr arrays are read slice by
        slice too.
    pixel_size : float, optional
        Size of a pixel; ``resolution`` is in its unit. Default 1.0.
    n_r : int, optional
        Number of radii sampled between 0 and Nyquist (and in the refined
        window). Default 100; the reference uses 50 and needs at least 30.
    apod_width : int, optional
        Width in pixels of the sine ramp that tapers the image edges to 0
        (ImDecorr's ``apodImRect``; the reference uses 20). 0 disables it;
        without it the border discontinuity of a non-periodic image adds a
        cross of high-frequency power that can fake resolution. Default 20.
    axis : int, optional
        Slicing axis of a volume. Default 0. Ignored for 2-D input.
    n_slices : int, optional
        Number of slices analysed, taken at the centres of ``n_slices``
        equal parts of ``slice_range``. Default 10. Ignored for 2-D input.
    slice_range : (int, int) or None, optional
        Half-open range ``(start, stop)`` of slice indices along ``axis``;
        negative values count from the end. Default: the whole axis.
    n_g : int, optional
        Keyword only. High-pass filters per pass (>= 5). Default 10.
    g_min : float, optional
        Keyword only. Strongest high-pass filter (smallest ``g``), default
        0.15 as in the reference.
    min_peak_amplitude : float, optional
        Keyword only. Peaks lower than this are rejected (the reference's
        0.05). Raise it to be stricter on very noisy images.
    keep_mean : bool, optional
        Keyword only. True (default, as ImDecorr): the image mean stays in
        the spectrum's DC term (``apodImRect`` adds it back after the taper
        and ``getDcorr`` keeps ``R = 0``), so an intensity offset changes
        the unfiltered curve and ``A0``. False: the taper-weighted mean is
        subtracted (no taper spectrum at low frequency) and the DC term is
        left out, so an offset changes nothing.
    crop_first : bool, optional
        Keyword only. False (default, as ImDecorr): the whole image is
        tapered, then an even axis loses its last row/column, so that
        border ends one ramp step short of 0. True: crop to odd sizes first,
        so both borders of the analysed image reach 0.
    spread_px : int, optional
        Keyword only. ``kcMax`` is recomputed for ``apod_width − spread_px``
        … ``apod_width + spread_px`` (each a full analysis) and
        ``kc_spread`` is its range; a warning is issued when that exceeds
        one step of the refined radius grid. Default 2; 0 skips the check
        (and its cost, ``2·spread_px`` more analyses per image).
    unit : str, optional
        Keyword only. Name of the unit of ``pixel_size`` (e.g. ``'nm'``).
    workers : int, optional
        Keyword only. Threads for the FFT (2-D) or for the slices (3-D);
        default all cores. Ignored for a 3-D dask input, whose slices run as
        single-threaded tasks of the dask scheduler.

    Returns
    -------
    DecorrResult
        ``kc_max`` (normalised), ``r_res`` (cycles/pixel),
        ``resolution_px`` and ``resolution`` (full period), ``A0``, the
        curves and the peaks; for a volume also the per-slice results and
        their median, mean and standard deviation.

    Raises
    ------
    ValueError
        Input not 2-D or 3-D, NaN or inf (in the image or an analysed
        slice), a constant image (or only constant sampled slices: single
        constant slices, e.g. padding, are skipped with a warning), an
        axis shorter than 16 pixels or than ``2 * apod_width``, ``n_r < 30``,
        ``n_g < 5``, ``n_slices < 1``, ``axis`` out of range, or
        ``slice_range`` empty or outside the axis.
    TypeError
        Complex or non-numeric input.
    ImportError
        A dask input without the optional dependencies
        (``pip install 'toupy-resolution[dask]'``).

    Warns
    -----
    ResolutionWarning
        When no peak is accepted (resolution NaN) — typically pure noise or
        a signal weaker than the noise at every frequency; when slices of a
        volume give no resolution or are constant; when the noise power
        rises or falls towards Nyquist (``coloured_noise``: ramp-filtered
        tomograms; a detector's MTF, interpolated or smoothed images); and
        when ``kc_spread`` exceeds one step of the refined radius grid. Each
        sentence is also kept in the result's ``warnings``.

    Notes
    -----
    The method assumes white (pixel-independent) noise: it finds where the
    phases of the spectrum stop being carried by signal. Correlated noise
    (reconstructed tomograms, interpolated or denoised images, detectors with
    a point-spread) breaks that premise and biases the estimate; prefer FSC
    of two independent halves there.

    No resolution (NaN, with a warning) is found when every curve rises up
    to Nyquist: pure noise, but also images whose signal fades into the
    noise gradually over a broad band near Nyquist; the method cannot tell
    these apart.

    With the defaults the numbers are those of ImDecorr v1.1.8's
    ``getDcorr(apodImRect(image, apod_width), linspace(0, 1, n_r), n_g)``
    on even and odd sizes alike (tested against the reference run under
    GNU Octave: kcMax within 0.002). The remaining differences: the mean is
    taken out before the FFT and added to the DC term after it (the
    reference adds it to the pixels), and float64 input is computed in
    float64 (the reference casts to single); both only move values that lie
    within round-off of a 1e-3 step. ``keep_mean=False`` and
    ``crop_first=True`` are this project's earlier choices (offset
    invariance; both borders tapered to 0); they change ``kcMax`` by up to a
    grid step on real images.

    ``kcMax`` is a peak of curves floored to 1e-3: on natural images whose
    curves are flat near their top, a 1-px change of ``apod_width`` can move
    it by 0.05-0.1 (the reference does the same); ``kc_spread`` reports it.

    The normalised frequency ``R = 1`` is the largest frequency on each
    axis of the (odd-sized, ``n`` pixels) image, ``(n − 1)/(2n)`` cycles/pixel;
    following the paper, ``r_res = kc_max/2`` and ``resolution_px =
    2/kc_max``, which overstates the frequency by ``n/(n − 1)`` (0.4 % at
    257 pixels).

    For a volume the statistics ignore slices without a resolution (NaN in
    ``resolutions_px``); ``resolution_px`` is their median and ``r_res`` its
    inverse (with an even number of slices this differs slightly from the
    median of the per-slice ``r_res``).

    Examples
    --------
    >>> import numpy as np
    >>> from toupy.resolution import decorrelation_resolution
    >>> rng = np.random.default_rng(0)
    >>> spectrum = np.fft.fft2(rng.standard_normal((257, 257)))
    >>> f = np.fft.fftfreq(257)
    >>> band = np.hypot(f[:, None], f[None, :]) < 0.25          # signal up to 0.25 cycles/pixel
    >>> image = np.fft.ifft2(spectrum * band).real
    >>> image += 0.1 * image.std() * rng.standard_normal(image.shape)
    >>> res = decorrelation_resolution(image, n_r=50)
    >>> 0.50 <= res.kc_max <= 0.53, round(res.resolution_px, 1)
    (True, 3.9)
    """
    if is_dask_array(image):
        require_dask()
    array = as_image(image, "image")
    if array.dtype.kind == "c":
        raise TypeError(
            "image must be real; decorrelation analysis is defined for real images "
            "(pass np.abs(x) or np.angle(x) of a complex reconstruction)"
        )
    if array.dtype.kind == "b":  # a binary image holds numbers too; numpy refuses arithmetic on booleans
        array = array.astype(np.float32)
    pixel_size = check_pixel_size(pixel_size)
    n_r = _check_min_int(n_r, "n_r", MIN_N_R, "the peak search needs at least 30 radii")
    n_g = _check_min_int(n_g, "n_g", MIN_N_G, "the high-pass ladder needs at least 5 filters")
    g_min = _check_real_number(g_min, "g_min", low=0.0, low_open=True)
    min_peak_amplitude = _check_real_number(min_peak_amplitude, "min_peak_amplitude", low=0.0, high=1.0)
    if isinstance(apod_width, bool) or not isinstance(apod_width, numbers.Integral) or apod_width < 0:
        raise ValueError(f"apod_width must be a non-negative integer; got {apod_width!r}")
    apod_width = int(apod_width)
    n_slices = check_positive_int(n_slices, "n_slices")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"axis must be an integer; got {axis!r}")
    axis = int(axis)
    if workers is not None:
        workers = check_positive_int(workers, "workers")
    if isinstance(spread_px, bool) or not isinstance(spread_px, numbers.Integral) or spread_px < 0:
        raise ValueError(f"spread_px must be a non-negative integer; got {spread_px!r}")
    for name, flag in (("keep_mean", keep_mean), ("crop_first", crop_first)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False; got {flag!r}")
    label_unit = length_unit(pixel_size, unit)

    if array.ndim == 3:
        if not -3 <= axis < 3:
            raise ValueError(f"axis must be 0, 1 or 2 (or -3 .. -1) for a 3-D image; got {axis}")
        axis %= 3
        plane_shape = tuple(n for i, n in enumerate(array.shape) if i != axis)
    else:
        plane_shape = array.shape
    _check_geometry(plane_shape, apod_width)

    options = dict(
        n_r=n_r, n_g=n_g, g_min=g_min, min_peak_amplitude=min_peak_amplitude,
        apod_width=apod_width, keep_mean=bool(keep_mean), crop_first=bool(crop_first),
        spread_px=int(spread_px), pixel_size=pixel_size, unit=label_unit,
    )
    if array.ndim == 2:
        # one image is analysed in memory whatever holds it (dask, h5py, zarr)
        result = _analyse(np.asarray(array), workers=workers, label="image", **options)
        return _issued(result, result.warnings)

    indices = slice_indices(array.shape[axis], n_slices, slice_range)
    results: list[DecorrResult | None] = [None] * len(indices)
    if is_dask_array(array):
        # one task per sampled slice: only the chunks holding those slices are read
        dask, _ = require_dask()
        tasks = [
            dask.delayed(_analyse_slice)(_plane(array, int(i), axis), int(i), axis, 1, options)
            for i in indices
        ]
        results = list(dask.compute(*tasks))
    else:
        threads = min(len(indices), workers or default_workers())
        inner = 1 if threads > 1 else workers

        def run(index: int) -> DecorrResult | None:
            return _analyse_slice(_plane(array, int(index), axis), int(index), axis, inner, options)

        desc = "decorrelation slices"
        if threads <= 1:
            for pos, index in progress(enumerate(indices), total=len(indices), desc=desc):
                results[pos] = run(index)
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                futures = {pool.submit(run, index): pos for pos, index in enumerate(indices)}
                for future in progress(as_completed(futures), total=len(futures), desc=desc):
                    results[futures[future]] = future.result()

    blank = [int(i) for i, r in zip(indices, results) if r is None]
    if len(blank) == len(results):
        raise ValueError(
            f"image: every sampled slice along axis {axis} (indices {[int(i) for i in indices]}) is "
            "constant; decorrelation analysis needs structure or noise"
        )
    messages = []
    if blank:
        messages.append(f"{len(blank)} sampled slices are constant (e.g. padding) and were skipped: "
                        f"{blank}; the statistics use the others.")
        kept = [pos for pos, r in enumerate(results) if r is not None]
        indices = indices[kept]
        results = [results[pos] for pos in kept]
    summary = _volume_summary(results, indices, axis, array.shape, pixel_size)
    return _issued(summary, messages + _volume_messages(results, indices))


def _issued(result: DecorrResult, messages) -> DecorrResult:
    """Issue ``messages`` as :class:`ResolutionWarning` (pointing at the caller of
    :func:`decorrelation_resolution`) and keep them in the result."""
    record: list[str] = []
    for message in messages:
        warn_assumption(message, record, stacklevel=4)
    return dataclasses.replace(result, warnings=tuple(record))


def _plane(array, index: int, axis: int):
    """Slice ``index`` along ``axis`` by basic indexing: a view of an ndarray,
    and a read of that slice only for h5py, zarr and dask inputs."""
    return array[(slice(None),) * axis + (index,)]


def _analyse_slice(plane, index: int, axis: int, workers, options: dict) -> DecorrResult | None:
    """One slice of a volume; None for a constant slice (padding), skipped by the caller."""
    try:
        return _analyse(
            np.asarray(plane), workers=workers, label=f"slice {index} along axis {axis}", **options
        )
    except _NoVariationError:
        return None


def _check_geometry(plane_shape: tuple, apod_width: int) -> None:
    smallest = min(plane_shape)
    if smallest < MIN_SIZE:
        raise ValueError(
            f"image must be at least {MIN_SIZE} pixels along each analysed axis; got {plane_shape}"
        )
    analysed = min(n - (1 - n % 2) for n in plane_shape)
    if 2 * apod_width > analysed:
        raise ValueError(
            f"apod_width={apod_width} needs analysed axes of at least 2*apod_width = {2 * apod_width} "
            f"pixels; the image is {plane_shape} (cropped to odd sizes). Lower apod_width."
        )


# --------------------------------------------------------------------------- figure
def plot_decorr(result: DecorrResult):
    """Figure of a :class:`DecorrResult` (one panel, two for a volume)."""
    from ._plotting import add_physical_frequency_axis, new_figure

    volume = result.is_volume
    fig, axes = new_figure(2 if volume else 1)
    ax = axes[0] if volume else axes
    k = result.k_values
    for curve in result.first_pass_curves:
        ax.plot(k, curve, color="0.6", lw=0.7, alpha=0.7)
    shades = np.linspace(0.35, 0.95, len(result.refined_curves))
    for shade, curve in zip(shades, result.refined_curves):
        ax.plot(result.refined_k_grid, curve, color=(0.1, 0.2, shade), lw=0.8, alpha=0.8)
    ax.plot([], [], color="0.6", lw=0.7, label="high-pass filtered")
    ax.plot([], [], color=(0.1, 0.2, 0.8), lw=0.8, label="refined high-pass")
    ax.plot(k, result.A, color="C2", lw=2.0, label="A(r), unfiltered")
    acc = result.accepted
    ax.plot(result.candidate_k[acc], result.candidate_A[acc], "x", color="k", ms=6, label="peaks")
    if (~acc).any():
        ax.plot(result.candidate_k[~acc], result.candidate_A[~acc], "x", color="C3", ms=5,
                label=f"rejected (A < {result.min_peak_amplitude:g})")
    # the curves of a volume are the last slice's: mark that slice's kcMax,
    # and the median over slices separately
    shown = result.slices[-1] if volume else result
    if shown.kc_max > 0:
        ax.axvline(shown.kc_max, color="k", ls="--", lw=1,
                   label="kcMax, this slice" if volume else "kcMax")
    if volume and result.kc_max > 0:
        ax.axvline(result.kc_max, color="0.4", ls=":", lw=1.2, label="median over slices")
    lines = []
    if volume:
        index = int(result.slice_indices[-1])
        if shown.resolved:
            lines.append(f"slice {index}: {shown.resolution:.4g} {shown.unit}, A0 {shown.A0:.3f}")
        else:
            lines.append(f"slice {index}: no resolution")
        if result.resolved:
            lines.append(f"median: {result.resolution:.4g} {result.unit} (full period)")
    elif result.resolved:
        lines.append(f"resolution {result.resolution:.4g} {result.unit} (full period)")
        lines.append(f"{result.resolution_half:.4g} {result.unit} (half period)")
        lines.append(f"kcMax {result.kc_max:.3f}, A0 {result.A0:.3f}")
    else:
        lines.append(f"no peak with A >= {result.min_peak_amplitude:g}: no resolution")
    ax.text(0.98, 0.95, "\n".join(lines), transform=ax.transAxes, ha="right", va="top",
            fontsize=9, bbox=dict(fc="white", ec="0.7", alpha=0.9))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("normalised spatial frequency k (1 = Nyquist)")
    ax.set_ylabel("decorrelation curve d(k)")
    title = "decorrelation analysis"
    if volume:
        title += f", last slice {int(result.slice_indices[-1])} along axis {result.axis}"
    ax.set_title(title)
    if result.unit != "px":
        add_physical_frequency_axis(ax, 0.5, result.pixel_size, result.unit)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if volume:
        hist = axes[1]
        finite = result.resolutions_px[np.isfinite(result.resolutions_px)]
        if finite.size:
            hist.hist(finite, bins="auto", color="steelblue", edgecolor="white")
            hist.axvline(result.resolution_px_median, color="k", lw=1.5,
                         label=f"median {result.resolution_px_median:.3g} px")
            hist.axvline(result.resolution_px_mean, color="C3", ls="--", lw=1.2,
                         label=f"mean {result.resolution_px_mean:.3g} px")
            hist.legend(fontsize=9)
        from matplotlib.ticker import MaxNLocator

        hist.yaxis.set_major_locator(MaxNLocator(integer=True))
        hist.set_xlabel("resolution, full period (px)")
        hist.set_ylabel("slices")
        n_nan = int((~np.isfinite(result.resolutions_px)).sum())
        note = f", {n_nan} without resolution" if n_nan else ""
        hist.set_title(f"{len(result.resolutions_px)} slices, std {result.resolution_px_std:.2g} px{note}")
        hist.grid(alpha=0.3)
    return fig
