"""Dask executor of the shell-sum engine (optional extra ``[dask]``).

The same three stages as in memory, as a task graph:

1. per slab along axis 0 (chunks with whole planes): window-weighted sum,
   min and max → the means and the finite/constant checks;
2. per slab: ``(x - mean) * window`` and the 2-D FFT over the last two axes;
3. rechunk so axis 0 is whole (``p2p`` when a distributed client is
   running), then per pencil block: the FFT along axis 0 and the shell-sum
   kernel → one small vector of sums per block, added up.

Only the per-block partial sums travel back to the client, so the result is
the in-memory one to float round-off whatever the chunking. Works with the
default scheduler and with a ``dask.distributed`` client.

The second half of the module serves the box- and slice-wise estimators
(LocalFSC, ImageDecorr, local maps): chunk bookkeeping for tasks that read a
region around their chunk, per-chunk value checks, and the exact statistics
(median included) of a lazy map that is never held whole.
"""

from __future__ import annotations

import contextlib

import numpy as np
import scipy.fft

from . import _kernels
from ._correlation import ShellSums, _as_work, _Geometry
from ._results import statistics_dict
from ._shells import max_shell_index
from ._validate import check_finite, native_order, work_dtype

__all__ = [
    "is_dask_array",
    "require_dask",
    "dask_shell_sums",
    "single_threaded",
    "chunk_edges",
    "balance_chunks",
    "region_blocks",
    "assemble_region",
    "chunk_value_checks",
    "combine_value_checks",
    "dask_map_statistics",
]

_CHUNK_BYTES = 64 << 20


def is_dask_array(array) -> bool:
    """True for ``dask.array.Array`` (checked without importing dask)."""
    return type(array).__module__.split(".")[0] == "dask" and hasattr(array, "chunks")


def require_dask():
    """Import ``dask.array`` or explain which extra installs it."""
    try:
        import dask
        import dask.array as da
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "dask array inputs need the optional dependencies: pip install 'toupy-resolution[dask]'"
        ) from error
    return dask, da


def _rechunk_method() -> str:
    try:
        from distributed import default_client

        default_client()
        return "p2p"
    except (ImportError, ValueError):
        return "tasks"


def _offsets(chunks) -> list[tuple[int, int]]:
    edges = np.concatenate([[0], np.cumsum(chunks)]).astype(int)
    return list(zip(edges[:-1], edges[1:]))


def _slab_stats(slab, a, b, geometry, dtype):
    extra = geometry.extra_weights(a, b)
    parts = (slab.real, slab.imag) if slab.dtype.kind == "c" else (slab,)
    return [
        _kernels.block_stats(_as_work(part, dtype), geometry.profile[a:b], geometry.plane, extra)
        for part in parts
    ]


def _slab_spectrum(slab, geometry, mean, dtype, complex_input, block_info=None):
    a, b = block_info[0]["array-location"][0]
    if complex_input:
        out = np.empty(slab.shape, np.result_type(dtype, np.complex64))
    else:
        slab = _as_work(slab, dtype)
        out = np.empty(slab.shape, dtype)
    _kernels.window_into(slab, mean, geometry.profile[a:b], geometry.plane, out, geometry.extra_weights(a, b))
    transform = scipy.fft.fft2 if complex_input else scipy.fft.rfft2
    return transform(out, axes=(1, 2), workers=1)


def _block_sums(g1, g2, freqs, weights, n_bins, transform_axis0):
    if transform_axis0:
        g1 = scipy.fft.fft(g1, axis=0, workers=1)
        g2 = scipy.fft.fft(g2, axis=0, workers=1)
    return _kernels.shell_sums(g1, g2, freqs, weights, n_bins)


def dask_shell_sums(
    img1,
    img2,
    *,
    window,
    apod_width,
    threshold="halfbit",
    subtract_mean=True,
    mask=None,
    chunk_bytes: int = _CHUNK_BYTES,
) -> ShellSums:
    """Per-shell sums of two dask arrays (see :func:`._correlation.fourier_shell_sums`)."""
    dask, da = require_dask()
    shape = tuple(img1.shape)
    complex_input = img1.dtype.kind == "c" or img2.dtype.kind == "c"
    dtype = work_dtype(img1, img2)
    cdtype = np.result_type(dtype, np.complex64)
    geometry = _Geometry(shape, window, apod_width, threshold, mask, len(shape) == 2, complex_input)
    n0, n1, n2 = geometry.view
    plane_bytes = n1 * n2 * np.dtype(cdtype).itemsize
    rows = int(max(1, min(n0, chunk_bytes // plane_bytes)))

    views = []
    for image in (img1, img2):
        view = image[:, np.newaxis, :] if image.ndim == 2 else image
        view = view.rechunk((rows, n1, n2))
        if not view.dtype.isnative:  # every block enters the kernels in the machine's byte order
            native = view.dtype.newbyteorder("=")
            view = view.map_blocks(native_order, dtype=native, meta=np.empty((0, 0, 0), native))
        views.append(view)

    # stage 1: statistics per slab
    stats = []
    for view in views:
        blocks = view.to_delayed().ravel()
        stats.append([
            dask.delayed(_slab_stats)(block, a, b, geometry, dtype)
            for block, (a, b) in zip(blocks, _offsets(view.chunks[0]))
        ])
    stats = dask.compute(*stats)
    means = []
    for name, per_slab in zip(("img1", "img2"), stats):
        parts = np.array(per_slab)  # (slabs, parts, 4)
        weighted, weight = parts[:, :, 0].sum(axis=0), parts[:, :, 1].sum(axis=0)
        low, high = parts[:, :, 2].min(axis=0), parts[:, :, 3].max(axis=0)
        check_finite([weighted, low, high], name)
        if np.all(low == high):
            raise ValueError(f"{name} is constant: its Fourier correlation is undefined")
        mean = weighted / np.where(weight > 0, weight, 1.0) if subtract_mean else np.zeros(len(weight))
        means.append(complex(mean[0], mean[1]) if len(mean) == 2 else float(mean[0]))

    # stage 2: windowed 2-D transforms per slab
    m = n2 if complex_input else n2 // 2 + 1
    spectra = [
        view.map_blocks(
            _slab_spectrum, geometry, mean, dtype, complex_input,
            dtype=cdtype, chunks=(view.chunks[0], (n1,), (m,)), meta=np.empty((0, 0, 0), cdtype),
        )
        for view, mean in zip(views, means)
    ]

    # stage 3: whole axis 0 per pencil block, FFT along it, shell sums
    pencil_axis = 1 if n1 > 1 else 2
    extent = n1 if pencil_axis == 1 else m
    per_index = n0 * (m if pencil_axis == 1 else 1) * np.dtype(cdtype).itemsize
    width = int(max(1, min(extent, chunk_bytes // per_index)))
    target = {0: n0, 1: n1, 2: m}
    target[pencil_axis] = width
    method = _rechunk_method()
    spectra = [s.rechunk((target[0], target[1], target[2]), method=method) for s in spectra]
    k0, k1, k2 = geometry.freqs
    n_bins = max_shell_index(shape) + 1
    partials = []
    blocks1 = spectra[0].to_delayed()
    blocks2 = spectra[1].to_delayed()
    j_ranges = _offsets(spectra[0].chunks[1])
    k_ranges = _offsets(spectra[0].chunks[2])
    for jj, (j0, j1) in enumerate(j_ranges):
        for kk, (c0, c1) in enumerate(k_ranges):
            freqs = [k0, k1[j0:j1], k2[c0:c1]]
            partials.append(dask.delayed(_block_sums)(
                blocks1[0, jj, kk], blocks2[0, jj, kk], freqs, geometry.last_weights[c0:c1], n_bins, n0 > 1
            ))
    total = dask.delayed(sum)(partials).compute()
    if subtract_mean:
        total[:4, 0] = 0.0
    return ShellSums(total, shape, complex_input)


# --------------------------------------------------------------------------- box-wise estimators
# Helpers for estimators that work on many small boxes (LocalFSC, ImageDecorr
# slices, local maps): explicit task graphs over the chunks of a dask array.

#: input bytes (one half) that a region task of a box-wise estimator may hold
REGION_BYTES = 64 << 20
#: bytes of work buffers (box batches) of one such task at most: a dask
#: worker runs one task per thread, and batches beyond ~100 boxes gain nothing
TASK_BATCH_BYTES = 128 << 20
#: values gathered to the client at most to finish an exact order statistic
GATHER_VALUES = 1 << 20
#: bins of each refinement pass of an exact order statistic
SELECT_BINS = 1 << 14


@contextlib.contextmanager
def single_threaded():
    """Run the numba kernels of this thread on one thread.

    Inside a dask task the scheduler already runs one task per core; parallel
    kernels inside each task would oversubscribe the cores. numba's thread
    count is thread-local, so this affects only the calling thread.
    """
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a hard dependency
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def chunk_edges(chunks) -> list[np.ndarray]:
    """Start of every chunk and the array end, per axis (``len(chunks[i]) + 1`` values)."""
    return [np.concatenate([[0], np.cumsum(c)]).astype(np.int64) for c in chunks]


def balance_chunks(chunks, min_len: int, max_len: int) -> tuple:
    """Chunks with those longer than ``max_len`` split into equal parts and
    runs of chunks shorter than ``min_len`` merged (up to ``max_len``).

    Splitting bounds the memory of a task; merging bounds the number of
    chunks a task that reads past its chunk (by a box, say) has to gather.
    """
    out = []
    for axis_chunks in chunks:
        parts = []
        for c in axis_chunks:
            pieces = -(-c // max_len)
            base, extra = divmod(c, pieces)
            parts.extend([base + 1] * extra + [base] * (pieces - extra))
        merged = []
        for c in parts:
            if merged and merged[-1] < min_len and merged[-1] + c <= max_len:
                merged[-1] += c
            else:
                merged.append(c)
        out.append(tuple(merged))
    return tuple(out)


def region_blocks(blocks: np.ndarray, edges, lo, hi):
    """The delayed chunks that cover ``[lo, hi)`` and their start offsets."""
    first = [int(np.searchsorted(e, a, side="right")) - 1 for e, a in zip(edges, lo)]
    last = [int(np.searchsorted(e, b - 1, side="right")) - 1 for e, b in zip(edges, hi)]
    picked = blocks[tuple(slice(f, l + 1) for f, l in zip(first, last))]
    starts = []
    for index in np.ndindex(picked.shape):
        starts.append(tuple(int(e[f + i]) for e, f, i in zip(edges, first, index)))
    return list(picked.ravel()), starts


def assemble_region(pieces, starts, lo, hi) -> np.ndarray:
    """Copy the parts of ``pieces`` (chunks starting at ``starts``) inside ``[lo, hi)``."""
    out = np.empty(tuple(int(b - a) for a, b in zip(lo, hi)), dtype=np.asarray(pieces[0]).dtype)
    for piece, start in zip(pieces, starts):
        piece = np.asarray(piece)
        src, dst = [], []
        for a, b, s, n in zip(lo, hi, start, piece.shape):
            first, stop = max(a, s), min(b, s + n)
            src.append(slice(first - s, stop - s))
            dst.append(slice(first - a, stop - a))
        out[tuple(dst)] = piece[tuple(src)]
    return out


def chunk_value_checks(block) -> np.ndarray:
    """Per real part (real, or real and imaginary): all finite, min, max of one chunk."""
    block = np.asarray(block)
    parts = (block.real, block.imag) if block.dtype.kind == "c" else (block,)
    out = np.empty((len(parts), 3))
    for i, part in enumerate(parts):
        if part.size == 0:
            out[i] = (1.0, np.inf, -np.inf)
            continue
        finite = part.dtype.kind not in "fc" or bool(np.isfinite(part).all())
        out[i] = (float(finite), float(part.min()), float(part.max()))
    return out


def combine_value_checks(per_chunk) -> tuple[bool, bool]:
    """``(finite, constant)`` of a whole array from :func:`chunk_value_checks` results."""
    stack = np.array(per_chunk)  # (chunks, parts, 3)
    finite = bool(stack[:, :, 0].all())
    constant = bool(np.all(stack[:, :, 1].min(axis=0) == stack[:, :, 2].max(axis=0)))
    return finite, constant


# --------------------------------------------------------------------------- exact map statistics
def _block_values(block, mask_block) -> np.ndarray:
    values = np.asarray(block, dtype=np.float64)
    if mask_block is not None:
        values = values[np.asarray(mask_block, dtype=bool)]
    return values[np.isfinite(values)].ravel()


def _moments(v: np.ndarray) -> np.ndarray:
    if v.size == 0:
        return np.array([0.0, 0.0, 0.0, np.inf, -np.inf])
    mean = v.mean()
    return np.array([v.size, mean, float(np.sum(np.square(v - mean))), v.min(), v.max()])


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``searchsorted(edges, values, 'right') - 1`` clipped to the bins, in linear time.

    The arithmetic guess is off by at most one bin (rounding); it is
    corrected against the edges themselves, so every block bins a value
    exactly alike. (A binary search over unsorted values costs ~40x more.)
    """
    n_bins = edges.size - 1
    with np.errstate(invalid="ignore", over="ignore"):
        guess = (values - edges[0]) * (n_bins / (edges[-1] - edges[0]))
    index = np.clip(np.nan_to_num(guess, nan=0.0, posinf=n_bins, neginf=0.0), 0, n_bins - 1).astype(np.int64)
    for _ in range(2):
        low = values < edges[index]
        high = (index < n_bins - 1) & (values >= edges[np.minimum(index + 1, n_bins)])
        if not (low.any() or high.any()):
            return index
        index = index - low + high
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)


def _block_select(block, mask_block, requests):
    return _select(_block_values(block, mask_block), requests)


def _select(v: np.ndarray, requests):
    """Per request ``(lo, hi, mode)``: a histogram with per-bin min/max, or the values."""
    out = []
    for lo, hi, mode in requests:
        inside = v[(v >= lo) & (v <= hi)]
        if mode == "gather":
            out.append(inside)
            continue
        edges = np.linspace(lo, hi, SELECT_BINS + 1)
        index = _bin_index(inside, edges)
        counts = np.bincount(index, minlength=SELECT_BINS)
        low = np.full(SELECT_BINS, np.inf)
        high = np.full(SELECT_BINS, -np.inf)
        np.minimum.at(low, index, inside)
        np.maximum.at(high, index, inside)
        out.append((counts, low, high))
    return out


def _order_statistics(pairs, ranks, vmin: float, vmax: float, n: int, first=None) -> dict:
    """Exact ``ranks``-th smallest values (0-based) of the finite values of blocks.

    Each pass reduces the interval holding a rank to one of ``SELECT_BINS``
    bins (tightened to the values it holds); once an interval holds few
    enough values, or a single distinct value, they are gathered and sorted
    on the client. Only bin counts and a bounded number of values travel.
    ``first`` holds the per-block answers to the request
    ``(vmin, vmax, _select_mode(n))`` when an earlier pass already made it.
    """
    dask, _ = require_dask()
    # state per rank: interval [lo, hi], values below lo, values inside
    state = {r: (vmin, vmax, 0, n) for r in ranks}
    found: dict[int, float] = {}
    while len(found) < len(ranks):
        requests = []
        for r, (lo, hi, below, count) in state.items():
            if r in found:
                continue
            if lo == hi:
                found[r] = lo
                continue
            request = (lo, hi, _select_mode(count))
            if request not in requests:
                requests.append(request)
        if not requests:
            break
        if first is not None and requests == [(vmin, vmax, _select_mode(n))]:
            parts = [[answer] for answer in first]
        else:
            parts = dask.compute(*[dask.delayed(_block_select)(b, m, requests) for b, m in pairs])
        first = None
        for k, (lo, hi, mode) in enumerate(requests):
            owners = [r for r, s in state.items() if r not in found and s[:2] == (lo, hi)]
            if mode == "gather":
                values = np.sort(np.concatenate([p[k] for p in parts]))
                for r in owners:
                    found[r] = float(values[r - state[r][2]])
                continue
            counts = np.sum([p[k][0] for p in parts], axis=0)
            low = np.min([p[k][1] for p in parts], axis=0)
            high = np.max([p[k][2] for p in parts], axis=0)
            for r in owners:
                below = state[r][2]
                cumulative = below + np.cumsum(counts)
                j = int(np.searchsorted(cumulative, r, side="right"))
                state[r] = (float(low[j]), float(high[j]), int(cumulative[j] - counts[j]), int(counts[j]))
    return found


def _select_mode(count: int) -> str:
    return "gather" if count <= GATHER_VALUES else "hist"


def _block_first_pass(block, mask_block, request):
    """Moments of a block and, when the value range is known, the first selection pass."""
    v = _block_values(block, mask_block)
    if request is None:
        return _moments(v), None, 0
    outside = int(np.count_nonzero((v < request[0]) | (v > request[1])))
    return _moments(v), _select(v, [request])[0], outside


def dask_map_statistics(resolution_map, mask=None, value_range=None) -> dict:
    """:func:`._results.map_statistics` of a dask map, exactly, without holding the map.

    One pass gives the count, mean and standard deviation (per-block moments
    combined as Chan et al.), and a few more the exact median by histogram
    refinement; each pass recomputes the map block by block. When
    ``value_range`` ``(lo, hi)`` bounds every value, the first refinement
    runs in the pass of the moments (checked: a value outside it costs one
    more pass, never a wrong median).
    """
    dask, da = require_dask()
    blocks = list(resolution_map.to_delayed().ravel())
    if mask is None:
        masks = [None] * len(blocks)
    else:
        masks = list(da.asarray(mask).rechunk(resolution_map.chunks).to_delayed().ravel())
    pairs = list(zip(blocks, masks))
    size = int(np.prod(resolution_map.shape))
    request = None
    if value_range is not None and value_range[0] < value_range[1]:
        request = (float(value_range[0]), float(value_range[1]), _select_mode(size))
    passes = dask.compute(*[dask.delayed(_block_first_pass)(b, m, request) for b, m in pairs])
    moments = np.array([p[0] for p in passes])
    n = int(moments[:, 0].sum())
    if n == 0:
        median = mean = std = float("nan")
    else:
        used = moments[moments[:, 0] > 0]
        count, mean, m2 = used[0, 0], used[0, 1], used[0, 2]
        for c, mu, s in used[1:, :3]:
            total = count + c
            delta = mu - mean
            mean = mean + delta * c / total
            m2 = m2 + s + delta * delta * count * c / total
            count = total
        std = float(np.sqrt(m2 / n))
        mean = float(mean)
        ranks = [n // 2] if n % 2 else [n // 2 - 1, n // 2]
        vmin, vmax = float(used[:, 3].min()), float(used[:, 4].max())
        first = None
        if request is not None and sum(p[2] for p in passes) == 0 and _select_mode(n) == request[2]:
            vmin, vmax, first = request[0], request[1], [p[1] for p in passes]
        values = _order_statistics(pairs, ranks, vmin, vmax, n, first)
        median = float(np.mean([values[r] for r in ranks]))
    return statistics_dict(median, mean, std)
