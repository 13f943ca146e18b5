"""Fisheye lens projections (camtwin.optics.lens PROJECTIONS) through the whole module.

References:
* the projections r = f·P(θ) — rectilinear tan θ, equidistant θ, equisolid 2 sin(θ/2),
  stereographic 2 tan(θ/2), orthographic sin θ (Miyamoto, JOSA 54(8) 1964, 1060; Kingslake,
  *A History of the Photographic Lens*, 1989);
* natural falloff of a fixed entrance pupil: image irradiance ∝ cos θ (pupil foreshortening)
  × solid angle per image area sin θ dθ / (r dr) → RI = cos θ·sin θ/(P·P'), which gives the
  textbook cos⁴θ for rectilinear, cos θ for equisolid and 1 for orthographic; checked here
  against a finite-difference P' (independent of the closed forms in the code);
* OmniVision's OVM6948 (the catalog's endoscope module) is published with a 120° field.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from camtwin.camera import module_scene, scene_extent
from camtwin.errors import ConfigError
from camtwin.module import load_module
from camtwin.optics import form_image
from camtwin.optics.lens import (PROJECTIONS, projection_angle, projection_height,
                                 projection_relative_illumination)
from camtwin.scene.scene import Scene
from camtwin.spectra import DEFAULT_WAVELENGTHS_NM


@pytest.mark.parametrize("projection", PROJECTIONS)
def test_projection_inverse_and_falloff(projection):
    theta = np.radians(np.linspace(0.5, 75.0, 40))
    h = projection_height(projection, theta)
    np.testing.assert_allclose(projection_angle(projection, h), theta, rtol=1e-12)
    d = 1e-6  # P'(θ) by central differences, independent of the closed-form RI
    dp = (projection_height(projection, theta + d) - projection_height(projection, theta - d)) / (2 * d)
    expected = np.cos(theta) * np.sin(theta) / (h * dp)
    np.testing.assert_allclose(projection_relative_illumination(projection, theta), expected,
                               rtol=1e-6)
    # every projection is rectilinear near the axis: P'(0) = 1
    assert projection_height(projection, 1e-6) == pytest.approx(1e-6, rel=1e-6)


def test_textbook_falloffs():
    t = np.radians(50.0)
    assert projection_relative_illumination("rectilinear", t) == pytest.approx(math.cos(t) ** 4)
    assert projection_relative_illumination("equisolid", t) == pytest.approx(math.cos(t))
    assert projection_relative_illumination("orthographic", t) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def endoscope():
    return load_module("catalog:endoscope-ov6948")


def test_catalog_endoscope_field_of_view_matches_the_published_120_degrees(endoscope):
    lens, s = endoscope.lens, endoscope.sensor
    assert lens.projection == "equidistant"
    # equidistant: θ = r/v exactly; at the 10 mm object distance v = f(1 + m) > f
    r_c = 0.5 * math.hypot(s.width_mm, s.height_mm)
    assert endoscope.diagonal_fov_deg == pytest.approx(math.degrees(2 * r_c / lens.image_distance_mm),
                                                       rel=1e-12)
    assert endoscope.diagonal_fov_deg == pytest.approx(120.0, rel=0.03)  # published, at ∞
    assert endoscope.horizontal_fov_deg == pytest.approx(endoscope.diagonal_fov_deg / math.sqrt(2),
                                                         rel=1e-9)  # square die, θ ∝ r


def _dot_scene(module, x_frac: float):
    """A dark scene plane with one bright 3×3-sample dot at ``x_frac`` of the half-width."""
    shape, width_m = scene_extent(module)
    rad = np.zeros((DEFAULT_WAVELENGTHS_NM.size,) + shape, np.float32)
    cy, cx = shape[0] // 2, shape[1] // 2
    col = cx + int(round(x_frac * (shape[1] // 2)))
    rad[:, cy - 1:cy + 2, col - 1:col + 2] = 1.0
    x_m = (col - (shape[1] - 1) / 2.0) * width_m / shape[1]  # dot centre on the plane
    return Scene(radiance=rad, wavelengths_nm=DEFAULT_WAVELENGTHS_NM, width_m=width_m,
                 distance_m=module.lens.object_distance_m), x_m


@pytest.mark.parametrize("projection", ["equidistant", "equisolid", "stereographic"])
def test_a_point_lands_at_v_times_p_of_its_field_angle(endoscope, projection):
    module = endoscope.replace(lens={"projection": projection})
    lens = module.lens
    scene, x_m = _dot_scene(module, 0.8)
    oi = form_image(scene, lens, diffraction=False)
    img = oi.irradiance.sum(axis=0)
    cols = np.arange(img.shape[1]) - (img.shape[1] - 1) / 2.0
    # the optical image reaches beyond the sensor, where the scene continues mirrored at
    # its border; only the sensor's own width counts
    seen = np.abs(cols) * oi.sample_pitch_um <= module.sensor.width_mm * 1e3 / 2
    prof = img.sum(axis=0) * seen
    x_um = float((prof * cols).sum() / prof.sum()) * oi.sample_pitch_um
    theta = math.atan(x_m / lens.object_distance_m)
    expected_um = lens.image_height_mm(theta) * 1e3
    assert x_um == pytest.approx(expected_um, abs=0.5 * oi.sample_pitch_um)
    # …far from where a rectilinear lens would put it
    assert abs(lens.image_distance_mm * 1e3 * math.tan(theta) - x_um) > 5 * oi.sample_pitch_um


def test_uniform_scene_falls_off_as_the_projection_says(endoscope):
    module = endoscope.replace(lens={"projection": "equisolid"})
    scene = module_scene(module, "uniform", illuminance_lux=100.0)
    oi = form_image(scene, module.lens, diffraction=False)
    img = oi.irradiance[40]  # one band; geometry is wavelength independent here
    cy, cx = (img.shape[0] - 1) / 2.0, (img.shape[1] - 1) / 2.0
    c = img[int(cy), int(cx)]
    for dx in (30, 60, 90):
        r_mm = dx * oi.sample_pitch_um * 1e-3
        theta = float(module.lens.field_angle_rad(r_mm))
        assert img[int(cy), int(cx) + dx] / c == pytest.approx(math.cos(theta), rel=0.01)


def test_colorchecker_boxes_follow_the_fisheye(endoscope):
    """The patch boxes are carried through the projection: every box lies inside the frame
    and on a uniform patch (its spread is noise, not a patch edge)."""
    from camtwin.camera import expose

    oi = form_image(module_scene(endoscope, "colorchecker", illuminant="LED",
                                 illuminance_lux=1000.0), endoscope.lens)
    raw = expose(endoscope, oi, exposure_s=None, rng=3)
    truth = raw.mean_electrons
    green = raw.channel_index == 1
    boxes = raw.metadata["layout_px"]["patches"]
    assert len(boxes) == 24
    for r0, r1, c0, c1 in boxes:
        assert 0 <= r0 < r1 <= truth.shape[0] and 0 <= c0 < c1 <= truth.shape[1]
        sl = (slice(r0 + 1, r1 - 1), slice(c0 + 1, c1 - 1))
        g = truth[sl][green[sl]]
        assert g.std() < 0.08 * g.mean() + 1.0  # one colour (RI varies a little across it)


def test_fisheye_beyond_80_degrees_is_a_clear_error(endoscope):
    with pytest.raises(ConfigError, match="field angle of 11[0-9].*valid range is up to 80"):
        endoscope.replace(sensor={"width_px": 400, "height_px": 400})


def test_off_axis_mtf_of_a_fisheye_is_refused_not_invented(endoscope):
    from camtwin.evaluate.imaging import slanted_edge_mtf

    assert 0.05 < slanted_edge_mtf(endoscope, field=0.0, rng=1).value < 0.5
    with pytest.raises(ConfigError, match="off-axis MTF is not modelled"):
        slanted_edge_mtf(endoscope, field=0.8, rng=1)
