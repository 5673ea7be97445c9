"""Write maps (resolution maps, tomograms) with their pixel size, atomically.

A file target (NPY, TIFF, MRC, a new HDF5 file) is written to an anonymous
temporary in the target folder (a named ``.<name>.<pid>.<hex>.toupy-part``
where the platform has none) and linked into place when complete, so a
crash, a full disk or Ctrl-C never leaves a half-written file. A dataset
added to an existing HDF5 file is written under a temporary name beside its
final one and moved into place; every other object of the file is left as it
was. The free space is checked before writing, because HDF5 cannot recover
from a full disk (it crashes the interpreter when closing a chunked dataset).
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import uuid
import warnings
from pathlib import Path

import numpy as np

from ._atomic import DiskFullError, atomic_path, atomic_stream, check_free_space, disk_full_reason
from ._readers import H5_TEMPORARY_SUFFIX, FileFormatError, _format_of, _one_line, sidecar_path, split_spec
from ._units import PixelSize

__all__ = ["write_image", "WRITABLE", "DiskFullError"]

#: formats :func:`write_image` produces (by extension)
WRITABLE = (".npy", ".tif", ".tiff", ".h5", ".hdf5", ".nxs", ".mrc", ".map")

# ImageJ hyperstacks hold only these types; other types are written as OME-TIFF
_IMAGEJ_TYPES = (np.uint8, np.uint16, np.float32)

# room for headers, HDF5 metadata and chunk indexes on top of the array's bytes
_MARGIN_BYTES = 1 << 16


def _needed_bytes(nbytes: int) -> int:
    return int(nbytes) + nbytes // 100 + _MARGIN_BYTES


@contextlib.contextmanager
def _temporary_path(path: Path):
    """A named temporary path for ``path``, renamed over it if the block succeeds.

    Kept for callers that open the path with h5py (HDF5 2 refuses the
    ``/proc/self/fd`` path of an anonymous file); new code uses
    :func:`toupy.resolution.io._atomic.atomic_path` or :func:`write_image`.
    """
    with atomic_path(Path(path), anonymous=False) as tmp:
        yield tmp


def write_image(
    path,
    array,
    *,
    pixel_size: PixelSize | None = None,
    attrs: dict | None = None,
    overwrite: bool = False,
    compress: bool = False,
) -> Path:
    """Write a 2-D or 3-D array with its pixel size; the file appears complete or not at all.

    Parameters
    ----------
    path : str or path
        Target file; the extension chooses the format:

        - ``.npy``: the array; the pixel size (and ``attrs``) go to a JSON
          side file ``<name>.npy.json`` that :func:`read_image` reads back;
        - ``.tif``/``.tiff``: ImageJ hyperstack with calibrated spacing for
          uint8/uint16/float32, OME-TIFF with ``PhysicalSize`` otherwise
          (ImageJ cannot hold other types); both open calibrated in Fiji;
        - ``.h5``/``.hdf5``/``.nxs``, optionally ``file.h5:/group/name``
          (default dataset ``/data``): the dataset carries attributes
          ``pixel_size`` and ``pixel_size_units`` plus ``attrs``. A new file
          holds that dataset only; in an existing HDF5 file the dataset is
          *added* and every other object is left untouched;
        - ``.mrc``/``.map``: float32/int16/uint8/uint16/complex64 data and
          the voxel size in Å in the header (other types are converted to
          float32).
    array : array-like
        2-D or 3-D numbers (bool, integer, float or complex).
    pixel_size : PixelSize, optional
        Stored in the format's own metadata.
    attrs : dict, optional
        Extra JSON-safe metadata (e.g. ``{"quantity": "local resolution", "units": "px"}``),
        stored where the format allows (HDF5 attributes, NPY side file, TIFF description).
    overwrite : bool
        What to do when the target exists. False (default): raise
        ``FileExistsError`` (for HDF5: when the *dataset* exists; an existing
        file without it is added to). True: replace the file (NPY, TIFF,
        MRC) or the dataset (HDF5; the rest of the file is kept, and the
        file grows by the new dataset because HDF5 does not give back the
        space of the one it replaces; ``h5repack`` reclaims it).
    compress : bool
        Lossless zlib (TIFF) or gzip (HDF5) compression: worth it for smooth
        maps and masks, useless for noisy data, and such files are read whole
        instead of memory-mapped. Ignored for NPY and MRC.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DiskFullError
        The disk or quota is full (checked before writing, and caught while
        writing); a subclass of ``OSError`` whose message names the target.
        Nothing is left behind and an existing target is unchanged.
    FileExistsError
        The target (HDF5: the dataset) exists and ``overwrite`` is False.
    TypeError
        ``array`` does not hold numbers, ``pixel_size`` is not a
        :class:`PixelSize`, or ``attrs`` is not a dict of JSON-safe values.
    FileFormatError
        An extension that cannot be written, or an existing file that is not
        HDF5 named as an HDF5 target.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from toupy.resolution.io import write_image, read_image, parse_length
    >>> target = os.path.join(tempfile.mkdtemp(), "resmap.h5:/local_resolution")
    >>> _ = write_image(target, np.ones((8, 8), np.float32), pixel_size=parse_length("2.1A"))
    >>> read_image(target).pixel_size.value
    2.1
    """
    file, inner = split_spec(path)
    fmt = _format_of(file)
    suffix = file.suffix.lower()
    if suffix not in WRITABLE:
        raise FileFormatError(f"{file}: cannot write {suffix!r} files; use one of {', '.join(WRITABLE)}")
    if inner is not None and fmt != "hdf5":
        raise FileFormatError(f"{file}: only HDF5 files take ':/dataset' after the name")
    data = _checked_array(array)
    if pixel_size is not None and not isinstance(pixel_size, PixelSize):
        raise TypeError(f"pixel_size must be a toupy.resolution.io.PixelSize (see parse_length); got {type(pixel_size).__name__}")
    attrs = _checked_attrs(attrs)
    if fmt == "hdf5":
        _write_hdf5(file, inner or "/data", data, pixel_size, attrs, compress=compress, overwrite=overwrite)
        return file
    if file.exists() and not overwrite:
        raise FileExistsError(f"{file}: exists (pass overwrite=True to replace it)")
    if fmt == "npy":
        _write_npy(file, data, pixel_size, attrs, overwrite)
    elif fmt == "tiff":
        _write_tiff(file, data, pixel_size, attrs, compress, overwrite)
    else:
        _write_mrc(file, data, pixel_size, overwrite)
    return file


def _checked_array(array) -> np.ndarray:
    """``array`` as an ndarray of numbers, 2-D or 3-D; TypeError/ValueError naming ``array`` otherwise."""
    try:
        data = np.asarray(array)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"array must be a 2-D or 3-D array of numbers; {_one_line(exc)}") from None
    if data.dtype.kind not in "biufc":
        raise TypeError(f"array must hold numbers (bool, integer, float or complex); got dtype {data.dtype}")
    if data.ndim not in (2, 3):
        raise ValueError(f"array must be 2-D or 3-D to be written as an image; got shape {data.shape}")
    return data


def _checked_attrs(attrs) -> dict:
    """A copy of ``attrs`` with NumPy scalars and arrays made plain; TypeError for anything not JSON-safe."""
    if attrs is None:
        return {}
    if not isinstance(attrs, dict):
        raise TypeError(f"attrs must be a dict of JSON-safe values; got {type(attrs).__name__}")
    plain = {}
    for key, value in attrs.items():
        if not isinstance(key, str):
            raise TypeError(f"attrs keys must be strings; got {key!r} ({type(key).__name__})")
        if isinstance(value, (np.generic, np.ndarray)):
            value = value.tolist()
        try:
            json.dumps(value, allow_nan=True)
        except (TypeError, ValueError):
            raise TypeError(
                f"attrs[{key!r}] must be JSON-safe (str, number, bool, None, list, dict); "
                f"got {type(value).__name__}"
            ) from None
        plain[key] = value
    return plain


def _write_npy(file: Path, data, pixel_size, attrs, overwrite: bool) -> None:
    side = sidecar_path(file)
    info = dict(attrs)
    if pixel_size is not None:
        info["pixel_size"] = {"value": pixel_size.value, "unit": pixel_size.unit}
    check_free_space(file, _needed_bytes(data.nbytes))
    # both temporaries are complete before either is linked: an array never
    # gets the side file (pixel size) of another run
    with contextlib.ExitStack() as stack:
        if info:
            meta = stack.enter_context(atomic_stream(side, "w"))
            json.dump(info, meta, indent=2, ensure_ascii=False)
        with atomic_stream(file, "wb", overwrite=overwrite) as stream:
            np.save(stream, data, allow_pickle=False)
    if not info and side.exists():
        side.unlink()  # a stale side file would give the new array an old pixel size


def _write_tiff(file: Path, data, pixel_size, attrs, compress: bool, overwrite: bool) -> None:
    import tifffile

    axes = "ZYX" if data.ndim == 3 else "YX"
    description = json.dumps(attrs, ensure_ascii=True) if attrs else None
    packing = {"compression": "zlib"} if compress else {}  # zlib is built in; predictors need imagecodecs
    if not compress:
        check_free_space(file, _needed_bytes(data.nbytes))
    # tifffile resolves a path it is given, so it gets the open temporary instead
    with atomic_stream(file, "w+b", overwrite=overwrite) as stream:
        if data.dtype.type in _IMAGEJ_TYPES:
            metadata = {"axes": axes}
            kwargs = {}
            if pixel_size is not None:
                unit = "micron" if pixel_size.unit == "µm" else ("A" if pixel_size.unit == "Å" else pixel_size.unit)
                metadata.update(unit=unit, spacing=pixel_size.value)
                kwargs["resolution"] = (1.0 / pixel_size.value, 1.0 / pixel_size.value)
            if description:
                metadata["Info"] = description
            tifffile.imwrite(stream, data, imagej=True, metadata=metadata, **kwargs, **packing)
        else:
            metadata = {"axes": axes}
            if pixel_size is not None:
                for axis in ("X", "Y", "Z")[: data.ndim]:
                    metadata[f"PhysicalSize{axis}"] = pixel_size.value
                    metadata[f"PhysicalSize{axis}Unit"] = pixel_size.unit
            if description:
                metadata["Description"] = description
            tifffile.imwrite(stream, data, ome=True, metadata=metadata, **packing)


def _write_mrc(file: Path, data, pixel_size, overwrite: bool) -> None:
    import mrcfile

    if data.dtype not in (np.float32, np.int16, np.uint8, np.uint16, np.complex64, np.int8):
        data = data.astype(np.complex64 if data.dtype.kind == "c" else np.float32)
    check_free_space(file, _needed_bytes(data.nbytes))
    with atomic_path(file, overwrite=overwrite) as tmp:
        mrc = mrcfile.new(tmp, overwrite=True)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                mrc.set_data(data)
            if caught and data.dtype.kind == "f":
                # NaN outside a mask is how maps say 'no value': state the range of the values there are
                _finite_header_stats(mrc, data)
            if pixel_size is not None:
                mrc.voxel_size = pixel_size.to("Å")
            mrc.close()
        except BaseException:
            # close() flushes first and, on a full disk, fails before releasing the file:
            # release it here or the discarded temporary keeps its disk space
            with contextlib.suppress(Exception):
                mrc._iostream.close()
            raise


def _finite_header_stats(mrc, data: np.ndarray) -> None:
    finite = np.isfinite(data)
    if not finite.any():
        mrc.reset_header_stats()
        return
    values = data[finite]
    mrc.header.dmin, mrc.header.dmax = np.float32(values.min()), np.float32(values.max())
    mrc.header.dmean = np.float32(values.mean(dtype=np.float64))
    mrc.header.rms = np.float32(values.std(dtype=np.float64))


# ---------------------------------------------------------------- HDF5

def _h5_attributes(node, pixel_size, attrs) -> None:
    if pixel_size is not None:
        node.attrs["pixel_size"] = pixel_size.value
        node.attrs["pixel_size_units"] = pixel_size.unit
    for key, value in attrs.items():
        node.attrs[key] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)


def _write_hdf5(file: Path, dataset: str, data, pixel_size, attrs, *, compress: bool, overwrite: bool) -> None:
    dataset = "/" + dataset.strip("/")
    if dataset == "/":
        raise FileFormatError(f"{file}: name the dataset to write after the colon, e.g. {file}:/data")
    packing = {"compression": "gzip", "shuffle": True} if compress else {}
    memory = _h5_in_memory(dataset, data, pixel_size, attrs, packing) if compress else None
    try:
        stored = memory[dataset].id.get_storage_size() if memory is not None else data.nbytes
        if file.exists():
            _add_to_hdf5(file, dataset, data, pixel_size, attrs, memory, stored, overwrite=overwrite)
        else:
            _new_hdf5(file, dataset, data, pixel_size, attrs, memory, stored)
    finally:
        if memory is not None:
            memory.close()


def _h5_in_memory(dataset, data, pixel_size, attrs, packing):
    """The dataset compressed in an HDF5 file held in memory: its stored size is then known exactly."""
    import h5py

    memory = h5py.File(f"toupy-{uuid.uuid4().hex}.h5", "w", driver="core", backing_store=False)
    node = memory.create_dataset(dataset, data=data, **packing)
    _h5_attributes(node, pixel_size, attrs)
    memory.flush()
    return memory


def _new_hdf5(file: Path, dataset, data, pixel_size, attrs, memory, stored: int) -> None:
    import h5py

    check_free_space(file, _needed_bytes(stored))
    with atomic_stream(file, "w+b", overwrite=False) as stream:
        if memory is not None:
            stream.write(memory.id.get_file_image())
            return
        # HDF5 2 refuses the /proc path of an anonymous file: it writes through the open file
        with h5py.File(stream, "w") as h5:
            _h5_attributes(h5.create_dataset(dataset, data=data), pixel_size, attrs)


def _open_for_adding(file: Path):
    import h5py

    try:
        return h5py.File(file, "r+")
    except OSError as exc:
        if not h5py.is_hdf5(file):
            raise FileFormatError(
                f"{file}: exists and is not an HDF5 file; a dataset can only be added to an HDF5 file "
                "(remove it or choose another name)"
            ) from None
        raise OSError(
            f"{file}: cannot open to add a dataset ({_one_line(exc)}); "
            "close the programs (or the open images) that hold it"
        ) from None


def _add_to_hdf5(file: Path, dataset, data, pixel_size, attrs, memory, stored: int, *, overwrite: bool) -> None:
    """Add (or with ``overwrite`` replace) one dataset of an existing HDF5 file; nothing else changes."""
    import h5py

    parent, name = posixpath.split(dataset)
    temporary = posixpath.join(parent, f".{name}{H5_TEMPORARY_SUFFIX}")
    h5 = _open_for_adding(file)
    try:
        if temporary in h5:
            del h5[temporary]  # left by a killed run: its own name, never a user's object
        if dataset in h5:
            if not overwrite:
                raise FileExistsError(f"{file}:{dataset}: exists (pass overwrite=True to replace it)")
            if not isinstance(h5.get(dataset, getlink=False), h5py.Dataset):
                raise FileExistsError(f"{file}:{dataset}: is a group, not a dataset; it is never replaced")
        check_free_space(file, _needed_bytes(stored))
        created = _first_missing_group(h5, parent)
        try:
            if memory is not None:
                memory.copy(memory[dataset], h5.require_group(parent), name=posixpath.basename(temporary))
            else:
                _h5_attributes(h5.create_dataset(temporary, data=data), pixel_size, attrs)
            h5.flush()
            if dataset in h5:
                del h5[dataset]
            h5.move(temporary, dataset)
            h5.flush()
        except BaseException:
            with contextlib.suppress(Exception):
                if temporary in h5:
                    del h5[temporary]
                if created is not None and created in h5:
                    del h5[created]
            raise
    except DiskFullError:
        raise
    except (OSError, RuntimeError) as exc:
        full = disk_full_reason(exc)
        if full:
            raise DiskFullError(file, *full) from exc
        raise
    finally:
        h5.close()


def _first_missing_group(h5, parent: str) -> str | None:
    """The outermost group of ``parent`` that does not exist yet (removed again if the write fails)."""
    path = ""
    for part in parent.strip("/").split("/"):
        if not part:
            continue
        path = f"{path}/{part}"
        if path not in h5:
            return path
    return None
