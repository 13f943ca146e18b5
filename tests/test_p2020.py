"""IEEE P2020 metrics (camtwin.measure.p2020) against independent references.

* CDP: the sorted pixel-pair count against an explicit all-pairs computation; the empirical
  CDP of Gaussian patches against the analytic CDP (binomial/U-statistic tolerance); the
  analytic integral against the closed form Φ(·) − Φ(·) derived in this file.
* Flicker: the exact PWM capture distribution against a Monte Carlo over random phases whose
  captured signal is a midpoint-rule integral of the square wave written in this file; the
  P2020 seen-probability min(1, D + T·f) (issue 19 goals: 90 Hz, 10 % duty, 11 ms / 1 ms).
* HDR SNR: a simulated capture of a synthetic chart (Poisson shot noise + Gaussian read noise,
  2–4 exposures merged by selection on the noise-free or on each pixel's noisy value)
  against the closed-form SNR dip depth 10·log10[r(S + rσ²)/(S + σ²)] and transition
  luminance s·FW·R/k, and the ISO 15739
  SNR = 1 dynamic range 20·log10(FW·R_last / S₁), S₁ = (1 + √(1 + 4σ²))/2 (all derived
  in the docstrings below). Issue 19 goal: location within 5 %, depth within 0.5 dB.

Statistical tests use a fixed seed for reproducibility but tolerances set from the
estimator's standard error (≥ 4σ), not from the seeded values.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from camtwin.errors import ConfigError
from camtwin.measure.p2020 import (cdp_gaussian, cdp_vs_luminance,
                                   contrast_detection_probability,
                                   flicker_detection_index, flicker_modulation_index,
                                   hdr_test_chart, modulation_mitigation_probability,
                                   multi_exposure_snr_model, patch_time_series,
                                   plot_snr_vs_luminance, pwm_capture_distribution,
                                   pwm_captured_fraction, pwm_seen_probability,
                                   snr_from_patches, snr_vs_luminance)

# --------------------------------------------------------------------------------------------
# CDP


def brute_cdp(a, b, c, eps, kind):
    """All n_a·n_b pairs formed explicitly; undefined contrasts count as not detected."""
    A, B = a[:, None], b[None, :]
    den = A if kind == "weber" else A + B
    ok = (den != 0) if kind == "weber" else (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cm = (B - A) / den
    return np.mean(ok & (cm >= c * (1 - eps)) & (cm <= c * (1 + eps)))


@pytest.mark.parametrize("kind,c,eps", [
    ("weber", 0.5, 0.5), ("weber", 0.2, 1.5), ("weber", 2.0, 0.1),
    ("michelson", 0.3, 0.5), ("michelson", 0.5, 1.0),  # upper bound exactly 1
    ("michelson", 0.8, 0.5),  # upper bound 1.2 > 1
    ("michelson", 0.1, 2.0)])  # lower bound < 0
def test_cdp_pair_count_equals_all_pairs(kind, c, eps, rng):
    # noisy dark patch reaching below zero, so negative and zero-crossing values are covered
    a = rng.normal(1.0, 1.2, 700)
    b = rng.normal(1.6, 1.5, 500)
    got = contrast_detection_probability(a, b, contrast=c, confidence=eps, kind=kind)
    assert got == pytest.approx(brute_cdp(a, b, c, eps, kind), abs=1e-12)


@pytest.mark.parametrize("kind", ["weber", "michelson"])
@pytest.mark.parametrize("ma,sa,mb,sb", [(100, 10, 130, 12), (100, 4, 150, 5),
                                         (50, 10, 60, 12), (20, 6, 40, 8)])
def test_cdp_empirical_matches_gaussian(kind, ma, sa, mb, sb, rng):
    n_a, n_b = 4000, 3000
    a, b = rng.normal(ma, sa, n_a), rng.normal(mb, sb, n_b)
    c = (mb - ma) / ma if kind == "weber" else (mb - ma) / (mb + ma)
    p = cdp_gaussian(ma, sa, mb, sb, contrast=c, kind=kind)
    got = contrast_detection_probability(a, b, contrast=c, kind=kind)
    # two-sample U-statistic: var <= p(1-p)(1/n_a + 1/n_b); 4 sigma (+ a floor for p ~ 1)
    tol = 4 * np.sqrt(p * (1 - p) * (1 / n_a + 1 / n_b)) + 2e-3
    assert abs(got - p) < tol


def closed_form_cdp(ma, sa, mb, sb, k1, k2):
    """P(k1·a <= b <= k2·a) for a > 0 a.s.: Z_k = b − k·a is Gaussian, and Z_k2 <= Z_k1
    (k2 > k1, a > 0), so P = P(Z_k1 >= 0) − P(Z_k2 > 0)."""
    def p_pos(k):
        return ndtr((mb - k * ma) / np.sqrt(sb**2 + k**2 * sa**2))
    return p_pos(k1) - p_pos(k2)


@pytest.mark.parametrize("ma,sa,mb,sb,c,eps", [(100, 8, 140, 10, 0.4, 0.5),
                                               (100, 2, 110, 3, 0.1, 0.5),
                                               (100, 12, 300, 30, 2.0, 0.25)])
def test_cdp_gaussian_closed_form(ma, sa, mb, sb, c, eps):
    # Weber: b/a in [1 + c(1-eps), 1 + c(1+eps)]
    weber = closed_form_cdp(ma, sa, mb, sb, 1 + c * (1 - eps), 1 + c * (1 + eps))
    assert cdp_gaussian(ma, sa, mb, sb, contrast=c, confidence=eps) == pytest.approx(
        weber, abs=1e-6)
    # Michelson C in [lo, hi] <=> b/a in [(1+lo)/(1-lo), (1+hi)/(1-hi)] (hi < 1)
    cm = c / (2 + c)  # same pair of means; Michelson of Weber c
    lo, hi = cm * (1 - eps), cm * (1 + eps)
    mich = closed_form_cdp(ma, sa, mb, sb, (1 + lo) / (1 - lo), (1 + hi) / (1 - hi))
    assert cdp_gaussian(ma, sa, mb, sb, contrast=cm, confidence=eps,
                        kind="michelson") == pytest.approx(mich, abs=1e-6)


def test_cdp_laws(rng):
    # noise-free patches at the nominal contrast: always detected
    assert contrast_detection_probability(np.full(10, 100.0), np.full(10, 150.0),
                                          contrast=0.5) == 1.0
    assert cdp_gaussian(100, 0, 150, 0, contrast=0.5) == 1.0
    # CDP falls as noise grows (same means, same contrast) and rises with confidence
    p = [cdp_gaussian(100, s, 120, s * 1.1, contrast=0.2) for s in (1, 5, 10, 20, 40)]
    assert np.all(np.diff(p) < 0) and p[0] > 0.999 and p[-1] < 0.3
    q = [cdp_gaussian(100, 10, 120, 11, contrast=0.2, confidence=e) for e in (0.1, 0.5, 1)]
    assert np.all(np.diff(q) > 0)
    # array inputs broadcast and agree with scalars
    arr = cdp_gaussian(100, np.array([1.0, 5.0, 10.0]), 120, 11, contrast=0.2)
    assert arr == pytest.approx([cdp_gaussian(100, s, 120, 11, contrast=0.2)
                                 for s in (1.0, 5.0, 10.0)])
    # default nominal contrast = contrast of the means
    a, b = rng.normal(100, 5, 2000), rng.normal(130, 6, 2000)
    c = b.mean() / a.mean() - 1
    assert contrast_detection_probability(a, b) == contrast_detection_probability(
        a, b, contrast=c)


def test_cdp_matched_pairs_keep_correlation(rng):
    # frame-to-frame illumination change common to both patches: the contrast is exact in
    # every frame, so matched pairs always detect it; all pairs mix frames and do not
    gain = rng.uniform(0.3, 1.7, 500)
    a, b = 100 * gain, 150 * gain
    assert contrast_detection_probability(a, b, contrast=0.5, pairing="matched") == 1.0
    assert contrast_detection_probability(a, b, contrast=0.5) < 0.7


@pytest.mark.parametrize("kwargs,match", [
    (dict(contrast=0.0), r"contrast = 0.0: valid range is contrast > 0"),
    (dict(contrast=-0.5), r"contrast = -0.5"),
    (dict(contrast=1.5, kind="michelson"), r"contrast = 1.5: valid range is 0 < contrast <= 1"),
    (dict(confidence=0.0), r"confidence = 0.0: valid range is confidence > 0"),
    (dict(kind="rms"), r"unknown contrast kind 'rms'; valid choices: michelson, weber"),
    (dict(pairing="some"), r"unknown pairing 'some'"),
])
def test_cdp_bad_input(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        contrast_detection_probability(np.ones(4), 2 * np.ones(4), **kwargs)


def test_cdp_bad_patches():
    with pytest.raises(ConfigError, match=r"dark is empty"):
        contrast_detection_probability([], [1.0, 2.0])
    with pytest.raises(ConfigError, match=r"bright holds 1 non-finite"):
        contrast_detection_probability([1.0, 2.0], [3.0, np.nan])
    with pytest.raises(ConfigError, match=r"from the patch means"):
        contrast_detection_probability([2.0, 2.0], [1.0, 1.0])  # bright darker than dark
    with pytest.raises(ConfigError, match=r"equal size"):
        contrast_detection_probability([1.0, 2.0], [3.0], pairing="matched")
    with pytest.raises(ConfigError, match=r"std_dark .* valid range is std_dark >= 0"):
        cdp_gaussian(1.0, -1.0, 2.0, 1.0)


# --------------------------------------------------------------------------------------------
# flicker


def mc_captured_fraction(exposure_s, f_hz, duty, phases_rad, n_sub=4000):
    """Captured fraction by the midpoint rule on n_sub sub-intervals of the window: the
    square wave m(t) = 1/D on [k, k + D) periods (shifted by the phase), else 0."""
    t = (np.arange(n_sub) + 0.5) / n_sub * exposure_s
    u = (t[None, :] * f_hz + phases_rad[:, None] / (2 * np.pi)) % 1.0
    return np.where(u < duty, 1.0 / duty, 0.0).mean(axis=1)


PWM_CASES = [(1e-3, 90.0, 0.1), (11e-3, 90.0, 0.1), (5e-3, 500.0, 0.3),
             (2e-3, 300.0, 0.05), (4e-3, 120.0, 0.6), (10e-3, 100.0, 0.5)]


@pytest.mark.parametrize("exposure_s,f_hz,duty", PWM_CASES)
def test_pwm_distribution_matches_monte_carlo(exposure_s, f_hz, duty, rng):
    n = 3000
    phases = rng.uniform(0, 2 * np.pi, n)
    q_mc = mc_captured_fraction(exposure_s, f_hz, duty, phases)
    dist = pwm_capture_distribution(exposure_s, f_hz, duty)
    # exact per-phase values agree with the quadrature (midpoint rule: error <= 2/(n_sub·D·τ)
    # per edge crossing)
    q = pwm_captured_fraction(exposure_s, f_hz, duty, phases)
    assert np.max(np.abs(q - q_mc)) < 4 / (4000 * duty * min(1.0, exposure_s * f_hz)) + 1e-9
    assert dist.mean == pytest.approx(1.0, abs=1e-12)
    # seen probability: min(1, D + T f); binomial 4 sigma
    p = min(1.0, duty + exposure_s * f_hz)
    assert dist.p_seen == pytest.approx(p, abs=1e-12)
    assert pwm_seen_probability(exposure_s, f_hz, duty) == pytest.approx(p, abs=1e-12)
    assert abs(np.mean(q_mc > 0) - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-12
    # whole distribution: Kolmogorov–Smirnov distance (1.95/sqrt(n): 0.1 % level) + the
    # quadrature error moves values by < 0.01
    grid = np.linspace(dist.q_min - 0.01, dist.q_max + 0.01, 400)
    emp = np.mean(q_mc[None, :] <= grid[:, None], axis=1)
    lo = np.mean(q_mc[None, :] <= grid[:, None] - 0.01, axis=1)
    hi = np.mean(q_mc[None, :] <= grid[:, None] + 0.01, axis=1)
    f = dist.cdf(grid)
    ks = 1.95 / np.sqrt(n)
    assert np.all(f >= lo - ks) and np.all(f <= hi + ks), np.max(np.abs(f - emp))
    # MMP at a few thresholds: the frame-based estimator on the Monte Carlo captures
    for th in (0.25, 0.5, 0.9):
        mmp = dist.mmp(th)
        est = modulation_mitigation_probability(q, 1.0, threshold=th)
        assert abs(est - mmp) <= 4 * np.sqrt(max(mmp * (1 - mmp), 1 / n) / n)


@pytest.mark.parametrize("exposure_s,f_hz,duty", PWM_CASES)
def test_pwm_fraction_agrees_with_scene_lights(exposure_s, f_hz, duty, rng):
    """A second, independent implementation: the mean-1 PWM waveform of
    camtwin.scene.lights (closed-form window integrals, same phase convention) averaged over
    the window by camtwin.sensor.timing.window_means — what a simulated capture collects."""
    from camtwin.scene.lights import PWM
    from camtwin.sensor.timing import window_means

    phases = rng.uniform(0, 2 * np.pi, 5000)
    q_lights = window_means(PWM(f_hz, duty), 0.0, exposure_s, phase_rad=phases)
    assert pwm_captured_fraction(exposure_s, f_hz, duty, phases) == pytest.approx(
        q_lights, abs=1e-9)


def test_issue19_flicker_goals(rng):
    """90 Hz, 10 % duty: an 11 ms exposure always sees the LED (T·f + D = 1.09 >= 1: the
    window always overlaps a pulse), a 1 ms exposure only with probability 0.1 + 0.09."""
    long = pwm_capture_distribution(11e-3, 90.0, 0.1)
    assert long.p_seen == 1.0 and long.q_min > 0.9  # also never dimmer than 91 %
    short = pwm_capture_distribution(1e-3, 90.0, 0.1)
    assert short.p_seen == pytest.approx(0.19, abs=1e-12)
    phases = rng.uniform(0, 2 * np.pi, 20000)
    seen = mc_captured_fraction(1e-3, 90.0, 0.1, phases, n_sub=200) > 0
    assert abs(seen.mean() - 0.19) < 4 * np.sqrt(0.19 * 0.81 / 20000)
    assert np.all(mc_captured_fraction(11e-3, 90.0, 0.1, phases[:2000], n_sub=2000) > 0.9)


def test_pwm_exact_multiple_of_period_is_steady():
    d = pwm_capture_distribution(20e-3, 100.0, 0.25)  # exactly two periods
    assert d.q_min == pytest.approx(1.0) and d.q_max == pytest.approx(1.0)
    assert d.mmp(1.0) == pytest.approx(1.0)


def test_flicker_modulation_index():
    assert flicker_modulation_index(np.full(20, 7.0)) == 0.0
    assert flicker_modulation_index([1.0, 3.0, 2.0]) == pytest.approx(0.5)
    assert flicker_modulation_index([0.0, 5.0, 2.0]) == 1.0  # missed in one frame
    assert flicker_modulation_index(np.zeros(5)) == 0.0  # never seen: defined as 0
    both = flicker_modulation_index(np.array([[1.0, 2.0], [3.0, 2.0]]), axis=0)
    assert both == pytest.approx([0.5, 0.0])


def test_fmi_over_rolling_shutter_rows():
    """Rows of a rolling shutter start t_l apart, so over ≥ 1 period of rows they sample all
    phases: the row FMI is (q_max − q_min)/(q_max + q_min) of the PWM distribution."""
    f, duty, t_exp, t_line = 200.0, 0.2, 1.5e-3, 10e-6
    rows = np.arange(2000)  # 20 ms of rows = 4 periods
    q_rows = mc_captured_fraction(t_exp, f, duty, 2 * np.pi * f * rows * t_line)
    d = pwm_capture_distribution(t_exp, f, duty)
    ref = (d.q_max - d.q_min) / (d.q_max + d.q_min)
    assert flicker_modulation_index(q_rows) == pytest.approx(ref, abs=2e-3)


def test_flicker_detection_index():
    src = np.array([10.0, 10.0, 2.0, 10.0, 1.0])
    assert flicker_detection_index(src, 1.0, threshold=3.0) == pytest.approx(0.6)
    bg = np.array([1.0, 9.0, 1.0, 1.0, 1.0])  # per-frame background
    assert flicker_detection_index(src, bg, threshold=3.0) == pytest.approx(0.4)
    two = flicker_detection_index(np.stack([src, src + 5], axis=1), 1.0, threshold=3.0)
    assert two == pytest.approx([0.6, 1.0])


@pytest.mark.parametrize("duty", [0.0, -0.1, 1.5, np.nan])
def test_pwm_bad_duty(duty):
    with pytest.raises(ConfigError, match=r"duty = .*: valid range is 0 < duty <= 1 "
                                          r"\(fraction of the period: 0-100 %\)"):
        pwm_capture_distribution(1e-3, 90.0, duty)


def test_flicker_bad_input():
    with pytest.raises(ConfigError, match=r"exposure_s = 0.0: valid range is exposure_s > 0"):
        pwm_captured_fraction(0.0, 90.0, 0.1)
    with pytest.raises(ConfigError, match=r"frequency_hz = -90.0"):
        pwm_seen_probability(1e-3, -90.0, 0.1)
    with pytest.raises(ConfigError, match=r"threshold = 1.5: valid range is 0 < threshold"):
        modulation_mitigation_probability([1.0], 1.0, threshold=1.5)
    with pytest.raises(ConfigError, match=r"steady = 0.0: valid range is steady > 0"):
        modulation_mitigation_probability([1.0], 0.0)
    with pytest.raises(ConfigError, match=r"signal holds 1 non-finite"):
        flicker_modulation_index([1.0, np.inf])
    with pytest.raises(ConfigError, match=r"signal is empty"):
        flicker_modulation_index([])
    with pytest.raises(ConfigError, match=r"threshold = -1.0: valid range is threshold >= 0"):
        flicker_detection_index([1.0], 0.0, threshold=-1.0)


# --------------------------------------------------------------------------------------------
# HDR SNR

FW, RN, SW, K_E = 4000.0, 10.0, 0.9, 100.0  # full well [e-], read noise [e-], switch, e-/(cd/m2)


def closed_form_depth_db(s_e, r, read_noise_e):
    """SNR² just below / just above a switch at signal s_e [e⁻ of the exposure in use]
    to an exposure r times shorter: SNR₁² = s²/(s + σ²), SNR₂² = (s/r)²/(s/r + σ²), so
    10·log10(SNR₁²/SNR₂²) = 10·log10[r (s + rσ²)/(s + σ²)]."""
    return 10 * np.log10(r * (s_e + r * read_noise_e**2) / (s_e + read_noise_e**2))


def model_expectations(ratios):
    r = np.concatenate([[1.0], ratios])
    transitions = SW * FW * r[:-1] / K_E  # long-exposure signal s·FW·R_j
    depth = closed_form_depth_db(SW * FW, r[1:] / r[:-1], RN)
    s1 = (1 + np.sqrt(1 + 4 * RN**2)) / 2  # SNR = 1: S² = S + σ²
    dr_db = 20 * np.log10(FW * r[-1] / s1)
    return transitions, depth, dr_db


def simulate_chart(chart, ratios, rng):
    """Merged HDR output [long-exposure e⁻] of the chart: the exposure in use is chosen by the
    noise-free signal (the analytic model's merge); Poisson shot noise, Gaussian read noise,
    clipping at the full well of each exposure and at the merged white level."""
    s = K_E * chart.render()
    r = np.concatenate([[1.0], ratios])
    j = np.searchsorted(SW * FW * r[:-1], s, side="right")
    e = rng.poisson(s / r[j]).astype(np.float64) + rng.normal(0.0, RN, s.shape)
    return np.minimum(r[j] * np.minimum(e, FW), FW * r[-1])


def simulate_chart_measured_switch(chart, ratios, rng):
    """As :func:`simulate_chart`, but each pixel's exposure is chosen as sensors do: the
    longest exposure whose own noisy value is below s·FW (independent exposures, DOL)."""
    s = K_E * chart.render()
    r = np.concatenate([[1.0], ratios])
    out = np.empty_like(s)
    todo = np.ones(s.shape, dtype=bool)
    for j, rj in enumerate(r):
        e = np.minimum(rng.poisson(s / rj).astype(np.float64) + rng.normal(0.0, RN, s.shape),
                       FW)
        use = todo & ((e < SW * FW) | (j == r.size - 1))
        out[use] = rj * e[use]
        todo &= ~use
    return out


@pytest.mark.parametrize("ratios", [[16.0], [16.0, 256.0], [8.0, 64.0, 512.0]])
def test_model_closed_form(ratios):
    trans, depth, dr = model_expectations(ratios)
    lum = np.logspace(-3, 4, 50)
    m = multi_exposure_snr_model(lum, electrons_per_cd_m2=K_E, exposure_ratios=ratios,
                                 full_well_e=FW, read_noise_e=RN, switch_fraction=SW)
    assert m["transition_cd_m2"] == pytest.approx(trans)
    assert m["dip_depth_db"] == pytest.approx(depth)
    assert m["dr_db"] == pytest.approx(dr)
    # the SNR array on both sides of each switch reproduces the depth
    for t, d in zip(trans, depth):
        side = multi_exposure_snr_model(t * np.array([1 - 1e-9, 1 + 1e-9]),
                                        electrons_per_cd_m2=K_E, exposure_ratios=ratios,
                                        full_well_e=FW, read_noise_e=RN,
                                        switch_fraction=SW)["snr"]
        assert 20 * np.log10(side[0] / side[1]) == pytest.approx(d, abs=1e-6)
    # shot-noise limit: 10·log10 R
    shot = multi_exposure_snr_model(lum, electrons_per_cd_m2=K_E, exposure_ratios=[16.0],
                                    full_well_e=FW, read_noise_e=0.0)
    assert shot["dip_depth_db"][0] == pytest.approx(10 * np.log10(16.0))


@pytest.mark.parametrize("ratios,signal_e", [([16.0], 3500.0), ([16.0], 3650.0),
                                             ([8.0, 64.0], 3600.0 * 8 * 1.02)])
def test_model_measured_switch_moments(ratios, signal_e, rng):
    """switch_on="measured": merged mean and σ against a Monte Carlo of Gaussian exposures
    with the per-pixel decision (standard errors: σ/√n for the mean, σ/√(2n) for σ, with a
    margin for the mixture's heavier tails)."""
    n = 400_000
    r = np.concatenate([[1.0], ratios])
    out, todo = np.empty(n), np.ones(n, dtype=bool)
    for j, rj in enumerate(r):
        e = rng.normal(signal_e / rj, np.sqrt(signal_e / rj + RN**2), n)
        e = np.minimum(e, FW) if j == r.size - 1 else e
        use = todo & ((e < SW * FW) | (j == r.size - 1))
        out[use] = rj * e[use]
        todo &= ~use
    m = multi_exposure_snr_model([signal_e / K_E], electrons_per_cd_m2=K_E,
                                 exposure_ratios=ratios, full_well_e=FW, read_noise_e=RN,
                                 switch_on="measured")
    sd = out.std()
    assert m["mean_e"][0] == pytest.approx(out.mean(), abs=5 * sd / np.sqrt(n))
    assert m["std_e"][0] == pytest.approx(sd, rel=8 / np.sqrt(2 * n))


@pytest.mark.parametrize("ratios", [[16.0], [16.0, 256.0], [8.0, 64.0, 512.0]])
def test_dips_and_dr_noise_free_model(ratios):
    trans, depth, dr = model_expectations(ratios)
    chart = hdr_test_chart(241, dynamic_range_db=140.0,
                           max_luminance_cd_m2=1.3 * FW * ratios[-1] / K_E)
    m = multi_exposure_snr_model(chart.luminance_cd_m2, electrons_per_cd_m2=K_E,
                                 exposure_ratios=ratios, full_well_e=FW, read_noise_e=RN,
                                 switch_fraction=SW)
    res = snr_vs_luminance(chart.luminance_cd_m2, m["mean_e"], m["std_e"],
                           white_level=m["white_level_e"])
    assert len(res.dips) == len(trans)
    for dip, t, d in zip(res.dips, trans, depth):
        assert dip.kind == "step" and dip.bracket[0] < t <= dip.bracket[1]
        assert abs(dip.luminance / t - 1) < 0.05
        # straight lines over 0.25 decade of a curved SNR(L): bias ≈ 0.06 dB
        assert dip.depth_db == pytest.approx(d, abs=0.1)
    # L_min is interpolated between patches 0.58 dB apart on a curved SNR: ~0.05 dB
    assert res.dynamic_range.dr_db == pytest.approx(dr, abs=0.1)
    assert not res.dynamic_range.limited_by_chart


def _check_dips_on_chart(simulate, ratios, seed):
    """Simulate the 241-patch 140 dB chart with ``simulate(chart, ratios, rng)`` and check
    each dip's location (5 %) and depth (0.5 dB) and the DR (0.5 dB) against the closed
    form; returns (result, transitions)."""
    rng = np.random.default_rng(seed)
    trans, depth, dr = model_expectations(ratios)
    # an arbitrary offset of the chart against the transitions
    lmax = 1.3 * FW * ratios[-1] / K_E * 10 ** rng.uniform(0, 0.03)
    chart = hdr_test_chart(241, dynamic_range_db=140.0, max_luminance_cd_m2=lmax,
                           patch_px=100, gap_px=2)
    stats = snr_from_patches(simulate(chart, ratios, rng), chart.boxes)
    res = snr_vs_luminance(chart.luminance_cd_m2, stats.mean, stats.std,
                           white_level=FW * ratios[-1])
    assert len(res.dips) == len(trans), [(d.luminance, d.depth_db) for d in res.dips]
    for dip, t, d in zip(res.dips, trans, depth):
        assert abs(dip.luminance / t - 1) < 0.05
        assert abs(dip.depth_db - d) < 0.5
    assert res.dynamic_range.dr_db == pytest.approx(dr, abs=0.5)
    return res, trans


@pytest.mark.parametrize("ratios,seed", [([16.0], 1), ([16.0, 256.0], 2),
                                         ([8.0, 64.0, 512.0], 3)])
def test_dips_and_dr_simulated_capture(ratios, seed):
    """Issue 19 goal on a simulated chart capture: dip location within 5 %, depth within
    0.5 dB of the analytic model. 241 patches over 140 dB (spacing 1.069: location error
    <= 3.4 %); 100×100-px patches (80×80 after the inset): per-patch SNR scatter
    8.69/√(2·6400) = 0.077 dB, depth scatter ≈ 0.1 dB, so 0.5 dB is ≈ 5σ."""
    res, trans = _check_dips_on_chart(simulate_chart, ratios, seed)
    # the minimum SNR over the transition region is the bottom of a dip
    lo_snr, at = res.min_snr_db(trans[0] * 0.5, trans[0] * 2)
    assert at > trans[0] and lo_snr == pytest.approx(res.dips[0].snr_db_after)


@pytest.mark.parametrize("ratios,seed", [([16.0], 4), ([8.0, 64.0, 512.0], 5)])
def test_dips_with_per_pixel_switch_decisions(ratios, seed):
    """Per-pixel decisions on noisy values mix the two exposures in patches within ~3σ of
    a switch (σ/S ≈ 1.7 % here): the transition spreads over 1–2 patches, but the dip
    location and the depth between the two exposures' SNR curves are unchanged — within
    5 % and 0.5 dB of the ideal switch's closed form, as in the noise-free-decision case."""
    _check_dips_on_chart(simulate_chart_measured_switch, ratios, seed)


@pytest.mark.parametrize("ratios", [[16.0], [8.0, 64.0]])
@pytest.mark.parametrize("c", [0.05, 0.1, 0.5])
def test_cdp_vs_luminance_matches_model(ratios, c):
    """CDP of a Weber contrast c over luminance from the chart's SNR curve equals the
    Gaussian CDP of the model's own statistics at L and L·(1 + c) — except where L·(1 + c)
    falls inside a dip's bracket (the switch is only known to lie within it)."""
    kw = dict(electrons_per_cd_m2=K_E, exposure_ratios=ratios, full_well_e=FW,
              read_noise_e=RN)
    chart = hdr_test_chart(241, dynamic_range_db=140.0,
                           max_luminance_cd_m2=1.3 * FW * ratios[-1] / K_E)
    m = multi_exposure_snr_model(chart.luminance_cd_m2, **kw)
    res = snr_vs_luminance(chart.luminance_cd_m2, m["mean_e"], m["std_e"],
                           white_level=m["white_level_e"])
    lum, cdp = cdp_vs_luminance(res, contrast=c)
    a, b = multi_exposure_snr_model(lum, **kw), multi_exposure_snr_model(lum * (1 + c), **kw)
    ref = cdp_gaussian(a["mean_e"], a["std_e"], b["mean_e"], b["std_e"], contrast=c)
    inside = np.zeros(lum.size, dtype=bool)
    for d in res.dips:
        inside |= (lum * (1 + c) > d.bracket[0]) & (lum * (1 + c) < d.bracket[1])
    assert np.max(np.abs(cdp - ref)[~inside]) < 1e-3
    # the contrast is hardest to detect just above a switch: CDP drops there
    t = model_expectations(ratios)[0][0]
    below = cdp[(lum < t / (1 + c)) & (lum > 0.8 * t / (1 + c))]
    above = cdp[(lum > t) & (lum < 1.2 * t)]
    assert above.max() < below.min()


#: split pixel (large PD: FW 4000 e⁻, σ 3 e⁻; small PD ρ = 20: FW 10000 e⁻, σ 5 e⁻) and
#: LOFIC (PD 4000 e⁻ read at high gain, σ 2 e⁻; PD + capacitor 400 000 e⁻ at low gain,
#: σ 40 e⁻; same charge: ratio 1)
MODES = {"split_pixel": ([20.0], [4000.0, 10000.0], [3.0, 5.0]),
         "lofic": ([1.0], [4000.0, 400000.0], [2.0, 40.0])}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_split_pixel_and_lofic_dips(mode):
    """Per-component full wells and read noises: switch at s·FW_0·R_0 = 3600 e⁻ (36 cd/m²),
    depth 10·log10[r(S' + rσ₁²)/(S' + σ₀²)] (split pixel 13.56 dB, LOFIC 1.59 dB), DR
    20·log10(FW_1·R_1 / S₁). Noise-free model and a simulated capture (exposure chosen on
    the noise-free signal; a LOFIC low-gain read of the same charge has the same statistics
    for the chosen component)."""
    ratios, fws, rns = MODES[mode]
    r = np.concatenate([[1.0], ratios])
    fw, rn = np.array(fws), np.array(rns)
    s_sw = SW * fw[0]
    depth = 10 * np.log10(r[1] * (s_sw + r[1] * rn[1] ** 2) / (s_sw + rn[0] ** 2))
    dr = 20 * np.log10(fw[1] * r[1] / ((1 + np.sqrt(1 + 4 * rn[0] ** 2)) / 2))
    kw = dict(electrons_per_cd_m2=K_E, exposure_ratios=ratios, full_well_e=fws,
              read_noise_e=rns, switch_fraction=SW)
    rng = np.random.default_rng(11)
    lmax = 1.3 * fw[1] * r[1] / K_E * 10 ** rng.uniform(0, 0.03)
    chart = hdr_test_chart(241, dynamic_range_db=130.0, max_luminance_cd_m2=lmax,
                           patch_px=100, gap_px=2)
    m = multi_exposure_snr_model(chart.luminance_cd_m2, **kw)
    assert m["dip_depth_db"][0] == pytest.approx(depth) and m["dr_db"] == pytest.approx(dr)
    assert m["transition_cd_m2"][0] == pytest.approx(s_sw / K_E)
    # simulated capture
    sig = K_E * chart.render()
    j = (sig >= s_sw).astype(int)
    e = rng.poisson(sig / r[j]).astype(np.float64) + rng.normal(0.0, 1.0, sig.shape) * rn[j]
    img = r[j] * np.minimum(e, fw[j])
    st = snr_from_patches(img, chart.boxes)
    for mean, std, tol_db in ((m["mean_e"], m["std_e"], 0.1), (st.mean, st.std, 0.5)):
        res = snr_vs_luminance(chart.luminance_cd_m2, mean, std, white_level=m["white_level_e"])
        assert len(res.dips) == 1, [(d.luminance, d.depth_db) for d in res.dips]
        assert abs(res.dips[0].luminance / (s_sw / K_E) - 1) < 0.05
        assert res.dips[0].depth_db == pytest.approx(depth, abs=tol_db)
        assert res.dynamic_range.dr_db == pytest.approx(dr, abs=tol_db)


def test_single_exposure_has_no_dips_and_classic_dr(rng):
    chart = hdr_test_chart(121, dynamic_range_db=120.0, max_luminance_cd_m2=1.2 * FW / K_E,
                           patch_px=60, gap_px=0)
    s = K_E * chart.render()
    img = np.minimum(rng.poisson(s).astype(np.float64) + rng.normal(0, RN, s.shape), FW)
    st = snr_from_patches(img, chart.boxes)
    res = snr_vs_luminance(chart.luminance_cd_m2, st.mean, st.std)  # clip detected
    assert res.dips == ()
    dr = 20 * np.log10(FW / ((1 + np.sqrt(1 + 4 * RN**2)) / 2))  # 71.6 dB
    # without white_level the saturation limit is the highest unclipped patch: <= 1 step
    assert res.dynamic_range.dr_db == pytest.approx(dr, abs=1.0)
    assert res.saturated[-1] and not res.saturated[0]


def test_incremental_snr_of_companded_output():
    """ISO 15739 incremental SNR is invariant under a monotonic tone curve g: the mean
    becomes g(S), the noise g'(S)·σ, and L·d g(S)/dL / (g'(S)σ) = S/σ."""
    lum = np.logspace(-1, 3, 200)
    s = K_E * lum
    sigma = np.sqrt(s + RN**2)
    g, dg = np.log1p(s / 50.0), 1 / (50.0 + s)
    lin = snr_vs_luminance(lum, s, sigma)
    inc = snr_vs_luminance(lum, g, dg * sigma, incremental=True)
    plain = snr_vs_luminance(lum, g, dg * sigma)
    # finite differences in ln L: interior error O(h²)
    assert inc.snr_db[1:-1] == pytest.approx(lin.snr_db[1:-1], abs=0.02)
    assert np.max(np.abs(plain.snr_db - lin.snr_db)) > 10  # the plain ratio is wrong


def test_snr_from_patches_spatial_vs_temporal(rng):
    chart = hdr_test_chart(4, dynamic_range_db=20.0, max_luminance_cd_m2=1000.0,
                           patch_px=40, gap_px=4)
    truth = chart.render()
    fpn = rng.normal(0, 3.0, truth.shape)  # fixed pattern: same in every frame
    frames = truth + fpn + rng.normal(0, 4.0, (16,) + truth.shape)
    tmp = snr_from_patches(frames, chart.boxes)
    one = snr_from_patches(frames[0], chart.boxes)
    n_px = tmp.n_samples[0]
    assert tmp.temporal and not one.temporal and n_px == 32 * 32
    # temporal sigma: chi-square with 15·n_px dof; spatial: sqrt(3² + 4²) = 5
    assert tmp.std == pytest.approx(np.full(4, 4.0), rel=4 / np.sqrt(2 * 15 * n_px))
    assert one.std == pytest.approx(np.full(4, 5.0), rel=4 / np.sqrt(2 * n_px))
    # the mean: fixed pattern averages over pixels only, temporal noise over frames too
    assert tmp.mean == pytest.approx(chart.luminance_cd_m2,
                                     abs=4 * np.sqrt(9 / n_px + 16 / (16 * n_px)))
    assert tmp.snr == pytest.approx(tmp.mean / tmp.std)
    # a mask (e.g. one CFA colour) keeps only its pixels: every other column here
    cols = np.zeros(truth.shape, dtype=bool)
    cols[:, ::2] = True
    half = snr_from_patches(frames, chart.boxes, mask=cols)
    assert half.n_samples[0] == 32 * 16
    assert half.mean == pytest.approx(tmp.mean, abs=4 * np.sqrt(2 * 9 / n_px))
    with pytest.raises(ConfigError, match=r"mask of shape \(3, 3\)"):
        snr_from_patches(frames, chart.boxes, mask=np.ones((3, 3), bool))


def test_hdr_chart_layout():
    ch = hdr_test_chart(36, dynamic_range_db=120.0, max_luminance_cd_m2=1e4, patch_px=20,
                        gap_px=5)
    lum = ch.luminance_cd_m2
    assert lum.size == 36 and np.all(np.diff(lum) > 0)
    assert ch.dynamic_range_db == pytest.approx(120.0) and lum[-1] == pytest.approx(1e4)
    assert np.allclose(np.diff(np.log10(lum)), 6 / 35)
    img = ch.render()
    assert img.shape == ch.shape == (6 * 25 + 5, 6 * 25 + 5)
    for (r0, r1, c0, c1), v in zip(ch.boxes, lum):
        assert r1 - r0 == 20 and np.all(img[r0:r1, c0:c1] == v)
    covered = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in ch.boxes)
    assert np.count_nonzero(img) == covered  # no overlaps, background 0
    series = patch_time_series(np.stack([img, 2 * img]), ch.boxes)
    assert series.shape == (2, 36) and series[1] == pytest.approx(2 * lum)


def test_plot_snr_vs_luminance(tmp_path):
    chart = hdr_test_chart(121, dynamic_range_db=130.0, max_luminance_cd_m2=1.3 * FW * 16)
    m = multi_exposure_snr_model(chart.luminance_cd_m2, electrons_per_cd_m2=K_E,
                                 exposure_ratios=[16.0], full_well_e=FW, read_noise_e=RN)
    res = snr_vs_luminance(chart.luminance_cd_m2, m["mean_e"], m["std_e"],
                           white_level=m["white_level_e"])
    out = plot_snr_vs_luminance(res, tmp_path / "snr.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["snr.png"]  # no temporary left
    d = res.to_dict()
    assert d["dynamic_range_db"] == pytest.approx(res.dynamic_range.dr_db)
    assert len(d["dips"]) == 1


def test_hdr_bad_input():
    with pytest.raises(ConfigError, match=r"luminance holds 1 values <= 0"):
        snr_vs_luminance([0.0, 1.0], [1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ConfigError, match=r"mean holds 1 non-finite"):
        snr_vs_luminance([1.0, 2.0], [np.nan, 2.0], [1.0, 1.0])
    with pytest.raises(ConfigError, match=r"need one per patch"):
        snr_vs_luminance([1.0, 2.0, 3.0], [1.0, 2.0], [1.0, 1.0])
    with pytest.raises(ConfigError, match=r"luminance is empty"):
        snr_vs_luminance([], [], [])
    with pytest.raises(ConfigError, match=r"boxes is empty"):
        snr_from_patches(np.ones((10, 10)), [])
    with pytest.raises(ConfigError, match=r"data of shape \(10,\)"):
        snr_from_patches(np.ones(10), [(0, 2, 0, 2)])
    with pytest.raises(ConfigError, match=r"n_patches = 1: valid range"):
        hdr_test_chart(1)
    with pytest.raises(ConfigError, match=r"dynamic_range_db = -3"):
        hdr_test_chart(10, dynamic_range_db=-3)
    with pytest.raises(ConfigError, match=r"read_noise_e has 3 values; need 1 or one per "):
        multi_exposure_snr_model([1.0], electrons_per_cd_m2=1.0, exposure_ratios=[16.0],
                                 full_well_e=FW, read_noise_e=[1.0, 2.0, 3.0])
    with pytest.raises(ConfigError, match=r"switch levels s·FW_j·R_j must increase"):
        multi_exposure_snr_model([1.0], electrons_per_cd_m2=1.0, exposure_ratios=[1.0],
                                 full_well_e=[4000.0, 3000.0], read_noise_e=RN)
    with pytest.raises(ConfigError, match=r"exposure_ratios = \[16.0, 4.0\]"):
        multi_exposure_snr_model([1.0], electrons_per_cd_m2=1.0, exposure_ratios=[16.0, 4.0],
                                 full_well_e=FW, read_noise_e=RN)
    res = snr_vs_luminance([1.0, 2.0, 4.0], [1.0, 2.0, 4.0], [0.5, 0.5, 0.5])
    with pytest.raises(ConfigError, match=r"holds no unsaturated patch"):
        res.min_snr_db(10.0, 20.0)
