"""``toupy-resolution`` end to end, through a subprocess as a user runs it.

Every subcommand runs on small files made here; the test checks the files it
writes, that its JSON parses, and that its numbers are the library's numbers
for the same arrays (read independently with the format's own library).
Bad input must give exit code 2, exactly one line on stderr, no traceback,
no output file, and leave the input files untouched.

The command is the installed console script ``toupy-resolution`` when it sits
next to this Python, else ``python -m toupy.resolution.cli``: both paths run the same
``main``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

tifffile = pytest.importorskip("tifffile")
h5py = pytest.importorskip("h5py")
pytest.importorskip("click")

from toupy.resolution.io import parse_length, write_image  # noqa: E402

PIXEL = "28.6nm"


def _command() -> list[str]:
    script = Path(sys.executable).with_name("toupy-resolution")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toupy.resolution.cli"]


def run(*args, cwd, env=None, expect=0):
    environment = dict(os.environ, MPLBACKEND="Agg", TOUPY_RESOLUTION_PROGRESS="0")
    environment.pop("CI", None)
    environment.update(env or {})
    proc = subprocess.run(_command() + [str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=600)
    assert proc.returncode == expect, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return proc


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _band_limited(shape, sigma, rng):
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    envelope = np.exp(-2 * np.pi**2 * sigma**2 * sum(f**2 for f in freqs))
    signal = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * envelope).real
    return signal / signal.std()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small inputs: a 2-D TIFF pair, a 3-D HDF5 pair, a single image, a sinogram with its angles."""
    folder = tmp_path_factory.mktemp("cli-inputs")
    rng = np.random.default_rng(2024)
    pixel = parse_length(PIXEL)
    image = _band_limited((96, 96), 1.5, rng)
    pair2d = [(image + 0.5 * rng.standard_normal(image.shape)).astype(np.float32) for _ in range(2)]
    volume = _band_limited((48, 48, 48), 1.5, rng)
    pair3d = [(volume + 0.5 * rng.standard_normal(volume.shape)).astype(np.float32) for _ in range(2)]
    files = {
        "a": folder / "even.tif", "b": folder / "odd.tif",
        "va": folder / "vol_even.h5", "vb": folder / "vol_odd.h5",
    }
    write_image(files["a"], pair2d[0], pixel_size=pixel)
    write_image(files["b"], pair2d[1], pixel_size=pixel)
    write_image(files["va"], pair3d[0], pixel_size=parse_length("2.1A"))
    write_image(files["vb"], pair3d[1], pixel_size=parse_length("2.1A"))
    # a disc phantom's exact parallel projections with noise, angles next to the sinogram
    n, n_angles = 64, 100
    theta = np.linspace(0, 180, n_angles, endpoint=False)
    t = np.arange(n) - n // 2
    sinogram = np.zeros((n, n_angles))
    for radius, x0, y0, density in ((24, 0, 0, 1.0), (6, 8, -5, 0.5), (3, -10, 6, -0.6)):
        tau = t[:, None] - (x0 * np.cos(np.deg2rad(theta)) + y0 * np.sin(np.deg2rad(theta)))[None]
        sinogram += 2 * density * np.sqrt(np.clip(radius**2 - tau**2, 0, None))
    sinogram += 0.3 * rng.standard_normal(sinogram.shape)
    files["sino"] = folder / "sino.h5"
    with h5py.File(files["sino"], "w") as h5:
        h5["sinogram"] = sinogram.astype(np.float32)
        h5["sinogram"].attrs.update(pixel_size=28.6, pixel_size_units="nm")
        h5["theta"] = theta
    files["pairs"] = folder / "pairs.txt"
    files["pairs"].write_text(f"# two pairs\n{files['a'].name} {files['b'].name}\n{files['b'].name}, {files['a'].name}\n")
    return {"folder": folder, "files": files, "pair2d": pair2d, "pair3d": pair3d, "theta": theta,
            "sinogram": sinogram.astype(np.float32)}


def _doc(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _result(doc: dict, index: int = 0) -> dict:
    return doc["runs"][index]["result"]


def _close(a, b, rel=1e-7):
    """Equal to round-off: the inputs are float32 and the compiled kernels sum over threads, so
    two processes may add in another order (differences ~1e-12); a wrong parameter or unit
    changes the numbers by far more than 1e-7."""
    a = np.asarray([np.nan if v is None else v for v in np.atleast_1d(a)], dtype=float)
    b = np.asarray(b, dtype=float)
    np.testing.assert_allclose(a, b, rtol=rel, atol=0, equal_nan=True)


# ----------------------------------------------------------------------------- subcommands

def test_fsc_2d_equals_library_and_writes_outputs(data, tmp_path):
    from toupy.resolution import fsc

    f = data["files"]
    proc = run("fsc", f["a"], f["b"], "--out", tmp_path / "out", cwd=tmp_path)
    summary = proc.stdout.strip()
    assert summary.count("\n") == 0 and summary.startswith("FRC resolution:") and "nm" in summary
    doc = _doc(tmp_path / "out" / "fsc.json")
    assert (tmp_path / "out" / "FSC_2D.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    a, b = tifffile.imread(f["a"]), tifffile.imread(f["b"])
    expected = fsc(a, b, pixel_size=28.6, unit="nm")
    got = _result(doc)
    _close(got["resolution_full"], expected.resolution_full)
    _close(got["resolution_half_px"], expected.resolution_half_px)
    _close(got["fsc"], expected.fsc)
    _close(got["threshold_curve"], expected.threshold_curve)
    assert got["unit"] == "nm" and doc["runs"][0]["pixel_size"]["value"] == 28.6
    assert doc["runs"][0]["summary"] == summary
    assert doc["version"] and doc["command"] == "fsc" and doc["runs"][0]["parameters"]["threshold"] == "halfbit"
    assert [i["file"] for i in doc["runs"][0]["inputs"]] == [str(f["a"]), str(f["b"])]


def test_fsc_3d_json_on_stdout_and_pixel_size_override(data, tmp_path):
    from toupy.resolution import fsc

    f = data["files"]
    proc = run("fsc", f["va"], f["vb"], "--json", "--threshold", "onebit", "--pixel-size", "0.5um",
               "--apod-width", "10", cwd=tmp_path)
    doc = json.loads(proc.stdout)
    assert list(tmp_path.iterdir()) == []   # nothing written without --out
    with h5py.File(f["va"]) as h1, h5py.File(f["vb"]) as h2:
        expected = fsc(h1["data"][()], h2["data"][()], threshold="onebit", apod_width=10, pixel_size=0.5,
                       unit="µm")
    got = _result(doc)
    _close(got["resolution_full"], expected.resolution_full)
    _close(got["fsc"], expected.fsc)
    assert got["unit"] == "µm" and got["kind"] == "FSC"
    assert doc["runs"][0]["pixel_size"]["source"] == "--pixel-size"


def test_frc_of_a_volume_slice_and_ssnr(data, tmp_path):
    from toupy.resolution import fsc, ssnr

    f = data["files"]
    run("frc", f["va"], f["vb"], "--slice", "7", "--axis", "1", "--out", tmp_path, cwd=tmp_path)
    got = _result(_doc(tmp_path / "frc.json"))
    a, b = (x[:, 7, :] for x in data["pair3d"])
    _close(got["resolution_full"], fsc(a, b, pixel_size=2.1, unit="Å").resolution_full)
    assert (tmp_path / "FRC_2D.png").exists()
    run("ssnr", f["va"], f["vb"], "--ring-thick", "3", "--out", tmp_path, cwd=tmp_path)
    got = _result(_doc(tmp_path / "ssnr.json"))
    expected = ssnr(*data["pair3d"], ring_thick=3, pixel_size=2.1, unit="Å")
    _close(got["ssnr"], expected.ssnr)
    _close(got["resolution_full"], expected.resolution_full)
    assert (tmp_path / "SSNR_3D.png").exists()


def test_several_pairs_give_one_table(data, tmp_path):
    f = data["files"]
    proc = run("fsc", "--pairs", f["pairs"], f["va"], f["vb"], "--out", tmp_path / "o", cwd=tmp_path)
    lines = proc.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["label", "half1", "half2", "resolution_full"]
    assert len(lines) == 4
    doc = _doc(tmp_path / "o" / "fsc.json")
    assert len(doc["runs"]) == 3 and len(doc["table"]) == 3
    # arguments first, then the file's pairs; swapping the halves does not change the FSC
    assert [row["half1"] for row in doc["table"]] == [f"{f['va']}:/data", str(f["a"]), str(f["b"])]
    _close(doc["table"][1]["resolution_full"], doc["table"][2]["resolution_full"], rel=1e-6)
    csv = (tmp_path / "o" / "fsc_table.csv").read_text().splitlines()
    assert len(csv) == 4 and csv[0].startswith("label,half1,half2")
    pngs = sorted(p.name for p in (tmp_path / "o").glob("*.png"))
    assert pngs == ["even_FSC_2D.png", "odd_FSC_2D.png", "vol_even_FSC_3D.png"]


def test_randomfsc_with_mask_and_seed(data, tmp_path):
    from toupy.resolution._randomfsc import phase_randomized_fsc

    f = data["files"]
    yy, xx = np.mgrid[:96, :96] - 48
    mask = (np.hypot(yy, xx) < 36).astype(np.float32)
    write_image(tmp_path / "mask.npy", mask)
    run("randomfsc", f["a"], f["b"], "--mask", tmp_path / "mask.npy", "--seed", "5", "--out", tmp_path,
        cwd=tmp_path)
    got = _result(_doc(tmp_path / "randomfsc.json"))
    expected = phase_randomized_fsc(*data["pair2d"], mask=mask, random_seed=5, pixel_size=28.6, unit="nm")
    _close(got["fsc_rand"], expected.fsc_rand)
    _close(got["resolution_full"], expected.resolution_full)
    assert got["random_seed"] == 5 and (tmp_path / "RandomFSC.png").exists()


def test_localfsc_writes_map_with_pixel_size(data, tmp_path):
    from toupy.resolution.io import read_image
    from toupy.resolution._localfsc import local_fsc

    f = data["files"]
    run("localfsc", f["a"], f["b"], "--box-size", "32", "--threshold", "halfbit", "--out", tmp_path, cwd=tmp_path)
    doc = _doc(tmp_path / "localfsc.json")
    expected = local_fsc(*data["pair2d"], box_size=32, threshold="halfbit", pixel_size=28.6, unit="nm")
    _close(_result(doc)["resolution_median"], expected.resolution_median)
    assert doc["runs"][0]["maps"] == ["LocalFSC_resmap.tif"]
    with read_image(tmp_path / "LocalFSC_resmap.tif") as resmap:
        np.testing.assert_array_equal(resmap.read(), expected.resolution_map)
        assert str(resmap.pixel_size) == "28.6 nm"
    assert (tmp_path / "LocalFSC_resmap.png").exists()


def test_localres_and_decorr_single_images(data, tmp_path):
    from toupy.resolution._decorr import decorrelation_resolution
    from toupy.resolution._localres import local_resolution

    f = data["files"]
    run("localres", f["a"], "--sigma-noise", "0.5", "--map-format", "npy", "--out", tmp_path, cwd=tmp_path)
    got = _result(_doc(tmp_path / "localres.json"))
    expected = local_resolution(data["pair2d"][0], sigma_noise=0.5, pixel_size=28.6, unit="nm")
    _close(got["resolution_median"], expected.resolution_median)
    np.testing.assert_array_equal(np.load(tmp_path / "LocalResolution_map.npy"), expected.resolution_map)
    assert json.loads((tmp_path / "LocalResolution_map.npy.json").read_text())["pixel_size"]["unit"] == "nm"

    proc = run("decorr", f["a"], "--json", cwd=tmp_path)
    got = _result(json.loads(proc.stdout))
    expected = decorrelation_resolution(data["pair2d"][0], pixel_size=28.6, unit="nm")
    _close(got["resolution"], expected.resolution)
    _close(got["kc_max"], expected.kc_max)


def test_split_reconstructs_and_correlates(data, tmp_path):
    from toupy.resolution import fsc
    from toupy.resolution.FSCtools import compute_2tomograms

    f = data["files"]
    proc = run("split", f"{f['sino']}:/sinogram", "--tomograms", "h5", "--out", tmp_path, cwd=tmp_path)
    assert proc.stdout.startswith("FRC resolution")
    doc = _doc(tmp_path / "split.json")
    recon1, recon2 = compute_2tomograms(data["sinogram"], data["theta"])
    expected = fsc(recon1, recon2, pixel_size=28.6, unit="nm")
    _close(_result(doc)["resolution_full"], expected.resolution_full, rel=1e-6)
    assert doc["runs"][0]["parameters"]["theta"].endswith("sino.h5:/theta")
    with h5py.File(tmp_path / "tomogram_half1.h5") as h5:
        np.testing.assert_allclose(h5["data"][()], recon1, rtol=1e-5, atol=1e-6)
    # evenly spaced angles given on the command line: the same numbers
    proc = run("split", f"{f['sino']}:/sinogram", "--theta", "0:180", "--json", cwd=tmp_path)
    _close(_result(json.loads(proc.stdout))["resolution_full"], expected.resolution_full, rel=1e-6)


def test_mtf_edge_and_point(tmp_path):
    from scipy.special import ndtr

    from toupy.resolution._mtf_edge import mtf_slanted_edge
    from toupy.resolution._mtf_point import mtf_point_source

    sigma = 1.5
    rows, cols = np.mgrid[:100, :64]
    angle = np.deg2rad(5.0)
    distance = (cols - 32) * np.cos(angle) - (rows - 50) * np.sin(angle)
    edge = (0.1 + 0.8 * ndtr(distance / sigma)).astype(np.float32)
    write_image(tmp_path / "edge.tif", edge, pixel_size=parse_length("0.65um"))
    run("mtf", "edge.tif", "--out", tmp_path, cwd=tmp_path)
    got = _result(_doc(tmp_path / "mtf.json"))
    expected = mtf_slanted_edge(edge, pixel_size=0.65, unit="µm")
    _close(got["f50"], expected.f50)
    _close(got["resolution_50"], expected.resolution_50)
    # and the analytic answer of a Gaussian edge, f50 = 0.18739 / sigma (ISO-style estimate: 1 %)
    assert got["f50"] == pytest.approx(0.18739 / sigma, rel=0.01)
    assert (tmp_path / "MTF_edge.png").exists()

    spot = np.exp(-((rows[:64] - 30.3) ** 2 + (cols[:64] - 33.6) ** 2) / (2 * sigma**2))
    stack = np.stack([np.zeros_like(spot), spot, 2 * spot]).astype(np.float32)
    np.save(tmp_path / "spots.npy", stack)
    proc = run("mtf", "spots.npy", "--method", "point", "--slice", "1", "--roi-size", "12", "--json", cwd=tmp_path)
    got = _result(json.loads(proc.stdout))
    expected = mtf_point_source(stack[1], roi_size=12)
    _close(got["f50"], expected.f50)
    assert got["f50"] == pytest.approx(0.18739 / sigma, rel=0.01)
    assert got["unit"] == "px"


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.sources.append(attrs.get("src", ""))
        if tag in ("link", "script") or (tag == "a" and attrs.get("href", "").startswith("http")):
            self.links.append(tag)


def _check_report(path: Path, n_images: int) -> str:
    text = path.read_text(encoding="utf-8")
    parser = _Images()
    parser.feed(text)
    assert parser.links == []   # self-contained: no stylesheet, script or remote link
    assert len(parser.sources) == n_images
    for source in parser.sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1])[:4] == b"\x89PNG"
    return text


def test_report_is_self_contained(data, tmp_path):
    f = data["files"]
    run("fsc", f["a"], f["b"], f["va"], f["vb"], "--report", tmp_path / "r.html", cwd=tmp_path)
    text = _check_report(tmp_path / "r.html", 2)
    assert "even.tif" in text and "vol_even.h5" in text and "resolution_full" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_demo_writes_everything(tmp_path):
    proc = run("demo", "--out", tmp_path / "demo", cwd=tmp_path, env={"CI": "true"})
    out = tmp_path / "demo"
    expected = ["FSC_3D.png", "FRC_2D.png", "SSNR_3D.png", "RandomFSC.png", "LocalFSC_resmap.png",
                "ImageDecorr.png", "LocalResolution_map.png", "MTF_point.png"]
    for name in expected:
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name
    summary = _doc(out / "summary.json")
    assert len(summary["runs"]) == len(expected)
    for name in ("fsc", "frc", "ssnr", "randomfsc", "localfsc", "decorr", "localres", "mtf"):
        assert _doc(out / f"{name}.json")["runs"][0]["result"]
    _check_report(out / "report.html", len(expected))
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == len(expected) and lines[0].startswith("FSC")
    fsc_run = _doc(out / "fsc.json")["runs"][0]
    # a real resolution, not a Nyquist-limited or missing one, in nm
    assert fsc_run["result"]["nyquist_limited"] is False and 2.0 < fsc_run["result"]["resolution_full_px"] < 10
    # the demo's files are inputs of the command line and give the same numbers
    again = run("fsc", out / "data" / "tomogram_even.tif", out / "data" / "tomogram_odd.tif",
                "--apod-width", str(fsc_run["parameters"]["apod_width"]), "--json", cwd=tmp_path)
    _close(_result(json.loads(again.stdout))["resolution_full"], fsc_run["result"]["resolution_full"])


# ----------------------------------------------------------------------------- bad input

def _bad_inputs(data, tmp_path):
    f = data["files"]
    broken = tmp_path / "broken"
    broken.mkdir()
    raw = f["a"].read_bytes()
    (broken / "trunc.tif").write_bytes(raw[: len(raw) // 2])
    (broken / "garbage.tif").write_bytes(b"not a tiff " * 50)
    h5raw = f["va"].read_bytes()
    (broken / "trunc.h5").write_bytes(h5raw[: len(h5raw) // 2])
    import mrcfile

    with mrcfile.new(broken / "vol.mrc") as mrc:
        mrc.set_data(data["pair3d"][0])
    mraw = (broken / "vol.mrc").read_bytes()
    (broken / "trunc.mrc").write_bytes(mraw[: len(mraw) // 2])
    (broken / "x.xyz").write_bytes(b"1234")
    (broken / "file").write_text("a file, not a folder")
    return broken, [
        (["fsc", broken / "missing.tif", f["b"]], "missing.tif"),
        (["fsc", broken / "x.xyz", f["b"]], "x.xyz"),
        (["fsc", f"{f['va']}:/nothere", f["vb"]], "/nothere"),
        (["fsc", f"{f['sino']}:/", f["vb"]], "sino.h5"),
        (["fsc", broken / "trunc.tif", f["b"]], "trunc.tif"),
        (["fsc", broken / "garbage.tif", f["b"]], "garbage.tif"),
        (["fsc", broken / "trunc.h5", f["vb"]], "trunc.h5"),
        (["fsc", broken / "trunc.mrc", f["vb"]], "trunc.mrc"),
        (["fsc", f["a"], f["va"]], "differ in shape"),
        (["fsc", f["a"], f["b"], "--pixel-size", "28.6"], "--pixel-size"),
        (["fsc", f["a"], f["b"], "--pixel-size", "3 parsecs"], "--pixel-size"),
        (["localres", f["a"], "--pixel-size", "abc"], "--pixel-size"),
        (["fsc", f["a"], f["b"], "--out", broken / "file" / "sub"], "--out"),
        (["frc", f["va"], f["vb"]], "--slice"),
        (["split", f"{f['sino']}:/sinogram", "--theta", broken / "missing.npy"], "--theta"),
        (["fsc", f["a"]], "pairs of 2 files"),
        (["mtf", f["va"]], "--slice"),
        (["mtf", f["a"], "--roi", "1:2:3"], "--roi"),
    ]


def test_bad_input_exit_2_one_line_no_output(data, tmp_path):
    broken, cases = _bad_inputs(data, tmp_path)
    inputs = [p for p in data["files"].values() if p.is_file()] + [p for p in broken.iterdir() if p.is_file()]
    before = {p: _digest(p) for p in inputs}
    out = tmp_path / "out"
    for args, named in cases:
        has_out = "--out" in [str(a) for a in args]
        proc = run(*args, *([] if has_out else ["--out", out]), cwd=tmp_path, expect=2)
        message = proc.stderr.strip()
        assert message.count("\n") == 0, f"{args}: {message}"
        assert message.startswith("Error: ") and named in message, f"{args}: {message}"
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        assert not out.exists(), f"{args} left output behind"
    assert {p: _digest(p) for p in inputs} == before


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_unwritable_output_folder(data, tmp_path):
    f = data["files"]
    target = "/proc/toupy-resolution-test" if os.geteuid() == 0 else tmp_path / "ro" / "out"
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o500)
    try:
        proc = run("fsc", f["a"], f["b"], "--out", target, cwd=tmp_path, expect=2)
    finally:
        if os.geteuid() != 0:
            os.chmod(tmp_path / "ro", 0o700)
    assert re.fullmatch(r"Error: --out \S+: not writable \(.*\)", proc.stderr.strip())


def test_fsc_on_a_running_dask_scheduler(data, tmp_path):
    """--dask-scheduler sends the work to a cluster; the numbers equal the library call."""
    distributed = pytest.importorskip("distributed")
    from toupy.resolution import fsc

    files = data["files"]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                                  dashboard_address=":0") as cluster:
        proc = run("fsc", files["va"], files["vb"], "--dask-scheduler", cluster.scheduler_address,
                   "--json", cwd=tmp_path)
    run_record = json.loads(proc.stdout)["runs"][0]
    want = fsc(*data["pair3d"], pixel_size=2.1e-10)
    assert run_record["parameters"]["dask_scheduler"] == cluster.scheduler_address
    assert run_record["result"]["fn_res_cpx"] == pytest.approx(want.fn_res_cpx, rel=1e-7)


def test_fsc_out_of_core_from_the_command_line(data, tmp_path):
    """--memory-limit with --tmp-dir streams the volumes through a temporary file in that
    folder (left empty afterwards); the curve equals the in-memory library call to the
    float32 round-off of the spectra on disk. An unusable --tmp-dir is a one-line error."""
    from toupy.resolution import fsc

    files = data["files"]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = run("fsc", files["va"], files["vb"], "--memory-limit", "1MB", "--tmp-dir", scratch, "--json",
               cwd=tmp_path)
    run_record = json.loads(proc.stdout)["runs"][0]
    want = fsc(*data["pair3d"], pixel_size=2.1e-10)
    assert run_record["parameters"]["memory_limit"] in ("1MB", 1e6, 1000000)
    np.testing.assert_allclose(run_record["result"]["fsc"][1:], want.fsc[1:], atol=1e-5)
    assert os.listdir(scratch) == []
    proc = run("fsc", files["va"], files["vb"], "--memory-limit", "1MB", "--tmp-dir", tmp_path / "missing",
               cwd=tmp_path, expect=2)
    assert "--tmp-dir" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_unreachable_dask_scheduler_is_a_one_line_error(data, tmp_path):
    pytest.importorskip("distributed")
    files = data["files"]
    proc = run("fsc", files["va"], files["vb"], "--dask-scheduler", "tcp://127.0.0.1:9", cwd=tmp_path,
               expect=2)
    assert "--dask-scheduler" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
