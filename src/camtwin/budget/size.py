"""Module size: z-height from the lens track length, x/y from the image circle.

Z-height (top of the lens holder to the bottom of the PCB)::

    z = top_mm + TTL + below_image_mm

* ``TTL`` — total track length of the lens, first lens vertex to the image plane (it
  includes the back focal length, the IR-cut filter and the sensor cover glass); when the
  lens data gives none it is estimated as ``ttl_per_focal · f`` (the telephoto ratio:
  ≈ 1.1–1.3 for the aspheric plastic stacks of phone and wearable cameras, ≈ 3–5 for M12
  board lenses — estimates from typical designs, not a published table);
* ``top_mm`` — holder lid / barrel wall above the first vertex;
* ``below_image_mm`` — silicon + package substrate under the photosites and the PCB/flex.

X/Y footprint::

    barrel = max(image_circle + 2·barrel_wall_mm, min_barrel_od_mm) + 2·actuator_mm
    x = max(barrel, sensor_width + 2·die_margin_mm) + 2·housing_wall_mm
    y = max(barrel, sensor_height + 2·die_margin_mm) + 2·housing_wall_mm

with the image circle ``lens.image_circle_mm`` (or the sensor diagonal), the die margin
holding pads, column circuits and logic around the pixel array, and ``actuator_mm`` the
voice-coil (AF/OIS) ring per side. All preset numbers (:data:`MODULE_FORMS`) are estimates
of typical constructions (stated per preset); replace them with a drawing's numbers when
known. Folded (periscope) optics are not modelled: their z-height is set by the prism, not
by the track length.
"""

from __future__ import annotations

import math

from pydantic import Field

from .._spec import FrozenSpec
from ..errors import unknown_name


class ModuleForm(FrozenSpec):
    """Mechanical build of a module (module docstring); lengths in mm."""

    name: str = "custom"
    ttl_per_focal: float = Field(1.2, gt=0.5, le=20)
    top_mm: float = Field(0.3, ge=0, le=50)
    below_image_mm: float = Field(0.7, ge=0, le=50)
    barrel_wall_mm: float = Field(0.5, ge=0, le=20)
    min_barrel_od_mm: float = Field(0.0, ge=0, le=100)
    actuator_mm: float = Field(0.0, ge=0, le=20)
    die_margin_mm: float = Field(0.8, ge=0, le=20)
    housing_wall_mm: float = Field(0.3, ge=0, le=20)
    note: str = ""


#: Typical builds (estimates).
MODULE_FORMS: dict[str, ModuleForm] = {f.name: f for f in (
    ModuleForm(name="phone", ttl_per_focal=1.2, top_mm=0.3, below_image_mm=0.7,
               barrel_wall_mm=0.5, actuator_mm=1.5, die_margin_mm=0.8, housing_wall_mm=0.3,
               note="phone main camera: plastic asphere stack, VCM AF/OIS ring (estimate)"),
    ModuleForm(name="wearable", ttl_per_focal=1.2, top_mm=0.2, below_image_mm=0.5,
               barrel_wall_mm=0.4, actuator_mm=0.0, die_margin_mm=0.5, housing_wall_mm=0.2,
               note="fixed-focus wearable / glasses camera, thin flex (estimate)"),
    ModuleForm(name="board", ttl_per_focal=4.0, top_mm=0.5, below_image_mm=1.6,
               barrel_wall_mm=1.0, min_barrel_od_mm=12.0, actuator_mm=0.0, die_margin_mm=1.5,
               housing_wall_mm=1.5, note="M12 (S-mount) board lens on a 1.6 mm PCB (estimate)"),
)}


def module_form(name_or_form) -> ModuleForm:
    if isinstance(name_or_form, ModuleForm):
        return name_or_form
    if name_or_form not in MODULE_FORMS:
        raise unknown_name("module form", str(name_or_form), MODULE_FORMS)
    return MODULE_FORMS[name_or_form]


def module_size_mm(module, *, form="phone", ttl_mm: float | None = None) -> dict[str, float]:
    """x, y, z [mm], footprint [mm²] and the inputs used (module docstring)."""
    from ..errors import ConfigError

    f = module_form(form)
    lens, s = module.lens, module.sensor
    if ttl_mm is not None and not ttl_mm > 0:
        raise ConfigError(f"ttl_mm = {ttl_mm}: valid range is > 0 mm")
    ttl = float(ttl_mm) if ttl_mm is not None else f.ttl_per_focal * lens.focal_length_mm
    circle = lens.image_circle_mm or math.hypot(s.width_mm, s.height_mm)
    barrel = max(circle + 2 * f.barrel_wall_mm, f.min_barrel_od_mm) + 2 * f.actuator_mm
    x = max(barrel, s.width_mm + 2 * f.die_margin_mm) + 2 * f.housing_wall_mm
    y = max(barrel, s.height_mm + 2 * f.die_margin_mm) + 2 * f.housing_wall_mm
    z = f.top_mm + ttl + f.below_image_mm
    return {"x_mm": x, "y_mm": y, "z_mm": z, "footprint_mm2": x * y, "ttl_mm": ttl,
            "image_circle_mm": circle, "barrel_od_mm": barrel,
            "ttl_estimated": ttl_mm is None}


__all__ = ["ModuleForm", "MODULE_FORMS", "module_form", "module_size_mm"]
