"""IEEE P2020 automotive image-quality metrics: CDP, LED flicker (FMI, FDI, MMP), HDR SNR.

All functions take arrays — pixel samples of chart patches, per-frame patch means of a
video, or patch means/standard deviations of one HDR chart capture — so a simulated HDR
chart (:func:`hdr_test_chart` → render → capture → :func:`snr_from_patches`) or a simulated
video of a flickering LED (:func:`patch_time_series`) feeds them directly. Statistics are
taken in float64; nothing mutates its input.

Contrast detection probability (CDP)
    Geese, Seger & Paolillo, "Detection probabilities: performance prediction for sensors
    of autonomous vehicles", IS&T Electronic Imaging 2018 (Autonomous Vehicles and
    Machines); IEEE P2020 Automotive Imaging White Paper (2018), contrast chapter; Artmann,
    Geese & Gäde, "Contrast detection probability — implementation and use cases", IS&T EI
    2019. For a dark patch a and a bright patch b with nominal contrast C and relative
    confidence ε, CDP is the probability that a contrast measured from one pixel of a and
    one pixel of b falls inside the confidence interval C·(1 ± ε):

        CDP = P( C·(1 − ε) ≤ C_meas(a_i, b_j) ≤ C·(1 + ε) )                  (1)
        Weber:      C_W = (b − a) / a          Michelson:  C_M = (b − a) / (b + a)

    estimated over all pixel pairs (i, j) — the P2020 pixel-pair form — and, for a Gaussian
    model of the two patches, analytically (:func:`cdp_gaussian`).

LED flicker (IEEE P2020 flicker subgroup; Deegan, "LED flicker: root cause, impact and
measurement for automotive imaging applications", IS&T EI 2018; the P2020 flicker metrics as
reviewed by the P2020 flicker subgroup at IS&T EI, Autonomous Vehicles and Machines)
    FMI = (max − min) / (max + min) of a source's signal over frames (or over the rows of one
    rolling-shutter frame); FDI = fraction of frames in which the source is distinguishable
    from its background (source − background > threshold); MMP = fraction of captures
    (random source phases) in which the source signal is at least a given fraction of its
    steady-state (time-averaged) value. PWM reference: :func:`pwm_capture_distribution`.

HDR SNR, SNR dips and dynamic range
    ISO 15739:2023 §6.3–6.4 (SNR of uniform patches; DSC dynamic range = ratio of the
    maximum unclipped luminance to the minimum luminance with (incremental) SNR ≥ 1);
    EMVA 1288 Release 4.0 *General* (nonlinear / HDR sensors: the same SNR = 1 criterion on
    the measured SNR curve, no linear model); IEEE P2020 White Paper (2018) on SNR drops at
    the transitions of multi-exposure / multi-gain HDR sensors. See :func:`snr_vs_luminance`.

Feeding simulations (the sensor and ISP sides live in :mod:`camtwin.sensor.hdr`,
:mod:`camtwin.isp.hdr`, :mod:`camtwin.scene.lights`)::

    chart = hdr_test_chart(241, dynamic_range_db=140, max_luminance_cd_m2=1e4)
    rate = chart.render() * e_per_s_per_cd_m2          # e⁻/s of the reference channel
    raw = hdr_expose(rate, sensor, exposure_s=T, key=1)
    merged = merge_hdr(raw, method="selection").linear_e
    stats = snr_from_patches(merged, chart.boxes)
    res = snr_vs_luminance(chart.luminance_cd_m2, stats.mean, stats.std,
                           white_level=raw.full_scale_e)
    res.dips, res.dynamic_range, cdp_vs_luminance(res, contrast=0.1)

    # flicker: one capture per random phase of the LED, the LED's box mean per capture
    q = patch_time_series(frames, [led_box])[:, 0] / steady_signal
    flicker_modulation_index(q), modulation_mitigation_probability(q, 1.0, threshold=0.5)
    pwm_capture_distribution(T, f, duty).mmp(0.5)        # the single-exposure reference
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.special import ndtr

from ..errors import ConfigError, unknown_name
from ..regions import check_box, inset_box

CONTRAST_KINDS = ("weber", "michelson")
PAIRINGS = ("all", "matched")

__all__ = [
    "CONTRAST_KINDS", "DynamicRange", "HdrChart", "HdrSnrResult", "PatchStats",
    "PwmCapture", "SnrDip", "cdp_gaussian", "cdp_vs_luminance",
    "contrast_detection_probability",
    "flicker_detection_index", "flicker_modulation_index", "hdr_test_chart",
    "measured_contrast", "modulation_mitigation_probability", "multi_exposure_snr_model",
    "patch_time_series",
    "plot_snr_vs_luminance", "pwm_capture_distribution", "pwm_captured_fraction",
    "pwm_seen_probability", "snr_from_patches", "snr_vs_luminance",
]


# ---------------------------------------------------------------------------------------------
# input validation (one-line ConfigError naming the argument, the value and the valid range)

def _short(value) -> str:
    a = np.asarray(value)
    if a.ndim == 0:
        return repr(a.item()) if a.dtype.kind in "biufc" else repr(value)
    return f"array of shape {a.shape}"


def _data(x, name: str, *, min_size: int = 1) -> np.ndarray:
    """``x`` as a finite float64 array with at least ``min_size`` elements."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {_short(x)}: expected numbers") from None
    if a.size < min_size:
        raise ConfigError(f"{name} is empty (holds {a.size} values; need >= {min_size})")
    if not np.all(np.isfinite(a)):
        bad = int(np.count_nonzero(~np.isfinite(a)))
        raise ConfigError(f"{name} holds {bad} non-finite values (NaN/inf); all must be finite")
    return a


def _scalar(x, name: str, *, lo=None, hi=None, lo_open=True, hi_open=False,
            rng_text: str | None = None) -> float:
    """``x`` as a finite float inside (lo, hi] (openness configurable)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} = {x!r}: expected a number") from None
    ok = np.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        if rng_text is None:
            left = "" if lo is None else f"{lo} {'<' if lo_open else '<='} "
            right = "" if hi is None else f" {'<' if hi_open else '<='} {hi}"
            rng_text = f"{left}{name}{right}"
        raise ConfigError(f"{name} = {x!r}: valid range is {rng_text}")
    return v


def _duty(duty) -> float:
    return _scalar(duty, "duty", lo=0.0, hi=1.0,
                   rng_text="0 < duty <= 1 (fraction of the period: 0-100 %)")


def _kind(kind: str) -> str:
    if kind not in CONTRAST_KINDS:
        raise unknown_name("contrast kind", kind, CONTRAST_KINDS)
    return kind


# ---------------------------------------------------------------------------------------------
# 1. contrast detection probability

def measured_contrast(dark, bright, *, kind: str = "weber"):
    """Weber ``(b − a)/a`` or Michelson ``(b − a)/(b + a)`` contrast of ``bright`` over ``dark``.

    Elementwise (NumPy broadcasting); where the contrast is undefined (Weber: a = 0;
    Michelson: a + b ≤ 0) the result is NaN. P2020 White Paper (2018); Geese et al. 2018.
    """
    _kind(kind)
    a = np.asarray(dark, dtype=np.float64)
    b = np.asarray(bright, dtype=np.float64)
    den = a if kind == "weber" else a + b
    ok = den != 0 if kind == "weber" else den > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        c = np.where(ok, (b - a) / np.where(ok, den, 1.0), np.nan)
    return c if c.ndim else float(c)


def _interval(c: float, eps: float) -> tuple[float, float]:
    return c * (1.0 - eps), c * (1.0 + eps)


def _bright_bounds(a: np.ndarray, lo: float, hi: float, kind: str):
    """For each dark value ``a``: the set of bright values ``b`` with lo ≤ contrast(a, b) ≤ hi,
    as ``(lower, upper, strict_lower)`` — b ∈ [lower, upper] and b > strict_lower.

    Weber (a ≠ 0):  a > 0 → b ∈ [a(1+lo), a(1+hi)];  a < 0 → b ∈ [a(1+hi), a(1+lo)];
    a = 0 → empty. Michelson (defined for s = a + b > 0, so b > −a): lo·s ≤ b − a ≤ hi·s ⇔
    b(1−lo) ≥ a(1+lo) and b(1−hi) ≤ a(1+hi); lo < 1 always (C ≤ 1, ε > 0), so the first is
    b ≥ a(1+lo)/(1−lo); the second is b ≤ a(1+hi)/(1−hi) if hi < 1, a ≥ 0 if hi = 1 and
    b ≥ −a(1+hi)/(hi−1) if hi > 1.
    """
    inf = np.full_like(a, np.inf)
    if kind == "weber":
        lower = np.where(a > 0, a * (1 + lo), np.where(a < 0, a * (1 + hi), inf))
        upper = np.where(a > 0, a * (1 + hi), np.where(a < 0, a * (1 + lo), -inf))
        return lower, upper, -inf
    lower = a * (1 + lo) / (1 - lo)
    if hi < 1:
        upper = a * (1 + hi) / (1 - hi)
    elif hi == 1:
        upper = np.where(a >= 0, inf, -inf)
    else:
        upper = inf
        lower = np.maximum(lower, -a * (1 + hi) / (hi - 1))
    return lower, upper, -a


def _nominal(c, mean_dark, mean_bright, kind: str) -> float:
    if c is None:
        c = measured_contrast(mean_dark, mean_bright, kind=kind)
        if not (np.isfinite(c) and c > 0):
            raise ConfigError(f"contrast = {c!r} (from the patch means): must be > 0; pass "
                              "contrast= or swap dark and bright")
        return float(c)
    hi = 1.0 if kind == "michelson" else None
    rng_text = "0 < contrast <= 1 (Michelson)" if kind == "michelson" else "contrast > 0"
    return _scalar(c, "contrast", lo=0.0, hi=hi, rng_text=rng_text)


def contrast_detection_probability(dark, bright, *, contrast: float | None = None,
                                   confidence: float = 0.5, kind: str = "weber",
                                   pairing: str = "all") -> float:
    """Contrast detection probability (IEEE P2020) of two patches from their pixel values.

    CDP = P( C·(1 − ε) ≤ C_meas ≤ C·(1 + ε) ), eq. (1) of the module docstring, with
    C_meas the Weber ``(b − a)/a`` or Michelson ``(b − a)/(b + a)`` contrast of one dark
    value a and one bright value b (Geese et al., EI 2018; P2020 White Paper 2018).

    Parameters
    ----------
    dark, bright : array_like
        Pixel values of the darker and the brighter patch in a linear signal unit (e⁻, DN
        above black, cd/m²); any shape (e.g. ``(n_frames, h, w)`` crops) — flattened.
    contrast : float, optional
        Nominal contrast C of the scene (the chart's printed contrast), > 0 (Michelson ≤ 1).
        Default: the contrast of the two patch means (the camera's own mean contrast).
    confidence : float
        Relative half-width ε of the confidence interval (> 0); P2020 uses ε = 0.5 (± 50 %).
    kind : {"weber", "michelson"}
    pairing : {"all", "matched"}
        ``"all"``: every pair (a_i, b_j) — the pixel-pair estimator, counted exactly in
        O((n_a + n_b) log n_b) by sorting, not by forming the n_a·n_b pairs. ``"matched"``:
        element-wise pairs (a_k, b_k) of equal-shape inputs, e.g. the two patch means of the
        same frame over a video (keeps correlations such as flicker or exposure jitter).

    Returns
    -------
    float
        CDP in [0, 1]. Pairs whose contrast is undefined (Weber: a = 0; Michelson:
        a + b ≤ 0) count as not detected.

    Raises
    ------
    ConfigError
        Empty or non-finite patches, contrast ≤ 0 (or > 1 for Michelson), confidence ≤ 0,
        unknown ``kind`` or ``pairing``, matched patches of different sizes.

    Examples
    --------
    A 20 % Weber contrast at SNR 10 is measured within ±50 % in 44–45 % of pixel pairs:

    >>> rng = np.random.default_rng(1)
    >>> a, b = rng.normal(100, 10, 4000), rng.normal(120, 12, 4000)
    >>> round(contrast_detection_probability(a, b, contrast=0.2, confidence=0.5), 2)
    0.45
    >>> round(cdp_gaussian(100, 10, 120, 12, contrast=0.2, confidence=0.5), 2)
    0.44
    """
    _kind(kind)
    if pairing not in PAIRINGS:
        raise unknown_name("pairing", pairing, PAIRINGS)
    a = _data(dark, "dark").ravel()
    b = _data(bright, "bright").ravel()
    eps = _scalar(confidence, "confidence", lo=0.0, rng_text="confidence > 0")
    c = _nominal(contrast, a.mean(), b.mean(), kind)
    lo, hi = _interval(c, eps)
    if pairing == "matched":
        if a.size != b.size:
            raise ConfigError(f"pairing = 'matched' needs patches of equal size; dark has "
                              f"{a.size} values, bright {b.size}")
        cm = measured_contrast(a, b, kind=kind)
        with np.errstate(invalid="ignore"):
            return float(np.mean((cm >= lo) & (cm <= hi)))
    bs = np.sort(b)
    lower, upper, strict = _bright_bounds(a, lo, hi, kind)
    start = np.where(strict >= lower, np.searchsorted(bs, strict, side="right"),
                     np.searchsorted(bs, lower, side="left"))
    end = np.searchsorted(bs, upper, side="right")
    hits = np.clip(end - start, 0, None).sum(dtype=np.float64)
    return float(hits / (a.size * float(b.size)))


#: standard-normal grid (±10 σ) and trapezoid weights for the analytic CDP's 1-D integral
_Z = np.linspace(-10.0, 10.0, 4001)
_WZ = np.exp(-0.5 * _Z**2) / np.sqrt(2 * np.pi) * (_Z[1] - _Z[0])
_WZ[[0, -1]] *= 0.5


def _cdf(x, sigma):
    """Φ(x/σ), with σ = 0 → the unit step (x ≥ 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sigma > 0, ndtr(x / np.where(sigma > 0, sigma, 1.0)),
                        (x >= 0).astype(np.float64))


def cdp_gaussian(mean_dark, std_dark, mean_bright, std_bright, *,
                 contrast: float | None = None, confidence: float = 0.5,
                 kind: str = "weber"):
    """Analytic CDP of two independent Gaussian patches a ~ N(μa, σa²), b ~ N(μb, σb²).

    CDP = ∫ φ(a; μa, σa) [Φ((U(a) − μb)/σb) − Φ((L(a) − μb)/σb)] da,   where [L(a), U(a)]
    is the set of b with C·(1−ε) ≤ contrast(a, b) ≤ C·(1+ε) (Weber or Michelson; see
    :func:`contrast_detection_probability`). The integral over a is a trapezoid rule on
    μa ± 10 σa (4001 nodes; error < 1e-6 for the smooth integrand). For μa ≫ σa and the
    Weber contrast this reduces to the closed form
    Φ((μb − k₁μa)/√(σb² + k₁²σa²)) − Φ((μb − k₂μa)/√(σb² + k₂²σa²)), k = 1 + C(1 ∓ ε) —
    the per-patch-statistics estimate P2020 uses in place of the pixel-pair count.

    Parameters broadcast (NumPy); units as for the pixel values. Returns a float for scalar
    inputs, else an array. ``contrast`` defaults to the contrast of the means.
    """
    _kind(kind)
    ma, sa = _data(mean_dark, "mean_dark"), _data(std_dark, "std_dark")
    mb, sb = _data(mean_bright, "mean_bright"), _data(std_bright, "std_bright")
    for v, n in ((sa, "std_dark"), (sb, "std_bright")):
        if np.any(v < 0):
            raise ConfigError(f"{n} = {_short(v)}: valid range is {n} >= 0")
    eps = _scalar(confidence, "confidence", lo=0.0, rng_text="confidence > 0")
    ma, sa, mb, sb = np.broadcast_arrays(ma, sa, mb, sb)
    if contrast is None:
        c = np.asarray(measured_contrast(ma, mb, kind=kind), dtype=np.float64)
        if not np.all(np.isfinite(c) & (c > 0)):
            raise ConfigError(f"contrast = {_short(c)} (from the patch means): must be > 0; "
                              "pass contrast= or swap dark and bright")
    else:
        c = np.full(ma.shape, _nominal(contrast, None, None, kind))
    out = np.empty(ma.shape)
    for idx in np.ndindex(ma.shape):
        lo, hi = _interval(float(c[idx]), eps)
        a = ma[idx] + sa[idx] * _Z if sa[idx] > 0 else np.array([ma[idx]])
        w = _WZ if sa[idx] > 0 else np.array([1.0])
        lower, upper, strict = _bright_bounds(a, lo, hi, kind)
        lower = np.maximum(lower, strict)
        p = np.where(upper >= lower, _cdf(upper - mb[idx], sb[idx]) -
                     _cdf(lower - mb[idx], sb[idx]), 0.0)
        out[idx] = float(np.clip(np.sum(w * p), 0.0, 1.0))
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# 2. LED flicker: FMI, FDI, MMP and the PWM reference

def flicker_modulation_index(signal, *, axis: int | None = 0):
    """Flicker modulation index FMI = (max − min) / (max + min) (IEEE P2020 flicker subgroup;
    Deegan, EI 2018).

    ``signal`` is a source's signal (linear, ≥ 0: e⁻, DN above black) over frames — e.g. the
    per-frame patch means of :func:`patch_time_series`, shape ``(n_frames,)`` or
    ``(n_frames, n_sources)`` — or over the rows of one rolling-shutter frame
    (``image[r0:r1, c0:c1].mean(axis=1)``). Reduced along ``axis`` (``None``: all values).
    FMI ∈ [0, 1] for non-negative signals; 0 for a steady source; 1 when the source is
    missed in some frame. A signal that is 0 throughout (never seen) has FMI 0. Noise adds
    to max − min: average several pixels per frame before. Float for 1-D input.
    """
    s = _data(signal, "signal")
    mx, mn = s.max(axis=axis), s.min(axis=axis)
    tot = mx + mn
    with np.errstate(divide="ignore", invalid="ignore"):
        fmi = np.where(tot != 0, (mx - mn) / np.where(tot != 0, tot, 1.0), 0.0)
    return float(fmi) if np.ndim(fmi) == 0 else fmi


def flicker_detection_index(source, background, *, threshold: float, axis: int | None = 0):
    """Flicker detection index FDI: the fraction of frames in which the flickering source is
    distinguishable from its background,

        FDI = (1/N) Σ_i [ S_i − B_i > threshold ],

    with S_i the source signal and B_i the background level around it in the same frame i.
    The P2020 flicker subgroup describes FDI as the camera's ability to distinguish a
    flickering source from the background signal level (after Deegan, EI 2018); this
    thresholded frame count is camtwin's reading of that description (the standard's text
    was not available to check the exact threshold rule). ``threshold`` is in the
    signal's unit (≥ 0): e.g. k·σ_B for a k-sigma detection against background noise σ_B, or
    c·B for a Weber contrast c. ``source`` has shape ``(n_frames, …)``; ``background``
    broadcasts against it (per-frame array or a scalar). FDI = 1: the source is seen in
    every frame; a camera that misses PWM pulses has FDI < 1.
    """
    s = _data(source, "source")
    b = _data(background, "background")
    t = _scalar(threshold, "threshold", lo=0.0, lo_open=False, rng_text="threshold >= 0")
    try:
        d = s - b
    except ValueError:
        raise ConfigError(f"background of shape {b.shape} does not broadcast against source "
                          f"of shape {s.shape}") from None
    fdi = np.mean(d > t, axis=axis)
    return float(fdi) if np.ndim(fdi) == 0 else fdi


def modulation_mitigation_probability(signal, steady, *, threshold: float = 0.5,
                                      axis: int | None = None):
    """Modulation mitigation probability MMP: the probability that a flickering source is
    captured with at least ``threshold`` of its steady-state signal,

        MMP = P( S ≥ θ · S_steady ),   estimated as (1/N) Σ_k [ S_k ≥ θ · S_steady ],

    over captures k at independent, uniformly random source phases (frames of a video whose
    frame rate is not locked to the LED, or one simulated capture per phase). S_steady is
    the signal of the same source driven with its time-averaged (DC) intensity — for
    camtwin's :class:`~camtwin.sensor.timing.Flicker` (time mean 1) the unmodulated
    capture. The P2020 flicker subgroup describes MMP as the probability that the camera
    mitigates the source's modulation; this one-sided form (at least θ of the steady
    signal) is the definition camtwin uses — a two-sided tolerance band would also bound
    over-bright captures (q ≤ 1/D for PWM). θ → 0⁺ gives the
    probability that the source is seen at all, which for a PWM source and a single
    exposure is :func:`pwm_seen_probability`.

    Parameters
    ----------
    signal : array_like
        Captured source signal per phase/frame (linear unit).
    steady : float or array_like
        Steady-state signal (> 0), broadcast against ``signal``.
    threshold : float
        θ in (0, 1]; default 0.5 (the source appears at ≥ half its brightness).
    axis : int or None
        Axis over the phases (``None``: all values).
    """
    s = _data(signal, "signal")
    st = _data(steady, "steady")
    if np.any(st <= 0):
        raise ConfigError(f"steady = {_short(steady)}: valid range is steady > 0")
    th = _scalar(threshold, "threshold", lo=0.0, hi=1.0, rng_text="0 < threshold <= 1")
    try:
        hit = s >= th * st
    except ValueError:
        raise ConfigError(f"steady of shape {st.shape} does not broadcast against signal of "
                          f"shape {s.shape}") from None
    mmp = np.mean(hit, axis=axis)
    return float(mmp) if np.ndim(mmp) == 0 else mmp


def _pwm_on_integral(u, duty: float):
    """∫₀ᵘ on(u') du' in periods, for a pulse train on during [k, k + duty) of every
    period k (u in periods)."""
    fl = np.floor(u)
    return fl * duty + np.minimum(u - fl, duty)


def _pwm_args(exposure_s, frequency_hz, duty):
    t = _scalar(exposure_s, "exposure_s", lo=0.0, rng_text="exposure_s > 0")
    f = _scalar(frequency_hz, "frequency_hz", lo=0.0, rng_text="frequency_hz > 0")
    return t, f, _duty(duty)


def pwm_captured_fraction(exposure_s: float, frequency_hz: float, duty: float,
                          phase_rad=0.0):
    """Captured fraction q of a PWM source's steady-state signal for one exposure window.

    The source is on at level 1/D during [k, k + D) of every period (in periods of 1/f,
    shifted by the phase), off otherwise — time mean 1, as
    :class:`camtwin.sensor.timing.Flicker` with ``waveform="pwm"``. The window [0, T]
    collects

        q(φ) = (1/T) ∫₀ᵀ m(t) dt = [N(u₀ + T f) − N(u₀)] / (D · T f),
        u₀ = φ / 2π,   N(u) = ⌊u⌋ D + min(u − ⌊u⌋, D)   (on-time in periods),

    so q = 1 is the steady-state (DC) signal, q = 0 a missed pulse, q ≤ 1/(D T f)·min(…)
    at most 1/D. Vectorised over ``phase_rad`` (exact, no sampling).
    """
    t, f, d = _pwm_args(exposure_s, frequency_hz, duty)
    u0 = np.asarray(phase_rad, dtype=np.float64) / (2 * np.pi)
    q = (_pwm_on_integral(u0 + t * f, d) - _pwm_on_integral(u0, d)) / (d * t * f)
    return float(q) if np.ndim(q) == 0 else q


def pwm_seen_probability(exposure_s: float, frequency_hz: float, duty: float) -> float:
    """Probability over a uniform phase that an exposure of length T overlaps an on-pulse of
    a PWM source (frequency f, duty D): min(1, D + T·f) (the window start must fall within
    T before a pulse or during it; Deegan, EI 2018). Same window for all rows."""
    t, f, d = _pwm_args(exposure_s, frequency_hz, duty)
    return float(min(1.0, d + t * f))


@dataclass(frozen=True)
class PwmCapture:
    """Exact distribution of the captured fraction q of a PWM source over a uniform phase.

    q(u₀) (u₀ = phase in periods) is piecewise linear with slope ±1/(D T f) or 0; its
    breakpoints are u₀ ∈ {0, D, −T f, D − T f} (mod 1), where a pulse edge enters or leaves
    the window. ``phase``/``value`` hold the breakpoints in [0, 1] and q there, so every
    statistic is exact: the CDF sums, over the linear pieces, the length of phase on which
    q ≤ x.
    """

    exposure_s: float
    frequency_hz: float
    duty: float
    phase: np.ndarray = field(repr=False)
    value: np.ndarray = field(repr=False)

    def _pieces(self):
        lengths = np.diff(self.phase)
        return lengths, self.value[:-1], self.value[1:]

    def _measure_below(self, x, *, inclusive: bool) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)[..., None]
        ln, a, b = self._pieces()
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        flat = hi - lo <= 1e-12 * max(1.0, float(np.max(hi)))
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip((x - lo) / np.where(flat, 1.0, hi - lo), 0.0, 1.0)
        at = (lo <= x) if inclusive else (lo < x)
        return np.sum(ln * np.where(flat, at, frac), axis=-1)

    def cdf(self, x):
        """P(q ≤ x)."""
        p = self._measure_below(x, inclusive=True)
        return float(p) if p.ndim == 0 else p

    def sf(self, x):
        """P(q ≥ x) — the MMP of the source for threshold x."""
        p = 1.0 - self._measure_below(x, inclusive=False)
        return float(p) if p.ndim == 0 else p

    @property
    def p_seen(self) -> float:
        """P(q > 0) = min(1, D + T f)."""
        return 1.0 - float(self._measure_below(0.0, inclusive=True))

    @property
    def mean(self) -> float:
        """E[q] (= 1: the time average of the source is its steady-state value)."""
        ln, a, b = self._pieces()
        return float(np.sum(ln * (a + b) / 2))

    @property
    def q_min(self) -> float:
        return float(self.value.min())

    @property
    def q_max(self) -> float:
        return float(self.value.max())

    def mmp(self, threshold: float = 0.5) -> float:
        """MMP = P(q ≥ threshold)."""
        th = _scalar(threshold, "threshold", lo=0.0, hi=1.0, rng_text="0 < threshold <= 1")
        return self.sf(th)


def pwm_capture_distribution(exposure_s: float, frequency_hz: float,
                             duty: float) -> PwmCapture:
    """Exact distribution of the captured fraction of a PWM source over a uniform phase.

    Exposure T (the same window for all rows), frequency f, duty D ∈ (0, 1]. With τ = T f,
    q(u₀) = [N(u₀ + τ) − N(u₀)]/(D τ) (:func:`pwm_captured_fraction`) is piecewise linear in
    the phase u₀ ∈ [0, 1): its derivative on(u₀ + τ) − on(u₀) changes only where a pulse
    edge meets a window edge, u₀ ∈ {0, D, −τ, D − τ} mod 1. Evaluating q exactly at these
    breakpoints gives the whole distribution: ``mean`` (= 1), ``p_seen`` (= min(1, D + τ)),
    ``cdf``, ``sf`` and ``mmp(θ)`` = P(q ≥ θ).

    Examples
    --------
    90 Hz, 10 % duty LED, 1 ms exposure: seen with probability 0.1 + 0.001·90 = 0.19.

    >>> round(pwm_capture_distribution(1e-3, 90.0, 0.1).p_seen, 6)
    0.19
    """
    t, f, d = _pwm_args(exposure_s, frequency_hz, duty)
    tau = t * f
    bp = np.unique(np.concatenate([[0.0, 1.0], np.mod([d, -tau, d - tau], 1.0)]))
    q = (_pwm_on_integral(bp + tau, d) - _pwm_on_integral(bp, d)) / (d * tau)
    q = np.where(np.abs(q) < 1e-12, 0.0, q)
    return PwmCapture(t, f, d, bp, q)


# ---------------------------------------------------------------------------------------------
# 3. HDR chart, patch statistics, SNR vs luminance, SNR dips, dynamic range

@dataclass(frozen=True)
class HdrChart:
    """A synthetic HDR test chart: N uniform patches on a uniform background.

    ``luminance_cd_m2`` (N,) ascending, log-spaced; ``boxes`` the patch boxes
    ``(row0, row1, col0, col1)`` [px, half-open] in the same order; ``shape`` (H, W) of the
    chart image. :meth:`render` returns the luminance map for a scene module to turn into
    radiance (the chart is transmissive: patches independent of the background).
    """

    luminance_cd_m2: np.ndarray
    boxes: tuple[tuple[int, int, int, int], ...]
    shape: tuple[int, int]
    background_cd_m2: float = 0.0

    @property
    def dynamic_range_db(self) -> float:
        lum = self.luminance_cd_m2
        return float(20 * np.log10(lum[-1] / lum[0]))

    def render(self, values=None) -> np.ndarray:
        """(H, W) float64 map: patch i filled with ``values[i]`` (default: its luminance
        [cd/m²]), the rest with the background."""
        v = self.luminance_cd_m2 if values is None else _data(values, "values")
        if v.shape != self.luminance_cd_m2.shape:
            raise ConfigError(f"values of shape {v.shape}: need one per patch "
                              f"({self.luminance_cd_m2.size},)")
        img = np.full(self.shape, float(self.background_cd_m2))
        for (r0, r1, c0, c1), val in zip(self.boxes, v):
            img[r0:r1, c0:c1] = val
        return img


def hdr_test_chart(n_patches: int = 36, *, dynamic_range_db: float = 120.0,
                   max_luminance_cd_m2: float = 1.0e4, patch_px: int = 32, gap_px: int = 8,
                   columns: int | None = None, background_cd_m2: float = 0.0) -> HdrChart:
    """N patches log-spaced over ``dynamic_range_db`` below ``max_luminance_cd_m2``:

        L_i = L_max · 10^(−DR/20 · (N−1−i)/(N−1)),  i = 0 … N−1   (ascending),

    laid out row-major on a grid of ``columns`` (default ⌈√N⌉) patches of ``patch_px``
    pixels separated (and framed) by ``gap_px``. For SNR-dip location within 5 % the
    spacing factor 10^(DR/20/(N−1)) must be ≤ 1.1 (≥ 25 patches per decade): e.g. 151
    patches over 120 dB. P2020 White Paper (2018): HDR charts span ≥ 120 dB.
    """
    n = int(n_patches)
    if n < 2 or n != n_patches:
        raise ConfigError(f"n_patches = {n_patches!r}: valid range is an integer >= 2")
    dr = _scalar(dynamic_range_db, "dynamic_range_db", lo=0.0, rng_text="dynamic_range_db > 0")
    lmax = _scalar(max_luminance_cd_m2, "max_luminance_cd_m2", lo=0.0,
                   rng_text="max_luminance_cd_m2 > 0")
    bg = _scalar(background_cd_m2, "background_cd_m2", lo=0.0, lo_open=False,
                 rng_text="background_cd_m2 >= 0")
    p, g = int(patch_px), int(gap_px)
    if p < 1 or p != patch_px:
        raise ConfigError(f"patch_px = {patch_px!r}: valid range is an integer >= 1")
    if g < 0 or g != gap_px:
        raise ConfigError(f"gap_px = {gap_px!r}: valid range is an integer >= 0")
    cols = int(np.ceil(np.sqrt(n))) if columns is None else int(columns)
    if cols < 1:
        raise ConfigError(f"columns = {columns!r}: valid range is an integer >= 1")
    rows = -(-n // cols)
    lum = lmax * 10.0 ** (-dr / 20 * (n - 1 - np.arange(n)) / (n - 1))
    boxes = []
    for i in range(n):
        r, c = divmod(i, cols)
        r0, c0 = g + r * (p + g), g + c * (p + g)
        boxes.append((r0, r0 + p, c0, c0 + p))
    shape = (g + rows * (p + g), g + cols * (p + g))
    return HdrChart(lum, tuple(boxes), shape, bg)


@dataclass(frozen=True)
class PatchStats:
    """Per-patch mean, noise standard deviation and sample count (float64 arrays, (N,)).

    ``temporal``: the noise is the temporal σ (frame stack) rather than the spatial σ
    (single image, includes fixed-pattern noise)."""

    mean: np.ndarray
    std: np.ndarray
    n_samples: np.ndarray
    temporal: bool

    @property
    def snr(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.std > 0, self.mean / np.where(self.std > 0, self.std, 1.0),
                            np.inf)


def _boxes(boxes, shape, inset: float):
    if len(boxes) == 0:
        raise ConfigError("boxes is empty: need at least one (row0, row1, col0, col1)")
    return [inset_box(check_box(b, shape, f"boxes[{i}]"), inset) for i, b in enumerate(boxes)]


def _frames(data, name: str) -> np.ndarray:
    a = _data(data, name)
    if a.ndim not in (2, 3):
        raise ConfigError(f"{name} of shape {a.shape}: need an image (H, W) or frames "
                          "(n_frames, H, W)")
    return a


def snr_from_patches(data, boxes: Sequence, *, inset: float = 0.1,
                     mask=None) -> PatchStats:
    """Mean, noise and SNR of each patch of one image or of a frame stack (ISO 15739 §6.3).

    ``data`` (H, W): one image — per patch the mean and the spatial standard deviation
    (ddof = 1) of the pixels in the box (temporal + fixed-pattern noise, as one HDR chart
    capture gives). ``data`` (n_frames, H, W), n_frames ≥ 2: mean over frames and pixels;
    σ = √(mean over pixels of the temporal variance, ddof = 1) — the temporal noise alone.
    Boxes are ``(row0, row1, col0, col1)`` [px], inset by ``inset`` of their size on each
    side (blurred edges excluded). Linear data (e⁻, DN above black, decompanded HDR).
    ``mask`` (H, W) bool, optional: only these pixels count — e.g. the green sites of a
    Bayer mosaic (``raw.channel_index == 1``), so colours of different sensitivity do not
    add to σ.
    """
    a = _frames(data, "data")
    inset = _scalar(inset, "inset", lo=0.0, hi=0.5, lo_open=False, hi_open=True,
                    rng_text="0 <= inset < 0.5")
    temporal = a.ndim == 3
    if temporal and a.shape[0] < 2:
        raise ConfigError(f"data holds {a.shape[0]} frame; need >= 2 frames for temporal "
                          "noise (or pass one 2-D image)")
    bx = _boxes(boxes, a.shape[-2:], inset)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != a.shape[-2:]:
            raise ConfigError(f"mask of shape {mask.shape}: need the image shape "
                              f"{a.shape[-2:]}")
    mean, std, n = (np.empty(len(bx)) for _ in range(3))
    for i, (r0, r1, c0, c1) in enumerate(bx):
        crop = a[..., r0:r1, c0:c1]
        if mask is not None:
            crop = crop[..., mask[r0:r1, c0:c1]]
        crop = crop.reshape(crop.shape[0], -1) if temporal else crop.ravel()
        if crop.shape[-1] < (1 if temporal else 2):
            raise ConfigError(f"boxes[{i}] holds {crop.shape[-1]} pixel after the inset "
                              f"and mask; need >= {1 if temporal else 2}")
        mean[i] = crop.mean()
        if temporal:
            std[i] = np.sqrt(crop.var(axis=0, ddof=1).mean())
        else:
            std[i] = crop.std(ddof=1)
        n[i] = crop.shape[-1]
    return PatchStats(mean, std, n, temporal)


def patch_time_series(frames, boxes: Sequence, *, inset: float = 0.0) -> np.ndarray:
    """Per-frame mean of each box: (n_frames, n_boxes) float64 — the input of
    :func:`flicker_modulation_index`, :func:`flicker_detection_index` and
    :func:`modulation_mitigation_probability` for a simulated video (frames (n, H, W), or
    one image (H, W) → one row)."""
    a = _frames(frames, "frames")
    if a.ndim == 2:
        a = a[None]
    bx = _boxes(boxes, a.shape[-2:], _scalar(inset, "inset", lo=0.0, hi=0.5, lo_open=False,
                                             hi_open=True, rng_text="0 <= inset < 0.5"))
    return np.stack([a[:, r0:r1, c0:c1].mean(axis=(1, 2)) for r0, r1, c0, c1 in bx], axis=1)


@dataclass(frozen=True)
class SnrDip:
    """One SNR dip of an HDR SNR curve (definition in :func:`snr_vs_luminance`).

    ``luminance``: estimated location; ``bracket``: the luminances between which the
    transition lies; ``depth_db``: drop of SNR below the curve continued from below;
    ``kind``: "step" (a jump between two neighbouring patches) or "spread" (over several
    patches, e.g. a per-pixel merge decision mixing the exposures near the switch);
    ``index_before`` / ``index_after``: patch indices (ascending luminance) where the SNR
    starts and stops falling; ``snr_db_before`` / ``snr_db_after``: SNR there.
    """

    luminance: float
    bracket: tuple[float, float]
    depth_db: float
    kind: str
    index_before: int
    index_after: int
    snr_db_before: float
    snr_db_after: float


@dataclass(frozen=True)
class DynamicRange:
    """Dynamic range by the SNR ≥ ``snr_threshold`` criterion (ISO 15739 §6.4; EMVA 1288
    R4.0 General). ``luminance_min``: lowest luminance with SNR ≥ threshold (log-log
    interpolation between patches); ``luminance_max``: saturation luminance.
    ``limited_by_chart``: a limit was the chart's darkest / brightest patch, so the true DR
    is at least ``dr_db``."""

    dr_db: float
    luminance_min: float
    luminance_max: float
    snr_threshold: float
    limited_by_chart: bool


@dataclass(frozen=True)
class HdrSnrResult:
    """SNR against scene luminance of one HDR chart capture (sorted by luminance)."""

    luminance: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    snr: np.ndarray
    snr_db: np.ndarray
    saturated: np.ndarray
    dips: tuple[SnrDip, ...]
    dynamic_range: DynamicRange | None
    incremental: bool = False
    min_dip_db: float = 1.0

    def min_snr_db(self, luminance_min: float, luminance_max: float) -> tuple[float, float]:
        """Lowest SNR [dB] of the unsaturated patches with luminance in [lo, hi] and its
        luminance (P2020: minimum SNR over the HDR range of a use case). A dip between two
        patches is represented by the patch just above it."""
        lo = _scalar(luminance_min, "luminance_min", lo=0.0, rng_text="luminance_min > 0")
        hi = _scalar(luminance_max, "luminance_max", lo=lo, lo_open=False,
                     rng_text=f"luminance_max >= luminance_min = {lo}")
        m = (self.luminance >= lo) & (self.luminance <= hi) & ~self.saturated
        if not np.any(m):
            raise ConfigError(f"luminance range [{lo:g}, {hi:g}] holds no unsaturated patch "
                              f"(chart: {self.luminance[0]:g}..{self.luminance[-1]:g})")
        idx = np.flatnonzero(m)
        k = idx[np.argmin(self.snr_db[idx])]
        return float(self.snr_db[k]), float(self.luminance[k])

    def to_dict(self) -> dict:
        dr = self.dynamic_range
        return {
            "dynamic_range_db": None if dr is None else dr.dr_db,
            "dr_luminance_min": None if dr is None else dr.luminance_min,
            "dr_luminance_max": None if dr is None else dr.luminance_max,
            "dr_limited_by_chart": None if dr is None else dr.limited_by_chart,
            "dips": [{"luminance": d.luminance, "depth_db": d.depth_db, "kind": d.kind,
                      "bracket": list(d.bracket)} for d in self.dips],
            "max_dip_db": max((d.depth_db for d in self.dips), default=0.0),
        }


def _line(x: np.ndarray, y: np.ndarray):
    """Least-squares line through (x, y) as a function (a constant for one point)."""
    if x.size == 1:
        return lambda x0: float(y[0]) + 0.0 * np.asarray(x0, dtype=np.float64)
    slope, icpt = np.polyfit(x, y, 1)
    return lambda x0: slope * np.asarray(x0, dtype=np.float64) + icpt


def _saturation(lum, mean, white_level, white_fraction):
    n = lum.size
    sat = np.zeros(n, dtype=bool)
    if white_level is not None:
        sat = mean >= white_fraction * white_level
        # once clipped, brighter patches are clipped too
        if sat.any():
            sat[np.argmax(sat):] = True
        return sat
    # no white level: from the top, patches whose response has flattened (local log-log
    # slope < 0.5) near the maximum signal are clipped
    top = mean.max()
    for i in range(n - 1, 0, -1):
        if mean[i] < 0.5 * top or mean[i - 1] <= 0:
            break
        slope = np.log(mean[i] / mean[i - 1]) / np.log(lum[i] / lum[i - 1])
        if slope >= 0.5:
            break
        sat[i] = True
    return sat


def _side(xs, lo: int, hi: int, anchor: int, span: float, *, below: bool):
    """Indices [a, b] (inclusive) of the patches within ``span`` (in ln L) of ``anchor``,
    inside [lo, hi], on the side away from the dip; at least two if available."""
    if below:
        a = anchor
        while a - 1 >= lo and (xs[anchor] - xs[a - 1] <= span or anchor - a < 1):
            a -= 1
        return a, anchor
    b = anchor
    while b + 1 <= hi and (xs[b + 1] - xs[anchor] <= span or b - anchor < 1):
        b += 1
    return anchor, b


def _find_dips(x, y, valid, min_dip_db, fit_span):
    """Dips of y(x) (x = ln L, y = SNR dB) over the valid patches (definition in
    :func:`snr_vs_luminance`)."""
    idx = np.flatnonzero(valid)
    if idx.size < 3:
        return []
    xs, ys = x[idx], y[idx]
    d = np.diff(ys)
    runs, k = [], 0
    while k < d.size:
        if d[k] < 0:
            j = k
            while j + 1 < d.size and d[j + 1] < 0:
                j += 1
            runs.append((k, j + 1))  # SNR falls from patch k to patch j+1
            k = j + 1
        else:
            k += 1
    runs = [(i, j) for i, j in runs if ys[i] - ys[j] >= min_dip_db]
    dips = []
    for r, (i, j) in enumerate(runs):
        prev_end = runs[r - 1][1] if r else 0
        next_start = runs[r + 1][0] if r + 1 < len(runs) else xs.size - 1
        # one guard patch on each side (it may mix both exposures) when >= 2 remain
        b1 = i - 1 if i - 1 > prev_end else i
        a0 = j + 1 if j + 1 < next_start else j
        b0, b1 = _side(xs, prev_end, b1, b1, fit_span, below=True)
        a0, a1 = _side(xs, a0, next_start, a0, fit_span, below=False)
        before = _line(xs[b0:b1 + 1], ys[b0:b1 + 1])
        after = _line(xs[a0:a1 + 1], ys[a0:a1 + 1])
        # where the curve crosses half-way between the two lines (first sign change of
        # y − (before + after)/2 along the run; linear interpolation in ln L)
        seg_x = xs[i:j + 1]
        g = ys[i:j + 1] - 0.5 * (before(seg_x) + after(seg_x))
        neg = np.flatnonzero(g <= 0)
        m = int(neg[0]) if neg.size else g.size - 1
        if m == 0:
            x0 = float(seg_x[0])
        else:
            t = g[m - 1] / (g[m - 1] - g[m])
            x0 = float(seg_x[m - 1] + t * (seg_x[m] - seg_x[m - 1]))
        depth = float(before(x0) - after(x0))
        dips.append(SnrDip(float(np.exp(x0)), (float(np.exp(xs[i])), float(np.exp(xs[j]))),
                           depth, "step" if j == i + 1 else "spread", int(idx[i]),
                           int(idx[j]), float(ys[i]), float(ys[j])))
    return dips


def _dynamic_range(lum, snr_db, sat, mean, thr_db, white_level, white_fraction, thr,
                   fit_span, dip_start):
    idx = np.flatnonzero(~sat)
    if idx.size == 0:
        return None
    above = idx[snr_db[idx] >= thr_db]
    if above.size == 0:
        return None
    k = above[0]
    limited = False
    pos = np.searchsorted(idx, k)
    if pos == 0:
        lmin, limited = float(lum[k]), True
    else:
        k0 = idx[pos - 1]
        y0, y1 = snr_db[k0], snr_db[k]
        if not np.isfinite(y0):
            lmin = float(lum[k])
        else:
            t = (thr_db - y0) / (y1 - y0)
            x_lin = np.log(lum[k0]) + t * (np.log(lum[k]) - np.log(lum[k0]))
            # a line through the patches within ±span/2 of the crossing averages the
            # per-patch SNR scatter; the two-patch interpolation if it does not rise
            x = np.log(lum)
            near = idx[(np.abs(x[idx] - x_lin) <= fit_span / 2) & np.isfinite(snr_db[idx])]
            near = near[near <= (dip_start if dip_start is not None else near.max())]
            x_fit = x_lin
            if near.size >= 3:
                slope, icpt = np.polyfit(x[near], snr_db[near], 1)
                if slope > 0:
                    x_fit = (thr_db - icpt) / slope
                    x_fit = x_fit if abs(x_fit - x_lin) <= fit_span / 2 else x_lin
            lmin = float(np.exp(x_fit))
    unsat = np.flatnonzero(~sat)
    top = unsat[-1]
    if not sat.any():
        lmax, limited = float(lum[-1]), True
    elif white_level is not None:
        # extrapolate the response of the highest clearly unclipped patches to the clip
        # level: L_sat = L_u · (W / m_u)^(1/γ), γ the local log-log slope; ≤ first clipped
        ref = unsat[mean[unsat] <= 0.9 * white_fraction * white_level]
        ref = ref[mean[ref] > 0]
        lsat_cap = float(lum[top + 1])
        if ref.size >= 2:
            u, v = ref[-1], ref[-2]
            gamma = np.log(mean[u] / mean[v]) / np.log(lum[u] / lum[v])
            gamma = gamma if gamma > 0 else 1.0
            lmax = float(min(lsat_cap, lum[u] * (white_level / mean[u]) ** (1 / gamma)))
        else:
            lmax = float(lum[top])
    else:
        lmax = float(lum[top])
    if lmax <= lmin:
        return None
    return DynamicRange(float(20 * np.log10(lmax / lmin)), lmin, lmax, thr, limited)


def snr_vs_luminance(luminance, mean, std, *, white_level: float | None = None,
                     white_fraction: float = 0.98, snr_threshold: float = 1.0,
                     incremental: bool = False, min_dip_db: float | None = None,
                     fit_decades: float = 0.25) -> HdrSnrResult:
    """SNR curve, SNR dips and dynamic range of one HDR chart capture.

    Parameters
    ----------
    luminance : array_like (N,)
        Scene luminance of each patch [cd/m²] (> 0), any order (sorted here); ≥ 120 dB for a
        P2020 HDR chart (:func:`hdr_test_chart`).
    mean, std : array_like (N,)
        Patch mean and noise σ in one linear output unit (e⁻ of the long exposure, DN of a
        decompanded / merged HDR raw) — :func:`snr_from_patches`.
    white_level : float, optional
        Clip level of the output (e.g. the merged raw's white level). Patches with mean ≥
        ``white_fraction``·white_level are saturated. Without it, saturation is detected where
        the response flattens (log-log slope < 0.5 near the maximum).
    snr_threshold : float
        SNR criterion of the dynamic range (ISO 15739 and EMVA 1288: 1).
    incremental : bool
        ISO 15739 incremental SNR: SNR_i = L·(dmean/dL)/σ (derivative by finite differences
        in ln L) instead of mean/σ — needed for tone-mapped or companded (nonlinear) output;
        equal to mean/σ for a linear response.
    min_dip_db : float, optional
        Smallest SNR drop reported as a dip. Default: 5·√2·σ̂ (at least 0.3 dB), σ̂ the
        scatter of the per-patch SNR_dB estimates (≈ 8.7/√(2n) dB for n pixels), estimated
        robustly from the curve itself: 1.4826·MAD of its second differences / √6 over the
        patches with SNR ≥ threshold. Reported as ``HdrSnrResult.min_dip_db``.
    fit_decades : float
        Luminance span [decades] of the straight lines (SNR_dB vs ln L) that continue the
        SNR curve on each side of a dip and that locate the SNR = threshold crossing (at
        least two patches each). Default 0.25: ≈ 8 patches of a 30-per-decade chart.

    Returns
    -------
    HdrSnrResult
        ``snr``, ``snr_db`` = 20 log10 SNR, ``saturated`` mask, ``dips``, ``dynamic_range``.

    Notes
    -----
    **SNR dip** (P2020 White Paper 2018: the SNR drop where an HDR sensor switches from one
    exposure / gain / photodiode to the next). Over the unsaturated patches with SNR ≥
    ``snr_threshold``, in ascending luminance, a dip is a maximal run of consecutive SNR
    decreases, from patch i to patch j, with a total drop ≥ ``min_dip_db``. The curve is
    continued across it by least-squares lines in SNR_dB vs ln L: SNR_below through the
    patches within ``fit_decades`` below patch i − 1, SNR_above through those within
    ``fit_decades`` above patch j + 1 (one guard patch on each side, which may still mix
    both exposures; never across a neighbouring dip; at least two patches). The dip lies
    where the measured curve (interpolated between the run's patches) crosses half-way
    between the two lines, L_d, and

        depth = SNR_below(L_d) − SNR_above(L_d)  [dB]

    — the drop relative to the curve continued without the dip. ``bracket`` = (L_i, L_j)
    holds the transition; ``kind`` is "step" for a jump between two neighbouring patches
    (then L_d is their log midpoint) and "spread" for a transition over several patches,
    e.g. a merge that decides per pixel on noisy values and so mixes the exposures of
    patches within a few σ of the switch. For a switch from exposure k to k+1 (ratio r)
    at signal S [e⁻ of exposure k] the depth is 10·log10(SNR²_below / SNR²_above) =
    10·log10[r (S + rσ_r²)/(S + σ_r²)] (:func:`multi_exposure_snr_model`).

    **Dynamic range** (ISO 15739:2023 §6.4; EMVA 1288 R4.0 General for nonlinear sensors):
    DR = 20·log10(L_max / L_min) with L_min the lowest luminance at which SNR ≥
    ``snr_threshold`` (where a least-squares line in SNR_dB vs ln L through the patches
    within ±``fit_decades``/2 of the first crossing reaches the threshold; the two patches
    around the crossing if fewer than three) and L_max the saturation luminance: with
    ``white_level``, the luminance at which the response of the highest patches below
    0.9·clip reaches the clip level (capped by the first clipped patch); without, the
    highest unclipped patch.
    """
    lum = _data(luminance, "luminance", min_size=2).ravel()
    m = _data(mean, "mean", min_size=2).ravel()
    s = _data(std, "std", min_size=2).ravel()
    if not lum.size == m.size == s.size:
        raise ConfigError(f"luminance, mean and std have {lum.size}, {m.size}, {s.size} "
                          "values; need one per patch")
    if np.any(lum <= 0):
        raise ConfigError(f"luminance holds {int(np.sum(lum <= 0))} values <= 0; valid range "
                          "is luminance > 0")
    if np.any(s < 0):
        raise ConfigError("std holds negative values; valid range is std >= 0")
    thr = _scalar(snr_threshold, "snr_threshold", lo=0.0, rng_text="snr_threshold > 0")
    if min_dip_db is not None:
        min_dip_db = _scalar(min_dip_db, "min_dip_db", lo=0.0, rng_text="min_dip_db > 0")
    wf = _scalar(white_fraction, "white_fraction", lo=0.0, hi=1.0,
                 rng_text="0 < white_fraction <= 1")
    if white_level is not None:
        white_level = _scalar(white_level, "white_level", lo=0.0, rng_text="white_level > 0")
    span = _scalar(fit_decades, "fit_decades", lo=0.0, rng_text="fit_decades > 0")
    span *= np.log(10.0)
    order = np.argsort(lum, kind="stable")
    lum, m, s = lum[order], m[order], s[order]
    if np.any(np.diff(lum) == 0):
        raise ConfigError("luminance holds repeated values; need one patch per luminance")
    x = np.log(lum)
    signal = np.gradient(m, x) if incremental else m
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(s > 0, signal / np.where(s > 0, s, 1.0),
                       np.where(signal > 0, np.inf, 0.0))
        snr_db = np.where(snr > 0, 20 * np.log10(np.where(snr > 0, snr, 1.0)), -np.inf)
    sat = _saturation(lum, m, white_level, wf)
    # dips are sought within the dynamic range: below SNR = threshold the per-patch SNR
    # estimate is dominated by the error of the mean (≈ 1/(SNR·√n)), not by the sensor
    valid = ~sat & np.isfinite(snr_db) & (snr >= thr)
    mdip = _auto_min_dip(snr_db[valid]) if min_dip_db is None else min_dip_db
    dips = tuple(_find_dips(x, snr_db, valid, mdip, span))
    dr = _dynamic_range(lum, snr_db, sat, m, 20 * np.log10(thr), white_level, wf, thr, span,
                        dips[0].index_before if dips else None)
    return HdrSnrResult(lum, m, s, snr, snr_db, sat, dips, dr, bool(incremental),
                        float(mdip))


def _auto_min_dip(y: np.ndarray) -> float:
    """5·√2·σ̂ (≥ 0.3 dB), σ̂ = 1.4826·MAD(Δ²y)/√6: the per-patch scatter of a smooth curve
    with independent errors (a second difference has variance 6σ²; dips are outliers)."""
    if y.size < 5:
        return 1.0
    d2 = np.diff(y, 2)
    sigma = 1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0)
    return float(max(0.3, 5.0 * np.sqrt(2.0) * sigma))


def multi_exposure_snr_model(luminance, *, electrons_per_cd_m2: float,
                             exposure_ratios: Sequence[float],
                             full_well_e: float | Sequence[float],
                             read_noise_e: float | Sequence[float],
                             switch_fraction: float = 0.9,
                             switch_on: str = "signal") -> dict:
    """Analytic SNR of a multi-component HDR pixel with selection merge — the reference for
    SNR dips and HDR dynamic range (DOL exposures, split pixel, LOFIC, DCG).

    Component 0 (the reference: long exposure, large photodiode, high-gain read) collects
    S = k·L electrons (k = ``electrons_per_cd_m2``); component j collects S/R_j, R_0 = 1 ≤
    R_1 ≤ … (``exposure_ratios`` = (R_1, …): T_0/T_j for DOL, the sensitivity ratio ρ for
    the small photodiode of a split pixel, 1 for the low-gain read of LOFIC / DCG, which
    sees the same charge). Each has shot noise, read noise σ_j and full well FW_j
    (``read_noise_e``, ``full_well_e``: one value for all or one per component). The merge
    takes the first component with S/R_j < s·FW_j (s = ``switch_fraction``) and scales it
    by R_j, so in reference electrons

        mean = S,   σ² = R_j² (S/R_j + σ_j²),   SNR_j(S) = (S/R_j) / √(S/R_j + σ_j²).

    Switch j → j+1 at S_j = s·FW_j·R_j, where the SNR drops by (closed form; S' = s·FW_j,
    the signal of component j there, r = R_j+1/R_j)

        depth_j = 10·log10(SNR_j² / SNR_j+1²) = 10·log10[ r (S' + r σ_j+1²) / (S' + σ_j²) ]

    (→ 10·log10 r for DOL when shot-noise limited; 10·log10[(S' + σ_LG²)/(S' + σ_HG²)] for
    LOFIC / DCG, r = 1). The output clips at FW_last·R_last (L_sat = FW_last·R_last/k); SNR
    = 1 at S = (1 + √(1 + 4σ_0²))/2 in component 0 (if below the first switch), so DR =
    20·log10(L_sat / L_1).

    ``switch_on="signal"`` (default) decides on the noise-free S — the ideal model above.
    ``switch_on="measured"`` decides, as sensors and ISP merges do, on each pixel's own noisy
    value e_j < s·FW_j, for independent components (DOL exposures, split-pixel photodiodes:
    different photons; not LOFIC / DCG, whose reads share one charge), e_j ~ N(S/R_j,
    S/R_j + σ_j²) (Gaussian approximation of shot + read noise), the last one clipped at its
    full well. The merged moments follow exactly from truncated-normal moments,

        E[Y_j^m] = R_j^m E[e_j^m; e_j < t_j] + P(e_j ≥ t_j) E[Y_j+1^m],   m = 1, 2,
        E[e; e < t] = μΦ(z) − σφ(z),  E[e²; e < t] = (μ² + σ²)Φ(z) − σ(μ + t)φ(z),
        z = (t − μ)/σ,

    so within a few σ of a switch the patch mixes both components (a transition spread over
    ±3σ_j/S instead of a step, and a mean biased low by the truncation). ``snr``, ``mean_e``
    and ``std_e`` then hold this mixture; the closed-form ``transition_cd_m2`` and
    ``dip_depth_db`` stay those of the ideal switch — compare a measured capture with
    ``snr_vs_luminance(luminance, mean_e, std_e)`` of this model at the same patches.

    One noise model, two forms. The ``snr`` / ``std_e`` arrays of ``switch_on="signal"``
    are not computed here: the components are handed as
    :class:`~camtwin.sensor.hdr.HdrComponent` (scale R_j, saturation FW_j, read noise σ_j,
    no quantisation, one charge group each) to :func:`camtwin.isp.hdr.merged_variance`
    (``method="selection"``) — the implementation the ISP merge and
    :func:`camtwin.sensor.hdr.component_models` use. What stays here is the *closed form*
    of the switch luminances, dip depths and DR above, written out independently of that
    code, so that tests check one against the other; and the truncated-normal mixture of
    ``switch_on="measured"``, which the deterministic-switch variance of
    :mod:`camtwin.isp.hdr` does not describe.

    Returns a dict: ``snr`` (array like ``luminance``, 0 where clipped), ``mean_e``,
    ``std_e``, ``transition_cd_m2`` (J,), ``dip_depth_db`` (J,), ``saturation_cd_m2``,
    ``snr1_cd_m2``, ``dr_db``, ``white_level_e`` (= FW_last·R_last).
    """
    if switch_on not in ("signal", "measured"):
        raise unknown_name("switch_on", switch_on, ("signal", "measured"))
    lum = _data(luminance, "luminance")
    k = _scalar(electrons_per_cd_m2, "electrons_per_cd_m2", lo=0.0,
                rng_text="electrons_per_cd_m2 > 0")
    sw = _scalar(switch_fraction, "switch_fraction", lo=0.0, hi=1.0,
                 rng_text="0 < switch_fraction <= 1")
    ratios = np.concatenate([[1.0], _data(exposure_ratios, "exposure_ratios").ravel()])
    if np.any(np.diff(ratios) < 0):
        raise ConfigError(f"exposure_ratios = {list(ratios[1:])}: valid range is "
                          "non-decreasing values >= 1 (reference / component sensitivity)")
    n = ratios.size
    fw, rn = (_per_component(v, name, n, low) for v, name, low in
              ((full_well_e, "full_well_e", False), (read_noise_e, "read_noise_e", True)))
    sig = k * lum
    switch_e = sw * fw[:-1] * ratios[:-1]
    if np.any(np.diff(np.concatenate([switch_e, [fw[-1] * ratios[-1]]])) <= 0):
        raise ConfigError(f"full_well_e·exposure_ratios = {list(fw * ratios)}: the switch "
                          "levels s·FW_j·R_j must increase from component to component")
    var = _merged_variance_model(sig, ratios, fw, rn, sw)
    white = fw[-1] * ratios[-1]
    clipped = sig >= white
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(clipped | (var <= 0), 0.0, sig / np.sqrt(var))
    if switch_on == "measured":
        mean, var = _noisy_switch_moments(sig, ratios, fw, rn, sw)
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = np.where(var > 0, mean / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    else:
        mean, var = np.where(clipped, white, sig), np.where(clipped, 0.0, var)
    sj = switch_e / ratios[:-1]  # signal of component j at its switch [e⁻]
    r = ratios[1:] / ratios[:-1]
    depth = 10 * np.log10(r * (sj + r * rn[1:] ** 2) / (sj + rn[:-1] ** 2))
    s1 = (1 + np.sqrt(1 + 4 * rn[0] ** 2)) / 2
    return {"snr": snr, "mean_e": mean, "std_e": np.sqrt(np.maximum(var, 0.0)),
            "transition_cd_m2": switch_e / k, "dip_depth_db": depth,
            "saturation_cd_m2": white / k, "snr1_cd_m2": s1 / k,
            "dr_db": float(20 * np.log10(white / s1)), "white_level_e": white}


def _merged_variance_model(sig, ratios, fw, rn, sw) -> np.ndarray:
    """var of the selection merge at signal ``sig`` [reference e⁻²] from
    :func:`camtwin.isp.hdr.merged_variance` (components with scale R_j, saturation FW_j,
    read noise σ_j, no quantisation noise: K = ∞; independent charges)."""
    from ..isp.hdr import merged_variance
    from ..sensor.hdr import HdrComponent

    comps = [HdrComponent(name=f"c{j}", dn=None, gain_dn_per_e=np.inf, black_level_dn=0.0,
                          white_level_dn=0, scale=float(r), saturation_e=float(f),
                          read_noise_e=float(n), exposure_s=np.nan, charge_group=j)
             for j, (r, f, n) in enumerate(zip(ratios, fw, rn))]
    return merged_variance(sig, comps, method="selection", switch_fraction=sw)


def _per_component(value, name: str, n: int, zero_ok: bool) -> np.ndarray:
    """One value per component (a scalar is repeated), > 0 (or >= 0)."""
    a = _data(value, name).ravel()
    if a.size == 1:
        a = np.full(n, a[0])
    if a.size != n:
        raise ConfigError(f"{name} has {a.size} values; need 1 or one per component ({n})")
    if np.any(a < 0) or (not zero_ok and np.any(a == 0)):
        raise ConfigError(f"{name} = {_short(value)}: valid range is {name} "
                          f"{'>=' if zero_ok else '>'} 0")
    return a


def _below_moments(mu, sd, t):
    """P(e < t), E[e; e < t], E[e²; e < t] for e ~ N(mu, sd²) (sd > 0)."""
    z = (t - mu) / sd
    cdf = ndtr(z)
    pdf = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    return cdf, mu * cdf - sd * pdf, (mu * mu + sd * sd) * cdf - sd * (mu + t) * pdf


def _noisy_switch_moments(sig, ratios, fw, rn, sw):
    """Mean and variance of the merge deciding on each component's own noisy value
    (:func:`multi_exposure_snr_model`, ``switch_on="measured"``; fw, rn per component)."""
    n = ratios.size
    m1 = m2 = None
    for j in range(n - 1, -1, -1):
        mu = sig / ratios[j]
        sd = np.sqrt(np.maximum(mu + rn[j] ** 2, 1e-300))
        if j == n - 1:  # last component: clipped at its full well
            p, e1, e2 = _below_moments(mu, sd, fw[j])
            m1 = ratios[j] * (e1 + (1 - p) * fw[j])
            m2 = ratios[j] ** 2 * (e2 + (1 - p) * fw[j] ** 2)
        else:
            p, e1, e2 = _below_moments(mu, sd, sw * fw[j])
            m1 = ratios[j] * e1 + (1 - p) * m1
            m2 = ratios[j] ** 2 * e2 + (1 - p) * m2
    return m1, np.maximum(m2 - m1 * m1, 0.0)


def cdp_vs_luminance(result: HdrSnrResult, *, contrast: float, confidence: float = 0.5,
                     kind: str = "weber") -> tuple[np.ndarray, np.ndarray]:
    """CDP of a contrast C against scene luminance, predicted from one HDR chart capture.

    For every unsaturated patch i (luminance L_i, mean μ_i, noise σ_i) taken as the dark
    side, the bright side is the same camera at the luminance L_i·(1 + C_W) (Weber; for a
    Michelson contrast C_M, L_i·(1 + C_M)/(1 − C_M)), whose mean and σ are interpolated
    log-log along the measured curve (ln μ and ln σ linear in ln L between patches; never
    across an SNR dip: on each side of the dip location the curve of that side is
    continued, so a contrast straddling a switch sees the noisier exposure), and
    CDP_i = :func:`cdp_gaussian` (μ_i, σ_i, μ_b, σ_b; C, ε). This is the
    per-patch-statistics form of CDP (Geese et al., EI 2018; Artmann, Geese & Gäde, EI
    2019: CDP over luminance, and the luminance range with CDP above a level as a
    dynamic-range measure). The nominal contrast is the scene contrast ``contrast``.

    Returns ``(luminance, cdp)`` for the patches whose bright partner is still below the
    saturation (last unclipped patch) and whose means are > 0.
    """
    _kind(kind)
    c = _nominal(contrast, None, None, kind)
    factor = 1.0 + c if kind == "weber" else (1.0 + c) / (1.0 - c) if c < 1 else np.inf
    ok = ~result.saturated & (result.mean > 0) & (result.std > 0)
    lum, mu, sd = result.luminance[ok], result.mean[ok], result.std[ok]
    if lum.size < 2:
        raise ConfigError("result holds fewer than 2 unsaturated patches with signal; "
                          "need >= 2 for CDP against luminance")
    lb = lum * factor
    keep = lb <= lum[-1]
    if not np.any(keep):
        raise ConfigError(f"contrast = {contrast!r}: the bright side L·{factor:.3g} lies "
                          "above the brightest unsaturated patch for every patch")
    xl, xb = np.log(lum), np.log(lb[keep])
    lmu, lsd = np.log(mu), np.log(sd)
    mu_b, sd_b = np.exp(np.interp(xb, xl, lmu)), np.exp(np.interp(xb, xl, lsd))
    # never interpolate across an SNR dip: on each side of the dip location continue the
    # curve of that side (log-log slope of its two nearest patches)
    pos = np.flatnonzero(ok)
    for d in result.dips:
        i = np.searchsorted(pos, d.index_before)
        j = np.searchsorted(pos, d.index_after)
        if not (i < pos.size and j < pos.size and pos[i] == d.index_before
                and pos[j] == d.index_after):
            continue
        xd = np.log(d.luminance)
        sides = ((True, (max(i - 1, 0), i)), (False, (j, min(j + 1, pos.size - 1))))
        for lo_side, (a, b) in sides:
            # points of the run (i, j) on this side of x_d are continued from patch b (below)
            # or a (above)
            sel = (xb > xl[i]) & (xb < xl[j]) & ((xb < xd) if lo_side else (xb >= xd))
            if not np.any(sel):
                continue
            ref = b if lo_side else a
            span = xl[b] - xl[a]
            for y, out in ((lmu, mu_b), (lsd, sd_b)):
                slope = (y[b] - y[a]) / span if span > 0 else 0.0
                out[sel] = np.exp(y[ref] + slope * (xb[sel] - xl[ref]))
    cdp = cdp_gaussian(mu[keep], sd[keep], mu_b, sd_b, contrast=c, confidence=confidence,
                       kind=kind)
    return lum[keep], np.atleast_1d(cdp)


# ---------------------------------------------------------------------------------------------
# 4. figure

def plot_snr_vs_luminance(result: HdrSnrResult, path, *, title: str = "") -> Path:
    """SNR [dB] against scene luminance (log axis) with the SNR dips (depth labelled), the
    dynamic-range limits (SNR = threshold and saturation) and the clipped patches; PNG written
    atomically (:func:`camtwin._io.atomic_path`, Agg backend)."""
    from ..report.figures import new_figure, save_figure

    fig = new_figure((6.4, 3.8))
    ax = fig.add_subplot()
    lum, y, sat = result.luminance, result.snr_db, result.saturated
    fin = np.isfinite(y)
    ax.semilogx(lum[fin & ~sat], y[fin & ~sat], "o-", ms=3, lw=1.2, color="tab:blue",
                label="incremental SNR" if result.incremental else "SNR")
    if np.any(fin & sat):
        ax.semilogx(lum[fin & sat], y[fin & sat], "x", color="grey", label="clipped")
    dr = result.dynamic_range
    thr_db = 20 * np.log10(dr.snr_threshold) if dr else 0.0
    ax.axhline(thr_db, color="grey", ls=":", lw=1)
    for d in result.dips:
        ax.axvline(d.luminance, color="tab:red", ls="--", lw=0.8)
        ax.annotate(f"dip {d.depth_db:.1f} dB", (d.luminance, d.snr_db_after),
                    xytext=(4, -12), textcoords="offset points", fontsize=7, color="tab:red")
    if dr is not None:
        for v, name in ((dr.luminance_min, f"SNR = {dr.snr_threshold:g}"),
                        (dr.luminance_max, "saturation")):
            ax.axvline(v, color="tab:green", ls="-.", lw=1)
            ax.annotate(name, (v, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                        xytext=(-10, -4), textcoords="offset points", fontsize=7,
                        color="tab:green", ha="left", va="top")
        ax.axvspan(dr.luminance_min, dr.luminance_max, color="tab:green", alpha=0.06,
                   label=f"DR {dr.dr_db:.1f} dB" + (" (≥, chart-limited)"
                                                    if dr.limited_by_chart else ""))
    ax.set(xlabel="scene luminance [cd/m²]", ylabel="SNR [dB]",
           title=title or "SNR against scene luminance (IEEE P2020)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)
