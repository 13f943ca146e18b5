"""Eye-safety class of a depth camera's illuminator (IEC 60825-1:2014, 700–1400 nm).

What is computed
----------------
The accessible emission (AE) is compared with the accessible emission limit (AEL) of
Class 1, for the retinal thermal hazard region 700–1400 nm, CW and pulsed emission.

**Correction factors** (IEC 60825-1:2014, Table 9):

* C4 = 10^(0.002 (λ − 700)) for 700 ≤ λ < 1050 nm, C4 = 5 for 1050–1400 nm;
* C7 = 1 for 700–1150 nm, 10^(0.018 (λ − 1150)) for 1150–1200 nm,
  8 + 10^(0.04 (λ − 1250)) for 1200–1400 nm;
* C6 = 1 for α ≤ α_min = 1.5 mrad, α/α_min for α_min < α ≤ α_max, α_max/α_min above, with
  α_max = 5 mrad (t < 625 µs), 200·t^0.5 mrad (625 µs ≤ t ≤ 0.25 s), 100 mrad (t > 0.25 s);
* T2 = 10 s (α ≤ 1.5 mrad), 10·10^((α − 1.5 mrad)/98.5 mrad) s (1.5 < α < 100 mrad),
  100 s (α ≥ 100 mrad).

**Class 1 AEL, 700–1050 nm** (Table 3 for C6 = 1, Table 4 for extended sources):

* 1e-11 ≤ t < 5e-6 s:  7.7e-8 · C4 · C6 J
* 5e-6 s ≤ t ≤ T2:     7e-4 · t^0.75 · C4 · C6 J
* t > T2:              7e-4 · C4 · C6 · C7 · T2^−0.25 W, which for a point source (C6 = 1,
  T2 = 10 s) is the familiar 3.9e-4 · C4 · C7 W (7e-4·10^−0.25 = 3.94e-4, rounded in
  Table 3).

1050–1400 nm: the same with C4 = 5 (7e-4·5 = 3.5e-3), for t ≥ 13 µs only (shorter pulses
there have their own row and are not implemented: one-line error).

**Time base** (4.3 e): 100 s for 400–1400 nm (no intentional long-term viewing); 30 000 s
may be chosen instead.

**Repetitive pulses** (4.3 f), three requirements, the most restrictive applies:

1. every single pulse: Q ≤ AEL_single(t_p);
2. the average power over the time base T: P̄ ≤ AEL(T)/T;
3. thermal, pulse train: Q ≤ AEL_single(t_p) · C5, with N the number of pulses within
   T_max = min(T2, T) and (pulse groups within Ti = 5 µs for 400–1050 nm, 13 µs for
   1050–1400 nm (Table 2) counted as one pulse of duration Ti):
   - t_p ≤ Ti: C5 = 1 if T_max ≤ 0.25 s or N ≤ 600, else C5 = max(5 N^−0.25, 0.4);
   - t_p > Ti: α ≤ 5 mrad → C5 = 1; 5 mrad < α ≤ α_max → C5 = N^−0.25 (N ≤ 40), 0.4
     (N > 40); α > α_max → C5 = N^−0.25 (N ≤ 625), 0.2 (N > 625); α > 100 mrad → C5 = 1.

**Accessible emission** (Table 10, 400–1400 nm): the power through a 7 mm aperture at
100 mm (condition 3, unaided eye) and through a 50 mm aperture at 2000 mm (condition 1,
binoculars), measured from the emitter. For a flood beam wider than the aperture,
AE = I_max · Ω_ap, Ω_ap = 2π(1 − cos(atan(r/z))) (peak radiant intensity, so conservative
for a Gaussian beam), capped at the total power. Not modelled (all make the result more
conservative): the limiting angle of acceptance for extended sources, the search for the
most hazardous position and accommodation, and fault conditions.

**Classes** reported: Class 1 (both conditions ≤ AEL), 1M (condition 3 ≤ AEL, condition 1
above), 3R (≤ 5 × the Class 1 AEL: the definition of Class 3R for invisible radiation),
3B (average power ≤ 0.5 W and, for pulses, pulse energy ≤ 0.03·C4 J (700–1050 nm)
/ 0.15 J (1050–1400 nm), Table 8; taken through the same condition-3 aperture), else 4.
Class 1M cannot arise here: every beam is modelled as diverging from a point at the
emitter, so the condition-3 aperture (3.8e-3 sr) always collects at least the fraction of
condition 1 (4.9e-4 sr); 1M is for wide collimated beams.

CW-modulated emitters (``cw_sine``, ``cw_square``) are treated as CW at
``optical_power_w`` (the power while on): iToF modulation at MHz rates puts hundreds of
periods into one Ti, so the standard sums them into CW-equivalent pulses. A frame-level
``duty_cycle`` < 1 lowers the exposure only if the burst length is given (``burst_s``:
then the bursts are evaluated as a pulse train); without it the emitter is judged as if
always on. That is conservative for the average-power requirement only: for an extended
source, bursts longer than Ti meet a C6 capped by α_max(t_burst) and a C5 down to 0.2, so
the pulse-train requirement can be stricter than CW at the same on-power (a 2 W, 20 mrad
flood at 10 % duty in 1 ms bursts: AE/AEL 0.72 as bursts vs 0.50 as CW).

LEDs
----
LED emitters are outside IEC 60825-1 (since its 2nd edition) and are judged by IEC 62471
(photobiological safety of lamps). For ``kind="led"`` the result also gives the IEC 62471
infrared hazard for the eye (cornea/lens), §4.3.7: E_IR = ∫_{780}^{3000} E_λ dλ at 200 mm
compared with 100 W/m² (t > 1000 s, exempt group), 18000·t^−0.75 W/m² for t ≤ 1000 s,
i.e. 570 W/m² (100 s, RG1) and 3200 W/m² (10 s, RG2). The IEC 62471 retinal thermal
(weak visual stimulus) check needs the source radiance and is not implemented; the IEC
60825-1 Class 1 AEL is reported as a conservative bound for LEDs as well.

References
----------
IEC 60825-1:2014 (Ed. 3), *Safety of laser products – Part 1*: 4.3 e) time base, 4.3 f)
repetitive pulses, Table 2 (Ti), Table 3 / Table 4 (Class 1 AEL), Table 8 (Class 3B),
Table 9 (C4–C7, T2, α_min/α_max), Table 10 (measurement apertures and distances).
IEC 62471:2006, *Photobiological safety of lamps and lamp systems*, §4.3.7, Table 6.1.
The standard itself could not be consulted here; the figures were taken from memory of
Ed. 3 and cross-checked against two independent open implementations of its tables: a
Python ``tables.py`` (700–1050 nm rows of Tables 3, 4, 9 and the C5 rules of 4.3 f, which
this module follows) and a TypeScript laser-safety calculator (same Table 10 apertures,
Ti of Table 2 and 100 s time base; its C5 rule for pulses longer than Ti is simpler and was
not followed). IEC 62471 §4.3.7 limits (100 W/m², 18000·t^−0.75 W/m²) as quoted by an open
IEC 62471 evaluation script of an IR eye-tracking illuminator. Background: K. Schulmeister,
"The new edition of the international laser product safety standard IEC 60825-1",
Seibersdorf Labor white paper (2017). Items to verify against the printed standard: the
C5 = 1 rule for α > 100 mrad, the 3B pulse-energy limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .illuminator import Illuminator

__all__ = ["EyeSafetyResult", "eye_safety", "c4", "c5", "c6", "c7", "t2_s", "alpha_max_mrad",
           "ael_class1_single_j", "ael_class1_cw_w", "ti_s"]

ALPHA_MIN_MRAD = 1.5
#: Table 10, 400–1400 nm: (aperture diameter, distance) [mm]
CONDITION_1_MM = (50.0, 2000.0)
CONDITION_3_MM = (7.0, 100.0)
#: Class 3B limit for t ≥ 0.25 s (Table 8) [W]
CLASS_3B_CW_W = 0.5
#: IEC 62471 §4.3.7 infrared eye hazard limits [W/m²] by group (exposure time)
IEC62471_EIR_W_M2 = {"exempt": 100.0, "RG1": 570.0, "RG2": 3200.0}
IEC62471_DISTANCE_M = 0.2


def _check_wavelength(wavelength_nm: float) -> float:
    lam = float(wavelength_nm)
    if not 700.0 <= lam <= 1400.0:
        raise ConfigError(f"wavelength_nm = {wavelength_nm!r}: the eye-safety model covers "
                          "700–1400 nm (IEC 60825-1 retinal thermal region)")
    return lam


def c4(wavelength_nm: float) -> float:
    """C4 (Table 9): 10^(0.002(λ − 700)) for 700–1050 nm, 5 for 1050–1400 nm."""
    lam = _check_wavelength(wavelength_nm)
    return 10.0 ** (0.002 * (lam - 700.0)) if lam < 1050.0 else 5.0


def c7(wavelength_nm: float) -> float:
    """C7 (Table 9): 1 (700–1150 nm), 10^(0.018(λ − 1150)) (1150–1200 nm),
    8 + 10^(0.04(λ − 1250)) (1200–1400 nm)."""
    lam = _check_wavelength(wavelength_nm)
    if lam < 1150.0:
        return 1.0
    if lam < 1200.0:
        return 10.0 ** (0.018 * (lam - 1150.0))
    return 8.0 + 10.0 ** (0.04 * (lam - 1250.0))


def ti_s(wavelength_nm: float) -> float:
    """Ti, the time below which pulse groups are summed (Table 2): 5 µs (400–1050 nm),
    13 µs (1050–1400 nm)."""
    return 5e-6 if _check_wavelength(wavelength_nm) < 1050.0 else 13e-6


def alpha_max_mrad(t_s: float) -> float:
    """α_max (Table 9): 5 mrad (t < 625 µs), 200·t^0.5 mrad (625 µs–0.25 s), 100 mrad."""
    if t_s < 625e-6:
        return 5.0
    if t_s <= 0.25:
        return 200.0 * t_s**0.5
    return 100.0


def c6(alpha_mrad: float, t_s: float) -> float:
    """C6 (Table 9): 1 (α ≤ α_min), α/α_min, α_max/α_min (α > α_max)."""
    a = min(max(float(alpha_mrad), ALPHA_MIN_MRAD), alpha_max_mrad(t_s))
    return a / ALPHA_MIN_MRAD


def t2_s(alpha_mrad: float) -> float:
    """T2 (Table 9): 10·10^((α − 1.5)/98.5) s with α clipped to [1.5, 100] mrad."""
    a = min(max(float(alpha_mrad), ALPHA_MIN_MRAD), 100.0)
    return 10.0 * 10.0 ** ((a - ALPHA_MIN_MRAD) / 98.5)


def ael_class1_single_j(wavelength_nm: float, t_s: float, alpha_mrad: float = 0.0) -> float:
    """Class 1 AEL [J] for one emission of duration ``t_s`` (Tables 3/4), 700–1400 nm.

    For t > T2 the AEL is a power, returned here as power × t.
    """
    lam = _check_wavelength(wavelength_nm)
    t = float(t_s)
    if not 1e-11 <= t <= 3e4:
        raise ConfigError(f"emission duration {t:g} s: the AEL model covers 1e-11 to 3e4 s")
    k4, k6, k7 = c4(lam), c6(alpha_mrad, t), c7(lam)
    t2 = t2_s(alpha_mrad)
    if t > t2:
        return ael_class1_cw_w(lam, alpha_mrad) * t
    if lam >= 1050.0 and t < 13e-6:
        raise ConfigError(f"pulse duration {t:g} s at {lam:g} nm: the 1050–1400 nm rows for "
                          "pulses shorter than 13 µs are not implemented")
    if t < 5e-6:
        return 7.7e-8 * k4 * k6
    return 7e-4 * t**0.75 * k4 * k6 * k7


def ael_class1_cw_w(wavelength_nm: float, alpha_mrad: float = 0.0) -> float:
    """Class 1 AEL [W] for long exposures t > T2 (Tables 3/4):
    7e-4 · C4 · C6 · C7 · T2^−0.25 (= 3.9e-4 · C4 · C7 for a point source)."""
    lam = _check_wavelength(wavelength_nm)
    a = float(alpha_mrad)
    if a <= ALPHA_MIN_MRAD:
        return 3.9e-4 * c4(lam) * c7(lam)  # Table 3 as printed
    return 7e-4 * c4(lam) * c6(a, 1e4) * c7(lam) * t2_s(a) ** -0.25


def c5(n_pulses: float, pulse_s: float, wavelength_nm: float, alpha_mrad: float,
       t_max_s: float) -> float:
    """C5 (4.3 f, requirement 3), N pulses of duration ``pulse_s`` within T_max (see the
    module docstring)."""
    ti = ti_s(wavelength_nm)
    n = float(n_pulses)
    if pulse_s > 0.25 or n <= 1:
        return 1.0
    if pulse_s <= ti:
        if t_max_s <= 0.25 or n <= 600:
            return 1.0
        return max(5.0 * n**-0.25, 0.4)
    a = float(alpha_mrad)
    if a <= 5.0 or a > 100.0:
        return 1.0
    if a <= alpha_max_mrad(pulse_s):
        return n**-0.25 if n <= 40 else 0.4
    return n**-0.25 if n <= 625 else 0.2


@dataclass(frozen=True)
class EyeSafetyResult:
    """Outcome of :func:`eye_safety`.

    laser_class : "1", "1M", "3R", "3B" or "4" (for an LED: the IEC 60825-1 class it would
        have as a laser, a conservative bound)
    is_class1 : bool
    ael_w : Class 1 AEL for the average power over the time base [W] (requirement 2)
    accessible_emission_w : average power through the condition-3 aperture (7 mm at 100 mm)
    accessible_emission_cond1_w : the same through 50 mm at 2000 mm
    ratio : max AE/AEL over the requirements and conditions (≤ 1: Class 1)
    limiting : which requirement sets ``ratio``: "average power", "single pulse",
        "pulse train"
    ael_single_pulse_j, ael_pulse_train_j, pulse_energy_j : requirement 1 and 3 (pulsed)
    c4, c5, c6, c7, t2_s, alpha_mrad, n_pulses, time_base_s : the factors used
    ratios : AE/AEL per requirement, condition 3 ({"average power": …, "single pulse": …,
        "pulse train": …})
    standard : "IEC 60825-1:2014" or "IEC 62471:2006 (+ IEC 60825-1:2014 bound)"
    iec62471_group : LEDs: "exempt", "RG1", "RG2" or "RG3" from E_IR; None for lasers
    irradiance_200mm_w_m2 : LEDs: E_IR at 200 mm [W/m²]
    notes : what was assumed
    """

    laser_class: str
    is_class1: bool
    ael_w: float
    accessible_emission_w: float
    accessible_emission_cond1_w: float
    ratio: float
    limiting: str
    ael_single_pulse_j: float | None
    ael_pulse_train_j: float | None
    pulse_energy_j: float | None
    c4: float
    c5: float
    c6: float
    c7: float
    t2_s: float
    alpha_mrad: float
    n_pulses: float | None
    time_base_s: float
    standard: str
    ratios: dict = field(default_factory=dict)
    iec62471_group: str | None = None
    irradiance_200mm_w_m2: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _aperture_fraction(ill: Illuminator, aperture_mm: float, distance_mm: float) -> float:
    """Fraction of the power through a centred circular aperture: I_max·Ω_ap / P ≤ 1."""
    half = np.arctan(aperture_mm / 2.0 / distance_mm)
    omega = 2.0 * np.pi * (1.0 - np.cos(half))
    return float(min(1.0, omega / ill.solid_angle_sr))


def eye_safety(illuminator: Illuminator, *, apparent_source_mm: float | None = None,
               time_base_s: float = 100.0, burst_s: float | None = None) -> EyeSafetyResult:
    """Laser class and Class 1 AEL of an illuminator (IEC 60825-1:2014, 700–1400 nm).

    Parameters
    ----------
    illuminator : Illuminator
    apparent_source_mm : (0, 1000] mm or None
        Diameter of the apparent source (e.g. the lit diffuser of a VCSEL flood); its angular
        subtense at 100 mm is α = size/100 mm. None: a point source (C6 = 1), the most
        restrictive case.
    time_base_s : 100 (default) or up to 30 000 s (intentional long-term viewing).
    burst_s : (0, 1] s or None
        Length of one emission burst when ``duty_cycle`` < 1 (e.g. an iToF integration
        window); bursts then repeat at duty_cycle/burst_s.

    Returns
    -------
    EyeSafetyResult (see its docstring; equations in the module docstring).

    Example
    -------
    >>> ill = Illuminator(optical_power_w=0.5e-3, wavelength_nm=850, fov_h_deg=60,
    ...                   fov_v_deg=45)
    >>> r = eye_safety(ill)
    >>> r.laser_class, round(r.ael_w * 1e3, 3)   # 3.9e-4 · 10^0.3 W
    ('1', 0.778)
    """
    ill = illuminator
    lam = _check_wavelength(ill.wavelength_nm)
    tb = float(time_base_s)
    if not 0.25 <= tb <= 3e4:
        raise ConfigError(f"time_base_s = {time_base_s!r}: must be in [0.25, 30000] s "
                          "(100 s is the IEC 60825-1 default for 400–1400 nm)")
    if apparent_source_mm is None:
        alpha = 0.0
    else:
        s = float(apparent_source_mm)
        if not np.isfinite(s) or not 0 < s <= 1000:
            raise ConfigError(f"apparent_source_mm = {apparent_source_mm!r}: must be in "
                              "(0, 1000] mm")
        alpha = s / CONDITION_3_MM[1] * 1e3  # mrad at 100 mm
    if burst_s is not None:
        b = float(burst_s)
        if not np.isfinite(b) or not 0 < b <= 1.0:
            raise ConfigError(f"burst_s = {burst_s!r}: must be in (0, 1] s")
    notes: list[str] = []
    k4, k7 = c4(lam), c7(lam)
    t2 = t2_s(alpha)
    ael_avg = ael_class1_cw_w(lam, alpha) if tb > t2 else ael_class1_single_j(lam, tb, alpha) / tb
    f3 = _aperture_fraction(ill, *CONDITION_3_MM)
    f1 = _aperture_fraction(ill, *CONDITION_1_MM)
    if apparent_source_mm is None:
        notes.append("point source assumed (C6 = 1): give apparent_source_mm for a diffused "
                     "flood")

    # pulse structure seen by the eye: pulse duration tp, pulse rate within a burst
    # f_burst, long-term mean pulse rate ``rate``, pulse energy q
    if ill.modulation == "pulsed":
        tp, f_burst = ill.pulse_width_s, ill.repetition_rate_hz
        rate = ill.repetition_rate_hz * ill.duty_cycle
        p_avg = ill.optical_power_w * ill.duty_cycle
        q = ill.optical_power_w / ill.repetition_rate_hz
        if ill.duty_cycle < 1:
            notes.append("frame-level duty_cycle spreads the pulses: pulse count over T_max "
                         "taken at repetition_rate_hz × duty_cycle")
    elif burst_s is not None and ill.duty_cycle < 1:
        tp, rate = float(burst_s), ill.duty_cycle / float(burst_s)
        f_burst = rate
        p_avg = ill.optical_power_w * ill.duty_cycle
        q = ill.optical_power_w * tp
        notes.append(f"CW modulation evaluated as bursts of {tp:g} s at {rate:g} Hz")
    else:
        tp = rate = q = None
        p_avg = ill.optical_power_w
        if ill.duty_cycle < 1:
            notes.append("duty_cycle < 1 without burst_s: judged as always on (conservative)")

    ratios = {"average power": p_avg * f3 / ael_avg}
    ratios_c1 = {"average power": p_avg * f1 / ael_avg}
    ael_single = ael_train = None
    k5, n = 1.0, None
    k6 = c6(alpha, 1e4)
    if tp is not None:
        ti = ti_s(lam)
        t_max = min(t2, tb)
        if f_burst * ti > 1.0:  # several pulses within Ti: one effective pulse of duration Ti
            per_group = f_burst * ti
            tp_eff, q_eff, n = ti, q * per_group, rate * t_max / per_group
            notes.append(f"{per_group:.3g} pulses within Ti = {ti * 1e6:g} µs summed into one "
                         "effective pulse (4.3 f)")
        else:
            tp_eff, q_eff, n = tp, q, rate * t_max
        ael_single = ael_class1_single_j(lam, tp_eff, alpha)
        k5 = c5(n, tp_eff, lam, alpha, t_max)
        ael_train = ael_single * k5
        k6 = c6(alpha, tp_eff)
        for rr, frac in ((ratios, f3), (ratios_c1, f1)):
            rr["single pulse"] = q_eff * frac / ael_single
            rr["pulse train"] = q_eff * frac / ael_train
    limiting = max(ratios, key=ratios.get)
    ratio3 = ratios[limiting]
    ratio1 = max(ratios_c1.values())
    ratio = max(ratio3, ratio1)
    if ratio <= 1.0:
        cls = "1"
    elif ratio3 <= 1.0:
        cls = "1M"
    elif ratio <= 5.0:
        cls = "3R"
    else:
        q_max = 0.03 * k4 if lam < 1050 else 0.15
        ok_pulse = q is None or q * f3 <= q_max
        cls = "3B" if p_avg * f3 <= CLASS_3B_CW_W and ok_pulse else "4"
        notes.append("3B/4 judged with the condition-3 aperture as for the lower classes "
                     "(Table 8 limits: 0.5 W, pulses 0.03·C4 J / 0.15 J)")
    group = e_ir = None
    standard = "IEC 60825-1:2014"
    if ill.kind == "led":
        standard = "IEC 62471:2006 (+ IEC 60825-1:2014 bound)"
        on = p_avg / ill.optical_power_w if ill.optical_power_w > 0 else 0.0
        e_ir = ill.peak_intensity_w_sr * on / IEC62471_DISTANCE_M**2  # E = I/d², averaged
        group = next((g for g, lim in IEC62471_EIR_W_M2.items() if e_ir <= lim), "RG3")
        notes.append("LED: IEC 62471 infrared eye hazard (E_IR at 200 mm) applies; the IEC "
                     "60825-1 class is a conservative bound; retinal thermal check not "
                     "implemented")
    return EyeSafetyResult(
        laser_class=cls, is_class1=cls == "1", ael_w=ael_avg,
        accessible_emission_w=p_avg * f3, accessible_emission_cond1_w=p_avg * f1,
        ratio=ratio, limiting=limiting if ratio3 >= ratio1 else max(ratios_c1, key=ratios_c1.get),
        ael_single_pulse_j=ael_single, ael_pulse_train_j=ael_train, pulse_energy_j=q,
        c4=k4, c5=k5, c6=k6, c7=k7, t2_s=t2, alpha_mrad=alpha, n_pulses=n, time_base_s=tb,
        standard=standard, ratios=dict(ratios), iec62471_group=group, irradiance_200mm_w_m2=e_ir,
        notes=tuple(notes))
