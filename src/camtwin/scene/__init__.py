"""Spectral scenes and test charts."""

from .charts import (CHARTS, COLORCHECKER_NAMES, colorchecker, colorchecker_patch_fractions,
                     colorchecker_reflectances, dot_grid, from_rgb, make_chart, siemens_star,
                     slanted_edge, uniform)
from .scene import Scene, illuminant_irradiance, scene_from_reflectance

__all__ = ["Scene", "CHARTS", "COLORCHECKER_NAMES", "colorchecker", "colorchecker_reflectances",
           "colorchecker_patch_fractions", "dot_grid", "from_rgb", "make_chart", "siemens_star", "slanted_edge", "uniform",
           "illuminant_irradiance", "scene_from_reflectance"]
