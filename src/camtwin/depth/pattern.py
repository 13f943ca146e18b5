"""Structured-light dot projector: where each dot lands on a depth scene and how bright its
image is in a camera on the same baseline.

Geometry
--------
All viewpoints are rectified pinholes with the intrinsics of the scene's
:class:`~camtwin.depth.scene.PinholeGeometry` (focal length f [px], principal point at the
image centre, image y down), looking along +z, and placed on the baseline: a viewpoint at
lateral offset ``s`` [m] (the left/reference camera at s = 0, the right camera at s = b, the
projector at s = p). A surface point P = (X, Y, Z) seen by the reference camera at column x
appears in the viewpoint ``s`` at

    x_s = x − f·s/Z,      y_s = y,                                              (1)

so every viewpoint shares the image rows (epipolar lines) and the shift f·s/Z is the
disparity with respect to the reference camera. The scene is known only where the reference
camera sees it (:class:`Surface`); :func:`view_from_offset` renders another viewpoint by
inverting (1) along each row with a z-buffer (nearest surface wins: occlusion) and leaves
holes where the viewpoint sees surface that the reference camera does not (disocclusion).
Between adjacent reference pixels the surface is linear in inverse depth 1/Z (exact for
planes: disparity is affine in image coordinates on a plane); adjacent pixels whose depths
differ by more than :data:`SURFACE_JUMP` (relative) belong to different surfaces.

The dot projector is a pinhole at s = p emitting N beamlets in directions (tan θx, tan θy)
(its own frame, parallel to the cameras'). A dot lands at the first surface point along its
ray, found from the projector's view of the scene (the same inversion of (1) with s = p):
with 1/Z interpolated bilinearly at the dot's projector pixel (x_p, y_p) = (c_x + f·tan θx,
c_y + f·tan θy),

    P = (p + Z·tan θx, Z·tan θy, Z).

Radiometry of one dot
---------------------
The projector splits its optical power Φ₀ equally: Φ_dot = Φ₀/N [W]. The whole beamlet
lands on the surface (its irradiance E = Φ_dot·cos θi / A_spot over the illuminated area
A_spot/cos θi), so the reflected power does not depend on the angle of incidence. A
Lambertian surface of reflectance ρ sends the radiant intensity

    I(θe) = ρ·Φ_dot·cos θe / π   [W/sr]                                          (2)

toward a camera at angle θe from its normal. The camera's entrance pupil of diameter
D = f/N (f-number N) at distance r from P, seen at angle α off the optical axis, subtends
Ω = (π D²/4)·cos α / r², so the power reaching the sensor is

    Φ_cam = T·ρ·Φ_dot·cos θe · (D²/4) · cos α / r²   [W],                          (3)

(T: lens + filter transmission) and the photon rate on the pixels' photosensitive area is
Φ_cam·FF·λ/(h c) (FF: fill factor), spread over the dot's image. Equivalently, with the
spot's irradiance E = Φ_dot/A_spot, radiance L = ρE/π and the camera equation
E_img = π·L·T/(4N²) (Horn 1986, §10.3, on axis), E_img times the spot's image area
A_spot·cos θe·(f/r)² gives (3) on axis.

Each beamlet is a Gaussian beam of 1/e² diameter D₀ at the projector exit and full-angle
1/e² divergence θ: at range R its 1/e² diameter is D(R) = √(D₀² + (θR)²) (Siegman 1986,
ch. 17, far field). Its image in a camera at depth Z is a Gaussian of standard deviation

    σ_img = √( (D(R)/4 · f/Z)² + σ_diff² )  [px],   σ_diff = 0.42·λ·N / pitch,     (4)

(σ = D/4 for a 1/e² diameter D; σ_diff is the Gaussian fit to the Airy disc, Zhang,
Zerubia & Olivo-Marin 2007, Table 1, paraxial widefield σ = 0.21 λ/NA with NA = 1/(2N)),
integrated over each pixel (difference of error functions) and normalised over a window of
±⌈3σ⌉+1 px. A dot is visible in a camera if that camera's own z-buffer at the dot's image
holds the dot's depth (within :data:`VISIBILITY_TOL` relative): dots on surfaces hidden from
a camera (the shadows of depth edges) do not appear in it.

References
----------
Horn, B. K. P., *Robot Vision*, MIT Press (1986), §10.3 (image irradiance
E = L·(π/4)(D/f)²·cos⁴α).
Siegman, A. E., *Lasers*, University Science Books (1986), ch. 17 (Gaussian beam
divergence).
Zhang, B., Zerubia, J., Olivo-Marin, J.-C., "Gaussian approximations of fluorescence
microscope point-spread function models", Applied Optics 46(10), 1819–1829 (2007).
Hartley & Zisserman, *Multiple View Geometry*, 2nd ed. (2004), §11.12 (rectified pairs,
disparity d = f·b/Z).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Literal

import numpy as np
from pydantic import field_validator
from scipy.special import erf

from .._spec import FrozenSpec, valid_range
from ..errors import ConfigError
from ..units import watts_to_photons_per_s

__all__ = ["DotPattern", "Surface", "OffsetView", "DotHits", "view_from_offset",
           "pixel_texture", "dot_hits", "dot_image", "SURFACE_JUMP", "VISIBILITY_TOL"]

#: Adjacent reference pixels whose depths differ by more than this fraction are on
#: different surfaces (a depth edge): the surface is not interpolated across them.
SURFACE_JUMP = 0.05
#: A dot is visible in a camera if |1/Z_buffer − 1/Z_dot| ≤ VISIBILITY_TOL · 1/Z_dot.
VISIBILITY_TOL = 0.02
#: Gaussian approximation of the Airy disc: σ = 0.42·λ·N (Zhang et al. 2007, Table 1).
AIRY_SIGMA_PER_LAMBDA_N = 0.42


# --------------------------------------------------------------------------- the projector

class DotPattern(FrozenSpec):
    """A dot projector (VCSEL array + diffractive optical element): N beamlets over a
    rectangular field of projection, pseudo-random (``layout="random"``, like the ~30 000
    dot projectors of phone face unlock) or on a regular grid (``layout="grid"``).

    Fields
    ------
    n_dots : int, 1..10⁷ — number of dots (for a grid, the nearest cols × rows product is
        used; see :meth:`tangents`).
    layout : "random" | "grid". Random: directions uniform in (tan θx, tan θy) over the
        field (a Poisson pattern; seeded by ``seed`` — the DOE is fixed, so the pattern is a
        property of the part, not of the frame's rng).
    fov_h_deg, fov_v_deg : full field of projection [deg], each in (0, 180).
    dot_divergence_mrad : full-angle 1/e² divergence θ of one beamlet [mrad], (0, 100].
    exit_diameter_mm : 1/e² diameter D₀ of one beamlet at the projector [mm], [0, 10].
    optical_power_w : total optical power in all dots while on [W], (0, 10].
    wavelength_nm : emission wavelength [nm], [400, 2000].
    seed : int ≥ 0 — seed of the pseudo-random layout.

    The dots must be resolvable: N ≤ (2 tan(h/2)/θ)·(2 tan(v/2)/θ), the number of dot-sized
    cells in the field (otherwise the pattern is larger than the field and dots merge into
    a flood) — else a one-line :class:`~camtwin.errors.ConfigError`.

    Example
    -------
    >>> p = DotPattern(n_dots=30000, fov_h_deg=60, fov_v_deg=45, optical_power_w=0.1)
    >>> p.tangents().shape, round(p.power_per_dot_w * 1e6, 2)
    ((30000, 2), 3.33)
    """

    layout: Literal["random", "grid"] = "random"
    fov_h_deg: Annotated[float, valid_range(gt=0, lt=180, unit="deg")] = 60.0
    fov_v_deg: Annotated[float, valid_range(gt=0, lt=180, unit="deg")] = 45.0
    dot_divergence_mrad: Annotated[float, valid_range(gt=0, le=100, unit="mrad")] = 1.0
    # after the field and divergence: its check needs them
    n_dots: Annotated[int, valid_range(ge=1, le=10_000_000, unit="dots")] = 30000
    exit_diameter_mm: Annotated[float, valid_range(ge=0, le=10, unit="mm")] = 0.1
    optical_power_w: Annotated[float, valid_range(gt=0, le=10, unit="W")] = 0.1
    wavelength_nm: Annotated[float, valid_range(ge=400, le=2000, unit="nm")] = 940.0
    seed: Annotated[int, valid_range(ge=0)] = 0

    @field_validator("n_dots")
    @classmethod
    def _n(cls, v, info):
        d = info.data
        if all(k in d for k in ("fov_h_deg", "fov_v_deg", "dot_divergence_mrad")):
            cells = _cells(d["fov_h_deg"], d["fov_v_deg"], d["dot_divergence_mrad"])
            if v > cells:
                raise ValueError(
                    f"more dots than the field of projection resolves: valid range "
                    f"1..{int(cells)} cells of dot_divergence_mrad = "
                    f"{d['dot_divergence_mrad']:g} in {d['fov_h_deg']:g} x "
                    f"{d['fov_v_deg']:g} deg")
        return v

    @property
    def tan_half_fov(self) -> tuple[float, float]:
        """(tan(h/2), tan(v/2)) of the field of projection."""
        return (math.tan(math.radians(self.fov_h_deg) / 2),
                math.tan(math.radians(self.fov_v_deg) / 2))

    @property
    def resolvable_cells(self) -> float:
        """Number of dot-sized cells in the field: (2 tan(h/2)/θ)·(2 tan(v/2)/θ)."""
        return _cells(self.fov_h_deg, self.fov_v_deg, self.dot_divergence_mrad)

    def tangents(self) -> np.ndarray:
        """Dot directions (tan θx, tan θy) in the projector frame, shape (N, 2), float64
        (read-only; N = ``n_dots``, or cols·rows for a grid)."""
        return _tangents(self)

    @property
    def n_dots_actual(self) -> int:
        """Number of dots emitted (``n_dots`` for random, cols·rows for a grid)."""
        return int(self.tangents().shape[0])

    @property
    def power_per_dot_w(self) -> float:
        """Φ_dot = optical_power_w / N [W]."""
        return self.optical_power_w / self.n_dots_actual

    def spot_diameter_m(self, range_m):
        """1/e² spot diameter at range R [m]: D(R) = √(D₀² + (θR)²) (Gaussian far field)."""
        r = np.asarray(range_m, dtype=np.float64)
        return np.hypot(self.exit_diameter_mm * 1e-3, self.dot_divergence_mrad * 1e-3 * r)

    def render(self, scene, *, projector_x_m: float, camera_x_m: float = 0.0,
               surface: "Surface | None" = None) -> np.ndarray:
        """Photon rate of the projected dots on each pixel of a camera on the baseline.

        Parameters
        ----------
        scene : DepthScene (its geometry is the camera's) or a :class:`Surface`.
        projector_x_m : projector position on the baseline [m] (reference camera at 0).
        camera_x_m : position of the viewing camera on the baseline [m] (0: the reference
            camera the scene was built for).

        Returns
        -------
        (H, W) float64: photons/s arriving on each pixel's photosensitive area (before QE),
        eq. (3) with the dot images of eq. (4); zero where no dot lands.
        """
        surf = surface if surface is not None else Surface.from_scene(scene)
        hits = dot_hits(self, surf, projector_x_m)
        view = None if camera_x_m == 0 else view_from_offset(surf, camera_x_m, col0=0,
                                                              width=surf.shape[1])
        return dot_image(self, hits, surf, camera_x_m=camera_x_m, view=view)


def _cells(fov_h_deg: float, fov_v_deg: float, divergence_mrad: float) -> float:
    th = divergence_mrad * 1e-3
    return (2 * math.tan(math.radians(fov_h_deg) / 2) / th) * (
        2 * math.tan(math.radians(fov_v_deg) / 2) / th)


@lru_cache(maxsize=16)
def _tangents(p: DotPattern) -> np.ndarray:
    tx, ty = p.tan_half_fov
    if p.layout == "random":
        g = np.random.default_rng(p.seed)
        t = np.column_stack([g.uniform(-tx, tx, p.n_dots), g.uniform(-ty, ty, p.n_dots)])
    else:
        cols = max(1, round(math.sqrt(p.n_dots * tx / ty)))
        rows = max(1, round(p.n_dots / cols))
        gx = (np.arange(cols) + 0.5) / cols * 2 * tx - tx
        gy = (np.arange(rows) + 0.5) / rows * 2 * ty - ty
        xx, yy = np.meshgrid(gx, gy)
        t = np.column_stack([xx.ravel(), yy.ravel()])
    t.setflags(write=False)
    return t


# --------------------------------------------------------------------------- the surface

@dataclass(frozen=True, eq=False)
class Surface:
    """The scene as the reference camera sees it, with that camera's optics.

    Attributes
    ----------
    inv_z : (H, W) float64 — 1/Z [1/m] (Z: depth along the axis); 0 where nothing is hit.
    reflectance : (H, W) float64 — Lambertian reflectance ρ in [0, 1].
    normal : (H, W, 3) float64 — unit normal toward the camera (camera coordinates).
    focal_px : f [px]; principal point at ((W−1)/2, (H−1)/2).
    f_number, pixel_pitch_um, lens_transmission, fill_factor : camera optics (as in
        :class:`~camtwin.depth.scene.PinholeGeometry`).
    """

    inv_z: np.ndarray
    reflectance: np.ndarray
    normal: np.ndarray
    focal_px: float
    f_number: float = 2.0
    pixel_pitch_um: float = 3.0
    lens_transmission: float = 0.9
    fill_factor: float = 1.0

    @classmethod
    def from_scene(cls, scene) -> "Surface":
        """From a :class:`~camtwin.depth.scene.DepthScene` (or a Surface, returned as is)."""
        if isinstance(scene, Surface):
            return scene
        g = scene.geometry
        z = np.asarray(scene.z_m, dtype=np.float64)
        with np.errstate(divide="ignore"):
            w = np.where(np.isfinite(z) & (z > 0), 1.0 / z, 0.0)
        refl = np.where(w > 0, scene.reflectance, 0.0)
        nrm = np.where((w > 0)[..., None], scene.normal, np.array([0.0, 0.0, -1.0]))
        return cls(w, refl, nrm, g.focal_px, g.f_number, g.pixel_pitch_um,
                   g.lens_transmission, g.fill_factor)

    @classmethod
    def from_arrays(cls, z_m, reflectance, focal_px: float, *, normal=None,
                    **optics) -> "Surface":
        """From plain arrays: depth along the axis ``z_m`` (H, W) [m] (inf/NaN/≤0: no
        surface), reflectance (scalar or (H, W)), ``focal_px``; normal defaults to
        (0, 0, −1) (fronto-parallel); ``optics``: f_number, pixel_pitch_um,
        lens_transmission, fill_factor."""
        z = np.asarray(z_m, dtype=np.float64)
        if z.ndim != 2:
            raise ConfigError(f"Surface.from_arrays: z_m has shape {z.shape}; expected (H, W)")
        if not (math.isfinite(focal_px) and focal_px > 0):
            raise ConfigError(f"Surface.from_arrays: focal_px = {focal_px!r}: must be > 0")
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(np.isfinite(z) & (z > 0), 1.0 / z, 0.0)
        refl = np.broadcast_to(np.asarray(reflectance, dtype=np.float64), z.shape).copy()
        if normal is None:
            normal = np.broadcast_to(np.array([0.0, 0.0, -1.0]), z.shape + (3,)).copy()
        return cls(w, refl, np.asarray(normal, dtype=np.float64), float(focal_px), **optics)

    @property
    def shape(self) -> tuple[int, int]:
        return self.inv_z.shape

    @property
    def center(self) -> tuple[float, float]:
        """Principal point (c_x, c_y) [px]."""
        h, w = self.shape
        return ((w - 1) / 2.0, (h - 1) / 2.0)


# --------------------------------------------------------------------------- other views

@dataclass(frozen=True, eq=False)
class OffsetView:
    """What a rectified viewpoint at baseline offset ``offset_m`` sees, per pixel of its
    grid (H, width): target column j sits at image coordinate ``j + col0``.

    ``owner`` (int32, −1 = hole) is the reference column of the surface cell seen, ``nbr``
    the neighbouring reference column it is interpolated with and ``t`` ∈ [0, ½] its weight;
    ``inv_z`` is 1/Z [1/m] of the surface seen (NaN in holes).
    """

    offset_m: float
    col0: int
    owner: np.ndarray
    nbr: np.ndarray
    t: np.ndarray
    inv_z: np.ndarray
    x_ref: np.ndarray

    @property
    def hole(self) -> np.ndarray:
        return self.owner < 0

    def sample(self, arr: np.ndarray) -> np.ndarray:
        """A per-reference-pixel array (H, W, ...) resampled onto this view's grid, linear
        along the row between ``owner`` and ``nbr``; NaN in holes."""
        a = np.asarray(arr, dtype=np.float64)
        h = self.owner.shape[0]
        rows = np.arange(h)[:, None]
        own = np.maximum(self.owner, 0)
        t = self.t.reshape(self.t.shape + (1,) * (a.ndim - 2))
        out = a[rows, own] * (1 - t) + a[rows, np.maximum(self.nbr, 0)] * t
        out[self.hole] = np.nan
        return out

    def sample_at(self, arr: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """:meth:`sample` at target pixels (rows, cols) only (NaN in holes)."""
        a = np.asarray(arr, dtype=np.float64)
        own = self.owner[rows, cols]
        t = self.t[rows, cols].reshape(own.shape + (1,) * (a.ndim - 2))
        out = a[rows, np.maximum(own, 0)] * (1 - t) + a[rows, np.maximum(
            self.nbr[rows, cols], 0)] * t
        out[own < 0] = np.nan
        return out


def _continuous(w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
    """True where two adjacent samples of 1/Z belong to one surface (both hit, relative
    depth step ≤ SURFACE_JUMP)."""
    both = (w_a > 0) & (w_b > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(w_a - w_b) / np.maximum(w_a, w_b)
    return both & (rel <= SURFACE_JUMP)


def view_from_offset(surface: Surface, offset_m: float, *, col0: int | None = None,
                     width: int | None = None, use_numba: bool = True) -> OffsetView:
    """Render the viewpoint at baseline offset ``offset_m`` [m] by inverting eq. (1) along
    each row with a z-buffer.

    Each reference pixel i is a surface cell [i−½, i+½] split into two half-segments; on
    each, 1/Z is linear (interpolated with the neighbour when it is on the same surface,
    else constant), so the target coordinate x − f·s/Z is linear too and the target pixel
    centres inside it are found exactly. Where several segments cover a target pixel the
    nearest (largest 1/Z) wins (occlusion); target pixels no segment covers are holes
    (surface the reference camera does not see). Default grid: the reference grid
    (``col0 = 0``, ``width = W``) for a camera; pass a wider one for a projector.
    ``use_numba=False`` runs the pure-NumPy reference (same result).
    """
    w = surface.inv_z
    h, wd = w.shape
    f = surface.focal_px
    s = float(offset_m)
    if col0 is None:
        col0 = 0
    if width is None:
        width = wd
    # neighbour continuity and inverse depth at the half-pixel cell edges
    cont_r = np.zeros((h, wd), bool)
    cont_r[:, :-1] = _continuous(w[:, :-1], w[:, 1:])
    cont_l = np.zeros((h, wd), bool)
    cont_l[:, 1:] = cont_r[:, :-1]
    w_r = w.copy()
    w_r[:, :-1] = np.where(cont_r[:, :-1], (w[:, :-1] + w[:, 1:]) / 2, w[:, :-1])
    w_l = w.copy()
    w_l[:, 1:] = np.where(cont_l[:, 1:], (w[:, 1:] + w[:, :-1]) / 2, w[:, 1:])
    if use_numba:
        from ._pattern_kernels import run

        owner, nbr, tt, inv, xref = run(w, w_l, w_r, cont_l, cont_r, f * s, col0, width)
        return OffsetView(s, int(col0), owner, nbr, tt, inv, xref)
    return _view_numpy(w, w_l, w_r, cont_l, cont_r, f, s, col0, width)


def _view_numpy(w, w_l, w_r, cont_l, cont_r, f, s, col0, width) -> OffsetView:
    """Pure-NumPy reference of the view kernel (half-segments expanded with np.repeat,
    z-buffer by np.maximum.at)."""
    h, wd = w.shape
    idx = np.flatnonzero(w.ravel() > 0)
    r1 = idx // wd
    i1 = idx - r1 * wd
    x1 = i1.astype(np.float64)
    w1 = w.ravel()[idx]
    r_ = np.concatenate([r1, r1])
    i_ = np.concatenate([i1, i1])
    xa = np.concatenate([x1 - 0.5, x1])
    xb = np.concatenate([x1, x1 + 0.5])
    wa = np.concatenate([w_l.ravel()[idx], w1])
    wb = np.concatenate([w1, w_r.ravel()[idx]])
    nb = np.concatenate([np.where(cont_l.ravel()[idx], i1 - 1, i1),
                         np.where(cont_r.ravel()[idx], i1 + 1, i1)])
    ta = xa - f * s * wa - col0  # target coordinates (grid index units)
    tb = xb - f * s * wb - col0
    ok = tb > ta  # fold-over (surface seen edge-on or from behind): not visible
    r_, i_, xa, xb, wa, wb, nb, ta, tb = (v[ok] for v in (r_, i_, xa, xb, wa, wb, nb, ta, tb))
    j0 = np.clip(np.ceil(ta), 0, width).astype(np.int64)
    j1 = np.clip(np.ceil(tb), 0, width).astype(np.int64)
    k = j1 - j0
    n = int(k.sum())
    owner = np.full((h, width), -1, np.int32)
    nbr = np.full((h, width), -1, np.int32)
    tt = np.zeros((h, width), np.float64)
    inv = np.full((h, width), np.nan)
    xref = np.full((h, width), np.nan)
    if n == 0:
        return OffsetView(s, int(col0), owner, nbr, tt, inv, xref)
    sid = np.repeat(np.arange(k.size), k)
    start = np.cumsum(k) - k
    j = j0[sid] + (np.arange(n) - start[sid])
    u = (j - ta[sid]) / (tb[sid] - ta[sid])  # fraction along the half-segment
    x = xa[sid] + u * (xb[sid] - xa[sid])
    wc = wa[sid] + u * (wb[sid] - wa[sid])
    flat = r_[sid] * width + j
    best = np.full(h * width, -np.inf)
    np.maximum.at(best, flat, wc)
    pick = np.flatnonzero(wc >= best[flat])  # nearest surface per target pixel (z-buffer)
    fl = flat[pick]
    own = i_[sid[pick]]
    nbp = nb[sid[pick]]
    owner.ravel()[fl] = own
    nbr.ravel()[fl] = nbp
    tt.ravel()[fl] = np.where(nbp == own, 0.0, np.abs(x[pick] - own))
    inv.ravel()[fl] = wc[pick]
    xref.ravel()[fl] = x[pick]
    return OffsetView(s, int(col0), owner, nbr, tt, inv, xref)


def pixel_texture(surface: Surface, view: OffsetView | None = None) -> np.ndarray:
    """Reflectance integrated over each pixel of a camera (the reference camera if ``view``
    is None, else the camera of ``view``), (H, W) float64, NaN in holes.

    The continuous texture on the surface is the linear interpolant of the reflectance
    samples ρ_k (one per reference pixel); a pixel integrates it over its footprint
    [x − ½, x + ½] (in reference columns, for a footprint the size of a reference pixel),
    which is the quadratic B-spline Σ_k ρ_k·β₂(x − k) with β₂(u) = ¾ − u² (|u| ≤ ½),
    ½(|u| − 3/2)² (½ ≤ |u| ≤ 3/2) (Unser 1999). Both cameras therefore sample one
    continuous function — the reference pixel sees the weights (⅛, ¾, ⅛) — so neither
    image is privileged. Rows are integrated the same way (weights ⅛, ¾, ⅛ down each
    column). Across a depth edge the neighbour on the other surface is replaced by the
    centre sample (no mixing of surfaces).

    Reference: Unser, M., "Splines: a perfect fit for signal and image processing", IEEE
    Signal Processing Magazine 16(6), 22–38 (1999).
    """
    w = surface.inv_z
    rho = surface.reflectance.astype(np.float64)
    # vertical integration (both cameras share rows)
    up = np.zeros_like(w, bool)
    up[1:] = _continuous(w[1:], w[:-1])
    dn = np.zeros_like(w, bool)
    dn[:-1] = _continuous(w[:-1], w[1:])
    r_up = np.where(up, np.roll(rho, 1, axis=0), rho)
    r_dn = np.where(dn, np.roll(rho, -1, axis=0), rho)
    rho = 0.75 * rho + 0.125 * (r_up + r_dn)
    cont_r = np.zeros_like(w, bool)
    cont_r[:, :-1] = _continuous(w[:, :-1], w[:, 1:])
    cont_l = np.zeros_like(w, bool)
    cont_l[:, 1:] = cont_r[:, :-1]
    rl = np.where(cont_l, np.roll(rho, 1, axis=1), rho)
    rr = np.where(cont_r, np.roll(rho, -1, axis=1), rho)
    if view is None:
        return 0.75 * rho + 0.125 * (rl + rr)
    rows = np.arange(w.shape[0])[:, None]
    own = np.maximum(view.owner, 0)
    u = np.nan_to_num(view.x_ref - own)
    out = ((0.75 - u**2) * rho[rows, own] + 0.5 * (0.5 - u) ** 2 * rl[rows, own]
           + 0.5 * (0.5 + u) ** 2 * rr[rows, own])
    out[view.hole] = np.nan
    return out


# --------------------------------------------------------------------------- dots

@dataclass(frozen=True, eq=False)
class DotHits:
    """Where the dots land. ``points_m`` (N, 3) in reference-camera coordinates [m];
    ``reflectance`` (N,); ``normal`` (N, 3); ``range_m`` (N,) projector → point [m];
    ``power_w`` Φ_dot [W] per dot; ``projector_x_m`` the projector position."""

    points_m: np.ndarray
    reflectance: np.ndarray
    normal: np.ndarray
    range_m: np.ndarray
    power_w: float
    projector_x_m: float

    @property
    def n(self) -> int:
        return int(self.points_m.shape[0])


def _bilinear(grid: np.ndarray, r0, c0, fr, fc):
    """Bilinear sample of (H, W[, k]) at integer corners (r0, c0) with fractions."""
    fr = fr.reshape(fr.shape + (1,) * (grid.ndim - 2))
    fc = fc.reshape(fc.shape + (1,) * (grid.ndim - 2))
    return ((grid[r0, c0] * (1 - fc) + grid[r0, c0 + 1] * fc) * (1 - fr)
            + (grid[r0 + 1, c0] * (1 - fc) + grid[r0 + 1, c0 + 1] * fc) * fr)


def dot_hits(pattern: DotPattern, surface: Surface, projector_x_m: float) -> DotHits:
    """Intersect the dot rays with the surface (see the module docstring).

    1/Z, ρ and n are interpolated bilinearly in the projector's view at the dot's projector
    pixel when the four neighbours lie on one surface, else taken from the nearest
    neighbour; dots that miss the field of the reference camera, fall in a hole of the
    projector's view (surface the reference camera does not see) or hit nothing are
    dropped.
    """
    p = float(projector_x_m)
    f = surface.focal_px
    cx, cy = surface.center
    h, wd = surface.shape
    # projector grid: wide enough for all shifts f·p/Z of the scene
    wmax = float(surface.inv_z.max()) if surface.inv_z.size else 0.0
    shift = f * p * wmax
    col0 = int(math.floor(min(0.0, -shift))) - 1
    width = int(math.ceil(max(wd - 1.0, wd - 1.0 - shift))) - col0 + 2
    view = view_from_offset(surface, p, col0=col0, width=width)
    t = pattern.tangents()
    xp = cx + f * t[:, 0] - col0
    yp = cy + f * t[:, 1]
    keep = (yp >= 0) & (yp <= h - 1) & (xp >= 0) & (xp <= width - 1)
    t, xp, yp = t[keep], xp[keep], yp[keep]
    r0 = np.minimum(np.floor(yp).astype(np.int64), h - 2) if h > 1 else np.zeros(len(yp), int)
    c0 = np.minimum(np.floor(xp).astype(np.int64), width - 2)
    fr = yp - r0
    fc = xp - c0
    inv = view.inv_z
    if h == 1:  # single row: no vertical neighbour
        inv = np.vstack([inv, inv])
    corners = np.stack([inv[r0, c0], inv[r0, c0 + 1], inv[r0 + 1, c0], inv[r0 + 1, c0 + 1]])
    with np.errstate(invalid="ignore"):
        smooth = np.all(np.isfinite(corners), axis=0) & (
            (corners.max(0) - corners.min(0)) <= SURFACE_JUMP * corners.max(0))
    rn = np.where(fr < 0.5, r0, r0 + 1)
    cn = np.where(fc < 0.5, c0, c0 + 1)
    if h == 1:
        r0 = np.zeros_like(r0)
        rn = np.zeros_like(rn)
    w_dot = np.where(smooth, _bilinear(inv, r0, c0, fr, fc), inv[rn, cn])
    # ρ and n with the same weights (nearest corner where not smooth)
    frr = np.where(smooth, fr, (rn - r0).astype(np.float64))
    fcc = np.where(smooth, fc, (cn - c0).astype(np.float64))
    r1 = np.minimum(r0 + 1, h - 1)
    rho, nrm = 0.0, 0.0
    for rr, cc, wgt in ((r0, c0, (1 - frr) * (1 - fcc)), (r0, c0 + 1, (1 - frr) * fcc),
                        (r1, c0, frr * (1 - fcc)), (r1, c0 + 1, frr * fcc)):
        rho = rho + wgt * np.nan_to_num(view.sample_at(surface.reflectance, rr, cc))
        nrm = nrm + wgt[:, None] * np.nan_to_num(view.sample_at(surface.normal, rr, cc))
    ok = np.isfinite(w_dot) & (w_dot > 0)
    t, w_dot, rho, nrm = t[ok], w_dot[ok], rho[ok], nrm[ok]
    z = 1.0 / w_dot
    pts = np.column_stack([p + t[:, 0] * z, t[:, 1] * z, z])
    nn = np.linalg.norm(nrm, axis=1, keepdims=True)
    nrm = nrm / np.where(nn > 0, nn, 1.0)
    rng_m = z * np.sqrt(1 + t[:, 0] ** 2 + t[:, 1] ** 2)
    return DotHits(pts, rho, nrm, rng_m, pattern.power_per_dot_w, p)


def _pixel_weights(centre: np.ndarray, sigma: np.ndarray, half: int):
    """Gaussian mass on pixels round(centre)−half … +half (pixel k covers [k−½, k+½]),
    normalised over the window. Returns (first pixel index (N,), weights (N, 2·half+1))."""
    k0 = np.rint(centre).astype(np.int64) - half
    edges = k0[:, None] + np.arange(2 * half + 2)[None, :] - 0.5
    c = erf((edges - centre[:, None]) / (math.sqrt(2) * sigma[:, None]))
    wgt = 0.5 * np.diff(c, axis=1)
    s = wgt.sum(axis=1, keepdims=True)
    return k0, wgt / np.where(s > 0, s, 1.0)


def dot_image(pattern: DotPattern, hits: DotHits, surface: Surface, *,
              camera_x_m: float = 0.0, view: OffsetView | None = None,
              max_half_px: int = 8) -> np.ndarray:
    """Photon rate [photons/s per pixel, on the photosensitive area, before QE] of the dots
    imaged by the camera at baseline offset ``camera_x_m``: eq. (3) per dot, spread by the
    pixel-integrated Gaussian of eq. (4).

    ``view`` is that camera's :func:`view_from_offset` on the reference grid (computed if
    omitted; not needed for the reference camera, whose z-buffer is ``surface.inv_z``);
    it decides visibility (a dot hidden behind a nearer surface is not imaged).
    """
    h, wd = surface.shape
    out = np.zeros((h, wd), np.float64)
    if hits.n == 0:
        return out
    f = surface.focal_px
    cx, cy = surface.center
    c = float(camera_x_m)
    pts = hits.points_m
    z = pts[:, 2]
    x = cx + f * (pts[:, 0] - c) / z
    y = cy + f * pts[:, 1] / z
    inside = (x > -0.5) & (x < wd - 0.5) & (y > -0.5) & (y < h - 0.5)
    if c == 0 and view is None:
        zbuf = surface.inv_z
    else:
        if view is None:
            view = view_from_offset(surface, c, col0=0, width=wd)
        zbuf = np.nan_to_num(view.inv_z, nan=0.0)
    xi = np.clip(np.rint(x), 0, wd - 1).astype(np.int64)
    yi = np.clip(np.rint(y), 0, h - 1).astype(np.int64)
    xo = np.clip(np.where(x >= xi, xi + 1, xi - 1), 0, wd - 1)
    wdot = 1.0 / z
    vis = np.zeros(len(z), bool)
    for xx in (xi, xo):
        vis |= np.abs(zbuf[yi, xx] - wdot) <= VISIBILITY_TOL * wdot
    m = inside & vis
    if not m.any():
        return out
    pts, x, y, z = pts[m], x[m], y[m], z[m]
    to_cam = np.array([c, 0.0, 0.0]) - pts
    r_c = np.linalg.norm(to_cam, axis=1)
    cos_e = np.clip(np.einsum("nk,nk->n", hits.normal[m], to_cam) / r_c, 0.0, 1.0)
    cos_a = z / r_c
    d_ap = surface.pixel_pitch_um * 1e-6 * f / surface.f_number  # pupil diameter f/N [m]
    phi_w = (surface.lens_transmission * hits.reflectance[m] * hits.power_w * cos_e
             * d_ap**2 / 4 * cos_a / r_c**2)
    photons = watts_to_photons_per_s(phi_w, pattern.wavelength_nm) * surface.fill_factor
    sig_spot = pattern.spot_diameter_m(hits.range_m[m]) / 4 * f / z
    sig_diff = AIRY_SIGMA_PER_LAMBDA_N * pattern.wavelength_nm * 1e-3 * surface.f_number \
        / surface.pixel_pitch_um
    sigma = np.sqrt(sig_spot**2 + sig_diff**2)
    half = int(min(max_half_px, math.ceil(3 * float(sigma.max())) + 1))
    kx, wx = _pixel_weights(x, sigma, half)
    ky, wy = _pixel_weights(y, sigma, half)
    n = 2 * half + 1
    xx = kx[:, None, None] + np.arange(n)[None, None, :]
    yy = ky[:, None, None] + np.arange(n)[None, :, None]
    val = photons[:, None, None] * wy[:, :, None] * wx[:, None, :]
    ok = (xx >= 0) & (xx < wd) & (yy >= 0) & (yy < h)
    xx, yy, val = np.broadcast_arrays(xx, yy, val)
    idx = (yy[ok] * wd + xx[ok])
    out += np.bincount(idx, weights=val[ok], minlength=h * wd).reshape(h, wd)
    return out
