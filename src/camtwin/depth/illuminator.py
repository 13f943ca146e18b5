"""Active NIR illuminators of depth cameras: VCSEL or LED floods.

Beam model
----------
Directions are written with the tangent coordinates of a pinhole camera, a = v_x/v_z and
b = v_y/v_z for a direction v along the illuminator's axis (+z), and the angles
θx = atan a, θy = atan b. The radiant intensity I(θx, θy) [W/sr] is

* ``flat``:     I = I₀ inside |θx| ≤ Θh/2 and |θy| ≤ Θv/2, 0 outside (a rectangular
  field of illumination with hard edges; Θh, Θv = ``fov_h_deg``, ``fov_v_deg``);
* ``gaussian``: I = I₀ · exp(−4 ln 2 · (θx²/Θh² + θy²/Θv²)), so Θh and Θv are the full
  widths at half maximum (FWHM) along the two axes.

I₀ is set so the beam carries the optical power P = ``optical_power_w``:

    ∬ I dΩ = P,   dΩ = da db / (1 + a² + b²)^{3/2}.

For the flat beam this is closed-form: Ω = 4·arcsin(sin(Θh/2)·sin(Θv/2)) is the solid angle
of a rectangular pyramid, I₀ = P/Ω. For the Gaussian the integral is evaluated once on a
fine (θx, θy) grid (dΩ = sec²θx sec²θy / (1 + tan²θx + tan²θy)^{3/2} dθx dθy).

Power and time
--------------
``optical_power_w`` is the mean optical power **while the emitter is on**, averaged over the
modulation period (it is what a power meter reads during a burst). ``duty_cycle`` is the
fraction of the time the emitter is on at the frame level (e.g. integration windows of an
iToF camera / frame time); it scales only long-term quantities (average power, eye safety
over the 100 s time base, energy per frame). Peak power:

* ``cw_sine``   (full-depth sinusoid P(t) = P(1 + cos ωt)):  P_peak = 2 P;
* ``cw_square`` (50 % duty square wave):                     P_peak = 2 P;
* ``pulsed``    (rectangular pulses of width τ at rate f):   P_peak = P/(τ f),
  pulse energy Q = P/f.

References
----------
Solid angle of a rectangular pyramid: e.g. Khadjavi, "Calculation of solid angle subtended
by rectangular apertures", J. Opt. Soc. Am. 58, 1417 (1968).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from .._spec import FrozenSpec

__all__ = ["Illuminator"]

_FOUR_LN2 = 4.0 * np.log(2.0)


class Illuminator(FrozenSpec):
    """A VCSEL or LED flood illuminator.

    Fields
    ------
    kind : "vcsel" | "led"
        Laser (IEC 60825-1 applies) or LED (IEC 62471 applies; see :mod:`.eyesafety`).
    optical_power_w : [0, 100] W
        Mean optical power while the emitter is on (averaged over the modulation period).
    wavelength_nm : [700, 1400] nm
        Peak (centroid) wavelength.
    bandwidth_nm : (0, 200] nm
        Spectral FWHM (VCSEL ≈ 1–2 nm, NIR LED ≈ 30–50 nm).
    fov_h_deg, fov_v_deg : (0, 170] deg
        Field of illumination: full width (flat) or FWHM (gaussian), horizontal/vertical.
    profile : "flat" | "gaussian"
    modulation : "cw_sine" | "cw_square" | "pulsed"
    pulse_width_ns : (0, 1e9] ns, pulsed only
    repetition_rate_hz : (0, 1e10] Hz, pulsed only; τ·f ≤ 1.
    duty_cycle : (0, 1]
        Fraction of the time the emitter is on at the frame level (bursts), default 1.

    Example
    -------
    >>> ill = Illuminator(kind="vcsel", optical_power_w=1.0, wavelength_nm=940,
    ...                   bandwidth_nm=2, fov_h_deg=70, fov_v_deg=55, profile="flat",
    ...                   modulation="pulsed", pulse_width_ns=2, repetition_rate_hz=1e6)
    >>> round(ill.peak_power_w), ill.pulse_energy_j
    (500, 1e-06)
    """

    kind: Literal["vcsel", "led"] = "vcsel"
    optical_power_w: float = Field(ge=0, le=100)
    wavelength_nm: float = Field(ge=700, le=1400)
    bandwidth_nm: float = Field(2.0, gt=0, le=200)
    fov_h_deg: float = Field(gt=0, le=170)
    fov_v_deg: float = Field(gt=0, le=170)
    profile: Literal["flat", "gaussian"] = "flat"
    modulation: Literal["cw_sine", "cw_square", "pulsed"] = "cw_square"
    pulse_width_ns: float | None = Field(None, gt=0, le=1e9)
    repetition_rate_hz: float | None = Field(None, gt=0, le=1e10)
    duty_cycle: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _pulse_fields(self):
        if self.modulation == "pulsed":
            if self.pulse_width_ns is None or self.repetition_rate_hz is None:
                missing = "pulse_width_ns" if self.pulse_width_ns is None else "repetition_rate_hz"
                raise ValueError(f"{missing} is required when modulation = 'pulsed'")
            duty = self.pulse_width_ns * 1e-9 * self.repetition_rate_hz
            if duty > 1.0:
                raise ValueError(
                    f"pulse_width_ns × repetition_rate_hz = {self.pulse_width_ns:g} ns × "
                    f"{self.repetition_rate_hz:g} Hz = {duty:.3g}: pulses overlap; must be <= 1")
        else:
            for name in ("pulse_width_ns", "repetition_rate_hz"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} = {getattr(self, name)!r}: only valid with "
                                     f"modulation = 'pulsed' (modulation is "
                                     f"{self.modulation!r})")
        return self

    # ------------------------------------------------------------------ time
    @property
    def pulse_width_s(self) -> float | None:
        return None if self.pulse_width_ns is None else self.pulse_width_ns * 1e-9

    @property
    def pulse_duty_cycle(self) -> float:
        """Fraction of each modulation period the emitter radiates: τ·f (pulsed), 0.5 for
        the square wave, 1 for the sinusoid (always on, varying)."""
        if self.modulation == "pulsed":
            return self.pulse_width_s * self.repetition_rate_hz
        return 0.5 if self.modulation == "cw_square" else 1.0

    @property
    def peak_power_w(self) -> float:
        """Peak optical power [W]: 2P (cw_sine, cw_square), P/(τ f) (pulsed)."""
        if self.modulation == "pulsed":
            return self.optical_power_w / self.pulse_duty_cycle
        return 2.0 * self.optical_power_w

    @property
    def pulse_energy_j(self) -> float | None:
        """Energy per pulse Q = P/f [J] (pulsed), else None."""
        if self.modulation != "pulsed":
            return None
        return self.optical_power_w / self.repetition_rate_hz

    @property
    def average_power_w(self) -> float:
        """Long-term average optical power P·duty_cycle [W]."""
        return self.optical_power_w * self.duty_cycle

    # ------------------------------------------------------------------ beam
    @property
    def solid_angle_sr(self) -> float:
        """Effective solid angle Ω_eff = P / I₀ [sr] (the exact solid angle of the field for
        ``flat``)."""
        return _beam_solid_angle(self.profile, self.fov_h_deg, self.fov_v_deg)

    @property
    def peak_intensity_w_sr(self) -> float:
        """On-axis (maximum) radiant intensity I₀ = P/Ω_eff [W/sr]."""
        return self.optical_power_w / self.solid_angle_sr

    def relative_intensity(self, theta_x, theta_y) -> np.ndarray:
        """I(θx, θy)/I₀ for angles θx = atan(v_x/v_z), θy = atan(v_y/v_z) [rad]."""
        return _shape(self.profile, np.radians(self.fov_h_deg), np.radians(self.fov_v_deg),
                      np.asarray(theta_x, dtype=np.float64),
                      np.asarray(theta_y, dtype=np.float64))

    def radiant_intensity_w_sr(self, directions) -> np.ndarray:
        """Radiant intensity [W/sr] toward direction vectors (..., 3) (any length; along the
        illuminator's +z axis frame); 0 for directions with v_z ≤ 0."""
        v = np.asarray(directions, dtype=np.float64)
        vz = v[..., 2]
        fwd = vz > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            tx = np.arctan2(v[..., 0], vz)
            ty = np.arctan2(v[..., 1], vz)
            rel = self.relative_intensity(tx, ty)
        return np.where(fwd, self.peak_intensity_w_sr * rel, 0.0)


def _shape(profile: str, fh: float, fv: float, tx: np.ndarray, ty: np.ndarray) -> np.ndarray:
    if profile == "flat":
        return ((np.abs(tx) <= fh / 2) & (np.abs(ty) <= fv / 2)).astype(np.float64)
    return np.exp(-_FOUR_LN2 * ((tx / fh) ** 2 + (ty / fv) ** 2))


@lru_cache(maxsize=256)
def _beam_solid_angle(profile: str, fov_h_deg: float, fov_v_deg: float) -> float:
    """∬ I/I₀ dΩ [sr] for the beam shape (closed form for flat, 2-D midpoint rule on a
    2001×2001 grid of (θx, θy), each within ±min(π/2, 6 FWHM), for gaussian)."""
    fh, fv = np.radians(fov_h_deg), np.radians(fov_v_deg)
    if profile == "flat":
        return float(4.0 * np.arcsin(np.sin(fh / 2) * np.sin(fv / 2)))
    n = 2001

    def axis(fwhm):  # beyond 6 FWHM the Gaussian is below e^-99
        half = min(np.pi / 2, 6.0 * fwhm)
        edges = np.linspace(-half, half, n + 1)
        return (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]

    (tx, dx), (ty, dy) = axis(fh), axis(fv)
    tx, ty = tx[None, :], ty[:, None]
    a2, b2 = np.tan(tx) ** 2, np.tan(ty) ** 2
    jac = (1 + a2) * (1 + b2) / (1 + a2 + b2) ** 1.5  # sec²θx sec²θy / (1+a²+b²)^{3/2}
    return float(np.sum(_shape(profile, fh, fv, tx, ty) * jac) * dx * dy)
