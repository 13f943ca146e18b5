"""Spectral scenes and test charts."""

from .charts import (CHARTS, COLORCHECKER_NAMES, colorchecker, colorchecker_patch_fractions,
                     colorchecker_reflectances, dot_grid, from_rgb, make_chart, siemens_star,
                     slanted_edge, uniform)
from .lights import (LED_COLOURS, PWM, WAVEFORMS, Box, Constant, Disc, LightSource, LitScene,
                     RectifiedMains, Sinusoid, Waveform, add_lights, capture_lit, led_headlamp,
                     led_sign, led_spectrum, light_from_dict, lit_images, lit_rates,
                     load_lights, parse_light, traffic_light, waveform_from_dict)
from .scene import Scene, illuminant_irradiance, scene_from_reflectance

__all__ = ["Scene", "CHARTS", "COLORCHECKER_NAMES", "colorchecker", "colorchecker_reflectances",
           "colorchecker_patch_fractions", "dot_grid", "from_rgb", "make_chart", "siemens_star", "slanted_edge", "uniform",
           "illuminant_irradiance", "scene_from_reflectance",
           # time-modulated light sources (camtwin.scene.lights)
           "Waveform", "PWM", "RectifiedMains", "Sinusoid", "Constant", "WAVEFORMS",
           "waveform_from_dict", "Box", "Disc", "LightSource", "LED_COLOURS", "led_spectrum",
           "light_from_dict", "parse_light", "load_lights", "traffic_light", "led_headlamp",
           "led_sign", "LitScene", "add_lights", "lit_images", "lit_rates", "capture_lit"]
