"""Seed claim: global-shutter CMOS replaces CCD and rolling-shutter parts for moving scenes.

One module with three shutters — rolling (CMOS), global (CMOS, storage node with PLS) and a
frame-transfer CCD (1 ms transfer) — captures a vertical edge moving across the view and a
small bright spot. Measured for each: skew of the edge over the frame height (rolling
shutter: v·t_line per row; measured with the CCD's transfer smear switched off, since the
smear of the bright half of the edge target biases the edge fit), and the column streak
above the bright spot relative to the spot (CCD frame-transfer smear: analytic
(h_spot·t_tr/H)/T). Prints a table and writes ``shutters.png``.

Public API only: :func:`camtwin.load_module`, :func:`camtwin.crop_module`,
:func:`camtwin.evaluate.measure`, :func:`camtwin.evaluate.image_speed_px_s`,
:class:`camtwin.optics.OpticalImage`, :func:`camtwin.sensor.capture`.

    python examples/shutters_on_a_moving_target.py [--speed-m-s 1] [--distance-m 0.5]
        [--crop W,H]
"""

from __future__ import annotations

import argparse

import numpy as np

import camtwin
from camtwin.crop import parse_crop
from camtwin.evaluate import image_speed_px_s, measure
from camtwin.optics import OpticalImage
from camtwin.sensor import capture

SHUTTERS = {
    "rolling CMOS": {"type": "rolling"},
    "global CMOS": {"type": "global", "pls": 2e-4},
    "CCD": {"type": "ccd", "transfer_time_s": 1e-3},
}


def streak_fraction(module, seed: int) -> float:
    """Column streak / spot signal for an 8×8 px spot at 1 ms (a lamp in the scene), spot
    at ~40 % of full well so it does not clip."""
    crop = camtwin.crop_module(module, 128, 128)
    s = crop.sensor
    h, w = s.height_px, s.width_px
    wl = np.array([540.0, 550.0, 560.0])
    irr = np.zeros((3, h, w), np.float32)
    irr[:, 60:68, 60:68] = 0.02
    oi = OpticalImage(irradiance=irr, wavelengths_nm=wl, sample_pitch_um=s.pixel_pitch_um,
                      lens=crop.lens)
    raw = capture(oi, s, 1e-3, seed)
    e = (raw.dn.astype(float) - raw.black_level_dn) / raw.conversion_gain_dn_per_e
    spot = e[62:66, 62:66].mean()
    above = e[5:50, 61:67].mean() - e[5:50, 90:120].mean()
    return above / spot


def main(argv: list[str] | None = None) -> list[tuple]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", default="default",
                    help="Module: built-in name, catalog:NAME or YAML file.")
    ap.add_argument("--speed-m-s", type=float, default=1.0)
    ap.add_argument("--distance-m", type=float, default=0.5)
    ap.add_argument("--out", default="shutters.png")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--crop", default=None,
                    help="Centre crop W,H [px] of the sensor (quick runs; fewer rows, less skew).")
    args = ap.parse_args(argv)

    base = camtwin.load_module(args.module)
    if args.crop:
        base = camtwin.crop_module(base, *parse_crop(args.crop))
    v = image_speed_px_s(base, args.speed_m_s, args.distance_m)
    print(f"target at {args.speed_m_s} m/s, {args.distance_m} m → {v:.0f} px/s on the sensor "
          f"({base.sensor.height_px} rows, line time {base.sensor.shutter.line_time_s * 1e6:.0f} µs)")
    rows = []
    for name, sh in SHUTTERS.items():
        m = base.replace(name=name, sensor={"shutter": sh, "noise": {"column_fpn_e": 0.0,
                                                                     "row_noise_e": 0.0}})
        timing_only = m.replace(sensor={"shutter": {"transfer_time_s": 0.0}})
        skew = measure(timing_only, "motion_skew_px", {"object_speed_m_s": args.speed_m_s,
                                                       "object_distance_m": args.distance_m},
                       rng=args.seed)
        rows_crop = camtwin.crop_module(m, 128, 128).sensor.height_px  # streak_fraction's crop
        smear = ((8 * sh["transfer_time_s"] / rows_crop) / 1e-3) if sh["type"] == "ccd" else 0.0
        rows.append((name, skew.value, skew.details["analytic_px"],
                     streak_fraction(m, args.seed), smear))
    print(f"{'shutter':<14}{'skew [px]':>11}{'analytic':>10}{'streak/spot':>13}{'analytic':>10}")
    for name, sk, an, st, sa in rows:
        print(f"{name:<14}{sk:>11.2f}{an:>10.2f}{st:>13.2e}{sa:>10.2e}")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.4), dpi=110, layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    names = [r[0] for r in rows]
    ax1.bar(names, [r[1] for r in rows], color=["tab:red", "tab:green", "tab:blue"])
    ax1.set(ylabel="skew over frame height [px]", title=f"moving edge, {v:.0f} px/s")
    ax2.bar(names, [max(abs(r[3]), 1e-7) for r in rows], color=["tab:red", "tab:green", "tab:blue"])
    ax2.set(yscale="log", ylabel="streak / spot signal", title="bright spot: smear / PLS")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, axis="y")
        ax.tick_params(axis="x", labelsize=8)
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return rows


if __name__ == "__main__":
    main()
