"""Half-tomograms: ``split_dataset``, ``compute_2tomograms``, ``compute_2tomograms_splitted``.

Known answers: the split is column 0, 2, 4, ... and 1, 3, 5, ...; each tomogram
equals ``tomo_recons`` of its half (the concurrent and sequential paths are
bit-identical because every pixel is summed in the same order); for Poisson
data the two half-tomograms differ by noise only, whose variance scales as
``1/I0`` (variance of ``-log(N/I0)`` is ``1/(I0 exp(-p))`` per ray, and FBP is
linear), so the noise variance ratio between doses 10x apart is 10; a higher
dose gives a finer FRC resolution.
"""

import logging

import numpy as np
import pytest

skimage = pytest.importorskip("skimage")
from skimage.data import shepp_logan_phantom  # noqa: E402
from skimage.transform import radon, rescale  # noqa: E402

from toupy.resolution import FSCtools, fsc  # noqa: E402
from toupy.resolution.FSC import FRCPlot, FSCPlot  # noqa: E402
from toupy.resolution.FSCtools import (  # noqa: E402
    compute_2tomograms,
    compute_2tomograms_splitted,
    split_dataset,
)
from toupy.resolution.tomo import _backproject as backproject_internals  # noqa: E402
from toupy.resolution.tomo import _recons as tomo_internals  # noqa: E402
from toupy.resolution.tomo import tomo_recons  # noqa: E402

N = 128
MU = 0.02  # attenuation per unit of the phantom: line integrals up to 0.66


@pytest.fixture(scope="module")
def theta():
    return np.linspace(0, 180, 2 * N, endpoint=False)


@pytest.fixture(scope="module")
def sinogram(theta):
    phantom = rescale(shepp_logan_phantom(), N / 400, anti_aliasing=True)
    return radon(phantom, theta, circle=True)


def noisy(sinogram, dose, seed):
    """Poisson counts of a transmission measurement, back to line integrals."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(dose * np.exp(-MU * sinogram))
    return (-np.log(np.maximum(counts, 0.5) / dose) / MU).astype(np.float32)


def test_split_dataset_even_and_odd_columns():
    sino = np.arange(5 * 7, dtype=float).reshape(5, 7)
    theta = np.arange(7) * 10.0
    s1, s2, t1, t2 = split_dataset(sino, theta)
    np.testing.assert_array_equal(s1, sino[:, [0, 2, 4, 6]])
    np.testing.assert_array_equal(s2, sino[:, [1, 3, 5]])
    np.testing.assert_array_equal(t1, [0, 20, 40, 60])
    np.testing.assert_array_equal(t2, [10, 30, 50])
    assert np.shares_memory(s1, sino) and np.shares_memory(s2, sino)
    stack = np.stack([sino, -sino])
    v1, v2, _, _ = split_dataset(stack, theta)
    assert v1.shape == (2, 5, 4) and v2.shape == (2, 5, 3)
    np.testing.assert_array_equal(v2[1], -sino[:, 1::2])


def test_compute_2tomograms_equals_tomo_recons_of_each_half(sinogram, theta):
    params = dict(filtertype="hann", weight_angles=True)
    r1, r2 = compute_2tomograms(sinogram, theta, **params)
    s1, s2, t1, t2 = split_dataset(sinogram, theta)
    np.testing.assert_array_equal(r1, tomo_recons(s1, t1, **params))
    np.testing.assert_array_equal(r2, tomo_recons(s2, t2, **params))
    assert not np.array_equal(r1, r2)
    again = compute_2tomograms_splitted(s1, s2, t1, t2, **params)
    np.testing.assert_array_equal(again[0], r1)
    np.testing.assert_array_equal(again[1], r2)


def test_stacks_give_volumes_ready_for_fscplot(sinogram, theta):
    stack = np.stack([noisy(sinogram, 1e3, seed) for seed in range(4)])  # [slice, detector, angle]
    v1, v2 = compute_2tomograms(stack, theta, workers=2)
    assert v1.shape == v2.shape == (4, N, N) and v1.dtype == np.float32
    s1, s2, t1, t2 = split_dataset(stack, theta)
    for k in (0, 3):
        np.testing.assert_array_equal(v1[k], tomo_recons(s1[k], t1))
        np.testing.assert_array_equal(v2[k], tomo_recons(s2[k], t2))
    result = FSCPlot(v1, v2, apod_width=2)
    assert result.fn_res is not None and 0 < result.fn_res <= 1


def test_fallback_to_sequential_when_threads_fail(sinogram, theta, monkeypatch, caplog):
    expected = compute_2tomograms(sinogram, theta)
    stack = np.stack([sinogram, sinogram])

    class BrokenPool:
        def __init__(self, *args, **kwargs):
            raise RuntimeError("can't start new thread")

    for module in (FSCtools, tomo_internals, backproject_internals):
        monkeypatch.setattr(module, "ThreadPoolExecutor", BrokenPool)
    for data in (sinogram, stack):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="toupy.resolution.FSCtools"):
            got = compute_2tomograms(data, theta, workers=2)
        assert "sequentially" in caplog.text
        np.testing.assert_array_equal(got[0][-1] if data.ndim == 3 else got[0], expected[0])
        np.testing.assert_array_equal(got[1][0] if data.ndim == 3 else got[1], expected[1])


def test_errors_of_the_data_are_not_swallowed_by_the_fallback(theta, monkeypatch):
    calls = []
    real = FSCtools._sequential
    monkeypatch.setattr(FSCtools, "_sequential", lambda *a: calls.append(1) or real(*a))
    sino = np.ones((16, theta.size), dtype=np.float32)
    with pytest.raises(ValueError, match="sinogram2"):
        compute_2tomograms_splitted(sino, sino[:, :1], theta, theta[:1])
    assert not calls


def test_end_to_end_resolution_improves_with_dose(sinogram, theta):
    """phantom -> radon -> Poisson -> split -> two tomograms -> FRC.

    Measured (seeds 0-2) full-period resolutions: 5.8-6.6 px at I0 = 1e2,
    3.5-4.0 px at 1e3, 2.5-2.6 px at 1e4: each tenfold dose must give a finer
    finite resolution. The noise of the halves (their difference) must scale as
    1/I0: variance ratio 10 within 10 % (the difference image has ~1e4 nearly
    independent pixels, so the ratio is known to a few %).
    """
    resolutions = []
    noise_variance = []
    for dose in (1e2, 1e3, 1e4):
        r1, r2 = compute_2tomograms(noisy(sinogram, dose, seed=0), theta)
        frc = FRCPlot(r1, r2)
        assert frc.resolution_full is not None and np.isfinite(frc.resolution_full)
        assert not frc.nyquist_limited
        resolutions.append(frc.resolution_full)
        inside = np.hypot(*np.mgrid[:N, :N] - N // 2) < N // 2 - 4
        noise_variance.append(np.var((r1 - r2)[inside]))
    assert resolutions[0] > resolutions[1] > resolutions[2] >= 2.0
    assert resolutions[0] > 1.2 * resolutions[1] and resolutions[1] > 1.2 * resolutions[2]
    # low dose clips no count here (min expected count I0 exp(-0.66) = 52 at I0 = 1e2)
    assert noise_variance[0] / noise_variance[1] == pytest.approx(10, rel=0.1)
    assert noise_variance[1] / noise_variance[2] == pytest.approx(10, rel=0.1)
    assert fsc(r1, r2).resolution_full == pytest.approx(resolutions[-1])


@pytest.mark.parametrize(
    "call,word",
    [
        (lambda s, t: split_dataset(s[:, :3], t[:3]), "fewer than 2 per half"),
        (lambda s, t: split_dataset(s, t[:-1]), "theta"),
        (lambda s, t: split_dataset(s[0], t), "sinogram"),
        (lambda s, t: compute_2tomograms(s, t, filtertype="ramp-lak"), "filtertype"),
        (lambda s, t: compute_2tomograms(s, t, algorithm="FDK"), "algorithm"),
        (lambda s, t: compute_2tomograms(s, t, freqcutoff=2), "freqcutoff"),
        (lambda s, t: compute_2tomograms(np.where(s > 1, np.nan, s), t), "sinogram"),
        (lambda s, t: compute_2tomograms_splitted(s[:, ::2], s[:, 1::2], t[::2], t[1:-2:2]), "theta2"),
        (lambda s, t: compute_2tomograms_splitted(s[:, :1], s[:, 1:], t[:1], t[1:]), "sinogram1"),
        (lambda s, t: compute_2tomograms_splitted(s[:, ::2], s[:-1, 1::2], t[::2], t[1::2]), "detector size"),
        (lambda s, t: compute_2tomograms_splitted(s[None, :, ::2], s[:, 1::2], t[::2], t[1::2]), "detector size"),
    ],
)
def test_bad_input(sinogram, theta, call, word):
    with pytest.raises(ValueError, match=word):
        call(sinogram, theta)


# ----------------------------------------------------------------------------- the angles of a split

def _clean(call):
    """``call()`` raising any warning as an error: clean input must give none."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


def test_angles_all_equal_or_repeated_are_refused():
    sino = np.ones((8, 8))
    with pytest.raises(ValueError, match=r"theta: all 8 angles equal 30 degrees"):
        split_dataset(sino, np.full(8, 30.0))
    theta = np.array([0.0, 10, 20, 30, 40, 20, 60, 70])
    with pytest.raises(ValueError, match=r"theta: angle 20 degrees appears twice \(columns 2 and 5; 1 repeated"):
        split_dataset(sino, theta)
    # a repeat is found whatever the order, and within 1e-6 degree (text files round)
    theta = np.array([90.0, 0, 45, 135, 0 + 5e-7, 10, 100, 170])
    with pytest.raises(ValueError, match=r"angle 0 degrees appears twice \(columns 1 and 4"):
        split_dataset(sino, theta)
    with pytest.raises(ValueError, match="theta2: angle 30 degrees appears twice"):
        compute_2tomograms_splitted(sino[:, :4], sino[:, 4:], np.arange(4) * 40.0, np.array([10.0, 30, 30, 50]))


def test_angles_spanning_radians_warn_and_degrees_do_not():
    from toupy.resolution._checks import ResolutionWarning

    sino = np.ones((8, 8))
    half_turn = np.linspace(0, np.pi, 8, endpoint=False)  # radians: spans 2.75 "degrees"
    with pytest.warns(ResolutionWarning, match=r"theta spans only 2.749 degrees \(0 to 2.74889\).*numpy.rad2deg"):
        split_dataset(sino, half_turn)
    with pytest.warns(ResolutionWarning, match="spans only 6.283 degrees"):
        split_dataset(sino, np.linspace(0, 2 * np.pi, 8))
    with pytest.warns(ResolutionWarning, match="theta1 spans only"):
        compute_2tomograms_splitted(sino[:, :4], sino[:, 4:], half_turn[::2], np.arange(4) * 40.0)
    # degrees, unsorted and interlaced sub-scans included: no warning; 2*pi + 0.01 is the bound
    _clean(lambda: split_dataset(sino, np.linspace(0, 180, 8, endpoint=False)))
    _clean(lambda: split_dataset(sino, np.array([0.0, 90, 45, 135, 22.5, 112.5, 67.5, 157.5])))
    _clean(lambda: split_dataset(sino, np.linspace(0, 2 * np.pi + 0.011, 8)))
