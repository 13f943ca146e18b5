"""Eye safety of depth-camera illuminators against IEC 60825-1:2014 (Ed. 3) figures.

Reference values are the standard's formulas evaluated by hand (the numbers are written out
in each test). Sources: IEC 60825-1:2014 Table 3 (Class 1 AEL, C6 = 1), Table 4 (extended
sources), Table 9 (C4, C6, C7, T2, α_min, α_max), Table 2 (Ti), 4.3 f) (repetitive pulses,
C5), Table 10 (condition 3: 7 mm aperture at 100 mm); IEC 62471:2006 §4.3.7 (E_IR).
"""

from __future__ import annotations

import math

import pytest

from camtwin.depth.eyesafety import (
    ael_class1_cw_w, ael_class1_single_j, alpha_max_mrad, c4, c5, c6, c7, eye_safety, t2_s,
    ti_s,
)
from camtwin.depth.illuminator import Illuminator
from camtwin.errors import ConfigError


def _ill(**kw):
    base = dict(kind="vcsel", optical_power_w=1.0, wavelength_nm=940.0, bandwidth_nm=2.0,
                fov_h_deg=70.0, fov_v_deg=55.0, profile="flat", modulation="cw_square")
    base.update(kw)
    return Illuminator(**base)


def test_correction_factors_table9():
    # C4 = 10^(0.002(λ − 700)): 850 nm → 10^0.3 = 1.99526; 940 nm → 10^0.48 = 3.01995
    assert c4(850) == pytest.approx(1.995262, rel=1e-6)
    assert c4(940) == pytest.approx(3.019952, rel=1e-6)
    assert c4(700) == 1.0 and c4(1064) == 5.0
    # C7: 1 below 1150 nm; 10^(0.018·50) = 7.943 at 1200 nm... (at the 1200 nm boundary the
    # 1200–1400 nm row applies: 8 + 10^(0.04·(1200 − 1250)) = 8.01); 8 + 10² = 108 at 1300 nm
    assert c7(940) == 1.0
    assert c7(1175) == pytest.approx(10 ** (0.018 * 25), rel=1e-12)
    assert c7(1200) == pytest.approx(8.01, rel=1e-12)
    assert c7(1300) == pytest.approx(108.0, rel=1e-12)
    # T2 = 10·10^((α − 1.5)/98.5) s: 10 s (point), 31.07 s (50 mrad), 100 s (≥ 100 mrad)
    assert t2_s(0.0) == 10.0
    assert t2_s(50.0) == pytest.approx(31.0732, rel=1e-5)
    assert t2_s(100.0) == pytest.approx(100.0) and t2_s(500.0) == pytest.approx(100.0)
    # α_max: 5 mrad below 625 µs, 200·√t mrad up to 0.25 s, 100 mrad beyond
    assert alpha_max_mrad(1e-6) == 5.0
    assert alpha_max_mrad(0.01) == pytest.approx(20.0)
    assert alpha_max_mrad(1.0) == 100.0
    # C6 = α/α_min within [α_min, α_max]: 10/1.5 = 6.667 (long exposure), capped at
    # 5/1.5 = 3.333 for a 1 µs pulse, and 100/1.5 = 66.7 for a large source
    assert c6(10.0, 100.0) == pytest.approx(6.6667, rel=1e-4)
    assert c6(10.0, 1e-6) == pytest.approx(3.3333, rel=1e-4)
    assert c6(300.0, 100.0) == pytest.approx(66.667, rel=1e-4)
    assert c6(0.5, 100.0) == 1.0
    # Ti (Table 2): 5 µs for 400–1050 nm, 13 µs for 1050–1400 nm
    assert ti_s(940) == 5e-6 and ti_s(1064) == 13e-6


def test_class1_cw_ael_point_source():
    # Table 3, 700–1050 nm, t > T2: AEL = 3.9e-4·C4·C7 W
    # 850 nm: 3.9e-4 × 1.99526 = 7.7815e-4 W; 940 nm: 3.9e-4 × 3.01995 = 1.17778e-3 W
    assert ael_class1_cw_w(850) == pytest.approx(7.7815e-4, rel=1e-4)
    assert ael_class1_cw_w(940) == pytest.approx(1.17778e-3, rel=1e-5)
    # 1050–1400 nm: C4 = 5 → 1.95e-3 W at 1064 nm
    assert ael_class1_cw_w(1064) == pytest.approx(1.95e-3)


def test_class1_cw_ael_extended_source():
    # Table 4, t > T2: 7e-4·C4·C6·C7·T2^−0.25 W. 940 nm, α = 20 mrad:
    # C6 = 20/1.5 = 13.333, T2 = 10·10^(18.5/98.5) = 15.4105 s →
    # 7e-4 × 3.01995 × 13.333 × 15.4105^−0.25 = 1.42260e-2 W
    assert ael_class1_cw_w(940, 20.0) == pytest.approx(1.42260e-2, rel=1e-5)
    # continuity at α_min: 7e-4·10^−0.25 = 3.936e-4 vs the rounded 3.9e-4 of Table 3 (0.9 %)
    assert ael_class1_cw_w(940, 1.5001) == pytest.approx(ael_class1_cw_w(940), rel=0.01)
    # saturates beyond α_max = 100 mrad: C6 = 66.67, T2 = 100 s
    assert ael_class1_cw_w(940, 300.0) == pytest.approx(
        7e-4 * c4(940) * (100 / 1.5) * 100**-0.25, rel=1e-12)


def test_single_pulse_ael():
    # Table 3, 700–1050 nm: 1e-11 ≤ t < 5e-6 s: 7.7e-8·C4 J → 850 nm, 1 ns: 1.5364e-7 J
    assert ael_class1_single_j(850, 1e-9) == pytest.approx(7.7e-8 * 1.995262, rel=1e-6)
    # 5e-6 ≤ t ≤ 10 s: 7e-4·t^0.75·C4 J → 850 nm, 100 µs: 7e-4 × 1e-3 × 1.99526 = 1.3967e-6 J
    assert ael_class1_single_j(850, 1e-4) == pytest.approx(1.39668e-6, rel=1e-5)
    # the two rows meet near 5 µs: 7e-4·(5e-6)^0.75 = 7.4e-8 ≈ 7.7e-8 (4 %)
    assert ael_class1_single_j(850, 5e-6) == pytest.approx(ael_class1_single_j(850, 4.99e-6),
                                                           rel=0.05)
    # beyond T2 = 10 s the AEL is a power: 100 s × 7.7815e-4 W
    assert ael_class1_single_j(850, 100.0) == pytest.approx(100 * 7.7815e-4, rel=1e-4)


@pytest.mark.parametrize("n, tp, alpha, t_max, expected", [
    # 4.3 f) requirement 3 — pulses not longer than Ti:
    (500, 1e-9, 0.0, 10.0, 1.0),                    # N ≤ 600
    (1000, 1e-9, 0.0, 10.0, 5 * 1000**-0.25),       # 5·N^−0.25 = 0.8891
    (1e6, 1e-9, 0.0, 10.0, 0.4),                    # floor 0.4
    (1e6, 1e-9, 0.0, 0.2, 1.0),                     # T_max ≤ 0.25 s
    # pulses longer than Ti:
    (1000, 1e-4, 3.0, 10.0, 1.0),                   # α ≤ 5 mrad
    (100, 1e-4, 10.0, 10.0, 100**-0.25),            # α > α_max(100 µs) = 5 mrad, N ≤ 625
    (1000, 1e-4, 10.0, 10.0, 0.2),                  # α > α_max, N > 625
    (16, 1e-2, 10.0, 10.0, 0.5),                    # 5 < α ≤ α_max(10 ms) = 20 mrad, N ≤ 40
    (100, 1e-2, 10.0, 10.0, 0.4),                   # N > 40
    (1000, 1e-2, 150.0, 10.0, 1.0),                 # α > 100 mrad
])
def test_c5_repetitive_pulses(n, tp, alpha, t_max, expected):
    assert c5(n, tp, 940, alpha, t_max) == pytest.approx(expected, rel=1e-12)


def test_flood_point_source_vs_diffused():
    # 1 W flat 70°×55° flood at 940 nm. Ω = 4·asin(sin 35°·sin 27.5°) = 1.072186 sr;
    # condition 3 aperture (7 mm at 100 mm): Ω_ap = 2π(1 − cos atan 0.035) = 3.84492e-3 sr;
    # AE = 1 W × 3.84492e-3/1.072186 = 3.58606e-3 W
    ill = _ill()
    r = eye_safety(ill)
    assert r.accessible_emission_w == pytest.approx(3.58606e-3, rel=1e-5)
    # as a point source: AE/AEL = 3.58606e-3 / 1.17778e-3 = 3.045 → above Class 1, ≤ 5× → 3R
    assert r.ratio == pytest.approx(3.0448, rel=1e-4)
    assert r.laser_class == "3R" and not r.is_class1
    # a 2 mm diffuser (α = 20 mrad at 100 mm): AEL = 1.4226e-2 W → ratio 0.252 → Class 1
    d = eye_safety(ill, apparent_source_mm=2.0)
    assert d.alpha_mrad == pytest.approx(20.0)
    assert d.ael_w == pytest.approx(1.42260e-2, rel=1e-5)
    assert d.ratio == pytest.approx(3.58606e-3 / 1.42260e-2, rel=1e-4)
    assert d.laser_class == "1" and d.is_class1


def test_pulsed_dtof_requirements():
    # dToF VCSEL, 940 nm point source, 2 ns pulses at 100 kHz (fewer than one per Ti = 5 µs),
    # 20 mW average → Q = 0.2 µJ; flat 25°×25°: Ω = 4·asin(sin² 12.5°) = 0.187453 sr,
    # aperture fraction 3.84492e-3/0.187453 = 0.0205114
    ill = _ill(optical_power_w=0.02, fov_h_deg=25, fov_v_deg=25, modulation="pulsed",
               pulse_width_ns=2.0, repetition_rate_hz=1e5)
    r = eye_safety(ill)
    # requirement 1: AEL_single = 7.7e-8 × 3.01995 = 2.32536e-7 J
    assert r.ael_single_pulse_j == pytest.approx(2.32536e-7, rel=1e-5)
    # requirement 3: N = 1e5 Hz × T2 (10 s) = 1e6 > 600 → C5 = max(5·N^−0.25 = 0.158, 0.4) = 0.4
    assert r.n_pulses == pytest.approx(1e6) and r.c5 == pytest.approx(0.4)
    assert r.ael_pulse_train_j == pytest.approx(9.30145e-8, rel=1e-5)
    # requirement 2: 20 mW × 0.0205114 / 1.17778e-3 W = 0.34831 (the limiting one);
    # pulse train: 0.2 µJ × 0.0205114 / 9.30145e-8 J = 0.044104
    assert r.ratio == pytest.approx(0.34831, rel=1e-4)
    assert r.limiting == "average power"
    assert r.laser_class == "1"


def test_pulse_grouping_within_ti():
    # 10 MHz pulses: 50 pulses in Ti = 5 µs become one effective 5 µs pulse of 50·Q
    ill = _ill(optical_power_w=0.02, fov_h_deg=25, fov_v_deg=25, modulation="pulsed",
               pulse_width_ns=2.0, repetition_rate_hz=1e7)
    r = eye_safety(ill)
    assert r.n_pulses == pytest.approx(1e7 * 10 / 50)  # effective pulses in T2 = 10 s
    assert r.ael_single_pulse_j == pytest.approx(ael_class1_single_j(940, 5e-6))
    assert any("50 pulses within Ti" in n for n in r.notes)


def test_bursts_and_duty_cycle():
    # without burst_s a duty cycle is ignored (conservative); with it, 1 ms bursts at 10 %
    ill = _ill(optical_power_w=2.0, duty_cycle=0.1)
    always = eye_safety(ill, apparent_source_mm=2.0)
    bursts = eye_safety(ill, apparent_source_mm=2.0, burst_s=1e-3)
    assert always.accessible_emission_w == pytest.approx(2.0 * 3.58606e-3, rel=1e-5)
    assert bursts.accessible_emission_w == pytest.approx(0.1 * 2.0 * 3.58606e-3, rel=1e-5)
    assert bursts.n_pulses == pytest.approx(100.0 * t2_s(20.0))
    # the average-power requirement drops with the duty cycle ...
    assert bursts.ratios["average power"] == pytest.approx(0.1 * always.ratio, rel=1e-12)
    # ... but 1 ms bursts from a 20 mrad source meet C6 capped at α_max(1 ms) = 200·√1e-3 =
    # 6.32 mrad and C5 = 0.2 (N = 100 Hz × 15.41 s = 1541 > 625): the pulse train limits.
    # AEL_single = 7e-4 × (1e-3)^0.75 × 3.01995 × 6.3246/1.5 = 5.01230e-5 J; × 0.2;
    # Q·f3 = 2 W × 1 ms × 3.58606e-3 = 7.17212e-6 J → 0.71545
    assert bursts.c5 == pytest.approx(0.2)
    assert bursts.limiting == "pulse train"
    assert bursts.ratio == pytest.approx(7.17212e-6 / (0.2 * 5.01230e-5), rel=1e-5)


def test_higher_classes():
    # 0.3 W into a 2° beam (1.2e-3 sr, all of it through the 7 mm aperture at 100 mm): far
    # above 5× Class 1, ≤ 0.5 W → 3B; 1 W → 4. A 2 W wide flood is 3B, not 4: only
    # 2 W × 3.84e-3/1.43 sr ≈ 5 mW enters the eye.
    assert eye_safety(_ill(optical_power_w=0.3, fov_h_deg=2, fov_v_deg=2)).laser_class == "3B"
    assert eye_safety(_ill(optical_power_w=1.0, fov_h_deg=2, fov_v_deg=2)).laser_class == "4"
    assert eye_safety(_ill(optical_power_w=1e-4)).laser_class == "1"
    assert eye_safety(_ill(optical_power_w=2.0, wavelength_nm=850, fov_h_deg=75,
                           fov_v_deg=58)).laser_class == "3B"


def test_led_iec62471():
    # E_IR at 200 mm = I₀/0.2² (IEC 62471 §4.3.7: exempt ≤ 100 W/m², RG1 ≤ 570, RG2 ≤ 3200)
    led = _ill(kind="led", optical_power_w=1.0, wavelength_nm=850, bandwidth_nm=40,
               fov_h_deg=90, fov_v_deg=90)
    r = eye_safety(led)
    omega = 4 * math.asin(math.sin(math.radians(45)) ** 2)  # = 4·asin(0.5) = 2.0944 sr
    assert r.irradiance_200mm_w_m2 == pytest.approx(1.0 / omega / 0.04, rel=1e-9)  # 11.94 W/m²
    assert r.iec62471_group == "exempt"
    assert "62471" in r.standard
    strong = eye_safety(led.replace(optical_power_w=5.0, fov_h_deg=20, fov_v_deg=20))
    assert strong.iec62471_group == "RG2"  # 5 W / 0.1217 sr / 0.04 m² = 1027 W/m²
    assert eye_safety(_ill()).iec62471_group is None


@pytest.mark.parametrize("kw, match", [
    (dict(time_base_s=0.1), r"time_base_s = 0.1: must be in \[0.25, 30000\] s"),
    (dict(apparent_source_mm=0.0), r"apparent_source_mm = 0.0"),
    (dict(burst_s=2.0), r"burst_s = 2.0"),
])
def test_eye_safety_errors(kw, match):
    with pytest.raises(ConfigError, match=match) as exc:
        eye_safety(_ill(), **kw)
    assert "\n" not in str(exc.value)


def test_short_pulses_above_1050_nm_not_implemented():
    ill = _ill(wavelength_nm=1064, modulation="pulsed", pulse_width_ns=2.0,
               repetition_rate_hz=1e3)
    with pytest.raises(ConfigError, match="not implemented"):
        eye_safety(ill)


def test_catalog_parts_claimed_class1_are_class1():
    # ST FlightSense dToF emitters are published as "Class 1 (IEC 60825-1:2014)" (ST
    # VL53L0X/VL53L1X datasheets, quoted with their source in the depth catalog); the model
    # must agree even as a point source (its most restrictive assumption)
    from camtwin.depth import catalog

    claimed = [n for n in catalog.depth_catalog_names("illuminators")
               if "Class 1" in str(catalog.illuminator_entry(n).value("laser_class") or "")]
    assert claimed
    for name in claimed:
        r = eye_safety(Illuminator(**catalog.illuminator_fields(name)))
        assert r.is_class1, (name, r.ratio, r.limiting)
