"""A self-contained HTML report of estimator runs: one page, figures embedded as base64 PNG.

The page needs no network and no other file: styles are inline, images are
``data:`` URIs, and every number is escaped text. The markup is the jinja2
template ``templates/report.html.j2`` (autoescape on); this module only turns
the runs into rows of formatted text. It lists, per run, the
one-line summary, the input files, the parameters, the key numbers (lengths
in pixels and in the pixel-size unit, full and half period) and the figures.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["ReportRun", "render_report", "write_report"]

# scalar result fields worth a row in the numbers table, in this order when present
_KEY_NUMBERS = (
    "resolution_full", "resolution_half", "resolution_full_px", "resolution_half_px",
    "fn_res", "fn_res_cpx", "nyquist_limited", "crossing_shell",
    "cutoff_shell", "cutoff_cpx", "cutoff_resolution_full",
    "resolution_median", "resolution_mean", "resolution_std",
    "resolution_median_half", "resolution_mean_half", "resolution_std_half",
    "kcMax", "kc_max", "A0", "r_res", "resolution_px", "resolution",
    "resolutions_px", "resolution_px_median", "resolution_px_mean", "resolution_px_std",
    "f50", "f10", "resolution_50", "resolution_10", "angle_deg", "edge_angle",
    "sigma_noise", "n_boxes", "fraction_nyquist_limited", "fraction_no_resolution",
)


@dataclass
class ReportRun:
    """One estimator run as shown in the report.

    Attributes
    ----------
    title : str
        Heading, e.g. ``'FSC — half1.mrc / half2.mrc'``.
    summary : str
        The one-line human summary.
    inputs : list of dict
        Input descriptions (file, dataset, shape, dtype, pixel size).
    parameters : dict
        Parameters of the estimator as run.
    result : dict
        The JSON-safe result (``to_dict()``); scalar fields are tabulated.
    figures : list of (name, png bytes)
        Figures to embed.
    units : dict
        Unit of each number (from the result's ``units`` entry when present).
    """

    title: str
    summary: str
    inputs: list = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    figures: list = field(default_factory=list)
    units: dict = field(default_factory=dict)


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        if len(value) > 12:
            return f"[{len(value)} values]"
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@dataclass(frozen=True)
class _Cell:
    """One table cell: its text and whether it is right-aligned as a number."""

    text: str
    numeric: bool = False


@dataclass(frozen=True)
class _Figure:
    """An embedded figure: its caption and its PNG in base64."""

    name: str
    base64: str


@dataclass(frozen=True)
class _RunView:
    """One run as the template shows it: texts and rows of cells only."""

    number: int
    anchor: str
    title: str
    summary: str
    inputs: tuple
    parameters: tuple
    numbers: tuple
    figures: tuple


def _cells(rows: Iterable[Sequence]) -> tuple:
    """Rows of values as rows of :class:`_Cell`; numbers after the first column are right-aligned."""
    return tuple(
        tuple(_Cell(_fmt(cell), i > 0 and isinstance(cell, (int, float)) and not isinstance(cell, bool))
              for i, cell in enumerate(row))
        for row in rows
    )


def _key_numbers(result: Mapping, units: Mapping) -> list[tuple]:
    rows = []
    for key in _KEY_NUMBERS:
        if key in result and not isinstance(result[key], dict):
            value = result[key]
            if isinstance(value, list) and len(value) > 12:
                continue
            rows.append((key, value, units.get(key, "")))
    return rows


def _inputs_rows(inputs: Sequence[Mapping]) -> list[tuple]:
    rows = []
    for item in inputs:
        pixel = item.get("pixel_size")
        pixel_text = "—" if not pixel else f"{pixel['value']:g} {pixel['unit']} ({pixel.get('source', '')})"
        name = item.get("file", "")
        if item.get("dataset"):
            name = f"{name}:{item['dataset']}"
        rows.append((item.get("role", ""), name, "×".join(str(n) for n in item.get("shape", [])),
                     item.get("dtype", ""), pixel_text))
    return rows


def _anchor(index: int) -> str:
    return f"run-{index + 1}"


@functools.lru_cache(maxsize=1)
def _template():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("toupy.resolution", "templates"),
        autoescape=True,  # every title, file name and summary is text, never markup
        undefined=jinja2.StrictUndefined,  # a misspelt name fails the render, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("report.html.j2")


def _run_view(index: int, run: ReportRun) -> _RunView:
    units = run.units or run.result.get("units", {}) or {}
    return _RunView(
        number=index + 1,
        anchor=_anchor(index),
        title=run.title,
        summary=run.summary,
        inputs=_cells(_inputs_rows(run.inputs)),
        parameters=_cells(sorted(run.parameters.items())),
        numbers=_cells(_key_numbers(run.result, units)),
        figures=tuple(_Figure(name, base64.b64encode(png).decode("ascii")) for name, png in run.figures),
    )


def render_report(runs: Sequence[ReportRun], *, title: str = "toupy-resolution report",
                  version: str = "", command_line: str = "", pixel_size: str = "") -> str:
    """The HTML text of a report of ``runs``."""
    created = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return _template().render(
        title=title,
        version=version,
        created=created,
        pixel_size=pixel_size,
        command_line=command_line,
        overview=_cells((f"{i + 1}. {run.title}", run.summary) for i, run in enumerate(runs)),
        runs=[_run_view(i, run) for i, run in enumerate(runs)],
    )


def write_report(path, runs: Sequence[ReportRun], **kwargs) -> None:
    """Write :func:`render_report` to ``path`` atomically (complete under its name or not at all)."""
    from toupy.resolution.io._atomic import atomic_stream

    text = render_report(runs, **kwargs)
    with atomic_stream(path, "wb") as stream:
        stream.write(text.encode("utf-8"))
