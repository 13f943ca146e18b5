"""Measurements on raw and rendered images."""

from .color import colorchecker_delta_e, reference_linear_srgb, reference_xyz_d65
from .snr import region_snr

__all__ = ["colorchecker_delta_e", "reference_linear_srgb", "reference_xyz_d65",
           "region_snr"]
