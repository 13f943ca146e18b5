"""Optics: diffraction PSF/MTF, camera equation pieces, numba kernel vs NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special

from camtwin.optics import (IRCutSpec, LensSpec, airy_psf, apply_diffraction, diffraction_mtf,
                            relative_illumination_cos4)
from camtwin.optics._kernels import multiply_diffraction_mtf


def test_airy_encircled_energy_matches_rayleigh_formula():
    # Encircled energy of the Airy pattern (Born & Wolf §8.5.2): EE(v) = 1 − J0(v)² − J1(v)²
    lam, n = 550.0, 2.8
    for r_um in (0.5, 1.88, 5.0, 20.0):
        ee, _ = integrate.quad(lambda r: 2 * np.pi * r * airy_psf(r, lam, n), 0, r_um, limit=400)
        v = np.pi * r_um / (lam * 1e-3 * n)
        assert ee == pytest.approx(1 - special.j0(v) ** 2 - special.j1(v) ** 2, abs=1e-6)


def test_airy_first_zero_at_1_22_lambda_n():
    lam, n = 633.0, 2.0
    r0 = 1.2196698912665045 * lam * 1e-3 * n  # first zero of J1 / π
    assert airy_psf(r0, lam, n) < 1e-10 * airy_psf(0.0, lam, n)


def test_mtf_is_hankel_transform_of_psf():
    # Independent route: OTF(ν) = 2π ∫ PSF(r) J0(2πνr) r dr (circularly symmetric PSF)
    lam, n = 550.0, 2.0
    nu_c = 1 / (lam * 1e-3 * n)
    for s in (0.1, 0.3, 0.5, 0.8):
        nu = s * nu_c
        val, _ = integrate.quad(lambda r: 2 * np.pi * r * airy_psf(r, lam, n)
                                * special.j0(2 * np.pi * nu * r), 0, 400, limit=4000)
        assert val == pytest.approx(float(diffraction_mtf(nu, lam, n)), abs=2e-3)


def test_mtf_known_values():
    # MTF(0) = 1, MTF(ν_c/2) = (2/π)(π/3 − √3/4) = 0.3910, 0 at and beyond cut-off
    lam, n = 500.0, 4.0
    nu_c = 1 / (lam * 1e-3 * n)
    assert diffraction_mtf(0.0, lam, n) == pytest.approx(1.0)
    assert diffraction_mtf(nu_c / 2, lam, n) == pytest.approx(0.39100, abs=1e-5)
    assert diffraction_mtf(nu_c * 1.2, lam, n) == 0.0


def test_numba_kernel_matches_numpy_reference(rng):
    spec = (rng.standard_normal((3, 17, 9)) + 1j * rng.standard_normal((3, 17, 9))).astype(np.complex64)
    rho = rng.uniform(0, 1.2, (17, 9)).astype(np.float32)
    lam_um = np.array([0.45, 0.55, 0.95], dtype=np.float32)
    expected = spec * diffraction_mtf(rho[None], lam_um[:, None, None] * 1e3, 2.0)
    got = spec.copy()
    multiply_diffraction_mtf(got, rho, lam_um, np.float32(2.0))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_blurred_point_source_has_analytic_mtf():
    # A point source blurred on a fine grid: its spectrum is the diffraction MTF.
    pitch, lam, n = 0.25, 600.0, 2.5
    img = np.zeros((1, 256, 256), dtype=np.float32)
    img[0, 128, 128] = 1.0
    out = apply_diffraction(img, [lam], pitch, n)[0]
    # energy: the 64 µm square keeps at least the Airy encircled energy of its inscribed
    # circle (1 − J0² − J1², Born & Wolf) and never more than the total (tails beyond the
    # reflect padding wrap around, so the square may hold a little more than its EE)
    def ee(r_um):
        v = np.pi * r_um / (lam * 1e-3 * n)
        return 1 - special.j0(v) ** 2 - special.j1(v) ** 2

    assert ee(32.0) - 1e-4 <= out.sum() <= 1.0 + 1e-5
    f = np.abs(np.fft.rfft2(out))
    freqs = np.fft.rfftfreq(256, d=pitch)
    for k in (10, 30, 60):
        assert f[0, k] == pytest.approx(float(diffraction_mtf(freqs[k], lam, n)), abs=5e-3)


def test_uniform_field_stays_uniform():
    img = np.full((4, 40, 50), 3.0, dtype=np.float32)
    out = apply_diffraction(img, [400, 600, 800, 1000], 1.0, 2.0)
    np.testing.assert_allclose(out, 3.0, rtol=1e-5)


def test_cos4_relative_illumination():
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=1e4)
    ri = relative_illumination_cos4((3, 201), 10.0, lens)
    x_um = 100 * 10.0  # rightmost sample, 1 mm off axis
    theta = np.arctan(x_um / (4000.0 * (1 + lens.magnification)))
    assert ri[1, -1] == pytest.approx(np.cos(theta) ** 4, rel=1e-6)
    assert ri[1, 100] == pytest.approx(1.0)


def test_ir_cut_edge():
    f = IRCutSpec(cutoff_nm=650, width_nm=20, passband_transmission=0.95,
                  blocking_transmission=0.0)
    t = f.transmission(np.array([550.0, 650.0, 900.0]))
    assert t[0] == pytest.approx(0.95, rel=1e-6)
    assert t[1] == pytest.approx(0.475)
    assert t[2] < 1e-5


def test_ir_cut_10_90_width():
    f = IRCutSpec(cutoff_nm=650, width_nm=20, passband_transmission=1.0,
                  blocking_transmission=0.0)
    wl = np.linspace(600, 700, 100001)
    t = f.transmission(wl)
    w = wl[np.argmin(abs(t - 0.1))] - wl[np.argmin(abs(t - 0.9))]
    assert w == pytest.approx(20.0, abs=0.01)


def test_lens_geometry_and_validation():
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=0.5)
    assert lens.magnification == pytest.approx(4 / 496)
    assert lens.working_f_number == pytest.approx(2.0 * (1 + 4 / 496))
    from camtwin.errors import ConfigError

    with pytest.raises(ConfigError, match="object_distance_m"):
        LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=0.003)
    with pytest.raises(ConfigError, match="f_number"):
        LensSpec(focal_length_mm=4.0, f_number=0.1)
