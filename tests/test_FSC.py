"""The documented classes of ``toupy.resolution.FSC`` and the functional API.

Checks that every documented attribute, method and return value exists with
its documented meaning, that plots are written (and never shown), that bad
input is refused with a message naming the parameter, and that
``window='toupy'`` reproduces curves computed by toupy 0.2.2 itself
(``tests/data/toupy_0_2_2_reference.npz``, see ``tests/data/README.md``).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from toupy.resolution import FSCResult, SSNRResult, fsc, ssnr
from toupy.resolution.FSC import FourierShellCorr, FRCPlot, FSCPlot, SSNRPlot

DATA = Path(__file__).parent / "data" / "toupy_0_2_2_reference.npz"


def _pair(shape, snr=1.0, seed=0, sigma=2.0):
    """Smooth common object plus independent noise: a finite crossing."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    obj = gaussian_filter(rng.standard_normal(shape), sigma)
    obj /= obj.std()
    noise = 1.0 / np.sqrt(snr)
    return obj + noise * rng.standard_normal(shape), obj + noise * rng.standard_normal(shape)


@pytest.fixture(scope="module")
def pair2d():
    return _pair((96, 96))


@pytest.fixture(scope="module")
def pair3d():
    return _pair((32, 40, 40))


# --------------------------------------------------------------------------- facades
def test_fourier_shell_corr_methods(pair2d):
    a, b = pair2d
    fc = FourierShellCorr(a, b, "halfbit", 1, 10)
    f, fnyquist = fc.nyquist()
    assert fnyquist == 48 and f.dtype == np.int32 and f[0] == 0 and f[-1] == 48
    index = fc.ringthickness()
    assert index.shape == a.shape and index.dtype == np.int32 and index[0, 0] == 0
    assert fc.apodization().shape == a.shape
    disc = fc.circle()
    assert disc.shape == a.shape and disc[48, 48] == 1 and disc[0, 0] == 0
    assert fc.transverse_apodization().shape == a.shape
    curve, threshold = fc.fouriercorr()
    assert curve.shape == threshold.shape == (49,)
    f2, fnyq2, curve2, snr = fc.ssnr()
    np.testing.assert_array_equal(curve2, curve)
    np.testing.assert_allclose(snr[1:], 2 * curve[1:] / (1 - curve[1:]))


def test_transverse_apodization_3d_is_documented_pair(pair3d):
    a, b = pair3d
    fc = FourierShellCorr(a, b, apod_width=5)
    windows = fc.transverse_apodization()
    assert isinstance(windows, list) and windows[0].shape == (40, 40) and windows[1].shape == (32, 40)


def test_fscplot_attributes_and_units(pair2d, tmp_path):
    a, b = pair2d
    p = FSCPlot(a, b, pixel_size=25.0, unit="nm")
    assert p.fn.shape == p.FSC.shape == p.T.shape
    assert 0 < p.fn_res < 1 and not p.nyquist_limited
    assert p.fn_res_cpx == pytest.approx(p.fn_res * 0.5)
    assert p.resolution_full == pytest.approx(25.0 / p.fn_res_cpx)
    assert p.resolution_half == pytest.approx(p.resolution_full / 2)
    fn, T, FSC, fn_res_cpx = p.plot(output_dir=tmp_path)
    assert (tmp_path / "FSC_2D.png").stat().st_size > 1000
    assert fn is p.fn and T is p.T and FSC is p.FSC and fn_res_cpx == p.fn_res_cpx
    assert "nm" in p.result.summary()


def test_frcplot_names_and_2d_only(pair2d, pair3d, tmp_path):
    a, b = pair2d
    p = FRCPlot(a, b, threshold="onebit")
    out = p.plot(output_dir=tmp_path)
    assert len(out) == 4 and (tmp_path / "FRC_2D.png").exists()
    with pytest.raises(ValueError, match="2-D"):
        FRCPlot(*pair3d)


def test_fscplot_3d_png(pair3d, tmp_path):
    p = FSCPlot(*pair3d, apod_width=6)
    p.plot(output_dir=tmp_path)
    assert (tmp_path / "FSC_3D.png").exists()
    assert p.FSC.shape == (21,)


def test_ssnrplot_crossing_equals_fsc_crossing(pair2d, pair3d, tmp_path):
    for a, b in (pair2d, pair3d):
        for threshold in ("halfbit", "onebit"):
            s = SSNRPlot(a, b, threshold=threshold, apod_width=6)
            f = FSCPlot(a, b, threshold=threshold, apod_width=6)
            assert s.fn_res_cpx == f.fn_res_cpx and s.resolution_full == f.resolution_full
            np.testing.assert_allclose(s.SSNR_T[1:], 2 * s.T[1:] / (1 - s.T[1:]))
    out = s.plot(output_dir=tmp_path)
    assert len(out) == 5 and (tmp_path / "SSNR_3D.png").exists()


def test_plot_default_directory_is_cwd(pair2d, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    FRCPlot(*pair2d).plot()
    assert (tmp_path / "FRC_2D.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_plot_does_not_touch_pyplot(pair2d, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    FRCPlot(*pair2d).plot(output_dir=tmp_path)
    assert plt.get_fignums() == before


# --------------------------------------------------------------------------- results
def test_result_dataclass_and_json(pair2d):
    res = fsc(*pair2d, pixel_size=2e-9, unit="m")
    assert isinstance(res, FSCResult)
    with pytest.raises(AttributeError):
        res.fn_res = 0.1  # frozen
    data = json.loads(res.to_json())
    assert data["units"]["resolution_full"] == "m" and data["kind"] == "FRC"
    assert data["fsc"][0] is None  # DC is NaN after mean removal -> null in JSON
    assert data["resolution_full"] == pytest.approx(res.resolution_full)
    s = ssnr(*pair2d)
    assert isinstance(s, SSNRResult) and s.ssnr.shape == s.fsc.shape


def test_pixel_size_scales_lengths_only(pair2d):
    a, b = pair2d
    r1, r2 = fsc(a, b), fsc(a, b, pixel_size=7.5)
    assert r1.fn_res_cpx == r2.fn_res_cpx
    assert r2.resolution_full == pytest.approx(7.5 * r1.resolution_full)
    assert r1.unit == "px"


def test_nyquist_limited_and_no_crossing():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((64, 64))
    same = fsc(a, a + 1e-3 * rng.standard_normal(a.shape))
    assert same.nyquist_limited and same.fn_res == 1.0 and same.resolution_full == pytest.approx(2.0)
    noise = fsc(a, rng.standard_normal(a.shape), threshold="onebit")
    assert noise.fn_res is None or noise.fn_res < 0.2


def test_mask_restricts_correlation():
    """Two images that agree only inside a region: the mask keeps only that region."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((64, 64))
    b = a.copy()
    b[:, 32:] = rng.standard_normal((64, 32))
    mask = np.zeros(a.shape)
    mask[:, 4:28] = 1.0
    masked = fsc(a, b, mask=mask, window=None)
    unmasked = fsc(a, b, window=None)
    assert np.nanmin(masked.fsc[1:]) > 0.999
    assert np.nanmean(unmasked.fsc[5:]) < 0.7


# --------------------------------------------------------------------------- toupy 0.2.2
def _reference_cases():
    data = np.load(DATA)
    for k in range(7):
        yield k, data


@pytest.mark.parametrize("case", range(7))
def test_toupy_window_reproduces_toupy_0_2_2(case):
    """Curves of toupy 0.2.2 (single-precision FFTW) to 2e-6; windows and T exactly."""
    data = np.load(DATA)
    params = json.loads(str(data[f"case{case}_params"]))
    a, b = data[f"case{case}_img1"], data[f"case{case}_img2"]
    kwargs = dict(threshold=params["threshold"], ring_thick=params["ring_thick"],
                  apod_width=params["apod_width"], window="toupy")
    res = fsc(a, b, **kwargs)
    np.testing.assert_allclose(res.fsc, data[f"case{case}_fsc"], rtol=0, atol=2e-6)
    np.testing.assert_allclose(res.threshold_curve, data[f"case{case}_T"], rtol=1e-14)
    fc = FourierShellCorr(a, b, params["threshold"], params["ring_thick"], params["apod_width"], window="toupy")
    np.testing.assert_array_equal(fc.ringthickness(), data[f"case{case}_index"])
    np.testing.assert_allclose(fc.circle(), data[f"case{case}_circle"], atol=1e-15)
    f, fnyquist = fc.nyquist()
    np.testing.assert_array_equal(f, data[f"case{case}_f"])
    assert fnyquist == float(data[f"case{case}_fnyquist"])
    if a.ndim == 2:
        np.testing.assert_allclose(fc.transverse_apodization(), data[f"case{case}_transverse"], atol=1e-15)


def test_default_differs_from_toupy_where_toupy_was_wrong():
    """Signed real part: a pure-noise pair has negative shells by default, never with 'toupy'."""
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((2, 64, 64))
    assert np.nanmin(fsc(a, b, window=None).fsc) < 0
    assert np.nanmin(fsc(a, b, window="toupy", apod_width=8).fsc) >= 0


# --------------------------------------------------------------------------- bad input
GOOD = np.random.default_rng(0).standard_normal((48, 48))


@pytest.mark.parametrize(
    "args,kwargs,match",
    [
        ((GOOD, GOOD[:40]), {}, "same shape"),
        ((GOOD[0], GOOD[0]), {}, "2-D or 3-D"),
        ((np.ones((2, 4, 4, 4)), np.ones((2, 4, 4, 4))), {}, "2-D or 3-D"),
        ((np.where(GOOD > 2, np.nan, GOOD), GOOD), {}, "img1 contains NaN"),
        ((GOOD, np.where(GOOD > 2, np.inf, GOOD)), {}, "img2 contains NaN"),
        ((np.full((48, 48), 3.0), GOOD), {}, "img1 is constant"),
        ((GOOD, GOOD), {"apod_width": 30}, "apod_width"),
        ((GOOD, GOOD), {"apod_width": -1}, "apod_width"),
        ((GOOD, GOOD), {"threshold": "quarterbit"}, "threshold"),
        ((GOOD, GOOD), {"threshold": 1.5}, "threshold"),
        ((GOOD, GOOD), {"window": "gauss"}, "window"),
        ((GOOD, GOOD), {"pixel_size": 0}, "pixel_size"),
        ((GOOD, GOOD), {"pixel_size": -2.0}, "pixel_size"),
        ((GOOD, GOOD), {"pixel_size": float("nan")}, "pixel_size"),
        ((GOOD, GOOD), {"ring_thick": -1}, "ring_thick"),
        ((GOOD, GOOD), {"ring_thick": 1.5}, "ring_thick"),
        ((GOOD, GOOD), {"mask": np.ones((4, 4))}, "mask"),
        ((GOOD, GOOD), {"mask": np.zeros((48, 48))}, "mask"),
        ((GOOD, GOOD), {"mask": np.full((48, 48), np.nan)}, "mask"),
    ],
)
def test_bad_input_value_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fsc(*args, **kwargs)
    with pytest.raises(ValueError, match=match):
        FSCPlot(*args, **kwargs)


@pytest.mark.parametrize("bad", [None, "image.tif", 3.0, {"a": 1}, np.array(["a", "b"])])
def test_non_array_input_type_error(bad):
    with pytest.raises(TypeError, match="img1"):
        fsc(bad, GOOD)


def test_inputs_not_modified():
    a = GOOD.copy()
    b = GOOD + 1.0
    a0, b0 = a.copy(), b.copy()
    FSCPlot(a, b)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)
