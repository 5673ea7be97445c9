"""Parallel-beam tomographic reconstruction used by the resolution tools.

``tomo_recons(sinogram, theta, **params)`` reconstructs a slice from a sinogram
in toupy's layout ``[detector pixel, angle]`` (angles in degrees), or every slice
of a stack ``[slice, detector pixel, angle]``, by filtered back-projection (our
own, compiled) or SART (scikit-image).
"""

from ._recons import tomo_recons

__all__ = ["tomo_recons"]
