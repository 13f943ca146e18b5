"""capture() end to end: the shutter, storage-node, smear, dark-current and crosstalk effects
seen in *noisy* frames agree with their analytic expectations.

References (all analytic, derived in the module docstrings of camtwin.sensor.timing /
camtwin.sensor.optical):
* global-shutter parasitic light: row r gains PLS·ė·r·t_line on top of ė·T, so the relative
  top-to-bottom gradient is PLS·t_line/T per row;
* CCD frame-transfer smear: a spot of h rows adds R·h·t_tr/H to its whole column;
* rolling shutter: a vertical edge moving at v_x shears by v_x·t_line per row;
* dark current doubles every ``dark_doubling_c`` kelvin (I = I_ref·2^((T−T_ref)/T_d));
* crosstalk in a flat field mixes the channel means by flat_field_mixing(); for RGGB the
  matrix is known by counting neighbours (R has 4 G neighbours, G has 2 R and 2 B, ...).
"""

from __future__ import annotations

import numpy as np
import pytest

from camtwin.module import load_module
from camtwin.optics.image import OpticalImage
from camtwin.sensor import Flicker, SensorSpec, capture
from camtwin.sensor.optical import channel_crosstalk_fractions, flat_field_mixing

WL = np.arange(540.0, 561.0, 5.0)
LENS = load_module("default").lens


def make_sensor(h=200, w=160, shutter=None, cfa="mono", noise=None, pixel=None, **kw):
    return SensorSpec(width_px=w, height_px=h, pixel_pitch_um=3.0, cfa=cfa,
                      full_well_e=60000, conversion_gain_dn_per_e=1.0, read_noise_e=2.0,
                      adc_bits=16, shutter=shutter or {}, noise=noise or {},
                      pixel={"crosstalk_fraction": 0.0, **(pixel or {})}, **kw)


def optical_image(sensor, level_w_m2_nm):
    """An optical image sampled exactly on the pixel grid: ``level`` (H, W) or scalar."""
    h, w = sensor.height_px, sensor.width_px
    plane = np.broadcast_to(np.asarray(level_w_m2_nm, dtype=np.float32), (h, w))
    irr = np.repeat(plane[None], WL.size, axis=0).astype(np.float32)
    return OpticalImage(irradiance=irr, wavelengths_nm=WL, sample_pitch_um=sensor.pixel_pitch_um,
                        lens=LENS, scene_name="test")


def electrons(raw):
    return (raw.dn.astype(np.float64) - raw.black_level_dn) / raw.conversion_gain_dn_per_e


def test_ground_truth_mean_matches_noisy_frame_and_seed_determines_frame():
    s = make_sensor()
    oi = optical_image(s, 1e-2)
    a = capture(oi, s, 1e-3, 7)
    b = capture(oi, s, 1e-3, np.random.default_rng(7))
    c = capture(oi, s, 1e-3, 8)
    assert np.array_equal(a.dn, b.dn)            # int seed ≡ Generator with that seed
    assert not np.array_equal(a.dn, c.dn)
    mu = float(a.mean_electrons.mean())
    assert 2000 < mu < 50000
    assert electrons(a).mean() == pytest.approx(mu, rel=2e-3)
    # temporal noise of the difference of two frames: 2·(μ + σ_read²) (Poisson: var = mean)
    diff = electrons(a) - electrons(c)
    assert diff.var() / 2 == pytest.approx(mu + 4.0, rel=0.03)


def test_global_shutter_storage_node_gradient_matches_pls():
    pls, t_line, t_exp = 0.01, 1e-4, 1e-3
    s = make_sensor(shutter={"type": "global", "line_time_s": t_line, "pls": pls})
    raw = capture(optical_image(s, 2e-3), s, t_exp, 3)
    rows = electrons(raw).mean(axis=1)
    slope, intercept = np.polyfit(np.arange(s.height_px), rows, 1)
    expected = pls * t_line / t_exp                       # relative gain per row
    assert slope / intercept == pytest.approx(expected, rel=0.05)
    # a rolling shutter of the same sensor has no such gradient
    r = make_sensor(shutter={"type": "rolling", "line_time_s": t_line, "pls": pls})
    rows_r = electrons(capture(optical_image(r, 2e-3), r, t_exp, 3)).mean(axis=1)
    slope_r, icpt_r = np.polyfit(np.arange(r.height_px), rows_r, 1)
    assert abs(slope_r / icpt_r) < 0.1 * expected


def test_ccd_smear_streak_has_the_analytic_amplitude():
    h, t_tr, t_exp = 200, 1e-3, 1e-3
    s = make_sensor(h=h, shutter={"type": "ccd", "transfer_time_s": t_tr})
    level = np.zeros((h, 160), np.float32)
    level[95:105, 60:80] = 2e-3                           # spot: 10 rows × 20 columns
    raw = capture(optical_image(s, level), s, t_exp, 5)
    e = electrons(raw)
    spot = e[97:103, 62:78].mean()
    streak = np.r_[e[10:80, 62:78].ravel(), e[120:190, 62:78].ravel()].mean()
    outside = e[10:190, 100:150].mean()
    # the spot's own integration is spot − streak (it also carries its smear)
    expected = (spot - streak) * (10 * t_tr / h) / t_exp  # (h_spot·t_tr/H)/T of the spot
    assert streak == pytest.approx(expected, rel=0.03)
    assert abs(outside) < 0.5                             # dark elsewhere (no dark current)


def test_ccd_cti_trails_charge_away_from_the_output():
    s = make_sensor(h=100, w=100, shutter={"type": "ccd", "transfer_time_s": 0.0, "cti": 1e-3},
                    noise={"shot": False, "read": False})
    level = np.zeros((100, 100), np.float32)
    level[50, :] = 2e-3                                   # one bright row
    e = electrons(capture(optical_image(s, level), s, 1e-3, 1))
    # 51 vertical transfers, ε = 1e-3: the next row (one later) holds ≈ 51·ε of the charge
    ratio = e[51, 10:90].mean() / e[50, 10:90].mean()
    assert ratio == pytest.approx(51 * 1e-3, rel=0.08)
    assert e[49, 10:90].mean() < 1.0                      # nothing moves towards the output


@pytest.mark.parametrize("vx", [3000.0, -1500.0])
def test_rolling_shutter_skew_through_capture(vx):
    t_line = 20e-6
    level = np.zeros((200, 160), np.float32)
    level[:, 80:] = 2e-3
    rs = make_sensor(shutter={"type": "rolling", "line_time_s": t_line},
                     noise={"shot": False, "read": False})
    gs = make_sensor(shutter={"type": "global", "line_time_s": t_line, "pls": 0.0},
                     noise={"shot": False, "read": False})

    def shear(s):
        e = electrons(capture(optical_image(s, level), s, 1e-4, 1, motion_px_per_s=(0.0, vx)))
        half = e[:, 150].mean() / 2 if vx > 0 else e[:, 150].mean() / 2
        pos = [np.interp(half, row[60:100], np.arange(60, 100)) for row in e]
        return np.polyfit(np.arange(200), pos, 1)[0]

    assert shear(rs) == pytest.approx(vx * t_line, rel=0.02)
    assert abs(shear(gs)) < 1e-3


def test_rolling_shutter_flicker_bands_follow_the_window_mean():
    t_line, t_exp = 20e-6, 1e-3
    fl = Flicker(frequency_hz=100.0, depth=0.8)
    s = make_sensor(h=500, shutter={"type": "rolling", "line_time_s": t_line})
    rows = electrons(capture(optical_image(s, 2e-3), s, t_exp, 2, flicker=fl)).mean(axis=1)
    t0 = np.arange(500) * t_line
    expected = fl.mean_over(t0, t0 + t_exp)
    model = rows.mean() * expected / expected.mean()
    assert np.max(np.abs(rows - model)) / rows.mean() < 0.01
    assert (rows.max() - rows.min()) / rows.mean() > 1.0     # strong banding
    g = make_sensor(h=500, shutter={"type": "global", "line_time_s": t_line, "pls": 0.0})
    rows_g = electrons(capture(optical_image(g, 2e-3), g, t_exp, 2, flicker=fl)).mean(axis=1)
    assert (rows_g.max() - rows_g.min()) / rows_g.mean() < 0.02


def test_dark_current_doubles_every_doubling_temperature():
    kw = dict(dark_current_e_per_s=100.0, dark_reference_c=25.0, dark_doubling_c=6.5)
    cold = make_sensor(temperature_c=25.0, **kw)
    hot = make_sensor(temperature_c=25.0 + 2 * 6.5, **kw)
    oi = optical_image(cold, 0.0)
    d_cold = electrons(capture(oi, cold, 1.0, 1)).mean()
    d_hot = electrons(capture(oi, hot, 1.0, 1)).mean()
    assert d_cold == pytest.approx(100.0, rel=0.01)
    assert d_hot / d_cold == pytest.approx(4.0, rel=0.01)


def test_flat_field_mixing_matrix_for_rggb_counts_neighbours():
    s = make_sensor(cfa="RGGB", pixel={"crosstalk_fraction": 0.08})
    f_r, f_g, f_b = channel_crosstalk_fractions(s)
    expected = np.array([[1 - f_r, f_g, 0.0],
                         [f_r / 2, 1 - f_g, f_b / 2],
                         [0.0, f_g, 1 - f_b]])
    np.testing.assert_allclose(flat_field_mixing(s), expected, atol=1e-12)
    # charge conservation: Σ_c share_c·M[c, c'] = share_c' (pixel shares 1/4, 1/2, 1/4)
    share = np.array([0.25, 0.5, 0.25])
    np.testing.assert_allclose(share @ flat_field_mixing(s), share)


def test_crosstalk_in_a_captured_flat_field_mixes_channels_as_predicted():
    quiet = {"shot": False, "read": False}
    with_xt = make_sensor(cfa="RGGB", noise=quiet, pixel={"crosstalk_fraction": 0.08})
    without = make_sensor(cfa="RGGB", noise=quiet)
    # a spectrally broad flat field so R, G and B all respond
    wl = np.arange(400.0, 701.0, 5.0)
    irr = np.full((wl.size, 200, 160), 2e-3, np.float32)
    oi = OpticalImage(irradiance=irr, wavelengths_nm=wl, sample_pitch_um=3.0, lens=LENS)

    def channel_means(s):
        e = electrons(capture(oi, s, 1e-3, 1))[2:-2, 2:-2]   # inner pixels (edge keeps charge)
        return np.array([e[0::2, 0::2].mean(), (e[0::2, 1::2].mean() + e[1::2, 0::2].mean()) / 2,
                         e[1::2, 1::2].mean()])

    np.testing.assert_allclose(channel_means(with_xt),
                               flat_field_mixing(with_xt) @ channel_means(without), rtol=2e-3)


def test_time_varying_scene_callback_on_rolling_shutter():
    # A light switched on at t_on: with a rolling shutter, row r collects
    # rate·clip(t0_r + T − max(t_on, t0_r), 0, T), a ramp over the rows whose window
    # straddles t_on; a global shutter integrates the same fraction in every row.
    t_line, t_exp, t_on = 20e-6, 1e-3, 2e-3
    quiet = {"shot": False, "read": False}
    rs = make_sensor(shutter={"type": "rolling", "line_time_s": t_line}, noise=quiet)
    lit, dark = optical_image(rs, 1e-2), optical_image(rs, 0.0)

    def scene(t):
        return lit if t >= t_on else dark

    e = electrons(capture(dark, rs, t_exp, 1, scene_at=scene, n_time_samples=400)).mean(axis=1)
    t0 = np.arange(rs.height_px) * t_line
    frac = np.clip(t0 + t_exp - np.maximum(t_on, t0), 0.0, t_exp) / t_exp
    full = electrons(capture(lit, rs, t_exp, 1)).mean()
    # 400 samples over 5 ms: the switch is resolved to 12.5 µs, i.e. 1.25 % of T
    np.testing.assert_allclose(e, full * frac, atol=0.0125 * full + 1.0)
    assert e[0] < 1.0 and e[-1] == pytest.approx(full, rel=1e-3)
    with pytest.raises(ValueError, match="scene_at cannot be combined"):
        capture(dark, rs, t_exp, 1, scene_at=scene, flicker=Flicker(frequency_hz=100.0))
