"""The FastAPI application: JSON API under ``/api``, the workbench page at ``/``.

Errors are one JSON object ``{"detail": "<one line>", "field": "<dotted path or null>"}``:
422 for a bad value (the line is the same one the CLI prints, naming field, value and
valid range), 404 for an unknown job, 413 for an oversized upload, 415 for an unreadable
one, 503 when the job queue is full.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import asynccontextmanager
from importlib import resources

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..errors import CamtwinError
from . import service as sv
from .jobs import JobManager, QueueFull
from .settings import WebSettings

_PNG = "image/png"
_NO_STORE = {"Cache-Control": "no-store"}


class UploadStore:
    """Uploaded scene images, in memory, the oldest dropped beyond ``limit``."""

    def __init__(self, limit: int):
        self.limit = limit
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, image: np.ndarray) -> str:
        import uuid

        key = uuid.uuid4().hex[:16]
        with self._lock:
            self._items[key] = image
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return key

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            return self._items.get(key)

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)


def _error(status: int, detail: str, field: str | None = None, headers=None) -> JSONResponse:
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
    uploads = UploadStore(settings.max_uploads)

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.shutdown(wait=False)

    app = FastAPI(title="camtwin workbench", version=__version__, lifespan=lifespan,
                  description="Simulate camera modules: capture, evaluate, compare, plot. "
                              "Long work runs as a job: POST returns 202 with a job id, "
                              "GET /api/jobs/{id} reports progress and the result.")
    app.state.settings, app.state.jobs, app.state.uploads = settings, jobs, uploads

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

    # --- reference data ----------------------------------------------------------------
    @app.get("/api/health", tags=["server"], summary="Server status and queue sizes")
    async def health():
        return {"status": "ok", "version": __version__, "workers": jobs.workers,
                "jobs": jobs.counts(), "pending": jobs.pending(),
                "limits": {"max_pixels": settings.max_pixels,
                           "max_upload_bytes": settings.max_upload_bytes,
                           "max_upload_pixels": settings.max_upload_pixels,
                           "max_pending_jobs": settings.max_pending_jobs}}

    @app.get("/api/modules", tags=["modules"],
             summary="Built-in and catalog modules a request may name")
    def modules():
        return [sv.module_summary(n, sv.base_module(n)) for n in sv.module_names()]

    @app.get("/api/modules/{name}", tags=["modules"],
             summary="The full spec of one module (as its YAML would hold it)")
    def module_detail(name: str):
        m = sv.base_module(name)
        return {"summary": sv.module_summary(name, m), "spec": m.model_dump(mode="json")}

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
        return {"valid": True, "module": sv.module_summary(choice.name, m),
                "capturable": n <= settings.max_pixels,
                "max_pixels": settings.max_pixels}

    @app.get("/api/scenes", tags=["scenes"], summary="Charts, illuminants and uploads")
    async def scenes():
        return {"charts": sv.chart_names(), "illuminants": list(sv.VISIBLE_ILLUMINANTS),
                "uploads": [sv.UPLOAD_PREFIX + k for k in uploads.keys()]}

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
        limit = settings.max_upload_bytes
        declared = request.headers.get("content-length")
        too_big = (f"upload: body larger than the limit of {limit / 2**20:.1f} MiB")
        if declared is not None and declared.isdigit() and int(declared) > limit + 65536:
            return _error(413, too_big, "file")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit + 65536:  # multipart framing allowance
                return _error(413, too_big, "file")
            chunks.append(chunk)
        body = b"".join(chunks)
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
        from starlette.concurrency import run_in_threadpool

        img = await run_in_threadpool(sv.decode_upload, data, max_pixels=settings.max_upload_pixels,
                                      max_side_px=settings.upload_max_side_px)
        key = uploads.add(img)
        return {"id": key, "scene": sv.UPLOAD_PREFIX + key, "width_px": int(img.shape[1]),
                "height_px": int(img.shape[0])}

    # --- jobs --------------------------------------------------------------------------
    def _accepted(job):
        return JSONResponse({"job_id": job.id, "status_url": f"/api/jobs/{job.id}"},
                            status_code=202)

    def _capture_input(label, choice, req) -> sv.CaptureInput:
        module = sv.resolve_module(choice, temperature_c=req.temperature_c,
                                   max_pixels=settings.max_pixels)
        return sv.CaptureInput(label=label, module=module, scene=req.scene,
                               scene_image=sv.check_scene(req.scene, uploads),
                               illuminant=sv.check_illuminant(req.illuminant), lux=req.lux,
                               exposure_ms=req.exposure_ms, seed=req.seed,
                               measure_mtf=getattr(req, "measure_mtf", True),
                               mtf_module=sv.resolve_module(choice, temperature_c=req.temperature_c,
                                                            crop=False))

    @app.post("/api/capture", status_code=202, tags=["jobs"],
              summary="Capture a scene with a module (job: processed, raw, metrics)")
    def capture(req: sv.CaptureRequest):
        ci = _capture_input("", req.module, req)
        job = jobs.submit("capture", lambda job, progress: sv.run_capture(ci, job.files,
                                                                          progress))
        return _accepted(job)

    @app.post("/api/evaluate", status_code=202, tags=["jobs"],
              summary="Evaluate a module against an application (job: verdict table)")
    def evaluate(req: sv.EvaluateRequest):
        module = sv.resolve_module(req.module)
        app_spec = sv.check_application(req.application)
        job = jobs.submit("evaluate", lambda job, progress: sv.run_evaluate(
            module, app_spec, req.seed, progress, label=req.module.name))
        return _accepted(job)

    @app.post("/api/compare", status_code=202, tags=["jobs"],
              summary="Capture (and optionally evaluate) two modules side by side")
    def compare(req: sv.CompareRequest):
        inputs = [_capture_input(c.name, c, req) for c in req.modules]
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

        return _accepted(jobs.submit("compare", run))

    @app.post("/api/plots", status_code=202, tags=["jobs"],
              summary="SNR vs lux, MTF or QE of one to four modules (job: PNG + data)")
    def plots(req: sv.PlotRequest):
        # the SNR and MTF measurements crop the sensor themselves: the crop is not applied
        mods = [(c.name, sv.resolve_module(c, crop=False)) for c in req.modules]
        check = sv.check_illuminant(req.illuminant)

        def run(job, progress):
            png, data = sv.plot_png(req.kind, mods, illuminant=check, lux=req.lux,
                                    seed=req.seed, progress=progress)
            job.files["plot"] = png
            return {"kind": req.kind, "images": {"plot": "plot"}, "data": data}

        return _accepted(jobs.submit("plot", run))

    def _job(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            raise sv.WebInputError(f"no job {job_id!r} (finished jobs are kept for a while)",
                                   "job_id", 404)
        return job

    @app.get("/api/jobs/{job_id}", tags=["jobs"],
             summary="Status, progress (0..1), message, and the result when done")
    async def job_status(job_id: str):
        return JSONResponse(_job(job_id).as_dict(), headers=_NO_STORE)

    def _file(job, key: str):
        if job.status != "done" or key not in job.files:
            raise sv.WebInputError(f"job {job.id} has no image {key!r}"
                                   + ("" if job.status == "done" else f" (it is {job.status})"),
                                   "image", 404)
        return job.files[key]

    @app.get("/api/jobs/{job_id}/images/{key}.png", tags=["jobs"],
             response_class=Response, responses={200: {"content": {_PNG: {}}}},
             summary="A PNG the job produced (processed, raw false colour, plot)")
    def job_image(job_id: str, key: str):
        data = _file(_job(job_id), key)
        png = data if isinstance(data, bytes) else sv.png_bytes(data)
        return Response(png, media_type=_PNG)

    @app.get("/api/jobs/{job_id}/zoom.png", tags=["jobs"], response_class=Response,
             responses={200: {"content": {_PNG: {}}}},
             summary="1:1 pixels around (x, y) of a captured image, magnified")
    def job_zoom(job_id: str, image: str = Query("processed", max_length=40),
                 x: float = Query(0.5, ge=0, le=1), y: float = Query(0.5, ge=0, le=1),
                 size: int = Query(sv.ZOOM_SIZE_PX, ge=4, le=128),
                 scale: int = Query(sv.ZOOM_SCALE, ge=1, le=16)):
        data = _file(_job(job_id), image)
        if isinstance(data, bytes):
            raise sv.WebInputError(f"image {image!r} is a plot, not a capture", "image")
        return Response(sv.png_bytes(sv.zoom(data, x=x, y=y, size=size, scale=scale)),
                        media_type=_PNG)

    return app
