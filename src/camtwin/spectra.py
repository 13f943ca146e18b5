"""Wavelength grid, illuminants and spectral helpers.

The default grid runs 380–1000 nm in 5 nm steps: visible plus the near infrared that
security, automotive and in-cabin cameras use (850 nm and 940 nm LEDs).

All CIE data (illuminants, V(λ), colour-matching functions) comes from colour-science;
nothing is retyped here. The tables are copied once, at their native tabulation, into
``camtwin/data/spectra/cie_tables.npz`` by ``tools/make_spectral_tables.py`` and read with
NumPy (:func:`cie_table`): ``import colour`` imports matplotlib and pandas and would cost a
CLI run ≈1.4 s; tests/test_spectral_tables.py checks the file equals colour-science's data.
Data tabulated only up to 780/830 nm is extended into the NIR by a
stated physical model per illuminant (see :data:`ILLUMINANTS`).

Spectral power distributions are *relative* until scaled: :func:`scale_to_illuminance`
turns a relative SPD into absolute spectral irradiance [W·m⁻²·nm⁻¹] producing a given
illuminance [lx] through

    E_v = K_m · Σ_λ E(λ) V(λ) Δλ,   K_m = 683 lm/W.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ConfigError, unknown_name
from .units import K_M_LM_PER_W, wavelength_step_nm

#: Default wavelength grid [nm]: 380–1000 nm at 5 nm (125 samples).
DEFAULT_WAVELENGTHS_NM = np.arange(380.0, 1000.0 + 1e-9, 5.0)


#: The shipped copy of colour-science's tables (see the module docstring).
CIE_TABLES_PATH = Path(__file__).parent / "data" / "spectra" / "cie_tables.npz"


@lru_cache(maxsize=None)
def _cie_tables() -> dict[str, np.ndarray]:
    with np.load(CIE_TABLES_PATH) as f:
        out = {k: f[k] for k in f.files}
    for a in out.values():
        a.setflags(write=False)
    return out


def cie_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A tabulated spectrum copied from colour-science: (wavelengths [nm], values), read-only.

    Names: ``D65``, ``FL11``, ``LED-B3`` (``SDS_ILLUMINANTS``), ``V1924`` (CIE 1924 photopic
    V(λ), ``SDS_LEFS``), ``CMFS1931`` (CIE 1931 2° x̄ȳz̄, shape (N, 3)), ``MALLETT2019``
    (sRGB basis spectra of Mallett & Yuksel 2019, (N, 3)), ``COLORCHECKER`` (BabelColor
    average reflectances of the 24 patches in chart order, (24, N)).
    """
    t = _cie_tables()
    if f"{name}_wl" not in t:
        raise unknown_name("spectral table", name, sorted(k[:-3] for k in t if k.endswith("_wl")))
    return t[f"{name}_wl"], t[f"{name}_values"]


def cie_constant(name: str) -> np.ndarray:
    """A colorimetric constant copied from colour-science (read-only array):

    * ``D65_WHITE_XYZ`` — XYZ of the CIE 1931 2° D65 white point (x, y) = (0.3127, 0.3290), Y = 1;
    * ``COLORCHECKER_REF_XYZ_D65`` — (24, 3) XYZ of ``CCS_COLOURCHECKERS["BabelColor Average"]``
      adapted D50 → D65 by the Bradford transform (von Kries), Y of white diffuser = 1;
    * ``SRGB_RGB_TO_XYZ`` / ``SRGB_XYZ_TO_RGB`` — the 3 × 3 matrices of linear sRGB
      (IEC 61966-2-1 primaries, D65), as in ``colour.RGB_COLOURSPACES["sRGB"]``.
    """
    t = _cie_tables()
    if name not in t or name.endswith(("_wl", "_values")):
        raise unknown_name("colorimetric constant", name,
                           sorted(k for k in t if not k.endswith(("_wl", "_values"))))
    return t[name]


def as_grid(wavelengths_nm=None) -> np.ndarray:
    """Validate and return a wavelength grid (ascending 1-D float64, nm)."""
    if wavelengths_nm is None:
        return DEFAULT_WAVELENGTHS_NM.copy()
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    if wl.ndim != 1 or wl.size < 2 or not np.all(np.diff(wl) > 0):
        raise ConfigError("wavelengths_nm must be a 1-D ascending grid with >= 2 samples")
    if wl[0] < 300 or wl[-1] > 1200:
        raise ConfigError(f"wavelengths_nm spans {wl[0]}–{wl[-1]} nm; valid range is 300–1200 nm")
    return wl


def resample_sd(sd, wavelengths_nm, *, right: str = "zero") -> np.ndarray:
    """Sample a colour-science ``SpectralDistribution`` on ``wavelengths_nm``.

    Inside the tabulated range the values are interpolated linearly; outside they are
    ``0`` (``right="zero"``) or held at the end value (``right="hold"``). The left side is
    always held (data starts at or below 380 nm for everything used here).
    """
    return _resample(np.asarray(sd.wavelengths, dtype=np.float64),
                     np.asarray(sd.values, dtype=np.float64), wavelengths_nm, right=right)


def _resample(x, y, wavelengths_nm, *, right: str = "zero") -> np.ndarray:
    """:func:`resample_sd` of a table given as (wavelengths x [nm], values y)."""
    wl = as_grid(wavelengths_nm)
    out = np.interp(wl, x, y)
    if right == "zero":
        out[wl > x[-1]] = 0.0
    elif right != "hold":
        raise ValueError(f"right must be 'zero' or 'hold', got {right!r}")
    return out


def photopic_v(wavelengths_nm=None) -> np.ndarray:
    """CIE 1924 photopic luminous efficiency V(λ) on the grid (0 beyond 830 nm)."""
    return _resample(*cie_table("V1924"), wavelengths_nm)


def cie1931_cmfs(wavelengths_nm=None) -> np.ndarray:
    """CIE 1931 2° colour-matching functions x̄, ȳ, z̄ on the grid, shape (L, 3)."""
    x, vals = cie_table("CMFS1931")
    wl = as_grid(wavelengths_nm)
    out = np.stack([np.interp(wl, x, vals[:, i]) for i in range(3)], axis=1)
    out[wl > x[-1]] = 0.0
    return out


def planck_spectral_radiance(wavelengths_nm, temperature_k: float) -> np.ndarray:
    """Planck's law, spectral radiance of a black body [W·sr⁻¹·m⁻²·nm⁻¹].

    B(λ,T) = 2hc²/λ⁵ / (exp(hc/(λ k T)) − 1)
    """
    from .units import PLANCK_J_S as h, SPEED_OF_LIGHT_M_S as c

    k = 1.380649e-23
    lam = np.asarray(wavelengths_nm, dtype=np.float64) * 1e-9
    return 2 * h * c**2 / lam**5 / np.expm1(h * c / (lam * k * temperature_k)) * 1e-9


def gaussian_led(wavelengths_nm, peak_nm: float, fwhm_nm: float) -> np.ndarray:
    """Relative SPD of a narrow-band LED modelled as a Gaussian of given FWHM, peak = 1."""
    wl = as_grid(wavelengths_nm)
    sigma = fwhm_nm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    return np.exp(-0.5 * ((wl - peak_nm) / sigma) ** 2)


def _daylight_with_nir(name: str, cct_k: float):
    def spd(wl):
        x, y = cie_table(name)
        out = _resample(x, y, wl, right="hold")
        top = float(x[-1])
        beyond = wl > top
        if np.any(beyond):
            # Extend past the CIE table with a black body of the same CCT, matched at the
            # last tabulated wavelength (daylight's NIR follows a Planckian shape closely).
            ref = float(y[-1]) / planck_spectral_radiance(top, cct_k)
            out[beyond] = ref * planck_spectral_radiance(wl[beyond], cct_k)
        return out

    return spd


def _illuminant_a(wl):
    """CIE standard illuminant A, defined analytically (CIE 015:2018 eq. 2.1), valid in the NIR:

        S_A(λ) = 100 · (560/λ)⁵ · (exp(1.435e7 / (2848 · 560)) − 1) / (exp(1.435e7 / (2848 λ)) − 1)

    with λ in nm (c₂ = 1.435e7 nm·K and T = 2848 K of the 1931 definition, ≈ 2856 K with
    today's c₂); S_A(560 nm) = 100. Evaluated at the grid itself (colour-science's
    ``sd_CIE_standard_illuminant_A`` evaluates the same formula; tests compare them).
    """
    lam = np.asarray(wl, dtype=np.float64)
    c2_t = 1.435e7 / 2848.0
    return 100.0 * (560.0 / lam) ** 5 * np.expm1(c2_t / 560.0) / np.expm1(c2_t / lam)


def _tabulated(name: str):
    def spd(wl):
        # Fluorescent and phosphor-LED sources emit essentially nothing past 780 nm.
        return _resample(*cie_table(name), wl, right="zero")

    return spd


#: Illuminant name -> function(wavelengths_nm) -> relative SPD.
#:
#: * ``D65``: CIE D65 (colour-science), extended beyond 780 nm by a 6504 K Planckian.
#: * ``A``: CIE A, 2856 K Planckian (analytic, valid into the NIR).
#: * ``F11``: CIE FL11 narrow-band triphosphor fluorescent (zero beyond 780 nm).
#: * ``LED``: CIE LED-B3 phosphor-converted white LED, CIE 015:2018 (zero beyond 780 nm).
#: * ``IR850`` / ``IR940``: NIR LEDs modelled as Gaussians, FWHM 40 nm / 45 nm (typical of
#:   OSRAM SFH 4715AS / SFH 4725AS datasheets).
ILLUMINANTS = {
    "D65": _daylight_with_nir("D65", 6504.0),
    "A": _illuminant_a,
    "F11": _tabulated("FL11"),
    "LED": _tabulated("LED-B3"),
    "IR850": lambda wl: gaussian_led(wl, 850.0, 40.0),
    "IR940": lambda wl: gaussian_led(wl, 940.0, 45.0),
}


@lru_cache(maxsize=64)
def _illuminant_cached(name: str, key: tuple) -> np.ndarray:
    wl = np.asarray(key, dtype=np.float64)
    out = np.asarray(ILLUMINANTS[name](wl), dtype=np.float64)
    out.setflags(write=False)
    return out


def illuminant_spd(name: str, wavelengths_nm=None) -> np.ndarray:
    """Relative SPD of a named illuminant on the grid (read-only array).

    Raises
    ------
    UnknownNameError
        If ``name`` is not in :data:`ILLUMINANTS`.
    """
    if name not in ILLUMINANTS:
        raise unknown_name("illuminant", name, ILLUMINANTS)
    wl = as_grid(wavelengths_nm)
    return _illuminant_cached(name, tuple(wl.tolist()))


def illuminance_lux(spectral_irradiance, wavelengths_nm=None) -> float | np.ndarray:
    """Illuminance [lx] of spectral irradiance [W·m⁻²·nm⁻¹] (spectral axis last).

    E_v = 683 · Σ E(λ) V(λ) Δλ (trapezoidal weights).
    """
    wl = as_grid(wavelengths_nm)
    w = photopic_v(wl) * wavelength_step_nm(wl)
    return K_M_LM_PER_W * np.tensordot(np.asarray(spectral_irradiance), w, axes=([-1], [0]))


#: Below this luminous efficacy of radiation [lm/W] a source counts as invisible (NIR LEDs):
#: a lux figure would be meaningless, so its irradiance must be given in W/m².
MIN_LUMINOUS_EFFICACY_LM_W = 0.1


def scale_to_illuminance(relative_spd, illuminance, wavelengths_nm=None) -> np.ndarray:
    """Scale a relative SPD to absolute spectral irradiance [W·m⁻²·nm⁻¹] of ``illuminance`` lx.

    For a source with no visible output (e.g. a 940 nm LED) illuminance is undefined; use
    :func:`scale_to_irradiance` instead.
    """
    wl = as_grid(wavelengths_nm)
    spd = np.asarray(relative_spd, dtype=np.float64)
    lux_per_unit = float(illuminance_lux(spd, wl))
    watts_per_unit = float(np.sum(spd * wavelength_step_nm(wl)))
    if not lux_per_unit > MIN_LUMINOUS_EFFICACY_LM_W * watts_per_unit:
        raise ConfigError("this illuminant has no visible output (luminous efficacy below "
                          f"{MIN_LUMINOUS_EFFICACY_LM_W} lm/W); give its irradiance in W/m² "
                          "instead of an illuminance in lux")
    return spd * (illuminance / lux_per_unit)


def scale_to_irradiance(relative_spd, irradiance_w_m2: float, wavelengths_nm=None) -> np.ndarray:
    """Scale a relative SPD so that its total irradiance ∫E dλ is ``irradiance_w_m2`` [W/m²]."""
    wl = as_grid(wavelengths_nm)
    spd = np.asarray(relative_spd, dtype=np.float64)
    total = float(np.sum(spd * wavelength_step_nm(wl)))
    return spd * (irradiance_w_m2 / total)
