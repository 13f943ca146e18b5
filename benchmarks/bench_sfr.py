"""e-SFR speed: camtwin.measure.sfr.esfr vs quickMTF on a 120 × 240 px slanted-edge ROI.

The ROI is camtwin's own rendering of a 5° slanted edge through a diffraction-limited f/2.8
lens onto 1.4 µm pixels (noise free), 120 px across the edge and 240 rows. Both
implementations run on the same array in the same process; the table gives the median and
best wall time of ``--repeats`` calls after one warm-up call, and the MTF50 each reports.

    /work/venv/bin/python benchmarks/bench_sfr.py --repeats 50
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def render_roi() -> np.ndarray:
    from camtwin.camera import module_scene
    from camtwin.module import ModuleSpec
    from camtwin.optics import form_image
    from camtwin.sensor.capture import electron_rate

    mod = ModuleSpec(sensor=dict(width_px=160, height_px=260, pixel_pitch_um=1.4,
                                 full_well_e=1e6, conversion_gain_dn_per_e=0.01,
                                 read_noise_e=0.0, illumination="bsi", cfa="mono",
                                 pixel={"crosstalk_fraction": 0.0}),
                     lens=dict(focal_length_mm=4.0, f_number=2.8, ir_cut=None))
    sc = module_scene(mod, "slanted_edge", oversample=4,
                      wavelengths_nm=np.array([540.0, 550.0, 560.0]))
    img = electron_rate(form_image(sc, mod.lens), mod.sensor)
    return np.ascontiguousarray(img[10:250, 20:140], dtype=np.float64)  # 240 rows × 120 cols


def time_it(fn, repeats: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    from camtwin.measure.sfr import esfr, mtf50

    roi = render_roi()
    rows = []
    t = time_it(lambda: esfr(roi), args.repeats)
    rows.append(("camtwin esfr (ISO 12233:2017)", t, esfr(roi).mtf50_cy_px))
    try:
        from quickMTF.SFR_MTF import sfr_mtfcal

        def q():
            return sfr_mtfcal().calc_sfr(roi, oversampling=4)

        m, _ = q()
        f = m[:, 0]
        rows.append(("quickMTF 2023.3.3 calc_sfr", time_it(q, args.repeats),
                     mtf50(f, m[:, 1] / np.sinc(2 * f / 4))))
    except ImportError:
        print("quickMTF not installed (pip install quickMTF): independent row skipped")
    print(f"ROI {roi.shape[1]} × {roi.shape[0]} px (across × along the edge), "
          f"{args.repeats} repeats")
    print(f"{'implementation':32s} {'median ms':>10s} {'best ms':>9s} {'MTF50 cy/px':>12s}")
    for name, ts, m50 in rows:
        print(f"{name:32s} {1e3 * statistics.median(ts):10.2f} {1e3 * min(ts):9.2f} {m50:12.4f}")


if __name__ == "__main__":
    main()
