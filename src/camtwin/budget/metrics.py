"""Interface, power, thermal and size metrics for :mod:`camtwin.evaluate` (``BUDGET_METRICS``).

Metrics (unit; conditions with defaults) — all computed from the spec, no capture:

``link_required_gbps`` [Gb/s]
    CSI-2 data rate of the full-resolution mode (:func:`camtwin.budget.link.required_gbps`)
    at ``frame_rate_fps`` (None: the sensor's readout-limited rate), ``bits_per_pixel``
    (None: ``adc_bits``), ``h_blank_px`` / ``v_blank_lines`` (0).
``link_utilisation`` [—]
    That rate over the link capacity (> 1: the mode cannot be streamed). The link is the
    catalog sensor's published one, or given by ``phy`` / ``lanes`` / ``lane_rate_gbps``;
    n/a when neither gives one.
``link_max_fps`` [fps]
    Highest frame rate the link carries for the full-resolution mode.
``sensor_power_mw`` [mW]
    :func:`camtwin.budget.power.sensor_power_mw` at ``frame_rate_fps``; ``power_model``
    ``stacked`` (default) or ``legacy`` (calibrated generic models), calibrated to the
    catalog sensor's published typical power in its published mode when it has one
    (:func:`camtwin.budget.power.module_power`; the source says which); I/O of the link
    when known.
``die_temperature_c`` [°C]
    ``ambient_c`` (25) + R_th(``housing``: open/closed/metal/phone, default closed) × power;
    at ``time_s`` after switch-on (None: steady state).
``dark_current_rise_x`` [×]
    Dark current at that die temperature over dark current at ambient: 2^(ΔT/T_d).
``module_z_height_mm`` [mm], ``module_footprint_mm2`` [mm²]
    :func:`camtwin.budget.size.module_size_mm` for ``form`` (phone/wearable/board) and
    ``ttl_mm`` (None: estimated from the focal length; n/a for a fisheye lens, whose track
    length is not a multiple of its focal length).
"""

from __future__ import annotations

import math

from ..evaluate.metrics import Metric, MetricResult
from .link import (link_max_fps, link_utilisation, mode_for, module_link, required_gbps)
from .power import module_power, power_breakdown_mw
from .size import module_size_mm
from .thermal import dark_current_rise_x, die_temperature_c, housing

_MODE = {"frame_rate_fps": None, "bits_per_pixel": None, "h_blank_px": 0, "v_blank_lines": 0}
_LINK = {"phy": None, "lanes": None, "lane_rate_gbps": None}


def _mode(module, frame_rate_fps, bits_per_pixel, h_blank_px, v_blank_lines):
    return mode_for(module.sensor, fps=frame_rate_fps, bits_per_pixel=bits_per_pixel,
                    h_blank_px=int(h_blank_px), v_blank_lines=int(v_blank_lines))


def _no_link(module) -> MetricResult:
    return MetricResult(math.nan, source="CSI-2 link budget",
                        reason=f"no CSI-2 link published for sensor {module.sensor.name!r}; "
                               "give the conditions lanes and lane_rate_gbps (and phy)")


def _link_src(link, published: bool) -> str:
    return (f"CSI-2 packet model over {link.describe()}"
            + (" (catalog figures)" if published else " (given)"))


def _required(module, *, rng, frame_rate_fps, bits_per_pixel, h_blank_px, v_blank_lines):
    m = _mode(module, frame_rate_fps, bits_per_pixel, h_blank_px, v_blank_lines)
    return MetricResult(required_gbps(m), {"mode": m.describe()},
                        source="CSI-2 packet model: line packets (6 B header+footer), "
                               "frame start/end, blanking")


def _utilisation(module, *, rng, frame_rate_fps, bits_per_pixel, h_blank_px, v_blank_lines,
                 phy, lanes, lane_rate_gbps):
    link = module_link(module, phy=phy, lanes=lanes, lane_rate_gbps=lane_rate_gbps)
    if link is None:
        return _no_link(module)
    m = _mode(module, frame_rate_fps, bits_per_pixel, h_blank_px, v_blank_lines)
    return MetricResult(link_utilisation(m, link),
                        {"required_gbps": required_gbps(m), "capacity_gbps": link.capacity_gbps,
                         "mode": m.describe(), "link": link.describe()},
                        source=_link_src(link, lanes is None and lane_rate_gbps is None))


def _max_fps(module, *, rng, bits_per_pixel, h_blank_px, v_blank_lines, phy, lanes,
             lane_rate_gbps):
    link = module_link(module, phy=phy, lanes=lanes, lane_rate_gbps=lane_rate_gbps)
    if link is None:
        return _no_link(module)
    m = _mode(module, None, bits_per_pixel, h_blank_px, v_blank_lines)
    return MetricResult(link_max_fps(m, link), {"link": link.describe(),
                                                "capacity_gbps": link.capacity_gbps},
                        source=_link_src(link, lanes is None and lane_rate_gbps is None))


def _power(module, frame_rate_fps, bits_per_pixel, model) -> tuple[dict, str]:
    m = _mode(module, frame_rate_fps, bits_per_pixel, 0, 0)
    spec, source = module_power(module, model)
    return power_breakdown_mw(m, module_link(module), spec), source


def _sensor_power(module, *, rng, frame_rate_fps, bits_per_pixel, power_model):
    b, source = _power(module, frame_rate_fps, bits_per_pixel, power_model)
    return MetricResult(b["total"], {"breakdown_mw": b, "power_model": str(power_model)},
                        source=source)


def _die_t(module, frame_rate_fps, bits_per_pixel, power_model, ambient_c, housing_, time_s):
    p = _power(module, frame_rate_fps, bits_per_pixel, power_model)[0]["total"]
    return p, die_temperature_c(p, float(ambient_c), housing(housing_), time_s)


def _die_temperature(module, *, rng, frame_rate_fps, bits_per_pixel, power_model, ambient_c,
                     housing, time_s):
    p, t = _die_t(module, frame_rate_fps, bits_per_pixel, power_model, ambient_c, housing,
                  time_s)
    return MetricResult(t, {"power_mw": p, "ambient_c": ambient_c, "housing": str(housing)},
                        source="T_die = T_ambient + R_th·P (camtwin.budget.thermal)")


def _dark_rise(module, *, rng, frame_rate_fps, bits_per_pixel, power_model, ambient_c, housing,
               time_s):
    p, t = _die_t(module, frame_rate_fps, bits_per_pixel, power_model, ambient_c, housing,
                  time_s)
    s = module.sensor
    x = dark_current_rise_x(t - float(ambient_c), s.dark_doubling_c)
    return MetricResult(x, {"die_temperature_c": t, "power_mw": p,
                            "dark_current_e_per_s": s.dark_current_at(t)},
                        source="2^(ΔT/T_d) with the self-heating ΔT = R_th·P")


def _fisheye(module, ttl_mm):
    if ttl_mm is None and not module.lens.rectilinear:
        return MetricResult(math.nan, source="module size model (camtwin.budget.size)",
                            reason=f"lens projection {module.lens.projection!r}: a fisheye's "
                                   "track length is not a multiple of its focal length; give "
                                   "the condition ttl_mm")
    return None


def _z(module, *, rng, form, ttl_mm):
    if (na := _fisheye(module, ttl_mm)) is not None:
        return na
    d = module_size_mm(module, form=form, ttl_mm=ttl_mm)
    return MetricResult(d["z_mm"], d, source="module size model (camtwin.budget.size)")


def _footprint(module, *, rng, form, ttl_mm):
    if (na := _fisheye(module, ttl_mm)) is not None:
        return na
    d = module_size_mm(module, form=form, ttl_mm=ttl_mm)
    return MetricResult(d["footprint_mm2"], d, source="module size model (camtwin.budget.size)")


_THERMAL = {"frame_rate_fps": None, "bits_per_pixel": None, "power_model": "stacked",
            "ambient_c": 25.0,
            "housing": "closed", "time_s": None}
_SIZE = {"form": "phone", "ttl_mm": None}

BUDGET_METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("link_required_gbps", "Gb/s", "CSI-2 data rate of the full-resolution mode",
           dict(_MODE), _required),
    Metric("link_utilisation", "", "CSI-2 data rate over link capacity (≤ 1 streams)",
           {**_MODE, **_LINK}, _utilisation),
    Metric("link_max_fps", "fps", "highest full-resolution frame rate the CSI-2 link carries",
           {k: v for k, v in {**_MODE, **_LINK}.items() if k != "frame_rate_fps"}, _max_fps),
    Metric("sensor_power_mw", "mW", "sensor power while streaming",
           {"frame_rate_fps": None, "bits_per_pixel": None, "power_model": "stacked"},
           _sensor_power),
    Metric("die_temperature_c", "°C", "self-heated die temperature", dict(_THERMAL),
           _die_temperature),
    Metric("dark_current_rise_x", "×", "dark current rise from self-heating", dict(_THERMAL),
           _dark_rise),
    Metric("module_z_height_mm", "mm", "module z-height", dict(_SIZE), _z),
    Metric("module_footprint_mm2", "mm²", "module x·y footprint", dict(_SIZE), _footprint),
)}

__all__ = ["BUDGET_METRICS"]
