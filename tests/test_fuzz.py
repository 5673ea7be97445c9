"""Hypothesis fuzzing of every reader and of every estimator.

Readers get random bytes, valid files truncated at a random length and
valid files with random bytes of their header overwritten, in every format
(TIFF, HDF5, MRC, NPY, EDF). Each must either read (and then give the values
written, or at least a numeric array of two or more dimensions), or raise
:class:`toupy.resolution.io.FileFormatError` (a ``ValueError``) with one line naming the
file. Nothing else: no other exception, no ``MemoryError`` for a header that
promises more than the file holds, no crash; and the file is never modified.

Estimators get random shapes (0-D to 4-D, empty axes), dtypes (integers,
booleans, floats and complex in both byte orders) and NaN at random
positions. Each must give a result, or raise ``ValueError``/``TypeError``
with one line naming one of its parameters; an input holding NaN is never
silently accepted; and the byte order of the input changes nothing.

The examples are derandomised (the same on every run) and no example
database is written, so that CI is reproducible and leaves no files.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("tifffile")
pytest.importorskip("h5py")
pytest.importorskip("mrcfile")
pytest.importorskip("fabio")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import _hostile_cases as hc  # noqa: E402
from toupy.resolution.io import read_image  # noqa: E402

FUZZ = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
ESTIMATORS = hc.estimators()


# =========================================================================== readers

def _read_all(spec):
    with read_image(spec) as image:
        return image.read()


def check_reader(spec, *, original: np.ndarray | None = None) -> None:
    """Read ``spec``: the values written, another numeric array, or a one-line refusal naming the file."""
    path = hc.file_of(spec)
    before = hc.digest(path)
    neighbours = hc.listing(path.parent)
    outcome = hc.call(_read_all, spec)
    if outcome.kind == "result":
        array = np.asarray(outcome.value)
        assert array.ndim >= 2 and array.dtype.kind in "biufc", (array.shape, array.dtype)
        if original is not None and array.shape == original.shape:
            np.testing.assert_array_equal(array, original)
    else:
        hc.assert_refused(outcome, path.name, kinds=("ValueError",))
    assert hc.digest(path) == before, "reading modified the file"
    assert hc.listing(path.parent) == neighbours, "reading left files behind"


def _valid_file(folder: Path, fmt: str) -> tuple[str, np.ndarray, bytes]:
    values = hc.halves()[0]
    spec = hc.write_file(folder / f"image{hc.EXTENSIONS[fmt]}", values)
    return spec, values, hc.file_of(spec).read_bytes()


@pytest.mark.parametrize("fmt", list(hc.EXTENSIONS))
@FUZZ
@given(content=st.binary(min_size=0, max_size=3000))
def test_random_bytes(fmt, content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"random{hc.EXTENSIONS[fmt]}"
        path.write_bytes(content)
        check_reader(f"{path}:/data" if fmt == "hdf5" else path)


@pytest.mark.parametrize("fmt", list(hc.EXTENSIONS))
@FUZZ
@given(fraction=st.floats(0, 1, exclude_max=True))
def test_truncated_files(fmt, fraction):
    """A valid file cut at a random length: refused, or (when only trailing metadata went) the values."""
    with tempfile.TemporaryDirectory() as folder:
        spec, values, raw = _valid_file(Path(folder), fmt)
        path = hc.file_of(spec)
        path.write_bytes(raw[: int(fraction * len(raw))])
        check_reader(spec, original=values)


@pytest.mark.parametrize("fmt", list(hc.EXTENSIONS))
@FUZZ
@given(edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=6))
def test_forged_headers(fmt, edits):
    """Random bytes of a valid file's header overwritten (sizes, types, offsets, signatures).

    A forged header may still describe a readable array (another type of the same size, say):
    the values are not compared, only that the outcome is an array or a refusal.
    """
    with tempfile.TemporaryDirectory() as folder:
        spec, values, raw = _valid_file(Path(folder), fmt)
        path = hc.file_of(spec)
        header = hc.header_size(path)
        forged = bytearray(raw)
        for where, byte in edits:
            forged[int(where * header)] = byte
        path.write_bytes(bytes(forged))
        check_reader(spec)


# =========================================================================== estimators

DTYPES = ["f4", "f8", ">f4", ">f8", "c8", ">c8", "c16", "i2", ">i4", "u1", "bool"]


@st.composite
def hostile_arrays(draw, arity: int):
    """``arity`` arrays of one random shape and dtype, with NaN at random positions (or none)."""
    ndim = draw(st.sampled_from([0, 1, 2, 2, 2, 3, 3, 4]))  # mostly images and volumes
    limit = {0: 1, 1: 64, 2: 40, 3: 18, 4: 6}[ndim]
    shape = tuple(draw(st.lists(st.integers(0, limit), min_size=ndim, max_size=ndim)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    seed = draw(st.integers(0, 2**16))
    size = int(np.prod(shape))
    nan_count = min(draw(st.integers(0, 3)), size) if dtype.kind in "fc" else 0
    nan_at = draw(st.lists(st.integers(0, max(size - 1, 0)), min_size=nan_count, max_size=nan_count,
                           unique=True))
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape) * 10
    arrays = []
    for index in range(arity):
        values = base + (0.5 * rng.standard_normal(shape) if index else 0)
        array = (values > 0) if dtype.kind == "b" else values.astype(dtype)
        if nan_at:
            flat = array.reshape(-1)
            flat[nan_at] = np.nan
        arrays.append(array)
    return tuple(arrays), bool(nan_at)


def _signature_names(estimator) -> tuple[str, ...]:
    return tuple(inspect.signature(estimator.function).parameters)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@FUZZ
@given(data=st.data())
def test_estimators_on_hostile_arrays(name, data):
    estimator = ESTIMATORS[name]
    arrays, has_nan = data.draw(hostile_arrays(estimator.arity))
    outcome = hc.call(estimator, *arrays)
    assert outcome.kind in ("result", "ValueError", "TypeError"), outcome
    if outcome.kind != "result":
        hc.assert_one_line_naming(outcome.message)
        assert hc.names_a_parameter(outcome.message, _signature_names(estimator)), (
            f"the message names no parameter of {estimator.function.__name__}: {outcome!r}")
    else:
        assert not has_nan, f"NaN input accepted: {[a.shape for a in arrays]} {arrays[0].dtype}"
    if arrays[0].dtype.byteorder == ">":
        native = hc.call(estimator, *[a.astype(a.dtype.newbyteorder("=")) for a in arrays])
        _same(native, outcome)


def _same(native: hc.Outcome, swapped: hc.Outcome) -> None:
    hc.assert_same_outcome(native, swapped)


@pytest.mark.parametrize("name", list(ESTIMATORS))
@FUZZ
@given(seed=st.integers(0, 2**16), order=st.sampled_from([">", "<"]), wide=st.booleans())
def test_byte_order_changes_nothing_on_valid_input(name, seed, order, wide):
    """Valid inputs (the suite's clean arrays, re-drawn noise) in either byte order: the native result."""
    estimator = ESTIMATORS[name]
    rng = np.random.default_rng(seed)
    clean = [a + 0.05 * rng.standard_normal(a.shape).astype(a.dtype) for a in estimator.inputs()]
    dtype = np.float64 if wide else np.float32
    native = hc.call(estimator, *[a.astype(dtype) for a in clean])
    swapped = hc.call(estimator, *[hc.byteswapped(a.astype(dtype), order) for a in clean])
    _same(native, swapped)
