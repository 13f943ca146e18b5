"""ModuleSpec: a camera module = sensor + lens + ISP settings, loadable from YAML.

``load_module(name_or_path)`` accepts a path to a YAML file or the name of a module that
ships with camtwin (``camtwin/data/modules/<name>.yaml``).
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


def load_module(name_or_path: str | Path = DEFAULT_MODULE) -> ModuleSpec:
    """Load a module from a YAML path or a built-in name."""
    p = Path(name_or_path)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        return ModuleSpec.from_yaml(p)
    shipped = _packaged()
    if str(name_or_path) not in shipped:
        raise unknown_name("module (not a YAML file either)", str(name_or_path), shipped)
    return ModuleSpec.from_yaml(shipped[str(name_or_path)])
