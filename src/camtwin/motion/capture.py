"""A capture while the camera shakes: blur and rolling-shutter wobble through the sensor's
own time integration, on the streamed channel image.

Model
-----
The camera rotates by θ(t) = (θ_pitch, θ_yaw, θ_roll)(t) [rad] during the exposure (a
seeded :func:`camtwin.motion.shake.shake_trajectory`, or a given
:class:`~camtwin.motion.shake.Trajectory`); an optical stabiliser leaves the residual
:func:`camtwin.motion.stabilise.ois_residual`. The image of a distant scene moves rigidly
(small angles, camera translation neglected, :meth:`Trajectory.image_px`):

    p(t) = R(θ_r(t) − θ_r(t₀))·(p₀ − a) + a + (f/p_px)·(θ_p(t) − θ_p(t₀), θ_y(t) − θ_y(t₀))

with a the optical axis, f the focal length [mm → µm], p_px the pixel pitch [µm] and t₀ = 0
on the capture's clock (:func:`camtwin.camera.shoot`'s ``start_s`` is row 0's integration
start on that clock; a sensor window starting at ``start_s`` = y·t_l sees the motion the
full frame's row y sees).
Every plane of the optical image — the per-channel electron-rate densities D_c of the
streamed path (:class:`~camtwin.optics.stream.ChannelImage`, C planes instead of the
spectral bands) or the spectral irradiance of an :class:`~camtwin.optics.OpticalImage` — is
warped by this map at N time samples (OpenCV ``warpAffine``, bilinear; beyond the optical
image's border the content is mirrored) and handed to :func:`camtwin.sensor.capture` as
``scene_at(t)``, which integrates every row over its own window
(:func:`camtwin.sensor.timing.integrate_time_varying`: N piecewise-constant sub-intervals
spanning all rows' windows, each row weighted by its exact overlap with each). So a rolling
shutter sees the motion at a different time in every row (wobble, shear) and every row is
blurred by the motion within its window; a global shutter gets one blur and no wobble.

Time sampling: N is chosen so that the image moves by at most ``max_step_px`` (0.25 px) —
at the sensor corner, roll included — between samples (8 ≤ N ≤ 1024; the metadata records
N and the achieved step). With a piecewise-constant image per sub-interval the blur kernel
is the trajectory's occupancy sampled on that grid.

Approximations: the bilinear warp of a plane sampled at the pixel pitch smooths a shift by
a fraction u of a sample with the two-tap kernel (1 − u, u), i.e. adds a variance u(1 − u)
≤ 1/4 px² (over many time samples about 1/6 px²) to the motion's — visible only when the
motion blur itself is below ≈ 0.5 px, and /oversample² for an oversampled image. Content
that the motion brings in from beyond the optical image is the image mirrored at its border
(the whole sensor has no margin; a window has its optics margin, :func:`camtwin.camera.
scene_window`), so the outermost ≈ blur_px pixels are not the scene's.

Metadata (``raw.metadata["shake"]``, JSON-safe; :func:`motion_summary`): the shake and OIS
names, the trajectory time of the start, ``blur_px`` — the peak-to-peak image motion
(Δrow, Δcol) [px] at the optical axis during the exposure window of a row, averaged over
rows (:func:`camtwin.motion.blur.blur_extent_px`), ``blur_px_max`` the largest such length
over rows, ``wobble_px`` the peak-to-peak over rows of each row's motion centroid
(:func:`camtwin.motion.blur.row_motion`; 0 for a global shutter), ``roll_deg`` the
peak-to-peak roll over the capture, ``time_samples`` and ``step_px``.

Sources: the blur/wobble model and its references are in :mod:`camtwin.motion.blur`, the
shake spectra in :mod:`camtwin.motion.shake`, the OIS loop in :mod:`camtwin.motion.stabilise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError
from .shake import SHAKE_PRESETS, ShakeSpec, Trajectory, shake_spec, shake_trajectory
from .stabilise import OIS_PRESETS, ois_residual, preset_name, resolve_ois

#: Largest image motion [px] between two time samples (module docstring).
MAX_STEP_PX = 0.25
#: Bounds on the number of time samples.
MIN_TIME_SAMPLES, MAX_TIME_SAMPLES = 8, 1024
#: Trajectory time before the capture [s]: lets the OIS filters settle.
WARMUP_S = 2.0


@dataclass(frozen=True)
class ShakeMotion:
    """The camera motion of one capture (after stabilisation).

    ``trajectory`` the residual camera rotation; ``t_start_s`` its time at clock time 0
    (the start of row 0's integration of a capture with ``start_s`` = 0);
    ``focal_length_mm``, ``pixel_pitch_um`` convert angles to pixels;
    ``shake``, ``ois`` the names for the metadata (``custom`` for a spec or trajectory).
    """

    trajectory: Trajectory
    t_start_s: float
    focal_length_mm: float
    pixel_pitch_um: float
    shake: str
    ois: str

    def image_px(self) -> np.ndarray:
        """Image displacement (Δrow, Δcol) [px] at the optical axis, (N, 2)."""
        return self.trajectory.image_px(self.focal_length_mm, self.pixel_pitch_um)

    def pose(self, t_s) -> np.ndarray:
        """(Δrow [px], Δcol [px], θ_roll [rad]) at clock times ``t_s`` [s] relative to the
        pose at clock time 0, shape (…, 3)."""
        t = np.asarray(t_s, dtype=np.float64) + self.t_start_s
        tr = self.trajectory
        k = self.focal_length_mm * 1e3 / self.pixel_pitch_um
        a = np.stack([np.interp(t, tr.t_s, tr.angles_rad[:, j]) for j in range(3)], axis=-1)
        a0 = tr.at(self.t_start_s)
        return np.stack([k * (a[..., 0] - a0[0]), k * (a[..., 1] - a0[1]), a[..., 2] - a0[2]],
                        axis=-1)


def shake_motion(module, exposure_s: float, rng, *, shake="handheld", ois="module",
                 warmup_s: float = WARMUP_S, sensor=None, start_s: float = 0.0) -> ShakeMotion:
    """Draw (or take) the camera motion of one capture.

    Parameters
    ----------
    module : ModuleSpec
        Focal length, pixel pitch, its stabiliser (``ois="module"``).
    exposure_s : float
        Exposure [s] (> 0).
    rng : numpy.random.Generator or int
        Draws the trajectory, then the gyro noise of the OIS.
    shake : preset name, dict, ShakeSpec or Trajectory
        A :class:`Trajectory` is the camera rotation itself: row 0 starts at its first
        sample, or ``warmup_s`` later when it is long enough.
    ois : "module", preset name, OisSpec or None
        :func:`resolve_ois`.
    sensor : SensorSpec, optional
        The sensor that captures (a window's; default ``module.sensor``): its shutter and
        height set the time span.
    start_s : float
        Row 0's integration start on the capture clock [s] (a drawn trajectory is made long
        enough to reach it).

    Raises
    ------
    ConfigError
        A trajectory shorter than the capture; bad exposure.
    camtwin.errors.UnknownNameError
        Unknown shake or OIS preset (the valid names listed).
    """
    s = module.sensor if sensor is None else sensor
    if not (np.isfinite(exposure_s) and exposure_s > 0):
        raise ConfigError(f"exposure_s = {exposure_s}: must be > 0")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    span = capture_span_s(s, exposure_s) + max(float(start_s), 0.0)
    spec = resolve_ois(module, ois)
    if isinstance(shake, Trajectory):
        traj, name = shake, "custom"
        t_start = float(traj.t_s[0]) + (warmup_s if traj.t_s[-1] - traj.t_s[0] > warmup_s + span
                                        else 0.0)
    else:
        sh = shake_spec(shake)
        traj = shake_trajectory(sh, warmup_s + span + 0.05, gen)
        name = preset_name(shake if isinstance(shake, str) else sh, SHAKE_PRESETS)
        t_start = warmup_s
    if t_start + span > traj.t_s[-1] + 1e-9 or t_start + start_s < traj.t_s[0] - 1e-12:
        raise ConfigError(f"the shake trajectory covers {traj.t_s[0]:g} … {traj.t_s[-1]:g} s; "
                          f"the capture needs {t_start + min(start_s, 0.0):g} … "
                          f"{t_start + span:g} s")
    res = ois_residual(traj, spec, module.lens.focal_length_mm, gen)
    return ShakeMotion(trajectory=res, t_start_s=t_start,
                       focal_length_mm=float(module.lens.focal_length_mm),
                       pixel_pitch_um=float(s.pixel_pitch_um), shake=name,
                       ois=preset_name(ois if isinstance(ois, str) and ois != "module" else spec,
                                       OIS_PRESETS))


def capture_span_s(sensor, exposure_s: float) -> float:
    """Time from row 0's integration start to the last row's end [s]: (H−1)·t_l + T on a
    rolling shutter, T otherwise."""
    line = sensor.shutter.line_time_s if sensor.shutter.type == "rolling" else 0.0
    return (sensor.height_px - 1) * line + float(exposure_s)


def time_samples(motion: ShakeMotion, sensor, exposure_s: float, *, start_s: float = 0.0,
                 max_step_px: float = MAX_STEP_PX) -> tuple[int, float]:
    """(N, step [px]): samples so that the image moves ≤ ``max_step_px`` between two, at the
    sensor corner (roll included), within [MIN_TIME_SAMPLES, MAX_TIME_SAMPLES]."""
    span = capture_span_s(sensor, exposure_s)
    p = motion.pose(start_s + np.linspace(0.0, span, 4097))
    corner = 0.5 * math.hypot(sensor.height_px, sensor.width_px)
    path = float(np.sum(np.hypot(np.diff(p[:, 0]), np.diff(p[:, 1]))
                        + np.abs(np.diff(p[:, 2])) * corner))
    n = int(np.clip(math.ceil(path / max_step_px), MIN_TIME_SAMPLES, MAX_TIME_SAMPLES))
    return n, path / n


def motion_summary(motion: ShakeMotion, sensor, exposure_s: float, *, start_s: float = 0.0,
                   n_rows: int = 64) -> dict:
    """JSON-safe description of the motion of a capture (module docstring: ``blur_px``,
    ``blur_px_max``, ``wobble_px``, ``roll_deg``)."""
    from ..sensor.timing import row_start_times
    from .blur import blur_extent_px, row_motion

    t_rows = row_start_times(sensor, start_s)
    rows = np.unique(np.linspace(0, t_rows.size - 1, min(n_rows, t_rows.size)).round()
                     .astype(int))
    tr = motion.trajectory
    d = motion.image_px()
    ext = np.array([blur_extent_px(d, tr.t_s, exposure_s, t0_s=motion.t_start_s + t_rows[r])
                    for r in rows])
    cen, _ = row_motion(d, tr.t_s, motion.t_start_s + t_rows[rows], exposure_s)
    span = capture_span_s(sensor, exposure_s)
    roll = motion.pose(start_s + np.linspace(0.0, span, 1025))[:, 2]
    return {"shake": motion.shake, "ois": motion.ois,
            "trajectory_start_s": float(motion.t_start_s), "start_s": float(start_s),
            "blur_px": [float(v) for v in ext.mean(axis=0)],
            "blur_px_max": float(np.hypot(ext[:, 0], ext[:, 1]).max()),
            "wobble_px": [float(v) for v in np.ptp(cen, axis=0)],
            "roll_deg": float(np.degrees(np.ptp(roll)))}


def warp_planes(planes: np.ndarray, dy_px: float, dx_px: float, roll_rad: float, *,
                axis_rc: tuple[float, float], samples_per_px: float = 1.0) -> np.ndarray:
    """``planes`` (P, H, W) moved rigidly: rotated by ``roll_rad`` about ``axis_rc`` (row,
    col in sample coordinates) and translated by (dy, dx) [pixels], bilinear, mirrored
    beyond the border. A point at sample (r, c) lands at R(θ)·((r, c) − a) + a + (dy, dx)·s,
    s = ``samples_per_px`` (the small-angle image motion of :meth:`Trajectory.image_px`)."""
    import cv2

    n_p, h, w = planes.shape
    cy, cx = (float(v) for v in axis_rc)
    c, sn = math.cos(roll_rad), math.sin(roll_rad)
    # OpenCV: x = col, y = row; forward map x' = c·x − s·y + …, y' = s·x + c·y + …
    m = np.array([[c, -sn, cx - c * cx + sn * cy + dx_px * samples_per_px],
                  [sn, c, cy - sn * cx - c * cy + dy_px * samples_per_px]], dtype=np.float64)
    out = np.empty_like(planes)
    for b in range(n_p):
        cv2.warpAffine(planes[b], m, (w, h), dst=out[b], flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    return out


def capture_moving(oi, sensor, exposure_s: float, rng, motion: ShakeMotion, *,
                   start_s: float = 0.0, n_time_samples: int | None = None,
                   max_step_px: float = MAX_STEP_PX, progress=None):
    """Capture ``oi`` with ``sensor`` while the image moves by ``motion`` (module docstring).

    Parameters
    ----------
    oi : ChannelImage or OpticalImage
        What the lens forms on the sensor (a ChannelImage: C planes per time sample; an
        OpticalImage: every spectral band).
    sensor : SensorSpec
        The sensor (a window's for a window capture).
    exposure_s : float
        Exposure [s].
    rng : numpy.random.Generator or int
        The frame noise (:func:`camtwin.sensor.capture`).
    motion : ShakeMotion
        From :func:`shake_motion`.
    start_s : float
        Time of row 0's integration start on the capture's clock [s] (the motion is
        relative to the pose at clock time 0).
    n_time_samples : int, optional
        Fixed N; default :func:`time_samples`.
    progress : callable, optional
        ``progress(done, total)`` after each time sample.

    Returns
    -------
    RawFrame
        With ``metadata["shake"]`` (:func:`motion_summary` plus ``time_samples``,
        ``step_px``).
    """
    from ..optics.stream import ChannelImage
    from ..sensor import capture

    n, step = time_samples(motion, sensor, exposure_s, start_s=start_s,
                           max_step_px=max_step_px)
    if n_time_samples is not None:
        if not 1 <= int(n_time_samples) <= 100000:
            raise ConfigError(f"n_time_samples = {n_time_samples}: valid range is 1..100000")
        n, step = int(n_time_samples), step * n / int(n_time_samples)
    attr = "density" if isinstance(oi, ChannelImage) else "irradiance"
    planes = getattr(oi, attr)
    ovs = sensor.pixel_pitch_um / oi.sample_pitch_um
    h, w = planes.shape[1:]
    off = getattr(oi, "sensor_offset_px", (0.0, 0.0))   # window centre from the axis [px]
    axis = ((h - 1) / 2.0 - float(off[0]) * ovs, (w - 1) / 2.0 - float(off[1]) * ovs)
    done = [0]

    def scene_at(t):
        dy, dx, th = (float(v) for v in motion.pose(float(t)))
        moved = replace(oi, **{attr: warp_planes(planes, dy, dx, th, axis_rc=axis,
                                                 samples_per_px=ovs)})
        done[0] += 1
        if progress is not None:
            progress(done[0], n)
        return moved

    raw = capture(oi, sensor, exposure_s, rng, start_s=start_s, scene_at=scene_at,
                  n_time_samples=n)
    if isinstance(getattr(raw, "metadata", None), dict):
        info = motion_summary(motion, sensor, exposure_s, start_s=start_s)
        info.update(time_samples=n, step_px=float(step))
        raw.metadata["shake"] = info
    return raw


def shake_rng(rng) -> tuple[np.random.Generator, np.random.Generator]:
    """(frame noise generator, shake generator) from one seed: the shake's is spawned
    (:meth:`numpy.random.Generator.spawn`, which leaves the parent's stream untouched), so
    a shaken capture has the same noise draw as the unshaken one of the same seed."""
    from ..sensor.capture import _as_rng

    gen = _as_rng(rng)
    return gen, gen.spawn(1)[0]


def shake_extra_bytes(module, n_channels: int | None = None) -> int:
    """Working set [bytes] a shaken capture adds to :func:`camtwin.memory.
    estimate_capture_bytes` for ``module`` (as cropped/windowed): the warped copy of the C
    channel planes (4 B per channel and optical-image sample) and, per pixel, the
    electron-rate mosaic of the time sample, its chief-ray and crosstalk temporaries, the
    overlap-weighted part and the running sum of :func:`camtwin.sensor.timing.
    integrate_time_varying` (5 × 4 B). One time sample is alive at a time."""
    from ..camera import scene_extent

    s = module.sensor
    (rows, cols), _ = scene_extent(module)
    n_ch = n_channels or (1 if s.cfa == "mono" else 3)
    return int(rows * cols * 4 * n_ch + 20 * s.width_px * s.height_px)


def shake_option(value, *, option: str = "--shake"):
    """A shake value checked once: a preset name of :data:`SHAKE_PRESETS`, a dict, a
    :class:`ShakeSpec` or a :class:`Trajectory` (None passes through). A bad name raises a
    one-line :class:`ConfigError` naming ``option``, the value and the valid choices."""
    if value is None or isinstance(value, (ShakeSpec, Trajectory)):
        return value
    if isinstance(value, dict):
        return shake_spec(value)
    if value not in SHAKE_PRESETS:
        raise ConfigError(f"{option} = {value!r}: valid choices are {', '.join(SHAKE_PRESETS)}")
    return value


__all__ = ["ShakeMotion", "shake_motion", "capture_span_s", "time_samples",
           "motion_summary", "warp_planes", "capture_moving", "shake_rng", "shake_extra_bytes",
           "shake_option", "MAX_STEP_PX"]
