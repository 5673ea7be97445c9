"""The HTML report (``_report.write_report``): content, escaping and atomic output.

The page is parsed with the standard library's HTML parser, so the tests see
what a browser sees (text after entity decoding, attribute values), not the
spelling of the markup.
"""

from __future__ import annotations

import base64
import errno
import os
import struct
import types
import warnings
import zlib
from html.parser import HTMLParser

import pytest

from toupy.resolution import _report
from toupy.resolution._report import ReportRun, render_report, write_report
from toupy.resolution.io import DiskFullError

NASTY = "half<1>&\"quoted\" 'x' <script>alert(1)</script>.mrc"


def _png(width: int, height: int, grey: int) -> bytes:
    """A valid greyscale PNG of one colour (known bytes, no plotting library)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([grey]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


class _Page(HTMLParser):
    """Text, tags and image attributes of a page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.text, self.tags, self.images = [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def joined(self) -> str:
        return "".join(self.text)


def _runs() -> list[ReportRun]:
    return [
        ReportRun(
            title=f"FSC — {NASTY} / half2.mrc",
            summary="FSC: resolution 28.6 nm (half-bit threshold) at 0.2143 cycles/pixel",
            inputs=[{"role": "half 1", "file": NASTY, "shape": [64, 80], "dtype": "float32",
                     "pixel_size": {"value": 3.0, "unit": "nm", "source": "header"}}],
            parameters={"window": "circle", "apod_width": 20, "threshold": "halfbit"},
            result={"resolution_full": 28.6, "crossing_shell": 13, "units": {"resolution_full": "nm"}},
            figures=[("fsc curve", _png(3, 2, 10))],
        ),
        ReportRun(
            title="decorrelation — image.tif",
            summary="decorrelation: resolution 4.2 px (kcMax 0.476)",
            parameters={"n_radii": 50, "n_highpass": 10},
            result={"kcMax": 0.476, "A0": 0.81},
            figures=[("decorrelation curves", _png(2, 5, 200)), ("second <figure>", _png(1, 1, 0))],
        ),
    ]


def test_page_holds_every_summary_parameter_number_and_figure():
    runs = _runs()
    page = _Page(render_report(runs, title="report", version="1.2.3"))
    for run in runs:
        assert page.joined.count(run.summary) == 2  # the overview table and the run's own section
        for name, value in run.parameters.items():
            assert name in page.joined and str(value) in page.joined
    assert "28.6" in page.joined and "0.476" in page.joined and "13" in page.joined
    figures = [figure for run in runs for figure in run.figures]
    assert [image["alt"] for image in page.images] == [name for name, _ in figures]
    for image, (_, png) in zip(page.images, figures):
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        assert base64.b64decode(image["src"][len(prefix):], validate=True) == png


def test_special_characters_in_file_names_are_escaped():
    text = render_report(_runs(), title="<b>report</b>", command_line=f"toupy-resolution fsc '{NASTY}'")
    page = _Page(text)
    # the names read back exactly, and none of their characters became markup
    assert NASTY in page.joined and "<b>report</b>" in page.joined
    assert "script" not in page.tags and "b" not in page.tags
    assert "<script>" not in text and "half<1>" not in text
    assert "&lt;script&gt;" in text
    assert _Page(text).images[2]["alt"] == "second <figure>"


def test_empty_sections_are_left_out():
    run = ReportRun(title="plain", summary="nothing else")
    text = render_report([run])
    assert "<h3>" not in text and "<figure>" not in text
    assert "nothing else" in _Page(text).joined


def test_clean_report_gives_no_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_report(tmp_path / "report.html", _runs(), title="report")


def test_written_page_is_the_rendered_page_in_utf8(tmp_path, monkeypatch):
    monkeypatch.setattr(_report, "_dt", types.SimpleNamespace(datetime=_FixedClock))
    target = tmp_path / "report.html"
    write_report(target, _runs(), title="report", version="1.2.3")
    assert target.read_bytes().decode("utf-8") == render_report(_runs(), title="report", version="1.2.3")


class _FixedClock:
    """``datetime.now()`` frozen, so two renders are comparable."""

    @staticmethod
    def now():
        import datetime
        return datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


def _fail_at_fsync(code):
    def fsync(fd):
        raise OSError(code, os.strerror(code))
    return fsync


@pytest.mark.parametrize("exists", [False, True])
def test_full_disk_leaves_no_partial_file(tmp_path, monkeypatch, exists):
    target = tmp_path / "report.html"
    if exists:
        target.write_text("the previous report", encoding="utf-8")
    # every byte of the page is written, then the disk refuses to make it durable
    monkeypatch.setattr(os, "fsync", _fail_at_fsync(errno.ENOSPC))
    with pytest.raises(DiskFullError, match="report.html"):
        write_report(target, _runs(), title="report")
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == (["report.html"] if exists else [])
    if exists:
        assert target.read_text(encoding="utf-8") == "the previous report"


def test_interrupted_write_leaves_the_previous_report(tmp_path, monkeypatch):
    target = tmp_path / "report.html"
    target.write_text("the previous report", encoding="utf-8")

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report(target, _runs(), title="report")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["report.html"]
    assert target.read_text(encoding="utf-8") == "the previous report"
