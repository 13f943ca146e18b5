"""Motion blur from an image-plane trajectory: kernels, their MTF, rolling-shutter wobble.

During an exposure [t₀, t₀ + T] the image of a point moves along d(t) = (Δrow, Δcol)(t)
[px] (:meth:`camtwin.motion.shake.Trajectory.image_px`). A pixel integrates the light at
every instant equally (constant illumination), so the blur kernel (PSF of the motion) is
the trajectory's *occupancy*: the fraction of the exposure it spends at each position,

    k(x) = (1/T) ∫_{t₀}^{t₀+T} δ(x − d(t)) dt,

and its optical transfer function is the time average of the phase factor,

    OTF(f) = (1/T) ∫ exp(−2πi f·d(t)) dt,      MTF = |OTF|

(f in cycles/pixel). Two closed forms the tests check the numerical kernel against:

* uniform linear motion of length L [px]:  MTF(f) = |sinc(π f L)| = |sin(π f L)/(π f L)|;
* sinusoidal vibration x = A sin(2π ν t) over whole periods:  MTF(f) = |J₀(2π f A)|
  (the arcsine occupancy; the image-motion / vibration MTFs of Hadar, Dror & Kopeika,
  *Optical Engineering* 1994, and Holst, *Electro-Optical Imaging System Performance*).

Rolling shutter: row r integrates over [t₀ + r·t_l, t₀ + r·t_l + T] (:func:`camtwin.sensor.
timing.row_start_times`), so each row has its own kernel; its centroid d̄_r (the mean
displacement over the row's window) varies from row to row — the *wobble* (jello) that
bends straight lines — and its spread is the row's blur. :func:`row_motion` gives both;
:func:`shake_image` renders an image through them (each row sampled at its own times).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import ConfigError


def _window_samples(traj_px, t_s, t0: float, exposure_s: float, n: int | None = None):
    """Displacements (K, 2) at K uniform midpoints of [t0, t0 + T] (linear interpolation)."""
    t_s = np.asarray(t_s, dtype=np.float64)
    d = np.asarray(traj_px, dtype=np.float64)
    if not exposure_s > 0:
        raise ConfigError(f"exposure_s = {exposure_s}: must be > 0")
    if t0 < t_s[0] - 1e-12 or t0 + exposure_s > t_s[-1] + 1e-9:
        raise ConfigError(f"exposure window [{t0:g}, {t0 + exposure_s:g}] s lies outside the "
                          f"trajectory [{t_s[0]:g}, {t_s[-1]:g}] s")
    dt = t_s[1] - t_s[0]
    k = int(n) if n else max(int(np.ceil(exposure_s / dt)) * 4, 64)
    tm = t0 + (np.arange(k) + 0.5) * exposure_s / k
    return np.column_stack([np.interp(tm, t_s, d[:, j]) for j in range(d.shape[1])])


def blur_kernel(traj_px, t_s, exposure_s: float, *, t0_s: float = 0.0,
                oversample: int = 8, n_samples: int | None = None):
    """Occupancy kernel of the motion during [t0, t0 + T], on a grid of 1/``oversample`` px.

    Parameters
    ----------
    traj_px : ndarray (N, 2)
        Image displacement (Δrow, Δcol) [px] at times ``t_s`` (N,) [s].
    exposure_s, t0_s : float
        The exposure window [s].
    oversample : int
        Kernel samples per pixel (1 … 64).

    Returns
    -------
    kernel : ndarray (H, W)
        Sums to 1. Bilinear splatting of K time samples (K = 4 per trajectory sample, ≥ 64).
    origin_px : (float, float)
        Displacement (Δrow, Δcol) [px] of kernel element [0, 0]'s centre; element [i, j] sits
        at origin + (i, j)/oversample.
    """
    if not 1 <= int(oversample) <= 64:
        raise ConfigError(f"oversample = {oversample}: valid range is 1..64")
    d = _window_samples(traj_px, t_s, t0_s, exposure_s, n_samples) * oversample
    lo = np.floor(d.min(axis=0)) - 1
    g = d - lo
    shape = tuple(int(v) for v in np.ceil(g.max(axis=0)) + 2)
    i0 = np.floor(g).astype(int)
    fr = g - i0
    ker = np.zeros(shape)
    w = 1.0 / len(d)
    for di in (0, 1):
        for dj in (0, 1):
            wt = (fr[:, 0] if di else 1 - fr[:, 0]) * (fr[:, 1] if dj else 1 - fr[:, 1]) * w
            np.add.at(ker, (i0[:, 0] + di, i0[:, 1] + dj), wt)
    return ker, (float(lo[0]) / oversample, float(lo[1]) / oversample)


def kernel_mtf(kernel: np.ndarray, frequencies_cy_px, *, oversample: int = 8,
               axis: int = 1) -> np.ndarray:
    """|OTF| of a sampled kernel along ``axis`` (1: horizontal, 0: vertical) at
    ``frequencies_cy_px`` [cycles/px]: |Σ k·exp(−2πi f x)| over the kernel's samples x
    [px] (a direct DFT of the marginal line-spread). The bilinear splatting of
    :func:`blur_kernel` multiplies it by sinc²(f/oversample) (≥ 0.987 up to Nyquist for
    oversample 8), which is left in: this is the MTF of the kernel as sampled."""
    lsf = np.asarray(kernel, dtype=np.float64).sum(axis=1 - axis)
    x = np.arange(lsf.size) / oversample
    f = np.atleast_1d(np.asarray(frequencies_cy_px, dtype=np.float64))
    otf = np.exp(-2j * np.pi * f[:, None] * x[None, :]) @ lsf
    return np.abs(otf) / lsf.sum()


def trajectory_otf(traj_px, t_s, exposure_s: float, frequencies_cy_px, *, t0_s: float = 0.0,
                   direction=(0.0, 1.0), n_samples: int | None = None) -> np.ndarray:
    """OTF (complex) of the motion along ``direction`` (unit (row, col)) directly from the
    trajectory: (1/K) Σ_k exp(−2πi f·(d_k·u)) over K time samples of the window."""
    d = _window_samples(traj_px, t_s, t0_s, exposure_s, n_samples)
    u = np.asarray(direction, dtype=np.float64)
    u = u / np.linalg.norm(u)
    x = d @ u
    f = np.atleast_1d(np.asarray(frequencies_cy_px, dtype=np.float64))
    return np.exp(-2j * np.pi * f[:, None] * x[None, :]).mean(axis=1)


def blur_extent_px(traj_px, t_s, exposure_s: float, *, t0_s: float = 0.0) -> np.ndarray:
    """Peak-to-peak extent (Δrow, Δcol) [px] of the motion during the window."""
    d = _window_samples(traj_px, t_s, t0_s, exposure_s)
    return d.max(axis=0) - d.min(axis=0)


def mtf50(frequencies_cy_px, mtf) -> float:
    """First frequency where ``mtf`` falls to 0.5 (linear interpolation); the last
    frequency if it never does."""
    f = np.asarray(frequencies_cy_px, dtype=np.float64)
    m = np.asarray(mtf, dtype=np.float64)
    below = np.nonzero(m < 0.5)[0]
    if below.size == 0:
        return float(f[-1])
    i = int(below[0])
    if i == 0:
        return float(f[0])
    return float(f[i - 1] + (m[i - 1] - 0.5) / (m[i - 1] - m[i]) * (f[i] - f[i - 1]))


def row_motion(traj_px, t_s, row_start_s, exposure_s: float, *, n_samples: int = 32):
    """Per-row centroid (wobble) and RMS spread (blur) of a rolling-shutter capture.

    Parameters
    ----------
    traj_px : ndarray (N, 2)
        Image displacement [px] at ``t_s`` [s].
    row_start_s : ndarray (H,)
        Integration start of every row [s] (:func:`camtwin.sensor.timing.row_start_times`).

    Returns
    -------
    centroid_px : ndarray (H, 2)
        Mean displacement over each row's window d̄_r [px] (row-to-row variation = wobble).
    spread_px : ndarray (H, 2)
        RMS of the displacement about d̄_r within each row's window [px].
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    d = np.asarray(traj_px, dtype=np.float64)
    r0 = np.asarray(row_start_s, dtype=np.float64)
    if r0.min() < t_s[0] - 1e-12 or r0.max() + exposure_s > t_s[-1] + 1e-9:
        raise ConfigError("row windows lie outside the trajectory; make it longer")
    tm = r0[:, None] + (np.arange(n_samples) + 0.5)[None, :] * exposure_s / n_samples
    s = np.stack([np.interp(tm, t_s, d[:, j]) for j in range(d.shape[1])], axis=-1)
    return s.mean(axis=1), s.std(axis=1)


def shake_image(image: np.ndarray, traj_px, t_s, row_start_s, exposure_s: float, *,
                n_steps: int | None = None) -> np.ndarray:
    """Time-average of ``image`` (H, W; e.g. an electron-rate map) seen through the motion,
    each row over its own window: out(r, c) = (1/K) Σ_k image(r − Δrow(t_rk), c − Δcol(t_rk))
    with t_rk the K midpoints of row r's window (bilinear, edges repeated). K defaults to
    keep ≤ 0.1 px of motion per step (≤ 4000)."""
    img = np.asarray(image, dtype=np.float64)
    h, w = img.shape
    r0 = np.asarray(row_start_s, dtype=np.float64)
    if r0.shape != (h,):
        raise ConfigError(f"row_start_s has shape {r0.shape}; the image has {h} rows")
    t_s = np.asarray(t_s, dtype=np.float64)
    d = np.asarray(traj_px, dtype=np.float64)
    if n_steps is None:
        i0 = np.searchsorted(t_s, r0.min())
        i1 = np.searchsorted(t_s, r0.max() + exposure_s) + 1
        seg = d[max(i0 - 1, 0):i1]
        path = float(np.sum(np.hypot(*np.diff(seg, axis=0).T))) if len(seg) > 1 else 0.0
        n_steps = int(np.clip(np.ceil(path / 0.1), 1, 4000))
    rows = np.arange(h, dtype=np.float64)[:, None]
    cols = np.arange(w, dtype=np.float64)[None, :]
    out = np.zeros_like(img)
    for k in range(int(n_steps)):
        t = r0 + (k + 0.5) * exposure_s / n_steps
        dy = np.interp(t, t_s, d[:, 0])[:, None]
        dx = np.interp(t, t_s, d[:, 1])[:, None]
        coords = np.stack([np.broadcast_to(rows - dy, (h, w)), np.broadcast_to(cols - dx, (h, w))])
        out += ndimage.map_coordinates(img, coords, order=1, mode="nearest", prefilter=False)
    return out / n_steps


__all__ = ["blur_kernel", "kernel_mtf", "trajectory_otf", "blur_extent_px", "mtf50",
           "row_motion", "shake_image", "capture_shaken"]


def capture_shaken(module, oi, exposure_s: float, rng, *, shake="handheld", ois=None,
                   trajectory=None, n_time_samples: int = 64, warmup_s: float = 2.0):
    """Capture ``oi`` with the module's sensor while the camera shakes: blur and, on a
    rolling shutter, the row-dependent wobble, through the sensor's own time integration.

    The optical image is moved rigidly by the image motion of the trajectory — translation
    f·θ/pitch and roll about the optical axis — and handed to
    :func:`camtwin.sensor.capture` as ``scene_at(t)``, which integrates every row over its
    own window (``n_time_samples`` piecewise-constant samples spanning all rows' windows,
    :func:`camtwin.sensor.timing.integrate_time_varying`). Motion is relative to the
    camera pose at the start of the capture. One implementation with
    :func:`camtwin.camera.shoot` ``(shake=…)``: :func:`camtwin.motion.capture.capture_moving`
    (which also takes the streamed :class:`~camtwin.optics.stream.ChannelImage`).

    Parameters
    ----------
    module : ModuleSpec
        Focal length, pixel pitch and the sensor that captures (crop it for speed).
    oi : OpticalImage or ChannelImage
        Irradiance at the sensor (e.g. :func:`camtwin.camera.form_module_image`); borders
        are reflected where the motion reveals beyond it.
    exposure_s : float
        Exposure [s].
    rng : numpy.random.Generator or int
        Draws the trajectory (unless given), the gyro noise and the frame noise.
    shake : preset name or ShakeSpec
        Ignored when ``trajectory`` is given.
    ois : OIS preset / OisSpec / None
        Stabiliser (:func:`camtwin.motion.stabilise.ois_residual`).
    trajectory : Trajectory, optional
        Use this camera rotation instead of drawing one (time 0 = start of row 0 after
        ``warmup_s``).
    warmup_s : float
        Trajectory time before the capture (lets the OIS filters settle).

    Returns
    -------
    RawFrame
        ``metadata['shake']``: the shake and OIS names, the trajectory start time and the
        blur and wobble in pixels (:func:`camtwin.motion.capture.motion_summary`).
    """
    from .capture import capture_moving, shake_motion

    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    motion = shake_motion(module, exposure_s, gen,
                          shake=shake if trajectory is None else trajectory, ois=ois,
                          warmup_s=warmup_s)
    return capture_moving(oi, module.sensor, exposure_s, gen, motion,
                          n_time_samples=n_time_samples)
