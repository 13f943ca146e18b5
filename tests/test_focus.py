"""Autofocus: VCM dynamics, thin-lens focus, focus measures, contrast AF, PDAF, CLI.

Analytic references:
* second-order step response: overshoot M_p = exp(−πζ/√(1 − ζ²)) (Ogata, *Modern Control
  Engineering* 5th ed., eq. 5-21); play-operator hysteresis stops a move h/2 short;
* thin lens: in-focus lens extension p* = f²/(D − f); depth of focus 2·N_w·c;
* dual-pixel disparity of a defocus δ: 4δ/(3πN_w) (half-disc centroid 4/(3π) × transverse
  ray aberration 4N_wW₀₂₀ρ, W₀₂₀ = δ/(8N_w²); derivation in camtwin.focus.optics).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from camtwin.errors import ConfigError
from camtwin.focus import (VcmSpec, Vcm, calibrate_pdaf, depth_of_focus_um, focus_measure,
                           in_focus_position_um, run_autofocus)
from camtwin.focus.optics import lens_at
from camtwin.module import load_module

DISTANCE_M = 0.5


@pytest.fixture(scope="module")
def module():
    return load_module("default")


@pytest.fixture(scope="module")
def calibration(module):
    return calibrate_pdaf(module, rng=0)


def test_vcm_step_overshoot_matches_second_order_theory():
    spec = VcmSpec(resonance_hz=100.0, damping_ratio=0.2, hysteresis_um=0.0,
                   position_noise_um=0.0)
    vcm = Vcm(spec, 0)
    t, x = vcm.step_response(100.0, 0.1)
    overshoot = (x.max() - 100.0) / 100.0
    zeta = spec.damping_ratio
    assert overshoot == pytest.approx(math.exp(-math.pi * zeta / math.sqrt(1 - zeta**2)),
                                      rel=0.02)
    # first peak at t_p = π/ω_d (Ogata eq. 5-20)
    t_peak = math.pi / (2 * math.pi * 100.0 * math.sqrt(1 - zeta**2))
    assert t[np.argmax(x)] == pytest.approx(t_peak, abs=2e-4)
    settle = vcm.move_to(100.0)
    assert 0.5 * 4 / (zeta * 2 * math.pi * 100) < settle < 0.2  # ~ 4/(ζω₀) (2 % band)


def test_vcm_hysteresis_stops_half_the_play_short():
    vcm = Vcm(VcmSpec(hysteresis_um=4.0, position_noise_um=0.0), 0)
    vcm.move_to(100.0)
    assert vcm.position_um == pytest.approx(98.0)   # from below: h/2 short
    vcm.move_to(50.0)
    assert vcm.position_um == pytest.approx(52.0)   # from above: h/2 beyond
    vcm.move_to(51.0)                                # inside the play: does not move
    assert vcm.position_um == pytest.approx(52.0)


def test_thin_lens_focus_and_depth_of_focus(module):
    f = module.lens.focal_length_mm
    p = in_focus_position_um(module.lens, DISTANCE_M)
    assert p == pytest.approx(f * f / (DISTANCE_M * 1e3 - f) * 1e3)
    assert lens_at(module.lens, p, DISTANCE_M).defocus_um == pytest.approx(0.0, abs=1e-6)
    assert lens_at(module.lens, p + 10.0, DISTANCE_M).defocus_um == pytest.approx(10.0, rel=1e-3)
    dof = depth_of_focus_um(module.lens, module.sensor.pixel_pitch_um, DISTANCE_M)
    assert dof["dof_um"] == pytest.approx(2 * dof["working_f_number"] * 2.0)


def test_focus_measure_dispatcher_names_valid_choices():
    with pytest.raises(ConfigError, match="bandpass, laplacian_variance, tenengrad"):
        focus_measure(np.ones((16, 16)), "brenner")


def test_bandpass_measure_removes_the_noise_bias():
    gen = np.random.default_rng(1)
    noise_only = 100.0 + gen.normal(0, 5.0, (128, 128))
    # flat + noise: the gradient measures report the noise, the band-pass one ≈ 0
    assert abs(focus_measure(noise_only, "bandpass", noise_var=25.0)) < 0.05 * \
        focus_measure(noise_only, "tenengrad") / 10
    assert focus_measure(noise_only, "tenengrad") > 0


@pytest.mark.parametrize("measure", ["tenengrad", "laplacian_variance", "bandpass"])
def test_focus_measures_peak_at_focus(module, measure):
    from camtwin.focus.af import AfCamera, _measure

    cam = AfCamera(module, "siemens_star", distance_m=DISTANCE_M, illuminance_lux=1000.0,
                   rng=3, vcm=VcmSpec(hysteresis_um=0.0, position_noise_um=0.0))
    offsets = (-30.0, -12.0, 0.0, 12.0, 30.0)
    values = []
    for d in offsets:
        cam.move(cam.target_um + d)
        values.append(_measure(cam, measure))
    assert int(np.argmax(values)) == 2
    assert values[0] < values[1] and values[4] < values[3]


def test_pdaf_calibration_matches_the_geometric_disparity(module, calibration):
    nw = lens_at(module.lens, in_focus_position_um(module.lens, 0.15), 0.15).working_f_number
    # defocus per plane sample (2 raw px) of disparity: 3πN_w·(2·pitch)/4
    analytic = 3 * math.pi * nw * 2 * module.sensor.pixel_pitch_um / 4
    assert abs(calibration.slope_um_per_sample) == pytest.approx(analytic, rel=0.10)
    assert abs(calibration.offset_um) < 1.0


@pytest.mark.parametrize("lux", [1000.0, 100.0, 10.0])
def test_contrast_af_converges_within_depth_of_focus(module, lux):
    r = run_autofocus(module, distance_m=DISTANCE_M, illuminance_lux=lux, method="contrast",
                      rng=7)
    assert r.in_focus, r.as_dict()
    assert r.frames >= 7


@pytest.mark.parametrize("lux", [1000.0, 100.0, 10.0])
def test_pdaf_converges_in_three_moves(module, calibration, lux):
    r = run_autofocus(module, distance_m=DISTANCE_M, illuminance_lux=lux, method="pdaf",
                      rng=11, start_um=120.0, calibration=calibration)
    assert r.lens_moves <= 3, r.as_dict()
    assert r.in_focus, r.as_dict()


def test_hybrid_af_is_in_focus(module, calibration):
    r = run_autofocus(module, distance_m=0.3, illuminance_lux=100.0, method="hybrid", rng=5,
                      calibration=calibration)
    assert r.in_focus, r.as_dict()


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "laser"}, "valid choices: contrast, hill_climb, hybrid, pdaf"),
    ({"measure": "brenner"}, "valid choices"),
    ({"distance_m": 0.02}, "beyond the VCM stroke"),
    ({"illuminance_lux": 0.0}, "must be > 0"),
])
def test_bad_af_input_is_one_line_config_error(module, kwargs, match):
    args = {"distance_m": DISTANCE_M, "illuminance_lux": 100.0, "method": "contrast", **kwargs}
    with pytest.raises(ConfigError, match=match) as exc:
        run_autofocus(module, **args)
    assert "\n" not in str(exc.value)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-W", "error", "-m", "camtwin.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_cli_autofocus_json(tmp_path):
    p = _cli("autofocus", "--distance-m", "0.5", "--lux", "100", "--method", "pdaf", "--json",
             cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["lens_moves"] <= 3 and abs(out["focus_error_um"]) < out["dof_um"] / 2
    assert {"focus_error_dof", "frames", "time_to_focus_ms"} <= set(out)


@pytest.mark.parametrize("args, match", [
    (("burst", "--frames", "1", "--out", "x.png"), "at least 2 frames"),
    (("autofocus", "--method", "laser"), "unknown AF method"),
])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, args, match):
    p = _cli(*args, cwd=tmp_path)
    assert p.returncode == 2
    assert match in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_a_long_phone_lens_is_calibrated_within_its_stroke_and_focuses():
    """The PDAF calibration chart stands at 0.15 m when the calibration sweep (±40 µm
    around focus) fits in the VCM stroke, else where its far end meets the stroke:
    p*(D) + span = stroke, p* = f²/(D − f) (thin lens). The 200 MP catalog module (f = 6.7
    mm: 313 µm out at 0.15 m against a 120 µm stroke) failed every hybrid or PDAF run
    with "beyond the VCM stroke"; now its hybrid AF at 0.5 m ends inside the depth of
    focus (|error| ≤ DOF/2)."""
    from camtwin.focus.af import PDAF_CHART_DISTANCE_M, pdaf_chart_distance_m

    stroke = VcmSpec().stroke_um
    assert pdaf_chart_distance_m(load_module("default").lens, stroke, 40.0) == \
        PDAF_CHART_DISTANCE_M
    phone = load_module("catalog:phone-isocell-hp2-main")
    assert in_focus_position_um(phone.lens, PDAF_CHART_DISTANCE_M) > stroke
    d = pdaf_chart_distance_m(phone.lens, stroke, 40.0)
    assert in_focus_position_um(phone.lens, d) + 40.0 == pytest.approx(stroke, rel=1e-9)
    with pytest.raises(ConfigError, match="does not fit in the VCM stroke"):
        pdaf_chart_distance_m(phone.lens, 30.0, 40.0)
    res = run_autofocus(phone, distance_m=DISTANCE_M, illuminance_lux=300.0,
                        method="hybrid", rng=1)
    assert res.in_focus, res.as_dict()
