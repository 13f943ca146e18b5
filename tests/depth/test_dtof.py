"""SPAD dToF model (camtwin.depth.dtof) against independent references.

References used here:
* pile-up: the first-photon (Coates 1968) probabilities p_i = (1 − e^{−λ_i})·Π_{j<i} e^{−λ_j}
  computed in closed form from the per-bin λ of eq. (1); the simulated histograms must be
  multinomial with these probabilities (Pearson χ², dispersion of single bins);
* Coates' correction must return λ_i within its delta-method standard error;
* range error: the delta-method σ and the expected-histogram bias of
  :func:`analytic_range_error` (module docstring), and its textbook limit σ_t = σ/√N_s
  (no background, Δ ≪ σ; leading term of Koerner 2021, IEEE TIM 70, 8502609);
* multi-event: dead time 0 → independent Poisson bins; dead time ≥ window → first-photon.
Thresholds are statistical (p-values ≥ 1e-4, or a stated number of standard errors).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from camtwin.depth import _dtof_kernels as K
from camtwin.depth.dtof import (
    DTofSpec,
    analytic_range_error,
    coates_correct,
    expected_counts_per_cycle,
    first_photon_probabilities,
    process_histograms,
    process_histograms_reference,
    simulate_dtof,
    simulate_first_photon_reference,
    simulate_multi_event_reference,
)
from camtwin.errors import ConfigError
from camtwin.units import SPEED_OF_LIGHT_M_S as C

P_MIN = 1e-4  # smallest accepted p-value of a goodness-of-fit test (false alarm 1 in 10⁴)


def _spec(**kw):
    base = dict(photon_detection_efficiency=1.0, dead_time_ns=100.0, tdc_bin_ps=100.0,
                n_bins=64, pulses_per_frame=500)
    base.update(kw)
    return DTofSpec(**base)


def _rates(shape, active, ambient):
    return SimpleNamespace(active=np.full(shape, float(active)),
                           ambient=np.full(shape, float(ambient)))


def _pearson(observed, expected):
    """Pearson χ² p-value over categories with expected ≥ 5 (others pooled)."""
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    big = expected >= 5
    o = np.append(observed[big], observed[~big].sum())
    e = np.append(expected[big], expected[~big].sum())
    if e[-1] < 5:
        o, e = o[:-1], e[:-1]
    chi2 = ((o - e) ** 2 / e).sum()
    return stats.chi2.sf(chi2, o.size - 1)


F_REP = 20e6  # Hz; the 6.4 ns window of _spec fits in the 50 ns period
PW = 0.5e-9  # s, Gaussian FWHM


def _flat(spec, shape, act, amb, d, seed, **kw):
    """:func:`simulate_dtof` of a flat target at ``d`` [m] under uniform photon rates
    (``act``, ``amb`` photons/s per SPAD), with pulse ``PW`` at ``F_REP`` unless ``kw``
    says otherwise, from ``default_rng(seed)``."""
    kw = {"pulse_width_s": PW, "repetition_rate_hz": F_REP, **kw}
    return simulate_dtof(_rates(shape, act, amb), np.full(shape, d), spec,
                         np.random.default_rng(seed), **kw)


def _sigma_vs_analytic(spec, act, amb, d, shape, seed, **kw):
    """Simulate a flat target at ``d`` [m] (uniform photon rates) and compare with
    :func:`analytic_range_error`: ≥ 99.5 % valid zones and the temporal σ within 10 % of the
    analytic σ. Returns (frame, analytic result, depth errors of the valid zones [m])."""
    frame = _flat(spec, shape, act, amb, d, seed, **kw)
    ref = analytic_range_error(act, amb, d, spec, **kw)
    err = frame.depth_m[frame.valid] - d
    assert frame.valid.mean() > 0.995
    assert abs(err.std(ddof=1) / ref.sigma_m - 1) < 0.10
    return frame, ref, err


def _multi_event_vs_reference(spec, act, amb, d, seeds):
    """Zone-summed histograms of the multi-event kernel on 12×12 SPADs vs the NumPy
    cycle-by-cycle reference (same λ): one distribution by a χ² contingency test. Returns
    (the kernel's summed histogram, λ per bin and cycle of each SPAD)."""
    kw = dict(pulse_width_s=PW, repetition_rate_hz=F_REP)
    frame = _flat(spec, (12, 12), act, amb, d, seeds[0])
    lam = expected_counts_per_cycle(np.full(144, act), amb, d, spec, **kw)
    ref = simulate_multi_event_reference(lam, spec.pulses_per_frame,
                                         np.random.default_rng(seeds[1]), bin_s=spec.bin_s,
                                         dead_time_s=spec.dead_time_ns * 1e-9,
                                         period_s=1 / F_REP)
    a = frame.histograms.reshape(-1, spec.n_bins).sum(0).astype(float)
    b = ref.sum(0).astype(float)
    assert stats.chi2_contingency(np.vstack([a, b]))[1] > P_MIN
    return a, lam


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("field,value", [
    ("tdc_bin_ps", 0.0), ("tdc_bin_ps", -5.0), ("photon_detection_efficiency", 0.0),
    ("photon_detection_efficiency", 1.5), ("dead_time_ns", -1.0), ("n_bins", 1),
    ("pulses_per_frame", 0), ("zone_size_px", 0), ("detection", "both"),
])
def test_bad_spec_one_line_error(field, value):
    with pytest.raises(ConfigError) as exc:
        _spec(**{field: value})
    msg = str(exc.value)
    assert field in msg and repr(value) in msg and "\n" not in msg


@pytest.mark.parametrize("kw,field", [
    (dict(pulse_width_s=0.0, repetition_rate_hz=F_REP), "pulse_width_s"),
    (dict(pulse_width_s=-1e-9, repetition_rate_hz=F_REP), "pulse_width_s"),
    (dict(pulse_width_s=PW, repetition_rate_hz=0.0), "repetition_rate_hz"),
    (dict(pulse_width_s=PW, repetition_rate_hz=500e6), "n_bins·tdc_bin_ps"),  # 2 ns < 6.4 ns
])
def test_bad_call_one_line_error(kw, field):
    with pytest.raises(ConfigError) as exc:
        simulate_dtof(_rates((4, 4), 1e7, 0), np.full((4, 4), 1.0), _spec(),
                      np.random.default_rng(0), **kw)
    assert field in str(exc.value) and "\n" not in str(exc.value)


def test_max_range_and_bin_integrals():
    spec = _spec(tdc_bin_ps=250.0, n_bins=128)
    assert spec.max_range_m == pytest.approx(128 * 250e-12 * C / 2, rel=1e-12)  # n·Δ·c/2
    # no ambient: λ sums to PDE·S (the whole pulse lands inside the window)
    lam = expected_counts_per_cycle(2e7, 0.0, 2.0, spec, pulse_width_s=1e-9,
                                    repetition_rate_hz=F_REP)
    assert lam.sum() == pytest.approx(2e7 / F_REP, rel=1e-9)
    assert np.argmax(lam) == int(2 * 2.0 / C / 250e-12)  # peak at the bin of 2d/c


@pytest.mark.parametrize("shape,jitter_ps", [("gaussian", 0.0), ("gaussian", 80.0),
                                             ("rectangular", 0.0), ("rectangular", 60.0)])
def test_kernel_lambda_matches_numpy(shape, jitter_ps):
    spec = _spec(timing_jitter_ps=jitter_ps, dark_count_rate_hz=1e5)
    act, amb, d = 3e7, 2e7, 0.41
    ref = expected_counts_per_cycle(act, amb, d, spec, pulse_width_s=0.7e-9,
                                    repetition_rate_hz=F_REP, pulse_shape=shape)
    sh, sig = (0, math.hypot(0.7e-9 / 2.3548200450309493, jitter_ps * 1e-12)) \
        if shape == "gaussian" else (1, jitter_ps * 1e-12)
    width = 0.0 if shape == "gaussian" else 0.7e-9
    bg = np.full((1, 1), amb * spec.bin_s + 1e5 * spec.bin_s)
    lam = np.empty(spec.n_bins)
    K.fill_lambda(lam, bg, np.full((1, 1), act / F_REP), np.full((1, 1), 2 * d / C), 0, 0,
                  0.0, spec.bin_s, sh, sig, width, 0.35e-9 + 8 * max(sig, 1e-12))
    np.testing.assert_allclose(lam, ref, rtol=1e-9, atol=1e-15)


# ---------------------------------------------------------------- (a) pile-up / Coates
@pytest.mark.parametrize("lam_total", [0.05, 2.0])
def test_first_photon_histogram_is_coates_multinomial(lam_total):
    """Simulated histograms vs the first-photon probabilities at low and high flux."""
    spec = _spec(pulses_per_frame=400)
    bg_per_bin = 0.25 * lam_total / spec.n_bins  # a quarter ambient, three quarters signal
    act = 0.75 * lam_total * F_REP
    amb = bg_per_bin / spec.bin_s
    shape = (32, 32)
    frame = _flat(spec, shape, act, amb, 0.45, 1)
    lam = expected_counts_per_cycle(act, amb, 0.45, spec, pulse_width_s=PW,
                                    repetition_rate_hz=F_REP)
    assert lam.sum() == pytest.approx(lam_total, rel=1e-6)
    p = first_photon_probabilities(lam)
    n_tot = shape[0] * shape[1] * spec.pulses_per_frame
    h = frame.histograms.reshape(-1, spec.n_bins)
    summed = h.sum(0)
    obs = np.append(summed, n_tot - summed.sum())
    exp = n_tot * np.append(p, 1 - p.sum())
    assert _pearson(obs, exp) > P_MIN
    # single pixel: each bin is binomial(N, p_i) (multinomial marginal): dispersion test
    i = int(np.argmax(p))
    var_expected = spec.pulses_per_frame * p[i] * (1 - p[i])
    ratio = h[:, i].var(ddof=1) / var_expected
    assert abs(ratio - 1) < 5 * math.sqrt(2 / (h.shape[0] - 1))
    # pile-up is visible at high flux: late bins lose counts relative to λ
    if lam_total > 1:
        assert p[-1] / lam[-1] < 0.2
    # Coates recovers λ within its delta-method standard error
    lam_hat, var = coates_correct(summed, n_tot, with_variance=True)
    ok = var > 0
    z = (lam_hat[ok] - lam[ok]) / np.sqrt(var[ok])
    assert stats.chi2.sf((z * z).sum(), ok.sum()) > P_MIN
    assert abs((lam_hat.sum() - lam_total) / lam_total) < 0.02


def test_kernel_histograms_match_numpy_reference():
    """Two-sample χ² between the numba chain and the NumPy per-bin chain."""
    spec = _spec(pulses_per_frame=300)
    shape = (24, 24)
    act, amb, d = 1.2 * F_REP, 0.3 / spec.n_bins / spec.bin_s, 0.3
    frame = _flat(spec, shape, act, amb, d, 2)
    lam = expected_counts_per_cycle(np.full(shape, act), amb, d, spec, pulse_width_s=PW,
                                    repetition_rate_hz=F_REP)
    ref = simulate_first_photon_reference(lam, spec.pulses_per_frame, np.random.default_rng(3))
    a = frame.histograms.reshape(-1, spec.n_bins).sum(0).astype(float)
    b = ref.reshape(-1, spec.n_bins).sum(0).astype(float)
    keep = (a + b) > 10
    table = np.vstack([a[keep], b[keep]])
    assert stats.chi2_contingency(table)[1] > P_MIN


@pytest.mark.parametrize("detection,dead,coates", [("first_photon", 100.0, True),
                                                   ("first_photon", 100.0, False),
                                                   ("multi_event", 0.8, True),
                                                   ("multi_event", 0.0, True)])
def test_processing_kernel_matches_reference(detection, dead, coates):
    spec = _spec(detection=detection, dead_time_ns=dead, coates_correction=coates,
                 pulses_per_frame=300)
    rng = np.random.default_rng(4)
    lam = expected_counts_per_cycle(rng.uniform(0.2, 2.0, (6, 7)) * F_REP, 3e7,
                                    rng.uniform(0.1, 0.9, (6, 7)), spec, pulse_width_s=PW,
                                    repetition_rate_hz=F_REP)
    hist = simulate_first_photon_reference(lam, 300, rng).astype(np.int32)
    hist[0, 0] = 0  # an empty histogram → invalid
    kw = dict(pulse_width_s=PW, repetition_rate_hz=F_REP)
    got = process_histograms(hist, 300, spec, **kw)
    want = process_histograms_reference(hist, 300, spec, **kw)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert np.isnan(got[0][0, 0]) and np.isfinite(got[0][1:, 1:]).all()


# ---------------------------------------------------------------- (b) range error
CASES = [  # (distance m, active photons/s, ambient photons/s, pulses, coates)
    (0.30, 2.0e6, 0.0, 500, True),       # low flux, no ambient
    (0.50, 1.0e7, 2.0e8, 500, True),     # strong ambient (10 bg detections per bin·frame)
    (0.80, 2.0e6, 6.0e7, 1000, True),    # weak, far target (low reflectivity)
    (0.40, 3.0e7, 1.0e7, 300, True),     # high flux: 1.5 signal photons per cycle, Coates
]


@pytest.mark.parametrize("d,act,amb,pulses,coates", CASES)
def test_range_error_matches_analytic(d, act, amb, pulses, coates):
    spec = _spec(pulses_per_frame=pulses, coates_correction=coates, peak_snr_threshold=3.0)
    frame, ref, err = _sigma_vs_analytic(spec, act, amb, d, (48, 48), 5, pulse_width_s=PW,
                                         repetition_rate_hz=F_REP)
    assert abs(err.mean() - ref.bias_m) < 4 * err.std(ddof=1) / math.sqrt(err.size) + 1e-4
    # signal estimate: corrected counts vs expected N_s (Coates-corrected: unbiased)
    assert abs(frame.signal_counts.mean() / ref.signal_counts - 1) < 0.03


def test_pileup_bias_without_coates_matches_analytic():
    """At 2 signal photons per cycle the raw histogram is skewed to early bins: the range
    is biased short; the analytic bias (estimator on N·p_i) predicts it within 10 %."""
    d, act, amb = 0.6, 2.0 * F_REP, 2e7
    kw = dict(pulse_width_s=1.5e-9, repetition_rate_hz=F_REP)
    shape = (40, 40)
    raw = _spec(pulses_per_frame=300, coates_correction=False)
    frame = _flat(raw, shape, act, amb, d, 6, **kw)
    ref = analytic_range_error(act, amb, d, raw, **kw)
    err = frame.depth_m[frame.valid] - d
    assert ref.bias_m < -0.02  # pile-up pulls the centroid to shorter range
    assert abs(err.mean() / ref.bias_m - 1) < 0.10
    assert abs(err.std(ddof=1) / ref.sigma_m - 1) < 0.10
    corrected = analytic_range_error(act, amb, d, raw.replace(coates_correction=True), **kw)
    assert abs(corrected.bias_m) < 0.1 * abs(ref.bias_m)


def test_analytic_sigma_textbook_limit():
    """No background and Δ ≪ σ: σ_t → σ/√N_s (N_s = detected signal photons)."""
    spec = _spec(tdc_bin_ps=20.0, n_bins=400, pulses_per_frame=2000)
    fwhm = 1e-9
    act = 0.01 * F_REP  # 0.01 photons per cycle: no pile-up
    ref = analytic_range_error(act, 0.0, 0.6, spec, pulse_width_s=fwhm, repetition_rate_hz=F_REP)
    n_s = 0.01 * 2000
    sigma_t = fwhm / (2 * math.sqrt(2 * math.log(2)))
    expected = C / 2 * math.sqrt(sigma_t ** 2 + (20e-12) ** 2 / 12) / math.sqrt(n_s)
    assert ref.sigma_m == pytest.approx(expected, rel=0.01)
    # σ falls as 1/√N_s: 4× the pulses → half the σ
    ref4 = analytic_range_error(act, 0.0, 0.6, spec.replace(pulses_per_frame=8000),
                                pulse_width_s=fwhm, repetition_rate_hz=F_REP)
    assert ref4.sigma_m == pytest.approx(ref.sigma_m / 2, rel=0.01)


# ---------------------------------------------------------------- multi-event / zones / misc
def test_multi_event_zero_dead_time_is_poisson():
    spec = _spec(detection="multi_event", dead_time_ns=0.0, n_bins=32, pulses_per_frame=200)
    shape = (16, 16)
    act, amb, d = 1.0 * F_REP, 0.5 / 32 / spec.bin_s, 0.2
    frame = _flat(spec, shape, act, amb, d, 7)
    lam = expected_counts_per_cycle(act, amb, d, spec, pulse_width_s=PW,
                                    repetition_rate_hz=F_REP)
    h = frame.histograms.reshape(-1, 32).astype(float)
    mu = 200 * lam
    assert _pearson(h.sum(0), h.shape[0] * mu) > P_MIN
    i = int(np.argmax(lam))  # Poisson: variance = mean (dispersion test)
    ratio = h[:, i].var(ddof=1) / mu[i]
    assert abs(ratio - 1) < 5 * math.sqrt(2 / (h.shape[0] - 1))


def test_multi_event_long_dead_time_equals_first_photon():
    """Dead time ≥ window (and ≤ period − window): one detection per cycle, eq. (2)."""
    spec = _spec(detection="multi_event", dead_time_ns=10.0, n_bins=32, pulses_per_frame=200)
    shape = (16, 16)
    act, amb, d = 1.5 * F_REP, 0.5 / 32 / spec.bin_s, 0.2
    frame = _flat(spec, shape, act, amb, d, 8)
    p = first_photon_probabilities(expected_counts_per_cycle(
        act, amb, d, spec, pulse_width_s=PW, repetition_rate_hz=F_REP))
    n_tot = 256 * 200
    s = frame.histograms.reshape(-1, 32).sum(0)
    assert _pearson(np.append(s, n_tot - s.sum()), n_tot * np.append(p, 1 - p.sum())) > P_MIN


def test_multi_event_kernel_matches_reference_and_dead_window_correction():
    spec = _spec(detection="multi_event", dead_time_ns=0.8, n_bins=32, pulses_per_frame=150)
    act, amb, d = 1.5 * F_REP, 2.0 / 32 / spec.bin_s, 0.2  # 3.5 photons per cycle
    a, lam = _multi_event_vs_reference(spec, act, amb, d, seeds=(9, 10))
    # dead time blocks counts after the peak; the dead-window correction restores λ (the
    # correction is approximate within a bin: 10 % on the total photon number)
    n_tot = 144 * 150
    assert a.sum() < 0.8 * n_tot * lam[0].sum()
    lam_hat = coates_correct(a, n_tot, dead_time_bins=spec.dead_time_bins)
    assert abs(lam_hat.sum() / lam[0].sum() - 1) < 0.10


def test_zone_binning_sums_spads():
    spec = _spec(zone_size_px=4, pulses_per_frame=200)
    shape = (18, 17)  # remainder rows/columns dropped → 4×4 zones
    act, amb, d = 0.5 * F_REP, 1e8, 0.35
    frame = _flat(spec, shape, act, amb, d, 11)
    assert frame.histograms.shape == (4, 4, spec.n_bins) and frame.n_cycles == 16 * 200
    p = first_photon_probabilities(expected_counts_per_cycle(
        act, amb, d, spec, pulse_width_s=PW, repetition_rate_hz=F_REP))
    h = frame.histograms.reshape(-1, spec.n_bins).astype(float)
    i = int(np.argmax(p))  # zone bin = sum of 16 independent binomials: mean 16·N·p
    assert abs(h[:, i].mean() / (16 * 200 * p[i]) - 1) < 5 * math.sqrt(
        (1 - p[i]) / (16 * 200 * p[i] * h.shape[0]))
    np.testing.assert_allclose(frame.depth_m, d, atol=0.01)
    np.testing.assert_allclose(frame.distance_true_m, d)


def test_no_return_is_invalid_and_aliasing_wraps():
    spec = _spec(pulses_per_frame=300)
    shape = (20, 20)
    dist = np.full(shape, np.inf)
    amb = 0.5 / spec.n_bins / spec.bin_s
    frame = simulate_dtof(_rates(shape, 1e7, amb), dist, spec, np.random.default_rng(12),
                          pulse_width_s=PW, repetition_rate_hz=F_REP)
    assert frame.valid.mean() < 0.02 and np.isnan(frame.distance_true_m).all()
    # a target one ambiguity range (c/2f) further appears at the near distance
    d_amb = C / (2 * F_REP)
    frame = _flat(spec, shape, 1e7, amb, d_amb + 0.4, 13)
    assert np.nanmedian(frame.depth_m) == pytest.approx(0.4, abs=0.01)


def test_crosstalk_adds_neighbour_counts():
    spec = _spec(crosstalk=0.05, pulses_per_frame=2000)
    shape = (5, 5)
    active = np.zeros(shape)
    active[2, 2] = 0.4 * F_REP  # 0.4 photons per cycle in the centre SPAD only
    frame = simulate_dtof(SimpleNamespace(active=active, ambient=np.zeros(shape)),
                          np.full(shape, 0.3), spec, np.random.default_rng(14),
                          pulse_width_s=PW, repetition_rate_hz=F_REP)
    tot = frame.histograms.sum(-1)
    expect = 2000 * -math.expm1(-0.05 * 0.4)  # first-photon of λ = x·Λ_centre
    nbr = np.array([tot[1, 2], tot[3, 2], tot[2, 1], tot[2, 3]], float)
    assert abs(nbr.mean() / expect - 1) < 5 / math.sqrt(4 * expect)
    assert tot[0, 0] == 0 and tot[1, 1] == 0  # diagonal neighbours get nothing


def test_same_rng_same_frame():
    spec = _spec(pulses_per_frame=50)
    args = (_rates((9, 9), 1e7, 1e7), np.full((9, 9), 0.5), spec)
    a = simulate_dtof(*args, np.random.default_rng(15), pulse_width_s=PW, repetition_rate_hz=F_REP)
    b = simulate_dtof(*args, np.random.default_rng(15), pulse_width_s=PW, repetition_rate_hz=F_REP)
    np.testing.assert_array_equal(a.histograms, b.histograms)


@pytest.mark.parametrize("n,p", [(2000, 0.0025), (40, 0.3), (300, 0.97), (5000, 0.02)])
def test_binomial_sampler_is_exact(n, p):
    """The kernel's binomial (BINV inversion; BTPE above n·p = 30) vs scipy's pmf."""
    import numba as nb

    @nb.njit
    def draw(rng, n, p, m):
        out = np.empty(m, np.int64)
        for i in range(m):
            out[i] = K.binomial(rng, n, p)
        return out

    @nb.njit
    def draw_hazard(rng, n, lam, m):
        out = np.empty(m, np.int64)
        for i in range(m):
            out[i] = K.binomial_hazard(rng, n, lam)
        return out

    ks = np.arange(n + 1)
    for x in (draw(np.random.default_rng(16), n, p, 40000),
              draw_hazard(np.random.default_rng(18), n, -math.log1p(-p), 40000)):
        obs = np.bincount(x, minlength=n + 1)
        assert _pearson(obs, 40000 * stats.binom.pmf(ks, n, p)) > P_MIN


def test_rectangular_pulse_range_error_matches_analytic():
    spec = _spec(pulses_per_frame=400, timing_jitter_ps=50.0)
    kw = dict(pulse_width_s=1.2e-9, repetition_rate_hz=F_REP, pulse_shape="rectangular")
    act, amb, d = 0.3 * F_REP, 3e7, 0.37
    _, ref, err = _sigma_vs_analytic(spec, act, amb, d, (40, 40), 17, **kw)
    assert abs(err.mean() - ref.bias_m) < 4 * err.std(ddof=1) / math.sqrt(err.size) + 1e-4


def test_multi_event_dead_time_carried_into_next_cycle():
    """Dead time 48 ns > period − window (50 − 6.4 ns): late detections block the start of
    the next cycle; the kernel (with exact skipping of empty cycles) vs the NumPy
    cycle-by-cycle reference, and fewer early counts than without the carry."""
    spec = _spec(detection="multi_event", dead_time_ns=48.0, n_bins=32, pulses_per_frame=300)
    act, amb, d = 0.3 * F_REP, 1.0 / 32 / spec.bin_s, 0.25
    a, lam = _multi_event_vs_reference(spec, act, amb, d, seeds=(19, 20))
    p = first_photon_probabilities(lam[0])  # no carry-over: first-photon distribution
    assert a[:4].sum() < 0.95 * 144 * 300 * p[:4].sum()


def test_multi_event_range_error_matches_dead_window_analytic():
    """Multi-event, dead time 0.8 ns (8 bins) at ~1.5 detections per cycle: σ vs the
    dead-window approximation of analytic_range_error."""
    spec = _spec(detection="multi_event", dead_time_ns=0.8, pulses_per_frame=200,
                 peak_snr_threshold=3.0)
    act, amb, d = 1.0 * F_REP, 0.5 / spec.n_bins / spec.bin_s, 0.45
    _sigma_vs_analytic(spec, act, amb, d, (40, 40), 21, pulse_width_s=PW,
                       repetition_rate_hz=F_REP)


@pytest.mark.parametrize("m", [1.0, 2.5, 8.0, 40.3])
def test_dead_time_weights_conserve_dead_time(m):
    """A detection uniformly placed in its bin keeps the SPAD dead for m bins, of which on
    average ½ bin falls in its own bin: Σ_L w_L = m − ½ (m ≥ 1); weights in (0, 1]."""
    from camtwin.depth.dtof import dead_time_weights

    m_full, lags, weights = dead_time_weights(m)
    assert m_full + weights.sum() == pytest.approx(m - 0.5, abs=1e-12)
    assert np.all((weights > 0) & (weights <= 1)) and np.all(lags > m_full)
    assert dead_time_weights(math.inf)[0] == -1


def test_zone_range_error_matches_analytic():
    """Zones of 3×3 SPADs: the analytic model with N = 9·pulses SPAD-cycles per zone."""
    spec = _spec(zone_size_px=3, pulses_per_frame=100, peak_snr_threshold=3.0)
    act, amb, d = 0.5 * F_REP, 5e7, 0.52
    frame, _, _ = _sigma_vs_analytic(spec, act, amb, d, (120, 120), 22, pulse_width_s=PW,
                                     repetition_rate_hz=F_REP)  # 40×40 zones
    assert frame.depth_m.shape == (40, 40)
