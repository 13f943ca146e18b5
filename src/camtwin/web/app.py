"""The FastAPI application: JSON API under ``/api``, the workbench page at ``/``, the
interactive API documentation at ``/docs`` (Swagger UI served from the installed
``fastapi-offline`` package: no CDN, works offline).

Errors are one JSON object ``{"detail": "<one line>", "field": "<dotted path or null>"}``:
422 for a bad value (the line is the same one the CLI prints, naming field, value and
valid range), 404 for an unknown job (or another client's), 413 for an oversized body or
upload (the limit named), 415 for an unreadable upload, 400 for a host name the server does
not answer, 401 without the access token, 503 when the job queue is full. Every request
passes :class:`camtwin.web.security.Guard` first (host, token, body size, session).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import CamtwinError
from . import service as sv
from .jobs import JobManager, QueueFull
from .security import Guard, SessionStore, session_of
from .settings import WebSettings

_PNG = "image/png"
_NO_STORE = {"Cache-Control": "no-store"}
#: Longest error line sent back [characters] (a message never echoes a whole body).
MAX_DETAIL_CHARS = 500


class UploadStore:
    """Uploaded scene images in memory, each owned by a client session: at most
    ``per_owner`` per session and ``limit`` in all, the oldest dropped first."""

    def __init__(self, limit: int, per_owner: int | None = None):
        self.limit = limit
        self.per_owner = per_owner or limit
        self._items: OrderedDict[str, tuple[str | None, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, image: np.ndarray, owner: str | None = None) -> str:
        import secrets

        key = secrets.token_hex(8)
        with self._lock:
            self._items[key] = (owner, image)
            mine = [k for k, (o, _) in self._items.items() if o == owner]
            for k in mine[:max(0, len(mine) - self.per_owner)]:
                del self._items[k]
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return key

    def get(self, key: str, owner: str | None = None) -> np.ndarray | None:
        """The image, or None if there is none or (given ``owner``) it is another's."""
        with self._lock:
            item = self._items.get(key)
        if item is None or (owner is not None and item[0] != owner):
            return None
        return item[1]

    def keys(self, owner: str | None = None) -> list[str]:
        with self._lock:
            return [k for k, (o, _) in self._items.items() if owner is None or o == owner]

    def drop_owner(self, owner: str) -> None:
        with self._lock:
            for k in [k for k, (o, _) in self._items.items() if o == owner]:
                del self._items[k]

    def owned_by(self, owner: str | None):
        """A read-only view of ``owner``'s uploads (what a capture may use as its scene)."""
        return _OwnedUploads(self, owner)


class _OwnedUploads:
    def __init__(self, store: UploadStore, owner: str | None):
        self._store, self._owner = store, owner

    def get(self, key: str) -> np.ndarray | None:
        return self._store.get(key, self._owner)


def _error(status: int, detail: str, field: str | None = None, headers=None) -> JSONResponse:
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[:MAX_DETAIL_CHARS - 3] + "..."
    return JSONResponse({"detail": detail, "field": field}, status_code=status, headers=headers)


def _request_error_line(exc: RequestValidationError) -> tuple[str, str | None]:
    """One line like the spec errors: ``field = value: message``, joined by '; '."""
    parts, first = [], None
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        loc = [p for p in loc if "[" not in p]
        where = ".".join(loc) or "body"
        first = first or where
        kind = err.get("type", "")
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        if kind == "json_invalid":
            parts.append("request body is not valid JSON")
        elif kind == "missing":
            parts.append(f"{where}: required field is missing")
        elif kind == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        else:
            value = err.get("input")
            shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
            if len(shown) > 60:
                shown = shown[:57] + "..."
            parts.append(f"{where} = {shown}: {msg}")
    return "; ".join(dict.fromkeys(parts)), first


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """The workbench application with its own worker pool, job store and uploads."""
    settings = settings or WebSettings()
    jobs = JobManager(settings.workers, max_pending=settings.max_pending_jobs,
                      max_stored=settings.max_stored_jobs)
    uploads = UploadStore(settings.max_uploads, settings.max_uploads_per_session)
    decode_budget = sv.DecodeBudget(settings.max_decode_bytes)
    decode_pool = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="camtwin-decode")

    def _drop_session(token: str) -> None:
        uploads.drop_owner(token)
        jobs.drop_owner(token)

    sessions = SessionStore(settings.session_ttl_s, settings.max_sessions, _drop_session)

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.shutdown(wait=False)  # the decode pool's idle threads need no shutdown

    app = FastAPI(title="camtwin workbench", version=__version__, lifespan=lifespan,
                  description="Simulate camera modules: capture, evaluate, compare, plot. "
                              "Long work runs as a job: POST returns 202 with a job id, "
                              "GET /api/jobs/{id} reports progress and the result. "
                              "Uploads and jobs belong to the client session that made them "
                              "(cookie camtwin_session or header X-Camtwin-Session).",
                  docs_url=None, redoc_url=None)
    app.state.settings, app.state.jobs, app.state.uploads = settings, jobs, uploads
    app.state.sessions, app.state.decode_budget = sessions, decode_budget
    app.add_middleware(Guard, settings=settings, sessions=sessions)

    @app.exception_handler(StarletteHTTPException)
    async def _on_http(request: Request, exc: StarletteHTTPException):
        field = getattr(exc, "field", None)
        return _error(exc.status_code, str(exc.detail), field, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _on_validation(request: Request, exc: RequestValidationError):
        line, field = _request_error_line(exc)
        return _error(422, line, field)

    @app.exception_handler(sv.WebInputError)
    async def _on_input(request: Request, exc: sv.WebInputError):
        return _error(exc.status, str(exc), exc.field)

    @app.exception_handler(CamtwinError)
    async def _on_camtwin(request: Request, exc: CamtwinError):
        return _error(422, str(exc))

    @app.exception_handler(QueueFull)
    async def _on_full(request: Request, exc: QueueFull):
        return _error(503, str(exc), headers={"Retry-After": "5"})

    static = resources.files("camtwin") / "web" / "static"

    # --- page --------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(str(static / "index.html"), headers=_NO_STORE)

    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    _add_offline_docs(app)

    # --- reference data ----------------------------------------------------------------
    @app.get("/api/health", tags=["server"], summary="Server status and queue sizes")
    async def health():
        return {"status": "ok", "version": __version__, "workers": jobs.workers,
                "jobs": jobs.counts(), "pending": jobs.pending(),
                "limits": {"max_pixels": settings.max_pixels,
                           "max_upload_bytes": settings.max_upload_bytes,
                           "max_upload_pixels": settings.max_upload_pixels,
                           "max_body_bytes": settings.max_body_bytes,
                           "max_pending_jobs": settings.max_pending_jobs,
                           "session_ttl_s": settings.session_ttl_s},
                "token_required": settings.auth_token is not None}

    @app.get("/api/modules", tags=["modules"],
             summary="Built-in and catalog modules a request may name")
    def modules():
        return [sv.module_summary(n, sv.base_module(n)) for n in sv.module_names()]

    @app.get("/api/modules/{name}", tags=["modules"],
             summary="The full spec of one module (as its YAML would hold it)")
    def module_detail(name: str):
        m = sv.base_module(name)
        return {"summary": sv.module_summary(sv.canonical_module(name), m),
                "spec": m.model_dump(mode="json")}

    @app.get("/api/schema", tags=["modules"],
             summary="JSON schema of a module spec (sensor, lens, isp), for building forms")
    def schema():
        from ..module import ModuleSpec

        return ModuleSpec.model_json_schema()

    @app.post("/api/validate", tags=["modules"],
              summary="Validate a module choice with overrides; 422 names the field")
    def validate(choice: sv.ModuleChoice):
        m = sv.resolve_module(choice)
        s = m.sensor
        n = s.width_px * s.height_px
        return {"valid": True, "module": sv.module_summary(sv.canonical_module(choice.name), m),
                "capturable": n <= settings.max_pixels,
                "max_pixels": settings.max_pixels}

    @app.get("/api/scenes", tags=["scenes"],
             summary="Charts, illuminants and this client's uploads")
    async def scenes(request: Request):
        return {"charts": sv.chart_names(), "illuminants": list(sv.VISIBLE_ILLUMINANTS),
                "uploads": [sv.UPLOAD_PREFIX + k for k in uploads.keys(session_of(request))]}

    @app.get("/api/applications", tags=["evaluate"],
             summary="Application profiles and their requirements")
    def applications():
        out = []
        for n in sv.application_names():
            a = sv.check_application(n)
            out.append({"name": a.name, "title": a.title, "description": a.description,
                        "requirements": [{"metric": r.metric, "limit": r.limit_text,
                                          "conditions": dict(r.conditions), "basis": r.basis,
                                          "source": r.source} for r in a.requirements]})
        return sv.clean(out)

    # --- uploads -----------------------------------------------------------------------
    @app.post("/api/uploads", status_code=201, tags=["scenes"],
              summary="Upload an image (raw body or multipart field 'file') as a scene",
              openapi_extra={"requestBody": {"content": {
                  "image/png": {"schema": {"type": "string", "format": "binary"}},
                  "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                  "multipart/form-data": {"schema": {
                      "type": "object", "properties": {"file": {"type": "string",
                                                                "format": "binary"}}}}}}})
    async def upload(request: Request):
        # the Guard has refused a body above max_upload_bytes + the multipart allowance
        limit = settings.max_upload_bytes
        too_big = (f"upload: body larger than the limit of {limit / 2**20:.1f} MiB")
        body = await request.body()
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            form = await Request(request.scope, replay).form()
            try:
                part = form.get("file")
                if part is None or isinstance(part, str):
                    return _error(422, "file: required field is missing (multipart field "
                                       "'file')", "file")
                data = await part.read()
            finally:
                await form.close()
        else:
            data = body
        if not data:
            return _error(422, "file: the upload is empty", "file")
        if len(data) > limit:
            return _error(413, too_big, "file")
        img = await asyncio.get_running_loop().run_in_executor(decode_pool, functools.partial(
            sv.decode_upload, data, max_pixels=settings.max_upload_pixels,
            max_side_px=settings.upload_max_side_px, budget=decode_budget))
        key = uploads.add(img, session_of(request))
        return {"id": key, "scene": sv.UPLOAD_PREFIX + key, "width_px": int(img.shape[1]),
                "height_px": int(img.shape[0])}

    # --- jobs --------------------------------------------------------------------------
    def _accepted(job):
        return JSONResponse({"job_id": job.id, "status_url": f"/api/jobs/{job.id}"},
                            status_code=202)

    def _capture_input(label, choice, req, request) -> sv.CaptureInput:
        module = sv.resolve_module(choice, temperature_c=req.temperature_c,
                                   max_pixels=settings.max_pixels)
        owned = uploads.owned_by(session_of(request))
        return sv.CaptureInput(label=label, module=module, scene=req.scene,
                               scene_image=sv.check_scene(req.scene, owned),
                               illuminant=sv.check_illuminant(req.illuminant), lux=req.lux,
                               exposure_ms=req.exposure_ms, seed=req.seed,
                               measure_mtf=getattr(req, "measure_mtf", True),
                               mtf_module=sv.resolve_module(choice, temperature_c=req.temperature_c,
                                                            crop=False))

    @app.post("/api/capture", status_code=202, tags=["jobs"],
              summary="Capture a scene with a module (job: processed, raw, metrics)")
    def capture(req: sv.CaptureRequest, request: Request):
        ci = _capture_input("", req.module, req, request)
        job = jobs.submit("capture", lambda job, progress: sv.run_capture(ci, job.files,
                                                                          progress),
                          owner=session_of(request))
        return _accepted(job)

    @app.post("/api/evaluate", status_code=202, tags=["jobs"],
              summary="Evaluate a module against an application (job: verdict table)")
    def evaluate(req: sv.EvaluateRequest, request: Request):
        module = sv.resolve_module(req.module)
        app_spec = sv.check_application(req.application)
        job = jobs.submit("evaluate", lambda job, progress: sv.run_evaluate(
            module, app_spec, req.seed, progress, label=req.module.name),
            owner=session_of(request))
        return _accepted(job)

    @app.post("/api/compare", status_code=202, tags=["jobs"],
              summary="Capture (and optionally evaluate) two modules side by side")
    def compare(req: sv.CompareRequest, request: Request):
        inputs = [_capture_input(c.name, c, req, request) for c in req.modules]
        app_spec = sv.check_application(req.application) if req.application else None
        # evaluation uses the uncropped module (its metrics crop the sensor themselves)
        full = [ci.mtf_module for ci in inputs]

        def run(job, progress):
            n = 2 * len(inputs) if app_spec is not None else len(inputs)
            out = {"captures": [], "evaluations": []}
            for i, ci in enumerate(inputs):
                out["captures"].append(sv.run_capture(ci, job.files, progress,
                                                      prefix=f"m{i}_", span=(i / n, (i + 1) / n)))
            if app_spec is not None:
                for i, (c, m) in enumerate(zip(req.modules, full, strict=True)):
                    k = len(inputs) + i
                    out["evaluations"].append(sv.run_evaluate(
                        m, app_spec, req.seed, progress, span=(k / n, (k + 1) / n),
                        label=c.name))
            return out

        return _accepted(jobs.submit("compare", run, owner=session_of(request)))

    @app.post("/api/plots", status_code=202, tags=["jobs"],
              summary="SNR vs lux, MTF or QE of one to four modules (job: PNG + data)")
    def plots(req: sv.PlotRequest, request: Request):
        # the SNR and MTF measurements crop the sensor themselves: the crop is not applied
        mods = [(c.name, sv.resolve_module(c, crop=False)) for c in req.modules]
        check = sv.check_illuminant(req.illuminant)

        def run(job, progress):
            png, data = sv.plot_png(req.kind, mods, illuminant=check, lux=req.lux,
                                    seed=req.seed, progress=progress)
            job.files["plot"] = png
            return {"kind": req.kind, "images": {"plot": "plot"}, "data": data}

        return _accepted(jobs.submit("plot", run, owner=session_of(request)))

    def _job(job_id: str, request: Request):
        job = jobs.get(job_id, session_of(request))
        if job is None:
            raise sv.WebInputError(f"no job {job_id[:40]!r} in this session (finished jobs are "
                                   "kept for a while)", "job_id", 404)
        return job

    def _downloads(job) -> dict:
        names = sv.job_downloads(job.kind, job.result)
        return {k: f"/api/jobs/{job.id}/downloads/{n}" for k, n in names.items()}

    @app.get("/api/jobs/{job_id}", tags=["jobs"],
             summary="Status, progress (0..1), message, and the result and its downloads "
                     "when done")
    async def job_status(job_id: str, request: Request):
        job = _job(job_id, request)
        out = job.as_dict()
        if job.status == "done":
            out["downloads"] = _downloads(job)
        return JSONResponse(out, headers=_NO_STORE)

    def _file(job, key: str):
        if job.status != "done" or key not in job.files or key.endswith(sv.RAW_FRAME):
            raise sv.WebInputError(f"job {job.id} has no image {key[:40]!r}"
                                   + ("" if job.status == "done" else f" (it is {job.status})"),
                                   "image", 404)
        return job.files[key]

    @app.get("/api/jobs/{job_id}/images/{key}.png", tags=["jobs"],
             response_class=Response, responses={200: {"content": {_PNG: {}}}},
             summary="A PNG the job produced (processed, raw false colour, plot)")
    def job_image(job_id: str, key: str, request: Request):
        data = _file(_job(job_id, request), key)
        png = data if isinstance(data, bytes) else sv.png_bytes(data)
        return Response(png, media_type=_PNG)

    @app.get("/api/jobs/{job_id}/downloads/{name}", tags=["jobs"], response_class=Response,
             responses={200: {"content": {m: {} for m in sv.MEDIA_TYPES.values()}}},
             summary="A file of a finished job: raw DNG (or raw TIFF), processed PNG/TIFF, "
                     "metrics JSON, report HTML (names listed in the job's 'downloads')")
    def job_download(job_id: str, name: str, request: Request):
        job = _job(job_id, request)
        if job.status != "done":
            raise sv.WebInputError(f"job {job.id} is {job.status}: nothing to download yet",
                                   "name", 404)
        data, media = sv.render_download(job.kind, job.result, job.files, name)
        filename = f"camtwin-{job.kind}-{job.id[:8]}-{name}"
        return Response(data, media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{filename}"', **_NO_STORE})

    @app.get("/api/jobs/{job_id}/zoom.png", tags=["jobs"], response_class=Response,
             responses={200: {"content": {_PNG: {}}}},
             summary="1:1 pixels around (x, y) of a captured image, magnified")
    def job_zoom(job_id: str, request: Request,
                 image: str = Query("processed", max_length=40),
                 x: float = Query(0.5, ge=0, le=1), y: float = Query(0.5, ge=0, le=1),
                 size: int = Query(sv.ZOOM_SIZE_PX, ge=4, le=128),
                 scale: int = Query(sv.ZOOM_SCALE, ge=1, le=16)):
        data = _file(_job(job_id, request), image)
        if isinstance(data, bytes):
            raise sv.WebInputError(f"image {image!r} is a plot, not a capture", "image")
        return Response(sv.png_bytes(sv.zoom(data, x=x, y=y, size=size, scale=scale)),
                        media_type=_PNG)

    from .depth import add_depth_routes

    add_depth_routes(app, jobs, settings)   # /api/depth/*: depth modules (web/depth.py)
    return app


def _add_offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the files the ``fastapi-offline`` package ships (MIT;
    Swagger UI itself is Apache-2.0), mounted at ``/static-docs`` — never a CDN."""
    from fastapi.openapi.docs import get_swagger_ui_html

    assets = resources.files("fastapi_offline") / "static"
    app.mount("/static-docs", StaticFiles(directory=str(assets)), name="static-docs")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url,
                                   title=f"{app.title} — API",
                                   swagger_js_url="/static-docs/swagger-ui-bundle.js",
                                   swagger_css_url="/static-docs/swagger-ui.css",
                                   swagger_favicon_url="/static-docs/favicon.png")
