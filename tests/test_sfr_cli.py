"""``camtwin sfr`` / ``camtwin colour`` on image files, ColorChecker patch finding from the
chart geometry, per-patch SNR statistics, the SFR plot."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.measure.color import (NoColorChecker, colorchecker_boxes, colorchecker_report,
                                   patch_snr)
from camtwin.measure.sfr import esfr

runner = CliRunner()


def write_srgb_png(path, linear_rgb):
    """Encode linear sRGB (0..1) to a 16-bit sRGB PNG (IEC 61966-2-1)."""
    import colour
    import cv2

    enc = np.clip(colour.cctf_encoding(np.clip(linear_rgb, 0, 1), function="sRGB"), 0, 1)
    cv2.imwrite(str(path), cv2.cvtColor((enc * 65535 + 0.5).astype(np.uint16),
                                        cv2.COLOR_RGB2BGR))


def edge_image(sigma_px=1.0, shape=(200, 160)):
    from scipy import special

    t = np.deg2rad(5.0)
    y, x = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    d = ((x - shape[1] / 2) - np.tan(t) * (y - shape[0] / 2)) * np.cos(t)
    return 0.1 + 0.5 * 0.5 * (1 + special.erf(d / (np.sqrt(2) * sigma_px)))


def test_sfr_cli_json_matches_the_api_and_writes_a_plot(tmp_path):
    lin = edge_image()
    png = tmp_path / "edge.png"
    write_srgb_png(png, np.repeat(lin[..., None], 3, axis=2))
    plot = tmp_path / "sfr.png"
    res = runner.invoke(app, ["sfr", str(png), "--roi", "20,30,120,140", "--channel", "y",
                              "--json", "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    api = esfr(lin, roi=(30, 170, 20, 140))
    # 16-bit sRGB round trip: same MTF50 within quantisation
    assert out["mtf50_cy_px"] == pytest.approx(api.mtf50_cy_px, rel=2e-3)
    assert out["roi"] == [30, 170, 20, 140]
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, match", [
    (["sfr", "missing.png"], "does not exist"),
    (["sfr", "IMG", "--roi", "1,2,3"], "x,y,w,h"),
    (["sfr", "IMG", "--channel", "q"], "valid choices"),
    (["sfr", "IMG", "--roi", "0,0,900,10"], "roi"),
    (["colour", "IMG", "--chart-box", "0,0,4,4"], "too small"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, args, match):
    png = tmp_path / "edge.png"
    write_srgb_png(png, np.repeat(edge_image()[..., None], 3, axis=2))
    args = [str(png) if a == "IMG" else a for a in args]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert match in res.output
    assert "Traceback" not in res.output


def test_colour_from_an_image_file_of_a_rendered_chart(tmp_path):
    # a ColorChecker drawn from its reference linear sRGB values, placed with a frame inside
    # a larger image: patch finding from the chart geometry must give ΔE00 ≈ 0 (16-bit
    # quantisation only), and the per-patch SNR of a noise-free image is huge.
    from camtwin.measure.color import reference_linear_srgb
    from camtwin.scene.charts import colorchecker_patch_fractions

    ref = np.clip(reference_linear_srgb(), 0, 1)
    img = np.full((300, 420, 3), 0.02)
    box = (40, 280, 30, 390)  # chart outline: rows 40–280, cols 30–390
    for k, (y0, y1, x0, x1) in enumerate(colorchecker_patch_fractions()):
        r0, r1 = int(40 + y0 * 240), int(40 + y1 * 240)
        c0, c1 = int(30 + x0 * 360), int(30 + x1 * 360)
        img[r0:r1, c0:c1] = ref[k]
    png = tmp_path / "cc.png"
    write_srgb_png(png, img)
    res = runner.invoke(app, ["colour", str(png), "--chart-box", "30,40,360,240", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # clipped out-of-gamut reference values (cyan) are the only sizeable error
    assert out["mean"] < 0.3
    assert len(out["patches"]) == 24 and out["patches"][0]["name"] == "dark skin"
    direct = colorchecker_report(img, chart_box=box)
    assert direct["mean"] == pytest.approx(out["mean"], abs=0.05)
    # found automatically: the same patches, the same ΔE00
    auto = colorchecker_report(img)
    assert auto["chart"]["method"] == "found automatically"
    assert auto["mean"] == pytest.approx(out["mean"], abs=0.05)
    # whole-image geometry misses the chart: refused, not scored
    with pytest.raises(NoColorChecker, match="no ColorChecker found filling the image"):
        colorchecker_report(img, detect=False)


def test_patch_snr_statistics():
    # Gaussian noise of σ on a patch of mean μ: SNR estimate ≈ μ/σ within its sampling
    # error (std of a sample standard deviation ≈ σ/√(2n)); plane detrending removes ramps.
    rng = np.random.default_rng(11)
    mu, sigma = 0.4, 0.01
    yy, xx = np.mgrid[0:100, 0:100]
    img = mu + 1e-3 * (xx - 50) + sigma * rng.standard_normal((100, 100))
    s = patch_snr(img, [(0, 100, 0, 100)])[0]
    n = 60 * 60
    assert s["std"] == pytest.approx(sigma, abs=4 * sigma / np.sqrt(2 * n))
    assert s["snr"] == pytest.approx(mu / sigma, rel=0.05)


def test_colorchecker_boxes_fill_the_image_by_default():
    boxes = colorchecker_boxes((400, 600))
    assert boxes[0] == (15, 85, 15, 85) and boxes[-1] == (315, 385, 515, 585)


def test_raw_green_frequencies_are_per_sensor_pixel_on_a_bayer_mask():
    # issue 18: a Bayer colour used to be subsampled to its own plane, so frequencies came
    # out per plane sample (half the per-pixel value). Point-sampled Gaussian edge σ = 0.8
    # px: MTF50 = √(ln 2/2)/(πσ) cycles per pixel, whichever CFA sites are kept.
    from scipy import special

    from camtwin.raw.cfa import cfa_channel_index

    sigma = 0.8
    t = np.deg2rad(5.0)
    y, x = np.mgrid[0:240, 0:160].astype(float)
    d = ((x - 80) - np.tan(t) * (y - 120)) * np.cos(t)
    img = 0.2 + 0.6 * 0.5 * (1 + special.erf(d / (np.sqrt(2) * sigma)))
    expected = np.sqrt(np.log(2) / 2) / (np.pi * sigma)
    idx = cfa_channel_index("RGGB", img.shape)
    assert esfr(img, mask=idx == 1).mtf50_cy_px == pytest.approx(expected, rel=0.01)
    for c in (0, 2):  # a quarter of the sites: noisier binning, same frequency scale
        assert esfr(img, mask=idx == c).mtf50_cy_px == pytest.approx(expected, rel=0.03)


def test_one_capture_dng_evaluate_and_python_agree(tmp_path):
    # issue 18: `sfr shot.dng --channel g` read 0.18 where `evaluate` read 0.437. The raw
    # of one capture (default module, centre crop, 1000 lx as evaluate uses) measured via
    # the DNG, via Python and via `evaluate` (its own capture of the same module) must
    # agree within 5 %; the PNG of the capture measures the processed image and says so.
    from camtwin.evaluate import measure
    from camtwin.measure.imread import raw_channel
    from camtwin.module import load_module
    from camtwin.raw import load_raw

    dng, png = tmp_path / "e.dng", tmp_path / "e.png"
    res = runner.invoke(app, ["capture", "--scene", "slanted_edge", "--crop", "384,384",
                              "--lux", "1000", "--out", str(png), "--raw", str(dng), "-q"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["sfr", str(dng), "--channel", "g", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["kind"] == "raw" and out["encoding"] == "linear"
    assert out["frequency_unit"] == "cycles per sensor pixel" and "G sites" in out["source"]
    plane = raw_channel(load_raw(dng), "g")
    r0, r1, c0, c1 = out["roi"]
    py = esfr(plane.values, roi=(r0, r1, c0, c1), mask=plane.mask).mtf50_cy_px
    assert py == pytest.approx(out["mtf50_cy_px"], rel=1e-9)
    ev = measure(load_module("default"), "mtf50_cy_px", rng=7)
    assert "G sites" in ev.details["source"]
    assert out["mtf50_cy_px"] == pytest.approx(ev.value, rel=0.05)
    res = runner.invoke(app, ["sfr", str(png), "--json"])
    assert res.exit_code == 0, res.output
    rendered = json.loads(res.stdout)
    assert rendered["kind"] == "rendered" and "processed image" in rendered["source"]
