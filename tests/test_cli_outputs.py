"""What ``toupy-resolution`` writes, and what it must never write.

Outputs never replace inputs (issue 16, item 1): each collision below must be
refused before anything is computed, with exit code 2 and one line on stderr
naming both paths, the inputs byte for byte as they were and no output
written. A failed run leaves no ``--out`` folder it created and no partial
file (item 4, with a full disk simulated by making the writer raise
``ENOSPC``). Two runs writing the same folder take turns (``fcntl.flock``
lock), so the folder holds one run's complete set. ``--cmap`` is checked
(item 6), and so is ``plot(output_dir=<a file>)``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("click")
tifffile = pytest.importorskip("tifffile")
h5py = pytest.importorskip("h5py")

from toupy.resolution.io import parse_length, write_image  # noqa: E402

PIXEL = parse_length("28.6nm")


def _command() -> list[str]:
    script = Path(sys.executable).with_name("toupy-resolution")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toupy.resolution.cli"]


def _environment() -> dict:
    environment = dict(os.environ, MPLBACKEND="Agg", TOUPY_RESOLUTION_PROGRESS="0")
    environment.pop("CI", None)
    return environment


def run(*args, cwd, expect=0):
    proc = subprocess.run(_command() + [str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=_environment(), timeout=600)
    assert proc.returncode == expect, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc


def _digests(folder: Path) -> dict:
    """Every file under ``folder`` (symlinks as links) with the SHA-256 of its bytes."""
    found = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink():
            found[str(path)] = "link to " + os.readlink(path)
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _pair(rng, shape=(64, 64)):
    signal = rng.standard_normal(shape)
    return [(signal + 0.5 * rng.standard_normal(shape)).astype(np.float32) for _ in range(2)]


@pytest.fixture()
def work(tmp_path):
    """A folder with a TIFF pair, an NPY map and an HDF5 sinogram with its angles."""
    rng = np.random.default_rng(7)
    a, b = _pair(rng)
    write_image(tmp_path / "A.tif", a, pixel_size=PIXEL)
    write_image(tmp_path / "B.tif", b, pixel_size=PIXEL)
    return tmp_path


def _refused(proc, *paths) -> str:
    """Exit 2 and exactly one line on stderr that names every one of ``paths``."""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for path in paths:
        assert str(path) in lines[0], (path, lines[0])
    return lines[0]


# ----------------------------------------------------------------------------- outputs never replace inputs

def test_report_onto_an_input(work):
    before = _digests(work)
    proc = run("fsc", "A.tif", "B.tif", "--report", "A.tif", cwd=work, expect=2)
    line = _refused(proc, "--report A.tif", "half 1 A.tif")
    assert "same file" in line
    assert _digests(work) == before


def test_report_onto_an_input_through_a_symlink_and_a_relative_path(work):
    (work / "sub").mkdir()
    os.symlink(work / "B.tif", work / "link.tif")
    before = _digests(work)
    proc = run("fsc", "A.tif", "B.tif", "--report", "link.tif", cwd=work, expect=2)
    _refused(proc, "link.tif", "half 2 B.tif")
    proc = run("fsc", str(work / "A.tif"), "B.tif", "--report", "sub/../A.tif", cwd=work, expect=2)
    _refused(proc, "sub/../A.tif", str(work / "A.tif"))
    os.link(work / "A.tif", work / "hard.tif")  # a hard link is the same file under another name
    before["hard"] = _digests(work)[str(work / "hard.tif")]
    proc = run("fsc", "hard.tif", "B.tif", "--report", "A.tif", cwd=work, expect=2)
    _refused(proc, "A.tif", "hard.tif")
    after = _digests(work)
    assert after.pop(str(work / "hard.tif")) == before.pop("hard")
    assert after == before


def test_localfsc_map_onto_its_own_input(work):
    out = work / "OUT"
    out.mkdir()
    os.replace(work / "A.tif", out / "LocalFSC_resmap.tif")
    before = _digests(work)
    proc = run("localfsc", out / "LocalFSC_resmap.tif", "B.tif", "--out", out, cwd=work, expect=2)
    _refused(proc, f"map {out / 'LocalFSC_resmap.tif'}", f"half 1 {out / 'LocalFSC_resmap.tif'}")
    assert _digests(work) == before


def test_localres_map_onto_its_own_npy_input(work):
    out = work / "OUT"
    image = np.random.default_rng(3).standard_normal((48, 48)).astype(np.float32)
    write_image(out / "LocalResolution_map.npy", image, pixel_size=PIXEL)  # and its side file
    before = _digests(work)
    # through a second name of the folder: a symlink to OUT
    os.symlink(out, work / "OUT2")
    proc = run("localres", "OUT/LocalResolution_map.npy", "--out", "OUT2", cwd=work, expect=2)
    _refused(proc, "OUT2/LocalResolution_map.npy", "map OUT/LocalResolution_map.npy")
    before[str(work / "OUT2")] = f"link to {out}"
    assert _digests(work) == before


def test_split_tomogram_onto_the_sinogram_file(work):
    out = work / "OUT"
    out.mkdir()
    theta = np.linspace(0, 180, 40, endpoint=False)
    with h5py.File(out / "tomogram_half1.h5", "w") as h5:
        h5["sinogram"] = np.ones((32, 40), np.float32)
        h5["theta"] = theta
    before = _digests(work)
    proc = run("split", "OUT/tomogram_half1.h5:/sinogram", "--tomograms", "h5", "--out", "OUT", cwd=work,
               expect=2)
    _refused(proc, "map OUT/tomogram_half1.h5", "sinogram OUT/tomogram_half1.h5")
    assert _digests(work) == before


def test_report_onto_the_json_of_the_same_run(work):
    before = _digests(work)
    proc = run("fsc", "A.tif", "B.tif", "--report", "OUT/fsc.json", "--out", "OUT", cwd=work, expect=2)
    line = _refused(proc, "JSON OUT/fsc.json", "--report OUT/fsc.json")
    assert "same file" in line
    assert not (work / "OUT").exists() and _digests(work) == before


def test_report_onto_a_figure_through_a_symlinked_folder(work):
    (work / "OUT").mkdir()
    os.symlink(work / "OUT", work / "VIA")
    proc = run("fsc", "A.tif", "B.tif", "--out", "OUT", "--report", "VIA/FSC_2D.png", cwd=work, expect=2)
    _refused(proc, "figure OUT/FSC_2D.png", "--report VIA/FSC_2D.png")
    assert list((work / "OUT").iterdir()) == []


def test_mask_and_pairs_file_are_inputs_too(work):
    write_image(work / "mask.tif", np.ones((64, 64), np.float32))
    (work / "pairs.txt").write_text("A.tif B.tif\n")
    before = _digests(work)
    proc = run("fsc", "A.tif", "B.tif", "--mask", "mask.tif", "--report", "mask.tif", cwd=work, expect=2)
    _refused(proc, "--report mask.tif", "--mask mask.tif")
    proc = run("fsc", "--pairs", "pairs.txt", "--report", "pairs.txt", cwd=work, expect=2)
    _refused(proc, "--report pairs.txt", "--pairs pairs.txt")
    assert _digests(work) == before


def test_clean_run_writes_exactly_the_planned_files_and_no_lock(work):
    proc = run("fsc", "A.tif", "B.tif", "--out", "OUT", "--report", "OUT/report.html", cwd=work)
    assert proc.stderr == ""
    assert sorted(p.name for p in (work / "OUT").iterdir()) == ["FSC_2D.png", "fsc.json", "report.html"]
    doc = json.loads((work / "OUT" / "fsc.json").read_text())
    assert doc["runs"][0]["figures"] == ["FSC_2D.png"]


# ----------------------------------------------------------------------------- failed runs leave nothing

def _main(args, monkeypatch, capsys):
    """Run the command line in this process (so a writer can be replaced); exit code and stderr."""
    from toupy.resolution.cli import main

    monkeypatch.setenv("TOUPY_RESOLUTION_PROGRESS", "0")
    with pytest.raises(SystemExit) as stop:
        main(args=[str(a) for a in args])
    return stop.value.code, capsys.readouterr().err


def _full_disk(real, victim: str):
    """``real`` that raises ENOSPC for the file named ``victim`` (others are written)."""

    def write(path, *args, **kwargs):
        if Path(path).name == victim:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, *args, **kwargs)

    return write


def test_full_disk_removes_the_files_and_the_folder_it_created(work, monkeypatch, capsys):
    import toupy.resolution._cli_common as common

    monkeypatch.chdir(work)
    before = _digests(work)
    monkeypatch.setattr(common, "_write_bytes", _full_disk(common._write_bytes, "fsc.json"))
    code, err = _main(["fsc", "A.tif", "B.tif", "--out", "new/OUT"], monkeypatch, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "new/OUT/fsc.json" in lines[0] and "disk is full" in lines[0], err
    # the figure written before the JSON is gone, and so are both folders the run created
    assert not (work / "new").exists()
    assert _digests(work) == before


def test_full_disk_on_a_map_keeps_an_existing_folder_as_it_was(work, monkeypatch, capsys):
    import toupy.resolution.io

    monkeypatch.chdir(work)
    (work / "OUT").mkdir()
    (work / "OUT" / "notes.txt").write_text("mine")
    image = np.random.default_rng(5).standard_normal((48, 48)).astype(np.float32)
    write_image(work / "map.npy", image, pixel_size=PIXEL)
    before = _digests(work)
    monkeypatch.setattr(toupy.resolution.io, "write_image", _full_disk(toupy.resolution.io.write_image, "LocalResolution_map.npy"))
    code, err = _main(["localres", "map.npy", "--out", "OUT", "--sigma-noise", "1"], monkeypatch, capsys)
    assert code == 2 and "OUT/LocalResolution_map.npy" in err and "disk is full" in err, err
    assert _digests(work) == before
    assert sorted(p.name for p in (work / "OUT").iterdir()) == ["notes.txt"]


def test_full_disk_on_the_report_removes_nested_folders(work, monkeypatch, capsys):
    import toupy.resolution._report

    monkeypatch.chdir(work)
    before = _digests(work)
    real = toupy.resolution._report.write_report
    monkeypatch.setattr(toupy.resolution._report, "write_report", lambda path, *a, **k: _full_disk(real, "r.html")(path, *a, **k))
    code, err = _main(["fsc", "A.tif", "B.tif", "--out", "new/OUT", "--report", "new/OUT/sub/r.html"],
                      monkeypatch, capsys)
    assert code == 2 and "new/OUT/sub/r.html: the disk is full" in err, err
    assert not (work / "new").exists() and _digests(work) == before


def test_one_folder_under_two_names_is_locked_once(work):
    (work / "OUT").mkdir()
    os.symlink(work / "OUT", work / "VIA")
    # a second flock on the same lock file from the same process would wait forever
    proc = subprocess.run(_command() + ["fsc", "A.tif", "B.tif", "--out", "OUT", "--report", "VIA/r.html"],
                          capture_output=True, text=True, cwd=work, env=_environment(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (work / "OUT").iterdir()) == ["FSC_2D.png", "fsc.json", "r.html"]


def test_input_error_creates_no_output_folder(work):
    before = _digests(work)
    run("fsc", "A.tif", "missing.tif", "--out", "new/OUT", "--report", "new/r.html", cwd=work, expect=2)
    assert not (work / "new").exists() and _digests(work) == before


# ----------------------------------------------------------------------------- two runs, one folder

_RUNNER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import toupy.resolution._cli_common as common

    role, own, other, *args = sys.argv[1:]
    if role == "first":
        real = common._write_bytes
        def write(path, data):
            done = real(path, data)
            if Path(path).name == "fsc.json":
                # stop between the JSON and the report until the other run is about to write,
                # then give it the time to write all of its files if nothing stops it
                Path(own).touch()
                deadline = time.monotonic() + 120
                while not Path(other).exists() and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(2.0)
            return done
        common._write_bytes = write
    else:
        real_make = common._make_folder
        def make(folder):
            deadline = time.monotonic() + 120
            while not Path(other).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            Path(own).touch()
            return real_make(folder)
        common._make_folder = make
    from toupy.resolution.cli import main
    main(args=args)
""")


def test_two_runs_into_one_folder_take_turns(work):
    rng = np.random.default_rng(11)
    c, d = _pair(rng)
    write_image(work / "C.tif", c, pixel_size=PIXEL)
    write_image(work / "D.tif", d, pixel_size=PIXEL)
    first_mark, second_mark = work / "first-writing", work / "second-writing"
    common = ["--out", "OUT", "--report", "OUT/report.html"]
    spawn = [sys.executable, "-c", _RUNNER]
    first = subprocess.Popen(spawn + ["first", first_mark, second_mark, "fsc", "A.tif", "B.tif", *common],
                             cwd=work, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(spawn + ["second", second_mark, first_mark, "fsc", "C.tif", "D.tif", *common],
                              cwd=work, env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out1, err1 = first.communicate(timeout=600)
    out2, err2 = second.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    assert first_mark.exists() and second_mark.exists()
    assert err2.strip() == f"Note: waiting for another toupy-resolution run writing into {os.path.realpath(work / 'OUT')}"
    # the second run wrote after the first had finished: every file is the second run's
    doc = json.loads((work / "OUT" / "fsc.json").read_text())
    assert [i["file"] for i in doc["runs"][0]["inputs"]] == ["C.tif", "D.tif"]
    report = (work / "OUT" / "report.html").read_text()
    assert "C.tif" in report and "A.tif" not in report
    assert sorted(p.name for p in (work / "OUT").iterdir()) == ["FSC_2D.png", "fsc.json", "report.html"]


# ----------------------------------------------------------------------------- colour maps, output_dir

def test_unknown_cmap_is_a_usage_error_listing_the_choices(work):
    image = np.random.default_rng(5).standard_normal((48, 48)).astype(np.float32)
    write_image(work / "map.npy", image, pixel_size=PIXEL)
    proc = run("localres", "map.npy", "--cmap", "nosuchmap", "--out", "OUT", cwd=work, expect=2)
    line = _refused(proc, "nosuchmap")
    assert "viridis_r" in line and "magma" in line
    assert not (work / "OUT").exists()


def test_plot_functions_name_a_bad_cmap_and_a_file_as_output_dir(tmp_path):
    from toupy.resolution.FSC import FSCPlot
    from toupy.resolution._plotting import plot_resolution_map

    with pytest.raises(ValueError, match=r"cmap 'nosuchmap' is not a Matplotlib colour map; .*viridis"):
        plot_resolution_map(np.ones((8, 8)), cmap="nosuchmap")
    a, b = _pair(np.random.default_rng(1))
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match=re.escape(f"output_dir {target} is not a folder;")):
        FSCPlot(a, b).plot(output_dir=target)
    with pytest.raises(ValueError, match=re.escape(f"output_dir {target / 'below'} is not a folder ({target} is a file)")):
        FSCPlot(a, b).plot(output_dir=target / "below")
    assert target.read_text() == "not a folder"
    FSCPlot(a, b).plot(output_dir=tmp_path / "new")  # a folder that does not exist yet is made
    assert (tmp_path / "new" / "FSC_2D.png").exists()


# ----------------------------------------------------------------------------- split: the angles

def test_split_refuses_repeated_angles_and_warns_on_radians(work):
    theta = np.linspace(0, 180, 60, endpoint=False)
    t = np.arange(48) - 24
    tau = t[:, None] - 6 * np.cos(np.deg2rad(theta))[None]
    sinogram = 2 * np.sqrt(np.clip(15**2 - tau**2, 0, None))
    sinogram += 0.1 * np.random.default_rng(2).standard_normal(sinogram.shape)
    np.save(work / "sino.npy", sinogram.astype(np.float32))
    np.save(work / "radians.npy", np.deg2rad(theta))
    repeated = theta.copy()
    repeated[7] = repeated[30]
    np.save(work / "repeated.npy", repeated)
    np.savetxt(work / "same.txt", np.full(60, 12.5))
    proc = run("split", "sino.npy", "--theta", "repeated.npy", "--out", "OUT", cwd=work, expect=2)
    _refused(proc, "theta: angle 90 degrees appears twice (columns 7 and 30")
    proc = run("split", "sino.npy", "--theta", "same.txt", "--out", "OUT", cwd=work, expect=2)
    _refused(proc, "theta: all 60 angles equal 12.5 degrees")
    assert not (work / "OUT").exists()
    proc = run("split", "sino.npy", "--theta", "radians.npy", "--apod-width", "5", "--out", "OUT", cwd=work)
    assert proc.stderr.startswith("Warning: theta spans only 3.089 degrees (0 to 3.08923)")
    doc = json.loads((work / "OUT" / "split.json").read_text())
    assert doc["runs"][0]["warnings"] == [proc.stderr.strip()[len("Warning: "):]]
    proc = run("split", "sino.npy", "--theta", "0:180", "--apod-width", "5", "--json", cwd=work)
    assert proc.stderr == ""  # degrees: no warning


# ----------------------------------------------------------------------------- a user's HDF5 file is never deleted

def _dataset_digest(path: Path, name: str) -> str:
    with h5py.File(path, "r") as h5:
        return hashlib.sha256(np.ascontiguousarray(h5[name][()]).tobytes()).hexdigest()


def _disk_full_on(real, victim: str):
    """``real`` that raises toupy.resolution.io.DiskFullError for the file named ``victim``."""
    from toupy.resolution.io import DiskFullError

    def write(path, *args, **kwargs):
        if Path(path).name == victim:
            raise DiskFullError(path, "no space left on the device")
        return real(path, *args, **kwargs)

    return write


def test_failed_run_removes_only_the_map_it_added_to_an_existing_hdf5_file(work, monkeypatch, capsys):
    """The map goes into the user's OUT/LocalFSC_resmap.h5 (holding /entry/raw); the JSON then finds the
    disk full: the file stays, /entry/raw is unchanged, the added /data is gone, the error is printed as is."""
    import toupy.resolution._cli_common as common
    from toupy.resolution.io import DiskFullError

    monkeypatch.chdir(work)
    (work / "OUT").mkdir()
    target = work / "OUT" / "LocalFSC_resmap.h5"
    raw = np.random.default_rng(11).standard_normal((16, 16)).astype(np.float32)
    write_image(f"{target}:/entry/raw", raw, pixel_size=PIXEL)
    digest = _dataset_digest(target, "/entry/raw")
    monkeypatch.setattr(common, "_write_bytes", _disk_full_on(common._write_bytes, "localfsc.json"))
    code, err = _main(["localfsc", "A.tif", "B.tif", "--box-size", "16", "--map-format", "h5", "--out", "OUT"],
                      monkeypatch, capsys)
    message = str(DiskFullError(Path("OUT") / "localfsc.json", "no space left on the device"))
    assert code == 2 and err.strip().splitlines() == [f"Error: {message}"], err
    assert target.is_file()
    with h5py.File(target, "r") as h5:
        names = []
        h5.visit(names.append)
    assert sorted(names) == ["entry", "entry/raw"]
    assert _dataset_digest(target, "/entry/raw") == digest
    # the figure written before the JSON is removed: it was the run's own new file
    assert sorted(p.name for p in (work / "OUT").iterdir()) == ["LocalFSC_resmap.h5"]


def test_successful_run_adds_its_map_to_an_existing_hdf5_file(work):
    out = work / "OUT"
    out.mkdir()
    raw = np.arange(64, dtype=np.float32).reshape(8, 8)
    write_image(f"{out / 'LocalFSC_resmap.h5'}:/entry/raw", raw)
    digest = _dataset_digest(out / "LocalFSC_resmap.h5", "/entry/raw")
    run("localfsc", "A.tif", "B.tif", "--box-size", "16", "--map-format", "h5", "--out", out, cwd=work)
    with h5py.File(out / "LocalFSC_resmap.h5", "r") as h5:
        assert h5["data"].shape == (64, 64)
    assert _dataset_digest(out / "LocalFSC_resmap.h5", "/entry/raw") == digest


def test_map_into_the_hdf5_file_the_halves_come_from_is_refused(work):
    """h5py cannot open the inputs' file for writing while they are read: refused, the file named."""
    out = work / "OUT"
    out.mkdir()
    target = out / "LocalFSC_resmap.h5"
    rng = np.random.default_rng(2)
    for name, half in zip(("half1", "half2"), _pair(rng)):
        write_image(f"{target}:/entry/{name}", half, pixel_size=PIXEL)
    before = _digests(work)
    proc = run("localfsc", f"{target}:/entry/half1", f"{target}:/entry/half2", "--box-size", "16",
               "--map-format", "h5", "--out", out, cwd=work, expect=2)
    _refused(proc, str(target), "same file")
    assert _digests(work) == before


# ----------------------------------------------------------------------------- messages name files, not parameters

def test_estimator_errors_name_the_file_and_its_role(work):
    bad = np.random.default_rng(4).standard_normal((64, 64)).astype(np.float32)
    bad[3, 5] = np.nan
    np.save(work / "half2.npy", bad)
    proc = run("frc", "A.tif", "half2.npy", "--out", "OUT", cwd=work, expect=2)
    line = _refused(proc, "half2.npy (half 2): contains NaN")
    assert "img2" not in line and "img1" not in line
    assert not (work / "OUT").exists()


def test_vmin_above_vmax_is_refused_before_computing(work):
    for order in (("--vmin", "5", "--vmax", "1"), ("--vmax", "1", "--vmin", "5")):
        proc = run("localfsc", "A.tif", "B.tif", *order, "--out", "OUT", cwd=work, expect=2)
        _refused(proc, "--vmin 5 must be below --vmax 1")
    assert not (work / "OUT").exists()


# ----------------------------------------------------------------------------- defaults and records

def test_default_apod_width_is_narrowed_on_a_small_volume_and_recorded(tmp_path):
    """32³ halves: the default 20-px edge does not fit; the estimator narrows it to 32 // 4 = 8 and warns."""
    rng = np.random.default_rng(8)
    signal = rng.standard_normal((32, 32, 32))
    for name in ("v1", "v2"):
        np.save(tmp_path / f"{name}.npy", (signal + rng.standard_normal(signal.shape)).astype(np.float32))
    proc = run("fsc", "v1.npy", "v2.npy", "--json", cwd=tmp_path)
    entry = json.loads(proc.stdout)["runs"][0]
    assert entry["parameters"]["apod_width"] == 8
    narrowed = [w for w in entry["warnings"] if "apod_width" in w and "narrowed" in w]
    assert len(narrowed) == 1, entry["warnings"]
    assert narrowed[0] in " ".join(proc.stderr.split())
    # an explicit width that does not fit is still an error naming the option
    proc = run("fsc", "v1.npy", "v2.npy", "--apod-width", "20", cwd=tmp_path, expect=2)
    _refused(proc, "--apod-width")


def test_clean_default_apod_width_gives_no_warning(work):
    proc = run("frc", "A.tif", "B.tif", "--json", cwd=work)
    entry = json.loads(proc.stdout)["runs"][0]
    assert entry["parameters"]["apod_width"] == 20 and entry["warnings"] == [] and proc.stderr == ""


def test_report_and_json_record_the_command_given_to_click(work, monkeypatch, capsys):
    """In-process (as under pytest) the command is click's arguments, not the host's sys.argv."""
    import html

    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "argv", ["host-program", "--unrelated"])
    code, _ = _main(["frc", "A.tif", "B.tif", "--out", "OUT", "--report", "r.html"], monkeypatch, capsys)
    assert code == 0
    expected = "toupy-resolution frc A.tif B.tif --out OUT --report r.html"
    assert json.loads((work / "OUT" / "frc.json").read_text())["command_line"] == expected
    assert f"command: <code>{html.escape(expected)}</code>" in (work / "r.html").read_text()


def test_decorr_options_reach_the_estimator_and_the_json(work):
    """The flags give the library's numbers for the same options (its own tests check those numbers)."""
    from toupy.resolution._decorr import decorrelation_resolution

    rng = np.random.default_rng(9)
    frequencies = np.meshgrid(np.fft.fftfreq(96), np.fft.fftfreq(96), indexing="ij", sparse=True)
    blurred = np.fft.ifft2(np.fft.fft2(rng.standard_normal((96, 96)))
                           * np.exp(-2 * np.pi**2 * 2.0**2 * sum(f**2 for f in frequencies))).real
    image = (5.0 + blurred / blurred.std() + 0.3 * rng.standard_normal((96, 96))).astype(np.float32)
    np.save(work / "image.npy", image)
    options = dict(keep_mean=False, crop_first=True, spread_px=3)
    proc = run("decorr", "image.npy", "--no-keep-mean", "--crop-first", "--spread-px", "3", "--json", cwd=work)
    entry = json.loads(proc.stdout)["runs"][0]
    assert {k: entry["parameters"][k] for k in options} == options
    with warnings.catch_warnings(record=True):  # the library's warnings: compared with the JSON below
        warnings.simplefilter("always")
        reference = decorrelation_resolution(image, **options)
        plain = decorrelation_resolution(image)
    assert np.isfinite(reference.kc_max) and np.isfinite(reference.kc_spread)
    assert entry["result"]["kc_max"] == pytest.approx(reference.kc_max, rel=1e-9)
    assert entry["result"]["kc_spread"] == pytest.approx(reference.kc_spread, rel=1e-9, abs=1e-12)
    assert all(" ".join(w.split()) in entry["warnings"] for w in reference.warnings)
    default = json.loads(run("decorr", "image.npy", "--json", cwd=work).stdout)["runs"][0]
    assert {k: default["parameters"][k] for k in options} == {"keep_mean": True, "crop_first": False,
                                                               "spread_px": 2}
    assert default["result"]["kc_max"] == pytest.approx(plain.kc_max, rel=1e-9)


def test_demo_rerun_into_the_same_folder_replaces_its_files(tmp_path):
    out = tmp_path / "demo"
    first = run("demo", "--out", out, "--size", "128", "--slices", "16", cwd=tmp_path)
    runs_before = json.loads((out / "summary.json").read_text())["runs"]
    second = run("demo", "--out", out, "--size", "128", "--slices", "16", cwd=tmp_path)
    assert second.stdout == first.stdout  # seeded: the same numbers
    assert json.loads((out / "summary.json").read_text())["runs"][0]["result"] == runs_before[0]["result"]


def test_split_warns_when_the_two_tomograms_are_not_independent(tmp_path, monkeypatch, capsys):
    """Two identical tomograms (the reconstruction replaced by one returning the same slice twice): the
    FSC's "not independent" warning reaches stderr and the JSON, naming the tomograms, not img1/img2."""
    import toupy.resolution.FSCtools as tools

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(12)
    np.save(tmp_path / "sino.npy", rng.standard_normal((64, 90)).astype(np.float32))
    tomogram = rng.standard_normal((64, 64))
    monkeypatch.setattr(tools, "compute_2tomograms", lambda *a, **k: (tomogram, tomogram.copy()))
    from toupy.resolution.cli import main

    monkeypatch.setenv("TOUPY_RESOLUTION_PROGRESS", "0")
    with pytest.raises(SystemExit) as stop:
        main(args=["split", "sino.npy", "--theta", "0:180", "--json"])
    captured = capsys.readouterr()
    assert stop.value.code == 0, captured.err
    entry = json.loads(captured.out)["runs"][0]
    dependent = [w for w in entry["warnings"] if "not independent" in w]
    assert len(dependent) == 1, entry["warnings"]
    assert dependent[0].startswith("The even- and odd-angle tomograms")
    assert "img1" not in dependent[0] and dependent[0] in " ".join(captured.err.split())


def test_split_of_a_constant_sinogram_is_refused(tmp_path):
    np.save(tmp_path / "flat.npy", np.full((64, 90), 3.0, np.float32))
    proc = run("split", "flat.npy", "--theta", "0:180", "--out", "OUT", cwd=tmp_path, expect=2)
    _refused(proc, "flat.npy (sinogram): is constant")
    assert not (tmp_path / "OUT").exists()
