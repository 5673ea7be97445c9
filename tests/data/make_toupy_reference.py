"""Generate ``toupy_0_2_2_reference.npz``: FSC reference curves from legacy toupy 0.2.2.

This script does NOT run under this repository's package. It drives the
legacy PyPI distribution ``toupy==0.2.2`` (a separate project that happens
to share the ``toupy`` top-level name) and records what its
``toupy.resolution.FourierShellCorr`` computes, so that our tests can check
that ``window='toupy'`` mode reproduces it. None of toupy's code is copied
into this repository; only its outputs (the ``.npz``) are.

How to re-run it (Debian/Ubuntu, Python 3.11)
---------------------------------------------
1. A throw-away virtual environment outside this repository, with the
   legacy package (do NOT install this repository into it: both use the
   ``toupy`` import name)::

       python3 -m venv /tmp/toupyenv
       /tmp/toupyenv/bin/pip install toupy==0.2.2

   (It was generated with numpy 2.4 / scipy 1.17 / pyFFTW 0.15.1; the
   removed numpy aliases are shimmed below. Re-running in a venv with
   ``numpy<2`` (1.26.4) gave bit-identical inputs, windows and indices, and
   FSC curves within 2e-7.)

2. An OpenCL ICD, so that ``silx.opencl`` (imported by ``toupy.resolution.tomo`` when
   ``toupy`` is imported) finds a platform::

       apt-get install -y pocl-opencl-icd

3. Run it with a non-interactive matplotlib backend (``fouriercorr()``
   draws the apodised images)::

       MPLBACKEND=Agg /tmp/toupyenv/bin/python tests/data/make_toupy_reference.py

   It writes ``toupy_0_2_2_reference.npz`` next to this script (or to the
   path given as the first argument).

Shims applied before importing toupy (no toupy file is modified):

* ``np.int = int`` and ``np.float = float`` (aliases removed in numpy 1.24,
  used by ``nyquist()``, ``ringthickness()`` and ``fouriercorr()``);
* ``skimage.feature.register_translation`` is pointed at
  ``skimage.registration.phase_cross_correlation`` (removed from
  scikit-image 0.19; only needed so ``toupy.registration`` imports);
* ``builtins.input`` answers ``'y'``: the ``@checkhostname`` decorator on
  ``FourierShellCorr.__init__`` asks "Do you have enough memory? (y/[n])"
  on any host that is not an ESRF cluster node.

Cases (img1 = common + 0.5*noise1, img2 = common + 0.5*noise2, where
common = scipy.ndimage.gaussian_filter(N(0,1) field, sigma=2) + 3.0, all
float32, drawn from ``numpy.random.default_rng(seed)`` with seed 1000+k).
The constant offset exercises toupy's lack of mean subtraction.

    case0  2-D 64x64      halfbit  ring_thick 1  apod_width 8
    case1  2-D 64x64      onebit   ring_thick 1  apod_width 8
    case2  2-D 72x60      halfbit  ring_thick 1  apod_width 6
    case3  2-D 65x64      onebit   ring_thick 3  apod_width 5
    case4  2-D 64x64      halfbit  ring_thick 2  apod_width 8
    case5  3-D 24x32x32   halfbit  ring_thick 1  apod_width 4
    case6  3-D 20x24x28   onebit   ring_thick 1  apod_width 3

No case crashed under toupy 0.2.2; none was dropped.

Keys written per case ``caseK_``: ``img1``, ``img2`` (float32 inputs),
``fsc``, ``T`` (``fouriercorr()`` output, float64), ``f``, ``fnyquist``
(``nyquist()``), ``index`` (``ringthickness()``, stored as int16, lossless),
``circle`` (2-D ``circle()``), ``transverse`` (2-D) or ``transverse_0``,
``transverse_1`` (3-D: ``transverse_apodization()`` returns a list),
``window`` (the window ``fouriercorr()`` actually multiplied the images by,
``self.window``), ``params`` (JSON: shape, threshold, ring_thick,
apod_width, seed). Top-level ``provenance`` is a JSON string.

Note: toupy's FFT is pyFFTW in single precision (complex64) with the
FFTW_MEASURE planner, so re-running can change the curves at the ~1e-6
level; compare with a tolerance.
"""

import builtins
import contextlib
import datetime
import io
import json
import os
import sys
from importlib import metadata

import numpy as np

# --- shims for running legacy toupy 0.2.2 on a current stack ------------------
np.int = int
np.float = float
builtins.input = lambda *a, **k: "y"
os.environ.setdefault("MPLBACKEND", "Agg")

import skimage.feature  # noqa: E402
import skimage.registration  # noqa: E402

if not hasattr(skimage.feature, "register_translation"):
    skimage.feature.register_translation = skimage.registration.phase_cross_correlation

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy.ndimage import gaussian_filter  # noqa: E402

from toupy.resolution import FourierShellCorr  # noqa: E402

TOUPY_VERSION = metadata.version("toupy")
if TOUPY_VERSION != "0.2.2":
    raise SystemExit(f"this script must run under toupy 0.2.2, found {TOUPY_VERSION}")

CASES = [
    # shape, threshold, ring_thick, apod_width
    ((64, 64), "halfbit", 1, 8),
    ((64, 64), "onebit", 1, 8),
    ((72, 60), "halfbit", 1, 6),
    ((65, 64), "onebit", 3, 5),
    ((64, 64), "halfbit", 2, 8),
    ((24, 32, 32), "halfbit", 1, 4),
    ((20, 24, 28), "onebit", 1, 3),
]
SEED0 = 1000
OFFSET = 3.0
SIGMA = 2.0
NOISE = 0.5


def make_inputs(shape, seed):
    rng = np.random.default_rng(seed)
    common = gaussian_filter(rng.standard_normal(shape), sigma=SIGMA) + OFFSET
    noise1 = rng.standard_normal(shape)
    noise2 = rng.standard_normal(shape)
    img1 = (common + NOISE * noise1).astype(np.float32)
    img2 = (common + NOISE * noise2).astype(np.float32)
    return img1, img2


def run_case(k, shape, threshold, ring_thick, apod_width):
    seed = SEED0 + k
    img1, img2 = make_inputs(shape, seed)
    out = {}
    sink = io.StringIO()  # toupy prints a lot (progress bars, timings)
    with contextlib.redirect_stdout(sink):
        fsc_obj = FourierShellCorr(
            img1, img2, threshold=threshold, ring_thick=ring_thick, apod_width=apod_width
        )
        f, fnyquist = fsc_obj.nyquist()
        index = fsc_obj.ringthickness()
        circle = fsc_obj.circle()
        transverse = fsc_obj.transverse_apodization()
        FSC, T = fsc_obj.fouriercorr()
        window = np.asarray(fsc_obj.window, dtype=np.float64)
    plt.close("all")

    p = f"case{k}_"
    out[p + "img1"] = img1
    out[p + "img2"] = img2
    out[p + "fsc"] = np.asarray(FSC, dtype=np.float64)
    out[p + "T"] = np.asarray(T, dtype=np.float64)
    out[p + "f"] = np.asarray(f)
    out[p + "fnyquist"] = np.asarray(fnyquist, dtype=np.float64)
    assert index.min() >= 0 and index.max() < 2**15
    out[p + "index"] = index.astype(np.int16)
    out[p + "circle"] = np.asarray(circle, dtype=np.float64)
    if isinstance(transverse, list):
        for i, w in enumerate(transverse):
            out[p + f"transverse_{i}"] = np.asarray(w, dtype=np.float64)
    else:
        out[p + "transverse"] = np.asarray(transverse, dtype=np.float64)
    out[p + "window"] = window
    out[p + "params"] = np.array(
        json.dumps(
            {
                "shape": list(shape),
                "threshold": threshold,
                "ring_thick": ring_thick,
                "apod_width": apod_width,
                "seed": seed,
            }
        )
    )
    return out


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    dest = argv[1] if len(argv) > 1 else os.path.join(here, "toupy_0_2_2_reference.npz")
    arrays = {}
    for k, (shape, threshold, ring_thick, apod_width) in enumerate(CASES):
        arrays.update(run_case(k, shape, threshold, ring_thick, apod_width))
        print(f"case{k}: {shape} {threshold} ring_thick={ring_thick} apod_width={apod_width} ok")
    provenance = {
        "toupy": TOUPY_VERSION,
        "numpy": np.__version__,
        "scipy": metadata.version("scipy"),
        "pyFFTW": metadata.version("pyFFTW"),
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "script": "tests/data/make_toupy_reference.py",
        "inputs": (
            "img = gaussian_filter(default_rng(seed).standard_normal(shape), sigma=2)"
            " + 3.0 + 0.5*standard_normal(shape) (noise1 then noise2), float32"
        ),
        "n_cases": len(CASES),
    }
    arrays["provenance"] = np.array(json.dumps(provenance))
    np.savez_compressed(dest, **arrays)
    print(f"wrote {dest} ({os.path.getsize(dest)} bytes)")


if __name__ == "__main__":
    main(sys.argv)
