"""Monte-Carlo yield cost: seconds per draw and the projected time of 1,000 draws.

Issue 21's speed goal: 1,000 Monte-Carlo draws of a 640 × 480 module with two metrics on
2 workers in ≤ 10 minutes, cost linear in draws. The tolerance run here is the default
module cropped to 640 × 480 (``crop: [640, 480]``) with six tolerances (lens tilt about x
and y, back-focal error, f-number, read noise, QE scale) and two metrics per draw:
``mtf50_cy_px`` at the centre (slanted edge through lens and sensor, e-SFR) and
``lux_at_snr10`` (SNR sweep on the 96 × 96 centre crop). ``--aa`` adds an
active-alignment step (every metric measured twice per draw).

Each run compiles the draws, starts a LocalCluster of ``--workers`` processes, runs the
draws into a fresh store in a temporary folder and analyses the yield (wall time of all of
it). The two sizes give a straight line wall = a + b·N: a is the fixed cost (cluster start,
compile, store), b the marginal seconds per draw; the projection is a + 1000·b.

    .venv/bin/python benchmarks/bench_yield.py                  # 20 and 40 draws, 2 workers
    .venv/bin/python benchmarks/bench_yield.py --sizes 40 80 --aa
    .venv/bin/python benchmarks/bench_yield.py --compare 6      # + lux metric old vs new

``--compare N`` also times the ``lux_at_snr10`` measurement of the first N draws inline on
one core both ways — the closed-form uniform-target image (the default since the metric
stopped forming a 125-band cube) and the full optics path it replaced (``snr_curve(...,
full_optics=True)``) — with the same noise key, and prints seconds per draw and the
relative difference of the two lux values.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

SPEC = {
    "name": "bench-yield", "base": "default", "seed": 1, "crop": [640, 480],
    "tolerances": [
        {"field": "assembly.tilt_x_deg", "normal": {"sd": 0.3}},
        {"field": "assembly.tilt_y_deg", "normal": {"sd": 0.3}},
        {"field": "assembly.focus_um", "normal": {"sd": 3.0}},
        {"field": "lens.f_number", "uniform": {"lo": -0.05, "hi": 0.05}},
        {"field": "sensor.read_noise_e", "truncnormal": {"sd": 0.2, "lo": -0.5, "hi": 0.5}},
        {"name": "qe_scale", "field": "sensor.pixel.ar_transmission", "apply": "scale",
         "truncnormal": {"sd": 0.02, "lo": -0.05, "hi": 0.05}}],
    "measurements": [
        {"metric": "mtf50_cy_px", "conditions": {"field": 0.0}, "as": "mtf50", "min": 0.33},
        {"metric": "lux_at_snr10", "max": 40}],
}


def run(n: int, workers: int, aa: bool) -> dict:
    from camtwin.sweep.tolerance import compile_tolerance
    from camtwin.sweep.yields import analyse_yield, run_yield

    spec = dict(SPEC, draws=n)
    if aa:
        spec["active_alignment"] = {"tilt_deg": 1.0, "focus_um": 10}
    root = tempfile.mkdtemp(prefix="camtwin-bench-yield-")
    try:
        t0 = time.perf_counter()
        c = compile_tolerance(spec)
        t_compile = time.perf_counter() - t0
        out = run_yield(c, os.path.join(root, "store"), workers=workers)
        res = analyse_yield(c, os.path.join(root, "store"))
        wall = time.perf_counter() - t0
        from camtwin.sweep.store import open_store

        t = open_store(os.path.join(root, "store")).read_table(["seconds", "cpu_seconds"])
        per_point = sum(t.column("seconds").to_pylist()) / max(1, t.num_rows)
        cpu_point = sum(t.column("cpu_seconds").to_pylist()) / max(1, t.num_rows)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"n": n, "wall": wall, "compile": t_compile, "point_s": per_point, "cpu_s": cpu_point,
            "yield": res.built.value, "errors": out.errors}


def compare_lux(n: int) -> None:
    """Seconds per draw of the lux_at_snr10 measurement, closed form vs full optics."""
    import numpy as np

    from camtwin.evaluate.metrics import level_at_snr, snr_curve
    from camtwin.sweep.tolerance import compile_tolerance, module_at_point

    c = compile_tolerance(dict(SPEC, draws=n))
    zero = {k: 0.0 for k in ("dx_um", "dy_um", "tau_x_deg", "tau_y_deg", "focus_um")}
    t = {False: 0.0, True: 0.0}
    diff = []
    for p in c.sweep.points:
        mod, _ = module_at_point(p.module, {**zero, **(p.conditions.get("assembly") or {})},
                                 None)
        lux = {}
        for full in (True, False):   # full first: it pays any one-time warm-up
            t0 = time.perf_counter()
            lux[full] = level_at_snr(snr_curve(mod, rng=int(p.conditions.get("noise_key", 0)),
                                               full_optics=full))
            t[full] += time.perf_counter() - t0
        diff.append(lux[False] / lux[True] - 1)
    print(f"\nlux_at_snr10 per draw, inline on one core ({n} draws): full optics "
          f"{t[True] / n:.3f} s, closed form {t[False] / n:.3f} s "
          f"({t[True] / max(t[False], 1e-9):.1f}x); lux difference max "
          f"{np.max(np.abs(diff)) * 100:.3f} %")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[20, 40])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--aa", action="store_true", help="with an active-alignment step")
    ap.add_argument("--compare", type=int, default=0, metavar="N",
                    help="also time lux_at_snr10 on N draws, closed form vs full optics")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    if args.compare:
        compare_lux(args.compare)
    rows = [run(n, args.workers, args.aa) for n in args.sizes]
    print("\n| draws | wall [s] | compile [s] | worker s/draw | worker CPU s/draw | "
          "wall s/draw | yield | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']} | {r['wall']:.1f} | {r['compile']:.2f} | {r['point_s']:.2f} | "
              f"{r['cpu_s']:.2f} | {r['wall'] / r['n']:.2f} | {r['yield']:.2f} | "
              f"{r['errors']} |")
    (n1, w1), (n2, w2) = [(r["n"], r["wall"]) for r in rows]
    b = (w2 - w1) / (n2 - n1)
    a = w1 - b * n1
    print(f"\nlinear fit wall = a + b·N: a = {a:.1f} s (fixed), b = {b:.3f} s/draw "
          f"({args.workers} workers{', with active alignment' if args.aa else ''})")
    print(f"projected 1,000 draws: {a + 1000 * b:.0f} s = {(a + 1000 * b) / 60:.1f} min "
          f"(goal ≤ 10 min); worker-time check: "
          f"{1000 * rows[-1]['point_s'] / args.workers / 60:.1f} min of draws / "
          f"{args.workers} workers (CPU-time bound on idle cores: "
          f"{1000 * rows[-1]['cpu_s'] / args.workers / 60:.1f} min)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
