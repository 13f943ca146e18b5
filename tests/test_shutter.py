"""Shutter timing: rolling-shutter skew and banding, global-shutter storage node, CCD smear
and charge-transfer inefficiency — each against its analytic expectation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from camtwin.sensor import SensorSpec
from camtwin.sensor.timing import (Flicker, apply_cti, ccd_smear, integrate_photo,
                                   storage_node_charge)


def sensor(shutter_type="rolling", h=200, w=240, **shutter):
    return SensorSpec(width_px=w, height_px=h, pixel_pitch_um=3.0, cfa="mono",
                      full_well_e=20000, conversion_gain_dn_per_e=0.2, read_noise_e=2.0,
                      shutter={"type": shutter_type, **shutter})


def edge_positions(img, level):
    """Sub-pixel column where each row first crosses ``level`` (rising edge)."""
    pos = []
    for row in img:
        i = int(np.argmax(row >= level))
        pos.append(i - 1 + (level - row[i - 1]) / (row[i] - row[i - 1]))
    return np.array(pos)


@pytest.mark.parametrize("v_px_s", [800.0, -2500.0])
def test_rolling_shutter_shears_a_moving_bar_by_v_times_line_time(v_px_s):
    s = sensor("rolling", line_time_s=20e-6)
    rate = np.zeros((200, 240), np.float32)
    rate[:, 100:140] = 1e5  # vertical bar
    photo = integrate_photo(rate, s, 1e-3, motion_px_per_s=(0.0, v_px_s))
    pos = edge_positions(photo, photo.max() / 2)
    shear = np.polyfit(np.arange(200), pos, 1)[0]
    assert shear == pytest.approx(v_px_s * 20e-6, abs=1e-3)


def test_global_shutter_shows_no_shear():
    s = sensor("global", line_time_s=20e-6)
    rate = np.zeros((200, 240), np.float32)
    rate[:, 100:140] = 1e5
    photo = integrate_photo(rate, s, 1e-3, motion_px_per_s=(0.0, 2500.0))
    pos = edge_positions(photo, photo.max() / 2)
    assert abs(np.polyfit(np.arange(200), pos, 1)[0]) < 1e-6
    # motion blur: the leading edge ramps over v·T = 2.5 px (bilinear pixels widen it by 1)
    row = photo[100, :120]
    ramp = np.sum((row > 0.02 * photo.max()) & (row < 0.98 * photo.max()))
    assert 2 <= ramp <= 4


def test_static_scene_integrates_rate_times_exposure():
    s = sensor("rolling")
    rate = np.random.default_rng(0).uniform(0, 1e4, (200, 240)).astype(np.float32)
    np.testing.assert_allclose(integrate_photo(rate, s, 0.01), rate * 0.01, rtol=1e-6)


def test_flicker_bands_rolling_but_not_global():
    f = Flicker(100.0, depth=0.5)
    rate = np.full((200, 240), 1e4, np.float32)
    rs = integrate_photo(rate, sensor("rolling", line_time_s=50e-6), 2e-3, flicker=f)
    t0 = np.arange(200) * 50e-6
    # analytic row mean of 1 + d·sin(2πft): 1 + d·(cos 2πft0 − cos 2πf(t0+T)) / (2πfT)
    w = 2 * np.pi * 100.0
    expected = 1 + 0.5 * (np.cos(w * t0) - np.cos(w * (t0 + 2e-3))) / (w * 2e-3)
    np.testing.assert_allclose(rs[:, 7] / (1e4 * 2e-3), expected, rtol=1e-6)
    assert np.ptp(rs[:, 0]) / rs[:, 0].mean() > 0.3          # visible banding
    gs = integrate_photo(rate, sensor("global"), 2e-3, flicker=f)
    assert np.ptp(gs) == 0.0                                   # one brightness for all rows


def test_pwm_flicker_mean_is_one_over_whole_periods():
    f = Flicker(200.0, waveform="pwm", duty=0.2)
    assert f.mean_over(0.0, 0.05) == pytest.approx(1.0)
    assert f.mean_over(0.0, 0.2 / 200.0) == pytest.approx(5.0)   # inside one pulse
    t = np.linspace(0.0013, 0.0213, 400001)
    assert f.mean_over(0.0013, 0.0213) == pytest.approx(np.trapezoid(f.at(t), t) / 0.02, rel=1e-3)


def test_global_shutter_storage_node_gradient():
    s = sensor("global", line_time_s=30e-6, pls=1 / 5000, storage_dark_current_e_per_s=50.0)
    rate = np.full((200, 240), 2e5, np.float32)
    pls, dark = storage_node_charge(rate, s, 5e-3)
    rel = pls[:, 0] / (2e5 * 5e-3)
    np.testing.assert_allclose(rel, (1 / 5000) * np.arange(200) * 30e-6 / 5e-3, rtol=1e-5)
    assert dark[199, 0] == pytest.approx(50.0 * 199 * 30e-6, rel=1e-5)


def test_ccd_smear_streak_amplitude():
    s = sensor("ccd", h=300, transfer_time_s=2e-3)
    rate = np.zeros((300, 240), np.float32)
    rate[140:150, 50:52] = 1e6                                 # 10-row spot
    smear = ccd_smear(rate, s)
    assert smear[0, 50] == pytest.approx(1e6 * 10 * 2e-3 / 300, rel=1e-6)
    assert smear[0, 100] == 0.0


def test_cti_conserves_charge_and_trails_binomially():
    q = np.zeros((50, 40), np.float32)
    q[30, 20] = 1e5
    eps = 1e-3
    out = apply_cti(q, eps)
    assert out.sum() == pytest.approx(1e5, rel=1e-6)
    # 31 vertical and 21 horizontal transfers: P(stay) = (1−ε)^31 · (1−ε)^21
    assert out[30, 20] == pytest.approx(1e5 * (1 - eps) ** 52, rel=1e-5)
    assert out[31, 20] == pytest.approx(1e5 * binom.pmf(1, 31, eps) * (1 - eps) ** 21, rel=1e-4)
    assert out[29, 20] == 0.0  # charge trails away from the output, never ahead
