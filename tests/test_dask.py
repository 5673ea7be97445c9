"""Dask executor: the same sums as in memory, on the default scheduler and on a LocalCluster.

Known answer: the in-memory result for the same inputs (to float round-off),
with chunk sizes small enough that many slabs and pencil blocks are used.
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from toupy.resolution import fsc  # noqa: E402
from toupy.resolution._correlation import fourier_shell_sums  # noqa: E402
from toupy.resolution._dask import dask_shell_sums  # noqa: E402

SHAPES = [(64, 64), (65, 63), (20, 24, 28), (17, 19, 15)]
WINDOWS = [(None, 0), ("circle", 3), ("tukey", 2), ("hann", 1), ("toupy", 3)]


def _pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    return a, a + rng.standard_normal(shape)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("window,apod_width", WINDOWS)
def test_dask_equals_in_memory(shape, window, apod_width):
    a, b = _pair(shape)
    ref = fourier_shell_sums(a, b, window=window, apod_width=apod_width).sums
    plane = int(np.prod(shape[1:])) * 16
    got = dask_shell_sums(
        da.from_array(a, chunks=4), da.from_array(b, chunks=6), window=window,
        apod_width=apod_width, chunk_bytes=3 * plane,
    ).sums
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got[[0, 2, 3, 4]], ref[[0, 2, 3, 4]], rtol=0, atol=1e-12 * scale)


def test_fsc_accepts_dask_and_mixed_inputs():
    a, b = _pair((24, 30, 30))
    ref = fsc(a, b, apod_width=4)
    got = fsc(da.from_array(a, chunks=(5, 30, 30)), b, apod_width=4)
    np.testing.assert_allclose(got.fsc, ref.fsc, atol=1e-12, equal_nan=True)
    assert got.fn_res == pytest.approx(ref.fn_res, abs=1e-12)


def test_dask_bad_input_is_reported():
    a, b = _pair((16, 20, 20))
    b[3, 4, 5] = np.nan
    with pytest.raises(ValueError, match="img2 contains NaN"):
        fsc(da.from_array(a, chunks=4), da.from_array(b, chunks=4), apod_width=2)
    with pytest.raises(ValueError, match="same shape"):
        fsc(da.from_array(a), da.from_array(a[:8]), apod_width=2)


def test_dask_on_local_cluster():
    distributed = pytest.importorskip("distributed")
    a, b = _pair((20, 32, 36), seed=3)
    ref = fourier_shell_sums(a, b, window="circle", apod_width=3).sums
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster):
        got = dask_shell_sums(da.from_array(a, chunks=5), da.from_array(b, chunks=5),
                              window="circle", apod_width=3, chunk_bytes=32 * 36 * 16 * 3).sums
    np.testing.assert_allclose(got[[0, 2, 3, 4]], ref[[0, 2, 3, 4]], rtol=0, atol=1e-12 * np.abs(ref).max())
