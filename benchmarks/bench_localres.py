"""Benchmark of LocalResolution: 256³ float32, n_freq = 20 (issue 6).

Targets (2 cores): at most 60 s; peak memory at most 6× the input's bytes in
float32. Each case runs in a fresh interpreter (``_common.run_case``). Two
memory numbers are printed:

* the peak RSS of the whole process (interpreter, numpy/scipy/numba and the
  input included), as ``_common`` reports it;
* the peak RSS *during the call* (the high-water mark is reset just before it
  through ``/proc/self/clear_refs``), and the call's working set: that peak
  minus what was resident before the call, plus the input itself, in units of
  the input's bytes. This is the algorithm's memory: map + half spectrum + one
  work spectrum + an int8 run counter ≈ 3.3×.

Run with ``python benchmarks/bench_localres.py [n] [repeats]``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import print_table, run_case  # noqa: E402

SETUP = """
import gc, json
import numpy as np
from toupy.resolution._localres import local_resolution

def _status(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    return 0

n = {n}
rng = np.random.default_rng(0)
# a ball (density 2, textured with a sine grating of period 7 px, amplitude 1) in
# white noise of unit variance: empty corners, detail finer inside than the ball
vol = rng.standard_normal((n, n, n), dtype=np.float32)
coords = (np.arange(n, dtype=np.float32) - n / 2) ** 2
grating = np.sin(2 * np.pi * np.arange(n, dtype=np.float32) / 7.0)
for i in range(n):
    inside = coords[i] + coords[:, None] + coords[None, :] < (0.35 * n) ** 2
    vol[i] += (2.0 + grating[None, :]) * inside
# compile or load the kernels outside the measurement (numba caches them on disk)
local_resolution(vol[:32, :32, :32].copy(), n_freq=3, progress_bar=False)
gc.collect()
"""

STMT = """
with open('/proc/self/clear_refs', 'w') as f:
    f.write('5')
_before = _status('VmRSS:')
res = local_resolution(vol, n_freq=20, progress_bar=False)
with open({out!r}, 'w') as f:
    json.dump({{'before': _before, 'hwm': _status('VmHWM:'),
               'median': res.resolution_median, 'resolved': res.resolved_fraction}}, f)
del res
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    input_bytes = n**3 * 4
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "call.json")
        row = run_case(
            f"LocalResolution {n}^3 n_freq=20", SETUP.format(n=n), STMT.format(out=out),
            repeats=repeats,
        )
        with open(out) as f:
            call = json.load(f)
    print_table([row])
    working = call["hwm"] - call["before"] + input_bytes
    print(f"input (float32)                     {input_bytes / 1e6:8.1f} MB")
    print(f"resident before the call            {call['before'] / 1e6:8.1f} MB "
          "(interpreter, libraries, input)")
    print(f"peak RSS during the call            {call['hwm'] / 1e6:8.1f} MB "
          f"= {call['hwm'] / input_bytes:.2f} x input")
    print(f"working set of the call (incl. input) {working / 1e6:6.1f} MB "
          f"= {working / input_bytes:.2f} x input (target <= 6)")
    print(f"time                                {row['median_s']:8.2f} s (target <= 60 s on 2 cores)")
    print(f"median resolution {call['median']:.3g} px, resolved fraction of the mask "
          f"{call['resolved']:.3f}")


if __name__ == "__main__":
    main()
