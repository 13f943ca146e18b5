"""When each pixel collects light: rolling / global shutter and CCD readout effects.

All functions work on the mean photo-electron *rate* image ``rate`` [e⁻/s per pixel]
(the sensor's spectral response already applied) and return mean electrons [e⁻], before
shot noise. Time 0 is the start of row 0's integration.

Integration windows (exposure T, line time t_l, row r = 0 … H−1):

* rolling:  [r·t_l, r·t_l + T]
* global / ccd: [0, T] for every row.

Scene changes during the exposure:

* Motion: the optical image translates at ``motion_px_per_s = (v_y, v_x)``;
  pixel (r, c) collects  ∫ rate(r − v_y t, c − v_x t) dt  over its window. Evaluated with the
  midpoint rule on K sub-steps of each row's *own* window (K chosen so the image moves
  ≤ 0.1 px per step) and bilinear sampling — so a rolling shutter shears a moving vertical
  edge by exactly v_x·t_l per row. Content that moves in from beyond the optical image
  repeats its border pixels (the scene is taken to continue; no black bands). With a
  modulation m(t), sub-step k is weighted by the exact ∫ m dt over that sub-step.
* Flicker: the illumination is modulated by m(t) with time mean 1 (:class:`Flicker`, or
  any waveform of :mod:`camtwin.scene.lights`: PWM with rise/fall ramps, rectified mains,
  sine, constant); each row collects (1/T)∫ m dt over its own window, exactly, in closed
  form (:func:`window_means`), which makes bands in a rolling shutter and a frame-to-frame
  brightness change in a global shutter. A rolling shutter shows a waveform of period P as
  bands of P / t_l rows.
* Multiple exposures per row (staggered / DOL HDR): exposure e of row r integrates over
  [t0_r + o_e(r), t0_r + o_e(r) + T_e] (:func:`exposure_windows`); the mean of m over each
  is :func:`exposure_window_means`.
* Light sources with their own waveforms (:mod:`camtwin.scene.lights`): the rate is
  ė_steady + Σ_k m_k(t)·ė_k and row r collects T·[ė_steady + Σ_k ė_k·⟨m_k⟩_r]
  (:func:`modulated_rate`; exact, since integration is linear in the rate).

Time-varying scene: a callback gives the rate image at time t; it is sampled at the
midpoints of N equal sub-intervals spanning every row's window (piecewise constant in
time), and each row collects Σ_j rate_j(r, ·)·|I_j ∩ window(r)| — exact for a scene that
is constant within each sub-interval (:func:`integrate_time_varying`).

Global shutter storage node (:class:`ShutterSpec`): after the common integration, row r
waits w_r = r·t_l before readout and meanwhile collects ``pls``·rate·w_r parasitic photo
charge and ``storage_dark_current_e_per_s``·w_r dark charge, i.e. a top-to-bottom gradient
of relative size PLS·w_r / T.

CCD frame-transfer smear: the whole frame moves through the image area in
``transfer_time_s`` while still lit, so every packet spends t_tr/H under every row of its
column and collects  smear(c) = (t_tr / H)·Σ_r rate(r, c)  — a uniform streak along each
column. A spot of h rows and rate R adds R·h·t_tr/H to its whole column, i.e.
(h·t_tr/H)/T times the spot's own signal.

CCD charge-transfer inefficiency ε: a packet that needs n transfers to reach the output
leaves a fraction behind at each, so it arrives spread over trailing pixels with the
binomial distribution P(j) = C(n, j) ε^j (1−ε)^(n−j) (j pixels late; Janesick, *Scientific
Charge-Coupled Devices*, §5). The output amplifier sits at row 0 / column 0: the packet
from (r, c) needs r+1 vertical and c+1 horizontal transfers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from ..errors import ConfigError
from ..scene.lights import PWM, Constant, RectifiedMains, Sinusoid, Waveform
from .spec import SensorSpec

__all__ = ["Flicker", "Waveform", "PWM", "RectifiedMains", "Sinusoid", "Constant",
           "window_means", "exposure_windows", "exposure_window_means", "modulated_rate",
           "row_start_times", "integrate_photo", "integrate_time_varying",
           "storage_node_charge", "ccd_smear", "apply_cti"]


@dataclass(frozen=True)
class Flicker:
    """Light modulation with time mean 1 (kept for compatibility; :mod:`camtwin.scene.lights`
    has the general waveforms — PWM with rise/fall ramps, rectified mains — and
    :meth:`as_waveform` converts this one).

    ``waveform="sine"``: m(t) = 1 + depth·sin(2π f t + phase) (mains-driven light: f = 100 Hz
    for 50 Hz mains, 120 Hz for 60 Hz). ``waveform="pwm"``: on for ``duty`` of each period
    at level 1/duty, else 0 (PWM-dimmed LEDs); ``depth`` is ignored.
    """

    frequency_hz: float
    depth: float = 1.0
    waveform: Literal["sine", "pwm"] = "sine"
    duty: float = 0.5
    phase_rad: float = 0.0

    def __post_init__(self):
        if not self.frequency_hz > 0:
            raise ConfigError(f"flicker frequency_hz = {self.frequency_hz}: must be > 0")
        if not 0 <= self.depth <= 1:
            raise ConfigError(f"flicker depth = {self.depth}: valid range is 0..1")
        if not 0 < self.duty <= 1:
            raise ConfigError(f"flicker duty = {self.duty}: valid range is (0, 1]")
        if self.waveform not in ("sine", "pwm"):
            raise ConfigError(f"flicker waveform = {self.waveform!r}: valid choices: sine, pwm")

    def integral(self, t) -> np.ndarray:
        """∫₀ᵗ m(t') dt' [s] (vectorised)."""
        t = np.asarray(t, dtype=np.float64)
        w = 2 * np.pi * self.frequency_hz
        if self.waveform == "sine":
            return t + self.depth * (np.cos(self.phase_rad) - np.cos(w * t + self.phase_rad)) / w
        period = 1.0 / self.frequency_hz
        shift = self.phase_rad / w  # phase moves the pulse train
        u = (t + shift) / period
        full, frac = np.floor(u), u - np.floor(u)
        on = (full * self.duty + np.minimum(frac, self.duty)) * period / self.duty
        u0 = shift / period
        on0 = (np.floor(u0) * self.duty + min(u0 - np.floor(u0), self.duty)) * period / self.duty
        return on - on0

    def mean_over(self, t0, t1) -> np.ndarray:
        """Mean of m over [t0, t1] (vectorised)."""
        t0, t1 = np.asarray(t0, dtype=np.float64), np.asarray(t1, dtype=np.float64)
        return (self.integral(t1) - self.integral(t0)) / (t1 - t0)

    def as_waveform(self) -> Waveform:
        """The same modulation as a :mod:`camtwin.scene.lights` waveform (:class:`Sinusoid`
        or an ideal :class:`PWM`); equal to this one to rounding."""
        if self.waveform == "sine":
            return Sinusoid(self.frequency_hz, self.depth, self.phase_rad)
        return PWM(self.frequency_hz, self.duty, self.phase_rad)

    def at(self, t) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        if self.waveform == "sine":
            return 1 + self.depth * np.sin(2 * np.pi * self.frequency_hz * t + self.phase_rad)
        u = (t * self.frequency_hz + self.phase_rad / (2 * np.pi)) % 1.0
        return np.where(u < self.duty, 1.0 / self.duty, 0.0)


def window_means(waveform, t0_s, t1_s, *, phase_rad=None) -> np.ndarray:
    """Mean of the light modulation over each window, (1/(t1 − t0))·∫_{t0}^{t1} m dt.

    Parameters
    ----------
    waveform : Waveform, Flicker or None
        A mean-1 waveform (:mod:`camtwin.scene.lights`: :class:`PWM`,
        :class:`RectifiedMains`, :class:`Sinusoid`, :class:`Constant`) or a :class:`Flicker`;
        None means steady light (1 everywhere).
    t0_s, t1_s : array_like
        Window starts and ends [s], broadcast together (e.g. (H,) per row, (E, H) per
        exposure and row); every t1 > t0.
    phase_rad : array_like, optional
        Extra phase [rad] of the waveform (2π = one period) broadcast with the times, e.g.
        ``phase[:, None]`` against (H,) windows gives (P, H) — many random phases at once.

    Returns
    -------
    ndarray float64
        Mean of m per window (0 ≤ value ≤ peak of m; 1 for steady light). Exact: closed-form
        integral with the period count kept separately (:mod:`camtwin.scene.lights`).

    Raises
    ------
    ConfigError
        A window of length ≤ 0.

    Examples
    --------
    >>> from camtwin.sensor.timing import PWM, window_means
    >>> float(window_means(PWM(90.0, 0.1), 0.0, 1 / 90.0))  # one full period: mean 1
    1.0
    """
    t0 = np.asarray(t0_s, dtype=np.float64)
    t1 = np.asarray(t1_s, dtype=np.float64)
    if waveform is None:
        if not np.all(t1 - t0 > 0):
            raise ConfigError(f"window length t1_s − t0_s = {float(np.min(t1 - t0)):g} s: "
                              "must be > 0")
        shape = np.broadcast_shapes(t0.shape, t1.shape,
                                    () if phase_rad is None else np.shape(phase_rad))
        return np.ones(shape)
    if isinstance(waveform, Flicker):
        if phase_rad is None:
            if not np.all(t1 - t0 > 0):
                raise ConfigError(f"window length t1_s − t0_s = {float(np.min(t1 - t0)):g} s:"
                                  " must be > 0")
            return waveform.mean_over(t0, t1)  # unchanged behaviour of Flicker
        waveform = waveform.as_waveform()
    if not isinstance(waveform, Waveform):
        raise ConfigError(f"waveform = {waveform!r}: must be a camtwin.scene.lights waveform "
                          "(pwm, rectified_mains, sine, constant), a Flicker or None")
    return waveform.mean_over(t0, t1, phase_rad=phase_rad)


def exposure_windows(row_start_s, exposures_s, offsets_s=None) -> tuple[np.ndarray, np.ndarray]:
    """Integration windows of E exposures of every row (staggered / DOL HDR).

    Exposure e of row r integrates over [t0_r + o_e(r), t0_r + o_e(r) + T_e].

    Parameters
    ----------
    row_start_s : array_like (H,)
        Row start times t0_r [s] (:func:`row_start_times`).
    exposures_s : array_like (E,)
        Exposure times T_e [s], each > 0.
    offsets_s : array_like (E,) or (E, H), optional
        Start of exposure e relative to the row's start [s] (0 for all by default).

    Returns
    -------
    (t0, t1) : float64 arrays (E, H)
    """
    rows = np.asarray(row_start_s, dtype=np.float64).reshape(1, -1)
    exp = np.asarray(exposures_s, dtype=np.float64).reshape(-1)
    if exp.size == 0 or not np.all(np.isfinite(exp) & (exp > 0)):
        raise ConfigError(f"exposures_s = {exp.tolist()}: every exposure must be finite and > 0")
    off = np.zeros((exp.size, 1)) if offsets_s is None else np.asarray(offsets_s,
                                                                         dtype=np.float64)
    if off.ndim == 1:
        off = off[:, None]
    if off.shape[0] != exp.size or off.shape[1] not in (1, rows.shape[1]):
        raise ConfigError(f"offsets_s has shape {np.shape(offsets_s)}: valid shapes are "
                          f"({exp.size},) or ({exp.size}, {rows.shape[1]})")
    if not np.all(np.isfinite(off)):
        raise ConfigError("offsets_s: every offset must be finite")
    t0 = rows + off
    return t0, t0 + exp[:, None]


def exposure_window_means(waveform, row_start_s, exposures_s, offsets_s=None, *,
                          phase_rad=None) -> np.ndarray:
    """Mean of m over each exposure of each row, shape (E, H) — or (P, E, H) with
    ``phase_rad`` of shape (P, 1, 1). Multiply by T_e·ė for the electrons of exposure e.

    Windows as :func:`exposure_windows`; means as :func:`window_means`.
    """
    t0, t1 = exposure_windows(row_start_s, exposures_s, offsets_s)
    return window_means(waveform, t0, t1, phase_rad=phase_rad)


def modulated_rate(rate_steady, source_rates, waveforms, windows, *,
                   phase_rad=None) -> np.ndarray:
    """Mean electron rate of every pixel over its row's window with modulated sources [e⁻/s].

        ė̄(r, c) = ė_steady(r, c) + Σ_k ė_k(r, c) · ⟨m_k⟩_[t0_r, t1_r]

    Parameters
    ----------
    rate_steady : ndarray (H, W)
        Rate of the steady part of the scene [e⁻/s] (None: 0).
    source_rates : sequence of ndarray (H, W)
        Rate ė_k of source k alone at its *time-mean* radiance [e⁻/s].
    waveforms : sequence
        Mean-1 waveform m_k of each source (:func:`window_means`).
    windows : (t0, t1)
        Window of each row [s], arrays broadcasting to (..., H) (e.g. (H,) or (P, H)).
    phase_rad : array_like, optional
        Extra phase of every waveform, broadcast with the windows (a (P, 1) array with (H,)
        windows gives P phase-shifted frames).

    Returns
    -------
    ndarray float32 (..., H, W)
        Multiply by the window length T for the mean photo-electrons μ_ph.
    """
    rates = [np.asarray(r, dtype=np.float32) for r in source_rates]
    wfs = list(waveforms)
    if len(rates) != len(wfs):
        raise ConfigError(f"modulated_rate: {len(rates)} source rates but {len(wfs)} waveforms; "
                          "give one waveform per source")
    t0, t1 = windows
    out = None
    if rate_steady is not None:
        out = np.asarray(rate_steady, dtype=np.float32)
    for r_k, w_k in zip(rates, wfs):
        g = window_means(w_k, t0, t1, phase_rad=phase_rad).astype(np.float32)[..., None]
        term = r_k * g
        out = term if out is None else out + term
    if out is None:
        raise ConfigError("modulated_rate: give rate_steady or at least one source")
    return out


def row_start_times(sensor: SensorSpec, start_s: float = 0.0) -> np.ndarray:
    """Start of integration of every row [s], shape (H,)."""
    h = sensor.height_px
    if sensor.shutter.type == "rolling":
        return start_s + np.arange(h) * sensor.shutter.line_time_s
    return np.full(h, float(start_s))


def integrate_photo(rate: np.ndarray, sensor: SensorSpec, exposure_s: float, *,
                    motion_px_per_s: tuple[float, float] = (0.0, 0.0),
                    flicker: Flicker | Waveform | None = None,
                    start_s: float = 0.0) -> np.ndarray:
    """Mean photo-electrons [e⁻] per pixel over each row's integration window (float32).

    ``flicker`` is a :class:`Flicker` or any :mod:`camtwin.scene.lights` waveform; without
    motion each row gets T·(1/T)∫ m dt over its own window exactly (:func:`window_means`).
    """
    t0 = row_start_times(sensor, start_s)
    vy, vx = (float(v) for v in motion_px_per_s)
    speed = np.hypot(vy, vx)
    if speed == 0:
        gain = window_means(flicker, t0, t0 + exposure_s)
        return (rate * (np.float32(exposure_s) * gain.astype(np.float32))[:, None]).astype(
            np.float32, copy=False)
    n_steps = max(1, int(np.ceil(speed * exposure_s / 0.1)))
    if n_steps > 4000:
        raise ConfigError(f"motion of {speed:g} px/s over {exposure_s:g} s moves the image "
                          f"{speed * exposure_s:.0f} px within one exposure; keep it below 400 px")
    h, w = rate.shape
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    out = np.zeros((h, w), dtype=np.float64)
    dt = exposure_s / n_steps
    for k in range(n_steps):
        t = (t0 + (k + 0.5) * dt)[:, None]  # each row's own sample time
        # exact time integral of m over the sub-step (the image position is held at its
        # midpoint): a narrow PWM pulse between two midpoints is not missed
        weight = dt if flicker is None else dt * window_means(flicker, t - 0.5 * dt,
                                                              t + 0.5 * dt)
        coords = np.stack([np.broadcast_to(rows - vy * t, (h, w)),
                           np.broadcast_to(cols - vx * t, (h, w))])
        out += ndimage.map_coordinates(rate, coords, order=1, mode="nearest",
                                       prefilter=False) * weight
    return out.astype(np.float32)


def integrate_time_varying(rate_at, sensor: SensorSpec, exposure_s: float, *,
                           n_samples: int = 64, start_s: float = 0.0,
                           progress=None) -> np.ndarray:
    """Mean photo-electrons [e⁻] for a scene that changes in time (float32 (H, W)).

    Parameters
    ----------
    rate_at : callable
        ``rate_at(t_s) -> ndarray (H, W)`` electron rate [e⁻/s] at time ``t_s`` [s].
    sensor : SensorSpec
        Shutter type and line time give each row's window ``[t0_r, t0_r + T]``.
    exposure_s : float
        T [s].
    n_samples : int
        N sub-intervals over ``[start_s, start_s + (H−1)·t_line + T]`` (rolling) or
        ``[start_s, start_s + T]`` (global, CCD); ``rate_at`` is called N times.
    progress : callable, optional
        Called with (j, N) after each sample.
    """
    if not 1 <= int(n_samples) <= 100000:
        raise ConfigError(f"n_samples = {n_samples}: valid range is 1..100000")
    t0 = row_start_times(sensor, start_s)
    t_end = float(t0.max()) + exposure_s
    edges = np.linspace(float(start_s), t_end, int(n_samples) + 1)
    out = None
    for j in range(int(n_samples)):
        lo, hi = edges[j], edges[j + 1]
        overlap = np.clip(np.minimum(hi, t0 + exposure_s) - np.maximum(lo, t0), 0.0, None)
        if overlap.any():
            rate = np.asarray(rate_at(0.5 * (lo + hi)), dtype=np.float32)
            if rate.shape != (sensor.height_px, sensor.width_px):
                raise ConfigError(f"rate_at returned shape {rate.shape}; the sensor needs "
                                  f"({sensor.height_px}, {sensor.width_px})")
            part = rate * overlap.astype(np.float32)[:, None]
            out = part if out is None else out + part
        if progress is not None:
            progress(j + 1, int(n_samples))
    return out


def storage_node_charge(rate: np.ndarray, sensor: SensorSpec, exposure_s: float) -> tuple:
    """Global shutter: parasitic photo-charge and storage dark charge per row [e⁻].

    Returns ``(pls_photo_e (H, W) float32, storage_dark_e (H, 1) float32)``; row r waited
    ``r·line_time_s`` after the common integration ended.
    """
    sh = sensor.shutter
    wait = (np.arange(sensor.height_px) * sh.line_time_s).astype(np.float32)[:, None]
    return rate * (np.float32(sh.pls) * wait), np.float32(sh.storage_dark_current_e_per_s) * wait


def ccd_smear(rate: np.ndarray, sensor: SensorSpec) -> np.ndarray:
    """Frame-transfer smear [e⁻] per column, shape (1, W): (t_tr/H)·Σ_r rate(r, c)."""
    h = rate.shape[0]
    return (rate.sum(axis=0, dtype=np.float64) * (sensor.shutter.transfer_time_s / h))[
        None, :].astype(np.float32)


def _trail_along_axis0(q: np.ndarray, n_transfers: np.ndarray, cti: float,
                       max_lag: int = 4) -> np.ndarray:
    """Spread each row's charge over the next rows with the binomial CTI law (axis 0)."""
    from scipy.stats import binom

    h = q.shape[0]
    lags = np.arange(max_lag + 1)
    pmf = binom.pmf(lags[None, :], n_transfers[:, None], cti)  # (H, lags)
    pmf[:, -1] += 1.0 - pmf.sum(axis=1)  # far tail into the last lag: charge is conserved
    out = np.zeros_like(q)
    for j in lags:
        out[j:] += q[: h - j] * pmf[: h - j, j][:, None].astype(q.dtype)
    return out


def apply_cti(charge: np.ndarray, cti: float) -> np.ndarray:
    """Charge-transfer inefficiency: vertical then horizontal trailing (output at (0, 0))."""
    if cti == 0:
        return charge
    h, w = charge.shape
    out = _trail_along_axis0(charge, np.arange(1, h + 1), cti)
    return np.ascontiguousarray(_trail_along_axis0(out.T, np.arange(1, w + 1), cti).T)
