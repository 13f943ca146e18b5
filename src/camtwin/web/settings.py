"""Limits, host names and authentication of a workbench server."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import ConfigError

#: Host names a loopback server answers to (the Host header; anything else is refused,
#: which stops DNS-rebinding pages from reaching the server through the browser).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Environment variable that may hold the access token (``camtwin serve --token``).
TOKEN_ENV = "CAMTWIN_WEB_TOKEN"
#: Shortest accepted access token [characters].
MIN_TOKEN_CHARS = 16


@dataclass(frozen=True)
class WebSettings:
    """Limits of one server instance.

    Attributes
    ----------
    workers : int
        Simulation threads (the bounded worker pool). Default: 2, or the number of CPUs
        if smaller.
    max_pending_jobs : int
        Jobs queued or running at once; one more is refused with 503 (try again later).
    max_stored_jobs : int
        Finished jobs (and their images) kept in memory; the oldest are dropped first.
    max_pixels : int
        Largest sensor (width × height after the optional centre crop) a capture may
        simulate; larger requests get 422 naming ``sensor.width_px``.
    max_upload_bytes : int
        Largest accepted upload body [bytes]; larger ones get 413.
    max_upload_pixels : int
        Largest upload image [pixels], read from the file's header before decoding; larger
        ones get 413 (decompression bombs).
    max_decode_bytes : int
        Memory budget of the upload decodes running at once [bytes]: each decode reserves
        its estimated peak (width × height × bytes per decoded pixel, see
        :func:`camtwin.web.service.decode_cost_bytes`) and waits while the budget is spent.
    decode_threads : int
        Threads that decode uploads (their own pool): at most this many decodes run at once,
        and only this many threads' heaps ever hold decoded pixels.
    upload_max_side_px : int
        Uploaded images are reduced (area averaging) to at most this many pixels on their
        longest side when stored.
    max_uploads : int
        Uploaded images kept in memory (all clients); the oldest are dropped first.
    max_uploads_per_session : int
        Uploaded images kept per client session; its oldest are dropped first.
    max_body_bytes : int
        Largest request body of every endpoint except uploads [bytes]; larger ones get 413
        (checked on Content-Length and on the bytes actually streamed).
    session_ttl_s : int
        A client session (and the uploads and jobs it owns) expires after this many seconds
        without a request.
    max_sessions : int
        Sessions kept; the least recently used is dropped (with its uploads and jobs) first.
    allowed_hosts : tuple of str
        Host names (Host header, port ignored) the server answers; ``"*"`` accepts any.
    auth_token : str or None
        When set, every request except the page's static files must carry it
        (``Authorization: Bearer TOKEN``, or the cookie set by opening ``/?token=TOKEN``).
    """

    workers: int = 0
    max_pending_jobs: int = 128
    max_stored_jobs: int = 64
    max_pixels: int = 1_500_000
    max_upload_bytes: int = 8 * 1024 * 1024
    max_upload_pixels: int = 25_000_000
    max_decode_bytes: int = 512 * 1024 * 1024
    decode_threads: int = 2
    upload_max_side_px: int = 2048
    max_uploads: int = 16
    max_uploads_per_session: int = 8
    max_body_bytes: int = 1024 * 1024
    session_ttl_s: int = 3600
    max_sessions: int = 10_000
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    auth_token: str | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.workers == 0:
            object.__setattr__(self, "workers", max(1, min(2, os.cpu_count() or 1)))
        for name in ("workers", "max_pending_jobs", "max_stored_jobs", "max_pixels",
                     "max_upload_bytes", "max_upload_pixels", "max_decode_bytes", "decode_threads",
                     "upload_max_side_px", "max_uploads", "max_uploads_per_session",
                     "max_body_bytes", "session_ttl_s", "max_sessions"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"web settings {name} = {value!r}: must be an integer >= 1")
        if self.workers > 64:
            raise ConfigError(f"web settings workers = {self.workers}: valid range is 1..64")
        hosts = tuple(h.strip().lower() for h in self.allowed_hosts)
        if not hosts or any(not h for h in hosts):
            raise ConfigError(f"web settings allowed_hosts = {self.allowed_hosts!r}: "
                              "give one or more host names (or '*')")
        object.__setattr__(self, "allowed_hosts", hosts)
        if self.auth_token is not None and (len(self.auth_token) < MIN_TOKEN_CHARS
                                            or not self.auth_token.isprintable()
                                            or " " in self.auth_token):
            raise ConfigError(f"web settings auth_token: must be at least {MIN_TOKEN_CHARS} "
                              "printable characters without spaces (e.g. python -c "
                              "'import secrets; print(secrets.token_urlsafe(32))')")
