"""Depth modules in the workbench API (camtwin.web.depth), through FastAPI's TestClient:
module list, depth capture and depth evaluation jobs, downloads, and bad input as one JSON
line naming the field. Small centre crops and 2 frames keep every job under a second or two.
"""

from __future__ import annotations

import io
import json
import time

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from camtwin.web import WebSettings, create_app

BASE_URL = "http://127.0.0.1"
ITOF = "phone-rear-itof-imx556"
SMALL = {"name": ITOF, "crop_width_px": 32, "crop_height_px": 24}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(WebSettings(workers=2, max_pixels=400_000)),
                    base_url=BASE_URL) as c:
        yield c


def wait(client, job_id, timeout_s=240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200
        job = r.json()
        assert 0.0 <= job["progress"] <= 1.0
        if job["status"] in ("done", "error"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def submit(client, path, payload):
    r = client.post(path, json=payload)
    assert r.status_code == 202, r.text
    job = wait(client, r.json()["job_id"])
    assert job["status"] == "done", job.get("error")
    return job


def assert_error(r, status, field, *fragments):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["field"] == field, body
    assert isinstance(body["detail"], str) and "\n" not in body["detail"]
    for f in fragments:
        assert f in body["detail"], body["detail"]


def test_depth_modules_scenes_and_applications_are_listed(client):
    mods = client.get("/api/depth/modules").json()
    by_name = {m["name"]: m for m in mods}
    assert {"itof", "dtof", "stereo"} <= {m["kind"] for m in mods}
    m = by_name[ITOF]
    assert (m["width_px"], m["height_px"], m["pixel_pitch_um"]) == (640, 480, 10.0)
    assert m["illuminator"]["wavelength_nm"] == 940.0
    assert m["modulation_frequencies_mhz"] and m["hfov_deg"] > 0
    # the pinhole field of view: 2·atan(6.4 mm / (2·4.57 mm)) = 70.0°
    assert m["hfov_deg"] == pytest.approx(70.0, abs=0.1)
    assert "plane" in client.get("/api/depth/scenes").json()["scenes"]
    apps = {a["name"]: a for a in client.get("/api/depth/applications").json()}
    assert "phone_face_unlock" in apps and apps["phone_face_unlock"]["requirements"]
    # the 2D list is unchanged (no depth module in it)
    assert ITOF not in {m["name"] for m in client.get("/api/modules").json()}


def test_depth_capture_job_depth_map_metrics_and_downloads(client):
    job = submit(client, "/api/depth/capture",
                 {"module": SMALL, "scene": "plane", "distance_m": 1.0, "reflectance": 0.5,
                  "frames": 2, "seed": 3})
    res = job["result"]
    assert res["grid"] == [24, 32] and res["kind"] == "itof"
    met = res["metrics"]
    assert met["valid_fraction"] == 1.0
    # a flat target without multipath: mean error well under 1 % of the distance, temporal
    # σ a fraction of a percent (the analytic CW-ToF noise of this module at 1 m, ρ 0.5)
    assert met["accuracy_pct"] < 1.0 and 0 < met["precision_pct"] < 2.0
    # σ [mm] = precision [%] × the true radial distance (≈ 1 m on the centre crop) × 10
    assert met["precision_mm"] == pytest.approx(10 * met["precision_pct"], rel=0.01)
    assert met["laser_class"] in ("1", "1M", "2", "2M", "3R", "3B", "4")
    lo, hi = res["depth_range_m"]
    assert 0.9 < lo < hi < 1.1
    # images through the job endpoints: the false-colour depth map has the grid's size
    r = client.get(f"/api/jobs/{job['id']}/images/depth.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (24, 32, 3)
    assert client.get(f"/api/jobs/{job['id']}/zoom.png?image=amplitude").status_code == 200
    # the arrays behind the downloads are not an image
    assert client.get(f"/api/jobs/{job['id']}/images/depth_rawframe.png").status_code == 404
    dl = job["downloads"]
    assert set(dl) == {"depth_png", "depth_color_png", "depth_npy", "cloud_ply",
                       "metrics_json", "report_html"}
    d = np.load(io.BytesIO(client.get(dl["depth_npy"]).content), allow_pickle=False)
    assert d.shape == (24, 32) and d.dtype == np.float32
    assert np.nanmean(d) == pytest.approx(1.0, abs=0.01)
    png16 = cv2.imdecode(np.frombuffer(client.get(dl["depth_png"]).content, np.uint8),
                         cv2.IMREAD_UNCHANGED)
    assert png16.dtype == np.uint16 and abs(int(np.median(png16)) - 1000) <= 10   # mm
    ply = client.get(dl["cloud_ply"]).content
    assert ply.startswith(b"ply\nformat binary_little_endian 1.0") and b"element vertex 768" in ply
    assert json.loads(client.get(dl["metrics_json"]).content)["metrics"] == met
    html = client.get(dl["report_html"]).content.decode()
    assert "data:image/png;base64" in html and ITOF in html
    assert client.get(f"/api/jobs/{job['id']}/downloads/raw.dng").status_code == 404


def test_depth_capture_is_seeded_and_precision_grows_with_distance(client):
    def prec(distance, seed=5):
        body = {"module": SMALL, "distance_m": distance, "reflectance": 0.1, "frames": 2,
                "seed": seed}
        return submit(client, "/api/depth/capture", body)["result"]["metrics"]["precision_mm"]

    assert prec(1.0) == prec(1.0)            # same seed → the same numbers
    assert prec(1.0, seed=6) != prec(1.0)
    # σ_d ∝ √B/A and A ∝ ρ/d²: farther → noisier (ρ = 0.1, no auto-exposure cap)
    assert prec(4.0) > 3 * prec(0.5)


def test_depth_evaluate_job(client):
    job = submit(client, "/api/depth/evaluate",
                 {"module": SMALL, "application": "phone_face_unlock", "frames": 2})
    res = job["result"]
    assert res["module"] == ITOF and res["application"] == "phone_face_unlock"
    assert len(res["verdicts"]) >= 3
    assert {v["status"] for v in res["verdicts"]} <= {"pass", "fail", "n/a"}
    assert res["passed"] == all(v["status"] == "pass" for v in res["verdicts"])
    html = client.get(job["downloads"]["report_html"]).content.decode()
    assert "phone_face_unlock" in html or res["title"] in html


@pytest.mark.parametrize("path, body, status, field, fragments", [
    ("/api/depth/capture", {"module": {"name": "default"}}, 422, "module.name",
     ["depth module", ITOF]),
    ("/api/depth/capture", {"module": {"name": "/etc/passwd.yaml"}}, 422, "module.name",
     ["depth module"]),
    ("/api/depth/capture", {"module": SMALL, "scene": "colorchecker"}, 422, "scene",
     ["depth scene", "step_edge"]),
    ("/api/depth/capture", {"module": SMALL, "frames": 100}, 422, "frames", ["16"]),
    ("/api/depth/capture", {"module": SMALL, "reflectance": 1.5}, 422, "reflectance", ["1"]),
    ("/api/depth/capture", {"module": SMALL, "distance_m": 2.0, "far_m": 1.0}, 422, "far_m",
     ["greater than distance_m"]),
    ("/api/depth/capture", {"module": {"name": "active-stereo-ov9281"}}, 422,
     "module.crop_width_px", ["1280 × 800", "limit of 0.40 MP"]),
    ("/api/depth/capture", {"module": SMALL, "file": "/tmp/x"}, 422, "file", ["unknown field"]),
    ("/api/depth/evaluate", {"module": SMALL, "application": "security"}, 422, "application",
     ["depth application", "phone_face_unlock"]),
])
def test_bad_depth_requests_are_one_json_line(client, path, body, status, field, fragments):
    assert_error(client.post(path, json=body), status, field, *fragments)


def test_corner_scene_pixel_limit(client, monkeypatch):
    """A full-VGA iToF module captures the corner (multipath) scene (1–2 s since the
    interreflection runs on a sub-grid); above the server's limit the request is one JSON
    line naming the crop fields."""
    import camtwin.web.depth as wd

    r = client.post("/api/depth/capture", json={"module": {"name": ITOF}, "scene": "corner",
                                                 "frames": 2})
    assert r.status_code == 202, r.text
    assert wait(client, r.json()["job_id"])["status"] == "done"
    monkeypatch.setattr(wd, "MAX_MULTIPATH_PIXELS", 320 * 240)
    assert_error(client.post("/api/depth/capture", json={"module": {"name": ITOF},
                                                         "scene": "corner"}),
                 422, "module.crop_width_px", "corner", "76800")


def test_depth_jobs_belong_to_their_session(client):
    r = client.post("/api/depth/capture", json={"module": SMALL, "frames": 1})
    job_id = r.json()["job_id"]
    wait(client, job_id)
    other = TestClient(client.app, base_url=BASE_URL)
    assert other.get(f"/api/jobs/{job_id}").status_code == 404


def test_depth_panel_in_a_real_browser():
    """The page's depth panel in headless Chromium (skipped where there is none): pick an
    iToF module, capture, read the metrics table and the image; a bad distance shows the
    server's one-line message."""
    import shutil
    from pathlib import Path

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        pytest.skip("no chromium (bash .ci/install-browser.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from camtwin.web.server import BackgroundServer

    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage"]
    with BackgroundServer(WebSettings(workers=1)) as srv, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=args)
        pg = browser.new_page()
        pg.set_default_timeout(120_000)
        page_errors: list[str] = []
        pg.on("pageerror", lambda e: page_errors.append(str(e)))
        pg.goto(srv.url)
        pg.wait_for_selector("#depth[data-ready='1']")
        pg.select_option("#depth-module", ITOF)
        pg.fill("#depth-crop-w", "32")
        pg.fill("#depth-crop-h", "24")
        pg.fill("#depth-frames", "2")
        pg.click("#depth-capture-btn")
        pg.wait_for_selector("#depth-metrics")
        text = pg.inner_text("#depth-metrics")
        assert "precision_pct" in text and "valid_fraction\t1" in text
        pg.wait_for_function("document.querySelector('#depth-img-depth').naturalWidth === 32")
        assert pg.locator("#depth-out .downloads a").count() == 6
        pg.fill("#depth-distance", "0")
        pg.click("#depth-capture-btn")
        pg.wait_for_selector("#depth-error:not([hidden])")
        assert "distance_m = 0" in pg.inner_text("#depth-error")
        browser.close()
        assert page_errors == []
