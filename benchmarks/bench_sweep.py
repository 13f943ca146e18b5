"""Sweep scaling on dask.distributed: 1 vs 2 workers, and seconds per point vs sweep size.

The sweep varies ``sensor.pixel_pitch_um`` of the default module over N distinct values
(1.0 … 3.0 µm) and measures, at every point, ``lux_at_snr10`` (SNR sweep on the 96 × 96
centre crop), ``mtf50_centre`` (slanted edge through lens, sensor and ISP, e-SFR),
``delta_e00_mean`` (ColorChecker, fitted CCM), ``motion_skew_px`` and ``dynamic_range_db``:
CPU-bound NumPy + numba, about 1 s per point on one idle core. Every run writes
a fresh store in a temporary folder; the wall time includes starting the LocalCluster
(processes, 1 thread each) and writing the Parquet store. The results of the 1- and
2-worker runs are compared for equality (determinism).

    /work/venv/bin/python benchmarks/bench_sweep.py                 # 64 pts ×{1,2} + 16/64/256
    /work/venv/bin/python benchmarks/bench_sweep.py --sizes 16 64   # shorter
    /work/venv/bin/python benchmarks/bench_sweep.py --skip-speedup  # sizes only
    /work/venv/bin/python benchmarks/bench_sweep.py --compile 2000 --skip-speedup --sizes

``--compile N`` also times :func:`camtwin.sweep.compile_sweep` on an N-point grid (every
point's module built and validated, nothing run): CPU seconds and traced memory per point,
the figures behind ``camtwin.sweep.spec.MAX_POINTS``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time


#: A characterisation-style point: about 1 s of CPU on one idle core here.
DEFAULT_METRICS = ("lux_at_snr10", "mtf50_centre", "delta_e00_mean", "motion_skew_px",
                   "dynamic_range_db")


def make_sweep(n_points: int, metrics: list[str], seed: int = 0):
    from camtwin.sweep import SweepSpec, compile_sweep

    spec = SweepSpec.from_dict({
        "name": f"bench-{n_points}", "base": "default", "seed": seed,
        "parameters": {"sensor.pixel_pitch_um": {"start": 1.0, "stop": 3.0, "num": n_points}},
        "measurements": list(metrics)})
    return compile_sweep(spec)


def timed_run(n_points: int, workers: int, metrics: list[str], batch_size: int | None):
    from camtwin.sweep import open_store, run_sweep

    sweep = make_sweep(n_points, metrics)
    root = tempfile.mkdtemp(prefix="camtwin-bench-sweep-")
    try:
        t0 = time.perf_counter()
        out = run_sweep(sweep, os.path.join(root, "store"), workers=workers,
                        batch_size=batch_size)
        wall = time.perf_counter() - t0
        table = open_store(os.path.join(root, "store")).read_table(
            ["point_hash", "status", *metrics, "seconds", "cpu_seconds"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = sorted(zip(*(table.column(c).to_pylist() for c in ["point_hash", *metrics])))
    busy = sum(table.column("seconds").to_pylist())
    cpu = sum(table.column("cpu_seconds").to_pylist())
    assert out.computed == n_points and out.errors == 0, out
    return wall, busy, cpu, rows, out.batch_size


def compile_cost(n_points: int) -> tuple[float, float, float]:
    """(CPU s per point, wall s per point, peak traced kB per point) of compiling an
    ``n_points`` grid (two parameters, √n values each)."""
    import math
    import tracemalloc

    from camtwin.sweep import SweepSpec, compile_sweep

    k = max(1, round(math.sqrt(n_points)))
    spec = SweepSpec.from_dict({
        "name": "compile", "parameters": {
            "sensor.pixel_pitch_um": {"start": 1.0, "stop": 3.0, "num": k},
            "lens.f_number": {"start": 1.4, "stop": 4.0, "num": k}},
        "measurements": ["frame_rate_fps"]})
    t0, c0 = time.perf_counter(), time.process_time()
    n = len(compile_sweep(spec).points)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    tracemalloc.start()            # a second compile: tracing slows the first one down
    sweep = compile_sweep(spec)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del sweep
    return cpu / n, wall / n, peak / n / 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--speedup-points", type=int, default=64)
    ap.add_argument("--sizes", type=int, nargs="*", default=[16, 64, 256])
    ap.add_argument("--skip-speedup", action="store_true")
    ap.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS))
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--compile", type=int, default=0, metavar="N",
                    help="also time compiling an N-point grid (no run)")
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} "
          f"(1 min), CPUs: {len(os.sched_getaffinity(0))}")
    if args.compile:
        from camtwin.sweep.spec import MAX_POINTS

        cpu, wall, kb = compile_cost(args.compile)
        print(f"\ncompiling a {args.compile}-point grid: {cpu * 1e3:.2f} ms CPU "
              f"({wall * 1e3:.2f} ms wall) and {kb:.1f} kB per point → the limit of "
              f"{MAX_POINTS} points: {cpu * MAX_POINTS / 60:.1f} min CPU, "
              f"{kb * MAX_POINTS / 1e6:.2f} GB")

    if not args.skip_speedup:
        print(f"\n{args.speedup_points}-point sweep of {'+'.join(args.metrics)}: "
              "1 vs 2 workers")
        print("| workers | batch | wall s | s/point | task wall s | task CPU s | speedup |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    results = {}
    for w in (() if args.skip_speedup else (1, 2)):
        wall, busy, cpu, rows, bs = timed_run(args.speedup_points, w, args.metrics,
                                              args.batch_size)
        results[w] = (wall, rows)
        print(f"| {w} | {bs} | {wall:.1f} | {wall / args.speedup_points:.3f} | {busy:.1f} | "
              f"{cpu:.1f} | {results[1][0] / wall:.2f}× |", flush=True)
    if results:
        print(f"identical results with 1 and 2 workers: {results[1][1] == results[2][1]}")

    if args.sizes:
        print(f"\nseconds per point vs sweep size (2 workers, {'+'.join(args.metrics)})")
        print("| points | batch | wall s | s/point | task wall s/point | task CPU s/point |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    walls = []
    for n in args.sizes:
        wall, busy, cpu, _, bs = timed_run(n, 2, args.metrics, args.batch_size)
        walls.append(wall)
        print(f"| {n} | {bs} | {wall:.1f} | {wall / n:.3f} | {busy / n:.3f} | {cpu / n:.3f} |",
              flush=True)
    if len(args.sizes) >= 2:
        import numpy as np

        slope, fixed = np.polyfit(np.array(args.sizes, float), np.array(walls), 1)
        resid = np.array(walls) - (fixed + slope * np.array(args.sizes, float))
        print(f"linear fit wall = {fixed:.1f} s + {slope:.3f} s × points "
              f"(max residual {np.abs(resid).max():.1f} s)")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f} (1 min)")
    # task wall ≫ task CPU means the workers waited for a CPU (other jobs on the machine)


if __name__ == "__main__":
    main()
