"""Spectral quantum efficiency: silicon photodiode × pixel optics × colour filter.

The bare-pixel QE (no colour filter) is the product of three factors, each a function of
wavelength λ and of the fields of :class:`~camtwin.sensor.pixel.PixelSpec`:

    QE(λ) = T_AR(λ) · O(λ) · IQE(λ)

1. **Anti-reflection coating**, T_AR(λ) (:func:`ar_transmission`): flat ``ar_transmission``,
   or a single quarter-wave film of index ``ar_index`` designed for ``ar_design_nm``
   between oxide (n₀ = 1.46) and silicon, whose normal-incidence reflectance R(λ) follows
   the thin-film formula (:func:`thin_film_reflectance`) with the dispersive index of
   silicon (Green 2008): ``T_AR(λ) = ar_transmission · (1 − R(λ)) / (1 − R(λ_design))``, capped at 1.

2. **Optical efficiency** O(λ) (:func:`optical_efficiency`): the fraction of the light on
   the pixel that reaches the collecting silicon,

       O = T_stack · [ff + (1 − ff) · η_μ · E(λ)]

   ff = fill factor (aperture), η_μ = microlens efficiency, T_stack =
   ``metal_stack_transmission`` (FSI only; 1 for BSI). E(λ) is the fraction of the
   microlens focal spot inside the aperture: a Gaussian spot of 1/e² radius
   ``w = λ·h / (π·n_ox·p/2)`` (Gaussian-beam waist of a lens of radius p/2 focusing at the
   stack height h in oxide) on a square aperture of half-width ``a = √ff·p/2`` gives
   ``E = erf(√2·a/w)²``. For large pixels E → 1; as the pitch approaches the wavelength
   the tall FSI tunnel cannot concentrate light any more (Catrysse & Wandell 2002), and O
   falls towards ff. Without a pitch (``pixel_pitch_um=None``) E = 1.

   The dielectric stack above an FSI photodiode (≈3–5 µm) produces thin-film fringes with
   a period λ²/(2 n t) ≈ 17 nm at 500 nm; the f/2 cone of rays (±14°) and the 5 nm spectral
   grid average them out, so T_stack is a flat mean (absorption and scatter in the stack).

3. **Internal QE of the silicon** IQE(λ) (:func:`collection_efficiency`): light absorbed at
   depth x (from the illuminated surface) with probability density α e^{−αx} generates a
   carrier collected with probability η(x) — the linear surface-recombination profile of
   Stern, Shing & Blouke (1994): η = η₀ + (1 − η₀)·x/W for x < W, 1 beyond. Integrated
   over the collection depth d, with the weakly absorbed light's path stretched by the
   light-trapping factor m (``nir_path_factor``; extra passes are absorbed deep, where
   η = 1)::

       IQE(λ) = η₀ + (1 − η₀)·(1 − e^{−αW})/(αW) − e^{−α·m·d}

   FSI: W is the p⁺ pinning layer and junction region (≈0.15 µm), which costs blue: 1/α is
   0.1 µm at 400 nm and 0.4 µm at 450 nm. BSI: W is the passivated back surface (≈10 nm),
   so BSI keeps its blue; but its thin silicon (d ≈ 3 µm) passes most NIR unless the epi is
   thick or m > 1 (NIR-enhanced pixels).

Measured curves (``QESpec.curve`` / ``QESpec.channel_curves``, from YAML or
:func:`load_qe_csv`) always replace the model.

Colour filters
--------------
:func:`cfa_filter_transmission` gives the generic pigment filters. Their visible pass bands
are fitted to the measured spectral sensitivities of a Nikon D5100 (NPL data set of
Darrodi et al. 2015, shipped with colour-science as ``MSDS_CAMERA_SENSITIVITIES["Nikon 5100
(NPL)"]``), divided by the FSI silicon collection model above to remove the sensor; their
NIR behaviour (all three pigments transparent beyond ≈800 nm, the reason a colour camera
needs an IR-cut filter) follows the spectral-sensitivity charts that sensor makers publish
for parts without an IR-cut (e.g. Sony STARVIS IMX290/IMX462 product information). The IR
pixel of an RGB-IR sensor has a visible-blocking (black) filter; :func:`dual_band_filter`
is the 650 nm + 850/940 nm dual-band filter such sensors sit behind.

References
----------
M. A. Green, "Self-consistent optical parameters of intrinsic silicon at 300 K including
temperature coefficients", Sol. Energy Mater. Sol. Cells 92, 1305–1310 (2008), Table 1.
R. A. Stern, L. Shing, M. M. Blouke, "Quantum efficiency measurements and modeling of
ion-implanted, laser-annealed charge-coupled devices", Appl. Opt. 33(13), 2521 (1994).
P. B. Catrysse, B. A. Wandell, "Optical efficiency of image sensor pixels", J. Opt. Soc.
Am. A 19(8), 1610–1620 (2002).
I. Oshiyama et al., "Near-infrared sensitivity enhancement of a back-illuminated
complementary metal oxide semiconductor image sensor with a pyramid surface for
diffraction structure", IEDM 2017, 16.4.
M. M. Darrodi, G. Finlayson, T. Goodman, M. Mackiewicz, "Reference data set for camera
spectral sensitivity estimation", J. Opt. Soc. Am. A 32(3), 381–391 (2015).
H. A. Macleod, *Thin-Film Optical Filters*, 4th ed. (2010), §2.2 (single-layer coating).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
from scipy.special import erf

from ..errors import ConfigError

# Green (2008) Table 1, α at 300 K [cm⁻¹].
_GREEN2008_NM = np.array([380, 390, 400, 410, 420, 430, 440, 450, 460, 470, 480, 490, 500,
                          550, 600, 650, 700, 750, 800, 850, 900, 950, 1000, 1050, 1100],
                         dtype=np.float64)
_GREEN2008_ALPHA_CM = np.array([2.93e5, 1.50e5, 9.52e4, 6.74e4, 5.00e4, 3.92e4, 3.11e4,
                                2.55e4, 2.10e4, 1.72e4, 1.48e4, 1.27e4, 1.11e4, 6.39e3,
                                4.14e3, 2.81e3, 1.90e3, 1.30e3, 8.50e2, 5.35e2, 3.06e2,
                                1.57e2, 6.40e1, 1.63e1, 3.50e0])

# Green (2008) Table 1, real refractive index n at 300 K (as published in the
# refractiveindex.info database, main/Si/Green-2008).
_SI_INDEX_NM = np.array([380, 390, 400, 410, 420, 430, 440, 450, 460, 470, 480, 490, 500,
                         550, 600, 650, 700, 750, 800, 850, 900, 950, 1000, 1050, 1100],
                        dtype=np.float64)
_SI_INDEX_N = np.array([6.616, 6.039, 5.613, 5.330, 5.119, 4.949, 4.812, 4.691, 4.587,
                        4.497, 4.419, 4.350, 4.294, 4.077, 3.940, 3.844, 3.772, 3.717,
                        3.675, 3.641, 3.614, 3.591, 3.572, 3.556, 3.542])

#: Refractive index of the oxide above the silicon (SiO₂) and of the microlens medium.
OXIDE_INDEX = 1.46

#: Channel names a QE or filter curve may carry (as :class:`~camtwin.sensor.spec.ChannelCurves`).
CHANNEL_NAMES = ("R", "G", "B", "IR", "C", "M")

_ILLUMINATIONS = ("bsi", "fsi")


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


def silicon_refractive_index(wavelengths_nm) -> np.ndarray:
    """Real refractive index n of crystalline silicon at 300 K (Green 2008, Table 1), linear
    interpolation, held constant outside 380–1100 nm."""
    return np.interp(np.asarray(wavelengths_nm, dtype=np.float64), _SI_INDEX_NM, _SI_INDEX_N)


def silicon_qe(wavelengths_nm, depth_um: float, ar_transmission: float) -> np.ndarray:
    """Photodiode QE ``T_AR·(1 − exp(−α·d))`` (dimensionless, 0..1) for collection depth d [µm]."""
    alpha = silicon_absorption_cm(wavelengths_nm)
    return ar_transmission * -np.expm1(-alpha * depth_um * 1e-4)


def _one_minus_exp_over_x(x: np.ndarray) -> np.ndarray:
    """(1 − e^{−x})/x, equal to 1 at x = 0 (no cancellation for small x)."""
    x = np.asarray(x, dtype=np.float64)
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 1e-12, -np.expm1(-safe) / safe, 1.0 - x / 2.0)


def collection_efficiency(wavelengths_nm, depth_um: float, *, dead_layer_um: float = 0.0,
                          surface_collection: float = 0.0,
                          path_factor: float = 1.0) -> np.ndarray:
    """Internal QE of a silicon layer (fraction of photons entering the silicon that are
    collected), dimensionless 0..1.

    ``IQE = η₀ + (1 − η₀)·(1 − e^{−αW})/(αW) − e^{−α·m·d}`` (Stern et al. 1994 linear
    surface-collection profile of width W = ``dead_layer_um`` and surface value
    η₀ = ``surface_collection``, collection depth d = ``depth_um``, optical-path factor
    m = ``path_factor`` ≥ 1). W is clipped to d. With W = 0 (or η₀ = 1) and m = 1 this is
    the ideal ``1 − e^{−αd}``.
    """
    if depth_um <= 0 or dead_layer_um < 0 or not 0 <= surface_collection <= 1 or path_factor < 1:
        raise ConfigError(f"collection_efficiency: need depth_um > 0 (got {depth_um}), "
                          f"dead_layer_um >= 0 ({dead_layer_um}), 0 <= surface_collection "
                          f"<= 1 ({surface_collection}) and path_factor >= 1 ({path_factor})")
    alpha_um = silicon_absorption_cm(wavelengths_nm) * 1e-4  # [1/µm]
    w = min(dead_layer_um, depth_um)
    eta0 = surface_collection
    front = eta0 + (1.0 - eta0) * _one_minus_exp_over_x(alpha_um * w)
    return np.clip(front - np.exp(-alpha_um * path_factor * depth_um), 0.0, 1.0)


def thin_film_reflectance(wavelengths_nm, n_ambient: float, n_film: float,
                          film_thickness_nm: float, n_substrate) -> np.ndarray:
    """Normal-incidence reflectance of one non-absorbing film on a substrate (0..1).

    ``r = (r₀₁ + r₁₂ e^{−2iδ}) / (1 + r₀₁ r₁₂ e^{−2iδ})``, ``δ = 2π n₁ t / λ``,
    ``r_ij = (n_i − n_j)/(n_i + n_j)``; R = |r|² (Macleod 2010, §2.2). ``n_substrate`` may
    be an array over wavelength (dispersion).
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    n2 = np.asarray(n_substrate, dtype=np.float64)
    r01 = (n_ambient - n_film) / (n_ambient + n_film)
    r12 = (n_film - n2) / (n_film + n2)
    phase = np.exp(-2j * (2.0 * np.pi * n_film * film_thickness_nm / wl))
    r = (r01 + r12 * phase) / (1.0 + r01 * r12 * phase)
    return np.abs(r) ** 2


def ar_transmission(wavelengths_nm, pixel) -> np.ndarray:
    """Transmission T_AR(λ) of the anti-reflection stack into silicon (0..1), shape of λ.

    Flat ``pixel.ar_transmission`` when ``pixel.ar_design_nm`` is None; otherwise a
    quarter-wave film of index ``pixel.ar_index`` and thickness λ_d/(4 n₁) between oxide
    and silicon, scaled to ``pixel.ar_transmission`` at λ_d and capped at 1.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    if pixel.ar_design_nm is None:
        return np.full(wl.shape, float(pixel.ar_transmission))
    lam_d = float(pixel.ar_design_nm)
    t_nm = lam_d / (4.0 * pixel.ar_index)

    def refl(x):
        return thin_film_reflectance(x, OXIDE_INDEX, pixel.ar_index, t_nm,
                                     silicon_refractive_index(x))

    t = pixel.ar_transmission * (1.0 - refl(wl)) / (1.0 - float(refl(lam_d)))
    return np.minimum(t, 1.0)


def _check_illumination(illumination: str) -> str:
    if illumination not in _ILLUMINATIONS:
        raise ConfigError(f"illumination = {illumination!r}: must be one of "
                          f"{', '.join(_ILLUMINATIONS)}")
    return illumination


def microlens_spot_fraction(wavelengths_nm, pixel_pitch_um: float, fill_factor: float,
                            stack_height_um: float) -> np.ndarray:
    """Fraction E(λ) of a microlens focal spot inside the square aperture (0..1).

    Gaussian spot of 1/e² radius ``w = λ h / (π n_ox p/2)``; aperture half-width
    ``a = √ff · p/2``; ``E = erf(√2 a / w)²``.
    """
    lam_um = np.asarray(wavelengths_nm, dtype=np.float64) * 1e-3
    half = 0.5 * pixel_pitch_um
    w = lam_um * stack_height_um / (np.pi * OXIDE_INDEX * half)
    a = math.sqrt(fill_factor) * half
    return erf(math.sqrt(2.0) * a / w) ** 2


def optical_efficiency(wavelengths_nm, pixel, illumination: str, *,
                       pixel_pitch_um: float | None = None) -> np.ndarray:
    """O(λ) = T_stack·[ff + (1 − ff)·η_μ·E(λ)]: light on the pixel reaching the silicon (0..1).

    T_stack = ``pixel.metal_stack_transmission`` for FSI, 1 for BSI; E = 1 without a pitch
    (see the module docstring).
    """
    illumination = _check_illumination(illumination)
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    ff = pixel.resolved(illumination, "fill_factor")
    if pixel_pitch_um is None:
        spot = np.ones(wl.shape)
    else:
        spot = microlens_spot_fraction(wl, pixel_pitch_um, ff,
                                       pixel.resolved(illumination, "stack_height_um"))
    o = ff + (1.0 - ff) * pixel.microlens_efficiency * spot
    if illumination == "fsi":
        o = o * pixel.metal_stack_transmission
    return o


def pixel_qe(wavelengths_nm, pixel, illumination: str, *,
             pixel_pitch_um: float | None = None) -> np.ndarray:
    """QE of the bare pixel (no colour filter) from its architecture, dimensionless 0..1.

    Parameters
    ----------
    wavelengths_nm : array_like
        Wavelengths [nm].
    pixel : PixelSpec
        Architecture parameters; ``None`` fields take the ``illumination`` default
        (:data:`camtwin.sensor.pixel.ARCHITECTURE_DEFAULTS`).
    illumination : {"bsi", "fsi"}
        Back- or front-side illuminated.
    pixel_pitch_um : float, optional
        Pixel pitch [µm]; enables the diffraction limit of the microlens (small pixels).

    Returns
    -------
    ndarray, shape of ``wavelengths_nm``
        ``QE(λ) = T_AR(λ) · O(λ) · IQE(λ)`` (module docstring), never above T_AR(λ).

    Examples
    --------
    >>> from camtwin.sensor.pixel import PixelSpec
    >>> p = PixelSpec()
    >>> bool(pixel_qe(450.0, p, "bsi") > pixel_qe(450.0, p, "fsi"))
    True
    """
    illumination = _check_illumination(illumination)
    iqe = collection_efficiency(
        wavelengths_nm, pixel.epi_thickness_um,
        dead_layer_um=pixel.resolved(illumination, "dead_layer_um"),
        surface_collection=pixel.dead_layer_collection, path_factor=pixel.nir_path_factor)
    return (ar_transmission(wavelengths_nm, pixel)
            * optical_efficiency(wavelengths_nm, pixel, illumination,
                                 pixel_pitch_um=pixel_pitch_um) * iqe)


# --- colour filters -----------------------------------------------------------------------

#: Pigment model parameters. Visible pass bands: least-squares fit to the Nikon D5100 (NPL,
#: Darrodi et al. 2015) sensitivities divided by the FSI collection model, each normalised
#: to 1 (B fitted over 425–560 nm, G over 470–590 nm, R's edge over 420–595 nm; beyond
#: ≈600 nm the camera's own IR-cut filter shapes the data). Peak transmissions (0.90, R
#: 0.92) are typical of pigment colour resists and not determined by the fit. B and G are
#: asymmetric Gaussians (centre, σ short side, σ long side [nm]); R is a logistic edge
#: (centre, width [nm]); floors are the measured out-of-band leakage.
PIGMENT_MODEL = {
    "B": {"peak": 0.90, "centre_nm": 460.0, "sigma_short_nm": 50.0, "sigma_long_nm": 34.0,
          "floor": 0.02},
    "G": {"peak": 0.90, "centre_nm": 539.0, "sigma_short_nm": 43.0, "sigma_long_nm": 34.0,
          "floor": 0.04},
    "R": {"peak": 0.92, "edge_nm": 580.0, "edge_width_nm": 3.5, "floor": 0.05},
    # all pigments turn transparent in the NIR (logistic rise), IR pass of the black filter
    "NIR": {"peak": 0.92, "edge_nm": 810.0, "edge_width_nm": 18.0},
    "IR": {"peak": 0.92, "edge_nm": 800.0, "edge_width_nm": 15.0, "floor": 0.01},
}


def _logistic(wl, centre, width):
    return 0.5 * (1.0 + np.tanh((wl - centre) / (2.0 * width)))


def _asym_gauss(wl, centre, s_short, s_long):
    s = np.where(wl < centre, s_short, s_long)
    return np.exp(-0.5 * ((wl - centre) / s) ** 2)


def pigment_cfa_transmission(wavelengths_nm) -> np.ndarray:
    """Generic pigment Bayer colour-filter transmissions, shape (L, 3) for (R, G, B).

    See :data:`PIGMENT_MODEL` and the module docstring for the sources of the shapes.
    This is a model, not a measurement; a sensor spec may give measured curves instead.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    p = PIGMENT_MODEL
    nir = p["NIR"]["peak"] * _logistic(wl, p["NIR"]["edge_nm"], p["NIR"]["edge_width_nm"])
    out = []
    for name in ("R", "G", "B"):
        q = p[name]
        if name == "R":
            shape = _logistic(wl, q["edge_nm"], q["edge_width_nm"])
        else:
            shape = _asym_gauss(wl, q["centre_nm"], q["sigma_short_nm"], q["sigma_long_nm"])
        t = q["floor"] + (q["peak"] - q["floor"]) * shape
        out.append(np.maximum(t, nir))
    return np.clip(np.stack(out, axis=1), 0.0, 1.0)


def cfa_filter_transmission(channels, wavelengths_nm) -> np.ndarray:
    """Transmission of the generic filter of each named channel, shape (L, C).

    R, G, B: :func:`pigment_cfa_transmission`; M (mono) and C (clear): no filter (1.0);
    IR: visible-blocking black filter with a logistic NIR pass (50 % at 800 nm) and a 1 %
    visible leak — the IR pixel of an RGB-IR sensor (the R, G, B pixels of such sensors
    use ordinary pigments, transparent in the NIR, so they see the NIR too).

    Raises
    ------
    ConfigError
        For a channel name outside R, G, B, IR, C, M.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    rgb = pigment_cfa_transmission(wl)
    q = PIGMENT_MODEL["IR"]
    ir = q["floor"] + (q["peak"] - q["floor"]) * _logistic(wl, q["edge_nm"], q["edge_width_nm"])
    cols = {"R": rgb[:, 0], "G": rgb[:, 1], "B": rgb[:, 2], "M": np.ones_like(wl),
            "C": np.ones_like(wl), "IR": ir}
    unknown = [c for c in channels if c not in cols]
    if unknown:
        raise ConfigError(f"unknown CFA channel {unknown[0]!r}; valid: {', '.join(cols)}")
    return np.stack([cols[c] for c in channels], axis=1)


def dual_band_filter(wavelengths_nm, *, nir_centre_nm: float = 850.0,
                     nir_fwhm_nm: float = 50.0, visible_cutoff_nm: float = 650.0,
                     edge_width_nm: float = 20.0, passband_transmission: float = 0.95,
                     blocking_transmission: float = 1e-3) -> np.ndarray:
    """Dual-band (visible + one NIR band) lens filter used in front of RGB-IR sensors (0..1).

    Visible pass up to ``visible_cutoff_nm`` (logistic edge of 10–90 % width
    ``edge_width_nm``) plus a NIR pass band centred on the illuminator (850 or 940 nm LEDs)
    with a flat top of width ``nir_fwhm_nm`` and the same edge steepness; a blocking floor
    elsewhere. Typical of the "650/850" and "650/940" dual-band filters of RGB-IR modules.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    w = edge_width_nm / 4.394449154672439  # 10–90 % width of a logistic = 2·ln 9 · w
    vis = 1.0 - _logistic(wl, visible_cutoff_nm, w)
    half = 0.5 * nir_fwhm_nm
    band = (_logistic(wl, nir_centre_nm - half, w)
            * (1.0 - _logistic(wl, nir_centre_nm + half, w)))
    return blocking_transmission + (passband_transmission - blocking_transmission) * np.clip(
        vis + band, 0.0, 1.0)


def rgbir_filter_curves(wavelengths_nm=None, *, nir_centre_nm: float = 850.0):
    """Pixel filters of an RGB-IR sensor × a dual-band lens filter, as ``ChannelCurves``.

    Use as ``QESpec(filters=rgbir_filter_curves(nir_centre_nm=940))`` with a lens whose
    ``ir_cut`` is None, until the lens spec carries a dual-band filter itself.
    """
    from ..spectra import as_grid
    from .spec import ChannelCurves

    wl = as_grid(wavelengths_nm)
    t = cfa_filter_transmission(("R", "G", "B", "IR"), wl) * dual_band_filter(
        wl, nir_centre_nm=nir_centre_nm)[:, None]
    return ChannelCurves(wavelengths_nm=tuple(wl.tolist()),
                         values={c: tuple(np.clip(t[:, i], 0, 1).tolist())
                                 for i, c in enumerate(("R", "G", "B", "IR"))})


# --- measured curves from CSV ---------------------------------------------------------------

def load_qe_csv(path: str | os.PathLike):
    """Load a measured QE curve from a CSV file.

    Parameters
    ----------
    path : path-like
        Comma-separated text file. Lines starting with ``#`` are comments. The header names
        the columns: ``wavelength_nm`` and either a single ``qe`` column (bare-pixel QE,
        multiplied by the colour filters) or one column per CFA channel (R, G, B, IR, C, M:
        measured QE of each channel, used as is). Values are fractions 0..1; a column whose
        name ends in ``_pct`` (``qe_pct``, ``R_pct``) holds per cent and is divided by 100.

    Returns
    -------
    QuantumEfficiencyCurve or ChannelCurves
        For ``QESpec(curve=...)`` or ``QESpec(channel_curves=...)`` respectively; either
        wins over the pixel model.

    Raises
    ------
    ConfigError
        Missing/unreadable file, no ``wavelength_nm`` column, unknown or repeated column
        names, mixing ``qe`` with channel columns, a cell that is not a finite number
        (row and column named), wavelengths not ascending, or a value outside 0..1.

    Examples
    --------
    A file ``imx.csv``::

        # Sony datasheet, digitised
        wavelength_nm,R,G,B
        400,0.05,0.08,0.40
        ...
    """
    from .spec import ChannelCurves, QuantumEfficiencyCurve

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read QE file {p}: {exc.strerror or exc}") from None
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines())
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ConfigError(f"{p}: no header line (expected 'wavelength_nm,qe' or "
                          "'wavelength_nm,R,G,B,...')")
    rows = list(csv.reader([ln for _, ln in lines]))
    header = [h.strip() for h in rows[0]]
    if not header or header[0] != "wavelength_nm":
        raise ConfigError(f"{p}: the first column must be 'wavelength_nm', got {header[:1]}")
    cols = header[1:]
    if not cols:
        raise ConfigError(f"{p}: no QE column after wavelength_nm")
    if len(set(cols)) != len(cols):
        raise ConfigError(f"{p}: repeated column name in {cols}")
    names, scales = [], []
    for c in cols:
        base, scale = (c[:-4], 0.01) if c.endswith("_pct") else (c, 1.0)
        if base != "qe" and base not in CHANNEL_NAMES:
            raise ConfigError(f"{p}: unknown column {c!r}; valid: qe or one per channel "
                              f"({', '.join(CHANNEL_NAMES)}), optionally with suffix _pct")
        names.append(base)
        scales.append(scale)
    if "qe" in names and len(names) > 1:
        raise ConfigError(f"{p}: give either one 'qe' column or channel columns, not both")
    data = []
    for (lineno, _), row in zip(lines[1:], rows[1:]):
        if len(row) != len(header):
            raise ConfigError(f"{p} line {lineno}: {len(row)} cells, header has {len(header)}")
        vals = []
        for name, cell in zip(header, row):
            try:
                v = float(cell)
            except ValueError:
                v = float("nan")
            if not math.isfinite(v):
                raise ConfigError(f"{p} line {lineno}, column {name}: {cell.strip()!r} is not "
                                  "a finite number")
            vals.append(v)
        data.append(vals)
    if len(data) < 2:
        raise ConfigError(f"{p}: need at least two data rows, got {len(data)}")
    arr = np.array(data, dtype=np.float64)
    wl = tuple(arr[:, 0].tolist())
    values = {n: tuple((arr[:, i + 1] * s).tolist())
              for i, (n, s) in enumerate(zip(names, scales))}
    try:
        if names == ["qe"]:
            return QuantumEfficiencyCurve(wavelengths_nm=wl, values=values["qe"])
        return ChannelCurves(wavelengths_nm=wl, values=values)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
