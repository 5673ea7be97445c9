"""MTFEstimator, mtf_slanted_edge and mtf_point_source against exactly known MTFs.

Test images come from ``tests/_edges.py``: straight edges whose pixels are
the exact pixel-area integral of a Gaussian-blurred edge (true presampled MTF
``exp(-2 pi^2 sigma^2 f^2) |sinc(f cos t) sinc(f sin t)|``), point-sampled
edges (ALGORITHMS.md section 10, case 12), and Gaussian or spherical beads
(case 13). Noise-free cases have deterministic answers, so their tolerances
are the accuracy goals of issue 8 (0.03 % for f50, 0.3 % for f10); noisy
cases use seeded generators and tolerances derived from the number of
trials (standard errors), as stated in each test.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy import special

from _edges import (
    PROFILES,
    add_noise,
    along_edge_gain,
    curved_edge,
    bead_true_crossing,
    edge_true_crossing,
    edge_true_mtf,
    gaussian_bead,
    profile_edge,
    profile_true_crossing,
    profile_true_mtf,
    slanted_edge,
    sphere_bead,
)
from toupy.resolution._mtf import MTFResult, MTFWarning
from toupy.resolution._mtf_edge import _crossing, mtf_slanted_edge
from toupy.resolution._mtf_point import bead_transform, mtf_point_source
from toupy.resolution.MTF import MTFEstimator

F50_GAUSS = math.sqrt(math.log(2.0) / 2.0) / math.pi  # f50 * sigma of a Gaussian PSF, 0.18739
F10_GAUSS = math.sqrt(math.log(10.0) / 2.0) / math.pi  # 0.34157


def quiet(func, *args, **kwargs):
    """Call without letting MTFWarnings through (tests that do not test warnings)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MTFWarning)
        return func(*args, **kwargs)


def rel(a, b):
    return a / b - 1.0


# -- slanted edge: noise-free accuracy --------------------------------------------
@pytest.mark.parametrize(
    "angle, sigma",
    [(0.5, 1.0), (2.0, 0.5), (5.0, 1.0), (5.0, 2.0), (11.0, 0.5), (26.565, 1.0), (30.0, 0.5), (44.0, 2.0), (45.0, 1.0)],
)
def test_pixel_integrated_edge_meets_noise_free_goals(angle, sigma):
    """Exact pixel-integrated edges, 100 x 100: |f50 error| <= 0.03 %, |f10 error| <= 0.3 % (issue goals).

    The cases include the degenerate angles 26.565 deg (tan = 1/2) and 45 deg
    whose rows sample only 2 or 1 sub-pixel phases, and 0.5 deg (under one
    phase cycle).
    """
    image = slanted_edge((100, 100), angle, sigma, offset=0.17)
    res = quiet(mtf_slanted_edge, image)
    assert abs(rel(res.f50, edge_true_crossing(0.5, sigma, angle))) <= 3e-4
    assert abs(rel(res.f10, edge_true_crossing(0.1, sigma, angle))) <= 3e-3
    assert abs(res.angle_deg - angle) < 0.01


def test_whole_curve_matches_the_true_mtf():
    """The curve itself (not only the crossings) follows the truth to 2e-4 up to 0.6 cycles/pixel."""
    sigma, angle = 0.8, 7.0
    res = mtf_slanted_edge(slanted_edge((100, 100), angle, sigma))
    band = res.freq <= 0.6
    truth = edge_true_mtf(res.freq[band], sigma, angle)
    assert np.max(np.abs(res.mtf[band] - truth)) < 2e-4
    assert res.mtf[0] == 1.0
    assert res.freq[-1] == pytest.approx(1.0, abs=0.01)  # reported to twice Nyquist


@pytest.mark.parametrize("sigma, angle", [(0.7, 3.0), (1.0, 5.0), (2.0, 8.0), (3.0, 4.0)])
def test_validation_case_12_point_sampled_edge(sigma, angle):
    """ALGORITHMS.md case 12: ESF Phi(d/sigma) point-sampled, 100 rows x 64 px, contrast 0.1 -> 0.9.

    The truth is the Gaussian transfer alone (f50 = 0.18739/sigma, f10 =
    0.34157/sigma); the reference tolerance is 1 % (2.5 % for sigma = 3), this
    implementation must stay within 0.1 % (its window does not narrow the LSF).
    The fitted angle is within 0.01 degree.
    """
    image = slanted_edge((100, 64), angle, sigma, pixel_integrated=False)
    res = quiet(mtf_slanted_edge, image)
    assert abs(rel(res.f50, F50_GAUSS / sigma)) < 1e-3
    assert abs(rel(res.f10, F10_GAUSS / sigma)) < 1e-3
    assert abs(res.angle_deg - angle) < 0.01


def test_case_12_pixel_integrated_reference_values():
    """With pixel integration, sigma = 1: f50 = 0.1800 and f10 = 0.3277 (case 12)."""
    res = mtf_slanted_edge(slanted_edge((100, 64), 5.0, 1.0))
    assert res.f50 == pytest.approx(0.1800, abs=1e-4)
    assert res.f10 == pytest.approx(0.3277, abs=1e-4)


def test_small_roi_and_small_angle_do_not_fail():
    """40 x 40 ROI at 0.5 deg: the rows cover a third of a pixel of phase; bins are widened, a
    warning says so, and for sigma = 1 (little aliasing) f50 is still within 0.05 %."""
    image = slanted_edge((40, 40), 0.5, 1.0, offset=0.3)
    with pytest.warns(MTFWarning, match="sub-pixel phases"):
        res = mtf_slanted_edge(image)
    assert res.quality["lattice_phases"] == 1
    assert abs(rel(res.f50, edge_true_crossing(0.5, 1.0, 0.5))) < 5e-4


def test_sharp_edge_on_a_small_roi_at_a_tiny_angle_is_flagged():
    """40 x 40 ROI at 0.5 deg with sigma = 0.5: the rows sample one phase per pixel, the bins are
    1 px wide (band end 0.5 cycles/pixel) and the MTF there is still ~0.3, so the curve is aliased.
    The values are not trustworthy and must say so: ``aliased`` set with a warning, f10 (true 0.58,
    beyond the band) reported as the flagged band end."""
    with pytest.warns(MTFWarning) as record:
        res = mtf_slanted_edge(slanted_edge((40, 40), 0.5, 0.5, offset=0.17))
    assert res.quality["aliased"] and res.quality["band_end_mtf"] > 0.1
    assert any("aliased" in str(w.message) for w in record)
    assert res.quality["f10_limited"] and res.f10 == pytest.approx(res.quality["band_end"], rel=0.01)
    # sigma = 1 on the same geometry has little content above 0.5 cycles/pixel: not flagged
    assert not quiet(mtf_slanted_edge, slanted_edge((40, 40), 0.5, 1.0, offset=0.17)).quality["aliased"]


def _profile_truncation_bound(res, profile, width, angle, level):
    """Largest relative crossing error that the finite ROI alone can cause for a Lorentzian.

    The ROI sees the LSF only over the profile ``res.position``; the mass ``m`` outside it is
    missing from the estimate, which is then ``(MTF - tail) / (1 - m)`` with ``|tail| <= m``: the
    curve is off by at most ``m (1 + MTF) / (1 - m)``, divided by the true slope at the crossing.
    """
    f = profile_true_crossing(level, profile, width, angle)
    left, right = -float(res.position[0]), float(res.position[-1])
    m = 1.0 - (np.arctan(left / width) + np.arctan(right / width)) / np.pi
    df = 1e-6
    slope = abs(profile_true_mtf(f + df, profile, width, angle) - profile_true_mtf(f - df, profile, width, angle)) / (2 * df)
    return m * (1.0 + level) / (1.0 - m) / slope / f


@pytest.mark.parametrize("angle", [2.0, 5.0, 20.0])
def test_non_gaussian_edges_noise_free(angle):
    """The window and its blending into the plateaus assume no PSF shape.

    * box blur (3 px, smoothed by 0.3 px; compact LSF, sinc MTF): the noise-free goals, 0.03 % / 0.3 %;
    * Lorentzian (half-width 1 px; 1/x^2 tails): the error is bounded by the LSF mass outside the
      ROI (:func:`_profile_truncation_bound`, ~1.4 % of the mass here).
    """
    res = mtf_slanted_edge(profile_edge((100, 100), angle, "box", 3.0, offset=0.17))
    assert abs(rel(res.f50, profile_true_crossing(0.5, "box", 3.0, angle))) <= 3e-4
    assert abs(rel(res.f10, profile_true_crossing(0.1, "box", 3.0, angle))) <= 3e-3
    res = quiet(mtf_slanted_edge, profile_edge((100, 100), angle, "lorentzian", 1.0, offset=0.17))
    for level, value in ((0.5, res.f50), (0.1, res.f10)):
        bound = _profile_truncation_bound(res, "lorentzian", 1.0, angle, level)
        assert abs(rel(value, profile_true_crossing(level, "lorentzian", 1.0, angle))) <= bound


def test_noise_window_does_not_cut_heavy_tails():
    """A Lorentzian edge (half-width 0.5 px) at SNR 50, 30 trials: the noise-aware window keeps the
    LSF's area (tails beyond it are moved inside, not dropped), so the mean f50 stays within 3
    standard errors plus the ROI-truncation bound of the truth. (Windowing the LSF itself and
    renormalising to the windowed area gave +8.8 % here.) A box-blurred edge, whose LSF is compact,
    is unbiased at SNR 10 within 3 standard errors + 0.3 %."""
    rng = np.random.default_rng(21)
    angle = 5.0
    clean = profile_edge((100, 100), angle, "lorentzian", 0.5, offset=0.2)
    truth = profile_true_crossing(0.5, "lorentzian", 0.5, angle)
    results = [quiet(mtf_slanted_edge, add_noise(clean, 50, rng)) for _ in range(30)]
    errors = np.array([rel(r.f50, truth) for r in results])
    bound = _profile_truncation_bound(results[0], "lorentzian", 0.5, angle, 0.5)
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / math.sqrt(errors.size) + bound
    clean = profile_edge((100, 100), angle, "box", 3.0, offset=0.2)
    truth = profile_true_crossing(0.5, "box", 3.0, angle)
    errors = np.array([rel(quiet(mtf_slanted_edge, add_noise(clean, 10, rng)).f50, truth) for _ in range(40)])
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / math.sqrt(errors.size) + 3e-3


def test_grazing_curve_reaches_the_level_at_its_minimum():
    """A noisy curve that levels off 0.005 above 0.1 (0.1 noise sigma) at 0.6 cycles/pixel and only
    crosses at 0.85 is taken to reach 0.1 at its minimum (flagged ``grazing``); the same curve
    without noise crosses where it crosses."""
    freq = np.linspace(0.0, 1.0, 401)
    bump = np.where(freq < 0.8, 0.02 * np.sin(np.pi * (freq - 0.6) / 0.2), -0.1 * (freq - 0.8))
    mtf = np.where(freq < 0.6, np.exp(-4.0 * freq**2) - np.exp(-4.0 * 0.36), bump) + 0.105
    spectrum = {"freq": freq, "mtf": mtf, "mtf_std": np.full(freq.size, 0.05),
                "exact": lambda f: float(np.interp(f, freq, mtf))}
    f, f_std, limited, grazing = _crossing(spectrum, 0.1)
    assert grazing and not limited
    assert f == pytest.approx(0.6, abs=0.005) and f_std > 0
    spectrum["mtf_std"] = np.zeros(freq.size)
    f, _, limited, grazing = _crossing(spectrum, 0.1)
    assert not grazing and not limited and f > 0.7


def test_crossing_beyond_the_band_is_a_flagged_lower_bound():
    """An untilted edge (0 deg) gives one sample phase per pixel, so the measured band ends at
    Nyquist, 0.5 cycles/pixel, where a sigma = 0.3 edge (true f10 = 0.76) is still above 0.1.
    f10 is then reported at the band end and flagged (the FSC family's Nyquist-limited
    convention), with a warning, never NaN."""
    with pytest.warns(MTFWarning) as record:
        res = mtf_slanted_edge(slanted_edge((100, 100), 0.0, 0.3))
    assert any("lower bound" in str(w.message) for w in record)
    assert any("sub-pixel phases" in str(w.message) for w in record)
    assert res.quality["f10_limited"]
    assert res.f10 == pytest.approx(res.quality["band_end"]) == pytest.approx(0.5, rel=1e-3)
    assert ">= " in res.summary()


def test_compiled_and_numpy_kernels_agree(monkeypatch):
    """The numba kernels and their numpy twins give the same result (1e-9 relative)."""
    import toupy.resolution._mtf_edge as edge

    flat = add_noise(slanted_edge((90, 80), 7.0, 1.2), 30, np.random.default_rng(9))
    ramp = flat * along_edge_gain((90, 80), 7.0, 0.1)  # exercises the level fit and the mapping
    compiled = [quiet(edge.mtf_slanted_edge, image) for image in (flat, ramp)]
    monkeypatch.setattr(edge, "HAVE_NUMBA", False)
    twins = [quiet(edge.mtf_slanted_edge, image) for image in (flat, ramp)]
    assert compiled[1].quality["level_corrected"] and not compiled[0].quality["level_corrected"]
    for twin, fast in zip(twins, compiled):
        assert twin.f50 == pytest.approx(fast.f50, rel=1e-9)
        assert twin.angle_deg == pytest.approx(fast.angle_deg, rel=1e-9)
        np.testing.assert_allclose(twin.mtf, fast.mtf, rtol=1e-9, atol=1e-12)
        for key in ("level_trend", "edge_fit_rms_expected"):
            assert twin.quality[key] == pytest.approx(fast.quality[key], rel=1e-9, abs=1e-15)


# -- slanted edge: symmetries --------------------------------------------------------
def test_polarity_and_orientation_do_not_change_the_result():
    """Negation and transposition are exact operations of the method (identical f50); mirror images
    change the geometry of the sampling, so they agree to 0.01 %."""
    image = slanted_edge((90, 110), 6.0, 1.3, low=0.2, high=0.8, offset=0.4)
    ref = mtf_slanted_edge(image)
    for variant, tol in (
        (1.0 - image, 0.0),  # falling edge
        (image.T, 0.0),  # near-horizontal edge
        ((1.0 - image).T, 0.0),
        (image[:, ::-1], 1e-4),  # falling, mirrored geometry
        (image[::-1, :], 1e-4),  # opposite tilt
    ):
        res = mtf_slanted_edge(np.ascontiguousarray(variant))
        assert abs(rel(res.f50, ref.f50)) <= tol + 1e-12
        assert abs(rel(res.f10, ref.f10)) <= tol + 1e-12
    assert mtf_slanted_edge(image.T).orientation == "horizontal"
    assert mtf_slanted_edge(1.0 - image).polarity == "falling"
    np.testing.assert_allclose(mtf_slanted_edge(1.0 - image).esf, 1.0 - ref.esf, atol=1e-12)


def test_input_types_roi_and_no_mutation():
    """float32 and integer inputs work, the input is not modified, and a roi gives the result of
    the cropped image (a second edge outside the roi is ignored)."""
    image = slanted_edge((100, 100), 5.0, 1.0)
    copy = image.copy()
    ref = mtf_slanted_edge(image)
    assert np.array_equal(image, copy)
    res32 = mtf_slanted_edge(image.astype(np.float32))
    assert abs(rel(res32.f50, ref.f50)) < 1e-4  # float32 rounding of the pixels (1e-7 relative)
    as_int = np.round(image * 4000).astype(np.uint16)
    assert abs(rel(quiet(mtf_slanted_edge, as_int).f50, ref.f50)) < 2e-3  # 12-bit quantisation
    big = np.concatenate([image, 1.0 - slanted_edge((100, 100), 20.0, 3.0)], axis=1)
    sub = mtf_slanted_edge(big, roi=(slice(None), slice(0, 100)))
    assert sub.f50 == ref.f50
    assert sub.roi == (0, 100, 0, 100)


# -- slanted edge: noise ------------------------------------------------------------------
def _noisy_trials(snr, sigma, angle, n, seed, kind="gaussian", **kwargs):
    rng = np.random.default_rng(seed)
    clean = slanted_edge((100, 100), angle, sigma, offset=0.23)
    return [quiet(mtf_slanted_edge, add_noise(clean, snr, rng, kind=kind), **kwargs) for _ in range(n)]


def test_noise_snr50_is_unbiased_and_its_uncertainty_is_calibrated():
    """SNR 50 (Gaussian), sigma = 1, 48 trials.

    * bias: |mean f50 error| < 3 standard errors + 0.1 % (the window's residual bias);
    * spread: the reported ``f50_std`` matches the empirical spread within 35 %
      (the sample standard deviation of 48 values has a relative error of
      1/sqrt(2*47) = 10 %, so 35 % is a 3.5-sigma band);
    * p95 of |f50 error| within 2 % (measured 1.0 %, issue goal 1.5 % on the full set).
    """
    sigma, angle = 1.0, 5.0
    truth = edge_true_crossing(0.5, sigma, angle)
    results = _noisy_trials(50, sigma, angle, 48, seed=11)
    errors = np.array([rel(r.f50, truth) for r in results])
    std = errors.std(ddof=1)
    assert abs(errors.mean()) < 3 * std / math.sqrt(errors.size) + 1e-3
    predicted = np.mean([r.f50_std for r in results]) / truth
    assert 1 / 1.35 < predicted / std < 1.35
    assert np.percentile(np.abs(errors), 95) < 0.02
    assert all(r.quality["symmetric"] for r in results) or np.mean([r.quality["symmetric"] for r in results]) > 0.9


def test_steep_edge_leaving_a_tall_roi():
    """A 40-deg edge in a 300 x 100 ROI leaves through the sides: two thirds of the rows hold no
    edge. At SNR 50 the 10 trials stay within 3 % (5 x the single-trial spread of ~0.6 %), the
    angle within 0.1 deg (a failure mode found by the benchmark gave 15 deg and -95 %)."""
    truth = edge_true_crossing(0.5, 1.0, 40.0)
    rng = np.random.default_rng(4)
    clean = slanted_edge((300, 100), 40.0, 1.0, offset=0.2)
    for _ in range(10):
        res = quiet(mtf_slanted_edge, add_noise(clean, 50, rng))
        assert abs(rel(res.f50, truth)) < 0.03
        assert abs(res.angle_deg - 40.0) < 0.1


def test_poisson_noise_snr10_bias_is_small():
    """SNR 10 with Poisson noise, sigma = 2, 60 trials: |mean f50 error| < 3 standard errors + 0.5 %
    (issue goal: bias <= 0.5 %); every trial gives finite f50 and f10."""
    sigma, angle = 2.0, 8.0
    truth = edge_true_crossing(0.5, sigma, angle)
    results = _noisy_trials(10, sigma, angle, 60, seed=5, kind="poisson")
    errors = np.array([rel(r.f50, truth) for r in results])
    assert np.all(np.isfinite(errors))
    assert all(math.isfinite(r.f10) for r in results)
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / math.sqrt(errors.size) + 5e-3


def test_real_part_lowers_the_noise_floor():
    """Where the true MTF is ~0 (sigma = 2, 0.5-0.8 cycles/pixel, truth < 1e-3), noise alone is
    reported. The modulus of a complex Gaussian noise value averages 1.25 sigma, the magnitude of
    its real part (used when the LSF is symmetric) 0.80 sigma: over 40 seeded trials the band
    averages must differ by a factor > 1.3 (expected 1.57; the means have ~5 % relative error)."""
    def band_mean(results):
        return np.mean([np.mean(r.mtf[(r.freq >= 0.5) & (r.freq <= 0.8)]) for r in results])

    real = _noisy_trials(10, 2.0, 6.0, 40, seed=3, symmetric=True)
    modulus = _noisy_trials(10, 2.0, 6.0, 40, seed=3, symmetric=False)
    assert edge_true_mtf(0.5, 2.0, 6.0) < 1e-3
    assert band_mean(modulus) / band_mean(real) > 1.3


def test_symmetry_test_prefers_modulus_for_an_asymmetric_lsf():
    """An exponential one-sided blur added to the edge makes the LSF asymmetric: the automatic
    test detects it at SNR 100 and reports the modulus (which then matches the noise-free
    modulus within 3 reported standard deviations)."""
    sigma, angle = 1.0, 5.0
    rows, cols = np.mgrid[0:100, 0:100]
    d = (cols - 49.5) * math.cos(math.radians(angle)) - (rows - 49.5) * math.sin(math.radians(angle))
    lam = 2.0  # exponential tail on the bright side
    esf = special.ndtr(d / sigma) - np.exp(-d / lam + sigma**2 / (2 * lam**2)) * special.ndtr(d / sigma - sigma / lam)
    clean = 0.1 + 0.8 * esf
    ref = mtf_slanted_edge(clean)
    assert not ref.quality["symmetric"]
    rng = np.random.default_rng(7)
    res = quiet(mtf_slanted_edge, add_noise(clean, 100, rng))
    assert not res.quality["symmetric"]
    assert abs(res.f50 - ref.f50) < 3 * res.f50_std


# -- slanted edge: quality warnings and bad input -------------------------------------
def test_clipped_edge_warns_and_is_recorded():
    image = np.minimum(slanted_edge((100, 100), 5.0, 1.0), 0.7)
    with pytest.warns(MTFWarning, match="clipped"):
        res = mtf_slanted_edge(image)
    assert res.quality["clipped_high"] and not res.quality["clipped_low"]
    assert res.quality["warnings"]


def test_saturated_integer_edge_warns():
    image = np.clip(np.round(slanted_edge((100, 100), 5.0, 1.0, low=20, high=300)), 0, 255).astype(np.uint8)
    with pytest.warns(MTFWarning, match="clipped"):
        mtf_slanted_edge(image)


def test_clean_and_quantised_edges_do_not_warn():
    """Flat noise-free plateaus (exactly constant, or quantised to 8 bits) are not clipping."""
    for image in (slanted_edge((100, 100), 5.0, 1.0),
                  np.round(slanted_edge((100, 100), 5.0, 1.0, low=20, high=220)).astype(np.uint8)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", MTFWarning)
            res = mtf_slanted_edge(image)
        assert not res.quality["clipped_high"] and not res.quality["clipped_low"]


def test_low_contrast_and_few_rows_warn():
    rng = np.random.default_rng(0)
    with pytest.warns(MTFWarning, match="contrast-to-noise"):
        res = mtf_slanted_edge(add_noise(slanted_edge((200, 100), 5.0, 2.0), 4, rng))
    assert res.quality["cnr"] < 5
    with pytest.warns(MTFWarning, match="low edge contrast"):
        mtf_slanted_edge(slanted_edge((100, 100), 5.0, 1.0, low=0.5, high=0.51))
    with pytest.warns(MTFWarning, match="rows cross the edge"):
        mtf_slanted_edge(slanted_edge((12, 100), 5.0, 1.0))


# -- assumptions: levels constant along the edge, a straight edge, a measurable crossing -------
def _recorded(res, fragment):
    """The warning sentence containing ``fragment`` is in the result, its quality and its JSON."""
    assert any(fragment in m for m in res.warnings)
    assert tuple(res.quality["warnings"]) == res.warnings
    assert any(fragment in m for m in res.to_dict()["warnings"])
    assert any(fragment in m for m in json.loads(res.to_json())["warnings"])


@pytest.mark.parametrize("angle", [2.0, 5.0, 15.0, 30.0, 44.0])
def test_gain_ramp_along_the_edge_is_corrected(angle):
    """+-10 % gain along a noise-free edge: the issue-15 accuracy goals hold and the trend is reported.

    Without the mapping onto common levels the errors were 0.3-1.7 % at these tilts.
    """
    image = slanted_edge((100, 100), angle, 1.0, offset=0.17) * along_edge_gain((100, 100), angle, 0.1)
    with pytest.warns(MTFWarning, match="changes by up to 10.0 % along the edge"):
        res = mtf_slanted_edge(image)
    assert abs(rel(res.f50, edge_true_crossing(0.5, 1.0, angle))) <= 3e-4
    assert abs(rel(res.f10, edge_true_crossing(0.1, 1.0, angle))) <= 3e-3
    assert res.quality["level_corrected"]
    # the step's relative change at the ROI's extreme along-edge positions is the ramp's amplitude
    assert res.quality["level_trend"] == pytest.approx(0.1, abs=2e-3)
    assert abs(res.angle_deg - angle) < 2e-3
    _recorded(res, "along the edge")


def test_noisy_gain_ramp_gives_the_flat_edge_answer():
    """SNR 50 edges with and without a +-10 % ramp (the same noise): the mean f50 and f10 agree.

    Tolerance: 3 standard errors of the paired difference over 30 seeds.
    """
    rng = np.random.default_rng(15)
    clean = slanted_edge((100, 100), 5.0, 1.0, offset=0.1)
    gain = along_edge_gain((100, 100), 5.0, 0.1)
    diffs = []
    for _ in range(30):
        noise = add_noise(clean, 50, rng) - clean
        flat = quiet(mtf_slanted_edge, clean + noise)
        ramp = quiet(mtf_slanted_edge, clean * gain + noise)
        assert ramp.quality["level_corrected"] and not flat.quality["level_corrected"]
        diffs.append((ramp.f50 - flat.f50, ramp.f10 - flat.f10))
    diffs = np.array(diffs)
    standard_error = diffs.std(axis=0, ddof=1) / math.sqrt(len(diffs))
    assert np.all(np.abs(diffs.mean(axis=0)) <= 3.0 * standard_error + 1e-6)


def test_constant_levels_are_not_remapped_in_noise():
    """A trend fitted to noise alone is not a trend: 30 noisy flat edges are left as they are."""
    rng = np.random.default_rng(7)
    for kind in ("gaussian", "poisson"):
        for angle in (2.0, 30.0, 44.0):
            for _ in range(5):
                res = quiet(mtf_slanted_edge, add_noise(slanted_edge((100, 100), angle, 1.0), 10, rng, kind=kind))
                assert not res.quality["level_corrected"] and res.quality["level_trend"] == 0.0


def test_edge_fit_residual_matches_the_noise_on_straight_edges():
    """The centroid scatter predicted from the pixel noise is the measured one (ratio 1 +- its spread).

    With ~100 rows the ratio of two rms values has a spread of about
    sqrt(1/(2*98)) = 0.07 per trial; over 40 trials the mean is within 0.035
    (3 standard errors) of 1, and none is flagged.
    """
    rng = np.random.default_rng(3)
    ratios = []
    for k in range(40):
        image = add_noise(slanted_edge((100, 100), (2.0, 5.0, 20.0, 40.0)[k % 4], 1.0), (50, 10)[k % 2], rng)
        with warnings.catch_warnings():
            warnings.simplefilter("error", MTFWarning)
            res = mtf_slanted_edge(image)
        ratios.append(res.quality["edge_fit_rms"] / res.quality["edge_fit_rms_expected"])
        assert res.quality["straight"] and res.warnings == ()
    assert abs(np.mean(ratios) - 1.0) < 0.035


@pytest.mark.parametrize("sag", [0.5, 1.5])
def test_curved_edge_is_flagged(sag):
    """A bent edge is flagged, and the residual about the line is the bend's.

    The rms of ``s (1 - u^2)`` about its best line over ``u`` in [-1, 1] is
    ``s sqrt(4/45) = 0.298 s``. A row centroid taken under a window centred on
    the fitted line follows an offset edge with a gain below 1 (0.80 for this
    blur and window, noise-free), so the measured rms lies between 0.7 and 1
    times the bend's (combined with the noise's).
    """
    rng = np.random.default_rng(int(10 * sag))
    with pytest.warns(MTFWarning, match="the edge is not straight"):
        res = mtf_slanted_edge(add_noise(curved_edge((100, 100), 5.0, 1.0, sag), 50, rng))
    assert not res.quality["straight"]
    bend = sag * math.sqrt(4.0 / 45.0)
    noise = res.quality["edge_fit_rms_expected"]
    assert math.hypot(0.7 * bend, noise) < res.quality["edge_fit_rms"] < math.hypot(bend, 1.3 * noise)
    _recorded(res, "not straight")


def _textured(shape, angle_deg, sag, rng, *, strength=0.3, grain=3.0):
    """Edge (sigma 1 px) whose bright plateau carries a smooth multiplicative texture, plus SNR-50 noise.

    The texture is white noise blurred by ``grain`` px, scaled to ``strength`` of the step (RMS),
    and multiplies the part of each pixel above the dark level (a textured reflector). It fades in
    (raised cosine) from 4 to 8 px beyond the edge, outside the row-centroid window: texture
    within the edge's own pixels really moves the row positions (0.2 px at 30 %, flagged).
    """
    from scipy import ndimage

    base = slanted_edge(shape, angle_deg, 1.0) if sag == 0 else curved_edge(shape, angle_deg, 1.0, sag)
    low, high = float(base.min()), float(base.max())
    # distance from the edge (px) from the profile itself (pixel-integrated: sigma^2 = 1 + 1/12)
    distance = math.sqrt(1.0 + 1.0 / 12.0) * special.ndtri(np.clip((base - low) / (high - low), 1e-12, 1 - 1e-12))
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip((distance - 4.0) / 4.0, 0.0, 1.0))
    field = ndimage.gaussian_filter(rng.standard_normal(shape), grain)
    field *= strength / field.std()
    return add_noise(low + (base - low) * (1.0 + fade * field), 50, rng)


def test_texture_on_one_side_does_not_make_a_straight_edge_bent():
    """A straight edge with a 30 % (RMS) texture on its bright side and a clean dark side.

    The noise inside the ESF bins of the bright side is then mostly texture
    (several times the pixel noise); the expected row scatter comes from the
    noise along the edge, which the smooth texture does not inflate, and the
    straight edge is not flagged (10 seeds, 2 tilts), and the measured scatter is the predicted one:
    the ratio of the two rms values has a spread of sqrt(1/(2*98)) = 0.07, so 0.75-1.3 is > 3.5 of
    them (the bin noise would predict 2-3 times the scatter).
    """
    rng = np.random.default_rng(21)
    for k in range(10):
        res = quiet(mtf_slanted_edge, _textured((100, 100), (5.0, 20.0)[k % 2], 0.0, rng))
        assert res.quality["noise_sides"][1] > 3 * res.quality["noise_sides"][0]
        assert res.quality["straight"] and res.quality["locatable"], res.warnings
        assert 0.75 < res.quality["edge_fit_rms"] / res.quality["edge_fit_rms_expected"] < 1.3
        assert not any("not straight" in w for w in res.warnings)


def test_curved_edge_with_a_textured_side_is_flagged():
    """The same texture on a bent edge (sag 1.5 px, rms 0.45 px about its line) is still flagged:
    before, the texture's share of the bin noise inflated the expected scatter (a photograph's coat:
    88 px expected for 2.3 px measured)."""
    rng = np.random.default_rng(22)
    for _ in range(5):
        res = quiet(mtf_slanted_edge, _textured((100, 100), 5.0, 1.5, rng))
        assert not res.quality["straight"]
        assert res.quality["edge_fit_rms"] > 3 * res.quality["edge_fit_rms_expected"]
        _recorded(res, "not straight")


def test_a_bend_is_judged_against_the_edge_width():
    """The same 0.4-px sag (0.12 px rms about the line) at SNR 200: flagged on a 1-px blur, where it
    lowers f50 by 0.3-0.7 %, not on a 3-px blur, where it smears the LSF by e^2 / (2 s^2) = 0.08 %
    (threshold 0.05 px per px of width). The 3-px f50 stays within 0.4 % of the straight edge's
    (its noise spread over seeds is ~0.1 %); a real case is an X-ray holder edge, 2.3 px wide, whose
    rows scatter 0.09 px beyond the white-noise prediction."""
    for seed in range(3):
        rng = np.random.default_rng(40 + seed)
        sharp = quiet(mtf_slanted_edge, add_noise(curved_edge((100, 100), 5.0, 1.0, 0.4), 200, rng))
        wide = quiet(mtf_slanted_edge, add_noise(curved_edge((100, 100), 5.0, 3.0, 0.4), 200, rng))
        assert not sharp.quality["straight"] and wide.quality["straight"], wide.warnings
        assert wide.quality["edge_fit_rms"] > 3 * wide.quality["edge_fit_rms_expected"]  # the bend is seen
        assert wide.f50 == pytest.approx(edge_true_crossing(0.5, 3.0, 5.0), rel=4e-3)


def test_an_edge_too_weak_to_locate_is_flagged():
    """A step of 2 noise sigmas (above the 1.5 refusal): the noise alone scatters the row
    positions by more than 0.5 px (measured 0.85), so the edge is called unlocatable, not straight."""
    rng = np.random.default_rng(23)
    image = add_noise(slanted_edge((60, 60), 5.0, 1.0), 2.0, rng)
    res = quiet(mtf_slanted_edge, image)
    assert res.quality["edge_fit_rms_expected"] > 0.5
    assert not res.quality["locatable"] and not res.quality["straight"]
    _recorded(res, "cannot be located row by row")


def test_mtf_above_the_level_beyond_nyquist_is_flagged():
    """A 0.3-px blur keeps the MTF at 0.41 at Nyquist (f10 = 0.76 cycles/pixel): flagged, not hidden."""
    with pytest.warns(MTFWarning, match="at the pixel Nyquist frequency"):
        res = mtf_slanted_edge(slanted_edge((100, 100), 5.0, 0.3))
    assert res.quality["beyond_nyquist"]
    assert res.quality["nyquist_mtf"] == pytest.approx(edge_true_mtf(0.5, 0.3, 5.0), abs=2e-3)
    _recorded(res, "Nyquist")


def test_crossing_inside_its_noise_band_is_flagged():
    """A short, noisy edge: where 2 sigma of the curve's noise reach 0.1, f10 is flagged; f50 is not."""
    rng = np.random.default_rng(4)
    with pytest.warns(MTFWarning, match="0.1 crossing .* lies inside the curve's noise band"):
        res = mtf_slanted_edge(add_noise(slanted_edge((30, 100), 5.0, 1.0), 8, rng))
    sd_at_f10 = float(np.interp(res.f10, res.freq, res.mtf_std))
    assert res.quality["f10_in_noise"] and 2.0 * sd_at_f10 >= 0.1
    assert not res.quality["f50_in_noise"]
    _recorded(res, "noise band")


def test_photograph_edge_is_not_a_clean_edge():
    """The coat's shoulder against the sky in skimage's camera(): sharpened, curved, uneven.

    Before these checks it gave MTF10 = 0.69 cycles/pixel with an edge-fit
    rms of 1.2 px and no warning. The level trend (11.5 %) is not corrected on
    a bent edge: the mapping had moved f10 from 0.329 to 0.691; the uncorrected
    value is kept and the warning says it is not the MTF of a straight edge.
    """
    data = pytest.importorskip("skimage.data")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mtf_slanted_edge(data.camera(), roi=(slice(92, 122), slice(140, 165)))
    q = res.quality
    assert not q["straight"] and q["edge_fit_rms"] > 5 * q["edge_fit_rms_expected"]
    assert q["beyond_nyquist"] and res.f10 == pytest.approx(0.329, abs=0.002)
    assert not q["level_corrected"] and q["level_trend"] > 0.1
    _recorded(res, "not the MTF of a straight edge")
    assert {str(w.message) for w in caught if issubclass(w.category, MTFWarning)} == set(res.warnings)
    _recorded(res, "not straight")
    _recorded(res, "Nyquist")


def test_clean_edges_give_no_warning():
    """Noise-free and SNR-50 straight edges with constant levels: no warning, empty result warnings."""
    rng = np.random.default_rng(0)
    for angle in (2.0, 15.0, 44.0):
        for image in (slanted_edge((100, 100), angle, 1.0), add_noise(slanted_edge((100, 100), angle, 1.0), 50, rng)):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                res = mtf_slanted_edge(image)
            assert res.warnings == () and res.to_dict()["warnings"] == []
            assert res.quality["straight"] and not res.quality["beyond_nyquist"]


@pytest.mark.parametrize(
    "image, kwargs, match",
    [
        (np.zeros((4, 20, 20)), {}, "2-D"),
        (np.full((50, 50), np.nan), {}, "NaN"),
        (np.ones((50, 50)), {}, "constant"),
        ("noise", {}, "no detectable edge"),
        ("edge", {"roi": (slice(90, 130), slice(0, 50))}, "outside"),
        ("edge", {"roi": (slice(0, 5), slice(0, 50))}, "at least 8"),
        ("edge", {"oversample": 0}, "oversample"),
        ("edge", {"oversample": 2.5}, "oversample"),
        ("border", {}, "too close to the roi border"),
    ],
)
def test_bad_input_raises_value_error(image, kwargs, match):
    if isinstance(image, str):
        if image == "noise":
            image = np.random.default_rng(1).normal(size=(80, 80))
        elif image == "edge":
            image = slanted_edge((100, 100), 5.0, 1.0)
        else:
            image = slanted_edge((100, 100), 5.0, 1.0, offset=48.5)
    with pytest.raises(ValueError, match=match):
        mtf_slanted_edge(image, **kwargs)


def test_complex_input_is_a_type_error():
    with pytest.raises(TypeError, match="real"):
        mtf_slanted_edge(slanted_edge((50, 50), 5.0, 1.0) + 0j)


# -- point source -----------------------------------------------------------------------
def test_validation_case_13_point_sampled_spot():
    """ALGORITHMS.md case 13: Gaussian spot sigma = 1.5 point-sampled on 65 x 65 (box 65).

    Ring values (at each ring's mean |f|) match exp(-2 pi^2 sigma^2 f^2) within 1e-3 up to
    0.4 cycles/pixel; f50 within 0.5 % of 0.12493 (measured 3e-6 relative); a sub-pixel
    shift changes the curve by < 1e-4 (aliasing of a sigma = 1.5 spot is ~1e-5).
    """
    sigma = 1.5
    spot = gaussian_bead((65, 65), sigma, center=(32.0, 32.0), pixel_integrated=False)
    res = mtf_point_source(spot, roi_size=32)
    band = res.freq <= 0.4
    assert np.max(np.abs(res.mtf[band] - np.exp(-2 * np.pi**2 * sigma**2 * res.freq[band] ** 2))) < 1e-3
    assert abs(rel(res.f50, F50_GAUSS / sigma)) < 5e-3
    shifted = mtf_point_source(gaussian_bead((65, 65), sigma, center=(32.37, 31.58), pixel_integrated=False),
                               roi_size=32)
    assert np.max(np.abs(shifted.mtf - res.mtf)) < 1e-4


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_pixel_integrated_beads_meet_the_goal(sigma):
    """Pixel-integrated Gaussian beads at a random sub-pixel position, default box (33 px):
    f50 within 0.1 % (issue goal) of the ring-averaged true MTF."""
    res = mtf_point_source(gaussian_bead((81, 81), sigma, center=(40.37, 39.81), amplitude=50.0, background=3.0))
    assert abs(rel(res.f50, bead_true_crossing(0.5, sigma))) < 1e-3
    assert res.center == pytest.approx((40.37, 39.81), abs=0.02)


@pytest.mark.parametrize("shape", ["sphere", "disc"])
def test_bead_diameter_is_divided_out(shape):
    """A bead of diameter 4 px blurred by sigma = 1.5: dividing by the bead's transform recovers
    the PSF's MTF (f50 within 0.1 %), which the uncorrected curve underestimates by > 5 %."""
    sigma, diameter = 1.5, 4.0
    size = 96
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    f = np.hypot(fx, fy)
    spectrum = bead_transform(f, diameter, shape) * np.exp(-2 * np.pi**2 * sigma**2 * f**2) * np.sinc(fx) * np.sinc(fy)
    image = 5.0 + 100.0 * np.fft.ifft2(spectrum * np.exp(-2j * np.pi * (fy * 47.3 + fx * 48.6))).real
    truth = bead_true_crossing(0.5, sigma)
    corrected = mtf_point_source(image, roi_size=20, bead_diameter=diameter, bead_shape=shape)
    raw = mtf_point_source(image, roi_size=20)
    assert abs(rel(corrected.f50, truth)) < 1e-3
    assert rel(raw.f50, truth) < -0.05
    if shape == "sphere":  # the generator in _edges builds the same object
        again = mtf_point_source(sphere_bead((96, 96), diameter, sigma, center=(47, 48)), roi_size=20,
                                 bead_diameter=diameter)
        assert abs(rel(again.f50, truth)) < 1e-3


def test_dark_bead_background_and_center():
    """An absorbing (dark) bead on a bright background gives the bright bead's MTF; a background
    offset does not matter; an explicit centre gives the same box as the automatic search."""
    bead = gaussian_bead((81, 81), 1.5, center=(40.3, 40.6), amplitude=100.0, background=10.0)
    ref = mtf_point_source(bead)
    dark = mtf_point_source(500.0 - bead)
    assert dark.quality["polarity"] == "dark"
    np.testing.assert_allclose(dark.mtf, ref.mtf, atol=1e-12)
    np.testing.assert_allclose(mtf_point_source(bead + 1e3).mtf, ref.mtf, atol=1e-9)
    np.testing.assert_allclose(mtf_point_source(bead, center=(40, 41)).mtf, ref.mtf, atol=1e-12)


def test_point_source_noise_uncertainty_and_warnings():
    """Peak SNR 200, 40 trials: |mean f50 error| < 3 standard errors + 0.3 %; a saturated peak warns."""
    rng = np.random.default_rng(2)
    bead = gaussian_bead((81, 81), 1.5, center=(40.3, 40.6), amplitude=100.0, background=10.0)
    peak = bead.max() - 10.0
    truth = bead_true_crossing(0.5, 1.5)
    errors = np.array([rel(quiet(mtf_point_source, bead + rng.normal(0, peak / 200, bead.shape)).f50, truth)
                       for _ in range(40)])
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / math.sqrt(errors.size) + 3e-3
    with pytest.warns(MTFWarning, match="saturated"):
        mtf_point_source(np.minimum(bead, 10.0 + 0.6 * peak))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"center": (200, 10)}, "outside the image"),
        ({"center": (5, 5), "roi": (slice(20, 60), slice(20, 60))}, "outside the roi"),
        ({"roi_size": 2}, "at least 3"),
        ({"roi_size": 40}, "does not fit"),
        ({"bead_diameter": -1.0}, "bead_diameter"),
        ({"bead_shape": "cube", "bead_diameter": 2.0}, "bead_shape"),
        ({"roi": (slice(0, 200), slice(0, 10))}, "outside"),
    ],
)
def test_point_source_bad_input(kwargs, match):
    bead = gaussian_bead((81, 81), 1.5, center=(40.3, 40.6))
    with pytest.raises(ValueError, match=match):
        mtf_point_source(bead, **kwargs)


def test_pure_noise_has_no_point_source():
    with pytest.raises(ValueError, match="point source"):
        mtf_point_source(np.random.default_rng(0).normal(size=(81, 81)), roi_size=8)


# -- the documented facade ---------------------------------------------------------------
def test_estimator_attributes_units_and_json(tmp_path):
    image = slanted_edge((100, 100), 5.0, 1.0)
    est = MTFEstimator(image, pixel_size=0.65, unit="um")
    res = est.result
    assert isinstance(res, MTFResult)
    assert est.f50 == res.f50 and est.f10 == res.f10
    np.testing.assert_array_equal(est.MTF, res.mtf)
    np.testing.assert_allclose(est.freq_phys, est.freq / 0.65)
    assert est.resolution_50 == pytest.approx(0.65 / est.f50)
    assert est.resolution_10 == pytest.approx(0.65 / est.f10)
    assert res.resolution_50_half == pytest.approx(est.resolution_50 / 2)
    assert est.angle == pytest.approx(5.0, abs=0.01)
    # the result does not depend on pixel_size in cycles/pixel
    assert MTFEstimator(image).f50 == est.f50
    data = json.loads(res.to_json())
    assert data["units"]["resolution_50"].startswith("um")
    assert data["f50"] == pytest.approx(est.f50)
    assert "MTF50" in res.summary()


@pytest.mark.parametrize("method", ["edge", "point"])
def test_plot_saves_the_documented_file_and_returns_the_curve(tmp_path, method):
    import matplotlib.pyplot as plt

    if method == "edge":
        est = MTFEstimator(slanted_edge((100, 100), 5.0, 1.0), pixel_size=2.0, unit="um")
    else:
        est = MTFEstimator(gaussian_bead((81, 81), 1.5, center=(40.2, 40.7)), method="point")
    before = plt.get_fignums()
    freq, mtf = est.plot(output_dir=tmp_path)
    assert (tmp_path / f"MTF_{method}.png").stat().st_size > 10_000
    assert freq is est.freq and mtf is est.MTF
    assert plt.get_fignums() == before  # no pyplot figure opened, nothing shown
    axis = est.figure.axes[0]
    has_top = any(type(child).__name__ == "SecondaryAxis" for child in axis.get_children())
    assert has_top == (method == "edge")  # physical axis only when pixel_size != 1
    dashed = [line for line in axis.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2  # f50 and f10


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "knife"}, "method"),
        ({"method": 3}, "method"),
        ({"oversample": 0}, "oversample"),
        ({"bead_diameter": 3.0}, "point"),
        ({"pixel_size": -1.0}, "pixel_size"),
    ],
)
def test_estimator_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MTFEstimator(slanted_edge((60, 60), 5.0, 1.0), **kwargs)


def test_holder_edge_of_an_x_ray_projection_is_not_called_bent():
    """The machined holder edge of a real X-ray projection (tests/data/real_savu_i12_sinogram.npz,
    the roi of tests/test_real_data.py), 0.47 degrees from a column, 2.3 px wide.

    Its rows scatter 0.111 px about the line where the white pixel noise explains 0.06 px (the
    bright side's noise is correlated, 0.8 between neighbouring columns); the 0.09-px excess smears
    this LSF by 0.09^2 / (2 * 2.3^2) = 0.08 % of f50, below the straightness threshold (0.05 px
    per px of width), so only the no-slant warnings (aliased) remain.
    """
    from pathlib import Path

    with np.load(Path(__file__).parent / "data" / "real_savu_i12_sinogram.npz") as f:
        raw, dark, flat = f["projection0"], f["dark"], f["flat"]
    t = (raw.astype(np.float32) - dark) / np.maximum(flat - dark, 1.0)
    res = quiet(mtf_slanted_edge, t[80:134, 15:65])
    q = res.quality
    assert abs(res.angle_deg) < 1.0 and q["aliased"]
    assert q["straight"] and q["locatable"]
    assert q["edge_fit_rms"] > q["edge_fit_rms_expected"]  # the excess is there, but too small to matter
    assert not any("not straight" in w for w in res.warnings)
    _recorded(res, "aliased")
