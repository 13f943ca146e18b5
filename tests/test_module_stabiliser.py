"""The module's own stabiliser (``ModuleSpec.stabiliser``) in the motion metrics, the catalog
and the phone profile (issue 21: a phone main camera needs ≥ 3 stops of OIS at 1/4 s).

References: CIPA DC-011 / ISO 20954-1 stabilisation gain (camtwin.motion.stabilise); the
phone profile's requirement (camtwin/data/applications/phone.yaml). The module's stabiliser
must give exactly what the same stabiliser given as a metric condition gives (same seed),
which is the independent reference used below.
"""

from __future__ import annotations

import pytest
import yaml

from camtwin.catalog import catalog_root, get_module, to_module
from camtwin.catalog.schema import ModuleEntry
from camtwin.errors import ConfigError, UnknownNameError
from camtwin.evaluate import ApplicationSpec, load_application, measure
from camtwin.evaluate.verdict import evaluate
from camtwin.module import ModuleSpec, load_module
from camtwin.motion.stabilise import OIS_PRESETS, EisSpec

#: Fields a module without day/night switching or stabiliser dumps (and hashes) — as before
#: the optional fields existed.
PLAIN_FIELDS = {"name", "description", "sensor", "lens", "isp"}
SRC = "https://example.org/phone-spec-page (test)"


@pytest.fixture(scope="module")
def plain():
    return load_module("default")


@pytest.fixture(scope="module")
def with_ois(plain, tmp_path_factory):
    """The default module written to YAML with ``stabiliser: {ois: phone}`` and loaded."""
    data = plain.model_dump(mode="json")
    data["stabiliser"] = {"ois": "phone", "source": SRC}
    path = tmp_path_factory.mktemp("stab") / "phone_ois.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_module(str(path))


@pytest.fixture(scope="module")
def phone_ois_requirement():
    reqs = [r for r in load_application("phone").requirements if r.metric == "ois_gain_stops"]
    assert len(reqs) == 1
    r = reqs[0]
    assert r.min == 3.0 and r.conditions == {"exposure_s": 0.25} and "CIPA" in r.source
    return ApplicationSpec(name="phone_ois_only", title="phone OIS", requirements=(r,))


def test_yaml_module_with_phone_ois_gains_three_stops_at_quarter_second(with_ois, plain):
    assert with_ois.stabiliser.ois == OIS_PRESETS["phone"]
    assert with_ois.stabiliser.source == SRC
    g = measure(with_ois, "ois_gain_stops", {"exposure_s": 0.25}, rng=3)
    assert g.value >= 3.0
    assert "the module's OIS (phone preset; source: " + SRC in g.source
    # the module's stabiliser is exactly the phone preset given as a condition (same seed)
    ref = measure(plain, "ois_gain_stops", {"exposure_s": 0.25, "ois": "phone"}, rng=3)
    assert g.value == ref.value


def test_module_without_stabiliser_gains_nothing_and_fails_the_phone_profile(
        plain, with_ois, phone_ois_requirement):
    g = measure(plain, "ois_gain_stops", {"exposure_s": 0.25}, rng=3)
    assert g.value == 0.0 and "no OIS (the module has no stabiliser)" in g.source
    # a stabiliser block without OIS (EIS only) is also 0 stops, and says why
    eis_only = plain.replace(stabiliser={"eis": {"margin_px": 50.0}, "source": SRC})
    g2 = measure(eis_only, "ois_gain_stops", {"exposure_s": 0.25}, rng=3)
    assert g2.value == 0.0 and "the module's stabiliser has none" in g2.source
    no = evaluate(plain, phone_ois_requirement, seed=1).verdicts[0]
    yes = evaluate(with_ois, phone_ois_requirement, seed=1).verdicts[0]
    assert not no.passed and no.value == 0.0
    assert yes.passed and yes.value >= 3.0


def test_explicit_ois_condition_overrides_the_module(plain, with_ois):
    cond = {"exposure_s": 0.25}
    assert measure(with_ois, "ois_gain_stops", {**cond, "ois": "none"}, rng=3).value == 0.0
    assert measure(plain, "ois_gain_stops", {**cond, "ois": "phone"}, rng=3).value >= 3.0
    # a slower loop (dict of OisSpec fields) stabilises less than the module's 60 Hz phone OIS
    slow = measure(with_ois, "ois_gain_stops", {**cond, "ois": {"bandwidth_hz": 2.0}}, rng=3)
    own = measure(with_ois, "ois_gain_stops", cond, rng=3)
    assert 0.0 < slow.value < own.value - 0.5
    with pytest.raises(UnknownNameError) as exc:
        measure(with_ois, "ois_gain_stops", {"ois": "gimbal"})
    msg = str(exc.value)
    assert "\n" not in msg and "'gimbal'" in msg and "module" in msg and "sensor_shift" in msg


def test_shake_blur_uses_the_module_ois_when_stabilised(plain, with_ois):
    c = {"exposure_s": 1 / 15, "stabilised": True}
    off = measure(with_ois, "shake_blur_px", {"exposure_s": 1 / 15}, rng=4).value
    on = measure(with_ois, "shake_blur_px", c, rng=4)
    assert on.value < off / 3 and "with the module's OIS" in on.source
    # no OIS in the module: "stabilised" leaves the blur as it is (same seed, same shake)
    plain_on = measure(plain, "shake_blur_px", c, rng=4)
    assert plain_on.value == measure(plain, "shake_blur_px", {"exposure_s": 1 / 15},
                                     rng=4).value
    assert "so unstabilised" in plain_on.source
    assert measure(plain, "shake_blur_px", {**c, "ois": "phone"}, rng=4).value == on.value


def test_eis_jitter_uses_the_module_eis(plain):
    width = plain.sensor.width_px
    # no EIS in the module: the crop EIS of margin_fraction (0.1) and per_row, as before
    base = measure(plain, "eis_jitter_px", rng=5)
    assert base.details["margin_px"] == pytest.approx(0.1 * width)
    assert base.details["mode"] == "per_row"
    ref = measure(plain, "eis_jitter_px", {"margin_fraction": 0.1, "mode": "per_row"}, rng=5)
    assert base.value == ref.value
    # the module's EIS: a tiny margin clips the correction → more jitter than the 10 % crop
    tight = plain.replace(stabiliser={"eis": {"margin_px": 2.0, "mode": "per_frame"},
                                      "source": SRC})
    own = measure(tight, "eis_jitter_px", rng=5)
    assert own.details["margin_px"] == 2.0 and own.details["mode"] == "per_frame"
    assert own.value > 2 * base.value and own.details["clipped_fraction"] > 0.1
    assert "the module's EIS" in own.source and SRC in own.source
    # explicit conditions override the module's margin and mode
    over = measure(tight, "eis_jitter_px", {"margin_fraction": 0.1, "mode": "per_row"}, rng=5)
    assert over.details["margin_px"] == pytest.approx(0.1 * width)
    assert over.details["mode"] == "per_row"
    custom = measure(plain, "eis_jitter_px", {"eis": EisSpec(margin_px=2.0,
                                                             mode="per_frame").model_dump()},
                     rng=5)
    assert custom.value == own.value
    with pytest.raises(ConfigError, match="eis = 'gyro'"):
        measure(plain, "eis_jitter_px", {"eis": "gyro"})
    with pytest.raises(ConfigError, match="margin_fraction = 0.6"):
        measure(tight, "eis_jitter_px", {"margin_fraction": 0.6})


def test_catalog_hp2_module_has_its_sourced_ois_and_imx586_modules_none(tmp_path):
    entry = get_module("phone-isocell-hp2-main")
    fig = entry.stabiliser.ois
    assert fig.value == "phone" and fig.source.startswith("https://")
    assert "optical image stabilization" in fig.note
    m = to_module("phone-isocell-hp2-main")
    assert m.stabiliser.ois == OIS_PRESETS["phone"] and m.stabiliser.source == fig.source
    g = measure(m, "ois_gain_stops", {"exposure_s": 0.25}, rng=1)
    assert g.value >= 3.0 and fig.source in g.source
    # no published OIS for the IMX586 + Arducam / Sunny module lenses: none invented
    for name in ("phone-imx586-main", "tablet-imx586-sunny"):
        assert get_module(name).stabiliser is None and to_module(name).stabiliser is None
    # a copied catalog module YAML (sourced stabiliser block) loads to the same module
    src = catalog_root() / "modules" / "phone-isocell-hp2-main.yaml"
    copy = tmp_path / "hp2.yaml"
    copy.write_text(src.read_text("utf-8"), encoding="utf-8")
    assert load_module(str(copy)) == m


def test_unknown_preset_is_one_line_naming_stabiliser_ois(plain, tmp_path):
    data = plain.model_dump(mode="json")
    data["stabiliser"] = {"ois": "gimbal", "source": SRC}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_module(str(path))
    msg = str(exc.value)
    assert "\n" not in msg and "stabiliser.ois" in msg and "'gimbal'" in msg
    assert "phone" in msg and "sensor_shift" in msg
    # the catalog block: a figure whose value is not a preset
    entry = get_module("phone-isocell-hp2-main").model_dump()
    entry["stabiliser"]["ois"]["value"] = "gimbal"
    with pytest.raises(ConfigError) as exc:
        ModuleEntry.from_dict(entry, source="hp2")
    msg = str(exc.value)
    assert "\n" not in msg and "stabiliser" in msg and "'gimbal'" in msg and "phone" in msg
    # a bare value has no source
    entry["stabiliser"]["ois"] = "phone"
    with pytest.raises(ConfigError, match="stabiliser.ois"):
        ModuleEntry.from_dict(entry, source="hp2")


def test_module_without_stabiliser_dumps_and_hashes_as_before(plain, with_ois):
    from camtwin.cache import cache_key

    assert set(plain.model_dump()) == PLAIN_FIELDS
    assert set(plain.model_dump(mode="json")) == PLAIN_FIELDS
    assert set(to_module("phone-imx586-main").model_dump()) == PLAIN_FIELDS
    assert set(with_ois.model_dump()) == PLAIN_FIELDS | {"stabiliser"}
    # the key is the key of the plain fields alone; the stabiliser changes it
    plain_fields = {k: v for k, v in with_ois.model_dump(mode="json").items()
                    if k != "stabiliser"}
    assert cache_key("m", plain) == cache_key("m", plain_fields)
    assert cache_key("m", with_ois) != cache_key("m", plain)
    assert ModuleSpec.from_dict(with_ois.model_dump()) == with_ois


def test_catalog_show_lists_the_stabiliser_figure_with_its_source():
    from camtwin.commands.catalog import show_entry

    info = show_entry("catalog:phone-isocell-hp2-main")
    fig = info["stabiliser_figures"]["ois"]
    assert fig["value"] == "phone" and fig["source"].startswith("https://")
    assert "stabiliser_figures" not in show_entry("phone-imx586-main")   # none sourced
