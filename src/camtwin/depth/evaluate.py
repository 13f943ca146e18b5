"""Depth module × depth application → measured metrics and verdicts.

Each metric of :data:`camtwin.depth.catalog.DEPTH_METRICS` is measured on a simulated
capture under the requirement's conditions (definitions in :mod:`camtwin.depth.metrics`):

* ``accuracy_pct`` / ``precision_pct`` / ``precision_pct_ambient`` — a fronto-parallel
  plane at ``distance_m`` with ``reflectance`` under ``ambient_klx`` of sunlight, ``frames``
  captures; the mean error of the time-averaged depth and the median per-pixel temporal σ,
  both in % of the true distance, over the central region (the centre of the field, where
  datasheets quote depth noise; iToF/stereo: a centred crop of the array, dToF: the
  central 2 × 2 zones).
  Active stereo's precision is the RMS residual to a fitted plane (spatial noise), see
  :func:`_plane_fit_pct`. iToF captures run the module's auto-exposure and wiggling
  calibration (:func:`camtwin.depth.twin.capture_depth`).
* ``max_range_m`` — the same precision on planes at distances spaced geometrically up to
  the module's unambiguous range; the farthest distance where the precision stays within
  ``precision_pct`` and at least ``detection_rate`` (default 0.9) of the pixels return a
  depth (:func:`camtwin.depth.metrics.max_range_at_precision`, log–log interpolation),
  starting from the first distance that meets it (a short-range blind zone is skipped); a
  module that meets it to the end of its range gets that range (iToF: the unambiguous
  range, dToF: the histogram's, stereo: 2 px of disparity).
* ``multipath_error_pct`` — a concave corner (``opening_deg``) with its apex at
  ``distance_m``; the mean error in the central region with the one-bounce
  interreflection of :func:`camtwin.depth.twin.interreflection` (iToF; dToF and stereo
  are not biased by it in this model).
* ``flying_pixel_fraction`` — a step edge ``near_m`` → ``far_m``; iToF pixels integrate
  4×4 sub-pixels (mixed returns), dToF zones sum their SPADs
  (:func:`camtwin.depth.metrics.flying_pixel_fraction`).
* ``power_mw`` / ``energy_per_frame_mj`` / ``frame_rate_fps`` — :func:`camtwin.depth.twin.
  module_power_mw` at the stated frame rate; the module's frame rate (catalog) or, when
  unpublished, the one its exposure timing allows.

Random streams are independent per requirement (``SeedSequence(seed).spawn``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import ConfigError
from .catalog import DEPTH_METRICS, DepthApplicationSpec, DepthRequirement, depth_application
from .metrics import (depth_accuracy, depth_precision,
                      max_range_at_precision, multipath_error, plane_fit_residual)
from .twin import DepthModule, capture_depth, load_depth_module, module_power_mw

#: Captures per measured condition (temporal statistics need ≥ 2).
DEFAULT_FRAMES = 8
#: Centred crop [px] of an iToF / stereo array for the plane measurements.
ITOF_CROP = (48, 48)
STEREO_CROP = (640, 240)
#: Central region (fraction of each side) of the output grid used for the statistics.
ROI_FRACTION = 0.5


@dataclass(frozen=True)
class DepthMetricResult:
    """A measured value with what it came from (curves for plots, notes)."""

    value: float
    unit: str
    details: dict = field(default_factory=dict)
    reason: str | None = None       # why the metric does not apply, else None


@dataclass(frozen=True)
class DepthVerdict:
    requirement: DepthRequirement
    result: DepthMetricResult

    @property
    def value(self) -> float:
        return self.result.value

    @property
    def passed(self) -> bool:
        """Met: the metric applies and its value is within the limits (NaN — no valid
        depth at the condition — never is; inf — beyond the tested range — may be)."""
        return self.result.reason is None and self.requirement.passes(self.value)

    @property
    def status(self) -> str:
        if self.result.reason is not None:
            return "n/a"
        return "pass" if self.passed else "fail"

    def as_dict(self) -> dict:
        r = self.requirement
        v = self.value
        return {"metric": r.metric, "value": None if not math.isfinite(v) else v,
                "value_text": self.result.details.get("note") or _fmt(v), "unit": r.unit, "min": r.min, "max": r.max,
                "conditions": dict(r.conditions), "status": self.status,
                "basis": r.basis, "source": r.source, "reason": self.result.reason}


def _fmt(v: float) -> str:
    if v == math.inf:
        return "beyond the tested range"
    if not math.isfinite(v):
        return "n/a"
    return f"{v:.3g}"


@dataclass(frozen=True)
class DepthEvaluation:
    module: str
    application: str
    verdicts: tuple[DepthVerdict, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    def as_dict(self) -> dict:
        return {"module": self.module, "application": self.application,
                "passed": self.passed, "seconds": round(self.seconds, 2),
                "verdicts": [v.as_dict() for v in self.verdicts]}


# --------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------
#: Central zones (per side) of a dToF array for the plane measurements: event-by-event
#: SPAD simulation costs as many operations as detections, which sunlight makes
#: ≈ cycle/dead-time per SPAD and cycle.
DTOF_CROP_ZONES = 2
#: At most this many dToF captures per condition (4 frames × 4 zones for the temporal σ).
DTOF_FRAMES = 4


def _for_planes(m: DepthModule) -> DepthModule:
    if m.kind == "itof":
        return m.cropped(*ITOF_CROP)
    if m.kind == "stereo":
        return m.cropped(*STEREO_CROP)
    side = DTOF_CROP_ZONES * int(m.pixel.zone_size_px)
    return m.cropped(side, side)


def _roi(shape) -> tuple[int, int, int, int]:
    h, w = shape
    if h * w <= 256:                 # a (cropped) dToF zone grid: every zone
        return (0, h, 0, w)
    dh = max(1, int(round(h * ROI_FRACTION / 2)))
    dw = max(1, int(round(w * ROI_FRACTION / 2)))
    return (h // 2 - dh, h // 2 + dh, w // 2 - dw, w // 2 + dw)


def plane_statistics(module, *, distance_m: float, reflectance: float = 0.5,
                     ambient_klx: float = 0.0, frames: int = DEFAULT_FRAMES,
                     seed=0) -> dict:
    """Accuracy and precision [% of distance] and the valid fraction on a plane."""
    m = _for_planes(load_depth_module(module))
    c = capture_depth(m, "plane", distance_m=distance_m, reflectance=reflectance,
                      ambient_klx=ambient_klx, frames=max(2, int(frames)), seed=seed)
    roi = _roi(c.truth_m.shape)
    r0, r1, c0, c1 = roi
    valid = float(np.isfinite(c.depth_m[:, r0:r1, c0:c1]).mean())
    if valid == 0:
        return {"accuracy_pct": math.nan, "precision_pct": math.nan, "valid_fraction": 0.0}
    acc = depth_accuracy(c.depth_m, c.truth_m, roi)
    if m.kind == "stereo":
        prec = _plane_fit_pct(c, roi)
    else:
        try:
            prec = depth_precision(c.depth_m, c.truth_m, roi).precision_pct
        except ConfigError:           # too few pixels with ≥ 2 valid frames
            prec = math.nan
    return {"accuracy_pct": abs(acc.accuracy_pct), "precision_pct": prec,
            "valid_fraction": valid}


def _plane_fit_pct(c, roi) -> float:
    """Stereo precision: RMS distance of the points to their best-fit plane, % of the
    distance, median over the frames (the flat-wall "spatial noise" of active stereo,
    Intel RealSense depth-quality methodology / VDI/VDE 2634-2). A temporal σ means
    little for a semi-global matcher, whose sub-pixel output on a still scene repeats
    frame to frame (the bias then shows as "pixel locking" in the fit residual)."""
    r0, r1, c0, c1 = roi
    rays = c.rays[r0:r1, c0:c1]
    truth = float(np.nanmedian(c.truth_m[r0:r1, c0:c1]))
    out = []
    for d in c.depth_m[:, r0:r1, c0:c1]:
        ok = np.isfinite(d)
        if ok.sum() < 10:
            continue
        out.append(plane_fit_residual(d[ok][:, None] * rays[ok]).rms_m / truth * 100.0)
    return float(np.median(out)) if out else math.nan


def _range_limit_m(m: DepthModule) -> float:
    p = m.pixel
    if m.kind == "itof":
        from .itof import unambiguous_range_m

        return float(unambiguous_range_m(p))
    if m.kind == "dtof":
        return float(p.n_bins * p.tdc_bin_ps * 1e-12 * 299792458.0 / 2)
    f_px = m.geometry.focal_px
    return float(f_px * p.baseline_mm * 1e-3 / 2.0)      # disparity of 2 px


def max_range(module, *, precision_pct: float, reflectance: float = 0.5,
              ambient_klx: float = 0.0, detection_rate: float = 0.9,
              frames: int = DEFAULT_FRAMES, n_distances: int = 10, seed=0) -> dict:
    """Farthest distance [m] meeting ``precision_pct`` with ``detection_rate`` valid pixels."""
    m = load_depth_module(module)
    top = 0.98 * _range_limit_m(m)
    near = min(0.3 if m.kind == "dtof" else 0.2, top / 4)
    dists = np.geomspace(near, top, int(n_distances))
    seeds = np.random.SeedSequence(_entropy(seed)).spawn(len(dists))
    prec = []
    for d, s in zip(dists, seeds):
        st = plane_statistics(m, distance_m=float(d), reflectance=reflectance,
                              ambient_klx=ambient_klx, frames=frames,
                              seed=np.random.default_rng(s))
        ok = st["valid_fraction"] >= detection_rate
        prec.append(st["precision_pct"] if ok else math.nan)
    prec_a = np.array(prec, dtype=float)
    finite = np.flatnonzero(np.isfinite(prec_a))
    if finite.size == 0:
        value = math.nan
    else:     # a blind zone at short range (stereo beyond its disparity search) is skipped
        i0 = int(finite[0])
        value = float(max_range_at_precision(dists[i0:], prec_a[i0:], precision_pct))
        if value == math.inf:    # never worse than the limit: the sweep's end (the
            value = float(dists[-1])   # unambiguous / histogram / 2-px-disparity range)
        elif math.isnan(value):  # worse than the limit already at the nearest distance
            value = 0.0
    return {"max_range_m": float(value), "distances_m": dists.tolist(),
            "precision_pct": [None if not math.isfinite(x) else x for x in prec]}


def _entropy(seed) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2 ** 63))
    return int(seed)


def measure_depth_metric(module, metric: str, conditions: dict | None = None, *,
                         frames: int = DEFAULT_FRAMES, seed=0) -> DepthMetricResult:
    """Measure one depth metric (:data:`DEPTH_METRICS`) under ``conditions``."""
    if metric not in DEPTH_METRICS:
        raise ConfigError(f"unknown depth metric {metric!r}; valid choices: "
                          f"{', '.join(sorted(DEPTH_METRICS))}")
    unit, allowed = DEPTH_METRICS[metric]
    cond = dict(conditions or {})
    bad = sorted(set(cond) - set(allowed))
    if bad:
        raise ConfigError(f"{metric}: unknown condition {bad[0]!r}; valid: "
                          f"{', '.join(allowed) or 'none'}")
    m = load_depth_module(module)
    if m.kind == "dtof":      # event-by-event SPADs: cost ∝ detections (sunlight: many)
        frames = min(int(frames), DTOF_FRAMES)
    rho = float(cond.get("reflectance", 0.5))
    klx = float(cond.get("ambient_klx", 0.0))
    if metric in ("accuracy_pct", "precision_pct", "precision_pct_ambient"):
        st = plane_statistics(m, distance_m=float(cond.get("distance_m", 1.0)),
                              reflectance=rho, ambient_klx=klx, frames=frames, seed=seed)
        key = "accuracy_pct" if metric == "accuracy_pct" else "precision_pct"
        if st["valid_fraction"] == 0:      # measured: the module returns no depth → fails
            st = dict(st, note="no valid depth")
        elif not math.isfinite(st[key]):
            st = dict(st, note="too few pixels with two valid frames")
        return DepthMetricResult(st[key], unit, st)
    if metric == "max_range_m":
        r = max_range(m, precision_pct=float(cond.get("precision_pct", 1.0)), reflectance=rho,
                      ambient_klx=klx, detection_rate=float(cond.get("detection_rate", 0.9)),
                      frames=frames, seed=seed)
        if math.isnan(r["max_range_m"]):
            r = dict(r, note="no valid depth at any distance")
        return DepthMetricResult(r["max_range_m"], unit, r)
    if metric == "multipath_error_pct":
        d = float(cond.get("distance_m", 1.0))
        mm = _for_planes(m)
        c = capture_depth(mm, "corner", distance_m=d, reflectance=rho, frames=max(2, frames),
                          seed=seed, scene_options={"opening_deg": float(
                              cond.get("opening_deg", 90.0))})
        r = multipath_error(c.mean_depth_m, c.truth_m, _roi(c.truth_m.shape))
        return DepthMetricResult(abs(r.multipath_error_pct), unit,
                                 {"mean_error_m": r.mean_error_m})
    if metric == "flying_pixel_fraction":
        near = float(cond.get("near_m", 1.0))
        far = float(cond.get("far_m", 2.0 * near))
        mm = _for_planes(m)
        k = 4 if m.kind == "itof" else 1
        c = capture_depth(mm, "step_edge", distance_m=near, reflectance=rho, frames=1,
                          seed=seed, supersample=k, scene_options={"far_m": far})
        return DepthMetricResult(c.flying_pixel_fraction(), unit)
    if metric == "power_mw":
        fps = cond.get("frame_rate_fps")
        return DepthMetricResult(module_power_mw(m, None if fps is None else float(fps)),
                                 unit)
    if metric == "energy_per_frame_mj":
        fps = frame_rate_fps(m)
        return DepthMetricResult(module_power_mw(m) / fps, unit, {"frame_rate_fps": fps})
    return DepthMetricResult(frame_rate_fps(m), unit)


def frame_rate_fps(module) -> float:
    """The module's depth frame rate: the catalog figure, else what its timing allows
    (iToF: all phase frames back to back; dToF: the pulses of a frame; stereo: the
    exposure)."""
    m = load_depth_module(module)
    if m.frame_rate_fps:
        return float(m.frame_rate_fps)
    p = m.pixel
    if m.kind == "itof":
        interval = p.phase_frame_interval_s or p.integration_time_s
        return 1.0 / (len(p.modulation_frequencies_mhz) * p.phases * interval)
    if m.kind == "dtof":
        return float(m.illuminator.repetition_rate_hz) / p.pulses_per_frame
    return 1.0 / p.exposure_s


def evaluate_depth(module, application: DepthApplicationSpec | str, *,
                   frames: int = DEFAULT_FRAMES, seed: int = 0,
                   progress: Callable[[int, int, str], None] | None = None
                   ) -> DepthEvaluation:
    """Every requirement of a depth application measured on ``module``;
    ``progress(done, total, metric_name)`` before each measurement."""
    m = load_depth_module(module)
    app = application if isinstance(application, DepthApplicationSpec) else \
        depth_application(application)
    t0 = time.perf_counter()
    seeds = np.random.SeedSequence(int(seed)).spawn(len(app.requirements))
    verdicts = []
    for i, (req, s) in enumerate(zip(app.requirements, seeds)):
        if progress is not None:
            progress(i, len(app.requirements), req.metric)
        res = measure_depth_metric(m, req.metric, req.conditions, frames=frames,
                                   seed=int(s.generate_state(1)[0]))
        verdicts.append(DepthVerdict(req, res))
    return DepthEvaluation(m.name, app.name, tuple(verdicts), time.perf_counter() - t0)
