"""Capture at real size: wall time and peak memory of the streamed path against the cube path.

Every measurement runs in a fresh child process (``python -c``) and reports its own wall
time and peak RSS (``VmHWM`` of ``/proc/self/status``, which starts afresh at ``exec``;
``getrusage``'s ``ru_maxrss`` would carry this script's own peak into the child's). Rows:

* ``cube``     — the first versions' path: ``form_image`` builds the (bands, H, W) spectral
  cube, ``capture`` sums it, then the ISP (run only where the cube fits: ≈ 2 kB per pixel);
* ``streamed`` — ``camtwin.shoot``: band groups summed into channel planes
  (:mod:`camtwin.optics.stream`), the same sensor chain and ISP, on the whole frame;
* ``strips``   — ``camtwin.strips.shoot_strips``: the same physics in row strips (optics
  per strip window, noise keyed on the sensor's pixel index, ISP per strip to the 8-bit
  image); what ``camtwin capture`` runs above 16 MP;
* floor ``spectral`` — the spectral integration alone (streamed optics without blur:
  collapse of the scene's bands into the channel planes);
* floor ``noise``    — the sensor's pixel chain alone (``simulate_pixels`` on a mosaic);
* ``cli``      — ``camtwin capture`` end to end in a fresh process (imports included),
  for the default module and the catalog modules (``--catalog``).

Sizes are centre crops of the 48 MP catalog module ``phone-imx586-main`` (0.8 µm pixels)
and the 200 MP module ``phone-isocell-hp2-main`` (0.6 µm pixels).
Usage::

    python benchmarks/bench_capture_scale.py                 # 1.2, 12, 48, 200 MP + default CLI
    python benchmarks/bench_capture_scale.py --catalog       # + every catalog module (CLI)
    python benchmarks/bench_capture_scale.py --sizes 1.2,12  # fewer sizes
    # a photo as the scene on the 48 and 200 MP modules, against another revision:
    python benchmarks/bench_capture_scale.py --photos coffee.png \
        --capture-args "--lux 2500 --exposure-ms 40" --against-git f389c9e
    # … a window of it (the window's part of the scene only, twentieth session):
    python benchmarks/bench_capture_scale.py --photos coffee.png \
        --capture-args "--window 3000,2000,1024,768" --against-git 81826c3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

MODULE = "catalog:phone-imx586-main"
#: size key → (module, centre crop W, H or None for the full sensor)
SIZES = {"1.2": (MODULE, (1280, 960)), "12": (MODULE, (4000, 3000)), "48": (MODULE, None),
         "200": ("catalog:phone-isocell-hp2-main", None)}
#: Above this many pixels the cube path is not attempted (≈ 2 kB per pixel at peak).
CUBE_MAX_PX = 1_500_000

_PRELUDE = """
import json, resource, sys, time
t0 = time.perf_counter()
import numpy as np
import camtwin
from camtwin.crop import crop_module
mod = camtwin.load_module({module!r})
if {crop!r} is not None:
    mod = crop_module(mod, *{crop!r})
"""

_JOBS = {
    "cube": """
from camtwin.camera import expose, module_scene, render
from camtwin.optics import form_image
sc = module_scene(mod, "colorchecker")
t1 = time.perf_counter()
raw = expose(mod, form_image(sc, mod.lens), exposure_s=None, rng=0)
img = render(mod, raw)
""",
    "streamed": """
from camtwin.camera import calibration_module, module_ccm, module_scene
sc = module_scene(mod, "colorchecker")
module_ccm(calibration_module(mod))  # warm: the CCM comes from the disk cache
t1 = time.perf_counter()
shot = camtwin.shoot(mod, sc, rng=0)
""",
    "spectral": """
from camtwin.camera import module_scene
from camtwin.optics.stream import form_channel_image
sc = module_scene(mod, "colorchecker")
t1 = time.perf_counter()
ci = form_channel_image(sc, mod.lens, mod.sensor, diffraction=False)
""",
    "noise": """
from camtwin.sensor.pixels import simulate_pixels
s = mod.sensor
photo = np.full((s.height_px, s.width_px), 0.3 * s.full_well_e, dtype=np.float32)
simulate_pixels(photo[:64, :64].copy(), np.float32(5.0), crop_module(mod, 64, 64).sensor, key=0)
t1 = time.perf_counter()
dn = simulate_pixels(photo, np.float32(5.0), s, key=1)
""",
    "strips": """
from camtwin.camera import calibration_module, module_ccm, module_scene
from camtwin.strips import shoot_strips
sc = module_scene(mod, "colorchecker")
module_ccm(calibration_module(mod))  # warm: the CCM comes from the disk cache
t1 = time.perf_counter()
shot = shoot_strips(mod, sc, rng=0)
""",
}

#: The child's peak RSS [MiB] (Linux: its own high-water mark; elsewhere getrusage).
_HWM = """
def _hwm():
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

_EPILOGUE = _HWM + """
t2 = time.perf_counter()
print(json.dumps({"job_s": t2 - t1, "total_s": t2 - t0,
                  "peak_mib": _hwm()}))
"""


def run_child(code: str, timeout: float, env: dict | None = None) -> dict:
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=timeout, env=None if env is None else {**os.environ, **env})
    wall = time.perf_counter() - t
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["?"])[-1], "wall_s": wall}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def job(kind: str, module: str, crop, timeout: float) -> dict:
    # the cube path is measured, not refused: lift the budget for it (it checks its cubes)
    env = {"CAMTWIN_MAX_MEMORY": "16G"} if kind == "cube" else None
    return run_child(_PRELUDE.format(module=module, crop=crop) + _JOBS[kind] + _EPILOGUE,
                     timeout, env)


def cli(module: str, timeout: float, scene: str = "colorchecker", extra=(),
        src: str | None = None) -> dict:
    """``camtwin capture --module MODULE --scene SCENE [extra] --json`` in a child process
    (``src``: the ``src`` directory of another revision of camtwin, first on its path)."""
    with tempfile.TemporaryDirectory() as d:
        argv = ["camtwin", "capture", "--module", module, "--scene", scene, *extra,
                "--out", os.path.join(d, "x.png"), "--json"]
        code = ("import json, resource, sys, io, contextlib\n" + _HWM
                + (f"sys.path.insert(0, {src!r})\n" if src else "")
                + "from camtwin.cli import main\n"
                f"sys.argv = {argv!r}\n"
                "buf = io.StringIO()\n"
                "try:\n"
                "    with contextlib.redirect_stdout(buf):\n"
                "        main()\n"
                "except SystemExit as e:\n"
                "    code = e.code\n"
                "s = json.loads(buf.getvalue()) if code == 0 else {}\n"
                "print(json.dumps({'job_s': sum(s.get('stage_s', {}).values()), 'total_s': 0,\n"
                "    'stages': s.get('stage_s'), 'exit': code,\n"
                "    'peak_mib': _hwm()}))\n")
        return run_child(code, timeout)


def checkout(rev: str, into: str) -> str:
    """The ``src`` directory of git revision ``rev`` of this repository, unpacked in
    ``into``."""
    import io
    import tarfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tar = subprocess.run(["git", "-C", root, "archive", rev, "src"], capture_output=True,
                         check=True).stdout
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(into, filter="data")
    return os.path.join(into, "src")


def fmt(r: dict) -> str:
    if "error" in r:
        return f"failed: {r['error'][:60]}"
    return f"{r['wall_s']:7.2f} s wall  {r['job_s']:7.2f} s job  {r['peak_mib'] / 1024:5.2f} GiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1.2,12,48,200",
                    help="comma-separated keys of SIZES (MP)")
    ap.add_argument("--catalog", action="store_true", help="also every catalog module (CLI)")
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--photos", default=None,
                    help="comma-separated image files: `camtwin capture` of each on the "
                         "modules of --modules (peak memory of a photo scene), instead of "
                         "the rows above")
    ap.add_argument("--modules", default="catalog:phone-imx586-main,"
                    "catalog:phone-isocell-hp2-main", help="modules of the --photos rows")
    ap.add_argument("--capture-args", default="",
                    help="more `camtwin capture` options of the --photos rows "
                         "(e.g. '--lux 2500 --exposure-ms 40')")
    ap.add_argument("--against-git", default=None,
                    help="also run the --photos rows on this git revision, side by side")
    args = ap.parse_args()
    if args.photos:
        photo_rows(args)
        return
    print(f"load: {os.getloadavg()}")
    # warm the numba and CCM caches so that every row measures a warm start
    job("streamed", MODULE, (256, 192), args.timeout)
    rows = []
    for key in args.sizes.split(","):
        module, crop = SIZES[key]
        n = float(key) * 1e6
        for kind in ("spectral", "noise", "streamed", "strips", "cube"):
            if kind == "cube" and n > CUBE_MAX_PX:
                rows.append((f"{key} MP", kind, "skipped: the cube needs ≈ "
                             f"{2 * n / 2**20:.0f} MiB × 1 kB"))
                continue
            r = job(kind, module, crop, args.timeout)
            rows.append((f"{key} MP", kind, fmt(r)))
            print(f"{key:>4} MP  {kind:9s} {fmt(r)}", flush=True)
    modules = ["default"]
    if args.catalog:
        from camtwin.catalog import load_catalog

        modules += [f"catalog:{m}" for m in sorted(load_catalog().modules)]
    for m in modules:
        r = cli(m, args.timeout)
        extra = "" if "error" in r else f"  stages {r.get('stages')}"
        print(f"cli {m:40s} {fmt(r)}{extra}", flush=True)
        rows.append((m, "cli", fmt(r)))
    print(f"load: {os.getloadavg()}")


def photo_rows(args) -> None:
    """``--photos``: each photo on each module, this tree and (``--against-git``) another
    revision in turn, each capture in a fresh child process after a warm-up capture of a
    small crop (numba and CCM caches warm)."""
    import shlex

    extra = shlex.split(args.capture_args)
    with tempfile.TemporaryDirectory() as d:
        trees = [("this tree", None)]
        if args.against_git:
            trees.append((f"git {args.against_git}", checkout(args.against_git, d)))
        print(f"load: {os.getloadavg()}")
        # warm-up: the same code paths on a 2 MP crop (or the rows' own window or crop)
        warm = extra if {"--crop", "--window"} & set(extra) else [*extra, "--crop", "1600,1200"]
        for _, src in trees:
            for photo in args.photos.split(","):
                cli("catalog:phone-imx586-main", args.timeout, photo, warm, src)
        print("| photo | module | tree | wall s | stages s | peak RSS GiB |")
        print("|---|---|---|---:|---:|---:|")
        for photo in args.photos.split(","):
            for m in args.modules.split(","):
                for name, src in trees:
                    r = cli(m, args.timeout, photo, extra, src)
                    if "error" in r or r.get("exit"):
                        print(f"| {os.path.basename(photo)} | {m} | {name} | failed: "
                              f"{r.get('error', r.get('exit'))} | | |", flush=True)
                        continue
                    print(f"| {os.path.basename(photo)} | {m} | {name} | {r['wall_s']:.1f} | "
                          f"{r['job_s']:.1f} | {r['peak_mib'] / 1024:.2f} |", flush=True)
        print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
