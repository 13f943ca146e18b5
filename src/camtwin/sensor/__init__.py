"""Image sensors: spec, spectral response, capture."""

from .capture import capture, auto_exposure_s
from .response import channel_qe, electron_weights
from .spec import QESpec, SensorSpec, SiliconModel, SpectralCurve

__all__ = ["SensorSpec", "QESpec", "SiliconModel", "SpectralCurve", "capture",
           "auto_exposure_s", "channel_qe", "electron_weights"]
