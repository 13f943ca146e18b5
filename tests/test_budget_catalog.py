"""Catalog power and link figures (issue 21) wired into camtwin.budget.

Goals: a catalog sensor with a sourced typical power has its power model calibrated to that
figure in the published mode (the model reproduces it, and power grows with frame rate);
sensors without keep the generic model and the metric says so; a published CSI-2 link
(AR0820AT) gives ``link_max_fps``; bad figure values are one-line errors naming the field,
the value and the valid range.
"""

from __future__ import annotations

import math

import pytest
import yaml

from camtwin.budget.link import LinkSpec, catalog_link, frame_bits, mode_for
from camtwin.budget.power import (GENERIC_POWER, POWER_MODELS, catalog_power, module_power,
                                  published_power_mode, sensor_power_mw)
from camtwin.catalog.convert import to_module, to_sensor_spec
from camtwin.catalog.loader import get_sensor, load_catalog
from camtwin.catalog.schema import SensorEntry
from camtwin.errors import ConfigError
from camtwin.evaluate import measure

#: Catalog sensors with a sourced typical power (figures power_mw + power_mode).
POWERED = sorted(n for n, e in load_catalog().entries("sensors").items()
                 if e.power_mw is not None)

#: Published totals, typed in from the sources (tolerance: the figure's printed digits,
#: ±0.5 in the last digit of e.g. "620 mW" → 0.1 %; the test allows the brief's 1 %).
#: onsemi NOIP1SN1300A/D Rev. 6: "Power Dissipation: 620 mW (P1, 4 LVDS, ZROT)", SXGA
#: 210 fps ZROT. e2v EV76C570 datasheet (2013): "Low power consumption (200mW)", mode taken
#: as its headline 1600 x 1200 at 50 fps (power_mode estimated, see the catalog note).
GOLD_MW = {"onsemi-python1300": (620.0, 210.0, 1280, 1024),
           "teledyne-ev76c570": (200.0, 50.0, 1600, 1200)}


def test_the_sourced_parts_are_the_gold_ones():
    assert POWERED == sorted(GOLD_MW)


@pytest.mark.parametrize("name", POWERED)
def test_model_reproduces_the_published_figure_in_the_published_mode(name):
    total, fps, w, h = GOLD_MW[name]
    entry = get_sensor(name)
    mode = published_power_mode(entry)
    assert (mode.fps, mode.width_px, mode.height_px) == (fps, w, h)
    for base in POWER_MODELS.values():
        spec = catalog_power(name, base)
        p = sensor_power_mw(mode, catalog_link(name), spec)
        assert p == pytest.approx(total, rel=0.01)
        assert spec.static_mw == base.static_mw             # static share of the base model
        assert f"{total:g} mW" in spec.calibration and entry.power_mw.source in spec.calibration


@pytest.mark.parametrize("name", POWERED)
def test_power_grows_with_frame_rate_and_keeps_the_static_floor(name):
    spec = catalog_power(name)
    mode = published_power_mode(get_sensor(name))
    link = catalog_link(name)
    p = [sensor_power_mw(mode.replace(fps=mode.fps * k), link, spec) for k in (0.25, 0.5, 1, 2)]
    assert p[0] < p[1] < p[2] < p[3]
    # affine in fps (static + per-pixel energy): equal fps steps give equal power steps, and
    # the intercept is the static power
    assert p[3] - p[2] == pytest.approx(2 * (p[2] - p[1]), rel=1e-9)
    slope = (p[2] - p[1]) / (0.5 * mode.fps)
    assert p[2] - slope * mode.fps == pytest.approx(spec.static_mw, rel=1e-9)


@pytest.mark.parametrize("name", POWERED)
def test_metric_uses_the_part_calibration_and_names_its_source(name):
    total, fps, _, _ = GOLD_MW[name]
    # no catalog module carries the part: put its sensor into a module of the same class
    module = to_module("industrial-imx273-c16").model_copy(
        update={"sensor": to_sensor_spec(name)})
    r = measure(module, "sensor_power_mw", {"frame_rate_fps": fps})
    # the module streams its full array, the published mode may list the nominal size
    # (EV76C570: 1602 x 1202 array, 1600 x 1200 in the datasheet): same pixel rate to 1 %
    full, pub = mode_for(module.sensor, fps=fps), published_power_mode(get_sensor(name))
    assert full.width_px * full.height_px == pytest.approx(pub.width_px * pub.height_px,
                                                           rel=0.01)
    assert r.value == pytest.approx(total, rel=0.01)
    assert "published figure" in r.source and get_sensor(name).power_mw.source in r.source
    slow = measure(module, "sensor_power_mw", {"frame_rate_fps": fps / 2}).value
    assert slow < r.value


def test_part_without_figure_keeps_the_generic_model_and_says_so():
    m = to_module("adas-ox03c10-surround")
    spec, source = module_power(m, "stacked")
    assert spec is GENERIC_POWER and "no published power figure" in source
    r = measure(m, "sensor_power_mw", {"frame_rate_fps": 30.0})
    assert r.source == source
    assert r.value == pytest.approx(
        sensor_power_mw(mode_for(m.sensor, fps=30.0), catalog_link(m.sensor.name)), rel=1e-12)


def test_ar0820at_link_is_published_and_carries_30_fps():
    link = catalog_link("onsemi-ar0820at")
    assert link == LinkSpec(phy="dphy", lanes=4, lane_rate_gbps=0.8)
    m = to_module("adas-ar0820at-front")
    r = measure(m, "link_max_fps")
    assert r.applicable and "catalog" in r.source
    assert r.value == pytest.approx(3.2e9 / frame_bits(mode_for(m.sensor)), rel=1e-12)
    assert r.value >= 30.0                    # the automotive_adas requirement (min 30 fps)


def test_imx490_lanes_published_but_link_incomplete():
    e = get_sensor("sony-imx490")
    assert e.value("mipi_lanes") == 4 and e.value("mipi_lane_rate_gbps") is None
    r = measure(to_module("adas-imx490-front"), "link_max_fps")
    assert not r.applicable and math.isnan(r.value)


# ------------------------------------------------------------------ bad figure values
def _entry(**extra) -> dict:
    d = yaml.safe_load(yaml.safe_dump(get_sensor("onsemi-python1300").model_dump(
        exclude_none=True)))
    d.update(extra)
    return d


def _fig(value):
    return {"value": value, "source": "test source", "confidence": "published"}


@pytest.mark.parametrize("extra, words", [
    ({"power_mw": _fig(-5.0)}, ["power_mw.value = -5.0", "0.01..100000"]),
    ({"power_mw": _fig("620")}, ["power_mw.value = '620'", "int/float"]),
    ({"standby_mw": _fig(2e5)}, ["standby_mw.value = 200000.0", "0.0..10000"]),
    ({"power_mode": _fig({"fps": 0.0})}, ["power_mode.value.fps = 0.0", "0.01..100000"]),
    ({"power_mode": _fig({"fps": 30.0, "bits_per_pixel": 40})},
     ["power_mode.value.bits_per_pixel = 40", "6..32"]),
    ({"power_mode": _fig({"fps": 30.0, "lanes": 4})}, ["power_mode.value keys", "lanes",
                                                        "fps"]),
    ({"power_mode": _fig({"width_px": 640})}, ["'fps' is required"]),
])
def test_bad_power_figures_are_one_line_errors(extra, words):
    with pytest.raises(ValueError) as e:
        SensorEntry(**_entry(**extra))
    line = next(ln for ln in str(e.value).splitlines() if any(w in ln for w in words))
    assert all(w in line for w in words), str(e.value)


def test_power_without_its_mode_is_rejected():
    d = _entry()
    del d["power_mode"]
    with pytest.raises(ValueError, match="power_mw is given: power_mode is required"):
        SensorEntry(**d)


def test_power_below_the_static_floor_cannot_be_calibrated():
    base = POWER_MODELS["legacy"]                              # 50 mW static
    with pytest.raises(ConfigError, match="total_mw = 20.0"):
        from camtwin.budget.power import calibrate_power
        calibrate_power(20.0, published_power_mode(get_sensor("onsemi-python1300")), None,
                        base)
