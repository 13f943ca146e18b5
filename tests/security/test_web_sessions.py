"""Issue 22, web server: uploads and jobs visible to every client.

Before the fix every upload was listed at /api/scenes, so a second client could render the
first client's face photo, and any client could read any job. Now each client gets an
unguessable session token (cookie ``camtwin_session`` or header ``X-Camtwin-Session``);
uploads and jobs belong to the session that made them, and expire with it.
"""

from __future__ import annotations

import io
import time

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from camtwin.web import WebSettings, create_app
from camtwin.web.security import SESSION_COOKIE, SessionStore

BASE_URL = "http://127.0.0.1"
SMALL = {"name": "default", "crop_width_px": 48, "crop_height_px": 32}


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 150, 120)).save(buf, "PNG")
    return buf.getvalue()


def wait(c, job_id):
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        j = c.get(f"/api/jobs/{job_id}").json()
        if j["status"] in ("done", "error"):
            return j
        time.sleep(0.05)
    raise AssertionError("job did not finish")


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture(scope="module")
def app():
    return create_app(WebSettings(workers=1, session_ttl_s=600))


def test_uploads_and_jobs_belong_to_their_client(app):
    with TestClient(app, base_url=BASE_URL) as alice, TestClient(app, base_url=BASE_URL) as bob:
        up = alice.post("/api/uploads", content=photo())
        assert up.status_code == 201
        scene = up.json()["scene"]
        assert alice.cookies.get(SESSION_COOKIE)
        assert alice.cookies.get(SESSION_COOKIE) != bob.cookies.get(SESSION_COOKIE)
        assert scene in alice.get("/api/scenes").json()["uploads"]
        assert bob.get("/api/scenes").json()["uploads"] == []
        # bob cannot render alice's photo even knowing its id
        r = bob.post("/api/capture", json={"module": SMALL, "scene": scene, "measure_mtf": False})
        assert r.status_code == 422 and "no such upload" in r.json()["detail"]
        r = alice.post("/api/capture", json={"module": SMALL, "scene": scene,
                                             "measure_mtf": False})
        assert r.status_code == 202
        job_id = r.json()["job_id"]
        assert wait(alice, job_id)["status"] == "done"
        for url in (f"/api/jobs/{job_id}", f"/api/jobs/{job_id}/images/processed.png",
                    f"/api/jobs/{job_id}/downloads/metrics.json",
                    f"/api/jobs/{job_id}/zoom.png"):
            assert bob.get(url).status_code == 404, url
            assert alice.get(url).status_code == 200, url


def test_the_session_header_works_without_cookies(app):
    with TestClient(app, base_url=BASE_URL) as c:
        token = c.get("/api/health").headers["x-camtwin-session"]
        assert len(token) >= 40  # 32 random bytes, base64url
        c.cookies.clear()
        up = c.post("/api/uploads", content=photo(), headers={"X-Camtwin-Session": token})
        assert up.headers["x-camtwin-session"] == token
        listed = c.get("/api/scenes", headers={"X-Camtwin-Session": token}).json()["uploads"]
        assert listed == [up.json()["scene"]]
        c.cookies.clear()
        assert c.get("/api/scenes").json()["uploads"] == []  # a new session


def test_a_forged_token_gets_a_new_session():
    app = create_app(WebSettings(workers=1))
    with TestClient(app, base_url=BASE_URL) as c:
        r = c.get("/api/scenes", headers={"X-Camtwin-Session": "guessed"})
        assert r.headers["x-camtwin-session"] != "guessed"


def test_sessions_expire_with_what_they_owned():
    clock = FakeClock()
    app = create_app(WebSettings(workers=1, session_ttl_s=600))
    app.state.sessions._clock = clock
    with TestClient(app, base_url=BASE_URL) as c:
        scene = c.post("/api/uploads", content=photo()).json()["scene"]
        first = c.cookies.get(SESSION_COOKIE)
        clock.t += 599
        assert c.get("/api/scenes").json()["uploads"] == [scene]  # still live; refreshed
        clock.t += 599
        assert c.get("/api/scenes").json()["uploads"] == [scene]
        clock.t += 601  # idle longer than the TTL
        assert c.get("/api/scenes").json()["uploads"] == []
        assert c.cookies.get(SESSION_COOKIE) != first
        assert app.state.uploads.keys() == []  # dropped, not merely hidden
        assert "Max-Age=600" in c.get("/api/health", headers={"cookie": ""}).headers["set-cookie"]


def test_session_store_bounds_and_drops():
    dropped = []
    clock = FakeClock()
    store = SessionStore(100, 3, dropped.append, clock=clock)
    tokens = [store.touch(None)[0] for _ in range(5)]
    assert len(store) == 3 and dropped == tokens[:2]  # least recently used first
    assert store.touch(tokens[4]) == (tokens[4], False)
    clock.t += 101
    new, is_new = store.touch(tokens[4])
    assert is_new and new != tokens[4] and set(dropped) == set(tokens)


def test_uploads_per_session_are_capped():
    app = create_app(WebSettings(workers=1, max_uploads_per_session=2, max_uploads=10))
    with TestClient(app, base_url=BASE_URL) as c:
        scenes = [c.post("/api/uploads", content=photo()).json()["scene"] for _ in range(3)]
        assert c.get("/api/scenes").json()["uploads"] == scenes[1:]
