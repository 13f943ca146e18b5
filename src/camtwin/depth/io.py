"""Depth outputs: depth maps (16-bit PNG in mm, float32 NPY in m, EXR when OpenCV can), point
clouds (binary PLY), metrics JSON and a false-colour depth picture.

Every writer is atomic (:func:`camtwin._io.atomic_path`: a temporary file in the target
folder, renamed over the target on success), so a crash never leaves a half-written file
under the final name, and a failed write is one :class:`~camtwin.errors.OutputError`.

Depth maps are radial distance along the pixel ray in metres, non-finite = invalid (the
convention of :mod:`camtwin.depth.metrics`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path

import numpy as np

from .._io import atomic_path, write_bytes_atomic
from ..errors import ConfigError

__all__ = [
    "PNG16_SCALE_KEY", "write_depth_png16", "read_depth_png16", "write_depth_npy",
    "exr_supported", "write_depth_exr", "write_depth", "write_point_cloud_ply",
    "write_metrics_json", "jsonable", "depth_colormap", "write_depth_colormap_png",
]

#: PNG tEXt key holding the depth step of one count in metres (``"0.001"`` = millimetres).
PNG16_SCALE_KEY = "camtwin:depth_m_per_count"


def _depth_map(depth_m, name: str = "depth_m") -> np.ndarray:
    d = np.asarray(depth_m, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ConfigError(f"{name}: shape {d.shape}; a depth map (H, W) in metres is required")
    return d


# --------------------------------------------------------------------------- 16-bit PNG

def write_depth_png16(path, depth_m, *, mm_per_count: float = 1.0) -> Path:
    """Write a depth map as a 16-bit greyscale PNG, one count = ``mm_per_count`` mm.

    Encoding: count = round(1000·d / mm_per_count), 0 = invalid (non-finite depth; a valid
    depth that rounds to 0 is stored as 1 so it never reads as invalid). The scale is
    stated in the PNG's text chunks: ``camtwin:depth_m_per_count`` (e.g. "0.001"),
    ``camtwin:depth_unit`` = "radial distance along the pixel ray" and
    ``camtwin:invalid`` = "0". The usual convention of depth cameras (Kinect, RealSense:
    uint16 millimetres, 0 = no data); the largest depth at 1 mm/count is 65.535 m.

    Raises
    ------
    ConfigError
        Negative depth, or a depth beyond 65535 counts (names the largest value and the
        ``mm_per_count`` that would fit it).
    """
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    d = _depth_map(depth_m)
    if not (np.isfinite(mm_per_count) and mm_per_count > 0):
        raise ConfigError(f"mm_per_count = {mm_per_count!r}; valid range: > 0 mm")
    ok = np.isfinite(d)
    if ok.any():
        lo, hi = float(d[ok].min()), float(d[ok].max())
        if lo < 0:
            raise ConfigError(f"depth_m: min {lo:g} m; depths must be >= 0 m (NaN = invalid)")
        if hi * 1000.0 / mm_per_count > 65535.4:
            raise ConfigError(f"depth_m: max {hi:g} m does not fit a 16-bit PNG at "
                              f"mm_per_count = {mm_per_count:g} (max {65.535 * mm_per_count:g} "
                              f"m); use mm_per_count >= {math.ceil(hi / 65.535 * 100) / 100:g}")
    counts = np.zeros(d.shape, dtype=np.uint16)
    counts[ok] = np.maximum(np.rint(d[ok] * 1000.0 / mm_per_count), 1).astype(np.uint16)
    info = PngInfo()
    info.add_text(PNG16_SCALE_KEY, repr(mm_per_count / 1000.0))
    info.add_text("camtwin:depth_unit", "radial distance along the pixel ray")
    info.add_text("camtwin:invalid", "0")
    with atomic_path(path) as tmp:
        Image.fromarray(counts).save(tmp, format="PNG", pnginfo=info)
    return Path(path)


def read_depth_png16(path, *, m_per_count: float | None = None) -> np.ndarray:
    """Read a 16-bit depth PNG → float64 metres, 0 counts → NaN.

    The scale is taken from the ``camtwin:depth_m_per_count`` text chunk, else
    ``m_per_count``, else 0.001 (millimetres, the Kinect/RealSense convention).
    """
    from PIL import Image

    with Image.open(path) as im:
        scale = im.info.get(PNG16_SCALE_KEY)
        counts = np.asarray(im)
    if counts.ndim != 2 or counts.dtype.kind not in "ui" or counts.dtype.itemsize < 2:
        raise ConfigError(f"{os.fspath(path)}: a 16-bit greyscale depth PNG is required "
                          f"(got dtype {counts.dtype}, shape {counts.shape})")
    s = float(scale) if scale is not None else (m_per_count if m_per_count else 0.001)
    d = counts.astype(np.float64) * s
    d[counts == 0] = np.nan
    return d


# --------------------------------------------------------------------------- NPY / EXR

def write_depth_npy(path, depth_m) -> Path:
    """Write the depth map as NumPy ``.npy``, float32 metres, NaN = invalid."""
    d = _depth_map(depth_m).astype(np.float32)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, d, allow_pickle=False)
    return Path(path)


def exr_supported() -> tuple[bool, str]:
    """(whether OpenCV here can write OpenEXR, a one-line reason).

    OpenCV writes EXR only if it was built with OpenEXR *and* the environment variable
    ``OPENCV_IO_ENABLE_OPENEXR=1`` was set before ``cv2`` was imported (OpenCV ≥ 4.5.2
    disables the codec by default for security reasons).
    """
    try:
        import cv2
    except ImportError:
        return False, "OpenCV (cv2) is not installed"
    built = [ln for ln in cv2.getBuildInformation().splitlines() if "OpenEXR" in ln]
    if not built or built[0].split(":", 1)[-1].strip().upper().startswith("NO"):
        return False, "this OpenCV build has no OpenEXR codec (getBuildInformation: OpenEXR NO)"
    if os.environ.get("OPENCV_IO_ENABLE_OPENEXR", "").lower() not in ("1", "true", "on"):
        return False, "OpenCV's EXR codec is disabled; set OPENCV_IO_ENABLE_OPENEXR=1 first"
    return True, "OpenCV with OpenEXR"


def write_depth_exr(path, depth_m) -> Path:
    """Write the depth map as a single-channel float32 OpenEXR, metres, NaN = invalid.

    Raises
    ------
    ConfigError
        When OpenCV cannot write EXR here (:func:`exr_supported` gives the reason); the
        message suggests ``.npy`` (same float32 metres) instead.
    """
    ok, why = exr_supported()
    if not ok:
        raise ConfigError(f"cannot write {os.fspath(path)} as EXR: {why}; write the depth map "
                          "as .npy (float32 m) or .png (16-bit mm) instead")
    import cv2

    d = _depth_map(depth_m).astype(np.float32)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), d):
            raise OSError(f"OpenCV could not encode {os.fspath(path)} as EXR")
    return Path(path)


_DEPTH_WRITERS = {".png": write_depth_png16, ".npy": write_depth_npy, ".exr": write_depth_exr}


def write_depth(path, depth_m) -> Path:
    """Write a depth map in the format named by the suffix: .png (16-bit mm), .npy (float32
    m) or .exr (float32 m, when OpenCV supports it)."""
    suffix = Path(path).suffix.lower()
    if suffix not in _DEPTH_WRITERS:
        raise ConfigError(f"depth map file {os.fspath(path)!r}: suffix {suffix or '(none)'!r}; "
                          f"valid suffixes: {', '.join(_DEPTH_WRITERS)}")
    return _DEPTH_WRITERS[suffix](path, depth_m)


# --------------------------------------------------------------------------- PLY

def write_point_cloud_ply(path, points, *, intensity=None, confidence=None, rgb=None,
                          comment: str = "camtwin depth point cloud, metres") -> Path:
    """Write points as a binary little-endian PLY (``format binary_little_endian 1.0``).

    One ``vertex`` element with properties ``float x, y, z`` (metres, camera frame:
    +x right, +y down, +z forward), then optionally ``float intensity``, ``float
    confidence`` and ``uchar red, green, blue``, in that order, packed without padding
    (PLY spec, Turk 1994 / Bourke, "PLY — Polygon File Format").

    Parameters
    ----------
    points : (N, 3), m (float32 on disk)
    intensity, confidence : (N,) or None
    rgb : (N, 3) uint8, or floats in [0, 1] (scaled by 255), or None
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ConfigError(f"points: shape {p.shape}; an (N, 3) array of X, Y, Z in m is required")
    n = p.shape[0]
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    extra = {}
    for name, arr in (("intensity", intensity), ("confidence", confidence)):
        if arr is not None:
            a = np.asarray(arr, dtype=np.float64).ravel()
            if a.shape != (n,):
                raise ConfigError(f"{name}: {a.size} values for {n} points; one per point")
            fields.append((name, "<f4"))
            extra[name] = a
    if rgb is not None:
        c = np.asarray(rgb)
        if c.shape != (n, 3):
            raise ConfigError(f"rgb: shape {c.shape}; (N, 3) = ({n}, 3) is required")
        if c.dtype != np.uint8:
            c = np.asarray(c, dtype=np.float64)
            if np.any(~np.isfinite(c)) or c.min(initial=0) < 0 or c.max(initial=0) > 1:
                raise ConfigError("rgb: float colours must be in [0, 1] (or pass uint8 0..255)")
            c = np.rint(c * 255).astype(np.uint8)
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
        extra.update(red=c[:, 0], green=c[:, 1], blue=c[:, 2])
    rec = np.empty(n, dtype=np.dtype(fields))
    rec["x"], rec["y"], rec["z"] = p[:, 0], p[:, 1], p[:, 2]
    for k, v in extra.items():
        rec[k] = v
    ply_type = {"<f4": "float", "u1": "uchar"}
    header = ["ply", "format binary_little_endian 1.0"]
    header += [f"comment {line}" for line in comment.splitlines() if line.strip()]
    header.append(f"element vertex {n}")
    header += [f"property {ply_type[t]} {name}" for name, t in fields]
    header.append("end_header")
    data = ("\n".join(header) + "\n").encode("ascii") + rec.tobytes()
    return write_bytes_atomic(path, data)


# --------------------------------------------------------------------------- JSON

def jsonable(obj):
    """``obj`` with NumPy scalars/arrays → Python, dataclasses → dicts, tuples → lists and
    every non-finite float (NaN, ±inf) → ``None`` (JSON null; strict JSON has no NaN)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, (str, type(None))):
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise ConfigError(f"metrics: value of type {type(obj).__name__} cannot be written to JSON; "
                      "use numbers, strings, lists, dicts or dataclasses")


def write_metrics_json(path, metrics) -> Path:
    """Write metrics (dict / dataclass, NumPy values allowed) as strict, indented JSON;
    NaN and ±inf become ``null``."""
    text = json.dumps(jsonable(metrics), indent=2, allow_nan=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


# --------------------------------------------------------------------------- false colour

def depth_colormap(depth_m, *, vmin_m: float | None = None, vmax_m: float | None = None,
                   cmap: str = "turbo") -> np.ndarray:
    """False-colour picture of a depth map: (H, W, 3) uint8 RGB, invalid = black.

    Depth is mapped linearly from ``vmin_m`` (default: the smallest valid depth) to
    ``vmax_m`` (default: the largest) onto a matplotlib colormap ("turbo" — Mikhailov,
    Google AI Blog 2019 — or "viridis", any registered name), clipped at both ends.
    """
    import matplotlib

    d = _depth_map(depth_m)
    try:
        cm = matplotlib.colormaps[cmap]
    except KeyError:
        raise ConfigError(f"cmap = {cmap!r} is not a matplotlib colormap; e.g. turbo, "
                          "viridis, magma") from None
    ok = np.isfinite(d)
    lo = float(d[ok].min()) if vmin_m is None and ok.any() else (vmin_m or 0.0)
    hi = float(d[ok].max()) if vmax_m is None and ok.any() else (vmax_m or 1.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ConfigError(f"vmin_m, vmax_m = {lo!r}, {hi!r}; both must be finite")
    span = hi - lo if hi > lo else 1.0
    x = np.clip(np.where(ok, (d - lo) / span, 0.0), 0.0, 1.0)
    rgb = np.rint(cm(x)[..., :3] * 255).astype(np.uint8)
    rgb[~ok] = 0
    return rgb


def write_depth_colormap_png(path, depth_m, *, vmin_m: float | None = None,
                             vmax_m: float | None = None, cmap: str = "turbo") -> Path:
    """Write :func:`depth_colormap` as an 8-bit RGB PNG (the range is noted in its text
    chunks ``camtwin:vmin_m`` / ``camtwin:vmax_m``)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    rgb = depth_colormap(depth_m, vmin_m=vmin_m, vmax_m=vmax_m, cmap=cmap)
    d = np.asarray(depth_m, dtype=np.float64)
    ok = np.isfinite(d)
    info = PngInfo()
    info.add_text("camtwin:cmap", cmap)
    lo = vmin_m if vmin_m is not None else (float(d[ok].min()) if ok.any() else 0.0)
    hi = vmax_m if vmax_m is not None else (float(d[ok].max()) if ok.any() else 1.0)
    info.add_text("camtwin:vmin_m", repr(float(lo)))
    info.add_text("camtwin:vmax_m", repr(float(hi)))
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG", pnginfo=info)
    return Path(path)
