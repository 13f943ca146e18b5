"""Lens position → focus, depth of focus, and the frames an AF loop sees.

Thin lens (Gaussian lens equation 1/f = 1/s + 1/v). The VCM moves the lens by p [µm] from
its infinity position, so the lens–sensor distance is v = f + p and the lens is focused at

    s_f = f·v/(v − f) = f·(f + p)/p.

A target at distance D images at v_D = f·D/(D − f), i.e. it is in focus at
p*(D) = f²/(D − f). The longitudinal focus error at the sensor δ = v − v_D = p − p*
equals the lens-position error (the lens moves, the sensor does not), and its blur is
rendered by :func:`camtwin.optics.form_image` through ``LensSpec.focus_distance_m``
(W₀₂₀ = δ/(8N_w²), pupil PSFs).

Depth of focus: a blur circle of diameter c is accepted, so |δ| ≤ N_w·c and the total
depth of focus is DOF = 2·N_w·c (e.g. S. F. Ray, *Applied Photographic Optics*, 3rd ed.,
§6.6); camtwin takes c = one pixel pitch (the smallest blur a sensor can resolve). The
diffraction (Rayleigh λ/4) depth of focus ±2λN_w² is reported alongside.

Dual-pixel PDAF frames: each photodiode half under a microlens sees one half of the exit
pupil (x < 0 or x > 0). The half-pupil images are rendered with the half-pupil OTF,
OTF_½(ν) = (P_½ ⋆ P_½)(λN_wν) / (P ⋆ P)(0) (the autocorrelation of the half pupil,
normalised by the *full* pupil so that left + right = the full image), applied per band
to the un-blurred optical image (:func:`camtwin.optics.form_image` with
``diffraction=False``). A defocused half pupil shifts its image: the centroid of a half
disc lies at 4/(3π) of the pupil radius and the transverse ray aberration of defocus is
ε = 4N_wW₀₂₀ρ, so left and right images are displaced by

    disparity = 4δ / (3π·N_w)    [µm at the sensor]      (geometric optics)

which :func:`camtwin.focus.af.calibrate_pdaf` measures and inverts.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sfft

from ..errors import ConfigError

#: Wavelength grid of AF frames [nm]: 400–700 nm in 10 nm steps (the IR-cut filter blocks
#: the rest; 31 bands keep one AF frame near 0.1 s).
AF_WAVELENGTHS_NM = np.arange(400.0, 701.0, 10.0)
#: Smallest lens position [µm] (p = 0 is focus at infinity; s_f must stay finite).
MIN_POSITION_UM = 0.05


def in_focus_position_um(lens, distance_m: float) -> float:
    """p*(D) = f²/(D − f) [µm]."""
    f = lens.focal_length_mm
    d = distance_m * 1e3
    if not d > f:
        raise ConfigError(f"distance {distance_m} m must exceed the focal length ({f} mm)")
    return f * f / (d - f) * 1e3


def lens_at(lens, position_um: float, distance_m: float):
    """The LensSpec with the lens at ``position_um`` and the target at ``distance_m``."""
    f = lens.focal_length_mm
    p = max(float(position_um), MIN_POSITION_UM) * 1e-3  # mm
    return lens.replace(object_distance_m=float(distance_m),
                        focus_distance_m=f * (f + p) / p * 1e-3)


def depth_of_focus_um(lens, pixel_pitch_um: float, distance_m: float) -> dict:
    """Total depth of focus 2·N_w·c [µm] (c = pixel pitch) and the diffraction one 4λN_w²
    (λ = 0.55 µm), at the in-focus lens position for ``distance_m``."""
    ln = lens_at(lens, in_focus_position_um(lens, distance_m), distance_m)
    nw = ln.working_f_number
    return {"dof_um": 2 * nw * pixel_pitch_um, "dof_diffraction_um": 4 * 0.55 * nw * nw,
            "working_f_number": nw, "coc_um": pixel_pitch_um}


def pdaf_disparity_um(defocus_um: float, working_f_number: float) -> float:
    """Geometric dual-pixel disparity 4δ/(3πN_w) [µm] (module docstring)."""
    return 4.0 * defocus_um / (3.0 * math.pi * working_f_number)


def half_pupil_otf(coeffs_um: dict, wavelength_nm: float, working_f_number: float,
                   side: str):
    """OTF of the left (``side="left"``, pupil x < 0) or right half pupil on a centred grid,
    normalised by the full pupil's OTF(0) (so its own OTF(0) ≈ ½), and the grid spacing
    [cycles/µm] — same conventions as :func:`camtwin.optics.pupil.otf_grid`."""
    from ..optics.pupil import pupil_function, pupil_samples_for

    if side not in ("left", "right"):
        raise ConfigError(f"side = {side!r}: valid choices are left, right")
    k = pupil_samples_for(coeffs_um, wavelength_nm)
    p = pupil_function(coeffs_um, wavelength_nm, samples=k, pad=2)
    n = p.shape[0]
    x = (np.arange(n) - n // 2)[None, :]
    full_power = float(np.sum(np.abs(p) ** 2))
    p = p * ((x < 0) if side == "left" else (x >= 0))
    a = np.fft.fft2(np.fft.ifftshift(p))
    otf = np.fft.fftshift(np.fft.ifft2(a.real**2 + a.imag**2))
    otf /= full_power if full_power else 1.0  # ifft2(|FFT p|²)(0) = Σ|p|² (Parseval)
    return otf, 1.0 / (k * wavelength_nm * 1e-3 * working_f_number)


def half_pupil_image(oi_sharp, lens, side: str):
    """Optical image seen through one half of the pupil (module docstring): each band of
    the un-blurred ``oi_sharp`` filtered by its half-pupil OTF (reflect-padded FFT)."""
    from dataclasses import replace

    from ..optics.pupil import sample_otf

    irr = oi_sharp.irradiance
    n_b, h, w = irr.shape
    pitch = oi_sharp.sample_pitch_um
    nw = lens.working_f_number
    coeffs = lens.zernike_um(0.0)
    pad = min(max(h, w), int(math.ceil((6 * 1.22 * 0.7 * nw + 2 * abs(lens.defocus_um) / nw)
                                       / pitch)) + 2)
    padded = np.pad(irr, ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
    hp, wp = padded.shape[1:]
    fy = sfft.fftfreq(hp, d=pitch)[:, None]
    fx = sfft.rfftfreq(wp, d=pitch)[None, :]
    spec = sfft.rfft2(padded)
    for b, lam in enumerate(oi_sharp.wavelengths_nm):
        otf, dnu = half_pupil_otf(coeffs, float(lam), nw, side)
        spec[b] *= sample_otf(otf, dnu, fy, fx)
    out = sfft.irfft2(spec, s=(hp, wp))[:, pad:pad + h, pad:pad + w]
    return replace(oi_sharp, irradiance=np.maximum(out, 0.0).astype(np.float32))
