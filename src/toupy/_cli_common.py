"""Plumbing shared by the ``toupy-resolution`` subcommands.

A subcommand opens its inputs (:func:`open_input`), decides the pixel size
(:func:`choose_pixel_size`), calls one estimator per input set and records a
:class:`Run` (result, figures, maps, warnings) in a :class:`Session`. The
session then writes everything at once: figures, maps, the JSON document, a
CSV table for several inputs and the HTML report, each file atomically, and
removes what it wrote if a later file fails, so a failed command leaves no
output behind. It prints one summary line per run (a table for several), or
the JSON document with ``--json``.

Errors the user can fix (missing or damaged files, bad options, bad shapes)
become one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import functools
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

from toupy.io import FileFormatError, ImageFile, PixelSize, parse_length, read_image

__all__ = [
    "CLIError", "guard", "Run", "Session", "open_input", "choose_pixel_size", "figure_png",
    "PIXEL_SIZE", "THRESHOLD", "WINDOW", "output_options", "read_pairs", "in_memory",
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


def _debug() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool(root and (root.obj or {}).get("debug"))


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
            pattern = rf"(?<![\w-]){re.escape(name)}\b" if "_" in name else rf"(?<![\w-]){re.escape(name)}(?==)"
            message = re.sub(pattern, flag, message)
    return re.sub(r"(--[\w-]+)=None\b", r"\1 none", message)


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
        except OSError as exc:
            if _debug():
                raise
            name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            text = exc.strerror if exc.strerror and name else str(exc)
            raise CLIError(f"{name}{text}") from None
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
    """Open ``spec`` with :func:`toupy.io.read_image`; errors name the file."""
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
    """Memory a new allocation can get: MemAvailable (free + reclaimable cache) on Linux."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 4 << 30


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
    figures: list = field(default_factory=list)   # (file name, png bytes)
    maps: list = field(default_factory=list)      # (file name, array, attrs)
    warnings: list = field(default_factory=list)
    row: dict = field(default_factory=dict)       # values for the table of several runs
    roles: list = field(default_factory=list)     # what each input is ('half 1', 'image', ...)
    pixel: PixelSize | None = None                # pixel size used (for the maps' metadata)
    label: str = ""
    command: str = ""                             # estimator subcommand (when a session mixes several)
    json_name: str = ""                           # own JSON file (sessions with per_run_json)


@contextlib.contextmanager
def collect_warnings(sink: list):
    """Record the warnings raised inside the block into ``sink`` (one line each)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for item in caught:
        if issubclass(item.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue  # about our dependencies' APIs, not about the user's data
        text = one_line(item.message)
        if text not in sink:
            sink.append(text)


def _probe_folder(folder: Path, option: str) -> None:
    """Fail early if ``folder`` (or the folder that would contain it) cannot be written."""
    target = folder
    while not target.exists():
        if target.parent == target:
            break
        target = target.parent
    if target.exists() and not target.is_dir():
        raise CLIError(f"{option} {folder}: {target} is not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".toupy-probe-", dir=target)
    except OSError as exc:
        raise CLIError(f"{option} {folder}: not writable ({exc.strerror or exc})") from None
    os.close(handle)
    os.unlink(probe)


def _stem(spec: str) -> str:
    name = Path(spec.split(":")[0] if not os.path.exists(spec) else spec).name
    for suffix in (".ome.tif", ".ome.tiff"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or "input"


class Session:
    """Collects the runs of one subcommand and writes, prints and reports them.

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
        if out is not None:
            _probe_folder(Path(out), "--out")
        if report is not None:
            if Path(report).is_dir():
                raise CLIError(f"--report {report}: is a folder; give a file name such as report.html")
            _probe_folder(Path(report).parent, "--report")

    # ---- bookkeeping
    def label_for(self, specs: tuple[str, ...], index: int, total: int) -> str:
        if total == 1:
            return ""
        base = _stem(specs[0])
        taken = {run.label for run in self.runs}
        return base if base not in taken else f"{base}_{index + 1}"

    def add(self, run: Run) -> None:
        self.runs.append(run)

    # ---- output
    @staticmethod
    def _roles(run: Run) -> list[str]:
        return list(run.roles) + [""] * (len(run.inputs) - len(run.roles))

    def _prefixed(self, run: Run, name: str) -> str:
        return f"{run.label}_{name}" if run.label else name

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
            "command_line": " ".join(shlex.quote(a) for a in ["toupy-resolution"] + sys.argv[1:]),
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

    def finish(self, *, print_mode: str = "auto") -> None:
        """Write every output (or none), then print the summary, the table or the JSON.

        ``print_mode='auto'`` prints the summary line of a single run and a
        table for several; ``'lines'`` prints ``title: summary`` per run.
        """
        text = self._dumps(self.document())
        written: list[Path] = []
        try:
            if self.out is not None:
                from toupy.io import write_image

                out = Path(self.out)
                for run in self.runs:
                    for name, array, attrs in run.maps:
                        target = out / self._prefixed(run, name)
                        written.append(write_image(target, array, pixel_size=run.pixel, attrs=attrs, compress=True))
                        side = target.with_name(target.name + ".json")
                        if target.suffix == ".npy" and side.exists():
                            written.append(side)
                    for name, png in run.figures:
                        written.append(_write_bytes(out / self._prefixed(run, name), png))
                    if self.per_run_json and run.json_name:
                        written.append(_write_bytes(out / run.json_name,
                                                    self._dumps(self.document([run])).encode("utf-8")))
                if len(self.runs) > 1 and all(run.row for run in self.runs) and not self.per_run_json:
                    written.append(_write_bytes(out / f"{self.command}_table.csv", self._csv_bytes()))
                written.append(_write_bytes(out / self.json_name, text.encode("utf-8")))
            if self.report is not None:
                written.append(self._write_report())
        except BaseException:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        for note in self.notes:
            click.echo(f"Note: {note}", err=True)
        for run in self.runs:
            for warning in run.warnings:
                prefix = f"{run.label or run.title}: " if (run.label or print_mode == "lines") else ""
                click.echo(f"Warning: {prefix}{warning}", err=True)
        if self.as_json:
            click.echo(text)
        elif print_mode == "lines":
            width = max(len(run.title) for run in self.runs)
            for run in self.runs:
                click.echo(f"{run.title.ljust(width)}  {run.summary}")
        elif len(self.runs) == 1:
            click.echo(self.runs[0].summary)
        else:
            click.echo(self._table_text())

    def _write_report(self) -> Path:
        from toupy._report import ReportRun, write_report
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
        write_report(self.report, entries, title=f"toupy-resolution {self.command}", version=__version__,
                     command_line=" ".join(shlex.quote(a) for a in ["toupy-resolution"] + sys.argv[1:]))
        return Path(self.report)


def _write_bytes(path: Path, data: bytes) -> Path:
    from toupy.resolution._files import atomic_write

    with atomic_write(path, "wb") as stream:
        stream.write(data)
    return path


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
