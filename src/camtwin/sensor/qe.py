"""Spectral quantum efficiency: silicon photodiode × colour filter.

Silicon absorption
------------------
α(λ) [cm⁻¹] of intrinsic crystalline silicon at 300 K is interpolated (linearly in log α)
from the tabulated values of Green (2008), 10 nm steps 380–500 nm and 50 nm steps beyond.
A photodiode collecting every carrier generated in the top ``d`` of silicon has

    QE_Si(λ) = T_AR · (1 − exp(−α(λ) d))

T_AR is the (flat) transmission of the anti-reflection stack. A later issue adds diffusion
collection, FSI fill factor, metal-stack losses and temperature dependence; measured curves
(tabulated in the spec) always win.

References
----------
M. A. Green, "Self-consistent optical parameters of intrinsic silicon at 300 K including
temperature coefficients", Sol. Energy Mater. Sol. Cells 92, 1305–1310 (2008), Table 1.
C. Schinke et al., "Uncertainty analysis for the coefficient of band-to-band absorption of
crystalline silicon", AIP Advances 5, 067168 (2015) — independent data used in the tests.
"""

from __future__ import annotations

import numpy as np

# Green (2008) Table 1, α at 300 K [cm⁻¹].
_GREEN2008_NM = np.array([380, 390, 400, 410, 420, 430, 440, 450, 460, 470, 480, 490, 500,
                          550, 600, 650, 700, 750, 800, 850, 900, 950, 1000, 1050, 1100],
                         dtype=np.float64)
_GREEN2008_ALPHA_CM = np.array([2.93e5, 1.50e5, 9.52e4, 6.74e4, 5.00e4, 3.92e4, 3.11e4,
                                2.55e4, 2.10e4, 1.72e4, 1.48e4, 1.27e4, 1.11e4, 6.39e3,
                                4.14e3, 2.81e3, 1.90e3, 1.30e3, 8.50e2, 5.35e2, 3.06e2,
                                1.57e2, 6.40e1, 1.63e1, 3.50e0])


def silicon_absorption_cm(wavelengths_nm) -> np.ndarray:
    """Absorption coefficient α of crystalline silicon at 300 K [cm⁻¹] (Green 2008).

    Log-linear interpolation of the tabulated values; outside 380–1100 nm the end slopes
    of log α are extrapolated (steeply rising into the UV, falling past the band gap).
    """
    wl_in = np.asarray(wavelengths_nm, dtype=np.float64)
    wl = np.atleast_1d(wl_in)
    log_a = np.log(_GREEN2008_ALPHA_CM)
    out = np.interp(wl, _GREEN2008_NM, log_a)
    lo, hi = wl < _GREEN2008_NM[0], wl > _GREEN2008_NM[-1]
    s_lo = (log_a[1] - log_a[0]) / (_GREEN2008_NM[1] - _GREEN2008_NM[0])
    s_hi = (log_a[-1] - log_a[-2]) / (_GREEN2008_NM[-1] - _GREEN2008_NM[-2])
    out[lo] = log_a[0] + s_lo * (wl[lo] - _GREEN2008_NM[0])
    out[hi] = log_a[-1] + s_hi * (wl[hi] - _GREEN2008_NM[-1])
    return np.exp(out).reshape(wl_in.shape)


def silicon_qe(wavelengths_nm, depth_um: float, ar_transmission: float) -> np.ndarray:
    """Photodiode QE ``T_AR·(1 − exp(−α·d))`` (dimensionless, 0..1) for collection depth d [µm]."""
    alpha = silicon_absorption_cm(wavelengths_nm)
    return ar_transmission * -np.expm1(-alpha * depth_um * 1e-4)


def pixel_qe(wavelengths_nm, pixel, illumination: str) -> np.ndarray:
    """QE of the bare pixel (no colour filter) from its architecture, dimensionless 0..1.

    BSI:  QE = T_AR · (1 − exp(−α d))
    FSI:  QE = T_AR · T_stack · F_opt · (1 − exp(−α d)),  F_opt = ff + (1 − ff)·η_μlens

    d = ``pixel.epi_thickness_um``; ff = ``pixel.fill_factor`` (default 0.5 for FSI);
    T_stack = ``pixel.metal_stack_transmission``; η_μlens = ``pixel.microlens_efficiency``.
    Light enters BSI through the thinned back side: no metal in the way and the whole pixel
    area collects.
    """
    base = silicon_qe(wavelengths_nm, pixel.epi_thickness_um, pixel.ar_transmission)
    if illumination == "bsi":
        return base
    ff = 0.5 if pixel.fill_factor is None else pixel.fill_factor
    optical_fill = ff + (1.0 - ff) * pixel.microlens_efficiency
    return base * pixel.metal_stack_transmission * optical_fill


def pigment_cfa_transmission(wavelengths_nm) -> np.ndarray:
    """Generic pigment Bayer colour-filter transmissions, shape (L, 3) for (R, G, B).

    A smooth model of organic pigment CFAs as seen in published CMOS sensor QE charts
    (e.g. Sony IMX and OMNIVISION datasheet spectral-response plots): blue and green are
    Gaussian pass bands (peaks 0.90 at 455 nm and 535 nm, FWHM 95 nm and 100 nm), red is a
    logistic long-pass edge at 590 nm; all three pigments become transparent in the NIR
    (logistic rise centred at 810 nm for G/B, the reason a colour camera needs an IR-cut
    filter). Each curve keeps a 1 % floor of leakage. This is a model, not a measurement;
    a sensor spec may give measured curves instead.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)

    def gauss(c, fwhm):
        s = fwhm / 2.3548200450309493
        return np.exp(-0.5 * ((wl - c) / s) ** 2)

    def logistic(c, w):
        return 1.0 / (1.0 + np.exp(-(wl - c) / w))

    nir = logistic(810.0, 18.0)
    r = 0.92 * logistic(590.0, 9.0)
    g = np.maximum(0.90 * gauss(535.0, 100.0), 0.92 * nir)
    b = np.maximum(0.90 * gauss(455.0, 95.0), 0.92 * nir)
    return np.clip(np.stack([r, g, b], axis=1), 0.01, 1.0)


def cfa_filter_transmission(channels, wavelengths_nm) -> np.ndarray:
    """Transmission of the generic pigment filter of each named channel, shape (L, C).

    R, G, B: :func:`pigment_cfa_transmission`; M (mono) and C (clear): no filter (1.0).
    IR: a visible-blocking (black) pigment that passes the NIR like the colour pigments do.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    rgb = pigment_cfa_transmission(wl)
    cols = {"R": rgb[:, 0], "G": rgb[:, 1], "B": rgb[:, 2], "M": np.ones_like(wl),
            "C": np.ones_like(wl),
            "IR": np.clip(0.92 / (1.0 + np.exp(-(wl - 810.0) / 18.0)), 0.01, 1.0)}
    return np.stack([cols[c] for c in channels], axis=1)
