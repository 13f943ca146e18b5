"""Sensor: radiometry against a hand calculation, noise by its statistics, QE physics."""

from __future__ import annotations

import colour
import numpy as np
import pytest

from camtwin.optics import LensSpec, form_image
from camtwin.scene import uniform
from camtwin.sensor import SensorSpec, capture
from camtwin.sensor.capture import _overlap_matrix, electron_rate
from camtwin.sensor.qe import silicon_absorption_cm, silicon_qe
from camtwin.errors import ConfigError

H_J_S, C_M_S = 6.62607015e-34, 299792458.0

FLAT_QE_400_700 = {"curve": {"wavelengths_nm": [399.999, 400.0, 700.0, 700.001],
                             "values": [0.0, 0.6, 0.6, 0.0]}}


def mono_sensor(**kw):
    base = dict(name="mono", width_px=64, height_px=64, pixel_pitch_um=2.0, cfa="mono",
                qe=FLAT_QE_400_700, full_well_e=200000, conversion_gain_dn_per_e=0.25,
                read_noise_e=0.0, dark_current_e_per_s=0.0, adc_bits=16, black_level_dn=1000)
    base.update(kw)
    return SensorSpec(**base)


def flat_scene(sensor, lens, lux, reflectance=0.18, oversample=1):
    n = sensor.width_px * oversample
    width_m = sensor.width_px * sensor.pixel_pitch_um * 1e-6 / lens.magnification
    return uniform(shape=(sensor.height_px * oversample, n), width_m=width_m,
                   distance_m=lens.object_distance_m, illuminant="D65",
                   illuminance_lux=lux, reflectance=reflectance)


def test_radiometry_matches_hand_calculation():
    """100 lx D65 on ρ = 0.18, f/2.0, 2.0 µm mono pixel, QE 0.6 (400–700 nm), 10 ms."""
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, transmission=1.0,
                    object_distance_m=10.0, ir_cut=None)
    sensor = mono_sensor()
    raw = capture(form_image(flat_scene(sensor, lens, 100.0), lens), sensor, 0.010, rng=1)

    # --- hand calculation, independent of camtwin (colour-science data, 5 nm table) ---
    d65 = colour.SDS_ILLUMINANTS["D65"]
    e_scale = 100.0 / colour.luminous_flux(d65)          # lux → W·m⁻²·nm⁻¹ per table unit
    lam = np.arange(400, 701, 5).astype(float)           # where QE = 0.6
    e_chart = e_scale * d65[lam]                           # W·m⁻²·nm⁻¹ on the chart
    radiance = 0.18 * e_chart / np.pi                      # Lambertian L = ρE/π
    m = 4.0 / (10000.0 - 4.0)                              # thin-lens magnification
    e_die = np.pi * radiance / (4 * 2.0**2 * (1 + m) ** 2)  # camera equation, T = 1, on axis
    photons = e_die * lam * 1e-9 / (H_J_S * C_M_S)         # photons·s⁻¹·m⁻²·nm⁻¹
    electrons = np.sum(photons * 0.6) * 5.0 * (2e-6) ** 2 * 0.010  # Σ·Δλ · pixel area · t
    # hand value ≈ 1.1e3 e⁻ (printed on failure)

    centre = raw.mean_electrons[28:36, 28:36].mean()
    assert centre == pytest.approx(electrons, rel=0.01), (centre, electrons)
    measured = raw.electrons()[16:48, 16:48].mean()       # noisy frame agrees too
    assert measured == pytest.approx(electrons, rel=0.01)


def test_shot_and_read_noise_statistics():
    """In a uniform patch var[e⁻] = mean + σ_read² (+ quantisation 1/(12K²)), 3σ bound."""
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=10.0, ir_cut=None)
    sensor = mono_sensor(width_px=256, height_px=256, read_noise_e=3.0,
                         conversion_gain_dn_per_e=1.0)
    oi = form_image(flat_scene(sensor, lens, 300.0), lens)
    raw = capture(oi, sensor, 0.004, rng=7)
    e = raw.electrons()[64:192, 64:192].astype(np.float64)
    truth = raw.mean_electrons[64:192, 64:192].astype(np.float64)
    resid = e - truth                                       # removes the cos⁴ gradient
    n = resid.size
    expected_var = truth.mean() + 3.0**2 + 1.0 / 12.0
    var = resid.var(ddof=1)
    # sampling s.d. of a variance estimate ≈ σ²·√(2/(n−1)) (+ small excess-kurtosis term)
    bound = 3 * expected_var * np.sqrt(2.0 / (n - 1) + 1.0 / (n * truth.mean()))
    assert abs(var - expected_var) < bound, (var, expected_var, bound)
    assert abs(resid.mean()) < 3 * np.sqrt(expected_var / n)


def test_poisson_is_exact_at_small_means():
    """P(0) = exp(−μ) and P(1) = μ·exp(−μ) for μ = 0.3 e⁻ (no read noise)."""
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=10.0, ir_cut=None)
    sensor = mono_sensor(width_px=256, height_px=256, conversion_gain_dn_per_e=1.0)
    oi = form_image(flat_scene(sensor, lens, 1.0), lens)
    rate = electron_rate(oi, sensor)[128, 128]
    raw = capture(oi, sensor, 0.3 / rate, rng=3)
    counts = raw.electrons()[32:224, 32:224].round().ravel()
    mu = raw.mean_electrons[32:224, 32:224].mean()
    n = counts.size
    for k, p in ((0, np.exp(-mu)), (1, mu * np.exp(-mu))):
        frac = np.mean(counts == k)
        assert abs(frac - p) < 3 * np.sqrt(p * (1 - p) / n) + 2e-3, (k, frac, p)


def test_dark_frame_mean_is_dark_current_times_t():
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=10.0, ir_cut=None)
    sensor = mono_sensor(width_px=128, height_px=128, dark_current_e_per_s=80.0,
                         read_noise_e=2.0, conversion_gain_dn_per_e=1.0)
    oi = form_image(flat_scene(sensor, lens, 100.0, reflectance=0.0), lens)
    t = 0.5
    raw = capture(oi, sensor, t, rng=11)
    e = raw.electrons().astype(np.float64)
    var = 80.0 * t + 4.0 + 1 / 12
    assert abs(e.mean() - 80.0 * t) < 3 * np.sqrt(var / e.size)
    assert e.var(ddof=1) == pytest.approx(var, rel=6 * np.sqrt(2 / e.size))


def test_same_seed_same_frame_other_seed_differs():
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=10.0, ir_cut=None)
    sensor = mono_sensor(read_noise_e=2.0)
    oi = form_image(flat_scene(sensor, lens, 50.0), lens)
    a = capture(oi, sensor, 0.01, rng=5).dn
    b = capture(oi, sensor, 0.01, rng=np.random.default_rng(5)).dn
    c = capture(oi, sensor, 0.01, rng=6).dn
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_full_well_and_adc_clip():
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=10.0, ir_cut=None)
    sensor = mono_sensor(full_well_e=5000, conversion_gain_dn_per_e=0.5, adc_bits=12,
                         black_level_dn=64)
    raw = capture(form_image(flat_scene(sensor, lens, 1e5), lens), sensor, 0.1, rng=0)
    assert np.all(raw.dn == 5000 * 0.5 + 64)          # full well, not the ADC, limits
    sensor2 = sensor.replace(conversion_gain_dn_per_e=2.0)  # now the ADC clips first
    raw2 = capture(form_image(flat_scene(sensor2, lens, 1e5), lens), sensor2, 0.1, rng=0)
    assert np.all(raw2.dn == 4095) and raw2.clipped_fraction() == 1.0


def test_overlap_resampling_conserves_and_averages():
    r = _overlap_matrix(4, 2.0, 8, 1.0).toarray()        # 2× oversampled → pairs
    np.testing.assert_allclose(r.sum(axis=1), 1.0)
    np.testing.assert_allclose(r[0, :2], 0.5)
    ident = _overlap_matrix(5, 1.5, 5, 1.5).toarray()
    np.testing.assert_allclose(ident, np.eye(5))
    odd = _overlap_matrix(3, 1.0, 4, 0.7).toarray()      # non-integer ratio: ∫ conserved
    assert odd.sum() * 1.0 == pytest.approx(min(3 * 1.0, 4 * 0.7) / 1.0)


def test_oversampled_scene_gives_same_signal():
    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=10.0, ir_cut=None)
    sensor = mono_sensor()
    a = capture(form_image(flat_scene(sensor, lens, 100.0, oversample=1), lens), sensor, 0.01, 1)
    b = capture(form_image(flat_scene(sensor, lens, 100.0, oversample=3), lens), sensor, 0.01, 1)
    np.testing.assert_allclose(a.mean_electrons[20:44, 20:44], b.mean_electrons[20:44, 20:44],
                               rtol=1e-4)


@pytest.mark.parametrize("lam_nm, k", [(550, 2.8038e-2), (650, 1.4447e-2), (700, 1.0623e-2),
                                       (750, 7.6156e-3)])
def test_silicon_absorption_against_schinke2015(lam_nm, k):
    # Independent data: Schinke et al., AIP Advances 5, 067168 (2015), extinction
    # coefficient k at 295 K (refractiveindex.info "Si/Schinke"); α = 4πk/λ.
    alpha_ref = 4 * np.pi * k / (lam_nm * 1e-7)
    assert silicon_absorption_cm(lam_nm) == pytest.approx(alpha_ref, rel=0.05)


def test_silicon_qe_physics():
    wl = np.arange(400, 1001, 50.0)
    thin, thick = silicon_qe(wl, 2.0, 0.95), silicon_qe(wl, 6.0, 0.95)
    assert np.all(thick >= thin) and np.all(thick <= 0.95)
    assert thin[0] == pytest.approx(0.95, rel=1e-3)       # blue is absorbed in < 0.1 µm
    assert thin[-1] < 0.05                                # 1000 nm passes 2 µm of Si


def test_qe_above_one_is_rejected_with_field_name():
    with pytest.raises(ConfigError, match=r"qe\.curve\.values.*1\.3"):
        mono_sensor(qe={"curve": {"wavelengths_nm": [400, 700], "values": [0.5, 1.3]}})


def test_negative_pitch_and_black_level_rejected():
    with pytest.raises(ConfigError, match="pixel_pitch_um"):
        mono_sensor(pixel_pitch_um=-2.0)
    with pytest.raises(ConfigError, match="black_level_dn"):
        mono_sensor(adc_bits=8, black_level_dn=300)
