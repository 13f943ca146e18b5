"""``camtwin demo``: a ColorChecker and a slanted edge at three light levels.

For each chart the scene and optical image are computed once at the reference level and
scaled to each light level (exact: the camera equation and the OTF are linear in radiance,
see :meth:`OpticalImage.scaled_to_illuminance`); every capture has its own noise draw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ._io import write_json_atomic
from .camera import Shot, ccm_from_capture, expose, module_scene, render
from .isp import write_image
from .measure.summary import shot_summary
from .module import load_module
from .optics import form_image
from .raw import save_raw
from .report import plot_contact_sheet, plot_qe, plot_snr_vs_lux

DEMO_SCENES = ("colorchecker", "slanted_edge")
DEMO_LUX = (1000.0, 10.0, 1.0)


def run_demo(out: str | Path, *, module: str = "default", seed: int = 0,
             progress: Callable[[str], None] = lambda msg: None) -> dict:
    """Run the demo, write ``<scene>_<lux>lux.png`` / ``.dng``, the figures ``qe.png``,
    ``snr_vs_lux.png`` and ``contact_sheet.png``, and ``summary.json`` into ``out``.

    Returns the summary dict (also written to ``summary.json``).
    """
    out = Path(out)
    mod = load_module(module)
    seeds = np.random.SeedSequence(seed).spawn(len(DEMO_SCENES) * len(DEMO_LUX) + 1)
    ois = {}
    for name in DEMO_SCENES:
        progress(f"optics: {name}")
        ois[name] = form_image(module_scene(mod, name, illuminance_lux=DEMO_LUX[0]), mod.lens)
    progress("fitting the CCM on a ColorChecker capture")
    ccm = None
    if mod.sensor.cfa != "mono" and mod.isp.ccm == "fitted":
        calib_oi = ois["colorchecker"].scaled_to_illuminance(500.0)
        ccm = ccm_from_capture(mod, expose(mod, calib_oi, exposure_s=None,
                                           rng=np.random.default_rng(seeds[-1])))
    images, thumbs = [], []
    k = 0
    for name in DEMO_SCENES:
        for lux in DEMO_LUX:
            progress(f"{name} at {lux:g} lx")
            oi = ois[name].scaled_to_illuminance(lux)
            raw = expose(mod, oi, exposure_s=None, rng=np.random.default_rng(seeds[k]))
            k += 1
            shot = Shot(oi, raw, render(mod, raw, ccm=ccm))
            stem = f"{name}_{lux:g}lux"
            write_image(out / f"{stem}.png", shot.rendered)
            save_raw(out / f"{stem}.dng", raw)
            images.append(shot_summary(shot, image=f"{stem}.png", raw=f"{stem}.dng"))
            thumbs.append((f"{name} {lux:g} lx", shot.rendered.srgb[::2, ::2]))
    progress("figures")
    plot_qe(mod, out / "qe.png")
    plot_snr_vs_lux(images, out / "snr_vs_lux.png", title=f"{mod.name}: mid-grey SNR")
    plot_contact_sheet(thumbs, out / "contact_sheet.png")
    summary = {"module": mod.name, "description": mod.description, "seed": seed,
               "figures": ["qe.png", "snr_vs_lux.png", "contact_sheet.png"], "images": images}
    write_json_atomic(out / "summary.json", summary)
    progress("done")
    return summary
