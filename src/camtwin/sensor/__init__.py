"""Image sensors: spec, spectral response, pixel physics, timing, capture."""

from .capture import auto_exposure_s, capture, electron_rate, hdr_frame
from .fixed_pattern import FixedPattern
from .hdr import (HDR_MODES, DolSpec, HdrComponent, HdrRaw, HdrSpec, LoficSpec, PwlSpec,
                  SplitPixelSpec, VeryShortSpec, capture_hdr, component_models, hdr_expose)
from .noise import NoiseSpec
from .optical import apply_crosstalk, cra_map, crosstalk_kernel
from .pixel import PixelSpec
from .pixels import simulate_pixels, simulate_pixels_reference
from .qe import load_qe_csv, pixel_qe
from .response import channel_qe, electron_weights
from .shutter import ShutterSpec
from .spec import ChannelCurves, ConversionMode, QESpec, SensorSpec, SpectralCurve
from .timing import (Flicker, exposure_window_means, exposure_windows, modulated_rate,
                     row_start_times, window_means)

__all__ = ["SensorSpec", "QESpec", "ChannelCurves", "ConversionMode", "NoiseSpec", "PixelSpec",
           "ShutterSpec", "SpectralCurve", "Flicker", "FixedPattern", "capture",
           "electron_rate", "auto_exposure_s", "channel_qe", "electron_weights", "pixel_qe",
           "load_qe_csv", "apply_crosstalk", "cra_map", "crosstalk_kernel",
           "simulate_pixels", "simulate_pixels_reference", "HDR_MODES", "HdrSpec", "DolSpec",
           "SplitPixelSpec", "LoficSpec", "PwlSpec", "VeryShortSpec", "HdrComponent", "HdrRaw",
           "capture_hdr", "hdr_expose", "component_models", "hdr_frame",
           "window_means", "exposure_windows", "exposure_window_means", "modulated_rate",
           "row_start_times"]
