"""Plumbing shared by the ``toupy-resolution`` subcommands.

A subcommand opens its inputs (:func:`open_input`), decides the pixel size
(:func:`choose_pixel_size`), calls one estimator per input set and records a
:class:`Run` (result, figures, maps, warnings) in a :class:`Session`. The
session then writes everything at once: figures, maps, the JSON document, a
CSV table for several inputs and the HTML report, each file atomically, and
removes what it wrote if a later file fails, so a failed command leaves no
output behind. It prints one summary line per run (a table for several), or
the JSON document with ``--json``.

Outputs are planned before anything is computed: the subcommand names every
file each run will write (:class:`RunNames`) and :meth:`Session.plan` turns
them into one :class:`OutputPlan`, refused when an output is the same file as
an input (same inode: symlinks, hard links and relative paths included) or as
another output. The writers write exactly the planned files. The output
folders are created only when the first file is written (and removed again if
the run created them and fails), and each is locked while the run writes into
it (``fcntl.flock`` on ``.toupy-resolution.lock`` in the folder, removed
afterwards), so two runs writing the same ``--out`` take turns and the folder
always holds the complete set of one of them.

Errors the user can fix (missing or damaged files, bad options, bad shapes)
become one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import errno
import fcntl
import functools
import glob
import io
import json
import math
import os
import shlex
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np

from toupy.resolution.io import DiskFullError, FileFormatError, ImageFile, PixelSize, parse_length, read_image

__all__ = [
    "CLIError", "guard", "Run", "Session", "open_input", "choose_pixel_size", "figure_png",
    "PIXEL_SIZE", "THRESHOLD", "WINDOW", "output_options", "read_pairs", "in_memory",
    "RunNames", "PlannedFile", "OutputPlan", "InputFile", "input_files", "folder_lock", "LOCK_NAME",
    "naming_inputs", "input_names", "command_line", "ARGV_KEY", "DEBUG_KEY", "VERBOSITY_KEY", "verbosity",
]

EXIT_BAD_INPUT = 2


class CLIError(click.ClickException):
    """A problem with the input or the options: one line on stderr, exit code 2."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str):
        super().__init__(one_line(message))


class InternalError(click.ClickException):
    """An unexpected failure (a bug): one line, exit code 1; ``--debug`` shows the traceback."""

    exit_code = 1


def one_line(text) -> str:
    """Collapse a message to one line."""
    return " ".join(str(text).split()) or "error"


#: where the global options (given before or after the subcommand) keep their values (``ctx.meta``)
DEBUG_KEY = "toupy_resolution.debug"
VERBOSITY_KEY = "toupy_resolution.verbosity"


def _debug() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(DEBUG_KEY))


def verbosity() -> int:
    """-1 with ``-q`` (errors only), 1 with ``-v`` (timings, warnings' origins, INFO log), else 0."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get(VERBOSITY_KEY, 0)) if ctx is not None else 0


def _option_names(message: str) -> str:
    """Name the command-line options in a library message (``apod_width=20`` → ``--apod-width=20``)."""
    import re

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return message
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or not param.name:
            continue
        flag = next((o for o in param.opts if o.startswith("--")), None)
        if flag is None:
            continue
        names = {param.name, flag[2:].replace("-", "_")}
        for name in names:
            leading = re.match(rf"{re.escape(name)}(?![\w-])", message)
            if leading:  # the message is about this option: name it as typed (with its file)
                value = ctx.params.get(param.name)
                shown = f"{flag} {value}" if param.metavar == "FILE" and value is not None else flag
                message = shown + message[leading.end():]
            pattern = rf"(?<![\w-]){re.escape(name)}\b" if "_" in name else rf"(?<![\w-]){re.escape(name)}(?==)"
            message = re.sub(pattern, flag, message)
    return re.sub(r"(--[\w-]+)=None\b", r"\1 none", message)


#: the estimators' names of their array arguments, by the input they receive
FIRST_INPUT_NAMES = ("img1", "vol1", "image1", "half1")
SECOND_INPUT_NAMES = ("img2", "vol2", "image2", "half2")
SINGLE_INPUT_NAMES = ("image", "img", "vol", "volume", "sinogram", "data", "array")


def input_names(images, roles) -> dict:
    """The estimators' parameter names of ``images`` mapped to ``"<file> (<role>)"``.

    Two inputs take the names of a pair (``img1``, ``vol2``, ...); one input
    takes every name (a sinogram's tomograms are correlated as ``img1``/``img2``).
    """
    labels = [f"{image.spec} ({role})" if role else str(image.spec) for image, role in zip(images, roles)]
    if len(labels) == 1:
        return {name: labels[0] for name in SINGLE_INPUT_NAMES + FIRST_INPUT_NAMES + SECOND_INPUT_NAMES}
    return {**{name: labels[0] for name in FIRST_INPUT_NAMES}, **{name: labels[1] for name in SECOND_INPUT_NAMES}}


@contextlib.contextmanager
def naming_inputs(names: dict):
    """Turn an estimator's ValueError/TypeError about its array argument into one line naming the file.

    ``names`` maps parameter names (``img1``, ``vol``, ``sinogram``) to the
    file and role they came from (:func:`input_names`): "img1 contains NaN"
    becomes "half1.tif (half 1): contains NaN". Other errors pass unchanged.
    """
    import re

    try:
        yield
    except (ValueError, TypeError) as exc:
        if _debug():
            raise
        message = one_line(exc)
        leading = re.match(r"([A-Za-z_]\w*)(?![\w-])[:,]?\s*", message)
        if leading is None or leading.group(1) not in names:
            raise
        rest = message[leading.end():]
        for name in FIRST_INPUT_NAMES + SECOND_INPUT_NAMES:
            if name in names:  # the other half named in the same sentence ("img1 and img2 differ")
                rest = re.sub(rf"(?<![\w-]){name}\b", names[name], rest)
        joint = " " if rest.startswith("and ") else ": "  # "A (half 1) and B (half 2) differ in shape"
        raise CLIError(f"{names[leading.group(1)]}{joint}{rest}") from None


def guard(function):
    """Turn the estimator's and the readers' exceptions into one-line CLI errors."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except click.ClickException:
            raise
        except (click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt):
            raise
        except (FileFormatError, ValueError, TypeError) as exc:
            if _debug():
                raise
            raise CLIError(_option_names(str(exc))) from None
        except DiskFullError as exc:  # its text names the target and says what to do
            if _debug():
                raise
            raise CLIError(str(exc)) from None
        except OSError as exc:
            if _debug():
                raise
            raise CLIError(os_error_text(exc)) from None
        except MemoryError:
            if _debug():
                raise
            raise CLIError("out of memory; for large volumes pass --memory-limit (e.g. 4GB)") from None
        except Exception as exc:  # a bug: say so in one line, keep the traceback behind --debug
            if _debug():
                raise
            raise InternalError(
                f"internal error ({type(exc).__name__}: {one_line(exc)}); rerun with --debug for the traceback"
            ) from None

    return wrapper


_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def os_error_text(exc: OSError, path=None) -> str:
    """One line for an ``OSError``: the file, then what went wrong (a full disk said in words)."""
    name = path if path is not None else getattr(exc, "filename", None)
    prefix = f"{name}: " if name else ""
    if exc.errno in _DISK_FULL:
        return f"{prefix}the disk is full ({exc.strerror or 'no space left on device'}); free some space " \
               "or choose another folder"
    text = exc.strerror if exc.strerror and name else one_line(exc)
    if name and text.startswith(f"{name}:"):
        return text  # the library's message names the file already
    return f"{prefix}{text}"


# ------------------------------------------------------------------ option types

class PixelSizeType(click.ParamType):
    """``28.6nm``, ``2.1A``, ``0.5um`` or a bare number of metres."""

    name = "LENGTH"

    def convert(self, value, param, ctx):
        if isinstance(value, PixelSize) or value is None:
            return value
        try:
            return parse_length(value, name=f"--{param.name.replace('_', '-')}" if param else "pixel size",
                                source="--pixel-size")
        except ValueError as exc:
            self.fail(str(exc).split(" ", 1)[1] if str(exc).startswith("--") else str(exc), param, ctx)


class ThresholdType(click.ParamType):
    """``halfbit``, ``onebit`` or a number in (0, 1)."""

    name = "halfbit|onebit|FLOAT"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        text = str(value).strip().lower().replace("-", "").replace("_", "")
        if text in ("halfbit", "onebit"):
            return text
        try:
            number = float(value)
        except ValueError:
            self.fail(f"{value!r} is not 'halfbit', 'onebit' or a number in (0, 1)", param, ctx)
        if not (0.0 < number < 1.0):
            self.fail(f"{value!r}: a fixed threshold must lie in (0, 1) (e.g. 0.143)", param, ctx)
        return number


class WindowType(click.Choice):
    def __init__(self):
        super().__init__(["circle", "tukey", "hann", "toupy", "none"], case_sensitive=False)

    def convert(self, value, param, ctx):
        if value is None:
            return None
        chosen = super().convert(value, param, ctx)
        return None if chosen == "none" else chosen


PIXEL_SIZE = PixelSizeType()
THRESHOLD = ThresholdType()
WINDOW = WindowType()


def output_options(function):
    """``--pixel-size``, ``--out``, ``--json``, ``--report``: the options every subcommand has."""
    options = [
        click.option("--pixel-size", "pixel_size", type=PIXEL_SIZE, default=None,
                     help="Pixel size with unit (28.6nm, 2.1A, 0.5um; a bare number is metres). "
                          "Overrides the files' metadata."),
        click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Folder for the PNG figures and the JSON (created if needed)."),
        click.option("--json", "as_json", is_flag=True, default=False,
                     help="Print the JSON document on stdout instead of the summary line."),
        click.option("--report", "report", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write a self-contained HTML report (figures embedded) to this file."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


# ------------------------------------------------------------------ inputs

def open_input(spec: str, role: str) -> ImageFile:
    """Open ``spec`` with :func:`toupy.resolution.io.read_image`; errors name the file."""
    try:
        image = read_image(spec)
    except FileNotFoundError as exc:
        raise CLIError(f"{role}: {exc}") from None
    except FileFormatError as exc:
        raise CLIError(f"{role}: {exc}") from None
    except OSError as exc:
        raise CLIError(f"{role}: {spec}: {exc.strerror or exc}") from None
    return image


def choose_pixel_size(option: PixelSize | None, images: list[ImageFile], notes: list[str]) -> PixelSize | None:
    """``--pixel-size`` if given, else the first file's metadata (a note if the files disagree)."""
    if option is not None:
        return option
    stated = [(im, im.pixel_size) for im in images if im.pixel_size is not None]
    if not stated:
        for im in images:
            if "pixel_size_ignored" in im.metadata:
                notes.append(f"{im.spec}: {im.metadata['pixel_size_ignored']}")
        return None
    first_image, first = stated[0]
    for image, other in stated[1:]:
        if not math.isclose(other.metres, first.metres, rel_tol=1e-4):
            notes.append(
                f"{first_image.spec} and {image.spec} state different pixel sizes ({first} and {other}); "
                f"using {first}; pass --pixel-size to choose"
            )
    for image in images:
        if "anisotropic_pixel" in image.metadata:
            notes.append(f"{image.spec}: anisotropic pixels: {image.metadata['anisotropic_pixel']}")
    return first


def pixel_arguments(pixel: PixelSize | None) -> dict:
    """``pixel_size``/``unit`` keyword arguments of the estimators (pixels when unknown)."""
    if pixel is None:
        return {"pixel_size": 1.0, "unit": None}
    return {"pixel_size": pixel.value, "unit": pixel.unit}


def _available_memory() -> int:
    """Memory a new allocation can get without swapping (free plus reclaimable cache), from psutil."""
    import psutil

    return int(psutil.virtual_memory().available)


def in_memory(images: list[ImageFile], bytes_per_element: int = 24) -> bool:
    """Whether the computation on ``images`` fits comfortably in the free memory.

    ``bytes_per_element`` is the working memory per input element (inputs in
    float32 plus their half spectra in complex64 and buffers).
    """
    need = sum(int(np.prod(im.shape)) for im in images) * bytes_per_element
    return need < _available_memory() // 2


def load(image: ImageFile) -> np.ndarray:
    """The whole array in memory; file errors name the file."""
    try:
        return image.read()
    except OSError as exc:
        raise CLIError(f"{image.spec}: cannot read the data ({one_line(exc)})") from None


def read_pairs(files: tuple[str, ...], pairs_file: Path | None, *, per_set: int = 2,
               what: str = "pair") -> list[tuple[str, ...]]:
    """Input sets from positional arguments (``A1 B1 A2 B2 ...``) and from ``--pairs FILE``.

    The file lists one set per line, paths separated by spaces or a comma;
    blank lines and lines starting with ``#`` are skipped. Paths in the file
    are relative to the file's folder.
    """
    sets: list[tuple[str, ...]] = []
    if len(files) % per_set:
        raise CLIError(
            f"expected {what}s of {per_set} files; got {len(files)} file argument(s): {' '.join(files)}"
        )
    sets += [tuple(files[i:i + per_set]) for i in range(0, len(files), per_set)]
    if pairs_file is not None:
        try:
            text = Path(pairs_file).read_text()
        except OSError as exc:
            raise CLIError(f"--pairs: {pairs_file}: {exc.strerror or exc}") from None
        base = Path(pairs_file).parent
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = [p for p in shlex.split(line.replace(",", " "))]
            if len(parts) != per_set:
                raise CLIError(f"--pairs: {pairs_file} line {number}: expected {per_set} paths, got {len(parts)}")
            sets.append(tuple(p if os.path.isabs(p) or ":" in p.split("/")[0] else str(base / p) for p in parts))
    if not sets:
        raise CLIError(f"no input: give {per_set} file(s) per {what}, or --pairs FILE")
    return sets


# ------------------------------------------------------------------ runs and outputs

def figure_png(fig, dpi: int = 150) -> bytes:
    """A matplotlib figure as PNG bytes (Agg, nothing shown)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


@dataclass
class Run:
    """One estimator run: what went in, what came out."""

    title: str
    summary: str
    inputs: list[ImageFile]
    parameters: dict
    result: dict
    figures: list = field(default_factory=list)   # (file name, png bytes; None when not drawn)
    maps: list = field(default_factory=list)      # (file name, array, attrs)
    warnings: list = field(default_factory=list)
    row: dict = field(default_factory=dict)       # values for the table of several runs
    roles: list = field(default_factory=list)     # what each input is ('half 1', 'image', ...)
    pixel: PixelSize | None = None                # pixel size used (for the maps' metadata)
    label: str = ""
    command: str = ""                             # estimator subcommand (when a session mixes several)
    json_name: str = ""                           # own JSON file (sessions with per_run_json)
    seconds: float = 0.0                          # wall time of the estimate and its figures (-v)
    origins: list = field(default_factory=list)   # category and source line of each warning (-v)


@contextlib.contextmanager
def collect_warnings(sink: list, origins: list | None = None):
    """Record the warnings raised inside the block into ``sink`` (one line each).

    ``origins``, if given, receives for each recorded warning its category and
    the source line that raised it (shown with ``-v``).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        if issubclass(item.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue  # about our dependencies' APIs, not about the user's data
        text = one_line(item.message)
        if text not in sink:
            sink.append(text)
            if origins is not None:
                origins.append(f"{item.category.__name__} at {Path(item.filename).name}:{item.lineno}")


def _probe_folder(folder: Path, option: str, given: Path | None = None) -> None:
    """Fail early if ``folder`` (or the folder that would contain it) cannot be written.

    ``given`` is the option's value as the user wrote it (default ``folder``).
    """
    shown = folder if given is None else given
    target = folder
    while not target.exists():
        if target.parent == target:
            break
        target = target.parent
    if target.exists() and not target.is_dir():
        raise CLIError(f"{option} {shown}: {target} is not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".toupy-probe-", dir=target)
    except OSError as exc:
        raise CLIError(f"{option} {shown}: not writable ({exc.strerror or exc})") from None
    os.close(handle)
    os.unlink(probe)


def _stem(spec: str) -> str:
    name = Path(spec.split(":")[0] if not os.path.exists(spec) else spec).name
    for suffix in (".ome.tif", ".ome.tiff"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or "input"


# ------------------------------------------------------------------ planned outputs

#: the lock file a run holds (``fcntl.flock``) in each folder it writes into
LOCK_NAME = ".toupy-resolution.lock"


@dataclass(frozen=True)
class RunNames:
    """The files one run will write, named before anything is computed.

    Attributes
    ----------
    label : str
        Prefix of the run's file names when a session holds several runs ('' for one).
    figures, maps : tuple of str
        The documented names (``FSC_3D.png``, ``LocalFSC_resmap.tif``).
    json_name : str
        The run's own JSON document (sessions with ``per_run_json``), or ''.
    """

    label: str = ""
    figures: tuple = ()
    maps: tuple = ()
    json_name: str = ""


@dataclass(frozen=True)
class PlannedFile:
    """One file a session will write: where, what it is called in messages, what goes in it."""

    path: Path
    what: str            # how a one-line error names it ('figure', 'map', '--report', ...)
    kind: str            # its writer: figure, map, side, run_json, table, json, report, extra
    run: int = -1        # index of the run whose content it holds (-1: the session's own)
    name: str = ""       # the run's name of the content (before the label prefix)


@dataclass(frozen=True)
class InputFile:
    """A file or folder a run reads, and what it is to the user (``half 1``, ``--mask``)."""

    path: Path
    role: str


@dataclass(frozen=True)
class OutputPlan:
    """Every file a session will write, in the order it writes them."""

    files: tuple
    runs: tuple = ()     # the RunNames the plan was made from

    @property
    def folders(self) -> tuple:
        """The folders receiving files, each once whatever its spelling (symlinks resolved), sorted.

        Every run locks its folders in this order, so two runs never wait for each other in a circle.
        """
        return tuple(sorted({Path(os.path.realpath(planned.path.parent)) for planned in self.files}))

    def get(self, kind: str, name: str = "") -> PlannedFile:
        for planned in self.files:
            if planned.kind == kind and planned.name == name:
                return planned
        raise InternalError(f"internal error (no planned {kind} output {name!r})")


def _file_key(path: Path) -> tuple:
    """What makes two paths one file: the inode when it exists, else the path with symlinks resolved."""
    try:
        status = os.stat(path)
    except OSError:
        return ("path", os.path.normcase(str(Path(path).resolve())))
    return ("inode", status.st_dev, status.st_ino)


def input_files(spec, role: str) -> list[InputFile]:
    """The files (or folders) behind an input spec: the file of ``file.h5:/path``, the files
    matched by a pattern, and the JSON side file of an NPY file."""
    if spec is None:
        return []
    from toupy.resolution.io import split_spec
    from toupy.resolution.io._readers import sidecar_path

    path, _ = split_spec(str(spec))
    if path.exists():
        paths = [path]
    else:
        paths = [Path(p) for p in glob.glob(str(spec))]
    found = [InputFile(p, role) for p in paths]
    found += [InputFile(sidecar_path(p), role) for p in paths
              if p.suffix.lower() == ".npy" and sidecar_path(p).exists()]
    return found


def check_plan(files, inputs) -> None:
    """Refuse a plan whose output is an input, lies in an input folder, or is another output."""
    readers = {_file_key(item.path): item for item in inputs}
    input_folders = {_file_key(item.path): item for item in inputs if item.path.is_dir()}
    outputs: dict = {}
    for planned in files:
        key = _file_key(planned.path)
        source = readers.get(key)
        if source is not None:
            raise CLIError(
                f"{planned.what} {planned.path} is the same file as the {source.role} {source.path}: "
                "an output never replaces an input; choose another --out or --report"
            )
        folder = input_folders.get(_file_key(planned.path.parent))
        if folder is not None:
            raise CLIError(
                f"{planned.what} {planned.path} would be written into the {folder.role} folder "
                f"{folder.path}, changing that input; choose another --out or --report"
            )
        other = outputs.setdefault(key, planned)
        if other is not planned:
            raise CLIError(
                f"{other.what} {other.path} and {planned.what} {planned.path} are the same file: "
                "one output would replace the other; choose another --out or --report"
            )


@contextlib.contextmanager
def folder_lock(folder: Path):
    """Hold an exclusive ``fcntl.flock`` on ``folder/.toupy-resolution.lock`` (waiting for another run).

    The lock file is removed on release; a run that waited for it checks, once
    it holds the lock, that the file is still the one in the folder (else it
    locked a removed file) and tries again.
    """
    path = Path(folder) / LOCK_NAME
    said = False
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not said:
                    click.echo(f"Note: waiting for another toupy-resolution run writing into {folder}", err=True)
                    said = True
                fcntl.flock(handle, fcntl.LOCK_EX)
            held = os.fstat(handle)
            try:
                current = os.stat(path)
                same = (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(handle)
            raise
        if same:
            break
        os.close(handle)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(handle)


def _status(path: Path):
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size)


def _hdf5_names(path: Path) -> frozenset | None:
    """The objects of an existing HDF5 file (None if it is not one), to undo a dataset added to it."""
    try:
        import h5py

        if not Path(path).is_file() or not h5py.is_hdf5(path):
            return None
        names: list[str] = []
        with h5py.File(path, "r") as h5:
            h5.visit(names.append)
        return frozenset(names)
    except (OSError, ImportError):
        return None


def _remove_added(path: Path, names: frozenset) -> None:
    """Delete from the HDF5 file ``path`` the objects not in ``names`` (outermost first); keep the file."""
    import h5py

    with contextlib.suppress(OSError, KeyError, RuntimeError), h5py.File(path, "r+") as h5:
        found: list[str] = []
        h5.visit(found.append)
        added = [name for name in found if name not in names]
        for name in added:
            parent = name.rpartition("/")[0]
            if (not parent or parent in names) and name in h5:
                del h5[name]


class _Writing:
    """The write phase of a session: create and lock the folders, write, undo everything on failure."""

    def __init__(self, folders):
        self.folders = tuple(Path(f) for f in folders)
        self.written: list[Path] = []
        self.amended: list[tuple[Path, frozenset]] = []   # existing HDF5 files and their objects before
        self.created: list[Path] = []
        self._locks = contextlib.ExitStack()

    def __enter__(self):
        try:
            for folder in self.folders:
                self.created += _make_folder(folder)
                self._locks.enter_context(folder_lock(folder))
        except BaseException:
            self._undo()
            raise
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self._locks.close()
        else:
            self._undo()
        return False

    def write(self, planned: PlannedFile, producer, *also: Path) -> None:
        """Call ``producer(planned.path)``; ``also`` are other files it writes (a map's side file)."""
        targets = (planned.path, *also)
        before = [_status(p) for p in targets]
        contents = [_hdf5_names(p) for p in targets]
        try:
            producer(planned.path)
        except DiskFullError as exc:
            self._keep_new(targets, before, contents)
            raise CLIError(str(exc)) from None
        except OSError as exc:
            self._keep_new(targets, before, contents)
            raise CLIError(f"cannot write the {planned.what}: {os_error_text(exc, planned.path)}") from None
        except BaseException:
            self._keep_new(targets, before, contents)
            raise
        self._keep_new(targets, before, contents)

    def _keep_new(self, targets, before, contents) -> None:
        """Remember what the write changed: new files to remove, HDF5 files added to (never removed)."""
        for path, status, names in zip(targets, before, contents):
            after = _status(path)
            if after is None or after == status:
                continue
            if names is not None and status[:2] == after[:2]:
                # the same file, a dataset added in place: the user's file, undone object by object
                if all(path != amended for amended, _ in self.amended):
                    self.amended.append((path, names))
            elif path not in self.written:
                self.written.append(path)

    def _undo(self) -> None:
        for path in reversed(self.written):
            with contextlib.suppress(OSError):
                path.unlink()
        for path, names in reversed(self.amended):
            _remove_added(path, names)
        self._locks.close()
        # deepest first; a folder another run has written into is not empty and stays
        for folder in sorted(self.created, key=lambda path: len(path.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = []
    probe = Path(folder)
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        for created in missing:
            with contextlib.suppress(OSError):
                created.rmdir()
        raise CLIError(f"cannot create the folder: {os_error_text(exc, folder)}") from None
    return missing


class Session:
    """Collects the runs of one subcommand and writes, prints and reports them.

    The outputs are planned first (:meth:`plan`, before any computation),
    then the runs are added, then :meth:`finish` writes exactly the planned
    files and prints.

    Parameters
    ----------
    command : str
        Subcommand name; the JSON document is ``<command>.json``.
    out, report : path or None
        Output folder and HTML report file; both are checked for writability
        before any computation.
    as_json : bool
        Print the JSON document instead of the summary.
    pixel_size : PixelSize or None
        The ``--pixel-size`` option.
    per_run_json : bool
        Also write each run's own document under its ``Run.json_name``
        (the demo: ``fsc.json``, ``localfsc.json``, ...).
    """

    def __init__(self, command: str, *, out: Path | None, as_json: bool = False, report: Path | None = None,
                 pixel_size: PixelSize | None = None, json_name: str | None = None, per_run_json: bool = False):
        self.command = command
        self.out = out
        self.as_json = as_json
        self.report = report
        self.pixel_option = pixel_size
        self.json_name = json_name or f"{command}.json"
        self.per_run_json = per_run_json
        self.runs: list[Run] = []
        self.notes: list[str] = []
        self.outputs: OutputPlan | None = None
        self._writing: _Writing | None = None
        if out is not None:
            _probe_folder(Path(out), "--out")
        if report is not None:
            if Path(report).is_dir():
                raise CLIError(f"--report {report}: is a folder; give a file name such as report.html")
            _probe_folder(Path(report).parent, "--report", Path(report))

    # ---- bookkeeping
    @staticmethod
    def labels(sets) -> list[str]:
        """File-name prefixes of the runs of ``sets`` (input specs): none for a single run."""
        if len(sets) == 1:
            return [""]
        labels: list[str] = []
        for index, specs in enumerate(sets):
            base = _stem(specs[0])
            labels.append(base if base not in labels else f"{base}_{index + 1}")
        return labels

    def plan(self, runs: list[RunNames], inputs: list[InputFile] = (), *, extra=()) -> OutputPlan:
        """Name every file the session will write and refuse the run if one is an input or repeats.

        ``extra`` are ``(name, path, what)`` files written by the caller through
        :meth:`write_extra` (the demo's data).
        """
        files: list[PlannedFile] = []
        out = None if self.out is None else Path(self.out)
        if out is not None:
            files += [PlannedFile(Path(path), what, "extra", name=name) for name, path, what in extra]
            for index, names in enumerate(runs):
                for name in names.maps:
                    target = out / _prefix(names.label, name)
                    files.append(PlannedFile(target, "map", "map", index, name))
                    if target.suffix.lower() == ".npy":
                        files.append(PlannedFile(target.with_name(target.name + ".json"), "map side file",
                                                 "side", index, name))
                for name in names.figures:
                    files.append(PlannedFile(out / _prefix(names.label, name), "figure", "figure", index, name))
                if self.per_run_json and names.json_name:
                    files.append(PlannedFile(out / names.json_name, "JSON", "run_json", index, names.json_name))
            if len(runs) > 1 and not self.per_run_json:
                files.append(PlannedFile(out / f"{self.command}_table.csv", "CSV table", "table"))
            files.append(PlannedFile(out / self.json_name, "JSON", "json"))
        if self.report is not None:
            files.append(PlannedFile(Path(self.report), "--report", "report"))
        check_plan(files, inputs)
        self.outputs = OutputPlan(tuple(files), tuple(runs))
        return self.outputs

    @property
    def draws_figures(self) -> bool:
        """Whether a file (``--out`` or ``--report``) will hold the figures: else none is drawn."""
        return self.out is not None or self.report is not None

    def add(self, run: Run) -> None:
        self.runs.append(run)

    # ---- output
    @staticmethod
    def _roles(run: Run) -> list[str]:
        return list(run.roles) + [""] * (len(run.inputs) - len(run.roles))

    def _prefixed(self, run: Run, name: str) -> str:
        return _prefix(run.label, name)

    def _entry(self, run: Run) -> dict:
        return {
            "label": run.label or None,
            "command": run.command or self.command,
            "title": run.title,
            "summary": run.summary,
            "inputs": [dict(role=role, **im.describe()) for role, im in zip(self._roles(run), run.inputs)],
            "pixel_size": None if run.pixel is None else run.pixel.to_dict(),
            "parameters": _jsonable(run.parameters),
            "warnings": run.warnings,
            "figures": [self._prefixed(run, name) for name, _ in run.figures],
            "maps": [self._prefixed(run, name) for name, _, _ in run.maps],
            "result": run.result,
        }

    def document(self, runs: list[Run] | None = None) -> dict:
        """The JSON document of ``runs`` (default: all runs of the session)."""
        from toupy.resolution import __version__

        runs = self.runs if runs is None else runs
        doc = {
            "tool": "toupy-resolution",
            "version": __version__,
            "command": self.command,
            "command_line": command_line(),
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "notes": self.notes,
            "runs": [self._entry(run) for run in runs],
        }
        if len(runs) > 1 and all(run.row for run in runs):
            doc["table"] = [dict(label=run.label, **run.row) for run in runs]
        return doc

    def _table_text(self) -> str:
        rows = [dict(label=run.label, **run.row) for run in self.runs]
        columns = list(rows[0].keys())
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
        for r in cells:
            lines.append("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        return "\n".join(lines)

    def _csv_bytes(self) -> bytes:
        rows = [dict(label=run.label, **run.row) for run in self.runs]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
        return buffer.getvalue().encode("utf-8")

    @staticmethod
    def _dumps(doc: dict) -> str:
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)

    @contextlib.contextmanager
    def writing(self):
        """The write phase: the planned folders created and locked; on failure all of it undone."""
        if self.outputs is None:
            raise InternalError("internal error (the session's outputs were not planned)")
        if self._writing is not None:
            yield self._writing
            return
        with _Writing(self.outputs.folders) as writing:
            self._writing = writing
            try:
                yield writing
            finally:
                self._writing = None

    def write_extra(self, name: str, producer) -> None:
        """Write the planned extra file ``name`` with ``producer(path)`` (inside :meth:`writing`)."""
        planned = self.outputs.get("extra", name)
        with self.writing() as writing:
            writing.write(planned, producer)

    def _check_runs(self) -> None:
        """The runs produced exactly the files planned for them (else a bug: nothing is written)."""
        planned = self.outputs.runs
        produced = [RunNames(run.label, tuple(n for n, _ in run.figures), tuple(n for n, _, _ in run.maps),
                             run.json_name if self.per_run_json else "") for run in self.runs]
        if len(planned) != len(produced):
            raise InternalError(f"internal error ({len(produced)} runs for {len(planned)} planned)")
        for names, made in zip(planned, produced):
            if names != made:
                raise InternalError(f"internal error (outputs {made} differ from the plan {names})")

    def _producer(self, planned: PlannedFile, text: str):
        run = self.runs[planned.run] if planned.run >= 0 else None
        if planned.kind == "figure":
            png = dict(run.figures)[planned.name]
            return lambda path: _write_bytes(path, png)
        if planned.kind == "map":
            from toupy.resolution.io import write_image

            array, attrs = {name: (a, t) for name, a, t in run.maps}[planned.name]
            return lambda path: write_image(path, array, pixel_size=run.pixel, attrs=attrs, compress=True,
                                            overwrite=True)
        if planned.kind == "run_json":
            data = self._dumps(self.document([run])).encode("utf-8")
            return lambda path: _write_bytes(path, data)
        if planned.kind == "table":
            return lambda path: _write_bytes(path, self._csv_bytes())
        if planned.kind == "json":
            return lambda path: _write_bytes(path, text.encode("utf-8"))
        if planned.kind == "report":
            return self._write_report
        raise InternalError(f"internal error (no writer for planned {planned.kind} output {planned.path})")

    def finish(self, *, print_mode: str = "auto") -> None:
        """Write every planned output (or none), then print the summary, the table or the JSON.

        ``print_mode='auto'`` prints the summary line of a single run and a
        table for several; ``'lines'`` prints ``title: summary`` per run.
        """
        if self.outputs is None:
            raise InternalError("internal error (the session's outputs were not planned)")
        self._check_runs()
        text = self._dumps(self.document())
        if self.outputs.files:
            with self.writing() as writing:
                for planned in self.outputs.files:
                    if planned.kind in ("extra", "side"):
                        continue  # written by the caller, or by the map's writer with the map
                    side = [p.path for p in self.outputs.files
                            if p.kind == "side" and p.run == planned.run and p.name == planned.name]
                    also = side if planned.kind == "map" else []
                    writing.write(planned, self._producer(planned, text), *also)
        self._print(text, print_mode)

    def _print(self, text: str, print_mode: str) -> None:
        """Notes and warnings on stderr, then the summary (or the JSON) on stdout; ``-q``: the JSON only."""
        level = verbosity()
        if self.as_json:
            click.echo(text)  # asked for by name: printed even with -q
        if level < 0:
            return
        for note in self.notes:
            click.echo(f"Note: {note}", err=True)
        for run in self.runs:
            origins = run.origins if level > 0 else []
            for index, warning in enumerate(run.warnings):
                prefix = f"{run.label or run.title}: " if (run.label or print_mode == "lines") else ""
                origin = f" [{origins[index]}]" if index < len(origins) else ""
                click.echo(f"Warning: {prefix}{warning}{origin}", err=True)
            if level > 0:
                click.echo(f"Time: {run.label or run.title}: {run.seconds:.2f} s", err=True)
        if self.as_json:
            return
        if print_mode == "lines":
            width = max(len(run.title) for run in self.runs)
            for run in self.runs:
                click.echo(f"{run.title.ljust(width)}  {run.summary}")
        elif len(self.runs) == 1:
            click.echo(self.runs[0].summary)
        else:
            click.echo(self._table_text())

    def _write_report(self, path: Path) -> Path:
        from toupy.resolution._report import ReportRun, write_report
        from toupy.resolution import __version__

        entries = []
        for run in self.runs:
            inputs = [dict(role=role, **image.describe()) for role, image in zip(self._roles(run), run.inputs)]
            entries.append(ReportRun(
                title=run.title, summary=run.summary, inputs=inputs,
                parameters=_jsonable(run.parameters),
                result=run.result, figures=run.figures,
                units=run.result.get("units", {}) if isinstance(run.result, dict) else {},
            ))
        write_report(path, entries, title=f"toupy-resolution {self.command}", version=__version__,
                     command_line=command_line())
        return Path(path)


def _prefix(label: str, name: str) -> str:
    return f"{label}_{name}" if label else name


def _write_bytes(path: Path, data: bytes) -> Path:
    """``data`` into ``path`` atomically (complete under its name or not at all)."""
    from toupy.resolution.io._atomic import atomic_stream

    with atomic_stream(path, "wb") as stream:
        stream.write(data)
    return path


#: where the root context keeps the arguments click parsed (``ctx.meta``)
ARGV_KEY = "toupy_resolution.argv"


def command_line() -> str:
    """The command as the user gave it: click's own arguments (not the host process's ``sys.argv``)."""
    ctx = click.get_current_context(silent=True)
    argv = ctx.meta.get(ARGV_KEY) if ctx is not None else None
    if argv is None:
        argv = sys.argv[1:]
    return " ".join(shlex.quote(str(a)) for a in ["toupy-resolution", *argv])


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _jsonable(value):
    from toupy.resolution._results import jsonable

    if isinstance(value, PixelSize):
        return value.to_dict()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return jsonable(value)
