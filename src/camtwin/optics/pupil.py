"""Pupil-function optics: PSF and OTF of an aberrated circular pupil.

Scalar Fraunhofer diffraction (Goodman, *Introduction to Fourier Optics*, 3rd ed., §6.2–6.4).
The generalised pupil function in normalised pupil coordinates ρ = (u, v), |ρ| ≤ 1, is

    P(ρ) = A(ρ) · exp(i 2π W(ρ) / λ),   W(ρ) = Σ_j c_j Z_j(ρ)   [µm of OPD, Noll Zernikes]

A is the clear aperture (1 inside the unit circle, 0 outside: a binary edge; an
anti-aliased amplitude ramp would act as a one-sample apodisation and bias the low-frequency
MTF by ≈ 0.6/K, whereas the binary digitisation errors average out). The
pupil edge corresponds to the coherent cut-off 1/(2 λ N_w); so, with K samples across the
pupil diameter on an N = 2K (× ``pad``) grid:

    amplitude PSF  a = FFT(P)             sample spacing  Δx = K·λ·N_w / N   [µm]
    PSF            |a|² / Σ|a|²·Δx²       [µm⁻²], ∫ PSF dA = 1
    OTF            IFFT(|a|²) / OTF(0)    sample spacing  Δν = 1 / (K·λ·N_w) [cycles/µm]

The OTF is the normalised autocorrelation of P; it vanishes beyond ν_c = 1/(λ N_w), so the
N = 2K grid holds it without wrap-around. For an aberration-free pupil it equals the
analytic diffraction MTF (:func:`camtwin.optics.psf.diffraction_mtf`); ``K = 64`` keeps the
difference below 2·10⁻³ (tested).

The OTF grid is resampled onto an image's FFT frequencies by bilinear interpolation
(numba kernel :func:`camtwin.optics._kernels.multiply_otf_bilinear`).
"""

from __future__ import annotations

import numpy as np

from .zernike import wavefront

#: Default samples across the pupil diameter.
PUPIL_SAMPLES = 64
#: Upper bound of the pupil sampling (strong defocus needs more samples).
MAX_PUPIL_SAMPLES = 512


def pupil_samples_for(coefficients_um: dict, wavelength_nm: float) -> int:
    """Samples K across the pupil so that the wavefront phase is well sampled and the PSF fits
    in the K·λ·N_w field: K ≥ 64 and K ≥ 16 × the peak-to-valley wavefront in waves."""
    lam = wavelength_nm * 1e-3
    pv = sum(abs(c) * 2.0 * np.sqrt(8.0) for c in coefficients_um.values()) / lam
    k = max(PUPIL_SAMPLES, int(np.ceil(16 * pv / 16.0)) * 16)
    return min(k, MAX_PUPIL_SAMPLES)


def pupil_function(coefficients_um: dict, wavelength_nm: float, *, samples: int = PUPIL_SAMPLES,
                   pad: int = 2, rotation_rad: float = 0.0) -> np.ndarray:
    """Complex pupil P on an (N, N) grid, N = ``samples``·``pad``, centred at N/2.

    ``coefficients_um``: Noll index → RMS OPD [µm]; ``rotation_rad`` rotates the aberration
    pattern (a field point at azimuth φ sees the +x-axis pattern rotated by φ).
    """
    n = samples * pad
    u = (np.arange(n) - n // 2) * (2.0 / samples)
    x, y = np.meshgrid(u, u)
    rho = np.hypot(x, y)
    amp = (rho <= 1.0).astype(np.float64)  # binary clear aperture (see module docstring)
    if not coefficients_um:
        return amp.astype(np.complex128)
    theta = np.arctan2(y, x) - rotation_rad
    inside = amp > 0
    w = np.zeros_like(rho)
    w[inside] = wavefront(coefficients_um, np.minimum(rho[inside], 1.0), theta[inside])
    return amp * np.exp(2j * np.pi * w / (wavelength_nm * 1e-3))


def otf_grid(coefficients_um: dict, wavelength_nm: float, working_f_number: float, *,
             samples: int | None = None, rotation_rad: float = 0.0):
    """OTF of the pupil on a centred (N, N) grid and its spacing [cycles/µm].

    Returns ``(otf, dnu)``: complex128 array with OTF(0) = 1 at index [N/2, N/2] (frequency
    ν = (index − N/2)·dnu along each axis: rows = y, columns = x).
    """
    k = samples or pupil_samples_for(coefficients_um, wavelength_nm)
    p = pupil_function(coefficients_um, wavelength_nm, samples=k, pad=2,
                       rotation_rad=rotation_rad)
    a = np.fft.fft2(np.fft.ifftshift(p))
    intensity = (a.real**2 + a.imag**2)
    otf = np.fft.fftshift(np.fft.ifft2(intensity))
    n = otf.shape[0]
    otf /= otf[n // 2, n // 2]
    return otf, 1.0 / (k * wavelength_nm * 1e-3 * working_f_number)


def pupil_psf(coefficients_um: dict, wavelength_nm: float, working_f_number: float, *,
              samples: int = PUPIL_SAMPLES, pad: int = 8, rotation_rad: float = 0.0):
    """PSF [µm⁻²] of the pupil on a centred (N, N) grid (N = samples·pad) and its spacing [µm].

    ∫ PSF dA = Σ PSF·Δx² = 1. Spacing Δx = λ·N_w·samples/N = λ·N_w/pad.
    """
    p = pupil_function(coefficients_um, wavelength_nm, samples=samples, pad=pad,
                       rotation_rad=rotation_rad)
    a = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(p)))
    psf = a.real**2 + a.imag**2
    dx = wavelength_nm * 1e-3 * working_f_number / pad
    return psf / (psf.sum() * dx * dx), dx


def sample_otf(otf: np.ndarray, dnu: float, fy, fx) -> np.ndarray:
    """NumPy reference: bilinear interpolation of a centred OTF grid at frequencies
    (fy, fx) [cycles/µm] (broadcast); 0 outside the grid."""
    n = otf.shape[0]
    fy, fx = np.broadcast_arrays(np.asarray(fy, float), np.asarray(fx, float))
    gy = fy / dnu + n // 2
    gx = fx / dnu + n // 2
    i0 = np.floor(gy).astype(int)
    j0 = np.floor(gx).astype(int)
    ty, tx = gy - i0, gx - j0
    out = np.zeros(fy.shape, dtype=np.complex128)
    ok = (i0 >= 0) & (j0 >= 0) & (i0 + 1 < n) & (j0 + 1 < n)
    i, j, a, b = i0[ok], j0[ok], ty[ok], tx[ok]
    out[ok] = ((1 - a) * (1 - b) * otf[i, j] + (1 - a) * b * otf[i, j + 1]
               + a * (1 - b) * otf[i + 1, j] + a * b * otf[i + 1, j + 1])
    return out


def mtf_radial(coefficients_um: dict, wavelength_nm: float, working_f_number: float,
               freq_cyc_per_um, *, angle_rad: float = 0.0, samples: int | None = None):
    """|OTF| along the direction ``angle_rad`` at frequencies ``freq_cyc_per_um``."""
    otf, dnu = otf_grid(coefficients_um, wavelength_nm, working_f_number, samples=samples)
    f = np.asarray(freq_cyc_per_um, dtype=np.float64)
    return np.abs(sample_otf(otf, dnu, f * np.sin(angle_rad), f * np.cos(angle_rad)))


def geometric_blur_radius_um(coefficients_um: dict, working_f_number: float) -> float:
    """Largest transverse ray aberration |ε| = 2·N_w·|∇W| [µm] over the pupil (W in µm,
    ∇ in normalised pupil coordinates) — the geometric extent of the aberrated PSF."""
    if not coefficients_um:
        return 0.0
    n = 65
    u = np.linspace(-1, 1, n)
    x, y = np.meshgrid(u, u)
    rho = np.hypot(x, y)
    w = wavefront(coefficients_um, np.minimum(rho, 1.0), np.arctan2(y, x))
    gy, gx = np.gradient(w, u, u)
    g = np.hypot(gx, gy)[rho <= 1.0]
    return float(2.0 * working_f_number * g.max())
