"""Hand shake, motion blur, rolling-shutter wobble, OIS / EIS and the stabilisation gain.

References:
* linear-motion MTF |sinc(π f L)| and sinusoidal-vibration MTF |J₀(2π f A)| — closed forms
  of the time-averaged phase factor (Hadar, Dror & Kopeika, Opt. Eng. 33, 566 (1994);
  Holst, Electro-Optical Imaging System Performance); J₀ from scipy.special.
* CIPA DC-011 / ISO 20954-1:2019: blur threshold 63 µm on a 24 × 36 mm frame, gain in stops
  = log₂(T_on/T_off) at the threshold; reciprocal rule T ≈ 1/f₃₅ for hand-held shooting.
* First-order loop: residual of a tone ν through 1 − H, H = 1/(1 + jν/f_bw).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal
from scipy.special import j0

from camtwin.errors import ConfigError, UnknownNameError
from camtwin.motion import SHAKE_PRESETS, Trajectory, shake_spec, shake_trajectory
from camtwin.motion.blur import (blur_extent_px, blur_kernel, kernel_mtf, mtf50, row_motion,
                                 shake_image, trajectory_otf)
from camtwin.motion.stabilise import (CIPA_BLUR_THRESHOLD_UM, EisSpec, OisSpec,
                                      blur_amount_um, cipa_gain, eis_residual, ois_residual,
                                      stabilisation_gain)

#: The goal tolerance of issue 21 for the analytic MTFs (absolute MTF units).
MTF_TOL = 0.03
FREQS = np.linspace(0.0, 0.5, 101)  # cycles/pixel up to Nyquist


def _time(duration_s=0.1, n=20001):
    return np.linspace(0.0, duration_s, n)


# ----------------------------------------------------------------------------- shake model
def test_trajectory_psd_matches_model():
    """Welch PSD of 8 seeded 32 s trajectories (yaw and pitch) equals S_θ(f) within the
    estimator's statistical error, and the RMS angular velocity equals the spec's."""
    spec = shake_spec("handheld")
    fs, nper = 500.0, 1024
    gen = np.random.default_rng(7)
    psds, omegas = [], []
    for _ in range(8):
        tr = shake_trajectory(spec, 32.0, gen, sample_rate_hz=fs)
        for ax in (0, 1):
            f, p = signal.welch(tr.angles_rad[:, ax], fs=fs, nperseg=nper)
            psds.append(p)
            omegas.append(np.std(np.gradient(tr.angles_rad[:, ax], 1 / fs)))
    est = np.mean(psds, axis=0)
    band = (f >= 1.0) & (f <= 40.0)
    model = spec.angle_psd(f[band], "yaw")
    # 16 series × ~31 half-overlapping Hann segments: σ/μ ≈ 1/√(16·31·0.53) ≈ 6 % per bin
    rel = est[band] / model - 1.0
    assert np.all(np.abs(rel) < 0.3)                # ≈ 5σ per bin, 160 bins
    assert abs(np.mean(rel)) < 0.03                 # averaged over bins
    w_rms = math.sqrt(np.mean(np.square(omegas)))
    assert w_rms == pytest.approx(math.radians(spec.omega_rms_deg_s), rel=0.05)


def test_roll_and_tripod_scale():
    spec = shake_spec("handheld")
    f = np.array([2.0, 10.0])
    assert np.allclose(spec.angle_psd(f, "roll"), 0.25 * spec.angle_psd(f, "yaw"))
    gen = np.random.default_rng(1)
    still = shake_trajectory("tripod", 4.0, gen).angles_rad.std()
    hand = shake_trajectory("handheld", 4.0, gen).angles_rad.std()
    assert still < hand / 100


def test_image_displacement_is_f_theta():
    t = np.arange(5) * 1e-3
    ang = np.zeros((5, 3))
    ang[:, 1] = 1e-3      # yaw 1 mrad
    ang[:, 2] = 1e-3      # roll 1 mrad
    d = Trajectory(t, ang).image_px(4.0, 1.0, field_px=(0.0, 500.0))
    # f·θ/p = 4 mm·1 mrad / 1 µm = 4 px horizontally; roll at 500 px → 0.5 px vertically
    assert np.allclose(d[0], [0.5, 4.0])


# ----------------------------------------------------------------------------- blur / MTF
def test_linear_motion_mtf_is_sinc():
    t = _time()
    for length in (3.0, 7.5):
        d = np.column_stack([np.zeros_like(t), length * t / t[-1]])
        ker, _ = blur_kernel(d, t, t[-1], oversample=8)
        assert ker.sum() == pytest.approx(1.0)
        m = kernel_mtf(ker, FREQS, oversample=8, axis=1)
        assert np.max(np.abs(m - np.abs(np.sinc(FREQS * length)))) < MTF_TOL
        assert blur_extent_px(d, t, t[-1])[1] == pytest.approx(length, rel=1e-3)


def test_sinusoidal_vibration_mtf_is_bessel_j0():
    t = _time()
    for amp, nu in ((2.0, 50.0), (4.5, 30.0)):     # 5 and 3 whole periods in 0.1 s
        d = np.column_stack([amp * np.sin(2 * np.pi * nu * t), np.zeros_like(t)])
        ker, _ = blur_kernel(d, t, t[-1], oversample=8)
        m = kernel_mtf(ker, FREQS, oversample=8, axis=0)
        assert np.max(np.abs(m - np.abs(j0(2 * np.pi * FREQS * amp)))) < MTF_TOL
        otf = trajectory_otf(d, t, t[-1], FREQS, direction=(1.0, 0.0))
        assert np.max(np.abs(np.abs(otf) - np.abs(j0(2 * np.pi * FREQS * amp)))) < 0.01


def test_mtf50_of_linear_blur():
    # sinc(πfL) = 0.5 at πfL = 1.8955 → f50 = 0.60335/L
    length = 2.0
    m = np.abs(np.sinc(FREQS * length))
    assert mtf50(FREQS, m) == pytest.approx(0.60335 / length, rel=2e-3)


def test_rolling_shutter_wobble_and_shear():
    # sinusoidal vibration: the centroid of row r is A·sin(2πν(t_r + T/2))·sinc(νT)
    amp, nu, exp_s, t_line = 3.0, 10.0, 0.01, 30e-6
    t = np.linspace(0, 0.2, 40001)
    d = np.column_stack([np.zeros_like(t), amp * np.sin(2 * np.pi * nu * t)])
    r0 = np.arange(1000) * t_line
    cen, spread = row_motion(d, t, r0, exp_s, n_samples=256)
    expect = amp * np.sin(2 * np.pi * nu * (r0 + exp_s / 2)) * np.sinc(nu * exp_s)
    assert np.max(np.abs(cen[:, 1] - expect)) < 2e-3
    assert np.all(spread[:, 0] == 0)
    # linear motion: shake_image equals the sensor's own constant-velocity integration
    from camtwin.module import load_module
    from camtwin.sensor.timing import integrate_photo, row_start_times

    sensor = load_module().sensor.model_copy(update={
        "width_px": 64, "height_px": 48,
        "shutter": load_module().sensor.shutter.model_copy(update={"type": "rolling",
                                                                    "line_time_s": 1e-4})})
    rate = np.zeros((48, 64), dtype=np.float32)
    rate[:, 32:] = 1000.0
    v = 800.0  # px/s → shear 0.08 px per row
    ref = integrate_photo(rate, sensor, 2e-3, motion_px_per_s=(0.0, v))
    tt = np.linspace(0, 0.02, 2001)
    mine = shake_image(rate, np.column_stack([0 * tt, v * tt]), tt, row_start_times(sensor),
                       2e-3, n_steps=16) * 2e-3
    assert np.allclose(mine, ref, rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------------------- OIS / CIPA
def test_cipa_gain_definition():
    exp = 2.0 ** (np.arange(-60, 13) / 6.0)
    # blur ∝ T (constant angular velocity): an 8× attenuation is exactly 3 stops
    t_off, t_on, stops = cipa_gain(exp, 63.0 * exp / (1 / 50), 63.0 * exp / 8 / (1 / 50), 63.0)
    assert t_off == pytest.approx(1 / 50, rel=1e-9)
    assert stops == pytest.approx(3.0, abs=1e-9)
    # blur ∝ √T (random walk): the same attenuation is 6 stops
    _, _, stops = cipa_gain(exp, np.sqrt(exp), np.sqrt(exp) / 8, 0.2)
    assert stops == pytest.approx(6.0, abs=1e-6)


def test_unstabilised_handheld_follows_reciprocal_rule():
    """The handheld preset's CIPA blur reaches 63 µm near T = 1/f₃₅ (calibration)."""
    for f35 in (24.0, 50.0, 100.0):
        g = stabilisation_gain("handheld", None, focal_length_mm=f35,
                               sensor_diagonal_mm=math.hypot(24, 36), rng=3, duration_s=16)
        assert 1 / (1.5 * f35) < g.t_off_s < 1.5 / f35
        assert g.stops == 0.0


def test_phone_ois_meets_three_stops_at_quarter_second():
    # a phone main camera: f = 4.4 mm on a 1/2.3"-class sensor (7.7 mm diagonal), f35 ≈ 25 mm
    g = stabilisation_gain("handheld", "phone", focal_length_mm=4.4, sensor_diagonal_mm=7.7,
                           rng=5)
    assert g.gain_at(0.25) >= 3.0
    assert 3.0 <= g.stops <= 6.0
    assert np.all(g.blur_on_um <= g.blur_off_um * 1.01)
    assert g.threshold_um == CIPA_BLUR_THRESHOLD_UM
    # a slower loop and a tiny stroke give less
    slow = stabilisation_gain("handheld", OisSpec(bandwidth_hz=10.0), focal_length_mm=4.4,
                              sensor_diagonal_mm=7.7, rng=5)
    stuck = stabilisation_gain("handheld", OisSpec(stroke_um=0.0), focal_length_mm=4.4,
                               sensor_diagonal_mm=7.7, rng=5)
    assert slow.stops < g.stops - 1.0
    assert abs(stuck.stops) < 0.05


def test_ois_loop_residual_of_a_tone():
    """Noise-free, unclipped, no high-pass: the residual of a ν tone is |1 − H_lp(ν)|."""
    fs, nu, fbw = 5000.0, 8.0, 40.0
    t = np.arange(int(4 * fs)) / fs
    ang = np.zeros((t.size, 3))
    ang[:, 1] = 1e-3 * np.sin(2 * np.pi * nu * t)
    spec = OisSpec(gyro_noise_density_deg_s_rthz=0.0, gyro_bias_deg_s=0.0, highpass_hz=0.0,
                   bandwidth_hz=fbw, stroke_um=5000.0)
    res = ois_residual(Trajectory(t, ang), spec, 5.0, 0).angles_rad[int(fs):, 1]
    x = nu / fbw
    expect = x / math.sqrt(1 + x * x)
    assert np.std(res) / (1e-3 / math.sqrt(2)) == pytest.approx(expect, rel=0.03)


def test_gyro_noise_random_walk():
    """With no shake, the residual is the integrated gyro noise (angle random walk):
    Var[θ(T) − θ(0)] = n²·T/2 for a one-sided rate noise density n [rad/s/√Hz] (datasheet
    convention: RMS rate noise = n·√bandwidth, i.e. two-sided PSD n²/2), loop at full
    bandwidth."""
    fs = 2000.0
    t = np.arange(int(20 * fs)) / fs
    n_deg = 0.1
    spec = OisSpec(gyro_noise_density_deg_s_rthz=n_deg, gyro_bias_deg_s=0.0, highpass_hz=0.0,
                   bandwidth_hz=2000.0, stroke_um=5000.0)
    res = ois_residual(Trajectory(t, np.zeros((t.size, 3))), spec, 5.0, 11).angles_rad[:, 0]
    lag = int(0.5 * fs)
    var = np.var(res[lag:] - res[:-lag])
    assert var == pytest.approx(math.radians(n_deg) ** 2 * 0.5 / 2, rel=0.15)


def test_blur_amount_of_linear_motion():
    # θ = ω t: peak-to-peak over T is ωT, so B = f·ω·T
    fs = 1000.0
    t = np.arange(int(10 * fs)) / fs
    ang = np.zeros((t.size, 3))
    ang[:, 0] = ang[:, 1] = 0.01 * t
    b = blur_amount_um(Trajectory(t, ang), [0.1, 0.5], 10.0)
    assert np.allclose(b, 10e3 * 0.01 * np.array([0.1, 0.5]), rtol=1e-9)


# ----------------------------------------------------------------------------- EIS
def _video_traj(seed=2):
    tr = shake_trajectory("walking", 14.0, seed, sample_rate_hz=1000.0)
    return tr.image_px(4.0, 1.4)[2000:], tr.t_s[2000:] - tr.t_s[2000]


def test_eis_per_row_beats_per_frame_on_rolling_shutter():
    d, t = _video_traj()
    kw = dict(frame_rate_fps=30.0, n_frames=300, height_px=3000, exposure_s=1 / 120,
              focal_length_px=4.0e3 / 1.4, rng=1)
    rolling = dict(kw, line_time_s=10e-6)   # 30 ms readout
    row = eis_residual(d, t, EisSpec(margin_px=400.0, mode="per_row"), **rolling)
    frame = eis_residual(d, t, EisSpec(margin_px=400.0, mode="per_frame"), **rolling)
    none = eis_residual(d, t, EisSpec(margin_px=0.0, mode="per_row"), **rolling)
    assert row.jitter_px < frame.jitter_px < none.jitter_px
    assert row.jitter_px < 0.05 * row.unstabilised_px
    assert none.jitter_px == pytest.approx(none.unstabilised_px)
    # a noise-free gyro and an unclipped per-row warp leave exactly the intended path
    ideal = eis_residual(d, t, EisSpec(margin_px=400.0, gyro_noise_density_deg_s_rthz=0.0),
                         **rolling)
    assert ideal.jitter_px < 1e-9 < row.jitter_px
    # global shutter: all rows at one time, per-row = per-frame
    g_row = eis_residual(d, t, EisSpec(margin_px=400.0, mode="per_row"), line_time_s=0.0, **kw)
    g_frame = eis_residual(d, t, EisSpec(margin_px=400.0, mode="per_frame"), line_time_s=0.0,
                           **kw)
    assert g_row.jitter_px == pytest.approx(g_frame.jitter_px, rel=1e-9)


def test_eis_margin_limits_correction():
    d, t = _video_traj()
    kw = dict(frame_rate_fps=30.0, n_frames=300, height_px=1000, exposure_s=1 / 120,
              line_time_s=10e-6, focal_length_px=4.0e3 / 1.4, rng=1)
    small = eis_residual(d, t, EisSpec(margin_px=5.0), **kw)
    big = eis_residual(d, t, EisSpec(margin_px=1000.0), **kw)
    assert small.clipped_fraction > 0.3 and big.clipped_fraction == 0.0
    assert big.jitter_px < small.jitter_px


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("field,value", [("stroke_um", -1.0),
                                         ("gyro_noise_density_deg_s_rthz", -0.01),
                                         ("bandwidth_hz", 0.0)])
def test_bad_ois_spec_is_one_line(field, value):
    with pytest.raises(ConfigError) as exc:
        OisSpec(**{field: value})
    msg = str(exc.value)
    assert "\n" not in msg and field in msg and str(value) in msg


def test_unknown_presets_list_choices():
    with pytest.raises(UnknownNameError, match="handheld"):
        shake_spec("jogging")
    with pytest.raises(UnknownNameError, match="phone"):
        stabilisation_gain("handheld", "gimbal", focal_length_mm=4, sensor_diagonal_mm=7)
    with pytest.raises(ConfigError, match="margin_px"):
        EisSpec(margin_px=-3)
    assert set(SHAKE_PRESETS) == {"tripod", "handheld", "walking", "vehicle"}


# ----------------------------------------------------------------------------- metrics
def test_motion_metrics_in_evaluate():
    from camtwin.evaluate import measure
    from camtwin.module import load_module

    m = load_module()
    assert measure(m, "ois_gain_stops").value == 0.0          # no stabiliser → 0 stops
    g = measure(m, "ois_gain_stops", {"ois": "phone", "exposure_s": 0.25})
    assert g.value >= 3.0
    off = measure(m, "shake_blur_px", {"exposure_s": 1 / 30})
    # the default module has no OIS of its own: the stabiliser is named (ois: phone)
    on = measure(m, "shake_blur_px", {"exposure_s": 1 / 30, "stabilised": True, "ois": "phone"})
    assert on.value < off.value / 3
    longer = measure(m, "shake_blur_px", {"exposure_s": 1 / 8})
    assert longer.value > 2 * off.value
    jit = measure(m, "eis_jitter_px")
    assert jit.value < jit.details["unstabilised_px"] / 10
    loss = measure(m, "mtf50_loss_shake", {"exposure_s": 1 / 15})
    loss_on = measure(m, "mtf50_loss_shake", {"exposure_s": 1 / 15, "stabilised": True,
                                               "ois": "phone"})
    assert 0 <= loss_on.value < loss.value <= 1
    with pytest.raises(ConfigError, match="exposure_s"):
        measure(m, "shake_blur_px", {"exposure_s": -1})


# ----------------------------------------------------------------------------- burst path
def test_burst_poses_follow_the_shake_model():
    """Burst poses under ``shake``: frames 1 s apart are nearly independent draws of the
    image displacement, so the spread of t_col about its mean is k·θ_rms, k = f/p
    (θ_rms² = ∫ S_θ df of the yaw PSD)."""
    from camtwin.burst.simulate import HandheldMotion, draw_poses

    spec = shake_spec("handheld")
    f = np.linspace(0, 200, 200001)
    theta_rms = math.sqrt(np.trapezoid(spec.angle_psd(f, "yaw"), f))
    motion = HandheldMotion(shake="handheld", frame_interval_s=1.0)
    poses = draw_poses(200, motion, np.random.default_rng(4), focal_length_mm=4.0,
                       pixel_pitch_um=1.0, exposure_s=1e-3)
    k = 4.0e3 / 1.0
    # std of ~200 nearly independent samples: ±5 % (1σ); tolerance 20 %
    assert np.std(poses[:, 2]) == pytest.approx(k * theta_rms, rel=0.2)
    assert np.std(poses[:, 1]) == pytest.approx(k * theta_rms, rel=0.2)
    assert np.std(poses[:, 0]) == pytest.approx(0.5 * theta_rms, rel=0.2)   # roll
    assert np.all(poses[0] == 0)


def test_burst_with_shake_blurs_long_frames():
    from camtwin.burst import HandheldMotion, burst_optical_image, simulate_burst
    from camtwin.evaluate.metrics import crop_module
    from camtwin.module import load_module

    mod = crop_module(load_module(), 64, 48)
    oi = burst_optical_image(mod, "slanted_edge", illuminance_lux=500.0, margin_px=16)
    short = simulate_burst(mod, oi, 2, 1e-4, 3, motion=HandheldMotion(shake="walking"))
    long = simulate_burst(mod, oi, 2, 0.1, 3,
                          motion=HandheldMotion(shake="walking", frame_interval_s=0.1))
    assert np.any(short.poses[1] != 0)

    def grad_energy(raw):
        img = raw.dn.astype(float) - raw.black_level_dn
        return np.mean(np.abs(np.diff(img[::2, ::2], axis=1))) / max(img.mean(), 1e-9)

    # the 0.1 s walking frame moves tens of pixels during the exposure: edges smear
    assert grad_energy(long.frames[1]) < 0.7 * grad_energy(short.frames[1])
    with pytest.raises(UnknownNameError, match="handheld"):
        simulate_burst(mod, oi, 2, 0.01, 3, motion=HandheldMotion(shake="jog"))
    with pytest.raises(ConfigError, match="frame_interval_s"):
        simulate_burst(mod, oi, 2, 0.1, 3, motion=HandheldMotion(shake="walking"))


def test_capture_shaken_rolling_shutter_wobble_matches_row_centroids():
    """A vertical edge captured through the sensor chain while the camera vibrates: each
    row's edge position (area under the normalised ESF, noise-free ground truth) moves with
    the row's motion centroid d̄_r of :func:`row_motion` (rolling shutter: rows see the
    vibration at different phases)."""
    import dataclasses

    from camtwin.camera import module_scene
    from camtwin.evaluate.metrics import crop_module
    from camtwin.module import load_module
    from camtwin.motion.blur import capture_shaken
    from camtwin.optics import form_image
    from camtwin.sensor.timing import row_start_times

    mod = crop_module(load_module(), 64, 64)
    s = mod.sensor
    assert s.shutter.type == "rolling"
    oi = form_image(module_scene(mod, "uniform", illuminance_lux=500.0), mod.lens)
    w = oi.irradiance.shape[2]
    step = (np.arange(w) >= w // 2).astype(np.float32)
    oi = dataclasses.replace(oi, irradiance=np.ascontiguousarray(oi.irradiance * step))
    fs = 20000.0
    t = np.arange(int(0.02 * fs)) / fs
    amp_px, nu, exp_s = 2.0, 300.0, 1e-3
    k = mod.lens.focal_length_mm * 1e3 / s.pixel_pitch_um
    ang = np.zeros((t.size, 3))
    ang[:, 1] = amp_px / k * np.sin(2 * np.pi * nu * t)
    tr = Trajectory(t, ang)
    raw = capture_shaken(mod, oi, exp_s, 0, trajectory=tr, n_time_samples=96, warmup_s=0.0)
    me = raw.mean_electrons.astype(np.float64)
    pos = []
    for r in range(me.shape[0]):
        vals = []
        for par in (0, 1):   # one CFA colour at a time
            v = me[r, par::2]
            lo, hi = v[:6].mean(), v[-6:].mean()
            vals.append(2.0 * np.sum(1.0 - (v - lo) / (hi - lo)))
        pos.append(np.mean(vals))
    pos = np.asarray(pos)
    cen, _ = row_motion(tr.image_px(mod.lens.focal_length_mm, s.pixel_pitch_um), t,
                        row_start_times(s), exp_s, n_samples=256)
    pred = cen[:, 1]
    assert np.ptp(pred) > 1.0                      # the wobble is visible …
    assert np.max(np.abs((pos - pos.mean()) - (pred - pred.mean()))) < 0.05   # … and right


def test_phone_profile_requirement_through_evaluate():
    """Issue 21's phone requirement (≥ 3 stops OIS at 1/4 s) as an application profile."""
    from camtwin.evaluate import ApplicationSpec, evaluate
    from camtwin.module import load_module

    src = {"basis": "practice", "source": "issue 21: phone, >= 3 stops OIS at 1/4 s"}
    app = ApplicationSpec.from_dict({"name": "phone_ois", "title": "phone OIS", "requirements": [
        {"metric": "ois_gain_stops", "min": 3.0,
         "conditions": {"ois": "phone", "exposure_s": 0.25}, **src},
        {"metric": "ois_gain_stops", "min": 3.0, "conditions": {"exposure_s": 0.25}, **src}]})
    ev = evaluate(load_module(), app, seed=1)
    texts = [str(v) for v in ev.verdicts]
    assert "pass" in texts[0] and "fail" in texts[1]      # no stabiliser: 0 stops
