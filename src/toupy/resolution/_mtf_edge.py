"""Slanted-edge MTF (ISO 12233 / Burns' sfrmat, with exact bin moments).

Pipeline (decision D11, ALGORITHMS.md section 7.1), on a ROI holding one straight edge:

1. **Orientation.** The edge is made near-vertical (the ROI is transposed when
   the gradient energy is larger across rows) and rising from left to right
   (the values are negated otherwise). Both operations are exact, so polarity
   and orientation do not change the result.
2. **Edge position per row.** Centroid of the derivative ``[-1/2, +1/2]``
   (sitting at ``x + 1/2``, sfrmat's half-sample shift) under a Hann window:
   first over the whole row, using only rows that hold most of the step (a
   steep edge may leave the ROI through its sides), then three passes with
   the window re-centred on the fitted line and narrowed to the measured edge
   width. A straight line is fitted to the centroids after each pass
   (outliers beyond 4 robust standard deviations dropped); its scatter gives
   the standard error of the angle.
   **Uneven illumination.** Flat-field residue and vignetting make each
   side's level vary along the edge, so rows at different positions would
   project different ESFs onto the same bins. Each side's level is fitted as
   a quadratic in the along-edge coordinate from the pixels more than six
   edge widths (+1 px) from the fitted line; when the trend is significant
   (F test against a constant level) and above 1e-4 of the step, every pixel
   is mapped to ``L + (H - L) (v - low(t)) / (high(t) - low(t))`` and the
   line is refitted on the mapped data (twice: a trend biases the angle
   slightly). The noise is then measured on the mapped data (a deterministic
   trend is not noise) and the plateaus come from bins every row reaches.
   Constant levels are left untouched. A gain that also varies *across* the
   edge (a ramp along an image axis on a steeply tilted edge) is not modelled.
3. **Projection.** Every pixel is projected onto the edge *normal*,
   ``d = (x - x_edge(row)) cos(theta)``, so the method holds from 0.5 to 45
   degrees of tilt and the frequency axis is along the normal (no ``cos``
   correction afterwards).
4. **Binning with exact moments.** Pixels are binned at ``1/oversample`` px.
   A bin average is the ESF smeared over the positions that fell into the
   bin; each bin records the mean and mean-square offset of its samples from
   its centre, and the point value at the centre is recovered to fourth
   order (``P(c) = mean - P'(c) m1 - P''(c) m2 / 2`` with five-point
   derivatives, iterated). This removes the ``sinc(f/oversample)`` loss of
   plain binning and the bias of uneven phase coverage at small angles.
   When the rows' sub-pixel phases cannot fill every bin (edge slope close to
   a ratio ``p/q`` of small integers, e.g. exactly 45 degrees, or too few rows
   at a small angle) the samples lie on ``q`` phases per pixel: the bins are
   then ``cos(theta)/q`` wide and centred on those phases, which uses every
   sample exactly; the reported range shrinks to that bin's Nyquist.
5. **Window.** Flat over ``_FLAT_WIDTHS`` = 2 robust widths of the edge
   (the ESF interquartile distance / 1.349) on each side, and further for
   as long as the ESF is significantly away from its plateau: walking
   outward, the mean ESF over 1 px and over 4 px beyond the point must be
   within 3 standard errors of the plateau for the window to stop (a
   noise-aware, shape-free criterion: a long tail keeps the window open as
   long as its remaining mass is visible above the noise); then a
   raised-cosine taper of 1 width. Noise-free data get a window spanning the
   profile.
6. **LSF and transform.** The window blends the ESF into its plateaus,
   ``e~ = P + w (e - P)`` (``P``: the mean of each side's bins outside the
   window), and the LSF is the two-tap difference ``(e~[b+1] - e~[b]) / h``
   at the bin midpoints. Windowing the ESF's departure from its plateaus
   instead of the LSF keeps the LSF's area (tails beyond the window are
   moved inside it, not dropped and renormalised away) and keeps the
   window's slope out of the noise: a bin's noise reaches the transform
   with a weight of order ``w 2 pi f h`` instead of the ``(w[b-1] - w[b])``
   times an order-one value that made tapered LSF windows cost 20-40 % in
   noise. (ALGORITHMS.md's reference uses sfrmat3's three-tap central
   difference; its response ``sinc(2 f h)`` vanishes at the bins' Nyquist,
   where coarse bins put f10, and its correction amplifies the noise there;
   the two-tap response ``sinc(f h)`` stays above 0.64 over the band.) DFT
   relative to the fitted edge, normalised at 0 and divided by
   ``sin(pi f h)/(pi f h)`` (ISO ``fir2fix``). When the imaginary part is
   consistent with noise where the MTF exceeds 0.2 -- the LSF is symmetric
   -- the magnitude of the real part is reported: its noise averages to less
   than the modulus's positive floor. Otherwise the modulus.
7. **Crossings and uncertainties.** First downward crossings of 0.5 and 0.1
   on a 0.0025-cycles/pixel grid, refined on the exact transform (Brent).
   A noisy curve that levels off within half a noise sigma above a level
   before crossing it (the noise grows with frequency while the MTF
   flattens, so it may otherwise drift far before crossing) is taken to
   reach the level at that local minimum, flagged ``f50_grazing`` /
   ``f10_grazing``. The one-sigma noise of the curve is propagated exactly
   (to first order) from the pixel noise measured inside the bins through
   the blending (including the plateaus' noise), the derivative, the
   transform and the normalisation; crossing
   uncertainties are that noise over the slope. When the rows' phases forced
   wide bins and the MTF is still >= 0.1 at their Nyquist the curve is
   aliased: ``quality['aliased']`` and a warning.
8. **Is it a clean edge?** Flagged with an :class:`MTFWarning` (recorded in
   ``quality['warnings']`` and ``MTFResult.warnings``): an edge that is not
   straight (the row centroids scatter about the line more than the pixel
   noise explains: the expected scatter is propagated to first order through
   each row's windowed centroid, and the ratio is tested as a chi-square;
   the excess must also exceed 0.05 px per px of edge width, the scatter
   that lowers f50 by 0.12 %, ``quality['straight']``). The pixel noise for
   this is per side the smaller of the noise in the ESF bins and the
   3-sigma-clipped noise of second differences along the edge away from it:
   a textured side (a photograph's coat: 12 grey levels in the bins, 1 along
   the edge) would otherwise explain any bend. An edge whose noise alone
   scatters the rows by more than 0.5 px cannot be located
   (``quality['locatable']``, a warning). The level-trend correction of
   step 2 is applied only to a straight, locatable edge (tested before it):
   on a bent one it reshapes the ESF arbitrarily, so the trend is only
   reported; an MTF still above 0.1 at the pixel Nyquist
   frequency (``quality['beyond_nyquist']``: the system aliases, or a
   photograph is sharpened or is not of an optical edge); a crossing whose
   level lies within two noise sigmas of zero (``quality['f50_in_noise']``,
   ``quality['f10_in_noise']``); a level trend above 1 % of the step, after
   correcting it.

Noise (``benchmarks/bench_mtf.py``, 100 x 100 ROI, Gaussian and Poisson
noise, tilts 0.5-45 degrees, sigma 0.5-2 px): the edge-line fit, the moment
correction and the derivative correction add little to the spread of f50;
what remains is the window's width, which the criterion of step 5 keeps
near +-2.5 widths for a Gaussian, close to the floor of an ideal unbiased
estimator that knows the edge, its plateaus and a +-3 sigma support.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.fft

from ._mtf import (
    MTFResult,
    MTFWarning,
    check_mtf_image,
    check_roi,
    crop,
    record_quality_warnings,
    first_downward,
    refine_crossing,
    unit_label,
)
from ._kernels import HAVE_NUMBA
from ._validate import check_pixel_size, check_positive_int

if HAVE_NUMBA:
    from numba import njit

__all__ = ["mtf_slanted_edge"]

# Window: flat at least this many robust edge widths (ESF interquartile / 1.349) ...
_FLAT_WIDTHS = 2.0
# ... then a raised-cosine taper this many widths long (at least one bin).
_TAPER_WIDTHS = 1.0
# ... and wider while the ESF's mean over any of these lengths (px) beyond a point
# differs from the plateau by more than _TAIL_Z standard errors.
_TAIL_SCALES = (1.0, 4.0)
_TAIL_Z = 3.0
# A local minimum of the curve within this many noise sigmas of a level reaches it.
_GRAZE_Z = 0.5
# Mean squared z of the imaginary part above which the LSF is called asymmetric.
_ASYMMETRY_Z2 = 4.0
# Derivative-response correction is capped at this gain (ISO 12233 fir2fix; the
# two-tap response stays above 0.64 inside the band, so the cap is a safeguard).
_MAX_CORRECTION = 10.0
# Shortest profile (px) accepted on each side of the edge.
_MIN_SPAN = 4.0
# Finest spacing (cycles/pixel) of the reported curve.
_FREQ_STEP = 0.0025
# Straightness: flagged when the edge-fit residual exceeds the noise's by this many chi-square
# spreads and by more than this many px per px of edge width (at least 1 px of width).
_STRAIGHT_Z = 5.0
_STRAIGHT_MIN_PX = 0.05
# Rows whose centroid-noise gain exceeds the median's by this factor (a fading step) are not averaged.
_GAIN_OUTLIER = 10.0
# The edge cannot be located row by row when the pixel noise alone scatters the row positions by more
# than this (px): the straightness test and the line have no meaning then.
_LOCATE_MAX_PX = 0.5
# Variance of a unit Gaussian truncated at +-3 sigma.
_CLIP3_VARIANCE = 0.97334
# A crossing lies in the noise when this many sigmas of the curve's noise reach its level.
_NOISE_BAND_Z = 2.0
# A corrected level trend above this fraction of the step is reported.
_LEVEL_WARN = 0.01
# Level trend along the edge: Legendre degree, distance (edge widths + 1 px) beyond which
# pixels sample the plateaus, and the F statistic of the trend above which the rows are mapped
# onto common levels (F(2, n) exceeds 25 with probability ~1e-11 by noise alone).
_LEVEL_DEGREE = 2
_LEVEL_DISTANCE = 6.0
_LEVEL_F = 25.0
# ... unless the levels move by less than this fraction of the step (e.g. the tails of a noise-free edge).
_LEVEL_NEGLIGIBLE = 1e-4


def mtf_slanted_edge(
    image,
    *,
    pixel_size: float = 1.0,
    roi=None,
    oversample: int = 4,
    unit: str | None = None,
    symmetric: bool | None = None,
    max_frequency: float = 1.0,
    warn: bool = True,
) -> MTFResult:
    """MTF along the normal of a slanted edge (ISO 12233 method, sfrmat-style).

    Parameters
    ----------
    image : ndarray, 2-D
        Image containing one straight edge, linear in intensity (apply dark
        and flat-field corrections first). Integer images are fine.
    pixel_size : float, optional
        Pixel size in ``unit``; only scales the physical outputs.
    roi : tuple of slice, optional
        ``(row_slice, col_slice)`` around the edge; default the whole image.
        Only one edge may be inside, crossing the ROI from one side to the
        other; at least 8 x 8 pixels.
    oversample : int, optional
        ESF bins per pixel along the normal. Default 4 (ISO).
    unit : str, optional
        Name of the unit of ``pixel_size`` (e.g. ``'um'``), used in labels.
    symmetric : bool or None, optional
        ``None`` (default): test whether the LSF is symmetric within its noise;
        if so report the real part of the centred transform (unbiased in
        noise), else the modulus. ``True``/``False`` force one or the other.
        Force ``False`` when the LSF is known to be asymmetric (e.g. coma).
    max_frequency : float, optional
        Upper end of the reported curve in cycles/pixel (default 1, i.e. twice
        Nyquist; lower when the phases of the rows limit the sampling). The
        crossings are searched over the whole band the bins sample (up to
        ``oversample/2`` cycles/pixel); the curve is extended to show one that
        lies beyond ``max_frequency``. A curve that never falls to 0.5 or 0.1
        gives the end of that band, flagged in ``quality['f50_limited']`` /
        ``quality['f10_limited']`` as a lower bound.
    warn : bool, optional
        Issue :class:`MTFWarning` for unreliable conditions (they are recorded
        in ``quality['warnings']`` and ``MTFResult.warnings`` either way).

    Returns
    -------
    MTFResult
        ``freq`` (cycles/pixel along the normal), ``mtf``, ``f50``, ``f10``
        and their uncertainties, ``angle_deg`` and ``angle_std_deg``, the
        ``esf`` at ``position`` and the ``lsf`` and its window at
        ``lsf_position``, and ``quality`` with ``contrast``
        (Michelson), ``step``, ``noise`` (pixel standard deviation), ``cnr``
        (edge step / noise), ``rows``/``rows_used`` (edge-fit rows),
        ``edge_fit_rms`` (px), ``phase_cycles`` (sub-pixel phase cycles the
        rows cover), ``lattice_phases`` (0, or ``q`` when bins were widened),
        ``filled_bins``, ``window`` (flat half-widths left/right and taper, px),
        ``symmetric``, ``f50_limited``/``f10_limited`` (crossing beyond the
        band, lower bound), ``f50_grazing``/``f10_grazing`` (level reached at
        a local minimum within the noise), ``band_end``/``band_end_mtf`` and
        ``aliased`` (wide bins with the MTF still >= 0.1 at their Nyquist),
        ``clipped_low``/``clipped_high``, ``edge_fit_rms_expected`` (px, the
        scatter the pixel noise explains), ``straight`` and ``locatable``
        (False when the noise alone scatters the rows by more than 0.5 px),
        ``level_trend``
        (largest relative change of the step along the edge; 0 when not
        significant; measured but not corrected on an edge that is not
        straight or not locatable) and ``level_corrected``, ``nyquist_mtf`` and
        ``beyond_nyquist``, ``f50_in_noise``/``f10_in_noise`` and
        ``warnings`` (also ``MTFResult.warnings``). ``lsf_window`` is
        the window at the LSF positions (it acts on the ESF's departure from
        its plateaus, see the module notes).

    Raises
    ------
    ValueError
        Image not 2-D, non-finite or constant; ``roi`` outside the image or
        smaller than 8 x 8; ``oversample < 1``; no detectable edge in the ROI.

    Notes
    -----
    Accuracy on exact pixel-integrated Gaussian edges (100 x 100 ROI, noise
    free) is better than 0.02 % for f50 and 0.05 % for f10 at every tilt from
    0.5 to 45 degrees (``benchmarks/bench_mtf.py``); box-blurred edges are
    as accurate, and long-tailed (Lorentzian) ones are limited by the tail
    mass outside the ROI. With noise, the spread of f50 is set by the number
    of pixels near the edge: it shrinks as ``1/sqrt(rows)``; use the longest
    edge the field allows. At low SNR the 0.1 crossing may be reported where
    the curve levels off within its noise (``quality['f10_grazing']``). Choose a
    larger ``oversample`` only with many rows: every bin needs samples.
    ``resolution_50 = pixel_size / f50`` is a *full period*.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.special import ndtr
    >>> rows, cols = np.mgrid[0:80, 0:80]
    >>> d = (cols - 40) * np.cos(0.1) - (rows - 40) * np.sin(0.1)
    >>> edge = ndtr(d / 1.0)              # Gaussian blur sigma = 1 px, point-sampled
    >>> res = mtf_slanted_edge(edge)
    >>> round(res.f50, 3), round(res.angle_deg, 2)      # 0.18739 / sigma
    (0.187, 5.73)
    """
    original = check_mtf_image(image)
    pixel_size = check_pixel_size(pixel_size)
    oversample = check_positive_int(oversample, "oversample")
    if not (isinstance(max_frequency, (int, float)) and math.isfinite(max_frequency) and max_frequency > 0):
        raise ValueError(f"max_frequency must be a positive number of cycles/pixel; got {max_frequency!r}")
    if symmetric not in (None, True, False):
        raise ValueError(f"symmetric must be None, True or False; got {symmetric!r}")
    bounds = check_roi(roi, original.shape, min_size=8)
    region = crop(original, bounds)
    if region.min() == region.max():
        raise ValueError("the roi is constant: there is no edge in it")
    messages: list[str] = []

    # 1. orientation and polarity (exact: transpose and negation)
    horizontal, rising = _orientation(region)
    a = np.ascontiguousarray(region.T if horizontal else region)
    if not rising:
        a = np.negative(a, out=a)
    nr, nc = a.shape
    if nc < 8 or nr < 4:
        raise ValueError(f"the roi ({nr} rows across a {nc}-px long profile) is too small for an edge fit")

    # 2. edge line x_edge(y) = x0 + slope * y, y centred on the ROI
    y = np.arange(nr) - (nr - 1) / 2.0
    fit = _locate_edge(a, y)
    x0, slope = fit["x0"], fit["slope"]
    if not (-0.5 <= x0 <= nc - 0.5):
        raise ValueError(
            "no detectable edge in the roi: the fitted edge position lies outside it; "
            "check that the roi contains one straight edge crossing it"
        )
    cos = 1.0 / math.sqrt(1.0 + slope * slope)

    # 2b. uneven illumination: map every row onto common levels, then refine the line on the mapped data.
    # The mapping assumes one straight edge: on a bent or unlocatable one it reshapes the ESF arbitrarily
    # (it moved f10 of a photograph's edge from 0.33 to 0.69), so it is then left out and only reported.
    raw_along = _noise_along_edge(a, y, fit)
    raw_expected = _expected_scatter(a, y, fit, along=raw_along)
    shape_ok = raw_expected <= _LOCATE_MAX_PX and _straightness(fit, raw_expected)
    a, fit, illumination = _even_illumination(a, y, fit) if shape_ok else (a, fit, _Illumination(False))
    skipped_trend = 0.0 if shape_ok else _level_trend(
        a, y, fit["x0"], fit["slope"], 1.0 / math.sqrt(1.0 + fit["slope"] ** 2), fit["width"]).trend
    x0, slope = fit["x0"], fit["slope"]
    cos = 1.0 / math.sqrt(1.0 + slope * slope)

    # 3-4. projection, binning, moment correction
    esf_data = _binned_esf(a, y, x0, slope, cos, 1.0 / oversample)
    h = esf_data["h"]
    x = esf_data["x"]
    esf = esf_data["esf"]

    # the profile must reach the plateaus on both sides of the edge
    for side, span in (("left/top", -float(x[0])), ("right/bottom", float(x[-1]))):
        if span < _MIN_SPAN:
            raise ValueError(
                f"the edge is too close to the roi border: the profile extends only {max(span, 0):.1f} px "
                f"on its {side} side (at least {_MIN_SPAN:g} px are needed); centre the roi on the edge"
            )

    # edge levels and noise
    nb = x.size
    # plateau levels: the outer quarter of each side's profile
    left_count = int(np.count_nonzero(x < 0))
    right_count = nb - left_count
    lo = _median(esf[: max(3, left_count // 4)])
    hi = _median(esf[nb - max(3, right_count // 4):])
    step = hi - lo
    noise_left, noise_right = esf_data["noise"]
    noise = 0.5 * (noise_left + noise_right)
    if step <= 0 or (noise > 0 and step < 1.5 * noise):
        raise ValueError(
            "no detectable edge in the roi: the step between the two sides "
            f"({step:.3g}) is not above 1.5 times the pixel noise ({noise:.3g})"
        )
    cnr = step / noise if noise > 0 else math.inf
    # scatter of the row centroids that the pixel noise explains (texture is not pixel noise)
    rms_expected = _expected_scatter(a, y, fit, (noise_left, noise_right),
                                     along=False if illumination.corrected else raw_along)

    # 5. window; 6. LSF (two-tap difference of the ESF blended into its plateaus) and transform
    xm = x[:-1] + 0.5 * h
    lsf = np.diff(esf) / h
    var_bin = esf_data["var_bin"]
    window_c, window_info = _lsf_window(x, esf, esf_data["n"], esf_data["noise"], h, lo, step)
    # after a level correction, the plateaus come from bins every row reaches, so that what is left of
    # the trend averages over the whole edge instead of over the rows at one end of it
    reach = _rows_reaching(x, esf_data["edge_x"], nc, cos) if illumination.corrected else None
    plateau, plateau_var = _plateaus(esf, esf_data["n"], window_c, x, lo, hi, var_bin, reach)
    # reported on the LSF's positions (it acts on the ESF's departure from its plateaus)
    window = 0.5 * (window_c[:-1] + window_c[1:])
    empty = esf_data["empty"]
    filled_in_window = int(np.sum((empty[:-1] | empty[1:]) & (window > 0)))

    # over the whole band the bins sample (up to their Nyquist)
    band_end = 0.5 / h
    spectrum = _transfer(x, esf, window_c, plateau, plateau_var, var_bin, h, band_end, symmetric)

    # 7. crossings (searched over the whole band; the curve is reported up to
    # max_frequency, or further when a crossing lies beyond it)
    f50, f50_std, limited50, grazing50 = _crossing(spectrum, 0.5)
    f10, f10_std, limited10, grazing10 = _crossing(spectrum, 0.1)
    report_end = min(float(max_frequency), band_end)
    beyond = max(f for f, limited in ((f50, limited50), (f10, limited10)) if not limited) if not (
        limited50 and limited10) else 0.0
    if beyond > report_end:
        report_end = min(band_end, beyond + 0.05)
    shown = spectrum["freq"] <= report_end + 1e-12
    freq, mtf, mtf_std = spectrum["freq"][shown], spectrum["mtf"][shown], spectrum["mtf_std"][shown]

    # quality report and warnings
    clip = _clipping(a, esf_data, xm, lsf, step, esf_data["noise"], 1.0 if rising else -1.0, original.dtype,
                     window_info["edge_width"])
    contrast = abs(step) / (abs(hi) + abs(lo)) if (abs(hi) + abs(lo)) > 0 else 0.0
    phase_cycles = nr * abs(slope)
    if clip["clipped_high"] or clip["clipped_low"]:
        side = " and ".join(s for s, c in (("bright", clip["clipped_high"]), ("dark", clip["clipped_low"])) if c)
        counts = ", ".join(
            f"{clip['pinned_' + k]} pixels at the {'maximum' if k == 'high' else 'minimum'}"
            for k in ("high", "low") if clip["clipped_" + k]
        )
        messages.append(
            f"the {side} side of the edge looks clipped/saturated ({counts}): the ESF is distorted "
            "and the MTF is overestimated; reduce the exposure or use an unsaturated edge"
        )
    if cnr < 5:
        messages.append(
            f"low contrast-to-noise: edge step / pixel noise = {cnr:.2g} (< 5); f10 and the curve above "
            "f50 are unreliable; use a longer edge or average frames"
        )
    sign = 1.0 if rising else -1.0
    levels = (sign * lo, sign * hi)  # input units, left/top side first
    if min(levels) >= 0 and contrast < 0.05:
        messages.append(
            f"low edge contrast (Michelson {contrast:.3f} < 0.05): offsets and detector non-linearity are "
            "amplified; correct dark current and flat-field before measuring"
        )
    if fit["rows_used"] < 20:
        messages.append(
            f"only {fit['rows_used']} rows cross the edge inside the roi: the angle and the MTF are noisy; "
            "use a longer edge"
        )
    if esf_data["q"] > 0:
        messages.append(
            f"the rows' sub-pixel phases ({phase_cycles:.2f} cycles) fall on {esf_data['q']} position(s) per "
            f"pixel, so 1/{oversample}-px bins cannot all be filled (edge angle near 0 or near a ratio of "
            f"small integers such as 45 degrees, or too few rows): bins of {h:.3f} px were used and the MTF "
            f"is reported up to {freq[-1]:.3f} cycles/pixel and may be aliased; tilt the edge by a few degrees"
        )
    # content above the band end folds back into it: with the MTF still at the f10 level there,
    # the curve near the band end and the crossings are overestimated by an unknown amount
    band_end_mtf = float(spectrum["mtf"][-1])
    aliased = esf_data["q"] > 0 and band_end_mtf >= 0.1
    if aliased:
        messages.append(
            f"the MTF is still {band_end_mtf:.2f} at the end of the sampled band ({band_end:.3f} cycles/pixel): "
            "the curve is aliased and f50/f10 are biased (quality['aliased']); tilt the edge by a few "
            "degrees or use more rows"
        )
    if window_info["truncated"]:
        messages.append(
            "the line-spread function is still above the noise at the end of the profile: the roi is "
            "too narrow across the edge and the MTF at low frequencies is biased; widen the roi"
        )
    for name, grazing, value in (("0.5", grazing50, f50), ("0.1", grazing10, f10)):
        if grazing:
            messages.append(
                f"the MTF levels off within its noise of {name} at {value:.3f} cycles/pixel without crossing "
                f"it there; that point is reported (quality['f{name[2:]}0_grazing']), with a wide uncertainty"
            )
    if filled_in_window > 0:
        messages.append(f"{filled_in_window} empty ESF bins inside the LSF window were interpolated")
    locatable = rms_expected <= _LOCATE_MAX_PX
    straight = locatable and _straightness(fit, rms_expected)
    if not locatable:
        messages.append(
            f"the edge cannot be located row by row: the pixel noise alone scatters the row positions by "
            f"{rms_expected:.2g} px (> {_LOCATE_MAX_PX:g} px; step / noise = {cnr:.2g}), so neither its "
            "straightness nor f50/f10 can be trusted; use a stronger or longer edge (quality['locatable'])"
        )
    elif not straight:
        messages.append(
            f"the edge is not straight: the row positions scatter by {fit['rms']:.3g} px about the fitted line "
            f"where the pixel noise explains {rms_expected:.2g} px, so the ESF is smeared (f50/f10 too low) or "
            "the roi holds something other than one straight edge; choose a straight stretch of edge or a "
            "smaller roi (quality['straight'])"
        )
    if skipped_trend > _LEVEL_WARN:
        messages.append(
            f"the edge's step changes by up to {100 * skipped_trend:.1f} % along the edge, but the edge is not "
            "a straight, locatable one, so the levels were not corrected and f50/f10 are not the MTF of a "
            "straight edge (quality['level_trend'])"
        )
    if illumination.trend > _LEVEL_WARN:
        messages.append(
            f"the edge's step changes by up to {100 * illumination.trend:.1f} % along the edge (flat-field "
            "residue or vignetting); every row was mapped onto common levels before the ESF "
            "(quality['level_trend']), but a non-smooth gain is not corrected: flat-field the image"
        )
    nyquist_mtf = float(np.interp(0.5, spectrum["freq"], spectrum["mtf"]))
    beyond_nyquist = nyquist_mtf > 0.1 and band_end > 0.5
    if beyond_nyquist:
        messages.append(
            f"the MTF is still {nyquist_mtf:.2f} at the pixel Nyquist frequency (0.5 cycles/pixel, f10 = "
            f"{f10:.3f}): images from this system alias, and in a photograph this usually means a sharpened, "
            "compressed or resampled image or a feature that is not an optical edge; measure on the raw data "
            "(quality['nyquist_mtf'])"
        )
    in_noise = {}
    for name, level, value, limited, grazing in (("f50", 0.5, f50, limited50, grazing50),
                                                 ("f10", 0.1, f10, limited10, grazing10)):
        sd_at = float(np.interp(value, spectrum["freq"], spectrum["mtf_std"])) if not limited else 0.0
        in_noise[name] = bool(not grazing and _NOISE_BAND_Z * sd_at >= level)
        if in_noise[name]:
            messages.append(
                f"the {level:g} crossing at {value:.3f} cycles/pixel lies inside the curve's noise band (one "
                f"sigma {sd_at:.2g} there, so the MTF is not distinguishable from 0 at {_NOISE_BAND_Z:g} sigma): "
                f"{name} marks where the noise floor is reached, not the system's response; use a longer "
                f"edge, more contrast or averaged frames (quality['{name}_in_noise'])"
            )
    for name, limited, value in (("0.5", limited50, f50), ("0.1", limited10, f10)):
        if limited:
            messages.append(
                f"the MTF stays above {name} up to the end of the measured band ({value:.3f} cycles/pixel): "
                f"that frequency is reported as a lower bound (quality['f{name[2:]}0_limited'])"
            )
    record = record_quality_warnings(messages, warn=warn)

    quality = {
        "contrast": contrast,
        "step": abs(step),
        "levels": levels,
        "noise": noise,
        "noise_sides": (noise_left, noise_right),
        "cnr": cnr,
        "rows": nr,
        "rows_used": fit["rows_used"],
        "edge_fit_rms": fit["rms"],
        "edge_fit_rms_expected": rms_expected,
        "straight": straight,
        "locatable": locatable,
        "level_trend": illumination.trend if shape_ok else skipped_trend,
        "level_corrected": illumination.corrected,
        "nyquist_mtf": nyquist_mtf,
        "beyond_nyquist": beyond_nyquist,
        "f50_in_noise": in_noise["f50"],
        "f10_in_noise": in_noise["f10"],
        "phase_cycles": phase_cycles,
        "lattice_phases": esf_data["q"],
        "bin_width": h,
        "filled_bins": filled_in_window,
        "window": window_info,
        "f50_limited": limited50,
        "f10_limited": limited10,
        "f50_grazing": grazing50,
        "f10_grazing": grazing10,
        "band_end": band_end,
        "band_end_mtf": band_end_mtf,
        "aliased": aliased,
        "symmetric": spectrum["symmetric"],
        "asymmetry_z2": spectrum["asymmetry_z2"],
        **clip,
        "warnings": record,
    }
    angle = math.degrees(math.atan(slope))
    angle_std = math.degrees(fit["slope_std"] / (1.0 + slope * slope))
    area = float(np.sum(lsf) * h)
    return MTFResult(
        method="edge",
        freq=freq,
        mtf=mtf,
        mtf_std=mtf_std,
        f50=f50,
        f10=f10,
        f50_std=f50_std,
        f10_std=f10_std,
        pixel_size=pixel_size,
        unit=unit_label(pixel_size, unit),
        roi=bounds,
        quality=quality,
        angle_deg=angle,
        angle_std_deg=angle_std,
        orientation="horizontal" if horizontal else "vertical",
        polarity="rising" if rising else "falling",
        position=x,
        esf=sign * esf,
        lsf=lsf / area if area != 0 else lsf,
        lsf_position=xm,
        lsf_window=window,
        bin_width=h,
        oversample=oversample,
        warnings=tuple(record),
    )


def _noise_along_edge(a: np.ndarray, y: np.ndarray, fit: dict) -> tuple[float, float] | None:
    """Pixel noise of each side (dark, bright) from second differences along the edge, away from it.

    Texture and level trends vary slowly along the edge and mostly cancel in
    the second difference of three neighbouring pixels along it (their local
    slope does exactly), while white pixel noise has six times its variance; the standard deviation is 3-sigma clipped
    (iterated from the plain one, corrected for the truncation) so that the
    few large differences of a texture's own edges do not set it. Pixels
    inside the centroid window are left out. ``None`` when a side has fewer
    than 16 differences.
    """
    nr, nc = a.shape
    # centre rows of the second differences; every k-th on a large roi (60 000 differences give the
    # noise to 0.3 %, more only cost time)
    rows = np.arange(1, nr - 1, max(1, (nr * nc) // 60_000))
    edge_x = fit["x0"] + fit["slope"] * y[rows]
    cols = np.arange(nc, dtype=np.float64)
    distance = cols[None, :] - edge_x[:, None]
    # second difference: a texture's local slope along the edge cancels too; white noise: 6 sigma^2
    diff = a[rows + 1] - 2.0 * a[rows] + a[rows - 1]
    gap = fit["halfwidth"] + 1.0
    out = []
    for side in (distance < -gap, distance > gap):
        values = diff[side]
        if values.size < 16:
            return None
        centre = _median(values)
        deviation = np.abs(values - centre)
        sd = float(np.std(values))
        for _ in range(20):
            kept = values[deviation <= 3.0 * sd]
            new = float(np.std(kept)) / math.sqrt(_CLIP3_VARIANCE) if kept.size > 1 else sd
            if new >= sd or new == 0.0:
                sd = min(sd, new) if new > 0 else sd
                break
            sd = new
        out.append(sd / math.sqrt(6.0))
    return out[0], out[1]


def _expected_scatter(a: np.ndarray, y: np.ndarray, fit: dict, bin_noise=None, along=False) -> float:
    """RMS scatter of the row centroids that white pixel noise explains (px).

    Per side the smaller of the noise inside the ESF bins (``bin_noise``)
    and the noise of neighbouring pixels along the edge: a textured side
    inflates the first, and texture is not pixel noise. ``along``: that
    second noise when already measured on the same data and line.
    """
    if along is False:
        along = _noise_along_edge(a, y, fit)
    if along is None:
        sides = bin_noise if bin_noise is not None else (0.0, 0.0)
    elif bin_noise is None:
        sides = along
    else:
        sides = tuple(min(b, s) for b, s in zip(bin_noise, along))
    return math.sqrt(0.5 * (sides[0] ** 2 + sides[1] ** 2) * fit["noise_gain"])


def _straightness(fit: dict, rms_expected: float) -> bool:
    """Whether the row centroids scatter about the line no more than the pixel noise explains.

    Under a straight edge ``rms^2 / rms_expected^2`` follows ``chi2_k / k``
    (``k = rows - 2``; checked on noisy synthetic edges: mean 1.00, spread
    ``sqrt(2/k)``). Flagged beyond ``_STRAIGHT_Z`` of those spreads *and* when
    the unexplained part exceeds ``_STRAIGHT_MIN_PX`` times the edge width
    in px (at least 1): a scatter ``e`` smears an LSF of width ``s`` to
    ``sqrt(s^2 + e^2)``, lowering f50 by ``e^2 / (2 s^2)``, 0.12 % at the
    threshold. Noise-free edges have no noise to explain anything; below
    one pixel of width the floor stays at 0.05 px, above the phase-locked
    bias of the centroids of a sharp edge. An excess that is not white pixel
    noise but too small for the width (noise correlated between pixels, a
    fixed pattern near the edge) is thus not called a bend.
    """
    rms = fit["rms"]
    dof = max(fit["rows_used"] - 2, 1)
    excess = math.sqrt(max(rms * rms - rms_expected * rms_expected, 0.0))
    significant = rms * rms > rms_expected * rms_expected * (1.0 + _STRAIGHT_Z * math.sqrt(2.0 / dof))
    return not (significant and excess > _STRAIGHT_MIN_PX * max(fit["width"], 1.0))


# -- 1. orientation ------------------------------------------------------------------
def _orientation(a: np.ndarray) -> tuple[bool, bool]:
    """(edge closer to horizontal, intensity rises along the profile axis)."""
    gx = np.diff(a, axis=1)
    gy = np.diff(a, axis=0)
    # (plain sums: BLAS dot products start threads and were 20x slower here)
    horizontal = float(np.sum(gy * gy)) > float(np.sum(gx * gx))
    if horizontal:
        rise = float(np.sum(a[-1, :] - a[0, :]))
    else:
        rise = float(np.sum(a[:, -1] - a[:, 0]))
    return horizontal, rise >= 0


# -- 2. edge position ----------------------------------------------------------------
def _row_centroids_numpy(a: np.ndarray, centre: np.ndarray, halfwidth: float):
    """Per row: sum, first and second moments of the derivative under a Hann
    window centred at ``centre`` (derivative ``a[x+1] - a[x]`` sits at ``x + 1/2``)."""
    deriv = a[:, 1:] - a[:, :-1]
    xs = np.arange(a.shape[1] - 1) + 0.5
    t = (xs[None, :] - centre[:, None]) / halfwidth
    w = np.where(np.abs(t) < 1.0, 0.5 + 0.5 * np.cos(np.pi * t), 0.0)
    wd = w * deriv
    return wd.sum(axis=1), wd @ xs, wd @ (xs * xs)


if HAVE_NUMBA:

    @njit(cache=True)
    def _row_centroids_numba(a, centre, halfwidth):  # pragma: no cover - compiled
        nr, nc = a.shape
        total = np.zeros(nr)
        first = np.zeros(nr)
        second = np.zeros(nr)
        for r in range(nr):
            lo = max(int(np.ceil(centre[r] - halfwidth - 0.5)), 0)
            hi = min(int(np.floor(centre[r] + halfwidth - 0.5)), nc - 2)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            for k in range(lo, hi + 1):
                xk = k + 0.5
                t = (xk - centre[r]) / halfwidth
                if -1.0 < t < 1.0:
                    wd = (0.5 + 0.5 * np.cos(np.pi * t)) * (a[r, k + 1] - a[r, k])
                    s0 += wd
                    s1 += wd * xk
                    s2 += wd * xk * xk
            total[r] = s0
            first[r] = s1
            second[r] = s2
        return total, first, second


def _row_centroids(a: np.ndarray, centre: np.ndarray, halfwidth: float):
    """Centroid, validity and spread (variance) per row of the windowed derivative."""
    if HAVE_NUMBA:
        total, first, second = _row_centroids_numba(a, centre, float(halfwidth))
    else:
        total, first, second = _row_centroids_numpy(a, centre, halfwidth)
    ok = total > 0
    safe = np.where(ok, total, 1.0)
    c = first / safe
    spread = np.maximum(second / safe - c * c, 0.0)
    return c, ok, spread


def _median(values: np.ndarray) -> float:
    """Median via one partial sort (np.median's overhead dominates for small arrays)."""
    n = values.size
    k = n // 2
    part = np.partition(values, (k - 1, k) if n % 2 == 0 and n > 1 else k)
    return float(part[k]) if n % 2 else float(0.5 * (part[k - 1] + part[k]))


def _fit_line_numpy(y: np.ndarray, c: np.ndarray):
    keep = np.ones(y.size, dtype=bool)
    for _ in range(2):
        yk, ck = y[keep], c[keep]
        ym, cm = yk.mean(), ck.mean()
        dy = yk - ym
        syy = float(np.dot(dy, dy))
        slope = float(np.dot(dy, ck - cm)) / syy if syy > 0 else 0.0
        x0 = float(cm - slope * ym)
        resid = c - (x0 + slope * y)
        scale = 1.4826 * _median(np.abs(resid[keep]))
        new_keep = np.abs(resid) <= max(4.0 * scale, 1e-9)
        if new_keep.sum() < 3 or np.array_equal(new_keep, keep):
            break
        keep = new_keep
    yk, rk = y[keep], resid[keep]
    dy = yk - yk.mean()
    return x0, slope, float(np.dot(dy, dy)), float(np.dot(rk, rk)), int(yk.size)


if HAVE_NUMBA:

    @njit(cache=True)
    def _fit_line_numba(y, c):  # pragma: no cover - compiled
        n = y.size
        keep = np.ones(n, dtype=np.bool_)
        x0 = 0.0
        slope = 0.0
        resid = np.empty(n)
        for _ in range(2):
            sy = 0.0
            sc = 0.0
            m = 0
            for i in range(n):
                if keep[i]:
                    sy += y[i]
                    sc += c[i]
                    m += 1
            ym = sy / m
            cm = sc / m
            syy = 0.0
            syc = 0.0
            for i in range(n):
                if keep[i]:
                    syy += (y[i] - ym) * (y[i] - ym)
                    syc += (y[i] - ym) * (c[i] - cm)
            slope = syc / syy if syy > 0 else 0.0
            x0 = cm - slope * ym
            absres = np.empty(m)
            j = 0
            for i in range(n):
                resid[i] = c[i] - (x0 + slope * y[i])
                if keep[i]:
                    absres[j] = abs(resid[i])
                    j += 1
            limit = max(4.0 * 1.4826 * np.median(absres), 1e-9)
            changed = False
            count = 0
            new_keep = np.empty(n, dtype=np.bool_)
            for i in range(n):
                new_keep[i] = abs(resid[i]) <= limit
                count += new_keep[i]
                changed |= new_keep[i] != keep[i]
            if count < 3 or not changed:
                break
            keep = new_keep
        sy = 0.0
        m = 0
        for i in range(n):
            if keep[i]:
                sy += y[i]
                m += 1
        ym = sy / m
        syy = 0.0
        srr = 0.0
        for i in range(n):
            if keep[i]:
                syy += (y[i] - ym) * (y[i] - ym)
                srr += resid[i] * resid[i]
        return x0, slope, syy, srr, m


def _fit_line(y: np.ndarray, c: np.ndarray):
    """Least-squares line with one round of robust outlier rejection (4 MAD-sigmas).

    Returns ``(x0, slope, slope_std, rms, rows_used)``.
    """
    fit = _fit_line_numba if HAVE_NUMBA else _fit_line_numpy
    x0, slope, syy, srr, used = fit(np.ascontiguousarray(y, dtype=np.float64), np.ascontiguousarray(c, dtype=np.float64))
    rms = math.sqrt(srr / max(used - 2, 1))
    slope_std = rms / math.sqrt(syy) if syy > 0 else math.inf
    return float(x0), float(slope), slope_std, rms, int(used)


def _locate_edge(a: np.ndarray, y: np.ndarray) -> dict:
    nr, nc = a.shape
    # pass 1: window over the whole row (sfrmat); the centroid is pulled to
    # the middle but the line is good enough to centre the next windows. Only
    # rows that hold most of the step take part: a steep edge may leave the
    # ROI through its sides, and rows without it have meaningless centroids.
    c, ok, _ = _row_centroids(a, np.full(nr, (nc - 1) / 2.0), nc / 2.0)
    rise = a[:, -1] - a[:, 0]
    typical = float(np.partition(rise, int(0.9 * (nr - 1)))[int(0.9 * (nr - 1))])
    ok &= rise > 0.5 * typical
    if typical <= 0 or ok.sum() < 3:
        raise ValueError("no detectable edge in the roi: the rows show no rising step")
    x0, slope, *_ = _fit_line(y[ok], c[ok])
    halfwidth = max(4.0, nc / 4.0)
    rows_used = 0
    for _ in range(3):
        predicted = x0 + slope * y
        inside = (predicted - halfwidth >= -0.5) & (predicted + halfwidth <= nc - 1.5)
        if inside.sum() < 3:
            inside = (predicted >= 0) & (predicted <= nc - 1)
        if inside.sum() < 3:
            raise ValueError(
                "no detectable edge in the roi: fewer than 3 rows cross the fitted edge inside it"
            )
        c, ok, spread = _row_centroids(a, predicted, halfwidth)
        use = inside & ok
        if use.sum() < 3:
            raise ValueError("no detectable edge in the roi: the rows show no rising step")
        x0, slope, slope_std, rms, rows_used = _fit_line(y[use], c[use])
        # narrow the window to the edge's own width (noise outside only hurts)
        width = math.sqrt(_median(spread[use]))
        centred, used_halfwidth, centroids, used = predicted, halfwidth, c, use
        halfwidth = float(np.clip(3.0 * width + 2.0, 3.0, halfwidth))
    gain = _centroid_noise_gain(a, centred, used_halfwidth, centroids, used)
    return {"x0": x0, "slope": slope, "slope_std": slope_std, "rms": rms, "rows_used": rows_used,
            "width": width, "halfwidth": halfwidth, "noise_gain": gain}


def _centroid_noise_gain(a: np.ndarray, centre: np.ndarray, halfwidth: float, c: np.ndarray,
                         use: np.ndarray) -> float:
    """Mean over the rows in ``use`` of ``var(centroid) / var(pixel)`` for white pixel noise (first order).

    Rows whose gain exceeds ``_GAIN_OUTLIER`` times the median are left out.

    The centroid ``c = sum w_k d_k x_k / sum w_k d_k`` of the windowed
    derivative ``d_k = a_{k+1} - a_k`` moves by ``g_k = w_k (x_k - c) / S0``
    per unit of ``d_k``, so by ``g_{j-1} - g_j`` per unit of pixel ``j``.
    """
    kernel = _centroid_noise_gain_numba if HAVE_NUMBA else _centroid_noise_gain_numpy
    rows = np.flatnonzero(use)
    if rows.size == 0:
        return 0.0
    gains = kernel(a, np.ascontiguousarray(centre, dtype=np.float64), float(halfwidth),
                   np.ascontiguousarray(c, dtype=np.float64), rows)
    # rows where the step nearly vanishes (the edge fades or leaves the window) have huge gains; the
    # line fit rejects their centroids as outliers, so they must not set the expected scatter either
    typical = _median(gains)
    return float(np.mean(gains[gains <= _GAIN_OUTLIER * typical])) if typical > 0 else float(np.mean(gains))


def _centroid_noise_gain_numpy(a, centre, halfwidth, c, rows):
    a, centre, c = a[rows], centre[rows], c[rows]
    deriv = a[:, 1:] - a[:, :-1]
    xs = np.arange(a.shape[1] - 1) + 0.5
    t = (xs[None, :] - centre[:, None]) / halfwidth
    w = np.where(np.abs(t) < 1.0, 0.5 + 0.5 * np.cos(np.pi * t), 0.0)
    total = np.sum(w * deriv, axis=1)
    g = w * (xs[None, :] - c[:, None]) / np.where(total > 0, total, np.inf)[:, None]
    padded = np.pad(g, ((0, 0), (1, 1)))
    return np.sum((padded[:, :-1] - padded[:, 1:]) ** 2, axis=1)


if HAVE_NUMBA:

    @njit(cache=True)
    def _centroid_noise_gain_numba(a, centre, halfwidth, c, rows):  # pragma: no cover - compiled
        nc = a.shape[1]
        out = np.zeros(rows.size)
        for i in range(rows.size):
            r = rows[i]
            lo = max(int(np.ceil(centre[r] - halfwidth - 0.5)), 0)
            hi = min(int(np.floor(centre[r] + halfwidth - 0.5)), nc - 2)
            total = 0.0
            for k in range(lo, hi + 1):
                t = (k + 0.5 - centre[r]) / halfwidth
                if -1.0 < t < 1.0:
                    total += (0.5 + 0.5 * np.cos(np.pi * t)) * (a[r, k + 1] - a[r, k])
            if total <= 0:
                continue  # (numpy twin: g = 0 for such a row)
            previous = 0.0
            row_sum = 0.0
            for k in range(lo, hi + 1):
                t = (k + 0.5 - centre[r]) / halfwidth
                g = 0.0
                if -1.0 < t < 1.0:
                    g = (0.5 + 0.5 * np.cos(np.pi * t)) * (k + 0.5 - c[r]) / total
                row_sum += (previous - g) ** 2
                previous = g
            out[i] = row_sum + previous * previous
        return out


def _refine_edge(a: np.ndarray, y: np.ndarray, fit: dict) -> dict:
    """One more centroid pass and line fit around ``fit``'s line, at its final window width."""
    nc = a.shape[1]
    halfwidth = fit["halfwidth"]
    predicted = fit["x0"] + fit["slope"] * y
    inside = (predicted - halfwidth >= -0.5) & (predicted + halfwidth <= nc - 1.5)
    c, ok, _ = _row_centroids(a, predicted, halfwidth)
    use = inside & ok
    if use.sum() < 3:  # keep the line found before the mapping
        return fit
    x0, slope, slope_std, rms, rows_used = _fit_line(y[use], c[use])
    gain = _centroid_noise_gain(a, predicted, halfwidth, c, use)
    return {**fit, "x0": x0, "slope": slope, "slope_std": slope_std, "rms": rms, "rows_used": rows_used,
            "noise_gain": gain}


# -- 2b. level trend along the edge ---------------------------------------------------
@dataclass(frozen=True)
class _Illumination:
    """Levels of the two sides along the edge, and the image mapped onto common levels.

    ``trend`` is the largest relative change of the step along the edge
    (0 when the data were left as they are).
    """

    corrected: bool
    mapped: np.ndarray | None = None
    trend: float = 0.0


def _level_moments_numpy(a, edge_x, cos, slope, x0, y, scale, gap, ref_low, ref_high):
    """Per side (dark, bright): power sums of ``s`` (0..4), of ``(v - ref) s^k`` (0..2) and ``sum (v - ref)^2``."""
    cols = np.arange(a.shape[1], dtype=np.float64)
    distance = (cols[None, :] - edge_x[:, None]) * cos
    s = ((y[:, None] + slope * (cols[None, :] - x0)) * cos) / scale
    out = np.zeros((2, 9))
    for k, (side, ref) in enumerate(((distance < -gap, ref_low), (distance > gap, ref_high))):
        sv, v = s[side], a[side] - ref
        powers = [np.ones_like(sv), sv, sv * sv]
        powers += [powers[2] * sv, powers[2] * powers[2]]
        out[k, :5] = [float(p.sum()) for p in powers]
        out[k, 5:8] = [float(np.dot(v, p)) for p in powers[:3]]
        out[k, 8] = float(np.dot(v, v))
    return out


if HAVE_NUMBA:

    @njit(cache=True)
    def _level_moments_numba(a, edge_x, cos, slope, x0, y, scale, gap, ref_low, ref_high):  # pragma: no cover
        nr, nc = a.shape
        out = np.zeros((2, 9))
        for r in range(nr):
            for col in range(nc):
                d = (col - edge_x[r]) * cos
                if d < -gap:
                    k = 0
                    v = a[r, col] - ref_low
                elif d > gap:
                    k = 1
                    v = a[r, col] - ref_high
                else:
                    continue
                t = (y[r] + slope * (col - x0)) * cos / scale
                t2 = t * t
                out[k, 0] += 1.0
                out[k, 1] += t
                out[k, 2] += t2
                out[k, 3] += t2 * t
                out[k, 4] += t2 * t2
                out[k, 5] += v
                out[k, 6] += v * t
                out[k, 7] += v * t2
                out[k, 8] += v * v
        return out


def _side_level(moments: np.ndarray, ref: float):
    """Quadratic level ``c0 + c1 s + c2 s^2`` of one side and the F statistic of its trend."""
    n, s1, s2, s3, s4, v0, v1, v2, vv = (float(m) for m in moments)
    if n < 8 * (_LEVEL_DEGREE + 1):
        return None
    # the spread of s must support a trend (pixels on a short stretch of the edge do not)
    if s2 / n - (s1 / n) ** 2 < 0.02:
        return None
    # normal equations [[n, s1, s2], [s1, s2, s3], [s2, s3, s4]] c = [v0, v1, v2], by Cramer's rule
    # (a 3 x 3 system: np.linalg.solve's overhead was a tenth of the whole estimate)
    det = n * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
    if not det > 0:
        return None
    coef = np.array([
        v0 * (s2 * s4 - s3 * s3) - s1 * (v1 * s4 - s3 * v2) + s2 * (v1 * s3 - s2 * v2),
        n * (v1 * s4 - v2 * s3) - v0 * (s1 * s4 - s3 * s2) + s2 * (s1 * v2 - v1 * s2),
        n * (s2 * v2 - s3 * v1) - s1 * (s1 * v2 - v1 * s2) + v0 * (s1 * s3 - s2 * s2),
    ]) / det
    rss = max(vv - (coef[0] * v0 + coef[1] * v1 + coef[2] * v2), 0.0)
    total = max(vv - v0 * v0 / n, 0.0)
    dof = max(n - 3.0, 1.0)
    explained = max(total - rss, 0.0)
    f_stat = (explained / _LEVEL_DEGREE) / (rss / dof) if rss > 0 else (math.inf if explained > 0 else 0.0)
    return np.array([coef[0] + ref, coef[1], coef[2]]), f_stat


def _level_trend(a: np.ndarray, y: np.ndarray, x0: float, slope: float, cos: float, width: float) -> _Illumination:
    """Fit each side's level as a quadratic of the position along the edge; map the rows onto common levels.

    Flat-field residue and vignetting make the dark and bright levels vary
    along the edge, so rows at different positions project different ESFs
    onto the same bins. Each side's level is fitted as a quadratic in the
    along-edge coordinate ``s`` (the foot point on the fitted line, scaled
    to about [-1, 1]) from the pixels farther than ``_LEVEL_DISTANCE`` edge
    widths (+1 px) from the edge; every pixel is then mapped to
    ``L + (H - L) (v - low(s)) / (high(s) - low(s))``, with ``L``, ``H`` the
    levels at the middle of the edge. The data are left untouched unless the
    trend is significant against the fit's own scatter (a trend is not noise,
    but fitted noise is not a trend) and larger than ``_LEVEL_NEGLIGIBLE`` of
    the step.
    """
    nr, nc = a.shape
    edge_x = x0 + slope * y
    scale = 0.5 * math.hypot(nr, nc)
    gap = _LEVEL_DISTANCE * max(width, 0.5) + 1.0
    ref_low, ref_high = float(a[nr // 2, 0]), float(a[nr // 2, nc - 1])
    moments_fn = _level_moments_numba if HAVE_NUMBA else _level_moments_numpy
    moments = moments_fn(a, edge_x, cos, slope, x0, y, scale, gap, ref_low, ref_high)
    sides = [_side_level(moments[0], ref_low), _side_level(moments[1], ref_high)]
    if sides[0] is None or sides[1] is None or max(sides[0][1], sides[1][1]) < _LEVEL_F:
        return _Illumination(False)
    low_coef, high_coef = sides[0][0], sides[1][0]
    step = float(high_coef[0] - low_coef[0])
    # the levels over the ROI: s spans [s_min, s_max] at its corners (s is linear in row and column)
    corners = np.array([y[0] + slope * (0 - x0), y[0] + slope * (nc - 1 - x0),
                        y[-1] + slope * (0 - x0), y[-1] + slope * (nc - 1 - x0)]) * cos / scale
    s_range = np.linspace(float(corners.min()), float(corners.max()), 65)
    low = low_coef[0] + s_range * (low_coef[1] + s_range * low_coef[2])
    high = high_coef[0] + s_range * (high_coef[1] + s_range * high_coef[2])
    if step <= 0 or float(np.min(high - low)) <= 0.1 * step:
        return _Illumination(False)
    excursion = max(float(np.max(np.abs(low - low_coef[0]))), float(np.max(np.abs(high - high_coef[0])))) / step
    if excursion < _LEVEL_NEGLIGIBLE:  # significant, but far below anything the MTF could show
        return _Illumination(False)
    mapping = _map_levels_numba if HAVE_NUMBA else _map_levels_numpy
    mapped = mapping(a, y, slope, x0, cos / scale, low_coef, high_coef)
    return _Illumination(True, mapped, float(np.max(np.abs((high - low) / step - 1.0))))


def _map_levels_numpy(a, y, slope, x0, factor, low_coef, high_coef):
    """``L + (H - L) (v - low(s)) / (high(s) - low(s))`` per pixel (``L``, ``H``: the levels at s = 0)."""
    cols = np.arange(a.shape[1], dtype=np.float64)
    s = (y[:, None] + slope * (cols[None, :] - x0)) * factor
    low = low_coef[0] + s * (low_coef[1] + s * low_coef[2])
    high = high_coef[0] + s * (high_coef[1] + s * high_coef[2])
    return (a - low) * ((high_coef[0] - low_coef[0]) / (high - low)) + low_coef[0]


if HAVE_NUMBA:

    @njit(cache=True)
    def _map_levels_numba(a, y, slope, x0, factor, low_coef, high_coef):  # pragma: no cover - compiled
        nr, nc = a.shape
        out = np.empty((nr, nc))
        step = high_coef[0] - low_coef[0]
        for r in range(nr):
            for col in range(nc):
                s = (y[r] + slope * (col - x0)) * factor
                low = low_coef[0] + s * (low_coef[1] + s * low_coef[2])
                high = high_coef[0] + s * (high_coef[1] + s * high_coef[2])
                out[r, col] = (a[r, col] - low) * (step / (high - low)) + low_coef[0]
        return out


def _even_illumination(a: np.ndarray, y: np.ndarray, fit: dict) -> tuple[np.ndarray, dict, _Illumination]:
    """The ROI mapped onto common levels along the edge, and the edge line refitted on it.

    Twice: the levels are fitted along the line found so far, and a trend
    biases that line's angle slightly (the plateaus' slope leaks into the
    row centroids), so the second fit uses the line refined on mapped data.
    """
    illumination = _Illumination(False)
    mapped = a
    for _ in range(2):
        cos = 1.0 / math.sqrt(1.0 + fit["slope"] ** 2)
        trial = _level_trend(a, y, fit["x0"], fit["slope"], cos, fit["width"])
        if not trial.corrected:
            break
        illumination, mapped = trial, trial.mapped
        fit = _refine_edge(mapped, y, fit)
    return mapped, fit, illumination


# -- 3-4. projection and ESF ---------------------------------------------------------
def _five_point(e: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives, fourth order (ends replicated)."""
    p = np.concatenate(([e[0], e[0]], e, [e[-1], e[-1]]))
    d1 = (-p[4:] + 8.0 * p[3:-1] - 8.0 * p[1:-3] + p[:-4]) / (12.0 * h)
    d2 = (-p[4:] + 16.0 * p[3:-1] - 30.0 * p[2:-2] + 16.0 * p[1:-3] - p[:-4]) / (12.0 * h * h)
    return d1, d2


def _phase_lattice(phases: np.ndarray, cos: float, delta: float):
    """Bin width and offset along the normal from the rows' sub-pixel phases.

    ``phases`` are the positions of the samples modulo one pixel (x units).
    If no gap between consecutive phases reaches one bin, ``delta``-wide bins
    are all filled. Otherwise the phases form ``q`` clusters (``q`` large
    gaps) and the bins are ``cos/q`` wide, centred on the clusters.
    """
    ordered = np.sort(phases)
    gaps = np.diff(np.concatenate([ordered, ordered[:1] + 1.0]))
    large = gaps >= delta / cos
    if not large.any():
        return delta, 0.0, 0
    q = int(large.sum())
    angle = 2.0 * np.pi * q * ordered
    mean_phase = (np.angle(np.mean(np.exp(1j * angle))) / (2.0 * np.pi * q)) % (1.0 / q)
    return cos / q, mean_phase * cos, q


def _accumulate_numpy(a, edge_x, cos, offset, h, first, nb):
    """Per bin: count, mean value, sum of squared deviations from the mean, and
    the mean offset and mean squared offset of the samples from the bin centre."""
    nc = a.shape[1]
    d = ((np.arange(nc, dtype=np.float64)[None, :] - edge_x[:, None]) * cos).ravel()
    v = a.ravel()
    index = np.rint((d - offset) / h).astype(np.int64) - first
    keep = (index >= 0) & (index < nb)
    index, d, v = index[keep], d[keep], v[keep]
    n = np.bincount(index, minlength=nb).astype(np.float64)
    safe = np.maximum(n, 1.0)
    mean = np.bincount(index, v, nb) / safe
    resid = v - mean[index]
    scatter = np.bincount(index, resid * resid, nb)
    dev = d - ((index + first) * h + offset)
    m1 = np.bincount(index, dev, nb) / safe
    m2 = np.bincount(index, dev * dev, nb) / safe
    return n, mean, scatter, m1, m2


if HAVE_NUMBA:

    @njit(cache=True)
    def _accumulate_numba(a, edge_x, cos, offset, h, first, nb):  # pragma: no cover - compiled
        nr, nc = a.shape
        n = np.zeros(nb)
        mean = np.zeros(nb)
        scatter = np.zeros(nb)  # Welford: numerically safe for large offsets
        m1 = np.zeros(nb)
        m2 = np.zeros(nb)
        for r in range(nr):
            for col in range(nc):
                d = (col - edge_x[r]) * cos
                b = int(np.rint((d - offset) / h)) - first
                if b < 0 or b >= nb:
                    continue
                v = a[r, col]
                n[b] += 1.0
                delta = v - mean[b]
                mean[b] += delta / n[b]
                scatter[b] += delta * (v - mean[b])
                dev = d - ((b + first) * h + offset)
                m1[b] += dev
                m2[b] += dev * dev
        for b in range(nb):
            if n[b] > 0:
                m1[b] /= n[b]
                m2[b] /= n[b]
        return n, mean, scatter, m1, m2


def _usable_span(edge_x: np.ndarray, nc: int, cos: float) -> tuple[float, float]:
    """Span of normal distances covered by at least a quarter of the most-covered rows.

    Row ``r`` covers ``d`` in ``[(0 - x_r) cos, (nc - 1 - x_r) cos]``; far
    from the edge only a few rows reach, and their bins would be noisy and
    poorly phased.
    """
    left = np.sort(-edge_x * cos)
    right = np.sort((nc - 1 - edge_x) * cos)
    grid = np.arange(math.floor(left[0]), math.ceil(right[-1]) + 1.0, 0.5)
    cover = np.searchsorted(left, grid, side="right") - np.searchsorted(right, grid, side="left")
    good = cover >= 0.25 * cover.max()
    centre = int(np.argmin(np.abs(grid)))
    if not good[centre]:
        centre = int(np.argmax(cover))
    lo = centre
    while lo > 0 and good[lo - 1]:
        lo -= 1
    hi = centre
    while hi < grid.size - 1 and good[hi + 1]:
        hi += 1
    return float(grid[lo]), float(grid[hi])


def _binned_esf(a: np.ndarray, y: np.ndarray, x0: float, slope: float, cos: float, delta: float) -> dict:
    nr, nc = a.shape
    edge_x = x0 + slope * y
    d_min, d_max = _usable_span(edge_x, nc, cos)
    h, offset, q = _phase_lattice(np.mod(-edge_x, 1.0), cos, delta)
    first = math.ceil((d_min - offset) / h - 0.5)
    last = math.floor((d_max - offset) / h + 0.5)
    nb = last - first + 1
    accumulate = _accumulate_numba if HAVE_NUMBA else _accumulate_numpy
    n, mean, scatter, m1, m2 = accumulate(a, edge_x, cos, offset, h, first, nb)
    x = (np.arange(nb) + first) * h + offset
    filled = n > 0
    safe = np.maximum(n, 1.0)
    if not filled.all():
        mean = np.where(filled, mean, np.interp(x, x[filled] + m1[filled], mean[filled]))
    # point values at the bin centres: remove the first two moments of the
    # samples' offsets (derivatives from the current estimate, iterated)
    esf = mean
    for _ in range(2):
        d1, d2 = _five_point(esf, h)
        esf = mean - d1 * m1 - 0.5 * d2 * m2
    # pixel noise: scatter inside the bins minus the ESF's own slope across them
    d1, _ = _five_point(esf, h)
    var_within = np.maximum(scatter - n * d1 * d1 * np.maximum(m2 - m1 * m1, 0.0), 0.0) / np.maximum(n - 1.0, 1.0)
    noise = []
    for side in (x < 0, x >= 0):
        usable = side & (n >= 2)
        if not usable.any():
            noise.append(0.0)
            continue
        # median of the bin variances (robust to the edge bins), debiased for chi-square
        median = _median(var_within[usable]) / _median_chi2_factor(_median(n[usable]))
        noise.append(math.sqrt(median))
    pixel_var = np.where(x < 0, noise[0] ** 2, noise[1] ** 2)
    var_bin = pixel_var / safe
    return {
        "x": x,
        "esf": esf,
        "n": n,
        "h": h,
        "q": q,
        "noise": tuple(noise),
        "var_bin": var_bin,
        "empty": ~filled,
        "edge_x": edge_x,
        "cos": cos,
    }


def _median_chi2_factor(k_plus_1: float) -> float:
    """Median of ``chi2_k / k`` (Wilson-Hilferty), ``k = n - 1`` samples."""
    k = max(float(k_plus_1) - 1.0, 1.0)
    return (1.0 - 2.0 / (9.0 * k)) ** 3


# -- 5. window -----------------------------------------------------------------------
def _crossing_position(x: np.ndarray, u: np.ndarray, level: float, start: int, direction: int) -> float:
    """Position where ``u`` crosses ``level`` walking from index ``start`` in ``direction``."""
    i = start
    n = u.size
    if direction > 0:
        while i < n - 1 and u[i + 1] < level:
            i += 1
        if i >= n - 1:
            return float(x[-1])
        j = i + 1
    else:
        while i > 0 and u[i - 1] > level:
            i -= 1
        if i <= 0:
            return float(x[0])
        j = i - 1
    du = u[j] - u[i]
    t = (level - u[i]) / du if du != 0 else 0.0
    return float(x[i] + (x[j] - x[i]) * t)


def _lsf_window(x, esf, n, noise_sides, h, lo, step):
    """Window over the ESF bins centred at ``x`` (1 inside, raised-cosine taper, 0 beyond).

    Its flat part reaches ``_FLAT_WIDTHS`` robust widths of the edge (the ESF
    interquartile distance / 1.349) and, on each side, as far as the ESF is
    still significantly away from that side's plateau: walking outward, the
    window stops at the first bin beyond which the mean ESF over each of the
    lengths ``_TAIL_SCALES`` is within ``_TAIL_Z`` standard errors of the
    plateau. A long tail (e.g. a Lorentzian) keeps the window open for as
    long as its remaining mass is visible above the noise; whatever lies
    beyond is moved inside by the blending of :func:`_transfer`, not lost.
    Noise-free data give a window spanning the usable profile.
    """
    nb = x.size
    centre = int(np.argmin(np.abs(x)))
    u = (esf - lo) / step
    # robust width: interquartile distance of the ESF (1.349 sigma for a Gaussian)
    x25 = _crossing_position(x, u, 0.25, centre, -1 if u[centre] > 0.25 else +1)
    x75 = _crossing_position(x, u, 0.75, centre, +1 if u[centre] < 0.75 else -1)
    width = max((x75 - x25) / 1.349, h)
    # remaining tail: sample-weighted mean ESF over [x, x + L] (outward) against the plateau
    count = np.concatenate(([0.0], np.cumsum(n)))
    total = np.concatenate(([0.0], np.cumsum(n * esf)))
    index = np.arange(nb)
    extents = []
    for direction, level, noise in ((-1, lo, noise_sides[0]), (+1, lo + step, noise_sides[1])):
        z = np.zeros(nb)
        for length in _TAIL_SCALES:
            m = max(1, int(round(length / h)))
            if direction < 0:
                start, stop = np.maximum(index - m, 0), index + 1
            else:
                start, stop = index, np.minimum(index + m + 1, nb)
            samples = count[stop] - count[start]
            mean = (total[stop] - total[start]) / np.maximum(samples, 1.0)
            sd = noise / np.sqrt(np.maximum(samples, 1.0))
            # (a segment of empty bins says nothing)
            z = np.maximum(z, np.where(samples > 0, np.abs(mean - level) / (sd + 1e-9 * abs(step)), 0.0))
        i = centre
        while 0 < i < nb - 1 and z[i] > _TAIL_Z:
            i += direction
        extents.append(abs(float(x[i])))
    window = np.zeros(nb)
    info = {}
    taper = max(_TAPER_WIDTHS * width, h)
    info["truncated"] = False
    for side, extent in zip(("left", "right"), extents):
        span = float(-x[0] if side == "left" else x[-1])
        if extent >= span - h:  # still significant at the end of the profile
            info["truncated"] = True
        flat = max(_FLAT_WIDTHS * width, extent)
        t = taper
        if flat + t > span:  # fit the window into the available ESF
            t = min(t, max(span / 3.0, h))
            flat = max(span - t, h)
        info[side] = flat
        info[f"taper_{side}"] = t
        sel = (x <= 0) if side == "left" else (x >= 0)
        s = np.abs(x[sel])
        w = np.where(s <= flat, 1.0, np.where(s < flat + t, 0.5 + 0.5 * np.cos(np.pi * (s - flat) / t), 0.0))
        window[sel] = w
    info["edge_width"] = width
    return window, info


# -- 6. transform --------------------------------------------------------------------
def _rows_reaching(x: np.ndarray, edge_x: np.ndarray, nc: int, cos: float) -> np.ndarray:
    """Whether every row of the ROI has pixels at each normal distance ``x`` (bin centres)."""
    return (x >= -float(np.min(edge_x)) * cos) & (x <= (nc - 1 - float(np.max(edge_x))) * cos)


def _plateaus(esf, n, window, x, lo, hi, var_bin, reach=None):
    """Plateau level of each side and its variance, per ESF bin.

    The level of a side is the sample-weighted mean of its bins outside the
    window (where the ESF is flat within the noise), restricted to the bins
    marked in ``reach`` when that leaves at least one pixel's worth of them;
    the medians ``lo``/``hi`` of the outer quarters are the fallback when
    the window covers the side.
    """
    levels, variances = [], []
    h = float(x[1] - x[0]) if x.size > 1 else 1.0
    for side, fallback in ((x < 0, lo), (x >= 0, hi)):
        beyond = side & (window <= 0) & (n > 0)
        if reach is not None and np.count_nonzero(beyond & reach) * h >= 1.0:
            beyond &= reach
        count = float(np.sum(n[beyond]))
        if count > 0:
            levels.append(float(np.dot(n[beyond], esf[beyond])) / count)
            # var_bin = pixel variance / n, so the weighted mean has pixel variance / count
            variances.append(float(np.dot(n[beyond] ** 2, var_bin[beyond])) / count**2)
        else:
            levels.append(float(fallback))
            variances.append(float(np.max(var_bin[side])) if side.any() else 0.0)
    return np.where(x < 0, levels[0], levels[1]), tuple(variances)


def _noise_coefficients(x, window, plateau_var, var_bin, h, centre, coarse):
    """Sensitivities of the transform to the ESF bins and plateaus, on a coarse frequency grid.

    The windowed ESF is ``e~_j = w_j e_j + (1 - w_j) P_j`` at the bin centres
    ``x`` and the LSF its two-tap difference at the midpoints ``m``, so
    ``X(f) = sum_j e~_j D_j`` with ``D_j = (E_{j-1} - E_j) / h``,
    ``E_m = exp(-2 pi i f (x_m + h/2 - centre))`` (zero outside the LSF). A
    bin inside the window enters with ``w_j D_j``; a plateau with
    ``sum (1 - w_j) D_j`` over its side, which telescopes over the bins the
    window leaves out. Returns the complex matrix (frequency x variable), its
    value at f = 0, and the variables' variances.
    """
    nb = x.size
    nm = nb - 1
    support = np.flatnonzero(window > 0)
    j = np.arange(int(support[0]), int(support[-1]) + 1)
    omega = 2.0 * np.pi * np.concatenate(([0.0], coarse))[:, None]

    # E_m for m = j[0] - 1 .. j[-1], zero outside the midpoints 0 .. nm - 1
    m = np.arange(int(j[0]) - 1, int(j[-1]) + 1)
    inside = (m >= 0) & (m < nm)
    phase = np.zeros((omega.shape[0], m.size), dtype=np.complex128)
    phase[:, inside] = np.exp(-1j * omega * (x[m[inside]] + 0.5 * h - centre))
    d = (phase[:, :-1] - phase[:, 1:]) / h
    wj = window[j]
    left = x[j] < 0
    rest = (1.0 - wj)[None, :] * d
    plateau_left = np.sum(rest[:, left], axis=1) - phase[:, 0] / h
    plateau_right = np.sum(rest[:, ~left], axis=1) + phase[:, -1] / h
    coef = np.concatenate([wj[None, :] * d, plateau_left[:, None], plateau_right[:, None]], axis=1)
    var = np.concatenate([var_bin[j], plateau_var])[None, :]
    return coef[1:], coef[:1].real, var


def _noise_sd(sensitivity, area, coarse, freq, otf, use_real):
    """One-sigma noise of the reported MTF and of the imaginary part, per frequency.

    First-order propagation of the independent ESF-bin noise through the
    derivative, window, transform and the normalisation by X(0).
    """
    coef, coef0, var = sensitivity
    value = np.interp(coarse, freq, otf.real) + 1j * np.interp(coarse, freq, otf.imag)  # X(f)/X(0)
    if use_real:
        along = coef.real - value.real[:, None] * coef0
    else:
        unit = np.exp(1j * np.angle(value))[:, None]
        along = (np.conj(unit) * coef).real - np.abs(value)[:, None] * coef0
    across = coef.imag - value.imag[:, None] * coef0
    sd_along = np.sqrt(np.sum(var * along * along, axis=1)) / abs(area)
    sd_imag = np.sqrt(np.sum(var * across * across, axis=1)) / abs(area)
    return np.interp(freq, coarse, sd_along), np.interp(freq, coarse, sd_imag)


def _transfer(x, esf, window, plateau, plateau_var, var_bin, h, f_max, symmetric):
    """Transform of the windowed LSF, from the ESF at the bin centres ``x``.

    The window blends the ESF into its plateaus, ``e~ = P + w (e - P)``, and
    the LSF is the two-tap difference of ``e~`` at the bin midpoints. Compared
    with windowing the LSF itself, this keeps the LSF's area (the part of the
    tails the window leaves out is moved inside it, not dropped) and, above
    all, keeps the window's slope out of the noise: by summation by parts a
    bin's noise enters the transform as ``w (E_{j-1} - E_j)``, of order
    ``w 2 pi f h``, instead of ``(w_{j-1} - w_j)``-weighted values of order
    one where the window falls.

    Returns the frequency grid (to ``f_max``), the MTF corrected for the
    two-tap derivative's response ``sinc(f h)``, its one-sigma noise, an exact
    evaluator for the crossings, and the symmetry decision.
    """
    xm = x[:-1] + 0.5 * h
    blended = plateau + window * (esf - plateau)
    wl = np.diff(blended) / h
    area = float(wl.sum())
    if area <= 0:
        raise ValueError("no detectable edge in the roi: the windowed line-spread function has no area")
    # phase reference: the fitted edge (x = 0). The LSF centroid would be a
    # noisier reference (its noise has a lever arm of the window's half-width).
    centre = 0.0
    nfft = scipy.fft.next_fast_len(max(4 * xm.size, int(math.ceil(1.0 / (h * _FREQ_STEP)))))
    spectrum = scipy.fft.rfft(wl, nfft)
    freq = np.arange(spectrum.size) / (nfft * h)
    keep = freq <= f_max + 1e-12
    freq = freq[keep]
    # transform of the LSF relative to the fitted edge, 1 at f = 0
    otf = spectrum[keep] * np.exp(-2j * np.pi * freq * (xm[0] - centre)) / area
    gain = np.minimum(1.0 / np.maximum(np.sinc(freq * h), 1e-12), _MAX_CORRECTION)
    noisy = bool(np.any(var_bin > 0))
    # noise is evaluated on a coarse grid (0.025 cycles/pixel up to 1, then
    # sparser) and interpolated
    top = float(freq[-1])
    coarse = np.linspace(0.0, min(top, 1.0), 41)
    if top > 1.0:
        coarse = np.concatenate([coarse, np.linspace(1.0, top, 11)[1:]])
    if noisy:
        sensitivity = _noise_coefficients(x, window, plateau_var, var_bin, h, centre, coarse)
        _, sd_imag = _noise_sd(sensitivity, area, coarse, freq, otf, True)
    else:
        sd_imag = np.zeros(freq.size)
    # The fitted edge is the centre of symmetry of a symmetric LSF (the row
    # centroids are unbiased for it). Re-estimating the centre from the phase
    # slope was tried: its noise (0.05 px at SNR 10) exceeded the edge fit's
    # and leaked into the imaginary part.
    band = (freq > 0) & (np.abs(otf) >= 0.2)
    if symmetric is None and noisy:
        z = otf.imag[band] / sd_imag[band]
        imag_z2 = float(np.mean(z * z)) if band.any() else 0.0
        use_real = imag_z2 <= _ASYMMETRY_Z2
    elif symmetric is None:  # noise-free: symmetric means no imaginary part at all
        imag_z2 = float("nan")
        use_real = not band.any() or float(np.max(np.abs(otf.imag[band]))) < 1e-9
    else:
        imag_z2 = float("nan")
        use_real = bool(symmetric)
    sd = _noise_sd(sensitivity, area, coarse, freq, otf, use_real)[0] if noisy else np.zeros(freq.size)
    raw = np.abs(otf.real) if use_real else np.abs(otf)
    mtf = raw * gain
    mtf[0] = 1.0
    support = wl != 0
    positions = xm[support] - centre
    weights = wl[support] / area

    def exact(f: float) -> float:
        phase = 2.0 * np.pi * f * positions
        value = abs(float(np.dot(weights, np.cos(phase))))
        if not use_real:
            value = math.hypot(value, float(np.dot(weights, np.sin(phase))))
        arg = math.pi * f * h
        response = math.sin(arg) / arg if arg > 0 else 1.0
        return value * min(1.0 / max(response, 1e-12), _MAX_CORRECTION)

    return {
        "freq": freq,
        "mtf": mtf,
        "mtf_std": sd * gain,
        "exact": exact,
        "symmetric": use_real,
        "asymmetry_z2": imag_z2,
        "centre": centre,
    }


def _crossing(spectrum: dict, level: float) -> tuple[float, float, bool, bool]:
    """(frequency, one-sigma uncertainty, limited, grazing) of the first fall to ``level``.

    Normally the first downward crossing, refined on the exact transform. A
    noisy curve can instead level off just above ``level`` and only cross it
    much further out, where noise alone carries it down (the noise grows with
    frequency while the MTF flattens): the first local minimum that lies
    within ``_GRAZE_Z`` standard deviations of ``level`` is then taken as the
    point where the curve reaches it (``grazing``; noise-free curves never
    qualify). A curve that never falls to ``level`` gives the end of the band,
    flagged as a lower bound (``limited``; the FSC family's Nyquist-limited
    convention, decision D2).
    """
    freq, mtf, sd = spectrum["freq"], spectrum["mtf"], spectrum["mtf_std"]
    j = first_downward(mtf, level)
    stop = mtf.size - 1 if j is None else j
    inner = np.arange(1, stop)
    dip = (mtf[inner] <= mtf[inner - 1]) & (mtf[inner] <= mtf[inner + 1]) & (mtf[inner] - level <= _GRAZE_Z * sd[inner])
    if dip.any():
        i = int(inner[np.argmax(dip)])
        # vertex of the parabola through the three samples around the minimum
        curvature = mtf[i - 1] - 2.0 * mtf[i] + mtf[i + 1]
        shift = 0.5 * (mtf[i - 1] - mtf[i + 1]) / curvature if curvature > 0 else 0.0
        f = float(freq[i] + shift * (freq[1] - freq[0]))
        # uncertain over the range where the curve is within one sigma of the level
        near = np.flatnonzero(mtf[: stop + 1] - level <= sd[: stop + 1])
        return f, float(0.5 * (freq[stop] - freq[near[0]])), False, True
    if j is None:
        return float(freq[-1]), float("nan"), True, False
    f = refine_crossing(spectrum["exact"], level, float(freq[j - 1]), float(freq[j]))
    slope = (mtf[j] - mtf[j - 1]) / (freq[j] - freq[j - 1])
    sigma = float(np.interp(f, freq, sd))
    f_std = sigma / abs(slope) if slope != 0 else float("inf")
    return float(f), float(f_std), False, False


# -- quality: clipping ---------------------------------------------------------------
_SATURATION_LEVELS = tuple(2**k - 1 for k in (8, 10, 12, 14, 15, 16, 32))


def _clipping(a, esf_data, x, lsf, step, noise_sides, sign, dtype, edge_width) -> dict:
    """Detect pixels pinned at the extreme values of the ROI.

    A side is called clipped when at least 0.1 % of the ROI's pixels (and 3)
    share its extreme value and either

    (i) the LSF is still above 5 % of its peak (plus three noise sigmas)
        where those pixels begin: the edge itself is cut (a kink);
    (ii) the data are noisy, more than 5 % of that side's plateau (beyond
         three edge widths) is pinned and the pinned value lies within three
         noise sigmas of the plateau's median: the noise distribution is cut;
    (iii) the value is a saturation level of an integer image (``2**k - 1``,
          or 0 on the dark side).

    A plateau that is exactly flat (noise-free or quantised data) is not
    clipping. ``high``/``low`` refer to the values of the input image.
    """
    values = sign * a  # back to input values
    edge_x, cos = esf_data["edge_x"], esf_data["cos"]
    total = values.size
    peak = float(np.max(lsf)) if lsf.size else 0.0
    out = {}
    distance = None
    for name, value in (("high", float(values.max())), ("low", float(values.min()))):
        # side of the profile (in the oriented frame) that holds this extreme
        side = +1 if (name == "high") == (sign > 0) else -1
        noise = noise_sides[0 if side < 0 else 1]
        pinned = values == value
        count = int(np.count_nonzero(pinned))
        clipped = False
        if count >= max(3, 0.001 * total) and peak > 0:
            if distance is None:
                cols = np.arange(a.shape[1], dtype=np.float64)
                distance = (cols[None, :] - edge_x[:, None]) * cos
            signed = side * distance
            start = side * float(np.min(signed[pinned]))
            floor = 0.05 * peak + (3.0 * noise / step * peak if step > 0 else 0.0)
            kink = float(np.interp(start, x, lsf)) > floor
            plateau = signed > 3.0 * edge_width + 1.0
            plateau_pinned = pinned & plateau
            others = values[plateau & ~pinned]
            cut_noise = (
                noise > 1e-4 * step
                and np.count_nonzero(plateau_pinned) > 0.05 * max(np.count_nonzero(plateau), 1)
                and others.size >= 3
                and abs(value - float(np.median(others))) < 3.0 * noise
            )
            saturation = dtype.kind in "ui" and (
                value in _SATURATION_LEVELS or (name == "low" and value == 0)
            )
            clipped = bool(kink or cut_noise or saturation)
        out[f"pinned_{name}"] = count
        out[f"clipped_{name}"] = clipped
    return out
