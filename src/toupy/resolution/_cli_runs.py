"""One function per estimator: opened files in, an :class:`Outcome` out.

These are the only places where the command line calls the library; the
subcommands (:mod:`toupy.resolution.cli`) and the demo (:mod:`toupy.resolution._cli_demo`) share
them, so the demo exercises exactly what a user runs. Each function takes
:class:`toupy.resolution.io.ImageFile` inputs and the chosen pixel size, calls the
estimator's functional API with the given parameters, and returns the result,
how to draw its documented figure (drawn by :meth:`Outcome.rendered` only when
a file will hold it), any map to write, the parameters as run, and a title.

:func:`output_names` names the figures and maps a run will write from the
opened inputs and the options alone, before anything is computed (the
session checks them against the inputs); the run functions take their file
names from the same helpers, and the session refuses a run whose files differ
from the plan.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import numpy as np

from toupy.resolution._cli_common import CLIError, RunNames, figure_png, in_memory, load, open_input, pixel_arguments

__all__ = [
    "Outcome", "correlation", "randomfsc", "localfsc", "localres", "decorr", "mtf", "split", "read_angles", "map_name", "slicer",
    "load_mask", "output_names",
]


@dataclass
class Outcome:
    """What one estimator run produced."""

    result: object
    figures: list            # (documented PNG name, draw): draw() returns the matplotlib figure
    parameters: dict
    title: str
    maps: list = field(default_factory=list)   # (file name, array, attrs)
    row: dict = field(default_factory=dict)    # scalar values for a table of several runs

    def rendered(self, draw: bool) -> list:
        """``(name, PNG bytes)`` per figure; with ``draw=False`` nothing is drawn and the bytes are None.

        Drawing a figure costs more than a small estimate itself, so the
        figures are drawn only when a file (``--out``, ``--report``) will hold them.
        """
        return [(name, figure_png(make()) if draw else None) for name, make in self.figures]


def _version() -> str:
    from toupy.resolution import __version__

    return __version__


def _pixel_text(pixel) -> str | None:
    return None if pixel is None else str(pixel)


def slicer(index: int, axis: int):
    """A function taking slice ``index`` along ``axis`` of a 3-D array (lazy arrays read only it)."""

    def take(array):
        n = array.shape[axis]
        if not -n <= index < n:
            raise CLIError(f"--slice {index} is outside 0..{n - 1} along --axis {axis}")
        key = [slice(None)] * len(array.shape)
        key[axis] = index
        return np.asarray(array[tuple(key)])

    return take


def load_mask(mask_spec, shape, take=None, option: str = "--mask") -> np.ndarray | None:
    """The mask file given to ``option`` as an array of ``shape`` (sliced like the inputs with ``take``)."""
    if mask_spec is None:
        return None
    with open_input(mask_spec, option) as mask_file:
        mask = load(mask_file)
    if take is not None and mask.ndim == 3:
        mask = take(mask)
    if tuple(mask.shape) != tuple(shape):
        raise CLIError(f"{option} {mask_spec}: shape {tuple(mask.shape)} differs from the input's {tuple(shape)}")
    return mask


def _pair_data(first, second, memory_limit, take=None, *, lazy=False):
    """Arrays for the FSC engine: in memory when they fit, else the lazy file data
    (out of core, or ``lazy`` for a Dask cluster that reads the files itself)."""
    if take is not None:
        return take(first.data), take(second.data)
    if not lazy and memory_limit is None and in_memory([first, second]):
        return load(first), load(second)
    return first.data, second.data


@contextlib.contextmanager
def _dask_client(address):
    """A ``distributed.Client`` connected to ``address`` (None: no client)."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise CLIError("--dask-scheduler needs the dask extra: pip install 'toupy-resolution[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as error:
        raise CLIError(f"--dask-scheduler {address}: cannot reach the scheduler ({error})") from None
    try:
        yield client
    finally:
        client.close()


def _as_dask(data):
    """A dask array of the input in slabs along axis 0 (whole planes, about 64 MB each)."""
    import dask.array as da

    plane = int(np.prod(data.shape[1:])) * np.dtype(data.dtype).itemsize
    rows = max(1, min(data.shape[0], (64 << 20) // max(plane, 1)))
    return da.from_array(data, chunks=(rows,) + tuple(data.shape[1:]))


def _apod(apod_width):
    """The estimators' default edge (narrowed with a warning on small inputs) when the option is not given."""
    from toupy.resolution._windows import DEFAULT_APOD_WIDTH

    return DEFAULT_APOD_WIDTH if apod_width is None else apod_width


def _apod_used(result, apod_width) -> int:
    """The edge width the estimator used (the default may have been narrowed), for the JSON."""
    used = getattr(result, "apod_width", None)
    return int(used) if used is not None else int(_apod(apod_width))


def _correlation_row(first, second, result) -> dict:
    return {
        "half1": first.spec,
        "half2": second.spec,
        "resolution_full": result.resolution_full,
        "resolution_half": result.resolution_half,
        "unit": result.unit,
        "resolution_full_px": result.resolution_full_px,
        "fn_res_cpx": result.fn_res_cpx,
        "nyquist_limited": result.nyquist_limited,
    }


def _correlation_figure(command: str, ndim: int) -> str:
    if command == "ssnr":
        return f"SSNR_{ndim}D.png"
    if command == "frc":
        return "FRC_2D.png"
    return f"FSC_{ndim}D.png"  # the names of FSCPlot


def _split_figure(ndim: int) -> str:
    return "FRC_2D.png" if ndim == 2 else "FSC_3D.png"


def _tomogram_names(tomogram_format: str, sinogram) -> list[str]:
    names = (map_name(f"tomogram_half{index}", tomogram_format, sinogram) for index in (1, 2))
    return [name for name in names if name]


def output_names(command: str, images, options: dict, label: str = "") -> RunNames:
    """The figures and maps the run of ``command`` on the opened ``images`` with ``options`` writes."""
    first = images[0]
    maps: list[str] = []
    if command in ("fsc", "frc", "ssnr"):
        ndim = 2 if options.get("slice_index") is not None else first.ndim
        figures = [_correlation_figure(command, ndim)]
    elif command == "randomfsc":
        figures = ["RandomFSC.png"]
    elif command == "localfsc":
        figures = ["LocalFSC_resmap.png"]
        maps = [map_name("LocalFSC_resmap", options.get("map_format", "auto"), first)]
    elif command == "localres":
        figures = ["LocalResolution_map.png"]
        maps = [map_name("LocalResolution_map", options.get("map_format", "auto"), first)]
    elif command == "decorr":
        figures = ["ImageDecorr.png"]
    elif command == "mtf":
        figures = [f"MTF_{options.get('method', 'edge')}.png"]
    elif command == "split":
        figures = [_split_figure(first.ndim)]
        maps = _tomogram_names(options.get("tomogram_format", "none"), first)
    else:
        raise ValueError(f"unknown command {command!r}")
    return RunNames(label=label, figures=tuple(figures), maps=tuple(m for m in maps if m))


def correlation(command: str, first, second, pixel, *, threshold="halfbit", ring_thick=1, apod_width=None,
                window="circle", mask_spec=None, workers=None, memory_limit=None, tmp_dir=None,
                dask_scheduler=None, slice_index=None, axis=0) -> Outcome:
    """``fsc``, ``frc`` or ``ssnr`` of two opened halves (``frc`` of one slice of volumes with ``slice_index``)."""
    from toupy.resolution import fsc as fsc_function
    from toupy.resolution import ssnr as ssnr_function

    take = slicer(slice_index, axis) if slice_index is not None else None
    if command == "frc":
        for image in (first, second):
            if image.ndim == 3 and take is None:
                raise CLIError(
                    f"frc needs 2-D images; {image.spec} is 3-D {image.shape}: take one slice with "
                    "--slice N [--axis A], or use the fsc command"
                )
            if image.ndim == 2 and take is not None:
                raise CLIError(f"--slice applies to 3-D inputs; {image.spec} is 2-D")
    data1, data2 = _pair_data(first, second, memory_limit, take, lazy=dask_scheduler is not None)
    mask = load_mask(mask_spec, data1.shape, take)
    estimator = ssnr_function if command == "ssnr" else fsc_function
    with _dask_client(dask_scheduler) as client:
        if client is not None:
            data1, data2 = (_as_dask(data) for data in (data1, data2))
        result = estimator(
            data1, data2, threshold=threshold, ring_thick=ring_thick, apod_width=_apod(apod_width), window=window,
            mask=mask, workers=workers, memory_limit=memory_limit, tmp_dir=tmp_dir, **pixel_arguments(pixel),
        )
    ndim = len(result.shape)
    name = _correlation_figure(command, ndim)
    if command == "ssnr":
        draw = result.plot
    else:  # the labels of FSCPlot
        draw = functools.partial(result.plot, name="FRC" if command == "frc" else "FSC")
    parameters = {
        "threshold": threshold, "ring_thick": ring_thick, "apod_width": _apod_used(result, apod_width),
        "window": window or "none", "mask": mask_spec, "pixel_size": _pixel_text(pixel),
    }
    if memory_limit is not None:
        parameters["memory_limit"] = memory_limit
    if dask_scheduler is not None:
        parameters["dask_scheduler"] = dask_scheduler
    if take is not None:
        parameters.update(slice=slice_index, axis=axis)
    label = {"fsc": "FSC" if ndim == 3 else "FSC (2-D: FRC)", "frc": "FRC", "ssnr": "SSNR"}[command]
    return Outcome(result, [(name, draw)], parameters, f"{label} of {first.spec} and {second.spec}",
                   row=_correlation_row(first, second, result))


def randomfsc(first, second, pixel, *, threshold="halfbit", ring_thick=1, apod_width=None, window="circle",
              mask_spec=None, workers=None, fsc_cutoff=0.8, random_seed=None) -> Outcome:
    """Phase-randomised FSC (Chen et al. 2013) of two opened halves."""
    from toupy.resolution._randomfsc import phase_randomized_fsc

    data1, data2 = load(first), load(second)
    mask = load_mask(mask_spec, data1.shape)
    result = phase_randomized_fsc(
        data1, data2, threshold=threshold, ring_thick=ring_thick, apod_width=_apod(apod_width),
        fsc_cutoff=fsc_cutoff, random_seed=random_seed, window=window, mask=mask, workers=workers,
        **pixel_arguments(pixel),
    )
    parameters = {
        "threshold": threshold, "ring_thick": ring_thick, "apod_width": _apod_used(result, apod_width),
        "window": window or "none", "mask": mask_spec, "fsc_cutoff": fsc_cutoff,
        "random_seed": result.random_seed, "pixel_size": _pixel_text(pixel),
    }
    return Outcome(result, [("RandomFSC.png", result.plot)], parameters,
                   f"Phase-randomised FSC of {first.spec} and {second.spec}",
                   row=_correlation_row(first, second, result))


MAP_FORMATS = ("auto", "tif", "h5", "npy", "mrc", "none")


def map_name(stem: str, map_format: str, image) -> str | None:
    """File name of a map: ``stem.<ext>``; ``auto`` follows the input's format (TIFF otherwise)."""
    if map_format == "none":
        return None
    if map_format == "auto":
        map_format = {"npy": "npy", "hdf5": "h5", "mrc": "mrc"}.get(image.format, "tif")
    return f"{stem}.{map_format}"


def map_attrs(quantity: str) -> dict:
    """Metadata stored with a resolution map."""
    return {"quantity": quantity, "units": "px", "convention": "full period (pixel_size/frequency)",
            "software": f"toupy-resolution {_version()}"}


def _map_row(first, second, result) -> dict:
    row = {"file": first.spec} if second is None else {"half1": first.spec, "half2": second.spec}
    row.update(median_px=result.resolution_median, mean_px=result.resolution_mean, std_px=result.resolution_std,
               median=result.resolution_median * result.pixel_size, unit=result.unit)
    return row


def localfsc(first, second, pixel, *, box_size=32, step=None, threshold=0.143, mask_spec=None,
             memory_limit=1e9, workers=None, map_format="auto", slice_idx=None, axis=0, cmap="viridis_r",
             vmin=None, vmax=None) -> Outcome:
    """Block-wise local FSC map of two opened halves."""
    from toupy.resolution._localfsc import local_fsc

    data1, data2 = load(first), load(second)
    mask = load_mask(mask_spec, data1.shape)
    result = local_fsc(data1, data2, box_size=box_size, step=step, threshold=threshold, mask=mask,
                       memory_limit=memory_limit, workers=workers, **pixel_arguments(pixel))
    draw = functools.partial(result.plot, slice_idx=slice_idx, axis=axis, cmap=cmap, vmin=vmin, vmax=vmax)
    maps = []
    name = map_name("LocalFSC_resmap", map_format, first)
    if name:
        maps.append((name, result.resolution_map, map_attrs("local FSC resolution")))
    parameters = {"box_size": box_size, "step": result.step, "threshold": threshold, "mask": mask_spec,
                  "memory_limit": memory_limit, "pixel_size": _pixel_text(pixel)}
    return Outcome(result, [("LocalFSC_resmap.png", draw)], parameters,
                   f"Local FSC of {first.spec} and {second.spec}", maps=maps,
                   row=_map_row(first, second, result))


def decorr(image, pixel, *, n_r=100, n_g=10, g_min=0.15, min_peak_amplitude=0.05, apod_width=20, axis=0,
           n_slices=10, slice_range=None, keep_mean=True, crop_first=False, spread_px=2,
           workers=None) -> Outcome:
    """Decorrelation analysis (Descloux et al. 2019) of one opened image or volume."""
    from toupy.resolution._decorr import decorrelation_resolution

    data = load(image)
    result = decorrelation_resolution(
        data, n_r=n_r, apod_width=apod_width, axis=axis, n_slices=n_slices, slice_range=slice_range,
        n_g=n_g, g_min=g_min, min_peak_amplitude=min_peak_amplitude, keep_mean=keep_mean,
        crop_first=crop_first, spread_px=spread_px, workers=workers, **pixel_arguments(pixel),
    )
    parameters = {"n_r": n_r, "n_g": n_g, "g_min": g_min, "min_peak_amplitude": min_peak_amplitude,
                  "apod_width": apod_width, "keep_mean": keep_mean, "crop_first": crop_first,
                  "spread_px": spread_px, "pixel_size": _pixel_text(pixel)}
    if data.ndim == 3:
        parameters.update(axis=axis, n_slices=n_slices, slice_range=slice_range)
    row = {"file": image.spec, "resolution_px": result.resolution_px, "resolution": result.resolution,
           "unit": result.unit, "kc_spread": result.kc_spread}
    return Outcome(result, [("ImageDecorr.png", result.plot)], parameters,
                   f"Decorrelation analysis of {image.spec}", row=row)


# ---------------------------------------------------------------------------- split (tomography)

#: names under which HDF5/zarr files commonly keep the projection angles next to the sinogram
_ANGLE_NAMES = ("theta", "angles", "angle", "rotation_angle", "thetas")


def read_angles(spec: str | None, sinogram) -> tuple[np.ndarray, str]:
    """Projection angles in degrees and where they came from.

    ``spec`` is ``START:STOP`` (the sinogram's angles evenly spaced over
    ``[START, STOP)``), a ``.npy``/``.txt``/``.csv``/``.dat`` file, or an HDF5
    dataset ``file.h5:/theta``. Without ``spec`` a dataset named ``theta``,
    ``angles``, ... next to an HDF5 sinogram is used.
    """
    n_angles = sinogram.shape[-1]
    if spec is None:
        if sinogram.format == "hdf5":
            import h5py

            with h5py.File(sinogram.path, "r") as h5:
                group = h5[sinogram.dataset].parent
                for name in _ANGLE_NAMES:
                    if name in group and isinstance(group[name], h5py.Dataset):
                        source = f"{sinogram.path}:{group[name].name}"
                        return _check_angles(group[name][()], n_angles, source), source
        raise CLIError(
            f"{sinogram.spec}: no projection angles found; give --theta FILE (npy, txt, file.h5:/theta) "
            "or --theta START:STOP for evenly spaced angles"
        )
    text = str(spec)
    parts = text.split(":")
    if len(parts) == 2 and all(_is_number(p) for p in parts):
        start, stop = float(parts[0]), float(parts[1])
        if stop == start:
            raise CLIError(f"--theta {text}: START and STOP must differ")
        return np.linspace(start, stop, n_angles, endpoint=False), f"evenly spaced over [{start:g}, {stop:g})"
    from toupy.resolution.io import split_spec

    path, inner = split_spec(text)
    if not path.exists():
        raise CLIError(f"--theta {text}: no such file (and not START:STOP, e.g. 0:180)")
    suffix = path.suffix.lower()
    try:
        if inner is not None or suffix in (".h5", ".hdf5", ".nxs", ".cxi", ".hdf"):
            import h5py

            with h5py.File(path, "r") as h5:
                name = inner or next((n for n in _ANGLE_NAMES if n in h5), None)
                if name is None or name not in h5 or not isinstance(h5[name], h5py.Dataset):
                    raise CLIError(f"--theta {text}: no angle dataset (name one with {path}:/path)")
                values = h5[name][()]
        elif suffix == ".npy":
            values = np.load(path, allow_pickle=False)
        else:
            values = np.loadtxt(path, delimiter="," if suffix == ".csv" else None)
    except (OSError, ValueError) as exc:
        raise CLIError(f"--theta {text}: unreadable ({' '.join(str(exc).split())})") from None
    return _check_angles(values, n_angles, text), text


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _check_angles(values, n_angles: int, source: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size != n_angles:
        raise CLIError(f"{source}: {values.size} angles for a sinogram with {n_angles} projections (last axis)")
    if not np.all(np.isfinite(values)):
        raise CLIError(f"{source}: angles contain NaN or infinite values")
    return values


_TOMOGRAM_NAMES = (("img1 and img2", "the even- and odd-angle tomograms"),
                   ("vol1 and vol2", "the even- and odd-angle tomograms"),
                   ("img1", "the even-angle tomogram"), ("vol1", "the even-angle tomogram"),
                   ("img2", "the odd-angle tomogram"), ("vol2", "the odd-angle tomogram"))


@contextlib.contextmanager
def _tomograms_named():
    """Re-issue the FSC's warnings about ``img1``/``img2`` as warnings about the two tomograms."""
    import re
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        text = str(item.message)
        for name, meaning in _TOMOGRAM_NAMES:
            text = re.sub(rf"(?<![\w-]){name}\b", meaning, text)
        warnings.warn(text[:1].upper() + text[1:], item.category, stacklevel=3)


def split(sinogram, pixel, *, theta=None, algorithm="FBP", filtertype="ram-lak", freqcutoff=1.0, circle=True,
          weight_angles=False, derivatives=False, calc_derivatives=False, threshold="halfbit", ring_thick=1,
          apod_width=None, window="circle", workers=None, tomogram_format="none") -> Outcome:
    """Even/odd split of a sinogram, two tomograms, and their FRC (FSC for a stack of slices)."""
    from toupy.resolution import fsc as fsc_function
    from toupy.resolution.FSCtools import compute_2tomograms

    if sinogram.ndim not in (2, 3):
        raise CLIError(f"{sinogram.spec}: a sinogram is [detector, angle] or [slice, detector, angle]; "
                       f"got shape {sinogram.shape}")
    angles, angle_source = read_angles(theta, sinogram)
    data = load(sinogram)
    if data.size and np.all(np.isfinite(data)) and np.all(data == data.flat[0]):
        # its two tomograms would be identical: an FRC of 1 up to Nyquist that measures nothing
        raise CLIError(f"{sinogram.spec} (sinogram): is constant ({data.flat[0]:g} everywhere): it holds no "
                       "projection of a sample whose resolution could be measured")
    recon1, recon2 = compute_2tomograms(
        data, angles, algorithm=algorithm, filtertype=filtertype, freqcutoff=freqcutoff, circle=circle,
        weight_angles=weight_angles, derivatives=derivatives, calc_derivatives=calc_derivatives,
        workers=workers,
    )
    with _tomograms_named():
        result = fsc_function(recon1, recon2, threshold=threshold, ring_thick=ring_thick,
                              apod_width=_apod(apod_width), window=window, workers=workers,
                              **pixel_arguments(pixel))
    ndim = recon1.ndim
    name, label = _split_figure(ndim), ("FRC" if ndim == 2 else "FSC")
    maps = []
    for file, volume, parity in zip(_tomogram_names(tomogram_format, sinogram), (recon1, recon2), ("even", "odd")):
        maps.append((file, volume, {"quantity": f"tomogram of the {parity} angles",
                                    "software": f"toupy-resolution {_version()}"}))
    parameters = {
        "theta": angle_source, "n_angles": int(angles.size), "algorithm": algorithm,
        "filtertype": filtertype or "none", "freqcutoff": freqcutoff, "circle": circle,
        "weight_angles": weight_angles, "derivatives": derivatives, "calc_derivatives": calc_derivatives,
        "threshold": threshold, "ring_thick": ring_thick, "apod_width": _apod_used(result, apod_width),
        "window": window or "none",
        "pixel_size": _pixel_text(pixel),
    }
    row = {"file": sinogram.spec, "resolution_full": result.resolution_full,
           "resolution_half": result.resolution_half, "unit": result.unit,
           "resolution_full_px": result.resolution_full_px, "nyquist_limited": result.nyquist_limited}
    return Outcome(result, [(name, functools.partial(result.plot, name=label))], parameters,
                   f"{label} of the even/odd-angle tomograms of {sinogram.spec}", maps=maps, row=row)


# ---------------------------------------------------------------------------- localres

def _figure(plotted):
    """The figure of a ``plot()`` that returns a figure or ``(figure, ...)``."""
    return plotted[0] if isinstance(plotted, tuple) else plotted


def localres(image, pixel, *, significance=0.05, n_freq=20, window_sigma=7.0, mask_spec=None,
             noise_method="corners", noise_mask_spec=None, sigma_noise=None, corner_fraction=0.1,
             highfreq_fraction=0.1, whiten=False, fdr=False, workers=None, map_format="auto", slice_idx=None,
             axis=0, cmap="viridis_r", vmin=None, vmax=None) -> Outcome:
    """Single-map local resolution (band-energy test against noise) of one opened image or volume."""
    from toupy.resolution._localres import local_resolution

    data = load(image)
    if noise_method == "mask" and noise_mask_spec is None:
        raise CLIError("--noise-method mask needs --noise-mask FILE (the noise-only voxels)")
    result = local_resolution(
        data, significance=significance, n_freq=n_freq, window_sigma=window_sigma,
        # the masks as read: the estimator checks them (negative values, NaN) and says which one is wrong
        mask=load_mask(mask_spec, data.shape), noise_method=noise_method,
        noise_mask=load_mask(noise_mask_spec, data.shape, option="--noise-mask"), sigma_noise=sigma_noise,
        corner_fraction=corner_fraction, highfreq_fraction=highfreq_fraction, whiten=whiten, fdr=fdr,
        workers=workers, **pixel_arguments(pixel),
    )
    def draw():
        return _figure(result.plot(slice_idx=slice_idx, axis=axis, cmap=cmap, vmin=vmin, vmax=vmax))

    maps = []
    name = map_name("LocalResolution_map", map_format, image)
    if name:
        maps.append((name, result.resolution_map, map_attrs("local resolution (single map)")))
    parameters = {
        "significance": significance, "n_freq": n_freq, "window_sigma": window_sigma, "mask": mask_spec,
        "noise_method": result.noise_method, "noise_mask": noise_mask_spec, "sigma_noise": result.sigma_noise,
        "corner_fraction": corner_fraction, "highfreq_fraction": highfreq_fraction, "whiten": whiten,
        "fdr": fdr, "pixel_size": _pixel_text(pixel),
    }
    return Outcome(result, [("LocalResolution_map.png", draw)], parameters,
                   f"Local resolution of {image.spec}", maps=maps, row=_map_row(image, None, result))


# ---------------------------------------------------------------------------- mtf

def mtf(image, pixel, *, method="edge", roi=None, center=None, roi_size=16, oversample=4, bead_diameter=None,
        bead_shape="sphere", symmetric=None, slice_index=None, axis=0) -> Outcome:
    """MTF from a slanted edge (ISO 12233) or a point source, in one opened 2-D image (or a slice)."""
    from toupy.resolution._mtf_edge import mtf_slanted_edge
    from toupy.resolution._mtf_point import mtf_point_source

    if image.ndim == 3:
        if slice_index is None:
            raise CLIError(f"mtf needs a 2-D image; {image.spec} is 3-D {image.shape}: choose one with --slice N "
                           "(or average a range, --slice START:STOP) [--axis A]")
        if isinstance(slice_index, slice):
            n = image.shape[axis]
            picked = range(*slice_index.indices(n))
            if len(picked) == 0:
                raise CLIError(f"--slice {slice_index.start}:{slice_index.stop} selects no slice of {n} along --axis {axis}")
            key = [slice(None)] * 3
            key[axis] = slice_index
            # a rod or an edge along the axis: the mean of its slices has the same MTF and less noise
            data = np.asarray(image.data[tuple(key)], dtype=np.float64).mean(axis=axis)
        else:
            data = slicer(slice_index, axis)(image.data)
    elif slice_index is not None:
        raise CLIError(f"--slice applies to 3-D inputs; {image.spec} is 2-D")
    else:
        data = load(image)
    if method == "edge":
        if center is not None or bead_diameter is not None:
            raise CLIError("--center and --bead-diameter apply to --method point")
        result = mtf_slanted_edge(data, roi=roi, oversample=oversample, symmetric=symmetric,
                                  **pixel_arguments(pixel))
    else:
        result = mtf_point_source(data, roi=roi, center=center, roi_size=roi_size, bead_diameter=bead_diameter,
                                  bead_shape=bead_shape, **pixel_arguments(pixel))
    parameters = {"method": method, "roi": None if roi is None else [[s.start, s.stop] for s in roi],
                  "pixel_size": _pixel_text(pixel)}
    if method == "edge":
        parameters.update(oversample=oversample, symmetric="auto" if symmetric is None else symmetric)
    else:
        parameters.update(center=center, roi_size=roi_size, bead_diameter=bead_diameter, bead_shape=bead_shape)
    if slice_index is not None:
        if isinstance(slice_index, slice):
            picked = range(*slice_index.indices(image.shape[axis]))
            shown = f"{picked.start}:{picked.stop} (mean of {len(picked)} slices)"
        else:
            shown = slice_index
        parameters.update(slice=shown, axis=axis)
    row = {"file": image.spec, "f50_cpx": result.f50, "f10_cpx": result.f10,
           "resolution_50": result.resolution_50, "unit": result.unit}
    label = "slanted edge" if method == "edge" else "point source"
    return Outcome(result, [(f"MTF_{method}.png", result.plot)], parameters,
                   f"MTF ({label}) of {image.spec}", row=row)
