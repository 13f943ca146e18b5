"""The real-sensor catalog: sourced figures, derived tags, conversion to simulator specs, CLI.

Reference values are the published figures stored in the catalog itself (each with its
source) and, for the pass-through checks, ``/work/shared/reference/sensors_published.csv``
(IMX273 saturation 10500 e⁻, Basler EMVA 1288 via a rounded transcription). Tolerances:
``QE_ABS`` = 0.02 absolute is the issue's "within 2 percentage points" (the published QE
figures are integer per cent); ``TIGHT`` is for values copied, not computed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from camtwin.catalog import (APPLICATIONS, CONFIDENCE_LEVELS, SensorEntry, catalog_root,
                             clear_cache, get_sensor, load_catalog, modelled_qe,
                             module_applications, resolution_class, sensor_applications,
                             to_lens_spec, to_module, to_sensor_spec)
from camtwin.catalog.convert import conversion_gain_dn_per_e
from camtwin.catalog.schema import SENSOR_FIGURES, LENS_FIGURES
from camtwin.errors import ConfigError, UnknownNameError
from camtwin.module import ModuleSpec, load_module
from camtwin.sensor import SensorSpec

QE_ABS = 0.02
TIGHT = 1e-12
CAT = load_catalog()
SENSORS = sorted(CAT.sensors)
LENSES = sorted(CAT.lenses)
MODULES = sorted(CAT.modules)


def _raw_files(kind: str):
    return sorted((catalog_root() / kind).glob("*.yaml"))


# --------------------------------------------------------------------------- sources

@pytest.mark.parametrize("path", _raw_files("sensors") + _raw_files("lenses"),
                         ids=lambda p: p.stem)
def test_every_figure_in_every_file_has_a_source(path):
    # Read the raw YAML (not the validated model) so the test fails on any file that slips
    # past the loader: every key except the metadata strings must be a sourced figure.
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta = {"name", "vendor", "maker", "part", "description"}
    rules = SENSOR_FIGURES if path.parent.name == "sensors" else LENS_FIGURES
    figures = {k: v for k, v in data.items() if k not in meta}
    assert figures, path
    for key, fig in figures.items():
        assert key in rules, f"{path.name}: {key} is not a known figure"
        assert isinstance(fig, dict), f"{path.name}: {key} has no source (bare value)"
        assert isinstance(fig.get("source"), str) and len(fig["source"].strip()) >= 3, \
            f"{path.name}: {key} has no source"
        assert fig.get("confidence", "published") in CONFIDENCE_LEVELS
        if fig.get("confidence", "published") != "published":
            assert fig.get("note", "").strip(), f"{path.name}: {key} derived/estimated w/o note"


def _write_catalog(tmp_path: Path) -> Path:
    root = tmp_path / "catalog"
    shutil.copytree(catalog_root(), root)
    return root


def test_validator_rejects_a_sensor_figure_without_source(tmp_path):
    root = _write_catalog(tmp_path)
    path = root / "sensors" / "sony-imx273.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    del data["full_well_e"]["source"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_catalog(root)
    msg = str(exc.value)
    assert "sony-imx273" in msg and "full_well_e.source" in msg and "\n" not in msg


def test_validator_rejects_bare_value_and_unexplained_estimate(tmp_path):
    s = yaml.safe_load((catalog_root() / "sensors" / "sony-imx273.yaml").read_text("utf-8"))
    bare = dict(s, read_noise_e=3.0)
    with pytest.raises(ConfigError, match="read_noise_e.*bare value has no source"):
        SensorEntry.from_dict(bare)
    unexplained = dict(s, adc_bits={"value": 12, "source": "x.pdf", "confidence": "estimated"})
    with pytest.raises(ConfigError, match="adc_bits.*needs a note"):
        SensorEntry.from_dict(unexplained)
    wrong = dict(s, shutter={"value": "rolling-ish", "source": "x.pdf"})
    with pytest.raises(ConfigError, match="shutter.value.*global, rolling, ccd"):
        SensorEntry.from_dict(wrong)


def test_malformed_files_give_one_clear_line(tmp_path):
    root = _write_catalog(tmp_path)
    (root / "lenses" / "broken.yaml").write_text("name: broken\nfocal_length_mm: [1,\n",
                                                 encoding="utf-8")
    with pytest.raises(ConfigError, match=r"broken\.yaml.*not valid YAML"):
        load_catalog(root)
    (root / "lenses" / "broken.yaml").unlink()
    mod = root / "modules" / "phone-imx586-main.yaml"
    data = yaml.safe_load(mod.read_text("utf-8"))
    data["sensor"] = "sony-imx999"
    mod.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_catalog(root)
    assert "sony-imx999" in str(exc.value) and "sony-imx273" in str(exc.value)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(UnknownNameError) as exc:
        get_sensor("sony-imx999")
    assert "sony-imx273" in str(exc.value) and "kodak-kaf3200me" in str(exc.value)
    with pytest.raises(UnknownNameError, match="catalog:phone-imx586-main"):
        load_module("no-such-module")


# --------------------------------------------------------------------------- coverage

def test_catalog_counts_and_classes():
    s = CAT.sensors
    v = {n: (e.value("shutter"), e.value("illumination")) for n, e in s.items()}
    assert len(s) >= 20 and len(CAT.lenses) >= 6 and len(CAT.modules) >= 8
    assert sum(x == ("global", "bsi") for x in v.values()) >= 2          # BSI GS
    assert sum(x == ("global", "fsi") for x in v.values()) >= 2          # FSI GS
    assert sum(x[0] == "ccd" for x in v.values()) >= 1                   # CCD
    phones = [n for n, e in s.items() if "mobile phone" in sensor_applications(e)]
    assert len(phones) >= 2 and all(v[n][0] == "rolling" for n in phones)
    nir_auto_sec = [n for n, e in s.items() if e.value("nir_sensitive", False) and
                    {"automotive in-cabin", "security/surveillance"} & set(sensor_applications(e))]
    assert len(nir_auto_sec) >= 2
    vendors = {e.vendor for e in s.values()}
    assert {"Sony", "STMicroelectronics", "SmartSens", "onsemi", "ams OSRAM",
            "OMNIVISION"} <= vendors
    # one module per application class
    covered = set()
    for m in CAT.modules.values():
        covered |= set(module_applications(CAT.sensors[m.sensor], CAT.lenses[m.lens]))
    assert covered == set(APPLICATIONS)


# --------------------------------------------------------------------------- derived tags

@pytest.mark.parametrize("w, h, cls", [(1456, 1088, "< 2 MP"), (1920, 1080, "2–5 MP"),
                                       (2560, 1920, "2–5 MP"), (2592, 1944, "> 5 MP"), (8000, 6000, "> 5 MP"),
                                       (1999, 1000, "< 2 MP"), (2000, 1000, "2–5 MP")])
def test_resolution_class(w, h, cls):
    assert resolution_class(w, h) == cls


@pytest.mark.parametrize("name, must, must_not", [
    ("sony-imx273", {"industrial"}, {"mobile phone", "automotive ADAS"}),
    ("sony-imx586", {"mobile phone"}, {"industrial", "medical endoscopy"}),
    ("sony-imx462", {"security/surveillance", "smart home"}, {"mobile phone", "industrial"}),
    ("st-vd56g3", {"automotive in-cabin"}, {"mobile phone"}),
    ("omnivision-ox03c10", {"automotive ADAS"}, {"mobile phone", "industrial"}),
    ("omnivision-ov6948", {"medical endoscopy"}, {"industrial", "mobile phone"}),
    ("kodak-kaf3200me", {"industrial"}, {"mobile phone", "security/surveillance"}),
])
def test_derived_application_tags(name, must, must_not):
    tags = set(sensor_applications(get_sensor(name)))
    assert must <= tags and not (must_not & tags), tags


def test_tags_follow_the_figures_not_the_name():
    # the same IMX273 entry with a rolling shutter stops being "industrial"; a published
    # 940 nm QE of 30 % makes a global-shutter part an in-cabin candidate
    e = get_sensor("sony-imx273")
    rolling = e.model_copy(update={"shutter": e.shutter.model_copy(update={"value": "rolling"})})
    assert "industrial" not in sensor_applications(rolling)
    nir = e.model_copy(update={"qe_940nm": e.shutter.model_copy(update={"value": 0.3})})
    assert "automotive in-cabin" in sensor_applications(nir)


# --------------------------------------------------------------------------- simulator specs

@pytest.mark.parametrize("name", SENSORS)
def test_every_sensor_builds_a_sensorspec_with_its_published_figures(name):
    e = get_sensor(name)
    spec = to_sensor_spec(e)
    assert isinstance(spec, SensorSpec)
    assert (spec.width_px, spec.height_px) == (e.value("width_px"), e.value("height_px"))
    assert spec.pixel_pitch_um == pytest.approx(e.value("pixel_pitch_um"), abs=TIGHT)
    assert spec.full_well_e == pytest.approx(e.value("full_well_e"), abs=TIGHT)
    assert spec.read_noise_e == pytest.approx(e.value("read_noise_e"), abs=TIGHT)
    assert spec.adc_bits == e.value("adc_bits")
    assert spec.shutter.type == e.value("shutter")
    # conversion gain: saturation lands on the ADC white level
    sat_dn = spec.black_level_dn + spec.full_well_e * spec.conversion_gain_dn_per_e
    assert sat_dn == pytest.approx(spec.white_level_dn, rel=1e-12)
    if e.qe_peak is not None:
        q = modelled_qe(spec.pixel, spec.illumination, spec.pixel_pitch_um)
        assert float(q.max()) == pytest.approx(e.value("qe_peak"), abs=QE_ABS), name


def test_imx273_published_figures_carried_through():
    # sensors_published.csv: IMX273 saturation 10500 e- (Basler), ~3 e- noise, 12-bit,
    # 226.5 fps (Balluff) -> row time 1/(226.5 * 1088) s
    spec = to_sensor_spec("sony-imx273")
    assert spec.full_well_e == 10500 and spec.read_noise_e == 3.0 and spec.adc_bits == 12
    assert spec.illumination == "fsi" and spec.cfa == "mono" and spec.shutter.type == "global"
    assert spec.shutter.line_time_s == pytest.approx(1 / (226.5 * 1088), rel=1e-12)
    assert spec.conversion_gain_dn_per_e == pytest.approx(
        conversion_gain_dn_per_e(10500, 12), rel=TIGHT)
    kaf = to_sensor_spec("kodak-kaf3200me")  # Buil: 12.6 e-, 0.08 e-/s at 0 degC, 16 bit
    assert (kaf.read_noise_e, kaf.dark_current_e_per_s, kaf.dark_reference_c) == (12.6, 0.08, 0.0)
    assert kaf.shutter.type == "ccd" and kaf.adc_bits == 16


def test_measured_qe_curve_wins_over_the_pixel_model():
    s = yaml.safe_load((catalog_root() / "sensors" / "sony-imx273.yaml").read_text("utf-8"))
    curve = {"wavelengths_nm": [400, 500, 600, 700, 800], "values": [0.3, 0.6, 0.55, 0.4, 0.2]}
    s["qe_curve"] = {"value": curve, "source": "digitised datasheet figure (test)"}
    spec = to_sensor_spec(SensorEntry.from_dict(s))
    assert spec.qe.curve is not None
    np.testing.assert_allclose(spec.qe.curve.sample([500.0, 650.0]), [0.6, 0.475])


def test_lens_and_module_conversion():
    lens = to_lens_spec("rpi-16mm-c-mount", object_distance_m=0.5)
    assert (lens.focal_length_mm, lens.f_number, lens.object_distance_m) == (16.0, 1.4, 0.5)
    assert lens.ir_cut is None
    assert to_lens_spec("innomaker-imx415-4.9mm").ir_cut is not None
    for name in MODULES:
        m = to_module(name)
        assert isinstance(m, ModuleSpec) and m.name == name
        entry = CAT.modules[name]
        assert m.sensor.name == entry.sensor and m.lens.name == entry.lens
    # reachable through load_module by prefix and by plain name; builtins still win
    assert load_module("catalog:industrial-imx273-c16") == to_module("industrial-imx273-c16")
    assert load_module("industrial-imx273-c16").sensor.full_well_e == 10500
    assert load_module("default").name == "default"


def test_capture_through_a_catalog_module():
    from camtwin.camera import module_scene, shoot

    m = load_module("catalog:endoscope-ov6948")
    scene = module_scene(m, "uniform", illuminance_lux=300.0)
    shot = shoot(m, scene, rng=3)
    dn = np.asarray(shot.raw.dn)
    assert dn.shape == (200, 200)
    assert dn.max() <= m.sensor.white_level_dn and dn.mean() > m.sensor.black_level_dn + 10


def test_cache_returns_the_same_objects_until_cleared():
    assert load_catalog() is load_catalog()
    a = to_module("endoscope-ov6948")
    assert to_module("endoscope-ov6948") is a
    clear_cache()
    assert to_module("endoscope-ov6948") == a


# --------------------------------------------------------------------------- CLI

def run_cli(*args):
    cmd = [sys.executable, "-W", "error", "-m", "camtwin.cli", "catalog", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_cli_list_and_show_json():
    r = run_cli("list", "--kind", "sensors", "--application", "industrial", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    names = {x["name"] for x in rows}
    assert "sony-imx273" in names and "sony-imx586" not in names
    assert all("industrial" in x["applications"] for x in rows)
    r = run_cli("show", "sony-imx273", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["figures"]["full_well_e"]["value"] == 10500
    assert all(f["source"] for f in info["figures"].values())
    assert info["derived"]["modelled_peak_qe"] == pytest.approx(0.63, abs=QE_ABS)
    r = run_cli("list", "--kind", "modules")
    assert r.returncode == 0 and "endoscope" in r.stdout
    r = run_cli("show", "endoscope-ov6948")
    assert r.returncode == 0 and "published" in r.stdout


def test_cli_unknown_name_is_one_line_with_valid_names():
    r = run_cli("show", "sony-imx999")
    assert r.returncode == 2 and r.stdout == ""
    line = r.stderr.strip()
    assert "\n" not in line and "sony-imx999" in line and "sony-imx273" in line
    r = run_cli("list", "--kind", "cameras")
    assert r.returncode == 2 and "valid choices: lenses, modules, sensors" in r.stderr


def test_published_lens_figures_reach_the_simulated_lens():
    # ElectroDragon M12 3.9 mm F1.0 page (source in the YAML): optical distortion −32 %,
    # relative illumination 43 %, CRA 10.8° at full field. The LensSpec must reproduce them.
    import numpy as np

    from camtwin.catalog.convert import to_lens_spec

    lens = to_lens_spec("electrodragon-m12-3.9mm-f1.0")
    ff = lens.full_field_mm(1.0)
    assert lens.distortion.percent_at(1.0) == pytest.approx(-32.0)
    assert lens.cra_full_field_deg == pytest.approx(10.8)
    ri = float(lens.relative_illumination(np.array([ff]), ff)[0])
    assert ri == pytest.approx(0.43, abs=0.005)
