"""Out-of-core executor: same sums as in memory, bounded blocks, nothing left behind.

The known answer is the in-memory result of the same inputs: the out-of-core
path does the same arithmetic in another order (slabs, pencil blocks, a file
in between), so the sums agree to float round-off (1e-12 relative in float64,
1e-5 in float32).
"""

import os

import numpy as np
import pytest

from toupy.resolution import fsc
from toupy.resolution import _correlation, _storage
from toupy.resolution._correlation import fourier_shell_sums

SHAPES = [(64, 64), (65, 63), (20, 24, 28), (17, 19, 15), (9, 32, 33)]
WINDOWS = [(None, 0), ("circle", 3), ("tukey", 2), ("hann", 1), ("toupy", 3)]


def _tiny_limit(shape):
    """A limit that forces many slabs and pencil blocks."""
    plane = shape[1] * shape[2] if len(shape) == 3 else shape[1]
    return 12 * plane * 8 + 4096


def _pair(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    return a.astype(dtype), (a + rng.standard_normal(shape)).astype(dtype)


@pytest.fixture
def counted_reads(monkeypatch):
    calls = {"read": 0, "write": 0}
    read, write = _storage.FileStore.read, _storage.FileStore.write

    def counting_read(self, *args):
        calls["read"] += 1
        return read(self, *args)

    def counting_write(self, *args):
        calls["write"] += 1
        return write(self, *args)

    monkeypatch.setattr(_storage.FileStore, "read", counting_read)
    monkeypatch.setattr(_storage.FileStore, "write", counting_write)
    return calls


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("window,apod_width", WINDOWS)
def test_out_of_core_equals_in_memory(shape, window, apod_width, counted_reads, tmp_path):
    a, b = _pair(shape)
    ref = fourier_shell_sums(a, b, window=window, apod_width=apod_width).sums
    got = fourier_shell_sums(
        a, b, window=window, apod_width=apod_width, memory_limit=_tiny_limit(shape), tmp_dir=tmp_path
    ).sums
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got[[0, 2, 3, 4]], ref[[0, 2, 3, 4]], rtol=0, atol=1e-12 * scale)
    assert counted_reads["write"] > 2 and counted_reads["read"] > 4  # really streamed
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("shape", SHAPES + [(64, 4, 6), (40, 30, 18)])
@pytest.mark.parametrize("max_shell", [2, 9, 14])
@pytest.mark.parametrize("limit", ["tiny", "1MB"])
def test_pruned_spectrum_on_disk_equals_in_memory(shape, max_shell, limit, tmp_path):
    """With ``max_shell`` the file keeps only the pencils that reach it (ragged rows);
    the kept shells must equal the unpruned in-memory sums, through every read
    path: whole-row blocks (1MB), ragged blocks and rows split into pieces
    ((64, 4, 6) with the tiny limit), and the temporary file must be smaller."""
    a, b = _pair(shape, seed=3)
    ref = fourier_shell_sums(a, b, window="hann", apod_width=1).sums
    sizes = []
    original = _storage.FileStore.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        sizes.append(self.nbytes_on_disk)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_storage.FileStore, "__init__", recording_init)
        got = fourier_shell_sums(
            a, b, window="hann", apod_width=1, max_shell=max_shell, tmp_dir=tmp_path,
            memory_limit=_tiny_limit(shape) if limit == "tiny" else limit,
        ).sums
    kept = min(max_shell + 1, ref.shape[1])
    assert got.shape[1] == kept
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got[[0, 2, 3, 4]], ref[[0, 2, 3, 4], :kept], rtol=0, atol=1e-12 * scale)
    full = _storage.FileStore.bytes_needed(
        (shape[0], shape[1], shape[2] // 2 + 1) if len(shape) == 3 else (shape[0], 1, shape[1] // 2 + 1),
        np.complex128)
    if len(shape) == 3 and max_shell == 2:
        assert max(sizes) < full
    assert max(sizes) <= full
    assert os.listdir(tmp_path) == []


def test_short_reads_are_completed(tmp_path, monkeypatch):
    """A positioned read may return fewer bytes than asked (signals, network file
    systems); every read path must finish the job, also when a short read stops
    inside one row of a ragged block."""
    real = os.preadv

    def short_preadv(fd, buffers, offset):
        return real(fd, [memoryview(buffers[0]).cast("B")[:40]], offset)

    a, b = _pair((20, 24, 28), seed=5)
    ref = fourier_shell_sums(a, b, window="hann", apod_width=1, max_shell=9).sums
    monkeypatch.setattr(os, "preadv", short_preadv)
    got = fourier_shell_sums(a, b, window="hann", apod_width=1, max_shell=9, memory_limit="1MB",
                             tmp_dir=tmp_path).sums
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_memmap_input_is_streamed_automatically(tmp_path, counted_reads):
    a, b = _pair((24, 30, 36), np.float32)
    paths = []
    for name, x in (("a.npy", a), ("b.npy", b)):
        np.save(tmp_path / name, x)
        paths.append(tmp_path / name)
    mapped = [np.load(p, mmap_mode="r") for p in paths]
    streamed = fsc(*mapped, apod_width=4, tmp_dir=tmp_path)
    in_memory = fsc(a, b, apod_width=4)
    assert counted_reads["write"] > 0
    np.testing.assert_allclose(streamed.fsc, in_memory.fsc, atol=1e-6, equal_nan=True)
    assert streamed.fn_res == pytest.approx(in_memory.fn_res, abs=1e-5)
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "b.npy"]  # inputs untouched, no temp left
    np.testing.assert_array_equal(np.load(paths[0]), a)


def test_complex_and_masked_out_of_core(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((12, 16, 18)) + 1j * rng.standard_normal((12, 16, 18))
    b = a + 0.3 * rng.standard_normal(a.shape)
    mask = np.ones(a.shape)
    mask[:, :4] = 0.2
    ref = fsc(a, b, mask=mask, apod_width=2)
    got = fsc(a, b, mask=mask, apod_width=2, memory_limit=_tiny_limit(a.shape) * 2)
    np.testing.assert_allclose(got.fsc, ref.fsc, atol=1e-12, equal_nan=True)
    a2, b2, m2 = a[0].real, b[0].real, mask[0]
    np.testing.assert_allclose(
        fsc(a2, b2, mask=m2, memory_limit=5000, apod_width=2, window="circle").fsc,
        fsc(a2, b2, mask=m2, apod_width=2, window="circle").fsc, atol=1e-12, equal_nan=True,
    )


def test_temp_file_removed_after_failure(tmp_path, monkeypatch):
    """An exception in pass 2 leaves no file and no open descriptor behind."""
    a, b = _pair((16, 20, 22))
    calls = {"n": 0}
    real_fft = _correlation.fftn_into

    def failing_fft(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_fft(*args, **kwargs)

    monkeypatch.setattr(_correlation, "fftn_into", failing_fft)
    fds_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(KeyboardInterrupt):
        fourier_shell_sums(a, b, window="circle", apod_width=2, memory_limit=_tiny_limit(a.shape),
                           tmp_dir=tmp_path)
    assert calls["n"] == 3  # the interrupt came from pass 2
    assert os.listdir(tmp_path) == []
    assert len(os.listdir("/proc/self/fd")) == fds_before


@pytest.mark.parametrize("call", ["pwrite", "preadv"])
def test_background_io_errors_reach_the_caller(tmp_path, monkeypatch, call):
    """Spectra are written behind the transform and blocks read ahead in other
    threads: a disk error there (here: disk full on the 3rd call) must reach the
    caller, and leave no file, descriptor or thread behind."""
    import errno
    import threading

    a, b = _pair((16, 20, 22))
    real = getattr(os, call)
    calls = {"n": 0}

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    fourier_shell_sums(a, b, window="circle", apod_width=2, memory_limit=_tiny_limit(a.shape),
                       tmp_dir=tmp_path)  # starts the kernels' own persistent pool
    threads_before = threading.active_count()
    fds_before = len(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(os, call, failing)
    with pytest.raises(OSError, match="No space left"):
        fourier_shell_sums(a, b, window="circle", apod_width=2, memory_limit=_tiny_limit(a.shape),
                           tmp_dir=tmp_path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert threading.active_count() == threads_before


def test_bad_out_of_core_settings(tmp_path):
    a, b = _pair((16, 64, 64))
    with pytest.raises(ValueError, match="memory_limit"):
        fsc(a, b, apod_width=4, memory_limit="10kB")
    with pytest.raises(ValueError, match="memory_limit"):
        fsc(a, b, apod_width=4, memory_limit="lots")
    with pytest.raises(ValueError, match="tmp_dir"):
        fsc(a, b, apod_width=4, memory_limit="10MB", tmp_dir=tmp_path / "missing")
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if not os.access(read_only, os.W_OK):  # root can write anywhere
        with pytest.raises(ValueError, match="not writable"):
            fsc(a, b, apod_width=4, memory_limit="10MB", tmp_dir=read_only)


def test_not_enough_disk_is_refused_before_starting(tmp_path, monkeypatch):
    a, b = _pair((16, 32, 32))

    class Tiny:
        free = 1000

    monkeypatch.setattr(_storage.shutil, "disk_usage", lambda folder: Tiny)
    with pytest.raises(ValueError, match="GB needed"):
        fsc(a, b, apod_width=4, memory_limit="10MB", tmp_dir=tmp_path)
    assert os.listdir(tmp_path) == []
