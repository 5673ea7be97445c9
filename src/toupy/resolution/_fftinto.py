"""Forward FFTs written into a given array.

``scipy.fft.rfftn``/``fftn`` return a fresh array on every call. On large
inputs, or on a loop of many batches, the page faults of those fresh
allocations cost as much as the transform itself on some machines (large
allocations are backed by huge pages that the kernel must clear, and compact
first). scipy's pocketfft entry points accept ``out=``, so a loop can
transform into one buffer allocated once; they are private, so the public
route (a fresh array, copied into ``out``) stays as the fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.fft

__all__ = ["rfftn_into", "fftn_into"]

try:  # pocketfft's own entry points write into a given array (no copy, no fresh pages)
    from scipy.fft._pocketfft.pypocketfft import c2c as _pocketfft_c2c
    from scipy.fft._pocketfft.pypocketfft import r2c as _pocketfft_r2c
except ImportError:  # pragma: no cover - other scipy layouts
    _pocketfft_r2c = _pocketfft_c2c = None


def _into(private, public, x: np.ndarray, out: np.ndarray, axes: tuple, workers: int) -> None:
    # pocketfft reads any strides; ``out`` is either ``x`` itself or disjoint from it
    if private is not None and out.flags.c_contiguous:
        try:
            private(x, axes=axes, forward=True, inorm=0, out=out, nthreads=workers)
            return
        except (TypeError, ValueError):  # another signature or dtype: the public route
            pass
    out[...] = public(x, axes=axes, workers=workers)


def rfftn_into(x: np.ndarray, out: np.ndarray, axes: Sequence[int], workers: int = 1) -> None:
    """``out[...] = scipy.fft.rfftn(x, axes=axes)``, written in place when scipy allows it.

    Parameters
    ----------
    x : ndarray, real (float32 or float64)
        Input, of any strides.
    out : ndarray, complex
        Receives the half spectrum (``rfftn`` layout over ``axes``); its
        precision must match ``x`` (complex64 for float32).
    axes : sequence of int
        Axes to transform (the last one is halved).
    workers : int
        Threads of the transform.
    """
    _into(_pocketfft_r2c, scipy.fft.rfftn, x, out, tuple(axes), workers)


def fftn_into(x: np.ndarray, out: np.ndarray, axes: Sequence[int], workers: int = 1) -> None:
    """``out[...] = scipy.fft.fftn(x, axes=axes)``, written in place when scipy allows it.

    Same contract as :func:`rfftn_into` for complex ``x``: ``out`` (C-contiguous
    for the direct route) is ``x`` itself or does not overlap it.
    """
    _into(_pocketfft_c2c, scipy.fft.fftn, x, out, tuple(axes), workers)
