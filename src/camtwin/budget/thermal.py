"""Self-heating of the die and its effect on dark current.

Steady state (one thermal resistance from die to ambient)::

    T_die = T_ambient + R_th · P                                          [°C, K/W, W]

First-order transient after a power step at t = 0 (module heat capacity C_th [J/K])::

    T_die(t) = T_ambient + R_th · P · (1 − exp(−t/τ)),   τ = R_th · C_th

Dark current doubles every ``dark_doubling_c`` kelvin (:meth:`camtwin.sensor.spec.
SensorSpec.dark_current_at`), so a rise ΔT multiplies it by ``2^(ΔT/T_d)``.

Housing presets (:data:`HOUSINGS`) are *estimates*, stated with their basis: the
junction-to-ambient resistance θ_JA of 9–14 mm BGA/CSP packages soldered to a JEDEC test
board in still air (JESD51-2) is typically 25–45 K/W; an image sensor on a small camera PCB
spreads heat less (``open``: 40 K/W); a sealed plastic housing adds the inner air and the
wall in series (``closed``: 80 K/W); a sealed automotive camera with the sensor PCB coupled
to an aluminium housing by a gap pad (``metal``: 25 K/W); a phone module taped to the metal
mid-frame (``phone``: 30 K/W). Heat capacities: PCB + lens + holder ≈ 2 J/K (open, phone),
with a plastic or aluminium housing ≈ 8 J/K / 25 J/K. Replace them with measured values
where known (``ThermalSpec(r_th_k_per_w=..., c_th_j_per_k=...)``).
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from .._spec import FrozenSpec
from ..errors import ConfigError, unknown_name


class ThermalSpec(FrozenSpec):
    """Die-to-ambient thermal resistance [K/W] and heat capacity [J/K] of a module."""

    name: str = "custom"
    r_th_k_per_w: float = Field(ge=0, le=1000)
    c_th_j_per_k: float = Field(2.0, gt=0, le=1e4)
    note: str = ""

    @property
    def time_constant_s(self) -> float:
        """τ = R_th · C_th [s]."""
        return self.r_th_k_per_w * self.c_th_j_per_k


#: Housing presets (estimates, see the module docstring).
HOUSINGS: dict[str, ThermalSpec] = {t.name: t for t in (
    ThermalSpec(name="open", r_th_k_per_w=40.0, c_th_j_per_k=2.0,
                note="bare module on a small PCB in still air (estimate)"),
    ThermalSpec(name="closed", r_th_k_per_w=80.0, c_th_j_per_k=8.0,
                note="sealed plastic housing, still air (estimate)"),
    ThermalSpec(name="metal", r_th_k_per_w=25.0, c_th_j_per_k=25.0,
                note="sealed aluminium automotive housing, gap pad (estimate)"),
    ThermalSpec(name="phone", r_th_k_per_w=30.0, c_th_j_per_k=2.0,
                note="phone module on the metal mid-frame (estimate)"),
)}


def housing(name_or_spec) -> ThermalSpec:
    """A :class:`ThermalSpec` from a preset name (or the spec itself)."""
    if isinstance(name_or_spec, ThermalSpec):
        return name_or_spec
    if isinstance(name_or_spec, dict):
        return ThermalSpec(**name_or_spec)
    if name_or_spec not in HOUSINGS:
        raise unknown_name("housing", str(name_or_spec), HOUSINGS)
    return HOUSINGS[name_or_spec]


def die_temperature_c(power_mw, ambient_c: float, thermal, t_s=None):
    """Die temperature [°C]: steady state, or at ``t_s`` [s] after the power was switched on
    (first-order step response). Arrays of ``power_mw`` / ``t_s`` broadcast."""
    th = housing(thermal)
    p = np.asarray(power_mw, dtype=np.float64)
    if np.any(p < 0):
        raise ConfigError(f"power_mw = {float(p.min())}: valid range is >= 0")
    rise = th.r_th_k_per_w * p * 1e-3
    if t_s is not None:
        t = np.asarray(t_s, dtype=np.float64)
        tau = th.time_constant_s
        rise = rise * (1.0 - np.exp(-t / tau)) if tau > 0 else rise
    out = ambient_c + rise
    return float(out) if np.ndim(out) == 0 else out


def dark_current_rise_x(delta_t_k, doubling_c: float):
    """Dark-current multiplier of a temperature rise: 2^(ΔT/T_d)."""
    if not doubling_c > 0:
        raise ConfigError(f"doubling_c = {doubling_c}: valid range is > 0 K")
    r = np.exp2(np.asarray(delta_t_k, dtype=np.float64) / doubling_c)
    return float(r) if np.ndim(r) == 0 else r


def self_heated(sensor, power_mw: float, ambient_c: float, thermal, t_s=None):
    """The sensor at its self-heated die temperature (a new frozen SensorSpec whose
    ``temperature_c`` feeds the capture's dark current)."""
    t = die_temperature_c(power_mw, ambient_c, thermal, t_s)
    if not math.isfinite(t):
        raise ConfigError(f"die temperature {t} is not finite")
    return sensor.replace(temperature_c=round(float(t), 6))


def heated_module(module, *, frame_rate_fps: float | None = None, ambient_c: float = 25.0,
                  thermal="closed", power_model="stacked", t_s=None):
    """The module with its sensor at the die temperature it reaches streaming its
    full-resolution mode at ``frame_rate_fps`` (None: the readout-limited rate) in
    ``thermal`` at ``ambient_c`` (power: :mod:`camtwin.budget.power` with the module's
    CSI-2 link when known). Every capture of the returned module — and so every evaluate
    metric — sees the self-heated dark current.

    Example: ``evaluate(heated_module(m, frame_rate_fps=60), load_application("security"))``.
    """
    from .link import mode_for, module_link
    from .power import module_power, sensor_power_mw

    p = sensor_power_mw(mode_for(module.sensor, fps=frame_rate_fps), module_link(module),
                        module_power(module, power_model)[0])
    t = self_heated(module.sensor, p, ambient_c, thermal, t_s).temperature_c
    return module.replace(sensor={"temperature_c": t})


__all__ = ["heated_module", "ThermalSpec", "HOUSINGS", "housing", "die_temperature_c", "dark_current_rise_x",
           "self_heated"]
