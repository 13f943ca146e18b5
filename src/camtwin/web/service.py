"""What the workbench API does, free of HTTP: resolve modules, run captures, evaluations,
comparisons and plots, and turn frames into PNGs.

Every client-supplied name is checked against a list the server owns (built-in and catalog
modules, chart names, illuminants, application profiles, upload ids), so no request can make
the server read a path of its choosing. Spec overrides are validated by the same pydantic
specs as YAML files, and errors carry the same one-line messages as the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._spec import deep_merge
from ..errors import ConfigError, unknown_name
from ..report import notebook as _nb
from ..report.figures import figure_png_bytes, new_figure
from ..report.notebook import CHANNEL_COLOURS, raw_false_colour, to_uint8

#: Illuminants offered for a capture at a given illuminance (the NIR LEDs have no lux).
VISIBLE_ILLUMINANTS = ("D65", "A", "F11", "LED")
#: Prefix of a scene that is an uploaded image: ``upload:<id>``.
UPLOAD_PREFIX = "upload:"
#: Side of the square 1:1 pixel crop shown by default in the zoom [pixels].
ZOOM_SIZE_PX = 32
#: Nearest-neighbour magnification of the zoom.
ZOOM_SCALE = 8


class WebInputError(ConfigError):
    """A request the server refuses: one-line message, the field it concerns, the status."""

    def __init__(self, message: str, field: str | None = None, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


# ---------------------------------------------------------------------------------------
# request bodies
# ---------------------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModuleChoice(_Body):
    """A module: a built-in or catalog name, spec overrides, and an optional centre crop."""

    name: str = Field("default", description="built-in module name or 'catalog:NAME' "
                                             "(see GET /api/modules)", max_length=200)
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="partial spec merged into the module: {'sensor': {...}, 'lens': {...}, "
                    "'isp': {...}}; validated like a module YAML file")
    crop_width_px: int | None = Field(None, ge=8, le=20000,
                                      description="simulate only the central width [px]")
    crop_height_px: int | None = Field(None, ge=8, le=20000,
                                       description="simulate only the central height [px]")


class CaptureRequest(_Body):
    """One capture of a scene with a module."""

    module: ModuleChoice = ModuleChoice()
    scene: str = Field("colorchecker", max_length=100,
                       description="chart name (GET /api/scenes) or 'upload:ID'")
    illuminant: str = Field("D65", description="D65, A, F11 or LED")
    lux: float = Field(500.0, gt=0, le=1e6, description="illuminance on the scene [lx]")
    exposure_ms: float | None = Field(None, gt=0, le=10000,
                                      description="exposure [ms]; null: auto exposure")
    temperature_c: float | None = Field(None, description="die temperature [°C]; null: the "
                                                          "module's (sensor.temperature_c)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the temporal noise")
    measure_mtf: bool = Field(True, description="also measure MTF50 (slanted edge, centre)")


class EvaluateRequest(_Body):
    module: ModuleChoice = ModuleChoice()
    application: str = Field(..., max_length=100, description="GET /api/applications")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class CompareRequest(_Body):
    modules: list[ModuleChoice] = Field(..., min_length=2, max_length=2)
    scene: str = Field("colorchecker", max_length=100)
    illuminant: str = "D65"
    lux: float = Field(500.0, gt=0, le=1e6)
    exposure_ms: float | None = Field(None, gt=0, le=10000)
    temperature_c: float | None = None
    seed: int = Field(0, ge=0, le=2**31 - 1)
    application: str | None = Field(None, max_length=100,
                                     description="also evaluate both modules against it")


class PlotRequest(_Body):
    kind: Literal["snr", "mtf", "qe"]
    modules: list[ModuleChoice] = Field(..., min_length=1, max_length=4)
    illuminant: str = "D65"
    lux: float = Field(1000.0, gt=0, le=1e6, description="illuminance of the MTF edge [lx]")
    seed: int = Field(0, ge=0, le=2**31 - 1)


# ---------------------------------------------------------------------------------------
# names the server owns
# ---------------------------------------------------------------------------------------
def module_names() -> list[str]:
    """Every module a client may name: built-ins, then ``catalog:NAME``."""
    from ..catalog import load_catalog
    from ..module import CATALOG_PREFIX, builtin_modules

    return [*builtin_modules(), *(CATALOG_PREFIX + n for n in sorted(load_catalog().modules))]


@lru_cache(maxsize=64)
def _base_module(name: str):
    from ..module import load_module

    return load_module(name)


def base_module(name: str):
    """The named module (only names of :func:`module_names`)."""
    if name not in module_names():
        raise WebInputError(str(unknown_name("module", name, module_names())), "module.name")
    return _base_module(name)


def chart_names() -> list[str]:
    from ..scene import CHARTS

    return sorted(CHARTS)


def application_names() -> list[str]:
    from ..evaluate import builtin_applications

    return builtin_applications()


def check_application(name: str):
    from ..evaluate import load_application

    if name not in application_names():
        raise WebInputError(str(unknown_name("application", name, application_names())),
                            "application")
    return load_application(name)


def check_illuminant(name: str) -> str:
    if name not in VISIBLE_ILLUMINANTS:
        raise WebInputError(str(unknown_name("illuminant", name, VISIBLE_ILLUMINANTS)),
                            "illuminant")
    return name


_FIELD_RE = re.compile(r"^([A-Za-z0-9_.<>]+)(?: = |: )")

_SECTIONS = ("sensor", "lens", "isp")


def resolve_module(choice: ModuleChoice, *, temperature_c: float | None = None,
                   max_pixels: int | None = None, crop: bool = True):
    """The validated module of ``choice`` (overrides merged, crop applied).

    Raises :class:`WebInputError` whose message is the spec's one-line validation message
    (``NAME: sensor.pixel_pitch_um = 0.1: Input should be greater than 0.3``) and whose
    ``field`` is the dotted spec path.
    """
    from ..module import ModuleSpec

    base = base_module(choice.name)
    overrides = {k: v for k, v in choice.overrides.items()}
    for key, value in overrides.items():
        if key not in _SECTIONS:
            raise WebInputError(f"overrides.{key}: unknown section; valid: "
                                f"{', '.join(_SECTIONS)}", f"overrides.{key}")
        if not isinstance(value, dict):
            raise WebInputError(f"overrides.{key} must be an object of {key} fields",
                                f"overrides.{key}")
    if temperature_c is not None:
        overrides.setdefault("sensor", {})
        overrides["sensor"] = {**overrides["sensor"], "temperature_c": temperature_c}
    module = base
    if overrides:
        data = base.model_dump()
        deep_merge(data, overrides)
        try:
            module = ModuleSpec.from_dict(data, source=choice.name)
        except ConfigError as exc:
            msg = str(exc)
            rest = msg.removeprefix(f"{choice.name}: ")
            m = _FIELD_RE.match(rest)
            raise WebInputError(msg, m.group(1) if m else None) from None
    if crop and (choice.crop_width_px or choice.crop_height_px):
        from ..evaluate.metrics import crop_module

        s = module.sensor
        module = crop_module(module, choice.crop_width_px or s.width_px,
                             choice.crop_height_px or s.height_px)
    if max_pixels is not None:
        s = module.sensor
        n = s.width_px * s.height_px
        if n > max_pixels:
            raise WebInputError(
                f"{choice.name}: sensor.width_px × sensor.height_px = {s.width_px} × "
                f"{s.height_px} = {n / 1e6:.2f} MP: above this server's limit of "
                f"{max_pixels / 1e6:.2f} MP; set crop_width_px/crop_height_px (a centre "
                f"crop) or start the server with a larger --max-megapixels",
                "sensor.width_px")
    return module


def module_summary(name: str, module) -> dict:
    s, lens = module.sensor, module.lens
    return {"name": name, "title": module.name, "description": module.description,
            "source": "catalog" if name.startswith("catalog:") else "builtin",
            "sensor": s.name, "width_px": s.width_px, "height_px": s.height_px,
            "megapixels": round(s.width_px * s.height_px / 1e6, 3),
            "pixel_pitch_um": s.pixel_pitch_um, "cfa": s.cfa, "shutter": s.shutter.type,
            "focal_length_mm": lens.focal_length_mm, "f_number": lens.f_number,
            "hfov_deg": round(module.horizontal_fov_deg, 2)}


# ---------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------
def png_bytes(image: np.ndarray) -> bytes:
    """An (H, W, 3) RGB or (H, W) grey image (uint8, or float in 0..1) as full-size PNG."""
    return _nb.png_bytes(image, max_side_px=None)


def zoom(image: np.ndarray, *, x: float, y: float, size: int = ZOOM_SIZE_PX,
         scale: int = ZOOM_SCALE) -> np.ndarray:
    """A ``size`` × ``size`` 1:1 crop centred at (``x``, ``y``) (fractions of the width and
    height), magnified ``scale``× by pixel repetition."""
    h, w = image.shape[:2]
    size = int(min(size, h, w))
    cy = int(round(y * (h - 1)))
    cx = int(round(x * (w - 1)))
    r0 = min(max(0, cy - size // 2), h - size)
    c0 = min(max(0, cx - size // 2), w - size)
    crop = image[r0:r0 + size, c0:c0 + size]
    return np.repeat(np.repeat(crop, scale, axis=0), scale, axis=1)


def clean(obj):
    """JSON-ready copy: NumPy scalars → Python, non-finite floats → None."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    return obj


# ---------------------------------------------------------------------------------------
# uploads
# ---------------------------------------------------------------------------------------
def decode_upload(data: bytes, *, max_pixels: int, max_side_px: int) -> np.ndarray:
    """Decode an uploaded PNG/JPEG/TIFF/BMP into (H, W, 3) uint8 RGB.

    The image size is read from the header before decoding; more than ``max_pixels``
    raises :class:`WebInputError` with status 413. The stored image is reduced to at most
    ``max_side_px`` on its longest side.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise WebInputError(f"upload: {w} × {h} = {w * h / 1e6:.1f} MP image: above "
                                    f"the limit of {max_pixels / 1e6:.1f} MP", "file", 413)
            if img.format not in ("PNG", "JPEG", "TIFF", "BMP"):
                raise WebInputError(f"upload: {img.format} images are not accepted; use PNG, "
                                    "JPEG, TIFF or BMP", "file", 415)
            arr = np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, WebInputError):
            raise
        raise WebInputError("upload: not an image that can be read (PNG, JPEG, TIFF or BMP)",
                            "file", 415) from None
    longest = max(arr.shape[:2])
    if longest > max_side_px:
        import cv2

        f = max_side_px / longest
        arr = cv2.resize(arr, (max(1, round(arr.shape[1] * f)), max(1, round(arr.shape[0] * f))),
                         interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr)


# ---------------------------------------------------------------------------------------
# jobs
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureInput:
    """A checked capture: module resolved, scene resolved (chart name or image array)."""

    label: str
    module: Any
    scene: str
    scene_image: np.ndarray | None
    illuminant: str
    lux: float
    exposure_ms: float | None
    seed: int
    measure_mtf: bool
    #: the module without the workbench's centre crop (the MTF measurement crops itself)
    mtf_module: Any = None


def check_scene(scene: str, uploads) -> np.ndarray | None:
    """None for a chart, the image array for ``upload:ID``; anything else is refused."""
    if scene.startswith(UPLOAD_PREFIX):
        img = uploads.get(scene[len(UPLOAD_PREFIX):])
        if img is None:
            raise WebInputError(f"scene = {scene!r}: no such upload (uploads are kept in "
                                "memory for a while; upload the image again)", "scene")
        return img
    if scene not in chart_names():
        raise WebInputError(str(unknown_name("scene", scene, [*chart_names(), "upload:ID"])),
                            "scene")
    return None


def run_capture(ci: CaptureInput, files: dict, progress, *, prefix: str = "",
                span: tuple[float, float] = (0.0, 1.0)) -> dict:
    """Scene → optics → sensor → ISP → metrics; images go into ``files``."""
    from ..camera import Shot, expose, module_scene, render, scene_extent
    from ..measure.summary import shot_summary
    from ..optics import form_image
    from ..scene import from_rgb

    a, b = span

    def step(frac, msg):
        progress(a + (b - a) * frac, f"{ci.label}: {msg}" if ci.label else msg)

    m = ci.module
    step(0.02, "building the scene")
    if ci.scene_image is not None:
        shape, width_m = scene_extent(m)
        scene = from_rgb(ci.scene_image, shape=shape, name="upload",
                         width_m=width_m, distance_m=m.lens.object_distance_m,
                         illuminant=ci.illuminant, illuminance_lux=ci.lux)
    else:
        scene = module_scene(m, ci.scene, illuminant=ci.illuminant, illuminance_lux=ci.lux)
    step(0.15, "forming the optical image")
    oi = form_image(scene, m.lens)
    step(0.4, "exposing the sensor")
    raw = expose(m, oi, exposure_s=None if ci.exposure_ms is None else ci.exposure_ms / 1e3,
                 rng=ci.seed)
    step(0.55, "running the ISP")
    rendered = render(m, raw)
    step(0.75, "measuring")
    summary = shot_summary(Shot(oi, raw, rendered))
    metrics = {
        "exposure_ms": summary["exposure_ms"],
        "mean_signal_e": summary["mean_signal_e"],
        "grey_snr": summary["grey_snr"],
        "grey_snr_db": summary["grey_snr_db"],
        "clipped_percent": 100.0 * summary["clipped_fraction"],
        "delta_e00_mean": summary.get("delta_e00_mean"),
        "delta_e00_max": summary.get("delta_e00_max"),
        "mtf50_cy_px": None,
        "mtf50_lp_mm": None,
    }
    notes = list(rendered.notes)
    if ci.measure_mtf:
        step(0.8, "measuring MTF50 (slanted edge)")
        from ..evaluate.imaging import slanted_edge_mtf

        try:
            res = slanted_edge_mtf(ci.mtf_module or m, field=0.0, lux=ci.lux, rng=ci.seed)
            metrics["mtf50_cy_px"] = res.value
            metrics["mtf50_lp_mm"] = res.value * 1e3 / m.sensor.pixel_pitch_um
        except (ConfigError, ValueError) as exc:
            notes.append(f"MTF50 not measured: {exc}")
    step(0.95, "encoding images")
    processed = to_uint8(rendered.srgb)
    false_colour = raw_false_colour(raw)
    files[prefix + "processed"] = processed
    files[prefix + "raw"] = false_colour
    s = m.sensor
    return clean({
        "label": ci.label, "module": module_summary(ci.label or m.name, m),
        "scene": ci.scene, "illuminant": ci.illuminant, "lux": ci.lux, "seed": ci.seed,
        "temperature_c": s.temperature_c, "auto_exposure": ci.exposure_ms is None,
        "metrics": metrics, "notes": notes,
        "images": {"processed": prefix + "processed", "raw": prefix + "raw"},
        "width_px": s.width_px, "height_px": s.height_px,
        "wb_gains": rendered.wb_gains, "exposure_gain": rendered.exposure_gain,
    })


def evaluation_dict(ev) -> dict:
    from ..evaluate.verdict import format_value

    d = ev.as_dict()
    for row, v in zip(d["verdicts"], ev.verdicts, strict=True):
        row["value_text"] = format_value(v.value, v.requirement.unit)
        row["margin_text"] = format_value(v.margin, v.requirement.unit)
    return clean(d)


def run_evaluate(module, app, seed: int, progress, *, span=(0.0, 1.0), label: str = "") -> dict:
    from ..evaluate.verdict import evaluate

    a, b = span
    ev = evaluate(module, app, seed=seed, progress=lambda i, n, name: progress(
        a + (b - a) * i / n, f"{label + ': ' if label else ''}{name} ({i}/{n})"))
    return evaluation_dict(ev)


# --- plots -----------------------------------------------------------------------------
def _figure(figsize=(6.4, 3.8)):
    return new_figure(figsize, dpi=100)


def plot_png(kind: str, modules: list[tuple[str, Any]], *, illuminant: str, lux: float,
             seed: int, progress) -> tuple[bytes, dict]:
    """A PNG of SNR vs lux, MTF (e-SFR) or QE for one or more modules, and its data."""
    fig = _figure()
    ax = fig.add_subplot()
    data: dict = {}
    n = len(modules)
    for i, (label, m) in enumerate(modules):
        progress(i / n, f"{label}: {kind}")
        if kind == "snr":
            from ..evaluate import level_at_snr, snr_curve

            c = snr_curve(m, illuminant=illuminant, rng=seed)
            snr_db = 20 * np.log10(np.maximum(c.snr, 1e-3))
            line, = ax.semilogx(c.level, snr_db, marker=".", label=label)
            lx = level_at_snr(c, 10.0)
            if np.isfinite(lx):
                ax.axvline(lx, color=line.get_color(), ls=":", lw=1)
            data[label] = {"lux": c.level, "snr_db": snr_db, "lux_at_snr10": lx,
                           "exposure_s": c.exposure_s}
        elif kind == "mtf":
            from ..evaluate.imaging import slanted_edge_mtf

            res = slanted_edge_mtf(m, field=0.0, lux=lux, rng=seed)
            sfr = res.details["sfr"]
            keep = sfr.frequencies_cy_px <= 1.0
            ax.plot(sfr.frequencies_cy_px[keep], sfr.sfr[keep],
                    label=f"{label} (MTF50 {res.value:.3f} cy/px)")
            data[label] = {"mtf50_cy_px": res.value, "frequencies_cy_px": sfr.frequencies_cy_px,
                           "sfr": sfr.sfr}
        else:
            from ..sensor.response import channel_qe
            from ..spectra import DEFAULT_WAVELENGTHS_NM as wl

            qe = channel_qe(m.sensor, wl) * m.lens.spectral_transmission(wl)[:, None]
            chans = m.sensor.channels
            styles = ["-", "--", ":", "-."]
            for c, name in enumerate(chans):
                colour = CHANNEL_COLOURS.get(name, (0.3, 0.3, 0.3))
                colour = tuple(min(0.85, x) for x in colour) if name != "C" else (0.4, 0.4, 0.4)
                ax.plot(wl, qe[:, c], color=colour, ls=styles[i % 4],
                        label=f"{label} {name}" if m.sensor.cfa != "mono" else label)
            data[label] = {"wavelengths_nm": wl, "qe_with_lens": qe, "channels": list(chans)}
    if kind == "snr":
        ax.axhline(20.0, color="grey", ls=":", lw=1)
        ax.set(xlabel="illuminance on an 18 % grey target [lx]", ylabel="SNR [dB]",
               title=f"SNR vs light level ({illuminant}, 1/30 s, raw green, dotted: SNR 10)")
    elif kind == "mtf":
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.axvline(0.5, color="grey", ls="--", lw=0.8)
        ax.set(xlabel="spatial frequency [cycles/pixel] (dashed: Nyquist)", ylabel="MTF",
               title="e-SFR of a slanted edge, centre of the field (raw)", xlim=(0, 1),
               ylim=(0, 1.05))
    else:
        ax.set(xlabel="wavelength [nm]", ylabel="QE × lens transmission",
               title="Spectral quantum efficiency behind the lens", ylim=(0, 1))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    progress(0.95, "drawing")
    return figure_png_bytes(fig), clean(data)
