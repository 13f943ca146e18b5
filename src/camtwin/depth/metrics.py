"""Depth-quality metrics: accuracy, temporal precision, valid fraction, flying pixels, multipath,
maximum range at a precision, ambient robustness, point clouds and plane-fit residuals.

Pure functions on plain arrays. Conventions shared by every function:

* depth frames are **radial distance along the pixel ray in metres** (the convention of
  ``DTofFrame.depth_m`` / ``ITofFrame.depth_m``), ``NaN`` (or any non-finite value) = invalid
  pixel (no return, low confidence, saturated);
* ``frames`` is one frame ``(H, W)`` or a stack ``(N, H, W)`` taken of a static scene;
* ``truth`` is the true radial distance ``(H, W)`` in metres (``DepthScene.distance_m``);
  pixels whose truth is not finite (``inf`` = no surface) are left out of every ROI;
* ``roi`` is ``None`` (whole frame), a boolean mask ``(H, W)`` or a rectangle
  ``(row0, row1, col0, col1)`` with Python slice semantics (``row1``/``col1`` excluded);
* percentages are **% of the true distance**, per pixel, then averaged over the ROI.

Definitions and sources
-----------------------
* *Accuracy* (systematic error, "depth offset", "absolute error"): the per-pixel time average
  of N frames minus the ground truth, averaged over the ROI. This is the usual ToF-datasheet
  meaning (accuracy = closeness of the averaged measurement to the true distance; noise
  averaged out), e.g. Basler, "Depth Quality Metrics" (docs.baslerweb.com/depth-quality-metrics:
  depth accuracy = deviation of the depth data from the ground truth; Basler takes the median
  deviation, camtwin the mean, as the profiles' ``accuracy_pct`` asks), Intel RealSense
  "Camera Depth Testing Methodology" rev 1.0 (2018), "Z accuracy"; the camtwin profiles use
  ``accuracy_pct = |mean error| / distance`` (coord/DEPTH_API.md).
* *Precision* (temporal noise, "depth resolution", "repeatability"): the per-pixel temporal
  standard deviation over N frames of a static target, reported as the median (or mean) over
  the ROI and as % of distance. TI OPT8241 datasheet SBAS704B, §8.2.1.1 (design-requirement
  table: "Depth resolution — percentage of distance — temporal standard deviation of measured
  distance without the use of any software filters"); Zebra 3S glossary "Temporal noise (1σ)";
  Basler "temporal precision".
* *Valid fraction* ("fill rate"): fraction of finite depth samples in the ROI (Intel RealSense
  Depth Testing Methodology, "fill rate"; Basler "fill rate").
* *Flying pixels*: pixels at a depth edge that mix light of the near and the far surface and
  report a distance between them (pmd technologies FAQ "Flying pixel"; e-con Systems,
  "What is flying pixel", 2024). Defined precisely in :func:`flying_pixel_fraction`.
* *Plane-fit residual*: RMS of the orthogonal distances of the points of a flat target to the
  best-fit plane (Intel RealSense Depth Testing Methodology, "RMS error / spatial noise");
  the peak-to-valley range of the same residuals is the *flatness measurement error* F of
  VDI/VDE 2634 Part 2 (2012), §6.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = [
    "DepthAccuracy", "DepthPrecision", "MultipathError", "PlaneFit",
    "depth_accuracy", "depth_precision", "valid_fraction", "flying_pixel_fraction",
    "multipath_error", "max_range_at_precision", "ambient_robustness_table",
    "depth_to_point_cloud", "plane_fit_residual",
]


# --------------------------------------------------------------------------- validation

def _as_frames(frames, name: str = "frames") -> np.ndarray:
    """``(H, W)`` or ``(N, H, W)`` → float64 ``(N, H, W)``; anything else is a ConfigError."""
    a = np.asarray(frames, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[0] == 0 or a.shape[1] == 0 or a.shape[2] == 0:
        raise ConfigError(f"{name}: shape {np.shape(frames)} is not a depth frame (H, W) or a "
                          "stack (N, H, W) with N, H, W >= 1")
    return a


def _as_truth(truth, shape: tuple[int, int], name: str = "truth") -> np.ndarray:
    t = np.asarray(truth, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(shape, float(t))
    if t.shape != tuple(shape):
        raise ConfigError(f"{name}: shape {t.shape} does not match the depth frame {tuple(shape)}")
    if np.any(t[np.isfinite(t)] <= 0):
        raise ConfigError(f"{name}: min {np.nanmin(t[np.isfinite(t)]):g} m; true distances must "
                          "be > 0 m (inf = no surface)")
    return t


def _roi_mask(roi, shape: tuple[int, int]) -> np.ndarray:
    """``None`` / bool mask (H, W) / ``(row0, row1, col0, col1)`` → bool mask (H, W)."""
    if roi is None:
        return np.ones(shape, dtype=bool)
    if isinstance(roi, (tuple, list)) and len(roi) == 4 and all(
            isinstance(v, (int, np.integer)) for v in roi):
        r0, r1, c0, c1 = (int(v) for v in roi)
        m = np.zeros(shape, dtype=bool)
        m[r0:r1, c0:c1] = True
        if not m.any():
            raise ConfigError(f"roi = {tuple(roi)} (row0, row1, col0, col1) selects no pixel of "
                              f"a {shape[0]}x{shape[1]} frame; need 0 <= row0 < row1 <= "
                              f"{shape[0]} and 0 <= col0 < col1 <= {shape[1]}")
        return m
    m = np.asarray(roi)
    if m.dtype != bool or m.shape != tuple(shape):
        raise ConfigError(f"roi: a boolean mask of shape {tuple(shape)} or (row0, row1, col0, "
                          f"col1) is required, got dtype {m.dtype} shape {m.shape}")
    return m


def _roi_with_truth(roi, truth: np.ndarray) -> np.ndarray:
    m = _roi_mask(roi, truth.shape) & np.isfinite(truth)
    if not m.any():
        raise ConfigError("roi: no pixel in the ROI has a finite true distance (empty ROI); "
                          "choose an ROI on a surface")
    return m


_STATISTICS = ("median", "mean")


def _reduce(values: np.ndarray, statistic: str) -> float:
    if values.size == 0:
        return float("nan")
    return float(np.median(values) if statistic == "median" else np.mean(values))


# --------------------------------------------------------------------------- accuracy / precision

@dataclass(frozen=True)
class DepthAccuracy:
    """Systematic depth error over an ROI (see :func:`depth_accuracy`).

    ``mean_error_m``: mean over ROI pixels of (time-averaged depth − truth) [m], signed;
    ``mean_error_pct``: mean over ROI pixels of 100·(time-averaged depth − truth)/truth [%],
    signed; ``accuracy_pct`` = |mean_error_pct| (the profile metric); ``distance_m``: mean true
    distance over the ROI [m]; ``n_pixels``: ROI pixels with at least one valid frame;
    ``valid_fraction``: finite samples / all samples in the ROI (all frames).
    """

    mean_error_m: float
    mean_error_pct: float
    distance_m: float
    n_pixels: int
    valid_fraction: float

    @property
    def accuracy_pct(self) -> float:
        return abs(self.mean_error_pct)


def depth_accuracy(frames, truth, roi=None) -> DepthAccuracy:
    """Accuracy (mean error) of depth frames against the ground truth.

    Definition: for each ROI pixel i, the time average over its valid frames
    d̄_i = mean_n d_{n,i}; the accuracy is  e = mean_i (d̄_i − t_i)  [m] and
    e_% = 100 · mean_i (d̄_i − t_i)/t_i  [%]. Averaging N frames first removes the temporal
    noise, so e measures the systematic error (offset, wrapping, multipath, non-linearity).

    Parameters
    ----------
    frames : array (H, W) or (N, H, W), m
        Radial depth, NaN = invalid.
    truth : array (H, W) or scalar, m
        True radial distance; non-finite pixels are excluded.
    roi : None, bool mask (H, W) or (row0, row1, col0, col1)

    Returns
    -------
    DepthAccuracy
        NaN errors if no ROI pixel has a valid frame (``n_pixels`` = 0).

    Raises
    ------
    ConfigError
        Shape mismatch, non-positive truth, empty ROI.

    References
    ----------
    Basler, "Depth Quality Metrics" (depth accuracy vs ground truth); Intel RealSense Camera
    Depth Testing Methodology rev 1.0 (2018), "Z accuracy"; camtwin profiles metric
    ``accuracy_pct`` = |mean error| / distance (coord/DEPTH_API.md).

    Examples
    --------
    >>> depth_accuracy(np.full((3, 4, 4), 1.01), np.ones((4, 4))).mean_error_pct  # doctest: +ELLIPSIS
    1.0000...
    """
    f = _as_frames(frames)
    t = _as_truth(truth, f.shape[1:])
    m = _roi_with_truth(roi, t)
    samples = f[:, m]                                   # (N, P)
    ok = np.isfinite(samples)
    vf = float(ok.mean())
    counts = ok.sum(axis=0)
    has = counts > 0
    tm = t[m]
    if not has.any():
        return DepthAccuracy(float("nan"), float("nan"), float(tm.mean()), 0, vf)
    avg = np.where(ok, samples, 0.0).sum(axis=0)[has] / counts[has]
    err = avg - tm[has]
    return DepthAccuracy(float(err.mean()), float(100.0 * np.mean(err / tm[has])),
                         float(tm.mean()), int(has.sum()), vf)


@dataclass(frozen=True)
class DepthPrecision:
    """Temporal depth noise over an ROI (see :func:`depth_precision`).

    ``sigma_m``: statistic (median or mean) over ROI pixels of the per-pixel temporal σ [m];
    ``sigma_pct``: the same statistic of 100·σ_i/t_i [%] (``precision_pct`` in the profiles);
    ``distance_m``: mean reference distance [m]; ``n_pixels``: pixels with ≥ 2 valid frames;
    ``n_frames``; ``statistic``: "median" or "mean"; ``valid_fraction`` as in DepthAccuracy.
    """

    sigma_m: float
    sigma_pct: float
    distance_m: float
    n_pixels: int
    n_frames: int
    statistic: str
    valid_fraction: float

    @property
    def precision_pct(self) -> float:
        return self.sigma_pct


def depth_precision(frames, truth=None, roi=None, *, statistic: str = "median") -> DepthPrecision:
    """Precision (temporal noise): per-pixel standard deviation over N frames.

    Definition: for each ROI pixel i with n_i ≥ 2 valid frames,
    σ_i = sqrt( Σ_n (d_{n,i} − d̄_i)² / (n_i − 1) )  (unbiased sample variance), and
    σ_%,i = 100·σ_i / t_i. Reported: the median (default, robust to a few flying or wrapped
    pixels) or the mean of σ_i and σ_%,i over the ROI. Without ``truth`` the reference
    distance t_i is the pixel's own time average d̄_i.

    Parameters
    ----------
    frames : array (N, H, W), m, N ≥ 2
    truth : None, array (H, W) or scalar, m
    roi : None, bool mask (H, W) or (row0, row1, col0, col1)
    statistic : "median" | "mean"

    Returns
    -------
    DepthPrecision
        NaN if no ROI pixel has 2 valid frames.

    References
    ----------
    TI OPT8241 datasheet (SBAS704B, 2015) §8.2.1.1: depth resolution in % of distance =
    "temporal standard deviation of measured distance without the use of any software
    filters"; Zebra 3S glossary "Temporal noise (1σ)"; Basler "Depth Quality Metrics",
    temporal precision.
    """
    if statistic not in _STATISTICS:
        raise ConfigError(f"statistic = {statistic!r}; valid choices: {', '.join(_STATISTICS)}")
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim != 3 or f.shape[0] < 2:
        raise ConfigError(f"frames: shape {f.shape}; precision needs a stack (N, H, W) of N >= 2 "
                          "frames of a static scene")
    f = _as_frames(f)
    if truth is None:
        with np.errstate(invalid="ignore"):
            ok_any = np.isfinite(f).any(axis=0)
        t = np.full(f.shape[1:], np.inf)
        t[ok_any] = np.nanmean(f[:, ok_any], axis=0)
        t[~(t > 0)] = np.inf
    else:
        t = _as_truth(truth, f.shape[1:])
    m = _roi_with_truth(roi, t)
    samples = f[:, m]
    ok = np.isfinite(samples)
    vf = float(ok.mean())
    n = ok.sum(axis=0)
    use = n >= 2
    tm = t[m]
    if not use.any():
        return DepthPrecision(float("nan"), float("nan"), float(tm.mean()), 0, f.shape[0],
                              statistic, vf)
    s = np.where(ok, samples, 0.0)[:, use]
    nu = n[use]
    mean = s.sum(axis=0) / nu
    dev = np.where(ok[:, use], s - mean, 0.0)
    sigma = np.sqrt((dev ** 2).sum(axis=0) / (nu - 1))
    return DepthPrecision(_reduce(sigma, statistic), _reduce(100.0 * sigma / tm[use], statistic),
                          float(tm.mean()), int(use.sum()), f.shape[0], statistic, vf)


def valid_fraction(depth, roi=None) -> float:
    """Fraction of finite depth samples in the ROI ("fill rate"), over all frames.

    valid_fraction = #{finite d_{n,i}, i ∈ ROI} / (N·#ROI). Intel RealSense Depth Testing
    Methodology rev 1.0 (2018), "fill rate"; Basler "Depth Quality Metrics", fill rate.
    """
    f = _as_frames(depth, "depth")
    m = _roi_mask(roi, f.shape[1:])
    if not m.any():
        raise ConfigError("roi: the mask selects no pixel (empty ROI)")
    return float(np.isfinite(f[:, m]).mean())


# --------------------------------------------------------------------------- edges and multipath

def flying_pixel_fraction(depth, truth, *, band_px: int = 2, min_jump_m: float = 0.05,
                          tolerance_m: float | None = None, edge_band=None) -> float:
    """Fraction of flying pixels in the band around the depth edges of the truth.

    Definition (camtwin; after pmd technologies' FAQ "Flying pixel": a pixel at an object
    border sees the object and the background and reports a distance in between):

    1. For each pixel, ``near`` and ``far`` are the minimum and maximum true distance in the
       (2·band_px+1)² window around it (scipy.ndimage minimum/maximum filters; ``inf``
       background counts as the far surface).
    2. The edge band is the set of pixels with far − near > ``min_jump_m`` (the window
       straddles a depth step); or the caller's ``edge_band`` mask.
    3. A pixel of the band is *flying* if its measured depth d is valid and lies between the
       two surfaces, farther than the tolerance τ from both: near + τ < d < far − τ.
    4. flying_pixel_fraction = #flying / #band (invalid pixels count in the band but are
       not flying — they are dropped, not misplaced).

    Parameters
    ----------
    depth : array (H, W) or (N, H, W), m
        A stack is pooled: the fraction over all frames' band samples.
    truth : array (H, W), m
        True radial distance (``inf`` = no surface behind the edge).
    band_px : int ≥ 1
        Half-width of the window that finds the edge band [pixels].
    min_jump_m : float > 0
        Smallest true step that counts as a depth edge [m].
    tolerance_m : float ≥ 0 or None
        τ [m]. ``None``: per pixel, 10 % of the step (far − near), or 10 % of ``near`` when
        the far side is ``inf``.
    edge_band : bool mask (H, W) or None
        Use this band instead of step 2.

    Returns
    -------
    float in [0, 1]

    Raises
    ------
    ConfigError
        Shape mismatch, invalid option, or no edge band in the truth (empty ROI).
    """
    from scipy.ndimage import maximum_filter, minimum_filter

    f = _as_frames(depth, "depth")
    t = np.asarray(truth, dtype=np.float64)
    if t.shape != f.shape[1:]:
        raise ConfigError(f"truth: shape {t.shape} does not match the depth frame {f.shape[1:]}")
    if not (isinstance(band_px, (int, np.integer)) and band_px >= 1):
        raise ConfigError(f"band_px = {band_px!r}; valid range: integer >= 1")
    if not (np.isfinite(min_jump_m) and min_jump_m > 0):
        raise ConfigError(f"min_jump_m = {min_jump_m!r}; valid range: > 0 m")
    if tolerance_m is not None and not (np.isfinite(tolerance_m) and tolerance_m >= 0):
        raise ConfigError(f"tolerance_m = {tolerance_m!r}; valid range: >= 0 m or None")
    tt = np.where(np.isnan(t), np.inf, t)
    size = 2 * int(band_px) + 1
    near = minimum_filter(tt, size=size, mode="nearest")
    far = maximum_filter(tt, size=size, mode="nearest")
    with np.errstate(invalid="ignore"):  # inf − inf inside a no-surface region: no edge
        jump = far - near
    if edge_band is None:
        band = jump > min_jump_m
    else:
        band = _roi_mask(edge_band, t.shape)
    band &= np.isfinite(near)
    if not band.any():
        raise ConfigError("truth: no depth edge (step > min_jump_m = "
                          f"{min_jump_m:g} m) in the frame; the edge band is empty")
    if tolerance_m is None:
        tau = np.where(np.isfinite(far), 0.1 * np.where(np.isfinite(jump), jump, 0.0),
                       0.1 * near)
    else:
        tau = np.full(t.shape, float(tolerance_m))
    d = f[:, band]
    with np.errstate(invalid="ignore"):
        flying = np.isfinite(d) & (d > near[band] + tau[band]) & (d < far[band] - tau[band])
    return float(flying.mean())


@dataclass(frozen=True)
class MultipathError:
    """Error of the time-averaged depth in a multipath region (see :func:`multipath_error`).

    ``mean_error_m`` / ``mean_error_pct``: signed means over the ROI [m] / [% of distance];
    ``max_abs_error_pct``: the largest |error| over the ROI [%]; ``multipath_error_pct`` =
    |mean_error_pct| (the profile metric); ``n_pixels``.
    """

    mean_error_m: float
    mean_error_pct: float
    max_abs_error_pct: float
    n_pixels: int

    @property
    def multipath_error_pct(self) -> float:
        return abs(self.mean_error_pct)


def multipath_error(depth, truth, roi=None) -> MultipathError:
    """Multipath error on a concave corner: mean error of the time-averaged depth in the ROI.

    Definition: as :func:`depth_accuracy` restricted to the corner region, e = mean_i
    (d̄_i − t_i) [m], e_% = 100·mean_i (d̄_i − t_i)/t_i, plus max_i |d̄_i − t_i|/t_i. Multipath
    (light reaching the pixel via a second wall) lengthens the measured path, so e > 0 is
    expected on a corner. Compare with the same ROI on a flat wall to separate multipath
    from the sensor's own offset.

    References
    ----------
    Fuchs, "Multipath interference compensation in time-of-flight camera images", ICPR 2010
    (corner geometry); the profiles' metric ``multipath_error_pct`` (coord/DEPTH_API.md).
    """
    f = _as_frames(depth, "depth")
    t = _as_truth(truth, f.shape[1:])
    m = _roi_with_truth(roi, t)
    samples = f[:, m]
    ok = np.isfinite(samples)
    n = ok.sum(axis=0)
    has = n > 0
    if not has.any():
        return MultipathError(float("nan"), float("nan"), float("nan"), 0)
    avg = np.where(ok, samples, 0.0).sum(axis=0)[has] / n[has]
    tm = t[m][has]
    err = avg - tm
    rel = 100.0 * err / tm
    return MultipathError(float(err.mean()), float(rel.mean()), float(np.abs(rel).max()),
                          int(has.sum()))


# --------------------------------------------------------------------------- range and ambient

_INTERPOLATIONS = ("loglog", "loglinear", "linear")


def max_range_at_precision(distances_m, precision_pct, limit_pct: float, *,
                           interpolation: str = "loglog") -> float:
    """Largest distance up to which the precision stays within ``limit_pct``.

    The curve (distance, precision) is sorted by distance; the result is the first crossing
    from ``precision <= limit`` to ``precision > limit``, interpolated between the two
    bracketing points. NaN precision (no valid depth at that distance) counts as beyond the
    limit.

    Interpolation: ``"loglog"`` (default) — log(precision) linear in log(distance), exact for
    a power law p ∝ dᵏ. For a CW-ToF pixel σ_d ∝ √B/A with the return amplitude A ∝ 1/d²:
    σ/d is flat (k = 0) where the return's own shot noise dominates (B ≈ A) and grows as d
    (k = 1) where ambient, dark or read noise dominates (B fixed), so each regime is a power
    law. ``"loglinear"`` — log(precision) linear in distance; ``"linear"``.

    Returns
    -------
    float, m
        ``inf`` if the precision is within the limit at every tested distance (the range
        exceeds the sweep — report it as "> max tested distance"); ``nan`` if the limit is
        exceeded already at the shortest tested distance.

    Raises
    ------
    ConfigError
        Mismatched or too short arrays, non-positive distances, limit ≤ 0.
    """
    d = np.asarray(distances_m, dtype=np.float64).ravel()
    p = np.asarray(precision_pct, dtype=np.float64).ravel()
    if d.shape != p.shape or d.size < 1:
        raise ConfigError(f"distances_m ({d.size} values) and precision_pct ({p.size} values) "
                          "must have the same length >= 1")
    if not np.all(np.isfinite(d) & (d > 0)):
        raise ConfigError(f"distances_m: min {np.nanmin(d):g}; distances must be finite and > 0 m")
    if not (np.isfinite(limit_pct) and limit_pct > 0):
        raise ConfigError(f"limit_pct = {limit_pct!r}; valid range: > 0 %")
    if np.any(p[~np.isnan(p)] < 0):
        raise ConfigError(f"precision_pct: min {np.nanmin(p):g}; valid range: >= 0 % (NaN = no "
                          "valid depth)")
    if interpolation not in _INTERPOLATIONS:
        raise ConfigError(f"interpolation = {interpolation!r}; valid choices: "
                          f"{', '.join(_INTERPOLATIONS)}")
    order = np.argsort(d, kind="stable")
    d, p = d[order], p[order]
    within = np.isfinite(p) & (p <= limit_pct)
    if not within[0]:
        return float("nan")
    bad = np.flatnonzero(~within)
    if bad.size == 0:
        return float("inf")
    k = int(bad[0])
    d0, d1, p0, p1 = d[k - 1], d[k], p[k - 1], p[k]
    if not np.isfinite(p1):  # no depth at d1: the range ends somewhere in (d0, d1); say d0
        return float(d0)
    if interpolation == "linear" or p0 <= 0:  # log of a zero precision: fall back to linear
        x0, x1, y0, y1, y = d0, d1, p0, p1, limit_pct
        interpolation = "linear"
    else:
        y0, y1, y = np.log(p0), np.log(p1), np.log(limit_pct)
        x0, x1 = (np.log(d0), np.log(d1)) if interpolation == "loglog" else (d0, d1)
    x = x0 + (y - y0) * (x1 - x0) / (y1 - y0) if y1 != y0 else x1
    return float(np.exp(x) if interpolation == "loglog" else x)


def ambient_robustness_table(ambient_klx, precision_pct, *, limit_pct: float | None = None
                             ) -> list[dict]:
    """Precision against ambient light, as table rows (e.g. 0 / 10 / 100 klx).

    One row per ambient level, sorted by illuminance: ``ambient_klx``, ``precision_pct``,
    ``ratio_to_darkest`` = precision / precision at the lowest tested illuminance (1.0 at
    the darkest; how much sunlight degrades the noise), and ``meets_limit`` (bool, or None
    without ``limit_pct``). The profile metric ``precision_pct_ambient`` at a stated klx is
    the ``precision_pct`` of that row. NaN precision (no valid depth) → ``meets_limit``
    False.
    """
    a = np.asarray(ambient_klx, dtype=np.float64).ravel()
    p = np.asarray(precision_pct, dtype=np.float64).ravel()
    if a.shape != p.shape or a.size < 1:
        raise ConfigError(f"ambient_klx ({a.size} values) and precision_pct ({p.size} values) "
                          "must have the same length >= 1")
    if not np.all(np.isfinite(a) & (a >= 0)):
        raise ConfigError(f"ambient_klx: min {np.nanmin(a):g}; valid range: finite, >= 0 klx")
    if limit_pct is not None and not (np.isfinite(limit_pct) and limit_pct > 0):
        raise ConfigError(f"limit_pct = {limit_pct!r}; valid range: > 0 % or None")
    order = np.argsort(a, kind="stable")
    ref = p[order[0]]
    rows = []
    for i in order:
        ratio = float(p[i] / ref) if np.isfinite(ref) and ref > 0 else float("nan")
        meets = None if limit_pct is None else bool(np.isfinite(p[i]) and p[i] <= limit_pct)
        rows.append({"ambient_klx": float(a[i]), "precision_pct": float(p[i]),
                     "ratio_to_darkest": ratio, "meets_limit": meets})
    return rows


# --------------------------------------------------------------------------- geometry

def _pinhole_rays(shape, focal_px, cx, cy) -> np.ndarray:
    h, w = shape
    fx, fy = (focal_px, focal_px) if np.ndim(focal_px) == 0 else tuple(focal_px)
    fx, fy = float(fx), float(fy)
    if not (np.isfinite(fx) and fx > 0 and np.isfinite(fy) and fy > 0):
        raise ConfigError(f"focal_px = {focal_px!r}; valid range: > 0 pixels")
    cx = (w - 1) / 2.0 if cx is None else float(cx)
    cy = (h - 1) / 2.0 if cy is None else float(cy)
    u = (np.arange(w, dtype=np.float64) - cx) / fx
    v = (np.arange(h, dtype=np.float64) - cy) / fy
    rays = np.empty((h, w, 3))
    rays[..., 0] = u[None, :]
    rays[..., 1] = v[:, None]
    rays[..., 2] = 1.0
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    return rays


def depth_to_point_cloud(depth_m, focal_px=None, cx: float | None = None, cy: float | None = None,
                         *, rays=None, return_index: bool = False):
    """Points (X, Y, Z) of a radial depth map seen by a rectified pinhole camera.

    Camera frame: origin at the projection centre, +x right (increasing column), +y down
    (increasing row), +z forward (OpenCV convention). Pixel (row v, column u) has its
    centre at (u, v) in pixel units; its unit ray is

        r̂ = (u − cx, v − cy, f) / ‖(u − cx, v − cy, f)‖,

    and the point is P = d · r̂ with d the **radial** distance along the ray (not z; the
    ToF convention). Hence Z = d·f/√((u−cx)² + (v−cy)² + f²) ≤ d.

    Parameters
    ----------
    depth_m : array (H, W), m
        Radial distance; non-finite or ≤ 0 pixels are dropped.
    focal_px : float or (fx, fy), pixels
        Focal length in pixels (f_mm / pitch_mm). Ignored if ``rays`` is given.
    cx, cy : float, pixels
        Principal point; default the array centre ((W−1)/2, (H−1)/2).
    rays : array (H, W, 3) or None
        Unit ray directions (``PinholeGeometry.ray_directions()``) instead of the pinhole
        parameters.
    return_index : bool
        Also return the flat pixel indices (row·W + col) of the points.

    Returns
    -------
    points : float64 (N, 3), m — and ``index`` (N,) int64 if requested.

    References
    ----------
    Hartley & Zisserman, *Multiple View Geometry*, 2nd ed., §6.1 (pinhole back-projection
    x = K⁻¹u along the ray).
    """
    d = np.asarray(depth_m, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ConfigError(f"depth_m: shape {d.shape}; a depth map (H, W) is required")
    if rays is None:
        if focal_px is None:
            raise ConfigError("focal_px = None; give the focal length in pixels (> 0) or rays")
        r = _pinhole_rays(d.shape, focal_px, cx, cy)
    else:
        r = np.asarray(rays, dtype=np.float64)
        if r.shape != d.shape + (3,):
            raise ConfigError(f"rays: shape {r.shape} does not match the depth map "
                              f"{d.shape} + (3,)")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(d) & (d > 0)
    idx = np.flatnonzero(ok)
    pts = r.reshape(-1, 3)[idx] * d.ravel()[idx, None]
    return (pts, idx) if return_index else pts


@dataclass(frozen=True)
class PlaneFit:
    """Best-fit plane n·P = offset_m through points, and the residuals' statistics.

    ``normal``: unit normal (3,), oriented toward the camera (n_z ≤ 0); ``offset_m``: n·P of
    the plane (the plane's distance to the origin is |offset_m|); ``rms_m``: RMS orthogonal
    residual [m]; ``peak_to_valley_m``: max − min residual [m] (VDI/VDE 2634-2 flatness
    measurement error F); ``rms_pct``: 100·rms_m / mean distance of the points; ``n_points``.
    """

    normal: tuple[float, float, float]
    offset_m: float
    rms_m: float
    peak_to_valley_m: float
    rms_pct: float
    n_points: int


def plane_fit_residual(points) -> PlaneFit:
    """Orthogonal (total least squares) plane fit and the RMS of the residuals.

    The plane passes through the centroid c of the points; its normal n is the right
    singular vector of (P − c) with the smallest singular value; residuals r_i = n·(P_i − c);
    rms = √(mean r_i²). The usual "spatial noise" / precision of stereo and structured-light
    cameras on a flat wall (Intel RealSense Depth Testing Methodology rev 1.0, "RMS error"
    after a plane fit); max r − min r is the flatness measurement error F of VDI/VDE 2634
    Part 2 (2012).

    Parameters
    ----------
    points : array (N, 3), m, N ≥ 3 (non-finite rows dropped)

    Raises
    ------
    ConfigError
        Wrong shape or fewer than 3 finite points.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ConfigError(f"points: shape {p.shape}; an (N, 3) array of X, Y, Z in m is required")
    p = p[np.isfinite(p).all(axis=1)]
    if p.shape[0] < 3:
        raise ConfigError(f"points: {p.shape[0]} finite points; a plane fit needs >= 3")
    c = p.mean(axis=0)
    q = p - c
    _, _, vt = np.linalg.svd(q, full_matrices=False)
    n = vt[-1]
    if n[2] > 0:
        n = -n
    r = q @ n
    rms = float(np.sqrt(np.mean(r ** 2)))
    mean_dist = float(np.mean(np.linalg.norm(p, axis=1)))
    return PlaneFit(tuple(float(v) for v in n), float(n @ c), rms, float(r.max() - r.min()),
                    100.0 * rms / mean_dist if mean_dist > 0 else float("nan"), int(p.shape[0]))
