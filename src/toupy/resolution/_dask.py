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
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from . import _kernels
from ._correlation import ShellSums, _as_work, _Geometry
from ._shells import max_shell_index
from ._validate import work_dtype

__all__ = ["is_dask_array", "require_dask", "dask_shell_sums"]

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
        views.append(view.rechunk((rows, n1, n2)))

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
        if not (np.all(np.isfinite(weighted)) and np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError(f"{name} contains NaN or infinite values; clean or mask them first")
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
