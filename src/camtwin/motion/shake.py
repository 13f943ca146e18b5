"""Camera shake: a seeded angular trajectory θ(t) with a stated power spectral density.

Model
-----
Each rotation axis (yaw θ_y → horizontal image motion, pitch θ_x → vertical, roll θ_z about
the optical axis) is an independent zero-mean stationary Gaussian process whose one-sided
angle PSD S_θ(f) [rad²/Hz] is a sum of components:

* ``drift`` (postural sway, slow aiming corrections): a second-order low-pass
  S(f) = A/(1 + (f/f_c)²)² with corner f_c;
* ``resonance`` (physiological tremor 8–12 Hz, the gait at ≈ 2 Hz, a vehicle's suspension
  or engine mounts): the response of a damped oscillator to white noise,
  S(f) = A/((1 − (f/f_0)²)² + (f/(Q f_0))²) with centre f_0 and quality factor Q.

Every component is given by its RMS *angular velocity* ω_rms [°/s] (what a gyroscope
reads), so A follows from ω_rms² = ∫ (2πf)² S(f) df (numerical quadrature); for the
low-pass this is ω_rms = 2π f_c θ_rms. The angular-velocity PSD is S_ω(f) = (2πf)² S_θ(f).

Trajectories are synthesised in the frequency domain (Gaussian Fourier coefficients with
variance S_θ(f_k)·Δf/2 per real and imaginary part on the grid f_k = k/(N·dt)): the result
is a Gaussian process whose periodogram expectation is the model PSD at every f_k (exact
for the circular sequence; the test checks Welch estimates of many draws against S_θ).

Sources
-------
* Physiological tremor of the hand 8–12 Hz and the slower voluntary/postural component
  below ≈ 2 Hz: Golik, *Development of a Test Method for Image Stabilizing Systems*,
  diploma thesis, Cologne UAS 2006 (review of the tremor literature, §2); Gavant,
  Alacoque, Dupret & David, "A physiological camera shake model for image stabilization
  systems", IEEE Sensors 2011, doi:10.1109/ICSENS.2011.6127172 (tremor + drift model).
* Camera-holding vibration components at ≈ 2 Hz (the shutter-press action) and ≈ 4 Hz
  (hand micro-vibration and forearm tremor), from accelerometers on hand-held cameras:
  *Japanese Journal of Ergonomics* 31(6), 399 (1995) (J-STAGE jje1965/31/6/31_6_399).
* Amplitude calibration of ``handheld``: the reciprocal rule (a still camera is sharp
  hand-held at exposures up to ≈ 1/f₃₅ s) with the CIPA DC-011 / ISO 20954-1:2019 blur
  threshold (63 µm on a 24 × 36 mm frame): with f₃₅ = 50 mm the CIPA blur amount
  (:func:`camtwin.motion.stabilise.cipa_blur_amount`) of this preset reaches 63 µm near
  1/50 s (checked by a test, within a factor 1.5).
* ``walking``: step frequency ≈ 2 Hz (cadence 100–120 steps/min); ``vehicle``: seat and
  dash-mount vibration dominated by 1–2 Hz body modes and 10–20 Hz wheel-hop / engine
  bands (ISO 2631-1 weighting range). Their amplitudes are illustrative, not measured:
  state your own with :class:`ShakeSpec` when it matters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field

from .._spec import FrozenSpec
from ..errors import ConfigError, unknown_name

#: Frequency grid of the numerical PSD normalisation [Hz].
_F_NORM = np.linspace(0.0, 2000.0, 400001)


class ShakeComponent(FrozenSpec):
    """One spectral component of the angle PSD (see the module docstring).

    ``kind``: ``lowpass`` (corner ``frequency_hz``) or ``resonance`` (centre
    ``frequency_hz``, quality factor ``q``); ``omega_rms_deg_s``: its RMS angular velocity
    [°/s] on each of yaw and pitch; roll gets ``roll_fraction`` of it.
    """

    kind: Literal["lowpass", "resonance"]
    frequency_hz: float = Field(gt=0, le=500)
    omega_rms_deg_s: float = Field(ge=0, le=1000)
    q: float = Field(2.0, gt=0.05, le=100)
    roll_fraction: float = Field(0.5, ge=0, le=10)

    def shape(self, f) -> np.ndarray:
        """Unnormalised S_θ shape at f [Hz]."""
        x = np.asarray(f, dtype=np.float64) / self.frequency_hz
        if self.kind == "lowpass":
            return 1.0 / (1.0 + x * x) ** 2
        return 1.0 / ((1.0 - x * x) ** 2 + (x / self.q) ** 2)

    @property
    def amplitude_rad2_per_hz(self) -> float:
        """A such that ∫ (2πf)² A·shape(f) df = ω_rms² [rad²/Hz]."""
        w = math.radians(self.omega_rms_deg_s)
        if w == 0:
            return 0.0
        return w * w / _velocity_integral(self.kind, self.frequency_hz, self.q)

    def psd(self, f) -> np.ndarray:
        """S_θ(f) [rad²/Hz] (one-sided) on yaw/pitch."""
        return self.amplitude_rad2_per_hz * self.shape(f)


@lru_cache(maxsize=256)
def _velocity_integral(kind: str, frequency_hz: float, q: float) -> float:
    """∫ (2πf)²·shape(f) df of a unit-amplitude component (trapezoid, to 200× its
    frequency; the tail beyond falls as 1/f² and adds < 0.5 %)."""
    f = _F_NORM * (frequency_hz / 10.0)
    comp = ShakeComponent(kind=kind, frequency_hz=frequency_hz, q=q, omega_rms_deg_s=0.0)
    return float(np.trapezoid((2 * np.pi * f) ** 2 * comp.shape(f), f))


class ShakeSpec(FrozenSpec):
    """Camera shake: a named sum of :class:`ShakeComponent` (angle PSD per axis)."""

    name: str = "custom"
    components: tuple[ShakeComponent, ...] = ()

    def angle_psd(self, f, axis: str = "yaw") -> np.ndarray:
        """One-sided angle PSD S_θ(f) [rad²/Hz] of ``axis`` (yaw, pitch or roll)."""
        if axis not in ("yaw", "pitch", "roll"):
            raise ConfigError(f"axis = {axis!r}: valid choices: yaw, pitch, roll")
        f = np.asarray(f, dtype=np.float64)
        out = np.zeros_like(f)
        for c in self.components:
            k = c.roll_fraction ** 2 if axis == "roll" else 1.0
            out = out + k * c.psd(f)
        return out

    def angular_velocity_psd(self, f, axis: str = "yaw") -> np.ndarray:
        """S_ω(f) = (2πf)² S_θ(f) [rad²/s²/Hz]."""
        f = np.asarray(f, dtype=np.float64)
        return (2 * np.pi * f) ** 2 * self.angle_psd(f, axis)

    @property
    def omega_rms_deg_s(self) -> float:
        """Total RMS angular velocity per yaw/pitch axis [°/s] (components add in power)."""
        return math.sqrt(sum(c.omega_rms_deg_s ** 2 for c in self.components))


#: Presets. ``handheld`` = standing photographer holding a still camera / phone.
SHAKE_PRESETS: dict[str, ShakeSpec] = {s.name: s for s in (
    ShakeSpec(name="tripod", components=(
        # residual floor / mirror-shutter shock ringing of a tripod head
        ShakeComponent(kind="resonance", frequency_hz=20.0, q=5.0, omega_rms_deg_s=0.01),)),
    ShakeSpec(name="handheld", components=(
        ShakeComponent(kind="lowpass", frequency_hz=1.0, omega_rms_deg_s=2.4),
        ShakeComponent(kind="resonance", frequency_hz=4.0, q=1.5, omega_rms_deg_s=3.0),
        ShakeComponent(kind="resonance", frequency_hz=10.0, q=2.5, omega_rms_deg_s=3.0),)),
    ShakeSpec(name="walking", components=(
        ShakeComponent(kind="lowpass", frequency_hz=0.5, omega_rms_deg_s=3.0),
        ShakeComponent(kind="resonance", frequency_hz=2.0, q=4.0, omega_rms_deg_s=8.0),
        ShakeComponent(kind="resonance", frequency_hz=4.0, q=4.0, omega_rms_deg_s=4.0),
        ShakeComponent(kind="resonance", frequency_hz=10.0, q=2.5, omega_rms_deg_s=1.5),)),
    ShakeSpec(name="vehicle", components=(
        ShakeComponent(kind="resonance", frequency_hz=1.5, q=2.0, omega_rms_deg_s=2.0),
        ShakeComponent(kind="resonance", frequency_hz=12.0, q=1.5, omega_rms_deg_s=6.0),
        ShakeComponent(kind="resonance", frequency_hz=30.0, q=3.0, omega_rms_deg_s=4.0),)),
)}


def shake_spec(shake) -> ShakeSpec:
    """A :class:`ShakeSpec` from a preset name, a dict or a spec (unknown names listed)."""
    if isinstance(shake, ShakeSpec):
        return shake
    if isinstance(shake, dict):
        return ShakeSpec.from_dict(shake)
    if shake not in SHAKE_PRESETS:
        raise unknown_name("shake preset", str(shake), SHAKE_PRESETS)
    return SHAKE_PRESETS[shake]


@dataclass(frozen=True)
class Trajectory:
    """Camera rotation sampled uniformly in time.

    ``t_s`` (N,) [s]; ``angles_rad`` (N, 3): (θ_pitch, θ_yaw, θ_roll) [rad]. Image
    displacement: :meth:`image_px`.
    """

    t_s: np.ndarray
    angles_rad: np.ndarray

    @property
    def dt_s(self) -> float:
        return float(self.t_s[1] - self.t_s[0])

    def image_px(self, focal_length_mm: float, pixel_pitch_um: float,
                 field_px: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Image displacement (Δrow, Δcol) [px], shape (N, 2), of a point at ``field_px``
        (row, col offset from the optical axis [px]).

        Small-angle rotation of the camera by (θ_p, θ_y, θ_r): the image of a distant point
        moves by f·θ — Δcol = f·θ_y/p, Δrow = f·θ_p/p (f focal length, p pixel pitch) — plus
        the roll rotation about the axis, (Δrow, Δcol) += θ_r·(col, −row). Translation of the
        camera is neglected (distant scene).
        """
        if not focal_length_mm > 0 or not pixel_pitch_um > 0:
            raise ConfigError(f"focal_length_mm = {focal_length_mm}, pixel_pitch_um = "
                              f"{pixel_pitch_um}: both must be > 0")
        k = focal_length_mm * 1e3 / pixel_pitch_um  # px per rad
        a = self.angles_rad
        r0, c0 = (float(v) for v in field_px)
        return np.column_stack([k * a[:, 0] + a[:, 2] * c0, k * a[:, 1] - a[:, 2] * r0])

    def at(self, t_s) -> np.ndarray:
        """Angles (…, 3) [rad] at times ``t_s`` (linear interpolation)."""
        t = np.asarray(t_s, dtype=np.float64)
        return np.stack([np.interp(t, self.t_s, self.angles_rad[:, k]) for k in range(3)],
                        axis=-1)


def synthesise(psd, n: int, dt_s: float, rng) -> np.ndarray:
    """One real Gaussian sequence (n,) with one-sided PSD ``psd(f)`` [units²/Hz].

    Fourier synthesis: X_k = √(S(f_k)·Δf/4)·(a_k + i b_k) (a, b standard normal) for
    0 < k < n/2, Δf = 1/(n·dt), so that x_j = Σ_k 2·Re(X_k e^{2πi jk/n}) has a cosine
    term of variance S(f_k)Δf at every f_k (the real Nyquist term gets variance S·Δf
    alone). Then E[x²] = Σ S(f_k)Δf and the periodogram's expectation at f_k is S(f_k).
    The DC term is zero.
    """
    f = np.fft.rfftfreq(n, dt_s)
    df = 1.0 / (n * dt_s)
    s = np.asarray(psd(f), dtype=np.float64)
    s[0] = 0.0
    amp = np.sqrt(s * df / 4.0)
    spec = amp * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    if n % 2 == 0:
        spec[-1] = 2.0 * amp[-1] * rng.standard_normal()  # real Nyquist term, var S·Δf
    return np.fft.irfft(spec, n) * n


def shake_trajectory(shake, duration_s: float, rng, *, sample_rate_hz: float = 2000.0,
                     ) -> Trajectory:
    """A seeded camera-rotation trajectory of the shake model (module docstring).

    Parameters
    ----------
    shake : str, dict or ShakeSpec
        Preset name (``tripod``, ``handheld``, ``walking``, ``vehicle``) or a spec.
    duration_s : float
        Length [s], 1 ms … 3600 s.
    rng : numpy.random.Generator or int
    sample_rate_hz : float
        Samples per second (≥ 10× the highest component frequency is advisable).

    Returns
    -------
    Trajectory
        (θ_pitch, θ_yaw, θ_roll) [rad] at t = 0, dt, …; independent axes.
    """
    spec = shake_spec(shake)
    if not 1e-3 <= duration_s <= 3600:
        raise ConfigError(f"duration_s = {duration_s}: valid range is 0.001..3600 s")
    if not 10 <= sample_rate_hz <= 1e5:
        raise ConfigError(f"sample_rate_hz = {sample_rate_hz}: valid range is 10..100000")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    dt = 1.0 / sample_rate_hz
    n = max(int(round(duration_s * sample_rate_hz)), 2)
    ang = np.column_stack([synthesise(lambda f, a=a: spec.angle_psd(f, a), n, dt, gen)
                           for a in ("pitch", "yaw", "roll")])
    return Trajectory(t_s=np.arange(n) * dt, angles_rad=ang)


__all__ = ["ShakeComponent", "ShakeSpec", "SHAKE_PRESETS", "shake_spec", "Trajectory",
           "synthesise", "shake_trajectory"]
