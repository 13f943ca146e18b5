"""VL53L1X twin against ST's published long-mode ranges in the dark: 1.7 m on a 17 % and
3.6 m on an 88 % target (ST STEBCN2 board manual, "long distance mode: ranging distance up
to 1.7-3.6 m in the dark for targets with 17-88 % reflectance").

The catalog's SPAD signal chain (PDE, emitter power, receiver optics) is unpublished and
estimated; this script scales the emitter power by the factors given (one factor standing in
for the whole unknown chain), and prints for each the twin's range on both targets: the
farthest distance (0.1 m steps) up to which at least 90 % of 8 frames give a valid depth.
Fit the factor on the 17 % figure, then read the 88 % prediction — a test of the
reflectance scaling of the detection physics, not of the estimates.

    .venv/bin/python benchmarks/bench_vl53l1x_range.py 1 0.004 0.0045 0.005
"""

from __future__ import annotations

import argparse
import dataclasses
import os

import numpy as np

from camtwin.depth.evaluate import plane_statistics
from camtwin.depth.twin import load_depth_module

PUBLISHED_M = {0.17: 1.7, 0.88: 3.6}


def twin_range(module, reflectance: float, distances, frames: int = 8, seed: int = 3) -> float:
    last = 0.0
    for d in distances:
        st = plane_statistics(module, distance_m=float(d), reflectance=reflectance,
                              frames=frames, seed=seed)
        if st["valid_fraction"] < 0.9:
            break
        last = float(d)
    return last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scales", nargs="*", type=float, default=[1.0, 0.0045])
    args = ap.parse_args()
    m0 = load_depth_module("dtof-vl53l1x")
    d = np.arange(0.5, 4.75, 0.1)
    print(f"# VL53L1X twin, long mode, dark; load {os.getloadavg()[0]:.2f}")
    print("| emitter scale | range 17 % (m) | range 88 % (m) | published 17 / 88 % (m) |")
    print("|---|---|---|---|")
    for scale in args.scales:
        ill = m0.illuminator.model_copy(
            update={"optical_power_w": m0.illuminator.optical_power_w * scale})
        m = dataclasses.replace(m0, illuminator=ill)
        r = [twin_range(m, rho, d) for rho in PUBLISHED_M]
        print(f"| {scale:g} | {r[0]:.1f} | {r[1]:.1f} | {PUBLISHED_M[0.17]} / {PUBLISHED_M[0.88]} |")


if __name__ == "__main__":
    main()
