"""Time-modulated light: waveforms with exact window integrals, and light sources in a scene.

Waveforms
---------
Every waveform m(t) is dimensionless, periodic with period P = 1/f and normalised to time
mean 1 (as :class:`camtwin.sensor.timing.Flicker`), so a source of time-mean luminance
L̄ [cd/m²] emits L̄·m(t). A phase φ [rad] shifts the waveform by φ/(2π) of its period:
m(t) = m₀(t + φ/(2π f)).

* :class:`PWM` — pulse-width-modulated LED: a trapezoid per period that rises linearly from 0
  to the peak A in ``rise_s``, stays at A, falls linearly to 0 in ``fall_s``, and is 0 for
  the rest of the period. ``duty`` D is the pulse width at half amplitude (the on-time of an
  ideal pulse of the same area), so the area per period is A·D·P and mean 1 gives A = 1/D.
  Plateau length t_h = D·P − (t_r + t_f)/2 ≥ 0 and the pulse must fit in the period,
  D·P + (t_r + t_f)/2 ≤ P. The rise starts at t = −φ/(2πf) + kP.
* :class:`RectifiedMains` — full-wave-rectified mains: the electrical power of a resistive
  load on |sin(2π f_m t)| is ∝ sin²(2π f_m t) = (1 − cos(2π·2f_m·t))/2, so the light flickers
  at f = 2 f_m (100 Hz on 50 Hz mains, 120 Hz on 60 Hz). An LED driver with ripple adds a
  steady part: m = c + (1 − c)·2 sin²(2π f_m t) = 1 − (1 − c)·cos(2π f t), with ``dc_fraction``
  c ∈ [0, 1] (c = 0: light goes to 0 twice per mains cycle; c = 1: steady).
* :class:`Sinusoid` — m = 1 + d·sin(2π f t + φ), depth d ∈ [0, 1] (today's ``Flicker``).
* :class:`Constant` — m = 1.

Exact window integral (all waveforms): with a = t₀ + φ/(2πf), b = t₁ + φ/(2πf), n = ⌊·/P⌋,
u = · − nP ∈ [0, P) and the one-period integral I(u) = ∫₀ᵘ m₀ (I(P) = P because the mean
is 1)::

    ∫_{t₀}^{t₁} m dt = (n_b − n_a)·P + I(u_b) − I(u_a)

I(u) is closed form: for the PWM trapezoid, with A = 1/D,
I(u) = A·[min(u, t_r)²/(2t_r) + clip(u − t_r, 0, t_h) + w − w²/(2t_f)],
w = clip(u − t_r − t_h, 0, t_f); for the sinusoidal waveforms I(u) = u + d(1 − cos 2πfu)/(2πf)
(sine) and u − (1 − c)·sin(2πfu)/(2πf) (rectified mains). The integer period count keeps the
result exact for windows far from t = 0, and an ideal PWM window that lies entirely in the
off part of one period integrates to exactly 0 (both ends on the same plateau of I).

Light sources
-------------
A :class:`LightSource` is an emitter of spectral radiance L(λ)·m(t) over a region of the
scene plane (a :class:`Box` or :class:`Disc` in scene fractions, area-weighted coverage at
the edges), *added* to the radiance of the steady scene behind it (emission adds to what
the surface reflects). Its spectrum S(λ) is scaled to the time-mean luminance
L̄_v = 683 lm/W · Σ L(λ) V(λ) Δλ (the same sum as illuminance, :func:`camtwin.spectra.
illuminance_lux`). A :class:`LitScene` is a steady :class:`~camtwin.scene.Scene` plus light
sources. Because optics and the electron rate are linear in radiance, the sensor sees

    ė(p, t) = ė_steady(p) + Σ_k m_k(t)·ė_k(p)

where ė_k is the electron rate of light k alone at its mean radiance (its optical image,
blur and flare included), and row r collects T·[ė_steady + Σ_k ė_k·⟨m_k⟩_window(r)]
(:func:`modulated_rate`, :func:`capture_lit`).

References
----------
IEEE P2020 Automotive Image Quality white paper (2018), §LED flicker: PWM LED sources at
90–2000 Hz with duty cycles down to ~10 %; a sensor window of length T misses a pulse of
duty D at frequency f with probability 1 − min(1, D + T·f).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, unknown_name

_TWO_PI = 2.0 * np.pi


def _finite(name: str, value, lo: str = "") -> float:
    v = float(value)
    if not np.isfinite(v):
        raise ConfigError(f"{name} = {value}: must be finite{lo}")
    return v


class Waveform:
    """Base of the periodic, mean-1 light waveforms (see the module docstring)."""

    #: name used by :func:`waveform_from_dict`
    kind = "waveform"

    @property
    def period_s(self) -> float:
        return 1.0 / self.frequency_hz

    def _cycle_integral(self, u: np.ndarray) -> np.ndarray:  # ∫₀ᵘ m₀, u ∈ [0, P]
        raise NotImplementedError

    def _cycle_value(self, u: np.ndarray) -> np.ndarray:  # m₀(u), u ∈ [0, P)
        raise NotImplementedError

    def _shift_s(self, phase_rad=None):
        phase = self.phase_rad if phase_rad is None else self.phase_rad + np.asarray(
            phase_rad, dtype=np.float64)
        return phase / (_TWO_PI * self.frequency_hz)

    def window_integral(self, t0_s, t1_s, *, phase_rad=None) -> np.ndarray:
        """∫_{t0}^{t1} m dt [s], exact, vectorised (arrays broadcast; ``phase_rad`` is an
        extra phase [rad] added to the waveform's own, broadcast with the times)."""
        p = self.period_s
        shift = self._shift_s(phase_rad)
        a = np.asarray(t0_s, dtype=np.float64) + shift
        b = np.asarray(t1_s, dtype=np.float64) + shift
        na, nb = np.floor(a / p), np.floor(b / p)
        ua = np.clip(a - na * p, 0.0, p)
        ub = np.clip(b - nb * p, 0.0, p)
        return (nb - na) * p + (self._cycle_integral(ub) - self._cycle_integral(ua))

    def mean_over(self, t0_s, t1_s, *, phase_rad=None) -> np.ndarray:
        """(1/(t1 − t0))·∫_{t0}^{t1} m dt, vectorised; every t1 must exceed its t0."""
        t0 = np.asarray(t0_s, dtype=np.float64)
        t1 = np.asarray(t1_s, dtype=np.float64)
        span = t1 - t0
        if not np.all(span > 0):
            bad = float(np.min(span))
            raise ConfigError(f"window length t1_s − t0_s = {bad:g} s: must be > 0")
        return self.window_integral(t0, t1, phase_rad=phase_rad) / span

    def at(self, t_s, *, phase_rad=None) -> np.ndarray:
        """m(t), vectorised."""
        p = self.period_s
        a = np.asarray(t_s, dtype=np.float64) + self._shift_s(phase_rad)
        return self._cycle_value(a - np.floor(a / p) * p)


@dataclass(frozen=True)
class PWM(Waveform):
    """Pulse-width-modulated LED (trapezoidal pulses, mean 1; module docstring).

    Parameters
    ----------
    frequency_hz : float
        PWM frequency f [Hz], > 0 (LED lamps: typically 50–2000 Hz).
    duty : float
        Pulse width at half amplitude as a fraction of the period, (0, 1] (10 % → 0.1).
    phase_rad : float
        Shift of the pulse train [rad]; 2π is one period.
    rise_s, fall_s : float
        Linear rise / fall times [s], ≥ 0, with (t_r + t_f)/2 ≤ min(D, 1 − D)·P.
    """

    frequency_hz: float
    duty: float
    phase_rad: float = 0.0
    rise_s: float = 0.0
    fall_s: float = 0.0
    kind = "pwm"

    def __post_init__(self):
        f = _finite("pwm frequency_hz", self.frequency_hz)
        if not f > 0:
            raise ConfigError(f"pwm frequency_hz = {self.frequency_hz}: must be > 0 "
                              "(LED PWM: typically 50–2000 Hz)")
        d = _finite("pwm duty", self.duty)
        if not 0 < d <= 1:
            raise ConfigError(f"pwm duty = {self.duty}: valid range is (0, 1] "
                              "(a fraction of the period: 0–100 %)")
        _finite("pwm phase_rad", self.phase_rad)
        for name in ("rise_s", "fall_s"):
            v = _finite(f"pwm {name}", getattr(self, name))
            if not v >= 0:
                raise ConfigError(f"pwm {name} = {v}: must be ≥ 0")
        p = 1.0 / f
        half_ramps = 0.5 * (self.rise_s + self.fall_s)
        limit = min(d, 1.0 - d) * p
        if half_ramps > limit * (1 + 1e-12):
            raise ConfigError(
                f"pwm rise_s + fall_s = {self.rise_s + self.fall_s:g} s: must be ≤ "
                f"2·min(duty, 1 − duty)·period = {2 * limit:g} s at duty {d:g} and "
                f"{f:g} Hz (the trapezoid must fit in the period with its half-amplitude "
                "width equal to the duty)")

    @property
    def peak(self) -> float:
        """Peak value A = 1/D of m (mean 1)."""
        return 1.0 / self.duty

    @property
    def _plateau_s(self) -> float:
        return max(0.0, self.duty * self.period_s - 0.5 * (self.rise_s + self.fall_s))

    def _cycle_integral(self, u):
        tr, tf, th = self.rise_s, self.fall_s, self._plateau_s
        out = np.clip(u - tr, 0.0, th)
        if tr > 0:
            r = np.minimum(u, tr)
            out = out + r * r / (2.0 * tr)
        if tf > 0:
            w = np.clip(u - tr - th, 0.0, tf)
            out = out + w - w * w / (2.0 * tf)
        return out * self.peak

    def _cycle_value(self, u):
        tr, tf, th = self.rise_s, self.fall_s, self._plateau_s
        a = self.peak
        if tr == 0 and tf == 0:
            return np.where(u < th, a, 0.0)
        rise = u / tr if tr > 0 else np.ones_like(u)
        fall = 1.0 - (u - tr - th) / tf if tf > 0 else np.zeros_like(u)
        v = np.where(u < tr, rise, np.where(u < tr + th, 1.0,
                                            np.where(u < tr + th + tf, fall, 0.0)))
        return a * np.clip(v, 0.0, 1.0)


@dataclass(frozen=True)
class RectifiedMains(Waveform):
    """Light of a full-wave-rectified mains supply, m = 1 − (1 − c)·cos(2π·2f_m·t + φ).

    Parameters
    ----------
    mains_frequency_hz : float
        Mains frequency f_m [Hz], > 0 (50 or 60); the light flickers at 2 f_m.
    dc_fraction : float
        Steady part c of the light, [0, 1] (LED drivers with smoothing: ripple 1 − c).
    phase_rad : float
        Shift [rad] in units of the flicker period 1/(2 f_m); φ = 0: minimum at t = 0.
    """

    mains_frequency_hz: float = 50.0
    dc_fraction: float = 0.0
    phase_rad: float = 0.0
    kind = "rectified_mains"

    def __post_init__(self):
        f = _finite("rectified_mains mains_frequency_hz", self.mains_frequency_hz)
        if not f > 0:
            raise ConfigError(f"rectified_mains mains_frequency_hz = {self.mains_frequency_hz}: "
                              "must be > 0 (50 or 60 Hz)")
        c = _finite("rectified_mains dc_fraction", self.dc_fraction)
        if not 0 <= c <= 1:
            raise ConfigError(f"rectified_mains dc_fraction = {self.dc_fraction}: valid range "
                              "is [0, 1]")
        _finite("rectified_mains phase_rad", self.phase_rad)

    @property
    def frequency_hz(self) -> float:
        """Flicker frequency 2·f_m [Hz]."""
        return 2.0 * self.mains_frequency_hz

    def _cycle_integral(self, u):
        w = _TWO_PI * self.frequency_hz
        return u - (1.0 - self.dc_fraction) * np.sin(w * u) / w

    def _cycle_value(self, u):
        return 1.0 - (1.0 - self.dc_fraction) * np.cos(_TWO_PI * self.frequency_hz * u)


@dataclass(frozen=True)
class Sinusoid(Waveform):
    """m = 1 + d·sin(2π f t + φ) (the ``sine`` :class:`~camtwin.sensor.timing.Flicker`)."""

    frequency_hz: float
    depth: float = 1.0
    phase_rad: float = 0.0
    kind = "sine"

    def __post_init__(self):
        f = _finite("sine frequency_hz", self.frequency_hz)
        if not f > 0:
            raise ConfigError(f"sine frequency_hz = {self.frequency_hz}: must be > 0")
        d = _finite("sine depth", self.depth)
        if not 0 <= d <= 1:
            raise ConfigError(f"sine depth = {self.depth}: valid range is [0, 1]")
        _finite("sine phase_rad", self.phase_rad)

    def _cycle_integral(self, u):
        w = _TWO_PI * self.frequency_hz
        return u + self.depth * (1.0 - np.cos(w * u)) / w

    def _cycle_value(self, u):
        return 1.0 + self.depth * np.sin(_TWO_PI * self.frequency_hz * u)


@dataclass(frozen=True)
class Constant(Waveform):
    """m = 1 (a steady source)."""

    kind = "constant"
    frequency_hz = 0.0
    phase_rad = 0.0

    def window_integral(self, t0_s, t1_s, *, phase_rad=None):
        t0, t1 = np.broadcast_arrays(np.asarray(t0_s, dtype=np.float64),
                                     np.asarray(t1_s, dtype=np.float64))
        out = t1 - t0
        if phase_rad is not None:
            out = out + np.zeros(np.shape(phase_rad))
        return out

    def at(self, t_s, *, phase_rad=None):
        shape = np.broadcast_shapes(np.shape(t_s), np.shape(phase_rad) if phase_rad is not None
                                    else ())
        return np.ones(shape)


WAVEFORMS = {"pwm": PWM, "rectified_mains": RectifiedMains, "sine": Sinusoid,
             "constant": Constant}


def waveform_from_dict(spec: dict) -> Waveform:
    """A waveform from a YAML-style mapping ``{"kind": "pwm", "frequency_hz": 90, …}``."""
    if isinstance(spec, Waveform):
        return spec
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"waveform = {spec!r}: needs a mapping with 'kind' (one of "
                          f"{', '.join(WAVEFORMS)})")
    args = dict(spec)
    kind = args.pop("kind")
    if kind not in WAVEFORMS:
        raise unknown_name("waveform kind", kind, WAVEFORMS)
    cls = WAVEFORMS[kind]
    try:
        return cls(**args)
    except TypeError as exc:
        raise ConfigError(f"waveform {kind}: {exc}") from None
