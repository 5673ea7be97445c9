"""Dask executor of :func:`._localres.local_resolution` (optional extra ``[dask]``).

The in-memory method filters the whole map with periodic convolutions on the
FFT grid. Both filters are local — the band filter ``h_i`` (the inverse
transform of the Gaussian band ``H_i``) and the Gaussian window ``g`` — so the
band energy of a voxel depends only on the map within ``depth = d_band +
d_window`` of it. The executor therefore

1. streams the global quantities with small per-chunk reductions: finite and
   constant checks and the mean (one pass), the noise level (corner boxes, the
   ``noise_mask`` voxels, or the per-shell power of the whole map through the
   Dask FFT engine of :mod:`._dask`), the size of the sample mask;
2. computes the null law of every band on the client, from the band filter and
   the window on the global grid (a reduced grid that holds the window's lags
   and the extent of the band correlation when the map is large, see
   :func:`null_laws`), so every chunk is tested against the in-memory law;
3. runs the band tests per chunk: each chunk is read with ``depth`` voxels of
   its periodic neighbours (``dask.array.overlap`` with periodic boundaries,
   since the in-memory filters are periodic), the global mean is removed, and
   the in-memory kernels filter, square, smooth and test the padded block; only
   its interior is kept. Axes whose padded chunk would span the whole axis are
   taken whole, and are then exact.

A jump across opposite faces (a map that is not periodic) cannot be removed
chunk by chunk: it is measured as in memory (:func:`._localres.face_jump_test`
on dask reductions), warned of, and the voxels within
``FACE_MARGIN_SIGMAS`` (4) ``window_sigma`` of those faces are left out of the
mask.

With ``fdr=True`` the Benjamini–Hochberg threshold of each band is found
exactly, without gathering the energies: per-chunk histograms of the
candidate energies (log-spaced in p-value), refined in further passes over
the few bands whose crossing is not yet decided (:func:`bh_from_passes`).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.special

from . import _kernels
from ._correlation import default_workers
from ._dask import (
    GATHER_VALUES,
    SELECT_BINS,
    chunk_value_checks,
    combine_value_checks,
    dask_shell_sums,
    is_dask_array,
    require_dask,
    single_threaded,
)
from ._localres import (
    MASK_SIGNIFICANCE,
    LocalResolutionResult,
    _band_centres,
    _check_bool_mask,
    _chunks,
    _corner_boxes,
    _corner_summary,
    _finalise_numba,
    _finalise_numpy,
    _fill_band_numba,
    _fill_band_numpy,
    _Grid,
    _histogram_numba,
    _histogram_numpy,
    _inverse_in_place,
    _make_result,
    _mark_numba,
    _mark_numpy,
    _mask_noise_stats,
    _noise_from_corner_summaries,
    _noise_from_mask_sums,
    _noise_from_shell_power,
    _NoiseModel,
    FACE_MARGIN_SIGMAS,
    FaceSteps,
    _Null,
    _null_law,
    _pool,
    _real_view,
    _smooth_in_place,
    _update_run_numba,
    _update_run_numpy,
    _value_table,
    check_auto_mask,
    check_flat_corners,
    corner_count,
    face_jump_test,
    region_moments,
    warn_face_jumps,
    warn_empty_auto_mask,
)

__all__ = ["dask_local_resolution", "halo_widths", "plan_chunks", "null_grid_shape", "null_laws",
           "bh_from_passes"]

#: the band filter and the window are cut this many of their widths from a voxel
HALO_SIGMAS = 4.0
#: maps of at most this many voxels get their null law on the global grid itself
NULL_GRID_VOXELS = 1 << 24
#: chunk results combined per task of a tree reduction
_FAN_IN = 8


# ----------------------------------------------------------------------------- geometry
def halo_widths(window_sigma: float, band_sigma: float) -> tuple[int, int]:
    """Overlap (pixels) needed by the band filter and by the window.

    A Gaussian band of standard deviation ``σ_f`` (cycles/pixel) has an
    impulse response whose envelope is a Gaussian of standard deviation
    ``1 / (2π σ_f)`` pixels; the window has ``window_sigma``. Each is cut
    ``HALO_SIGMAS`` (4) of its widths away: the band-passed value of a voxel
    needs the map within ``d_band``, its smoothed square needs those values
    within ``d_window``.
    """
    d_band = int(math.ceil(HALO_SIGMAS / (2.0 * math.pi * band_sigma)))
    d_window = int(math.ceil(HALO_SIGMAS * window_sigma))
    return max(1, d_band), max(1, d_window)


def plan_chunks(shape, chunks, depth: int) -> tuple[tuple, tuple]:
    """Chunks and per-axis overlap of the band tests.

    Along an axis, chunks shorter than ``2 * depth`` are merged with their
    neighbours (a chunk pays ``2 * depth`` of halo; with chunks at least that
    long the padded block is at most twice the chunk). An axis is taken whole,
    without overlap, when it has one chunk or when a padded chunk would cover
    it anyway: its filters are then the in-memory periodic ones exactly.
    """
    out_chunks, depths = [], []
    for n, axis_chunks in zip(shape, chunks):
        axis_chunks = tuple(int(c) for c in axis_chunks)
        merged, acc = [], 0
        for c in axis_chunks:
            acc += c
            if acc >= 2 * depth:
                merged.append(acc)
                acc = 0
        if acc:
            if merged:
                merged[-1] += acc
            else:
                merged.append(acc)
        if len(merged) == 1 or n <= max(merged) + 2 * depth:
            out_chunks.append((int(n),))
            depths.append(0)
        else:
            out_chunks.append(tuple(merged))
            depths.append(int(depth))
    return tuple(out_chunks), tuple(depths)


def _window_lag_extent(n: int, sigma: float) -> int:
    """Largest lag kept by :meth:`_Grid.window_autocorrelation` on an axis of ``n``."""
    f = np.fft.fftfreq(n)
    gg = np.fft.ifft(np.exp(-4.0 * (math.pi * sigma) ** 2 * f**2)).real
    keep = np.flatnonzero(np.abs(gg) > 1e-10 * np.abs(gg).max())
    return int(np.max(np.minimum(keep, n - keep)))


def null_grid_shape(shape, window_sigma: float, d_band: int, *, max_voxels: int = NULL_GRID_VOXELS) -> tuple:
    """Grid on which the null laws are computed.

    The global grid when the map has at most ``max_voxels`` voxels (the
    in-memory laws, exactly). Otherwise each axis is cut to
    ``2 (lag + 2 d_band) + 1`` (a fast FFT length): ``lag`` is the largest lag
    of the window autocorrelation ``g⋆g`` that the variance sums over, and the
    band correlation ``C_i`` (envelope ``√2 / (2π σ_f)``) has decayed by
    ``2 d_band``, so the aliases of the smaller period do not reach the lags.
    """
    shape = tuple(int(n) for n in shape)
    if int(np.prod(shape)) <= max_voxels:
        return shape
    out = []
    for n in shape:
        need = 2 * (_window_lag_extent(n, window_sigma) + 2 * d_band) + 1
        out.append(min(n, scipy.fft.next_fast_len(need, real=True)))
    return tuple(out)


def null_laws(shape, complex_dtype, noise, window_sigma, bands, inv2var, d_band, *, mask_law: bool,
              workers: int, max_voxels: int = NULL_GRID_VOXELS) -> tuple[list, _Null | None]:
    """Null law of every band (and of the automatic mask) for a map of ``shape``.

    On the grid of :func:`null_grid_shape`: the global grid for maps up to
    ``max_voxels`` voxels (then these are the in-memory laws), a reduced one
    otherwise, with the removed mean of the whole map accounted for (see
    :func:`._localres._null_law`).
    """
    grid_shape = null_grid_shape(shape, window_sigma, d_band, max_voxels=max_voxels)
    grid = _Grid(grid_shape)
    lags = grid.window_autocorrelation(window_sigma)
    P = np.empty(grid.spectrum_shape, complex_dtype)
    global_size = int(np.prod(shape))
    nulls = [
        _null_law(P, grid, noise, window_sigma, lags, workers, fc=fc, inv2var=inv2var, global_size=global_size)
        for fc in bands
    ]
    mask_null = _null_law(P, grid, noise, window_sigma, lags, workers, band=False) if mask_law else None
    return nulls, mask_null


# ----------------------------------------------------------------------------- per-chunk work
@dataclass(frozen=True, eq=False)
class _BlockSpec:
    """What every chunk task needs (small; sent with each task)."""

    dtype: str
    mean: float
    depth: tuple  # per axis of the slab view (a 2-D map has a leading 0)
    window_sigma: float
    bands: np.ndarray
    inv2var: float
    mask_mode: str  # 'given', 'auto' or 'field'
    baseline: float
    mask_threshold: float
    counter: str
    shape: tuple = ()  # of the map, slab view
    face_margin: tuple = ()  # per slab axis: voxels next to its faces left out of the mask (0: none)


def _slab(array: np.ndarray) -> np.ndarray:
    return array[np.newaxis] if array.ndim == 2 else array


class _Block:
    """One padded chunk: its copy, grid, work spectrum and run counter.

    ``run`` (interior only, slab view) is -1 outside the sample mask and
    otherwise counts the bands passed in a row from the coarsest, as in memory.
    """

    def __init__(self, padded, mask_block, spec: _BlockSpec, offset=None):
        self.spec = spec
        self.u = np.array(padded, dtype=spec.dtype, order="C")  # our copy: the input is never touched
        self.grid = _Grid(self.u.shape)
        view = self.grid.slab
        self.core = tuple(slice(d, n - d) for d, n in zip(spec.depth, view))
        core_shape = tuple(n - 2 * d for d, n in zip(spec.depth, view))
        complex_dtype = np.result_type(self.u.dtype, np.complex64)
        self.P = np.empty(self.grid.spectrum_shape, complex_dtype)
        self.run = np.zeros(core_shape, np.dtype(spec.counter))
        if spec.mask_mode == "given":
            given = _slab(np.asarray(mask_block) != 0)
            np.subtract(given.view(np.int8), 1, out=self.run, casting="unsafe")
        elif spec.mask_mode == "auto":
            self.run[...] = self._auto_mask()
        if any(spec.face_margin):
            self._drop_face_zones(offset)
        self.any_mask = bool((self.run >= 0).any())
        self.F = None

    def _drop_face_zones(self, offset) -> None:
        """Leave the voxels within ``face_margin`` of the flagged faces out of the mask."""
        start = (0,) * (3 - len(offset)) + tuple(offset)
        for axis, (margin, n, o) in enumerate(zip(self.spec.face_margin, self.spec.shape, start)):
            if not margin:
                continue
            index = o + np.arange(self.run.shape[axis])
            near = (index < margin) | (index >= n - margin)
            where = [slice(None)] * 3
            where[axis] = near
            self.run[tuple(where)] = -1

    def _auto_mask(self) -> np.ndarray:
        """Interior of the automatic mask (0 inside, -1 outside), as in memory."""
        spec, grid = self.spec, self.grid
        real = _real_view(self.P, grid.n_last)
        view = _slab(self.u)
        for i in range(view.shape[0]):
            np.subtract(view[i], spec.baseline, out=real[i])
            np.square(real[i], out=real[i])
        energy = _smooth_in_place(self.P, grid, spec.window_sigma, 1)[self.core]
        marks = np.empty(self.run.shape, self.run.dtype)
        if _kernels.HAVE_NUMBA:
            partial = np.zeros(_chunks(marks.shape[0] * marks.shape[1]), np.int64)
            _mark_numba(energy, spec.mask_threshold, marks, partial)
        else:  # pragma: no cover
            _mark_numpy(energy, spec.mask_threshold, marks)
        return marks

    def energies(self, band_ids):
        """Yield ``(band, interior energy)``; the energy view is reused by the next band."""
        spec, grid = self.spec, self.grid
        if self.F is None:
            self.u -= self.u.dtype.type(spec.mean)  # the global mean, as the in-memory DC removal
            self.F = _slab(scipy.fft.rfftn(self.u, workers=1))
            self.u = None
        f0sq, f1sq, f2sq = grid.fsq
        for i in band_ids:
            fc = float(spec.bands[i])
            if _kernels.HAVE_NUMBA:
                _fill_band_numba(self.F, self.P, f0sq, f1sq, f2sq, fc, spec.inv2var)
            else:  # pragma: no cover
                _fill_band_numpy(self.F, self.P, f0sq, f1sq, f2sq, fc, spec.inv2var)
            # the chunk's DC is local content (the global mean is already removed): keep it
            self.P[0, 0, 0] = self.F[0, 0, 0] * math.exp(-fc * fc * spec.inv2var)
            real = _inverse_in_place(self.P, grid.n_last, 1)
            for j in range(real.shape[0]):
                np.square(real[j], out=real[j])
            yield i, _smooth_in_place(self.P, grid, spec.window_sigma, 1)[self.core]


def _block_stats(block, offset=None, shape=None, sides=None) -> tuple:
    """Finite/min/max per part, the float64 sum and the size of one chunk.

    With ``sides``, also the chunk's :func:`._localres.region_moments` (the
    chunk starts at ``offset`` of a map of ``shape``).
    """
    regions = None if sides is None else region_moments(block, offset, shape, sides)
    return chunk_value_checks(block), float(np.sum(block, dtype=np.float64)), int(np.size(block)), regions


def _block_offsets(chunks) -> list[tuple]:
    """Start of every chunk, in the order of ``to_delayed().ravel()``."""
    starts = [np.concatenate([[0], np.cumsum(c)[:-1]]).astype(int) for c in chunks]
    return [tuple(int(starts[a][i]) for a, i in enumerate(index))
            for index in np.ndindex(*(len(c) for c in chunks))]


def _block_mask_count(block) -> tuple[int, bool, bool]:
    """Non-zero voxels of a chunk of a user mask, whether all its values are finite and
    whether none is negative."""
    block = np.asarray(block)
    finite = block.dtype.kind != "f" or bool(np.isfinite(block).all())
    nonnegative = block.dtype == bool or block.size == 0 or bool(block.min() >= 0)
    return int(np.count_nonzero(block)), finite, nonnegative


def _block_masked_moments(block, mask_block) -> tuple:
    """``(n, mean, M2)`` of the voxels of a chunk selected by its ``noise_mask`` chunk."""
    mask_block = np.asarray(mask_block)
    finite = mask_block.dtype.kind != "f" or bool(np.isfinite(mask_block).all())
    values = np.asarray(block, dtype=np.float64)[mask_block != 0]
    n = values.size
    mean = float(values.mean()) if n else 0.0
    return n, mean, float(np.sum(np.square(values - mean))) if n else 0.0, finite


def _block_auto_mask(padded, spec: _BlockSpec, offset) -> np.ndarray:
    with single_threaded():
        block = _Block(padded, None, spec, offset)
    mask = block.run >= 0
    return mask[0] if np.ndim(padded) == 2 else mask


def _block_auto_mask_count(padded, spec: _BlockSpec, offset, shape, sides) -> tuple[int, int]:
    """Automatic-mask voxels of a chunk's interior, and those in the corner boxes of ``sides``
    (the chunk starts at ``offset`` of a map of ``shape``)."""
    with single_threaded():
        inside = _Block(padded, None, spec, offset).run >= 0
    inside = inside[0] if np.ndim(padded) == 2 else inside
    return int(np.count_nonzero(inside)), corner_count(inside, offset, shape, sides)


def _block_decide(padded, mask_block, spec: _BlockSpec, thresholds, offset) -> tuple:
    """Band tests of one chunk: ``(map, mask, counts)`` of its interior.

    ``counts`` holds per band the mask voxels above the threshold and those
    whose run reaches the band, and the histogram of run lengths (index
    ``run + 1``), from which the map statistics follow exactly.
    """
    n_freq = spec.bands.size
    with single_threaded():
        block = _Block(padded, mask_block, spec, offset)
        run = block.run
        rows = run.shape[0] * run.shape[1]
        passed = np.zeros(n_freq, np.int64)
        alive = np.zeros(n_freq, np.int64)
        if block.any_mask:  # a chunk without sample voxels has nothing to test
            for i, energy in block.energies(range(n_freq)):
                if _kernels.HAVE_NUMBA:
                    partial = np.zeros((_chunks(rows), 2), np.int64)
                    _update_run_numba(energy, run, i, thresholds[i], partial)
                    passed[i], alive[i] = partial.sum(axis=0)
                else:  # pragma: no cover
                    passed[i], alive[i] = _update_run_numpy(energy, run, i, thresholds[i])
        table = _value_table(spec.bands, np.dtype(spec.dtype))
        out = np.empty(run.shape, table.dtype)
        if _kernels.HAVE_NUMBA:
            _finalise_numba(run, table, out)
            partial = np.zeros((_chunks(rows), n_freq + 2), np.int64)
            _histogram_numba(run, partial)
            histogram = partial.sum(axis=0)
        else:  # pragma: no cover
            _finalise_numpy(run, table, out)
            histogram = _histogram_numpy(run, n_freq + 2)
    mask = run >= 0
    if np.ndim(padded) == 2:
        out, mask = out[0], mask[0]
    return out, mask, (passed, alive, histogram)


# ----------------------------------------------------------------------------- Benjamini–Hochberg
def _select(values: np.ndarray, edges: np.ndarray, mode: str):
    """Candidates in ``(edges[0], edges[-1]]``: sorted (``'gather'``) or binned.

    Bin ``j`` is ``(edges[j], edges[j + 1]]``; per bin the count, the smallest
    and the largest value.
    """
    inside = values[(values > edges[0]) & (values <= edges[-1])]
    if mode == "gather":
        return np.sort(inside)
    n_bins = edges.size - 1
    index = np.searchsorted(edges, inside, side="left") - 1
    counts = np.bincount(index, minlength=n_bins)
    low = np.full(n_bins, np.inf)
    high = np.full(n_bins, -np.inf)
    np.minimum.at(low, index, inside)
    np.maximum.at(high, index, inside)
    return counts, low, high


def _combine(parts: list) -> list:
    """Add up the :func:`_select` results of several chunks, request by request."""
    out = list(parts[0])
    for part in parts[1:]:
        for k, item in enumerate(part):
            if isinstance(item, np.ndarray):
                out[k] = np.concatenate([out[k], item])
            else:
                c, lo, hi = out[k]
                out[k] = (c + item[0], np.minimum(lo, item[1]), np.maximum(hi, item[2]))
    return [np.sort(item) if isinstance(item, np.ndarray) else item for item in out]


def _block_select(padded, mask_block, spec: _BlockSpec, requests, offset) -> list:
    """:func:`_select` of the interior mask energies of one chunk for each request."""
    by_band: dict[int, list[int]] = {}
    for k, (band, _, _) in enumerate(requests):
        by_band.setdefault(band, []).append(k)
    out: list = [None] * len(requests)
    with single_threaded():
        block = _Block(padded, mask_block, spec, offset)
        inside = block.run >= 0
        for band, energy in block.energies(sorted(by_band) if block.any_mask else []):
            values = energy[inside].astype(np.float64)
            for k in by_band[band]:
                out[k] = _select(values, requests[k][1], requests[k][2])
    empty = np.zeros(0)
    for k, (_, edges, mode) in enumerate(requests):
        if out[k] is None:
            out[k] = _select(empty, edges, mode)
    return out


class _BHBand:
    """Streaming Benjamini–Hochberg threshold of one band.

    The candidates are the mask energies above ``t_alpha`` (p-value ≤ α); the
    in-memory rule takes the largest rank ``k`` (energies in decreasing order)
    with ``p_(k) <= k α / n`` and returns just below that energy. Bins of
    candidates, from low to high energy, are scanned with their counts,
    minima and maxima: a bin whose smallest energy satisfies the rule with the
    rank of that energy decides (exactly: the threshold is just below that
    minimum); a bin none of whose ranks can satisfy it (its largest value's
    p-value already exceeds the best rank inside) is passed over; any other
    bin is refined in the next pass — histogrammed again, or its values
    gathered when few.
    """

    def __init__(self, null: _Null, alpha: float, n_tests: int, t_alpha: float):
        self.null, self.alpha, self.n = null, alpha, n_tests
        n_bins = SELECT_BINS
        self.threshold = None
        self.pending = None
        if not math.isfinite(t_alpha):
            self.threshold = math.inf
            return
        # first pass: p-values log-spaced from α (t_alpha) down to α/n; above that, one bin
        p = np.geomspace(alpha, alpha / max(n_tests, 1), n_bins) if n_tests > 1 else np.array([alpha])
        inner = scipy.special.gammainccinv(null.shape, p[1:]) * null.scale
        edges = np.unique(np.concatenate([[t_alpha], inner[np.isfinite(inner) & (inner > t_alpha)], [np.inf]]))
        self.pending = (edges, "hist", None)

    def request(self):
        return None if self.pending is None else self.pending[:2]

    def update(self, result) -> None:
        edges, mode, where = self.pending
        self.pending = None
        if mode == "gather":
            values, counts = np.unique(result, return_counts=True)
            new = np.stack([values, counts.astype(np.float64), values, values], axis=1)
        else:
            counts, low, high = result
            new = np.stack([edges[1:], counts.astype(np.float64), low, high], axis=1)
        # rows: upper edge, count, min, max — ascending energies
        self.bins = new if where is None else np.concatenate([self.bins[:where], new, self.bins[where + 1:]])
        self._scan()

    def _scan(self) -> None:
        upper, count, low, high = self.bins.T
        above = count.sum() - np.cumsum(count)  # candidates with a larger energy than the bin's
        last_rank = above + count
        nonempty = count > 0
        with np.errstate(invalid="ignore"):
            p_low = np.where(nonempty, self.null.sf(np.where(nonempty, low, 0.0)), np.inf)
            p_high = np.where(nonempty, self.null.sf(np.where(nonempty, high, 0.0)), np.inf)
        step = self.alpha / self.n
        sure = nonempty & (p_low <= last_rank * step)
        open_ = nonempty & ~sure & (count > 1) & (low < high) & (p_high <= (last_rank - 1) * step)
        decided = np.flatnonzero(sure | open_)
        if decided.size == 0:
            self.threshold = math.inf
            return
        j = int(decided[0])
        if sure[j]:
            self.threshold = float(np.nextafter(low[j], -np.inf))
            return
        lo = np.nextafter(low[j], -np.inf)
        if count[j] <= GATHER_VALUES:
            self.pending = (np.array([lo, high[j]]), "gather", j)
        else:
            self.pending = (np.linspace(lo, high[j], SELECT_BINS + 1), "hist", j)


def bh_from_passes(run_pass, nulls, t_alphas, alpha: float, n_tests: int) -> np.ndarray:
    """Benjamini–Hochberg energy thresholds of all bands, one pass per round of requests.

    ``run_pass(requests)`` takes ``[(band, edges, mode), ...]`` and returns, per
    request, the :func:`_select` result over all chunks. The thresholds equal
    the in-memory ``_bh_threshold`` of the same energies.
    """
    states = [_BHBand(null, alpha, n_tests, t) for null, t in zip(nulls, t_alphas)]
    while True:
        bands = [i for i, s in enumerate(states) if s.pending is not None]
        if not bands:
            break
        results = run_pass([(i,) + states[i].request() for i in bands])
        for i, result in zip(bands, results):
            states[i].update(result)
    return np.array([s.threshold for s in states], np.float64)


def _dask_face_steps(vol, dtype) -> FaceSteps:
    """:func:`._localres.face_steps` of a dask array: the face planes and per-plane sums of
    squared neighbour steps, reduced by dask (the sums in another order: equal to round-off)."""
    dask, da = require_dask()
    work = vol.astype(np.float64)
    jumps, planes = [], []
    for a in range(work.ndim):
        others = tuple(b for b in range(work.ndim) if b != a)
        first = work[(slice(None),) * a + (slice(0, 1),)]
        last = work[(slice(None),) * a + (slice(-1, None),)]
        jumps.append(da.mean(da.square(last - first)))
        planes.append(da.mean(da.square(da.diff(work, axis=a)), axis=others))
    jumps, planes = dask.compute(jumps, planes)
    return FaceSteps(jump=tuple(float(j) for j in jumps), planes=tuple(np.asarray(p) for p in planes))


def _face_keep(da, shape, chunks, face_margin):
    """Lazy boolean map, False within ``face_margin[a]`` voxels of the two faces of each axis."""
    keep = da.ones(shape, dtype=bool, chunks=chunks)
    for a, (n, m) in enumerate(zip(shape, face_margin)):
        if m:
            index = da.arange(n, chunks=chunks[a])
            inside = (index >= m) & (index < n - m)
            keep = keep & inside.reshape((1,) * a + (n,) + (1,) * (len(shape) - a - 1))
    return keep


# ----------------------------------------------------------------------------- helpers
def _tree_sum(dask, items, combine):
    """Reduce delayed ``items`` with ``combine(list)`` in a tree of fan-in ``_FAN_IN``."""
    items = list(items)
    while len(items) > 1:
        items = [dask.delayed(combine)(items[i:i + _FAN_IN]) for i in range(0, len(items), _FAN_IN)]
    return items[0]


def _assemble(da, pieces: np.ndarray, chunks, dtype):
    """A dask array from an object array of delayed blocks laid out like ``chunks``."""
    blocks = np.empty(pieces.shape, dtype=object)
    for index in np.ndindex(pieces.shape):
        shape = tuple(c[i] for c, i in zip(chunks, index))
        blocks[index] = da.from_delayed(pieces[index], shape=shape, dtype=dtype,
                                        meta=np.empty((0,) * len(shape), dtype))
    return da.block(blocks.tolist())


def _dask_mask(da, mask, shape, chunks, name: str):
    """A user mask as a dask array with ``chunks`` (numpy masks checked in memory)."""
    if is_dask_array(mask):
        if tuple(mask.shape) != tuple(shape):
            raise ValueError(f"{name} must have the shape of vol {tuple(shape)}; got {tuple(mask.shape)}")
        if np.dtype(mask.dtype).kind not in "biuf":
            raise ValueError(f"{name} must be a boolean array; got dtype {mask.dtype}")
        return mask.rechunk(chunks), None
    checked = _check_bool_mask(mask, shape, name)
    return da.from_array(checked, chunks=chunks), checked


# ----------------------------------------------------------------------------- executor
def dask_local_resolution(
    vol,
    *,
    pixel_size: float,
    significance: float,
    n_freq: int,
    window_sigma: float,
    mask,
    noise_method: str,
    noise_mask,
    sigma_noise,
    corner_fraction: float,
    highfreq_fraction: float,
    whiten: bool,
    fdr: bool,
    unit,
    workers,
    compute: bool,
    check_options,
) -> LocalResolutionResult:
    """:func:`._localres.local_resolution` of a dask array (parameters validated there)."""
    dask, da = require_dask()
    shape = tuple(int(n) for n in vol.shape)
    dtype = np.dtype(np.float64 if vol.dtype == np.float64 or vol.dtype.itemsize > 8 else np.float32)
    complex_dtype = np.result_type(dtype, np.complex64)
    workers = workers or default_workers()
    bands, band_sigma, inv2var = _band_centres(shape, n_freq)
    d_band, d_window = halo_widths(window_sigma, band_sigma)
    chunks, depths = plan_chunks(shape, vol.chunks, d_band + d_window)
    vol = vol.rechunk(chunks)
    numblocks = tuple(len(c) for c in chunks)

    sample_mask = given_mask = None
    if mask is not None:
        sample_mask, given_mask = _dask_mask(da, mask, shape, chunks, "mask")
    noise_dask = None
    if noise_mask is not None:
        noise_dask, _ = _dask_mask(da, noise_mask, shape, chunks, "noise_mask")
    check_options(noise_method, noise_mask, sigma_noise, whiten)

    # pass 1: values, mean, the moments of the corner boxes, border and interior when the
    # noise model is checked (and the size of a lazy user mask)
    record: list[str] = []  # the failed checks, kept in the result
    sides = None
    if sigma_noise is None and noise_method in ("corners", "highfreq"):
        sides = _corner_boxes(shape, corner_fraction)[1]
    blocks = vol.to_delayed().ravel()
    stats_tasks = [dask.delayed(_block_stats)(b, o, shape, sides)
                   for b, o in zip(blocks, _block_offsets(chunks))]
    mask_tasks = []
    if sample_mask is not None and given_mask is None:
        mask_tasks = [dask.delayed(_block_mask_count)(m) for m in sample_mask.to_delayed().ravel()]
    stats, mask_counts = dask.compute(stats_tasks, mask_tasks)
    finite, constant = combine_value_checks([s[0] for s in stats])
    if not finite:
        raise ValueError("vol contains NaN or infinite values; replace or mask them first")
    if constant:
        raise ValueError("vol is constant: it has no detail whose resolution could be measured")
    mean = sum(s[1] for s in stats) / sum(s[2] for s in stats)
    if given_mask is not None:
        n_given = int(np.count_nonzero(given_mask))
    elif sample_mask is not None:
        if not all(c[1] for c in mask_counts):
            raise ValueError("mask contains NaN or infinite values")
        if not all(c[2] for c in mask_counts):
            raise ValueError("mask must be boolean (non-zero = selected, no negative values)")
        n_given = sum(c[0] for c in mask_counts)
        if n_given == 0:
            raise ValueError("mask selects no voxel (it is False everywhere)")
        sample_mask = sample_mask if sample_mask.dtype == bool else sample_mask != 0

    # noise model
    if sides is not None:
        moments = np.array([_pool([tuple(s[3][g]) for s in stats]) for g in range(3)])
        check_flat_corners(moments, noise_method, record)
    if sigma_noise is not None:
        noise = _NoiseModel(sigma_noise, "given")
    elif noise_method == "corners":
        boxes, sides = _corner_boxes(shape, corner_fraction)
        summaries = dask.compute(*[dask.delayed(_corner_summary)(vol[b], whiten) for b in boxes])
        noise = _noise_from_corner_summaries(summaries, sides, whiten, record)
    elif noise_method == "mask":
        parts = dask.compute(*[
            dask.delayed(_block_masked_moments)(b, m)
            for b, m in zip(blocks, noise_dask.to_delayed().ravel())
        ])
        if not all(p[3] for p in parts):
            raise ValueError("noise_mask contains NaN or infinite values")
        n, noise_mean, m2 = _pool(parts)
        if n == 0:
            raise ValueError("noise_mask selects no voxel (it is False everywhere)")
        variance = _mask_noise_stats(n, noise_mean, m2)
        shell_power = None
        if whiten:
            selected = noise_dask if noise_dask.dtype == bool else noise_dask != 0
            region = da.where(selected, vol.astype(dtype) - noise_mean, 0).astype(dtype)
            sums = dask_shell_sums(region, region, window=None, apod_width=0, subtract_mean=False).sums
            shell_power = (sums[2], sums[4])
        noise = _noise_from_mask_sums(n, noise_mean, variance, shell_power, shape)
    else:
        sums = dask_shell_sums(vol, vol, window=None, apod_width=0).sums
        noise = _noise_from_shell_power(sums[2], sums[4], _Grid(shape), highfreq_fraction, record)

    auto = sample_mask is None and noise.baseline is not None
    nulls, mask_null = null_laws(shape, complex_dtype, noise, window_sigma, bands, inv2var, d_band,
                                 mask_law=auto, workers=workers)
    t_alpha = np.array([null.isf(significance) for null in nulls])

    depth_pad = (0,) if len(shape) == 2 else ()
    depth3 = depth_pad + depths
    # the chunks are filtered with periodic overlaps: a jump across the faces cannot be removed here
    jumps = face_jump_test(_dask_face_steps(vol, dtype))
    margin = int(math.ceil(FACE_MARGIN_SIGMAS * window_sigma))
    # at least one plane is kept along every axis
    face_margin = tuple(min(margin, (n - 1) // 2) if a in jumps.axes else 0 for a, n in enumerate(shape))
    warn_face_jumps(jumps, False, margin, record)
    spec = _BlockSpec(
        dtype=dtype.str, mean=float(mean), depth=depth3, window_sigma=float(window_sigma), bands=bands,
        inv2var=float(inv2var), mask_mode="given" if sample_mask is not None else ("auto" if auto else "field"),
        baseline=float(noise.baseline) if auto else 0.0,
        mask_threshold=float(mask_null.isf(MASK_SIGNIFICANCE)) if auto else 0.0,
        counter="int8" if n_freq < 127 else "int16",
        shape=depth_pad + shape, face_margin=depth_pad + face_margin,
    )
    padded = da.overlap.overlap(
        vol, depth={a: d for a, d in enumerate(depths)},
        boundary={a: ("periodic" if d else "none") for a, d in enumerate(depths)},
    )
    padded_blocks = padded.to_delayed().ravel()
    offsets = _block_offsets(chunks)
    mask_blocks = (sample_mask.to_delayed().ravel() if sample_mask is not None
                   else [None] * len(padded_blocks))

    # the sample mask and its size
    keep = _face_keep(da, shape, chunks, face_margin) if any(face_margin) else None
    if sample_mask is not None:
        n_mask, mask_source = n_given, "given"
        if keep is not None:
            n_mask = int(da.count_nonzero((sample_mask != 0) & keep).compute())
            if n_mask == 0:
                raise ValueError(f"mask selects no voxel farther than {margin} px from the faces "
                                 "whose jump makes the band tests unreliable (see the warning)")
    elif auto:
        corner_sides = _corner_boxes(shape, corner_fraction)[1]
        counts = dask.compute(*[
            dask.delayed(_block_auto_mask_count)(p, spec, o, shape, corner_sides)
            for p, o in zip(padded_blocks, offsets)
        ])
        n_mask, in_corners = (sum(c[k] for c in counts) for k in (0, 1))
        mask_source = "automatic"
        if n_mask == 0:
            warn_empty_auto_mask(record)
            spec = _BlockSpec(**{**spec.__dict__, "mask_mode": "field"})
        elif noise.method == "corners":
            check_auto_mask(n_mask, in_corners, int(np.prod(shape)), noise, record)
    if spec.mask_mode == "field":
        n_mask = int(np.prod([n - 2 * m for n, m in zip(shape, face_margin)]))
        mask_source = "field of view"

    if fdr:
        def run_pass(requests):
            parts = [dask.delayed(_block_select)(p, m, spec, requests, o)
                     for p, m, o in zip(padded_blocks, mask_blocks, offsets)]
            return _tree_sum(dask, parts, _combine).compute()

        thresholds = bh_from_passes(run_pass, nulls, t_alpha, significance, n_mask)
    else:
        thresholds = t_alpha

    # the band tests: one task per chunk gives its map, mask and counts
    results = [dask.delayed(_block_decide)(p, m, spec, thresholds, o)
               for p, m, o in zip(padded_blocks, mask_blocks, offsets)]
    grid_of = np.empty(numblocks, dtype=object)
    maps, masks = grid_of.copy(), grid_of.copy()
    for k, index in enumerate(np.ndindex(numblocks)):
        maps[index] = dask.delayed(operator.getitem)(results[k], 0)
        masks[index] = dask.delayed(operator.getitem)(results[k], 1)
    resolution_map = _assemble(da, maps, chunks, dtype)
    counts = [dask.delayed(operator.getitem)(r, 2) for r in results]
    if spec.mask_mode == "given":
        mask_out = given_mask if given_mask is not None else sample_mask
    elif spec.mask_mode == "auto":
        if compute:
            mask_out = _assemble(da, masks, chunks, bool)
        else:  # cheaper than the band tests: recompute only the smoothing per chunk
            lazy = np.empty(numblocks, dtype=object)
            for k, index in enumerate(np.ndindex(numblocks)):
                lazy[index] = dask.delayed(_block_auto_mask)(padded_blocks[k], spec, offsets[k])
            mask_out = _assemble(da, lazy, chunks, bool)
    else:
        mask_out = da.ones(shape, dtype=bool, chunks=chunks)
    if keep is not None:
        mask_out = mask_out & keep

    if compute:
        resolution_map, mask_out, counts = dask.compute(resolution_map, mask_out, counts)
        mask_out = np.asarray(mask_out)
    else:
        (counts,) = dask.compute(counts)
    passed = np.sum([c[0] for c in counts], axis=0)
    alive = np.sum([c[1] for c in counts], axis=0)
    histogram = np.sum([c[2] for c in counts], axis=0)
    return _make_result(
        resolution_map, mask_out, bands, band_sigma, noise, mask_source, n_mask, nulls, thresholds,
        passed / n_mask, alive / n_mask, histogram, significance=significance, fdr=fdr,
        window_sigma=window_sigma, whiten=whiten, pixel_size=pixel_size, unit=unit, shape=shape,
        warnings=record, face_jumps=jumps,
    )
