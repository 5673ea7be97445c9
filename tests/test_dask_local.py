"""Dask inputs of the box- and slice-wise estimators: ``local_fsc``/``LocalFSC`` and
``decorrelation_resolution``/``ImageDecorr`` (issue 10).

Known answer: the in-memory result for the same data. Every box of the dask executor is the
in-memory box (same global grid, same taper, same FFT sizes and kernels; its shell sums are
accumulated inside one task), so per-box curves agree to round-off: we allow 1e-12 relative for
float64 data and 1e-5 absolute on curves of float32 data (a float32 FFT has a relative error of
a few 1e-7 per coefficient; a curve is a ratio of sums of thousands of them). The statistics of
the lazy map are exact (the median) or reductions in a different order (mean, std: 1e-12
relative). Decorrelation slices are analysed by the same function on the same planes, so their
numbers are equal.

Each check can fail: a box grid shifted by one chunk offset, a box cut at a chunk border, a
missing overlap or a wrong order statistic changes these numbers by far more than round-off.
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from toupy.resolution import _dask  # noqa: E402
from toupy.resolution._decorr import decorrelation_resolution  # noqa: E402
from toupy.resolution._localfsc import local_fsc  # noqa: E402
from toupy.resolution._results import map_statistics  # noqa: E402
from toupy.resolution.decorr import ImageDecorr  # noqa: E402
from toupy.resolution.FSC import LocalFSC  # noqa: E402


def _blurred(rng, shape, sigma):
    white = rng.standard_normal(shape)
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    f2 = sum(g**2 for g in grids)
    return np.fft.ifftn(np.fft.fftn(white) * np.exp(-2.0 * np.pi**2 * sigma**2 * f2)).real


def _halves(shape, seed=0, dtype=np.float64):
    """Two halves whose resolution varies in space, with a pure-noise corner (NaN boxes)."""
    rng = np.random.default_rng(seed)
    obj = _blurred(rng, shape, 1.2)
    obj *= np.linspace(0.2, 3.0, shape[-1])  # SNR, hence local resolution, grows along the last axis
    corner = tuple(slice(0, n // 3) for n in shape)
    halves = []
    for _ in range(2):
        half = obj + 0.3 * rng.standard_normal(shape)
        half[corner] = rng.standard_normal(half[corner].shape)  # independent noise: no resolution
        halves.append(half.astype(dtype))
    return halves


def _assert_same_local(got, ref, *, curve_atol):
    assert got.box_centers[0].tolist() == ref.box_centers[0].tolist()
    np.testing.assert_array_equal(got.box_computed, ref.box_computed)
    np.testing.assert_allclose(got.box_fsc, ref.box_fsc, rtol=0, atol=curve_atol, equal_nan=True)
    np.testing.assert_array_equal(got.box_nyquist_limited, ref.box_nyquist_limited)
    np.testing.assert_allclose(got.box_frequency, ref.box_frequency, rtol=curve_atol, equal_nan=True)
    np.testing.assert_array_equal(got.n_per_shell, ref.n_per_shell)
    lazy = got.resolution_map
    assert _dask.is_dask_array(lazy) and lazy.dtype == ref.resolution_map.dtype
    computed = np.asarray(lazy)
    assert computed.shape == ref.resolution_map.shape
    np.testing.assert_allclose(computed, ref.resolution_map, rtol=curve_atol, equal_nan=True)
    for name in ("resolution_median", "resolution_mean", "resolution_std", "resolution_median_half"):
        assert getattr(got, name) == pytest.approx(getattr(ref, name), rel=max(curve_atol, 1e-12)), name
    assert np.isnan(ref.box_frequency).any() and np.isfinite(ref.box_frequency).any()


# --------------------------------------------------------------------------- local_fsc
@pytest.mark.parametrize(
    "shape,chunks,kwargs,dtype",
    [
        ((97, 90), (20, 33), dict(box_size=16), np.float64),  # odd shape, chunks not multiples of step
        ((97, 90), (97, 90), dict(box_size=16, step=5), np.float64),  # one chunk, step < box/2
        ((36, 41, 38), (9, 13, 38), dict(box_size=12), np.float64),  # chunks narrower than the box
        ((36, 41, 38), (18, 20, 19), dict(box_size=12, threshold="halfbit"), np.float32),
    ],
)
def test_local_fsc_dask_equals_in_memory(shape, chunks, kwargs, dtype):
    a, b = _halves(shape, dtype=dtype)
    a0, b0 = a.copy(), b.copy()
    ref = local_fsc(a, b, **kwargs)
    got = local_fsc(da.from_array(a, chunks=chunks), da.from_array(b, chunks=chunks), **kwargs)
    _assert_same_local(got, ref, curve_atol=1e-12 if dtype == np.float64 else 1e-5)
    assert got.extras["n_tasks"] >= 1
    np.testing.assert_array_equal(a, a0)  # inputs never modified
    np.testing.assert_array_equal(b, b0)


def test_local_fsc_dask_mask_numpy_and_dask():
    """A mask (numpy or dask) selects the same boxes and NaNs as in memory."""
    shape = (40, 44, 36)
    a, b = _halves(shape, seed=2)
    zz, yy, xx = np.indices(shape)
    mask = ((zz - 24) ** 2 + (yy - 26) ** 2 + (xx - 20) ** 2 < 11**2).astype(np.float32) * 0.7
    ref = local_fsc(a, b, box_size=12, mask=mask)
    assert 0 < ref.box_computed.sum() < ref.box_computed.size
    x, y = da.from_array(a, chunks=(10, 15, 36)), da.from_array(b, chunks=(10, 15, 36))
    for m in (mask, da.from_array(mask, chunks=(7, 44, 9))):
        got = local_fsc(x, y, box_size=12, mask=m)
        _assert_same_local(got, ref, curve_atol=1e-12)
        assert got.masked


def test_local_fsc_dask_complex_mixed_and_split_regions(monkeypatch):
    """Complex halves; one numpy and one dask input; a single big chunk split into tasks."""
    shape = (80, 72)
    a, b = _halves(shape, seed=3)
    rng = np.random.default_rng(4)
    phase = np.exp(1j * rng.uniform(0, 0.3, shape))
    ca, cb = a * phase, b * phase
    ref = local_fsc(ca, cb, box_size=16)
    _assert_same_local(local_fsc(da.from_array(ca, chunks=30), cb, box_size=16), ref, curve_atol=1e-12)

    ref = local_fsc(a, b, box_size=16)
    monkeypatch.setattr(_dask, "REGION_BYTES", 40 * 40 * 8)  # force 24-pixel owner chunks
    got = local_fsc(da.from_array(a, chunks=-1), da.from_array(b, chunks=-1), box_size=16)
    assert got.extras["n_tasks"] > 1 and max(got.extras["chunks"][0]) <= 25
    _assert_same_local(got, ref, curve_atol=1e-12)


def test_local_fsc_zarr_inputs_loaded_or_wrapped(tmp_path):
    """zarr halves give the in-memory numbers, read whole or wrapped in dask (chunk by chunk)."""
    zarr = pytest.importorskip("zarr")
    a, b = _halves((48, 44), seed=9, dtype=np.float32)
    stores = []
    for name, half in (("a", a), ("b", b)):
        store = zarr.open_array(str(tmp_path / f"{name}.zarr"), mode="w", shape=half.shape,
                                chunks=(16, 44), dtype="f4")
        store[:] = half
        stores.append(store)
    ref = local_fsc(a, b, box_size=12)
    plain = local_fsc(*stores, box_size=12)
    np.testing.assert_array_equal(plain.resolution_map, ref.resolution_map)
    _assert_same_local(local_fsc(*[da.from_array(s) for s in stores], box_size=12), ref, curve_atol=1e-5)


def test_local_fsc_dask_on_local_cluster(local_cluster):
    distributed = pytest.importorskip("distributed")
    shape = (34, 40, 37)
    a, b = _halves(shape, seed=5)
    ref = local_fsc(a, b, box_size=12)
    with distributed.Client(local_cluster):
        got = local_fsc(da.from_array(a, chunks=(12, 20, 37)), da.from_array(b, chunks=(12, 20, 37)),
                        box_size=12)
        _assert_same_local(got, ref, curve_atol=1e-12)


def test_local_fsc_dask_bad_input_is_reported():
    a, b = _halves((48, 40), seed=6)
    bad = b.copy()
    bad[10, 12] = np.inf  # in no box (boxes of 8 every 20 px) but in the array: in memory raises too
    with pytest.raises(ValueError, match="vol2 contains NaN"):
        local_fsc(da.from_array(a, chunks=16), da.from_array(bad, chunks=16), box_size=8, step=20)
    with pytest.raises(ValueError, match="vol1 is constant"):
        local_fsc(da.zeros((48, 40), chunks=16), da.from_array(b, chunks=16), box_size=8)
    with pytest.raises(ValueError, match="same shape"):
        local_fsc(da.from_array(a), da.from_array(b[:40]), box_size=8)
    x, y = da.from_array(a, chunks=16), da.from_array(b, chunks=16)
    nan_mask = np.ones((48, 40))
    nan_mask[2, 2] = np.nan
    with pytest.raises(ValueError, match="mask contains NaN"):
        local_fsc(x, y, box_size=8, mask=da.from_array(nan_mask, chunks=16))
    with pytest.raises(ValueError, match="mask is zero everywhere"):
        local_fsc(x, y, box_size=8, mask=da.zeros((48, 40), chunks=16))
    with pytest.raises(ValueError, match="mask must have the input shape"):
        local_fsc(x, y, box_size=8, mask=da.ones((48, 41), chunks=16))
    with pytest.raises(ValueError, match="box_size"):
        local_fsc(x, y, box_size=4)


def test_local_fsc_facade_with_dask(tmp_path):
    a, b = _halves((64, 60), seed=7, dtype=np.float32)
    ref = LocalFSC(a, b, pixel_size=2.0, box_size=16, unit="nm")
    lf = LocalFSC(da.from_array(a, chunks=25), da.from_array(b, chunks=25), pixel_size=2.0,
                  box_size=16, unit="nm")
    _assert_same_local(lf.result, ref.result, curve_atol=1e-5)
    assert lf.resolution_median == pytest.approx(ref.resolution_median, rel=1e-5)
    np.testing.assert_allclose(np.asarray(lf.resolution_map_phys_half), ref.resolution_map_phys_half,
                               rtol=1e-5, equal_nan=True)
    shown = lf.plot(output_dir=tmp_path)
    assert shown is lf.resolution_map and (tmp_path / "LocalFSC_resmap.png").stat().st_size > 0
    data = json.loads(lf.result.to_json(include_map=True))
    assert len(data["resolution_map"]) == 64 and data["box_size"] == 16


def test_local_fsc_dask_plot_3d_slice(tmp_path):
    a, b = _halves((30, 32, 28), seed=8)
    res = local_fsc(da.from_array(a, chunks=10), da.from_array(b, chunks=10), box_size=10)
    fig = res.plot(slice_idx=-3, axis=1)
    assert "slice 29 along axis 1" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="slice_idx"):
        res.plot(slice_idx=40, axis=1)


# --------------------------------------------------------------------------- exact map statistics
@pytest.mark.parametrize("n_keep", [1, 2, 999, 1000])
def test_dask_map_statistics_exact_median(monkeypatch, n_keep):
    """Odd and even counts, many ties, NaNs and a soft mask; tiny bins and gather size force
    several refinement passes. The median must be np.median's to the last bit."""
    monkeypatch.setattr(_dask, "GATHER_VALUES", 7)
    monkeypatch.setattr(_dask, "SELECT_BINS", 4)
    rng = np.random.default_rng(n_keep)
    values = np.round(rng.gamma(2.0, 3.0, (40, 50)), 1).astype(np.float32)  # ties everywhere
    values[rng.random(values.shape) < 0.1] = np.nan
    mask = np.zeros(values.shape)
    finite = np.flatnonzero(np.isfinite(values))
    mask.flat[rng.choice(finite, n_keep, replace=False)] = rng.uniform(0.1, 1.0, n_keep)
    ref = map_statistics(values, mask)
    lazy, lazy_mask = da.from_array(values, chunks=(13, 17)), da.from_array(mask, chunks=9)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    # no range; the true range (first refinement in the moments pass); one too narrow (fallback)
    for value_range in (None, (low, high), (low + 1.0, high - 1.0)):
        got = _dask.dask_map_statistics(lazy, lazy_mask, value_range=value_range)
        assert got["resolution_median"] == ref["resolution_median"]
        for name in ("resolution_mean", "resolution_std"):
            assert got[name] == pytest.approx(ref[name], rel=1e-12, abs=1e-15)
    # 0..7 in 4 bins: ranks 3 and 4 sit exactly on a bin edge of the cumulative counts
    eight = da.from_array(np.arange(8.0)[::-1].reshape(2, 4), chunks=1)
    assert _dask.dask_map_statistics(eight)["resolution_median"] == 3.5
    empty = _dask.dask_map_statistics(da.full((4, 4), np.nan, chunks=2))
    assert np.isnan(empty["resolution_median"]) and np.isnan(empty["resolution_std"])


# --------------------------------------------------------------------------- decorrelation
class _RecordingVolume:
    """Array-like that records every read, to check which slices dask actually reads."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.read = 0

    def __getitem__(self, key):
        out = self.array[key]
        self.read += out.size
        return out


def _band_volume(shape, seed=1):
    rng = np.random.default_rng(seed)
    f = [np.fft.fftfreq(n) for n in shape[1:]]
    band = np.hypot(f[0][:, None], f[1][None, :]) < 0.2
    vol = np.fft.ifft2(np.fft.fft2(rng.standard_normal(shape)) * band).real
    return vol + 0.05 * rng.standard_normal(shape)


@pytest.mark.parametrize("axis,chunks", [(0, (1, 48, 50)), (1, (7, 10, 50)), (2, (9, 48, 6))])
def test_decorrelation_dask_reads_only_sampled_slices(axis, chunks):
    vol = _band_volume((26, 48, 50))
    options = dict(n_slices=3, apod_width=6, axis=axis, n_r=40)
    ref = decorrelation_resolution(vol, **options)
    source = _RecordingVolume(vol)
    got = decorrelation_resolution(da.from_array(source, chunks=chunks), **options)
    plane = vol.size // vol.shape[axis]
    assert source.read == 3 * plane  # the three sampled slices, nothing else
    np.testing.assert_array_equal(got.slice_indices, ref.slice_indices)
    np.testing.assert_array_equal(got.resolutions_px, ref.resolutions_px)
    for mine, theirs in zip(got.slices, ref.slices):
        np.testing.assert_array_equal(mine.A, theirs.A)
        np.testing.assert_array_equal(mine.refined_curves, theirs.refined_curves)
        assert mine.kc_max == theirs.kc_max and mine.A0 == theirs.A0
    assert got.resolution_px == ref.resolution_px and got.shape == vol.shape


def test_decorrelation_dask_padding_nan_and_2d():
    vol = _band_volume((20, 40, 40), seed=2)
    vol[2] = 0.0  # a padding slice: skipped with a warning, as in memory
    options = dict(n_slices=4, apod_width=5, n_r=40)
    with pytest.warns(UserWarning, match="constant"):
        ref = decorrelation_resolution(vol, **options)
    with pytest.warns(UserWarning, match="constant"):
        got = decorrelation_resolution(da.from_array(vol, chunks=(3, 40, 40)), **options)
    np.testing.assert_array_equal(got.slice_indices, ref.slice_indices)
    np.testing.assert_array_equal(got.resolutions_px, ref.resolutions_px)
    bad = vol.copy()
    bad[7, 5, 5] = np.nan
    with pytest.raises(ValueError, match="slice 7 along axis 0 contains NaN"):
        decorrelation_resolution(da.from_array(bad, chunks=(3, 40, 40)), **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = vol[12]
        assert (decorrelation_resolution(da.from_array(image, chunks=16), apod_width=5, n_r=40).kc_max
                == decorrelation_resolution(image, apod_width=5, n_r=40).kc_max)


def test_decorrelation_zarr_volume_sliced_like_memory(tmp_path):
    """A zarr volume (sliced, not loaded whole) gives the in-memory numbers."""
    zarr = pytest.importorskip("zarr")
    vol = _band_volume((20, 40, 42), seed=4).astype(np.float32)
    store = zarr.open_array(str(tmp_path / "v.zarr"), mode="w", shape=vol.shape, chunks=(1, 40, 42),
                            dtype="f4")
    store[:] = vol
    for axis in (0, 2):
        ref = decorrelation_resolution(vol, n_slices=3, apod_width=5, n_r=40, axis=axis)
        got = decorrelation_resolution(store, n_slices=3, apod_width=5, n_r=40, axis=axis)
        np.testing.assert_array_equal(got.resolutions_px, ref.resolutions_px)


def test_image_decorr_dask_on_local_cluster(local_cluster):
    distributed = pytest.importorskip("distributed")
    vol = _band_volume((18, 40, 44), seed=3)
    ref = ImageDecorr(vol, n_slices=4, apod_width=6, n_r=40, pixel_size=5.0)
    with distributed.Client(local_cluster):
        dec = ImageDecorr(da.from_array(vol, chunks=(5, 40, 44)), n_slices=4, apod_width=6, n_r=40,
                          pixel_size=5.0)
    np.testing.assert_array_equal(dec.resolutions_px, ref.resolutions_px)
    assert dec.resolution == ref.resolution and dec.A0 == ref.A0
    np.testing.assert_array_equal(dec.A, ref.A)


# --------------------------------------------------------------------------- without dask
class _FakeDaskArray:
    """Looks like a dask array to the type check; dask itself is made unimportable."""

    __module__ = "dask.array.core"
    chunks = ((8,), (8,))
    shape = (16, 16)
    ndim = 2
    dtype = np.dtype(np.float64)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: local_fsc(x, x, box_size=8),
        lambda x: LocalFSC(x, x, box_size=8),
        lambda x: decorrelation_resolution(x),
        lambda x: ImageDecorr(x),
    ],
)
def test_dask_input_without_dask_names_the_extra(monkeypatch, call):
    for name in ("dask", "dask.array"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'toupy-resolution\[dask\]'"):
        call(_FakeDaskArray())


@pytest.fixture(scope="module")
def local_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster
