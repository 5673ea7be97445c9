"""Every byte order: big-endian inputs give the numbers of native-order inputs.

Data written big-endian (ImageJ's TIFF default, MRC and HDF5 files from other
machines, NPY files saved as ``>f4``) hold the same values as their native
copies, so every estimator must return the same result from them, in memory,
out of core (``memory_limit``, a memmap read with ``pread``, an HDF5 dataset)
and on Dask. Each case compares the estimator on the big-endian data with the
same estimator and executor on the native copy: the same values go through the
same arithmetic (numpy may sum a strided sample of foreign-order data in
another order, which moves the rough mean shift by round-off), so curves agree
to 1e-12 and the SSNR, which amplifies FSC round-off by ``2 / (1 - FSC)^2``
(up to ~1e4 here), to a relative 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest

from toupy.resolution import fsc, local_fsc, phase_randomized_fsc, ssnr
from toupy.resolution._storage import SlabSource
from toupy.resolution._validate import native_order

da = pytest.importorskip("dask.array")
h5py = pytest.importorskip("h5py")

SHAPE_3D = (24, 32, 28)
SHAPE_2D = (64, 56)
BIG = ">" if np.little_endian else "<"  # the order that is *not* the machine's
NATIVE = "<" if np.little_endian else ">"


def _pair(shape, kind: str, seed: int = 0):
    """Two noisy halves of one smooth object, as float64 (complex for kind 'c')."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")
    lowpass = np.exp(-sum(k**2 for k in axes) / 0.02)
    obj = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * lowpass).real
    obj *= 3.0 / obj.std()
    halves = [obj + rng.standard_normal(shape) for _ in range(2)]
    if kind == "c":
        halves = [h + 1j * (obj[::-1] + rng.standard_normal(shape)) for h in halves]
    if kind == "i":
        halves = [np.round(100 * h) for h in halves]
    return halves


#: dtype of img1 and of img2: every big-endian type, and a big/little pair
DTYPES = {
    "f4": (BIG + "f4", BIG + "f4"),
    "f8": (BIG + "f8", BIG + "f8"),
    "c8": (BIG + "c8", BIG + "c8"),
    "i2": (BIG + "i2", BIG + "i2"),
    "f4-pair": (BIG + "f4", NATIVE + "f4"),
}


def _as(values: np.ndarray, dtype: str) -> np.ndarray:
    return values.astype(np.dtype(dtype).newbyteorder("=")).astype(dtype)


# --------------------------------------------------------------------------- executors
def _memory(arrays, tmp_path):
    return arrays, {}


def _memory_limit(arrays, tmp_path):
    return arrays, {"memory_limit": "1MB"}  # several slabs, half spectra in a temporary file


def _memmap(arrays, tmp_path):
    """C-ordered read-only memmaps: streamed with ``pread`` into reused buffers."""
    out = []
    for i, array in enumerate(arrays):
        path = tmp_path / f"half{i}_{array.dtype.str[1:]}_{array.dtype.byteorder}.raw"
        array.tofile(path)
        out.append(np.memmap(path, dtype=array.dtype, mode="r", shape=array.shape))
    return out, {}


def _npy(arrays, tmp_path):
    """NPY files opened with ``mmap_mode='r'`` keep the stored byte order."""
    out = []
    for i, array in enumerate(arrays):
        path = tmp_path / f"half{i}.npy"
        np.save(path, array)
        out.append(np.load(path, mmap_mode="r"))
    return out, {}


def _hdf5(arrays, tmp_path):
    handle = h5py.File(tmp_path / "halves.h5", "w")
    out = [handle.create_dataset(f"half{i}", data=a, dtype=a.dtype) for i, a in enumerate(arrays)]
    return out, {}


def _dask(arrays, tmp_path):
    return [da.from_array(a, chunks=(8,) + a.shape[1:]) for a in arrays], {}


def _fsc_curve(a, b, **kw):
    return fsc(a, b, apod_width=4, **kw).fsc


def _frc_curve(a, b, **kw):
    return fsc(a, b, apod_width=4, **kw).fsc


def _ssnr_curve(a, b, **kw):
    return ssnr(a, b, apod_width=4, **kw).ssnr


def _randomfsc_curves(a, b, **kw):
    res = phase_randomized_fsc(a, b, apod_width=4, random_seed=3, fsc_cutoff=0.5, **kw)
    return np.concatenate([res.fsc_obs, res.fsc_rand, res.fsc_corr])


def _localfsc_curves(a, b, **kw):
    res = local_fsc(a, b, box_size=16, step=8, threshold="halfbit", **kw)
    return np.concatenate([np.asarray(res.box_fsc).ravel(), np.asarray(res.resolution_map).ravel()])


#: estimator -> (function, input shape, executors it supports)
ESTIMATORS = {
    "fsc": (_fsc_curve, SHAPE_3D, (_memory, _memory_limit, _memmap, _npy, _hdf5, _dask)),
    "frc": (_frc_curve, SHAPE_2D, (_memory, _memory_limit, _memmap, _hdf5, _dask)),
    "ssnr": (_ssnr_curve, SHAPE_3D, (_memory, _memory_limit, _npy, _dask)),
    "randomfsc": (_randomfsc_curves, SHAPE_3D, (_memory, _memmap)),
    "localfsc": (_localfsc_curves, SHAPE_3D, (_memory, _npy, _dask)),
}
CASES = [
    pytest.param(name, executor, dtype, id=f"{name}-{executor.__name__[1:]}-{dtype}")
    for name, (_, _, executors) in ESTIMATORS.items()
    for executor in executors
    for dtype in DTYPES
]


@pytest.mark.parametrize("name, executor, dtype", CASES)
def test_big_endian_gives_the_native_result(name, executor, dtype, tmp_path):
    estimator, shape, _ = ESTIMATORS[name]
    halves = _pair(shape, "c" if "c8" in dtype else ("i" if "i2" in dtype else "f"))
    foreign = [_as(h, t) for h, t in zip(halves, DTYPES[dtype])]
    assert not foreign[0].dtype.isnative  # the case really is in the other byte order
    native = [native_order(x) for x in foreign]
    assert all(x.dtype.isnative for x in native)
    (big_a, big_b), options = executor(foreign, _folder(tmp_path, "foreign"))
    (nat_a, nat_b), _ = executor(native, _folder(tmp_path, "native"))
    got = estimator(big_a, big_b, **options)
    want = estimator(nat_a, nat_b, **options)
    assert np.isfinite(want).sum() > 10  # a real curve, not all NaN
    np.testing.assert_allclose(got, want, rtol=1e-9 if name == "ssnr" else 0, atol=1e-12)


def _folder(tmp_path, name):
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return folder


# --------------------------------------------------------------------------- the slab reader
def test_native_order_values_and_no_copy():
    values = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    big = values.astype(BIG + "f4")
    swapped = native_order(big)
    assert swapped.dtype.isnative and np.array_equal(swapped, values)
    assert native_order(values) is values  # native data: nothing is done
    owned = big.copy()
    in_place = native_order(owned, in_place=True)
    assert np.shares_memory(in_place, owned) and np.array_equal(in_place, values)


def test_slab_reader_swaps_file_slabs_in_place(tmp_path):
    """A big-endian memmap is read with pread into the reused buffers and swapped there:
    the slabs are native, equal to the data, and the second read after one reuses its buffer."""
    values = np.random.default_rng(1).standard_normal((6, 5, 4)).astype(np.float32)
    path = tmp_path / "big.raw"
    values.astype(BIG + "f4").tofile(path)
    source = SlabSource(np.memmap(path, dtype=BIG + "f4", mode="r", shape=values.shape), values.shape)
    assert source._file is not None  # the pread path, not a copy of mapped pages
    first = source.read(0, 2)
    assert first.dtype.isnative and np.array_equal(first, values[0:2])
    second = source.read(2, 4)
    assert np.array_equal(second, values[2:4]) and np.array_equal(first, values[0:2])
    third = source.read(4, 6)
    assert np.array_equal(third, values[4:6]) and np.shares_memory(first, third)
