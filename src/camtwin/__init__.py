"""camtwin — a physically correct digital twin of miniature camera modules.

The data flows one way::

    Scene ──optics──▶ OpticalImage ──sensor──▶ RawFrame ──isp──▶ RenderedImage ──▶ measure

Quick use::

    import camtwin
    module = camtwin.load_module("default")
    scene = camtwin.module_scene(module, "colorchecker", illuminance_lux=100)
    shot = camtwin.shoot(module, scene, rng=1)
    shot.rendered.srgb      # (H, W, 3) display image
    shot.raw.dn             # uint16 raw mosaic
"""

from .camera import Shot, module_scene, render, shoot
from .errors import CamtwinError, ConfigError
from .module import ModuleSpec, load_module

__version__ = "0.1.0"

__all__ = ["CamtwinError", "ConfigError", "ModuleSpec", "Shot", "load_module", "module_scene",
           "render", "shoot", "__version__"]
