"""Notebook display (camtwin.report.notebook) and the example notebook tour."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

import camtwin
from camtwin.evaluate.metrics import crop_module
from camtwin.report import notebook as nb

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_MAGIC)
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(int)


@pytest.fixture(scope="module")
def module():
    return crop_module(camtwin.load_module("default"), 120, 90)


@pytest.fixture(scope="module")
def shot(module):
    scene = camtwin.module_scene(module, "colorchecker", illuminance_lux=200)
    return scene, camtwin.shoot(module, scene, rng=2)


def test_scene_picture_is_colorimetric(module):
    # a grey card under D65 (the sRGB white point) must come out neutral
    grey = camtwin.module_scene(module, "uniform", illuminance_lux=100)
    rgb = decode(grey._repr_png_())
    centre = rgb[30:60, 40:80].reshape(-1, 3).mean(axis=0)
    assert np.ptp(centre) <= 3 and centre.min() > 200  # neutral, near white (99.5 % → 1)
    # under tungsten (A) the same card is visibly warm
    warm = decode(camtwin.module_scene(module, "uniform", illuminant="A",
                                       illuminance_lux=100)._repr_png_())
    r, g, b = warm[30:60, 40:80].reshape(-1, 3).mean(axis=0)
    assert r > g > b + 40


def test_scene_and_optical_image_html(shot, module):
    scene, s = shot
    h = scene._repr_html_()
    assert "Scene &#x27;colorchecker&#x27;" in h and "data:image/png;base64," in h
    assert "120 × 90" in h and "200" in h
    rgb = decode(scene._repr_png_())
    # ColorChecker patch 15 (red, row 3 column 3) is red; patch 13 (blue) is blue
    y0, y1, x0, x1 = scene.layout["patches"][14]
    red = rgb[int((y0 + y1) / 2 * 90), int((x0 + x1) / 2 * 120)]
    assert red[0] > red[1] + 60 and red[0] > red[2] + 60
    y0, y1, x0, x1 = scene.layout["patches"][12]
    blue = rgb[int((y0 + y1) / 2 * 90), int((x0 + x1) / 2 * 120)]
    assert blue[2] > blue[0] + 40
    h = s.optical_image._repr_html_()
    assert "OpticalImage" in h and f"f/{module.lens.f_number:g}" in h
    assert decode(s.optical_image._repr_png_()).shape == (90, 120, 3)


def test_raw_frame_false_colour_and_numbers(shot):
    _, s = shot
    raw = s.raw
    rgb = decode(raw._repr_png_())
    assert rgb.shape == (90, 120, 3)
    idx = raw.channel_index
    lit = rgb.sum(axis=2) > 60
    for c, dominant in ((0, 0), (1, 1), (2, 2)):
        sites = rgb[(idx == c) & lit]
        assert np.all(sites.argmax(axis=1) == dominant)
    h = raw._repr_html_()
    assert "RGGB" in h and f"{raw.exposure_s * 1e3:.4g}" in h
    assert f"{100 * raw.clipped_fraction():.3g}" in h


def test_rendered_image_is_its_srgb(shot):
    _, s = shot
    rgb = decode(s.rendered._repr_png_())
    assert np.array_equal(rgb, nb.to_uint8(s.rendered.srgb).astype(int))
    h = s.rendered._repr_html_()
    assert "white balance gains" in h and f"{s.rendered.wb_gains[0]:.3f}" in h


def test_large_pictures_are_reduced():
    png = nb.png_bytes(np.full((3000, 1500, 3), 0.5, np.float32))
    assert decode(png).shape == (nb.MAX_SIDE_PX, nb.MAX_SIDE_PX // 2, 3)


def test_evaluation_display():
    from camtwin.evaluate import load_application
    from camtwin.evaluate.verdict import evaluate

    m = camtwin.load_module("catalog:endoscope-ov6948")
    ev = evaluate(m, load_application("endoscope"), seed=0)
    h = ev._repr_html_()
    assert h.count("<tr class='fail'>") == ev.n_failed
    assert h.count("<tr class='pass'>") == len(ev.verdicts) - ev.n_failed
    assert ("PASS" if ev.passed else "FAIL") in h and "lux_at_snr10" in h
    img = decode(ev._repr_png_())
    assert img.shape[1] == 640 and img.shape[0] > 150


def test_emva_results_display(module):
    from camtwin.measure import emva1288

    res = emva1288.analyse(emva1288.simulate_measurement(
        crop_module(module, 64, 48).sensor, seed=1))
    h = res._repr_html_()
    assert "EMVA 1288" in h and "System gain K" in h
    assert f"{res.summary['system_gain_dn_per_e']:.4g}" in h
    assert decode(res._repr_png_()).shape[1] == 640


def test_other_objects_have_no_display():
    assert nb.repr_html(object()) is None and nb.repr_png(3) is None


def test_notebook_tour_runs(tmp_path):
    here = Path(__file__).resolve().parents[1] / "examples" / "notebook_tour.py"
    spec = importlib.util.spec_from_file_location("notebook_tour", here)
    tour = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tour)
    shown = tour.run_notebook(here.with_suffix(".ipynb"), tmp_path)
    types = {e["type"] for e in shown}
    pictures = {"Scene", "OpticalImage", "Shot", "RawFrame", "RenderedImage", "Evaluation",
                "Emva1288Results"}
    assert pictures | {"ModuleSpec"} <= types
    for e in shown:
        if e["type"] in pictures:
            assert e["html"] and (tmp_path / e["png"]).stat().st_size > 1000
        elif e["type"] in ("ModuleSpec", "DataFrame", "DataArray"):
            assert e["html"]
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 6  # the evaluation is a table
    assert "lux_at_snr10" in page and "System gain K" in page
