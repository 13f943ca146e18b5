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


def _finite(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {value!r}: must be a number") from None
    if not np.isfinite(v):
        raise ConfigError(f"{name} = {value}: must be finite")
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


# --------------------------------------------------------------------------- regions


def _edges_overlap(n: int, lo: float, hi: float) -> np.ndarray:
    """Fraction of each of n unit cells on [0, n) covered by [lo·n, hi·n] (exact, 1-D)."""
    e = np.arange(n + 1, dtype=np.float64)
    return np.clip(np.minimum(e[1:], hi * n) - np.maximum(e[:-1], lo * n), 0.0, 1.0)


@dataclass(frozen=True)
class Box:
    """Axis-aligned box (y0, y1, x0, x1) in fractions of the scene height / width."""

    y0: float
    y1: float
    x0: float
    x1: float

    def __post_init__(self):
        for name in ("y0", "y1", "x0", "x1"):
            v = _finite(f"box {name}", getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"box {name} = {v}: valid range is [0, 1] (scene fraction)")
        if not (self.y0 < self.y1 and self.x0 < self.x1):
            raise ConfigError(f"box (y0, y1, x0, x1) = ({self.y0}, {self.y1}, {self.x0}, "
                              f"{self.x1}): needs y0 < y1 and x0 < x1")

    def bbox_for(self, shape=None) -> tuple[float, float, float, float]:
        """(y0, y1, x0, x1) in scene fractions (the box itself)."""
        return (self.y0, self.y1, self.x0, self.x1)

    def coverage(self, shape) -> np.ndarray:
        """Exact covered fraction of each scene sample, (H, W) float32."""
        h, w = shape
        return np.outer(_edges_overlap(h, self.y0, self.y1),
                        _edges_overlap(w, self.x0, self.x1)).astype(np.float32)


@dataclass(frozen=True)
class Disc:
    """Disc of centre (cy, cx) in fractions of the scene height / width and ``radius`` in
    fractions of the scene *width* (round on the scene plane: square samples)."""

    cy: float
    cx: float
    radius: float

    def __post_init__(self):
        for name in ("cy", "cx"):
            v = _finite(f"disc {name}", getattr(self, name))
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"disc {name} = {v}: valid range is [0, 1] (scene fraction)")
        r = _finite("disc radius", self.radius)
        if not 0.0 < r <= 0.5:
            raise ConfigError(f"disc radius = {r}: valid range is (0, 0.5] (fraction of the "
                              "scene width)")

    def bbox_for(self, shape) -> tuple[float, float, float, float]:
        """Bounding box (y0, y1, x0, x1) in scene fractions on a scene of ``shape`` (H, W)."""
        h, w = shape
        ry = self.radius * w / h
        return (max(0.0, self.cy - ry), min(1.0, self.cy + ry),
                max(0.0, self.cx - self.radius), min(1.0, self.cx + self.radius))

    def coverage(self, shape, ss: int = 8) -> np.ndarray:
        """Covered fraction of each scene sample, (H, W) float32 (ss × ss supersampling of
        the samples the circle crosses; area error ≲ 1/ss² of the rim samples)."""
        h, w = shape
        out = np.zeros((h, w), dtype=np.float32)
        cy, cx, r = self.cy * h, self.cx * w, self.radius * w  # sample units
        r0, r1 = max(0, int(np.floor(cy - r))), min(h, int(np.ceil(cy + r)) + 1)
        c0, c1 = max(0, int(np.floor(cx - r))), min(w, int(np.ceil(cx + r)) + 1)
        if r0 >= r1 or c0 >= c1:
            return out
        offs = (np.arange(ss) + 0.5) / ss
        ys = (np.arange(r0, r1)[:, None] + offs[None, :]).ravel() - cy
        xs = (np.arange(c0, c1)[:, None] + offs[None, :]).ravel() - cx
        hit = (ys[:, None] ** 2 + xs[None, :] ** 2) <= r * r
        out[r0:r1, c0:c1] = hit.reshape(r1 - r0, ss, c1 - c0, ss).mean(axis=(1, 3))
        return out


# --------------------------------------------------------------------------- sources

#: LED colours → (peak nm, FWHM nm) of a Gaussian emission band, or a tabulated illuminant.
#: Typical values for signal LEDs: AlInGaP red 625–630 nm / amber 590 nm (FWHM ≈ 15–20 nm),
#: InGaN traffic-signal green ≈ 505 nm and blue ≈ 465 nm (FWHM ≈ 25–35 nm); white is a
#: phosphor-converted LED (CIE LED-B3, CIE 015:2018).
LED_COLOURS = {"red": (630.0, 18.0), "amber": (590.0, 15.0), "green": (505.0, 30.0),
               "blue": (465.0, 25.0), "white": "LED"}


def led_spectrum(colour, wavelengths_nm) -> np.ndarray:
    """Relative SPD (L,) of an LED ``colour`` (a :data:`LED_COLOURS` name) or of a
    ``(wavelengths_nm, values)`` table resampled onto ``wavelengths_nm`` (0 outside)."""
    from ..spectra import as_grid, gaussian_led, illuminant_spd

    wl = as_grid(wavelengths_nm)
    if isinstance(colour, str):
        if colour not in LED_COLOURS:
            raise unknown_name("LED colour", colour, LED_COLOURS)
        c = LED_COLOURS[colour]
        return (np.array(illuminant_spd(c, wl), dtype=np.float64) if isinstance(c, str)
                else gaussian_led(wl, *c))
    try:
        x, y = (np.asarray(v, dtype=np.float64) for v in colour)
    except (TypeError, ValueError):
        raise ConfigError(f"light spectrum = {colour!r}: give an LED colour name "
                          f"({', '.join(LED_COLOURS)}) or (wavelengths_nm, values)") from None
    if x.ndim != 1 or x.shape != y.shape or x.size < 2 or np.any(np.diff(x) <= 0):
        raise ConfigError("light spectrum: (wavelengths_nm, values) must be 1-D, of equal "
                          "length ≥ 2, wavelengths increasing")
    if np.any(y < 0) or not np.all(np.isfinite(y)):
        raise ConfigError("light spectrum: values must be finite and ≥ 0")
    return np.interp(wl, x, y, left=0.0, right=0.0)


@dataclass(frozen=True, eq=False)
class LightSource:
    """An emitting region of the scene with a time waveform.

    Parameters
    ----------
    name : str
        Label; its bounding box appears in the scene layout as ``"light:<name>"``.
    region : Box or Disc
        Where it emits, in scene fractions.
    luminance_cd_m2 : float
        Time-mean luminance L̄_v [cd/m²] of the emitting area, > 0 (added to the luminance
        the scene has there).
    waveform : Waveform
        Mean-1 modulation m(t) (default :class:`Constant`).
    spectrum : str or (wavelengths_nm, values)
        LED colour name (:data:`LED_COLOURS`) or a relative SPD table.

    Notes
    -----
    Spectral radiance L(λ, t) = m(t)·L̄_v·S(λ) / (683 lm/W · Σ S V Δλ) [W·sr⁻¹·m⁻²·nm⁻¹].
    """

    name: str
    region: Box | Disc
    luminance_cd_m2: float
    waveform: Waveform = field(default_factory=Constant)
    spectrum: object = "white"

    def __post_init__(self):
        if not isinstance(self.region, (Box, Disc)):
            raise ConfigError(f"light {self.name!r} region = {self.region!r}: must be a Box or "
                              "a Disc")
        lv = _finite(f"light {self.name!r} luminance_cd_m2", self.luminance_cd_m2)
        if not lv > 0:
            raise ConfigError(f"light {self.name!r} luminance_cd_m2 = {lv}: must be > 0")
        if not isinstance(self.waveform, Waveform):
            object.__setattr__(self, "waveform", waveform_from_dict(self.waveform))

    def radiance(self, wavelengths_nm) -> np.ndarray:
        """Time-mean spectral radiance (L,) [W·sr⁻¹·m⁻²·nm⁻¹] on the grid."""
        from ..spectra import scale_to_illuminance

        s = led_spectrum(self.spectrum, wavelengths_nm)
        if not np.any(s > 0):
            raise ConfigError(f"light {self.name!r}: its spectrum is 0 on the scene's "
                              "wavelength grid")
        # luminance and illuminance are the same photometric sum 683·Σ X V Δλ
        return scale_to_illuminance(s, self.luminance_cd_m2, wavelengths_nm)


def light_from_dict(spec: dict) -> LightSource:
    """A light source from a YAML-style mapping::

        {"name": "sign", "box": [y0, y1, x0, x1]            # or "disc": [cy, cx, radius]
         "luminance_cd_m2": 5000, "spectrum": "amber",
         "waveform": {"kind": "pwm", "frequency_hz": 90, "duty": 0.1}}
    """
    if isinstance(spec, LightSource):
        return spec
    if not isinstance(spec, dict):
        raise ConfigError(f"light = {spec!r}: must be a mapping")
    args = dict(spec)
    known = {"name", "box", "disc", "luminance_cd_m2", "spectrum", "waveform"}
    unknown = sorted(set(args) - known)
    if unknown:
        raise ConfigError(f"light: unknown field(s) {unknown}; valid: {', '.join(sorted(known))}")
    if ("box" in args) == ("disc" in args):
        raise ConfigError(f"light {args.get('name')!r}: give exactly one region, box: "
                          "[y0, y1, x0, x1] or disc: [cy, cx, radius]")
    try:
        region = Box(*args.pop("box")) if "box" in args else Disc(*args.pop("disc"))
    except TypeError:
        raise ConfigError(f"light {args.get('name')!r}: box needs 4 numbers [y0, y1, x0, x1], "
                          "disc 3 [cy, cx, radius]") from None
    for req in ("name", "luminance_cd_m2"):
        if req not in args:
            raise ConfigError(f"light: missing field {req!r}")
    wave = waveform_from_dict(args.pop("waveform", {"kind": "constant"}))
    return LightSource(str(args.pop("name")), region, args.pop("luminance_cd_m2"), wave,
                       args.pop("spectrum", "white"))


def traffic_light(colour: str = "red", *, centre=(0.5, 0.5), radius: float = 0.05,
                  waveform: Waveform | dict | None = None, luminance_cd_m2: float = 1.0e4,
                  name: str | None = None) -> LightSource:
    """A round LED traffic-signal lens (disc). Default luminance 10⁴ cd/m²: ≈ 700 cd on
    axis from a 300 mm lens (area 0.071 m²), the order of LED signal heads. Default
    waveform: full-wave-rectified 50 Hz mains (100 Hz flicker), as AC-driven signal heads."""
    return LightSource(name or f"traffic_{colour}", Disc(centre[0], centre[1], radius),
                       luminance_cd_m2, RectifiedMains(50.0) if waveform is None else waveform,
                       colour)


def led_headlamp(*, centre=(0.5, 0.5), radius: float = 0.03,
                 waveform: Waveform | dict | None = None, luminance_cd_m2: float = 1.0e6,
                 name: str = "headlamp") -> LightSource:
    """A white LED headlamp seen head-on (disc). Default 10⁶ cd/m²: ≈ 10 000 cd from a
    0.01 m² lens, the order of a low beam towards an oncoming camera. Default waveform:
    200 Hz PWM at 30 % (dimmed daytime-running / low-beam drivers use 100–500 Hz PWM)."""
    return LightSource(name, Disc(centre[0], centre[1], radius), luminance_cd_m2,
                       PWM(200.0, 0.3) if waveform is None else waveform, "white")


def led_sign(box=(0.4, 0.6, 0.3, 0.7), *, colour: str = "amber",
             waveform: Waveform | dict | None = None, luminance_cd_m2: float = 5.0e3,
             name: str = "sign") -> LightSource:
    """An LED sign / variable-message panel (box). Default 5000 cd/m² (daytime-readable LED
    signs run at thousands of cd/m²) and a 90 Hz, 10 % PWM — the hard IEEE P2020 case."""
    return LightSource(name, Box(*box), luminance_cd_m2,
                       PWM(90.0, 0.1) if waveform is None else waveform, colour)


# --------------------------------------------------------------------------- lit scenes


@dataclass(frozen=True, eq=False)
class LitScene:
    """A steady :class:`~camtwin.scene.Scene` plus light sources with waveforms.

    The steady scene keeps its own illumination (which a global ``flicker`` of
    :func:`~camtwin.sensor.capture` may still modulate); each source adds L_k(λ)·m_k(t).
    """

    scene: object
    lights: tuple = ()

    def __post_init__(self):
        from .scene import Scene

        if not isinstance(self.scene, Scene):
            raise ConfigError(f"LitScene scene = {type(self.scene).__name__}: must be a Scene")
        lights = tuple(self.lights)
        for lt in lights:
            if not isinstance(lt, LightSource):
                raise ConfigError(f"LitScene lights: {lt!r} is not a LightSource")
        names = [lt.name for lt in lights]
        if len(set(names)) != len(names):
            raise ConfigError(f"LitScene light names {names}: must be unique")
        object.__setattr__(self, "lights", lights)

    def coverage(self, k: int) -> np.ndarray:
        """Covered fraction (H, W) of light k on the scene grid."""
        return self.lights[k].region.coverage(self.scene.shape)

    def layout(self) -> dict:
        """The scene's layout plus ``"light:<name>": [bbox]`` for every light."""
        out = dict(self.scene.layout)
        for lt in self.lights:
            out[f"light:{lt.name}"] = [lt.region.bbox_for(self.scene.shape)]
        return out

    def steady_scene(self):
        """The steady part (lights off), with the lights' boxes in its layout."""
        return self.scene.replace(layout=self.layout())

    def light_scene(self, k: int):
        """Light k alone at its time-mean radiance (black elsewhere), on the scene's grid."""
        from .scene import ReflectanceMap, Scene

        lt, sc = self.lights[k], self.scene
        table = lt.radiance(sc.wavelengths_nm).astype(np.float32)[None, :]
        refl = ReflectanceMap(table, weights=self.coverage(k)[None])
        return Scene(wavelengths_nm=sc.wavelengths_nm, width_m=sc.width_m,
                     distance_m=sc.distance_m, name=f"{sc.name}:{lt.name}",
                     illuminant=sc.illuminant, illuminance_lux=sc.illuminance_lux,
                     layout={}, reflectance=refl)

    def mean_scene(self):
        """One steady Scene with every light at its time-mean radiance (a cube; for
        previews and paths without time)."""
        sc = self.scene
        cube = np.array(sc.radiance, dtype=np.float32, copy=True)
        for k, lt in enumerate(self.lights):
            cube += (lt.radiance(sc.wavelengths_nm).astype(np.float32)[:, None, None]
                     * self.coverage(k)[None])
        return sc.replace(radiance=cube, layout=self.layout())

    @property
    def waveforms(self) -> list:
        return [lt.waveform for lt in self.lights]


def add_lights(scene, lights) -> LitScene:
    """``scene`` with light sources: a :class:`LitScene` (lights added to those it has)."""
    if isinstance(scene, LitScene):
        return LitScene(scene.scene, scene.lights + tuple(lights))
    return LitScene(scene, tuple(lights))


# --------------------------------------------------------------------------- capture


def lit_images(module, lit: LitScene, *, window=None):
    """Streamed optical images through ``module``: ``(steady, [light k alone, …])``.

    ``window`` as in :func:`camtwin.camera.shoot` (``module`` the full module, the scene
    filling its full sensor). Each light costs one optical image (its blur and the lens's
    relative illumination act on it as on the steady scene).
    """
    from ..camera import form_module_image

    steady = form_module_image(module, lit.steady_scene(), window=window)
    return steady, [form_module_image(module, lit.light_scene(k), window=window)
                    for k in range(len(lit.lights))]


def _sensor_of(module, window):
    if window is None:
        return module.sensor
    from ..crop import window_module

    return window_module(module, window.x, window.y, window.width, window.height)[0].sensor


def lit_rates(module, lit: LitScene, *, window=None) -> tuple:
    """Electron rates [e⁻/s] (H, W) float32: ``(steady, [light k alone at its mean, …])``.

    Rates are computed once; many phases or exposures then cost only
    :func:`camtwin.sensor.timing.modulated_rate` (MMP over random phases, DOL exposures).
    """
    from ..sensor.capture import electron_rate

    sensor = _sensor_of(module, window)
    steady, lights = lit_images(module, lit, window=window)
    return electron_rate(steady, sensor), [electron_rate(o, sensor) for o in lights]


def capture_lit(module, lit: LitScene, *, exposure_s: float, rng, start_s: float = 0.0,
                flicker=None, motion_px_per_s=(0.0, 0.0), window=None, images=None):
    """Raw frame of a :class:`LitScene`: the steady scene plus every light integrated with
    its own waveform over each row's window (:func:`camtwin.sensor.capture`'s
    ``modulated_light``). ``start_s`` is row 0's integration start [s] (the phase of the
    capture against every waveform); ``flicker`` modulates the steady scene only. The raw's
    ``metadata["layout_px"]`` holds each light's box as ``"light:<name>"`` (full-sensor
    captures; a ``window`` capture carries no layout).

    ``images`` — the result of :func:`lit_images` for this scene and window — skips the
    optics: the images do not depend on the waveforms, so a capture per random phase (MMP)
    reuses them with ``lit`` rebuilt with phase-shifted waveforms, or with a new
    ``start_s``.
    """
    from ..sensor.capture import capture

    sensor = _sensor_of(module, window)
    steady, lights = lit_images(module, lit, window=window) if images is None else images
    if len(lights) != len(lit.lights):
        raise ConfigError(f"images hold {len(lights)} light images for {len(lit.lights)} "
                          "lights; pass lit_images(module, lit, window=window)")
    return capture(steady, sensor, exposure_s, rng, flicker=flicker, start_s=start_s,
                   motion_px_per_s=motion_px_per_s,
                   modulated_light=list(zip(lights, lit.waveforms)))
