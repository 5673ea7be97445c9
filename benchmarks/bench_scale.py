"""Scale-out benchmark: FSC of a pair larger than a memory budget, out of core and on Dask.

1. writes a float32 pair of ``--size``³ (default 1024³, 4.3 GB each) to ``--dir`` as .npy,
   slab by slab (never whole in memory), and waits for it to reach the disk (``sync``), as
   inputs of a real run would have;
2. the I/O reference: the same bytes the out-of-core FSC moves (read both inputs, write the
   temporary half spectra, read them back) with plain sequential 64 MB reads and writes, one after
   the other and with no computation -- how long the I/O alone takes on this disk (the FSC
   overlaps its reads and writes with the transforms, so it can come close to it or beat it);
3. FSC out of core at two memory limits (peak RSS, wall time, temporary disk);
4. FSC in memory at 512³ for the per-voxel ratio;
5. FSC with Dask at 512³ on a LocalCluster of 2 workers.

Each case runs in its own process; the files are removed at the end (``--keep`` keeps them).
Run: ``python benchmarks/bench_scale.py [--size 1024] [--dir /path/with/space]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import run_case  # noqa: E402


def write_pair(folder: str, n: int) -> tuple[str, str]:
    """Two correlated random volumes as .npy files, written slab by slab."""
    rng = np.random.default_rng(0)
    paths = (os.path.join(folder, f"half1_{n}.npy"), os.path.join(folder, f"half2_{n}.npy"))
    outs = [np.lib.format.open_memmap(p, mode="w+", dtype=np.float32, shape=(n, n, n)) for p in paths]
    for a in range(0, n, 16):
        b = min(a + 16, n)
        common = rng.standard_normal((b - a, n, n), dtype=np.float32)
        outs[0][a:b] = common + rng.standard_normal((b - a, n, n), dtype=np.float32)
        outs[1][a:b] = common + rng.standard_normal((b - a, n, n), dtype=np.float32)
    for out in outs:
        out.flush()
    del outs
    return paths


def temporary_bytes(n: int) -> int:
    """Bytes of the two temporary half spectra of an n³ FSC (the engine's own rule: only the
    pencils that reach the last shell are kept)."""
    from toupy.resolution._correlation import _pencil_columns
    from toupy.resolution._shells import n_shells, shell_frequencies
    from toupy.resolution._storage import FileStore

    _, k1, k2 = shell_frequencies((n, n, n))
    columns = _pencil_columns(k1, k2, n_shells((n, n, n)) - 1)
    return 2 * FileStore.bytes_needed((n, n, n // 2 + 1), np.complex64, columns)


OOC_SETUP = """
import numpy as np
from toupy.resolution import fsc
a = np.load({p1!r}, mmap_mode='r'); b = np.load({p2!r}, mmap_mode='r')
fsc(np.zeros((8, 16, 16), np.float32) + np.arange(16), np.ones((8, 16, 16), np.float32) * np.arange(16), apod_width=2)
"""
OOC_STMT = "res = fsc(a, b, memory_limit={limit}, tmp_dir={tmp!r})"  # memmaps: out of core by default

IO_SETUP = """
import os, tempfile
import numpy as np
chunk = np.empty(64 << 20, np.uint8)
view = memoryview(chunk)
def read_all(fd, size):
    offset = 0
    while offset < size:
        got = os.preadv(fd, [view[: min(len(view), size - offset)]], offset)
        if got == 0:
            break
        offset += got
"""
IO_STMT = """
for path in ({p1!r}, {p2!r}):
    fd = os.open(path, os.O_RDONLY)
    read_all(fd, os.fstat(fd).st_size)
    os.close(fd)
with tempfile.TemporaryFile(dir={tmp!r}) as f:
    fd, offset = f.fileno(), 0
    while offset < {temp_bytes}:
        offset += os.pwrite(fd, view[: min(len(view), {temp_bytes} - offset)], offset)
    read_all(fd, {temp_bytes})
"""

MEM_SETUP = """
import numpy as np
from toupy.resolution import fsc
rng = np.random.default_rng(0)
a = rng.standard_normal((512,) * 3, dtype=np.float32); b = a + rng.standard_normal((512,) * 3, dtype=np.float32)
fsc(a[:8, :16, :16].copy(), b[:8, :16, :16].copy(), apod_width=2)
"""
MEM_STMT = "res = fsc(a, b)"

DASK_SETUP = MEM_SETUP + """
import dask.array as da
from distributed import Client, LocalCluster
cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, memory_limit='6GB')
client = Client(cluster)
da1 = da.from_array(a, chunks=(32, 512, 512)); da2 = da.from_array(b, chunks=(32, 512, 512))
"""
DASK_STMT = "res = fsc(da1, da2)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--dir", default=None, help="folder for the inputs and temporary spectra")
    parser.add_argument("--limits", default="80MB,default",
                        help="comma-separated memory limits; 'default' uses the automatic one")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="toupy-bench-", dir=args.dir)
    rows = []
    try:
        t0 = time.perf_counter()
        p1, p2 = write_pair(folder, args.size)
        os.sync()
        print(f"# wrote the {args.size}^3 pair ({2 * 4 * args.size**3 / 1e9:.1f} GB) in "
              f"{time.perf_counter() - t0:.0f} s to {folder}", file=sys.stderr)
        voxels = args.size**3
        temp_bytes = temporary_bytes(args.size)
        io = run_case(f"I/O alone {args.size}^3 (sequential)", IO_SETUP,
                      IO_STMT.format(p1=p1, p2=p2, tmp=folder, temp_bytes=temp_bytes), repeats=1)
        io["per_voxel_ns"] = io["median_s"] / voxels * 1e9
        rows.append(io)
        os.sync()
        for limit in args.limits.split(","):
            row = run_case(f"out of core {args.size}^3, limit {limit}",
                           OOC_SETUP.format(p1=p1, p2=p2),
                           OOC_STMT.format(limit=None if limit == "default" else repr(limit), tmp=folder),
                           repeats=1)
            row["per_voxel_ns"] = row["median_s"] / voxels * 1e9
            rows.append(row)
            os.sync()  # the next case starts with no dirty pages of this one
        mem = run_case("in memory 512^3", MEM_SETUP, MEM_STMT, repeats=3)
        mem["per_voxel_ns"] = mem["median_s"] / 512**3 * 1e9
        rows.append(mem)
        if not args.skip_dask:
            dsk = run_case("dask 512^3, LocalCluster 2 workers", DASK_SETUP, DASK_STMT, repeats=2)
            dsk["per_voxel_ns"] = dsk["median_s"] / 512**3 * 1e9
            rows.append(dsk)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"{'case':42s} {'wall s':>8s} {'peak RSS GB':>12s} {'ns/voxel':>9s} {'x in-mem':>9s}")
    for r in rows:
        ratio = r["per_voxel_ns"] / mem["per_voxel_ns"]
        print(f"{r['name']:42s} {r['median_s']:8.1f} {r['peak_rss_bytes'] / 1e9:12.3f} "
              f"{r['per_voxel_ns']:9.2f} {ratio:9.2f}")
    print(f"temporary disk of the out-of-core runs: {temp_bytes / 1e9:.2f} GB "
          f"(inputs: {2 * 4 * args.size**3 / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
