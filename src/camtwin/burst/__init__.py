"""Burst photography: handheld raw bursts, tile alignment, robust merge, HDR brackets.

* :mod:`.simulate` — N raw frames of one optical image with handheld motion and moving
  objects (:func:`simulate_burst`).
* :mod:`.align` — coarse-to-fine tile alignment (Hasinoff et al. 2016, §4).
* :mod:`.merge` — frequency-domain robust merge with the sensor noise model (§5).
* :mod:`.hdr` — exposure brackets merged in the raw domain, tone mapped by the ISP.
* :mod:`.quality` — flat-region noise and SNR of raw mosaics.
"""

from .align import Alignment, align_burst, check_burst, grey_image, tile_grid
from .merge import MERGE_C, MergeResult, merge_burst, noise_model_dn
from .simulate import (Burst, HandheldMotion, MovingObject, burst_optical_image, burst_target,
                       simulate_burst, warp_optical_image)

__all__ = ["Alignment", "Burst", "HandheldMotion", "MERGE_C", "MergeResult", "MovingObject",
           "align_burst", "burst_optical_image", "burst_target", "check_burst", "grey_image",
           "merge_burst", "noise_model_dn", "simulate_burst", "tile_grid",
           "warp_optical_image"]
