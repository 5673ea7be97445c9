"""Fourier-shell geometry shared by every correlation method.

The shell of a Fourier voxel is the rounded radius of its frequency vector after
each axis has been scaled so that its Nyquist bin lands on ring ``nmax // 2``
(``nmax = max(shape)``), as in toupy's ``ringthickness`` (decision D3). Shell
``s`` therefore stands for ``s / nmax`` cycles/pixel.

Everything here works per axis (1-D vectors); the kernels combine them by
broadcasting inside each block, so no full-size index array is ever needed.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "axis_shell_frequencies",
    "shell_frequencies",
    "hermitian_weights",
    "n_shells",
    "max_shell_index",
    "shell_index",
    "block_shell_index",
]


def axis_shell_frequencies(n: int, nmax: int, *, half: bool = False) -> np.ndarray:
    """Scaled integer frequencies of one axis in FFT order.

    Parameters
    ----------
    n : int
        Length of the axis.
    nmax : int
        Largest length of the array; the axis Nyquist maps to ``nmax // 2``.
    half : bool
        Return only the non-negative frequencies (``rfft`` layout).

    Returns
    -------
    ndarray of float64
        ``k * (nmax // 2) / (n // 2)`` for the integer frequencies ``k`` of
        ``fftfreq(n) * n``, computed in that order so that rounding ties fall
        exactly where toupy's do.
    """
    if half:
        k = np.arange(n // 2 + 1, dtype=np.float64)
    else:
        k = np.fft.ifftshift(np.arange(-(n // 2), n - n // 2, dtype=np.float64))
    if n // 2 == 0:
        return np.zeros_like(k)
    return k * float(nmax // 2) / float(n // 2)


def shell_frequencies(shape: tuple[int, ...], *, real: bool = True) -> list[np.ndarray]:
    """Per-axis scaled frequencies for an FFT of ``shape``.

    With ``real=True`` the last axis is in ``rfftn`` layout (``n // 2 + 1`` bins).
    """
    nmax = max(shape)
    last = len(shape) - 1
    return [
        axis_shell_frequencies(n, nmax, half=(real and ax == last))
        for ax, n in enumerate(shape)
    ]


def hermitian_weights(n_last: int) -> np.ndarray:
    """Weights that turn sums over an ``rfftn`` half-space into full-FFT sums.

    Each stored column stands for itself and its Friedel mate (weight 2),
    except column 0 and, for even ``n_last``, the Nyquist column (weight 1).
    """
    w = np.full(n_last // 2 + 1, 2.0)
    w[0] = 1.0
    if n_last % 2 == 0:
        w[-1] = 1.0
    return w


def n_shells(shape: tuple[int, ...]) -> int:
    """Number of reported shells, ``max(shape) // 2 + 1`` (DC to Nyquist)."""
    return max(shape) // 2 + 1


def max_shell_index(shape: tuple[int, ...]) -> int:
    """Largest shell index any voxel of ``shape`` can have (corner voxels)."""
    kmax_sq = sum(float(np.max(np.abs(k))) ** 2 for k in shell_frequencies(shape, real=False))
    return int(np.ceil(np.sqrt(kmax_sq))) + 1


def block_shell_index(axis_freqs: list[np.ndarray]) -> np.ndarray:
    """Shell index of a block given its per-axis scaled frequencies.

    Parameters
    ----------
    axis_freqs : list of 1-D ndarray
        One frequency vector per axis of the block (any subset of bins).

    Returns
    -------
    ndarray of int32
        ``round(sqrt(sum_i k_i**2))`` (round half to even), broadcast to the
        block shape.
    """
    ndim = len(axis_freqs)
    radius_sq = np.zeros((1,) * ndim)
    for ax, k in enumerate(axis_freqs):
        shape = [1] * ndim
        shape[ax] = k.size
        radius_sq = radius_sq + (k**2).reshape(shape)
    return np.round(np.sqrt(radius_sq)).astype(np.int32)


def shell_index(shape: tuple[int, ...]) -> np.ndarray:
    """Shell index of every voxel of a full (``fftn``-layout) transform of ``shape``.

    Voxels in the corners beyond ``max(shape) // 2`` keep their larger index;
    callers drop them (they lie beyond Nyquist).
    """
    return block_shell_index(shell_frequencies(tuple(shape), real=False))
