"""Day/night modules: switchable IR-cut, NIR illuminator, state-aware evaluation.

References (independent of the simulator's capture path):
* IR-cut transmission — the logistic edge of camtwin.optics.lens.IRCutSpec written out:
  T(λ) = T_pass·(1 − e) + T_block·e, e = 1/(1 + exp(−(λ − λ₅₀)/w)), w = width/(2 ln 9).
  At 850 nm for λ₅₀ = 650 nm, width 20 nm: e = 1 − 8e-39, so T = T_block to double
  precision.
* NIR irradiance at SNR 10, day vs night — the signal is linear in irradiance and the noise
  depends on the signal alone, so the irradiance that reaches a given SNR scales as
  1/S₁ with S₁ = Σ_λ E(λ)·T(λ)·QE_G(λ)·λ/(hc)·Δλ (electrons per W/m² of target light).
  The day/night ratio of E₁₀ must therefore equal S₁,night / S₁,day computed from the
  spectra alone (camtwin.sensor.response.electron_weights and the IR850 Gaussian).
* Illuminator — inverse-square law E = I/d² and the generalised Lambertian LED pattern
  I(θ) = I₀ cos^m θ with I(θ½) = I₀/2 by definition of the beam angle 2θ½; m = 1 for
  θ½ = 60° (Moreno & Sun, Opt. Express 16, 1808 (2008), eq. 1).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from camtwin.daynight import (DayNightSpec, IlluminatorSpec, nir_block_note, requirement_state)
from camtwin.errors import ConfigError
from camtwin.evaluate import ApplicationSpec, measure
from camtwin.evaluate.verdict import evaluate
from camtwin.module import ModuleSpec, load_module

#: Tolerance set by the SNR-curve interpolation (4 levels per decade, log–log) and the
#: statistical noise estimate on a 96 px crop: a few per cent on E₁₀.
INTERP_RTOL = 0.06
NIR = {"illuminant": "IR850", "reflectance": 0.5, "exposure_s": 0.0333}
ILLUMINATOR = {"wavelength_nm": 850, "radiant_intensity_mw_sr": 500.0, "beam_angle_deg": 120.0}


@pytest.fixture(scope="module")
def fixed():
    """The default module: a fixed IR-cut (650 nm) in the lens."""
    return load_module("default")


@pytest.fixture(scope="module")
def day_night(fixed):
    """The same module whose IR-cut sits in a switcher, with 500 mW/sr of 850 nm LEDs."""
    return fixed.replace(day_night={"illuminator": ILLUMINATOR})


def _nir_app(*extra) -> ApplicationSpec:
    reqs = [{"metric": "nir_irradiance_at_snr10_mw_m2", "max": 200.0, "conditions": NIR,
             "basis": "practice", "source": "the security profile's night requirement × 10 "
                                            "(the default module has small 2 µm pixels)"}]
    return ApplicationSpec.from_dict({"name": "nir", "title": "NIR", "requirements":
                                      reqs + list(extra)})


# --------------------------------------------------------------------------------------
# states
# --------------------------------------------------------------------------------------
def test_default_state_is_day_and_modules_without_day_night_are_unchanged(fixed, day_night):
    assert fixed.state == "day" and fixed.day_night is None
    assert fixed.in_state("night") is fixed and fixed.in_state("day") is fixed
    # the dump of a module without day/night has no new keys (cache keys, sweep hashes)
    assert set(fixed.model_dump()) == {"name", "description", "sensor", "lens", "isp"}
    assert day_night.state == "day"
    assert day_night.lens == fixed.lens            # the day state is the module as written
    assert day_night.in_state("day") is day_night


def test_night_state_removes_the_filter_and_round_trips(day_night, fixed):
    night = day_night.in_state("night")
    assert night.state == "night" and night.lens.ir_cut is None
    assert night.day_night.day_lens == fixed.lens
    back = night.in_state("day")
    assert back == day_night and back.lens == fixed.lens
    # validated round trip through a dump (what crop_module / replace do)
    again = ModuleSpec.from_dict(night.model_dump())
    assert again == night
    from camtwin.crop import crop_module

    assert crop_module(night, 64).state == "night"
    assert crop_module(night, 64).lens.ir_cut is None


def test_lens_transmission_at_850nm_night_vs_day(day_night):
    """Night: T_lens·T_glass with T_glass = the filter's passband; day: T_lens·T_block."""
    ir = day_night.lens.ir_cut
    t_lens = day_night.lens.transmission
    w = ir.width_nm / (2.0 * math.log(9.0))
    e = 1.0 / (1.0 + math.exp(-(850.0 - ir.cutoff_nm) / w))
    t_day_ref = t_lens * (ir.passband_transmission * (1 - e) + ir.blocking_transmission * e)
    t_day = float(day_night.lens.spectral_transmission([850.0])[0])
    t_night = float(day_night.in_state("night").lens.spectral_transmission([850.0])[0])
    assert t_day == pytest.approx(t_day_ref, rel=1e-12)
    assert t_day == pytest.approx(t_lens * ir.blocking_transmission, rel=1e-9)
    assert t_night == pytest.approx(t_lens * ir.passband_transmission, rel=1e-12)
    # in the visible the night glass passes what the day filter passes (same AR coatings)
    vis = [450.0, 550.0]
    assert np.allclose(day_night.in_state("night").lens.spectral_transmission(vis),
                       day_night.lens.spectral_transmission(vis), rtol=1e-6)


def test_fixed_filter_with_illuminator_keeps_the_filter_at_night(fixed):
    m = fixed.replace(day_night={"ir_cut_switchable": False, "illuminator": ILLUMINATOR})
    night = m.in_state("night")
    assert night.lens.ir_cut == fixed.lens.ir_cut and night.state == "night"
    assert "fixed in the optical path" in nir_block_note(night, "IR850")


def test_day_state_capture_is_bit_identical(fixed, day_night):
    from camtwin.camera import module_scene, shoot
    from camtwin.crop import crop_module

    a_mod, b_mod = crop_module(fixed, 96), crop_module(day_night.in_state("day"), 96)
    sa = module_scene(a_mod, "colorchecker", illuminance_lux=300.0)
    sb = module_scene(b_mod, "colorchecker", illuminance_lux=300.0)
    a = shoot(a_mod, sa, exposure_s=0.01, rng=7)
    b = shoot(b_mod, sb, exposure_s=0.01, rng=7)
    assert np.array_equal(a.raw.dn, b.raw.dn)
    assert np.array_equal(a.rendered.linear, b.rendered.linear)
    # the night state sees the tungsten NIR the filter blocked by day: more signal
    sn = module_scene(crop_module(day_night.in_state("night"), 96), "colorchecker",
                      illuminant="A", illuminance_lux=300.0)
    sd = module_scene(b_mod, "colorchecker", illuminant="A", illuminance_lux=300.0)
    n = shoot(crop_module(day_night.in_state("night"), 96), sn, exposure_s=0.005, rng=7)
    d = shoot(b_mod, sd, exposure_s=0.005, rng=7)
    assert n.raw.dn.astype(float).mean() > 1.5 * d.raw.dn.astype(float).mean()


# --------------------------------------------------------------------------------------
# measured NIR sensitivity against the spectral reference
# --------------------------------------------------------------------------------------
def _signal_per_w_m2(module) -> float:
    """S₁ ∝ Σ E(λ)·T(λ)·QE_G(λ)·λ/(hc)·Δλ for 1 W/m² of IR850 (see the module docstring)."""
    from camtwin.sensor.response import electron_weights
    from camtwin.spectra import DEFAULT_WAVELENGTHS_NM, illuminant_spd, scale_to_irradiance

    wl = DEFAULT_WAVELENGTHS_NM
    e = scale_to_irradiance(illuminant_spd("IR850", wl), 1.0, wl)
    w = electron_weights(module.sensor, wl, module.lens.spectral_transmission(wl))
    return float(np.sum(e * w[:, module.sensor.channels.index("G")]))


def test_nir_irradiance_day_over_night_equals_the_spectral_ratio(day_night):
    day = measure(day_night, "nir_irradiance_at_snr10_mw_m2", NIR, rng=3).value
    night_mod = day_night.in_state("night")
    night = measure(night_mod, "nir_irradiance_at_snr10_mw_m2", NIR, rng=3).value
    ref = _signal_per_w_m2(night_mod) / _signal_per_w_m2(day_night)
    assert 500 < ref < 1500               # the filter blocks ~10⁻³ of the LED
    assert day / night == pytest.approx(ref, rel=INTERP_RTOL)
    assert night < 200.0 < day            # the limit of _nir_app (small 2 µm pixels, f/2)


def test_evaluate_measures_nir_at_night_and_the_fixed_filter_fails_with_a_reason(
        fixed, day_night):
    app = _nir_app({"metric": "hfov_deg", "min": 10.0, "basis": "practice",
                    "source": "a day requirement"})
    ev = evaluate(day_night, app, seed=1)
    nir, fov = ev.verdicts
    assert nir.passed and nir.state == "night" and nir.note is None
    assert fov.state == "day"
    assert ev.as_dict()["verdicts"][0]["state"] == "night"
    ev_fixed = evaluate(fixed, app, seed=1)
    v = ev_fixed.verdicts[0]
    assert not v.passed and v.state is None
    assert "blocks the IR850" in v.note and "650 nm" in v.note
    assert ev_fixed.as_dict()["verdicts"][0]["note"] == v.note
    # forcing the day state makes the switchable module fail too, and says why
    forced = evaluate(day_night, app, seed=1, state="day").verdicts[0]
    assert not forced.passed and forced.state == "day" and "day state" in forced.note
    # a module without any IR-cut: today's behaviour (no state, no note, passes)
    bare = fixed.replace(lens={"ir_cut": None})
    vb = evaluate(bare, app, seed=1).verdicts[0]
    assert vb.passed and vb.state is None and vb.note is None


def test_explicit_requirement_state_overrides_the_illuminant_rule():
    from camtwin.evaluate.profiles import Requirement

    base = {"metric": "nir_irradiance_at_snr10_mw_m2", "max": 1.0, "conditions": NIR,
            "basis": "practice", "source": "test"}
    assert requirement_state(Requirement(**base)) == "night"
    assert requirement_state(Requirement(**{**base, "state": "day"})) == "day"
    lux = {**base, "metric": "lux_at_snr10", "conditions": {"illuminant": "A"}}
    assert requirement_state(Requirement(**lux)) == "day"
    assert requirement_state(Requirement(**{**lux, "metric": "nir_illuminator_range_m",
                                            "conditions": {}})) == "night"


# --------------------------------------------------------------------------------------
# illuminator
# --------------------------------------------------------------------------------------
def test_illuminator_inverse_square_and_beam_pattern():
    ill = IlluminatorSpec(**ILLUMINATOR)
    assert ill.lambertian_order == pytest.approx(1.0, rel=1e-12)   # 2θ½ = 120°: Lambertian
    e1, e2 = ill.irradiance_w_m2([1.0, 2.0])
    assert e1 == pytest.approx(0.5, rel=1e-12) and e2 == pytest.approx(e1 / 4, rel=1e-12)
    narrow = IlluminatorSpec(wavelength_nm=940, radiant_intensity_mw_sr=100.0,
                             beam_angle_deg=35.0)
    assert narrow.illuminant == "IR940"
    half = float(narrow.irradiance_w_m2(3.0, 17.5))
    assert half == pytest.approx(float(narrow.irradiance_w_m2(3.0)) / 2, rel=1e-12)
    d = narrow.distance_at_irradiance_m(2e-3, off_axis_deg=10.0)
    assert float(narrow.irradiance_w_m2(d, 10.0)) == pytest.approx(2e-3, rel=1e-12)


def test_illuminator_range_metric(day_night, fixed):
    r = measure(day_night, "nir_illuminator_range_m", {}, rng=2)
    e10 = r.details["irradiance_at_snr_mw_m2"] * 1e-3
    assert r.value == pytest.approx(math.sqrt(0.5 / e10), rel=1e-12)
    assert 0.5 < r.value < 50.0
    night_e10 = measure(day_night.in_state("night"), "nir_irradiance_at_snr10_mw_m2",
                        {"reflectance": 0.5, "exposure_s": 1 / 30}, rng=2).value
    assert r.details["irradiance_at_snr_mw_m2"] == pytest.approx(night_e10, rel=INTERP_RTOL)
    off = measure(day_night, "nir_illuminator_range_m", {"off_axis_deg": 60.0}, rng=2)
    assert off.value == pytest.approx(r.value / math.sqrt(2), rel=1e-9)  # cos 60° = 1/2
    none = measure(fixed, "nir_illuminator_range_m", {})
    assert not none.applicable and "no NIR illuminator" in none.reason


# --------------------------------------------------------------------------------------
# catalog
# --------------------------------------------------------------------------------------
def test_catalog_security_module_is_day_night_and_passes_at_night():
    from camtwin.catalog import load_catalog, module_applications
    from camtwin.catalog.convert import to_module
    from camtwin.evaluate import load_application

    m = to_module("security-imx462-night")
    assert m.day_night is not None and m.day_night.ir_cut_switchable
    assert m.lens.ir_cut is not None and m.lens.ir_cut.cutoff_nm == 650.0
    assert m.day_night.illuminator.radiant_intensity_mw_sr == 480.0
    zoom = to_module("security-imx415-zoom")
    assert zoom.day_night.ir_cut_switchable and zoom.day_night.illuminator is None
    req = next(r for r in load_application("security").requirements
               if r.metric == "nir_irradiance_at_snr10_mw_m2")
    app = ApplicationSpec(name="sec_nir", title="security NIR", requirements=(req,))
    v = evaluate(m, app, seed=0).verdicts[0]
    assert v.passed and v.state == "night"
    fixed_variant = m.model_copy(update={"day_night": None})
    vf = evaluate(fixed_variant, app, seed=0).verdicts[0]
    assert not vf.passed and "blocks the IR850" in vf.note
    cat = load_catalog()
    e = cat.modules["security-imx462-night"]
    for f in type(e.day_night).model_fields:
        fig = getattr(e.day_night, f)
        assert fig is None or fig.source.startswith("http")
    assert "security/surveillance" in module_applications(cat.sensors[e.sensor],
                                                          cat.lenses[e.lens], e)


def test_switcher_keeps_nir_applications_in_the_tags():
    from camtwin.catalog import lens_excludes, load_catalog

    cat = load_catalog()
    lens = cat.lenses["innomaker-imx415-4.9mm"]          # published "Built IR filter"
    assert "automotive in-cabin" in lens_excludes(lens)
    assert "automotive in-cabin" not in lens_excludes(lens, ir_cut_switchable=True)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("day_night_block, words", [
    ({"illuminator": {**ILLUMINATOR, "wavelength_nm": 900}},
     ("day_night.illuminator.wavelength_nm = 900", "850 or 940")),
    ({"illuminator": {**ILLUMINATOR, "radiant_intensity_mw_sr": -1}},
     ("radiant_intensity_mw_sr = -1", "greater than 0")),
    ({"illuminator": {**ILLUMINATOR, "beam_angle_deg": 180}},
     ("beam_angle_deg = 180", "less than 180")),
    ({"night_glass_transmission": 1.5}, ("night_glass_transmission = 1.5", "less than or equal")),
    ({"day_lens": {"focal_length_mm": 2.8, "f_number": 2.0}}, ("day_lens", "night state")),
    ({"typo": 1}, ("day_night.typo", "unknown field")),
])
def test_bad_day_night_blocks_give_one_line(fixed, day_night_block, words):
    with pytest.raises(ConfigError) as err:
        fixed.replace(day_night=day_night_block)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_inconsistent_states_and_names_are_rejected(fixed, day_night):
    with pytest.raises(ConfigError, match="lens.ir_cut is None"):
        fixed.replace(lens={"ir_cut": None}, day_night={})
    with pytest.raises(ConfigError, match="only the 'day' state"):
        fixed.replace(state="night")
    with pytest.raises(ConfigError, match="in_state"):
        day_night.replace(state="night")
    with pytest.raises(ConfigError, match="state = 'dusk': valid choices are day, night"):
        day_night.in_state("dusk")
    with pytest.raises(ConfigError, match="valid choices are day, night"):
        evaluate(day_night, _nir_app(), state="dusk")
    with pytest.raises(ConfigError, match="distance_m = 0"):
        IlluminatorSpec(**ILLUMINATOR).irradiance_w_m2(0.0)


def test_bad_catalog_day_night_block():
    from camtwin.catalog.schema import DayNightEntry

    src = "https://example.com/datasheet"
    with pytest.raises(ConfigError, match="illuminator_nm.value = 900: valid"):
        DayNightEntry.from_dict({"ir_cut_switcher": {"value": True, "source": src},
                                 "illuminator_nm": {"value": 900, "source": src},
                                 "illuminator_radiant_intensity_mw_sr": {"value": 1.0,
                                                                         "source": src}})
    with pytest.raises(ConfigError, match="illuminator_radiant_intensity_mw_sr is required"):
        DayNightEntry.from_dict({"ir_cut_switcher": {"value": True, "source": src},
                                 "illuminator_nm": {"value": 850, "source": src}})
    with pytest.raises(ConfigError, match="a bare value has no source"):
        DayNightEntry.from_dict({"ir_cut_switcher": True})


def test_cli_state_option(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-W", "error", "-m", "camtwin.cli", *args],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)

    bad = run("evaluate", "--module", "default", "--application", "security", "--state",
              "dusk")
    assert bad.returncode == 2 and "--state = 'dusk': valid choices are day, night" in bad.stderr
    bad = run("capture", "--module", "default", "--scene", "uniform", "--out", "x.png",
              "--state", "dusk")
    assert bad.returncode == 2 and "valid choices are day, night" in bad.stderr
    outs = {}
    for st in ("day", "night"):
        r = run("capture", "--module", "security-imx462-night", "--scene", "uniform",
                "--illuminant", "A", "--lux", "5", "--exposure-ms", "10", "--crop", "64,64",
                "--out", f"{st}.png", "--raw", f"{st}.npz", "--state", st, "--quiet")
        assert r.returncode == 0, r.stderr
        from camtwin.raw import load_raw

        outs[st] = load_raw(tmp_path / f"{st}.npz").dn.astype(float).mean()
    assert outs["night"] > outs["day"]      # tungsten's NIR passes with the filter out


def test_metric_state_uses_the_metric_default_illuminant():
    from camtwin.daynight import metric_state

    assert metric_state("nir_irradiance_at_snr10_mw_m2", {}) == "night"      # IR850 default
    assert metric_state("nir_irradiance_at_snr10_mw_m2", {"illuminant": "IR940"}) == "night"
    assert metric_state("lux_at_snr10", {}) == "day"
    assert metric_state("dynamic_range_db") == "day"
    assert metric_state("nir_illuminator_range_m") == "night"


def test_copied_catalog_module_yaml_keeps_its_day_night_block(tmp_path):
    from importlib import resources

    from camtwin.catalog.convert import to_module
    from camtwin.parts import resolve_module

    text = (resources.files("camtwin") / "data" / "catalog" / "modules" /
            "security-imx462-night.yaml").read_text("utf-8")
    path = tmp_path / "copy.yaml"
    path.write_text(text, encoding="utf-8")
    copied = resolve_module(str(path))
    ref = to_module("security-imx462-night")
    assert copied.day_night == ref.day_night and copied.lens == ref.lens
    # a module YAML naming catalog parts, with a camtwin day_night block
    dn = ("day_night:\n  ir_cut_switchable: true\n"
          "  illuminator: {wavelength_nm: 940, radiant_intensity_mw_sr: 200}\n")
    mod = tmp_path / "mod.yaml"
    mod.write_text("name: m\nsensor: sony-imx462\nlens: electrodragon-m12-3.9mm-f1.0\n"
                   "isp: security\n" + dn, encoding="utf-8")
    with pytest.raises(ConfigError, match="lens.ir_cut is None"):
        resolve_module(str(mod))     # the catalog lens has no IR-cut: nothing to switch
    mod.write_text(mod.read_text().replace("ir_cut_switchable: true", "ir_cut_switchable: false"),
                   encoding="utf-8")
    m = resolve_module(str(mod))
    assert m.day_night.illuminator.illuminant == "IR940" and m.lens.ir_cut is None


def _analytic_nir_at_snr_mw_m2(module, *, target=10.0, reflectance=0.5, exposure_s=0.0333):
    """Closed form of the NIR irradiance at SNR ``target`` on the centre pixel, written out
    here (the camera equation and noise budget of camtwin.evaluate.metrics.
    analytic_lux_at_snr, with IR850 scaled to 1 W/m² instead of 1 lx):
    S₁ = A·t·Σ (ρE₁(λ)/π)·πT(λ)/(4N_w²)·QE_G(λ)·λ/(hc)·Δλ [e⁻ per W/m²];
    noise² = S + D + σ_r² + σ_row² + σ_col² + σ_rowFPN² + σ_DSNU² + (PRNU·S)² + (1/K)²/12;
    SNR = τ solves S²(1 − τ²p²) − τ²S − τ²N₀ = 0."""
    from camtwin.sensor.response import electron_weights
    from camtwin.spectra import DEFAULT_WAVELENGTHS_NM, illuminant_spd, scale_to_irradiance

    s, lens = module.sensor, module.lens
    wl = DEFAULT_WAVELENGTHS_NM
    e1 = scale_to_irradiance(illuminant_spd("IR850", wl), 1.0, wl)
    image_irr = reflectance * e1 * lens.spectral_transmission(wl) / (
        4.0 * lens.working_f_number ** 2)
    w = electron_weights(s, wl)[:, s.channels.index("G")]
    s1 = s.pixel_area_m2 * exposure_s * float(np.sum(image_irr * w))
    n = s.noise
    n0 = (s.dark_current_at() * exposure_s + s.effective_read_noise_e ** 2 + n.row_noise_e ** 2
          + n.column_fpn_e ** 2 + n.row_fpn_e ** 2 + n.dsnu_offset_e ** 2
          + (1.0 / s.system_gain_dn_per_e) ** 2 / 12.0)
    tau2, a = target ** 2, 1.0 - target ** 2 * n.prnu_fraction ** 2
    sig = (tau2 + math.sqrt(tau2 ** 2 + 4 * a * tau2 * n0)) / (2 * a)
    return sig / s1 * 1e3


def test_night_state_nir_irradiance_matches_the_closed_form(day_night):
    night = day_night.in_state("night")
    measured = measure(night, "nir_irradiance_at_snr10_mw_m2", NIR, rng=11).value
    assert measured == pytest.approx(_analytic_nir_at_snr_mw_m2(night), rel=0.10)
