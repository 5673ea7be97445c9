"""Tests of the block-wise local FSC/FRC (``local_fsc``, ``LocalFSC``; decision D8, §4 and
validation case 9 of ``spec/ALGORITHMS.md``).

What is checked, and why each check can fail:

* the batched kernels equal their numpy twins and the foundation's single-block kernel box by
  box (to float64 round-off), and every box curve equals the foundation ``fsc()`` of that box
  with a Hann window — so LocalFSC is the same estimator as FSC, applied per box;
* known answers: blurred white noise plus independent noise has its FSC = 1/7 crossing at
  ``f_T = sqrt(ln(P_s (1 - T) / (P_n T))) / (2 pi sigma)`` (case 4); two regions with different
  blur give two local medians (case 9); identical halves are Nyquist-limited everywhere; pure
  noise has (almost) no resolution under the half-bit criterion;
* the map: interpolation of frequencies is exactly linear between box centres, nearest beyond,
  NaN where the nearest box has no value; shape, dtype, mask and batching behaviour;
* bad input raises ``ValueError`` naming the parameter.

All random data come from seeded generators; tolerances are derived in each docstring from
the spread seen in seeded simulations (numbers quoted).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import scipy.fft

from toupy.resolution import ResolutionWarning, _fftinto, _kernels, _localfsc
from toupy.resolution._correlation import fsc
from toupy.resolution._localfsc import (
    LocalFSCResult,
    _frequency_map_to_resolution,
    _interpolated_resolution,
    _statistics_from_moments,
    box_starts,
    local_fsc,
)
from toupy.resolution._results import map_statistics
from toupy.resolution._shells import hermitian_weights, shell_frequencies, shell_index
from toupy.resolution._thresholds import threshold_curve
from toupy.resolution.FSC import LocalFSC

SIGMA_N = 0.1
RH = 1.0 / 7.0  # Rosenthal & Henderson's fixed threshold


def blurred_noise(rng, shape, sigma):
    """White unit noise filtered by ``exp(-2 pi^2 sigma^2 f^2)`` (power ``exp(-4 pi^2 sigma^2 f^2)``).

    Filtering in Fourier space gives the analytic spectrum exactly (no kernel truncation or
    sampling error as with a spatial Gaussian filter).
    """
    white = rng.standard_normal(shape)
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    f2 = sum(g**2 for g in grids)
    return np.fft.ifftn(np.fft.fftn(white) * np.exp(-2.0 * np.pi**2 * sigma**2 * f2)).real


def analytic_crossing(sigma, threshold=RH, sigma_n=SIGMA_N):
    """Case 4: frequency (cycles/pixel) where ``P_s/(P_s + P_n)`` falls to ``threshold``."""
    return math.sqrt(math.log((1.0 - threshold) / (sigma_n**2 * threshold))) / (2.0 * math.pi * sigma)


def halves(rng, signal, sigma_n=SIGMA_N):
    return (
        signal + sigma_n * rng.standard_normal(signal.shape),
        signal + sigma_n * rng.standard_normal(signal.shape),
    )


# --------------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("box", [(1, 16, 16), (1, 15, 15), (12, 12, 12), (9, 9, 9)])
@pytest.mark.parametrize("complex_input", [False, True])
def test_batched_shell_sums_matches_numpy_twin_and_single_block_kernel(box, complex_input):
    """The numba kernel, its bincount twin and the foundation ``shell_sums`` called box by box
    agree to 1e-10 relative (sums of the same float64 products in different orders)."""
    rng = np.random.default_rng(3)
    n_boxes = 7
    full = (n_boxes,) + box
    data1 = rng.standard_normal(full) + (1j * rng.standard_normal(full) if complex_input else 0)
    data2 = rng.standard_normal(full) + (1j * rng.standard_normal(full) if complex_input else 0)
    axes = (2, 3) if box[0] == 1 else (1, 2, 3)
    transform = np.fft.fftn if complex_input else np.fft.rfftn
    g1 = transform(data1, axes=axes)
    g2 = transform(data2, axes=axes)
    real_box = box[1:] if box[0] == 1 else box
    freqs = shell_frequencies(real_box, real=not complex_input)
    if box[0] == 1:
        freqs = [np.zeros(1)] + freqs
    weights = np.ones(freqs[-1].size) if complex_input else hermitian_weights(box[-1])
    n_bins = box[-1] // 2 + 1

    fast = _kernels.batched_shell_sums(g1, g2, freqs, weights, n_bins)
    twin = _kernels.batched_shell_sums(g1, g2, freqs, weights, n_bins, use_numba=False)
    single = np.stack([_kernels.shell_sums(g1[b], g2[b], freqs, weights, n_bins) for b in range(n_boxes)])
    scale = np.abs(single).max()
    assert fast.shape == (n_boxes, _kernels.N_SUMS, n_bins)
    np.testing.assert_allclose(fast, single, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(twin, single, rtol=0, atol=1e-10 * scale)
    # the counts are the full-FFT counts of the box (decision D4)
    counts = np.bincount(shell_index(real_box).ravel())[:n_bins]
    np.testing.assert_array_equal(fast[0, 4], counts)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_window_boxes_matches_numpy_twin(dtype):
    """Fused cut + weighted-mean removal + taper equals the numpy reference, and each tapered
    box sums to zero (the weighted mean is removed exactly)."""
    rng = np.random.default_rng(4)
    volume = (rng.standard_normal((20, 22, 24)) * 50 + 7).astype(dtype)
    starts = np.array([[0, 0, 0], [4, 6, 8], [10, 12, 14]], dtype=np.int64)
    taper = np.hanning(10)
    profiles = (taper, taper, taper)
    fast = np.empty((3, 10, 10, 10), np.float64)
    slow = np.empty_like(fast)
    _kernels.window_boxes(volume, starts, profiles, fast)
    _kernels.window_boxes(volume, starts, profiles, slow, use_numba=False)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9 * np.abs(slow).max())
    np.testing.assert_allclose(fast.sum(axis=(1, 2, 3)), 0.0, atol=1e-9 * np.abs(slow).sum())
    expected = (volume[4:14, 6:16, 8:18] - np.average(
        volume[4:14, 6:16, 8:18].astype(np.float64), weights=np.einsum("i,j,k", *profiles)
    )) * np.einsum("i,j,k", *profiles)
    np.testing.assert_allclose(fast[1], expected, rtol=0, atol=1e-9 * np.abs(expected).max())


@pytest.mark.parametrize("private", [True, False])
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_transforms_into_a_given_array_equal_scipy(monkeypatch, private, strided, dtype):
    """``rfftn_into``/``fftn_into`` write exactly what ``scipy.fft.rfftn``/``fftn`` return, by
    pocketfft's own entry point and by the public fallback (private route removed), also
    from a strided view into a separate contiguous array (the engine's pencil blocks)."""
    if not private:
        monkeypatch.setattr(_fftinto, "_pocketfft_r2c", None)
        monkeypatch.setattr(_fftinto, "_pocketfft_c2c", None)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 6, 8, 10)).astype(dtype)
    if strided:
        x = rng.standard_normal((3, 9, 8, 13)).astype(dtype)[:, 1:7, :, 2:12]
        assert not x.flags.c_contiguous
    if np.iscomplexobj(x):
        x = x + 1j * rng.standard_normal(x.shape).astype(dtype)
        expected = scipy.fft.fftn(x, axes=(1, 2, 3))
        into = _fftinto.fftn_into
    else:
        expected = scipy.fft.rfftn(x, axes=(1, 2, 3))
        into = _fftinto.rfftn_into
    out = np.full(expected.shape, np.nan, expected.dtype)
    into(x, out, (1, 2, 3), 2)
    np.testing.assert_array_equal(out, expected)


# --------------------------------------------------------------------------------------------
# geometry and interpolation
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n, box, step", [(256, 32, 16), (255, 32, 16), (40, 32, 16), (32, 32, 5), (100, 8, 50)])
def test_box_starts_cover_the_axis_without_padding(n, box, step):
    starts = box_starts(n, box, step)
    assert starts[0] == 0 and starts[-1] == n - box
    assert np.all(np.diff(starts) > 0) and np.all(np.diff(starts) <= step)
    if step <= box:
        covered = np.zeros(n, bool)
        for s in starts:
            covered[s : s + box] = True
        assert covered.all()


def test_interpolation_is_linear_in_frequency_and_nearest_beyond_centres():
    """A frequency field linear in the coordinates is reproduced exactly between the outer
    centres (bilinear interpolation of a bilinear function), constant beyond them."""
    centers = (np.array([5.5, 15.5, 25.5, 30.5]), np.array([3.0, 10.0, 17.0]))
    shape = (37, 21)
    a, b, c = 0.05, 0.002, 0.003
    grid = a + b * centers[0][:, None] + c * centers[1][None, :]
    res = _frequency_map_to_resolution(grid, centers, shape, np.dtype(np.float64), None)
    x0 = np.clip(np.arange(shape[0]), centers[0][0], centers[0][-1])
    x1 = np.clip(np.arange(shape[1]), centers[1][0], centers[1][-1])
    expected = 1.0 / (a + b * x0[:, None] + c * x1[None, :])
    np.testing.assert_allclose(res, expected, rtol=1e-12)


def test_interpolation_nan_follows_the_nearest_box():
    """A box without a value blanks exactly the pixels nearest to it (a tie goes to the lower
    box); the other pixels are interpolated from the remaining boxes (renormalised weights),
    here the constant neighbour values."""
    centers = (np.array([0.0, 10.0, 20.0]),)
    grid = np.array([0.2, np.nan, 0.4])
    res = _frequency_map_to_resolution(grid, centers, (21,), np.dtype(np.float64), None)
    np.testing.assert_array_equal(np.flatnonzero(np.isnan(res)), np.arange(6, 16))
    np.testing.assert_allclose(res[:6], 1 / 0.2)
    np.testing.assert_allclose(res[16:], 1 / 0.4)


@pytest.mark.parametrize("shape, origin", [((37, 21, 26), None), ((20, 9, 13), (7, 5, 3)),
                                           ((37, 21), None), ((21,), None)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("masked", [False, True])
def test_interpolation_kernel_matches_numpy_twin(shape, origin, dtype, masked):
    """The compiled one-pass interpolation equals the axis-by-axis numpy route bit for bit
    (same operations in the same order), NaN boxes, mask, blocks (``origin``) and 1-D to
    3-D included, and its moments are those of the map it wrote."""
    rng = np.random.default_rng(12)
    full = tuple(n + (origin[i] if origin else 0) + 5 for i, n in enumerate(shape))
    centers = tuple(np.sort(rng.uniform(-2, n + 2, size=max(2, n // 6))) for n in full)
    grid = rng.uniform(0.05, 0.5, size=tuple(c.size for c in centers))
    grid[rng.random(grid.shape) < 0.2] = np.nan
    mask = (rng.random(shape) < 0.7).astype(np.uint8) if masked else None
    args = (grid, centers, shape, np.dtype(dtype), mask, origin)
    fast, moments = _interpolated_resolution(*args)
    slow = _frequency_map_to_resolution(*args, use_numba=False)
    assert fast.dtype == dtype and fast.shape == shape
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(_frequency_map_to_resolution(*args, parallel=False), slow)
    if _kernels.HAVE_NUMBA:
        finite = slow[np.isfinite(slow)].astype(np.float64)
        shifted = finite - moments.shift
        assert moments.count == finite.size == moments.histogram.sum()
        assert moments.total == pytest.approx(np.sum(shifted), rel=1e-12, abs=1e-9)
        assert moments.squares == pytest.approx(np.sum(shifted**2), rel=1e-12)


@pytest.mark.parametrize("size", [1, 2, 7, 10, 1000, 4001])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["random", "nan", "constant"])
@pytest.mark.parametrize("bins, gather", [(1 << 14, 1 << 16), (4, 3), (64, 50)])
def test_statistics_from_moments_equal_map_statistics(monkeypatch, size, dtype, kind, bins, gather):
    """Median (odd and even counts, one bin or several), mean and std from the fused moments
    and histogram equal ``map_statistics`` of the same map (median exactly, the others to
    1e-12); NaN boxes are left out; a map without finite values gives NaN. Coarse bins and a
    tiny selection size force the refinement passes (and their exhaustion)."""
    if not _kernels.HAVE_NUMBA:
        pytest.skip("the fused statistics come from the compiled kernel")
    monkeypatch.setattr(_localfsc, "_HISTOGRAM_BINS", bins)
    monkeypatch.setattr(_localfsc, "_MEDIAN_GATHER", gather)
    rng = np.random.default_rng(13)
    centers = (np.sort(rng.uniform(0, size, size=max(2, size // 5))),)
    grid = rng.uniform(0.05, 0.5, size=centers[0].size)
    if kind == "nan":
        grid[::3] = np.nan
    elif kind == "constant":
        grid[:] = 0.25
    fast, moments = _interpolated_resolution(grid, centers, (size,), np.dtype(dtype), None)
    got = _statistics_from_moments(fast, moments)
    ref = map_statistics(fast)
    np.testing.assert_equal(got["resolution_median"], ref["resolution_median"])
    for name in ("resolution_mean", "resolution_std", "resolution_std_half"):
        assert got[name] == pytest.approx(ref[name], rel=1e-12, abs=1e-12, nan_ok=True), name
    empty = np.full(3, np.nan)
    fast, moments = _interpolated_resolution(empty, (np.arange(3.0),), (5,), np.dtype(dtype), None)
    assert all(math.isnan(v) for v in _statistics_from_moments(fast, moments).values())


# --------------------------------------------------------------------------------------------
# the estimator is the foundation FSC, box by box
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, box, threshold", [((70, 90), 32, RH), ((40, 44, 48), 16, "halfbit")])
def test_each_box_equals_foundation_fsc_of_that_box(shape, box, threshold):
    """Every box curve equals ``fsc(box1, box2, window='hann')`` (same taper, same weighted
    mean removal, same shells and counts) to float64 round-off, and so do the crossings."""
    rng = np.random.default_rng(5)
    h1, h2 = halves(rng, blurred_noise(rng, shape, 1.5), sigma_n=0.3)
    res = local_fsc(h1, h2, box_size=box, threshold=threshold)
    starts = [box_starts(n, box, box // 2) for n in shape]
    picks = [tuple(int(rng.integers(0, s.size)) for s in starts) for _ in range(6)]
    for index in picks:
        sl = tuple(slice(s[i], s[i] + box) for s, i in zip(starts, index))
        ref = fsc(h1[sl], h2[sl], window="hann", apod_width=1, threshold=threshold)
        np.testing.assert_allclose(res.box_fsc[index], ref.fsc, rtol=0, atol=1e-10, equal_nan=True)
        np.testing.assert_allclose(res.threshold_curve, ref.threshold_curve, rtol=1e-12)
        if ref.fn_res_cpx is None:
            assert np.isnan(res.box_frequency[index])
        else:
            assert res.box_frequency[index] == pytest.approx(ref.fn_res_cpx, abs=1e-12)
        assert res.box_nyquist_limited[index] == ref.nyquist_limited
    assert all(np.allclose(c, s + (box - 1) / 2) for c, s in zip(res.box_centers, starts))


def test_halfbit_uses_each_boxs_own_counts():
    """'halfbit' is the van Heel & Schatz curve for the full-FFT voxel counts of one box
    (not of the whole image), e.g. 8 voxels in shell 1 of a 32 x 32 box."""
    rng = np.random.default_rng(6)
    img = rng.standard_normal((96, 96))
    res = local_fsc(img, img + rng.standard_normal(img.shape), threshold="halfbit")
    counts = np.bincount(shell_index((32, 32)).ravel())[:17]
    np.testing.assert_array_equal(res.n_per_shell, counts)
    assert res.n_per_shell[1] == 8
    np.testing.assert_allclose(res.threshold_curve, threshold_curve(counts, "halfbit"))
    np.testing.assert_allclose(res.frequency_cpx, np.arange(17) / 32)


# --------------------------------------------------------------------------------------------
# known answers
# --------------------------------------------------------------------------------------------
def test_validation_case_9_two_regions_two_resolutions():
    """Case 9: 256^2, left half blurred with sigma = 1, right half with sigma = 3, noise
    sigma_n = 0.1 in each half, box 32, step 16, Hann taper, T = 1/7.

    Analytic crossings 0.4025 and 0.1342 cycles/pixel; tolerance +-1/box = 0.031 (the box's
    shell width). Medians of the boxes lying entirely in each half (7 x 15 boxes): in 20 seeded
    simulations 0.406 +- 0.004 (left) and 0.149 +- 0.002 (right, biased up by the taper's
    spectral smoothing of the steep spectrum), so the tolerance is > 7 sd from either mean; the
    per-box spread is 0.035. The map (interpolated, away from the boundary) gives 0.409 and 0.153.
    Swapping sides, reporting fractions of Nyquist, or a wrong shell width all fail."""
    rng = np.random.default_rng(2024)
    left = blurred_noise(rng, (256, 256), 1.0)
    right = blurred_noise(rng, (256, 256), 3.0)
    signal = np.concatenate([left[:, :128], right[:, 128:]], axis=1)
    h1, h2 = halves(rng, signal)
    res = local_fsc(h1, h2, box_size=32, step=16, threshold=RH)

    assert res.resolution_map.shape == (256, 256)
    corners = res.box_centers[1] - (32 - 1) / 2
    in_left = corners + 32 <= 128
    in_right = corners >= 128
    assert in_left.sum() == 7 and in_right.sum() == 7
    f_left = np.nanmedian(res.box_frequency[:, in_left])
    f_right = np.nanmedian(res.box_frequency[:, in_right])
    tol = 1.0 / 32
    assert f_left == pytest.approx(analytic_crossing(1.0), abs=tol)
    assert f_right == pytest.approx(analytic_crossing(3.0), abs=tol)
    map_left = np.nanmedian(1.0 / res.resolution_map[:, :112])
    map_right = np.nanmedian(1.0 / res.resolution_map[:, 144:])
    assert map_left == pytest.approx(analytic_crossing(1.0), abs=tol)
    assert map_right == pytest.approx(analytic_crossing(3.0), abs=tol)
    assert res.fraction_no_resolution == 0.0


def test_3d_blurred_volume_matches_analytic_crossing():
    """Case 4 in 3-D: 64^3, sigma = 2, sigma_n = 0.1, box 32 (27 boxes): analytic
    0.2013 cycles/pixel. Five seeded simulations gave box medians 0.211-0.216 (per-box range
    0.185-0.261), so +-1/box = 0.031 holds with margin; every box has a crossing."""
    rng = np.random.default_rng(11)
    h1, h2 = halves(rng, blurred_noise(rng, (64, 64, 64), 2.0))
    res = local_fsc(h1.astype(np.float32), h2.astype(np.float32), box_size=32, threshold=RH)
    assert res.box_frequency.shape == (3, 3, 3)
    assert np.nanmedian(res.box_frequency) == pytest.approx(analytic_crossing(2.0), abs=1 / 32)
    assert np.isfinite(res.box_frequency).all() and not res.box_nyquist_limited.any()
    assert res.resolution_map.shape == (64, 64, 64) and res.resolution_map.dtype == np.float32
    assert res.resolution_median == pytest.approx(1 / analytic_crossing(2.0), rel=0.2)


@pytest.mark.parametrize(
    "shape, box", [((64, 64), 32), ((61, 77), 16), ((40, 45, 50), 16), ((33, 35, 37), 15)]
)
def test_identical_halves_are_nyquist_limited_everywhere(shape, box):
    """FSC(a, a) = 1 in every shell, so every box is flagged and sits at the last shell,
    ``(box // 2) / box`` cycles/pixel: exactly 2 px for even boxes, ``2 box/(box-1)`` odd."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape)
    res = local_fsc(a, a, box_size=box)
    expected = box / (box // 2)
    assert res.box_nyquist_limited.all()
    assert res.fraction_nyquist_limited == 1.0
    assert res.resolution_map.shape == shape
    np.testing.assert_allclose(res.resolution_map, expected, rtol=1e-12)
    assert res.resolution_median == pytest.approx(expected)
    assert res.resolution_std == pytest.approx(0.0, abs=1e-9)


def test_pure_noise_has_no_resolution_under_halfbit():
    """Independent noise halves: shell 1 of a 32^2 box has n = 8 (fewer effective samples with
    the taper) and T_halfbit(8) = 0.58, so most boxes are already below the threshold at shell 1
    and get NaN. Five seeded simulations: 84-90 % of boxes without resolution, the others at
    ~0.045 cycles/pixel (shells 1-2). Bounds: >= 70 % NaN, none finer than 4 shells."""
    rng = np.random.default_rng(8)
    res = local_fsc(rng.standard_normal((256, 256)), rng.standard_normal((256, 256)), threshold="halfbit")
    assert res.fraction_no_resolution >= 0.7
    assert np.nanmax(res.box_frequency) <= 4 / 32
    assert not res.box_nyquist_limited.any()
    assert np.isnan(res.resolution_map).mean() >= 0.5


# --------------------------------------------------------------------------------------------
# map, dtype, mask, batching, complex input
# --------------------------------------------------------------------------------------------
def test_dtypes_and_inputs_untouched():
    rng = np.random.default_rng(9)
    base = blurred_noise(rng, (80, 80), 1.0)
    a32, b32 = (h.astype(np.float32) for h in halves(rng, base))
    copies = a32.copy(), b32.copy()
    res32 = local_fsc(a32, b32)
    assert res32.resolution_map.dtype == np.float32
    np.testing.assert_array_equal(a32, copies[0])
    np.testing.assert_array_equal(b32, copies[1])
    ints = [np.round(100 * h).astype(np.int16) for h in (a32, b32)]
    res_int = local_fsc(*ints)
    assert res_int.resolution_map.dtype == np.float32
    res64 = local_fsc(a32.astype(np.float64), b32.astype(np.float64))
    assert res64.resolution_map.dtype == np.float64
    np.testing.assert_allclose(res32.box_frequency, res64.box_frequency, rtol=0, atol=1e-4)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_batches_do_not_change_the_result(workers):
    """A memory limit of a few boxes gives many batches, shared by ``workers`` pipelines
    (threads), and the same numbers as one batch on one thread."""
    rng = np.random.default_rng(10)
    h1, h2 = halves(rng, blurred_noise(rng, (36, 40, 44), 1.5), sigma_n=0.3)
    whole = local_fsc(h1, h2, box_size=16, step=8, workers=1)
    small = local_fsc(h1, h2, box_size=16, step=8, memory_limit=3 * 16**3 * 8 * 3, workers=workers)
    assert whole.extras["n_batches"] == 1 and small.extras["n_batches"] > 5
    np.testing.assert_array_equal(whole.box_fsc, small.box_fsc)
    np.testing.assert_array_equal(whole.resolution_map, small.resolution_map)


def test_mask_restricts_boxes_without_changing_values_inside():
    """Only boxes whose interpolation support touches the mask are computed; inside the mask
    the map equals the unmasked map exactly (same boxes, same weights); outside it is NaN;
    statistics are those of the map inside the mask."""
    rng = np.random.default_rng(12)
    shape = (160, 160)
    h1, h2 = halves(rng, blurred_noise(rng, shape, 1.5), sigma_n=0.3)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    mask = ((yy - 50) ** 2 + (xx - 60) ** 2) < 25**2
    full = local_fsc(h1, h2)
    masked = local_fsc(h1, h2, mask=mask)
    assert 0 < masked.n_boxes < full.n_boxes
    np.testing.assert_array_equal(masked.resolution_map[mask], full.resolution_map[mask])
    assert np.isnan(masked.resolution_map[~mask]).all()
    assert np.isfinite(masked.resolution_map[mask]).all()
    stats = map_statistics(full.resolution_map, mask)
    assert masked.resolution_median == pytest.approx(stats["resolution_median"])
    assert masked.resolution_std_half == pytest.approx(stats["resolution_std_half"])
    # boxes far from the disc are skipped
    assert not masked.box_computed[-1, -1] and np.isnan(masked.box_frequency[-1, -1])


def test_complex_halves_ignore_a_global_phase_offset():
    """D1 for complex inputs: the modulus of the complex cross sum, so a constant phase
    factor between otherwise identical halves still gives FSC = 1 (Nyquist-limited)."""
    rng = np.random.default_rng(13)
    a = rng.standard_normal((64, 64)) + 1j * rng.standard_normal((64, 64))
    res = local_fsc(a, a * np.exp(1j * 0.7))
    assert res.complex_input
    assert res.box_nyquist_limited.all()
    np.testing.assert_allclose(res.resolution_map, 2.0)


def test_nearest_box_map_and_serialisation():
    rng = np.random.default_rng(14)
    h1, h2 = halves(rng, blurred_noise(rng, (96, 80), 1.0))
    res = local_fsc(h1, h2, pixel_size=12.5, unit="nm")
    flags = res.nearest_box_map(res.box_nyquist_limited)
    assert flags.shape == (96, 80) and flags.dtype == bool
    assert flags[0, 0] == res.box_nyquist_limited[0, 0]
    payload = json.loads(res.to_json())
    assert "resolution_map" not in payload
    assert payload["unit"] == "nm" and payload["threshold"] == pytest.approx(0.143)
    assert len(payload["box_frequency"]) == res.box_frequency.shape[0]
    with_map = res.to_dict(include_map=True)
    assert np.array(with_map["resolution_map"], dtype=float).shape == (96, 80)
    assert "median" in res.summary() and "nm" in res.summary()
    assert isinstance(res, LocalFSCResult)


# --------------------------------------------------------------------------------------------
# facade
# --------------------------------------------------------------------------------------------
def test_facade_attributes_and_plot(tmp_path):
    rng = np.random.default_rng(15)
    h1, h2 = halves(rng, blurred_noise(rng, (40, 48, 56), 1.5))
    lf = LocalFSC(h1, h2, 2.5, 16, None, "halfbit")
    assert lf.step == 8 and lf.threshold == "halfbit"
    np.testing.assert_allclose(lf.resolution_map_phys, lf.resolution_map * 2.5)
    np.testing.assert_allclose(lf.resolution_map_half, lf.resolution_map / 2)
    np.testing.assert_allclose(lf.resolution_map_phys_half, lf.resolution_map_phys / 2)
    finite = lf.resolution_map[np.isfinite(lf.resolution_map)]
    assert lf.resolution_median == pytest.approx(np.median(finite))
    assert lf.resolution_mean == pytest.approx(finite.mean())
    assert lf.resolution_std == pytest.approx(finite.std())
    assert lf.resolution_median_half == pytest.approx(lf.resolution_median / 2)
    assert lf.resolution_mean_half == pytest.approx(lf.resolution_mean / 2)
    assert lf.resolution_std_half == pytest.approx(lf.resolution_std / 2)

    out = lf.plot(slice_idx=5, axis=2, vmin=2, vmax=8, output_dir=tmp_path)
    assert out is lf.resolution_map
    png = tmp_path / "LocalFSC_resmap.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = lf.figure.axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.ma.filled(image, np.nan), lf.resolution_map[:, :, 5])
    # colour bar in pixels, plus a physical scale because pixel_size != 1
    bar = [a for a in lf.figure.axes if a.get_label() == "<colorbar>"][0]
    assert "px" in bar.get_ylabel() and "full period" in bar.get_ylabel()
    assert [c.get_ylabel() for c in bar.child_axes] == ["resolution (pixel_size units)"]


def test_facade_2d_default_threshold_is_rosenthal_henderson(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(16)
    a = rng.standard_normal((64, 64))
    lf = LocalFSC(a, a)
    assert lf.threshold == pytest.approx(0.143)
    assert "Rosenthal" in lf.result.threshold_name
    lf.plot()
    assert (tmp_path / "LocalFSC_resmap.png").is_file()
    bar = [a for a in lf.figure.axes if a.get_label() == "<colorbar>"][0]
    assert bar.child_axes == []  # pixel_size 1: no physical scale


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(box_size=7), "box_size"),
        (dict(box_size=65), "box_size"),
        (dict(box_size=16.5), "box_size"),
        (dict(step=0), "step"),
        (dict(step=-3), "step"),
        (dict(threshold="quarterbit"), "threshold"),
        (dict(threshold=1.5), "threshold"),
        (dict(pixel_size=0), "pixel_size"),
        (dict(memory_limit=0), "memory_limit"),
        (dict(mask=np.ones((10, 10))), "mask"),
        (dict(workers=0), "workers"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(kwargs, word):
    rng = np.random.default_rng(17)
    a = rng.standard_normal((64, 80))
    with pytest.raises(ValueError, match=word):
        local_fsc(a, a + 1, **kwargs)


def test_bad_volumes_raise():
    rng = np.random.default_rng(18)
    a = rng.standard_normal((64, 64))
    with pytest.raises(ValueError, match="same shape"):
        local_fsc(a, a[:, :63])
    bad = a.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="vol2.*NaN"):
        local_fsc(a, bad)
    bad[3, 4] = np.inf
    with pytest.raises(ValueError, match="vol1.*NaN or infinite"):
        local_fsc(bad, a)
    with pytest.raises(ValueError, match="constant"):
        local_fsc(np.ones((64, 64)), a)
    with pytest.raises(ValueError, match="box_size"):
        local_fsc(a[:20, :], a[:20, :])  # box 32 larger than the 20-pixel axis
    with pytest.raises(ValueError, match="vol1"):
        local_fsc(np.zeros((4, 4, 4, 4)), np.zeros((4, 4, 4, 4)))
    with pytest.raises(ValueError, match="box_size"):
        LocalFSC(a, a, box_size=100)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint8, np.complex64])
def test_value_checks_of_every_dtype(dtype):
    """The one-pass check finds NaN/inf and constant volumes of each dtype, and does not take a
    float64 sum that overflows for a NaN (huge finite values pass)."""
    from toupy.resolution._localfsc import _check_values

    rng = np.random.default_rng(19)
    volume = (rng.random((6, 7, 8)) * 100).astype(dtype)
    _check_values(volume, "vol1")
    with pytest.raises(ValueError, match="vol1 is constant"):
        _check_values(np.full((6, 7, 8), 3, dtype), "vol1")
    if np.dtype(dtype).kind in "fc":
        for bad_value in (np.nan, -np.inf):
            bad = volume.copy()
            bad[5, 0, 7] = bad_value
            with pytest.raises(ValueError, match="vol2 contains NaN or infinite"):
                _check_values(bad, "vol2")
    if dtype == np.float64:
        _check_values(volume * 1e306, "vol1")  # the sum overflows, every value is finite


# --------------------------------------------------------------------------- shared support
def _circle_pair(n=128, radius=56.0, seed=3):
    """Independent halves (mean 1.5, noise 1) inside a circle, exact zeros outside in both.

    Without any common signal a box's curve is noise around 0 (|FRC| < 3 / sqrt(pixels of
    the shell) almost always); only the shared edge of the circle can lift it.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((n, n))
    inside = np.hypot(yy - (n - 1) / 2, xx - (n - 1) / 2) <= radius
    halves = [np.where(inside, 1.5 + rng.standard_normal((n, n)), 0.0) for _ in range(2)]
    return halves[0], halves[1], inside


def _box_inside_fraction(inside, result):
    """Exact taper-power-weighted fraction of each box's pixels outside the circle."""
    box = result.box_size
    w = np.outer(np.hanning(box), np.hanning(box)) ** 2
    starts = [np.round(c - (box - 1) / 2).astype(int) for c in result.box_centers]
    return np.array([[np.sum(w * ~inside[y:y + box, x:x + box]) / w.sum() for x in starts[1]]
                     for y in starts[0]])


def test_boxes_across_a_reconstruction_circle_are_flagged_and_warned():
    a, b, inside = _circle_pair()
    with pytest.warns(ResolutionWarning, match="box_partly_outside") as caught:
        res = local_fsc(a, b, box_size=32, threshold=0.143)
    exact = _box_inside_fraction(inside, res)
    # the fraction is sampled on 8 x 8 points per box (an edge moves it by at most about
    # one sample row, weight <= 0.1 for one of the central rows): within 0.1 of the exact one
    np.testing.assert_allclose(res.box_shared_fraction, exact, atol=0.1)
    limit = 0.5 * 0.143
    clear = np.abs(exact - limit) > 0.1
    np.testing.assert_array_equal(res.box_partly_outside[clear], (exact > limit)[clear])
    n = int(res.box_partly_outside.sum())
    assert n > 0 and sum(f"{n} of {res.n_boxes} boxes" in str(w.message) for w in caught) == 1
    assert res.n_partly_outside == n and f"{n} flagged: partly outside" in res.summary()
    d = res.to_dict()
    assert d["n_partly_outside"] == n and any("box_partly_outside" in m for m in d["warnings"])
    # the flag is justified: in the upper half of the shells (8..16, ~50-100 pixels each,
    # per-shell noise sd ~0.12, so the mean over >= 4 boxes x 9 shells has sd < 0.02) the
    # boxes inside are noise around 0 and the mostly-outside ones correlate (shared edge)
    high = res.box_fsc[..., 8:]
    deep = exact == 0
    assert abs(np.nanmean(high[deep])) < 0.05
    assert np.nanmean(high[res.box_partly_outside & (exact > 0.4)]) > 0.1


def test_shared_support_fraction_is_the_same_on_dask():
    da = pytest.importorskip("dask.array")
    a, b, _ = _circle_pair()
    with pytest.warns(ResolutionWarning):
        ref = local_fsc(a, b, box_size=32)
    with pytest.warns(ResolutionWarning, match="box_partly_outside"):
        lazy = local_fsc(da.from_array(a, chunks=48), da.from_array(b, chunks=48), box_size=32)
    np.testing.assert_array_equal(lazy.box_shared_fraction, ref.box_shared_fraction)
    np.testing.assert_array_equal(lazy.box_partly_outside, ref.box_partly_outside)


def test_clean_halves_have_no_shared_support_and_no_warning():
    """Noise everywhere (float, and integer counts with mean 20): nothing flagged, no warning."""
    rng = np.random.default_rng(5)
    signal = rng.standard_normal((96, 96))
    pairs = [(signal + rng.standard_normal(signal.shape), signal + rng.standard_normal(signal.shape)),
             tuple(rng.poisson(20.0, (2, 40, 40, 40)).astype(np.int16))]
    for a, b in pairs:
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResolutionWarning)
            res = local_fsc(a, b, box_size=16)
        assert not res.box_partly_outside.any() and res.warnings == ()
        # integer counts coincide by chance (P(4 equal) ~ 1e-4 at mean 20): far below the limit
        assert np.nanmax(res.box_shared_fraction) < 0.02


def test_the_shared_support_check_leaves_the_numbers_unchanged():
    """Flagging only adds fields: a flagged pair's map is the one without the check."""
    a, b, _ = _circle_pair()
    with pytest.warns(ResolutionWarning):
        res = local_fsc(a, b, box_size=32)
    original = _localfsc._shared_fraction
    try:
        _localfsc._shared_fraction = lambda views, corners, *args: np.zeros(corners.shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResolutionWarning)
            plain = local_fsc(a, b, box_size=32)
    finally:
        _localfsc._shared_fraction = original
    np.testing.assert_array_equal(res.resolution_map, plain.resolution_map)
    np.testing.assert_array_equal(res.box_frequency, plain.box_frequency)
