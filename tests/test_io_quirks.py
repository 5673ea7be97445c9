"""toupy.resolution.io on files as other programs write them: quirks, byte orders, short data.

Each file is generated here so that it carries exactly one quirk of a real
writer (an MRC machine stamp left at zero, a big-endian ImageJ TIFF, an EDF
with ``ByteOrder = HighByteFirst``, a NeXus file with string attributes stored
as arrays, ...). The known answer is the array the test put in.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from toupy.resolution.io import FileFormatError, read_image, write_image, parse_length
from toupy.resolution._checks import ResolutionWarning

tifffile = pytest.importorskip("tifffile")
h5py = pytest.importorskip("h5py")
mrcfile = pytest.importorskip("mrcfile")

_STAMP = slice(212, 216)  # MRC2014 header bytes of the machine stamp


@pytest.fixture
def volume():
    return np.random.default_rng(11).standard_normal((4, 9, 10)).astype(np.float32)


def _read_quietly(spec) -> np.ndarray:
    """The array of ``spec``, asserting that reading it warns of nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with read_image(spec) as image:
            return image.read()


def _edf_bytes(data: np.ndarray, byte_order: str, **extra) -> bytes:
    """An EDF file as ESRF beamlines write it: a '{...}' text header padded to 512 bytes, then raw data."""
    kinds = {np.dtype(np.float32): "FloatValue", np.dtype(np.uint16): "UnsignedShort"}
    keys = {
        "HeaderID": "EH:000001:000000:000000", "Image": "1",
        "ByteOrder": "HighByteFirst" if byte_order == ">" else "LowByteFirst",
        "DataType": kinds[data.dtype], "Dim_1": str(data.shape[1]), "Dim_2": str(data.shape[0]),
        "Size": str(data.nbytes),
    }
    keys.update(extra)
    text = "{\n" + "".join(f"{key} = {value} ;\n" for key, value in keys.items())
    header = text.encode("ascii")
    header += b" " * (512 - (len(header) + 2) % 512) + b"}\n"
    return header + data.astype(data.dtype.newbyteorder(byte_order)).tobytes()


# ----------------------------------------------------------------------------- MRC machine stamp

def test_mrc_with_zero_machine_stamp_is_read_as_little_endian_with_one_warning(tmp_path, volume):
    path = tmp_path / "unstamped.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(volume)                      # native = little-endian on the test machines
        mrc.voxel_size = 2.1
    raw = bytearray(path.read_bytes())
    assert raw[_STAMP] == b"\x44\x44\x00\x00" or raw[_STAMP] == b"\x44\x41\x00\x00"
    raw[_STAMP] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(raw))
    with pytest.warns(ResolutionWarning) as caught:
        with read_image(path) as image:
            np.testing.assert_array_equal(image.read(), volume)
            assert image.pixel_size.to("Å") == pytest.approx(2.1, rel=1e-6)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "machine stamp" in message and "little-endian" in message and str(path) in message
    assert "\n" not in message


def test_mrc_with_zero_stamp_whose_sizes_do_not_fit_is_refused(tmp_path, volume):
    path = tmp_path / "bad.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(volume.astype(">f4"))        # big-endian: as little-endian the sizes are absurd
    raw = bytearray(path.read_bytes())
    raw[_STAMP] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match=r"bad\.mrc.*machine stamp"):
        read_image(path)
    # little-endian, unstamped, but one row short: the declared size does not match
    path = tmp_path / "short.mrc"
    with mrcfile.new(path) as mrc:
        mrc.set_data(volume)
    raw = bytearray(path.read_bytes())
    raw[_STAMP] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(raw[:-40]))
    with pytest.raises(FileFormatError, match=r"short\.mrc.*declares \d+ bytes, the file has \d+"):
        read_image(path)


# ----------------------------------------------------------------------------- big-endian files

def test_big_endian_files_read_their_values(tmp_path, volume):
    """ImageJ writes big-endian TIFF; old MRC, HDF5 and NPY files can be big-endian too."""
    big = volume.astype(">f4")
    tifffile.imwrite(tmp_path / "ij.tif", big, imagej=True, byteorder=">", metadata={"axes": "ZYX"})
    with mrcfile.new(tmp_path / "be.mrc") as mrc:
        mrc.set_data(big)
    with h5py.File(tmp_path / "be.h5", "w") as h5:
        h5.create_dataset("data", data=big, dtype=">f4")
    np.save(tmp_path / "be.npy", big)
    for name in ("ij.tif", "be.mrc", "be.h5", "be.npy"):
        values = _read_quietly(tmp_path / name)
        assert values.dtype.kind == "f" and values.dtype.itemsize == 4
        np.testing.assert_array_equal(values, volume)       # compared by value, whatever the order
        assert float(values.sum(dtype=np.float64)) == pytest.approx(float(volume.sum(dtype=np.float64)))


def test_big_endian_edf_from_a_beamline(tmp_path):
    pytest.importorskip("fabio")
    data = np.arange(30, dtype=np.float32).reshape(5, 6) - 7.5
    (tmp_path / "hbf.edf").write_bytes(_edf_bytes(data, ">", PSize_1="6.5e-07", PSize_2="6.5e-07"))
    with read_image(tmp_path / "hbf.edf") as image:
        np.testing.assert_array_equal(image.read(), data)
        assert str(image.pixel_size) == "650 nm"


# ----------------------------------------------------------------------------- headers that promise more

def test_edf_whose_dim_declares_more_rows_than_the_file_holds_is_refused(tmp_path):
    pytest.importorskip("fabio")
    data = np.arange(30, dtype=np.uint16).reshape(5, 6)
    raw = _edf_bytes(data, "<", Dim_2="9", Size=str(9 * 6 * 2))   # 9 rows declared, 5 present
    (tmp_path / "short.edf").write_bytes(raw)
    with pytest.raises(FileFormatError, match=r"short\.edf.*truncated"):
        read_image(tmp_path / "short.edf").read()


def test_tiff_whose_strips_declare_more_bytes_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "strips.tif"
    data = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    tifffile.imwrite(path, data, rowsperstrip=8)
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        counts = page.tags["StripByteCounts"]
        offsets = page.dataoffsets
        last_end = offsets[-1] + page.databytecounts[-1]
        position, count_type = counts.valueoffset, counts.dtype
    # drop the last strip's bytes: the header still declares them
    raw = path.read_bytes()
    assert last_end == len(raw) or last_end <= len(raw)
    cut = raw[: offsets[-1] + 10] if last_end == len(raw) else raw
    if cut is raw:
        pytest.skip("tifffile did not put the image data last in this version")
    path.write_bytes(cut)
    assert position and count_type
    with pytest.raises(FileFormatError, match=r"strips\.tif.*truncated"):
        read_image(path).read()


# ----------------------------------------------------------------------------- NPY side files

def test_npy_side_file_without_pixel_size_reads_back_quietly(tmp_path, volume):
    """The tomograms of 'split' carry attrs but no pixel size: the side file must read back."""
    path = tmp_path / "tomogram_even.npy"
    write_image(path, volume, attrs={"quantity": "tomogram", "half": "even"})
    assert Path(f"{path}.json").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with read_image(path) as image:
            assert image.pixel_size is None
            assert "pixel_size_ignored" not in image.metadata
            np.testing.assert_array_equal(image.read(), volume)
    # a side file that is really unreadable is still noted, not silently dropped
    Path(f"{path}.json").write_text("{not json")
    assert "pixel_size_ignored" in read_image(path).metadata


# ----------------------------------------------------------------------------- HDF5 from other codes

def test_cxi_from_a_ptychography_code(tmp_path):
    """PyNX-style CXI: complex object in /entry_1/image_1/data, pixel sizes as datasets in metres."""
    path = tmp_path / "obj.cxi"
    obj = (np.random.default_rng(2).standard_normal((32, 40))
           + 1j * np.random.default_rng(3).standard_normal((32, 40))).astype(np.complex64)
    with h5py.File(path, "w") as h5:
        h5.attrs["default"] = np.bytes_(b"entry_1")
        entry = h5.create_group("entry_1")
        entry.attrs["default"] = np.array([b"image_1"])     # a string stored as a one-element array
        image = entry.create_group("image_1")
        image["data"] = obj
        image.attrs["signal"] = "data"
        image["x_pixel_size"] = 12.5e-9
        image["y_pixel_size"] = 12.5e-9
        entry["data_1"] = h5py.SoftLink("/entry_1/image_1")
    with read_image(path) as image:
        assert image.dataset == "/entry_1/image_1/data" and image.dtype == np.complex64
        np.testing.assert_array_equal(image.read(), obj)
        assert str(image.pixel_size) == "12.5 nm"


def test_old_nexus_signal_attribute_on_the_dataset(tmp_path):
    """NeXus before 2014 marked the plotted dataset with @signal=1 on the dataset itself."""
    path = tmp_path / "old.nxs"
    data = np.arange(20, dtype=np.float32).reshape(4, 5)
    with h5py.File(path, "w") as h5:
        nxdata = h5.create_group("entry/data")
        nxdata.attrs["NX_class"] = b"NXdata"
        nxdata["angles"] = np.zeros((4, 2))
        nxdata["counts"] = data
        nxdata["counts"].attrs["signal"] = np.int32(1)
    with read_image(f"{path}:/entry/data") as image:
        assert image.dataset == "/entry/data/counts"
        np.testing.assert_array_equal(image.read(), data)


# ----------------------------------------------------------------------------- warnings and closed images

def test_library_warnings_reach_the_user_as_one_package_line(tmp_path, monkeypatch, volume):
    import toupy.resolution.io._readers as readers

    np.save(tmp_path / "v.npy", volume)
    original = readers._READERS["npy"]

    def noisy(path, inner, metadata):
        warnings.warn("Data array contains NaN values", RuntimeWarning)
        warnings.warn("Data array contains NaN values", RuntimeWarning)   # repeated: said once
        warnings.warn("old keyword", DeprecationWarning)                  # about code: left as it is
        return original(path, inner, metadata)

    monkeypatch.setitem(readers._READERS, "npy", noisy)
    with pytest.warns(Warning) as caught:
        read_image(tmp_path / "v.npy").close()
    assert sorted(type(w.message).__name__ for w in caught) == ["DeprecationWarning", "ResolutionWarning"]
    caught = [w for w in caught if w.category is ResolutionWarning]
    text = str(caught[0].message)
    assert text.startswith(str(tmp_path / "v.npy")) and "contains NaN values" in text and "\n" not in text


def test_clean_files_give_no_warning(tmp_path, volume):
    for name in ("c.npy", "c.tif", "c.h5", "c.mrc"):
        write_image(tmp_path / name, volume, pixel_size=parse_length("3nm"))
        np.testing.assert_array_equal(_read_quietly(tmp_path / name), volume)


def test_reading_a_closed_image_says_so(tmp_path, volume):
    for name in ("z.npy", "z.h5", "z.mrc", "z.tif"):
        write_image(tmp_path / name, volume)
        image = read_image(tmp_path / name)
        image.close()
        assert image.closed and image.shape == volume.shape and image.dtype == np.float32
        for access in (image.read, lambda: image[0], lambda: np.asarray(image), lambda: image.data):
            with pytest.raises(ValueError, match=rf"{name}.*closed"):
                access()
        image.close()   # closing twice is harmless


# ----------------------------------------------------------------------------- microscope vendors' TIFF

def test_thermo_fisher_fei_tiff_pixel_size_from_its_own_tag(tmp_path):
    """FEI/Thermo SEM and FIB images: resolution tags say 72 dpi, the pixel size is in tag 34682."""
    text = "[User]\r\nDate=12/08/2026\r\n[Beam]\r\nHV=5000\r\n[Scan]\r\nPixelWidth=1.25e-09\r\nPixelHeight=1.25e-09\r\n"
    data = np.arange(64, dtype=np.uint16).reshape(8, 8)
    tifffile.imwrite(tmp_path / "fei.tif", data, resolution=(72, 72), resolutionunit="INCH",
                     extratags=[(34682, "s", 0, text, True)])
    with read_image(tmp_path / "fei.tif") as image:
        np.testing.assert_array_equal(image.read(), data)
        assert str(image.pixel_size) == "1.25 nm" and "FEI" in image.pixel_size.source


def test_zeiss_sem_tiff_pixel_size_with_its_unit(tmp_path):
    text = "\r\n".join(["0", "AP_IMAGE_PIXEL_SIZE", "Image Pixel Size = 2.5 nm", "AP_WD", "WD = 5.1 mm"])
    tifffile.imwrite(tmp_path / "sem.tif", np.zeros((8, 8), np.uint16), extratags=[(34118, "s", 0, text, True)])
    assert str(read_image(tmp_path / "sem.tif").pixel_size) == "2.5 nm"


def test_vendor_text_that_cannot_be_parsed_means_no_pixel_size(tmp_path):
    text = "[Scan]\r\nPixelWidth=not measured\r\n"
    tifffile.imwrite(tmp_path / "odd.tif", np.zeros((8, 8), np.uint16), extratags=[(34682, "s", 0, text, True)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(tmp_path / "odd.tif").pixel_size is None


def test_gzipped_edf_reads_and_a_cut_one_is_refused(tmp_path):
    pytest.importorskip("fabio")
    import gzip

    data = np.arange(30, dtype=np.float32).reshape(5, 6) * 0.25
    packed = gzip.compress(_edf_bytes(data, "<", PSize_1="1e-06", PSize_2="1e-06"))
    (tmp_path / "f.edf.gz").write_bytes(packed)
    with read_image(tmp_path / "f.edf.gz") as image:
        np.testing.assert_array_equal(image.read(), data)
        assert str(image.pixel_size) == "1 µm"
    (tmp_path / "cut.edf.gz").write_bytes(packed[:-30])
    with pytest.raises(FileFormatError, match=r"cut\.edf\.gz.*truncated"):
        read_image(tmp_path / "cut.edf.gz")


def test_imagej_micro_sign_written_as_an_escape(tmp_path):
    """ImageJ 1.x writes 'unit=\\u00B5m' (the escape, not the sign) into its description."""
    data = np.zeros((3, 8, 8), np.float32)
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, byteorder=">", resolution=(1 / 0.2, 1 / 0.2),
                     metadata={"axes": "ZYX", "unit": "\\u00B5m", "spacing": 0.2})
    with tifffile.TiffFile(tmp_path / "ij.tif") as tif:
        assert tif.imagej_metadata["unit"] == "\\u00B5m"        # the quirk is in the file
    with read_image(tmp_path / "ij.tif") as image:
        assert str(image.pixel_size) == "0.2 µm"
