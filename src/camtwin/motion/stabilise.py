"""Image stabilisation: OIS (lens / sensor shift), EIS for video, and the gain in stops.

Optical image stabilisation (:func:`ois_residual`)
--------------------------------------------------
The gyroscope reads the camera's angular velocity with white noise of density n
[°/s/√Hz] (one-sided, the datasheet convention RMS = n·√bandwidth: variance n²·f_s/2 per
sample at sample rate f_s, so the integrated angle random walk has Var θ(T) = n²·T/2)
and a bias b [°/s]:
ω_m = ω + b + noise. The controller integrates it to an angle and high-passes it at f_hp
(first order; removes the bias ramp and lets the photographer's slow re-aiming through):
θ_m = HP_{f_hp}[∫ω_m dt]. The actuator (lens-shift or sensor-shift) is commanded to move
the image by c = −f·θ_m and follows through a first-order low-pass of bandwidth f_bw
(the closed-loop bandwidth of the actuator + its driver), limited to ±``stroke_um`` of
image shift (a saturated actuator stays at the stop):

    residual image motion  r(t) = f·θ(t) + clip(LP_{f_bw}[−f·θ_m](t), ±stroke).

For a tone at frequency ν the residual without noise/clipping is
|1 − H_lp(ν)·H_hp(ν)|·f·θ: ≈ ν/f_bw at mid frequencies, → 1 below f_hp. Lens-shift OIS
corrects pitch and yaw only; sensor-shift (IBIS) can also rotate the sensor against roll
(``corrects_roll``, within ±``roll_stroke_deg``). The shift is taken to move the image 1:1 (sensor shift; a lens
group with decentre sensitivity 1).

Typical phone figures (defaults of :class:`OisSpec`, preset ``phone``): MEMS gyro noise
density 0.0028–0.007 °/s/√Hz (TDK ICM-42688-P: 0.0028; Bosch BMI270 datasheet
BST-BMI270-DS000, performance mode: 0.007); bias 0.05 °/s is a *residual after the
phone's offset calibration* (the BMI270's zero-rate offset is specified ±0.5 °/s);
VCM OIS stroke ±100 µm of image shift (≈ ±1.3° at f = 4.4 mm); loop bandwidth 60 Hz.
These are engineering assumptions, not one product's data.

Stabilisation gain in stops (:func:`stabilisation_gain`) — after CIPA DC-011 / ISO 20954-1
-----------------------------------------------------------------------------------------
CIPA DC-011 (2012; ISO 20954-1:2019) shakes the camera with standard hand-shake waveforms
(yaw and pitch), captures an edge chart at a series of exposure times with stabilisation
off and on, and measures the "comprehensive bokeh amount" (the blur width of the edge minus
the static blur). The handheld blur threshold is 63 µm in the focal plane of a 24 × 36 mm
frame (scaled for other formats through the 35 mm-equivalent focal length). The IS-off
curve is the theoretical blur of the standard waveform — the focal length times its
*average vibration angle* (the expected peak-to-bottom rotation during an exposure) — and
the stabilisation performance in stops is log₂(T_on / T_off), T_on and T_off the exposure
times at which the IS-on and IS-off blur curves reach the threshold.

What this module implements: blur amount B(T) = the expectation of the peak-to-peak
image displacement during an exposure of T, in µm of the 35 mm-equivalent frame
(f₃₅·Δθ_pp), averaged over yaw and pitch and over all exposure start times of a long
seeded trajectory of the shake model (:mod:`camtwin.motion.shake`) — the IS-off curve is
thus the average vibration angle × f₃₅, as in CIPA; the IS-on curve the same statistic of
the OIS residual. T_off and T_on are the threshold crossings (log–log interpolation on a
1/6-stop grid). Differences from the standard: the shake is this model's spectrum, not
CIPA's (unpublished) waveform data; the IS-on blur is taken from the residual motion
directly (peak-to-peak) instead of from the measured edge width of captured images, so it
carries no edge-detection noise and no static-blur subtraction is needed.

Gain at a given exposure T (a profile's "≥ 3 stops at 1/4 s"): log₂(T / T_eq), with T_eq
the exposure at which the unstabilised blur equals the stabilised blur at T — the number
of stops by which the exposure can be lengthened at equal blur.

Electronic stabilisation for video (:func:`eis_residual`)
--------------------------------------------------------
The gyro path P_m (image displacement, px) is smoothed to the intended path S (zero-phase
second-order Butterworth low-pass at ``smoothing_hz``; EIS buffers frames, so it may look
ahead), and each frame is re-cropped by c = S − P_m, limited to ±``margin_px`` (the crop
margin). ``per_frame``: one shift per frame, taken at the middle row's mid-exposure time —
a rolling shutter's intra-frame wobble stays. ``per_row``: every row shifted for its own
time (a rolling-shutter-aware warp). The residual jitter is the RMS over frames and rows of
P(t_r) + c_r − S̃(t_r) in pixels, S̃ the same low-pass of the *true* path (the smooth
motion the viewer should see); without clipping it is the high-passed integrated gyro
noise (per row) plus, per frame, the intra-frame wobble. EIS cannot remove the blur within
an exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import Field, field_validator
from scipy import ndimage

from .._spec import FrozenSpec
from ..errors import ConfigError, UnknownNameError, unknown_name
from .shake import Trajectory, shake_trajectory

#: CIPA DC-011 / ISO 20954-1 handheld blur threshold: 63 µm on a 24 × 36 mm frame.
CIPA_BLUR_THRESHOLD_UM = 63.0
#: Diagonal of the 24 × 36 mm frame [mm].
FULL_FRAME_DIAGONAL_MM = math.hypot(24.0, 36.0)


class OisSpec(FrozenSpec):
    """Optical image stabiliser (see the module docstring for the model and sources)."""

    kind: Literal["lens_shift", "sensor_shift"] = "lens_shift"
    gyro_noise_density_deg_s_rthz: float = Field(0.005, ge=0, le=10)
    gyro_bias_deg_s: float = Field(0.05, ge=-100, le=100)
    bandwidth_hz: float = Field(60.0, gt=0, le=5000)
    highpass_hz: float = Field(0.1, ge=0, le=10)
    stroke_um: float = Field(100.0, ge=0, le=5000)
    corrects_roll: bool = False
    roll_stroke_deg: float = Field(1.0, ge=0, le=10)


class EisSpec(FrozenSpec):
    """Electronic (crop-and-warp) video stabiliser (module docstring)."""

    margin_px: float = Field(64.0, ge=0, le=10000)
    mode: Literal["per_frame", "per_row"] = "per_row"
    smoothing_hz: float = Field(0.5, gt=0, le=100)
    gyro_noise_density_deg_s_rthz: float = Field(0.005, ge=0, le=10)


#: Named stabilisers (``none``: no stabilisation, gain 0 stops).
OIS_PRESETS: dict[str, OisSpec | None] = {
    "none": None,
    "phone": OisSpec(),
    "sensor_shift": OisSpec(kind="sensor_shift", bandwidth_hz=100.0, stroke_um=1000.0,
                            gyro_noise_density_deg_s_rthz=0.003, corrects_roll=True),
}


class StabiliserSpec(FrozenSpec):
    """The image stabilisation a module has (``ModuleSpec.stabiliser``).

    ``ois``: an :class:`OisSpec`, or a preset name of :data:`OIS_PRESETS` (``phone``,
    ``sensor_shift``; ``none`` = no OIS); ``eis``: an :class:`EisSpec` or None;
    ``source``: where the module's stabilisation is documented (a product page or
    datasheet; the OIS parameters themselves are the preset's stated assumptions unless
    given). A module without the field has no stabiliser (0 stops).
    """

    ois: OisSpec | None = None
    eis: EisSpec | None = None
    source: str = ""

    @field_validator("ois", mode="before")
    @classmethod
    def _preset(cls, v):
        if isinstance(v, str):
            if v not in OIS_PRESETS:
                raise ValueError(f"unknown OIS preset {v!r}; valid: {', '.join(OIS_PRESETS)}")
            return OIS_PRESETS[v]
        return v


def module_stabiliser(module) -> "StabiliserSpec | None":
    """The module's :class:`StabiliserSpec` (None when it has none)."""
    return getattr(module, "stabiliser", None)


def ois_option(value, *, option: str = "ois"):
    """An OIS choice checked once: ``module``, a preset name of :data:`OIS_PRESETS`, a dict
    of :class:`OisSpec` fields, a spec or None (a one-line :class:`ConfigError` naming
    ``option``, the value and the valid choices otherwise)."""
    if value is None or value == "module" or isinstance(value, (OisSpec, dict)):
        return value
    if value not in OIS_PRESETS:
        raise UnknownNameError(f"{option} = {value!r}: valid choices are module, "
                               f"{', '.join(OIS_PRESETS)}")
    return value


def resolve_ois(module, ois="module", *, option: str = "ois") -> OisSpec | None:
    """The OIS a capture or metric uses: ``"module"`` → the module's own
    (``module.stabiliser.ois``; None when it has none), else :func:`ois_option`'s choices
    as :func:`ois_spec` reads them."""
    if isinstance(ois, str) and ois == "module":
        stab = module_stabiliser(module)
        return None if stab is None else stab.ois
    return ois_spec(ois_option(ois, option=option))


def preset_name(value, presets: dict) -> str:
    """Name of ``value`` for metadata and sources: itself when a name, ``none`` for None,
    the preset it equals, else its ``name`` or ``custom``."""
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    for name, spec in presets.items():
        if spec is not None and spec == value:
            return name
    return getattr(value, "name", None) or "custom"


def ois_spec(ois) -> OisSpec | None:
    """An :class:`OisSpec` (or None) from a preset name, a dict or a spec."""
    if ois is None or isinstance(ois, OisSpec):
        return ois
    if isinstance(ois, dict):
        return OisSpec.from_dict(ois)
    if ois not in OIS_PRESETS:
        raise unknown_name("OIS preset", str(ois), OIS_PRESETS)
    return OIS_PRESETS[ois]


def ois_residual(traj: Trajectory, ois, focal_length_mm: float, rng) -> Trajectory:
    """The camera motion the image still sees with OIS on (angles [rad] of the residual
    image motion r/f; module docstring). ``ois`` None returns ``traj`` unchanged."""
    spec = ois_spec(ois)
    if spec is None:
        return traj
    if not focal_length_mm > 0:
        raise ConfigError(f"focal_length_mm = {focal_length_mm}: must be > 0")
    from scipy import signal     # (here: scipy.signal takes 0.7 s to import, every capture
                                 # imports this module, few use OIS)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    dt = traj.dt_s
    fs = 1.0 / dt
    theta = traj.angles_rad
    n = theta.shape[0]
    f_um = focal_length_mm * 1e3
    out = theta.copy()
    axes = (0, 1, 2) if spec.corrects_roll else (0, 1)
    sigma = math.radians(spec.gyro_noise_density_deg_s_rthz) * math.sqrt(fs / 2.0)
    a_hp = 1.0 / (1.0 + 2 * math.pi * spec.highpass_hz * dt)
    alpha = 1.0 - math.exp(-2 * math.pi * spec.bandwidth_hz * dt)
    for ax in axes:
        # gyro: ω_m = dθ/dt + b + noise; integrated back to an angle (θ(0) + ∫ω_m)
        noise = sigma * gen.standard_normal(n)
        theta_m = theta[:, ax] + np.cumsum(math.radians(spec.gyro_bias_deg_s) + noise) * dt
        if spec.highpass_hz > 0:   # y[k] = a·(y[k−1] + x[k] − x[k−1])
            theta_m = signal.lfilter([a_hp, -a_hp], [1.0, -a_hp], theta_m - theta_m[0])
        if ax == 2:  # roll: the sensor rotates by −θ_m (angle, no focal length)
            cmd = signal.lfilter([alpha], [1.0, alpha - 1.0], -theta_m)
            stroke = math.radians(spec.roll_stroke_deg)
            out[:, ax] = theta[:, ax] + np.clip(cmd, -stroke, stroke)
            continue
        cmd = signal.lfilter([alpha], [1.0, alpha - 1.0], -f_um * theta_m)   # µm
        out[:, ax] = theta[:, ax] + np.clip(cmd, -spec.stroke_um, spec.stroke_um) / f_um
    return Trajectory(t_s=traj.t_s, angles_rad=out)


def equivalent_focal_length_mm(focal_length_mm: float, sensor_diagonal_mm: float) -> float:
    """35 mm-equivalent focal length f·43.27/diagonal [mm]."""
    if not sensor_diagonal_mm > 0:
        raise ConfigError(f"sensor_diagonal_mm = {sensor_diagonal_mm}: must be > 0")
    return focal_length_mm * FULL_FRAME_DIAGONAL_MM / sensor_diagonal_mm


def _mean_peak_to_peak(x: np.ndarray, n_win: int, stride: int) -> float:
    """Mean over window starts (every ``stride`` samples) of max − min over ``n_win``."""
    if n_win < 2:
        return 0.0
    # running max/min (van Herk–Gil-Werman, O(N)); the centred filter's output at
    # i + n//2 covers the window [i, i + n − 1]
    valid = x.size - n_win + 1
    c = n_win // 2
    hi = ndimage.maximum_filter1d(x, n_win, mode="nearest")[c:c + valid:stride]
    lo = ndimage.minimum_filter1d(x, n_win, mode="nearest")[c:c + valid:stride]
    return float(np.mean(hi - lo))


def blur_amount_um(traj: Trajectory, exposures_s, focal_length_mm: float, *,
                   skip_s: float = 0.0) -> np.ndarray:
    """CIPA-style blur amount B(T) [µm at focal length f]: mean peak-to-peak image
    displacement f·Δθ during an exposure T, averaged over pitch and yaw and over all
    start times after ``skip_s`` (module docstring)."""
    i0 = int(round(skip_s / traj.dt_s))
    ang = traj.angles_rad[i0:, :2]
    out = []
    for t in np.atleast_1d(exposures_s):
        n_win = int(round(float(t) / traj.dt_s)) + 1
        if n_win > ang.shape[0] // 4:
            raise ConfigError(f"exposure {t:g} s is too long for a "
                              f"{ang.shape[0] * traj.dt_s:g} s trajectory (needs ≥ 4 windows)")
        pp = [_mean_peak_to_peak(ang[:, k], n_win, 1) for k in range(2)]
        out.append(focal_length_mm * 1e3 * 0.5 * (pp[0] + pp[1]))
    return np.asarray(out)


def _crossing(exposures, blur, threshold) -> float:
    """Exposure where a rising blur curve first reaches ``threshold`` (log–log); 0 when
    already above at the shortest, inf when never reached."""
    ok = np.nonzero(blur >= threshold)[0]
    if ok.size == 0:
        return math.inf
    i = int(ok[0])
    if i == 0:
        return 0.0
    b0, b1 = max(blur[i - 1], 1e-300), blur[i]
    u = (math.log(threshold) - math.log(b0)) / (math.log(b1) - math.log(b0))
    return float(math.exp(math.log(exposures[i - 1]) + u * (math.log(exposures[i]) -
                                                               math.log(exposures[i - 1]))))


def cipa_gain(exposures_s, blur_off, blur_on, threshold) -> tuple[float, float, float]:
    """(T_off, T_on, stops): the exposures at which the IS-off and IS-on blur curves
    (rising with exposure, any unit) reach ``threshold`` (log–log interpolation) and
    log₂(T_on/T_off) — CIPA DC-011's stabilisation performance. NaN stops when a curve
    never crosses on the grid (or is already above it at the shortest exposure)."""
    exp = np.asarray(exposures_s, dtype=np.float64)
    t_off = _crossing(exp, np.asarray(blur_off, dtype=np.float64), threshold)
    t_on = _crossing(exp, np.asarray(blur_on, dtype=np.float64), threshold)
    ok = 0 < t_off < math.inf and 0 < t_on < math.inf
    return t_off, t_on, (math.log2(t_on / t_off) if ok else math.nan)


@dataclass(frozen=True)
class StabilisationGain:
    """Result of :func:`stabilisation_gain`.

    ``exposures_s`` grid; ``blur_off_um``, ``blur_on_um``: blur amount in µm of the
    35 mm-equivalent frame; ``t_off_s``, ``t_on_s``: threshold crossings; ``stops``:
    log₂(t_on/t_off) (CIPA); ``stops_at``: gain at each exposure (equal-blur ratio);
    ``stops_is_lower_bound``: the IS-on blur stayed below the threshold up to the longest
    exposure of the grid, and ``stops`` is log₂(T_max/t_off).
    """

    exposures_s: np.ndarray
    blur_off_um: np.ndarray
    blur_on_um: np.ndarray
    threshold_um: float
    t_off_s: float
    t_on_s: float
    stops: float
    stops_at: np.ndarray = field(repr=False)
    stops_is_lower_bound: bool = False

    def gain_at(self, exposure_s: float) -> float:
        """Equal-blur gain [stops] at ``exposure_s`` (log-interpolated on the grid)."""
        return float(np.interp(math.log(exposure_s), np.log(self.exposures_s), self.stops_at))


def stabilisation_gain(shake="handheld", ois="phone", *, focal_length_mm: float,
                       sensor_diagonal_mm: float, rng=0, duration_s: float = 40.0,
                       sample_rate_hz: float = 2000.0, exposures_s=None,
                       threshold_um: float = CIPA_BLUR_THRESHOLD_UM) -> StabilisationGain:
    """Stabilisation gain in stops after CIPA DC-011 (module docstring).

    Parameters
    ----------
    shake : preset name or ShakeSpec
    ois : preset name, OisSpec or None (None / ``"none"``: gain 0)
    focal_length_mm, sensor_diagonal_mm : float
        Lens focal length and sensor diagonal [mm] (give f₃₅).
    rng : Generator or int
        Seeds the trajectory and the gyro noise (common to IS off and on).
    duration_s : float
        Trajectory length [s]; the longest exposure must be ≤ duration/4.
    exposures_s : array, optional
        Exposure grid [s]; default 2⁻¹² … duration/8 in 1/6 stops.
    threshold_um : float
        Blur threshold on the 35 mm-equivalent frame [µm] (CIPA: 63).
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    f35 = equivalent_focal_length_mm(focal_length_mm, sensor_diagonal_mm)
    if exposures_s is None:
        top = math.floor(6 * math.log2(duration_s / 8.0))
        exposures_s = 2.0 ** (np.arange(-72, top + 1) / 6.0)
    exp = np.asarray(exposures_s, dtype=np.float64)
    warm = 2.0 + (1.0 / (2 * math.pi * ois_spec(ois).highpass_hz)
                  if ois_spec(ois) is not None and ois_spec(ois).highpass_hz > 0 else 0.0)
    warm = min(warm, 10.0)
    traj = shake_trajectory(shake, duration_s + warm, gen, sample_rate_hz=sample_rate_hz)
    res = ois_residual(traj, ois, focal_length_mm, gen)
    # µm at f → µm on the 35 mm frame: × f35/f (the threshold is stated there)
    off = blur_amount_um(traj, exp, f35, skip_s=warm)
    on = blur_amount_um(res, exp, f35, skip_s=warm)
    t_off, t_on, stops = cipa_gain(exp, off, on, threshold_um)
    lower_bound = False
    if ois_spec(ois) is None:
        stops = 0.0
    elif t_on == math.inf and 0 < t_off < math.inf:   # sharp at the longest exposure tried
        stops, lower_bound = math.log2(exp[-1] / t_off), True
    # equal-blur gain per exposure: T_eq where off(T_eq) = on(T) (off is monotonic)
    lo, lb = np.log(exp), np.log(np.maximum.accumulate(np.maximum(off, 1e-300)))
    t_eq = np.exp(np.interp(np.log(np.maximum(on, 1e-300)), lb, lo))
    stops_at = np.log2(exp / t_eq)
    if ois_spec(ois) is None:
        stops_at = np.zeros_like(exp)
    return StabilisationGain(exposures_s=exp, blur_off_um=off, blur_on_um=on,
                             threshold_um=float(threshold_um), t_off_s=t_off, t_on_s=t_on,
                             stops=float(stops), stops_at=stops_at,
                             stops_is_lower_bound=lower_bound)


@dataclass(frozen=True)
class EisResult:
    """Residual of :func:`eis_residual`: ``jitter_px`` RMS of the displayed motion about the
    intended path (frames × rows, both axes combined); ``unstabilised_px`` the same
    without EIS; ``clipped_fraction`` share of corrections at the crop margin;
    ``residual_px`` (frames, rows, 2)."""

    jitter_px: float
    unstabilised_px: float
    clipped_fraction: float
    residual_px: np.ndarray = field(repr=False)


def eis_residual(traj_px, t_s, eis, *, frame_rate_fps: float, n_frames: int,
                 line_time_s: float, height_px: int, exposure_s: float,
                 focal_length_px: float | None = None, rng=0, n_rows: int = 16) -> EisResult:
    """Residual jitter of EIS-stabilised video (module docstring).

    ``traj_px`` (N, 2) image displacement [px] at ``t_s``; frames start at j/fps, row r at
    r·``line_time_s`` after the frame start (0 for a global shutter); each row is judged at
    its mid-exposure time. ``focal_length_px`` converts the gyro noise density into pixels
    (f/pitch; required when the noise density > 0). ``n_rows`` rows are evaluated per frame.
    """
    from scipy import signal     # (here: see ois_residual)

    spec = eis if isinstance(eis, EisSpec) else EisSpec.from_dict(eis or {})
    if not frame_rate_fps > 0:
        raise ConfigError(f"frame_rate_fps = {frame_rate_fps}: must be > 0")
    t_s = np.asarray(t_s, dtype=np.float64)
    d = np.asarray(traj_px, dtype=np.float64)
    dt = t_s[1] - t_s[0]
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    meas = d.copy()
    if spec.gyro_noise_density_deg_s_rthz > 0:
        if focal_length_px is None:
            raise ConfigError("eis_residual: focal_length_px is needed to scale the gyro noise")
        sigma = math.radians(spec.gyro_noise_density_deg_s_rthz) * math.sqrt(0.5 / dt)
        meas = meas + np.cumsum(sigma * gen.standard_normal(d.shape), axis=0) * dt * \
            focal_length_px
    b, a = signal.butter(2, spec.smoothing_hz, fs=1.0 / dt)
    smooth = signal.filtfilt(b, a, meas, axis=0)         # the path EIS aims for
    intended = signal.filtfilt(b, a, d, axis=0)          # the true smooth camera path
    rows = np.linspace(0, height_px - 1, int(n_rows))
    t_rows = (np.arange(int(n_frames))[:, None] / frame_rate_fps + rows[None, :] * line_time_s
              + 0.5 * exposure_s) + t_s[0]
    if t_rows.max() > t_s[-1]:
        raise ConfigError("eis_residual: the trajectory is shorter than the video")

    def at(x, t):
        return np.stack([np.interp(t, t_s, x[:, k]) for k in range(2)], axis=-1)

    p, pm, s, ref = (at(d, t_rows), at(meas, t_rows), at(smooth, t_rows),
                     at(intended, t_rows))
    if spec.mode == "per_frame":
        mid = t_rows[:, [len(rows) // 2]]
        corr = np.broadcast_to(at(smooth, mid) - at(meas, mid), p.shape)
    else:
        corr = s - pm
    clipped = np.abs(corr) >= spec.margin_px
    corr = np.clip(corr, -spec.margin_px, spec.margin_px)
    resid = p + corr - ref
    base = p - ref
    return EisResult(jitter_px=float(np.sqrt(np.mean(np.sum(resid ** 2, axis=-1)))),
                     unstabilised_px=float(np.sqrt(np.mean(np.sum(base ** 2, axis=-1)))),
                     clipped_fraction=float(np.mean(clipped)), residual_px=resid)


__all__ = ["OisSpec", "EisSpec", "OIS_PRESETS", "ois_spec", "ois_residual",
           "equivalent_focal_length_mm", "blur_amount_um", "stabilisation_gain", "cipa_gain",
           "StabilisationGain", "eis_residual", "EisResult", "CIPA_BLUR_THRESHOLD_UM"]
