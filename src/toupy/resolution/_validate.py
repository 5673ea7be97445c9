"""Small shared validators: each raises an error that names the parameter."""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "as_image",
    "check_pair",
    "check_pixel_size",
    "check_nonnegative_int",
    "check_positive_int",
    "work_dtype",
    "native_order",
    "check_finite",
    "check_nonnegative_weights",
    "check_mask",
    "parse_bytes",
]


def as_image(image, name: str, *, ndims: tuple[int, ...] = (2, 3)) -> np.ndarray:
    """Return ``image`` as an ndarray without copying; check type and ndim.

    Lists and tuples of numbers are accepted and converted; other objects
    without a numeric ``dtype`` raise ``TypeError``.
    """
    if isinstance(image, np.ndarray):
        array = image
    elif isinstance(image, (list, tuple)):
        array = np.asarray(image)
    elif _is_lazy_array(image):
        array = image  # h5py / zarr / dask: sliced or scheduled, never loaded whole
    elif hasattr(image, "__array__") and hasattr(image, "shape") and hasattr(image, "dtype"):
        array = np.asarray(image)
    else:
        raise TypeError(f"{name} must be a numpy array; got {type(image).__name__}")
    if np.dtype(array.dtype).kind not in "biufc":
        raise TypeError(f"{name} must hold real or complex numbers; got dtype {array.dtype}")
    if array.ndim not in ndims:
        allowed = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {allowed}; got a {array.ndim}-D array of shape {array.shape}")
    if min(array.shape) < 2:
        raise ValueError(f"{name} must be at least 2 pixels along every axis; got shape {array.shape}")
    return array


def _is_lazy_array(obj) -> bool:
    module = type(obj).__module__.split(".")[0]
    return module in ("h5py", "zarr", "dask") and hasattr(obj, "shape") and hasattr(obj, "dtype")


_BYTE_UNITS = {
    "": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "k": 10**3, "m": 10**6, "g": 10**9,
}


def parse_bytes(value, name: str) -> int:
    """A positive amount of memory: bytes as a number or a string like ``'2GB'``, ``'512MiB'``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number of bytes or a string like '2GB'; got {value!r}")
    if isinstance(value, numbers.Real):
        amount = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(digits):]
        if unit not in _BYTE_UNITS or not digits:
            raise ValueError(f"{name} must be a number of bytes or a string like '2GB'; got {value!r}")
        try:
            amount = float(digits) * _BYTE_UNITS[unit]
        except ValueError:
            raise ValueError(f"{name} must be a number of bytes or a string like '2GB'; got {value!r}") from None
    else:
        raise ValueError(f"{name} must be a number of bytes or a string like '2GB'; got {value!r}")
    if not (math.isfinite(amount) and amount > 0):
        raise ValueError(f"{name} must be positive; got {value!r}")
    return int(amount)


def check_pair(img1, img2, *, ndims: tuple[int, ...] = (2, 3), names=("img1", "img2")):
    """Validate two images of the same shape; return them as arrays."""
    a = as_image(img1, names[0], ndims=ndims)
    b = as_image(img2, names[1], ndims=ndims)
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape; got {a.shape} and {b.shape}"
        )
    return a, b


def check_pixel_size(pixel_size) -> float:
    """A finite positive number."""
    if isinstance(pixel_size, bool) or not isinstance(pixel_size, numbers.Real):
        raise ValueError(f"pixel_size must be a positive number; got {pixel_size!r}")
    value = float(pixel_size)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"pixel_size must be a positive finite number; got {pixel_size!r}")
    return value


def check_nonnegative_int(value, name: str) -> int:
    """An integer >= 0 (integral floats accepted)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
    if isinstance(value, numbers.Real) and float(value).is_integer() and value >= 0:
        return int(value)
    raise ValueError(f"{name} must be a non-negative integer; got {value!r}")


def check_positive_int(value, name: str) -> int:
    """An integer >= 1."""
    value = check_nonnegative_int(value, name) if not isinstance(value, bool) else value
    if isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return value


def work_dtype(*arrays: np.ndarray) -> np.dtype:
    """Real floating type of the computation: float32 unless an input is double.

    Integers and float16 are lifted to float32; float64, complex128 and wider
    types are computed in float64.
    """
    wide = any(a.dtype.itemsize >= (16 if a.dtype.kind == "c" else 8) and a.dtype.kind in "fc" for a in arrays)
    return np.dtype(np.float64 if wide else np.float32)


def native_order(array: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """``array`` in the machine's byte order: itself when it already is, else byte-swapped.

    Big-endian data (ImageJ's TIFF, MRC, HDF5 or NPY files written elsewhere)
    hold the same numbers, but the compiled kernels read native numbers only.
    Every block of input data passes here on its way into a kernel; for
    native data it costs nothing.

    Parameters
    ----------
    array : ndarray
        A block of input data.
    in_place : bool, optional
        Swap the bytes of ``array`` itself (a buffer the caller owns, such as
        a slab just read from a file) instead of making a swapped copy.
    """
    dtype = array.dtype
    if dtype.isnative:
        return array
    native = dtype.newbyteorder("=")
    if in_place:
        return array.byteswap(inplace=True).view(native)
    return array.astype(native)


def check_finite(values, name: str) -> None:
    """Raise the package's error for NaN or infinite values in the input ``name``.

    ``values`` are the data themselves, sums taken over them (a sum is
    non-finite whenever one of its terms is) or booleans "all finite" of
    per-chunk checks, so the check costs nothing when it is fused into a
    pass that reads the data anyway. Integer data are always finite.
    """
    values = np.asarray(values)
    if values.dtype.kind == "b":
        finite = bool(values.all())
    else:
        finite = values.dtype.kind not in "fc" or bool(np.isfinite(values).all())
    if not finite:
        raise ValueError(f"{name} contains NaN or infinite values; replace or mask them first")


def check_nonnegative_weights(lowest: float, name: str = "mask") -> None:
    """Raise unless ``lowest``, the smallest value of a weight array, is >= 0.

    A negative weight flips the sign of that region's share of the cross sum.
    """
    if lowest < 0:
        raise ValueError(f"{name} must be non-negative (weights between 0 and 1); its minimum is {lowest:g}")


def check_mask(mask, shape: tuple[int, ...], name: str = "mask") -> np.ndarray | None:
    """A real, finite, non-negative, not all-zero weight array of ``shape`` (soft or binary), or None."""
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real (soft or binary) array; got dtype {array.dtype}")
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have the input shape {tuple(shape)}; got {array.shape}")
    array = array.astype(np.float64, copy=False)
    check_finite(array, name)
    check_nonnegative_weights(float(array.min()), name)
    if not np.any(array != 0):
        raise ValueError(f"{name} is zero everywhere: nothing would be correlated")
    return array
