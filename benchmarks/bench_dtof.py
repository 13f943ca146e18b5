"""dToF benchmark: speed of a 320×240 SPAD histogram frame and range error vs the analytic
model over distance, reflectivity and ambient light.

Run:  python benchmarks/bench_dtof.py [--repeats 3] [--quick]

Part 1 (speed, issue 20 goal "a 320×240 dToF histogram frame ≤ 1 s"): ``simulate_dtof``
(first-photon histograms + Coates correction + peak detection, numba, 2 threads) for
128/256 bins and 2000/5000 pulses, median of ``--repeats`` after one warm-up call; the
histogram processing alone on its own row; side by side the plain NumPy implementation of
the same model (``expected_counts_per_cycle`` + ``simulate_first_photon_reference``: one
vectorised ``rng.binomial`` per TDC bin + ``process_histograms_reference``), timed once.
The multi-event (dead-time) mode is timed once on the full frame; its NumPy per-cycle
reference only on a 32×24 crop (scaled ×100 to the full frame, marked "est.").
No open dToF simulator is comparable (as of 2026 no pip-installable package simulates SPAD
first-photon histograms with pile-up from photon rates; LiDAR simulators such as CARLA's
ray-cast LiDAR return points, not TDC histograms), so the baseline is NumPy.

Part 2 (accuracy, goal "range error vs analytic within 10 %"): a uniform 48×48 SPAD frame
per grid point, stand-in radiometry active = 1e8·ρ/d² photons/s per SPAD (inverse square,
Lambertian; the real one is camtwin.depth.radiometry) and ambient 0 / 2e7 / 2e8 photons/s
per SPAD (order of 0 / ~10 / ~100 klx for a small SPAD behind a narrow filter); σ and mean
of the range error of the valid pixels vs :func:`analytic_range_error`.

Part 3: the pile-up bias without Coates correction vs its analytic expectation, and with it.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from types import SimpleNamespace

import numpy as np

from camtwin.depth.dtof import (
    DTofSpec,
    analytic_range_error,
    expected_counts_per_cycle,
    process_histograms,
    process_histograms_reference,
    simulate_dtof,
    simulate_first_photon_reference,
    simulate_multi_event_reference,
)

F_REP = 10e6  # Hz (100 ns period)
PW = 1e-9  # s, Gaussian FWHM
H, W = 240, 320


def _rates(shape, active, ambient):
    return SimpleNamespace(active=np.full(shape, float(active)),
                           ambient=np.full(shape, float(ambient)))


def _median_time(fn, repeats, *, cpu=False):
    """Median wall time of ``repeats`` calls after a warm-up (and median CPU time of this
    process: on a machine shared with other jobs the wall time of a 2-thread run is
    bounded below by CPU/2)."""
    fn()
    ts, cs = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        ts.append(time.perf_counter() - t)
        cs.append(time.process_time() - c)
    return (statistics.median(ts), statistics.median(cs)) if cpu else statistics.median(ts)


def _numpy_frame(rates, dist, spec, rng, rows=60):
    """The NumPy reference of the same model, in row chunks (memory)."""
    kw = dict(pulse_width_s=PW, repetition_rate_hz=F_REP)
    for r0 in range(0, dist.shape[0], rows):
        sl = slice(r0, r0 + rows)
        lam = expected_counts_per_cycle(rates.active[sl], rates.ambient[sl], dist[sl], spec, **kw)
        hist = simulate_first_photon_reference(lam, spec.pulses_per_frame, rng)
        process_histograms_reference(hist, spec.pulses_per_frame, spec, **kw)


def part_speed(repeats: int, quick: bool):
    print("## Speed: one 320×240 frame (zone 1), first-photon histograms, PDE 0.2, "
          "250 ps bins, 1 ns FWHM, 10 MHz")
    print()
    print("| bins | pulses | camtwin wall (s) | camtwin CPU (s) | of which processing (s) | "
          "NumPy reference (s) | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    rates = _rates((H, W), 2e7, 5e7)  # 0.4 signal photons/pulse (0.08 e⁻), ambient
    dist = np.full((H, W), 2.0)
    configs = [(128, 2000), (256, 2000)] if quick else [(128, 2000), (256, 2000), (128, 5000),
                                                        (256, 5000)]
    kw = dict(pulse_width_s=PW, repetition_rate_hz=F_REP)
    for nb, pulses in configs:
        spec = DTofSpec(photon_detection_efficiency=0.2, dead_time_ns=10, tdc_bin_ps=250,
                        n_bins=nb, pulses_per_frame=pulses)
        rng = np.random.default_rng(0)
        t_cam, c_cam = _median_time(lambda: simulate_dtof(rates, dist, spec, rng, **kw), repeats,
                                    cpu=True)
        frame = simulate_dtof(rates, dist, spec, rng, **kw)
        t_proc = _median_time(lambda: process_histograms(frame.histograms, frame.n_cycles,
                                                         spec, **kw), repeats)
        t0 = time.perf_counter()
        _numpy_frame(rates, dist, spec, np.random.default_rng(1))
        t_np = time.perf_counter() - t0
        print(f"| {nb} | {pulses} | {t_cam:.3f} | {c_cam:.3f} | {t_proc:.3f} | {t_np:.2f} | "
              f"{t_np / t_cam:.1f}× |")
    # multi-event with dead time
    spec = DTofSpec(photon_detection_efficiency=0.2, dead_time_ns=10, tdc_bin_ps=250,
                    n_bins=128, pulses_per_frame=2000, detection="multi_event")
    rng = np.random.default_rng(2)
    simulate_dtof(_rates((8, 8), 2e7, 5e7), np.full((8, 8), 2.0), spec, rng, **kw)  # compile
    t0, c0 = time.perf_counter(), time.process_time()
    simulate_dtof(rates, dist, spec, rng, **kw)
    t_me, c_me = time.perf_counter() - t0, time.process_time() - c0
    crop = (24, 32)
    lam = expected_counts_per_cycle(np.full(crop, 2e7), 5e7, 2.0, spec, **kw).reshape(-1, 128)
    t0 = time.perf_counter()
    simulate_multi_event_reference(lam, spec.pulses_per_frame, np.random.default_rng(3),
                                   bin_s=spec.bin_s, dead_time_s=10e-9, period_s=1 / F_REP)
    t_ref = (time.perf_counter() - t0) * (H * W) / (crop[0] * crop[1])
    print(f"| 128 (multi-event, 10 ns dead) | 2000 | {t_me:.3f} | {c_me:.3f} | — | "
          f"{t_ref:.0f} (est.) | "
          f"{t_ref / t_me:.0f}× |")
    print()


def part_accuracy(quick: bool):
    print("## Range error vs analytic (48×48 SPADs per point, 2000 pulses, PDE 0.2, "
          "128 × 250 ps bins, Coates on)")
    print()
    print("| d (m) | ρ | ambient (ph/s) | e⁻/cycle | valid | σ sim (mm) | σ analytic (mm) | "
          "ratio | bias sim (mm) | bias analytic (mm) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    spec = DTofSpec(photon_detection_efficiency=0.2, dead_time_ns=10, tdc_bin_ps=250,
                    n_bins=128, pulses_per_frame=2000, peak_snr_threshold=5.0)
    kw = dict(pulse_width_s=PW, repetition_rate_hz=F_REP)
    rng = np.random.default_rng(4)
    shape = (48, 48)
    ratios = []
    dists = (0.5, 2.0) if quick else (0.5, 1.0, 2.0, 4.0)
    for d in dists:
        for rho in (0.1, 0.5, 0.9):
            for amb in (0.0, 2e7, 2e8):
                act = 1e8 * rho / d ** 2
                frame = simulate_dtof(_rates(shape, act, amb), np.full(shape, d), spec, rng, **kw)
                ref = analytic_range_error(act, amb, d, spec, **kw)
                err = frame.depth_m[frame.valid] - d
                vf = frame.valid.mean()
                sd = err.std(ddof=1) if err.size > 2 else math.nan
                mean = err.mean() if err.size else math.nan
                ratio = sd / float(ref.sigma_m)
                if vf >= 0.99:
                    ratios.append(ratio)
                mark = "" if vf >= 0.99 else " (valid < 99 %)"
                print(f"| {d} | {rho} | {amb:.0e} | {0.2 * act / F_REP:.3f} | {vf:.3f} | "
                      f"{sd * 1e3:.2f} | {float(ref.sigma_m) * 1e3:.2f} | {ratio:.3f}{mark} | "
                      f"{mean * 1e3:+.3f} | {float(ref.bias_m) * 1e3:+.3f} |")
    if ratios:
        print()
        print(f"σ_sim/σ_analytic over the {len(ratios)} points with ≥ 99 % valid: "
              f"min {min(ratios):.3f}, max {max(ratios):.3f}")
    print()


def part_pileup():
    print("## Pile-up bias at 0.6 m (1.5 ns FWHM, 40×40 SPADs, 1000 pulses, ambient 2e7 ph/s, "
          "PDE 1, 128 × 100 ps bins)")
    print()
    print("| signal e⁻/cycle | bias sim, raw (mm) | bias analytic, raw (mm) | "
          "bias sim, Coates (mm) | bias analytic, Coates (mm) | valid raw / Coates |")
    print("|---:|---:|---:|---:|---:|---:|")
    kw = dict(pulse_width_s=1.5e-9, repetition_rate_hz=20e6)
    shape = (40, 40)
    rng = np.random.default_rng(5)
    for mu in (0.1, 0.5, 1.0, 2.0, 4.0):
        row, valid = [f"{mu}"], []
        for coates in (False, True):
            spec = DTofSpec(photon_detection_efficiency=1.0, dead_time_ns=100, tdc_bin_ps=100,
                            n_bins=128, pulses_per_frame=1000, coates_correction=coates)
            act = mu * 20e6
            frame = simulate_dtof(_rates(shape, act, 2e7), np.full(shape, 0.6), spec, rng, **kw)
            ref = analytic_range_error(act, 2e7, 0.6, spec, **kw)
            err = frame.depth_m[frame.valid] - 0.6
            row += [f"{err.mean() * 1e3:+.2f}", f"{float(ref.bias_m) * 1e3:+.2f}"]
            valid.append(f"{frame.valid.mean():.3f}")
        print("| " + " | ".join(row) + " | " + " / ".join(valid) + " |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer configurations")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    print()
    part_speed(args.repeats, args.quick)
    part_accuracy(args.quick)
    part_pileup()
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
