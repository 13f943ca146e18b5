"""A depth module as one object, and its capture: catalog entry → specs → scene → frames.

:class:`DepthModule` joins what :mod:`camtwin.depth.catalog` builds from a module entry —
the camera (:class:`~camtwin.depth.scene.PinholeGeometry`), the pixel (iToF
:class:`~camtwin.depth.itof.ITofSpec`, SPAD dToF :class:`~camtwin.depth.dtof.DTofSpec` or
active stereo :class:`~camtwin.depth.stereo.StereoSpec`) and the illuminator — with the
module's band-pass filter, frame rate and power. :func:`capture_depth` images a
:class:`~camtwin.depth.scene.DepthScene` with it: photon rates
(:func:`~camtwin.depth.radiometry.photon_rates`: the illuminator's light after one
Lambertian bounce, sunlight in the filter band) → the pixel model → N depth frames with the
true distance on the same grid.

Multipath (:func:`interreflection`): the second return of a pixel is the light of the
illuminator that reached another scene point Q first and was scattered by Q onto the
pixel's own point P (one diffuse interreflection; every pair of scene points is assumed
mutually visible where both face each other, true of a concave scene such as a corner):

    E_ind(P) = Σ_Q  ρ_Q E_dir(Q)/π · cos θ_Q cos θ_P / |PQ|² · A_Q          [W/m²]
    α(P)     = E_ind(P) / E_dir(P),     ℓ(P) = Σ_Q w_Q (|Q| + |QP| − |P|) / Σ_Q w_Q

with E_dir the illuminator's irradiance (I(θ) cos θ_i / d²), A_Q the area of Q's sample
(d² Ω_pix / cos θ_view), w_Q the terms of the sum, Q running over the scene's surfaces on
a coarse grid over the whole illuminated field (not only the camera's crop); α is the
second return's amplitude relative to the first and ℓ its extra round-trip path (camera
and illuminator at the origin), the "two-path" model of Fuchs (ICPR 2010, "Multipath interference compensation in
time-of-flight camera images") with the path spread collapsed to its mean. The iToF pixel
takes them as ``second_path_amplitude`` / ``second_path_m``; dToF and stereo ignore them
(a second peak well behind the first does not move a dToF peak; stereo matches texture).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError, unknown_name
from .catalog import (build_depth_specs, depth_catalog_names, depth_module_entry,
                      depth_sensor_entry, illuminator_entry)
from .scene import DepthScene, PinholeGeometry, bin_pixels

Kind = Literal["itof", "dtof", "stereo"]

#: Built-in depth scenes of :func:`make_scene` / ``camtwin depth --scene``.
SCENES = ("plane", "slanted_plane", "step_edge", "box", "sphere", "corner", "face")

#: Wall-plug (electrical → optical) efficiency of a VCSEL array when the catalog gives no
#: electrical power: 30 % (estimated; commercial 940 nm VCSEL arrays reach 30–40 % PCE at
#: their operating current, e.g. Lumentum / ams OSRAM flood-illuminator datasheets).
VCSEL_WALL_PLUG_EFFICIENCY = 0.30
#: The same for an IR LED (≈ 20 %; estimated, IR LED radiant efficiency at rated current).
LED_WALL_PLUG_EFFICIENCY = 0.20


@dataclass(frozen=True)
class DepthModule:
    """A depth camera module: camera geometry, pixel model, illuminator and module data.

    ``power_mw`` is the catalog's module/sensor power figure [mW] (None when unpublished);
    ``frame_rate_fps`` the module's depth frame rate; ``filter_bandwidth_nm`` the width of
    its band-pass filter [nm] (None: the illuminator's own band)."""

    name: str
    kind: Kind
    geometry: PinholeGeometry
    pixel: Any
    illuminator: Any
    filter_bandwidth_nm: float | None = None
    frame_rate_fps: float | None = None
    power_mw: float | None = None
    sensor_power_mw: float | None = None
    illuminator_electrical_w: float | None = None
    entry: Any = field(default=None, repr=False, compare=False)

    def cropped(self, width_px: int, height_px: int) -> "DepthModule":
        """The same module with a centred crop of the pixel array (same focal length and
        pixel: the centre of the field, where datasheets quote depth noise)."""
        g = self.geometry
        w, h = min(int(width_px), g.width_px), min(int(height_px), g.height_px)
        return replace(self, geometry=g.model_copy(update={"width_px": w, "height_px": h}))


def depth_module_names() -> list[str]:
    """Names of the catalog's depth modules."""
    return depth_catalog_names("modules")


def _value(entry, name):
    fig = getattr(entry, name, None)
    return None if fig is None else fig.value


def load_depth_module(ref) -> DepthModule:
    """A depth module from a catalog name (``NAME`` or ``catalog:NAME``), a module YAML
    (a copy of a catalog module entry, naming catalog sensors and illuminators), or a
    :class:`DepthModule` (returned as is)."""
    if isinstance(ref, DepthModule):
        return ref
    text = str(ref)
    name = text.split(":", 1)[1] if text.startswith("catalog:") else text
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"depth module file {text!r} not found")
        from .catalog import DepthModuleEntry

        entry = DepthModuleEntry.from_yaml(path)
    else:
        names = depth_module_names()
        if name not in names:
            raise unknown_name("depth module", name, names)
        entry = depth_module_entry(name)
    specs = build_depth_specs(entry)
    try:
        sensor = depth_sensor_entry(entry.sensor)
    except ConfigError:      # a stereo module's cameras are 2D catalog sensors
        sensor = None
    ill_w = None
    if entry.illuminator is not None:
        ill = illuminator_entry(entry.illuminator)
        ill_w = _value(ill, "electrical_power_w")
        if ill_w is not None:
            ill_w *= int(getattr(entry, "n_illuminators", 1) or 1)
    return DepthModule(
        name=entry.name, kind=entry.kind, geometry=specs["geometry"], pixel=specs["pixel"],
        illuminator=specs["illuminator"], filter_bandwidth_nm=_value(entry, "filter_bandwidth_nm"),
        frame_rate_fps=_value(entry, "frame_rate_fps"), power_mw=_value(entry, "power_mw"),
        sensor_power_mw=_value(sensor, "power_mw"), illuminator_electrical_w=ill_w, entry=entry)


# --------------------------------------------------------------------------------------
# scenes
# --------------------------------------------------------------------------------------
def make_scene(geometry: PinholeGeometry, name: str = "plane", *, distance_m: float = 1.0,
               reflectance: float = 0.5, far_m: float | None = None,
               opening_deg: float = 90.0, tilt_deg: float = 30.0,
               supersample: int = 1) -> DepthScene:
    """A built-in scene (:data:`SCENES`) for ``geometry``: ``distance_m`` is the plane's /
    object's distance (the near side of a step edge, the corner's apex), ``far_m`` the
    back wall / far side (default 1.5 × distance). A step edge runs 0.3 of a sensor pixel
    off the centre (``geometry`` being the sensor's, ``supersample``× finer), so that one
    column of pixels sees both sides."""
    from . import scene as S

    far = float(far_m) if far_m is not None else 1.5 * float(distance_m)
    if name == "plane":
        return S.plane(geometry, distance_m, reflectance)
    if name == "slanted_plane":
        return S.slanted_plane(geometry, distance_m, tilt_deg, reflectance)
    if name == "step_edge":   # the edge 0.3 px off the centre: it crosses a pixel
        pitch_mm = supersample * geometry.pixel_pitch_um * 1e-3
        offset = 0.3 * pitch_mm / geometry.focal_length_mm * distance_m
        return S.step_edge(geometry, distance_m, far, reflectance, edge_offset_m=offset)
    if name == "box":
        return S.box(geometry, distance_m, reflectance=reflectance, wall_distance_m=far)
    if name == "sphere":
        return S.sphere(geometry, distance_m, reflectance=reflectance, wall_distance_m=far)
    if name == "corner":
        return S.corner(geometry, distance_m, opening_deg, reflectance)
    if name == "face":
        return S.face_relief(geometry, distance_m, reflectance)
    raise unknown_name("depth scene", name, SCENES)


# --------------------------------------------------------------------------------------
# multipath: one diffuse interreflection
# --------------------------------------------------------------------------------------
def _direct_irradiance(rays: np.ndarray, distance_m: np.ndarray, normal: np.ndarray,
                       illuminator) -> np.ndarray:
    """E_dir = I(θ) cos θ_i / d² [W/m²] at each sample (illuminator at the origin; 0 where
    there is no surface or it faces away)."""
    hit = np.isfinite(distance_m)
    r = np.where(hit, distance_m, 1.0)
    v = r[..., None] * rays
    cos_i = np.clip(-np.einsum("...c,...c->...", np.where(hit[..., None], normal, 0.0), v) / r,
                    0.0, None)
    return np.where(hit, illuminator.radiant_intensity_w_sr(v) * cos_i / r ** 2, 0.0)


def coverage_geometry(camera: PinholeGeometry, illuminator, samples: int = 64
                      ) -> PinholeGeometry:
    """A coarse pinhole grid (≈ ``samples`` across) over the larger of the camera's field
    and the illuminator's (a Gaussian beam: twice its FWHM; at most 160°): where the light
    that can reach a pixel by one interreflection comes from."""
    fh, fv = camera.fov_deg
    gauss = 2.0 if illuminator.profile == "gaussian" else 1.0
    fh = min(max(fh, gauss * illuminator.fov_h_deg), 160.0)
    fv = min(max(fv, gauss * illuminator.fov_v_deg), 160.0)
    f_mm = 1.0
    th, tv = math.tan(math.radians(fh / 2)), math.tan(math.radians(fv / 2))
    pitch_mm = 2 * f_mm * max(th, tv) / samples
    return PinholeGeometry(width_px=max(2, int(round(2 * f_mm * th / pitch_mm))),
                           height_px=max(2, int(round(2 * f_mm * tv / pitch_mm))),
                           pixel_pitch_um=pitch_mm * 1e3, focal_length_mm=f_mm,
                           f_number=camera.f_number)


def _sources(src: DepthScene, illuminator, k: int):
    """Q samples of ``src`` on a k× coarser grid (blocks whose pixels all see a surface):
    points Q, unit normals, ρ_Q·E_dir(Q)/π·A_Q [W/sr] and |Q|."""
    g = src.geometry
    rays = g.ray_directions()
    hit = np.isfinite(src.distance_m)
    e = _direct_irradiance(rays, src.distance_m, src.normal, illuminator)
    pts = np.where(hit, src.distance_m, 0.0)[..., None] * rays
    h, w = g.height_px // k, g.width_px // k
    cut = (slice(0, h * k), slice(0, w * k))

    def coarse(a):
        a = a[cut]
        if a.ndim == 3:
            return np.stack([bin_pixels(a[..., i], k) for i in range(a.shape[-1])], -1)
        return bin_pixels(a, k)

    ok = coarse(hit.astype(float)) > 0.999
    Q = coarse(pts)[ok]
    nq = coarse(np.where(hit[..., None], src.normal, 0.0))[ok]
    nq /= np.maximum(np.linalg.norm(nq, axis=-1, keepdims=True), 1e-12)
    rho = coarse(np.where(hit, src.reflectance, 0.0))[ok]
    eq = coarse(np.where(hit, e, 0.0))[ok]
    dq = np.linalg.norm(Q, axis=-1)
    # sample area A_Q = d² Ω / cos θ_view, Ω = (k·pitch/f)² (the coarse pixel's solid angle)
    omega = (k * g.pixel_pitch_um * 1e-3 / g.focal_length_mm) ** 2
    cos_view = np.abs(np.einsum("qi,qi->q", nq, -Q / dq[:, None]))
    area = dq ** 2 * omega / np.maximum(cos_view, 0.05)
    return Q, nq, rho * eq / np.pi * area, dq


def _receive(P, n_p, e_p, Q, nq, lq, dq):
    """(α, ℓ) at receiving points P (N, 3) with normals n_p and E_dir(P) e_p (N,)."""
    a_out = np.zeros(len(P))
    l_out = np.zeros(len(P))
    chunk = max(1, int(2e6 // max(len(Q), 1)))
    for s in range(0, len(P), chunk):
        p = P[s:s + chunk]
        v = Q[None, :, :] - p[:, None, :]                   # P → Q
        r2 = np.einsum("pqi,pqi->pq", v, v)
        r = np.sqrt(r2)
        u = v / np.maximum(r, 1e-9)[..., None]
        cos_p = np.einsum("pqi,pi->pq", u, n_p[s:s + chunk])
        cos_q = -np.einsum("pqi,qi->pq", u, nq)
        wgt = np.where((cos_p > 0) & (cos_q > 0) & (r2 > 1e-8),
                       lq[None, :] * cos_p * cos_q / np.maximum(r2, 1e-8), 0.0)
        tot = wgt.sum(axis=1)
        a_out[s:s + chunk] = tot
        path = dq[None, :] + r - np.linalg.norm(p, axis=-1)[:, None]
        l_out[s:s + chunk] = np.where(tot > 0, (wgt * path).sum(axis=1)
                                      / np.where(tot > 0, tot, 1.0), 0.0)
    e = e_p
    alpha = np.where(e > 0, a_out / np.where(e > 0, e, 1.0), 0.0)
    return alpha, l_out


#: Most receiving points P of :func:`interreflection` computed directly; a larger scene is
#: computed on a sub-grid of pixels and interpolated bilinearly (α and ℓ vary slowly along a
#: surface; near depth edges the interpolation blends the two sides).
INTERREFLECTION_MAX_P = 96 * 72


def interreflection(scene: DepthScene, illuminator, *, samples: int = 48,
                    sources: DepthScene | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(α, ℓ) per pixel of ``scene``: the relative amplitude and the extra round-trip path
    [m] of the one-bounce diffuse interreflection (module docstring). Q runs over
    ``sources`` — the same surfaces seen on a coarse grid over the whole illuminated field
    (:func:`coverage_geometry`), used as is — or, by default, over ``scene`` itself binned
    to about ``samples`` × ``samples`` points (then only what the camera sees can light
    P). P: every pixel, or, above :data:`INTERREFLECTION_MAX_P` pixels, a sub-grid
    interpolated bilinearly. α = 0 where nothing reflects onto P."""
    g = scene.geometry
    if sources is None:
        k = max(1, int(round(max(g.width_px, g.height_px) / samples)))
        Q, nq, lq, dq = _sources(scene, illuminator, k)
    else:
        Q, nq, lq, dq = _sources(sources, illuminator, 1)
    rays = g.ray_directions()
    step = int(math.ceil(math.sqrt(g.width_px * g.height_px / INTERREFLECTION_MAX_P)))
    rows = np.arange(min(step // 2, g.height_px - 1), g.height_px, step)
    cols = np.arange(min(step // 2, g.width_px - 1), g.width_px, step)
    ix = np.ix_(rows, cols)
    d, n, ray = scene.distance_m[ix], scene.normal[ix], rays[ix]
    ok = np.isfinite(d)
    e = _direct_irradiance(ray, d, n, illuminator)
    P = (np.where(ok, d, 0.0)[..., None] * ray)[ok]
    a_sub = np.zeros(d.shape)
    l_sub = np.zeros(d.shape)
    a_sub[ok], l_sub[ok] = _receive(P, n[ok], e[ok], Q, nq, lq, dq)
    if step == 1:
        return a_sub, l_sub
    from scipy.interpolate import RegularGridInterpolator

    rr, cc = np.meshgrid(np.clip(np.arange(g.height_px), rows[0], rows[-1]),
                         np.clip(np.arange(g.width_px), cols[0], cols[-1]), indexing="ij")
    pts = np.stack([rr, cc], -1)
    hit = np.isfinite(scene.distance_m)
    out = []
    for v in (a_sub, l_sub):
        if len(rows) < 2 or len(cols) < 2:
            full = np.full(g.shape, float(v.mean()))
        else:
            full = RegularGridInterpolator((rows, cols), v, method="linear")(pts)
        out.append(np.where(hit, full, 0.0))
    return out[0], out[1]


# --------------------------------------------------------------------------------------
# capture
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DepthCapture:
    """Depth frames of one scene: ``depth_m`` (N, H', W') radial distance [m], NaN invalid;
    ``truth_m`` (H', W') true radial distance on the same grid (a dToF zone: the mean
    over its pixels; inf/NaN: no surface); ``amplitude`` (N, H', W') the pixel model's
    signal (iToF amplitude [e⁻], dToF signal counts, stereo left image [e⁻]) for the
    point cloud's intensity; ``rays`` (H', W', 3) unit rays of the output grid."""

    module: DepthModule
    scene: DepthScene
    depth_m: np.ndarray
    truth_m: np.ndarray
    amplitude: np.ndarray
    rays: np.ndarray
    ambient_klx: float
    last: Any = field(repr=False, default=None)

    @property
    def frames(self) -> int:
        return int(self.depth_m.shape[0])

    def flying_pixel_fraction(self) -> float:
        """:func:`camtwin.depth.metrics.flying_pixel_fraction` of the frames, on the depth
        along the axis z = r·d_z (measured and true alike): a fronto-parallel surface then
        has one value, so a wide field's radial spread is not mistaken for a step."""
        from .metrics import flying_pixel_fraction

        rz = self.rays[..., 2]
        return float(flying_pixel_fraction(self.depth_m * rz, self.truth_m * rz, band_px=1))

    @property
    def mean_depth_m(self) -> np.ndarray:
        """(H', W') mean over the frames with a valid depth [m] (NaN where none is)."""
        return frame_mean(self.depth_m)

    def point_cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """Points (N, 3) [m] of the valid pixels of :attr:`mean_depth_m` (distance × unit
        ray) and their mean amplitude (N,)."""
        d = self.mean_depth_m
        ok = np.isfinite(d)
        return d[ok][:, None] * self.rays[ok], frame_mean(self.amplitude)[ok]

    def summary(self, *, flying_pixels: bool = False) -> dict:
        """The capture against its truth: valid fraction (first frame), accuracy (|mean
        error| of the time-averaged depth, % and m) and precision (median temporal σ, % and
        m; None with one frame) from :mod:`camtwin.depth.metrics`, the module's power, for
        iToF the integration time used and the unambiguous range, the flying-pixel fraction
        when asked (a step-edge scene), and the illuminator's laser class (IEC 60825-1)."""
        from .eyesafety import eye_safety
        from .metrics import depth_accuracy, depth_precision, valid_fraction

        acc = prec = None
        if np.isfinite(self.depth_m).any():
            with np.errstate(invalid="ignore"):
                acc = depth_accuracy(self.depth_m, self.truth_m)
            if self.frames > 1:
                try:
                    prec = depth_precision(self.depth_m, self.truth_m)
                except ConfigError:     # too few pixels with two valid frames
                    prec = None
        m = self.module
        out = {"valid_fraction": valid_fraction(self.depth_m[0]),
               "accuracy_pct": None if acc is None else abs(acc.accuracy_pct),
               "mean_error_m": None if acc is None else acc.mean_error_m,
               "precision_pct": None if prec is None else prec.precision_pct,
               "precision_m": None if prec is None else prec.sigma_m,
               "power_mw": module_power_mw(m)}
        if m.kind == "itof":
            out["integration_time_s"] = m.pixel.integration_time_s
            out["unambiguous_range_m"] = float(self.last.unambiguous_range_m)
        if flying_pixels:
            out["flying_pixel_fraction"] = self.flying_pixel_fraction()
        if m.illuminator is not None:
            es = eye_safety(m.illuminator)
            out["laser_class"] = es.laser_class
            out["eye_safety_ratio"] = es.ratio
        return out


def frame_mean(frames: np.ndarray) -> np.ndarray:
    """Per-pixel mean over the frames where the value is finite (NaN where none is),
    without NumPy's empty-slice warning."""
    ok = np.isfinite(frames)
    n = ok.sum(axis=0)
    total = np.where(ok, frames, 0.0).sum(axis=0)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def capture_depth(module, scene: DepthScene | str = "plane", *, ambient_klx: float = 0.0,
                  frames: int = 1, seed=0, distance_m: float = 1.0, reflectance: float = 0.5,
                  multipath: bool | None = None, supersample: int = 1,
                  scene_options: dict | None = None, auto_exposure: bool = True,
                  calibrated: bool = True, min_confidence=0.0) -> DepthCapture:
    """Capture ``frames`` depth frames of ``scene`` (a :class:`DepthScene` on the module's
    geometry, or a name from :data:`SCENES` built with ``distance_m``/``reflectance``).

    ``ambient_klx``: sunlight [klx] on the scene. ``multipath``: add the one-bounce
    interreflection to an iToF capture (default: on for the ``corner`` scene).
    ``supersample`` k: the scene is built k× finer and the pixel integrates k×k sub-pixels
    (mixed returns at depth edges — flying pixels); a given scene must then already be on
    ``geometry.supersampled(k)``. iToF: ``auto_exposure`` shortens the integration time
    to keep the taps below full well (:func:`auto_exposure`; the capture's ``module.pixel``
    is the spec used), ``calibrated`` applies the wiggling calibration
    (:func:`calibrated_depth`) as a module's depth output does. ``min_confidence``: iToF
    pixels whose phase SNR is below it are invalid (NaN), as a depth camera's confidence
    filter does — ``"auto"``: the level at which the frequencies unwrap wrongly with
    probability ≤ 10⁻³ (:func:`camtwin.depth.itof.unwrap_confidence_threshold`; 0 for one
    frequency); 0 (default) keeps every pixel, wrong unwraps included (the raw sensor
    output; the evaluation's figures are of it).
    Deterministic for a given ``seed``.
    """
    m = load_depth_module(module)
    if not 1 <= int(frames) <= 10000:
        raise ConfigError(f"frames = {frames} is outside the valid range 1 … 10000")
    if not 0 <= float(ambient_klx) <= 200:
        raise ConfigError(f"ambient_klx = {ambient_klx} is outside the valid range 0 … 200 klx")
    k = int(supersample)
    if not 1 <= k <= 8:
        raise ConfigError(f"supersample = {supersample} is outside the valid range 1 … 8")
    geom = m.geometry.supersampled(k) if k > 1 else m.geometry
    sources = None
    if isinstance(scene, str):
        name = scene
        scene = make_scene(geom, scene, distance_m=distance_m, reflectance=reflectance,
                           supersample=k, **(scene_options or {}))
        if multipath is None:
            multipath = name == "corner"
        if multipath and m.kind == "itof":
            cov = coverage_geometry(m.geometry, m.illuminator)
            sources = make_scene(cov, name, distance_m=distance_m, reflectance=reflectance,
                                 **(scene_options or {}))
    elif scene.geometry != geom:
        raise ConfigError("the scene's geometry is not the module's (supersampled "
                          f"{k}×): build it on module.geometry" + (".supersampled(k)" if k > 1
                                                                 else ""))
    rng = _rng(seed)
    if m.kind == "stereo":
        return _capture_stereo(m, scene, float(ambient_klx), int(frames), rng)
    from .radiometry import photon_rates

    rates = photon_rates(scene, m.illuminator, ambient_klx=float(ambient_klx),
                         filter_bandwidth_nm=m.filter_bandwidth_nm)
    if m.kind == "itof":
        return _capture_itof(m, scene, rates, float(ambient_klx), int(frames), rng, k,
                             bool(multipath), bool(auto_exposure), bool(calibrated), sources,
                             resolve_min_confidence(m, min_confidence))
    return _capture_dtof(m, scene, rates, float(ambient_klx), int(frames), rng, k)


def resolve_min_confidence(module, value, *, option: str = "min_confidence") -> float:
    """The iToF confidence threshold (phase SNR) of ``value``: ``"auto"`` →
    :func:`camtwin.depth.itof.unwrap_confidence_threshold` of the module's pixel, else a
    number 0 … 10⁶ (a one-line :class:`ConfigError` naming ``option`` otherwise)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        from .itof import unwrap_confidence_threshold

        m = load_depth_module(module)
        return unwrap_confidence_threshold(m.pixel) if m.kind == "itof" else 0.0
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not 0 <= v <= 1e6:
        raise ConfigError(f"{option} = {value!r}: valid: 'auto' or a phase SNR 0..1e6")
    return v


def _truth_binned(scene: DepthScene, k: int) -> np.ndarray:
    if k == 1:
        return np.array(scene.distance_m, dtype=np.float64)
    d = np.where(np.isfinite(scene.distance_m), scene.distance_m, np.nan)
    return bin_pixels(d, k)


#: Auto-exposure target: the fullest tap's mean charge (after ambient suppression) at
#: this fraction of the full well, leaving ≈ 3σ of shot noise below the clip.
AE_TARGET_FULL_WELL = 0.7
#: Distance samples per frequency of the wiggling calibration table.
CALIBRATION_SAMPLES = 1024
_CALIBRATION: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}


def auto_exposure(rates, distance_m, spec, *, supersample: int = 1):
    """The iToF spec with its integration time shortened (never lengthened) so that the
    fullest tap holds :data:`AE_TARGET_FULL_WELL` of the full well: charge held by a tap
    = μ_max − s·μ_min of the pair (s = ambient suppression), linear in the integration
    time. Real ToF modules run such an auto-exposure (close targets, sunlight)."""
    from .itof import itof_tap_means_e

    mu = itof_tap_means_e(rates, distance_m, spec, supersample=supersample)
    held = mu.max(axis=1) - spec.ambient_suppression * mu.min(axis=1)
    peak = float(np.nanmax(held)) if held.size else 0.0
    target = AE_TARGET_FULL_WELL * spec.full_well_e
    if peak <= target or peak <= 0:
        return spec
    t = spec.integration_time_s * target / peak
    return spec.model_copy(update={"integration_time_s": t})


def wiggling_table(spec) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per modulation frequency, (measured phase, true phase) [rad], both unwrapped and
    increasing over one period: the cyclic ("wiggling") error of the pixel's waveform,
    from the noiseless model on a row of distances spanning one period at the reference
    temperature. The factory calibration of a ToF module (e.g. Lindner & Kolb, ISVC 2006,
    "Lateral and depth calibration of PMD-distance sensors") measures the same table."""
    from .itof import simulate_itof

    ref = spec.model_copy(update={"temperature_c": spec.reference_temperature_c})
    key = ref.model_dump_json()
    if key in _CALIBRATION:
        return _CALIBRATION[key]
    c = 299792458.0
    table = []
    for j, f_mhz in enumerate(spec.modulation_frequencies_mhz):
        period = c / (2 * f_mhz * 1e6)
        d = (np.arange(CALIBRATION_SAMPLES) + 0.5) / CALIBRATION_SAMPLES * period
        dist = np.broadcast_to(d, (1, d.size)).copy()
        # a moderate, unsaturated signal: 20 % of the full well per tap over the exposure
        e = 0.2 * spec.full_well_e / (spec.integration_time_s * spec.quantum_efficiency)
        rates = _Rates(np.full(dist.shape, e), np.zeros(dist.shape))
        fr = simulate_itof(rates, dist, ref, np.random.default_rng(0), noise=False,
                           keep_taps=False)
        meas = np.unwrap(fr.phase_rad[j, 0].astype(np.float64))
        true = 4 * np.pi * f_mhz * 1e6 * d / c
        meas += 2 * np.pi * np.round((true[0] - meas[0]) / (2 * np.pi))
        table.append((meas, true))
    _CALIBRATION[key] = table
    return table


@dataclass(frozen=True)
class _Rates:
    active: np.ndarray
    ambient: np.ndarray


def calibrated_depth(frame, spec) -> np.ndarray:
    """Depth [m] of an :class:`~camtwin.depth.itof.ITofFrame` after the wiggling table:
    each frequency's wrapped phase is mapped to the true phase (periodic linear
    interpolation), then the frequencies are unwrapped and combined as the sensor does."""
    from .itof import unwrap_distances

    c = 299792458.0
    table = wiggling_table(spec)
    d0 = np.empty(frame.phase_rad.shape)
    for j, (meas, true) in enumerate(table):
        f = spec.modulation_frequencies_mhz[j] * 1e6
        ph = frame.phase_rad[j].astype(np.float64)
        # periodic: shift the measured phase into the table's span, map, wrap back
        x = meas[0] + np.mod(ph - meas[0], 2 * np.pi)
        t = np.interp(x, np.concatenate([meas, [meas[0] + 2 * np.pi]]),
                      np.concatenate([true, [true[0] + 2 * np.pi]]))
        d0[j] = np.mod(t, 2 * np.pi) / (4 * np.pi * f) * c
    depth = unwrap_distances(d0, spec)
    return np.where(np.isfinite(frame.depth_m), depth, np.nan).astype(np.float32)


def _capture_itof(m, scene, rates, klx, n, rng, k, multipath, auto_exposure_on=True,
                  calibrated=True, sources=None, min_confidence=0.0):
    from .itof import simulate_itof

    extra = {}
    if multipath:
        alpha, ell = interreflection(scene, m.illuminator, sources=sources)
        extra = {"second_path_m": ell, "second_path_amplitude": alpha}
    spec = m.pixel
    if auto_exposure_on:
        spec = auto_exposure(rates, scene.distance_m, spec, supersample=k)
    depth, amp = [], []
    last = None
    for _ in range(n):
        last = simulate_itof(rates, scene.distance_m, spec, rng, supersample=k,
                             keep_taps=False, min_confidence=min_confidence, **extra)
        depth.append(calibrated_depth(last, spec) if calibrated else last.depth_m)
        amp.append(last.amplitude_e)
    mm = m if spec is m.pixel else replace(m, pixel=spec)
    return DepthCapture(mm, scene, np.stack(depth), _truth_binned(scene, k), np.stack(amp),
                        m.geometry.ray_directions(), klx, last)


def _capture_dtof(m, scene, rates, klx, n, rng, k):
    from .dtof import simulate_dtof

    ill = m.illuminator
    kw = {"pulse_width_s": float(ill.pulse_width_ns) * 1e-9,
          "repetition_rate_hz": float(ill.repetition_rate_hz),
          "pulse_shape": "rectangular"}   # the Illuminator's pulse: on for pulse_width_ns
    if k > 1:   # the SPAD array sums sub-pixels exactly like a zone: fold k into the zones
        raise ConfigError("supersample is not used for dToF: a zone already sums its "
                          "SPADs (mixed returns appear as two peaks)")
    depth, amp = [], []
    last = None
    for _ in range(n):
        last = simulate_dtof(rates, scene.distance_m, m.pixel, rng, **kw)
        depth.append(last.depth_m)
        amp.append(last.signal_counts)
    z = int(m.pixel.zone_size_px)
    g = m.geometry
    hz, wz = g.height_px // z, g.width_px // z
    rays = np.stack([bin_pixels(g.ray_directions()[:hz * z, :wz * z, i], z) for i in range(3)],
                    -1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    return DepthCapture(m, scene, np.stack(depth).astype(np.float32),
                        np.asarray(last.distance_true_m, np.float64),
                        np.stack(amp).astype(np.float32), rays, klx, last)


def stereo_for_distance(m: DepthModule, nearest_m: float) -> DepthModule:
    """The stereo module with its disparity search widened (a multiple of 16 px, as
    OpenCV needs) to reach ``nearest_m``: d = f·b/z — the matcher setting an engineer
    chooses for the working distance (a catalog default of 64 px ends at ≈ f·b/64)."""
    p = m.pixel
    need = m.geometry.focal_px * p.baseline_mm * 1e-3 / max(float(nearest_m), 1e-3)
    n = int(np.ceil((need * 1.15 - p.min_disparity) / 16.0)) * 16
    if n <= p.num_disparities:
        return m
    n = min(n, 1024, 16 * (m.geometry.width_px // 32))
    if n <= p.num_disparities:
        return m
    return replace(m, pixel=p.model_copy(update={"num_disparities": n}))


def _capture_stereo(m, scene, klx, n, rng):
    from .stereo import simulate_stereo

    finite = scene.distance_m[np.isfinite(scene.distance_m)]
    if finite.size:
        m = stereo_for_distance(m, float(finite.min()))
    depth, amp = [], []
    last = None
    for _ in range(n):
        last = simulate_stereo(scene, m.pixel, rng, ambient_klx=klx)
        depth.append(last.depth_m)
        amp.append(last.pair.left_e)
    return DepthCapture(m, scene, np.stack(depth).astype(np.float32),
                        np.array(scene.distance_m, np.float64),
                        np.stack(amp).astype(np.float32), m.geometry.ray_directions(), klx,
                        last)


# --------------------------------------------------------------------------------------
# power
# --------------------------------------------------------------------------------------
def emitter_on_fraction(module: DepthModule, frame_rate_fps: float) -> float:
    """Fraction of the time the illuminator is on at ``frame_rate_fps``: iToF — phase
    frames × frequencies × integration time × frame rate; dToF — pulses per frame ×
    pulse width × frame rate (the laser's optical duty); stereo with a projector — the
    exposure × frame rate (the projector flashes during the exposure)."""
    p = module.pixel
    if module.kind == "itof":
        on = len(p.modulation_frequencies_mhz) * p.phases * p.integration_time_s
    elif module.kind == "dtof":
        ill = module.illuminator
        on = p.pulses_per_frame * float(ill.pulse_width_ns) * 1e-9
    else:
        on = p.exposure_s if p.projector is not None else 0.0
    return float(min(1.0, on * frame_rate_fps))


def module_power_mw(module: DepthModule, frame_rate_fps: float | None = None) -> float:
    """Average electrical power of the module [mW] at ``frame_rate_fps`` (default: its own):
    the sensor's published power (or the module's, which then includes everything) plus
    the illuminator's electrical power while on × the fraction of time it is on. Where
    the catalog has no electrical power the optical power is divided by the wall-plug
    efficiency (:data:`VCSEL_WALL_PLUG_EFFICIENCY`, :data:`LED_WALL_PLUG_EFFICIENCY`)."""
    m = load_depth_module(module)
    fps = float(frame_rate_fps or m.frame_rate_fps or 30.0)
    if m.power_mw is not None and frame_rate_fps is None:
        return float(m.power_mw)
    sensor = float(m.sensor_power_mw or 0.0)
    ill = m.illuminator
    if ill is None:
        return sensor
    if m.illuminator_electrical_w is not None:
        elec_w = float(m.illuminator_electrical_w)
    else:
        eff = VCSEL_WALL_PLUG_EFFICIENCY if ill.kind == "vcsel" else LED_WALL_PLUG_EFFICIENCY
        optical = float(ill.optical_power_w)
        if m.kind == "dtof" and ill.repetition_rate_hz and ill.pulse_width_ns:
            # optical_power_w is the average while emitting: peak = P̄/(τ·f)
            optical = optical / (float(ill.pulse_width_ns) * 1e-9 * float(ill.repetition_rate_hz))
        elec_w = optical / eff
    return sensor + 1e3 * elec_w * emitter_on_fraction(m, fps)
