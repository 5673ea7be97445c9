"""Tests of ``toupy.resolution.localres.LocalResolution`` and ``local_resolution``.

Validation case 10 of ``spec/ALGORITHMS.md`` and decision D9, plus the noise
estimators, the automatic mask, the documented attributes and bad input.

How the tolerances are derived
------------------------------
* The per-voxel decisions of one map are strongly correlated in space (a coarse
  band's noise is correlated over ~1/σ_f ≈ 60 px), so the binomial error of a
  pass fraction is *not* ``sqrt(α(1-α)/N_voxels)``. Every calibration test
  therefore draws ``R`` independent noise maps and uses the spread of the
  per-map fractions across maps: the standard error of their mean is
  ``sd / sqrt(R)`` whatever the spatial correlation (the maps are independent).
* The threshold is the upper α quantile of the moment-matched gamma law
  (Satterthwaite, decision D9). The exact law of the band energy is a weighted
  χ² whose upper tail is slightly heavier than the gamma's (Cauchy–Schwarz:
  its third cumulant is at least the gamma's), so the pass rate of noise is a
  little above α: 0.050–0.054 per band at α = 0.05 in a scratch simulation
  with 200 maps of 256² (pooled 0.052 ± 0.0003). Tests allow that documented
  excess, ``1.1 α``, plus three standard errors; the white-noise shortcut for
  the null variance gives pass rates of 0.25–0.3 and fails them by far.
* A noise standard deviation estimated from ``n`` voxels of white Gaussian
  noise has a relative standard deviation ``1/sqrt(2 (n - 1))``; from ``K``
  Fourier modes of the full FFT (``K/2`` independent exponential powers) the
  variance has relative standard deviation ``sqrt(2/K)``. Tolerances are four
  of those.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import scipy.fft
from scipy import ndimage

from toupy.resolution import _localres
from toupy.resolution._checks import ResolutionWarning
from toupy.resolution._localres import LocalResolutionResult, local_resolution
from toupy.resolution._results import map_statistics
from toupy.resolution.localres import LocalResolution

ALPHA = 0.05
GAMMA_EXCESS = 1.1  # documented excess of the Satterthwaite tail (see module docstring)


# --------------------------------------------------------------------------------------------
# test-data generators (independent of the code under test)
# --------------------------------------------------------------------------------------------
def _freq_grid(shape):
    """|f| (cycles/pixel) on the full-FFT grid of ``shape``."""
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    return np.sqrt(sum(g**2 for g in grids))


def _blurred_white(rng, shape, sigma):
    """White noise of unit variance times the Gaussian transfer exp(-2 π² σ² f²)."""
    transfer = np.exp(-2.0 * (np.pi * sigma) ** 2 * _freq_grid(shape) ** 2)
    return np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * transfer).real


def _two_region(rng, shape, sigma_noise=0.1):
    """Left half blurred with σ = 1, right half with σ = 3, the same white source.

    Both halves have the same pre-blur spectrum (1) and the same white noise, so
    the detection frequency scales as 1/σ (validation case 10: ratio ≈ 3).
    """
    white = rng.standard_normal(shape)
    f = _freq_grid(shape)
    spec = np.fft.fftn(white)
    left = np.fft.ifftn(spec * np.exp(-2.0 * np.pi**2 * f**2)).real
    right = np.fft.ifftn(spec * np.exp(-2.0 * (3 * np.pi) ** 2 * f**2)).real
    half = shape[-1] // 2
    image = left.copy()
    image[..., half:] = right[..., half:]
    return image + sigma_noise * rng.standard_normal(shape)


def _object_in_noise(rng, shape, sigma_noise=1.0, contrast=4.0):
    """A centred block of textured sample (offset + blurred texture) in white noise.

    The corners (outside the block) hold noise only.
    """
    image = sigma_noise * rng.standard_normal(shape)
    block = tuple(slice(n // 4, n - n // 4) for n in shape)
    texture = _blurred_white(rng, tuple(n - 2 * (n // 4) for n in shape), 1.5)
    image[block] += contrast * (1.0 + texture / texture.std())
    return image, block


def _ramp_noise(rng, shape):
    """Coloured noise with power spectrum ∝ |f| (filtered back-projection), unit variance."""
    f = _freq_grid(shape)
    x = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * np.sqrt(f / f.mean())).real
    return x / x.std()


def _soft_sphere(shape, radius, edge):
    """1 inside ``radius`` (pixels from the centre), a raised-cosine edge of ``edge``, 0 beyond."""
    centred = np.meshgrid(*[np.arange(n) - n / 2 for n in shape], indexing="ij", sparse=True)
    distance = np.sqrt(sum(c**2 for c in centred))
    ramp = np.clip((radius + edge - distance) / edge, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * ramp)


def _deposited_like(rng, shape, residue=0.0):
    """A map as deposited after soft masking: sample in a sphere, white noise everywhere,
    then multiplied by a soft spherical mask (the solvent flattened to zero), plus
    ``residue`` white noise (what a flattened solvent keeps from later processing)."""
    n = min(shape)
    texture = _blurred_white(rng, shape, 1.2)
    image = 3 * texture / texture.std() * _soft_sphere(shape, 0.3 * n, 0.05 * n) + rng.standard_normal(shape)
    return image * _soft_sphere(shape, 0.36 * n, 0.08 * n) + residue * rng.standard_normal(shape)


def _low_passed(image, transfer):
    """``image`` filtered by ``transfer(|f|)`` (a band-limited or filtered map)."""
    return np.fft.ifftn(np.fft.fftn(image) * transfer(_freq_grid(image.shape))).real


def _band(shape, fc, sigma_f):
    f = _freq_grid(shape)
    h = np.exp(-((f - fc) ** 2) / (2 * sigma_f**2))
    h.flat[0] = 0.0
    return h


# --------------------------------------------------------------------------------------------
# the null law: moments, calibration, the key test
# --------------------------------------------------------------------------------------------
def test_null_moments_match_monte_carlo_of_independent_implementation():
    """Analytic mean and variance of the band energy of noise vs a Monte Carlo.

    The statistic is rebuilt here with numpy's FFT and scipy.ndimage's sampled
    Gaussian (periodic boundaries) on ``R`` independent white-noise maps. For
    each map the voxel average of ``E`` and of ``(E - μ)²`` are unbiased for
    ``μ`` and ``Var E``; their standard errors come from the spread across maps.
    The tolerance is 4 standard errors. The fraction of simulated energies above
    the band's threshold is at most ``1.1 α`` plus 3 standard errors, while the
    threshold of the white-noise shortcut ``μ (1 + z sqrt(2 / (2 √π σ_w)²))``
    is exceeded several times more often (so the comparison has the power to
    fail).
    """
    rng = np.random.default_rng(11)
    shape, window, R = (128, 128), 7.0, 40
    reference = local_resolution(rng.standard_normal(shape), sigma_noise=1.0, progress_bar=False)
    bands, sigma_f = reference.freq_bands, reference.band_sigma
    z = 1.6448536269514722  # one-sided 5 % normal quantile
    n_eff = (2.0 * math.sqrt(math.pi) * window) ** 2
    for b in (0, 2, 9, 19):
        h = _band(shape, bands[b], sigma_f)
        mu, sd = reference.null_mean[b], reference.null_std[b]
        shortcut = mu * (1.0 + z * math.sqrt(2.0 / n_eff))
        means, squares, passed, passed_shortcut = [], [], [], []
        for _ in range(R):
            v = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * h).real
            energy = ndimage.gaussian_filter(v * v, window, mode="wrap", truncate=8.0)
            means.append(energy.mean())
            squares.append(((energy - mu) ** 2).mean())
            passed.append(np.mean(energy > reference.thresholds[b]))
            passed_shortcut.append(np.mean(energy > shortcut))
        means, squares, passed = np.array(means), np.array(squares), np.array(passed)
        assert abs(means.mean() - mu) < 4 * means.std(ddof=1) / math.sqrt(R) + 1e-3 * mu, b
        assert abs(squares.mean() - sd**2) < 4 * squares.std(ddof=1) / math.sqrt(R), b
        assert passed.mean() <= GAMMA_EXCESS * ALPHA + 3 * passed.std(ddof=1) / math.sqrt(R), b
        assert np.mean(passed_shortcut) > 3 * ALPHA, b
        # the analytic mean of white noise is σ² mean(H²) over the full grid
        assert mu == pytest.approx(np.mean(h**2), rel=1e-5)
    shortcut = reference.null_mean[0] * math.sqrt(2.0 / (2.0 * math.sqrt(math.pi) * window) ** 2)
    assert reference.null_std[0] > 5 * shortcut


def _noise_pass_fractions(rng, shape, R, **kwargs):
    rows = []
    for _ in range(R):
        res = local_resolution(rng.standard_normal(shape).astype(np.float32), sigma_noise=1.0,
                               progress_bar=False, **kwargs)
        rows.append(np.concatenate([[res.resolved_fraction], res.band_pass_fraction]))
    return np.array(rows)


def test_white_noise_2d_resolution_in_at_most_significance_of_voxels():
    """The key test (validation case 10): pure white noise of known σ, 256², defaults.

    A voxel gets a resolution only if it passes the coarsest band, so the
    fraction of voxels with a resolution must be at most α; so must the pass
    fraction of every band. ``R`` = 100 independent maps; the standard error is
    the spread of the per-map fractions / sqrt(R) (honest about the spatial
    correlation of the decisions, see the module docstring). Lower bounds check
    the null is not absurdly conservative either.
    """
    rows = _noise_pass_fractions(np.random.default_rng(2024), (256, 256), 100)
    mean = rows.mean(axis=0)
    se = rows.std(axis=0, ddof=1) / math.sqrt(rows.shape[0])
    resolved, per_band = mean[0], mean[1:]
    assert resolved <= GAMMA_EXCESS * ALPHA + 3 * se[0]
    assert np.all(per_band <= GAMMA_EXCESS * ALPHA + 3 * se[1:])
    assert np.all(per_band >= 0.6 * ALPHA - 3 * se[1:])
    pooled = rows[:, 1:].mean(axis=1)
    pooled_se = pooled.std(ddof=1) / math.sqrt(pooled.size)
    assert 0.9 * ALPHA - 3 * pooled_se <= pooled.mean() <= GAMMA_EXCESS * ALPHA + 3 * pooled_se


def test_estimated_noise_level_keeps_the_pass_rate():
    """σ estimated from small corners (4 × 13² voxels: relative error of σ² 5.4 %)
    or from the spectrum above 0.45 cycles/pixel: the uncertainty of the
    estimate is part of the null, so the pooled pass fraction of noise stays
    within ``[0.9 α, 1.1 α]`` ± 3 standard errors (``R`` = 40 maps each)."""
    rng = np.random.default_rng(404)
    shape, R = (256, 256), 40
    everywhere = np.ones(shape, bool)
    for kwargs in ({"corner_fraction": 0.05}, {"noise_method": "highfreq"}):
        pooled = np.array([
            local_resolution(rng.standard_normal(shape), mask=everywhere, progress_bar=False,
                             **kwargs).band_pass_fraction.mean()
            for _ in range(R)
        ])
        se = pooled.std(ddof=1) / math.sqrt(R)
        assert 0.9 * ALPHA - 3 * se <= pooled.mean() <= GAMMA_EXCESS * ALPHA + 3 * se, kwargs


def test_estimated_noise_level_widens_the_null_by_its_uncertainty():
    """The null variance with σ from ``n`` corner voxels exceeds the one with the
    same σ given by exactly ``μ² · 2/(n - 1)`` (the variance of the estimated
    noise power); the means are equal. In 3-D with small corners this is what
    keeps fine bands (null sd of a few % of the mean) from passing in ~20 % of
    the voxels: a scratch simulation without the term gave 0.23 ± 0.07 on 48³
    maps with 216 corner voxels, 0.06 ± 0.04 with it."""
    rng = np.random.default_rng(405)
    x = rng.standard_normal((40, 40, 40))
    everywhere = np.ones(x.shape, bool)
    estimated = local_resolution(x, corner_fraction=0.1, window_sigma=4.0, n_freq=6,
                                 mask=everywhere, progress_bar=False)
    given = local_resolution(x, sigma_noise=estimated.sigma_noise, window_sigma=4.0, n_freq=6,
                             mask=everywhere, progress_bar=False)
    n = 8 * 4**3
    assert estimated.noise_power_rel_var == pytest.approx(2 / (n - 1))
    assert given.noise_power_rel_var == 0.0
    np.testing.assert_allclose(estimated.null_mean, given.null_mean, rtol=1e-6)
    np.testing.assert_allclose(estimated.null_std**2 - given.null_std**2,
                               given.null_mean**2 * 2 / (n - 1), rtol=1e-4)
    assert np.all(estimated.thresholds > given.thresholds)


def test_white_noise_3d_pass_fraction_is_significance():
    """3-D white noise (48³, window 4): per-band and pooled pass fractions ≈ α.

    Same construction as the 2-D key test with ``R`` = 8 maps.
    """
    rows = _noise_pass_fractions(np.random.default_rng(7), (48, 48, 48), 8, window_sigma=4.0)
    se = rows.std(axis=0, ddof=1) / math.sqrt(rows.shape[0])
    mean = rows.mean(axis=0)
    assert np.all(mean <= GAMMA_EXCESS * ALPHA + 3 * se + 1e-3)
    pooled = rows[:, 1:].mean(axis=1)
    pooled_se = pooled.std(ddof=1) / math.sqrt(pooled.size)
    assert abs(pooled.mean() - ALPHA) < 0.1 * ALPHA + 3 * pooled_se


def test_fdr_on_white_noise_rarely_resolves_anything():
    """``fdr=True``: with noise alone every hypothesis is null, so BH controls the
    probability of *any* discovery at α (positively dependent tests). Over ``R``
    maps the fraction of maps with any resolved voxel must be at most α plus three
    binomial standard errors (maps are independent), and the resolved fraction
    of voxels must be far below α.
    """
    rng = np.random.default_rng(99)
    R = 30
    any_resolved, fractions = [], []
    for _ in range(R):
        res = local_resolution(rng.standard_normal((128, 128)), sigma_noise=1.0, fdr=True,
                               progress_bar=False)
        any_resolved.append(res.resolved_fraction > 0)
        fractions.append(res.resolved_fraction)
        assert res.fdr
    rate = np.mean(any_resolved)
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / R)
    assert np.mean(fractions) < 0.2 * ALPHA


def test_fdr_keeps_the_signal():
    """With a textured object BH still resolves the object; since its thresholds
    are never below the per-voxel ones, its map is nowhere finer and NaN
    wherever the per-voxel map is."""
    rng = np.random.default_rng(5)
    image, block = _object_in_noise(rng, (192, 192))
    inner = np.zeros(image.shape, bool)
    inner[tuple(slice(s.start + 12, s.stop - 12) for s in block)] = True
    per_voxel = local_resolution(image, progress_bar=False)
    bh = local_resolution(image, mask=per_voxel.mask, fdr=True, progress_bar=False)
    assert np.isfinite(bh.resolution_map[inner]).mean() > 0.95
    # BH thresholds are never below the per-voxel ones, so runs are never longer
    assert np.all(bh.thresholds >= per_voxel.thresholds)
    a, b = per_voxel.resolution_map, bh.resolution_map
    assert np.all(np.isnan(b[np.isnan(a)]))
    both = np.isfinite(a) & np.isfinite(b)
    assert np.all(b[both] >= a[both])


# --------------------------------------------------------------------------------------------
# resolution of known signals
# --------------------------------------------------------------------------------------------
def _expected_last_band(shape, result, sigma, sigma_noise):
    """Finest band of the unbroken run where the *expected* energy exceeds the threshold.

    Expected energy of band i for signal (white source blurred by σ) plus noise:
    ``mean_k (exp(-4π²σ²f²) + σ_n²) H_i(k)²`` over the full grid. The median
    voxel passes where the mean energy is above the threshold (the energy is
    concentrated around its mean), so its resolution is that band, ± 1.
    """
    f = _freq_grid(shape)
    power = np.exp(-4.0 * (np.pi * sigma) ** 2 * f**2)
    last = -1
    for i, fc in enumerate(result.freq_bands):
        h2 = _band(shape, fc, result.band_sigma) ** 2
        if np.mean(power * h2) + sigma_noise**2 * np.mean(h2) > result.thresholds[i]:
            last = i
        else:
            break
    return last


@pytest.mark.parametrize(
    "shape, window_sigma", [((256, 256), 7.0), ((48, 48, 96), 4.0)], ids=["2d", "3d"]
)
def test_two_regions_sigma_1_and_3_give_ratio_near_3(shape, window_sigma):
    """Validation case 10: σ = 1 vs σ = 3 blur at the same SNR → median ratio in [2, 4].

    Theory: the detection frequency is ∝ 1/σ (ratio 3). The medians are taken
    away from the junction and the wrap-around (1/8 of the width on each side).
    Each region's median band is also within one band of the band predicted from
    the expected energy (see ``_expected_last_band``).
    """
    rng = np.random.default_rng(3)
    image = _two_region(rng, shape)
    res = local_resolution(image, sigma_noise=0.1, window_sigma=window_sigma, progress_bar=False)
    n = shape[-1]
    q = n // 8
    left = res.resolution_map[..., q: n // 2 - q]
    right = res.resolution_map[..., n // 2 + q: n - q]
    assert np.isfinite(left).mean() > 0.99 and np.isfinite(right).mean() > 0.99
    ratio = np.nanmedian(right) / np.nanmedian(left)
    assert 2.0 <= ratio <= 4.0
    for region, sigma in ((left, 1.0), (right, 3.0)):
        band = int(np.argmin(np.abs(1.0 / res.freq_bands - np.nanmedian(region))))
        assert abs(band - _expected_last_band(shape, res, sigma, 0.1)) <= 1


def test_decision_rule_is_the_unbroken_run_from_the_coarsest_band():
    """D9: resolution = finest band of the unbroken run of passes from the coarsest.

    A grating of period 7.1 px in noise has signal in the bands around 1/7 cycles/pixel
    only: those bands pass almost everywhere, but the coarsest band sees noise, so
    almost every voxel is NaN. Adding a slow modulation (period 256 px) makes the
    coarse bands pass; the run then breaks at the empty bands in between, so the
    resolution stays coarse although the grating's bands pass. Every finite value
    is ``1/f`` of a band, and the fraction of each value is the difference of
    consecutive run fractions.
    """
    rng = np.random.default_rng(8)
    n = 256
    x = np.arange(n)
    # 36 whole periods (7.1 px): no leakage of the grating into other frequencies
    grating = np.sin(2 * np.pi * 36 * x / n)[None, :] * np.ones((n, 1))
    image = grating + rng.standard_normal((n, n))
    res = local_resolution(image, sigma_noise=1.0, progress_bar=False)
    grating_band = int(np.argmin(np.abs(res.freq_bands - 36 / n)))
    assert res.band_pass_fraction[grating_band] > 0.99
    assert res.resolved_fraction < 3 * ALPHA
    slow = image + 3 * np.sin(2 * np.pi * x / 256.0)[:, None]
    res = local_resolution(slow, sigma_noise=1.0, progress_bar=False)
    assert res.band_pass_fraction[grating_band] > 0.99
    assert res.resolved_fraction > 0.99
    assert np.nanmedian(res.resolution_map) > 1.0 / res.freq_bands[grating_band - 2]
    finite = res.resolution_map[np.isfinite(res.resolution_map)]
    values = 1.0 / res.freq_bands
    assert np.all(np.min(np.abs(finite[:, None] - values[None, :]), axis=1) < 1e-4 * finite)
    run = res.band_run_fraction
    assert np.all(np.diff(run) <= 0) and np.all(run <= res.band_pass_fraction + 1e-12)
    for i, value in enumerate(values):
        share = np.mean(np.isclose(res.resolution_map, value, rtol=1e-5))
        expected = run[i] - (run[i + 1] if i + 1 < run.size else 0.0)
        assert share == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------------------------
# noise estimation
# --------------------------------------------------------------------------------------------
def test_given_sigma_and_corner_estimate_agree_within_one_band():
    """Validation case 10: true σ vs the corner estimate on an image with empty
    corners: the median resolutions (same mask) are within one band."""
    rng = np.random.default_rng(12)
    image, _ = _object_in_noise(rng, (256, 256), sigma_noise=0.5, contrast=1.0)
    corners = local_resolution(image, progress_bar=False)
    given = local_resolution(image, sigma_noise=0.5, mask=corners.mask, progress_bar=False)
    spacing = corners.freq_bands[1] - corners.freq_bands[0]
    assert abs(1 / corners.resolution_median - 1 / given.resolution_median) <= spacing * 1.001
    assert given.noise_method == "given" and given.sigma_noise == 0.5
    n = 4 * round(0.1 * 256) ** 2
    assert corners.sigma_noise == pytest.approx(0.5, rel=4 / math.sqrt(2 * (n - 1)))


def test_corner_estimate_3d():
    """3-D: eight corner boxes of noise → σ within 4/sqrt(2(n - 1)) relative."""
    rng = np.random.default_rng(13)
    image, _ = _object_in_noise(rng, (40, 48, 56), sigma_noise=2.0)
    res = local_resolution(image, window_sigma=3.0, progress_bar=False)
    n = 8 * 4 * 5 * 6
    assert res.noise_method == "corners"
    assert res.sigma_noise == pytest.approx(2.0, rel=4 / math.sqrt(2 * (n - 1)))


def test_highfreq_estimate_on_a_map_filled_with_sample():
    """'highfreq': sample everywhere (local tomography), signal blurred by σ = 3
    (power e^-72 at 0.45 cycles/pixel), white noise 0.5. The estimate uses the
    K full-FFT modes above 0.45 cycles/pixel: relative error of σ² sqrt(2/K).
    The corner estimate on the same map is far too large (built for 'highfreq')."""
    rng = np.random.default_rng(14)
    shape = (256, 256)
    image = 20 * _blurred_white(rng, shape, 3.0) + 0.5 * rng.standard_normal(shape)
    res = local_resolution(image, noise_method="highfreq", progress_bar=False)
    K = np.count_nonzero(_freq_grid(shape) > 0.45)
    assert res.noise_method == "highfreq"
    assert res.sigma_noise == pytest.approx(0.5, rel=2 * math.sqrt(2 / K))
    assert res.mask.all()  # no noise region: the whole field of view
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)  # the corners hold sample, it may warn
        corners = local_resolution(image, progress_bar=False)
    assert corners.sigma_noise > 2 * 0.5


def test_noise_mask_estimate_on_a_stripe():
    """'mask': sample everywhere except a stripe of noise in the middle (corners
    are full of sample): σ from the stripe within 4/sqrt(2(n - 1)); the corner
    estimate is far too large."""
    rng = np.random.default_rng(15)
    shape = (192, 192)
    image = 10 * _blurred_white(rng, shape, 2.0)
    stripe = np.zeros(shape, bool)
    stripe[88:104] = True
    image[stripe] = 0.0
    image += 0.3 * rng.standard_normal(shape)
    res = local_resolution(image, noise_method="mask", noise_mask=stripe, progress_bar=False)
    n = stripe.sum()
    assert res.noise_method == "mask"
    assert res.sigma_noise == pytest.approx(0.3, rel=4 / math.sqrt(2 * (n - 1)))
    assert res.noise_power_rel_var == pytest.approx(2 / (n - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)  # the corners hold sample, it may warn
        assert local_resolution(image, progress_bar=False).sigma_noise > 3 * 0.3


def test_whitening_calibrates_coloured_noise():
    """FBP-like noise (power ∝ |f|): with one σ² the fine bands pass far more
    often than α; ``whiten=True`` (radial spectrum from 64² corner boxes) brings
    every band to at most ~α. ``R`` = 12 maps, standard errors from their spread.
    The estimated spectrum rises with frequency."""
    rng = np.random.default_rng(16)
    shape, R = (256, 256), 12
    everywhere = np.ones(shape, bool)
    white, whitened = [], []
    for _ in range(R):
        x = _ramp_noise(rng, shape)
        white.append(local_resolution(x, mask=everywhere, corner_fraction=0.25,
                                      progress_bar=False).band_pass_fraction)
        res = local_resolution(x, mask=everywhere, corner_fraction=0.25, whiten=True,
                               progress_bar=False)
        whitened.append(res.band_pass_fraction)
    white, whitened = np.array(white), np.array(whitened)
    se = whitened.std(axis=0, ddof=1) / math.sqrt(R)
    assert white.mean(axis=0)[-1] > 5 * ALPHA
    assert np.all(whitened.mean(axis=0) <= GAMMA_EXCESS * ALPHA + 3 * se + 1e-3)
    assert whitened.mean(axis=0)[-5:].mean() > 0.6 * ALPHA
    f, power = res.noise_spectrum
    assert res.whiten and np.all(np.diff(f) > 0)
    assert power[-1] > 3 * power[0]


def test_whitening_with_a_noise_mask_on_white_noise():
    """``whiten=True`` with a noise mask: the radial spectrum of white noise is flat
    (each bin holds >= 64 modes: relative error <= sqrt(2/64) per bin, so every
    bin within 4 of those of σ²) and the pass fractions stay near α."""
    rng = np.random.default_rng(17)
    x = rng.standard_normal((256, 256))
    noise_mask = np.zeros(x.shape, bool)
    noise_mask[:, :96] = True
    res = local_resolution(x, noise_method="mask", noise_mask=noise_mask, whiten=True,
                           mask=np.ones(x.shape, bool), progress_bar=False)
    _, power = res.noise_spectrum
    assert np.all(np.abs(power - 1.0) < 4 * math.sqrt(2 / 64))
    assert res.band_pass_fraction.mean() < 2 * ALPHA


# --------------------------------------------------------------------------------------------
# automatic mask
# --------------------------------------------------------------------------------------------
def test_automatic_mask_covers_the_object_and_not_the_corners():
    """The blurred squared deviation from the background exceeds the noise over
    the object and stays below its 1 - 1e-3 quantile in the empty surroundings."""
    rng = np.random.default_rng(21)
    image, block = _object_in_noise(rng, (192, 192), contrast=2.0)
    res = local_resolution(image, progress_bar=False)
    inner = np.zeros(image.shape, bool)
    inner[tuple(slice(s.start + 4, s.stop - 4) for s in block)] = True
    far = np.ones(image.shape, bool)
    far[tuple(slice(s.start - 25, s.stop + 25) for s in block)] = False
    assert res.mask[inner].all()
    assert res.mask[far].mean() < 0.01
    assert np.all(np.isnan(res.resolution_map[~res.mask]))
    assert np.isfinite(res.resolution_map[inner]).mean() > 0.95


def test_empty_automatic_mask_warns_and_uses_everything():
    rng = np.random.default_rng(22)
    x = np.zeros((64, 64))
    x[16:48, 16:48] = 0.0
    x += rng.standard_normal(x.shape)
    with pytest.warns(ResolutionWarning, match="automatic sample mask is empty"):
        res = local_resolution(x, progress_bar=False)
    assert res.mask.all()
    assert len(res.warnings) == 1 and "automatic sample mask is empty" in res.warnings[0]


def test_corners_with_sample_warn():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((128, 128))
    x[:13, :13] += 5 * rng.standard_normal((13, 13))
    with pytest.warns(ResolutionWarning, match="corners probably contain sample"):
        res = local_resolution(x, progress_bar=False)
    assert any("corners probably contain sample" in w for w in res.warnings)


# --------------------------------------------------------------------------------------------
# checks of the noise model: each assumption violated on purpose, and clean maps without warning
# --------------------------------------------------------------------------------------------
def _checked(image, **kwargs):
    """The result and the ResolutionWarnings issued (each must also be in the result)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = local_resolution(image, progress_bar=False, **kwargs)
    issued = [str(w.message) for w in caught if issubclass(w.category, ResolutionWarning)]
    assert list(res.warnings) == issued
    return res


def test_region_moments_partition_the_map_in_any_blocks():
    """Corner boxes / border / interior moments equal numpy's on an independent labelling
    (voxel near a face on every axis / on some / on none), and blocks pool to the same."""
    rng = np.random.default_rng(41)
    x = 5.0 + rng.standard_normal((30, 41, 17))
    sides = _localres._corner_boxes(x.shape, 0.1)[1]
    assert sides == (3, 4, 2)
    near = np.meshgrid(*[((np.arange(n) < c) | (np.arange(n) >= n - c)).astype(int)
                         for n, c in zip(x.shape, sides)], indexing="ij")
    count = sum(near)
    labels = np.where(count == x.ndim, 0, np.where(count == 0, 2, 1))
    expected = [(v.size, v.mean(), np.sum((v - v.mean()) ** 2)) for v in (x[labels == g] for g in range(3))]
    assert expected[0][0] == 8 * 3 * 4 * 2
    np.testing.assert_allclose(_localres._map_region_moments(x, sides), expected, rtol=1e-12)
    rows = [_localres.region_moments(x[a:a + 7, b:b + 10], (a, b, 0), x.shape, sides)
            for a in range(0, 30, 7) for b in range(0, 41, 10)]
    pooled = [_localres._pool([tuple(r[g]) for r in rows]) for g in range(3)]
    np.testing.assert_allclose(pooled, expected, rtol=1e-12)


def _tail_fit(image, fraction=0.1):
    grid = _localres._Grid(image.shape)
    spectrum = np.fft.rfftn(image)
    spectrum[(0,) * image.ndim] = 0.0
    power, count = _localres._shell_power(spectrum, image.shape)
    return _localres.fit_highfreq_tail(power, count, grid, fraction)


def test_tail_slope_of_white_noise_is_standard_normal():
    """The tail check's statistic: on white noise the slope in standard errors is
    N(0, 1) (``R`` = 400 maps of 128²: mean within 3/sqrt(R), sd in [0.8, 1.25]), so
    the 5-standard-error rule warns about one map in 3.5 million; the upper-half /
    lower-half power ratio is 1 within 4 of its standard deviation sqrt(2/K_lo + 2/K_hi)
    (K ≈ 3000 modes per half: 0.037). The power is the mean |F|²/N above 0.45 c/px."""
    rng = np.random.default_rng(42)
    shape = (128, 128)
    fits = [_tail_fit(rng.standard_normal(shape)) for _ in range(400)]
    z = np.array([f.z for f in fits])
    assert abs(z.mean()) < 3 / math.sqrt(z.size)
    assert 0.8 < z.std(ddof=1) < 1.25
    assert z.min() > -_localres.TAIL_Z
    K = np.count_nonzero(_freq_grid(shape) > 0.45)
    assert np.all(np.abs([f.fall for f in fits]) < 4 * math.sqrt(2 / (K / 2) * 2))
    x = rng.standard_normal(shape)
    spectrum = np.fft.fftn(x - x.mean())
    tail = np.rint(_freq_grid(shape) * 128) > 0.45 * 128  # shell s holds |f| rounding to s/128
    assert _tail_fit(x).power == pytest.approx(np.mean(np.abs(spectrum[tail]) ** 2) / x.size, rel=1e-10)


def test_soft_masked_map_with_flattened_solvent_is_refused_or_warned():
    """A deposited-style map (soft spherical mask, solvent flattened): exactly flat
    corners and corners at 1e-7 of the map's spread are refused; a residue of 1e-3
    (corner variance ~1e-6 of the whole map's, below the 1e-4 margin) warns and the
    warning is in the result and its JSON. The same map unmasked gives no warning."""
    rng = np.random.default_rng(43)
    shape = (128, 128)
    with pytest.raises(ValueError, match="noise_method='corners'.*zero variance"):
        local_resolution(_deposited_like(rng, shape), progress_bar=False)
    with pytest.raises(ValueError, match="corners are numerically flat.*noise_mask"):
        local_resolution(_deposited_like(rng, shape, residue=1e-7), progress_bar=False)
    res = _checked(_deposited_like(rng, shape, residue=1e-3))
    assert "orders of magnitude quieter" in res.warnings[0] and "noise_method='mask'" in res.warnings[0]
    # the symptom of the brief: with that noise level the sample's window spills over the corners
    assert len(res.warnings) == 2 and "automatic sample mask covers" in res.warnings[1]
    assert json.loads(res.to_json())["warnings"] == list(res.warnings)
    assert res.sigma_noise < 2e-3  # the number the warning is about
    n = min(shape)
    texture = _blurred_white(rng, shape, 1.2)
    unmasked = 3 * texture / texture.std() * _soft_sphere(shape, 0.3 * n, 0.05 * n) + rng.standard_normal(shape)
    assert _checked(unmasked).warnings == ()


def test_highfreq_on_a_masked_map_warns_of_the_flattened_solvent():
    """'highfreq' on the soft-masked map: its noise power is averaged over the
    flattened solvent (σ² low by the masked fraction, here σ ≈ 0.5 for true 1), so the
    flattened corners are reported (a warning: the corners are not the noise level)."""
    rng = np.random.default_rng(44)
    res = _checked(_deposited_like(rng, (128, 128)), noise_method="highfreq")
    assert len(res.warnings) == 1 and "corners of this map are flattened" in res.warnings[0]
    assert res.sigma_noise < 0.8


def test_band_limited_maps_are_caught_by_the_highfreq_check():
    """A map filled with sample and white noise, then filtered: a Gaussian low-pass
    (noise power 0.25 exp(-f²/0.0625)) warns that the tail still falls, and the measured
    fall (1 - upper-half / lower-half power of the tail's modes) is the one of that
    spectrum within 4 sqrt(2/K_lo + 2/K_hi) (K modes per half); a filter that is zero
    above 0.4 c/px leaves only round-off (1e-16 of the map) above 0.45 and is refused."""
    rng = np.random.default_rng(45)
    shape = (256, 256)
    image = 20 * _blurred_white(rng, shape, 3.0) + 0.5 * rng.standard_normal(shape)
    assert _checked(image, noise_method="highfreq").warnings == ()
    smooth = _low_passed(image, lambda f: np.exp(-(f**2) / (2 * 0.25**2)))
    res = _checked(smooth, noise_method="highfreq")
    assert len(res.warnings) == 1 and "still falls across the tail" in res.warnings[0]
    f = _freq_grid(shape)
    shell = np.rint(f * 256).astype(int)
    in_tail = shell > 0.45 * 256
    shells = np.unique(shell[in_tail])
    modes = np.array([np.count_nonzero(shell == k) for k in shells], float)
    power = np.array([np.mean(0.25 * np.exp(-f[shell == k] ** 2 / 0.0625)) for k in shells])
    upper = np.cumsum(modes) > 0.5 * modes.sum()
    halves = [np.sum(modes[part] * power[part]) / modes[part].sum() for part in (~upper, upper)]
    tolerance = 4 * math.sqrt(2 / modes[~upper].sum() + 2 / modes[upper].sum())
    assert _tail_fit(smooth).fall == pytest.approx(1 - halves[1] / halves[0], abs=tolerance)
    hard = _low_passed(image, lambda f: np.clip((0.4 - f) / 0.05, 0.0, 1.0))
    with pytest.raises(ValueError, match="highfreq.*numerically zero.*low-pass filtered"):
        local_resolution(hard, noise_method="highfreq", progress_bar=False)


def test_automatic_mask_holding_the_corner_boxes_warns():
    """One corner box (51², larger than the window) 10× quieter than the rest: the pooled
    noise level (σ² ≈ 0.75) is too small for the other three, which enter the automatic
    mask (up to 75 % of the corner voxels, measured 63-66 % over four seeds, against a
    false-alarm rate of 1e-3): the mask check warns, besides the disagreement of the
    corners. The rule's boundary: more than half of the region."""
    rng = np.random.default_rng(46)
    x = rng.standard_normal((256, 256))
    x[:51, :51] *= 0.1
    res = _checked(x, corner_fraction=0.2)
    assert any("automatic sample mask covers" in w and "of the noise region" in w for w in res.warnings)
    assert any("corners probably contain sample" in w for w in res.warnings)
    noise = _localres._NoiseModel(1.0, "corners", n_region=100)
    record = []
    _localres.check_auto_mask(10, 50, 1000, noise, record)
    assert record == []
    with pytest.warns(ResolutionWarning, match="51 % of the noise region"):
        _localres.check_auto_mask(10, 51, 1000, noise, record)
    assert len(record) == 1


@pytest.mark.parametrize("case", ["object-corners", "object-3d", "filled-highfreq", "two-region-highfreq",
                                  "white-corners", "white-highfreq", "ramp-highfreq"])
def test_clean_maps_give_no_warning(case):
    """Maps that meet the assumptions of their noise model: no ResolutionWarning, an
    empty ``warnings`` field. (FBP-like noise rising to Nyquist makes 'highfreq'
    conservative, not wrong in the direction of false detections: not warned.)"""
    rng = np.random.default_rng(47)
    kwargs = {"noise_method": "highfreq"} if case.endswith("highfreq") else {}
    if case == "object-corners":
        image, _ = _object_in_noise(rng, (256, 256))
    elif case == "object-3d":
        image, _ = _object_in_noise(rng, (48, 48, 48))
        kwargs = {"window_sigma": 3.0, "n_freq": 8}
    elif case == "filled-highfreq":
        image = 20 * _blurred_white(rng, (256, 256), 3.0) + 0.5 * rng.standard_normal((256, 256))
    elif case == "two-region-highfreq":
        image = _two_region(rng, (256, 256))
    elif case == "ramp-highfreq":
        image = _ramp_noise(rng, (256, 256))
    else:  # noise alone: tested everywhere (the automatic mask of pure noise is empty, and says so)
        image = rng.standard_normal((256, 256))
        kwargs["mask"] = np.ones(image.shape, bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResolutionWarning)
        res = local_resolution(image, progress_bar=False, **kwargs)
    assert res.warnings == ()
    assert json.loads(res.to_json())["warnings"] == []


# --------------------------------------------------------------------------------------------
# documented class, attributes, units, plot
# --------------------------------------------------------------------------------------------
def test_documented_attributes_and_units(tmp_path):
    rng = np.random.default_rng(31)
    image, _ = _object_in_noise(rng, (128, 160))
    lr = LocalResolution(image, pixel_size=28.6, window_sigma=5.0, unit="nm", progress_bar=False)
    res = lr.result
    assert isinstance(res, LocalResolutionResult)
    assert lr.resolution_map.shape == image.shape
    np.testing.assert_allclose(lr.resolution_map_phys, lr.resolution_map * 28.6, rtol=1e-6)
    np.testing.assert_allclose(lr.resolution_map_half, lr.resolution_map / 2)
    np.testing.assert_allclose(lr.resolution_map_phys_half, lr.resolution_map_phys / 2, rtol=1e-6)
    assert lr.mask.dtype == bool and lr.mask.shape == image.shape
    assert np.all(np.isnan(lr.resolution_map[~lr.mask]))
    np.testing.assert_allclose(lr.freq_bands, np.linspace(1 / 128, 0.5, 20))
    assert lr.sigma_noise == res.sigma_noise > 0
    stats = map_statistics(lr.resolution_map, lr.mask)
    for key, value in stats.items():
        assert getattr(lr, key) == pytest.approx(value, rel=1e-6), key
    # physical units scale lengths only
    plain = LocalResolution(image, window_sigma=5.0, progress_bar=False)
    np.testing.assert_array_equal(plain.resolution_map, lr.resolution_map)
    record = json.loads(res.to_json())
    assert record["unit"] == "nm" and "resolution_map" not in record
    assert record["resolution_median_phys"] == pytest.approx(lr.resolution_median * 28.6)
    assert len(json.loads(res.to_json(include_maps=True))["resolution_map"]) == image.shape[0]
    assert "LocalResolution: median" in lr.summary()

    returned = lr.plot(output_dir=tmp_path)
    assert returned is lr.resolution_map
    assert (tmp_path / "LocalResolution_map.png").stat().st_size > 0
    assert lr.figure_path == tmp_path / "LocalResolution_map.png"


def test_3d_plot_slices_and_defaults(tmp_path, monkeypatch):
    rng = np.random.default_rng(32)
    image, _ = _object_in_noise(rng, (24, 32, 40))
    lr = LocalResolution(image, window_sigma=3.0, n_freq=6, progress_bar=False)
    assert lr.plot(slice_idx=5, axis=2, output_dir=tmp_path) is lr.resolution_map
    monkeypatch.chdir(tmp_path / "..")
    lr.plot()
    assert (tmp_path / ".." / "LocalResolution_map.png").exists()
    with pytest.raises(ValueError, match="slice_idx"):
        lr.plot(slice_idx=99, output_dir=tmp_path)


def test_dtypes_and_input_untouched():
    rng = np.random.default_rng(33)
    image = (100 * rng.standard_normal((64, 64))).astype(np.int16)
    keep = image.copy()
    res = local_resolution(image, sigma_noise=100.0, window_sigma=3.0, progress_bar=False)
    np.testing.assert_array_equal(image, keep)
    assert res.resolution_map.dtype == np.float32
    res64 = local_resolution(image.astype(np.float64), sigma_noise=100.0, window_sigma=3.0,
                             progress_bar=False)
    assert res64.resolution_map.dtype == np.float64
    np.testing.assert_allclose(res64.null_mean, res.null_mean, rtol=1e-5)
    res32 = local_resolution(image.astype(np.float32), sigma_noise=100.0, window_sigma=3.0,
                             progress_bar=False)
    assert res32.resolution_map.dtype == np.float32


def test_odd_shapes_and_progress_bar(capsys):
    rng = np.random.default_rng(34)
    for shape in ((63, 65), (15, 17, 19)):
        res = local_resolution(rng.standard_normal(shape), sigma_noise=1.0, window_sigma=2.0,
                               n_freq=5, progress_bar=True)
        assert res.resolution_map.shape == shape
        assert np.all(res.null_mean > 0) and np.all(np.isfinite(res.thresholds))


def test_int16_run_counter_for_many_bands():
    rng = np.random.default_rng(35)
    res = local_resolution(_blurred_white(rng, (64, 64), 0.5) * 5 + rng.standard_normal((64, 64)),
                           sigma_noise=1.0, n_freq=130, window_sigma=3.0, progress_bar=False)
    assert res.resolution_map.shape == (64, 64) and res.n_freq == 130
    assert res.resolved_fraction > 0.9


# --------------------------------------------------------------------------------------------
# private building blocks
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 10, 12), (5, 7, 9), (1, 8, 11)])
def test_in_place_transforms_match_scipy(shape):
    rng = np.random.default_rng(41)
    x = rng.standard_normal(shape).astype(np.float32)
    spectrum = np.fft.rfftn(x, axes=(0, 1, 2) if shape[0] > 1 else (1, 2)).astype(np.complex64)
    work = spectrum.copy()
    real = _localres._inverse_in_place(work, shape[-1], 1)
    np.testing.assert_allclose(real, x, atol=1e-5)
    real[...] = x
    _localres._forward_in_place(work, shape[-1], 1)
    np.testing.assert_allclose(work, spectrum, atol=1e-4)


def test_numba_kernels_match_numpy_twins():
    if not _localres._kernels.HAVE_NUMBA:  # pragma: no cover
        pytest.skip("numba not installed")
    rng = np.random.default_rng(42)
    grid = _localres._Grid((6, 10, 12))
    F = (rng.standard_normal(grid.spectrum_shape) + 1j * rng.standard_normal(grid.spectrum_shape))
    F = F.astype(np.complex64)
    a, b = np.empty_like(F), np.empty_like(F)
    _localres._fill_band_numba(F, a, *grid.fsq, 0.2, 300.0)
    _localres._fill_band_numpy(F, b, *grid.fsq, 0.2, 300.0)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    prof = (np.array([0.1, 0.3, 0.6]), np.array([1.0, 2.0, 4.0]))
    partial = np.zeros(4)
    _localres._fill_null_numba(a, *grid.fsq, 0.2, 300.0, True, *prof, 0.0, grid.wlast, partial)
    total = _localres._fill_null_numpy(b, *grid.fsq, 0.2, 300.0, True, *prof, 0.0, grid.wlast)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-9)
    assert partial.sum() == pytest.approx(total, rel=1e-6)
    energy = rng.random((6, 10, 12)).astype(np.float32)
    run_a = rng.integers(-1, 3, (6, 10, 12)).astype(np.int8)
    run_b = run_a.copy()
    counts = np.zeros((3, 2), np.int64)
    _localres._update_run_numba(energy, run_a, 2, 0.5, counts)
    passed, alive = _localres._update_run_numpy(energy, run_b, 2, 0.5)
    np.testing.assert_array_equal(run_a, run_b)
    assert tuple(counts.sum(axis=0)) == (passed, alive)
    table = np.array([np.nan, np.nan, 10.0, 5.0, 2.0], np.float32)
    out_a, out_b = np.empty(energy.shape, np.float32), np.empty(energy.shape, np.float32)
    _localres._finalise_numba(run_a, table, out_a)
    _localres._finalise_numpy(run_b, table, out_b)
    np.testing.assert_array_equal(out_a, out_b)
    hist = np.zeros((2, 5), np.int64)
    _localres._histogram_numba(run_a, hist)
    np.testing.assert_array_equal(hist.sum(axis=0), _localres._histogram_numpy(run_a, 5))


def test_histogram_statistics_equal_map_statistics():
    rng = np.random.default_rng(43)
    values = np.array([256.0, 33.3, 10.0, 2.0])
    for counts in ([0, 0, 0, 0], [1, 0, 0, 0], [3, 1, 4, 2], [0, 5, 5, 0]):
        data = np.repeat(values, counts)
        rng.shuffle(data)
        expected = map_statistics(np.concatenate([data, [np.nan]]))
        got = _localres._histogram_statistics(values, np.array(counts))
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-12, equal_nan=True)


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
_GOOD = np.random.default_rng(0).standard_normal((32, 32))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"significance": 0.0}, "significance"),
        ({"significance": 0.6}, "significance"),
        ({"significance": float("nan")}, "significance"),
        ({"n_freq": 1}, "n_freq"),
        ({"n_freq": 2.5}, "n_freq"),
        ({"n_freq": True}, "n_freq"),
        ({"window_sigma": 0.0}, "window_sigma"),
        ({"window_sigma": -2.0}, "window_sigma"),
        ({"window_sigma": float("inf")}, "window_sigma"),
        ({"corner_fraction": 0.0}, "corner_fraction"),
        ({"corner_fraction": 0.5}, "corner_fraction"),
        ({"highfreq_fraction": 1.0}, "highfreq_fraction"),
        ({"noise_method": "edges"}, "noise_method"),
        ({"noise_method": "mask"}, "noise_mask"),
        ({"mask": np.ones((31, 32), bool)}, "mask"),
        ({"mask": np.zeros((32, 32), bool)}, "mask"),
        ({"mask": -np.ones((32, 32), np.float32)}, "mask must be boolean.*negative"),
        ({"noise_method": "mask", "noise_mask": -np.ones((32, 32))}, "noise_mask must be boolean"),
        ({"noise_method": "mask", "noise_mask": np.zeros((32, 32), bool)}, "noise_mask"),
        ({"noise_method": "mask", "noise_mask": np.ones((32, 33), bool)}, "noise_mask"),
        ({"sigma_noise": 0.0}, "sigma_noise"),
        ({"sigma_noise": -1.0}, "sigma_noise"),
        ({"pixel_size": 0.0}, "pixel_size"),
        ({"whiten": True, "sigma_noise": 1.0}, "whiten"),
        ({"whiten": True, "noise_method": "highfreq"}, "whiten"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        local_resolution(_GOOD, progress_bar=False, **kwargs)
    with pytest.raises(ValueError, match=name):
        LocalResolution(_GOOD, progress_bar=False, **kwargs)


def test_bad_volumes():
    with pytest.raises(ValueError, match="vol.*NaN"):
        local_resolution(np.where(_GOOD > 2, np.nan, _GOOD), sigma_noise=1.0)
    with pytest.raises(ValueError, match="vol.*NaN or infinite"):
        local_resolution(np.where(_GOOD > 2, np.inf, _GOOD), sigma_noise=1.0)
    with pytest.raises(ValueError, match="vol is constant"):
        local_resolution(np.ones((32, 32)), sigma_noise=1.0)
    with pytest.raises(ValueError, match="vol must be 2-D or 3-D"):
        local_resolution(np.ones(32), sigma_noise=1.0)
    with pytest.raises(TypeError, match="vol must be real"):
        local_resolution(_GOOD + 1j, sigma_noise=1.0)
    with pytest.raises(TypeError, match="vol"):
        local_resolution("image", sigma_noise=1.0)


def test_noise_regions_of_zero_variance():
    padded = np.zeros((64, 64))
    padded[16:48, 16:48] = np.random.default_rng(1).standard_normal((32, 32))
    with pytest.raises(ValueError, match="noise_method='corners'.*zero variance"):
        local_resolution(padded)
    region = np.zeros((64, 64), bool)
    region[:4] = True
    with pytest.raises(ValueError, match="noise_mask.*zero variance"):
        local_resolution(padded, noise_method="mask", noise_mask=region)


# --------------------------------------------------------------------------------------------
# maps that are not periodic: the FFT's wrap-around jump (periodic-plus-smooth correction)
# --------------------------------------------------------------------------------------------
def _face_distance(shape) -> np.ndarray:
    index = np.indices(shape)
    return np.min([np.minimum(i, n - 1 - i) for i, n in zip(index, shape)], axis=0)


def _blurred(shape, mode: str, seed: int = 0) -> np.ndarray:
    """Gaussian blur σ = 1.5 px of white noise plus white noise of 0.05 (true resolution ~3 px).

    ``mode='reflect'``: opposite faces do not match; ``'wrap'``: the same object, periodic.
    """
    rng = np.random.default_rng(seed)
    blurred = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5, mode=mode)
    return blurred + 0.05 * rng.standard_normal(shape)


@pytest.mark.parametrize("kwargs", [{"sigma_noise": 0.05}, {"noise_method": "highfreq"}],
                         ids=["given", "highfreq"])
def test_non_periodic_map_is_resolved_at_its_faces_as_in_its_centre(kwargs):
    # Without the correction 78 % (given) / 33-41 % (highfreq) of the voxels within 8 px of a
    # face were Nyquist-limited (2 px) against 0 % in the centre. The object is stationary, so
    # every voxel has the centre's resolution up to the decision noise: >= 95 % of the near-face
    # voxels within one band of the centre's median band, and no excess of 2 px.
    shape = (64, 64, 64)
    vol = _blurred(shape, "reflect")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResolutionWarning)
        res = _localres.local_resolution(vol, **kwargs)
    assert res.periodic_axes == (0, 1, 2)
    assert all(r > 3 for r in res.face_jump_ratio)
    assert "faces of axes 0, 1, 2 was removed" in res.summary()
    band = np.rint(1.0 / res.resolution_map / (res.freq_bands[1] - res.freq_bands[0]))
    centre = band[20:44, 20:44, 20:44]
    near = band[_face_distance(shape) < 8]
    assert np.isfinite(near).all()
    assert np.mean(np.abs(near - np.median(centre)) <= 1) >= 0.95
    nyquist = np.max(band)
    assert np.mean(near == nyquist) <= np.mean(centre == nyquist) + 0.01
    # the same object made periodic: the same median resolution, no correction applied
    periodic = _localres.local_resolution(_blurred(shape, "wrap"), **kwargs)
    assert periodic.periodic_axes == ()
    step = res.freq_bands[1] - res.freq_bands[0]
    assert abs(1.0 / res.resolution_median - 1.0 / periodic.resolution_median) <= step * (1 + 1e-9)
    if "noise_method" in kwargs:  # the jump's power near Nyquist no longer inflates the noise level
        assert res.sigma_noise == pytest.approx(periodic.sigma_noise, rel=0.05)


def test_removing_the_face_jumps_leaves_a_periodic_map():
    # p = u - s must step across the corrected faces like between neighbouring planes, and s is
    # the periodic solution of Δs = v (Moisan): its periodic 5-point Laplacian is exactly the
    # boundary image v (zero away from the faces, where s is harmonic: no detail added)
    u = _blurred((96, 128), "reflect") + np.linspace(0.0, 3.0, 128)[None, :]  # plus a ramp
    grid = _localres._Grid(u.shape)
    F = scipy.fft.rfftn(u)
    F[0, 0] = 0.0
    P = np.empty(grid.spectrum_shape, F.dtype)
    jumps = _localres.face_jump_test(_localres.face_steps(u))
    assert jumps.axes == (0, 1) and min(jumps.z) > _localres.FACE_Z
    _localres.remove_face_jumps(u, F, P, grid, jumps.axes, 1)
    p = scipy.fft.irfftn(F, s=u.shape)
    after = _localres.face_jump_test(_localres.face_steps(p))
    assert after.axes == () and max(after.ratio) < 1.5
    s = (u - u.mean()) - p
    laplacian = sum(np.roll(s, k, axis=a) for a in (0, 1) for k in (1, -1)) - 4 * s
    v = np.zeros_like(u)
    for a in (0, 1):
        jump = np.take(u, -1, a) - np.take(u, 0, a)
        np.moveaxis(v, a, 0)[0] += jump
        np.moveaxis(v, a, 0)[-1] -= jump
    np.testing.assert_allclose(laplacian, v, atol=1e-10 * np.abs(v).max())
    # only the corrected axes: axis 1 alone leaves the jump of axis 0
    F1 = scipy.fft.rfftn(u)
    F1[0, 0] = 0.0
    _localres.remove_face_jumps(u, F1, P, grid, (1,), 1)
    one = _localres.face_jump_test(_localres.face_steps(scipy.fft.irfftn(F1, s=u.shape)))
    assert one.axes == (0,)


def test_face_jump_test_never_flags_noise_or_periodic_objects_and_always_flags_crops():
    # Noise (any size, 2-D or 3-D) and periodic objects step across the wrap-around as between
    # neighbouring planes: measured over 200 maps each, z stays below 4.4 (threshold 8), so the
    # null law of pure noise is exactly the uncorrected one. Non-periodic crops: z >= 18.
    flagged_noise = flagged_periodic = missed = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        for noise in (rng.standard_normal((128, 128)), rng.standard_normal((32, 32, 32))):
            flagged_noise += bool(_localres.face_jump_test(_localres.face_steps(noise)).axes)
        flagged_periodic += bool(_localres.face_jump_test(_localres.face_steps(
            _blurred((128, 128), "wrap", seed))).axes)
        crop = _blurred((128, 128), "reflect", seed)
        missed += _localres.face_jump_test(_localres.face_steps(crop)).axes != (0, 1)
    assert (flagged_noise, flagged_periodic, missed) == (0, 0, 0)


def test_sample_in_noise_is_not_corrected_and_gives_no_warning():
    # a sample surrounded by solvent noise: the faces are noise on both sides (no correction)
    rng = np.random.default_rng(3)
    vol = rng.standard_normal((96, 96))
    vol[24:72, 24:72] += ndimage.gaussian_filter(rng.standard_normal((48, 48)), 1.5) * 10
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResolutionWarning)
        res = _localres.local_resolution(vol, window_sigma=3.0)
    assert res.periodic_axes == () and len(res.face_jump_ratio) == 2
    assert "faces" not in res.summary()
    assert res.to_dict()["periodic_axes"] == []
