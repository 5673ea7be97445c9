"""FSC curves written as RELION STAR and EMDB XML, read back by other code (starfile, ElementTree)."""

import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from toupy.resolution.io._curves import angstrom_per_pixel, fsc_emdb_xml_text, fsc_star_text
from toupy.resolution import fsc, phase_randomized_fsc

starfile = pytest.importorskip("starfile")


@pytest.fixture(scope="module")
def halves():
    rng = np.random.default_rng(7)
    n = 32
    freq = np.sqrt(sum(g**2 for g in np.meshgrid(*(np.fft.fftfreq(n),) * 2, np.fft.rfftfreq(n), indexing="ij")))
    obj = np.fft.irfftn(np.fft.rfftn(rng.standard_normal((n, n, n))) * np.exp(-(freq / 0.12) ** 2), s=(n,) * 3)
    return [obj + 0.3 * obj.std() * rng.standard_normal(obj.shape) for _ in range(2)]


def test_star_columns_and_values_read_back(halves, tmp_path):
    result = fsc(*halves, pixel_size=1.06, unit="Å", window=None)
    path = tmp_path / "fsc.star"
    path.write_text(fsc_star_text(result))
    blocks = starfile.read(path, always_dict=True)
    assert set(blocks) == {"general", "fsc"}
    assert blocks["general"]["rlnFinalResolution"] == pytest.approx(result.resolution_full, rel=1e-5)
    table = blocks["fsc"]
    assert list(table.columns) == ["rlnSpectralIndex", "rlnResolution", "rlnAngstromResolution",
                                   "rlnFourierShellCorrelation", "rlnFourierShellCorrelationThreshold"]
    shells = np.arange(result.fsc.size)
    np.testing.assert_array_equal(table["rlnSpectralIndex"], shells)
    np.testing.assert_allclose(table["rlnResolution"], shells / (32 * 1.06), atol=1e-6)
    np.testing.assert_allclose(table["rlnAngstromResolution"][1:], 32 * 1.06 / shells[1:], rtol=1e-5)
    assert table["rlnAngstromResolution"][0] == 999.0
    np.testing.assert_allclose(table["rlnFourierShellCorrelation"], result.fsc, atol=1e-6)
    np.testing.assert_allclose(table["rlnFourierShellCorrelationThreshold"], result.threshold_curve, atol=1e-6)


def test_star_of_phase_randomisation_has_postprocess_columns(halves, tmp_path):
    result = phase_randomized_fsc(*halves, random_seed=0, apod_width=8, pixel_size=1.06, unit="Å")
    path = tmp_path / "postprocess.star"
    path.write_text(fsc_star_text(result))
    table = starfile.read(path, always_dict=True)["fsc"]
    np.testing.assert_allclose(table["rlnFourierShellCorrelationCorrected"], result.fsc_corr, atol=1e-6)
    np.testing.assert_allclose(table["rlnFourierShellCorrelationMaskedMaps"], result.fsc_obs, atol=1e-6)
    np.testing.assert_allclose(table["rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps"],
                               result.fsc_rand, atol=1e-6)


def test_emdb_xml_elements_and_values(halves):
    result = fsc(*halves, pixel_size=0.106, unit="nm", window=None)  # nm are converted to Å
    root = ElementTree.fromstring(fsc_emdb_xml_text(result))
    assert root.tag == "fsc"
    assert root.attrib["xaxis"] == "Resolution (A-1)"
    assert root.attrib["yaxis"] == "Correlation Coefficient"
    coordinates = root.findall("coordinate")
    assert len(coordinates) == np.isfinite(result.fsc).sum()
    x = np.array([float(c.find("x").text) for c in coordinates])
    y = np.array([float(c.find("y").text) for c in coordinates])
    np.testing.assert_allclose(x, result.frequency_cpx[np.isfinite(result.fsc)] / 1.06, atol=1e-6)
    np.testing.assert_allclose(y, result.fsc[np.isfinite(result.fsc)], atol=1e-6)


def test_pixel_units_are_refused(halves):
    result = fsc(*halves, window=None)
    with pytest.raises(ValueError, match="1/Å"):
        fsc_star_text(result)
    with pytest.raises(ValueError, match="1/Å"):
        fsc_emdb_xml_text(result)


@pytest.mark.parametrize("unit, expected", [("Å", 2.0), ("A", 2.0), ("nm", 20.0), ("um", 2.0e4)])
def test_angstrom_per_pixel(unit, expected):
    class Result:
        pixel_size = 2.0

    Result.unit = unit
    assert angstrom_per_pixel(Result()) == pytest.approx(expected)
