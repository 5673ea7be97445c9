"""Read and write images and volumes with their pixel size.

>>> from toupy.io import read_image, write_image, parse_length

* :func:`read_image` opens TIFF (and TIFF/EDF sequences), HDF5/NeXus/CXI
  (``'file.h5:/entry/data/data'``), MRC/MAP, EDF, NPY and zarr, lazily where the
  format allows, with the pixel size the file states;
* :func:`write_image` writes NPY, TIFF, HDF5 or MRC with the pixel size,
  atomically (temporary file in the target folder, then rename);
* :func:`parse_length` reads ``'28.6nm'``, ``'2.1A'``, ``'0.5um'`` or a bare
  number of metres into a :class:`PixelSize`.
"""

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
    "split_spec",
    "FORMATS",
    "WRITABLE",
]
