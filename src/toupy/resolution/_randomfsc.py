"""Phase-randomised FSC: how much correlation a mask or window adds (decision D7).

RELION's procedure (Chen et al. 2013, Ultramicroscopy 135:24; ``relion
postprocessing.cpp``), ALGORITHMS.md §3:

1. ``FSC_unmasked`` of the two halves (windowed as usual) and ``FSC_obs`` of
   the halves times the mask (the same curve when there is no mask);
2. the cut-off shell ``s_r`` is the first shell ``s >= 1`` where
   ``FSC_unmasked < fsc_cutoff``;
3. each half is transformed (``rfftn``), every coefficient of shell
   ``>= s_r`` keeps its modulus and gets a uniform random phase, independently
   for the two halves, and the half is transformed back (``irfftn``);
4. the randomised halves go through exactly the same mask, window and FSC
   as the observed ones, giving ``FSC_rand``;
5. ``FSC_corr = FSC_obs`` below ``s_r + 2`` and
   ``(FSC_obs - FSC_rand) / (1 - FSC_rand)`` from there on.

Every curve is computed by :func:`toupy.resolution.fsc`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass

import numpy as np
import scipy.fft

from . import _kernels
from ._checks import warn_assumption
from ._correlation import _validated, default_workers, fsc
from ._crossing import first_crossing, shell_to_frequency
from ._progress import progress
from ._results import FSCResult, ShellCurveViews, jsonable
from ._shells import block_shell_index, shell_frequencies
from ._validate import work_dtype
from ._windows import DEFAULT_APOD_WIDTH

__all__ = [
    "RandomFSCResult",
    "phase_randomized_fsc",
    "randomize_phases",
    "corrected_fsc",
    "cutoff_shell",
]

# 1 - FSC_rand at or below this is "FSC_rand = 1": the correction is 0/0 there.
_DEGENERATE = 1e-6
# RELION warns when FSC_rand exceeds this at the resolution shell.
_RAND_WARN = 0.1
# RELION switches to the corrected formula two shells above the cut-off.
_SWITCH_OFFSET = 2
_SLAB_BYTES = 8 << 20


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RandomFSCResult(ShellCurveViews):
    """Phase-randomised FSC test of two halves (2-D FRC or 3-D FSC).

    Attributes
    ----------
    fn : ndarray
        Shell frequency as a fraction of the Nyquist shell (``s / (nmax // 2)``).
    frequency_cpx : ndarray
        Shell frequency in cycles/pixel (``s / nmax``, ``nmax = max(shape)``).
    fsc_obs : ndarray
        FSC of the halves as given (times ``mask`` if one was given).
    fsc_rand : ndarray
        FSC of the phase-randomised halves, treated exactly like ``fsc_obs``.
    fsc_corr : ndarray
        ``fsc_obs`` below shell ``cutoff_shell + 2``, ``(fsc_obs - fsc_rand) /
        (1 - fsc_rand)`` from there on, clipped to [-1, 1]; 0 where
        ``1 - fsc_rand <= 1e-6`` (the mask alone explains the correlation).
    fsc_unmasked : ndarray
        FSC of the halves without the mask (the window still applies); it
        sets the cut-off. Identical to ``fsc_obs`` without a mask.
    threshold_curve : ndarray
        Threshold per shell (same shells and counts for every curve).
    n_per_shell : ndarray
        Fourier voxels per (pooled) shell, counted in the full FFT.
    cutoff_shell : int
        First shell ``s >= 1`` with ``fsc_unmasked < fsc_cutoff``; phases are
        randomised in every shell ``>= cutoff_shell``.
    fsc_cutoff : float
        The FSC value that defined ``cutoff_shell``.
    fn_res, fn_res_cpx : float or None
        Crossing of ``fsc_corr`` with the threshold, as a fraction of Nyquist
        and in cycles/pixel; None when ``fsc_corr`` is below the threshold
        from the first shell on.
    resolution_full, resolution_half : float or None
        ``pixel_size / fn_res_cpx`` (full period) and half of it, in ``unit``.
    nyquist_limited : bool
        ``fsc_corr`` never drops below the threshold (resolution is an upper
        bound of 2 px full period).
    crossing_shell : float or None
        Interpolated crossing of ``fsc_corr`` in shell units.
    observed : FSCResult
        The full result of ``fsc_obs`` (its own, uncorrected resolution).
    unmasked : FSCResult
        The full result of ``fsc_unmasked`` (``observed`` itself without a mask).
    masked : bool
        Whether a mask was applied.
    random_seed : int
        Seed of the random phases actually used (drawn from the operating
        system when none was given); passing it again reproduces the result.
    threshold, ring_thick, apod_width, window, pixel_size, unit, shape, complex_input
        Parameters and input description (``unit`` labels every length).
    warnings : tuple of str
        The warnings issued for this result (those of the three FSCs
        included), one sentence each; empty for a clean input.
    """

    fn: np.ndarray
    frequency_cpx: np.ndarray
    fsc_obs: np.ndarray
    fsc_rand: np.ndarray
    fsc_corr: np.ndarray
    fsc_unmasked: np.ndarray
    threshold_curve: np.ndarray
    n_per_shell: np.ndarray
    cutoff_shell: int
    fsc_cutoff: float
    fn_res: float | None
    fn_res_cpx: float | None
    resolution_full: float | None
    resolution_half: float | None
    nyquist_limited: bool
    crossing_shell: float | None
    observed: FSCResult
    unmasked: FSCResult
    masked: bool
    random_seed: int
    threshold: str | float
    ring_thick: int
    apod_width: int
    window: str | None
    pixel_size: float
    unit: str
    shape: tuple
    complex_input: bool = False
    warnings: tuple = ()

    @property
    def shells(self) -> np.ndarray:
        """Integer shell indices, from 0 to ``fnyquist``."""
        return np.arange(self.fsc_obs.size)

    @property
    def bias(self) -> np.ndarray:
        """``fsc_obs - fsc_rand``: the correlation not explained by mask and window."""
        return self.fsc_obs - self.fsc_rand

    @property
    def cutoff_fn(self) -> float:
        """Cut-off shell as a fraction of Nyquist."""
        return float(shell_to_frequency(self.cutoff_shell, max(self.shape))["fn"])

    @property
    def cutoff_cpx(self) -> float:
        """Cut-off shell in cycles/pixel."""
        return float(shell_to_frequency(self.cutoff_shell, max(self.shape))["cpx"])

    @property
    def cutoff_resolution_full(self) -> float:
        """Full period of the cut-off shell in ``unit`` (phases are random at finer periods)."""
        return self.pixel_size / self.cutoff_cpx

    def summary(self) -> str:
        """One line: the corrected resolution, the uncorrected one and the cut-off."""
        name = f"{self.kind} resolution (phase-randomisation corrected)"
        cut = (
            f"phases randomised from shell {self.cutoff_shell} "
            f"({self.cutoff_cpx:.4f} cycles/pixel, FSC < {self.fsc_cutoff:g})"
        )
        if self.fn_res_cpx is None:
            return f"{name}: none ({self.threshold_name}): below the threshold from the first shell on; {cut}"
        bound = "<= " if self.nyquist_limited else ""
        note = " (Nyquist-limited: upper bound)" if self.nyquist_limited else ""
        obs = self.observed.resolution_full
        uncorrected = "none" if obs is None else f"{obs:.4g} {self.unit}"
        return (
            f"{name}: {bound}{self.resolution_full:.4g} {self.unit} full period, "
            f"{self.resolution_half:.4g} {self.unit} half period "
            f"({self.threshold_name}, {self.fn_res_cpx:.4f} cycles/pixel){note}; "
            f"uncorrected {uncorrected} full period; {cut}"
        )

    def to_dict(self) -> dict:
        """All fields as JSON-safe Python objects (NaN and inf become None).

        ``observed`` and ``unmasked`` are reduced to their resolution fields
        (their curves are ``fsc_obs`` and ``fsc_unmasked``).
        """
        keep = ("fn_res", "fn_res_cpx", "resolution_full", "resolution_half",
                "nyquist_limited", "crossing_shell")
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, FSCResult):
                value = {k: getattr(value, k) for k in keep}
            out[f.name] = value
        out.update(
            kind=self.kind,
            bias=self.bias,
            cutoff_fn=self.cutoff_fn,
            cutoff_cpx=self.cutoff_cpx,
            cutoff_resolution_full=self.cutoff_resolution_full,
            resolution_full_px=self.resolution_full_px,
            resolution_half_px=self.resolution_half_px,
            units={
                "fn": "fraction of Nyquist",
                "frequency_cpx": "cycles/pixel",
                "fn_res_cpx": "cycles/pixel",
                "cutoff_cpx": "cycles/pixel",
                "cutoff_shell": "shell index",
                "resolution_full": self.unit,
                "resolution_half": self.unit,
                "cutoff_resolution_full": self.unit,
                "resolution_full_px": "px",
                "resolution_half_px": "px",
            },
        )
        return jsonable(out)

    def to_json(self, indent: int | None = 2) -> str:
        """The :meth:`to_dict` content as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def plot(self, axes=None):
        """Two panels (curves with threshold; ``fsc_obs - fsc_rand``); return the figure."""
        from ._plot_randomfsc import plot_randomfsc

        return plot_randomfsc(self, axes=axes)


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def _check_fsc_cutoff(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"fsc_cutoff must be a number in (0, 1), e.g. 0.8; got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"fsc_cutoff must lie strictly between 0 and 1, e.g. 0.8; got {value!r}")
    return value


def _check_seed(seed) -> int:
    """The seed to use: ``seed`` itself, or fresh OS entropy (recorded) for None."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"random_seed must be None or a non-negative integer; got {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------------------------
# the steps
# --------------------------------------------------------------------------------------------
def _rotate_numpy(block: np.ndarray, phase: np.ndarray, beyond: np.ndarray) -> None:
    """``block = |block| exp(i phase)`` where ``beyond``, in place (reference twin)."""
    rotated = np.abs(block) * np.exp(1j * phase).astype(block.dtype, copy=False)
    np.copyto(block, rotated, where=beyond)


if _kernels.HAVE_NUMBA:
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def _rotate_numba(block, phase, beyond):
        # one pass over a 2-D (rows, columns) view instead of numpy's five temporaries
        n_rows, n_cols = block.shape
        for r in prange(n_rows):
            for c in range(n_cols):
                if beyond[r, c]:
                    v = block[r, c]
                    amplitude = np.sqrt(v.real * v.real + v.imag * v.imag)
                    p = phase[r, c]
                    block[r, c] = complex(amplitude * np.cos(p), amplitude * np.sin(p))


def _rotate(block, phase, beyond, use_numba: bool = True) -> None:
    # the compiled loop writes through a reshaped view, which needs a contiguous block
    if use_numba and _kernels.HAVE_NUMBA and block.flags.c_contiguous:
        cols = block.shape[-1]
        _rotate_numba(block.reshape(-1, cols), phase.reshape(-1, cols), beyond.reshape(-1, cols))
    else:
        _rotate_numpy(block, phase, beyond)


def cutoff_shell(curve: np.ndarray, fsc_cutoff: float) -> int:
    """First shell ``s >= 1`` where ``curve < fsc_cutoff`` (NaN shells never qualify).

    Raises
    ------
    ValueError
        If the curve never drops below ``fsc_cutoff``; the message gives the
        lowest value of the curve, above which ``fsc_cutoff`` must be raised.
    """
    curve = np.asarray(curve, dtype=np.float64)
    below = curve < fsc_cutoff
    below[:1] = False
    if not below.any():
        finite = np.where(np.isfinite(curve[1:]), curve[1:], np.inf)
        if not np.isfinite(finite).any():
            raise ValueError("fsc_cutoff: the FSC of the halves has no finite value beyond DC")
        lowest = int(np.argmin(finite)) + 1
        raise ValueError(
            f"fsc_cutoff={fsc_cutoff:g}: the FSC of the halves never drops below it "
            f"(lowest value {curve[lowest]:.4f} at shell {lowest}), so there is no shell to "
            f"randomise from. Raise fsc_cutoff above {curve[lowest]:.4f}. A curve this high "
            "in every shell means the halves are correlated at every frequency: check that "
            "they are independent, or that the data are not oversampled."
        )
    return int(np.argmax(below))


def _self_conjugate_phases(rng: np.random.Generator, shape: tuple[int, ...]) -> list[np.ndarray]:
    """Hermitian-consistent random phases for the self-conjugate columns of an rfft.

    In ``rfftn`` layout the last-axis column 0 (and, for an even last axis,
    column ``n/2``) holds both members of each Friedel pair: ``F(-k) =
    conj F(k)`` over the other axes. A phase field with ``phi(-k) = -phi(k)``
    keeps that; ``phi(k) - phi(-k)`` of two independent uniform phases is
    again uniform (mod 2 pi). Self-mate voxels (``k = -k``) must stay real:
    they get phase 0 or pi with equal probability.
    """
    plane_shape = shape[:-1]
    mirror = np.ix_(*[(-np.arange(n)) % n for n in plane_shape])
    self_mate = np.ones(plane_shape, dtype=bool)
    for ax, n in enumerate(plane_shape):
        idx = np.arange(n)
        view = [1] * len(plane_shape)
        view[ax] = n
        self_mate = self_mate & (idx == (-idx) % n).reshape(view)
    columns = 2 if shape[-1] % 2 == 0 else 1
    planes = []
    for _ in range(columns):
        phi = rng.random(plane_shape) * (2.0 * np.pi)
        anti = phi - phi[mirror]
        anti[self_mate] = np.where(phi[self_mate] < np.pi, 0.0, np.pi)
        planes.append(anti)
    return planes


def randomize_phases(
    image: np.ndarray,
    cutoff: int,
    rng: np.random.Generator,
    *,
    workers: int | None = None,
    use_numba: bool = True,
) -> np.ndarray:
    """Give every Fourier coefficient of shell ``>= cutoff`` a uniform random phase.

    Moduli are kept; shells below ``cutoff`` (and DC) are untouched. Real
    images go through ``rfftn``/``irfftn`` with Hermitian-consistent phases
    (the self-conjugate columns get antisymmetric phases), so the result is
    exactly real and every modulus is preserved to round-off. Complex images
    use ``fftn``/``ifftn`` with independent phases everywhere.

    Parameters
    ----------
    image : ndarray
        Real or complex 2-D/3-D array (integers are computed in float32).
    cutoff : int
        First shell to randomise (shell geometry of :mod:`._shells`).
    rng : numpy.random.Generator
        Source of the phases.
    workers : int, optional
        FFT threads.
    use_numba : bool, optional
        Use the compiled rotation loop (the numpy twin gives the same result
        to the last bits of ``cos``/``sin``).

    Returns
    -------
    ndarray
        The randomised image, float32/float64 (complex64/complex128 for
        complex input) following :func:`work_dtype`; the input is not modified.
    """
    workers = workers or default_workers()
    shape = image.shape
    dtype = work_dtype(image)
    complex_input = image.dtype.kind == "c"
    if complex_input:
        cdtype = np.result_type(dtype, np.complex64)
        spectrum = scipy.fft.fftn(image.astype(cdtype, copy=False), workers=workers)
        planes = []
    else:
        spectrum = scipy.fft.rfftn(image.astype(dtype, copy=False), workers=workers)
        planes = _self_conjugate_phases(rng, shape)
    freqs = shell_frequencies(shape, real=not complex_input)
    plane_bytes = spectrum[0].nbytes
    rows = int(max(1, min(shape[0], _SLAB_BYTES // max(plane_bytes, 1))))
    two_pi = dtype.type(2.0 * np.pi)
    for a in range(0, shape[0], rows):
        b = min(a + rows, shape[0])
        block = spectrum[a:b]
        beyond = np.broadcast_to(block_shell_index([freqs[0][a:b]] + freqs[1:]) >= cutoff, block.shape)
        phase = rng.random(block.shape, dtype=dtype)
        phase *= two_pi
        if planes:
            phase[..., 0] = planes[0][a:b]
            if len(planes) == 2:
                phase[..., -1] = planes[1][a:b]
        _rotate(block, phase, np.ascontiguousarray(beyond), use_numba=use_numba)
    if complex_input:
        return scipy.fft.ifftn(spectrum, workers=workers, overwrite_x=True)
    return scipy.fft.irfftn(spectrum, s=shape, workers=workers, overwrite_x=True)


def corrected_fsc(
    observed: np.ndarray, randomized: np.ndarray, cutoff: int
) -> tuple[np.ndarray, np.ndarray]:
    """RELION's corrected FSC and the shells where the correction is undefined.

    ``observed`` below shell ``cutoff + 2``; ``(observed - randomized) / (1 -
    randomized)`` from there on, clipped to [-1, 1]. Where ``1 - randomized
    <= 1e-6`` the ratio is 0/0 in practice: those shells get 0 (nothing
    beyond the mask-induced correlation can be claimed) and are returned so
    the caller can warn.
    """
    observed = np.asarray(observed, dtype=np.float64)
    randomized = np.asarray(randomized, dtype=np.float64)
    corrected = observed.copy()
    beyond = np.arange(observed.size) >= cutoff + _SWITCH_OFFSET
    denominator = 1.0 - randomized
    usable = beyond & (denominator > _DEGENERATE)
    degenerate = beyond & (denominator <= _DEGENERATE)
    corrected[usable] = (observed[usable] - randomized[usable]) / denominator[usable]
    corrected[degenerate] = 0.0
    corrected[beyond] = np.clip(corrected[beyond], -1.0, 1.0)
    return corrected, np.flatnonzero(degenerate)


def _crossing(curve, thresholds, shape, pixel_size):
    crossing, limited = first_crossing(curve, thresholds)
    crossing = float(crossing)
    if np.isnan(crossing):
        return dict(fn_res=None, fn_res_cpx=None, resolution_full=None, resolution_half=None,
                    nyquist_limited=False, crossing_shell=None)
    freq = shell_to_frequency(crossing, max(shape))
    cpx = float(freq["cpx"])
    return dict(
        fn_res=float(freq["fn"]), fn_res_cpx=cpx, resolution_full=pixel_size / cpx,
        resolution_half=pixel_size / cpx / 2.0, nyquist_limited=bool(limited),
        crossing_shell=crossing,
    )


def _warn_about(result: RandomFSCResult, degenerate: np.ndarray, record: list) -> None:
    if degenerate.size:
        warn_assumption(
            f"FSC_rand is within {_DEGENERATE:g} of 1 in shells {degenerate.tolist()}: the mask "
            "alone correlates the halves there, so FSC_corr is set to 0 in those shells. "
            "Use a softer mask.",
            record,
        )
    if result.crossing_shell is not None:
        shell = min(int(round(result.crossing_shell)), result.fsc_rand.size - 1)
        value = result.fsc_rand[shell]
        # 0.1 is RELION's limit for 3-D shells of thousands of voxels; small shells reach it
        # by chance, so the value must also exceed three noise standard deviations.
        limit = max(_RAND_WARN, 3.0 / math.sqrt(max(result.n_per_shell[shell], 1.0)))
        if value > limit:
            warn_assumption(
                f"FSC_rand = {value:.3f} (> {limit:.3f}) at the resolution shell {shell}: the "
                "mask or window itself correlates the halves there and the corrected "
                "resolution may be wrong. Use a softer mask (wider soft edge) or a smoother "
                "window.",
                record,
            )
    unmasked = result.unmasked.crossing_shell
    if result.masked and unmasked is not None and result.crossing_shell is not None:
        # Interpolated crossings jitter by a fraction of a shell; one shell is a real difference.
        if unmasked > result.crossing_shell + 1.0:
            warn_assumption(
                f"The FSC without the mask extends beyond the corrected masked FSC "
                f"({result.unmasked.resolution_full:.4g} vs {result.resolution_full:.4g} "
                f"{result.unit} full period): the mask may cut into the object. Check the mask.",
                record,
            )


# --------------------------------------------------------------------------------------------
# the estimator
# --------------------------------------------------------------------------------------------
def phase_randomized_fsc(
    img1: np.ndarray,
    img2: np.ndarray,
    *,
    threshold: str | float = "halfbit",
    ring_thick: int = 1,
    apod_width: int = DEFAULT_APOD_WIDTH,
    fsc_cutoff: float = 0.8,
    random_seed: int | None = None,
    pixel_size: float = 1.0,
    unit: str | None = None,
    window: str | None = "circle",
    mask: np.ndarray | None = None,
    workers: int | None = None,
) -> RandomFSCResult:
    """Phase-randomisation test of the FSC of two halves (Chen et al. 2013).

    The Fourier phases of both halves are replaced by independent uniform
    random phases from the shell where their FSC first drops below
    ``fsc_cutoff`` on. Beyond that shell the randomised halves share no
    signal, so any correlation left after the same mask and window have been
    applied (``FSC_rand``) is created by the mask and window themselves
    (their spectra spread the correlated low frequencies into higher
    shells). ``FSC_corr = (FSC_obs - FSC_rand) / (1 - FSC_rand)`` removes it,
    and the resolution is read from ``FSC_corr``.

    Parameters
    ----------
    img1, img2 : ndarray
        Two half maps or images of the same shape, 2-D or 3-D
        (``[slices, rows, cols]``), real or complex. Not modified.
    threshold : {'halfbit', 'onebit'} or float, optional
        Resolution criterion applied to ``FSC_corr`` (see :func:`fsc`).
    ring_thick : int, optional
        Shells pooled per output point, as in :func:`fsc`.
    apod_width : int, optional
        Width in pixels of the window edge; 0 disables the window. Default 20;
        left at the default on an axis shorter than 40 pixels, the edge is
        narrowed to a quarter of the shortest axis (with a warning). An explicit
        width needs ``2 * apod_width`` pixels along every axis.
    fsc_cutoff : float, optional
        In (0, 1). Phases are randomised from the first shell ``s >= 1``
        where the FSC of the halves without mask drops below this value.
        Default 0.8 (RELION's default).
    random_seed : int, optional
        Seed of the random phases. None draws one from the operating system
        and records it in the result (``random_seed``), so every result can
        be reproduced.
    pixel_size : float, optional
        Size of one pixel; every length of the result is in its unit.
    unit : str, optional
        Name of that unit (e.g. ``'nm'``).
    window : {'circle', 'tukey', 'hann', 'toupy', None}, optional
        Apodization window applied to observed and randomised halves alike.
    mask : ndarray, optional
        Real weights of the input shape (soft or binary) multiplied into the
        observed halves and into the randomised halves (RELION's masked FSC).
        This is where the test matters: a sharp mask correlates the halves at
        high frequency by itself.
    workers : int, optional
        FFT threads; default all available cores.

    Returns
    -------
    RandomFSCResult
        ``fsc_obs``, ``fsc_rand``, ``fsc_corr`` (and ``fsc_unmasked``), the
        threshold, the cut-off shell and the resolution of ``fsc_corr``.

    Raises
    ------
    ValueError
        For bad inputs (as :func:`fsc`; ``fsc_cutoff`` outside (0, 1); a
        negative or non-integer ``random_seed``; a mask of the wrong shape,
        non-finite or zero everywhere) and when the FSC never drops below
        ``fsc_cutoff`` (the message says how far to raise it).

    Warns
    -----
    ResolutionWarning
        If ``FSC_rand`` at the resolution shell exceeds both 0.1 (RELION's
        limit) and ``3/sqrt(n)`` (three noise standard deviations, which
        matters for the small shells of 2-D images), if the unmasked FSC
        crosses the threshold more than one shell beyond the corrected masked
        one (the mask may cut into the object), or if ``FSC_rand`` reaches 1.

    Notes
    -----
    **What the test measures.** Randomising the phases of *finished* maps
    measures only correlation created by what is applied to them afterwards:
    the mask and the apodization window. It cannot detect overfitting or
    reference bias in the reconstruction (two halves that share noise keep
    sharing it below the cut-off and lose it above, whatever its origin);
    that needs phase-randomised *input data* processed through the whole
    reconstruction, as in Chen et al.'s original noise-substitution test.
    Without a mask, ``FSC_rand`` beyond the cut-off is pure noise
    (``0 ± 1/sqrt(n)`` per shell, slightly wider with a strong window) and
    ``FSC_corr ≈ FSC_obs``; with a sharp mask ``FSC_rand`` rises well above
    that and ``FSC_corr`` falls below ``FSC_obs``. Prefer soft masks: a
    mask edge several pixels wide keeps ``FSC_rand`` small.

    **Details.** The cut-off is taken from the FSC without the mask (with
    the window), which a mask cannot inflate. The phases are drawn per
    Fourier coefficient and kept Hermitian-consistent, so moduli are exactly
    preserved and the randomised maps are real. The corrected formula starts
    two shells above the cut-off, as in RELION, to avoid artefacts at the
    randomisation edge; below that ``FSC_corr`` equals ``FSC_obs``. For
    complex inputs every curve is the modulus of the complex cross sum (see
    :func:`fsc`), which is positive for noise; ``FSC_rand`` then sits near
    ``0.89/sqrt(n)`` rather than 0. ``window='toupy'`` takes the absolute
    value of the cross sum as toupy 0.2.2 did, which biases ``FSC_rand``
    upwards in the same way; use it only to compare with old results.

    Examples
    --------
    >>> import numpy as np
    >>> from toupy.resolution import phase_randomized_fsc
    >>> rng = np.random.default_rng(0)
    >>> n = 128
    >>> f = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing='ij'))
    >>> obj = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) * np.exp(-20 * f)).real
    >>> halves = [obj + 0.02 * rng.standard_normal((n, n)) for _ in range(2)]
    >>> res = phase_randomized_fsc(*halves, random_seed=1, pixel_size=10.0, unit='nm')
    >>> res.cutoff_shell > 1 and res.resolution_full > 20.0
    True
    >>> below = slice(0, res.cutoff_shell + 2)  # no correction there (RELION's rule)
    >>> np.array_equal(res.fsc_corr[below], res.fsc_obs[below], equal_nan=True)
    True
    """
    record = []
    a, b, threshold, ring_thick, apod_width, window, pixel_size, mask = _validated(
        img1, img2, threshold, ring_thick, apod_width, window, pixel_size, mask, record
    )
    fsc_cutoff = _check_fsc_cutoff(fsc_cutoff)
    seed = _check_seed(random_seed)
    common = dict(
        threshold=threshold, ring_thick=ring_thick, apod_width=apod_width, window=window,
        pixel_size=pixel_size, unit=unit, workers=workers,
    )

    unmasked = fsc(a, b, **common)
    cutoff = cutoff_shell(unmasked.fsc, fsc_cutoff)
    observed = unmasked if mask is None else fsc(a, b, mask=mask, **common)

    # Independent streams for the two halves, both derived from the one seed.
    streams = np.random.SeedSequence(seed).spawn(2)
    randomized_halves = [
        randomize_phases(x, cutoff, np.random.default_rng(stream), workers=workers)
        for x, stream in progress(
            list(zip((a, b), streams)), total=2, desc="randomising phases"
        )
    ]
    randomized = fsc(*randomized_halves, mask=mask, **common)

    corrected, degenerate = corrected_fsc(observed.fsc, randomized.fsc, cutoff)
    result = RandomFSCResult(
        fn=observed.fn,
        frequency_cpx=observed.frequency_cpx,
        fsc_obs=observed.fsc,
        fsc_rand=randomized.fsc,
        fsc_corr=corrected,
        fsc_unmasked=unmasked.fsc,
        threshold_curve=observed.threshold_curve,
        n_per_shell=observed.n_per_shell,
        cutoff_shell=cutoff,
        fsc_cutoff=fsc_cutoff,
        **_crossing(corrected, observed.threshold_curve, a.shape, pixel_size),
        observed=observed,
        unmasked=unmasked,
        masked=mask is not None,
        random_seed=seed,
        threshold=threshold,
        ring_thick=ring_thick,
        apod_width=apod_width,
        window=window,
        pixel_size=pixel_size,
        unit=observed.unit,
        shape=tuple(a.shape),
        complex_input=observed.complex_input,
    )
    for part in (unmasked, observed, randomized):
        record.extend(w for w in part.warnings if w not in record)
    _warn_about(result, degenerate, record)
    return dataclasses.replace(result, warnings=tuple(record))
