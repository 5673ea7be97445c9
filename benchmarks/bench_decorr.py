"""Decorrelation analysis speed and memory (issue 7 target: 2048² in <= 3 s on 2 cores).

Cases (each in its own process, so peak RSS is the case's own):

* 2048² float32 image: ``decorrelation_resolution`` with the defaults
  (``n_r=100``, ``n_g=10``), against the floor, the one ``rfft2`` of the
  odd-cropped 2047² image that the method must make;
* 512² float32 image, the defaults;

The defaults include ``kc_spread`` (``spread_px=2``: four more analyses at
``apod_width`` 18, 19, 21, 22, run in threads), about 5x the cost of one
analysis; ``spread_px=0`` gives the single-analysis time.
* 512³ float32 volume, 10 slices along axis 0 (slices in parallel threads).

The input is band-limited noise (signal up to 0.35 cycles/pixel) plus 10 %
white noise, so every slice has a resolution.

Run: ``python benchmarks/bench_decorr.py [--repeats N] [--skip-volume]``.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import print_table, run_case  # noqa: E402

SETUP = """
import numpy as np, scipy.fft
from toupy.resolution._decorr import decorrelation_resolution
from toupy.resolution._correlation import default_workers
workers = default_workers()
rng = np.random.default_rng(0)
shape = {shape}
# built in chunks of planes, in place, so that the setup's temporaries do not
# set the process's peak RSS (which is what the case reports)
image = np.empty(shape, dtype=np.float32)
planes = image.reshape((-1,) + shape[-2:])
fy = np.fft.fftfreq(shape[-2])[:, None]
fx = np.fft.rfftfreq(shape[-1])[None, :]
band = (np.hypot(fy, fx) < 0.35).astype(np.float32)
for lo in range(0, planes.shape[0], 16):
    chunk = rng.standard_normal((min(16, planes.shape[0] - lo),) + shape[-2:], dtype=np.float32)
    filtered = scipy.fft.irfft2(scipy.fft.rfft2(chunk, workers=workers) * band, s=shape[-2:], workers=workers)
    planes[lo:lo + len(chunk)] = filtered + 0.1 * filtered.std() * chunk
    del chunk, filtered
cropped = np.ascontiguousarray(image[:-1, :-1]) if image.ndim == 2 else None
decorrelation_resolution(image[..., :64, :64] if image.ndim == 2 else image[:2, :64, :64], n_r=30, apod_width=5)
"""

FLOOR = """
spectrum = scipy.fft.rfft2(cropped, workers=workers); del spectrum
"""

IMAGE = """
res = decorrelation_resolution(image)
"""

VOLUME = """
res = decorrelation_resolution(image, n_slices=10)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-volume", action="store_true", help="only the 2048^2 image")
    args = parser.parse_args()
    rows = []
    setup = SETUP.format(shape=(2048, 2048))
    floor = run_case("2048^2 floor (rfft2 of 2047^2)", setup, FLOOR, repeats=args.repeats)
    floor.update(group="2048", is_floor=True)
    ours = run_case("2048^2 decorrelation_resolution", setup, IMAGE, repeats=args.repeats)
    ours["group"] = "2048"
    rows += [floor, ours]
    small = run_case("512^2 decorrelation_resolution", SETUP.format(shape=(512, 512)), IMAGE,
                     repeats=args.repeats)
    small["group"] = "512^2"
    rows.append(small)
    if not args.skip_volume:
        vol = run_case(
            "512^3, 10 slices", SETUP.format(shape=(512, 512, 512)), VOLUME,
            repeats=max(1, args.repeats // 2),
        )
        vol["group"] = "512"
        rows.append(vol)
    print_table(rows, floor_key="group")
    for r in rows:
        extra = (r["peak_rss_bytes"] - r["rss_after_setup_bytes"]) / 1e6
        print(f"# {r['name']}: peak RSS above the inputs {extra:.0f} MB")
    target = 3.0
    verdict = "meets" if ours["median_s"] <= target else "MISSES"
    print(f"# 2048^2: {ours['median_s']:.2f} s {verdict} the {target:.0f} s target")


if __name__ == "__main__":
    main()
