"""Numba kernels of the ISP hot paths (float32, rows — or runs of rows, or blocks of a flat
array — on numba's threads by :func:`camtwin._jit.on_row_threads`; no ``prange``: a first
use compiles none of numba's parallel passes).

Each kernel has a pure-NumPy reference it must match (tests assert it):

* :func:`malvar_kernel` — ``colour_demosaicing.demosaicing_CFA_Bayer_Malvar2004`` (an
  independent float64 implementation; away from the border),
* :func:`directional_green_kernel`, :func:`residual_interpolation_kernel` —
  :mod:`camtwin.isp._reference` (float64 NumPy/SciPy),
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

from .._jit import FLAT_MIN_PER_THREAD as _FLAT_MIN, NO_ALIAS, on_row_threads, on_rows

_JIT = dict(cache=True, error_model="numpy", nogil=True)


# --------------------------------------------------------------------------- Malvar 2004

@nb.njit(pipeline_class=NO_ALIAS, **_JIT)
def _malvar_rows(mp, chan, out, i0, i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of the Malvar–He–Cutler (2004) demosaic of a Bayer mosaic padded
    by 2 px (:data:`malvar_kernel`, rows on numba's threads).

    ``mp``: (H+4, W+4) float32 padded mosaic; ``chan``: (2, 2) int — channel 0/1/2 of each
    Bayer phase; ``out``: (H, W, 3) float32. The 5×5 filters of the paper (Fig. 2), with
    c the centre sample, X1/X2 the 4-neighbours at distance 1/2, H*/V* their horizontal /
    vertical halves and D the four diagonal neighbours:

    * G at R or B:                 (4c + 2·X1 − X2) / 8
    * R at B, B at R:              (6c + 2·D − 1.5·X2) / 8
    * R (B) at G, R (B) row-wise:  (5c + 4·H1 − H2 − D + ½·V2) / 8   (and transposed).
    """
    w = out.shape[1]
    for y in range(i0, i1):
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


malvar_kernel = on_rows(_malvar_rows, lambda mp, chan, out: out.shape[0], "malvar_kernel")


@nb.njit(**_JIT)
def _bilinear_rows(mp, chan, out, i0, i1):  # pragma: no cover - jit
    """Bayer bilinear demosaic of a mosaic padded by 1 px (REFLECT_101).

    Missing G: mean of the 4 neighbours; missing R/B: mean of the 2 row (or column)
    neighbours at G sites, of the 4 diagonal neighbours at B/R sites — the kernels
    ``[[0,1,0],[1,4,1],[0,1,0]]/4`` and ``[[1,2,1],[2,4,2],[1,2,1]]/4`` on the sparse planes.
    """
    w = out.shape[1]
    q = np.float32(0.25)
    half = np.float32(0.5)
    for y in range(i0, i1):
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


bilinear_kernel = on_rows(_bilinear_rows, lambda mp, chan, out: out.shape[0],
                          "bilinear_kernel")


# --------------------------------------------------------------- directional green (HQ)

@nb.njit(inline="always")
def _hamilton_adams(mp, y, x, dy, dx):  # pragma: no cover - jit
    """Second-order-corrected green estimate along (dy, dx) at a non-green site."""
    return (np.float32(0.5) * (mp[y - dy, x - dx] + mp[y + dy, x + dx])
            + np.float32(0.25) * (np.float32(2) * mp[y, x] - mp[y - 2 * dy, x - 2 * dx]
                                  - mp[y + 2 * dy, x + 2 * dx]))


#: Rows per band of the banded high-quality kernels: each band is computed from scratch
#: (its halo rows recomputed), with band-local buffers instead of full-size intermediates.
HQ_BAND_ROWS = 64


@nb.njit(**_JIT)
def _green_band(mp, is_g, eps, y0, y1, dh, dv, g_out):  # pragma: no cover - jit
    """Rows ``y0 .. y1−1`` of :func:`directional_green_kernel`; ``dh``, ``dv``: buffers of
    ≥ y1 − y0 + 4 padded rows."""
    h, w = g_out.shape
    hp, wp = mp.shape
    # D at the non-green sites of padded rows y0+2 .. y1+5 (the classifier windows of rows
    # y0 .. y1−1), kept inside rows 2 .. hp−3 where both estimates are defined; zero where
    # the partner two pixels on is out of reach
    r0 = y0 + 2
    r1 = min(y1 + 6, hp - 2)
    for y in range(r0, r1):
        py = (y - 4) & 1
        t = y - r0
        for x in range(2, wp - 2):
            if is_g[py, (x - 4) & 1]:
                continue
            if x + 2 < wp - 2:
                ch0 = mp[y, x] - _hamilton_adams(mp, y, x, 0, 1)
                ch2 = mp[y, x + 2] - _hamilton_adams(mp, y, x + 2, 0, 1)
                dh[t, x] = abs(ch0 - ch2)
            else:
                dh[t, x] = np.float32(0)
            if y + 2 < hp - 2:
                cv0 = mp[y, x] - _hamilton_adams(mp, y, x, 1, 0)
                cv2 = mp[y + 2, x] - _hamilton_adams(mp, y + 2, x, 1, 0)
                dv[t, x] = abs(cv0 - cv2)
            else:
                dv[t, x] = np.float32(0)
    # directional activity over the Menon (2007) window and the weighted fusion; every D
    # read here sits on a non-green site of padded rows/cols 2 .. n−3
    for y in range(y0, y1):
        yy = y + 4
        t = yy - r0
        for x in range(w):
            xx = x + 4
            if is_g[y & 1, x & 1]:
                g_out[y, x] = mp[yy, xx]
                continue
            a_h = (np.float32(3) * (dh[t, xx] + dh[t, xx - 2]) + dh[t + 2, xx]
                   + dh[t + 2, xx - 2] + dh[t + 1, xx - 1] + dh[t - 1, xx - 1]
                   + dh[t - 2, xx] + dh[t - 2, xx - 2])
            a_v = (np.float32(3) * (dv[t, xx] + dv[t - 2, xx]) + dv[t, xx + 2]
                   + dv[t - 2, xx + 2] + dv[t - 1, xx + 1] + dv[t - 1, xx - 1]
                   + dv[t, xx - 2] + dv[t - 2, xx - 2])
            wh = (a_v + eps) * (a_v + eps)  # weight of the horizontal estimate ∝ 1/a_h²
            wv = (a_h + eps) * (a_h + eps)
            g_out[y, x] = ((wh * _hamilton_adams(mp, yy, xx, 0, 1)
                            + wv * _hamilton_adams(mp, yy, xx, 1, 0)) / (wh + wv))


def directional_green_kernel(mp, is_g, eps, band, nchunks, g_out) -> None:
    """Green plane by gradient-weighted fusion of horizontal and vertical estimates.

    ``mp``: mosaic padded by 4 px (REFLECT_101); ``is_g``: (2, 2) bool, phase is green;
    ``eps``: gradient floor; ``g_out``: (H, W) float32. See
    :func:`camtwin.isp._reference.directional_green` for the equations. The rows are cut
    into bands of ``band`` rows, the bands into ``nchunks`` runs of consecutive bands on
    numba's threads (:func:`camtwin._jit.on_row_threads`, :func:`_green_chunks`), each
    with its own small buffers (allocated once per run). Per band, two passes:
    the colour-difference gradients D_H, D_V at the non-green sites of the band's rows ± 2
    (the only ones the classifier window reads), then the weighted fusion; the directional
    estimates are recomputed where needed instead of being stored.
    """
    h = g_out.shape[0]
    nbands = (h + band - 1) // band
    nchunks = max(1, min(nchunks, nbands))
    on_row_threads(_green_chunks, (mp, is_g, eps, np.int64(band), np.int64(nbands),
                                   np.int64(nchunks), g_out), nchunks, min_rows=1)


@nb.njit(pipeline_class=NO_ALIAS, **_JIT)
def _green_chunks(mp, is_g, eps, band, nbands, nchunks, g_out, c0,
                  c1):  # pragma: no cover - jit
    """Runs c0 … c1 − 1 of :func:`directional_green_kernel` (one thread, without the
    GIL)."""
    h, wp = g_out.shape[0], mp.shape[1]
    for c in range(c0, c1):
        dh = np.empty((band + 4, wp), np.float32)
        dv = np.empty((band + 4, wp), np.float32)
        for bi in range(c * nbands // nchunks, (c + 1) * nbands // nchunks):
            _green_band(mp, is_g, eps, bi * band, min(bi * band + band, h), dh, dv, g_out)


# --------------------------------------------------------- residual interpolation (HQ)

@nb.njit(inline="always")
def _clamp(i, n):  # pragma: no cover - jit
    return 0 if i < 0 else (n - 1 if i >= n else i)


@nb.njit(inline="always")
def _reflect101(i, n):  # pragma: no cover - jit
    if i < 0:
        i = -i
    if i >= n:
        i = 2 * n - 2 - i
    return 0 if i < 0 else i


# Indexing note for the kernels below: numba wraps negative indices (``a[-1]`` is the last
# element), which costs a compare-and-select per access and blocks vectorisation unless the
# index is provably ≥ 0 — a plain ``range`` counter is, ``base + j`` with a run-time
# ``base`` is not. Offsets are therefore taken into slices (``row[base:]``) and the inner
# loops index those with the bare counter.

@nb.njit(inline="always")
def _parity_window(radius, e):  # pragma: no cover - jit
    """Site-lattice window ``j+lo .. j+hi`` of the pixels ``x = p + e + 2j`` (``e`` = 0 or
    1, ``p`` the sites' phase) within ``radius`` px: ``lo = ceil((e−r)/2)``,
    ``hi = floor((e+r)/2)``."""
    return -((radius - e) // 2), (radius + e) // 2


@nb.njit(inline="always")
def _parity_columns(px, e, w):  # pragma: no cover - jit
    """Lattice indices ``j0 .. j1−1`` of the image columns ``x = px + e + 2j`` in [0, W)
    (``j0`` is −1 for the column 0 left of the first site)."""
    return -((px + e) // 2), (w - px - e + 1) // 2


@nb.njit(**_JIT)
def _window_sums(src, n, nq, dst):  # pragma: no cover - jit
    """``dst[j] = src[j] + … + src[j+nq−1]`` (summed in that order) for j < n; the window
    lengths of radius 1–3 (2 and 3 terms) get a single fused pass."""
    if nq == 2:
        for j in range(n):
            dst[j] = src[j] + src[j + 1]
    elif nq == 3:
        for j in range(n):
            dst[j] = src[j] + src[j + 1] + src[j + 2]
    else:
        for j in range(n):
            dst[j] = src[j]
        for q in range(1, nq):
            sq = src[q:]
            for j in range(n):
                dst[j] += sq[j]


@nb.njit(**_JIT)
def _pad_ends(v, pad, n):  # pragma: no cover - jit
    """``v[pad : pad+n]`` holds a row; fill ``pad`` clamped copies of its end samples on
    both sides."""
    for q in range(pad):
        v[q] = v[pad]
        v[pad + n + q] = v[pad + n - 1]


@nb.njit(**_JIT)
def _ri_coefficient_row(g, m, py, px, y, radius, eps, work, a_row,
                        b_row):  # pragma: no cover - jit
    """Guided-filter coefficients of image row ``y`` fitted on one colour's sites.

    Sites of the colour: rows ``py + 2i``, columns ``px + 2j``. For every pixel of the row,
    over the sites within ``radius`` pixels (Chebyshev), indices clamped at the border:
    ``a = cov(G, M) / (var(G) + eps)``, ``b = mean(M) − a·mean(G)``. ``work``: (8, ≥ W/2
    + 2R) buffer, R = r//2 + 1. The sums over the window's site rows are first formed per
    site column (rows 0–3 of ``work``: the lattice row from index R, with R clamped copies
    of its end samples on both sides), then summed over the window's site columns — a
    window of fixed length for each parity of ``x − px`` — into rows 4–7; every inner loop
    is a plain pass over contiguous buffers (vectorised), the coefficients are written
    to every other pixel of the row last.
    """
    h, w = g.shape
    h2 = (h - py + 1) // 2
    w2 = (w - px + 1) // 2
    pad = radius // 2 + 1
    cg, cm, cgm, cgg = work[0, pad:], work[1, pad:], work[2, pad:], work[3, pad:]
    s0, s1, s2, s3 = work[4], work[5], work[6], work[7]
    i0 = (y - radius - py + 1) // 2  # ceil((y − r − py)/2)
    i1 = (y + radius - py) // 2
    for i in range(i0, i1 + 1):
        ys = py + 2 * _clamp(i, h2)
        gr = g[ys, px:]
        mr = m[ys, px:]
        if i == i0:
            for j in range(w2):
                gi = gr[2 * j]
                mi = mr[2 * j]
                cg[j] = gi
                cm[j] = mi
                cgm[j] = gi * mi
                cgg[j] = gi * gi
        else:
            for j in range(w2):
                gi = gr[2 * j]
                mi = mr[2 * j]
                cg[j] += gi
                cm[j] += mi
                cgm[j] += gi * mi
                cgg[j] += gi * gi
    for k in range(4):
        _pad_ends(work[k], pad, w2)
    for e in range(2):
        lo, hi = _parity_window(radius, e)
        nq = hi - lo + 1
        inv_n = np.float32(1) / (np.float32(i1 - i0 + 1) * np.float32(nq))
        j0, j1 = _parity_columns(px, e, w)
        n = j1 - j0
        base = pad + j0 + lo  # ≥ 0: the padding covers the window
        for k in range(4):
            _window_sums(work[k, base:], n, nq, work[4 + k])
        for j in range(n):
            mg = s0[j] * inv_n
            mm = s1[j] * inv_n
            var = max(s3[j] * inv_n - mg * mg, np.float32(0))
            a = (s2[j] * inv_n - mg * mm) / (var + eps)
            s0[j] = a
            s1[j] = mm - a * mg
        x0 = px + e + 2 * j0  # 0 or 1
        ar = a_row[x0:]
        br = b_row[x0:]
        for j in range(n):
            ar[2 * j] = s0[j]
            br[2 * j] = s1[j]


@nb.njit(**_JIT)
def _box_row(ring, t0, radius, col, out_row):  # pragma: no cover - jit
    """``out_row`` = (2r+1)² box mean of the rows ``t0 .. t0+2r`` held in the ring buffer
    ``ring`` (row t in slot t mod (2r+1); summed in the order of t, so the result does not
    depend on where the ring starts), columns reflect-101 (``cv2.BORDER_REFLECT_101``);
    ``col``: buffer of length W + 2r. Vertical then horizontal sums, each a plain
    vectorisable pass."""
    w = ring.shape[1]
    k = 2 * radius + 1
    inv = np.float32(1.0 / (k * k))
    cv = col[radius:]
    row = ring[t0 % k]
    for x in range(w):
        cv[x] = row[x]
    for dy in range(1, k):
        row = ring[(t0 + dy) % k]
        for x in range(w):
            cv[x] += row[x]
    for x in range(radius):
        col[radius - 1 - x] = cv[_reflect101(-1 - x, w)]
        col[w + radius + x] = cv[_reflect101(w + x, w)]
    _window_sums(col, w, k, out_row)
    for x in range(w):
        out_row[x] *= inv


@nb.njit(**_JIT)
def _ri_residual_row(g, m, y, px, ma_row, mb_row, res_row):  # pragma: no cover - jit
    """Residual ``M − (ā·G + b̄)`` at the sites (columns ``px + 2j``) of site row ``y``,
    stored from index 1 of ``res_row`` with one clamped copy of each end sample beside
    it (the bilinear interpolation then needs no index clamping)."""
    w = g.shape[1]
    w2 = (w - px + 1) // 2
    gr, mr, ar, br = g[y, px:], m[y, px:], ma_row[px:], mb_row[px:]
    rv = res_row[1:]
    for j in range(w2):
        rv[j] = mr[2 * j] - (ar[2 * j] * gr[2 * j] + br[2 * j])
    _pad_ends(res_row, 1, w2)


@nb.njit(**_JIT)
def _ri_finish_row(g, m, y, py, px, ma_row, mb_row, res_a, res_b,
                   dst):  # pragma: no cover - jit
    """Output row ``y`` of one colour into ``dst``: ``ā·G + b̄`` plus the residual
    interpolated bilinearly from the site rows ``res_a`` (at or above ``y``) and ``res_b``
    (below) — stored as :func:`_ri_residual_row` does, so site column j is at j + 1 and
    the clamped ends sit beside the row; at the colour's own sites the sample itself."""
    w = g.shape[1]
    odd_y = (y - py) & 1
    gr, mr = g[y], m[y]
    half = np.float32(0.5)
    quarter = np.float32(0.25)
    for e in range(2):
        j0, j1 = _parity_columns(px, e, w)
        n = j1 - j0
        x0 = px + e + 2 * j0  # 0 or 1
        d, gx, mx, ax, bx = dst[x0:], gr[x0:], mr[x0:], ma_row[x0:], mb_row[x0:]
        ra = res_a[j0 + 1:]  # ra[j] = residual at site column j0 + j (clamped)
        rb = res_b[j0 + 1:]
        if odd_y == 0 and e == 0:  # the colour's own sites: the sample, bit-exact
            for j in range(n):
                d[2 * j] = mx[2 * j]
        elif e == 0:  # site column, between two site rows
            for j in range(n):
                d[2 * j] = ax[2 * j] * gx[2 * j] + bx[2 * j] + half * (ra[j] + rb[j])
        elif odd_y == 0:  # site row, between two site columns
            for j in range(n):
                d[2 * j] = ax[2 * j] * gx[2 * j] + bx[2 * j] + half * (ra[j] + ra[j + 1])
        else:
            for j in range(n):
                d[2 * j] = (ax[2 * j] * gx[2 * j] + bx[2 * j]
                            + quarter * (ra[j] + ra[j + 1] + rb[j] + rb[j + 1]))


@nb.njit(**_JIT)
def _ri_rows(g, m, phases, channels, radius, eps, y0, y1, a, b, ma, mb, res, work, col,
             rows, out):  # pragma: no cover - jit
    """Rows ``y0 .. y1−1`` of :func:`residual_interpolation_kernel`, streamed through ring
    buffers.

    ``a``, ``b``: (n, 2r+1, W) rings of coefficient rows; ``ma``, ``mb``: (n, 3, W) rings
    of their box means; ``res``: (n, 3, ⌈W/2⌉ + 2) ring of residual rows (row y in slot
    y mod 3); ``work``, ``col``: row buffers; ``rows``: (3, W) output row. Step Y computes
    the coefficient rows up to Y + r, the box means and residuals of row Y, and finishes
    row Y − 1.
    """
    h, w = g.shape
    nk = phases.shape[0]
    k2 = 2 * radius + 1
    ya = max(y0 - 1, 0)  # rows ya .. yb−1 need ā, b̄ and residuals
    yb = min(y1 + 1, h)
    t_next = ya - radius  # next coefficient row to compute (unreflected index)
    for yy in range(ya, yb + 1):
        if yy < yb:
            while t_next <= yy + radius:
                for k in range(nk):
                    _ri_coefficient_row(g, m, phases[k, 0], phases[k, 1],
                                        _reflect101(t_next, h), radius, eps, work,
                                        a[k, t_next % k2], b[k, t_next % k2])
                t_next += 1
            for k in range(nk):
                _box_row(a[k], yy - radius, radius, col, ma[k, yy % 3])
                _box_row(b[k], yy - radius, radius, col, mb[k, yy % 3])
                if (yy - phases[k, 0]) & 1 == 0:
                    _ri_residual_row(g, m, yy, phases[k, 1], ma[k, yy % 3], mb[k, yy % 3],
                                     res[k, yy % 3])
        y = yy - 1  # finish row y: needs rows y−1 .. y+1 (clamped to the image)
        if y < y0 or y >= y1:
            continue
        rows[1, :] = g[y]
        for k in range(nk):
            py = phases[k, 0]
            h2 = (h - py + 1) // 2
            i0 = (y - py) >> 1  # floor
            _ri_finish_row(g, m, y, py, phases[k, 1], ma[k, y % 3], mb[k, y % 3],
                           res[k, (py + 2 * _clamp(i0, h2)) % 3],
                           res[k, (py + 2 * _clamp(i0 + 1, h2)) % 3], rows[channels[k]])
        orow = out[y]
        r0, r1, r2 = rows[0], rows[1], rows[2]
        for x in range(w):
            orow[x, 0] = r0[x]
            orow[x, 1] = r1[x]
            orow[x, 2] = r2[x]


def residual_interpolation_kernel(g, m, phases, channels, radius, eps, nchunks,
                                  out) -> None:
    """Residual interpolation of the non-green colours, streamed row by row; writes ``out``.

    ``g``: (H, W) green plane; ``m``: (H, W) mosaic; ``phases``: (n, 2) int — (row,
    column) offset of colour k's sites; ``channels``: (n,) output channel of colour k;
    ``out``: (H, W, 3) — channels ``channels`` and 1 (a copy of ``g``) are written. The
    rows are cut into ``nchunks`` runs on numba's threads
    (:func:`camtwin._jit.on_row_threads`, :func:`_ri_chunks`), each streamed through its own ring
    buffers of a few rows (:func:`_ri_rows`; they stay in cache), with no full-size
    intermediate.

    Per colour:

    1. guided-filter coefficients ``a``, ``b`` of every row (:func:`_ri_coefficient_row`;
       rows beyond the border reflect-101);
    2. their (2r+1)² box means ``ā``, ``b̄`` (reflect-101);
    3. the residual ``M − (ā·G + b̄)`` at the colour's sites;
    4. the tentative estimate ``ā·G + b̄`` plus the bilinearly interpolated residual
       (site-lattice indices clamped); at a colour's own sites the output is the sample
       itself, bit-exact.

    Each run recomputes the few rows of its neighbours it needs, in the same order of
    operations, so the output does not depend on ``nchunks``.
    """
    nchunks = max(1, min(nchunks, g.shape[0]))
    on_row_threads(_ri_chunks, (g, m, phases, channels, np.int64(radius), eps,
                                np.int64(nchunks), out), nchunks, min_rows=1)


@nb.njit(pipeline_class=NO_ALIAS, **_JIT)
def _ri_chunks(g, m, phases, channels, radius, eps, nchunks, out, c0,
               c1):  # pragma: no cover - jit
    """Runs c0 … c1 − 1 of :func:`residual_interpolation_kernel` (one thread, without the
    GIL)."""
    h, w = g.shape
    nk = phases.shape[0]
    w2max = (w + 1) // 2
    for c in range(c0, c1):
        a = np.empty((nk, 2 * radius + 1, w), np.float32)
        b = np.empty_like(a)
        ma = np.empty((nk, 3, w), np.float32)
        mb = np.empty_like(ma)
        res = np.empty((nk, 3, w2max + 2), np.float32)
        work = np.empty((8, w2max + 2 * (radius // 2 + 1)), np.float32)
        col = np.empty(w + 2 * radius, np.float32)
        rows = np.empty((3, w), np.float32)
        _ri_rows(g, m, phases, channels, radius, eps, c * h // nchunks, (c + 1) * h // nchunks,
                 a, b, ma, mb, res, work, col, rows, out)


# --------------------------------------------------------------------------- colour, tone

@nb.njit(**_JIT)
def _ccm_rows(rgb, m, out, i0, i1):  # pragma: no cover - jit
    """``out[y, x] = m @ rgb[y, x]`` for a (3, 3) float32 matrix."""
    w = rgb.shape[1]
    for y in range(i0, i1):
        for x in range(w):
            r = rgb[y, x, 0]
            g = rgb[y, x, 1]
            b = rgb[y, x, 2]
            out[y, x, 0] = m[0, 0] * r + m[0, 1] * g + m[0, 2] * b
            out[y, x, 1] = m[1, 0] * r + m[1, 1] * g + m[1, 2] * b
            out[y, x, 2] = m[2, 0] * r + m[2, 1] * g + m[2, 2] * b


ccm_kernel = on_rows(_ccm_rows, lambda rgb, m, out: rgb.shape[0], "ccm_kernel")


@nb.njit(**_JIT)
def _lut_rows(flat, lut, out, i0, i1):  # pragma: no cover - jit
    """Piecewise-linear table lookup on [0, 1]: ``lut`` holds f at ``k/(len−1)``.

    Inputs are clipped to [0, 1] first; NaN maps to ``lut[0]``.
    """
    n = lut.shape[0] - 1
    scale = np.float32(n)
    for i in range(i0, i1):
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


lut_kernel = on_rows(_lut_rows, lambda flat, lut, out: flat.shape[0], "lut_kernel",
                     _FLAT_MIN)


@nb.njit(**_JIT)
def _quantise_rows(flat, top, out, i0, i1):  # pragma: no cover - jit
    """``round_half_even(clip(v, 0, 1) · top)``; NaN → 0 (elements i0 … i1 − 1)."""
    for i in range(i0, i1):
        v = flat[i]
        if not v > 0:
            out[i] = 0
        elif v >= 1:
            out[i] = top
        else:
            out[i] = np.rint(v * top)


quantise_kernel = on_rows(_quantise_rows, lambda flat, top, out: flat.shape[0],
                          "quantise_kernel", _FLAT_MIN)


@nb.njit(**_JIT)
def _normalise_rows(dn, black, inv_range, out, i0, i1):  # pragma: no cover - jit
    """``(dn − black) · inv_range`` as float32."""
    w = dn.shape[1]
    for y in range(i0, i1):
        for x in range(w):
            out[y, x] = (np.float32(dn[y, x]) - black) * inv_range


normalise_kernel = on_rows(_normalise_rows,
                           lambda dn, black, inv_range, out: dn.shape[0],
                           "normalise_kernel")


@nb.njit(**_JIT)
def _phase_gain_rows(m, gains, clip, out, i0, i1):  # pragma: no cover - jit
    """``min(m · gains[y mod P, x mod Q], clip)`` (per-CFA-position gain, then clip)."""
    w = m.shape[1]
    ph, pw = gains.shape
    for y in range(i0, i1):
        g_row = gains[y % ph]
        for p in range(min(pw, w)):
            gp = g_row[p]
            src = m[y, p:]
            dst = out[y, p:]
            for j in range((w - p + pw - 1) // pw):
                v = src[pw * j] * gp
                dst[pw * j] = v if v < clip else clip


phase_gain_kernel = on_rows(_phase_gain_rows,
                            lambda m, gains, clip, out: m.shape[0],
                            "phase_gain_kernel")


@nb.njit(**_JIT)
def _square_rows(x, out, i0, i1):  # pragma: no cover - jit
    """``out = x²`` (flat arrays, elements i0 … i1 − 1)."""
    for i in range(i0, i1):
        out[i] = x[i] * x[i]


square_kernel = on_rows(_square_rows, lambda x, out: x.shape[0], "square_kernel", _FLAT_MIN)


@nb.njit(**_JIT)
def _guided_ab_rows(mean, mean_sq, eps, a_out, b_out, i0, i1):  # pragma: no cover - jit
    """Self-guided filter coefficients: ``a = var/(var + eps)``, ``b = (1 − a)·mean`` with
    ``var = max(mean_sq − mean², 0)`` (flat arrays, elements i0 … i1 − 1)."""
    for i in range(i0, i1):
        m = mean[i]
        v = mean_sq[i] - m * m
        if v < 0:
            v = np.float32(0)
        a = v / (v + eps)
        a_out[i] = a
        b_out[i] = (np.float32(1) - a) * m


guided_ab_kernel = on_rows(_guided_ab_rows,
                           lambda mean, mean_sq, eps, a_out, b_out: mean.shape[0],
                           "guided_ab_kernel", _FLAT_MIN)


@nb.njit(**_JIT)
def _affine_rows(a, x, b, out, i0, i1):  # pragma: no cover - jit
    """``out = a·x + b`` (flat arrays, elements i0 … i1 − 1)."""
    for i in range(i0, i1):
        out[i] = a[i] * x[i] + b[i]


affine_kernel = on_rows(_affine_rows, lambda a, x, b, out: x.shape[0], "affine_kernel",
                        _FLAT_MIN)


@nb.njit(inline="always")
def _lut_index(v, scale):  # pragma: no cover - jit
    """round(clip(v, 0, 1)·scale) as an index; NaN → 0."""
    c = v if v > 0 else np.float32(0)
    c = c if c < 1 else np.float32(1)
    return int(c * scale + np.float32(0.5))


@nb.njit(pipeline_class=NO_ALIAS, **_JIT)
def _ccm_lut_uint_rows(rgb, m, lut, out, i0, i1):  # pragma: no cover - jit
    """Fused CCM (with the exposure gain folded into ``m``), clip and table encoding:
    ``out[y, x, c] = lut[round(clip((m @ rgb[y, x])_c, 0, 1) · (len(lut) − 1))]``.
    NaN → ``lut[0]`` (rows i0 … i1 − 1: :data:`ccm_lut_uint_kernel`)."""
    w = rgb.shape[1]
    scale = np.float32(lut.shape[0] - 1)
    m00, m01, m02 = m[0, 0], m[0, 1], m[0, 2]
    m10, m11, m12 = m[1, 0], m[1, 1], m[1, 2]
    m20, m21, m22 = m[2, 0], m[2, 1], m[2, 2]
    for y in range(i0, i1):
        for x in range(w):
            r = rgb[y, x, 0]
            g = rgb[y, x, 1]
            b = rgb[y, x, 2]
            out[y, x, 0] = lut[_lut_index(m00 * r + m01 * g + m02 * b, scale)]
            out[y, x, 1] = lut[_lut_index(m10 * r + m11 * g + m12 * b, scale)]
            out[y, x, 2] = lut[_lut_index(m20 * r + m21 * g + m22 * b, scale)]


ccm_lut_uint_kernel = on_rows(_ccm_lut_uint_rows, lambda rgb, m, lut, out: rgb.shape[0],
                              "ccm_lut_uint_kernel")
