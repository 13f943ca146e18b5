"""Numba kernels of the ISP hot paths (float32, ``prange`` over rows).

Each kernel has a pure-NumPy reference it must match (tests assert it):

* :func:`malvar_kernel` — ``colour_demosaicing.demosaicing_CFA_Bayer_Malvar2004`` (an
  independent float64 implementation; away from the border),
* :func:`directional_green_kernel`, :func:`ri_coefficients_kernel`,
  :func:`ri_finish_kernel` — :mod:`camtwin.isp._reference` (float64 NumPy/SciPy),
* :func:`ccm_kernel`, :func:`lut_kernel`, :func:`quantise_kernel` — the NumPy stages in
  :mod:`camtwin.isp.stages` (``apply_ccm``, ``srgb_encode``, ``to_uint``).

Borders: mosaic kernels read a copy of the mosaic padded with ``cv2.BORDER_REFLECT_101``
(reflection about the edge pixel keeps the Bayer parity), so the inner loops carry no index
checks. Sub-lattice kernels clamp their indices (replicate the outermost sample).

No ``fastmath`` (results must not depend on vectorisation choices); every row is computed
independently, so the output does not depend on the number of threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

_JIT = dict(cache=True, error_model="numpy", nogil=True)


# --------------------------------------------------------------------------- Malvar 2004

@nb.njit(parallel=True, **_JIT)
def malvar_kernel(mp, chan, out):  # pragma: no cover - jit
    """Malvar–He–Cutler (2004) demosaic of a Bayer mosaic padded by 2 px.

    ``mp``: (H+4, W+4) float32 padded mosaic; ``chan``: (2, 2) int — channel 0/1/2 of each
    Bayer phase; ``out``: (H, W, 3) float32. The 5×5 filters of the paper (Fig. 2), with
    c the centre sample, X1/X2 the 4-neighbours at distance 1/2, H*/V* their horizontal /
    vertical halves and D the four diagonal neighbours:

    * G at R or B:                 (4c + 2·X1 − X2) / 8
    * R at B, B at R:              (6c + 2·D − 1.5·X2) / 8
    * R (B) at G, R (B) row-wise:  (5c + 4·H1 − H2 − D + ½·V2) / 8   (and transposed).
    """
    h, w = out.shape[0], out.shape[1]
    for y in prange(h):
        yy = y + 2
        for x in range(w):
            xx = x + 2
            c = mp[yy, xx]
            h1 = mp[yy, xx - 1] + mp[yy, xx + 1]
            v1 = mp[yy - 1, xx] + mp[yy + 1, xx]
            h2 = mp[yy, xx - 2] + mp[yy, xx + 2]
            v2 = mp[yy - 2, xx] + mp[yy + 2, xx]
            d = mp[yy - 1, xx - 1] + mp[yy - 1, xx + 1] + mp[yy + 1, xx - 1] + mp[yy + 1, xx + 1]
            ch = chan[y & 1, x & 1]
            if ch == 1:
                # colour of the horizontal neighbours
                hc = chan[y & 1, (x + 1) & 1]
                along_row = np.float32(0.125) * (np.float32(5) * c + np.float32(4) * h1 - h2
                                                 - d + np.float32(0.5) * v2)
                along_col = np.float32(0.125) * (np.float32(5) * c + np.float32(4) * v1 - v2
                                                 - d + np.float32(0.5) * h2)
                out[y, x, 1] = c
                out[y, x, hc] = along_row
                out[y, x, 2 - hc] = along_col
            else:
                out[y, x, ch] = c
                out[y, x, 1] = np.float32(0.125) * (np.float32(4) * c
                                                    + np.float32(2) * (h1 + v1) - (h2 + v2))
                out[y, x, 2 - ch] = np.float32(0.125) * (np.float32(6) * c + np.float32(2) * d
                                                         - np.float32(1.5) * (h2 + v2))


@nb.njit(parallel=True, **_JIT)
def bilinear_kernel(mp, chan, out):  # pragma: no cover - jit
    """Bayer bilinear demosaic of a mosaic padded by 1 px (REFLECT_101).

    Missing G: mean of the 4 neighbours; missing R/B: mean of the 2 row (or column)
    neighbours at G sites, of the 4 diagonal neighbours at B/R sites — the kernels
    ``[[0,1,0],[1,4,1],[0,1,0]]/4`` and ``[[1,2,1],[2,4,2],[1,2,1]]/4`` on the sparse planes.
    """
    h, w = out.shape[0], out.shape[1]
    q = np.float32(0.25)
    half = np.float32(0.5)
    for y in prange(h):
        yy = y + 1
        for x in range(w):
            xx = x + 1
            c = mp[yy, xx]
            ch = chan[y & 1, x & 1]
            if ch == 1:
                hc = chan[y & 1, (x + 1) & 1]
                out[y, x, 1] = c
                out[y, x, hc] = half * (mp[yy, xx - 1] + mp[yy, xx + 1])
                out[y, x, 2 - hc] = half * (mp[yy - 1, xx] + mp[yy + 1, xx])
            else:
                out[y, x, ch] = c
                out[y, x, 1] = q * (mp[yy - 1, xx] + mp[yy + 1, xx] + mp[yy, xx - 1]
                                    + mp[yy, xx + 1])
                out[y, x, 2 - ch] = q * (mp[yy - 1, xx - 1] + mp[yy - 1, xx + 1]
                                         + mp[yy + 1, xx - 1] + mp[yy + 1, xx + 1])


# --------------------------------------------------------------- directional green (HQ)

@nb.njit(inline="always")
def _hamilton_adams(mp, y, x, dy, dx):  # pragma: no cover - jit
    """Second-order-corrected green estimate along (dy, dx) at a non-green site."""
    return (np.float32(0.5) * (mp[y - dy, x - dx] + mp[y + dy, x + dx])
            + np.float32(0.25) * (np.float32(2) * mp[y, x] - mp[y - 2 * dy, x - 2 * dx]
                                  - mp[y + 2 * dy, x + 2 * dx]))


@nb.njit(parallel=True, **_JIT)
def directional_green_kernel(mp, is_g, eps, g_out):  # pragma: no cover - jit
    """Green plane by gradient-weighted fusion of horizontal and vertical estimates.

    ``mp``: mosaic padded by 4 px (REFLECT_101); ``is_g``: (2, 2) bool, phase is green;
    ``eps``: gradient floor; ``g_out``: (H, W) float32. See
    :func:`camtwin.isp._reference.directional_green` for the equations. Two passes: the
    colour-difference gradients D_H, D_V at the non-green sites (the only ones the
    classifier window reads), then the weighted fusion; the directional estimates are
    recomputed where needed instead of being stored.
    """
    h, w = g_out.shape
    hp, wp = mp.shape
    dh = np.empty((hp, wp), np.float32)
    dv = np.empty((hp, wp), np.float32)
    # pass 1: D at non-green sites of the padded frame, rows/cols 2 .. n−3 (zero where the
    # partner two pixels on is out of reach)
    for y in prange(2, hp - 2):
        py = (y - 4) & 1
        for x in range(2, wp - 2):
            if is_g[py, (x - 4) & 1]:
                continue
            if x + 2 < wp - 2:
                ch0 = mp[y, x] - _hamilton_adams(mp, y, x, 0, 1)
                ch2 = mp[y, x + 2] - _hamilton_adams(mp, y, x + 2, 0, 1)
                dh[y, x] = abs(ch0 - ch2)
            else:
                dh[y, x] = np.float32(0)
            if y + 2 < hp - 2:
                cv0 = mp[y, x] - _hamilton_adams(mp, y, x, 1, 0)
                cv2 = mp[y + 2, x] - _hamilton_adams(mp, y + 2, x, 1, 0)
                dv[y, x] = abs(cv0 - cv2)
            else:
                dv[y, x] = np.float32(0)
    # pass 2: directional activity over the Menon (2007) window and the weighted fusion;
    # every D read here sits on a non-green site of rows/cols 2 .. n−3
    for y in prange(h):
        yy = y + 4
        for x in range(w):
            xx = x + 4
            if is_g[y & 1, x & 1]:
                g_out[y, x] = mp[yy, xx]
                continue
            a_h = (np.float32(3) * (dh[yy, xx] + dh[yy, xx - 2]) + dh[yy + 2, xx]
                   + dh[yy + 2, xx - 2] + dh[yy + 1, xx - 1] + dh[yy - 1, xx - 1]
                   + dh[yy - 2, xx] + dh[yy - 2, xx - 2])
            a_v = (np.float32(3) * (dv[yy, xx] + dv[yy - 2, xx]) + dv[yy, xx + 2]
                   + dv[yy - 2, xx + 2] + dv[yy - 1, xx + 1] + dv[yy - 1, xx - 1]
                   + dv[yy, xx - 2] + dv[yy - 2, xx - 2])
            wh = (a_v + eps) * (a_v + eps)  # weight of the horizontal estimate ∝ 1/a_h²
            wv = (a_h + eps) * (a_h + eps)
            g_out[y, x] = ((wh * _hamilton_adams(mp, yy, xx, 0, 1)
                            + wv * _hamilton_adams(mp, yy, xx, 1, 0)) / (wh + wv))


# --------------------------------------------------------- residual interpolation (HQ)

@nb.njit(inline="always")
def _clamp(i, n):  # pragma: no cover - jit
    return 0 if i < 0 else (n - 1 if i >= n else i)


@nb.njit(parallel=True, **_JIT)
def ri_coefficients_kernel(g, m, phases, radius, eps, a_out, b_out):  # pragma: no cover
    """Per-pixel guided-filter coefficients fitted on the sites of each colour.

    ``phases``: (n, 2) int — (row, column) offset of colour k's sites (rows
    ``py + 2i``, columns ``px + 2j``); ``a_out``, ``b_out``: (n, H, W). For every pixel,
    over the sites within ``radius`` pixels (Chebyshev) — indices clamped at the border:
    ``a = cov(G, M) / (var(G) + eps)``, ``b = mean(M) − a·mean(G)``.

    Per output row and colour, the sums over the window's site rows are formed for every
    site column (a short row buffer), then summed over the window's site columns: no
    full-size intermediate arrays, one parallel region for all colours.
    """
    h, w = g.shape
    for y in prange(h):
        for k in range(phases.shape[0]):
            py = phases[k, 0]
            px = phases[k, 1]
            h2 = (h - py + 1) // 2
            w2 = (w - px + 1) // 2
            i0 = (y - radius - py + 1) // 2  # ceil((y − r − py)/2)
            i1 = (y + radius - py) // 2
            ni = np.float32(i1 - i0 + 1)
            cg = np.zeros(w2, np.float32)
            cm = np.zeros(w2, np.float32)
            cgm = np.zeros(w2, np.float32)
            cgg = np.zeros(w2, np.float32)
            for i in range(i0, i1 + 1):
                ys = py + 2 * _clamp(i, h2)
                for j in range(w2):
                    gi = g[ys, px + 2 * j]
                    mi = m[ys, px + 2 * j]
                    cg[j] += gi
                    cm[j] += mi
                    cgm[j] += gi * mi
                    cgg[j] += gi * gi
            for x in range(w):
                j0 = (x - radius - px + 1) // 2
                j1 = (x + radius - px) // 2
                t0 = np.float32(0)
                t1 = np.float32(0)
                t2 = np.float32(0)
                t3 = np.float32(0)
                for j in range(j0, j1 + 1):
                    jj = _clamp(j, w2)
                    t0 += cg[jj]
                    t1 += cm[jj]
                    t2 += cgm[jj]
                    t3 += cgg[jj]
                inv_n = np.float32(1) / (ni * np.float32(j1 - j0 + 1))
                mg = t0 * inv_n
                mm = t1 * inv_n
                var = t3 * inv_n - mg * mg
                if var < 0:
                    var = np.float32(0)
                a = (t2 * inv_n - mg * mm) / (var + eps)
                a_out[k, y, x] = a
                b_out[k, y, x] = mm - a * mg


@nb.njit(parallel=True, **_JIT)
def ri_residuals_kernel(g, m, ma, mb, phases, res):  # pragma: no cover - jit
    """Residual ``M − (ma·G + mb)`` at the sites of each colour k, on its site lattice
    ``res[k, i, j]`` (rows ``py + 2i``, columns ``px + 2j``)."""
    h, w = g.shape
    for i in prange(res.shape[1]):
        for k in range(phases.shape[0]):
            py = phases[k, 0]
            px = phases[k, 1]
            y = py + 2 * i
            if y >= h:
                continue
            for j in range((w - px + 1) // 2):
                x = px + 2 * j
                res[k, i, j] = m[y, x] - (ma[k, y, x] * g[y, x] + mb[k, y, x])


@nb.njit(parallel=True, **_JIT)
def ri_finish_kernel(g, m, ma, mb, phases, channels, res, out):  # pragma: no cover - jit
    """Tentative estimate ``ma·G + mb`` plus the bilinearly interpolated residual.

    For colour k (sites ``phases[k]``, output channel ``channels[k]``) the residual on its
    site lattice (:func:`ri_residuals_kernel`) is interpolated bilinearly (indices clamped)
    and added to the tentative estimate. At the sites the output is the sample itself.
    """
    h, w = g.shape
    for y in prange(h):
        for k in range(phases.shape[0]):
            py = phases[k, 0]
            px = phases[k, 1]
            ch = channels[k]
            h2 = (h - py + 1) // 2
            w2 = (w - px + 1) // 2
            dy = y - py
            i0 = dy >> 1  # floor
            odd_y = dy & 1
            a0 = _clamp(i0, h2)
            a1 = _clamp(i0 + 1, h2)
            for x in range(w):
                dx = x - px
                j0 = dx >> 1
                odd_x = dx & 1
                b0 = _clamp(j0, w2)
                if odd_y:
                    if odd_x:
                        b1 = _clamp(j0 + 1, w2)
                        r = np.float32(0.25) * (res[k, a0, b0] + res[k, a0, b1]
                                                + res[k, a1, b0] + res[k, a1, b1])
                    else:
                        r = np.float32(0.5) * (res[k, a0, b0] + res[k, a1, b0])
                elif odd_x:
                    b1 = _clamp(j0 + 1, w2)
                    r = np.float32(0.5) * (res[k, a0, b0] + res[k, a0, b1])
                else:
                    out[y, x, ch] = m[y, x]  # a site: the sample itself, bit-exact
                    continue
                out[y, x, ch] = ma[k, y, x] * g[y, x] + mb[k, y, x] + r


# --------------------------------------------------------------------------- colour, tone

@nb.njit(parallel=True, **_JIT)
def ccm_kernel(rgb, m, out):  # pragma: no cover - jit
    """``out[y, x] = m @ rgb[y, x]`` for a (3, 3) float32 matrix."""
    h, w = rgb.shape[0], rgb.shape[1]
    for y in prange(h):
        for x in range(w):
            r = rgb[y, x, 0]
            g = rgb[y, x, 1]
            b = rgb[y, x, 2]
            out[y, x, 0] = m[0, 0] * r + m[0, 1] * g + m[0, 2] * b
            out[y, x, 1] = m[1, 0] * r + m[1, 1] * g + m[1, 2] * b
            out[y, x, 2] = m[2, 0] * r + m[2, 1] * g + m[2, 2] * b


@nb.njit(parallel=True, **_JIT)
def lut_kernel(flat, lut, out):  # pragma: no cover - jit
    """Piecewise-linear table lookup on [0, 1]: ``lut`` holds f at ``k/(len−1)``.

    Inputs are clipped to [0, 1] first; NaN maps to ``lut[0]``.
    """
    n = lut.shape[0] - 1
    scale = np.float32(n)
    for i in prange(flat.shape[0]):
        v = flat[i]
        if not v > 0:  # also NaN
            out[i] = lut[0]
            continue
        if v >= 1:
            out[i] = lut[n]
            continue
        t = v * scale
        k = int(t)
        f = t - np.float32(k)
        out[i] = lut[k] + f * (lut[k + 1] - lut[k])


@nb.njit(parallel=True, **_JIT)
def quantise_kernel(flat, top, out):  # pragma: no cover - jit
    """``round_half_even(clip(v, 0, 1) · top)``; NaN → 0."""
    for i in prange(flat.shape[0]):
        v = flat[i]
        if not v > 0:
            out[i] = 0
        elif v >= 1:
            out[i] = top
        else:
            out[i] = np.rint(v * top)


@nb.njit(parallel=True, **_JIT)
def normalise_kernel(dn, black, inv_range, out):  # pragma: no cover - jit
    """``(dn − black) · inv_range`` as float32."""
    h, w = dn.shape
    for y in prange(h):
        for x in range(w):
            out[y, x] = (np.float32(dn[y, x]) - black) * inv_range


@nb.njit(parallel=True, **_JIT)
def phase_gain_kernel(m, gains, clip, out):  # pragma: no cover - jit
    """``min(m · gains[y mod P, x mod Q], clip)`` (per-CFA-position gain, then clip)."""
    h, w = m.shape
    ph, pw = gains.shape
    for y in prange(h):
        for x in range(w):
            v = m[y, x] * gains[y % ph, x % pw]
            out[y, x] = v if v < clip else clip


@nb.njit(parallel=True, **_JIT)
def square_kernel(x, out):  # pragma: no cover - jit
    """``out = x²`` (flat arrays)."""
    for i in prange(x.shape[0]):
        out[i] = x[i] * x[i]


@nb.njit(parallel=True, **_JIT)
def guided_ab_kernel(mean, mean_sq, eps, a_out, b_out):  # pragma: no cover - jit
    """Self-guided filter coefficients: ``a = var/(var + eps)``, ``b = (1 − a)·mean`` with
    ``var = max(mean_sq − mean², 0)`` (flat arrays)."""
    for i in prange(mean.shape[0]):
        m = mean[i]
        v = mean_sq[i] - m * m
        if v < 0:
            v = np.float32(0)
        a = v / (v + eps)
        a_out[i] = a
        b_out[i] = (np.float32(1) - a) * m


@nb.njit(parallel=True, **_JIT)
def affine_kernel(a, x, b, out):  # pragma: no cover - jit
    """``out = a·x + b`` (flat arrays)."""
    for i in prange(x.shape[0]):
        out[i] = a[i] * x[i] + b[i]


@nb.njit(inline="always")
def _lut_index(v, scale):  # pragma: no cover - jit
    """round(clip(v, 0, 1)·scale) as an index; NaN → 0."""
    c = v if v > 0 else np.float32(0)
    c = c if c < 1 else np.float32(1)
    return int(c * scale + np.float32(0.5))


@nb.njit(parallel=True, **_JIT)
def ccm_lut_uint_kernel(rgb, m, lut, out):  # pragma: no cover - jit
    """Fused CCM (with the exposure gain folded into ``m``), clip and table encoding:
    ``out[y, x, c] = lut[round(clip((m @ rgb[y, x])_c, 0, 1) · (len(lut) − 1))]``.
    NaN → ``lut[0]``."""
    h, w = rgb.shape[0], rgb.shape[1]
    scale = np.float32(lut.shape[0] - 1)
    m00, m01, m02 = m[0, 0], m[0, 1], m[0, 2]
    m10, m11, m12 = m[1, 0], m[1, 1], m[1, 2]
    m20, m21, m22 = m[2, 0], m[2, 1], m[2, 2]
    for y in prange(h):
        for x in range(w):
            r = rgb[y, x, 0]
            g = rgb[y, x, 1]
            b = rgb[y, x, 2]
            out[y, x, 0] = lut[_lut_index(m00 * r + m01 * g + m02 * b, scale)]
            out[y, x, 1] = lut[_lut_index(m10 * r + m11 * g + m12 * b, scale)]
            out[y, x, 2] = lut[_lut_index(m20 * r + m21 * g + m22 * b, scale)]


@nb.njit(inline="always")
def _reflect101(i, n):  # pragma: no cover - jit
    if i < 0:
        i = -i
    if i >= n:
        i = 2 * n - 2 - i
    return 0 if i < 0 else i


@nb.njit(parallel=True, **_JIT)
def box_mean2_kernel(a, b, radius, out_a, out_b):  # pragma: no cover - jit
    """(2r+1)² box means of two stacks of (H, W) planes, shape (n, H, W), reflect-101
    borders (``cv2.BORDER_REFLECT_101``, scipy ``mode="mirror"``); per row a column-sum
    buffer, then a sliding window."""
    n, h, w = a.shape
    k = 2 * radius + 1
    inv = np.float32(1.0 / (k * k))
    for y in prange(h):
        ca = np.zeros(w + 2 * radius, np.float32)
        cb = np.zeros(w + 2 * radius, np.float32)
        for p in range(n):
            ca[:] = 0
            cb[:] = 0
            for dy in range(-radius, radius + 1):
                yy = _reflect101(y + dy, h)
                for x in range(w):
                    ca[x + radius] += a[p, yy, x]
                    cb[x + radius] += b[p, yy, x]
            for x in range(radius):
                ca[radius - 1 - x] = ca[_reflect101(-1 - x, w) + radius]
                cb[radius - 1 - x] = cb[_reflect101(-1 - x, w) + radius]
                ca[w + radius + x] = ca[_reflect101(w + x, w) + radius]
                cb[w + radius + x] = cb[_reflect101(w + x, w) + radius]
            sa = np.float32(0)
            sb = np.float32(0)
            for x in range(k):
                sa += ca[x]
                sb += cb[x]
            out_a[p, y, 0] = sa * inv
            out_b[p, y, 0] = sb * inv
            for x in range(1, w):
                sa += ca[x + k - 1] - ca[x - 1]
                sb += cb[x + k - 1] - cb[x - 1]
                out_a[p, y, x] = sa * inv
                out_b[p, y, x] = sb * inv
