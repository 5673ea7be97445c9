"""Local resolution from two half data sets: block-wise FSC (3-D) / FRC (2-D).

Decision D8 and §4 of ``ALGORITHMS.md`` (Cardone, Heymann & Steven 2013, J.
Struct. Biol. 184:226; Bsoft ``blocres``):

1. box corners on a grid with ``step`` per axis, the last box flush with the
   far border, so the boxes cover the array without padding (with a ``mask``
   only the boxes whose interpolation support touches the sample are
   computed);
2. each box of both halves: taper-weighted mean removed, Hann taper applied
   (one fused pass, :func:`._kernels.window_boxes`), all boxes of a batch
   transformed by one batched ``rfftn`` over the box axes, and the shell sums
   of every box of the batch accumulated in one call
   (:func:`._kernels.batched_shell_sums`); the batch size follows a memory
   budget;
3. per box: signed FSC per shell (shells ``s = 0 .. box//2``, ``s / box``
   cycles/pixel), the threshold with the box's own full-FFT counts, the first
   interpolated crossing (:func:`._crossing.first_crossing`, all boxes at
   once); a box whose curve never drops is Nyquist-limited (flagged, ``2`` px),
   one that is never above has no resolution (NaN);
4. the crossing *frequencies* live on the box-centre grid and are
   interpolated linearly to every pixel (nearest value beyond the outer
   centres), then inverted: averaging resolutions instead would bias the map
   toward coarse values.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field

import numpy as np
import scipy.fft

from . import _kernels
from ._correlation import default_workers
from ._crossing import first_crossing
from ._progress import progress
from ._results import jsonable, length_unit, map_statistics
from ._shells import hermitian_weights, shell_frequencies
from ._thresholds import threshold_curve, threshold_label, validate_threshold
from ._validate import check_mask, check_pair, check_pixel_size, check_positive_int, work_dtype
from ._windows import hann_profile

__all__ = ["LocalFSCResult", "local_fsc", "box_starts"]

#: smallest box: below 8 pixels a box has 4 shells, too few for any crossing
MIN_BOX_SIZE = 8
# bytes of interpolation temporaries per chunk of output rows
_INTERP_BYTES = 16 << 20


@dataclass(frozen=True, eq=False)
class LocalFSCResult:
    """Local resolution map from block-wise Fourier shell/ring correlation.

    Attributes
    ----------
    resolution_map : ndarray, input shape
        Local full-period resolution in pixels (``1 / f`` with ``f`` the
        interpolated local crossing frequency in cycles/pixel); NaN where the
        nearest box has no resolution (its curve is below the threshold from
        the first shell on), where no box was computed, and outside ``mask``.
        float32 for float32/integer inputs, float64 otherwise.
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

    # -- derived views ---------------------------------------------------------
    @property
    def kind(self) -> str:
        """``'FRC'`` for 2-D inputs, ``'FSC'`` for 3-D inputs."""
        return "FRC" if len(self.shape) == 2 else "FSC"

    @property
    def resolution_map_half(self) -> np.ndarray:
        """Local half-period resolution in pixels (``resolution_map / 2``)."""
        return self.resolution_map / 2

    @property
    def resolution_map_phys(self) -> np.ndarray:
        """Local full-period resolution in ``unit`` (``resolution_map * pixel_size``)."""
        return self.resolution_map * self.resolution_map.dtype.type(self.pixel_size)

    @property
    def resolution_map_phys_half(self) -> np.ndarray:
        """Local half-period resolution in ``unit``."""
        return self.resolution_map * self.resolution_map.dtype.type(self.pixel_size / 2)

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
            f"{100 * self.fraction_no_resolution:.0f} % without crossing)"
        )

    def to_dict(self, *, include_map: bool = False) -> dict:
        """All fields as JSON-safe Python objects (NaN and inf become None).

        The full-size ``resolution_map`` is left out unless ``include_map``
        (its statistics and the per-box values are always included).
        """
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if not include_map:
            out.pop("resolution_map")
        out["kind"] = self.kind
        out["n_boxes"] = self.n_boxes
        out["fraction_nyquist_limited"] = self.fraction_nyquist_limited
        out["fraction_no_resolution"] = self.fraction_no_resolution
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

        fig, _ = plot_resolution_map(
            self.resolution_map, slice_idx=slice_idx, axis=axis, cmap=cmap, vmin=vmin,
            vmax=vmax, pixel_size=self.pixel_size, unit=self.unit,
            title=f"local {self.kind} resolution, box {self.box_size}\n{self.threshold_name}",
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


def _linear_taps(centers: np.ndarray, n: int):
    """Linear-interpolation taps from the centre grid to pixels ``0 .. n-1``.

    Returns ``lo, hi, t, nearest``: pixel ``x`` takes ``(1 - t) g[lo] + t g[hi]``;
    beyond the outer centres ``t`` is clipped (nearest extrapolation).
    """
    x = np.arange(n, dtype=np.float64)
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


def _frequency_map_to_resolution(grid_freq, centers, shape, dtype, mask):
    """Interpolate box frequencies linearly to ``shape`` and invert them.

    Where some neighbouring boxes have no value the interpolation uses the
    others (weights renormalised); a pixel whose nearest box has no value is
    NaN, so NaN regions keep the extent of their boxes. Works on chunks of
    rows so the float64 temporaries stay small.
    """
    valid = np.isfinite(grid_freq)
    filled = np.where(valid, grid_freq, 0.0)
    weight = valid.astype(np.float64)
    taps = [_linear_taps(c, n) for c, n in zip(centers, shape)]

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


def _active_boxes(mask: np.ndarray, centers: tuple) -> np.ndarray:
    """Boxes needed to interpolate the map at every pixel of the mask.

    Along an axis with centres ``c_0 < ... < c_{m-1}``, cell ``j`` holds the
    pixels ``c_{j-1} <= x < c_j`` (cell 0 and cell ``m`` lie beyond the outer
    centres); its pixels are interpolated from boxes ``j - 1`` and ``j``. So
    box ``j`` is needed when cell ``j`` or ``j + 1`` contains a mask pixel.
    The mask is reduced cell by cell and axis by axis.
    """
    cells = mask != 0
    for axis, c in enumerate(centers):
        n = cells.shape[axis]
        bounds = np.concatenate(([0], np.clip(np.ceil(c).astype(np.int64), 0, n), [n]))
        work = np.moveaxis(cells, axis, 0)
        reduced = np.zeros((c.size + 1,) + work.shape[1:], dtype=bool)
        for j in range(c.size + 1):
            if bounds[j + 1] > bounds[j]:
                reduced[j] = work[bounds[j] : bounds[j + 1]].any(axis=0)
        cells = np.moveaxis(reduced[:-1] | reduced[1:], 0, axis)
    return cells


# --------------------------------------------------------------------------- validation
def _check_finite(array: np.ndarray, name: str) -> None:
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean or mask them first")


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


def _box_shell_sums(views, corners, box_size, ndim, complex_input, dtype, memory_limit, workers):
    """Shell sums of every box of both halves, in batches sized to ``memory_limit``.

    Per batch: each half's boxes are cut, centred and tapered into one reused
    buffer and transformed by one batched FFT over the box axes; the shell
    sums of all boxes of the batch come from one kernel call.
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
    transform = scipy.fft.fftn if complex_input else scipy.fft.rfftn
    buffer_dtype = np.result_type(dtype, np.complex64) if complex_input else dtype

    n_boxes = corners.shape[0]
    per_box = _bytes_per_box(box_shape, np.dtype(dtype).itemsize, complex_input)
    batch = int(max(1, min(n_boxes, memory_limit // per_box)))
    buffer = np.empty((batch,) + buffer_shape, buffer_dtype)
    sums = np.zeros((n_boxes, _kernels.N_SUMS, n_bins))
    n_batches = -(-n_boxes // batch)
    for i in progress(range(n_batches), total=n_batches, desc=f"local {('FRC', 'FSC')[ndim - 2]}"):
        lo, hi = i * batch, min((i + 1) * batch, n_boxes)
        out = buffer[: hi - lo]
        spectra = []
        for view in views:
            _kernels.window_boxes(view, corners[lo:hi], profiles, out)
            spectra.append(transform(out, axes=fft_axes, workers=workers))
        sums[lo:hi] = _kernels.batched_shell_sums(spectra[0], spectra[1], freqs, last_weights, n_bins)
        del spectra
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
    vol1, vol2 : ndarray
        Two independent half reconstructions (2-D images or 3-D volumes
        ``[slices, rows, cols]``) of the same shape, real or complex. Integers
        are computed in float32, float32 stays float32, float64 stays float64.
        Inputs are never modified.
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
    mask : ndarray, optional
        Sample support (binary or soft, input shape). Only the boxes needed to
        interpolate the map inside the mask are computed; the map is NaN where
        ``mask == 0`` and the statistics are taken inside the mask. The mask
        selects boxes only; it does not weight the data.
    memory_limit : float, optional
        Bytes available for the box buffers and spectra of one batch
        (default 1e9). At least one box is processed per batch.
    workers : int, optional
        Threads for the batched FFTs; default all available cores.
    unit : str, optional
        Name of the unit of ``pixel_size`` (e.g. ``'nm'``).

    Returns
    -------
    LocalFSCResult
        The map (full period, pixels, input shape), per-box frequencies,
        curves and flags, the box-centre grid and statistics.

    Raises
    ------
    ValueError
        Shapes differ, NaN/inf values, a constant input, ``box_size`` < 8 or
        larger than the smallest dimension, ``step`` < 1, an unknown
        threshold, a bad mask or a non-positive ``memory_limit``.

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
    """
    a, b = check_pair(vol1, vol2, names=("vol1", "vol2"))
    shape = a.shape
    box_size = _check_box_size(box_size, shape)
    step = box_size // 2 if step is None else check_positive_int(step, "step")
    threshold = validate_threshold(threshold)
    pixel_size = check_pixel_size(pixel_size)
    mask = check_mask(mask, shape)
    memory_limit = _check_memory_limit(memory_limit)
    workers = _check_workers(workers)
    for array, name in ((a, "vol1"), (b, "vol2")):
        _check_finite(array, name)
        parts = (array.real, array.imag) if array.dtype.kind == "c" else (array,)
        if all(part.min() == part.max() for part in parts):
            raise ValueError(f"{name} is constant: its Fourier correlation is undefined")

    complex_input = a.dtype.kind == "c" or b.dtype.kind == "c"
    dtype = work_dtype(a, b)
    ndim = len(shape)
    # the compiled box kernel reads integers and float32/64 directly; lift the rest
    views = [
        x.astype(dtype) if x.dtype.kind == "b" or x.dtype in (np.float16, np.longdouble) else x
        for x in (a, b)
    ]
    views = [x[np.newaxis] if ndim == 2 else x for x in views]

    # box grid, and the boxes actually evaluated
    grid_starts = [box_starts(n, box_size, step) for n in shape]
    grid_shape = tuple(s.size for s in grid_starts)
    centers = tuple(s + (box_size - 1) / 2.0 for s in grid_starts)
    if mask is None:
        computed = np.ones(grid_shape, dtype=bool)
    else:
        computed = _active_boxes(mask, centers)
    box_ids = np.flatnonzero(computed)
    corners = np.stack(
        [g.ravel() for g in np.meshgrid(*grid_starts, indexing="ij")], axis=1
    )[box_ids]
    if ndim == 2:
        corners = np.concatenate([np.zeros((corners.shape[0], 1), np.int64), corners], axis=1)

    sums, batch, n_batches = _box_shell_sums(
        views, corners, box_size, ndim, complex_input, dtype, memory_limit, workers
    )
    curves = _box_curves(sums, complex_input)
    n_bins = box_size // 2 + 1
    # every box has the same geometry, hence the same counts (a non-empty mask leaves >= 1 box)
    n_per_shell = sums[0, 4].copy()
    thresholds = threshold_curve(n_per_shell, threshold)
    crossing, limited = first_crossing(curves, thresholds)

    box_frequency = np.full(grid_shape, np.nan)
    box_frequency.flat[box_ids] = crossing / box_size
    box_limited = np.zeros(grid_shape, dtype=bool)
    box_limited.flat[box_ids] = limited
    box_fsc = np.full(grid_shape + (n_bins,), np.nan)
    box_fsc.reshape(-1, n_bins)[box_ids] = curves

    map_dtype = np.dtype(dtype)
    resolution_map = _frequency_map_to_resolution(box_frequency, centers, shape, map_dtype, mask)
    stats = map_statistics(resolution_map, mask)
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
        extras={"batch_size": batch, "n_batches": n_batches},
    )
