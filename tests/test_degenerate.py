"""Degenerate pairs and options of the shell-correlation estimators.

* Halves that are one image twice, or an affine function of each other, give
  ``|FSC| = 1`` by construction: every estimator warns (and records it in the
  result); independent halves of high SNR do not trigger it.
* A default ``apod_width`` that does not fit a small box is fitted to it with
  a warning; an explicit one stays an error.
* A negative mask and ``ring_thick`` of at least the number of shells raise.
* NaN/inf raise the same error on every executor.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings

import numpy as np
import pytest

from toupy.resolution import ResolutionWarning, fsc, local_fsc, phase_randomized_fsc, ssnr
from toupy.resolution.FSC import FRCPlot, FSCPlot, LocalFSC, RandomFSC, SSNRPlot

da = pytest.importorskip("dask.array")

DEPENDENT = "not independent"
FITTED = "apod_width left at its default"


def _smooth(shape, seed=0, width=0.08):
    """A smooth random object of unit standard deviation (Gaussian low-pass of white noise)."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij")
    lowpass = np.exp(-sum(k**2 for k in axes) / (2 * width**2))
    obj = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * lowpass).real
    return obj / obj.std()


def _noisy(shape, seed=0):
    rng = np.random.default_rng(seed + 100)
    return _smooth(shape, seed) + 0.5 * rng.standard_normal(shape)


def _messages(caught, text):
    return [str(w.message) for w in caught if issubclass(w.category, ResolutionWarning)
            and text in str(w.message)]


# --------------------------------------------------------------------------- dependent halves
def _pairs(shape):
    a = _noisy(shape)
    c = a + 1j * _noisy(shape, seed=5)
    return {
        "identical": (a, a.copy()),
        "affine 3a+1": (a, 3 * a + 1),
        "negated": (a, -a),
        "float32 affine": (a.astype(np.float32), (3 * a + 1).astype(np.float32)),
        "complex affine": (c, (2 - 1j) * c + 3),
    }


ESTIMATORS = {
    "fsc": lambda a, b: fsc(a, b, apod_width=4),
    "ssnr": lambda a, b: ssnr(a, b, apod_width=4),
    "localfsc": lambda a, b: local_fsc(a, b, box_size=16),
    "localfsc-dask": lambda a, b: local_fsc(da.from_array(a, chunks=16), da.from_array(b, chunks=16),
                                            box_size=16),
    "FSCPlot": lambda a, b: FSCPlot(a, b, apod_width=4),
    "SSNRPlot": lambda a, b: SSNRPlot(a, b, apod_width=4),
    "LocalFSC": lambda a, b: LocalFSC(a, b, box_size=16),
}


@pytest.mark.parametrize("pair", list(_pairs((4, 4, 4))))
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_dependent_halves_warn(name, pair):
    a, b = _pairs((32, 32, 32))[pair]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = ESTIMATORS[name](a, b)
    issued = _messages(caught, DEPENDENT)
    assert len(issued) == 1
    assert out.warnings == tuple(issued)  # the facades expose the result's warnings
    result = getattr(out, "result", out)
    assert issued[0] in result.to_dict()["warnings"]
    assert issued[0] in json.loads(result.to_json())["warnings"]


def test_dependent_halves_frc_facade():
    a = _noisy((64, 64))
    with pytest.warns(ResolutionWarning, match=DEPENDENT):
        frc = FRCPlot(a, 2 * a - 7)
    assert any(DEPENDENT in w for w in frc.warnings)


def test_randomfsc_refuses_identical_halves():
    """The FSC of identical halves never drops below any cut-off: a ValueError (and the
    warning that says why)."""
    a = _noisy((32, 32, 32))
    with pytest.warns(ResolutionWarning, match=DEPENDENT), pytest.raises(ValueError):
        phase_randomized_fsc(a, a, apod_width=4)


def test_high_snr_independent_halves_do_not_warn():
    """A smooth object plus small independent noise: FSC ~ 0.999 and more at low shells,
    yet the noise keeps 1 - FSC >> 1e-6 at Nyquist (there the signal power is down by
    exp(-(0.5/0.08)^2) and FSC ~ 0), so no warning, for every estimator. No window: the
    object is periodic, and a window edge would leak its low frequencies to Nyquist."""
    shape = (32, 32, 32)
    rng = np.random.default_rng(7)
    obj = _smooth(shape, seed=3)
    a, b = (obj + 1e-3 * rng.standard_normal(shape) for _ in range(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fsc(a, b, window=None)
        local = local_fsc(a, b, box_size=16)
        rand = phase_randomized_fsc(a, b, window=None, random_seed=0, fsc_cutoff=0.9)
    assert np.all(res.fsc[1:4] > 0.999)  # the case is really of high SNR
    assert abs(res.fsc[-1]) < 0.5  # and not at Nyquist
    assert res.warnings == () and local.warnings == () and rand.warnings == ()
    assert res.to_dict()["warnings"] == []


def test_clean_facades_have_no_warnings():
    a, b = _noisy((48, 48), seed=1), _noisy((48, 48), seed=1) + 0.3
    b = b + 0.5 * np.random.default_rng(2).standard_normal(b.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert FRCPlot(a, b).warnings == ()
        assert SSNRPlot(a, b).warnings == ()
        assert RandomFSC(a, b, random_seed=1, fsc_cutoff=0.9).warnings == ()


# --------------------------------------------------------------------------- apod_width default
def test_signature_keeps_documented_default():
    for function in (fsc, ssnr, phase_randomized_fsc, FSCPlot, FRCPlot, SSNRPlot, RandomFSC):
        parameter = inspect.signature(function).parameters["apod_width"]
        assert parameter.default == 20 and repr(parameter.default) == "20"
        assert re.search(r"apod_width(: 'int' = |=)20\b", str(inspect.signature(function)))


def _independent(shape):
    return _noisy(shape, seed=1), _noisy(shape, seed=1) + 0.7 * np.random.default_rng(9).standard_normal(shape)


def test_default_apod_width_fitted_to_small_box():
    """A 32^3 subtomogram with the default: the edge is a quarter of the box (8 px), the
    curve is exactly that of an explicit apod_width=8, and the warning says so."""
    a, b = _independent((32, 32, 32))
    with pytest.warns(ResolutionWarning, match=FITTED) as caught:
        res = fsc(a, b)
    assert len(_messages(caught, FITTED)) == 1
    assert res.apod_width == 8
    assert res.warnings == tuple(_messages(caught, FITTED))
    assert "8 pixels" in res.warnings[0] and "32" in res.warnings[0]
    np.testing.assert_array_equal(res.fsc, fsc(a, b, apod_width=8).fsc)


def test_explicit_apod_width_that_does_not_fit_raises():
    a, b = _independent((32, 32, 32))
    with pytest.raises(ValueError, match="apod_width=20"):
        fsc(a, b, apod_width=20)
    with pytest.raises(ValueError, match="apod_width=20"):
        FSCPlot(a, b, apod_width=20)


def test_default_apod_width_kept_where_it_fits():
    """Documented behaviour is kept: from 40 pixels on the default is 20, silently."""
    a, b = _independent((40, 44))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fsc(a, b)
    assert res.apod_width == 20 and res.warnings == ()
    np.testing.assert_array_equal(res.fsc, fsc(a, b, apod_width=20).fsc)


def test_hann_window_is_not_fitted():
    """'hann' spans the whole axis: apod_width only switches it on, nothing to fit."""
    a, b = _independent((32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fsc(a, b, window="hann").warnings == ()


@pytest.mark.parametrize("facade", [FSCPlot, SSNRPlot, RandomFSC])
def test_facades_fit_the_default_and_warn_once(facade):
    a, b = _independent((32, 32, 32))
    extra = {"random_seed": 0, "fsc_cutoff": 0.9} if facade is RandomFSC else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = facade(a, b, **extra)
    assert len(_messages(caught, FITTED)) == 1
    assert out.apod_width == 8 and out.result.apod_width == 8
    assert out.warnings[0] == _messages(caught, FITTED)[0]


def test_randomfsc_fits_the_default():
    a, b = _independent((32, 32, 32))
    with pytest.warns(ResolutionWarning, match=FITTED):
        res = phase_randomized_fsc(a, b, random_seed=0, fsc_cutoff=0.9)
    assert res.apod_width == 8 and res.observed.apod_width == 8
    assert sum(FITTED in w for w in res.warnings) == 1


# --------------------------------------------------------------------------- bad options
def test_negative_mask_raises():
    a, b = _independent((32, 32, 32))
    mask = np.ones(a.shape)
    mask[0, 0, 0] = -0.5
    for call in (lambda: fsc(a, b, mask=mask, apod_width=4),
                 lambda: phase_randomized_fsc(a, b, mask=mask, apod_width=4),
                 lambda: local_fsc(a, b, mask=mask, box_size=16),
                 lambda: local_fsc(da.from_array(a, chunks=16), da.from_array(b, chunks=16),
                                   mask=da.from_array(mask, chunks=16), box_size=16)):
        with pytest.raises(ValueError, match="mask must be non-negative.*-0.5"):
            call()


def test_ring_thick_of_the_number_of_shells_raises():
    a, b = _independent((32, 32))
    shells = 32 // 2 + 1
    with pytest.raises(ValueError, match=f"ring_thick must be smaller than the number of shells, {shells}"):
        fsc(a, b, ring_thick=shells, apod_width=4)
    with pytest.raises(ValueError, match="ring_thick"):
        FRCPlot(a, b, ring_thick=shells + 5, apod_width=4)
    with pytest.raises(ValueError, match="ring_thick"):
        phase_randomized_fsc(a, b, ring_thick=shells, apod_width=4)
    # the largest allowed value works: every point pools about the whole spectrum
    assert np.isfinite(fsc(a, b, ring_thick=shells - 1, apod_width=4).fsc).all()


# --------------------------------------------------------------------------- NaN / inf
@pytest.mark.parametrize("executor", ["memory", "memory_limit", "dask", "localfsc", "localfsc-dask"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_one_error_everywhere(executor, bad):
    a, b = _independent((32, 32, 32))
    b = b.copy()
    b[5, 6, 7] = bad
    calls = {
        "memory": lambda: fsc(a, b, apod_width=4),
        "memory_limit": lambda: fsc(a, b, apod_width=4, memory_limit="1MB"),
        "dask": lambda: fsc(da.from_array(a, chunks=8), da.from_array(b, chunks=8), apod_width=4),
        "localfsc": lambda: local_fsc(a, b, box_size=16),
        "localfsc-dask": lambda: local_fsc(da.from_array(a, chunks=16), da.from_array(b, chunks=16),
                                           box_size=16),
    }
    name = "vol2" if executor.startswith("localfsc") else "img2"
    with pytest.raises(ValueError, match=f"^{name} contains NaN or infinite values; replace or mask them first$"):
        calls[executor]()
