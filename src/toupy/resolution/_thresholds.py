"""Resolution thresholds for Fourier correlation curves.

Information-bit curves of van Heel & Schatz (2005, J. Struct. Biol. 151:250):
for a target SNR ``S`` per half data set and ``n`` Fourier voxels in a shell
(counted in the *full* transform),

    T(n) = (S + (2 sqrt(S) + 1) / sqrt(n)) / (S + 1 + 2 sqrt(S) / sqrt(n)).

``'halfbit'`` uses ``S = (sqrt(2) - 1) / 2`` (half a bit in the combined map),
``'onebit'`` uses ``S = 0.5``; a float gives a constant curve (e.g. 1/7 =
0.143, Rosenthal & Henderson 2003, which is *not* the half-bit curve).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "HALFBIT_SNR",
    "ONEBIT_SNR",
    "validate_threshold",
    "threshold_curve",
    "legacy_threshold_curve",
    "ssnr_from_fsc",
    "threshold_label",
]

HALFBIT_SNR = (np.sqrt(2.0) - 1.0) / 2.0
ONEBIT_SNR = 0.5
_NAMED = {"halfbit": HALFBIT_SNR, "onebit": ONEBIT_SNR}
# toupy 0.2.2 used these rounded values; only the legacy mode reproduces them.
_LEGACY_NAMED = {"halfbit": 0.2071, "onebit": 0.5}


def validate_threshold(threshold) -> str | float:
    """Return ``threshold`` normalised ('halfbit', 'onebit' or a float in (0, 1))."""
    if isinstance(threshold, str):
        key = threshold.lower().replace("-", "").replace("_", "").replace(" ", "")
        if key in _NAMED:
            return key
        raise ValueError(
            f"threshold must be 'halfbit', 'onebit' or a number in (0, 1); got {threshold!r}"
        )
    if isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        value = float(threshold)
        if 0.0 < value < 1.0:
            return value
        raise ValueError(f"threshold as a number must lie in (0, 1); got {threshold!r}")
    raise ValueError(
        f"threshold must be 'halfbit', 'onebit' or a number in (0, 1); got {threshold!r}"
    )


def threshold_curve(n_per_shell: np.ndarray, threshold: str | float) -> np.ndarray:
    """Threshold value per shell.

    Parameters
    ----------
    n_per_shell : array_like
        Number of full-FFT voxels in each shell (pooled shells for ``ring_thick > 1``).
    threshold : {'halfbit', 'onebit'} or float
        Criterion; a float gives a constant curve.

    Returns
    -------
    ndarray of float64
        ``T`` per shell; ``T = 1`` where ``n <= 1`` for the bit criteria.
    """
    threshold = validate_threshold(threshold)
    n = np.asarray(n_per_shell, dtype=np.float64)
    if isinstance(threshold, float):
        return np.full(n.shape, threshold)
    snr = _NAMED[threshold]
    root_snr = np.sqrt(snr)
    inv_root_n = 1.0 / np.sqrt(np.maximum(n, 1.0))
    return (snr + (2.0 * root_snr + 1.0) * inv_root_n) / (snr + 1.0 + 2.0 * root_snr * inv_root_n)


def legacy_threshold_curve(n_per_shell: np.ndarray, threshold: str | float) -> np.ndarray:
    """toupy 0.2.2's threshold: rounded ``S`` and its ``eps`` placement."""
    threshold = validate_threshold(threshold)
    n = np.asarray(n_per_shell, dtype=np.float64)
    if isinstance(threshold, float):
        return np.full(n.shape, threshold)
    snr = _LEGACY_NAMED[threshold]
    eps = np.spacing(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        bits = 2.0 * np.sqrt(snr) / np.sqrt(n + eps)
        return (snr + bits + 1.0 / np.sqrt(n)) / (snr + bits + 1.0)


def ssnr_from_fsc(curve: np.ndarray) -> np.ndarray:
    """Spectral SNR of the combined (two-half) map, ``2 FSC / (1 - FSC)``.

    ``+inf`` where ``1 - FSC`` is within round-off of zero. The SNR of a single
    half is half of this value.
    """
    curve = np.asarray(curve, dtype=np.float64)
    denominator = 1.0 - curve
    out = np.full(curve.shape, np.inf)
    finite = denominator > 4 * np.finfo(np.float64).eps
    out[finite] = 2.0 * curve[finite] / denominator[finite]
    out[np.isnan(curve)] = np.nan
    return out


def threshold_label(threshold: str | float) -> str:
    """Human-readable name of a criterion, for plots and summaries."""
    threshold = validate_threshold(threshold)
    if threshold == "halfbit":
        return "half-bit"
    if threshold == "onebit":
        return "one-bit"
    if abs(threshold - 1.0 / 7.0) < 5e-4:
        return f"{threshold:.3g} (Rosenthal-Henderson)"
    return f"{threshold:.3g}"
