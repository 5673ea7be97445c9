"""FOURIER SHELL CORRELATION: two half-tomograms from one tomographic data set.

The classic resolution estimate of a tomogram: split the projections into even
and odd angles, reconstruct each half, and correlate the two slices (FRC) or
volumes (FSC) with :class:`toupy.resolution.FSC.FSCPlot`. The half-bit
threshold (the default of the FSC classes) is the one meant for such halves.

Sinograms use toupy's layout ``[detector pixel, angle]`` (angles in degrees),
or ``[slice, detector pixel, angle]`` for a stack of slices; the
reconstruction is :func:`toupy.resolution.tomo.tomo_recons`, and ``**params`` are its
parameters (``algorithm``, ``filtertype``, ``freqcutoff``, ``circle``,
``weight_angles``, ``derivatives``, ``calc_derivatives``, ..., ``workers``).

Example
-------
>>> import numpy as np
>>> from toupy.resolution.FSCtools import compute_2tomograms
>>> n = 64
>>> theta = np.linspace(0, 180, 120, endpoint=False)
>>> r = np.arange(n) - n // 2
>>> disc = 2 * np.sqrt(np.clip(12**2 - r**2, 0, None))
>>> sinogram = np.repeat(disc[:, None], theta.size, axis=1)
>>> recon1, recon2 = compute_2tomograms(sinogram, theta)
>>> recon1.shape, recon2.shape
((64, 64), (64, 64))
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# the module, not its names: toupy.resolution.tomo imports helpers of this package, so its
# attributes may not exist yet while the two packages initialise each other
from .tomo import _recons as _tomo
from ._checks import warn_assumption
from ._correlation import default_workers
from ._validate import work_dtype

__all__ = ["split_dataset", "compute_2tomograms", "compute_2tomograms_splitted", "check_angles"]

_log = logging.getLogger(__name__)


def split_dataset(sinogram, theta):
    """Split the tomographic dataset in 2 datasets.

    Parameters
    ----------
    sinogram : ndarray
        A 2-dimensional array containing the sinogram, ``[detector, angle]``
        (a stack ``[slice, detector, angle]`` is split the same way).
    theta : ndarray
        A 1-dimensional array of thetas (degrees), one per column.

    Returns
    -------
    sinogram1 : ndarray
        A 2-dimensional array containing the 1st sinogram: columns 0, 2, 4, ...
    sinogram2 : ndarray
        A 2-dimensional array containing the 2nd sinogram: columns 1, 3, 5, ...
    theta1 : ndarray
        A 1-dimensional array containing the 1st set of thetas.
    theta2 : ndarray
        A 1-dimensional array containing the 2nd set of thetas.

    Raises
    ------
    ValueError
        ``sinogram`` not 2-D/3-D or not real, ``theta`` not matching its last
        axis, NaN/inf, fewer than 2 angles per half (4 in all), all angles
        equal, or an angle repeated (within 1e-6 degree).

    Warns
    -----
    ResolutionWarning
        The angles span less than 2π + 0.01 *degrees* (6.29°): most likely
        radians given as degrees (a half turn in radians spans 3.14), or an
        angular range far too small for a tomogram.

    Notes
    -----
    The split follows the column order, as toupy: when the columns are in
    acquisition order with increasing angles, the halves are the even and odd
    angles, interleaved over the whole range, which is what the half-bit
    threshold assumes. Sort the columns by angle first if they were acquired
    in another order (e.g. several interlaced sub-scans), or the two halves
    may sample different angular ranges. The sinograms returned are views of
    the input (no copy); ``theta1`` and ``theta2`` are float64.

    Examples
    --------
    >>> import numpy as np
    >>> s1, s2, t1, t2 = split_dataset(np.zeros((8, 6)), np.arange(6.0) * 30)
    >>> s1.shape, t1.tolist(), t2.tolist()
    ((8, 3), [0.0, 60.0, 120.0], [30.0, 90.0, 150.0])
    """
    sinogram, theta = _tomo.validate_sinogram(sinogram, theta, min_angles=1)
    if theta.size < 4:
        raise ValueError(
            f"sinogram has {theta.size} projection angles: fewer than 2 per half; "
            "splitting needs at least 4"
        )
    check_angles(theta)
    return sinogram[..., 0::2], sinogram[..., 1::2], theta[0::2], theta[1::2]


#: angles closer than this (degrees) are one angle: text files round to about 1e-6
_SAME_ANGLE_DEG = 1e-6
#: a span below a full turn in radians (2π) + a margin, read as degrees, is taken for radians
_RADIAN_SPAN = 2.0 * np.pi + 0.01


def check_angles(theta, *, name: str = "theta", record: list | None = None) -> None:
    """Refuse angles that cannot make a tomogram; warn when they look like radians.

    All angles equal, or one angle measured twice (two columns at the same
    angle put correlated streaks in both halves, or count a projection
    twice), is a ``ValueError`` naming the angle and its columns. A span of
    less than 2π + 0.01 degrees warns (:class:`ResolutionWarning`): the
    functions take degrees, and such a span is radians given as degrees
    (π = 3.14 for a half turn) or far too small a range for a tomogram.
    """
    theta = np.asarray(theta, dtype=np.float64)
    low, high = float(theta.min()), float(theta.max())
    if high - low <= _SAME_ANGLE_DEG:
        raise ValueError(f"{name}: all {theta.size} angles equal {low:g} degrees; a tomogram needs "
                         "projections at different angles (was the angle column read correctly?)")
    order = np.argsort(theta, kind="stable")
    close = np.flatnonzero(np.diff(theta[order]) <= _SAME_ANGLE_DEG)
    if close.size:
        first, second = sorted((int(order[close[0]]), int(order[close[0] + 1])))
        raise ValueError(
            f"{name}: angle {theta[first]:g} degrees appears twice (columns {first} and {second}; "
            f"{close.size} repeated angle(s) in all); remove or average the repeated projections"
        )
    span = high - low
    if span < _RADIAN_SPAN:
        warn_assumption(
            f"{name} spans only {span:.4g} degrees ({low:g} to {high:g}); the angles are taken in degrees: "
            "if they are radians, convert them with numpy.rad2deg",
            record, stacklevel=3,
        )


def compute_2tomograms(sinogram, theta, **params):
    """Split the tomographic dataset in 2 datasets and compute 2 tomograms from them.

    Parameters
    ----------
    sinogram : ndarray
        A 2-dimensional array containing the sinogram, ``[detector, angle]``,
        or a 3-dimensional stack ``[slice, detector, angle]``.
    theta : ndarray
        A 1-dimensional array of thetas (degrees).
    **params
        Parameters of :func:`toupy.resolution.tomo.tomo_recons`; missing keys take its
        defaults (FBP, ``'ram-lak'``, ``freqcutoff=1``, ``circle=True``),
        unknown keys raise ``ValueError``.

    Returns
    -------
    recon1 : ndarray
        A 2-dimensional array containing the 1st reconstruction (even
        columns), ``(n, n)`` for an ``n``-pixel detector; ``(slices, n, n)``
        for a stack.
    recon2 : ndarray
        A 2-dimensional array containing the 2nd reconstruction (odd columns).

    Notes
    -----
    :func:`split_dataset` followed by :func:`compute_2tomograms_splitted`.
    The two slices (or volumes) go straight into
    ``FSCPlot(recon1, recon2, threshold='halfbit')`` (``FRCPlot`` for
    slices). Keep ``freqcutoff=1``: a cut-off removes the frequencies at which
    the resolution is measured; the filter window itself does not change the
    FSC (it multiplies both halves), only the noise of the slices.

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.linspace(0, 180, 40, endpoint=False)
    >>> sinogram = np.ones((32, 40))
    >>> recon1, recon2 = compute_2tomograms(sinogram, theta, filtertype="hann", workers=1)
    >>> recon1.shape
    (32, 32)
    """
    p = _tomo.validate_params(params)
    sinogram1, sinogram2, theta1, theta2 = split_dataset(sinogram, theta)
    return _compute_pair(sinogram1, sinogram2, theta1, theta2, p)


def compute_2tomograms_splitted(sinogram1, sinogram2, theta1, theta2, **params):
    """Compute 2 tomograms from an already-split tomographic dataset.

    The two reconstructions are independent, so they are run concurrently
    using a ``ThreadPoolExecutor``. Because the reconstruction's FFTs and
    compiled back-projection release the GIL, two OS threads execute truly
    parallel code with negligible overhead.

    If threading fails for any reason (e.g. the backend is not thread-safe),
    the function transparently falls back to the sequential path (logged at
    WARNING level by the ``toupy.resolution.FSCtools`` logger).

    Parameters
    ----------
    sinogram1 : ndarray
        A 2-dimensional array containing sinogram 1, ``[detector, angle]``,
        or a stack ``[slice, detector, angle]``.
    sinogram2 : ndarray
        A 2-dimensional array containing sinogram 2, same detector size (and
        number of slices) as ``sinogram1``.
    theta1 : ndarray
        A 1-dimensional array of thetas for sinogram1 (degrees).
    theta2 : ndarray
        A 1-dimensional array of thetas for sinogram2 (degrees).
    **params
        Parameters of :func:`toupy.resolution.tomo.tomo_recons`.

    Returns
    -------
    recon1 : ndarray
        A 2-dimensional array containing the 1st reconstruction
        (``(slices, n, n)`` for stacks).
    recon2 : ndarray
        A 2-dimensional array containing the 2nd reconstruction.

    Raises
    ------
    ValueError
        Either sinogram not 2-D/3-D or not real, NaN/inf, a ``theta`` not
        matching its sinogram, fewer than 2 angles in a half, the two halves
        of different detector size or slice count, bad ``params``; all angles
        of a half equal or an angle repeated within a half.

    Warns
    -----
    ResolutionWarning
        A half's angles span less than 2π + 0.01 degrees (radians given as
        degrees?), as in :func:`split_dataset`.

    Notes
    -----
    For stacks, the slices of both halves are shared among ``workers`` threads
    (one progress bar); for single slices each reconstruction gets half of
    the threads. Both halves are reconstructed with the same parameters; with
    unevenly spaced angles use ``weight_angles=True``.

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.linspace(0, 180, 40, endpoint=False)
    >>> sinogram = np.ones((32, 40))
    >>> r1, r2 = compute_2tomograms_splitted(sinogram[:, ::2], sinogram[:, 1::2], theta[::2], theta[1::2])
    >>> r1.shape == r2.shape == (32, 32)
    True
    """
    p = _tomo.validate_params(params)
    return _compute_pair(sinogram1, sinogram2, theta1, theta2, p, check=True)


def _compute_pair(sinogram1, sinogram2, theta1, theta2, p: dict, *, check: bool = False):
    """The two reconstructions; ``check`` the angles of each half (done by split_dataset otherwise)."""
    s1, t1 = _tomo.validate_sinogram(sinogram1, theta1, name="sinogram1", theta_name="theta1")
    s2, t2 = _tomo.validate_sinogram(sinogram2, theta2, name="sinogram2", theta_name="theta2")
    if check:
        check_angles(t1, name="theta1")
        check_angles(t2, name="theta2")
    if s1.ndim != s2.ndim or s1.shape[:-1] != s2.shape[:-1]:
        raise ValueError(
            "sinogram1 and sinogram2 must have the same detector size (and number of slices); "
            f"got shapes {s1.shape} and {s2.shape}"
        )
    workers = p["workers"] or default_workers()
    halves = ((s1, t1), (s2, t2))
    try:
        return _concurrent(halves, p, workers)
    except (ValueError, TypeError, MemoryError):
        raise  # a problem of the data or of memory, not of threading: the sequential path would fail too
    except Exception as exc:  # noqa: BLE001 - the documented contract: any threading failure
        _log.warning("concurrent reconstruction failed (%r); reconstructing sequentially", exc)
        return _sequential(halves, p)


def _concurrent(halves, p: dict, workers: int):
    if halves[0][0].ndim == 2:
        each = max(1, workers // 2)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="toupy-half") as pool:
            jobs = [pool.submit(_tomo.reconstruct, s, t, p, workers=each) for s, t in halves]
            return tuple(job.result() for job in jobs)
    # stacks: every (half, slice) is one single-threaded job on a shared pool
    volumes = []
    tasks = []
    for s, t in halves:
        dtype = work_dtype(s)
        volume = np.empty((s.shape[0], s.shape[1], s.shape[1]), dtype=dtype)
        volumes.append(volume)
        tasks.extend((volume, s, t, dtype, k) for k in range(s.shape[0]))

    def run(task):
        volume, s, t, dtype, k = task
        volume[k] = _tomo.reconstruct_slice(s[k], t, p, dtype, 1)

    _tomo.run_jobs(run, tasks, workers, "half-tomograms")
    return tuple(volumes)


def _sequential(halves, p: dict):
    """No thread pool anywhere: one thread, one slice after the other."""
    return tuple(_tomo.reconstruct(s, t, p, workers=1, desc=f"half-tomogram {i + 1}") for i, (s, t) in enumerate(halves))
