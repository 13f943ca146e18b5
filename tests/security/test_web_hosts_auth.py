"""Issue 22, web server: Host header and authentication.

Before the fix any Host header was answered, so a page on another origin could re-point its
DNS name at 127.0.0.1 and drive the API from the victim's browser (DNS rebinding), and
``camtwin serve --host 0.0.0.0`` served everyone without a login. Now only the configured
host names are answered, an access token can be required, and a bind beyond loopback
without one is refused unless ``--no-auth`` says so.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from camtwin.errors import ConfigError
from camtwin.web import WebSettings, create_app
from camtwin.web.security import AUTH_COOKIE, host_name

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:8000", True), ("localhost", True), ("LOCALHOST:1", True), ("[::1]:8000", True),
    ("evil.example", False), ("evil.example:8000", False), ("127.0.0.1.evil.example", False),
    ("", False),
])
def test_only_configured_host_names_are_answered(host, ok):
    with TestClient(create_app(WebSettings()), base_url="http://127.0.0.1") as c:
        r = c.get("/api/health", headers={"host": host})
        assert r.status_code == (200 if ok else 400), r.text
        if not ok:
            assert r.json()["field"] == "host"
            assert "--allowed-host" in r.json()["detail"]


def test_host_names_can_be_configured():
    assert host_name("[::1]:80") == "::1" and host_name("Example.org:8000") == "example.org"
    app = create_app(WebSettings(allowed_hosts=("lab-pc.local",)))
    with TestClient(app, base_url="http://lab-pc.local:8000") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"host": "127.0.0.1"}).status_code == 400
    with TestClient(create_app(WebSettings(allowed_hosts=("*",))),
                    base_url="http://anything.example") as c:
        assert c.get("/api/health").status_code == 200


@pytest.fixture(scope="module")
def secured():
    return create_app(WebSettings(auth_token=TOKEN))


def test_token_is_required_when_configured(secured):
    with TestClient(secured, base_url="http://127.0.0.1") as c:
        for url in ("/", "/api/health", "/api/modules", "/docs", "/openapi.json"):
            r = c.get(url)
            assert r.status_code == 401, url
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.post("/api/capture", json={}).status_code == 401
        assert c.get("/api/health", headers={"authorization": "Bearer wrong"}).status_code == 401
        r = c.get("/api/health", headers={"authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        # the page's script and style carry no data: served without the token
        assert c.get("/static/app.js").status_code == 200


def test_browser_login_sets_a_cookie_that_is_not_the_token(secured):
    with TestClient(secured, base_url="http://127.0.0.1", follow_redirects=False) as c:
        assert c.get("/?token=wrong").status_code == 401
        r = c.get(f"/?token={TOKEN}")
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        assert c.cookies.get(AUTH_COOKIE)
        assert c.get("/").status_code == 200
        assert c.get("/api/health").status_code == 200
        c.cookies.clear()
        assert c.get("/api/health", headers={"cookie": f"{AUTH_COOKIE}=forged"}
                     ).status_code == 401


def test_short_tokens_are_refused():
    with pytest.raises(ConfigError, match="at least 16"):
        WebSettings(auth_token="short")
    assert TOKEN not in repr(WebSettings(auth_token=TOKEN))


@pytest.fixture
def served(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.delenv("CAMTWIN_WEB_TOKEN", raising=False)
    return calls


def _serve(args, env=None):
    from typer.testing import CliRunner

    from camtwin.cli import app

    return CliRunner().invoke(app, ["serve", *args], env=env)


def test_serve_beyond_loopback_needs_a_token(served):
    r = _serve(["--host", "0.0.0.0"])
    assert r.exit_code == 2 and served == []
    assert "needs --token" in r.output and "--no-auth" in r.output
    r = _serve(["--host", "0.0.0.0", "--no-auth", "--allowed-host", "lab-pc.local"])
    assert r.exit_code == 0, r.output
    settings = served[-1][0].state.settings
    assert settings.auth_token is None and "lab-pc.local" in settings.allowed_hosts
    assert "WITHOUT a token" in r.output


def test_serve_takes_the_token_from_the_environment(served):
    r = _serve(["--host", "192.168.1.20"], env={"CAMTWIN_WEB_TOKEN": TOKEN})
    assert r.exit_code == 0, r.output
    (app, kw), = served
    assert kw["host"] == "192.168.1.20"
    s = app.state.settings
    assert s.auth_token == TOKEN and "192.168.1.20" in s.allowed_hosts
    assert "127.0.0.1" in s.allowed_hosts and TOKEN not in r.output
    r = _serve(["--host", "192.168.1.20", "--token", "short"])
    assert r.exit_code == 2 and "at least 16" in r.output
    r = _serve(["--token", TOKEN, "--no-auth"])
    assert r.exit_code == 2


def test_loopback_needs_no_token(served):
    for host in ("127.0.0.1", "localhost", "::1"):
        assert _serve(["--host", host]).exit_code == 0
    assert all(app.state.settings.auth_token is None for app, _ in served)
