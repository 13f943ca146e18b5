"""Sensor crops: a centre crop or a window at its true field position.

A **centre crop** (:func:`crop_module`) keeps the central ``W × H`` pixels: the cropped
module is a smaller sensor on the optical axis with the same pitch, lens and noise model,
and — by default — the same image: the lens's full field stays the full sensor's
half-diagonal (a lens without ``image_circle_mm`` gets the full sensor's diagonal), so the
crop's pixels see the distortion, relative illumination and chief-ray angles they have in
the full frame, and the microlens shift (``pixel.design_cra_deg``) is scaled to the crop's
corner so the chief-ray mismatch is the full sensor's. ``same_image=False`` gives a smaller module instead: a lens that states no
image circle then covers the smaller sensor (its corners are full field).

A **window** (:func:`window_module`) keeps the pixels ``[y, y + H) × [x, x + W)`` of the
full sensor *where they are*: the capture sees the part of the scene that falls there and
the field-dependent effects of that position — distortion, lateral colour, relative
illumination, field-dependent PSFs (through ``field_offset_um`` and the full sensor's
full-field height, :func:`camtwin.optics.form_image`) and the chief-ray-angle mismatch of
the full sensor's microlens design (:func:`camtwin.sensor.optical.cra_map`). Its corner is
aligned to the CFA period so the window keeps the sensor's colour phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import ConfigError


def _period(module) -> int:
    from .raw.cfa import cfa_layout

    return max(cfa_layout(module.sensor.cfa).period)


def crop_module(module, width_px: int, height_px: int | None = None, *,
                same_image: bool = True):
    """The module with its sensor cropped to the central ``width_px × height_px`` pixels
    (same pitch, lens, noise model; sizes rounded down to the CFA period). With
    ``same_image`` (default) the crop keeps the full sensor's full field (module
    docstring): the centre of the same picture, not a smaller module."""
    s = module.sensor
    period = _period(module)
    h = height_px if height_px is not None else width_px
    w = max(period, min(s.width_px, int(width_px)) // period * period)
    h = max(period, min(s.height_px, int(h)) // period * period)
    if (w, h) == (s.width_px, s.height_px):
        return module
    update = {"sensor": {"width_px": w, "height_px": h}}
    if same_image:
        if not module.lens.image_circle_mm:
            update["lens"] = {"image_circle_mm": math.hypot(s.width_mm, s.height_mm)}
        if s.pixel.design_cra_deg:
            # the microlens shift grows linearly with image height up to the full sensor's
            # corner (tan θ_d = b·r): the crop keeps b, so its own corner has a smaller angle
            t = math.tan(math.radians(s.pixel.design_cra_deg)) * math.hypot(w, h) / math.hypot(
                s.width_px, s.height_px)
            update["sensor"]["pixel"] = {"design_cra_deg": math.degrees(math.atan(t))}
    return module.replace(**update)


@dataclass(frozen=True)
class SensorWindow:
    """Pixels ``[y, y + height) × [x, x + width)`` of a ``full_height × full_width`` sensor."""

    x: int
    y: int
    width: int
    height: int
    full_width: int
    full_height: int

    @property
    def offset_px(self) -> tuple[float, float]:
        """(dy, dx) of the window centre from the full sensor's centre [pixels]."""
        return (self.y + self.height / 2.0 - self.full_height / 2.0,
                self.x + self.width / 2.0 - self.full_width / 2.0)

    @property
    def full_shape(self) -> tuple[int, int]:
        return self.full_height, self.full_width


def window_module(module, x: int, y: int, width_px: int, height_px: int):
    """``(cropped module, SensorWindow)`` for the window at (``x``, ``y``) of ``module``'s
    sensor; the corner is rounded down and the size up to the CFA period. Raises
    :class:`ConfigError` naming the value and the valid range when it leaves the sensor."""
    s = module.sensor
    p = _period(module)
    for name, v in (("x", x), ("y", y)):
        if int(v) < 0:
            raise ConfigError(f"--window {name} = {v}: must be ≥ 0")
    if width_px < 1 or height_px < 1:
        raise ConfigError(f"--window size {width_px} × {height_px}: must be ≥ 1 × 1")
    x0, y0 = int(x) // p * p, int(y) // p * p
    w = -(-int(width_px) // p) * p
    h = -(-int(height_px) // p) * p
    w, h = max(w, -(-8 // p) * p), max(h, -(-8 // p) * p)
    if x0 + w > s.width_px or y0 + h > s.height_px:
        raise ConfigError(f"--window {x},{y},{width_px},{height_px}: leaves the "
                          f"{s.width_px} × {s.height_px} sensor; valid: x + W ≤ {s.width_px}, "
                          f"y + H ≤ {s.height_px}")
    if not module.lens.rectilinear and (x0, y0, w, h) != (0, 0, s.width_px, s.height_px):
        raise ConfigError(f"--window: an off-axis window is not modelled for the "
                          f"{module.lens.projection!r} (fisheye) projection; use --crop")
    win = SensorWindow(x0, y0, w, h, s.width_px, s.height_px)
    if (w, h) == (s.width_px, s.height_px):
        return module, win
    return module.replace(sensor={"width_px": w, "height_px": h}), win


def _ints(text: str, n: int, option: str, form: str) -> list[int]:
    parts = [p.strip() for p in str(text).replace("x", ",").split(",")]
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        vals = []
    if len(vals) != n:
        raise ConfigError(f"{option} = {text!r}: expected {form} (integers)")
    return vals


def parse_crop(text: str) -> tuple[int, int]:
    """``'1024,768'`` → (1024, 768) for ``--crop W,H`` (≥ 8 each)."""
    w, h = _ints(text, 2, "--crop", "W,H")
    if w < 8 or h < 8:
        raise ConfigError(f"--crop = {text!r}: W and H must be ≥ 8")
    return w, h


def parse_window(text: str) -> tuple[int, int, int, int]:
    """``'0,0,512,512'`` → (x, y, W, H) for ``--window X,Y,W,H``."""
    return tuple(_ints(text, 4, "--window", "X,Y,W,H"))
