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
from .qe import cfa_filter_transmission, pixel_qe
from .spec import SensorSpec


def channel_qe(sensor: SensorSpec, wavelengths_nm=None) -> np.ndarray:
    """QE per CFA channel, shape (L, C), channels in ``sensor.channels`` order.

    Measured per-channel curves win; else a measured bare-pixel curve or the pixel model
    (:func:`camtwin.sensor.qe.pixel_qe`) times the colour filter of each channel.
    """
    wl = as_grid(wavelengths_nm)
    q = sensor.qe
    if q.channel_curves is not None:
        return np.stack([q.channel_curves.sample(c, wl) for c in sensor.channels], axis=1)
    diode = q.curve.sample(wl) if q.curve is not None else pixel_qe(
        wl, sensor.pixel, sensor.illumination, pixel_pitch_um=sensor.pixel_pitch_um)
    if q.filters == "pigment":
        filt = cfa_filter_transmission(sensor.channels, wl)
    else:
        filt = np.stack([q.filters.sample(c, wl) for c in sensor.channels], axis=1)
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
