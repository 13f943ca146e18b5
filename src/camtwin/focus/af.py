"""Autofocus controllers: contrast detection, dual-pixel phase detection, hybrid.

An AF run owns a camera (:class:`AfCamera`: module crop, target, light, a VCM) that turns a
lens command into a settled lens position (:class:`camtwin.focus.vcm.Vcm`) and a raw frame
rendered at the *actual* position (thin-lens defocus, :mod:`camtwin.focus.optics`).
The controllers only see frames and commands, never the true position.

Contrast AF (``"contrast"``) — coarse-to-fine:
    1. coarse scan of ``n_coarse`` evenly spaced commands over the stroke;
    2. golden-section search (Kiefer 1953) in the bracket [p_{i−1}, p_{i+1}] around the
       best coarse sample, shrinking by φ⁻¹ = 0.618 per frame until the bracket is below
       DOF/2;
    3. a parabola through the three best samples of log F (a Gaussian focus curve
       near the peak) gives the final command (one more move, no frame).
Hill climbing (``"hill_climb"``): from the current position, step ``stroke/8`` in the
direction of increasing F, reversing and halving the step each time F falls, until the
step is below DOF/4; then the same parabola.
PDAF (``"pdaf"``): dual-pixel left/right images → disparity d (sub-pixel 1-D SSD search
along the pupil split, parabola fit) → lens move Δp = g·d (+ o), g, o from a calibration
sweep (:func:`calibrate_pdaf`); repeated until the predicted move is below DOF/4, at most
``max_moves`` times.
Hybrid (``"hybrid"``): PDAF moves first, then a fine contrast search of ±DOF around the
PDAF result (golden section).

Moves are hysteresis-compensated (:meth:`AfCamera.move`). Timing: every move costs the VCM settle time; every frame one frame period
max(exposure, 1/30 s). Time to focus = Σ settle + frames × frame period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, unknown_name
from .measures import FOCUS_MEASURES, focus_measure
from .optics import (AF_WAVELENGTHS_NM, depth_of_focus_um, half_pupil_image,
                     in_focus_position_um, lens_at)
from .vcm import Vcm, VcmSpec

#: AF methods of :func:`run_autofocus`.
AF_METHODS = ("contrast", "hill_climb", "pdaf", "hybrid")
#: Shortest frame period [s] (30 fps sensor readout).
MIN_FRAME_PERIOD_S = 1 / 30
GOLDEN = (math.sqrt(5) - 1) / 2


def _grey(frame) -> np.ndarray:
    """2×2-binned grey image [DN above black], float32."""
    from ..burst.align import grey_image

    return grey_image(frame)


class AfCamera:
    """A module (cropped to the AF window) looking at a target at ``distance_m``."""

    def __init__(self, module, scene, *, distance_m: float, illuminance_lux: float, rng,
                 vcm: VcmSpec = VcmSpec(), start_um: float = 0.0, crop_px: int = 128,
                 exposure_s: float | None = None):
        from ..camera import module_scene
        from ..evaluate.metrics import crop_module
        from ..optics import form_image
        from ..sensor import auto_exposure_s

        if not (math.isfinite(illuminance_lux) and illuminance_lux > 0):
            raise ConfigError(f"illuminance = {illuminance_lux} lx: must be > 0")
        if not 32 <= crop_px <= 1024:
            raise ConfigError(f"crop = {crop_px} px: valid range is 32..1024")
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.distance_m = float(distance_m)
        self.target_um = in_focus_position_um(module.lens, distance_m)
        if self.target_um > vcm.stroke_um:
            raise ConfigError(f"distance {distance_m} m needs the lens {self.target_um:.0f} µm "
                              f"out, beyond the VCM stroke ({vcm.stroke_um:.0f} µm)")
        self.module = crop_module(module, crop_px).replace(lens={"object_distance_m":
                                                                 float(distance_m)})
        self.scene = module_scene(self.module, scene, illuminance_lux=illuminance_lux,
                                  wavelengths_nm=AF_WAVELENGTHS_NM) \
            if not hasattr(scene, "radiance") else scene
        self.vcm = Vcm(vcm, self.rng, start_um=start_um)
        self._target = float(start_um)
        focused = form_image(self.scene, lens_at(self.module.lens, self.target_um, distance_m))
        self.exposure_s = exposure_s or auto_exposure_s(focused, self.module.sensor,
                                                        max_exposure_s=MIN_FRAME_PERIOD_S * 2)
        self.frame_period_s = max(self.exposure_s, MIN_FRAME_PERIOD_S)
        dof = depth_of_focus_um(self.module.lens, self.module.sensor.pixel_pitch_um, distance_m)
        self.dof_um = dof["dof_um"]
        self.dof = dof
        self.frames = 0
        self.log: list[dict] = []

    # --- actions of a controller -------------------------------------------------------
    def move(self, target_um: float) -> None:
        """Drive the lens to ``target_um`` with hysteresis compensation: the driver adds
        ±h/2 (h the VCM's nominal hysteresis, known from its calibration) in the direction
        of motion, so the play operator lands on the target."""
        target_um = float(target_um)
        if abs(target_um - self._target) < 1e-9 and self.vcm.moves:
            return
        h = self.vcm.spec.hysteresis_um
        sign = 1.0 if target_um > self._target else -1.0
        self._target = target_um
        self.vcm.move_to(target_um + sign * h / 2)

    @property
    def command_um(self) -> float:
        """The position the controller asked for last [µm] (before compensation)."""
        return self._target

    def _lens(self):
        return lens_at(self.module.lens, self.vcm.position_um, self.distance_m)

    def frame(self):
        """A raw frame at the current (actual) lens position."""
        from ..optics import form_image
        from ..sensor import capture

        oi = form_image(self.scene, self._lens())
        self.frames += 1
        raw = capture(oi, self.module.sensor, self.exposure_s, self.rng)
        self.log.append({"command_um": self.command_um, "position_um": self.vcm.position_um,
                         "kind": "image"})
        return raw

    def dual_pixel_frames(self):
        """Left and right half-pupil raw frames at the current lens position (one readout
        of a dual-pixel sensor: counts as one frame)."""
        from ..optics import form_image
        from ..sensor import capture

        lens = self._lens()
        sharp = form_image(self.scene, lens, diffraction=False)
        self.frames += 1
        self.log.append({"command_um": self.command_um, "position_um": self.vcm.position_um,
                         "kind": "dual_pixel"})
        return tuple(capture(half_pupil_image(sharp, lens, side), self.module.sensor,
                             self.exposure_s, self.rng) for side in ("left", "right"))

    @property
    def time_s(self) -> float:
        return self.vcm.total_time_s + self.frames * self.frame_period_s


def _measure(cam: AfCamera, method: str) -> float:
    img = _grey(cam.frame())
    kwargs = {}
    if method == "bandpass":
        from ..burst.merge import noise_model_dn

        a, b = noise_model_dn(cam.module.sensor)
        kwargs["noise_var"] = (a * max(float(img.mean()), 0.0) + b) / 4.0  # 2×2 mean
    return focus_measure(img, method, **kwargs)


def _parabola_peak(samples: dict) -> float:
    """Vertex of a parabola through log F of the three best samples (command → F) when
    they bracket the maximum; else the best sample."""
    pts = sorted(samples.items())
    best = max(range(len(pts)), key=lambda i: pts[i][1])
    if best == 0 or best == len(pts) - 1:
        return pts[best][0]
    (x0, f0), (x1, f1), (x2, f2) = pts[best - 1:best + 2]
    y0, y1, y2 = (math.log(max(v, 1e-30)) for v in (f0, f1, f2))
    den = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
    if a >= 0:
        return x1
    return float(np.clip(-b / (2 * a), x0, x2))


def _evaluate(cam, samples, p, measure):
    cam.move(p)
    samples[cam.command_um] = _measure(cam, measure)
    return samples[cam.command_um]


def golden_section(cam: AfCamera, lo: float, hi: float, tol_um: float, measure: str,
                   samples: dict) -> None:
    """Golden-section search for the maximum of F on [lo, hi] until hi − lo < tol."""
    a, b = lo, hi
    c = b - GOLDEN * (b - a)
    d = a + GOLDEN * (b - a)
    fc = samples.get(c) or _evaluate(cam, samples, c, measure)
    fd = samples.get(d) or _evaluate(cam, samples, d, measure)
    while b - a > tol_um:
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - GOLDEN * (b - a)
            fc = _evaluate(cam, samples, c, measure)
        else:
            a, c, fc = c, d, fd
            d = a + GOLDEN * (b - a)
            fd = _evaluate(cam, samples, d, measure)


def contrast_af(cam: AfCamera, *, measure: str = "tenengrad", n_coarse: int = 7) -> None:
    """Coarse scan + golden section + parabola (module docstring)."""
    stroke = cam.vcm.spec.stroke_um
    samples: dict = {}
    grid = np.linspace(0.0, stroke, n_coarse)
    for p in grid:
        _evaluate(cam, samples, float(p), measure)
    i = int(np.argmax([samples[float(p)] for p in grid]))
    lo, hi = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, n_coarse - 1)])
    golden_section(cam, lo, hi, cam.dof_um / 2, measure, samples)
    cam.move(_parabola_peak(samples))


def hill_climb_af(cam: AfCamera, *, measure: str = "tenengrad") -> None:
    """Hill climbing with step halving (module docstring)."""
    stroke = cam.vcm.spec.stroke_um
    samples: dict = {}
    p = cam.command_um
    f = _evaluate(cam, samples, p, measure)
    step, direction = stroke / 8, 1.0
    while step >= cam.dof_um / 4:
        q = float(np.clip(p + direction * step, 0.0, stroke))
        if q == p:
            direction, step = -direction, step / 2
            continue
        fq = samples.get(q) or _evaluate(cam, samples, q, measure)
        if fq > f:
            p, f = q, fq
        else:
            direction, step = -direction, step / 2
    cam.move(_parabola_peak(samples))


def measure_disparity(left, right, *, max_shift: int = 24) -> float:
    """Horizontal shift s [plane samples = 2 raw px] minimising Σ(L(x) − R(x + s))² over
    the central region (sub-pixel: parabola through the three lowest costs), on 2×2-binned
    grey images normalised to equal means."""
    a, b = _grey(left).astype(np.float64), _grey(right).astype(np.float64)
    a /= max(a.mean(), 1e-9)
    b /= max(b.mean(), 1e-9)
    h, w = a.shape
    m = min(max_shift, w // 4)
    ref = a[:, m:w - m]
    costs = np.array([np.mean((ref - b[:, m + s:w - m + s]) ** 2) for s in range(-m, m + 1)])
    i = int(np.argmin(costs))
    if 0 < i < costs.size - 1:
        c0, c1, c2 = costs[i - 1:i + 2]
        den = c0 - 2 * c1 + c2
        frac = 0.5 * (c0 - c2) / den if den > 0 else 0.0
    else:
        frac = 0.0
    return float(i - m + frac)


@dataclass(frozen=True)
class PdafCalibration:
    """Lens move Δp = slope·d + offset [µm] for a measured disparity d [plane samples]."""

    slope_um_per_sample: float
    offset_um: float
    disparities: tuple = ()
    defocus_um: tuple = ()


#: Distance of the PDAF calibration chart [m] (a factory's near chart) when the module's
#: lens can focus it with the whole calibration sweep inside the VCM stroke.
PDAF_CHART_DISTANCE_M = 0.15


def pdaf_chart_distance_m(lens, stroke_um: float, span_um: float) -> float:
    """Distance of the PDAF calibration chart [m]: :data:`PDAF_CHART_DISTANCE_M`, or — for
    a lens whose in-focus position p* = f²/(D − f) there plus ``span_um`` is beyond the
    stroke (a long phone main lens: the 200 MP module's f = 6.7 mm needs 313 µm at 0.15 m
    against a 120 µm stroke) — the distance D = f + f²/(stroke − span) at which the sweep's
    far end meets the stroke."""
    p_max = stroke_um - span_um
    if not p_max > 0:
        raise ConfigError(f"PDAF calibration sweep ±{span_um} µm does not fit in the VCM "
                          f"stroke ({stroke_um} µm)")
    if in_focus_position_um(lens, PDAF_CHART_DISTANCE_M) <= p_max:
        return PDAF_CHART_DISTANCE_M
    f = lens.focal_length_mm
    return (f + f * f / (p_max * 1e-3)) * 1e-3


def calibrate_pdaf(module, scene="siemens_star", *, distance_m: float | None = None,
                   illuminance_lux: float = 1000.0, rng=0, span_um: float = 40.0,
                   steps: int = 9, crop_px: int = 128) -> PdafCalibration:
    """Factory calibration: place the lens at ``steps`` known defocus values in
    ±``span_um`` around focus for a chart at a known distance (default
    :func:`pdaf_chart_distance_m`: 0.15 m, or farther where the stroke needs it), measure
    the dual-pixel disparity at each, and fit defocus = slope·d + offset (least squares).
    Moving by −defocus then focuses."""
    if distance_m is None:
        distance_m = pdaf_chart_distance_m(module.lens, VcmSpec().stroke_um, span_um)
    cam = AfCamera(module, scene, distance_m=distance_m, illuminance_lux=illuminance_lux,
                   rng=rng, crop_px=crop_px, vcm=VcmSpec(hysteresis_um=0.0,
                                                         position_noise_um=0.0))
    ds, dps = [], []
    for dp in np.linspace(-span_um, span_um, steps):
        cam.move(cam.target_um + dp)
        left, right = cam.dual_pixel_frames()
        ds.append(measure_disparity(left, right))
        dps.append(cam.vcm.position_um - cam.target_um)
    slope, offset = np.polyfit(ds, dps, 1)
    return PdafCalibration(float(slope), float(offset), tuple(ds), tuple(dps))


def pdaf_af(cam: AfCamera, cal: PdafCalibration, *, max_moves: int = 3) -> None:
    """Phase-detection AF (module docstring)."""
    for _ in range(max_moves):
        left, right = cam.dual_pixel_frames()
        defocus = cal.slope_um_per_sample * measure_disparity(left, right) + cal.offset_um
        if abs(defocus) < cam.dof_um / 4:
            break
        cam.move(cam.command_um - defocus)


def hybrid_af(cam: AfCamera, cal: PdafCalibration, *, measure: str = "tenengrad") -> None:
    """PDAF, then golden-section contrast search within ±DOF of the PDAF result."""
    pdaf_af(cam, cal)
    p = cam.command_um
    samples: dict = {}
    golden_section(cam, p - cam.dof_um, p + cam.dof_um, cam.dof_um / 4, measure, samples)
    cam.move(_parabola_peak(samples))


@dataclass(frozen=True)
class AfResult:
    """Outcome of one AF run: true and final lens positions [µm], errors, cost."""

    method: str
    measure: str
    target_um: float
    final_um: float
    dof_um: float
    frames: int
    lens_moves: int
    time_s: float
    distance_m: float
    illuminance_lux: float
    exposure_s: float
    extra: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    @property
    def focus_error_um(self) -> float:
        return self.final_um - self.target_um

    @property
    def focus_error_dof(self) -> float:
        """|error| in units of the total depth of focus (≤ 0.5: inside it)."""
        return abs(self.focus_error_um) / self.dof_um

    @property
    def in_focus(self) -> bool:
        return self.focus_error_dof <= 0.5

    def as_dict(self) -> dict:
        return {"method": self.method, "measure": self.measure,
                "distance_m": self.distance_m, "lux": self.illuminance_lux,
                "exposure_ms": self.exposure_s * 1e3, "target_position_um": self.target_um,
                "final_position_um": self.final_um, "focus_error_um": self.focus_error_um,
                "dof_um": self.dof_um, "focus_error_dof": self.focus_error_dof,
                "in_focus": self.in_focus, "frames": self.frames,
                "lens_moves": self.lens_moves, "time_to_focus_ms": self.time_s * 1e3,
                **self.extra}


def run_autofocus(module, scene="siemens_star", *, distance_m: float, illuminance_lux: float,
                  method: str = "hybrid", measure: str = "tenengrad", start_um: float = 0.0,
                  crop_px: int = 128, rng=0, vcm: VcmSpec = VcmSpec(),
                  calibration: PdafCalibration | None = None) -> AfResult:
    """One AF run (module docstring). The PDAF calibration is made on the same module
    (``calibrate_pdaf``, 1000 lx, 0.15 m or farther: :func:`pdaf_chart_distance_m`) when
    not given.

    Raises
    ------
    ConfigError
        Unknown method or measure (names the valid ones), distance outside the stroke,
        bad light level or crop.
    """
    if method not in AF_METHODS:
        raise unknown_name("AF method", method, AF_METHODS)
    if measure not in FOCUS_MEASURES:
        raise unknown_name("focus measure", measure, FOCUS_MEASURES)
    if not (math.isfinite(distance_m) and distance_m > 0):
        raise ConfigError(f"distance = {distance_m} m: must be > 0")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if method in ("pdaf", "hybrid") and calibration is None:
        calibration = calibrate_pdaf(module, crop_px=crop_px, rng=gen)
    cam = AfCamera(module, scene, distance_m=distance_m, illuminance_lux=illuminance_lux,
                   rng=gen, vcm=vcm, start_um=start_um, crop_px=crop_px)
    if method == "contrast":
        contrast_af(cam, measure=measure)
    elif method == "hill_climb":
        hill_climb_af(cam, measure=measure)
    elif method == "pdaf":
        pdaf_af(cam, calibration)
    else:
        hybrid_af(cam, calibration, measure=measure)
    extra = {"dof_diffraction_um": cam.dof["dof_diffraction_um"],
             "working_f_number": cam.dof["working_f_number"]}
    if calibration is not None:
        extra["pdaf_slope_um_per_sample"] = calibration.slope_um_per_sample
    return AfResult(method=method, measure=measure, target_um=cam.target_um,
                    final_um=cam.vcm.position_um, dof_um=cam.dof_um, frames=cam.frames,
                    lens_moves=cam.vcm.moves, time_s=cam.time_s, distance_m=distance_m,
                    illuminance_lux=illuminance_lux, exposure_s=cam.exposure_s, extra=extra)
