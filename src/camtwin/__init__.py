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

import os as _os

# numba's OpenMP workers spin after each parallel kernel by default, stealing the CPU from the
# NumPy work between kernels (3–4× slower on 2 cores); let them sleep unless the user chose.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .camera import Shot, module_scene, render, shoot  # noqa: E402
from .crop import crop_module, window_module  # noqa: E402
from .errors import CamtwinError, ConfigError
from .module import ModuleSpec, load_lens, load_module, load_sensor

__version__ = "0.1.0"

__all__ = ["CamtwinError", "ConfigError", "ModuleSpec", "Shot", "crop_module", "window_module",
           "load_lens", "load_module",
           "load_sensor", "module_scene", "render", "shoot", "__version__"]
