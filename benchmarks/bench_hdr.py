"""HDR and flicker benchmark (issue 19): HDR capture vs single-exposure capture of one
1920×1280 module, and the LED modulation mitigation probability over 100 phases.

Run:  .venv/bin/python benchmarks/bench_hdr.py [--repeat 3] [--phases 100]

Module: the catalog ``adas-ox03c10-surround`` (OX03C10, 1920×1280, 3.0 µm), read
* as one linear exposure (``sensor.hdr = None``),
* as a 3-exposure DOL sensor (exposure ratios 16, 16; line-interleaved windows),
* as a plain split pixel (the catalog's LPD + SPD, one read each, no very short capture),
* in its catalog split-pixel mode (LPD at HCG + LCG, SPD, very short: 4 reads).
The optical image of a uniform 18 % grey scene at 200 lx is formed once; each row times
``camtwin.sensor.capture`` (the same entry ``camtwin evaluate`` uses; it dispatches on
``sensor.hdr``) alone and capture + ISP merge (``camtwin.isp.hdr.merge_hdr``,
noise-optimal) — median of ``--repeat`` runs after one warm-up (numba compilation).
Goal: an HDR capture ≤ 2× the single-exposure capture.

MMP: ``camtwin.evaluate.measure(module, "led_mmp")`` — 100 captures of a 256×256 crop with
a 90 Hz, 10 % PWM LED at random phases (optics once, then capture + merge per phase).
Goal ≤ 10 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _modules():
    from camtwin.module import load_module

    m = load_module("adas-ox03c10-surround")
    single = m.replace(sensor={"hdr": None})
    dol = single.replace(sensor={"hdr": {"mode": "dol", "dol": {"exposure_ratios": [16, 16]}}})
    sp = m.sensor.hdr.split_pixel
    two = single.replace(sensor={"hdr": {"mode": "split_pixel", "split_pixel": {
        **sp.model_dump(), "lpd_dual_gain": False}}})
    return {"single exposure": single, "DOL, 3 exposures": dol,
            "split pixel, 2 photodiodes (LPD + SPD)": two,
            f"split pixel ({m.sensor.hdr.mode}, catalog)": m}


def _median_s(fn, repeat: int) -> float:
    fn()  # warm-up: numba compilation, caches
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--phases", type=int, default=100)
    args = ap.parse_args()

    from camtwin.camera import form_module_image, module_scene
    from camtwin.evaluate import measure
    from camtwin.evaluate.p2020_metrics import linear_signal_e
    from camtwin.sensor import capture

    mods = _modules()
    base = next(iter(mods.values()))
    oi = form_module_image(base, module_scene(base, "uniform", illuminance_lux=200.0))
    exposure_s = 0.011
    rows = []
    for name, mod in mods.items():
        s = mod.sensor
        cap = _median_s(lambda: capture(oi, s, exposure_s, 1), args.repeat)
        both = _median_s(lambda: linear_signal_e(capture(oi, s, exposure_s, 1)), args.repeat)
        rows.append((name, cap, both))
    t_single = rows[0][1]
    print(f"capture of {base.sensor.width_px}×{base.sensor.height_px} px, "
          f"{exposure_s * 1e3:g} ms, median of {args.repeat}")
    print(f"{'mode':40s} {'capture s':>10s} {'× single':>9s} {'+ merge s':>10s}")
    for name, cap, both in rows:
        print(f"{name:40s} {cap:10.3f} {cap / t_single:9.2f} {both:10.3f}")

    print(f"\nled_mmp: {args.phases} phases, 256×256 crop, 90 Hz 10 % PWM, 11 ms")
    print(f"{'mode':40s} {'seconds':>10s} {'MMP':>6s}")
    for name, mod in mods.items():
        measure(mod, "led_mmp", {"phases": 2}, rng=0)   # warm-up
        t0 = time.perf_counter()
        r = measure(mod, "led_mmp", {"phases": args.phases}, rng=1)
        print(f"{name:40s} {time.perf_counter() - t0:10.2f} {r.value:6.2f}")
    print(f"\nload average (1, 5, 15 min): {os.getloadavg()}")


if __name__ == "__main__":
    main()
