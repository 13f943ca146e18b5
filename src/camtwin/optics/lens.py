"""LensSpec: a miniature camera lens.

A thin lens of focal length f and f-number N, focused at ``focus_distance_m`` (default: the
scene distance, i.e. in focus), imaging a scene plane at ``object_distance_m``:

* **Thin-lens focus** (Gaussian lens equation 1/f = 1/s + 1/v): the sensor sits at
  v_s = f·s_f/(s_f − f); the scene plane images at v_o = f·s_o/(s_o − f). The longitudinal
  focus error δ = v_s − v_o [µm] gives the peak defocus wavefront W₀₂₀ = δ / (8 N_w²)
  [µm] (paraxial; N_w = v_s / D the image-side working f-number), i.e. the Noll Z₄ RMS
  coefficient c₄ = W₀₂₀ / (2√3). (Goodman, *Fourier Optics* 3rd ed. §6.4.)
* **Aberrations** (:class:`AberrationSpec`): Zernike RMS coefficients (Noll) in waves at
  ``reference_wavelength_nm`` on axis and at full field, interpolated with the Seidel field
  power of each term; the optical path difference [µm] is wavelength independent, so the
  phase 2π·OPD/λ is smaller in the red.
* **Distortion** (:class:`DistortionSpec`): Brown–Conrady radial + tangential terms, the
  radial part given as the percentage at full field.
* **Relative illumination** (:class:`ShadingSpec`): cos⁴ of the chief-ray angle times
  mechanical vignetting (overlap of the pupil with a clipping aperture).
* **Lateral colour**: the image height scales with wavelength (Cauchy dispersion).
* **Chief-ray angle**: thin lens atan(r/v_s), or a design CRA at full field.
* **Projection** (:data:`PROJECTIONS`): image height r = v_s·P(θ) of a scene point at
  object-space field angle θ (tan θ = X/s_o for a point X off axis on the scene plane):
  rectilinear P = tan θ (the thin lens; r = m·X), and the fisheye mappings equidistant
  (f-θ) P = θ, equisolid P = 2 sin(θ/2), stereographic P = 2 tan(θ/2), orthographic
  P = sin θ (Miyamoto 1964; Kingslake, *A History of the Photographic Lens*, 1989). A
  fisheye is rectilinear near the axis (P'(0) = 1) and compresses the periphery, which
  Brown–Conrady cannot describe beyond ≈ 40 % barrel. With a fisheye projection the
  natural falloff is that of a fixed entrance pupil seen at θ,
  RI(θ) = cos θ · sin θ / (P(θ)·P'(θ)) — cos⁴θ for rectilinear, cos θ·sin θ/θ for
  equidistant, cos θ for equisolid, cos θ·cos⁴(θ/2) for stereographic, 1 for orthographic
  (image irradiance ∝ pupil foreshortening cos θ × solid angle per image area
  sin θ dθ/(r dr)). Real fisheyes grow their entrance pupil off axis and do better; a
  published RI enters through the vignetting term.

The full field (normalised field height h = 1) is ``image_circle_mm/2``; when that is not
given, it is the half-diagonal of the optical image the lens forms (in a module: the
sensor's half-diagonal).
"""

from __future__ import annotations

import math

import numpy as np
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec
from .zernike import MAX_NOLL

#: Fraunhofer F, d and C lines [nm] used to state lateral colour (Abbe convention).
F_LINE_NM, D_LINE_NM, C_LINE_NM = 486.1, 587.6, 656.3

#: Lens projections r = v·P(θ) (module docstring).
PROJECTIONS = ("rectilinear", "equidistant", "equisolid", "stereographic", "orthographic")
#: Largest object-space field angle [°] a fisheye projection is simulated to: the scene is
#: a plane, which must reach d·tan θ (5.7 × the distance at 80°).
MAX_FISHEYE_FIELD_DEG = 80.0


#: Per projection: P(θ), its inverse P⁻¹(h) (heights beyond the mapping's range — equisolid
#: > 2, orthographic > 1 — give its largest angle) and the fixed-pupil falloff
#: cos θ·sin θ/(P·P') (module docstring), θ in radians.
_PROJECTION_MAPS = {
    "rectilinear": (np.tan, np.arctan, lambda t: np.cos(t) ** 4),
    "equidistant": (lambda t: t.copy(), lambda h: h.copy(),
                    lambda t: np.cos(t) * np.sinc(t / np.pi)),  # sinc(t/π) = sin t / t
    "equisolid": (lambda t: 2.0 * np.sin(t / 2.0),
                  lambda h: 2.0 * np.arcsin(np.clip(h / 2.0, -1.0, 1.0)), np.cos),
    "stereographic": (lambda t: 2.0 * np.tan(t / 2.0), lambda h: 2.0 * np.arctan(h / 2.0),
                      lambda t: np.cos(t) * np.cos(t / 2.0) ** 4),
    "orthographic": (np.sin, lambda h: np.arcsin(np.clip(h, -1.0, 1.0)), np.ones_like),
}


def _projection_map(projection: str, k: int):
    try:
        return _PROJECTION_MAPS[projection][k]
    except KeyError:
        raise ValueError(f"projection {projection!r}: valid choices are "
                         f"{', '.join(PROJECTIONS)}") from None


def projection_height(projection: str, theta) -> np.ndarray:
    """P(θ) = r / v of :data:`PROJECTIONS` for field angles ``theta`` [rad]."""
    return _projection_map(projection, 0)(np.asarray(theta, dtype=np.float64))


def projection_angle(projection: str, height) -> np.ndarray:
    """θ [rad] of normalised image height ``height`` = r/v (inverse of
    :func:`projection_height`); heights beyond the projection's range (equisolid > 2,
    orthographic > 1) give the largest angle it maps (π, π/2)."""
    return _projection_map(projection, 1)(np.asarray(height, dtype=np.float64))


def projection_relative_illumination(projection: str, theta) -> np.ndarray:
    """Natural falloff cos θ · sin θ / (P(θ)·P'(θ)) of a fixed entrance pupil (module
    docstring); 1 on axis."""
    return _projection_map(projection, 2)(np.abs(np.asarray(theta, dtype=np.float64)))


class IRCutSpec(FrozenSpec):
    """Interference IR-cut filter: a logistic edge with an optical-density floor.

    T(λ) = T_pass · [1 − 1/(1 + exp(−(λ − λ_50)/w))] + T_block, with ``w = width_nm / 4.4``
    so that ``width_nm`` is the 10 %→90 % transition width.
    """

    cutoff_nm: float = Field(650.0, ge=550, le=1000, description="50 % transmission point")
    width_nm: float = Field(20.0, gt=0, le=200, description="10–90 % edge width")
    passband_transmission: float = Field(0.95, gt=0, le=1)
    blocking_transmission: float = Field(1e-3, ge=0, le=0.1)

    def transmission(self, wavelengths_nm) -> np.ndarray:
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
        w = self.width_nm / 4.394449154672439  # 2·ln(9)
        edge = 1.0 / (1.0 + np.exp(-(wl - self.cutoff_nm) / w))
        return self.passband_transmission * (1.0 - edge) + self.blocking_transmission * edge


class AberrationSpec(FrozenSpec):
    """Monochromatic wavefront aberrations as Noll Zernike RMS coefficients [waves].

    ``axis`` holds the coefficients on axis, ``full_field`` those at full field (h = 1) for
    a field point on the +x axis (other azimuths φ rotate the pupil by φ). In between,
    c_j(h) = c_j(0) + (c_j(1) − c_j(0))·h^p_j with p_j the Seidel power of
    :func:`camtwin.optics.zernike.field_power` (1 for coma-like terms, 2 otherwise). A term
    missing from ``full_field`` keeps its axial value over the field. Piston and tilt
    (j = 1…3) are not accepted: they do not blur (use :class:`DistortionSpec`).

    Coefficients are in waves at ``reference_wavelength_nm``; the OPD [µm] is the same at
    every wavelength. ``field_samples`` × ``field_samples`` PSFs are computed across the
    image and blended bilinearly.
    """

    reference_wavelength_nm: float = Field(550.0, ge=300, le=1200)
    axis: dict[int, float] = Field(default_factory=dict)
    full_field: dict[int, float] = Field(default_factory=dict)
    field_samples: int = Field(5, ge=2, le=11)

    @field_validator("axis", "full_field")
    @classmethod
    def _noll_range(cls, v: dict) -> dict:
        for j, c in v.items():
            if not 4 <= j <= MAX_NOLL:
                raise ValueError(f"Noll index {j}: valid range is 4..{MAX_NOLL} "
                                 "(piston and tilt do not blur)")
            if not abs(c) <= 20:
                raise ValueError(f"coefficient of Z{j} = {c} waves: valid range is -20..20")
        return v

    @property
    def field_dependent(self) -> bool:
        return any(self.full_field.get(j, self.axis.get(j, 0.0)) != self.axis.get(j, 0.0)
                   for j in set(self.axis) | set(self.full_field))

    def coefficients_um(self, h: float) -> dict[int, float]:
        """Zernike RMS coefficients [µm of OPD] at normalised field height ``h``."""
        from .zernike import field_power

        lam_um = self.reference_wavelength_nm * 1e-3
        out = {}
        for j in sorted(set(self.axis) | set(self.full_field)):
            c0 = self.axis.get(j, 0.0)
            c1 = self.full_field.get(j, c0)
            c = c0 + (c1 - c0) * float(h) ** field_power(j)
            if c:
                out[j] = c * lam_um
        return out


class DistortionSpec(FrozenSpec):
    """Brown–Conrady distortion of the image (Brown 1966; Conrady 1919).

    With undistorted normalised image coordinates (x, y) (full field at r = 1):

        x_d = x·(1 + k₁r² + k₂r⁴) + 2p₁xy + p₂(r² + 2x²)
        y_d = y·(1 + k₁r² + k₂r⁴) + p₁(r² + 2y²) + 2p₂xy

    ``percent`` is the radial distortion at full field, 100·(r_d − r)/r at r = 1
    (negative: barrel), so k₁ = percent/100 − k₂. Phone lenses: about −3 … +3 %; wide
    security/automotive lenses −10 … −35 %. The radial map must stay monotonic up to full
    field: dr_d/dr = 1 + 3k₁ + 5k₂ > 0 at r = 1 (beyond that a fisheye projection model is
    needed).
    """

    percent: float = Field(0.0, ge=-40, le=40, description="radial distortion at full field [%]")
    k2: float = Field(0.0, ge=-0.3, le=0.3, description="r⁴ coefficient")
    p1: float = Field(0.0, ge=-0.05, le=0.05)
    p2: float = Field(0.0, ge=-0.05, le=0.05)

    @model_validator(mode="after")
    def _monotonic(self):
        slope = 1.0 + 3.0 * self.k1 + 5.0 * self.k2
        if slope <= 0.02:
            raise ValueError(f"distortion percent = {self.percent}, k2 = {self.k2}: the radial "
                             f"map folds over before full field (dr_d/dr = {slope:.3f} at r = 1; "
                             "needs > 0.02 — a fisheye needs a projection model)")
        return self

    @property
    def k1(self) -> float:
        return self.percent / 100.0 - self.k2

    def percent_at(self, h) -> np.ndarray:
        """Radial distortion [%] at normalised (undistorted) field height ``h``."""
        h = np.asarray(h, dtype=np.float64)
        return 100.0 * (self.k1 * h**2 + self.k2 * h**4)

    def apply(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Distorted normalised coordinates of undistorted ones (equations above)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        r2 = x * x + y * y
        radial = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
        xd = x * radial + 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
        yd = y * radial + self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
        return xd, yd

    def invert(self, xd, yd, *, iterations: int = 500,
               tolerance: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
        """Undistorted coordinates of distorted ones: fixed-point iteration
        x ← (x_d − tangential(x))/radial(x), run until the largest step is below
        ``tolerance`` (a few steps for a few %; the contraction factor ≈ |2k₁r²/(1 + k₁r²)|
        makes strong barrel distortion near full field need a few hundred)."""
        xd = np.asarray(xd, dtype=np.float64)
        yd = np.asarray(yd, dtype=np.float64)
        x, y = xd.copy(), yd.copy()
        for _ in range(iterations):
            r2 = x * x + y * y
            radial = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
            dx = 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
            dy = self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
            xn, yn = (xd - dx) / radial, (yd - dy) / radial
            step = max(float(np.max(np.abs(xn - x), initial=0.0)),
                       float(np.max(np.abs(yn - y), initial=0.0)))
            x, y = xn, yn
            if step < tolerance:
                break
        return x, y


class ShadingSpec(FrozenSpec):
    """Relative illumination: natural cos⁴ falloff × mechanical vignetting.

    Mechanical vignetting is modelled as the overlap of the (unit) pupil with a circular
    clipping aperture of radius R (in pupil radii) whose image in the pupil plane moves off
    centre linearly with field, d(h) = (R − 1)·h / h₀: nothing is clipped up to the onset
    field ``vignetting_onset`` = h₀, and at full field the pupil loses
    ``vignetting_percent`` of its area (R is solved for). The transmitted fraction is the
    circle–circle overlap area / π.

    ``cos4 = False`` drops the natural falloff (for lenses whose RI curve is given by the
    vignetting term alone, or for tests).
    """

    cos4: bool = True
    vignetting_percent: float = Field(0.0, ge=0, lt=100)
    vignetting_onset: float = Field(0.5, gt=0, lt=1)

    def vignetting(self, h) -> np.ndarray:
        """Fraction of the pupil area transmitted at normalised field height ``h`` (0..1]."""
        h = np.asarray(h, dtype=np.float64)
        if self.vignetting_percent == 0:
            return np.ones_like(h)
        r_clip = _clip_radius(self.vignetting_percent / 100.0, self.vignetting_onset)
        d = (r_clip - 1.0) * h / self.vignetting_onset
        return _circle_overlap(d, 1.0, r_clip) / np.pi


def _circle_overlap(d, r1: float, r2: float) -> np.ndarray:
    """Area of intersection of circles of radii r1, r2 whose centres are d apart."""
    d = np.asarray(d, dtype=np.float64)
    out = np.empty_like(d)
    full = d <= abs(r2 - r1)
    none = d >= r1 + r2
    part = ~(full | none)
    out[full] = np.pi * min(r1, r2) ** 2
    out[none] = 0.0
    dd = d[part]
    a1 = r1**2 * np.arccos(np.clip((dd**2 + r1**2 - r2**2) / (2 * dd * r1), -1, 1))
    a2 = r2**2 * np.arccos(np.clip((dd**2 + r2**2 - r1**2) / (2 * dd * r2), -1, 1))
    tri = 0.5 * np.sqrt(np.clip((-dd + r1 + r2) * (dd + r1 - r2) * (dd - r1 + r2)
                                * (dd + r1 + r2), 0, None))
    out[part] = a1 + a2 - tri
    return out


def _clip_radius(loss: float, onset: float) -> float:
    """Clip-aperture radius R (pupil radii) that removes ``loss`` of the pupil area at h = 1."""
    from scipy.optimize import brentq

    def f(r):
        return float(_circle_overlap(np.array([(r - 1.0) / onset]), 1.0, r)[0]) / np.pi - (1 - loss)

    hi = 2.0
    while f(hi) > 0 and hi < 1e6:
        hi *= 2
    return float(brentq(f, 1.0 + 1e-12, hi, xtol=1e-12))


class LensSpec(FrozenSpec):
    """A camera lens (see the module docstring for the models and their equations).

    ``object_distance_m`` is where the scene plane sits; ``focus_distance_m`` where the lens
    is focused (``None``: the same, an in-focus image). Everything else defaults to an ideal,
    diffraction-limited, distortion-free thin lens with cos⁴ falloff.
    """

    name: str = "lens"
    focal_length_mm: float = Field(gt=0.2, le=500)
    f_number: float = Field(ge=0.5, le=64)
    transmission: float = Field(0.9, gt=0, le=1, description="flat glass/coating transmission")
    object_distance_m: float = Field(1.0, gt=0, description="distance to the scene plane [m]")
    focus_distance_m: float | None = Field(None, gt=0, description="distance focused at [m]")
    ir_cut: IRCutSpec | None = IRCutSpec()
    aberrations: AberrationSpec = AberrationSpec()
    distortion: DistortionSpec = DistortionSpec()
    shading: ShadingSpec = ShadingSpec()
    lateral_color_um: float = Field(0.0, ge=-20, le=20, description=(
        "image height at 486.1 nm minus at 656.3 nm, at full field [µm]"))
    cra_full_field_deg: float | None = Field(None, ge=0, le=45, description=(
        "chief-ray angle at full field [°]; None: thin lens atan(r / v)"))
    image_circle_mm: float | None = Field(None, gt=0, le=100, description=(
        "diameter of the full field [mm]; None: the diagonal of the optical image"))
    projection: Literal["rectilinear", "equidistant", "equisolid", "stereographic",
                        "orthographic"] = Field("rectilinear", description=(
        "mapping of field angle to image height, r = v·P(θ) (fisheyes: equidistant …)"))

    @model_validator(mode="after")
    def _beyond_focal_length(self):
        for name in ("object_distance_m", "focus_distance_m"):
            d = getattr(self, name)
            if d is not None and d * 1e3 <= self.focal_length_mm:
                raise ValueError(f"{name} = {d} must exceed the focal length "
                                 f"({self.focal_length_mm} mm) to form a real image")
        return self

    @property
    def focus_m(self) -> float:
        """Distance the lens is focused at [m]."""
        return self.object_distance_m if self.focus_distance_m is None else self.focus_distance_m

    @property
    def image_distance_mm(self) -> float:
        """Lens-to-sensor distance v_s = f·s_f/(s_f − f) [mm] (thin lens, focused at s_f)."""
        f = self.focal_length_mm
        s = self.focus_m * 1e3
        return f * s / (s - f)

    @property
    def magnification(self) -> float:
        """Lateral magnification |m| = v_s / s_o of the scene plane (= f/(s − f) in focus)."""
        return self.image_distance_mm / (self.object_distance_m * 1e3)

    @property
    def working_f_number(self) -> float:
        """Image-side working f-number N_w = v_s / D = N·v_s/f (= N(1 + m) in focus)."""
        return self.f_number * self.image_distance_mm / self.focal_length_mm

    @property
    def defocus_um(self) -> float:
        """Longitudinal focus error δ = v_s − v_o [µm]: sensor position minus the image
        plane of the scene (> 0: focused closer than the scene)."""
        f = self.focal_length_mm
        s = self.object_distance_m * 1e3
        return (self.image_distance_mm - f * s / (s - f)) * 1e3

    @property
    def defocus_w020_um(self) -> float:
        """Peak defocus wavefront W₀₂₀ = δ/(8 N_w²) [µm] (paraxial)."""
        return self.defocus_um / (8.0 * self.working_f_number**2)

    @property
    def diffraction_limited(self) -> bool:
        """True if the lens blurs by diffraction alone (no aberrations, no defocus)."""
        return (self.defocus_um == 0.0
                and not any(self.aberrations.axis.values())
                and not any(self.aberrations.full_field.values()))

    def zernike_um(self, h: float) -> dict[int, float]:
        """Zernike RMS coefficients [µm OPD] at normalised field height ``h``: the
        aberrations plus the thin-lens defocus (c₄ += W₀₂₀/(2√3))."""
        c = self.aberrations.coefficients_um(h)
        w020 = self.defocus_w020_um
        if w020:
            c[4] = c.get(4, 0.0) + w020 / (2.0 * math.sqrt(3.0))
        return c

    def full_field_mm(self, default_mm: float) -> float:
        """Image height of the full field [mm]: ``image_circle_mm/2`` or ``default_mm``."""
        return self.image_circle_mm / 2.0 if self.image_circle_mm else float(default_mm)

    def cra_tan_per_mm(self, full_field_mm: float) -> float:
        """a in tan θ_CRA(r) = a·r [1/mm]: 1/v_s for the thin lens, or
        tan(cra_full_field_deg)/r_full for a lens with a design CRA (linear in tan θ)."""
        if self.cra_full_field_deg is None:
            return 1.0 / self.image_distance_mm
        return math.tan(math.radians(self.cra_full_field_deg)) / full_field_mm

    def chief_ray_angle_deg(self, image_height_mm, full_field_mm: float) -> np.ndarray:
        """Chief-ray angle [°] at image height r [mm]: atan(a·r), a from :meth:`cra_tan_per_mm`."""
        r = np.asarray(image_height_mm, dtype=np.float64)
        return np.degrees(np.arctan(self.cra_tan_per_mm(full_field_mm) * r))

    @property
    def rectilinear(self) -> bool:
        """True for the thin lens's rectilinear projection (no fisheye mapping)."""
        return self.projection == "rectilinear"

    @property
    def moves_points(self) -> bool:
        """True if the lens moves image points off the rectilinear image of the scene plane
        (a fisheye projection or any distortion term); lateral colour aside."""
        d = self.distortion
        return not (self.rectilinear and d.percent == 0 and d.k2 == 0 and d.p1 == 0
                    and d.p2 == 0)

    def field_angle_rad(self, image_height_mm) -> np.ndarray:
        """Object-space field angle θ [rad] imaged at height r [mm]: P⁻¹(r/v_s)."""
        r = np.asarray(image_height_mm, dtype=np.float64)
        return projection_angle(self.projection, r / self.image_distance_mm)

    def image_height_mm(self, field_angle_rad) -> np.ndarray:
        """Image height r = v_s·P(θ) [mm] of object-space field angle θ [rad]."""
        return self.image_distance_mm * projection_height(self.projection, field_angle_rad)

    def relative_illumination(self, image_height_mm, full_field_mm: float) -> np.ndarray:
        """Relative illumination (0..1] at image height r [mm]: natural falloff × V(r/r_full).

        Natural falloff: cos⁴θ_CRA(r) for the rectilinear thin lens; for a fisheye
        projection the fixed-pupil falloff of the object-space angle θ(r)
        (:func:`projection_relative_illumination`).
        """
        r = np.asarray(image_height_mm, dtype=np.float64)
        if not self.shading.cos4:
            ri = np.ones_like(r)
        elif self.rectilinear:
            tan_t = self.cra_tan_per_mm(full_field_mm) * r
            ri = 1.0 / (1.0 + tan_t**2) ** 2
        else:
            ri = projection_relative_illumination(self.projection, self.field_angle_rad(r))
        return ri * self.shading.vignetting(r / full_field_mm)

    def lateral_color_scale(self, wavelengths_nm, full_field_mm: float) -> np.ndarray:
        """Image-height scale factor per wavelength (1 at the d line, 587.6 nm).

        Cauchy dispersion n(λ) = A + B/λ² makes the image-height error ∝ 1/λ² − 1/λ_d²;
        scaled so that r(486.1 nm) − r(656.3 nm) = ``lateral_color_um`` at full field.
        """
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
        if self.lateral_color_um == 0:
            return np.ones_like(wl)
        k = self.lateral_color_um * 1e-3 / full_field_mm / (F_LINE_NM**-2 - C_LINE_NM**-2)
        return 1.0 + k * (wl**-2 - D_LINE_NM**-2)

    def spectral_transmission(self, wavelengths_nm) -> np.ndarray:
        """Total lens transmission T(λ): flat transmission × IR-cut (if fitted)."""
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
        t = np.full(wl.shape, self.transmission)
        if self.ir_cut is not None:
            t = t * self.ir_cut.transmission(wl)
        return t
