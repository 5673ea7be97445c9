"""toupy.resolution.io.write_image: adding to HDF5 files, full disks, killed runs, bad arguments.

The known answers are bytes: the SHA-256 of every object of an HDF5 file (data
and attributes) before and after a dataset is added, the bytes of a target
that a failed write must not change, and the folder listing that a killed run
must leave empty.
"""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from toupy.resolution.io import DiskFullError, FileFormatError, parse_length, read_image, write_image
from toupy.resolution.io import _atomic

h5py = pytest.importorskip("h5py")
tifffile = pytest.importorskip("tifffile")
mrcfile = pytest.importorskip("mrcfile")

FORMATS = ("m.npy", "m.tif", "m.h5", "m.mrc")


@pytest.fixture
def volume():
    return np.random.default_rng(5).standard_normal((6, 16, 20)).astype(np.float32)


def _objects(path: Path) -> dict[str, str]:
    """SHA-256 of every group and dataset of an HDF5 file: its values, dtype, shape and attributes."""
    digests = {}

    def visit(name, obj):
        digest = hashlib.sha256()
        if isinstance(obj, h5py.Dataset):
            digest.update(np.asarray(obj[()]).tobytes() + str((obj.dtype, obj.shape)).encode())
        for key in sorted(obj.attrs):
            digest.update(key.encode() + np.asarray(obj.attrs[key]).tobytes())
        digests[name] = digest.hexdigest()

    with h5py.File(path, "r") as h5:
        visit("/", h5)
        h5.visititems(visit)
    return digests


def _bytes(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scan(path: Path, raw: np.ndarray) -> None:
    """A NeXus-like scan file of another program: raw data, metadata, strings, a link."""
    with h5py.File(path, "w") as h5:
        entry = h5.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.create_dataset("raw", data=raw, chunks=(1, 16, 20), compression="gzip")
        entry["raw"].attrs["units"] = "counts"
        entry["title"] = "tomography of a test sample"
        entry.create_group("instrument/detector")["x_pixel_size"] = 6.5e-7
        entry["angles"] = np.linspace(0, 180, 7)
        entry["data"] = h5py.SoftLink("/entry/raw")


def _visible_and_temporary(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ----------------------------------------------------------------------------- HDF5: add, never wipe

@pytest.mark.parametrize("compress", [False, True])
def test_writing_into_an_existing_hdf5_file_adds_that_dataset_only(tmp_path, volume, compress):
    path = tmp_path / "scan.h5"
    raw = (volume * 100).astype(np.int32)
    _scan(path, raw)
    before = _objects(path)
    resmap = volume[:, :8] + 10
    write_image(f"{path}:/entry/resmap", resmap, pixel_size=parse_length("2.1A"),
                attrs={"quantity": "local resolution"}, compress=compress)
    after = _objects(path)
    assert set(after) == set(before) | {"entry/resmap"}
    assert {name: after[name] for name in before} == before
    with read_image(f"{path}:/entry/resmap") as image:
        np.testing.assert_array_equal(image.read(), resmap)
        assert str(image.pixel_size) == "2.1 Å"
    with h5py.File(path) as h5:
        assert h5["entry/resmap"].attrs["quantity"] == "local resolution"
        np.testing.assert_array_equal(h5["entry/raw"][()], raw)
        names = []
        h5.visit(names.append)
    assert not [name for name in names if "toupy-part" in name]


def test_an_existing_dataset_is_refused_unless_overwrite_and_then_only_it_changes(tmp_path, volume):
    path = tmp_path / "scan.h5"
    _scan(path, (volume * 100).astype(np.int32))
    write_image(f"{path}:/entry/resmap", volume)
    whole = _bytes(path)
    with pytest.raises(FileExistsError, match=r"scan\.h5:/entry/resmap: exists.*overwrite=True"):
        write_image(f"{path}:/entry/resmap", volume * 2)
    assert _bytes(path) == whole
    before = _objects(path)
    write_image(f"{path}:/entry/resmap", volume * 2, overwrite=True)
    after = _objects(path)
    assert after["entry/resmap"] != before["entry/resmap"]
    assert {k: v for k, v in after.items() if k != "entry/resmap"} == {
        k: v for k, v in before.items() if k != "entry/resmap"}
    np.testing.assert_array_equal(read_image(f"{path}:/entry/resmap").read(), volume * 2)
    # a group is never replaced by a dataset
    with pytest.raises(FileExistsError, match="is a group"):
        write_image(f"{path}:/entry/instrument", volume, overwrite=True)


def test_a_new_hdf5_file_holds_the_dataset_only(tmp_path, volume):
    path = tmp_path / "new.h5"
    write_image(f"{path}:/entry/map", volume)
    assert set(_objects(path)) == {"/", "entry", "entry/map"}
    assert _visible_and_temporary(tmp_path) == ["new.h5"]


def test_an_existing_file_that_is_not_hdf5_is_never_touched(tmp_path, volume):
    path = tmp_path / "notes.h5"
    path.write_text("my notes, not HDF5")
    for overwrite in (False, True):
        with pytest.raises(FileFormatError, match=r"notes\.h5: exists and is not an HDF5 file"):
            write_image(path, volume, overwrite=overwrite)
    assert path.read_text() == "my notes, not HDF5"


def test_a_failed_add_leaves_the_file_as_it_was(tmp_path, monkeypatch, volume):
    path = tmp_path / "scan.h5"
    _scan(path, (volume * 100).astype(np.int32))
    before = _objects(path)

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure inside HDF5")

    monkeypatch.setattr(h5py.Group, "create_dataset", explode)
    with pytest.raises(RuntimeError, match="simulated"):
        write_image(f"{path}:/results/new/resmap", volume)    # two groups to create first
    monkeypatch.undo()
    assert _objects(path) == before                            # not even the empty groups remain


def test_a_stale_temporary_dataset_of_a_killed_run_is_ignored_then_removed(tmp_path, volume):
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as h5:
        h5["entry/raw"] = volume
        h5["entry/.resmap.toupy-part"] = volume[:2]   # what a run killed while adding leaves
    with read_image(path) as image:                    # not counted as a second image
        assert image.dataset == "/entry/raw"
    write_image(f"{path}:/entry/resmap", volume[:3])
    assert set(_objects(path)) == {"/", "entry", "entry/raw", "entry/resmap"}


# ----------------------------------------------------------------------------- file targets

@pytest.mark.parametrize("name", FORMATS)
def test_existing_files_are_refused_by_default_and_replaced_with_overwrite(tmp_path, volume, name):
    target = tmp_path / name
    write_image(target, volume)
    before = _bytes(target)
    with pytest.raises(FileExistsError, match=name.replace(".", r"\.")):
        write_image(target, volume * 3)
    assert _bytes(target) == before
    write_image(target, volume * 3, overwrite=True)   # HDF5: the dataset /data is replaced
    np.testing.assert_array_equal(read_image(target).read(), volume * 3)
    assert _visible_and_temporary(tmp_path) == [name]


@pytest.mark.parametrize("name", FORMATS)
def test_files_get_the_usual_permissions(tmp_path, volume, name):
    umask = os.umask(0o027)
    try:
        write_image(tmp_path / name, volume)
    finally:
        os.umask(umask)
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o640


# ----------------------------------------------------------------------------- full disks

@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("compress", [False, True])
def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch, volume, name, compress):
    target = tmp_path / name
    if name.endswith(".h5"):
        _scan(target, (volume * 100).astype(np.int32))
    else:
        write_image(target, volume)
    before = _bytes(target)
    monkeypatch.setattr(_atomic, "free_bytes", lambda folder: 1000)
    if compress and name.endswith(".tif"):
        pytest.skip("a compressed TIFF's size is unknown before writing; caught while writing instead")
    with pytest.raises(DiskFullError) as caught:
        write_image(f"{target}:/entry/resmap" if name.endswith(".h5") else target, volume * 2,
                    overwrite=True, compress=compress)
    message = str(caught.value)
    assert message.startswith(str(target)) and "disk is full" in message and "\n" not in message
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)
    import pickle

    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == message and again.errno == errno.ENOSPC and again.filename == str(target)
    assert _bytes(target) == before
    assert _visible_and_temporary(tmp_path) == [name]


@pytest.mark.parametrize("failure", [
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    OSError(errno.EFBIG, "File too large"),
    OSError("262144 requested and 102368 written"),            # numpy's tofile on a full disk
])
@pytest.mark.parametrize("name", ["m.npy", "m.tif"])
def test_a_disk_that_fills_while_writing_gives_one_line_naming_the_target(tmp_path, monkeypatch, volume,
                                                                         failure, name):
    target = tmp_path / name
    write_image(target, volume)
    before = _bytes(target)

    def fill(stream, *args, **kwargs):
        stream.write(b"\0" * 4096)
        raise failure

    monkeypatch.setattr(np, "save", fill)
    monkeypatch.setattr(tifffile, "imwrite", fill)
    with pytest.raises(DiskFullError) as caught:
        write_image(target, volume * 2, overwrite=True)
    message = str(caught.value)
    assert message.startswith(f"{target}: cannot write: the disk is full")
    assert "proc/self" not in message and "toupy-part" not in message
    assert caught.value.errno == (failure.errno or errno.ENOSPC)
    assert _bytes(target) == before
    assert _visible_and_temporary(tmp_path) == [name]


@pytest.fixture
def small_disk():
    """A 1 MiB tmpfs (root only): a real full disk."""
    folder = Path(f"/tmp/toupy-small-disk-{uuid.uuid4().hex[:8]}")
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    if not mounted:
        folder.rmdir()
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


@pytest.mark.parametrize("name, compress", [("a.npy", False), ("a.tif", False), ("a.tif", True),
                                            ("a.mrc", False), ("a.h5", False), ("a.h5", True)])
@pytest.mark.parametrize("checked", [True, False])
def test_a_real_full_disk(small_disk, monkeypatch, name, compress, checked):
    """1.9 MiB of noise on a 1 MiB disk: one DiskFullError, nothing left, all the space given back.
    Unchecked, the free-space test is skipped, so the error comes from the write itself."""
    import toupy.resolution.io._writers as writers

    if not checked:
        monkeypatch.setattr(writers, "check_free_space", lambda *args: None)
    data = np.random.default_rng(0).random((30, 128, 128)).astype(np.float32)
    free = os.statvfs(small_disk).f_bfree
    with pytest.raises(DiskFullError, match=rf"{name.replace('.', '[.]')}: cannot write: the disk is full"):
        write_image(small_disk / name, data, compress=compress)
    assert os.listdir(small_disk) == []
    assert os.statvfs(small_disk).f_bfree == free


# ----------------------------------------------------------------------------- killed runs

_DYING_WRITER = """
import os, signal, sys
import numpy as np
if sys.argv[2] == "named":
    del os.O_TMPFILE                      # a platform without anonymous files
from toupy.resolution.io import write_image

def dying(stream, *args, **kwargs):
    stream.write(b"half of an array" * 1000)
    stream.flush()
    os.kill(os.getpid(), signal.SIGKILL)

np.save = dying
write_image(sys.argv[1], np.zeros((8, 8), np.float32), overwrite=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("temporary", ["anonymous", "named"])
def test_a_run_killed_while_writing_leaves_no_visible_partial_file(tmp_path, volume, temporary):
    if temporary == "anonymous" and not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE on this platform")
    target = tmp_path / "map.npy"
    write_image(target, volume)
    before = _bytes(target)
    run = subprocess.run([sys.executable, "-c", _DYING_WRITER, str(target), temporary], capture_output=True)
    assert run.returncode == -9, run.stderr.decode()
    assert _bytes(target) == before
    left = _visible_and_temporary(tmp_path)
    if temporary == "anonymous":
        assert left == ["map.npy"]
    else:
        assert len(left) == 2 and left[0].startswith(".map.npy.") and left[0].endswith(".toupy-part")
        write_image(target, volume * 2, overwrite=True)      # the next run removes it
        assert _visible_and_temporary(tmp_path) == ["map.npy"]


def test_only_stale_temporaries_of_the_target_are_removed(tmp_path):
    target = tmp_path / "map.tif"
    old = time.time() - 2 * 3600
    live = tmp_path / f".map.tif.{os.getpid()}.00ff.toupy-part"           # this process: in use
    legacy_old = tmp_path / ".map.tif.ab12cd34.tmp"                          # earlier version, stale
    legacy_new = tmp_path / ".map.tif.ef56gh78.tmp"                          # earlier version, recent
    other = tmp_path / ".other.tif.1.00ff.toupy-part"                        # another target's
    mine = tmp_path / "map.tif.1.00ff.toupy-part"                            # not hidden: not ours
    for path in (live, legacy_old, legacy_new, other, mine):
        path.write_bytes(b"x")
    os.utime(legacy_old, (old, old))
    removed = _atomic.remove_stale_temporaries(target)
    assert removed == [legacy_old]
    assert all(p.exists() for p in (live, legacy_new, other, mine))


# ----------------------------------------------------------------------------- errors name the target

def test_other_write_errors_name_the_target_not_the_temporary(tmp_path, monkeypatch, volume):
    target = tmp_path / "denied.tif"

    def refuse(stream, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", getattr(stream, "name", "/proc/self/fd/9"))

    monkeypatch.setattr(tifffile, "imwrite", refuse)
    with pytest.raises(OSError) as caught:
        write_image(target, volume)
    message = str(caught.value)
    assert message.startswith(f"{target}: cannot write") and "Permission denied" in message
    assert "/proc/self/fd" not in message and "toupy-part" not in message
    assert not isinstance(caught.value, DiskFullError)
    assert _visible_and_temporary(tmp_path) == []


@pytest.mark.parametrize("array, match", [
    (np.array([[object(), 1], [2, 3]], dtype=object), "array must hold numbers.*object"),
    (np.array([["a", "b"], ["c", "d"]]), "array must hold numbers.*<U1"),
])
def test_arrays_that_are_not_numbers_are_a_type_error(tmp_path, array, match):
    with pytest.raises(TypeError, match=match):
        write_image(tmp_path / "x.npy", array)
    assert _visible_and_temporary(tmp_path) == []


@pytest.mark.parametrize("attrs, match", [
    ({"when": object()}, r"attrs\['when'\] must be JSON-safe.*object"),
    ({"path": Path("/x")}, r"attrs\['path'\] must be JSON-safe"),
    ({1: "x"}, "attrs keys must be strings"),
    (["not", "a", "dict"], "attrs must be a dict"),
])
def test_attributes_that_are_not_json_are_a_type_error(tmp_path, volume, attrs, match):
    for name in ("x.npy", "x.h5", "x.tif"):
        with pytest.raises(TypeError, match=match):
            write_image(tmp_path / name, volume, attrs=attrs)
    assert _visible_and_temporary(tmp_path) == []


def test_numpy_values_in_attributes_are_stored_as_plain_numbers(tmp_path, volume):
    write_image(tmp_path / "n.npy", volume, attrs={"threshold": np.float32(0.5), "shells": np.arange(3)})
    import json

    assert json.loads((tmp_path / "n.npy.json").read_text()) == {"threshold": 0.5, "shells": [0, 1, 2]}


def test_mrc_maps_with_nan_outside_the_mask_write_quietly_with_finite_header_stats(tmp_path, volume):
    import warnings

    data = volume.copy()
    data[:, :3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "nan.mrc", data)
    with mrcfile.open(tmp_path / "nan.mrc") as mrc:
        finite = data[np.isfinite(data)]
        assert mrc.header.dmin == np.float32(finite.min()) and mrc.header.dmax == np.float32(finite.max())
        assert float(mrc.header.dmean) == pytest.approx(float(finite.mean()), rel=1e-5)
        np.testing.assert_array_equal(mrc.data, data)


def test_atomic_write_of_text_files(tmp_path):
    from toupy.resolution.io._atomic import atomic_stream

    target = tmp_path / "summary.json"
    with atomic_stream(target, "w") as stream:
        stream.write('{"resolution": "28.6 µm"}')
    assert target.read_text(encoding="utf-8") == '{"resolution": "28.6 µm"}'
    with pytest.raises(KeyboardInterrupt):
        with atomic_stream(target, "w") as stream:
            stream.write("half")
            raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == '{"resolution": "28.6 µm"}'
    assert _visible_and_temporary(tmp_path) == ["summary.json"]
