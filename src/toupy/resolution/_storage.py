"""Where the engine reads its inputs from and keeps the half spectra.

Inputs (:class:`SlabSource`) are read one slab along axis 0 at a time, so an
``h5py.Dataset``, a zarr array or a ``numpy.memmap`` larger than memory can be
processed. A C-ordered memmap is read with ``pread`` into two reused buffers
(no mapped page is touched); other memmaps are copied and their pages released
after each slab so they do not accumulate in the resident set.

Half spectra live either in memory (:class:`MemoryStore`) or in an anonymous
temporary file (:class:`FileStore`, out of core). The file is created with
``tempfile.TemporaryFile`` (``O_TMPFILE`` on Linux), so it has no name and
vanishes when closed, on error, on KeyboardInterrupt and even if the process
is killed. It holds every column of the half spectrum but the last, which
stays in memory (a ``n0 x n1`` plane), and of each row only the bins that can
reach the last shell the caller needs: never more than the input in complex64
(``n0*n1*(n2//2)`` values), about 0.8 of it for a cube.

Out of core the file I/O overlaps the computation: :class:`FileStore` writes
each transformed slab in a background thread while the next one is
transformed, and :func:`read_ahead` reads the next slab or pencil block while
the current one is used. Every buffer involved is allocated once and reused.
"""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._validate import native_order

_IOV_MAX = min(1024, os.sysconf("SC_IOV_MAX")) if hasattr(os, "sysconf") else 1024

__all__ = ["is_lazy", "SlabSource", "MemoryStore", "FileStore", "check_tmp_dir", "read_ahead"]


def is_lazy(array) -> bool:
    """True for inputs that should be streamed: memmaps, h5py datasets, zarr arrays."""
    if isinstance(array, np.memmap):
        return True
    module = type(array).__module__.split(".")[0]
    return module in ("h5py", "zarr")


def _pread_into(fd: int, target, offset: int, what: str) -> None:
    """Fill ``target`` from ``offset`` of ``fd``, completing short reads."""
    view = memoryview(target).cast("B")
    while view:
        got = os.preadv(fd, [view], offset)
        if got == 0:
            raise OSError(f"{what} is shorter than expected")
        view, offset = view[got:], offset + got


class _BufferPair:
    """Two reused flat buffers handed out in turn: what one holds stays valid
    while the other is filled (one read ahead of its use)."""

    def __init__(self, dtype, zeroed: bool = False):
        self.dtype = np.dtype(dtype)
        self._new = np.zeros if zeroed else np.empty
        self._buffers = [self._new(0, self.dtype), self._new(0, self.dtype)]
        self._turn = 0

    def next(self, size: int) -> np.ndarray:
        """The next buffer, at least ``size`` long, as a flat array of ``size``."""
        turn = self._turn
        self._turn = 1 - turn
        if self._buffers[turn].size < size:
            self._buffers[turn] = self._new(size, self.dtype)
        return self._buffers[turn][:size]


def _backing_file(array) -> tuple[str, int] | None:
    """``(path, byte offset of the first element)`` of a C-ordered memmap whose file
    holds its current values (modes 'r', 'r+', 'w+'; not copy-on-write), else None."""
    if not isinstance(array, np.memmap) or not array.flags.c_contiguous or array.size == 0:
        return None
    path, handle = getattr(array, "filename", None), getattr(array, "_mmap", None)
    if getattr(array, "mode", None) not in ("r", "r+", "w+") or handle is None:
        return None
    if path is None or not hasattr(os, "preadv") or not os.path.isfile(path):
        return None
    try:  # where the mapping starts in memory; it starts in the file at the aligned offset
        mapped_at = np.frombuffer(handle, np.uint8).ctypes.data
    except (TypeError, ValueError):
        return None
    mapped_from = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    return path, mapped_from + (array.ctypes.data - mapped_at)


class SlabSource:
    """Slabs along axis 0 of an input, reshaped to the engine's 3-D view.

    ``view_shape`` is ``(1, nr, nc)`` for an in-memory 2-D image (one slab),
    ``(nr, 1, nc)`` for a streamed 2-D image (slabs of rows), or the shape
    of a 3-D volume.
    """

    def __init__(self, array, view_shape: tuple[int, int, int]):
        self.array = array
        self.view_shape = tuple(view_shape)
        #: the stored type, and the type of the slabs handed out (the machine's byte order)
        self.stored_dtype = np.dtype(array.dtype)
        self.dtype = self.stored_dtype.newbyteorder("=")
        self._new_axis = array.ndim == 2 and view_shape[0] == 1 and array.shape[0] != 1
        self._file = _backing_file(array)
        self._buffers = _BufferPair(self.stored_dtype)

    def read(self, a: int, b: int) -> np.ndarray:
        """Slab ``a:b`` of the view, in the machine's byte order.

        A view of an in-memory array (a copy when it is stored in the other
        byte order), a copy otherwise. A copy read from a file lives in one of
        two reused buffers, byte-swapped in place when needed: it stays valid
        until the second read after this one (enough to read one slab ahead
        while the previous one is being used).
        """
        if self._new_axis:
            return native_order(np.asarray(self.array))[np.newaxis]
        if self._file is not None:
            slab = native_order(self._pread(a, b), in_place=True)
            return slab.reshape((b - a,) + self.view_shape[1:])
        if isinstance(self.array, np.memmap):
            slab = native_order(np.array(self.array[a:b]), in_place=True)
            self._release(a, b)
        elif isinstance(self.array, np.ndarray):
            slab = native_order(self.array[a:b])
        else:  # h5py / zarr: a fresh array (swapped in place unless it is a view of a cache)
            slab = np.asarray(self.array[a:b])
            slab = native_order(slab, in_place=slab.flags.owndata and slab.flags.writeable)
        return slab.reshape((b - a,) + self.view_shape[1:])

    def close(self) -> None:
        """Drop the read buffers (the source can still be read: they come back)."""
        self._buffers = _BufferPair(self.stored_dtype)

    def _pread(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` of a C-ordered memmap read with ``pread`` into a reused buffer:
        no page of the mapping is touched, so nothing to fault in or release."""
        path, offset = self._file
        row_items = int(np.prod(self.array.shape[1:], dtype=np.int64))
        out = self._buffers.next((b - a) * row_items)
        with open(path, "rb", buffering=0) as f:
            _pread_into(f.fileno(), out, offset + a * row_items * self.stored_dtype.itemsize, path)
        return out

    def _release(self, a: int, b: int) -> None:
        """Drop the memmap pages of rows ``a:b`` from this process's resident set."""
        handle = getattr(self.array, "_mmap", None)
        if handle is None or not self.array.flags.c_contiguous or not hasattr(handle, "madvise"):
            return
        row = self.array.strides[0]
        start = self.array.offset + a * row
        page = mmap.PAGESIZE
        aligned = start - start % page
        try:
            handle.madvise(mmap.MADV_DONTNEED, aligned, start + (b - a) * row - aligned)
        except (OSError, ValueError):  # the advice is only an optimisation
            pass


class MemoryStore:
    """Half spectrum held in memory in one array.

    Pass 1 transforms slabs straight into it (:meth:`slab`); pass 2 reads
    pencil blocks of it (:meth:`read`) as strided views, which the FFT along
    axis 0 turns into a C-contiguous block (no separate copy). With
    ``columns`` (per index of axis 1, how many leading last-axis bins are
    needed), the blocks stop at the last needed column of their rows.
    """

    def __init__(self, shape: tuple[int, int, int], dtype, block_bytes: int,
                 columns: np.ndarray | None = None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        n0, n1, m = self.shape
        self.data = np.empty(self.shape, dtype)
        self._width = max(1, min(n1, block_bytes // (n0 * m * np.dtype(dtype).itemsize)))
        self._columns = None if columns is None else np.minimum(columns, m)

    def slab(self, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` of the spectrum, to be written in place."""
        return self.data[a:b]

    def commit(self, a: int, b: int) -> None:
        """Rows ``a:b`` written through :meth:`slab` are already in place."""

    def flush(self) -> None:
        """Nothing is pending in memory."""

    def write(self, a: int, b: int, slab: np.ndarray) -> None:
        self.data[a:b] = slab

    def blocks(self, budget: int):
        """Pencil blocks ``(j slice, k slice)`` of the width set at construction."""
        n1, m = self.shape[1], self.shape[2]
        for j0 in range(0, n1, self._width):
            rows = slice(j0, min(j0 + self._width, n1))
            width = m if self._columns is None else int(self._columns[rows].max())
            if width:
                yield rows, slice(0, width)

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """The block as a view of the spectrum: not to be written to."""
        return self.data[:, rows, cols]

    def close(self) -> None:
        self.data = None


def read_ahead(read, keys, enabled: bool = True):
    """Yield ``(key, read(key))`` in order, reading the next key in a background
    thread while the caller works on the current result.

    File reads release the GIL, so the read of the next slab or block overlaps
    the transform of this one. ``read`` must return data that stays valid until
    the second next call (the stores' and sources' buffers do).
    """
    keys = list(keys)
    if not enabled or len(keys) < 2:
        for key in keys:
            yield key, read(key)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="toupy-read") as pool:
        pending = pool.submit(read, keys[0])
        try:
            for index, key in enumerate(keys):
                data = pending.result()
                pending = pool.submit(read, keys[index + 1]) if index + 1 < len(keys) else None
                yield key, data
        finally:
            if pending is not None:
                pending.cancel()


def check_tmp_dir(tmp_dir, needed_bytes: int) -> str:
    """Validate the folder for temporary spectra: exists, writable, enough free space."""
    folder = os.fspath(tmp_dir) if tmp_dir is not None else tempfile.gettempdir()
    if not os.path.isdir(folder):
        raise ValueError(f"tmp_dir {folder!r} is not an existing folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"tmp_dir {folder!r} is not writable")
    free = shutil.disk_usage(folder).free
    if free < needed_bytes:
        raise ValueError(
            f"not enough free disk in tmp_dir {folder!r} for the temporary spectra: "
            f"{needed_bytes / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free; "
            "pass tmp_dir= on a larger disk"
        )
    return folder


class FileStore:
    """Half spectrum in an anonymous temporary file (all but its last column).

    Rows ``i`` of axis 0 are written slab by slab in pass 1 and read back as
    pencil blocks (all of axis 0, a range of axis 1 and 2) in pass 2 with
    positioned reads, so memory never holds more than one block. With
    ``columns`` (as :class:`MemoryStore`), row ``j`` of every plane keeps only
    its first ``columns[j]`` bins on disk: pencils beyond the last needed shell
    are never written nor read (about a fifth of a cube's spectrum).
    """

    def __init__(self, shape: tuple[int, int, int], dtype, folder: str,
                 columns: np.ndarray | None = None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        n0, n1, m = self.shape
        self._disk_cols = m - 1
        self._lengths = self.row_lengths(self.shape, columns)
        self._row_start = np.concatenate([[0], np.cumsum(self._lengths)])
        self._plane_len = int(self._row_start[-1])
        self._ragged = bool(np.any(self._lengths < self._disk_cols))
        # the kept bins of a plane's (n1, m) array (boolean masks index in row-major
        # order, which is the order on disk, at 1 byte per bin)
        self._kept = np.arange(m) < self._lengths[:, np.newaxis] if self._ragged else None
        self.last_column = np.empty((n0, n1), self.dtype)
        # two of each reused buffer: one is being written (read) in the background
        # while the caller fills (uses) the other
        self._staging = [np.empty((0, n1, m), self.dtype) for _ in range(2)]
        self._writes = [None, None]
        self._blocks = _BufferPair(self.dtype, zeroed=True)
        self._write_turn = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="toupy-write")
        self._file = tempfile.TemporaryFile(dir=folder)
        self._fd = self._file.fileno()
        self.nbytes_on_disk = n0 * self._plane_len * self.dtype.itemsize

    @staticmethod
    def row_lengths(shape: tuple[int, int, int], columns: np.ndarray | None = None) -> np.ndarray:
        """Bins of each row ``j`` kept on disk."""
        n1, disk_cols = shape[1], shape[2] - 1
        if columns is None:
            return np.full(n1, disk_cols, dtype=np.int64)
        return np.minimum(np.asarray(columns, dtype=np.int64), disk_cols)

    @classmethod
    def bytes_needed(cls, shape: tuple[int, int, int], dtype, columns: np.ndarray | None = None) -> int:
        return shape[0] * int(cls.row_lengths(shape, columns).sum()) * np.dtype(dtype).itemsize

    def slab(self, a: int, b: int) -> np.ndarray:
        """A reused buffer for rows ``a:b``; :meth:`commit` writes it to the file."""
        turn = self._write_turn
        if self._writes[turn] is not None:  # its previous contents must be on file first
            self._writes[turn].result()
            self._writes[turn] = None
        if self._staging[turn].shape[0] < b - a:
            self._staging[turn] = np.empty((b - a,) + self.shape[1:], self.dtype)
        return self._staging[turn][: b - a]

    def commit(self, a: int, b: int) -> None:
        """Write rows ``a:b`` of the buffer from :meth:`slab` in the background.

        The file write overlaps the transform of the next slab; :meth:`flush`
        waits for (and re-raises any error of) the writes still pending.
        """
        turn = self._write_turn
        self._writes[turn] = self._writer.submit(self.write, a, b, self._staging[turn][: b - a])
        self._write_turn = 1 - turn

    def flush(self) -> None:
        """Wait for the background writes; pass 1 is over, so drop its buffers."""
        for turn, pending in enumerate(self._writes):
            if pending is not None:
                self._writes[turn] = None
                pending.result()
        self._staging = [np.empty((0,) + self.shape[1:], self.dtype) for _ in range(2)]

    def write(self, a: int, b: int, slab: np.ndarray) -> None:
        plane_bytes = self._plane_len * self.dtype.itemsize
        for i in range(b - a):  # one plane at a time: the contiguous copy stays small
            if self._ragged:
                disk = slab[i][self._kept].astype(self.dtype, copy=False)
            else:
                disk = np.ascontiguousarray(slab[i, :, : self._disk_cols], dtype=self.dtype)
            view, offset = memoryview(disk).cast("B"), (a + i) * plane_bytes
            while view:
                written = os.pwrite(self._fd, view, offset)
                view, offset = view[written:], offset + written
        self.last_column[a:b] = slab[:, :, -1]

    def blocks(self, budget: int):
        """Pencil blocks over the disk columns, then over the in-memory last column."""
        n0, n1, m = self.shape
        item = self.dtype.itemsize
        if self._disk_cols:
            per_row = n0 * self._disk_cols * item
            if per_row <= budget:
                step = max(1, budget // per_row)
                for j0 in range(0, n1, step):
                    rows = slice(j0, min(j0 + step, n1))
                    width = int(self._lengths[rows].max())
                    if width:
                        yield rows, slice(0, width)
            else:
                cols = max(1, budget // (n0 * item))
                for j in range(n1):
                    for k0 in range(0, int(self._lengths[j]), cols):
                        yield slice(j, j + 1), slice(k0, min(k0 + cols, int(self._lengths[j])))
        step = max(1, budget // (n0 * item))
        for j0 in range(0, n1, step):
            yield slice(j0, min(j0 + step, n1)), slice(m - 1, m)

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        """One block as yielded by :meth:`blocks` (valid until the second read after it)."""
        n0 = self.shape[0]
        if cols.start == self.shape[2] - 1:
            return np.ascontiguousarray(self.last_column[:, rows, np.newaxis])
        nj, nk = rows.stop - rows.start, cols.stop - cols.start
        item = self.dtype.itemsize
        lengths = self._lengths[rows]
        first = self._row_start[rows.start] + cols.start
        out = self._blocks.next(n0 * nj * nk).reshape(n0, nj, nk)
        if nj == 1 or np.all(lengths == nk):  # the block is one contiguous span per plane
            for i in range(n0):
                self._read_into(out[i], (i * self._plane_len + first) * item)
            return out
        # ragged rows: one positioned read per plane scatters its span straight into
        # the rows of the block (the bins not kept hold finite values of an earlier
        # block; they lie beyond the last shell summed)
        pieces = [(jj * nk * item, int(n) * item) for jj, n in enumerate(lengths) if n]
        for i in range(n0):
            plane = memoryview(out[i]).cast("B")
            self._read_scattered([plane[a : a + n] for a, n in pieces],
                                 (i * self._plane_len + first) * item)
        return out

    def _read_scattered(self, targets: list, offset: int) -> None:
        """Fill ``targets`` (byte views) in order from one contiguous span of the file."""
        while targets:
            batch = targets[:_IOV_MAX]
            got = os.preadv(self._fd, batch, offset)
            if got == 0:
                raise OSError("temporary spectrum file is shorter than expected")
            offset += got
            done = 0
            while done < len(batch) and got >= len(batch[done]):
                got -= len(batch[done])
                done += 1
            targets = targets[done:]
            if got:  # a short read stopped inside a target: finish it on its own
                self._read_into(targets[0][got:], offset)
                offset += len(targets[0]) - got
                targets = targets[1:]

    def _read_into(self, target, offset: int) -> None:
        _pread_into(self._fd, target, offset, "temporary spectrum file")

    def close(self) -> None:
        """Wait for pending writes (their errors are dropped: this runs on the way
        out of an error too), then delete the file."""
        self._writer.shutdown(wait=True)
        self._staging = self._blocks = None
        if self._file is not None:
            self._file.close()
            self._file = None
