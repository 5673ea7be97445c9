"""Compiled inner loops of the correlation engine, with pure-numpy twins.

Three block-wise kernels, each exact on any sub-block of its input so that
partial results add up (in memory now, out of core and on Dask later):

``block_stats``
    window-weighted sum, weight sum, min and max of a slab of real data.
``window_into``
    ``out = (x - mean) * profile * plane`` for one slab (fused, one pass).
``shell_sums``
    per-shell sums of ``w Re(F1 F2*)``, ``w Im(F1 F2*)``, ``w |F1|^2``,
    ``w |F2|^2`` and ``w`` over one block of two spectra, the shell of each
    voxel computed on the fly from per-axis scaled frequencies.

Every array is seen in the slab view ``(n0, n1, n2)``: a 2-D image is a single
slab of shape ``(1, nr, nc)``. The numba versions read each input once and run
over rows in parallel with per-chunk partial sums (no atomics); the numpy
versions are the readable reference and the fallback when numba is missing
(set ``TOUPY_RESOLUTION_NO_NUMBA=1`` to force them).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._shells import block_shell_index

__all__ = [
    "HAVE_NUMBA",
    "N_SUMS",
    "block_stats",
    "window_into",
    "window_stats_into",
    "shell_sums",
    "window_boxes",
    "batched_shell_sums",
]

#: rows of the ``shell_sums`` output: cross real, cross imaginary, power 1, power 2, count
N_SUMS = 5
_NO_PROFILE = np.zeros(1, np.complex128)
_NO_PLANE = np.zeros((1, 1), np.complex128)

# LocalResolution's ``prange`` kernels (bands) alternate with scipy.fft's own threads;
# OpenMP threads that spin after each parallel region would steal those cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:  # numba is a hard dependency, but the numpy path must keep working without it
    if os.environ.get("TOUPY_RESOLUTION_NO_NUMBA"):
        raise ImportError
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False


def _kernel_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _n_chunks(n_rows: int) -> int:
    return max(1, min(n_rows, 4 * _kernel_threads()))


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _in_threads(kernel, n_chunks: int, *args) -> None:
    """Run ``kernel(*args, c_lo, c_hi)`` over chunk ranges on all cores.

    The compiled loops release the GIL (``nogil``) and run on a plain thread
    pool rather than numba's parallel layer: idle pool threads sleep, whereas
    OpenMP threads left spinning after each region were measured to slow the
    FFT threads that run in between (2-3x on 2 cores). It also makes the
    kernels safe to call from several threads at once. ``args[0]`` is the
    data array: below ~64k elements the hand-off to other threads costs more
    than it saves, and the calling thread does all the work.
    """
    global _POOL
    threads = 1 if args[0].size < 1 << 16 else min(_kernel_threads(), n_chunks)
    if threads <= 1:
        kernel(*args, 0, n_chunks)
        return
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_kernel_threads(), thread_name_prefix="toupy-kernel")
    bounds = [(t * n_chunks // threads, (t + 1) * n_chunks // threads) for t in range(threads)]
    futures = [_POOL.submit(kernel, *args, lo, hi) for lo, hi in bounds[1:]]
    kernel(*args, *bounds[0])
    for future in futures:
        future.result()


# --------------------------------------------------------------------------- numpy
def _block_stats_numpy(x, profile, plane, mask=None):
    weights = profile[:, None, None] * plane[None]
    if mask is not None:
        weights = weights * mask
    xf = x.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        return (
            float(np.sum(weights * xf)),
            float(np.sum(weights)),
            float(np.min(xf)),
            float(np.max(xf)),
        )


def _window_into_numpy(x, mean, profile, plane, out):
    np.subtract(x, mean, out=out, casting="unsafe")
    out *= profile[:, None, None]
    out *= plane[None]


def _shell_sums_numpy(g1, g2, k0, k1, k2, wlast, n_bins):
    index = block_shell_index([k0, k1, k2]).ravel()
    weights = np.broadcast_to(wlast, g1.shape).ravel()
    a = g1.ravel()
    b = g2.ravel()
    product = a * np.conj(b)
    keep = index < n_bins
    index = index[keep]
    out = np.empty((N_SUMS, n_bins))
    for row, values in enumerate(
        (product.real, product.imag, np.abs(a) ** 2, np.abs(b) ** 2, np.ones(a.size))
    ):
        out[row] = np.bincount(
            index, weights=(weights * values)[keep].astype(np.float64), minlength=n_bins
        )[:n_bins]
    return out


# --------------------------------------------------------------------------- numba
if HAVE_NUMBA:
    # Reassociation lets LLVM vectorise the reductions; unlike full fast-math
    # it keeps NaN/inf semantics, which the finite check relies on.
    _REDUCE = {"reassoc", "contract", "nsz"}

    @njit(nogil=True, cache=True, fastmath=_REDUCE)
    def _block_stats_numba(x, profile, plane, partial, c_lo, c_hi):
        n0, n1, n2 = x.shape
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        for c in range(c_lo, c_hi):
            lo = c * n_rows // n_chunks
            hi = (c + 1) * n_rows // n_chunks
            weighted = 0.0
            weight = 0.0
            low = np.inf
            high = -np.inf
            for r in range(lo, hi):
                i = r // n1
                j = r - i * n1
                p = profile[i]
                row_weighted = 0.0
                row_weight = 0.0
                for k in range(n2):
                    v = np.float64(x[i, j, k])
                    w = p * plane[j, k]
                    row_weighted += w * v
                    row_weight += w
                    low = min(low, v)
                    high = max(high, v)
                weighted += row_weighted
                weight += row_weight
            partial[c, 0] = weighted
            partial[c, 1] = weight
            partial[c, 2] = low
            partial[c, 3] = high

    @njit(nogil=True, cache=True)
    def _window_into_numba(x, mean, profile, plane, out, n_chunks, c_lo, c_hi):
        n0, n1, n2 = x.shape
        n_rows = n0 * n1
        for r in range(c_lo * n_rows // n_chunks, c_hi * n_rows // n_chunks):
            i = r // n1
            j = r - i * n1
            p = profile[i]
            for k in range(n2):
                out[i, j, k] = (x[i, j, k] - mean) * (p * plane[j, k])

    @njit(nogil=True, cache=True, fastmath=_REDUCE)
    def _window_stats_into_numba(x, shift, profile, plane, out, partial, c_lo, c_hi):
        # sums only (no min/max): they vectorise, which keeps this pass at memory speed
        n0, n1, n2 = x.shape
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        for c in range(c_lo, c_hi):
            lo = c * n_rows // n_chunks
            hi = (c + 1) * n_rows // n_chunks
            weighted = 0.0
            weight = 0.0
            squares = 0.0
            for r in range(lo, hi):
                i = r // n1
                j = r - i * n1
                p = profile[i]
                row_weighted = 0.0
                row_weight = 0.0
                row_squares = 0.0
                for k in range(n2):
                    w = p * plane[j, k]
                    d = np.float64(x[i, j, k]) - shift
                    out[i, j, k] = d * w
                    row_weighted += w * d
                    row_weight += w
                    row_squares += w * d * d
                weighted += row_weighted
                weight += row_weight
                squares += row_squares
            partial[c, 0] = weighted
            partial[c, 1] = weight
            partial[c, 2] = squares

    @njit(inline="always")
    def _products(ar, ai, br, bi, w, k, cross_re, cross_im, power1, power2):
        cross_re[k] = w * (ar * br + ai * bi)
        cross_im[k] = w * (ai * br - ar * bi)
        power1[k] = w * (ar * ar + ai * ai)
        power2[k] = w * (br * br + bi * bi)

    @njit(nogil=True, cache=True)
    def _shell_sums_numba(g1, g2, k0sq, k1sq, k2sq, wlast, c1, c2, w0, wp, correct, partial, c_lo, c_hi):
        n0, n1, m = g1.shape
        n_rows = n0 * n1
        n_chunks = partial.shape[0]
        n_bins = partial.shape[2]
        for c in range(c_lo, c_hi):
            lo = c * n_rows // n_chunks
            hi = (c + 1) * n_rows // n_chunks
            acc = partial[c]
            shell = np.empty(m, np.int64)
            cross_re = np.empty(m)
            cross_im = np.empty(m)
            power1 = np.empty(m)
            power2 = np.empty(m)
            for r in range(lo, hi):
                i = r // n1
                j = r - i * n1
                base = k0sq[i] + k1sq[j]
                # step 1: vectorisable products and shell numbers for the row;
                # with ``correct`` the residual means times the window transform
                # are removed first: F(x - c w) = F(x w) - c F(w)
                if correct:
                    row1 = c1 * w0[i]
                    row2 = c2 * w0[i]
                    for k in range(m):
                        shell[k] = np.int64(np.rint(np.sqrt(base + k2sq[k])))
                        wr = wp[j, k].real
                        wi = wp[j, k].imag
                        a = g1[i, j, k]
                        b = g2[i, j, k]
                        ar = np.float64(a.real) - (row1.real * wr - row1.imag * wi)
                        ai = np.float64(a.imag) - (row1.real * wi + row1.imag * wr)
                        br = np.float64(b.real) - (row2.real * wr - row2.imag * wi)
                        bi = np.float64(b.imag) - (row2.real * wi + row2.imag * wr)
                        _products(ar, ai, br, bi, wlast[k], k, cross_re, cross_im, power1, power2)
                else:
                    for k in range(m):
                        shell[k] = np.int64(np.rint(np.sqrt(base + k2sq[k])))
                        a = g1[i, j, k]
                        b = g2[i, j, k]
                        _products(np.float64(a.real), np.float64(a.imag), np.float64(b.real),
                                  np.float64(b.imag), wlast[k], k, cross_re, cross_im, power1, power2)
                # step 2: add runs of equal shells in registers, then into this
                # chunk's partial sums (along a row the shell changes slowly, and
                # adding voxel by voxel into one memory cell serialises the loop)
                current = shell[0]
                t0 = t1 = t2 = t3 = t4 = 0.0
                for k in range(m):
                    s = shell[k]
                    if s != current:
                        if current < n_bins:
                            acc[0, current] += t0
                            acc[1, current] += t1
                            acc[2, current] += t2
                            acc[3, current] += t3
                            acc[4, current] += t4
                        current = s
                        t0 = t1 = t2 = t3 = t4 = 0.0
                    t0 += cross_re[k]
                    t1 += cross_im[k]
                    t2 += power1[k]
                    t3 += power2[k]
                    t4 += wlast[k]
                if current < n_bins:
                    acc[0, current] += t0
                    acc[1, current] += t1
                    acc[2, current] += t2
                    acc[3, current] += t3
                    acc[4, current] += t4


# --------------------------------------------------------------------------- dispatch
def block_stats(
    x: np.ndarray, profile: np.ndarray, plane: np.ndarray, mask: np.ndarray | None = None,
    *, use_numba: bool = True,
):
    """Weighted sum, weight sum, min and max of a real slab ``x`` (slab view).

    ``profile`` is the window along axis 0 of the slab, ``plane`` the window
    over the other axes, ``mask`` an optional extra weight of the slab's
    shape. A NaN or inf anywhere makes the weighted sum non-finite.
    """
    if use_numba and HAVE_NUMBA and mask is None:
        partial = np.zeros((_n_chunks(x.shape[0] * x.shape[1]), 4))
        _in_threads(_block_stats_numba, partial.shape[0], x, profile, plane, partial)
        return (
            float(partial[:, 0].sum()),
            float(partial[:, 1].sum()),
            float(partial[:, 2].min()),
            float(partial[:, 3].max()),
        )
    return _block_stats_numpy(x, profile, plane, mask)


def window_stats_into(x, shift, profile, plane, out, *, use_numba: bool = True):
    """``window_into`` of a real slab that also returns weighted moments.

    One read of ``x`` gives ``out = (x - shift) * window`` and, with
    ``d = x - shift`` and ``w`` the window, ``(Σ w d, Σ w, Σ w d²)`` in float64
    (non-finite when ``x`` holds NaN or inf).
    """
    if use_numba and HAVE_NUMBA:
        partial = np.zeros((_n_chunks(x.shape[0] * x.shape[1]), 3))
        _in_threads(_window_stats_into_numba, partial.shape[0], x, float(shift), profile, plane, out, partial)
        return tuple(float(v) for v in partial.sum(axis=0))
    _window_into_numpy(x, shift, profile, plane, out)
    weights = profile[:, None, None] * plane[None]
    with np.errstate(invalid="ignore", over="ignore"):
        d = x.astype(np.float64) - shift
        return float(np.sum(weights * d)), float(np.sum(weights)), float(np.sum(weights * d * d))


def window_into(x, mean, profile, plane, out, mask=None, *, use_numba: bool = True) -> None:
    """Write ``(x - mean) * profile[:, None, None] * plane [* mask]`` into ``out``."""
    if use_numba and HAVE_NUMBA and not np.iscomplexobj(out):
        n_chunks = _n_chunks(x.shape[0] * x.shape[1])
        _in_threads(_window_into_numba, n_chunks, x, out.dtype.type(mean), profile, plane, out, n_chunks)
    else:
        _window_into_numpy(x, mean, profile, plane, out)
    if mask is not None:
        out *= mask


def shell_sums(
    g1: np.ndarray,
    g2: np.ndarray,
    axis_freqs: list[np.ndarray],
    last_weights: np.ndarray,
    n_bins: int,
    *,
    correction: tuple | None = None,
    use_numba: bool = True,
) -> np.ndarray:
    """Per-shell sums over one block of two spectra.

    Parameters
    ----------
    g1, g2 : ndarray, complex, shape ``(n0, n1, m)``
        The block of both spectra (slab view).
    axis_freqs : list of three 1-D arrays
        Scaled frequencies (see :mod:`._shells`) of the block's bins per axis.
    last_weights : ndarray, shape ``(m,)``
        Hermitian weights of the block's last-axis bins (ones for a full FFT).
    n_bins : int
        Number of shells to accumulate; voxels of larger shells are skipped.
    correction : (c1, c2, w0, wp), optional
        Subtract ``c * w0[i] * wp[j, k]`` from each spectrum before the sums:
        the transform of a constant ``c`` times a separable window (``w0`` the
        transform of its profile, ``wp`` the block of the transform of its
        plane). Removes a mean that was only known after the transform.

    Returns
    -------
    ndarray, shape ``(5, n_bins)``, float64
        Rows: ``Σ w Re(F1 F2*)``, ``Σ w Im(F1 F2*)``, ``Σ w |F1|²``,
        ``Σ w |F2|²``, ``Σ w``.
    """
    k0, k1, k2 = axis_freqs
    if correction is not None:
        c1, c2, w0, wp = correction
        c1, c2 = complex(c1), complex(c2)
        w0 = np.ascontiguousarray(w0, dtype=np.complex128)
        wp = np.ascontiguousarray(wp, dtype=np.complex128)
    if use_numba and HAVE_NUMBA:
        partial = np.zeros((_n_chunks(g1.shape[0] * g1.shape[1]), N_SUMS, n_bins))
        if correction is None:
            c1 = c2 = 0j
            w0, wp = _NO_PROFILE, _NO_PLANE
        _in_threads(_shell_sums_numba, partial.shape[0], g1, g2, k0**2, k1**2, k2**2, last_weights,
                    c1, c2, w0, wp, correction is not None, partial)
        return partial.sum(axis=0)
    if correction is not None:
        window = w0[:, None, None] * wp[None]
        g1, g2 = g1 - c1 * window, g2 - c2 * window
    return _shell_sums_numpy(g1, g2, k0, k1, k2, last_weights, n_bins)


# =========================================================================== batched (LocalFSC)

# Many small boxes share one geometry, so their kernels take a stack of boxes
# ``(n_boxes, ...)``; every box writes only its own output row, so there are no
# partial sums to merge. They run on the calling thread and release the GIL:
# the caller runs one pipeline (cut, transform, sums) per core on batches
# small enough to stay in cache, which beats splitting every stage over the
# cores (no hand-off between stages, no fresh pages).
def _window_boxes_numpy(volume, starts, profiles, out):
    p0, p1, p2 = profiles
    b0, b1, b2 = p0.size, p1.size, p2.size
    window = p0[:, None, None] * p1[None, :, None] * p2[None, None, :]
    weight = window.sum()
    for b, (s0, s1, s2) in enumerate(starts):
        box = volume[s0 : s0 + b0, s1 : s1 + b1, s2 : s2 + b2]
        if box.dtype.kind == "c":
            box = box.astype(np.complex128)
        else:
            box = box.astype(np.float64)
        mean = (window * box).sum() / weight
        out[b] = (box - mean) * window


if HAVE_NUMBA:

    # no fastmath: a vectorised reduction interleaved with the stores measured slower here
    @njit(nogil=True, cache=True)
    def _window_boxes_numba(volume, starts, p0, p1, p2, out):
        n_boxes = starts.shape[0]
        b0, b1, b2 = p0.size, p1.size, p2.size
        weight = p0.sum() * p1.sum() * p2.sum()
        for b in range(n_boxes):
            s0 = starts[b, 0]
            s1 = starts[b, 1]
            s2 = starts[b, 2]
            # one read of the volume: taper into the output and sum the tapered
            # values (float64), which is the weighted mean times the weight sum
            total = 0.0
            for i in range(b0):
                for j in range(b1):
                    pij = p0[i] * p1[j]
                    row = 0.0
                    for k in range(b2):
                        x = np.float64(volume[s0 + i, s1 + j, s2 + k]) * (pij * p2[k])
                        out[b, i, j, k] = x
                        row += x
                    total += row
            # then remove mean * taper from the cache-hot box
            mean = total / weight
            for i in range(b0):
                for j in range(b1):
                    mij = mean * p0[i] * p1[j]
                    for k in range(b2):
                        out[b, i, j, k] -= mij * p2[k]

    @njit(nogil=True, cache=True)
    def _batched_shell_sums_numba(g1, g2, index, weights, out):
        n_boxes, n_voxels = g1.shape
        for b in range(n_boxes):
            acc = out[b]
            for v in range(n_voxels):
                s = index[v]
                a = g1[b, v]
                c = g2[b, v]
                ar = np.float64(a.real)
                ai = np.float64(a.imag)
                cr = np.float64(c.real)
                ci = np.float64(c.imag)
                w = weights[v]
                # voxels beyond the last shell land in a spare bin that is dropped
                acc[0, s] += w * (ar * cr + ai * ci)
                acc[1, s] += w * (ai * cr - ar * ci)
                acc[2, s] += w * (ar * ar + ai * ai)
                acc[3, s] += w * (cr * cr + ci * ci)
                acc[4, s] += w


def _batched_shell_sums_numpy(g1, g2, index, weights, n_bins):
    n_boxes = g1.shape[0]
    keep = index < n_bins
    index = index[keep]
    weights = weights[keep]
    a = g1[:, keep]
    b = g2[:, keep]
    product = a * np.conj(b)
    # one bincount per quantity for all boxes at once: box b owns bins b*n_bins ...
    flat = (np.arange(n_boxes)[:, None] * n_bins + index[None, :]).ravel()
    out = np.empty((n_boxes, N_SUMS, n_bins))
    for row, values in enumerate(
        (product.real, product.imag, np.abs(a) ** 2, np.abs(b) ** 2, np.ones(a.shape))
    ):
        totals = np.bincount(
            flat, weights=(weights * values).astype(np.float64).ravel(), minlength=n_boxes * n_bins
        )
        out[:, row] = totals.reshape(n_boxes, n_bins)
    return out


def window_boxes(
    volume: np.ndarray,
    starts: np.ndarray,
    profiles: tuple[np.ndarray, np.ndarray, np.ndarray],
    out: np.ndarray,
    *,
    use_numba: bool = True,
) -> None:
    """Cut boxes from a volume, remove each box's weighted mean and taper it.

    Parameters
    ----------
    volume : ndarray, shape ``(n0, n1, n2)``
        The data in slab view (a 2-D image as ``(1, nr, nc)``); any real or
        complex dtype, read only.
    starts : ndarray of int64, shape ``(n_boxes, 3)``
        Corner of every box; boxes must lie inside ``volume``.
    profiles : three 1-D float64 arrays
        The separable taper along each axis of the box (lengths = box shape).
    out : ndarray, shape ``(n_boxes, b0, b1, b2)``
        Receives ``(box - mean) * taper``, where ``mean`` is the
        taper-weighted mean of the box (so the tapered box has zero sum).
    """
    p0, p1, p2 = (np.ascontiguousarray(p, dtype=np.float64) for p in profiles)
    if use_numba and HAVE_NUMBA and volume.dtype.kind != "c" and out.dtype.kind != "c":
        _window_boxes_numba(volume, np.ascontiguousarray(starts, dtype=np.int64), p0, p1, p2, out)
    else:
        _window_boxes_numpy(volume, starts, (p0, p1, p2), out)


def batched_shell_sums(
    spectra1: np.ndarray,
    spectra2: np.ndarray,
    axis_freqs: list[np.ndarray],
    last_weights: np.ndarray,
    n_bins: int,
    *,
    use_numba: bool = True,
) -> np.ndarray:
    """Per-shell sums of many boxes of two spectra sharing one geometry.

    Parameters
    ----------
    spectra1, spectra2 : ndarray, complex, shape ``(n_boxes, *box_spectrum_shape)``
        Transforms of the boxes (``rfftn`` or ``fftn`` over the box axes).
    axis_freqs : list of 1-D arrays
        Scaled frequencies (see :mod:`._shells`) of each box axis, in the
        layout of the spectra.
    last_weights : ndarray
        Hermitian weights of the last axis (ones for full transforms).
    n_bins : int
        Number of shells to accumulate; larger shells (corners) are skipped.

    Returns
    -------
    ndarray, shape ``(n_boxes, 5, n_bins)``, float64
        For each box the rows of :func:`shell_sums`: ``Σ w Re(F1 F2*)``,
        ``Σ w Im(F1 F2*)``, ``Σ w |F1|²``, ``Σ w |F2|²``, ``Σ w``.
    """
    n_boxes = spectra1.shape[0]
    index = block_shell_index(list(axis_freqs)).ravel()
    weights = np.ascontiguousarray(
        np.broadcast_to(np.asarray(last_weights, dtype=np.float64), spectra1.shape[1:]).ravel()
    )
    g1 = spectra1.reshape(n_boxes, -1)
    g2 = spectra2.reshape(n_boxes, -1)
    if use_numba and HAVE_NUMBA:
        index = np.minimum(index, n_bins).astype(np.int64)
        out = np.zeros((n_boxes, N_SUMS, n_bins + 1))
        _batched_shell_sums_numba(g1, g2, index, weights, out)
        return out[:, :, :n_bins]
    return _batched_shell_sums_numpy(g1, g2, index, weights, n_bins)
