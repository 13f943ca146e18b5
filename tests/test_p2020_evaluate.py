"""IEEE P2020 module metrics (camtwin.evaluate.p2020_metrics) against independent references.

References
----------
* PWM LED seen by one exposure window: the captured fraction q of the steady signal over
  a uniform phase has the exact piecewise-linear distribution of
  :func:`camtwin.measure.p2020.pwm_capture_distribution`; P(q > 0) = min(1, D + T·f)
  (a window of length T meets a pulse of width D/f in a period 1/f for D/f + T of the
  period; Deegan, IS&T EI 2018; IEEE P2020 White Paper 2018, LED flicker).
* SNR dips of a DOL sensor: closed form of :func:`camtwin.measure.p2020.
  multi_exposure_snr_model` — depth 10·log10[r(S' + rσ²)/(S' + σ²)] at the switch
  S = s·FW·R_j — and the merged-variance model of :mod:`camtwin.isp.hdr` (written-out
  shot + read + quantisation noise per component).
* Dynamic range by SNR = 1 (ISO 15739 / EMVA 1288 R4.0): 20·log10(x_sat/S₁),
  S₁ = (1 + √(1 + 4σ²))/2 for a linear pixel of read noise σ (shot-noise variance = S).
* CDP of two Gaussian patches: :func:`camtwin.measure.p2020.cdp_gaussian` of
  (kL, √(kL + σ²)) and (kL(1 + C), √(kL(1 + C) + σ²)) (Geese, Seger & Paolillo, EI 2018).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from camtwin.errors import ConfigError
from camtwin.evaluate import load_application, measure
from camtwin.evaluate.p2020_metrics import chart_snr, flicker_captures
from camtwin.measure.p2020 import cdp_gaussian, multi_exposure_snr_model


@pytest.fixture(scope="module")
def single():
    """The OX03C10 surround module's optics and geometry with a pinned linear pixel (FW
    12000 e⁻, σ 2 e⁻, 0.3 DN/e⁻, no dark current: the references below do not move when
    catalog estimates change), read as one exposure (global shutter: every row of the LED
    box shares one window, as the single-window reference assumes); no blooming, so bright
    patches do not spill charge into dark ones."""
    from camtwin.module import load_module

    return load_module("adas-ox03c10-surround").replace(
        sensor={"hdr": None, "shutter": {"type": "global"}, "noise": {"blooming": False},
                "full_well_e": 12000.0, "read_noise_e": 2.0, "conversion_gain_dn_per_e": 0.3,
                "dark_current_e_per_s": 0.0, "lcg": None})


@pytest.fixture(scope="module")
def dol(single):
    """The same pixel as a rolling-shutter DOL sensor with three exposures (16×, 16×)."""
    return single.replace(sensor={"shutter": {"type": "rolling"},
                                  "hdr": {"mode": "dol", "dol": {"exposure_ratios": [16, 16]}}})


def test_mmp_single_exposure_1ms_matches_exact_distribution(single):
    """T = 1 ms, 90 Hz, 10 %: MMP(θ) over 300 random phases inside the binomial 99.9 %
    interval of the exact P(q ≥ θ) for θ = 0.5 and θ = 0.05 (≈ min(1, D + T·f) = 0.19)."""
    fc = flicker_captures(single, exposure_s=1e-3, luminance_cd_m2=100.0, phases=300, rng=3)
    assert fc.reference is not None and fc.reference.p_seen == pytest.approx(0.19)
    q = fc.fraction
    for th in (0.5, 0.05):
        p = fc.reference.mmp(th)
        lo, hi = binom.interval(0.999, q.size, p)
        assert lo <= np.count_nonzero(q >= th) <= hi, (th, np.mean(q >= th), p)
    # the metric is the same estimate (its own phases)
    r = measure(single, "led_mmp", {"exposure_s": 1e-3, "luminance_cd_m2": 100.0,
                                    "threshold": 0.05}, rng=4)
    lo, hi = binom.interval(0.999, 100, fc.reference.mmp(0.05))
    assert lo / 100 <= r.value <= hi / 100
    assert r.details["analytic_p_seen"] == pytest.approx(0.19)


def test_mmp_single_exposure_11ms_always_sees_the_led(single):
    """T = 11 ms ≥ (1 − D)/f = 10 ms: D + T·f = 1.09 ≥ 1, every capture holds ≥ 1 ms of
    pulse, q ∈ [0.909, 1.010] (on-time 1.0…1.11 ms over D·T = 1.1 ms): MMP = 1, and FMI
    = (q_max − q_min)/(q_max + q_min) ≤ 0.0526, measured over 100 phases."""
    cond = {"exposure_s": 0.011, "luminance_cd_m2": 100.0}
    assert measure(single, "led_mmp", cond, rng=5).value == 1.0
    fmi = measure(single, "flicker_modulation_index", cond, rng=5)
    ref = fmi.details["analytic_single_exposure_fmi"]
    assert ref == pytest.approx((1.0101 - 0.9091) / (1.0101 + 0.9091), abs=1e-3)
    # 100 random phases reach close to both ends; shot noise of the box mean adds < 0.01
    assert 0.6 * ref < fmi.value < ref + 0.01


def test_mmp_dol_misses_pulses_split_pixel_does_not(dol, single):
    """Issue 19: a bright 90 Hz LED saturates the long DOL exposures, the 43 µs exposure
    left sees it with probability ≈ D + T₂·f = 0.104 — MMP far below 1; a split pixel's
    small photodiode and a LOFIC pixel integrate the whole 11 ms: MMP ≥ 0.99."""
    split = single.replace(sensor={"hdr": {"mode": "split_pixel", "split_pixel": {
        "sensitivity_ratio": 100.0, "full_well_e": 40000, "read_noise_e": 3.0,
        "conversion_gain_dn_per_e": 0.05}}})
    r_dol = measure(dol, "led_mmp", {"phases": 100}, rng=6)
    assert "HDR dol" in r_dol.source
    lo, hi = binom.interval(0.999, 100, 0.1 + 0.011 / 256 * 90)
    assert r_dol.value <= (hi + 5) / 100     # a pulse can span the T₁/T₂ boundary
    r_sp = measure(split, "led_mmp", {"phases": 100}, rng=6)
    assert "HDR split_pixel" in r_sp.source and r_sp.value >= 0.99
    # LOFIC: one 11 ms integration, the overflow kept in the capacitor (4·10⁶ e⁻ here)
    lofic = single.replace(sensor={"hdr": {"mode": "lofic", "lofic": {
        "capacitor_e": 4.0e6, "conversion_gain_dn_per_e": 0.001, "read_noise_e": 40.0}}})
    r_lo = measure(lofic, "led_mmp", {"phases": 100, "luminance_cd_m2": 2000.0}, rng=6)
    assert "HDR lofic" in r_lo.source and r_lo.value >= 0.99


def test_dol_chart_dips_and_dr_match_the_noise_models(dol):
    """One chart capture of the DOL module: one dip per switch within 6 % of the analytic
    transition luminance (patch spacing 12 %) and 0.8 dB of the closed-form depth; HDR DR
    within 1 dB of 20·log10(FW·R_last/S₁) (σ = the read noise + quantisation).

    Tolerance: the metric's 48 px patches (≈ 700 signal pixels after the inset) give a
    per-patch SNR scatter of 8.69/√(2·700) = 0.23 dB; the depth, a difference of two line
    fits over ~4 patches each, scatters by ≈ 0.25 dB (seeds 7–12: 11.6–12.7 dB against
    12.07 dB), so 0.8 dB is ≈ 3σ. The issue's 0.5 dB goal is checked on 100 px patches in
    tests/test_p2020.py."""
    from camtwin.isp.hdr import analytic_dynamic_range_db, snr_dips
    from camtwin.sensor.hdr import component_models

    c = chart_snr(dol, merge="selection", rng=7)
    assert c.kind.startswith("HDR dol")
    k = c.electrons_per_cd_m2
    s = dol.sensor
    comps = component_models(s, exposure_s=0.011)
    # the p2020 closed form with the model's own component parameters
    fw = [cm.saturation_e for cm in comps]
    rn = [math.sqrt(cm.read_noise_e**2 + 1 / (12 * cm.gain_dn_per_e**2)) for cm in comps]
    m = multi_exposure_snr_model([1.0], electrons_per_cd_m2=k, exposure_ratios=[16, 256],
                                 full_well_e=fw, read_noise_e=rn, switch_fraction=0.9)
    ref = snr_dips(comps, method="selection")
    dips = [d for d in c.result.dips if d.depth_db > 1.0]
    assert len(dips) == 2, [(d.luminance, d.depth_db) for d in c.result.dips]
    for d, t, depth, r in zip(dips, m["transition_cd_m2"], m["dip_depth_db"], ref):
        assert abs(d.luminance / t - 1) < 0.06
        assert r["signal_e"] / k == pytest.approx(t, rel=1e-6)
        assert r["depth_db"] == pytest.approx(depth, abs=0.05)    # two models, one physics
        assert abs(d.depth_db - depth) < 0.8
    dr = c.result.dynamic_range.dr_db
    assert dr == pytest.approx(analytic_dynamic_range_db(comps, method="selection"), abs=1.0)
    r = measure(dol, "snr_dip_depth_db", {"merge": "selection"}, rng=7)
    assert r.value == pytest.approx(max(d.depth_db for d in dips), abs=1e-9)


def test_single_exposure_chart_dr_no_dips_and_clipped_range(single):
    """Linear pixel: no dip deeper than the scatter threshold, DR within 1 dB of
    20·log10(FW/S₁); a luminance range reaching past saturation gives −∞ (SNR 0)."""
    c = chart_snr(single, rng=8)
    s = single.sensor
    sigma = math.sqrt(s.effective_read_noise_e**2 + 1 / (12 * s.system_gain_dn_per_e**2))
    s1 = (1 + math.sqrt(1 + 4 * sigma**2)) / 2
    assert c.result.dynamic_range.dr_db == pytest.approx(
        20 * math.log10(s.effective_full_well_e / s1), abs=1.0)
    assert measure(single, "snr_dip_depth_db", rng=8).value < 1.5
    r = measure(single, "hdr_snr_min_db", {"luminance_min_cd_m2": 1.0,
                                           "luminance_max_cd_m2": 1.0e4}, rng=8)
    assert r.value == -math.inf and r.details["clipped_from_cd_m2"] < 1.0e4
    # inside the linear range the lowest SNR is at the dark end: S²/(S + σ²), S = 10k
    lo = measure(single, "hdr_snr_min_db", {"luminance_min_cd_m2": 10.0,
                                            "luminance_max_cd_m2": 100.0}, rng=8)
    k = c.electrons_per_cd_m2
    assert lo.value == pytest.approx(10 * math.log10((10 * k)**2 / (10 * k + sigma**2)),
                                     abs=0.8)


@pytest.mark.parametrize("lum", [0.3, 3.0])
def test_cdp_matches_gaussian_shot_plus_read_noise(single, lum):
    """CDP of a Weber contrast 0.2 (±50 %) at L against the Gaussian CDP of the linear
    pixel's own statistics (signal kL, variance kL + σ²)."""
    r = measure(single, "cdp_at_contrast", {"contrast": 0.2, "luminance_cd_m2": lum}, rng=9)
    k = r.details["electrons_per_cd_m2"]
    s = single.sensor
    var_r = s.effective_read_noise_e**2 + 1 / (12 * s.system_gain_dn_per_e**2)
    a, b = k * lum, k * lum * 1.2
    ref = cdp_gaussian(a, math.sqrt(a + var_r), b, math.sqrt(b + var_r), contrast=0.2,
                       confidence=0.5)
    assert r.value == pytest.approx(ref, abs=0.05)
    # above saturation there is no contrast to detect
    sat = measure(single, "cdp_at_contrast", {"luminance_cd_m2": 1e4}, rng=9)
    assert sat.value == 0.0


@pytest.mark.parametrize("metric,cond,words", [
    ("led_mmp", {"duty": 1.5}, ["duty = 1.5", "0 < duty <= 1"]),
    ("led_mmp", {"frequency_hz": -90}, ["frequency_hz = -90", "0 < frequency_hz"]),
    ("led_mmp", {"phases": 1}, ["phases = 1", "2..100000"]),
    ("led_mmp", {"threshold": 2}, ["threshold = 2", "threshold <= 1"]),
    ("flicker_modulation_index", {"exposure_s": 0}, ["exposure_s = 0", "0 < exposure_s"]),
    ("hdr_snr_min_db", {"luminance_min_cd_m2": 100, "luminance_max_cd_m2": 10},
     ["luminance_max_cd_m2 = 10", "> luminance_min_cd_m2"]),
    ("cdp_at_contrast", {"confidence": 0}, ["confidence = 0", "0 < confidence <= 1"]),
    ("snr_dip_depth_db", {"merge": "average"}, ["average", "noise_optimal"]),
    ("snr_dip_depth_db", {"contrast": 0.1}, ["unknown condition 'contrast'"]),
])
def test_bad_conditions_are_one_line_errors(single, metric, cond, words):
    with pytest.raises(ConfigError) as e:
        measure(single, metric, cond)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


@pytest.mark.parametrize("name", ["automotive_adas", "automotive_surround",
                                  "automotive_incabin", "security"])
def test_profiles_validate_and_use_p2020_metrics(name):
    app = load_application(name)
    p2020 = {"snr_dip_depth_db", "hdr_snr_min_db", "cdp_at_contrast", "led_mmp",
             "flicker_modulation_index"}
    used = [r for r in app.requirements if r.metric in p2020]
    assert used, name
    for r in used:
        assert len(r.source) > 20 and r.basis in ("standard", "practice")


def test_cli_evaluate_json_carries_the_p2020_metrics(tmp_path):
    """`camtwin evaluate --json` (warnings as errors) reports the new metrics with their
    values, units, conditions and sources."""
    import json
    import subprocess
    import sys

    import yaml

    app = {"name": "p2020_probe", "title": "P2020 probe", "requirements": [
        {"metric": "led_mmp", "min": 0.5, "basis": "practice", "source": "test profile",
         "conditions": {"exposure_s": 0.011, "phases": 10, "luminance_cd_m2": 100.0}},
        {"metric": "cdp_at_contrast", "min": 0.5, "basis": "practice",
         "source": "test profile", "conditions": {"luminance_cd_m2": 10.0}}]}
    path = tmp_path / "p2020.yaml"
    path.write_text(yaml.safe_dump(app), encoding="utf-8")
    out = subprocess.run([sys.executable, "-W", "error", "-m", "camtwin.cli", "evaluate",
                          "--module", "default", "--application", str(path), "--json",
                          "--no-fail"], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {v["metric"]: v for v in json.loads(out.stdout)["verdicts"]}
    assert set(rows) == {"led_mmp", "cdp_at_contrast"}
    assert rows["led_mmp"]["value"] == 1.0 and rows["led_mmp"]["status"] == "pass"
    assert rows["led_mmp"]["details"]["analytic_single_exposure_mmp"] == 1.0
    assert 0.0 <= rows["cdp_at_contrast"]["value"] <= 1.0
    assert "HDR chart" in rows["cdp_at_contrast"]["measured_from"]
