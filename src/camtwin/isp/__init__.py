"""Image signal processor: RawFrame → display image (linear and display-encoded sRGB).

Stages are pure functions (:mod:`~camtwin.isp.stages`, :mod:`~camtwin.isp.defects`,
:mod:`~camtwin.isp.shading`, :mod:`~camtwin.isp.demosaic`, :mod:`~camtwin.isp.denoise`,
:mod:`~camtwin.isp.tone`, :mod:`~camtwin.isp.ccm`), each configured by its own spec; a
:class:`PipelineSpec` (ordered, validated, loadable from YAML) chains them and
:func:`run_pipeline` runs it. :func:`process` runs the pipeline equivalent to a module's
:class:`IspSpec`.
"""

from ..regions import patch_means
from .ccm import calibrate_ccm, ccm_from_color_matrix, fit_ccm
from .config import (BUILTIN_PIPELINES, STAGE_ORDER, STAGE_SPECS, PipelineSpec,
                     load_pipeline)
from .defects import correct_defects
from .demosaic import (DEMOSAIC_METHODS, demosaic, demosaic_bilinear, demosaic_directional_ri,
                       demosaic_malvar2004)
from .denoise import DENOISE_METHODS, denoise, estimate_noise_sigma
from .hdr import (HDR_MERGE_METHODS, LOCAL_TONE_METHODS, HdrMerge, analytic_dynamic_range_db,
                  decompand, merge_hdr, merged_variance, process_hdr, render_hdr,
                  switch_points_e, tone_map_local)
from .pipeline import (IMAGE_EXTENSIONS, PipelineResult, RenderedImage, camera_rgb, process,
                       run_pipeline, save_intermediates, write_image, write_rgb)
from .shading import (apply_shading_gain, gain_from_flat_field, gain_from_lens,
                      gain_from_relative_illumination, load_gain_map)
from .spec import IspSpec
from .strips import StripRendering, render_strips, strip_working_bytes
from .stages import (apply_ccm, apply_white_balance, black_level, clip_highlights,
                     gray_world_gains, srgb_encode, to_uint, wb_gains_from_neutral,
                     white_patch_gains)
from .tone import TONE_CURVES, tone_map, unsharp_mask

__all__ = [
    "BUILTIN_PIPELINES", "DEMOSAIC_METHODS", "DENOISE_METHODS", "IMAGE_EXTENSIONS",
    "IspSpec", "PipelineResult", "PipelineSpec", "RenderedImage", "STAGE_ORDER",
    "STAGE_SPECS", "StripRendering", "TONE_CURVES",
    "apply_ccm", "apply_shading_gain", "apply_white_balance", "black_level", "calibrate_ccm",
    "camera_rgb", "ccm_from_color_matrix", "clip_highlights", "correct_defects", "demosaic",
    "demosaic_bilinear", "demosaic_directional_ri", "demosaic_malvar2004", "denoise",
    "estimate_noise_sigma", "fit_ccm", "gain_from_flat_field", "gain_from_lens",
    "gain_from_relative_illumination", "gray_world_gains", "load_gain_map", "load_pipeline",
    "patch_means", "process", "render_strips", "run_pipeline", "save_intermediates",
    "srgb_encode", "strip_working_bytes",
    "to_uint", "tone_map", "unsharp_mask", "wb_gains_from_neutral", "white_patch_gains",
    "write_image", "write_rgb", "HDR_MERGE_METHODS", "LOCAL_TONE_METHODS", "HdrMerge",
    "analytic_dynamic_range_db", "decompand", "merge_hdr", "merged_variance", "process_hdr",
    "render_hdr", "switch_points_e", "tone_map_local",
]
