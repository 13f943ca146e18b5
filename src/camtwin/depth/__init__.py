"""3D sensing: depth scenes, active illuminators, indirect/direct time-of-flight pixels,
active stereo / structured light, and depth metrics.

The data flow is the same one-way pipeline as the 2D camera: a :class:`DepthScene` (distance,
normal and NIR reflectance per pixel ray) and an illuminator give photon rates per pixel
(:mod:`camtwin.depth.radiometry`); a pixel model (iToF, dToF or a stereo pair) turns them into
raw measurements and depth; :mod:`camtwin.depth.metrics` judges the depth against the truth.
"""

from .dtof import DTofSpec, simulate_dtof
from .evaluate import evaluate_depth, measure_depth_metric
from .eyesafety import eye_safety
from .illuminator import Illuminator
from .itof import ITofSpec, simulate_itof
from .pattern import DotPattern
from .radiometry import PhotonRates, photon_rates
from .scene import DepthScene, PinholeGeometry
from .stereo import StereoSpec, simulate_stereo
from .twin import DepthModule, capture_depth, depth_module_names, load_depth_module

__all__ = ["DTofSpec", "DepthModule", "DepthScene", "DotPattern", "ITofSpec", "Illuminator",
           "PhotonRates", "PinholeGeometry", "StereoSpec",
           "capture_depth", "depth_module_names", "evaluate_depth", "eye_safety",
           "load_depth_module", "measure_depth_metric", "photon_rates", "simulate_dtof",
           "simulate_itof", "simulate_stereo"]
