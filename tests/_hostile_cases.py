"""Builders shared by the hostile-input suite (``test_hostile.py``) and the fuzzing (``test_fuzz.py``).

Small generated inputs (32x32 images, 16x16x16 volumes), writers that put an
array into every readable format in either byte order with the format's own
library, ways to damage a file (truncate, overwrite bytes, forge a header
that claims far more data than the file holds), and the check every hostile
case ends with: either a correct result, or a ``ValueError``/``TypeError``
(exit code 2 on the command line) whose message is one line naming the file
or the parameter.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIDE = 32            # images are SIDE x SIDE
VOLUME = (16, 16, 16)
APOD = 4             # apodization small enough for a 32-pixel image (2 * APOD < SIDE)
LOCAL_SIGMA = 3.0    # local_resolution's window: the default 7 px spans the whole 32-px image
DECORR_APOD = 6      # where kcMax of sample_image() is stable against the apodization (no warning)

#: file formats the readers must survive, with the extension used here
EXTENSIONS = {"tiff": ".tif", "hdf5": ".h5", "mrc": ".mrc", "npy": ".npy", "edf": ".edf"}
#: formats that can be written here in big-endian order
BIG_ENDIAN_FORMATS = ("tiff", "hdf5", "mrc", "npy")


# ---------------------------------------------------------------------- data

def band_limited(shape, *, sigma: float = 1.5, seed: int = 0) -> np.ndarray:
    """Gaussian-filtered white noise of unit variance: a signal with power at every frequency."""
    rng = np.random.default_rng(seed)
    freqs = np.meshgrid(*[np.fft.fftfreq(n) for n in shape], indexing="ij", sparse=True)
    envelope = np.exp(-2 * np.pi**2 * sigma**2 * sum(f**2 for f in freqs))
    signal = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * envelope).real
    return signal / signal.std()


def halves(shape=(SIDE, SIDE), *, noise: float = 0.5, seed: int = 0, dtype=np.float32):
    """Two noisy copies of one band-limited signal: the FSC crosses the threshold below Nyquist."""
    rng = np.random.default_rng(seed + 1)
    signal = band_limited(shape, seed=seed)
    return tuple((signal + noise * rng.standard_normal(shape)).astype(dtype) for _ in range(2))


def sample_image(shape=(SIDE, SIDE), *, seed: int = 0, dtype=np.float32) -> np.ndarray:
    """A band-limited disc in a noisy empty background (what local_resolution expects)."""
    rng = np.random.default_rng(seed + 2)
    grids = np.meshgrid(*[np.arange(n) - (n - 1) / 2 for n in shape], indexing="ij")
    radius = np.sqrt(sum(g**2 for g in grids))
    disc = radius < 0.3 * min(shape)
    image = 4.0 * band_limited(shape, sigma=1.0, seed=seed) * disc + 0.2 * rng.standard_normal(shape)
    return image.astype(dtype)


def edge_image(shape=(SIDE, SIDE), *, angle_deg: float = 5.0, dtype=np.float32) -> np.ndarray:
    """A slanted edge blurred by a Gaussian of 1 px (tests/_edges.py), for the MTF."""
    from _edges import slanted_edge

    return np.asarray(slanted_edge(shape, angle_deg, 1.0), dtype=dtype)


def byteswapped(array: np.ndarray, order: str = ">") -> np.ndarray:
    """The same values in the byte order ``order`` (``'>'`` big-endian, ``'<'`` little)."""
    array = np.asarray(array)
    return array.astype(array.dtype.newbyteorder(order))


# ---------------------------------------------------------------------- estimators

@dataclass(frozen=True)
class Estimator:
    """One estimator of the public API, with options that suit the small inputs here."""

    name: str
    function: object
    arity: int            # 2 for two halves, 1 for a single image
    options: dict
    inputs: object        # () -> tuple of clean input arrays

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the array parameters (``img1``, ``vol1``, ``image`` ...): messages must name them."""
        names = list(inspect.signature(self.function).parameters)
        return tuple(names[: self.arity])

    def __call__(self, *arrays, **extra):
        return self.function(*arrays, **{**self.options, **extra})

    def __repr__(self) -> str:  # pytest ids
        return self.name


def estimators() -> dict[str, Estimator]:
    """Every estimator of the issue by its CLI name (frc is fsc of 2-D images; fsc runs on a volume)."""
    from toupy import resolution as r

    def pair2(noise=0.5):
        return lambda: halves(noise=noise)

    return {
        "fsc": Estimator("fsc", r.fsc, 2, {"apod_width": APOD}, lambda: halves(VOLUME)),
        "frc": Estimator("frc", r.fsc, 2, {"apod_width": APOD}, pair2()),
        "ssnr": Estimator("ssnr", r.ssnr, 2, {"apod_width": APOD}, pair2()),
        "randomfsc": Estimator("randomfsc", r.phase_randomized_fsc, 2,
                               {"apod_width": APOD, "random_seed": 7}, pair2(noise=1.5)),
        "localfsc": Estimator("localfsc", r.local_fsc, 2, {"box_size": 16}, pair2()),
        "localres": Estimator("localres", r.local_resolution, 1, {"window_sigma": LOCAL_SIGMA},
                              lambda: (sample_image(),)),
        "decorr": Estimator("decorr", r.decorrelation_resolution, 1, {"apod_width": DECORR_APOD},
                            lambda: (sample_image(),)),
        "mtf": Estimator("mtf", r.mtf_slanted_edge, 1, {}, lambda: (edge_image(),)),
    }


# ---------------------------------------------------------------------- outcomes

@dataclass(frozen=True)
class Outcome:
    """What one call did: ``kind`` is 'result', 'ValueError', 'TypeError' or another exception's name."""

    kind: str
    message: str = ""
    value: object = None
    warnings: tuple = ()
    categories: tuple = ()  # the warnings' classes, in the order of ``warnings``

    def __repr__(self) -> str:
        return f"Outcome({self.kind}: {self.message[:300]!r}, warnings={list(self.warnings)!r})"


def call(function, *args, **kwargs) -> Outcome:
    """Run ``function`` and record its result or exception and the warnings it raised."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = function(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            kind = "TypeError" if isinstance(exc, TypeError) else "ValueError"
            return Outcome(kind, str(exc), None, *_texts(caught))
        except Exception as exc:  # any other exception is a failure of the case: keep it for the report
            return Outcome(type(exc).__name__, str(exc), None, *_texts(caught))
    return Outcome("result", "", value, *_texts(caught))


def _texts(caught) -> tuple[tuple, tuple]:
    kept = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
    return tuple(" ".join(str(w.message).split()) for w in kept), tuple(w.category for w in kept)


def assert_refused(outcome: Outcome, *names: str, kinds=("ValueError", "TypeError")) -> None:
    """A refusal: one of ``kinds`` with a one-line message that contains every one of ``names``."""
    assert outcome.kind in kinds, f"expected {'/'.join(kinds)} naming {names}; got {outcome!r}"
    assert_one_line_naming(outcome.message, *names)


def assert_one_line_naming(message: str, *names: str) -> None:
    text = message.strip()
    assert text, "empty message"
    assert "\n" not in text, f"message is not one line: {message!r}"
    assert "Traceback" not in text, f"traceback in the message: {message!r}"
    for name in names:
        assert name in text, f"message does not name {name!r}: {message!r}"


def _comparable(value) -> dict:
    """The numbers of a result (its to_dict()), flattened to {key: float array}, for comparison."""
    document = value.to_dict() if hasattr(value, "to_dict") else dict(vars(value))
    flat: dict = {}

    def walk(prefix, item):
        if isinstance(item, dict):
            for key, sub in item.items():
                walk(f"{prefix}.{key}", sub)
        elif isinstance(item, (list, tuple, np.ndarray)) and np.asarray(item).dtype.kind in "biufc":
            flat[prefix] = np.asarray(item, dtype=np.complex128)
        elif isinstance(item, (int, float, np.number)) and not isinstance(item, bool):
            flat[prefix] = np.asarray([item], dtype=np.complex128)
        elif item is None or isinstance(item, (bool, str)):
            flat[prefix] = item

    walk("", document)
    return flat


def assert_same_result(native, swapped) -> None:
    a, b = _comparable(native), _comparable(swapped)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].shape == b[key].shape, key
            assert np.allclose(a[key], b[key], rtol=1e-6, atol=1e-9, equal_nan=True), key
        else:
            assert a[key] == b[key], key


def assert_same_outcome(native: Outcome, swapped: Outcome) -> None:
    """Byte order changes nothing: the same result, warnings and refusal as in native order."""
    assert native.kind in ("result", "ValueError", "TypeError"), f"native order: {native!r}"
    assert swapped.kind == native.kind, f"native {native!r} but swapped {swapped!r}"
    if native.kind == "result":
        assert_same_result(native.value, swapped.value)
        assert swapped.warnings == native.warnings
    else:
        assert swapped.message == native.message


def names_a_parameter(message: str, parameters) -> bool:
    """Whether the message names one of ``parameters`` as a word (``img1``, ``mask`` ...)."""
    return any(re.search(rf"(?<![\w]){re.escape(p)}(?![\w])", message) for p in parameters)


# ---------------------------------------------------------------------- files

def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def digests(folder) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (symbolic links by their target's content)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def listing(folder) -> set[str]:
    """Every name under ``folder``, relative (empty when it does not exist)."""
    folder = Path(folder)
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def temporary_names(names) -> list[str]:
    """The names a writer uses while it works (``.name.XXXX.tmp``, probes) that must not remain."""
    return sorted(n for n in names if Path(n).name.startswith(".") or n.endswith(".tmp") or "toupy" in n.lower())


def write_file(path, array, *, byteorder: str = "=") -> str:
    """Write ``array`` with the format's own library in ``byteorder``; returns the spec to read it.

    ``byteorder`` is ``'='`` (native), ``'<'`` or ``'>'``. HDF5 specs carry
    ``:/data``.
    """
    path = Path(path)
    fmt = format_of(path)
    data = np.asarray(array)
    if byteorder != "=":
        data = byteswapped(data, byteorder)
    if fmt == "npy":
        np.save(path, data, allow_pickle=False)
    elif fmt == "tiff":
        import tifffile

        tifffile.imwrite(path, data, byteorder="=" if byteorder == "=" else byteorder)
    elif fmt == "hdf5":
        import h5py

        with h5py.File(path, "w") as h5:
            h5.create_dataset("data", data=data, dtype=data.dtype)
        return f"{path}:/data"
    elif fmt == "mrc":
        _write_mrc(path, data)
    elif fmt == "edf":
        import fabio.edfimage

        fabio.edfimage.EdfImage(data=np.ascontiguousarray(data.astype(data.dtype.newbyteorder("=")))).write(
            str(path))
    else:
        raise ValueError(f"no writer for {path}")
    return str(path)


def _write_mrc(path: Path, data: np.ndarray) -> None:
    """MRC in the data's byte order (mrcfile swaps the header to match and sets the machine stamp)."""
    import mrcfile

    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        mrc.voxel_size = 2.0


def mrc_extended(path) -> bytes:
    """The extended header bytes of an MRC file (none for the files written here)."""
    raw = Path(path).read_bytes()
    order = "<" if raw[212] == 0x44 else ">"
    nsymbt = struct.unpack(f"{order}i", raw[92:96])[0]
    return raw[1024:1024 + nsymbt]


def format_of(path) -> str:
    suffix = Path(str(path).split(":")[0]).suffix.lower()
    for fmt, ext in EXTENSIONS.items():
        if suffix == ext:
            return fmt
    return {".tiff": "tiff", ".hdf5": "hdf5", ".map": "mrc"}.get(suffix, "")


def file_of(spec) -> Path:
    """The file of a spec (``file.h5:/data`` -> ``file.h5``)."""
    text = str(spec)
    return Path(text.split(":/")[0]) if ":/" in text else Path(text)


# ---------------------------------------------------------------------- damage

def truncate(path, keep: int) -> None:
    """Keep the first ``keep`` bytes of the file."""
    raw = Path(path).read_bytes()
    Path(path).write_bytes(raw[:keep])


def overwrite(path, offset: int, data: bytes) -> None:
    """Overwrite bytes at ``offset`` in place (the file keeps its size)."""
    with open(path, "r+b") as stream:
        stream.seek(offset)
        stream.write(data)


def header_size(path) -> int:
    """Bytes of the file before its pixel data (where forging does damage).

    For HDF5 the metadata also follows the data in some files; the bytes before
    the data hold the superblock and the dataset's object header here.
    """
    fmt = format_of(path)
    raw = Path(path).read_bytes()
    if fmt == "npy":
        major = raw[6]
        size = struct.unpack("<H", raw[8:10])[0] if major == 1 else struct.unpack("<I", raw[8:12])[0]
        return (10 if major == 1 else 12) + size
    if fmt == "mrc":
        return 1024 + len(mrc_extended(path))
    if fmt == "edf":
        return raw.index(b"}") + 2
    if fmt == "tiff":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return int(tif.series[0].dataoffset)
    if fmt == "hdf5":
        import h5py

        with h5py.File(path, "r") as h5:
            return int(h5["data"].id.get_offset())
    return min(len(raw), 512)


HUGE = 1 << 22  # a side length: a 2-D header claiming HUGE x HUGE float32 asks for 64 TiB


def forge_huge(path) -> None:
    """Rewrite the file's header so that it claims a HUGE x HUGE (x HUGE) array; the data stays small."""
    fmt = format_of(path)
    raw = bytearray(Path(path).read_bytes())
    if fmt == "npy":
        end = header_size(path)
        header = raw[:end].decode("latin1")
        forged = re.sub(r"'shape': \([^)]*\)", f"'shape': ({HUGE}, {HUGE})", header)
        padding = len(header) - len(forged)
        forged = forged.rstrip("\n").rstrip(" ") + " " * max(padding, 0)
        forged = (forged[: end - 1] + "\n") if len(forged) >= end else forged + " " * (end - 1 - len(forged)) + "\n"
        raw[:end] = forged.encode("latin1")[:end]
    elif fmt == "mrc":
        order = "<" if raw[212] == 0x44 else ">"
        raw[0:12] = struct.pack(f"{order}3i", HUGE, HUGE, HUGE)
        raw[28:40] = struct.pack(f"{order}3i", HUGE, HUGE, HUGE)  # mx, my, mz follow the sizes
    elif fmt == "edf":
        end = header_size(path)
        header = raw[:end].decode("latin1")
        for key in ("Dim_1", "Dim_2"):
            header = re.sub(rf"{key}\s*=\s*\d+", f"{key} = {HUGE}", header)
        raw = bytearray(_pad_edf_header(header, end).encode("latin1")) + raw[end:]
    elif fmt == "tiff":
        _forge_tiff(raw)
    elif fmt == "hdf5":
        _forge_hdf5(raw)
    Path(path).write_bytes(bytes(raw))


def _pad_edf_header(header: str, size: int) -> str:
    body = header.rstrip().rstrip("}").rstrip()
    text = body + "\n"
    return text + " " * (size - len(text) - 2) + "}\n"


def _forge_tiff(raw: bytearray) -> None:
    """Set ImageWidth (256) and ImageLength (257) of the first IFD to HUGE."""
    order = "<" if raw[:2] == b"II" else ">"
    ifd = struct.unpack(f"{order}I", raw[4:8])[0]
    count = struct.unpack(f"{order}H", raw[ifd:ifd + 2])[0]
    for index in range(count):
        entry = ifd + 2 + 12 * index
        tag, kind = struct.unpack(f"{order}HH", raw[entry:entry + 4])
        if tag in (256, 257):
            raw[entry + 2:entry + 12] = struct.pack(f"{order}HII", 4, 1, HUGE)  # LONG, one value


def _forge_hdf5(raw: bytearray) -> None:
    """Overwrite the dataspace dimensions (two consecutive 8-byte 32s) with HUGE."""
    little = struct.pack("<QQ", SIDE, SIDE)
    big = struct.pack(">QQ", SIDE, SIDE)
    done = False
    for pattern, order in ((little, "<"), (big, ">")):
        start = raw.find(pattern)
        while start >= 0:
            raw[start:start + 16] = struct.pack(f"{order}QQ", HUGE, HUGE)
            done = True
            start = raw.find(pattern, start + 16)
    if not done:
        raise ValueError("no dataspace of shape (32, 32) found to forge")


def zero_machine_stamp(path) -> None:
    """Set the MRC machine stamp (bytes 212-215) to zero, as some old writers do."""
    overwrite(path, 212, b"\x00\x00\x00\x00")


def corrupt_magic(path) -> None:
    """Overwrite the first bytes (the format's signature)."""
    overwrite(path, 0, b"\xde\xad\xbe\xef")
    if format_of(path) == "mrc":
        overwrite(path, 208, b"XXXX")  # MRC's signature is 'MAP ' at 208


def set_env_for_cli() -> dict:
    """Environment of a CLI run: no display, no progress bars, not under CI's small-demo switch."""
    env = dict(os.environ, MPLBACKEND="Agg", TOUPY_RESOLUTION_PROGRESS="0")
    env.pop("CI", None)
    return env
