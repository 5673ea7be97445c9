"""A self-contained HTML report of estimator runs: one page, figures embedded as base64 PNG.

The page needs no network and no other file: styles are inline, images are
``data:`` URIs, and every number is escaped text. It lists, per run, the
one-line summary, the input files, the parameters, the key numbers (lengths
in pixels and in the pixel-size unit, full and half period) and the figures.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
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


_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;max-width:70em;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
.meta{color:#666;font-size:.9em}.summary{background:#f3f6fa;border-left:4px solid #4a78b5;padding:.5em .8em;
font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;white-space:pre-wrap}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f6f6f6}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.4em 0}
.toc li{margin:.1em 0}.cols{display:flex;flex-wrap:wrap;gap:2em}.cols>div{flex:1 1 22em}
"""


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


def _table(rows: Iterable[Sequence], header: Sequence[str] | None = None) -> str:
    out = ["<table>"]
    if header:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(_fmt(cell))
            numeric = i > 0 and isinstance(cell, (int, float)) and not isinstance(cell, bool)
            cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


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


def render_report(runs: Sequence[ReportRun], *, title: str = "toupy-resolution report",
                  version: str = "", command_line: str = "", pixel_size: str = "") -> str:
    """The HTML text of a report of ``runs``."""
    created = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">toupy-resolution {html.escape(version)} · {html.escape(created)}'
        + (f" · pixel size {html.escape(pixel_size)}" if pixel_size else "")
        + "</p>",
    ]
    if command_line:
        parts.append(f'<p class="meta">command: <code>{html.escape(command_line)}</code></p>')
    parts.append("<h2>Results</h2>")
    parts.append(_table(
        [(f"{i + 1}. {run.title}", run.summary) for i, run in enumerate(runs)],
        header=("run", "result"),
    ))
    parts.append(
        '<p class="meta">Full period = the period of the finest resolved grating (FSC convention, '
        "pixel_size / frequency); half period = full period / 2 (feature size). Frequencies in "
        "cycles/pixel.</p>"
    )
    for i, run in enumerate(runs):
        parts.append(f'<h2 id="{_anchor(i)}">{i + 1}. {html.escape(run.title)}</h2>')
        parts.append(f'<div class="summary">{html.escape(run.summary)}</div>')
        parts.append('<div class="cols">')
        if run.inputs:
            parts.append("<div><h3>Inputs</h3>" + _table(
                _inputs_rows(run.inputs), header=("role", "file", "shape", "dtype", "pixel size")) + "</div>")
        if run.parameters:
            parts.append("<div><h3>Parameters</h3>" + _table(
                sorted(run.parameters.items()), header=("parameter", "value")) + "</div>")
        numbers = _key_numbers(run.result, run.units or run.result.get("units", {}) or {})
        if numbers:
            parts.append("<div><h3>Numbers</h3>" + _table(numbers, header=("quantity", "value", "unit")) + "</div>")
        parts.append("</div>")
        for name, png in run.figures:
            encoded = base64.b64encode(png).decode("ascii")
            parts.append(
                f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'
                f"<figcaption class=\"meta\">{html.escape(name)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path, runs: Sequence[ReportRun], **kwargs) -> None:
    """Write :func:`render_report` to ``path`` atomically (complete under its name or not at all)."""
    from toupy.resolution.io._atomic import atomic_stream

    text = render_report(runs, **kwargs)
    with atomic_stream(path, "wb") as stream:
        stream.write(text.encode("utf-8"))
