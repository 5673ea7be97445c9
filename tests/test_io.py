"""toupy.resolution.io: units, reading every format with its pixel size, atomic writers, damaged files.

Every file here is made by the test itself with the format's own library
(tifffile, h5py, mrcfile, fabio, zarr, numpy), so the provenance of each
byte is known. Arrays are compared exactly: no format may change a value.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from toupy.resolution.io import FileFormatError, PixelSize, parse_length, read_image, write_image

tifffile = pytest.importorskip("tifffile")
h5py = pytest.importorskip("h5py")
mrcfile = pytest.importorskip("mrcfile")


@pytest.fixture
def volume():
    rng = np.random.default_rng(7)
    return rng.standard_normal((5, 12, 16)).astype(np.float32)


def _digest(path: Path) -> str:
    if path.is_dir():
        return "".join(_digest(p) for p in sorted(path.rglob("*")) if p.is_file())
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ----------------------------------------------------------------------------- units

@pytest.mark.parametrize(
    "text, value, unit, metres",
    [
        ("28.6nm", 28.6, "nm", 28.6e-9),
        ("28.6 nm", 28.6, "nm", 28.6e-9),
        ("2.1A", 2.1, "Å", 2.1e-10),
        ("2.1Å", 2.1, "Å", 2.1e-10),
        ("0.5um", 0.5, "µm", 0.5e-6),
        ("0.5µm", 0.5, "µm", 0.5e-6),
        ("0.5 micron", 0.5, "µm", 0.5e-6),
        ("1.5e-3 mm", 1.5e-3, "mm", 1.5e-6),
        ("2.86e-8", 28.6, "nm", 28.6e-9),     # bare number: metres, shown readably
        (6.5e-7, 650.0, "nm", 6.5e-7),
        ("3e-6", 3.0, "µm", 3e-6),
    ],
)
def test_parse_length(text, value, unit, metres):
    pixel = parse_length(text)
    assert pixel.value == pytest.approx(value, rel=1e-12)
    assert pixel.unit == unit
    assert pixel.metres == pytest.approx(metres, rel=1e-12)


def test_unit_conversions_are_exact_to_print_precision():
    pixel = parse_length("28.6nm")
    assert pixel.to("A") == 286.0
    assert pixel.to("um") == 0.0286
    assert str(parse_length("2.1A")) == "2.1 Å"
    assert PixelSize(2.1, "A").to("nm") == 0.21


@pytest.mark.parametrize("bad", ["abc", "28.6", "1", "-1nm", "0nm", "nan nm", "inf um", "3 furlongs", "", "nm", True])
def test_parse_length_rejects_with_the_option_name(bad):
    with pytest.raises(ValueError, match="--pixel-size"):
        parse_length(bad, name="--pixel-size")


# ----------------------------------------------------------------------------- round trips

@pytest.mark.parametrize(
    "name, dtype, fmt, lazy_type",
    [
        ("map.npy", np.float64, "npy", np.memmap),
        ("map.tif", np.float32, "tiff", np.memmap),      # ImageJ hyperstack
        ("map16.tiff", np.uint16, "tiff", np.memmap),    # ImageJ hyperstack
        ("map64.tif", np.float64, "tiff", np.memmap),    # OME-TIFF (ImageJ cannot hold float64)
        ("map.h5", np.float32, "hdf5", None),
        ("map.hdf5:/entry/result/map", np.float64, "hdf5", None),
        ("map.mrc", np.float32, "mrc", np.memmap),
        ("map.map", np.int16, "mrc", np.memmap),
    ],
)
@pytest.mark.parametrize("pixel_text", ["28.6nm", "2.1A", "0.65um"])
def test_round_trip_with_pixel_size(tmp_path, volume, name, dtype, fmt, lazy_type, pixel_text):
    data = (volume * 100).astype(dtype)
    pixel = parse_length(pixel_text)
    target = tmp_path / name
    write_image(target, data, pixel_size=pixel)
    with read_image(target) as image:
        assert image.format == fmt
        assert image.shape == data.shape and image.dtype == data.dtype
        np.testing.assert_array_equal(image.read(), data)
        np.testing.assert_array_equal(image[1:3, 2], data[1:3, 2])   # sliced without reading all
        assert image.lazy
        if lazy_type is not None:
            assert isinstance(image.data, lazy_type)
        else:
            assert type(image.data).__module__.startswith("h5py")
        # the stored value may be converted (MRC keeps Å), never changed beyond float32 precision
        assert image.pixel_size.metres == pytest.approx(pixel.metres, rel=1e-6)
        if fmt != "mrc":
            assert (image.pixel_size.value, image.pixel_size.unit) == (pixel.value, pixel.unit)
    assert _leftovers(tmp_path) == []


def test_round_trip_2d_and_attrs(tmp_path):
    image = np.arange(48, dtype=np.float32).reshape(6, 8)
    for name in ("a.npy", "a.tif", "a.h5", "a.mrc"):
        write_image(tmp_path / name, image, pixel_size=parse_length("5nm"), attrs={"units": "px"})
        with read_image(tmp_path / name) as back:
            assert back.shape == (6, 8)
            np.testing.assert_array_equal(back.read(), image)
            # MRC headers hold Å
            assert str(back.pixel_size) == ("50 Å" if name.endswith(".mrc") else "5 nm")
    with h5py.File(tmp_path / "a.h5") as h5:
        assert h5["/data"].attrs["units"] == "px"
        assert h5["/data"].attrs["pixel_size_units"] == "nm"
    assert json.loads((tmp_path / "a.npy.json").read_text())["units"] == "px"


def test_without_pixel_size_and_metadata_off(tmp_path, volume):
    for name in ("p.npy", "p.tif", "p.h5", "p.mrc"):
        write_image(tmp_path / name, volume)
        with read_image(tmp_path / name) as image:
            assert image.pixel_size is None
    write_image(tmp_path / "q.tif", volume, pixel_size=parse_length("1nm"))
    assert read_image(tmp_path / "q.tif", metadata=False).pixel_size is None


def test_writing_npy_without_pixel_size_removes_a_stale_side_file(tmp_path, volume):
    write_image(tmp_path / "m.npy", volume, pixel_size=parse_length("1nm"))
    write_image(tmp_path / "m.npy", volume, overwrite=True)
    assert read_image(tmp_path / "m.npy").pixel_size is None


def test_compressed_maps(tmp_path):
    smooth = np.zeros((8, 64, 64), np.float32)
    smooth[:, 10:50, 10:50] = 3.5
    for name in ("c.tif", "c.h5"):
        write_image(tmp_path / name, smooth, pixel_size=parse_length("1um"), compress=True)
        assert (tmp_path / name).stat().st_size < smooth.nbytes / 10
        with read_image(tmp_path / name) as image:
            np.testing.assert_array_equal(image.read(), smooth)
            assert str(image.pixel_size) == "1 µm"


# ----------------------------------------------------------------------------- metadata of other writers

def test_tiff_imagej_micron_and_resolution_unit_cm(tmp_path):
    data = np.zeros((10, 10), np.float32)
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, resolution=(1 / 0.325, 1 / 0.325),
                     metadata={"unit": "micron"})
    assert str(read_image(tmp_path / "ij.tif").pixel_size) == "0.325 µm"
    # plain TIFF, ResolutionUnit centimetre: 1e4 pixels per cm = 1 µm
    tifffile.imwrite(tmp_path / "cm.tif", data, resolution=(1e4, 1e4), resolutionunit="CENTIMETER")
    assert read_image(tmp_path / "cm.tif").pixel_size.metres == pytest.approx(1e-6)
    # dots per inch describe printing, not the sample: ignored
    tifffile.imwrite(tmp_path / "dpi.tif", data, resolution=(300, 300), resolutionunit="INCH")
    assert read_image(tmp_path / "dpi.tif").pixel_size is None


def test_ome_tiff_default_unit_is_micrometre(tmp_path):
    tifffile.imwrite(tmp_path / "o.ome.tif", np.zeros((4, 6, 6), np.uint8), ome=True,
                     metadata={"axes": "ZYX", "PhysicalSizeX": 0.1})
    assert str(read_image(tmp_path / "o.ome.tif").pixel_size) == "0.1 µm"


def test_tiff_sequence_by_pattern_and_folder(tmp_path):
    folder = tmp_path / "slices"
    folder.mkdir()
    stack = np.arange(11 * 5 * 6, dtype=np.float32).reshape(11, 5, 6)
    for k, plane in enumerate(stack):
        tifffile.imwrite(folder / f"slice_{k}.tif", plane, imagej=True, resolution=(1 / 50.0, 1 / 50.0),
                         metadata={"unit": "nm"})
    before = _digest(folder)
    for spec in (folder / "slice_*.tif", folder):
        with read_image(spec) as image:
            assert image.format == "tiff-sequence" and image.shape == stack.shape
            np.testing.assert_array_equal(image.read(), stack)   # natural order: 2 before 10
            assert str(image.pixel_size) == "50 nm"
    assert _digest(folder) == before


def test_hdf5_nexus_default_and_detector_pixel_size(tmp_path):
    path = tmp_path / "scan.nxs"
    data = np.ones((4, 5, 6), np.float32)
    with h5py.File(path, "w") as h5:
        h5.attrs["default"] = "entry"
        entry = h5.create_group("entry")
        entry.attrs["default"] = "plot"
        plot = entry.create_group("plot")
        plot.attrs["signal"] = "volume"
        plot["volume"] = data
        plot["x_pixel_size"] = 0.65
        plot["x_pixel_size"].attrs["units"] = "um"
        h5["entry/other"] = np.zeros((3, 3))
    with read_image(path) as image:
        assert image.dataset == "/entry/plot/volume"
        assert str(image.pixel_size) == "0.65 µm"
    with read_image(f"{path}:/entry/plot") as image:   # an NXdata group: its signal
        assert image.dataset == "/entry/plot/volume"


def test_hdf5_pixel_size_in_metres_without_unit_and_implausible_values(tmp_path):
    with h5py.File(tmp_path / "m.h5", "w") as h5:
        h5["recon"] = np.zeros((4, 4))
        h5["recon"].attrs["pixel_size"] = 5e-8
        h5["bad"] = np.zeros((4, 4))
        h5["bad"].attrs["pixel_size"] = 0.65       # almost surely µm, stored without its unit
    assert str(read_image(f"{tmp_path / 'm.h5'}:/recon").pixel_size) == "50 nm"
    bad = read_image(f"{tmp_path / 'm.h5'}:/bad")
    assert bad.pixel_size is None and "implausible" in bad.metadata["pixel_size_ignored"]


def test_edf_with_esrf_pixel_size(tmp_path):
    fabio = pytest.importorskip("fabio")
    from fabio.edfimage import EdfImage

    data = np.arange(30, dtype=np.float32).reshape(5, 6)
    EdfImage(data=data, header={"PSize_1": "7.5e-07", "PSize_2": "7.5e-07"}).write(str(tmp_path / "p.edf"))
    with read_image(tmp_path / "p.edf") as image:
        np.testing.assert_array_equal(image.read(), data)
        assert str(image.pixel_size) == "750 nm"
    assert fabio  # the optional reader was exercised


def test_zarr_array_group_and_ngff(tmp_path):
    zarr = pytest.importorskip("zarr")
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    array = group.create_array("vol", shape=data.shape, dtype="f4")
    array[:] = data
    array.attrs.update(pixel_size=12.5, pixel_size_units="nm")
    with read_image(f"{tmp_path / 's.zarr'}:/vol") as image:
        assert image.lazy and image.format == "zarr"
        np.testing.assert_array_equal(image.read(), data)
        assert str(image.pixel_size) == "12.5 nm"
    assert read_image(tmp_path / "s.zarr").shape == data.shape   # the group's only array
    ngff = zarr.open_group(str(tmp_path / "n.zarr"), mode="w")
    level = ngff.create_array("0", shape=data.shape, dtype="f4")
    level[:] = data
    ngff.attrs["multiscales"] = [{
        "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [0.2, 0.2, 0.2]}]}],
    }]
    assert str(read_image(tmp_path / "n.zarr").pixel_size) == "0.2 µm"


# ----------------------------------------------------------------------------- files are never modified

def test_reading_never_modifies_files(tmp_path, volume):
    names = ["a.npy", "a.tif", "a.h5", "a.mrc"]
    for name in names:
        write_image(tmp_path / name, volume, pixel_size=parse_length("1nm"))
    before = {name: _digest(tmp_path / name) for name in names}
    stamps = {name: (tmp_path / name).stat().st_mtime_ns for name in names}
    for name in names:
        with read_image(tmp_path / name) as image:
            image.read()
            with pytest.raises((ValueError, OSError, TypeError, RuntimeError)):
                image.data[0, 0, 0] = 99.0   # opened read-only
    assert {name: _digest(tmp_path / name) for name in names} == before
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in names} == stamps


# ----------------------------------------------------------------------------- bad input

def _truncate(path: Path, fraction: float = 0.5) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * fraction)])


def test_missing_file_and_unknown_extension(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.tif"):
        read_image(tmp_path / "nothere.tif")
    (tmp_path / "x.xyz").write_bytes(b"123")
    with pytest.raises(FileFormatError, match=r"x\.xyz.*unknown file extension"):
        read_image(tmp_path / "x.xyz")
    with pytest.raises(FileNotFoundError, match="no files match"):
        read_image(tmp_path / "none_*.tif")


def test_hdf5_paths(tmp_path):
    path = tmp_path / "f.h5"
    with h5py.File(path, "w") as h5:
        h5["group/a"] = np.zeros((4, 4))
        h5["group/b"] = np.zeros((5, 5))
        h5["text"] = "hello"
        h5["line"] = np.zeros(7)
    with pytest.raises(FileFormatError, match=r"f\.h5: has no dataset /nope"):
        read_image(f"{path}:/nope")
    with pytest.raises(FileFormatError, match="is a group, not an array"):
        read_image(f"{path}:/group")
    with pytest.raises(FileFormatError, match="not an image"):
        read_image(f"{path}:/text")
    with pytest.raises(FileFormatError, match="1-D"):
        read_image(f"{path}:/line")
    with pytest.raises(FileFormatError, match=r"several images \(/group/a, /group/b\)"):
        read_image(path)


@pytest.mark.parametrize("name", ["t.tif", "t.h5", "t.mrc", "t.npy", "t.edf"])
def test_truncated_files_are_refused(tmp_path, name):
    data = np.random.default_rng(1).standard_normal((10, 64, 64)).astype(np.float32)
    path = tmp_path / name
    if name.endswith(".edf"):
        pytest.importorskip("fabio")
        from fabio.edfimage import EdfImage

        EdfImage(data=data[0]).write(str(path))
    else:
        write_image(path, data, pixel_size=parse_length("1nm"))
    _truncate(path)
    with pytest.raises(FileFormatError, match=name.replace(".", r"\.")):
        with read_image(path) as image:
            image.read()


@pytest.mark.parametrize("name", ["g.tif", "g.h5", "g.mrc", "g.npy", "g.edf"])
def test_garbage_files_are_refused(tmp_path, name):
    if name.endswith(".edf"):
        pytest.importorskip("fabio")
    path = tmp_path / name
    path.write_bytes(b"this is not an image file at all " * 40)
    with pytest.raises(FileFormatError, match=name.replace(".", r"\.")):
        read_image(path)


def test_colour_tiff_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "rgb.tif", np.zeros((32, 32, 3), np.uint8), photometric="rgb")
    with pytest.raises(FileFormatError, match="colour or multi-channel"):
        read_image(tmp_path / "rgb.tif")


def test_truncated_compressed_tiff(tmp_path):
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, np.random.default_rng(0).random((128, 128), np.float32), compression="zlib")
    _truncate(path, 0.8)
    with pytest.raises(FileFormatError, match="truncated"):
        read_image(path)


# ----------------------------------------------------------------------------- atomic writers

@pytest.mark.parametrize("name", ["w.npy", "w.tif", "w.h5", "w.mrc"])
def test_failed_write_leaves_nothing_and_keeps_the_old_file(tmp_path, monkeypatch, volume, name):
    target = tmp_path / name
    write_image(target, volume, pixel_size=parse_length("1nm"))
    before = _digest(target)

    class Boom(RuntimeError):
        pass

    def explode(*args, **kwargs):
        raise Boom("disk full")

    import toupy.resolution.io._writers as writers

    monkeypatch.setattr(writers.np, "save", explode)
    monkeypatch.setattr(tifffile, "imwrite", explode)
    monkeypatch.setattr(h5py.File, "create_dataset", explode)
    monkeypatch.setattr(mrcfile.mrcfile.MrcFile, "set_data", explode)
    with pytest.raises(Boom):
        write_image(target, volume * 2, overwrite=True)
    assert _digest(target) == before
    assert _leftovers(tmp_path) == []


def test_writer_refuses_bad_requests(tmp_path, volume):
    with pytest.raises(FileFormatError, match="cannot write '.edf'"):
        write_image(tmp_path / "x.edf", volume)
    with pytest.raises(ValueError, match="2-D or 3-D"):
        write_image(tmp_path / "x.npy", np.zeros(5))
    write_image(tmp_path / "x.npy", volume)
    with pytest.raises(FileExistsError):
        write_image(tmp_path / "x.npy", volume, overwrite=False)
    with pytest.raises(TypeError, match="PixelSize"):
        write_image(tmp_path / "y.npy", volume, pixel_size=28.6)
