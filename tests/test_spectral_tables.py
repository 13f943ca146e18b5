"""The CIE / ColorChecker tables shipped in camtwin/data/spectra equal colour-science's data
(the reference: colour-science 0.4.x datasets, which reproduce CIE 015:2018, CIE S 017 and
BabelColor's ColorChecker averages). That the capture path imports none of colour-science is
tests/test_startup.py."""

import colour
import numpy as np
import pytest

from camtwin import spectra
from camtwin.measure import color as mcolor
from camtwin.scene import charts

SOURCES = {
    "D65": lambda: colour.SDS_ILLUMINANTS["D65"],
    "FL11": lambda: colour.SDS_ILLUMINANTS["FL11"],
    "LED-B3": lambda: colour.SDS_ILLUMINANTS["LED-B3"],
    "V1924": lambda: colour.SDS_LEFS["CIE 1924 Photopic Standard Observer"],
    "CMFS1931": lambda: colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"],
    "MALLETT2019": lambda: colour.recovery.MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019,
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_shipped_table_equals_colour_science(name):
    wl, values = spectra.cie_table(name)
    sd = SOURCES[name]()
    np.testing.assert_array_equal(wl, sd.wavelengths)
    np.testing.assert_array_equal(values, sd.values)


def test_shipped_colorchecker_equals_colour_science():
    wl, values = spectra.cie_table("COLORCHECKER")
    sds = colour.SDS_COLOURCHECKERS[charts.COLORCHECKER_DATASET]
    for name, row in zip(charts.COLORCHECKER_NAMES, values, strict=True):
        np.testing.assert_array_equal(wl, sds[name].wavelengths)
        np.testing.assert_array_equal(row, sds[name].values)


def test_shipped_constants_equal_colour_science():
    cc = colour.CCS_COLOURCHECKERS[mcolor.REFERENCE_SET]
    d65 = colour.xy_to_XYZ(colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"])
    ref = colour.chromatic_adaptation(colour.xyY_to_XYZ(np.array(list(cc.data.values()))),
                                      colour.xy_to_XYZ(cc.illuminant), d65,
                                      method="Von Kries", transform="Bradford")
    np.testing.assert_allclose(mcolor.reference_xyz_d65(), ref, rtol=0, atol=1e-15)
    np.testing.assert_allclose(mcolor.reference_linear_srgb(),
                               colour.XYZ_to_RGB(ref, "sRGB", apply_cctf_encoding=False),
                               rtol=0, atol=1e-14)
    np.testing.assert_array_equal(spectra.cie_constant("D65_WHITE_XYZ"), d65)


def test_unknown_table_names_the_valid_ones():
    with pytest.raises(Exception, match="CMFS1931"):
        spectra.cie_table("CMFS1964")


def test_illuminant_a_is_cie_formula_as_colour_science():
    # colour-science evaluates CIE 015:2018 eq. 2.1 on its own; compare on a non-5-nm grid.
    wl = np.linspace(381.3, 998.7, 97)
    ref = colour.sd_CIE_standard_illuminant_A(colour.SpectralShape(380, 1000, 0.1))
    np.testing.assert_allclose(spectra.illuminant_spd("A", wl),
                               np.interp(wl, ref.wavelengths, ref.values), rtol=1e-6)


def test_lab_and_delta_e_match_colour_science():
    rng = np.random.default_rng(3)
    xyz = rng.uniform(0.001, 1.0, (200, 3))
    white = spectra.cie_constant("D65_WHITE_XYZ")
    lab = mcolor.xyz_to_lab(xyz, white)
    np.testing.assert_allclose(lab, colour.XYZ_to_Lab(xyz, colour.XYZ_to_xy(white)),
                               rtol=0, atol=1e-10)
    # whole ΔE00 route of colorchecker_delta_e against colour-science's, on a noisy chart
    ref_rgb = mcolor.reference_linear_srgb()
    img = np.repeat(np.repeat(np.clip(ref_rgb * rng.uniform(0.8, 1.2, ref_rgb.shape), 0, None)
                              .reshape(4, 6, 3), 10, axis=0), 10, axis=1)
    boxes = [(10 * r, 10 * r + 10, 10 * c, 10 * c + 10) for r in range(4) for c in range(6)]
    got = mcolor.colorchecker_delta_e(img, boxes, normalize_exposure=False)
    lab_meas = colour.XYZ_to_Lab(colour.RGB_to_XYZ(img[5::10, 5::10].reshape(24, 3), "sRGB",
                                                   apply_cctf_decoding=False),
                                 colour.XYZ_to_xy(white))
    lab_ref = colour.XYZ_to_Lab(mcolor.reference_xyz_d65(), colour.XYZ_to_xy(white))
    np.testing.assert_allclose(got["delta_e00"], colour.delta_E(lab_meas, lab_ref,
                                                                method="CIE 2000"), atol=1e-9)
    assert got["mean"] > 1.0  # the perturbation is visible


def test_from_rgb_linearisation_is_srgb_eotf():
    img = np.linspace(0, 1, 8 * 8 * 3).reshape(8, 8, 3)
    sc = charts.from_rgb(img, width_m=1.0, distance_m=2.0, illuminant="D65")
    lin = np.asarray(colour.cctf_decoding(img, function="sRGB"))
    np.testing.assert_allclose(np.moveaxis(np.asarray(sc.reflectance.weights), 0, -1), lin, atol=1e-6)
