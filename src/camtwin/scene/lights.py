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

    @property
    def name(self) -> str:
        """The steady scene's name (reports, notebook displays)."""
        return self.scene.name

    @property
    def illuminance_lux(self):
        """The steady scene's illuminance [lx] (the lights add their own luminance)."""
        return self.scene.illuminance_lux

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.scene.shape)

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


def lit_images(module, lit: LitScene, *, window=None, band_group_nm="default", progress=None):
    """Streamed optical images through ``module``: ``(steady, [light k alone, …])``.

    ``window`` as in :func:`camtwin.camera.shoot` (``module`` the full module, the scene
    filling its full sensor). Each light costs one optical image (its blur and the lens's
    relative illumination act on it as on the steady scene). ``band_group_nm`` as in
    :func:`camtwin.camera.form_module_image` ("default": its default);
    ``progress(done, total)`` counts band groups over all the images.
    """
    from ..camera import form_module_image

    kw = {} if isinstance(band_group_nm, str) else {"band_group_nm": band_group_nm}
    n = len(lit.lights) + 1

    def step(k):
        if progress is None:
            return None
        return lambda d, total: progress(k * total + d, n * total)

    steady = form_module_image(module, lit.steady_scene(), window=window, progress=step(0),
                               **kw)
    return steady, [form_module_image(module, lit.light_scene(k), window=window,
                                      progress=step(k + 1), **kw)
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
    ``metadata["layout_px"]`` holds each light's box as ``"light:<name>"`` (for a ``window``:
    in window pixels, lights whose box misses the window left out).

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
    raw = capture(steady, sensor, exposure_s, rng, flicker=flicker, start_s=start_s,
                  motion_px_per_s=motion_px_per_s,
                  modulated_light=list(zip(lights, lit.waveforms)))
    if window is not None:  # the window's optical image has no layout: map the boxes
        boxes = light_boxes_px(module, lit, window=window,
                               sample_pitch_um=steady.sample_pitch_um)
        layout = raw.metadata.setdefault("layout_px", {})
        layout.update({f"light:{k}": [tuple(b)] for k, b in boxes.items() if b is not None})
    return raw


# --------------------------------------------------------------------------- shoot / windows


def lights_reaching_window(module, lit: LitScene, window) -> LitScene:
    """The lights of ``lit`` that can put light into a sensor ``window``: those whose region
    covers any scene sample of the window's scene part (the window plus the margin M of
    :func:`camtwin.camera.scene_window`, which holds the blur and the lens geometry). The
    others are not imaged (their optics would be zeros). ``module`` is the full module;
    ``lit.scene`` fills its full sensor at one sample per pixel."""
    if window is None or not lit.lights or (window.width, window.height) == (
            window.full_width, window.full_height):
        return lit
    from ..camera import scene_window

    _, m = scene_window(lit.light_scene(0), module, window)
    r0, r1 = max(0, window.y - m), window.y + window.height + m
    c0, c1 = max(0, window.x - m), window.x + window.width + m
    keep = tuple(lt for k, lt in enumerate(lit.lights)
                 if np.any(lit.coverage(k)[r0:r1, c0:c1] > 0))
    return LitScene(lit.scene, keep)


def light_boxes_px(module, lit: LitScene, *, window=None, sample_pitch_um: float) -> dict:
    """``name → (r0, r1, c0, c1)`` pixel box of each light's bounding box in the capture:
    the full sensor's pixels (:func:`camtwin.sensor.capture.layout_to_pixels` on the whole
    scene, through the lens geometry), shifted into a ``window``'s pixels and clipped to it;
    None for a light whose box misses the window. ``sample_pitch_um`` is the optical
    image's sample pitch [µm] (:attr:`ChannelImage.sample_pitch_um`)."""
    from types import SimpleNamespace

    from ..sensor.capture import layout_to_pixels

    h, w = lit.scene.shape
    full = SimpleNamespace(shape=(h, w), sample_pitch_um=float(sample_pitch_um),
                           height_um=h * float(sample_pitch_um),
                           width_um=w * float(sample_pitch_um), lens=module.lens)
    layout = {lt.name: [lt.region.bbox_for(lit.scene.shape)] for lt in lit.lights}
    boxes = layout_to_pixels(layout, full, module.sensor)
    s = module.sensor
    y, x, hh, ww = ((0, 0, s.height_px, s.width_px) if window is None
                    else (window.y, window.x, window.height, window.width))
    out = {}
    for name, ((r0, r1, c0, c1),) in boxes.items():
        r0, r1 = max(0, r0 - y), min(hh, r1 - y)
        c0, c1 = max(0, c0 - x), min(ww, c1 - x)
        out[name] = (r0, r1, c0, c1) if (r0 < r1 and c0 < c1) else None
    return out


def _waveform_dict(wave) -> dict:
    from dataclasses import asdict

    return {"kind": wave.kind, **{k: float(v) for k, v in asdict(wave).items()}}


#: A light is "seen" when its signal in its box is at least this fraction of the signal the
#: same light would give if it were steady (m = 1).
SEEN_FRACTION = 0.5


def light_signals(sensor, lit: LitScene, rates, boxes: dict, *, exposure_s: float,
                  start_s: float = 0.0, imaged=None) -> list[dict]:
    """Per light: its box, its expected signal and whether the capture saw it.

    In the light's pixel box B (rows r, row windows [t_r, t_r + T] of
    :func:`camtwin.sensor.timing.row_start_times`) the light alone gives (noiseless, before
    full well)

        S = (1/|B|) Σ_B T·ė_k(p)·⟨m_k⟩_[t_r, t_r+T]

    and, were it steady, S₀ = (T/|B|) Σ_B ė_k(p),

    with ė_k its electron-rate mosaic at its time-mean radiance (``rates[k]``) and ⟨m_k⟩ the
    exact window mean of its waveform (:func:`camtwin.sensor.timing.window_means`). The
    light is *seen* when S ≥ :data:`SEEN_FRACTION`·S₀. ``imaged`` names the lights that
    were imaged (default all); the others (outside a window) are reported with None.
    """
    from ..regions import box_to_xywh
    from ..sensor.timing import row_start_times, window_means

    t0 = row_start_times(sensor, start_s)
    names = [lt.name for lt in lit.lights] if imaged is None else list(imaged)
    out = []
    for lt in lit.lights:
        box = boxes.get(lt.name)
        entry = {"name": lt.name, "waveform": _waveform_dict(lt.waveform),
                 "luminance_cd_m2": float(lt.luminance_cd_m2),
                 "spectrum": lt.spectrum if isinstance(lt.spectrum, str) else "table",
                 "box_px": None, "box_xywh": None, "mean_signal_e": None,
                 "steady_signal_e": None, "relative_signal": None, "seen": None}
        if box is not None and lt.name in names:
            r0, r1, c0, c1 = box
            rate = np.asarray(rates[names.index(lt.name)][r0:r1, c0:c1], dtype=np.float64)
            m = window_means(lt.waveform, t0[r0:r1], t0[r0:r1] + exposure_s)
            steady = float(exposure_s * rate.mean())
            signal = float(exposure_s * (rate * m[:, None]).mean())
            rel = signal / steady if steady > 0 else None
            entry.update(box_px=[int(v) for v in box], box_xywh=list(box_to_xywh(box)),
                         mean_signal_e=signal, steady_signal_e=steady, relative_signal=rel,
                         seen=None if rel is None else bool(rel >= SEEN_FRACTION))
        out.append(entry)
    return out


def expose_lit(module, lit: LitScene, images, *, exposure_s: float | None, rng,
               start_s: float = 0.0, window=None):
    """The sensor stage of :func:`camtwin.camera.shoot` for a :class:`LitScene`.

    ``images`` = :func:`lit_images` of ``lit`` (already restricted to the lights that reach
    ``window``, :func:`lights_reaching_window`); ``module`` is the full module. Auto
    exposure (``exposure_s=None``) meters the time-mean light: ė_steady + Σ_k ė_k
    (:func:`camtwin.sensor.capture.exposure_for_rate`). The raw frame's metadata gains
    ``"light:<name>"`` boxes in ``layout_px`` (window pixels for a window), ``start_s`` and
    ``lights`` (:func:`light_signals`, every light of ``lit``).
    """
    from ..sensor.capture import capture, electron_rate, exposure_for_rate

    steady, light_images = images
    sensor = _sensor_of(module, window)
    imaged = lit if window is None else lights_reaching_window(module, lit, window)
    if len(light_images) != len(imaged.lights):
        raise ConfigError(f"images hold {len(light_images)} light images for "
                          f"{len(imaged.lights)} lights reaching the capture")
    rates = [electron_rate(o, sensor) for o in light_images]
    if exposure_s is None:
        total = electron_rate(steady, sensor)
        for r in rates:
            total += r
        exposure_s = exposure_for_rate(total, sensor)
    raw = capture(steady, sensor, exposure_s, rng, start_s=start_s,
                  modulated_light=list(zip(light_images, imaged.waveforms)))
    boxes = light_boxes_px(module, lit, window=window, sample_pitch_um=steady.sample_pitch_um)
    layout = raw.metadata.setdefault("layout_px", {})
    for name, box in boxes.items():
        layout.pop(f"light:{name}", None)
        if box is not None:
            layout[f"light:{name}"] = [tuple(box)]
    raw.metadata["start_s"] = float(start_s)
    raw.metadata["lights"] = light_signals(sensor, lit, rates, boxes, exposure_s=exposure_s,
                                           start_s=start_s,
                                           imaged=[lt.name for lt in imaged.lights])
    return raw


def extra_light_bytes(module, n_lights: int) -> int:
    """Working set [bytes] the ``n_lights`` light images add to a streamed capture of
    ``module`` (as cropped): per light one coverage map (4 B per scene sample), its channel
    planes (4 B per channel and sample) and its electron-rate mosaic (4 B per pixel, twice:
    the capture's and :func:`light_signals`')."""
    from ..camera import scene_extent

    s = module.sensor
    (rows, cols), _ = scene_extent(module)
    n_ch = 1 if s.cfa == "mono" else 3
    return int(n_lights * (rows * cols * (4 + 4 * n_ch) + 8 * s.width_px * s.height_px))


# --------------------------------------------------------------------------- CLI text

#: ``--light`` presets: name → (factory, default size [fraction of the scene width]).
LIGHT_PRESETS = {"traffic_light": traffic_light, "led_headlamp": led_headlamp,
                 "led_sign": led_sign}
#: ``--light`` keys: key → (meaning, unit / valid range text, check).
_LIGHT_KEYS = {
    "x": ("centre, fraction of the scene width", "[0, 1]", lambda v: 0 <= v <= 1),
    "y": ("centre, fraction of the scene height", "[0, 1]", lambda v: 0 <= v <= 1),
    "size": ("diameter (disc) or width (sign), fraction of the scene width", "(0, 1]",
             lambda v: 0 < v <= 1),
    "height": ("sign height, fraction of the scene height", "(0, 1]", lambda v: 0 < v <= 1),
    "cd": ("time-mean luminance [cd/m²]", "(0, 1e9]", lambda v: 0 < v <= 1e9),
    "hz": ("PWM frequency, or the mains frequency for wave=mains [Hz]", "(0, 100000]",
           lambda v: 0 < v <= 1e5),
    "duty": ("PWM duty cycle [%]", "(0, 100]", lambda v: 0 < v <= 100),
    "phase": ("waveform phase [degrees]", "[-360, 360]", lambda v: -360 <= v <= 360),
    "rise_us": ("PWM rise time [µs]", "[0, 1e6]", lambda v: 0 <= v <= 1e6),
    "fall_us": ("PWM fall time [µs]", "[0, 1e6]", lambda v: 0 <= v <= 1e6),
    "dc": ("steady part of a mains-driven light [%]", "[0, 100]", lambda v: 0 <= v <= 100),
}
_LIGHT_WORDS = {"colour": LED_COLOURS, "color": LED_COLOURS,
                "wave": ("pwm", "mains", "constant"), "name": None}


def parse_light(text: str) -> LightSource:
    """A light from the ``--light`` text ``PRESET[:key=value,...]`` (``camtwin capture --help``).

    Positions and sizes are fractions of the scene (the captured field: the cropped one with
    ``--crop``, the full sensor's with ``--window``); a sign's box is clipped to the scene.
    Any of ``wave``/``hz``/``duty``/``rise_us``/``fall_us`` replaces the preset's waveform
    (``hz``/``duty`` alone: PWM; the defaults are the preset's PWM or 90 Hz, 10 %).

    Raises
    ------
    ConfigError
        One line naming the ``--light`` text, the key, its value and the valid range.
    """
    where = f"--light {text!r}"
    preset, _, rest = str(text).strip().partition(":")
    if preset not in LIGHT_PRESETS:
        raise ConfigError(f"{where}: unknown preset {preset!r}; valid: "
                          f"{', '.join(LIGHT_PRESETS)} (or a .yaml file of lights)")
    vals: dict = {}
    for item in filter(None, (p.strip() for p in rest.split(","))) if rest else ():
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key:
            raise ConfigError(f"{where}: {item!r} is not key=value")
        if key not in _LIGHT_KEYS and key not in _LIGHT_WORDS:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys: "
                              f"{', '.join([*_LIGHT_KEYS, 'colour', 'wave', 'name'])}")
        if key in vals:
            raise ConfigError(f"{where}: key {key!r} given twice")
        if key in _LIGHT_KEYS:
            meaning, rng_text, ok = _LIGHT_KEYS[key]
            try:
                v = float(value)
            except ValueError:
                v = float("nan")
            if not (np.isfinite(v) and ok(v)):
                raise ConfigError(f"{where}: {key} = {value!r}: valid range is {rng_text} "
                                  f"({meaning})")
            vals[key] = v
        else:
            choices = _LIGHT_WORDS[key]
            if choices is not None and value not in choices:
                raise ConfigError(f"{where}: {key} = {value!r}: valid choices are "
                                  f"{', '.join(choices)}")
            if not value:
                raise ConfigError(f"{where}: {key} is empty")
            vals["colour" if key == "color" else key] = value
    if "height" in vals and preset != "led_sign":
        raise ConfigError(f"{where}: height applies to led_sign only (a {preset} is a disc; "
                          "size is its diameter)")
    if "colour" in vals and preset == "led_headlamp" and vals["colour"] != "white":
        raise ConfigError(f"{where}: colour = {vals['colour']!r}: an led_headlamp is white")
    base = LIGHT_PRESETS[preset]()
    wave = base.waveform
    timing = {"wave", "hz", "duty", "rise_us", "fall_us", "dc", "phase"} & set(vals)
    if timing:
        kind = vals.get("wave") or ("pwm" if {"hz", "duty", "rise_us", "fall_us"} & timing
                                    else {"pwm": "pwm", "rectified_mains": "mains"}.get(
                                        wave.kind, "constant"))
        bad = sorted({"pwm": {"dc"}, "mains": {"duty", "rise_us", "fall_us"},
                      "constant": {"hz", "duty", "rise_us", "fall_us", "dc", "phase"}}[kind]
                     & timing)
        if bad:
            raise ConfigError(f"{where}: {', '.join(bad)} do(es) not apply to wave={kind}")
        phase = np.deg2rad(vals.get("phase", 0.0))
        try:
            if kind == "pwm":
                pwm = wave if isinstance(wave, PWM) else PWM(90.0, 0.1)
                wave = PWM(vals.get("hz", pwm.frequency_hz), vals.get("duty", 100 * pwm.duty)
                           / 100.0, phase, vals.get("rise_us", 0.0) * 1e-6,
                           vals.get("fall_us", 0.0) * 1e-6)
            elif kind == "mains":
                wave = RectifiedMains(vals.get("hz", 50.0), vals.get("dc", 0.0) / 100.0, phase)
            else:
                wave = Constant()
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    cy, cx = vals.get("y", 0.5), vals.get("x", 0.5)
    colour = vals.get("colour", base.spectrum)
    lum = vals.get("cd", base.luminance_cd_m2)
    name = vals.get("name") or (f"traffic_{colour}" if preset == "traffic_light"
                                else base.name)
    if preset == "led_sign":
        y0, y1, x0, x1 = base.region.bbox_for(None)
        sw, sh = vals.get("size", x1 - x0), vals.get("height", y1 - y0)
        box = (max(0.0, cy - sh / 2), min(1.0, cy + sh / 2),
               max(0.0, cx - sw / 2), min(1.0, cx + sw / 2))
        if not (box[0] < box[1] and box[2] < box[3]):
            raise ConfigError(f"{where}: the sign's box {box} lies outside the scene")
        region = Box(*box)
    else:
        radius = vals.get("size", 2 * base.region.radius) / 2
        region = Disc(cy, cx, radius)
    return LightSource(str(name), region, lum, wave, colour)


def load_lights(path) -> list[LightSource]:
    """Light sources from a YAML file: ``lights:`` (or the top level) a list of mappings
    for :func:`light_from_dict`."""
    from pathlib import Path

    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--light file {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"--light file {str(p)!r} is not valid YAML "
                          f"({' '.join(str(exc).split())})") from None
    items = data.get("lights") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise ConfigError(f"--light file {str(p)!r}: needs a non-empty list 'lights:' of "
                          "light mappings")
    try:
        return [light_from_dict(it) for it in items]
    except ConfigError as exc:
        raise ConfigError(f"--light file {str(p)!r}: {exc}") from None


def lights_from_options(values) -> list[LightSource]:
    """``--light`` values (preset texts or YAML paths) → light sources with unique names
    (a repeated default name gets ``_2``, ``_3``, …)."""
    out, seen = [], {}
    for text in values or ():
        t = str(text).strip()
        new = (load_lights(t) if t.lower().endswith((".yaml", ".yml"))
               else [parse_light(t)])
        for lt in new:
            n = seen.get(lt.name, 0) + 1
            seen[lt.name] = n
            if n > 1:
                lt = LightSource(f"{lt.name}_{n}", lt.region, lt.luminance_cd_m2, lt.waveform,
                                 lt.spectrum)
            out.append(lt)
    return out
