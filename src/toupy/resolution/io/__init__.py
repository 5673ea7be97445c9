"""Read and write images and volumes with their pixel size.

>>> from toupy.resolution.io import read_image, write_image, parse_length

* :func:`read_image` opens TIFF (and TIFF/EDF sequences), HDF5/NeXus/CXI
  (``'file.h5:/entry/data/data'``), MRC/MAP, EDF, NPY and zarr, lazily where the
  format allows, with the pixel size the file states;
* :func:`write_image` writes NPY, TIFF, HDF5 or MRC with the pixel size,
  atomically (anonymous temporary in the target folder, linked into place
  when complete); into an existing HDF5 file it adds one dataset and leaves
  the rest untouched; a full disk raises :class:`DiskFullError`;
* :func:`parse_length` reads ``'28.6nm'``, ``'2.1A'``, ``'0.5um'`` or a bare
  number of metres into a :class:`PixelSize`.
"""

from ._atomic import DiskFullError
from ._readers import FORMATS, FileFormatError, ImageFile, read_image, split_spec
from ._units import PixelSize, parse_length
from ._writers import WRITABLE, write_image

__all__ = [
    "read_image",
    "write_image",
    "parse_length",
    "PixelSize",
    "ImageFile",
    "FileFormatError",
    "DiskFullError",
    "split_spec",
    "FORMATS",
    "WRITABLE",
]
