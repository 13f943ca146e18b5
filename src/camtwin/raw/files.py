"""Lossless camtwin raw files: TIFF and NPZ, plus extension-dispatching :func:`save_raw` /
:func:`load_raw`.

* TIFF (``.tif``/``.tiff``): page 0 is ``dn`` (uint16, BlackIsZero), page 1 — only when
  present — ``mean_electrons`` (float32). The frame metadata is JSON in page 0's
  ImageDescription (:mod:`camtwin.raw._meta`).
* NPZ (``.npz``): ``np.savez_compressed`` with arrays ``dn``, optionally ``mean_electrons``,
  and ``meta`` (0-d unicode array holding the JSON); read with ``allow_pickle=False``.
* DNG (``.dng``): see :mod:`camtwin.raw.dng`; other camera raw files are read through LibRaw.

HDR frames (``RawFrame.hdr`` / ``hdr_electrons``, :mod:`camtwin.sensor.hdr`):

* NPZ keeps everything the ISP and the measurements use: ``hdr_electrons`` (float32, the
  sensor's combined linear value), every component's DN (``hdr_dn_0`` …, uint16), the PWL
  output ``hdr_pwl_dn`` when the mode compands, and the HdrRaw's spec and component
  scalars in the JSON (``"hdr_raw"``). Not kept: per-component ground truth (``mean_e``),
  row window times and the PWL linear code (``linear_code``; recompute it with
  :func:`camtwin.isp.hdr.decompand`).
* TIFF keeps the same arrays as extra pages, named in order by the JSON key
  ``"tiff_pages"`` (files without it: page 1 is ``mean_electrons``).
* DNG keeps ``dn`` (the reference component, a valid linear raw) and the JSON (so the HDR
  spec and the component scalars), not the other components nor ``hdr_electrons``: a
  DNG of an HDR frame loads as its reference exposure. Use NPZ or TIFF for HDR.

Every writer is atomic (:func:`camtwin._io.atomic_path`) and returns the target path.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import numpy as np
import tifffile

from .._io import atomic_path
from ..errors import CamtwinError, ConfigError
from ._meta import HDR_KEY, frame_from_json, frame_to_json, hdr_from_json, json_extras
from .dng import check_complete, read_raw, write_dng
from .frame import RawFrame

#: Largest .npy header accepted in an NPZ (numpy's own default ``max_header_size``).
NPY_MAX_HEADER = 10000


def _check_arrays_fit(path: Path, nbytes: int, shapes) -> None:
    """Refuse (one line, before anything is allocated) arrays that exceed the memory
    budget (:func:`camtwin.memory.check_budget`)."""
    from ..memory import check_budget

    check_budget(nbytes, f"reading {path} (arrays {', '.join(map(str, shapes))})",
                 "the file declares more data than this machine can hold; use a smaller "
                 "frame or raise --max-memory")


def _frame(path: Path, meta_json, dn: np.ndarray, mean_electrons: np.ndarray | None,
           extra: dict | None = None) -> RawFrame:
    kwargs = frame_from_json(meta_json)
    if kwargs is None:
        raise ConfigError(f"{path}: no camtwin metadata found (not written by camtwin?)")
    me = None if mean_electrons is None else np.asarray(mean_electrons, dtype=np.float32)
    extra = extra or {}
    he = extra.get("hdr_electrons")
    if he is not None:
        he = np.asarray(he, dtype=np.float32)
        if he.shape != np.shape(dn):
            raise ConfigError(f"{path}: hdr_electrons has shape {he.shape}, dn {np.shape(dn)}")
    n = 0
    while f"hdr_dn_{n}" in extra:
        n += 1
    block = json_extras(meta_json).get(HDR_KEY)
    hdr = hdr_from_json(block, kwargs.get("sensor"), [extra[f"hdr_dn_{k}"] for k in range(n)],
                        extra.get("hdr_pwl_dn"), he)
    return RawFrame(dn=np.asarray(dn, dtype=np.uint16), mean_electrons=me, hdr_electrons=he,
                    hdr=hdr, **kwargs)


def _hdr_arrays(raw: RawFrame) -> dict:
    """Arrays of an HDR frame by storage name (module docstring), in storage order."""
    out = {}
    if raw.hdr_electrons is not None:
        out["hdr_electrons"] = np.asarray(raw.hdr_electrons, dtype=np.float32)
    if raw.hdr is not None:
        for k, c in enumerate(raw.hdr.components):
            out[f"hdr_dn_{k}"] = np.asarray(c.dn, dtype=np.uint16)
        if raw.hdr.pwl_dn is not None:
            out["hdr_pwl_dn"] = np.asarray(raw.hdr.pwl_dn, dtype=np.uint16)
    return out


def write_tiff(path: str | os.PathLike, raw: RawFrame) -> Path:
    """Write ``raw`` as a uint16 TIFF (+ float32 ``mean_electrons`` page, + the HDR pages of
    an HDR frame named by ``"tiff_pages"`` in the JSON), atomically."""
    pages = {"dn": raw.dn}
    if raw.mean_electrons is not None:
        pages["mean_electrons"] = np.asarray(raw.mean_electrons, dtype=np.float32)
    pages.update(_hdr_arrays(raw))
    extra = {"tiff_pages": list(pages)} if len(pages) > 2 or "hdr_electrons" in pages else None
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, raw.dn, photometric="minisblack",
                         description=frame_to_json(raw, extra), metadata=None,
                         software="camtwin")
        for name, arr in list(pages.items())[1:]:
            tifffile.imwrite(tmp, arr, append=True, photometric="minisblack", metadata=None,
                             software="camtwin")
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
            declared = [(page.shape, np.dtype(page.dtype)) for page in tif.pages]
            _check_arrays_fit(path, sum(int(np.prod(s)) * d.itemsize for s, d in declared),
                              [s for s, _ in declared])
            check_complete(path)
            pages = [page.asarray() for page in tif.pages]
            description = tif.pages.first.description
    except (CamtwinError, MemoryError):
        raise
    except Exception as exc:  # a corrupt file can fail anywhere in the parser/decoder
        msg = " ".join(str(exc).split())
        if not isinstance(exc, (OSError, ValueError)) or len(msg) < 8:
            msg = f"corrupt file structure ({type(exc).__name__}: {msg})"
        raise ConfigError(f"cannot read TIFF file {path}: {msg}") from None
    names = json_extras(description).get("tiff_pages")
    if not isinstance(names, list) or len(names) != len(pages):
        return _frame(path, description, pages[0], pages[1] if len(pages) > 1 else None)
    named = dict(zip(names, pages))
    return _frame(path, description, named.get("dn", pages[0]), named.get("mean_electrons"),
                  named)


def write_npz(path: str | os.PathLike, raw: RawFrame) -> Path:
    """Write ``raw`` as a compressed NPZ (no pickled objects), atomically."""
    arrays = {"dn": raw.dn, "meta": np.array(frame_to_json(raw))}
    if raw.mean_electrons is not None:
        arrays["mean_electrons"] = np.asarray(raw.mean_electrons, dtype=np.float32)
    arrays.update(_hdr_arrays(raw))
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return Path(path)


def _check_npz(path: Path) -> None:
    """Check every ``.npy`` member of an NPZ from its header alone: the header is at most
    :data:`NPY_MAX_HEADER` bytes, the declared shape × itemsize equals the member's stored
    size (the zip directory's uncompressed size), and all arrays fit the memory budget.
    Raises :class:`ConfigError` (or ``MemoryBudgetError``) before any array is read."""
    from numpy.lib import format as npy

    total, shapes = 0, []
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as fh:
                version = npy.read_magic(fh)
                read_header = (npy.read_array_header_1_0 if version == (1, 0)
                               else npy.read_array_header_2_0)
                try:
                    shape, _, dtype = read_header(fh, max_header_size=NPY_MAX_HEADER)
                except ValueError as exc:  # numpy explains at length; keep its first sentence
                    raise ConfigError(f"{path}: {info.filename}: bad .npy header "
                                      f"({' '.join(str(exc).split()).split('. ')[0]})") from None
                data_bytes = info.file_size - fh.tell()
            if dtype.hasobject:
                raise ConfigError(f"{path}: {info.filename} holds Python objects "
                                  "(refused: camtwin raw files hold numbers only)")
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if nbytes != data_bytes:
                raise ConfigError(f"{path}: {info.filename} declares shape {shape} "
                                  f"({nbytes} bytes) but holds {data_bytes} bytes "
                                  "(corrupt or truncated)")
            total += nbytes
            shapes.append(shape)
    _check_arrays_fit(path, total, shapes)


def read_npz(path: str | os.PathLike) -> RawFrame:
    """Read an NPZ written by :func:`write_npz` (``allow_pickle=False``).

    Raises
    ------
    ConfigError
        If the file is missing, not an NPZ, or lacks ``dn`` or the camtwin metadata.
    """
    path = Path(path)
    try:
        _check_npz(path)
        with np.load(path, allow_pickle=False, max_header_size=NPY_MAX_HEADER) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except CamtwinError:
        raise
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ConfigError(f"cannot read NPZ file {path}: "
                          f"{' '.join(str(exc).split()) or type(exc).__name__}") from None
    if "dn" not in arrays:
        raise ConfigError(f"{path}: NPZ has no 'dn' array (not a camtwin raw file?)")
    meta = arrays.get("meta")
    return _frame(path, None if meta is None else str(meta), arrays["dn"],
                  arrays.get("mean_electrons"), arrays)


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
