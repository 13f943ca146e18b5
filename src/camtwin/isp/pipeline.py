"""The ISP pipeline: RawFrame → RenderedImage, and image file output.

Stage order (one place)::

    black level → white balance → highlight clip → demosaic → CCM → exposure gain → tone

Everything up to the demosaic is the "front end" shared with
:func:`camtwin.isp.calibrate_ccm`, so a fitted CCM sees exactly the data it is applied to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tifffile

from .._io import atomic_path, write_bytes_atomic
from ..errors import ConfigError, unknown_name
from ..raw import RawFrame
from .demosaic import demosaic
from .spec import IspSpec
from .stages import (apply_ccm, apply_white_balance, black_level, clip_highlights,
                     gray_world_gains, srgb_encode, to_uint, wb_gains_from_neutral)

#: Relative luminance weights of linear sRGB / Rec. 709 primaries (IEC 61966-2-1, Y row of
#: the RGB → XYZ matrix), used by auto brightness.
SRGB_LUMINANCE = (0.2126, 0.7152, 0.0722)

#: File extensions :func:`write_image` understands.
IMAGE_EXTENSIONS = (".png", ".tif", ".tiff")


@dataclass(frozen=True, eq=False)
class RenderedImage:
    """Output of :func:`process`.

    Attributes
    ----------
    linear : ndarray of float32, shape (H, W, 3)
        Linear sRGB after CCM and exposure gain, 1.0 = diffuse white (the auto-brightness
        reference). Not clipped: highlights may exceed 1, noise may go below 0.
    srgb : ndarray of float32, shape (H, W, 3)
        Display values in [0, 1], encoded per ``spec.tone`` (sRGB curve or linear).
    wb_gains : ndarray of float64, shape (3,)
        White-balance gains applied to (R, G, B) sites (G = 1).
    ccm : ndarray of float64, shape (3, 3)
        Colour-correction matrix applied (camera RGB → linear sRGB).
    exposure_gain : float
        Digital gain applied after the CCM (fixed or from auto brightness).
    notes : tuple of str
        Decisions worth knowing (fallbacks, skipped stages).
    spec : IspSpec or None
        The settings used.
    """

    linear: np.ndarray
    srgb: np.ndarray
    wb_gains: np.ndarray
    ccm: np.ndarray
    exposure_gain: float
    notes: tuple[str, ...] = ()
    spec: IspSpec | None = None

    def __post_init__(self):
        for name in ("linear", "srgb", "wb_gains", "ccm"):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                arr.setflags(write=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.linear.shape[:2]


def _wb_gains(raw: RawFrame, mosaic: np.ndarray, spec: IspSpec) -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    if raw.cfa == "mono":
        return np.ones(3), notes
    mode = spec.white_balance
    if mode == "none":
        return np.ones(3), notes
    if mode == "illuminant":
        if raw.as_shot_neutral is not None:
            return wb_gains_from_neutral(raw.as_shot_neutral), notes
        notes.append("white_balance='illuminant' but the frame has no as_shot_neutral: "
                     "used gray_world")
    try:
        return gray_world_gains(mosaic, raw.cfa), notes
    except ConfigError as exc:
        notes.append(f"gray-world white balance impossible ({exc}): used unit gains")
        return np.ones(3), notes


def _camera_rgb(raw: RawFrame, spec: IspSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Front end: black level → WB → highlight clip → demosaic.

    Returns white-balanced camera RGB (H, W, 3) float32 (1.0 = raw white × min gain),
    the gains and the notes.
    """
    mosaic = black_level(raw)
    gains, notes = _wb_gains(raw, mosaic, spec)
    mosaic = clip_highlights(apply_white_balance(mosaic, raw.cfa, gains), gains)
    return demosaic(mosaic, raw.cfa, spec.demosaic), gains, notes


def _resolve_ccm(raw: RawFrame, spec: IspSpec, ccm, notes: list[str]) -> np.ndarray:
    if raw.cfa == "mono":
        if ccm is not None or spec.ccm != "identity":
            notes.append("monochrome sensor: colour correction skipped")
        return np.eye(3)
    if ccm is not None:
        if spec.ccm != "fitted":
            raise ConfigError(f"a ccm was passed to process() but spec.ccm = {spec.ccm!r}; "
                              "set ccm='fitted' in the IspSpec to use a passed matrix")
        m = np.asarray(ccm, dtype=np.float64)
        if m.shape != (3, 3) or not np.all(np.isfinite(m)):
            raise ConfigError(f"ccm must be a finite 3×3 matrix, got shape {m.shape}")
        return m.copy()
    if spec.ccm == "identity":
        return np.eye(3)
    if spec.ccm == "fitted":
        raise ConfigError("spec.ccm = 'fitted' but no matrix was passed: get one with "
                          "camtwin.isp.calibrate_ccm(raw_of_chart, boxes, target_linear_rgb, "
                          "spec) and call process(raw, spec, ccm=M), or set ccm='identity'")
    return np.array(spec.ccm, dtype=np.float64)


def _auto_gain(linear: np.ndarray, spec: IspSpec, notes: list[str]) -> float:
    y = linear @ np.asarray(SRGB_LUMINANCE, dtype=np.float32)
    level = float(np.percentile(y, spec.auto_bright_percentile))
    if not (np.isfinite(level) and level > 0):
        notes.append(f"auto brightness: {spec.auto_bright_percentile}th luminance percentile "
                     f"is {level:.3g} (black frame?): used gain 1")
        return 1.0
    return spec.auto_bright_white / level


def process(raw: RawFrame, spec: IspSpec = IspSpec(), *, ccm=None) -> RenderedImage:
    """Render a raw frame: black level → WB → demosaic → CCM → exposure gain → tone.

    Parameters
    ----------
    raw : RawFrame
        Raw capture.
    spec : IspSpec
        Pipeline settings.
    ccm : array_like, shape (3, 3), optional
        Fitted camera RGB → linear sRGB matrix; required when ``spec.ccm == "fitted"``
        (the default), not allowed otherwise.

    Returns
    -------
    RenderedImage

    Raises
    ------
    ConfigError
        If ``spec.ccm == "fitted"`` and no matrix is given (the message says how to fit
        one), or a matrix is given with another ``spec.ccm``.

    Notes
    -----
    * White balance: see :class:`IspSpec`; after it, every channel is clipped at the level
      all channels can reach (:func:`~camtwin.isp.stages.clip_highlights`), so clipped
      highlights render neutral.
    * Auto brightness (``spec.exposure_gain is None``), as dcraw: the gain maps the
      ``auto_bright_percentile`` of the linear-sRGB luminance to ``auto_bright_white``.
    * Monochrome frames: no white balance and no CCM (noted).

    References
    ----------
    D. Coffin, *dcraw.c*: ``scale_colors()`` (white balance, highlight clip) and
    ``write_ppm_tiff()`` (auto brightness, 1 % of pixels at white by default).
    """
    rgb, gains, notes = _camera_rgb(raw, spec)
    m = _resolve_ccm(raw, spec, ccm, notes)
    linear = apply_ccm(rgb, m)
    del rgb
    gain = spec.exposure_gain if spec.exposure_gain is not None else _auto_gain(linear, spec, notes)
    linear *= np.float32(gain)
    if spec.tone == "srgb":
        shown = srgb_encode(linear)
    else:
        shown = np.clip(linear, np.float32(0), np.float32(1))
    return RenderedImage(linear=linear, srgb=shown, wb_gains=np.asarray(gains, np.float64),
                         ccm=m, exposure_gain=float(gain), notes=tuple(notes), spec=spec)


def write_image(path: str | os.PathLike, rendered: RenderedImage, *,
                bits: int | None = None) -> Path:
    """Write ``rendered.srgb`` as an RGB PNG or TIFF, atomically.

    Parameters
    ----------
    path : path-like
        Target file; the extension picks the format (``.png``, ``.tif``, ``.tiff``).
    rendered : RenderedImage
        Image to write (its display values ``srgb`` in [0, 1]).
    bits : {8, 16}, optional
        Bit depth; default ``rendered.spec.output_bits``, or 8 without a spec.

    Returns
    -------
    Path
        ``path``. On any failure no file (and no temporary file) is left under that name;
        an existing file is kept unchanged.

    Raises
    ------
    ConfigError
        Unknown extension (the message lists the valid ones) or bad ``bits``.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise unknown_name("image file extension", suffix or "(none)", IMAGE_EXTENSIONS)
    if bits is None:
        bits = rendered.spec.output_bits if rendered.spec is not None else 8
    img = to_uint(rendered.srgb, bits)
    if suffix == ".png":
        ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[:, :, ::-1]))  # RGB → BGR
        if not ok:
            raise OSError(f"OpenCV could not encode {target} as PNG")
        return write_bytes_atomic(target, buf.tobytes())
    with atomic_path(target) as tmp:
        tifffile.imwrite(tmp, img, photometric="rgb")
    return target
