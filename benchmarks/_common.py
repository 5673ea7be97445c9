"""Shared benchmark helpers: each case runs in a fresh process so peak RSS is its own.

Usage in a benchmark script::

    from _common import run_case, print_table
    rows = [run_case("fsc 256^3", SETUP, STMT, repeats=3)]
    print_table(rows)

``SETUP`` builds the inputs (its memory counts as the inputs' baseline) and
``STMT`` is the timed statement. The child reports the median wall time over
``repeats`` runs, the peak RSS of the whole process and the RSS after setup.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

_CHILD = r"""
import json, resource, statistics, time, sys
def _status(key):
    # VmHWM is this process's own peak; ru_maxrss survives exec and can report the parent's
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1]) * 1024
    return 0
def _rss_now():
    return _status('VmRSS')
{setup}
_base = _rss_now()
_times = []
for _ in range({repeats}):
    _t = time.perf_counter()
{stmt}
    _times.append(time.perf_counter() - _t)
_peak = _status('VmHWM') or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print('@@' + json.dumps({{'median_s': statistics.median(_times), 'min_s': min(_times),
                          'peak_rss_bytes': _peak, 'rss_after_setup_bytes': _base,
                          'report': {report}}}))
"""


def run_case(name: str, setup: str, stmt: str, *, repeats: int = 3, env: dict | None = None,
             report: str | None = None) -> dict:
    """Run ``stmt`` ``repeats`` times after ``setup`` in a fresh interpreter.

    ``report`` names a JSON-able variable of the child returned as ``row['report']``.
    """
    code = _CHILD.format(
        setup=textwrap.dedent(setup),
        stmt=textwrap.indent(textwrap.dedent(stmt), "    "),
        repeats=repeats,
        report=report or "None",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={**os.environ, **(env or {})},
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark case {name!r} failed:\n{out.stderr}")
    line = [l for l in out.stdout.splitlines() if l.startswith("@@")][-1]
    row = json.loads(line[2:])
    row["name"] = name
    return row


def print_table(rows: list[dict], *, floor_key: str | None = None) -> None:
    """Print name, median time, peak RSS and (optionally) the ratio to a floor row."""
    floors = {r["group"]: r["median_s"] for r in rows if r.get("is_floor")} if floor_key else {}
    print(f"{'case':44s} {'median s':>9s} {'peak RSS GB':>12s} {'x floor':>8s}")
    for r in rows:
        ratio = ""
        if floor_key and r.get("group") in floors:
            ratio = f"{r['median_s'] / floors[r['group']]:.2f}"
        print(f"{r['name']:44s} {r['median_s']:9.3f} {r['peak_rss_bytes'] / 1e9:12.2f} {ratio:>8s}")
