"""Hand-shake and stabilisation metrics for :mod:`camtwin.evaluate` (``MOTION_METRICS``).

All use the module's focal length f, pixel pitch p and sensor diagonal (35 mm-equivalent
focal length f₃₅ = f·43.27 mm/diagonal), a shake preset of :mod:`camtwin.motion.shake` and
the module's stabiliser (``ModuleSpec.stabiliser``, a :class:`~camtwin.motion.stabilise.
StabiliserSpec` whose source says the product has OIS/EIS). The condition ``ois`` chooses
the optical stabiliser: ``module`` (the default) is ``module.stabiliser.ois`` — a module
without a stabiliser, or with ``ois: none``, has no OIS and gains 0 stops, and the result's
source says so —; a preset name of :data:`~camtwin.motion.stabilise.OIS_PRESETS` (``none``,
``phone``, ``sensor_shift``) or a dict of :class:`~camtwin.motion.stabilise.OisSpec` fields
overrides the module's ("what if this module had a phone OIS").

``ois_gain_stops`` [stops]
    CIPA DC-011-style stabilisation gain (:func:`camtwin.motion.stabilise.
    stabilisation_gain`): with ``exposure_s`` None, log₂(T_on/T_off) at the 63 µm
    (35 mm-frame) blur threshold; with ``exposure_s`` given, the equal-blur gain at that
    exposure (a phone profile's "≥ 3 stops at 1/4 s"). Conditions ``exposure_s`` (None),
    ``preset`` (handheld), ``ois`` (module).
``shake_blur_px`` [px]
    Mean peak-to-peak image motion during an exposure (the CIPA blur amount, averaged over
    yaw and pitch and over start times) in sensor pixels: f·Δθ_pp / p. Conditions
    ``exposure_s`` (1/30), ``preset``, ``stabilised`` (False), ``ois`` (module: the
    stabiliser used when ``stabilised``; a module without OIS stays unstabilised).
``mtf50_loss_shake`` [—, 0…1]
    Fractional loss of the horizontal MTF50: 1 − MTF50(system·shake)/MTF50(system), with
    the system MTF the module's simulated slanted-edge e-SFR (``mtf50_cy_px``) and the shake
    MTF the mean over exposures of the motion's |OTF| along the rows (linear-systems
    cascade). Conditions as ``shake_blur_px`` plus ``field`` (0), ``lux`` (1000).
``eis_jitter_px`` [px RMS]
    Residual jitter of EIS video (:func:`camtwin.motion.stabilise.eis_residual`). The
    stabiliser: condition ``eis`` (``module``: ``module.stabiliser.eis``; or a dict of
    :class:`~camtwin.motion.stabilise.EisSpec` fields). Without one (a module with no EIS
    in its stabiliser) a crop EIS with a margin of ``margin_fraction`` (0.1) of the sensor
    width on each side and ``mode`` (per_row) is measured; given explicitly,
    ``margin_fraction`` and ``mode`` also override the module's EIS. At ``frame_rate_fps``
    (30) and ``exposure_s`` (1/60), with the sensor's own line time. Conditions also
    ``preset`` (walking)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from .blur import mtf50, trajectory_otf
from .shake import shake_trajectory
from .stabilise import (OIS_PRESETS, EisSpec, OisSpec, blur_amount_um, eis_residual,
                        module_stabiliser, ois_residual, preset_name, resolve_ois,
                        stabilisation_gain)


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _result(*args, **kwargs):
    from ..evaluate.metrics import MetricResult

    return MetricResult(*args, **kwargs)


def _geometry(module) -> tuple[float, float, float]:
    s = module.sensor
    return (float(module.lens.focal_length_mm), float(s.pixel_pitch_um),
            math.hypot(s.width_mm, s.height_mm))


def _check_exposure(exposure_s) -> float:
    if exposure_s is None or not 1e-6 <= float(exposure_s) <= 4.0:
        raise ConfigError(f"exposure_s = {exposure_s}: valid range is 1e-6..4 s")
    return float(exposure_s)


def _ois(module, ois) -> tuple[OisSpec | None, str]:
    """(OIS spec or None, its description for the source text) of the ``ois`` condition
    (:func:`camtwin.motion.stabilise.resolve_ois`: ``module`` → the module's own OIS, else a
    preset name, a dict of :class:`OisSpec` fields or a spec)."""
    spec = resolve_ois(module, ois)
    if not (isinstance(ois, str) and ois == "module"):
        if spec is None:
            return None, "no OIS (ois: none)"
        return spec, (f"the {ois} OIS preset" if isinstance(ois, str) else "a custom OIS")
    st = module_stabiliser(module)
    if spec is None:
        return None, ("no OIS (the module has no stabiliser)" if st is None else
                      "no OIS (the module's stabiliser has none)")
    return spec, (f"the module's OIS ({preset_name(spec, OIS_PRESETS)} preset"
                  + (f"; source: {st.source})" if st.source else ")"))


def _ois_gain(module, *, rng, exposure_s, preset, ois):
    f, _, diag = _geometry(module)
    spec, label = _ois(module, ois)
    if exposure_s is not None:
        _check_exposure(exposure_s)
    g = stabilisation_gain(preset, spec, focal_length_mm=f, sensor_diagonal_mm=diag,
                           rng=_rng(rng))
    value = g.stops if exposure_s is None else (0.0 if spec is None else g.gain_at(exposure_s))
    if not math.isfinite(value):
        why = (f"the {preset} shake never reaches the 63 µm blur threshold between "
               f"{g.exposures_s[0]:.2g} and {g.exposures_s[-1]:.2g} s: nothing to stabilise")
        return _result(math.nan, {"reason": why, "curve": g}, source="not measured", reason=why)
    how = ("log2(T_on/T_off) at the 63 µm blur threshold (CIPA DC-011)" if exposure_s is None
           else f"equal-blur exposure ratio at {exposure_s:g} s")
    return _result(float(value), {"t_off_s": g.t_off_s, "t_on_s": g.t_on_s,
                                  "lower_bound": g.stops_is_lower_bound and exposure_s is None,
                                  "curve": g, "ois": label},
                   source=f"{preset} shake model, {label}, f = {f:g} mm: {how}"
                          + ("; no OIS: 0 stops" if spec is None else ""))


def _shake_traj(module, rng, preset, stabilised, ois, duration_s):
    """(trajectory, text for the source): the shake, seen through the ``ois`` stabiliser
    when ``stabilised``."""
    f, _, _ = _geometry(module)
    gen = _rng(rng)
    traj = shake_trajectory(preset, duration_s + 12.0, gen)
    if not stabilised:
        return traj, ""
    spec, label = _ois(module, ois)
    if spec is None:
        return traj, f", {label}, so unstabilised"
    return ois_residual(traj, spec, f, gen), f" with {label}"


def _shake_blur(module, *, rng, exposure_s, preset, stabilised, ois):
    t = _check_exposure(exposure_s)
    f, pitch, _ = _geometry(module)
    traj, how = _shake_traj(module, rng, preset, stabilised, ois, max(16.0, 8 * t))
    b_um = float(blur_amount_um(traj, [t], f, skip_s=12.0)[0])
    return _result(b_um / pitch, {"blur_um": b_um, "exposure_s": t},
                   source=f"{preset} shake model{how}: mean peak-to-peak image motion during "
                          f"{t:g} s, f = {f:g} mm, pitch {pitch:g} µm")


def _mtf50_loss(module, *, rng, exposure_s, preset, stabilised, ois, field, lux):
    from ..evaluate.imaging import slanted_edge_mtf

    t = _check_exposure(exposure_s)
    f, pitch, _ = _geometry(module)
    gen = _rng(rng)
    sys = slanted_edge_mtf(module, field=field, lux=lux, rng=gen)
    sfr = sys.details["sfr"]
    freq, m_sys = np.asarray(sfr.frequencies_cy_px), np.asarray(sfr.sfr)
    keep = freq <= 1.0
    freq, m_sys = freq[keep], m_sys[keep]
    traj, how = _shake_traj(module, gen, preset, stabilised, ois, max(16.0, 8 * t))
    d = traj.image_px(f, pitch)
    starts = np.linspace(12.0, traj.t_s[-1] - t - 1e-6, 48)
    m_shake = np.mean([np.abs(trajectory_otf(d, traj.t_s, t, freq, t0_s=s0, n_samples=256))
                       for s0 in starts], axis=0)
    m50_sys = mtf50(freq, m_sys)
    m50 = mtf50(freq, m_sys * m_shake)
    return _result(1.0 - m50 / m50_sys, {"mtf50_static_cy_px": m50_sys,
                                              "mtf50_shaken_cy_px": m50,
                                              "frequencies_cy_px": freq,
                                              "shake_mtf": m_shake},
                        source=f"simulated slanted-edge e-SFR × mean |OTF| along the rows of 48 "
                               f"{t:g} s exposures of the {preset} shake model{how}")


def _eis(module, eis, margin_fraction, mode) -> tuple[EisSpec, str]:
    """(EIS spec, text for the source) of the ``eis``, ``margin_fraction`` and ``mode``
    conditions (module docstring): the module's EIS (``eis: module``) or the given one,
    with an explicit margin/mode overriding it; without any, a crop of
    ``margin_fraction`` (0.1) of the sensor width and ``mode`` (per_row)."""
    width = module.sensor.width_px
    if margin_fraction is not None and not 0 <= margin_fraction <= 0.45:
        raise ConfigError(f"margin_fraction = {margin_fraction}: valid range is 0..0.45")
    if isinstance(eis, str) and eis == "module":
        st = module_stabiliser(module)
        base, label = (None if st is None else st.eis), "the module's EIS"
        if base is not None and st.source:
            label += f" ({st.source})"
    elif isinstance(eis, (dict, EisSpec)):
        base, label = (eis if isinstance(eis, EisSpec) else EisSpec.from_dict(eis)), "custom EIS"
    else:
        raise ConfigError(f"eis = {eis!r}: valid is 'module' or a mapping of EisSpec fields "
                          "(margin_px, mode, smoothing_hz, gyro_noise_density_deg_s_rthz)")
    if base is None:   # the module has no EIS: a crop EIS of margin_fraction (as before)
        frac = 0.1 if margin_fraction is None else margin_fraction
        return (EisSpec(margin_px=frac * width, mode=mode or "per_row"),
                f"EIS {mode or 'per_row'} with a {frac:g}·width margin")
    update = {}
    if margin_fraction is not None:
        update["margin_px"] = margin_fraction * width
    if mode is not None:
        update["mode"] = mode
    spec = EisSpec.from_dict({**base.model_dump(), **update})
    return spec, f"{label}, {spec.mode} with a {spec.margin_px:g} px margin"


def _eis_jitter(module, *, rng, preset, eis, margin_fraction, mode, frame_rate_fps,
                exposure_s):
    t = _check_exposure(exposure_s)
    spec, how = _eis(module, eis, margin_fraction, mode)
    f, pitch, _ = _geometry(module)
    s = module.sensor
    line = s.shutter.line_time_s if s.shutter.type == "rolling" else 0.0
    gen = _rng(rng)
    n_frames = 300
    dur = n_frames / frame_rate_fps + s.height_px * line + t + 1.0
    traj = shake_trajectory(preset, dur + 4.0, gen)
    d = traj.image_px(f, pitch)
    i0 = int(4.0 / traj.dt_s)
    res = eis_residual(d[i0:], traj.t_s[i0:], spec, frame_rate_fps=frame_rate_fps,
                       n_frames=n_frames, line_time_s=line, height_px=s.height_px,
                       exposure_s=t, focal_length_px=f * 1e3 / pitch, rng=gen)
    return _result(res.jitter_px, {"unstabilised_px": res.unstabilised_px,
                                   "clipped_fraction": res.clipped_fraction,
                                   "margin_px": spec.margin_px, "mode": spec.mode},
                   source=f"{preset} shake model, {how}, {n_frames} frames at "
                          f"{frame_rate_fps:g} fps")


_SHAKE = {"exposure_s": 1 / 30, "preset": "handheld", "stabilised": False, "ois": "module"}

def motion_metrics() -> dict:
    """The metrics above as ``{name: Metric}`` (built on first use: this module imports
    nothing from :mod:`camtwin.evaluate` at import time, so either package can be imported
    first without an import cycle)."""
    from ..evaluate.metrics import Metric

    return {m.name: m for m in (
        Metric("ois_gain_stops", "stops", "stabilisation gain (CIPA DC-011 style)",
               {"exposure_s": None, "preset": "handheld", "ois": "module"}, _ois_gain),
        Metric("shake_blur_px", "px", "mean peak-to-peak hand-shake blur during the exposure",
               dict(_SHAKE), _shake_blur),
        Metric("mtf50_loss_shake", "", "fractional MTF50 loss from hand shake",
               {**_SHAKE, "field": 0.0, "lux": 1000.0}, _mtf50_loss),
        Metric("eis_jitter_px", "px", "residual RMS jitter of EIS video",
               {"preset": "walking", "eis": "module", "margin_fraction": None,
                "mode": None, "frame_rate_fps": 30.0, "exposure_s": 1 / 60}, _eis_jitter),
    )}


def __getattr__(name: str):
    if name == "MOTION_METRICS":   # PEP 562: `from camtwin.motion.metrics import MOTION_METRICS`
        return motion_metrics()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MOTION_METRICS", "motion_metrics"]
