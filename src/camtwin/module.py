"""ModuleSpec: a camera module = sensor + lens + ISP settings, loadable from YAML.

``load_module(name_or_path)`` accepts a path to a YAML file, the name of a module that
ships with camtwin (``camtwin/data/modules/<name>.yaml``), or a module of the real-sensor
catalog as ``catalog:<name>`` (or by plain name when no built-in module has that name; see
:mod:`camtwin.catalog`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ._spec import FrozenSpec
from .errors import unknown_name
from .isp.spec import IspSpec
from .optics.lens import LensSpec
from .sensor.spec import SensorSpec

#: Name of the module used when none is given.
DEFAULT_MODULE = "default"


class ModuleSpec(FrozenSpec):
    """A complete camera module."""

    name: str = "module"
    description: str = ""
    sensor: SensorSpec
    lens: LensSpec
    isp: IspSpec = IspSpec()

    @property
    def horizontal_fov_deg(self) -> float:
        """Full horizontal field of view [°] at the focus distance."""
        import math

        image_distance_mm = self.lens.focal_length_mm * (1 + self.lens.magnification)
        return math.degrees(2 * math.atan(self.sensor.width_mm / 2 / image_distance_mm))


def _packaged() -> dict[str, Path]:
    root = resources.files("camtwin") / "data" / "modules"
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def builtin_modules() -> list[str]:
    """Names of the modules shipped with camtwin."""
    return sorted(_packaged())


#: Prefix selecting a module of the real-sensor catalog: ``catalog:<name>``.
CATALOG_PREFIX = "catalog:"


def load_module(name_or_path: str | Path = DEFAULT_MODULE) -> ModuleSpec:
    """Load a module from a YAML path, a built-in name or a catalog module.

    Built-in names win over catalog names; ``catalog:<name>`` always means the catalog.
    """
    from . import catalog

    text = str(name_or_path)
    if text.startswith(CATALOG_PREFIX):
        return catalog.to_module(text[len(CATALOG_PREFIX):])
    p = Path(name_or_path)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        return ModuleSpec.from_yaml(p)
    shipped = _packaged()
    if text in shipped:
        return ModuleSpec.from_yaml(shipped[text])
    in_catalog = catalog.load_catalog().modules
    if text in in_catalog:
        return catalog.to_module(text)
    raise unknown_name("module (not a YAML file either)", text,
                       [*shipped, *(CATALOG_PREFIX + n for n in in_catalog)])
