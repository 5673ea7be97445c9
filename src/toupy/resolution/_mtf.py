"""Modulation transfer function: the result object and what both methods share.

The two estimators live in :mod:`._mtf_edge` (slanted edge, ISO 12233 style)
and :mod:`._mtf_point` (point source / bead). Both return an
:class:`MTFResult`: the curve in cycles/pixel, the 50 % and 10 % crossings
with their noise uncertainty, the full-period resolutions
``pixel_size / f50`` and ``pixel_size / f10``, and a ``quality`` report.

Units (decision D11): frequencies in cycles/pixel (``freq``) and in cycles per
``unit`` (``freq_phys = freq / pixel_size``); ``resolution_50`` is the *period*
of the grating transferred at 50 % contrast (full period); the half period
(line width) is ``resolution_50 / 2``. These numbers are not comparable with
FSC resolutions (an SNR criterion) nor with 10-90 % edge widths.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from ._checks import ResolutionWarning, warn_assumption
from ._results import jsonable, length_unit
from ._validate import as_image

__all__ = ["MTFResult", "MTFWarning", "check_roi", "check_mtf_image", "crop", "record_quality_warnings"]


class MTFWarning(ResolutionWarning):
    """A measurement condition that makes an MTF less reliable (clipping, low contrast, ...)."""


def record_quality_warnings(messages: list[str], *, warn: bool) -> list[str]:
    """The MTF estimators' sentences, each once: issued as :class:`MTFWarning` when ``warn``, kept either way.

    Called from the estimator itself, so the warning points at the estimator's caller.
    """
    record: list[str] = []
    for message in messages:
        if warn:
            warn_assumption(message, record, category=MTFWarning, stacklevel=4)
        elif message not in record:
            record.append(message)
    return record


@dataclass(frozen=True, eq=False)
class MTFResult:
    """MTF of an imaging system from a slanted edge or a point source.

    Attributes
    ----------
    method : {'edge', 'point'}
        How the curve was measured.
    freq : ndarray
        Spatial frequency in cycles/pixel, from 0. Along the edge normal for
        the edge method; the ring-averaged radius (mean ``|f|`` of the ring)
        for the point method.
    mtf : ndarray
        MTF at ``freq``, 1 at zero frequency.
    mtf_std : ndarray
        One-standard-deviation noise of ``mtf`` propagated from the pixel
        noise measured in the image (0 for noise-free data).
    f50, f10 : float
        First frequencies (cycles/pixel) where the MTF falls to 0.5 and 0.1.
        A curve that stays above the level over the whole measured band gives
        the end of the band, flagged by ``quality['f50_limited']`` /
        ``quality['f10_limited']`` (a lower bound, as for Nyquist-limited FSC).
    f50_std, f10_std : float
        Their one-sigma noise uncertainty, ``mtf_std / |dMTF/df|`` at the crossing.
    pixel_size, unit : float, str
        Pixel size and the name of its unit (``'px'`` for 1).
    roi : tuple of int
        ``(row_start, row_stop, col_start, col_stop)`` of the analysed region
        in the input image.
    quality : dict
        Measurement diagnostics (contrast, noise, clipping, rows used, bins,
        warnings issued). See the estimator docstrings.
    angle_deg, angle_std_deg : float or None
        Edge method: tilt of the edge from the image axis it is closest to,
        and its standard error from the edge-position fit.
    orientation : {'vertical', 'horizontal'} or None
        Edge method: the axis the edge is close to.
    polarity : {'rising', 'falling'} or None
        Edge method: whether the intensity rises or falls along increasing
        column (vertical edge) or row (horizontal edge).
    position : ndarray or None
        Edge method: bin centres of the ESF/LSF along the edge normal, in
        pixels from the fitted edge.
    esf : ndarray or None
        Edge method: edge-spread function at ``position`` in input units.
    lsf : ndarray or None
        Edge method: line-spread function at ``lsf_position``, unit area,
        before the window.
    lsf_position : ndarray or None
        Edge method: positions of the LSF samples (midpoints of the ESF bins), px.
    lsf_window : ndarray or None
        Edge method: the window applied to the LSF before the transform.
    bin_width : float or None
        Edge method: ESF bin width along the normal (``1/oversample`` unless
        the rows' sub-pixel phases forced wider bins, see ``quality``).
    oversample : int or None
        Edge method: requested oversampling.
    center : tuple of float or None
        Point method: intensity centroid ``(row, col)`` of the bead in the input image.
    psf : ndarray or None
        Point method: the background-subtracted box around the bead.
    background : float or None
        Point method: background level subtracted (median of the box border).
    bead_diameter : float or None
        Point method: diameter (px) of the object whose transform was divided out.
    bead_shape : str or None
        Point method: ``'sphere'`` or ``'disc'``.
    warnings : tuple of str
        The sentences of the :class:`MTFWarning` warnings issued for this result
        (the same as ``quality['warnings']``); empty for a clean input.
    """

    method: str
    freq: np.ndarray
    mtf: np.ndarray
    mtf_std: np.ndarray
    f50: float
    f10: float
    f50_std: float
    f10_std: float
    pixel_size: float
    unit: str
    roi: tuple
    quality: dict = field(default_factory=dict)
    angle_deg: float | None = None
    angle_std_deg: float | None = None
    orientation: str | None = None
    polarity: str | None = None
    position: np.ndarray | None = None
    esf: np.ndarray | None = None
    lsf: np.ndarray | None = None
    lsf_position: np.ndarray | None = None
    lsf_window: np.ndarray | None = None
    bin_width: float | None = None
    oversample: int | None = None
    center: tuple | None = None
    psf: np.ndarray | None = None
    background: float | None = None
    bead_diameter: float | None = None
    bead_shape: str | None = None
    warnings: tuple = ()

    # -- derived quantities -------------------------------------------------------
    @property
    def freq_phys(self) -> np.ndarray:
        """Frequency in cycles per ``unit`` (``freq / pixel_size``)."""
        return self.freq / self.pixel_size

    @property
    def resolution_50(self) -> float:
        """Full period at 50 % MTF, ``pixel_size / f50``, in ``unit`` (NaN without crossing)."""
        return _period(self.pixel_size, self.f50)

    @property
    def resolution_10(self) -> float:
        """Full period at 10 % MTF, ``pixel_size / f10``, in ``unit`` (NaN without crossing)."""
        return _period(self.pixel_size, self.f10)

    @property
    def resolution_50_half(self) -> float:
        """Half period (line width) at 50 % MTF, ``resolution_50 / 2``."""
        return self.resolution_50 / 2.0

    @property
    def resolution_10_half(self) -> float:
        """Half period (line width) at 10 % MTF, ``resolution_10 / 2``."""
        return self.resolution_10 / 2.0

    @property
    def resolution_50_px(self) -> float:
        """Full period at 50 % MTF in pixels, ``1 / f50``."""
        return _period(1.0, self.f50)

    @property
    def resolution_10_px(self) -> float:
        """Full period at 10 % MTF in pixels, ``1 / f10``."""
        return _period(1.0, self.f10)

    def summary(self) -> str:
        """One line: MTF50 and MTF10 as frequencies and full periods."""
        label = "slanted edge" if self.method == "edge" else "point source"
        parts = [f"MTF ({label}):"]
        for name, f, f_std, period in (
            ("MTF50", self.f50, self.f50_std, self.resolution_50),
            ("MTF10", self.f10, self.f10_std, self.resolution_10),
        ):
            if not math.isfinite(f):
                parts.append(f"{name} not reached;")
                continue
            bound = ">= " if self.quality.get(f"f{name[3:]}_limited") else ""
            spread = f" ± {f_std:.2g}" if math.isfinite(f_std) and f_std > 0 else ""
            parts.append(f"{name} {bound}{f:.4f}{spread} cycles/pixel (period {period:.4g} {self.unit});")
        if self.method == "edge" and self.angle_deg is not None:
            parts.append(f"edge {self.orientation} at {self.angle_deg:+.3f}°")
        return " ".join(parts).rstrip(";")

    def to_dict(self) -> dict:
        """All fields and derived lengths as JSON-safe Python objects (NaN becomes None)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["freq_phys"] = self.freq_phys
        for name in ("resolution_50", "resolution_10", "resolution_50_half", "resolution_10_half",
                     "resolution_50_px", "resolution_10_px"):
            out[name] = getattr(self, name)
        out["units"] = {
            "freq": "cycles/pixel",
            "freq_phys": f"cycles/{self.unit}",
            "f50": "cycles/pixel",
            "f10": "cycles/pixel",
            "resolution_50": f"{self.unit} (full period)",
            "resolution_10": f"{self.unit} (full period)",
            "resolution_50_half": f"{self.unit} (half period)",
            "resolution_10_half": f"{self.unit} (half period)",
            "resolution_50_px": "px (full period)",
            "resolution_10_px": "px (full period)",
            "position": "px along the edge normal",
            "lsf_position": "px along the edge normal",
            "angle_deg": "degrees",
        }
        return jsonable(out)

    def to_json(self, indent: int | None = 2) -> str:
        """The :meth:`to_dict` content as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def plot(self, ax=None):
        """Draw the MTF with its 50 % and 10 % crossings; return the figure."""
        from ._plot_mtf import plot_mtf

        return plot_mtf(self, ax=ax)


def _period(pixel_size: float, f: float) -> float:
    return pixel_size / f if (math.isfinite(f) and f > 0) else float("nan")


# -- validation shared by both methods ----------------------------------------------
def check_mtf_image(image) -> np.ndarray:
    """A 2-D, real, finite, non-constant image (returned without copying)."""
    array = as_image(image, "image", ndims=(2,))
    if array.dtype.kind == "c":
        raise TypeError("image must be real-valued (an intensity image); got a complex array")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError("image contains NaN or infinite values; replace or mask them first")
    if array.min() == array.max():
        raise ValueError("image is constant: there is no edge or point source to measure")
    return array


def check_roi(roi, shape: tuple[int, int], *, min_size: int = 2) -> tuple[int, int, int, int]:
    """Resolve ``roi`` = ``(row_slice, col_slice)`` (or None) to ``(r0, r1, c0, c1)``.

    Negative indices count from the end as in numpy. A ROI that leaves the
    image, is empty, has a step other than 1, or is smaller than ``min_size``
    along an axis raises ``ValueError``.
    """
    if roi is None:
        return 0, shape[0], 0, shape[1]
    if not (isinstance(roi, (tuple, list)) and len(roi) == 2):
        raise ValueError(f"roi must be a tuple (row_slice, col_slice) or None; got {roi!r}")
    bounds = []
    for axis, (item, n) in enumerate(zip(roi, shape)):
        name = ("row", "col")[axis]
        if not isinstance(item, slice):
            raise ValueError(f"roi[{axis}] must be a slice of {name}s, e.g. slice(10, 90); got {item!r}")
        if item.step not in (None, 1):
            raise ValueError(f"roi[{axis}] must have step 1; got step {item.step}")
        start, stop = item.start, item.stop
        for value in (start, stop):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
                raise ValueError(f"roi[{axis}] bounds must be integers; got {item!r}")
        start = 0 if start is None else int(start) + (n if start < 0 else 0)
        stop = n if stop is None else int(stop) + (n if stop < 0 else 0)
        if not (0 <= start < n) or not (0 < stop <= n) or stop <= start:
            raise ValueError(
                f"roi[{axis}] = {item!r} lies (partly) outside the image's {n} {name}s or is empty"
            )
        if stop - start < min_size:
            raise ValueError(
                f"roi[{axis}] = {item!r} spans {stop - start} {name}s; at least {min_size} are needed"
            )
        bounds.extend((start, stop))
    return tuple(bounds)


def crop(image: np.ndarray, bounds: tuple[int, int, int, int]) -> np.ndarray:
    """The ROI as a new float64 array (the input is never modified)."""
    r0, r1, c0, c1 = bounds
    return np.array(image[r0:r1, c0:c1], dtype=np.float64)


def unit_label(pixel_size: float, unit: str | None) -> str:
    """Label of lengths (shared convention of the result objects)."""
    return length_unit(pixel_size, unit)


def refine_crossing(func, level: float, f_lo: float, f_hi: float, *, tol: float = 1e-10) -> float:
    """Root of ``func(f) = level`` in ``[f_lo, f_hi]`` (bracketing, Brent)."""
    from scipy.optimize import brentq

    g_lo = func(f_lo) - level
    g_hi = func(f_hi) - level
    if g_lo == 0.0:
        return f_lo
    if g_lo * g_hi > 0:  # the grid bracket was not a sign change of the exact curve
        return f_lo + (f_hi - f_lo) * g_lo / (g_lo - g_hi)
    return brentq(lambda f: func(f) - level, f_lo, f_hi, xtol=tol, rtol=1e-13)


def first_downward(curve: np.ndarray, level: float) -> int | None:
    """Index of the first sample below ``level`` after one at or above it (None if none)."""
    below = np.flatnonzero(curve < level)
    if below.size == 0 or below[0] == 0:
        return None
    return int(below[0])
