"""Local resolution from two half data sets: block-wise FSC (3-D) / FRC (2-D).

Decision D8 and §4 of ``ALGORITHMS.md`` (Cardone, Heymann & Steven 2013, J.
Struct. Biol. 184:226; Bsoft ``blocres``):

1. box corners on a grid with ``step`` per axis, the last box flush with the
   far border, so the boxes cover the array without padding (with a ``mask``
   only the boxes whose interpolation support touches the sample are
   computed);
2. each box of both halves: taper-weighted mean removed, Hann taper applied
   (one fused pass, :func:`._kernels.window_boxes`), all boxes of a batch
   transformed by one batched ``rfftn`` over the box axes into a reused
   buffer, and the shell sums of every box of the batch accumulated in one
   call (:func:`._kernels.batched_shell_sums`); batches are small enough to
   stay in cache and one pipeline (thread) per core takes them in turn;
3. per box: signed FSC per shell (shells ``s = 0 .. box//2``, ``s / box``
   cycles/pixel), the threshold with the box's own full-FFT counts, the first
   interpolated crossing (:func:`._crossing.first_crossing`, all boxes at
   once); a box whose curve never drops is Nyquist-limited (flagged, ``2`` px),
   one that is never above has no resolution (NaN);
4. the crossing *frequencies* live on the box-centre grid and are
   interpolated linearly to every pixel (nearest value beyond the outer
   centres), then inverted: averaging resolutions instead would bias the map
   toward coarse values. One compiled pass writes the map and takes its
   moments and a histogram, from which the statistics (the exact median by
   histogram refinement) follow without a full-size copy or sort.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import _dask, _kernels
from ._checks import warn_assumption
from ._correlation import default_workers, warn_if_dependent
from ._crossing import first_crossing
from ._dask import (
    assemble_region,
    balance_chunks,
    chunk_edges,
    chunk_value_checks,
    combine_value_checks,
    dask_map_statistics,
    is_dask_array,
    region_blocks,
    require_dask,
    single_threaded,
)
from ._fftinto import fftn_into, rfftn_into
from ._progress import progress
from ._results import ResolutionMapViews, jsonable, length_unit, map_statistics, statistics_dict
from ._shells import hermitian_weights, shell_frequencies
from ._thresholds import threshold_curve, threshold_label, validate_threshold
from ._validate import (
    check_finite,
    check_mask,
    check_nonnegative_weights,
    check_pair,
    check_pixel_size,
    check_positive_int,
    native_order,
    work_dtype,
)
from ._windows import hann_profile

__all__ = ["LocalFSCResult", "local_fsc", "box_starts"]

#: smallest box: below 8 pixels a box has 4 shells, too few for any crossing
MIN_BOX_SIZE = 8
# bytes of interpolation temporaries per chunk of output rows
_INTERP_BYTES = 16 << 20
# box buffers and spectra of one batch: small enough to stay in cache from the cut
# of the boxes to their shell sums, large enough to amortise the calls
_PIPELINE_BYTES = 16 << 20
# less work than this runs on one thread (the hand-off would cost more than it saves)
_SPLIT_BYTES = 4 << 20
# histogram bins that locate the median of a map (per chunk of rows: 128 KiB)
_HISTOGRAM_BINS = 1 << 14
# the median is selected among at most this many values, after at most this many reads
_MEDIAN_GATHER = 1 << 16
_MEDIAN_PASSES = 4


@dataclass(frozen=True, eq=False)
class LocalFSCResult(ResolutionMapViews):
    """Local resolution map from block-wise Fourier shell/ring correlation.

    Attributes
    ----------
    resolution_map : ndarray or dask.array.Array, input shape
        Local full-period resolution in pixels (``1 / f`` with ``f`` the
        interpolated local crossing frequency in cycles/pixel); NaN where the
        nearest box has no resolution (its curve is below the threshold from
        the first shell on), where no box was computed, and outside ``mask``.
        float32 for float32/integer inputs, float64 otherwise. For dask
        inputs a lazy dask array with the chunks of ``vol1``, each block
        interpolated from the per-box frequencies when it is computed (store
        it with ``to_zarr`` or compute the part you need); the derived maps
        are then lazy too.
    box_centers : tuple of ndarray
        Centre coordinate (pixels, ``corner + (box_size - 1) / 2``) of the
        boxes along each axis: the grid on which the box values live.
    box_frequency : ndarray, grid shape
        Crossing frequency of each box in cycles/pixel (NaN: no resolution or
        not computed).
    box_nyquist_limited : ndarray of bool, grid shape
        Boxes whose curve never drops below the threshold: their value
        ``(box_size // 2) / box_size`` cycles/pixel (2 px full period for even
        boxes) is only an upper bound set by the sampling.
    box_computed : ndarray of bool, grid shape
        Boxes that were evaluated (all of them without ``mask``).
    box_fsc : ndarray, grid shape + ``(n_shells,)``
        The FSC/FRC curve of every box (NaN rows for boxes not computed;
        shell 0 is NaN because each box's mean is removed).
    frequency_cpx : ndarray
        Frequency of the box shells, ``s / box_size`` cycles/pixel.
    n_per_shell : ndarray
        Fourier voxels per shell of a box, counted in the full FFT.
    threshold_curve : ndarray
        Threshold per box shell (constant for a float criterion).
    resolution_median, resolution_mean, resolution_std : float
        Statistics of the finite values of ``resolution_map`` (inside
        ``mask`` when given), full period, pixels.
    resolution_median_half, resolution_mean_half, resolution_std_half : float
        The same, half period (``/2``), pixels.
    threshold, box_size, step, pixel_size, unit, shape, masked
        The parameters used (``unit`` labels physical lengths).
    complex_input : bool
        Whether the modulus of the complex cross sum was used (D1).
    warnings : tuple of str
        The warnings issued for this result, one sentence each; empty for a
        clean input.
    box_shared_fraction : ndarray, grid shape
        Estimated taper-power-weighted fraction of each box's pixels that
        hold one value in both halves over two neighbouring pixels (zero
        padding outside a reconstruction circle, a mask applied to both
        halves); NaN for boxes not computed. See :func:`local_fsc`, Notes.
    box_partly_outside : ndarray of bool, grid shape
        Boxes whose shared fraction exceeds half the smallest threshold value
        of the box shells: the shared edge of the support, not the sample,
        can set their value (kept in the map, flagged, and warned about).
    """

    resolution_map: np.ndarray
    box_centers: tuple
    box_frequency: np.ndarray
    box_nyquist_limited: np.ndarray
    box_computed: np.ndarray
    box_fsc: np.ndarray
    frequency_cpx: np.ndarray
    n_per_shell: np.ndarray
    threshold_curve: np.ndarray
    resolution_median: float
    resolution_mean: float
    resolution_std: float
    resolution_median_half: float
    resolution_mean_half: float
    resolution_std_half: float
    threshold: str | float
    box_size: int
    step: int
    pixel_size: float
    unit: str
    shape: tuple
    masked: bool = False
    complex_input: bool = False
    extras: dict = field(default_factory=dict)
    warnings: tuple = ()
    box_shared_fraction: np.ndarray | None = None
    box_partly_outside: np.ndarray | None = None

    # -- derived views ---------------------------------------------------------
    @property
    def kind(self) -> str:
        """``'FRC'`` for 2-D inputs, ``'FSC'`` for 3-D inputs."""
        return "FRC" if len(self.shape) == 2 else "FSC"

    @property
    def box_resolution(self) -> np.ndarray:
        """Full-period resolution of each box in pixels (``1 / box_frequency``)."""
        return 1.0 / self.box_frequency

    @property
    def n_boxes(self) -> int:
        """Number of boxes evaluated."""
        return int(self.box_computed.sum())

    @property
    def fraction_nyquist_limited(self) -> float:
        """Fraction of the evaluated boxes that are Nyquist-limited."""
        n = self.n_boxes
        return float(self.box_nyquist_limited.sum()) / n if n else float("nan")

    @property
    def fraction_no_resolution(self) -> float:
        """Fraction of the evaluated boxes without any crossing (NaN boxes)."""
        n = self.n_boxes
        if not n:
            return float("nan")
        return float((self.box_computed & ~np.isfinite(self.box_frequency)).sum()) / n

    @property
    def n_partly_outside(self) -> int:
        """Number of evaluated boxes flagged in ``box_partly_outside``."""
        return 0 if self.box_partly_outside is None else int(self.box_partly_outside.sum())

    @property
    def threshold_name(self) -> str:
        """Human-readable criterion name."""
        return threshold_label(self.threshold)

    def nearest_box_map(self, values: np.ndarray) -> np.ndarray:
        """Spread a per-box array (grid shape) to the input shape, nearest box.

        For example ``result.nearest_box_map(result.box_nyquist_limited)``
        shows where the map is only an upper bound.
        """
        values = np.asarray(values)
        if values.shape != self.box_frequency.shape:
            raise ValueError(
                f"values must have the box-grid shape {self.box_frequency.shape}; got {values.shape}"
            )
        near = [_linear_taps(c, n)[3] for c, n in zip(self.box_centers, self.shape)]
        return values[np.ix_(*near)]

    # -- reporting -------------------------------------------------------------
    def summary(self) -> str:
        """One line: median local resolution, spread, criterion and box geometry."""
        if not math.isfinite(self.resolution_median):
            value = "none (no box crosses the threshold)"
        else:
            value = (
                f"median {self.resolution_median:.4g} px full period "
                f"(mean {self.resolution_mean:.4g}, std {self.resolution_std:.3g})"
            )
            if self.unit != "px":
                value += f" = {self.resolution_median * self.pixel_size:.4g} {self.unit}"
        return (
            f"local {self.kind} resolution: {value}; {self.threshold_name}, box {self.box_size}, "
            f"step {self.step}, {self.n_boxes} boxes "
            f"({100 * self.fraction_nyquist_limited:.0f} % Nyquist-limited, "
            f"{100 * self.fraction_no_resolution:.0f} % without crossing"
            + (f", {self.n_partly_outside} flagged: partly outside the data" if self.n_partly_outside else "")
            + ")"
        )

    def to_dict(self, *, include_map: bool = False) -> dict:
        """All fields as JSON-safe Python objects (NaN and inf become None).

        The full-size ``resolution_map`` is left out unless ``include_map``
        (its statistics and the per-box values are always included).
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if not include_map:
            out.pop("resolution_map")
        elif is_dask_array(self.resolution_map):
            out["resolution_map"] = np.asarray(self.resolution_map)
        out["kind"] = self.kind
        out["n_boxes"] = self.n_boxes
        out["fraction_nyquist_limited"] = self.fraction_nyquist_limited
        out["fraction_no_resolution"] = self.fraction_no_resolution
        out["n_partly_outside"] = self.n_partly_outside
        out["units"] = {
            "resolution_map": "px, full period",
            "box_centers": "px",
            "box_frequency": "cycles/pixel",
            "frequency_cpx": "cycles/pixel",
            "resolution_median": "px, full period",
            "resolution_mean": "px, full period",
            "resolution_std": "px, full period",
            "resolution_median_half": "px, half period",
            "resolution_mean_half": "px, half period",
            "resolution_std_half": "px, half period",
            "pixel_size": self.unit,
        }
        return jsonable(out)

    def to_json(self, indent: int | None = 2, *, include_map: bool = False) -> str:
        """The :meth:`to_dict` content as a JSON string."""
        return json.dumps(self.to_dict(include_map=include_map), indent=indent)

    def plot(self, *, slice_idx=None, axis=0, cmap="viridis_r", vmin=None, vmax=None):
        """Draw the map (a slice of it in 3-D) with its colour bar; return the figure."""
        from ._plotting import plot_resolution_map

        shown = self.resolution_map
        title = f"local {self.kind} resolution, box {self.box_size}\n{self.threshold_name}"
        fig, _ = plot_resolution_map(
            shown, slice_idx=slice_idx, axis=axis, cmap=cmap, vmin=vmin,
            vmax=vmax, pixel_size=self.pixel_size, unit=self.unit, title=title,
        )
        return fig


# --------------------------------------------------------------------------- geometry
def box_starts(n: int, box_size: int, step: int) -> np.ndarray:
    """Corners of the boxes along one axis of length ``n``.

    ``0, step, 2 step, ...`` while the box fits, plus a last box flush with
    the far border when the grid would leave pixels uncovered, so every pixel
    lies in some box (for ``step <= box_size``) and no box needs padding.
    """
    starts = np.arange(0, n - box_size + 1, step, dtype=np.int64)
    if starts[-1] != n - box_size:
        starts = np.append(starts, n - box_size)
    return starts


def _linear_taps(centers: np.ndarray, n: int, start: int = 0):
    """Linear-interpolation taps from the centre grid to pixels ``start .. start+n-1``.

    Returns ``lo, hi, t, nearest``: pixel ``x`` takes ``(1 - t) g[lo] + t g[hi]``;
    beyond the outer centres ``t`` is clipped (nearest extrapolation).
    """
    x = np.arange(start, start + n, dtype=np.float64)
    if centers.size == 1:
        zero = np.zeros(n, dtype=np.int64)
        return zero, zero, np.zeros(n), zero
    lo = np.clip(np.searchsorted(centers, x, side="right") - 1, 0, centers.size - 2)
    hi = lo + 1
    t = np.clip((x - centers[lo]) / (centers[hi] - centers[lo]), 0.0, 1.0)
    nearest = np.where(t <= 0.5, lo, hi)
    return lo, hi, t, nearest


def _interpolate_axis(values, taps, axis):
    lo, hi, t, _ = taps
    shape = [1] * values.ndim
    shape[axis] = t.size
    t = t.reshape(shape)
    return np.take(values, lo, axis=axis) * (1.0 - t) + np.take(values, hi, axis=axis) * t


def _frequency_map_to_resolution(grid_freq, centers, shape, dtype, mask, origin=None, *,
                                 parallel=True, use_numba=True):
    """Interpolate box frequencies linearly to ``shape`` and invert them.

    Where some neighbouring boxes have no value the interpolation uses the
    others (weights renormalised); a pixel whose nearest box has no value is
    NaN, so NaN regions keep the extent of their boxes. With ``origin`` the
    output is the block of the map of shape ``shape`` starting there
    (``mask`` is then that block of the mask); every pixel gets the value it
    has in the whole map. ``parallel=False`` keeps the work on the calling
    thread (a dask task).
    """
    return _interpolated_resolution(
        grid_freq, centers, shape, dtype, mask, origin, parallel=parallel, use_numba=use_numba
    )[0]


@dataclass(frozen=True)
class _MapMoments:
    """What the compiled map kernel gathers about the finite values it writes.

    ``count``, ``total`` and ``squares`` are the count, sum and sum of
    squares of ``value - shift``; ``histogram`` counts them in bins of width
    ``1 / scale`` from ``low`` (values beyond the ends land in the end bins),
    which locates the median for :func:`_statistics_from_moments`.
    """

    count: int
    total: float
    squares: float
    shift: float
    histogram: np.ndarray
    low: float
    scale: float


def _interpolated_resolution(grid_freq, centers, shape, dtype, mask, origin=None, *,
                             parallel=True, use_numba=True):
    """:func:`_frequency_map_to_resolution`, and the moments of the map when compiled.

    The compiled kernel writes the map in one pass (no full-size
    temporaries) and gathers the :class:`_MapMoments` of its finite values,
    as stored (after the cast to ``dtype``), in the same pass. Returns the
    map and the moments, or ``None`` for them from the numpy route.
    """
    valid = np.isfinite(grid_freq)
    filled = np.where(valid, grid_freq, 0.0)
    weight = valid.astype(np.float64)
    origin = (0,) * len(shape) if origin is None else origin
    taps = [_linear_taps(c, n, o) for c, n, o in zip(centers, shape, origin)]
    if not (use_numba and _kernels.HAVE_NUMBA):
        return _interpolate_numpy(filled, weight, valid, taps, shape, dtype, mask), None

    # slab view: leading axes of length 1 (with one tap each) up to three axes
    pad = 3 - len(shape)
    view = (1,) * pad + tuple(shape)
    single = _linear_taps(np.zeros(1), 1)
    taps = [single] * pad + taps
    n_max = max(view)
    indices = np.zeros((3, 3, n_max), np.int64)
    fractions = np.zeros((3, n_max))
    for axis, (lo, hi, t, nearest) in enumerate(taps):
        indices[axis, :, : t.size] = lo, hi, nearest
        fractions[axis, : t.size] = t
    grid = [np.ascontiguousarray(g.reshape((1,) * pad + g.shape)) for g in (filled, weight, valid)]
    frequencies = filled[valid & (filled > 0)]
    if frequencies.size:
        # about a typical value the sum of squares keeps the variance's digits; the
        # values interpolate the box frequencies, so their inverses bound the map
        # (widened for the rounding of the interpolation, as a range even for equal boxes)
        shift = 1.0 / float(np.median(frequencies))
        low, high = 0.999999 / float(frequencies.max()), 1.000001 / float(frequencies.min())
    else:
        shift, low, high = 0.0, 0.0, 1.0
    scale = _HISTOGRAM_BINS / (high - low)
    out = np.empty(view, dtype)
    mask_view = _NO_MASK if mask is None else np.asarray(mask).reshape(view)
    n_chunks = _kernels._n_chunks(view[0] * view[1]) if parallel else 1
    partial = np.zeros((n_chunks, 3))
    histogram = np.zeros((n_chunks, _HISTOGRAM_BINS), np.int64)
    _kernels._in_threads(
        _interpolate_invert_numba, n_chunks, out, *grid, indices, fractions, mask_view,
        mask is not None, shift, low, scale, partial, histogram,
    )
    count, total, squares = partial.sum(axis=0)
    moments = _MapMoments(int(count), float(total), float(squares), shift, histogram.sum(axis=0), low, scale)
    return out.reshape(shape), moments


def _interpolate_numpy(filled, weight, valid, taps, shape, dtype, mask):
    """The readable twin of the compiled kernel: axis by axis, on chunks of rows."""
    out = np.empty(shape, dtype)
    row_bytes = int(np.prod(shape[1:])) * 8 * 6
    rows = int(max(1, min(shape[0], _INTERP_BYTES // row_bytes)))
    for a in range(0, shape[0], rows):
        b = min(a + rows, shape[0])
        first = tuple(v[a:b] for v in taps[0])
        num = _interpolate_axis(filled, first, 0)
        den = _interpolate_axis(weight, first, 0)
        nearest_valid = valid[first[3]]
        for axis in range(1, len(shape)):
            num = _interpolate_axis(num, taps[axis], axis)
            den = _interpolate_axis(den, taps[axis], axis)
            nearest_valid = np.take(nearest_valid, taps[axis][3], axis=axis)
        with np.errstate(divide="ignore", invalid="ignore"):
            resolution = den / num
        resolution[~nearest_valid] = np.nan
        if mask is not None:
            resolution[mask[a:b] == 0] = np.nan
        out[a:b] = resolution
    return out


_NO_MASK = np.ones((1, 1, 1), dtype=bool)

if _kernels.HAVE_NUMBA:
    from numba import njit

    @njit(inline="always")
    def _histogram_bin(value, low, scale, n_bins):
        # the same expression in both passes, so a value lands in the same bin
        b = (value - low) * scale
        return 0 if b < 0.0 else min(int(b), n_bins - 1)

    @njit(nogil=True, cache=True)
    def _range_histogram_numba(values, a, b, low, scale, partial, histogram, c_lo, c_hi):
        # per chunk: finite values below a, and min, max and bins of those in [a, b)
        n_chunks = partial.shape[0]
        n_bins = histogram.shape[1]
        for c in range(c_lo, c_hi):
            below = 0.0
            low_seen = np.inf
            high_seen = -np.inf
            for v in range(c * values.size // n_chunks, (c + 1) * values.size // n_chunks):
                x = np.float64(values[v])
                if x < a:
                    below += 1.0
                elif x < b:
                    low_seen = min(low_seen, x)
                    high_seen = max(high_seen, x)
                    histogram[c, _histogram_bin(x, low, scale, n_bins)] += 1
            partial[c, 0] = below
            partial[c, 1] = low_seen
            partial[c, 2] = high_seen

    @njit(nogil=True, cache=True)
    def _values_in_range_numba(values, a, b, out):
        n = 0
        for v in range(values.size):
            x = np.float64(values[v])
            if a <= x < b:
                out[n] = x
                n += 1
        return n

    # error_model="numpy": a division by zero gives inf/NaN, as in the numpy twin
    @njit(nogil=True, cache=True, error_model="numpy")
    def _interpolate_invert_numba(out, filled, weight, valid, indices, fractions, mask, use_mask,
                                  shift, low, scale, partial, histogram, c_lo, c_hi):
        n0, n1, n2 = out.shape
        g2 = filled.shape[2]
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        n_bins = histogram.shape[1]
        num = np.empty(g2)
        den = np.empty(g2)
        ok = np.empty(g2, np.bool_)
        for c in range(c_lo, c_hi):
            count = 0.0
            total = 0.0
            squares = 0.0
            run_bin = 0
            run = 0
            for r in range(c * n_rows // n_chunks, (c + 1) * n_rows // n_chunks):
                i = r // n1
                j = r - i * n1
                a0, b0, e0 = indices[0, 0, i], indices[0, 1, i], indices[0, 2, i]
                a1, b1, e1 = indices[1, 0, j], indices[1, 1, j], indices[1, 2, j]
                t0 = fractions[0, i]
                t1 = fractions[1, j]
                # the grid row under this output row: axis 0, then axis 1, with the
                # association of the numpy twin, so the rounding is the same
                for q in range(g2):
                    lo = filled[a0, a1, q] * (1.0 - t0) + filled[b0, a1, q] * t0
                    hi = filled[a0, b1, q] * (1.0 - t0) + filled[b0, b1, q] * t0
                    num[q] = lo * (1.0 - t1) + hi * t1
                    lo = weight[a0, a1, q] * (1.0 - t0) + weight[b0, a1, q] * t0
                    hi = weight[a0, b1, q] * (1.0 - t0) + weight[b0, b1, q] * t0
                    den[q] = lo * (1.0 - t1) + hi * t1
                    ok[q] = valid[e0, e1, q]
                for k in range(n2):
                    value = np.nan
                    if ok[indices[2, 2, k]] and not (use_mask and mask[i, j, k] == 0):
                        a2 = indices[2, 0, k]
                        b2 = indices[2, 1, k]
                        t2 = fractions[2, k]
                        value = (den[a2] * (1.0 - t2) + den[b2] * t2) / (
                            num[a2] * (1.0 - t2) + num[b2] * t2
                        )
                    out[i, j, k] = value
                    stored = np.float64(out[i, j, k])
                    if math.isfinite(stored):
                        d = stored - shift
                        count += 1.0
                        total += d
                        squares += d * d
                        # neighbours mostly share a bin: count runs, not one
                        # read-modify-write of the same cell per pixel
                        b = _histogram_bin(stored, low, scale, n_bins)
                        if b != run_bin:
                            if run:
                                histogram[c, run_bin] += run
                            run_bin = b
                            run = 0
                        run += 1
            if run:
                histogram[c, run_bin] += run
            partial[c, 0] = count
            partial[c, 1] = total
            partial[c, 2] = squares


def _statistics_from_moments(resolution_map: np.ndarray, moments: _MapMoments) -> dict:
    """:func:`._results.map_statistics` of a map from the moments taken as it was written.

    The map is NaN outside the mask already, so its finite values are the
    ones ``map_statistics`` uses. Mean and standard deviation come from the
    moments. The median is selected by histogram refinement (a selection
    over the whole map costs ~0.1 s at 256^3): the histogram narrows the
    values to a range holding the middle rank(s), a read of the map counts
    exactly the values below that range and bins those inside it more
    finely, until the range is small enough to collect and select in, or
    holds a single value. The two middle values of an even count are
    averaged in float64, as ``numpy.median`` does on ``map_statistics``'
    float64 copy.
    """
    n = moments.count
    if n == 0:
        return statistics_dict(float("nan"), float("nan"), float("nan"))
    mean_shifted = moments.total / n
    std = math.sqrt(max(moments.squares / n - mean_shifted**2, 0.0))
    values = resolution_map.ravel()
    ranks = np.array([n // 2] if n % 2 else [n // 2 - 1, n // 2])
    a, b, below = -np.inf, np.inf, 0
    histogram, low, scale = moments.histogram, moments.low, moments.scale
    n_chunks = _kernels._n_chunks(values.size)
    for _ in range(_MEDIAN_PASSES):
        # the bins holding the ranks, widened by one bin for the rounding of the binning
        cumulative = np.cumsum(histogram)
        first, last = np.searchsorted(cumulative, ranks[[0, -1]] - below, side="right")
        if first > 0:
            a = max(a, low + (first - 1) / scale)
        if last < histogram.size - 1:
            b = min(b, low + (last + 2) / scale)
        # finer bins over the new range (an open end keeps the old bins on that side)
        if np.isfinite(a) and np.isfinite(b) and b > a:
            low, scale = a, _HISTOGRAM_BINS / (b - a)
        partial = np.zeros((n_chunks, 3))
        parts = np.zeros((n_chunks, _HISTOGRAM_BINS), np.int64)
        _kernels._in_threads(_range_histogram_numba, n_chunks, values, a, b, low, scale, partial, parts)
        below = int(partial[:, 0].sum())
        histogram = parts.sum(axis=0)
        inside = int(histogram.sum())
        if not (below <= ranks[0] and ranks[-1] < below + inside):  # pragma: no cover - by construction
            raise RuntimeError("median selection lost the middle values")
        seen_low, seen_high = partial[:, 1].min(), partial[:, 2].max()
        if seen_low == seen_high:
            median = float(seen_low)
            break
        if inside <= _MEDIAN_GATHER:
            break
    if seen_low != seen_high:  # collect the range (after the last pass, however large)
        picked = np.empty(inside)
        _values_in_range_numba(values, a, b, picked)
        middle = ranks - below
        picked.partition(middle)
        median = sum(float(picked[m]) for m in middle) / middle.size
    return statistics_dict(median, moments.shift + mean_shifted, std)


def _active_boxes(mask: np.ndarray, centers: tuple) -> np.ndarray:
    """Boxes needed to interpolate the map at every pixel of the mask.

    Along an axis with centres ``c_0 < ... < c_{m-1}``, cell ``j`` holds the
    pixels ``c_{j-1} <= x < c_j`` (cell 0 and cell ``m`` lie beyond the outer
    centres); its pixels are interpolated from boxes ``j - 1`` and ``j``. So
    box ``j`` is needed when cell ``j`` or ``j + 1`` contains a mask pixel.
    """
    return _boxes_from_cells(_cell_occupancy(mask, centers, mask.shape))


def _cell_occupancy(mask_block, centers: tuple, shape: tuple, origin=None) -> np.ndarray:
    """Which interpolation cells (see :func:`_active_boxes`) hold a mask pixel.

    ``mask_block`` is the block of a mask of shape ``shape`` starting at
    ``origin``; the cells are reduced axis by axis, so occupancies of the
    blocks of a chunked mask combine with a logical or.
    """
    occupancy = np.zeros(tuple(c.size + 1 for c in centers), dtype=bool)
    if np.size(mask_block):
        first, local = _cell_occupancy_local(mask_block, centers, shape, origin)
        occupancy[tuple(slice(f, f + n) for f, n in zip(first, local.shape))] = local
    return occupancy


def _cell_occupancy_local(mask_block, centers: tuple, shape: tuple, origin=None):
    """Occupancy of the cells that a non-empty mask block touches.

    Returns the index of its first cell per axis and the occupancy of the
    range of cells it spans (small, whatever the size of the whole grid).
    """
    cells = np.asarray(mask_block) != 0
    origin = (0,) * cells.ndim if origin is None else origin
    kept = []
    for axis, (c, n, o) in enumerate(zip(centers, shape, origin)):
        inner = np.clip(np.ceil(c).astype(np.int64), 0, n)
        cell = np.searchsorted(inner, np.arange(o, o + cells.shape[axis]), side="right")
        first = np.flatnonzero(np.concatenate(([True], cell[1:] != cell[:-1])))
        cells = np.logical_or.reduceat(cells, first, axis=axis)
        kept.append(cell[first])
    local = np.zeros(tuple(int(k[-1] - k[0] + 1) for k in kept), dtype=bool)
    local[np.ix_(*[k - k[0] for k in kept])] = cells
    return tuple(int(k[0]) for k in kept), local


def _boxes_from_cells(occupancy: np.ndarray) -> np.ndarray:
    """Box ``j`` (per axis) is needed when cell ``j`` or ``j + 1`` is occupied."""
    for axis in range(occupancy.ndim):
        head = np.take(occupancy, np.arange(occupancy.shape[axis] - 1), axis=axis)
        tail = np.take(occupancy, np.arange(1, occupancy.shape[axis]), axis=axis)
        occupancy = head | tail
    return occupancy


# --------------------------------------------------------------------------- validation
def _check_values(array: np.ndarray, name: str) -> None:
    """Reject NaN/inf and constant inputs.

    Real integer/float32/float64 data take one compiled read
    (:func:`._kernels.block_stats`: its sum is non-finite exactly when a
    value is, or when a float64 sum overflows, which the exact check then
    clears) instead of three numpy passes.
    """
    if _kernels.HAVE_NUMBA and array.dtype.kind in "iuf" and array.dtype.itemsize in (1, 2, 4, 8) \
            and array.dtype != np.float16:
        view = array[np.newaxis] if array.ndim == 2 else array
        total, _, low, high = _kernels.block_stats(view, np.ones(view.shape[0]), np.ones(view.shape[1:]))
        if not math.isfinite(total):
            check_finite(array, name)
        constant = low == high
    else:
        check_finite(array, name)
        parts = (array.real, array.imag) if array.dtype.kind == "c" else (array,)
        constant = all(part.min() == part.max() for part in parts)
    if constant:
        raise ValueError(f"{name} is constant: its Fourier correlation is undefined")


def _check_box_size(box_size, shape) -> int:
    box_size = check_positive_int(box_size, "box_size")
    if box_size < MIN_BOX_SIZE:
        raise ValueError(
            f"box_size must be at least {MIN_BOX_SIZE} pixels (a box of b pixels has only b//2 "
            f"shells); got {box_size}"
        )
    if box_size > min(shape):
        raise ValueError(
            f"box_size must not exceed the smallest dimension of the input, {min(shape)} "
            f"(shape {tuple(shape)}); got {box_size}"
        )
    return box_size


def _check_memory_limit(memory_limit) -> float:
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, numbers.Real):
        raise ValueError(f"memory_limit must be a positive number of bytes; got {memory_limit!r}")
    value = float(memory_limit)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"memory_limit must be a positive number of bytes; got {memory_limit!r}")
    return value


def _check_workers(workers) -> int:
    if workers is None:
        return default_workers()
    return check_positive_int(workers, "workers")


# --------------------------------------------------------------------------- estimator
def _bytes_per_box(box_shape, real_itemsize: int, complex_input: bool) -> int:
    voxels = int(np.prod(box_shape))
    spectrum = voxels if complex_input else voxels // box_shape[-1] * (box_shape[-1] // 2 + 1)
    buffer_itemsize = 2 * real_itemsize if complex_input else real_itemsize
    # one tapered-box buffer (reused for both halves) + two spectra
    return voxels * buffer_itemsize + 2 * spectrum * 2 * real_itemsize


def _batch_plan(n_boxes: int, per_box: int, memory_limit: float, workers: int):
    """Pipelines (threads), boxes per batch and number of batches.

    A batch is at most ``_PIPELINE_BYTES`` (and its share of
    ``memory_limit``) so that it stays in cache from its cut to its sums;
    work worth more than ``_SPLIT_BYTES`` is spread over ``workers``
    pipelines. Batches are of equal size (no straggler at the end).
    """
    cap = int(max(1, min(_PIPELINE_BYTES, memory_limit / workers) // per_box))
    n_batches = max(-(-n_boxes // cap), min(workers, n_boxes * per_box // _SPLIT_BYTES), 1)
    n_batches = min(n_batches, n_boxes)
    batch = -(-n_boxes // n_batches)
    n_batches = -(-n_boxes // batch)
    return min(workers, n_batches), batch, n_batches


def _box_shell_sums(
    views, corners, box_size, ndim, complex_input, dtype, memory_limit, workers, show_progress=True
):
    """Shell sums of every box of both halves, in batches sized to ``memory_limit``.

    ``workers`` threads each run a pipeline over batches taken in turn: each
    half's boxes are cut, centred and tapered into the pipeline's buffer and
    transformed by one batched FFT (single-threaded) into its spectrum
    buffer; the shell sums of all boxes of the batch come from one kernel
    call. Buffers are allocated once per pipeline and every kernel releases
    the GIL, so the pipelines run in parallel. Each box is computed the same
    way whatever the batching, so the sums do not depend on it.
    Returns the sums ``(n_boxes, 5, box_size // 2 + 1)``, the batch size and
    the number of batches.
    """
    box_shape = (box_size,) * ndim
    taper = hann_profile(box_size)
    profiles = (np.ones(1), taper, taper) if ndim == 2 else (taper, taper, taper)
    buffer_shape = (1, box_size, box_size) if ndim == 2 else box_shape
    freqs = shell_frequencies(box_shape, real=not complex_input)
    last_weights = np.ones(freqs[-1].size) if complex_input else hermitian_weights(box_size)
    if ndim == 2:
        freqs = [np.zeros(1)] + freqs
    n_bins = box_size // 2 + 1
    fft_axes = (1, 2, 3) if ndim == 3 else (2, 3)
    transform = fftn_into if complex_input else rfftn_into
    buffer_dtype = np.result_type(dtype, np.complex64) if complex_input else np.dtype(dtype)
    spectrum_dtype = np.result_type(dtype, np.complex64)
    spectrum_shape = buffer_shape if complex_input else buffer_shape[:-1] + (box_size // 2 + 1,)

    n_boxes = corners.shape[0]
    per_box = _bytes_per_box(box_shape, np.dtype(dtype).itemsize, complex_input)
    threads, batch, n_batches = _batch_plan(n_boxes, per_box, memory_limit, workers)
    sums = np.zeros((n_boxes, _kernels.N_SUMS, n_bins))
    batches = iter(
        progress(range(n_batches), total=n_batches, desc=f"local {('FRC', 'FSC')[ndim - 2]}",
                 enabled=None if show_progress else False)
    )
    lock = threading.Lock()

    def pipeline():
        buffer = np.empty((batch,) + buffer_shape, buffer_dtype)
        spectra = [np.empty((batch,) + spectrum_shape, spectrum_dtype) for _ in views]
        while True:
            with lock:  # the shared iterator also draws the progress bar
                i = next(batches, None)
            if i is None:
                return
            lo, hi = i * batch, min((i + 1) * batch, n_boxes)
            n = hi - lo
            for view, spectrum in zip(views, spectra):
                _kernels.window_boxes(view, corners[lo:hi], profiles, buffer[:n])
                transform(buffer[:n], spectrum[:n], fft_axes, 1)
            sums[lo:hi] = _kernels.batched_shell_sums(
                spectra[0][:n], spectra[1][:n], freqs, last_weights, n_bins
            )

    if threads == 1:
        pipeline()
    else:
        with ThreadPoolExecutor(max_workers=threads - 1) as pool:
            others = [pool.submit(pipeline) for _ in range(threads - 1)]
            pipeline()
            for future in others:
                future.result()
    # the DC bin holds only round-off once each box's weighted mean is removed
    sums[:, :4, 0] = 0.0
    return sums, batch, n_batches


def _box_curves(sums: np.ndarray, complex_input: bool) -> np.ndarray:
    """FSC per box and shell (D1: signed real part; modulus for complex input)."""
    cross_re, cross_im, power1, power2 = (sums[:, row] for row in range(4))
    cross = np.hypot(cross_re, cross_im) if complex_input else cross_re
    denominator = np.sqrt(power1 * power2)
    curves = np.full(cross.shape, np.nan)
    np.divide(cross, denominator, out=curves, where=denominator > 0)
    return curves


def local_fsc(
    vol1: np.ndarray,
    vol2: np.ndarray,
    *,
    pixel_size: float = 1.0,
    box_size: int = 32,
    step: int | None = None,
    threshold: str | float = 0.143,
    mask: np.ndarray | None = None,
    memory_limit: float = 1e9,
    workers: int | None = None,
    unit: str | None = None,
) -> LocalFSCResult:
    """Local resolution map from block-wise FSC (3-D) or FRC (2-D) of two halves.

    Parameters
    ----------
    vol1, vol2 : ndarray or dask.array.Array
        Two independent half reconstructions (2-D images or 3-D volumes
        ``[slices, rows, cols]``) of the same shape, real or complex. Integers
        are computed in float32, float32 stays float32, float64 stays float64.
        Inputs are never modified. Dask arrays (optional extra ``[dask]``) are
        computed as a task graph on the current scheduler or
        ``dask.distributed`` client; see Notes. h5py datasets and zarr arrays
        are loaded into memory: wrap them in ``dask.array.from_array`` to
        process them chunk by chunk.
    pixel_size : float, optional
        Size of a pixel; ``resolution_map_phys`` is in its unit.
    box_size : int, optional
        Side of the cubic (square) box, 8 .. ``min(shape)``. Default 32.
    step : int, optional
        Distance between neighbouring box corners (and centres); default
        ``box_size // 2`` (50 % overlap). The last box along an axis is
        flush with the border, so its distance to the previous one may be
        smaller.
    threshold : float or {'halfbit', 'onebit'}, optional
        Criterion. Default 0.143, Rosenthal & Henderson's fixed 1/7 (not the
        half-bit curve). ``'halfbit'``/``'onebit'`` use the information curves
        of van Heel & Schatz with each box's own voxel counts per shell.
    mask : ndarray or dask.array.Array, optional
        Sample support (binary or soft, input shape). Only the boxes needed to
        interpolate the map inside the mask are computed; the map is NaN where
        ``mask == 0`` and the statistics are taken inside the mask. The mask
        selects boxes only; it does not weight the data.
    memory_limit : float, optional
        Bytes available for the box buffers and spectra of the batches in
        flight, one per thread (default 1e9; batches are capped at 16 MiB
        anyway, which keeps them in cache). At least one box is processed
        per batch. With dask
        inputs it holds per task and is capped at 128 MiB (a worker runs one
        task per thread); each task also holds its region of both inputs
        (about 64 MiB each at most).
    workers : int, optional
        Threads, each running the cut-transform-sum pipeline on its own
        batches; default all available cores. Ignored for
        dask inputs: there the scheduler runs one task per thread and each
        task computes on one thread.
    unit : str, optional
        Name of the unit of ``pixel_size`` (e.g. ``'nm'``).

    Returns
    -------
    LocalFSCResult
        The map (full period, pixels, input shape; a lazy dask array for dask
        inputs), per-box frequencies, curves and flags, the box-centre grid
        and statistics.

    Raises
    ------
    ValueError
        Shapes differ, NaN/inf values, a constant input, ``box_size`` < 8 or
        larger than the smallest dimension, ``step`` < 1, an unknown
        threshold, a bad mask (negative values included) or a non-positive
        ``memory_limit``.
    ImportError
        A dask input without the optional dependencies
        (``pip install 'toupy-resolution[dask]'``).

    Warns
    -----
    ResolutionWarning
        If the halves are not independent (the same data twice, or one an
        affine function of the other: ``|FSC|`` of the boxes' summed spectra
        above ``1 - 1e-6`` on every shell); kept in the result's ``warnings``.
        If some boxes hold a region constant and equal in both halves (zero
        padding outside a reconstruction circle, a mask applied to both
        halves) above half the smallest threshold value (taper-power-weighted
        fraction, from 8 samples per box axis): that shared edge correlates
        the halves up to Nyquist; the boxes stay in the map and are flagged in
        ``box_partly_outside`` (``box_shared_fraction`` holds the fractions).

    Notes
    -----
    Each box has ``box_size // 2 + 1`` shells of width ``1/box_size``
    cycles/pixel, so local frequencies are resolved to about one shell and a
    map is only as fine as ``step``. Choose the box at least 5-7 times the
    expected resolution (Bsoft's rule of thumb): in a 32-pixel 2-D box shell 5
    holds about 31 Fourier pixels, where noise alone reaches FSC ~ 0.5 at
    3 sigma, so a fixed 0.143 threshold is met by noise and small boxes give
    optimistic resolutions; ``'halfbit'`` accounts for the box's own counts
    and is the safer choice for small boxes. The Hann taper also correlates
    neighbouring Fourier samples, which widens the noise of the curves.
    Values are estimated on the centre grid and interpolated as frequencies
    (linear; nearest value beyond the outer centres), then inverted; a pixel
    whose nearest box never rises above the threshold is NaN and a box whose
    curve never drops is reported at the Nyquist limit (2 px for even boxes)
    and flagged in ``box_nyquist_limited``. For real inputs the FSC is the
    signed real part of the cross sum; for complex inputs the modulus of the
    complex sum (insensitive to a global phase offset).

    Dask inputs give the in-memory numbers: the box grid is the same global
    grid, and each task evaluates the boxes whose corner lies in one chunk of
    ``vol1``, reading that chunk and the ``box_size - 1`` pixels after it
    along each axis (chunks larger than about 64 MiB are split, runs of
    chunks narrower than a box merged, first). Only
    per-box shell sums (``5 x (box_size // 2 + 1)`` numbers per box) return
    to the client, where curves and crossings are found. The full-size map
    stays lazy: a dask array whose blocks are interpolated from the box grid
    when computed, so a map larger than the client's memory is never held;
    its statistics are computed exactly (the median by histogram
    refinement) in a few passes over the blocks. The same graph checks every
    value for NaN/inf, and a dask ``mask`` is read once to select the boxes.
    Chunks a few boxes wide per axis balance the extra reading of the
    ``box_size - 1`` overlap against the number of tasks. No progress bar is
    drawn for dask inputs: watch the dashboard of a distributed client, or
    call inside ``with dask.diagnostics.ProgressBar():``.

    Examples
    --------
    >>> import numpy as np
    >>> from toupy.resolution import local_fsc
    >>> rng = np.random.default_rng(0)
    >>> obj = rng.standard_normal((128, 128)).astype(np.float32)
    >>> half1 = obj + 0.1 * rng.standard_normal(obj.shape).astype(np.float32)
    >>> half2 = obj + 0.1 * rng.standard_normal(obj.shape).astype(np.float32)
    >>> res = local_fsc(half1, half2, box_size=32, pixel_size=20.0, unit='nm')
    >>> res.resolution_map.shape
    (128, 128)
    >>> bool(res.box_nyquist_limited.all())
    True

    The same with dask arrays (a lazy map, the same numbers):

    >>> import dask.array as da
    >>> lazy = local_fsc(da.from_array(half1, chunks=48), da.from_array(half2, chunks=48),
    ...                  box_size=32, pixel_size=20.0, unit='nm')
    >>> type(lazy.resolution_map).__name__, lazy.extras['n_tasks']
    ('Array', 9)
    >>> bool((lazy.resolution_map.compute() == res.resolution_map).all())
    True
    """
    dask_input = is_dask_array(vol1) or is_dask_array(vol2)
    if dask_input:
        require_dask()
    a, b = check_pair(vol1, vol2, names=("vol1", "vol2"))
    shape = tuple(a.shape)
    box_size = _check_box_size(box_size, shape)
    step = box_size // 2 if step is None else check_positive_int(step, "step")
    threshold = validate_threshold(threshold)
    pixel_size = check_pixel_size(pixel_size)
    ndim = len(shape)
    # box grid, and the boxes actually evaluated
    grid_starts = [box_starts(n, box_size, step) for n in shape]
    grid_shape = tuple(s.size for s in grid_starts)
    centers = tuple(s + (box_size - 1) / 2.0 for s in grid_starts)
    memory_limit = _check_memory_limit(memory_limit)
    workers = _check_workers(workers)
    if dask_input:
        a, b = _as_dask_pair(a, b)
        mask, map_mask, computed = _dask_mask(mask, shape, centers, a.chunks)
    else:
        # h5py / zarr inputs are loaded here, in the machine's byte order
        a, b = (native_order(np.asarray(x)) for x in (a, b))
        mask = check_mask(mask, shape)
        computed = np.ones(grid_shape, dtype=bool) if mask is None else _active_boxes(mask, centers)
        for array, name in ((a, "vol1"), (b, "vol2")):
            _check_values(array, name)

    complex_input = a.dtype.kind == "c" or b.dtype.kind == "c"
    dtype = work_dtype(a, b)
    box_ids = np.flatnonzero(computed)
    corners = np.stack(
        [g.ravel() for g in np.meshgrid(*grid_starts, indexing="ij")], axis=1
    )[box_ids]
    if dask_input:
        sums, shared, extras = _dask_box_shell_sums(
            a, b, corners, box_size, complex_input, dtype, memory_limit
        )
    else:
        views = [_slab_view(x, dtype) for x in (a, b)]
        slab = _slab_corners(corners)
        sums, batch, n_batches = _box_shell_sums(
            views, slab, box_size, ndim, complex_input, dtype, memory_limit, workers
        )
        shared = _shared_fraction(views, slab, box_size, ndim)
        extras = {"batch_size": batch, "n_batches": n_batches}
    curves = _box_curves(sums, complex_input)
    n_bins = box_size // 2 + 1
    record = []
    # the sums of all boxes: identical or affine halves are so in every box
    warn_if_dependent(sums.sum(axis=0), complex_input, n_bins, record, "vol1 and vol2", stacklevel=4)
    # every box has the same geometry, hence the same counts (a non-empty mask leaves >= 1 box)
    n_per_shell = sums[0, 4].copy()
    thresholds = threshold_curve(n_per_shell, threshold)
    crossing, limited = first_crossing(curves, thresholds)
    support = _shared_support(shared, thresholds)
    _warn_shared_support(support, record)

    box_frequency = np.full(grid_shape, np.nan)
    box_frequency.flat[box_ids] = crossing / box_size
    box_limited = np.zeros(grid_shape, dtype=bool)
    box_limited.flat[box_ids] = limited
    box_fsc = np.full(grid_shape + (n_bins,), np.nan)
    box_fsc.reshape(-1, n_bins)[box_ids] = curves
    box_shared = np.full(grid_shape, np.nan)
    box_shared.flat[box_ids] = support.fraction
    box_outside = np.zeros(grid_shape, dtype=bool)
    box_outside.flat[box_ids] = support.flagged

    map_dtype = np.dtype(dtype)
    if dask_input:
        resolution_map = _dask_resolution_map(box_frequency, centers, a.chunks, map_dtype, map_mask)
        # the map interpolates valid box frequencies: its values lie between their inverses
        valid = box_frequency[np.isfinite(box_frequency) & (box_frequency > 0)]
        bounds = (0.999999 / valid.max(), 1.000001 / valid.min()) if valid.size else None
        stats = dask_map_statistics(resolution_map, map_mask, value_range=bounds)
    else:
        resolution_map, moments = _interpolated_resolution(box_frequency, centers, shape, map_dtype, mask)
        if moments is None:
            stats = map_statistics(resolution_map, mask)
        else:
            stats = _statistics_from_moments(resolution_map, moments)
    return LocalFSCResult(
        resolution_map=resolution_map,
        box_centers=centers,
        box_frequency=box_frequency,
        box_nyquist_limited=box_limited,
        box_computed=computed,
        box_fsc=box_fsc,
        frequency_cpx=np.arange(n_bins) / box_size,
        n_per_shell=n_per_shell,
        threshold_curve=thresholds,
        **stats,
        threshold=threshold,
        box_size=box_size,
        step=step,
        pixel_size=pixel_size,
        unit=length_unit(pixel_size, unit),
        shape=tuple(shape),
        masked=mask is not None,
        complex_input=complex_input,
        extras=extras,
        warnings=tuple(record),
        box_shared_fraction=box_shared,
        box_partly_outside=box_outside,
    )


# --------------------------------------------------------------------------- shared by both executors
def _slab_view(x, dtype) -> np.ndarray:
    """The data as the box kernel reads them: slab view, exotic dtypes lifted."""
    # the compiled box kernel reads integers and float32/64 directly; lift the rest
    if x.dtype.kind == "b" or x.dtype in (np.float16, np.longdouble):
        x = x.astype(dtype)
    x = native_order(x)
    return x[np.newaxis] if x.ndim == 2 else x


@dataclass(frozen=True)
class _SharedSupport:
    """Boxes whose halves share a constant region (the edge of the data's support).

    ``fraction`` is per evaluated box, ``limit`` the fraction above which a
    box is flagged (``flagged``).
    """

    fraction: np.ndarray
    limit: float
    flagged: np.ndarray


def _box_samples(box_size: int, ndim: int):
    """Offsets (per box axis) sampled for the shared-support fraction, and their weights.

    Samples spread evenly over the box, 8 per axis (all
    pixels of an 8-pixel box): 64 (2-D) or 512 (3-D) per box, against
    ``box_size ** ndim`` pixels. Each sample weighs the taper's power there,
    since a shared pixel enters the tapered box (and its spectrum) scaled by it.
    """
    m = min(box_size, 8)
    offsets = (np.arange(m) * box_size) // m + (box_size // m) // 2
    taper = hann_profile(box_size)[offsets] ** 2
    weights = np.einsum("i,j->ij", taper, taper) if ndim == 2 else np.einsum("i,j,k->ijk", taper, taper, taper)
    return offsets, weights.reshape((1,) * (3 - ndim) + weights.shape) / weights.sum()


def _shared_fraction(views, corners, box_size, ndim, boxes_per_call=4096) -> np.ndarray:
    """Weighted fraction of each box's sampled pixels held constant in both halves.

    A sample counts when the two halves are equal there and at its
    neighbour along the last axis, and each half is the same at both: a
    region of one value in both halves (zero padding, a mask applied to
    both), which independent noise never produces and a chance coincidence
    of integer counts rarely does. ``views``/``corners`` are the slab views
    and corners of :func:`_box_shell_sums`; both executors call this on the
    same boxes, so they give the same fractions.
    """
    offsets, weights = _box_samples(box_size, ndim)
    neighbour = np.where(offsets + 1 < box_size, offsets + 1, offsets - 1)
    first = offsets[:1] * 0 if ndim == 2 else offsets
    a, b = views
    out = np.empty(corners.shape[0])
    for lo in range(0, corners.shape[0], boxes_per_call):
        c = corners[lo:lo + boxes_per_call]
        i = (c[:, 0, None] + first)[:, :, None, None]
        j = (c[:, 1, None] + offsets)[:, None, :, None]
        here = (c[:, 2, None] + offsets)[:, None, None, :]
        there = (c[:, 2, None] + neighbour)[:, None, None, :]
        constant = a[i, j, here] == b[i, j, here]
        # clean halves (almost) never agree: read the neighbours only where they do
        if constant.any():
            a1 = a[i, j, there]
            constant &= (a1 == b[i, j, there]) & (a1 == a[i, j, here])
        out[lo:lo + boxes_per_call] = (constant * weights).sum(axis=(1, 2, 3))
    return out


def _shared_support(fraction: np.ndarray, thresholds: np.ndarray) -> _SharedSupport:
    """Flag the boxes whose shared constant region can set their crossing.

    Why half the smallest threshold: shared pixels that differ from the
    box's mean by about the noise level (padding of a reconstruction whose
    mean is of the order of its noise, the common case) add a component
    common to both halves with a fraction ``p`` of the box's power in every
    shell, hence a floor of about ``p`` under the curve, and more below
    (an edge's power falls off with frequency but starts higher). A floor
    at half the threshold already moves a crossing by shells; a few
    constant pixels (``p`` of a percent) stay far below it.
    """
    finite = thresholds[1:][np.isfinite(thresholds[1:])]
    limit = 0.5 * float(finite.min()) if finite.size else 0.5
    return _SharedSupport(fraction, limit, fraction > limit)


def _warn_shared_support(support: _SharedSupport, record: list) -> None:
    n = int(support.flagged.sum())
    if n:
        warn_assumption(
            f"{n} of {support.fraction.size} boxes have more than {support.limit:.0%} of their "
            f"(taper-weighted) pixels constant and equal in both halves (largest "
            f"{support.fraction.max():.0%}): the shared edge of the support (zeros outside the "
            "reconstruction circle, a mask applied to both halves) correlates the halves up to "
            "Nyquist, so these boxes (flagged in box_partly_outside) measure that edge, not the "
            "sample; pass mask= of the reconstructed region or crop the halves to it",
            record,
        )


def _slab_corners(corners: np.ndarray) -> np.ndarray:
    """Box corners in the slab view (a leading 0 for 2-D inputs)."""
    if corners.shape[1] == 3:
        return corners
    return np.concatenate([np.zeros((corners.shape[0], 1), np.int64), corners], axis=1)


# --------------------------------------------------------------------------- dask executor
# One task per chunk of vol1 (chunks larger than about REGION_BYTES are split,
# runs of chunks narrower than a box merged, first): it evaluates the boxes
# whose corner lies in the chunk, reading the chunk and the box_size - 1
# pixels after it, and returns their shell sums. The grid of boxes is the
# global one, so every box is the in-memory box and the sums are the
# in-memory sums. The map is a lazy dask array built block by block from the
# (small) grid of box frequencies.
def _as_dask_pair(a, b):
    _, da = require_dask()
    if not is_dask_array(a):
        a = da.from_array(np.asarray(a), chunks=b.chunks)
    if not is_dask_array(b):
        b = da.from_array(np.asarray(b), chunks=a.chunks)
    return a, b


def _mask_block_summary(block, centers, shape, origin):
    block = np.asarray(block)
    finite = block.dtype.kind not in "fc" or bool(np.isfinite(block).all())
    if block.size == 0:
        return finite, False, 0.0, None
    first, occupancy = _cell_occupancy_local(block, centers, shape, origin)
    return finite, bool(np.any(block != 0)), float(block.min()), (first, occupancy)


def _dask_mask(mask, shape, centers, chunks):
    """Validated mask (as given), its dask ``mask != 0`` on ``chunks``, and the boxes needed.

    A dask mask is read once, block by block: the checks of
    :func:`._validate.check_mask` and the interpolation cells it occupies.
    """
    dask, da = require_dask()
    grid = tuple(c.size for c in centers)
    if mask is None:
        return None, None, np.ones(grid, dtype=bool)
    if not is_dask_array(mask):
        mask = check_mask(mask, shape)
        return mask, da.from_array(mask != 0, chunks=chunks), _active_boxes(mask, centers)
    if mask.dtype.kind not in "biuf":
        raise ValueError(f"mask must be a real (soft or binary) array; got dtype {mask.dtype}")
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"mask must have the input shape {tuple(shape)}; got {tuple(mask.shape)}")
    edges = chunk_edges(mask.chunks)
    blocks = mask.to_delayed()
    tasks = [
        dask.delayed(_mask_block_summary)(
            blocks[index], centers, shape, tuple(int(e[i]) for e, i in zip(edges, index))
        )
        for index in np.ndindex(blocks.shape)
    ]
    summaries = dask.compute(*tasks)
    check_finite([finite for finite, _, _, _ in summaries], "mask")
    check_nonnegative_weights(min(low for _, _, low, _ in summaries), "mask")
    if not any(nonzero for _, nonzero, _, _ in summaries):
        raise ValueError("mask is zero everywhere: nothing would be correlated")
    occupancy = np.zeros(tuple(n + 1 for n in grid), dtype=bool)
    for _, _, _, part in summaries:
        if part is not None:
            first, local = part
            occupancy[tuple(slice(f, f + n) for f, n in zip(first, local.shape))] |= local
    return mask, (mask != 0).rechunk(chunks), _boxes_from_cells(occupancy)


def _region_box_sums(pieces1, pieces2, starts, lo, hi, corners, box_size, complex_input, dtype,
                     memory_limit):
    """Shell sums of the boxes with ``corners`` (relative to ``lo``) of one region."""
    views = [_slab_view(assemble_region(p, starts, lo, hi), dtype) for p in (pieces1, pieces2)]
    slab = _slab_corners(corners)
    with single_threaded():
        sums, batch, n_batches = _box_shell_sums(
            views, slab, box_size, len(lo), complex_input, dtype, memory_limit, 1, show_progress=False,
        )
    return sums, batch, n_batches, _shared_fraction(views, slab, box_size, len(lo))


def _dask_box_shell_sums(x1, x2, corners, box_size, complex_input, dtype, memory_limit):
    """Shell sums of the boxes at ``corners`` (global grid) of two dask arrays, as one graph.

    The same graph reads every chunk once for the finite/constant checks of
    the in-memory path; they are applied before any sum is used.
    """
    dask, _ = require_dask()
    ndim = x1.ndim
    itemsize = max(x1.dtype.itemsize, x2.dtype.itemsize)
    side = int(round((_dask.REGION_BYTES / itemsize) ** (1.0 / ndim)))
    chunks = balance_chunks(x1.chunks, box_size, max(side - box_size + 1, box_size))
    x1 = x1 if x1.chunks == chunks else x1.rechunk(chunks)
    x2 = x2 if x2.chunks == chunks else x2.rechunk(chunks)
    edges = chunk_edges(chunks)
    blocks = [x1.to_delayed(), x2.to_delayed()]

    # owner of a box: the chunk holding its corner
    owner = np.stack(
        [np.searchsorted(e, corners[:, axis], side="right") - 1 for axis, e in enumerate(edges)], axis=1
    )
    _, group = np.unique(owner, axis=0, return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(group))[:-1])
    tasks = []
    for ids in members:
        own = corners[ids]
        lo, hi = own.min(axis=0), own.max(axis=0) + box_size
        pieces1, starts = region_blocks(blocks[0], edges, lo, hi)
        pieces2, _ = region_blocks(blocks[1], edges, lo, hi)
        tasks.append(dask.delayed(_region_box_sums)(
            pieces1, pieces2, starts, tuple(int(v) for v in lo), tuple(int(v) for v in hi),
            own - lo, box_size, complex_input, dtype, min(memory_limit, _dask.TASK_BATCH_BYTES),
        ))
    checks = [[dask.delayed(chunk_value_checks)(block) for block in b.ravel()] for b in blocks]
    results, checks1, checks2 = dask.compute(tasks, *checks)
    for name, per_chunk in (("vol1", checks1), ("vol2", checks2)):
        finite, constant = combine_value_checks(per_chunk)
        check_finite(finite, name)
        if constant:
            raise ValueError(f"{name} is constant: its Fourier correlation is undefined")
    n_bins = box_size // 2 + 1
    sums = np.zeros((corners.shape[0], _kernels.N_SUMS, n_bins))
    shared = np.zeros(corners.shape[0])
    for ids, (part, _, _, fraction) in zip(members, results):
        sums[ids] = part
        shared[ids] = fraction
    extras = {
        "batch_size": max(r[1] for r in results),
        "n_batches": sum(r[2] for r in results),
        "n_tasks": len(tasks),
        "chunks": tuple(tuple(int(c) for c in axis) for axis in chunks),
    }
    return sums, shared, extras


def _map_block(grid_freq, mask_block=None, *, centers, map_dtype, block_info=None):
    location = block_info[None]["array-location"]
    shape = tuple(b - a for a, b in location)
    origin = tuple(a for a, _ in location)
    mask_block = None if mask_block is None else np.asarray(mask_block)
    # a dask task: the scheduler already runs one task per core
    return _frequency_map_to_resolution(
        grid_freq, centers, shape, map_dtype, mask_block, origin, parallel=False
    )


def _dask_resolution_map(box_frequency, centers, chunks, dtype, map_mask):
    """The resolution map as a lazy dask array on ``chunks`` (one block per chunk)."""
    dask, da = require_dask()
    grid = dask.delayed(box_frequency)  # one key, not a copy per block
    args = (grid,) if map_mask is None else (grid, map_mask)
    return da.map_blocks(
        _map_block, *args, centers=centers, map_dtype=dtype, dtype=dtype, chunks=chunks,
        meta=np.empty((0,) * len(chunks), dtype),
    )
