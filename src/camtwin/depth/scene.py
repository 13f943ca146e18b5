"""Depth scenes: what each pixel ray of a rectified pinhole camera hits.

Geometry
--------
The camera is a pinhole at the origin looking along +z; image x runs right, image y runs
**down** (the OpenCV convention), so a pixel at column ``i``, row ``j`` looks along

    d = (u, v, f) / ‖(u, v, f)‖,   u = i − (W−1)/2,   v = j − (H−1)/2   [pixels],

with the focal length ``f = focal_length_mm / pixel_pitch_um · 1000`` in pixels and the
principal point at the image centre. A :class:`DepthScene` stores, per pixel ray,

* ``distance_m`` — radial distance r from the pinhole to the first surface hit [m]
  (``inf`` where nothing is hit); the surface point is ``P = r·d``;
* ``normal`` — unit surface normal at P in camera coordinates, oriented toward the camera
  (``n·d < 0``; NaN where nothing is hit);
* ``reflectance`` — Lambertian (diffuse) reflectance ρ ∈ [0, 1] at the illuminator's NIR
  wavelength;
* ``z_m`` — depth along the optical axis, ``z = r·d_z``.

Every builder intersects the rays with its surfaces analytically (ray–plane, ray–sphere,
ray–box slabs) in vectorised NumPy; the face relief (a height field) is solved by Newton's
method to 1e-12 m. Sub-pixel effects (flying pixels at depth edges, mixed returns) come
from building the scene on :meth:`PinholeGeometry.supersampled` geometry (k×k rays per
pixel, same field of view) and letting the pixel model average the k² returns;
:func:`bin_pixels` does the block average and a pixel model can call it on any per-ray
quantity (photon rates, complex phasors).

References
----------
Hartley & Zisserman, *Multiple View Geometry*, 2nd ed. (2004), §6.1 (pinhole camera).
Kirk & Arvo / Glassner, *An Introduction to Ray Tracing* (1989), ch. 2 (ray–sphere,
ray–plane, slab ray–box intersections).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from .._spec import FrozenSpec
from ..errors import ConfigError

__all__ = [
    "PinholeGeometry", "DepthScene", "plane", "slanted_plane", "step_edge", "box", "sphere",
    "corner", "face_relief", "scene_from_files", "bin_pixels",
]


class PinholeGeometry(FrozenSpec):
    """Rectified pinhole camera at the origin, +z forward, principal point at the centre.

    Fields (units in the names): ``width_px``, ``height_px`` (pixels, 1–20000),
    ``pixel_pitch_um`` (0, 100] µm, ``focal_length_mm`` (0, 1000] mm, ``f_number``
    [0.5, 64], ``lens_transmission`` (0, 1] (lens + NIR band-pass filter in band),
    ``fill_factor`` (0, 1] (photosensitive fraction of the pixel area, micro-lens
    included).

    Example
    -------
    >>> g = PinholeGeometry(width_px=640, height_px=480, pixel_pitch_um=5.0,
    ...                     focal_length_mm=3.0, f_number=1.2)
    >>> round(g.focal_px, 1), g.supersampled(3).width_px
    (600.0, 1920)
    """

    width_px: int = Field(ge=1, le=20000)
    height_px: int = Field(ge=1, le=20000)
    pixel_pitch_um: float = Field(gt=0, le=100)
    focal_length_mm: float = Field(gt=0, le=1000)
    f_number: float = Field(ge=0.5, le=64)
    lens_transmission: float = Field(0.9, gt=0, le=1)
    fill_factor: float = Field(1.0, gt=0, le=1)

    @property
    def focal_px(self) -> float:
        """Focal length in pixels, f = focal_length_mm·1000 / pixel_pitch_um."""
        return self.focal_length_mm * 1000.0 / self.pixel_pitch_um

    @property
    def shape(self) -> tuple[int, int]:
        """(height_px, width_px)."""
        return (self.height_px, self.width_px)

    @property
    def fov_deg(self) -> tuple[float, float]:
        """Full horizontal and vertical field of view [deg] to the outer pixel edges."""
        f = self.focal_px
        return (float(np.degrees(2 * np.arctan(self.width_px / (2 * f)))),
                float(np.degrees(2 * np.arctan(self.height_px / (2 * f)))))

    def pixel_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """(u, v): pixel-centre offsets from the principal point [pixels], shapes (W,), (H,)."""
        u = np.arange(self.width_px, dtype=np.float64) - (self.width_px - 1) / 2.0
        v = np.arange(self.height_px, dtype=np.float64) - (self.height_px - 1) / 2.0
        return u, v

    def ray_directions(self) -> np.ndarray:
        """Unit ray directions through the pixel centres, shape (H, W, 3), float64."""
        u, v = self.pixel_offsets()
        f = self.focal_px
        d = np.empty((self.height_px, self.width_px, 3), dtype=np.float64)
        d[..., 0] = u[None, :]
        d[..., 1] = v[:, None]
        d[..., 2] = f
        d /= np.linalg.norm(d, axis=-1, keepdims=True)
        return d

    def supersampled(self, k: int) -> "PinholeGeometry":
        """The same camera sampled k× finer: k·W × k·H rays, pitch/k, same focal length and
        so the same field of view. Each k×k block of rays tiles one original pixel, and the
        mean of the block's pixel centres is the original pixel centre."""
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= 64:
            raise ConfigError(f"supersampled: k = {k!r}: must be an integer in [1, 64]")
        k = int(k)
        return self.replace(width_px=self.width_px * k, height_px=self.height_px * k,
                            pixel_pitch_um=self.pixel_pitch_um / k)


def bin_pixels(a: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k×k block over the first two axes: (k·H, k·W, ...) → (H, W, ...).

    Used to average sub-pixel returns of a :meth:`PinholeGeometry.supersampled` scene.
    """
    a = np.asarray(a)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"bin_pixels: k = {k!r}: must be an integer >= 1")
    h, w = a.shape[:2]
    if h % k or w % k:
        raise ConfigError(f"bin_pixels: array shape {a.shape[:2]} is not divisible by k = {k}")
    return a.reshape(h // k, k, w // k, k, *a.shape[2:]).mean(axis=(1, 3))


@dataclass(frozen=True, eq=False)
class DepthScene:
    """Per-ray surface data on a geometry's pixel grid (arrays are read-only).

    Attributes
    ----------
    geometry : PinholeGeometry
    distance_m : (H, W) float64
        Radial distance camera → surface along the pixel ray [m]; ``inf`` = no return.
    normal : (H, W, 3) float64
        Unit surface normal, camera coordinates, pointing toward the camera; NaN where
        ``distance_m`` is inf.
    reflectance : (H, W) float64
        Lambertian reflectance at the NIR wavelength, in [0, 1].
    """

    geometry: PinholeGeometry
    distance_m: np.ndarray
    normal: np.ndarray
    reflectance: np.ndarray

    def __post_init__(self):
        g = self.geometry
        if not isinstance(g, PinholeGeometry):
            raise ConfigError(f"DepthScene.geometry: got {type(g).__name__}, "
                              "expected PinholeGeometry")
        shape = (g.height_px, g.width_px)
        dist = np.array(self.distance_m, dtype=np.float64)
        nrm = np.array(self.normal, dtype=np.float64)
        refl = np.array(self.reflectance, dtype=np.float64)
        if dist.shape != shape:
            raise ConfigError(f"DepthScene.distance_m: shape {dist.shape}, expected {shape} "
                              "(height_px, width_px)")
        if nrm.shape != shape + (3,):
            raise ConfigError(f"DepthScene.normal: shape {nrm.shape}, expected {shape + (3,)}")
        if refl.shape != shape:
            raise ConfigError(f"DepthScene.reflectance: shape {refl.shape}, expected {shape}")
        if np.isnan(dist).any() or (dist <= 0).any():
            low = np.nanmin(dist) if not np.isnan(dist).all() else np.nan
            raise ConfigError("DepthScene.distance_m: values must be > 0 m or inf (no return); "
                              f"got min {low:g}{' and NaN' if np.isnan(dist).any() else ''}")
        hit = np.isfinite(dist)
        if not np.isfinite(refl[hit]).all() or (refl[hit] < 0).any() or (refl[hit] > 1).any():
            raise ConfigError("DepthScene.reflectance: values must be in [0, 1]; "
                              f"got range {np.nanmin(refl)}..{np.nanmax(refl)}")
        nn2 = np.einsum("hwc,hwc->hw", nrm, nrm)[hit]
        if nn2.size and not np.abs(nn2 - 1.0).max() <= 2e-6:
            nn = np.sqrt(nn2)
            raise ConfigError("DepthScene.normal: normals must be unit vectors where "
                              f"distance_m is finite; got norms {nn.min():.3g}..{nn.max():.3g}")
        nrm[~hit] = np.nan
        for a in (dist, nrm, refl):
            a.setflags(write=False)
        object.__setattr__(self, "distance_m", dist)
        object.__setattr__(self, "normal", nrm)
        object.__setattr__(self, "reflectance", refl)

    @property
    def shape(self) -> tuple[int, int]:
        return self.distance_m.shape

    @property
    def z_m(self) -> np.ndarray:
        """Depth along the optical axis z = r·d_z [m] (inf where no return)."""
        return self.distance_m * self.geometry.ray_directions()[..., 2]

    def points_m(self) -> np.ndarray:
        """Surface points P = r·d in camera coordinates [m], (H, W, 3) (inf/NaN: no return)."""
        with np.errstate(invalid="ignore"):
            return self.distance_m[..., None] * self.geometry.ray_directions()

    def cos_incidence(self) -> np.ndarray:
        """cos of the angle between the surface normal and the direction back to the
        camera, −n·d, (H, W) (NaN where no return)."""
        return -np.einsum("hwc,hwc->hw", self.normal, self.geometry.ray_directions())


# --------------------------------------------------------------------------- helpers

def _check_positive(name: str, value, *, upper: float = 1e4) -> float:
    v = float(value)
    if not np.isfinite(v) or not 0 < v <= upper:
        raise ConfigError(f"{name} = {value!r}: must be in (0, {upper:g}] m")
    return v


def _reflectance_map(name: str, reflectance, shape) -> np.ndarray:
    r = np.asarray(reflectance, dtype=np.float64)
    if r.ndim == 0:
        r = np.full(shape, float(r))
    if r.shape != shape:
        raise ConfigError(f"{name}: shape {r.shape}, expected a scalar or {shape}")
    if not np.isfinite(r).all() or (r < 0).any() or (r > 1).any():
        raise ConfigError(f"{name} = {float(np.nanmin(r)):.3g}..{float(np.nanmax(r)):.3g}: "
                          "must be in [0, 1]")
    return r


def _plane_hit(d: np.ndarray, point, normal) -> np.ndarray:
    """Ray parameter t of the hit of rays d (from the origin) with the plane through
    ``point`` with ``normal`` (facing the camera); inf where the ray runs parallel, hits
    behind the camera, or would see the plane's back face.

        t = (n·p₀)/(n·d),  valid if t > 0 and n·d < 0.
    """
    n = np.asarray(normal, dtype=np.float64)
    nd = d @ n
    with np.errstate(divide="ignore", invalid="ignore"):
        t = float(n @ np.asarray(point, dtype=np.float64)) / nd
    return np.where((nd < -1e-12) & (t > 0), t, np.inf)


def _compose(geom: PinholeGeometry, layers) -> DepthScene:
    """Nearest hit over several (t, normal (H,W,3) or (3,), reflectance (H,W)) layers."""
    shape = geom.shape
    dist = np.full(shape, np.inf)
    nrm = np.full(shape + (3,), np.nan)
    refl = np.zeros(shape)
    for t, n, r in layers:
        closer = t < dist
        dist[closer] = t[closer]
        n = np.asarray(n, dtype=np.float64)
        nrm[closer] = n if n.ndim == 1 else n[closer]
        refl[closer] = r[closer]
    return DepthScene(geom, dist, nrm, refl)


# --------------------------------------------------------------------------- builders

def plane(geom: PinholeGeometry, distance_m: float, reflectance=0.5) -> DepthScene:
    """A fronto-parallel plane z = ``distance_m`` filling the view.

    Radial distance per ray r = D / d_z; normal (0, 0, −1).
    """
    return slanted_plane(geom, distance_m, 0.0, reflectance)


def slanted_plane(geom: PinholeGeometry, distance_m: float, tilt_deg: float,
                  reflectance=0.5) -> DepthScene:
    """A plane through (0, 0, D) rotated by ``tilt_deg`` about the vertical (y) axis.

    Plane: z = D + x·tan θ (positive θ puts the right half of the image farther away);
    normal n = (sin θ, 0, −cos θ). Rays that miss (|θ| + half the FOV ≥ 90°) get inf.
    ``tilt_deg`` in (−89, 89).
    """
    d0 = _check_positive("slanted_plane.distance_m", distance_m)
    tilt = float(tilt_deg)
    if not -89.0 < tilt < 89.0:
        raise ConfigError(f"slanted_plane.tilt_deg = {tilt_deg!r}: must be in (-89, 89) deg")
    th = np.radians(tilt)
    n = np.array([np.sin(th), 0.0, -np.cos(th)])
    d = geom.ray_directions()
    t = _plane_hit(d, (0.0, 0.0, d0), n)
    refl = _reflectance_map("slanted_plane.reflectance", reflectance, geom.shape)
    return _compose(geom, [(t, n, refl)])


def step_edge(geom: PinholeGeometry, near_m: float, far_m: float, reflectance=0.5,
              axis: Literal["x", "y"] = "x", *, edge_offset_m: float = 0.0,
              far_reflectance=None) -> DepthScene:
    """A depth step: a near half-plane at z = ``near_m`` in front of a far plane at
    z = ``far_m``.

    ``axis="x"``: the near half-plane covers x < ``edge_offset_m`` on the near plane (the
    left of the image; the edge is a vertical line); ``axis="y"``: it covers
    y < ``edge_offset_m`` (the top). With the default offset 0 and an even image size the
    edge falls between two pixel columns; move it (e.g. by half a pixel footprint,
    near_m·pitch/f/2) to make the edge cross pixels, which is where flying pixels come
    from in a supersampled scene.
    """
    zn = _check_positive("step_edge.near_m", near_m)
    zf = _check_positive("step_edge.far_m", far_m)
    if not zf > zn:
        raise ConfigError(f"step_edge.far_m = {far_m!r}: must be > near_m = {near_m!r}")
    if axis not in ("x", "y"):
        raise ConfigError(f"step_edge.axis = {axis!r}: must be 'x' or 'y'")
    d = geom.ray_directions()
    n = np.array([0.0, 0.0, -1.0])
    t_near = _plane_hit(d, (0, 0, zn), n)
    c = d[..., 0 if axis == "x" else 1]
    with np.errstate(invalid="ignore"):
        t_near = np.where(t_near * c < float(edge_offset_m), t_near, np.inf)
    t_far = _plane_hit(d, (0, 0, zf), n)
    r_near = _reflectance_map("step_edge.reflectance", reflectance, geom.shape)
    r_far = r_near if far_reflectance is None else _reflectance_map(
        "step_edge.far_reflectance", far_reflectance, geom.shape)
    return _compose(geom, [(t_far, n, r_far), (t_near, n, r_near)])


def _wall(geom, d, wall_distance_m, wall_reflectance, name):
    zw = _check_positive(f"{name}.wall_distance_m", wall_distance_m)
    n = np.array([0.0, 0.0, -1.0])
    return zw, (_plane_hit(d, (0, 0, zw), n), n,
                _reflectance_map(f"{name}.wall_reflectance", wall_reflectance, geom.shape))


def box(geom: PinholeGeometry, distance_m: float, size_m=(0.3, 0.3, 0.3), reflectance=0.5,
        *, wall_distance_m: float | None = None, wall_reflectance=0.5,
        center_xy_m=(0.0, 0.0)) -> DepthScene:
    """An axis-aligned box whose front face is at z = ``distance_m``, in front of a back
    wall at z = ``wall_distance_m`` (default: ``distance_m + depth + 0.5 m``).

    ``size_m`` = (width x, height y, depth z) [m]; ``center_xy_m`` = lateral centre.
    Slab intersection: for each axis a, t_a± = (b_a± )/d_a; the entry parameter is
    t_in = max_a min(t_a−, t_a+), the exit t_out = min_a max(...); the ray hits if
    t_in ≤ t_out and t_out > 0; the normal is −sign(d_a)·e_a of the axis that set t_in.
    """
    z0 = _check_positive("box.distance_m", distance_m)
    size = np.asarray(size_m, dtype=np.float64)
    if size.shape != (3,) or not np.all(np.isfinite(size)) or (size <= 0).any():
        raise ConfigError(f"box.size_m = {size_m!r}: must be three lengths > 0 m (w, h, depth)")
    cx, cy = (float(v) for v in center_xy_m)
    lo = np.array([cx - size[0] / 2, cy - size[1] / 2, z0])
    hi = np.array([cx + size[0] / 2, cy + size[1] / 2, z0 + size[2]])
    zw = z0 + size[2] + 0.5 if wall_distance_m is None else wall_distance_m
    if zw <= z0 + size[2]:
        raise ConfigError(f"box.wall_distance_m = {wall_distance_m!r}: must be > "
                          f"distance_m + depth = {z0 + size[2]:g} m")
    d = geom.ray_directions()
    t_in = np.full(geom.shape, -np.inf)
    t_out = np.full(geom.shape, np.inf)
    axis_in = np.zeros(geom.shape, dtype=np.int8)
    for a in range(3):
        da = d[..., a]
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = lo[a] / da, hi[a] / da
        tmin, tmax = np.fmin(t1, t2), np.fmax(t1, t2)
        par = da == 0  # parallel to the slab: inside it for all t iff lo_a < 0 < hi_a
        if par.any():
            inside = lo[a] < 0 < hi[a]
            tmin[par] = -np.inf if inside else np.inf
            tmax[par] = np.inf if inside else -np.inf
        later = tmin > t_in
        t_in[later] = tmin[later]
        axis_in[later] = a
        np.minimum(t_out, tmax, out=t_out)
    hit = (t_in <= t_out) & (t_in > 0)
    t_box = np.where(hit, t_in, np.inf)
    n_box = np.zeros(d.shape)
    for a in range(3):
        m = axis_in == a
        n_box[m, a] = -np.sign(d[m, a])
    _, wall = _wall(geom, d, zw, wall_reflectance, "box")
    refl = _reflectance_map("box.reflectance", reflectance, geom.shape)
    return _compose(geom, [wall, (t_box, n_box, refl)])


def sphere(geom: PinholeGeometry, distance_m: float, radius_m: float = 0.15,
           reflectance=0.5, *, wall_distance_m: float | None = None, wall_reflectance=0.5,
           center_xy_m=(0.0, 0.0)) -> DepthScene:
    """A sphere of ``radius_m`` centred at (cx, cy, ``distance_m``) in front of a back wall
    at z = ``wall_distance_m`` (default ``distance_m + radius_m + 0.5``).

    Ray–sphere: with b = d·c, the near root t = b − √(b² − (|c|² − R²)) (hit if the
    discriminant ≥ 0 and t > 0); normal n = (t·d − c)/R.
    """
    zc = _check_positive("sphere.distance_m", distance_m)
    rad = _check_positive("sphere.radius_m", radius_m)
    c = np.array([float(center_xy_m[0]), float(center_xy_m[1]), zc])
    if np.linalg.norm(c) <= rad:
        raise ConfigError(f"sphere.radius_m = {radius_m!r}: the camera would be inside the "
                          f"sphere (centre at {np.linalg.norm(c):.3g} m)")
    zw = zc + rad + 0.5 if wall_distance_m is None else wall_distance_m
    if zw <= zc + rad:
        raise ConfigError(f"sphere.wall_distance_m = {wall_distance_m!r}: must be > "
                          f"distance_m + radius_m = {zc + rad:g} m")
    d = geom.ray_directions()
    b = d @ c
    disc = b * b - (c @ c - rad * rad)
    with np.errstate(invalid="ignore"):
        t = b - np.sqrt(disc)
    t_s = np.where((disc >= 0) & (t > 0), t, np.inf)
    with np.errstate(invalid="ignore"):
        n_s = (np.where(np.isfinite(t_s), t_s, 0.0)[..., None] * d - c) / rad
    _, wall = _wall(geom, d, zw, wall_reflectance, "sphere")
    refl = _reflectance_map("sphere.reflectance", reflectance, geom.shape)
    return _compose(geom, [wall, (t_s, n_s, refl)])


def corner(geom: PinholeGeometry, distance_m: float, opening_deg: float = 90.0,
           reflectance=0.5) -> DepthScene:
    """A concave corner (the inside of a room corner) for multipath: two planes meeting
    along the vertical line x = 0, z = ``distance_m`` (the apex, the farthest line), with
    an opening angle φ = ``opening_deg`` between them, symmetric about the optical axis.

    Left wall (x ≤ 0): through the apex, normal n_L = (cos φ/2, 0, −sin φ/2);
    right wall (x ≥ 0): n_R = (−cos φ/2, 0, −sin φ/2). φ = 180° is a flat plane.
    ``opening_deg`` in [30, 180]. A wall point at lateral x lies at z = D − |x|·cot(φ/2).
    """
    d0 = _check_positive("corner.distance_m", distance_m)
    phi = float(opening_deg)
    if not 30.0 <= phi <= 180.0:
        raise ConfigError(f"corner.opening_deg = {opening_deg!r}: must be in [30, 180] deg")
    h = np.radians(phi) / 2
    d = geom.ray_directions()
    apex = (0.0, 0.0, d0)
    n_l = np.array([np.cos(h), 0.0, -np.sin(h)])
    n_r = np.array([-np.cos(h), 0.0, -np.sin(h)])
    t_l = _plane_hit(d, apex, n_l)
    t_r = _plane_hit(d, apex, n_r)
    with np.errstate(invalid="ignore"):
        t_l = np.where(t_l * d[..., 0] <= 0, t_l, np.inf)
        t_r = np.where(t_r * d[..., 0] >= 0, t_r, np.inf)
    refl = _reflectance_map("corner.reflectance", reflectance, geom.shape)
    return _compose(geom, [(t_l, n_l, refl), (t_r, n_r, refl)])


def _face_height(x, y, width_m):
    """Face-like height field h(x, y) [m] toward the camera and its gradient (h_x, h_y).

    Sum of smooth terms, scaled by s = width_m / 0.15:
    * face: 0.045·s·exp(−((x/a)² + (y/b)²)²), a = 0.075 s, b = 0.10 s (super-Gaussian oval);
    * nose: +0.020·s·exp(−x²/(2σx²) − (y − 0.01 s)²/(2σy²)), σx = 0.008 s, σy = 0.02 s
      (the nose stands 2 cm proud of the cheeks for the default 15 cm face);
    * eye sockets: −0.008·s·exp(−((x ∓ 0.032 s)² + (y + 0.025 s)²)/(2·(0.012 s)²)).
    """
    s = width_m / 0.15
    terms = [  # (amplitude, x0, y0, sx, sy, kind)
        (0.020 * s, 0.0, 0.01 * s, 0.008 * s, 0.02 * s, "g"),
        (-0.008 * s, 0.032 * s, -0.025 * s, 0.012 * s, 0.012 * s, "g"),
        (-0.008 * s, -0.032 * s, -0.025 * s, 0.012 * s, 0.012 * s, "g"),
    ]
    a, b = 0.075 * s, 0.10 * s
    q = (x / a) ** 2 + (y / b) ** 2
    e = 0.045 * s * np.exp(-q * q)
    h = e.copy()
    hx = e * (-2 * q) * (2 * x / a**2)
    hy = e * (-2 * q) * (2 * y / b**2)
    for amp, x0, y0, sx, sy, _ in terms:
        g = amp * np.exp(-((x - x0) ** 2) / (2 * sx**2) - ((y - y0) ** 2) / (2 * sy**2))
        h += g
        hx += g * (-(x - x0) / sx**2)
        hy += g * (-(y - y0) / sy**2)
    return h, hx, hy


def face_relief(geom: PinholeGeometry, distance_m: float, reflectance=0.5, *,
                face_width_m: float = 0.15) -> DepthScene:
    """A smooth face-like relief on a background plane: the surface z = D − h(x, y), with
    h from :func:`_face_height` (≈4.5 cm face oval, nose 2 cm proud of it, eye sockets
    0.8 cm deep, for the default 15 cm face width), centred on the optical axis.

    Each ray is solved for g(t) = t·d_z + h(t·d_x, t·d_y) − D = 0 by Newton's method from
    t₀ = D/d_z (g′ = d_z + h_x d_x + h_y d_y), to |g| < 1e-12 m. Normal
    n = −(h_x, h_y, 1)/‖(h_x, h_y, 1)‖ (toward the camera).
    """
    d0 = _check_positive("face_relief.distance_m", distance_m)
    w = float(face_width_m)
    if not 0.02 <= w <= 1.0:
        raise ConfigError(f"face_relief.face_width_m = {face_width_m!r}: must be in [0.02, 1] m")
    if d0 <= 0.1 * w / 0.15 + 0.01:
        raise ConfigError(f"face_relief.distance_m = {distance_m!r}: must be > the relief "
                          f"height + 1 cm ({0.1 * w / 0.15 + 0.01:.3g} m)")
    d = geom.ray_directions()
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    t = d0 / dz
    for _ in range(50):
        h, hx, hy = _face_height(t * dx, t * dy, w)
        g = t * dz + h - d0
        gp = dz + hx * dx + hy * dy
        step = g / gp
        t = t - step
        if np.max(np.abs(g)) < 1e-12:
            break
    h, hx, hy = _face_height(t * dx, t * dy, w)
    n = -np.stack([hx, hy, np.ones_like(hx)], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    refl = _reflectance_map("face_relief.reflectance", reflectance, geom.shape)
    return DepthScene(geom, t, n, refl)


# --------------------------------------------------------------------------- from files

def _file_shape(p: Path, suffix: str) -> tuple | None:
    """The array shape an image file's header declares (.npy header, the TIFF's first
    series, the PNG's size with its bands), read without decoding; None if the header
    does not say (the reader then finds out)."""
    if suffix == ".npy":
        with open(p, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            if major not in (1, 2):     # (a version-3 header: np.load finds out)
                return None
            read = (np.lib.format.read_array_header_1_0 if major == 1
                    else np.lib.format.read_array_header_2_0)
            shape, _, _ = read(f)
        return tuple(shape)
    if suffix in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(p) as tf:
            return tuple(tf.series[0].shape) if tf.series else None
    from PIL import Image

    with Image.open(p) as im:
        bands = len(im.getbands())
        return (im.height, im.width) + ((bands,) if bands > 1 else ())


def _read_image(path, what: str, shape: tuple | None = None) -> np.ndarray:
    """A single-channel 2-D image from .npy, .tif/.tiff or .png; with ``shape`` (H, W),
    one whose header declares another size is refused before it is read (no allocation
    for a file the wrong size, however large)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what}: file not found: {p}")
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".tif", ".tiff", ".png"):
        raise ConfigError(f"{what}: {p.name}: unsupported file type {suffix!r}; "
                          "valid: .npy, .tif/.tiff, .png")
    try:
        declared = _file_shape(p, suffix) if shape is not None else None
    except Exception as exc:  # corrupt header: one line, never a traceback
        raise ConfigError(f"{what}: cannot read {p}: {exc}".splitlines()[0]) from None
    if declared is not None:
        hw = declared[:-1] if len(declared) == 3 and declared[-1] == 1 else declared
        if len(hw) == 2 and tuple(hw) != tuple(shape):
            raise ConfigError(f"{what}: image is {hw[1]}×{hw[0]} px, geometry is "
                              f"{shape[1]}×{shape[0]} px")
    try:
        if suffix == ".npy":
            a = np.load(p, allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            a = tifffile.imread(p)
        else:
            from PIL import Image

            with Image.open(p) as im:
                a = np.array(im)
    except Exception as exc:  # corrupt file: one line, never a traceback
        raise ConfigError(f"{what}: cannot read {p}: {exc}".splitlines()[0]) from None
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ConfigError(f"{what}: {p.name} has shape {a.shape}; expected a single-channel "
                          "2-D image")
    if a.dtype.kind not in "uif" or a.dtype == np.bool_:
        raise ConfigError(f"{what}: {p.name} has dtype {a.dtype}; expected numbers")
    return a


def scene_from_files(depth_path, reflectance_path, geom: PinholeGeometry, *,
                     unit: Literal["m", "mm"] | None = None,
                     depth_type: Literal["z", "radial"] = "z") -> DepthScene:
    """A scene from a depth image and a reflectance image.

    Parameters
    ----------
    depth_path : .npy, .tif/.tiff or 16-bit .png, (H, W) matching ``geom``.
        Depth in metres or millimetres (``unit``; default: integer images are mm, float
        images are m). ``depth_type="z"`` (the usual convention of depth cameras: distance
        along the optical axis) or ``"radial"`` (along the pixel ray). 0, NaN or inf = no
        return.
    reflectance_path : an image file of the same shape, or a number in [0, 1].
        Float images are reflectance in [0, 1]; 8/16-bit integer images are scaled by
        255/65535.
    geom : the camera the depth image was taken with (its size must match).

    Normals come from the depth image: with P(i, j) the 3-D points, n ∝ ∂P/∂j × ∂P/∂i
    (central differences, one-sided at borders and next to invalid pixels), oriented toward
    the camera; a pixel without a valid neighbour on both axes gets the normal −d (facing
    the camera).
    """
    shape = geom.shape
    raw = _read_image(depth_path, "scene_from_files.depth_path", shape)
    depth = raw.astype(np.float64)
    if depth.shape != shape:
        raise ConfigError(f"scene_from_files.depth_path: image is {depth.shape[1]}×"
                          f"{depth.shape[0]} px, geometry is {shape[1]}×{shape[0]} px")
    if unit is None:
        unit = "mm" if raw.dtype.kind in "ui" else "m"
    if unit not in ("m", "mm"):
        raise ConfigError(f"scene_from_files.unit = {unit!r}: must be 'm' or 'mm'")
    if depth_type not in ("z", "radial"):
        raise ConfigError(f"scene_from_files.depth_type = {depth_type!r}: must be 'z' or "
                          "'radial'")
    if (depth[np.isfinite(depth)] < 0).any():
        raise ConfigError("scene_from_files.depth_path: negative depth values; depth must be "
                          ">= 0 (0 = no return)")
    scale = 1e-3 if unit == "mm" else 1.0
    valid = np.isfinite(depth) & (depth > 0)
    d = geom.ray_directions()
    r = np.where(valid, depth * scale, np.inf)
    if depth_type == "z":
        r = r / d[..., 2]
    if isinstance(reflectance_path, (int, float, np.floating, np.integer)):
        refl = _reflectance_map("scene_from_files.reflectance", reflectance_path, shape)
    else:
        ra = _read_image(reflectance_path, "scene_from_files.reflectance_path", shape)
        if ra.shape != shape:
            raise ConfigError(f"scene_from_files.reflectance_path: image is {ra.shape[1]}×"
                              f"{ra.shape[0]} px, geometry is {shape[1]}×{shape[0]} px")
        if ra.dtype.kind in "ui":
            ra = ra.astype(np.float64) / (255.0 if ra.dtype.itemsize == 1 else 65535.0)
        refl = _reflectance_map("scene_from_files.reflectance_path", ra.astype(np.float64),
                                shape)
    pts = np.where(valid[..., None], r[..., None] * d, np.nan)
    n = np.cross(_grad(pts, valid, axis=1), _grad(pts, valid, axis=0))
    # orient toward the camera: n·d < 0
    flip = np.einsum("hwc,hwc->hw", n, d) > 0
    n = np.where(flip[..., None], -n, n)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    good = np.isfinite(norm[..., 0]) & (norm[..., 0] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(good[..., None], n / norm, -d)
    return DepthScene(geom, r, n, refl)


def _grad(p: np.ndarray, valid: np.ndarray, axis: int) -> np.ndarray:
    """Finite difference of points p (H, W, 3) along ``axis`` using only valid samples:
    where both neighbours are valid, the central difference, unless the two one-sided
    differences disagree by more than 2× in length (a depth step: the pixel belongs to one
    surface, so the shorter one-sided difference, which stays on it); else one-sided, else
    NaN."""
    fwd = np.full(p.shape, np.nan)
    bwd = np.full(p.shape, np.nan)
    sl_a = [slice(None)] * 3
    sl_b = [slice(None)] * 3
    sl_a[axis] = slice(0, -1)
    sl_b[axis] = slice(1, None)
    diff = p[tuple(sl_b)] - p[tuple(sl_a)]  # p[k+1] − p[k]
    fwd[tuple(sl_a)] = diff
    bwd[tuple(sl_b)] = diff
    both = np.isfinite(fwd[..., 0]) & np.isfinite(bwd[..., 0])
    with np.errstate(invalid="ignore"):
        lf = np.linalg.norm(fwd, axis=-1)
        lb = np.linalg.norm(bwd, axis=-1)
        step = both & ((lf > 2 * lb) | (lb > 2 * lf))
    short = np.where((lf <= lb)[..., None], fwd, bwd)
    g = np.where(both[..., None], np.where(step[..., None], short, (fwd + bwd) / 2),
                 np.where(np.isfinite(fwd), fwd, bwd))
    return g
