"""The ISP pipeline: RawFrame → RenderedImage, and image file output.

Stage order (one place, :data:`STAGE_ORDER`)::

    black level → IR subtraction → white balance → highlight clip → demosaic →
    clear-to-green → CCM → exposure gain → tone

IR subtraction runs only for layouts with IR pixels (RGB-IR), clear-to-green only for
layouts with a clear channel (RCCB). Everything up to the CCM is the "front end" shared
with :func:`camtwin.isp.calibrate_ccm`, so a fitted CCM sees exactly the data it is applied
to.

Per CFA layout:

* Bayer (4 phases): Bayer bilinear demosaic.
* Quad Bayer: normalised-convolution demosaic of the 4×4 layout (no remosaic, see
  :func:`camtwin.isp.demosaic.demosaic_periodic`).
* RCCB: C is white-balanced and demosaiced in green's place; then G is estimated as
  ``(C − w_R R − w_B B)/w_G`` (:func:`~camtwin.isp.stages.clear_to_green`).
* RGB-IR: the IR pixels, interpolated, are subtracted from R, G, B scaled by the NIR
  leakage k_c of each filter (:func:`~camtwin.isp.stages.subtract_ir`); the R, G, B samples
  are then demosaiced with the IR sites treated as missing.
* mono: no white balance, no CCM; the mosaic is replicated to three channels.

The leakage k_c and the clear-channel weights come from the spectra of the frame's sensor
(``raw.sensor`` as a :class:`~camtwin.sensor.SensorSpec` or its dict from a file) and fall
back to the generic pigment model of a BSI pixel when the frame has none (noted).
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
from .stages import (apply_ccm, apply_white_balance, black_level, clear_to_green,
                     clip_highlights, gray_world_gains, srgb_encode, subtract_ir, to_uint,
                     wb_gains_from_neutral)
from ._cfa import ir_phases

#: The ISP stages in the order :func:`process` runs them ("ir_subtraction" only for RGB-IR,
#: "clear_to_green" only for RCCB; see the module docstring).
STAGE_ORDER = ("black_level", "ir_subtraction", "white_balance", "highlight_clip", "demosaic",
               "clear_to_green", "ccm", "exposure_gain", "tone")

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
            try:
                return wb_gains_from_neutral(raw.as_shot_neutral), notes
            except ConfigError as exc:
                notes.append(f"as_shot_neutral unusable ({exc}): used gray_world")
        else:
            notes.append("white_balance='illuminant' but the frame has no as_shot_neutral: "
                         "used gray_world")
    try:
        return gray_world_gains(mosaic, raw.cfa), notes
    except ConfigError as exc:
        notes.append(f"gray-world white balance impossible ({exc}): used unit gains")
        return np.ones(3), notes


def _sensor_model(raw: RawFrame):
    """(SensorSpec describing the frame's spectra, note or None).

    ``raw.sensor`` if it is a SensorSpec (or a dict that validates as one, e.g. read back
    from a file); otherwise a generic BSI sensor with the pigment filters of the frame's CFA.
    """
    from ..sensor.spec import SensorSpec

    if isinstance(raw.sensor, SensorSpec) and raw.sensor.cfa == raw.cfa:
        return raw.sensor, None
    if isinstance(raw.sensor, dict):
        try:
            sensor = SensorSpec.from_dict(raw.sensor)
            if sensor.cfa == raw.cfa:
                return sensor, None
        except ConfigError:
            pass
    generic = SensorSpec(name="generic", width_px=16, height_px=16, pixel_pitch_um=2.0,
                         full_well_e=1e4, conversion_gain_dn_per_e=1.0, read_noise_e=1.0,
                         cfa=raw.cfa)
    return generic, "generic pigment-filter model (the frame carries no sensor spec)"


def _camera_rgb(raw: RawFrame, spec: IspSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Front end: black level → [IR subtraction] → WB → highlight clip → demosaic →
    [clear-to-green].

    Returns white-balanced camera RGB (H, W, 3) float32 (1.0 = raw white × min gain),
    the gains and the notes.
    """
    from ..sensor.characterize import clear_to_green_weights, ir_leakage

    mosaic = black_level(raw)
    notes: list[str] = []
    has_ir = bool(ir_phases(raw.cfa))
    has_clear = "C" in raw.channels
    if has_ir or has_clear:
        sensor, note = _sensor_model(raw)
    if has_ir:
        k = ir_leakage(sensor)
        mosaic = subtract_ir(mosaic, raw.cfa, k)
        notes.append("RGB-IR: subtracted IR x (R, G, B) leakage "
                     f"({k[0]:.3f}, {k[1]:.3f}, {k[2]:.3f})" + (f" from the {note}" if note else ""))
    gains, wb_notes = _wb_gains(raw, mosaic, spec)
    notes += wb_notes
    mosaic = clip_highlights(apply_white_balance(mosaic, raw.cfa, gains), gains)
    rgb = demosaic(mosaic, raw.cfa, spec.demosaic)
    if has_clear:
        w = clear_to_green_weights(sensor)
        rgb = clear_to_green(rgb, w)
        notes.append(f"RCCB: G = (C - {w[0]:.3f} R - {w[2]:.3f} B) / {w[1]:.3f}"
                     + (f" from the {note}" if note else ""))
    return rgb, gains, notes


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
    * Every CFA layout is handled (module docstring): Quad Bayer by normalised-convolution
      demosaic, RCCB by a clear-to-green estimate after demosaic, RGB-IR by subtracting the
      IR pixels from R, G, B before white balance. What was done is recorded in ``notes``.

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
