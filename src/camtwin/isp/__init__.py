"""Image signal processor: RawFrame → RenderedImage (linear and display-encoded sRGB).

Pipeline: black level → white balance → highlight clip → demosaic → CCM → exposure gain →
tone. Stages are pure functions in :mod:`camtwin.isp.stages`; demosaic methods are
registered in :data:`DEMOSAIC_METHODS`; :func:`process` chains them per an :class:`IspSpec`.
"""

from ..regions import patch_means
from .ccm import calibrate_ccm, fit_ccm
from .demosaic import DEMOSAIC_METHODS, demosaic, demosaic_bilinear
from .pipeline import IMAGE_EXTENSIONS, RenderedImage, process, write_image
from .spec import IspSpec
from .stages import (apply_ccm, apply_white_balance, black_level, clip_highlights,
                     gray_world_gains, srgb_encode, to_uint, wb_gains_from_neutral)

__all__ = [
    "DEMOSAIC_METHODS", "IMAGE_EXTENSIONS", "IspSpec", "RenderedImage",
    "apply_ccm", "apply_white_balance", "black_level", "calibrate_ccm", "clip_highlights",
    "demosaic", "demosaic_bilinear", "fit_ccm", "gray_world_gains", "patch_means",
    "process", "srgb_encode", "to_uint", "wb_gains_from_neutral", "write_image",
]
