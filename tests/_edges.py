"""Synthetic slanted edges and beads with exactly known MTFs (test and benchmark helper).

Edges
-----
A straight edge blurred by a Gaussian PSF of standard deviation ``sigma`` has
the edge-spread function ``Phi(d / sigma)`` of the signed distance ``d`` to the
edge. Each pixel here holds the *exact* mean of that function over the pixel's
unit square (a detector that integrates over its pixel area), computed in
closed form, so the only approximation is floating-point round-off. The true
presampled MTF along the edge normal is then the Gaussian's transfer times the
pixel aperture projected onto the normal (the convolution of two boxes of
widths ``cos(theta)`` and ``sin(theta)``)::

    MTF(f) = exp(-2 pi^2 sigma^2 f^2) * |sinc(f cos theta) * sinc(f sin theta)|

Closed form: with ``G2(u) = sigma^2 H(u / sigma)`` and
``H(t) = (t^2 + 1)/2 * Phi(t) + t phi(t)/2`` (so that ``G2'' = Phi(u/sigma)``),
the mean of ``Phi((a x + b y + u)/sigma)`` over the unit square centred at the
origin is the second divided difference of ``G2`` over the four corners,
divided by ``a b``. The identity ``H(t) + H(-t) = (t^2 + 1)/2`` lets the
quadratic part be integrated exactly, so plateau pixels come out as exactly 0
or 1 (no cancellation at 0.5 degrees of tilt).

Non-Gaussian edges
------------------
:func:`profile_edge` blurs the edge with a Lorentzian (heavy ``1/x^2`` tails)
or a box (compact, sinc MTF) line-spread function from :data:`PROFILES`,
integrated over each pixel by Gauss-Legendre quadrature; the truth is the
profile's MTF times the same pixel aperture (:func:`profile_true_mtf`).

Beads
-----
A Gaussian spot integrated over pixel squares (separable erf differences);
its MTF is ``exp(-2 pi^2 sigma^2 |f|^2) |sinc(fx) sinc(fy)|``, whose ring
average (:func:`bead_true_mtf`) is the reference of the point-source method.
Spheres of a known diameter are synthesised in Fourier space.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

__all__ = [
    "slanted_edge",
    "along_edge_gain",
    "curved_edge",
    "profile_edge",
    "profile_true_mtf",
    "profile_true_crossing",
    "PROFILES",
    "edge_true_mtf",
    "edge_true_crossing",
    "add_noise",
    "gaussian_bead",
    "bead_true_mtf",
    "bead_true_crossing",
    "sphere_bead",
]


def _h_negative(t: np.ndarray) -> np.ndarray:
    """``H(t)`` for ``t <= 0`` (tiny, no cancellation problem for our use)."""
    return 0.5 * (t * t + 1.0) * special.ndtr(t) + 0.5 * t * np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi)


def _pixel_mean_phi(u: np.ndarray, a: float, b: float, sigma: float) -> np.ndarray:
    """Mean of ``Phi((a x + b y + u)/sigma)`` over ``x, y`` in ``[-1/2, 1/2]``."""
    a, b = abs(a), abs(b)  # the unit square is symmetric
    if b < 1e-7:
        # one-dimensional: first divided difference of G1(u) = sigma (t Phi(t) + phi(t))
        def g1(v):
            t = v / sigma
            return sigma * (t * special.ndtr(t) + np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi))

        return (g1(u + a / 2) - g1(u - a / 2)) / a
    corners = ((0.5 * (a + b), 1.0), (0.5 * (a - b), -1.0), (-0.5 * (a - b), -1.0), (-0.5 * (a + b), 1.0))
    poly = np.zeros_like(u)
    tail = np.zeros_like(u)
    all_positive = np.ones(u.shape, dtype=bool)
    for shift, sign in corners:
        t = (u + shift) / sigma
        positive = t > 0
        all_positive &= positive
        # H(t) = (t^2+1)/2 - H(-t) for t > 0
        poly += sign * np.where(positive, 0.5 * (t * t + 1.0), 0.0)
        tail += sign * np.where(positive, -_h_negative(-t), _h_negative(t))
    # the exact quadratic divided difference is a*b/sigma^2 when all corners are positive
    poly = np.where(all_positive, a * b / sigma**2, poly)
    return sigma**2 * (poly + tail) / (a * b)


def slanted_edge(
    shape=(100, 100),
    angle_deg: float = 5.0,
    sigma: float = 1.0,
    *,
    low: float = 0.1,
    high: float = 0.9,
    offset: float = 0.0,
    horizontal: bool = False,
    pixel_integrated: bool = True,
) -> np.ndarray:
    """Image of a straight edge blurred by a Gaussian, rising from ``low`` to ``high``.

    The edge passes ``offset`` pixels (along its normal) from the image centre and
    is tilted by ``angle_deg`` from the vertical axis (from the horizontal axis
    when ``horizontal``). ``pixel_integrated=False`` samples the ESF at pixel
    centres instead (the truth is then the Gaussian transfer alone).
    """
    nr, nc = shape
    theta = np.deg2rad(angle_deg)
    rows, cols = np.mgrid[0:nr, 0:nc].astype(np.float64)
    y = rows - (nr - 1) / 2.0
    x = cols - (nc - 1) / 2.0
    if horizontal:
        x, y = y, x
    a, b = np.cos(theta), -np.sin(theta)
    u = a * x + b * y - offset
    if pixel_integrated:
        esf = _pixel_mean_phi(u, a, b, sigma)
    else:
        esf = special.ndtr(u / sigma)
    return low + (high - low) * esf


def along_edge_gain(shape, angle_deg: float, amplitude: float = 0.1, *, horizontal: bool = False) -> np.ndarray:
    """Gain ``1 + amplitude * t / max|t|`` that ramps linearly along the edge of :func:`slanted_edge`.

    ``t`` is the coordinate along the edge line (perpendicular to its normal
    ``(cos, -sin)``), from the ROI centre; multiplying an edge by it makes both
    levels (and the step) vary by +-``amplitude`` along the edge, as a
    flat-field residue would.
    """
    nr, nc = shape
    theta = np.deg2rad(angle_deg)
    rows, cols = np.mgrid[0:nr, 0:nc].astype(np.float64)
    y = rows - (nr - 1) / 2.0
    x = cols - (nc - 1) / 2.0
    if horizontal:
        x, y = y, x
    t = np.sin(theta) * x + np.cos(theta) * y
    return 1.0 + amplitude * t / np.abs(t).max()


def curved_edge(shape=(100, 100), angle_deg: float = 5.0, sigma: float = 1.0, sag: float = 1.5, *,
                low: float = 0.1, high: float = 0.9, samples: int = 4) -> np.ndarray:
    """Gaussian-blurred edge bent into a parabola whose middle sits ``sag`` px off the chord.

    The signed distance is ``d = x cos - y sin - sag (1 - (2 y / nr)^2)`` (not
    exactly the distance to the parabola, but its bend is what matters);
    pixels are the mean of ``samples x samples`` point samples.
    """
    nr, nc = shape
    theta = np.deg2rad(angle_deg)
    offsets = (np.arange(samples) + 0.5) / samples - 0.5
    rows, cols = np.mgrid[0:nr, 0:nc].astype(np.float64)
    total = np.zeros(shape)
    for dy in offsets:
        for dx in offsets:
            y = rows + dy - (nr - 1) / 2.0
            x = cols + dx - (nc - 1) / 2.0
            d = x * np.cos(theta) - y * np.sin(theta) - sag * (1.0 - (2.0 * y / nr) ** 2)
            total += special.ndtr(d / sigma)
    return low + (high - low) * total / samples**2


# Non-Gaussian line-spread functions: (ESF, MTF) pairs of a blur parameter ``width``.
PROFILES = {
    # Lorentzian LSF of half-width ``width``: heavy 1/x^2 tails, MTF exp(-2 pi width f)
    "lorentzian": (lambda d, w: 0.5 + np.arctan(d / w) / np.pi, lambda f, w: np.exp(-2.0 * np.pi * w * np.abs(f))),
    # uniform (box) blur of full width ``width`` smoothed by a Gaussian of 0.3 px: compact, flat-topped LSF
    # with a sinc MTF (negative lobes beyond 1/width)
    "box": (lambda d, w: (_box_g1(d + w / 2) - _box_g1(d - w / 2)) / w,
            lambda f, w: np.sinc(w * f) * np.exp(-2.0 * np.pi**2 * 0.09 * f**2)),
}


def _box_g1(u, s=0.3):
    """Antiderivative of ``Phi(u / s)``."""
    t = u / s
    return s * (t * special.ndtr(t) + np.exp(-0.5 * t * t) / np.sqrt(2 * np.pi))


def profile_edge(shape=(100, 100), angle_deg: float = 5.0, profile: str = "lorentzian", width: float = 1.0, *,
                 low: float = 0.1, high: float = 0.9, offset: float = 0.0, nodes: int = 12) -> np.ndarray:
    """Pixel-integrated edge with a non-Gaussian blur from :data:`PROFILES` (geometry as :func:`slanted_edge`).

    Each pixel is the mean of the ESF over its unit square by ``nodes`` x ``nodes``
    Gauss-Legendre quadrature; the ESFs are smooth on the pixel scale, so the
    quadrature error is far below the accuracy goals.
    """
    nr, nc = shape
    theta = np.deg2rad(angle_deg)
    rows, cols = np.mgrid[0:nr, 0:nc].astype(np.float64)
    y = rows - (nr - 1) / 2.0
    x = cols - (nc - 1) / 2.0
    a, b = np.cos(theta), -np.sin(theta)
    esf = PROFILES[profile][0]
    t, wq = np.polynomial.legendre.leggauss(nodes)
    t, wq = t / 2.0, wq / 2.0
    total = np.zeros(shape)
    for ti, wi in zip(t, wq):
        for tj, wj in zip(t, wq):
            total += wi * wj * esf(a * (x + ti) + b * (y + tj) - offset, width)
    return low + (high - low) * total


def profile_true_mtf(f, profile: str, width: float, angle_deg: float):
    """True presampled MTF of :func:`profile_edge` along the normal (with the pixel aperture)."""
    f = np.asarray(f, dtype=np.float64)
    theta = np.deg2rad(angle_deg)
    return np.abs(PROFILES[profile][1](f, width) * np.sinc(f * np.cos(theta)) * np.sinc(f * np.sin(theta)))


def profile_true_crossing(level: float, profile: str, width: float, angle_deg: float) -> float:
    """Frequency where :func:`profile_true_mtf` first falls to ``level``."""
    return _first_crossing(lambda f: profile_true_mtf(f, profile, width, angle_deg), level)


def edge_true_mtf(f, sigma: float, angle_deg: float, *, pixel_integrated: bool = True):
    """True presampled MTF along the edge normal (cycles/pixel)."""
    f = np.asarray(f, dtype=np.float64)
    theta = np.deg2rad(angle_deg)
    mtf = np.exp(-2.0 * np.pi**2 * sigma**2 * f**2)
    if pixel_integrated:
        mtf = mtf * np.abs(np.sinc(f * np.cos(theta)) * np.sinc(f * np.sin(theta)))
    return mtf


def _first_crossing(func, level: float, fmax: float = 2.0) -> float:
    grid = np.linspace(0.0, fmax, 4001)
    values = func(grid) - level
    index = int(np.argmax(values < 0))
    return optimize.brentq(lambda f: float(func(f)) - level, grid[index - 1], grid[index], xtol=1e-15, rtol=1e-15)


def edge_true_crossing(level: float, sigma: float, angle_deg: float, *, pixel_integrated: bool = True) -> float:
    """Frequency (cycles/pixel) where the true edge MTF first falls to ``level``."""
    return _first_crossing(lambda f: edge_true_mtf(f, sigma, angle_deg, pixel_integrated=pixel_integrated), level)


def add_noise(image: np.ndarray, snr: float, rng: np.random.Generator, *, kind: str = "gaussian",
              low: float = 0.1, high: float = 0.9) -> np.ndarray:
    """Noise at edge-step SNR ``(high - low) / sigma_noise``.

    ``'gaussian'``: constant ``sigma_noise``. ``'poisson'``: photon counts scaled
    so that ``sigma_noise`` at the mid level ``(low + high)/2`` gives ``snr``
    (the bright side is noisier, the dark side quieter), returned in the
    original intensity units.
    """
    step = high - low
    if kind == "gaussian":
        return image + rng.normal(0.0, step / snr, image.shape)
    if kind == "poisson":
        mid = 0.5 * (low + high)
        scale = mid * snr**2 / step**2  # counts per intensity unit
        return rng.poisson(image * scale) / scale
    raise ValueError(f"kind must be 'gaussian' or 'poisson'; got {kind!r}")


def gaussian_bead(shape=(65, 65), sigma: float = 1.5, center=None, *, amplitude: float = 1.0,
                  background: float = 0.0, pixel_integrated: bool = True) -> np.ndarray:
    """A Gaussian spot of total integral ``amplitude`` on a flat ``background``.

    ``center`` (row, col) may be fractional; default the array centre.
    """
    nr, nc = shape
    if center is None:
        center = ((nr - 1) / 2.0, (nc - 1) / 2.0)
    cr, cc = center

    def profile(n, c):
        x = np.arange(n, dtype=np.float64) - c
        if pixel_integrated:
            s = sigma * np.sqrt(2.0)
            return 0.5 * (special.erf((x + 0.5) / s) - special.erf((x - 0.5) / s))
        return np.exp(-0.5 * (x / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)

    return background + amplitude * np.outer(profile(nr, cr), profile(nc, cc))


def bead_true_mtf(f, sigma: float, *, pixel_integrated: bool = True, n_angles: int = 720):
    """Azimuthal average of the true 2-D MTF at radius ``f`` (cycles/pixel)."""
    f = np.atleast_1d(np.asarray(f, dtype=np.float64))
    gauss = np.exp(-2.0 * np.pi**2 * sigma**2 * f**2)
    if not pixel_integrated:
        return gauss
    phi = (np.arange(n_angles) + 0.5) * (np.pi / 2) / n_angles  # one quadrant suffices
    fx = f[:, None] * np.cos(phi)
    fy = f[:, None] * np.sin(phi)
    return gauss * np.mean(np.abs(np.sinc(fx) * np.sinc(fy)), axis=1)


def bead_true_crossing(level: float, sigma: float, *, pixel_integrated: bool = True) -> float:
    """Frequency where the ring-averaged true bead MTF first falls to ``level``."""
    return _first_crossing(lambda f: bead_true_mtf(f, sigma, pixel_integrated=pixel_integrated)[0]
                           if np.ndim(f) == 0 else bead_true_mtf(f, sigma, pixel_integrated=pixel_integrated),
                           level, fmax=0.7)


def sphere_bead(shape=(64, 64), diameter: float = 4.0, sigma: float = 1.5, center=None, *,
                amplitude: float = 1.0, background: float = 0.0) -> np.ndarray:
    """Projection of a uniform sphere of ``diameter`` px, blurred by a Gaussian PSF.

    Synthesised in Fourier space (periodic): the sphere's projected transform
    ``3 (sin x - x cos x)/x^3`` with ``x = pi D |f|``, times the Gaussian and the
    pixel aperture ``sinc(fx) sinc(fy)``. Aliasing is negligible for
    ``sigma >= 1``. The integral of the bead is ``amplitude``.
    """
    nr, nc = shape
    if center is None:
        center = (nr // 2, nc // 2)
    fy = np.fft.fftfreq(nr)[:, None]
    fx = np.fft.fftfreq(nc)[None, :]
    f = np.hypot(fx, fy)
    x = np.pi * diameter * f
    with np.errstate(invalid="ignore", divide="ignore"):
        sphere = np.where(x > 1e-4, 3.0 * (np.sin(x) - x * np.cos(x)) / np.maximum(x, 1e-4) ** 3, 1.0 - x**2 / 10.0)
    spectrum = sphere * np.exp(-2.0 * np.pi**2 * sigma**2 * f**2) * np.sinc(fx) * np.sinc(fy)
    spectrum = spectrum * np.exp(-2j * np.pi * (fy * center[0] + fx * center[1]))
    return background + amplitude * np.fft.ifft2(spectrum).real
