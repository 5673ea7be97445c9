"""Write maps (resolution maps, tomograms) with their pixel size, atomically.

Every writer produces the file under a temporary name in the target folder
and renames it over the target only when it is complete, so a crash, a full
disk or Ctrl-C never leaves a half-written file, and an existing file is
replaced in one step.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ._readers import FileFormatError, _format_of, sidecar_path, split_spec
from ._units import PixelSize

__all__ = ["write_image", "WRITABLE"]

#: formats :func:`write_image` produces (by extension)
WRITABLE = (".npy", ".tif", ".tiff", ".h5", ".hdf5", ".nxs", ".mrc", ".map")

# ImageJ hyperstacks hold only these types; other types are written as OME-TIFF
_IMAGEJ_TYPES = (np.uint8, np.uint16, np.float32)


@contextlib.contextmanager
def _temporary_path(path: Path):
    """A fresh temporary path next to ``path``, renamed over it if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_image(
    path,
    array,
    *,
    pixel_size: PixelSize | None = None,
    attrs: dict | None = None,
    overwrite: bool = True,
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
          ``pixel_size`` and ``pixel_size_units`` plus ``attrs``;
        - ``.mrc``/``.map``: float32/int16/uint8/uint16/complex64 data and
          the voxel size in Å in the header (other types are converted to
          float32).
    array : array-like
        2-D or 3-D data.
    pixel_size : PixelSize, optional
        Stored in the format's own metadata.
    attrs : dict, optional
        Extra JSON-safe metadata (e.g. ``{"quantity": "local resolution", "units": "px"}``),
        stored where the format allows (HDF5 attributes, NPY side file, TIFF description).
    overwrite : bool
        Replace an existing file (default). With False an existing file raises
        ``FileExistsError``.
    compress : bool
        Lossless zlib (TIFF) or gzip (HDF5) compression: worth it for smooth
        maps and masks, useless for noisy data, and such files are read whole
        instead of memory-mapped. Ignored for NPY and MRC.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from toupy.io import write_image, read_image, parse_length
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
    data = np.asarray(array)
    if data.ndim not in (2, 3):
        raise ValueError(f"array must be 2-D or 3-D to be written as an image; got shape {data.shape}")
    if file.exists() and not overwrite:
        raise FileExistsError(f"{file}: exists (pass overwrite=True to replace it)")
    if pixel_size is not None and not isinstance(pixel_size, PixelSize):
        raise TypeError(f"pixel_size must be a toupy.io.PixelSize (see parse_length); got {type(pixel_size).__name__}")
    attrs = dict(attrs or {})
    if fmt == "npy":
        _write_npy(file, data, pixel_size, attrs)
    elif fmt == "tiff":
        _write_tiff(file, data, pixel_size, attrs, compress)
    elif fmt == "hdf5":
        _write_hdf5(file, inner or "/data", data, pixel_size, attrs, compress)
    else:
        _write_mrc(file, data, pixel_size)
    return file


def _write_npy(file: Path, data, pixel_size, attrs) -> None:
    from toupy.resolution._files import atomic_write

    side = sidecar_path(file)
    info = dict(attrs)
    if pixel_size is not None:
        info["pixel_size"] = {"value": pixel_size.value, "unit": pixel_size.unit}
    with atomic_write(file, "wb") as stream:
        np.save(stream, data, allow_pickle=False)
    if info:
        with atomic_write(side, "w") as stream:
            json.dump(info, stream, indent=2, ensure_ascii=False)
    elif side.exists():
        side.unlink()  # a stale side file would give the new array an old pixel size


def _write_tiff(file: Path, data, pixel_size, attrs, compress: bool) -> None:
    import tifffile

    axes = "ZYX" if data.ndim == 3 else "YX"
    description = json.dumps(attrs, ensure_ascii=True) if attrs else None
    packing = {"compression": "zlib"} if compress else {}  # zlib is built in; predictors need imagecodecs
    with _temporary_path(file) as stream:
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


def _write_hdf5(file: Path, dataset: str, data, pixel_size, attrs, compress: bool) -> None:
    import h5py

    packing = {"compression": "gzip", "shuffle": True} if compress else {}
    with _temporary_path(file) as tmp:
        with h5py.File(tmp, "w") as h5:
            node = h5.create_dataset(dataset, data=data, **packing)
            if pixel_size is not None:
                node.attrs["pixel_size"] = pixel_size.value
                node.attrs["pixel_size_units"] = pixel_size.unit
            for key, value in attrs.items():
                node.attrs[key] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)


def _write_mrc(file: Path, data, pixel_size) -> None:
    import mrcfile

    if data.dtype not in (np.float32, np.int16, np.uint8, np.uint16, np.complex64, np.int8):
        data = data.astype(np.complex64 if data.dtype.kind == "c" else np.float32)
    with _temporary_path(file) as tmp:
        with mrcfile.new(tmp, overwrite=True) as mrc:
            mrc.set_data(data)
            if pixel_size is not None:
                mrc.voxel_size = pixel_size.to("Å")
