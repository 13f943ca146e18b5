"""``camtwin depth`` (capture a depth module: depth map, point cloud, metrics, verdicts)
and ``camtwin depth-modules`` (the catalog's depth modules)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from . import name_table, seed_option

DEPTH_MODULE_HELP = ("Depth module: a catalog depth module name (see `camtwin depth-modules`), "
                     "catalog:NAME, or a module YAML naming catalog depth parts.")


def register(app, guard, fail, console) -> None:
    @app.command()
    def depth(
        module: str = typer.Option("phone-rear-itof-imx556", help=DEPTH_MODULE_HELP),
        scene: str = typer.Option("plane", help="plane, slanted_plane, step_edge, box, sphere, "
                                  "corner, face, or a depth image (.npy/.tif/16-bit .png, "
                                  "z-depth at the module's resolution; integers in mm)."),
        distance_m: float = typer.Option(1.0, help="Distance of the plane / object / near "
                                         "side [m]."),
        far_m: Optional[float] = typer.Option(None, help="Back wall / far side [m] "
                                              "(default 1.5 × distance)."),
        reflectance: float = typer.Option(0.5, help="NIR reflectance of the scene (0..1]."),
        reflectance_image: Optional[Path] = typer.Option(None, help="Reflectance image for a "
                                                         "depth-image scene (same size)."),
        ambient_klx: float = typer.Option(0.0, help="Sunlight on the scene [klx], 0..200."),
        frames: int = typer.Option(4, help="Depth frames (precision needs ≥ 2), 1..64."),
        out: Path = typer.Option(..., help="Output folder: depth.png (16-bit mm), "
                                 "depth_color.png, depth.npy, cloud.ply, metrics.json."),
        app_name: Optional[str] = typer.Option(None, "--app", help="Also judge the module "
                                               "against a depth application profile "
                                               "(phone_face_unlock, ar_vr, robot_navigation, "
                                               "incabin_occupant, or a YAML)."),
        seed: int = seed_option("Seed of the noise."),
        json_out: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
        min_confidence: str = typer.Option("0", "--min-confidence", help="iToF: pixels with a "
                                           "phase SNR below this are invalid; 'auto' = the "
                                           "level where unwrapping fails ≤ 1e-3 per pixel."),
    ):
        """Capture a depth module (iToF, SPAD dToF or active stereo) on a scene with depth:
        depth map, point cloud and metrics against the ground truth; with --app, the
        verdicts of an application profile."""
        guard(_depth, module, scene, distance_m, far_m, reflectance, ambient_klx, frames, out,
              app_name, seed, json_out, console, reflectance_image, min_confidence)

    @app.command("depth-modules")
    def depth_modules(json_out: bool = typer.Option(False, "--json",
                                                    help="Print JSON instead of a table.")):
        """List the catalog's depth modules (iToF, dToF, active stereo)."""
        guard(_depth_modules, json_out, console)


def _finite(option: str, value: float, lo: float, hi: float, *, lo_open=False) -> None:
    ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        lo_s = f"({lo:g}" if lo_open else f"[{lo:g}"
        raise ConfigError(f"{option} = {value}: valid range is {lo_s}, {hi:g}]")


def _depth(module, scene, distance_m, far_m, reflectance, ambient_klx, n_frames, out,
           app_name, seed, json_out, console, reflectance_image=None, min_confidence="0"):
    from .._io import check_outputs
    from ..depth.evaluate import evaluate_depth
    from ..depth.io import (jsonable, write_depth_colormap_png, write_depth_npy,
                            write_depth_png16, write_metrics_json, write_point_cloud_ply)
    from ..depth.twin import (SCENES, capture_depth, load_depth_module,
                              resolve_min_confidence)

    _finite("--distance-m", distance_m, 0.05, 100.0)
    if far_m is not None:
        _finite("--far-m", far_m, distance_m, 200.0, lo_open=True)
    _finite("--reflectance", reflectance, 0.0, 1.0, lo_open=True)
    _finite("--ambient-klx", ambient_klx, 0.0, 200.0)
    if not 1 <= n_frames <= 64:
        raise ConfigError(f"--frames = {n_frames}: valid range is 1..64")
    from_file = Path(scene).suffix.lower() in (".npy", ".tif", ".tiff", ".png")
    if from_file and not Path(scene).is_file():
        raise ConfigError(f"--scene = {scene!r}: no such depth image")
    if not from_file and scene not in SCENES:
        raise ConfigError(f"--scene = {scene!r}: valid choices are {', '.join(SCENES)}, or a "
                          "depth image (.npy, .tif, .png)")
    if reflectance_image is not None and not from_file:
        raise ConfigError("--reflectance-image needs a depth-image --scene")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out = {str(out)!r} is a file; give a folder")
    files = {name: out / name for name in ("depth.png", "depth_color.png", "depth.npy",
                                           "cloud.ply", "metrics.json")}
    check_outputs({"--module": module, "--app": app_name, "--scene": scene if from_file else None,
                   "--reflectance-image": reflectance_image},
                  {"--out": list(files.values())})
    t0 = time.perf_counter()
    m = load_depth_module(module)
    min_conf = resolve_min_confidence(m, min_confidence, option="--min-confidence")
    options = {"far_m": far_m} if far_m is not None else {}
    k = 4 if (m.kind == "itof" and scene in ("step_edge", "box", "sphere")) else 1
    target = scene
    if from_file:
        from ..depth.scene import scene_from_files

        target = scene_from_files(scene, reflectance_image if reflectance_image is not None
                                  else reflectance, m.geometry)
    c = capture_depth(m, target, distance_m=distance_m, reflectance=reflectance,
                      ambient_klx=ambient_klx, frames=n_frames, seed=seed, supersample=k,
                      scene_options=options, min_confidence=min_conf)
    t_cap = time.perf_counter() - t0
    metrics = {
        "module": m.name, "kind": m.kind, "scene": scene, "distance_m": distance_m,
        "far_m": far_m, "reflectance": reflectance, "ambient_klx": ambient_klx,
        "frames": n_frames, "seed": seed, "grid": list(c.truth_m.shape),
        "min_confidence": round(min_conf, 3) if m.kind == "itof" else None,
        **c.summary(flying_pixels=scene == "step_edge"), "capture_s": round(t_cap, 3),
    }
    if app_name is not None:
        ev = evaluate_depth(m, app_name, seed=seed)
        metrics["evaluation"] = ev.as_dict()
    out.mkdir(parents=True, exist_ok=True)
    mean_depth = c.mean_depth_m
    write_depth_png16(files["depth.png"], mean_depth)
    write_depth_colormap_png(files["depth_color.png"], mean_depth)
    write_depth_npy(files["depth.npy"], mean_depth)
    pts, intensity = c.point_cloud()
    write_point_cloud_ply(files["cloud.ply"], pts, intensity=intensity)
    write_metrics_json(files["metrics.json"], metrics)
    if json_out:
        print(json.dumps(jsonable(metrics), indent=2))
        return
    line = (f"wrote [bold]{out}[/]: {m.name} ({m.kind}) on {scene} at {distance_m:g} m, "
            f"ρ {reflectance:g}, {ambient_klx:g} klx — valid {100 * metrics['valid_fraction']:.0f} %")
    if metrics["accuracy_pct"] is not None:
        line += f", accuracy {metrics['accuracy_pct']:.2f} %"
    if metrics["precision_pct"] is not None:
        line += (f", precision {metrics['precision_pct']:.2f} % "
                 f"(σ {1e3 * metrics['precision_m']:.2f} mm)")
    console.print(line)
    if app_name is not None:
        ev = metrics["evaluation"]
        from rich.table import Table

        t = Table(title=f"{m.name} × {ev['application']}: "
                        f"{'PASS' if ev['passed'] else 'FAIL'}")
        for col in ("metric", "conditions", "value", "limit", "status"):
            t.add_column(col)
        for v in ev["verdicts"]:
            lim = " ".join(x for x in (f"≥ {v['min']:g}" if v["min"] is not None else "",
                                       f"≤ {v['max']:g}" if v["max"] is not None else "") if x)
            cond = ", ".join(f"{a}={b}" for a, b in v["conditions"].items())
            t.add_row(v["metric"], cond, f"{v['value_text']} {v['unit']}", lim, v["status"])
        console.print(t)


def _depth_modules(json_out, console):
    from ..depth.twin import depth_module_names, load_depth_module

    rows = []
    for name in depth_module_names():
        m = load_depth_module(name)
        g = m.geometry
        rows.append({"name": name, "kind": m.kind, "width_px": g.width_px,
                     "height_px": g.height_px,
                     "description": getattr(m.entry, "description", "") or ""})
    if json_out:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = name_table(f"camtwin depth modules ({len(rows)})", "name", [r["name"] for r in rows],
                       ("kind", ">pixels", "description"))
    for r in rows:
        table.add_row(r["name"], r["kind"], f"{r['width_px']}×{r['height_px']}",
                      r["description"])
    console.print(table)
