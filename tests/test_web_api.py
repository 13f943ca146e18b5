"""The workbench JSON API (camtwin.web), through FastAPI's TestClient.

Every endpoint is called with good and bad input. Bad values must come back as one JSON
object naming the field (422, the same one-line message as the CLI), oversized uploads as
413, and no request may make the server read a path of the client's choosing.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from camtwin.errors import ConfigError
from camtwin.module import load_module
from camtwin.web import WebSettings, create_app
from camtwin.web.jobs import JobManager, QueueFull

#: The server answers only its configured host names (loopback by default).
BASE_URL = "http://127.0.0.1"
#: A small centre crop of the default module: captures take a fraction of a second.
SMALL = {"name": "default", "crop_width_px": 96, "crop_height_px": 72}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(WebSettings(workers=2, max_upload_bytes=200_000,
                                           max_upload_pixels=1_000_000)),
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


def png(client, url) -> np.ndarray:
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None
    return img


def assert_error(r, status, field, *fragments):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["field"] == field, body
    assert isinstance(body["detail"], str) and "\n" not in body["detail"]
    for f in fragments:
        assert f in body["detail"], body["detail"]
    return body["detail"]


# --- page, OpenAPI, reference data -----------------------------------------------------
def test_page_and_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and "camtwin workbench" in r.text
    assert '<script src="/static/app.js"' in r.text
    assert "async function runJob" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/../../module.py").status_code == 404


def test_openapi_describes_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {"/api/health", "/api/modules", "/api/modules/{name}", "/api/schema",
                "/api/validate", "/api/scenes", "/api/applications", "/api/uploads",
                "/api/capture", "/api/evaluate", "/api/compare", "/api/plots",
                "/api/jobs/{job_id}", "/api/jobs/{job_id}/images/{key}.png",
                "/api/jobs/{job_id}/zoom.png"}
    assert expected <= set(paths)
    assert "CaptureRequest" in str(paths["/api/capture"])


def test_health(client):
    h = client.get("/api/health").json()
    assert h["status"] == "ok" and h["workers"] == 2
    assert h["limits"]["max_upload_bytes"] == 200_000


def test_modules_lists_builtins_and_catalog(client):
    mods = {m["name"]: m for m in client.get("/api/modules").json()}
    assert "default" in mods and "catalog:endoscope-ov6948" in mods
    d = load_module("default")
    assert mods["default"]["width_px"] == d.sensor.width_px
    assert mods["catalog:endoscope-ov6948"]["source"] == "catalog"
    spec = client.get("/api/modules/default").json()["spec"]
    assert spec["sensor"]["pixel_pitch_um"] == d.sensor.pixel_pitch_um
    assert client.get("/api/modules/catalog:endoscope-ov6948").json()["summary"]["cfa"]


@pytest.mark.parametrize("name", ["src/camtwin/data/modules/default.yaml", "/etc/passwd",
                                  "../../../etc/passwd", "default.yaml", "README.md",
                                  "pyproject.toml"])
def test_modules_never_read_paths(client, name):
    from urllib.parse import quote

    r = client.get(f"/api/modules/{quote(name, safe='')}")
    assert r.status_code in (404, 422)
    if r.status_code == 422:
        assert_error(r, 422, "module.name", "unknown module")
    r = client.post("/api/validate", json={"name": name})
    assert_error(r, 422, "module.name", "unknown module", repr(name))


def test_modules_are_named_through_the_part_resolver(client):
    # a bare catalog name (unambiguous) is the catalog module, as on the command line
    r = client.post("/api/validate", json={"name": "endoscope-ov6948"})
    assert r.status_code == 200, r.text
    assert r.json()["module"]["width_px"] == 200
    summary = client.get("/api/modules/endoscope-ov6948").json()["summary"]
    assert summary["name"] == "catalog:endoscope-ov6948" and summary["source"] == "catalog"


def test_schema_has_the_spec_sections(client):
    s = client.get("/api/schema").json()
    assert {"sensor", "lens", "isp"} <= set(s["properties"])
    sensor = s["$defs"]["SensorSpec"]["properties"]
    assert sensor["pixel_pitch_um"]["exclusiveMinimum"] == 0.3


def test_scenes_and_applications(client):
    s = client.get("/api/scenes").json()
    assert "colorchecker" in s["charts"] and "slanted_edge" in s["charts"]
    assert s["illuminants"] == ["D65", "A", "F11", "LED"]
    apps = {a["name"]: a for a in client.get("/api/applications").json()}
    assert "endoscope" in apps and apps["endoscope"]["requirements"]


# --- validation: the CLI's messages, the field named -----------------------------------
def test_validate_ok_and_overrides_apply(client):
    r = client.post("/api/validate", json={"name": "default",
                                           "overrides": {"sensor": {"read_noise_e": 3.5}}})
    assert r.status_code == 200 and r.json()["valid"]
    r = client.post("/api/validate", json={"name": "catalog:phone-imx586-main"})
    assert r.json()["capturable"] is False  # 48 MP: a crop is needed to capture


def test_validation_message_matches_the_cli(client, tmp_path):
    bad = {"sensor": {"pixel_pitch_um": -2.0}}
    r = client.post("/api/validate", json={"name": "default", "overrides": bad})
    detail = assert_error(r, 422, "sensor.pixel_pitch_um")
    # the CLI reads the same module from YAML and reports the same line after its source
    import yaml

    data = load_module("default").model_dump(mode="json")
    data["sensor"]["pixel_pitch_um"] = -2.0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as cli:
        load_module(path)
    assert str(cli.value) == f"{path}: sensor.pixel_pitch_um = -2.0: " \
                             "Input should be greater than 0.3"
    assert detail == "default: sensor.pixel_pitch_um = -2.0: Input should be greater than 0.3"


@pytest.mark.parametrize("overrides, field, fragment", [
    ({"sensor": {"adc_bits": 20}}, "sensor.adc_bits", "less than or equal to 16"),
    ({"lens": {"f_number": 0.1}}, "lens.f_number", "lens.f_number = 0.1"),
    ({"isp": {"demosaic": "magic"}}, "isp.demosaic", "unknown demosaic method"),
    ({"sensor": {"bogus": 1}}, "sensor.bogus", "unknown field"),
    ({"sensor": {"noise": {"prnu_fraction": -1}}}, "sensor.noise.prnu_fraction", "-1"),
    ({"firmware": {}}, "overrides.firmware", "unknown section"),
    ({"sensor": 5}, "overrides.sensor", "must be an object"),
])
def test_bad_overrides_name_the_field(client, overrides, field, fragment):
    r = client.post("/api/validate", json={"name": "default", "overrides": overrides})
    assert_error(r, 422, field, fragment)


def test_bad_request_bodies(client):
    assert_error(client.post("/api/validate", json={"name": "default", "crop_width_px": 2}),
                 422, "crop_width_px", "greater than or equal to 8")
    assert_error(client.post("/api/validate", json={"name": "default", "colour": 1}),
                 422, "colour", "unknown field")
    r = client.post("/api/validate", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]


# --- capture ---------------------------------------------------------------------------
def test_capture_images_and_metrics(client):
    job = submit(client, "/api/capture", {"module": SMALL, "scene": "colorchecker",
                                          "lux": 300, "seed": 3})
    res = job["result"]
    m = res["metrics"]
    assert (res["width_px"], res["height_px"]) == (96, 72)
    assert m["grey_snr_db"] > 10 and 0 <= m["clipped_percent"] <= 100
    assert 0 < m["delta_e00_mean"] < 30
    assert 0.05 < m["mtf50_cy_px"] < 1.0  # measured on the uncropped module's centre
    assert m["mtf50_lp_mm"] == pytest.approx(m["mtf50_cy_px"] * 1e3 / 2.0)
    processed = png(client, f"/api/jobs/{job['id']}/images/processed.png")
    raw = png(client, f"/api/jobs/{job['id']}/images/raw.png")
    assert processed.shape == raw.shape == (72, 96, 3)
    # false colour: an R site of the RGGB mosaic is drawn red (cv2 decodes BGR)
    assert raw[40, 40, 2] >= raw[40, 40, 1] and raw[41, 41, 0] >= raw[41, 41, 2]
    z = png(client, f"/api/jobs/{job['id']}/zoom.png?image=processed&x=0&y=1&size=16&scale=4")
    assert z.shape == (64, 64, 3)
    # the zoom is pixel repetition of the bottom-left 16×16 pixels
    assert np.array_equal(z[::4, ::4], processed[-16:, :16])
    assert_error(client.get(f"/api/jobs/{job['id']}/zoom.png?x=2"), 422, "x")
    assert_error(client.get(f"/api/jobs/{job['id']}/images/nothing.png"), 404, "image")


def test_capture_is_reproducible_per_seed(client):
    base = {"module": SMALL, "scene": "uniform", "lux": 50, "measure_mtf": False,
            "exposure_ms": 10}
    a, b, c = (submit(client, "/api/capture", {**base, "seed": s}) for s in (1, 1, 2))
    img = [client.get(f"/api/jobs/{j['id']}/images/raw.png").content for j in (a, b, c)]
    assert img[0] == img[1] and img[0] != img[2]
    assert a["result"]["metrics"]["exposure_ms"] == pytest.approx(10.0)
    assert a["result"]["metrics"]["mtf50_cy_px"] is None


def test_capture_temperature_raises_dark_signal(client):
    base = {"module": SMALL, "scene": "uniform", "lux": 0.01, "exposure_ms": 1000,
            "measure_mtf": False}
    cold = submit(client, "/api/capture", {**base, "temperature_c": 0})["result"]
    hot = submit(client, "/api/capture", {**base, "temperature_c": 80})["result"]
    assert cold["temperature_c"] == 0 and hot["temperature_c"] == 80
    assert hot["metrics"]["mean_signal_e"] > 10 * cold["metrics"]["mean_signal_e"]


@pytest.mark.parametrize("payload, field, fragment", [
    ({"lux": -5}, "lux", "lux = -5: Input should be greater than 0"),
    ({"lux": 0}, "lux", "greater than 0"),
    ({"exposure_ms": 0}, "exposure_ms", "greater than 0"),
    ({"exposure_ms": 1e6}, "exposure_ms", "less than or equal to 10000"),
    ({"seed": -1}, "seed", "greater than or equal to 0"),
    ({"temperature_c": 500}, "sensor.temperature_c", "sensor.temperature_c = 500"),
    ({"scene": "/etc/passwd"}, "scene", "unknown scene"),
    ({"scene": "src/camtwin/data/modules/default.yaml"}, "scene", "unknown scene"),
    ({"scene": "upload:doesnotexist"}, "scene", "no such upload"),
    ({"illuminant": "IR850"}, "illuminant", "unknown illuminant"),
    ({"module": {"name": "catalog:phone-imx586-main"}}, "sensor.width_px",
     "8000 × 6000 = 48.00 MP: above this server's limit"),
    ({"module": {"name": "default", "overrides": {"sensor": {"width_px": 20000,
                                                             "height_px": 20000}}}},
     "sensor.width_px", "above this server's limit"),
    ({"module": {"name": "default", "overrides": {"sensor": {"width_px": 0}}}},
     "sensor.width_px", "greater than 0"),
    ({"module": {"name": "my.yaml"}}, "module.name", "unknown module"),
    ({"unknown": 1}, "unknown", "unknown field"),
])
def test_capture_bad_input(client, payload, field, fragment):
    before = client.get("/api/health").json()["jobs"]
    body = {"module": SMALL, **payload}
    assert_error(client.post("/api/capture", json=body), 422, field, fragment)
    after = client.get("/api/health").json()["jobs"]
    assert sum(after.values()) == sum(before.values())  # refused before any job started


def test_large_module_captures_with_a_crop(client):
    job = submit(client, "/api/capture", {
        "module": {"name": "catalog:phone-imx586-main", "crop_width_px": 64,
                   "crop_height_px": 48}, "scene": "siemens_star", "measure_mtf": False})
    assert (job["result"]["width_px"], job["result"]["height_px"]) == (64, 48)


# --- uploads ---------------------------------------------------------------------------
def _png_bytes(h, w) -> bytes:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(1, w - 1), yy * 255 // max(1, h - 1),
                    np.full_like(xx, 128)], axis=-1).astype(np.uint8)
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def test_upload_raw_body_and_capture_it(client):
    r = client.post("/api/uploads", content=_png_bytes(60, 80),
                    headers={"content-type": "image/png"})
    assert r.status_code == 201, r.text
    up = r.json()
    assert (up["width_px"], up["height_px"]) == (80, 60)
    assert up["scene"] in client.get("/api/scenes").json()["uploads"]
    job = submit(client, "/api/capture", {"module": SMALL, "scene": up["scene"],
                                          "measure_mtf": False})
    img = png(client, f"/api/jobs/{job['id']}/images/processed.png")
    # the gradients survive: blue rises left → right, green top → bottom (BGR order here
    # and in the upload, which cv2 encoded from the same BGR layout)
    assert img[36, 85, 0] > img[36, 10, 0] + 40 and img[65, 48, 1] > img[6, 48, 1] + 40


def test_upload_multipart(client):
    r = client.post("/api/uploads", files={"file": ("g.png", _png_bytes(30, 40), "image/png")})
    assert r.status_code == 201, r.text
    assert r.json()["width_px"] == 40
    r = client.post("/api/uploads", files={"other": ("g.png", b"x", "image/png")})
    assert_error(r, 422, "file", "required field is missing")


def test_upload_limits(client):
    big = np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", big)  # noise does not compress: ~480 kB > 200 kB limit
    assert ok and len(buf) > 200_000
    assert_error(client.post("/api/uploads", content=buf.tobytes(),
                             headers={"content-type": "image/png"}), 413, "file", "larger")
    assert_error(client.post("/api/uploads", files={"file": ("n.png", buf.tobytes())}),
                 413, "file", "larger")
    # small file, huge image: refused from the header, before decoding (1 MP limit here)
    flat = np.zeros((1200, 1000), np.uint8)
    ok, bomb = cv2.imencode(".png", flat)
    assert ok and len(bomb) < 200_000
    assert_error(client.post("/api/uploads", content=bomb.tobytes()), 413, "file",
                 "1000 × 1200")
    assert_error(client.post("/api/uploads", content=b"GIF89a not really"), 415, "file")
    assert_error(client.post("/api/uploads", content=b""), 422, "file", "empty")
    assert client.get("/api/health").json()["status"] == "ok"


# --- evaluate, compare, plots ----------------------------------------------------------
def test_evaluate_against_an_application(client):
    job = submit(client, "/api/evaluate", {"module": {"name": "catalog:endoscope-ov6948"},
                                           "application": "endoscope", "seed": 1})
    ev = job["result"]
    assert ev["application"] == "endoscope" and ev["module"]
    metrics = {v["metric"] for v in ev["verdicts"]}
    assert {"lux_at_snr10", "delta_e00_mean"} <= metrics
    assert ev["failed"] == sum(not v["passed"] for v in ev["verdicts"])
    assert all(v["value_text"] for v in ev["verdicts"])


@pytest.mark.parametrize("app", ["src/camtwin/data/applications/phone.yaml", "nope", ""])
def test_evaluate_refuses_unknown_applications(client, app):
    r = client.post("/api/evaluate", json={"module": SMALL, "application": app})
    assert_error(r, 422, "application", "unknown application")


def test_compare_two_modules(client):
    job = submit(client, "/api/compare", {
        "modules": [SMALL, {**SMALL, "overrides": {"lens": {"f_number": 8.0}}}],
        "scene": "slanted_edge", "lux": 200, "exposure_ms": 20})
    a, b = job["result"]["captures"]
    assert job["result"]["evaluations"] == []
    # the same light through f/8 instead of f/2 gives ~16× less signal
    ratio = a["metrics"]["mean_signal_e"] / b["metrics"]["mean_signal_e"]
    assert 10 < ratio < 25
    assert a["metrics"]["mtf50_cy_px"] != b["metrics"]["mtf50_cy_px"]
    for c in (a, b):
        assert png(client, f"/api/jobs/{job['id']}/images/{c['images']['processed']}.png"
                   ).shape == (72, 96, 3)


def test_compare_with_evaluation_and_bad_input(client):
    job = submit(client, "/api/compare", {
        "modules": [{"name": "catalog:endoscope-ov6948"},
                    {"name": "catalog:endoscope-ov6948",
                     "overrides": {"sensor": {"read_noise_e": 30.0}}}],
        "scene": "colorchecker", "application": "endoscope"})
    e0, e1 = job["result"]["evaluations"]
    lux = [next(v for v in e["verdicts"] if v["metric"] == "lux_at_snr10")["value"]
           for e in (e0, e1)]
    assert lux[1] > lux[0]  # more read noise needs more light for SNR 10
    assert_error(client.post("/api/compare", json={"modules": [SMALL]}), 422, "modules",
                 "at least 2")
    assert_error(client.post("/api/compare", json={"modules": [SMALL, {"name": "x"}]}),
                 422, "module.name", "unknown module 'x'")


@pytest.mark.parametrize("kind", ["qe", "snr", "mtf"])
def test_plots(client, kind):
    job = submit(client, "/api/plots", {"kind": kind, "modules": [
        SMALL, {"name": "catalog:endoscope-ov6948"}]})
    img = png(client, f"/api/jobs/{job['id']}/images/plot.png")
    assert img.shape[0] > 200 and img.shape[1] > 300
    data = job["result"]["data"]
    assert set(data) == {"default", "catalog:endoscope-ov6948"}
    if kind == "snr":
        snr = data["default"]["snr_db"]
        assert snr[-1] > snr[0]  # more light, more SNR
    if kind == "mtf":
        assert 0.05 < data["default"]["mtf50_cy_px"] < 1
    if kind == "qe":
        assert data["default"]["channels"] == ["R", "G", "B"]
    assert_error(client.get(f"/api/jobs/{job['id']}/zoom.png?image=plot"), 422, "image")


def test_plot_bad_input(client):
    assert_error(client.post("/api/plots", json={"kind": "noise", "modules": [SMALL]}), 422,
                 "kind")
    assert_error(client.post("/api/plots", json={"kind": "qe", "modules": []}), 422,
                 "modules")


# --- jobs ------------------------------------------------------------------------------
def test_unknown_job(client):
    assert_error(client.get("/api/jobs/0123"), 404, "job_id")
    assert_error(client.get("/api/jobs/0123/images/processed.png"), 404, "job_id")


def test_job_manager_errors_keep_the_worker_alive():
    jobs = JobManager(1, max_pending=4, max_stored=10)
    try:
        def bad_config(job, progress):
            raise ConfigError("lens.f_number = 0.1: too small")

        def bug(job, progress):
            raise RuntimeError("boom")

        def fine(job, progress):
            progress(0.5, "half")
            return {"ok": True}

        ids = [jobs.submit("t", f).id for f in (bad_config, bug, fine)]
        deadline = time.monotonic() + 30
        while any(jobs.get(i).status in ("queued", "running") for i in ids):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        a, b, c = (jobs.get(i) for i in ids)
        assert (a.status, a.error) == ("error", "lens.f_number = 0.1: too small")
        assert b.status == "error" and b.error == "internal error: RuntimeError: boom"
        assert c.status == "done" and c.result == {"ok": True} and c.progress == 1.0
    finally:
        jobs.shutdown()


def test_job_manager_bounds_queue_and_store():
    jobs = JobManager(1, max_pending=2, max_stored=3)
    gate = threading.Event()
    try:
        first = jobs.submit("t", lambda job, progress: gate.wait(30))
        jobs.submit("t", lambda job, progress: 1)
        with pytest.raises(QueueFull, match="limit 2"):
            jobs.submit("t", lambda job, progress: 1)
        gate.set()
        deadline = time.monotonic() + 30
        while jobs.pending():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for _ in range(4):
            jobs.submit("t", lambda job, progress: 1)
            while jobs.pending():
                assert time.monotonic() < deadline
                time.sleep(0.01)
        assert jobs.get(first.id) is None  # oldest finished jobs dropped
        assert sum(jobs.counts().values()) <= 4
    finally:
        gate.set()
        jobs.shutdown()


def test_full_queue_is_503_not_a_crash():
    app = create_app(WebSettings(workers=1, max_pending_jobs=1))
    gate = threading.Event()
    with TestClient(app, base_url=BASE_URL) as c:
        app.state.jobs.submit("block", lambda job, progress: gate.wait(30))
        r = c.post("/api/capture", json={"module": SMALL})
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert "limit 1" in r.json()["detail"]
        gate.set()
        assert c.get("/api/health").json()["status"] == "ok"


def test_serve_binds_loopback_by_default(monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from camtwin.cli import app

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    r = CliRunner().invoke(app, ["serve"])
    assert r.exit_code == 0, r.output
    (served, kw), = calls
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8000
    assert served.state.settings.max_pixels == 1_500_000
    r = CliRunner().invoke(app, ["serve", "--port", "70000"])
    assert r.exit_code == 2
    from camtwin.web.server import BackgroundServer

    assert BackgroundServer.__init__.__kwdefaults__["host"] == "127.0.0.1"


# --- downloads, offline docs, metric sources (issue 18) ---------------------------------
def test_capture_downloads(client, tmp_path):
    import json

    import tifffile

    from camtwin.raw import read_raw

    job = submit(client, "/api/capture", {"module": SMALL, "scene": "colorchecker", "seed": 4,
                                          "measure_mtf": False})
    d = job["downloads"]
    assert set(d) == {"raw_dng", "processed_png", "processed_tiff", "metrics_json",
                      "report_html"}
    r = client.get(d["raw_dng"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/x-adobe-dng"
    assert "attachment" in r.headers["content-disposition"]
    path = tmp_path / "raw.dng"
    path.write_bytes(r.content)
    frame = read_raw(path)  # camtwin's own DNG reader (LibRaw)
    assert frame.dn.shape == (72, 96)
    processed = png(client, d["processed_png"])
    assert processed.shape == (72, 96, 3)
    tif = tifffile.imread(__import__("io").BytesIO(client.get(d["processed_tiff"]).content))
    assert np.array_equal(tif, processed[..., ::-1])  # the same pixels (cv2 decodes BGR)
    metrics = json.loads(client.get(d["metrics_json"]).content)
    assert metrics == job["result"]
    page = client.get(d["report_html"])
    assert page.headers["content-type"].startswith("text/html")
    assert "data:image/png;base64," in page.text and "CIEDE2000" in page.text
    assert client.get(f"/api/jobs/{job['id']}/downloads/..%2Fsecret").status_code == 404
    assert_error(client.get(f"/api/jobs/{job['id']}/downloads/raw.npz"), 404, "name")


def test_compare_evaluate_and_plot_downloads(client):
    job = submit(client, "/api/compare", {"modules": [SMALL, {**SMALL, "name": "default"}],
                                          "scene": "uniform", "lux": 100})
    d = job["downloads"]
    assert {"m0_raw_dng", "m1_raw_dng", "m0_processed_tiff", "report_html"} <= set(d)
    assert client.get(d["m1_raw_dng"]).status_code == 200
    assert client.get(d["report_html"]).text.count("<h2>") == 2
    ev = submit(client, "/api/evaluate", {"module": {"name": "catalog:endoscope-ov6948"},
                                          "application": "endoscope"})
    assert set(ev["downloads"]) == {"metrics_json", "report_html"}
    assert "lux_at_snr10" in client.get(ev["downloads"]["report_html"]).text
    pl = submit(client, "/api/plots", {"kind": "qe", "modules": [SMALL]})
    assert client.get(pl["downloads"]["plot_png"]).content.startswith(b"\x89PNG")


def test_docs_work_offline(client):
    page = client.get("/docs").text
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page
    for asset in ("/static-docs/swagger-ui-bundle.js", "/static-docs/swagger-ui.css"):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 10_000
        assert asset in page


def test_mono_module_gets_no_colour_error_and_every_number_says_where_it_is_from(client):
    mono = {"name": "catalog:drone-ov9281-nav", "crop_width_px": 96, "crop_height_px": 72}
    job = submit(client, "/api/capture", {"module": mono, "scene": "colorchecker",
                                          "measure_mtf": True})
    res = job["result"]
    m, src = res["metrics"], res["metric_sources"]
    assert res["module"]["cfa"] == "mono"
    assert m["delta_e00_mean"] is None and m["delta_e00_max"] is None
    assert "mono sensor has no colour" in src["delta_e00_mean"]
    assert m["grey_snr_db"] is not None and "neutral 5" in src["grey_snr_db"]
    assert "raw pixels" in src["grey_snr_db"] and "green" not in src["grey_snr_db"]
    assert m["mtf50_cy_px"] is not None
    assert src["mtf50_cy_px"].startswith("a separate simulation, not this capture")
    assert set(src) == set(m)  # every metric has a source or a reason


def test_metrics_shown_only_where_they_mean_something(client):
    job = submit(client, "/api/capture", {"module": SMALL, "scene": "siemens_star",
                                          "measure_mtf": False})
    m, src = job["result"]["metrics"], job["result"]["metric_sources"]
    assert m["grey_snr_db"] is None and "no uniform grey region" in src["grey_snr_db"]
    assert m["delta_e00_mean"] is None and "needs the colorchecker scene" in src["delta_e00_mean"]
    assert m["mtf50_cy_px"] is None and "measure_mtf = false" in src["mtf50_cy_px"]
    assert src["clipped_percent"].startswith("this capture")


def test_evaluation_of_a_mono_module_marks_colour_not_applicable(client):
    job = submit(client, "/api/evaluate", {"module": {"name": "catalog:drone-ov9281-nav"},
                                           "application": "endoscope"})
    de = next(v for v in job["result"]["verdicts"] if v["metric"] == "delta_e00_mean")
    assert de["status"] == "n/a" and not de["passed"] and de["not_applicable"]
    page = client.get(job["downloads"]["report_html"]).text
    assert "n/a" in page and de["not_applicable"][:30] in page
