"""Light sources with waveforms through ``camtwin.shoot`` and ``camtwin capture --light``
(issue 19 item 3): the per-light "seen" verdict against the analytic PWM overlap, a constant
light against the same light baked into the scene, lights carried through sensor windows,
strips refused for lit scenes, and one-line errors for bad ``--light`` text.

References
----------
* PWM seen probability min(1, D + T·f): IEEE P2020 Automotive Image Quality white paper
  (2018), LED flicker; a window [s, s + T] meets a pulse [kP, kP + DP] unless it starts in
  the last (1 − D)P − T of the off time.
* The per-row window mean of an ideal PWM pulse train is computed here independently of
  ``camtwin.scene.lights`` as the overlap of [t, t + T] with the pulses, divided by D·T
  (peak 1/D, mean 1).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import camtwin
from camtwin.cli import app
from camtwin.errors import ConfigError
from camtwin.scene import (PWM, Constant, Disc, LightSource, add_lights, lit_rates,
                           parse_light)
from camtwin.sensor import row_start_times

CROP = (96, 64)
F_HZ, DUTY, T_EXP = 90.0, 0.1, 1e-3
TRAFFIC = "traffic_light:x=0.3,y=0.4,size=0.2,hz=90,duty=10,cd=2000"


@pytest.fixture(scope="module")
def small():
    return camtwin.crop_module(camtwin.load_module("default"), *CROP)


def cli(*args, ok=True):
    r = CliRunner().invoke(app, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, (r.exit_code, r.stderr, r.exception)
        return json.loads(r.stdout)
    return r


def capture_json(tmp_path, *args):
    return cli("capture", "--crop", ",".join(map(str, CROP)), "--scene", "uniform", "--lux",
               200, "--out", tmp_path / "out.png", "--json", "--quiet", *args)


def pwm_overlap_mean(t0, t_exp, f, duty, phase_s=0.0):
    """(1/T)∫ m over [t0, t0 + T] for ideal pulses [kP − phase_s, kP − phase_s + DP] of
    height 1/D: the summed overlap with the pulses that can touch the window, / (D·T)."""
    p = 1.0 / f
    t0 = np.asarray(t0, dtype=np.float64) + phase_s
    out = np.zeros_like(t0)
    for i, a in enumerate(t0):
        k0 = math.floor(a / p) - 1
        for k in range(k0, k0 + int(t_exp / p) + 3):
            lo, hi = k * p, k * p + duty * p
            out[i] += max(0.0, min(a + t_exp, hi) - max(a, lo))
    return out / (duty * t_exp)


def expected_relative(module, lit, box, start_s, t_exp):
    """Σ_B ė·⟨m⟩_row / Σ_B ė over the light's box B, from the light's own electron rate and
    the independent overlap above."""
    _, (rate,) = lit_rates(module, lit)
    r0, r1, c0, c1 = box
    t0 = row_start_times(module.sensor, start_s)[r0:r1]
    m = pwm_overlap_mean(t0, t_exp, F_HZ, DUTY)
    sub = rate[r0:r1, c0:c1].astype(np.float64)
    return float((sub * m[:, None]).sum() / sub.sum())


def test_pwm_traffic_light_seen_per_phase_and_over_phases(small, tmp_path):
    """90 Hz, 10 % PWM at 1 ms over 10 stratified --start-ms phases of one period: each
    phase's relative signal equals the analytic window mean exactly, and the fraction seen
    is min(1, D + T·f) = 0.19 within the stratification step (loosely: 'seen' needs 50 % of
    the steady signal, which shortens the seen interval by D·T, and the box spans rows)."""
    lit = add_lights(camtwin.module_scene(small, "uniform", illuminance_lux=200.0),
                     [parse_light(TRAFFIC)])
    period_ms = 1e3 / F_HZ
    n = 10
    seen = []
    for k in range(n):
        start_ms = (k + 0.5) * period_ms / n
        out = capture_json(tmp_path, "--exposure-ms", T_EXP * 1e3, "--light", TRAFFIC,
                           "--start-ms", start_ms)
        (lt,) = out["lights"]
        assert out["start_ms"] == pytest.approx(start_ms)
        assert lt["name"] == "traffic_red" and lt["waveform"]["kind"] == "pwm"
        ref = expected_relative(small, lit, lt["box_px"], start_ms * 1e-3, T_EXP)
        assert lt["relative_signal"] == pytest.approx(ref, rel=1e-5, abs=1e-7)
        assert lt["mean_signal_e"] == pytest.approx(ref * lt["steady_signal_e"], rel=1e-5,
                                                    abs=1e-6)
        if abs(ref - 0.5) > 1e-3:
            assert lt["seen"] == (ref >= 0.5), (start_ms, ref)
        seen.append(lt["seen"])
    p = min(1.0, DUTY + T_EXP * F_HZ)
    assert abs(np.mean(seen) - p) <= 1.0 / n + DUTY * T_EXP * F_HZ + 1e-9, (seen, p)
    # box: the disc's bounding box (radius 0.1 of the width) around (0.3 W, 0.4 H)
    x, y, w, h = lt["box_xywh"]
    assert (x + w / 2, y + h / 2) == pytest.approx((0.3 * CROP[0], 0.4 * CROP[1]), abs=1)
    assert w == pytest.approx(0.2 * CROP[0], abs=1)


def test_long_exposure_always_sees_the_led(tmp_path):
    """11 ms ≥ (1 − D)/f = 10 ms: every window holds ≥ 1 ms of pulse, ≥ 0.9 of steady."""
    for start_ms in (0.0, 3.7, 8.9):
        out = capture_json(tmp_path, "--exposure-ms", 11, "--light", TRAFFIC.replace(
            "cd=2000", "cd=100"), "--start-ms", start_ms)
        (lt,) = out["lights"]
        assert lt["seen"] and lt["relative_signal"] >= 0.9 - 1e-9


def test_constant_light_equals_the_light_baked_into_the_scene(small, tmp_path):
    """Linearity: a steady (wave=constant) light gives the raw of the scene with the light's
    radiance added to it, captured on the ordinary path (same seed, full spectral sampling)."""
    text = "traffic_light:x=0.5,y=0.5,size=0.3,wave=constant,cd=3000,colour=green"
    raw_path = tmp_path / "lit.npz"
    out = capture_json(tmp_path, "--exposure-ms", 2, "--light", text, "--raw", raw_path,
                       "--band-group-nm", 0, "--seed", 7)
    (lt,) = out["lights"]
    assert lt["seen"] and lt["relative_signal"] == pytest.approx(1.0, rel=1e-6)
    got = camtwin.load_raw(raw_path)
    lit = add_lights(camtwin.module_scene(small, "uniform", illuminance_lux=200.0),
                     [parse_light(text)])
    ref = camtwin.shoot(small, lit.mean_scene(), exposure_s=2e-3, rng=7,
                        band_group_nm=None).raw
    np.testing.assert_allclose(got.mean_electrons, ref.mean_electrons, rtol=2e-4,
                               atol=1e-3 * float(ref.mean_electrons.max()))
    assert np.mean(got.dn == ref.dn) > 0.99  # same noise key: DN differ only by rounding
    r0, r1, c0, c1 = lt["box_px"]
    bg = float(np.median(ref.mean_electrons))
    assert ref.mean_electrons[r0:r1, c0:c1].max() > 2 * bg  # the light is really there
    assert got.metadata["layout_px"]["light:traffic_green"] == [lt["box_px"]]


def test_lights_carried_through_a_window(small):
    """A window images the lights that reach it at their true place: its box is the full
    frame's box shifted by the window corner, and a steady light gives the full frame's
    electrons there; a light far from the window is not imaged and reports no box."""
    near = LightSource("near", Disc(0.45, 0.45, 0.08), 1500.0, Constant(), "amber")
    far = LightSource("far", Disc(0.9, 0.95, 0.04), 1500.0, PWM(90.0, 0.1), "red")
    lit = add_lights(camtwin.module_scene(small, "uniform", illuminance_lux=200.0),
                     [near, far])
    full = camtwin.shoot(small, lit, exposure_s=2e-3, rng=3).raw
    _, win = camtwin.window_module(small, 16, 8, 48, 40)
    part = camtwin.shoot(small, lit, exposure_s=2e-3, rng=3, window=win).raw
    fb = full.metadata["layout_px"]["light:near"][0]
    wb = part.metadata["layout_px"]["light:near"][0]
    assert tuple(wb) == (fb[0] - 8, fb[1] - 8, fb[2] - 16, fb[3] - 16)
    assert "light:far" not in part.metadata["layout_px"]
    by = {lt["name"]: lt for lt in part.metadata["lights"]}
    assert by["far"]["box_px"] is None and by["far"]["seen"] is None
    assert by["near"]["seen"] and by["near"]["relative_signal"] == pytest.approx(1.0)
    from camtwin.scene.lights import lights_reaching_window

    assert [lt.name for lt in lights_reaching_window(small, lit, win).lights] == ["near"]
    r0, r1, c0, c1 = wb
    ref = full.mean_electrons[8:48, 16:64][r0:r1, c0:c1]
    got = part.mean_electrons[r0:r1, c0:c1]
    assert np.abs(got - ref).max() <= 0.02 * ref.max()
    # the steady light doubles the background in its middle: the window really holds it
    assert got.max() > 1.5 * np.median(part.mean_electrons)


def test_cli_window_reports_window_boxes(tmp_path):
    """--window: the light's box is in window pixels, the full frame's box shifted."""
    from importlib import resources

    import yaml

    data = yaml.safe_load((resources.files("camtwin") / "data" / "modules" / "default.yaml")
                          .read_text("utf-8"))
    data["sensor"].update(width_px=CROP[0], height_px=CROP[1])
    module = tmp_path / "small.yaml"
    module.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    args = ["capture", "--module", module, "--scene", "uniform", "--out", tmp_path / "o.png",
            "--json", "--exposure-ms", 1, "--light",
            "led_sign:x=0.5,y=0.5,size=0.2,height=0.2,wave=constant"]
    (full,) = cli(*args)["lights"]
    out = cli(*args, "--window", "16,8,48,40")
    (lt,) = out["lights"]
    x, y, w, h = full["box_xywh"]
    assert lt["box_xywh"] == [x - 16, y - 8, w, h]
    assert out["window_px"] == [16, 8, 48, 40] and lt["seen"]
    assert lt["steady_signal_e"] == pytest.approx(full["steady_signal_e"], rel=0.02)


@pytest.mark.parametrize("shutter", ["rolling", "global"])
def test_strips_with_lights_equal_the_whole_frame(small, shutter):
    """Row strips (camtwin.strips, sensors above 16 MP) image each light per strip: the same
    means as the whole frame up to the PSF tails a strip truncates (≤ 1e-2 of the maximum,
    as tests/test_strips.py), the same boxes, signals and verdicts; global shutter: the
    storage node sees the time-mean light."""
    from camtwin.strips import capture_strips, strip_supported

    mod = small if shutter == "rolling" else small.replace(sensor={"shutter": {
        "type": "global", "pls": 1e-3}})
    lit = add_lights(camtwin.module_scene(mod, "uniform", illuminance_lux=200.0),
                     [parse_light(TRAFFIC), parse_light("led_sign:y=0.8,cd=300,wave=mains")])
    assert strip_supported(mod, scene=lit) is None
    for start_s in (0.0, 9.6e-3) if shutter == "rolling" else (10.5e-3,):
        ref = camtwin.shoot(mod, lit, exposure_s=T_EXP, rng=5, start_s=start_s,
                            band_group_nm=None).raw
        raw = capture_strips(mod, lit, exposure_s=T_EXP, rng=5, start_s=start_s,
                             strip_rows=16, band_group_nm=0)
        mr, me = ref.mean_electrons, raw.mean_electrons
        assert float(np.abs(me - mr).max()) <= 1e-2 * float(mr.max())
        assert raw.metadata["layout_px"] == ref.metadata["layout_px"]
        for a, b in zip(raw.metadata["lights"], ref.metadata["lights"]):
            assert a["box_px"] == b["box_px"] and a["seen"] == b["seen"]
            assert a["relative_signal"] == pytest.approx(b["relative_signal"], rel=1e-3,
                                                         abs=1e-6)
        # DN: the same noise draws (keyed on the pixel) where the means agree
        # (tests/test_strips.py); a bright light's flare moves the means near strip edges
        # a DN rounding flips with probability ≈ K·Δμ (clipped at 1 for large Δμ)
        k = mod.sensor.system_gain_dn_per_e
        dmu = np.abs(me - mr)
        flip = np.minimum(1.0, 2 * k * dmu + 1e-3)
        assert np.mean(raw.dn != ref.dn) <= float(flip.mean()) + 0.01


def test_cli_strips_with_lights(tmp_path, monkeypatch):
    """Above the strip size the CLI captures a lit scene in strips, --start-ms included."""
    from camtwin import strips

    monkeypatch.setattr(strips, "STRIP_ABOVE_PX", 100)
    calls = []
    orig = strips.capture_strips
    monkeypatch.setattr(strips, "capture_strips",
                        lambda *a, **k: calls.append(k["start_s"]) or orig(*a, **k))
    out = capture_json(tmp_path, "--exposure-ms", 1, "--light", TRAFFIC, "--start-ms", 10.5)
    assert calls == [pytest.approx(10.5e-3)]
    monkeypatch.setattr(strips, "STRIP_ABOVE_PX", 10**9)
    whole = capture_json(tmp_path, "--exposure-ms", 1, "--light", TRAFFIC, "--start-ms",
                         10.5)
    assert len(calls) == 1  # the whole-frame path
    assert out["lights"][0]["seen"] == whole["lights"][0]["seen"]
    assert out["lights"][0]["relative_signal"] == pytest.approx(
        whole["lights"][0]["relative_signal"], rel=1e-3)


def test_lights_yaml_file_and_unique_names(tmp_path):
    path = tmp_path / "lights.yaml"
    path.write_text("lights:\n  - name: lamp\n    disc: [0.5, 0.5, 0.1]\n"
                    "    luminance_cd_m2: 800\n    spectrum: white\n"
                    "    waveform: {kind: rectified_mains, mains_frequency_hz: 50}\n",
                    encoding="utf-8")
    out = capture_json(tmp_path, "--exposure-ms", 10, "--light", path, "--light",
                       "led_sign:wave=constant,y=0.2", "--light",
                       "led_sign:wave=constant,y=0.8")
    names = [lt["name"] for lt in out["lights"]]
    assert names == ["lamp", "sign", "sign_2"]
    # 10 ms is one whole 100 Hz period: the rectified-mains light averages to its mean
    assert out["lights"][0]["relative_signal"] == pytest.approx(1.0, rel=1e-6)


def test_parse_light_defaults():
    a = parse_light("traffic_light:hz=90")     # timing given: PWM, duty default 10 %
    assert a.waveform == PWM(90.0, 0.1) and a.region == Disc(0.5, 0.5, 0.05)
    b = parse_light("led_headlamp:duty=50,phase=90")
    assert b.waveform.frequency_hz == 200.0 and b.waveform.duty == 0.5
    assert b.waveform.phase_rad == pytest.approx(math.pi / 2)
    c = parse_light("traffic_light:colour=green,wave=mains,hz=60,dc=20")
    assert c.name == "traffic_green" and c.waveform.frequency_hz == 120.0
    assert c.waveform.dc_fraction == pytest.approx(0.2)
    assert parse_light("led_sign").waveform == PWM(90.0, 0.1)


@pytest.mark.parametrize("text, words", [
    ("traffic_light:x=1.5", ["x = '1.5'", "[0, 1]"]),
    ("traffic_light:duty=0", ["duty = '0'", "(0, 100]"]),
    ("traffic_light:duty=150", ["duty = '150'", "(0, 100]"]),
    ("traffic_light:hz=-90", ["hz = '-90'", "(0, 100000]"]),
    ("traffic_light:size=abc", ["size = 'abc'", "(0, 1]"]),
    ("traffic_light:cd=0", ["cd = '0'", "(0, 1e9]"]),
    ("disco_ball", ["unknown preset 'disco_ball'", "traffic_light"]),
    ("traffic_light:foo=1", ["unknown key 'foo'", "duty"]),
    ("traffic_light:x", ["'x' is not key=value"]),
    ("traffic_light:x=0.1,x=0.2", ["'x' given twice"]),
    ("traffic_light:colour=purple", ["colour = 'purple'", "red"]),
    ("traffic_light:wave=constant,duty=10", ["duty", "wave=constant"]),
    ("led_sign:hz=90,duty=99,rise_us=9000", ["rise_s + fall_s", "≤"]),
    ("traffic_light:height=0.1", ["height applies to led_sign"]),
    ("missing.yaml", ["missing.yaml", "does not exist"]),
])
def test_bad_light_text_is_one_line_exit_2(tmp_path, text, words):
    r = cli("capture", "--crop", "96,64", "--scene", "uniform", "--out", tmp_path / "o.png",
            "--light", text, ok=False)
    assert r.exit_code == 2 and r.stdout == "", (r.exit_code, r.stdout)
    err = r.stderr
    assert err.startswith("error: ") and err.count("\n") == 1, repr(err)
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "o.png").exists()


def test_bad_start_ms(tmp_path):
    r = cli("capture", "--scene", "uniform", "--out", tmp_path / "o.png", "--start-ms", "nan",
            ok=False)
    assert r.exit_code == 2 and "--start-ms = nan" in r.stderr and r.stderr.count("\n") == 1


def test_auto_exposure_meters_the_time_mean_light(small):
    """exposure_s=None meters ė_steady + Σ ė_k (the lights at their time means): a bright
    sign covering a large part of the view shortens the exposure."""
    from camtwin.sensor.capture import exposure_for_rate

    scene = camtwin.module_scene(small, "uniform", illuminance_lux=200.0)
    lit = add_lights(scene, [parse_light("led_sign:size=0.9,height=0.9,cd=3000")])
    plain = camtwin.shoot(small, scene, rng=1).raw.exposure_s
    got = camtwin.shoot(small, lit, rng=1, start_s=1e-3).raw.exposure_s
    steady, (light,) = lit_rates(small, lit)
    assert got == pytest.approx(exposure_for_rate(steady + light, small.sensor), rel=1e-6)
    assert got < 0.5 * plain


def test_capture_lit_window_keeps_light_boxes(small):
    from camtwin.scene import capture_lit

    lit = add_lights(camtwin.module_scene(small, "uniform"),
                     [LightSource("lamp", Disc(0.5, 0.5, 0.1), 900.0, PWM(90.0, 0.5))])
    full = capture_lit(small, lit, exposure_s=1e-3, rng=1)
    _, win = camtwin.window_module(small, 24, 16, 48, 32)
    part = capture_lit(small, lit, exposure_s=1e-3, rng=1, window=win)
    r0, r1, c0, c1 = full.metadata["layout_px"]["light:lamp"][0]
    assert part.metadata["layout_px"]["light:lamp"] == [(r0 - 16, r1 - 16, c0 - 24, c1 - 24)]


def test_hdr_module_with_lights_is_one_line(tmp_path):
    r = cli("capture", "--module", "adas-ox03c10-surround", "--crop", "96,64", "--scene",
            "uniform", "--out", tmp_path / "o.png", "--light", "led_sign", ok=False)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "HDR mode" in r.stderr


def test_shot_of_a_lit_scene_displays_and_re_forms_its_optics(small):
    """Shot.optical_image of a lit scene holds the lights at their time means; the notebook
    displays name the steady scene."""
    lit = add_lights(camtwin.module_scene(small, "uniform", illuminance_lux=100.0),
                     [parse_light("traffic_light:size=0.4,wave=constant,cd=5000")])
    shot = camtwin.shoot(small, lit, exposure_s=1e-3, rng=1)
    irr = shot.optical_image.irradiance.sum(axis=0)
    h, w = irr.shape
    assert irr[h // 2, w // 2] > 5 * irr[2, 2]  # the light is in the re-formed image
    assert shot.to_xarray().attrs["scene"] == "uniform" and "uniform" in repr(shot)
