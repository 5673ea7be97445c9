"""Resolution of images and volumes.

Functional API (the numerical core) and the documented classes::

    from toupy.resolution import fsc
    res = fsc(half1, half2, pixel_size=28.6, unit='nm')
    print(res.summary())

The classes of the toupy API live in the submodules ``FSC``, ``FSCtools``,
``MTF``, ``decorr`` and ``localres``; file input/output in
:mod:`toupy.resolution.io`, the filtered back-projection in
:mod:`toupy.resolution.tomo`, the command line in :mod:`toupy.resolution.cli`.

The public names are loaded on first use (PEP 562), so ``import
toupy.resolution.io`` or the command line's ``--help`` do not compile the
estimators' kernels.
"""

from importlib import import_module

from ._version import __version__

#: public name -> the private module that defines it
_PUBLIC = {
    "ResolutionWarning": "._checks",
    "fsc": "._correlation",
    "ssnr": "._correlation",
    "split_dataset": ".FSCtools",
    "compute_2tomograms": ".FSCtools",
    "compute_2tomograms_splitted": ".FSCtools",
    "DecorrResult": "._decorr",
    "decorrelation_resolution": "._decorr",
    "LocalFSCResult": "._localfsc",
    "local_fsc": "._localfsc",
    "LocalResolutionResult": "._localres",
    "local_resolution": "._localres",
    "MTFResult": "._mtf",
    "MTFWarning": "._mtf",
    "mtf_slanted_edge": "._mtf_edge",
    "mtf_point_source": "._mtf_point",
    "RandomFSCResult": "._randomfsc",
    "phase_randomized_fsc": "._randomfsc",
    "FSCResult": "._results",
    "SSNRResult": "._results",
}

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


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
