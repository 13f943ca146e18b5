"""evaluate: application profiles, module metrics against analytic estimates, verdicts, CLI.

References:
* lux at SNR 10 — closed form from the spec (camera equation E = πLT/(4N²), L = ρE_v/π,
  photon counting with the green QE, noise² = S + dark + read² + FPN² + (PRNU·S)²), see
  camtwin.evaluate.metrics.analytic_lux_at_snr; SNR 10 = ISO 12232:2019 "acceptable".
* dynamic range — EMVA 1288 R4.0: DR = μ_sat/σ_d → 20·log10(FWC/σ_read) for a sensor whose
  full well is below the ADC range and whose dark current is negligible at 1 ms.
* rolling-shutter skew — v·t_line·H with v = speed·f/(d − f)/pitch (thin lens).
* pixel density — width_px / (sensor width · (d − f)/f) (IEC 62676-4 px/m).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from camtwin.errors import ConfigError
from camtwin.evaluate import (ApplicationSpec, builtin_applications, level_at_snr,
                              load_application, measure, snr_curve)
from camtwin.evaluate.metrics import analytic_lux_at_snr, image_speed_px_s
from camtwin.evaluate.verdict import evaluate
from camtwin.module import load_module


@pytest.fixture(scope="module")
def module():
    return load_module("default")


def test_every_builtin_profile_loads_with_sourced_requirements():
    names = builtin_applications()
    for want in ("phone", "tablet_laptop", "automotive_adas", "automotive_incabin", "security",
                 "endoscope", "industrial", "drone", "smart_home"):
        assert want in names
    for n in names:
        app_ = load_application(n)
        for r in app_.requirements:
            assert r.source and r.basis in ("standard", "practice")
            assert r.min is not None or r.max is not None


def test_snr_curve_is_monotonic_and_lux_at_snr10_matches_the_analytic_estimate(module):
    curve = snr_curve(module, rng=4)
    assert curve.level.size > 15
    assert np.all(np.diff(curve.snr) > 0)
    measured = level_at_snr(curve, 10.0)
    analytic = analytic_lux_at_snr(module)
    assert measured == pytest.approx(analytic, rel=0.10)


@pytest.mark.parametrize("exposure_s", [1 / 30, 1e-3])
def test_lux_at_snr10_scales_inversely_with_exposure_when_shot_noise_dominates(module, exposure_s):
    # shot-noise-limited regime: S ∝ lux·t, so lux at fixed SNR ∝ 1/t (within the read-noise
    # correction, which the analytic estimate carries)
    v = measure(module, "lux_at_snr10", {"exposure_s": exposure_s}, rng=5).value
    assert v == pytest.approx(analytic_lux_at_snr(module, exposure_s=exposure_s), rel=0.10)


def test_bsi_needs_less_light_than_fsi_of_equal_pitch(module):
    bsi = module.replace(name="bsi", sensor={"illumination": "bsi"})
    fsi = module.replace(name="fsi", sensor={"illumination": "fsi"})
    app_ = load_application("phone")
    ev_b = evaluate(bsi, app_, seed=1)
    ev_f = evaluate(fsi, app_, seed=1)
    lux_b = ev_b.verdict("lux_at_snr10").value
    lux_f = ev_f.verdict("lux_at_snr10").value
    assert lux_b < lux_f
    # the gain follows the QE ratio at the centre (analytic estimates of both)
    ratio = analytic_lux_at_snr(fsi) / analytic_lux_at_snr(bsi)
    assert lux_f / lux_b == pytest.approx(ratio, rel=0.10)


def test_rolling_shutter_fails_the_industrial_skew_requirement_global_passes(module):
    app_ = load_application("industrial")
    rs = module.replace(name="rolling", sensor={"shutter": {"type": "rolling"}})
    gs = module.replace(name="global", sensor={"shutter": {"type": "global"}})
    v_rs = evaluate(rs, app_, seed=2).verdict("motion_skew_px")
    v_gs = evaluate(gs, app_, seed=2).verdict("motion_skew_px")
    assert not v_rs.passed and v_gs.passed
    cond = v_rs.requirement.conditions
    speed = image_speed_px_s(rs, cond["object_speed_m_s"], cond["object_distance_m"])
    expected = speed * rs.sensor.shutter.line_time_s * rs.sensor.height_px
    assert v_rs.value == pytest.approx(expected, rel=0.03)
    assert v_gs.value < 0.5


def test_dynamic_range_is_full_well_over_read_noise(module):
    # no dark current, hence no dark-current map either (DCNU, hot pixels: they scale a zero
    # dark signal — same DR to the last bit — but would compile a pixel-chain variant of their own)
    quiet = module.replace(sensor={"dark_current_e_per_s": 0.0, "noise": {
        "row_noise_e": 0.0, "prnu_fraction": 0.0, "dsnu_offset_e": 0.0, "column_fpn_e": 0.0,
        "dark_current_nonuniformity": 0.0, "hot_pixel_fraction": 0.0}})
    dr = measure(quiet, "dynamic_range_db", rng=6)
    s = quiet.sensor
    # σ_d from a pair difference also holds the quantisation noise (1/K)²/12 (EMVA 1288 §2.3)
    sigma = math.sqrt(s.read_noise_e ** 2 + (1 / s.system_gain_dn_per_e) ** 2 / 12)
    assert dr.value == pytest.approx(20 * math.log10(s.full_well_e / sigma), abs=0.3)


def test_geometric_metrics_match_closed_forms(module):
    s, lens = module.sensor, module.lens
    f = lens.focal_length_mm * 1e-3
    density = measure(module, "pixel_density_px_m", {"distance_m": 5.0}).value
    assert density == pytest.approx(s.width_px / (s.width_mm * 1e-3 * (5.0 - f) / f), rel=1e-9)
    fps = measure(module, "frame_rate_fps").value
    assert fps == pytest.approx(1 / (s.height_px * s.shutter.line_time_s))
    assert measure(module, "resolution_mp").value == pytest.approx(s.width_px * s.height_px / 1e6)


def test_mtf50_and_colour_are_measured(module):
    mtf = measure(module, "mtf50_cy_px", {"field": 0.0}, rng=7)
    assert 0.2 < mtf.value < 0.6
    de = measure(module, "delta_e00_mean", rng=8)
    assert 0 < de.value < 4


def test_same_seed_same_verdicts(module):
    app_ = load_application("industrial")
    a = evaluate(module, app_, seed=9).as_dict()
    b = evaluate(module, app_, seed=9).as_dict()
    for x, y in zip(a["verdicts"], b["verdicts"]):
        assert x["value"] == y["value"]


@pytest.mark.parametrize("data, message", [
    ({"name": "x", "title": "X", "requirements": [
        {"metric": "sharpness", "min": 1, "basis": "practice", "source": "s s s"}]},
     "unknown metric; valid choices"),
    ({"name": "x", "title": "X", "requirements": [
        {"metric": "hfov_deg", "min": 1, "basis": "practice"}]}, "source"),
    ({"name": "x", "title": "X", "requirements": [
        {"metric": "hfov_deg", "min": 90, "max": 60, "basis": "practice", "source": "abc"}]},
     "min = 90.0 exceeds max = 60.0"),
    ({"name": "x", "title": "X", "requirements": [
        {"metric": "hfov_deg", "basis": "practice", "source": "abc"}]}, "needs a min or a max"),
    ({"name": "x", "title": "X", "requirements": [
        {"metric": "lux_at_snr10", "max": 1, "conditions": {"speed": 3}, "basis": "practice",
         "source": "abc"}]}, "unknown condition 'speed'"),
])
def test_malformed_profiles_give_one_clear_line(data, message):
    with pytest.raises(ConfigError, match=message) as exc:
        ApplicationSpec.from_dict(data)
    assert "\n" not in str(exc.value)


def test_unknown_application_lists_valid_names():
    with pytest.raises(ConfigError, match="valid choices: automotive_adas"):
        load_application("toaster")
    with pytest.raises(ConfigError, match="valid choices"):
        measure(load_module("default"), "sharpness")


def _run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        from camtwin.cli import main
        import sys

        old = sys.argv
        sys.argv = ["camtwin", *args]
        try:
            main()
        finally:
            sys.argv = old
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_cli_evaluate_json_and_errors(capsys):
    code, out, err = _run_cli(["evaluate", "--module", "default", "--application",
                               "industrial", "--json"], capsys)
    assert code == 1                     # a failed requirement gates CI (issue 18)
    data = json.loads(out)
    assert data["application"] == "industrial"
    skew = next(v for v in data["verdicts"] if v["metric"] == "motion_skew_px")
    assert skew["passed"] is False and skew["value"] > 0.5
    code, out, err = _run_cli(["evaluate", "--module", "default", "--application",
                               "industrial", "--json", "--no-fail"], capsys)
    assert code == 0 and json.loads(out)["passed"] is False
    code, out, err = _run_cli(["evaluate", "--module", "default", "--application", "toaster"],
                              capsys)
    assert code == 2 and err.count("\n") == 1 and "valid choices" in err
    code, out, err = _run_cli(["evaluate", "--module", "nomodule", "--application", "phone"],
                              capsys)
    assert code == 2 and "valid choices" in err


def test_cli_compare_writes_a_self_contained_report(tmp_path, capsys):
    app_yaml = tmp_path / "fast.yaml"
    app_yaml.write_text(
        "name: fast\ntitle: Fast test profile\nrequirements:\n"
        "  - {metric: lux_at_snr10, max: 50, basis: standard, source: 'ISO 12232:2019'}\n"
        "  - {metric: frame_rate_fps, min: 30, basis: practice, source: 'video'}\n")
    mod_fsi = tmp_path / "fsi.yaml"
    m = load_module("default").replace(name="default-fsi", sensor={"illumination": "fsi"})
    import yaml

    mod_fsi.write_text(yaml.safe_dump(m.model_dump()))
    code, out, err = _run_cli(["compare", "default", str(mod_fsi), "--application",
                               str(app_yaml), "--report", str(tmp_path / "rep")], capsys)
    assert code == 0, err
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "<img" in html and "data:image/png;base64," in html
    assert 'src="http' not in html and "<link" not in html       # nothing external
    assert "Differences" in html and "default-fsi" in html
    data = json.loads((tmp_path / "rep" / "evaluation.json").read_text())
    assert [d["module"] for d in data] == ["default", "default-fsi"]
    assert data[0]["verdicts"][0]["value"] < data[1]["verdicts"][0]["value"]  # BSI < FSI lux


def _field_lens_module(module):
    """The default module shrunk to 384×288 (same pixel and field of view) with an
    aberrated lens: 0.05 waves of spherical on axis, 0.35 waves of astigmatism and coma at
    full field, −3 % distortion, 30 % mechanical vignetting is not needed here."""
    m = module.replace(sensor={"width_px": 384, "height_px": 288},
                       lens={"focal_length_mm": module.lens.focal_length_mm * 384 / 1280})
    return m.replace(lens={"aberrations": {"axis": {11: 0.05},
                                           "full_field": {11: 0.05, 6: 0.35, 8: 0.2},
                                           "field_samples": 5},
                           "distortion": {"percent": -3.0}})


def test_a_crop_rendered_at_its_field_offset_equals_that_window_of_the_full_image(module):
    # The evaluate corner metric renders only a corner window of the sensor with
    # form_image(field_offset_um=...). It must reproduce the full-image rendering there
    # (distortion, relative illumination and field-dependent PSFs at their true position).
    from camtwin.camera import module_scene
    from camtwin.evaluate.metrics import crop_module
    from camtwin.optics import form_image
    from camtwin.optics.image import full_field_um

    m = _field_lens_module(module)
    full_scene = module_scene(m, "siemens_star", illuminance_lux=100.0)
    # every 5th band (25 of 125, 380–980 nm still spanned): the field PSFs are computed per
    # band and node (25 nodes), so the run time is ∝ bands; each band is checked the same way
    full_scene = full_scene.replace(
        radiance=np.ascontiguousarray(full_scene.radiance[::5]),
        wavelengths_nm=full_scene.wavelengths_nm[::5])
    full = form_image(full_scene, m.lens).irradiance
    crop = crop_module(m, 128, 96)
    dy, dx = 80.0, 112.0                                  # crop centre − image centre [px]
    r0, c0 = int(288 / 2 + dy - 48), int(384 / 2 + dx - 64)
    window = full_scene.radiance[:, r0:r0 + 96, c0:c0 + 128]
    crop_scene = full_scene.replace(radiance=np.ascontiguousarray(window),
                                    width_m=full_scene.width_m * 128 / 384)
    pitch = m.sensor.pixel_pitch_um
    ff = full_field_um((288, 384), pitch, m.lens)
    part = form_image(crop_scene, crop.lens, field_offset_um=(dy * pitch, dx * pitch),
                      full_field_um_override=ff).irradiance
    ref = full[:, r0:r0 + 96, c0:c0 + 128]
    inner = (slice(None), slice(12, -12), slice(12, -12))   # away from the crop's own border
    err = np.abs(part[inner] - ref[inner]).max() / ref.max()
    assert err < 0.02


def test_corner_mtf50_is_lower_than_centre_for_a_field_dependent_lens(module):
    m = _field_lens_module(module)
    centre = measure(m, "mtf50_cy_px", {"field": 0.0}, rng=11).value
    corner = measure(m, "mtf50_cy_px", {"field": 0.8}, rng=11).value
    ideal = module.replace(sensor={"width_px": 384, "height_px": 288},
                           lens={"focal_length_mm": module.lens.focal_length_mm * 384 / 1280})
    ideal_corner = measure(ideal, "mtf50_cy_px", {"field": 0.8}, rng=11).value
    assert corner < 0.85 * centre
    assert ideal_corner == pytest.approx(measure(ideal, "mtf50_cy_px", {"field": 0.0},
                                                 rng=11).value, rel=0.05)


def test_output_size_normalisation_scales_snr_by_sqrt_pixel_ratio(module):
    # averaging n uncorrelated pixels divides σ by √n: at a 4× smaller output the SNR-10
    # light level is where the per-pixel SNR is 10/2 (ISO 12232 compares S/N per print area)
    from camtwin.evaluate.metrics import output_snr_gain

    n_mp = module.sensor.width_px * module.sensor.height_px / 1e6
    assert output_snr_gain(module, n_mp / 4) == pytest.approx(2.0)
    assert output_snr_gain(module, None) == 1.0 and output_snr_gain(module, 2 * n_mp) == 1.0
    per_px = measure(module, "lux_at_snr10", rng=12)
    binned = measure(module, "lux_at_snr10", {"output_mp": n_mp / 4}, rng=12)
    assert binned.value == pytest.approx(level_at_snr(per_px.details["curve"], 5.0), rel=1e-9)
    assert binned.value == pytest.approx(analytic_lux_at_snr(module, target=5.0), rel=0.10)


def test_nir_sensitivity_needs_the_ir_cut_filter_removed(module):
    # An interference IR-cut passes 1e-3 (IRCutSpec.blocking_transmission) at 850 nm, all of
    # the LED's band lies above its 650 nm edge, and SNR depends only on the collected
    # signal: with the filter the LED must be exactly 1/1e-3 = 1000× brighter.
    day = measure(module, "nir_irradiance_at_snr10_mw_m2", rng=13).value
    night = measure(module.replace(lens={"ir_cut": None}), "nir_irradiance_at_snr10_mw_m2",
                    rng=13).value
    assert day / night == pytest.approx(1000.0, rel=0.02)
    with pytest.raises(ConfigError, match="needs IR850 or IR940"):
        measure(module, "nir_irradiance_at_snr10_mw_m2", {"illuminant": "D65"})


# --- where each number comes from; n/a instead of meaningless numbers (issue 18) ----------

def _tiny(module, **sensor):
    return module.replace(sensor={"width_px": 160, "height_px": 120, **sensor},
                          lens={"focal_length_mm": module.lens.focal_length_mm * 160 / 1280})


def test_every_metric_says_where_its_number_comes_from(module):
    for name in ("frame_rate_fps", "hfov_deg", "dfov_deg", "resolution_mp",
                 "pixel_density_px_m"):
        res = measure(module, name)
        assert res.source and res.applicable, name
    res = measure(module, "mtf50_cy_px", rng=3)
    assert "G sites" in res.source and "per sensor pixel" in res.source


def test_colour_metric_of_a_mono_sensor_is_not_applicable(module):
    # issue 18: a mono sensor got ΔE00 17.7 in the web page
    mono = module.replace(sensor={"cfa": "mono"})
    res = measure(mono, "delta_e00_mean", rng=1)
    assert math.isnan(res.value) and not res.applicable and "mono" in res.reason
    app_ = ApplicationSpec(name="x", title="X", requirements=[
        {"metric": "delta_e00_mean", "max": 5, "basis": "practice", "source": "test case"}])
    ev = evaluate(mono, app_, seed=1)
    row = ev.as_dict()["verdicts"][0]
    assert row["value"] is None and "mono" in row["not_applicable"]
    # the verdict says n/a, and a module that cannot deliver colour does not pass a colour
    # requirement (so `camtwin evaluate` still gates on it), with the reason beside it
    assert row["status"] == "n/a" and row["passed"] is False and not ev.passed
    assert ev.verdicts[0].status == "n/a"


def test_shot_summary_reports_only_meaningful_numbers(module, tmp_path):
    # issue 18: a photo got a "grey patch SNR" of about −4 dB (texture taken for noise), a
    # mono sensor a ΔE00 of 17.7; both are now None with the reason in `sources`
    import cv2

    from camtwin.camera import module_scene, shoot
    from camtwin.measure.summary import shot_summary

    rng = np.random.default_rng(2)
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8),
                                       (160, 120), interpolation=cv2.INTER_NEAREST))
    small = _tiny(module)
    s = shot_summary(shoot(small, module_scene(small, photo), rng=1))
    assert s["grey_snr"] is None and s["grey_snr_db"] is None
    assert "no uniform grey region" in s["sources"]["grey_snr"]
    s = shot_summary(shoot(small, module_scene(small, "uniform"), rng=1))
    assert s["grey_snr_db"] > 20 and "raw G pixels" in s["sources"]["grey_snr_db"]
    mono = _tiny(module, cfa="mono")
    s = shot_summary(shoot(mono, module_scene(mono, "colorchecker"), rng=1))
    assert s["delta_e00_mean"] is None and "mono" in s["sources"]["delta_e00_mean"]
    assert s["grey_snr_db"] is not None
