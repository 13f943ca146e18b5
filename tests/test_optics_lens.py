"""Pupil-function optics: Zernike polynomials, PSF/OTF against analytic results, thin-lens
defocus against Hopkins' defocused OTF, Maréchal's Strehl ratio, lens geometry models."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from camtwin.errors import ConfigError
from camtwin.optics import (LensSpec, airy_psf, apply_diffraction, apply_lens_blur,
                            diffraction_mtf, form_image)
from camtwin.optics._kernels import multiply_otf_bilinear
from camtwin.optics.pupil import mtf_radial, otf_grid, pupil_psf, sample_otf
from camtwin.optics.zernike import noll_to_nm, zernike


# --- Zernike -----------------------------------------------------------------------------------

def test_noll_table_and_closed_forms():
    # Noll (1976) Table I: (n, m) of j = 1…11 and the closed forms of Z4, Z7, Z11
    assert [noll_to_nm(j) for j in range(1, 12)] == [
        (0, 0), (1, 1), (1, -1), (2, 0), (2, -2), (2, 2), (3, -1), (3, 1), (3, -3), (3, 3),
        (4, 0)]
    rho, th = np.array([0.0, 0.3, 0.7, 1.0]), np.array([0.1, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(zernike(4, rho, th), np.sqrt(3) * (2 * rho**2 - 1))
    np.testing.assert_allclose(zernike(7, rho, th), np.sqrt(8) * (3 * rho**3 - 2 * rho) * np.sin(th))
    np.testing.assert_allclose(zernike(11, rho, th), np.sqrt(5) * (6 * rho**4 - 6 * rho**2 + 1))
    with pytest.raises(ConfigError, match="Noll index 0"):
        noll_to_nm(0)


def test_zernikes_are_orthonormal_over_the_unit_disc():
    # ⟨Z_i Z_j⟩ = δ_ij (RMS normalisation), polar quadrature: Gauss–Legendre in ρ, uniform θ
    x, w = np.polynomial.legendre.leggauss(40)
    rho = 0.5 * (x + 1)
    wr = 0.5 * w * rho
    th = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    R, T = np.meshgrid(rho, th, indexing="ij")
    wt = wr[:, None] * (2 * np.pi / th.size) / np.pi
    zs = [zernike(j, R, T) for j in range(1, 16)]
    gram = np.array([[np.sum(a * b * wt) for b in zs] for a in zs])
    np.testing.assert_allclose(gram, np.eye(15), atol=1e-10)


# --- PSF / OTF ---------------------------------------------------------------------------------

@pytest.mark.parametrize("coeffs", [{}, {4: 0.1}, {7: 0.08, 11: 0.05}])
def test_psf_integrates_to_one(coeffs):
    psf, dx = pupil_psf(coeffs, 550.0, 2.8)
    assert psf.sum() * dx * dx == pytest.approx(1.0, abs=1e-12)
    assert psf.min() >= 0


def test_diffraction_limited_psf_is_the_airy_pattern():
    # Airy (Goodman §4.4): (π/(4λ²N²))·[2J1(v)/v]², v = πr/(λN)
    lam, n = 550.0, 2.8
    psf, dx = pupil_psf({}, lam, n, pad=8)
    c = psf.shape[0] // 2
    r = np.hypot(*np.meshgrid((np.arange(psf.shape[0]) - c) * dx, (np.arange(psf.shape[0]) - c) * dx))
    airy = airy_psf(r, lam, n)
    assert np.abs(psf - airy).max() < 5e-3 * airy.max()
    assert psf[c, c] == pytest.approx(airy[c, c], rel=5e-3)


@pytest.mark.parametrize("lam", [450.0, 550.0, 850.0])
@pytest.mark.parametrize("angle", [0.0, 0.4, np.pi / 4])
def test_pupil_mtf_equals_analytic_diffraction_mtf(lam, angle):
    # circular-pupil MTF (2/π)(acos s − s√(1−s²)) (Goodman §6.3), within 0.01
    n = 2.0
    f = np.linspace(0, 1 / (lam * 1e-3 * n), 101)
    m = mtf_radial({}, lam, n, f, angle_rad=angle)
    assert np.abs(m - diffraction_mtf(f, lam, n)).max() < 0.01


def test_defocus_otf_matches_hopkins_integral():
    # Hopkins (1955): for pure defocus W = W020 ρ² the OTF along x at s = ν/ν_c is
    # (1/π)∫ 2√(1 − (|x| + s)²) cos(4π (W020/λ) 2s x) dx over |x| ≤ 1 − s  (pupil shift 2s),
    # an independent 1-D integral of the pupil overlap.
    lam, n, w020_waves = 550.0, 2.8, 0.6
    c4_um = w020_waves * lam * 1e-3 / (2 * np.sqrt(3))  # W020 ρ² = c4·Z4 + piston
    nu_c = 1 / (lam * 1e-3 * n)
    s_vals = np.linspace(0.02, 0.9, 12)

    def hopkins(s):
        a = 1 - s
        val, _ = integrate.quad(lambda x: 2 * np.sqrt(max(0.0, 1 - (abs(x) + s) ** 2))
                                * np.cos(2 * np.pi * w020_waves * 4 * s * x), -a, a, limit=200)
        return val / np.pi

    ref = np.array([hopkins(s) for s in s_vals])
    otf, dnu = otf_grid({4: c4_um}, lam, n)
    got = sample_otf(otf, dnu, 0 * s_vals, s_vals * nu_c).real
    np.testing.assert_allclose(got, ref, atol=0.01)


def test_strehl_ratio_follows_marechal():
    # Maréchal/Mahajan: Strehl ≈ exp(−(2πσ)²) for RMS wavefront error σ [waves] ≲ 0.1
    lam, n = 550.0, 2.8
    sigma = 0.05
    p0, _ = pupil_psf({}, lam, n)
    p1, _ = pupil_psf({11: sigma * lam * 1e-3}, lam, n)
    c = p0.shape[0] // 2
    assert p1[c, c] / p0[c, c] == pytest.approx(np.exp(-(2 * np.pi * sigma) ** 2), rel=0.01)


def test_numba_otf_kernel_matches_numpy_reference(rng):
    otf, dnu = otf_grid({5: 0.05, 8: 0.04}, 600.0, 2.0)
    fy = rng.uniform(-1.2, 1.2, 17).astype(np.float32)
    fx = rng.uniform(0, 1.2, 9).astype(np.float32)
    spec = (rng.standard_normal((2, 17, 9)) + 1j * rng.standard_normal((2, 17, 9))).astype(np.complex64)
    expected = spec * sample_otf(otf, dnu, fy[:, None], fx[None, :])[None]
    got = spec.copy()
    multiply_otf_bilinear(got, fy, fx, np.stack([otf.real] * 2).astype(np.float32),
                          np.stack([otf.imag] * 2).astype(np.float32),
                          np.full(2, 1 / dnu, dtype=np.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_pupil_path_reproduces_the_analytic_otf_path():
    # an aberration-free lens rendered through the pupil machinery equals today's OTF path
    lens = LensSpec(focal_length_mm=4.0, f_number=2.4)
    rng = np.random.default_rng(7)
    img = rng.uniform(0, 1, (3, 64, 80)).astype(np.float32)
    wl = [450.0, 550.0, 650.0]
    a = apply_diffraction(img, wl, 0.7, lens.working_f_number)
    b = apply_lens_blur(img, wl, 0.7, lens, 100.0)
    assert np.abs(a - b)[:, 8:-8, 8:-8].max() < 0.01 * img.max()
    assert lens.diffraction_limited  # so form_image keeps using apply_diffraction


def test_uniform_field_stays_uniform_through_field_dependent_blur():
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0,
                    aberrations={"axis": {11: 0.05}, "full_field": {5: 0.3, 7: 0.2},
                                 "field_samples": 3})
    img = np.full((2, 60, 90), 2.5, dtype=np.float32)
    out = apply_lens_blur(img, [500.0, 700.0], 1.0, lens, 50.0)
    np.testing.assert_allclose(out, 2.5, rtol=2e-4)


# --- thin-lens focus ---------------------------------------------------------------------------

def test_thin_lens_defocus_and_backward_compatible_focus():
    # 1/f = 1/s + 1/v. Focused at 0.5 m, scene at 2 m, f = 4 mm:
    f, sf, so = 4.0, 500.0, 2000.0
    lens = LensSpec(focal_length_mm=f, f_number=2.0, object_distance_m=so / 1e3,
                    focus_distance_m=sf / 1e3)
    v_s, v_o = f * sf / (sf - f), f * so / (so - f)
    assert lens.image_distance_mm == pytest.approx(v_s)
    assert lens.defocus_um == pytest.approx((v_s - v_o) * 1e3)
    assert lens.defocus_w020_um == pytest.approx((v_s - v_o) * 1e3 / (8 * (2.0 * v_s / f) ** 2))
    assert lens.zernike_um(0.0)[4] == pytest.approx(lens.defocus_w020_um / (2 * np.sqrt(3)))
    assert not lens.diffraction_limited
    in_focus = LensSpec(focal_length_mm=f, f_number=2.0, object_distance_m=so / 1e3)
    assert in_focus.defocus_um == 0.0 and in_focus.diffraction_limited
    assert in_focus.magnification == pytest.approx(f / (so - f))


def test_defocused_lens_blurs_more(small_module):
    from camtwin.camera import module_scene
    from camtwin.measure.sfr import esfr
    from camtwin.sensor.capture import electron_rate

    mod = small_module.replace(sensor={"width_px": 120, "height_px": 100, "cfa": "mono"})
    wl = np.array([540.0, 560.0])
    sc = module_scene(mod, "slanted_edge", wavelengths_nm=wl)
    sharp = esfr(electron_rate(form_image(sc, mod.lens), mod.sensor), roi=(10, 90, 20, 100))
    blurred_lens = mod.lens.replace(focus_distance_m=0.05)  # scene at 1 m: W020 ≈ 1.2 waves
    blurred = esfr(electron_rate(form_image(sc, blurred_lens), mod.sensor), roi=(10, 90, 20, 100))
    assert blurred.mtf50_cy_px < 0.8 * sharp.mtf50_cy_px


# --- geometry models ---------------------------------------------------------------------------

def test_distortion_percent_and_inverse():
    lens = LensSpec(focal_length_mm=4, f_number=2, distortion={"percent": -2.5, "k2": 0.01,
                                                                "p1": 0.001})
    d = lens.distortion
    assert d.percent_at(1.0) == pytest.approx(-2.5)
    x, y = np.meshgrid(np.linspace(-0.8, 0.8, 9), np.linspace(-0.6, 0.6, 7))
    xd, yd = d.apply(x, y)
    xu, yu = d.invert(xd, yd)
    np.testing.assert_allclose(xu, x, atol=1e-9)
    np.testing.assert_allclose(yu, y, atol=1e-9)


def test_vignetting_model():
    lens = LensSpec(focal_length_mm=4, f_number=2,
                    shading={"vignetting_percent": 20, "vignetting_onset": 0.5})
    v = lens.shading.vignetting(np.array([0.0, 0.5, 1.0]))
    assert v[0] == 1.0 and v[1] == pytest.approx(1.0, abs=1e-9)
    assert v[2] == pytest.approx(0.8, abs=1e-9)
    # total RI = cos⁴θ × V, tan θ = r / v_s for a thin lens
    r = 2.0
    expected = np.cos(np.arctan(r / lens.image_distance_mm)) ** 4 * lens.shading.vignetting(1.0)
    assert lens.relative_illumination(r, 2.0) == pytest.approx(expected)


def test_lateral_colour_scale():
    lens = LensSpec(focal_length_mm=4, f_number=2, lateral_color_um=1.5)
    ff_mm = 3.0
    s = lens.lateral_color_scale([486.1, 587.6, 656.3], ff_mm)
    assert s[1] == pytest.approx(1.0)
    assert (s[0] - s[2]) * ff_mm * 1e3 == pytest.approx(1.5)


def test_design_cra_feeds_the_sensor_cra_model():
    from camtwin.sensor.optical import chief_ray_angle_deg

    lens = LensSpec(focal_length_mm=4, f_number=2, cra_full_field_deg=30.0, image_circle_mm=6.0)
    assert float(chief_ray_angle_deg(3.0, lens)) == pytest.approx(30.0)
    assert float(chief_ray_angle_deg(1.5, lens)) == pytest.approx(np.degrees(np.arctan(np.tan(np.radians(30)) / 2)))
    with pytest.raises(ConfigError, match="image_circle_mm"):
        chief_ray_angle_deg(1.0, lens.replace(image_circle_mm=None))


@pytest.mark.parametrize("changes, match", [
    ({"aberrations": {"axis": {2: 0.1}}}, "aberrations.axis"),
    ({"aberrations": {"axis": {4: 50.0}}}, "-20..20"),
    ({"focus_distance_m": 0.001}, "focus_distance_m"),
    ({"distortion": {"percent": 80}}, "distortion.percent"),
    ({"shading": {"vignetting_percent": 100}}, "vignetting_percent"),
])
def test_lens_validation_is_one_line(changes, match):
    base = LensSpec(focal_length_mm=4, f_number=2)
    with pytest.raises(ConfigError, match=match) as exc:
        base.replace(**changes)
    assert "\n" not in str(exc.value)


def test_default_lens_form_image_unchanged(small_module):
    # the default module's lens is ideal: form_image = camera equation × cos⁴ ⊛ diffraction
    from camtwin.camera import module_scene
    from camtwin.optics import relative_illumination_cos4

    mod = small_module.replace(sensor={"width_px": 64, "height_px": 48})
    sc = module_scene(mod, "siemens_star", wavelengths_nm=np.array([450.0, 550.0, 650.0]))
    oi = form_image(sc, mod.lens)
    lens = mod.lens
    pitch = oi.sample_pitch_um
    gain = np.pi * lens.spectral_transmission(sc.wavelengths_nm) / (4 * lens.working_f_number**2)
    ref = sc.radiance * gain.astype(np.float32)[:, None, None]
    ref = ref * relative_illumination_cos4(ref.shape[1:], pitch, lens)[None]
    ref = apply_diffraction(ref, sc.wavelengths_nm, pitch, lens.working_f_number)
    np.testing.assert_allclose(oi.irradiance, ref, rtol=1e-6, atol=1e-9 * ref.max())
