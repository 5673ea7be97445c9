"""``toupy-resolution demo``: a synthetic tomography experiment analysed end to end.

1. **Phantom** — a 3-D Shepp–Logan head of ten ellipsoids (Kak & Slaney's
   table, rotations about the tomographic axis only), plus a thin dense rod
   outside the head (a "bead" in every slice, for the point-source MTF). It is
   never rasterised: the projections are the exact line integrals of the
   ellipses that the slices cut from the ellipsoids, so the reconstruction is
   not an "inverse crime".
2. **Detector and counting noise** — the projections are blurred by a
   Gaussian detector response (σ = 1 pixel along both detector axes), then
   transmitted counts ``Poisson(I0 exp(-p))`` are drawn per detector pixel and
   angle and converted back to ``-log(counts/I0)``. The sample is a weak
   absorber (at least 82 % transmission, ``I0`` = 30000 photons), so the noise
   is nearly the same inside and outside the sample, which the single-map
   local resolution needs (its noise level comes from the empty region).
3. **Even/odd split and two tomograms** — :func:`toupy.resolution.FSCtools.compute_2tomograms`
   (filtered back-projection of :mod:`toupy.resolution.tomo`), one volume per half.
4. **Every estimator** — the half tomograms and a soft sample mask are
   written into ``<out>/data`` with their pixel size and read back with
   :func:`toupy.resolution.io.read_image`, then analysed by the same code as the
   subcommands: FSC (3-D), FRC (central slice), SSNR, phase-randomised FSC with
   the mask, local FSC, decorrelation of the full tomogram (the average of the
   halves), local resolution of the full tomogram with whitened noise from
   the empty region inside the field of view, and the point-source MTF of the
   rod (a disc of 1.2 px in every slice) on the full tomogram averaged along
   the rod: the system's response, detector blur plus reconstruction.
5. **Output** — figures under their documented names, one JSON per
   estimator, ``summary.json`` and ``report.html`` in ``<out>``.

Sizes: 256-pixel detector, 64 slices, 402 angles by default (well under a
minute on two cores); 128 pixels and 48 slices when the environment variable
``CI`` is true. The files in ``<out>/data`` are the inputs of the command-line
examples (``toupy-resolution fsc demo-output/data/tomogram_even.tif ...``).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from toupy.resolution import _cli_runs as runs
from toupy.resolution._cli_common import Run, Session, choose_pixel_size, collect_warnings, open_input, verbosity
from toupy.resolution.io import ImageFile

__all__ = ["run_demo", "phantom_sinograms", "phantom_slices", "ELLIPSOIDS"]

#: 3-D Shepp–Logan (Kak & Slaney): density A, semi-axes a (x), b (y), c (z), centre x0, y0, z0,
#: rotation phi in degrees about the z (tomographic) axis; coordinates in [-1, 1]
ELLIPSOIDS = np.array([
    [1.0, 0.6900, 0.920, 0.810, 0.00, 0.0000, 0.00, 0.0],
    [-0.8, 0.6624, 0.874, 0.780, 0.00, -0.0184, 0.00, 0.0],
    [-0.2, 0.1100, 0.310, 0.220, 0.22, 0.0000, 0.00, -18.0],
    [-0.2, 0.1600, 0.410, 0.280, -0.22, 0.0000, 0.00, 18.0],
    [0.1, 0.2100, 0.250, 0.410, 0.00, 0.3500, -0.15, 0.0],
    [0.1, 0.0460, 0.046, 0.050, 0.00, 0.1000, 0.25, 0.0],
    [0.1, 0.0460, 0.046, 0.050, 0.00, -0.1000, 0.25, 0.0],
    [0.1, 0.0460, 0.023, 0.050, -0.08, -0.6050, 0.00, 0.0],
    [0.1, 0.0230, 0.023, 0.020, 0.00, -0.6060, 0.00, 0.0],
    [0.1, 0.0230, 0.046, 0.020, 0.06, -0.6050, 0.00, 0.0],
])

PIXEL_SIZE = "28.6nm"
#: the rod: centre (x, y) in phantom units (beside the head, inside the field of view),
#: radius in pixels, density (10x the skull's, so one slice shows it above the noise)
_ROD = (0.85, 0.0, 0.6, 10.0)
#: phantom unit → pixels: the head (|y| <= 0.92) fills 83 % of the field of view
_SCALE = 0.45
_MAX_ATTENUATION = 0.2     # largest line integral mu*L: 82 % transmission
_INCIDENT_COUNTS = 3e4     # photons per detector pixel and projection
# Gaussian detector response in pixels; without it the phantom's step edges and the
# rod put signal up to Nyquist and the FSC never crosses the threshold
_DETECTOR_SIGMA = 1.0


def _sections(z: float, pixel: float):
    """Ellipses ``(A, a, b, x0, y0, phi)`` cut by the plane at height ``z`` (phantom units)."""
    out = []
    for density, a, b, c, x0, y0, z0, phi in ELLIPSOIDS:
        u = (z - z0) / c
        if abs(u) < 1.0:
            f = np.sqrt(1.0 - u * u)
            out.append((density, a * f, b * f, x0, y0, np.deg2rad(phi)))
    x, y, radius, density = _ROD
    out.append((density, radius * pixel, radius * pixel, x, y, 0.0))
    return out


def phantom_sinograms(n: int, n_slices: int, theta_deg: np.ndarray) -> np.ndarray:
    """Exact parallel projections ``[slice, detector, angle]`` of the phantom, in pixel units.

    Detector pixel ``j`` sees ``t = (j - n//2)`` pixels from the axis, with
    the convention of :mod:`toupy.resolution.tomo` (``t = x cos θ - row sin θ``, rows
    downwards), i.e. the Radon transform in coordinates with ``y`` upwards.
    """
    pixel = 1.0 / (_SCALE * n)  # one pixel in phantom units
    t = (np.arange(n) - n // 2) * pixel
    theta = np.deg2rad(np.asarray(theta_deg, dtype=np.float64))
    cos, sin = np.cos(theta), np.sin(theta)
    sinograms = np.zeros((n_slices, n, theta.size), dtype=np.float64)
    for k in range(n_slices):
        z = (k - n_slices // 2) * pixel
        for density, a, b, x0, y0, phi in _sections(z, pixel):
            s2 = (a * np.cos(theta - phi)) ** 2 + (b * np.sin(theta - phi)) ** 2
            tau = t[:, None] - (x0 * cos + y0 * sin)[None, :]
            chord = np.clip(s2[None, :] - tau**2, 0.0, None)
            sinograms[k] += 2.0 * density * a * b * np.sqrt(chord) / s2[None, :]
    return sinograms / pixel  # line integrals in pixels


def phantom_slices(n: int, n_slices: int) -> np.ndarray:
    """The phantom rasterised on the reconstruction grid (for reference figures and tests)."""
    pixel = 1.0 / (_SCALE * n)
    j = (np.arange(n) - n // 2) * pixel
    x, y = np.meshgrid(j, -j)  # rows go down, y goes up
    volume = np.zeros((n_slices, n, n))
    for k in range(n_slices):
        z = (k - n_slices // 2) * pixel
        for density, a, b, x0, y0, phi in _sections(z, pixel):
            xr = (x - x0) * np.cos(phi) + (y - y0) * np.sin(phi)
            yr = -(x - x0) * np.sin(phi) + (y - y0) * np.cos(phi)
            volume[k] += density * ((xr / a) ** 2 + (yr / b) ** 2 <= 1.0)
    return volume


def _detector(sinograms: np.ndarray) -> np.ndarray:
    """The detector's Gaussian response along the slice and detector-pixel axes."""
    from scipy import ndimage

    blurred = ndimage.gaussian_filter1d(sinograms, _DETECTOR_SIGMA, axis=1, mode="constant")
    return ndimage.gaussian_filter1d(blurred, _DETECTOR_SIGMA, axis=0, mode="nearest")


def _counting_noise(sinograms: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale to ``_MAX_ATTENUATION``, draw Poisson counts, return ``-log(counts/I0)`` (float32)."""
    mu = _MAX_ATTENUATION / sinograms.max()
    expected = _INCIDENT_COUNTS * np.exp(-mu * sinograms)
    counts = rng.poisson(expected).astype(np.float64)
    # a detector pixel that counted nothing is set to half a count (log of 0 is undefined)
    return (-np.log(np.maximum(counts, 0.5) / _INCIDENT_COUNTS) / mu).astype(np.float32)


def _noise_region(support: np.ndarray) -> np.ndarray:
    """Voxels inside the reconstructed disc (minus a 3-pixel rim) and outside the sample."""
    n = support.shape[-1]
    rows, cols = np.ogrid[:n, :n]
    disc = (rows - n // 2) ** 2 + (cols - n // 2) ** 2 < (n // 2 - 3) ** 2
    return ((support < 1e-3) & disc[np.newaxis]).astype(np.uint8)


def _soft_support(volume: np.ndarray) -> np.ndarray:
    """A soft mask around the sample, derived from the (noisy) tomogram itself."""
    from scipy import ndimage

    # widths in pixels for a 128-pixel (or larger) detector; a smaller one shrinks them with the
    # head, else the margin swallows the empty ring the noise region needs (none left at 64 pixels)
    scale = min(1.0, volume.shape[-1] / 128)
    smooth = ndimage.gaussian_filter(volume.astype(np.float64), 2.0 * scale)
    inside = smooth > 0.5 * np.percentile(smooth, 99)
    inside = ndimage.binary_fill_holes(inside, structure=np.ones((1, 3, 3)))
    inside = ndimage.binary_dilation(inside, iterations=max(1, round(4 * scale)))
    return ndimage.gaussian_filter(inside.astype(np.float64), 3.0 * scale).astype(np.float32)


class _Steps:
    """Timed step messages on stderr."""

    def __init__(self):
        self.start = time.perf_counter()

    def __call__(self, text: str) -> None:
        if verbosity() < 0:
            return
        click.echo(f"[{time.perf_counter() - self.start:6.1f} s] {text}", err=True)


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


#: the demo's runs: title, subcommand whose code runs it, its JSON file
_RUNS = (
    ("FSC", "fsc", "fsc.json"), ("FRC", "frc", "frc.json"), ("SSNR", "ssnr", "ssnr.json"),
    ("RandomFSC", "randomfsc", "randomfsc.json"), ("LocalFSC", "localfsc", "localfsc.json"),
    ("ImageDecorr", "decorr", "decorr.json"), ("LocalResolution", "localres", "localres.json"),
    ("MTF (rod)", "mtf", "mtf.json"),
)


def _data_files(data: Path) -> dict:
    return {"even": data / "tomogram_even.tif", "odd": data / "tomogram_odd.tif",
            "mask": data / "support_mask.tif", "noise": data / "noise_mask.tif",
            "sinogram": data / "sinogram_slice.h5"}


def _plan(session: Session, files: dict, volume_shape: tuple, centre: int) -> None:
    """Name every file the demo writes before anything is computed (the session writes exactly these)."""
    stand_in = ImageFile(np.broadcast_to(np.float32(0), volume_shape), path=files["even"], fmt="tiff")
    options = {"frc": {"slice_index": centre}, "localfsc": {"map_format": "tif"},
               "localres": {"map_format": "tif"}, "mtf": {"method": "point"}}
    names = [replace(runs.output_names(command, [stand_in], options.get(command, {})), json_name=json_name)
             for _, command, json_name in _RUNS]
    session.plan(names, extra=[(key, path, "demo data file") for key, path in files.items()])


def run_demo(*, out: Path, size: int | None = None, slices: int | None = None, seed: int = 0) -> None:
    """Run the synthetic experiment and write everything into ``out`` (see the module docstring)."""
    from toupy.resolution.io import parse_length

    n = size or (128 if _ci() else 256)
    n_slices = slices or (48 if _ci() else 64)
    out = Path(out)
    session = Session("demo", out=out, report=out / "report.html", per_run_json=True, json_name="summary.json")
    files = _data_files(out / "data")
    centre = n_slices // 2
    _plan(session, files, (n_slices, n, n), centre)
    step = _Steps()
    pixel_size = parse_length(PIXEL_SIZE, source="demo")
    # the folders are created and locked here, and removed again if anything below fails
    with session.writing():
        _experiment(session, files, step, n=n, n_slices=n_slices, seed=seed, pixel_size=pixel_size)
        mtf_result = session.runs[-1].result
        step(f"the MTF of the rod: MTF50 {mtf_result['f50']:.3f} cycles/pixel; the detector alone "
             f"(Gaussian, sigma {_DETECTOR_SIGMA:g} px) gives {0.18739 / _DETECTOR_SIGMA:.3f}")
        session.finish(print_mode="lines")
    step(f"done: figures, JSON and report.html in {out}")
    sys.stderr.flush()


def _experiment(session, files, step, *, n, n_slices, seed, pixel_size) -> None:
    """Phantom, noisy projections, two tomograms written as data, then every estimator on them."""
    from toupy.resolution.io import write_image
    from toupy.resolution.FSCtools import compute_2tomograms

    n_angles = 2 * int(round(np.pi / 4 * n))  # about pi/2 n: the angular sampling a slice of n pixels needs
    theta = np.linspace(0.0, 180.0, n_angles, endpoint=False)
    step(f"phantom: {n_slices} slices of {n}x{n} pixels ({pixel_size}), {n_angles} projection angles")
    sinograms = _detector(phantom_sinograms(n, n_slices, theta))
    noisy = _counting_noise(sinograms, np.random.default_rng(seed))
    step(f"detector blur sigma {_DETECTOR_SIGMA:g} px, counting noise ({_INCIDENT_COUNTS:.0f} photons per "
         "pixel and angle); even/odd split, two tomograms by filtered back-projection")
    half_even, half_odd = compute_2tomograms(noisy, theta, filtertype="ram-lak", circle=True)
    full = 0.5 * (half_even + half_odd)

    support = _soft_support(full)
    # a rerun into the same --out replaces the demo's own data files
    session.write_extra("even", lambda path: write_image(path, half_even, pixel_size=pixel_size, overwrite=True))
    session.write_extra("odd", lambda path: write_image(path, half_odd, pixel_size=pixel_size, overwrite=True))
    session.write_extra("mask", lambda path: write_image(
        path, support, pixel_size=pixel_size, compress=True, overwrite=True,
        attrs={"quantity": "soft sample support from the smoothed full tomogram"}))
    session.write_extra("noise", lambda path: write_image(
        path, _noise_region(support), pixel_size=pixel_size, compress=True, overwrite=True,
        attrs={"quantity": "noise-only voxels: inside the field of view, outside the sample"}))
    centre = n_slices // 2
    session.write_extra("sinogram", lambda path: _write_sinogram(path, noisy[centre], theta, pixel_size))
    step(f"wrote the two half tomograms, the sample and noise masks and the central sinogram into "
         f"{files['even'].parent}")

    # the FSC family windows every axis; a thin demo volume gets a narrower window edge
    apod = min(20, n_slices // 3)
    even, odd = open_input(str(files["even"]), "even angles"), open_input(str(files["odd"]), "odd angles")
    whole = ImageFile(full, path=Path(f"mean of {files['even'].name} and {files['odd'].name}"), fmt="memory",
                      pixel_size=even.pixel_size)
    rod_center = (n // 2 - _ROD[1] * _SCALE * n, n // 2 + _ROD[0] * _SCALE * n)
    try:
        pixel = choose_pixel_size(None, [even, odd], session.notes)
        pair = [even, odd]
        computes = {
            "fsc": (pair, lambda: runs.correlation("fsc", even, odd, pixel, apod_width=apod)),
            "frc": (pair, lambda: runs.correlation("frc", even, odd, pixel, slice_index=centre)),
            "ssnr": (pair, lambda: runs.correlation("ssnr", even, odd, pixel, apod_width=apod)),
            "randomfsc": (pair, lambda: runs.randomfsc(even, odd, pixel, apod_width=apod,
                                                       mask_spec=str(files["mask"]), random_seed=seed)),
            # a box fits the thinnest volume --slices allows
            "localfsc": (pair, lambda: runs.localfsc(even, odd, pixel, box_size=min(32, n_slices),
                                                     threshold="halfbit", mask_spec=str(files["mask"]),
                                                     map_format="tif")),
            "decorr": ([whole], lambda: runs.decorr(whole, pixel)),
            "localres": ([whole], lambda: runs.localres(
                whole, pixel, mask_spec=str(files["mask"]), noise_method="mask",
                noise_mask_spec=str(files["noise"]), whiten=True, map_format="tif")),
            # the rod is straight along the slices: their mean is its cross-section with less noise
            "mtf": ([whole], lambda: runs.mtf(whole, pixel, method="point", center=rod_center,
                                              roi_size=max(5, n // 24), bead_diameter=2 * _ROD[2],
                                              bead_shape="disc", slice_index=slice(None))),
        }
        for title, command, json_name in _RUNS:
            inputs, compute = computes[command]
            name = f"FRC (slice {centre})" if command == "frc" else title
            step(f"{name} ...")
            warnings_: list[str] = []
            origins: list[str] = []
            start = time.perf_counter()
            with collect_warnings(warnings_, origins):
                outcome = compute()
                figures = outcome.rendered(True)
            session.add(Run(
                title=name, summary=outcome.result.summary(), inputs=inputs,
                parameters=outcome.parameters, result=outcome.result.to_dict(), figures=figures,
                maps=outcome.maps, warnings=warnings_, roles=_roles(inputs),
                pixel=pixel, command=command, json_name=json_name,
                seconds=time.perf_counter() - start, origins=origins,
            ))
    finally:
        even.close()
        odd.close()


def _roles(inputs) -> list[str]:
    if len(inputs) == 2:
        return ["even angles", "odd angles"]
    return [str(inputs[0].path)]


def _write_sinogram(path: Path, sinogram: np.ndarray, theta: np.ndarray, pixel_size) -> None:
    """One sinogram ``[detector pixel, angle]`` and its angles in an HDF5 file (written atomically)."""
    import h5py

    from toupy.resolution.io._atomic import atomic_path

    # a named temporary: HDF5 2 refuses the /proc/self/fd path of an anonymous one
    with atomic_path(path, anonymous=False) as tmp, h5py.File(tmp, "w") as h5:
        h5["sinogram"] = sinogram
        h5["sinogram"].attrs.update(pixel_size=pixel_size.value, pixel_size_units=pixel_size.unit,
                                    layout="[detector pixel, angle]")
        h5["theta"] = theta
        h5["theta"].attrs["units"] = "degree"
