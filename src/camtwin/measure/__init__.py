"""Measurements on raw and rendered images.

Files are read through one reader, :func:`read_measured_image` (input encoding from the
file or given; raw files linear), which also backs ``camtwin sfr`` and ``camtwin colour``.
"""

from .color import (NoColorChecker, colorchecker_delta_e, colorchecker_report,
                    find_colorchecker, reference_linear_srgb, reference_xyz_d65,
                    verify_colorchecker)
from .imread import MeasuredImage, image_channel, read_measured_image
from .p2020 import (cdp_gaussian, cdp_vs_luminance, contrast_detection_probability,
                    flicker_detection_index, flicker_modulation_index, hdr_test_chart,
                    modulation_mitigation_probability, pwm_capture_distribution,
                    snr_from_patches, snr_vs_luminance)
from .sfr import auto_roi, esfr
from .snr import region_snr

__all__ = ["MeasuredImage", "NoColorChecker", "auto_roi", "colorchecker_delta_e",
           "colorchecker_report", "esfr", "find_colorchecker", "image_channel",
           "read_measured_image", "reference_linear_srgb", "reference_xyz_d65",
           "region_snr", "verify_colorchecker",
           # IEEE P2020 (measure/p2020.py)
           "cdp_gaussian", "cdp_vs_luminance", "contrast_detection_probability",
           "flicker_detection_index", "flicker_modulation_index", "hdr_test_chart",
           "modulation_mitigation_probability",
           "pwm_capture_distribution", "snr_from_patches", "snr_vs_luminance"]
