"""End to end: the workbench page in real headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright; .ci/install-browser.sh installs it in CI).

A real uvicorn server on 127.0.0.1 serves the page; the test picks a module, captures,
waits for the image and a metric (and where it comes from), evaluates against an
application, draws a plot, downloads every file a job offers, switches module and checks
that the earlier results are labelled stale, and triggers validation errors, reading what a
person would read. Screenshots go to
``test-artifacts/web/`` (gitignored).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from camtwin.web import WebSettings
from camtwin.web.server import BackgroundServer

CHROMIUM = os.environ.get("CAMTWIN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "web"
#: Flags for Chromium as root on a machine without a network (see .ci/install-browser.sh).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
TIMEOUT_MS = 120_000


def _unavailable(reason: str):
    """Fail in CI (the browser must be there), skip with the reason elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def server():
    with BackgroundServer(WebSettings(workers=2)) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).is_file():
        _unavailable(f"{CHROMIUM} is missing: run `bash .ci/install-browser.sh` "
                     "(apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install '.[test]'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1100})
        pg.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server.url)
        pg.wait_for_selector("body[data-ready='1']")
        pg.page_errors = errors  # type: ignore[attr-defined]
        yield pg
        browser.close()


def _number(text: str) -> float:
    m = re.search(r"-?\d+(\.\d+)?", text)
    assert m, f"no number in {text!r}"
    return float(m.group())


def test_pick_a_module_and_capture(page):
    page.select_option("#module-select", "catalog:endoscope-ov6948")
    page.wait_for_function("document.querySelector('#module-info').textContent"
                           ".includes('200×200')")
    # the form now shows the catalog module's sensor values
    assert page.input_value('[data-path="sensor.width_px"]') == "200"
    page.select_option("#scene-select", "colorchecker")
    page.fill("#lux", "300")
    page.click("#capture-btn")
    page.wait_for_function("() => ['#img-processed', '#img-raw'].every((s) => {"
                           " const i = document.querySelector(s);"
                           " return i.complete && i.naturalWidth > 0; }) && "
                           "!document.querySelector('#capture-out').hidden")
    assert page.evaluate("document.querySelector('#img-processed').naturalWidth") == 200
    assert page.evaluate("document.querySelector('#img-raw').naturalWidth") == 200
    page.wait_for_function("document.querySelector('#img-zoom').naturalWidth === 256")
    snr = _number(page.text_content("#metric-snr"))
    assert 5 < snr < 60  # dB
    assert 0 <= _number(page.text_content("#metric-clipped")) <= 100
    assert 0 < _number(page.text_content("#metric-de")) < 30
    assert 0 < _number(page.text_content("#metric-mtf50")) < 1
    # each number says where it comes from; MTF50 is not from this capture
    assert "neutral 5 patch" in page.text_content("#metric-snr-source")
    assert "separate simulation" in page.text_content("#metric-mtf50-source")
    assert "this capture" in page.text_content("#metric-de-source")
    assert "endoscope" in page.text_content("#capture-notes")
    # clicking the processed image moves the 1:1 zoom there
    page.click("#img-processed", position={"x": 5, "y": 5})
    page.wait_for_function("document.querySelector('#zoom-caption').textContent"
                           ".includes('(3 %')")
    page.screenshot(path=str(ARTIFACTS / "capture.png"), full_page=True)
    assert page.page_errors == []


def test_evaluate_and_plot(page):
    page.select_option("#application", "endoscope")
    page.click("#evaluate-btn")
    page.wait_for_selector("#eval-out table.verdicts tr.pass, #eval-out table.verdicts tr.fail")
    rows = page.locator("#eval-out table.verdicts tr")
    assert rows.count() >= 4  # header + the endoscope profile's requirements
    assert "lux_at_snr10" in page.text_content("#eval-out")
    page.click(".plot-btn[data-kind='qe']")
    page.wait_for_function("() => { const i = document.querySelector('#plot-out img.plot-qe');"
                           " return i && i.complete && i.naturalWidth > 300; }")
    page.screenshot(path=str(ARTIFACTS / "evaluate.png"), full_page=True)


def _download(page, selector: str):
    """Click a download link; the file's suggested name and bytes."""
    with page.expect_download() as info:
        page.click(selector)
    d = info.value
    return d.suggested_filename, Path(d.path()).read_bytes()


def test_downloads(page):
    name, data = _download(page, "#capture-downloads a[data-key='raw_dng']")
    assert name.endswith("raw.dng") and data[:4] in (b"II*\x00", b"MM\x00*")
    assert len(data) > 200 * 200 * 2  # 16-bit samples of the 200×200 endoscope sensor
    name, data = _download(page, "#capture-downloads a[data-key='processed_png']")
    assert name.endswith("processed.png") and data.startswith(b"\x89PNG")
    name, data = _download(page, "#capture-downloads a[data-key='processed_tiff']")
    assert name.endswith("processed.tiff") and data[:4] in (b"II*\x00", b"MM\x00*")
    name, data = _download(page, "#capture-downloads a[data-key='metrics_json']")
    import json

    assert json.loads(data)["metrics"]["mtf50_cy_px"] > 0
    name, data = _download(page, "#capture-downloads a[data-key='report_html']")
    assert name.endswith("report.html") and b"where it comes from" in data
    name, data = _download(page, "#eval-out a[data-key='report_html']")
    assert b"lux_at_snr10" in data
    name, data = _download(page, "#plot-out a[data-key='plot_png']")
    assert data.startswith(b"\x89PNG")
    assert page.page_errors == []


def test_upload_and_compare(page, tmp_path):
    import cv2
    import numpy as np

    img = np.zeros((120, 160, 3), np.uint8)
    img[:, 80:] = (40, 200, 40)  # BGR: a green right half
    path = tmp_path / "half-green.png"
    cv2.imwrite(str(path), img)
    page.set_input_files("#upload", str(path))
    page.wait_for_function("document.querySelector('#scene-select').value.startsWith('upload:')")
    assert "half-green.png (160×120)" in page.text_content("#scene-select")
    page.select_option("#module-b", "default")
    page.click("#compare-btn")
    page.wait_for_function("() => [...document.querySelectorAll('#compare-out .side img')]"
                           ".filter(i => i.complete && i.naturalWidth > 0).length === 4")
    heads = page.locator("#compare-out h3").all_text_contents()
    assert heads == ["A: catalog:endoscope-ov6948", "B: default"]
    widths = page.evaluate("[...document.querySelectorAll('#compare-out .side img')]"
                           ".map(i => i.naturalWidth)")
    assert widths == [200, 200, 320, 320]  # endoscope full sensor; default cropped to 320
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)
    assert page.page_errors == []


def test_switching_module_labels_earlier_results_stale(page):
    for section in ("capture", "eval", "compare", "plot"):
        assert page.is_hidden(f"#{section}-stale")
    page.select_option("#module-select", "catalog:drone-ov9281-nav")
    page.wait_for_function("document.querySelector('[data-path=\"sensor.width_px\"]')"
                           ".value === '1280'")
    for section in ("capture", "eval", "compare", "plot"):
        note = page.locator(f"#{section}-stale")
        note.wait_for(state="visible")
        assert "made with catalog:endoscope-ov6948" in note.text_content()
        assert "stale" in page.get_attribute(f"#{section}-result", "class")
    page.screenshot(path=str(ARTIFACTS / "stale.png"), full_page=True)
    # back to the module the results were made with: no longer stale
    page.select_option("#module-select", "catalog:endoscope-ov6948")
    page.wait_for_function("document.querySelector('#module-info').textContent"
                           ".includes('200×200')")
    page.wait_for_function("document.querySelector('#capture-stale').hidden")
    # an edited parameter makes them stale again
    field = page.locator('[data-path="sensor.read_noise_e"]')
    field.fill("9")
    field.dispatch_event("change")
    page.locator("#capture-stale").wait_for(state="visible")
    assert "edited parameters" not in page.text_content("#capture-stale")
    page.click("#reset-params")
    page.wait_for_function("document.querySelector('#capture-stale').hidden")
    # a mono module: no colour error shown, the reason said instead
    page.select_option("#scene-select", "colorchecker")
    page.select_option("#module-select", "catalog:drone-ov9281-nav")
    page.wait_for_function("document.querySelector('[data-path=\"sensor.width_px\"]')"
                           ".value === '1280'")
    page.fill("#crop-width", "160")
    page.fill("#crop-height", "120")
    page.click("#capture-btn")
    page.wait_for_function("document.querySelector('#capture-notes').textContent"
                           ".includes('drone')")
    assert page.locator("#metric-de").count() == 0
    assert "mono sensor has no colour" in page.text_content("#metrics")
    assert page.is_hidden("#capture-stale")
    page.screenshot(path=str(ARTIFACTS / "mono.png"), full_page=True)
    page.fill("#crop-width", "320")
    page.fill("#crop-height", "240")
    page.select_option("#module-select", "catalog:endoscope-ov6948")
    page.wait_for_function("document.querySelector('#module-info').textContent"
                           ".includes('200×200')")
    assert page.page_errors == []


def test_validation_errors_are_shown(page):
    # a spec field out of range: the server's one-line message, the field highlighted
    pitch = page.locator('[data-path="sensor.pixel_pitch_um"]')
    pitch.fill("0.1")
    pitch.dispatch_event("change")
    err = page.locator("#error")
    err.wait_for(state="visible")
    assert ("catalog:endoscope-ov6948: sensor.pixel_pitch_um = 0.1: Input should be greater "
            "than 0.3") in err.text_content()
    assert "invalid" in pitch.get_attribute("class")
    page.screenshot(path=str(ARTIFACTS / "validation-error.png"), full_page=True)
    # capture refuses it too, and an out-of-range illuminance is named
    page.click("#reset-params")
    page.wait_for_function("document.querySelector('#error').hidden")
    page.fill("#lux", "-5")
    page.click("#capture-btn")
    page.wait_for_function("document.querySelector('#error').textContent.includes('lux')")
    assert "lux = -5: Input should be greater than 0" in err.text_content()
    assert "invalid" in page.get_attribute("#lux", "class")
    page.screenshot(path=str(ARTIFACTS / "lux-error.png"), full_page=True)
    assert page.page_errors == []
