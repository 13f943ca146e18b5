"""The ISP engine: RawFrame → display image, driven by a :class:`PipelineSpec`.

:func:`run_pipeline` runs the stages of a validated :class:`~camtwin.isp.config.PipelineSpec`
in the order of :data:`~camtwin.isp.config.STAGE_ORDER`::

    black_level → defect_pixel → lens_shading → [IR subtraction] → white_balance →
    demosaic → [clear-to-green] → denoise → ccm → exposure → tone → sharpen → output

Each stage is a pure function of :mod:`camtwin.isp` (the engine only wires them and keeps,
on request, every intermediate array). :func:`process` is the module-level entry point:
it turns an :class:`IspSpec` into the equivalent pipeline (:meth:`IspSpec.to_pipeline`)
and returns a :class:`RenderedImage`. Everything before the CCM is the "front end" shared
with :func:`camtwin.isp.calibrate_ccm`, so a fitted CCM sees exactly the data it is
applied to.

Per CFA layout:

* Bayer (4 phases): the demosaic method of the pipeline.
* Quad Bayer: normalised-convolution demosaic of the 4×4 layout (no remosaic, see
  :func:`camtwin.isp.demosaic.demosaic_periodic`) whatever the method.
* RCCB: C is white-balanced and demosaiced in green's place; then G is estimated as
  ``(C − w_R R − w_B B)/w_G`` (:func:`~camtwin.isp.stages.clear_to_green`).
* RGB-IR: the IR pixels, interpolated, are subtracted from R, G, B scaled by the NIR
  leakage k_c of each filter (:func:`~camtwin.isp.stages.subtract_ir`); the R, G, B samples
  are then demosaiced with the IR sites treated as missing.
* mono: no white balance, no CCM; the mosaic is replicated to three channels.

The leakage k_c and the clear-channel weights come from the spectra of the frame's sensor
(``raw.sensor`` as a :class:`~camtwin.sensor.SensorSpec` or its dict from a file) and fall
back to the generic pigment model of a BSI pixel when the frame has none (noted).

Hot paths are numba kernels or OpenCV calls on float32 (:mod:`camtwin.isp._kernels`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import tifffile

from .._io import atomic_path, write_bytes_atomic
from ..errors import ConfigError, unknown_name
from ..raw import RawFrame
from ._cfa import cfa_period, cfa_phases, ir_phases
from .ccm import ccm_from_color_matrix
from .config import PipelineSpec
from .defects import correct_defects
from .demosaic import _bayer_like, demosaic
from .denoise import denoise
from .shading import apply_shading_gain, gain_from_flat_field, gain_from_lens, load_gain_map
from .spec import IspSpec
from .stages import (clear_to_green, gray_world_gains, subtract_ir, to_uint,
                     wb_gains_from_neutral, white_patch_gains)
from .tone import SRGB_LUMINANCE, tone_map, unsharp_mask

#: File extensions :func:`write_image` understands.
IMAGE_EXTENSIONS = (".png", ".tif", ".tiff")

#: PNGs above this many pixels are written row block by row block (:func:`write_png_streamed`);
#: smaller ones by OpenCV.
STREAM_PNG_PX = 16_000_000

#: Images larger than this many pixels have their auto-brightness percentile taken on a
#: regular subsample (every k-th pixel in each direction, ≥ this many samples).
PERCENTILE_SAMPLES = 1_000_000

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

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from ..report.notebook import repr_png
        return repr_png(self)


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


@dataclass(frozen=True, eq=False)
class PipelineResult:
    """Output of :func:`run_pipeline`.

    Attributes
    ----------
    display : ndarray of float32, shape (H, W, 3), or None
        Display values in [0, 1] after tone and sharpening. None on the fused fast path
        (see :func:`run_pipeline`).
    linear : ndarray of float32, shape (H, W, 3), or None
        Linear sRGB after CCM and exposure (1.0 = diffuse white), not clipped. None on the
        fused fast path.
    image : ndarray of uint8 or uint16, shape (H, W, 3), or None
        ``display`` quantised to ``bits`` when the pipeline has an ``output`` stage.
    bits : int
        Bit depth of ``image`` (8 without an output stage).
    wb_gains : ndarray of float64, shape (3,)
        White-balance gains applied to (R, G, B) sites (G = 1).
    ccm : ndarray of float64, shape (3, 3)
        Colour matrix applied.
    exposure_gain : float
        Digital gain applied after the CCM.
    notes : tuple of str
        Decisions worth knowing (fallbacks, automatic stages, skipped stages).
    intermediates : dict
        Stage name → the array that stage returned (mosaic (H, W) or RGB (H, W, 3)),
        only when the run was asked to keep them.
    pipeline : PipelineSpec
    """

    display: np.ndarray | None
    linear: np.ndarray | None
    image: np.ndarray | None
    bits: int
    wb_gains: np.ndarray
    ccm: np.ndarray
    exposure_gain: float
    notes: tuple[str, ...] = ()
    intermediates: dict = field(default_factory=dict)
    pipeline: PipelineSpec | None = None

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)


def _normalise(raw: RawFrame) -> np.ndarray:
    """Black level: ``(dn − black)/(white − black)`` as float32 (numba, one pass)."""
    from ._kernels import normalise_kernel

    out = np.empty(raw.shape, dtype=np.float32)
    normalise_kernel(raw.dn, np.float32(raw.black_level_dn),
                     np.float32(1.0 / (raw.white_level_dn - raw.black_level_dn)), out)
    return out


def _apply_gains(mosaic: np.ndarray, cfa: str, gains: np.ndarray, clip: bool, *,
                 in_place: bool = False) -> np.ndarray:
    """White balance and highlight clip in one pass: ``min(m·g_c, min(g))`` (IR sites ×1);
    ``in_place`` overwrites ``mosaic`` (a C-contiguous float32 array the caller owns)."""
    from ._kernels import phase_gain_kernel

    ph, pw = cfa_period(cfa)
    table = np.ones((ph, pw), dtype=np.float32)
    if cfa != "mono":
        for r, c, ch in cfa_phases(cfa):
            table[r, c] = gains[ch]
    level = np.float32(gains.min()) if clip else np.float32(np.inf)
    mosaic = np.ascontiguousarray(mosaic)
    out = mosaic if in_place else np.empty_like(mosaic)
    phase_gain_kernel(mosaic, table, level, out)
    return out


def _wb_gains(raw: RawFrame, mosaic: np.ndarray, stage) -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    if raw.cfa == "mono" or stage is None:
        return np.ones(3), notes
    method = stage.method
    if method == "none":
        return np.ones(3), notes
    if method == "manual":
        g = np.asarray(stage.gains, dtype=np.float64)
        return g / g[1], notes
    if method == "white_patch":
        try:
            return white_patch_gains(mosaic, raw.cfa, percentile=stage.percentile), notes
        except ConfigError as exc:
            notes.append(f"white-patch white balance impossible ({exc}): used gray_world")
    if method == "illuminant":
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


@lru_cache(maxsize=8)
def _flat_field_gain(path: str, mtime: float, shape, cfa: str, degree: int,
                     max_gain: float) -> np.ndarray:
    from ..raw import load_raw

    flat = load_raw(path)
    if flat.shape != tuple(shape) or flat.cfa != cfa:
        raise ConfigError(f"flat field {path}: {flat.shape[1]}x{flat.shape[0]} {flat.cfa}, but "
                          f"the frame is {shape[1]}x{shape[0]} {cfa}")
    g = gain_from_flat_field(_normalise(flat), cfa, degree=degree, max_gain=max_gain)
    g.setflags(write=False)
    return g


@lru_cache(maxsize=8)
def _lens_gain(shape, pitch_um: float, lens, sensor, max_gain: float) -> np.ndarray:
    g = gain_from_lens(shape, pitch_um, lens, sensor, max_gain=max_gain)
    g.setflags(write=False)
    return g


def _shading_gain(raw: RawFrame, stage, lens, sensor, shading_gain, notes) -> np.ndarray:
    if shading_gain is not None:
        return np.asarray(shading_gain, dtype=np.float32)
    if stage.source == "gain_map":
        return load_gain_map(stage.path, raw.shape, raw.cfa)
    if stage.source == "flat_field":
        p = Path(stage.path)
        if not p.is_file():
            raise ConfigError(f"lens_shading: flat field {p} does not exist")
        return _flat_field_gain(str(p), p.stat().st_mtime, raw.shape, raw.cfa,
                                stage.degree, stage.max_gain)
    if lens is None:
        raise ConfigError("lens_shading source 'lens' needs the module's lens: pass lens= "
                          "(camtwin.camera.render does), or use source flat_field/gain_map")
    pitch = raw.pixel_pitch_um
    if not (math.isfinite(pitch) and pitch > 0):
        pitch = getattr(sensor, "pixel_pitch_um", float("nan"))
    return _lens_gain(tuple(raw.shape), float(pitch), lens, sensor, stage.max_gain)


def _front_end(raw: RawFrame, pipe: PipelineSpec, *, lens=None, sensor=None,
               shading_gain=None, keep: dict | None = None, wb_gains=None,
               until: str | None = None):
    """black_level … denoise: white-balanced camera RGB (H, W, 3) float32, gains, notes.

    Overrides for strip rendering (:mod:`camtwin.isp.strips`): ``wb_gains`` — fixed (R, G,
    B) gains instead of the frame's own estimate; ``until`` — ``"white_balance"`` returns
    the mosaic the gains are estimated from (before white balance), ``"denoise"`` the RGB
    before denoising.
    """
    from ..sensor.characterize import clear_to_green_weights, ir_leakage

    notes: list[str] = []

    def kept(name, arr):
        if keep is not None:
            keep[name] = arr
        return arr

    mosaic = kept("black_level", _normalise(raw))
    st = pipe.stage("defect_pixel")
    if st is not None:
        mosaic = kept("defect_pixel", correct_defects(mosaic, raw.cfa, threshold=st.threshold))
    st = pipe.stage("lens_shading")
    if st is not None:
        gain = _shading_gain(raw, st, lens, sensor, shading_gain, notes)
        mosaic = kept("lens_shading", apply_shading_gain(mosaic, gain))
    has_ir = bool(ir_phases(raw.cfa))
    has_clear = "C" in raw.channels
    if has_ir or has_clear:
        model, note = _sensor_model(raw)
    if has_ir:
        k = ir_leakage(model)
        mosaic = kept("ir_subtraction", subtract_ir(mosaic, raw.cfa, k))
        notes.append("RGB-IR: subtracted IR x (R, G, B) leakage "
                     f"({k[0]:.3f}, {k[1]:.3f}, {k[2]:.3f})" + (f" from the {note}" if note else ""))
    if until == "white_balance":
        return mosaic, None, notes
    st = pipe.stage("white_balance")
    if wb_gains is None:
        gains, wb_notes = _wb_gains(raw, mosaic, st)
        notes += wb_notes
    else:
        gains = np.asarray(wb_gains, dtype=np.float64)
    if st is not None:
        # in place unless the previous stage's output is kept (it is a fresh array of ours)
        mosaic = kept("white_balance", _apply_gains(mosaic, raw.cfa, gains, st.clip_highlights,
                                                    in_place=keep is None))
    method = pipe.stage("demosaic").method
    rgb = demosaic(mosaic, raw.cfa, method)
    if raw.cfa != "mono" and not _bayer_like(raw.cfa) and method != "bilinear":
        notes.append(f"demosaic {method!r} is for Bayer mosaics: {raw.cfa} used the "
                     "normalised-convolution demosaic")
    if has_clear:
        w = clear_to_green_weights(model)
        rgb = clear_to_green(rgb, w)
        notes.append(f"RCCB: G = (C - {w[0]:.3f} R - {w[2]:.3f} B) / {w[1]:.3f}"
                     + (f" from the {note}" if note else ""))
    kept("demosaic", rgb)
    st = pipe.stage("denoise")
    if st is not None and until != "denoise":
        kwargs = {} if st.radius_px is None else {"radius_px": st.radius_px}
        rgb = kept("denoise", denoise(rgb, st.method, sigma=st.sigma, strength=st.strength,
                                      **kwargs))
    return rgb, gains, notes


def _resolve_ccm(raw: RawFrame, stage, ccm, notes: list[str]) -> np.ndarray:
    matrix = "identity" if stage is None else stage.matrix
    if raw.cfa == "mono":
        if ccm is not None or matrix != "identity":
            notes.append("monochrome sensor: colour correction skipped")
        return np.eye(3)
    if ccm is not None:
        if matrix != "fitted":
            raise ConfigError(f"a ccm was passed to process() but the pipeline's ccm = "
                              f"{matrix!r}; set ccm='fitted' to use a passed matrix")
        m = np.asarray(ccm, dtype=np.float64)
        if m.shape != (3, 3) or not np.all(np.isfinite(m)):
            raise ConfigError(f"ccm must be a finite 3×3 matrix, got shape {m.shape}")
        return m.copy()
    if matrix == "identity":
        return np.eye(3)
    if matrix == "fitted":
        raise ConfigError("spec.ccm = 'fitted' but no matrix was passed: get one with "
                          "camtwin.isp.calibrate_ccm(raw_of_chart, boxes, target_linear_rgb, "
                          "spec) and call process(raw, spec, ccm=M), or set ccm='identity'")
    if matrix == "camera":
        if raw.xyz_to_camera is None:
            notes.append("ccm 'camera': the frame has no colour matrix: used identity")
            return np.eye(3)
        return ccm_from_color_matrix(raw.xyz_to_camera)
    return np.array(matrix, dtype=np.float64)


def _auto_gain(linear: np.ndarray, stage, notes: list[str], matrix=None, *,
               step: int | None = None) -> float:
    """Auto-brightness gain; ``linear`` may be camera RGB with the CCM ``matrix`` still to
    apply (the luminance is then taken of ``matrix @ rgb``). ``step`` overrides the
    subsampling step (1: ``linear`` is the subsample already, :mod:`camtwin.isp.strips`)."""
    h, w = linear.shape[:2]
    if step is None:
        step = max(1, int(math.sqrt(h * w / PERCENTILE_SAMPLES)))
    sample = linear[::step, ::step].reshape(-1, 3)
    weights = np.asarray(SRGB_LUMINANCE, dtype=np.float64)
    if matrix is not None:
        weights = weights @ np.asarray(matrix, dtype=np.float64)
    y = sample @ weights.astype(np.float32)
    level = float(np.percentile(y, stage.percentile))
    if not (np.isfinite(level) and level > 0):
        notes.append(f"auto brightness: {stage.percentile}th luminance percentile "
                     f"is {level:.3g} (black frame?): used gain 1")
        return 1.0
    return stage.white / level


def _quantise(display: np.ndarray, bits: int) -> np.ndarray:
    from ._kernels import quantise_kernel

    if bits not in (8, 16):
        raise ConfigError(f"bits = {bits!r}: must be 8 or 16")
    x = np.ascontiguousarray(display, dtype=np.float32)
    out = np.empty(x.shape, dtype=np.uint8 if bits == 8 else np.uint16)
    quantise_kernel(x.reshape(-1), np.float32(2**bits - 1), out.reshape(-1))
    return out


def run_pipeline(raw: RawFrame, pipeline: PipelineSpec, *, ccm=None, lens=None, sensor=None,
                 shading_gain=None, keep: bool = False, quantise: bool = True) -> PipelineResult:
    """Run an ISP pipeline on a raw frame.

    Parameters
    ----------
    raw : RawFrame
        Raw capture (simulated, or read from a DNG/camera raw file).
    pipeline : PipelineSpec
        Validated stage list (:func:`camtwin.isp.config.load_pipeline`).
    ccm : array_like (3, 3), optional
        Fitted matrix, required when the ``ccm`` stage says ``matrix: fitted``.
    lens, sensor : LensSpec, SensorSpec, optional
        The module's lens and sensor, for ``lens_shading: {source: lens}``.
    shading_gain : array_like (H, W), optional
        A precomputed lens-shading gain map (overrides the stage's source).
    keep : bool
        Keep every stage's output in ``PipelineResult.intermediates``.
    quantise : bool
        Run the ``output`` stage (False: ``image`` is None; :func:`process` needs only the
        float display values).

    Returns
    -------
    PipelineResult

    Raises
    ------
    ConfigError
        Missing inputs a stage needs (fitted CCM, lens, flat field), unreadable files.

    Notes
    -----
    Absent stages are skipped: no white balance = unit gains, no CCM = identity, no
    exposure = gain 1, no tone = clip to [0, 1] (linear), no output = no quantised image.

    Fast path: with an 8-bit ``output``, an sRGB or linear ``tone``, no ``sharpen`` and
    ``keep=False``, CCM → exposure → tone → quantisation run as one fused numba pass
    (:func:`_run_fused`); ``display`` and ``linear`` are then None.
    Auto exposure (dcraw's auto brightness) maps the ``percentile`` of the linear-sRGB
    luminance to ``white``; above 1 MP it is taken on a regular subsample of ≥ 1 M pixels
    (every k-th row and column).

    References
    ----------
    D. Coffin, *dcraw.c*: ``scale_colors()`` (white balance, highlight clip) and
    ``write_ppm_tiff()`` (auto brightness).
    """
    from ._kernels import ccm_kernel

    if not isinstance(pipeline, PipelineSpec):
        raise ConfigError(f"pipeline must be a PipelineSpec, got {type(pipeline).__name__}")
    inter: dict | None = {} if keep else None
    rgb, gains, notes = _front_end(raw, pipeline, lens=lens, sensor=sensor,
                                   shading_gain=shading_gain, keep=inter)
    if raw.is_hdr:
        notes.append("HDR frame: this pipeline ran on its reference component (dn); "
                     "camtwin.isp.process merges the components and tone-maps locally")
    m = _resolve_ccm(raw, pipeline.stage("ccm"), ccm, notes)
    out_stage, tone_stage = pipeline.stage("output"), pipeline.stage("tone")
    if (quantise and not keep and out_stage is not None and out_stage.bits == 8
            and pipeline.stage("sharpen") is None
            and (tone_stage is None or tone_stage.curve in ("srgb", "linear"))):
        return _run_fused(rgb, m, gains, notes, pipeline)
    if np.array_equal(m, np.eye(3)):
        linear = rgb.copy() if inter is not None else rgb  # rgb is this run's own array
    else:
        linear = np.empty_like(rgb)
        ccm_kernel(np.ascontiguousarray(rgb), m.astype(np.float32), linear)
    del rgb
    if inter is not None and pipeline.stage("ccm") is not None:
        inter["ccm"] = linear.copy()
    st = pipeline.stage("exposure")
    gain = 1.0
    if st is not None:
        gain = _auto_gain(linear, st, notes) if st.gain == "auto" else float(st.gain)
        if gain != 1.0:
            linear *= np.float32(gain)
        if inter is not None:
            inter["exposure"] = linear
    st = pipeline.stage("tone")
    if st is None:
        display = tone_map(linear, "linear")
    elif st.curve == "reinhard":
        display = tone_map(linear, "reinhard", key=st.key, white=st.white)
    elif st.curve == "filmic":
        display = tone_map(linear, "filmic", exposure_bias=st.exposure_bias,
                           **({} if st.white is None else {"white": st.white}))
    else:
        display = tone_map(linear, st.curve)
    if inter is not None and st is not None:
        inter["tone"] = display
    st = pipeline.stage("sharpen")
    if st is not None and st.amount > 0:
        display = unsharp_mask(display, amount=st.amount, sigma_px=st.sigma_px,
                               threshold=st.threshold)
        if inter is not None:
            inter["sharpen"] = display
    st = pipeline.stage("output")
    bits = 8 if st is None else st.bits
    image = None if st is None or not quantise else _quantise(display, bits)
    if inter is not None and image is not None:
        inter["output"] = image
    return PipelineResult(display=display, linear=linear, image=image, bits=bits,
                          wb_gains=np.asarray(gains, np.float64), ccm=m,
                          exposure_gain=float(gain), notes=tuple(notes),
                          intermediates=inter or {}, pipeline=pipeline)


@lru_cache(maxsize=2)
def _uint8_lut(curve: str) -> np.ndarray:
    """Linear value k/65535 → 8-bit display code, for the fused path."""
    from .stages import srgb_encode

    x = np.arange(65536, dtype=np.float64) / 65535.0
    y = srgb_encode(x) if curve == "srgb" else x
    lut = to_uint(y, 8)
    lut.setflags(write=False)
    return lut


def _run_fused(rgb, m, gains, notes, pipeline) -> PipelineResult:
    """CCM → exposure → tone (sRGB or linear) → 8 bit in one pass over the image.

    The auto-exposure percentile is taken of ``M @ rgb`` on the usual subsample, the gain
    is folded into M, and each output value is looked up in a 65536-entry table of the
    8-bit code of the linear value ``k/65535`` (the linear value is rounded to 16 bits
    first: near black the sRGB curve's slope of 12.92 turns that into < 0.06 of an 8-bit
    step, so codes differ from the float path by at most 1, at rounding ties).
    """
    from ._kernels import ccm_lut_uint_kernel

    st = pipeline.stage("exposure")
    gain = 1.0
    if st is not None:
        gain = _auto_gain(rgb, st, notes, matrix=m) if st.gain == "auto" else float(st.gain)
    tone = pipeline.stage("tone")
    lut = _uint8_lut("linear" if tone is None else tone.curve)
    image = np.empty(rgb.shape, dtype=np.uint8)
    ccm_lut_uint_kernel(np.ascontiguousarray(rgb), (m * gain).astype(np.float32), lut, image)
    return PipelineResult(display=None, linear=None, image=image, bits=8,
                          wb_gains=np.asarray(gains, np.float64), ccm=m,
                          exposure_gain=float(gain), notes=tuple(notes), pipeline=pipeline)


def camera_rgb(raw: RawFrame, spec, *, lens=None, sensor=None, shading_gain=None):
    """The front end (everything before the CCM) for an IspSpec or PipelineSpec.

    Returns white-balanced camera RGB (H, W, 3) float32, the gains and the notes.
    """
    pipe = spec.to_pipeline() if isinstance(spec, IspSpec) else spec
    return _front_end(raw, pipe, lens=lens, sensor=sensor, shading_gain=shading_gain)


def _camera_rgb(raw: RawFrame, spec: IspSpec):
    """Backward-compatible alias of :func:`camera_rgb` (no lens shading inputs)."""
    return camera_rgb(raw, spec)


def process(raw: RawFrame, spec: IspSpec = IspSpec(), *, ccm=None, lens=None, sensor=None,
            shading_gain=None) -> RenderedImage:
    """Render a raw frame with the settings of an :class:`IspSpec`.

    Parameters
    ----------
    raw : RawFrame
        Raw capture.
    spec : IspSpec
        Pipeline settings (:meth:`IspSpec.to_pipeline` gives the stage list that runs).
    ccm : array_like, shape (3, 3), optional
        Fitted camera RGB → linear sRGB matrix; required when ``spec.ccm == "fitted"``
        (the default), not allowed otherwise.
    lens, sensor, shading_gain
        For ``spec.lens_shading == "lens"`` (see :func:`run_pipeline`).

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
    * Every CFA layout is handled (module docstring). What was done is recorded in
      ``notes``.
    * A frame of an HDR mode (``raw.is_hdr``) is merged and locally tone mapped instead
      (:func:`camtwin.isp.hdr.process_hdr`).

    References
    ----------
    D. Coffin, *dcraw.c*: ``scale_colors()`` (white balance, highlight clip) and
    ``write_ppm_tiff()`` (auto brightness, 1 % of pixels at white by default).
    """
    if raw.is_hdr:  # HDR mode: merge → local tone map (camtwin.isp.hdr.process_hdr)
        from .hdr import process_hdr

        return process_hdr(raw, spec, ccm=ccm, lens=lens, sensor=sensor,
                           shading_gain=shading_gain)
    res = run_pipeline(raw, spec.to_pipeline(), ccm=ccm, lens=lens, sensor=sensor,
                       shading_gain=shading_gain, quantise=False)
    return RenderedImage(linear=res.linear, srgb=res.display, wb_gains=res.wb_gains,
                         ccm=res.ccm, exposure_gain=res.exposure_gain, notes=res.notes,
                         spec=spec)


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
    return write_rgb(target, to_uint(rendered.srgb, bits))


def write_png_streamed(path: str | os.PathLike, image: np.ndarray, *, level: int = 1,
                       rows_per_block: int = 256) -> None:
    """Write an (H, W, 3) uint8/uint16 RGB array as a PNG, row block by row block.

    The file is the PNG of the W3C PNG specification (2nd ed., 2003): signature, IHDR
    (colour type 2, bit depth 8/16), one IDAT chunk per block of the zlib stream of the
    filtered scanlines (filter type 0, i.e. each row prefixed by a 0 byte; 16-bit samples
    big-endian), IEND. Memory: one block of rows and its compressed bytes — neither OpenCV
    (a BGR copy and the whole encoded buffer) nor Pillow (a 4-byte-per-pixel copy) can
    encode a 200 MP image without a full-size copy.
    """
    import struct
    import zlib

    img = np.asarray(image)
    h, w = img.shape[:2]
    depth = 8 if img.dtype == np.uint8 else 16

    def chunk(f, kind: bytes, data: bytes) -> None:
        f.write(struct.pack(">I", len(data)) + kind + data)
        f.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    comp = zlib.compressobj(level)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        chunk(f, b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 2, 0, 0, 0))
        for r0 in range(0, h, rows_per_block):
            blk = img[r0:r0 + rows_per_block].reshape(-1, w * 3)
            if depth == 16:
                blk = blk.astype(">u2")
            rows = np.empty((blk.shape[0], 1 + blk.shape[1] * blk.itemsize), np.uint8)
            rows[:, 0] = 0
            rows[:, 1:] = blk.view(np.uint8).reshape(blk.shape[0], -1)
            data = comp.compress(rows.tobytes())
            if data:
                chunk(f, b"IDAT", data)
        chunk(f, b"IDAT", comp.flush())
        chunk(f, b"IEND", b"")


def write_rgb(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8/uint16 RGB array as PNG or TIFF (by extension), atomically.

    Raises
    ------
    ConfigError
        Unknown extension (the message lists the valid ones) or a bad array.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        raise unknown_name("image file extension", suffix or "(none)", IMAGE_EXTENSIONS)
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype not in (np.uint8, np.uint16):
        raise ConfigError(f"image must be (H, W, 3) uint8 or uint16, got {img.shape} {img.dtype}")
    if suffix == ".png" and img.shape[0] * img.shape[1] > STREAM_PNG_PX:
        with atomic_path(target) as tmp:
            write_png_streamed(tmp, img)
        return target
    if suffix == ".png":
        ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[:, :, ::-1]))  # RGB → BGR
        if not ok:
            raise OSError(f"OpenCV could not encode {target} as PNG")
        return write_bytes_atomic(target, buf.tobytes())
    from ..measure.imread import srgb_icc_profile

    with atomic_path(target) as tmp:  # tagged sRGB: a 16-bit TIFF is not read as linear
        tifffile.imwrite(tmp, img, photometric="rgb", iccprofile=srgb_icc_profile())
    return target


def save_intermediates(folder: str | os.PathLike, result: PipelineResult) -> list[Path]:
    """Write every kept intermediate of ``result`` as ``NN_stage.tiff`` in ``folder``.

    Mosaics are written as 2-D float32 TIFFs, RGB stages as (H, W, 3) float32 (the output
    stage as its integer type), each atomically; returns the paths in stage order.
    """
    folder = Path(folder)
    order = ("black_level", "defect_pixel", "lens_shading", "ir_subtraction", "white_balance",
             "demosaic", "denoise", "ccm", "exposure", "tone", "sharpen", "output")
    written = []
    for i, name in enumerate(n for n in order if n in result.intermediates):
        arr = np.ascontiguousarray(result.intermediates[name])
        target = folder / f"{i:02d}_{name}.tiff"
        with atomic_path(target) as tmp:
            tifffile.imwrite(tmp, arr, photometric="rgb" if arr.ndim == 3 else "minisblack",
                             metadata=None, software="camtwin")
        written.append(target)
    return written
