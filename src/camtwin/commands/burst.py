"""``camtwin burst`` (multi-frame night mode) and ``camtwin autofocus``."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from ..parts import MODULE_HELP
from . import seed_option


def register(app, guard, fail, console) -> None:
    @app.command()
    def burst(
        module: str = typer.Option("default", help=MODULE_HELP),
        scene: str = typer.Option("burst_target", help="burst_target (dead leaves + flat grey), "
                                  "a chart name, or an RGB image path."),
        lux: float = typer.Option(1.0, help="Illuminance on the scene [lx]."),
        frames: int = typer.Option(8, help="Burst length N (>= 2)."),
        out: Path = typer.Option(..., help="Rendered merge (.png, .tif, .tiff)."),
        exposure_ms: Optional[float] = typer.Option(None, help="Exposure per frame [ms]; "
                                                    "default: auto, at most 100 ms."),
        shift_px: float = typer.Option(8.0, help="Handheld shake: largest shift [px]."),
        rotation_deg: float = typer.Option(0.2, help="Handheld shake: largest roll [°]."),
        shake: Optional[str] = typer.Option(None, "--shake", help="Shake model instead of "
                                            "--shift-px/--rotation-deg: tripod, handheld, "
                                            "walking or vehicle (poses and in-exposure blur "
                                            "from one seeded trajectory, frames every "
                                            "max(1/30 s, exposure))."),
        crop: int = typer.Option(256, help="Simulate a centred crop of this many pixels."),
        seed: int = seed_option("Seed of poses and noise."),
        json_out: bool = typer.Option(False, "--json", help="Print the measurements as JSON."),
    ):
        """Simulate a handheld raw burst, align and merge it (HDR+ style), and report the
        SNR of one frame against the merge on a flat region."""
        guard(_burst, module, scene, lux, frames, out, exposure_ms, shift_px, rotation_deg,
              crop, seed, json_out, console, shake=shake)

    @app.command()
    def autofocus(
        module: str = typer.Option("default", help=MODULE_HELP),
        scene: str = typer.Option("siemens_star", help="Chart name or RGB image path."),
        distance_m: float = typer.Option(0.5, help="Distance of the target [m]."),
        lux: float = typer.Option(100.0, help="Illuminance on the target [lx]."),
        method: str = typer.Option("hybrid", help="contrast, pdaf or hybrid."),
        measure: str = typer.Option("tenengrad", help="Focus measure of contrast AF."),
        start_um: float = typer.Option(0.0, help="Initial lens position [µm from infinity]."),
        crop: int = typer.Option(128, help="AF window: a centred crop of this many pixels."),
        seed: int = seed_option("Seed of the noise."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ):
        """Simulate an autofocus run (VCM + frames) and report the final focus error."""
        guard(_autofocus, module, scene, distance_m, lux, method, measure, start_um, crop,
              seed, json_out, console)


def _check_suffix(path: Path, valid, option: str) -> None:
    if path.suffix.lower() not in valid:
        raise ConfigError(f"{option} = {str(path)!r}: extension must be one of {', '.join(valid)}")


def _shake_margin_px(shake: str, mod) -> int:
    """Margin [px] around a burst's optical image for the ``shake`` poses: 4 σ of the image
    displacement, σ = (f/p)·θ_rms with θ_rms² = ∫ S_θ df of the yaw PSD (the stationary
    angle spread, an upper bound over a burst of any length), plus the roll at the corner.
    Content beyond it is mirrored (:func:`camtwin.burst.simulate.warp_optical_image`)."""
    import numpy as np

    from ..motion.shake import shake_spec

    spec = shake_spec(shake)
    f = np.linspace(0.0, 500.0, 50001)
    theta = float(np.sqrt(np.trapezoid(spec.angle_psd(f, "yaw"), f)))
    roll = float(np.sqrt(np.trapezoid(spec.angle_psd(f, "roll"), f)))
    k = mod.lens.focal_length_mm * 1e3 / mod.sensor.pixel_pitch_um
    half = 0.5 * math.hypot(mod.sensor.width_px, mod.sensor.height_px)
    return int(math.ceil(4.0 * (k * theta + roll * half))) + 8


def _burst(module, scene, lux, n_frames, out, exposure_ms, shift_px, rotation_deg, crop, seed,
           json_out, console, shake=None):
    import numpy as np

    from .._io import check_outputs
    from ..burst import (HandheldMotion, burst_optical_image, burst_target, merge_burst,
                         simulate_burst)
    from ..burst.quality import flat_box, region_noise
    from ..camera import render
    from ..evaluate.metrics import crop_module
    from ..isp import write_image
    from ..module import load_module
    from ..sensor import auto_exposure_s

    if not (math.isfinite(lux) and lux > 0):
        raise ConfigError(f"--lux = {lux}: must be > 0")
    if n_frames < 2:
        raise ConfigError(f"--frames = {n_frames}: a burst needs at least 2 frames")
    if n_frames > 64:
        raise ConfigError(f"--frames = {n_frames}: valid range is 2..64")
    if exposure_ms is not None and not (exposure_ms > 0 and math.isfinite(exposure_ms)):
        raise ConfigError(f"--exposure-ms = {exposure_ms}: must be a finite number > 0")
    if not 64 <= crop <= 4096:
        raise ConfigError(f"--crop = {crop}: valid range is 64..4096")
    _check_suffix(out, (".png", ".tif", ".tiff"), "--out")
    check_outputs({"--module": module, "--scene": scene}, {"--out": out})
    from ..motion.capture import shake_option

    shake = shake_option(shake)
    motion = HandheldMotion(shift_px=shift_px, rotation_deg=rotation_deg)
    t0 = time.perf_counter()
    mod = crop_module(load_module(module), crop)
    margin = int(math.ceil(shift_px + 0.01 * math.radians(rotation_deg) * crop)) + 8
    if shake is not None:
        margin = _shake_margin_px(shake, mod)
    if scene == "burst_target":
        sc = burst_target(mod, illuminance_lux=lux, seed=seed, margin_px=margin)
        oi = burst_optical_image(mod, sc, illuminance_lux=lux, margin_px=margin)
    else:
        oi = burst_optical_image(mod, scene, illuminance_lux=lux, margin_px=margin)
    exposure_s = (exposure_ms / 1e3 if exposure_ms is not None
                  else auto_exposure_s(oi, mod.sensor, max_exposure_s=0.1))
    if shake is not None:
        motion = HandheldMotion(shake=shake, frame_interval_s=max(1 / 30, exposure_s))
    b = simulate_burst(mod, oi, n_frames, exposure_s, seed, motion=motion)
    t_sim = time.perf_counter() - t0
    t1 = time.perf_counter()
    merged = merge_burst(b.frames)
    t_merge = time.perf_counter() - t1
    f0 = b.frames[0]
    box = flat_box(f0)
    single = region_noise(f0.dn.astype(np.float32), f0, box)
    mstat = region_noise(merged.mosaic_dn, f0, box)
    write_image(out, render(mod, merged.to_raw()))
    gain = single["std_e"] / mstat["std_e"]
    summary = {
        "module": mod.name, "scene": scene, "lux": lux, "frames": n_frames,
        "exposure_ms": exposure_s * 1e3, "shift_px": shift_px, "rotation_deg": rotation_deg,
        "crop_px": [mod.sensor.width_px, mod.sensor.height_px], "flat_box": list(box),
        "single": single, "merged": mstat, "noise_reduction": gain,
        "snr_gain": mstat["snr"] / single["snr"], "sqrt_n": math.sqrt(n_frames),
        "snr_gain_percent": 100 * (mstat["snr"] / single["snr"] - 1),
        "mean_merge_weight": [float(v) for v in merged.mean_weight],
        "simulate_s": t_sim, "align_merge_s": t_merge, "image": str(out),
    }
    if shake is not None:
        summary.pop("shift_px")
        summary.pop("rotation_deg")
        summary["shake"] = {
            "shake": shake, "frame_interval_s": motion.frame_interval_s,
            "pose_range_px": [float(np.ptp(b.poses[:, 1])), float(np.ptp(b.poses[:, 2]))],
            "pose_range_deg": float(np.degrees(np.ptp(b.poses[:, 0]))), "margin_px": margin,
            "source": "this burst's seeded shake trajectory (camtwin.motion.shake): peak-to-"
                      "peak over frames of each frame's motion centroid (rows, cols) and roll"}
    if json_out:
        print(json.dumps(summary, indent=2))
    else:
        console.print(f"wrote [bold]{out}[/]: {n_frames} frames × {exposure_s * 1e3:.3g} ms at "
                      f"{lux:g} lx — SNR single {single['snr']:.2f}, merged {mstat['snr']:.2f} "
                      f"(×{summary['snr_gain']:.2f}, √N = {math.sqrt(n_frames):.2f}; "
                      f"+{summary['snr_gain_percent']:.0f} %)")


def _autofocus(module, scene, distance_m, lux, method, measure, start_um, crop, seed,
               json_out, console):
    from ..focus import run_autofocus
    from ..module import load_module

    for option, value in (("--lux", lux), ("--distance-m", distance_m)):
        if not (value > 0 and math.isfinite(value)):
            raise ConfigError(f"{option} = {value}: must be a finite number > 0")
    if not math.isfinite(start_um):
        raise ConfigError(f"--start-um = {start_um}: must be a finite number")
    res = run_autofocus(load_module(module), scene, distance_m=distance_m, illuminance_lux=lux,
                        method=method, measure=measure, start_um=start_um, crop_px=crop,
                        rng=seed)
    summary = res.as_dict()
    if json_out:
        print(json.dumps(summary, indent=2))
    else:
        console.print(f"{method} AF at {distance_m:g} m, {lux:g} lx: focus error "
                      f"{summary['focus_error_um']:+.2f} µm ({summary['focus_error_dof']:.2f} DOF), "
                      f"{summary['frames']} frames, {summary['lens_moves']} moves, "
                      f"{summary['time_to_focus_ms']:.0f} ms")
