"""Single-map local resolution: the documented class of ``toupy.resolution.localres``.

:class:`LocalResolution` keeps toupy's interface (parameters, defaults,
attributes, ``plot``); every number comes from the functional core
:func:`toupy.resolution._localres.local_resolution`. Where toupy's statistics
were wrong the class follows decision D9 of ``ALGORITHMS.md`` and says so: the
null law of the local band energy accounts for the correlation of band-passed,
window-averaged noise, its quantile comes from a moment-matched gamma law
instead of a normal z-score, and bands are tested from coarse to fine.

Example
-------
>>> import numpy as np
>>> from scipy.ndimage import gaussian_filter
>>> from toupy.resolution.localres import LocalResolution
>>> rng = np.random.default_rng(0)
>>> obj = np.zeros((128, 128))
>>> obj[32:96, 32:96] = gaussian_filter(rng.standard_normal((64, 64)), 1.5) * 10
>>> lr = LocalResolution(obj + rng.standard_normal(obj.shape), pixel_size=20.0,
...                      window_sigma=4.0)
>>> bool(np.isnan(lr.resolution_map[0, 0]))  # corners: outside the automatic mask
True
>>> bool(2.0 <= lr.resolution_median < 20.0)
True
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from ._localres import LocalResolutionResult, local_resolution
from ._plotting import save_figure
from ._results import MAP_STATISTICS

__all__ = ["LocalResolution"]

_FILENAME = "LocalResolution_map.png"


class LocalResolution:
    """Single-map local resolution estimation via a ResMap-inspired statistical test.

    For each voxel and each spatial-frequency band the local energy of the
    band-passed map (averaged over a Gaussian window) is compared with its
    distribution for noise alone. The local resolution is ``1/f`` of the finest
    band reached by an unbroken run of passes starting at the coarsest band.
    A single reconstruction is enough — no half data sets. Three noise
    estimators (``noise_method``) or a known ``sigma_noise`` make it usable also
    for local tomography, where the sample fills the field of view.

    Parameters
    ----------
    vol : ndarray or dask.array.Array
        2-D image or 3-D reconstruction (``[slices, rows, cols]``), real. Not
        modified; float32 stays float32. A dask array (optional extra
        ``[dask]``) is tested chunk by chunk on the current scheduler or
        ``dask.distributed`` client, never gathered on the client; see Notes.
    pixel_size : float, optional
        Physical size of one voxel (any unit, e.g. nm). Default 1.0 (pixels).
    significance : float, optional
        Level α in (0, 0.5] of the one-sided test of each band. Smaller values
        demand stronger evidence of signal and give coarser (more conservative)
        resolutions. Noise alone obtains a resolution in about a fraction α of
        the voxels (see ``fdr``). Default 0.05.
    n_freq : int, optional
        Number of bands, centred on ``linspace(1/min(shape), 0.5, n_freq)``
        cycles/pixel (from the lowest frequency of the grid to Nyquist), each a
        Gaussian of standard deviation 0.6 × the band spacing. At least 2.
        Default 20.
    window_sigma : float, optional
        Standard deviation in voxels of the Gaussian window over which the band
        energy is averaged. Larger values give a smoother, less local map and a
        more sensitive test. Default 7.0.
    mask : ndarray of bool, dask.array.Array or None, optional
        Sample region; the map is NaN outside it. ``None`` (default): estimated
        automatically by blurring the squared deviation of the map from the
        background level (mean of the noise region) with the Gaussian window and
        keeping the voxels above its noise-only ``1 - 1e-3`` quantile. With
        ``noise_method='highfreq'`` or a given ``sigma_noise`` there is no noise
        region to define the background, and the whole field of view is used.
    noise_method : {'corners', 'highfreq', 'mask'}, optional
        How the noise level is estimated:

        ``'corners'`` (default)
            Boxes of ``corner_fraction`` of each edge in the eight (four in 2-D)
            corners, which must be free of sample and hold the map's solvent
            noise: a warning is given when their variances disagree or are
            orders of magnitude below the rest of the map (masked or flattened
            solvent, as in deposited cryo-EM maps), and numerically flat
            corners are refused. Not suitable for local tomography.
        ``'highfreq'``
            Mean power of the spectrum above ``1 - highfreq_fraction`` of the
            Nyquist frequency, assuming white noise and no signal there. For maps
            filled with sample (local tomography). A warning is given when that
            power still falls towards Nyquist (a band-limited, filtered or
            sharpened map) or the corners are flattened (a masked map); a
            numerically empty tail is refused.
        ``'mask'``
            The voxels marked by ``noise_mask``, anywhere in the map.
    noise_mask : ndarray of bool, dask.array.Array or None, optional
        Noise-only voxels; required with ``noise_method='mask'``, ignored
        otherwise.
    sigma_noise : float or None, optional
        Known noise standard deviation (white noise). When given,
        ``noise_method``, ``noise_mask`` and ``corner_fraction`` are ignored.
    corner_fraction : float, optional
        Side of the corner boxes as a fraction of each edge, in (0, 0.5). Only
        for ``noise_method='corners'``. Default 0.10.
    highfreq_fraction : float, optional
        Fraction of the frequency range, counted down from Nyquist, used by
        ``noise_method='highfreq'`` (default 0.10: 0.45–0.5 cycles/pixel).
    whiten : bool, optional
        Keyword only. Coloured noise, e.g. the ramp-shaped noise of filtered
        back-projection: estimate the noise power spectrum radially from the
        noise region (corners or ``noise_mask``) and use it in the null law of
        every band — equivalent to whitening the map by it. Without it one ``σ²``
        is assumed at every frequency, which for FBP noise makes fine bands pass
        too easily. Default False.
    fdr : bool, optional
        Keyword only. Control the false-discovery rate at ``significance`` with
        Benjamini–Hochberg across the mask voxels of each band instead of
        testing each voxel at level ``significance``; use it when empty regions
        must stay empty (few spurious resolutions), at some loss of sensitivity.
        Default False.
    unit : str, optional
        Keyword only. Name of the unit of ``pixel_size`` (e.g. ``'nm'``).
    workers : int, optional
        Keyword only. FFT threads; default all available cores.
    progress_bar : bool, optional
        Keyword only. Progress bar over the bands (default: when stderr is a
        terminal; ``TOUPY_RESOLUTION_PROGRESS=1`` forces it). Not drawn for
        dask inputs (use the dashboard or ``dask.diagnostics.ProgressBar``).
    compute : bool, optional
        Keyword only; dask inputs. ``False`` (default): ``resolution_map`` and
        an automatic ``mask`` stay lazy dask arrays (store them with
        ``to_zarr`` or compute the part you need; computing the map repeats
        the band tests). ``True``: both are computed with the statistics, in
        one pass, as numpy arrays.

    Attributes
    ----------
    resolution_map : ndarray or dask.array.Array
        Local full-period resolution in pixels (van Heel convention; NaN outside
        the sample mask and where even the coarsest band fails), same shape as
        ``vol``. Lazy for a dask ``vol`` unless ``compute=True``.
    resolution_map_phys : ndarray
        Local full-period resolution in physical units (``resolution_map *
        pixel_size``).
    resolution_map_half : ndarray
        Local half-period resolution in pixels (Rayleigh convention):
        ``resolution_map / 2``.
    resolution_map_phys_half : ndarray
        Local half-period resolution in physical units: ``resolution_map_phys / 2``.
    sigma_noise : float
        Noise standard deviation used for the hypothesis test.
    freq_bands : ndarray
        Centre frequencies (cycles/pixel) of the tested bands.
    mask : ndarray of bool
        Binary sample mask (estimated or user-supplied).
    resolution_median, resolution_mean, resolution_std : float
        Median, mean and standard deviation of the full-period local resolution
        in pixels within the mask (finite values).
    resolution_median_half, resolution_mean_half, resolution_std_half : float
        The same for the half-period resolution.
    warnings : tuple of str
        The failed checks of the noise model and of the automatic mask, one
        sentence each, also issued as ``ResolutionWarning``; empty when every
        check passed.
    result : LocalResolutionResult
        Everything above plus the null law and threshold of every band, the
        fraction of the mask passing each band, the noise model and units;
        ``result.to_json()`` for a record.

    Notes
    -----
    The method follows ResMap [1]_ in spirit (a local test of signal against
    noise at each frequency, resolution = finest frequency with signal) with a
    Gaussian band-pass in Fourier space and a Gaussian window instead of
    ResMap's steerable local model. toupy's documentation speaks of a z-score;
    this implementation (decision D9 of ``ALGORITHMS.md``) differs on purpose:

    * the band energy of noise alone is a weighted χ² whose variance includes
      the correlation of band-passed, window-averaged noise,
      ``2 Σ_Δ (g⋆g)(Δ) C(Δ)²`` with ``C`` the covariance of the band-passed
      noise — computed from the band filter and the window, not from an assumed
      number of independent samples ``(2 √π σ_w)^d`` (which makes noise pass
      coarse bands several times more often than α);
    * the threshold is the upper α quantile of the gamma law with that mean and
      variance (Satterthwaite), accurate also where the window holds few
      independent samples. Measured on white noise at α = 0.05 the pass rate of
      each band is 0.050–0.054 (the gamma tail is slightly lighter than the
      exact one);
    * the uncertainty of an estimated noise level (relative variance ``2/(n-1)``
      for ``n`` noise voxels) is added to the null variance, so an estimate from
      a small region does not turn into false detections;
    * bands are tested from coarse to fine and the resolution is the finest
      band of the unbroken run of passes that starts at the coarsest one; a
      voxel failing the coarsest band is NaN. A map whose detail is confined to
      a narrow band with nothing coarser (a pure grating) is therefore not
      resolved; real maps, whose spectra decay with frequency, are.

    The coarsest bands are low-pass filters: a background whose level differs
    from the map's mean carries energy there and gets a coarse resolution unless
    the mask excludes it (the automatic mask does). The FFT treats the map as
    periodic: where opposite faces do not match (a crop, a sample touching the
    border) the jump between them would look like detail up to Nyquist within
    about ``4 window_sigma`` of them. A significant jump is detected per axis
    and removed before band-passing (periodic-plus-smooth decomposition;
    ``result.periodic_axes`` and the summary say which axes); dask arrays
    instead warn and leave those zones out of the mask. A band whose period
    is much longer than the window can fail where the band-passed map crosses
    zero, which leaves a few NaN voxels inside the sample.

    Each noise estimator checks the assumption it rests on and records a
    failure in ``warnings`` (thresholds and their reasons: Notes of
    :func:`toupy.resolution.local_resolution`): the corners must not be
    flattened solvent (corner variance below ``1e-2`` of the box border's or
    ``1e-4`` of the whole map's is warned of, a corner standard deviation
    below ``1e-5`` of the map's is refused); the high-frequency tail must be
    flat (a slope more than 5 of its white-noise standard errors below zero,
    with the upper half of the tail under 90 % of the lower half's power, is
    warned of); more than half of the corner boxes inside the automatic mask
    means the noise level is too small for the map. For a deposited cryo-EM
    map use the unmasked, unfiltered map (the sample mask as ``mask=``), or
    ``noise_method='mask'`` with a ``noise_mask`` of solvent.

    For local (region-of-interest) tomography use ``noise_method='highfreq'``
    or supply ``sigma_noise``::

        lr = LocalResolution(vol, pixel_size=28.6e-9, noise_method='highfreq')
        lr = LocalResolution(vol, pixel_size=28.6e-9, sigma_noise=0.003)

    A volume larger than memory, as a dask array (e.g. ``da.from_zarr``), on
    a cluster: the noise level, the mask size and the null laws are global,
    the band tests run per chunk with an overlap of ``ceil(4 / (2π σ_f)) +
    ceil(4 window_sigma)`` voxels (69 with the defaults) so that each chunk
    sees what the band filter and the window need; the statistics are exact
    for the chunked decisions, and the map is lazy::

        lr = LocalResolution(da.from_zarr('vol.zarr'), pixel_size=28.6e-9)
        lr.resolution_map.to_zarr('localres.zarr')

    The chunked energies equal the in-memory ones to 1e-4 of the null
    standard deviation except in the coarsest and finest bands, whose
    filters have long tails; a few voxels in 1e4 get a different band (see
    :func:`toupy.resolution.local_resolution` for the tolerances).

    References
    ----------
    .. [1] A. Kucukelbir, F. J. Sigworth and H. D. Tagare, "Quantifying the
       local resolution of cryo-EM density maps", Nature Methods 11, 63–65
       (2014). https://doi.org/10.1038/nmeth.2727
    """

    def __init__(
        self,
        vol,
        pixel_size=1.0,
        significance=0.05,
        n_freq=20,
        window_sigma=7.0,
        mask=None,
        noise_method="corners",
        noise_mask=None,
        sigma_noise=None,
        corner_fraction=0.10,
        highfreq_fraction=0.10,
        *,
        whiten=False,
        fdr=False,
        unit=None,
        workers=None,
        progress_bar=None,
        compute=False,
    ):
        self.vol = vol
        self.pixel_size = pixel_size
        self.significance = significance
        self.n_freq = n_freq
        self.window_sigma = window_sigma
        self.noise_method = noise_method
        self.corner_fraction = corner_fraction
        self.highfreq_fraction = highfreq_fraction
        self.whiten = whiten
        self.fdr = fdr
        self.unit = unit
        self.compute = compute
        self.result: LocalResolutionResult = local_resolution(
            vol, pixel_size=pixel_size, significance=significance, n_freq=n_freq,
            window_sigma=window_sigma, mask=mask, noise_method=noise_method,
            noise_mask=noise_mask, sigma_noise=sigma_noise, corner_fraction=corner_fraction,
            highfreq_fraction=highfreq_fraction, whiten=whiten, fdr=fdr, unit=unit,
            workers=workers, progress_bar=progress_bar, compute=compute,
        )
        res = self.result
        self.pixel_size = res.pixel_size
        self.resolution_map = res.resolution_map
        self.mask = res.mask
        self.sigma_noise = res.sigma_noise
        self.var_noise = res.sigma_noise**2
        self.freq_bands = res.freq_bands
        self.warnings = res.warnings
        for name in MAP_STATISTICS:  # resolution_median/mean/std and their _half forms
            setattr(self, name, getattr(res, name))

    # the derived maps are as large as the input: built on first access only
    @cached_property
    def resolution_map_phys(self) -> np.ndarray:
        """Full-period local resolution in physical units, ``resolution_map * pixel_size``."""
        return self.result.resolution_map_phys

    @cached_property
    def resolution_map_half(self) -> np.ndarray:
        """Half-period local resolution in pixels, ``resolution_map / 2``."""
        return self.result.resolution_map_half

    @cached_property
    def resolution_map_phys_half(self) -> np.ndarray:
        """Half-period local resolution in physical units, ``resolution_map_phys / 2``."""
        return self.result.resolution_map_phys_half

    @property
    def filename(self) -> str:
        """Name of the PNG written by :meth:`plot`."""
        return _FILENAME

    def summary(self) -> str:
        """One line: median local resolution, its spread and the test used."""
        return self.result.summary()

    def plot(self, slice_idx=None, axis=0, cmap="viridis_r", vmin=None, vmax=None, *, output_dir=None):
        """Visualise the local resolution map and save it to ``LocalResolution_map.png``.

        For a 3-D volume one slice is shown; for a 2-D image the whole map. NaN
        (outside the mask, or no signal) is grey. The colour bar is the
        full-period resolution in pixels, with a second scale in physical units
        when ``pixel_size != 1``. Nothing is shown and nothing blocks; the figure
        is kept in ``self.figure`` and its path in ``self.figure_path``.

        Parameters
        ----------
        slice_idx : int or None, optional
            Index of the slice along ``axis`` (3-D only); the central slice when
            None.
        axis : int, optional
            Axis along which the slice is taken (3-D only). Default 0.
        cmap : str, optional
            Matplotlib colormap name. Default ``'viridis_r'`` so that finer
            resolution (smaller value) is bright.
        vmin, vmax : float or None, optional
            Colour range; default the minimum and maximum of the shown map.
        output_dir : str or path, optional
            Keyword only. Folder of the PNG; default the current directory.

        Returns
        -------
        resolution_map : ndarray or dask.array.Array
            The ``resolution_map`` attribute (unchanged; of a lazy map only
            the slice on display is computed).
        """
        figure, _ = self.result.plot(slice_idx=slice_idx, axis=axis, cmap=cmap, vmin=vmin, vmax=vmax)
        self.figure = figure
        folder = Path(output_dir if output_dir is not None else ".")
        self.figure_path = save_figure(figure, folder / _FILENAME)
        return self.resolution_map
