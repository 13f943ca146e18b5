"""HDR sensor modes (camtwin.sensor.hdr) and their ISP merge (camtwin.isp.hdr).

Independent references used here:

* the photon-transfer noise model of EMVA Standard 1288 R4.0 (2021), §2: var[e⁻] =
  μ_e + σ_d² with quantisation σ_q² = 1/12 DN², i.e. per component k of scale s_k
  var(x_k) = s_k·x + s_k²(σ_k² + 1/(12K_k²)) in reference electrons — written out again
  in each test (not imported from the code under test) where the number is checked;
* dynamic range DR = saturation / temporal dark noise (EMVA 1288 R4.0, "dynamic range"),
  derived for a split pixel in test_split_pixel_dynamic_range;
* the rolling-shutter / DOL timing (exposure windows written out from the line time) and
  the analytic PWM-flicker mean over a window (camtwin.sensor.timing.Flicker.mean_over,
  a closed-form integral tested in tests/test_shutter.py).

Noise is checked by statistics over many pixels of flat fields, never by seeded bytes:
the standard error of a mean over N pixels is σ/√N and of an SNR in dB ≈ 8.69/√(2N).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from camtwin.errors import ConfigError
from camtwin.isp.hdr import (HDR_MERGE_METHODS, analytic_snr_db, hdr_to_rgb, merge_hdr,
                             tone_map_local)
from camtwin.sensor import Flicker, SensorSpec
from camtwin.sensor.hdr import HdrSpec, component_key, dol_windows, hdr_expose

T = 0.01  # long exposure [s]


def _sensor(**kw) -> SensorSpec:
    base = dict(width_px=256, height_px=256, pixel_pitch_um=3.0, full_well_e=20000,
                conversion_gain_dn_per_e=0.2, read_noise_e=2.0, adc_bits=12,
                black_level_dn=64, noise={"blooming": False})
    base.update(kw)
    return SensorSpec(**base)


def _flat(sensor, x_e):
    """Rate [e⁻/s] that gives x_e reference electrons in the long exposure T."""
    return np.full((sensor.height_px, sensor.width_px), x_e / T, np.float32)


def _snr_db(v):
    v = np.asarray(v, dtype=np.float64)
    return 20 * math.log10(v.mean() / v.std(ddof=1))


def _var_ref(x, scale, read_e, gain):
    """EMVA 1288 noise model of one component in reference e⁻² (module docstring)."""
    return scale * x + scale**2 * (read_e**2 + 1.0 / (12.0 * gain**2))


# --------------------------------------------------------------------------------------
# specs and validation
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, message", [
    ({"mode": "dol", "dol": {"exposure_ratios": [16, 1.0]}},
     "exposure_ratios[1] = 1.0: each ratio T(k-1)/T(k) must be > 1"),
    ({"mode": "dol", "dol": {"exposure_ratios": [2, 2, 2, 2]}},
     "exposure_ratios has 4 entries (5 exposures): a DOL frame has 2..4 exposures"),
    ({"mode": "dol", "dol": {"short_exposures_s": [1e-3, 2e-3]}},
     "short_exposures_s[1] = 0.002 s is not shorter than short_exposures_s[0]"),
    ({"mode": "dol", "dol": {"exposure_ratios": [16], "short_exposures_s": [1e-3]}},
     "give exactly one of exposure_ratios"),
    ({"mode": "dol", "dol": {"exposure_ratios": [16], "readout_offset_lines": [5, 5]}},
     "readout_offset_lines has 2 entries; needs one per short exposure (1)"),
    ({"mode": "dol"}, "mode = 'dol' needs a 'dol' block"),
    ({"mode": "dcg", "dol": {"exposure_ratios": [16]}}, "a 'dol' block is given but mode"),
    ({"mode": "split_pixel", "split_pixel": {"sensitivity_ratio": 0.5, "full_well_e": 5000,
                                             "read_noise_e": 2,
                                             "conversion_gain_dn_per_e": 0.5}},
     "split_pixel.sensitivity_ratio = 0.5: Input should be greater than 1"),
    ({"mode": "pwl"}, "mode = 'pwl' needs a 'pwl' block"),
    ({"mode": "hdr10"}, "mode = 'hdr10'"),
    ({"mode": "dol", "dol": {"exposure_ratios": [16]}, "switch_fraction": 1.5},
     "switch_fraction = 1.5"),
])
def test_bad_hdr_specs_are_one_line_errors(spec, message):
    with pytest.raises(ConfigError) as exc:
        HdrSpec(**spec)
    assert message in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("extra, hdr, message", [
    ({}, {"mode": "dcg"}, "hdr.mode = 'dcg' needs the sensor's 'lcg' block"),
    ({"lcg": {"conversion_gain_dn_per_e": 0.5, "read_noise_e": 3, "full_well_e": 40000}},
     {"mode": "dcg"}, "lcg.conversion_gain_dn_per_e = 0.5 must be below the HCG"),
    ({}, {"mode": "lofic", "lofic": {"capacitor_e": 1e5, "conversion_gain_dn_per_e": 0.4,
                                     "read_noise_e": 5}},
     "hdr.lofic.conversion_gain_dn_per_e = 0.4 must be below"),
    ({"shutter": {"type": "ccd"}, "noise": {"blooming": False}},
     {"mode": "dol", "dol": {"exposure_ratios": [4]}}, "shutter.type = 'ccd' is not supported"),
])
def test_hdr_mode_must_fit_the_sensor(extra, hdr, message):
    with pytest.raises(ConfigError) as exc:
        _sensor(hdr=hdr, **extra)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_short_exposure_longer_than_the_long_one():
    s = _sensor(width_px=16, height_px=16)
    hdr = HdrSpec(mode="dol", dol={"short_exposures_s": [0.02]})
    with pytest.raises(ConfigError, match=r"short_exposures_s\[0\] = 0.02 s is not shorter "
                                          r"than the long exposure_s = 0.01 s"):
        hdr_expose(_flat(s, 100), s, hdr, T, key=1)


def test_readout_offset_shorter_than_its_exposure():
    s = _sensor(width_px=16, height_px=16)          # line time 10 µs
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16], "readout_offset_lines": [10]})
    with pytest.raises(ConfigError, match=r"readout_offset_lines\[0\] = 10 lines .*valid: "
                                          r">= 63"):
        hdr_expose(_flat(s, 100), s, hdr, T, key=1)


def test_rate_shape_and_missing_mode():
    s = _sensor(width_px=16, height_px=16)
    with pytest.raises(ConfigError, match="hdr_expose needs an HdrSpec"):
        hdr_expose(_flat(s, 100), s, None, T, key=1)
    with pytest.raises(ConfigError, match=r"rate_e_per_s has shape \(4, 4\)"):
        hdr_expose(np.ones((4, 4)), s, {"mode": "dol", "dol": {"exposure_ratios": [4]}}, T,
                   key=1)


def test_sensor_without_hdr_is_unchanged_and_hdr_round_trips():
    s = _sensor()
    assert s.hdr is None
    h = s.replace(hdr={"mode": "dol", "dol": {"exposure_ratios": [16, 16]}})
    assert h.hdr.dol.n_exposures == 3
    assert SensorSpec.from_dict(h.model_dump(mode="json")) == h
    assert len({component_key(5, i) for i in range(4)} | {5}) == 5


# --------------------------------------------------------------------------------------
# DOL: linearity over > 120 dB, SNR at the transitions, timing, motion
# --------------------------------------------------------------------------------------
DOL3 = HdrSpec(mode="dol", dol={"exposure_ratios": [16, 16]})


@pytest.mark.parametrize("method", sorted(HDR_MERGE_METHODS))
def test_dol_merge_linear_over_120_db(method):
    """3 exposures, ratios 16 and 16, FWC 20 000 e⁻: 64 flat strips from 4 e⁻ to 0.95 of
    the full scale 256·20 000 e⁻ (121.7 dB). Every strip's merged mean equals the exposure
    x = ė·T within 5 standard errors (σ from the EMVA model, N = 1024 pixels per strip);
    strips within 4σ of a switch threshold, where the switch itself moves the mean by up to
    0.4σ (camtwin.isp.hdr docstring), are left out of the per-strip check but in the fit.
    Blooming is off (ideal anti-blooming) so that strips do not spill into each other."""
    s = _sensor(width_px=256, height_px=256)
    full = 256 * 20000.0
    levels = np.geomspace(4.0, 0.95 * full, 64)
    assert 20 * math.log10(levels[-1] / levels[0]) >= 120
    rate = np.repeat(levels / T, 4)[:, None] * np.ones((1, 256), np.float32)
    raw = hdr_expose(rate.astype(np.float32), s, DOL3, T, key=11)
    merged = merge_hdr(raw, method=method).linear_e.reshape(64, 4 * 256).astype(np.float64)
    means = merged.mean(axis=1)
    sigma_0 = np.sqrt(_var_ref(18000.0, 1, 2.0, 0.2))
    near = np.zeros(64, bool)
    for thr, scale in ((18000.0, 1), (18000.0 * 16, 16)):           # 0.9 × FWC × s_k
        near |= np.abs(levels - thr) < 4 * scale * sigma_0
    se = np.sqrt(np.array([min(_var_ref(x, 1, 2.0, 0.2) if x < 18000 else np.inf,
                               _var_ref(x, 16, 2.0, 0.2) if x < 288000 else np.inf,
                               _var_ref(x, 256, 2.0, 0.2)) for x in levels]) / 1024)
    z = (means - levels) / se
    assert np.all(np.abs(z[~near]) < 5), z
    assert np.all(np.abs(means / levels - 1)[levels > 1000] < 0.005)
    slope = np.polyfit(np.log(levels), np.log(means), 1)[0]
    assert abs(slope - 1) < 1e-3


def test_dol_merge_linear_in_exposure_time():
    """The same flat scene (4.8·10⁵ e⁻/s) at long exposures from 10 µs to 10 s (120 dB of
    exposure; every DOL exposure and readout offset scales with it): merged mean / (ė·T)
    = 1 within 5 standard errors (N = 16 384 pixels each), avoiding the ±4σ switch bands
    as in test_dol_merge_linear_over_120_db."""
    s = _sensor(width_px=128, height_px=128)
    rate = 4.8e5
    for t in np.geomspace(1e-5, 10.0, 7):
        x = rate * t
        raw = hdr_expose(np.full((128, 128), rate, np.float32), s, DOL3, float(t), key=9)
        m = merge_hdr(raw).linear_e.astype(np.float64)
        scale = 1 if x < 18000 else (16 if x < 288000 else 256)
        se = math.sqrt(_var_ref(x, scale, 2.0, 0.2) / m.size)
        assert abs(m.mean() - x) < 5 * se, (t, m.mean() / x)


def _analytic_dol(x, method, read=2.0, gain=0.2):
    """Merged variance of the 3-exposure DOL at x, written out (not the library's)."""
    comps = [(1, 18000.0), (16, 288000.0), (256, math.inf)]
    valid = [(s, x < t) for s, t in comps]
    if method == "selection":
        s = next(s for s, ok in valid if ok)
        return _var_ref(x, s, read, gain)
    return 1.0 / sum(1.0 / _var_ref(x, s, read, gain) for s, ok in valid if ok)


@pytest.mark.parametrize("method", sorted(HDR_MERGE_METHODS))
@pytest.mark.parametrize("threshold, scale", [(18000.0, 1), (288000.0, 16)])
def test_dol_snr_below_and_above_each_switch(method, threshold, scale):
    """SNR 5σ below and above each switch (65 536 pixels each) vs the analytic model:
    within 0.15 dB (the issue's goal: 0.5 dB; the estimator's own σ is 0.024 dB), and the
    dip depth (the SNR drop across the switch) within 0.2 dB."""
    s = _sensor()
    sig = scale * math.sqrt(_var_ref(threshold / scale, 1, 2.0, 0.2))
    measured, analytic = [], []
    for x in (threshold - 5 * sig, threshold + 5 * sig):
        raw = hdr_expose(_flat(s, x), s, DOL3, T, key=int(x))
        merged = merge_hdr(raw, method=method).linear_e
        measured.append(_snr_db(merged))
        analytic.append(10 * math.log10(x**2 / _analytic_dol(x, method)))
        # the library's analytic model is the same as the one written out here
        assert float(analytic_snr_db(x, raw.components, method=method)) == pytest.approx(
            analytic[-1], abs=1e-6)
    assert np.allclose(measured, analytic, atol=0.15), (measured, analytic)
    dip_m, dip_a = measured[0] - measured[1], analytic[0] - analytic[1]
    assert dip_a > 8                               # ≈ 10·log10(16): a real dip
    assert abs(dip_m - dip_a) < 0.2


def test_dol_windows_and_flicker_per_exposure():
    """Each exposure's mean electrons = ė·T_k·m̄(window_k(r)) with the windows written out
    from the line time: e_0(r) = r·t_l + T_0, e_1(r) = e_0(r) + ⌈T_1/t_l⌉·t_l."""
    s = _sensor(width_px=8, height_px=400, noise={"shot": False, "read": False})
    fl = Flicker(frequency_hz=90.0, waveform="pwm", duty=0.2)
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [8]})
    start = 1.234e-3
    raw = hdr_expose(np.full((400, 8), 1e5, np.float32), s, hdr, T, key=3, flicker=fl,
                     start_s=start)
    t_l = 10e-6
    r = np.arange(400)
    t1 = T / 8
    e0 = start + r * t_l + T
    e1 = e0 + math.ceil(t1 / t_l) * t_l
    assert np.allclose(raw.components[0].window_end_s, e0, rtol=0, atol=1e-12)
    assert np.allclose(raw.components[1].window_end_s, e1, rtol=0, atol=1e-12)
    for comp, t_k, end in ((raw.components[0], T, e0), (raw.components[1], t1, e1)):
        want = 1e5 * t_k * fl.mean_over(end - t_k, end)
        assert np.allclose(comp.mean_e[:, 0], want, rtol=1e-5)
    # a 90 Hz LED at 20 % duty is off for 8.9 ms of each 11.1 ms: the 10 ms long exposure
    # always sees it, the 1.25 ms short one misses it in some rows
    assert np.any(raw.components[1].mean_e[:, 0] == 0)
    assert np.all(raw.components[0].mean_e[:, 0] > 0)
    ts, starts, offs = dol_windows(s, hdr.dol, T, start)
    assert offs == (math.ceil(t1 / t_l),) and ts == (T, t1)


def test_dol_moving_object_differs_between_exposures():
    """A bar moving at v = 2000 px/s: the centroid of exposure k's image sits at
    v·(mid-time of its window); between the long and the short one it moves by
    v·((e_1 − T_1/2) − (e_0 − T_0/2)) — row 0 written out."""
    s = _sensor(width_px=128, height_px=8, noise={"shot": False, "read": False})
    rate = np.zeros((8, 128), np.float32)
    rate[:, 20:24] = 1e6
    v = 2000.0
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [4]})
    raw = hdr_expose(rate, s, hdr, 0.02, key=1, motion_px_per_s=(0.0, v))
    cols = np.arange(128)

    def centroid(m):
        return float((m[0] * cols).sum() / m[0].sum())

    t0, t1 = 0.02, 0.005
    e0 = t0
    e1 = e0 + math.ceil(t1 / 10e-6) * 10e-6
    shift = v * ((e1 - t1 / 2) - (e0 - t0 / 2))
    c0, c1 = centroid(raw.components[0].mean_e), centroid(raw.components[1].mean_e)
    assert c1 - c0 == pytest.approx(shift, abs=0.05)


def test_dol_motion_fallback_to_the_short_exposure():
    """A bright bar moving fast: long and short disagree beyond 6σ along its path; those
    pixels (whole 2×2 tiles) take the short exposure alone. Static flat frames raise
    (almost) no false alarm: Gaussian 2Φ(−6) = 2·10⁻⁹ per pixel; with the Poisson tails
    of short exposures at a few electrons allow ≤ 2 tiles in 12 frames (786 432 px)."""
    s = _sensor(width_px=256, height_px=64)
    rate = np.full((64, 256), 2000 / T, np.float32)
    rate[:, 40:48] = 40000 / T        # long: saturated where static, ~12 000 e- on its trail
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16]})
    raw = hdr_expose(rate, s, hdr, T, key=5, motion_px_per_s=(0.0, 3000.0))
    res = merge_hdr(raw)
    short = raw.components[1].reference_e()
    assert res.motion[:, 60:80].mean() > 0.9          # the trail of the bar
    assert np.array_equal(res.linear_e[res.motion], short[res.motion])
    # blocks of whole CFA tiles
    m = res.motion.reshape(32, 2, 128, 2)
    assert np.all(m.all(axis=(1, 3)) == m.any(axis=(1, 3)))
    s3 = _sensor()
    alarms = 0
    for i, x in enumerate(np.geomspace(5, 4e6, 12)):
        flat = hdr_expose(_flat(s3, x), s3, DOL3, T, key=100 + i)
        alarms += int(merge_hdr(flat).motion.sum())
    assert alarms <= 8
    assert merge_hdr(flat, motion_k_sigma=None).motion is None


# --------------------------------------------------------------------------------------
# split pixel, LOFIC, DCG
# --------------------------------------------------------------------------------------
def test_split_pixel_dynamic_range():
    """DR of a split pixel, derived: the merged signal saturates when the small photodiode
    does, at x_sat = ρ·min(FWC_SPD, (white − black)/K_SPD) reference electrons, and the
    dark noise floor is that of the large photodiode (plus the SPD's tiny weight in the
    noise-optimal merge): σ_0² = 1/(1/v_L + 1/v_S), v_L = σ_L² + 1/(12K_L²),
    v_S = ρ²(σ_S² + 1/(12K_S²)). DR = 20·log10(x_sat/σ_0) (EMVA 1288 R4.0: saturation
    over temporal dark noise). ρ = 64, FWC_SPD = 8000 e⁻, σ_L = 1.5 e⁻:
    20·log10(64·8000/1.5) = 110.7 dB for the brief's simple form. σ_L·K_L = 0.75 DN: the
    1/12 DN² quantisation model holds only for a dark noise of ≳ 0.5 DN (below it the
    rounded noise depends on where the black level falls between codes)."""
    rho, fw_s, rn_s, k_s = 64.0, 8000.0, 3.0, 0.45
    s = _sensor(full_well_e=12000, read_noise_e=1.5, conversion_gain_dn_per_e=0.5,
                hdr={"mode": "split_pixel",
                     "split_pixel": {"sensitivity_ratio": rho, "full_well_e": fw_s,
                                     "read_noise_e": rn_s, "conversion_gain_dn_per_e": k_s}})
    x_sat = rho * min(fw_s, (4095 - 64) / k_s)
    v_l = 1.5**2 + 1 / (12 * 0.5**2)
    v_s = rho**2 * (rn_s**2 + 1 / (12 * k_s**2))
    dr_analytic = 20 * math.log10(x_sat / math.sqrt(1 / (1 / v_l + 1 / v_s)))
    dr_simple = 20 * math.log10(rho * fw_s / 1.5)
    dark = merge_hdr(hdr_expose(_flat(s, 0.0), s, None, T, key=2,
                                dark_current_e_per_s=0.0)).linear_e
    bright = merge_hdr(hdr_expose(_flat(s, 3 * x_sat), s, None, T, key=3)).linear_e
    assert abs(float(dark.mean())) < 5 * math.sqrt(v_l / dark.size) + 0.05
    dr_measured = 20 * math.log10(float(bright.mean()) / float(dark.std()))
    assert dr_measured == pytest.approx(dr_analytic, abs=0.1)
    # the brief's form without quantisation noise: higher by 20·log10(√v_L / σ_L)
    assert dr_simple - dr_measured == pytest.approx(20 * math.log10(math.sqrt(v_l) / 1.5),
                                                    abs=0.1)
    assert dr_measured > 109
    lpd_sat = min(12000, (4095 - 64) / 0.5)                # the LPD alone: ADC-limited
    single = 20 * math.log10(lpd_sat / math.sqrt(v_l))
    assert dr_measured - single == pytest.approx(20 * math.log10(x_sat / lpd_sat), abs=0.1)


def test_split_pixel_photodiodes_are_independent_and_linear():
    """Different photodiodes: different photons (correlation ≈ 0, |r| < 4/√N) and the SPD
    collects 1/ρ of the LPD's signal with its own noise: var = μ/ρ + σ_S² + 1/(12K_S²)."""
    rho = 32.0
    s = _sensor(hdr={"mode": "split_pixel",
                     "split_pixel": {"sensitivity_ratio": rho, "full_well_e": 6000,
                                     "read_noise_e": 2.5, "conversion_gain_dn_per_e": 0.5}})
    x = 8000.0
    raw = hdr_expose(_flat(s, x), s, None, T, key=4)
    lpd, spd = (c.electrons().astype(np.float64).ravel() for c in raw.components)
    assert abs(np.corrcoef(lpd, spd)[0, 1]) < 4 / math.sqrt(lpd.size)
    n = spd.size
    assert spd.mean() == pytest.approx(x / rho, abs=5 * math.sqrt(x / rho / n) + 0.02)
    var = x / rho + 2.5**2 + 1 / (12 * 0.25)
    assert spd.var() == pytest.approx(var, rel=5 * math.sqrt(2 / n))


def _dcg_sensor():
    return _sensor(full_well_e=4000, conversion_gain_dn_per_e=0.5, read_noise_e=1.2,
                   lcg={"conversion_gain_dn_per_e": 0.1, "read_noise_e": 4.0,
                        "full_well_e": 20000},
                   hdr={"mode": "dcg"})


def test_dcg_reads_the_same_charge_twice():
    """Same charge, independent reads: cov(e_HCG, e_LCG) = var(charge) = μ (Poisson),
    var(e_HCG − e_LCG) = σ_H² + σ_L² + quantisation of both (shot noise cancels)."""
    s = _dcg_sensor()
    x = 2500.0
    raw = hdr_expose(_flat(s, x), s, None, T, key=8)
    h, l = (c.electrons().astype(np.float64).ravel() for c in raw.components)
    n = h.size
    cov = np.cov(h, l)[0, 1]
    assert cov == pytest.approx(x, rel=5 * math.sqrt(2 / n) * 1.2)
    var_diff = 1.2**2 + 4.0**2 + 1 / (12 * 0.25) + 1 / (12 * 0.01)
    assert np.var(h - l) == pytest.approx(var_diff, rel=5 * math.sqrt(2 / n))


@pytest.mark.parametrize("method", sorted(HDR_MERGE_METHODS))
def test_dcg_snr_across_the_switch(method):
    """Shared charge: below the switch var = x + read var (selection: HCG's; noise-optimal:
    1/(1/r_H + 1/r_L)), above it x + r_L — the shot noise is common, so weighting only
    averages the read noise. Measured vs analytic within 0.15 dB."""
    s = _dcg_sensor()
    r_h = 1.2**2 + 1 / (12 * 0.25)
    r_l = 4.0**2 + 1 / (12 * 0.01)
    thr = 0.9 * 4000
    for x in (thr - 5 * math.sqrt(thr + r_h), thr + 5 * math.sqrt(thr + r_h), 15000.0):
        raw = hdr_expose(_flat(s, x), s, None, T, key=int(x) + 1)
        below = x < thr
        if below:
            read = r_h if method == "selection" else 1 / (1 / r_h + 1 / r_l)
        else:
            read = r_l
        want = 10 * math.log10(x**2 / (x + read))
        got = _snr_db(merge_hdr(raw, method=method).linear_e)
        assert got == pytest.approx(want, abs=0.15), (x, got, want)


def test_lofic_overflow_extends_the_range_linearly():
    """LOFIC: above the photodiode's full well the high-gain read saturates and the
    low-gain read of PD + capacitor stays linear up to FWC_pd + C_cap:
    mean = x, var = x + σ_LG² + 1/(12K_LG²) (shot + read + quantisation); beyond, the
    merged value saturates at FWC_pd + C_cap."""
    cap, k_lg, rn_lg = 200000.0, 0.015, 12.0
    s = _sensor(full_well_e=10000, conversion_gain_dn_per_e=0.35, read_noise_e=1.5,
                hdr={"mode": "lofic", "lofic": {"capacitor_e": cap,
                                                "conversion_gain_dn_per_e": k_lg,
                                                "read_noise_e": rn_lg}})
    for x in (50000.0, 150000.0):
        raw = hdr_expose(_flat(s, x), s, None, T, key=int(x))
        hg, lg = raw.components
        assert np.all(hg.dn >= 64 + 0.35 * 10000 - 8 * 1.5 * 0.35 - 1)   # saturated
        m = merge_hdr(raw).linear_e.astype(np.float64)
        var = x + rn_lg**2 + 1 / (12 * k_lg**2)
        assert m.mean() == pytest.approx(x, abs=5 * math.sqrt(var / m.size))
        assert m.var() == pytest.approx(var, rel=5 * math.sqrt(2 / m.size))
    top = merge_hdr(hdr_expose(_flat(s, 5e5), s, None, T, key=9)).linear_e
    assert float(top.mean()) == pytest.approx(10000 + cap, rel=1e-3)


# --------------------------------------------------------------------------------------
# PWL-only mode, tone mapping
# --------------------------------------------------------------------------------------
def test_pwl_mode_compands_the_linear_dn():
    s = _sensor(adc_bits=16, conversion_gain_dn_per_e=2.0, black_level_dn=256,
                hdr={"mode": "pwl", "pwl": {"input_bits": 16, "output_bits": 12,
                                            "knees": [(0, 0), (1024, 1024),
                                                      (16384, 2944), (65535, 4095)]}})
    raw = hdr_expose(_flat(s, 3000.0), s, None, T, key=1)
    assert raw.pwl_dn.dtype == np.uint16 and raw.pwl_dn.max() <= 4095
    assert np.array_equal(raw.linear_code, raw.components[0].dn.astype(np.int64))


def _hdr_scene():
    """Left half at luminance 1, right half at 10⁴ (80 dB), each with a ±10 % texture."""
    h, w = 128, 256
    yy, xx = np.mgrid[0:h, 0:w]
    texture = 1 + 0.1 * np.sin(2 * np.pi * xx / 8.0)
    lum = np.where(xx < w // 2, 1.0, 1e4) * texture
    return np.repeat(lum[:, :, None], 3, axis=2).astype(np.float32)


@pytest.mark.parametrize("method", ["Durand 2002", "Mertens 2007"])
def test_local_tone_map_keeps_texture_in_shadows_and_highlights(method):
    """A global scale (peak → 1) puts the dark half at ≈ 9·10⁻⁵ with a texture of
    ±9·10⁻⁶: after sRGB encoding less than one 8-bit code (12.92·1.8·10⁻⁵·255 = 0.06). A
    local operator must show the ±10 % texture in both halves (display modulation > 0.02)
    and keep the bright half brighter."""
    rgb = _hdr_scene()
    out = tone_map_local(rgb, method)
    assert out.shape == rgb.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    lum = out.mean(axis=2)
    left, right = lum[16:-16, 16:112], lum[16:-16, 144:240]
    for half in (left, right):
        prof = half.mean(axis=0)
        assert (prof.max() - prof.min()) / (prof.max() + prof.min()) > 0.02
    assert right.mean() > left.mean()
    global_left = 12.92 * rgb[16:-16, 16:112, 1] / rgb.max()     # sRGB linear segment
    assert np.ptp(global_left) * 255 < 1                            # the global scale loses it


def test_tone_map_and_merge_name_errors():
    with pytest.raises(ConfigError, match="valid choices: Durand 2002, Mertens 2007"):
        tone_map_local(_hdr_scene(), "Reinhard")
    s = _sensor(width_px=16, height_px=16)
    raw = hdr_expose(_flat(s, 100), s, DOL3, T, key=1)
    with pytest.raises(ConfigError, match="valid choices: noise_optimal, selection"):
        merge_hdr(raw, method="average")
    with pytest.raises(ConfigError, match="motion_k_sigma = -1"):
        merge_hdr(raw, motion_k_sigma=-1)


def test_hdr_mosaic_to_display():
    """A DOL capture of a 100 dB scene → merge → demosaic → local tone map: display
    values in [0, 1] with both halves' mean ordered as in the scene."""
    s = _sensor(width_px=64, height_px=32)
    rate = np.full((32, 64), 50 / T, np.float32)
    rate[:, 32:] = 4e6 / T
    merged = merge_hdr(hdr_expose(rate, s, DOL3, T, key=3)).linear_e
    rgb = hdr_to_rgb(merged, s.cfa)
    assert rgb.shape == (32, 64, 3) and float(rgb.max()) <= 1.0 + 1e-6
    out = tone_map_local(rgb)
    assert out[:, 40:].mean() > out[:, :24].mean() > 0.02
    from camtwin.isp.hdr import render_hdr

    raw = hdr_expose(rate, s, DOL3, T, key=3)
    assert np.array_equal(render_hdr(raw), out)                  # the same chain
    warm = render_hdr(raw, wb_gains=(2.0, 1.0, 0.5))
    assert warm[..., 0].mean() > out[..., 0].mean()


# --------------------------------------------------------------------------------------
# split pixel with a dual-gain large photodiode (LPD-HCG, LPD-LCG, SPD)
# --------------------------------------------------------------------------------------
def _split_dual_sensor():
    return _sensor(full_well_e=6000, conversion_gain_dn_per_e=0.5, read_noise_e=1.2,
                   lcg={"conversion_gain_dn_per_e": 0.08, "read_noise_e": 5.0,
                        "full_well_e": 30000},
                   hdr={"mode": "split_pixel",
                        "split_pixel": {"sensitivity_ratio": 50, "full_well_e": 10000,
                                        "read_noise_e": 3.0, "conversion_gain_dn_per_e": 0.4,
                                        "lpd_dual_gain": True}})


def _split_dual_variance(x, method):
    """Written out: group 0 = LPD (HCG r_H, LCG r_L; common shot noise x), group 1 = SPD
    (shot 50·x, read 50²·r_S); switch points 0.9·6000 and 0.9·30000 e⁻."""
    r_h = 1.2**2 + 1 / (12 * 0.5**2)
    r_l = 5.0**2 + 1 / (12 * 0.08**2)
    v_s = 50 * x + 50**2 * (3.0**2 + 1 / (12 * 0.4**2))
    if method == "selection":
        return x + r_h if x < 5400 else (x + r_l if x < 27000 else v_s)
    inv_read = (1 / r_h if x < 5400 else 0) + (1 / r_l if x < 27000 else 0)
    if inv_read == 0:
        return v_s
    return 1 / (1 / (x + 1 / inv_read) + 1 / v_s)


@pytest.mark.parametrize("method", sorted(HDR_MERGE_METHODS))
def test_split_pixel_dual_gain_snr_at_both_switches(method):
    """Mixed charge groups (GLS weights of camtwin.isp.hdr): measured SNR 5σ either side
    of both switches (5400 e⁻: HCG → LCG, 27 000 e⁻: LPD → SPD) within 0.15 dB of the
    written-out model."""
    from camtwin.isp.hdr import merged_variance

    s = _split_dual_sensor()
    for x in (5400 - 5 * 74, 5400 + 5 * 74, 27000 - 5 * 165, 27000 + 5 * 165):
        raw = hdr_expose(_flat(s, x), s, None, T, key=x)
        assert [c.name for c in raw.components] == ["lpd_hcg", "lpd_lcg", "spd"]
        want = 10 * math.log10(x**2 / _split_dual_variance(x, method))
        assert float(10 * np.log10(x**2 / merged_variance(x, raw.components, method=method))) \
            == pytest.approx(want, abs=1e-6)
        got = _snr_db(merge_hdr(raw, method=method).linear_e)
        assert got == pytest.approx(want, abs=0.15), (x, got, want)


def test_component_models_and_switch_points():
    """Noise-free component models (no capture) carry the same scalars as a capture's
    components, and the switch points are 0.9·s_k·e_sat,k: 5400, 27 000 e⁻, then the SPD
    saturation 50·10 000 e⁻."""
    from camtwin.isp.hdr import switch_points_e
    from camtwin.sensor.hdr import component_models

    s = _split_dual_sensor()
    models = component_models(s)
    raw = hdr_expose(_flat(s, 100.0), s, None, T, key=1)
    for m, c in zip(models, raw.components):
        assert (m.name, m.scale, m.saturation_e, m.read_noise_e, m.gain_dn_per_e,
                m.charge_group) == (c.name, c.scale, c.saturation_e, c.read_noise_e,
                                    c.gain_dn_per_e, c.charge_group)
        assert m.dn is None
    assert np.allclose(switch_points_e(models), [5400, 27000, 500000])
    dol = component_models(_sensor(), DOL3, exposure_s=T)
    assert np.allclose(switch_points_e(dol), [18000, 288000, 5120000])
    with pytest.raises(ConfigError, match="lpd_dual_gain = true needs the sensor's 'lcg'"):
        _sensor(hdr={"mode": "split_pixel",
                     "split_pixel": {"sensitivity_ratio": 50, "full_well_e": 10000,
                                     "read_noise_e": 3.0, "conversion_gain_dn_per_e": 0.4,
                                     "lpd_dual_gain": True}})


# --------------------------------------------------------------------------------------
# LED flicker: a single long integration (split pixel, LOFIC) vs a short DOL exposure
# --------------------------------------------------------------------------------------
def test_led_flicker_split_pixel_and_lofic_always_see_the_led_dol_short_does_not():
    """A 90 Hz, 10 % duty PWM LED bright enough to saturate the long exposure 10×, over
    400 random phases. The split pixel's SPD and the LOFIC capacitor integrate the whole
    11 ms, so the merged value is the LED's mean over that window every time (MMP-like
    fraction 1.0 ≥ 0.99).
    The 3-exposure DOL has to take the 0.69 ms middle exposure, which sees any light only
    with the analytic probability min(1, D + T·f) = 0.1 + 0.69 ms·90 Hz = 0.162 (IEEE
    P2020 flicker; the same law as the issue's goal) — measured within 3 binomial σ."""
    t_long, f, duty = 0.011, 90.0, 0.1
    fl_kw = dict(frequency_hz=f, waveform="pwm", duty=duty)
    fw = 20000.0
    mean_x = 10 * fw                                  # steady-equivalent signal [e-]
    dol = _sensor(width_px=2, height_px=2, hdr={"mode": "dol",
                                                "dol": {"exposure_ratios": [16]}})
    split = _sensor(width_px=2, height_px=2,
                    hdr={"mode": "split_pixel",
                         "split_pixel": {"sensitivity_ratio": 64, "full_well_e": 8000,
                                         "read_noise_e": 3.0, "conversion_gain_dn_per_e": 0.4}})
    lofic = _sensor(width_px=2, height_px=2, conversion_gain_dn_per_e=0.2,
                    hdr={"mode": "lofic", "lofic": {"capacitor_e": 4e5,
                                                    "conversion_gain_dn_per_e": 0.009,
                                                    "read_noise_e": 10.0}})
    rng = np.random.default_rng(2020)
    starts = rng.uniform(0, 1 / f, 400)
    seen = {"dol": 0, "split": 0, "lofic": 0}
    close = {"split": 0, "lofic": 0}
    for i, t0 in enumerate(starts):
        for name, s in (("dol", dol), ("split", split), ("lofic", lofic)):
            rate = np.full((2, 2), mean_x / t_long, np.float32)
            raw = hdr_expose(rate, s, None, t_long, key=1000 * i + len(name),
                             flicker=Flicker(**fl_kw), start_s=float(t0))
            x = float(merge_hdr(raw, motion_k_sigma=None).linear_e[0, 0])
            seen[name] += x > 16 * 5 * 2.0             # 5σ of the short's read noise
            if name != "dol":     # the LED's mean over row 0's 11 ms window (< 1 period)
                want = mean_x * float(Flicker(**fl_kw).mean_over(t0, t0 + t_long))
                close[name] += abs(x / want - 1) < 0.06  # SPD: 1.8 % σ; LOFIC: 0.2 % σ
    n = len(starts)
    assert close["split"] == n and close["lofic"] == n
    assert seen["split"] == n and seen["lofic"] == n
    p = min(1.0, duty + t_long / 16 * f)
    assert abs(seen["dol"] / n - p) < 3 * math.sqrt(p * (1 - p) / n), seen["dol"] / n


def test_capture_hdr_from_an_optical_image_matches_capture():
    """capture_hdr = electron_rate + hdr_expose: its long exposure's ground truth equals
    the single-exposure capture()'s mean electrons for the same optical image, and the
    merged value recovers it (mean within 5 standard errors)."""
    from camtwin.module import load_module
    from camtwin.optics.image import OpticalImage
    from camtwin.sensor import capture
    from camtwin.sensor.hdr import capture_hdr

    s = _sensor(width_px=64, height_px=48, cfa="mono", pixel={"crosstalk_fraction": 0.0},
                hdr={"mode": "dol", "dol": {"exposure_ratios": [8]}})
    wl = np.arange(540.0, 561.0, 5.0)
    irr = np.full((wl.size, 48, 64), 2e-3, np.float32)
    oi = OpticalImage(irradiance=irr, wavelengths_nm=wl, sample_pitch_um=3.0,
                      lens=load_module("default").lens, scene_name="flat")
    raw = capture_hdr(oi, s, T, 5)
    single = capture(oi, s.replace(hdr=None), T, 5)
    assert np.allclose(raw.components[0].mean_e, single.mean_electrons, rtol=1e-5)
    assert raw.metadata["scene"] == "flat" and raw.metadata["frame_key"] >= 0
    x = merge_hdr(raw).linear_e.astype(np.float64)
    mu = float(single.mean_electrons.mean())
    assert 1000 < mu < 18000                     # the long exposure, below its switch
    assert x.mean() == pytest.approx(mu, abs=5 * math.sqrt((mu + 4) / x.size))


def test_analytic_dips_and_dynamic_range():
    """snr_dips: the 3-exposure DOL dips by 10·log10((16x + 256r)/(x + r)) at 18 000 e⁻
    (selection; r = 4 + 1/(12·0.2²) e⁻²) — written out here; the analytic DR of the split
    pixel of test_split_pixel_dynamic_range by both criteria: noise floor (σ_0) and SNR = 1
    (x_min = (a + √(a² + 4b))/2, a ≈ 1 for the LPD-dominated floor)."""
    from camtwin.isp.hdr import analytic_dynamic_range_db, snr_dips
    from camtwin.sensor.hdr import component_models

    r = 4 + 1 / (12 * 0.2**2)
    x = 18000.0
    dips = snr_dips(component_models(_sensor(), DOL3, exposure_s=T), method="selection")
    assert [d["signal_e"] for d in dips] == pytest.approx([18000, 288000])
    assert dips[0]["depth_db"] == pytest.approx(10 * math.log10((16 * x + 256 * r) / (x + r)),
                                                abs=1e-6)
    rho, fw_s, rn_s, k_s = 64.0, 8000.0, 3.0, 0.45
    s = _sensor(full_well_e=12000, read_noise_e=1.5, conversion_gain_dn_per_e=0.5,
                hdr={"mode": "split_pixel",
                     "split_pixel": {"sensitivity_ratio": rho, "full_well_e": fw_s,
                                     "read_noise_e": rn_s, "conversion_gain_dn_per_e": k_s}})
    models = component_models(s)
    v_l = 1.5**2 + 1 / (12 * 0.5**2)
    v_s = rho**2 * (rn_s**2 + 1 / (12 * k_s**2))
    b = 1 / (1 / v_l + 1 / v_s)
    assert analytic_dynamic_range_db(models, criterion="noise_floor") == pytest.approx(
        20 * math.log10(rho * fw_s / math.sqrt(b)), abs=1e-9)
    # SNR = 1: solve x² = var(x) numerically with the written-out variance
    from scipy.optimize import brentq

    def var(x):
        return 1 / (1 / (x + v_l) + 1 / (rho * x + v_s))

    x_min = brentq(lambda x: x * x - var(x), 1e-6, 100)
    assert analytic_dynamic_range_db(models) == pytest.approx(
        20 * math.log10(rho * fw_s / x_min), abs=0.01)


# --------------------------------------------------------------------------------------
# a very short exposure added to DCG (HCG, LCG, VS)
# --------------------------------------------------------------------------------------
def test_dcg_with_very_short_exposure():
    """DCG + VS (ratio 16, read at LCG): the VS integrates T/16 right after the main read
    (row 0: [T + ⌈(T/16)/t_l⌉·t_l − T/16, T + ⌈(T/16)/t_l⌉·t_l]), extends the full scale to
    16·20 000 e⁻, and around the LCG switch (18 000 e⁻) the merged SNR follows the
    written-out model: below, LCG group (x + r_L) and VS (16x + 256 r_L) weighted; above,
    the VS alone."""
    s = _dcg_sensor().replace(hdr={"mode": "dcg", "very_short": {"ratio": 16}})
    r_l = 4.0**2 + 1 / (12 * 0.01)
    raw = hdr_expose(_flat(s, 1000.0), s, None, T, key=3)
    assert [c.name for c in raw.components] == ["hcg", "lcg", "vs"]
    vs = raw.components[2]
    t_vs = T / 16
    end0 = T + math.ceil(t_vs / 10e-6) * 10e-6
    assert vs.window_end_s[0] == pytest.approx(end0, abs=1e-12)
    assert float(vs.mean_e.mean()) == pytest.approx(1000.0 / 16, rel=1e-5)
    assert raw.full_scale_e == pytest.approx(16 * 20000)
    from camtwin.isp.hdr import switch_points_e
    from camtwin.sensor.hdr import component_models

    models = component_models(s, exposure_s=T)
    assert [(m.scale, m.exposure_s, m.charge_group) for m in models] == [
        (c.scale, c.exposure_s, c.charge_group) for c in raw.components]
    assert np.allclose(switch_points_e(models), [3600, 18000, 320000])
    sig = math.sqrt(18000 + r_l)
    for x in (18000 - 5 * sig, 18000 + 5 * sig):
        v_vs = 16 * x + 256 * r_l
        want_var = 1 / (1 / (x + r_l) + 1 / v_vs) if x < 18000 else v_vs
        raw = hdr_expose(_flat(s, x), s, None, T, key=int(x))
        got = _snr_db(merge_hdr(raw).linear_e)
        assert got == pytest.approx(10 * math.log10(x**2 / want_var), abs=0.15)


@pytest.mark.parametrize("hdr, message", [
    ({"mode": "dol", "dol": {"exposure_ratios": [4]}, "very_short": {"ratio": 8}},
     "very_short is given but mode = 'dol'"),
    ({"mode": "split_pixel", "split_pixel": {"sensitivity_ratio": 64, "full_well_e": 8000,
                                             "read_noise_e": 3, "conversion_gain_dn_per_e": 0.4},
      "very_short": {"ratio": 32}},
     "very_short.ratio = 32.0 must exceed the split pixel's sensitivity_ratio = 64"),
])
def test_very_short_validation(hdr, message):
    with pytest.raises(ConfigError) as exc:
        HdrSpec(**hdr)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_very_short_at_lcg_needs_lcg():
    with pytest.raises(ConfigError, match="hdr.very_short.gain = 'lcg' needs the sensor's "
                                          "'lcg' block"):
        _sensor(hdr={"mode": "lofic", "lofic": {"capacitor_e": 1e5,
                                                "conversion_gain_dn_per_e": 0.01,
                                                "read_noise_e": 5},
                     "very_short": {"ratio": 16}})


@pytest.mark.parametrize("method", sorted(HDR_MERGE_METHODS))
@pytest.mark.parametrize("case", ["dol", "split_dual", "dcg_vs", "lofic"])
def test_numba_merge_matches_numpy_reference(method, case):
    """The fused kernel equals the NumPy reference (float32 rounding) on a ramp that
    crosses every switch, including the motion fallback."""
    if case == "dol":
        s, hdr = _sensor(width_px=128, height_px=64), DOL3
    elif case == "split_dual":
        s, hdr = _split_dual_sensor().replace(width_px=128, height_px=64), None
    elif case == "dcg_vs":
        s = _dcg_sensor().replace(width_px=128, height_px=64,
                                  hdr={"mode": "dcg", "very_short": {"ratio": 16}})
        hdr = None
    else:
        s = _sensor(width_px=128, height_px=64,
                    hdr={"mode": "lofic", "lofic": {"capacitor_e": 2e5,
                                                    "conversion_gain_dn_per_e": 0.015,
                                                    "read_noise_e": 12.0}})
        hdr = None
    rate = np.geomspace(1, 1e7, 64 * 128).reshape(64, 128).astype(np.float32) / T
    raw = hdr_expose(rate, s, hdr, T, key=21, motion_px_per_s=(0.0, 500.0))
    a = merge_hdr(raw, method=method)
    b = merge_hdr(raw, method=method, implementation="numpy")
    assert np.allclose(a.linear_e, b.linear_e, rtol=2e-6, atol=1e-3)
    assert np.array_equal(a.source, b.source)
    assert (a.motion is None) == (b.motion is None)
    if a.motion is not None:
        assert np.array_equal(a.motion, b.motion)


def test_time_varying_rate_per_exposure_window():
    """A callable rate (a light switched on at t_on) is integrated over each exposure's own
    windows: with t_on between the end of the long exposure and the start of the short
    one of row 0, the long sees nothing and the short all of it (ground truth, no noise)."""
    s = _sensor(width_px=4, height_px=4, noise={"shot": False, "read": False})
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [4], "readout_offset_lines": [400]})
    t_on = T + 1e-3          # short of row 0: [T + 4 ms − 2.5 ms, T + 4 ms]

    def rate_at(t):
        return np.full((4, 4), 1e6 if t >= t_on else 0.0, np.float32)

    raw = hdr_expose(rate_at, s, hdr, T, key=1, n_time_samples=4000)
    assert float(raw.components[0].mean_e[0, 0]) == 0.0
    assert float(raw.components[1].mean_e[0, 0]) == pytest.approx(1e6 * T / 4, rel=1e-3)
    with pytest.raises(ConfigError, match="callable rate cannot be combined"):
        hdr_expose(rate_at, s, hdr, T, key=1, flicker=Flicker(frequency_hz=100.0))
