"""Spectra and units: checked against CIE definitions and colour-science."""

from __future__ import annotations

import colour
import numpy as np
import pytest

from camtwin import spectra, units
from camtwin.errors import ConfigError, UnknownNameError


def test_default_grid():
    wl = spectra.DEFAULT_WAVELENGTHS_NM
    assert wl[0] == 380 and wl[-1] == 1000 and np.allclose(np.diff(wl), 5.0)


def test_photon_energy_matches_hc_over_lambda():
    # hc = 1239.84198 eV·nm (CODATA 2018, exact constants)
    assert units.photon_energy_ev(1239.84198) == pytest.approx(1.0, rel=1e-8)
    # same photon count from nm and from the equivalent frequency (law, not number)
    nu_hz = units.SPEED_OF_LIGHT_M_S / 550e-9
    assert units.photon_energy_j(550.0) == pytest.approx(units.PLANCK_J_S * nu_hz, rel=1e-12)
    n = units.watts_to_photons_per_s(2.0, 550.0)
    assert units.photons_per_s_to_watts(n, 550.0) == pytest.approx(2.0, rel=1e-12)


def test_one_watt_at_555nm_is_683_lumen():
    # SI definition of the candela: 1 W of 540 THz (≈555 nm) radiation = 683 lm, V(555) = 1.
    wl = np.arange(545.0, 566.0, 5.0)
    e = np.zeros_like(wl)
    e[2] = 1.0 / units.wavelength_step_nm(wl)[2]  # 1 W/m² concentrated in the 555 nm bin
    assert spectra.illuminance_lux(e, wl) == pytest.approx(683.0, rel=1e-4)


def test_scale_to_illuminance_round_trip_and_colour_science():
    wl = spectra.DEFAULT_WAVELENGTHS_NM
    e = spectra.scale_to_illuminance(spectra.illuminant_spd("D65", wl), 250.0, wl)
    assert spectra.illuminance_lux(e, wl) == pytest.approx(250.0, rel=1e-12)
    # independent route: colour-science's luminous flux of the native 5 nm D65 table
    sd = colour.SDS_ILLUMINANTS["D65"]
    k = 250.0 / colour.luminous_flux(sd)
    lam = np.arange(400, 701, 5)
    np.testing.assert_allclose(np.interp(lam, wl, e), k * sd[lam], rtol=3e-3)


@pytest.mark.parametrize("name, xy", [("D65", (0.31271, 0.32902)), ("A", (0.44757, 0.40745))])
def test_illuminant_chromaticity(name, xy):
    # CIE 015:2018 Table 1 chromaticities of D65 and A (CIE 1931 2°)
    wl = spectra.DEFAULT_WAVELENGTHS_NM
    xyz = spectra.illuminant_spd(name, wl) @ (spectra.cie1931_cmfs(wl) *
                                               units.wavelength_step_nm(wl)[:, None])
    got = xyz[:2] / xyz.sum()
    np.testing.assert_allclose(got, xy, atol=2e-4)


def test_illuminant_a_is_planckian_into_nir():
    wl = spectra.DEFAULT_WAVELENGTHS_NM
    a = spectra.illuminant_spd("A", wl)
    b = spectra.planck_spectral_radiance(wl, 2856.0)
    np.testing.assert_allclose(a / a[wl == 560], b / b[wl == 560], rtol=2e-3)


def test_d65_nir_extension_is_continuous_and_positive():
    wl = spectra.DEFAULT_WAVELENGTHS_NM
    d = spectra.illuminant_spd("D65", wl)
    i780 = int(np.argmin(abs(wl - 780)))
    assert np.all(d[wl > 780] > 0)
    assert d[i780 + 1] / d[i780] == pytest.approx(1.0, abs=0.03)


def test_ir_leds_peak_where_named_and_have_no_lux():
    wl = spectra.DEFAULT_WAVELENGTHS_NM
    for name, peak in (("IR850", 850), ("IR940", 940)):
        s = spectra.illuminant_spd(name, wl)
        assert wl[np.argmax(s)] == peak
        with pytest.raises(ConfigError, match="no visible output"):
            spectra.scale_to_illuminance(s, 10.0, wl)
        e = spectra.scale_to_irradiance(s, 2.0, wl)
        assert float(np.sum(e * units.wavelength_step_nm(wl))) == pytest.approx(2.0)


def test_unknown_illuminant_lists_choices():
    with pytest.raises(UnknownNameError, match="D65"):
        spectra.illuminant_spd("D66")


def test_bad_grid_rejected():
    with pytest.raises(ConfigError):
        spectra.as_grid([500, 400])
