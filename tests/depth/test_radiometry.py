"""Radiometry of active depth cameras: illuminator beam, photon rates per pixel, sunlight.

Laws checked: inverse square, Lambert's cosine law, the camera equation against a hand
calculation, energy conservation of the beam profile, sunlight darker at 940 nm than at
850 nm (ASTM G173-03 water-vapour band).
"""

from __future__ import annotations

import numpy as np
import pytest

from camtwin.depth.illuminator import Illuminator
from camtwin.depth.radiometry import (
    SOLAR_ILLUMINANCE_LX, PhotonRates, photon_rates, radiance_to_pixel_photons,
    solar_band_irradiance_w_m2, solar_spectral_irradiance, target_irradiance_w_m2,
)
from camtwin.depth.scene import PinholeGeometry, bin_pixels, plane, slanted_plane, sphere
from camtwin.errors import ConfigError
from camtwin.units import PLANCK_J_S, SPEED_OF_LIGHT_M_S

# Odd sizes: the centre pixel looks straight down the optical axis.
GEOM = PinholeGeometry(width_px=9, height_px=7, pixel_pitch_um=10.0, focal_length_mm=2.0,
                       f_number=2.0, lens_transmission=0.9, fill_factor=0.5)
C = (3, 4)  # centre pixel (row, column)


def _ill(**kw):
    base = dict(kind="vcsel", optical_power_w=1.0, wavelength_nm=850.0, bandwidth_nm=2.0,
                fov_h_deg=60.0, fov_v_deg=60.0, profile="flat", modulation="cw_square")
    base.update(kw)
    return Illuminator(**base)


def test_camera_equation_hand_calculation():
    # Written out by hand (flat 60°×60° beam, 1 W, 850 nm; plane at 2 m, ρ = 0.5; centre pixel):
    #   Ω     = 4·asin(sin 30° · sin 30°) = 4·asin(0.25)            = 1.0107210 sr
    #   I₀    = 1 W / Ω                                             = 0.9893927 W/sr
    #   E_t   = I₀ · cos 0 / (2 m)²                                 = 0.24734818 W/m²
    #   L     = ρ E_t / π = 0.5 · 0.24734818 / π                    = 0.039366685 W/(m² sr)
    #   E_pix = π L T / (4 N²) = π · 0.039366685 · 0.9 / (4 · 2²)   = 6.9566674e-3 W/m²
    #   Φ     = E_pix · (10 µm)² · FF 0.5                            = 3.4783337e-13 W
    #   N_ph  = Φ · 850 nm / (h c)                                  = 1.4883787e6 photons/s
    r = photon_rates(plane(GEOM, 2.0, 0.5), _ill())
    assert r.active[C] == pytest.approx(1.4883787e6, rel=1e-7)
    assert r.ambient[C] == 0.0


def test_inverse_square_law():
    a1 = photon_rates(plane(GEOM, 1.0), _ill()).active
    a2 = photon_rates(plane(GEOM, 2.0), _ill()).active
    # same ray angles, same cos θ_i: the ratio is exactly (2/1)² everywhere
    np.testing.assert_allclose(a1 / a2, 4.0, rtol=1e-12)


@pytest.mark.parametrize("tilt", [15.0, 40.0, 60.0])
def test_lambert_cosine_law(tilt):
    # the centre ray hits both planes at (0, 0, 1 m); only the angle of incidence differs
    flat = photon_rates(plane(GEOM, 1.0), _ill()).active[C]
    tilted = photon_rates(slanted_plane(GEOM, 1.0, tilt), _ill()).active[C]
    assert tilted / flat == pytest.approx(np.cos(np.radians(tilt)), rel=1e-12)


def test_cos4_falloff_off_axis():
    # on a sphere centred on the camera every pixel sees the same E_t (I flat, normal incidence)
    # so the image falls off exactly as cos⁴θ_c
    g = GEOM.replace(focal_length_mm=0.03)  # f = 3 px: ±53° across the 9 px width
    d = g.ray_directions()
    # plane r = D/d_z gives E_t ∝ d_z³; divide that out to isolate the camera's cos⁴
    a = photon_rates(plane(g, 1.0), _ill(fov_h_deg=120, fov_v_deg=120)).active
    np.testing.assert_allclose(a / a[C], d[..., 2] ** 3 * d[..., 2] ** 4, rtol=1e-12)


def test_illuminator_offset():
    # illuminator 50 mm to the right: compare the centre pixel with a direct evaluation
    ill = _ill(profile="gaussian", fov_h_deg=40, fov_v_deg=30)
    s = plane(GEOM, 0.5, 0.5)
    r = photon_rates(s, ill, offset_mm=(50, 0, 0)).active[C]
    v = np.array([-0.05, 0.0, 0.5])
    dist = np.linalg.norm(v)
    intensity = ill.peak_intensity_w_sr * np.exp(-4 * np.log(2) * (np.arctan(-0.05 / 0.5)
                                                                   / np.radians(40)) ** 2)
    e_t = intensity * (0.5 / dist) / dist**2
    pix = 0.5 * e_t / np.pi * np.pi * 0.9 / (4 * 4) * 1e-10 * 0.5 * 850e-9 / (
        PLANCK_J_S * SPEED_OF_LIGHT_M_S)
    assert r == pytest.approx(pix, rel=1e-12)


@pytest.mark.parametrize("profile, fh, fv", [
    ("flat", 60, 45), ("flat", 120, 90), ("gaussian", 20, 10), ("gaussian", 70, 55),
    ("gaussian", 150, 120),
])
def test_beam_energy_conservation(profile, fh, fv):
    # Independent integration in spherical coordinates (polar θ from +z, azimuth φ):
    # ∫ I dΩ = ∫∫ I(θ, φ) sin θ dθ dφ over the forward hemisphere must equal the power.
    ill = _ill(optical_power_w=2.5, profile=profile, fov_h_deg=fh, fov_v_deg=fv)
    n_t, n_p = 3000, 1440
    th = (np.arange(n_t) + 0.5) * (np.pi / 2) / n_t
    ph = (np.arange(n_p) + 0.5) * 2 * np.pi / n_p
    T, P = np.meshgrid(th, ph, indexing="ij")
    dirs = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1)
    total = np.sum(ill.radiant_intensity_w_sr(dirs) * np.sin(T)) * (np.pi / 2 / n_t) * (
        2 * np.pi / n_p)
    # hard edges of the flat field cost the midpoint rule ~1e-3; smooth beams converge further
    assert total == pytest.approx(2.5, rel=2e-3 if profile == "flat" else 1e-4)


def test_gaussian_fwhm():
    ill = _ill(profile="gaussian", fov_h_deg=50, fov_v_deg=20)
    assert ill.relative_intensity(np.radians(25), 0) == pytest.approx(0.5)
    assert ill.relative_intensity(0, np.radians(-10)) == pytest.approx(0.5)
    # small beams: Ω_eff → π/(4 ln 2)·Θh·Θv (the flat-sky Gaussian integral) times the
    # sphere's curvature term: dΩ ≈ (1 − (θx² + θy²)/2) dθx dθy → 1 − (σx² + σy²)/2
    small = _ill(profile="gaussian", fov_h_deg=2, fov_v_deg=1)
    sx, sy = np.radians(2) / 2.35482, np.radians(1) / 2.35482
    flat_sky = np.pi / (4 * np.log(2)) * np.radians(2) * np.radians(1)
    assert small.solid_angle_sr == pytest.approx(flat_sky * (1 - (sx**2 + sy**2) / 2), rel=1e-6)


def test_sunlight_reference_values():
    # ASTM G173-03 global tilt, 1 nm table: 0.89372 W/m²/nm at 850 nm, 0.47181 at 940 nm,
    # at the table's own illuminance (109.5 klx, computed from the full table with CIE V(λ))
    klx = SOLAR_ILLUMINANCE_LX / 1000
    assert solar_spectral_irradiance(850.0, klx) == pytest.approx(0.89372, rel=1e-12)
    assert solar_spectral_irradiance(940.0, klx) == pytest.approx(0.47181, rel=1e-12)
    # the luminous efficacy of daylight is ≈ 100–110 lm/W (AM1.5 global: 1000 W/m² ↔ ~109 klx)
    assert 100_000 < SOLAR_ILLUMINANCE_LX < 112_000
    # linear in klx
    assert solar_band_irradiance_w_m2(850, 30, 50) == pytest.approx(
        solar_band_irradiance_w_m2(850, 30, 100) / 2, rel=1e-12)


def test_vendored_g173_table_intact():
    # ∫_{700}^{1400} E_G173,global dλ = 415.13873 W/m² (trapezoidal, 1 nm), computed from the
    # ASTM G173-03 table as shipped with pvlib-python (data/ASTMG173.csv, 'global' column)
    from camtwin.depth.radiometry import _G173, _G173_WL

    assert _G173.size == 701 and _G173_WL[0] == 700 and _G173_WL[-1] == 1400
    assert np.trapezoid(_G173, _G173_WL) == pytest.approx(415.13873, rel=1e-7)


def test_ambient_940_darker_than_850():
    s = plane(GEOM, 1.0, 0.5)
    a850 = photon_rates(s, _ill(wavelength_nm=850), ambient_klx=100).ambient[C]
    a940 = photon_rates(s, _ill(wavelength_nm=940), ambient_klx=100).ambient[C]
    # water-vapour absorption band around 940 nm: in a 30 nm band G173 gives 26.9 W/m² at
    # 850 nm vs 10.1 W/m² at 940 nm per 100 klx (a photon-count ratio ≈ 0.41)
    assert a940 < 0.5 * a850
    assert solar_band_irradiance_w_m2(940, 30, 100) / solar_band_irradiance_w_m2(850, 30, 100) \
        == pytest.approx(10.09 / 26.90, rel=2e-3)


def test_ambient_hand_calculation():
    # L_amb = ρ E_band / π; photons via the band's mean photon energy (≈ the centre's to 0.1 %)
    s = plane(GEOM, 1.0, 0.4)
    r = photon_rates(s, _ill(wavelength_nm=850), ambient_klx=20, filter_bandwidth_nm=40)
    e_band = solar_band_irradiance_w_m2(850, 40, 20)
    ref = radiance_to_pixel_photons(0.4 * e_band / np.pi, GEOM, 850.0)[C]
    assert r.ambient[C] == pytest.approx(ref, rel=2e-3)
    # ambient does not depend on distance (radiance is conserved), unlike the active part
    r2 = photon_rates(plane(GEOM, 3.0, 0.4), _ill(), ambient_klx=20, filter_bandwidth_nm=40)
    np.testing.assert_allclose(r2.ambient, r.ambient, rtol=1e-12)


def test_filter_cuts_wide_led_spectrum():
    led = _ill(kind="led", bandwidth_nm=40.0)
    s = plane(GEOM, 1.0)
    wide = photon_rates(s, led, filter_bandwidth_nm=300).active[C]
    narrow = photon_rates(s, led, filter_bandwidth_nm=40).active[C]
    # a rectangular filter as wide as the FWHM passes erf(√(ln 2)) = 0.7610 of a Gaussian
    assert narrow / wide == pytest.approx(0.76100, rel=1e-4)


def test_no_return_and_back_facing_get_nothing():
    s = sphere(GEOM, 1.0, 0.1, wall_distance_m=5.0)
    r = photon_rates(s, _ill(), ambient_klx=10)
    assert (r.active > 0).all()
    # rays outside a narrow beam get no active light
    narrow = photon_rates(plane(GEOM, 1.0), _ill(fov_h_deg=1, fov_v_deg=1)).active
    assert narrow[C] > 0 and narrow[0, 0] == 0.0
    sp = slanted_plane(GEOM, 1.0, 88.9)  # tilt + half FOV 1.3° > 90°: past grazing: no return → 0
    rr = photon_rates(sp, _ill(fov_h_deg=120, fov_v_deg=120), ambient_klx=10)
    miss = ~np.isfinite(sp.distance_m)
    assert miss.any() and (rr.active[miss] == 0).all() and (rr.ambient[miss] == 0).all()


def test_supersampled_rates_sum_to_pixel():
    k = 5
    s1 = plane(GEOM, 1.5, 0.5)
    sk = plane(GEOM.supersampled(k), 1.5, 0.5)
    r1 = photon_rates(s1, _ill(), ambient_klx=50)
    rk = photon_rates(sk, _ill(), ambient_klx=50)
    # the pixel collects the sum of its k×k sub-pixels (sub-pixel area = (p/k)²)
    np.testing.assert_allclose(k * k * bin_pixels(rk.active, k), r1.active, rtol=2e-3)
    np.testing.assert_allclose(k * k * bin_pixels(rk.ambient, k), r1.ambient, rtol=2e-3)


def test_photon_rates_errors():
    s = plane(GEOM, 1.0)
    with pytest.raises(ConfigError, match=r"ambient_klx = -1.*\[0, 200\]"):
        photon_rates(s, _ill(), ambient_klx=-1)
    with pytest.raises(ConfigError, match="filter_bandwidth_nm = 0"):
        photon_rates(s, _ill(), filter_bandwidth_nm=0)
    with pytest.raises(ConfigError, match="offset_mm"):
        photon_rates(s, _ill(), offset_mm=(0, 0))
    with pytest.raises(ConfigError, match="sunlight table"):
        photon_rates(s, _ill(wavelength_nm=1395), ambient_klx=1)
    with pytest.raises(ConfigError, match="same shape"):
        PhotonRates(active=np.ones((3, 3)), ambient=np.ones((3, 4)))
    with pytest.raises(ConfigError, match=">= 0"):
        PhotonRates(active=-np.ones((3, 3)), ambient=np.ones((3, 3)))


def test_illuminator_timing():
    p = _ill(optical_power_w=0.5, modulation="pulsed", pulse_width_ns=5.0,
             repetition_rate_hz=2e6, duty_cycle=0.25)
    # τ f = 5 ns · 2 MHz = 0.01 → peak = 0.5 W / 0.01 = 50 W; Q = 0.5 W / 2 MHz = 0.25 µJ
    assert p.pulse_duty_cycle == pytest.approx(0.01)
    assert p.peak_power_w == pytest.approx(50.0)
    assert p.pulse_energy_j == pytest.approx(0.25e-6)
    assert p.average_power_w == pytest.approx(0.125)
    assert _ill(modulation="cw_sine").peak_power_w == pytest.approx(2.0)
    assert _ill(modulation="cw_square").pulse_energy_j is None


@pytest.mark.parametrize("kw, match", [
    (dict(optical_power_w=-0.1), r"optical_power_w = -0.1: Input should be greater"),
    (dict(wavelength_nm=500), r"wavelength_nm = 500"),
    (dict(fov_h_deg=0), r"fov_h_deg = 0"),
    (dict(duty_cycle=1.5), r"duty_cycle = 1.5"),
    (dict(profile="tophat"), r"profile = 'tophat'"),
    (dict(modulation="pulsed", pulse_width_ns=10), r"repetition_rate_hz is required"),
    (dict(modulation="pulsed", pulse_width_ns=1e3, repetition_rate_hz=2e6), r"pulses overlap"),
    (dict(pulse_width_ns=10), r"only valid with modulation = 'pulsed'"),
])
def test_illuminator_validation(kw, match):
    with pytest.raises(ConfigError, match=match) as exc:
        _ill(**kw)
    assert "\n" not in str(exc.value)


def test_power_on_a_plane_equals_beam_power():
    # Σ over pixels of the target irradiance E_t times each pixel's footprint on the plane
    # z = D, (D·p/f)², is the beam power that lands on the plane: for a Gaussian beam
    # (FWHM 20°×15°) well inside a ±60° view that is all of it. E_t is recovered from the
    # photon rate through the camera factor: E_t = π·N_ph / (ρ · N_ph(L = 1 W/(m²·sr))).
    g = PinholeGeometry(width_px=401, height_px=401, pixel_pitch_um=10.0,
                        focal_length_mm=200 / np.tan(np.radians(60)) * 1e-2, f_number=2.0)
    ill = _ill(optical_power_w=1.7, profile="gaussian", fov_h_deg=20, fov_v_deg=15)
    d_m, rho = 2.0, 0.5
    r = photon_rates(plane(g, d_m, rho), ill)
    e_t = np.pi * r.active / (rho * radiance_to_pixel_photons(1.0, g, ill.wavelength_nm))
    footprint_m2 = (d_m / g.focal_px) ** 2
    assert np.sum(e_t) * footprint_m2 == pytest.approx(1.7, rel=1e-6)  # midpoint rule, smooth
    np.testing.assert_allclose(target_irradiance_w_m2(plane(g, d_m, rho), ill), e_t,
                               rtol=1e-10)
