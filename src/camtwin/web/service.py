"""What the workbench API does, free of HTTP: resolve modules, run captures, evaluations,
comparisons and plots, and turn frames into PNGs.

Every client-supplied name is checked against a list the server owns (built-in and catalog
modules, chart names, illuminants, application profiles, upload ids), so no request can make
the server read a path of its choosing. Spec overrides are validated by the same pydantic
specs as YAML files, and errors carry the same one-line messages as the CLI.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

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


#: Longest name field (module, scene, illuminant, application) [characters].
MAX_NAME_CHARS = 200
#: Longest text value inside ``overrides`` [characters].
MAX_OVERRIDE_TEXT_CHARS = 200
#: Most values (leaves) and deepest nesting of ``overrides``.
MAX_OVERRIDE_VALUES, MAX_OVERRIDE_DEPTH = 400, 6


def _check_overrides(value, path: str = "overrides", depth: int = 0, count=None) -> None:
    """Bound the size of ``overrides``: text values, keys, nesting and number of values."""
    count = count if count is not None else [0]
    if depth > MAX_OVERRIDE_DEPTH:
        raise ValueError(f"{path}: nested deeper than {MAX_OVERRIDE_DEPTH} levels")
    if isinstance(value, dict):
        for k, v in value.items():
            if len(k) > MAX_NAME_CHARS:
                raise ValueError(f"{path}: a key is longer than {MAX_NAME_CHARS} characters")
            _check_overrides(v, f"{path}.{k}", depth + 1, count)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_overrides(v, f"{path}[{i}]", depth + 1, count)
    else:
        count[0] += 1
        if count[0] > MAX_OVERRIDE_VALUES:
            raise ValueError(f"overrides: more than {MAX_OVERRIDE_VALUES} values")
        if isinstance(value, str) and len(value) > MAX_OVERRIDE_TEXT_CHARS:
            raise ValueError(f"{path}: text of {len(value)} characters; at most "
                             f"{MAX_OVERRIDE_TEXT_CHARS}")


class ModuleChoice(_Body):
    """A module: a built-in or catalog name, spec overrides, and an optional centre crop."""

    name: str = Field("default", max_length=MAX_NAME_CHARS,
                      description="built-in module name or 'catalog:NAME' "
                                  "(see GET /api/modules)")
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="partial spec merged into the module: {'sensor': {...}, 'lens': {...}, "
                    "'isp': {...}}; validated like a module YAML file")
    crop_width_px: int | None = Field(None, ge=8, le=20000,
                                      description="simulate only the central width [px]")
    crop_height_px: int | None = Field(None, ge=8, le=20000,
                                       description="simulate only the central height [px]")

    @field_validator("overrides")
    @classmethod
    def _bounded(cls, value: dict) -> dict:
        _check_overrides(value)
        return value


class CaptureRequest(_Body):
    """One capture of a scene with a module."""

    module: ModuleChoice = ModuleChoice()
    scene: str = Field("colorchecker", max_length=100,
                       description="chart name (GET /api/scenes) or 'upload:ID'")
    illuminant: str = Field("D65", max_length=MAX_NAME_CHARS, description="D65, A, F11 or LED")
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
    illuminant: str = Field("D65", max_length=MAX_NAME_CHARS)
    lux: float = Field(500.0, gt=0, le=1e6)
    exposure_ms: float | None = Field(None, gt=0, le=10000)
    temperature_c: float | None = None
    seed: int = Field(0, ge=0, le=2**31 - 1)
    application: str | None = Field(None, max_length=100,
                                     description="also evaluate both modules against it")


class PlotRequest(_Body):
    kind: Literal["snr", "mtf", "qe"]
    modules: list[ModuleChoice] = Field(..., min_length=1, max_length=4)
    illuminant: str = Field("D65", max_length=MAX_NAME_CHARS)
    lux: float = Field(1000.0, gt=0, le=1e6, description="illuminance of the MTF edge [lx]")
    seed: int = Field(0, ge=0, le=2**31 - 1)


# ---------------------------------------------------------------------------------------
# names the server owns
# ---------------------------------------------------------------------------------------
def module_names() -> list[str]:
    """Every module a client may name, in canonical form: built-ins, then ``catalog:NAME``
    (:func:`camtwin.parts.known_parts`)."""
    from ..parts import known_parts

    return known_parts("module")


def canonical_module(name: str) -> str:
    """The canonical name of module ``name`` by the one part resolver
    (:func:`camtwin.parts.locate`: built-in, ``catalog:NAME``, a bare catalog name when
    unambiguous) — never a file: a YAML path is refused like an unknown name."""
    from ..parts import locate

    try:
        ref = locate("module", name)
    except ConfigError:
        ref = None
    if ref is None or ref.source == "yaml":
        raise WebInputError(str(unknown_name("module", name, module_names())), "module.name")
    return ref.name


@lru_cache(maxsize=64)
def _base_module(canonical: str):
    from ..parts import resolve_module

    return resolve_module(canonical)


def base_module(name: str):
    """The named module (a name :func:`canonical_module` accepts)."""
    return _base_module(canonical_module(name))


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
#: Leading bytes of the accepted upload formats.
_MAGIC = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"II*\x00": "TIFF",
          b"MM\x00*": "TIFF", b"BM": "BMP"}
#: Bytes per pixel Pillow holds for a decoded image of a mode (every other mode, RGB
#: included, is stored in 4 bytes per pixel).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
#: Modes :func:`_decode_reduced` reduces directly (others are converted to RGB(A) first).
_REDUCIBLE_MODES = ("L", "RGB", "RGBA", "LA", "I", "F", "I;16")


def upload_format(data: bytes) -> str:
    """PNG, JPEG, TIFF or BMP from the leading bytes; anything else is refused (415)."""
    for magic, fmt in _MAGIC.items():
        if data.startswith(magic):
            return fmt
    raise WebInputError("upload: not an image that can be read (PNG, JPEG, TIFF or BMP)",
                        "file", 415)


def decode_cost_bytes(width: int, height: int, mode: str) -> int:
    """Estimated peak memory of decoding one upload [bytes]:

    ``width × height × (b + c + 3)`` with ``b`` the bytes per pixel Pillow holds for
    ``mode`` (1 for L/P/1, 2 for 16-bit grey, else 4), ``c = 4`` when the mode must be
    converted to RGB before it is reduced (palette, bilevel, CMYK...) and 3 bytes per pixel
    for the decoder's and the reduction's buffers (an upper bound of the peak measured for
    L, RGB, P and bilevel PNGs; ``benchmarks/bench_web.py --bombs`` measures the server).
    """
    b = _MODE_BYTES.get(mode, 4)
    c = 0 if mode in _REDUCIBLE_MODES else 4
    return int(width) * int(height) * (b + c + 3)


class DecodeBudget:
    """A byte budget shared by the decodes running at once: :meth:`reserve` blocks until
    ``cost`` bytes are free (so N concurrent uploads never hold more than ``limit`` bytes
    of decoded pixels between them)."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self._free = int(limit)
        self._cond = threading.Condition()

    def reserve(self, cost: int, timeout_s: float = 120.0):
        if cost > self.limit:
            raise WebInputError(f"upload: decoding needs about {cost / 2**20:.0f} MiB: above "
                                f"this server's decode budget of {self.limit / 2**20:.0f} MiB",
                                "file", 413)
        return _Reservation(self, cost, timeout_s)

    @property
    def free(self) -> int:
        with self._cond:
            return self._free


class _Reservation:
    def __init__(self, budget: DecodeBudget, cost: int, timeout_s: float):
        self._b, self._cost, self._timeout = budget, cost, timeout_s

    def __enter__(self):
        b = self._b
        with b._cond:
            if not b._cond.wait_for(lambda: b._free >= self._cost, self._timeout):
                raise WebInputError("upload: the server is busy decoding other uploads; "
                                    "try again in a few seconds", "file", 503)
            b._free -= self._cost
        return self

    def __exit__(self, *exc):
        b = self._b
        with b._cond:
            b._free += self._cost
            b._cond.notify_all()
        return False


def _too_many_pixels(w: int, h: int, max_pixels: int) -> WebInputError:
    return WebInputError(f"upload: {w} × {h} = {w * h / 1e6:.1f} MP image: above the limit of "
                         f"{max_pixels / 1e6:.1f} MP", "file", 413)


def decode_upload(data: bytes, *, max_pixels: int, max_side_px: int,
                  budget: DecodeBudget | None = None) -> np.ndarray:
    """Decode an uploaded PNG/JPEG/TIFF/BMP into (H, W, 3) uint8 RGB.

    The width and height are read from the file's header (:mod:`imagesize`) before Pillow
    sees the file; more than ``max_pixels`` raises :class:`WebInputError` with status 413,
    as does an image above Pillow's own decompression-bomb limit. The decode then reserves
    its :func:`decode_cost_bytes` from ``budget`` (waiting while other decodes hold it).
    The image is reduced (area averaging; JPEG in the DCT first) to at most
    ``max_side_px`` on its longest side.
    """
    import io

    import imagesize
    from PIL import Image, UnidentifiedImageError

    fmt = upload_format(data)
    w, h = imagesize.get(io.BytesIO(data))
    if w > 0 and h > 0 and w * h > max_pixels:
        raise _too_many_pixels(w, h, max_pixels)
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise _too_many_pixels(w, h, max_pixels)
            cost = decode_cost_bytes(w, h, img.mode)
            with budget.reserve(cost) if budget is not None else nullcontext():
                try:
                    arr = _decode_reduced(img, max_side_px)
                finally:
                    release_free_memory()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise WebInputError(f"upload: the image is larger than Pillow's decompression-bomb "
                            f"limit; this server's limit is {max_pixels / 1e6:.1f} MP",
                            "file", 413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, WebInputError):
            raise
        raise WebInputError("upload: not an image that can be read (PNG, JPEG, TIFF or BMP)",
                            "file", 415) from None
    return np.ascontiguousarray(arr)


def release_free_memory() -> None:
    """Hand memory freed by the C heap back to the operating system (glibc's
    ``malloc_trim``; nothing elsewhere). Without it each decoding thread's malloc arena
    keeps the peak of its largest decode for the life of the process."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@lru_cache(maxsize=1)
def _libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def _decode_reduced(img, max_side_px: int) -> np.ndarray:
    """Decode ``img`` (a lazily opened Pillow image) reduced to ``max_side_px``."""
    from PIL import Image

    longest = max(img.size)
    if img.format == "JPEG" and longest > max_side_px:
        img.draft("RGB", (max(1, img.size[0] * max_side_px // longest),
                          max(1, img.size[1] * max_side_px // longest)))
    if img.mode not in _REDUCIBLE_MODES:
        img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
    if max(img.size) > max_side_px:
        img.thumbnail((max_side_px, max_side_px), Image.Resampling.BOX, reducing_gap=None)
    return np.asarray(img.convert("RGB"))


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
    metrics, sources = capture_metrics(ci, summary)
    notes = list(rendered.notes)
    if ci.measure_mtf:
        step(0.8, "measuring MTF50 (a separate slanted-edge simulation)")
        from ..evaluate.imaging import slanted_edge_mtf

        try:
            res = slanted_edge_mtf(ci.mtf_module or m, field=0.0, lux=ci.lux, rng=ci.seed)
            metrics["mtf50_cy_px"] = res.value
            metrics["mtf50_lp_mm"] = res.value * 1e3 / m.sensor.pixel_pitch_um
        except (ConfigError, ValueError) as exc:
            notes.append(f"MTF50 not measured: {exc}")
            sources["mtf50_cy_px"] = sources["mtf50_lp_mm"] = f"not measured: {exc}"
    step(0.95, "encoding images")
    processed = to_uint8(rendered.srgb)
    false_colour = raw_false_colour(raw)
    files[prefix + "processed"] = processed
    files[prefix + "raw"] = false_colour
    # the downloads need the digital numbers only: the noise-free mean (float32, twice the
    # size) is not kept
    files[prefix + RAW_FRAME] = dataclasses.replace(raw, mean_electrons=None)
    s = m.sensor
    return clean({
        "label": ci.label, "module": module_summary(ci.label or m.name, m),
        "scene": ci.scene, "illuminant": ci.illuminant, "lux": ci.lux, "seed": ci.seed,
        "temperature_c": s.temperature_c, "auto_exposure": ci.exposure_ms is None,
        "metrics": metrics, "metric_sources": sources, "notes": notes,
        "images": {"processed": prefix + "processed", "raw": prefix + "raw"},
        "downloads": capture_downloads(prefix, raw),
        "width_px": s.width_px, "height_px": s.height_px,
        "wb_gains": rendered.wb_gains, "exposure_gain": rendered.exposure_gain,
    })


#: What each grey-region SNR is measured on, per chart (see camtwin.measure.summary).
_GREY_REGION_TEXT = {"colorchecker": "the ColorChecker's neutral 5 patch",
                     "slanted_edge": "the light side of the edge",
                     "uniform": "the central region of the uniform field"}


def capture_metrics(ci: CaptureInput, summary: dict) -> tuple[dict, dict]:
    """The capture's metrics and, for each, where it comes from — or why it is not shown.

    A metric is reported only where it means something: the grey-region SNR only for a
    scene with a uniform grey region, ΔE00 only for the ColorChecker seen by a colour
    sensor. MTF50 is filled in by :func:`run_capture` from a separate slanted-edge
    simulation (said so in its source)."""
    s = ci.module.sensor
    colour = {"R", "G", "B"} <= set(s.channels)
    pixels = "raw green pixels" if "G" in s.channels else "raw pixels"
    this = "this capture"
    metrics = {"exposure_ms": summary["exposure_ms"], "mean_signal_e": summary["mean_signal_e"],
               "grey_snr": None, "grey_snr_db": None,
               "clipped_percent": 100.0 * summary["clipped_fraction"],
               "delta_e00_mean": None, "delta_e00_max": None,
               "mtf50_cy_px": None, "mtf50_lp_mm": None}
    sources = {
        "exposure_ms": f"{this}: " + ("auto exposure of the raw frame" if ci.exposure_ms is None
                                      else "set in the request"),
        "mean_signal_e": f"{this}: mean of every raw pixel, dark signal included",
        "clipped_percent": f"{this}: raw pixels at the white level",
    }
    region = _GREY_REGION_TEXT.get(ci.scene) if ci.scene_image is None else None
    if region:
        metrics["grey_snr"], metrics["grey_snr_db"] = summary["grey_snr"], summary["grey_snr_db"]
        sources["grey_snr"] = sources["grey_snr_db"] = (
            f"{this}: mean / standard deviation of the {pixels} of {region}")
    else:
        sources["grey_snr"] = sources["grey_snr_db"] = (
            "not shown: the scene has no uniform grey region (use colorchecker, slanted_edge "
            "or uniform)")
    if not colour:
        why = f"not shown: a {s.cfa} sensor has no colour to compare"
    elif ci.scene != "colorchecker" or ci.scene_image is not None:
        why = "not shown: needs the colorchecker scene"
    elif summary.get("delta_e00_mean") is None:
        why = "not shown: the ColorChecker patches were not found in the frame"
    else:
        why = None
        metrics["delta_e00_mean"] = summary["delta_e00_mean"]
        metrics["delta_e00_max"] = summary["delta_e00_max"]
        sources["delta_e00_mean"] = sources["delta_e00_max"] = (
            f"{this}: CIEDE2000 of the 24 ColorChecker patches in the ISP's linear sRGB "
            "output against their reference values, exposure normalised")
    if why:
        sources["delta_e00_mean"] = sources["delta_e00_max"] = why
    if ci.measure_mtf:
        sources["mtf50_cy_px"] = sources["mtf50_lp_mm"] = (
            f"a separate simulation, not this capture: a slanted edge at the centre of the "
            f"field of the uncropped module, {ci.lux:g} lx, auto exposure, seed {ci.seed}; "
            "e-SFR of the flat-fielded raw (as camtwin evaluate measures it)")
    else:
        sources["mtf50_cy_px"] = sources["mtf50_lp_mm"] = "not measured (measure_mtf = false)"
    return metrics, sources


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


# ---------------------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------------------
#: Key (after the capture's prefix) of the raw frame kept for the DNG/TIFF download.
RAW_FRAME = "rawframe"
#: Media type of each download by file extension.
MEDIA_TYPES = {".dng": "image/x-adobe-dng", ".tiff": "image/tiff", ".png": "image/png",
               ".json": "application/json", ".html": "text/html; charset=utf-8"}


def capture_downloads(prefix: str, raw) -> dict:
    """The files a capture offers: the raw frame (DNG, or camtwin's raw TIFF for a layout
    DNG cannot carry), the processed image as PNG and TIFF."""
    from ..raw.dng import DNG_CFAS

    raw_name = "raw.dng" if raw.cfa in DNG_CFAS else "raw.tiff"
    return {"raw": prefix + raw_name, "processed_png": prefix + "processed.png",
            "processed_tiff": prefix + "processed.tiff"}


def job_downloads(kind: str, result: dict) -> dict:
    """Every download of a finished job: {key: file name}; names are unique per job."""
    if kind.startswith("depth_"):        # depth jobs: camtwin.web.depth
        from .depth import depth_job_downloads

        return depth_job_downloads(kind, result)
    out = {}
    captures = ([result] if kind == "capture" else
                result.get("captures", []) if kind == "compare" else [])
    for c in captures:
        for key, name in c["downloads"].items():
            out[name.replace(".", "_")] = name
    if kind == "plot":
        out["plot_png"] = "plot.png"
    out["metrics_json"] = "metrics.json"
    out["report_html"] = "report.html"
    return out


def render_download(kind: str, result: dict, files: dict, name: str) -> tuple[bytes, str]:
    """The bytes and media type of download ``name`` of a finished job.

    Raises :class:`WebInputError` (404) for a name the job does not offer."""
    import json
    import os
    import tempfile

    if kind.startswith("depth_"):        # depth jobs: camtwin.web.depth
        from .depth import render_depth_download

        return render_depth_download(kind, result, files, name)
    if name not in job_downloads(kind, result).values():
        raise WebInputError(f"this {kind} job has no download {name!r}; it offers "
                            f"{', '.join(job_downloads(kind, result).values())}", "name", 404)
    media = MEDIA_TYPES[os.path.splitext(name)[1]]
    if name == "metrics.json":
        return json.dumps(result, indent=2, ensure_ascii=False).encode("utf-8"), media
    if name == "report.html":
        return report_html(kind, result, files), media
    if name == "plot.png":
        return files["plot"], media
    prefix, base = re.fullmatch(r"(m\d+_)?(.+)", name).groups(default="")
    if base == "processed.png":
        return png_bytes(files[prefix + "processed"]), media
    if base == "processed.tiff":
        import io

        import tifffile

        buf = io.BytesIO()
        tifffile.imwrite(buf, files[prefix + "processed"], photometric="rgb",
                         software="camtwin", metadata=None)
        return buf.getvalue(), media
    raw = files[prefix + RAW_FRAME]
    with tempfile.TemporaryDirectory(prefix="camtwin-web-") as tmp:
        path = os.path.join(tmp, base)
        if base == "raw.dng":
            from ..raw.dng import write_dng

            write_dng(path, raw)
        else:
            from ..raw.files import write_tiff

            write_tiff(path, raw)
        with open(path, "rb") as f:
            return f.read(), media


def _metrics_rows(c: dict) -> list[list]:
    rows = []
    units = {"exposure_ms": "ms", "mean_signal_e": "e⁻", "grey_snr_db": "dB",
             "clipped_percent": "%", "delta_e00_mean": "", "delta_e00_max": "",
             "mtf50_cy_px": "cy/px", "mtf50_lp_mm": "lp/mm"}
    for key, unit in units.items():
        v = c["metrics"].get(key)
        rows.append([key, "—" if v is None else float(f"{v:.4g}"), unit,
                     c.get("metric_sources", {}).get(key, "")])
    return rows


def report_html(kind: str, result: dict, files: dict) -> bytes:
    """A self-contained HTML page of a job's result (images embedded)."""
    import os
    import tempfile

    from ..report.html import escape, image_img, table, write_page

    body = []
    captures = ([result] if kind == "capture" else
                result.get("captures", []) if kind == "compare" else [])
    for c in captures:
        prefix = c["images"]["processed"][:-len("processed")]
        m = c["module"]
        body.append(f"<h2>{escape(c['label'] or m['name'])}: {m['width_px']}×{m['height_px']} px "
                    f"{escape(m['cfa'])}</h2>")
        body.append(f"<p>scene {escape(c['scene'])}, {escape(c['illuminant'])} {c['lux']:g} lx, "
                    f"{'auto' if c['auto_exposure'] else 'fixed'} exposure, "
                    f"{c['temperature_c']} °C, seed {c['seed']}</p>")
        body.append('<div class="row">'
                    f"<figure>{image_img(files[prefix + 'processed'], 'processed')}"
                    "<figcaption>processed (ISP output)</figcaption></figure>"
                    f"<figure>{image_img(files[prefix + 'raw'], 'raw')}"
                    "<figcaption>raw, each pixel in its filter colour</figcaption></figure></div>")
        body.append(table(["metric", "value", "unit", "where it comes from"], _metrics_rows(c)))
        if c.get("notes"):
            body.append(f"<p class=\"muted\">{escape('; '.join(c['notes']))}</p>")
    evaluations = ([result] if kind == "evaluate" else result.get("evaluations", [])
                   if kind == "compare" else [])
    for ev in evaluations:
        body.append(f"<h2>{escape(ev['module'])} for {escape(ev['title'])}: "
                    f"{'PASS' if ev['passed'] else 'FAIL'}</h2>")
        body.append(table(["requirement", "limit", "measured", "margin", "verdict", "basis",
                           "where it comes from"],
                          [[v["metric"], v["limit"], v["value_text"], v["margin_text"],
                            {"pass": "pass", "fail": "FAIL", "n/a": "n/a"}.get(
                                v.get("status"), "pass" if v["passed"] else "FAIL"),
                            v["basis"], v.get("not_applicable") or v.get("measured_from") or ""]
                           for v in ev["verdicts"]],
                          row_classes=["pass" if v["passed"] else "fail"
                                       for v in ev["verdicts"]]))
    if kind == "plot":
        import base64

        b64 = base64.b64encode(files["plot"]).decode("ascii")
        body.append(f'<img alt="{escape(result["kind"])} plot" '
                    f'src="data:image/png;base64,{b64}">')
    title = f"camtwin workbench — {kind}"
    with tempfile.TemporaryDirectory(prefix="camtwin-web-") as tmp:
        path = write_page(os.path.join(tmp, "report.html"), title, "\n".join(body))
        return path.read_bytes()
