"""Time-modulated light: mean-1 waveforms, their exact window integrals, per-row and
per-exposure windows — each against an analytic result or an independent quadrature.

References
----------
* Pulse seen by a window: a window of length T overlaps (part of) an ideal pulse train of
  duty D and frequency f for a uniformly random phase with probability min(1, D + T·f)
  (the interval of phases during which [t, t + T] meets a pulse has length D/f + T per
  period 1/f); IEEE P2020 Automotive Image Quality white paper (2018), LED flicker section.
* Trapezoid area: a linear ramp from 0 to A over t_r has area A·t_r/2 (geometry).
* Rolling-shutter banding: row r integrates [r·t_l, r·t_l + T], so a modulation of period P
  repeats every P / t_l rows; full-wave-rectified mains flickers at 2·f_mains.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import integrate
from scipy.stats import binom

from camtwin.errors import ConfigError
from camtwin.scene.lights import (PWM, Constant, RectifiedMains, Sinusoid, waveform_from_dict)
from camtwin.sensor import SensorSpec
from camtwin.sensor.timing import (Flicker, exposure_window_means, exposure_windows,
                                   integrate_photo, modulated_rate, row_start_times,
                                   window_means)

#: internal round trips (closed form vs closed form): float64 rounding of t ~ 1 s values
TIGHT = 1e-9
#: closed form vs adaptive quadrature (scipy.integrate.quad, epsabs 1e-13)
QUAD = 1e-8

WAVEFORMS = [PWM(90.0, 0.1), PWM(90.0, 0.1, phase_rad=2.0),
             PWM(300.0, 0.3, 1.0, rise_s=2e-4, fall_s=5e-4),
             PWM(2000.0, 0.05, rise_s=1e-5, fall_s=1.5e-5), PWM(50.0, 1.0),
             RectifiedMains(50.0), RectifiedMains(60.0, dc_fraction=0.3, phase_rad=0.4),
             Sinusoid(120.0, 0.7, 0.4), Constant()]


def sensor(shutter_type="rolling", h=256, w=8, **shutter):
    return SensorSpec(width_px=w, height_px=h, pixel_pitch_um=3.0, cfa="mono",
                      full_well_e=20000, conversion_gain_dn_per_e=0.2, read_noise_e=2.0,
                      shutter={"type": shutter_type, **shutter})


def quad_mean(w, t0, t1):
    """Independent reference: adaptive quadrature of m(t) with the PWM corners as breaks."""
    pts = None
    if isinstance(w, PWM):
        p = w.period_s
        shift = w.phase_rad / (2 * np.pi * w.frequency_hz)
        th = w.duty * p - 0.5 * (w.rise_s + w.fall_s)
        corners = np.array([0.0, w.rise_s, w.rise_s + th, w.rise_s + th + w.fall_s])
        ks = np.arange(np.floor((t0 + shift) / p) - 1, np.ceil((t1 + shift) / p) + 1)
        pts = (ks[:, None] * p + corners[None, :]).ravel() - shift
        pts = [float(x) for x in pts if t0 < x < t1]
    val, _ = integrate.quad(lambda t: float(w.at(t)), t0, t1, points=pts, limit=500,
                            epsabs=1e-13, epsrel=1e-12)
    return val / (t1 - t0)


@pytest.mark.parametrize("w", WAVEFORMS, ids=lambda w: f"{w.kind}")
def test_window_mean_equals_quadrature(w):
    rng = np.random.default_rng(3)
    t0 = rng.uniform(-0.05, 2.0, 25)
    t1 = t0 + rng.uniform(1e-5, 0.03, 25)
    ref = np.array([quad_mean(w, a, b) for a, b in zip(t0, t1)])
    np.testing.assert_allclose(w.mean_over(t0, t1), ref, rtol=0, atol=QUAD * np.max(ref))
    # scalar and array agree
    assert float(w.mean_over(float(t0[3]), float(t1[3]))) == pytest.approx(
        float(w.mean_over(t0, t1)[3]), abs=TIGHT)


@pytest.mark.parametrize("w", WAVEFORMS[:-1], ids=lambda w: f"{w.kind}")
def test_mean_over_any_whole_period_is_one(w):
    t0 = np.random.default_rng(1).uniform(-1.0, 10.0, 1000)
    for n in (1, 3):
        np.testing.assert_allclose(w.mean_over(t0, t0 + n * w.period_s), 1.0, atol=TIGHT)


@pytest.mark.parametrize("duty", [0.05, 0.1, 0.5, 1.0])
def test_pwm_pulse_integral_is_duty_times_peak(duty):
    w = PWM(90.0, duty)
    p = w.period_s
    assert w.peak == pytest.approx(1 / duty)
    # the on part alone: ∫ = A·D·P, i.e. mean over the period D·A = 1
    assert float(w.window_integral(0.0, duty * p)) == pytest.approx(w.peak * duty * p, rel=1e-12)
    assert float(w.mean_over(0.0, p)) == pytest.approx(duty * w.peak, rel=1e-12)
    if duty < 1:  # the off part is dark, exactly
        assert float(w.window_integral(duty * p, p)) == 0.0
        assert float(w.at(0.5 * (1 + duty) * p)) == 0.0


def test_pwm_ramps_integrate_to_trapezoid_areas():
    tr, tf, d, f = 0.8e-3, 1.6e-3, 0.3, 200.0
    w = PWM(f, d, rise_s=tr, fall_s=tf)
    a, p = w.peak, 1 / f
    th = d * p - (tr + tf) / 2
    assert float(w.window_integral(0.0, tr)) == pytest.approx(a * tr / 2, rel=1e-12)
    x = 0.3 * tr  # part of the rise: triangle a·x²/(2 t_r)
    assert float(w.window_integral(0.0, x)) == pytest.approx(a * x * x / (2 * tr), rel=1e-12)
    assert float(w.window_integral(tr, tr + th)) == pytest.approx(a * th, rel=1e-12)
    assert float(w.window_integral(tr + th, tr + th + tf)) == pytest.approx(a * tf / 2, rel=1e-12)
    whole = float(w.window_integral(0.0, tr + th + tf))
    assert whole == pytest.approx(a * (th + (tr + tf) / 2), rel=1e-12)  # trapezoid
    assert whole == pytest.approx(p, rel=1e-12)  # = A·D·P: the ramps keep the mean at 1
    assert float(w.at(tr / 2)) == pytest.approx(a / 2)
    assert float(w.at(tr + th + tf / 4)) == pytest.approx(0.75 * a)


def test_flicker_and_its_waveform_agree():
    t0 = np.random.default_rng(2).uniform(0, 1, 2000)
    for fl in (Flicker(100.0, depth=0.6, phase_rad=0.7),
               Flicker(90.0, waveform="pwm", duty=0.1, phase_rad=0.7)):
        np.testing.assert_allclose(window_means(fl, t0, t0 + 1e-3),
                                   fl.as_waveform().mean_over(t0, t0 + 1e-3), atol=TIGHT)
        np.testing.assert_array_equal(window_means(fl, t0, t0 + 1e-3), fl.mean_over(t0, t0 + 1e-3))


def test_long_exposure_always_sees_a_90hz_10pct_led():
    """T = 11 ms > (1 − D)/f = 10 ms: every window contains ≥ 1 ms of pulse."""
    w = PWM(90.0, 0.1)
    t_exp = 11e-3
    phases = np.random.default_rng(4).uniform(0, 2 * np.pi, 20000)
    m = window_means(w, 0.0, t_exp, phase_rad=phases)
    assert m.min() > 0
    # analytic minimum: overlap T − (1 − D)/f = 0.111 ms... at peak 1/D, over T
    assert m.min() == pytest.approx((t_exp - 0.9 / 90.0) / 0.1 / t_exp, rel=0.02)


@pytest.mark.parametrize("t_exp", [1e-3, 3e-3])
def test_short_exposure_sees_the_led_with_probability_d_plus_tf(t_exp):
    """Monte Carlo over N random phases vs min(1, D + T·f) within the binomial 99 % interval,
    on every row of a rolling shutter at once (rows × phases)."""
    w, n = PWM(90.0, 0.1), 4000
    p_seen = min(1.0, 0.1 + t_exp * 90.0)
    phases = np.random.default_rng(5).uniform(0, 2 * np.pi, n)
    rows = row_start_times(sensor("rolling", h=64, line_time_s=7.3e-6))
    m = window_means(w, rows, rows + t_exp, phase_rad=phases[:, None])  # (N, 64)
    assert m.shape == (n, 64)
    lo, hi = binom.interval(0.99, n, p_seen)
    for r in (0, 31, 63):
        seen = int(np.count_nonzero(m[:, r] > 0))
        assert lo <= seen <= hi, (r, seen, lo, hi, p_seen)


def test_rectified_mains_bands_repeat_every_half_mains_period_over_line_time():
    f_mains, t_line, t_exp = 50.0, 23e-6, 1e-3
    s = sensor("rolling", h=2400, line_time_s=t_line)
    w = RectifiedMains(f_mains)
    profile = integrate_photo(np.full((2400, 8), 1e5, np.float32), s, t_exp, flicker=w)[:, 0]
    expected_rows = 1 / (2 * f_mains) / t_line  # 434.78 rows
    x = profile - profile.mean()
    n_fft = 1 << 20
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), n_fft))
    k = int(np.argmax(spec[1:])) + 1
    assert n_fft / k == pytest.approx(expected_rows, rel=5e-3)
    # and the row profile is the analytic window mean 1 − [sin ω(t+T) − sin ωt]/(ωT)
    om = 2 * np.pi * 2 * f_mains
    t0 = np.arange(2400) * t_line
    ref = 1e5 * t_exp * (1 - (np.sin(om * (t0 + t_exp)) - np.sin(om * t0)) / (om * t_exp))
    np.testing.assert_allclose(profile, ref, rtol=2e-6)


def test_global_shutter_gives_every_row_the_same_window_mean():
    w = PWM(90.0, 0.1, phase_rad=1.0)
    photo = integrate_photo(np.full((256, 8), 1e4, np.float32), sensor("global"), 1e-3,
                            flicker=w)
    assert np.ptp(photo) == 0
    assert photo[0, 0] == pytest.approx(1e4 * 1e-3 * float(w.mean_over(0.0, 1e-3)), rel=1e-6)


def test_dol_exposure_windows_and_means():
    s = sensor("rolling", h=256, line_time_s=10e-6)
    rows = row_start_times(s)
    exps = np.array([8e-3, 1e-3, 0.125e-3])
    offs = np.array([0.0, 8.2e-3, 9.4e-3])
    t0, t1 = exposure_windows(rows, exps, offs)
    assert t0.shape == (3, 256)
    np.testing.assert_allclose(t1 - t0, np.broadcast_to(exps[:, None], (3, 256)))
    assert t0[2, 10] == pytest.approx(10 * 10e-6 + 9.4e-3)
    w = PWM(150.0, 0.2)
    m = exposure_window_means(w, rows, exps, offs)
    np.testing.assert_allclose(m[1], w.mean_over(rows + 8.2e-3, rows + 9.2e-3), atol=TIGHT)
    phases = np.linspace(0, 2 * np.pi, 7, endpoint=False)
    mp = exposure_window_means(w, rows, exps, offs, phase_rad=phases[:, None, None])
    assert mp.shape == (7, 3, 256)
    np.testing.assert_allclose(mp[0], m, atol=TIGHT)  # phase 0 = no extra phase
    # per-row offsets (E, H) are accepted
    m2 = exposure_window_means(w, rows, exps, np.broadcast_to(offs[:, None], (3, 256)))
    np.testing.assert_allclose(m2, m, atol=TIGHT)
    # a phase is a time shift of φ/(2πf)
    np.testing.assert_allclose(mp[3], exposure_window_means(
        w, rows + phases[3] / (2 * np.pi * 150.0), exps, offs), atol=TIGHT)


def test_modulated_rate_is_steady_plus_sources_times_window_means():
    rng = np.random.default_rng(6)
    steady = rng.uniform(0, 1e3, (64, 16)).astype(np.float32)
    src = [np.zeros((64, 16), np.float32), np.zeros((64, 16), np.float32)]
    src[0][10:20, 2:6] = 5e4
    src[1][40:50, 8:12] = 2e4
    wfs = [PWM(90.0, 0.1), RectifiedMains(50.0)]
    rows = row_start_times(sensor("rolling", h=64, line_time_s=30e-6))
    out = modulated_rate(steady, src, wfs, (rows, rows + 1e-3))
    exp = steady + src[0] * wfs[0].mean_over(rows, rows + 1e-3)[:, None].astype(np.float32) \
        + src[1] * wfs[1].mean_over(rows, rows + 1e-3)[:, None].astype(np.float32)
    np.testing.assert_allclose(out, exp, rtol=1e-6)
    # many phases at once: (P, H, W); constant waveform = steady + source
    ph = np.linspace(0, 6, 5)[:, None]
    assert modulated_rate(steady, src, wfs, (rows, rows + 1e-3), phase_rad=ph).shape == (5, 64, 16)
    np.testing.assert_allclose(modulated_rate(steady, src[:1], [Constant()], (rows, rows + 1e-3)),
                               steady + src[0], rtol=1e-6)
    # integrate_photo with the waveform gives the same electrons as T · modulated_rate
    s = sensor("rolling", h=64, w=16, line_time_s=30e-6)
    np.testing.assert_allclose(
        integrate_photo(src[0], s, 1e-3, flicker=wfs[0]),
        1e-3 * modulated_rate(None, src[:1], wfs[:1], (rows, rows + 1e-3)), rtol=1e-6)


def test_window_means_speed_rows_times_phases():
    """256 rows × 100 phases (the MMP workload of a 256 × 256 crop): well under 0.1 s."""
    w = PWM(90.0, 0.1, rise_s=1e-4, fall_s=1e-4)
    rows = row_start_times(sensor("rolling", h=256, line_time_s=10e-6))
    phases = np.random.default_rng(7).uniform(0, 2 * np.pi, (100, 1))
    window_means(w, rows, rows + 1e-3, phase_rad=phases)
    t = time.perf_counter()
    for _ in range(10):
        m = window_means(w, rows, rows + 1e-3, phase_rad=phases)
    per_call = (time.perf_counter() - t) / 10
    assert m.shape == (100, 256)
    assert per_call < 0.1, per_call


@pytest.mark.parametrize("make, words", [
    (lambda: PWM(90.0, 0.0), ["duty", "0.0", "(0, 1]"]),
    (lambda: PWM(90.0, 1.5), ["duty", "1.5", "(0, 1]"]),
    (lambda: PWM(0.0, 0.5), ["frequency_hz", "0.0", "> 0"]),
    (lambda: PWM(-90.0, 0.5), ["frequency_hz", "-90.0", "> 0"]),
    (lambda: PWM(float("nan"), 0.5), ["frequency_hz", "nan", "finite"]),
    (lambda: PWM(100.0, 0.5, rise_s=6e-3, fall_s=6e-3), ["rise_s + fall_s", "0.012", "≤"]),
    (lambda: PWM(100.0, 0.1, rise_s=1.5e-3, fall_s=1e-3), ["rise_s + fall_s", "0.0025", "≤"]),
    (lambda: PWM(100.0, 1.0, rise_s=1e-4), ["rise_s + fall_s", "0.0001", "≤"]),
    (lambda: PWM(100.0, 0.5, rise_s=-1e-4), ["rise_s", "-0.0001", "≥ 0"]),
    (lambda: RectifiedMains(0.0), ["mains_frequency_hz", "0.0", "> 0"]),
    (lambda: RectifiedMains(50.0, dc_fraction=1.2), ["dc_fraction", "1.2", "[0, 1]"]),
    (lambda: Sinusoid(100.0, depth=1.5), ["depth", "1.5", "[0, 1]"]),
    (lambda: PWM(90.0, 0.5).mean_over(1.0, 1.0), ["t1_s − t0_s", "0", "> 0"]),
    (lambda: exposure_windows(np.zeros(4), [1e-3, -1e-3]), ["exposures_s", "-0.001", "> 0"]),
    (lambda: exposure_windows(np.zeros(4), [1e-3, 1e-4], np.zeros((2, 3))),
     ["offsets_s", "(2, 3)", "(2, 4)"]),
    (lambda: waveform_from_dict({"kind": "strobe"}), ["strobe", "pwm"]),
    (lambda: waveform_from_dict({"kind": "pwm", "frequency_hz": 90}), ["pwm", "duty"]),
    (lambda: window_means("pwm", 0.0, 1.0), ["waveform", "pwm"]),
])
def test_bad_waveforms_name_field_value_and_range(make, words):
    with pytest.raises(ConfigError) as exc:
        make()
    msg = str(exc.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg, (word, msg)


def test_waveform_from_dict_builds_each_kind():
    assert waveform_from_dict({"kind": "pwm", "frequency_hz": 90, "duty": 0.1}) == PWM(90, 0.1)
    assert waveform_from_dict({"kind": "rectified_mains", "mains_frequency_hz": 60}
                              ).frequency_hz == 120.0
    assert waveform_from_dict({"kind": "sine", "frequency_hz": 100}) == Sinusoid(100.0)
    assert isinstance(waveform_from_dict({"kind": "constant"}), Constant)


# ------------------------------------------------------------------ light sources in a scene

from camtwin.scene.lights import (Box, Disc, LightSource, add_lights, capture_lit,  # noqa: E402
                                  led_headlamp, led_sign, lit_rates, traffic_light)
from camtwin.spectra import illuminance_lux  # noqa: E402


def test_regions_cover_their_areas():
    shape = (120, 160)
    box = Box(0.1, 0.35, 0.2, 0.62)
    assert box.coverage(shape).sum(dtype=np.float64) == pytest.approx(
        0.25 * 120 * 0.42 * 160, rel=1e-6)  # exact partial-sample overlaps
    disc = Disc(0.5, 0.4, 0.1)
    assert disc.coverage(shape).sum(dtype=np.float64) == pytest.approx(
        np.pi * (0.1 * 160) ** 2, rel=2e-3)  # πr², r = 16 samples
    assert disc.coverage(shape).max() == 1.0 and disc.coverage(shape).min() == 0.0


def test_light_radiance_has_the_requested_luminance():
    wl = np.arange(380.0, 1000.1, 5.0)
    for lt in (traffic_light("red"), traffic_light("green"), led_headlamp(), led_sign(),
               LightSource("table", Box(0, 1, 0, 1), 250.0, spectrum=([500, 550, 600],
                                                                      [0.0, 1.0, 0.0]))):
        # luminance L_v = 683·Σ L(λ) V(λ) Δλ (the photometric sum of illuminance_lux)
        assert float(illuminance_lux(lt.radiance(wl), wl)) == pytest.approx(lt.luminance_cd_m2,
                                                                            rel=1e-9)
    red = traffic_light("red").radiance(wl)
    assert wl[np.argmax(red)] == 630.0


@pytest.fixture(scope="module")
def lit_module():
    from camtwin.module import load_module

    m = load_module("default")
    return m.replace(sensor={"width_px": 96, "height_px": 64},
                     lens={"focal_length_mm": m.lens.focal_length_mm * 96 / 1280})


def lit_scene_for(module, lights):
    from camtwin.camera import module_scene

    return add_lights(module_scene(module, "uniform", illuminance_lux=200.0), lights)


def test_constant_light_equals_the_light_baked_into_the_scene(lit_module):
    """Linearity: a source with m = 1 gives the electrons of the steady scene with the source's
    radiance added to it (the ordinary, untimed capture path)."""
    from camtwin.camera import form_module_image
    from camtwin.sensor import capture

    lit = lit_scene_for(lit_module, [LightSource("lamp", Disc(0.5, 0.5, 0.15), 2000.0,
                                                 Constant(), "amber")])
    t_exp = 2e-3
    raw = capture_lit(lit_module, lit, exposure_s=t_exp, rng=1)
    ref = capture(form_module_image(lit_module, lit.mean_scene()), lit_module.sensor, t_exp, 1)
    np.testing.assert_allclose(raw.mean_electrons, ref.mean_electrons, rtol=2e-4,
                               atol=1e-3 * float(ref.mean_electrons.max()))
    assert "light:lamp" in raw.metadata["layout_px"]


def test_pwm_light_rows_get_their_own_window_mean(lit_module):
    """Rolling shutter: light electrons of row r = T·ė_light·⟨m⟩_[r·t_l, r·t_l + T] exactly."""
    w = PWM(90.0, 0.1, phase_rad=1.3, rise_s=1e-4, fall_s=2e-4)
    lit = lit_scene_for(lit_module, [led_sign((0.1, 0.9, 0.2, 0.8), waveform=w)])
    t_exp, t_start = 1e-3, 7.0e-3  # pulse rises at 8.81 ms: rows 0… dark, rows 61… fully lit
    s = lit_module.sensor
    steady, (light,) = lit_rates(lit_module, lit)
    raw = capture_lit(lit_module, lit, exposure_s=t_exp, rng=2, start_s=t_start)
    rows = row_start_times(s, t_start)
    dark = s.dark_current_at() * t_exp
    expected = t_exp * modulated_rate(steady, [light], [w], (rows, rows + t_exp)) + dark
    np.testing.assert_allclose(raw.mean_electrons, expected, rtol=1e-5, atol=1e-3)
    # the light really is modulated row by row (1 ms window against 11.1 ms period)
    m = w.mean_over(rows, rows + t_exp)
    assert m.max() > 5 and m.min() == 0.0
    # a global flicker modulates only the steady part
    fl = Flicker(100.0, depth=0.5)
    raw_f = capture_lit(lit_module, lit, exposure_s=t_exp, rng=2, start_s=t_start, flicker=fl)
    expected_f = expected + t_exp * steady * (fl.mean_over(rows, rows + t_exp) - 1)[:, None]
    np.testing.assert_allclose(raw_f.mean_electrons, expected_f, rtol=1e-5, atol=1e-3)


def test_bad_light_sources_name_field_value_and_range():
    cases = [(lambda: Box(0.5, 0.2, 0, 1), ["y0 < y1", "0.5"]),
             (lambda: Box(0, 1.2, 0, 1), ["y1", "1.2", "[0, 1]"]),
             (lambda: Disc(0.5, 0.5, 0.0), ["radius", "0.0", "(0, 0.5]"]),
             (lambda: LightSource("x", Box(0, 1, 0, 1), -5.0), ["luminance_cd_m2", "-5.0", "> 0"]),
             (lambda: traffic_light("purple").radiance(np.arange(400.0, 700.1, 5)),
              ["purple", "red"]),
             (lambda: LightSource("x", Box(0, 1, 0, 1), 10.0, {"kind": "pwm", "frequency_hz": 90,
                                                               "duty": 2}),
              ["duty", "2", "(0, 1]"])]
    for make, words in cases:
        with pytest.raises(ConfigError) as exc:
            make()
        for word in words:
            assert word in str(exc.value), (word, str(exc.value))


def test_motion_path_integrates_the_waveform_exactly_per_substep():
    """A uniform image that moves looks the same: with motion the flicker weight of each
    sub-step is the exact ∫ m dt, so a 1.1 ms pulse is neither missed nor over-counted by the
    midpoint sampling (10 px/s over 1 ms is one sub-step)."""
    s = sensor("rolling", h=128, w=8, line_time_s=40e-6)
    rate = np.full((128, 8), 1e4, np.float32)
    w = PWM(90.0, 0.1, phase_rad=0.5)
    for v in ((0.0, 10.0), (0.0, 900.0)):
        moving = integrate_photo(rate, s, 1e-3, motion_px_per_s=v, flicker=w, start_s=5e-3)
        still = integrate_photo(rate, s, 1e-3, flicker=w, start_s=5e-3)
        np.testing.assert_allclose(moving, still, rtol=1e-5, atol=1e-4)


def test_capture_lit_reuses_optical_images_across_phases(lit_module):
    from camtwin.scene.lights import lit_images

    lit = lit_scene_for(lit_module, [led_sign((0.2, 0.8, 0.2, 0.8))])
    imgs = lit_images(lit_module, lit)
    for start in (0.0, 4.4e-3):
        a = capture_lit(lit_module, lit, exposure_s=1e-3, rng=3, start_s=start)
        b = capture_lit(lit_module, lit, exposure_s=1e-3, rng=3, start_s=start, images=imgs)
        np.testing.assert_array_equal(a.dn, b.dn)
    with pytest.raises(ConfigError, match="light images"):
        capture_lit(lit_module, lit, exposure_s=1e-3, rng=3, images=(imgs[0], []))


def test_pwm_window_means_agree_with_the_p2020_reference():
    """Independent implementation: camtwin.measure.p2020.pwm_captured_fraction (on-time count
    N(u) = ⌊u⌋D + min(u − ⌊u⌋, D); Deegan, IS&T Electronic Imaging 2018)."""
    from camtwin.measure.p2020 import pwm_captured_fraction, pwm_seen_probability

    phases = np.random.default_rng(8).uniform(0, 2 * np.pi, 5000)
    for t_exp, f, d in ((1e-3, 90.0, 0.1), (11e-3, 90.0, 0.1), (0.2e-3, 500.0, 0.05)):
        ours = window_means(PWM(f, d), 0.0, t_exp, phase_rad=phases)
        np.testing.assert_allclose(ours, pwm_captured_fraction(t_exp, f, d, phases), atol=1e-9)
        assert np.mean(ours > 0) == pytest.approx(pwm_seen_probability(t_exp, f, d), abs=0.03)


def test_light_from_dict():
    from camtwin.scene.lights import light_from_dict

    lt = light_from_dict({"name": "sign", "box": [0.4, 0.6, 0.3, 0.7], "luminance_cd_m2": 5000,
                          "spectrum": "amber",
                          "waveform": {"kind": "pwm", "frequency_hz": 90, "duty": 0.1}})
    assert lt.region == Box(0.4, 0.6, 0.3, 0.7) and lt.waveform == PWM(90.0, 0.1)
    assert isinstance(light_from_dict({"name": "l", "disc": [0.5, 0.5, 0.1],
                                       "luminance_cd_m2": 1}).waveform, Constant)
    for bad, word in (({"name": "l", "luminance_cd_m2": 1}, "exactly one region"),
                      ({"name": "l", "disc": [0.5, 0.5], "luminance_cd_m2": 1}, "disc 3"),
                      ({"name": "l", "box": [0, 1, 0, 1], "colour": "red",
                        "luminance_cd_m2": 1}, "colour")):
        with pytest.raises(ConfigError, match=word):
            light_from_dict(bad)
