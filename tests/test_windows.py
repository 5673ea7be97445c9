"""The apodization windows against ``scipy.signal.windows``.

Where a profile is scipy's function it must equal it to rounding (1e-15);
where ours differs on purpose (the Tukey ramp sampled at pixel centres,
toupy 0.2.2's legacy ramp) the tests pin the exact relation to a scipy
window and that scipy's own Tukey is a different window.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import windows

from toupy.resolution._windows import (
    full_window,
    hann_profile,
    legacy_transverse_profile,
    tukey_profile,
    window_rows,
)

LENGTHS = (1, 2, 3, 10, 33, 64, 511, 4096)


@pytest.mark.parametrize("n", LENGTHS)
def test_hann_profile_is_scipys_symmetric_hann(n):
    np.testing.assert_allclose(hann_profile(n), windows.hann(n, sym=True), rtol=0, atol=1e-15)
    # the symmetric convention: both ends are 0 and the profile is its own mirror
    if n > 1:
        assert hann_profile(n)[0] == hann_profile(n)[-1] == 0.0
        np.testing.assert_allclose(hann_profile(n), hann_profile(n)[::-1], rtol=0, atol=1e-15)


def test_hann_profile_is_not_the_periodic_hann():
    # the periodic (DFT-even) Hann has one zero only; a symmetric window was chosen
    assert np.abs(hann_profile(16) - windows.hann(16, sym=False)).max() > 1e-2


@pytest.mark.parametrize("shape", [(24, 17), (9, 40, 31)])
def test_hann_window_is_the_outer_product_of_scipys_hann(shape):
    expected = windows.hann(shape[0])
    for n in shape[1:]:
        expected = np.multiply.outer(expected, windows.hann(n))
    np.testing.assert_allclose(full_window(shape, "hann", 5), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(window_rows(shape[-2:], "hann", 5, slice(3, 8)),
                               np.outer(windows.hann(shape[-2])[3:8], windows.hann(shape[-1])),
                               rtol=0, atol=1e-15)


@pytest.mark.parametrize("width", [1, 2, 7, 20])
def test_tukey_ramp_is_a_hann_sampled_at_pixel_centres(width):
    n = 3 * width + 5
    profile = tukey_profile(n, width)
    ramp = windows.hann(4 * width + 1)[1:2 * width:2]  # odd samples of a twice-as-fine Hann
    np.testing.assert_allclose(profile[:width], ramp, rtol=0, atol=1e-15)
    np.testing.assert_allclose(profile[n - width:], ramp[::-1], rtol=0, atol=1e-15)
    assert np.all(profile[width:n - width] == 1.0)
    # the ramp and its mirror sum to 1 (a partition of unity across the edge)
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, rtol=0, atol=1e-15)


def test_scipy_tukey_is_a_different_window():
    # scipy's Tukey with the same flat top samples the ramp at its ends: first sample 0
    width, n = 20, 60
    scipy_tukey = windows.tukey(n, alpha=2 * width / (n - 1))
    assert scipy_tukey[0] == 0.0
    assert tukey_profile(n, width)[0] == pytest.approx(np.sin(np.pi / (4 * width)) ** 2, rel=1e-14)
    assert np.abs(tukey_profile(n, width) - scipy_tukey).max() > 1e-3


@pytest.mark.parametrize("width", [1, 2, 7, 20])
def test_legacy_ramp_is_a_half_sample_hann_of_toupy_0_2_2(width):
    n = 3 * width + 4
    profile = legacy_transverse_profile(n, width)
    m = np.arange(1, width + 1)
    np.testing.assert_array_equal(profile[n - width:], 0.5 * (1.0 + np.cos(2.0 * np.pi * m / (2 * width + 1))))
    ramp = windows.hann(4 * width + 3)[1:2 * width:2]
    np.testing.assert_allclose(profile[:width], ramp, rtol=0, atol=1e-15)
