"""Result objects of the estimators: frozen dataclasses with units.

Every length is given twice: as a full period (``pixel_size / f``, the
convention of FSC papers) and as a half period (feature size). Frequencies
are given in cycles/pixel (``_cpx``) and as a fraction of Nyquist (``fn``).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field

import numpy as np

from ._thresholds import threshold_label

__all__ = [
    "ResolutionMapViews",
    "ShellCurveViews",
    "FSCResult",
    "SSNRResult",
    "length_unit",
    "jsonable",
    "map_statistics",
    "statistics_dict",
    "MAP_STATISTICS",
]


def length_unit(pixel_size: float, unit: str | None) -> str:
    """Label of lengths: ``unit`` if given, ``'px'`` for unit pixels."""
    if unit:
        return unit
    return "px" if pixel_size == 1.0 else "pixel_size units"


def jsonable(value):
    """Convert numpy values to JSON-safe Python (non-finite numbers become None)."""
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()] if value.ndim else jsonable(value.item())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def map_statistics(resolution_map: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """Median, mean and standard deviation of the finite values of a map.

    Full-period values and their half-period (``/2``) forms, restricted to
    ``mask`` when given; NaN when no value is finite.
    """
    values = np.asarray(resolution_map, dtype=np.float64)
    if mask is not None:
        values = values[np.asarray(mask, dtype=bool)]
    values = values[np.isfinite(values)]
    if values.size == 0:
        median = mean = std = float("nan")
    else:
        median, mean, std = float(np.median(values)), float(values.mean()), float(values.std())
    return statistics_dict(median, mean, std)


#: names of the documented statistics of a resolution map (full period, then ``_half``)
MAP_STATISTICS = (
    "resolution_median",
    "resolution_mean",
    "resolution_std",
    "resolution_median_half",
    "resolution_mean_half",
    "resolution_std_half",
)


def statistics_dict(median: float, mean: float, std: float) -> dict:
    """The documented ``resolution_median/mean/std`` and their ``_half`` forms."""
    return dict(zip(MAP_STATISTICS, (median, mean, std, median / 2.0, mean / 2.0, std / 2.0)))


class ResolutionMapViews:
    """Maps in other units, derived on demand (each is as large as the input).

    Needs ``resolution_map`` (full period, pixels) and ``pixel_size``.
    """

    @property
    def resolution_map_half(self) -> np.ndarray:
        """Half-period local resolution in pixels, ``resolution_map / 2``."""
        return self.resolution_map / 2

    @property
    def resolution_map_phys(self) -> np.ndarray:
        """Full-period local resolution in ``unit``, ``resolution_map * pixel_size``."""
        return self.resolution_map * self.resolution_map.dtype.type(self.pixel_size)

    @property
    def resolution_map_phys_half(self) -> np.ndarray:
        """Half-period local resolution in ``unit``, ``resolution_map_phys / 2``."""
        return self.resolution_map * self.resolution_map.dtype.type(self.pixel_size / 2)


class ShellCurveViews:
    """Views shared by results of shell curves (needs ``shape``, ``fn_res_cpx``, ``threshold``)."""

    @property
    def kind(self) -> str:
        """``'FRC'`` for 2-D inputs, ``'FSC'`` for 3-D inputs."""
        return "FRC" if len(self.shape) == 2 else "FSC"

    @property
    def fnyquist(self) -> int:
        """Index of the Nyquist shell, ``max(shape) // 2``."""
        return max(self.shape) // 2

    @property
    def resolution_full_px(self) -> float | None:
        """Full-period resolution in pixels."""
        return None if self.fn_res_cpx is None else 1.0 / self.fn_res_cpx

    @property
    def resolution_half_px(self) -> float | None:
        """Half-period resolution in pixels."""
        return None if self.fn_res_cpx is None else 0.5 / self.fn_res_cpx

    @property
    def threshold_name(self) -> str:
        """Human-readable criterion name."""
        return threshold_label(self.threshold)


@dataclass(frozen=True, eq=False)
class FSCResult(ShellCurveViews):
    """Fourier shell (3-D) or ring (2-D) correlation of two images.

    Attributes
    ----------
    fn : ndarray
        Shell frequency as a fraction of the Nyquist shell (``s / (nmax // 2)``).
    frequency_cpx : ndarray
        Shell frequency in cycles/pixel (``s / nmax``, ``nmax = max(shape)``).
    fsc : ndarray
        Correlation per shell (signed real part for real inputs, modulus of
        the complex sum for complex inputs; NaN where a shell has no power).
    threshold_curve : ndarray
        Threshold per shell.
    n_per_shell : ndarray
        Fourier voxels per (pooled) shell, counted in the full FFT.
    fn_res, fn_res_cpx : float or None
        Crossing as a fraction of Nyquist and in cycles/pixel; None when the
        curve is below the threshold from the first shell on.
    resolution_full : float or None
        Full-period resolution ``pixel_size / fn_res_cpx`` in ``unit``.
    resolution_half : float or None
        Half-period resolution ``resolution_full / 2`` in ``unit``.
    nyquist_limited : bool
        The curve never drops below the threshold: the resolution is an upper
        bound set by the pixel size (2 px full period).
    crossing_shell : float or None
        Interpolated crossing in shell units.
    threshold, ring_thick, apod_width, window, pixel_size, unit, shape
        The parameters used (``unit`` labels every length).
    complex_input : bool
        Whether the modulus of the complex cross sum was used.
    warnings : tuple of str
        The warnings issued for this result (a failed assumption, an adjusted
        default), one sentence each; empty for a clean input.
    """

    fn: np.ndarray
    frequency_cpx: np.ndarray
    fsc: np.ndarray
    threshold_curve: np.ndarray
    n_per_shell: np.ndarray
    fn_res: float | None
    fn_res_cpx: float | None
    resolution_full: float | None
    resolution_half: float | None
    nyquist_limited: bool
    crossing_shell: float | None
    threshold: str | float
    ring_thick: int
    apod_width: int
    window: str | None
    pixel_size: float
    unit: str
    shape: tuple
    complex_input: bool = False
    extras: dict = field(default_factory=dict)
    warnings: tuple = ()

    @property
    def shells(self) -> np.ndarray:
        """Integer shell indices, from 0 to ``fnyquist``."""
        return np.arange(self.fsc.size)

    def summary(self) -> str:
        """One line: the resolution, the criterion and the sampling."""
        name = self.kind
        if self.fn_res_cpx is None:
            return (
                f"{name} resolution: none ({self.threshold_name}): the curve is below the "
                "threshold from the first shell on"
            )
        bound = "<= " if self.nyquist_limited else ""
        note = " (Nyquist-limited: upper bound)" if self.nyquist_limited else ""
        pixel = "" if self.unit == "px" else f", pixel {self.pixel_size:g} {self.unit}"
        return (
            f"{name} resolution: {bound}{self.resolution_full:.4g} {self.unit} full period, "
            f"{self.resolution_half:.4g} {self.unit} half period "
            f"({self.threshold_name}, {self.fn_res_cpx:.4f} cycles/pixel{pixel}){note}"
        )

    def to_dict(self) -> dict:
        """All fields as JSON-safe Python objects (NaN and inf become None)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["kind"] = self.kind
        out["resolution_full_px"] = self.resolution_full_px
        out["resolution_half_px"] = self.resolution_half_px
        out["units"] = {
            "fn": "fraction of Nyquist",
            "frequency_cpx": "cycles/pixel",
            "fn_res_cpx": "cycles/pixel",
            "resolution_full": self.unit,
            "resolution_half": self.unit,
            "resolution_full_px": "px",
            "resolution_half_px": "px",
        }
        return jsonable(out)

    def to_json(self, indent: int | None = 2) -> str:
        """The :meth:`to_dict` content as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def plot(self, ax=None, *, name: str | None = None):
        """Draw the curve, the threshold and the crossing; return the figure."""
        from ._plotting import plot_fsc

        return plot_fsc(self, ax=ax, name=name)


@dataclass(frozen=True, eq=False)
class SSNRResult(FSCResult):
    """FSC result plus the spectral SNR of the combined map.

    Attributes
    ----------
    ssnr : ndarray
        ``2 FSC / (1 - FSC)``: the SSNR of the average of the two halves
        (each half alone has half of it). ``+inf`` where FSC = 1.
    ssnr_threshold : ndarray
        ``2 T / (1 - T)``; its asymptote is ``sqrt(2) - 1`` for half-bit and
        1 for one-bit. The SSNR crossing is the FSC crossing.
    """

    ssnr: np.ndarray = None
    ssnr_threshold: np.ndarray = None

    def plot(self, ax=None, *, name: str | None = None):
        """Draw the SSNR, its threshold and the crossing; return the figure."""
        from ._plotting import plot_ssnr

        return plot_ssnr(self, ax=ax)

    def summary(self) -> str:
        return super().summary().replace(f"{self.kind} resolution", f"SSNR ({self.kind}) resolution", 1)
