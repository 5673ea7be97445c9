"""Statistical validation of ``toupy.resolution.fsc`` / ``ssnr`` against known answers.

These tests implement the validation cases 1-7 of ``spec/ALGORITHMS.md`` §10 (plus the
decisions D1-D6 they rest on). They check *science*, not implementation details: every
expected value is either exact algebra or an analytic expectation, and every tolerance of a
simulated quantity is derived from its sampling distribution (the derivation is in each
docstring). All random numbers come from seeded ``numpy.random.default_rng`` generators.

Facts used throughout (real white noise, full-FFT shell with ``n`` voxels):

* The shell vectors of two independent white-noise images are independent isotropic Gaussian
  vectors in R^n (each Friedel pair carries two real degrees of freedom and is counted twice,
  self-conjugate voxels carry one and are counted once), so the signed FSC of the shell is a
  correlation coefficient ``r`` with ``E r = 0`` and ``E r^2 = 1/n`` exactly
  (``r^2 ~ Beta(1/2, (n-1)/2)``, ``Var(n r^2) = 2(n-1)/(n+2) <= 2``).
* Distinct shells use disjoint Fourier coefficients and are therefore independent, so shells
  and repetitions can be pooled.
* With signal power ``P_s`` and independent noise power ``P_n`` in each half, ``E FSC ~
  P_s/(P_s+P_n)`` (ratio estimator, bias O(1/n)).

Scratch simulations with an independent numpy reference implementation (not part of the
repository) were used to confirm every tolerance below; their numbers are quoted.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toupy.resolution import FSCResult, SSNRResult, fsc, ssnr
from toupy.resolution._shells import shell_index
from toupy.resolution._thresholds import threshold_curve

S_HALFBIT = (math.sqrt(2.0) - 1.0) / 2.0  # per-half SNR of the half-bit criterion (exact)
S_ONEBIT = 0.5


# --------------------------------------------------------------------------------------------
# helpers (test-data generators only; no FSC is computed here)
# --------------------------------------------------------------------------------------------
def _vhs_threshold(n, snr):
    """van Heel & Schatz (2005) information curve, written from the paper's formula."""
    n = np.asarray(n, dtype=float)
    rs = math.sqrt(snr)
    return (snr + (2.0 * rs + 1.0) / np.sqrt(n)) / (snr + 1.0 + 2.0 * rs / np.sqrt(n))


def _radial_cpx(shape):
    """|f| in cycles/pixel on the full-FFT grid (fftfreq per axis, isotropic pixels)."""
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    return np.sqrt(sum(g**2 for g in grids))


def _lowpass_white(rng, shape, fc, bands=()):
    """Unit-variance white noise ideally low-passed: zero every Fourier component with
    |f| > fc (cpx). Extra pass bands ``(lo, hi)`` may be kept as well."""
    fr = _radial_cpx(shape)
    keep = fr <= fc
    for lo, hi in bands:
        keep |= (fr >= lo) & (fr <= hi)
    spec = np.fft.fftn(rng.standard_normal(shape)) * keep
    # keep is Friedel-symmetric, so the inverse is real up to round-off
    return np.fft.ifftn(spec).real


def _gaussian_blurred_white(rng, reps, n, sigma):
    """``reps`` n-by-n unit-variance white-noise images blurred by a Gaussian PSF of std
    ``sigma`` px, done exactly in Fourier space: amplitude transfer exp(-2 pi^2 sigma^2 f^2),
    hence power spectrum exp(-4 pi^2 sigma^2 f^2) relative to the unit white power."""
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.rfftfreq(n)[None, :]
    transfer = np.exp(-2.0 * np.pi**2 * sigma**2 * (fy**2 + fx**2))
    white = rng.standard_normal((reps, n, n))
    return np.fft.irfft2(np.fft.rfft2(white) * transfer, s=(n, n))


def _blur_crossing_cpx(sigma, sigma_n, t):
    """Analytic crossing of a constant threshold ``t`` (§10 case 4).

    Signal: unit-variance white noise blurred by a Gaussian of std ``sigma`` px, so
    ``P_s(f) = exp(-4 pi^2 sigma^2 f^2)`` (relative to the white power, i.e. P_s(0) = 1).
    Noise: white, std ``sigma_n`` per half, ``P_n = sigma_n^2``.
    ``FSC(f) = P_s/(P_s+P_n) = t``  <=>  ``f = sqrt(ln(P_s(0)(1-t)/(P_n t)))/(2 pi sigma)``.
    """
    return math.sqrt(math.log((1.0 - t) / (sigma_n**2 * t))) / (2.0 * math.pi * sigma)


def _interp_first_crossing(curve, thr):
    """D2 applied to given curves: first s>=1 with curve < thr, linear in curve-thr."""
    d = np.asarray(curve, float) - np.asarray(thr, float)
    for s in range(1, d.size):
        if d[s] < 0:
            if s == 1:
                return None, False
            return (s - 1) + d[s - 1] / (d[s - 1] - d[s]), False
    return float(d.size - 1), True


CROSSING_FIELDS = (
    "fn_res",
    "fn_res_cpx",
    "resolution_full",
    "resolution_half",
    "nyquist_limited",
    "crossing_shell",
)


# --------------------------------------------------------------------------------------------
# Case 1: exact identities
# --------------------------------------------------------------------------------------------
IDENTITY_CASES = [
    pytest.param((64, 64), {"window": None}, id="64x64-nowindow"),
    pytest.param((64, 64), {}, id="64x64-default"),
    pytest.param((65, 64), {"window": None}, id="65x64-nowindow"),
    pytest.param((65, 64), {}, id="65x64-default"),
    pytest.param((64, 65), {"window": "tukey", "apod_width": 8}, id="64x65-tukey"),
    pytest.param((48, 52), {"window": "hann"}, id="48x52-hann"),
    pytest.param((17, 20, 22), {"window": None}, id="17x20x22-nowindow"),
    pytest.param((17, 20, 22), {"window": "circle", "apod_width": 4}, id="17x20x22-circle"),
    pytest.param((16, 16, 16), {"window": "tukey", "apod_width": 3}, id="16cube-tukey"),
]


@pytest.mark.parametrize("shape, kwargs", IDENTITY_CASES)
def test_identical_images_give_one(shape, kwargs):
    """Case 1: FSC(a, a) = 1 in every shell s >= 1 (all of them hold power for these shapes).

    Exact algebra: the cross sum equals both power sums, so the ratio is 1 up to float64
    round-off (<= 1e-12). Odd and non-square/non-cubic shapes exercise the shell scaling.
    """
    a = np.random.default_rng(1).standard_normal(shape)
    res = fsc(a, a, **kwargs)
    assert res.fsc.dtype == np.float64
    assert res.fsc.shape == (max(shape) // 2 + 1,)
    assert np.all(np.isfinite(res.fsc[1:]))
    np.testing.assert_allclose(res.fsc[1:], 1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape, kwargs", IDENTITY_CASES)
def test_negated_image_gives_minus_one(shape, kwargs):
    """Case 1 / D1: FSC(a, -a) = -1 exactly (signed real part). An ``abs`` implementation
    (toupy 0.2.2) would return +1."""
    a = np.random.default_rng(2).standard_normal(shape)
    res = fsc(a, -a, **kwargs)
    np.testing.assert_allclose(res.fsc[1:], -1.0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape, kwargs", IDENTITY_CASES)
@pytest.mark.parametrize("scale, offset", [(3.7, 250.0), (0.02, -5.0)])
def test_affine_copy_gives_one(shape, kwargs, scale, offset):
    """Case 1: FSC(a, c*a + d) = 1 for c > 0, because each image's (window-weighted) mean is
    removed before windowing: c*a + d - (c*m_w(a) + d) = c*(a - m_w(a)).
    Round-off with an offset ~250x the signal std is ~1e-13, tolerance 1e-12."""
    a = np.random.default_rng(3).standard_normal(shape)
    res = fsc(a, scale * a + offset, **kwargs)
    np.testing.assert_allclose(res.fsc[1:], 1.0, rtol=0, atol=1e-12)


def test_mean_removed_dc_shell_is_nan():
    """Contract: with mean removal shell 0 carries no power, so its FSC is NaN (excluded from
    every decision), while all other shells are finite."""
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 64, 64)) + 10.0
    for kwargs in ({"window": None}, {}):
        res = fsc(a, b, **kwargs)
        assert np.isnan(res.fsc[0])
        assert np.all(np.isfinite(res.fsc[1:]))


@pytest.mark.parametrize("shape", [(64, 64), (48, 64), (12, 40, 40)])
def test_pixels_outside_window_support_do_not_matter(shape):
    """Contract (window-weighted mean, D5): pixels where the circle window is 0 (corners beyond
    the disc of radius min(nr, nc)/2, 3-D: on every slice) influence neither the mean that is
    removed nor the windowed image, so replacing them by large arbitrary values leaves the curve
    unchanged (round-off bound 1e-9). An unweighted mean would pull the corners in and leak the
    window's spectrum into the low shells."""
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((2,) + shape)
    nr, nc = shape[-2:]
    rows = np.arange(nr)[:, None] - (nr - 1) / 2.0
    cols = np.arange(nc)[None, :] - (nc - 1) / 2.0
    outside = np.sqrt(rows**2 + cols**2) > min(nr, nc) / 2.0 + 1.0  # 1 px margin: w == 0 there
    assert outside.sum() > 0.1 * outside.size
    a2, b2 = a.copy(), b.copy()
    a2[..., outside] = 1e3 + 100 * rng.standard_normal(a2[..., outside].shape)
    b2[..., outside] = -500.0
    kw = {"window": "circle", "apod_width": 4}
    ref = fsc(a, b, **kw).fsc
    np.testing.assert_allclose(fsc(a2, b2, **kw).fsc[1:], ref[1:], rtol=0, atol=1e-9)


def test_complex_identities_ignore_global_phase():
    """D1: complex inputs use the modulus of the complex cross sum, so FSC(a, -a) = FSC(a, i a)
    = FSC(a, exp(i phi) a) = +1 (a global phase offset between reconstructions is ignored)."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((48, 50)) + 1j * rng.standard_normal((48, 50))
    for factor in (1.0, -1.0, 1j, np.exp(0.7j)):
        res = fsc(a, factor * a, window=None)
        np.testing.assert_allclose(res.fsc[1:], 1.0, rtol=0, atol=1e-12)


def test_toupy_legacy_window_folds_sign():
    """D5: window='toupy' reproduces toupy 0.2.2, which takes |sum F1 F2*| and hence gives +1
    for (a, -a); the default path gives -1 (D1). Documents that the two differ on purpose."""
    a = np.random.default_rng(6).standard_normal((64, 64))
    legacy = fsc(a, -a, window="toupy")
    np.testing.assert_allclose(legacy.fsc[1:], 1.0, rtol=0, atol=1e-6)
    assert np.all(fsc(a, -a).fsc[1:] < -0.999999)


def test_integer_and_float32_inputs():
    """Any real dtype is accepted; integer (-> float32) and float32 inputs agree with the
    float64 computation to float32 round-off (1e-4 absolute on a correlation coefficient)."""
    rng = np.random.default_rng(7)
    s = rng.standard_normal((64, 64)) * 50
    a = np.round(s + rng.standard_normal((64, 64)) * 30).astype(np.int16)
    b = np.round(s + rng.standard_normal((64, 64)) * 30).astype(np.int16)
    ref = fsc(a.astype(np.float64), b.astype(np.float64)).fsc
    for x, y in ((a, b), (a.astype(np.float32), b.astype(np.float32)), (a.astype(np.int64), b)):
        got = fsc(x, y).fsc
        assert got.dtype == np.float64
        np.testing.assert_allclose(got[1:], ref[1:], rtol=0, atol=1e-4)


# --------------------------------------------------------------------------------------------
# Case 2: independent white noise
# --------------------------------------------------------------------------------------------
def _noise_fsc_stack(shape, reps, seed):
    rng = np.random.default_rng(seed)
    curves = []
    res = None
    for _ in range(reps):
        a = rng.standard_normal(shape)
        b = rng.standard_normal(shape)
        res = fsc(a, b, window=None)
        curves.append(res.fsc)
    return np.array(curves)[:, 1:], np.asarray(res.n_per_shell, float)[1:]


def test_white_noise_2d_unbiased_and_unit_std():
    """Case 2 (2-D, 128^2, 200 independent pairs, no window, all 64 shells s >= 1).

    Mean: per shell the average of 200 FSCs has std 1/sqrt(n*reps), so
    z_s = mean_s * sqrt(n_s*reps) ~ N(0, 1). Per shell we require |z_s| < 4.5 (two-sided
    p = 7e-6, Bonferroni over 64 shells: family-wise false-alarm 4e-4) and for the average over
    the 64 independent shells |mean z| < 0.5 (= 4 standard errors, 1/8 each). The toupy ``abs``
    variant has E FSC = 0.798/sqrt(n), i.e. z = 0.798*sqrt(200) = 11.3 in every shell.

    Spread: std_s * sqrt(n_s) estimates 1 (E r^2 = 1/n). With 200 reps its standard error is
    ~0.05 per shell (sim: 0.85-1.15 over 5 seeds), so per shell [0.75, 1.25] (5 SE); averaged
    over 64 shells the SE is 0.006 (sim: 0.9915-1.0039), tolerance +-0.05 (8 SE). Counting
    rfft half-space voxels instead of the full-FFT count gives sqrt(1/2) = 0.71.
    """
    reps = 200
    curves, n = _noise_fsc_stack((128, 128), reps, seed=20)
    assert curves.shape == (reps, 64)
    z = curves.mean(axis=0) * np.sqrt(n * reps)
    assert np.max(np.abs(z)) < 4.5, z
    assert abs(z.mean()) < 0.5, z.mean()
    spread = curves.std(axis=0, ddof=1) * np.sqrt(n)
    assert np.all((spread > 0.75) & (spread < 1.25)), spread
    assert abs(spread.mean() - 1.0) < 0.05, spread.mean()


def test_white_noise_3d_unbiased_and_unit_std():
    """Case 2 (3-D, 48^3, 32 independent pairs, no window, 24 shells s >= 1).

    Pooled over shells and reps: mean z (as in 2-D) has SE 1/sqrt(24) = 0.20 -> |mean z| < 0.8
    (4 SE; the ``abs`` variant gives 0.798*sqrt(32) = 4.5). The pooled RMS of FSC*sqrt(n)
    (E = 1 exactly) has SE ~ sqrt(2/(24*32))/2 = 0.026 -> tolerance +-0.12 (4.7 SE;
    sim 20 reps/seed: 1.001-1.025). Half-space counts would give 0.71.
    """
    reps = 32
    curves, n = _noise_fsc_stack((48, 48, 48), reps, seed=30)
    assert curves.shape == (reps, 24)
    z = curves.mean(axis=0) * np.sqrt(n * reps)
    assert abs(z.mean()) < 0.8, z.mean()
    assert np.max(np.abs(z)) < 4.5, z
    rms = math.sqrt(float(np.mean(curves**2 * n)))
    assert abs(rms - 1.0) < 0.12, rms


def test_white_noise_sign_flip_is_antisymmetric():
    """D1: the real-input FSC is signed: FSC(a, -b) = -FSC(a, b) shell by shell (exactly up to
    round-off). ``abs`` would make both positive."""
    rng = np.random.default_rng(21)
    a, b = rng.standard_normal((2, 96, 96))
    f1 = fsc(a, b).fsc
    f2 = fsc(a, -b).fsc
    np.testing.assert_allclose(f2[1:], -f1[1:], rtol=0, atol=1e-12)
    assert np.any(f1[1:] < 0) and np.any(f1[1:] > 0)


# --------------------------------------------------------------------------------------------
# Case 3: white signal + independent white noise
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rho", [0.25, 1.0, 4.0])
def test_signal_plus_noise_matches_snr(rho):
    """Case 3: halves = s + n_i with white s (variance rho) and unit white noise, so every
    shell has per-half SNR rho and E FSC = rho/(1+rho).

    Statistic: FSC averaged over shells 5-127 of 256^2 and over 8 independent pairs. Sim
    (40 seeds, one pair each): SD of the shell average 0.0049 / 0.0040 / 0.0021 and ratio-
    estimator bias <= 0.0016 -> SE of the 8-pair mean <= 0.0018, tolerance 0.01 (>= 4.6 SE
    after the bias). No window (a window would change the effective n, not the mean).
    """
    reps, n = 8, 256
    rng = np.random.default_rng(40 + int(4 * rho))
    vals = []
    for _ in range(reps):
        s = rng.standard_normal((n, n)) * math.sqrt(rho)
        n1, n2 = rng.standard_normal((2, n, n))
        vals.append(fsc(s + n1, s + n2, window=None).fsc[5:128].mean())
    expected = rho / (1.0 + rho)
    assert abs(np.mean(vals) - expected) < 0.01, (np.mean(vals), expected)


# --------------------------------------------------------------------------------------------
# Case 4: Gaussian-blurred signal, fixed threshold 1/7
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma, expected", [(1.0, 0.4025), (2.0, 0.2013), (3.0, 0.1342)])
def test_blur_crossing_formula_reproduces_spec_numbers(sigma, expected):
    """Case 4 (analytic part): P_s/P_n = 1/sigma_n^2 with sigma_n = 0.1 and T = 1/7 gives
    f_T = sqrt(ln(600))/(2 pi sigma) = 0.4025, 0.2013, 0.1342 cpx (spec, 4 digits); the
    expected FSC 1/(1 + sigma_n^2 exp(4 pi^2 sigma^2 f^2)) equals T there."""
    f_t = _blur_crossing_cpx(sigma, 0.1, 1.0 / 7.0)
    assert abs(f_t - expected) < 5e-5
    fsc_at = 1.0 / (1.0 + 0.01 * math.exp(4 * math.pi**2 * sigma**2 * f_t**2))
    assert abs(fsc_at - 1.0 / 7.0) < 1e-12


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_blur_crossing_fixed_threshold(sigma):
    """Case 4 (simulation): 256^2, 48 independent pairs, sigma_n = 0.1 per half, T = 1/7,
    no window; the mean of fn_res_cpx must lie within 3 % of the analytic crossing.

    Sim with an independent reference (200 pairs/sigma): the first interpolated crossing of a
    noisy curve is biased early by 1.3 / 1.0 / 0.9 % and scatters by 1.4 / 2.1 / 2.9 % per
    pair. With 48 pairs the SE of the mean is <= 0.42 %, so 3 % leaves >= 5 SE after the
    bias. The crossing must also be reported in cpx = crossing_shell / 256.
    """
    n, reps, sigma_n, t = 256, 48, 0.1, 1.0 / 7.0
    f_t = _blur_crossing_cpx(sigma, sigma_n, t)
    rng = np.random.default_rng(50 + int(sigma))
    signal = _gaussian_blurred_white(rng, reps, n, sigma)
    found = []
    for k in range(reps):
        n1, n2 = rng.standard_normal((2, n, n)) * sigma_n
        res = fsc(signal[k] + n1, signal[k] + n2, threshold=t, window=None)
        assert not res.nyquist_limited
        assert res.fn_res_cpx == pytest.approx(res.crossing_shell / n, rel=1e-12)
        np.testing.assert_array_equal(res.threshold_curve[1:], np.full(n // 2, t))
        found.append(res.fn_res_cpx)
    rel = (np.mean(found) - f_t) / f_t
    assert abs(rel) < 0.03, (np.mean(found), f_t)


# --------------------------------------------------------------------------------------------
# Case 5: thresholds and SSNR
# --------------------------------------------------------------------------------------------
THRESHOLD_TABLE_N = np.array([1, 4, 10, 100, 1000, 1e4, 1e6])
THRESHOLD_TABLE = {
    "halfbit": [1.0, 0.6992, 0.5426, 0.3067, 0.2165, 0.1860, 0.1730],
    "onebit": [1.0, 0.7735, 0.6488, 0.4517, 0.3731, 0.3462, 0.3346],
}


@pytest.mark.parametrize("kind", ["halfbit", "onebit"])
def test_threshold_table(kind):
    """Case 5: the §1.1 table (4-digit values, so 1e-4 tolerance), T(1) = 1 (1e-12) and the
    asymptote S/(1+S) (half-bit 0.171573 with the exact S = (sqrt2-1)/2; one-bit 1/3),
    checked at n = 1e16 where the O(1/sqrt n) remainder is < 1e-8."""
    got = np.asarray(threshold_curve(THRESHOLD_TABLE_N.astype(float), kind), float)
    np.testing.assert_allclose(got, THRESHOLD_TABLE[kind], rtol=0, atol=1e-4)
    assert abs(got[0] - 1.0) < 1e-12
    snr = S_HALFBIT if kind == "halfbit" else S_ONEBIT
    np.testing.assert_allclose(got, _vhs_threshold(THRESHOLD_TABLE_N, snr), rtol=1e-12)
    t_inf = float(np.asarray(threshold_curve(np.array([1e16]), kind))[0])
    expected_inf = {"halfbit": 0.171573, "onebit": 1.0 / 3.0}[kind]
    assert abs(t_inf - expected_inf) < 1e-6
    # SSNR form of the asymptote: half-bit sqrt2 - 1 = 0.414214, one-bit 1
    ssnr_inf = 2 * t_inf / (1 - t_inf)
    assert abs(ssnr_inf - {"halfbit": 0.414214, "onebit": 1.0}[kind]) < 1e-6


def test_threshold_halfbit_uses_exact_snr():
    """D4/§1.1: half-bit uses S = (sqrt2-1)/2 exactly, not the 4-digit 0.2071 (which differs by
    ~3e-6 in T at large n)."""
    n = np.array([1e12])
    got = float(np.asarray(threshold_curve(n, "halfbit"))[0])
    assert abs(got - float(_vhs_threshold(n, S_HALFBIT)[0])) < 1e-9
    assert abs(got - float(_vhs_threshold(n, 0.2071)[0])) > 1e-6


def test_float_threshold_is_constant_curve():
    """D4: a float threshold is an n-independent curve."""
    got = np.asarray(threshold_curve(np.array([1.0, 8.0, 400.0]), 0.143), float)
    np.testing.assert_array_equal(got, [0.143, 0.143, 0.143])


def _realistic_pair(seed=60, n=128, sigma=1.5, sigma_n=0.1):
    rng = np.random.default_rng(seed)
    s = _gaussian_blurred_white(rng, 1, n, sigma)[0]
    n1, n2 = rng.standard_normal((2, n, n)) * sigma_n
    return s + n1, s + n2


@pytest.mark.parametrize("threshold", ["halfbit", "onebit", 1.0 / 7.0])
def test_ssnr_crossing_equals_fsc_crossing(threshold):
    """Case 5 / §2: x -> 2x/(1-x) is monotone, so ssnr() must report exactly fsc()'s crossing
    (same numbers, ==), share every FSCResult field, and give SSNR = 2 FSC/(1-FSC),
    SSNR_T = 2T/(1-T) (1e-12 relative)."""
    a, b = _realistic_pair()
    rf = fsc(a, b, threshold=threshold)
    rs = ssnr(a, b, threshold=threshold)
    assert isinstance(rs, SSNRResult)
    assert rf.fn_res is not None and not rf.nyquist_limited
    for name in CROSSING_FIELDS:
        assert getattr(rs, name) == getattr(rf, name), name
    for name in ("fn", "frequency_cpx", "fsc", "threshold_curve", "n_per_shell"):
        np.testing.assert_array_equal(getattr(rs, name), getattr(rf, name), err_msg=name)
    f = rf.fsc[1:]
    t = rf.threshold_curve[1:]
    np.testing.assert_allclose(rs.ssnr[1:], 2 * f / (1 - f), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rs.ssnr_threshold[1:], 2 * t / (1 - t), rtol=1e-12)


def test_ssnr_at_rosenthal_henderson_threshold_is_one_third():
    """§1.1/§2: the fixed 1/7 threshold is SSNR_full = 1/3; identical images give SSNR = +inf
    (or at least astronomically large when 1 - FSC is a few ulp above eps)."""
    a, b = _realistic_pair(seed=61)
    rs = ssnr(a, b, threshold=1.0 / 7.0)
    np.testing.assert_allclose(rs.ssnr_threshold[1:], 1.0 / 3.0, rtol=1e-12)
    same = ssnr(a, a)
    assert np.all(same.ssnr[1:] > 1e10)
    assert same.nyquist_limited


# --------------------------------------------------------------------------------------------
# Case 6: shell bookkeeping
# --------------------------------------------------------------------------------------------
def test_shell_counts_128():
    """Case 6: full-FFT ring counts of 128^2: s=1: 8, s=2: 12, s=10: 56, s=64: 406, both from
    shell_index + bincount and from fsc(...).n_per_shell (float64, Hermitian-weighted if rfft
    is used); sum over shells + voxels beyond the last shell = N."""
    shape = (128, 128)
    idx = np.asarray(shell_index(shape))
    assert idx.shape == shape and idx.dtype == np.int32
    counts = np.bincount(idx.ravel())
    rng = np.random.default_rng(70)
    res = fsc(rng.standard_normal(shape), rng.standard_normal(shape), window=None)
    n = res.n_per_shell
    assert n.dtype == np.float64 and n.shape == (65,)
    for s, expected in {0: 1, 1: 8, 2: 12, 10: 56, 64: 406}.items():
        assert counts[s] == expected, s
        assert n[s] == expected, s
    np.testing.assert_array_equal(n, counts[:65].astype(float))
    assert n.sum() + counts[65:].sum() == 128 * 128
    assert counts[65:].sum() > 0  # the corners exist and are dropped


def _reference_shell_index(shape):
    """D3 geometry as written in the spec: per axis the integer FFT frequency times
    (nmax//2)/(n//2), computed as int*num/den; index = round half to even of the radius."""
    nmax = max(shape)
    r2 = 0.0
    for axis, n in enumerate(shape):
        k = np.rint(np.fft.fftfreq(n) * n).astype(np.int64)
        scaled = k * (nmax // 2) / (n // 2)
        view = [1] * len(shape)
        view[axis] = n
        r2 = r2 + (scaled**2).reshape(view)
    return np.round(np.sqrt(r2)).astype(np.int64)


@pytest.mark.parametrize("shape", [(128, 128), (65, 64), (64, 65), (300, 256), (17, 20, 22), (24, 24, 24)])
def test_shell_index_geometry_and_counts(shape):
    """Case 6 / D3: the shell of every voxel follows the spec formula (incl. odd, non-square and
    non-cubic shapes); n_per_shell equals its bincount for the kept shells; counts of a shell
    are Hermitian-consistent (the full-FFT count), and sum(kept) + beyond = N."""
    idx = np.asarray(shell_index(shape))
    np.testing.assert_array_equal(idx, _reference_shell_index(shape))
    nshells = max(shape) // 2 + 1
    rng = np.random.default_rng(71)
    res = fsc(rng.standard_normal(shape), rng.standard_normal(shape), window=None)
    counts = np.bincount(idx.ravel(), minlength=nshells)
    np.testing.assert_array_equal(res.n_per_shell, counts[:nshells].astype(float))
    assert res.n_per_shell.sum() + counts[nshells:].sum() == np.prod(shape)


@pytest.mark.parametrize("t, half", [(2, 1), (3, 1), (5, 2)])
def test_ring_thick_pools_neighbouring_shells(t, half):
    """D6 (toupy semantics): shell i pools shells j with i - t/2 <= j <= i + t/2, so t = 2 and
    t = 3 both pool 3 rings, t = 5 pools 5; output stays at every integer shell. Checked on
    interior shells (edges are implementation-defined); FSC(a, a) stays 1."""
    rng = np.random.default_rng(72)
    a, b = rng.standard_normal((2, 96, 96))
    n1 = fsc(a, b, window=None).n_per_shell
    rt = fsc(a, b, window=None, ring_thick=t)
    assert rt.fsc.shape == n1.shape
    for i in range(half + 1, n1.size - half - 1):  # away from DC and the corners
        assert rt.n_per_shell[i] == n1[i - half : i + half + 1].sum(), i
    np.testing.assert_allclose(fsc(a, a, ring_thick=t).fsc[1:], 1.0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Case 7: units, frequency axes and the crossing rule
# --------------------------------------------------------------------------------------------
def _lowpass_pair(n, fc, seed, bands=()):
    rng = np.random.default_rng(seed)
    s = _lowpass_white(rng, (n, n), fc, bands)
    n1, n2 = rng.standard_normal((2, n, n)) * 0.1
    return s + n1, s + n2


@pytest.mark.parametrize("n", [256, 255])
@pytest.mark.parametrize("threshold", ["halfbit", "onebit"])
def test_lowpass_cutoff_units(n, threshold):
    """Case 7: signal = white noise ideally low-passed at f_c = 0.2 cpx, + white noise 0.1 per
    half (per-half SNR 100 in the pass band -> E FSC = 100/101 = 0.990).

    * Pass band (shells 1..49): with m = s + (n1+n2)/2, d = n1 - n2 (independent),
      FSC >= (1-R)/(1+R), R = |d|^2/(4|m|^2) = 0.004975 F(n, n). Small shells have a heavy
      lower tail (n = 8: P(FSC < 0.95) = 1.2 %, sim and bound), so the per-shell check is
      FSC > 0.7 (R > 0.176, F > 35: family-wise P <= 2e-5 from the F bound). The mean over
      shells 5..49 (n >= 30, light tails) is 100/101 +- 0.002 (sim: SD 2.8e-4, max |dev| 1.4e-3
      in 20000 draws).
    * Stop band (shells 53..): pure noise, FSC*sqrt(n) ~ N(0,1): |mean| < 4/sqrt(#shells),
      max < 5.5 (sim: max 3.0).
    * Crossing: the last shell touching the pass band is 51 (radius 51.2 resp. 51.0 in bins), 52
      is noise, so s* is in (51, 52): |f* - f_c| < 1/n (one shell).
    * Units (D3): frequency_cpx = s/n, fn = s/(n//2), fn_res_cpx = s*/n, fn_res = s*/(n//2)
      (= 2 fn_res_cpx for even n), resolution_full = pixel_size/fn_res_cpx,
      resolution_half = resolution_full/2.
    """
    fc = 0.2
    a, b = _lowpass_pair(n, fc, seed=80 + n)
    res = fsc(a, b, threshold=threshold, window=None)
    nshells = n // 2 + 1
    s = np.arange(nshells)
    np.testing.assert_allclose(res.frequency_cpx, s / n, rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.fn, s / (n // 2), rtol=1e-12, atol=0)

    assert np.all(res.fsc[1:50] > 0.7)
    assert abs(res.fsc[5:50].mean() - 100.0 / 101.0) < 0.002
    z = res.fsc[53:] * np.sqrt(res.n_per_shell[53:])
    assert abs(z.mean()) < 4.0 / math.sqrt(z.size)
    assert np.max(np.abs(z)) < 5.5

    assert not res.nyquist_limited
    assert 51.0 < res.crossing_shell < 52.0
    assert abs(res.fn_res_cpx - fc) < 1.0 / n
    assert res.fn_res_cpx == pytest.approx(res.crossing_shell / n, rel=1e-12)
    assert res.fn_res == pytest.approx(res.crossing_shell / (n // 2), rel=1e-12)
    if n % 2 == 0:
        assert res.fn_res == pytest.approx(2.0 * res.fn_res_cpx, rel=1e-12)
    assert res.resolution_full == pytest.approx(1.0 / res.fn_res_cpx, rel=1e-12)
    assert res.resolution_half == pytest.approx(res.resolution_full / 2.0, rel=1e-12)

    # D2 on the returned curves: the reported crossing is the first interpolated one
    s_star, limited = _interp_first_crossing(res.fsc, res.threshold_curve)
    assert res.crossing_shell == pytest.approx(s_star, rel=1e-12)
    assert res.nyquist_limited == limited


def test_255_and_256_agree_within_one_shell():
    """Case 7: the same physical cut-off measured on 255^2 and 256^2 gives crossings within one
    shell (both lie in (51, 52) shells, i.e. within 1/255 cpx of each other)."""
    r255 = fsc(*_lowpass_pair(255, 0.2, seed=90), window=None)
    r256 = fsc(*_lowpass_pair(256, 0.2, seed=91), window=None)
    assert abs(r255.fn_res_cpx - r256.fn_res_cpx) < 1.0 / 255


def test_pixel_size_scales_lengths_only():
    """Case 7: pixel_size multiplies every length (resolution_full/half) and leaves the curve,
    the shells and every frequency in cpx / fraction of Nyquist unchanged; unit is stored."""
    a, b = _lowpass_pair(128, 0.2, seed=92)
    r1 = fsc(a, b)
    r2 = fsc(a, b, pixel_size=2.5, unit="nm")
    assert r2.pixel_size == 2.5 and r2.unit == "nm"
    for name in ("fn", "frequency_cpx", "fsc", "threshold_curve", "n_per_shell"):
        np.testing.assert_array_equal(getattr(r1, name), getattr(r2, name), err_msg=name)
    for name in ("fn_res", "fn_res_cpx", "crossing_shell", "nyquist_limited"):
        assert getattr(r1, name) == getattr(r2, name), name
    assert r2.resolution_full == pytest.approx(2.5 * r1.resolution_full, rel=1e-12)
    assert r2.resolution_half == pytest.approx(2.5 * r1.resolution_half, rel=1e-12)
    assert r2.resolution_full == pytest.approx(2.5 / r2.fn_res_cpx, rel=1e-12)


def test_first_crossing_not_last():
    """D2: with pass bands [0, 0.1] and [0.30, 0.35] cpx the FSC drops below the threshold near
    0.1 and rises above it again near 0.3. The first interpolated crossing (within 2 shells of
    0.1: the ring straddling 25.6 bins still holds some signal) must be reported, not the last
    one (~0.35, toupy's newer 'last shell above T')."""
    n = 256
    a, b = _lowpass_pair(n, 0.1, seed=93, bands=[(0.30, 0.35)])
    res = fsc(a, b, window=None)
    assert np.all(res.fsc[80:88] > 0.9)  # the second band is really there
    assert abs(res.fn_res_cpx - 0.1) < 2.0 / n
    s_star, _ = _interp_first_crossing(res.fsc, res.threshold_curve)
    assert res.crossing_shell == pytest.approx(s_star, rel=1e-12)


def test_nyquist_limited_identical_images():
    """D2: a curve that never drops below the threshold gives the crossing at the last shell,
    nyquist_limited=True, fn_res_cpx = (nmax//2)/nmax (0.5 for even sizes), i.e. a 2-px
    full-period bound."""
    a = np.random.default_rng(94).standard_normal((64, 64))
    res = fsc(a, a, pixel_size=3.0)
    assert res.nyquist_limited
    assert res.crossing_shell == pytest.approx(32.0)
    assert res.fn_res_cpx == pytest.approx(0.5)
    assert res.fn_res == pytest.approx(1.0)
    assert res.resolution_full == pytest.approx(6.0)
    assert res.resolution_half == pytest.approx(3.0)


def test_below_threshold_at_first_shell_gives_none():
    """D2: if the curve is below the threshold already at shell 1 there is no resolution: the
    crossing fields are None. Independent noise with a constant 0.99 threshold: FSC of the
    8-voxel shell 1 exceeds 0.99 with negligible probability."""
    rng = np.random.default_rng(95)
    a, b = rng.standard_normal((2, 64, 64))
    res = fsc(a, b, threshold=0.99, window=None)
    assert res.fsc[1] < 0.99
    for name in ("fn_res", "fn_res_cpx", "crossing_shell", "resolution_full", "resolution_half"):
        assert getattr(res, name) is None, name
    assert not res.nyquist_limited


def test_result_object_contract():
    """The result is a frozen dataclass carrying its parameters; to_dict/to_json round-trip."""
    a, b = _realistic_pair(seed=96, n=64)
    res = fsc(a, b, threshold="onebit", ring_thick=1, apod_width=8, window="tukey",
              pixel_size=2.0, unit="nm")
    assert isinstance(res, FSCResult)
    assert dataclasses.is_dataclass(res)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.fn_res = 0.3  # type: ignore[misc]
    assert res.threshold == "onebit" and res.ring_thick == 1 and res.apod_width == 8
    assert res.window == "tukey" and res.pixel_size == 2.0 and res.unit == "nm"
    assert tuple(res.shape) == (64, 64)
    d = res.to_dict()
    assert d["resolution_full"] == pytest.approx(res.resolution_full)
    j = json.loads(res.to_json())
    assert j["fn_res_cpx"] == pytest.approx(res.fn_res_cpx)


@pytest.mark.parametrize(
    "img1, img2",
    [
        (np.zeros((32, 32)), np.random.default_rng(0).standard_normal((32, 32))),
        (np.full((32, 32), np.nan), np.ones((32, 32))),
        (np.ones((32, 32)), np.ones((32, 33))),
        (np.ones((32,)), np.ones((32,))),
    ],
    ids=["constant", "nan", "shape-mismatch", "1-D"],
)
def test_invalid_inputs_raise(img1, img2):
    """§1 step 1: unequal shapes, ndim not in {2, 3}, non-finite or constant inputs raise."""
    with pytest.raises(ValueError):
        fsc(img1, img2, window=None)


# --------------------------------------------------------------------------------------------
# Property tests (hypothesis)
# --------------------------------------------------------------------------------------------
SHAPES = st.sampled_from([(16, 16), (17, 24), (24, 17), (21, 21), (9, 10, 12), (12, 12, 8)])
WINDOWS = st.sampled_from(["circle", "tukey", "hann", None])


def _pair_from(seed, shape, mix):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    b = mix * a + (1 - mix) * rng.standard_normal(shape)
    return a, b


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=SHAPES, mix=st.floats(-1, 1),
       window=WINDOWS, apod=st.integers(0, 3))
def test_property_symmetric_and_bounded(seed, shape, mix, window, apod):
    """FSC(a, b) == FSC(b, a) (the cross term is symmetric) and |FSC| <= 1 + 1e-12
    (Cauchy-Schwarz), for any window."""
    a, b = _pair_from(seed, shape, mix)
    r_ab = fsc(a, b, window=window, apod_width=apod).fsc[1:]
    r_ba = fsc(b, a, window=window, apod_width=apod).fsc[1:]
    np.testing.assert_allclose(r_ab, r_ba, rtol=0, atol=1e-12)
    assert np.all(np.abs(r_ab[np.isfinite(r_ab)]) <= 1 + 1e-12)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=SHAPES, mix=st.floats(-1, 1),
       scale=st.floats(0.01, 100), offset=st.floats(-100, 100), which=st.sampled_from([0, 1]),
       window=st.sampled_from(["circle", "tukey", "hann", None]))
def test_property_affine_invariance(seed, shape, mix, scale, offset, which, window):
    """A positive scale and an offset of either image leave the curve unchanged: the mean
    removed is the window-weighted mean, so (c x + d) - m_w(c x + d) = c (x - m_w(x)); the
    scale cancels in the normalisation. Round-off bound 1e-9 (offset/std <= 1e4)."""
    a, b = _pair_from(seed, shape, mix)
    apod = 2 if window in ("circle", "tukey") else 0
    ref = fsc(a, b, window=window, apod_width=apod).fsc[1:]
    if which == 0:
        got = fsc(scale * a + offset, b, window=window, apod_width=apod).fsc[1:]
    else:
        got = fsc(a, scale * b + offset, window=window, apod_width=apod).fsc[1:]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=SHAPES, phi=st.floats(0, 2 * np.pi),
       mix=st.floats(-1, 1))
def test_property_complex_global_phase(seed, shape, phi, mix):
    """D1, complex inputs: FSC = |sum F1 F2*| / sqrt(...), so multiplying one image by a global
    phase factor exp(i phi) leaves the curve unchanged, and the curve lies in [0, 1]."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    b = mix * a + (1 - abs(mix)) * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    ref = fsc(a, b, window=None).fsc[1:]
    got = fsc(a, np.exp(1j * phi) * b, window=None).fsc[1:]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    assert np.all((ref >= -1e-12) & (ref <= 1 + 1e-12))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shape=SHAPES, mix=st.floats(-1, 1), window=WINDOWS)
def test_property_complex_with_zero_imaginary_is_abs_of_real(seed, shape, mix, window):
    """D1: for real data passed as complex, the complex cross sum over a Friedel-symmetric
    shell is real and equals the real-path cross sum, so the complex curve is |real curve|
    in every shell (equal where the real curve is positive, its negation where negative)."""
    a, b = _pair_from(seed, shape, mix)
    apod = 2 if window in ("circle", "tukey") else 0
    real = fsc(a, b, window=window, apod_width=apod).fsc[1:]
    cplx = fsc(a.astype(complex), b.astype(complex), window=window, apod_width=apod).fsc[1:]
    np.testing.assert_allclose(cplx, np.abs(real), rtol=0, atol=1e-10)
