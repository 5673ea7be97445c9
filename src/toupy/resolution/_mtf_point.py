"""Point-source MTF: the radially averaged modulus of a bead's transform.

Pipeline (ALGORITHMS.md section 7.2):

1. find the bead (brightest pixel of the lightly smoothed ROI, or ``center``);
   a dark (absorbing) bead on a bright background is handled the same way
   after a sign change;
2. cut a ``(2 roi_size + 1)``-pixel square box around it;
3. subtract the background, the median of the box's border frame (a wrong
   background puts a spike at zero frequency and rescales the whole curve);
4. ``|FFT|`` of the box, zero-padded so that the rings average a finely
   sampled transform, normalised by its value at zero frequency;
5. optionally divide by the transform of the bead itself (projected sphere or
   disc of diameter ``bead_diameter``), up to where that transform falls to 0.1;
6. average over rings ``1/N`` cycles/pixel wide (``N`` the box size) and
   report each ring at the mean ``|f|`` of its samples (the nominal radius
   would bias a curved MTF).

A shift of the bead only changes the phase of its transform, so sub-pixel
centring is irrelevant as long as the box contains the whole PSF and the PSF
is adequately sampled (otherwise aliasing makes ``|FFT|`` depend on the
sub-pixel position; use the slanted edge for undersampled systems).
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np
import scipy.fft
from scipy import ndimage, special

from ._mtf import (
    MTFResult,
    MTFWarning,
    check_mtf_image,
    check_roi,
    crop,
    record_quality_warnings,
    first_downward,
    unit_label,
)
from ._validate import check_pixel_size

__all__ = ["mtf_point_source", "bead_transform"]

_BEAD_SHAPES = ("sphere", "disc")
_SATURATION_LEVELS = tuple(float(2**k - 1) for k in (8, 10, 12, 14, 15, 16, 32))
# The bead correction is trusted while the bead's own transform is above this.
_MIN_BEAD_TRANSFER = 0.1


def bead_transform(f, diameter: float, shape: str = "sphere") -> np.ndarray:
    """Normalised 2-D transform of a bead of ``diameter`` px at radius ``f`` (cycles/pixel).

    ``'sphere'``: the projection of a uniform ball (the 3-D transform of the
    ball on the plane, projection-slice theorem), ``3 (sin x - x cos x) / x^3``
    with ``x = pi D f``. ``'disc'``: a thin uniform disc, ``2 J1(x) / x``.
    """
    x = np.pi * float(diameter) * np.asarray(f, dtype=np.float64)
    small = np.abs(x) < 1e-3
    safe = np.where(small, 1.0, x)
    if shape == "sphere":
        value = 3.0 * (np.sin(safe) - safe * np.cos(safe)) / safe**3
        return np.where(small, 1.0 - x * x / 10.0, value)
    if shape == "disc":
        value = 2.0 * special.j1(safe) / safe
        return np.where(small, 1.0 - x * x / 8.0, value)
    raise ValueError(f"bead_shape must be one of {_BEAD_SHAPES}; got {shape!r}")


def _check_center(center, shape, bounds) -> tuple[int, int] | None:
    if center is None:
        return None
    if not (isinstance(center, (tuple, list, np.ndarray)) and len(center) == 2):
        raise ValueError(f"center must be a (row, col) pair or None; got {center!r}")
    out = []
    for axis, (value, n) in enumerate(zip(center, shape)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            raise ValueError(f"center[{axis}] must be a finite number; got {value!r}")
        index = int(round(float(value)))
        if not 0 <= index < n:
            raise ValueError(f"center {tuple(center)} lies outside the image of shape {tuple(shape)}")
        out.append(index)
    r0, r1, c0, c1 = bounds
    if not (r0 <= out[0] < r1 and c0 <= out[1] < c1):
        raise ValueError(f"center {tuple(center)} lies outside the roi rows {r0}:{r1}, cols {c0}:{c1}")
    return out[0], out[1]


def mtf_point_source(
    image,
    *,
    pixel_size: float = 1.0,
    roi=None,
    center=None,
    roi_size: int = 16,
    unit: str | None = None,
    bead_diameter: float | None = None,
    bead_shape: str = "sphere",
    pad: int = 4,
    warn: bool = True,
) -> MTFResult:
    """Ring-averaged MTF from the image of a point source or a small bead.

    Parameters
    ----------
    image : ndarray, 2-D
        Image with an isolated bead (bright on a dark background, or dark on a
        bright one, e.g. an absorbing bead in a transmission image), linear
        in intensity.
    pixel_size : float, optional
        Pixel size in ``unit``.
    roi : tuple of slice, optional
        ``(row_slice, col_slice)`` searched for the bead; default the whole image.
    center : (row, col), optional
        Bead position in *image* coordinates (rounded to the nearest pixel).
        Default: the extreme pixel of the ROI smoothed by a 1-px Gaussian.
    roi_size : int, optional
        Half-size of the analysis box: the box is ``2 roi_size + 1`` pixels
        square and must fit inside the ROI. Default 16. Make it several PSF
        widths (and the bead diameter) larger than the PSF: its border must
        be background only.
    unit : str, optional
        Name of the unit of ``pixel_size``.
    bead_diameter : float, optional
        Diameter (px) of the bead, whose own transform is divided out. Use
        when the bead is not much smaller than the PSF. The curve is then
        reported only up to where the bead transform falls to 0.1.
    bead_shape : {'sphere', 'disc'}, optional
        ``'sphere'`` (default): projection of a ball (X-ray projection, or
        wide-field image of a bead); ``'disc'``: a thin disc (pinhole).
    pad : int, optional
        Zero-padding factor of the transform (finer sampling inside each ring).
    warn : bool, optional
        Issue :class:`MTFWarning` for unreliable conditions.

    Returns
    -------
    MTFResult
        ``freq`` (ring mean radius, cycles/pixel), ``mtf``, ``f50``, ``f10``
        with uncertainties, ``center`` (intensity centroid), ``psf``,
        ``background`` and ``quality`` (``polarity``, ``noise``, ``peak_snr``,
        ``box``, ``border_fraction``, ``clipped``, ``max_reliable_frequency``,
        ``f50_limited``/``f10_limited``, ``warnings``). A curve that never
        falls to 0.5 (0.1) within the reported range gives its last ring as
        f50 (f10), flagged as a lower bound.

    Raises
    ------
    ValueError
        Image not 2-D, non-finite or constant; ``roi`` outside the image;
        ``center`` outside the image or ROI; ``roi_size`` < 3 or a box that
        does not fit in the ROI; no bead above the noise; bad bead parameters.

    Notes
    -----
    The MTF of a pixel-integrating detector is not radially symmetric (the
    pixel aperture ``sinc(fx) sinc(fy)``); the ring average mixes directions.
    Use the slanted edge for a directional, oversampled measurement; use the
    point source for an isotropic summary of a well-sampled PSF. Crossings
    are interpolated linearly in ``log(MTF)`` against ``f^2`` between rings,
    exact for a Gaussian MTF.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.mgrid[0:65, 0:65]
    >>> spot = np.exp(-((rows - 32.3) ** 2 + (cols - 31.8) ** 2) / (2 * 1.5**2))
    >>> res = mtf_point_source(spot, roi_size=24)
    >>> round(res.f50, 3)      # 0.18739 / 1.5 = 0.1249
    0.125
    """
    original = check_mtf_image(image)
    pixel_size = check_pixel_size(pixel_size)
    if isinstance(roi_size, bool) or not isinstance(roi_size, numbers.Integral):
        raise ValueError(f"roi_size must be an integer (box half-size in pixels); got {roi_size!r}")
    roi_size = int(roi_size)
    if roi_size < 3:
        raise ValueError(f"roi_size must be at least 3 (a 7 x 7 box); got {roi_size}")
    if isinstance(pad, bool) or not isinstance(pad, numbers.Integral) or pad < 1:
        raise ValueError(f"pad must be a positive integer; got {pad!r}")
    if bead_shape not in _BEAD_SHAPES:
        raise ValueError(f"bead_shape must be one of {_BEAD_SHAPES}; got {bead_shape!r}")
    if bead_diameter is not None:
        if isinstance(bead_diameter, bool) or not isinstance(bead_diameter, numbers.Real) or not (
            math.isfinite(float(bead_diameter)) and float(bead_diameter) > 0
        ):
            raise ValueError(f"bead_diameter must be a positive number of pixels or None; got {bead_diameter!r}")
        bead_diameter = float(bead_diameter)
    bounds = check_roi(roi, original.shape, min_size=7)
    centre_pixel = _check_center(center, original.shape, bounds)
    region = crop(original, bounds)
    if region.min() == region.max():
        raise ValueError("the roi is constant: there is no point source in it")
    r0, _, c0, _ = bounds
    messages: list[str] = []

    # 1. polarity and position
    smooth = ndimage.gaussian_filter(region - np.median(region), 1.0, mode="nearest")
    if centre_pixel is None:
        bright = float(smooth.max()) >= -float(smooth.min())
        flat = np.argmax(smooth) if bright else np.argmin(smooth)
        row, col = np.unravel_index(int(flat), region.shape)
    else:
        row, col = centre_pixel[0] - r0, centre_pixel[1] - c0
        bright = float(smooth[row, col]) >= 0
    sign = 1.0 if bright else -1.0

    # 2. box
    n = 2 * roi_size + 1
    top, left = row - roi_size, col - roi_size
    if top < 0 or left < 0 or top + n > region.shape[0] or left + n > region.shape[1]:
        raise ValueError(
            f"the {n} x {n} box (roi_size={roi_size}) around the point source at "
            f"(row {row + r0}, col {col + c0}) does not fit inside the roi/image; "
            "choose a smaller roi_size or a roi that leaves room around the bead"
        )
    box = sign * region[top:top + n, left:left + n]

    # 3. background from the border frame
    frame_width = max(1, roi_size // 8)
    frame = np.ones((n, n), dtype=bool)
    frame[frame_width:-frame_width, frame_width:-frame_width] = False
    border = box[frame]
    background = float(np.median(border))
    noise = 1.4826 * float(np.median(np.abs(border - background)))
    psf = box - background
    peak = float(psf.max())
    total = float(psf.sum())
    if peak <= 0 or total <= 0 or (noise > 0 and peak < 3.0 * noise):
        raise ValueError(
            "no detectable point source: the bead's peak above the background "
            f"({peak:.3g}) is not above 3 times the noise ({noise:.3g})"
        )
    peak_snr = peak / noise if noise > 0 else math.inf
    border_fraction = float(np.max(np.abs(psf[frame]))) / peak
    if border_fraction > max(0.05, 5.0 * noise / peak):
        messages.append(
            f"the PSF still reaches {100 * border_fraction:.0f} % of its peak at the border of the "
            f"{n} x {n} box: the background and the low frequencies are biased; increase roi_size"
        )
    # ties at the peak: by chance (symmetric noise-free spots tie 2 or 4
    # pixels) or because the detector saturated (a flat top)
    pinned = int(np.count_nonzero(box == box.max()))
    saturation = original.dtype.kind in "ui" and float(sign * box.max()) in _SATURATION_LEVELS
    noisy = noise > 1e-6 * peak
    clipped = (pinned >= 3 and noisy) or pinned >= 5 or (saturation and pinned >= 2)
    if clipped:
        messages.append(
            f"{pinned} pixels share the bead's peak value: the peak looks clipped/saturated and the "
            "MTF is overestimated; reduce the exposure"
        )
    if peak_snr < 20:
        messages.append(
            f"low peak signal-to-noise ({peak_snr:.3g} < 20): the noise floor lifts the MTF at high "
            "frequencies; average frames or use a brighter bead"
        )

    # 4. zero-padded transform, normalised at 0
    size = scipy.fft.next_fast_len(pad * n)
    spectrum = np.abs(scipy.fft.rfft2(psf, s=(size, size), workers=1)) / total
    fy = scipy.fft.fftfreq(size)[:, None]
    fx = scipy.fft.rfftfreq(size)[None, :]
    radius = np.sqrt(fy * fy + fx * fx)
    column_weight = np.full(fx.shape[1], 2.0)
    column_weight[0] = 1.0
    if size % 2 == 0:
        column_weight[-1] = 1.0
    weight = np.broadcast_to(column_weight[None, :], radius.shape)

    # 5. the bead's own transform
    max_reliable = 0.5
    if bead_diameter is not None:
        transfer = bead_transform(radius, bead_diameter, bead_shape)
        grid = np.linspace(0.0, 0.75, 3001)
        low = np.flatnonzero(bead_transform(grid, bead_diameter, bead_shape) < _MIN_BEAD_TRANSFER)
        if low.size:
            max_reliable = min(max_reliable, float(grid[low[0]]))
        spectrum = spectrum / np.where(np.abs(transfer) > 1e-12, np.abs(transfer), 1e-12)

    # 6. rings 1/n wide, reported at their mean radius
    ring = np.rint(radius * n).astype(np.int64)
    n_rings = int(math.floor(max_reliable * n + 1e-9)) + 1
    inside = ring < n_rings
    index, w_in, r_in = ring[inside], weight[inside], radius[inside]
    counts = np.bincount(index, w_in, n_rings)
    freq = np.bincount(index, w_in * r_in, n_rings) / counts
    spread = np.maximum(np.bincount(index, w_in * r_in * r_in, n_rings) / counts - freq * freq, 0.0)
    ring_mean = np.bincount(index, w_in * spectrum[inside], n_rings) / counts
    freq[0] = 0.0
    ring_mean[0] = 1.0
    # a ring average is the curve smeared over the ring's radii: remove the
    # second-order term so each value is the curve *at* the ring's mean radius
    mtf = ring_mean
    for _ in range(2):
        mtf = ring_mean - 0.5 * _second_derivative(freq, mtf) * spread
        mtf[0] = 1.0
    keep = freq <= max_reliable + 0.5 / n
    freq, mtf = freq[keep], mtf[keep]
    # noise: each unpadded coefficient has variance n^2 sigma^2 (both
    # components), a ring holds about pi k independent ones
    k = np.arange(freq.size, dtype=np.float64)
    component = math.sqrt(0.5) * n * noise / total
    mtf_std = component / np.sqrt(np.maximum(np.pi * k, 1.0))
    if bead_diameter is not None:
        mtf_std = mtf_std / np.maximum(np.abs(bead_transform(freq, bead_diameter, bead_shape)), _MIN_BEAD_TRANSFER)
    mtf_std[0] = 0.0

    f50, f50_std, limited50 = _ring_crossing(freq, mtf, mtf_std, 0.5)
    f10, f10_std, limited10 = _ring_crossing(freq, mtf, mtf_std, 0.1)
    for name, limited, value in (("0.5", limited50, f50), ("0.1", limited10, f10)):
        if limited:
            messages.append(
                f"the MTF stays above {name} up to the last ring ({value:.3f} cycles/pixel): that frequency "
                f"is reported as a lower bound (quality['f{name[2:]}0_limited'])"
            )
    record = record_quality_warnings(messages, warn=warn)

    # intensity centroid of the bead (positive part), image coordinates
    positive = np.clip(psf, 0.0, None)
    rows_idx, cols_idx = np.mgrid[0:n, 0:n]
    mass = float(positive.sum())
    centroid = (
        r0 + top + float(np.sum(positive * rows_idx)) / mass,
        c0 + left + float(np.sum(positive * cols_idx)) / mass,
    )
    quality = {
        "polarity": "bright" if bright else "dark",
        "noise": noise,
        "peak": peak,
        "peak_snr": peak_snr,
        "box": (r0 + top, r0 + top + n, c0 + left, c0 + left + n),
        "border_fraction": border_fraction,
        "pinned_peak": pinned,
        "clipped": bool(clipped),
        "max_reliable_frequency": max_reliable,
        "f50_limited": limited50,
        "f10_limited": limited10,
        "warnings": record,
    }
    return MTFResult(
        method="point",
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
        center=centroid,
        psf=sign * psf,
        background=sign * background,
        bead_diameter=bead_diameter,
        bead_shape=bead_shape if bead_diameter is not None else None,
        warnings=tuple(record),
    )


def _second_derivative(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Three-point second derivative on a non-uniform grid (ends copied)."""
    out = np.zeros_like(y)
    if x.size < 3:
        return out
    h0 = x[1:-1] - x[:-2]
    h1 = x[2:] - x[1:-1]
    out[1:-1] = 2.0 * (y[2:] * h0 - y[1:-1] * (h0 + h1) + y[:-2] * h1) / (h0 * h1 * (h0 + h1))
    out[0], out[-1] = out[1], out[-2]
    return out


def _ring_crossing(freq, mtf, sd, level) -> tuple[float, float, bool]:
    """First downward crossing, interpolated linearly in log(MTF) against f^2.

    Returns (frequency, one-sigma uncertainty, limited); a curve that never
    falls to ``level`` gives the last ring, flagged as a lower bound.
    """
    j = first_downward(mtf, level)
    if j is None:
        return float(freq[-1]), float("nan"), True
    f0, f1, m0, m1 = freq[j - 1], freq[j], mtf[j - 1], mtf[j]
    if m1 > 0:
        t = (math.log(m0) - math.log(level)) / (math.log(m0) - math.log(m1))
        f = math.sqrt(f0 * f0 + t * (f1 * f1 - f0 * f0))
    else:
        f = f0 + (f1 - f0) * (m0 - level) / (m0 - m1)
    slope = (m1 - m0) / (f1 - f0)
    sigma = float(np.interp(f, freq, sd))
    return float(f), (sigma / abs(slope) if slope != 0 else float("inf")), False
