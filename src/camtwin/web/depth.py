"""Depth modules in the workbench: list them, capture a depth map, evaluate against a depth
application — as jobs of the same :class:`~camtwin.web.jobs.JobManager`, behind the same
:class:`~camtwin.web.security.Guard` (host, token, body size, session) as the 2D API.

* ``GET /api/depth/modules`` — the catalog's depth modules (iToF, SPAD dToF, active stereo);
  ``GET /api/depth/scenes`` — the built-in depth scenes; ``GET /api/depth/applications`` —
  the depth application profiles and their requirements.
* ``POST /api/depth/capture`` — job ``depth_capture``: :func:`camtwin.depth.twin.capture_depth`
  of a built-in scene (a plane, step edge, corner, … at ``distance_m`` with ``reflectance``
  under ``ambient_klx``), ``frames`` frames; the result holds the metrics against the
  scene's ground truth (valid fraction, accuracy, precision, …), the images ``depth`` (false
  colour of the time-averaged depth, turbo, near → far) and ``amplitude`` (grey), and the
  downloads depth.png (16-bit, mm), depth_color.png, depth.npy (float32, m), cloud.ply,
  metrics.json and report.html.
* ``POST /api/depth/evaluate`` — job ``depth_evaluate``:
  :func:`camtwin.depth.evaluate.evaluate_depth` of a module against a depth application.

Every name a client sends is checked against a list the server owns (catalog depth module
names — never a file path —, scene names, depth application names). Limits: the module's
pixel grid (after the optional centre crop) must fit the server's ``max_pixels``; a capture
takes at most :data:`MAX_FRAMES` frames; the corner scene (with its one-bounce interreflection)
at most :data:`MAX_MULTIPATH_PIXELS` pixels.
"""

from __future__ import annotations

import math
import time

import numpy as np
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import Field

from ..errors import unknown_name
from . import service as sv
from .security import session_of

#: Most frames one depth capture may take (temporal precision needs ≥ 2).
MAX_FRAMES = 16
#: Frames per condition of a depth evaluation: default and most.
EVALUATE_FRAMES, MAX_EVALUATE_FRAMES = 8, 16
#: Most pixels of a capture of the ``corner`` scene: the one-bounce interreflection on a
#: sub-grid with interpolation (camtwin.depth.twin.interreflection) takes 1–2 s for a
#: 640 × 480 catalog ToF module with 4 frames (2026-12-02), so every VGA-class sensor fits;
#: larger grids must be cropped.
MAX_MULTIPATH_PIXELS = 640 * 480
#: Scenes whose depth edges an iToF pixel integrates over 4 × 4 sub-pixels (mixed returns:
#: flying pixels), as ``camtwin depth`` does.
EDGE_SCENES = ("step_edge", "box", "sphere")
#: Key of a depth capture's arrays in the job's files (ending like the 2D raw frame's, so the
#: image and zoom endpoints never serve it).
DEPTH_ARRAYS = "depth_" + sv.RAW_FRAME
#: Media types of the depth downloads.
DEPTH_MEDIA = {".png": "image/png", ".npy": "application/octet-stream",
               ".ply": "application/octet-stream", ".json": "application/json",
               ".html": "text/html; charset=utf-8"}


# ---------------------------------------------------------------------------------------
# request bodies
# ---------------------------------------------------------------------------------------
class DepthModuleChoice(sv._Body):
    """A catalog depth module and an optional centre crop of its pixel array."""

    name: str = Field(..., max_length=sv.MAX_NAME_CHARS,
                      description="catalog depth module name or 'catalog:NAME' "
                                  "(GET /api/depth/modules)")
    crop_width_px: int | None = Field(None, ge=8, le=20000,
                                      description="simulate only the central width [px]")
    crop_height_px: int | None = Field(None, ge=8, le=20000,
                                       description="simulate only the central height [px]")


class DepthCaptureRequest(sv._Body):
    """Depth frames of a built-in scene with a depth module."""

    module: DepthModuleChoice
    scene: str = Field("plane", max_length=100, description="GET /api/depth/scenes")
    distance_m: float = Field(1.0, ge=0.05, le=100.0,
                              description="distance of the plane / object / near side [m]")
    far_m: float | None = Field(None, gt=0.05, le=200.0,
                                description="back wall / far side [m]; null: 1.5 × distance")
    reflectance: float = Field(0.5, gt=0.0, le=1.0,
                               description="Lambertian reflectance at the NIR wavelength")
    ambient_klx: float = Field(0.0, ge=0.0, le=200.0, description="sunlight on the scene [klx]")
    frames: int = Field(4, ge=1, le=MAX_FRAMES, description="depth frames (≥ 2: precision)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the noise")


class DepthEvaluateRequest(sv._Body):
    module: DepthModuleChoice
    application: str = Field(..., max_length=100, description="GET /api/depth/applications")
    frames: int = Field(EVALUATE_FRAMES, ge=2, le=MAX_EVALUATE_FRAMES,
                        description="captures per measured condition")
    seed: int = Field(0, ge=0, le=2**31 - 1)


# ---------------------------------------------------------------------------------------
# names the server owns
# ---------------------------------------------------------------------------------------
def depth_module_names() -> list[str]:
    from ..depth.twin import depth_module_names as names

    return names()


def depth_application_names() -> list[str]:
    from ..depth.catalog import builtin_depth_applications

    return builtin_depth_applications()


def depth_scene_names() -> list[str]:
    from ..depth.twin import SCENES

    return list(SCENES)


def check_depth_module(name: str) -> str:
    """The catalog name of ``name`` (``NAME`` or ``catalog:NAME``); anything else — a YAML
    path included — is refused like an unknown name."""
    bare = name.removeprefix("catalog:")
    if bare not in depth_module_names():
        raise sv.WebInputError(str(unknown_name("depth module", name, depth_module_names())),
                               "module.name")
    return bare


def resolve_depth_module(choice: DepthModuleChoice, *, max_pixels: int | None = None):
    """The :class:`~camtwin.depth.twin.DepthModule` of ``choice`` (crop applied), within
    ``max_pixels``."""
    from ..depth.twin import load_depth_module

    m = load_depth_module(check_depth_module(choice.name))
    g = m.geometry
    if choice.crop_width_px or choice.crop_height_px:
        m = m.cropped(choice.crop_width_px or g.width_px, choice.crop_height_px or g.height_px)
        g = m.geometry
    n = g.width_px * g.height_px
    if max_pixels is not None and n > max_pixels:
        raise sv.WebInputError(
            f"{choice.name}: geometry.width_px × geometry.height_px = {g.width_px} × "
            f"{g.height_px} = {n / 1e6:.2f} MP: above this server's limit of "
            f"{max_pixels / 1e6:.2f} MP; set crop_width_px/crop_height_px (a centre crop)",
            "module.crop_width_px")
    return m


def check_depth_application(name: str):
    from ..depth.catalog import depth_application

    if name not in depth_application_names():
        raise sv.WebInputError(str(unknown_name("depth application", name,
                                                depth_application_names())), "application")
    return depth_application(name)


def depth_module_summary(m) -> dict:
    """What the module list shows of a depth module."""
    g = m.geometry
    ill = m.illuminator
    hfov = 2 * math.degrees(math.atan(g.width_px * g.pixel_pitch_um * 1e-3 /
                                      (2 * g.focal_length_mm)))
    out = {"name": m.name, "kind": m.kind,
           "description": getattr(m.entry, "description", "") if m.entry is not None else "",
           "source": "catalog", "width_px": g.width_px, "height_px": g.height_px,
           "megapixels": round(g.width_px * g.height_px / 1e6, 4),
           "pixel_pitch_um": g.pixel_pitch_um, "focal_length_mm": g.focal_length_mm,
           "f_number": g.f_number, "hfov_deg": round(hfov, 2),
           "frame_rate_fps": m.frame_rate_fps, "power_mw": m.power_mw,
           "illuminator": None if ill is None else {
               "kind": ill.kind, "wavelength_nm": ill.wavelength_nm,
               "optical_power_w": ill.optical_power_w, "modulation": ill.modulation}}
    p = m.pixel
    if m.kind == "itof":
        out["modulation_frequencies_mhz"] = list(p.modulation_frequencies_mhz)
    elif m.kind == "dtof":
        out["zone_size_px"] = p.zone_size_px
    else:
        out["baseline_mm"] = p.baseline_mm
    return sv.clean(out)


# ---------------------------------------------------------------------------------------
# jobs
# ---------------------------------------------------------------------------------------
def _grey(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    ok = np.isfinite(a)
    hi = float(np.percentile(a[ok], 99.5)) if ok.any() else 1.0
    return np.clip(np.where(ok, a, 0.0) / (hi if hi > 0 else 1.0), 0.0, 1.0)


def run_depth_capture(module, req: DepthCaptureRequest, files: dict, progress) -> dict:
    """Capture, measure against the ground truth, keep the images and arrays."""
    from ..depth.io import depth_colormap
    from ..depth.twin import capture_depth, frame_mean

    m = module
    k = 4 if (m.kind == "itof" and req.scene in EDGE_SCENES) else 1
    options = {"far_m": req.far_m} if req.far_m is not None else {}
    progress(0.05, f"{m.name}: capturing {req.frames} depth frame(s) of {req.scene}")
    t0 = time.perf_counter()
    c = capture_depth(m, req.scene, distance_m=req.distance_m, reflectance=req.reflectance,
                      ambient_klx=req.ambient_klx, frames=req.frames, seed=req.seed,
                      supersample=k, scene_options=options)
    t_cap = time.perf_counter() - t0
    progress(0.8, "measuring")
    summary = c.summary(flying_pixels=req.scene == "step_edge")
    metrics = {k: summary[k] for k in ("valid_fraction", "accuracy_pct", "precision_pct",
                                       "power_mw")}
    for key, out_key in (("mean_error_m", "mean_error_mm"), ("precision_m", "precision_mm")):
        metrics[out_key] = None if summary[key] is None else 1e3 * summary[key]
    metrics["capture_s"] = round(t_cap, 3)
    notes = []
    if c.frames < 2:
        notes.append("precision needs ≥ 2 frames")
    if m.kind == "itof":
        metrics["integration_time_us"] = 1e6 * summary["integration_time_s"]
        metrics["unambiguous_range_m"] = summary["unambiguous_range_m"]
    for key in ("flying_pixel_fraction", "laser_class", "eye_safety_ratio"):
        if key in summary:
            metrics[key] = summary[key]
    progress(0.9, "encoding images")
    mean_depth = c.mean_depth_m
    ok = np.isfinite(mean_depth)
    points, intensity = c.point_cloud()
    files["depth"] = depth_colormap(mean_depth)
    files["amplitude"] = sv.to_uint8(_grey(frame_mean(c.amplitude)))
    files[DEPTH_ARRAYS] = {"depth_m": np.asarray(mean_depth, np.float32),
                           "points": points.astype(np.float32),
                           "intensity": np.asarray(intensity, np.float32)}
    g = c.truth_m.shape
    lo = float(np.nanmin(mean_depth)) if ok.any() else None
    hi = float(np.nanmax(mean_depth)) if ok.any() else None
    return sv.clean({
        "module": depth_module_summary(m), "kind": m.kind, "scene": req.scene,
        "distance_m": req.distance_m, "far_m": req.far_m, "reflectance": req.reflectance,
        "ambient_klx": req.ambient_klx, "frames": req.frames, "seed": req.seed,
        "grid": [int(g[0]), int(g[1])], "depth_range_m": [lo, hi],
        "metrics": metrics, "notes": notes,
        "images": {"depth": "depth", "amplitude": "amplitude"},
        "downloads": {k: k for k in ("depth.png", "depth_color.png", "depth.npy",
                                     "cloud.ply")}})


def run_depth_evaluate(module, app, frames: int, seed: int, progress) -> dict:
    from ..depth.evaluate import evaluate_depth

    def step(done, n, metric):
        progress(done / n, f"{module.name}: {metric} ({done + 1}/{n})")

    ev = evaluate_depth(module, app, frames=frames, seed=seed, progress=step)
    return sv.clean({**ev.as_dict(), "title": app.title, "frames": frames, "seed": seed})


# ---------------------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------------------
def depth_job_downloads(kind: str, result: dict) -> dict:
    """Downloads of a finished depth job: {key: file name}."""
    out = {}
    if kind == "depth_capture":
        for name in result.get("downloads", {}):
            out[name.replace(".", "_")] = name
    out["metrics_json"] = "metrics.json"
    out["report_html"] = "report.html"
    return out


def render_depth_download(kind: str, result: dict, files: dict, name: str
                          ) -> tuple[bytes, str]:
    """The bytes and media type of download ``name`` of a depth job (404 for others)."""
    import io
    import json
    import os
    import tempfile

    offered = depth_job_downloads(kind, result).values()
    if name not in offered:
        raise sv.WebInputError(f"this {kind} job has no download {name!r}; it offers "
                               f"{', '.join(offered)}", "name", 404)
    media = DEPTH_MEDIA[os.path.splitext(name)[1]]
    if name == "metrics.json":
        return json.dumps(result, indent=2, ensure_ascii=False).encode("utf-8"), media
    if name == "report.html":
        return depth_report_html(kind, result, files), media
    arrays = files[DEPTH_ARRAYS]
    if name == "depth.npy":
        buf = io.BytesIO()
        np.save(buf, arrays["depth_m"], allow_pickle=False)
        return buf.getvalue(), media
    from ..depth.io import write_depth_colormap_png, write_depth_png16, write_point_cloud_ply

    with tempfile.TemporaryDirectory(prefix="camtwin-web-") as tmp:
        path = os.path.join(tmp, name)
        if name == "depth.png":
            write_depth_png16(path, arrays["depth_m"])
        elif name == "depth_color.png":
            write_depth_colormap_png(path, arrays["depth_m"])
        else:
            write_point_cloud_ply(path, arrays["points"], intensity=arrays["intensity"])
        with open(path, "rb") as f:
            return f.read(), media


def depth_report_html(kind: str, result: dict, files: dict) -> bytes:
    """A self-contained HTML page of a depth job (images embedded)."""
    import os
    import tempfile

    from ..report.html import escape, image_img, table, write_page

    body = []
    if kind == "depth_capture":
        m = result["module"]
        body.append(f"<h2>{escape(m['name'])} ({escape(m['kind'])}): "
                    f"{result['grid'][1]}×{result['grid'][0]} depth samples</h2>")
        body.append(f"<p>scene {escape(result['scene'])} at {result['distance_m']:g} m, "
                    f"reflectance {result['reflectance']:g}, {result['ambient_klx']:g} klx, "
                    f"{result['frames']} frame(s), seed {result['seed']}</p>")
        lo, hi = result["depth_range_m"]
        rng = "" if lo is None else f" {lo:.3g}–{hi:.3g} m"
        body.append('<div class="row">'
                    f"<figure>{image_img(files['depth'], 'depth')}<figcaption>depth (turbo,"
                    f"{escape(rng)}; black: no depth)</figcaption></figure>"
                    f"<figure>{image_img(files['amplitude'], 'amplitude')}"
                    "<figcaption>amplitude / signal</figcaption></figure></div>")
        rows = [[k, "—" if v is None else (float(f"{v:.4g}") if isinstance(v, float) else v)]
                for k, v in result["metrics"].items()]
        body.append(table(["metric", "value"], rows))
    else:
        body.append(f"<h2>{escape(result['module'])} for {escape(result['title'])}: "
                    f"{'PASS' if result['passed'] else 'FAIL'}</h2>")
        body.append(table(["requirement", "conditions", "measured", "unit", "min", "max",
                           "verdict", "basis", "source"],
                          [[v["metric"], ", ".join(f"{k} {c}" for k, c in
                                                   v["conditions"].items()),
                            v["value_text"], v["unit"], "—" if v["min"] is None else v["min"],
                            "—" if v["max"] is None else v["max"], v["status"],
                            v.get("basis") or "", v.get("source") or ""]
                           for v in result["verdicts"]],
                          row_classes=[{"pass": "pass", "fail": "fail"}.get(v["status"], "")
                                       for v in result["verdicts"]]))
    with tempfile.TemporaryDirectory(prefix="camtwin-web-") as tmp:
        path = write_page(os.path.join(tmp, "report.html"), f"camtwin workbench — {kind}",
                          "\n".join(body))
        return path.read_bytes()


# ---------------------------------------------------------------------------------------
# routes
# ---------------------------------------------------------------------------------------
def add_depth_routes(app, jobs, settings) -> None:
    """Register the depth endpoints (module docstring) on the workbench ``app``."""

    def _accepted(job):
        return JSONResponse({"job_id": job.id, "status_url": f"/api/jobs/{job.id}"},
                            status_code=202)

    @app.get("/api/depth/modules", tags=["depth"],
             summary="Catalog depth modules (iToF, dToF, active stereo) a request may name")
    def depth_modules():
        from ..depth.twin import load_depth_module

        return [depth_module_summary(load_depth_module(n)) for n in depth_module_names()]

    @app.get("/api/depth/scenes", tags=["depth"], summary="Built-in depth scenes")
    def depth_scenes():
        return {"scenes": depth_scene_names(), "max_frames": MAX_FRAMES,
                "max_multipath_pixels": MAX_MULTIPATH_PIXELS}

    @app.get("/api/depth/applications", tags=["depth"],
             summary="Depth application profiles and their requirements")
    def depth_applications():
        out = []
        for n in depth_application_names():
            a = check_depth_application(n)
            out.append({"name": a.name, "title": a.title, "description": a.description,
                        "requirements": [{"metric": r.metric, "limit": r.limit_text,
                                          "conditions": dict(r.conditions), "basis": r.basis,
                                          "source": r.source} for r in a.requirements]})
        return sv.clean(out)

    @app.post("/api/depth/capture", status_code=202, tags=["jobs", "depth"],
              summary="Capture a depth scene with a depth module (job: depth map, "
                      "amplitude, metrics, point cloud)")
    def depth_capture(req: DepthCaptureRequest, request: Request):
        module = resolve_depth_module(req.module, max_pixels=settings.max_pixels)
        if req.scene not in depth_scene_names():
            raise sv.WebInputError(str(unknown_name("depth scene", req.scene,
                                                    depth_scene_names())), "scene")
        if req.far_m is not None and req.far_m <= req.distance_m:
            raise sv.WebInputError(f"far_m = {req.far_m:g}: must be greater than distance_m "
                                   f"= {req.distance_m:g}", "far_m")
        g = module.geometry
        if req.scene == "corner" and g.width_px * g.height_px > MAX_MULTIPATH_PIXELS:
            raise sv.WebInputError(
                f"scene = 'corner' with {g.width_px} × {g.height_px} px: the multipath "
                f"simulation takes at most {MAX_MULTIPATH_PIXELS} px on this server; set "
                "module.crop_width_px/crop_height_px (e.g. 320 × 240)", "module.crop_width_px")
        job = jobs.submit("depth_capture", lambda job, progress: run_depth_capture(
            module, req, job.files, progress), owner=session_of(request))
        return _accepted(job)

    @app.post("/api/depth/evaluate", status_code=202, tags=["jobs", "depth"],
              summary="Evaluate a depth module against a depth application (job: verdicts)")
    def depth_evaluate(req: DepthEvaluateRequest, request: Request):
        module = resolve_depth_module(req.module, max_pixels=settings.max_pixels)
        app_spec = check_depth_application(req.application)
        job = jobs.submit("depth_evaluate", lambda job, progress: run_depth_evaluate(
            module, app_spec, req.frames, req.seed, progress), owner=session_of(request))
        return _accepted(job)


__all__ = ["DepthCaptureRequest", "DepthEvaluateRequest", "DepthModuleChoice",
           "add_depth_routes", "depth_job_downloads", "render_depth_download"]
