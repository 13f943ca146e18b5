"""What stands between a request and the API: host check, authentication, body limits and
client sessions (pure ASGI middleware, outermost first in :func:`install`).

* **Host** — only the configured host names (:attr:`WebSettings.allowed_hosts`) are answered;
  a page on another origin that re-points its DNS name at 127.0.0.1 (DNS rebinding) sends
  its own name and gets 400.
* **Authentication** (optional, :attr:`WebSettings.auth_token`) — ``Authorization: Bearer
  TOKEN`` or the ``camtwin_auth`` cookie, which ``GET /?token=TOKEN`` sets (HttpOnly,
  SameSite=Strict; the cookie holds an HMAC of the token, not the token). Everything but
  ``/static/`` needs it; a wrong or missing token gets 401.
* **Body size** — the Content-Length header and the bytes actually received are both
  checked against :attr:`WebSettings.max_body_bytes` (uploads: ``max_upload_bytes`` plus
  the multipart framing allowance); more gets 413 before the body is parsed.
* **Sessions** — every client gets an unguessable token (:func:`secrets.token_urlsafe`, 256
  bits) in the ``camtwin_session`` cookie and the ``X-Camtwin-Session`` response header;
  either form is accepted back. Uploads and jobs belong to the session that made them and
  are invisible to others; a session idle for :attr:`WebSettings.session_ttl_s` expires
  and what it owned is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

from starlette.exceptions import HTTPException

from .settings import WebSettings

SESSION_COOKIE = "camtwin_session"
SESSION_HEADER = "x-camtwin-session"
AUTH_COOKIE = "camtwin_auth"
#: Extra bytes an upload body may have beyond ``max_upload_bytes`` (multipart framing).
MULTIPART_ALLOWANCE = 65536
#: Paths served without authentication (the page's script and style; no data).
PUBLIC_PREFIXES = ("/static/",)


class BodyTooLarge(HTTPException):
    """A request body above the limit (raised while it is received); ``field`` is
    ``file`` for an upload, ``body`` otherwise."""

    def __init__(self, detail: str, field: str):
        super().__init__(413, detail)
        self.field = field


def _size_text(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def body_limit(settings: WebSettings, path: str) -> tuple[int, BodyTooLarge]:
    """Largest body [bytes] a request to ``path`` may send, and the error beyond it."""
    if path.rstrip("/") == "/api/uploads":
        return (settings.max_upload_bytes + MULTIPART_ALLOWANCE,
                BodyTooLarge(f"upload: body larger than the limit of "
                             f"{_size_text(settings.max_upload_bytes)}", "file"))
    return settings.max_body_bytes, BodyTooLarge(
        f"request body larger than this server's limit of {_size_text(settings.max_body_bytes)}"
        " (camtwin serve --max-body-kb)", "body")


def host_name(host_header: str) -> str:
    """The name of a Host header without its port (``[::1]:8000`` → ``::1``)."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        return h.split(":", 1)[0]
    return h


def auth_cookie_value(token: str) -> str:
    """What the auth cookie holds: an HMAC of the token (the token itself never is)."""
    return hmac.new(token.encode(), b"camtwin-web-auth-cookie", hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------
# sessions
# ---------------------------------------------------------------------------------------
class SessionStore:
    """Session tokens and when each was last used; expired or evicted ones are reported to
    ``on_drop(token)`` so the uploads and jobs they owned are dropped too."""

    def __init__(self, ttl_s: float, max_sessions: int,
                 on_drop: Callable[[str], None] | None = None, clock=time.monotonic):
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._on_drop = on_drop or (lambda token: None)
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def touch(self, token: str | None) -> tuple[str, bool]:
        """The caller's session: ``token`` if it is live (now refreshed), else a new one.
        Returns ``(token, new)``."""
        now = self._clock()
        dropped = []
        with self._lock:
            while self._seen:  # the least recently used first
                oldest, seen = next(iter(self._seen.items()))
                if now - seen <= self.ttl_s:
                    break
                del self._seen[oldest]
                dropped.append(oldest)
            if token is not None and token in self._seen:
                self._seen[token] = now
                self._seen.move_to_end(token)
                new = False
            else:
                token, new = secrets.token_urlsafe(32), True
                self._seen[token] = now
                while len(self._seen) > self.max_sessions:
                    dropped.append(self._seen.popitem(last=False)[0])
        for t in dropped:
            self._on_drop(t)
        return token, new

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def expire(self, token: str) -> None:
        """End ``token``'s session now (what it owned is dropped)."""
        with self._lock:
            present = self._seen.pop(token, None) is not None
        if present:
            self._on_drop(token)


# ---------------------------------------------------------------------------------------
# middleware
# ---------------------------------------------------------------------------------------
def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def _reply(send, status: int, detail: str, field: str | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail, "field": field}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Host check, authentication, body limit and session, in that order (one ASGI layer)."""

    def __init__(self, app, settings: WebSettings, sessions: SessionStore):
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self._any_host = "*" in settings.allowed_hosts
        self._hosts = frozenset(settings.allowed_hosts)
        self._cookie = (auth_cookie_value(settings.auth_token)
                        if settings.auth_token else None)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = _headers(scope)
        path = scope.get("path", "")
        # --- host -----------------------------------------------------------------------
        host = host_name(headers.get("host", ""))
        if not self._any_host and host not in self._hosts:
            shown = headers.get("host", "")[:80]
            return await _reply(send, 400, f"Host {shown!r} is not served here; this server "
                                           f"answers {', '.join(sorted(self._hosts))} "
                                           "(camtwin serve --allowed-host)", "host")
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header counts as no cookie
            cookies = SimpleCookie()
        extra: list[tuple[bytes, bytes]] = []
        # --- authentication -------------------------------------------------------------
        if self.settings.auth_token and not path.startswith(PUBLIC_PREFIXES):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("token", [None])[0]
            if given is not None and scope["method"] == "GET":
                if not hmac.compare_digest(given.encode(), self.settings.auth_token.encode()):
                    return await _reply(send, 401, "token: wrong access token", "token")
                rest = {k: v for k, v in query.items() if k != "token"}
                location = path + ("?" + urlencode(rest, doseq=True) if rest else "")
                cookie = (f"{AUTH_COOKIE}={self._cookie}; Path=/; HttpOnly; SameSite=Strict; "
                          f"Max-Age={self.settings.session_ttl_s}")
                await send({"type": "http.response.start", "status": 303,
                            "headers": [(b"location", location.encode("latin-1")),
                                        (b"set-cookie", cookie.encode()),
                                        (b"content-length", b"0")]})
                return await send({"type": "http.response.body", "body": b""})
            if not self._authorised(headers, cookies):
                return await _reply(send, 401, "token: this server needs its access token: "
                                               "open /?token=TOKEN once, or send the header "
                                               "'Authorization: Bearer TOKEN'", "token",
                                    [(b"www-authenticate", b"Bearer")])
        # --- body size (declared) -------------------------------------------------------
        limit, too_large = body_limit(self.settings, path)
        declared = headers.get("content-length")
        if declared is not None and (not declared.strip().isdigit()
                                     or int(declared) > limit):
            return await _reply(send, 413, too_large.detail, too_large.field)
        # --- session --------------------------------------------------------------------
        given = headers.get(SESSION_HEADER)
        if given is None and SESSION_COOKIE in cookies:
            given = cookies[SESSION_COOKIE].value
        token, new = self.sessions.touch(given[:100] if given else None)
        scope.setdefault("state", {})["session"] = token
        extra.append((SESSION_HEADER.encode(), token.encode()))
        if new:
            extra.append((b"set-cookie", (f"{SESSION_COOKIE}={token}; Path=/; HttpOnly; "
                                          f"SameSite=Strict; Max-Age="
                                          f"{self.settings.session_ttl_s}").encode()))
        # --- body size (streamed) -------------------------------------------------------
        received = 0
        started = False

        async def guarded_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large
            return message

        async def send_with_session(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, guarded_receive, send_with_session)
        except BodyTooLarge as exc:  # raised outside a route's error handling
            if not started:
                await _reply(send, 413, exc.detail, exc.field, extra)

    def _authorised(self, headers: dict, cookies: SimpleCookie) -> bool:
        token = self.settings.auth_token
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and hmac.compare_digest(auth[7:].strip().encode(),
                                                                 token.encode()):
            return True
        if AUTH_COOKIE in cookies:
            return hmac.compare_digest(cookies[AUTH_COOKIE].value.encode(),
                                       self._cookie.encode())
        return False


def session_of(request) -> str:
    """The session token :class:`Guard` gave this request."""
    return request.state.session
