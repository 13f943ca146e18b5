"""EMVA 1288 campaign: camtwin vs the EMVA 1288 reference implementation (PyPI ``emva1288``).

The job: a 100-step exposure-time photon-transfer series (a bright and a dark pair per
step) plus L = 50 nonuniformity stacks (bright at 50 % saturation and dark), 640×480,
12 bit — the reference's default data set (``DatasetGenerator(steps=100, L=50)``).

Rows (one run, printed as a table):

1. reference simulator: ``emva1288.camera.dataset_generator.DatasetGenerator`` writes the
   data set (TIFF + descriptor) — timed once (≈ 2 minutes; ``--reference-dir`` reuses an
   earlier one and skips this row);
2. reference analysis from files: ``ParseEmvaDescriptorFile`` → ``LoadImageData`` →
   ``Data1288`` → ``Results1288`` (K, η, σ_d, μ_e.sat, SNR_max, DR, DSNU, PRNU);
3. camtwin analysis of the same files: ``load_reference_descriptor`` + ``analyse``;
4. camtwin end to end: ``simulate_measurement`` (the same campaign on a 640×480 12-bit
   SensorSpec, 516 frames incl. 8 dark-current pairs) + ``analyse``, in memory.

Timing: wall clock, after one untimed warm-up of camtwin's kernels on a small sensor
(numba compilation / cache loading are reported by bench_sensor_noise.py).

    /work/venv/bin/python benchmarks/bench_emva1288.py
    /work/venv/bin/python benchmarks/bench_emva1288.py --reference-dir /tmp/emva_ref
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

np.asfarray = getattr(np, "asfarray", lambda a, dtype=float: np.asarray(a, dtype=dtype))


def reference_simulate(outdir: Path) -> tuple[float, Path]:
    from emva1288.camera.dataset_generator import DatasetGenerator

    t0 = time.perf_counter()
    # TIFF: the generator saves 12-bit frames as PIL mode "I", which Pillow >= 10 no longer
    # writes as PNG (its default format)
    gen = DatasetGenerator(steps=100, L=50, width=640, height=480, bit_depth=12,
                           outdir=str(outdir), image_format="tif", seed=1)
    return time.perf_counter() - t0, Path(gen.descriptor_path)


def reference_analyse(descriptor: Path) -> tuple[float, dict]:
    from emva1288.process import Data1288, LoadImageData, ParseEmvaDescriptorFile, Results1288

    t0 = time.perf_counter()
    par = ParseEmvaDescriptorFile(str(descriptor), loglevel=logging.ERROR)
    imgs = LoadImageData(par.images, loglevel=logging.ERROR)
    dat = Data1288(imgs.data, loglevel=logging.ERROR)
    r = Results1288(dat.data, pixel_area=25.0, loglevel=logging.ERROR)
    out = {"K": r.K, "eta": r.QE / 100, "sigma_d": r.sigma_d, "u_e_sat": r.u_e_sat,
           "snr_max_db": r.SNR_max_dB(), "dr_db": r.DR_dB(), "dsnu": r.DSNU1288,
           "prnu": r.PRNU1288}
    return time.perf_counter() - t0, out


def camtwin_analyse(descriptor: Path) -> tuple[float, dict]:
    from camtwin.measure.emva1288 import analyse, load_reference_descriptor

    t0 = time.perf_counter()
    s = analyse(load_reference_descriptor(descriptor, pixel_area_um2=25.0)).summary
    out = {"K": s["system_gain_dn_per_e"], "eta": s["quantum_efficiency"],
           "sigma_d": s["temporal_dark_noise_e"], "u_e_sat": s["saturation_capacity_e"],
           "snr_max_db": s["snr_max_db"], "dr_db": s["dynamic_range_db_r31"],
           "dsnu": s["dsnu_e"], "prnu": s["prnu_percent"]}
    return time.perf_counter() - t0, out


def camtwin_end_to_end() -> tuple[float, dict, int]:
    from camtwin.measure.emva1288 import MeasurementSpec, analyse, simulate_measurement
    from camtwin.sensor import SensorSpec

    sensor = SensorSpec(name="bench-640x480", width_px=640, height_px=480, pixel_pitch_um=5.0,
                        cfa="mono", full_well_e=15000, conversion_gain_dn_per_e=0.25,
                        read_noise_e=3.2, adc_bits=12, black_level_dn=64,
                        dark_current_e_per_s=30.0,
                        noise=dict(prnu_fraction=0.01, dsnu_offset_e=2.0))
    spec = MeasurementSpec(n_steps=100, spatial_frames=50)
    simulate_measurement(sensor.replace(width_px=64, height_px=48), spec, seed=0)  # warm-up
    t0 = time.perf_counter()
    ds = simulate_measurement(sensor, spec, seed=1)
    s = analyse(ds).summary
    dt = time.perf_counter() - t0
    out = {"K": s["system_gain_dn_per_e"], "eta": s["quantum_efficiency"],
           "sigma_d": s["temporal_dark_noise_e"], "u_e_sat": s["saturation_capacity_e"],
           "snr_max_db": s["snr_max_db"], "dr_db": s["dynamic_range_db"], "dsnu": s["dsnu_e"],
           "prnu": s["prnu_percent"]}
    return dt, out, ds.extra["frames"]


def _f(v) -> str:
    return f"{'n/a':>12s}" if v is None or not np.isfinite(v) else f"{v:12.5g}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference-dir", type=Path, default=None,
                    help="folder of an existing reference data set (skips its simulation)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.reference_dir is not None and (args.reference_dir /
                                               "EMVA1288descriptor.txt").exists():
            desc = args.reference_dir / "EMVA1288descriptor.txt"
            rows.append(("reference simulator: write 100 steps, L=50, 640x480, 12 bit",
                         None, "skipped (--reference-dir)"))
        else:
            out = args.reference_dir or Path(tmp) / "ref"
            print("running the reference simulator (about 2 minutes)...", file=sys.stderr)
            t, desc = reference_simulate(out)
            rows.append(("reference simulator: write 100 steps, L=50, 640x480, 12 bit", t,
                         f"{len(list((out / 'images').iterdir()))} TIFF files"))
        t_ref, r_ref = reference_analyse(desc)
        rows.append(("reference analysis: load + process its files", t_ref, ""))
        t_ct, r_ct = camtwin_analyse(desc)
        rows.append(("camtwin analysis: load_reference_descriptor + analyse", t_ct,
                     f"{t_ref / t_ct:.1f}x faster"))
        t_e2e, r_e2e, frames = camtwin_end_to_end()
        rows.append(("camtwin end to end: simulate + analyse (in memory)", t_e2e,
                     f"{frames} frames"))
    print(f"\nEMVA 1288 campaign, 100 steps, L = 50, 640x480, 12 bit "
          f"({os.cpu_count()} CPUs, numpy {np.__version__})")
    print(f"{'job':62s} {'seconds':>8s}  note")
    for name, t, note in rows:
        print(f"{name:62s} {('%8.2f' % t) if t is not None else '       -'}  {note}")
    print("\nsame files, both analyses (reference's DR is R3.1; camtwin's R3.1 DR shown):")
    print(f"{'':10s}" + "".join(f"{k:>12s}" for k in r_ref))
    print(f"{'reference':10s}" + "".join(_f(v) for v in r_ref.values()))
    print(f"{'camtwin':10s}" + "".join(_f(v) for v in r_ct.values()))
    print(f"{'e2e twin':10s}" + "".join(_f(v) for v in r_e2e.values())
          + "   (camtwin's own 640x480 sensor: K 0.25, eta(525) model, sigma 3.2 e-)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
