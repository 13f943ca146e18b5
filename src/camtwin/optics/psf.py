"""Diffraction-limited point spread function and optical transfer function.

For an aberration-free circular pupil with image-side working f-number N_w, in incoherent
light of wavelength λ (Goodman, *Introduction to Fourier Optics*, 3rd ed., §6.3):

    PSF(r) = (π / (4 λ² N_w²)) · [2 J₁(v)/v]²,   v = π r / (λ N_w)      (integrates to 1)
    MTF(ν) = (2/π) · [acos(s) − s √(1 − s²)],    s = ν / ν_c,  ν_c = 1/(λ N_w),  0 for s ≥ 1

The OTF is real and non-negative for this pupil, so MTF = OTF. camtwin applies it in the
frequency domain on the optical-image grid, band by band, *before* the sensor integrates
over wavelength: the blur is polychromatic, red blurs more than blue.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def airy_psf(r_um, wavelength_nm: float, working_f_number: float) -> np.ndarray:
    """Airy pattern intensity [µm⁻²] at radius ``r_um``; ∫ PSF dA = 1."""
    lam_um = wavelength_nm * 1e-3
    v = np.pi * np.asarray(r_um, dtype=np.float64) / (lam_um * working_f_number)
    with np.errstate(invalid="ignore", divide="ignore"):
        core = np.where(v == 0, 1.0, (2.0 * special.j1(v) / v) ** 2)
    return core * np.pi / (4.0 * (lam_um * working_f_number) ** 2)


def diffraction_mtf(freq_cyc_per_um, wavelength_nm, working_f_number: float):
    """Diffraction-limited MTF of a circular pupil (dimensionless, 0..1).

    ``freq_cyc_per_um`` and ``wavelength_nm`` broadcast against each other.
    """
    lam_um = np.asarray(wavelength_nm, dtype=np.float64) * 1e-3
    s = np.clip(np.abs(np.asarray(freq_cyc_per_um)) * lam_um * working_f_number, 0.0, 1.0)
    return (2.0 / np.pi) * (np.arccos(s) - s * np.sqrt(1.0 - s * s))


def gaussian_psf(r_um, sigma_um: float) -> np.ndarray:
    """Circular Gaussian PSF [µm⁻²]: exp(−r²/(2σ²)) / (2πσ²); ∫ PSF dA = 1."""
    r = np.asarray(r_um, dtype=np.float64)
    return np.exp(-0.5 * (r / sigma_um) ** 2) / (2.0 * np.pi * sigma_um**2)


def gaussian_mtf(freq_cyc_per_um, sigma_um: float) -> np.ndarray:
    """MTF of :func:`gaussian_psf` (its Fourier transform): exp(−2π²σ²ν²)."""
    nu = np.asarray(freq_cyc_per_um, dtype=np.float64)
    return np.exp(-2.0 * np.pi**2 * sigma_um**2 * nu**2)
