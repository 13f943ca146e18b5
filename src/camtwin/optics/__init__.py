"""Optics: lens specs, diffraction PSF/MTF, image formation."""

from .image import OpticalImage, apply_diffraction, form_image, relative_illumination_cos4
from .lens import IRCutSpec, LensSpec
from .psf import airy_psf, diffraction_mtf

__all__ = ["LensSpec", "IRCutSpec", "OpticalImage", "form_image", "apply_diffraction",
           "relative_illumination_cos4", "airy_psf", "diffraction_mtf"]
