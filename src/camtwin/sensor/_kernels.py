"""Numba kernels of the per-pixel noise chain. Each matches the NumPy reference in
:mod:`camtwin.sensor.pixels` (``simulate_pixels_reference``); ``tests/test_noise.py``
asserts they agree statistically, and that the fused and the split kernels agree exactly.

Random numbers
--------------
Counter-based, so the output depends only on ``(key, pixel index, stream)`` and never on
the number of threads or on how numba schedules the rows:

    seed_s  = splitmix64 finaliser of (key, stream s)        (host, :func:`stream_seed`)
    x(p, s) = mix64(seed_s + p · γ),   γ = 0x9E3779B97F4A7C15,  p = row · W + column

``mix64`` is the SplitMix64 output function (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA; constants of D. Stafford's "Mix13"); the values
x(0, s), x(1, s), … are exactly the SplitMix64 sequence seeded with seed_s, which passes
BigCrush. Streams: 0 — the per-pixel normal pair (shot-noise approximation, read noise)
and the RTN state bit; 1 — the uniform of the exact small-mean Poisson; 2 — temporal row
noise (p = row).

From one 64-bit word x:

* u₁ = (⌊x / 2³³⌋ + ½) · 2⁻³¹ ∈ (0, 1]   (31 bits; smallest 2⁻³² → |z| ≤ 6.66),
* u₂ = ⌊x / 2⁸⌋ mod 2²⁴ · 2⁻²⁴ ∈ [0, 1)   (24 bits),
* RTN bit = bit 32 of x,

and the Box–Muller transform (Box & Muller 1958) gives two independent standard normals
z₁ = r cos 2πu₂, z₂ = r sin 2πu₂, r = √(−2 ln u₁). ln, sin and cos are float32 Cephes
polynomials (S. L. Moshier, Cephes ``logf``/``sinf``/``cosf``, ≤ 2 ulp) written out here so
that LLVM can vectorise the loop (the libm calls cannot be). The normal is truncated at
|z| = 6.66 (tail probability 2.7·10⁻¹¹).

Poisson
-------
* λ < ``POISSON_EXACT_BELOW`` (16 e⁻): exact, by inversion of the CDF in float64 with a
  53-bit uniform (stream 1): k = min{k : u < F(k; λ)}, counted branch-free over the first
  56 terms (P(N > 56) < 10⁻¹⁴) (:func:`poisson_inversion`); the chains draw a row's span
  of such pixels at once, 32 columns side by side (vectorised) with an early exit once
  every count is final — the same counts, bit for bit (:func:`exact_span`).
* λ ≥ 16 e⁻: the fourth-order Cornish–Fisher expansion of the Poisson quantile with
  Sheppard's continuity corrections, rounded to the nearest integer (see
  :func:`poisson_cornish_fisher`). Exact total-variation distance to Poisson(λ), computed
  by quadrature: 3.2·10⁻⁵ at λ = 16, 8·10⁻⁶ at 30, 3·10⁻⁶ at 100; mean, variance and third
  cumulant agree to |Δκ₂|/λ ≤ 6·10⁻⁵ and |Δκ₃|/λ ≤ 10⁻⁴ (``tests/test_noise.py`` checks the
  variance and third cumulant by simulation).

Floating point: float32 everywhere on the per-pixel path (every electron count up to
2²⁴ e⁻ is exact in float32, and the noise terms need ~10⁻⁶ relative precision), float64
inside the exact Poisson inversion. No ``fastmath``: the vectorised and the scalar
remainder loops then give bit-identical results, which the determinism test relies on.
``error_model="numpy"`` drops the ZeroDivisionError check of ``/`` (a branch that stops
LLVM from vectorising); no kernel divides by a value that can be 0.

Loop structure: rows (or lists, boxes) shared among threads by
:func:`camtwin._jit.on_row_threads` (nogil row kernels, not ``prange``: a first use compiles
them without numba's parallel passes; the benchmarks' probe :func:`fill_normal` aside), a
plain inner loop over columns that LLVM vectorises (AVX-512/AVX2 as the host offers).
Measured on the 2-core benchmark machines: 125–240 Mpixel/s per core for the whole fused
chain at means ≥ 16 e⁻, and on an AVX2 one 35–38 Mpixel/s per core where every mean is
below 16 e⁻ (the exact draws, 3.3–3.6× the time of the bright frame in the same run); see
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba import prange, types
from numba.extending import overload

from .._jit import NO_ALIAS, on_row_threads
from ._intrinsics import _bits_f32, _bits_f64, _f32_bits, _popcount, _prefetch

# --------------------------------------------------------------------------------------
# constants (module globals are frozen into the kernels with their numpy dtype)
# --------------------------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_U30, _U27, _U31 = np.uint64(30), np.uint64(27), np.uint64(31)
_U33, _U32, _U8, _U11 = np.uint64(33), np.uint64(32), np.uint64(8), np.uint64(11)
_U1 = np.uint64(1)
_MASK24 = np.uint64(0xFFFFFF)

_F0, _F1, _F2, _HALF = np.float32(0.0), np.float32(1.0), np.float32(2.0), np.float32(0.5)
_TWO_M31 = np.float32(2.0 ** -31)
_TWO_M24 = np.float32(2.0 ** -24)
_TWO_M53 = 2.0 ** -53
_PI_2 = np.float32(math.pi / 2)
_SQRTHF = np.float32(0.707106781186547524)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_LOG_P = tuple(np.float32(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1,
                                       -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1,
                                       2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1))
_L0, _L1, _L2, _L3, _L4, _L5, _L6, _L7, _L8 = _LOG_P
_S1, _S2, _S3 = (np.float32(-1.9515295891e-4), np.float32(8.3321608736e-3),
                 np.float32(-1.6666654611e-1))
_C1, _C2, _C3 = (np.float32(2.443315711809948e-5), np.float32(-1.388731625493765e-3),
                 np.float32(4.166664568298827e-2))
_M2F = np.float32(-2.0)

#: Means below this [e⁻] get an exact Poisson draw (inversion); at and above it the
#: Cornish–Fisher approximation. See the module docstring for its accuracy.
POISSON_EXACT_BELOW = 16.0
_T_EXACT = np.float32(POISSON_EXACT_BELOW)
_INV_12 = np.float32(1.0 / 12.0)
_INV_120 = np.float32(1.0 / 120.0)
_CF = tuple(np.float32(c) for c in (1 / 6, 3 / 120, 2 / 24, 17 / 324, 3 / 24, 5 / 36,
                                    6 / 120, 5 / 24, 53 / 324, 1 / 24, 2 / 36, 1 / 120,
                                    12 / 324))
(_C_1_6, _C_3_120, _C_2_24, _C_17_324, _C_3_24, _C_5_36, _C_6_120, _C_5_24, _C_53_324,
 _C_1_24, _C_2_36, _C_1_120, _C_12_324) = _CF
_INVERSION_BLOCKS = 7                      # 7 × 8 = 56 terms of the Poisson CDF
_INV_K = np.array([0.0] + [1.0 / k for k in range(1, 8 * _INVERSION_BLOCKS + 1)])
_LOG2E = 1.4426950408889634
_LN2_HI64, _LN2_LO64 = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_EXP_T = np.array([1.0 / math.factorial(k) for k in range(14)])


# --------------------------------------------------------------------------------------
# host-side seeding (plain Python integers)
# --------------------------------------------------------------------------------------
_MASK64 = (1 << 64) - 1


def _mix64_py(z: int) -> int:
    z &= _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


#: Stream numbers (see the module docstring).
STREAM_PIXEL, STREAM_EXACT_POISSON, STREAM_ROW = 0, 1, 2


def stream_seed(key: int, stream: int) -> np.uint64:
    """The 64-bit SplitMix64 seed of random stream ``stream`` of frame ``key``.

    ``seed = mix64(mix64(key + γ) + (stream + 1) · γ)`` — distinct keys or streams give
    unrelated sequences (an overlap of two sequences needs their seeds to differ by a
    multiple of γ below the pixel count: probability ~ 2⁻³⁷ per pair).
    """
    if not (isinstance(key, (int, np.integer)) and 0 <= int(key) < 2**63):
        raise ValueError(f"key = {key!r}: must be an int with 0 <= key < 2**63")
    s = _mix64_py(int(key) + 0x9E3779B97F4A7C15)
    return np.uint64(_mix64_py(s + (stream + 1) * 0x9E3779B97F4A7C15))


# --------------------------------------------------------------------------------------
# scalar building blocks (inlined into the loops)
# --------------------------------------------------------------------------------------
@nb.njit(inline="always", cache=True, error_model="numpy")
def mix64(z):  # pragma: no cover - jit
    """SplitMix64 output function (a bijection of uint64)."""
    z = (z ^ (z >> _U30)) * _M1
    z = (z ^ (z >> _U27)) * _M2
    return z ^ (z >> _U31)


@nb.njit(inline="always", cache=True, error_model="numpy")
def draw(seed, p):  # pragma: no cover - jit
    """Word ``p`` of the SplitMix64 sequence with seed ``seed`` (both uint64)."""
    return mix64(seed + np.uint64(p) * _GOLDEN)


@nb.njit(inline="always", cache=True, error_model="numpy")
def log_f32(x):  # pragma: no cover - jit
    """Natural log of a positive normal float32 (Cephes ``logf``, ≤ 2 ulp)."""
    b = _f32_bits(x)
    e = np.float32(((b >> 23) & 0xFF) - 126)
    m = _bits_f32(np.int32((b & 0x007FFFFF) | 0x3F000000))  # mantissa in [0.5, 1)
    small = m < _SQRTHF
    e = e - _F1 if small else e
    m = (m + m - _F1) if small else (m - _F1)
    z = m * m
    y = (((((((((_L0 * m + _L1) * m + _L2) * m + _L3) * m + _L4) * m + _L5) * m + _L6) * m
            + _L7) * m + _L8) * m * z)
    y = y + e * _LN2_LO
    y = y - _HALF * z
    return (m + y) + e * _LN2_HI


@nb.njit(inline="always", cache=True, error_model="numpy")
def normal_pair(x):  # pragma: no cover - jit
    """Two independent N(0, 1) float32 values from one uint64 word (Box–Muller)."""
    u1 = (np.float32(np.int32(x >> _U33)) + _HALF) * _TWO_M31
    u2 = np.float32(np.int32((x >> _U8) & _MASK24)) * _TWO_M24
    r = math.sqrt(max(_M2F * log_f32(u1), _F0))
    # angle 2π·u₂ = q·π/2 + a, q ∈ {0..4} (4 ≡ 0), a ∈ [−π/4, π/4): exact in float32
    t = u2 * np.float32(4.0) + _HALF
    qf = np.floor(t)
    a = (t - qf - _HALF) * _PI_2
    q = np.int32(qf)
    a2 = a * a
    s = ((_S1 * a2 + _S2) * a2 + _S3) * a2 * a + a
    c = ((_C1 * a2 + _C2) * a2 + _C3) * a2 * a2 - _HALF * a2 + _F1
    odd = (q & 1) == 1
    cq = -s if odd else c
    sq = c if odd else s
    neg = (q & 2) == 2
    cq = -cq if neg else cq
    sq = -sq if neg else sq
    return r * cq, r * sq


@nb.njit(inline="always", cache=True, error_model="numpy")
def poisson_cornish_fisher(lam, z):  # pragma: no cover - jit
    """Poisson(λ) approximation for λ ≥ 16 from one standard normal ``z`` (float32).

    k = max(0, ⌊λ + σ·w(z) + ½⌋), σ² = λ − 1/12 (Sheppard), and w the Cornish–Fisher
    expansion to third order in λ^(−1/2) with γ₁ = λ/σ³, γ₂ = (λ + 1/120)/σ⁴, γ₃ = λ/σ⁵
    (Poisson cumulants κᵣ = λ, Sheppard-corrected for the rounding)::

        w = z + γ₁He₂/6 + γ₂He₃/24 − γ₁²(2He₃ + He₁)/36
              + γ₃He₄/120 − γ₁γ₂(He₄ + He₂)/24 + γ₁³(12He₄ + 19He₂)/324

    (He — Hermite polynomials; Cornish & Fisher 1937, Fisher & Cornish 1960, Technometrics
    2, 209). Monotone in z on |z| ≤ 6.66 for λ ≥ 12.
    """
    s = math.sqrt(lam - _INV_12)
    inv_s = _F1 / s
    inv_s2 = inv_s * inv_s
    g1 = lam * inv_s2 * inv_s
    g2 = (lam + _INV_120) * inv_s2 * inv_s2
    g3 = g1 * inv_s2
    g11 = g1 * g1
    g12 = g1 * g2
    g111 = g11 * g1
    a0 = -g1 * _C_1_6 + g3 * _C_3_120 - g12 * _C_2_24 + g111 * _C_17_324
    a1 = _F1 - g2 * _C_3_24 + g11 * _C_5_36
    a2 = g1 * _C_1_6 - g3 * _C_6_120 + g12 * _C_5_24 - g111 * _C_53_324
    a3 = g2 * _C_1_24 - g11 * _C_2_36
    a4 = g3 * _C_1_120 - g12 * _C_1_24 + g111 * _C_12_324
    w = a0 + z * (a1 + z * (a2 + z * (a3 + z * a4)))
    return max(np.floor(lam + s * w + _HALF), _F0)


@nb.njit(inline="always", cache=True, error_model="numpy")
def exp_neg_f64(lam):  # pragma: no cover - jit
    """exp(−λ) in float64 for 0 ≤ λ ≤ 700, branch-free (vectorises), relative error
    < 2·10⁻¹⁶: −λ = n·ln2 + r, |r| ≤ ln2/2 (Cody–Waite), exp(r) by its Taylor series to
    r¹³, 2ⁿ by writing the exponent bits."""
    x = -lam
    n = np.floor(x * _LOG2E + 0.5)
    r = (x - n * _LN2_HI64) - n * _LN2_LO64
    y = _EXP_T[13]
    for c in _EXP_T[12::-1]:
        y = y * r + c
    return y * _bits_f64((np.int64(n) + 1023) << 52)


@nb.njit(inline="always", cache=True, error_model="numpy")
def _inversion_block(p, rem, cnt, lam, k0):  # pragma: no cover - jit
    """Eight steps k = k0+1 … k0+8 of the counting inversion (see poisson_inversion)."""
    for k in range(k0 + 1, k0 + 9):
        p = p * (lam * _INV_K[k])
        rem = rem - p
        cnt += 1.0 if rem >= 0.0 else 0.0
    return p, rem, cnt


@nb.njit(inline="always", cache=True, error_model="numpy")
def poisson_inversion(lam, x):  # pragma: no cover - jit
    """Exact Poisson(λ) for λ < 16 by inversion of the CDF, float64, branch-free.

    With u = ⌊x/2¹¹⌋·2⁻⁵³ ∈ [0, 1) the result is k = #{k' ≥ 0 : F(k') ≤ u} =
    min{k : u < F(k)}, F(k) = Σ_{i≤k} e^(−λ) λⁱ/i!, counted over k' = 0 … 56 with no
    data-dependent branch (so the loop vectorises). Draws above 56 come out as 57: for
    λ < 16 that happens with probability < 10⁻¹⁴.
    """
    u = np.float64(x >> _U11) * _TWO_M53
    lam64 = np.float64(lam)
    p = exp_neg_f64(lam64)
    rem = u - p
    cnt = 1.0 if rem >= 0.0 else 0.0
    for b in range(_INVERSION_BLOCKS):
        p, rem, cnt = _inversion_block(p, rem, cnt, lam64, 8 * b)
    return np.float32(cnt)


# ---- exact Poisson over a span of columns: chunks of lanes with an early exit ------------
#: Columns per chunk of the exact inversion (eight AVX2 / four AVX-512 float64 vectors;
#: one thread, 12 MP of means of 5 e⁻, AVX2: 0.20 s at 16, 0.13–0.14 s at 32, 0.15 s at
#: 64, 0.32 s at 8; compilation 2.1–2.9 s whichever).
EXACT_CHUNK = 32


@nb.njit(inline="always", cache=True, error_model="numpy")
def _lanes_alive(st_rem):  # pragma: no cover - jit
    """Whether a lane of the chunk still has u − F(k) ≥ 0 (its count may still grow)."""
    mx = -1.0
    for ll in range(EXACT_CHUNK):
        mx = max(mx, st_rem[ll])
    return mx >= 0.0


@nb.njit(inline="always", cache=True, error_model="numpy")
def _exact_stage(st_p, st_rem, st_cnt, st_lam, k0):  # pragma: no cover - jit
    """Terms k0+1 … k0+8 for every lane (``k0`` a literal: the loop unrolls and
    vectorises over the lanes)."""
    for ll in range(EXACT_CHUNK):
        p, rem, cnt = _inversion_block(st_p[ll], st_rem[ll], st_cnt[ll], st_lam[ll], k0)
        st_p[ll] = p
        st_rem[ll] = rem
        st_cnt[ll] = cnt


@nb.njit(cache=True, error_model="numpy", nogil=True)
def exact_span(lam_b, n_b, seed_exact, base, j0, j1, st_p, st_rem, st_cnt,
               st_lam):  # pragma: no cover - jit
    """n_b[j] ← exact Poisson(lam_b[j]) where lam_b[j] < 16 e⁻, j0 ≤ j < j1.

    The counting inversion of :func:`poisson_inversion` (same
    uniform, same float64 terms, same cap at 57) on ``EXACT_CHUNK`` columns at a time, 8
    terms per step, stopping when every lane's remainder u − F(k) is negative: the remainder only
    decreases, so the later terms cannot change the count and the result is the 56-term
    count's, bit for bit. Lanes with λ ≥ 16 e⁻ (and the padding after j1) run with λ = 0
    and finish at once. Expected cost ≈ the terms up to the largest draw of the chunk
    (≈ λ + 3√λ) instead of 56. Pixel j draws word ``base + j`` of ``seed_exact``'s stream
    (as ``poisson_inversion(λ, draw(seed_exact, base + j))``). ``st_*``: float64 work
    lanes (:data:`EXACT_CHUNK` each).

    Not inlined: one compiled function serves every kernel and every combination of
    maps (inlined into each, the vectorised chunks cost seconds of compilation apiece);
    a call per row. On a 12 MP frame of means of 5 e⁻, one thread: 0.13–0.14 s against
    1.17 s for ``poisson_inversion`` pixel by pixel, whose loop LLVM leaves scalar (its 56
    steps are loops it does not unroll there) — RESULTS.md, "Per-pixel sensor noise
    chain", eighteenth session."""
    for c0 in range(j0, j1, EXACT_CHUNK):
        for ll in range(EXACT_CHUNK):
            j = c0 + ll
            jj = np.uint64(j if j < j1 else j0)
            lam = lam_b[jj]
            lam = lam if (j < j1 and lam < _T_EXACT) else _F0
            u = np.float64(draw(seed_exact, base + j) >> _U11) * _TWO_M53
            lam64 = np.float64(lam)
            p = exp_neg_f64(lam64)
            rem = u - p
            st_p[ll] = p
            st_rem[ll] = rem
            st_cnt[ll] = 1.0 if rem >= 0.0 else 0.0
            st_lam[ll] = lam64
        # (the seven stages written out: each passes its k0 as a literal, which a loop
        # over k0 would not — see _exact_stage)
        if _lanes_alive(st_rem):
            _exact_stage(st_p, st_rem, st_cnt, st_lam, 0)
        if _lanes_alive(st_rem):
            _exact_stage(st_p, st_rem, st_cnt, st_lam, 8)
        if _lanes_alive(st_rem):
            _exact_stage(st_p, st_rem, st_cnt, st_lam, 16)
        if _lanes_alive(st_rem):
            _exact_stage(st_p, st_rem, st_cnt, st_lam, 24)
        if _lanes_alive(st_rem):
            _exact_stage(st_p, st_rem, st_cnt, st_lam, 32)
        if _lanes_alive(st_rem):
            _exact_stage(st_p, st_rem, st_cnt, st_lam, 40)
        if _lanes_alive(st_rem):
            _exact_stage(st_p, st_rem, st_cnt, st_lam, 48)
        for ll in range(min(EXACT_CHUNK, j1 - c0)):
            ju = np.uint64(c0 + ll)
            n_b[ju] = np.float32(st_cnt[ll]) if lam_b[ju] < _T_EXACT else n_b[ju]


# ---- optional maps: None → neutral value, resolved at compile time ----------------------
def _at(m, i, j, default):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_at, inline="always")
def _at_ov(m, i, j, default):
    if isinstance(m, types.NoneType):
        return lambda m, i, j, default: default
    if isinstance(m, types.Float):
        return lambda m, i, j, default: m
    if isinstance(m, types.Array) and m.ndim == 1:
        return lambda m, i, j, default: m[i]
    if isinstance(m, types.Array) and m.ndim == 2:
        return lambda m, i, j, default: m[i, j]
    return None


def _col(m, j):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_col, inline="always")
def _col_ov(m, j):
    if isinstance(m, types.NoneType):
        return lambda m, j: _F0
    return lambda m, j: m[j]


def _rtn(m, i, j, x, half_e):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_rtn, inline="always")
def _rtn_ov(m, i, j, x, half_e):
    if isinstance(m, types.NoneType):
        return lambda m, i, j, x, half_e: _F0
    def impl(m, i, j, x, half_e):
        sign = np.float32((x >> _U32) & _U1) * _F2 - _F1
        return np.float32(m[i, j]) * sign * half_e
    return impl


@nb.njit(inline="always", cache=True, error_model="numpy")
def _row_term(row_off, seed_row, i, row_g, row_noise_e):  # pragma: no cover - jit
    """Row offset of map row ``i`` + row noise of sensor row ``row_g`` [e⁻]."""
    zr, _ = normal_pair(draw(seed_row, row_g))
    return _at(row_off, i, 0, _F0) + row_noise_e * zr


@nb.njit(inline="always", cache=True, error_model="numpy")
def _mean_e(photo, dark, gain, dark_scale, i, j):  # pragma: no cover - jit
    return photo[i, j] * _at(gain, i, j, _F1) + _at(dark, i, j, _F0) * _at(dark_scale, i, j, _F1)


@nb.njit(inline="always", cache=True, error_model="numpy")
def _to_dn(q, add_e, z_read, full_well, inv_fw, nl, read_e, k_dn, black_dn,
           white_dn):  # pragma: no cover - jit
    """Charge q [e⁻] → DN: clip to full well, q(1 − nl(q/FWC)²), + offsets + read noise,
    × K, + black, round half to even, clip to [0, white]."""
    q = min(q, full_well)
    t = q * inv_fw
    v = q * (_F1 - nl * t * t) + add_e + read_e * z_read
    dn = np.rint(v * k_dn + black_dn)
    return np.uint16(min(max(dn, _F0), white_dn))


# --------------------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------------------
@nb.njit(inline="always", cache=True, error_model="numpy")
def _exact_row(photo, dark, gain, dark_scale, i, w, j0, j1, seed_exact,
               base):  # pragma: no cover - jit
    """(λ, exact Poisson draw) of the columns j0 ≤ j < j1 of row i (float32 rows of ``w``;
    the draw only where λ < 16 e⁻, 0 elsewhere): the means, then :func:`exact_span`."""
    lam_b = np.empty(w, np.float32)
    n_b = np.zeros(w, np.float32)
    for j in range(j0, j1):
        lam_b[j] = _mean_e(photo, dark, gain, dark_scale, i, j)
    st = np.empty((4, EXACT_CHUNK), np.float64)
    exact_span(lam_b, n_b, seed_exact, base, j0, j1, st[0], st[1], st[2], st[3])
    return lam_b, n_b


@nb.njit(inline="always", cache=True, error_model="numpy")
def _small_span(photo, dark, gain, dark_scale, i, w):  # pragma: no cover - jit
    """(j0, j1): the columns j0 ≤ j < j1 of row i span every pixel with μ < 16 e⁻."""
    jmin = w
    jmax = -1
    for j in range(w):
        small = _mean_e(photo, dark, gain, dark_scale, i, j) < _T_EXACT
        jmin = min(jmin, j if small else w)
        jmax = max(jmax, j if small else -1)
    return jmin, jmax + 1


@nb.njit(inline="always", cache=True, error_model="numpy")
def _pixel_dn(n, x, i, j, row_e, offset, col_off, rtn, z_read, full_well, inv_fw, nl,
              read_e, rtn_half_e, k_dn, black_dn, white_dn):  # pragma: no cover - jit
    add_e = _at(offset, i, j, _F0) + row_e + _col(col_off, j) + _rtn(rtn, i, j, x, rtn_half_e)
    return _to_dn(n, add_e, z_read, full_well, inv_fw, nl, read_e, k_dn, black_dn, white_dn)


@nb.njit(inline="always", cache=True, error_model="numpy")
def _fused_row(photo, dark, gain, dark_scale, offset, row_off, col_off, rtn, seed_pix,
               seed_exact, seed_row, shot, full_well, inv_fw, nl, read_e, rtn_half_e,
               row_noise_e, k_dn, black_dn, white_dn, row0, i, out, charge, keep,
               bits):  # pragma: no cover - jit
    """Row i of :func:`fused_chain`; with ``keep`` (a constant at each call site) the
    charge before full well also goes to ``charge[i]``, the pixels above full well to the
    bit mask ``bits[i]`` (:func:`over_full_bits`) and the row's number of them is
    returned (else 0)."""
    w = photo.shape[1]
    row_e = _row_term(row_off, seed_row, i, row0 + i, row_noise_e)
    base = (row0 + i) * w
    j0, j1 = _small_span(photo, dark, gain, dark_scale, i, w) if shot else (w, w)
    for j in range(w):
        lam = _mean_e(photo, dark, gain, dark_scale, i, j)
        x = draw(seed_pix, base + j)
        z_shot, z_read = normal_pair(x)
        n = poisson_cornish_fisher(max(lam, _T_EXACT), z_shot) if shot else lam
        if keep:
            charge[i, j] = n
        out[i, j] = _pixel_dn(n, x, i, j, row_e, offset, col_off, rtn, z_read, full_well,
                              inv_fw, nl, read_e, rtn_half_e, k_dn, black_dn, white_dn)
    if j1 > j0:     # exact draws where μ < 16 e⁻ (exact_span), then their DN
        lam_b, n_b = _exact_row(photo, dark, gain, dark_scale, i, w, j0, j1, seed_exact, base)
        orow = out[i]           # (selects stored through row views: a select stored
        crow = charge[i]        # through the 2-D array kept LLVM from vectorising)
        for j in range(j0, j1):
            ju = np.uint64(j)
            small = lam_b[ju] < _T_EXACT
            n = n_b[ju]
            x = draw(seed_pix, base + j)
            _, z_read = normal_pair(x)
            dn = _pixel_dn(n, x, i, ju, row_e, offset, col_off, rtn, z_read, full_well,
                           inv_fw, nl, read_e, rtn_half_e, k_dn, black_dn, white_dn)
            old_dn = orow[ju]
            orow[ju] = dn if small else old_dn
            if keep:
                old_n = crow[ju]
                crow[ju] = n if small else old_n
    c = 0
    if keep:
        c = over_full_bits(charge[i], full_well, bits[i])
    return c


@nb.njit(inline="always", cache=True, error_model="numpy")
def over_full_bits(row, full_well, out):  # pragma: no cover - jit
    """``out[b]`` (uint64) ← bit u set where ``row[64·b + u] > full_well``, for every word of
    the row (the last one padded with zeros): 64 compares packed into one word, a loop LLVM
    vectorises. Returns the number of such pixels (popcount of the words).
    :func:`camtwin.sensor._bloom.bloom` then finds them by their set bits instead of
    reading the frame again."""
    w = row.size
    n_full = w // 64
    c = 0
    for b in range(n_full):
        word = np.uint64(0)
        for u in range(64):
            word |= np.uint64(row[np.uint64(b * 64 + u)] > full_well) << np.uint64(u)
        out[b] = word
        c += np.int64(_popcount(word))
    if n_full < out.size:
        word = np.uint64(0)
        for j in range(n_full * 64, w):
            word |= np.uint64(row[j] > full_well) << np.uint64(j - n_full * 64)
        out[n_full] = word
        c += np.int64(_popcount(word))
    return c


@nb.njit(cache=True, error_model="numpy", nogil=True)
def fused_rows(photo, dark, gain, dark_scale, offset, row_off, col_off, rtn,
               seed_pix, seed_exact, seed_row, shot, full_well, inv_fw, nl, read_e,
               rtn_half_e, row_noise_e, k_dn, black_dn, white_dn, row0, out, i0,
               i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of :func:`fused_chain` (one thread, without the GIL)."""
    for i in range(i0, i1):
        _fused_row(photo, dark, gain, dark_scale, offset, row_off, col_off, rtn, seed_pix,
                   seed_exact, seed_row, shot, full_well, inv_fw, nl, read_e, rtn_half_e,
                   row_noise_e, k_dn, black_dn, white_dn, row0, i, out, out, False, out)


def fused_chain(photo, dark, gain, dark_scale, offset, row_off, col_off, rtn,
                seed_pix, seed_exact, seed_row, shot, full_well, inv_fw, nl, read_e,
                rtn_half_e, row_noise_e, k_dn, black_dn, white_dn, row0, out) -> None:
    """Whole chain in one pass: mean → Poisson → full-well clip → nonlinearity → offsets,
    read noise, RTN, row noise → DN (uint16, written to ``out``).

    photo      float32 (H, W)  mean photo-electrons [e⁻]
    dark       float32 scalar, (H,) or (H, W): mean dark electrons [e⁻]
    gain, dark_scale, offset: float32 (H, W) or None (PRNU×alive, dark map, DSNU [e⁻])
    row_off (H,), col_off (W,) float32 or None [e⁻];  rtn: bool (H, W) or None
    Other scalars float32 in e⁻, DN/e⁻, DN. Per row: a vectorised pass with the
    Cornish–Fisher Poisson for every pixel, then a vectorised exact-inversion pass over the
    span of columns whose mean is below POISSON_EXACT_BELOW (selecting those pixels).
    Unsigned column indices in that pass let LLVM drop numba's negative-index wrap-around
    (which otherwise stops the loop from vectorising).

    ``row0`` (int64) is the sensor row of the arrays' first row: the draws are keyed on the
    sensor's pixel index (row0 + i)·W + j and row row0 + i, so a strip of rows gives the
    same values as the whole frame (:mod:`camtwin.strips`).

    The rows run on numba's threads through :func:`camtwin._jit.on_row_threads`
    (:func:`fused_rows`
    without the GIL), not a ``prange``: the same machine code per row, and a first use
    compiles it without numba's parallel passes (7.6–8.0 s instead of 11.8–12.4 s on this
    machine; RESULTS.md "First run after a fresh install", twentieth session).
    """
    on_row_threads(fused_rows, (photo, dark, gain, dark_scale, offset, row_off, col_off, rtn,
                                seed_pix, seed_exact, seed_row, shot, full_well, inv_fw, nl,
                                read_e, rtn_half_e, row_noise_e, k_dn, black_dn, white_dn,
                                row0, out), photo.shape[0])


@nb.njit(cache=True, error_model="numpy", nogil=True)
def fused_keep_rows(photo, dark, gain, dark_scale, offset, row_off, col_off, rtn,
                    seed_pix, seed_exact, seed_row, shot, full_well, inv_fw, nl, read_e,
                    rtn_half_e, row_noise_e, k_dn, black_dn, white_dn, row0, out, charge,
                    counts, bits, i0, i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of :func:`fused_chain_keep` (one thread, without the GIL)."""
    for i in range(i0, i1):
        counts[i + 1] = _fused_row(photo, dark, gain, dark_scale, offset, row_off, col_off,
                                   rtn, seed_pix, seed_exact, seed_row, shot, full_well,
                                   inv_fw, nl, read_e, rtn_half_e, row_noise_e, k_dn,
                                   black_dn, white_dn, row0, i, out, charge, True, bits)


def fused_chain_keep(photo, dark, gain, dark_scale, offset, row_off, col_off, rtn,
                     seed_pix, seed_exact, seed_row, shot, full_well, inv_fw, nl, read_e,
                     rtn_half_e, row_noise_e, k_dn, black_dn, white_dn, row0, out, charge,
                     counts, bits) -> None:
    """:func:`fused_chain` that also keeps the charge before full well [e⁻] in ``charge``
    (float32 (H, W), as :func:`charge_chain` gives it), the number of pixels of row i
    above ``full_well`` in ``counts[i + 1]`` (int64, H + 1) and where they are in
    ``bits[i]`` (uint64 (H, ⌈W/64⌉), :func:`over_full_bits`). The DN of every pixel that
    blooming leaves alone are then final; only the pixels it changes are read out again
    (:func:`readout_boxes`) — one draw of the per-pixel normal pair for most pixels, not
    two as in :func:`charge_chain` + :func:`readout_chain`. On numba's threads as
    :func:`fused_chain` (:func:`camtwin._jit.on_row_threads`, :func:`fused_keep_rows`)."""
    on_row_threads(fused_keep_rows, (photo, dark, gain, dark_scale, offset, row_off, col_off,
                                     rtn, seed_pix, seed_exact, seed_row, shot, full_well,
                                     inv_fw, nl, read_e, rtn_half_e, row_noise_e, k_dn,
                                     black_dn, white_dn, row0, out, charge, counts, bits),
                   photo.shape[0])


@nb.njit(cache=True, error_model="numpy", nogil=True)
def charge_rows(photo, dark, gain, dark_scale, seed_pix, seed_exact, shot, row0, out, i0,
                i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of :func:`charge_chain` (one thread, without the GIL)."""
    w = photo.shape[1]
    for i in range(i0, i1):
        base = (row0 + i) * w
        j0, j1 = _small_span(photo, dark, gain, dark_scale, i, w) if shot else (w, w)
        for j in range(w):
            lam = _mean_e(photo, dark, gain, dark_scale, i, j)
            z_shot, _ = normal_pair(draw(seed_pix, base + j))
            out[i, j] = poisson_cornish_fisher(max(lam, _T_EXACT), z_shot) if shot else lam
        if j1 > j0:
            lam_b, n_b = _exact_row(photo, dark, gain, dark_scale, i, w, j0, j1, seed_exact,
                                    base)
            orow = out[i]
            for j in range(j0, j1):
                ju = np.uint64(j)
                small = lam_b[ju] < _T_EXACT
                n = n_b[ju]
                old_n = orow[ju]
                orow[ju] = n if small else old_n


def charge_chain(photo, dark, gain, dark_scale, seed_pix, seed_exact, shot, row0,
                 out) -> None:
    """Collected charge before full well [e⁻] (float32): Poisson(photo·gain + dark·scale)
    (or the mean when ``shot`` is False). Same draws as :func:`fused_chain`; rows on
    numba's threads (:func:`camtwin._jit.on_row_threads`, :func:`charge_rows`)."""
    on_row_threads(charge_rows, (photo, dark, gain, dark_scale, seed_pix, seed_exact, shot,
                                 row0, out), photo.shape[0])


@nb.njit(cache=True, error_model="numpy", nogil=True)
def readout_rows(charge, offset, row_off, col_off, rtn, seed_pix, seed_row, full_well,
                 inv_fw, nl, read_e, rtn_half_e, row_noise_e, k_dn, black_dn, white_dn,
                 row0, out, i0, i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of :func:`readout_chain` (one thread, without the GIL)."""
    w = charge.shape[1]
    for i in range(i0, i1):
        row_e = _row_term(row_off, seed_row, i, row0 + i, row_noise_e)
        base = (row0 + i) * w
        for j in range(w):
            x = draw(seed_pix, base + j)
            _, z_read = normal_pair(x)
            out[i, j] = _pixel_dn(charge[i, j], x, i, j, row_e, offset, col_off, rtn, z_read,
                                  full_well, inv_fw, nl, read_e, rtn_half_e, k_dn, black_dn,
                                  white_dn)


def readout_chain(charge, offset, row_off, col_off, rtn, seed_pix, seed_row, full_well,
                  inv_fw, nl, read_e, rtn_half_e, row_noise_e, k_dn, black_dn, white_dn,
                  row0, out) -> None:
    """Charge [e⁻] → DN (uint16), the second half of :func:`fused_chain` with the same
    draws (read-noise normal = second Box–Muller output of stream 0); rows on numba's
    threads (:func:`camtwin._jit.on_row_threads`, :func:`readout_rows`)."""
    on_row_threads(readout_rows, (charge, offset, row_off, col_off, rtn, seed_pix, seed_row,
                                  full_well, inv_fw, nl, read_e, rtn_half_e, row_noise_e,
                                  k_dn, black_dn, white_dn, row0, out), charge.shape[0])


@nb.njit(cache=True, error_model="numpy")
def row_terms(row_off, seed_row, row0, row_noise_e, h):  # pragma: no cover - jit
    """Row offset + row noise [e⁻] (float32 (h,)) of rows 0 … h − 1 (:func:`_row_term`)."""
    row_e = np.empty(h, np.float32)
    for i in range(h):
        row_e[i] = _row_term(row_off, seed_row, i, row0 + i, row_noise_e)
    return row_e


@nb.njit(cache=True, error_model="numpy", nogil=True)
def readout_box_rows(charge, box, row_e, offset, col_off, rtn, seed_pix, full_well, inv_fw,
                     nl, read_e, rtn_half_e, k_dn, black_dn, white_dn, row0, out, b0,
                     b1):  # pragma: no cover - jit
    """Boxes b0 … b1 − 1 of :func:`readout_boxes` (one thread, without the GIL)."""
    h, w = charge.shape
    cf = charge.reshape(h * w)
    for b in range(b0, b1):
        if b + 1 < b1:              # the next box's rows (scattered over the frame)
            for i in range(box[b + 1, 0], box[b + 1, 1]):
                _prefetch(cf, i * w + box[b + 1, 2])
                _prefetch(cf, i * w + box[b + 1, 3] - 1)
        for i in range(box[b, 0], box[b, 1]):
            re = row_e[i]
            rb = (row0 + i) * w
            c = box[b, 2]
            while c < box[b, 3]:
                if w >= _RUN:
                    j0 = min(c, w - _RUN)
                    for u in range(_RUN):
                        ju = np.uint64(j0 + u)      # (unsigned: no wrap-around check)
                        x = draw(seed_pix, rb + j0 + u)
                        _, z_read = normal_pair(x)
                        out[i, ju] = _pixel_dn(charge[i, ju], x, i, ju, re, offset, col_off,
                                               rtn, z_read, full_well, inv_fw, nl, read_e,
                                               rtn_half_e, k_dn, black_dn, white_dn)
                    c = j0 + _RUN
                else:
                    x = draw(seed_pix, rb + c)
                    _, z_read = normal_pair(x)
                    out[i, c] = _pixel_dn(charge[i, c], x, i, c, re, offset, col_off, rtn,
                                          z_read, full_well, inv_fw, nl, read_e, rtn_half_e,
                                          k_dn, black_dn, white_dn)
                    c += 1


def readout_boxes(charge, box, offset, row_off, col_off, rtn, seed_pix, seed_row, full_well,
                  inv_fw, nl, read_e, rtn_half_e, row_noise_e, k_dn, black_dn, white_dn,
                  row0, out) -> None:
    """:func:`readout_chain` inside the boxes ``box[b]`` = (r0, r1, c0, c1) (int64, rows
    r0 ≤ i < r1, columns c0 ≤ j < c1; they may overlap) only: ``out`` ← the DN of
    ``charge`` there, with the same draws. A box row is read out 16 pixels at a time in a
    loop of fixed length (the last 16 end at c1 or the frame's edge; a few pixels right
    of c1 are read out again, to the same DN), which LLVM vectorises whole: a short loop
    of variable length would run in the scalar remainder of the vectorised one, 3× slower
    per pixel. The next box's charge rows are asked for (prefetched) while a box is read
    out: the boxes lie scattered over the frame. Blocks of boxes on numba's threads
    (:func:`camtwin._jit.on_row_threads`, :func:`readout_box_rows`)."""
    row_e = row_terms(row_off, seed_row, row0, row_noise_e, charge.shape[0])
    on_row_threads(readout_box_rows, (charge, box, row_e, offset, col_off, rtn, seed_pix,
                                      full_well, inv_fw, nl, read_e, rtn_half_e, k_dn,
                                      black_dn, white_dn, row0, out), box.shape[0],
                   min_rows=1)


#: Pixels per run of :func:`readout_boxes`.
_RUN = 16


def readout_lists(seg, pix0, val0, pix1, val1, offset, row_off, col_off, rtn, seed_pix,
                  seed_row, full_well, inv_fw, nl, read_e, rtn_half_e, row_noise_e, k_dn,
                  black_dn, white_dn, row0, out) -> None:
    """:func:`readout_chain` of listed pixels only: ``out`` (H, W) ← the DN of the charges
    ``val[o:o + n]`` [e⁻] (float32) at the flat pixel indices ``pix[o:o + n]`` (int32,
    p = i·W + j) of buffer ``pix0``/``val0`` or ``pix1``/``val1``, (buffer, o, n) =
    ``seg[k]`` (int64 (m, 3)) — the footprints of
    :func:`camtwin.sensor._bloom.bloom` (``footprints=True``), whose charges need not be
    written into the frame first. Same draws as :func:`readout_chain`; no pixel may be
    listed twice (the lists are read out in parallel).

    Each list is read out in a loop LLVM vectorises (the row i = ⌊p/W⌋ by a float
    reciprocal and a ±1 correction, exact for p < 2³¹; the charge is read in order, the
    row terms gathered) into a work buffer, then stored to its pixels: the footprints'
    pixels only, where :func:`readout_boxes` reads their bounding boxes (1.31 M against
    1.82 M pixels on the blob frame of ``benchmarks/bench_blooming.py``). Each buffer's
    segments are one call of :func:`read_list_rows` (one compiled loop for both: with
    both buffers in one loop, LLVM vectorised the first only, and a list in buffer 1 was
    read out 5× slower — RESULTS.md "Blooming", twelfth session), blocks of segments on
    numba's threads (:func:`camtwin._jit.on_row_threads`)."""
    h, w = out.shape
    row_e = row_terms(row_off, seed_row, row0, row_noise_e, h)
    of = out.reshape(h * w)
    for b, pix, val in ((0, pix0, val0), (1, pix1, val1)):
        ks = np.flatnonzero(seg[:, 0] == b)
        if ks.size:
            on_row_threads(read_list_rows,
                           (seg, ks, pix, val, np.int64(w), 1.0 / w, np.int64(row0 * w),
                            row_e, offset, col_off, rtn, seed_pix, full_well, inv_fw, nl,
                            read_e, rtn_half_e, k_dn, black_dn, white_dn, of),
                           ks.size, min_rows=1)


@nb.njit(cache=True, error_model="numpy", nogil=True, pipeline_class=NO_ALIAS)
def read_list_rows(seg, ks, pix, val, w, inv_w, rb, row_e, offset, col_off, rtn, seed_pix,
                   full_well, inv_fw, nl, read_e, rtn_half_e, k_dn, black_dn, white_dn, of,
                   k0, k1):  # pragma: no cover - jit
    """Segments ks[k0:k1] of :func:`readout_lists`, all in buffer ``pix``/``val`` (one
    thread, without the GIL)."""
    longest = 0
    for t in range(k0, k1):
        longest = max(longest, seg[ks[t], 2])
    dn = np.empty(longest, np.uint16)
    for t in range(k0, k1):
        k = ks[t]
        _read_list(pix, val, seg[k, 1], seg[k, 2], w, inv_w, rb, row_e, offset, col_off,
                   rtn, seed_pix, full_well, inv_fw, nl, read_e, rtn_half_e, k_dn, black_dn,
                   white_dn, dn, of)


@nb.njit(inline="always", cache=True, error_model="numpy")
def _read_list(pix, val, o, n, w, inv_w, rb, row_e, offset, col_off, rtn, seed_pix,
               full_well, inv_fw, nl, read_e, rtn_half_e, k_dn, black_dn, white_dn, dn,
               of):  # pragma: no cover - jit
    """One list of :func:`readout_lists`: entries o … o + n − 1 → ``dn`` (vectorised),
    then to their pixels of ``of`` (the flat frame)."""
    ou = np.uint64(o)
    for t in range(n):
        tu = np.uint64(t)           # (unsigned: no wrap-around checks)
        p = np.int64(pix[ou + tu])
        i = np.int64(p * inv_w)
        i = i - 1 if i * w > p else i
        i = i + 1 if (i + 1) * w <= p else i
        iu = np.uint64(i)
        ju = np.uint64(p - i * w)
        x = draw(seed_pix, rb + p)
        _, z_read = normal_pair(x)
        dn[tu] = _pixel_dn(val[ou + tu], x, iu, ju, row_e[iu], offset, col_off, rtn, z_read,
                           full_well, inv_fw, nl, read_e, rtn_half_e, k_dn, black_dn,
                           white_dn)
    for t in range(n):
        tu = np.uint64(t)
        of[np.uint64(pix[ou + tu])] = dn[tu]


@nb.njit(cache=True, error_model="numpy", nogil=True)
def rows_mean_above(photo, dark, gain, dark_scale, thr, found, i0,
                    i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of :func:`any_mean_above`: ``found[0]`` ← True at the first row
    holding a mean above ``thr``; stops before a row once it is set (by any thread)."""
    w = photo.shape[1]
    for i in range(i0, i1):
        if found[0]:
            return
        n = 0
        for j in range(w):      # (a count: vectorised)
            n += _mean_e(photo, dark, gain, dark_scale, i, j) > thr
        if n > 0:
            found[0] = True
            return


def any_mean_above(photo, dark, gain, dark_scale, thr) -> bool:
    """Whether any mean charge photo·gain + dark·scale [e⁻] exceeds ``thr`` (float32).

    The rows in blocks on numba's threads (:func:`camtwin._jit.on_row_threads`,
    :func:`rows_mean_above`); a block stops at its first row holding such a pixel, and
    before its next row once any block has found one (it may or may not see that in time:
    the answer is the same). A frame without such a pixel is read once; one with them
    everywhere (lamps, sky) after a few rows per block, where the same test by the frame's
    maximum (the kernel this replaced) read the whole frame (3 ms of a 12 MP frame,
    ``benchmarks/bench_blooming.py``). Not a ``prange``: a first use compiled it in 1.5 s
    with numba's parallel passes."""
    found = np.zeros(1, np.bool_)
    on_row_threads(rows_mean_above, (photo, dark, gain, dark_scale, thr, found),
                   photo.shape[0])
    return bool(found[0])


# ---- throughput probes (benchmarks) -----------------------------------------------------
@nb.njit(parallel=True, cache=True, error_model="numpy")
def fill_normal(seed, c1, c2, out):  # pragma: no cover - jit
    """out (H, W) float32 ← c₁·z₁ + c₂·z₂ from one hashed word per pixel (the chain's
    per-pixel draw: hash + Box–Muller pair). With c₁ = 1, c₂ = 0 out is N(0, 1); the
    RNG-throughput probe of the benchmark."""
    h, w = out.shape
    for i in prange(h):
        base = i * w
        for j in range(w):
            a, b = normal_pair(draw(seed, base + j))
            out[i, j] = c1 * a + c2 * b
