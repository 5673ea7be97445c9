"""Derive the small real-data fixtures ``real_*.npz`` of this folder (run once, by hand).

The sources are public files of other projects, not available at test time:

* Diamond Light Source's Savu repository (``DiamondLightSource/Savu``, commit
  ``0dad8303fe51a5ea71b977ed664eafe10b540361``): ``test_data/data/image_test/``
  (91 raw X-ray projections, one dark, one flat) and the rotation angles of
  ``test_data/data/full_field_corrected/24737_processed.nxs``;
* ImDecorr (``Ades91/ImDecorr``, commit ``db536a36d12db95f5e4ea6c8644144a10cc42646``):
  ``test_image.tif``, a STED image of COS-7 microtubules;
* mrcfile (``ccpem/mrcfile``, commit ``1b9d11a69951c67d83cc563022b93bfea0ff9088``):
  ``tests/test_data/EMD-3197.map`` and ``EMD-3001.map``, two maps deposited in EMDB;
* scikit-image's bundled ``camera.png`` (``skimage.data.camera()``).

Usage::

    python tests/data/make_real_data.py SAVU_GIT_DIR IMDECORR_GIT_DIR MRCFILE_GIT_DIR

where each argument is a bare git directory (or a clone) of the repository at
the commit above. Provenance, licences and what each file is used for are in
``README.md`` beside this script.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import h5py
import mrcfile
import mrcfile.mrcinterpreter
import numpy as np
import skimage.data
import tifffile

HERE = Path(__file__).resolve().parent

#: Detector rows of the Savu projections kept: they cross the sample and its holder.
SINOGRAM_ROWS = slice(84, 92)


def _blob(git_dir: str, path: str) -> bytes:
    """Bytes of ``path`` at HEAD of the git directory ``git_dir``."""
    return subprocess.run(["git", "-C", git_dir, "show", f"HEAD:{path}"], check=True,
                          capture_output=True).stdout


def savu_sinogram(git_dir: str) -> dict:
    """Raw projections (rows ``SINOGRAM_ROWS``), the first one whole, dark, flat and angles."""
    base = "test_data/data/image_test/"
    raw = np.stack([tifffile.imread(io.BytesIO(_blob(git_dir, f"{base}tiffs/raw_{i:05d}.tiff")))
                    for i in range(91)])
    dark = tifffile.imread(io.BytesIO(_blob(git_dir, f"{base}dark_00001.tiff")))
    flat = tifffile.imread(io.BytesIO(_blob(git_dir, f"{base}flat_00001.tiff")))
    nxs = _blob(git_dir, "test_data/data/full_field_corrected/24737_processed.nxs")
    with h5py.File(io.BytesIO(nxs), "r") as h:
        angles = h["entry/final_result_tomo/rotation_angle"][()]
    return {"raw": raw[:, SINOGRAM_ROWS].astype(np.uint16),
            "rows": np.arange(raw.shape[1])[SINOGRAM_ROWS],
            "projection0": raw[0].astype(np.uint16),
            "dark": dark.astype(np.float32),
            "flat": flat.astype(np.float32),
            "angles_deg": angles.astype(np.float64)}


def sted_image(git_dir: str) -> dict:
    """The 510 x 510 uint8 STED image and its pixel size (from the TIFF resolution tag)."""
    with tifffile.TiffFile(io.BytesIO(_blob(git_dir, "test_image.tif"))) as tif:
        page = tif.pages[0]
        numerator, denominator = page.tags["XResolution"].value  # pixels per micron
        image = page.asarray()
    return {"image": image, "pixel_size_nm": np.float64(1000.0 * denominator / numerator)}


def emdb_map(git_dir: str, name: str) -> dict:
    """A deposited EMDB map as float32 with the voxel size of each array axis in angstrom."""
    # mrcfile reads from a path or a stream object of its interpreter, not a BytesIO.
    stream = io.BytesIO(_blob(git_dir, f"tests/test_data/{name}"))
    with mrcfile.mrcinterpreter.MrcInterpreter(stream, permissive=True) as mrc:
        data = np.asarray(mrc.data, dtype=np.float32)
        cell_voxel = (mrc.voxel_size.x, mrc.voxel_size.y, mrc.voxel_size.z)
        # Array axes are (sections, rows, columns); the header says which cell axis
        # (1 = x, 2 = y, 3 = z) each one runs along.
        order = (int(mrc.header.maps), int(mrc.header.mapr), int(mrc.header.mapc))
    voxel = np.array([cell_voxel[axis - 1] for axis in order], dtype=np.float64)
    return {"map": data, "voxel_size_A": voxel, "cell_axes": np.array(order, dtype=np.int8)}


def main(savu: str, imdecorr: str, mrc: str) -> None:
    """Write the ``real_*.npz`` files into this folder."""
    np.savez_compressed(HERE / "real_savu_i12_sinogram.npz", **savu_sinogram(savu))
    np.savez_compressed(HERE / "real_sted_microtubules.npz", **sted_image(imdecorr))
    np.savez_compressed(HERE / "real_emd_3197.npz", **emdb_map(mrc, "EMD-3197.map"))
    np.savez_compressed(HERE / "real_emd_3001.npz", **emdb_map(mrc, "EMD-3001.map"))
    np.savez_compressed(HERE / "real_camera.npz", image=skimage.data.camera())


if __name__ == "__main__":
    main(*sys.argv[1:4])
