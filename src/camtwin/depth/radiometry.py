"""Light arriving at each pixel of a depth camera: active illumination and sunlight.

Active light (one bounce, Lambertian target)
--------------------------------------------
For the surface point P = r·d seen by a pixel (ray d, :class:`~.scene.DepthScene`), an
illuminator at offset o from the camera (same orientation, +z forward) sends radiant
intensity I(θ) [W/sr] along v = P − o (:class:`~.illuminator.Illuminator`). The target
irradiance, radiance and the irradiance on the pixel are

    E_t   = I(θx, θy) · cos θ_i / |v|²                [W/m²]     (inverse-square + cosine law)
    L     = ρ · E_t / π                               [W/(m²·sr)] (Lambertian reflector)
    E_pix = π · L · T · cos⁴θ_c / (4 N²)              [W/m²]     (camera equation)
    Φ_pix = E_pix · p² · FF                           [W]
    N_ph  = Φ_pix · λ / (h c)                         [photons/s]

with cos θ_i = −n·v/|v| (θ_i between the incoming illuminator ray and the surface normal,
clipped at 0: back-facing surfaces get no light), ρ the reflectance, T the lens (+ in-band
filter) transmission, θ_c the pixel ray's angle to the optical axis (cos θ_c = d_z), N the
f-number, p the pixel pitch and FF the fill factor. The camera equation is the one for an
object at a large distance: the lens is taken as focused at infinity (the fixed-focus
hyperfocal lenses of depth modules), so the working f-number is N. For a lens focused at a
finite distance s the image irradiance carries a further 1/(1 + m)², m = f/(s − f): for
f = 3 mm that is 1.2 % at s = 0.5 m and 0.06 % at 5 m — negligible at depth-camera
distances and left out. Shadowing by other scene parts and inter-reflections (multipath)
are not modelled here (pixel models add multipath). No-return rays (``distance_m`` = inf)
get 0.

Ambient light (sunlight)
------------------------
``ambient_klx`` is the illuminance on the target surface in klx. The sunlight spectrum is
the ASTM G173-03 global-tilt AM1.5 reference spectrum E_G173(λ) (1000.4 W/m² over
280–4000 nm; E_v = 683 lm/W · ∫E V dλ = 109.5 klx with the CIE 1924 V(λ)), scaled to the
stated illuminance: E_sun(λ) = E_G173(λ) · ambient_klx / 109.495. Through a rectangular
band-pass filter of width B centred on the illuminator wavelength,

    E_amb   = ∫_{λ0−B/2}^{λ0+B/2} E_sun(λ) dλ,      L_amb = ρ E_amb / π,

and the same camera equation and photon conversion (integrated per wavelength,
N_ph = ∫ Φ(λ) λ/(hc) dλ) give photons/s. The default filter width is
max(30 nm, 2 × illuminator bandwidth): a band-pass filter in front of a wide-angle lens
cannot be much narrower than ~30 nm because its centre wavelength shifts with the angle of
incidence and with temperature. The active light passing that filter is the fraction of the
illuminator's Gaussian spectrum (FWHM = ``bandwidth_nm``) inside the band,
erf(B / (2√2 σ)), σ = FWHM / (2√(2 ln 2)).

Sunlight at 940 nm is ~1.9× darker than at 850 nm (G173 global: 0.472 vs 0.894 W/m²/nm)
because of the water-vapour absorption band around 900–980 nm (in a 30 nm filter band:
26.9 vs 10.1 W/m² per 100 klx, 2.7× less); that is why outdoor ToF cameras use 940 nm.

References
----------
ASTM G173-03 (reapproved 2012), *Standard Tables for Reference Solar Spectral Irradiances:
Direct Normal and Hemispherical on 37° Tilted Surface*, global-tilt column, 1 nm steps in
700–1400 nm (values as distributed by NREL and with pvlib-python, ``data/ASTMG173.csv``).
Camera equation: e.g. Smith, *Modern Optical Engineering*, 4th ed., §8 (image irradiance
E = π L T / (4 N² (1+m)²) · cos⁴θ); Hecht, *Optics*.
CIE 1924 V(λ): camtwin.spectra (colour-science). h, c: CODATA 2018 (camtwin.units).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import erf, sqrt

import numpy as np

from ..errors import ConfigError
from ..units import PLANCK_J_S, SPEED_OF_LIGHT_M_S
from .illuminator import Illuminator
from .scene import DepthScene, PinholeGeometry

__all__ = [
    "PhotonRates", "photon_rates", "solar_spectral_irradiance", "solar_band_irradiance_w_m2",
    "radiance_to_pixel_photons", "target_irradiance_w_m2", "default_filter_bandwidth_nm", "SOLAR_ILLUMINANCE_LX",
    "DEFAULT_FILTER_BANDWIDTH_NM",
]

#: Illuminance of the ASTM G173-03 global-tilt spectrum [lx]: 683 · Σ E(λ) V(λ) Δλ with the
#: CIE 1924 photopic V(λ) (camtwin.spectra.cie_table("V1924"), 360–830 nm at 1 nm) and the
#: table's native 0.5–1 nm steps, trapezoidal rule. Computed once from the full table.
SOLAR_ILLUMINANCE_LX = 109_495.0
#: Total irradiance of the same spectrum, 280–4000 nm [W/m²] (the standard's ≈1000 W/m²).
SOLAR_IRRADIANCE_W_M2 = 1000.37
#: Narrowest default band-pass filter [nm] (see the module docstring).
DEFAULT_FILTER_BANDWIDTH_NM = 30.0

#: ASTM G173-03 global tilt (37°) spectral irradiance [W·m⁻²·nm⁻¹], 700–1400 nm at 1 nm.
_G173_WL0_NM = 700.0
_G173_GLOBAL_700_1400 = """
    1.2823 1.2659 1.2674 1.2747 1.3078 1.3214 1.3144 1.309 1.3048 1.3095 1.3175 1.3155
    1.3071 1.2918 1.3029 1.2587 1.2716 1.1071 1.0296 0.92318 0.9855 1.0861 1.2407 1.1444
    1.0555 1.038 1.0813 1.085 1.04 1.0466 1.1285 1.0703 1.1534 1.1962 1.2357 1.2178 1.2059
    1.2039 1.2269 1.1905 1.2195 1.2148 1.2153 1.2405 1.2503 1.2497 1.247 1.2477 1.2401
    1.2357 1.2341 1.2286 1.233 1.2266 1.242 1.2383 1.2232 1.2221 1.2295 1.1945 0.26604
    0.15396 0.68766 0.37952 0.53878 0.68601 0.81461 0.97417 1.1138 1.1278 1.1608 1.1686
    1.1778 1.1771 1.1771 1.1771 1.1798 1.1727 1.1713 1.1765 1.1636 1.1607 1.1662 1.1614
    1.1536 1.1586 1.1592 1.145 1.1305 1.1257 1.091 1.1058 1.0953 1.0875 1.0972 1.0932 1.0742
    1.0913 1.1121 1.0905 1.0725 1.0843 1.0856 1.0657 1.0782 1.0545 1.0974 1.0859 1.0821
    1.0548 1.0559 1.0533 1.0268 1.0086 0.90356 0.89523 0.83216 0.85183 0.82259 0.90519
    0.86188 0.99764 0.95157 0.67271 0.93506 0.96935 0.93381 0.98465 0.84979 0.9293 0.91601
    0.92392 0.89426 0.9565 0.93412 1.0032 0.97234 1.0092 0.99901 1.0013 1.0157 1.0101
    0.99703 1.0053 0.98631 1.0165 1.0187 0.9917 0.99217 0.98596 0.89372 0.97493 0.96927
    0.96486 0.85112 0.913 0.97317 0.99166 0.99196 0.99171 0.98816 0.98679 0.99449 1.0005
    0.97916 0.96324 0.849 0.91546 0.9592 0.94956 0.96755 0.95387 0.96686 0.95721 0.94042
    0.92687 0.95277 0.95615 0.95237 0.93656 0.93957 0.90861 0.93245 0.92927 0.93305 0.94423
    0.90752 0.91062 0.92228 0.93455 0.92393 0.92584 0.90881 0.87327 0.8513 0.81357 0.76253
    0.66566 0.7178 0.54871 0.7426 0.59933 0.66791 0.68889 0.84457 0.81709 0.77558 0.63854
    0.65217 0.70431 0.62467 0.66808 0.68893 0.62834 0.62649 0.67836 0.57646 0.73017 0.59271
    0.73877 0.74414 0.78049 0.70026 0.74504 0.7215 0.7111 0.70331 0.78742 0.58968 0.55127
    0.4321 0.40921 0.30086 0.24841 0.1438 0.25084 0.16142 0.16338 0.20058 0.39887 0.47181
    0.37195 0.40532 0.27834 0.28579 0.36821 0.19461 0.37112 0.27423 0.49396 0.14726 0.48378
    0.26891 0.34362 0.42411 0.34117 0.32821 0.27067 0.46101 0.37385 0.42066 0.4612 0.44174
    0.50503 0.4586 0.50374 0.50275 0.5024 0.6521 0.68622 0.63461 0.71397 0.68765 0.60648
    0.57529 0.58987 0.57191 0.63864 0.61509 0.63815 0.60468 0.71338 0.69218 0.66865 0.73732
    0.68817 0.75083 0.73928 0.73462 0.74906 0.73227 0.75358 0.75102 0.73728 0.7541 0.75176
    0.74884 0.73971 0.73887 0.73857 0.73532 0.74442 0.72805 0.73442 0.72336 0.68174 0.71252
    0.72753 0.72685 0.71972 0.71914 0.72278 0.71877 0.71761 0.72068 0.70817 0.71129 0.70337
    0.71422 0.68878 0.69896 0.70175 0.6897 0.69508 0.69058 0.69753 0.69636 0.69305 0.69385
    0.68628 0.69055 0.68736 0.68787 0.67613 0.68015 0.68234 0.68202 0.67497 0.67172 0.67636
    0.6717 0.67176 0.672 0.66525 0.66833 0.66452 0.64714 0.65694 0.66274 0.65896 0.65463
    0.65521 0.65118 0.64919 0.64646 0.64847 0.64641 0.64482 0.63818 0.61875 0.63585 0.62121
    0.63266 0.62239 0.63196 0.62913 0.61713 0.62032 0.61944 0.58626 0.60469 0.61661 0.61536
    0.60363 0.62158 0.59252 0.61471 0.60434 0.60321 0.60474 0.59722 0.58083 0.5894 0.59814
    0.57852 0.5933 0.5541 0.56697 0.59317 0.57919 0.55573 0.58835 0.58124 0.51058 0.53965
    0.52067 0.50323 0.57852 0.50291 0.50772 0.48577 0.49696 0.46883 0.46637 0.46765 0.50644
    0.39792 0.48304 0.41565 0.41278 0.47899 0.33154 0.41357 0.2685 0.29985 0.24987 0.20136
    0.079618 0.21753 0.11317 0.14189 0.18586 0.081686 0.12817 0.1087 0.14428 0.051589
    0.15725 0.099224 0.10591 0.070574 0.2956 0.23411 0.15331 0.04174 0.015462 0.12876
    0.28785 0.20329 0.2985 0.25599 0.19337 0.22479 0.31183 0.11326 0.14604 0.15764 0.059176
    0.27113 0.21854 0.12164 0.2034 0.24762 0.23812 0.14248 0.31316 0.2809 0.31458 0.31171
    0.33693 0.28648 0.34753 0.35002 0.46857 0.40188 0.3886 0.37494 0.40996 0.41954 0.4231
    0.45873 0.44831 0.45483 0.45642 0.33692 0.4524 0.47679 0.47235 0.36 0.48371 0.44069
    0.45514 0.32318 0.4387 0.41985 0.40741 0.47715 0.45575 0.33504 0.41569 0.46239 0.4466
    0.47336 0.45434 0.4689 0.44696 0.43131 0.47715 0.43392 0.36489 0.44825 0.43708 0.43717
    0.43409 0.36247 0.43692 0.48086 0.42986 0.43346 0.41428 0.45336 0.42232 0.42489 0.46956
    0.43407 0.4278 0.4664 0.45528 0.45934 0.44663 0.45805 0.46531 0.45139 0.44406 0.44808
    0.46236 0.46819 0.43304 0.46658 0.46721 0.46003 0.47203 0.46633 0.45397 0.47016 0.46504
    0.46908 0.46339 0.46797 0.46272 0.46077 0.46197 0.46247 0.45754 0.45528 0.45655 0.45945
    0.45746 0.4586 0.45966 0.45705 0.45258 0.45097 0.44773 0.44363 0.4507 0.44023 0.43532
    0.44496 0.42725 0.4311 0.41146 0.39567 0.40019 0.37148 0.3957 0.38527 0.38822 0.37051
    0.24652 0.38744 0.40825 0.40879 0.40625 0.40614 0.41233 0.41693 0.42001 0.42763 0.42456
    0.42204 0.41335 0.37305 0.40733 0.42078 0.42399 0.42714 0.42213 0.41989 0.40936 0.41285
    0.41786 0.39618 0.41257 0.40421 0.40514 0.38957 0.3713 0.39183 0.40852 0.35312 0.36228
    0.39181 0.34621 0.30062 0.38382 0.38453 0.30594 0.34696 0.38413 0.30114 0.33366 0.33337
    0.31352 0.28833 0.28581 0.32419 0.31217 0.33328 0.26855 0.25872 0.29866 0.30217 0.23279
    0.26249 0.32224 0.28051 0.26625 0.2345 0.17759 0.22923 0.1448 0.14579 0.20304 0.16925
    0.23117 0.18348 0.16454 0.17804 0.17681 0.16831 0.17039 0.17798 0.12711 0.075645 0.10904
    0.058186 0.060119 0.0047451 0.016159 0.016025 0.0046298 0.0015164 0.000096096 0.00029009
    0.0000036034 0.00004807 0.000071786 0.0000041948 0.00000073439 0.0000021404
    0.0000000048133 1.8076E-11 0.0000031563 0.0000013589 9.0764E-12 0.000012791 0.0000049764
    1.481E-13 0.00000051667 0.000000292 0.000000019731 0.0000027498 0.000044401 0.00017917
    0.00032332 0.00025748 0.0001227 0.0011089 0.000052164 0.000081587 0.0000023716
    0.0000025672 0.000000044017 0.00000061689 0.0000020899 0.0000025215 0.00019896
    0.0000040262 0.00058098 0.00049328 0.00034384 0.000023782 0.00011586 0.000075526
    0.00000067136 0.0000000063215 0.000049057 0.0012704 0.00081226 0.0000000032466
"""
_G173 = np.array(_G173_GLOBAL_700_1400.split(), dtype=np.float64)
_G173.setflags(write=False)
_G173_WL = _G173_WL0_NM + np.arange(_G173.size, dtype=np.float64)


def solar_spectral_irradiance(wavelengths_nm, ambient_klx: float = 100.0) -> np.ndarray:
    """Sunlight spectral irradiance [W·m⁻²·nm⁻¹] at ``wavelengths_nm`` (700–1400 nm) for an
    illuminance of ``ambient_klx`` klx: E_G173(λ) · ambient_klx·1000 / 109 495 lx (linear
    interpolation of the 1 nm table)."""
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    if np.any(wl < _G173_WL[0]) or np.any(wl > _G173_WL[-1]):
        raise ConfigError(f"wavelengths_nm = {np.min(wl):g}..{np.max(wl):g}: the sunlight "
                          f"table covers {_G173_WL[0]:g}..{_G173_WL[-1]:g} nm")
    _check_klx(ambient_klx)
    return np.interp(wl, _G173_WL, _G173) * (ambient_klx * 1000.0 / SOLAR_ILLUMINANCE_LX)


def _band_grid(center_nm: float, bandwidth_nm: float) -> np.ndarray:
    lo, hi = center_nm - bandwidth_nm / 2, center_nm + bandwidth_nm / 2
    if lo < _G173_WL[0] or hi > _G173_WL[-1]:
        raise ConfigError(f"filter band {lo:g}..{hi:g} nm: must lie within the sunlight table "
                          f"{_G173_WL[0]:g}..{_G173_WL[-1]:g} nm")
    n = max(int(np.ceil(bandwidth_nm / 0.1)), 2) + 1  # ≤ 0.1 nm steps
    return np.linspace(lo, hi, n)


def solar_band_irradiance_w_m2(center_nm: float, bandwidth_nm: float,
                               ambient_klx: float = 100.0) -> float:
    """Sunlight irradiance [W/m²] inside a rectangular band [c − B/2, c + B/2]:
    ∫ E_sun(λ) dλ (trapezoidal on ≤ 0.1 nm steps of the linearly interpolated table, which
    is exact for the piecewise-linear table)."""
    wl = _band_grid(center_nm, bandwidth_nm)
    return float(np.trapezoid(solar_spectral_irradiance(wl, ambient_klx), wl))


def _solar_band_photon_irradiance(center_nm, bandwidth_nm, ambient_klx) -> float:
    """∫ E_sun(λ) · λ/(hc) dλ [photons·s⁻¹·m⁻²] over the band."""
    wl = _band_grid(center_nm, bandwidth_nm)
    e = solar_spectral_irradiance(wl, ambient_klx) * (wl * 1e-9) / (PLANCK_J_S * SPEED_OF_LIGHT_M_S)
    return float(np.trapezoid(e, wl))


def _check_klx(ambient_klx):
    v = float(ambient_klx)
    if not np.isfinite(v) or not 0.0 <= v <= 200.0:
        raise ConfigError(f"ambient_klx = {ambient_klx!r}: must be in [0, 200] klx "
                          "(full sunlight ≈ 100–120 klx)")


def default_filter_bandwidth_nm(illuminator: Illuminator) -> float:
    """max(30 nm, 2 × illuminator bandwidth) [nm]."""
    return max(DEFAULT_FILTER_BANDWIDTH_NM, 2.0 * illuminator.bandwidth_nm)


def _camera_factor(geom: PinholeGeometry) -> np.ndarray:
    """E_pix·p²·FF / L = π T cos⁴θ_c p² FF / (4 N²)  [m²·sr], per pixel (H, W)."""
    cos_c = geom.ray_directions()[..., 2]
    pitch_m = geom.pixel_pitch_um * 1e-6
    return (np.pi * geom.lens_transmission * cos_c**4 * pitch_m**2 * geom.fill_factor
            / (4.0 * geom.f_number**2))


def radiance_to_pixel_photons(radiance_w_m2_sr, geom: PinholeGeometry,
                              wavelength_nm: float) -> np.ndarray:
    """Photons/s on one pixel's photosensitive area from scene radiance L [W/(m²·sr)]
    (scalar or (H, W)): N = π L T cos⁴θ_c p² FF / (4N²) · λ/(hc)."""
    watts = np.asarray(radiance_w_m2_sr, dtype=np.float64) * _camera_factor(geom)
    return watts * (wavelength_nm * 1e-9) / (PLANCK_J_S * SPEED_OF_LIGHT_M_S)


@dataclass(frozen=True, eq=False)
class PhotonRates:
    """Photons/s arriving on one pixel's photosensitive area (before QE), (H, W) each
    ((frames, H, W) is accepted too, e.g. one map per iToF phase frame of a moving scene).

    active : the illuminator's light, time-averaged over the modulation period while the
        emitter is on (not multiplied by the frame-level ``duty_cycle``; photons per pulse
        = active / repetition_rate_hz).
    ambient : sunlight inside the band-pass filter (constant in time).
    wavelength_nm, filter_bandwidth_nm : what they were computed for (None if unknown).

    On a supersampled scene each value is for one sub-pixel (area (p/k)²); the pixel
    receives the sum over its k×k block (k² · :func:`~.scene.bin_pixels`).
    """

    active: np.ndarray
    ambient: np.ndarray
    wavelength_nm: float | None = None
    filter_bandwidth_nm: float | None = None

    def __post_init__(self):
        a = np.array(self.active, dtype=np.float64)
        b = np.array(self.ambient, dtype=np.float64)
        if b.ndim == 0:
            b = np.full(a.shape, float(b))
        if a.shape != b.shape or a.ndim not in (2, 3):
            raise ConfigError(f"PhotonRates: active {a.shape} and ambient {b.shape} must be "
                              "(H, W) arrays (or (frames, H, W)) of the same shape")
        for name, x in (("active", a), ("ambient", b)):
            if not np.isfinite(x).all() or (x < 0).any():
                raise ConfigError(f"PhotonRates.{name}: photon rates must be finite and >= 0 "
                                  "photons/s")
            x.setflags(write=False)
        object.__setattr__(self, "active", a)
        object.__setattr__(self, "ambient", b)

    @property
    def total(self) -> np.ndarray:
        """active + ambient [photons/s]."""
        return self.active + self.ambient


def target_irradiance_w_m2(scene: DepthScene, illuminator: Illuminator, *,
                           offset_mm=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Irradiance of the illuminator on the surface seen by each pixel [W/m²], (H, W):
    E_t = I(θx, θy) · max(0, cos θ_i) / |v|², v = P − o (0 where nothing is hit). Time
    average while on; all of the illuminator's spectrum (no filter). Useful for second
    bounces (multipath): the surface there is a Lambertian source of radiance ρE_t/π."""
    o = np.asarray(offset_mm, dtype=np.float64)
    if o.shape != (3,) or not np.isfinite(o).all() or np.linalg.norm(o) > 1000:
        raise ConfigError(f"offset_mm = {offset_mm!r}: must be three finite numbers (x, y, z) "
                          "in mm with length <= 1000 mm")
    o = o * 1e-3
    hit = np.isfinite(scene.distance_m)
    r = np.where(hit, scene.distance_m, 0.0)
    v = r[..., None] * scene.geometry.ray_directions() - o
    dist2 = np.einsum("hwc,hwc->hw", v, v)
    n = np.where(hit[..., None], scene.normal, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos_i = np.where(hit, -np.einsum("hwc,hwc->hw", n, v) / np.sqrt(dist2), 0.0)
        e_t = np.where(hit, illuminator.radiant_intensity_w_sr(v) * np.clip(cos_i, 0, None)
                       / dist2, 0.0)
    return e_t


def photon_rates(scene: DepthScene, illuminator: Illuminator, *, ambient_klx: float = 0.0,
                 filter_bandwidth_nm: float | None = None,
                 offset_mm=(0.0, 0.0, 0.0)) -> PhotonRates:
    """Photons/s on each pixel from the illuminator (one Lambertian bounce) and sunlight.

    Parameters
    ----------
    scene : DepthScene
    illuminator : Illuminator
    ambient_klx : [0, 200] klx
        Sunlight illuminance on the target surfaces.
    filter_bandwidth_nm : (0, 300] nm or None
        Rectangular band-pass width centred on the illuminator wavelength; None:
        max(30 nm, 2 × illuminator bandwidth).
    offset_mm : (x, y, z) of the illuminator relative to the camera pinhole [mm], |·| ≤ 1 m.

    Returns
    -------
    PhotonRates with ``active`` and ``ambient`` (H, W) [photons/s] (see the module
    docstring for the equations).

    Example
    -------
    >>> from camtwin.depth.scene import PinholeGeometry, plane
    >>> g = PinholeGeometry(width_px=8, height_px=6, pixel_pitch_um=10, focal_length_mm=2,
    ...                     f_number=1.2)
    >>> ill = Illuminator(optical_power_w=1, wavelength_nm=940, fov_h_deg=60, fov_v_deg=45)
    >>> r = photon_rates(plane(g, 1.0, 0.5), ill, ambient_klx=100)
    >>> bool((r.ambient > r.active).all())  # 100 klx in 30 nm outshines 1 W at 1 m
    True
    """
    _check_klx(ambient_klx)
    if filter_bandwidth_nm is None:
        bw = default_filter_bandwidth_nm(illuminator)
    else:
        bw = float(filter_bandwidth_nm)
        if not np.isfinite(bw) or not 0 < bw <= 300:
            raise ConfigError(f"filter_bandwidth_nm = {filter_bandwidth_nm!r}: must be in "
                              "(0, 300] nm")
    geom = scene.geometry
    lam = illuminator.wavelength_nm
    hit = np.isfinite(scene.distance_m)
    rho = np.where(hit, scene.reflectance, 0.0)
    cam = _camera_factor(geom)
    to_photons = (lam * 1e-9) / (PLANCK_J_S * SPEED_OF_LIGHT_M_S)

    # active: E_t = I cos θ_i / |v|², L = ρ E_t / π
    e_t = target_irradiance_w_m2(scene, illuminator, offset_mm=offset_mm)
    sigma = illuminator.bandwidth_nm / (2.0 * sqrt(2.0 * np.log(2.0)))
    in_band = erf(bw / (2.0 * sqrt(2.0) * sigma))
    active = rho * e_t / np.pi * cam * to_photons * in_band

    # ambient: L = ρ E_band / π (photon-weighted over the band)
    if ambient_klx > 0:
        q_band = _solar_band_photon_irradiance(lam, bw, ambient_klx)
        ambient = rho * q_band / np.pi * cam
    else:
        ambient = np.zeros(geom.shape)
    return PhotonRates(active=active, ambient=ambient, wavelength_nm=lam,
                       filter_bandwidth_nm=bw)
