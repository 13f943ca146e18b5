"""Direct time-of-flight (dToF): a SPAD pixel array with a pulsed laser, time-to-digital
converter (TDC) histograms, pile-up, Coates correction and peak detection.

Model (units: s, Hz, photons, photo-electrons = detections)
-----------------------------------------------------------
Per laser cycle (period T = 1/f_rep) each SPAD sees, in TDC bin i = [iΔ, (i+1)Δ),
the expected number of avalanches (detections if the SPAD were never dead)

    λ_i = PDE·S·P_i + (PDE·A + DCR)·Δ                                            (1)

    S   = R_active / f_rep          signal photons per pulse (R_active: time-averaged
                                    photons/s on the pixel, PhotonRates.active)
    A   = PhotonRates.ambient       ambient photons/s on the pixel
    P_i = F((i+1)Δ − τ) − F(iΔ − τ) fraction of the pulse in bin i,  τ = (2d/c) mod T
    F   = pulse CDF about its centre: Gaussian, σ² = (FWHM/2√(2 ln 2))² + σ_jitter²;
          or a rectangle of full width w convolved with the Gaussian jitter,
          F(t) = [G(t + w/2) − G(t − w/2)]/w,  G(x) = x·Φ(x/σ) + σ·φ(x/σ).

Crosstalk (optional, ``crosstalk`` = x): additive mean-rate model, each SPAD also fires with
probability x per avalanche of each of its 4 nearest neighbours, λ' = λ + x·Σ_nbr λ_nbr (the
correlation of the crosstalk count with the primary in the same cycle is ignored).

Detection
~~~~~~~~~
* ``first_photon`` (TCSPC, one TDC stop per laser cycle; the SPAD is fresh at each cycle
  start, i.e. dead time ≥ window and ≤ T − window): the histogram of N cycles is
  multinomial with the first-photon probabilities (pile-up)

      p_i = (1 − e^{−λ_i})·Π_{j<i} e^{−λ_j},   p_none = e^{−Σλ}                    (2)

  drawn exactly as the conditional-binomial chain h_i ~ Bin(N − Σ_{j<i} h_j, 1 − e^{−λ_i}).
* ``multi_event``: exact event-by-event Monte-Carlo (not an approximation): in each cycle
  the SPAD fires at the first arrival of the inhomogeneous Poisson process of rate λ_i/Δ
  (piecewise constant over a bin), is dead for ``dead_time_ns`` (non-paralysable), re-arms
  and can fire again in the same cycle; a dead time running past the period carries into
  the next cycle; the SPAD is gated to the histogram window. Runs of empty cycles are
  skipped exactly (geometric count, then a conditioned first arrival), so the cost is per
  detection. With dead time 0 the bins are independent Poisson counts with mean N·λ_i.

Zones: ``zone_size_px`` = z sums the histograms of z×z SPADs (macro-pixels, as the 8×8 zones
of ST FlightSense multizone sensors); the output has H' = ⌊H/z⌋ × W' = ⌊W/z⌋ zones (a
remainder of rows/columns is dropped). N = z²·pulses_per_frame SPAD-cycles per zone.

Processing (on chip in a real sensor; here :func:`process_histograms`)
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1. Pile-up correction (Coates 1968):  λ̂_i = −ln(1 − h_i/R_i),  R_i = N − Σ_{j<i} h_j
   (cycles still armed at bin i), corrected counts ĉ_i = N·λ̂_i, with the delta-method
   variance Var ĉ_i = N²·h_i/(R_i(R_i − h_i)). For ``multi_event`` with dead time
   m = τ_dead/Δ bins the sum runs over the dead-time window only, each earlier bin
   weighted by the expected fraction of bin i its detections leave dead
   (:func:`dead_time_weights`; the dead-time generalisation of Coates' formula, approximate
   because the detection time within a bin is taken as uniform); for m < 1 λ̂ = h/R
   (several detections per bin possible), for m = 0 no correction (Poisson counts).
2. Peak: argmax of the matched filter (correlation of ĉ with the pulse sampled in bins,
   kernel half-width K = ⌈(3σ + w/2)/Δ⌉ bins).
3. Background b̂ = mean of ĉ outside the window p ± (K + 1).
4. Time = background-subtracted centroid over the window p ± K:
   t̂ = Σ_k t_k (ĉ_k − b̂) / Σ_k (ĉ_k − b̂),  t_k = (k + ½)Δ  (sub-bin interpolation),
   signal S = Σ_k (ĉ_k − b̂); distance d̂ = c·t̂/2 (radial, m).
5. Valid if S > 0 and SNR = S/√(Σ_k Var ĉ_k + (2K+1)²·Var b̂) ≥ ``peak_snr_threshold``;
   invalid zones have ``depth_m`` = NaN.

Analytic range error (:func:`analytic_range_error`)
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
Bias: the estimator applied to the expected histogram (N·λ_i with Coates correction; the
piled-up N·p_i of eq. (2) without it: the pile-up bias towards early bins). σ: first-order
propagation (delta method) of the bin variances through the estimator,

    σ_t² = Σ_k g_k² v_k,   g_k = (t_k − t̂)/S (k in the window),
                           g_k = −Σ_{j∈window}(t_j − t̂)/(M·S) (k among the M background bins)

with v_k = N·(e^{λ_k} − 1)·e^{Σ_{j<k} λ_j} for Coates-corrected first-photon histograms (the
inverse Fisher information of the product of conditional binomials; → N·λ_k without
pile-up), v_k = N·λ_k for Poisson (multi_event, zero dead time), the same form with the
sum over the dead-time window for multi_event with 0 < τ_dead < window (approximate), and
the full multinomial covariance N(diag p − p pᵀ) for uncorrected first-photon histograms.
Without background and for Δ ≪ σ this reduces to the textbook σ_t = σ/√N_s (N_s = detected
signal photons; ``tests/depth/test_dtof.py`` checks the limit). Koerner (2021) analyses the
precision of such histogram-centroid estimators including background; the closed form
here is derived independently (delta method) and was not checked term by term against
that paper. Range error σ_d = c·σ_t/2.

Limits (measured, ``benchmarks/bench_dtof.py``)
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
* The delta-method σ holds (sim/analytic 0.98–1.04 over 27 points of distance 0.5–4 m,
  reflectivity 0.1–0.9, ambient 0–2e8 photons/s) while the peak is well above threshold
  (≥ 99 % valid). Near the SNR threshold the valid pixels are a biased selection.
* Coates' correction needs R_i ≫ 1 armed cycles through the pulse: at 4 signal e⁻ per
  cycle (R ≈ N·e^{−4}) the corrected bias is +0.1 mm with N = 1000 but +2 mm with N = 300
  (uncorrected: −96 mm); at ≳ 7 e⁻/cycle with N = 2000 the estimate breaks down (valid
  fraction 0.83–0.90, σ below the delta-method value) — real sensors attenuate or gate
  there.
* A zone is Coates-corrected as one detector of N = z²·pulses cycles: exact for uniform
  zones; approximate where the SPADs of a zone see different flux.
* Speed, 320×240 SPADs, first-photon, incl. processing: 0.66–0.74 CPU-s (128 bins,
  2000–5000 pulses), 1.15–1.35 CPU-s (256 bins); the two row-block threads give
  wall ≈ CPU/2 on 2 free cores (0.63 s measured for 256 bins × 5000 pulses); the NumPy
  per-bin reference of the same model takes 2.5–8 s. The multi-event Monte-Carlo costs
  ≈ 80 ns per detection (7 CPU-s for 0.57 detections per cycle on this frame; 1.3 s for
  the st-vl53l5cx catalog part, 32×32 SPADs × 400 000 pulses).
* The multi-event dead-time correction ignores dead time carried over from the previous
  cycle (a detection near the end of the period blocking the first bins of the next). Its
  analytic σ (dead-window variance) is within 10 % up to ~2 detections per cycle (0.8–3 ns
  dead time, 100 ps bins; bias < 0.3 mm) and overestimates σ by ~25 % at 3 per cycle.

References
----------
* P. B. Coates, "The correction for photon 'pile-up' in the measurement of radiative
  lifetimes", J. Phys. E: Sci. Instrum. 1, 878–879 (1968).
* L. J. Koerner, "Models of direct time-of-flight sensor precision that enable optimal
  design and dynamic configuration", IEEE Trans. Instrum. Meas. 70, 8502609 (2021).
* S. Isbaner et al., "Dead-time correction of fluorescence lifetime measurements and
  fluorescence lifetime imaging", Opt. Express 24, 9429 (2016) (dead-time window form).
* H. Wu et al., "Performance bounds of ranging precision in SPAD-based dToF LiDAR",
  arXiv:2507.11404 (2025) (CRLB with dead time; pile-up couples range and flux).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field
from scipy.special import ndtr

from .._spec import FrozenSpec
from ..errors import ConfigError
from ..units import SPEED_OF_LIGHT_M_S
from . import _dtof_kernels as _k

__all__ = [
    "DTofSpec", "DTofFrame", "RangeError", "simulate_dtof", "expected_counts_per_cycle",
    "first_photon_probabilities", "coates_correct", "process_histograms",
    "analytic_range_error", "analytic_depth_sigma_m", "dead_time_weights",
    "simulate_first_photon_reference", "simulate_multi_event_reference",
    "process_histograms_reference",
]

_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
_SHAPES = {"gaussian": 0, "rectangular": 1}
#: Fixed number of row blocks (one child generator each): results do not depend on threads.
_N_BLOCKS = 8


class DTofSpec(FrozenSpec):
    """SPAD array, TDC and histogram processing of a direct ToF sensor.

    Fields (units in the names): ``photon_detection_efficiency`` (0, 1] at the laser
    wavelength; ``dead_time_ns`` ≥ 0 (used by ``multi_event``); ``dark_count_rate_hz`` ≥ 0
    per SPAD; ``tdc_bin_ps`` > 0; ``n_bins`` ≥ 2 (max range n_bins·Δ·c/2);
    ``pulses_per_frame`` ≥ 1 laser cycles per histogram; ``zone_size_px`` ≥ 1 (z×z SPADs
    summed per zone); ``detection``; ``crosstalk`` [0, 0.2] probability per neighbour
    avalanche (4 nearest neighbours); ``timing_jitter_ps`` ≥ 0 RMS of SPAD + TDC jitter;
    ``coates_correction``; ``peak_snr_threshold`` ≥ 0.
    """

    photon_detection_efficiency: float = Field(gt=0, le=1)
    dead_time_ns: float = Field(ge=0, le=1e6)
    dark_count_rate_hz: float = Field(0.0, ge=0, le=1e9)
    tdc_bin_ps: float = Field(gt=0, le=1e6)
    n_bins: int = Field(ge=2, le=65536)
    pulses_per_frame: int = Field(ge=1, le=10**9)
    zone_size_px: int = Field(1, ge=1, le=4096)
    detection: Literal["first_photon", "multi_event"] = "first_photon"
    crosstalk: float = Field(0.0, ge=0, le=0.2)
    timing_jitter_ps: float = Field(0.0, ge=0, le=1e6)
    coates_correction: bool = True
    peak_snr_threshold: float = Field(5.0, ge=0, le=1e6)

    @property
    def bin_s(self) -> float:
        """TDC bin width Δ [s]."""
        return self.tdc_bin_ps * 1e-12

    @property
    def window_s(self) -> float:
        """Histogram window n_bins·Δ [s]."""
        return self.n_bins * self.bin_s

    @property
    def max_range_m(self) -> float:
        """Histogram range n_bins·Δ·c/2 [m]."""
        return self.window_s * SPEED_OF_LIGHT_M_S / 2.0

    @property
    def dead_time_bins(self) -> float:
        """Dead time in TDC bins τ_dead/Δ used by the pile-up correction; ``inf`` for
        ``first_photon`` (one detection per cycle: Coates)."""
        if self.detection == "first_photon":
            return math.inf
        return self.dead_time_ns * 1e3 / self.tdc_bin_ps


def dead_time_weights(dead_time_bins: float):
    """Blocking weights of a detection L bins earlier for a dead time of m = τ_dead/Δ bins.

    A detection at a uniformly distributed point f ∈ [0, 1) of bin j keeps the SPAD dead
    over [j + f, j + f + m); the expected dead fraction of bin i = j + L is
    w_L = E_f[clip(f + m − L, 0, 1)] = 1 (a ≥ 1), a + (1 − a²)/2 (0 ≤ a < 1),
    (1 + a)²/2 (−1 < a < 0), 0 (a ≤ −1), a = m − L. Returns (m_full, lags, weights): lags
    1..m_full have weight 1, ``lags`` (int64) the partial ones; m = inf → (−1, [], [])
    (every earlier bin blocks: Coates).
    """
    if math.isinf(dead_time_bins):
        return -1, np.zeros(0, np.int64), np.zeros(0)
    m = float(dead_time_bins)
    m_full = max(0, int(math.floor(m - 1.0)))
    lags, weights = [], []
    for lag in range(m_full + 1, int(math.ceil(m + 1.0)) + 1):
        a = m - lag
        if a >= 1.0:
            w = 1.0
        elif a >= 0.0:
            w = a + (1.0 - a * a) / 2.0
        elif a > -1.0:
            w = (1.0 + a) ** 2 / 2.0
        else:
            w = 0.0
        if w > 0.0:
            lags.append(lag)
            weights.append(w)
    return m_full, np.array(lags, np.int64), np.array(weights, np.float64)


def _blocked(h, dead_time_bins: float):
    """B_i of :func:`dead_time_weights` for histograms h (..., n_bins)."""
    csum = np.cumsum(h, axis=-1) - h
    m_full, lags, weights = dead_time_weights(dead_time_bins)
    if m_full < 0:
        return csum
    out = np.zeros_like(h)
    n = h.shape[-1]
    for lag in range(1, m_full + 1):
        if lag < n:
            out[..., lag:] += h[..., :-lag]
    for lag, w in zip(lags, weights):
        if lag < n:
            out[..., lag:] += w * h[..., :-lag]
    return out


@dataclass(frozen=True)
class DTofFrame:
    """One dToF frame at zone resolution (H' = ⌊H/z⌋, W' = ⌊W/z⌋).

    ``depth_m`` (H', W') radial distance [m], NaN where no valid peak; ``histograms``
    (H', W', n_bins) int32 raw TDC counts; ``peak_counts`` raw counts in the peak window;
    ``signal_counts`` pile-up-corrected, background-subtracted signal [detections/frame];
    ``background_counts_per_bin`` corrected background [detections/bin/frame]; ``snr`` peak
    SNR; ``valid`` bool; ``distance_true_m`` zone mean of the finite input distances (NaN if
    none); ``n_cycles`` SPAD-cycles per zone; ``tdc_bin_s``.
    """

    depth_m: np.ndarray
    histograms: np.ndarray
    peak_counts: np.ndarray
    signal_counts: np.ndarray
    background_counts_per_bin: np.ndarray
    snr: np.ndarray
    valid: np.ndarray
    distance_true_m: np.ndarray
    n_cycles: int
    tdc_bin_s: float


@dataclass(frozen=True)
class RangeError:
    """Analytic expectation of the estimator: ``bias_m`` (mean d̂ − d), ``sigma_m``
    (temporal σ of d̂), ``signal_counts`` N_s and ``background_counts_per_bin`` of the
    expected (corrected) histogram; arrays broadcast from the inputs."""

    bias_m: np.ndarray
    sigma_m: np.ndarray
    signal_counts: np.ndarray
    background_counts_per_bin: np.ndarray


# --------------------------------------------------------------------------------------
# checks and shared preparation
# --------------------------------------------------------------------------------------
def _positive_scalar(name: str, value, unit: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise ConfigError(f"{name} = {value!r}: must be a finite number > 0 {unit}")
    return x


def _pulse_params(spec: DTofSpec, pulse_width_s, repetition_rate_hz, pulse_shape):
    pulse_width_s = _positive_scalar("pulse_width_s", pulse_width_s,
                                     "s (Gaussian FWHM or rectangular full width)")
    repetition_rate_hz = _positive_scalar("repetition_rate_hz", repetition_rate_hz, "Hz")
    if pulse_shape not in _SHAPES:
        raise ConfigError(f"pulse_shape = {pulse_shape!r}: must be one of "
                          f"{', '.join(sorted(_SHAPES))}")
    period = 1.0 / repetition_rate_hz
    if spec.window_s > period * (1 + 1e-12):
        raise ConfigError(
            f"n_bins·tdc_bin_ps = {spec.window_s * 1e9:.6g} ns: histogram window must be "
            f"≤ the laser period 1/repetition_rate_hz = {period * 1e9:.6g} ns")
    jit = spec.timing_jitter_ps * 1e-12
    if pulse_shape == "gaussian":
        sigma = math.hypot(pulse_width_s * _FWHM_TO_SIGMA, jit)
        width = 0.0
        reach = 8.0 * sigma
    else:
        sigma = jit
        width = float(pulse_width_s)
        reach = 0.5 * width + 8.0 * sigma
    return _SHAPES[pulse_shape], sigma, width, reach, period


def _effective_sigma(shape: int, sigma: float, width: float) -> float:
    """RMS width of the pulse shape [s]."""
    return sigma if shape == 0 else math.sqrt(width * width / 12.0 + sigma * sigma)


def _per_spad_inputs(active, ambient, distance_m, spec, period_s, repetition_rate_hz):
    """(background λ per bin, signal photo-electrons per pulse, delay τ mod T) per SPAD."""
    active = np.asarray(active, dtype=np.float64)
    ambient = np.asarray(ambient, dtype=np.float64)
    dist = np.asarray(distance_m, dtype=np.float64)
    for name, a in (("rates.active", active), ("rates.ambient", ambient)):
        if not np.all(np.isfinite(a)) or np.any(a < 0):
            raise ConfigError(f"{name}: must be finite and ≥ 0 photons/s "
                              f"(min {np.nanmin(a) if a.size else 0!r})")
    if np.any(dist < 0):
        raise ConfigError(f"distance_m = {float(np.nanmin(dist))!r}: must be ≥ 0 m "
                          "(inf or NaN = no return)")
    pde = spec.photon_detection_efficiency
    bg = (pde * ambient + spec.dark_count_rate_hz) * spec.bin_s
    returns = np.isfinite(dist)
    sig = np.where(returns, pde * active / repetition_rate_hz, 0.0)
    tau = np.where(returns, np.mod(2.0 * np.where(returns, dist, 0.0) / SPEED_OF_LIGHT_M_S,
                                   period_s), 0.0)
    return bg, sig, tau


def _pulse_cdf_np(t, shape, sigma, width):
    if shape == 0:
        return ndtr(t / sigma)

    def g(x):
        if sigma <= 0:
            return np.maximum(x, 0.0)
        z = x / sigma
        return x * ndtr(z) + sigma * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    return (g(t + width / 2) - g(t - width / 2)) / width


def _matched_kernel(shape, sigma, width, bin_s):
    half = max(1, int(math.ceil((3.0 * sigma + 0.5 * width) / bin_s)))
    j = np.arange(-half, half + 1, dtype=np.float64)
    ker = (_pulse_cdf_np((j + 0.5) * bin_s, shape, sigma, width)
           - _pulse_cdf_np((j - 0.5) * bin_s, shape, sigma, width))
    return ker, half


def _peak_window(c, ker, half: int):
    """The matched-filter peak of histograms ``c`` (..., n_bins): correlate with the pulse
    kernel ``ker`` (bins −half..half), take the argmax; return the bin indices, the signal
    window |k − peak| ≤ half and the background bins |k − peak| > half + 1 (boolean
    (..., n_bins) masks)."""
    nb = c.shape[-1]
    corr = np.zeros_like(c)
    for j, kv in enumerate(ker):
        off = j - half
        lo, hi = max(0, -off), min(nb, nb - off)
        corr[..., lo:hi] += kv * c[..., lo + off:hi + off]
    peak = np.argmax(corr, axis=-1)[..., None]
    idx = np.arange(nb)
    win = (idx >= peak - half) & (idx <= peak + half)
    bgm = (idx < peak - half - 1) | (idx > peak + half + 1)
    return idx, win, bgm


# --------------------------------------------------------------------------------------
# analytic model (pure NumPy)
# --------------------------------------------------------------------------------------
def expected_counts_per_cycle(active, ambient, distance_m, spec: DTofSpec, *,
                              pulse_width_s: float, repetition_rate_hz: float,
                              pulse_shape: str = "gaussian") -> np.ndarray:
    """Expected avalanches per TDC bin and laser cycle of one SPAD, eq. (1) (no crosstalk).

    Parameters: ``active``/``ambient`` photons/s on the pixel (arrays broadcast together
    with ``distance_m`` [m]; inf/NaN = no return). Returns λ with shape (..., n_bins)
    [detections per bin per cycle].
    """
    shape, sigma, width, _reach, period = _pulse_params(spec, pulse_width_s,
                                                        repetition_rate_hz, pulse_shape)
    active, ambient, dist = np.broadcast_arrays(np.asarray(active, float),
                                                np.asarray(ambient, float),
                                                np.asarray(distance_m, float))
    bg, sig, tau = _per_spad_inputs(active, ambient, dist, spec, period, repetition_rate_hz)
    edges = np.arange(spec.n_bins + 1) * spec.bin_s
    cdf = _pulse_cdf_np(edges - tau[..., None], shape, sigma, width)
    return bg[..., None] + sig[..., None] * np.diff(cdf, axis=-1)


def first_photon_probabilities(lam) -> np.ndarray:
    """Pile-up: probability that the first detection of a cycle falls in bin i, eq. (2),
    p_i = (1 − e^{−λ_i})·exp(−Σ_{j<i} λ_j), for λ of shape (..., n_bins). The probability
    of no detection in the cycle is 1 − Σ p_i = exp(−Σ λ)."""
    lam = np.asarray(lam, dtype=np.float64)
    before = np.cumsum(lam, axis=-1) - lam
    return -np.expm1(-lam) * np.exp(-before)


def coates_correct(histograms, n_cycles: int, *, dead_time_bins: float = math.inf,
                   with_variance: bool = False):
    """Coates (1968) pile-up correction: λ̂_i = −ln(1 − h_i/(N − Σ_{j<i} h_j)).

    ``histograms`` (..., n_bins) counts of N = ``n_cycles`` cycles (first-photon TCSPC:
    ``dead_time_bins`` = inf). A finite dead time of m bins (multi-event histograms)
    replaces the sum by the dead-time window B_i of :func:`dead_time_weights` (a detection
    blocks the next m bins, the last one partially); for m < 1 several detections fit in
    a bin and λ̂_i = h_i/(N − B_i) (no logarithm); m = 0 returns h/N. Returns λ̂ per bin
    per cycle (and, with ``with_variance``, Var λ̂ = h/(R(R − h)), resp. h/R², by the delta
    method). A bin with h = R (every armed cycle fired) gets λ̂ = ln(2R) (finite cap);
    R = 0 gives 0.
    """
    h = np.asarray(histograms, dtype=np.float64)
    n = float(n_cycles)
    r = n - _blocked(h, dead_time_bins)
    safe_r = np.where(r > 0, r, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if dead_time_bins >= 1.0:
            lam = np.where(h < r, -np.log1p(-h / safe_r), np.log(2.0 * np.maximum(r, 0.5)))
            var = np.where(h < r, h / (safe_r * (safe_r - h)), h / (safe_r * 0.5))
        else:
            lam = h / safe_r
            var = h / (safe_r * safe_r)
    lam = np.where(r > 0, lam, 0.0)
    var = np.where(r > 0, var, 0.0)
    return (lam, var) if with_variance else lam


def analytic_range_error(active, ambient, distance_m, spec: DTofSpec, *,
                         pulse_width_s: float, repetition_rate_hz: float,
                         pulse_shape: str = "gaussian") -> RangeError:
    """Expected bias and temporal σ of the range estimate of one zone (z² identical SPADs),
    see the module docstring ("Analytic range error"). Inputs broadcast (photons/s, m).

    Covers ``first_photon`` (with or without Coates correction) and ``multi_event`` with
    dead time < Δ/2 (Poisson, v_k = N·λ_k) or ≥ the window (identical to first-photon).
    In between (``multi_event``, Coates on) it uses the dead-window analogue
    v_k ≈ N·(e^{λ_k} − 1)·exp(Σ_{k−m ≤ j < k} λ_j), m = round(τ_dead/Δ) — an approximation
    (renewal effects and dead time carried over from the previous cycle are ignored).
    """
    shape, sigma, width, _reach, period = _pulse_params(spec, pulse_width_s,
                                                        repetition_rate_hz, pulse_shape)
    mode = "fp"
    if spec.detection == "multi_event":
        if spec.dead_time_ns == 0:
            mode = "poisson"
        elif spec.dead_time_ns * 1e-9 < spec.window_s:
            mode = "dead_window"
    lam = expected_counts_per_cycle(active, ambient, distance_m, spec,
                                    pulse_width_s=pulse_width_s,
                                    repetition_rate_hz=repetition_rate_hz,
                                    pulse_shape=pulse_shape)
    n = float(spec.pulses_per_frame * spec.zone_size_px ** 2)
    if mode == "poisson":
        c = n * lam
        cov_diag = n * lam
        multinomial = None
    elif spec.coates_correction:
        c = n * lam
        if mode == "dead_window":  # hazard of the dead-time window only (approximation)
            before = _blocked(lam, spec.dead_time_bins)
            per_bin = np.expm1(lam) if spec.dead_time_bins >= 1.0 else lam
        else:
            before = np.cumsum(lam, axis=-1) - lam
            per_bin = np.expm1(lam)
        cov_diag = n * per_bin * np.exp(before)
        multinomial = None
    else:
        p = first_photon_probabilities(lam)
        c = n * p
        cov_diag = None
        multinomial = p
    idx, win, bgm = _peak_window(c, *_matched_kernel(shape, sigma, width, spec.bin_s))
    m = bgm.sum(axis=-1, keepdims=True)
    b = np.where(m > 0, (c * bgm).sum(-1, keepdims=True) / np.maximum(m, 1), 0.0)
    t = (idx + 0.5) * spec.bin_s
    d = (c - b) * win
    s = d.sum(-1, keepdims=True)
    t_hat = (t * d).sum(-1, keepdims=True) / s
    g = np.where(win, (t - t_hat) / s, 0.0)
    g_bg = -((t - t_hat) * win).sum(-1, keepdims=True) / (np.maximum(m, 1) * s)
    g = g + np.where(bgm, g_bg, 0.0)
    if multinomial is None:
        var_t = (g * g * cov_diag).sum(-1)
    else:
        pm = multinomial
        var_t = n * ((g * g * pm).sum(-1) - (g * pm).sum(-1) ** 2)
    dist = np.broadcast_to(np.asarray(distance_m, float), t_hat.shape[:-1])
    tau = np.mod(2.0 * dist / SPEED_OF_LIGHT_M_S, period)
    half_c = SPEED_OF_LIGHT_M_S / 2.0
    return RangeError(bias_m=half_c * (t_hat[..., 0] - tau), sigma_m=half_c * np.sqrt(var_t),
                      signal_counts=s[..., 0], background_counts_per_bin=b[..., 0])


def analytic_depth_sigma_m(active, ambient, distance_m, spec: DTofSpec, *,
                           pulse_width_s: float, repetition_rate_hz: float,
                           pulse_shape: str = "gaussian") -> np.ndarray:
    """Temporal σ of the range [m] from :func:`analytic_range_error`."""
    return analytic_range_error(active, ambient, distance_m, spec, pulse_width_s=pulse_width_s,
                                repetition_rate_hz=repetition_rate_hz,
                                pulse_shape=pulse_shape).sigma_m


# --------------------------------------------------------------------------------------
# NumPy references (the kernels must match them; also the benchmark baseline)
# --------------------------------------------------------------------------------------
def simulate_first_photon_reference(lam, n_cycles: int, rng: np.random.Generator) -> np.ndarray:
    """First-photon histograms by the conditional-binomial chain, one vectorised
    ``rng.binomial`` per bin over all SPADs. ``lam`` (..., n_bins) → int64 counts."""
    lam = np.asarray(lam, dtype=np.float64)
    q = -np.expm1(-lam)
    flat = q.reshape(-1, q.shape[-1])
    out = np.zeros(flat.shape, dtype=np.int64)
    rem = np.full(flat.shape[0], int(n_cycles), dtype=np.int64)
    for i in range(flat.shape[1]):
        k = rng.binomial(rem, flat[:, i])
        out[:, i] = k
        rem -= k
    return out.reshape(lam.shape)


def simulate_multi_event_reference(lam, n_cycles: int, rng: np.random.Generator, *,
                                   bin_s: float, dead_time_s: float,
                                   period_s: float) -> np.ndarray:
    """Multi-event histograms, cycle by cycle and event by event, vectorised over SPADs
    (same model as the kernel; slow: for tests on small arrays). ``lam`` (P, n_bins)."""
    lam = np.atleast_2d(np.asarray(lam, dtype=np.float64))
    p, n = lam.shape
    cum = np.concatenate([np.zeros((p, 1)), np.cumsum(lam, axis=1)], axis=1)
    total = cum[:, -1]
    out = np.zeros((p, n), dtype=np.int64)
    window = n * bin_s
    carry = np.zeros(p)
    rows = np.arange(p)
    for _ in range(int(n_cycles)):
        t = carry.copy()
        active = t < window
        while np.any(active):
            ia = rows[active]
            b = np.minimum((t[ia] / bin_s).astype(np.int64), n - 1)
            target = (cum[ia, b] + lam[ia, b] * (t[ia] / bin_s - b)
                      + rng.standard_exponential(ia.size))
            hit = target < total[ia]
            ih, th = ia[hit], target[hit]
            k = np.array([np.searchsorted(cum[r], v, side="right") - 1 for r, v in zip(ih, th)],
                         dtype=np.int64).reshape(-1)
            frac = (th - cum[ih, k]) / lam[ih, k]
            np.add.at(out, (ih, k), 1)
            t[ih] = (k + frac) * bin_s + dead_time_s
            active[ia[~hit]] = False
            active[ih] = t[ih] < window
        carry = np.where(t > period_s, t - period_s, 0.0)
    return out


def process_histograms_reference(histograms, n_cycles: int, spec: DTofSpec, *,
                                 pulse_width_s: float, repetition_rate_hz: float,
                                 pulse_shape: str = "gaussian"):
    """NumPy version of :func:`process_histograms` (same outputs, same order)."""
    shape, sigma, width, _reach, _period = _pulse_params(spec, pulse_width_s,
                                                         repetition_rate_hz, pulse_shape)
    h = np.asarray(histograms, dtype=np.float64)
    n = float(n_cycles)
    if spec.coates_correction and spec.dead_time_bins > 0:
        lam, var = coates_correct(h, n_cycles, dead_time_bins=spec.dead_time_bins,
                                  with_variance=True)
        c, v = n * lam, n * n * var
    else:
        c, v = h, h
    idx, win, bgm = _peak_window(c, *_matched_kernel(shape, sigma, width, spec.bin_s))
    m = bgm.sum(-1)
    bmean = np.where(m > 0, (c * bgm).sum(-1) / np.maximum(m, 1), 0.0)
    var_b = np.where(m > 0, (v * bgm).sum(-1) / np.maximum(m, 1) ** 2, 0.0)
    d = (c - bmean[..., None]) * win
    s = d.sum(-1)
    t = (idx + 0.5) * spec.bin_s
    w = win.sum(-1)
    vs = (v * win).sum(-1) + w * w * var_b
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(vs > 0, s / np.sqrt(vs), np.where(s > 0, np.inf, 0.0))
        t_hat = np.where((s > 0) & (snr >= spec.peak_snr_threshold), (t * d).sum(-1) / s,
                         np.nan)
    peak_counts = (h * win).sum(-1)
    return t_hat, peak_counts, s, bmean, snr


# --------------------------------------------------------------------------------------
# fast path
# --------------------------------------------------------------------------------------
def process_histograms(histograms, n_cycles: int, spec: DTofSpec, *, pulse_width_s: float,
                       repetition_rate_hz: float, pulse_shape: str = "gaussian"):
    """Pile-up correction, peak detection and centroid per zone (numba, parallel).

    ``histograms`` (H', W', n_bins) integer counts of ``n_cycles`` SPAD-cycles each. Returns
    (t̂ [s] with NaN where invalid, raw peak-window counts, corrected signal counts,
    corrected background per bin, SNR), each (H', W').
    """
    shape, sigma, width, _reach, _period = _pulse_params(spec, pulse_width_s,
                                                         repetition_rate_hz, pulse_shape)
    h = np.asarray(histograms)
    if h.ndim != 3:
        raise ConfigError(f"histograms: shape {h.shape} must be (H, W, n_bins)")
    ker, half = _matched_kernel(shape, sigma, width, spec.bin_s)
    outs = [np.empty(h.shape[:2]) for _ in range(5)]
    h = np.ascontiguousarray(h)

    def run(r0, r1, _b):
        _k.process_block(h, r0, r1, int(n_cycles), *_correction_args(spec), ker, half, 1,
                         spec.bin_s, float(spec.peak_snr_threshold), *outs)

    _run_blocks(run, h.shape[0])
    return tuple(outs)


def _correction_args(spec: DTofSpec):
    """(correct, m_full, lags, weights, log_form) of the kernel's pile-up correction."""
    m = spec.dead_time_bins
    m_full, lags, weights = dead_time_weights(m)
    return (bool(spec.coates_correction) and m > 0, m_full, lags, weights, m >= 1.0)


def _run_blocks(fn, n_rows: int) -> None:
    """Call ``fn(r0, r1, block)`` for a fixed split of the rows into ≤ ``_N_BLOCKS`` blocks,
    on a thread pool of ≤ cpu_count workers (the kernels release the GIL)."""
    n_blocks = max(1, min(_N_BLOCKS, n_rows))
    bounds = np.linspace(0, n_rows, n_blocks + 1).astype(int)
    jobs = [(int(bounds[b]), int(bounds[b + 1]), b) for b in range(n_blocks)]
    workers = max(1, min(n_blocks, os.cpu_count() or 1))
    if workers == 1:
        for job in jobs:
            fn(*job)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda job: fn(*job), jobs))


def _zone_mean_finite(dist, z, hz, wz):
    d = np.asarray(dist, dtype=np.float64)[:hz * z, :wz * z].reshape(hz, z, wz, z)
    fin = np.isfinite(d)
    cnt = fin.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, np.where(fin, d, 0.0).sum(axis=(1, 3)) / cnt, np.nan)


def simulate_dtof(rates, distance_m, spec: DTofSpec, rng: np.random.Generator, *,
                  pulse_width_s: float, repetition_rate_hz: float,
                  pulse_shape: Literal["gaussian", "rectangular"] = "gaussian") -> DTofFrame:
    """Simulate one dToF frame: SPAD histograms per zone, pile-up correction, depth.

    Parameters
    ----------
    rates : object with ``.active`` and ``.ambient`` (H, W) arrays [photons/s arriving on one
        pixel (= SPAD) area, before PDE]; ``active`` is time-averaged over the laser
        cycles (PhotonRates of :mod:`camtwin.depth.radiometry`).
    distance_m : (H, W) radial distance [m]; inf/NaN = no return.
    spec : :class:`DTofSpec`.
    rng : numpy Generator (the only source of randomness; results do not depend on the
        number of threads).
    pulse_width_s : laser pulse width [s] (FWHM for ``gaussian``, full width for
        ``rectangular``); repetition_rate_hz : laser pulse rate [Hz] (the histogram window
        must fit in the period; returns beyond the period alias to τ mod T).

    Returns
    -------
    :class:`DTofFrame` at zone resolution. See the module docstring for the equations.

    Raises
    ------
    ConfigError : pulse width or repetition rate ≤ 0, window longer than the period,
        negative rates or distances, mismatched shapes, zone larger than the array.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> spec = DTofSpec(photon_detection_efficiency=0.2, dead_time_ns=10, tdc_bin_ps=250,
    ...                 n_bins=128, pulses_per_frame=2000, zone_size_px=4)
    >>> rates = SimpleNamespace(active=np.full((32, 32), 2e7), ambient=np.full((32, 32), 5e7))
    >>> frame = simulate_dtof(rates, np.full((32, 32), 2.0), spec, np.random.default_rng(0),
    ...                       pulse_width_s=1e-9, repetition_rate_hz=10e6)
    >>> frame.depth_m.shape, bool(abs(np.nanmean(frame.depth_m) - 2.0) < 0.01)
    ((8, 8), True)
    """
    shape, sigma, width, reach, period = _pulse_params(spec, pulse_width_s, repetition_rate_hz,
                                                       pulse_shape)
    active = np.asarray(rates.active, dtype=np.float64)
    ambient = np.asarray(rates.ambient, dtype=np.float64)
    dist = np.asarray(distance_m, dtype=np.float64)
    if active.ndim != 2 or active.shape != ambient.shape or active.shape != dist.shape:
        raise ConfigError(f"rates.active {active.shape}, rates.ambient {ambient.shape} and "
                          f"distance_m {dist.shape}: must be the same (H, W) shape")
    z = spec.zone_size_px
    hh, ww = active.shape
    if z > hh or z > ww:
        raise ConfigError(f"zone_size_px = {z}: must be ≤ the array size {hh}×{ww}")
    hz, wz = hh // z, ww // z
    bg, sig, tau = _per_spad_inputs(active, ambient, dist, spec, period, repetition_rate_hz)
    hist = np.zeros((hz, wz, spec.n_bins), dtype=np.int32)
    children = rng.spawn(max(1, min(_N_BLOCKS, hz)))
    xt = float(spec.crosstalk)
    n_cycles = spec.pulses_per_frame * z * z
    ker, half = _matched_kernel(shape, sigma, width, spec.bin_s)
    outs = [np.empty((hz, wz)) for _ in range(5)]
    corr = _correction_args(spec)

    def run(r0, r1, b):
        if spec.detection == "first_photon":
            _k.first_photon_block(children[b], bg, sig, tau, xt, z, r0, r1,
                                  int(spec.pulses_per_frame), spec.bin_s, shape, sigma, width,
                                  reach, hist)
        else:
            _k.multi_event_block(children[b], bg, sig, tau, xt, z, r0, r1,
                                 int(spec.pulses_per_frame), spec.bin_s, shape, sigma, width,
                                 reach, spec.dead_time_ns * 1e-9, period, hist)
        _k.process_block(hist, r0, r1, n_cycles, *corr, ker, half, 1, spec.bin_s,
                         float(spec.peak_snr_threshold), *outs)

    _run_blocks(run, hz)
    t_hat, peak, s, bmean, snr = outs
    valid = np.isfinite(t_hat)
    return DTofFrame(depth_m=SPEED_OF_LIGHT_M_S * t_hat / 2.0, histograms=hist,
                     peak_counts=peak, signal_counts=s, background_counts_per_bin=bmean,
                     snr=snr, valid=valid, distance_true_m=_zone_mean_finite(dist, z, hz, wz),
                     n_cycles=n_cycles, tdc_bin_s=spec.bin_s)
