"""Twin a real camera from its published EMVA 1288 summary.

:class:`EmvaSummary` holds the figures of an EMVA 1288 datasheet (η at λ, K, σ_d, μ_e.sat,
dark current, DSNU, PRNU, ADC bits, pixel pitch, resolution) plus the derived figures it
publishes (SNR_max, DR, μ_p.min) for checking; :func:`sensor_from_emva` turns it into a
monochrome :class:`~camtwin.sensor.SensorSpec` whose simulated EMVA 1288 measurement gives
those figures back:

=========================  =================================================================
SensorSpec field           from the summary
=========================  =================================================================
qe.curve                   the pixel model's QE shape (:func:`camtwin.sensor.qe.pixel_qe`,
                           ``illumination``) scaled so that QE(λ) = η (clipped to 1) — a
                           measured curve, so ``channel_qe`` = η at λ exactly
full_well_e                μ_e.sat + Δ, Δ ≈ 2.9·√μ_e.sat (:func:`variance_peak_offset_e`):
                           the charge clip puts the photon-transfer maximum — the standard's
                           saturation point — Δ below full well
conversion_gain_dn_per_e   K; if unpublished, K = 0.9·(2^bits − 1 − black)/μ_e.sat so that
                           full well sits at 90 % of the ADC range (the ADC never clips)
read_noise_e               σ_d (÷ √2 for a voltage-domain global shutter, whose effective
                           read noise is √2× the pixel's)
dark_current_e_per_s       μ_I at ``temperature_c`` (= ``dark_reference_c``); 0 when
                           unpublished
noise.dsnu_offset_e        DSNU1288 [e⁻] (white per-pixel offsets); 0 when unpublished
noise.prnu_fraction        PRNU1288 / 100; 0 when unpublished
black_level_dn             max(2^(bits−6), ⌈6·K·√(σ_d² + DSNU²)⌉): the dark signal is never
                           clipped at 0
=========================  =================================================================

Not modelled from a summary (no figures for them): row/column split of DSNU/PRNU, dark-
current nonuniformity, nonlinearity (the linearity error of these parts is < 1 %).

The measured saturation capacity of a charge-clipped pixel lies below its full well: the
photon-transfer maximum is reached while the upper tail of the shot-noise distribution is
already clipped. :func:`variance_peak_offset_e` computes where the maximum of
Var(min(X, FWC)), X ~ N(μ, μ), lies; the twin's full well is raised by that offset so that
the simulated measurement finds the published μ_e.sat.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ..._spec import FrozenSpec
from ...errors import unknown_name


class PublishedFigures(FrozenSpec):
    """Derived figures the source publishes (checked, not used to build the sensor), with
    the number of decimals they are rounded to."""

    snr_max_db: float | None = None
    dynamic_range_db: float | None = None
    absolute_sensitivity_threshold_photons: float | None = None
    decimals_db: int = Field(1, ge=0, le=3)
    decimals_photons: int = Field(1, ge=0, le=3)


class EmvaSummary(FrozenSpec):
    """A published EMVA 1288 summary of one camera / sensor (units in the names)."""

    name: str
    sensor: str = ""
    source: str
    quantum_efficiency: float = Field(gt=0, le=1)
    wavelength_nm: float = Field(525.0, ge=300, le=1100)
    system_gain_dn_per_e: float | None = Field(None, gt=0, le=1000)
    temporal_dark_noise_e: float = Field(gt=0, le=1e4)
    saturation_capacity_e: float = Field(gt=0, le=1e7)
    dark_current_e_per_s: float | None = Field(None, ge=0, le=1e7)
    dsnu_e: float | None = Field(None, ge=0, le=1e5)
    prnu_percent: float | None = Field(None, ge=0, le=50)
    adc_bits: int = Field(12, ge=8, le=16)
    pixel_pitch_um: float = Field(gt=0.3, le=50)
    width_px: int = Field(gt=0, le=20000)
    height_px: int = Field(gt=0, le=20000)
    temperature_c: float = Field(25.0, ge=-60, le=150)
    illumination: Literal["bsi", "fsi"] = "fsi"
    shutter: Literal["rolling", "global"] = "global"
    published: PublishedFigures = PublishedFigures()
    #: Inputs the source does not give and the YAML assumes: field name → why (e.g.
    #: ``adc_bits: "not in the transcription; ..."``).
    assumed: dict[str, str] = {}
    notes: str = ""

    @model_validator(mode="after")
    def _assumed_fields(self):
        bad = sorted(set(self.assumed) - set(type(self).model_fields))
        if bad:
            raise ValueError(f"assumed: {', '.join(bad)} is not a field of the summary")
        return self


def _packaged() -> dict[str, Path]:
    root = resources.files("camtwin") / "data" / "emva"
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def builtin_summaries() -> list[str]:
    """Names of the published EMVA 1288 summaries shipped in ``camtwin/data/emva``."""
    return sorted(_packaged())


def load_summary(name_or_path: str | Path) -> EmvaSummary:
    """An :class:`EmvaSummary` from a YAML file or a shipped name.

    Shipped summaries are named like the catalog sensor they measure
    (``onsemi-python1300``; also ``emva:onsemi-python1300``); the old names (``python1300``)
    are aliases (:data:`camtwin.parts.ALIASES`).
    """
    from ...parts import ALIASES, PREFIXES

    p = Path(name_or_path)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        return EmvaSummary.from_yaml(p)
    shipped = _packaged()
    name = ALIASES["sensor"].get(str(name_or_path), str(name_or_path))
    name = name[len(PREFIXES["emva"]):] if name.startswith(PREFIXES["emva"]) else name
    if name not in shipped:
        raise unknown_name("EMVA 1288 summary", str(name_or_path), shipped)
    return EmvaSummary.from_yaml(shipped[name])


def variance_peak_offset_e(full_well_e: float) -> float:
    """FWC − μ*, where μ* maximises the temporal variance of the clipped charge
    Var(min(X, FWC)), X ~ N(μ, μ) (shot noise in the Gaussian limit) [e⁻].

    Computed numerically on a grid of μ within 6√FWC below FWC, with the exact moments of
    the censored normal Y = min(X, c), a = (c − μ)/σ (formulas in the code). Scales as
    ≈ 2.9·√FWC: the variance still grows with μ (σ² = μ) while clipping eats the tail.

    Examples
    --------
    >>> round(variance_peak_offset_e(10000.0) / 100, 1)   # in units of √FWC
    2.9
    """
    from scipy.special import ndtr

    c = float(full_well_e)
    s0 = np.sqrt(c)
    mu = c - np.linspace(0.0, 6.0 * s0, 6001)
    s = np.sqrt(mu)
    a = (c - mu) / s
    phi = np.exp(-0.5 * a * a) / np.sqrt(2 * np.pi)
    cdf = ndtr(a)
    # moments of Y = min(X, c): E[Y] = μΦ(a) − σφ(a) + c(1 − Φ(a)),
    # E[Y²] = (μ² + σ²)Φ(a) − σ(μ + c)φ(a) + c²(1 − Φ(a))
    ey = mu * cdf - s * phi + c * (1 - cdf)
    ey2 = (mu * mu + s * s) * cdf - s * (mu + c) * phi + c * c * (1 - cdf)
    var = ey2 - ey * ey
    return float(c - mu[int(np.argmax(var))])


def sensor_from_emva(summary: EmvaSummary, *, width_px: int | None = None,
                     height_px: int | None = None, fixed_pattern_seed: int = 0):
    """A monochrome :class:`~camtwin.sensor.SensorSpec` twinning ``summary`` (mapping in the
    module docstring).

    Parameters
    ----------
    summary : EmvaSummary
    width_px, height_px : int, optional
        A smaller array than the real one (statistics need only ~10⁴ pixels); default: the
        summary's resolution.
    fixed_pattern_seed : int
        Seed of the DSNU/PRNU maps.

    Examples
    --------
    >>> s = sensor_from_emva(EmvaSummary(name="x", source="example", quantum_efficiency=0.6,
    ...     temporal_dark_noise_e=2.5, saturation_capacity_e=10000, pixel_pitch_um=3.45,
    ...     width_px=1440, height_px=1080))
    >>> round(float(s.qe.curve.sample([525.0])[0]), 3), round(s.full_well_e)
    (0.6, 10171)
    """
    from ...sensor.qe import pixel_qe
    from ...sensor.spec import PixelSpec, QESpec, QuantumEfficiencyCurve, SensorSpec
    from ...spectra import DEFAULT_WAVELENGTHS_NM

    bits = summary.adc_bits
    fw = summary.saturation_capacity_e
    fw = fw + variance_peak_offset_e(fw + variance_peak_offset_e(fw))
    black_guess = 2 ** (bits - 6)
    k = summary.system_gain_dn_per_e
    if k is None:
        k = 0.9 * (2 ** bits - 1 - black_guess) / fw    # full well at 90 % of the ADC range
    dsnu_e = summary.dsnu_e or 0.0            # unpublished → none (see twin_assumptions)
    prnu = (summary.prnu_percent or 0.0) / 100.0
    black = max(black_guess, math.ceil(6 * k * math.hypot(summary.temporal_dark_noise_e,
                                                           dsnu_e)))
    wl = np.asarray(DEFAULT_WAVELENGTHS_NM, np.float64)
    if not wl[0] <= summary.wavelength_nm <= wl[-1]:
        wl = np.union1d(wl, [summary.wavelength_nm])
    shape = pixel_qe(wl, PixelSpec(), summary.illumination, pixel_pitch_um=summary.pixel_pitch_um)
    at = float(np.interp(summary.wavelength_nm, wl, shape))
    curve = np.clip(shape * (summary.quantum_efficiency / at), 0.0, 1.0)
    base = dict(
        name=summary.name, width_px=width_px or summary.width_px,
        height_px=height_px or summary.height_px, pixel_pitch_um=summary.pixel_pitch_um,
        illumination=summary.illumination, cfa="mono",
        qe=QESpec(curve=QuantumEfficiencyCurve(wavelengths_nm=tuple(wl.tolist()),
                                               values=tuple(curve.tolist()))),
        full_well_e=fw, conversion_gain_dn_per_e=k, read_noise_e=summary.temporal_dark_noise_e,
        dark_current_e_per_s=summary.dark_current_e_per_s or 0.0,
        dark_reference_c=summary.temperature_c, temperature_c=summary.temperature_c,
        adc_bits=bits, black_level_dn=black,
        noise=dict(dsnu_offset_e=dsnu_e, prnu_fraction=prnu,
                   fixed_pattern_seed=fixed_pattern_seed),
        shutter=dict(type=summary.shutter),
    )
    s = SensorSpec(**base)
    factor = s.effective_read_noise_e / s.active_mode.read_noise_e
    if factor != 1.0:
        s = s.replace(read_noise_e=summary.temporal_dark_noise_e / factor)
    return s


#: EMVA 1288 result keys that follow from each summary input.
RESULT_KEYS = {
    "dsnu_e": ("dsnu_e", "dsnu_row_e", "dsnu_column_e", "dsnu_pixel_e"),
    "prnu_percent": ("prnu_percent", "prnu_row_percent", "prnu_column_percent",
                     "prnu_pixel_percent"),
    "dark_current_e_per_s": ("dark_current_e_per_s", "dark_current_var_e_per_s"),
    "system_gain_dn_per_e": ("system_gain_dn_per_e", "inverse_system_gain_e_per_dn",
                             "temporal_dark_noise_dn"),
    "quantum_efficiency": ("quantum_efficiency", "responsivity_dn_per_photon"),
    "temporal_dark_noise_e": ("temporal_dark_noise_e",),
    "saturation_capacity_e": ("saturation_capacity_e",),
    "adc_bits": ("adc_bits",),
    "wavelength_nm": ("wavelength_nm",),
}


def twin_assumptions(summary: EmvaSummary) -> dict[str, str]:
    """EMVA 1288 result keys whose value in a measurement of the twin comes from an
    assumption, not from the datasheet → why (for the report and ``results.json``).

    An unpublished DSNU, PRNU or dark current is modelled as zero, so what the simulated
    measurement reports there is the residual of a finite measurement, never a figure of
    the part; an unpublished K is chosen (full well at 90 % of the ADC range); inputs the
    YAML lists under ``assumed`` are marked with its reason.

    >>> sorted(twin_assumptions(load_summary("onsemi-python1300")))[:3]
    ['adc_bits', 'dark_current_e_per_s', 'dark_current_var_e_per_s']
    """
    reasons = {
        "dsnu_e": "DSNU not published: the twin has none (0 e⁻); the value is the residual "
                  "of the simulated measurement, not a figure of the part",
        "prnu_percent": "PRNU not published: the twin has none (0 %); the value is the "
                        "residual of the simulated measurement, not a figure of the part",
        "dark_current_e_per_s": "dark current not published: the twin has none (0 e⁻/s)",
        "system_gain_dn_per_e": "K not published: chosen so that full well sits at 90 % of "
                                "the ADC range",
    }
    out = {}
    for field, why in reasons.items():
        if getattr(summary, field) is None:
            out.update({key: why for key in RESULT_KEYS[field]})
    for field, why in summary.assumed.items():
        for key in RESULT_KEYS.get(field, (field,)):
            out[key] = f"{field} assumed: {why}"
    return out


def expected_figures(summary: EmvaSummary) -> dict:
    """The derived figures the R4.0 formulas give from the summary's own σ_d, μ_e.sat, η
    (K from the summary or :func:`sensor_from_emva`): SNR_max [dB], μ_e.min [e⁻], μ_p.min,
    DR [dB]."""
    k = sensor_from_emva(summary, width_px=8, height_px=8).system_gain_dn_per_e
    s2 = summary.temporal_dark_noise_e ** 2 + 1.0 / 12.0 / k ** 2
    mu_e_min = 0.5 + math.sqrt(s2 + 0.25)
    return {"snr_max_db": 10 * math.log10(summary.saturation_capacity_e),
            "absolute_sensitivity_threshold_e": mu_e_min,
            "absolute_sensitivity_threshold_photons": mu_e_min / summary.quantum_efficiency,
            "dynamic_range_db": 20 * math.log10(summary.saturation_capacity_e / mu_e_min)}
