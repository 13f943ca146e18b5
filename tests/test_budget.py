"""Interface, power, thermal and size budget (camtwin.budget), against hand calculations.

Reference values are worked out by hand in each test from the MIPI CSI-2 packet structure
(long packet = 4-byte header + payload + 2-byte footer; frame start / end short packets of
4 bytes) and from the sensor modes printed in public Linux drivers (sources per test).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from camtwin.budget import (LinkSpec, ReadoutMode, check_link, link_max_fps, link_utilisation,
                            required_gbps)
from camtwin.budget.link import catalog_link, frame_bits, mode_for
from camtwin.budget.power import (CALIBRATIONS, POWER_MODELS, calibrate_power,
                                  power_breakdown_mw, sensor_power_mw)
from camtwin.budget.size import MODULE_FORMS, module_size_mm
from camtwin.budget.thermal import (HOUSINGS, ThermalSpec, dark_current_rise_x,
                                    die_temperature_c, self_heated)
from camtwin.catalog.convert import to_module
from camtwin.errors import ConfigError
from camtwin.evaluate import load_application, measure

# printed-digit tolerance of the hand calculations below (they are exact arithmetic)
HAND = 1e-9


# ---------------------------------------------------------------------------------------
# link capacity
# ---------------------------------------------------------------------------------------
def test_dphy_and_cphy_capacity():
    # D-PHY: lanes × Gb/s per lane; C-PHY: trios × Gsym/s × 16/7 bits per symbol
    assert LinkSpec(phy="dphy", lanes=4, lane_rate_gbps=2.5).capacity_gbps == 10.0
    c = LinkSpec(phy="cphy", lanes=3, lane_rate_gbps=2.5).capacity_gbps
    assert c == pytest.approx(3 * 2.5 * 16 / 7, rel=HAND) and c == pytest.approx(17.142857, rel=1e-7)


# ---------------------------------------------------------------------------------------
# goal: the data-rate check matches a hand calculation for three catalog sensors
# ---------------------------------------------------------------------------------------
def test_imx415_link_matches_hand_calculation():
    """Linux mainline imx415.c, "all-pixel 4-lane 891 Mbps 30 Hz mode": 3864 × 2192 RAW10
    (MEDIA_BUS_FMT_SGBRG10_1X10), VMAX 0x08CA = 2250 lines (vblank 58).
    Hand: line = 3864·10/8 = 4830 B + 6 B (PH + PF) = 4836 B = 38 688 bit;
    frame = 38 688 · 2250 + 64 (FS + FE) = 87 048 064 bit; × 30 fps = 2.61144192 Gb/s;
    capacity 4 × 0.891 = 3.564 Gb/s → utilisation 0.732728…, max 40.9429 fps."""
    link = catalog_link("sony-imx415")
    assert link == LinkSpec(phy="dphy", lanes=4, lane_rate_gbps=0.891)
    mode = ReadoutMode(width_px=3864, height_px=2192, bits_per_pixel=10, fps=30.0,
                       v_blank_lines=58)
    assert frame_bits(mode) == 87_048_064
    assert required_gbps(mode) == pytest.approx(2.61144192, rel=HAND)
    assert link_utilisation(mode, link) == pytest.approx(2.61144192 / 3.564, rel=HAND)
    assert link_max_fps(mode, link) == pytest.approx(3.564e9 / 87_048_064, rel=HAND)
    assert check_link(mode, link) < 1.0


def test_imx586_link_matches_hand_calculation_and_30fps_full_res_cannot_stream():
    """Rockchip imx586.c (armbian/linux-rockchip): 4 lanes, link frequency 625 MHz = 1250 Mbps
    per lane for the 8000 × 6000 RAW10 mode at 9.7 fps (max_fps 97000/10000) with VTS 0x17AC
    = 6060 lines. Hand: line = 8000·10/8 = 10 000 B + 6 = 10 006 B = 80 048 bit;
    frame = 80 048 · 6060 + 64 = 485 090 944 bit; × 9.7 = 4.70538216 Gb/s of 5.0 Gb/s
    (94.1 %). Sony's 30 fps at full resolution needs 14.55 Gb/s: not on this link."""
    link = catalog_link("sony-imx586")
    assert link.capacity_gbps == pytest.approx(5.0, rel=HAND)
    mode = ReadoutMode(name="sony-imx586", width_px=8000, height_px=6000, bits_per_pixel=10,
                       fps=9.7, v_blank_lines=60)
    assert frame_bits(mode) == 485_090_944
    assert required_gbps(mode) == pytest.approx(485_090_944 * 9.7 / 1e9, rel=HAND)
    assert check_link(mode, link) == pytest.approx(4.705382157 / 5.0, rel=1e-9)
    fast = mode.replace(fps=30.0)
    with pytest.raises(ConfigError) as e:
        check_link(fast, link)
    msg = str(e.value)
    assert "\n" not in msg
    for words in ("sony-imx586 8000x6000 RAW10 @ 30 fps", "14.553 Gb/s", "5.000 Gb/s",
                  "4-lane D-PHY", "max 10.31 fps"):
        assert words in msg, msg


def test_ox03c10_link_matches_hand_calculation_with_both_blankings():
    """OX03C10 driver (ologn-tech/linux-rv1106 ox03c10.c): 2 lanes at 384 MHz = 768 Mbps,
    1920 × 1280 RAW12 (PWL), HTS 2140, VTS 1574, 30 fps. Hand: line = 1920·12/8 = 2880 B
    + 6 = 2886 B = 23 088 bit, sent in 1920/2140 of the line period:
    23 088 · 2140/1920 = 25 733.5 bit per line period; × 1574 = 40 504 529; + 64 =
    40 504 593 bit per frame; × 30 = 1.21513779 Gb/s of 1.536 Gb/s (79.1 %)."""
    link = catalog_link("omnivision-ox03c10")
    assert (link.lanes, link.lane_rate_gbps) == (2, 0.768)
    mode = ReadoutMode(width_px=1920, height_px=1280, bits_per_pixel=12, fps=30.0,
                       h_blank_px=220, v_blank_lines=294)
    assert frame_bits(mode) == pytest.approx(40_504_593, rel=HAND)
    assert required_gbps(mode) == pytest.approx(1.21513779, rel=HAND)
    assert link_utilisation(mode, link) == pytest.approx(1.21513779 / 1.536, rel=HAND)


def test_module_check_names_mode_and_rates():
    from camtwin.budget.link import check_module_link

    phone = to_module("phone-imx586-main")      # Sony's 30 fps full-res over the driver's link
    with pytest.raises(ConfigError, match=r"mode sony-imx586 8000x6000 RAW10 @ 30 fps cannot "
                                          r"be streamed: it needs 14\.4\d\d Gb/s"):
        check_module_link(phone)
    assert check_module_link(phone, fps=9.7) < 1.0
    assert check_module_link(to_module("adas-imx490-front")) is None     # lane rate unpublished


def test_line_sync_packets_and_odd_payload_bytes():
    # 3 px × 10 bit = 30 bit → 4 bytes payload; + 6 B long-packet overhead + 8 B LS/LE
    m = ReadoutMode(width_px=3, height_px=1, bits_per_pixel=10, fps=1.0, line_sync_packets=True)
    assert frame_bits(m) == 8 * (4 + 6 + 8) + 64


def test_max_fps_is_where_utilisation_reaches_one():
    link = LinkSpec(phy="cphy", lanes=2, lane_rate_gbps=3.0)
    m = ReadoutMode(width_px=4000, height_px=3000, bits_per_pixel=10, fps=30.0,
                    h_blank_px=200, v_blank_lines=40)
    f = link_max_fps(m, link)
    assert link_utilisation(m.replace(fps=f), link) == pytest.approx(1.0, rel=1e-12)
    assert link_utilisation(m, link) == pytest.approx(30.0 / f, rel=1e-12)


def test_link_metrics_use_catalog_link_or_conditions_or_say_na():
    ox = to_module("adas-ox03c10-surround")
    r = measure(ox, "link_max_fps")
    assert r.applicable and "catalog" in r.source and r.value == pytest.approx(
        1.536e9 / frame_bits(mode_for(ox.sensor)), rel=1e-12)
    ar = to_module("adas-imx490-front")          # IMX490: lanes published, lane rate not
    na = measure(ar, "link_utilisation")
    assert not na.applicable and math.isnan(na.value) and "lanes" in na.reason
    given = measure(ar, "link_utilisation", {"lanes": 4, "lane_rate_gbps": 2.0,
                                             "frame_rate_fps": 30.0})
    m = mode_for(ar.sensor, fps=30.0)
    assert given.value == pytest.approx(required_gbps(m) / 8.0, rel=1e-12)


@pytest.mark.parametrize("kw, words", [
    ({"lanes": 5}, ["lanes = 5", "4"]),
    ({"lanes": 0}, ["lanes = 0", "1"]),
    ({"phy": "cphy", "lanes": 4}, ["lanes = 4", "cphy", "1..3"]),
    ({"lane_rate_gbps": -0.5}, ["lane_rate_gbps = -0.5", "greater than 0"]),
    ({"lane_rate_gbps": 0.0}, ["lane_rate_gbps = 0", "greater than 0"]),
])
def test_bad_link_is_a_one_line_error(kw, words):
    with pytest.raises(ConfigError) as e:
        LinkSpec(**kw)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


# ---------------------------------------------------------------------------------------
# power
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CALIBRATIONS))
def test_generic_models_reproduce_their_published_totals(name):
    c = CALIBRATIONS[name]
    mode = ReadoutMode(width_px=c["width_px"], height_px=c["height_px"],
                       bits_per_pixel=c["bits_per_pixel"], fps=c["fps"])
    link = LinkSpec(lanes=c["lanes"], lane_rate_gbps=1.0) if c["lanes"] else None
    assert sensor_power_mw(mode, link, POWER_MODELS[name]) == pytest.approx(c["power_mw"],
                                                                            rel=1e-12)


def test_power_is_affine_in_frame_rate_with_the_static_part_as_intercept():
    link = LinkSpec(lanes=2, lane_rate_gbps=1.0)
    m = ReadoutMode(width_px=1920, height_px=1080, bits_per_pixel=10, fps=30.0)
    p = [sensor_power_mw(m.replace(fps=f), link) for f in (15.0, 30.0, 60.0)]
    assert p[2] - p[1] == pytest.approx(2 * (p[1] - p[0]), rel=1e-9)
    b = power_breakdown_mw(m.replace(fps=30.0), link)
    intercept = p[0] - (p[1] - p[0])          # extrapolated to 0 fps
    spec = POWER_MODELS["stacked"]
    assert intercept == pytest.approx(spec.static_mw + 3 * spec.lane_mw, rel=1e-9)
    assert b["total"] == pytest.approx(sum(v for k, v in b.items() if k != "total"))


def test_hdr_reads_multiply_the_analog_part_only():
    m = ReadoutMode(width_px=1920, height_px=1280, bits_per_pixel=12, fps=30.0)
    one, three = power_breakdown_mw(m), power_breakdown_mw(m.replace(reads_per_pixel=3))
    assert three["analog"] == pytest.approx(3 * one["analog"], rel=1e-12)
    assert three["digital"] == one["digital"] and three["static"] == one["static"]
    ar = to_module("adas-ar0820at-front")                 # 3-exposure DOL: 3 reads
    assert mode_for(ar.sensor).reads_per_pixel == ar.sensor.hdr.n_components == 3


def test_calibrate_power_hits_a_published_total():
    m = ReadoutMode(width_px=3840, height_px=2160, bits_per_pixel=10, fps=60.0)
    link = LinkSpec(lanes=4, lane_rate_gbps=2.0)
    spec = calibrate_power(450.0, m, link)
    assert sensor_power_mw(m, link, spec) == pytest.approx(450.0, rel=1e-12)
    with pytest.raises(ConfigError, match="total_mw = 1.0"):
        calibrate_power(1.0, m, link)


# ---------------------------------------------------------------------------------------
# thermal — goal: a thermal step raises the dark current by the analytic 2^(ΔT/T_d)
# ---------------------------------------------------------------------------------------
def test_steady_state_and_first_order_step():
    th = HOUSINGS["closed"]
    assert die_temperature_c(500.0, 25.0, th) == pytest.approx(25.0 + 80.0 * 0.5)
    tau = th.time_constant_s
    assert tau == pytest.approx(80.0 * 8.0)
    t = np.array([0.0, tau, 5 * tau])
    got = die_temperature_c(500.0, 25.0, th, t_s=t)
    np.testing.assert_allclose(got, 25.0 + 40.0 * (1 - np.exp(-t / tau)), rtol=1e-12)
    assert got[0] == 25.0 and got[1] == pytest.approx(25.0 + 40.0 * (1 - math.exp(-1)))


def test_thermal_step_raises_dark_current_by_two_to_the_dt_over_td_in_a_capture():
    """A 60 fps mode in a closed housing heats the die by R_th·P; dark frames captured at
    ambient and at the self-heated temperature differ by 2^(ΔT/T_d) (statistically, from
    Poisson dark shot noise + read noise; 4σ bounds)."""
    from camtwin.optics import LensSpec, form_image
    from camtwin.scene import uniform
    from camtwin.sensor import SensorSpec, capture

    s = SensorSpec(name="dark", width_px=128, height_px=128, pixel_pitch_um=2.0, cfa="mono",
                   full_well_e=200000, conversion_gain_dn_per_e=1.0, read_noise_e=2.0,
                   dark_current_e_per_s=20.0, dark_reference_c=25.0, dark_doubling_c=6.5,
                   temperature_c=25.0, adc_bits=16, black_level_dn=1000)
    mode = ReadoutMode(width_px=3840, height_px=2160, bits_per_pixel=10, fps=60.0)
    link = LinkSpec(lanes=4, lane_rate_gbps=1.5)
    p = sensor_power_mw(mode, link)                       # the 4K60 mode's power
    hot = self_heated(s, p, 25.0, "closed")
    dt = hot.temperature_c - 25.0
    assert dt == pytest.approx(80.0 * p * 1e-3, rel=1e-6) and dt > 10.0
    expected = 2.0 ** (dt / 6.5)
    assert hot.dark_current_at() / s.dark_current_at() == pytest.approx(expected, rel=1e-6)
    assert dark_current_rise_x(dt, 6.5) == pytest.approx(expected, rel=1e-12)

    lens = LensSpec(focal_length_mm=4.0, f_number=2.0, object_distance_m=10.0, ir_cut=None)
    w = s.width_px * s.pixel_pitch_um * 1e-6 / lens.magnification
    oi = form_image(uniform(shape=(128, 128), width_m=w, distance_m=10.0, illuminant="D65",
                            illuminance_lux=1.0, reflectance=0.0), lens)
    t = 0.5
    means = []
    for sensor, seed in ((s, 3), (hot, 4)):
        e = capture(oi, sensor, t, rng=seed).electrons().astype(np.float64)
        mu = sensor.dark_current_at() * t
        assert abs(e.mean() - mu) < 4 * math.sqrt((mu + 4.0 + 1 / 12) / e.size), (e.mean(), mu)
        means.append(e.mean())
    assert means[1] / means[0] == pytest.approx(expected, rel=0.05)


def test_dark_current_rise_metric_follows_the_power_of_the_frame_rate():
    m = to_module("adas-ox03c10-surround")
    cond = {"frame_rate_fps": 60.0, "housing": "closed", "ambient_c": 25.0}
    p = measure(m, "sensor_power_mw", {"frame_rate_fps": 60.0}).value
    t = measure(m, "die_temperature_c", cond)
    assert t.value == pytest.approx(25.0 + 80.0 * p * 1e-3, rel=1e-12)
    x = measure(m, "dark_current_rise_x", cond).value
    assert x == pytest.approx(2 ** ((t.value - 25.0) / m.sensor.dark_doubling_c), rel=1e-12)
    slow = measure(m, "dark_current_rise_x", {**cond, "frame_rate_fps": 15.0}).value
    assert 1.0 < slow < x


def test_heated_module_carries_the_die_temperature_into_its_sensor():
    from camtwin.budget.thermal import heated_module

    m = to_module("security-imx415-zoom").replace(sensor={"dark_current_e_per_s": 5.0})
    hot = heated_module(m, frame_rate_fps=30.0, ambient_c=40.0, thermal="closed")
    t = measure(m, "die_temperature_c", {"frame_rate_fps": 30.0, "ambient_c": 40.0}).value
    assert hot.sensor.temperature_c == pytest.approx(t, abs=1e-5)
    assert hot.lens == m.lens and hot.sensor.width_px == m.sensor.width_px
    ratio = hot.sensor.dark_current_at() / m.sensor.dark_current_at(40.0)
    assert ratio == pytest.approx(2 ** ((t - 40.0) / m.sensor.dark_doubling_c), rel=1e-5)


@pytest.mark.parametrize("kw, words", [
    ({"r_th_k_per_w": -1.0}, ["r_th_k_per_w = -1", "greater than or equal to 0"]),
    ({"r_th_k_per_w": 10.0, "c_th_j_per_k": 0.0}, ["c_th_j_per_k = 0", "greater than 0"]),
])
def test_bad_thermal_spec_is_a_one_line_error(kw, words):
    with pytest.raises(ConfigError) as e:
        ThermalSpec(**kw)
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_unknown_housing_lists_the_presets():
    with pytest.raises(ConfigError, match="valid choices: closed, metal, open, phone"):
        measure(to_module("adas-ox03c10-surround"), "die_temperature_c", {"housing": "oven"})


# ---------------------------------------------------------------------------------------
# size
# ---------------------------------------------------------------------------------------
def test_module_size_hand_calculation():
    m = to_module("phone-imx586-main")
    f = MODULE_FORMS["phone"]
    d = module_size_mm(m, form="phone", ttl_mm=5.5)
    assert d["z_mm"] == pytest.approx(0.3 + 5.5 + 0.7)
    circle = m.lens.image_circle_mm or math.hypot(m.sensor.width_mm, m.sensor.height_mm)
    barrel = circle + 2 * 0.5 + 2 * 1.5
    x = max(barrel, m.sensor.width_mm + 1.6) + 0.6
    y = max(barrel, m.sensor.height_mm + 1.6) + 0.6
    assert (d["x_mm"], d["y_mm"]) == pytest.approx((x, y))
    assert measure(m, "module_footprint_mm2", {"ttl_mm": 5.5}).value == pytest.approx(x * y)
    est = measure(m, "module_z_height_mm").value
    assert est == pytest.approx(f.top_mm + 1.2 * m.lens.focal_length_mm + f.below_image_mm)
    assert measure(m, "module_z_height_mm", {"form": "wearable"}).value < est
    with pytest.raises(ConfigError, match="ttl_mm = -1"):
        module_size_mm(m, ttl_mm=-1.0)
    fish = m.replace(lens={"projection": "equidistant"})   # fisheye: no TTL estimate from f
    assert not measure(fish, "module_z_height_mm").applicable
    assert measure(fish, "module_z_height_mm", {"ttl_mm": 15.0}).value == pytest.approx(16.0)


# ---------------------------------------------------------------------------------------
# profiles
# ---------------------------------------------------------------------------------------
def test_wearable_and_adas_profiles_use_the_budget_metrics():
    from camtwin.evaluate.verdict import evaluate

    wear = load_application("wearable")
    assert {"module_z_height_mm", "sensor_power_mw"} <= {r.metric for r in wear.requirements}
    adas = load_application("automotive_adas")
    used = {r.metric: r for r in adas.requirements}
    assert used["die_temperature_c"].conditions["ambient_c"] == 105.0
    assert "link_max_fps" in used
    # a wearable-class module (VD56G3 + small lens) fits the power budget; a 48 MP phone
    # sensor streaming full resolution at 30 fps does not
    vd = evaluate(to_module("cabin-vd56g3-dms"), wear, seed=1).verdict("sensor_power_mw")
    ph = evaluate(to_module("phone-imx586-main"), wear, seed=1).verdict("sensor_power_mw")
    assert vd.passed and not ph.passed
