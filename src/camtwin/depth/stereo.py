"""Active stereo: two rectified NIR cameras on a baseline, an optional dot projector, a real
matcher (OpenCV semi-global or block matching) and depth = f·b/d.

Pipeline
--------
1. :func:`render_stereo_pair` — the reference (left) camera sits at the origin, the right
   camera at (b, 0, 0), both with the scene geometry's intrinsics (rectified: same rows).
   Each camera sees
   * the scene texture under ambient light (each pixel integrates the texture over its
     footprint: :func:`~camtwin.depth.pattern.pixel_texture`): a Lambertian surface of reflectance ρ under
     in-band irradiance E_amb [W/m²] has radiance L = ρ·E_amb/π, and the camera equation
     (Horn 1986, §10.3) gives the image irradiance
         E_img = π·L·T·cos⁴α / (4N²) = ρ·E_amb·T·cos⁴α / (4N²)   [W/m²],
     so a pixel of pitch p and fill factor FF collects ρ·E_amb·T·cos⁴α·p²·FF/(4N²)·λ/(hc)
     photons/s (α: angle of the pixel's ray off the axis, N: f-number, T: transmission);
   * the projected dots (:mod:`camtwin.depth.pattern`, eq. (3) there), each imaged where
     its 3-D landing point projects, and only if that camera sees the point.
   The right image is rendered by exact geometry: every surface point of the reference
   view appears at x_R = x_L − f·b/Z (rows equal); a z-buffer keeps the nearest surface
   (occlusions at depth edges) and the right camera's pixels that see surface the left
   camera cannot see (disocclusions) are filled with the farther neighbour's value along
   the row (the scene is only known where the left camera sees it).
   Sensor (per pixel, per frame, with the caller's ``rng``): mean electrons
   μ = QE·Φ·t + i_dark·t; shot noise n ~ Poisson(μ); read noise + N(0, σ_read²);
   clipped to [0, full_well]; ADC DN = round(n·(2^bits − 1)/full_well).
2. :func:`disparity_map` — OpenCV ``StereoSGBM`` (Hirschmüller 2008) or ``StereoBM``
   (Konolige 1997) on 8-bit copies of the images (one common digital gain puts the 99.5th
   percentile at 255). OpenCV returns 16-bit fixed-point disparities with 4 fractional
   bits (value = 16·d); invalid pixels are (minDisparity − 1)·16 and become NaN.
3. :func:`depth_from_disparity` — triangulation Z = f·b/d (Hartley & Zisserman 2004,
   §11.12); the radial distance along the pixel ray is r = Z·√(1 + (u² + v²)/f²).
4. :func:`analytic_depth_sigma_m` — first-order error propagation of Z = f·b/d:
   |∂Z/∂d| = f·b/d² = Z²/(f·b), so σ_Z = Z²·σ_d/(f·b) (Gallup et al. 2008, §3, the depth
   error of a stereo pair growing with the square of depth).

Units: distances m (``_mm`` fields in mm), f in pixels, disparity in pixels, images in DN
(uint16) or electrons.

Notes (measured with the tests' 320×240, f = 322 px, b = 50 mm rig)
----------------------------------------------------------------------
* The temporal σ of the SGBM depth equals Z²·σ_d/(f·b) to within 1 % at 0.5–3 m, and with
  the same fractional disparity at every distance σ_d is constant (≈ 0.09 px for a ±15 %
  texture at ≈ 270 e⁻), so σ_Z grows as Z² (tests/depth/test_stereo.py).
* SGBM's parabolic sub-pixel fit pulls estimates toward integer disparities ("pixel
  locking", Shimizu & Okutomi 2001): on a fronto-parallel plane the mean disparity is off
  by up to ≈ 0.25 px depending on the fractional part of d (≈ 2 % of Z at d ≈ 10 px) and
  σ_d is largest at half-integer d. On slanted planes the bias averages out (< 0.5 %).
* Limits: cameras and projector share one baseline line (no y/z offsets, no rotation,
  no lens distortion); surfaces the reference camera cannot see are unknown (the right
  camera's disoccluded pixels repeat the farther neighbour, without dots); no lens blur
  of the ambient texture beyond pixel integration; no multipath, no interreflection.

References
----------
Horn, B. K. P., *Robot Vision*, MIT Press (1986), §10.3.
Hirschmüller, H., "Stereo processing by semiglobal matching and mutual information",
IEEE TPAMI 30(2), 328–341 (2008).
Konolige, K., "Small vision systems: hardware and implementation", 8th Int. Symp. Robotics
Research (1997) (the block matcher OpenCV's StereoBM follows).
Hartley, R., Zisserman, A., *Multiple View Geometry in Computer Vision*, 2nd ed. (2004).
Gallup, D., Frahm, J.-M., Mordohai, P., Pollefeys, M., "Variable baseline/resolution
stereo", CVPR 2008.
Shimizu, M., Okutomi, M., "Precise sub-pixel estimation on area-based matching", ICCV 2001
(pixel locking of parabola-fitted sub-pixel disparities).
OpenCV 4.x documentation, ``cv::StereoMatcher::compute`` (fixed-point disparity, 4
fractional bits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import field_validator

from .._spec import FrozenSpec, valid_range
from ..errors import ConfigError
from ..units import watts_to_photons_per_s
from .pattern import (VISIBILITY_TOL, DotPattern, Surface, dot_hits, dot_image,
                      pixel_texture, view_from_offset)

__all__ = ["StereoSpec", "StereoPair", "StereoFrame", "render_stereo_pair", "disparity_map",
           "depth_from_disparity", "analytic_depth_sigma_m", "simulate_stereo"]


class StereoSpec(FrozenSpec):
    """A rectified active-stereo module: baseline, matcher, camera pixel, optional projector.

    Fields
    ------
    baseline_mm : (0, 2000] — distance between the camera centres [mm].
    matcher : "sgbm" (OpenCV StereoSGBM, semi-global) | "bm" (StereoBM, block matching).
    num_disparities : 16..1024, a multiple of 16 (OpenCV) — disparity search range [px].
    min_disparity : −1024..1024 — smallest disparity searched [px].
    block_size : odd; sgbm 1..51, bm 5..255 — matching window [px].
    uniqueness_ratio : 0..100 [%] — the best cost must beat the second best by this margin.
    disp12_max_diff : −1 (off) or 0..1000 — left-right consistency check tolerance [px].
    speckle_window_size : 0 (off)..10000 — smallest connected disparity region kept [px].
    speckle_range : 0..64 — max disparity variation inside such a region [px].
    wavelength_nm : [400, 2000] — centre of the cameras' pass band (ambient photons).
    filter_bandwidth_nm : (0, 300] — width of the cameras' rectangular band-pass filter
        (how much sunlight gets in, see ``ambient_klx`` of :func:`render_stereo_pair`).
    quantum_efficiency : (0, 1] at that wavelength.
    full_well_e : (0, 1e7]; read_noise_e : [0, 1e4]; dark_current_e_per_s : [0, 1e7].
    exposure_s : (0, 10]; adc_bits : 8..16 (full well → 2^bits − 1 DN).
    projector : a :class:`~camtwin.depth.pattern.DotPattern`, or None (passive texture).
    projector_x_mm : projector position on the baseline [mm] from the left camera
        (default: midway, baseline_mm/2); |value| ≤ 10·baseline_mm.
    """

    baseline_mm: Annotated[float, valid_range(gt=0, le=2000, unit="mm",
                                              note="two distinct cameras")]
    matcher: Literal["sgbm", "bm"] = "sgbm"
    num_disparities: int = 64
    min_disparity: Annotated[int, valid_range(ge=-1024, le=1024, unit="px")] = 0
    block_size: int = 5  # after matcher: its range depends on it
    uniqueness_ratio: Annotated[int, valid_range(ge=0, le=100, unit="%")] = 10
    disp12_max_diff: Annotated[int, valid_range(ge=-1, le=1000, unit="px", note="-1: off")] = 1
    speckle_window_size: Annotated[int, valid_range(ge=0, le=10000, unit="px")] = 100
    speckle_range: Annotated[int, valid_range(ge=0, le=64, unit="px")] = 2
    wavelength_nm: Annotated[float, valid_range(ge=400, le=2000, unit="nm")] = 940.0
    filter_bandwidth_nm: Annotated[float, valid_range(gt=0, le=300, unit="nm")] = 30.0
    quantum_efficiency: Annotated[float, valid_range(gt=0, le=1)] = 0.35
    full_well_e: Annotated[float, valid_range(gt=0, le=1e7, unit="e-")] = 10000.0
    read_noise_e: Annotated[float, valid_range(ge=0, le=1e4, unit="e-")] = 3.0
    dark_current_e_per_s: Annotated[float, valid_range(ge=0, le=1e7, unit="e-/s")] = 0.0
    exposure_s: Annotated[float, valid_range(gt=0, le=10, unit="s")] = 0.01
    adc_bits: Annotated[int, valid_range(ge=8, le=16, unit="bits")] = 10
    projector: DotPattern | None = None
    projector_x_mm: float | None = None

    @field_validator("num_disparities")
    @classmethod
    def _nd(cls, v):
        if not (16 <= v <= 1024 and v % 16 == 0):
            raise ValueError("must be a multiple of 16 in 16..1024 px (OpenCV)")
        return v

    @field_validator("block_size")
    @classmethod
    def _bs(cls, v, info):
        matcher = info.data.get("matcher", "sgbm")
        lo, hi = (1, 51) if matcher == "sgbm" else (5, 255)
        if not (lo <= v <= hi and v % 2 == 1):
            raise ValueError(f"must be odd in {lo}..{hi} px for matcher {matcher!r}")
        return v

    @field_validator("projector_x_mm")
    @classmethod
    def _px(cls, v, info):
        b = info.data.get("baseline_mm")
        if v is not None and b is not None and not (math.isfinite(v) and abs(v) <= 10 * b):
            raise ValueError(f"valid range ±10·baseline_mm = ±{10 * b:g} mm")
        return v

    @property
    def baseline_m(self) -> float:
        return self.baseline_mm * 1e-3

    @property
    def projector_x_m(self) -> float:
        """Projector position on the baseline [m] (default: midway)."""
        x = self.baseline_mm / 2 if self.projector_x_mm is None else self.projector_x_mm
        return x * 1e-3

    @property
    def dn_per_e(self) -> float:
        """ADC gain: (2^adc_bits − 1) / full_well_e [DN/e⁻]."""
        return (2 ** self.adc_bits - 1) / self.full_well_e


@dataclass(frozen=True, eq=False)
class StereoPair:
    """A rectified pair and its ground truth (left-camera grid, (H, W) arrays).

    left_dn, right_dn : uint16 [DN]. left_e, right_e : noiseless mean signal [e⁻].
    disparity_true_px : f·b/Z of the surface each left pixel sees (NaN: no surface).
    z_true_m : depth along the axis [m] (inf: no surface).
    occluded : left pixels whose surface point the right camera does not see (hidden
        behind a nearer surface or outside the right field) — no correct match exists.
    focal_px, baseline_m : of the rig.
    """

    left_dn: np.ndarray
    right_dn: np.ndarray
    left_e: np.ndarray
    right_e: np.ndarray
    disparity_true_px: np.ndarray
    z_true_m: np.ndarray
    occluded: np.ndarray
    focal_px: float
    baseline_m: float


@dataclass(frozen=True, eq=False)
class StereoFrame:
    """Depth from one stereo pair: ``depth_m`` radial distance [m] (NaN invalid, as the
    other depth pixel models), ``z_m`` depth along the axis, ``disparity_px`` (NaN invalid),
    ``pair`` the rendered images and truth."""

    depth_m: np.ndarray
    z_m: np.ndarray
    disparity_px: np.ndarray
    pair: StereoPair

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.disparity_px)


def _cos4(shape, f_px):
    h, w = shape
    u = np.arange(w) - (w - 1) / 2.0
    v = np.arange(h) - (h - 1) / 2.0
    r2 = (u[None, :] ** 2 + v[:, None] ** 2) / f_px**2
    return 1.0 / (1.0 + r2) ** 2


def _radial_factor(shape, f_px):
    """r/Z = √(1 + (u² + v²)/f²) per pixel (u, v from the image centre [px])."""
    return 1.0 / np.sqrt(np.sqrt(_cos4(shape, f_px)))


def _fill_far(values: np.ndarray, inv_z: np.ndarray) -> np.ndarray:
    """Fill NaN runs along each row with the nearest valid value on the farther side
    (smaller 1/Z); rows without any valid value become 0."""
    h, w = values.shape
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    idx = np.where(~bad, np.arange(w)[None, :], -1)
    left = np.maximum.accumulate(idx, axis=1)
    idx_r = np.where(~bad, np.arange(w)[None, :], w)
    right = np.minimum.accumulate(idx_r[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(h)[:, None]
    vl = np.where(left >= 0, values[rows, np.maximum(left, 0)], np.nan)
    vr = np.where(right < w, values[rows, np.minimum(right, w - 1)], np.nan)
    wl = np.where(left >= 0, inv_z[rows, np.maximum(left, 0)], np.inf)
    wr = np.where(right < w, inv_z[rows, np.minimum(right, w - 1)], np.inf)
    fill = np.where(wl <= wr, vl, vr)
    fill = np.where(np.isfinite(fill), fill, np.where(np.isfinite(vl), vl, vr))
    out = np.where(bad, fill, values)
    return np.nan_to_num(out, nan=0.0)


def _expose(photons_per_s: np.ndarray, spec: StereoSpec, rng: np.random.Generator):
    """Mean electrons and DN of one frame (shot, read, clip, ADC)."""
    t = spec.exposure_s
    mean_e = spec.quantum_efficiency * photons_per_s * t + spec.dark_current_e_per_s * t
    e = rng.poisson(mean_e).astype(np.float64)
    if spec.read_noise_e > 0:
        e += rng.normal(0.0, spec.read_noise_e, e.shape)
    e = np.clip(e, 0.0, spec.full_well_e)
    dn = np.rint(e * spec.dn_per_e).astype(np.uint16)
    return mean_e, dn


def render_stereo_pair(scene, spec: StereoSpec, rng: np.random.Generator, *,
                       ambient_irradiance_w_m2: float = 0.0, ambient_klx: float = 0.0,
                       projector_on: bool = True) -> StereoPair:
    """Render a rectified left/right NIR pair of ``scene`` (see the module docstring).

    Parameters
    ----------
    scene : :class:`~camtwin.depth.scene.DepthScene` (its geometry is both cameras') or a
        :class:`~camtwin.depth.pattern.Surface`.
    spec : StereoSpec.
    rng : numpy Generator for the sensor noise of both frames.
    ambient_irradiance_w_m2 : in-band ambient irradiance on the scene [W/m²] (in the
        cameras' pass band, ≥ 0); converted to photons at ``spec.wavelength_nm``.
    ambient_klx : sunlight illuminance on the scene [klx], [0, 200]; its in-band part
        (ASTM G173 spectrum of :func:`camtwin.depth.radiometry.solar_spectral_irradiance`
        through the rectangular filter ``spec.wavelength_nm`` ± ``spec.filter_bandwidth_nm``/2,
        integrated in photons ∫E(λ)·λ/(hc) dλ on ≤ 0.1 nm steps) adds to the ambient light.
    projector_on : False renders the pair without the dot projector (passive stereo).

    Returns
    -------
    StereoPair (DN images, mean electrons, true disparity, occlusion mask).
    """
    if not (math.isfinite(ambient_irradiance_w_m2) and ambient_irradiance_w_m2 >= 0):
        raise ConfigError(f"ambient_irradiance_w_m2 = {ambient_irradiance_w_m2!r}: must be "
                          ">= 0 W/m2")
    surf = Surface.from_scene(scene)
    h, w = surf.shape
    f = surf.focal_px
    b = spec.baseline_m
    right = view_from_offset(surf, b, col0=0, width=w)
    # ambient texture: photons/s per pixel = ρ·q·T·cos⁴α·p²·FF/(4N²)
    # photon irradiance on the scene [photons/s/m²]: the given in-band W/m² at the band
    # centre, plus sunlight integrated over the band, ∫ E_sun(λ)·λ/(hc) dλ
    q = float(watts_to_photons_per_s(ambient_irradiance_w_m2, spec.wavelength_nm))
    if ambient_klx:
        from .radiometry import solar_spectral_irradiance

        lo = spec.wavelength_nm - spec.filter_bandwidth_nm / 2
        wl = np.linspace(lo, lo + spec.filter_bandwidth_nm,
                         max(int(np.ceil(spec.filter_bandwidth_nm / 0.1)), 2) + 1)
        q += float(np.trapezoid(watts_to_photons_per_s(
            solar_spectral_irradiance(wl, ambient_klx), wl), wl))
    k_amb = (q * surf.lens_transmission / (4 * surf.f_number**2)
             * (surf.pixel_pitch_um * 1e-6) ** 2 * surf.fill_factor)
    cos4 = _cos4((h, w), f)
    refl_r = _fill_far(pixel_texture(surf, right), np.nan_to_num(right.inv_z, nan=0.0))
    phot_l = k_amb * pixel_texture(surf) * cos4
    phot_r = k_amb * refl_r * cos4
    if projector_on and spec.projector is not None:
        hits = dot_hits(spec.projector, surf, spec.projector_x_m)
        phot_l = phot_l + dot_image(spec.projector, hits, surf, camera_x_m=0.0)
        phot_r = phot_r + dot_image(spec.projector, hits, surf, camera_x_m=b, view=right)
    mean_l, dn_l = _expose(phot_l, spec, rng)
    mean_r, dn_r = _expose(phot_r, spec, rng)
    # truth on the left grid
    wz = surf.inv_z
    hit = wz > 0
    disp = np.where(hit, f * b * wz, np.nan)
    with np.errstate(divide="ignore"):
        z_true = np.where(hit, 1.0 / np.where(hit, wz, 1.0), np.inf)
    xr = np.arange(w)[None, :] - np.nan_to_num(disp)
    inside = (xr >= -0.5) & (xr < w - 0.5)
    zr = np.nan_to_num(right.inv_z, nan=0.0)
    rows = np.arange(h)[:, None]
    x0 = np.clip(np.floor(xr), 0, w - 1).astype(np.int64)
    x1 = np.clip(x0 + 1, 0, w - 1)
    seen = (np.abs(zr[rows, x0] - wz) <= VISIBILITY_TOL * wz) | (
        np.abs(zr[rows, x1] - wz) <= VISIBILITY_TOL * wz)
    occluded = hit & ~(inside & seen)
    return StereoPair(dn_l, dn_r, mean_l, mean_r, disp, z_true, occluded, f, b)


def _to_8bit(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both images with one common gain: the larger 99.5th percentile → 255."""
    if left.dtype == np.uint8 and right.dtype == np.uint8:
        return left, right
    top = max(float(np.percentile(left, 99.5)), float(np.percentile(right, 99.5)), 1e-12)
    g = 255.0 / top
    conv = [np.clip(np.rint(np.asarray(a, np.float64) * g), 0, 255).astype(np.uint8)
            for a in (left, right)]
    return conv[0], conv[1]


def disparity_map(left: np.ndarray, right: np.ndarray, spec: StereoSpec) -> np.ndarray:
    """Disparity of the rectified pair by OpenCV (``spec.matcher``) [px], float32 (H, W),
    NaN where the matcher reports no valid match.

    SGBM penalties P1 = 8·B², P2 = 32·B² (B: block size; OpenCV's sample values for one
    channel), preFilterCap 63, mode SGBM (5 paths). BM: preFilterCap 31, texture threshold
    10. OpenCV's fixed-point output D (int16, D = 16·d) is divided by 16; D < 16·minDisparity
    marks invalid.
    """
    import cv2

    l8, r8 = _to_8bit(np.asarray(left), np.asarray(right))
    if l8.shape != r8.shape or l8.ndim != 2:
        raise ConfigError(f"disparity_map: left {l8.shape} and right {r8.shape} must be equal "
                          "2-D images")
    bs = spec.block_size
    if spec.matcher == "sgbm":
        m = cv2.StereoSGBM_create(minDisparity=spec.min_disparity,
                                  numDisparities=spec.num_disparities, blockSize=bs,
                                  P1=8 * bs * bs, P2=32 * bs * bs,
                                  disp12MaxDiff=spec.disp12_max_diff, preFilterCap=63,
                                  uniquenessRatio=spec.uniqueness_ratio,
                                  speckleWindowSize=spec.speckle_window_size,
                                  speckleRange=spec.speckle_range,
                                  mode=cv2.STEREO_SGBM_MODE_SGBM)
    else:
        m = cv2.StereoBM_create(numDisparities=spec.num_disparities, blockSize=bs)
        m.setMinDisparity(spec.min_disparity)
        m.setUniquenessRatio(spec.uniqueness_ratio)
        m.setDisp12MaxDiff(spec.disp12_max_diff)
        m.setSpeckleWindowSize(spec.speckle_window_size)
        m.setSpeckleRange(spec.speckle_range)
        m.setPreFilterCap(31)
        m.setTextureThreshold(10)
    raw = m.compute(l8, r8)
    d = raw.astype(np.float32) / 16.0
    d[raw < spec.min_disparity * 16] = np.nan
    return d


def depth_from_disparity(disparity_px, focal_px: float, baseline_m: float, *,
                         radial: bool = True) -> np.ndarray:
    """Depth from disparity: Z = f·b/d [m]; with ``radial`` (default) the distance along
    the pixel ray r = Z·√(1 + (u² + v²)/f²) (u, v: offsets from the image centre [px]; needs
    a 2-D map). d ≤ 0 or NaN → NaN.
    """
    d = np.asarray(disparity_px, dtype=np.float64)
    if not (math.isfinite(focal_px) and focal_px > 0):
        raise ConfigError(f"focal_px = {focal_px!r}: must be > 0 px")
    if not (math.isfinite(baseline_m) and baseline_m > 0):
        raise ConfigError(f"baseline_m = {baseline_m!r}: must be > 0 m")
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(d > 0, focal_px * baseline_m / d, np.nan)
    if not radial:
        return z
    if d.ndim != 2:
        raise ConfigError(f"depth_from_disparity: radial distance needs a 2-D map; got shape "
                          f"{d.shape} (use radial=False)")
    return z * _radial_factor(d.shape, focal_px)


def analytic_depth_sigma_m(z_m, f_px: float, baseline_m: float, sigma_d_px):
    """First-order depth noise of a rectified stereo pair:

        σ_Z = Z²·σ_d / (f·b)   [m]

    from Z = f·b/d, |∂Z/∂d| = f·b/d² = Z²/(f·b) (Gallup et al., CVPR 2008, §3). For the
    radial distance multiply by r/Z. Valid while σ_d ≪ d (the next term is +3σ_d²/d²
    relative). Broadcasts over ``z_m`` and ``sigma_d_px``.

    >>> round(float(analytic_depth_sigma_m(2.0, 600.0, 0.05, 0.1)), 5)
    0.01333
    """
    return np.asarray(z_m, dtype=np.float64) ** 2 * np.asarray(sigma_d_px, np.float64) / (
        f_px * baseline_m)


def simulate_stereo(scene, spec: StereoSpec, rng: np.random.Generator, *,
                    ambient_irradiance_w_m2: float = 0.0, ambient_klx: float = 0.0,
                    projector_on: bool = True) -> StereoFrame:
    """Render a pair, match it and triangulate: :func:`render_stereo_pair` →
    :func:`disparity_map` → :func:`depth_from_disparity` (radial, NaN invalid)."""
    pair = render_stereo_pair(scene, spec, rng, ambient_irradiance_w_m2=ambient_irradiance_w_m2,
                              ambient_klx=ambient_klx, projector_on=projector_on)
    d = disparity_map(pair.left_dn, pair.right_dn, spec)
    z = depth_from_disparity(d, pair.focal_px, pair.baseline_m, radial=False)
    r = z * _radial_factor(z.shape, pair.focal_px)
    return StereoFrame(r, z, d, pair)
