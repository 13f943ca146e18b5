"""ModuleSpec: a camera module = sensor + lens + ISP settings, loadable from YAML.

``load_module(ref)`` accepts every form of :mod:`camtwin.parts`: the name of a module that
ships with camtwin (``camtwin/data/modules/<name>.yaml``), a module of the real-sensor
catalog as ``catalog:<name>`` (or by bare name when unambiguous), or a YAML path (a copied
catalog module YAML, naming its parts, included).
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

from typing import Literal

from pydantic import model_serializer, model_validator

from ._spec import FrozenSpec
from .daynight import DayNightSpec
from .isp.spec import IspSpec
from .motion.stabilise import StabiliserSpec
from .optics.lens import LensSpec
from .sensor.spec import SensorSpec

#: Name of the module used when none is given.
DEFAULT_MODULE = "default"


class ModuleSpec(FrozenSpec):
    """A complete camera module.

    ``day_night`` (optional): a switchable IR-cut and an NIR illuminator; the module then
    has a ``day`` state (the module as written, ``lens.ir_cut`` in) and a ``night`` state
    (filter out, illuminator on), see :mod:`camtwin.daynight` and :meth:`in_state`.
    """

    name: str = "module"
    description: str = ""
    sensor: SensorSpec
    lens: LensSpec
    isp: IspSpec = IspSpec()
    day_night: DayNightSpec | None = None
    state: Literal["day", "night"] = "day"
    stabiliser: StabiliserSpec | None = None

    @model_validator(mode="after")
    def _states(self):
        from .daynight import check_module_states

        check_module_states(self)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        # a module without day/night switching dumps exactly as before the fields existed,
        # so cache keys and sweep point hashes of existing modules do not change
        data = handler(self)
        if self.day_night is None and self.state == "day" and isinstance(data, dict):
            data.pop("day_night", None)
            data.pop("state", None)
        if self.stabiliser is None and isinstance(data, dict):
            data.pop("stabiliser", None)
        return data

    def in_state(self, state: str) -> "ModuleSpec":
        """The frozen module in ``state`` ("day": IR-cut in; "night": IR-cut out,
        illuminator on); a module without ``day_night`` is returned as is
        (:func:`camtwin.daynight.module_in_state`)."""
        from .daynight import module_in_state

        return module_in_state(self, state)

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from .report.notebook import short_repr
        return short_repr(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from .report.notebook import repr_html
        return repr_html(self)

    @model_validator(mode="after")
    def _fisheye_field(self):
        lens = self.lens
        if lens.rectilinear:
            return self
        from .optics.lens import MAX_FISHEYE_FIELD_DEG, projection_height

        half_diag = 0.5 * math.hypot(self.sensor.width_mm, self.sensor.height_mm)
        top = float(projection_height(lens.projection, math.radians(MAX_FISHEYE_FIELD_DEG)))
        if half_diag / lens.image_distance_mm > top:
            theta = math.degrees(float(lens.field_angle_rad(half_diag)))
            raise ValueError(
                f"lens.projection = {lens.projection!r}: the sensor corner is at a field angle "
                f"of {theta:.1f}° (half-diagonal {half_diag:.3f} mm, image distance "
                f"{lens.image_distance_mm:.3f} mm); valid range is up to "
                f"{MAX_FISHEYE_FIELD_DEG:g}° (the scene plane must reach d·tan θ)")
        return self

    def _fov_deg(self, half_extent_mm: float) -> float:
        return math.degrees(2.0 * float(self.lens.field_angle_rad(half_extent_mm)))

    @property
    def horizontal_fov_deg(self) -> float:
        """Full horizontal field of view [°] at the focus distance: 2·P⁻¹(w/2 / v_s)
        (2·atan(w/2v_s) for the rectilinear thin lens)."""
        return self._fov_deg(self.sensor.width_mm / 2.0)

    @property
    def vertical_fov_deg(self) -> float:
        """Full vertical field of view [°] at the focus distance."""
        return self._fov_deg(self.sensor.height_mm / 2.0)

    @property
    def diagonal_fov_deg(self) -> float:
        """Full diagonal field of view [°] at the focus distance."""
        return self._fov_deg(0.5 * math.hypot(self.sensor.width_mm, self.sensor.height_mm))


def _packaged() -> dict[str, Path]:
    root = resources.files("camtwin") / "data" / "modules"
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def builtin_modules() -> list[str]:
    """Names of the modules shipped with camtwin."""
    return sorted(_packaged())


#: Prefix selecting a module of the real-sensor catalog: ``catalog:<name>``.
CATALOG_PREFIX = "catalog:"


def load_module(name_or_path: str | Path = DEFAULT_MODULE, base_dir=None) -> ModuleSpec:
    """Load a module from a built-in name, ``catalog:NAME``, a bare catalog name or a YAML
    path (every form of :func:`camtwin.parts.resolve_module`, which this calls)."""
    from .parts import resolve_module

    return resolve_module(name_or_path, base_dir)


def load_sensor(ref="default", base_dir=None) -> SensorSpec:
    """Load a sensor: a built-in module's sensor, ``catalog:NAME``, ``emva:NAME`` (a twin of a
    published EMVA 1288 summary), a bare name when unambiguous, or a YAML path (every form
    of :func:`camtwin.parts.resolve_sensor`, which this calls)."""
    from .parts import resolve_sensor

    return resolve_sensor(ref, base_dir)


def load_lens(ref="default", base_dir=None) -> LensSpec:
    """Load a lens: a built-in module's lens, ``catalog:NAME``, a bare name when unambiguous,
    or a YAML path (every form of :func:`camtwin.parts.resolve_lens`, which this calls)."""
    from .parts import resolve_lens

    return resolve_lens(ref, base_dir)
