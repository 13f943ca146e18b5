"""Camera motion during the exposure: hand shake, motion blur, stabilisation (OIS, EIS).

* :mod:`.shake` — angle / angular-velocity spectra of a tripod, hand-held, walking or
  vehicle-mounted camera and seeded trajectories that follow them.
* :mod:`.blur` — blur kernels and their MTF from a trajectory, rolling-shutter wobble per
  row, a capture through the sensor chain while the camera shakes.
* :mod:`.stabilise` — OIS (gyro noise and bias, loop bandwidth, stroke) and EIS (crop
  margin, per-frame or per-row), stabilisation gain in stops after CIPA DC-011 / ISO 20954-1.
* :mod:`.capture` — a capture while the camera shakes (:func:`camtwin.camera.shoot`
  ``shake=``, ``ois=``; ``camtwin capture --shake``): the channel image warped per time
  sample, every row integrated over its own window.
* :mod:`.metrics` — ``MOTION_METRICS`` for :mod:`camtwin.evaluate` (``ois_gain_stops``,
  ``shake_blur_px``, ``mtf50_loss_shake``, ``eis_jitter_px``).

The burst simulator takes the same model: ``HandheldMotion(shake="handheld")``.
"""

from .blur import (blur_extent_px, blur_kernel, capture_shaken, kernel_mtf, mtf50, row_motion,
                   shake_image, trajectory_otf)
from .shake import (SHAKE_PRESETS, ShakeComponent, ShakeSpec, Trajectory, shake_spec,
                    shake_trajectory, synthesise)
from .stabilise import (CIPA_BLUR_THRESHOLD_UM, OIS_PRESETS, EisResult, EisSpec, OisSpec,
                        StabilisationGain, StabiliserSpec, blur_amount_um, cipa_gain, eis_residual,
                        equivalent_focal_length_mm, module_stabiliser, ois_option, ois_residual,
                        ois_spec, preset_name, resolve_ois, stabilisation_gain)

__all__ = ["SHAKE_PRESETS", "ShakeComponent", "ShakeSpec", "Trajectory", "shake_spec",
           "shake_trajectory", "synthesise", "blur_kernel", "kernel_mtf", "trajectory_otf",
           "blur_extent_px", "mtf50", "row_motion", "shake_image", "capture_shaken",
           "CIPA_BLUR_THRESHOLD_UM", "OIS_PRESETS", "OisSpec", "EisSpec", "EisResult",
           "StabilisationGain", "StabiliserSpec", "module_stabiliser", "ois_option",
           "resolve_ois", "preset_name", "ois_spec", "ois_residual",
           "equivalent_focal_length_mm",
           "blur_amount_um", "cipa_gain", "stabilisation_gain", "eis_residual"]
