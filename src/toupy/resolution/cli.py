"""``toupy-resolution``: the command line of toupy.resolution.

Each subcommand reads its inputs by file extension (TIFF, HDF5/NeXus/CXI with
``file.h5:/path``, MRC, EDF, NPY, zarr), takes the pixel size from the files
or ``--pixel-size 28.6nm``, runs one estimator of :mod:`toupy.resolution`,
prints a one-line summary (or ``--json``), and with ``--out DIR`` writes the
figure(s) under their documented names and a JSON document with the curves,
the resolution in pixels and in the pixel-size unit, the parameters, the
input files and the package version. ``--report page.html`` writes one
self-contained HTML page. Bad input exits with code 2 and one line on stderr.

Every file a run will write is named before anything is computed, and the
run is refused (exit 2) when one of them is the same file as an input
(symlinks, hard links and relative paths included) or as another output. The
``--out`` folder is created only when the first file is written, and removed
again if the run created it and then fails. While a run writes into a folder
it holds an exclusive ``fcntl.flock`` lock on ``.toupy-resolution.lock`` in
it (removed afterwards): a second run writing into the same folder waits for
the first to finish, so the folder holds the complete set of one run, never a
mix (the lock is advisory and local: it does not serialise runs on different
hosts writing over NFS).

Examples
--------
::

    toupy-resolution fsc half1.mrc half2.mrc --out fsc-results
    toupy-resolution frc even.tif odd.tif --pixel-size 28.6nm --json
    toupy-resolution demo --out demo-output
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import replace
from pathlib import Path

import click

from toupy.resolution import _cli_runs as runs
from toupy.resolution._cli_common import (
    ARGV_KEY,
    DEBUG_KEY,
    VERBOSITY_KEY,
    THRESHOLD,
    WINDOW,
    CLIError,
    Run,
    Session,
    choose_pixel_size,
    collect_warnings,
    guard,
    input_files,
    input_names,
    naming_inputs,
    open_input,
    output_options,
    read_pairs,
)

__all__ = ["main"]

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _version() -> str:
    from toupy.resolution import __version__

    return __version__


class _Group(click.Group):
    """The command group; every error, usage errors included, is one line on stderr."""

    def parse_args(self, ctx, args):
        # the command as given, for the JSON and the report (sys.argv is the host's when run in-process)
        ctx.meta[ARGV_KEY] = list(args)
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, **extra):
        import sys

        extra.pop("standalone_mode", None)
        try:
            code = super().main(args=args, prog_name=prog_name or "toupy-resolution",
                                standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            message = exc.format_message()
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                message = f"{message} (see '{ctx.command_path} --help')"
            click.echo(f"Error: {' '.join(message.split())}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def _print_version(ctx, param, value):
    # a callback, so that the library (numba, scipy) is imported only when asked for
    if value and not ctx.resilient_parsing:
        click.echo(f"toupy-resolution, version {_version()}")
        ctx.exit()


def _set_debug(ctx, param, value):
    if value:
        ctx.meta[DEBUG_KEY] = True


def _set_progress(ctx, param, value):
    if value is not None:
        os.environ["TOUPY_RESOLUTION_PROGRESS"] = "1" if value else "0"


def _set_verbosity(level: int):
    def callback(ctx, param, value):
        if not value:
            return
        if ctx.meta.get(VERBOSITY_KEY, level) != level:
            raise click.UsageError("-v and -q exclude each other: give one of them", ctx=ctx)
        ctx.meta[VERBOSITY_KEY] = level
        if level > 0:
            import logging

            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        else:  # errors only: no progress bars either
            os.environ["TOUPY_RESOLUTION_PROGRESS"] = "0"
    return callback


#: the options of the whole tool, accepted before and after the subcommand (one definition for both)
_GLOBAL_OPTIONS = (
    click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_verbosity(1),
                 help="More detail on stderr: each run's time, each warning's category and source line, "
                      "the library's INFO log."),
    click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity(-1),
                 help="Errors only: no summary line, notes, warnings or progress bars (the exit code, the "
                      "files written and --json output are unchanged; the warnings stay in the JSON)."),
    click.option("--progress/--no-progress", default=None, expose_value=False, callback=_set_progress,
                 help="Progress bars on stderr (default: when stderr is a terminal)."),
    click.option("--debug", is_flag=True, expose_value=False, callback=_set_debug,
                 help="Show the traceback of an internal error instead of one line."),
)


def _global_options(function):
    for option in reversed(_GLOBAL_OPTIONS):
        function = option(function)
    return function


def _global_params() -> list:
    """Fresh copies of the global options, for a subcommand."""
    def holder():
        pass
    return list(reversed(_global_options(holder).__click_params__))


class _Command(click.Command):
    """A subcommand: the global options are accepted after it too; the group lists its whole first line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.extend(_global_params())

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help:
            return " ".join(self.short_help.split())
        first = (self.help or "").strip().split("\n\n")[0]  # the whole first paragraph, never cut
        return " ".join(first.split())


@click.group(cls=_Group, context_settings=_CONTEXT)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
@_global_options
def main():
    """Resolution of images and volumes: FSC/FRC, SSNR, phase-randomised FSC,
    local resolution, decorrelation and MTF.

    Inputs: .tif/.tiff (and folders or patterns of them), .h5/.hdf5/.nxs/.cxi
    (FILE.h5:/path/to/dataset), .mrc/.map, .edf, .npy, .zarr. Lengths take a
    unit: 28.6nm, 2.1A, 0.5um (a bare number is metres).

    Each command prints a one-line summary (a table for several inputs);
    -v adds timings and the warnings' origins, -q prints errors only (and the
    --json document if asked for) and keeps the exit code and the files.
    The options -v, -q, --progress and --debug go before or after the command.
    Exit codes: 0 done, 1 internal error, 2 bad input or options.
    """


def _progress(items, desc):
    items = list(items)
    if len(items) < 2:
        return items  # and the library is not imported before the inputs are checked
    from toupy.resolution._progress import progress

    return progress(items, total=len(items), desc=desc)


# ---------------------------------------------------------------------------- shared options

def _pair_arguments(function):
    function = click.option(
        "--pairs", "pairs_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Text file with one pair of files per line (space or comma separated); "
             "all pairs are processed and tabulated.",
    )(function)
    return click.argument("files", nargs=-1, metavar="HALF1 HALF2 [HALF1 HALF2 ...]")(function)


def _correlation_options(*, memory: bool = True, threshold_default="halfbit"):
    def decorate(function):
        options = [
            click.option("--threshold", type=THRESHOLD, default=threshold_default, show_default=True,
                         help="halfbit (two halves of one data set), onebit (two independent "
                              "measurements) or a fixed value such as 0.143."),
            click.option("--ring-thick", type=click.IntRange(min=0), default=1, show_default=True,
                         help="Shells pooled per point (toupy convention: i-t/2 .. i+t/2)."),
            click.option("--apod-width", type=click.IntRange(min=0), default=None, show_default="20",
                         help="Width in pixels of the window's tapered edge; 0 disables the window. "
                              "The default is narrowed (with a warning) on inputs too small for it."),
            click.option("--window", type=WINDOW, default="circle", show_default=True,
                         help="Apodization: circle (tomographic slices), tukey (rectangular images), "
                              "hann, toupy (toupy 0.2.2's numbers) or none."),
            click.option("--mask", "mask_spec", default=None, metavar="FILE",
                         help="Weights (binary or soft) of the input shape applied to both halves."),
            click.option("--workers", type=click.IntRange(min=1), default=None,
                         help="FFT threads (default: all cores)."),
        ]
        if memory:
            options += [
                click.option("--memory-limit", default=None, metavar="BYTES",
                             help="Compute out of core within about this much memory (e.g. 4GB); "
                                  "automatic for inputs larger than the free memory."),
                click.option("--tmp-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                             help="Folder for the out-of-core temporary file."),
                click.option("--dask-scheduler", default=None, metavar="ADDRESS",
                             help="Run on a running Dask cluster (e.g. tcp://host:8786); needs the "
                                  "[dask] extra and inputs the workers can read."),
            ]
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _option_inputs(options: dict, pairs_file) -> list:
    """The files named by options that a run reads (masks, angles, the list of pairs)."""
    named = [(options.get("mask_spec"), "--mask"), (options.get("noise_mask_spec"), "--noise-mask"),
             (options.get("theta"), "--theta"), (pairs_file, "--pairs")]
    return [item for spec, role in named for item in input_files(spec, role)]


def _same_shape(first, second) -> None:
    if first.shape != second.shape:
        raise CLIError(
            f"{first.spec} and {second.spec} differ in shape: {first.shape} vs {second.shape}; "
            "the two halves must have the same shape"
        )


def _plan(session, command, sets, roles, options, pairs_file) -> list[str]:
    """Open every input set, name its outputs, check the plan; return the runs' labels."""
    labels = session.labels(sets)
    names = []
    for specs, label in zip(sets, labels):
        with contextlib.ExitStack() as stack:
            images = [stack.enter_context(open_input(spec, role)) for spec, role in zip(specs, roles)]
            if len(images) == 2:
                _same_shape(*images)
            names.append(runs.output_names(command, images, options, label))
    inputs = [item for specs in sets for spec, role in zip(specs, roles) for item in input_files(spec, role)]
    session.plan(names, inputs + _option_inputs(options, pairs_file))
    return labels


def _run_pairs(command, files, pairs_file, compute, *, options, pixel_size, out, as_json, report,
               roles=("half 1", "half 2")):
    """Plan the outputs, then open each pair, call ``compute(first, second, pixel)`` and record the run."""
    session = Session(command, out=out, as_json=as_json, report=report, pixel_size=pixel_size)
    sets = read_pairs(files, pairs_file)
    labels = _plan(session, command, sets, roles, options, pairs_file)
    for (spec1, spec2), label in _progress(list(zip(sets, labels)), command):
        with open_input(spec1, roles[0]) as first, open_input(spec2, roles[1]) as second:
            _same_shape(first, second)
            pixel = choose_pixel_size(pixel_size, [first, second], session.notes)
            run_warnings: list[str] = []
            origins: list[str] = []
            start = time.perf_counter()
            with naming_inputs(input_names([first, second], roles)), collect_warnings(run_warnings, origins):
                outcome = compute(first, second, pixel)
                figures = outcome.rendered(session.draws_figures)  # the figure's warnings are the run's too
        run = _record(outcome, figures, [first, second], list(roles), pixel, run_warnings, label, command)
        session.add(replace(run, seconds=time.perf_counter() - start, origins=origins))
    session.finish()


def _run_singles(command, files, compute, *, options, pixel_size, out, as_json, report, role="image"):
    """Plan the outputs, then open each file, call ``compute(image, pixel)`` and record the run."""
    session = Session(command, out=out, as_json=as_json, report=report, pixel_size=pixel_size)
    if not files:
        raise CLIError(f"no input: give one or more image files to {command}")
    sets = [(spec,) for spec in files]
    labels = _plan(session, command, sets, (role,), options, None)
    for spec, label in _progress(list(zip(files, labels)), command):
        with open_input(spec, role) as image:
            pixel = choose_pixel_size(pixel_size, [image], session.notes)
            run_warnings: list[str] = []
            origins: list[str] = []
            start = time.perf_counter()
            with naming_inputs(input_names([image], [role])), collect_warnings(run_warnings, origins):
                outcome = compute(image, pixel)
                figures = outcome.rendered(session.draws_figures)
        run = _record(outcome, figures, [image], [role], pixel, run_warnings, label, command)
        session.add(replace(run, seconds=time.perf_counter() - start, origins=origins))
    session.finish()


def _record(outcome, figures, inputs, roles, pixel, run_warnings, label, command) -> Run:
    return Run(
        title=outcome.title, summary=outcome.result.summary(), inputs=inputs, parameters=outcome.parameters,
        result=outcome.result.to_dict(), figures=figures, maps=outcome.maps, warnings=run_warnings,
        row=outcome.row, roles=roles, pixel=pixel, label=label, command=command,
    )


# ---------------------------------------------------------------------------- fsc / frc / ssnr

def _correlation_command(command, *, files, pairs_file, pixel_size, out, as_json, report, **options):
    _run_pairs(command, files, pairs_file,
               lambda first, second, pixel: runs.correlation(command, first, second, pixel, **options),
               options=options, pixel_size=pixel_size, out=out, as_json=as_json, report=report)


@main.command(cls=_Command, context_settings=_CONTEXT)
@_pair_arguments
@_correlation_options()
@output_options
@guard
def fsc(files, pairs_file, pixel_size, out, as_json, report, **options):
    """Fourier shell correlation (3-D; rings for 2-D) of two halves.

    Writes FSC_3D.png (FSC_2D.png for images) and fsc.json into --out.
    Volumes are [slices, rows, cols]; volumes larger than the free memory are
    computed out of core.
    """
    _correlation_command("fsc", files=files, pairs_file=pairs_file, pixel_size=pixel_size, out=out,
                         as_json=as_json, report=report, **options)


@main.command(cls=_Command, context_settings=_CONTEXT)
@_pair_arguments
@_correlation_options()
@click.option("--slice", "slice_index", type=int, default=None,
              help="For 3-D inputs: the index of the slice to correlate.")
@click.option("--axis", type=click.IntRange(0, 2), default=0, show_default=True,
              help="Axis along which --slice is taken.")
@output_options
@guard
def frc(files, pairs_file, pixel_size, out, as_json, report, **options):
    """Fourier ring correlation of two 2-D images (or of one slice of two volumes).

    Writes FRC_2D.png and frc.json into --out.
    """
    _correlation_command("frc", files=files, pairs_file=pairs_file, pixel_size=pixel_size, out=out,
                         as_json=as_json, report=report, **options)


@main.command(cls=_Command, context_settings=_CONTEXT)
@_pair_arguments
@_correlation_options()
@output_options
@guard
def ssnr(files, pairs_file, pixel_size, out, as_json, report, **options):
    """Spectral SNR 2 FSC/(1 - FSC) of two halves, with the threshold 2T/(1 - T).

    Writes SSNR_3D.png (SSNR_2D.png for images) and ssnr.json into --out.
    The resolution is the FSC crossing.
    """
    _correlation_command("ssnr", files=files, pairs_file=pairs_file, pixel_size=pixel_size, out=out,
                         as_json=as_json, report=report, **options)


# ---------------------------------------------------------------------------- randomfsc

@main.command(cls=_Command, context_settings=_CONTEXT,
              short_help="Phase-randomisation test of the FSC (Chen et al. 2013).")
@_pair_arguments
@_correlation_options(memory=False)
@click.option("--fsc-cutoff", type=float, default=0.8, show_default=True,
              help="Phases are randomised from the first shell where the FSC drops below this value.")
@click.option("--seed", "random_seed", type=int, default=None,
              help="Seed of the random phases (recorded in the JSON; default: a fresh one).")
@output_options
@guard
def randomfsc(files, pairs_file, pixel_size, out, as_json, report, **options):
    """Phase-randomisation test of the FSC (Chen et al. 2013), best with --mask.

    Writes RandomFSC.png and randomfsc.json into --out. Randomising finished
    maps measures the correlation a mask or window creates, not overfitting.
    """
    _run_pairs("randomfsc", files, pairs_file,
               lambda first, second, pixel: runs.randomfsc(first, second, pixel, **options),
               options=options, pixel_size=pixel_size, out=out, as_json=as_json, report=report)


# ---------------------------------------------------------------------------- maps

class _ColormapType(click.ParamType):
    """The name of a registered Matplotlib colour map (checked before anything is computed)."""

    name = "COLORMAP"

    def convert(self, value, param, ctx):
        from toupy.resolution._plotting import colormap_names

        names = colormap_names()
        if value in names:
            return value
        self.fail(f"{value!r} is not a Matplotlib colour map; choose one of: {', '.join(names)}", param, ctx)


def _colour_limits(ctx, param, value):
    """``--vmin``/``--vmax``: refuse limits in the wrong order before computing (whichever comes second)."""
    limits = {"vmin": ctx.params.get("vmin"), "vmax": ctx.params.get("vmax"), param.name: value}
    if limits["vmin"] is not None and limits["vmax"] is not None and not limits["vmin"] < limits["vmax"]:
        raise click.BadParameter(f"--vmin {limits['vmin']:g} must be below --vmax {limits['vmax']:g}",
                                 ctx=ctx, param=param)
    return value


def _map_options(function):
    options = [
        click.option("--map-format", type=click.Choice(runs.MAP_FORMATS, case_sensitive=False), default="auto",
                     show_default=True,
                     help="File format of the resolution map written into --out (auto: as the input, "
                          "TIFF for formats that cannot be written)."),
        click.option("--slice-idx", type=int, default=None, help="Slice shown in the figure (3-D; default central)."),
        click.option("--axis", type=click.IntRange(0, 2), default=0, show_default=True,
                     help="Axis of the slice shown."),
        click.option("--cmap", type=_ColormapType(), default="viridis_r", show_default=True,
                     help="Matplotlib colour map."),
        click.option("--vmin", type=float, default=None, callback=_colour_limits,
                     help="Lower colour limit (px); below --vmax."),
        click.option("--vmax", type=float, default=None, callback=_colour_limits,
                     help="Upper colour limit (px); above --vmin."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@main.command(cls=_Command, context_settings=_CONTEXT)
@_pair_arguments
@click.option("--box-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Side of the cubic (square) box in pixels.")
@click.option("--step", type=click.IntRange(min=1), default=None,
              help="Distance between box centres (default box-size // 2).")
@click.option("--threshold", type=THRESHOLD, default="0.143", show_default=True,
              help="0.143 (Rosenthal & Henderson), halfbit or onebit (with each box's own counts).")
@click.option("--mask", "mask_spec", default=None, metavar="FILE",
              help="Sample support: only boxes needed inside it are computed; NaN outside.")
@click.option("--memory-limit", type=float, default=1e9, show_default=True,
              help="Bytes for the box buffers of one batch.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="FFT threads (default: all cores).")
@_map_options
@output_options
@guard
def localfsc(files, pairs_file, pixel_size, out, as_json, report, **options):
    """Local resolution map from block-wise FSC (FRC in 2-D) of two halves.

    Writes LocalFSC_resmap.png, the map (LocalFSC_resmap.tif/.h5/.npy/.mrc, full
    period in pixels, with the pixel size in its metadata) and localfsc.json.
    """
    _run_pairs("localfsc", files, pairs_file,
               lambda first, second, pixel: runs.localfsc(first, second, pixel, **options),
               options=options, pixel_size=pixel_size, out=out, as_json=as_json, report=report)


# ---------------------------------------------------------------------------- single-image estimators

@main.command(cls=_Command, context_settings=_CONTEXT,
              short_help="Local resolution map of a single image or volume (band-energy test).")
@click.argument("files", nargs=-1, metavar="MAP [MAP ...]")
@click.option("--significance", type=click.FloatRange(0, 0.5, min_open=True), default=0.05, show_default=True,
              help="Level of each one-sided band test (false-discovery rate with --fdr).")
@click.option("--n-freq", type=click.IntRange(min=2), default=20, show_default=True,
              help="Number of frequency bands between 1/size and Nyquist.")
@click.option("--window-sigma", type=click.FloatRange(0, min_open=True), default=7.0, show_default=True,
              help="Gaussian window (pixels) over which the local band energy is averaged.")
@click.option("--mask", "mask_spec", default=None, metavar="FILE",
              help="Sample region (non-zero); NaN outside. Default: estimated automatically.")
@click.option("--noise-method", type=click.Choice(["corners", "highfreq", "mask"], case_sensitive=False),
              default="corners",
              show_default=True, help="Noise level from empty corners, from the spectrum near Nyquist, "
                                      "or from --noise-mask.")
@click.option("--noise-mask", "noise_mask_spec", default=None, metavar="FILE",
              help="Noise-only voxels (non-zero) for --noise-method mask.")
@click.option("--sigma-noise", type=click.FloatRange(0, min_open=True), default=None,
              help="Known noise standard deviation (overrides --noise-method).")
@click.option("--corner-fraction", type=click.FloatRange(0, 0.5, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Corner box side as a fraction of each edge.")
@click.option("--highfreq-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Fraction of the frequency range below Nyquist used by 'highfreq'.")
@click.option("--whiten", is_flag=True, default=False,
              help="Coloured noise (e.g. filtered back-projection): use its measured spectrum.")
@click.option("--fdr", is_flag=True, default=False,
              help="Benjamini-Hochberg false-discovery rate across voxels instead of per-voxel tests.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="FFT threads (default: all cores).")
@_map_options
@output_options
@guard
def localres(files, pixel_size, out, as_json, report, **options):
    """Local resolution of a single reconstruction (ResMap-like test of band energy against noise).

    Writes LocalResolution_map.png, the map (LocalResolution_map.tif/.h5/.npy/.mrc,
    full period in pixels, NaN outside the sample) and localres.json into --out.
    """
    _run_singles("localres", files, lambda image, pixel: runs.localres(image, pixel, **options),
                 options=options, pixel_size=pixel_size, out=out, as_json=as_json, report=report, role="map")


@main.command(cls=_Command, context_settings=_CONTEXT,
              short_help="Single-image resolution by decorrelation analysis (Descloux et al. 2019).")
@click.argument("files", nargs=-1, metavar="IMAGE [IMAGE ...]")
@click.option("--n-r", type=click.IntRange(min=2), default=100, show_default=True,
              help="Number of radial frequencies sampled between 0 and Nyquist.")
@click.option("--n-g", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of high-pass filters.")
@click.option("--g-min", type=float, default=0.15, show_default=True, help="Smallest high-pass width.")
@click.option("--min-peak-amplitude", type=float, default=0.05, show_default=True,
              help="Peaks of d(r) lower than this are rejected.")
@click.option("--apod-width", type=click.IntRange(min=0), default=20, show_default=True,
              help="Width in pixels of the edge apodization; 0 disables it.")
@click.option("--axis", type=click.IntRange(0, 2), default=0, show_default=True,
              help="3-D input: axis along which slices are analysed.")
@click.option("--n-slices", type=click.IntRange(min=1), default=10, show_default=True,
              help="3-D input: number of evenly spaced slices analysed.")
@click.option("--slice-range", type=(int, int), default=None, metavar="START STOP",
              help="3-D input: sample the slices from START (inclusive) to STOP (exclusive).")
@click.option("--keep-mean/--no-keep-mean", "keep_mean", default=True, show_default=True,
              help="Keep the image mean (as ImDecorr does); --no-keep-mean subtracts it first.")
@click.option("--crop-first/--no-crop-first", "crop_first", default=False, show_default=True,
              help="Crop to an even square before the edge apodization (default: after it).")
@click.option("--spread-px", type=click.IntRange(min=0), default=2, show_default=True,
              help="kc_spread: the peak position is recomputed for apod-width ± 1 .. N pixels.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="FFT threads (default: all cores).")
@output_options
@guard
def decorr(files, pixel_size, out, as_json, report, **options):
    """Single-image resolution by decorrelation analysis (Descloux et al. 2019).

    Writes ImageDecorr.png and decorr.json into --out. For a volume, slices
    along --axis are analysed and the median is reported. The method assumes
    white noise; on reconstructed tomograms the noise is coloured (a warning says so).
    """
    _run_singles("decorr", files, lambda image, pixel: runs.decorr(image, pixel, **options),
                 options=options, pixel_size=pixel_size, out=out, as_json=as_json, report=report)


class _RoiType(click.ParamType):
    """``R0:R1,C0:C1`` (rows, then columns; Python slices, ends exclusive, either end may be empty)."""

    name = "R0:R1,C0:C1"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, tuple):
            return value
        try:
            rows, cols = str(value).split(",")
            bounds = []
            for part in (rows, cols):
                start, stop = part.split(":")
                bounds.append(slice(int(start) if start.strip() else None, int(stop) if stop.strip() else None))
            return tuple(bounds)
        except ValueError:
            self.fail(f"{value!r} is not R0:R1,C0:C1 (e.g. 100:228,40:104)", param, ctx)


class _PointType(click.ParamType):
    """``ROW,COL``."""

    name = "ROW,COL"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, tuple):
            return value
        try:
            row, col = (float(v) for v in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not ROW,COL (e.g. 120,340)", param, ctx)
        return (row, col)


class _SliceType(click.ParamType):
    """``N`` or ``START:STOP``."""

    name = "N|START:STOP"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, (int, slice)):
            return value
        text = str(value).strip()
        try:
            if ":" in text:
                start, stop = text.split(":")
                return slice(int(start) if start else None, int(stop) if stop else None)
            return int(text)
        except ValueError:
            self.fail(f"{value!r} is not a slice index N or a range START:STOP", param, ctx)


@main.command(cls=_Command, context_settings=_CONTEXT,
              short_help="MTF from a slanted edge (ISO 12233) or a point source.")
@click.argument("files", nargs=-1, metavar="IMAGE [IMAGE ...]")
@click.option("--method", type=click.Choice(["edge", "point"], case_sensitive=False), default="edge", show_default=True,
              help="Slanted edge (ISO 12233) or point source (bead, wire cross-section).")
@click.option("--roi", type=_RoiType(), default=None,
              help="Region of interest R0:R1,C0:C1 (rows, columns; end exclusive). Default: the whole image.")
@click.option("--center", type=_PointType(), default=None,
              help="Point method: bead position ROW,COL (default: the extreme pixel of the ROI).")
@click.option("--roi-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Point method: half-size of the box around the bead.")
@click.option("--oversample", type=click.IntRange(min=1), default=4, show_default=True,
              help="Edge method: ESF bins per pixel.")
@click.option("--bead-diameter", type=click.FloatRange(0, min_open=True), default=None,
              help="Point method: bead diameter in pixels, whose own transform is divided out.")
@click.option("--bead-shape", type=click.Choice(["sphere", "disc"], case_sensitive=False), default="sphere",
              show_default=True,
              help="Point method: projected ball or thin disc.")
@click.option("--symmetric/--asymmetric", "symmetric", default=None,
              help="Edge method: force the real part (symmetric LSF) or the modulus; default: tested.")
@click.option("--slice", "slice_index", type=_SliceType(), default=None,
              help="For 3-D inputs: the slice to analyse, or START:STOP to average slices (a rod or an edge "
                   "along the axis: same MTF, less noise).")
@click.option("--axis", type=click.IntRange(0, 2), default=0, show_default=True,
              help="Axis along which --slice is taken.")
@output_options
@guard
def mtf(files, pixel_size, out, as_json, report, **options):
    """Modulation transfer function from a slanted edge or a point source.

    Writes MTF_edge.png or MTF_point.png and mtf.json into --out. MTF50 and
    MTF10 are given as frequencies and as full periods (pixel_size/f), which
    are not comparable with FSC resolutions.
    """
    _run_singles("mtf", files, lambda image, pixel: runs.mtf(image, pixel, **options),
                 options=options, pixel_size=pixel_size, out=out, as_json=as_json, report=report)


# ---------------------------------------------------------------------------- split

@main.command(cls=_Command, context_settings=_CONTEXT,
              short_help="Sinogram -> even/odd angles -> two tomograms -> FRC/FSC.")
@click.argument("files", nargs=-1, metavar="SINOGRAM [SINOGRAM ...]")
@click.option("--theta", default=None, metavar="FILE|START:STOP",
              help="Projection angles in degrees: a .npy/.txt/.csv file, FILE.h5:/theta, or START:STOP for "
                   "evenly spaced angles. Default: a 'theta' or 'angles' dataset next to an HDF5 sinogram.")
@click.option("--algorithm", type=click.Choice(["fbp", "sart"], case_sensitive=False), default="fbp",
              show_default=True, help="Reconstruction algorithm.")
@click.option("--filter", "filtertype", default="ram-lak", show_default=True,
              type=click.Choice(["ram-lak", "shepp-logan", "cosine", "hamming", "hann", "none"], case_sensitive=False),
              help="Apodization of the ramp filter.")
@click.option("--freqcutoff", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Filter cut-off as a fraction of Nyquist (keep 1 to measure the resolution).")
@click.option("--circle/--no-circle", default=True, show_default=True,
              help="Reconstruct only the inscribed disc.")
@click.option("--weight-angles", is_flag=True, default=False, help="Weight unevenly spaced angles.")
@click.option("--derivatives", is_flag=True, default=False,
              help="The sinogram holds derivatives of the projections (Hilbert filter).")
@click.option("--calc-derivatives", is_flag=True, default=False,
              help="Differentiate the projections first, then use the Hilbert filter.")
@click.option("--threshold", type=THRESHOLD, default="halfbit", show_default=True,
              help="halfbit (the criterion for two halves of one data set), onebit or a fixed value.")
@click.option("--ring-thick", type=click.IntRange(min=0), default=1, show_default=True,
              help="Shells pooled per point.")
@click.option("--apod-width", type=click.IntRange(min=0), default=None, show_default="20",
              help="Width in pixels of the window's tapered edge; 0 disables the window. The default is "
                   "narrowed (with a warning) on tomograms too small for it.")
@click.option("--window", type=WINDOW, default="circle", show_default=True, help="Apodization window.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Threads (default: all cores).")
@click.option("--tomograms", "tomogram_format", type=click.Choice(runs.MAP_FORMATS, case_sensitive=False),
              default="none",
              show_default=True, help="Also write the two tomograms into --out in this format.")
@output_options
@guard
def split(files, pixel_size, out, as_json, report, filtertype, algorithm, **options):
    """Split a sinogram into even and odd angles, reconstruct both halves, correlate them.

    SINOGRAM is [detector pixel, angle] (FRC of the two slices; writes
    FRC_2D.png) or a stack [slice, detector pixel, angle] (FSC of the two
    volumes; writes FSC_3D.png), angles in degrees; split.json goes into --out.
    """
    filtertype = None if filtertype.lower() == "none" else filtertype.lower()
    _run_singles("split", files,
                 lambda image, pixel: runs.split(image, pixel, filtertype=filtertype, algorithm=algorithm.upper(),
                                                 **options),
                 options=options, pixel_size=pixel_size, out=out, as_json=as_json, report=report, role="sinogram")


# ---------------------------------------------------------------------------- demo

@main.command(cls=_Command, context_settings=_CONTEXT)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-output"),
              show_default=True, help="Folder for the figures, the JSON files, report.html and the data/ "
                                      "folder of inputs.")
@click.option("--size", type=click.IntRange(min=64), default=None,
              help="Detector width (and slice side) in pixels, at least 64. Default: 256, or 128 when the "
                   "environment variable CI is true.")
@click.option("--slices", type=click.IntRange(min=8), default=None,
              help="Number of slices of the volume, at least 8. Default: 64, or 48 when CI is true.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the counting noise (and of the phase randomisation).")
@guard
def demo(out, size, slices, seed):
    """Synthetic tomography end to end (no input needed): every estimator on simulated data.

    A 3-D Shepp-Logan head and a thin rod are projected exactly at about
    pi/2 x SIZE angles over 180 degrees, blurred by the detector (sigma 1 px),
    given counting noise, split into even and odd angles and reconstructed by
    filtered back-projection. The two half tomograms, a sample mask, a noise
    mask and the central sinogram go into OUT/data; FSC, FRC (central slice),
    SSNR, phase-randomised FSC, local FSC, decorrelation, local resolution and
    the point-source MTF of the rod then run on them with the subcommands'
    code, writing their figures, one JSON each, summary.json and report.html
    into OUT. Progress goes to stderr, one summary line per estimator to stdout.
    """
    from toupy.resolution._cli_demo import run_demo

    run_demo(out=out, size=size, slices=slices, seed=seed)


if __name__ == "__main__":
    main()
