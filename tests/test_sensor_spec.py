"""SensorSpec validation: bad specs give one clear line naming field and value."""

from __future__ import annotations

import pytest

from camtwin.errors import ConfigError
from camtwin.sensor import SensorSpec

BASE = dict(width_px=64, height_px=48, pixel_pitch_um=2.0, full_well_e=6000,
            conversion_gain_dn_per_e=0.5, read_noise_e=2.0)


@pytest.mark.parametrize("changes, words", [
    ({"read_noise_e": -1.0}, ["read_noise_e", "-1"]),
    ({"noise": {"row_noise_e": -0.5}}, ["noise.row_noise_e", "-0.5"]),
    ({"full_well_e": 1.5}, ["full well", "read noise"]),
    ({"cfa": "RGBW"}, ["cfa", "RGBW", "RGGB"]),
    ({"illumination": "tsi"}, ["illumination", "tsi"]),
    ({"shutter": {"type": "ccd"}, "noise": {"column_fpn_e": 1.0}}, ["CCD", "column_fpn_e"]),
    ({"conversion_mode": "lcg"}, ["lcg"]),
    ({"lcg": {"conversion_gain_dn_per_e": 0.1, "read_noise_e": 9.0, "full_well_e": 5.0}},
     ["lcg full well"]),
    ({"shutter": {"line_time_s": 0}}, ["shutter.line_time_s"]),
])
def test_bad_specs_are_rejected_clearly(changes, words):
    with pytest.raises(ConfigError) as info:
        SensorSpec(**{**BASE, **changes})
    message = str(info.value)
    assert "\n" not in message
    for w in words:
        assert w in message, message


def test_dark_current_doubles_per_doubling_temperature():
    s = SensorSpec(**BASE, dark_current_e_per_s=10.0, dark_reference_c=25.0, dark_doubling_c=6.5)
    assert s.dark_current_at(25.0) == pytest.approx(10.0)
    assert s.dark_current_at(31.5) == pytest.approx(20.0)
    assert s.dark_current_at(12.0) == pytest.approx(2.5)


def test_dual_conversion_gain_selects_mode():
    lcg = {"conversion_gain_dn_per_e": 0.1, "read_noise_e": 6.0, "full_well_e": 40000}
    s = SensorSpec(**BASE, lcg=lcg, conversion_mode="lcg", analog_gain=2.0)
    assert s.effective_full_well_e == 40000
    assert s.effective_read_noise_e == 6.0
    assert s.system_gain_dn_per_e == pytest.approx(0.2)
    hcg = s.replace(conversion_mode="hcg")
    assert hcg.effective_full_well_e == 6000 and hcg.effective_read_noise_e == 2.0


def test_voltage_domain_global_shutter_pays_sqrt2_read_noise():
    s = SensorSpec(**BASE, shutter={"type": "global", "pixel_domain": "voltage"})
    assert s.effective_read_noise_e == pytest.approx(2.0 * 2 ** 0.5)
    assert s.replace(shutter={"pixel_domain": "charge"}).effective_read_noise_e == 2.0


def test_nonlinearity_beyond_one_third_is_refused():
    # q·(1 − nl·(q/FWC)²) has slope 1 − 3·nl at full well: nl > 1/3 would make the response
    # fall with more light, so the spec refuses it with the valid range.
    from camtwin.sensor import NoiseSpec

    NoiseSpec(nonlinearity=1 / 3)
    with pytest.raises(ValueError, match=r"nonlinearity = 0.4: .*less than or equal to 0.333"):
        NoiseSpec(nonlinearity=0.4)
