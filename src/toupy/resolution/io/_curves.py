"""FSC curves in the exchange formats of cryo-EM: a RELION-style STAR table and the EMDB FSC XML.

Both formats give frequencies in 1/Å, so they need a pixel size with a length
unit: a result computed without one (``unit='px'``) is refused. The curves are
the result's own, shell by shell; nothing is resampled.

* :func:`fsc_star_text` writes ``data_general`` (``_rlnFinalResolution``, in Å,
  full period) and ``data_fsc``, a loop with RELION's labels
  ``_rlnSpectralIndex``, ``_rlnResolution`` (1/Å), ``_rlnAngstromResolution``
  (Å; 999 at shell 0, as RELION writes it) and ``_rlnFourierShellCorrelation``,
  plus ``_rlnFourierShellCorrelationThreshold`` for the threshold curve (not a
  RELION label: RELION skips labels it does not know). A phase-randomisation
  result writes the columns of RELION's post-processing instead:
  ``_rlnFourierShellCorrelationCorrected``,
  ``_rlnFourierShellCorrelationUnmaskedMaps``,
  ``_rlnFourierShellCorrelationMaskedMaps`` and
  ``_rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps``.
* :func:`fsc_emdb_xml_text` writes the ``<fsc>`` document of EMDB deposition:
  ``<coordinate>`` elements with ``<x>`` in 1/Å and ``<y>`` the FSC.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

import numpy as np

from ._units import UNIT_METRES, normalise_unit

__all__ = ["fsc_star_text", "fsc_emdb_xml_text", "angstrom_per_pixel"]

#: what RELION writes as the resolution of shell 0 (an infinite period)
_RELION_INFINITE_ANGSTROM = 999.0


@dataclass(frozen=True)
class _Columns:
    """The curves of one result, ready for a table: names in the file, then values per shell."""

    names: tuple[str, ...]
    values: tuple[np.ndarray, ...]


def angstrom_per_pixel(result) -> float:
    """The result's pixel size in Å; ValueError when its unit is not a length."""
    unit = getattr(result, "unit", "px")
    if unit in (None, "px", "pixel", "pixels", "pixel_size units"):
        raise ValueError(
            "the STAR and EMDB XML formats give frequencies in 1/Å: compute the FSC with a pixel size "
            "and its unit (e.g. pixel_size=1.06, unit='Å', or --pixel-size 1.06A)"
        )
    try:
        canonical = normalise_unit(unit)
    except ValueError:
        raise ValueError(
            f"the result's unit {unit!r} is not a length the STAR/XML writers can convert to Å"
        ) from None
    return float(result.pixel_size) * UNIT_METRES[canonical] / UNIT_METRES["Å"]


def _curve_columns(result) -> _Columns:
    if hasattr(result, "fsc_corr"):  # phase-randomisation result: RELION post-processing columns
        return _Columns(
            ("_rlnFourierShellCorrelationCorrected", "_rlnFourierShellCorrelationUnmaskedMaps",
             "_rlnFourierShellCorrelationMaskedMaps",
             "_rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps",
             "_rlnFourierShellCorrelationThreshold"),
            (result.fsc_corr, result.fsc_unmasked, result.fsc_obs, result.fsc_rand, result.threshold_curve),
        )
    return _Columns(("_rlnFourierShellCorrelation", "_rlnFourierShellCorrelationThreshold"),
                    (result.fsc, result.threshold_curve))


def _format(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.6f}"


def fsc_star_text(result) -> str:
    """The curves of an FSC-family result as a RELION-style STAR document.

    Parameters
    ----------
    result : FSCResult or RandomFSCResult
        A result computed with a pixel size in a length unit.

    Returns
    -------
    str
        ``data_general`` then ``data_fsc``; shells without power are ``nan``.

    Raises
    ------
    ValueError
        When the result has no pixel size in a length unit.
    """
    angstrom = angstrom_per_pixel(result)
    columns = _curve_columns(result)
    frequency = np.asarray(result.frequency_cpx, dtype=np.float64) / angstrom
    with np.errstate(divide="ignore"):
        period = np.where(frequency > 0, 1.0 / np.where(frequency > 0, frequency, 1.0), _RELION_INFINITE_ANGSTROM)
    final = result.fn_res_cpx
    lines = ["", "# written by toupy.resolution", "", "data_general", ""]
    lines.append(f"_rlnFinalResolution {_format(angstrom / final) if final else 'nan'}")
    lines += ["", "", "data_fsc", "", "loop_"]
    names = ("_rlnSpectralIndex", "_rlnResolution", "_rlnAngstromResolution") + columns.names
    lines += [f"{name} #{number}" for number, name in enumerate(names, start=1)]
    for shell in range(frequency.size):
        cells = [str(shell), _format(frequency[shell]), _format(period[shell])]
        cells += [_format(float(curve[shell])) for curve in columns.values]
        lines.append(" ".join(cells))
    return "\n".join(lines) + "\n\n"


def fsc_emdb_xml_text(result, *, title: str | None = None) -> str:
    """The FSC curve of a result as the XML document EMDB takes at deposition.

    Parameters
    ----------
    result : FSCResult or RandomFSCResult
        A result computed with a pixel size in a length unit; for a
        phase-randomisation result the corrected curve is written.
    title : str, optional
        The ``title`` attribute (default: what the curve is and its criterion).

    Returns
    -------
    str
        ``<fsc title=... xaxis="Resolution (A-1)" yaxis="Correlation Coefficient">``
        with one ``<coordinate>`` per shell that has a finite value.
    """
    angstrom = angstrom_per_pixel(result)
    curve = result.fsc_corr if hasattr(result, "fsc_corr") else result.fsc
    if title is None:
        title = f"{result.kind} ({result.threshold_name}), toupy.resolution"
    root = ElementTree.Element("fsc", {"title": title, "xaxis": "Resolution (A-1)",
                                       "yaxis": "Correlation Coefficient"})
    for frequency, value in zip(np.asarray(result.frequency_cpx) / angstrom, np.asarray(curve)):
        if not math.isfinite(float(value)):
            continue
        coordinate = ElementTree.SubElement(root, "coordinate")
        ElementTree.SubElement(coordinate, "x").text = f"{float(frequency):.6f}"
        ElementTree.SubElement(coordinate, "y").text = f"{float(value):.6f}"
    ElementTree.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
