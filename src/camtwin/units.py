"""Physical constants and unit conversions used across camtwin.

Conventions
-----------
* Wavelength ``wavelengths_nm`` in nanometres.
* Spectral radiance ``L`` in W·sr⁻¹·m⁻²·nm⁻¹, spectral irradiance ``E`` in W·m⁻²·nm⁻¹.
* Photon quantities carry ``photons`` in their names (photons·s⁻¹·m⁻²·nm⁻¹ ...).

Photometry uses the CIE 1924 photopic luminous efficiency V(λ) (from colour-science) and the
maximum luminous efficacy K_m = 683 lm/W (SI definition of the candela, 540 THz ≈ 555 nm):

    E_v [lx] = K_m · Σ E(λ) · V(λ) · Δλ

References
----------
CODATA 2018 exact values for h and c (SI 2019 redefinition). CIE 018:2019 for K_m.
"""

from __future__ import annotations

import numpy as np

#: Planck constant [J·s] (exact, SI 2019).
PLANCK_J_S = 6.62607015e-34
#: Speed of light in vacuum [m/s] (exact).
SPEED_OF_LIGHT_M_S = 299792458.0
#: Boltzmann constant [eV/K] (exact).
BOLTZMANN_EV_K = 8.617333262e-5
#: Elementary charge [C] (exact).
ELEMENTARY_CHARGE_C = 1.602176634e-19
#: Maximum luminous efficacy of photopic vision [lm/W].
K_M_LM_PER_W = 683.0


def photon_energy_j(wavelengths_nm):
    """Energy of one photon, ``E = h·c/λ`` [J], for wavelength(s) in nm."""
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    return PLANCK_J_S * SPEED_OF_LIGHT_M_S / (wl * 1e-9)


def photon_energy_ev(wavelengths_nm):
    """Energy of one photon [eV]: ``1239.84198… / λ[nm]``."""
    return photon_energy_j(wavelengths_nm) / ELEMENTARY_CHARGE_C


def watts_to_photons_per_s(power_w, wavelengths_nm):
    """Convert radiant power (or any per-W quantity) to photon rate: ``N = P·λ/(h·c)``.

    Broadcasts ``power_w`` against ``wavelengths_nm``; units of the result are those of
    ``power_w`` with W replaced by photons/s.
    """
    return np.asarray(power_w, dtype=np.float64) / photon_energy_j(wavelengths_nm)


def photons_per_s_to_watts(photons_per_s, wavelengths_nm):
    """Inverse of :func:`watts_to_photons_per_s`: ``P = N·h·c/λ``."""
    return np.asarray(photons_per_s, dtype=np.float64) * photon_energy_j(wavelengths_nm)


def wavelength_step_nm(wavelengths_nm) -> np.ndarray:
    """Integration weights Δλ [nm] for a (possibly non-uniform) ascending grid.

    Trapezoidal weights: interior points get (λ[i+1]-λ[i-1])/2, the two ends half a step.
    For a uniform grid this is Δλ everywhere except Δλ/2 at the ends, so ``Σ f·w`` is the
    trapezoidal integral of f.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    if wl.ndim != 1 or wl.size < 2:
        raise ValueError("wavelength grid needs at least two samples")
    w = np.empty_like(wl)
    d = np.diff(wl)
    w[0] = d[0] / 2
    w[-1] = d[-1] / 2
    w[1:-1] = (d[:-1] + d[1:]) / 2
    return w
