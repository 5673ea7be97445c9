"""Benchmark of our filtered back-projection (``toupy.resolution.tomo.tomo_recons``) against scikit-image.

Problem: one 1024 x 1024 slice from 1000 angles over 180 degrees, ramp filter,
``circle=True``. The sinogram is the exact Radon transform of the modified
Shepp-Logan phantom (ten ellipses, analytic line integrals), so accuracy is
measured against the true phantom for both reconstructions (relative RMS
inside the disc), and the two slices are compared with each other.

Cases (each in a fresh process, ``_common.run_case``: median wall time, peak
RSS of the process and RSS after the setup, i.e. with the inputs loaded):

* ``skimage.transform.iradon`` (float64, its only path);
* ours, float64 and float32 input, all cores and one thread;
* the numpy twin of our back-projector (vectorised over chunks of angles),
  the alternative to the compiled kernel, measured to justify the choice;
* ``compute_2tomograms``: the even/odd half-tomograms of the same data.

Target of issue 3: FBP >= 5x faster than ``iradon`` with equal accuracy.
``--quick`` skips the numpy twin and the single-thread case and times one run each.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import print_table, run_case  # noqa: E402

SETUP = """
import numpy as np
n, n_angles = {n}, {n_angles}
# modified Shepp-Logan (Toft): value, semi-axis a, semi-axis b, x0, y0, angle (deg)
E = np.array([[1, .69, .92, 0, 0, 0], [-.8, .6624, .874, 0, -.0184, 0],
              [-.2, .11, .31, .22, 0, -18], [-.2, .16, .41, -.22, 0, 18],
              [.1, .21, .25, 0, .35, 0], [.1, .046, .046, 0, .1, 0], [.1, .046, .046, 0, -.1, 0],
              [.1, .046, .023, -.08, -.605, 0], [.1, .023, .023, 0, -.606, 0],
              [.1, .023, .046, .06, -.605, 0]])
scale = n // 2 - 4                         # phantom units -> pixels, inside the disc
theta = np.linspace(0, 180, n_angles, endpoint=False)
th = np.deg2rad(theta)
normal = np.stack([np.cos(th), -np.sin(th)], axis=1)   # (x, y) = (col - n//2, row - n//2)
t = np.arange(n) - n // 2
sinogram = np.zeros((n, n_angles))
for value, a, b, x0, y0, phi in E:
    a, b, c = a * scale, b * scale, np.array([x0, y0]) * scale
    e1 = np.array([np.cos(np.deg2rad(phi)), np.sin(np.deg2rad(phi))])
    e2 = np.array([-e1[1], e1[0]])
    r2 = a**2 * (normal @ e1) ** 2 + b**2 * (normal @ e2) ** 2
    s = t[:, None] - (normal @ c)[None, :]
    sinogram += value * 2 * a * b * np.sqrt(np.clip(r2[None, :] - s**2, 0, None)) / r2[None, :]
sinogram32 = sinogram.astype(np.float32)
"""

PHANTOM = """
rows, cols = np.mgrid[:n, :n] - n // 2
truth = np.zeros((n, n))
for value, a, b, x0, y0, phi in E:
    a, b = a * scale, b * scale
    e1 = np.array([np.cos(np.deg2rad(phi)), np.sin(np.deg2rad(phi))])
    dx, dy = cols - x0 * scale, rows - y0 * scale
    u, v = dx * e1[0] + dy * e1[1], -dx * e1[1] + dy * e1[0]
    truth += value * ((u / a) ** 2 + (v / b) ** 2 <= 1)
"""

OURS_SETUP = SETUP + """
from toupy.resolution.tomo import tomo_recons
tomo_recons(sinogram32[:64, :8], theta[:8]); tomo_recons(sinogram[:64, :8], theta[:8])  # numba cache
"""

TWIN_SETUP = SETUP + """
from toupy.resolution.tomo._filters import filter_projections
from toupy.resolution.tomo._backproject import backproject
filtered = filter_projections(np.ascontiguousarray(sinogram.T), 'ram-lak', 1.0, False)
"""

SKIMAGE_SETUP = SETUP + """
from skimage.transform import iradon
"""

HALVES_SETUP = OURS_SETUP + """
from toupy.resolution.FSCtools import compute_2tomograms
"""

ACCURACY = SETUP + PHANTOM + """
import json
from skimage.transform import iradon
from toupy.resolution.tomo import tomo_recons
disc = rows**2 + cols**2 <= (n // 2 - 2) ** 2
def rel(x, y):
    return float(np.sqrt(np.mean((x - y)[disc] ** 2) / np.mean(y[disc] ** 2)))
ours = tomo_recons(sinogram, theta)
ours32 = tomo_recons(sinogram32, theta)
theirs = iradon(sinogram, theta, circle=True)
print('@@' + json.dumps(dict(ours_vs_truth=rel(ours, truth), ours32_vs_truth=rel(ours32, truth),
                            skimage_vs_truth=rel(theirs, truth), ours_vs_skimage=rel(ours, theirs),
                            ours32_vs_ours=rel(ours32, ours))))
"""


def accuracy(n: int, n_angles: int) -> dict:
    import json
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", ACCURACY.format(n=n, n_angles=n_angles)], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("@@")][-1][2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1024, help="detector pixels (slice side)")
    parser.add_argument("--angles", type=int, default=1000, help="number of projections")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    fmt = dict(n=args.n, n_angles=args.angles)
    repeats = 1 if args.quick else args.repeats

    rows = []
    rows.append(run_case("skimage iradon (float64)", SKIMAGE_SETUP.format(**fmt),
                         "iradon(sinogram, theta, circle=True)", repeats=1 if args.quick else 2))
    rows.append(run_case("ours FBP float64, all cores", OURS_SETUP.format(**fmt),
                         "tomo_recons(sinogram, theta)", repeats=repeats))
    rows.append(run_case("ours FBP float32, all cores", OURS_SETUP.format(**fmt),
                         "tomo_recons(sinogram32, theta)", repeats=repeats))
    if not args.quick:
        rows.append(run_case("ours FBP float64, 1 thread", OURS_SETUP.format(**fmt),
                             "tomo_recons(sinogram, theta, workers=1)", repeats=repeats))
        rows.append(run_case("back-projection only, numba, 1 thread", TWIN_SETUP.format(**fmt),
                             "backproject(filtered, th, n, workers=1)", repeats=repeats))
        rows.append(run_case("back-projection only, numpy twin", TWIN_SETUP.format(**fmt),
                             "backproject(filtered, th, n, use_numba=False)", repeats=1))
    rows.append(run_case("compute_2tomograms (2 x 500 angles)", HALVES_SETUP.format(**fmt),
                         "compute_2tomograms(sinogram32, theta)", repeats=repeats))

    print(f"FBP of a {args.n}^2 slice from {args.angles} angles (ramp filter, circle=True), "
          f"{os.cpu_count()} cores")
    print_table(rows)
    sk = rows[0]["median_s"]
    for r in rows[1:3]:
        print(f"speed-up over iradon, {r['name']}: {sk / r['median_s']:.1f}x")
    print("inputs (RSS after setup): "
          + ", ".join(f"{r['name']}: {r['rss_after_setup_bytes'] / 1e9:.2f} GB" for r in rows))
    acc = accuracy(**fmt)
    print("accuracy, relative RMS inside the disc: "
          f"ours vs phantom {acc['ours_vs_truth']:.4f}, iradon vs phantom {acc['skimage_vs_truth']:.4f}, "
          f"ours float32 vs phantom {acc['ours32_vs_truth']:.4f}; ours vs iradon {acc['ours_vs_skimage']:.1e}, "
          f"float32 vs float64 {acc['ours32_vs_ours']:.1e}")


if __name__ == "__main__":
    main()
