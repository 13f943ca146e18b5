"""One way to name a part (camtwin.parts): every form resolves, the same way everywhere.

Regression tests for issue 18 ("One way to name a part"): before the resolver, a sensor
given as ``catalog:NAME`` outside the catalog commands, a copied catalog module YAML, and
``catalog show catalog:NAME`` all failed, and the EMVA datasheet twins were named
differently from the catalog (``python1300`` vs ``onsemi-python1300``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

import camtwin
from camtwin.catalog import load_catalog, to_lens_spec, to_module, to_sensor_spec
from camtwin.errors import ConfigError, UnknownNameError
from camtwin.measure.emva1288 import builtin_summaries, load_summary, sensor_from_emva
from camtwin.parts import (ALIASES, known_parts, locate, resolve_lens, resolve_module,
                           resolve_sensor)

CATALOG = Path(str(resources.files("camtwin") / "data" / "catalog"))


def _copy(src: Path, dst: Path) -> Path:
    dst.write_text(src.read_text("utf-8"), encoding="utf-8")
    return dst


# --- modules ------------------------------------------------------------------------------
def test_module_forms_agree():
    want = to_module("industrial-imx273-c16")
    assert resolve_module("catalog:industrial-imx273-c16") == want
    assert resolve_module("industrial-imx273-c16") == want       # bare catalog name
    assert resolve_module("default").name == "default"            # built-in
    assert resolve_module("builtin:default") == resolve_module("default")
    assert camtwin.load_module("catalog:industrial-imx273-c16") == want


def test_copied_catalog_module_yaml_loads(tmp_path):
    """A catalog module YAML copied out of the package names its parts and ISP preset; it
    failed with 'Input should be a valid dictionary' before."""
    path = _copy(CATALOG / "modules" / "industrial-imx273-c16.yaml", tmp_path / "mine.yaml")
    assert resolve_module(path) == to_module("industrial-imx273-c16")
    assert resolve_module(str(path)).lens.object_distance_m == 0.5
    # relative to a base folder (how sweep specs and module YAMLs refer to files)
    assert resolve_module("mine.yaml", base_dir=tmp_path) == to_module("industrial-imx273-c16")


def test_module_yaml_refers_to_parts_by_any_form(tmp_path):
    sensor = resolve_module("default").sensor.replace(width_px=64, height_px=48)
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "s.yaml").write_text(yaml.safe_dump(sensor.model_dump(mode="json")),
                                               encoding="utf-8")
    data = {"name": "mixed", "sensor": "parts/s.yaml", "lens": "catalog:rpi-16mm-c-mount",
            "isp": "machine_vision", "object_distance_m": 2.0}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    m = resolve_module(path)        # the sensor path is relative to the YAML, not the cwd
    assert m.sensor == sensor
    assert m.lens == to_lens_spec("rpi-16mm-c-mount", object_distance_m=2.0)
    assert m.isp == load_catalog().isp_presets["machine_vision"].spec


def test_module_yaml_bad_reference_names_the_file_and_field(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "sensor": "no-such-sensor",
                                    "lens": "default"}), encoding="utf-8")
    with pytest.raises(UnknownNameError, match=r"m\.yaml: sensor: unknown sensor .*"
                                               r"'no-such-sensor'.*catalog:sony-imx273"):
        resolve_module(path)
    path.write_text(yaml.safe_dump({"name": "x", "sensor": "default", "lens": "default",
                                    "isp": "no-preset"}), encoding="utf-8")
    with pytest.raises(UnknownNameError, match="ISP preset.*'no-preset'.*machine_vision"):
        resolve_module(path)


# --- sensors and lenses -------------------------------------------------------------------
def test_sensor_forms_agree(tmp_path):
    want = to_sensor_spec("omnivision-ox03c10")
    assert resolve_sensor("catalog:omnivision-ox03c10") == want
    assert resolve_sensor("omnivision-ox03c10") == want
    assert camtwin.load_sensor("catalog:omnivision-ox03c10") == want
    assert resolve_sensor("default") == resolve_module("default").sensor
    # a catalog sensor entry copied out of the package (sourced figures) and a module YAML
    entry = _copy(CATALOG / "sensors" / "omnivision-ox03c10.yaml", tmp_path / "ox.yaml")
    assert resolve_sensor(entry) == want
    module = _copy(CATALOG / "modules" / "industrial-imx273-c16.yaml", tmp_path / "m.yaml")
    assert resolve_sensor(module) == to_sensor_spec("sony-imx273")


def test_lens_forms_agree():
    want = to_lens_spec("rpi-16mm-c-mount")
    assert resolve_lens("catalog:rpi-16mm-c-mount") == want
    assert resolve_lens("rpi-16mm-c-mount") == want
    assert camtwin.load_lens("rpi-16mm-c-mount") == want
    assert resolve_lens("rpi-16mm-c-mount", object_distance_m=0.3).object_distance_m == 0.3
    assert resolve_lens("default") == resolve_module("default").lens


def test_emva_twins_named_like_the_catalog():
    """Every shipped EMVA 1288 summary is named like the catalog sensor it measures (where the
    catalog has it), as ``emva:NAME``; the name inside the file is the file name."""
    sensors = load_catalog().sensors
    names = builtin_summaries()
    assert "onsemi-python1300" in names and "python1300" not in names
    for n in names:
        assert load_summary(n).name == n
        assert f"emva:{n}" in known_parts("sensor")
    assert {"onsemi-python1300", "teledyne-ev76c570"} <= set(names) & set(sensors)
    twin = resolve_sensor("emva:onsemi-python1300")
    assert twin == sensor_from_emva(load_summary("onsemi-python1300"))
    assert twin.name == "onsemi-python1300"


@pytest.mark.parametrize("old", sorted(ALIASES["sensor"]))
def test_old_emva_names_are_aliases_showing_the_canonical_name(old):
    loc = locate("sensor", old)
    assert loc.alias == old and loc.name.startswith("emva:")
    assert old in loc.note and loc.name in loc.note
    assert resolve_sensor(old) == resolve_sensor(loc.name)
    assert load_summary(old) == load_summary(loc.name)


# --- errors -------------------------------------------------------------------------------
def test_ambiguous_bare_name_lists_the_candidates():
    with pytest.raises(UnknownNameError) as info:
        resolve_sensor("onsemi-python1300")
    msg = str(info.value)
    assert "ambiguous" in msg and "\n" not in msg
    assert "catalog:onsemi-python1300" in msg and "emva:onsemi-python1300" in msg


@pytest.mark.parametrize("kind, fn", [("module", resolve_module), ("sensor", resolve_sensor),
                                      ("lens", resolve_lens)])
def test_unknown_name_lists_valid_names(kind, fn):
    with pytest.raises(UnknownNameError) as info:
        fn("no-such-part")
    msg = str(info.value)
    assert "\n" not in msg and "'no-such-part'" in msg
    assert all(n in msg for n in known_parts(kind))
    with pytest.raises(UnknownNameError, match="catalog:no-such-part"):
        fn("catalog:no-such-part")
    assert isinstance(info.value, ConfigError) and isinstance(info.value, KeyError)


def test_prefix_of_the_wrong_kind_is_refused():
    with pytest.raises(UnknownNameError, match="emva: names only sensors"):
        resolve_module("emva:onsemi-python1300")


def test_missing_yaml_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_module(tmp_path / "nope.yaml")


def test_known_parts_lists_builtin_and_catalog():
    cat = load_catalog()
    assert known_parts("module") == ["default", *(f"catalog:{n}" for n in sorted(cat.modules))]
    assert set(known_parts("lens")) == {"default", *(f"catalog:{n}" for n in cat.lenses)}
    with pytest.raises(UnknownNameError):
        known_parts("camera")


def test_names_win_over_extensionless_files(tmp_path, monkeypatch):
    """A file called `default` in the working directory does not shadow the built-in name;
    an extensionless file that is no name is read as YAML."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").write_text("not: a module\n", encoding="utf-8")
    assert resolve_module("default").name == "default"
    (tmp_path / "mymodule").write_text(
        (CATALOG / "modules" / "industrial-imx273-c16.yaml").read_text("utf-8"),
        encoding="utf-8")
    assert resolve_module("mymodule") == to_module("industrial-imx273-c16")
    assert locate("module", "sub/none.yaml").source == "yaml"
