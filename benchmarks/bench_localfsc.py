"""Benchmark of the block-wise local FSC (``local_fsc``) against a per-box loop over ``fsc()``.

Cases (box 32, step 16, threshold 0.143, float32 halves = signal + independent noise):

* 256^3 (3375 boxes) and 2048^2 (16129 boxes), batched ``local_fsc`` — time and peak RSS;
* the same grids as a straightforward loop: cut both boxes, ``fsc(box1, box2,
  window='hann', apod_width=1)``, keep the crossing — the loop's time counts the box
  crossings only (no interpolation to the full grid), so the ratio is conservative;
* the floor: batched ``rfftn`` of every (pre-cut) box of both halves, 1024 boxes per call —
  the transforms alone, which no method that transforms every box can beat.

Each case runs in a fresh process (``_common.run_case``): the peak RSS is its own and the RSS
after the setup (the inputs) is reported so that "peak - inputs" is the working memory.
``--quick`` runs the loops on a sixth of the boxes and extrapolates (said in the output).
``--breakdown`` instead times each stage of the batched ``local_fsc`` at 256^3 alone.

Targets of issue 5: 256^3 in <= 10 s on 2 cores; peak RSS <= inputs + 1.5 GB.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import run_case  # noqa: E402

SETUP = """
import numpy as np
from toupy.resolution._localfsc import local_fsc, box_starts
rng = np.random.default_rng(0)
shape = {shape}
signal = rng.standard_normal(shape, dtype=np.float32)
h1 = signal + np.float32(0.5) * rng.standard_normal(shape, dtype=np.float32)
h2 = signal + np.float32(0.5) * rng.standard_normal(shape, dtype=np.float32)
del signal
# load the compiled kernels (numba cache) outside the timing
local_fsc(h1[(slice(0, 64),) * len(shape)].copy(), h2[(slice(0, 64),) * len(shape)].copy())
"""

BATCHED = "res = local_fsc(h1, h2, box_size=32, step=16, threshold=0.143)"

LOOP_SETUP = SETUP + """
from toupy.resolution import fsc
starts = [box_starts(n, 32, 16) for n in shape]
import itertools
corners = list(itertools.product(*starts))
corners = corners[: max(1, int(len(corners) * {fraction}))]
fsc(h1[(slice(0, 32),) * len(shape)], h2[(slice(0, 32),) * len(shape)], window='hann', apod_width=1)
"""

LOOP = """
freqs = []
for corner in corners:
    sl = tuple(slice(c, c + 32) for c in corner)
    r = fsc(h1[sl], h2[sl], window='hann', apod_width=1, threshold=0.143)
    freqs.append(r.fn_res_cpx)
"""

FLOOR_SETUP = SETUP + """
import scipy.fft
from toupy.resolution._correlation import default_workers
from numpy.lib.stride_tricks import sliding_window_view
starts = [box_starts(n, 32, 16) for n in shape]
box = (32,) * len(shape)
boxes = [sliding_window_view(h, box)[np.ix_(*starts)].reshape((-1,) + box) for h in (h1, h2)]
del h1, h2
axes = tuple(range(1, len(shape) + 1))
workers = default_workers()
"""

FLOOR = """
for b in boxes:
    for a in range(0, b.shape[0], 1024):
        scipy.fft.rfftn(b[a:a + 1024], axes=axes, workers=workers)
"""


# --breakdown: the stages of the batched local_fsc at 256^3, each timed alone (private functions)
STAGE_SETUP = SETUP + """
from toupy.resolution import _localfsc as L
from toupy.resolution._correlation import default_workers
starts = [box_starts(n, 32, 16) for n in shape]
corners = np.stack([g.ravel() for g in np.meshgrid(*starts, indexing="ij")], axis=1)
res = local_fsc(h1, h2, box_size=32, step=16)
centers, freq = res.box_centers, res.box_frequency
workers = default_workers()
"""

STAGES = (
    ("checks (NaN/inf, constant)", "L._check_values(h1, 'vol1'); L._check_values(h2, 'vol2')"),
    ("box sums, 1 pipeline", "L._box_shell_sums([h1, h2], corners, 32, 3, False, np.float32, 1e9, 1, False)"),
    ("box sums, all pipelines",
     "L._box_shell_sums([h1, h2], corners, 32, 3, False, np.float32, 1e9, workers, False)"),
    ("map: interpolate + invert + moments",
     "m, mom = L._interpolated_resolution(freq, centers, shape, np.dtype(np.float32), None)"),
    ("map statistics (median selection)", "L._statistics_from_moments(m, mom)"),
)


def breakdown(repeats: int) -> None:
    """Time each stage of ``local_fsc`` at 256^3 (box 32, step 16) in its own process."""
    shape = (256, 256, 256)
    print(f"{'stage of local_fsc 256^3':40s} {'median s':>9s}")
    for name, stmt in STAGES:
        setup = STAGE_SETUP.format(shape=shape)
        if "statistics" in name:
            setup += "\nm, mom = L._interpolated_resolution(freq, centers, shape, np.dtype(np.float32), None)\n"
        row = run_case(name, setup, stmt, repeats=repeats)
        print(f"{name:40s} {row['median_s']:9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="loops on 1/6 of the boxes, extrapolated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--breakdown", action="store_true", help="time each stage at 256^3 instead")
    args = parser.parse_args()
    if args.breakdown:
        breakdown(max(args.repeats, 5))
        return
    fraction = 1 / 6 if args.quick else 1.0
    rows = []
    for label, shape in (("256^3", (256, 256, 256)), ("2048^2", (2048, 2048))):
        n_boxes = 1
        for n in shape:
            n_boxes *= len(range(0, n - 32 + 1, 16))
        batched = run_case(
            f"local_fsc {label} batched", SETUP.format(shape=shape), BATCHED, repeats=args.repeats
        )
        floor = run_case(
            f"floor {label}: rfftn of all boxes", FLOOR_SETUP.format(shape=shape), FLOOR,
            repeats=args.repeats,
        )
        loop = run_case(
            f"loop {label}: fsc() per box", LOOP_SETUP.format(shape=shape, fraction=fraction), LOOP,
            repeats=1,
        )
        loop["median_s"] /= fraction
        loop["extrapolated"] = fraction < 1
        rows.append((label, n_boxes, batched, floor, loop))

    print(f"{'case':40s} {'median s':>9s} {'peak RSS GB':>12s} {'inputs GB':>10s} {'work GB':>8s}")
    for label, n_boxes, batched, floor, loop in rows:
        for row in (batched, floor, loop):
            note = " (extrapolated)" if row.get("extrapolated") else ""
            work = (row["peak_rss_bytes"] - row["rss_after_setup_bytes"]) / 1e9
            print(
                f"{row['name'] + note:40s} {row['median_s']:9.3f} "
                f"{row['peak_rss_bytes'] / 1e9:12.2f} {row['rss_after_setup_bytes'] / 1e9:10.2f} {work:8.2f}"
            )
        print(
            f"  {label}: {n_boxes} boxes; batched is {loop['median_s'] / batched['median_s']:.1f}x "
            f"faster than the loop; {batched['median_s'] / floor['median_s']:.2f}x the FFT floor; "
            f"the loop is {loop['median_s'] / floor['median_s']:.1f}x the floor"
        )


if __name__ == "__main__":
    main()
