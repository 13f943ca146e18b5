"""Continuous-wave indirect time-of-flight (CW-iToF) pixel: two-tap lock-in demodulation,
4/8-phase sampling, 1–3 modulation frequencies with phase unwrapping, and the artefacts
that matter for module design (wrapping, motion between phase frames, flying pixels,
two-path multipath, temperature phase drift, square-wave "wiggling").

Model (units: electrons e⁻, seconds, metres, radians)
-----------------------------------------------------
Phase frames are taken in the order (frequency j = 0 … F−1) × (phase step k = 0 … N−1),
frame n = j·N + k, integration ``T = integration_time_s`` starting at
``t_n = n · phase_frame_interval_s`` (motion is sampled at the frame centre t_n + T/2).
The optical return on a pixel is ``s(t) = R̄ (1 + m·cos(2πf t − φ_d))`` photons/s with
``R̄ = rates.active`` (time-averaged), ``m`` the illuminator's modulation depth and
``φ_d = 4π f d / c`` (``d`` radial distance, ``c`` the speed of light). Tap A integrates
with the demodulation reference shifted by ``θ_k = 2πk/N``, tap B with ``θ_k + π``; the
demodulation contrast ``c_d`` scales the correlation amplitude. Mean electrons per tap:

    μ_A,k = e_a·[1 + c_d·m·g(φ_d + δ_j − θ_k)] + α·e_a·[1 + c_d·m·g(φ_2 + δ_j − θ_k)] + e_b + e_D
    μ_B,k = same with −g            (g(x − π) = −g(x) for both waveforms)

    e_a = η·R̄·T/2      active electrons per tap (half of each period goes to each tap)
    e_b = η·R_amb·T/2  ambient electrons per tap (``rates.ambient``, unmodulated)
    e_D = D·T          dark electrons per tap (``dark_current_e_s`` is per tap)
    g(x) = cos x                        waveform "sine"
    g(x) = 1 − 2|x̃|/π, x̃ = x wrapped to [−π, π)   waveform "square" (square light × square
           gate: a triangular correlation, Fourier series (8/π²)Σ_{n odd} cos(nx)/n²)
    δ_j = phase_drift_deg_per_k·(T_c − T_ref)·π/180 · f_j/f_max   (a delay drift: the stated
           phase drift holds at the highest frequency, so every frequency sees the same
           distance offset c·δ/(4π f_max))
    α, φ_2 = 2π f (2d + ℓ)/c: optional second return (multipath) of relative amplitude α
           and extra path length ℓ (phasor sum).

With ``supersample`` = k, the inputs are at k× resolution and μ is summed over each k×k
block before any noise (mixed returns at depth edges → flying pixels); e_D is per pixel.

Noise chain per tap and phase frame: q ~ Poisson(μ) (shot noise of active + ambient +
dark); ambient suppression removes the common-mode charge ``s·min(q_A, q_B)`` from both
taps (``s = ambient_suppression``: the differential and its noise are unchanged, only the
stored charge drops); clip at ``full_well_e``; add read noise N(0, σ_r²); ADC with
``Δ = full_well_e / (2^bits − 1 − b)`` e⁻/DN and a black level ``b = 2^(bits−6)`` DN:
``DN = clip(rint(q/Δ + σ_r z/Δ) + b, 0, 2^bits − 1)``. A pixel is saturated (depth NaN,
confidence 0) when any tap of any frame reached the full well or the top code.

Demodulation (differential readout: the black level and every common offset cancel):

    D_k = Δ·(DN_A,k − DN_B,k),    Z_j = Σ_k D_k e^{iθ_k}
    φ_j = atan2(Im Z_j, Re Z_j) mod 2π,  amplitude a_j = |Z_j| / N  (= c_d·m·e_a, sine)
    intensity I_j = Δ·(Σ_k (DN_A + DN_B)/(2N) − b)    (per-tap offset, stored charge)
    d_j = c φ_j / (4π f_j)   (wrapped into [0, c/(2 f_j)))

Precision (first-order error propagation, derived for these tap definitions):
var(D_k) = μ_A + μ_B + 2σ_r² + 2Δ²/12 = 2B (B = per-tap mean electrons before suppression
+ σ_r² + Δ²/12, the same for every k because μ_A + μ_B does not depend on θ_k). The
noise component of Z perpendicular to its mean has variance Σ_k 2B sin²(θ_k − φ) = N·B, so

    σ_φ = √B / (√N · a),     σ_d = c/(4π f) · √B / (√N · c_d · m · e_a)     (sine)

This is the shot-noise form σ_d ∝ (c/4πf)·√B/A of Lange & Seitz (IEEE J. Quantum Electron.
37(3), 390–397, 2001, range-resolution equation ΔL = (L/√8)·√B/(…·A), L = c/2f, for four
single-tap samples, with A and B the sampled amplitude and offset in their own units) and
of Hansard et al. ("Time-of-Flight Cameras", Springer 2012, ch. 1) and Li (TI SLOA190B,
2014); the constants above are derived for THIS model's taps: A → c_d·m·e_a (correlation
amplitude per tap per phase frame), B → per-tap total electrons per phase frame plus the
read and quantisation variance, √N for N phase frames. (The exact typography of the
published equations was not re-checked here; the simulation tests validate the form
above directly.) :func:`analytic_depth_sigma_m` evaluates it with ``a`` and ``B`` taken
from the exact mean tap charges (so multipath and the square-wave amplitude ripple are
included).

Unwrapping (F ≥ 2): unambiguous range ``R = c / (2·gcd(f_1 … f_F))`` (gcd on whole Hz).
For the lowest frequency r every wrap count n_r = 0 … f_r/gcd − 1 is a candidate
``d_r = d_r0 + n_r·L_r`` (L_j = c/(2f_j)); each other frequency takes its nearest
``n_j = round((d_r − d_j0)/L_j)``; the candidate with the smallest weighted spread
Σ w_j (d_j − d̄)² wins (for F = 2 this is the Chinese-remainder search over (n_1, n_2):
for each n_1 the best n_2 is the nearest one). The distance is the weighted mean
``d̄ = Σ w_j d_j / Σ w_j`` with ``w_j = f_j²`` — the inverse-variance weights of this
model, whose per-frequency σ_d ∝ 1/f_j at equal amplitude and offset — so
``σ_d̄² = Σ w_j² σ_j² / (Σ w_j)²``, which :func:`analytic_depth_sigma_m` returns.

Confidence: the sensor's own estimate of the phase SNR 1/σ_φ, ``a_j·√N / √(I_j + σ_r² +
Δ²/12)``, the smallest over frequencies (0 where saturated). With ambient suppression the
sensor does not see the removed charge, so this estimate is optimistic by √(B/B_stored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Literal

import numpy as np
from pydantic import Field, model_validator

from .._spec import FrozenSpec
from ..errors import ConfigError
from ..units import SPEED_OF_LIGHT_M_S

__all__ = ["ITofSpec", "ITofFrame", "simulate_itof", "simulate_itof_reference",
           "analytic_depth_sigma_m", "itof_tap_means_e", "unambiguous_range_m",
           "unwrap_distances", "MAX_UNWRAP_CANDIDATES"]

#: Most wrap-count candidates the unwrapping may search per pixel (f_min / gcd(f)).
MAX_UNWRAP_CANDIDATES = 1024

_C = SPEED_OF_LIGHT_M_S


def _common_divisor_hz(freqs_mhz) -> int:
    g = 0
    for f in freqs_mhz:
        g = math.gcd(g, int(round(f * 1e6)))
    return g


class ITofSpec(FrozenSpec):
    """Pixel and timing of a two-tap CW-iToF sensor (field names fixed in DEPTH_API.md).

    Fields
    ------
    modulation_frequencies_mhz : 1–3 distinct values in (0, 500] MHz; several need a common
        divisor with min(f)/gcd ≤ ``MAX_UNWRAP_CANDIDATES``.
    phases : 4 | 8 phase steps θ_k = 2πk/N per frequency.
    demodulation_contrast : c_d in (0, 1] (scales the correlation amplitude).
    quantum_efficiency : η in (0, 1] at the illuminator wavelength.
    full_well_e : (0, 1e7] e⁻ per tap.  read_noise_e : [0, 1e4] e⁻ per tap read.
    dark_current_e_s : [0, 1e7] e⁻/s per tap.
    integration_time_s : (0, 1] s per phase frame.
    phase_frame_interval_s : start-to-start of phase frames, ≥ integration_time_s
        (None = back to back).
    ambient_suppression : [0, 1) fraction of the common-mode charge removed in the pixel.
    adc_bits : 8–16 (black level 2^(bits−6) DN).
    phase_drift_deg_per_k : [−10, 10] deg/K at the highest frequency;
        reference_temperature_c, temperature_c : [−60, 150] °C.
    waveform : "sine" | "square" (square light and gate: triangular correlation).
    """

    modulation_frequencies_mhz: list[Annotated[float, Field(gt=0, le=500)]] = Field(
        min_length=1, max_length=3)
    phases: Literal[4, 8] = 4
    demodulation_contrast: float = Field(gt=0, le=1)
    quantum_efficiency: float = Field(gt=0, le=1)
    full_well_e: float = Field(gt=0, le=1e7, description="per tap")
    read_noise_e: float = Field(ge=0, le=1e4, description="per tap read")
    dark_current_e_s: float = Field(0.0, ge=0, le=1e7, description="per tap")
    integration_time_s: float = Field(gt=0, le=1.0, description="per phase frame")
    phase_frame_interval_s: float | None = Field(
        None, gt=0, le=10.0, description="start to start; None = integration_time_s")
    ambient_suppression: float = Field(0.0, ge=0, lt=1)
    adc_bits: int = Field(12, ge=8, le=16)
    phase_drift_deg_per_k: float = Field(0.0, ge=-10, le=10)
    reference_temperature_c: float = Field(25.0, ge=-60, le=150)
    temperature_c: float = Field(25.0, ge=-60, le=150)
    waveform: Literal["sine", "square"] = "sine"

    @model_validator(mode="after")
    def _consistent(self):
        f = self.modulation_frequencies_mhz
        if len(set(f)) != len(f):
            raise ValueError(f"modulation_frequencies_mhz = {f}: frequencies must differ")
        if self.phase_frame_interval_s is not None and \
                self.phase_frame_interval_s < self.integration_time_s:
            raise ValueError(f"phase_frame_interval_s = {self.phase_frame_interval_s}: must be "
                             f">= integration_time_s ({self.integration_time_s})")
        if len(f) > 1:
            g = _common_divisor_hz(f)
            n = int(round(min(f) * 1e6)) // max(g, 1)
            if g == 0 or n > MAX_UNWRAP_CANDIDATES:
                raise ValueError(
                    f"modulation_frequencies_mhz = {f}: common divisor {g / 1e6:g} MHz needs "
                    f"{n} unwrapping candidates; valid: at most {MAX_UNWRAP_CANDIDATES} "
                    f"(min frequency / gcd)")
        return self

    # ---- derived ----------------------------------------------------------------------
    @property
    def frequencies_hz(self) -> np.ndarray:
        return np.array([f * 1e6 for f in self.modulation_frequencies_mhz])

    @property
    def frame_interval_s(self) -> float:
        return self.phase_frame_interval_s or self.integration_time_s

    @property
    def n_frames(self) -> int:
        """Phase frames per depth frame (frequencies × phases)."""
        return len(self.modulation_frequencies_mhz) * self.phases

    @property
    def black_level_dn(self) -> int:
        return 2 ** (self.adc_bits - 6)

    @property
    def max_code_dn(self) -> int:
        return 2 ** self.adc_bits - 1

    @property
    def electrons_per_dn(self) -> float:
        """ADC step Δ [e⁻/DN]: the full well maps to the top code above the black level."""
        return self.full_well_e / (self.max_code_dn - self.black_level_dn)

    def drift_rad(self) -> np.ndarray:
        """Phase offset δ_j of each frequency [rad] (see the module docstring)."""
        f = self.frequencies_hz
        d = math.radians(self.phase_drift_deg_per_k * (self.temperature_c
                                                      - self.reference_temperature_c))
        return d * f / f.max()

    def unwrap_weights(self) -> np.ndarray:
        """w_j = f_j², normalised to sum 1."""
        w = self.frequencies_hz ** 2
        return w / w.sum()


def unambiguous_range_m(spec: ITofSpec) -> float:
    """Unambiguous range [m]: c/(2f) for one frequency, c/(2·gcd(f_j)) for several."""
    f = spec.modulation_frequencies_mhz
    g = float(round(f[0] * 1e6)) if len(f) == 1 else float(_common_divisor_hz(f))
    return _C / (2.0 * g)


@dataclass(frozen=True)
class ITofFrame:
    """One iToF depth frame.

    depth_m      (H, W) float32  radial distance [m]; NaN where saturated or below
                 ``min_confidence``
    amplitude_e  (H, W) float32  correlation amplitude a per tap [e⁻], mean over frequencies
    intensity_e  (H, W) float32  per-tap offset (stored charge) [e⁻], mean over frequencies
    confidence   (H, W) float32  estimated phase SNR 1/σ_φ (smallest over frequencies); 0 where
                 saturated
    taps         (F·N, 2, H, W) uint16 raw DN of taps A and B per phase frame, or None
    phase_rad    (F, H, W) float32 wrapped phase per frequency in [0, 2π)
    amplitude_per_frequency_e (F, H, W) float32
    saturated    (H, W) bool
    unambiguous_range_m, electrons_per_dn, black_level_dn: scalars
    """

    depth_m: np.ndarray
    amplitude_e: np.ndarray
    intensity_e: np.ndarray
    confidence: np.ndarray
    taps: np.ndarray | None
    phase_rad: np.ndarray
    amplitude_per_frequency_e: np.ndarray
    saturated: np.ndarray
    unambiguous_range_m: float
    electrons_per_dn: float
    black_level_dn: int


# --------------------------------------------------------------------------------------
# input preparation (shared by the NumPy reference and the numba kernel)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Inputs:
    ea: np.ndarray          # (n_r, Hs, Ws) float32 active e⁻ per tap per frame (first return)
    eb: np.ndarray          # (n_r, Hs, Ws) float32 ambient e⁻ per tap per frame
    dist: np.ndarray        # (n_d, Hs, Ws) float64 radial distance [m] (inf → no return)
    mp_extra: np.ndarray    # (Hs, Ws) float64 extra path [m] or (0, 0)
    mp_amp: np.ndarray      # (Hs, Ws) float32 relative amplitude or (0, 0)
    k: int


def _stack(a, name: str, n_frames: int, shape=None) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0 and shape is not None:
        a = np.full(shape, float(a))
    if a.ndim == 2:
        return a[None]
    if a.ndim == 3 and a.shape[0] in (1, n_frames):
        return a
    raise ConfigError(f"{name}: shape {a.shape}; valid: (H, W) or ({n_frames}, H, W) "
                      f"(one per phase frame)")


def _prepare(rates, distance_m, spec: ITofSpec, supersample: int, second_path_m,
             second_path_amplitude, modulation_depth: float) -> _Inputs:
    if not (isinstance(supersample, (int, np.integer)) and 1 <= supersample <= 16):
        raise ConfigError(f"supersample = {supersample!r}: valid: an integer 1 … 16")
    if not (0 < modulation_depth <= 1):
        raise ConfigError(f"modulation_depth = {modulation_depth!r}: valid range (0, 1]")
    nf = spec.n_frames
    active = _stack(rates.active, "rates.active", nf)
    shape = active.shape[1:]
    ambient = _stack(rates.ambient, "rates.ambient", nf, shape)
    if callable(distance_m):
        t = np.arange(nf) * spec.frame_interval_s + spec.integration_time_s / 2
        dist = np.stack([np.broadcast_to(np.asarray(distance_m(float(ti)), dtype=np.float64),
                                         shape) for ti in t])
    else:
        dist = _stack(distance_m, "distance_m", nf, shape)
    for name, a in (("rates.ambient", ambient), ("distance_m", dist)):
        if a.shape[1:] != shape:
            raise ConfigError(f"{name}: shape {a.shape[1:]} differs from rates.active "
                              f"{shape}")
    k = int(supersample)
    if shape[0] % k or shape[1] % k:
        raise ConfigError(f"supersample = {k}: input shape {shape} is not a multiple of it")
    if np.any(active < 0) or np.any(ambient < 0) or not np.all(np.isfinite(active)) \
            or not np.all(np.isfinite(ambient)):
        raise ConfigError("rates: photon rates must be finite and >= 0")
    if np.any(dist <= 0):
        raise ConfigError("distance_m: distances must be > 0 (inf = no return)")
    scale = spec.quantum_efficiency * spec.integration_time_s / 2
    ea = (active * scale).astype(np.float32)
    eb = (ambient * scale).astype(np.float32)
    if second_path_amplitude is None:
        mp_extra = np.zeros((0, 0))
        mp_amp = np.zeros((0, 0), dtype=np.float32)
    else:
        if second_path_m is None:
            raise ConfigError("second_path_m: required with second_path_amplitude")
        mp_extra = np.broadcast_to(np.asarray(second_path_m, dtype=np.float64), shape).copy()
        mp_amp = np.broadcast_to(np.asarray(second_path_amplitude, dtype=np.float32),
                                 shape).copy()
        if np.any(mp_amp < 0) or np.any(mp_extra < 0):
            raise ConfigError("second_path_m, second_path_amplitude: must be >= 0")
    # modulation depth folds into the contrast: carried by the caller via cdm
    return _Inputs(ea, eb, dist, mp_extra, mp_amp, k)


def _g(x: np.ndarray, square: bool) -> np.ndarray:
    if not square:
        return np.cos(x)
    w = x - 2 * np.pi * np.floor((x + np.pi) / (2 * np.pi))
    return 1.0 - 2.0 * np.abs(w) / np.pi


def _block_sum(a: np.ndarray, k: int) -> np.ndarray:
    if k == 1:
        return a
    h, w = a.shape[-2] // k, a.shape[-1] // k
    return a.reshape(a.shape[:-2] + (h, k, w, k)).sum(axis=(-3, -1))


def _frame_means(inp: _Inputs, spec: ITofSpec, n: int, cdm: float):
    """Mean tap charges (μ_A, μ_B) of phase frame n [e⁻], (H, W) float64, before noise."""
    N = spec.phases
    j, kk = divmod(n, N)
    f = spec.frequencies_hz[j]
    theta = 2 * np.pi * kk / N
    delta = spec.drift_rad()[j]
    square = spec.waveform == "square"
    ea = inp.ea[n if inp.ea.shape[0] > 1 else 0].astype(np.float64)
    eb = inp.eb[n if inp.eb.shape[0] > 1 else 0].astype(np.float64)
    d = inp.dist[n if inp.dist.shape[0] > 1 else 0]
    ret = np.isfinite(d)
    ea = np.where(ret, ea, 0.0)
    dd = np.where(ret, d, 1.0)
    corr = ea * _g(4 * np.pi * f * dd / _C + delta - theta, square)
    dc = ea.copy()
    if inp.mp_amp.size:
        a2 = ea * inp.mp_amp
        corr = corr + a2 * _g(2 * np.pi * f * (2 * dd + inp.mp_extra) / _C + delta - theta,
                              square)
        dc = dc + a2
    dc = _block_sum(dc + eb, inp.k) + spec.dark_current_e_s * spec.integration_time_s
    corr = _block_sum(corr, inp.k) * cdm
    return dc + corr, dc - corr


def itof_tap_means_e(rates, distance_m, spec: ITofSpec, *, supersample: int = 1,
                     second_path_m=None, second_path_amplitude=None,
                     modulation_depth: float = 1.0) -> np.ndarray:
    """Mean electrons per tap before noise, (F·N, 2, H, W) float64 [e⁻] (frame n = j·N + k;
    index 0 = tap A, 1 = tap B). Inputs as :func:`simulate_itof`."""
    inp = _prepare(rates, distance_m, spec, supersample, second_path_m,
                   second_path_amplitude, modulation_depth)
    cdm = spec.demodulation_contrast * modulation_depth
    return np.stack([np.stack(_frame_means(inp, spec, n, cdm)) for n in range(spec.n_frames)])


# --------------------------------------------------------------------------------------
# demodulation and unwrapping (NumPy; the kernel repeats them per pixel)
# --------------------------------------------------------------------------------------
def unwrap_distances(d0: np.ndarray, spec: ITofSpec) -> np.ndarray:
    """Combine wrapped per-frequency distances ``d0`` (F, H, W) [m], each in [0, c/(2f_j)),
    into one distance (H, W) [m] by the candidate search of the module docstring."""
    f = spec.frequencies_hz
    if len(f) == 1:
        return d0[0]
    L = _C / (2 * f)
    w = spec.unwrap_weights()
    r = int(np.argmin(f))
    n_cand = int(round(f[r])) // _common_divisor_hz(spec.modulation_frequencies_mhz)
    best = np.full(d0.shape[1:], np.inf)
    out = np.zeros(d0.shape[1:])
    for n in range(n_cand):
        dr = d0[r] + n * L[r]
        dj = np.stack([dr if j == r else d0[j] + np.rint((dr - d0[j]) / L[j]) * L[j]
                       for j in range(len(f))])
        mean = np.tensordot(w, dj, axes=1)
        cost = np.tensordot(w, (dj - mean) ** 2, axes=1)
        better = cost < best
        best = np.where(better, cost, best)
        out = np.where(better, mean, out)
    return out


#: Per-pixel probability of a wrong unwrap that :func:`unwrap_confidence_threshold` allows.
UNWRAP_ERROR_PROBABILITY = 1e-3


def unwrap_confidence_threshold(spec: ITofSpec,
                                p_error: float = UNWRAP_ERROR_PROBABILITY) -> float:
    """Smallest confidence (phase SNR 1/σ_φ, :class:`ITofFrame`) at which the frequencies
    unwrap wrongly with probability ≤ ``p_error`` per pixel; 0 for one frequency.

    Two frequencies f₁ = n₁g, f₂ = n₂g (g their greatest common divisor): the noiseless
    phase pair (φ₁, φ₂) = 2πt(f₁, f₂) traces a line that winds n₁ and n₂ times around the
    (2π)² phase torus before it closes at the unambiguous range c/(2g); its neighbouring
    windings — the wrong unwraps — lie 2π/√(n₁² + n₂²) away, so the decision boundary is
    m = π/√(n₁² + n₂²) from the true point. Independent phase noises of σ_j ≤ σ_φ give a
    perpendicular noise ≤ σ_φ, and an error needs it beyond ±m:
    P ≈ 2·Q(m/σ_φ) ≤ p  ⇔  1/σ_φ ≥ z/m,  z = Q⁻¹(p/2) (3.29 for p = 10⁻³).
    More frequencies: the smallest of the pairwise thresholds (any pair that alone unwraps
    correctly pins the candidate). Depth cameras flag such pixels invalid (low
    confidence / amplitude) rather than report a distance a whole period wrong.
    """
    from scipy.stats import norm

    if not 0 < p_error < 1:
        raise ConfigError(f"p_error = {p_error}: valid range is 0 < p < 1")
    f = [int(round(x * 1e6)) for x in spec.modulation_frequencies_mhz]
    if len(f) < 2:
        return 0.0
    z = float(norm.isf(p_error / 2))
    best = math.inf
    for i in range(len(f)):
        for j in range(i + 1, len(f)):
            g = math.gcd(f[i], f[j])
            n1, n2 = f[i] // g, f[j] // g
            best = min(best, z * math.hypot(n1, n2) / math.pi)
    return best


def _noise_var_floor(spec: ITofSpec) -> float:
    q = spec.electrons_per_dn
    return spec.read_noise_e ** 2 + q * q / 12.0


def simulate_itof_reference(rates, distance_m, spec: ITofSpec, rng: np.random.Generator, *,
                            supersample: int = 1, second_path_m=None,
                            second_path_amplitude=None, modulation_depth: float = 1.0,
                            noise: bool = True, min_confidence: float = 0.0,
                            keep_taps: bool = True) -> ITofFrame:
    """Straightforward per-phase-frame NumPy implementation of the model (the reference the
    numba kernel must match; also the benchmark's peer). Same arguments as
    :func:`simulate_itof`; draws with ``rng.poisson`` / ``rng.standard_normal``."""
    inp = _prepare(rates, distance_m, spec, supersample, second_path_m,
                   second_path_amplitude, modulation_depth)
    cdm = spec.demodulation_contrast * modulation_depth
    N, F = spec.phases, len(spec.modulation_frequencies_mhz)
    q_e = spec.electrons_per_dn
    black, top = spec.black_level_dn, spec.max_code_dn
    fw = spec.full_well_e
    H, W = inp.ea.shape[1] // inp.k, inp.ea.shape[2] // inp.k
    taps = np.empty((spec.n_frames, 2, H, W), dtype=np.uint16)
    re = np.zeros((F, H, W))
    im = np.zeros((F, H, W))
    tot = np.zeros((F, H, W))
    sat = np.zeros((H, W), dtype=bool)
    for n in range(spec.n_frames):
        j, kk = divmod(n, N)
        mu_a, mu_b = _frame_means(inp, spec, n, cdm)
        if noise:
            qa = rng.poisson(mu_a).astype(np.float64)
            qb = rng.poisson(mu_b).astype(np.float64)
        else:
            qa, qb = mu_a, mu_b
        cm = spec.ambient_suppression * np.minimum(qa, qb)
        qa, qb = qa - cm, qb - cm
        sat |= (qa >= fw) | (qb >= fw)
        qa, qb = np.minimum(qa, fw), np.minimum(qb, fw)
        if noise and spec.read_noise_e > 0:
            qa = qa + spec.read_noise_e * rng.standard_normal(qa.shape)
            qb = qb + spec.read_noise_e * rng.standard_normal(qb.shape)
        dna = np.clip(np.rint(qa / q_e) + black, 0, top)
        dnb = np.clip(np.rint(qb / q_e) + black, 0, top)
        sat |= (dna >= top) | (dnb >= top)
        taps[n, 0], taps[n, 1] = dna, dnb
        diff = (dna - dnb) * q_e
        theta = 2 * np.pi * kk / N
        re[j] += diff * math.cos(theta)
        im[j] += diff * math.sin(theta)
        tot[j] += dna + dnb
    return _finish(re, im, tot, sat, taps if keep_taps else None, spec, min_confidence)


def _finish(re, im, tot, sat, taps, spec: ITofSpec, min_confidence: float) -> ITofFrame:
    N = spec.phases
    q_e = spec.electrons_per_dn
    phase = np.mod(np.arctan2(im, re), 2 * np.pi)
    amp = np.hypot(re, im) / N
    inten = (tot / (2 * N) - spec.black_level_dn) * q_e
    L = _C / (2 * spec.frequencies_hz)
    d0 = phase / (2 * np.pi) * L[:, None, None]
    depth = unwrap_distances(d0, spec)
    conf = np.min(amp * math.sqrt(N) / np.sqrt(np.maximum(inten, 0) + _noise_var_floor(spec)),
                  axis=0)
    conf = np.where(sat, 0.0, conf)
    depth = np.where(sat | (conf < min_confidence), np.nan, depth)
    return ITofFrame(depth_m=depth.astype(np.float32), amplitude_e=amp.mean(0).astype(np.float32),
                     intensity_e=inten.mean(0).astype(np.float32),
                     confidence=conf.astype(np.float32), taps=taps,
                     phase_rad=phase.astype(np.float32),
                     amplitude_per_frequency_e=amp.astype(np.float32), saturated=sat,
                     unambiguous_range_m=unambiguous_range_m(spec),
                     electrons_per_dn=q_e, black_level_dn=spec.black_level_dn)


def simulate_itof(rates: Any, distance_m: np.ndarray | Callable[[float], np.ndarray],
                  spec: ITofSpec, rng: np.random.Generator, *, supersample: int = 1,
                  second_path_m=None, second_path_amplitude=None,
                  modulation_depth: float = 1.0, noise: bool = True,
                  min_confidence: float = 0.0, keep_taps: bool = True) -> ITofFrame:
    """Simulate one CW-iToF depth frame (all phase frames of all frequencies).

    Parameters
    ----------
    rates : object with ``.active`` and ``.ambient`` arrays [photons/s per pixel, before QE]
        (H, W), or (F·N, H, W) per phase frame; ``.active`` time-averaged (R̄).
    distance_m : (H, W) or (F·N, H, W) radial distance [m] per phase frame, or a callable
        t [s] → (H, W) evaluated at each phase frame's centre (motion). ``inf`` = no return.
    spec : ITofSpec
    rng : numpy Generator; seeds the kernel's counter-based streams (one draw).
    supersample : k; inputs are at k× resolution, tap charges summed over k×k blocks.
    second_path_m, second_path_amplitude : optional second return: extra round-trip path
        length ℓ [m] and amplitude α relative to the first return (scalars or (H, W)).
    modulation_depth : m of the illuminator, (0, 1].
    noise : False → mean charges (no shot/read noise; clipping and ADC still apply).
    min_confidence : depth NaN where the confidence is below this.
    keep_taps : store the raw taps (F·N, 2, H, W) uint16.

    Returns
    -------
    ITofFrame (see its docstring). Equations: module docstring.

    Raises
    ------
    ConfigError on inconsistent shapes, negative rates or distances, bad options.

    Notes
    -----
    Valid ranges: rates ≥ 0 photons/s; distance > 0 m; outputs: depth in
    [≈0, unambiguous_range_m) (slightly outside near the ends by noise), amplitude and
    intensity ≥ 0 e⁻ (intensity can dip below 0 by read noise in the dark), confidence ≥ 0.
    The analytic precision holds where the phase SNR (confidence) ≳ 10; below that the
    atan2 is non-linear and multi-frequency unwrapping starts to pick wrong wrap counts.

    Example
    -------
    >>> from types import SimpleNamespace
    >>> spec = ITofSpec(modulation_frequencies_mhz=[80, 100], demodulation_contrast=0.8,
    ...                 quantum_efficiency=0.35, full_well_e=40000, read_noise_e=6,
    ...                 integration_time_s=250e-6)
    >>> rates = SimpleNamespace(active=np.full((4, 4), 3e7), ambient=np.full((4, 4), 1e7))
    >>> frame = simulate_itof(rates, np.full((4, 4), 2.0), spec, np.random.default_rng(0))
    >>> bool(abs(np.mean(frame.depth_m) - 2.0) < 0.01), round(frame.unambiguous_range_m, 2)
    (True, 7.49)
    """
    from . import _itof_kernels as K

    inp = _prepare(rates, distance_m, spec, supersample, second_path_m,
                   second_path_amplitude, modulation_depth)
    cdm = spec.demodulation_contrast * modulation_depth
    F, N = len(spec.modulation_frequencies_mhz), spec.phases
    k = inp.k
    H, W = inp.ea.shape[1] // k, inp.ea.shape[2] // k
    f = spec.frequencies_hz
    r = int(np.argmin(f))
    n_cand = (int(round(f[r])) // _common_divisor_hz(spec.modulation_frequencies_mhz)
              if F > 1 else 1)
    key = int(rng.integers(0, 2 ** 62))
    seeds = np.array([K.stream_seed(key, s) for s in (0, 1)], dtype=np.uint64)
    depth = np.empty((H, W), np.float32)
    amp = np.empty((F, H, W), np.float32)
    inten = np.empty((F, H, W), np.float32)
    phase = np.empty((F, H, W), np.float32)
    conf = np.empty((H, W), np.float32)
    sat = np.empty((H, W), np.bool_)
    taps = np.empty((spec.n_frames, 2, H, W) if keep_taps else (1, 2, 1, 1), np.uint16)
    K.itof_kernel(inp.ea, inp.eb, inp.dist, inp.mp_extra, inp.mp_amp, k, f,
                  spec.drift_rad(), spec.unwrap_weights(), N, r, n_cand,
                  cdm, spec.waveform == "square",
                  spec.dark_current_e_s * spec.integration_time_s,
                  spec.ambient_suppression, spec.full_well_e, spec.read_noise_e,
                  spec.electrons_per_dn, spec.black_level_dn, spec.max_code_dn,
                  _noise_var_floor(spec), noise, seeds, keep_taps, min_confidence,
                  depth, amp, inten, phase, conf, sat, taps)
    return ITofFrame(depth_m=depth, amplitude_e=amp.mean(0), intensity_e=inten.mean(0),
                     confidence=conf, taps=taps if keep_taps else None, phase_rad=phase,
                     amplitude_per_frequency_e=amp, saturated=sat,
                     unambiguous_range_m=unambiguous_range_m(spec),
                     electrons_per_dn=spec.electrons_per_dn,
                     black_level_dn=spec.black_level_dn)


# --------------------------------------------------------------------------------------
# analytic precision
# --------------------------------------------------------------------------------------
def analytic_depth_sigma_m(rates, distance_m, spec: ITofSpec, *, second_path_m=None,
                           second_path_amplitude=None, modulation_depth: float = 1.0,
                           per_frequency: bool = False) -> np.ndarray:
    """Temporal σ of the depth [m] by first-order error propagation (module docstring):

        σ_j = c/(4π f_j) · √B_j / (√N · a_j),   B_j = μ̄_tap + σ_r² + Δ²/12,
        a_j = |Σ_k (μ_A,k − μ_B,k) e^{iθ_k}| / N   (= c_d·m·e_a for a sine and one return)
        σ = √(Σ w_j² σ_j²) / Σ w_j,   w_j = f_j²   (the unwrapped weighted mean)

    with μ the exact mean tap charges (:func:`itof_tap_means_e`, no supersampling, a
    static scene). ``rates`` and ``distance_m`` may be scalars or arrays of any broadcastable
    shape S; returns S (or (F,) + S with ``per_frequency``). Valid where the phase SNR a√N/√B ≳ 10 and no tap saturates.

    References: Lange & Seitz 2001 (IEEE JQE 37(3) 390), Hansard et al. 2012 §1.4.
    """
    shape = np.broadcast_shapes(np.shape(rates.active), np.shape(rates.ambient),
                                np.shape(distance_m))
    shape2 = shape if len(shape) == 2 else (1, int(np.prod(shape)))
    act = np.broadcast_to(np.asarray(rates.active, dtype=np.float64), shape).reshape(shape2)
    amb = np.broadcast_to(np.asarray(rates.ambient, dtype=np.float64), shape).reshape(shape2)
    dist = np.broadcast_to(np.asarray(distance_m, dtype=np.float64), shape).reshape(shape2)

    class _R:
        active, ambient = act, amb

    mu = itof_tap_means_e(_R, dist, spec, second_path_m=second_path_m,
                          second_path_amplitude=second_path_amplitude,
                          modulation_depth=modulation_depth)
    N, F = spec.phases, len(spec.modulation_frequencies_mhz)
    theta = 2 * np.pi * np.arange(N) / N
    mu = mu.reshape((F, N) + mu.shape[1:])
    diff = mu[:, :, 0] - mu[:, :, 1]
    z = np.tensordot(np.exp(1j * theta), diff, axes=([0], [1]))  # (F, H, W)
    a = np.abs(z) / N  # D_k = 2a·cos(φ − θ_k) → |Z| = N·a
    B = mu.sum(axis=(1, 2)) / (2 * N) + _noise_var_floor(spec)
    f = spec.frequencies_hz[:, None, None]
    sig = _C / (4 * np.pi * f) * np.sqrt(B) / (math.sqrt(N) * a)
    if per_frequency:
        return sig.reshape((F,) + shape)
    w = spec.unwrap_weights()[:, None, None]
    return (np.sqrt(np.sum(w ** 2 * sig ** 2, axis=0)) / np.sum(w, axis=0)).reshape(shape)
