"""Hostile input, through the API and the command line, on small generated data.

Every case ends in one of two ways: a correct result (for byte-swapped
inputs: the same numbers as in native order), or a refusal: ``ValueError`` /
``TypeError`` from the API, exit code 2 from ``toupy-resolution``, with a
one-line message that names the file or the parameter at fault. Every input
file is hashed before and after the run; the output folder and the
temporary folder must hold no leftovers (a refused command writes nothing).

The command line runs in-process through click's ``CliRunner``; a handful of
cases (forged headers that claim terabytes, the exit code as a shell sees it)
run in a subprocess with limits on memory, file size and time.
"""

from __future__ import annotations

import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("click")
tifffile = pytest.importorskip("tifffile")
h5py = pytest.importorskip("h5py")
mrcfile = pytest.importorskip("mrcfile")
pytest.importorskip("fabio")

from click.testing import CliRunner  # noqa: E402

import _hostile_cases as hc  # noqa: E402
from toupy.resolution.cli import main  # noqa: E402
from toupy.resolution.io import FileFormatError, read_image, write_image  # noqa: E402
from toupy.resolution import ResolutionWarning  # noqa: E402

ESTIMATORS = hc.estimators()
PAIRS = [name for name, e in ESTIMATORS.items() if e.arity == 2]
SINGLES = [name for name, e in ESTIMATORS.items() if e.arity == 1]


# =========================================================================== API: hostile arrays

def _hostile(kind: str, arrays: tuple) -> tuple[tuple, str]:
    """``arrays`` made hostile in one way, and which parameters the refusal must name ('first',
    'last', 'any' or 'all')."""
    first, *rest = arrays
    if kind == "nan":
        bad = first.astype(np.float64)
        bad[3, 5] = np.nan
        return (bad, *rest), "first"
    if kind == "inf":
        bad = np.array(arrays[-1], dtype=np.float64)
        bad[(7,) * bad.ndim] = np.inf
        return (*arrays[:-1], bad), "last"
    if kind == "constant":
        return tuple(np.full_like(a, 1.5) for a in arrays), "any"
    if kind == "empty":
        return tuple(np.zeros((0, hc.SIDE), np.float32) for _ in arrays), "any"
    if kind == "one_d":
        return tuple(np.ravel(a) for a in arrays), "any"
    if kind == "four_d":
        return tuple(np.reshape(a, (2, 2) + (a.size // 4,) if a.ndim == 1 else (2, 2, -1, a.shape[-1]))
                     for a in arrays), "any"
    if kind == "mismatched":
        return (first, rest[0][..., : rest[0].shape[-1] // 2]), "all"
    if kind == "string":
        return ("half1.tif", *rest), "first"
    if kind == "none":
        return (None, *rest), "first"
    if kind == "object_dtype":
        return (first.astype(object), *rest), "first"
    raise AssertionError(kind)


PAIR_KINDS = ["nan", "inf", "constant", "empty", "one_d", "four_d", "mismatched", "string", "none",
              "object_dtype"]
SINGLE_KINDS = [k for k in PAIR_KINDS if k != "mismatched"]
TYPE_KINDS = {"string", "none", "object_dtype"}


def _names(estimator, which: str):
    params = estimator.parameters
    return {"first": params[:1], "last": params[-1:], "any": params, "all": params}[which]


@pytest.mark.parametrize(
    "name, kind",
    [(n, k) for n in PAIRS for k in PAIR_KINDS] + [(n, k) for n in SINGLES for k in SINGLE_KINDS],
)
def test_api_refuses_hostile_arrays(name, kind):
    """NaN, inf, constant, empty, 1-D, 4-D, mismatched or non-numeric input: a one-line refusal
    naming the parameter (TypeError for what is not an array of numbers, ValueError otherwise)."""
    estimator = ESTIMATORS[name]
    arrays, which = _hostile(kind, estimator.inputs())
    outcome = hc.call(estimator, *arrays)
    expected = ("TypeError", "ValueError") if kind in TYPE_KINDS else ("ValueError",)
    hc.assert_refused(outcome, kinds=expected)
    names = _names(estimator, which)
    if which == "all":
        hc.assert_one_line_naming(outcome.message, *names)
    else:
        assert hc.names_a_parameter(outcome.message, names), f"names none of {names}: {outcome!r}"


# =========================================================================== API: byte order

@pytest.mark.parametrize("dtype", [">f4", ">f8", ">c8"])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_api_big_endian_equals_native(name, dtype):
    """>f4, >f8, >c8 arrays through every estimator give what native arrays give."""
    estimator = ESTIMATORS[name]
    clean = estimator.inputs()
    native = hc.call(estimator, *[a.astype(np.dtype(dtype).newbyteorder("=")) for a in clean])
    swapped = hc.call(estimator, *[a.astype(dtype) for a in clean])
    hc.assert_same_outcome(native, swapped)


@pytest.mark.parametrize("name", PAIRS)
def test_api_big_little_pair_equals_native(name):
    """One half big-endian, the other little-endian: the native result."""
    estimator = ESTIMATORS[name]
    first, second = estimator.inputs()
    native = hc.call(estimator, first, second)
    mixed = hc.call(estimator, hc.byteswapped(first, ">"), hc.byteswapped(second, "<"))
    assert native.kind == "result", native
    hc.assert_same_outcome(native, mixed)


# =========================================================================== API: parameters, warnings

MASKED = ["fsc", "frc", "ssnr", "randomfsc", "localfsc", "localres"]
SHELLED = ["fsc", "frc", "ssnr", "randomfsc"]


@pytest.mark.parametrize("name", MASKED)
def test_api_negative_mask_is_refused(name):
    estimator = ESTIMATORS[name]
    clean = estimator.inputs()
    outcome = hc.call(estimator, *clean, mask=-np.ones(clean[0].shape, np.float32))
    hc.assert_refused(outcome, "mask", kinds=("ValueError",))


@pytest.mark.parametrize("name", SHELLED)
def test_api_ring_thick_beyond_the_shells_is_refused(name):
    """ring_thick >= the number of shells (17 for a 32-px image, 9 for 16^3) pools everything."""
    estimator = ESTIMATORS[name]
    clean = estimator.inputs()
    from toupy.resolution import fsc

    shells = len(fsc(*clean[:2], apod_width=hc.APOD).fsc)
    outcome = hc.call(estimator, *clean, ring_thick=shells)
    hc.assert_refused(outcome, "ring_thick", kinds=("ValueError",))


@pytest.mark.parametrize("relation", ["identical", "affine"])
@pytest.mark.parametrize("name", ["fsc", "frc", "ssnr", "randomfsc", "localfsc"])
def test_api_identical_or_affine_halves_warn(name, relation):
    """Halves that are the same data, (a, a) or (a, 3a + 1), are not independent: a ResolutionWarning.

    randomfsc may refuse instead (its FSC never drops below fsc_cutoff, so no shell can be
    randomised), if the refusal says that the halves are not independent.
    """
    estimator = ESTIMATORS[name]
    first, _ = estimator.inputs()
    second = first.copy() if relation == "identical" else 3 * first + 1
    outcome = hc.call(estimator, first, second)
    if name == "randomfsc" and outcome.kind == "ValueError":
        hc.assert_one_line_naming(outcome.message, "fsc_cutoff", "independent")
        return
    assert outcome.kind == "result", outcome
    assert any(issubclass(c, ResolutionWarning) for c in outcome.categories), (
        f"no ResolutionWarning for {relation} halves: {outcome!r}")


def test_api_default_fsc_on_32_cubed_fits_apod_width():
    """fsc(a, b) with the defaults on a 32^3 pair works and says that apod_width was fitted."""
    from toupy.resolution import fsc

    first, second = hc.halves((32, 32, 32))
    outcome = hc.call(fsc, first, second)
    assert outcome.kind == "result", outcome
    assert any("apod_width" in w for w in outcome.warnings), outcome
    reference = fsc(first, second, apod_width=8)
    assert outcome.value.resolution_full is not None
    assert abs(outcome.value.resolution_full - reference.resolution_full) < 0.5 * reference.resolution_full


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_api_clean_input_gives_a_result_and_no_warning(name):
    """The control: the clean small inputs of this suite are accepted without a warning."""
    estimator = ESTIMATORS[name]
    outcome = hc.call(estimator, *estimator.inputs())
    assert outcome.kind == "result", outcome
    assert outcome.warnings == (), outcome


# =========================================================================== readers

DAMAGES = ["truncated_header", "truncated_data", "empty", "bad_signature", "forged_huge", "garbage"]


def damage(path: Path, how: str) -> None:
    if how == "truncated_header":
        hc.truncate(path, hc.header_size(path) // 2)
    elif how == "truncated_data":
        hc.truncate(path, (hc.header_size(path) + path.stat().st_size) // 2)
    elif how == "empty":
        hc.truncate(path, 0)
    elif how == "bad_signature":
        hc.corrupt_magic(path)
    elif how == "forged_huge":
        hc.forge_huge(path)
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(5).bytes(path.stat().st_size))
    else:
        raise AssertionError(how)


def damaged_file(folder: Path, fmt: str, how: str, name: str = "damaged") -> str:
    spec = hc.write_file(folder / f"{name}{hc.EXTENSIONS[fmt]}", hc.halves()[0])
    damage(hc.file_of(spec), how)
    return spec


def _read_all(spec):
    with read_image(spec) as image:
        return image.read()


@pytest.mark.parametrize("how", DAMAGES)
@pytest.mark.parametrize("fmt", list(hc.EXTENSIONS))
def test_reader_refuses_damaged_files(tmp_path, fmt, how):
    """Truncated, emptied, unsigned, forged or random files: FileFormatError naming the file,
    the file unchanged and nothing left beside it."""
    spec = damaged_file(tmp_path, fmt, how)
    before = hc.digests(tmp_path)
    outcome = hc.call(_read_all, spec)
    hc.assert_refused(outcome, hc.file_of(spec).name, kinds=("ValueError",))
    assert hc.digests(tmp_path) == before


@pytest.mark.parametrize("fmt, dtype", [(f, d) for f in hc.BIG_ENDIAN_FORMATS for d in (">f4", ">f8", ">c8", "<f4")
                                         if not (f == "mrc" and d == ">f8")])  # MRC has no float64 mode
def test_reader_reads_either_byte_order(tmp_path, fmt, dtype):
    """Big-endian TIFF/MRC/HDF5/NPY give the values written."""
    values = hc.halves()[0].astype(np.dtype(dtype).newbyteorder("="))
    if np.dtype(dtype).kind == "c":
        values = values + 1j * values[::-1]
    path = tmp_path / f"map{hc.EXTENSIONS[fmt]}"
    spec = hc.write_file(path, values.astype(values.dtype.newbyteorder(dtype[0])))
    outcome = hc.call(_read_all, spec)
    assert outcome.kind == "result", outcome
    np.testing.assert_array_equal(outcome.value, values)


def test_hdf5_write_into_an_existing_file_keeps_other_datasets(tmp_path):
    """write_image('scan.h5:/entry/resmap', m) adds the map; /entry/raw stays as it was."""
    scan = tmp_path / "scan.h5"
    raw = hc.halves()[0]
    with h5py.File(scan, "w") as h5:
        h5.create_dataset("entry/raw", data=raw)
    resmap = np.full((8, 8), 3.0, np.float32)
    outcome = hc.call(write_image, f"{scan}:/entry/resmap", resmap)
    assert outcome.kind == "result", outcome
    with h5py.File(scan, "r") as h5:
        assert sorted(h5["entry"]) == ["raw", "resmap"]
        np.testing.assert_array_equal(h5["entry/raw"][()], raw)
        np.testing.assert_array_equal(h5["entry/resmap"][()], resmap)
    assert hc.temporary_names(hc.listing(tmp_path)) == []


def test_mrc_with_zero_machine_stamp_is_read_with_a_warning(tmp_path):
    path = tmp_path / "old.mrc"
    values = hc.halves()[0]
    hc.write_file(path, values)
    hc.zero_machine_stamp(path)
    before = hc.digest(path)
    outcome = hc.call(_read_all, path)
    assert outcome.kind == "result", outcome
    np.testing.assert_array_equal(outcome.value, values)
    assert any("old.mrc" in w for w in outcome.warnings), f"no warning naming the file: {outcome!r}"
    assert hc.digest(path) == before


# =========================================================================== command line: harness

class Box:
    """A working folder for one command: inputs in ``in/``, outputs in ``OUT``, temporary files in ``tmp/``.

    ``run`` invokes the command in-process with the working folder as current
    directory and ``tmp/`` as the temporary folder; ``refused`` and ``done``
    check the outcome, the inputs' hashes and the leftovers.
    """

    def __init__(self, root: Path, monkeypatch):
        self.root = root
        self.inputs = root / "in"
        self.out = root / "OUT"
        self.tmp = root / "tmp"
        self.inputs.mkdir()
        self.tmp.mkdir()
        monkeypatch.chdir(root)
        monkeypatch.setattr(tempfile, "tempdir", str(self.tmp))
        monkeypatch.setenv("TMPDIR", str(self.tmp))
        self._before: dict | None = None

    def add(self, name: str, array, *, byteorder: str = "=") -> str:
        """Write an input (relative spec ``in/name``, ``in/name:/data`` for HDF5)."""
        spec = hc.write_file(self.inputs / name, array, byteorder=byteorder)
        return os.path.relpath(hc.file_of(spec), self.root) + (":/data" if ":/" in spec else "")

    def standard_inputs(self) -> dict:
        """A 2-D pair, a noisier 2-D pair, a 3-D pair, an image with a sample, an edge, a sinogram."""
        first, second = hc.halves()
        noisy1, noisy2 = hc.halves(noise=1.5)
        vol1, vol2 = hc.halves(hc.VOLUME)
        rng = np.random.default_rng(9)
        return {
            "A": self.add("A.tif", first), "B": self.add("B.tif", second),
            "R1": self.add("R1.tif", noisy1), "R2": self.add("R2.tif", noisy2),
            "V1": self.add("V1.h5", vol1), "V2": self.add("V2.h5", vol2),
            "S": self.add("S.tif", hc.sample_image()), "E": self.add("E.tif", hc.edge_image()),
            "SINO": self.add("sino.npy", _sinogram()),
            "SMALL": self.add("small.tif", first[:16, :16]),
            "NEG2": self.add("neg2.npy", -np.ones((hc.SIDE, hc.SIDE), np.float32)),
            "NEG3": self.add("neg3.npy", -np.ones(hc.VOLUME, np.float32)),
            "THETA10": self.add("theta10.npy", np.linspace(0, 180, 10)),
            "NOISE": self.add("noise.tif", rng.standard_normal((hc.SIDE, hc.SIDE)).astype(np.float32)),
        }

    def snapshot(self) -> None:
        self._before = self._state()

    def _state(self) -> dict:
        return {name: digest for name, digest in hc.digests(self.root).items() if not name.startswith("tmp")}

    def run(self, *args):
        if self._before is None:
            self.snapshot()
        runner = CliRunner()
        return runner.invoke(main, [str(a) for a in args], env=hc.set_env_for_cli(), catch_exceptions=True)

    def refused(self, result, *names: str) -> str:
        """Exit 2, one line on stderr naming ``names``, nothing written, nothing changed."""
        stderr = result.stderr.strip()
        assert result.exit_code == 2, _describe(result)
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"stderr is not one line: {stderr!r}"
        hc.assert_one_line_naming(lines[0], *names)
        assert self._state() == self._before, "the files changed: " + _diff(self._before, self._state())
        self._no_temporaries()
        return lines[0]

    def done(self, result) -> None:
        """Exit 0; inputs unchanged; new files only in OUT, none temporary."""
        assert result.exit_code == 0, _describe(result)
        after = self._state()
        changed = [n for n, d in self._before.items() if after.get(n) != d]
        assert not changed, f"inputs changed or vanished: {changed}"
        new = sorted(set(after) - set(self._before))
        assert all(n.startswith("OUT") for n in new), f"files written outside OUT: {new}"
        assert hc.temporary_names(hc.listing(self.out)) == []
        self._no_temporaries()

    def _no_temporaries(self) -> None:
        left = sorted(hc.listing(self.tmp))
        assert not left, f"left in the temporary folder: {left}"
        assert hc.temporary_names(hc.listing(self.out)) == [], hc.listing(self.out)


def _describe(result) -> str:
    text = f"exit {result.exit_code}; stdout {result.stdout[-400:]!r}; stderr {result.stderr[-600:]!r}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"; exception {type(result.exception).__name__}: {result.exception}"
    return text


def _diff(before: dict, after: dict) -> str:
    names = sorted(set(before) | set(after))
    return ", ".join(n for n in names if before.get(n) != after.get(n))


@functools.lru_cache(maxsize=None)
def _cached_sinogram(seed: int, detector: int, angles: int) -> np.ndarray:
    return _project(seed, detector, angles)


def _sinogram(seed: int = 0, *, detector: int = hc.SIDE, angles: int = 90) -> np.ndarray:
    return _cached_sinogram(seed, detector, angles).copy()


def _project(seed: int, detector: int, angles: int) -> np.ndarray:
    """Parallel projections of a smooth random object over 0..180 degrees, with a little noise."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    image = hc.band_limited((detector, detector), sigma=2.0, seed=seed)
    image *= np.hypot(*np.meshgrid(*(np.arange(detector) - detector / 2,) * 2)) < detector / 3
    theta = np.linspace(0, 180, angles, endpoint=False)
    columns = [ndimage.rotate(image, -t, reshape=False, order=1).sum(axis=0) for t in theta]
    return (np.stack(columns, axis=1) + 0.1 * rng.standard_normal((detector, angles))).astype(np.float32)


@pytest.fixture
def box(tmp_path, monkeypatch):
    return Box(tmp_path, monkeypatch)


# =========================================================================== command line: damaged files

CLI_DAMAGES = [d for d in DAMAGES if d != "forged_huge"]  # forged: in a subprocess with limits, below


@pytest.mark.parametrize("how", CLI_DAMAGES)
@pytest.mark.parametrize("fmt", list(hc.EXTENSIONS))
def test_cli_refuses_damaged_files(box, fmt, how):
    good = box.add("good.tif", hc.halves()[1])
    bad = os.path.relpath(hc.file_of(damaged_file(box.inputs, fmt, how)), box.root)
    spec = bad + (":/data" if fmt == "hdf5" else "")
    box.refused(box.run("frc", good, spec, "--apod-width", hc.APOD, "--out", "OUT"), Path(bad).name)


# =========================================================================== command line: hostile content

CLI_CONTENT = {  # a subcommand, the input keys its run takes, and the options that suit 32-px images
    "frc": ("A", "B"), "ssnr": ("A", "B"), "randomfsc": ("R1", "R2"), "localfsc": ("A", "B"),
    "localres": ("S",), "decorr": ("S",), "mtf": ("E",), "split": ("SINO",),
}
CLI_KINDS = ["nan", "inf", "constant", "one_d", "four_d", "empty", "mismatched"]


def _hostile_files(box: Box, command: str, kind: str) -> tuple[list[str], list[str]]:
    """The run's inputs with one made hostile (as NPY files); returns the specs and the names to expect."""
    inputs = box.standard_inputs()
    keys = CLI_CONTENT[command]
    arrays = []
    for key in keys:
        with read_image(inputs[key]) as image:
            arrays.append(image.read().astype(np.float32))
    hostile, which = _hostile(kind, tuple(arrays))
    specs = [box.add(f"{kind}_{index}.npy", np.asarray(a)) for index, a in enumerate(hostile)]
    names = [Path(s).name for s in specs]
    expected = {"first": names[:1], "last": names[-1:], "any": names[:1], "all": names}[which]
    if which == "any" and len(names) > 1:
        expected = []  # either file may be named: checked below
    return specs, expected or names


@pytest.mark.parametrize(
    "command, kind",
    [(c, k) for c in CLI_CONTENT for k in CLI_KINDS if k != "mismatched" or len(CLI_CONTENT[c]) == 2],
)
def test_cli_refuses_hostile_content(box, command, kind):
    """NaN, inf, constant, 1-D, 4-D, empty or mismatched arrays in the files: exit 2 naming the file."""
    specs, names = _hostile_files(box, command, kind)
    options = [a for a in CLI_RUNS[command] if a not in CLI_CONTENT[command]]
    result = box.run(command, *specs, *options, "--out", "OUT")
    if kind in ("constant", "one_d", "four_d", "empty") and len(specs) == 2:
        line = box.refused(result)
        assert any(Path(s).name in line for s in specs), f"names neither file: {line!r}"
    else:
        box.refused(result, *names)


# =========================================================================== command line: byte order

def _json_result(result) -> dict:
    document = json.loads(result.stdout)
    return document["runs"][0]["result"]


def _cli_same_numbers(native: dict, swapped: dict) -> None:
    a, b = _flatten(native), _flatten(swapped)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9, nan_ok=True), key
        else:
            assert a[key] == b[key], key


def _flatten(item, prefix="") -> dict:
    if isinstance(item, dict):
        return {k: v for key, sub in item.items() for k, v in _flatten(sub, f"{prefix}.{key}").items()
                if "dtype" not in key}
    if isinstance(item, list):
        return {k: v for i, sub in enumerate(item) for k, v in _flatten(sub, f"{prefix}[{i}]").items()}
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return {prefix: float(item)}
    return {prefix: item}


@pytest.mark.parametrize("mixed", [False, True], ids=["big-big", "big-little"])
@pytest.mark.parametrize("fmt", hc.BIG_ENDIAN_FORMATS)
def test_cli_big_endian_files_give_the_native_result(box, fmt, mixed):
    first, second = hc.halves()
    ext = hc.EXTENSIONS[fmt]
    native = [box.add(f"n1{ext}", first), box.add(f"n2{ext}", second)]
    swapped = [box.add(f"b1{ext}", first, byteorder=">"), box.add(f"b2{ext}", second, byteorder="<" if mixed else ">")]
    reference = box.run("frc", *native, "--apod-width", hc.APOD, "--json")
    box.done(reference)
    result = box.run("frc", *swapped, "--apod-width", hc.APOD, "--json")
    box.done(result)
    _cli_same_numbers(_json_result(reference), _json_result(result))


CLI_RUNS = {
    "fsc": ("V1", "V2", "--apod-width", hc.APOD),
    "frc": ("A", "B", "--apod-width", hc.APOD),
    "ssnr": ("A", "B", "--apod-width", hc.APOD),
    "randomfsc": ("R1", "R2", "--apod-width", hc.APOD, "--seed", 3),
    "localfsc": ("A", "B", "--box-size", 16),
    "localres": ("S", "--window-sigma", hc.LOCAL_SIGMA),
    "decorr": ("S", "--apod-width", hc.DECORR_APOD),
    "mtf": ("E",),
    "split": ("SINO", "--theta", "0:180", "--apod-width", hc.APOD),
}


@pytest.mark.parametrize("command", [c for c in CLI_RUNS if c != "split"])
def test_cli_big_endian_npy_through_every_estimator(box, command):
    """Each subcommand gives the same JSON numbers for a >f4 NPY copy of its inputs."""
    inputs = box.standard_inputs()
    args = CLI_RUNS[command]
    swapped = []
    for item in args:
        if item in inputs:
            with read_image(inputs[item]) as image:
                swapped.append(box.add(f"be_{item}.npy", image.read(), byteorder=">"))
                native_spec = box.add(f"le_{item}.npy", image.read(), byteorder="<")
            swapped[-1] = (native_spec, swapped[-1])
        else:
            swapped.append(item)
    native_args = [a[0] if isinstance(a, tuple) else a for a in swapped]
    big_args = [a[1] if isinstance(a, tuple) else a for a in swapped]
    reference = box.run(command, *native_args, "--json")
    box.done(reference)
    result = box.run(command, *big_args, "--json")
    box.done(result)
    _cli_same_numbers(_json_result(reference), _json_result(result))


@pytest.mark.parametrize("command", list(CLI_RUNS))
def test_cli_clean_run_writes_only_its_outputs(box, command):
    """The control for every subcommand: exit 0, documented files in OUT, no temporary leftovers."""
    inputs = box.standard_inputs()
    args = [inputs.get(a, a) if isinstance(a, str) else a for a in CLI_RUNS[command]]
    result = box.run(command, *args, "--out", "OUT")
    box.done(result)
    assert (box.out / f"{command}.json").is_file()
    assert "Warning" not in result.stderr, result.stderr


# =========================================================================== command line: collisions

def test_cli_report_onto_an_input(box):
    a, b = box.add("A.tif", hc.halves()[0]), box.add("B.tif", hc.halves()[1])
    box.refused(box.run("fsc", a, b, "--apod-width", hc.APOD, "--report", a), "A.tif", "--report")


def test_cli_report_onto_an_input_through_a_symlink(box):
    a, b = box.add("A.tif", hc.halves()[0]), box.add("B.tif", hc.halves()[1])
    (box.root / "page.html").symlink_to(box.root / a)
    box.refused(box.run("fsc", a, b, "--apod-width", hc.APOD, "--report", "page.html"), "page.html", "A.tif")


def test_cli_report_onto_an_input_by_another_relative_path(box):
    a, b = box.add("A.tif", hc.halves()[0]), box.add("B.tif", hc.halves()[1])
    box.refused(box.run("fsc", a, b, "--apod-width", hc.APOD, "--report", "in/../in/./A.tif"), "A.tif")


def test_cli_localfsc_map_onto_its_input(box):
    box.out.mkdir()
    first = hc.write_file(box.out / "LocalFSC_resmap.tif", hc.halves()[0])
    b = box.add("B.tif", hc.halves()[1])
    result = box.run("localfsc", os.path.relpath(first, box.root), b, "--box-size", 16, "--out", "OUT")
    box.refused(result, "LocalFSC_resmap.tif", "OUT")


def test_cli_localres_map_onto_its_input(box):
    box.out.mkdir()
    first = hc.write_file(box.out / "LocalResolution_map.npy", hc.sample_image())
    result = box.run("localres", os.path.relpath(first, box.root), "--out", "OUT")
    box.refused(result, "LocalResolution_map.npy", "OUT")


def test_cli_split_tomogram_onto_its_sinogram(box):
    box.out.mkdir()
    with h5py.File(box.out / "tomogram_half1.h5", "w") as h5:
        h5.create_dataset("sinogram", data=_sinogram())
    result = box.run("split", "OUT/tomogram_half1.h5:/sinogram", "--theta", "0:180", "--apod-width", hc.APOD,
                     "--tomograms", "h5", "--out", "OUT")
    box.refused(result, "tomogram_half1.h5", "OUT")


def test_cli_report_onto_the_json_in_out(box):
    a, b = box.add("A.tif", hc.halves()[0]), box.add("B.tif", hc.halves()[1])
    result = box.run("fsc", a, b, "--apod-width", hc.APOD, "--report", "OUT/fsc.json", "--out", "OUT")
    box.refused(result, "fsc.json", "--report")


# =========================================================================== command line: bad options

_COMMON = [  # (extra options, names the message must contain)
    (("--threshold", "2"), "--threshold"),
    (("--threshold", "threebit"), "--threshold"),
    (("--ring-thick", "-1"), "--ring-thick"),
    (("--ring-thick", "99"), "--ring-thick"),
    (("--apod-width", "100"), "--apod-width"),
    (("--window", "bogus"), "--window"),
    (("--workers", "0"), "--workers"),
    (("--pixel-size", "12parsec"), "--pixel-size"),
    (("--mask", "in/missing.tif"), "missing.tif"),
    (("--mask", "SMALL"), "small.tif"),
    (("--mask", "NEG"), "--mask"),
    (("--pairs", "in/missing.txt"), "missing.txt"),
]
BAD_OPTIONS = (
    [(c, *case) for c in ("fsc", "frc", "ssnr", "randomfsc") for case in _COMMON]
    + [
        ("fsc", ("--memory-limit", "lots"), "--memory-limit"),
        ("fsc", ("--memory-limit", "-5"), "--memory-limit"),
        ("ssnr", ("--memory-limit", "lots"), "--memory-limit"),
        ("frc", ("--slice", "99", "V1", "V2"), "--slice"),
        ("frc", ("--axis", "5"), "--axis"),
        ("randomfsc", ("--fsc-cutoff", "2"), "--fsc-cutoff"),
        ("randomfsc", ("--fsc-cutoff", "-1"), "--fsc-cutoff"),
        ("randomfsc", ("--seed", "x"), "--seed"),
        ("localfsc", ("--box-size", "0"), "--box-size"),
        ("localfsc", ("--box-size", "64"), "--box-size"),
        ("localfsc", ("--step", "0"), "--step"),
        ("localfsc", ("--threshold", "1.5"), "--threshold"),
        ("localfsc", ("--memory-limit", "-1"), "--memory-limit"),
        ("localfsc", ("--map-format", "xyz"), "--map-format"),
        ("localfsc", ("--axis", "7"), "--axis"),
        ("localfsc", ("--vmin", "abc"), "--vmin"),
        ("localfsc", ("--vmin", "5", "--vmax", "1"), "--vmin"),
        ("localfsc", ("--cmap", "nosuchmap"), "nosuchmap"),
        ("localfsc", ("--mask", "in/missing.tif"), "missing.tif"),
        ("localfsc", ("--mask", "NEG"), "--mask"),
        ("localfsc", ("--slice-idx", "99", "V1", "V2"), "--slice-idx"),
        ("localres", ("--significance", "0.7"), "--significance"),
        ("localres", ("--n-freq", "1"), "--n-freq"),
        ("localres", ("--window-sigma", "0"), "--window-sigma"),
        ("localres", ("--noise-method", "foo"), "--noise-method"),
        ("localres", ("--noise-method", "mask"), "--noise-mask"),
        ("localres", ("--corner-fraction", "0.6"), "--corner-fraction"),
        ("localres", ("--highfreq-fraction", "1.5"), "--highfreq-fraction"),
        ("localres", ("--sigma-noise", "-1"), "--sigma-noise"),
        ("localres", ("--mask", "in/missing.tif"), "missing.tif"),
        ("localres", ("--mask", "NEG"), "--mask"),
        ("localres", ("--mask", "SMALL"), "small.tif"),
        ("localres", ("--cmap", "nosuchmap"), "nosuchmap"),
        ("localres", ("--map-format", "xyz"), "--map-format"),
        ("decorr", ("--n-r", "1"), "--n-r"),
        ("decorr", ("--n-g", "0"), "--n-g"),
        ("decorr", ("--g-min", "-1"), "--g-min"),
        ("decorr", ("--apod-width", "100"), "--apod-width"),
        ("decorr", ("--axis", "3"), "--axis"),
        ("decorr", ("--n-slices", "0"), "--n-slices"),
        ("decorr", ("--slice-range", "5", "2", "V1"), "--slice-range"),
        ("decorr", ("--min-peak-amplitude", "-1"), "--min-peak-amplitude"),
        ("mtf", ("--method", "foo"), "--method"),
        ("mtf", ("--roi", "1:2"), "--roi"),
        ("mtf", ("--roi", "100:200,0:10"), "--roi"),
        ("mtf", ("--center", "x"), "--center"),
        ("mtf", ("--oversample", "0"), "--oversample"),
        ("mtf", ("--method", "point", "--bead-diameter", "-1"), "--bead-diameter"),
        ("mtf", ("--method", "point", "--roi-size", "0"), "--roi-size"),
        ("mtf", ("--method", "point", "--center", "100,100"), "--center"),
        ("mtf", ("--slice", "5"), "--slice"),
        ("mtf", ("--axis", "4"), "--axis"),
        ("split", ("--theta", "0:x"), "--theta"),
        ("split", ("--theta", "in/missing.npy"), "missing.npy"),
        ("split", ("--theta", "0:0"), "--theta"),
        ("split", ("--theta", "THETA10"), "theta10.npy"),
        ("split", ("--algorithm", "foo"), "--algorithm"),
        ("split", ("--filter", "foo"), "--filter"),
        ("split", ("--freqcutoff", "0"), "--freqcutoff"),
        ("split", ("--tomograms", "xyz"), "--tomograms"),
        ("split", ("--ring-thick", "-1"), "--ring-thick"),
        ("split", ("--threshold", "7"), "--threshold"),
        ("split", ("--apod-width", "100"), "--apod-width"),
        ("split", ("--workers", "0"), "--workers"),
    ]
)


def _expand(args, inputs, command) -> list[str]:
    """Replace the input keys (A, V1, NEG ...) by the files of ``inputs``; NEG follows the data's dimension."""
    three_d = command == "fsc" or "V1" in args
    out = []
    for item in args:
        if item == "NEG":
            item = "NEG3" if three_d else "NEG2"
        out.append(inputs.get(item, item) if isinstance(item, str) else str(item))
    return out


def _bad_option_args(command, extra, inputs):
    base = list(CLI_RUNS[command])
    positional = [a for a in extra if a in ("V1", "V2")]
    if positional:  # the case brings its own inputs (3-D)
        base = [a for a in base if a not in ("A", "B", "S", "SINO", "R1", "R2")]
        base = positional + base
        extra = tuple(a for a in extra if a not in positional)
    return _expand(base, inputs, command) + _expand(extra, inputs, command if not positional else "fsc")


@pytest.mark.parametrize(
    "command, extra, name", BAD_OPTIONS,
    ids=[f"{c}-{'_'.join(e)}" for c, e, _ in BAD_OPTIONS],
)
def test_cli_refuses_bad_options(box, command, extra, name):
    """Every subcommand: a bad option value exits 2 with one line naming the option (or its file)."""
    inputs = box.standard_inputs()
    args = _bad_option_args(command, extra, inputs)
    box.refused(box.run(command, *args, "--out", "OUT"), name)


# =========================================================================== subprocess: the shell's view

def _limits():  # pragma: no cover - runs in the child
    gib = 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (4 * gib, 4 * gib))       # no terabyte allocation succeeds
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))  # nor a terabyte temporary file


def _command() -> list[str]:
    script = Path(sys.executable).with_name("toupy-resolution")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toupy.resolution.cli"]


def shell(box: Box, *args, timeout: float = 120):
    box.snapshot()
    env = hc.set_env_for_cli()
    env["TMPDIR"] = str(box.tmp)
    try:
        return subprocess.run(_command() + [str(a) for a in args], capture_output=True, text=True, cwd=box.root,
                              env=env, timeout=timeout, preexec_fn=_limits)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"no answer within {timeout} s: {' '.join(map(str, args))} ({exc.stderr!r})")


@pytest.mark.parametrize("fmt", list(hc.EXTENSIONS))
def test_shell_forged_huge_header_exits_2(box, fmt):
    """A header claiming 64 TiB in a file of a few kB: exit 2 naming the file, no crash, no allocation."""
    good = box.add("good.tif", hc.halves()[1])
    bad = os.path.relpath(hc.file_of(damaged_file(box.inputs, fmt, "forged_huge")), box.root)
    spec = bad + (":/data" if fmt == "hdf5" else "")
    proc = shell(box, "frc", good, spec, "--apod-width", hc.APOD, "--out", "OUT")
    _shell_refused(box, proc, Path(bad).name)


def test_shell_truncated_tiff_exits_2_without_traceback(box):
    good = box.add("good.tif", hc.halves()[1])
    bad = os.path.relpath(hc.file_of(damaged_file(box.inputs, "tiff", "truncated_data")), box.root)
    proc = shell(box, "fsc", good, bad, "--apod-width", hc.APOD, "--out", "OUT", "--report", "OUT/r.html")
    _shell_refused(box, proc, "damaged.tif")


def test_shell_unknown_colour_map_exits_2(box):
    image = box.add("S.tif", hc.sample_image())
    proc = shell(box, "localres", image, "--cmap", "nosuchmap", "--out", "OUT")
    _shell_refused(box, proc, "nosuchmap", "--cmap")


def _shell_refused(box: Box, proc, *names: str) -> None:
    assert proc.returncode == 2, f"exit {proc.returncode} (negative: killed by signal); stderr {proc.stderr[-800:]!r}"
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"stderr is not one line: {proc.stderr[-800:]!r}"
    hc.assert_one_line_naming(lines[0], *names)
    assert box._state() == box._before, _diff(box._before, box._state())
    assert not hc.listing(box.tmp), sorted(hc.listing(box.tmp))
