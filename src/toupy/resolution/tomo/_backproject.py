"""Back-projection of filtered projections onto a square slice (linear interpolation).

For output pixel ``(r, j)`` (rotation axis at ``(n//2, n//2)``) and angle ``theta``
the detector coordinate is, as in :func:`skimage.transform.iradon`,
``u = n_det//2 + (j - n//2) cos(theta) - (r - n//2) sin(theta)``; the pixel receives
the filtered projection linearly interpolated at ``u``, or 0 when ``u`` falls
outside ``[0, n_det - 1]`` (``numpy.interp(..., left=0, right=0)``).

Two implementations of the same formula (equal to float round-off):

* a numba kernel (``nogil``) over a range of rows: rows are processed in blocks
  that stay in cache while every angle is added; for one row and one angle the
  valid columns are found analytically (no test in the inner loop), the
  detector indices and weights are computed in a vectorisable pass and the
  gather-and-add follows. Row ranges run on a thread pool, which composes with
  the caller's own thread pools (no numba threading layer is involved);
* a numpy twin vectorised over chunks of angles, the readable reference used by
  the tests and the fallback without numba (``TOUPY_RESOLUTION_NO_NUMBA=1``).

Measured (``benchmarks/bench_tomo.py``, 2-core AMD EPYC, 1024 x 1024 slice from
1000 angles, one thread): numba kernel 1.05 s (about 1.3 ns per pixel and
angle), numpy twin 12.9 s, scikit-image's per-angle ``numpy.interp`` 9.7 s. The
numpy twin is memory-bound (about ten passes over float64 temporaries per
angle), so the compiled kernel is the one used.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["HAVE_NUMBA", "backproject", "row_spans"]

try:  # numba is a hard dependency; the numpy twin keeps working without it
    if os.environ.get("TOUPY_RESOLUTION_NO_NUMBA"):
        raise ImportError
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False

#: rows kept in cache while all angles are added to them
_ROW_BLOCK = 16
#: bytes of float64 temporaries per angle chunk of the numpy twin
_NUMPY_CHUNK_BYTES = 64 << 20


def row_spans(n_out: int, circle: bool) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last column computed on each row.

    ``circle=True`` keeps the pixels with ``dr**2 + dc**2 <= (n_out//2)**2``
    (scikit-image's ``circle=True`` support), everything else stays 0.
    """
    lo = np.zeros(n_out, dtype=np.int64)
    hi = np.full(n_out, n_out, dtype=np.int64)
    if circle:
        radius = n_out // 2
        centre = n_out // 2
        for r in range(n_out):
            dr = r - centre
            rest = radius * radius - dr * dr
            if rest < 0:
                hi[r] = 0
                continue
            half = math.isqrt(rest)
            lo[r] = max(0, centre - half)
            hi[r] = min(n_out, centre + half + 1)
    return lo, hi


# --------------------------------------------------------------------------- numpy twin
def _backproject_numpy(q, cos, sin, centre, out, lo, hi):
    n_angles, n_det = q.shape
    n_rows, n_cols = out.shape
    slope = np.diff(q, axis=1, append=np.zeros((n_angles, 1), q.dtype))
    rows = np.arange(n_rows, dtype=np.float64)[:, None] - n_rows // 2
    cols = np.arange(n_cols, dtype=np.float64)[None, :] - n_cols // 2
    inside = (np.arange(n_cols)[None, :] >= lo[:, None]) & (np.arange(n_cols)[None, :] < hi[:, None])
    chunk = max(1, _NUMPY_CHUNK_BYTES // (8 * n_rows * n_cols * 4))
    for a0 in range(0, n_angles, chunk):
        a1 = min(n_angles, a0 + chunk)
        c = cos[a0:a1, None, None]
        s = sin[a0:a1, None, None]
        u = centre + cols * c - rows * s
        valid = (u >= 0) & (u <= n_det - 1) & inside
        i = np.clip(u, 0, n_det - 1).astype(np.intp)
        flat = i + (np.arange(a0, a1) * n_det)[:, None, None]
        values = q.ravel()[flat] + (u - i) * slope.ravel()[flat]
        out += np.where(valid, values, 0).sum(axis=0).astype(out.dtype)


# --------------------------------------------------------------------------- numba
if HAVE_NUMBA:

    @njit(nogil=True, cache=True)
    def _columns(u0, step, umax, lo, hi):
        """Columns ``j`` in ``[lo, hi)`` with ``0 <= u0 + j*step <= umax`` (as evaluated)."""
        if step > 0.0:
            first = np.ceil(-u0 / step)
            last = np.floor((umax - u0) / step)
        elif step < 0.0:
            first = np.ceil((umax - u0) / step)
            last = np.floor(-u0 / step)
        elif 0.0 <= u0 <= umax:
            return lo, hi
        else:
            return lo, lo
        # widen by one and trim with the exact expression: the divisions round
        j0 = max(lo, int(max(first, lo - 1.0)) - 1)
        j1 = min(hi, int(min(last, hi + 1.0)) + 2)
        while j0 < j1:
            u = u0 + j0 * step
            if 0.0 <= u <= umax:
                break
            j0 += 1
        while j1 > j0:
            u = u0 + (j1 - 1) * step
            if 0.0 <= u <= umax:
                break
            j1 -= 1
        return j0, j1

    @njit(nogil=True, cache=True)
    def _backproject_rows(q, slope, cos, sin, centre, out, lo, hi, r0, r1, block):
        n_angles, n_det = q.shape
        n_rows, n_cols = out.shape
        mid_r = n_rows // 2
        mid_c = n_cols // 2
        umax = float(n_det - 1)
        last = n_det - 1
        acc = np.zeros((block, n_cols), out.dtype)
        index = np.empty(n_cols, np.int64)
        weight = np.empty(n_cols, out.dtype)
        for b0 in range(r0, r1, block):
            b1 = min(b0 + block, r1)
            acc[:] = 0
            for a in range(n_angles):
                step = cos[a]
                qa = q[a]
                da = slope[a]
                for r in range(b0, b1):
                    u0 = centre - (r - mid_r) * sin[a] - mid_c * step
                    j0, j1 = _columns(u0, step, umax, lo[r], hi[r])
                    m = j1 - j0
                    if m <= 0:
                        continue
                    # pass 1 (vectorisable): detector index and weight of each column
                    for k in range(m):
                        u = u0 + (j0 + k) * step
                        i = min(max(int(u), 0), last)
                        index[k] = i
                        weight[k] = u - i
                    # pass 2: gather and add
                    row = acc[r - b0]
                    for k in range(m):
                        i = index[k]
                        row[j0 + k] += qa[i] + weight[k] * da[i]
            for r in range(b0, b1):
                for j in range(n_cols):
                    out[r, j] = acc[r - b0, j]


def backproject(
    filtered: np.ndarray,
    theta_rad: np.ndarray,
    n_out: int,
    *,
    circle: bool = True,
    workers: int = 1,
    use_numba: bool = True,
) -> np.ndarray:
    """Sum over angles of the interpolated filtered projections (no scaling).

    Parameters
    ----------
    filtered : ndarray, ``[angle, detector]``
        Filtered projections, float32 or float64, C-contiguous.
    theta_rad : ndarray
        Angles in radians.
    n_out : int
        Side of the square slice.
    circle : bool
        Compute only the pixels of the inscribed disc (others are 0).
    workers : int
        Threads over blocks of rows.
    use_numba : bool
        ``False`` runs the numpy twin.

    Returns
    -------
    ndarray ``(n_out, n_out)`` in the dtype of ``filtered``.
    """
    q = np.ascontiguousarray(filtered)
    cos = np.cos(np.asarray(theta_rad, dtype=np.float64))
    sin = np.sin(np.asarray(theta_rad, dtype=np.float64))
    centre = float(q.shape[1] // 2)
    lo, hi = row_spans(n_out, circle)
    out = np.zeros((n_out, n_out), dtype=q.dtype)
    if not (use_numba and HAVE_NUMBA):
        _backproject_numpy(q, cos, sin, centre, out, lo, hi)
        return out
    slope = np.diff(q, axis=1, append=np.zeros((q.shape[0], 1), q.dtype))
    block = min(_ROW_BLOCK, n_out)
    workers = max(1, int(workers))
    if workers == 1 or n_out < 4 * block:
        _backproject_rows(q, slope, cos, sin, centre, out, lo, hi, 0, n_out, block)
        return out
    # small tasks balance the short rows at the top and bottom of the disc
    starts = range(0, n_out, block)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        jobs = [
            pool.submit(
                _backproject_rows, q, slope, cos, sin, centre, out, lo, hi, r0, min(n_out, r0 + block), block
            )
            for r0 in starts
        ]
        for job in jobs:
            job.result()
    return out
