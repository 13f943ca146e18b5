"""IEEE P2020 module metrics: SNR dips and SNR over an HDR range, CDP, LED flicker.

Every metric here is measured on *simulated captures* of the module through the same
capture entry as the other metrics (:func:`camtwin.sensor.capture`, via
:func:`camtwin.scene.lights.capture_lit` for the flickering LED). The linear signal of a
capture is taken by :func:`linear_signal_e`: when the capture carries an HDR frame
(:class:`camtwin.sensor.hdr.HdrRaw` — the frame itself, or an attribute or metadata entry
of the returned :class:`~camtwin.raw.RawFrame`), its components are merged
(:func:`camtwin.isp.hdr.merge_hdr`, or the sensor's own combination) into reference
electrons; otherwise the single exposure's (DN − black)/K. So a module whose sensor has an
HDR mode is measured in that mode as soon as ``capture()`` dispatches on ``sensor.hdr``;
the ``source`` of every result says which of the two it was.

Metrics (unit; conditions with defaults):

``snr_dip_depth_db`` [dB]
    Largest SNR dip over the HDR range (IEEE P2020 White Paper 2018: the SNR drop at the
    exposure / gain / photodiode transitions of an HDR sensor), from one capture of an HDR
    chart (:func:`chart_snr`); 0 when the curve has no dip. Conditions ``exposure_s``
    (0.011: the long exposure that covers one period of a 90 Hz LED), ``illuminant``
    (D65: the spectrum of the chart's patches), ``merge`` (``noise_optimal``,
    ``selection``: the ISP merges of :mod:`camtwin.isp.hdr`; ``on_sensor``: the sensor's
    own switch combination, decompanded when it is sent PWL-companded — the camera's
    output for sensors that combine on chip, as the automotive profiles state).
``hdr_snr_min_db`` [dB]
    Lowest SNR of the chart's patches with luminance in [``luminance_min_cd_m2``,
    ``luminance_max_cd_m2``] (1 … 10⁴ cd/m²), and of the curve at the two ends themselves
    (local line through the patches within ±1/8 decade) — P2020's minimum SNR over the
    HDR range of a use case, dips included. A clipped patch inside the range carries no information: the
    value is then −∞ (the module cannot deliver the range).
``cdp_at_contrast`` [—, 0…1]
    Contrast detection probability (Geese, Seger & Paolillo, EI 2018; P2020 White Paper
    2018) of a Weber contrast ``contrast`` (0.5) with relative confidence ``confidence``
    (0.5) at scene luminance ``luminance_cd_m2`` (dark side; 1 cd/m²), from the chart's
    per-patch statistics (:func:`camtwin.measure.p2020.cdp_vs_luminance`, log-log
    interpolation between patches). 0 where the bright side clips.
``led_mmp`` [—, 0…1]
    Modulation mitigation probability (P2020 flicker metrics; Deegan, EI 2018/2020) of a
    PWM LED of ``frequency_hz`` (90), ``duty`` (0.1) and time-mean ``luminance_cd_m2``
    (10⁴: an LED signal head, :func:`camtwin.scene.lights.traffic_light`), seen by the module with exposure ``exposure_s``
    (0.011) at ``phases`` (100) independent uniform random phases: the fraction of
    captures in which the LED's signal is at least ``threshold`` (0.5) of its
    steady-state signal (:func:`flicker_captures`). Reference for a single exposure with
    the same window for the LED's rows: :func:`camtwin.measure.p2020.
    pwm_capture_distribution` (T, f, D).mmp(θ) (θ → 0⁺: min(1, D + T·f)).
``flicker_modulation_index`` [—, 0…1]
    FMI = (max − min)/(max + min) of the LED's signal over the same phases (same
    conditions, no threshold): 0 for a steady rendering, 1 when some captures miss it.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import ConfigError, unknown_name
from .metrics import (CROP_PX, Metric, MetricResult, _rng,
                      _uniform_oi, crop_module)

#: Merges of an HDR capture the P2020 metrics accept (``merge`` condition).
MERGES = ("noise_optimal", "selection", "on_sensor")
#: Chart patches per decade of luminance (spacing 10^(1/20) = 1.12: an SNR dip is located
#: within ±6 % and two patches lie on each side within the 0.25-decade fit span).
PATCHES_PER_DECADE = 20
#: Patch side and gap of the HDR chart [sensor pixels] (reduced for small sensors).
PATCH_PX, GAP_PX = 48, 4
#: Inset of each patch (fraction per side) before its statistics are taken.
PATCH_INSET = 0.1
#: Side of the sensor crop of the flicker metrics [pixels] and the LED box in it.
FLICKER_CROP_PX = 256
LED_BOX = (0.4375, 0.5625, 0.4375, 0.5625)
#: Fraction of the LED box (per side) left out of its signal: edges blurred by the lens.
LED_INSET = 0.25


# --------------------------------------------------------------------------------------
# the linear signal of a capture (single exposure or HDR)
# --------------------------------------------------------------------------------------
def _hdr_frame(raw):
    """The :class:`~camtwin.sensor.hdr.HdrRaw` a capture carries, or None."""
    from ..sensor.hdr import HdrRaw

    if isinstance(raw, HdrRaw):
        return raw
    if dataclasses.is_dataclass(raw):
        for f in dataclasses.fields(raw):
            v = getattr(raw, f.name, None)
            if isinstance(v, HdrRaw):
                return v
    for v in (getattr(raw, "metadata", None) or {}).values():
        if isinstance(v, HdrRaw):
            return v
    return None


def linear_signal_e(raw, *, merge: str = "noise_optimal") -> tuple[np.ndarray, float, str]:
    """Linear signal of a capture in (reference) electrons, its clip level, and what it is.

    HDR capture (an :class:`~camtwin.sensor.hdr.HdrRaw` found on ``raw``, e.g.
    ``RawFrame.hdr``): ``merge`` of its components — ``"noise_optimal"`` / ``"selection"`` (:func:`camtwin.isp.hdr.merge_hdr`)
    or ``"on_sensor"`` (the sensor's switch combination ``combined_e``; when the sensor
    compands it (``hdr.pwl``), the decompanded PWL stream x = (decompand(y) − black)/K_0,
    :func:`camtwin.isp.hdr.pwl_to_linear_e`, which is what the camera's ISP receives) — in
    electrons of the reference component; clip level = s_last·e_sat,last (``full_scale_e``). A frame
    with ``hdr_electrons`` but no components: that combined value. Single exposure: (DN − black)/K; clip level = min(full well, (white − black)/K).

    Returns
    -------
    (image float32 (H, W) [e⁻], white_level_e, description)
    """
    if merge not in MERGES:
        raise unknown_name("merge", merge, MERGES)
    hdr = _hdr_frame(raw)
    if hdr is not None:
        if merge == "on_sensor" and getattr(hdr, "pwl_dn", None) is not None:
            # what the sensor sends: the PWL-companded combination, decompanded by the ISP
            from ..isp.hdr import pwl_to_linear_e

            img = pwl_to_linear_e(hdr)
            return (img, float(hdr.full_scale_e),
                    f"HDR {hdr.hdr.mode} capture, on-sensor combination sent "
                    f"{hdr.hdr.pwl.output_bits}-bit PWL-companded, decompanded")
        if merge == "on_sensor":
            img = np.asarray(hdr.combined_e, dtype=np.float32)
        else:
            from ..isp.hdr import merge_hdr

            img = merge_hdr(hdr, method=merge).linear_e
        return img, float(hdr.full_scale_e), f"HDR {hdr.hdr.mode} capture, {merge} merge"
    combined = getattr(raw, "hdr_electrons", None)
    if combined is not None:   # an HDR frame without its components (read from a file)
        s = raw.sensor
        fs = (s.hdr.full_scale_e(s, raw.exposure_s) if s is not None
              and getattr(s, "hdr", None) is not None else None)
        return (np.asarray(combined, dtype=np.float32),
                float(fs) if fs is not None else float(np.max(combined)),
                "HDR capture, the sensor's combined output (no components to merge)")
    k = float(raw.conversion_gain_dn_per_e)
    img = ((raw.dn.astype(np.float32) - np.float32(raw.black_level_dn)) / np.float32(k))
    white = (raw.white_level_dn - raw.black_level_dn) / k
    if raw.sensor is not None:
        white = min(white, float(raw.sensor.effective_full_well_e))
    return img, float(white), "single-exposure capture"


def _expected_full_scale_e(sensor, exposure_s: float) -> float:
    """Clip level [reference e⁻] of the sensor's output: its HDR mode's full scale when it
    has one, else the single exposure's — only to size the chart (what the capture
    really returns is read from it)."""
    hdr = getattr(sensor, "hdr", None)
    single = min(float(sensor.effective_full_well_e),
                 (sensor.white_level_dn - sensor.black_level_dn) / sensor.system_gain_dn_per_e)
    if hdr is None:
        return single
    fs = hdr.full_scale_e(sensor, exposure_s)
    return max(single, float(fs)) if fs is not None else single


# --------------------------------------------------------------------------------------
# HDR chart capture
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ChartSnr:
    """One simulated HDR chart capture of a module and its P2020 analysis."""

    result: object                 # camtwin.measure.p2020.HdrSnrResult
    chart: object                  # camtwin.measure.p2020.HdrChart
    electrons_per_cd_m2: float     # reference electrons per cd/m² at the centre
    white_level_e: float
    kind: str                      # "HDR dol capture, noise_optimal merge" / "single-exposure…"
    exposure_s: float

    @property
    def source(self) -> str:
        lum = self.chart.luminance_cd_m2
        return (f"simulated HDR chart capture ({lum.size} patches, {lum[0]:.3g}–{lum[-1]:.3g} "
                f"cd/m², {self.exposure_s:.3g} s): {self.kind}; P2020 SNR vs luminance of the "
                f"raw signal pixels")


def _check_exposure(exposure_s) -> float:
    try:
        t = float(exposure_s)
    except (TypeError, ValueError):
        raise ConfigError(f"exposure_s = {exposure_s!r}: expected a number (s)") from None
    if not (math.isfinite(t) and 0 < t <= 1.0):
        raise ConfigError(f"exposure_s = {exposure_s!r}: valid range is 0 < exposure_s <= 1 s")
    return t


def _positive(name: str, value, hi: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {value!r}: expected a number") from None
    if not (math.isfinite(v) and v > 0 and (hi is None or v <= hi)):
        rng = f"0 < {name}" + (f" <= {hi:g}" if hi is not None else "")
        raise ConfigError(f"{name} = {value!r}: valid range is {rng}")
    return v


def _chart_geometry(n: int, width_px: int, height_px: int) -> tuple[int, int, int]:
    """(columns, patch_px, gap_px) of an n-patch chart that fits the sensor."""
    cols = int(math.ceil(math.sqrt(n)))
    rows = -(-n // cols)
    patch, gap = PATCH_PX, GAP_PX
    fit = min((width_px - gap) // cols, (height_px - gap) // rows) - gap
    if fit < patch:
        patch = fit - fit % 2
    if patch < 8:
        raise ConfigError(f"the sensor ({width_px} × {height_px} px) is too small for a "
                          f"{n}-patch HDR chart (needs >= {cols * 12 + 4} px per side)")
    return cols, patch, gap


def chart_snr(module, *, exposure_s: float = 0.011, illuminant: str = "D65",
              merge: str = "noise_optimal", luminance_range_cd_m2=None, rng=0) -> ChartSnr:
    """Capture an IEEE P2020 HDR chart with the module and analyse its SNR curve.

    The chart (:func:`camtwin.measure.p2020.hdr_test_chart`) has patches log-spaced at
    :data:`PATCHES_PER_DECADE` from L_min = S₁/(4k) to L_max = 2·x_sat/k, so that it spans
    the module's whole range from below SNR = 1 to beyond clipping: k [e⁻ per cd/m²] is
    the centre pixel's reference-channel signal per unit scene luminance (from the
    module's own optics and sensor: a white Lambertian target at 1 lx has L = 1/π cd/m²),
    x_sat the clip level of the sensor's output (its HDR full scale if it has an HDR
    mode), S₁ = (1 + √(1 + 4σ²))/2 the SNR = 1 signal of read noise σ. A
    ``luminance_range_cd_m2`` (lo, hi) widens the chart to cover it.

    Rendering: each patch i has the spectrum of ``illuminant`` at luminance L_i; it is
    placed in the image plane of the module — the uniform-field optical image of the
    module (lens transmission, relative illumination, pupil) times L_i over the patch's
    pixels — and captured with :func:`camtwin.sensor.capture` (every noise source,
    full well, ADC; the HDR mode when ``capture`` dispatches on it). Lens blur and flare
    between patches are left out on purpose: a 160 dB chart through an FFT blur would leak
    float32 rounding of the brightest patches into the darkest, and P2020 measures inside
    the patches. The patches are pre-compensated for the module's shading (each pixel's
    irradiance divided by its noise-free uniform-field response relative to its channel's
    median: relative illumination, CRA, crosstalk), so every pixel of a patch collects
    the same signal k·L_i and switches HDR component at the same luminance — what a
    flat-field-corrected lab capture shows. Each patch's mean and spatial σ over the
    signal pixels (G / C / all, inset :data:`PATCH_INSET`) of the linear signal
    (:func:`linear_signal_e`) feed :func:`camtwin.measure.p2020.snr_vs_luminance`
    (ISO 15739 DR by SNR ≥ 1, dips) with the capture's clip level as white level.

    The sensor's blooming model acts as configured: a sensor whose saturated pixels spill
    charge (``noise.blooming`` with ``antiblooming_drain`` < 1) floods dark patches from
    patches far beyond its full well and measures a lower DR and deeper SNR losses.
    """
    from ..measure.p2020 import hdr_test_chart, snr_from_patches, snr_vs_luminance
    from ..sensor import capture
    from ..sensor.capture import electron_rate

    t = _check_exposure(exposure_s)
    if merge not in MERGES:
        raise unknown_name("merge", merge, MERGES)
    gen = _rng(rng)
    s_full = module.sensor
    # calibration on a small centre crop: reference electrons per cd/m²
    small = crop_module(module, CROP_PX)
    oi_cal = _uniform_oi(small, illuminant=illuminant, reflectance=1.0)
    rate_cal = electron_rate(oi_cal, small.sensor)
    sig_mask = _mask_for(small.sensor)
    k_e = float(np.pi * np.median(rate_cal[sig_mask]) * t)   # e⁻ per cd/m²
    if not k_e > 0:
        raise ConfigError(f"illuminant = {illuminant!r}: the module's signal pixels see no "
                          "light of it (no HDR chart possible)")
    sigma = float(s_full.effective_read_noise_e) if s_full.noise.read else 0.0
    s1 = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * sigma**2))
    lo, hi = s1 / (4.0 * k_e), 2.0 * _expected_full_scale_e(s_full, t) / k_e
    if luminance_range_cd_m2 is not None:
        lo = min(lo, luminance_range_cd_m2[0] / 1.05)
        hi = max(hi, luminance_range_cd_m2[1] * 1.05)
    decades = math.log10(hi / lo)
    n = int(math.ceil(decades * PATCHES_PER_DECADE)) + 1
    cols, patch, gap = _chart_geometry(n, s_full.width_px, s_full.height_px)
    chart = hdr_test_chart(n, dynamic_range_db=20 * decades, max_luminance_cd_m2=hi,
                           patch_px=patch, gap_px=gap, columns=cols)
    h, w = chart.shape
    crop = crop_module(module, w + w % 2, h + h % 2)
    s = crop.sensor
    lum_map = np.zeros((s.height_px, s.width_px), np.float32)
    lum_map[:h, :w] = chart.render()
    shading = _image_plane(module, crop, oi_cal)        # uniform 1 lx field, L = 1/π cd/m²
    flat_rate = electron_rate(shading, s)
    mask = _mask_for(s)
    centre = float(np.median(flat_rate[mask]))
    flat = _channel_flat(flat_rate, s)
    oi = dataclasses.replace(shading, irradiance=shading.irradiance * (
        np.float32(np.pi) * lum_map / flat)[None], scene_name="p2020-hdr-chart")
    raw = capture(oi, s, t, gen)
    img, white, kind = linear_signal_e(raw, merge=merge)
    stats = snr_from_patches(img, chart.boxes, inset=PATCH_INSET, mask=mask)
    res = snr_vs_luminance(chart.luminance_cd_m2, stats.mean, stats.std, white_level=white)
    return ChartSnr(res, chart, float(centre * np.pi * t), white, kind, t)


def _mask_for(sensor) -> np.ndarray:
    """Signal pixels (G / C / all) of a sensor, without a capture."""
    from ..raw.cfa import cfa_layout

    if sensor.cfa == "mono":
        return np.ones((sensor.height_px, sensor.width_px), bool)
    chans = sensor.channels
    name = "G" if "G" in chans else "C"
    lay = cfa_layout(sensor.cfa)
    ph, pw = lay.period
    out = np.zeros((sensor.height_px, sensor.width_px), bool)
    for i in range(ph):
        for j in range(pw):
            if lay.tile[i][j] == name:
                out[i::ph, j::pw] = True
    return out


def _channel_flat(rate: np.ndarray, sensor) -> np.ndarray:
    """Noise-free response (H, W) of each pixel to a uniform field relative to the median
    of its own CFA channel (the module's shading: relative illumination, CRA, crosstalk)."""
    from ..raw.cfa import cfa_layout

    out = np.ones_like(rate, dtype=np.float32)
    if sensor.cfa == "mono":
        med = float(np.median(rate))
        return (rate / med).astype(np.float32) if med > 0 else out
    lay = cfa_layout(sensor.cfa)
    ph, pw = lay.period
    for i in range(ph):
        for j in range(pw):
            sub = rate[i::ph, j::pw]
            med = float(np.median(sub))
            if med > 0:
                out[i::ph, j::pw] = np.maximum(sub / med, 1e-6)
    return out


def _image_plane(module, crop, oi_axis):
    """Optical image (on the crop's pixel grid) of a uniform white Lambertian target at
    1 lx: the on-axis spectral irradiance of ``oi_axis`` (:func:`_uniform_oi` of a small
    centre crop: lens transmission, working f-number) times the lens's relative
    illumination at each pixel of the crop (cos⁴ and vignetting, the full module's field;
    :func:`camtwin.optics.field.relative_illumination_map`). No blur: a uniform field has
    none."""
    from ..optics.field import relative_illumination_map
    from ..optics.image import OpticalImage, full_field_um

    s, pitch = crop.sensor, crop.sensor.pixel_pitch_um
    _, ho, wo = oi_axis.irradiance.shape
    e_axis = oi_axis.irradiance[:, ho // 2, wo // 2].astype(np.float32)
    ff = full_field_um((module.sensor.height_px, module.sensor.width_px), pitch, crop.lens)
    ri = relative_illumination_map((s.height_px, s.width_px), pitch, crop.lens, ff)
    return OpticalImage(irradiance=e_axis[:, None, None] * ri[None], wavelengths_nm=
                        oi_axis.wavelengths_nm, sample_pitch_um=pitch, lens=crop.lens,
                        scene_name="uniform", illuminant=oi_axis.illuminant,
                        illuminance_lux=1.0)


def _chart_details(c: ChartSnr) -> dict:
    r = c.result
    dr = r.dynamic_range
    return {"hdr_dr_db": math.nan if dr is None else dr.dr_db,
            "n_dips": len(r.dips), "n_patches": int(r.luminance.size),
            "electrons_per_cd_m2": c.electrons_per_cd_m2, "white_level_e": c.white_level_e,
            "min_dip_db": r.min_dip_db,
            "dips": [(d.luminance, d.depth_db) for d in r.dips], "snr_result": r}


# --------------------------------------------------------------------------------------
# metrics on the chart
# --------------------------------------------------------------------------------------
def _snr_dip_depth(module, *, rng, exposure_s, illuminant, merge) -> MetricResult:
    c = chart_snr(module, exposure_s=exposure_s, illuminant=illuminant, merge=merge, rng=rng)
    dips = [d for d in c.result.dips if d.depth_db > 0]
    worst = max(dips, key=lambda d: d.depth_db) if dips else None
    det = _chart_details(c)
    det["dip_luminance_cd_m2"] = math.nan if worst is None else worst.luminance
    return MetricResult(0.0 if worst is None else float(worst.depth_db), det,
                        source=c.source + "; largest dip (0 if none ≥ the curve's scatter "
                                          f"threshold {c.result.min_dip_db:.2g} dB)")


def _range(luminance_min_cd_m2, luminance_max_cd_m2) -> tuple[float, float]:
    lo = _positive("luminance_min_cd_m2", luminance_min_cd_m2)
    hi = _positive("luminance_max_cd_m2", luminance_max_cd_m2)
    if hi <= lo:
        raise ConfigError(f"luminance_max_cd_m2 = {luminance_max_cd_m2!r}: valid range is "
                          f"luminance_max_cd_m2 > luminance_min_cd_m2 = {lo:g}")
    if hi / lo > 1e10:
        raise ConfigError(f"luminance_max_cd_m2 / luminance_min_cd_m2 = {hi / lo:.3g}: valid "
                          "range is a ratio <= 1e10 (200 dB)")
    return lo, hi


def _hdr_snr_min(module, *, rng, exposure_s, illuminant, merge, luminance_min_cd_m2,
                 luminance_max_cd_m2) -> MetricResult:
    lo, hi = _range(luminance_min_cd_m2, luminance_max_cd_m2)
    c = chart_snr(module, exposure_s=exposure_s, illuminant=illuminant, merge=merge,
                  luminance_range_cd_m2=(lo, hi), rng=rng)
    r = c.result
    det = _chart_details(c)
    inside = (r.luminance >= lo) & (r.luminance <= hi)
    clipped = inside & r.saturated
    src = c.source + f"; lowest patch SNR over {lo:g}–{hi:g} cd/m²"
    dr = r.dynamic_range
    lmax = dr.luminance_max if dr is not None and r.saturated.any() else math.inf
    if np.any(clipped) or lmax < hi:     # clipped inside, or between the last patch and hi
        at = float(r.luminance[np.argmax(clipped)]) if np.any(clipped) else float(lmax)
        det["clipped_from_cd_m2"] = at
        if np.any(inside & ~r.saturated):     # what the unclipped part of the range holds
            det["min_snr_unclipped_db"], det["min_snr_unclipped_at_cd_m2"] = r.min_snr_db(
                lo, min(hi, float(r.luminance[~r.saturated][-1])))
        return MetricResult(-math.inf, det, source=src + f" (clipped from {at:.3g} cd/m²: "
                                                         "SNR 0 there)")
    value, at = r.min_snr_db(lo, hi)
    # the range's ends themselves: the patches are log-spaced from the chart's own start,
    # so the first one ≥ lo may lie up to 12 % above it (≈ 0.5 dB more SNR in the shot-
    # noise regime); the SNR at lo and hi from the local line through the patches
    ends = [(_snr_at(r, x), x) for x in (lo, hi)]
    det["snr_at_ends_db"] = [e for e, _ in ends]
    for e, x in ends:
        if math.isfinite(e) and e < value:
            value, at = e, x
    det["at_luminance_cd_m2"] = at
    return MetricResult(value, det, source=src + " and at its ends (local line fit)")


#: Half-width [decades] of the patches fitted to read the SNR curve at a luminance.
END_FIT_DECADES = 0.125


def _snr_at(r, lum: float) -> float:
    """SNR [dB] of the chart curve at ``lum``: least-squares line in (ln L, SNR_dB) through
    the unsaturated patches within ±:data:`END_FIT_DECADES` (≈ 5 patches: their scatter
    averages), or the log-linear interpolation of the two neighbouring patches; NaN if
    ``lum`` is outside the unsaturated patches."""
    ok = ~r.saturated & np.isfinite(r.snr_db)
    lums, ys = r.luminance[ok], r.snr_db[ok]
    if lums.size < 2 or not lums[0] <= lum <= lums[-1]:
        return math.nan
    x = np.log(lums)
    near = np.abs(x - math.log(lum)) <= END_FIT_DECADES * math.log(10.0)
    if near.sum() >= 3:
        slope, icpt = np.polyfit(x[near], ys[near], 1)
        return float(slope * math.log(lum) + icpt)
    return float(np.interp(math.log(lum), x, ys))


def _cdp(module, *, rng, exposure_s, illuminant, merge, contrast, confidence,
         luminance_cd_m2) -> MetricResult:
    from ..measure.p2020 import cdp_vs_luminance

    c_w = _positive("contrast", contrast, 100.0)
    eps = _positive("confidence", confidence, 1.0)
    lum = _positive("luminance_cd_m2", luminance_cd_m2, 1e7)
    c = chart_snr(module, exposure_s=exposure_s, illuminant=illuminant, merge=merge,
                  luminance_range_cd_m2=(lum, lum * (1 + c_w)), rng=rng)
    det = _chart_details(c)
    src = (c.source + f"; CDP of Weber contrast {c_w:g} (±{eps:g}) at {lum:g} cd/m² from "
                      "the patch statistics (Gaussian, log-log interpolated)")
    try:
        lums, cdp = cdp_vs_luminance(c.result, contrast=c_w, confidence=eps)
    except ConfigError:
        lums, cdp = np.array([]), np.array([])
    if lums.size == 0 or lum > lums[-1] * (1 + 1e-9):
        det["clipped"] = True
        return MetricResult(0.0, det, source=src + " (bright side clipped: CDP 0)")
    if lum < lums[0]:
        value = float(cdp[0])
    else:
        value = float(np.interp(np.log(lum), np.log(lums), cdp))
    det["cdp_curve_points"] = int(lums.size)
    return MetricResult(value, det, source=src)


# --------------------------------------------------------------------------------------
# LED flicker
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class FlickerCaptures:
    """The LED's signal in captures at random phases (:func:`flicker_captures`)."""

    signal_e: np.ndarray      # (phases,) LED signal above background [e⁻]
    steady_e: float           # the same for the LED driven at its time mean
    start_s: np.ndarray       # row 0's integration start of each capture [s]
    kind: str
    reference: object | None  # PwmCapture for a single exposure (all rows one window)

    @property
    def fraction(self) -> np.ndarray:
        """q = signal / steady per capture."""
        return self.signal_e / self.steady_e


def _check_pwm(frequency_hz, duty, phases, luminance_cd_m2) -> tuple[float, float, int, float]:
    f = _positive("frequency_hz", frequency_hz, 1e5)
    try:
        d = float(duty)
    except (TypeError, ValueError):
        raise ConfigError(f"duty = {duty!r}: expected a number") from None
    if not (0 < d <= 1):
        raise ConfigError(f"duty = {duty!r}: valid range is 0 < duty <= 1 (fraction of the "
                          "period: 0-100 %)")
    if isinstance(phases, bool) or not float(phases).is_integer() or not 2 <= phases <= 100000:
        raise ConfigError(f"phases = {phases!r}: valid range is an integer 2..100000")
    return f, d, int(phases), _positive("luminance_cd_m2", luminance_cd_m2, 1e9)


def flicker_captures(module, *, frequency_hz: float = 90.0, duty: float = 0.1,
                     exposure_s: float = 0.011, luminance_cd_m2: float = 1.0e4,
                     phases: int = 100, merge: str = "noise_optimal",
                     rng=0) -> FlickerCaptures:
    """Captures of a PWM LED at ``phases`` uniform random phases (P2020 MMP / FMI input).

    Scene: a white LED panel (:data:`LED_BOX`, 1/8 of the side of a
    :data:`FLICKER_CROP_PX` px centre crop of the module) of time-mean luminance
    ``luminance_cd_m2``, driven by :class:`camtwin.scene.lights.PWM` (f, D; ideal edges),
    on a black background. Its optical image is formed once
    (:func:`camtwin.scene.lights.lit_images`); capture k is
    :func:`camtwin.sensor.capture` of it with the waveform as ``flicker`` and row 0's
    integration starting at t_k = u_k/f, u_k ~ U(0, 1): every row's window — and every
    exposure's window of an HDR mode — integrates the PWM exactly. (This is
    :func:`camtwin.scene.lights.capture_lit` of the LED alone; the whole-image ``flicker``
    is used because the HDR capture path takes one waveform, not per-source light. A
    background adds the same signal to every capture and is subtracted by the metric, so
    it is left out.) The LED's signal S_k is the mean linear signal
    (:func:`linear_signal_e`) over the central half of its box (:data:`LED_INSET`) minus
    the expected dark signal; the steady-state signal S̄ the same for the LED at its time
    mean (m = 1).

    For a single exposure whose LED rows share one window (global shutter, or a rolling
    shutter whose box rows span ≪ 1/f), q_k = S_k/S̄ follows the exact distribution
    :func:`camtwin.measure.p2020.pwm_capture_distribution` (T, f, D), returned as
    ``reference`` when the capture is a single exposure.
    """
    from ..camera import module_scene
    from ..measure.p2020 import pwm_capture_distribution
    from ..scene.lights import PWM, Box, LightSource, LitScene, lit_images
    from ..sensor import capture

    t = _check_exposure(exposure_s)
    f, d, n, lv = _check_pwm(frequency_hz, duty, phases, luminance_cd_m2)
    if merge not in MERGES:
        raise unknown_name("merge", merge, MERGES)
    gen = _rng(rng)
    crop = crop_module(module, FLICKER_CROP_PX)
    s = crop.sensor
    bg = module_scene(crop, "uniform", illuminance_lux=1.0, reflectance=0.18)
    wave = PWM(f, d)
    lit = LitScene(bg, (LightSource("led", Box(*LED_BOX), lv, wave, "white"),))
    led_image = lit_images(crop, lit)[1][0]
    y0, y1, x0, x1 = LED_BOX
    h, w = s.height_px, s.width_px
    iy, ix = (y1 - y0) * h * LED_INSET, (x1 - x0) * w * LED_INSET
    box = (int(round(y0 * h + iy)), int(round(y1 * h - iy)), int(round(x0 * w + ix)),
           int(round(x1 * w - ix)))
    dark_e = float(s.dark_current_at()) * t

    def led_mean(raw):
        img, _, kind = linear_signal_e(raw, merge=merge)
        return float(img[box[0]:box[1], box[2]:box[3]].mean(dtype=np.float64)) - dark_e, kind

    steady, kind = led_mean(capture(led_image, s, t, gen))
    starts = gen.uniform(0.0, 1.0 / f, n)
    sig = np.array([led_mean(capture(led_image, s, t, gen, flicker=wave,
                                     start_s=float(t0)))[0] for t0 in starts])
    ref = pwm_capture_distribution(t, f, d) if kind.startswith("single") else None
    return FlickerCaptures(sig, float(steady), starts, kind, ref)


def _flicker_source(fc: FlickerCaptures, module, f, d, t, lv) -> str:
    return (f"{fc.signal_e.size} simulated captures ({fc.kind}, {t:.3g} s) of a {f:g} Hz, "
            f"{d:.0%} duty PWM LED ({lv:g} cd/m²) at random phases on a {FLICKER_CROP_PX} px "
            f"centre crop; LED box mean above background vs its steady-state signal")


def _not_seen(fc: FlickerCaptures) -> str | None:
    if not fc.steady_e > 0:
        return "the module's pixels see no signal of the LED (steady-state signal ≤ 0)"
    return None


def _led_mmp(module, *, rng, frequency_hz, duty, exposure_s, luminance_cd_m2, phases,
             threshold, merge) -> MetricResult:
    from ..measure.p2020 import modulation_mitigation_probability

    th = _positive("threshold", threshold, 1.0)
    fc = flicker_captures(module, frequency_hz=frequency_hz, duty=duty, exposure_s=exposure_s,
                          luminance_cd_m2=luminance_cd_m2, phases=phases, merge=merge, rng=rng)
    why = _not_seen(fc)
    if why:
        return MetricResult(math.nan, {"reason": why}, source="not measured", reason=why)
    q = fc.fraction
    mmp = modulation_mitigation_probability(q, 1.0, threshold=th)
    det = {"q_min": float(q.min()), "q_max": float(q.max()), "steady_e": fc.steady_e,
           "phases": int(q.size), "threshold": th}
    if fc.reference is not None:
        det["analytic_single_exposure_mmp"] = fc.reference.mmp(th)
        det["analytic_p_seen"] = fc.reference.p_seen
    return MetricResult(float(mmp), det,
                        source=_flicker_source(fc, module, float(frequency_hz), float(duty),
                                               float(exposure_s), float(luminance_cd_m2))
                        + f"; MMP = P(q ≥ {th:g})")


def _fmi(module, *, rng, frequency_hz, duty, exposure_s, luminance_cd_m2, phases,
         merge) -> MetricResult:
    from ..measure.p2020 import flicker_modulation_index

    fc = flicker_captures(module, frequency_hz=frequency_hz, duty=duty, exposure_s=exposure_s,
                          luminance_cd_m2=luminance_cd_m2, phases=phases, merge=merge, rng=rng)
    why = _not_seen(fc)
    if why:
        return MetricResult(math.nan, {"reason": why}, source="not measured", reason=why)
    sig = np.maximum(fc.signal_e, 0.0)     # noise can take a missed pulse below background
    fmi = flicker_modulation_index(sig) if sig.max() > 0 else 0.0
    det = {"q_min": float(fc.fraction.min()), "q_max": float(fc.fraction.max()),
           "steady_e": fc.steady_e, "phases": int(sig.size)}
    if fc.reference is not None:
        r = fc.reference
        det["analytic_single_exposure_fmi"] = (r.q_max - r.q_min) / (r.q_max + r.q_min)
    return MetricResult(float(fmi), det,
                        source=_flicker_source(fc, module, float(frequency_hz), float(duty),
                                               float(exposure_s), float(luminance_cd_m2))
                        + "; FMI = (max − min)/(max + min) over the captures")


_CHART = {"exposure_s": 0.011, "illuminant": "D65", "merge": "noise_optimal"}
_LED = {"frequency_hz": 90.0, "duty": 0.1, "exposure_s": 0.011, "luminance_cd_m2": 1.0e4,
        "phases": 100, "merge": "noise_optimal"}

P2020_METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("snr_dip_depth_db", "dB", "largest SNR dip over the HDR range (IEEE P2020 chart)",
           dict(_CHART), _snr_dip_depth),
    Metric("hdr_snr_min_db", "dB", "lowest SNR over a scene luminance range (IEEE P2020 chart)",
           {**_CHART, "luminance_min_cd_m2": 1.0, "luminance_max_cd_m2": 1.0e4}, _hdr_snr_min),
    Metric("cdp_at_contrast", "", "contrast detection probability at a luminance (IEEE P2020)",
           {**_CHART, "contrast": 0.5, "confidence": 0.5, "luminance_cd_m2": 1.0}, _cdp),
    Metric("led_mmp", "", "modulation mitigation probability of a PWM LED (IEEE P2020)",
           {**_LED, "threshold": 0.5}, _led_mmp),
    Metric("flicker_modulation_index", "", "flicker modulation index of a PWM LED (IEEE P2020)",
           dict(_LED), _fmi),
)}

__all__ = ["P2020_METRICS", "MERGES", "ChartSnr", "FlickerCaptures", "chart_snr",
           "flicker_captures", "linear_signal_e"]
