"""``toupy-resolution``'s global options, help texts and the cost of a run that writes nothing.

The global options (``-v``, ``-q``, ``--progress``, ``--debug``) are accepted
before and after the subcommand; ``-q`` prints errors only and ``-v`` adds
each run's time and each warning's origin; no figure is drawn (nor matplotlib
imported) unless ``--out`` or ``--report`` will hold it; every help text says
what the code does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import namedtuple

import click
import numpy as np
import pytest
from click.testing import CliRunner

from toupy.resolution import _cli_common, _cli_demo, _cli_runs
from toupy.resolution.cli import main

#: 64 x 64 halves: one object plus independent noise (seeded)
SIDE = 64


@pytest.fixture()
def halves(tmp_path):
    rng = np.random.default_rng(7)
    signal = rng.standard_normal((SIDE, SIDE))
    paths = []
    for name in ("a.npy", "b.npy"):
        path = tmp_path / name
        np.save(path, (signal + 0.5 * rng.standard_normal((SIDE, SIDE))).astype(np.float32))
        paths.append(str(path))
    return paths


@pytest.fixture()
def small_halves(tmp_path):
    """32 x 32: the default window edge (20 px) does not fit, so the FSC warns that it narrowed it."""
    rng = np.random.default_rng(8)
    paths = []
    for name in ("c.npy", "d.npy"):
        path = tmp_path / name
        np.save(path, rng.standard_normal((32, 32)).astype(np.float32))
        paths.append(str(path))
    return paths


def _run(args, monkeypatch):
    monkeypatch.setenv("TOUPY_RESOLUTION_PROGRESS", "0")  # restored after the test (the options set it)
    return CliRunner().invoke(main, args, catch_exceptions=True)


# ---------------------------------------------------------------------------- global options


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_subcommand_shows_the_exception(halves, monkeypatch, where):
    # apod-width 40 does not fit 64 pixels: a ValueError, one line without --debug, raised with it
    args = ["fsc", *halves, "--apod-width", "40"]
    plain = _run(args, monkeypatch)
    assert plain.exit_code == 2
    debug = _run(["--debug", *args] if where == "before" else [*args, "--debug"], monkeypatch)
    assert isinstance(debug.exception, ValueError)


@pytest.mark.parametrize("flag, value", [("--progress", "1"), ("--no-progress", "0")])
def test_progress_after_the_subcommand(halves, monkeypatch, flag, value):
    result = _run(["fsc", *halves, flag], monkeypatch)
    assert result.exit_code == 0, result.output
    import os

    assert os.environ["TOUPY_RESOLUTION_PROGRESS"] == value


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_nothing_but_writes_the_files(halves, tmp_path, monkeypatch, where):
    out = tmp_path / "out"
    args = ["fsc", *halves, "--out", str(out)]
    result = _run(["-q", *args] if where == "before" else [*args, "-q"], monkeypatch)
    assert result.exit_code == 0
    assert result.stdout == "" and result.stderr == ""
    assert sorted(p.name for p in out.iterdir()) == ["FSC_2D.png", "fsc.json"]


def test_quiet_keeps_errors_and_exit_code(halves, monkeypatch):
    result = _run(["fsc", *halves, "--apod-width", "40", "-q"], monkeypatch)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: --apod-width")


def test_quiet_keeps_the_requested_json(halves, monkeypatch):
    result = _run(["-q", "fsc", *halves, "--json"], monkeypatch)
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["command"] == "fsc"


def test_quiet_hides_warnings_that_the_json_keeps(small_halves, monkeypatch):
    result = _run(["fsc", *small_halves, "--json", "-q"], monkeypatch)
    assert result.exit_code == 0 and result.stderr == ""
    assert any("narrowed" in w for w in json.loads(result.stdout)["runs"][0]["warnings"])


def test_verbose_adds_time_and_warning_origin(small_halves, monkeypatch):
    plain = _run(["fsc", *small_halves], monkeypatch)
    verbose = _run(["fsc", *small_halves, "-v"], monkeypatch)
    assert plain.exit_code == verbose.exit_code == 0
    assert "Time:" not in plain.stderr and "[ResolutionWarning at " not in plain.stderr
    warning = next(line for line in verbose.stderr.splitlines() if line.startswith("Warning:"))
    assert "narrowed" in warning and "[ResolutionWarning at " in warning
    assert any(line.startswith("Time: ") and line.endswith(" s") for line in verbose.stderr.splitlines())
    assert verbose.stdout == plain.stdout  # the summary line is the same


def test_verbose_and_quiet_exclude_each_other(halves, monkeypatch):
    result = _run(["-v", "fsc", *halves, "-q"], monkeypatch)
    assert result.exit_code == 2 and "-v and -q" in result.stderr


def test_clean_input_gives_no_warning(halves, monkeypatch):
    result = _run(["fsc", *halves, "-v"], monkeypatch)
    assert result.exit_code == 0 and "Warning" not in result.stderr


# ---------------------------------------------------------------------------- figures only when written


def _refuse_figures(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a figure was drawn though no file holds it")

    monkeypatch.setattr(_cli_runs, "figure_png", refuse)


@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_no_figure_without_out_or_report(halves, monkeypatch, extra):
    _refuse_figures(monkeypatch)
    result = _run(["fsc", *halves, *extra], monkeypatch)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("option", ["--out", "--report"])
def test_figure_drawn_for_out_and_report(halves, tmp_path, monkeypatch, option):
    # the same guard fails as soon as a file will hold the figure: the test above can fail
    _refuse_figures(monkeypatch)
    target = tmp_path / ("out" if option == "--out" else "page.html")
    result = _run(["fsc", *halves, option, str(target)], monkeypatch)
    assert result.exit_code == 1 and "a figure was drawn" in result.stderr  # an internal error, one line


def test_summary_run_imports_no_matplotlib(halves):
    code = (
        "import sys\n"
        "from toupy.resolution.cli import main\n"
        f"try:\n    main({['fsc', *halves]!r})\n"
        "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'dask', 'distributed')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={"MPLBACKEND": "Agg", "TOUPY_RESOLUTION_PROGRESS": "0", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


# ---------------------------------------------------------------------------- help texts and choices


def test_group_help_lists_every_command_in_full(monkeypatch):
    result = _run(["--help"], monkeypatch)
    text = " ".join(result.output.split())
    for name, command in main.commands.items():
        first = " ".join((command.help or "").strip().split("\n\n")[0].split())
        shown = " ".join((command.short_help or first).split())
        assert f"{name} {shown}" in text, name
        assert "..." not in shown


def test_group_help_documents_the_global_options(monkeypatch):
    text = " ".join(_run(["--help"], monkeypatch).output.split())
    for flag in ("-v, --verbose", "-q, --quiet", "--progress / --no-progress", "--debug"):
        assert flag in text
    assert "before or after the command" in text


def test_every_subcommand_takes_the_global_options():
    for name, command in main.commands.items():
        flags = {opt for param in command.params for opt in param.opts + param.secondary_opts}
        assert {"-v", "-q", "--progress", "--no-progress", "--debug"} <= flags, name


def test_choices_are_lower_case_and_case_insensitive():
    for name, command in main.commands.items():
        for param in command.params:
            if isinstance(param.type, click.Choice):
                assert all(choice == choice.lower() for choice in param.type.choices), (name, param.name)
                assert not param.type.case_sensitive, (name, param.name)


def test_demo_help_states_the_defaults_the_code_uses(monkeypatch, tmp_path):
    text = " ".join(_run(["demo", "--help"], monkeypatch).output.split())
    assert "Default: 256, or 128 when the environment variable CI is true" in text
    assert "Default: 64, or 48 when CI is true" in text
    seen = {}

    def record(session, files, step, *, n, n_slices, seed, pixel_size):
        seen[n_slices] = n
        raise click.ClickException("stop here")

    monkeypatch.setattr(_cli_demo, "_experiment", record)
    for ci in ("", "true"):
        monkeypatch.setenv("CI", ci)
        with pytest.raises(click.ClickException):
            _cli_demo.run_demo(out=tmp_path / f"demo{ci}")
    assert seen == {64: 256, 48: 128}


def test_demo_at_the_smallest_size(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    result = _run(["demo", "--size", "64", "--slices", "8", "--out", str(out), "-q"], monkeypatch)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert [run["command"] for run in summary["runs"]] == [
        "fsc", "frc", "ssnr", "randomfsc", "localfsc", "decorr", "localres", "mtf"]
    assert (out / "LocalResolution_map.png").stat().st_size > 0


# ---------------------------------------------------------------------------- memory


def test_available_memory_is_psutils(monkeypatch):
    import psutil

    memory = namedtuple("svmem", "total available")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory(total=8 << 30, available=3 << 30))
    assert _cli_common._available_memory() == 3 << 30
