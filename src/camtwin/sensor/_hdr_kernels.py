"""Fused numba kernel of the HDR sensor modes (:mod:`camtwin.sensor.hdr`): every component
of a pixel drawn in one pass over the rows.

The frame is described by *charge groups* g (an independent charge: a DOL exposure, the
large or the small photodiode, the very short exposure) and *reads* r of a group (one, or
two for a charge read at two gains: DCG, LOFIC, LPD at HCG and LCG). Per row i and group g:

    μ_photo(i,j) = P_src(g)(i,j) · c_g(i) / ρ_g           (c_g: T_g × window mean of the row)
    mean_e(i,j)  = μ_photo + μ_dark,g                      (ground truth, written out)
    λ(i,j)       = g_map·μ_photo + d_map·μ_dark,g          (PRNU, dark map of the group)
    n(i,j)       ~ Poisson(λ)                              (stream words of the group's key)
    q(i,j)       = min(n, clip_g)                          (LCG/LOFIC full well of a shared
                                                            charge; +∞ for a single read)

and per read r of group g: DN = :func:`camtwin.sensor._kernels._to_dn` of q with the read's
full well, nonlinearity, offsets, row noise, read noise, K, black and white level.

Random streams are those of the per-component chain (:func:`camtwin.sensor.pixels.
simulate_pixels`, ``generate_charge`` + ``read_out``): group g draws its charge from the
streams of the key of its first read (pixel word: z_shot and that read's z_read; exact
Poisson word for λ < 16 e⁻); a second read of the same charge takes the second normal of
its own key's pixel word; row noise from each read's row stream. One exception, to halve
the Box–Muller work of the short exposures and small photodiodes: in a row where *every*
λ < 16 e⁻ (no z_shot needed) the first read's z_read of columns 2m and 2m + 1 are the two
normals of pixel word 2m (independent N(0, 1), Box & Muller 1958); such rows differ
sample by sample — not in distribution — from the per-component chain. Counter-based, so
the output depends on the key only, never on the thread count.

Exact Poisson for λ < 16 e⁻: :func:`camtwin.sensor._kernels.exact_span` (the counting
inversion of ``poisson_inversion`` on chunks of ``EXACT_CHUNK`` = 32 columns with an early
exit once every lane's remainder is negative — bit-identical to the 56-term count, at
≈ λ + 3√λ terms instead of 56), as in the per-component chain.

On-sensor combination (:func:`camtwin.sensor.hdr.combine_on_sensor`) in the same pass when
every component is drawn here: the first read r (most sensitive first) with
e_r = (DN − black_r)/K_r < thr_r is used, x = s_r·e_r; the last read otherwise (float32,
the same operations as the NumPy version, so the same bits).
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import types
from numba.extending import overload

from .._jit import FLAT_MIN_PER_THREAD, NO_ALIAS, on_rows
from ._kernels import (_F0, _F1, _T_EXACT, EXACT_CHUNK as CHUNK, _to_dn, draw,
                       exact_span as _exact_span, normal_pair, poisson_cornish_fisher)

_U32 = np.uint64(32)
_U1 = np.uint64(1)
_F2 = np.float32(2.0)
_INF32 = np.float32(np.inf)



# ---- stacked optional maps: None → neutral value (compile-time) -------------------------
def _m3(m, k, i, j, default):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_m3, inline="always")
def _m3_ov(m, k, i, j, default):
    if isinstance(m, types.NoneType):
        return lambda m, k, i, j, default: default
    return lambda m, k, i, j, default: np.float32(m[k, i, j])


def _m2(m, k, i, default):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_m2, inline="always")
def _m2_ov(m, k, i, default):
    if isinstance(m, types.NoneType):
        return lambda m, k, i, default: default
    return lambda m, k, i, default: m[k, i]


def _rtn3(m, r, i, j, x, half_e):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_rtn3, inline="always")
def _rtn3_ov(m, r, i, j, x, half_e):
    if isinstance(m, types.NoneType):
        return lambda m, r, i, j, x, half_e: _F0

    def impl(m, r, i, j, x, half_e):
        sign = np.float32((x >> _U32) & _U1) * _F2 - _F1
        return np.float32(m[r, i, j]) * sign * half_e
    return impl


# ---- the kernel -------------------------------------------------------------------------
@nb.njit(cache=True, error_model="numpy", nogil=True, pipeline_class=NO_ALIAS)
def hdr_rows(photo, src, coef, div, dark, gain, dark_scale, seed_pix, seed_exact, clip,
             read_group, read_first, read_seed_pix, read_seed_row, read_par, offset,
             row_off, col_off, rtn, shot, comb_par, do_comb, row0, out_dn, out_mean,
             out_comb, i0, i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of all groups and reads of an HDR frame (module docstring): one
    thread, without the GIL (:data:`hdr_chain` runs blocks of rows on numba's threads).

    photo       float32 (S, H, W)  photo-electron sources (rate or per-window means)
    src         int64 (G,)         source of each group
    coef        float32 (G, H)     per-row factor c_g(i) [s, or 1 for per-window means]
    div         float32 (G,)       ρ_g (1 except the small photodiode)
    dark        float32 (G,)       mean dark electrons of the group [e⁻]
    gain, dark_scale  float32 (G, H, W) or None   PRNU×alive and dark maps per group
    seed_pix, seed_exact  uint64 (G,)             charge streams (key of the first read)
    clip        float32 (G,)       charge limit of the group [e⁻]
    read_group  int64 (R,); read_first bool (R,): the read takes the z of its charge word
    read_seed_pix, read_seed_row  uint64 (R,)
    read_par    float32 (R, 9)     FWC, 1/FWC, nl, σ_read, A/2, σ_row, K, black, white
    offset (R, H, W), row_off (R, H), col_off (R, W) float32, rtn bool (R, H, W): or None
    comb_par    float32 (R, 4)     black, K, threshold [e⁻], scale of each read
    out_dn uint16 (R, H, W); out_mean float32 (G, H, W); out_comb float32 (H, W)
    """
    n_src, h, w = photo.shape
    n_g = src.shape[0]
    n_r = read_group.shape[0]
    lam_b = np.empty(w, np.float32)
    n_b = np.empty((n_g, w), np.float32)
    z_b = np.empty((n_g, w), np.float32)
    st_p = np.empty(CHUNK, np.float64)
    st_rem = np.empty(CHUNK, np.float64)
    st_cnt = np.empty(CHUNK, np.float64)
    st_lam = np.empty(CHUNK, np.float64)
    for i in range(i0, i1):
        base = (row0 + i) * w
        for g in range(n_g):
            s = src[g]
            c = coef[g, i]
            dv = div[g]
            dk = dark[g]
            sp = seed_pix[g]
            # pass A: means, ground truth, span of small means
            jmin = w
            jmax = -1
            n_small = 0
            if dv == _F1:    # x / 1 = x exactly: skip the division
                for j in range(w):
                    ph = photo[s, i, j] * c
                    out_mean[g, i, j] = ph + dk
                    lam = ph * _m3(gain, g, i, j, _F1) + dk * _m3(dark_scale, g, i, j, _F1)
                    lam_b[j] = lam
                    small = lam < _T_EXACT
                    jmin = min(jmin, j if small else w)
                    jmax = max(jmax, j if small else -1)
                    n_small += 1 if small else 0
            else:
                for j in range(w):
                    ph = photo[s, i, j] * c / dv
                    out_mean[g, i, j] = ph + dk
                    lam = ph * _m3(gain, g, i, j, _F1) + dk * _m3(dark_scale, g, i, j, _F1)
                    lam_b[j] = lam
                    small = lam < _T_EXACT
                    jmin = min(jmin, j if small else w)
                    jmax = max(jmax, j if small else -1)
                    n_small += 1 if small else 0
            j0, j1 = (jmin, jmax + 1) if shot else (w, w)
            # pass B: the pixel word → z_shot (Cornish–Fisher) and z_read of the first read
            nrow = n_b[g]
            zrow = z_b[g]
            if shot and n_small == w:        # every pixel gets its exact draw in pass C:
                for m in range(w // 2):      # both normals of word 2m (module docstring)
                    za, zb = normal_pair(draw(sp, base + 2 * m))
                    zrow[2 * m] = za
                    zrow[2 * m + 1] = zb
                if w % 2 == 1:
                    _, zr = normal_pair(draw(sp, base + w - 1))
                    zrow[w - 1] = zr
            else:
                for j in range(w):
                    zs, zr = normal_pair(draw(sp, base + j))
                    zrow[j] = zr
                    lam = lam_b[j]
                    nrow[j] = poisson_cornish_fisher(max(lam, _T_EXACT), zs) if shot else lam
            # pass C: exact draws where λ < 16 e⁻
            if j1 > j0:
                _exact_span(lam_b, nrow, seed_exact[g], base, j0, j1, st_p, st_rem, st_cnt,
                            st_lam)
        # reads
        for r in range(n_r):
            g = read_group[r]
            fw, inv_fw, nl, read_e, rtn_half = (read_par[r, 0], read_par[r, 1],
                                                read_par[r, 2], read_par[r, 3],
                                                read_par[r, 4])
            row_e_sig, k_dn, black, white = (read_par[r, 5], read_par[r, 6],
                                             read_par[r, 7], read_par[r, 8])
            sp = read_seed_pix[r]
            zr_row, _ = normal_pair(draw(read_seed_row[r], row0 + i))
            row_e = _m2(row_off, r, i, _F0) + row_e_sig * zr_row
            nrow = n_b[g]
            cl = clip[g]
            if read_first[r]:
                zrow = z_b[g]
                for j in range(w):
                    x = draw(sp, base + j)
                    add_e = (_m3(offset, r, i, j, _F0) + row_e + _m2(col_off, r, j, _F0)
                             + _rtn3(rtn, r, i, j, x, rtn_half))
                    out_dn[r, i, j] = _to_dn(min(nrow[j], cl), add_e, zrow[j], fw, inv_fw,
                                             nl, read_e, k_dn, black, white)
            else:
                for j in range(w):
                    x = draw(sp, base + j)
                    _, z = normal_pair(x)
                    add_e = (_m3(offset, r, i, j, _F0) + row_e + _m2(col_off, r, j, _F0)
                             + _rtn3(rtn, r, i, j, x, rtn_half))
                    out_dn[r, i, j] = _to_dn(min(nrow[j], cl), add_e, z, fw, inv_fw, nl,
                                             read_e, k_dn, black, white)
        # on-sensor combination
        if do_comb:
            last = n_r - 1
            for j in range(w):
                val = ((np.float32(out_dn[last, i, j]) - comb_par[last, 0])
                       / comb_par[last, 1]) * comb_par[last, 3]
                chosen = False
                for r in range(last):
                    e = (np.float32(out_dn[r, i, j]) - comb_par[r, 0]) / comb_par[r, 1]
                    use = (e < comb_par[r, 2]) and not chosen
                    val = e * comb_par[r, 3] if use else val
                    chosen = chosen or use
                out_comb[i, j] = val


#: The HDR pixel chain (:func:`hdr_rows`) over blocks of rows on numba's threads
#: (:func:`camtwin._jit.on_row_threads`; no ``prange``: a first use compiles no parallel
#: passes).
hdr_chain = on_rows(hdr_rows, lambda photo, *args: photo.shape[1], "hdr_chain")


# ---- PWL companding (camtwin.sensor.hdr.compand) ----------------------------------------
@nb.njit(cache=True, error_model="numpy", nogil=True)
def _linear_code_rows(combined, k0, black, top, out, i0, i1):  # pragma: no cover - jit
    """out = clip(rint(K_0·x) + black, 0, top) (int64) for x = ``combined`` (float32,
    widened to float64 before the product, as the NumPy version); rows i0 … i1 − 1."""
    w = combined.shape[1]
    for i in range(i0, i1):
        for j in range(w):
            c = np.int64(np.rint(np.float64(combined[i, j]) * k0)) + black
            out[i, j] = min(max(c, 0), top)


linear_code = on_rows(_linear_code_rows, lambda combined, *args: combined.shape[0],
                      "linear_code")


@nb.njit(cache=True, error_model="numpy", nogil=True)
def _compand_rows(code, kx, ky, max_input, out, p0, p1):  # pragma: no cover - jit
    """PWL output code (uint16) of every linear code: x = clip(c, 0, last knee input),
    segment i = #{interior knees ≤ x} (= searchsorted(kx, x, 'right') − 1 clipped to
    0 … n−2), y = y_i + ⌊(x − x_i)(y_{i+1} − y_i)/(x_{i+1} − x_i)⌋ (integers); elements
    p0 … p1 − 1 of the flat arrays."""
    nk = kx.shape[0]
    for p in range(p0, p1):
        x = min(max(code[p], 0), max_input)
        i = 0
        for k in range(1, nk - 1):
            i += 1 if x >= kx[k] else 0
        out[p] = np.uint16(ky[i] + ((x - kx[i]) * (ky[i + 1] - ky[i])) // (kx[i + 1] - kx[i]))


compand_flat = on_rows(_compand_rows, lambda code, *args: code.shape[0], "compand_flat",
                       FLAT_MIN_PER_THREAD)


@nb.njit(cache=True, error_model="numpy", nogil=True, pipeline_class=NO_ALIAS)
def _linear_code_lut_rows(combined, k0, black, top, lut, out, out_pwl, i0,
                          i1):  # pragma: no cover - jit
    """:func:`linear_code` and the PWL output through a table of every input code
    (``lut[c]`` = the companded value of c, c ≤ the last knee; clipped there) in one pass;
    rows i0 … i1 − 1."""
    w = combined.shape[1]
    last = lut.shape[0] - 1
    for i in range(i0, i1):
        for j in range(w):
            c = min(max(np.int64(np.rint(np.float64(combined[i, j]) * k0)) + black, 0), top)
            out[i, j] = c
            out_pwl[i, j] = lut[min(c, last)]


linear_code_lut = on_rows(_linear_code_lut_rows, lambda combined, *args: combined.shape[0],
                          "linear_code_lut")
