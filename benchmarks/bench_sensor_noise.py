"""Per-pixel sensor noise chain: camtwin (numba) vs its NumPy reference, getframes and
pyxel-sim, plus the machine limits measured in the same run.

The job: a 4000×3000 RGGB raw frame (uint16 DN) from a mean photo-electron image (a smooth
gradient 5…20000 e⁻ with Bayer channel factors) with shot noise + dark current at 40 °C
(50 e⁻/s at 25 °C, doubling every 6.5 °C, 10 ms) and its shot noise + read noise 2 e⁻ +
DSNU 1 e⁻ + PRNU 1 % + row FPN 0.5 e⁻ + column FPN 1 e⁻ + full-well clip at 10000 e⁻ +
12-bit quantisation (K = 0.4 DN/e⁻, black 64 DN). Each tool runs through its own public
API doing the closest equivalent job; what a peer cannot do is printed next to its row.

Timing: warm (one untimed call first, so numba compilation/cache loading and fixed-pattern
maps are excluded; both are reported separately), median of ``--repeats`` calls.

    /work/venv/bin/python benchmarks/bench_sensor_noise.py                  # all tools
    /work/venv/bin/python benchmarks/bench_sensor_noise.py --repeats 5 --skip-pyxel
"""

from __future__ import annotations

import argparse
import copy
import datetime as _dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

H, W = 3000, 4000
EXPOSURE_S = 0.010
K_DN_PER_E = 0.4
BLACK_DN = 64


def load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def timed(fn, repeats: int, warmup: int = 1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts), max(ts)


def photo_image() -> np.ndarray:
    """Mean photo-electrons [e⁻]: a horizontal gradient 5…20000 e⁻, a gentle vertical
    modulation and RGGB channel factors (R 0.6, G 1, B 0.5), clipped to 5…20000 e⁻."""
    x = np.linspace(0.0, 1.0, W, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None]
    base = 5.0 + (20000.0 - 5.0) * x * (0.85 + 0.15 * np.cos(np.float32(np.pi) * y))
    factor = np.ones((H, W), np.float32)
    factor[0::2, 0::2] = 0.6
    factor[1::2, 1::2] = 0.5
    return np.ascontiguousarray(np.clip(base * factor, 5.0, 20000.0), dtype=np.float32)


def camtwin_sensor():
    from camtwin.sensor import SensorSpec

    return SensorSpec(
        name="bench 12MP", width_px=W, height_px=H, pixel_pitch_um=1.4, cfa="RGGB",
        full_well_e=10000.0, conversion_gain_dn_per_e=K_DN_PER_E, read_noise_e=2.0,
        dark_current_e_per_s=50.0, dark_reference_c=25.0, dark_doubling_c=6.5,
        temperature_c=40.0, adc_bits=12, black_level_dn=BLACK_DN,
        noise={"shot": True, "read": True, "dsnu_offset_e": 1.0, "prnu_fraction": 0.01,
               "row_fpn_e": 0.5, "column_fpn_e": 1.0, "blooming": False,
               "fixed_pattern_seed": 1})


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("numpy", "numba", "scipy", "getframes", "pyxel"):
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "?")
        except Exception as exc:  # pragma: no cover - report, do not fail
            out[name] = f"not importable ({type(exc).__name__})"
    try:
        import numba

        out["numba threads"] = str(numba.get_num_threads())
        out["numba threading layer"] = numba.threading_layer()
    except Exception:  # pragma: no cover
        pass
    return out


# --------------------------------------------------------------------------------------
def bench_camtwin(photo, repeats, charge_hook=None):
    from camtwin.sensor import fixed_pattern as fp_mod
    from camtwin.sensor.pixels import simulate_pixels

    s = camtwin_sensor()
    dark_e = s.dark_current_at() * EXPOSURE_S
    t0 = time.perf_counter()
    fp = fp_mod.fixed_pattern(s)
    t_maps = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate_pixels(photo, dark_e, s, key=0)
    t_first = time.perf_counter() - t0
    keys = iter(range(1, 10**6))
    med, lo, hi = timed(lambda: simulate_pixels(photo, dark_e, s, key=next(keys), fixed=fp,
                                                charge_hook=charge_hook), repeats)
    dn = simulate_pixels(photo, dark_e, s, key=123)
    return (med, lo, hi), dn, {"fixed-pattern maps (once per sensor)": t_maps,
                               "first call (numba cache load or compile)": t_first}


def bench_reference(photo, repeats):
    from camtwin.sensor.pixels import simulate_pixels_reference

    s = camtwin_sensor()
    dark_e = s.dark_current_at() * EXPOSURE_S
    keys = iter(range(1, 10**6))
    res = timed(lambda: simulate_pixels_reference(photo, dark_e, s, key=next(keys)), repeats)
    return res, simulate_pixels_reference(photo, dark_e, s, key=123)


def bench_getframes(photo, repeats):
    import getframes as gf

    cfg = gf.CameraConfig(
        name="bench 12MP", sensor_type="CMOS", resolution=(H, W), pixel_size_um=1.4,
        quantum_efficiency=1.0, full_well_e=10000.0, bit_depth=12,
        gain_e_per_adu=1.0 / K_DN_PER_E, bias_offset_adu=float(BLACK_DN), read_noise_e=2.0,
        dark_current_e_per_s=50.0, dark_current_ref_temp_c=25.0,
        dark_current_doubling_temp_c=6.5, prnu=0.01,
        bias_pixel_spread_adu=1.0 * K_DN_PER_E,          # DSNU 1 e⁻ as a fixed ADU texture
        bias_structure_amplitude_adu=1.0 * K_DN_PER_E,   # its fixed column structure
        fixed_pattern_seed=1)
    cam = gf.Camera(cfg, precision="single")
    rate = (photo / np.float32(EXPOSURE_S)).astype(np.float32)   # photons/s (QE = 1)
    ws = gf.DetectorWorkspace()
    out = np.empty((H, W), np.uint32)
    seeds = iter(range(1, 10**6))

    def run():
        return cam.expose(rate, EXPOSURE_S, temperature=40.0, seed=next(seeds),
                          include_truth=False, workspace=ws, out=out)

    res = timed(run, repeats)
    frame = cam.expose(rate, EXPOSURE_S, temperature=40.0, seed=123, include_truth=False)
    return res, np.asarray(frame.data)


PYXEL_YAML = """
exposure:
  readout:
    times: [{t}]
    non_destructive: false
  result_type: pixel
  pipeline_seed: 1
  working_directory: {wd}

cmos_detector:
  geometry:
    row: {h}
    col: {w}
    total_thickness: 10.0
    pixel_vert_size: 1.4
    pixel_horz_size: 1.4
  environment:
    temperature: 313.15
  characteristics:
    # pyxel's PRNU gain is QE·(1 + lognormal(σ = QE·factor)) ≈ 2·QE: QE 0.5 and factor 0.04
    # give a gain of mean 1 and std 1 %; the photon → e⁻ conversion gets QE 1 explicitly
    quantum_efficiency: 0.5
    charge_to_volt:
      value: 1.0e-6
    pre_amplification: 1.0
    full_well_capacity: 10000
    adc_bit_resolution: 12
    adc_voltage_range: [0.0, {vmax}]

pipeline:
  photon_collection:
    - name: load_image
      func: pyxel.models.photon_collection.load_image
      enabled: true
      arguments:
        image_file: {img}
        convert_to_photons: false
        time_scale: {t}
    - name: shot_noise
      func: pyxel.models.photon_collection.shot_noise
      enabled: true
      arguments:
        type: poisson
  charge_generation:
    - name: simple_conversion
      func: pyxel.models.charge_generation.simple_conversion
      enabled: true
      arguments:
        quantum_efficiency: 1.0
        binomial_sampling: false
    - name: simple_dark_current
      func: pyxel.models.charge_generation.simple_dark_current
      enabled: true
      arguments:
        dark_rate: {dark_rate}
  charge_collection:
    - name: simple_collection
      func: pyxel.models.charge_collection.simple_collection
      enabled: true
    - name: fixed_pattern_noise
      func: pyxel.models.charge_collection.fixed_pattern_noise
      enabled: true
      arguments:
        fixed_pattern_noise_factor: 0.04
        seed: 1
    - name: simple_full_well
      func: pyxel.models.charge_collection.simple_full_well
      enabled: true
  charge_measurement:
    - name: simple_measurement
      func: pyxel.models.charge_measurement.simple_measurement
      enabled: true
    - name: output_node_noise
      func: pyxel.models.charge_measurement.output_node_noise
      enabled: true
      arguments:
        std_deviation: 2.0e-6
    - name: dc_offset
      func: pyxel.models.charge_measurement.dc_offset
      enabled: true
      arguments:
        offset: {offset_v}
  readout_electronics:
    - name: simple_amplifier
      func: pyxel.models.readout_electronics.simple_amplifier
      enabled: true
    - name: simple_adc
      func: pyxel.models.readout_electronics.simple_adc
      enabled: true
      arguments:
        data_type: uint16
"""


def bench_pyxel(photo, repeats):
    import logging

    import pyxel

    logging.getLogger("pyxel").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "photons.npy"
        # photons per exposure; time_scale = exposure makes pyxel read them as a rate
        np.save(img, photo.astype(np.float64))
        vmax = 4096 / K_DN_PER_E * 1e-6      # 1 µV/e⁻ and 12 bits over vmax → 0.4 DN/e⁻
        dark_rate = 50.0 * 2 ** ((40.0 - 25.0) / 6.5)
        cfg_path = Path(tmp) / "bench.yaml"
        cfg_path.write_text(PYXEL_YAML.format(
            t=EXPOSURE_S, wd=tmp, h=H, w=W, vmax=vmax, img=img, dark_rate=dark_rate,
            offset_v=BLACK_DN / K_DN_PER_E * 1e-6))
        cfg = pyxel.load(cfg_path)
        # a detector keeps its charge between runs: every run gets a pristine copy, made
        # outside the timed region
        pristine = copy.deepcopy(cfg.detector)
        detectors = [copy.deepcopy(pristine) for _ in range(repeats + 2)]

        def run():
            det = detectors.pop()
            pyxel.run_mode(mode=cfg.running_mode, detector=det, pipeline=cfg.pipeline)
            return det

        res = timed(run, repeats)
        image = np.asarray(run().image.array)
    return res, image


def machine_limits(repeats):
    """Memory bandwidth (large numpy copy) and the raw throughput of camtwin's RNG kernel
    (hash + Box–Muller pair per pixel, one float32 written)."""
    from camtwin.sensor import _kernels as K

    a = np.ones(H * W * 4, np.float32)        # 192 MB, far beyond the caches
    b = np.empty_like(a)
    med, _, _ = timed(lambda: np.copyto(b, a), repeats)
    copy_gb_s = 2 * a.nbytes / med / 1e9
    out = np.empty((H, W), np.float32)
    seed = K.stream_seed(1, 0)
    med_rng, _, _ = timed(lambda: K.fill_normal(seed, np.float32(1), np.float32(0.5), out),
                          repeats)
    return copy_gb_s, H * W / med_rng / 1e6


def describe(name, dn, black=BLACK_DN, note=""):
    x = np.asarray(dn, np.float64)
    return (f"  {name:<34} mean {x.mean():8.1f} DN, min {x.min():6.0f}, max {x.max():6.0f}, "
            f"std of a 32×32 G patch {patch(x).std():6.1f} DN {note}")


def patch(x):
    """The 32×32 green (row-even, column-odd) pixels around the centre: ~10⁴ e⁻, nearly
    flat (std ≈ √(0.4²·10⁴ + …) ≈ 40 DN of shot noise plus the gradient)."""
    r, c = x.shape[0] // 2 & ~1, x.shape[1] // 2 & ~1
    return x[r:r + 64:2, c + 1:c + 65:2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--peer-repeats", type=int, default=3)
    ap.add_argument("--skip-getframes", action="store_true")
    ap.add_argument("--skip-pyxel", action="store_true")
    args = ap.parse_args(argv)

    print(f"# bench_sensor_noise — {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}")
    print(f"load average (1/5/15 min) at start: {load()}; nproc = {os.cpu_count()}")
    try:
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=False).stdout.strip()
    except OSError:  # pragma: no cover
        git = "?"
    print(f"git {git}; " + "; ".join(f"{k} {v}" for k, v in versions().items()))
    photo = photo_image()
    n_px = photo.size
    print(f"frame {W}x{H} RGGB, mean {photo.mean():.0f} e⁻, range "
          f"{photo.min():.0f}…{photo.max():.0f} e⁻\n")

    rows, notes, checks = [], {}, []
    (t_ct, lo, hi), dn_ct, extra = bench_camtwin(photo, args.repeats)
    rows.append(("camtwin simulate_pixels (numba, fused)", t_ct, lo, hi))
    checks.append(describe("camtwin", dn_ct))
    (t, lo, hi), _, _ = bench_camtwin(photo, args.repeats, charge_hook=lambda q: q)
    rows.append(("camtwin, split path (charge_hook given)", t, lo, hi))
    notes["camtwin, split path (charge_hook given)"] = ("generate_charge → collect_charge → "
                                                        "hook → read_out")
    import numba

    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        (t, lo, hi), _, _ = bench_camtwin(photo, args.repeats)
    finally:
        numba.set_num_threads(threads)
    rows.append(("camtwin simulate_pixels, 1 thread", t, lo, hi))
    low = np.ascontiguousarray(photo * np.float32(12.0 / 20000.0) + np.float32(0.5))
    (t_low, lo, hi), _, _ = bench_camtwin(low, args.repeats)
    rows.append(("camtwin, low light (means 0.5…12.5 e⁻)", t_low, lo, hi))
    notes["camtwin, low light (means 0.5…12.5 e⁻)"] = ("every pixel takes the exact Poisson "
                                                       "draw (exact_span)")
    (t_ref, lo, hi), dn_ref = bench_reference(photo, args.peer_repeats)
    rows.append(("camtwin simulate_pixels_reference (NumPy)", t_ref, lo, hi))
    checks.append(describe("camtwin NumPy reference", dn_ref))
    if not args.skip_getframes:
        try:
            (t, lo, hi), dn = bench_getframes(photo, args.peer_repeats)
            rows.append(("getframes Camera.expose (float32)", t, lo, hi))
            notes["getframes Camera.expose (float32)"] = "no row FPN; DSNU/col as ADU bias"
            checks.append(describe("getframes", dn))
        except Exception as exc:  # report precisely, invent nothing
            rows.append(("getframes", float("nan"), float("nan"), float("nan")))
            notes["getframes"] = f"failed: {type(exc).__name__}: {exc}"
    if not args.skip_pyxel:
        try:
            (t, lo, hi), dn = bench_pyxel(photo, args.peer_repeats)
            rows.append(("pyxel-sim run_mode (Exposure)", t, lo, hi))
            notes["pyxel-sim run_mode (Exposure)"] = "no DSNU offset, no row/col FPN"
            checks.append(describe("pyxel-sim", dn))
        except Exception as exc:
            rows.append(("pyxel-sim", float("nan"), float("nan"), float("nan")))
            notes["pyxel-sim"] = f"failed: {type(exc).__name__}: {exc}"
    copy_gb_s, rng_mpx = machine_limits(args.repeats)

    print("| tool | median s | min–max s | Mpixel/s | camtwin speed-up | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, t, lo, hi in rows:
        mpx = n_px / t / 1e6
        print(f"| {name} | {t:.4f} | {lo:.4f}–{hi:.4f} | {mpx:.1f} | {t / t_ct:.1f}× | "
              f"{notes.get(name, '')} |")
    print()
    for k, v in extra.items():
        print(f"camtwin {k}: {v:.3f} s")
    ct_mpx = n_px / t_ct / 1e6
    bytes_px = 4 + 4 + 4 + 2     # photo, PRNU gain, DSNU offset in; uint16 out
    print(f"memory bandwidth (numpy copy of 192 MB, read + write): {copy_gb_s:.1f} GB/s")
    print(f"camtwin traffic: {bytes_px} B/pixel → {ct_mpx * bytes_px / 1e3:.1f} GB/s "
          f"= {100 * ct_mpx * bytes_px / 1e3 / copy_gb_s:.0f} % of the copy bandwidth")
    print(f"RNG kernel alone (hash + Box–Muller pair per pixel): {rng_mpx:.0f} Mpixel/s; "
          f"the chain runs at {100 * ct_mpx / rng_mpx:.0f} % of it")
    print("\nsanity (the same job should give similar DN statistics):")
    print("\n".join(checks))
    print(f"\nload average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
