"""The fused HDR kernel (camtwin.sensor._hdr_kernels.hdr_chain) against independent
references, by statistics over flat fields (never seeded bytes).

References:

* EMVA Standard 1288 R4.0 (2021), §2 linear model: a component read with conversion
  gain K [DN/e⁻] and read noise σ [e⁻] has var(e) = μ + σ² + 1/(12K²) e⁻² (shot + read +
  uniform quantisation of 1 DN); two reads of one charge (DCG) share only the shot noise:
  cov(e_HCG, e_LCG) = μ;
* Poisson(λ) probabilities λᵏe^(−λ)/k! (scipy.stats.poisson) for the exact small-mean
  draw, tested by a χ² goodness of fit;
* the per-component chain of camtwin.sensor.pixels (simulate_pixels) for the frames that
  are not drawn in the all-small-row pairing: same streams, so the same DN.
Standard errors: mean σ/√N; variance σ²·√(2/N) (normal approximation).
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

from camtwin.sensor import SensorSpec
from camtwin.sensor.hdr import (HdrSpec, component_key, component_sensors, dol_windows,
                                hdr_expose)
from camtwin.sensor.pixels import simulate_pixels
from camtwin.sensor.timing import integrate_photo

T = 0.01


def _sensor(**kw) -> SensorSpec:
    base = dict(width_px=512, height_px=256, pixel_pitch_um=3.0, full_well_e=20000,
                conversion_gain_dn_per_e=1.0, read_noise_e=1.5, adc_bits=16,
                black_level_dn=64, dark_current_e_per_s=0.0, noise={"blooming": False})
    base.update(kw)
    return SensorSpec(**base)


def _var_ok(e, mu, read_e, k, n_sigma=5.0):
    n = e.size
    want = mu + read_e**2 + 1.0 / (12 * k * k)
    assert abs(e.mean() - mu) < n_sigma * np.sqrt(want / n) + 0.02 * (mu < 1)
    assert abs(e.var() / want - 1) < n_sigma * np.sqrt(2.0 / n)


@pytest.mark.parametrize("lam_long", [3000.0, 200.0])
def test_dol_components_mean_and_variance(lam_long):
    """3 exposures (16×, 16×): each component's mean and variance = the EMVA model with
    its own μ_k = λ·T_k/T_0 — means from 0.7 to 3000 e⁻ cover the Cornish–Fisher draw,
    the exact draw in mixed rows and the all-small rows (paired normals)."""
    s = _sensor()
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16, 16]})
    rate = np.full((s.height_px, s.width_px), lam_long / T, np.float32)
    raw = hdr_expose(rate, s, hdr, T, key=11)
    for c, f in zip(raw.components, (1, 16, 256)):
        _var_ok(c.electrons().astype(np.float64), lam_long / f, 1.5, 1.0)


def test_exact_small_mean_is_poisson():
    """Read noise 0, K = 1 DN/e⁻: DN − black is the charge itself; its histogram at
    λ = 0.7 and λ = 11 (the chunked early-exit inversion) fits Poisson(λ) (χ², p > 10⁻⁴)."""
    s = _sensor(read_noise_e=0.0)
    for lam in (0.7, 11.0):
        hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [2]})
        rate = np.full((s.height_px, s.width_px), 2 * lam / T, np.float32)
        n = hdr_expose(rate, s, hdr, T, key=5).components[1].electrons().astype(int).ravel()
        kmax = int(stats.poisson.ppf(1 - 1e-4, lam))
        obs = np.bincount(np.minimum(n, kmax), minlength=kmax + 1)
        p = stats.poisson.pmf(np.arange(kmax + 1), lam)
        p[-1] = stats.poisson.sf(kmax - 1, lam)
        chi2 = ((obs - n.size * p) ** 2 / (n.size * p)).sum()
        assert stats.chi2.sf(chi2, kmax) > 1e-4, (lam, chi2)


def test_dcg_shared_charge_covariance():
    """DCG in one frame: var of each read = EMVA model with its own σ and K, and the
    covariance of the two reads (in e⁻) = the shot variance μ (read noise independent)."""
    s = _sensor(lcg={"conversion_gain_dn_per_e": 0.25, "read_noise_e": 6.0,
                     "full_well_e": 80000})
    mu = 400.0
    raw = hdr_expose(np.full((s.height_px, s.width_px), mu / T, np.float32), s,
                     HdrSpec(mode="dcg"), T, key=3)
    hi, lo = (c.electrons().astype(np.float64).ravel() for c in raw.components)
    _var_ok(hi, mu, 1.5, 1.0)
    _var_ok(lo, mu, 6.0, 0.25)
    cov = np.cov(hi, lo)[0, 1]
    se = np.sqrt((hi.var() * lo.var() + cov**2) / hi.size)
    assert abs(cov - mu) < 5 * se


def test_all_small_rows_paired_normals_are_independent():
    """Rows whose means are all < 16 e⁻ take the read noise of columns 2m and 2m + 1 from
    one Box–Muller pair: adjacent columns uncorrelated (|r| < 5/√N), variance as the
    model."""
    s = _sensor(read_noise_e=3.0)
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [400]})
    raw = hdr_expose(np.full((s.height_px, s.width_px), 2000.0 / T, np.float32), s, hdr,
                     T, key=9)
    e = raw.components[1].electrons().astype(np.float64)
    _var_ok(e, 5.0, 3.0, 1.0)
    a, b = e[:, 0::2].ravel(), e[:, 1::2].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(a.size)


def test_fused_equals_per_component_chain_where_streams_match():
    """A frame with bright pixels in every row (no all-small row): every DOL component is
    the per-component chain's DN (simulate_pixels with the component key)."""
    s = _sensor(width_px=320, height_px=64)
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16, 16]})
    rate = np.tile(np.logspace(0, 7, s.width_px, dtype=np.float32), (s.height_px, 1))
    raw = hdr_expose(rate, s, hdr, T, key=21)
    ts, starts, _ = dol_windows(s, hdr.dol, T)
    for k, c in enumerate(raw.components):
        mu = integrate_photo(rate, s, ts[k], start_s=starts[k])
        ref = simulate_pixels(mu, np.float32(0.0), component_sensors(s, hdr)[k],
                              key=component_key(21, k))
        assert np.array_equal(c.dn, ref)


def test_independent_of_thread_count():
    s = _sensor(width_px=256, height_px=128)
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16, 16]})
    rate = np.random.default_rng(0).uniform(10, 1e6, (128, 256)).astype(np.float32)
    n0 = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        a = hdr_expose(rate, s, hdr, T, key=4)
        numba.set_num_threads(n0)
        b = hdr_expose(rate, s, hdr, T, key=4)
    finally:
        numba.set_num_threads(n0)
    for ca, cb in zip(a.components, b.components):
        assert np.array_equal(ca.dn, cb.dn)
    assert np.array_equal(a.combined_e, b.combined_e)


def test_blooming_group_takes_the_per_component_chain():
    """Blooming on, the long exposure over full well in a bright spot: that exposure is
    drawn with blooming (simulate_pixels' bloom path: charge spills into the neighbours),
    the short ones in the fused kernel; all equal the per-component chain (where the
    streams match), and the combination is combine_on_sensor's."""
    from camtwin.sensor.hdr import combine_on_sensor

    s = _sensor(width_px=160, height_px=64, full_well_e=5000,
                noise={"blooming": True, "antiblooming_drain": 0.5})
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16, 16]})
    rate = np.tile(np.logspace(2, 5, s.width_px, dtype=np.float32), (s.height_px, 1))
    rate[30:34, 100:104] = 5e6                      # 50 000 e⁻ in T0: blooms
    raw = hdr_expose(rate, s, hdr, T, key=8)
    ts, starts, _ = dol_windows(s, hdr.dol, T)
    for k, c in enumerate(raw.components):
        mu = integrate_photo(rate, s, ts[k], start_s=starts[k])
        ref = simulate_pixels(mu, np.float32(0.0), component_sensors(s, hdr)[k],
                              key=component_key(8, k))
        # T2's rows outside the spot have every mean < 16 e⁻ (paired read-noise normals,
        # module docstring of camtwin.sensor._hdr_kernels): compare the spot's rows there
        rows = slice(30, 34) if k == 2 else slice(None)
        assert np.array_equal(c.dn[rows], ref[rows]), c.name
    assert (raw.components[0].dn[30:34, 96:100] > raw.components[0].dn[20, 96:100]).any()
    assert np.array_equal(raw.combined_e, combine_on_sensor(raw.components, 0.9))
