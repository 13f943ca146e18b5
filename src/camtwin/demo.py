"""``camtwin demo``: a ColorChecker and a slanted edge at three light levels.

For each chart the scene and optical image are computed once at the reference level and
scaled to each light level (exact: the camera equation and the OTF are linear in radiance,
see :meth:`ChannelImage.scaled_to_illuminance`); every capture has its own noise draw. The
optics take the streamed path (:mod:`camtwin.optics.stream`) and the job is checked against
the memory budget before anything is built (:mod:`camtwin.memory`).

A run is all or nothing: every file goes into a hidden staging folder next to the output
(``.<out>.<host>-<namespace>-<pid>.<random>.partial``), which becomes the output folder
(one rename) only when the whole run has succeeded — or, if the output folder already
exists, whose files then replace their namesakes in it (other files there are left alone).
A run that fails or is interrupted removes its staging folder and leaves the output folder
as it was; one that is killed (no cleanup runs) leaves it, named after its host and
process, and the next run into the same place removes it (:func:`camtwin._io.sweep_stale`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from ._io import sweep_stale, temp_prefix, write_json_atomic
from .errors import ConfigError, OutputError
from .camera import (Shot, calibration_module, ccm_from_capture, expose, form_module_image,
                     module_ccm, module_scene, render)
from .crop import SensorWindow, window_module
from .isp import write_image
from .measure.summary import shot_summary
from .module import load_module
from .raw import save_raw
from .raw.dng import DNG_CFAS
from .report import plot_contact_sheet, plot_qe, plot_snr_vs_lux
from .report.figures import thumbnail

DEMO_SCENES = ("colorchecker", "slanted_edge")
DEMO_LUX = (1000.0, 10.0, 1.0)


def run_demo(out: str | Path, *, module: str = "default", seed: int = 0,
             progress: Callable[[str], None] = lambda msg: None, crop=None,
             window: tuple[int, int, int, int] | None = None, timer=None) -> dict:
    """Run the demo, write ``<scene>_<lux>lux.png`` / ``.dng`` (``.tif`` for a CFA a DNG
    cannot describe: Quad Bayer, RGB-IR), the figures ``qe.png``, ``snr_vs_lux.png`` and
    ``contact_sheet.png``, and ``summary.json`` into ``out``.

    ``crop`` (W, H) shoots a centre crop of the sensor, ``window`` (X, Y, W, H) a window at
    its true field position (:mod:`camtwin.crop`). ``timer`` (a
    :class:`camtwin.progress.StageTimer`) records the seconds of each stage.

    All or nothing (module docstring): a failed or interrupted run leaves ``out`` as it
    was and no staging folder behind.

    Returns the summary dict (also written to ``summary.json``).
    """
    from contextlib import nullcontext

    from .crop import crop_module
    from .memory import check_capture

    def stage(name):
        return timer.stage(name) if timer is not None else nullcontext()

    out = Path(out)
    full = load_module(module) if isinstance(module, str) else module
    win: SensorWindow | None = None
    mod = full
    if crop is not None:
        mod = full = crop_module(full, *crop)
    elif window is not None:
        mod, win = window_module(full, *window)
    n_shots = len(DEMO_SCENES) * len(DEMO_LUX)
    # each chart's channel image is kept (2 of them) while its frames are shot; a window's
    # charts are built for the full sensor, one after the other — the heap keeps the
    # ColorChecker's freed bytes (too small for the slanted edge's weights; memory.
    # tune_allocator), so both count: 1.19 GiB peak for a 640 × 480 window of the 200 MP
    # module, the ColorChecker's 0.19 and the slanted edge's 0.75 GiB included
    extra, hint = 0, None
    if win is not None:
        from .camera import scene_extent
        from .memory import scene_bytes_per_sample, scene_kind

        rows, cols = scene_extent(full)[0]
        extra = rows * cols * sum(scene_bytes_per_sample(scene_kind(n)) for n in DEMO_SCENES)
        hint = (f"a window's charts are built for the full {full.sensor.width_px} × "
                f"{full.sensor.height_px} sensor: use --crop W,H, or raise --max-memory")
    check_capture(mod, frames=n_shots + len(DEMO_SCENES) * 2, extra_bytes=extra, hint=hint,
                  what=f"demo with {mod.name} ({mod.sensor.width_px} × {mod.sensor.height_px} "
                       f"px, {n_shots} frames)")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out = {str(out)!r} is a file; the demo writes a folder")
    stage_dir = _staging_folder(out)
    try:
        summary = _run(stage_dir, full, mod, win, seed, progress, stage)
        _commit(stage_dir, out)
    except OutputError as exc:  # name the output folder, not the hidden staging folder
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise OutputError(str(exc).replace(str(stage_dir), str(out))) from None
    except BaseException:
        shutil.rmtree(stage_dir, ignore_errors=True)
        raise
    progress("done")
    return summary


def _staging_folder(out: Path) -> Path:
    """A new empty folder next to ``out`` (same file system, so it can be renamed)."""
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        sweep_stale(parent)         # (what a killed run left: camtwin._io.sweep_stale)
        d = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name), suffix=".partial",
                                  dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write {out}: cannot create a folder in {parent} "
                          f"({exc.strerror or exc})") from None
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(d, 0o777 & ~mask)            # mkdtemp makes it 0700; the usual permissions
    return d


def _commit(stage_dir: Path, out: Path) -> None:
    """Make the staged files the output: rename the folder, or move its files into an
    existing output folder (each replacing its namesake)."""
    try:
        if not out.exists():
            os.rename(stage_dir, out)
            return
        for f in sorted(stage_dir.iterdir()):
            os.replace(f, out / f.name)
        stage_dir.rmdir()
    except OSError as exc:
        raise OutputError(f"cannot write {out}: {exc.strerror or exc}") from None


def _run(out: Path, full, mod, win, seed, progress, stage) -> dict:
    """The demo proper, writing into ``out`` (the staging folder)."""
    seeds = np.random.SeedSequence(seed).spawn(len(DEMO_SCENES) * len(DEMO_LUX) + 1)
    ois = {}
    for name in DEMO_SCENES:
        progress(f"optics: {name}")
        with stage(f"optics: {name}"):
            sc = module_scene(full, name, illuminance_lux=DEMO_LUX[0])
            ois[name] = form_module_image(full, sc, window=win)
            del sc          # (before the next chart's: one scene of the full sensor at once)
    progress("fitting the CCM on a ColorChecker capture")
    ccm = None
    with stage("colour matrix"):
        if mod.sensor.cfa != "mono" and mod.isp.ccm == "fitted":
            if calibration_module(mod) is mod and win is None:
                calib_oi = ois["colorchecker"].scaled_to_illuminance(500.0)
                ccm = ccm_from_capture(mod, expose(mod, calib_oi, exposure_s=None,
                                                   rng=np.random.default_rng(seeds[-1])))
            else:  # a window has no whole chart; a big sensor is fitted on a crop
                ccm = module_ccm(calibration_module(mod if win is None else full))
    images, thumbs = [], []
    k = 0
    # DNG where its CFA tags can say the layout (camtwin.raw.dng.DNG_CFAS); a Quad Bayer or
    # RGB-IR mosaic as a TIFF with all of camtwin's metadata (camtwin.raw.save_raw)
    raw_ext = ".dng" if mod.sensor.cfa in DNG_CFAS else ".tif"
    for name in DEMO_SCENES:
        for lux in DEMO_LUX:
            progress(f"{name} at {lux:g} lx")
            with stage("captures"):
                oi = ois[name].scaled_to_illuminance(lux)
                raw = expose(mod, oi, exposure_s=None, rng=np.random.default_rng(seeds[k]))
                k += 1
                shot = Shot(None, raw, render(mod, raw, ccm=ccm), lens=mod.lens,
                            channel_image=oi)
            with stage("write"):
                stem = f"{name}_{lux:g}lux"
                write_image(out / f"{stem}.png", shot.rendered)
                save_raw(out / f"{stem}{raw_ext}", raw)
            images.append(shot_summary(shot, image=f"{stem}.png", raw=f"{stem}{raw_ext}"))
            thumbs.append((f"{name} {lux:g} lx", thumbnail(shot.rendered.srgb)))
    progress("figures")
    with stage("figures"):
        plot_qe(mod, out / "qe.png")
        plot_snr_vs_lux(images, out / "snr_vs_lux.png", title=f"{mod.name}: mid-grey SNR")
        plot_contact_sheet(thumbs, out / "contact_sheet.png")
    summary = {"module": mod.name, "description": mod.description, "seed": seed,
               "sensor_px": [mod.sensor.width_px, mod.sensor.height_px],
               "figures": ["qe.png", "snr_vs_lux.png", "contact_sheet.png"], "images": images}
    if win is not None:
        summary["window_px"] = [win.x, win.y, win.width, win.height]
    write_json_atomic(out / "summary.json", summary)
    return summary
