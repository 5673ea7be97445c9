"""The Fourier shell correlation engine.

Pipeline for two images (in memory; each stage works on blocks so the same
code can later stream from disk or run on Dask):

1. **statistics** — window-weighted moments, finite and constant checks.
   For real inputs with a separable window they are taken in pass 1's read
   and the exact mean is removed afterwards in the spectra; otherwise a
   separate pass over slabs along axis 0 gives the mean first;
2. **pass 1** — per slab: ``(x - mean) * window`` written into a reused
   buffer, 2-D ``rfft`` over the last two axes, stored in the half spectrum;
3. **pass 2** — per pencil block along axis 1: 1-D ``fft`` along axis 0 of
   both spectra into contiguous blocks, then the shell-sum kernel on the
   cache-hot blocks.

Real inputs use ``rfftn`` layout with Hermitian weights so every sum equals the
full-FFT sum (decision D4); complex inputs use full transforms. A 2-D image is
the single slab ``(1, nr, nc)`` and skips pass 2's FFT. The result is the
vector of per-shell sums; the curve, threshold and crossing follow from it.
"""

from __future__ import annotations

import os
from contextlib import closing

import numpy as np
import scipy.fft

from . import _kernels
from ._checks import warn_assumption
from ._crossing import first_crossing, shell_to_frequency
from ._fftinto import fftn_into, rfftn_into
from ._results import FSCResult, SSNRResult, length_unit
from ._shells import hermitian_weights, max_shell_index, n_shells, shell_frequencies
from ._thresholds import (
    legacy_threshold_curve,
    ssnr_from_fsc,
    threshold_curve,
    validate_threshold,
)
from ._progress import progress
from ._storage import FileStore, MemoryStore, SlabSource, check_tmp_dir, is_lazy, read_ahead
from ._validate import (
    check_finite,
    check_mask,
    check_nonnegative_int,
    check_pair,
    check_pixel_size,
    parse_bytes,
    work_dtype,
)
from ._windows import (
    DEFAULT_APOD_WIDTH,
    validate_apod_width,
    validate_window,
    window_factors,
    window_rows,
)

__all__ = ["ShellSums", "fourier_shell_sums", "pool_shells", "fsc", "ssnr", "default_workers",
           "warn_if_dependent"]

_SLAB_BYTES = 64 << 20
_PENCIL_BYTES = 8 << 20
#: buffer budget of the out-of-core executor when it is chosen automatically (with the
#: interpreter and libraries at most about 2 GB resident; 1.5 GB measured at 1024^3)
DEFAULT_OUT_OF_CORE_LIMIT = 1_800_000_000


def default_workers() -> int:
    """All cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class ShellSums:
    """Per-shell sums of two spectra (rows as in :func:`_kernels.shell_sums`).

    ``sums[:, s]`` covers every voxel of shell ``s``, including corner shells
    beyond Nyquist (needed when ``ring_thick`` pools across the last shell), up
    to the ``max_shell`` asked of :func:`fourier_shell_sums`.
    """

    def __init__(self, sums: np.ndarray, shape: tuple[int, ...], complex_input: bool):
        self.sums = sums
        self.shape = tuple(shape)
        self.complex_input = complex_input

    def __add__(self, other: "ShellSums") -> "ShellSums":
        return ShellSums(self.sums + other.sums, self.shape, self.complex_input)


def _slab_rows(plane_elements: int, itemsize: int, budget: int, n0: int) -> int:
    return int(max(1, min(n0, budget // max(plane_elements * itemsize, 1))))


def _as_work(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Slab in a dtype the compiled kernels accept (float32/float64, real or complex parts)."""
    if x.dtype.kind == "f" and x.dtype.itemsize in (4, 8):
        return x
    return x.astype(dtype)


class _Geometry:
    """The engine's 3-D view of the inputs and the window as slab factors.

    In memory a 2-D image is one slab ``(1, nr, nc)`` whose plane is the whole
    window; streamed, it is ``(nr, 1, nc)`` (slabs of rows) and the window is
    produced row band by row band. Volumes are their own view.
    """

    def __init__(self, shape, window, apod_width, threshold, mask, streamed, complex_input):
        self.shape = tuple(shape)
        self.streamed = streamed
        freqs = shell_frequencies(self.shape, real=not complex_input)
        if len(shape) == 3:
            self.view = self.shape
        elif streamed:
            self.view = (shape[0], 1, shape[1])
            freqs = [freqs[0], np.zeros(1), freqs[1]]
        else:
            self.view = (1,) + self.shape
            freqs = [np.zeros(1)] + freqs
        self.freqs = freqs
        self.last_weights = np.ones(freqs[2].size) if complex_input else hermitian_weights(shape[-1])
        self._rows_window = None
        factors = None
        if len(shape) == 2 and streamed:
            if window is not None and apod_width > 0:
                self._rows_window = (window, apod_width, threshold)
        else:
            factors = window_factors(self.shape, window, apod_width, threshold=threshold)
        n0, n1, n2 = self.view
        if factors is None:
            profile, plane = np.ones(n0), np.ones((n1, n2))
        else:
            profile, plane = factors
        self.profile = np.ascontiguousarray(profile, dtype=np.float64)
        self.plane = np.ascontiguousarray(plane, dtype=np.float64).reshape(n1, n2)
        self.mask = mask
        #: the whole window is ``profile x plane`` (so is its transform)
        self.separable = self._rows_window is None and mask is None

    def extra_weights(self, a: int, b: int) -> np.ndarray | None:
        """Weights of slab ``a:b`` beyond ``profile x plane`` (mask, streamed 2-D window)."""
        weights = None
        if self._rows_window is not None:
            window, apod_width, threshold = self._rows_window
            weights = window_rows(self.shape, window, apod_width, slice(a, b), threshold=threshold)
        if self.mask is not None:
            rows = self.mask[np.newaxis] if self.view[0] == 1 and self.mask.ndim == 2 else self.mask[a:b]
            weights = rows if weights is None else weights * rows
        return None if weights is None else weights.reshape((b - a,) + self.view[1:])


def _weighted_mean(source, geometry, dtype, name: str, subtract_mean: bool, budget: int, show):
    """Streaming pass: weighted mean of one input; raise on NaN/inf or a constant input."""
    n0, n1, n2 = geometry.view
    # the slab copy read from a file, its float view and the block reductions' temporaries
    rows = _slab_rows(n1 * n2, max(source.dtype.itemsize, 4) * 4, budget, n0)
    sums = np.zeros((2, 2))
    low = np.full(2, np.inf)
    high = np.full(2, -np.inf)
    complex_input = source.dtype.kind == "c"
    starts = range(0, n0, rows)
    for a in progress(starts, total=len(starts), desc=f"{name}: mean", enabled=show):
        b = min(a + rows, n0)
        slab = source.read(a, b)
        extra = geometry.extra_weights(a, b)
        parts = (slab.real, slab.imag) if complex_input else (slab,)
        for p, part in enumerate(parts):
            s_wx, s_w, lo, hi = _kernels.block_stats(
                _as_work(part, dtype), geometry.profile[a:b], geometry.plane, extra
            )
            sums[p] += (s_wx, s_w)
            low[p] = min(low[p], lo)
            high[p] = max(high[p], hi)
    used = 2 if complex_input else 1
    means = _checked_means(name, sums[:used], low[:used], high[:used])
    if not subtract_mean:
        return 0.0
    return complex(means[0], means[1]) if complex_input else means[0]


def _checked_means(name, sums, low, high) -> list[float]:
    """Weighted means from (Σ w x, Σ w) per part; raise on NaN/inf or a constant input."""
    check_finite([*np.ravel(sums), *low, *high], name)
    if np.all(low == high):
        raise ValueError(f"{name} is constant: its Fourier correlation is undefined")
    return [s_wx / s_w if s_w > 0 else 0.0 for s_wx, s_w in sums]


def _rough_mean(array: np.ndarray) -> float:
    """Mean of a strided sample (at most 64 per axis): a cheap shift before the exact mean."""
    sample = array[tuple(slice(None, None, max(1, n // 64)) for n in array.shape)]
    value = float(np.mean(sample, dtype=np.float64))
    return value if np.isfinite(value) else 0.0


def _transform_slabs_with_stats(source, store, geometry, shift, subtract_mean, dtype, workers, budget,
                                show, name):
    """Pass 1 for real inputs with a separable window, fused with the statistics pass.

    Each slab is shifted by ``shift`` (a rough mean; ``None`` takes the first
    slab's mean), windowed and transformed while its weighted moments are
    taken in the same read; the exact residual mean is removed afterwards in
    the spectra (see ``shell_sums``'s ``correction``), where it is small, so
    nothing is lost to round-off. Out of core this saves a whole read of the
    inputs. A single slab (a 2-D image) is windowed again with the exact mean
    before its FFT instead, which is cheaper than the window's transform.

    Returns the residual mean still to be removed in the spectra.
    """
    n0, n1, n2 = geometry.view
    # to a file: two slabs read, the windowed buffer, two half spectra (one being
    # written) and the copy packed for the file
    per_value = (7 if isinstance(store, FileStore) else 4) * np.dtype(dtype).itemsize
    rows = _slab_rows(n1 * n2, per_value, budget, n0)
    buffer = np.empty((rows, n1, n2), dtype)
    moments = np.zeros(3)
    single = n0 == 1  # a 2-D image: the exact mean can go before the FFT
    starts = range(0, n0, rows)
    reader = read_ahead(lambda a: source.read(a, min(a + rows, n0)), starts,
                        enabled=isinstance(store, FileStore))
    with closing(reader) as slabs:  # on an error too, the reader thread stops before we leave
        for a, slab in progress(slabs, total=len(starts), desc=f"{name}: transform", enabled=show):
            b = min(a + rows, n0)
            slab = _as_work(slab, dtype)
            if shift is None:
                shift = float(np.mean(slab, dtype=np.float64)) if subtract_mean else 0.0
                shift = shift if np.isfinite(shift) else 0.0
            slab_moments = _kernels.window_stats_into(
                slab, shift, geometry.profile[a:b], geometry.plane, buffer[: b - a]
            )
            check_finite(slab_moments, name)  # before anything more is transformed or written
            moments += slab_moments
            if not single:
                rfftn_into(buffer[: b - a], store.slab(a, b), (1, 2), workers)
                store.commit(a, b)
    weighted, weight, squares = moments
    mean = weighted / weight if weight > 0 else 0.0
    # constant inside the window: the weighted variance vanishes to round-off
    if weight <= 0 or squares / weight - mean**2 <= 1e-24 * max(shift**2, squares / weight):
        raise ValueError(f"{name} is constant: its Fourier correlation is undefined")
    if not subtract_mean:
        mean = 0.0
    if single:
        if mean:
            _kernels.window_into(slab, shift + mean, geometry.profile, geometry.plane, buffer[:n0])
        rfftn_into(buffer[:n0], store.slab(0, n0), (1, 2), workers)
        store.commit(0, n0)
        return 0.0
    return mean


def _transform_slabs(source, store, geometry, mean, dtype, complex_input, workers, budget, show, name):
    """Pass 1: window each slab and transform it over the last two axes into ``store``."""
    n0, n1, n2 = geometry.view
    if complex_input:
        buffer_dtype, transform = np.result_type(dtype, np.complex64), scipy.fft.fft2
    else:
        buffer_dtype, transform = dtype, scipy.fft.rfft2
    # input copy, windowed buffer, transform output, pocketfft's work space and the
    # contiguous copies written to the store (measured: ~6 buffer sizes at the peak)
    rows = _slab_rows(n1 * n2, 6 * np.dtype(buffer_dtype).itemsize, budget, n0)
    buffer = np.empty((rows, n1, n2), buffer_dtype)
    starts = range(0, n0, rows)
    for a in progress(starts, total=len(starts), desc=f"{name}: transform", enabled=show):
        b = min(a + rows, n0)
        slab = source.read(a, b)
        if not complex_input:
            slab = _as_work(slab, dtype)
        _kernels.window_into(
            slab, mean, geometry.profile[a:b], geometry.plane, buffer[: b - a],
            geometry.extra_weights(a, b),
        )
        store.write(a, b, transform(buffer[: b - a], axes=(1, 2), workers=workers))


def _is_dask(array) -> bool:
    return type(array).__module__.split(".")[0] == "dask"


def fourier_shell_sums(
    img1,
    img2,
    *,
    window: str | None,
    apod_width: int,
    threshold: str | float = "halfbit",
    subtract_mean: bool = True,
    mask: np.ndarray | None = None,
    workers: int | None = None,
    use_numba: bool = True,
    memory_limit=None,
    tmp_dir=None,
    show_progress: bool | None = None,
    max_shell: int | None = None,
) -> ShellSums:
    """Per-shell sums of the spectra of two validated, same-shape images.

    Parameters
    ----------
    img1, img2
        ndarrays, or lazily sliceable arrays (``numpy.memmap``,
        ``h5py.Dataset``, zarr) of the same shape.
    window, apod_width, threshold
        The window (``threshold`` only matters for ``window='toupy'``).
    subtract_mean : bool
        Remove each image's window-weighted mean first.
    mask : ndarray, optional
        Validated float64 weights of the input shape, multiplied into the window.
    memory_limit : int or str, optional
        Run out of core within about this many bytes: half spectra go to an
        anonymous temporary file in ``tmp_dir`` and are read back in pencil
        blocks. Chosen automatically (1.8 GB of buffers, at most about 2 GB resident) for
        memmap/h5py/zarr inputs.
    tmp_dir : path, optional
        Folder of the temporary file (default: the system's temporary folder).
    max_shell : int, optional
        Largest shell the caller uses (default: the corner shells too).
        Pencils whose every voxel lies beyond it are neither transformed along
        axis 0 nor summed, and out of core not written to disk: for a cube
        that is about a fifth of the spectrum.

    Notes
    -----
    The DC bin is zeroed when the means are subtracted (it holds only
    round-off after the weighted-mean removal).
    """
    workers = workers or default_workers()
    shape = tuple(img1.shape)
    complex_input = img1.dtype.kind == "c" or img2.dtype.kind == "c"
    dtype = work_dtype(img1, img2)
    if memory_limit is None and (is_lazy(img1) or is_lazy(img2)):
        memory_limit = DEFAULT_OUT_OF_CORE_LIMIT
    budget = None if memory_limit is None else parse_bytes(memory_limit, "memory_limit")
    streamed = budget is not None
    geometry = _Geometry(shape, window, apod_width, threshold, mask, streamed, complex_input)
    n0, n1, n2 = geometry.view
    sources = [SlabSource(img, geometry.view) for img in (img1, img2)]
    cdtype = np.result_type(dtype, np.complex64)
    spectrum_shape = (n0, n1, n2 if complex_input else n2 // 2 + 1)
    show = show_progress if show_progress is not None else (None if streamed else False)

    # pencils beyond the last needed shell are not kept (file) or not transformed (memory);
    # a 2-D image in memory (n0 == 1) has no axis-0 FFT to save and is read in place
    columns = None
    if max_shell is not None and max_shell < max_shell_index(shape) and n0 > 1:
        columns = _pencil_columns(geometry.freqs[1], geometry.freqs[2], max_shell)

    if streamed:
        slab_need = 5 * n1 * n2 * np.dtype(cdtype).itemsize + geometry.plane.nbytes
        if budget < slab_need:
            raise ValueError(
                f"memory_limit={budget / 1e6:.1f} MB is below what one slab of shape "
                f"{(1, n1, n2)} needs ({slab_need / 1e6:.1f} MB); raise memory_limit"
            )
        folder = check_tmp_dir(tmp_dir, 2 * FileStore.bytes_needed(spectrum_shape, cdtype, columns))
        # what lives through both passes: the window plane and its transform (the
        # mean correction), and the two last columns kept in memory
        plane_ft_bytes = n1 * (n2 // 2 + 1) * 16
        stage_budget = (budget - geometry.plane.nbytes - plane_ft_bytes
                        - 2 * n0 * n1 * np.dtype(cdtype).itemsize)
        stage_budget = max(stage_budget, slab_need)
    else:
        stage_budget = None

    # Real inputs without a mask take one read each: the exact mean is removed in
    # the spectra, where the window's transform is separable (not so for a 2-D
    # image streamed by rows, whose rows window is not a product).
    fused = not complex_input and geometry.separable
    stores, residuals = [], []
    try:
        for source, name in zip(sources, ("img1", "img2")):
            store = (FileStore(spectrum_shape, cdtype, folder, columns) if streamed
                     else MemoryStore(spectrum_shape, cdtype, _PENCIL_BYTES, columns))
            stores.append(store)
            if fused:
                # a strided sample is cheap in memory; from a file the first slab will do
                shift = _rough_mean(source.array) if subtract_mean and not streamed else None
                residuals.append(_transform_slabs_with_stats(
                    source, store, geometry, shift, subtract_mean, dtype, workers,
                    stage_budget or _SLAB_BYTES, show, name))
            else:
                mean = _weighted_mean(source, geometry, dtype, name, subtract_mean,
                                      stage_budget or 4 * _SLAB_BYTES, show)
                _transform_slabs(source, store, geometry, mean, dtype, complex_input, workers,
                                 stage_budget or _SLAB_BYTES, show, name)
            store.flush()  # pass 1 of this input is over: its buffers go
            source.close()
        correction = None
        if fused and subtract_mean and any(residuals):
            correction = (residuals[0], residuals[1], scipy.fft.fft(geometry.profile),
                          scipy.fft.rfft2(geometry.plane))
        total = _accumulate_blocks(stores, geometry, streamed, workers, use_numba,
                                   stage_budget // 6 if streamed else _PENCIL_BYTES, show,
                                   correction, max_shell)
    finally:
        for store in stores:
            store.close()
    if subtract_mean:
        total[:4, 0] = 0.0
    return ShellSums(total, shape, complex_input)


def _pencil_columns(k1: np.ndarray, k2: np.ndarray, max_shell: int) -> np.ndarray | None:
    """Per index of axis 1, how many leading last-axis bins can reach ``max_shell``.

    A pencil ``(j, k)`` (all of axis 0) holds no voxel of shell ``<= max_shell``
    when ``k1[j]**2 + k2[k]**2`` already exceeds ``(max_shell + 1/2)**2``.
    ``None`` when ``k2`` is not ascending (a full FFT axis): nothing is pruned.
    """
    k2sq = k2**2
    if np.any(np.diff(k2sq) < 0):
        return None
    return np.searchsorted(k2sq, (max_shell + 0.5) ** 2 - k1**2, side="right")


def _accumulate_blocks(stores, geometry, streamed, workers, use_numba, block_budget, show,
                       correction=None, max_shell=None):
    """Pass 2: FFT along axis 0 of each pencil block of both spectra, then shell sums.

    ``correction = (c1, c2, W0, Wp)`` removes residual means ``c`` times the
    window's transform ``W0 x Wp`` from the spectra in the kernel. Shells
    beyond ``max_shell`` are not summed.
    """
    store1, store2 = stores
    n0 = geometry.view[0]
    k0, k1, k2 = geometry.freqs
    n_bins = max_shell_index(geometry.shape) + 1
    if max_shell is not None:
        n_bins = min(n_bins, max_shell + 1)
    total = np.zeros((_kernels.N_SUMS, n_bins))
    blocks = list(store1.blocks(block_budget))
    # from a file, the next blocks are read while this one is transformed and summed
    reader = read_ahead(lambda block: (store1.read(*block), store2.read(*block)), blocks,
                        enabled=streamed)
    # a block read from a file is transformed in place; a strided view of a spectrum
    # in memory is transformed into a reused C-contiguous buffer (the copy and the
    # FFT in one pass), which the kernel then reads with unit stride
    largest = 0 if streamed else max(
        (n0 * (r.stop - r.start) * (c.stop - c.start) for r, c in blocks), default=0)
    scratch = [np.empty(largest, store.dtype) for store in stores]
    with closing(reader) as reads:
        for (rows, cols), (g1, g2) in progress(reads, total=len(blocks), desc="shell sums",
                                               enabled=show):
            if n0 > 1:
                g1, g2 = (_fft_axis0(g, buffer, workers) for g, buffer in zip((g1, g2), scratch))
            block_correction = None
            if correction is not None:
                c1, c2, profile_ft, plane_ft = correction
                block_correction = (c1, c2, profile_ft, plane_ft[rows, cols])
            total += _kernels.shell_sums(
                g1, g2, [k0, k1[rows], k2[cols]], geometry.last_weights[cols], n_bins,
                correction=block_correction, use_numba=use_numba,
            )
    return total


def _fft_axis0(block: np.ndarray, scratch: np.ndarray, workers: int) -> np.ndarray:
    """FFT along axis 0 of a pencil block, C-contiguous: in place when ``block`` is
    C-contiguous (a reused read buffer), else into the start of ``scratch``."""
    out = block if block.flags.c_contiguous else scratch[: block.size].reshape(block.shape)
    fftn_into(block, out, (0,), workers)
    return out


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


def _validated(img1, img2, threshold, ring_thick, apod_width, window, pixel_size, mask=None,
               record=None):
    """The checked arguments of the shell-correlation estimators.

    Warnings about adjusted defaults (a default ``apod_width`` fitted to a
    small box) are appended to ``record``.
    """
    a, b = check_pair(img1, img2)
    mask = check_mask(mask, a.shape)
    threshold = validate_threshold(threshold)
    ring_thick = check_nonnegative_int(ring_thick, "ring_thick")
    count = n_shells(a.shape)
    if ring_thick >= count:
        raise ValueError(
            f"ring_thick must be smaller than the number of shells, {count} for shape {a.shape} "
            f"(every point would pool the whole spectrum); got {ring_thick}"
        )
    window = validate_window(window)
    apod_width = validate_apod_width(apod_width, a.shape, window, record)
    pixel_size = check_pixel_size(pixel_size)
    return a, b, threshold, ring_thick, apod_width, window, pixel_size, mask


#: ``1 - |FSC|`` below this on every shell up to Nyquist means dependent halves: two
#: independent measurements would need an SNR above a million at Nyquist to get there
_DEPENDENT_GAP = 1e-6


def warn_if_dependent(sums: np.ndarray, complex_input: bool, n_out: int, record: list,
                      names: str = "img1 and img2", stacklevel: int = 5) -> None:
    """Warn when the halves are one image twice, or one an affine function of the other.

    Such halves (``a`` and ``3a + 1``; ``a`` and ``-a``) give ``|FSC| = 1`` on
    every shell by construction. Independent halves, however high their SNR,
    keep ``1 - FSC ≈ N/S`` of their noise at Nyquist. Read from the per-shell
    sums the engine returns (single shells 1 .. ``n_out - 1``), so it costs no
    pass over the data.
    """
    curve = np.abs(_correlation_from_sums(sums[:, 1:n_out], complex_input, legacy=False))
    curve = curve[np.isfinite(curve)]
    if curve.size == 0:
        return
    gap = 1.0 - float(curve.min())
    if gap < _DEPENDENT_GAP:
        lowest = f"1 - {gap:.1e}" if gap > 0 else "1"
        warn_assumption(
            f"{names} are not independent: |FSC| is above 1 - {_DEPENDENT_GAP:g} on every shell up "
            f"to Nyquist (lowest {lowest}: the same data twice, or one an affine function of the other), so the "
            "curve and the resolution mean nothing; use two independently measured or "
            "reconstructed halves.",
            record, stacklevel=stacklevel,
        )


def fsc(
    img1: np.ndarray,
    img2: np.ndarray,
    *,
    threshold: str | float = "halfbit",
    ring_thick: int = 1,
    apod_width: int = DEFAULT_APOD_WIDTH,
    window: str | None = "circle",
    pixel_size: float = 1.0,
    unit: str | None = None,
    mask: np.ndarray | None = None,
    workers: int | None = None,
    memory_limit: int | str | None = None,
    tmp_dir: str | None = None,
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
        Width in pixels of the window edge; 0 disables the window. Default 20;
        left at the default on an axis shorter than 40 pixels, the edge is
        narrowed to a quarter of the shortest axis (with a warning). An explicit
        width needs ``2 * apod_width`` pixels along every axis.
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
    memory_limit : int or str, optional
        Compute out of core within about this much memory (e.g. ``'2GB'``):
        the inputs are read slab by slab and the half spectra are kept in an
        anonymous temporary file (at most as large as the two inputs, about 0.8
        of them for a cube; removed whatever happens). Chosen automatically,
        with 1.8 GB of buffers (at most about 2 GB resident), when an input is
        a ``numpy.memmap``, an ``h5py.Dataset`` or a zarr array, so a pair of
        volumes larger than RAM can be compared.
    tmp_dir : str, optional
        Folder for that temporary file (default: the system temporary folder);
        it must have room for it, which is checked before starting.

    A ``dask.array`` input is computed as a task graph (optional extra
    ``[dask]``): slabs are transformed in parallel, rechunked so the first axis
    is whole, and only per-block shell sums come back; with a
    ``dask.distributed`` client the work runs on its cluster.

    Returns
    -------
    FSCResult
        Curves per shell and the resolution at the first crossing; its
        ``warnings`` hold the sentences below.

    Raises
    ------
    ValueError
        Bad inputs: shapes that differ, NaN or infinite values, a constant
        image, a mask with negative values, ``ring_thick`` not smaller than
        the number of shells, an explicit ``apod_width`` that does not fit.

    Warns
    -----
    ResolutionWarning
        If the halves are not independent (``|FSC|`` above ``1 - 1e-6`` on
        every shell up to Nyquist: the same data twice, or one an affine
        function of the other), and when the default ``apod_width`` was
        narrowed to fit the input.

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
    record = []
    a, b, threshold, ring_thick, apod_width, window, pixel_size, mask = _validated(
        img1, img2, threshold, ring_thick, apod_width, window, pixel_size, mask, record
    )
    legacy = window == "toupy"
    common = dict(window=window, apod_width=apod_width, threshold=threshold,
                  subtract_mean=not legacy, mask=mask)
    if _is_dask(a) or _is_dask(b):
        from ._dask import dask_shell_sums, require_dask

        _, da = require_dask()
        a, b = (x if _is_dask(x) else da.from_array(x) for x in (a, b))
        sums = dask_shell_sums(a, b, **common)
    else:
        sums = fourier_shell_sums(a, b, **common, workers=workers, memory_limit=memory_limit,
                                  tmp_dir=tmp_dir, max_shell=_last_pooled_shell(a.shape, ring_thick))
    return _result_from_sums(sums, threshold, ring_thick, apod_width, window, pixel_size, unit, record)


def _last_pooled_shell(shape: tuple[int, ...], ring_thick: int) -> int:
    """Largest shell that :func:`pool_shells` reads for the reported shells."""
    return n_shells(shape) - 1 + max(ring_thick, 1) // 2


def _result_from_sums(sums: ShellSums, threshold, ring_thick, apod_width, window, pixel_size, unit,
                      record: list):
    shape = sums.shape
    nmax = max(shape)
    count = n_shells(shape)
    legacy = window == "toupy"
    warn_if_dependent(sums.sums, sums.complex_input, count, record)
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
        warnings=tuple(record),
    )


def ssnr(
    img1: np.ndarray,
    img2: np.ndarray,
    *,
    threshold: str | float = "halfbit",
    ring_thick: int = 1,
    apod_width: int = DEFAULT_APOD_WIDTH,
    window: str | None = "circle",
    pixel_size: float = 1.0,
    unit: str | None = None,
    mask: np.ndarray | None = None,
    workers: int | None = None,
    memory_limit: int | str | None = None,
    tmp_dir: str | None = None,
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
        memory_limit=memory_limit, tmp_dir=tmp_dir,
    )
    fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
    return SSNRResult(
        **fields,
        ssnr=ssnr_from_fsc(base.fsc),
        ssnr_threshold=ssnr_from_fsc(base.threshold_curve),
    )
