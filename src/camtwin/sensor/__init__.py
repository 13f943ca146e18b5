"""Image sensors: spec, spectral response, capture."""

from .capture import capture, auto_exposure_s
from .response import channel_qe, electron_weights
from .noise import NoiseSpec
from .pixel import PixelSpec
from .shutter import ShutterSpec
from .spec import ChannelCurves, ConversionMode, QESpec, SensorSpec, SpectralCurve

__all__ = ["SensorSpec", "QESpec", "ChannelCurves", "ConversionMode", "NoiseSpec", "PixelSpec",
           "ShutterSpec", "SpectralCurve", "capture",
           "auto_exposure_s", "channel_qe", "electron_weights"]
