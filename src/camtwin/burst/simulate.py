"""Handheld raw bursts: one optical image, re-posed per frame, captured N times.

Handheld motion model
---------------------
Frame z sees the scene through a rigid image-plane motion relative to frame 0 (the
reference pose): a rotation θ_z about the optical axis and a translation t_z [pixels],

    p_z = R(θ_z)·p_0 + t_z        (p measured from the optical axis, in sensor pixels)

so a scene point imaged at p_0 in frame 0 lands at p_z in frame z. Miniature-camera
handshake over a burst is dominated by translation (tens of pixels for a phone at 1/10 s
frame spacing) with roll of a few tenths of a degree; t_z is drawn uniformly in
[−``shift_px``, ``shift_px``]² and θ_z uniformly in [−``rotation_deg``, ``rotation_deg``],
from the caller's Generator.

With ``shake`` set (a preset of :mod:`camtwin.motion.shake`: ``handheld``, ``walking``, …),
the poses come from the same hand-shake model as the rest of camtwin instead: one seeded
camera-rotation trajectory spans the burst (frames start every ``frame_interval_s``), each
frame's pose is the centroid of the image motion during its exposure (f·θ/pitch in pixels,
roll as θ_z), relative to frame 0's, and the frame is blurred by the occupancy kernel of
the motion about that centroid (:mod:`camtwin.motion.blur`). The rolling-shutter row
dependence of the motion within a frame is not applied here (the warp is one affine per
frame).

Rendering
---------
The optical image (spectral irradiance, :class:`camtwin.optics.OpticalImage`) is formed
once, for a field of view larger than the sensor by ``margin_px`` on every side and at
``oversample`` samples per pixel, so content can enter the frame. Each frame warps every
band with the affine map above (OpenCV ``warpAffine``, bicubic, i.e. sub-pixel), then the
unchanged sensor chain :func:`camtwin.sensor.capture` integrates it over the pixel apertures
and adds every noise source. Moving objects (:class:`MovingObject`) are pasted into the
warped irradiance with an anti-aliased (area-coverage) mask.

The ground truth kept per frame: the affine pose and, from :func:`capture`, the expected
electrons ``mean_electrons``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .._spec import FrozenSpec
from ..errors import ConfigError
from ..optics.image import OpticalImage
from pydantic import Field


class HandheldMotion(FrozenSpec):
    """Per-frame pose jitter of a handheld burst (see the module docstring).

    ``shift_px``: largest translation of a frame relative to frame 0 along each axis
    [sensor pixels]; ``rotation_deg``: largest roll [°]. Zero for both is a tripod.
    ``shake``: a :mod:`camtwin.motion.shake` preset name; when set, it replaces the two
    uniform ranges (poses and in-exposure blur from the shake trajectory, frames every
    ``frame_interval_s`` seconds).
    """

    shift_px: float = Field(0.0, ge=0, le=200)
    rotation_deg: float = Field(0.0, ge=0, le=5)
    shake: str | None = None
    frame_interval_s: float = Field(1 / 30, gt=0, le=10)


class MovingObject(FrozenSpec):
    """A grey square moving across the frame at constant velocity.

    ``start_px`` (row, col) is the square's centre in frame 0 [sensor pixels from the
    top-left corner]; it moves ``velocity_px_per_frame`` (v_row, v_col) per frame, in
    scene coordinates (independent of the camera shake). Its irradiance is the mean
    spectral irradiance of the optical image × ``brightness``.
    """

    start_px: tuple[float, float]
    size_px: float = Field(24.0, gt=1, le=2000)
    velocity_px_per_frame: tuple[float, float] = (0.0, 6.0)
    brightness: float = Field(3.0, ge=0, le=100)


@dataclass(frozen=True, eq=False)
class Burst:
    """A simulated raw burst and its ground truth.

    Attributes
    ----------
    frames : list of RawFrame
        The captures, frame 0 is the reference pose.
    poses : ndarray (N, 3)
        (θ_z [rad], t_row [px], t_col [px]) of frame z relative to frame 0.
    object_boxes : list of list of (r0, r1, c0, c1)
        For each moving object, its bounding box in sensor pixels in every frame.
    """

    frames: list
    poses: np.ndarray
    object_boxes: list = field(default_factory=list)

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def true_displacement_px(self, z: int, rows, cols) -> tuple[np.ndarray, np.ndarray]:
        """Where frame-0 pixel positions (rows, cols) [px, array indices] appear in frame z,
        minus their frame-0 position: the displacement an aligner should find [px]."""
        h, w = self.frames[0].shape
        theta, ty, tx = self.poses[z]
        y = np.asarray(rows, dtype=np.float64) - (h - 1) / 2.0
        x = np.asarray(cols, dtype=np.float64) - (w - 1) / 2.0
        c, s = math.cos(theta), math.sin(theta)
        return (s * x + c * y + ty) - y, (c * x - s * y + tx) - x


def shake_poses(n_frames: int, motion: HandheldMotion, rng: np.random.Generator, *,
                focal_length_mm: float, pixel_pitch_um: float, exposure_s: float,
                oversample: float = 1.0):
    """Poses and blur kernels of a burst under ``motion.shake`` (module docstring).

    Returns ``(poses (N, 3), kernels)``: poses (θ [rad], t_row, t_col [px]) are each
    frame's centroid of motion relative to frame 0's; ``kernels[z]`` is the occupancy of the
    image motion about that centroid on a grid of ``oversample`` samples per pixel (odd
    size, zero displacement at the centre) or None when it moves < 0.05 px.
    """
    from ..motion.shake import shake_trajectory

    if n_frames > 1 and exposure_s > motion.frame_interval_s * (1 + 1e-9):
        raise ConfigError(f"exposure_s = {exposure_s:g}: must not exceed the burst's "
                          f"frame_interval_s = {motion.frame_interval_s:g} s")
    dur = (n_frames - 1) * motion.frame_interval_s + exposure_s
    traj = shake_trajectory(motion.shake, dur + 0.01, rng)
    d = traj.image_px(focal_length_mm, pixel_pitch_um)
    k = max(16, int(math.ceil(exposure_s / traj.dt_s)) + 1)
    poses, kernels = np.zeros((n_frames, 3)), []
    for z in range(n_frames):
        tm = z * motion.frame_interval_s + (np.arange(k) + 0.5) * exposure_s / k
        dz = np.column_stack([np.interp(tm, traj.t_s, d[:, j]) for j in range(2)])
        roll = np.interp(tm, traj.t_s, traj.angles_rad[:, 2])
        cen = dz.mean(axis=0)
        poses[z] = (roll.mean(), cen[0], cen[1])
        rel = (dz - cen) * oversample
        half = np.ceil(np.abs(rel).max(axis=0)).astype(int) + 1
        if np.abs(rel).max() < 0.05 * oversample:
            kernels.append(None)
            continue
        ker = np.zeros((2 * half[0] + 1, 2 * half[1] + 1))
        g = rel + half
        i0 = np.floor(g).astype(int)
        fr = g - i0
        for di in (0, 1):
            for dj in (0, 1):
                w = (fr[:, 0] if di else 1 - fr[:, 0]) * (fr[:, 1] if dj else 1 - fr[:, 1])
                np.add.at(ker, (i0[:, 0] + di, i0[:, 1] + dj), w / k)
        kernels.append(ker.astype(np.float32))
    poses -= poses[0]
    return poses, kernels


def draw_poses(n_frames: int, motion: HandheldMotion, rng: np.random.Generator, *,
               focal_length_mm: float | None = None, pixel_pitch_um: float | None = None,
               exposure_s: float = 1e-3) -> np.ndarray:
    """(N, 3) poses (θ [rad], t_row, t_col [px]); frame 0 is the identity. With
    ``motion.shake`` the module's focal length and pixel pitch are needed
    (:func:`shake_poses`)."""
    if motion.shake is not None:
        if focal_length_mm is None or pixel_pitch_um is None:
            raise ConfigError("HandheldMotion.shake needs the module's focal_length_mm and "
                              "pixel_pitch_um")
        return shake_poses(n_frames, motion, rng, focal_length_mm=focal_length_mm,
                           pixel_pitch_um=pixel_pitch_um, exposure_s=exposure_s)[0]
    poses = np.zeros((n_frames, 3))
    if n_frames > 1:
        poses[1:, 0] = np.radians(rng.uniform(-1, 1, n_frames - 1) * motion.rotation_deg)
        poses[1:, 1:] = rng.uniform(-1, 1, (n_frames - 1, 2)) * motion.shift_px
    return poses


def _affine_oi(theta: float, ty_px: float, tx_px: float, oversample: float, shape) -> np.ndarray:
    """2×3 forward map in optical-image sample coordinates (OpenCV convention: x first)."""
    h, w = shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    c, s = math.cos(theta), math.sin(theta)
    # x' = c·(x − cx) − s·(y − cy) + cx + tx;  y' = s·(x − cx) + c·(y − cy) + cy + ty
    return np.array([[c, -s, cx - c * cx + s * cy + tx_px * oversample],
                     [s, c, cy - s * cx - c * cy + ty_px * oversample]], dtype=np.float64)


def _square_mask(shape, centre_rc, side: float) -> np.ndarray:
    """Area coverage (0..1) of an axis-aligned square on a unit-sample grid."""
    h, w = shape
    def cover(n, c0):
        lo, hi = c0 - side / 2.0, c0 + side / 2.0
        edges = np.arange(n + 1, dtype=np.float64) - 0.5
        return np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, 1.0)
    return (cover(h, centre_rc[0])[:, None] * cover(w, centre_rc[1])[None, :]).astype(np.float32)


def warp_optical_image(oi: OpticalImage, pose, pixel_pitch_um: float, sensor_shape, *,
                       objects=(), frame: int = 0) -> tuple[OpticalImage, list]:
    """The optical image seen at ``pose`` (θ [rad], t_row, t_col [px]) with the moving
    objects at their position in ``frame`` pasted in.

    Returns the new :class:`OpticalImage` and each object's bounding box in sensor pixels
    (r0, r1, c0, c1). The optical axis stays at the array centre, as
    :func:`camtwin.sensor.capture` expects.
    """
    import cv2

    n_b, h_oi, w_oi = oi.irradiance.shape
    h_s, w_s = sensor_shape
    ovs = pixel_pitch_um / oi.sample_pitch_um  # optical-image samples per sensor pixel
    theta, ty, tx = (float(v) for v in pose)
    if theta == 0.0 and ty == 0.0 and tx == 0.0:
        irr = oi.irradiance.copy() if objects else oi.irradiance
    else:
        m = _affine_oi(theta, ty, tx, ovs, (h_oi, w_oi))
        irr = np.empty_like(oi.irradiance)
        for b in range(n_b):
            cv2.warpAffine(oi.irradiance[b], m, (w_oi, h_oi), dst=irr[b],
                           flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        np.maximum(irr, 0.0, out=irr)  # bicubic overshoot at edges
    boxes = []
    if objects:
        mean_spd = oi.irradiance.mean(axis=(1, 2))
        for obj in objects:
            r = obj.start_px[0] + frame * obj.velocity_px_per_frame[0]
            c = obj.start_px[1] + frame * obj.velocity_px_per_frame[1]
            # sensor pixel (r, c) → optical-image sample coordinates (centres aligned)
            rc_oi = ((r - (h_s - 1) / 2.0) * ovs + (h_oi - 1) / 2.0,
                     (c - (w_s - 1) / 2.0) * ovs + (w_oi - 1) / 2.0)
            mask = _square_mask((h_oi, w_oi), rc_oi, obj.size_px * ovs)
            spd = (mean_spd * np.float32(obj.brightness)).astype(np.float32)
            irr = irr * (1.0 - mask)[None] + mask[None] * spd[:, None, None]
            half = obj.size_px / 2.0
            boxes.append((int(math.floor(r - half)), int(math.ceil(r + half)) + 1,
                          int(math.floor(c - half)), int(math.ceil(c + half)) + 1))
    return replace(oi, irradiance=np.ascontiguousarray(irr, dtype=np.float32)), boxes


def _blur_optical_image(oi: OpticalImage, kernel: np.ndarray) -> OpticalImage:
    """Every band convolved with the motion kernel (out(x) = Σ_u k(u)·E(x − u); OpenCV
    filter2D correlates, hence the flipped kernel), borders reflected."""
    import cv2

    kf = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)
    irr = np.empty_like(oi.irradiance)
    for b in range(oi.irradiance.shape[0]):
        cv2.filter2D(oi.irradiance[b], -1, kf, dst=irr[b], borderType=cv2.BORDER_REFLECT)
    return replace(oi, irradiance=irr)


def burst_optical_image(module, scene, *, illuminance_lux: float, margin_px: int = 32,
                        oversample: int = 2, illuminant: str = "D65") -> OpticalImage:
    """Optical image of ``scene`` (chart name, image path or a :class:`Scene`) covering the
    module's sensor plus ``margin_px`` on every side, at ``oversample`` samples per pixel."""
    from ..camera import module_scene
    from ..optics import form_image
    from ..scene.scene import Scene

    s = module.sensor
    if not 0 <= margin_px <= 1000:
        raise ConfigError(f"margin_px = {margin_px}: valid range is 0..1000")
    big = module.replace(sensor={"width_px": s.width_px + 2 * margin_px,
                                 "height_px": s.height_px + 2 * margin_px})
    if isinstance(scene, Scene):
        sc = scene
    else:
        sc = module_scene(big, scene, illuminant=illuminant, illuminance_lux=illuminance_lux,
                          oversample=oversample)
    return form_image(sc, module.lens)


def simulate_burst(module, oi: OpticalImage, n_frames: int, exposure_s: float, rng, *,
                   motion: HandheldMotion = HandheldMotion(), objects=(),
                   ) -> Burst:
    """Capture ``n_frames`` raw frames of ``oi`` with handheld motion and moving objects.

    Parameters
    ----------
    module : ModuleSpec
        Its sensor captures every frame (crop it first for speed).
    oi : OpticalImage
        From :func:`burst_optical_image` (larger than the sensor, oversampled).
    n_frames : int
        Burst length N ≥ 1.
    exposure_s : float
        Exposure of every frame [s].
    rng : numpy.random.Generator or int
        Draws the poses, then one noise key per frame.
    motion, objects
        :class:`HandheldMotion` and a sequence of :class:`MovingObject`.

    Returns
    -------
    Burst
    """
    from ..sensor import capture

    if int(n_frames) != n_frames or n_frames < 1:
        raise ConfigError(f"n_frames = {n_frames}: must be an integer >= 1")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    s = module.sensor
    kernels = [None] * int(n_frames)
    if motion.shake is not None:
        poses, kernels = shake_poses(int(n_frames), motion, gen,
                                     focal_length_mm=module.lens.focal_length_mm,
                                     pixel_pitch_um=s.pixel_pitch_um, exposure_s=exposure_s,
                                     oversample=s.pixel_pitch_um / oi.sample_pitch_um)
    else:
        poses = draw_poses(int(n_frames), motion, gen)
    frames, boxes = [], [[] for _ in objects]
    for z in range(int(n_frames)):
        oi_z, b = warp_optical_image(oi, poses[z], s.pixel_pitch_um, (s.height_px, s.width_px),
                                     objects=tuple(objects), frame=z)
        if kernels[z] is not None:
            oi_z = _blur_optical_image(oi_z, kernels[z])
        frames.append(capture(oi_z, s, exposure_s, gen))
        for k, box in enumerate(b):
            boxes[k].append(box)
    return Burst(frames=frames, poses=poses, object_boxes=boxes)


def burst_target(module, *, illuminance_lux: float, seed: int = 0, margin_px: int = 32,
                 oversample: int = 2, flat_fraction: float = 0.3, illuminant: str = "D65"):
    """A test scene for bursts: a dead-leaves texture (texture to align on at every scale)
    with a flat 18 % grey square in the centre (to measure noise on).

    Dead leaves (Lee, Mumford & Huang, IJCV 41, 2001): opaque discs with radii drawn from a
    1/r³ density (scale invariance) between 2 and 64 sensor pixels, random sRGB greys and
    muted colours, drawn until the plane is covered. The scene covers the module's sensor
    plus ``margin_px`` on every side at ``oversample`` samples per pixel; the flat square's
    side is ``flat_fraction`` of the sensor height. Returns a :class:`Scene`.
    """
    import cv2

    from ..camera import scene_extent
    from ..scene.charts import from_rgb

    if not 0 < flat_fraction < 0.9:
        raise ConfigError(f"flat_fraction = {flat_fraction}: valid range is (0, 0.9)")
    s = module.sensor
    (h, w), width_m = scene_extent(module, oversample=oversample, margin_px=margin_px)
    gen = np.random.default_rng(seed)
    img = np.full((h, w, 3), 0.5, dtype=np.float32)
    r_min, r_max = 2.0 * oversample, 64.0 * oversample
    n_discs = int(12 * h * w / (np.pi * r_min * r_max)) + 50
    u = gen.random(n_discs)
    radii = 1.0 / np.sqrt(u / r_min**2 + (1 - u) / r_max**2)  # inverse CDF of 1/r³ on [rmin, rmax]
    ys, xs = gen.uniform(0, h, n_discs), gen.uniform(0, w, n_discs)
    grey = gen.uniform(0.1, 0.95, n_discs)
    tint = gen.uniform(-0.08, 0.08, (n_discs, 3))
    for k in range(n_discs):
        col = np.clip(grey[k] + tint[k], 0.02, 1.0)
        cv2.circle(img, (int(xs[k]), int(ys[k])), int(radii[k]), tuple(float(v) for v in col),
                   thickness=-1, lineType=cv2.LINE_AA)
    side = flat_fraction * s.height_px * oversample
    cy, cx = h / 2.0, w / 2.0
    img[int(cy - side / 2):int(cy + side / 2), int(cx - side / 2):int(cx + side / 2)] = 0.4613
    return from_rgb(img, width_m=width_m, distance_m=module.lens.object_distance_m,
                    illuminant=illuminant, illuminance_lux=illuminance_lux, name="burst_target")
