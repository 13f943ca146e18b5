"""Spectral response of a sensor: QE per channel and photon-counting weights.

For channel c, the photo-electron rate density at the die is

    ė_c(x) = Σ_λ E(λ, x) · QE_c(λ) · λ / (h c) · Δλ      [e⁻ · s⁻¹ · m⁻²]

with E in W·m⁻²·nm⁻¹ and trapezoidal Δλ. :func:`electron_weights` returns the factor
``QE_c(λ)·λ/(hc)·Δλ`` so that the sum is one matrix product.
"""

from __future__ import annotations

import numpy as np

from ..spectra import as_grid
from ..units import photon_energy_j, wavelength_step_nm
from .qe import pigment_cfa_transmission, silicon_qe
from .spec import SensorSpec


def channel_qe(sensor: SensorSpec, wavelengths_nm=None) -> np.ndarray:
    """QE per channel, shape (L, C): C = 3 (R, G, B) for Bayer sensors, 1 for mono."""
    wl = as_grid(wavelengths_nm)
    q = sensor.qe
    diode = q.curve.sample(wl) if q.curve is not None else silicon_qe(
        wl, q.silicon.depth_um, q.silicon.ar_transmission)
    if sensor.cfa == "mono":
        return diode[:, None]
    if q.filters == "pigment":
        filt = pigment_cfa_transmission(wl)
    else:
        f = q.filters
        filt = np.stack([np.interp(wl, f.wavelengths_nm, getattr(f, c), left=0.0, right=0.0)
                         for c in "rgb"], axis=1)
    return diode[:, None] * filt


def electron_weights(sensor: SensorSpec, wavelengths_nm=None,
                     transmission=None) -> np.ndarray:
    """``QE_c(λ)·T(λ)·λ/(hc)·Δλ``, shape (L, C) [e⁻ per J·m⁻²·nm⁻¹ ... i.e. e⁻/(W·m⁻²·nm⁻¹·s)].

    ``transmission`` (L,) optionally folds in a spectral filter in front of the sensor.
    """
    wl = as_grid(wavelengths_nm)
    w = channel_qe(sensor, wl) * (wavelength_step_nm(wl) / photon_energy_j(wl))[:, None]
    if transmission is not None:
        w = w * np.asarray(transmission, dtype=np.float64)[:, None]
    return w
