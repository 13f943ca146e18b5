"""Day/night camera modules: a switchable IR-cut filter and an NIR illuminator.

A security camera images in colour by day and in the near infrared by night. Its IR-cut
filter sits in an *IR-cut filter removal* (ICR) switcher between lens and sensor: by day
the filter is in the optical path (visible light only, correct colour); at dusk the
switcher swaps it for a clear glass and the camera's own 850 nm or 940 nm LEDs light the
scene. A module therefore has two **states**:

* ``day``   — filter in, illuminator off: the module exactly as written (``lens.ir_cut`` is
  the filter the switcher swings in). Every module without a ``day_night`` block is always
  in this state, so nothing changes for it.
* ``night`` — filter out (replaced by the switcher's clear glass), illuminator on.

:meth:`camtwin.module.ModuleSpec.in_state` returns the frozen module of a state (a pure
function; the night module remembers the day lens so ``in_state("day")`` restores it
exactly).

Optics of the night state
-------------------------
Day: T_day(λ) = T_lens · T_IRcut(λ) (:meth:`camtwin.optics.lens.IRCutSpec.transmission`,
≈ T_pass in the visible and T_block ≈ 10⁻³ at 850 nm). Night: the filter is replaced by
the clear glass of the switcher, T_night(λ) = T_lens · T_glass, flat; ``T_glass`` defaults
to the filter's passband transmission (the two plates of an ICR carry the same AR
coatings), so the night state transmits at 850 nm what the day state transmits in the
visible.

NIR illuminator
---------------
An LED array of on-axis radiant intensity I₀ [W/sr] and beam angle 2θ½ (full angle at half
intensity, as LED datasheets state it). Its intensity off axis follows the generalised
Lambertian pattern I(θ) = I₀·cos^m θ with m = −ln 2 / ln cos θ½ (m = 1 for a bare
Lambertian emitter, θ½ = 60°). The irradiance on a target facing the camera at distance
d [m] (source and camera co-located, inverse-square law, normal incidence) is

    E(d, θ) = I₀ · cos^m θ / d²                                  [W/m²]

and the distance at which the target receives the irradiance E₁₀ that the module needs for
SNR 10 (``nir_irradiance_at_snr10_mw_m2``) is

    d₁₀ = √(I₀ · cos^m θ / E₁₀)                                  [m].

Target radiance, and hence the image irradiance and SNR, depend on E alone (a Lambertian
target of reflectance ρ has L = ρE/π whatever its distance), so E₁₀ measured on the uniform
target at the module's object distance holds at every distance (the working f-number's
small change with focus distance aside).

References
----------
* ICR principle and product class: shopdelta.eu technical dictionary "ICR – mechanical
  infrared cut-off filter" ("Almost all new Day/Night cameras for 24h monitoring with CMOS
  image sensor … include an ICR filter"); sinoseen.com "IR-CUT of camera module" (an IR-cut
  filter and a full-spectrum glass on one switcher).
* Generalised Lambertian LED pattern: I. Moreno, C.-C. Sun, "Modeling the radiation
  pattern of LEDs", Opt. Express 16(3), 1808–1819 (2008), eq. 1 (I = I₀ cos^m θ,
  m = −ln 2 / ln cos θ½).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ._spec import FrozenSpec
from .errors import ConfigError
from .optics.lens import LensSpec

#: The states of a module, default first.
STATES = ("day", "night")
#: Illuminants that only a night-state module (filter out) can see.
NIR_ILLUMINANTS = ("IR850", "IR940")
#: Metrics that are measured in the night state whatever their conditions.
NIGHT_METRICS = ("nir_illuminator_range_m",)
#: Below this transmission at the illuminant's peak an IR-cut counts as blocking it.
BLOCKING_TRANSMISSION = 0.1


class IlluminatorSpec(FrozenSpec):
    """The module's own NIR LEDs (on in the night state).

    ``radiant_intensity_mw_sr`` is the on-axis radiant intensity I₀ of the whole array
    [mW/sr] (sum of the LEDs' datasheet values at their drive current); ``beam_angle_deg``
    the full angle 2θ½ at half intensity [°]. See the module docstring for E(d, θ).
    """

    wavelength_nm: Literal[850, 940] = Field(850, description="peak wavelength [nm]")
    radiant_intensity_mw_sr: float = Field(gt=0, le=1e5, description=(
        "on-axis radiant intensity of the LED array [mW/sr]"))
    beam_angle_deg: float = Field(60.0, gt=0, lt=180, description=(
        "full angle at half intensity 2θ½ [°]"))

    @property
    def illuminant(self) -> str:
        """Name of the matching :data:`camtwin.spectra.ILLUMINANTS` entry (IR850/IR940)."""
        return f"IR{self.wavelength_nm}"

    @property
    def lambertian_order(self) -> float:
        """m of I(θ) = I₀·cos^m θ: −ln 2 / ln cos θ½ (1 for θ½ = 60°)."""
        half = math.radians(self.beam_angle_deg / 2.0)
        return -math.log(2.0) / math.log(math.cos(half))

    def irradiance_w_m2(self, distance_m, off_axis_deg=0.0) -> np.ndarray:
        """E = I₀·cos^m θ / d² [W/m²] on a target facing the module at ``distance_m`` [m],
        ``off_axis_deg`` [°] off the beam axis (0 ≤ θ < 90)."""
        d = np.asarray(distance_m, dtype=np.float64)
        th = np.radians(np.asarray(off_axis_deg, dtype=np.float64))
        if np.any(~(d > 0)):
            raise ConfigError(f"distance_m = {distance_m}: must be > 0")
        if np.any(~((th >= 0) & (th < math.pi / 2))):
            raise ConfigError(f"off_axis_deg = {off_axis_deg}: valid range is [0, 90)")
        return self.radiant_intensity_mw_sr * 1e-3 * np.cos(th) ** self.lambertian_order / d**2

    def distance_at_irradiance_m(self, irradiance_w_m2: float, off_axis_deg: float = 0.0
                                 ) -> float:
        """d = √(I₀·cos^m θ / E) [m]: where the array alone gives ``irradiance_w_m2``."""
        if not irradiance_w_m2 > 0:
            return math.inf
        th = math.radians(off_axis_deg)
        return math.sqrt(self.radiant_intensity_mw_sr * 1e-3
                         * math.cos(th) ** self.lambertian_order / irradiance_w_m2)


class DayNightSpec(FrozenSpec):
    """Day/night switching of a module (see the module docstring).

    ``ir_cut_switchable``: the filter given as ``lens.ir_cut`` sits in an ICR switcher and
    leaves the optical path at night (False: the filter is fixed, only the illuminator
    switches). ``night_glass_transmission``: flat transmission of the switcher's clear
    glass (None: the filter's passband transmission). ``illuminator``: the NIR LEDs, on at
    night. ``day_lens`` is set by ``in_state("night")`` (the lens to restore by day); do
    not write it.
    """

    ir_cut_switchable: bool = True
    night_glass_transmission: float | None = Field(None, gt=0, le=1, description=(
        "flat transmission of the clear glass swung in at night"))
    illuminator: IlluminatorSpec | None = None
    day_lens: LensSpec | None = None


def check_module_states(module) -> None:
    """Consistency of ``day_night``, ``state`` and ``lens.ir_cut`` (raises ValueError,
    which the ModuleSpec validator reports as one line)."""
    dn, state = module.day_night, module.state
    if dn is None:
        if state != "day":
            raise ValueError(f"state = {state!r}: a module without a day_night block has "
                             "only the 'day' state")
        return
    if state == "day":
        if dn.day_lens is not None:
            raise ValueError("day_night.day_lens: set only in the night state "
                             "(by ModuleSpec.in_state('night')); remove it")
        if dn.ir_cut_switchable and module.lens.ir_cut is None:
            raise ValueError("day_night.ir_cut_switchable = True but lens.ir_cut is None: "
                             "give the filter the switcher swings in by day as lens.ir_cut "
                             "(or set ir_cut_switchable: false)")
    elif dn.day_lens is None:
        raise ValueError("state = 'night' without day_night.day_lens: write the day module "
                         "and derive the night one with ModuleSpec.in_state('night')")
    elif dn.ir_cut_switchable and module.lens.ir_cut is not None:
        raise ValueError("state = 'night': lens.ir_cut must be None (the switcher has "
                         "swung the filter out)")


def module_in_state(module, state: str):
    """The frozen module of ``state`` ("day" or "night"); see the module docstring.

    A module without ``day_night`` is the same in both states (returned as is).
    """
    if state not in STATES:
        raise ConfigError(f"state = {state!r}: valid choices are {', '.join(STATES)}")
    dn = module.day_night
    if dn is None or state == module.state:
        return module
    if state == "day":
        return module.model_copy(update={
            "lens": dn.day_lens, "state": "day",
            "day_night": dn.model_copy(update={"day_lens": None})})
    lens = module.lens
    if dn.ir_cut_switchable:
        glass = (dn.night_glass_transmission if dn.night_glass_transmission is not None
                 else lens.ir_cut.passband_transmission)
        lens = lens.model_copy(update={"ir_cut": None,
                                       "transmission": lens.transmission * glass})
    return module.model_copy(update={
        "lens": lens, "state": "night",
        "day_night": dn.model_copy(update={"day_lens": module.lens})})


def metric_state(metric: str, conditions: dict | None = None) -> str:
    """State a metric is measured in under ``conditions``: "night" for NIR illuminants
    (:data:`NIR_ILLUMINANTS`, also a metric's default one) and night metrics
    (:data:`NIGHT_METRICS`), "day" otherwise."""
    if metric in NIGHT_METRICS:
        return "night"
    illuminant = (conditions or {}).get("illuminant")
    if illuminant is None:
        from .evaluate.metrics import METRICS

        m = METRICS.get(metric)
        illuminant = None if m is None else m.conditions.get("illuminant")
    return "night" if illuminant in NIR_ILLUMINANTS else "day"


def requirement_state(requirement) -> str:
    """State a requirement is measured in: its ``state`` if given, else
    :func:`metric_state` of its metric and conditions."""
    explicit = getattr(requirement, "state", None)
    if explicit is not None:
        return explicit
    return metric_state(requirement.metric, requirement.conditions)


def nir_block_note(module, illuminant: str | None) -> str | None:
    """A sentence when the module's lens has an IR-cut that blocks the NIR ``illuminant``
    (transmission at its peak < :data:`BLOCKING_TRANSMISSION`), else None."""
    if illuminant not in NIR_ILLUMINANTS or module.lens.ir_cut is None:
        return None
    peak = float(illuminant[2:])
    ir = module.lens.ir_cut
    t = float(ir.transmission(peak))
    if t >= BLOCKING_TRANSMISSION:
        return None
    dn = module.day_night
    how = ("fixed in the optical path (no IR-cut switcher)"
           if dn is None or not dn.ir_cut_switchable else f"in the {module.state} state")
    return (f"the IR-cut filter (50 % at {ir.cutoff_nm:g} nm) transmits {100 * t:.2g} % at "
            f"{peak:g} nm: {how}, it blocks the {illuminant} illumination")


__all__ = ["STATES", "NIR_ILLUMINANTS", "NIGHT_METRICS", "IlluminatorSpec", "DayNightSpec",
           "module_in_state", "metric_state", "requirement_state", "nir_block_note",
           "check_module_states"]
