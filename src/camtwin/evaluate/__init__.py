"""Does this module fit my product? Application profiles, module metrics, verdicts."""

from .metrics import (METRICS, MetricResult, analytic_lux_at_snr, image_speed_px_s, level_at_snr,
                      measure, snr_curve)
from .profiles import ApplicationSpec, Requirement, builtin_applications, load_application
from .verdict import Evaluation, evaluate

__all__ = ["METRICS", "MetricResult", "measure", "snr_curve", "level_at_snr",
           "analytic_lux_at_snr", "ApplicationSpec", "Requirement", "builtin_applications",
           "load_application", "Evaluation", "evaluate", "image_speed_px_s"]
