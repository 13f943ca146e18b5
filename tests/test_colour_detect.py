"""``camtwin colour`` finds and verifies the ColorChecker, and refuses images without one
(issue 18: it scored ΔE00 29 on a slanted-edge image and 22.6 on the demo chart with the
README's own --chart-box).

References: the chart's reference colours are colour-science's BabelColor Average
(camtwin.measure.color.reference_linear_srgb); a chart drawn from them must read ΔE00 ≈ 0,
and a camtwin capture must read the same ΔE00 found automatically as with the patch boxes
the simulation itself placed (raw.metadata["layout_px"]["patches"]).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.measure.color import (SEARCH_SCALES, NoColorChecker, _find_colorchecker_at,
                                   colorchecker_delta_e, colorchecker_report,
                                   find_colorchecker, reference_linear_srgb)
from camtwin.scene.charts import colorchecker_patch_fractions

runner = CliRunner()
README = Path(__file__).resolve().parents[1] / "README.md"


def write_srgb_png(path, linear_rgb):
    import colour
    import cv2

    enc = np.clip(colour.cctf_encoding(np.clip(linear_rgb, 0, 1), function="sRGB"), 0, 1)
    cv2.imwrite(str(path), cv2.cvtColor((enc * 65535 + 0.5).astype(np.uint16),
                                        cv2.COLOR_RGB2BGR))


def drawn_chart(shape=(300, 420), box=(40, 280, 30, 390), surround=0.02):
    """The reference chart drawn into a larger image (camtwin's chart geometry)."""
    ref = np.clip(reference_linear_srgb(), 0, 1)
    img = np.full(shape + (3,), surround)
    r0, r1, c0, c1 = box
    for k, (y0, y1, x0, x1) in enumerate(colorchecker_patch_fractions()):
        img[int(r0 + y0 * (r1 - r0)):int(r0 + y1 * (r1 - r0)),
            int(c0 + x0 * (c1 - c0)):int(c0 + x1 * (c1 - c0))] = ref[k]
    return img


def edge_image(shape=(240, 320)):
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    return np.repeat(np.where(x - shape[1] / 2 - 0.09 * (y - shape[0] / 2) > 0, 0.8, 0.2)
                     [..., None], 3, axis=2)


@pytest.mark.parametrize("what", ["edge", "grey", "noise"])
def test_colour_without_a_chart_exits_2(tmp_path, what):
    rng = np.random.default_rng(3)
    img = {"edge": edge_image(), "grey": np.full((240, 320, 3), 0.18),
           "noise": rng.uniform(0, 1, (240, 320, 3))}[what]
    path = tmp_path / f"{what}.png"
    write_srgb_png(path, img)
    res = runner.invoke(app, ["colour", str(path), "--json"])
    assert res.exit_code == 2, res.output
    assert "no ColorChecker found" in res.output and "Traceback" not in res.output
    # a chart box on it is verified too: refused, not scored
    res = runner.invoke(app, ["colour", str(path), "--chart-box", "0,0,320,240"])
    assert res.exit_code == 2 and "no ColorChecker found in --chart-box" in res.output


def test_a_monochrome_chart_is_refused_with_the_reason():
    img = drawn_chart() @ np.array([0.2126, 0.7152, 0.0722])
    with pytest.raises(NoColorChecker, match="no colour"):
        colorchecker_report(np.repeat(img[..., None], 3, axis=2))


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
def test_chart_found_in_any_quarter_turn_with_noise(turns):
    rng = np.random.default_rng(turns)
    img = drawn_chart()
    img = img + 0.004 * rng.standard_normal(img.shape)
    img = np.rot90(img, turns).copy()  # counter-clockwise quarter turns
    found = find_colorchecker(img)
    assert found["reading"] == ["upright", "rotated 90° counter-clockwise", "rotated 180°",
                                "rotated 90° clockwise"][turns]
    de = colorchecker_delta_e(img, found["boxes"])
    # only clipped out-of-gamut reference values (cyan) and the noise remain
    assert de["mean"] < 0.5


def test_colour_on_a_camtwin_capture_matches_the_known_layout(tmp_path):
    from camtwin.camera import shoot, module_scene
    from camtwin.isp import write_image
    from camtwin.module import load_module

    m = load_module("default")
    m = m.replace(sensor={"width_px": 480, "height_px": 360},
                  lens={"focal_length_mm": m.lens.focal_length_mm * 480 / 1280})
    shot = shoot(m, module_scene(m, "colorchecker"), rng=5)
    known = colorchecker_delta_e(shot.rendered.linear,
                                 shot.raw.metadata["layout_px"]["patches"])
    path = tmp_path / "cc.png"
    write_image(path, shot.rendered, bits=16)
    res = runner.invoke(app, ["colour", str(path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["chart"]["method"] == "found automatically" and out["verified"]
    assert out["mean"] == pytest.approx(known["mean"], abs=0.1)
    assert out["mean"] < 4


def readme_measurement_commands():
    """The ``camtwin`` lines of the README's measurement example, in order."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```bash\n(camtwin capture --scene slanted_edge.*?)```", text, re.S)
    assert block, "README lost its measurement example"
    lines = [ln.split("  #")[0].strip() for ln in block.group(1).splitlines()]
    return [ln for ln in lines if ln.startswith("camtwin ")]


def test_readme_measurement_example_works(tmp_path, monkeypatch):
    # a README example that does not work is a bug (issue 18): run every line verbatim
    monkeypatch.chdir(tmp_path)
    cmds = readme_measurement_commands()
    assert any(c.startswith("camtwin colour") for c in cmds)
    assert any(c.startswith("camtwin sfr") for c in cmds)
    for cmd in cmds:
        res = runner.invoke(app, shlex.split(cmd)[1:])
        assert res.exit_code == 0, f"{cmd}: {res.output}"


def test_noisy_low_light_chart_is_still_found():
    # a 5 lx capture is this noisy: the finest search fails, a smoother one finds the chart
    rng = np.random.default_rng(7)
    img = drawn_chart(shape=(360, 480), box=(20, 340, 20, 460))
    noisy = img + 0.1 * rng.standard_normal(img.shape)
    with pytest.raises(NoColorChecker):   # the finest search alone misses it
        _find_colorchecker_at(np.clip(noisy, 0, None), work_px=SEARCH_SCALES[0][0],
                              sigma_px=SEARCH_SCALES[0][1])
    found = find_colorchecker(noisy)
    assert found["reading"] == "upright"
    clean = colorchecker_delta_e(img, found["boxes"])
    assert clean["mean"] < 0.5


def test_the_search_image_is_opencvs_area_resize_of_the_clipped_frame():
    """``_small_image`` (made a block of rows at a time, no frame-sized copy) against
    ``cv2.resize(np.clip(img, 0, None).astype(np.float32), …, INTER_AREA)`` of the whole
    frame — values below 0 included (an unclipped linear rendering); 40 random sizes,
    shrinking and growing."""
    import cv2

    from camtwin.measure.color import _small_image

    rng = np.random.default_rng(0)
    for _ in range(40):
        h, w = (int(v) for v in rng.integers(20, 700, 2))
        h2, w2 = (int(v) for v in rng.integers(5, 500, 2))
        img = rng.normal(0.4, 0.3, (h, w, 3))
        ref = cv2.resize(np.clip(img, 0, None).astype(np.float32), (w2, h2),
                         interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(_small_image(img, h2, w2), ref, rtol=0, atol=1e-6)
