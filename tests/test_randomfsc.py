"""Phase-randomised FSC (``RandomFSC``, ``phase_randomized_fsc``) and the masked FSC.

Validation case 8 of ``spec/ALGORITHMS.md`` §10 plus the contract of decision D7 and §3.
Every expected value is exact algebra or an analytic expectation; every tolerance on a
simulated quantity is derived from its sampling distribution in the docstring. All random
numbers come from seeded ``numpy.random.default_rng`` generators.

Facts used (real inputs, full-FFT shell of ``n`` voxels):

* Beyond the cut-off the randomised halves have independent uniform phases, so with no
  window and no mask their shell FSC is a correlation coefficient of independent isotropic
  vectors: ``E r = 0``, ``E r^2 = 1/n`` (``z = r sqrt(n)`` has unit variance, and distinct
  shells are independent). A window multiplies the images and correlates neighbouring
  Fourier samples, which widens ``z`` slightly (the spec's band [0.8, 1.25] covers it).
* For complex inputs the FSC is the modulus of the complex cross sum; for independent
  halves ``z`` is then Rayleigh distributed: mean ``sqrt(pi)/2 = 0.886``, std
  ``sqrt(1 - pi/4) = 0.463``.
* A sharp mask convolves the spectrum with the mask's slowly decaying transform, spreading
  the (common) low-frequency signal of the two randomised halves into shells beyond the
  cut-off: ``FSC_rand`` there is far above ``1/sqrt(n)``.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from toupy.resolution import fsc, ssnr
from toupy.resolution._randomfsc import (
    RandomFSCResult,
    corrected_fsc,
    cutoff_shell,
    phase_randomized_fsc,
    randomize_phases,
)
from toupy.resolution._shells import shell_index
from toupy.resolution.FSC import FourierShellCorr, FRCPlot, FSCPlot, RandomFSC, SSNRPlot


# --------------------------------------------------------------------------------------------
# test data (no FSC is computed here)
# --------------------------------------------------------------------------------------------
def _blurred(rng, shape, sigma):
    """Unit-variance white noise blurred by a Gaussian PSF of std ``sigma`` px (exactly, in
    Fourier space): power spectrum ``exp(-4 pi^2 sigma^2 f^2)``, so the FSC of two noisy
    copies falls off smoothly and crosses 0.8 well inside the band."""
    shape = tuple(shape)
    freqs = [np.fft.fftfreq(n) for n in shape[:-1]] + [np.fft.rfftfreq(shape[-1])]
    f2 = 0.0
    for ax, f in enumerate(freqs):
        view = [1] * len(shape)
        view[ax] = f.size
        f2 = f2 + f.reshape(view) ** 2
    axes = tuple(range(len(shape)))
    spectrum = np.fft.rfftn(rng.standard_normal(shape), axes=axes)
    return np.fft.irfftn(spectrum * np.exp(-2.0 * np.pi**2 * sigma**2 * f2), s=shape, axes=axes)


def _halves(seed, shape, sigma=2.0, noise=0.1):
    """Common blurred signal plus independent white noise of std ``noise`` in each half."""
    rng = np.random.default_rng(seed)
    signal = _blurred(rng, shape, sigma)
    return (signal + noise * rng.standard_normal(shape), signal + noise * rng.standard_normal(shape))


def _disc(shape, radius):
    rows = np.arange(shape[-2])[:, None] - (shape[-2] - 1) / 2.0
    cols = np.arange(shape[-1])[None, :] - (shape[-1] - 1) / 2.0
    disc = (np.hypot(rows, cols) < radius).astype(float)
    return np.broadcast_to(disc, shape).copy()


def _z_beyond(res):
    """``FSC_rand * sqrt(n)`` in every shell from ``cutoff_shell + 2`` to Nyquist."""
    shells = np.arange(res.cutoff_shell + 2, res.fsc_rand.size)
    return res.fsc_rand[shells] * np.sqrt(res.n_per_shell[shells])


# --------------------------------------------------------------------------------------------
# validation case 8: without a mask FSC_rand is noise beyond the cut-off
# --------------------------------------------------------------------------------------------
def test_case8_unmasked_fsc_rand_is_unit_noise_default_window():
    """Case 8: 128², 20 seeds, default window: ``FSC_rand·sqrt(n)`` beyond ``s_r + 2`` has
    std in [0.8, 1.25] and max |.| < 4.5 (spec band; this data: std 1.09, max 3.56 over 888
    values; the circle window's effective-count loss explains the excess over 1). A
    randomisation that left the phases (or shared them between the halves) would give
    values of order ``FSC_obs·sqrt(n) >> 4.5`` near the cut-off."""
    z = []
    for seed in range(20):
        res = phase_randomized_fsc(*_halves(seed, (128, 128)), random_seed=100 + seed)
        assert 5 <= res.cutoff_shell <= 40
        z.append(_z_beyond(res))
    z = np.concatenate(z)
    assert z.size > 500
    assert 0.8 <= z.std() <= 1.25
    assert np.abs(z).max() < 4.5


@pytest.mark.parametrize("shape", [(128, 128), (127, 130)])
def test_case8_unmasked_no_window_exact_statistics(shape):
    """Without window and mask ``z = FSC_rand·sqrt(n)`` beyond ``s_r + 2`` is exactly a
    unit-variance, zero-mean variable, independent between shells. Over N ≈ 450 values
    (10 seeds) the sample std has standard error ``≈ 1/sqrt(2N) = 0.033`` and the mean
    ``1/sqrt(N) = 0.047``: tolerances ±0.15 and ±0.2 are > 4 standard errors (128²: 0.98,
    -0.03; 127x130: 0.996, -0.01). Odd/non-square shapes exercise the Hermitian bookkeeping."""
    z = np.concatenate([
        _z_beyond(phase_randomized_fsc(*_halves(s, shape), random_seed=s, window=None))
        for s in range(10)
    ])
    assert z.size > 300
    assert abs(z.std() - 1.0) < 0.15
    assert abs(z.mean()) < 0.2
    assert np.abs(z).max() < 4.5


def test_case8_unmasked_3d():
    """3-D 56³ (odd cut of a cube: 56, 57, 55), no window, 4 seeds: ``z`` beyond ``s_r+2``
    has unit variance; N = 64 values → std standard error ``1/sqrt(2N) ≈ 0.09``,
    tolerance ±0.3 (3.4 s.e.; this data: 0.96); mean within ±4/sqrt(N)."""
    shape = (56, 57, 55)
    z = np.concatenate([
        _z_beyond(phase_randomized_fsc(*_halves(s, shape, sigma=1.5), random_seed=s, window=None))
        for s in range(4)
    ])
    assert z.size > 50
    assert abs(z.std() - 1.0) < 0.3
    assert abs(z.mean()) < 4.0 / math.sqrt(z.size)


def test_complex_inputs_rand_is_rayleigh():
    """Complex halves (ptychography): the FSC is the modulus of the complex cross sum
    (D1), so for randomised (independent) shells ``z`` is Rayleigh: mean 0.886, std 0.463.
    N ≈ 400 values over 10 seeds: standard errors 0.023 (mean) and ~0.02 (std);
    tolerances 0.1 (sim: 0.883, 0.463)."""
    z = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        shape = (128, 128)
        obj = _blurred(rng, shape, 2.0) * np.exp(5j * _blurred(rng, shape, 3.0))
        a, b = (obj + 0.05 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
                for _ in range(2))
        res = phase_randomized_fsc(a, b, random_seed=seed, window=None)
        assert res.complex_input
        z.append(_z_beyond(res))
    z = np.concatenate(z)
    assert abs(z.mean() - math.sqrt(math.pi) / 2.0) < 0.1
    assert abs(z.std() - math.sqrt(1.0 - math.pi / 4.0)) < 0.1


# --------------------------------------------------------------------------------------------
# D7 contract: cut-off, switch at s_r + 2, corrected formula, reproducibility
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(128, 128), (65, 64), (24, 26, 25)])
def test_curves_cutoff_and_corrected_formula(shape):
    """``FSC_obs`` and ``FSC_unmasked`` are exactly :func:`fsc`'s curves; the cut-off is the
    first shell s >= 1 with ``FSC_unmasked < fsc_cutoff``; ``FSC_corr == FSC_obs`` below
    ``s_r + 2`` (bit for bit) and ``(FSC_obs - FSC_rand)/(1 - FSC_rand)`` clipped to [-1, 1]
    from there on (algebra, 1e-12)."""
    apod = 20 if min(shape) >= 40 else 4
    a, b = _halves(1, shape, sigma=1.5)
    res = phase_randomized_fsc(a, b, random_seed=5, apod_width=apod, fsc_cutoff=0.7)
    ref = fsc(a, b, apod_width=apod)
    np.testing.assert_array_equal(res.fsc_obs, ref.fsc)
    np.testing.assert_array_equal(res.fsc_unmasked, ref.fsc)
    np.testing.assert_array_equal(res.threshold_curve, ref.threshold_curve)
    np.testing.assert_array_equal(res.n_per_shell, ref.n_per_shell)
    first = next(s for s in range(1, ref.fsc.size) if ref.fsc[s] < 0.7)
    assert res.cutoff_shell == first
    below = slice(0, first + 2)
    np.testing.assert_array_equal(res.fsc_corr[below], res.fsc_obs[below])
    obs, rand = res.fsc_obs[first + 2:], res.fsc_rand[first + 2:]
    expected = np.clip((obs - rand) / (1.0 - rand), -1.0, 1.0)
    np.testing.assert_allclose(res.fsc_corr[first + 2:], expected, rtol=0, atol=1e-12)
    # below the cut-off nothing was randomised: FSC_rand equals FSC_obs up to FFT round-off
    # and the window's leakage from the randomised shells (tiny for these smooth spectra)
    np.testing.assert_allclose(res.fsc_rand[1:first - 2], res.fsc_obs[1:first - 2], atol=0.02)


def test_cutoff_shell_is_first_drop_not_last():
    """D7: the first shell s >= 1 below the cut-off (RELION), NaN shells never qualify, DC
    never decides; a later recovery above the cut-off does not move it."""
    curve = np.array([np.nan, 0.95, 0.9, np.nan, 0.79, 0.85, 0.5, 0.9])
    assert cutoff_shell(curve, 0.8) == 4
    assert cutoff_shell(curve, 0.92) == 2
    assert cutoff_shell(np.array([0.1, 0.5, 0.9]), 0.8) == 1


def test_cutoff_never_reached_raises_and_says_what_to_change():
    """Identical halves have FSC = 1 in every shell: no shell to randomise from. The error
    names ``fsc_cutoff``, tells to raise it and gives the lowest FSC value."""
    a, _ = _halves(2, (64, 64))
    with pytest.raises(ValueError, match=r"fsc_cutoff=0\.8.*never drops.*Raise fsc_cutoff"):
        phase_randomized_fsc(a, a.copy(), random_seed=1)
    with pytest.raises(ValueError, match="fsc_cutoff"):
        cutoff_shell(np.array([np.nan, 0.9, 0.95]), 0.8)


def test_corrected_fsc_algebra_and_guards():
    """Formula, switch at ``cutoff + 2``, clipping to [-1, 1], NaN propagation, and the
    guard ``1 - FSC_rand <= 1e-6`` (set to 0 and reported)."""
    obs = np.array([np.nan, 0.9, 0.8, 0.6, 0.5, -0.9, 0.3, 0.2, np.nan])
    rand = np.array([np.nan, 0.9, 0.7, 0.5, 0.2, 0.5, 1.0 - 1e-9, 1.0, 0.1])
    corr, degenerate = corrected_fsc(obs, rand, cutoff=2)
    np.testing.assert_array_equal(corr[:4], obs[:4])
    assert corr[4] == pytest.approx((0.5 - 0.2) / 0.8, abs=1e-15)
    assert corr[5] == -1.0  # (-0.9 - 0.5)/0.5 = -2.8, clipped
    assert corr[6] == 0.0 and corr[7] == 0.0
    assert np.isnan(corr[8])
    assert degenerate.tolist() == [6, 7]


# an unseeded draw may cross the FSC_rand warning's bound (that warning is tested on its own)
@pytest.mark.filterwarnings("ignore:FSC_rand")
def test_same_seed_identical_different_seed_differs():
    """Same seed → bit-identical output; another seed changes only the randomised curve;
    ``random_seed=None`` records the seed used, which reproduces the run exactly."""
    a, b = _halves(3, (96, 90))
    r1 = phase_randomized_fsc(a, b, random_seed=42)
    r2 = phase_randomized_fsc(a, b, random_seed=42)
    for name in ("fsc_obs", "fsc_rand", "fsc_corr", "fsc_unmasked", "threshold_curve"):
        np.testing.assert_array_equal(getattr(r1, name), getattr(r2, name))
    assert r1.crossing_shell == r2.crossing_shell and r1.random_seed == 42
    r3 = phase_randomized_fsc(a, b, random_seed=43)
    np.testing.assert_array_equal(r3.fsc_obs, r1.fsc_obs)
    assert not np.allclose(r3.fsc_rand[r1.cutoff_shell:], r1.fsc_rand[r1.cutoff_shell:])
    r4 = phase_randomized_fsc(a, b)
    assert isinstance(r4.random_seed, int) and r4.random_seed >= 0
    np.testing.assert_array_equal(
        phase_randomized_fsc(a, b, random_seed=r4.random_seed).fsc_rand, r4.fsc_rand
    )


# --------------------------------------------------------------------------------------------
# the randomisation itself
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(64, 64), (65, 63), (64, 65), (17, 20, 22), (16, 15, 16), (15, 17, 19)])
def test_randomize_phases_hermitian_moduli_kept(shape):
    """Hermitian-consistent randomisation (rfft/irfft): the output is real and every
    Fourier modulus of the full FFT is preserved to round-off (1e-12 of the largest),
    shells below the cut-off are untouched, and the new phases are uniform:
    ``|mean exp(i Δφ)|`` over the N randomised voxels is ≈ ``1/sqrt(N/2)`` (Friedel
    mates are conjugate), < 5/sqrt(N/2). Without antisymmetric phases on the
    self-conjugate rfft columns the moduli there change by O(1) (checked: 0.8)."""
    x = np.random.default_rng(0).standard_normal(shape)
    before = x.copy()
    out = randomize_phases(x, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(x, before)
    assert out.dtype == np.float64 and out.shape == shape
    f_in, f_out = np.fft.fftn(x), np.fft.fftn(out)
    scale = np.abs(f_in).max()
    np.testing.assert_allclose(np.abs(f_out), np.abs(f_in), rtol=0, atol=1e-12 * scale)
    low = shell_index(shape) < 5
    np.testing.assert_allclose(f_out[low], f_in[low], rtol=0, atol=1e-12 * scale)
    n = int((~low).sum())
    turn = np.exp(1j * np.angle(f_out[~low] / f_in[~low]))
    assert abs(turn.mean()) < 5.0 / math.sqrt(n / 2)
    assert np.mean(np.abs(np.angle(turn)) < 0.1) < 0.1  # phases really changed


@pytest.mark.parametrize("shape, dtype", [((40, 37), np.float64), ((12, 14, 15), np.float32)])
def test_randomize_phases_numba_matches_numpy_twin(shape, dtype):
    """The compiled rotation loop and its numpy twin draw the same phases and give the same
    image up to cos/sin round-off (1e-12 in float64, 1e-5 relative in float32)."""
    x = np.random.default_rng(4).standard_normal(shape).astype(dtype)
    fast = randomize_phases(x, 4, np.random.default_rng(8), use_numba=True)
    slow = randomize_phases(x, 4, np.random.default_rng(8), use_numba=False)
    assert fast.dtype == slow.dtype == dtype
    atol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fast, slow, rtol=0, atol=atol * np.abs(slow).max())


def test_randomize_phases_independent_streams_dtypes_and_complex():
    """Two generators give independent phases (``|mean exp(i(φ1-φ2))| < 5/sqrt(N/2)``);
    float32 stays float32, integers are lifted to float32; complex inputs keep their
    moduli with full-FFT randomisation."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 62))
    o1 = randomize_phases(x, 3, np.random.default_rng(10))
    o2 = randomize_phases(x, 3, np.random.default_rng(11))
    high = shell_index(x.shape) >= 3
    rel = np.fft.fft2(o1)[high] / np.fft.fft2(o2)[high]
    assert abs(np.exp(1j * np.angle(rel)).mean()) < 5.0 / math.sqrt(high.sum() / 2)
    assert randomize_phases(x.astype(np.float32), 3, rng).dtype == np.float32
    assert randomize_phases((100 * x).astype(np.int16), 3, rng).dtype == np.float32
    z = x + 1j * rng.standard_normal(x.shape)
    oz = randomize_phases(z, 3, rng)
    assert oz.dtype == np.complex128
    np.testing.assert_allclose(np.abs(np.fft.fft2(oz)), np.abs(np.fft.fft2(z)), atol=1e-10)


# --------------------------------------------------------------------------------------------
# masks: the case the test exists for
# --------------------------------------------------------------------------------------------
def test_case8_sharp_mask_lifts_fsc_rand_and_lowers_fsc_corr():
    """Case 8 with a sharp binary disc (radius 30 px in 128², σ=2 signal, noise 0.03):
    over the 10 shells from ``s_r + 2`` the summed ``z`` divided by sqrt(10) is N(0, ~1.1²)
    for independent halves; here it must exceed 8 (sim: 17-28 over 5 seeds), and the mean
    of ``FSC_obs - FSC_corr`` must exceed 0.15 (sim 0.31-0.66; ~0 ± 0.03 without mask).
    The unmasked control on the same data stays within ±4. The masked curves are
    :func:`fsc` with ``mask=``; the cut-off comes from the unmasked FSC (RELION)."""
    a, b = _halves(4, (128, 128), sigma=2.0, noise=0.03)
    disc = _disc((128, 128), 30)
    with pytest.warns(UserWarning, match="FSC_rand"):
        res = phase_randomized_fsc(a, b, random_seed=7, mask=disc)
    assert res.masked
    np.testing.assert_array_equal(res.fsc_obs, fsc(a, b, mask=disc).fsc)
    np.testing.assert_array_equal(res.fsc_unmasked, fsc(a, b).fsc)
    assert res.cutoff_shell == cutoff_shell(res.fsc_unmasked, 0.8)
    shells = np.arange(res.cutoff_shell + 2, res.cutoff_shell + 12)
    z = res.fsc_rand[shells] * np.sqrt(res.n_per_shell[shells])
    assert z.sum() / math.sqrt(z.size) > 8.0
    assert np.mean(res.fsc_obs[shells] - res.fsc_corr[shells]) > 0.15
    assert np.max(res.fsc_rand[shells]) > 0.27

    control = phase_randomized_fsc(a, b, random_seed=7)
    shells = np.arange(control.cutoff_shell + 2, control.cutoff_shell + 12)
    zc = control.fsc_rand[shells] * np.sqrt(control.n_per_shell[shells])
    assert abs(zc.sum() / math.sqrt(zc.size)) < 4.0


def test_sharp_mask_3d_cylinder():
    """3-D (32, 36, 34) with a sharp cylinder mask (radius 9): ``FSC_rand`` beyond
    ``s_r + 2`` is far above noise (summed ``z``/sqrt(k) > 8; noise ~ N(0, 1))."""
    shape = (32, 36, 34)
    a, b = _halves(5, shape, sigma=1.5, noise=0.03)
    with pytest.warns(UserWarning, match="FSC_rand"):
        res = phase_randomized_fsc(a, b, random_seed=1, apod_width=4, mask=_disc(shape, 9))
    shells = np.arange(res.cutoff_shell + 2, res.fsc_rand.size)
    z = res.fsc_rand[shells] * np.sqrt(res.n_per_shell[shells])
    assert z.sum() / math.sqrt(z.size) > 8.0


def test_mask_cutting_into_object_warns():
    """The object fills the field; a small disc mask cuts into it, so the masked and
    corrected FSC reaches a coarser resolution than the unmasked one (sim: shell 26.6 vs
    37.6): RELION's "unmasked FSC extends beyond the corrected FSC" warning."""
    import warnings

    a, b = _halves(3, (128, 128), sigma=1.0, noise=0.3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = phase_randomized_fsc(a, b, random_seed=1, mask=_disc((128, 128), 12))
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert any("without the mask extends beyond" in m for m in messages)
    assert res.unmasked.crossing_shell > res.crossing_shell + 1


def test_no_warning_without_mask_and_soft_mask_accepted():
    """No spurious warnings on the plain case; a soft (Gaussian) mask is accepted and its
    scale does not matter (FSC is scale-invariant: identical curves, 1e-12)."""
    import warnings

    a, b = _halves(6, (128, 128))
    rows, cols = np.mgrid[:128, :128] - 63.5
    soft = np.exp(-(rows**2 + cols**2) / (2 * 30.0**2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        phase_randomized_fsc(a, b, random_seed=2)
        r1 = phase_randomized_fsc(a, b, random_seed=2, mask=soft)
    r2 = phase_randomized_fsc(a, b, random_seed=2, mask=7.5 * soft)
    for name in ("fsc_obs", "fsc_rand", "fsc_corr"):
        np.testing.assert_allclose(getattr(r2, name)[1:], getattr(r1, name)[1:], atol=1e-12)


# --------------------------------------------------------------------------------------------
# mask= on fsc() and the FSC classes
# --------------------------------------------------------------------------------------------
def test_masked_fsc_is_one_where_images_agree_inside_mask():
    """Known answer: two white-noise images identical inside a binary region R and
    independent outside have FSC = 1 in every shell once R is the mask (the masked
    products are identical; 1e-12). Without the mask the expected FSC of every shell is
    the window-weighted power fraction of R, ``ρ = Σ_R w² / Σ w²`` (white noise: power is
    spread evenly over shells); the mean over the ~35 shells s >= 2 has a standard error
    of ~0.01 (per-shell std ≈ (1-ρ)/sqrt(n/2)), tolerance 0.05 (window leakage included)."""
    from toupy.resolution._windows import full_window

    rng = np.random.default_rng(9)
    shape = (64, 70)
    a = rng.standard_normal(shape)
    b = rng.standard_normal(shape)
    region = _disc(shape, 20) > 0
    b[region] = a[region]
    for kw in ({"window": None}, {}, {"window": "hann"}):
        masked = fsc(a, b, mask=region, **kw)
        np.testing.assert_allclose(masked.fsc[1:], 1.0, rtol=0, atol=1e-12)
        w2 = full_window(shape, kw.get("window", "circle"), 20) ** 2
        rho = w2[region].sum() / w2.sum()
        assert abs(np.mean(fsc(a, b, **kw).fsc[2:]) - rho) < 0.05


def test_masked_fsc_semantics_weighted_mean_then_multiply():
    """``mask=`` removes the mask-weighted mean and multiplies: with no window,
    ``fsc(a, b, mask=M) == fsc((a - m_a) M, (b - m_b) M)`` with ``m = Σ M a / Σ M``
    (those products have zero mean, so the second call removes nothing; 1e-12).
    A mask of ones equals no mask; the mask is never modified."""
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((2, 48, 50)) + 3.0
    m = rng.uniform(0.0, 1.0, (48, 50))
    m_before = m.copy()
    ma, mb = (m * a).sum() / m.sum(), (m * b).sum() / m.sum()
    left = fsc(a, b, mask=m, window=None).fsc
    right = fsc((a - ma) * m, (b - mb) * m, window=None).fsc
    np.testing.assert_allclose(left[1:], right[1:], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(m, m_before)
    np.testing.assert_allclose(fsc(a, b, mask=np.ones((48, 50))).fsc[1:], fsc(a, b).fsc[1:],
                               rtol=0, atol=1e-12)


def test_mask_on_fsc_classes_matches_function():
    """``mask=`` on FSCPlot, FRCPlot, SSNRPlot and ssnr() gives the curves of fsc(mask=)."""
    a, b = _halves(11, (64, 64))
    m = _disc((64, 64), 25)
    ref = fsc(a, b, mask=m).fsc
    np.testing.assert_array_equal(FSCPlot(a, b, mask=m).FSC, ref)
    np.testing.assert_array_equal(FRCPlot(a, b, mask=m).FSC, ref)
    np.testing.assert_array_equal(SSNRPlot(a, b, mask=m).FSC, ref)
    np.testing.assert_array_equal(ssnr(a, b, mask=m).fsc, ref)
    assert not np.allclose(ref[1:], fsc(a, b).fsc[1:])


# --------------------------------------------------------------------------------------------
# the documented class
# --------------------------------------------------------------------------------------------
def test_randomfsc_facade_attributes_and_plot(tmp_path, monkeypatch):
    """Every documented attribute, positional order of the documented signature, the
    resolution in FSCPlot's units, and plot(): documented 5-tuple, RandomFSC.png in
    ``output_dir`` (default: current directory), nothing shown."""
    a, b = _halves(12, (96, 96))
    rf = RandomFSC(a, b, "onebit", 1, 10, 0.7, 3, 2.5, unit="nm")
    res = rf.result
    assert isinstance(rf, FourierShellCorr) and isinstance(res, RandomFSCResult)
    assert rf.threshold == "onebit" and rf.apod_width == 10 and rf.fsc_cutoff == 0.7
    assert rf.random_seed == 3 and rf.pixel_size == 2.5
    np.testing.assert_array_equal(rf.FSC_obs, fsc(a, b, threshold="onebit", apod_width=10).fsc)
    for attr, field in (("FSC_obs", "fsc_obs"), ("FSC_rand", "fsc_rand"), ("FSC_corr", "fsc_corr"),
                        ("T", "threshold_curve"), ("fn", "fn"), ("FSC_unmasked", "fsc_unmasked")):
        np.testing.assert_array_equal(getattr(rf, attr), getattr(res, field))
    np.testing.assert_array_equal(rf.f, np.arange(49))
    assert rf.fnyquist == 48 and rf.cutoff_shell == res.cutoff_shell
    assert rf.fn_res == pytest.approx(res.crossing_shell / 48)
    assert rf.fn_res_cpx == pytest.approx(res.crossing_shell / 96)
    assert rf.resolution_full == pytest.approx(2.5 / rf.fn_res_cpx)
    assert rf.resolution_half == pytest.approx(rf.resolution_full / 2)
    assert rf.nyquist_limited is False
    fsc_curve, t = rf.fouriercorr()
    np.testing.assert_array_equal(fsc_curve, rf.FSC_obs)

    out = rf.plot(output_dir=tmp_path / "figs")
    assert len(out) == 5
    for got, want in zip(out, (rf.fn, rf.FSC_obs, rf.FSC_rand, rf.FSC_corr, rf.T)):
        np.testing.assert_array_equal(got, want)
    png = tmp_path / "figs" / "RandomFSC.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(rf.figure.axes) >= 2
    labels = [line.get_label() for line in rf.figure.axes[0].get_lines()]
    assert any("rand" in s for s in labels) and any("corr" in s for s in labels)

    monkeypatch.chdir(tmp_path)
    RandomFSC(a, b, random_seed=1).plot()
    assert (tmp_path / "RandomFSC.png").exists()


def test_randomfsc_pixel_size_scales_lengths_only():
    """pixel_size multiplies every length and leaves every frequency unchanged."""
    a, b = _halves(13, (80, 80))
    r1 = RandomFSC(a, b, random_seed=4)
    r2 = RandomFSC(a, b, random_seed=4, pixel_size=28.6)
    assert r2.fn_res_cpx == r1.fn_res_cpx
    assert r2.resolution_full == pytest.approx(28.6 * r1.resolution_full, rel=1e-12)
    assert r2.resolution_half == pytest.approx(28.6 * r1.resolution_half, rel=1e-12)


def test_randomfsc_masked_3d_and_ring_thick():
    """3-D volume with a soft mask through the class; ring_thick pools every curve as
    fsc() does and the corrected formula is applied to the pooled curves."""
    shape = (40, 42, 41)
    a, b = _halves(14, shape, sigma=1.5)
    mask = np.clip(_disc(shape, 17) * 1.0, 0, 1)
    rf = RandomFSC(a, b, ring_thick=3, apod_width=5, random_seed=2, mask=mask)
    np.testing.assert_array_equal(rf.FSC_obs, fsc(a, b, ring_thick=3, apod_width=5, mask=mask).fsc)
    s0 = rf.cutoff_shell + 2
    expected = np.clip((rf.FSC_obs[s0:] - rf.FSC_rand[s0:]) / (1 - rf.FSC_rand[s0:]), -1, 1)
    np.testing.assert_allclose(rf.FSC_corr[s0:], expected, atol=1e-12)
    assert rf.result.kind == "FSC" and rf.fnyquist == 21


def test_result_object_contract():
    """Frozen dataclass; to_dict is JSON-safe with units and the uncorrected resolution;
    summary names unit, criterion, full/half period and cut-off."""
    a, b = _halves(15, (64, 64))
    res = phase_randomized_fsc(a, b, random_seed=1, pixel_size=10.0, unit="nm")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.cutoff_shell = 3
    d = json.loads(res.to_json())
    assert d["units"]["resolution_full"] == "nm" and d["units"]["cutoff_cpx"] == "cycles/pixel"
    assert d["random_seed"] == 1 and d["cutoff_shell"] == res.cutoff_shell
    assert d["observed"]["resolution_full"] == pytest.approx(res.observed.resolution_full)
    assert d["fsc_obs"][0] is None  # NaN at DC → null
    assert len(d["bias"]) == res.fsc_obs.size
    assert res.cutoff_cpx == pytest.approx(res.cutoff_shell / 64)
    assert res.cutoff_resolution_full == pytest.approx(10.0 / res.cutoff_cpx)
    text = res.summary()
    for word in ("nm", "full period", "half period", "half-bit", "randomised from shell"):
        assert word in text


def test_progress_bar_enabled(monkeypatch):
    """The randomisation runs under a progress bar when enabled (batch logs)."""
    monkeypatch.setenv("TOUPY_RESOLUTION_PROGRESS", "1")
    a, b = _halves(16, (64, 64))
    assert phase_randomized_fsc(a, b, random_seed=1).cutoff_shell >= 1


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
_A, _B = _halves(20, (48, 48))
BAD = [
    pytest.param({"fsc_cutoff": 0.0}, "fsc_cutoff", id="cutoff-0"),
    pytest.param({"fsc_cutoff": 1.0}, "fsc_cutoff", id="cutoff-1"),
    pytest.param({"fsc_cutoff": -0.2}, "fsc_cutoff", id="cutoff-neg"),
    pytest.param({"fsc_cutoff": 1.5}, "fsc_cutoff", id="cutoff-big"),
    pytest.param({"fsc_cutoff": float("nan")}, "fsc_cutoff", id="cutoff-nan"),
    pytest.param({"fsc_cutoff": "0.8"}, "fsc_cutoff", id="cutoff-str"),
    pytest.param({"fsc_cutoff": True}, "fsc_cutoff", id="cutoff-bool"),
    pytest.param({"random_seed": -1}, "random_seed", id="seed-neg"),
    pytest.param({"random_seed": 1.5}, "random_seed", id="seed-float"),
    pytest.param({"random_seed": "x"}, "random_seed", id="seed-str"),
    pytest.param({"mask": np.ones((48, 47))}, "mask", id="mask-shape"),
    pytest.param({"mask": np.where(np.eye(48) > 0, np.nan, 1.0)}, "mask", id="mask-nan"),
    pytest.param({"mask": np.where(np.eye(48) > 0, np.inf, 1.0)}, "mask", id="mask-inf"),
    pytest.param({"mask": np.zeros((48, 48))}, "mask", id="mask-zero"),
    pytest.param({"mask": np.ones((48, 48)) * 1j}, "mask", id="mask-complex"),
    pytest.param({"threshold": "twobit"}, "threshold", id="threshold"),
    pytest.param({"ring_thick": -1}, "ring_thick", id="ring_thick"),
    pytest.param({"apod_width": 30}, "apod_width", id="apod-too-wide"),
    pytest.param({"pixel_size": 0.0}, "pixel_size", id="pixel_size"),
    pytest.param({"window": "kaiser"}, "window", id="window"),
]


@pytest.mark.parametrize("kwargs, name", BAD)
def test_bad_parameters_raise_naming_them(kwargs, name):
    """Every bad parameter → ValueError naming it, from the function and from the class."""
    kwargs = {"random_seed": 1, **kwargs}
    with pytest.raises(ValueError, match=name):
        phase_randomized_fsc(_A, _B, **kwargs)
    with pytest.raises(ValueError, match=name):
        RandomFSC(_A, _B, **kwargs)


@pytest.mark.parametrize("kwargs", [p.values[0] for p in BAD if p.values[1] == "mask"])
def test_bad_mask_on_fsc_and_classes(kwargs):
    """The mask rules hold for fsc(), ssnr() and every FSC class."""
    for call in (fsc, ssnr, FSCPlot, FRCPlot, SSNRPlot, FourierShellCorr):
        with pytest.raises(ValueError, match="mask"):
            call(_A, _B, **kwargs)


@pytest.mark.parametrize(
    "img1, img2, name",
    [
        pytest.param(_A, _B[:, :40], "same shape", id="shape-mismatch"),
        pytest.param(_A[0], _B[0], "2-D or 3-D", id="1d"),
        pytest.param(np.where(np.eye(48) > 0, np.nan, _A), _B, "img1", id="nan"),
        pytest.param(_A, np.full((48, 48), 2.0), "img2", id="constant"),
        pytest.param("abc", _B, "img1", id="not-array"),
    ],
)
def test_bad_images_raise(img1, img2, name):
    """FSC input rules apply unchanged: errors name the offending image or rule."""
    with pytest.raises((ValueError, TypeError), match=name):
        phase_randomized_fsc(img1, img2, random_seed=1)
    with pytest.raises((ValueError, TypeError), match=name):
        RandomFSC(img1, img2, random_seed=1)


def test_inputs_not_modified_and_float32_accepted():
    """Inputs are never modified; float32 and integer inputs work and give float64 curves
    close to the float64 computation (float32 FFT round-off ~1e-6, tolerance 1e-4)."""
    a, b = _halves(21, (64, 64))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    c32, d32 = a32.copy(), b32.copy()
    r32 = phase_randomized_fsc(a32, b32, random_seed=3)
    np.testing.assert_array_equal(a32, c32)
    np.testing.assert_array_equal(b32, d32)
    r64 = phase_randomized_fsc(a32.astype(np.float64), b32.astype(np.float64), random_seed=3)
    assert r32.fsc_rand.dtype == np.float64
    assert r32.cutoff_shell == r64.cutoff_shell
    np.testing.assert_allclose(r32.fsc_obs[1:], r64.fsc_obs[1:], atol=1e-4)
    ai, bi = (np.round(1000 * a)).astype(np.int32), (np.round(1000 * b)).astype(np.int32)
    assert phase_randomized_fsc(ai, bi, random_seed=3).cutoff_shell == r64.cutoff_shell
