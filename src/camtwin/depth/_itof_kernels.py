"""Fused numba kernel of the CW-iToF pixel (:mod:`camtwin.depth.itof`).

Blocks of output rows on numba's threads (:func:`camtwin._jit.on_row_threads`); per row
and phase frame three passes over the columns (the
structure of the sensor chain, :func:`camtwin.sensor._kernels.fused_chain`): (1) mean tap
charges (k×k sub-pixel sum, optional second return); (2) Poisson draws — Cornish–Fisher
for every column (branch-free), then the exact inversion over the span of columns whose
mean is below 16 e⁻; (3) ambient suppression → full-well clip → read noise → ADC →
differential phasor accumulation. Then per pixel: phase, amplitude, intensity,
confidence, unwrapping. It implements
the same model as :func:`camtwin.depth.itof.simulate_itof_reference` (the NumPy
reference); ``tests/depth/test_itof.py`` asserts that the two agree exactly without noise
and statistically with noise.

Random numbers: the counter-based SplitMix64 streams and the Poisson/normal draws of the
sensor chain (:mod:`camtwin.sensor._kernels`: ``draw``, ``normal_pair``,
``poisson_cornish_fisher`` for μ ≥ 16 e⁻, exact ``poisson_inversion`` below — by
``exact_span``, 32 columns at a time with an early exit, bit for bit the same), keyed on
the tap-sample index p = ((n·2 + tap)·H + i)·W + j, so the result does not depend on the
number of threads. Stream 0 gives the normal pair (z_shot, z_read) of each tap sample,
stream 1 the uniform of the exact small-mean Poisson.

Mean charges, phases and accumulations in float64 (the phase 4πfd/c reaches ~30 rad);
random draws in float32 as in the sensor chain.
"""

from __future__ import annotations

import inspect
import math

import numba as nb
import numpy as np

from .._jit import on_rows
from ..sensor._kernels import (EXACT_CHUNK, POISSON_EXACT_BELOW, draw, exact_span, normal_pair,
                               poisson_cornish_fisher, stream_seed)
from ..units import SPEED_OF_LIGHT_M_S

__all__ = ["itof_kernel", "stream_seed"]

_C = SPEED_OF_LIGHT_M_S
_TWO_PI = 2.0 * math.pi
_T_EXACT = np.float32(POISSON_EXACT_BELOW)
_F0 = np.float32(0.0)


@nb.njit(inline="always", cache=True, error_model="numpy")
def _g(x, square):  # pragma: no cover - jit
    """Correlation waveform: cos x, or the triangle 1 − 2|x̃|/π (x̃ = x wrapped to [−π, π))."""
    if square:
        w = x - _TWO_PI * math.floor((x + math.pi) / _TWO_PI)
        return 1.0 - 2.0 * abs(w) / math.pi
    return math.cos(x)


@nb.njit(cache=True, error_model="numpy", nogil=True)
def itof_rows(ea, eb, dist, mp_extra, mp_amp, k, freqs, drift, weights, n_phases, r,
              n_cand, cdm, square, e_dark, supp, fw, read_e, q_e, black, top, var_floor,
              noise, seeds, keep_taps, min_conf, depth, amp, inten, phase, conf, sat,
              taps, i0, i1):  # pragma: no cover - jit
    """Output rows i0 … i1 − 1 of the iToF depth frame (:data:`itof_kernel`: blocks of rows
    on numba's threads).

    ea, eb   (n_r, kH, kW) float32  active / ambient e⁻ per tap per phase frame (n_r = 1 or
             F·N)
    dist     (n_d, kH, kW) float64  radial distance [m] (inf → no return)
    mp_extra (kH, kW) float64 [m], mp_amp (kH, kW) float32, or (0, 0) arrays: second return
    freqs (F,) [Hz], drift (F,) [rad], weights (F,) unwrapping weights (sum 1)
    r, n_cand: index of the lowest frequency and its number of wrap candidates
    Scalars: cdm = c_d·m, e_dark [e⁻/tap], supp, fw [e⁻], read_e [e⁻], q_e [e⁻/DN],
    black/top [DN], var_floor = σ_r² + Δ²/12 [e⁻²], seeds (2,) uint64.
    Outputs (written in place): depth (H, W), amp/inten/phase (F, H, W), conf (H, W),
    sat (H, W) bool, taps (F·N, 2, H, W) uint16 when keep_taps.
    """
    nF = freqs.shape[0]
    H, W = depth.shape
    n_frames = nF * n_phases
    nr = ea.shape[0]
    nd = dist.shape[0]
    has_mp = mp_amp.shape[0] > 0
    seed0 = seeds[0]
    seed1 = seeds[1]
    HW = H * W
    sq_n = math.sqrt(n_phases)
    fw = np.float32(fw)
    read_e = np.float32(read_e)
    supp = np.float32(supp)
    inv_q = np.float32(1.0 / q_e)
    black = np.float32(black)
    top = np.float32(top)
    # per-frame constants: 4πf/c, 2πf/c, the phase offset δ_j − θ_k, cos θ_k, sin θ_k
    om = np.empty(n_frames)
    om2 = np.empty(n_frames)
    offs = np.empty(n_frames)
    cth = np.empty(n_frames)
    sth = np.empty(n_frames)
    for n in range(n_frames):
        fj = n // n_phases
        theta = _TWO_PI * (n - fj * n_phases) / n_phases
        om[n] = 2.0 * _TWO_PI * freqs[fj] / _C
        om2[n] = _TWO_PI * freqs[fj] / _C
        offs[n] = drift[fj] - theta
        cth[n] = math.cos(theta)
        sth[n] = math.sin(theta)
    for i in range(i0, i1):
        re = np.zeros((nF, W))
        im = np.zeros((nF, W))
        tot = np.zeros((nF, W))
        srow = np.zeros(W, dtype=np.bool_)
        mu_a = np.empty(W, dtype=np.float32)
        mu_b = np.empty(W, dtype=np.float32)
        qa_r = np.empty(W, dtype=np.float32)
        qb_r = np.empty(W, dtype=np.float32)
        lanes = np.empty((4, EXACT_CHUNK))      # (exact_span's work lanes)
        d0 = np.zeros(nF)
        dj = np.zeros(nF)
        L = np.empty(nF)
        for fj in range(nF):
            L[fj] = _C / (2.0 * freqs[fj])
        for n in range(n_frames):
            fj = n // n_phases
            off = offs[n]
            ir = n if nr > 1 else 0
            idd = n if nd > 1 else 0
            # 1) mean tap charges of this row (k×k sub-pixel sums, second return)
            for j in range(W):
                dc = 0.0
                corr = 0.0
                for u in range(k):
                    y = i * k + u
                    for v in range(k):
                        x = j * k + v
                        d = dist[idd, y, x]
                        ret = d < np.inf
                        e = np.float64(ea[ir, y, x]) if ret else 0.0
                        d = d if ret else 0.0
                        dc += eb[ir, y, x] + e
                        corr += e * _g(om[n] * d + off, square)
                        if has_mp:
                            a2 = e * mp_amp[y, x]
                            dc += a2
                            corr += a2 * _g(om2[n] * (2.0 * d + mp_extra[y, x]) + off,
                                            square)
                dc += e_dark
                corr *= cdm
                mu_a[j] = dc + corr
                mu_b[j] = dc - corr
            # 2) collected charge: Cornish–Fisher Poisson everywhere (vectorised), then the
            #    exact inversion over the span of columns with a mean below 16 e⁻
            pa0 = ((n * 2) * H + i) * W
            pb0 = pa0 + HW
            if noise:
                jmin = W
                jmax = -1
                for j in range(W):
                    za, _ = normal_pair(draw(seed0, pa0 + j))
                    zb, _ = normal_pair(draw(seed0, pb0 + j))
                    qa_r[j] = poisson_cornish_fisher(max(mu_a[j], _T_EXACT), za)
                    qb_r[j] = poisson_cornish_fisher(max(mu_b[j], _T_EXACT), zb)
                    small = min(mu_a[j], mu_b[j]) < _T_EXACT
                    jmin = min(jmin, j if small else W)
                    jmax = max(jmax, j if small else -1)
                if jmax >= jmin:    # (the chunked inversion: exact_span)
                    exact_span(mu_a, qa_r, seed1, pa0, jmin, jmax + 1, lanes[0], lanes[1],
                               lanes[2], lanes[3])
                    exact_span(mu_b, qb_r, seed1, pb0, jmin, jmax + 1, lanes[0], lanes[1],
                               lanes[2], lanes[3])
            else:
                for j in range(W):
                    qa_r[j] = mu_a[j]
                    qb_r[j] = mu_b[j]
            # 3) suppression, full well, read noise, ADC, differential phasor (vectorised)
            ct = cth[n]
            st = sth[n]
            for j in range(W):
                if noise:
                    _, zra = normal_pair(draw(seed0, pa0 + j))
                    _, zrb = normal_pair(draw(seed0, pb0 + j))
                else:
                    zra = _F0
                    zrb = _F0
                qa = qa_r[j]
                qb = qb_r[j]
                cm = supp * min(qa, qb)
                qa = qa - cm
                qb = qb - cm
                hit = (qa >= fw) | (qb >= fw)
                qa = min(qa, fw) + read_e * zra
                qb = min(qb, fw) + read_e * zrb
                dna = min(max(np.rint(qa * inv_q) + black, _F0), top)
                dnb = min(max(np.rint(qb * inv_q) + black, _F0), top)
                srow[j] = srow[j] | hit | (dna >= top) | (dnb >= top)
                qa_r[j] = dna          # the row buffers now hold the codes (for taps)
                qb_r[j] = dnb
                diff = np.float64(dna - dnb) * q_e
                re[fj, j] += diff * ct
                im[fj, j] += diff * st
                tot[fj, j] += np.float64(dna + dnb)
            if keep_taps:
                for j in range(W):
                    taps[n, 0, i, j] = np.uint16(qa_r[j])
                    taps[n, 1, i, j] = np.uint16(qb_r[j])
        # 4) per pixel: phase, amplitude, intensity, confidence, unwrapping
        for j in range(W):
            cmin = np.inf
            for fj in range(nF):
                ph = math.atan2(im[fj, j], re[fj, j])
                if ph < 0.0:
                    ph += _TWO_PI
                if ph >= _TWO_PI:
                    ph -= _TWO_PI
                a = math.sqrt(re[fj, j] ** 2 + im[fj, j] ** 2) / n_phases
                ii = (tot[fj, j] / (2.0 * n_phases) - black) * q_e
                phase[fj, i, j] = ph
                amp[fj, i, j] = a
                inten[fj, i, j] = ii
                cmin = min(cmin, a * sq_n / math.sqrt(max(ii, 0.0) + var_floor))
                d0[fj] = ph / _TWO_PI * L[fj]
            if nF == 1:
                out = d0[0]
            else:
                best = np.inf
                out = 0.0
                for c in range(n_cand):
                    dr = d0[r] + c * L[r]
                    mean = 0.0
                    for fj in range(nF):
                        if fj == r:
                            dj[fj] = dr
                        else:
                            dj[fj] = d0[fj] + np.rint((dr - d0[fj]) / L[fj]) * L[fj]
                        mean += weights[fj] * dj[fj]
                    cost = 0.0
                    for fj in range(nF):
                        cost += weights[fj] * (dj[fj] - mean) ** 2
                    if cost < best:
                        best = cost
                        out = mean
            s = srow[j]
            sat[i, j] = s
            conf[i, j] = 0.0 if s else cmin
            depth[i, j] = np.nan if (s or cmin < min_conf) else out


#: The whole iToF depth frame (:func:`itof_rows`) over blocks of output rows on numba's
#: threads (:func:`camtwin._jit.on_row_threads`; no ``prange``: a first use compiles no
#: parallel passes).
_DEPTH_ARG = list(inspect.signature(itof_rows.py_func).parameters).index("depth")
itof_kernel = on_rows(itof_rows, lambda *args: args[_DEPTH_ARG].shape[0], "itof_kernel", 8)
