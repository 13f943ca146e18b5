"""The 3D-sensing catalog (camtwin.depth.catalog): sourced ToF sensors, illuminators, depth
modules and depth application profiles.

Reference values are independent of the catalog code: the speed of light (CODATA, exact) for
unambiguous ranges c/(2·f) of the published LUCID Helios2+ operating modes, the photon energy
hc/λ for TI's published OPT8241 responsivity, and the pinhole relation FoV = 2·atan(w/2f).
``RANGE_REL_TOL`` = 1.5 % is the rounding of the mode names in LUCID's table, printed to 2-3
significant digits and truncated ("8.3m" for 8.33 m, "4.0m" for 4.05 m at 37 MHz).
"""

from __future__ import annotations

import math
import shutil
from functools import reduce
from pathlib import Path

import pytest
import yaml

from camtwin.catalog.loader import catalog_names
from camtwin.depth import catalog as dc
from camtwin.errors import ConfigError, UnknownNameError
from camtwin.units import SPEED_OF_LIGHT_M_S

RANGE_REL_TOL = 0.015     # rounding of LUCID's mode names (see module docstring)
FOV_TOL_DEG = 0.5         # stated FoV vs pinhole FoV from f and the array width


@pytest.fixture(scope="module")
def cat():
    return dc.load_depth_catalog()


def _all_figures(entry):
    figs = dict(entry.figures())
    lens = getattr(entry, "lens", None)
    if lens is not None:
        figs.update({f"lens.{k}": getattr(lens, k) for k in type(lens).model_fields
                     if getattr(lens, k) is not None})
    return figs


# ------------------------------------------------------------------ validation and sources
def test_catalog_has_the_issue_parts(cat):
    kinds = {e.kind for e in cat["sensors"].values()}
    assert kinds == {"itof", "dtof"}
    assert len(cat["sensors"]) >= 5 and len(cat["illuminators"]) >= 4
    assert {m.kind for m in cat["modules"].values()} == {"itof", "dtof", "stereo"}
    assert set(dc.builtin_depth_applications()) >= {"phone_face_unlock", "ar_vr",
                                                      "robot_navigation", "incabin_occupant"}


def test_every_figure_claim_and_requirement_has_a_source(cat):
    n = 0
    for kind in dc.DEPTH_KINDS:
        for name, entry in cat[kind].items():
            assert entry.name == name
            for field, fig in _all_figures(entry).items():
                assert len(fig.source.strip()) >= 3, (name, field)
                assert fig.confidence in ("published", "derived", "estimated")
                if fig.confidence != "published":
                    assert fig.note.strip(), (name, field)
                n += 1
            for claim in entry.published_performance:
                assert claim.source.startswith(("http", "camtwin")), (name, claim.metric)
    assert n > 150
    for app in dc.builtin_depth_applications():
        spec = dc.depth_application(app)
        for r in spec.requirements:
            assert r.basis in ("standard", "practice") and len(r.source) > 20, (app, r.metric)


def test_estimates_are_never_called_published(cat):
    """An estimate's source is the catalog's own estimate marker, and only estimates use it."""
    for kind in dc.DEPTH_KINDS:
        for name, entry in cat[kind].items():
            for field, fig in _all_figures(entry).items():
                if fig.source.startswith("camtwin catalog engineering estimate"):
                    assert fig.confidence == "estimated", (name, field)


def test_published_performance_claims_are_recorded(cat):
    claims = {(n, c.metric) for kind in ("sensors", "modules")
              for n, e in cat[kind].items() for c in e.published_performance}
    assert ("st-vl53l5cx", "max_range_m") in claims
    assert ("st-vl53l1x", "max_range_m") in claims
    assert ("industrial-itof-imx556", "unambiguous_range_m") in claims


# ------------------------------------------------------------------ physical consistency
def test_published_unambiguous_ranges_match_c_over_2_gcd(cat):
    """LUCID's Helios2+ mode names are the unambiguous ranges c/(2·gcd(f_i)) of their
    modulation frequencies (integer MHz), within the rounding of the names."""
    checked = 0
    for entry in cat["modules"].values():
        for c in entry.published_performance:
            if c.metric != "unambiguous_range_m":
                continue
            f = [int(round(x)) for x in c.conditions["modulation_frequencies_mhz"]]
            f_beat_hz = reduce(math.gcd, f) * 1e6
            assert SPEED_OF_LIGHT_M_S / (2 * f_beat_hz) == pytest.approx(
                c.value, rel=RANGE_REL_TOL), c.conditions
            checked += 1
    assert checked == 6


def test_opt8241_qe_from_published_responsivity():
    """QE = R·h·c/(q·λ): 0.35 A/W at 850 nm (TI OPT8241 datasheet front page) → 0.511."""
    h, q = 6.62607015e-34, 1.602176634e-19     # exact SI constants
    qe = 0.35 * h * SPEED_OF_LIGHT_M_S / (q * 850e-9)
    s = dc.depth_sensor_entry("ti-opt8241")
    assert s.value("qe_850nm") == pytest.approx(qe, abs=0.005)
    assert s.value("demodulation_contrast") == 0.45          # published, copied
    assert s.value("demodulation_contrast_at_mhz") == 50.0


def test_values_in_physical_ranges(cat):
    for name, s in cat["sensors"].items():
        assert 1 <= s.value("width_px") <= 4096 and 1 <= s.value("pixel_pitch_um") <= 100, name
        if s.kind == "itof":
            lo = s.value("modulation_frequency_min_mhz", 0.0)
            hi = s.value("modulation_frequency_max_mhz", 500.0)
            assert all(lo <= f <= hi for f in s.value("modulation_frequencies_mhz")), name
            assert 0 < s.value("demodulation_contrast") <= 1
            for wl in ("qe_850nm", "qe_940nm"):
                if s.value(wl) is not None:
                    assert 0 < s.value(wl) < 0.9, (name, wl)   # no silicon pixel reaches 0.9 in NIR
            if s.value("qe_850nm") is not None and s.value("qe_940nm") is not None:
                assert s.value("qe_940nm") < s.value("qe_850nm"), name  # absorption length grows
        else:
            # the histogram spans the published maximum range: n_bins·Δt ≥ 2·R/c
            span_s = s.value("n_bins") * s.value("tdc_bin_ps") * 1e-12
            assert span_s >= 2 * s.value("max_range_m") / SPEED_OF_LIGHT_M_S, name
            assert s.value("zones_h") * s.value("zone_size_px") <= s.value("width_px")
            assert 0 < s.value("photon_detection_efficiency") <= 0.28   # IMX611: industry max
    for name, ill in cat["illuminators"].items():
        assert ill.value("wavelength_nm") in (850.0, 940.0), name
        if ill.value("modulation") == "pulsed":
            assert ill.value("pulse_width_ns") * 1e-9 * ill.value("repetition_rate_hz") <= 1.0
            # no range aliasing inside the sensor's published maximum range
            period_m = SPEED_OF_LIGHT_M_S / (2 * ill.value("repetition_rate_hz"))
            assert period_m >= 4.0, name


def test_modules_reference_existing_parts(cat):
    sensors_2d = set(catalog_names("sensors"))
    for name, m in cat["modules"].items():
        if m.kind == "stereo":
            assert m.sensor in sensors_2d, name
        else:
            assert cat["sensors"][m.sensor].kind == m.kind, name
        if m.illuminator is not None:
            assert m.illuminator in cat["illuminators"], name


def test_module_field_of_view_matches_its_focal_length(cat):
    for name, m in cat["modules"].items():
        stated = m.lens.value("hfov_deg")
        assert stated is not None, name
        assert dc.module_hfov_deg(name) == pytest.approx(stated, abs=FOV_TOL_DEG), name


# ------------------------------------------------------------------ conversions
def test_itof_fields_take_qe_at_the_illuminator_wavelength():
    f850 = dc.itof_spec_fields("industrial-itof-imx556")
    f940 = dc.itof_spec_fields("phone-rear-itof-imx556")
    s = dc.depth_sensor_entry("sony-imx556")
    assert f850["quantum_efficiency"] == s.value("qe_850nm")
    assert f940["quantum_efficiency"] == s.value("qe_940nm")
    assert f940["modulation_frequencies_mhz"] == [100.0, 80.0]      # module mode overrides
    assert set(f850) == set(dc._ITOF_REQUIRED) | {"quantum_efficiency"}


def test_illuminator_and_geometry_fields():
    ill = dc.illuminator_fields("st-vl53l5cx-vcsel")
    assert ill["modulation"] == "pulsed" and ill["repetition_rate_hz"] == 2e7
    assert set(ill) <= set(dc.ILLUMINATOR_SPEC_FIELDS)
    g = dc.geometry_fields("active-stereo-ov9281")
    assert (g["width_px"], g["height_px"], g["pixel_pitch_um"]) == (1280, 800, 3.0)
    assert dc.stereo_spec_fields("active-stereo-ov9281")["baseline_mm"] == 55.0


def test_every_catalog_entry_builds_the_simulator_specs(cat):
    """Every sensor, illuminator and module turns into the real spec objects of
    depth/itof.py, dtof.py, illuminator.py and scene.py (field names of DEPTH_API.md)."""
    from camtwin.depth.dtof import DTofSpec
    from camtwin.depth.illuminator import Illuminator
    from camtwin.depth.itof import ITofSpec
    from camtwin.depth.pattern import DotPattern
    from camtwin.depth.scene import PinholeGeometry
    from camtwin.depth.stereo import StereoSpec

    for name, s in cat["sensors"].items():
        spec = (ITofSpec(**dc.itof_spec_fields(name)) if s.kind == "itof"
                else DTofSpec(**dc.dtof_spec_fields(name)))
        assert spec is not None
    for name in cat["illuminators"]:
        assert Illuminator(**dc.illuminator_fields(name)).wavelength_nm in (850.0, 940.0)
    for name, m in cat["modules"].items():
        specs = dc.build_depth_specs(name)
        assert isinstance(specs["geometry"], PinholeGeometry)
        assert isinstance(specs["illuminator"], Illuminator)
        want = {"itof": ITofSpec, "dtof": DTofSpec, "stereo": StereoSpec}[m.kind]
        assert isinstance(specs["pixel"], want), name
        if m.kind == "stereo":
            assert isinstance(specs["pixel"].projector, DotPattern)
            assert specs["pixel"].baseline_mm == m.value("baseline_mm")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("fn, kind", [(dc.depth_sensor_entry, "depth sensor"),
                                      (dc.depth_module_entry, "depth module"),
                                      (dc.illuminator_entry, "depth illuminator"),
                                      (dc.depth_application, "depth application")])
def test_unknown_names_are_one_line_errors(fn, kind):
    with pytest.raises(UnknownNameError) as err:
        fn("no-such-part")
    msg = str(err.value)
    assert "\n" not in msg and kind in msg and "'no-such-part'" in msg
    assert "valid choices:" in msg


@pytest.fixture
def tmp_catalog(tmp_path):
    root = tmp_path / "depth"
    shutil.copytree(dc.depth_catalog_root(), root)
    yield root
    dc.clear_depth_cache()


def _edit(path: Path, **changes):
    data = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        data[key] = value
    path.write_text(yaml.safe_dump(data))


def test_figure_without_source_names_file_and_field(tmp_catalog):
    p = tmp_catalog / "sensors" / "sony-imx556.yaml"
    _edit(p, full_well_e={"value": 50000})
    with pytest.raises(ConfigError) as err:
        dc.depth_sensor_entry("sony-imx556", root=tmp_catalog)
    msg = str(err.value)
    assert "\n" not in msg and "sony-imx556" in msg and "full_well_e.source" in msg


@pytest.mark.parametrize("field, value, words", [
    ("demodulation_contrast", 1.5, "valid range"),
    ("modulation_frequencies_mhz", [0.0], "(0, 500]"),
    ("phases", 6, "valid choices are 4, 8"),
    ("full_well_e", 10.0, "must be below full_well_e"),
    ("integration_time_s", 0.01, "must be >= integration_time_s"),
])
def test_unphysical_itof_figures_are_rejected(tmp_catalog, field, value, words):
    p = tmp_catalog / "sensors" / "sony-imx556.yaml"
    fig = yaml.safe_load(p.read_text())[field]
    fig["value"] = value
    _edit(p, **{field: fig})
    with pytest.raises(ConfigError) as err:
        dc.depth_sensor_entry("sony-imx556", root=tmp_catalog)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_module_with_unknown_illuminator_is_rejected(tmp_catalog):
    _edit(tmp_catalog / "modules" / "incabin-itof-mlx75027.yaml", illuminator="nope-led")
    with pytest.raises(ConfigError, match="illuminator 'nope-led' is not in the catalog"):
        dc.load_depth_catalog(root=tmp_catalog)


def test_stereo_module_needs_a_baseline(tmp_catalog):
    p = tmp_catalog / "modules" / "active-stereo-ov9281.yaml"
    data = yaml.safe_load(p.read_text())
    del data["baseline_mm"]
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="needs baseline_mm"):
        dc.depth_module_entry("active-stereo-ov9281", root=tmp_catalog)


def test_depth_requirements_check_metric_and_conditions(tmp_path):
    good = dc.DepthRequirement(metric="precision_pct", max=1.0, basis="practice",
                               source="test source", conditions={"distance_m": 1.0})
    assert good.unit == "%" and good.passes(0.8) and not good.passes(1.2)
    assert good.margin(0.8) == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="unknown depth metric"):
        dc.DepthRequirement(metric="lux_at_snr10", max=1.0, basis="practice", source="xyz")
    with pytest.raises(ConfigError, match="unknown condition 'exposure_s'"):
        dc.DepthRequirement(metric="precision_pct", max=1.0, basis="practice", source="xyz",
                            conditions={"exposure_s": 0.01})
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump({"name": "mine", "title": "t", "requirements": [
        {"metric": "max_range_m", "min": 3.0, "basis": "standard", "source": "some standard"}]}))
    assert dc.depth_application(p).requirements[0].limit_text == "≥ 3 m"
