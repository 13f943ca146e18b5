"""Optics: lens specs, diffraction and pupil-function PSF/OTF, image formation."""

from .field import apply_lens_blur, relative_illumination_map, warp_geometry
from .image import (OpticalImage, apply_diffraction, apply_gaussian_blur, form_image,
                    full_field_um, relative_illumination_cos4)
from .lens import AberrationSpec, DistortionSpec, IRCutSpec, LensSpec, ShadingSpec
from .psf import airy_psf, diffraction_mtf, gaussian_mtf
from .pupil import otf_grid, pupil_function, pupil_psf

__all__ = ["LensSpec", "IRCutSpec", "AberrationSpec", "DistortionSpec", "ShadingSpec",
           "OpticalImage", "form_image", "apply_diffraction", "apply_gaussian_blur",
           "apply_lens_blur",
           "warp_geometry", "relative_illumination_map", "relative_illumination_cos4",
           "full_field_um", "airy_psf", "diffraction_mtf", "gaussian_mtf", "otf_grid",
           "pupil_function", "pupil_psf"]
