"""Every estimator on small real public data (``tests/data/real_*.npz``).

Provenance, licences and the derivation of each file are in ``tests/data/README.md``
(and ``tests/data/make_real_data.py``); nothing is downloaded at test time.

The data and what is known about them:

* ``real_savu_i12_sinogram.npz`` -- 91 raw X-ray projections (8 detector rows, 160
  columns, 2 degree steps over 180 degrees) of a sample in a holder, with dark and flat
  fields, from Diamond Light Source's Savu test data. Even/odd angles give two
  independent half tomograms (``split_dataset`` + ``compute_2tomograms``): the FSC
  family's clean input. The filtered back-projection writes zeros outside the
  reconstruction circle, so the corners of a slice hold no noise at all; its
  interpolation low-passes the noise, so the noise is not white near Nyquist (measured
  below on the difference of the halves, where the object cancels). The first
  projection shows the holder's machined edge, straight and within half a degree of a
  column: a real edge that the slanted-edge method cannot sample (no slant).
* ``real_sted_microtubules.npz`` -- ImDecorr's demonstration STED image (COS-7
  microtubules, 15.34 nm pixels). Its power spectrum is flat from 0.25 to 0.5
  cycles/pixel (white noise up to Nyquist, the decorrelation's assumption) and the
  microtubules fill the field, corners included.
* ``real_camera.npz`` -- scikit-image's ``camera``: a photograph. The cameraman's coat
  against the sky is an edge, but a curved one (the shoulder).
* ``real_emd_3197.npz`` / ``real_emd_3001.npz`` -- two maps deposited in EMDB (a
  sub-tomogram average of a membrane, 20^3; a MicroED crystal map, 25 x 43 x 73). The
  membrane and the crystal lattice fill their boxes: no corner is solvent.

Where an input violates an estimator's assumption the test requires a
:class:`~toupy.resolution.ResolutionWarning` (or a refusal); on clean inputs it requires
none. Tolerances on statistical quantities are derived in the test's docstring.
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from toupy.resolution import (
    MTFWarning,
    ResolutionWarning,
    compute_2tomograms,
    decorrelation_resolution,
    fsc,
    local_fsc,
    local_resolution,
    mtf_slanted_edge,
    phase_randomized_fsc,
    split_dataset,
    ssnr,
)

DATA = Path(__file__).parent / "data"

#: The slice of the 8 reconstructed rows used for the 2-D estimators.
SLICE = 4
#: Radius (px) of the filtered back-projection's reconstruction circle for 160 columns.
CIRCLE_RADIUS = 80.0


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _npz(name: str) -> dict:
    with np.load(DATA / f"real_{name}.npz") as f:
        return {key: f[key] for key in f.files}


def _transmission(raw: np.ndarray, dark: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Dark- and flat-field corrected transmission.

    One dead detector pixel (flat = dark = 0, at row 0, column 0) lies outside every
    region used here; the floor of 1 count only keeps it finite.
    """
    return (raw.astype(np.float32) - dark) / np.maximum(flat - dark, 1.0)


@lru_cache(maxsize=None)
def _sinogram() -> tuple[np.ndarray, np.ndarray]:
    """Absorption sinogram ``[slice, detector, angle]`` and the angles in degrees."""
    s = _npz("savu_i12_sinogram")
    rows = s["rows"]
    t = _transmission(s["raw"], s["dark"][rows], s["flat"][rows])
    absorption = -np.log(t)                        # (angle, slice, detector)
    return np.ascontiguousarray(absorption.transpose(1, 2, 0)), s["angles_deg"]


@lru_cache(maxsize=None)
def _half_tomograms() -> tuple[np.ndarray, np.ndarray]:
    """The two half tomograms (8 slices of 160 x 160) from even and odd angles."""
    sinogram, theta = _sinogram()
    return compute_2tomograms(sinogram, theta)


def _halves_slice() -> tuple[np.ndarray, np.ndarray]:
    r1, r2 = _half_tomograms()
    return r1[SLICE], r2[SLICE]


def _inside_circle(shape: tuple, margin: float) -> np.ndarray:
    """Pixels at least ``margin`` px inside the reconstruction circle."""
    yy, xx = np.indices(shape)
    centre = [(n - 1) / 2 for n in shape]
    return np.hypot(yy - centre[0], xx - centre[1]) <= CIRCLE_RADIUS - margin


def _run(function, *args, **kwargs):
    """Call an estimator; return its result and the ResolutionWarnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function(*args, **kwargs)
    raised = [w for w in caught if issubclass(w.category, ResolutionWarning)]
    return result, raised


def _messages(raised) -> str:
    return " | ".join(str(w.message) for w in raised)


def _assert_sane_resolution(resolution_px: float, box: int) -> None:
    """A full-period resolution is at least 2 px (Nyquist) and at most the box size."""
    assert math.isfinite(resolution_px), resolution_px
    assert 2.0 - 1e-9 <= resolution_px <= box, resolution_px


def _band_power(image: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean power spectrum of ``image`` (mean removed) in radial bands (cycles/pixel)."""
    spectrum = np.abs(np.fft.fftn(image - image.mean())) ** 2
    grids = np.meshgrid(*[np.fft.fftfreq(n) for n in image.shape], indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    return np.array([spectrum[(radius >= lo) & (radius < hi)].mean()
                     for lo, hi in zip(edges[:-1], edges[1:])])


def _mentioning(raised, *words: str) -> list[str]:
    """The warning messages that contain any of ``words`` (case-insensitive)."""
    texts = [str(w.message) for w in raised]
    return [t for t in texts if any(word in t.lower() for word in words)]


# --------------------------------------------------------------------------------------------
# tomography: split, reconstruct, FSC family
# --------------------------------------------------------------------------------------------
def test_split_dataset_interleaves_the_real_angles():
    """Even/odd columns, each half spanning the whole 180 degree range (2 degree steps)."""
    sinogram, theta = _sinogram()
    s1, s2, t1, t2 = split_dataset(sinogram, theta)
    np.testing.assert_array_equal(t1, theta[0::2])
    np.testing.assert_array_equal(t2, theta[1::2])
    np.testing.assert_array_equal(s1, sinogram[..., 0::2])
    np.testing.assert_array_equal(s2, sinogram[..., 1::2])
    assert np.ptp(t1) >= 176.0 and np.ptp(t2) >= 176.0


def test_half_tomograms_agree_where_the_signal_dominates():
    """Two reconstructions of one object: the FRC of the lowest shells is close to 1.

    Shells 1-5 (0.006-0.03 cycles/pixel) hold the object's large features, far above the
    noise; 0.95 is a loose bound (measured 0.997-0.9997).
    """
    r1, r2 = _half_tomograms()
    assert r1.shape == r2.shape == (8, 160, 160)
    assert np.all(np.isfinite(r1)) and np.all(np.isfinite(r2))
    result, raised = _run(fsc, r1[SLICE], r2[SLICE])
    assert np.all(result.fsc[1:6] > 0.95), result.fsc[1:6]
    assert not raised, _messages(raised)


def test_frc_of_real_half_tomograms_is_sane_and_warning_free():
    """Independent halves: a crossing inside the band, no warning (a clean input)."""
    a, b = _halves_slice()
    result, raised = _run(fsc, a, b)
    assert result.resolution_full is not None
    assert not result.nyquist_limited
    _assert_sane_resolution(result.resolution_full, 160)
    assert not raised, _messages(raised)


def test_fsc_3d_of_the_real_half_volumes_is_sane_and_warning_free():
    """The 8-slice half volumes: a 3-D FSC crossing inside the band, no warning."""
    r1, r2 = _half_tomograms()
    result, raised = _run(fsc, r1, r2, apod_width=2)
    assert result.resolution_full is not None and not result.nyquist_limited
    _assert_sane_resolution(result.resolution_full, 160)
    assert not raised, _messages(raised)


def test_ssnr_crosses_where_the_fsc_crosses():
    """SSNR = 2 FSC / (1 - FSC) with the threshold mapped the same way: one crossing."""
    a, b = _halves_slice()
    reference = fsc(a, b)
    result, raised = _run(ssnr, a, b)
    assert result.fn_res_cpx == pytest.approx(reference.fn_res_cpx, rel=1e-9)
    assert result.resolution_full == pytest.approx(reference.resolution_full, rel=1e-9)
    assert not raised, _messages(raised)


def test_phase_randomized_fsc_without_mask_agrees_with_fsc():
    """Without a mask the phase-randomised correction is noise around zero.

    Beyond the cut-off shell the randomised halves' FSC has mean 0 and standard deviation
    ``s/sqrt(n)`` per shell (``n`` voxels; ``s`` in [0.8, 1.25] for a windowed image, as in
    test_randomfsc), independent between shells: over the ~55 shells beyond the cut-off
    ``|z| = |FSC_rand| sqrt(n)`` stays below 5 (a false alarm has probability < 1e-4) and
    its RMS lies in [0.8, 1.25] widened by three sampling standard deviations
    (``1/sqrt(2*55) = 0.095``). The corrected crossing then moves from the uncorrected one
    by at most ``5 * 1.25 / sqrt(n_k) / |slope|`` shells, ``slope`` being the per-shell
    change of ``FSC - T`` at the crossing shell ``k``.
    """
    a, b = _halves_slice()
    reference = fsc(a, b)
    result, raised = _run(phase_randomized_fsc, a, b, random_seed=1)
    np.testing.assert_allclose(result.fsc_obs, reference.fsc, rtol=1e-6, atol=1e-7)

    beyond = slice(result.cutoff_shell, None)
    z = result.fsc_rand[beyond] * np.sqrt(result.n_per_shell[beyond])
    assert z.size >= 40
    assert np.max(np.abs(z)) < 5.0, np.max(np.abs(z))
    rms = float(np.sqrt(np.mean(z**2)))
    assert 0.8 - 0.3 < rms < 1.25 + 0.3, rms

    k = int(reference.crossing_shell)
    margin = reference.fsc - reference.threshold_curve
    slope = abs(margin[k + 1] - margin[k])
    tolerance = 5.0 * 1.25 / math.sqrt(reference.n_per_shell[k]) / slope
    assert abs(result.crossing_shell - reference.crossing_shell) <= tolerance
    assert not raised, _messages(raised)


def test_local_frc_brackets_the_global_frc():
    """The global FRC is an average of the local ones, so it lies within their spread.

    Same half-bit threshold for both; the 5th-95th percentile of the local map over the
    boxes wholly inside the reconstruction circle (a box straddling the circle sees the
    circle's sharp edge, common to both halves: see the next test).
    """
    a, b = _halves_slice()
    box = 32
    reference = fsc(a, b)
    result, _ = _run(local_fsc, a, b, box_size=box, threshold="halfbit")
    inside = _inside_circle(a.shape, margin=box * math.sqrt(2))
    local = result.resolution_map[inside]
    assert np.all(np.isfinite(local))
    assert np.all((local >= 2.0 - 1e-9) & (local <= box))
    low, high = np.percentile(local, [5, 95])
    assert low <= reference.resolution_full <= high, (low, reference.resolution_full, high)


def test_local_frc_flags_boxes_that_straddle_the_reconstruction_circle():
    """A box across the edge of the reconstruction circle holds the same sharp edge in
    both halves: the reconstruction, whose mean (0.007) exceeds its noise (0.004), inside,
    exact zeros outside. That common edge correlates the halves at all frequencies
    (measured on the corner box: its FRC stays between 0.6 and 1 up to Nyquist while its
    pixels correlate at 0.12; independent noise of the same mean in place of the
    reconstruction still gives 0.9 in the first shells), so its "Nyquist-limited"
    resolution describes the circle, not the sample. Reporting it needs a warning (or
    the box left out)."""
    a, b = _halves_slice()
    box = 32
    result, raised = _run(local_fsc, a, b, box_size=box, threshold="halfbit")
    cy, cx = np.meshgrid(*result.box_centers, indexing="ij")
    centre = (a.shape[0] - 1) / 2
    corner_distance = np.hypot(np.abs(cy - centre) + box / 2, np.abs(cx - centre) + box / 2)
    straddling = corner_distance > CIRCLE_RADIUS
    flagged = result.box_nyquist_limited & straddling & result.box_computed
    assert flagged.any(), "precondition: some straddling box is reported at Nyquist"
    assert raised, (f"{int(flagged.sum())} boxes across the reconstruction circle reported "
                    "Nyquist-limited without a warning")


def test_fsc_of_a_real_half_with_itself_warns():
    """The same slice twice (or an affine copy): not independent halves."""
    a, _ = _halves_slice()
    for other in (a.copy(), 2.0 * a + 1.0):
        _, raised = _run(fsc, a, other)
        assert _mentioning(raised, "independent"), _messages(raised)


def test_fsc_of_a_deposited_map_with_itself_warns():
    emd = _npz("emd_3001")["map"]
    _, raised = _run(fsc, emd, emd.copy(), apod_width=4)
    assert _mentioning(raised, "independent"), _messages(raised)


# --------------------------------------------------------------------------------------------
# single-image estimators on the tomogram slice
# --------------------------------------------------------------------------------------------
def test_tomogram_noise_is_not_white_near_nyquist_and_decorrelation_warns():
    """Filtered back-projection interpolates, which low-passes the noise.

    Precondition measured on the data: the difference of the halves (the object cancels)
    inside the reconstruction circle loses more than half its power from 0.25-0.35 to
    0.4-0.5 cycles/pixel. The decorrelation assumes white noise up to Nyquist, so it must
    warn; its number (about 2 px, far finer than the FRC's) follows the filter.
    """
    a, b = _halves_slice()
    inside = _inside_circle(a.shape, margin=20.0)
    noise = np.where(inside, a - b, 0.0)[20:140, 20:140]
    mid, high = _band_power(noise, np.array([0.25, 0.35, 0.4, 0.5]))[[0, 2]]
    assert high < 0.5 * mid, (mid, high)

    result, raised = _run(decorrelation_resolution, a)
    _assert_sane_resolution(result.resolution_px, 160)
    assert _mentioning(raised, "nyquist"), (
        "no warning about the noise near Nyquist: " + _messages(raised))


def test_local_resolution_refuses_the_empty_corners_of_a_reconstruction():
    """Zeros outside the reconstruction circle carry no noise: the 'corners' noise model
    cannot work and must be refused, naming the corners."""
    a, _ = _halves_slice()
    with pytest.raises(ValueError, match="corner"):
        local_resolution(a)


def test_mtf_of_the_holder_edge_is_flagged_as_unsampled():
    """The holder's edge is straight but within half a degree of a column: the rows'
    sub-pixel phases cannot fill the oversampled bins, so the MTF is aliased and flagged."""
    s = _npz("savu_i12_sinogram")
    t = _transmission(s["projection0"], s["dark"], s["flat"])
    result, raised = _run(mtf_slanted_edge, t[80:134, 15:65])
    assert abs(result.angle_deg) < 2.0, result.angle_deg
    assert result.quality["aliased"]
    assert any(issubclass(w.category, MTFWarning) for w in raised), _messages(raised)


# --------------------------------------------------------------------------------------------
# STED image
# --------------------------------------------------------------------------------------------
def test_sted_spectrum_is_white_and_decorrelation_gives_a_sane_resolution():
    """ImDecorr's demonstration image: white noise up to Nyquist (power flat within 10 %
    from 0.25 to 0.5 cycles/pixel, measured), so no warning about the noise near Nyquist,
    and a resolution between 2 px and the field of view."""
    st = _npz("sted_microtubules")
    image = st["image"]
    bands = _band_power(image.astype(np.float64), np.linspace(0.25, 0.5, 6))
    assert np.ptp(bands) < 0.1 * bands.mean(), bands

    pixel = float(st["pixel_size_nm"])
    result, raised = _run(decorrelation_resolution, image, pixel_size=pixel, unit="nm")
    _assert_sane_resolution(result.resolution_px, image.shape[0])
    assert result.resolution == pytest.approx(result.resolution_px * pixel, rel=1e-9)
    assert not _mentioning(raised, "nyquist"), _messages(raised)


def test_local_resolution_warns_when_the_sted_corners_hold_sample():
    """Microtubules run through every corner: the corner noise model is wrong there."""
    image = _npz("sted_microtubules")["image"].astype(np.float32)
    result, raised = _run(local_resolution, image)
    assert _mentioning(raised, "corner"), _messages(raised)
    assert set(result.warnings) >= {str(w.message) for w in raised}


# --------------------------------------------------------------------------------------------
# photograph
# --------------------------------------------------------------------------------------------
def test_decorrelation_of_the_photograph_is_sane():
    image = _npz("camera")["image"]
    result, _ = _run(decorrelation_resolution, image)
    _assert_sane_resolution(result.resolution_px, image.shape[0])


def _edge_columns(roi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first column where the profile crosses the mid level (rows that cross)."""
    mid = 0.5 * (np.percentile(roi, 95) + np.percentile(roi, 5))
    rows, cols = [], []
    for y, profile in enumerate(roi):
        crossing = np.flatnonzero(np.diff(np.sign(profile - mid)) != 0)
        if crossing.size:
            rows.append(y)
            cols.append(crossing[0])
    return np.array(rows, float), np.array(cols, float)


def test_mtf_of_a_curved_edge_in_a_photograph_is_flagged():
    """The coat's outline is an edge but not a straight one.

    Precondition measured on the data: the mid-level crossing per row departs from its
    best straight line by more than 1.5 px RMS (measured 6 px; a straight edge leaves the
    crossing's noise, a fraction of a pixel at this contrast), and the edge turns: the
    slopes fitted to the upper and lower halves of the rows differ by more than 0.3
    columns per row (measured 1.35 and 0.66, a turn of 20 degrees). The slanted-edge
    method assumes a straight edge, so it must warn.
    """
    roi = _npz("camera")["image"][110:210, 30:130].astype(np.float32)
    y, x = _edge_columns(roi)
    residual = np.polyval(np.polyfit(y, x, 1), y) - x
    assert np.sqrt(np.mean(residual**2)) > 1.5
    half = y.size // 2
    upper, lower = np.polyfit(y[:half], x[:half], 1)[0], np.polyfit(y[half:], x[half:], 1)[0]
    assert abs(upper - lower) > 0.3, (upper, lower)

    _, raised = _run(mtf_slanted_edge, roi)
    curved = [w for w in raised if issubclass(w.category, MTFWarning)
              and _mentioning([w], "straight", "curv")]
    assert curved, "no MTFWarning about the edge's shape: " + _messages(raised)


# --------------------------------------------------------------------------------------------
# deposited EMDB maps: LocalResolution's noise model
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["emd_3197", "emd_3001"])
def test_local_resolution_warns_when_the_map_fills_its_corners(name):
    """A membrane and a crystal lattice fill their boxes: no corner is solvent, so the
    corners' variance is not the noise's and the 'corners' model must warn or refuse."""
    emd = _npz(name)["map"]
    try:
        result, raised = _run(local_resolution, emd)
    except ValueError as error:
        assert "corner" in str(error)
        return
    assert _mentioning(raised, "noise", "corner"), (
        f"sigma_noise {result.sigma_noise:.3g} from corners with sample: " + _messages(raised))


def _soft_ellipsoid(shape: tuple, edge: float = 0.2) -> np.ndarray:
    """Raised-cosine mask: 1 inside ``1 - edge`` of the half-axes, 0 outside them."""
    grids = np.indices(shape, dtype=np.float64)
    r2 = sum(((g - (n - 1) / 2) / (n / 2)) ** 2 for g, n in zip(grids, shape))
    ramp = np.clip((1.0 - np.sqrt(r2)) / edge, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * ramp)


def test_local_resolution_refuses_or_warns_on_a_soft_masked_deposited_map():
    """A deposited map multiplied by a soft mask, as depositors do: its corners are
    exactly zero, so there is no noise to measure there."""
    emd = _npz("emd_3001")["map"]
    masked = (emd * _soft_ellipsoid(emd.shape)).astype(np.float32)
    try:
        _, raised = _run(local_resolution, masked)
    except ValueError as error:
        assert "corner" in str(error)
        return
    assert raised


@pytest.mark.parametrize("name", ["emd_3197", "emd_3001"])
def test_local_resolution_highfreq_warns_on_band_limited_deposited_maps(name):
    """The 'highfreq' model takes the noise from a white tail near Nyquist.

    Precondition measured on the data: the deposited maps are band-limited (filtered to
    their resolution, or computed from structure factors), their power falling by more
    than 3x from 0.3-0.35 to 0.45-0.5 cycles/pixel (measured about 6x), where white noise
    would stay flat. So the tail is not the noise level and the model must warn; the map
    it gives still lies in [2 px, box].
    """
    emd = _npz(name)["map"]
    bands = _band_power(emd.astype(np.float64), np.array([0.3, 0.35, 0.45, 0.5]))
    assert bands[2] < bands[0] / 3.0, bands

    result, raised = _run(local_resolution, emd, noise_method="highfreq")
    values = result.resolution_map[np.isfinite(result.resolution_map)]
    assert np.all((values >= 2.0 - 1e-9) & (values <= max(emd.shape)))
    assert _mentioning(raised, "tail", "highfreq"), _messages(raised)
