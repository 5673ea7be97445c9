"""Resolution of images and volumes.

Functional API (the numerical core) and the documented classes::

    from toupy.resolution import fsc
    res = fsc(half1, half2, pixel_size=28.6, unit='nm')
    print(res.summary())

The classes of the toupy API live in the submodules ``FSC``, ``FSCtools``,
``MTF``, ``decorr`` and ``localres``.
"""

from ._checks import ResolutionWarning
from ._correlation import fsc, ssnr
from .FSCtools import compute_2tomograms, compute_2tomograms_splitted, split_dataset
from ._decorr import DecorrResult, decorrelation_resolution
from ._localfsc import LocalFSCResult, local_fsc
from ._localres import LocalResolutionResult, local_resolution
from ._mtf import MTFResult, MTFWarning
from ._mtf_edge import mtf_slanted_edge
from ._mtf_point import mtf_point_source
from ._randomfsc import RandomFSCResult, phase_randomized_fsc
from ._results import FSCResult, SSNRResult

from ._version import __version__

__all__ = [
    "fsc",
    "ssnr",
    "phase_randomized_fsc",
    "local_fsc",
    "local_resolution",
    "mtf_slanted_edge",
    "mtf_point_source",
    "decorrelation_resolution",
    "split_dataset",
    "compute_2tomograms",
    "compute_2tomograms_splitted",
    "FSCResult",
    "SSNRResult",
    "RandomFSCResult",
    "LocalFSCResult",
    "LocalResolutionResult",
    "MTFResult",
    "MTFWarning",
    "ResolutionWarning",
    "DecorrResult",
    "__version__",
]
