"""Lengths with units: parse ``28.6nm``, ``2.1A``, ``0.5um`` or a bare number of metres.

A :class:`PixelSize` keeps the value in the unit it was given in (a user who
writes ``2.1A`` wants ångström in the output) and converts on request. Values
that come without a unit (a bare number, metadata in metres) are shown in the
most readable unit (``2.86e-8`` → ``28.6 nm``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["PixelSize", "parse_length", "normalise_unit", "UNIT_METRES"]

#: metres per unit, keyed by the canonical unit name used in every output
UNIT_METRES = {
    "m": 1.0,
    "mm": 1e-3,
    "µm": 1e-6,
    "nm": 1e-9,
    "Å": 1e-10,
    "pm": 1e-12,
}

_ALIASES = {
    "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "mm": "mm", "millimeter": "mm", "millimeters": "mm", "millimetre": "mm", "millimetres": "mm",
    "um": "µm", "µm": "µm", "μm": "µm", "micron": "µm", "microns": "µm",
    "micrometer": "µm", "micrometers": "µm", "micrometre": "µm", "micrometres": "µm",
    "\\u00b5m": "µm",  # how ImageJ sometimes stores the micro sign
    "nm": "nm", "nanometer": "nm", "nanometers": "nm", "nanometre": "nm", "nanometres": "nm",
    "a": "Å", "å": "Å", "Å": "Å", "angstrom": "Å", "angstroms": "Å", "ångström": "Å",
    "pm": "pm", "picometer": "pm", "picometers": "pm", "picometre": "pm", "picometres": "pm",
}

# a bare number is metres; no microscope or tomograph has pixels of a centimetre
# or more, so such a number almost surely lacks its unit
_LARGEST_BARE_METRES = 1e-2

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_LENGTH = re.compile(rf"^\s*({_NUMBER})\s*([^\d\s].*?)?\s*$")


def normalise_unit(unit: str) -> str:
    """Canonical name (``'nm'``, ``'µm'``, ``'Å'``, ...) of a length unit; ValueError if unknown."""
    key = str(unit).strip()
    canonical = _ALIASES.get(key) or _ALIASES.get(key.lower())
    if canonical is None:
        # 'A' must not be lowered to the unknown 'a' → handled above; anything else is unknown
        raise ValueError(
            f"unknown length unit {unit!r}; use one of m, mm, um (µm), nm, A (Å), pm"
        )
    return canonical


def _readable_unit(metres: float) -> str:
    for unit in ("m", "mm", "µm", "nm"):
        if metres >= UNIT_METRES[unit] * 0.9999:
            return unit
    return "pm"


@dataclass(frozen=True)
class PixelSize:
    """Size of one pixel: ``value`` in ``unit``, and where it came from.

    Attributes
    ----------
    value : float
        The size in ``unit`` (positive, finite).
    unit : str
        Canonical unit: ``'m'``, ``'mm'``, ``'µm'``, ``'nm'``, ``'Å'`` or ``'pm'``.
    source : str
        Where the number came from (``'--pixel-size'``, ``'ImageJ metadata'``, ...).

    Examples
    --------
    >>> from toupy.resolution.io import parse_length
    >>> p = parse_length("2.1A")
    >>> p.value, p.unit, round(p.to("nm"), 3)
    (2.1, 'Å', 0.21)
    >>> str(parse_length("2.86e-8"))
    '28.6 nm'
    """

    value: float
    unit: str
    source: str = ""

    def __post_init__(self):
        if not (isinstance(self.value, (int, float)) and math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"pixel size must be a positive finite length; got {self.value!r}")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "unit", normalise_unit(self.unit))

    @classmethod
    def from_metres(cls, metres: float, source: str = "") -> "PixelSize":
        """The size in the most readable unit (``2.86e-8`` m → ``28.6 nm``)."""
        unit = _readable_unit(metres)
        return cls(_clean(metres / UNIT_METRES[unit]), unit, source)

    @property
    def metres(self) -> float:
        """The size in metres."""
        return _clean(self.value * UNIT_METRES[self.unit])

    def to(self, unit: str) -> float:
        """The size in another unit."""
        return _clean(self.metres / UNIT_METRES[normalise_unit(unit)])

    def with_source(self, source: str) -> "PixelSize":
        return PixelSize(self.value, self.unit, source)

    def __str__(self) -> str:
        return f"{self.value:.6g} {self.unit}"

    def to_dict(self) -> dict:
        return {"value": self.value, "unit": self.unit, "metres": self.metres, "source": self.source}


def _clean(x: float) -> float:
    """Drop binary round-off from a unit conversion (2.86e-8/1e-9 = 28.599999999999998)."""
    return float(f"{x:.12g}")


def parse_length(text, *, name: str = "pixel size", source: str = "") -> PixelSize:
    """Parse a length such as ``'28.6nm'``, ``'2.1 A'``, ``'0.5um'`` or ``'2.86e-8'`` (metres).

    Parameters
    ----------
    text : str or float
        A positive number followed by a unit (m, mm, um/µm/micron, nm, A/Å,
        pm; spaces allowed), or a bare number, read as metres.
    name : str
        How the value is called in error messages (e.g. ``'--pixel-size'``).
    source : str
        Stored in :attr:`PixelSize.source`.

    Returns
    -------
    PixelSize
        In the unit given, or in the most readable unit for a bare number.

    Raises
    ------
    ValueError
        Unparseable text, unknown unit, a value that is not positive and
        finite, or a bare number of 1 cm or more (almost surely a forgotten
        unit: ``28.6`` would be 28.6 metres).

    Examples
    --------
    >>> from toupy.resolution.io import parse_length
    >>> str(parse_length("28.6nm")), str(parse_length("0.5 um")), str(parse_length(6.5e-7))
    ('28.6 nm', '0.5 µm', '650 nm')
    """
    if isinstance(text, bool):
        raise ValueError(f"{name} must be a length such as 28.6nm; got {text!r}")
    if isinstance(text, (int, float)):
        number, unit = float(text), None
    else:
        match = _LENGTH.match(str(text))
        if match is None:
            raise ValueError(
                f"{name} {text!r} is not a length; write a number and a unit, e.g. 28.6nm, 2.1A, 0.5um"
            )
        number, unit = float(match.group(1)), match.group(2)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive and finite; got {text!r}")
    if unit:
        try:
            return PixelSize(number, normalise_unit(unit), source)
        except ValueError:
            raise ValueError(
                f"{name} {text!r} has an unknown unit {unit!r}; use m, mm, um, nm, A or pm"
            ) from None
    if number >= _LARGEST_BARE_METRES:
        raise ValueError(
            f"{name} {text!r} has no unit and would be {number:g} metres; "
            f"add the unit, e.g. {number:g}nm or {number:g}um"
        )
    return PixelSize.from_metres(number, source)
