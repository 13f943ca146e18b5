"""``camtwin`` command line (typer + rich).

Every command validates its inputs at the boundary; a bad value exits with status 2 and one
readable line on stderr naming the field, the value and the valid range — never a traceback.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from ._io import check_outputs
from .commands import seed_option
from .errors import CamtwinError
from .parts import MODULE_HELP

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="camtwin — a physically correct digital twin of miniature camera modules.")
err_console = Console(stderr=True)
console = Console()


def _print_error(message: str) -> None:
    """Print ``error: MESSAGE`` on stderr as one line; the message is user text (paths,
    names, values) and is printed literally, never read as Rich markup. Line breaks become
    spaces; control and format characters (terminal escapes, bidi overrides) are shown
    escaped (``\\x1b``, ``\\u202e``) instead of acting on the terminal."""
    import unicodedata

    from rich.text import Text

    line = " ".join(str(message).split()) or "failed"
    line = "".join(c if unicodedata.category(c) not in ("Cc", "Cf") else
                   c.encode("unicode_escape").decode("ascii") for c in line)
    err_console.print(Text.assemble(("error:", "bold red"), " ", line), highlight=False,
                      soft_wrap=True)


def _fail(message: str) -> None:
    _print_error(message)
    raise typer.Exit(code=2)


def _guard(fn, *args, **kwargs):
    """Run ``fn``; turn camtwin and OS errors into one line and exit status 2. A MemoryError
    that escaped the memory budget (:mod:`camtwin.memory`) and a RecursionError (input
    nested too deeply) become one line too."""
    import logging

    from ._io import output_options

    # tifffile logs every damaged tag/page of a corrupt file before it raises; the CLI
    # reports the failure itself, as one line
    quiet = logging.getLogger("tifffile")
    def drop(record):  # a logging filter that rejects every record
        return False

    quiet.addFilter(drop)
    try:
        with output_options():
            return fn(*args, **kwargs)
    except CamtwinError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    except MemoryError:
        _fail("out of memory: the input or the requested size does not fit in this "
              "machine's memory; use a smaller input, a crop or a lower resolution")
    except RecursionError:
        _fail("input nested too deeply to process")
    finally:
        quiet.removeFilter(drop)


_LIGHT_HELP = ("A light source (repeatable): PRESET[:key=value,...] with PRESET one of "
              "traffic_light, led_headlamp, led_sign and keys x, y (centre, scene "
              "fractions), size (diameter or sign width, fraction of the width), height (sign, "
              "fraction of the height), cd (luminance cd/m²), colour (red, amber, green, blue, "
              "white), wave (pwm, mains, constant), hz, duty (%), phase (deg), rise_us, "
              "fall_us, dc (mains steady part %), name; e.g. "
              "traffic_light:x=0.3,y=0.4,size=0.05,hz=90,duty=10. Or a YAML file with a "
              "list 'lights:' of {name, box|disc, luminance_cd_m2, spectrum, waveform}.")


@app.command()
def capture(
    module: str = typer.Option("default", help=MODULE_HELP),
    scene: str = typer.Option(..., help="Chart name (colorchecker, slanted_edge, uniform, "
                                        "siemens_star) or the path of an RGB image."),
    scene_fit: str = typer.Option("crop", "--scene-fit", help="A photo of another aspect "
                                  "ratio: crop (fill the view, cut the excess) or letterbox "
                                  "(all of it, black bars)."),
    lux: float = typer.Option(500.0, help="Illuminance on the scene [lx]."),
    exposure_ms: Optional[float] = typer.Option(None, help="Exposure [ms]; default: auto."),
    illuminant: str = typer.Option("D65", help="D65, A, F11 or LED: sources with visible "
                                               "light, whose level --lux sets."),
    out: Path = typer.Option(..., help="Rendered image (.png, .tif, .tiff)."),
    raw: Optional[Path] = typer.Option(None, help="Also save the raw frame (.dng, .tif, .npz)."),
    seed: int = seed_option("Seed of the temporal noise."),
    json_out: bool = typer.Option(False, "--json", help="Print the measurements as JSON "
                                  "(with seconds per stage and peak memory)."),
    crop: Optional[str] = typer.Option(None, help="Centre crop of the sensor, W,H [px]."),
    window: Optional[str] = typer.Option(None, help="Sensor window X,Y,W,H [px] at its true "
                                         "field position (distortion, shading, PSF, CRA)."),
    max_memory: Optional[str] = typer.Option(None, help="Memory budget (e.g. 4G); default "
                                             "$CAMTWIN_MAX_MEMORY or 70 % of free RAM."),
    band_group_nm: float = typer.Option(160.0, help="Width of the spectral band groups [nm] "
                                        "(0: every band on its own, exact and slower)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display."),
    state: str = typer.Option("day", "--state", help="day or night: state of a day/night "
                              "module (night: IR-cut switched out); others are the same in "
                              "both."),
    light: Optional[list[str]] = typer.Option(None, "--light", help=_LIGHT_HELP,
                                              metavar="PRESET:K=V,...|FILE.yaml"),
    start_ms: float = typer.Option(0.0, "--start-ms", help="Start of row 0's integration "
                                   "[ms] (with --window: the window's first row): the phase "
                                   "of the capture against the --light waveforms."),
    shake: Optional[str] = typer.Option(None, "--shake", help="Camera shake during the "
                                        "exposure: tripod, handheld, walking or vehicle "
                                        "(blur and rolling-shutter wobble)."),
    ois: str = typer.Option("module", "--ois", help="With --shake: module (the module's "
                            "own stabiliser, none without one), none, phone or "
                            "sensor_shift."),
):
    """Simulate one capture of a scene with a module and write the rendered image."""
    _guard(_capture, module, scene, lux, exposure_ms, illuminant, out, raw, seed, json_out,
           crop=crop, window=window, max_memory=max_memory, band_group_nm=band_group_nm,
           quiet=quiet, scene_fit=scene_fit, state=state, lights=light, start_ms=start_ms,
           shake=shake, ois=ois)


def _capture(module, scene, lux, exposure_ms, illuminant, out, raw_path, seed, json_out, *,
             crop=None, window=None, max_memory=None, band_group_nm=160.0, quiet=False,
             scene_fit="crop", state="day", lights=None, start_ms=0.0, shake=None,
             ois="module"):
    from .memory import using_budget
    from .progress import StageTimer

    _check_lux_illuminant(illuminant)
    with using_budget(max_memory), StageTimer(show=not (quiet or json_out),
                                              console=err_console) as timer:
        _capture_run(module, scene, lux, exposure_ms, illuminant, out, raw_path, seed,
                     json_out, crop, window, band_group_nm, timer, scene_fit=scene_fit,
                     state=state, lights=lights, start_ms=start_ms, shake=shake, ois=ois)


def _crop_or_window(mod, crop, window):
    """(module to shoot, SensorWindow or None) for ``--crop`` / ``--window``."""
    from .crop import crop_module, parse_crop, parse_window, window_module
    from .errors import ConfigError

    if crop is not None and window is not None:
        raise ConfigError("--crop and --window: give one of them")
    if crop is not None:
        return crop_module(mod, *parse_crop(crop)), None
    if window is not None:
        _, win = window_module(mod, *parse_window(window))
        return mod, win
    return mod, None


def _capture_run(module, scene, lux, exposure_ms, illuminant, out, raw_path, seed, json_out,
                 crop, window, band_group_nm, timer, scene_fit="crop", state="day",
                 lights=None, start_ms=0.0, shake=None, ois="module"):
    from .camera import module_scene, shoot
    from .isp import write_image
    from .module import load_module
    from .raw import save_raw
    from .measure.summary import shot_summary

    from .errors import ConfigError

    if not (lux > 0 and math.isfinite(lux)):
        raise ConfigError(f"--lux = {lux}: must be a finite number > 0")
    if exposure_ms is not None and not (exposure_ms > 0 and math.isfinite(exposure_ms)):
        raise ConfigError(f"--exposure-ms = {exposure_ms}: must be a finite number > 0")
    _check_suffix(out, (".png", ".tif", ".tiff"), "--out")
    if raw_path is not None:
        _check_suffix(raw_path, (".dng", ".tif", ".tiff", ".npz"), "--raw")
    check_outputs({"--module": module, "--scene": scene}, {"--out": out, "--raw": raw_path})
    if not band_group_nm >= 0:
        raise ConfigError(f"--band-group-nm = {band_group_nm}: must be ≥ 0 (0: full sampling)")
    from .scene.rgb import FITS

    if scene_fit not in FITS:
        raise ConfigError(f"--scene-fit = {scene_fit!r}: valid choices are {', '.join(FITS)}")
    if not math.isfinite(start_ms):
        raise ConfigError(f"--start-ms = {start_ms}: must be a finite number [ms]")
    from .scene.lights import lights_from_options

    light_sources = lights_from_options(lights)  # validated before any work
    from .motion.capture import shake_option
    from .motion.stabilise import ois_option

    shake, ois = shake_option(shake), ois_option(ois, option="--ois")
    if shake is None and ois != "module":
        raise ConfigError(f"--ois = {ois!r} needs --shake (without it the camera is still)")
    if shake is not None and light_sources:
        raise ConfigError("--shake with --light: light sources are captured without shake; "
                          "give one of them")
    mod, win = _crop_or_window(load_module(module).in_state(state), crop, window)
    from .crop import window_module
    from .memory import check_capture, scene_kind

    shot_mod = mod if win is None else window_module(mod, win.x, win.y, win.width, win.height)[0]
    kind = scene_kind(scene)
    from .strips import estimate_strip_capture_bytes, shoot_strips, use_strips

    if light_sources and mod.sensor.hdr is not None:
        raise ConfigError(f"--light: {mod.name} has the HDR mode {mod.sensor.hdr.mode!r}; "
                          "light sources with waveforms are captured by single-exposure "
                          "sensors only (the HDR modes take a global flicker)")
    strips = win is None and use_strips(mod)
    if strips and shake is not None:
        s = mod.sensor
        raise ConfigError(f"--shake: {mod.name} ({s.width_px} × {s.height_px} px) is "
                          "captured in row strips, which take no shake; use --crop or "
                          "--window")
    from .camera import photo_build_bytes, photo_read_bytes, scene_extent
    from .memory import scene_bytes_per_sample

    # the scene is built for the full sensor (a window is taken from it); a photo's
    # decoding and fitting come on top while it is built — for a window, a photo is only
    # decoded: the window's part of the grid is formed from it (module_scene lazy)
    lazy = win is not None and kind == "rgb"
    scene_hw = scene_extent(mod)[0]
    full_scene = scene_hw[0] * scene_hw[1] * scene_bytes_per_sample(kind)
    if lazy:
        photo, full_scene = photo_read_bytes(scene, check=True)    # (the photo is held)
    else:
        photo = (photo_build_bytes(scene, scene_hw, scene_fit, check=True,
                                   scene_bytes=full_scene) if kind == "rgb" else None)
    if strips:  # a large sensor: row strips (camtwin.strips), the same physics
        from .memory import capture_hint, check_budget

        s = mod.sensor
        check_budget(estimate_strip_capture_bytes(mod, scene_kind=kind,
                                                  bits=mod.isp.output_bits,
                                                  n_lights=len(light_sources),
                                                  release_scene=True,
                                                  photo_bytes=photo),
                     f"capture of {mod.name} ({s.width_px} × {s.height_px} px, in strips)",
                     capture_hint(mod))
    else:
        extra, what = 0, None
        if shake is not None:
            from .motion.capture import shake_extra_bytes

            extra, what = shake_extra_bytes(shot_mod), f"shaken capture of {shot_mod.name}"
        hint = None
        if win is not None:  # (held while the window is captured: the full sensor's
            extra += full_scene     # chart, or the decoded photo the window is formed from)
        if win is not None and not lazy:
            s = mod.sensor
            hint = (f"a window's chart is built for the full {s.width_px} × {s.height_px} "
                    "sensor: use --crop W,H (the chart then fills the crop's view), "
                    "colorchecker or uniform (1 byte per sample), a photo (only the "
                    "window's part is formed), or raise --max-memory")
        check_capture(shot_mod, scene_kind=kind, extra_bytes=extra, what=what, hint=hint,
                      build_bytes=photo if lazy else full_scene + (photo or 0))

    def build_scene():
        with timer.stage("scene"):
            sc = module_scene(mod, scene, illuminant=illuminant, illuminance_lux=lux,
                              fit=scene_fit, lazy=lazy)
        if light_sources:
            from .scene.lights import add_lights

            sc = add_lights(sc, light_sources)
        return sc

    exposure_s = None if exposure_ms is None else exposure_ms / 1e3
    if strips:  # (the strips build the scene and drop it after the optics: camtwin.strips)
        shot = shoot_strips(mod, build_scene, exposure_s=exposure_s, rng=seed,
                            check_memory=False, band_group_nm=band_group_nm,
                            progress=timer.callback, start_s=start_ms / 1e3,
                            release_scene=True)
    else:
        sc = build_scene()
        shot = shoot(mod, sc, exposure_s=exposure_s, rng=seed, window=win,
                     band_group_nm=band_group_nm or None, progress=timer.callback,
                     start_s=start_ms / 1e3, shake=shake, ois=ois)
    timer.start("write")
    written = []
    try:  # all or nothing: a failed second write removes the first output
        if strips:
            from .isp.pipeline import write_rgb

            written.append(write_rgb(out, shot.image))
        else:
            written.append(write_image(out, shot.rendered))
        if raw_path is not None:
            written.append(save_raw(raw_path, shot.raw))
    except BaseException:
        for p in written:
            Path(p).unlink(missing_ok=True)
        raise
    timer.finish()
    summary = shot_summary(shot, image=str(out), raw=str(raw_path) if raw_path else None)
    if light_sources:
        _light_summary(summary, shot.raw, start_ms)
    if shake is not None:
        summary["shake"] = shot.raw.metadata["shake"]
        summary["sources"]["shake"] = (
            "this capture's model: seeded shake trajectory (camtwin.motion.shake) minus the "
            "OIS correction; blur_px = peak-to-peak image motion (rows, cols) at the optical "
            "axis during a row's exposure, mean over rows; wobble_px = peak-to-peak over rows "
            "of each row's motion centroid")
    if kind == "rgb":  # a photo: say how it was fitted to the view
        from .scene.rgb import describe_photo_fit

        summary["scene_fit"] = describe_photo_fit(scene, scene_hw, scene_fit)
    summary.update(timer.report())
    s = shot_mod.sensor
    summary["sensor_px"] = [s.width_px, s.height_px]
    if win is not None:
        summary["window_px"] = [win.x, win.y, win.width, win.height]
    if json_out:
        print(json.dumps(summary, indent=2))
    else:
        console.print(f"wrote [bold]{escape(str(out))}[/]"
                      + (f" and [bold]{escape(str(raw_path))}[/]" if raw_path else "")
                      + f": exposure {summary['exposure_ms']:.3g} ms, mean "
                      f"{summary['mean_signal_e']:.4g} e⁻, SNR "
                      + ("n/a" if summary["grey_snr_db"] is None
                         else f"{summary['grey_snr_db']:.1f} dB") + ", "
                      f"clipped {100 * summary['clipped_fraction']:.2f} %")
        if summary.get("hdr_mode"):
            console.print(f"HDR {summary['hdr_mode']} ({', '.join(summary['hdr_components'])}):"
                          f" the raw above is {summary['hdr_components'][0]}; combined full "
                          f"scale {summary['hdr_full_scale_e']:.4g} e⁻, clipped "
                          f"{100 * summary['hdr_clipped_fraction']:.2f} %")
        if summary.get("scene_fit"):
            console.print(escape(summary["scene_fit"]))
        if summary.get("shake"):
            sh = summary["shake"]
            console.print(escape(f"shake {sh['shake']}, OIS {sh['ois']}: blur "
                                 f"{sh['blur_px'][1]:.2f} × {sh['blur_px'][0]:.2f} px "
                                 f"(cols × rows), wobble {max(sh['wobble_px']):.2f} px"))
        for lt in summary.get("lights", ()):
            console.print(escape(
                f"light {lt['name']}: " + ("outside the window" if lt["box_xywh"] is None else
                f"box x,y,w,h {','.join(map(str, lt['box_xywh']))}, signal "
                f"{lt['mean_signal_e']:.4g} e⁻ = {lt['relative_signal']:.3g} × steady "
                f"{lt['steady_signal_e']:.4g} e⁻ → " + ("seen" if lt["seen"] else "not seen"))))


def _light_summary(summary: dict, raw, start_ms: float) -> None:
    """Add the ``--light`` results (``raw.metadata["lights"]``) to a capture summary."""
    from .scene.lights import SEEN_FRACTION

    summary["start_ms"] = float(start_ms)
    summary["lights"] = raw.metadata.get("lights", [])
    summary["sources"]["lights"] = (
        "this capture's model, noiseless: mean_signal_e = mean over the light's box of "
        "T·(its electron rate)·(exact mean of its waveform over each row's window); "
        "steady_signal_e = the same light held steady; seen = relative_signal ≥ "
        f"{SEEN_FRACTION:g}; box in pixels of this capture (null: outside the window)")
    grey = summary.get("grey_snr") is not None and raw.metadata.get("layout_px", {})
    if grey:
        from .measure.summary import grey_box

        g = grey_box(raw)
        hit = [lt["name"] for lt in summary["lights"] if lt["box_px"] and g and not (
            lt["box_px"][1] <= g[0] or lt["box_px"][0] >= g[1] or lt["box_px"][3] <= g[2]
            or lt["box_px"][2] >= g[3])]
        if hit:
            summary["sources"]["grey_snr"] += f" (light(s) {', '.join(hit)} overlap it)"
            summary["sources"]["grey_snr_db"] = summary["sources"]["grey_snr"]


def _check_lux_illuminant(illuminant: str) -> None:
    """``--illuminant`` must have visible output: capture sets the light level in lux."""
    from .errors import ConfigError
    from .spectra import ILLUMINANTS, illuminant_spd, scale_to_illuminance

    def has_lux(name):
        try:
            scale_to_illuminance(illuminant_spd(name), 1.0)
            return True
        except ConfigError:
            return False

    if illuminant in ILLUMINANTS and not has_lux(illuminant):
        raise ConfigError(f"--illuminant = {illuminant!r}: this NIR source has no illuminance "
                          "in lux, and capture sets the light level with --lux; valid "
                          f"choices: {', '.join(n for n in ILLUMINANTS if has_lux(n))}")


def _check_suffix(path: Path, valid, option: str) -> None:
    from .errors import ConfigError

    if path.suffix.lower() not in valid:
        raise ConfigError(f"{option} = {str(path)!r}: extension must be one of {', '.join(valid)}")


@app.command()
def demo(out: Path = typer.Option(Path("camtwin-out"), help="Output folder."),
         module: str = typer.Option("default", help=MODULE_HELP),
         seed: int = seed_option("Seed of the temporal noise."),
         crop: Optional[str] = typer.Option(None, help="Centre crop of the sensor, W,H [px]."),
         window: Optional[str] = typer.Option(None, help="Sensor window X,Y,W,H [px] at its "
                                              "true field position."),
         max_memory: Optional[str] = typer.Option(None, help="Memory budget (e.g. 4G); "
                                                  "default $CAMTWIN_MAX_MEMORY or 70 % of "
                                                  "free RAM."),
         json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON "
                                       "(with seconds per stage and peak memory)."),
         quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress display.")):
    """Capture a ColorChecker and a slanted edge at 1000, 10 and 1 lux; write PNGs, DNGs (TIFFs
    for Quad Bayer and RGB-IR sensors) and summary.json into OUT."""
    _guard(_demo, out, module, seed, crop=crop, window=window, max_memory=max_memory,
           json_out=json_out, quiet=quiet)


def _demo(out: Path, module: str, seed: int, *, crop=None, window=None, max_memory=None,
          json_out=False, quiet=False):
    from .crop import parse_crop, parse_window
    from .demo import run_demo
    from .errors import ConfigError
    from .memory import using_budget
    from .progress import StageTimer

    check_outputs({"--module": module}, {"--out": out})
    if crop is not None and window is not None:
        raise ConfigError("--crop and --window: give one of them")
    crop_wh = None if crop is None else parse_crop(crop)
    win = None if window is None else parse_window(window)
    t0 = time.perf_counter()
    with using_budget(max_memory), StageTimer(show=not (quiet or json_out),
                                              console=err_console) as timer:
        summary = run_demo(out, module=module, seed=seed, crop=crop_wh, window=win,
                           timer=timer)
    if json_out:
        print(json.dumps({**summary, **timer.report()}, indent=2))
        return
    table_rows = [(s["scene"], s["lux"], s["exposure_ms"], s["mean_signal_e"], s["grey_snr_db"],
                   s.get("delta_e00_mean")) for s in summary["images"]]
    from rich.table import Table

    table = Table(title=f"camtwin demo — {escape(summary['module'])} "
                        f"({time.perf_counter() - t0:.1f} s)")
    for col in ("scene", "lux", "exposure ms", "mean e⁻", "grey SNR dB", "mean ΔE00"):
        table.add_column(col, justify="right")
    for r in table_rows:
        table.add_row(r[0], f"{r[1]:g}", f"{r[2]:.3g}", f"{r[3]:.4g}",
                      "n/a" if r[4] is None else f"{r[4]:.1f}",   # (a window off the grey)
                      "" if r[5] is None else f"{r[5]:.2f}")
    console.print(table)
    console.print(f"wrote {len(summary['images'])} images, raws and summary.json to "
                  f"[bold]{escape(str(out))}[/]")


def module_rows() -> list[dict]:
    """Every module a user can name (built-in and catalog): name to type, source, sensor,
    lens, resolution and description."""
    from .parts import known_parts, resolve_module

    rows = []
    for name in known_parts("module"):
        m = resolve_module(name)
        rows.append({"name": name, "source": "catalog" if name.startswith("catalog:")
                     else "built-in", "sensor": m.sensor.name, "lens": m.lens.name,
                     "width_px": m.sensor.width_px, "height_px": m.sensor.height_px,
                     "description": m.description})
    return rows


@app.command("modules")
def modules_cmd(json_out: bool = typer.Option(False, "--json", help="Print JSON instead of a "
                                                                    "table.")):
    """List every module a user can name: the built-in ones and those of the catalog."""
    from .commands import name_table

    rows = _guard(module_rows)
    if json_out:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = name_table(f"camtwin modules ({len(rows)}; catalog ones also by bare name)", "name",
                       [r["name"] for r in rows], (">pixels", "description"))
    for r in rows:
        table.add_row(r["name"], f"{r['width_px']}×{r['height_px']}", r["description"])
    console.print(table)


# --- commands of later stages live in camtwin/commands/<name>.py, each with
# ``register(app, guard, fail, console)``; one import line per module below ---------------
from .commands import isp as _isp_cmd; _isp_cmd.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import catalog as _catalog_cmd; _catalog_cmd.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import emva1288 as _emva1288; _emva1288.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import optics as _optics_cmd; _optics_cmd.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import market as _market_cmd; _market_cmd.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import evaluate as _evaluate_cmds  # noqa: E402
from .commands import privacy as _privacy_cmds; _privacy_cmds.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import web as _web_cmd; _web_cmd.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import sweep as _sweep_cmds; _sweep_cmds.register(app, _guard, _fail, console)  # noqa: E402,E702

_evaluate_cmds.register(app, _guard, _fail, console)
from .commands import burst as _burst_cmds; _burst_cmds.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import cache as _cache_cmds; _cache_cmds.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import depth as _depth_cmds; _depth_cmds.register(app, _guard, _fail, console)  # noqa: E402,E702
from .commands import yield_cmd as _yield_cmd; _yield_cmd.register(app, _guard, _fail, console)  # noqa: E402,E702
# (end of command registrations)


def _version_callback(value: bool) -> None:
    if value:
        from . import __version__

        print(f"camtwin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version_callback,
                                       is_eager=True, help="Print the version and exit.")):
    """camtwin — a physically correct digital twin of miniature camera modules."""


def _escape_help_markup(typer_app) -> None:
    """Escape Rich markup in every help text of ``typer_app`` (commands, options, sub-apps),
    so units written as ``[nm]``, ``[lx]``, ``[px]`` are shown instead of being read as
    Rich style tags and dropped."""
    import inspect

    from rich.markup import escape

    def fix(obj, attr):
        text = getattr(obj, attr, None)
        if isinstance(text, str) and not getattr(obj, "_camtwin_escaped_" + attr, False):
            setattr(obj, attr, escape(text))
            try:
                setattr(obj, "_camtwin_escaped_" + attr, True)
            except AttributeError:
                pass

    def walk(t):
        fix(t.info, "help")
        for cmd in t.registered_commands:
            fix(cmd, "help")
            fn = cmd.callback
            if fn is not None and cmd.help is None and fn.__doc__:
                if not getattr(fn, "_camtwin_escaped_doc", False):
                    # one line for the summary paragraph (the command list shows it as is)
                    first, *rest = inspect.cleandoc(fn.__doc__).split("\n\n", 1)
                    fn.__doc__ = escape("\n\n".join([" ".join(first.split("\n")), *rest]))
                    fn._camtwin_escaped_doc = True
            for p in inspect.signature(fn).parameters.values() if fn else ():
                if hasattr(p.default, "help"):
                    fix(p.default, "help")
        for group in t.registered_groups:
            fix(group, "help")
            walk(group.typer_instance)
        if t.registered_callback is not None:
            fn = t.registered_callback.callback
            for p in inspect.signature(fn).parameters.values() if fn else ():
                if hasattr(p.default, "help"):
                    fix(p.default, "help")

    walk(typer_app)


_escape_help_markup(app)


def main() -> None:
    """Console-script entry point. Usage errors (unknown option, bad number) are reported as
    one line too, instead of click's multi-line box."""
    from .memory import tune_allocator

    tune_allocator()
    try:
        code = app(standalone_mode=False, prog_name="camtwin")
    except Exception as exc:  # click's UsageError/Abort (vendored in newer typer releases)
        kind = type(exc).__name__
        if hasattr(exc, "format_message") and getattr(exc, "exit_code", None) == 2:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _print_error(f"{exc.format_message()}{hint}")
            code = 2
        elif kind == "Abort":
            err_console.print("[bold red]error:[/] aborted", highlight=False)
            code = 130
        else:
            raise
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
