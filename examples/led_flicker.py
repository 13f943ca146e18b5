"""LED flicker: a 90 Hz, 10 % duty PWM sign seen by a rolling shutter at 1 ms and 11 ms.

An amber LED sign (:func:`camtwin.scene.lights.led_sign`, 90 Hz PWM at 10 % duty — the hard
IEEE P2020 case) sits in a grey scene. The module captures it at N random phases (row 0's
start uniform over one PWM period) with a short (1 ms) and a long (11 ms) exposure. For each
the fraction of captures in which the sign's centre row collects any light of the sign is
compared with the analytic probability min(1, D + T·f) (a window of length T meets a pulse
of duty D at frequency f unless it starts in the last (1 − D)/f − T of the off time); the
long exposure sees the sign every time. Writes ``led_flicker.png`` with a strip of frames
of each exposure. The optics run once (:func:`camtwin.scene.lights.lit_images`); each phase
is only a sensor capture.

    python examples/led_flicker.py [--phases 200] [--crop 256,192] [--out led_flicker.png]
"""

from __future__ import annotations

import argparse

import numpy as np

import camtwin
from camtwin.crop import parse_crop
from camtwin.scene import PWM, add_lights, capture_lit, led_sign, lit_images


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", default="default")
    ap.add_argument("--phases", type=int, default=200)
    ap.add_argument("--crop", default="256,192", help="Centre crop W,H [px] of the sensor.")
    ap.add_argument("--out", default="led_flicker.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    module = camtwin.load_module(args.module)
    if args.crop:
        module = camtwin.crop_module(module, *parse_crop(args.crop))
    f, duty = 90.0, 0.1
    lit = add_lights(camtwin.module_scene(module, "uniform", illuminance_lux=100.0),
                     [led_sign((0.35, 0.65, 0.25, 0.75), waveform=PWM(f, duty),
                               luminance_cd_m2=250.0)])  # below full well at 11 ms
    images = lit_images(module, lit)
    steady_only = add_lights(lit.scene, [])
    rng = np.random.default_rng(args.seed)
    y0, y1, x0, x1 = (0.35, 0.65, 0.25, 0.75)
    h, w = module.sensor.height_px, module.sensor.width_px
    row = int((y0 + y1) / 2 * h)
    cols = slice(int(x0 * w) + 4, int(x1 * w) - 4)
    result, strips = {}, {}
    for t_exp in (1e-3, 11e-3):
        background = capture_lit(module, steady_only, exposure_s=t_exp, rng=1,
                                 images=(images[0], [])).mean_electrons[row, cols].mean()
        seen, frames = 0, []
        starts = rng.uniform(0.0, 1.0 / f, args.phases)
        for k, start in enumerate(starts):
            raw = capture_lit(module, lit, exposure_s=t_exp, rng=rng, start_s=float(start),
                              images=images)
            light = raw.mean_electrons[row, cols].mean() - background
            seen += light > 1e-6 * background
            if k < 6:
                frames.append((raw.dn.astype(np.float32) - raw.black_level_dn)
                              / (raw.white_level_dn - raw.black_level_dn))
        p = min(1.0, duty + t_exp * f)
        n = args.phases
        result[t_exp] = (seen / n, p)
        strips[t_exp] = np.concatenate(frames, axis=1)
        print(f"T = {t_exp * 1e3:4.1f} ms: sign seen in {seen}/{n} captures = {seen / n:.3f}; "
              f"analytic min(1, D + T·f) = {p:.3f} (binomial σ {np.sqrt(p * (1 - p) / n):.3f})")

    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5), dpi=100, layout="constrained")
    axes = fig.subplots(2, 1)
    for ax, (t_exp, strip) in zip(axes, strips.items()):
        ax.imshow(np.clip(strip, 0, 1) ** (1 / 2.2), cmap="gray", vmin=0, vmax=1)
        seen, p = result[t_exp]
        ax.set_title(f"{t_exp * 1e3:.0f} ms exposure, 6 random phases (raw mosaic): sign seen "
                     f"{seen:.2f} of captures, analytic {p:.2f}")
        ax.axis("off")
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return {"seen_1ms": result[1e-3][0], "analytic_1ms": result[1e-3][1],
            "seen_11ms": result[11e-3][0], "analytic_11ms": result[11e-3][1]}


if __name__ == "__main__":
    main()
