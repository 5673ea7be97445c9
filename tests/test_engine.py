"""The block-wise engine: shell geometry, kernels, pooling, crossings.

Known answers: full-FFT sums computed directly with ``numpy.fft.fftn`` and
``bincount`` over ``shell_index``; toupy's pooling rule; hand-made curves for
the crossing rules of decision D2.
"""

import numpy as np
import pytest

from toupy.resolution import _kernels
from toupy.resolution._correlation import fourier_shell_sums, pool_shells
from toupy.resolution._crossing import first_crossing, shell_to_frequency
from toupy.resolution._shells import (
    hermitian_weights,
    max_shell_index,
    n_shells,
    shell_frequencies,
    shell_index,
)
from toupy.resolution._windows import full_window

SHAPES = [(64, 64), (65, 64), (72, 61), (16, 20, 22), (17, 19, 15), (9, 32, 32)]
WINDOWS = [(None, 0), ("circle", 3), ("tukey", 4), ("hann", 2), ("toupy", 3)]


def _direct_sums(a, b, window, apod_width, subtract_mean=True):
    """Reference: full fftn of the windowed, mean-removed images and bincount."""
    w = full_window(a.shape, window, apod_width)
    if subtract_mean:
        a = a - (a * w).sum() / w.sum()
        b = b - (b * w).sum() / w.sum()
    f1, f2 = np.fft.fftn(a * w), np.fft.fftn(b * w)
    index = shell_index(a.shape).ravel()
    bins = max_shell_index(a.shape) + 1
    cross = (f1 * np.conj(f2)).ravel()
    rows = [cross.real, cross.imag, np.abs(f1.ravel()) ** 2, np.abs(f2.ravel()) ** 2, np.ones(index.size)]
    sums = np.array([np.bincount(index, r, minlength=bins) for r in rows])
    if subtract_mean:
        sums[:4, 0] = 0.0
    return sums


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("window,apod_width", WINDOWS)
@pytest.mark.parametrize("use_numba", [True, False])
def test_rfft_sums_equal_full_fft_sums(shape, window, apod_width, use_numba):
    """Hermitian-weighted rfft sums == full fftn sums (1e-10 relative), both kernels."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal(shape)
    b = a + rng.standard_normal(shape)
    got = fourier_shell_sums(a, b, window=window, apod_width=apod_width, use_numba=use_numba).sums
    want = _direct_sums(a, b, window, apod_width)
    # the imaginary row of an rfft half-space is not a full-FFT quantity; compare the others
    rows = [0, 2, 3, 4]
    scale = np.abs(want[rows]).max(axis=1, keepdims=True)
    np.testing.assert_allclose(got[rows] / scale, want[rows] / scale, rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape", SHAPES + [(30, 18, 44), (33, 40, 8)])
@pytest.mark.parametrize("max_shell", [0, 3, 7, 10, 200])
def test_max_shell_keeps_every_voxel_of_the_kept_shells(shape, max_shell):
    """Pencils beyond ``max_shell`` are skipped in memory: the kept shells must be
    summed exactly as the full reference (non-cubic shapes scale the axes, so the
    cut is not a plain circle of bins); bins beyond are not returned."""
    rng = np.random.default_rng(11)
    a = rng.standard_normal(shape)
    b = a + rng.standard_normal(shape)
    got = fourier_shell_sums(a, b, window="hann", apod_width=2, max_shell=max_shell).sums
    want = _direct_sums(a, b, "hann", 2)
    kept = min(max_shell + 1, want.shape[1])
    assert got.shape[1] == kept
    rows = [0, 2, 3, 4]
    scale = np.abs(want[rows]).max(axis=1, keepdims=True)
    np.testing.assert_allclose(got[rows] / scale, want[rows, :kept] / scale, rtol=0, atol=1e-10)


@pytest.mark.parametrize("shape", [(40, 33), (12, 14, 15)])
def test_complex_sums_equal_full_fft_sums(shape):
    """Complex inputs use full transforms; all five rows match the direct sums."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    b = a + 0.5 * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    for use_numba in (True, False):
        got = fourier_shell_sums(a, b, window="tukey", apod_width=3, use_numba=use_numba).sums
        want = _direct_sums(a, b, "tukey", 3)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.abs(want).max())


def test_float32_input_stays_float32_and_matches_float64():
    """float32 is transformed in single precision; sums agree with float64 to ~1e-6."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((24, 40, 40))
    b = a + rng.standard_normal(a.shape)
    s64 = fourier_shell_sums(a, b, window="circle", apod_width=4).sums
    s32 = fourier_shell_sums(a.astype(np.float32), b.astype(np.float32), window="circle", apod_width=4).sums
    rows = [0, 2, 3]
    np.testing.assert_allclose(s32[rows, 1:], s64[rows, 1:], rtol=2e-5, atol=1e-6 * np.abs(s64).max())


def test_integer_input_is_lifted_and_not_modified():
    """Integer images are computed as float32 and never modified in place."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 1000, (48, 50)).astype(np.uint16)
    b = (a + rng.integers(0, 50, a.shape)).astype(np.uint16)
    a0, b0 = a.copy(), b.copy()
    got = fourier_shell_sums(a, b, window="circle", apod_width=5).sums
    want = _direct_sums(a.astype(float), b.astype(float), "circle", 5)
    np.testing.assert_allclose(got[[0, 2, 3]], want[[0, 2, 3]], rtol=1e-5, atol=1e-6 * np.abs(want).max())
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_blocks_add_up():
    """The kernel's sums over two halves of a block equal its sums over the block."""
    rng = np.random.default_rng(0)
    shape = (8, 12, 7)
    g1 = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    g2 = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    freqs = [np.linspace(0, 5, 8), np.linspace(-3, 3, 12), np.linspace(0, 6, 7)]
    weights = rng.uniform(1, 2, 7)
    whole = _kernels.shell_sums(g1, g2, freqs, weights, 20)
    part_a = _kernels.shell_sums(g1[:, :5], g2[:, :5], [freqs[0], freqs[1][:5], freqs[2]], weights, 20)
    part_b = _kernels.shell_sums(g1[:, 5:], g2[:, 5:], [freqs[0], freqs[1][5:], freqs[2]], weights, 20)
    np.testing.assert_allclose(part_a + part_b, whole, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        _kernels.shell_sums(g1, g2, freqs, weights, 20, use_numba=False), whole, rtol=1e-12, atol=1e-12
    )


def test_hermitian_weights():
    assert hermitian_weights(8).tolist() == [1, 2, 2, 2, 1]
    assert hermitian_weights(7).tolist() == [1, 2, 2, 2]


def test_shell_geometry_matches_toupy_rule():
    """Per-axis scaling maps every axis's Nyquist to shell max(shape)//2."""
    freqs = shell_frequencies((72, 60), real=False)
    assert np.abs(freqs[0]).max() == 36 and np.abs(freqs[1]).max() == 36
    assert n_shells((72, 60)) == 37 and n_shells((65, 64)) == 33
    index = shell_index((128, 128))
    counts = np.bincount(index.ravel())
    # ALGORITHMS.md §10 case 6: full-FFT counts of unit rings in 128²
    assert counts[1] == 8 and counts[2] == 12 and counts[10] == 56 and counts[64] == 406
    assert counts.sum() == 128 * 128


def test_pool_shells_matches_toupy_inclusive_window():
    """ring_thick t pools shells i - t/2 .. i + t/2 inclusive (so 2 acts as 3)."""
    rng = np.random.default_rng(1)
    sums = rng.uniform(0, 1, (5, 30))
    for t in (2, 3, 4, 5):
        pooled = pool_shells(sums, t, 20)
        for i in (0, 1, 7, 19):
            lo, hi = max(0, int(np.ceil(i - t / 2))), min(29, int(np.floor(i + t / 2)))
            np.testing.assert_allclose(pooled[:, i], sums[:, lo : hi + 1].sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(pool_shells(sums, 1, 20), sums[:, :20])
    np.testing.assert_array_equal(pool_shells(sums, 0, 20), sums[:, :20])


def test_pooling_small_tail_is_accurate():
    """Pooled high shells keep full relative precision under a steep spectrum."""
    sums = np.tile(10.0 ** -np.arange(30, dtype=float), (5, 1))
    pooled = pool_shells(sums, 3, 28)
    np.testing.assert_allclose(pooled[0, 27], sums[0, 26:29].sum(), rtol=1e-12)


class TestCrossing:
    T = np.full(6, 0.5)

    def test_interpolated_first_crossing(self):
        curve = np.array([np.nan, 0.9, 0.7, 0.3, 0.8, 0.1])
        crossing, limited = first_crossing(curve, self.T)
        assert crossing == pytest.approx(2 + 0.2 / 0.4) and not limited

    def test_never_below_is_nyquist_limited(self):
        crossing, limited = first_crossing(np.full(6, 0.9), self.T)
        assert crossing == 5 and limited

    def test_below_at_first_shell_has_no_crossing(self):
        crossing, limited = first_crossing(np.array([1.0, 0.2, 0.9, 0.9, 0.9, 0.9]), self.T)
        assert np.isnan(crossing) and not limited

    def test_nan_shells_are_skipped(self):
        curve = np.array([np.nan, 0.9, np.nan, 0.7, 0.1, 0.1])
        crossing, _ = first_crossing(curve, self.T)
        assert crossing == pytest.approx(3 + 0.2 / 0.6)

    def test_vectorised_over_curves(self):
        curves = np.array([[np.nan, 0.9, 0.7, 0.3, 0.8, 0.1], np.full(6, 0.9)])
        crossing, limited = first_crossing(curves, self.T)
        assert crossing[0] == pytest.approx(2.5) and crossing[1] == 5
        assert limited.tolist() == [False, True]

    def test_units(self):
        freq = shell_to_frequency(16.0, 64)
        assert freq["fn"] == 0.5 and freq["cpx"] == 0.25
        assert shell_to_frequency(16.0, 65)["cpx"] == pytest.approx(16 / 65)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_mean_removed_in_spectra_matches_mean_removed_first(offset):
    """Real inputs with a separable window have the exact mean removed in the
    spectra (after a rough shift: a strided sample in memory, the first slab
    out of core); masked inputs have it removed before the FFT. All must agree
    on float32 data with a large offset to the data's own float32 precision
    (offset * 2**-24 relative to unit noise)."""
    rng = np.random.default_rng(8)
    a = rng.standard_normal((40, 48, 50)) + offset
    a[:5] += 3 * offset  # the first slab's mean is a poor guess of the whole mean
    b = a + rng.standard_normal(a.shape)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    fused = fourier_shell_sums(a32, b32, window="circle", apod_width=5).sums
    streamed = fourier_shell_sums(a32, b32, window="circle", apod_width=5, memory_limit=10**6).sums
    first = fourier_shell_sums(a32, b32, window="circle", apod_width=5, mask=np.ones(a.shape)).sums
    reference = fourier_shell_sums(a32.astype(float), b32.astype(float), window="circle", apod_width=5).sums
    tolerance = 2e-6 + 5e-8 * offset
    for got in (fused, streamed, first):
        curve = got[0, 1:26] / np.sqrt(got[2, 1:26] * got[3, 1:26])
        want = reference[0, 1:26] / np.sqrt(reference[2, 1:26] * reference[3, 1:26])
        np.testing.assert_allclose(curve, want, atol=tolerance)
