"""The camtwin web workbench: a FastAPI JSON API and a static single-page workbench.

``camtwin serve`` starts it (127.0.0.1:8000 by default). The API is described by its
OpenAPI document at ``/openapi.json`` (interactive at ``/docs``). Simulations run in a
bounded worker pool (:mod:`camtwin.web.jobs`), never in the event loop; the page polls
``/api/jobs/{id}`` for progress.

Clients never name server paths: modules come from the built-ins and the catalog (through
:mod:`camtwin.parts`, file paths refused), applications from the built-in profiles, scenes
from the chart list or an uploaded image (held in memory). Every request passes
:class:`camtwin.web.security.Guard`: only the configured host names, the access token when
one is set, bounded bodies, and a per-client session that owns its uploads and jobs.
"""

from ..extras import require as _require

_require("web", "camtwin.web")

from .app import create_app
from .settings import WebSettings

__all__ = ["WebSettings", "create_app"]
