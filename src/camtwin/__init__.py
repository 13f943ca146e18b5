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

What the CLI does, from Python (regions are ``(x, y, w, h)`` in pixels, as on the
command line; :mod:`camtwin.regions`)::

    camtwin.resolve_module("catalog:NAME")          # one way to name a part (camtwin.parts)
    camtwin.crop_module(module, 256, 192)           # centre crop (--crop W,H)
    camtwin.window_module(module, x, y, w, h)       # window at its field position (--window)
    camtwin.measure_file("edge.tif", "sfr", roi=(x, y, w, h))        # camtwin sfr --json
    camtwin.measure_file("chart.png", "colour", chart_box=(x, y, w, h))  # camtwin colour
    camtwin.read_measured_image("edge.tif")         # the one reader for measured images
    camtwin.evaluate.evaluate(module, camtwin.load_application("security"))  # evaluate

Results print short (``repr``), show as cards in notebooks and convert to pandas / xarray
when those are installed (``Evaluation.to_pandas()``, ``Shot.to_xarray()``,
``Emva1288Results.to_pandas()``, ``SweepStore.to_pandas()``).
"""

import os as _os

# numba's OpenMP workers spin after each parallel kernel by default, stealing the CPU from the
# NumPy work between kernels (3–4× slower on 2 cores); let them sleep unless the user chose.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .crop import crop_module, window_module  # noqa: E402
from .errors import CamtwinError, ConfigError

__version__ = "0.1.0"

#: Public names imported on first use (``import camtwin`` stays fast): name → module.
_LAZY = {"Shot": "camera", "module_scene": "camera", "render": "camera", "shoot": "camera",
         "ModuleSpec": "module", "load_lens": "module", "load_module": "module",
         "load_sensor": "module",
         "resolve_module": "parts", "resolve_sensor": "parts", "resolve_lens": "parts",
         "measure_file": "measure.files", "measure_sfr_file": "measure.files",
         "measure_colour_file": "measure.files", "read_measured_image": "measure.imread",
         "esfr": "measure.sfr", "colorchecker_report": "measure.color",
         "load_application": "evaluate.profiles",
         "Evaluation": "evaluate.verdict", "RawFrame": "raw.frame", "load_raw": "raw",
         "Scene": "scene.scene", "OpticalImage": "optics.image",
         "RenderedImage": "isp.pipeline"}


#: Subpackages reachable as ``camtwin.NAME`` without importing them first.
_SUBPACKAGES = ("burst", "camera", "catalog", "evaluate", "focus", "isp", "market", "measure",
                "module", "optics", "parts", "privacy", "raw", "regions", "report", "scene",
                "sensor", "spectra", "sweep", "units")


def __getattr__(name: str):
    import importlib

    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'camtwin' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["CamtwinError", "ConfigError", "ModuleSpec", "Shot", "crop_module", "window_module",
           "load_lens", "load_module",
           "load_sensor", "module_scene", "render", "shoot", "__version__", *_LAZY]
