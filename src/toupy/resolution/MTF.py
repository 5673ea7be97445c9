"""Modulation Transfer Function (MTF) estimation for X-ray imaging systems.

:class:`MTFEstimator` keeps toupy's interface; the numbers come from the
functional core, :func:`toupy.resolution.mtf_slanted_edge` and
:func:`toupy.resolution.mtf_point_source` (decision D11 of ALGORITHMS.md).

Example
-------
>>> import numpy as np
>>> from scipy.special import ndtr
>>> from toupy.resolution.MTF import MTFEstimator
>>> rows, cols = np.mgrid[0:100, 0:100]
>>> d = (cols - 50) * np.cos(0.09) - (rows - 50) * np.sin(0.09)
>>> est = MTFEstimator(ndtr(d / 2.0), pixel_size=0.65)    # sigma = 2 px, 0.65 um pixels
>>> round(est.f50, 4), round(est.resolution_50, 2)        # 0.18739/2 cycles/px; 0.65/f50 um
(0.0937, 6.94)
"""

from __future__ import annotations

from pathlib import Path

from ._mtf_edge import mtf_slanted_edge
from ._mtf_point import mtf_point_source
from ._plotting import save_figure
from ._validate import check_positive_int

__all__ = ["MTFEstimator"]

_METHODS = ("edge", "point")


class MTFEstimator:
    """Modulation Transfer Function (MTF) estimation.

    Two estimation strategies are supported:

    **Edge method** (``method='edge'``): the slanted-edge algorithm (ISO 12233 /
    Burns). The edge is located row by row, its angle fitted, every pixel is
    projected onto the edge normal and binned at ``1/oversample`` px into an
    oversampled edge-spread function (ESF); its derivative, the line-spread
    function (LSF), is windowed and Fourier transformed; the MTF is the
    modulus normalised to 1 at zero frequency, corrected for the response of
    the discrete derivative. Frequencies are along the edge normal.

    **Point-source method** (``method='point'``): a small bright (or dark)
    feature approximates the point-spread function; the MTF is the modulus of
    the 2-D FFT of the background-subtracted box around it, averaged over
    rings, normalised at zero frequency.

    Parameters
    ----------
    image : ndarray
        A 2-dimensional image containing the edge or point source, linear in
        intensity (dark- and flat-field corrected).
    pixel_size : float, optional
        Physical size of one pixel. Default 1.0.
    method : {'edge', 'point'}, optional
        Estimation strategy. Default ``'edge'``.
    roi : tuple of slice or None, optional
        ``(row_slice, col_slice)`` defining the region of interest. For
        ``'edge'``: crop to this region before edge fitting (one edge crossing
        the region, at least 8 x 8 px). For ``'point'``: crop to this region
        before bead finding. None uses the full image.
    center : tuple of int or None, optional
        ``(row, col)`` of the point source in image coordinates. Only used
        when ``method='point'``. None finds the brightest pixel (of the
        lightly smoothed ROI; the darkest for an absorbing bead).
    roi_size : int, optional
        Half-size (in pixels) of the extraction box around the point source
        (box ``2*roi_size + 1`` square). Only used when ``method='point'``.
        Default 16.
    oversample : int, optional
        Oversampling factor for the ESF construction (edge method only).
        Typically 4. Default 4.
    unit : str, optional
        Keyword only. Name of the unit of ``pixel_size`` (e.g. ``'um'``).
    bead_diameter : float, optional
        Keyword only, point method. Diameter of the bead in *pixels*; its own
        transform (``bead_shape``) is divided out.
    bead_shape : {'sphere', 'disc'}, optional
        Keyword only, point method. Default ``'sphere'`` (projected ball).
    symmetric : bool or None, optional
        Keyword only, edge method. None: tested (see
        :func:`~toupy.resolution.mtf_slanted_edge`).

    Attributes
    ----------
    freq : ndarray
        Spatial frequency axis in cycles/pixel.
    MTF : ndarray
        MTF values at each frequency (normalised to 1.0 at zero frequency).
    freq_phys : ndarray
        Spatial frequency in cycles per physical unit (``freq / pixel_size``).
    f50 : float
        Spatial frequency (cycles/pixel) where MTF = 0.5 (NaN if not reached).
    f10 : float
        Spatial frequency (cycles/pixel) where MTF = 0.1 (NaN if not reached).
    resolution_50 : float
        Resolution at MTF = 0.5 in physical units, ``pixel_size / f50``: the
        *full period* of the grating transferred at 50 % contrast (the half
        period, or line width, is ``resolution_50 / 2``).
    resolution_10 : float
        Resolution at MTF = 0.1 in physical units, ``pixel_size / f10`` (full period).
    f50_std, f10_std : float
        One-sigma noise uncertainty of ``f50`` and ``f10`` (cycles/pixel).
    MTF_std : ndarray
        One-sigma noise of ``MTF`` at each frequency.
    angle, angle_std : float or None
        Edge method: fitted tilt of the edge (degrees) from the image axis it
        is closest to, and its standard error.
    esf, position : ndarray or None
        Edge method: ESF (input units) at ``position`` (px along the normal
        from the edge).
    lsf, lsf_position : ndarray or None
        Edge method: LSF (unit area) at ``lsf_position`` (bin midpoints).
    quality : dict
        Contrast, noise, clipping, rows used, bins, warnings issued (see
        :func:`~toupy.resolution.mtf_slanted_edge` and
        :func:`~toupy.resolution.mtf_point_source`).
    result : MTFResult
        Everything above, with ``to_dict()``/``to_json()``.

    Notes
    -----
    Choose the edge for detectors whose PSF is narrower than about two
    pixels (the point method aliases there), for a directional measurement,
    or when noise matters: an edge of ``N`` rows averages ``N`` line profiles.
    Choose a point source for an isotropic summary of a well-sampled PSF.
    Conditions that make the result unreliable (clipping, low contrast, too
    few rows, an edge angle that cannot fill the oversampled bins, an edge
    that is not straight, an MTF above 0.1 at Nyquist, a crossing inside its
    noise band, PSF reaching the box border) raise
    :class:`~toupy.resolution.MTFWarning` and are listed in
    ``quality['warnings']`` and ``result.warnings``. Levels that vary
    smoothly along the edge (flat-field residue, vignetting) are corrected
    before the ESF is formed.

    ``resolution_50`` (a full period at 50 % modulation) is not comparable to
    FSC resolutions (an SNR criterion) nor to 10-90 % edge widths.

    References
    ----------
    ISO 12233:2017, Photography -- Electronic still picture imaging --
    Resolution and spatial frequency responses. P. D. Burns, "Slanted-edge
    MTF for digital camera and scanner analysis", Proc. IS&T PICS (2000) 135.
    """

    def __init__(
        self,
        image,
        pixel_size=1.0,
        method="edge",
        roi=None,
        center=None,
        roi_size=16,
        oversample=4,
        *,
        unit=None,
        bead_diameter=None,
        bead_shape="sphere",
        symmetric=None,
    ):
        if not isinstance(method, str) or method.lower() not in _METHODS:
            raise ValueError(f"method must be 'edge' or 'point'; got {method!r}")
        self.method = method.lower()
        self.oversample = check_positive_int(oversample, "oversample")
        if self.method == "edge" and bead_diameter is not None:
            raise ValueError("bead_diameter applies to method='point' only")
        self.image = image
        self.pixel_size = pixel_size
        self.roi = roi
        self.center = center
        self.roi_size = roi_size
        self.unit = unit
        if self.method == "edge":
            self.result = mtf_slanted_edge(
                image, pixel_size=pixel_size, roi=roi, oversample=self.oversample, unit=unit,
                symmetric=symmetric,
            )
        else:
            self.result = mtf_point_source(
                image, pixel_size=pixel_size, roi=roi, center=center, roi_size=roi_size, unit=unit,
                bead_diameter=bead_diameter, bead_shape=bead_shape,
            )
        res = self.result
        self.pixel_size = res.pixel_size
        self.freq = res.freq
        self.MTF = res.mtf
        self.MTF_std = res.mtf_std
        self.freq_phys = res.freq_phys
        self.f50 = res.f50
        self.f10 = res.f10
        self.f50_std = res.f50_std
        self.f10_std = res.f10_std
        self.resolution_50 = res.resolution_50
        self.resolution_10 = res.resolution_10
        self.angle = res.angle_deg
        self.angle_std = res.angle_std_deg
        self.esf = res.esf
        self.lsf = res.lsf
        self.position = res.position
        self.lsf_position = res.lsf_position
        self.quality = res.quality

    @property
    def filename(self) -> str:
        """Name of the PNG written by :meth:`plot`."""
        return f"MTF_{self.method}.png"

    def plot(self, output_dir=None):
        """Plot the MTF curve and save to ``MTF_<method>.png``.

        Marks the MTF = 0.5 and MTF = 0.1 crossings with vertical dashed
        lines. When ``pixel_size != 1.0`` a second x-axis in physical units is
        added. The file goes to ``output_dir`` (default: the current
        directory); nothing is shown and nothing blocks. The figure is kept in
        ``self.figure`` and its path in ``self.figure_path``.

        Returns
        -------
        freq : ndarray
            Spatial frequency axis (cycles/pixel).
        MTF : ndarray
            MTF values normalised to 1.0 at zero frequency.
        """
        self.figure = self.result.plot()
        folder = Path(output_dir) if output_dir is not None else Path(".")
        self.figure_path = save_figure(self.figure, folder / self.filename)
        return self.freq, self.MTF

    def __repr__(self) -> str:
        return f"MTFEstimator({self.result.summary()})"
