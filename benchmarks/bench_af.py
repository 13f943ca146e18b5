"""Autofocus benchmark: focus error, frames, lens moves, time to focus and the wall time
of one simulated AF run (frame simulation included), for contrast, hill-climbing, PDAF
and hybrid AF at 1000, 100 and 10 lux, over several seeds and start positions.

Run:  python benchmarks/bench_af.py [--seeds 4]

Target: the default module (2.8 mm f/2, 2 µm pixels) focusing a Siemens star at 0.5 m
(p* = 15.8 µm), 128 px AF window. The PDAF calibration (a factory step) is made once and
timed separately. Peer: no pip-installable AF simulator exists to compare against.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np


def main():
    from camtwin.focus import calibrate_pdaf, run_autofocus
    from camtwin.module import load_module

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=4)
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 CPUs)")
    m = load_module("default")
    run_autofocus(m, distance_m=0.5, illuminance_lux=100, method="hill_climb", rng=0)  # warm-up
    t0 = time.perf_counter()
    cal = calibrate_pdaf(m, rng=0)
    print(f"PDAF calibration: {time.perf_counter() - t0:.2f} s, slope "
          f"{cal.slope_um_per_sample:.2f} µm per plane sample")
    print("\n| method | lux | RMS error µm | max |error| µm | max error / DOF | frames | "
          "lens moves | time to focus ms | wall s per run |")
    print("|---|---|---|---|---|---|---|---|---|")
    dof = None
    for method in ("contrast", "hill_climb", "pdaf", "hybrid"):
        for lux in (1000.0, 100.0, 10.0):
            errs, frames, moves, ttf, wall = [], [], [], [], []
            for seed in range(a.seeds):
                start = (0.0, 60.0, 120.0, 30.0)[seed % 4]
                t0 = time.perf_counter()
                r = run_autofocus(m, distance_m=0.5, illuminance_lux=lux, method=method,
                                  rng=100 + seed, start_um=start, calibration=cal)
                wall.append(time.perf_counter() - t0)
                errs.append(r.focus_error_um)
                frames.append(r.frames)
                moves.append(r.lens_moves)
                ttf.append(r.time_s * 1e3)
                dof = r.dof_um
            e = np.array(errs)
            print(f"| {method} | {lux:g} | {math.sqrt(np.mean(e**2)):.2f} | {np.abs(e).max():.2f} "
                  f"| {np.abs(e).max() / dof:.2f} | {np.mean(frames):.1f} | {max(moves)} | "
                  f"{np.mean(ttf):.0f} | {np.mean(wall):.2f} |")
    print(f"\nDOF (2·N_w·c, c = 2 µm pixel) = {dof:.2f} µm; seed report target: 3 µm")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
