"""Open an image or volume by file name, with its pixel size when the file states it.

One reader per format, chosen by extension. Every reader opens its file
read-only, checks that the file is complete, and returns an
:class:`ImageFile` whose ``data`` is sliceable without loading the whole
array where the format allows it (``numpy.memmap`` for NPY, MRC and
uncompressed TIFF; ``h5py.Dataset``; zarr arrays; a zarr view of a TIFF
sequence when zarr is installed). Optional libraries are imported only when
their format is read, with a message that says what to install.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import json
import logging
import math
import os
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from ._units import PixelSize, normalise_unit, parse_length

__all__ = ["ImageFile", "FileFormatError", "read_image", "split_spec", "FORMATS"]

#: extension → format name
FORMATS = {
    ".tif": "tiff", ".tiff": "tiff",
    ".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".nxs": "hdf5", ".nx5": "hdf5", ".cxi": "hdf5",
    ".mrc": "mrc", ".map": "mrc", ".mrcs": "mrc", ".rec": "mrc",
    ".edf": "edf", ".edf.gz": "edf",  # beamlines gzip EDF frames; fabio reads them whole
    ".npy": "npy",
    ".zarr": "zarr",
}
_CONTAINERS = ("hdf5", "zarr")  # formats whose spec may name an array inside the file
_INSTALL = {
    "tifffile": "tifffile", "h5py": "h5py", "mrcfile": "mrcfile", "fabio": "fabio", "zarr": "zarr",
}

#: attribute / dataset names that hold a pixel size, most specific first
_PIXEL_KEYS = (
    "pixel_size", "pixelsize", "voxel_size", "voxelsize", "x_pixel_size", "pixel_size_x",
    "psize", "pixel_size_m", "sample_pixel_size",
)


#: suffix of the temporary name under which write_image adds a dataset to an HDF5 file
H5_TEMPORARY_SUFFIX = ".toupy-part"


class FileFormatError(ValueError):
    """A file that cannot be read as an image: the message names the file and the reason."""


class ImageFile:
    """An image or volume opened by :func:`read_image`.

    Attributes
    ----------
    data : array-like
        The pixels: an ndarray, ``numpy.memmap``, ``h5py.Dataset`` or zarr
        array. Slicing reads only the requested part where the format allows.
    path : pathlib.Path
        The file (or folder, for a TIFF/EDF sequence or a zarr store).
    dataset : str or None
        The array's path inside an HDF5 file or zarr store.
    format : str
        ``'tiff'``, ``'tiff-sequence'``, ``'hdf5'``, ``'mrc'``, ``'edf'``, ``'npy'`` or ``'zarr'``.
    pixel_size : PixelSize or None
        The pixel size stated by the file (None if it states none).
    metadata : dict
        Where the pixel size came from and anything notable (anisotropic voxels, ignored values).

    The object is a context manager; :meth:`close` releases the file.
    """

    def __init__(self, data, *, path, fmt, dataset=None, pixel_size=None, metadata=None, closers=()):
        self._data = data
        self._closed_as: tuple | None = None  # (shape, dtype) once closed
        self.path = Path(path)
        self.format = fmt
        self.dataset = dataset
        self.pixel_size = pixel_size
        self.metadata = dict(metadata or {})
        self._closers = list(closers)

    @property
    def data(self):
        """The pixels; ValueError once the image is closed."""
        if self._closed_as is not None:
            raise ValueError(
                f"{self.spec}: the image is closed; read it inside its 'with read_image(...)' block "
                "or before calling close()"
            )
        return self._data

    @data.setter
    def data(self, value):
        self._data = value

    @property
    def closed(self) -> bool:
        return self._closed_as is not None

    @property
    def spec(self) -> str:
        """The file name as given to :func:`read_image` (with ``:dataset`` for containers)."""
        return f"{self.path}:{self.dataset}" if self.dataset else str(self.path)

    @property
    def shape(self) -> tuple:
        return self._closed_as[0] if self._closed_as else tuple(self._data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._closed_as[1] if self._closed_as else np.dtype(self._data.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def lazy(self) -> bool:
        """Whether :attr:`data` reads from the file on slicing instead of holding everything."""
        return not (isinstance(self._data, np.ndarray) and not isinstance(self._data, np.memmap))

    def __getitem__(self, key):
        return np.asarray(self.data[key])

    def __array__(self, dtype=None, copy=None):
        array = np.asarray(self.read())
        return array if dtype is None else array.astype(dtype, copy=False)

    def read(self) -> np.ndarray:
        """The whole array in memory (a copy for file-backed data, never a view of the file)."""
        if isinstance(self.data, np.ndarray) and not isinstance(self.data, np.memmap):
            return self.data
        return np.array(self.data[...])

    def describe(self) -> dict:
        """JSON-safe description: file, dataset, format, shape, dtype and pixel size."""
        return {
            "file": str(self.path),
            "dataset": self.dataset,
            "format": self.format,
            "shape": list(self.shape),
            "dtype": str(self.dtype),
            "pixel_size": None if self.pixel_size is None else self.pixel_size.to_dict(),
            "metadata": {k: v for k, v in self.metadata.items() if isinstance(v, (str, int, float, bool, type(None)))},
        }

    def close(self) -> None:
        """Release the file; afterwards :attr:`data` and reading raise ValueError (shape, dtype remain)."""
        if self._closed_as is None:
            self._closed_as = (tuple(self._data.shape), np.dtype(self._data.dtype))
        while self._closers:
            closer = self._closers.pop()
            with contextlib.suppress(Exception):
                closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        pixel = f", pixel_size={self.pixel_size}" if self.pixel_size else ""
        return f"ImageFile({self.spec!r}, shape={self.shape}, dtype={self.dtype}{pixel})"


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise FileFormatError(
            f"reading this format needs the package '{_INSTALL[module]}'; "
            f"install it with: pip install {_INSTALL[module]}"
        ) from None


def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    for ext, fmt in FORMATS.items():
        if name.endswith(ext):
            return fmt
    return None


def split_spec(spec) -> tuple[Path, str | None]:
    """Split ``'file.h5:/path/in/file'`` into the file and the inner path.

    Only HDF5/NeXus/CXI files and zarr stores take an inner path; a colon in
    any other name is part of the name (``C:\\data\\x.tif`` stays whole).
    """
    text = os.fspath(spec)
    if ":" in text:
        head, _, inner = text.rpartition(":")
        # 'file.h5::/path' (silx style) is accepted as well
        head = head[:-1] if head.endswith(":") else head
        if _format_of(Path(head)) in _CONTAINERS:
            return Path(head), (inner or None)
    return Path(text), None


def _is_pattern(text: str) -> bool:
    return any(c in text for c in "*?[")


def read_image(spec, *, metadata: bool = True) -> ImageFile:
    """Open an image or volume, lazily where the format allows, with its pixel size.

    Parameters
    ----------
    spec : str or path
        The file. By extension:

        - ``.tif``/``.tiff`` (ImageJ or OME spacing; a multi-page file is a
          stack), or a folder or glob pattern (``'slices/*.tif'``) of
          single-image TIFF or EDF files, stacked in natural order;
        - ``.h5``/``.hdf5``/``.nxs``/``.cxi`` with the dataset after a colon,
          ``'file.h5:/entry/data/data'`` (optional when the file holds one
          image or has a NeXus default plot);
        - ``.mrc``/``.map``/``.mrcs``/``.rec`` (voxel size from the header);
        - ``.edf`` or ``.edf.gz`` (``PSize_1``/``PSize_2`` header keys, in metres);
        - ``.npy`` (pixel size from a ``file.npy.json`` side file written by
          :func:`write_image`, if any);
        - ``.zarr`` stores, ``'store.zarr:/group/array'`` (needs zarr).
    metadata : bool
        Look for the pixel size in the file (default). With False,
        :attr:`ImageFile.pixel_size` is None.

    Returns
    -------
    ImageFile
        ``.data`` (sliceable), ``.pixel_size`` (a :class:`PixelSize` or
        None), ``.shape``, ``.dtype``; use it as a context manager or call
        ``.close()`` when done.

    Raises
    ------
    FileNotFoundError
        The file (or the sequence) does not exist.
    FileFormatError
        Unknown extension, truncated or corrupt file, an inner path that
        does not exist or is not an array, an array that is not numeric or
        not at least 2-D. The message names the file. (A subclass of
        ValueError.)

    Notes
    -----
    Files are opened read-only and never modified. Pixel sizes stored without
    a unit are read as metres; a unit-less value of 1 cm or more is ignored
    (noted in :attr:`ImageFile.metadata`) because it almost surely is in
    another unit: pass the pixel size explicitly then.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from toupy.resolution.io import read_image, write_image, parse_length
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "slice.tif")
    >>> _ = write_image(path, np.zeros((64, 64), np.float32), pixel_size=parse_length("28.6nm"))
    >>> with read_image(path) as image:
    ...     print(image.shape, image.pixel_size)
    (64, 64) 28.6 nm
    """
    path, inner = split_spec(spec)
    text = str(path)
    if _is_pattern(text):
        with _library_warnings(path):
            image = _read_sequence(sorted_naturally(glob.glob(text)), text)
    elif path.is_dir() and _format_of(path) != "zarr":
        files = [str(p) for p in path.iterdir() if _format_of(p) in ("tiff", "edf")]
        if not files:
            raise FileFormatError(f"{path}: folder holds no .tif/.tiff/.edf images to stack")
        with _library_warnings(path):
            image = _read_sequence(sorted_naturally(files), text)
    else:
        fmt = _format_of(path)
        if fmt is None:
            known = ", ".join(sorted(FORMATS))
            raise FileFormatError(f"{path}: unknown file extension {path.suffix!r}; known: {known}")
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        if inner is not None and fmt not in _CONTAINERS:
            raise FileFormatError(f"{path}: only HDF5 files and zarr stores take ':/path' after the name")
        reader = _READERS[fmt]
        try:
            with _library_warnings(path):
                image = reader(path, inner, metadata)
        except (FileFormatError, FileNotFoundError):
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, RuntimeError) as exc:
            raise FileFormatError(f"{path}: cannot read as {fmt.upper()}: {_one_line(exc)}") from exc
    try:
        _check_array(image)
    except Exception:
        image.close()
        raise
    if not metadata:
        image.pixel_size = None
    return image


@contextlib.contextmanager
def _library_warnings(path: Path):
    """Re-issue what the format libraries warn while ``path`` is read as one package warning each."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = set()
    for item in caught:
        text = " ".join(str(item.message).split())
        about_data = issubclass(item.category, (UserWarning, RuntimeWarning))
        if issubclass(item.category, _package_warning()) or not about_data:
            # ours already, or about code (deprecations): passed on as they are
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        elif text not in seen:
            seen.add(text)
            warnings.warn(f"{path}: {text.rstrip('.')} (reported by the {_library_of(item)} reader).",
                          _package_warning(), stacklevel=4)


def _package_warning():
    # imported here: toupy.resolution is heavy and toupy.resolution.io must stay light to import
    from toupy.resolution._checks import ResolutionWarning

    return ResolutionWarning


def _library_of(item) -> str:
    parts = Path(str(item.filename)).parts
    for name in ("mrcfile", "h5py", "tifffile", "fabio", "zarr", "numpy"):
        if name in parts:
            return name
    return "file"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _check_array(image: ImageFile) -> None:
    kind = image.dtype.kind
    if kind not in "biufc":
        raise FileFormatError(f"{image.spec}: holds {image.dtype} values, not numbers")
    if image.ndim < 2:
        raise FileFormatError(f"{image.spec}: is {image.ndim}-D (shape {image.shape}); an image is at least 2-D")


def sorted_naturally(names) -> list[str]:
    """Sort so that ``slice_2`` comes before ``slice_10``."""
    def key(name):
        return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]

    return sorted(names, key=key)


# ---------------------------------------------------------------- pixel sizes

def _pixel_from(value, unit, source: str, notes: dict) -> PixelSize | None:
    """A PixelSize from metadata, or None (with a note) when it is unusable."""
    try:
        values = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    except (TypeError, ValueError):
        if isinstance(value, (bytes, str)):
            text = value.decode() if isinstance(value, bytes) else value
            try:
                pixel = parse_length(text, name=source)
                return pixel.with_source(source)
            except ValueError as exc:
                notes["pixel_size_ignored"] = f"{source}: {exc}"
                return None
        return None
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
        return None
    if values.size > 1 and not np.allclose(values, values[0], rtol=1e-4):
        notes["anisotropic_pixel"] = f"{source}: {values.tolist()} (last axis used)"
    number = float(f"{values[-1]:.7g}")
    if unit:
        unit = unit.decode() if isinstance(unit, bytes) else str(unit)
        try:
            canonical = normalise_unit(unit)
        except ValueError:
            notes["pixel_size_ignored"] = f"{source}: {number:g} in unknown unit {unit!r}"
            return None
        # metres (vendor tags, TIFF resolution units) are shown in a readable unit: 1.25 nm
        return PixelSize.from_metres(number, source) if canonical == "m" else PixelSize(number, canonical, source)
    try:
        return parse_length(number, name=source).with_source(f"{source} (no unit: metres)")
    except ValueError:
        notes["pixel_size_ignored"] = (
            f"{source}: {number:g} has no unit and is implausible as metres; give the pixel size explicitly"
        )
        return None


# ---------------------------------------------------------------- TIFF

class _LogCapture(logging.Handler):
    """Collect what tifffile logs while a file is parsed (it logs, not raises, on damage)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tifffile_log():
    logger = logging.getLogger("tifffile")
    handler = _LogCapture()
    logger.addHandler(handler)
    old = logger.propagate
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = old


def _tiff_damage(messages: list[str]) -> str | None:
    for message in messages:
        low = message.lower()
        if any(word in low for word in ("corrupt", "invalid", "truncat", "incomplete", "missing")):
            return " ".join(message.split())
    return None


def _tiff_pixel(tif, notes: dict) -> PixelSize | None:
    tifffile = _require("tifffile")
    page = tif.pages.first
    if tif.is_ome and tif.ome_metadata:
        pixel = _ome_pixel(tif.ome_metadata, notes)
        if pixel is not None:
            return pixel
    vendor = _tiff_vendor_pixel(tif, notes)
    if vendor is not None:
        return vendor
    tags = page.tags
    xres = tags.get("XResolution")
    if xres is None:
        return None
    num, den = xres.value if isinstance(xres.value, tuple) else (xres.value, 1)
    if not num or not den:
        return None
    per_unit = num / den  # pixels per unit
    if tif.is_imagej:
        unit = (tif.imagej_metadata or {}).get("unit")
        if not unit or str(unit).lower() in ("pixel", "pixels", "inch", ""):
            return None
        return _pixel_from(1.0 / per_unit, unit, "ImageJ metadata", notes)
    resunit = tags.get("ResolutionUnit")
    resunit = resunit.value if resunit is not None else tifffile.RESUNIT.INCH
    units = {
        tifffile.RESUNIT.CENTIMETER: 1e-2,
        tifffile.RESUNIT.MILLIMETER: 1e-3,
        tifffile.RESUNIT.MICROMETER: 1e-6,
    }
    if resunit not in units:
        # dpi (ResolutionUnit inch or none) describes print size, not the sample
        return None
    return _pixel_from(units[resunit] / per_unit, "m", "TIFF resolution tags", notes)


def _tiff_vendor_pixel(tif, notes: dict) -> PixelSize | None:
    """Pixel size from electron-microscope vendor tags, whose TIFF resolution tags say only 72 dpi.

    Thermo Fisher/FEI: ``[Scan] PixelWidth`` in metres (tags 34680/34682);
    Zeiss SEM: ``AP_IMAGE_PIXEL_SIZE`` with its unit (tag 34118).
    """
    with contextlib.suppress(Exception):  # vendor text is free-form: unusable means absent
        if tif.is_fei and tif.fei_metadata:
            for section in ("Scan", "EScan", "IScan"):
                width = (tif.fei_metadata.get(section) or {}).get("PixelWidth")
                if width:
                    return _pixel_from(float(width), "m", f"FEI metadata [{section}] PixelWidth", notes)
        if tif.is_sem and tif.sem_metadata:
            entry = tif.sem_metadata.get("ap_image_pixel_size") or tif.sem_metadata.get("ap_pixel_size")
            if entry and len(entry) >= 3:
                return _pixel_from(float(entry[1]), str(entry[2]), "Zeiss SEM metadata AP_IMAGE_PIXEL_SIZE", notes)
    return None


def _ome_pixel(xml_text: str, notes: dict) -> PixelSize | None:
    try:
        root = ElementTree.fromstring(xml_text)
    except ElementTree.ParseError:
        notes["ome_metadata"] = "unreadable OME-XML"
        return None
    for element in root.iter():
        if element.tag.endswith("Pixels"):
            size = element.get("PhysicalSizeX")
            if size is None:
                return None
            unit = element.get("PhysicalSizeXUnit", "µm")
            return _pixel_from(float(size), unit, "OME-XML PhysicalSizeX", notes)
    return None


def _check_tiff_extent(tif, series, path: Path) -> None:
    size = path.stat().st_size
    offset = getattr(series, "dataoffset", None)
    if offset is not None:
        if offset + series.nbytes > size:
            raise FileFormatError(
                f"{path}: truncated TIFF: the image data needs {offset + series.nbytes} bytes, the file has {size}"
            )
        return
    for page in series.pages:
        if page is None:
            continue
        ends = [o + c for o, c in zip(page.dataoffsets, page.databytecounts) if c]
        if ends and max(ends) > size:
            raise FileFormatError(f"{path}: truncated TIFF: a page's data ends beyond the end of the file")


def _read_tiff(path: Path, inner, metadata: bool) -> ImageFile:
    tifffile = _require("tifffile")
    notes: dict = {}
    with _tifffile_log() as messages:
        try:
            tif = tifffile.TiffFile(path)
        except tifffile.TiffFileError as exc:
            raise FileFormatError(f"{path}: not a valid TIFF file ({_one_line(exc)})") from None
        try:
            series = tif.series[0]
            axes = getattr(series, "axes", "")
            if any(axis in axes and series.shape[axes.index(axis)] > 1 for axis in "SC"):
                raise FileFormatError(
                    f"{path}: holds colour or multi-channel data (axes {axes}, shape {series.shape}); "
                    "save one channel as a grey-level image"
                )
            damage = _tiff_damage(messages)
            if damage:
                raise FileFormatError(f"{path}: corrupt or truncated TIFF ({damage})")
            _check_tiff_extent(tif, series, path)
            pixel = _tiff_pixel(tif, notes) if metadata else None
            if tif.is_imagej and (tif.imagej_metadata or {}).get("spacing") and pixel is not None:
                notes["slice_spacing"] = float((tif.imagej_metadata or {})["spacing"])
            data = None
            if series.dataoffset is not None and not series.is_multifile:
                with contextlib.suppress(Exception):
                    data = tifffile.memmap(path, mode="r", series=0)
            if data is None:
                data = series.asarray()
            damage = _tiff_damage(messages)
            if damage:
                raise FileFormatError(f"{path}: corrupt or truncated TIFF ({damage})")
        finally:
            tif.close()
    data = np.squeeze(data) if data.ndim > 3 else data
    return ImageFile(data, path=path, fmt="tiff", pixel_size=pixel, metadata=notes)


def _read_sequence(files: list[str], spec: str) -> ImageFile:
    if not files:
        raise FileNotFoundError(f"{spec}: no files match")
    formats = {_format_of(Path(f)) for f in files}
    if formats == {"tiff"}:
        return _read_tiff_sequence(files, spec)
    if formats == {"edf"}:
        frames = [_read_edf(Path(f), None, True) for f in files]
        shapes = {frame.shape for frame in frames}
        if len(shapes) != 1:
            raise FileFormatError(f"{spec}: the EDF files differ in shape ({sorted(shapes)})")
        data = np.stack([frame.read() for frame in frames])
        return ImageFile(data, path=Path(spec), fmt="edf-sequence", pixel_size=frames[0].pixel_size,
                         metadata={"files": len(files)})
    raise FileFormatError(f"{spec}: a sequence must be all .tif/.tiff or all .edf files; got {sorted(f for f in formats if f)}")


def _read_tiff_sequence(files: list[str], spec: str) -> ImageFile:
    tifffile = _require("tifffile")
    first = _read_tiff(Path(files[0]), None, True)
    shape, dtype, pixel = first.shape, first.dtype, first.pixel_size
    first.close()
    for name in files[1:]:
        with _tifffile_log() as messages:
            try:
                with tifffile.TiffFile(name) as tif:
                    series = tif.series[0]
                    if tuple(series.shape) != shape or series.dtype != dtype:
                        raise FileFormatError(
                            f"{name}: shape {series.shape} {series.dtype} differs from the first file "
                            f"of the sequence ({shape} {dtype})"
                        )
                    _check_tiff_extent(tif, series, Path(name))
            except tifffile.TiffFileError as exc:
                raise FileFormatError(f"{name}: not a valid TIFF file ({_one_line(exc)})") from None
            damage = _tiff_damage(messages)
            if damage:
                raise FileFormatError(f"{name}: corrupt or truncated TIFF ({damage})")
    notes = {"files": len(files)}
    closers = []
    try:
        zarr = __import__("zarr")
        store = tifffile.imread(files, aszarr=True)
        data = zarr.open(store, mode="r")
        closers.append(store.close)
    except ImportError:
        data = tifffile.imread(files)
    return ImageFile(data, path=Path(spec), fmt="tiff-sequence", pixel_size=pixel, metadata=notes,
                     closers=closers)


# ---------------------------------------------------------------- HDF5 / NeXus / CXI

def _h5_str(value) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _h5_str(value.item())
    return str(value)


def _h5_default(h5) -> str | None:
    """Path of the NeXus default plot's signal (``@default`` chain, then ``@signal``)."""
    h5py = _require("h5py")
    node = h5
    for _ in range(4):
        default = node.attrs.get("default")
        if default is None:
            break
        name = _h5_str(default)
        if name not in node:
            return None
        node = node[name]
        if isinstance(node, h5py.Dataset):
            return node.name
    if isinstance(node, h5py.Group) and "signal" in node.attrs:
        signal = _h5_str(node.attrs["signal"])
        if signal in node and isinstance(node[signal], h5py.Dataset):
            return node[signal].name
    if isinstance(node, h5py.Group) and node.name != "/":
        marked = _h5_signal_dataset(node)
        if marked is not None:
            return marked.name
    return None


def _h5_signal_dataset(group):
    """The dataset of ``group`` marked ``@signal=1`` (NeXus before 2014), or None."""
    h5py = _require("h5py")
    for item in group.values():
        if isinstance(item, h5py.Dataset) and "signal" in item.attrs:
            with contextlib.suppress(TypeError, ValueError):
                if int(np.asarray(item.attrs["signal"]).ravel()[0]) == 1:
                    return item
    return None


def _h5_images(h5) -> list[str]:
    h5py = _require("h5py")
    found = []

    def visit(name, obj):
        if name.endswith(H5_TEMPORARY_SUFFIX):
            return  # a dataset write_image has not finished (or a killed run left)
        if isinstance(obj, h5py.Dataset) and obj.ndim >= 2 and obj.dtype.kind in "biufc":
            found.append("/" + name)

    h5.visititems(visit)
    return found


def _h5_pixel(dataset, notes: dict) -> PixelSize | None:
    """Pixel size from attributes of the dataset or of its enclosing groups, or from
    scalar datasets in those groups (NeXus style: ``x_pixel_size`` with ``@units``)."""
    h5py = _require("h5py")

    def unit_of(attrs, key):
        for name in (f"{key}_units", f"{key}_unit", "pixel_size_units", "pixel_size_unit"):
            if name in attrs:
                return _h5_str(attrs[name])
        return None

    chain = [dataset]
    while chain[-1].name != "/" and len(chain) < 5:
        chain.append(chain[-1].parent)
    for node in chain:
        names = {k.lower(): k for k in node.attrs}
        for key in _PIXEL_KEYS:
            if key in names:
                return _pixel_from(node.attrs[names[key]], unit_of(node.attrs, names[key]),
                                   f"HDF5 attribute {node.name}@{names[key]}", notes)
        if isinstance(node, h5py.Group):
            members = {k.lower(): k for k in node.keys()}
            for key in _PIXEL_KEYS:
                item = node.get(members[key]) if key in members else None
                if isinstance(item, h5py.Dataset) and item.dtype.kind in "iufSO" and item.size <= 3:
                    unit = item.attrs.get("units", item.attrs.get("unit"))
                    return _pixel_from(item[()], None if unit is None else _h5_str(unit),
                                       f"HDF5 dataset {item.name}", notes)
    return None


def _read_hdf5(path: Path, inner, metadata: bool) -> ImageFile:
    h5py = _require("h5py")
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise FileFormatError(f"{path}: not a readable HDF5 file ({_one_line(exc)})") from None
    try:
        if inner is None:
            target = _h5_default(h5)
            if target is None:
                images = _h5_images(h5)
                if len(images) == 1:
                    target = images[0]
                elif not images:
                    raise FileFormatError(f"{path}: holds no numeric array of 2 or more dimensions")
                else:
                    listed = ", ".join(images[:6]) + (" ..." if len(images) > 6 else "")
                    raise FileFormatError(
                        f"{path}: holds several images ({listed}); choose one with {path}:/path/to/dataset"
                    )
        else:
            target = inner if inner.startswith("/") else "/" + inner
        try:
            node = h5[target]
        except KeyError:
            images = _h5_images(h5)
            hint = f" (images in the file: {', '.join(images[:6])})" if images else ""
            raise FileFormatError(f"{path}: has no dataset {target}{hint}") from None
        if isinstance(node, h5py.Group):
            signal = node.attrs.get("signal")
            marked = _h5_signal_dataset(node)
            if signal is not None and _h5_str(signal) in node:
                node = node[_h5_str(signal)]
            elif marked is not None:
                node = marked
            else:
                raise FileFormatError(f"{path}:{target} is a group, not an array; name a dataset inside it")
        if not isinstance(node, h5py.Dataset):
            raise FileFormatError(f"{path}:{target} is not an array")
        if node.shape is None or node.dtype.kind not in "biufc":
            raise FileFormatError(f"{path}:{target} holds {node.dtype} values, not an image")
        notes: dict = {}
        pixel = _h5_pixel(node, notes) if metadata else None
        return ImageFile(node, path=path, fmt="hdf5", dataset=node.name, pixel_size=pixel, metadata=notes,
                         closers=[h5.close])
    except BaseException:
        h5.close()
        raise


# ---------------------------------------------------------------- MRC

def _read_mrc(path: Path, inner, metadata: bool) -> ImageFile:
    mrcfile = _require("mrcfile")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            mrc = mrcfile.mmap(path, mode="r", permissive=False)
        except (ValueError, RuntimeWarning, OSError) as exc:
            if "machine stamp" not in str(exc).lower():
                raise FileFormatError(f"{path}: corrupt or truncated MRC file ({_one_line(exc)})") from None
            mrc = _read_mrc_unstamped(path, exc)
    notes: dict = {}
    pixel = None
    if metadata:
        voxel = mrc.voxel_size
        sizes = [float(voxel.x), float(voxel.y), float(voxel.z)]
        if sizes[0] > 0:
            pixel = _pixel_from(sizes[0] if len(set(np.round(sizes[:2], 6))) == 1 else sizes[:2],
                                "Å", "MRC header voxel size", notes)
            if mrc.data.ndim == 3 and sizes[2] > 0 and not math.isclose(sizes[2], sizes[0], rel_tol=1e-4):
                notes["anisotropic_pixel"] = f"MRC voxel size x={sizes[0]:g}, y={sizes[1]:g}, z={sizes[2]:g} Å"
    data = mrc.data
    if data is None:
        mrc.close()
        raise FileFormatError(f"{path}: MRC file holds no data")
    return ImageFile(data, path=path, fmt="mrc", pixel_size=pixel, metadata=notes, closers=[mrc.close])


def _mrc_little_endian_fits(path: Path) -> str | None:
    """Why ``path`` cannot be read as a little-endian MRC file, or None when its header fits the file."""
    from mrcfile.dtypes import HEADER_DTYPE
    from mrcfile.utils import dtype_from_mode

    with open(path, "rb") as stream:
        raw = stream.read(HEADER_DTYPE.itemsize)
    if len(raw) < HEADER_DTYPE.itemsize:
        return "the file is shorter than an MRC header"
    header = np.frombuffer(raw, dtype=HEADER_DTYPE.newbyteorder("<"))[0]
    if bytes(header["map"])[:3] != b"MAP":
        return "no 'MAP' identifier"
    try:
        itemsize = np.dtype(dtype_from_mode(header["mode"])).itemsize
    except ValueError:
        return f"mode {int(header['mode'])} is not an MRC mode when read as little-endian"
    sizes = [int(header[k]) for k in ("nx", "ny", "nz")]
    extended = int(header["nsymbt"])
    if min(sizes) < 1 or extended < 0:
        return f"sizes {sizes} are not positive when read as little-endian"
    expected = HEADER_DTYPE.itemsize + extended + math.prod(sizes) * itemsize
    actual = path.stat().st_size
    if actual != expected:
        return f"as little-endian the header declares {expected} bytes, the file has {actual}"
    return None


def _read_mrc_unstamped(path: Path, error: BaseException):
    """Open an MRC file whose machine stamp is unset (0x00 0x00 0x00 0x00 from several EM programs)
    as little-endian, when the header's sizes then match the file exactly."""
    import warnings

    mrcfile = _require("mrcfile")
    reason = _mrc_little_endian_fits(path)
    if reason is not None:
        raise FileFormatError(f"{path}: corrupt MRC file ({_one_line(error)}; {reason})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the stamp warning, replaced by ours below
        mrc = mrcfile.mmap(path, mode="r", permissive=True)
    if mrc.data is None or mrc.header.mode.dtype.byteorder == ">":
        mrc.close()
        raise FileFormatError(f"{path}: corrupt MRC file ({_one_line(error)})")
    stamp = _one_line(error).split(": ")[-1]
    state = "unset" if stamp == "0x00 0x00 0x00 0x00" else "not a known byte order"
    warnings.warn(
        f"{path}: the MRC machine stamp ({stamp}) is {state}; read as little-endian because the header's "
        "sizes then match the file.",
        _package_warning(), stacklevel=2,
    )
    return mrc


# ---------------------------------------------------------------- EDF

_EDF_KEYS = ("PSize_1", "PSize_2", "pixel_size", "PixelSize", "pixelsize", "Pixel_size", "pixel_size_m")


# bytes per value of EDF's DataType names; an unknown name counts 1 byte (a lower bound: never refuses a valid file)
_EDF_ITEM_BYTES = {"byte": 1, "short": 2, "integer": 4, "long": 4, "64": 8, "float": 4, "double": 8}
# the most a deflate stream can expand (about 1032:1), with a margin
_DEFLATE_MAX_RATIO = 1100


def _edf_first_header(path: Path) -> dict[str, str]:
    """Keys of the first EDF header block (ASCII between '{' and '}'), read without fabio."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            head = stream.read(64 * 1024)
    except (EOFError, OSError):  # a cut gzip stream: left to the reader, which names the damage
        return {}
    start, end = head.find(b"{"), head.find(b"}")
    if start < 0 or end < start:
        return {}
    keys = {}
    for item in head[start + 1:end].decode("latin-1").split(";"):
        key, sep, value = item.partition("=")
        if sep:
            keys[key.strip().lower()] = value.strip()
    return keys


def _check_edf_size(path: Path) -> None:
    """Refuse a header that declares more data than the file can hold, before fabio allocates it."""
    header = _edf_first_header(path)
    dims = [header.get(f"dim_{axis}") for axis in (1, 2, 3)]
    try:
        values = math.prod(int(d) for d in dims if d is not None) if dims[0] is not None else None
    except ValueError:
        raise FileFormatError(f"{path}: EDF header has a non-integer Dim ({dims})") from None
    if values is None:
        return
    kind = header.get("datatype", "").lower()
    item = next((size for name, size in _EDF_ITEM_BYTES.items() if name in kind), 1)
    declared = values * item
    available = path.stat().st_size
    compressed = path.name.lower().endswith(".gz") or header.get("compression", "none").lower() not in ("", "none")
    if compressed:
        available *= _DEFLATE_MAX_RATIO
    if declared > available:
        raise FileFormatError(
            f"{path}: truncated or forged EDF header: Dim {'x'.join(d for d in dims if d)} of {kind or 'values'} "
            f"declares {declared} bytes, more than the file can hold ({path.stat().st_size} bytes)"
        )


def _read_edf(path: Path, inner, metadata: bool) -> ImageFile:
    fabio = _require("fabio")
    _check_edf_size(path)
    # fabio logs damage (and pads with zeros); it is detected below and raised instead
    logger = logging.getLogger("fabio")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        image = fabio.open(str(path))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        logger.setLevel(level)
        raise FileFormatError(f"{path}: not a valid EDF file ({_one_line(exc)})") from None
    try:
        frames = [image.getframe(i) for i in range(image.nframes)] if image.nframes > 1 else [image]
        arrays = []
        for frame in frames:
            data = frame.data
            if getattr(frame, "incomplete_data", False) or any(
                getattr(f, "incomplete_data", False) for f in getattr(frame, "_frames", [])
            ):
                raise FileFormatError(f"{path}: truncated EDF file: the data block is incomplete")
            if data is None:
                raise FileFormatError(f"{path}: EDF file holds no data")
            arrays.append(np.asarray(data))
        header = dict(image.header)
    finally:
        logger.setLevel(level)
        with contextlib.suppress(Exception):
            image.close()
    data = arrays[0] if len(arrays) == 1 else np.stack(arrays)
    notes: dict = {}
    pixel = None
    if metadata:
        for key in _EDF_KEYS:
            if key in header:
                pixel = _pixel_from(header[key], None, f"EDF header {key}", notes)
                if pixel is not None:
                    break
    return ImageFile(data, path=path, fmt="edf", pixel_size=pixel, metadata=notes)


# ---------------------------------------------------------------- NPY

def sidecar_path(path: Path) -> Path:
    """The JSON side file holding the pixel size of an NPY file (``map.npy.json``)."""
    return path.with_name(path.name + ".json")


def _read_npy(path: Path, inner, metadata: bool) -> ImageFile:
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise FileFormatError(f"{path}: not a valid NPY file ({_one_line(exc)})") from None
    if not isinstance(data, np.ndarray):
        raise FileFormatError(f"{path}: does not hold a single array")
    notes: dict = {}
    pixel = None
    side = sidecar_path(path)
    if metadata and side.exists():
        try:
            info = json.loads(side.read_text(encoding="utf-8"))
            size = info.get("pixel_size")  # absent: attrs only, written without a pixel size
            if size is not None:
                pixel = _pixel_from(size["value"], size["unit"], f"side file {side.name}", notes)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            notes["pixel_size_ignored"] = f"{side.name}: unreadable ({_one_line(exc)})"
    return ImageFile(data, path=path, fmt="npy", pixel_size=pixel, metadata=notes)


# ---------------------------------------------------------------- zarr

def _read_zarr(path: Path, inner, metadata: bool) -> ImageFile:
    zarr = _require("zarr")
    try:
        node = zarr.open(str(path), mode="r") if inner is None else zarr.open(str(path), mode="r", path=inner.strip("/"))
    except (FileNotFoundError, KeyError) as exc:
        where = f"{path}:{inner}" if inner else str(path)
        raise FileFormatError(f"{where}: no zarr array there ({_one_line(exc)})") from None
    notes: dict = {}
    pixel = None
    group_attrs = {}
    if not hasattr(node, "shape"):  # a group: OME-NGFF multiscales, or a single array inside
        group_attrs = dict(node.attrs)
        multiscales = group_attrs.get("multiscales") or (group_attrs.get("ome") or {}).get("multiscales")
        if multiscales:
            first = multiscales[0]["datasets"][0]
            array = node[first["path"]]
            if metadata:
                pixel = _ngff_pixel(multiscales[0], first, notes)
            node = array
        else:
            arrays = [name for name, item in node.arrays()]
            if len(arrays) != 1:
                listed = ", ".join(arrays[:6]) or "none"
                raise FileFormatError(f"{path}: zarr group holds arrays {listed}; choose one with {path}:/name")
            node = node[arrays[0]]
    if metadata and pixel is None:
        attrs = dict(node.attrs)
        for key in _PIXEL_KEYS:
            if key in attrs:
                unit = attrs.get(f"{key}_units", attrs.get(f"{key}_unit", attrs.get("unit")))
                pixel = _pixel_from(attrs[key], unit, f"zarr attribute {key}", notes)
                break
    return ImageFile(node, path=path, fmt="zarr", dataset=inner, pixel_size=pixel, metadata=notes)


def _ngff_pixel(multiscale: dict, dataset: dict, notes: dict) -> PixelSize | None:
    for transform in dataset.get("coordinateTransformations", []):
        if transform.get("type") == "scale":
            axes = multiscale.get("axes", [])
            unit = axes[-1].get("unit") if axes and isinstance(axes[-1], dict) else None
            return _pixel_from(transform["scale"][-1], _ngff_unit(unit), "OME-NGFF scale", notes)
    return None


def _ngff_unit(unit):
    names = {"micrometer": "µm", "nanometer": "nm", "angstrom": "Å", "millimeter": "mm",
             "meter": "m", "picometer": "pm"}
    return names.get(unit, unit)


_READERS = {
    "tiff": _read_tiff,
    "hdf5": _read_hdf5,
    "mrc": _read_mrc,
    "edf": _read_edf,
    "npy": _read_npy,
    "zarr": _read_zarr,
}
