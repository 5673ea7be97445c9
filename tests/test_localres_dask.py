"""Dask inputs of ``local_resolution`` / ``LocalResolution`` (issue 10).

Known answer: the in-memory result for the same map.

How the tolerances are derived
------------------------------
* Along an axis that the executor takes whole, a chunk's filters are the
  in-memory periodic ones, and the null laws are computed by the same function
  on the same grid: maps, masks, thresholds and statistics are *equal* (float64
  maps; the energies differ by round-off only, 1e-15 relative, and no voxel of
  these maps lies that close to a threshold).
* With overlapping chunks a chunk misses the part of each filter beyond the
  overlap depth. The depth is 4 widths of the Gaussian envelope of the band
  filter plus 4 widths of the window, so for the middle bands the missing part
  is a Gaussian tail: energies equal to ``1e-4`` of the null standard
  deviation (scratch measurement on 512² and 96³–128³ maps). The finest bands
  (profile cut by the border of the frequency cell) and the coarsest ones
  (``H_i(0) = exp(-f_i² / 2σ_f²) > 1e-3``: a cone at ``f = 0``, impulse
  response ∝ ``r^-(d+1)``) have algebraic tails: up to 0.05 null standard
  deviations on noise, and up to ~5 % (filled maps) to 20 % (next to a sample
  edge) of the energy with signal. So a voxel can get a different band only
  where its in-memory energy at the band where the two runs part lies within
  that much of the threshold; the tests check every differing voxel against
  these bounds (``1e-3`` null sd for the middle bands, ``0.1`` null sd for the
  two finest, ``10 %`` of the threshold for the coarse ones), using energies
  recomputed independently with numpy's FFT, and bound their fraction by
  ``2e-3`` (measured: 3e-5 to 1.5e-3).
* The null law holds in every chunk: on noise alone the per-band pass fraction
  of each map differs from the in-memory one by at most ``2e-3`` (measured
  ~1e-4: only the few voxels within 0.05 null sd of a threshold can change),
  so the calibration of the in-memory tests carries over.
* Streaming Benjamini–Hochberg is exact: on the same energies it returns the
  in-memory threshold bit for bit, whatever the chunking and the number of
  refinement passes.

Each check can fail: without the overlap, with a wrong boundary or a chunk
grid shifted by the depth, the coarse bands differ in a large fraction of the
voxels; a null law on the chunk's own grid, or one missing the global DC
correction, moves every threshold by more than the tolerance.
"""

from __future__ import annotations

import json
import math
import sys
import warnings

import numpy as np
import pytest
from scipy import ndimage

da = pytest.importorskip("dask.array")

from toupy.resolution import _dask  # noqa: E402
from toupy.resolution import _localres  # noqa: E402
from toupy.resolution._checks import ResolutionWarning  # noqa: E402
from toupy.resolution import _localres_dask as ld  # noqa: E402
from toupy.resolution._localres import (  # noqa: E402
    _band_centres,
    _bh_threshold,
    _NoiseModel,
    _Null,
    local_resolution,
)
from toupy.resolution.localres import LocalResolution  # noqa: E402

ALPHA = 0.05


# --------------------------------------------------------------------------------------------
# test data and an independent computation of the band energies
# --------------------------------------------------------------------------------------------
def _object(rng, shape, contrast=4.0):
    """Textured block in the middle of white noise (noise-only corners)."""
    image = rng.standard_normal(shape)
    block = tuple(slice(n // 4, n - n // 4) for n in shape)
    texture = ndimage.gaussian_filter(rng.standard_normal(image[block].shape), 1.5)
    image[block] += contrast * (1.0 + texture / texture.std())
    return image


def _filled(rng, shape):
    """A sample filling the field (local tomography): two scales, finer on the left.

    Periodic (``mode='wrap'``): the chunked path compares with the in-memory one only on maps
    whose faces match, as in memory a jump across the faces is removed first (a test below).
    """
    x = ndimage.gaussian_filter(rng.standard_normal(shape), 8, mode="wrap") * 30
    x += ndimage.gaussian_filter(rng.standard_normal(shape), 1.5, mode="wrap") * 3
    half = shape[-1] // 2
    x[..., half:] = ndimage.gaussian_filter(x[..., half:], 2)
    return x + rng.standard_normal(shape)


def _energies(x, result):
    """Band energies of ``x`` as defined by D9, with numpy's full FFT (periodic)."""
    f = np.sqrt(sum(g**2 for g in np.meshgrid(*[np.fft.fftfreq(n) for n in x.shape],
                                                indexing="ij", sparse=True)))
    spectrum = np.fft.fftn(x - x.mean())
    window = np.exp(-2.0 * (math.pi * result.window_sigma * f) ** 2)
    out = []
    for fc in result.freq_bands:
        v = np.fft.ifftn(spectrum * np.exp(-((f - fc) ** 2) / (2 * result.band_sigma**2))).real
        out.append(np.fft.ifftn(np.fft.fftn(v * v) * window).real)
    return np.array(out)


def _runs(result, resolution_map):
    """Bands passed in a row (0 for NaN) from the map values ``1 / f``."""
    runs = np.zeros(resolution_map.shape, int)
    finite = np.isfinite(resolution_map)
    runs[finite] = np.searchsorted(-1.0 / result.freq_bands, -resolution_map[finite]) + 1
    return runs


def _assert_same(got, ref, *, exact_map=True):
    if exact_map:
        np.testing.assert_array_equal(got.resolution_map, ref.resolution_map)
        np.testing.assert_array_equal(got.mask, ref.mask)
    np.testing.assert_array_equal(got.null_mean, ref.null_mean)
    np.testing.assert_array_equal(got.null_std, ref.null_std)
    assert got.sigma_noise == pytest.approx(ref.sigma_noise, rel=1e-12)
    assert got.noise_method == ref.noise_method and got.mask_source == ref.mask_source
    assert got.resolution_map.dtype == ref.resolution_map.dtype


# --------------------------------------------------------------------------------------------
# equal to the in-memory result where the chunks span the axes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"whiten": True},
        {"noise_method": "highfreq"},
        {"noise_method": "mask"},
        {"noise_method": "mask", "whiten": True},
        {"sigma_noise": 1.0, "fdr": True},
        {"fdr": True},
    ],
    ids=["corners", "corners-whiten", "highfreq", "mask", "mask-whiten", "given-fdr", "fdr"],
)
def test_whole_axes_equal_in_memory(kwargs):
    """Depth 57 px on a 96² map with 32-px chunks: every axis is taken whole, so the
    chunked tests are the in-memory ones; only the global reductions (mean, noise
    level, shell power through the Dask FFT engine, BH passes) run over chunks."""
    rng = np.random.default_rng(1)
    image = _object(rng, (96, 96))
    kw = dict(window_sigma=4.0, progress_bar=False, **kwargs)
    if kwargs.get("noise_method") == "mask":
        region = np.zeros(image.shape, bool)
        region[:16, :16] = region[-16:, -16:] = True
        kw["noise_mask"] = region
    ref = local_resolution(image, **kw)
    if "noise_mask" in kw:
        kw["noise_mask"] = da.from_array(kw["noise_mask"], chunks=(20, 50))
    got = local_resolution(da.from_array(image, chunks=32), compute=True, **kw)
    _assert_same(got, ref)
    if kwargs.get("fdr"):
        np.testing.assert_allclose(got.thresholds, ref.thresholds, rtol=1e-12)
    else:
        np.testing.assert_array_equal(got.thresholds, ref.thresholds)
    np.testing.assert_array_equal(got.band_pass_fraction, ref.band_pass_fraction)
    for name in ("resolution_median", "resolution_mean", "resolution_std", "nyquist_fraction"):
        assert getattr(got, name) == pytest.approx(getattr(ref, name), rel=1e-12, nan_ok=True), name
    if kwargs.get("whiten"):
        for a, b in zip(got.noise_spectrum, ref.noise_spectrum):
            np.testing.assert_allclose(a, b, rtol=1e-9)


# --------------------------------------------------------------------------------------------
# overlapping chunks
# --------------------------------------------------------------------------------------------
def _explained(x, ref, got):
    """Fraction of differing voxels; assert each lies within the tolerance of its band."""
    a, b = _runs(ref, ref.resolution_map), _runs(ref, np.asarray(got.resolution_map))
    differ = (a != b) & ref.mask & np.asarray(got.mask)
    if differ.any():
        energies = _energies(x, ref)
        band = np.minimum(a, b)[differ]  # the band one run passes and the other fails
        where = np.nonzero(differ)
        distance = np.abs(energies[(band,) + where] - ref.thresholds[band])
        coarse = np.exp(-ref.freq_bands**2 / (2 * ref.band_sigma**2)) > 1e-3
        finest = np.arange(ref.n_freq) >= ref.n_freq - 2
        bound = np.where(coarse, 0.1 * ref.thresholds, np.where(finest, 0.1, 1e-3) * ref.null_std)
        assert np.all(distance <= bound[band]), (band, distance / ref.null_std[band])
    return differ.mean()


@pytest.mark.parametrize(
    "shape, chunks, maker, kwargs",
    [
        ((256, 256), (64, 64), _object, dict(window_sigma=3.0, n_freq=8)),
        ((256, 256), (64, 64), _filled, dict(window_sigma=3.0, n_freq=8, sigma_noise=1.0)),
        ((40, 160, 160), (40, 80, 80), _object, dict(window_sigma=3.0, n_freq=12)),
    ],
    ids=["2d-auto-mask", "2d-filled", "3d-auto-mask"],
)
def test_overlapping_chunks_match_in_memory(shape, chunks, maker, kwargs):
    rng = np.random.default_rng(2)
    x = maker(rng, shape)
    keep = x.copy()
    _, band_sigma, _ = _band_centres(shape, kwargs["n_freq"])
    depth = sum(ld.halo_widths(kwargs["window_sigma"], band_sigma))
    _, depths = ld.plan_chunks(shape, tuple((c,) * (n // c) for n, c in zip(shape, chunks)), depth)
    assert sum(d > 0 for d in depths) >= 2  # the chunks really overlap along two axes
    ref = local_resolution(x, progress_bar=False, **kwargs)
    got = local_resolution(da.from_array(x, chunks=chunks), compute=True, **kwargs)
    np.testing.assert_array_equal(x, keep)
    _assert_same(got, ref, exact_map=False)
    np.testing.assert_array_equal(got.thresholds, ref.thresholds)
    assert np.mean(got.mask != ref.mask) <= 1e-4
    assert _explained(x, ref, got) <= 2e-3
    np.testing.assert_allclose(got.band_pass_fraction, ref.band_pass_fraction, atol=2e-3)
    np.testing.assert_allclose(got.band_run_fraction, ref.band_run_fraction, atol=2e-3)
    assert got.resolution_median == ref.resolution_median


def test_noise_pass_rate_is_the_in_memory_one():
    """White noise of known σ, 256² in 16 overlapping chunks: per map and band the
    pass fraction differs from the in-memory one by at most 2e-3, and the pooled
    rate is within the in-memory calibration bounds (1.1 α + 3 standard errors
    across the R independent maps, see tests/test_localres.py)."""
    rng = np.random.default_rng(3)
    kw = dict(sigma_noise=1.0, window_sigma=3.0, n_freq=8)
    pooled = []
    for _ in range(6):
        x = rng.standard_normal((256, 256))
        ref = local_resolution(x, progress_bar=False, **kw)
        got = local_resolution(da.from_array(x, chunks=64), compute=True, **kw)
        assert np.max(np.abs(got.band_pass_fraction - ref.band_pass_fraction)) <= 2e-3
        assert got.resolved_fraction == pytest.approx(ref.resolved_fraction, abs=2e-3)
        pooled.append(got.band_pass_fraction.mean())
    pooled = np.array(pooled)
    assert pooled.mean() <= 1.1 * ALPHA + 3 * pooled.std(ddof=1) / math.sqrt(pooled.size)


# --------------------------------------------------------------------------------------------
# the checks of the noise model: the same numbers from per-chunk reductions
# --------------------------------------------------------------------------------------------
def _soft_masked(rng, shape, residue):
    """Sample in a disc and white noise, times a soft disc mask (flattened solvent) + residue."""
    centred = np.meshgrid(*[np.arange(n) - n / 2 for n in shape], indexing="ij", sparse=True)
    radius = np.sqrt(sum(c**2 for c in centred))
    n = min(shape)
    soft = 0.5 - 0.5 * np.cos(np.pi * np.clip((0.44 * n - radius) / (0.08 * n), 0.0, 1.0))
    texture = ndimage.gaussian_filter(rng.standard_normal(shape), 1.2)
    image = 3 * texture / texture.std() * (radius < 0.3 * n) + rng.standard_normal(shape)
    return image * soft + residue * rng.standard_normal(shape)


def test_region_moments_from_chunks_equal_the_whole_map():
    """Pass 1's per-chunk moments of the corner boxes, the border and the interior,
    pooled, equal those of the whole map (chunk edges not aligned with the boxes)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((37, 50, 23))
    sides = _localres._corner_boxes(x.shape, 0.1)[1]
    chunks = ((10, 10, 17), (16, 16, 18), (23,))
    blocks = da.from_array(x, chunks=chunks).to_delayed().ravel()
    rows = [ld._block_stats(b.compute(), o, x.shape, sides)[3] for b, o in zip(blocks, ld._block_offsets(chunks))]
    pooled = [_localres._pool([tuple(r[g]) for r in rows]) for g in range(3)]
    np.testing.assert_allclose(pooled, _localres._map_region_moments(x, sides), rtol=1e-12)


@pytest.mark.parametrize("case", ["masked-corners", "masked-highfreq", "band-limited", "quiet-corner", "clean"])
def test_noise_model_checks_are_the_in_memory_ones(case):
    """Each violated assumption gives the in-memory warnings, the same sentences (the
    same numbers to the printed digits), on a 256² map in overlapping chunks of 50;
    the clean map (sample in noise) none. Refusals are the in-memory ones too."""
    rng = np.random.default_rng(10)
    shape = (256, 256)
    kw = dict(window_sigma=2.0, n_freq=8)
    expected = {"masked-corners": ["corners are orders of magnitude quieter"],
                "masked-highfreq": ["corners of this map are flattened"],
                "band-limited": ["still falls across the tail"],
                "quiet-corner": ["corners probably contain sample", "automatic sample mask covers"],
                "clean": []}[case]
    if case.startswith("masked"):
        x = _soft_masked(rng, shape, 1e-3)
        kw["noise_method"] = case.split("-")[1]
    elif case == "band-limited":
        x = ndimage.gaussian_filter(_filled(rng, shape), 1.0, mode="wrap")  # periodic, as _filled
        kw["noise_method"] = "highfreq"
    elif case == "quiet-corner":  # corner boxes of 51 px, chunks of 50: counted across chunks
        x = rng.standard_normal(shape)
        x[:51, :51] *= 0.1
        kw = dict(n_freq=8, corner_fraction=0.2)
    else:
        x = _object(rng, shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResolutionWarning)  # the in-memory reference; kept in ref.warnings
        ref = local_resolution(x, progress_bar=False, **kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = local_resolution(da.from_array(x, chunks=50), compute=True, **kw)
    assert [str(w.message) for w in caught if issubclass(w.category, ResolutionWarning)] == list(got.warnings)
    assert got.warnings == ref.warnings
    assert len(ref.warnings) == len(expected)
    assert all(words in sentence for words, sentence in zip(expected, ref.warnings))


def test_noise_model_refusals_are_the_in_memory_ones():
    """Numerically flat corners (residue 1e-8 of the map) and a tail emptied by a
    low-pass filter that is zero above 0.4 c/px are refused by both paths."""
    rng = np.random.default_rng(11)
    shape = (256, 256)
    flat = _soft_masked(rng, shape, 1e-8)
    f = np.sqrt(sum(g**2 for g in np.meshgrid(*[np.fft.fftfreq(n) for n in shape], sparse=True)))
    empty_tail = np.fft.ifft2(np.fft.fft2(_filled(rng, shape)) * (f < 0.4)).real
    for x, method, match in ((flat, "corners", "numerically flat"), (empty_tail, "highfreq", "numerically zero")):
        with pytest.raises(ValueError, match=match):
            local_resolution(x, noise_method=method, progress_bar=False)
        with pytest.raises(ValueError, match=match):
            local_resolution(da.from_array(x, chunks=64), noise_method=method)


# --------------------------------------------------------------------------------------------
# lazy results, the facade, a distributed cluster
# --------------------------------------------------------------------------------------------
def test_lazy_map_mask_and_facade(tmp_path):
    rng = np.random.default_rng(4)
    x = _object(rng, (24, 96, 96)).astype(np.float32)
    kw = dict(window_sigma=2.0, n_freq=6, pixel_size=20.0, unit="nm")
    eager = local_resolution(da.from_array(x, chunks=(24, 48, 48)), compute=True, **kw)
    lazy = local_resolution(da.from_array(x, chunks=(24, 48, 48)), **kw)
    for array in (lazy.resolution_map, lazy.mask, lazy.resolution_map_half, lazy.resolution_map_phys):
        assert _dask.is_dask_array(array)
    assert lazy.resolution_map.dtype == np.float32
    np.testing.assert_array_equal(lazy.resolution_map.compute(), eager.resolution_map)
    np.testing.assert_array_equal(lazy.mask.compute(), eager.mask)
    np.testing.assert_allclose(lazy.resolution_map_phys.compute(), eager.resolution_map * 20.0, rtol=1e-6)
    assert lazy.to_dict() == eager.to_dict()
    record = json.loads(lazy.to_json(include_maps=True))
    assert len(record["resolution_map"]) == 24 and "resolution_median_phys" in record

    lr = LocalResolution(da.from_array(x, chunks=(24, 48, 48)), **kw)
    assert _dask.is_dask_array(lr.resolution_map) and lr.compute is False
    assert lr.resolution_median == eager.resolution_median and "median" in lr.summary()
    assert lr.plot(axis=1, output_dir=tmp_path) is lr.resolution_map
    assert (tmp_path / "LocalResolution_map.png").stat().st_size > 0
    with pytest.raises(ValueError, match="slice_idx"):
        lr.plot(slice_idx=200, output_dir=tmp_path)
    computed = LocalResolution(da.from_array(x, chunks=(24, 48, 48)), compute=True, **kw)
    assert isinstance(computed.resolution_map, np.ndarray)


def test_local_cluster_gives_the_default_scheduler_result():
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(5)
    x = _object(rng, (160, 160))
    kw = dict(window_sigma=3.0, n_freq=8)
    local = local_resolution(da.from_array(x, chunks=40), compute=True, **kw)
    local_fdr = local_resolution(da.from_array(x, chunks=40), fdr=True, compute=True, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        got = local_resolution(da.from_array(x, chunks=40), compute=True, **kw)
        got_fdr = local_resolution(da.from_array(x, chunks=40), fdr=True, **kw)
        lazy_map = got_fdr.resolution_map.compute()
    for a, b in ((got, local), (got_fdr, local_fdr)):
        np.testing.assert_array_equal(a.thresholds, b.thresholds)
        np.testing.assert_array_equal(a.band_pass_fraction, b.band_pass_fraction)
        assert a.resolution_median == b.resolution_median
    np.testing.assert_array_equal(got.resolution_map, local.resolution_map)
    np.testing.assert_array_equal(lazy_map, local_fdr.resolution_map)
    assert np.all(np.isfinite(local_fdr.thresholds)) or np.any(np.isinf(local_fdr.thresholds))


# --------------------------------------------------------------------------------------------
# the pieces: overlap depth, chunk plan, null grid, streaming Benjamini–Hochberg
# --------------------------------------------------------------------------------------------
def test_halo_depth_covers_the_band_filters():
    """The default depth is 41 + 28 px. Beyond ``d_band`` a middle band's impulse
    response keeps less than 1e-7 of its energy (Gaussian envelope of standard
    deviation 1/(2π σ_f), cut at 4 of them), while the coarsest band's cone keeps
    ~1e-5–1e-4 (the long tail the docstring warns about)."""
    shape = (512, 512)
    bands, sigma_f, _ = _band_centres(shape, 20)
    d_band, d_window = ld.halo_widths(7.0, sigma_f)
    assert (d_band, d_window) == (41, 28)
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    f = np.sqrt(grids[0] ** 2 + grids[1] ** 2)
    lag = np.minimum(np.arange(512), 512 - np.arange(512))
    outside = np.maximum(lag[:, None], lag[None, :]) > d_band
    tails = []
    for fc in bands[[0, 10]]:
        h = np.fft.ifft2(np.exp(-((f - fc) ** 2) / (2 * sigma_f**2))).real
        tails.append(np.sum(h[outside] ** 2) / np.sum(h**2))
    assert tails[1] < 1e-7 < 1e-6 < tails[0]


def test_chunk_plan():
    # chunks shorter than twice the depth are merged; a short tail joins its neighbour
    chunks, depths = ld.plan_chunks((400, 150, 300), ((50,) * 8, (100, 50), (100, 100, 100)), 30)
    assert chunks == ((100, 100, 100, 100), (150,), (100, 100, 100)) and depths == (30, 0, 30)
    chunks, depths = ld.plan_chunks((130, 500), ((60, 60, 10), (200, 200, 100)), 20)
    assert chunks == ((60, 70), (200, 200, 100)) and depths == (20, 20)
    chunks, depths = ld.plan_chunks((200, 200), ((100, 100), (200,)), 60)
    assert chunks == ((200,), (200,)) and depths == (0, 0)


def test_reduced_null_grid_matches_the_global_grid():
    """Above 2**24 voxels the null laws come from a grid holding the window lags
    and the decay of the band correlation. On a 768² map, forced onto such a grid
    (120² here), thresholds agree to 1e-3 relative and means to 5e-3 null sd, for
    white and for coloured (whitened) noise. Forgetting the global DC correction
    would move the coarsest mean by ~1 %."""
    shape, window = (768, 768), 3.0
    bands, sigma_f, inv2var = _band_centres(shape, 8)
    d_band, _ = ld.halo_widths(window, sigma_f)
    coloured = _NoiseModel(1.0, "corners", (np.linspace(0.01, 0.7, 30), np.linspace(0.2, 3.0, 30)),
                           baseline=0.0, rel_var=0.01, modes=np.full(30, 100.0))
    for noise in (_NoiseModel(1.0, "given"), coloured):
        exact, exact_mask = ld.null_laws(shape, np.complex128, noise, window, bands, inv2var, d_band,
                                         mask_law=True, workers=2)
        small, small_mask = ld.null_laws(shape, np.complex128, noise, window, bands, inv2var, d_band,
                                         mask_law=True, workers=2, max_voxels=1)
        assert ld.null_grid_shape(shape, window, d_band, max_voxels=1) == (120, 120)
        for a, b in zip(small, exact):
            assert a.isf(ALPHA) == pytest.approx(b.isf(ALPHA), rel=1e-3)
            assert abs(a.mean - b.mean) <= 5e-3 * math.sqrt(b.var)
            assert math.sqrt(a.var) == pytest.approx(math.sqrt(b.var), rel=2e-3)
        assert small_mask.isf(1e-3) == pytest.approx(exact_mask.isf(1e-3), rel=1e-3)


@pytest.mark.parametrize("case", ["signal", "noise", "strong", "ties"])
def test_streaming_bh_equals_in_memory_bh(case, monkeypatch):
    """``bh_from_passes`` over 7 chunks returns ``_bh_threshold`` of the whole set,
    with tiny bin and gather limits so that several refinement passes (histogram
    and gathered values) are needed."""
    monkeypatch.setattr(ld, "SELECT_BINS", 16)
    monkeypatch.setattr(ld, "GATHER_VALUES", 40)
    rng = np.random.default_rng(6)
    null = _Null(mean=1.0, var=0.05)
    energy = rng.gamma(null.shape, null.scale, 20000)
    if case == "signal":
        energy[:1500] *= rng.uniform(1.1, 3.0, 1500)
    elif case == "strong":
        energy[:50] += 50.0
    elif case == "ties":
        energy[:3000] = np.round(energy[:3000] * rng.uniform(1.2, 2.0, 3000), 2)
    energy = energy.astype(np.float32)
    inside = rng.random(energy.size) > 0.1
    t_alpha = null.isf(ALPHA)
    n_tests = int(inside.sum())
    run = np.where(inside, 0, -1).astype(np.int8)
    expected = _bh_threshold(energy, run, null, ALPHA, t_alpha, n_tests)
    parts = np.array_split(np.arange(energy.size), 7)
    passes = []

    def run_pass(requests):
        passes.append(len(requests))
        per_chunk = [[ld._select(energy[p][inside[p]].astype(np.float64), edges, mode)
                      for _, edges, mode in requests] for p in parts]
        return ld._combine(per_chunk)

    got = ld.bh_from_passes(run_pass, [null], [t_alpha], ALPHA, n_tests)
    assert got[0] == expected
    assert (expected == math.inf) == (case == "noise")
    if case in ("signal", "ties"):  # the crossing needed refinement passes
        assert len(passes) >= 2


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
def test_bad_dask_input():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 64))
    lazy = da.from_array(x, chunks=32)
    with pytest.raises(ValueError, match="vol contains NaN"):
        local_resolution(da.from_array(np.where(x > 2.5, np.nan, x), chunks=32), sigma_noise=1.0)
    with pytest.raises(ValueError, match="vol is constant"):
        local_resolution(da.ones((64, 64), chunks=32), sigma_noise=1.0)
    with pytest.raises(ValueError, match="mask must have the shape"):
        local_resolution(lazy, mask=da.ones((64, 63), dtype=bool, chunks=32))
    with pytest.raises(ValueError, match="mask selects no voxel"):
        local_resolution(lazy, mask=da.zeros((64, 64), dtype=bool, chunks=32))
    with pytest.raises(ValueError, match="mask must be boolean.*negative"):
        local_resolution(lazy, mask=-da.ones((64, 64), chunks=32))
    with pytest.raises(ValueError, match="mask contains NaN"):
        local_resolution(lazy, mask=da.from_array(np.where(x > 2.5, np.nan, 1.0), chunks=32))
    with pytest.raises(ValueError, match="noise_mask selects no voxel"):
        local_resolution(lazy, noise_method="mask", noise_mask=da.zeros((64, 64), dtype=bool, chunks=32))
    with pytest.raises(ValueError, match="noise_mask"):
        local_resolution(lazy, noise_method="mask")
    with pytest.raises(ValueError, match="whiten"):
        local_resolution(lazy, whiten=True, sigma_noise=1.0)
    with pytest.raises(ValueError, match="significance"):
        LocalResolution(lazy, significance=0.0)
    with pytest.raises(TypeError, match="vol must be real"):
        local_resolution(lazy + 1j, sigma_noise=1.0)


def test_without_dask_the_error_names_the_extra(monkeypatch):
    lazy = da.from_array(np.random.default_rng(8).standard_normal((32, 32)), chunks=16)
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"toupy-resolution\[dask\]"):
        local_resolution(lazy, sigma_noise=1.0)


# --------------------------------------------------------------------------------------------
# maps that are not periodic: the chunked path cannot remove the wrap-around jump
# --------------------------------------------------------------------------------------------
def test_non_periodic_map_warns_and_leaves_the_face_zones_out_of_the_mask():
    # Gaussian blur 1.5 px of white noise (mode 'reflect': faces that do not match) plus noise
    # 0.05. In memory the jump is removed; chunk by chunk it cannot be, so the voxels within
    # 4 window_sigma of the faces are left out of the mask (NaN), the statistics are over the
    # rest, which lies far enough from the faces to agree with the corrected in-memory map.
    rng = np.random.default_rng(0)
    shape, window = (192, 192), 3.0
    x = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5) + 0.05 * rng.standard_normal(shape)
    kw = dict(window_sigma=window, n_freq=12, sigma_noise=0.05)
    ref = local_resolution(x, **kw)
    with pytest.warns(ResolutionWarning, match="not periodic") as caught:
        got = local_resolution(da.from_array(x, chunks=96), compute=True, **kw)
    assert len(caught) == 1 and got.warnings == (str(caught[0].message),)
    assert "within 12 px of those faces" in got.warnings[0]
    assert ref.periodic_axes == (0, 1) and got.periodic_axes == ()
    np.testing.assert_allclose(got.face_jump_ratio, ref.face_jump_ratio, rtol=1e-9)
    margin = 12
    inner = np.zeros(shape, bool)
    inner[margin:-margin, margin:-margin] = True
    np.testing.assert_array_equal(got.mask, inner)
    assert np.isnan(got.resolution_map[~inner]).all()
    assert got.resolved_fraction == pytest.approx(np.isfinite(got.resolution_map[inner]).mean(), rel=1e-12)
    step = ref.freq_bands[1] - ref.freq_bands[0]
    a = 1.0 / got.resolution_map[inner]
    b = 1.0 / ref.resolution_map[inner]
    assert np.mean(np.abs(a - b) <= step * 1.001) >= 0.95
    assert got.resolution_median == ref.resolution_median
