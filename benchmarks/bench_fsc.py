"""FSC/FRC speed and memory against the floor and against a plain reference.

Floor: the two ``scipy.fft.rfftn`` calls that any FSC must make, with the same
number of workers, on the same float32 inputs. Reference: the straightforward
numpy implementation (full ``fftn`` of the windowed images, a cached shell
index and three ``bincount`` calls), as a previous implementation would do.
Every case runs in its own process (peak RSS is that case's own).

Run: ``make bench`` or ``python benchmarks/bench_fsc.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from _common import print_table, run_case  # noqa: E402

SETUP = """
import numpy as np, scipy.fft
from toupy.resolution import fsc
from toupy.resolution._correlation import default_workers
workers = default_workers()
rng = np.random.default_rng(0)
shape = {shape}
a = rng.standard_normal(shape, dtype=np.float32)
b = a + rng.standard_normal(shape, dtype=np.float32)
fsc(a[:16, :16] if a.ndim == 2 else a[:8, :16, :16], b[:16, :16] if b.ndim == 2 else b[:8, :16, :16], apod_width=2)  # compile
"""

FLOOR = """
fa = scipy.fft.rfftn(a, workers=workers); fb = scipy.fft.rfftn(b, workers=workers); del fa, fb
"""

FSC = """
res = fsc(a, b)
"""

# The floor drifts by tens of percent between runs on a shared VM: the ratio is also taken
# pair by pair in one process (floor, fsc, floor, fsc, ...), as the median of the ratios.
PAIRED = """
import time
_t0 = time.perf_counter(); fa = scipy.fft.rfftn(a, workers=workers); fb = scipy.fft.rfftn(b, workers=workers)
_t1 = time.perf_counter(); del fa, fb
_t2 = time.perf_counter(); res = fsc(a, b); _t3 = time.perf_counter()
pair_ratios.append((_t3 - _t2) / (_t1 - _t0))
"""

REFERENCE_SETUP = SETUP + """
from toupy.resolution._shells import shell_index, n_shells
from toupy.resolution._windows import full_window
index = shell_index(shape).ravel()
window = full_window(shape, 'circle', 20).astype(np.float32)
bins = n_shells(shape)
def reference(a, b):
    fa = np.fft.fftn((a - a.mean()) * window).ravel()
    fb = np.fft.fftn((b - b.mean()) * window).ravel()
    keep = index < bins
    cross = np.bincount(index[keep], (fa * fb.conj()).real[keep], bins)
    p1 = np.bincount(index[keep], (fa.real**2 + fa.imag**2)[keep], bins)
    p2 = np.bincount(index[keep], (fb.real**2 + fb.imag**2)[keep], bins)
    return cross / np.sqrt(p1 * p2)
"""

REFERENCE = """
curve = reference(a, b)
"""

CASES = [("FRC 4096^2", (4096, 4096)), ("FSC 256^3", (256, 256, 256)), ("FSC 512^3", (512, 512, 512))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the numpy reference (slow at 512^3)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for name, shape in CASES:
        setup = SETUP.format(shape=shape)
        floor = run_case(f"{name} floor (2x rfftn)", setup, FLOOR, repeats=args.repeats)
        floor.update(group=name, is_floor=True)
        ours = run_case(f"{name} fsc()", setup, FSC, repeats=args.repeats)
        ours["group"] = name
        paired = run_case(f"{name} paired", setup + "\npair_ratios = []\n", PAIRED,
                          repeats=2 * args.repeats, report="pair_ratios")
        ours["paired_ratio"] = paired["report"]
        rows += [floor, ours]
        if not args.quick:
            ref = run_case(f"{name} numpy fftn+bincount", REFERENCE_SETUP.format(shape=shape), REFERENCE,
                           repeats=max(1, args.repeats // 2))
            ref["group"] = name
            rows.append(ref)
        input_gb = 2 * 4 * int.__mul__(*shape[:2]) * (shape[2] if len(shape) == 3 else 1) / 1e9
        print(f"# {name}: inputs {input_gb:.2f} GB", file=sys.stderr)
    print_table(rows, floor_key="group")
    print("\nfsc() / floor, paired in one process (median [min-max] of per-pair ratios):")
    for r in rows:
        if "paired_ratio" in r:
            q = sorted(r["paired_ratio"])
            print(f"  {r['group']:12s} {q[len(q) // 2]:.2f}  [{q[0]:.2f}-{q[-1]:.2f}]  ({len(q)} pairs)")


if __name__ == "__main__":
    main()
