"""Per-pixel noise and defect chain: each source against its analytic law, the numba kernels
against the plain-NumPy reference, determinism, fused vs split path.

Statistical tests use fixed keys (so they are deterministic) and bounds of 5 standard
errors of the estimator (two-sided p ≈ 6·10⁻⁷ for a correct implementation), written out
next to each assertion. Reference values: the Poisson law (variance = mean, third cumulant
= mean, pmf e^(−λ)λᵏ/k! — scipy.stats.poisson), the dark-current law
I(T) = I_ref·2^((T − T_ref)/T_double), and the equations in ``camtwin.sensor.pixels``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import stats

from camtwin.errors import ConfigError
from camtwin.sensor import SensorSpec
from camtwin.sensor import _kernels as K
from camtwin.sensor import fixed_pattern as fp_module
from camtwin.sensor.fixed_pattern import FixedPattern, fixed_pattern
from camtwin.sensor.pixels import (blooming_possible, collect_charge,
                                   generate_charge, generate_charge_reference, read_out,
                                   simulate_pixels, simulate_pixels_reference)

Z = 5.0  # bound in standard errors


def sensor(h=256, w=256, *, full_well_e=200000.0, read_noise_e=0.0, gain=1.0, bits=16,
           black=1000, noise=None, **kw):
    """A mono test sensor; every noise source off unless given in ``noise``."""
    n = dict(shot=True, read=True, blooming=False)
    n.update(noise or {})
    return SensorSpec(name="t", width_px=w, height_px=h, pixel_pitch_um=2.0, cfa="mono",
                      full_well_e=full_well_e, conversion_gain_dn_per_e=gain,
                      read_noise_e=read_noise_e, adc_bits=bits, black_level_dn=black,
                      noise=n, **kw)


def flat(s, value):
    return np.full((s.height_px, s.width_px), value, np.float32)


def var_bound(lam, n):
    """5 standard errors of the sample variance of n Poisson(λ) values:
    Var(s²) ≈ (μ₄ − σ⁴)/n = (λ + 2λ²)/n."""
    return Z * math.sqrt((lam + 2 * lam * lam) / n)


def k3(x):
    x = np.asarray(x, np.float64)
    d = x - x.mean()
    return float(np.mean(d ** 3))


# --------------------------------------------------------------------------------------
# shot noise
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam", [0.5, 5.0, 500.0, 20000.0])
def test_shot_noise_variance_equals_mean(lam):
    s = sensor(512, 512)
    q = generate_charge(flat(s, lam), 0.0, s, key=11)
    n = q.size
    assert np.all(q == np.round(q)) and q.min() >= 0          # integer electron counts
    assert abs(q.mean() - lam) < Z * math.sqrt(lam / n)
    assert abs(q.var() - lam) < var_bound(lam, n)


@pytest.mark.parametrize("lam", [0.5, 3.0, 9.0, 15.9])
def test_small_means_follow_the_poisson_pmf(lam):
    """Exact inversion below 16 e⁻: χ² of 2²⁰ draws against e^(−λ)λᵏ/k!."""
    s = sensor(1024, 1024)
    q = generate_charge(flat(s, lam), 0.0, s, key=12).astype(np.int64).ravel()
    kmax = int(stats.poisson.ppf(1 - 1e-4, lam))
    obs = np.bincount(np.minimum(q, kmax), minlength=kmax + 1)
    p = stats.poisson.pmf(np.arange(kmax + 1), lam)
    p[-1] = stats.poisson.sf(kmax - 1, lam)
    chi2 = float(np.sum((obs - q.size * p) ** 2 / (q.size * p)))
    assert stats.chi2.sf(chi2, kmax) > 1e-5, chi2
    assert abs(q.mean() - lam) < Z * math.sqrt(lam / q.size)


def _cornish_fisher_pmf(lam, kmax):
    """Exact distribution of the kernel's large-mean sampler: its output on a fine grid of
    z (the kernel's float32 arithmetic), weighted by the normal density."""
    @numba.njit
    def grid(lam, z, out):
        for i in range(z.size):
            out[i] = K.poisson_cornish_fisher(lam, z[i])

    z = np.linspace(-6.66, 6.66, 2_000_001).astype(np.float32)
    w = stats.norm.pdf(z.astype(np.float64))
    w /= w.sum()
    k = np.empty_like(z)
    grid(np.float32(lam), z, k)
    return np.bincount(np.minimum(k.astype(np.int64), kmax), weights=w, minlength=kmax + 1)


@pytest.mark.parametrize("lam, tv_max", [(16.0, 1e-4), (40.0, 5e-5), (500.0, 5e-5)])
def test_large_mean_approximation_is_close_to_poisson(lam, tv_max):
    """Cornish–Fisher sampler vs the Poisson pmf by quadrature (no sampling noise): total
    variation, variance and third cumulant (= λ for Poisson; a plain normal has 0)."""
    kmax = int(lam + 12 * math.sqrt(lam) + 20)
    p = _cornish_fisher_pmf(lam, kmax)
    ks = np.arange(kmax + 1)
    pp = stats.poisson.pmf(ks, lam)
    assert 0.5 * np.abs(p - pp).sum() < tv_max
    m = (ks * p).sum()
    assert abs(m - lam) < 1e-3 * math.sqrt(lam)
    assert abs(((ks - m) ** 2 * p).sum() / lam - 1) < 2e-4
    assert abs(((ks - m) ** 3 * p).sum() / lam - 1) < 5e-3


@pytest.mark.parametrize("lam", [16.0, 50.0, 500.0, 20000.0])
def test_large_mean_sampler_variance_and_third_cumulant(lam):
    """The same by simulation, through generate_charge (2²² draws): Var = κ₃ = λ."""
    s = sensor(2048, 2048)
    q = generate_charge(flat(s, lam), 0.0, s, key=13).ravel()
    n = q.size
    assert abs(q.var() - lam) < var_bound(lam, n)
    # Var(sample μ₃) ≈ (μ₆ − μ₃² − 6μ₄μ₂ + 9μ₂³)/n = (6λ³ + 18λ² + λ)/n for Poisson
    # (μ₂ = μ₃ = λ, μ₄ = λ + 3λ², μ₆ = λ + 25λ² + 15λ³)
    se3 = math.sqrt((6 * lam ** 3 + 18 * lam ** 2 + lam) / n)
    assert abs(k3(q) - lam) < Z * se3


def test_exp_neg_f64_matches_math_exp():
    @numba.njit
    def f(x, out):
        for i in range(x.size):
            out[i] = K.exp_neg_f64(x[i])

    x = np.linspace(0, 40, 10001)
    out = np.empty_like(x)
    f(x, out)
    np.testing.assert_allclose(out, np.exp(-x), rtol=4e-16, atol=0)


def test_normal_generator_moments_and_tails():
    """Box–Muller output of the counter-based hash: mean 0, var 1, skew 0, kurtosis 3,
    tail 2Φ(−3) and independence of the two outputs (0.6z₁ + 0.8z₂ ~ N(0, 1), corr 0.6
    with z₁)."""
    out = np.empty((2048, 2048), np.float32)
    K.fill_normal(K.stream_seed(5, 0), np.float32(1), np.float32(0), out)
    x = out.ravel().astype(np.float64)
    n = x.size
    assert abs(x.mean()) < Z / math.sqrt(n)
    assert abs(x.var() - 1) < Z * math.sqrt(2 / n)
    assert abs(np.mean(x ** 3)) < Z * math.sqrt(15 / n)
    assert abs(np.mean(x ** 4) - 3) < Z * math.sqrt(96 / n)
    p3 = 2 * stats.norm.sf(3)
    assert abs(np.mean(np.abs(x) > 3) - p3) < Z * math.sqrt(p3 / n)
    assert np.abs(x).max() < 6.7                         # documented truncation
    K.fill_normal(K.stream_seed(5, 0), np.float32(0.6), np.float32(0.8), out)
    y = out.ravel().astype(np.float64)
    assert abs(y.var() - 1) < Z * math.sqrt(2 / n)
    assert abs(np.corrcoef(x, y)[0, 1] - 0.6) < Z * 0.64 / math.sqrt(n)


# --------------------------------------------------------------------------------------
# dark current and the fixed-pattern maps
# --------------------------------------------------------------------------------------
def test_dark_signal_doubles_every_doubling_temperature():
    """Dark frames through the chain at T, T + T_double, T + 2T_double: mean charge ratios
    2 and 4, and the absolute level I_ref·2^((T−T_ref)/T_double)·t."""
    t_s = 0.5
    means = []
    for temp in (25.0, 31.5, 38.0):
        s = sensor(512, 512, dark_current_e_per_s=40.0, dark_reference_c=25.0,
                   dark_doubling_c=6.5, temperature_c=temp)
        dark_e = s.dark_current_at() * t_s
        expect = 40.0 * 2 ** ((temp - 25.0) / 6.5) * t_s
        assert dark_e == pytest.approx(expect, rel=1e-12)
        q = generate_charge(flat(s, 0.0), dark_e, s, key=21)
        assert abs(q.mean() - expect) < Z * math.sqrt(expect / q.size)
        means.append(q.mean())
        dn = simulate_pixels(flat(s, 0.0), dark_e, s, key=22)
        assert abs(dn.mean() - 1000 - expect) < Z * math.sqrt(expect / dn.size)
    assert means[1] / means[0] == pytest.approx(2.0, abs=0.02)
    assert means[2] / means[0] == pytest.approx(4.0, abs=0.04)


def test_dark_map_per_row_and_per_pixel_input():
    s = sensor(64, 32, noise={"shot": False})
    rows = np.linspace(0, 63, 64, dtype=np.float32)
    q = generate_charge(flat(s, 1.0), rows[:, None], s, key=1)
    np.testing.assert_array_equal(q, 1.0 + np.broadcast_to(rows[:, None], q.shape))
    q2 = generate_charge(flat(s, 1.0), np.broadcast_to(rows[:, None], (64, 32)), s, key=1)
    np.testing.assert_array_equal(q, q2)
    with pytest.raises(ConfigError, match="dark_e has shape"):
        generate_charge(flat(s, 1.0), np.zeros(32), s, key=1)


def test_fixed_maps_stable_across_frames_and_differ_across_seeds():
    noise = {"prnu_fraction": 0.02, "dsnu_offset_e": 3.0, "row_fpn_e": 1.5,
             "column_fpn_e": 2.0, "dark_current_nonuniformity": 0.3,
             "fixed_pattern_seed": 7}
    names = ("prnu_gain", "dark_scale", "offset_e", "row_offset_e", "column_offset_e")
    s = sensor(512, 512, noise=noise)
    a = fixed_pattern(s)
    assert fixed_pattern(s) is a                                  # cached
    fp_module._fixed_pattern.cache_clear()
    b = fixed_pattern(s)                                          # redrawn: identical
    for name in names:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not getattr(b, name).flags.writeable
    c = fixed_pattern(sensor(512, 512, noise={**noise, "fixed_pattern_seed": 8}))
    for name in names:
        x, y = getattr(a, name).ravel(), getattr(c, name).ravel()
        assert abs(np.corrcoef(x, y)[0, 1]) < Z / math.sqrt(x.size)
    # switching one source on does not change another's map
    d = fixed_pattern(sensor(512, 512, noise={**noise, "hot_pixel_fraction": 0.01}))
    np.testing.assert_array_equal(a.prnu_gain, d.prnu_gain)
    np.testing.assert_array_equal(a.offset_e, d.offset_e)
    # two frames with different keys, temporal noise off: identical DN (fixed pattern only)
    s2 = sensor(512, 512, noise={**noise, "shot": False, "read": False})
    photo = flat(s2, 2000.0)
    np.testing.assert_array_equal(simulate_pixels(photo, 5.0, s2, key=1),
                                  simulate_pixels(photo, 5.0, s2, key=2))


def test_fixed_map_statistics_match_the_spec():
    n_px = 1024
    noise = {"prnu_fraction": 0.01, "dsnu_offset_e": 1.0, "row_fpn_e": 0.5,
             "column_fpn_e": 1.0, "dark_current_nonuniformity": 0.4, "fixed_pattern_seed": 3}
    fp = fixed_pattern(sensor(n_px, n_px, noise=noise))
    n = n_px * n_px
    # standard error of a sample std of a normal sample: σ/√(2n)
    assert abs(fp.prnu_gain.mean() - 1) < Z * 0.01 / math.sqrt(n)
    assert abs(fp.prnu_gain.std() - 0.01) < Z * 0.01 / math.sqrt(2 * n)
    assert abs(fp.offset_e.mean()) < Z * 1.0 / math.sqrt(n)
    assert abs(fp.offset_e.std() - 1.0) < Z * 1.0 / math.sqrt(2 * n)
    assert abs(fp.row_offset_e.std() - 0.5) < Z * 0.5 / math.sqrt(2 * n_px)
    assert abs(fp.column_offset_e.std() - 1.0) < Z * 1.0 / math.sqrt(2 * n_px)
    # log-normal dark map: mean 1 and relative std 0.4 (the std of a log-normal sample
    # has a larger standard error; 3× the normal case bounds it at s = 0.4)
    assert abs(fp.dark_scale.mean() - 1) < Z * 0.4 / math.sqrt(n)
    assert abs(fp.dark_scale.std() - 0.4) < Z * 3 * 0.4 / math.sqrt(2 * n)
    assert fp.dark_scale.min() > 0


def test_prnu_and_fpn_measured_through_the_chain():
    """Flat field (shot and read off): (DN − black)/K − offsets = g·μ to ±½ DN; a dark
    frame's column means give the column FPN and its row means the row FPN."""
    noise = {"prnu_fraction": 0.02, "row_fpn_e": 3.0, "column_fpn_e": 4.0,
             "shot": False, "read": False, "fixed_pattern_seed": 4}
    s = sensor(512, 512, gain=4.0, noise=noise)
    fp = fixed_pattern(s)
    mu = 5000.0
    dn = simulate_pixels(flat(s, mu), 0.0, s, key=1).astype(np.float64)
    signal = (dn - 1000) / 4.0 - fp.row_offset_e[:, None] - fp.column_offset_e[None, :]
    np.testing.assert_allclose(signal / mu, fp.prnu_gain, rtol=0, atol=0.125 / mu + 1e-6)
    dark = (simulate_pixels(flat(s, 0.0), 0.0, s, key=2).astype(np.float64) - 1000) / 4.0
    np.testing.assert_allclose(dark.mean(axis=0) - dark.mean(),
                               fp.column_offset_e - fp.column_offset_e.mean(), atol=0.13)
    np.testing.assert_allclose(dark.mean(axis=1) - dark.mean(),
                               fp.row_offset_e - fp.row_offset_e.mean(), atol=0.13)


def test_temporal_row_noise_std():
    s = sensor(2048, 64, noise={"row_noise_e": 2.0, "shot": False, "read": False})
    dn = simulate_pixels(flat(s, 100.0), 0.0, s, key=3).astype(np.float64) - 1000
    rows = dn.mean(axis=1)
    assert np.all(dn.std(axis=1) < 0.6)              # constant within a row (± rounding)
    assert abs(rows.mean() - 100) < Z * 2.0 / math.sqrt(2048)
    assert abs(rows.std() - 2.0) < Z * 2.0 / math.sqrt(2 * 2048) + 0.05
    other = simulate_pixels(flat(s, 100.0), 0.0, s, key=4).astype(np.float64).mean(axis=1)
    assert abs(np.corrcoef(rows, other)[0, 1]) < Z / math.sqrt(2048)   # new every frame


def test_hot_and_dead_pixels():
    noise = {"hot_pixel_fraction": 0.01, "hot_pixel_dark_multiplier": 50.0,
             "dead_pixel_fraction": 0.02, "read": False, "fixed_pattern_seed": 9}
    s = sensor(512, 512, noise=noise)
    fp = fixed_pattern(s)
    hot = fp.dark_scale > 1
    n = hot.size
    assert set(np.unique(fp.dark_scale)) == {1.0, 50.0}
    assert abs(hot.mean() - 0.01) < Z * math.sqrt(0.01 / n)
    assert abs(fp.dead.mean() - 0.02) < Z * math.sqrt(0.02 / n)
    # dark signal of hot pixels = multiplier × that of normal pixels
    q = generate_charge(flat(s, 0.0), 20.0, s, key=5)
    assert abs(q[hot].mean() - 1000.0) < Z * math.sqrt(1000.0 / hot.sum())
    assert abs(q[~hot].mean() - 20.0) < Z * math.sqrt(20.0 / (~hot).sum())
    # dead pixels: no photo-charge; with no dark current and no read noise: black level
    dn = simulate_pixels(flat(s, 3000.0), 0.0, s, key=6)
    assert np.all(dn[fp.dead] == 1000)
    alive = ~fp.dead
    assert abs(dn[alive].mean() - 4000.0) < Z * math.sqrt(3000.0 / alive.sum())


def test_rtn_pixels_show_two_levels():
    noise = {"rtn_pixel_fraction": 0.05, "rtn_amplitude_e": 20.0, "shot": False,
             "fixed_pattern_seed": 2}
    s = sensor(512, 512, read_noise_e=0.5, noise=noise)
    fp = fixed_pattern(s)
    dn = simulate_pixels(flat(s, 100.0), 0.0, s, key=7).astype(np.float64) - 1100
    r = dn[fp.rtn]
    assert np.all(np.abs(np.abs(r) - 10) < 4)            # ±A/2 with 0.5 e⁻ read noise (8σ)
    up = np.mean(r > 0)
    assert abs(up - 0.5) < Z * 0.5 / math.sqrt(r.size)   # equal occupancy
    assert np.all(np.abs(dn[~fp.rtn]) < 4)
    # a pixel's level is redrawn every frame
    dn2 = simulate_pixels(flat(s, 100.0), 0.0, s, key=8).astype(np.float64) - 1100
    flipped = np.mean(np.sign(dn2[fp.rtn]) != np.sign(r))
    assert abs(flipped - 0.5) < Z * 0.5 / math.sqrt(r.size)
    # the numpy reference has the same two-level law
    ref = simulate_pixels_reference(flat(s, 100.0), 0.0, s, key=7).astype(np.float64) - 1100
    assert np.all(np.abs(np.abs(ref[fp.rtn]) - 10) < 4)


# --------------------------------------------------------------------------------------
# full well, blooming, nonlinearity, quantisation, conversion gain
# --------------------------------------------------------------------------------------
def test_blooming_conserves_charge_minus_the_drain():
    s = sensor(9, 9, full_well_e=1000.0, noise={"blooming": True, "antiblooming_drain": 0.3})
    q = np.full((9, 9), 100.0, np.float32)
    q[4, 4] = 1800.0                                    # excess 800 e⁻, neighbours have room
    out = collect_charge(q, s)
    assert out[4, 4] == 1000.0
    np.testing.assert_allclose([out[3, 4], out[5, 4], out[4, 3], out[4, 5]],
                               100 + 0.7 * 800 / 4, rtol=1e-6)
    assert out.sum() == pytest.approx(q.sum() - 0.3 * 800, rel=1e-6)
    far = np.abs(np.arange(9)[:, None] - 4) + np.abs(np.arange(9)[None, :] - 4) > 1
    assert np.all(out[far] == 100.0)                   # nothing beyond the neighbours
    assert q[4, 4] == 1800.0                           # input untouched


def test_blooming_iterates_and_conserves_without_drain():
    s = sensor(64, 64, full_well_e=1000.0, noise={"blooming": True, "antiblooming_drain": 0.0})
    q = np.full((64, 64), 200.0, np.float32)
    q[30:34, 30:34] = 20000.0                          # needs many steps to spread
    out = collect_charge(q, s)
    assert out.max() <= 1000.0
    assert out.sum() == pytest.approx(q.sum(), rel=1e-6)
    # (16·19000 e⁻ excess + 16·800 room)/(800 e⁻ per neighbour) ≈ 396 full pixels
    assert (out == 1000.0).sum() == pytest.approx(16 + 16 * 19000 / 800, abs=60)
    np.testing.assert_array_equal(out, out[::-1, ::-1])          # symmetric spread
    np.testing.assert_array_equal(out, out.T)
    s2 = sensor(64, 64, full_well_e=1000.0, noise={"blooming": True, "antiblooming_drain": 0.5})
    out2 = collect_charge(q, s2)
    assert out2.max() <= 1000.0
    assert out2.sum() == pytest.approx(q.sum() - 0.5 * 16 * 19000, rel=1e-6)


def test_ccd_blooms_along_the_column_only():
    s = sensor(32, 16, full_well_e=1000.0, noise={"blooming": True, "antiblooming_drain": 0.0})
    q = np.zeros((32, 16), np.float32)
    q[16, 8] = 9000.0
    out = collect_charge(q, s, along_columns=True)
    assert out.sum() == pytest.approx(9000.0, rel=1e-6)
    assert np.all(np.delete(out, 8, axis=1) == 0)
    np.testing.assert_array_equal(out[12:21, 8], 1000.0)          # 9 full pixels
    assert out[:12, 8].sum() == 0 and out[21:, 8].sum() == 0
    # charge that reaches the frame edge of a column stays (a full column loses the rest)
    q[:, 8] = 5000.0
    assert collect_charge(q, s, along_columns=True)[:, 8].sum() == pytest.approx(32000.0)


def test_blooming_off_clips_at_full_well():
    s = sensor(8, 8, full_well_e=1000.0)
    q = np.full((8, 8), 5000.0, np.float32)
    np.testing.assert_array_equal(collect_charge(q, s), np.full((8, 8), 1000.0))


def test_simulate_pixels_blooms_when_a_mean_nears_full_well():
    s = sensor(32, 32, full_well_e=5000.0, noise={"blooming": True, "antiblooming_drain": 0.0,
                                                 "read": False})
    photo = flat(s, 100.0)
    photo[16, 16] = 25000.0
    assert blooming_possible(photo, 0.0, s) and not blooming_possible(flat(s, 100.0), 0.0, s)
    dn = simulate_pixels(photo, 0.0, s, key=1).astype(np.float64) - 1000
    assert dn[16, 16] == 5000
    assert np.all(dn[[15, 17, 16, 16], [16, 16, 15, 17]] == 5000)   # neighbours filled
    assert dn.sum() == pytest.approx(photo.sum(), abs=6 * math.sqrt(photo.sum()))


def test_nonlinearity_compresses_as_specified():
    nl, fw = 0.2, 10000.0
    s = sensor(1, 5, full_well_e=fw, gain=1.0, noise={"nonlinearity": nl, "shot": False,
                                                      "read": False})
    q = np.array([[0, 2500, 5000, 9000, 10000]], np.float32)
    dn = read_out(q, s, key=1).astype(np.float64) - 1000
    np.testing.assert_array_equal(dn, np.rint(q * (1 - nl * (q / fw) ** 2)))
    assert dn[0, -1] == fw * (1 - nl)


def test_quantisation_and_clipping_at_white_level():
    s = sensor(1, 6, gain=0.5, bits=12, black=64, full_well_e=1e6,
               noise={"shot": False, "read": False})
    q = np.array([[0, 1, 3, 101, 7000, 50000]], np.float32)
    dn = read_out(q, s, key=1)
    assert dn.dtype == np.uint16
    # 64 + 0.5q rounded half to even: 64, 64.5→64, 65.5→66, 114.5→114, 3564, 25064→4095
    np.testing.assert_array_equal(dn[0], [64, 64, 66, 114, 3564, 4095])
    np.testing.assert_array_equal(simulate_pixels_reference(q, 0.0, s, key=1), dn)
    s2 = sensor(1, 4, gain=1.0, bits=12, black=2, noise={"shot": False, "read": False,
                                                        "row_fpn_e": 1000.0})
    assert read_out(np.zeros((1, 4), np.float32), s2, key=1).min() == 0   # clipped at 0
    s3 = sensor(4096, 1, gain=1.0, bits=8, black=10, noise={"shot": False})
    ramp = np.linspace(-20, 300, 4096, dtype=np.float32)[:, None]
    dn3 = read_out(np.maximum(ramp, 0), s3, key=1)
    assert dn3.min() == 10 and dn3.max() == 255


def test_dual_conversion_gain_uses_the_active_mode():
    lcg = {"conversion_gain_dn_per_e": 0.1, "read_noise_e": 6.0, "full_well_e": 40000.0}
    kw = dict(full_well_e=8000.0, read_noise_e=1.5, gain=0.5, lcg=lcg, noise={"shot": False})
    hcg, lcg_s = sensor(512, 512, **kw), sensor(512, 512, conversion_mode="lcg", **kw)
    for s, k_dn, fw, rn in ((hcg, 0.5, 8000.0, 1.5), (lcg_s, 0.1, 40000.0, 6.0)):
        assert s.system_gain_dn_per_e == k_dn
        e = (simulate_pixels(flat(s, 2000.0), 0.0, s, key=2).astype(np.float64) - 1000) / k_dn
        assert abs(e.mean() - 2000) < Z * rn / 512 + 0.05
        # rounding to whole DN adds 1/(12K²) e⁻² of variance
        v = rn ** 2 + 1 / (12 * k_dn ** 2)
        assert abs(e.var() - v) < Z * math.sqrt(2 / e.size) * v + 0.02 * v
        sat = simulate_pixels(flat(s, 1e5), 0.0, s, key=3).astype(np.float64)
        assert abs((sat.mean() - 1000) / k_dn - fw) < Z * rn / 512 + 0.5 / k_dn


def test_voltage_domain_global_shutter_doubles_read_noise_variance():
    s = sensor(512, 512, read_noise_e=3.0, gain=1.0, noise={"shot": False},
               shutter={"type": "global", "pixel_domain": "voltage"})
    dn = simulate_pixels(flat(s, 500.0), 0.0, s, key=4).astype(np.float64)
    expect = 2 * 9.0 + 1 / 12
    assert abs(dn.var() - expect) < Z * math.sqrt(2 / dn.size) * expect


# --------------------------------------------------------------------------------------
# numba kernels vs the NumPy reference; fused vs split; determinism
# --------------------------------------------------------------------------------------
ALL_ON = {"prnu_fraction": 0.01, "dsnu_offset_e": 1.0, "row_fpn_e": 0.5, "column_fpn_e": 1.0,
          "row_noise_e": 0.7, "dark_current_nonuniformity": 0.2, "hot_pixel_fraction": 0.001,
          "dead_pixel_fraction": 0.001, "rtn_pixel_fraction": 0.01, "rtn_amplitude_e": 6.0,
          "nonlinearity": 0.05, "fixed_pattern_seed": 5}


def _bands_sensor():
    return sensor(1024, 500, full_well_e=30000.0, read_noise_e=2.0, gain=0.8, noise=ALL_ON)


def _bands_photo(s):
    """Columns in bands of constant mean: 0, 0.5, 3, 12, 15.9, 16, 40, 500, 5000, 25000 e⁻
    (pixels of a band share the row and column FPN statistics)."""
    levels = np.array([0, 0.5, 3, 12, 15.9, 16, 40, 500, 5000, 25000], np.float32)
    cols = np.repeat(levels, -(-s.width_px // levels.size))[: s.width_px]
    return levels, cols, np.ascontiguousarray(np.broadcast_to(cols, (s.height_px, s.width_px)))


def test_kernels_match_numpy_reference_statistically():
    """Whole chain, every source on: per band, mean and variance of DN from the numba
    kernels and from the NumPy reference agree within 5 standard errors (two samples)."""
    s = _bands_sensor()
    levels, cols, photo = _bands_photo(s)
    a = simulate_pixels(photo, 2.0, s, key=31).astype(np.float64)
    b = simulate_pixels_reference(photo, 2.0, s, key=31).astype(np.float64)
    for lv in levels:
        sel = cols == lv
        x, y = a[:, sel].ravel(), b[:, sel].ravel()
        n = x.size
        # the fixed pattern is shared, so the difference of means has only temporal
        # noise; the pooled variance bounds it
        assert abs(x.mean() - y.mean()) < Z * math.sqrt((x.var() + y.var()) / n), lv
        # variance: Var(s²) ≈ (μ₄ − σ⁴)/n, μ₄ from the samples
        v = 0.5 * (x.var() + y.var())
        m4 = 0.5 * (np.mean((x - x.mean()) ** 4) + np.mean((y - y.mean()) ** 4))
        assert abs(x.var() - y.var()) < Z * math.sqrt(2 * (m4 - v * v) / n), lv


def test_small_mean_charge_matches_reference_pmf():
    """Two-sample χ² of charge histograms (numba vs numpy.random.Generator.poisson)."""
    s = sensor(1024, 1024)
    for lam in (0.7, 6.0, 15.0):
        a = generate_charge(flat(s, lam), 0.0, s, key=41).astype(np.int64).ravel()
        b = generate_charge_reference(flat(s, lam), 0.0, s,
                                      rng=np.random.default_rng(41)).astype(np.int64).ravel()
        kmin = int(stats.poisson.ppf(1e-4, lam))                 # pool both tails
        kmax = int(stats.poisson.ppf(1 - 1e-4, lam))
        ca = np.bincount(np.clip(a, kmin, kmax) - kmin, minlength=kmax - kmin + 1)
        cb = np.bincount(np.clip(b, kmin, kmax) - kmin, minlength=kmax - kmin + 1)
        p = stats.chi2_contingency(np.vstack([ca, cb]))[1]
        assert p > 1e-5, (lam, p)


@pytest.mark.parametrize("fwc", [100.0, 5000.0, 6000.5, 1e5])
def test_blooming_possible_is_the_safety_bound_on_the_largest_mean(fwc):
    """``blooming_possible`` (an early-exit scan against a threshold mean) says True exactly
    when the frame's largest mean μ has μ + 8(√μ + 1) > FWC (the definition, evaluated here
    in float64 on the frame's maximum), wherever that pixel is — first or last row or
    column, one chunk of rows or another — and is never False when the bound is
    exceeded; means equal to the root may go either way (both paths then give the same
    DN, ``test_fused_and_split_paths_are_identical``)."""
    from camtwin.sensor.pixels import BLOOM_SAFETY_SIGMA, bloom_threshold_mean_e

    s = sensor(67, 45, full_well_e=fwc, noise={"blooming": True})
    k = BLOOM_SAFETY_SIGMA
    root = ((-k + math.sqrt(k * k + 4 * (fwc - k))) / 2) ** 2    # μ + k(√μ + 1) = FWC
    thr = bloom_threshold_mean_e(fwc)
    assert float(thr) < root <= float(np.nextafter(thr, np.float32(np.inf)))

    def defined(photo, dark=0.0):
        m = max(float((photo + dark).max()), 0.0)
        return m + k * (math.sqrt(m) + 1.0) > fwc

    below = np.nextafter(np.float32(root), np.float32(0))       # ≤ root: bound not exceeded
    above = np.nextafter(np.float32(root), np.float32(np.inf))
    while float(above) + k * (math.sqrt(float(above)) + 1.0) <= fwc:   # (float rounding)
        above = np.nextafter(above, np.float32(np.inf))
    base = flat(s, float(below) * 0.5)
    assert not blooming_possible(base, 0.0, s) and not defined(base)
    for i, j in [(0, 0), (66, 44), (33, 0), (1, 44), (65, 22)]:
        photo = base.copy()
        photo[i, j] = above
        assert defined(photo) and blooming_possible(photo, 0.0, s), (i, j)
        photo[i, j] = thr                   # the threshold itself: not above it
        assert not blooming_possible(photo, 0.0, s)
    # the dark charge counts (a dark map per row here), as for the largest mean
    dark = np.zeros(67, np.float32)
    dark[40] = float(above) - float(base[40, 0]) + 1.0
    assert blooming_possible(base, dark, s) and defined(base, dark[:, None])
    rng = np.random.default_rng(3)
    for _ in range(20):         # random frames near the bound
        photo = (rng.random((67, 45), dtype=np.float32) * 1.02 * root).astype(np.float32)
        assert blooming_possible(photo, 0.0, s) == defined(photo) or \
            abs(float(photo.max()) - root) <= 1e-6 * root


def test_fused_and_split_paths_are_identical():
    """Same key: the fused kernel and generate → collect → read_out give the same DN when
    nothing blooms (charge_hook forces the split path)."""
    s = sensor(300, 200, full_well_e=1e5, read_noise_e=2.0, gain=0.3,
               noise={**ALL_ON, "blooming": True})
    _, _, photo = _bands_photo(s)
    assert not blooming_possible(photo, 3.0, s)
    fused = simulate_pixels(photo, 3.0, s, key=77)
    seen = []

    def hook(q):
        seen.append(q.shape)
        return q

    split = simulate_pixels(photo, 3.0, s, key=77, charge_hook=hook)
    assert seen == [photo.shape]
    np.testing.assert_array_equal(fused, split)
    manual = read_out(collect_charge(generate_charge(photo, 3.0, s, key=77), s), s, key=77)
    np.testing.assert_array_equal(fused, manual)



@numba.njit(cache=False)
def _exact_one_by_one(lam, seed, base):  # pragma: no cover - jit
    """poisson_inversion(λ, word base + j of the exact stream), pixel by pixel: the
    definition the row kernels' chunked draws must reproduce bit for bit."""
    out = np.empty(lam.size, np.float32)
    for j in range(lam.size):
        out[j] = K.poisson_inversion(lam[j], K.draw(seed, base + j))
    return out


def test_exact_draws_of_a_span_are_the_pixelwise_inversion():
    """``exact_span`` (32 columns side by side, stopping when every count is final) gives
    the counts of ``poisson_inversion`` pixel by pixel on a span that starts mid-row and
    ends mid-chunk, with means from 0 to just under 16 e⁻ and lanes of 16 e⁻ and more
    among them (left untouched); and ``charge_chain`` — the split path's draws, which the
    fused one shares — gives them for every pixel of a frame below 16 e⁻."""
    rng = np.random.default_rng(5)
    w, j0, j1, base = 300, 7, 250, 12345
    lam = (rng.random(w) * 16.0).astype(np.float32)
    lam[::17] = 16.0 + rng.random(lam[::17].size).astype(np.float32) * 100
    lam[3::29] = 0.0
    seed = K.stream_seed(9, K.STREAM_EXACT_POISSON)
    n = np.full(w, -1.0, np.float32)
    st = np.empty((4, K.EXACT_CHUNK))
    K.exact_span(lam, n, seed, base, j0, j1, st[0], st[1], st[2], st[3])
    want = _exact_one_by_one(lam, seed, base)
    small = np.zeros(w, bool)
    small[j0:j1] = lam[j0:j1] < K.POISSON_EXACT_BELOW
    np.testing.assert_array_equal(n[small], want[small])
    assert (n[~small] == -1.0).all()                    # nothing else written
    h, w = 40, 333
    photo = (rng.random((h, w)) * 15.99).astype(np.float32)
    out = np.empty((h, w), np.float32)
    K.charge_chain(photo, None, None, None, K.stream_seed(9, K.STREAM_PIXEL), seed, True,
                   np.int64(0), out)
    for i in (0, 17, h - 1):
        np.testing.assert_array_equal(out[i], _exact_one_by_one(photo[i], seed, i * w))

def test_same_key_same_frame_regardless_of_thread_count():
    s = _bands_sensor()
    _, _, photo = _bands_photo(s)
    a = simulate_pixels(photo, 2.0, s, key=2**63 - 1)
    qa = generate_charge(photo, 2.0, s, key=5)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        b = simulate_pixels(photo, 2.0, s, key=2**63 - 1)
        qb = generate_charge(photo, 2.0, s, key=5)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(qa, qb)
    c = simulate_pixels(photo, 2.0, s, key=2**63 - 2)
    assert np.mean(a != c) > 0.5
    np.testing.assert_array_equal(simulate_pixels_reference(photo, 2.0, s, key=9),
                                  simulate_pixels_reference(photo, 2.0, s, key=9))


def test_shot_noise_off_gives_the_mean():
    s = sensor(16, 16, noise={"shot": False, "read": False})
    photo = np.linspace(0, 100, 256, dtype=np.float32).reshape(16, 16)
    np.testing.assert_array_equal(generate_charge(photo, 0.25, s, key=1), photo + 0.25)


def test_invalid_arguments_are_rejected():
    s = sensor(8, 8)
    with pytest.raises(ConfigError, match="photo_e has shape"):
        simulate_pixels(np.zeros((4, 4), np.float32), 0.0, s, key=1)
    with pytest.raises(ConfigError, match="key"):
        simulate_pixels(flat(s, 1.0), 0.0, s, key=-1)
    with pytest.raises(ConfigError, match="key"):
        simulate_pixels(flat(s, 1.0), 0.0, s, key=2**63)
    with pytest.raises(ConfigError, match="prnu_gain"):
        simulate_pixels(flat(s, 1.0), 0.0, s, key=1,
                        fixed=FixedPattern(prnu_gain=np.ones((4, 4))))
    fp = FixedPattern(prnu_gain=np.full((8, 8), 2.0))           # caller's own maps work
    q = generate_charge(flat(s, 100.0), 0.0, sensor(8, 8, noise={"shot": False}), key=1,
                        fixed=fp)
    np.testing.assert_array_equal(q, 200.0)
    assert fp.prnu_gain.dtype == np.float32 and not fp.prnu_gain.flags.writeable


def test_the_pixel_chain_compiles_once_for_writable_and_read_only_inputs_and_missing_fpn(
        monkeypatch):
    """numba compiles a kernel per combination of argument types (10–13 s each for the
    pixel chain), and a read-only array is a type of its own: a writable or read-only
    photo, a scalar or per-row dark signal (writable or not), a sensor with or without
    row and column FPN all reach :func:`K.fused_chain` with the same types (the missing
    maps as zeros, every input read-only) — on a clean clone the EMVA 1288 and noise tests
    compiled 10 variants of it before, 8 now."""
    seen = []

    def spy(*args):
        seen.append(tuple(numba.typeof(a) for a in args[:8]))

    monkeypatch.setattr(K, "fused_chain", spy)
    h, w = 6, 8
    photo = np.full((h, w), 100.0, np.float32)
    frozen = photo.copy()
    frozen.flags.writeable = False
    dark_rows = np.full(h, 2.0, np.float32)
    frozen_rows = dark_rows.copy()
    frozen_rows.flags.writeable = False
    for fpn in ({}, {"column_fpn_e": 0.5}, {"row_fpn_e": 0.5},
                {"column_fpn_e": 0.5, "row_fpn_e": 0.5}):
        s = SensorSpec(width_px=w, height_px=h, pixel_pitch_um=2.0, full_well_e=9000.0,
                       conversion_gain_dn_per_e=0.5, read_noise_e=2.0,
                       noise={"prnu_fraction": 0.0, "dsnu_offset_e": 0.0, **fpn})
        for p in (photo, frozen):
            for d in (1.0, dark_rows, frozen_rows):
                simulate_pixels(p, d, s, key=1)
    assert len(seen) == 24 and len(set(seen)) == 1, set(seen)


def test_the_rows_shared_among_threads_give_the_one_thread_frame():
    """The fused chain's rows run on numba's threads (``camtwin._jit.on_row_threads``,
    four blocks per thread, interleaved): the same DN and kept charge on 1, 2 and 3
    threads, with and without pixels over full well (the per-row counts of those too).
    Reference: the frame made on one thread."""
    s = SensorSpec(width_px=96, height_px=410, pixel_pitch_um=2.0, full_well_e=9000.0,
                   conversion_gain_dn_per_e=0.5, read_noise_e=2.0,
                   noise={"row_fpn_e": 0.5, "column_fpn_e": 0.5})
    photo = np.random.default_rng(2).uniform(2.0, 12000.0, (410, 96)).astype(np.float32)
    photo[:40] = 3.0                                    # (the exact low-light draws)
    got = {}
    default = numba.get_num_threads()
    try:
        for n in (1, 2, 3):
            if n > numba.config.NUMBA_NUM_THREADS:
                continue
            numba.set_num_threads(n)
            got[n] = (simulate_pixels(photo, 1.0, s, key=3),
                      simulate_pixels(np.minimum(photo, 8000.0), 1.0, s, key=3))
    finally:
        numba.set_num_threads(default)
    for n, (a, b) in got.items():
        np.testing.assert_array_equal(a, got[1][0])
        np.testing.assert_array_equal(b, got[1][1])


def test_an_error_in_a_row_thread_is_raised_in_the_caller():
    """``camtwin._jit.on_row_threads`` joins every thread and raises the first exception
    any of them met (not a silent half-written frame)."""
    from camtwin._jit import on_row_threads

    calls = []

    def kernel(tag, i0, i1):
        calls.append((int(i0), int(i1)))
        if i0 > 0:
            raise ValueError(f"row block {int(i0)}")

    default = numba.get_num_threads()
    try:
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        if numba.get_num_threads() < 2:
            pytest.skip("one thread")
        with pytest.raises(ValueError, match="row block"):
            on_row_threads(kernel, ("x",), 1000)
    finally:
        numba.set_num_threads(default)
    assert sorted(calls)[0] == (0, 125) and len(calls) >= 2


def test_the_scan_for_a_mean_near_full_well_finds_it_in_every_block_of_rows():
    """``blooming_possible`` scans the rows in blocks on numba's threads (8 blocks of a
    600-row frame on two threads), each stopping early: one pixel above the bound in any
    block's first, middle or last row is found, none is not (reference: the frame's
    maximum against the bound)."""
    s = sensor(600, 40, full_well_e=9000.0, noise={"blooming": True})
    base = flat(s, 100.0)
    assert not blooming_possible(base, 0.0, s)
    for i in sorted({0, 74, 75, 149, 150, 299, 300, 374, 449, 525, 599}):
        photo = base.copy()
        photo[i, 39 if i % 2 else 0] = 9000.0
        assert blooming_possible(photo, 0.0, s), i
