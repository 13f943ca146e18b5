"""Module-level metrics that application requirements are checked against.

Every metric is measured on *simulated captures* of the module (scene → lens → sensor → raw
→ ISP), not read off the spec, except the purely geometric/timing ones (field of view,
resolution, readout-limited frame rate). Metrics that only concern the centre of the field
(SNR, dynamic range, skew, colour) run on a centred crop of the sensor — the same pixels,
lens and noise model, only fewer of them — which makes an evaluation take seconds even for a
50 MP sensor.

Metrics (unit; conditions with defaults):

``lux_at_snr10`` [lx]
    Scene illuminance at which an 18 % grey Lambertian target (ISO 12232:2019 takes the
    mid-tone, "approximately an 18 % reflectance value", for its noise-based speeds) reaches
    SNR = 10 (ISO 12232's "first acceptable" image quality), at a fixed exposure
    (frame-time limited, default 1/30 s) and the module's gain. Measured on the raw green
    (or clear/mono) channel in the centre: signal μ = mean(frame) − mean(dark frame),
    noise σ = total noise in the uniform region after removing a plane (temporal + fixed
    pattern, as a viewer sees it; ISO 15739 "total noise"), both in e⁻. The sweep covers
    10⁻³…10⁵ lx (4 points per decade, stopping at saturation) and interpolates
    log-SNR vs log-lux. Conditions: ``illuminant`` (D65), ``reflectance`` (0.18),
    ``exposure_s`` (1/30), ``snr`` (10), ``output_mp`` (None: per pixel; else SNR at that
    output size, × √(N_sensor/N_output), see :func:`output_snr_gain`).
``nir_irradiance_at_snr10_mw_m2`` [mW/m²]
    The same for an NIR LED (``illuminant`` IR850 or IR940): total irradiance on the
    target at which SNR = 10 (lux means nothing for invisible light).
``nir_illuminator_range_m`` [m]
    Day/night modules (:mod:`camtwin.daynight`): the distance at which a target of
    ``reflectance`` (0.5) facing the module reaches SNR 10 under the module's own NIR
    illuminator alone, in the night state (IR-cut out): d₁₀ = √(I₀·cos^m θ / E₁₀) with I₀
    the illuminator's on-axis radiant intensity [W/sr], cos^m θ its beam pattern at
    ``off_axis_deg`` (0) and E₁₀ [W/m²] the measured ``nir_irradiance_at_snr10_mw_m2`` at
    the illuminator's wavelength (inverse-square law; SNR depends on E alone, so E₁₀ holds
    at every distance). n/a for a module without an illuminator.
``dynamic_range_db`` [dB]
    EMVA 1288 definition, measured: 20·log10(μ_sat / σ_d) with μ_sat the mean signal of a
    saturated uniform frame [e⁻] and σ_d the temporal dark noise from a dark frame pair
    (σ_d = std(A − B)/√2) at ``exposure_s`` (default 1 ms). Single exposure, linear readout;
    a sensor with an HDR mode is measured the same way on its merged HDR signal
    (:mod:`camtwin.evaluate.hdr_dr`).
``mtf50_cy_px`` [cycles/pixel]
    ISO 12233 e-SFR MTF50 of a slanted edge (5° tilt, a 0.8/0.2 reflectance edge) on the
    raw green sites (clear for RCCB, all pixels for mono) at their sensor positions —
    cycles per sensor pixel, the same number ``camtwin sfr shot.dng --channel g`` gives —
    at field position ``field`` (0 = centre, 1 = corner of the image), well lit (``lux``,
    default 1000); see :mod:`camtwin.evaluate.imaging`.
``motion_skew_px`` [pixels]
    Horizontal displacement between the top and bottom rows of the frame for a vertical
    edge moving at ``object_speed_m_s`` at ``object_distance_m``: the image moves at
    v = speed·m/pitch [px/s] (m = f/(d − f), thin lens); a rolling shutter shears the edge
    by v·t_line per row. Measured from the edge position per row in two captures (moving
    and static; the difference of the fitted slopes, × rows of the full sensor).
``delta_e00_mean`` [ΔE00]
    Mean CIEDE2000 of the 24 ColorChecker patches (:func:`camtwin.measure.color.
    colorchecker_delta_e`), CCM fitted on one capture and evaluated on another, under
    ``illuminant`` (D65) at ``lux`` (500).
``frame_rate_fps`` [fps]
    Readout-limited frame rate 1/(H·t_line) (+ the frame transfer for a CCD).
``hfov_deg`` [°]
    Horizontal field of view at the focus distance, 2·P⁻¹(w/2v) with the lens's projection
    P (2·atan(w/2v) for the rectilinear thin lens).
``dfov_deg`` [°]
    Diagonal field of view, the same over the sensor diagonal (the field of the full image
    circle that endoscope specifications quote, ISO 8600-3).
``pixel_density_px_m`` [px/m]
    Horizontal pixels per metre of a target at ``distance_m`` (IEC 62676-4 DORI metric).
``resolution_mp`` [MP]
    width × height / 10⁶.
``snr_dip_depth_db``, ``hdr_snr_min_db``, ``cdp_at_contrast``, ``led_mmp``,
``flicker_modulation_index``
    IEEE P2020 metrics from a simulated HDR chart capture and from captures of a PWM LED
    at random phases: :mod:`camtwin.evaluate.p2020_metrics`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ..errors import ConfigError

#: lux sweep of the low-light metric: 10⁻³ … 10⁵ lx, 4 points per decade.
LUX_SWEEP = tuple(float(v) for v in np.logspace(-3, 5, 33))
#: NIR irradiance sweep [W/m²]: 10⁻⁶ … 10² W/m², 4 points per decade.
NIR_SWEEP_W_M2 = tuple(float(v) for v in np.logspace(-6, 2, 33))
#: Side of the centred sensor crop used by the centre metrics [pixels].
CROP_PX = 96
#: Side of the crop used for the ColorChecker [pixels] (width; height = 3/4).
COLOUR_CROP_PX = 320


@dataclass(frozen=True)
class MetricResult:
    """A measured value with the data behind it (curves for plots, intermediate numbers).

    ``source`` says where the number comes from (which simulated capture, which pixels,
    which method); ``reason`` is set — and ``value`` is NaN — when the metric means nothing
    for this module (ΔE00 of a monochrome sensor): show "n/a" with the reason, not a number.
    """

    value: float
    details: dict = field(default_factory=dict)
    source: str = ""
    reason: str | None = None

    @property
    def applicable(self) -> bool:
        """False when the metric means nothing for the module (see ``reason``)."""
        return self.reason is None

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    description: str
    conditions: dict  # allowed condition names → default values
    measure: Callable[..., MetricResult]

    def run(self, module, conditions: dict, rng) -> MetricResult:
        cond = {**self.conditions, **(conditions or {})}
        return self.measure(module, rng=rng, **cond)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def crop_module(module, width_px: int, height_px: int | None = None):
    """The module with its sensor cropped to the central ``width_px × height_px`` pixels
    (:func:`camtwin.crop.crop_module`, kept here under its old name)."""
    from ..crop import crop_module as _crop

    return _crop(module, width_px, height_px)


def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _signal_channel_mask(raw) -> np.ndarray:
    """Pixels of the channel used for SNR: G (Bayer, Quad Bayer, RGB-IR), C (RCCB), all
    (mono)."""
    if raw.cfa == "mono":
        return np.ones(raw.shape, dtype=bool)
    chans = raw.sensor.channels if raw.sensor is not None else ("R", "G", "B")
    name = "G" if "G" in chans else "C"
    return raw.channel_index == chans.index(name)


def _signal_name(module) -> str:
    """Name of the pixels the SNR metrics use (see :func:`_signal_channel_mask`)."""
    chans = module.sensor.channels
    return "every" if module.sensor.cfa == "mono" else ("G" if "G" in chans else "C")


def _centre_box(shape, frac: float = 2 / 3) -> tuple[int, int, int, int]:
    h, w = shape
    dh, dw = int(h * (1 - frac) / 2), int(w * (1 - frac) / 2)
    return dh, h - dh, dw, w - dw


def _region_stats_e(raw, box) -> tuple[float, float, int, float]:
    """(mean [e⁻ above black], plane-detrended std [e⁻], n, clipped fraction) of the signal
    channel inside ``box``."""
    r0, r1, c0, c1 = box
    mask = _signal_channel_mask(raw)[r0:r1, c0:c1]
    dn = raw.dn[r0:r1, c0:c1].astype(np.float64)
    clipped = float(np.mean(dn[mask] >= raw.white_level_dn))
    v = (dn - raw.black_level_dn)[mask] / raw.conversion_gain_dn_per_e
    yy, xx = np.nonzero(mask)
    a = np.column_stack([np.ones(v.size), xx - xx.mean(), yy - yy.mean()])
    resid = v - a @ np.linalg.lstsq(a, v, rcond=None)[0]
    return float(v.mean()), float(np.sqrt(np.sum(resid**2) / (v.size - 3))), int(v.size), clipped


def _uniform_scene(module, *, illuminant: str, reflectance: float, irradiance_w_m2=None):
    """Scene of a uniform Lambertian target filling the (cropped) module's view: lit with
    1 lx (visible illuminant), or — when ``irradiance_w_m2`` is given (NIR LEDs, for which
    lux means nothing) — with that total irradiance [W/m²]."""
    from ..camera import scene_extent
    from ..scene.scene import Scene
    from ..spectra import DEFAULT_WAVELENGTHS_NM, illuminant_spd, scale_to_irradiance

    if not 0 < reflectance <= 1:
        raise ConfigError(f"reflectance = {reflectance}: valid range is (0, 1]")
    if irradiance_w_m2 is None:
        from ..camera import module_scene

        return module_scene(module, "uniform", illuminant=illuminant, illuminance_lux=1.0,
                            reflectance=reflectance)
    wl = DEFAULT_WAVELENGTHS_NM
    e = scale_to_irradiance(illuminant_spd(illuminant, wl), float(irradiance_w_m2), wl)
    shape, width_m = scene_extent(module)
    rad = np.broadcast_to((reflectance * e / np.pi).astype(np.float32)[:, None, None],
                          (wl.size,) + shape)
    return Scene(radiance=np.ascontiguousarray(rad), wavelengths_nm=wl, width_m=width_m,
                 distance_m=module.lens.object_distance_m, name="uniform-nir",
                 illuminant=illuminant)


def _uniform_oi(module, *, illuminant: str, reflectance: float, irradiance_w_m2=None):
    """Optical image of the uniform target of :func:`_uniform_scene` through the full optics
    (:func:`camtwin.optics.form_image`: every band warped, shaded and PSF-blurred). Scale
    the result with :func:`_scaled` for other light levels (everything downstream is
    linear). The reference :func:`_uniform_channel_image` is tested against."""
    from ..optics import form_image

    return form_image(_uniform_scene(module, illuminant=illuminant, reflectance=reflectance,
                                     irradiance_w_m2=irradiance_w_m2), module.lens)


def _uniform_channel_image(module, *, illuminant: str, reflectance: float,
                           irradiance_w_m2=None):
    """The sensor-channel image (:class:`camtwin.optics.stream.ChannelImage`) of the
    uniform target of :func:`_uniform_scene`, in closed form instead of through the
    spectral cube.

    For a target of uniform spectral radiance L(λ) [W·sr⁻¹·m⁻²·nm⁻¹] the streamed image
    formation (:mod:`camtwin.optics.stream`) reduces to

        D_c(x) = RI(x) · Σ_λ w_c(λ) · π·T(λ)/(4·N_w²) · L(λ)                [e⁻·s⁻¹·m⁻²]

    with w_c(λ) = QE_c(λ)·λ/(hc)·Δλ (:func:`camtwin.sensor.response.electron_weights`),
    T the lens transmission with its IR-cut, N_w the working f-number and RI the relative
    illumination (cos⁴θ_CRA × vignetting) on the same grid, pitch and full-field height as
    :func:`camtwin.optics.form_image` uses for this scene, because:

    * distortion and lateral colour only resample, and a uniform field resampled (with the
      mirrored border of :func:`camtwin.optics.field.warp_geometry`) stays uniform;
    * each band's PSF integrates to 1 and the blur pads by mirroring, so blurring
      RI(x)·const changes it only through the curvature of RI (≈ ½·σ²·∇²RI for a PSF of
      second moment σ²; cos⁴ with tan θ = r/v gives ∇²RI = −8/v² on axis). Omitting the
      blur is exact to float32 round-off (< 10⁻⁴ relative) for the default and catalog
      lenses, and costs 0.13 % in the centre box for the f = 0.236 mm fisheye endoscope,
      whose RI curves fastest.

    The pixel-aperture average, chief-ray-angle loss, crosstalk and the whole noise chain
    then run unchanged in :func:`camtwin.sensor.capture.capture`. It is the streamed
    formation itself (:func:`camtwin.optics.stream.form_channel_image`) with all bands in
    one group and no blur: one (C, L) weight sum instead of a (L, H, W) cube blurred band
    by band; the measured lux at SNR 10 agrees with the full path within 0.5 %
    (``tests/test_lux_snr_fast.py``), well inside the seed-to-seed scatter of the estimate
    itself (rel. SD ≈ 4 %).
    """
    from ..optics.stream import form_channel_image

    scene = _uniform_scene(module, illuminant=illuminant, reflectance=reflectance,
                           irradiance_w_m2=irradiance_w_m2)
    return form_channel_image(scene, module.lens, module.sensor, band_group_nm=math.inf,
                              diffraction=False)


def _scaled(oi, factor: float):
    """``oi`` (an OpticalImage or a ChannelImage) with its light scaled by ``factor`` ≥ 0."""
    lux = None if oi.illuminance_lux is None else oi.illuminance_lux * factor
    if hasattr(oi, "density"):
        return replace(oi, density=oi.density * np.float32(factor), illuminance_lux=lux)
    return replace(oi, irradiance=oi.irradiance * np.float32(factor), illuminance_lux=lux)


@dataclass(frozen=True)
class SnrCurve:
    """SNR of a uniform target against light level (below saturation only)."""

    level: np.ndarray        # lux, or W/m² for NIR
    snr: np.ndarray
    signal_e: np.ndarray
    noise_e: np.ndarray
    exposure_s: float
    unit: str

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)


def snr_curve(module, *, illuminant: str = "D65", reflectance: float = 0.18,
              exposure_s: float = 1 / 30, levels=None, rng=0, nir: bool = False,
              full_optics: bool = False) -> SnrCurve:
    """Measured SNR (signal / total noise, e⁻) of a uniform target vs light level.

    ``levels`` in lux (or W/m² with ``nir``); the sweep stops at the first level where the
    region clips or exceeds 90 % of full well (beyond it SNR is meaningless).

    All levels and the dark frame use one frame key (common random numbers): each level
    is still an independent, correctly distributed experiment, but the estimation noise of
    the mean no longer jitters between neighbouring levels, so the curve is monotonic
    even where the signal is far below the noise.

    The target's image on the sensor is formed in closed form
    (:func:`_uniform_channel_image`: spectral sum × relative illumination, the same grid,
    CRA, crosstalk and noise chain); ``full_optics=True`` forms it through the full optics
    instead (:func:`camtwin.optics.form_image`, every band warped and PSF-blurred — 5× to
    over 100× the cost for the same result within 0.5 %; kept as the reference the tests
    compare with).
    """
    from ..sensor import capture

    if not 0 < exposure_s <= 10:
        raise ConfigError(f"exposure_s = {exposure_s}: valid range is (0, 10] s")
    gen = _rng(rng)
    crop = crop_module(module, CROP_PX)
    form = _uniform_oi if full_optics else _uniform_channel_image
    oi1 = form(crop, illuminant=illuminant, reflectance=reflectance,
               irradiance_w_m2=1.0 if nir else None)
    box = _centre_box((crop.sensor.height_px, crop.sensor.width_px))
    key = int(gen.integers(0, 2**62))
    dark = capture(_scaled(oi1, 0.0), crop.sensor, exposure_s, key)
    dark_mean, _, _, _ = _region_stats_e(dark, box)
    levels = np.asarray(levels if levels is not None else (NIR_SWEEP_W_M2 if nir else LUX_SWEEP))
    fw = crop.sensor.effective_full_well_e
    out = []
    for lv in levels:
        raw = capture(_scaled(oi1, float(lv)), crop.sensor, exposure_s, key)
        mean, std, _, clipped = _region_stats_e(raw, box)
        if clipped > 0 or mean > 0.9 * fw:
            break
        sig = mean - dark_mean
        out.append((float(lv), sig / std if std > 0 else np.inf, sig, std))
    arr = np.array(out, dtype=np.float64).reshape(-1, 4)
    return SnrCurve(level=arr[:, 0], snr=arr[:, 1], signal_e=arr[:, 2], noise_e=arr[:, 3],
                    exposure_s=float(exposure_s), unit="W/m²" if nir else "lx")


def level_at_snr(curve: SnrCurve, target: float = 10.0) -> float:
    """Light level where the curve first reaches ``target`` (log–log interpolation between
    the bracketing points); the lowest level if already reached there, inf if never."""
    snr, lv = curve.snr, curve.level
    ok = np.nonzero(snr >= target)[0]
    if ok.size == 0:
        return math.inf
    i = int(ok[0])
    if i == 0:
        return float(lv[0])
    s0, s1 = max(snr[i - 1], 1e-6), snr[i]
    t = (math.log(target) - math.log(s0)) / (math.log(s1) - math.log(s0))
    return float(math.exp(math.log(lv[i - 1]) + t * (math.log(lv[i]) - math.log(lv[i - 1]))))


def analytic_lux_at_snr(module, *, target: float = 10.0, illuminant: str = "D65",
                        reflectance: float = 0.18, exposure_s: float = 1 / 30) -> float:
    """Closed-form estimate of :func:`level_at_snr` from the spec alone (centre pixel).

    Signal per lux S₁ = A·t·Σ_λ (ρE₁(λ)/π)·πT(λ)/(4N_w²)·QE_G(λ)·λ/(hc)·Δλ [e⁻/lx] with E₁
    the illuminant scaled to 1 lx, T the lens transmission, N_w the working f-number, QE_G
    the green (or clear/mono) channel QE. Noise² = S + D + σ_r² + σ_row² + σ_col² +
    σ_DSNU² + (PRNU·S)² + (1/K)²/12 (D = dark electrons). SNR = target solves
    S²(1 − τ²p²) − τ²S − τ²N₀ = 0 (τ = target, p = PRNU, N₀ = the signal-free terms).
    """
    from ..scene.scene import illuminant_irradiance
    from ..sensor.response import electron_weights
    from ..spectra import DEFAULT_WAVELENGTHS_NM

    s, lens = module.sensor, module.lens
    wl = DEFAULT_WAVELENGTHS_NM
    e1 = illuminant_irradiance(illuminant, 1.0, wl)
    sensor_irr = reflectance * e1 / np.pi * np.pi * lens.spectral_transmission(wl) / (
        4.0 * lens.working_f_number ** 2)
    w = electron_weights(s, wl)
    ch = "G" if "G" in s.channels else ("C" if "C" in s.channels else s.channels[0])
    s1 = float(s.pixel_area_m2 * exposure_s * np.sum(sensor_irr * w[:, s.channels.index(ch)]))
    n = s.noise
    k = s.system_gain_dn_per_e
    n0 = (s.dark_current_at() * exposure_s + (s.effective_read_noise_e if n.read else 0) ** 2
          + n.row_noise_e ** 2 + n.column_fpn_e ** 2 + n.row_fpn_e ** 2 + n.dsnu_offset_e ** 2
          + (1.0 / k) ** 2 / 12.0)
    tau2, p2 = target ** 2, n.prnu_fraction ** 2
    a = 1.0 - tau2 * p2
    if a <= 0:
        return math.inf
    sig = (tau2 + math.sqrt(tau2 ** 2 + 4 * a * tau2 * n0)) / (2 * a)
    return sig / s1


# --------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------
def output_snr_gain(module, output_mp) -> float:
    """SNR gain of scaling the sensor's image down to ``output_mp`` megapixels:
    √(N_sensor / N_output) — averaging n pixels of uncorrelated (temporal and pixel-level
    fixed-pattern) noise divides σ by √n while keeping the mean. 1 when ``output_mp`` is
    None or not below the sensor's pixel count (no upscaling gain). This is how SNR of
    sensors with different pixel counts is compared at a common output size (ISO 12232:2019
    §6.3 Note 3: the acceptable S/N scales with pixels per print area)."""
    if output_mp is None:
        return 1.0
    if not output_mp > 0:
        raise ConfigError(f"output_mp = {output_mp}: must be > 0")
    n = module.sensor.width_px * module.sensor.height_px / 1e6
    return math.sqrt(n / output_mp) if output_mp < n else 1.0


def _lux_at_snr(module, *, rng, illuminant, reflectance, exposure_s, snr,
                output_mp) -> MetricResult:
    gain = output_snr_gain(module, output_mp)
    curve = snr_curve(module, illuminant=illuminant, reflectance=reflectance,
                      exposure_s=exposure_s, rng=rng)
    value = level_at_snr(curve, snr / gain)
    return MetricResult(value, {"curve": curve, "output_snr_gain": gain,
                                "analytic": analytic_lux_at_snr(
                                    module, target=snr / gain, illuminant=illuminant,
                                    reflectance=reflectance, exposure_s=exposure_s)},
                        source=f"simulated captures of a uniform {reflectance:g} grey target "
                               f"({illuminant}, {exposure_s:.3g} s) on a {CROP_PX} px centre "
                               f"crop, raw {_signal_name(module)} pixels, lux sweep "
                               f"interpolated to SNR {snr:g}")


def _nir_at_snr(module, *, rng, illuminant, reflectance, exposure_s, snr,
                output_mp) -> MetricResult:
    if illuminant not in ("IR850", "IR940"):
        raise ConfigError(f"illuminant = {illuminant!r}: the NIR metric needs IR850 or IR940")
    gain = output_snr_gain(module, output_mp)
    curve = snr_curve(module, illuminant=illuminant, reflectance=reflectance,
                      exposure_s=exposure_s, rng=rng, nir=True)
    return MetricResult(level_at_snr(curve, snr / gain) * 1e3, {"curve": curve,
                                                                "output_snr_gain": gain},
                        source=f"simulated captures of a uniform {reflectance:g} target lit "
                               f"by {illuminant}, raw {_signal_name(module)} pixels, "
                               f"irradiance sweep interpolated to SNR {snr:g}")


def _illuminator_range(module, *, rng, reflectance, exposure_s, snr, output_mp,
                       off_axis_deg) -> MetricResult:
    """``nir_illuminator_range_m`` (module docstring; equations in :mod:`camtwin.daynight`)."""
    dn = getattr(module, "day_night", None)
    if dn is None or dn.illuminator is None:
        why = "the module has no NIR illuminator (day_night.illuminator)"
        return MetricResult(math.nan, {"reason": why}, source="not measured", reason=why)
    ill = dn.illuminator
    night = module.in_state("night")
    e10 = _nir_at_snr(night, rng=rng, illuminant=ill.illuminant, reflectance=reflectance,
                      exposure_s=exposure_s, snr=snr, output_mp=output_mp)
    d = ill.distance_at_irradiance_m(e10.value * 1e-3, off_axis_deg)
    return MetricResult(d, {"irradiance_at_snr_mw_m2": e10.value,
                            "radiant_intensity_mw_sr": ill.radiant_intensity_mw_sr,
                            "lambertian_order": ill.lambertian_order,
                            "off_axis_deg": off_axis_deg, "curve": e10.details["curve"]},
                        source=f"night state (IR-cut out): {e10.source}; d = √(I₀·cos^m θ / E) "
                               f"with the {ill.illuminant} illuminator's "
                               f"I₀ = {ill.radiant_intensity_mw_sr:g} mW/sr")


def _dynamic_range(module, *, rng, exposure_s) -> MetricResult:
    if module.sensor.hdr is not None:  # HDR mode: DR of the merged signal
        from .hdr_dr import hdr_dynamic_range

        return hdr_dynamic_range(module, rng=rng, exposure_s=exposure_s)
    from ..sensor import capture

    gen = _rng(rng)
    crop = crop_module(module, CROP_PX)
    s = crop.sensor
    # the uniform target in closed form (:func:`_uniform_channel_image`, = the full optics
    # to < 0.5 %): only its level matters here
    oi1 = _uniform_channel_image(crop, illuminant="D65", reflectance=0.9)
    box = _centre_box((s.height_px, s.width_px))
    a = capture(_scaled(oi1, 0.0), s, exposure_s, gen)
    b = capture(_scaled(oi1, 0.0), s, exposure_s, gen)
    mask = _signal_channel_mask(a)[box[0]:box[1], box[2]:box[3]]
    diff = (a.dn.astype(np.float64) - b.dn)[box[0]:box[1], box[2]:box[3]][mask]
    sigma_d = float(diff.std(ddof=1) / math.sqrt(2) / s.system_gain_dn_per_e)
    # saturate: the level that puts 3× the usable range on the centre pixel
    probe = capture(_scaled(oi1, 1000.0), s, exposure_s, gen)
    m1000 = max(_region_stats_e(probe, box)[0], 1e-3)
    usable = min(s.effective_full_well_e,
                 (s.white_level_dn - s.black_level_dn) / s.system_gain_dn_per_e)
    sat = capture(_scaled(oi1, 1000.0 * 3 * usable / m1000), s, exposure_s, gen)
    mu_sat = _region_stats_e(sat, box)[0]
    sigma_d = max(sigma_d, 1e-6)
    return MetricResult(20 * math.log10(mu_sat / sigma_d),
                        {"saturation_e": mu_sat, "dark_noise_e": sigma_d},
                        source=f"simulated saturated and dark frame pairs ({exposure_s:.3g} s) "
                               f"on a {CROP_PX} px centre crop, EMVA 1288 μ_sat/σ_d")


def _edge_positions(img: np.ndarray, half_window: int = 24) -> np.ndarray:
    """Sub-pixel column of the 50 % crossing in every row of a dark-to-light edge image.

    Per row: a first crossing of the mid level between the row's 10th and 90th
    percentiles, then the dark and light levels re-measured as medians 6…``half_window``
    pixels either side of it (local, so illumination gradients and borders do not bias
    them), and the 50 % crossing of a 3-tap smoothed profile, linearly interpolated.
    """
    pos = np.full(img.shape[0], np.nan)
    w = img.shape[1]
    for r, row in enumerate(np.asarray(img, dtype=np.float64)):
        sm = np.convolve(row, np.ones(3) / 3, mode="same")
        sm[0], sm[-1] = sm[1], sm[-2]
        lo, hi = np.percentile(sm, 10), np.percentile(sm, 90)
        above = np.nonzero(sm >= 0.5 * (lo + hi))[0]
        if above.size == 0 or hi <= lo:
            continue
        c = int(above[0])
        left = sm[max(c - half_window, 0):max(c - 6, 1)]
        right = sm[min(c + 6, w - 1):min(c + half_window, w)]
        if left.size < 3 or right.size < 3:
            continue
        level = 0.5 * (np.median(left) + np.median(right))
        seg = sm[max(c - 6, 1):min(c + 6, w)]
        idx = np.nonzero(seg >= level)[0]
        if idx.size == 0:
            continue
        i = int(idx[0]) + max(c - 6, 1)
        if sm[i] == sm[i - 1]:
            continue
        pos[r] = i - 1 + (level - sm[i - 1]) / (sm[i] - sm[i - 1])
    return pos


def _channel_flat(raw, light_box) -> np.ndarray:
    """Raw mosaic divided by each channel's mean in ``light_box`` (a neutral target then
    looks grey in every channel), float64."""
    img = (raw.dn.astype(np.float64) - raw.black_level_dn)
    if raw.cfa == "mono":
        r0, r1, c0, c1 = light_box
        return img / max(img[r0:r1, c0:c1].mean(), 1e-9)
    idx = raw.channel_index
    out = np.empty_like(img)
    r0, r1, c0, c1 = light_box
    for c in np.unique(idx):
        m = idx == c
        ref = img[r0:r1, c0:c1][m[r0:r1, c0:c1]].mean()
        out[m] = img[m] / max(ref, 1e-9)
    return out


def image_speed_px_s(module, object_speed_m_s: float, object_distance_m: float) -> float:
    """Image-plane speed [px/s] of an object moving across the view: v·f/(d − f)/pitch."""
    f_m = module.lens.focal_length_mm * 1e-3
    if not object_distance_m > f_m:
        raise ConfigError(f"object_distance_m = {object_distance_m}: must exceed the focal "
                          f"length ({module.lens.focal_length_mm} mm)")
    return object_speed_m_s * f_m / (object_distance_m - f_m) / (
        module.sensor.pixel_pitch_um * 1e-6)


def _motion_skew(module, *, rng, object_speed_m_s, object_distance_m) -> MetricResult:
    from ..camera import module_scene
    from ..optics import form_image
    from ..sensor import capture

    gen = _rng(rng)
    crop = crop_module(module, 128, 256)
    s = crop.sensor
    v = image_speed_px_s(module, object_speed_m_s, object_distance_m)
    scene = module_scene(crop, "slanted_edge", illuminance_lux=1000.0)
    oi = form_image(scene, crop.lens)
    from ..sensor import auto_exposure_s

    t = min(auto_exposure_s(oi, s), 1e-3)   # short: the skew, not the blur, is measured
    light = (s.height_px // 4, 3 * s.height_px // 4, int(s.width_px * 0.72),
             int(s.width_px * 0.9))
    slopes = []
    key = int(gen.integers(0, 2**62))  # common random numbers: the noise cancels in the slope
    for speed in (0.0, v):                # difference, only the motion remains
        raw = capture(oi, s, t, key, motion_px_per_s=(0.0, speed))
        pos = _edge_positions(_channel_flat(raw, light))
        rows = np.arange(pos.size)
        ok = np.isfinite(pos)
        if ok.sum() < pos.size // 2:
            raise ConfigError("motion skew: the edge could not be located (too fast or too dark)")
        slopes.append(np.polyfit(rows[ok], pos[ok], 1)[0])
    shear = float(slopes[1] - slopes[0])        # px per row
    skew = abs(shear) * module.sensor.height_px
    analytic = (v * module.sensor.shutter.line_time_s * module.sensor.height_px
                if module.sensor.shutter.type == "rolling" else 0.0)
    return MetricResult(skew, {"image_speed_px_s": v, "shear_px_per_row": shear,
                               "analytic_px": analytic, "exposure_s": t},
                        source="simulated static and moving slanted-edge captures (128 × 256 "
                               "px crop): difference of the fitted edge slopes × sensor rows")


def _mtf50(module, *, rng, field, lux) -> MetricResult:
    from .imaging import slanted_edge_mtf

    return slanted_edge_mtf(module, field=field, lux=lux, rng=rng)


def _delta_e(module, *, rng, illuminant, lux) -> MetricResult:
    from ..camera import ccm_from_capture, expose, module_scene, render
    from ..measure.color import colorchecker_delta_e
    from ..optics import form_image

    if module.sensor.cfa == "mono" or not {"R", "G", "B"} <= set(module.sensor.channels):
        why = f"a {module.sensor.cfa} sensor does not reproduce colour"
        return MetricResult(math.nan, {"reason": why}, source="not measured", reason=why)
    gen = _rng(rng)
    crop = crop_module(module, COLOUR_CROP_PX, COLOUR_CROP_PX * 3 // 4)
    oi = form_image(module_scene(crop, "colorchecker", illuminant=illuminant,
                                 illuminance_lux=lux), crop.lens)
    ccm = ccm_from_capture(crop, expose(crop, oi, exposure_s=None, rng=gen))
    raw = expose(crop, oi, exposure_s=None, rng=gen)
    res = colorchecker_delta_e(render(crop, raw, ccm=ccm).linear,
                               raw.metadata["layout_px"]["patches"])
    return MetricResult(float(res["mean"]), {"max": float(res["max"]),
                                             "exposure_error_stops": res["exposure_error_stops"]},
                        source=f"simulated ColorChecker captures ({illuminant}, {lux:g} lx, "
                               f"{COLOUR_CROP_PX} px crop): CCM fitted on one, CIEDE2000 of "
                               f"the 24 patches of the other's ISP output")


def _frame_rate(module, *, rng) -> MetricResult:
    s = module.sensor
    t = s.height_px * s.shutter.line_time_s
    if s.shutter.type == "ccd":
        t += s.shutter.transfer_time_s
    return MetricResult(1.0 / t, {"readout_s": t},
                        source="the sensor spec: 1/(rows × line time) (+ CCD transfer)")


def _hfov(module, *, rng) -> MetricResult:
    return MetricResult(module.horizontal_fov_deg,
                        source="the lens and sensor spec (projection of the sensor width)")


def _dfov(module, *, rng) -> MetricResult:
    return MetricResult(module.diagonal_fov_deg,
                        source="the lens and sensor spec (projection of the sensor diagonal)")


def _pixel_density(module, *, rng, distance_m) -> MetricResult:
    """Horizontal pixels per metre of target at ``distance_m`` (thin lens: the view is
    sensor width / m wide, m = f/(d − f); with a fisheye projection P the view is
    2·d·tan P⁻¹(w/2v), v = f·d/(d − f), and the figure is the mean over it)."""
    import math

    from ..optics.lens import projection_angle

    f_m = module.lens.focal_length_mm * 1e-3
    if not distance_m > f_m:
        raise ConfigError(f"distance_m = {distance_m}: must exceed the focal length")
    view_m = module.sensor.width_mm * 1e-3 * (distance_m - f_m) / f_m
    if not module.lens.rectilinear:
        v_m = f_m * distance_m / (distance_m - f_m)
        theta = float(projection_angle(module.lens.projection,
                                       module.sensor.width_mm * 1e-3 / 2.0 / v_m))
        view_m = 2.0 * distance_m * math.tan(min(theta, math.radians(89.9)))
    return MetricResult(module.sensor.width_px / view_m, {"view_width_m": view_m},
                        source="the lens and sensor spec: pixels across the view at "
                               f"{distance_m:g} m")


def _resolution(module, *, rng) -> MetricResult:
    return MetricResult(module.sensor.width_px * module.sensor.height_px / 1e6,
                        source="the sensor spec: width × height")


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("lux_at_snr10", "lx", "scene illuminance for SNR 10 on 18 % grey",
           {"illuminant": "D65", "reflectance": 0.18, "exposure_s": 1 / 30, "snr": 10.0,
            "output_mp": None},
           _lux_at_snr),
    Metric("nir_irradiance_at_snr10_mw_m2", "mW/m²", "NIR irradiance for SNR 10",
           {"illuminant": "IR850", "reflectance": 0.5, "exposure_s": 1 / 30, "snr": 10.0,
            "output_mp": None},
           _nir_at_snr),
    Metric("nir_illuminator_range_m", "m",
           "distance of SNR 10 under the module's own NIR illuminator (night state)",
           {"reflectance": 0.5, "exposure_s": 1 / 30, "snr": 10.0, "output_mp": None,
            "off_axis_deg": 0.0},
           _illuminator_range),
    Metric("dynamic_range_db", "dB", "dynamic range (EMVA 1288; HDR modes: merged signal)",
           {"exposure_s": 1e-3}, _dynamic_range),
    Metric("mtf50_cy_px", "cy/px", "e-SFR MTF50 of the raw green sites (per sensor pixel)",
           {"field": 0.0, "lux": 1000.0}, _mtf50),
    Metric("motion_skew_px", "px", "rolling-shutter skew of a moving vertical edge, frame height",
           {"object_speed_m_s": 10.0, "object_distance_m": 10.0}, _motion_skew),
    Metric("delta_e00_mean", "ΔE00", "mean CIEDE2000 on a ColorChecker",
           {"illuminant": "D65", "lux": 500.0}, _delta_e),
    Metric("frame_rate_fps", "fps", "readout-limited frame rate", {}, _frame_rate),
    Metric("hfov_deg", "°", "horizontal field of view", {}, _hfov),
    Metric("dfov_deg", "°", "diagonal field of view", {}, _dfov),
    Metric("pixel_density_px_m", "px/m", "horizontal pixels per metre of target",
           {"distance_m": 5.0}, _pixel_density),
    Metric("resolution_mp", "MP", "pixel count", {}, _resolution),
)}


# IEEE P2020 metrics (SNR dips, HDR SNR, CDP, LED flicker): camtwin.evaluate.p2020_metrics
from .p2020_metrics import P2020_METRICS  # noqa: E402  (needs Metric/MetricResult above)

METRICS.update(P2020_METRICS)
# CSI-2 link, power, self-heating and module size: camtwin.budget.metrics
from ..budget.metrics import BUDGET_METRICS  # noqa: E402  (needs Metric/MetricResult above)

METRICS.update(BUDGET_METRICS)
# hand shake, OIS / EIS stabilisation: camtwin.motion.metrics
from ..motion.metrics import MOTION_METRICS  # noqa: E402

METRICS.update(MOTION_METRICS)


def measure(module, metric: str, conditions: dict | None = None, *, rng=0) -> MetricResult:
    """Measure one metric on ``module`` (conditions override the metric's defaults)."""
    from ..errors import unknown_name

    if metric not in METRICS:
        raise unknown_name("metric", metric, METRICS)
    m = METRICS[metric]
    bad = set(conditions or {}) - set(m.conditions)
    if bad:
        raise ConfigError(f"{metric}: unknown condition {sorted(bad)[0]!r}; valid: "
                          f"{', '.join(m.conditions) or 'none'}")
    return m.run(module, conditions or {}, rng)


__all__ = ["METRICS", "Metric", "MetricResult", "measure", "snr_curve", "level_at_snr",
           "analytic_lux_at_snr", "crop_module", "image_speed_px_s", "SnrCurve"]
