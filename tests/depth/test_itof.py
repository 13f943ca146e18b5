"""CW-iToF pixel model (camtwin.depth.itof): noise against the analytic CW-ToF formula,
accuracy, unwrapping, saturation, artefacts, the numba kernel against the NumPy reference,
and bad input.

Independent references used here:
* depth precision: σ_d = c/(4π f)·√B/(√N·c_d·e_a) per frequency, combined over frequencies
  by inverse variance — written out by hand below from the tap definitions (module
  docstring; form of Lange & Seitz, IEEE JQE 37(3) 2001, range-resolution equation);
* multipath: the phase of the phasor sum e^{iφ₁} + α·e^{iφ₂} (two returns add linearly);
* square-wave wiggling: the aliased Fourier series of the triangular correlation,
  (8/π²) Σ_{n odd} cos(nx)/n², of which N-phase sampling keeps n ≡ ±1 (mod N);
* motion and flying pixels: a hand-written 4-phase demodulation of the mean tap charges.
Noise is checked by statistics over frames, never against seeded bytes.
"""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest

from camtwin.depth.itof import (ITofSpec, analytic_depth_sigma_m, itof_tap_means_e,
                                simulate_itof, simulate_itof_reference, unambiguous_range_m)
from camtwin.errors import ConfigError
from camtwin.units import SPEED_OF_LIGHT_M_S as C

BASE = dict(modulation_frequencies_mhz=[80.0, 100.0], phases=4, demodulation_contrast=0.8,
            quantum_efficiency=0.4, full_well_e=40000, read_noise_e=6.0,
            dark_current_e_s=400.0, integration_time_s=200e-6)


def spec_of(**kw) -> ITofSpec:
    return ITofSpec(**{**BASE, **kw})


def rates_for(spec: ITofSpec, ea, eb=0.0):
    """Photon rates [photons/s] that give ``ea`` / ``eb`` electrons per tap per phase
    frame (e = η·R·T/2)."""
    s = spec.quantum_efficiency * spec.integration_time_s / 2
    ea = np.asarray(ea, dtype=float)
    return NS(active=ea / s, ambient=np.broadcast_to(np.asarray(eb, float) / s, ea.shape))


def sigma_by_hand(spec: ITofSpec, ea, eb):
    """σ_d of the unwrapped (inverse-variance weighted) depth for a sine, one return."""
    q = spec.electrons_per_dn
    B = ea + eb + spec.dark_current_e_s * spec.integration_time_s + spec.read_noise_e ** 2 \
        + q * q / 12
    inv_var = 0.0
    for f in spec.frequencies_hz:
        s = C / (4 * math.pi * f) * np.sqrt(B) / (math.sqrt(spec.phases)
                                                * spec.demodulation_contrast * ea)
        inv_var = inv_var + 1 / s ** 2
    return 1 / np.sqrt(inv_var)


# ------------------------------------------------------------------------------------------
# precision and accuracy over distance × reflectivity × ambient
# ------------------------------------------------------------------------------------------
DISTANCES = (0.3, 1.0, 2.0, 3.5, 5.0)
REFLECTIVITY = (0.1, 0.5, 0.9)
AMBIENT_E = (0.0, 1000.0, 8000.0)   # ambient e⁻ per tap per phase frame: none/moderate/high
N_FRAMES, N_PIX = 200, 16


def grid_case(d: float, n_pix: int):
    """An auto-exposed spec for distance d (T ∝ d², so a 50 % target gives 3000 e⁻ per tap;
    active light ∝ ρ/d²) and rates whose rows are 3 reflectivities × 3 ambient levels,
    ``n_pix`` pixels per row. Returns (spec, rates, ea (9,), eb (9,))."""
    spec = spec_of(integration_time_s=100e-6 * (d / 1.0) ** 2 + 20e-6)
    s = spec.quantum_efficiency * spec.integration_time_s / 2
    k = 3000.0 / 0.5 * d ** 2 / s                      # active rate = k·ρ/d² photons/s
    ea = np.array([k * r / d ** 2 * s for r in REFLECTIVITY for _ in AMBIENT_E])
    eb = np.array([a for _ in REFLECTIVITY for a in AMBIENT_E])
    rates = rates_for(spec, np.repeat(ea[:, None], n_pix, 1), np.repeat(eb[:, None], n_pix, 1))
    return spec, rates, ea, eb


@pytest.fixture(scope="module")
def grid_runs():
    """Per distance: 9 conditions × 16 pixels, 200 frames →
    [(d, spec, rates, ea, eb, depth stack (200, 9, 16))]."""
    rng = np.random.default_rng(7)
    out = []
    for d in DISTANCES:
        spec, rates, ea, eb = grid_case(d, N_PIX)
        dist = np.full(rates.active.shape, d)
        stack = np.stack([simulate_itof(rates, dist, spec, rng, keep_taps=False).depth_m
                          for _ in range(N_FRAMES)])
        out.append((d, spec, rates, ea, eb, stack))
    return out


def test_depth_sigma_matches_analytic_over_distance_reflectivity_ambient(grid_runs):
    worst = 0.0
    for d, spec, rates, ea, eb, stack in grid_runs:
        assert not np.isnan(stack).any()
        sim = np.sqrt(stack.astype(np.float64).var(axis=0, ddof=1).mean(axis=1))  # (9,)
        ana = analytic_depth_sigma_m(rates, np.full(rates.active.shape, d), spec)[:, 0]
        hand = sigma_by_hand(spec, ea, eb)
        np.testing.assert_allclose(ana, hand, rtol=1e-9)   # same formula, two spellings
        ratio = sim / ana
        worst = max(worst, float(np.max(np.abs(ratio - 1))))
        assert np.all(np.abs(ratio - 1) < 0.10), (d, ratio)
    assert worst > 0.0


def test_mean_depth_error_below_0p1_percent_of_distance():
    # 9 conditions × 512 pixels × 120 frames per distance: the standard error of each mean
    # is below a quarter of the 0.1 % limit, so the test can see a bias of that size.
    rng = np.random.default_rng(8)
    for d in DISTANCES:
        spec, rates, ea, eb = grid_case(d, 512)
        dist = np.full(rates.active.shape, d)
        acc = np.zeros(9)
        for _ in range(120):
            acc += simulate_itof(rates, dist, spec, rng, keep_taps=False).depth_m.mean(axis=1)
        err = acc / 120 - d
        se = sigma_by_hand(spec, ea, eb) / math.sqrt(512 * 120)
        assert np.all(se < 0.25e-3 * d)
        assert np.all(np.abs(err) < 1e-3 * d), (d, err / d)


def test_eight_phases_and_single_frequency_sigma():
    rng = np.random.default_rng(3)
    for phases in (4, 8):
        spec = spec_of(modulation_frequencies_mhz=[60.0], phases=phases)
        ea = np.array([[400.0] * 16, [2000.0] * 16])
        rates = rates_for(spec, ea, 500.0)
        dist = np.full(ea.shape, 1.7)
        st = np.stack([simulate_itof(rates, dist, spec, rng).depth_m for _ in range(300)])
        sim = np.sqrt(st.astype(float).var(axis=0, ddof=1).mean(axis=1))
        hand = sigma_by_hand(spec, ea[:, 0], 500.0)
        np.testing.assert_allclose(sim, hand, rtol=0.08)


# ------------------------------------------------------------------------------------------
# unwrapping and wrapping
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("freqs, expected_range", [
    ([80.0, 100.0], C / (2 * 20e6)),            # gcd 20 MHz → 7.49 m
    ([60.0, 100.0, 140.0], C / (2 * 20e6)),     # gcd 20 MHz
    ([18.0, 21.0], C / (2 * 3e6)),              # gcd 3 MHz → 49.96 m
])
def test_unwrapping_correct_over_the_unambiguous_range_with_noise(freqs, expected_range):
    spec = spec_of(modulation_frequencies_mhz=freqs)
    R = unambiguous_range_m(spec)
    assert R == pytest.approx(expected_range, rel=1e-12)
    rng = np.random.default_rng(11)
    d = np.linspace(0.01 * R, 0.99 * R, 16 * 64).reshape(16, 64)
    rates = rates_for(spec, np.full(d.shape, 4000.0), 2000.0)
    sig = analytic_depth_sigma_m(rates, d, spec)
    for _ in range(5):
        fr = simulate_itof(rates, d, spec, rng, keep_taps=False)
        assert fr.unambiguous_range_m == pytest.approx(R)
        err = fr.depth_m - d
        assert np.all(np.abs(err) < 6 * sig), np.abs(err / sig).max()  # no wrap errors


def test_single_frequency_wraps_beyond_c_over_2f():
    spec = spec_of(modulation_frequencies_mhz=[100.0], adc_bits=16)
    L = C / (2 * 100e6)
    d = np.array([[0.4, 0.4 + L, 0.4 + 2 * L, 1.2 + 3 * L]])
    fr = simulate_itof(rates_for(spec, np.full(d.shape, 3000.0)), d, spec,
                       np.random.default_rng(0), noise=False)
    np.testing.assert_allclose(fr.depth_m, [[0.4, 0.4, 0.4, 1.2]], atol=2e-4)
    assert fr.unambiguous_range_m == pytest.approx(L)


def test_dual_frequency_wraps_beyond_the_unambiguous_range():
    spec = spec_of(adc_bits=16)
    R = unambiguous_range_m(spec)
    d = np.array([[1.3, 1.3 + R]])
    fr = simulate_itof(rates_for(spec, np.full(d.shape, 3000.0)), d, spec,
                       np.random.default_rng(0), noise=False)
    np.testing.assert_allclose(fr.depth_m, [[1.3, 1.3]], atol=2e-4)


# ------------------------------------------------------------------------------------------
# saturation and ambient suppression
# ------------------------------------------------------------------------------------------
def test_saturation_flags_pixels_invalid():
    spec = spec_of()
    ea = np.full((4, 8), 2000.0)
    eb = np.zeros((4, 8))
    eb[:2] = 45000.0                                  # ambient alone exceeds the full well
    fr = simulate_itof(rates_for(spec, ea, eb), np.full(ea.shape, 1.0), spec,
                       np.random.default_rng(1))
    assert fr.saturated[:2].all() and not fr.saturated[2:].any()
    assert np.isnan(fr.depth_m[:2]).all() and np.all(fr.confidence[:2] == 0)
    assert np.isfinite(fr.depth_m[2:]).all() and np.all(fr.confidence[2:] > 10)
    assert fr.taps[:, :, :2].max() == spec.max_code_dn


def test_ambient_suppression_avoids_saturation_but_keeps_the_shot_noise():
    # 36000 e⁻ ambient per tap + 3000 active: fills 40000 e⁻ wells without suppression
    spec = spec_of(modulation_frequencies_mhz=[100.0], ambient_suppression=0.9)
    ea = np.full((8, 16), 3000.0)
    rates = rates_for(spec, ea, 36000.0)
    dist = np.full(ea.shape, 2.0)
    rng = np.random.default_rng(5)
    plain = simulate_itof(rates, dist, spec.replace(ambient_suppression=0.0), rng)
    assert plain.saturated.all()
    st = np.stack([simulate_itof(rates, dist, spec, rng).depth_m for _ in range(300)])
    assert not np.isnan(st).any()
    sim = math.sqrt(st.astype(float).var(axis=0, ddof=1).mean())
    assert sim == pytest.approx(float(sigma_by_hand(spec, 3000.0, 36000.0)), rel=0.08)


# ------------------------------------------------------------------------------------------
# artefacts
# ------------------------------------------------------------------------------------------
def test_multipath_biases_toward_the_longer_path_by_the_phasor_sum():
    f = 20e6
    spec = spec_of(modulation_frequencies_mhz=[f / 1e6])
    d1 = 1.5
    extra = np.array([[0.3], [0.8], [1.5]]) * np.ones((3, 16))      # extra path [m]
    alpha = 0.3
    rates = rates_for(spec, np.full(extra.shape, 3000.0), 500.0)
    dist = np.full(extra.shape, d1)
    rng = np.random.default_rng(9)
    st = np.stack([simulate_itof(rates, dist, spec, rng, second_path_m=extra,
                                 second_path_amplitude=alpha).depth_m for _ in range(100)])
    phi1 = 4 * np.pi * f * d1 / C
    phi2 = 2 * np.pi * f * (2 * d1 + extra[:, 0]) / C
    expected = np.angle(np.exp(1j * phi1) + alpha * np.exp(1j * phi2)) % (2 * np.pi) \
        * C / (4 * np.pi * f)
    got = st.astype(float).mean(axis=(0, 2))
    assert np.all(expected > d1) and np.all(got > d1 + 0.01)
    np.testing.assert_allclose(got, expected, atol=1.5e-3)


def test_temperature_drift_shifts_depth_by_the_phase_offset():
    spec = spec_of(adc_bits=16)
    warm = spec.replace(phase_drift_deg_per_k=0.1, temperature_c=45.0)   # 2° at 100 MHz
    ea = np.full((2, 8), 3000.0)
    d = np.linspace(0.5, 6.0, 16).reshape(2, 8)
    rng = np.random.default_rng(0)
    cold_d = simulate_itof(rates_for(spec, ea), d, spec, rng, noise=False).depth_m
    warm_d = simulate_itof(rates_for(spec, ea), d, warm, rng, noise=False).depth_m
    shift = math.radians(2.0) * C / (4 * np.pi * 100e6)                 # 8.33 mm
    np.testing.assert_allclose(warm_d - cold_d, shift, atol=3e-4)


def _harmonic_phase(phi, n_phases, n_max=4001):
    """Measured phase for the triangular correlation sampled at N phases: arg Σ over the
    harmonics that alias onto the fundamental (n ≡ 1 and n ≡ −1 mod N)."""
    z = np.zeros_like(phi, dtype=complex)
    for n in range(1, n_max, 2):
        if n % n_phases == 1:
            z += np.exp(1j * n * phi) / n ** 2
        if n % n_phases == n_phases - 1:
            z += np.exp(-1j * n * phi) / n ** 2
    return np.angle(z) % (2 * np.pi)


@pytest.mark.parametrize("phases", [4, 8])
def test_square_wave_wiggling_matches_the_aliased_harmonics(phases):
    f = 20e6
    spec = spec_of(modulation_frequencies_mhz=[f / 1e6], phases=phases, waveform="square",
                   adc_bits=16)
    L = C / (2 * f)
    d = np.linspace(0.2, L - 0.2, 64)[None, :]
    fr = simulate_itof(rates_for(spec, np.full(d.shape, 3000.0)), d, spec,
                       np.random.default_rng(0), noise=False)
    expected = _harmonic_phase(4 * np.pi * f * d / C, phases) * L / (2 * np.pi)
    np.testing.assert_allclose(fr.depth_m, expected, atol=1e-3)
    wiggle = np.abs(fr.depth_m - d).max()
    if phases == 4:
        assert wiggle > 0.05        # ~ (1/9)·c/(4πf) ≈ 0.13 m peak: a cyclic error
    else:
        assert wiggle < 0.03        # first aliased harmonics n = 7, 9


def _demod_by_hand(mu, n_phases):
    """4/8-phase demodulation of mean charges (F·N, 2, …) of one frequency → phase."""
    th = 2 * np.pi * np.arange(n_phases) / n_phases
    diff = mu[:n_phases, 0] - mu[:n_phases, 1]
    z = np.tensordot(np.exp(1j * th), diff, axes=1)
    return np.angle(z) % (2 * np.pi)


def test_motion_between_phase_frames_callable_equals_stack_and_hand_demodulation():
    f = 50e6
    spec = spec_of(modulation_frequencies_mhz=[f / 1e6], adc_bits=16,
                   phase_frame_interval_s=8e-3)           # phase frames at 125 Hz
    v = 1.5                                              # m/s away from the camera (a hand)
    t = np.arange(4) * 8e-3 + spec.integration_time_s / 2
    shape = (2, 3)
    stack = np.stack([np.full(shape, 1.0 + v * ti) for ti in t])
    rates = rates_for(spec, np.full(shape, 3000.0))
    rng = np.random.default_rng(0)
    a = simulate_itof(rates, stack, spec, rng, noise=False)
    b = simulate_itof(rates, lambda ti: np.full(shape, 1.0 + v * ti), spec, rng, noise=False)
    np.testing.assert_array_equal(a.depth_m, b.depth_m)
    # the depth is what a hand demodulation of the per-frame mean charges gives, and not
    # the mean distance: motion mixes phase samples of different distances
    mu = itof_tap_means_e(rates, stack, spec)
    hand = _demod_by_hand(mu, 4) * C / (4 * np.pi * f)
    np.testing.assert_allclose(a.depth_m, hand, atol=3e-4)
    mean_d = stack.mean(axis=0)
    assert np.abs(a.depth_m - mean_d).max() > 1e-3
    still = simulate_itof(rates, np.full(shape, 1.0), spec, rng, noise=False).depth_m
    np.testing.assert_allclose(still, 1.0, atol=3e-4)


def test_flying_pixels_at_a_depth_edge_are_phasor_mixtures():
    f = 60e6
    spec = spec_of(modulation_frequencies_mhz=[f / 1e6], adc_bits=16)
    k = 4
    H, W = 2, 6
    near, far = 1.0, 1.4
    x = np.arange(W * k)
    edge = 2.5 * k                 # the edge halves output column 2
    dist = np.where(x[None, :] < edge, near, far) * np.ones((H * k, 1))
    refl_rate = 3000.0 / k ** 2 * (near / dist) ** 2                 # e⁻ per sub-pixel, ∝ 1/d²
    rates = rates_for(spec, refl_rate)
    fr = simulate_itof(rates, dist, spec, np.random.default_rng(0), supersample=k,
                       noise=False)
    # reference: the phasor sum of the sub-pixel returns of each output pixel
    ph = np.exp(1j * 4 * np.pi * f * dist / C) * refl_rate
    z = ph.reshape(H, k, W, k).sum(axis=(1, 3))
    expected = np.angle(z) % (2 * np.pi) * C / (4 * np.pi * f)
    np.testing.assert_allclose(fr.depth_m, expected, atol=3e-4)
    np.testing.assert_allclose(fr.depth_m[:, :2], near, atol=3e-4)
    np.testing.assert_allclose(fr.depth_m[:, 3:], far, atol=3e-4)
    assert np.all((fr.depth_m[:, 2] > near + 0.05) & (fr.depth_m[:, 2] < far - 0.05))


# ------------------------------------------------------------------------------------------
# numba kernel against the NumPy reference
# ------------------------------------------------------------------------------------------
def _feature_case(rng):
    spec = spec_of(modulation_frequencies_mhz=[60.0, 80.0, 100.0], phases=8,
                   waveform="square", ambient_suppression=0.5, phase_drift_deg_per_k=0.2,
                   temperature_c=40.0)
    k = 2
    shape = (6 * k, 5 * k)
    ea = rng.uniform(2.0, 3000.0, shape) / k ** 2
    ea[0, 0] = 0.0
    eb = rng.uniform(0.0, 20000.0, shape) / k ** 2
    eb[-2:] = 60000.0                                       # saturated rows
    dist = rng.uniform(0.2, 7.0, shape)
    dist[1, 1] = np.inf
    mp = dict(second_path_m=rng.uniform(0, 2, shape), second_path_amplitude=0.2)
    return spec, rates_for(spec, ea, eb), dist, k, mp


def test_kernel_equals_reference_without_noise():
    spec, rates, dist, k, mp = _feature_case(np.random.default_rng(2))
    a = simulate_itof(rates, dist, spec, np.random.default_rng(0), supersample=k, noise=False,
                      **mp)
    b = simulate_itof_reference(rates, dist, spec, np.random.default_rng(0), supersample=k,
                                noise=False, **mp)
    assert np.abs(a.taps.astype(int) - b.taps.astype(int)).max() <= 1
    np.testing.assert_array_equal(a.saturated, b.saturated)
    assert a.saturated[-1].all()
    ok = ~a.saturated
    np.testing.assert_allclose(a.depth_m[ok], b.depth_m[ok], atol=1e-4)
    np.testing.assert_allclose(a.amplitude_e, b.amplitude_e, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(a.intensity_e, b.intensity_e, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(a.confidence, b.confidence, rtol=1e-4, atol=1e-4)


def test_kernel_and_reference_agree_statistically():
    spec = spec_of(modulation_frequencies_mhz=[100.0], ambient_suppression=0.3)
    ea = np.repeat(np.array([5.0, 40.0, 1500.0])[:, None], 32, 1)      # exact & CF Poisson
    rates = rates_for(spec, ea, 10.0)
    dist = np.full(ea.shape, 0.9)
    rng = np.random.default_rng(4)
    ta = np.stack([simulate_itof(rates, dist, spec, rng).taps for _ in range(150)])
    tb = np.stack([simulate_itof_reference(rates, dist, spec, rng).taps for _ in range(150)])
    ta, tb = ta.astype(float), tb.astype(float)
    for row in range(3):
        xa, xb = ta[..., row, :], tb[..., row, :]
        ma, mb = xa.mean(axis=(0, -1)), xb.mean(axis=(0, -1))
        se = np.sqrt((xa.var(axis=(0, -1)) + xb.var(axis=(0, -1))) / (150 * 32)) + 1e-9
        assert np.all(np.abs(ma - mb) < 5 * se + 0.02)
        va, vb = xa.var(axis=(0, -1)), xb.var(axis=(0, -1))
        assert np.all(np.abs(va / vb - 1) < 0.12)



def test_exact_small_mean_draws_are_independent_between_taps_and_phase_frames():
    """Below 16 e⁻ the taps' counts come from the exact inversion (``exact_span``, 32
    columns at a time), each tap sample drawing its own uniform (key p = ((n·2 + tap)·H +
    i)·W + j): at 5 e⁻ per tap, without ambient suppression (which couples the taps) and
    with ~1 e⁻ per DN, the counts of taps A and B of a phase frame, and of one tap in two
    phase frames, are uncorrelated over 64 × 64 pixels (|r| < 5/√N); their variance is
    the mean (Poisson) plus the read noise and quantisation. (The same uniform for both
    taps gave r ≈ 0.9.)"""
    spec = spec_of(modulation_frequencies_mhz=[100.0], ambient_suppression=0.0,
                   read_noise_e=0.3, full_well_e=4000, dark_current_e_s=0.0)
    ea = np.full((64, 64), 5.0)
    dist = np.full(ea.shape, 0.9)
    taps = simulate_itof(rates_for(spec, ea), dist, spec, np.random.default_rng(8)).taps
    x = taps.astype(float).reshape(taps.shape[0], 2, -1)
    x -= x.mean(axis=-1, keepdims=True)
    n = x.shape[-1]

    def r(a, b):
        return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))

    for f in range(x.shape[0]):
        assert abs(r(x[f, 0], x[f, 1])) < 5 / np.sqrt(n), f
    for f in range(x.shape[0] - 1):
        assert abs(r(x[f, 0], x[f + 1, 0])) < 5 / np.sqrt(n), f
    q = spec.electrons_per_dn
    means = (taps.astype(float).reshape(taps.shape[0], 2, -1).mean(axis=-1)
             - spec.black_level_dn) * q
    var_e = x.var(axis=-1) * q * q
    expect = means + spec.read_noise_e ** 2 + q * q / 12
    np.testing.assert_allclose(var_e, expect, rtol=0.15)

# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, field", [
    (dict(modulation_frequencies_mhz=[0.0]), "modulation_frequencies_mhz.0 = 0.0"),
    (dict(modulation_frequencies_mhz=[-20.0]), "modulation_frequencies_mhz.0 = -20.0"),
    (dict(modulation_frequencies_mhz=[600.0]), "modulation_frequencies_mhz.0 = 600.0"),
    (dict(modulation_frequencies_mhz=[]), "modulation_frequencies_mhz"),
    (dict(demodulation_contrast=0.0), "demodulation_contrast = 0.0"),
    (dict(demodulation_contrast=1.2), "demodulation_contrast = 1.2"),
    (dict(phases=6), "phases = 6"),
    (dict(ambient_suppression=1.0), "ambient_suppression = 1.0"),
    (dict(phase_frame_interval_s=1e-5), "phase_frame_interval_s = 1e-05"),
    (dict(modulation_frequencies_mhz=[80.0, 80.001]), "modulation_frequencies_mhz"),
])
def test_bad_spec_is_a_one_line_config_error(change, field):
    with pytest.raises(ConfigError) as exc:
        spec_of(**change)
    msg = str(exc.value)
    assert field in msg and "\n" not in msg
    assert any(w in msg for w in ("greater", "less", "valid", "should", "must", "at least"))


def test_bad_inputs_to_simulate():
    spec = spec_of()
    rates = rates_for(spec, np.full((4, 4), 100.0))
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="supersample = 3"):
        simulate_itof(rates, np.ones((4, 4)), spec, rng, supersample=3)
    with pytest.raises(ConfigError, match="distance_m"):
        simulate_itof(rates, np.ones((5, 4, 4)), spec, rng)
    with pytest.raises(ConfigError, match="distance_m"):
        simulate_itof(rates, -np.ones((4, 4)), spec, rng)
    with pytest.raises(ConfigError, match="modulation_depth"):
        simulate_itof(rates, np.ones((4, 4)), spec, rng, modulation_depth=0.0)


def test_amplitude_intensity_confidence_definitions():
    spec = spec_of(adc_bits=16)
    ea, eb = 2500.0, 1200.0
    rates = rates_for(spec, np.full((2, 3), ea), eb)
    fr = simulate_itof(rates, np.full((2, 3), 2.2), spec, np.random.default_rng(0),
                       noise=False)
    e_dark = spec.dark_current_e_s * spec.integration_time_s
    np.testing.assert_allclose(fr.amplitude_e, spec.demodulation_contrast * ea, rtol=1e-3)
    np.testing.assert_allclose(fr.intensity_e, ea + eb + e_dark, rtol=1e-3)
    q = spec.electrons_per_dn
    snr = spec.demodulation_contrast * ea * 2 / math.sqrt(ea + eb + e_dark + 36 + q * q / 12)
    np.testing.assert_allclose(fr.confidence, snr, rtol=1e-3)
    # the sensor's confidence is the phase SNR: σ_φ = 1/confidence → σ_d at 100 MHz
    sig100 = analytic_depth_sigma_m(rates, np.full((2, 3), 2.2), spec, per_frequency=True)[1]
    np.testing.assert_allclose(sig100, C / (4 * np.pi * 100e6) / snr, rtol=1e-3)


def test_result_does_not_depend_on_the_thread_count():
    import numba

    spec, rates, dist, k, mp = _feature_case(np.random.default_rng(12))
    n0 = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = simulate_itof(rates, dist, spec, np.random.default_rng(3), supersample=k, **mp)
        numba.set_num_threads(n0)
        b = simulate_itof(rates, dist, spec, np.random.default_rng(3), supersample=k, **mp)
    finally:
        numba.set_num_threads(n0)
    np.testing.assert_array_equal(a.taps, b.taps)
    np.testing.assert_array_equal(a.depth_m, b.depth_m)


def test_analytic_accepts_scalars():
    spec = spec_of()
    s = spec.quantum_efficiency * spec.integration_time_s / 2
    sig = analytic_depth_sigma_m(NS(active=2000 / s, ambient=500 / s), 1.5, spec)
    assert float(sig) == pytest.approx(float(sigma_by_hand(spec, 2000.0, 500.0)), rel=1e-9)


def test_square_wave_sigma_follows_the_phase_dependent_amplitude():
    # square light × square gate: the 4-phase amplitude ripples with the phase (aliased
    # 3rd/5th harmonics); the analytic σ uses the exact mean phasor at each distance
    spec = spec_of(modulation_frequencies_mhz=[20.0], waveform="square")
    L = C / (2 * 20e6)
    d = np.repeat(np.linspace(0.3, L - 0.3, 8)[:, None], 16, 1)
    rates = rates_for(spec, np.full(d.shape, 1500.0), 800.0)
    rng = np.random.default_rng(1)
    st = np.stack([simulate_itof(rates, d, spec, rng).depth_m for _ in range(250)])
    sim = np.sqrt(st.astype(float).var(axis=0, ddof=1).mean(axis=1))
    ana = analytic_depth_sigma_m(rates, d, spec)[:, 0]
    assert ana.max() / ana.min() > 1.1                  # the ripple is real
    np.testing.assert_allclose(sim, ana, rtol=0.08)
