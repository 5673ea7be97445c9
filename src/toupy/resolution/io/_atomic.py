"""Atomic output: a file appears complete under its name, or not at all.

Linux: the data go to an anonymous file (``O_TMPFILE``) in the target folder,
which is linked into place only when it is complete, so a run killed while
writing leaves nothing visible. Elsewhere (or on a filesystem without
``O_TMPFILE``) the data go to ``.<name>.<pid>.<random>.toupy-part`` in the
target folder, renamed over the target when complete; a later write of the
same target removes such files whose process is gone.

A full disk (``ENOSPC``, ``EDQUOT``, ``EFBIG``, or numpy's short-write error)
becomes one :class:`DiskFullError` naming the target, and the partial data
are discarded.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DiskFullError", "atomic_path", "atomic_stream", "check_free_space", "remove_stale_temporaries"]

_FULL = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "file too large for the filesystem"}
if hasattr(errno, "EDQUOT"):
    _FULL[errno.EDQUOT] = "disk quota exceeded"

_SUFFIX = ".toupy-part"
# a temporary older than this is stale even if its process id is in use again
_STALE_SECONDS = 12 * 3600
# temporaries of earlier versions: '.<name>.<8 random>.tmp' (tempfile.mkstemp), no pid to check
_LEGACY_STALE_SECONDS = 3600


class DiskFullError(OSError):
    """Writing ``filename`` failed because its disk (or quota) is full; nothing was left behind.

    ``errno`` is ``ENOSPC``, ``EDQUOT`` or ``EFBIG`` (``ENOSPC`` when the
    space was found missing before writing); ``str()`` is one line that
    names the target file.
    """

    def __init__(self, target, reason: str, code: int = errno.ENOSPC):
        super().__init__(code, reason, str(target))
        self.message = f"{target}: cannot write: the disk is full ({reason}); free space or write elsewhere"

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # pickled across processes (dask, multiprocessing) with its own arguments
        return type(self), (self.filename, self.strerror, self.errno)


def disk_full_reason(exc: BaseException) -> tuple[str, int] | None:
    """``(reason, errno)`` when ``exc`` says the disk is full, else None."""
    if not isinstance(exc, (OSError, RuntimeError)):
        return None
    code = getattr(exc, "errno", None)
    if code in _FULL:
        return _FULL[code], code
    text = str(exc)
    # numpy's tofile (np.save, tifffile) reports a short write without errno
    if code is None and re.search(r"\d+ requested and \d+ written", text):
        return "short write: no space left on the device", errno.ENOSPC
    # HDF5 puts the system's errno in the text of an OSError or RuntimeError
    match = re.search(r"errno = (\d+)", text)
    if match and int(match.group(1)) in _FULL:
        return _FULL[int(match.group(1))], int(match.group(1))
    return None


def free_bytes(folder: Path) -> int | None:
    """Bytes an unprivileged process may still write in ``folder`` (None if unknown)."""
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):
        return None
    return stat.f_bavail * stat.f_frsize


def check_free_space(target: Path, needed: int) -> None:
    """Raise :class:`DiskFullError` now if ``target``'s folder has fewer than ``needed`` bytes free."""
    free = free_bytes(target.parent)
    if free is not None and free < needed:
        raise DiskFullError(target, f"needs about {needed} bytes, {free} free")


# ---------------------------------------------------------------- stale temporaries

def _temporary_pattern(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.(\d+)\.[0-9a-f]+{re.escape(_SUFFIX)}$")


def _legacy_pattern(name: str) -> re.Pattern:
    return re.compile(rf"^\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp$")


def _process_gone(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":
        return False  # on Windows signal 0 is CTRL_C_EVENT, not a probe: only the age counts there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # exists, owned by someone else
    return False


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove temporaries of ``target`` left by killed runs; return what was removed.

    Only names of this module's own pattern are touched: ``.<name>.<pid>.<hex>.toupy-part``
    whose process is gone (or untouched for 12 hours), and the
    ``.<name>.<8 chars>.tmp`` of earlier versions untouched for an hour.
    """
    ours, legacy = _temporary_pattern(target.name), _legacy_pattern(target.name)
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        match = ours.match(entry.name)
        if match is None and not legacy.match(entry.name):
            continue
        with contextlib.suppress(OSError):
            age = now - entry.stat(follow_symlinks=False).st_mtime
            stale = (_process_gone(int(match.group(1))) or age > _STALE_SECONDS) if match else (
                age > _LEGACY_STALE_SECONDS)
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


# ---------------------------------------------------------------- the temporary file

@dataclass
class _Temporary:
    """An open temporary for ``target``: ``path`` opens it (``/proc/self/fd/N`` when anonymous)."""

    target: Path
    fd: int
    path: str
    named: Path | None  # None: anonymous (O_TMPFILE), invisible until linked

    @classmethod
    def create(cls, target: Path, *, anonymous: bool = True) -> "_Temporary":
        folder = target.parent
        if anonymous and hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):
            try:
                fd = os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o666)  # the umask applies
                return cls(target, fd, f"/proc/self/fd/{fd}", None)
            except OSError as exc:
                if disk_full_reason(exc):
                    raise
                # EOPNOTSUPP/EISDIR/EINVAL: this filesystem has no anonymous files
        named = folder / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}{_SUFFIX}"
        fd = os.open(named, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        return cls(target, fd, str(named), named)

    def commit(self) -> None:
        """Make the data durable and put them under the target's name in one step."""
        os.fsync(self.fd)
        if self.named is None:
            try:
                # a new name: link the anonymous file straight to it
                self._link(self.target)
                self._sync_folder()
                return
            except FileExistsError:
                pass
            # replacing: link under a private name, then rename over the target
            self.named = self.target.parent / (
                f".{self.target.name}.{os.getpid()}.{secrets.token_hex(4)}{_SUFFIX}")
            self._link(self.named)
        os.replace(self.named, self.target)
        self.named = None
        self._sync_folder()

    def _link(self, name: Path) -> None:
        # a folder descriptor makes CPython call linkat(AT_SYMLINK_FOLLOW): plain
        # link() would link the /proc symlink itself and fail across devices
        folder = os.open(name.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.link(self.path, name.name, dst_dir_fd=folder, follow_symlinks=True)
        finally:
            os.close(folder)

    def _sync_folder(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            handle = os.open(self.target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                os.fsync(handle)
            finally:
                os.close(handle)

    def discard(self) -> None:
        if self.named is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.named)
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def _translated(exc: BaseException, target: Path, temporary: str) -> BaseException | None:
    """The error to raise instead of ``exc`` (naming the target, never the temporary), or None."""
    full = disk_full_reason(exc)
    if full:
        return DiskFullError(target, *full)
    if isinstance(exc, OSError) and not isinstance(exc, DiskFullError):
        text = " ".join(str(exc).replace(temporary, str(target)).split())
        if temporary in str(exc) or str(target) not in text:
            translated = OSError(f"{target}: cannot write: {text or type(exc).__name__}")
            translated.errno = exc.errno
            return translated
    return None


@contextlib.contextmanager
def atomic_path(target, *, overwrite: bool = True, anonymous: bool = True):
    """A temporary path for ``target``; it becomes ``target`` if the block succeeds.

    Parameters
    ----------
    target : str or path
        The file to produce; its folder is created if needed.
    overwrite : bool
        With False an existing ``target`` raises ``FileExistsError`` (checked
        before and, for a new name, at the moment of linking).
    anonymous : bool
        Use an anonymous file where the platform offers one (default). With
        False the path is always a named temporary in the target folder, for
        libraries that resolve the path they are given (HDF5 2, tifffile).

    Yields
    ------
    str
        A path the writer opens and writes (truncating is fine). On Linux it
        is ``/proc/self/fd/N`` of an anonymous file.

    Raises
    ------
    DiskFullError
        The disk or quota filled up; nothing is left behind.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target}: exists (pass overwrite=True to replace it)")
    remove_stale_temporaries(target)
    try:
        temporary = _Temporary.create(target, anonymous=anonymous)
    except OSError as exc:
        raise (_translated(exc, target, "") or exc) from None
    try:
        yield temporary.path
        if not overwrite and target.exists():
            raise FileExistsError(f"{target}: exists (pass overwrite=True to replace it)")
        temporary.commit()
    except BaseException as exc:
        temporary.discard()
        replacement = _translated(exc, target, temporary.path)
        if replacement is not None:
            raise replacement from exc
        raise
    finally:
        temporary.close()


@contextlib.contextmanager
def atomic_stream(target, mode: str = "wb", *, overwrite: bool = True, encoding: str | None = None):
    """An open file for ``target`` (``'wb'``, ``'w+b'`` or ``'w'``); it becomes ``target`` if the block succeeds.

    Same guarantees as :func:`atomic_path`. Text mode writes UTF-8 unless
    ``encoding`` says otherwise.
    """
    if mode not in ("w", "wb", "w+b"):
        raise ValueError(f"mode must be 'w', 'wb' or 'w+b'; got {mode!r}")
    text = {"encoding": encoding or "utf-8"} if mode == "w" else {}
    with atomic_path(target, overwrite=overwrite) as path:
        with open(path, mode, **text) as stream:
            yield stream
