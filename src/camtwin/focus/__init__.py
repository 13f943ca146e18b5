"""Autofocus: VCM actuator, focus measures, contrast / phase-detection / hybrid AF.

* :mod:`.vcm` — second-order VCM with hysteresis and position noise.
* :mod:`.measures` — focus measures behind one dispatcher (:func:`focus_measure`).
* :mod:`.optics` — lens position ↔ focus, depth of focus, dual-pixel half-pupil images.
* :mod:`.af` — contrast AF (golden section, hill climbing), PDAF, hybrid; :func:`run_autofocus`.
"""

from .af import (AF_METHODS, AfCamera, AfResult, PdafCalibration, calibrate_pdaf, contrast_af,
                 hill_climb_af, hybrid_af, measure_disparity, pdaf_af, run_autofocus)
from .measures import FOCUS_MEASURES, focus_measure
from .optics import (depth_of_focus_um, half_pupil_image, in_focus_position_um, lens_at,
                     pdaf_disparity_um)
from .vcm import Vcm, VcmSpec

__all__ = ["AF_METHODS", "AfCamera", "AfResult", "FOCUS_MEASURES", "PdafCalibration", "Vcm",
           "VcmSpec", "calibrate_pdaf", "contrast_af", "depth_of_focus_um", "focus_measure",
           "half_pupil_image", "hill_climb_af", "hybrid_af", "in_focus_position_um", "lens_at",
           "measure_disparity", "pdaf_af", "pdaf_disparity_um", "run_autofocus"]
