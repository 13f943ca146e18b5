"""Lossless camtwin raw files: TIFF and NPZ, plus extension-dispatching :func:`save_raw` /
:func:`load_raw`.

* TIFF (``.tif``/``.tiff``): page 0 is ``dn`` (uint16, BlackIsZero), page 1 — only when
  present — ``mean_electrons`` (float32). The frame metadata is JSON in page 0's
  ImageDescription (:mod:`camtwin.raw._meta`).
* NPZ (``.npz``): ``np.savez_compressed`` with arrays ``dn``, optionally ``mean_electrons``,
  and ``meta`` (0-d unicode array holding the JSON); read with ``allow_pickle=False``.
* DNG (``.dng``): see :mod:`camtwin.raw.dng`; other camera raw files are read through LibRaw.

Every writer is atomic (:func:`camtwin._io.atomic_path`) and returns the target path.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import tifffile

from .._io import atomic_path
from ..errors import ConfigError
from ._meta import frame_from_json, frame_to_json
from .dng import read_raw, write_dng
from .frame import RawFrame


def _frame(path: Path, meta_json, dn: np.ndarray, mean_electrons: np.ndarray | None) -> RawFrame:
    kwargs = frame_from_json(meta_json)
    if kwargs is None:
        raise ConfigError(f"{path}: no camtwin metadata found (not written by camtwin?)")
    me = None if mean_electrons is None else np.asarray(mean_electrons, dtype=np.float32)
    return RawFrame(dn=np.asarray(dn, dtype=np.uint16), mean_electrons=me, **kwargs)


def write_tiff(path: str | os.PathLike, raw: RawFrame) -> Path:
    """Write ``raw`` as a uint16 TIFF (+ float32 ``mean_electrons`` page), atomically."""
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, raw.dn, photometric="minisblack", description=frame_to_json(raw),
                         metadata=None, software="camtwin")
        if raw.mean_electrons is not None:
            tifffile.imwrite(tmp, np.asarray(raw.mean_electrons, dtype=np.float32), append=True,
                             photometric="minisblack", metadata=None, software="camtwin")
    return Path(path)


def read_tiff(path: str | os.PathLike) -> RawFrame:
    """Read a TIFF written by :func:`write_tiff`.

    Raises
    ------
    ConfigError
        If the file is missing, not a TIFF, or lacks camtwin metadata.
    """
    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            pages = [page.asarray() for page in tif.pages]
            description = tif.pages.first.description
    except (OSError, ValueError) as exc:  # tifffile.TiffFileError is a ValueError
        raise ConfigError(f"cannot read TIFF file {path}: {exc}") from None
    return _frame(path, description, pages[0], pages[1] if len(pages) > 1 else None)


def write_npz(path: str | os.PathLike, raw: RawFrame) -> Path:
    """Write ``raw`` as a compressed NPZ (no pickled objects), atomically."""
    arrays = {"dn": raw.dn, "meta": np.array(frame_to_json(raw))}
    if raw.mean_electrons is not None:
        arrays["mean_electrons"] = np.asarray(raw.mean_electrons, dtype=np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return Path(path)


def read_npz(path: str | os.PathLike) -> RawFrame:
    """Read an NPZ written by :func:`write_npz` (``allow_pickle=False``).

    Raises
    ------
    ConfigError
        If the file is missing, not an NPZ, or lacks ``dn`` or the camtwin metadata.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, TypeError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"cannot read NPZ file {path}: {exc}") from None
    if "dn" not in arrays:
        raise ConfigError(f"{path}: NPZ has no 'dn' array (not a camtwin raw file?)")
    meta = arrays.get("meta")
    return _frame(path, None if meta is None else str(meta), arrays["dn"],
                  arrays.get("mean_electrons"))


#: Writers by file extension (lower case).
RAW_WRITERS = {".dng": write_dng, ".tif": write_tiff, ".tiff": write_tiff, ".npz": write_npz}


def save_raw(path: str | os.PathLike, raw: RawFrame) -> Path:
    """Write ``raw`` in the format chosen by the extension of ``path`` (see :data:`RAW_WRITERS`)."""
    writer = RAW_WRITERS.get(Path(path).suffix.lower())
    if writer is None:
        raise ConfigError(f"cannot save raw file {path}: unknown extension "
                          f"{Path(path).suffix!r}; valid: {', '.join(RAW_WRITERS)}")
    return writer(path, raw)


def load_raw(path: str | os.PathLike) -> RawFrame:
    """Read a raw frame: ``.tif``/``.tiff`` → :func:`read_tiff`, ``.npz`` → :func:`read_npz`,
    anything else (``.dng``, ``.cr2``, ``.nef``, ``.arw``, ...) → :func:`read_raw` (LibRaw)."""
    suffix = Path(path).suffix.lower()
    reader = {".tif": read_tiff, ".tiff": read_tiff, ".npz": read_npz}.get(suffix, read_raw)
    return reader(path)
