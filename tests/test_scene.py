"""Scenes: Lambertian radiance, chart geometry, ColorChecker colorimetry, RGB → spectrum."""

from __future__ import annotations

import colour
import numpy as np
import pytest

from camtwin import spectra
from camtwin.errors import ConfigError, UnknownNameError
from camtwin.measure.color import reference_xyz_d65
from camtwin.scene import colorchecker, from_rgb, make_chart, siemens_star, slanted_edge, uniform
from camtwin.units import K_M_LM_PER_W, wavelength_step_nm

GEOM = dict(width_m=0.5, distance_m=1.0)


def luminance(radiance_lhw, wl):
    """Photometric luminance [cd/m²] = 683 Σ L V Δλ, per sample."""
    w = spectra.photopic_v(wl) * wavelength_step_nm(wl) * K_M_LM_PER_W
    return np.tensordot(w, radiance_lhw, axes=(0, 0))


def test_lambertian_luminance_is_rho_e_over_pi():
    # L_v = ρ·E_v/π for a Lambertian surface (law, independent of the spectrum)
    for ill in ("D65", "A", "F11", "LED"):
        sc = uniform(shape=(8, 8), illuminant=ill, illuminance_lux=320.0, reflectance=0.5, **GEOM)
        lv = luminance(sc.radiance, sc.wavelengths_nm)
        np.testing.assert_allclose(lv, 0.5 * 320.0 / np.pi, rtol=1e-5)


def test_colorchecker_scene_matches_published_colorimetry():
    """XYZ of each rendered patch under D65 agrees with colour-science's BabelColor xyY
    (adapted D50→D65 by Bradford) to within 1.5 ΔE00 — two independent routes."""
    sc = colorchecker(shape=(80, 120), illuminant="D65", illuminance_lux=100.0, **GEOM)
    wl = sc.wavelengths_nm
    cmf = spectra.cie1931_cmfs(wl) * wavelength_step_nm(wl)[:, None]
    white = spectra.illuminant_spd("D65", wl) @ cmf
    xyz = []
    for y0, y1, x0, x1 in sc.layout["patches"]:
        r = int((y0 + y1) / 2 * 80), int((x0 + x1) / 2 * 120)
        xyz.append(sc.radiance[:, r[0], r[1]] @ cmf)
    e_d65 = spectra.scale_to_illuminance(spectra.illuminant_spd("D65", wl), 100.0, wl)
    xyz = np.array(xyz) / ((e_d65 / np.pi) @ cmf)[1]  # Y(white diffuser) = 1
    wp = colour.XYZ_to_xy(white)
    de = colour.delta_E(colour.XYZ_to_Lab(xyz, wp), colour.XYZ_to_Lab(reference_xyz_d65(), wp),
                        method="CIE 2000")
    assert np.max(de) < 1.5, de


def test_slanted_edge_geometry_and_contrast():
    sc = slanted_edge(shape=(200, 200), illuminant="D65", illuminance_lux=100.0, angle_deg=5.0,
                      contrast=4.0, light_reflectance=0.6, **GEOM)
    lv = luminance(sc.radiance, sc.wavelengths_nm)
    light, dark = 0.6 * 100 / np.pi, 0.15 * 100 / np.pi
    assert lv[100, 190] == pytest.approx(light, rel=1e-5)
    assert lv[100, 10] == pytest.approx(dark, rel=1e-5)
    frac = (lv - dark) / (light - dark)
    # edge position per row (area coverage crosses 0.5) moves by tan(5°) per row
    rows = np.arange(20, 180)
    pos = [np.interp(0.5, frac[r], np.arange(200)) for r in rows]
    slope = np.polyfit(rows, pos, 1)[0]
    assert slope == pytest.approx(np.tan(np.deg2rad(5.0)), abs=2e-3)  # moves right going down


def test_siemens_star_is_anti_aliased_and_balanced():
    sc = siemens_star(shape=(101, 101), illuminant="D65", illuminance_lux=100.0, **GEOM)
    lv = luminance(sc.radiance, sc.wavelengths_nm)
    inner = lv[30:71, 30:71]
    assert inner.min() < inner.max() / 5
    assert len(np.unique(np.round(inner, 6))) > 10  # intermediate (anti-aliased) values


def test_rgb_white_and_grey_give_flat_reflectance():
    img = np.zeros((10, 10, 3), np.uint8)
    img[:5] = 255
    img[5:] = 119  # ≈ 18 % linear (sRGB 119/255 → 0.184)
    sc = from_rgb(img, illuminant="D65", illuminance_lux=100.0, **GEOM)
    e = spectra.scale_to_illuminance(spectra.illuminant_spd("D65"), 100.0)
    refl = sc.radiance[:, :, 0] / (e / np.pi)[:, None]
    vis = (sc.wavelengths_nm >= 400) & (sc.wavelengths_nm <= 700)
    np.testing.assert_allclose(refl[vis, 0], 1.0, atol=0.01)
    np.testing.assert_allclose(refl[vis, 9], colour.cctf_decoding(119 / 255, "sRGB"), atol=0.01)


def test_rgb_colour_round_trip_under_d65():
    """A saturated sRGB colour rendered under D65 returns (nearly) its own colour."""
    rgb = np.array([[[200, 60, 40]]], np.uint8)
    sc = from_rgb(rgb, illuminant="D65", illuminance_lux=100.0, shape=(8, 8), **GEOM)
    wl = sc.wavelengths_nm
    cmf = spectra.cie1931_cmfs(wl) * wavelength_step_nm(wl)[:, None]
    e = spectra.scale_to_illuminance(spectra.illuminant_spd("D65", wl), 100.0, wl)
    xyz = sc.radiance[:, 4, 4] @ cmf / ((e / np.pi) @ cmf)[1]
    back = colour.XYZ_to_RGB(xyz, "sRGB", apply_cctf_encoding=False)
    ref = colour.cctf_decoding(rgb[0, 0] / 255.0, "sRGB")
    np.testing.assert_allclose(back, ref, atol=0.02)


def test_unknown_chart_and_bad_parameters():
    with pytest.raises(UnknownNameError, match="colorchecker"):
        make_chart("rainbow", shape=(10, 10), **GEOM)
    with pytest.raises(ConfigError, match="contrast"):
        slanted_edge(shape=(10, 10), contrast=0.5, **GEOM)
    with pytest.raises(ConfigError, match="illuminance_lux"):
        uniform(shape=(10, 10), illuminance_lux=-1, **GEOM)


def test_scene_replace_is_validated_and_keeps_the_rest():
    # Scene stopped being a dataclass (streamed capture keeps a reflectance map instead of
    # the cube); Scene.replace is its copy-with-changes
    import pytest as _pytest

    from camtwin.errors import ConfigError
    from camtwin.scene import make_chart

    sc = make_chart("colorchecker", shape=(24, 36), width_m=0.3, distance_m=1.0,
                    illuminant="D65", illuminance_lux=100.0)
    wider = sc.replace(width_m=0.6)
    assert wider.width_m == 0.6 and wider.distance_m == sc.distance_m
    assert wider.reflectance is sc.reflectance and wider.name == sc.name
    cube = sc.radiance[:, :12, :18].copy()
    part = sc.replace(radiance=cube, width_m=0.15)
    assert part.shape == (12, 18) and part.reflectance is None
    with _pytest.raises(ConfigError, match="unknown field"):
        sc.replace(colour="red")
    with _pytest.raises(ConfigError, match="must both be > 0"):
        sc.replace(width_m=-1.0)
