"""Numba kernels of the burst aligner; :mod:`camtwin.burst.align` holds the NumPy
references they must match (tested).

Images are float32 (H, W); tiles are ``t × t`` blocks with top-left corners (ty, tx);
displaced samples outside the image are clamped to the border (replicate).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .._jit import NO_ALIAS, on_row_threads

#: Tiles per thread below which the tile kernels use fewer threads.
_MIN_TILES = 16


@nb.njit(cache=True, inline="always")
def _clamp(v, n):
    return 0 if v < 0 else (n - 1 if v > n - 1 else v)


@nb.njit(cache=True)
def _tile_cost(ref, alt, ty, tx, t, dy, dx, l1, lanes):
    """Σ over the t × t tile at (ty, tx) of |ref(p) − alt(p + d)| (``l1``) or its square.

    Interior tiles take row slices, so the inner loop indexes with the bare counter (no
    negative-index wraparound) and accumulates one partial sum per column (no serial
    float reduction; ``lanes``: float64 scratch of ≥ t): both vectorise. The column sums
    are added in column order.
    """
    h, w = alt.shape
    if ty + dy >= 0 and tx + dx >= 0 and ty + dy + t <= h and tx + dx + t <= w:
        lanes[:t] = 0.0
        for i in range(t):
            rr = ref[ty + i, tx:]
            ar = alt[ty + dy + i, tx + dx:]
            for j in range(t):
                d = rr[j] - ar[j]
                lanes[j] += abs(d) if l1 else d * d
        acc = 0.0
        for j in range(t):
            acc += lanes[j]
        return acc
    acc = 0.0
    for i in range(t):
        r = ty + i
        ra = _clamp(r + dy, h)
        for j in range(t):
            c = tx + j
            d = ref[r, c] - alt[ra, _clamp(c + dx, w)]
            acc += abs(d) if l1 else d * d
    return acc


@nb.njit(cache=True, inline="always")
def _refine(ref, alt, ty, tx, t, by, bx, best, radius, l1, lanes):
    """Best of the integer displacements within ±radius of (by, bx), starting from the
    cost ``best`` of (by, bx) itself (inf: not evaluated yet, so the centre is tried too).
    Returns (dy, dx, cost)."""
    oy, ox = by, bx
    centre_known = best < np.inf
    for u in range(-radius, radius + 1):
        for v in range(-radius, radius + 1):
            if centre_known and u == 0 and v == 0:
                continue
            c = _tile_cost(ref, alt, ty, tx, t, by + u, bx + v, l1, lanes)
            if c < best:
                best, oy, ox = c, by + u, bx + v
    return oy, ox, best


def tile_search(ref, alt, ty, tx, t, init, radius, l1):
    """Best integer displacement per tile within ±radius of ``init`` (n, 2) int32.

    Returns (disp (n, 2) int32, cost (n,) float64): argmin over d of
    Σ_tile |ref(p) − alt(p + d)|^q, q = 1 (``l1``) or 2. Blocks of tiles on numba's
    threads (:func:`camtwin._jit.on_row_threads`, :func:`_tile_search_rows`).
    """
    return _best_per_tile(_tile_search_rows, (ref, alt, ty, tx, np.int64(t), init,
                                              np.int64(radius), bool(l1)), ty.size)


def _best_per_tile(kernel, args, n):
    """(disp (n, 2) int32, cost (n,) float64) filled by ``kernel(*args, disp, cost, k0,
    k1)`` over blocks of the n tiles on numba's threads (:func:`tile_search`,
    :func:`search_candidates`)."""
    out = np.empty((n, 2), dtype=np.int32)
    best_cost = np.empty(n, dtype=np.float64)
    on_row_threads(kernel, (*args, out, best_cost), n, _MIN_TILES)
    return out, best_cost


@nb.njit(cache=True, nogil=True)
def _tile_search_rows(ref, alt, ty, tx, t, init, radius, l1, out, best_cost, k0,
                      k1):  # pragma: no cover - jit
    """Tiles k0 … k1 − 1 of :func:`tile_search` (one thread, without the GIL)."""
    lanes = np.empty(t)
    for k in range(k0, k1):
        oy, ox, best = _refine(ref, alt, ty[k], tx[k], t, init[k, 0], init[k, 1], np.inf,
                               radius, l1, lanes)
        out[k, 0], out[k, 1] = oy, ox
        best_cost[k] = best


def search_candidates(ref, alt, ty, tx, t, cands, radius, l1):
    """Per tile: the cheapest of the candidate displacements ``cands`` (c, n, 2) int32,
    then the best integer displacement within ±radius of it (as :func:`tile_search`)."""
    return _best_per_tile(_search_candidates_rows, (ref, alt, ty, tx, np.int64(t), cands,
                                                    np.int64(radius), bool(l1)), ty.size)


@nb.njit(cache=True, nogil=True)
def _search_candidates_rows(ref, alt, ty, tx, t, cands, radius, l1, out, best_cost, k0,
                            k1):  # pragma: no cover - jit
    """Tiles k0 … k1 − 1 of :func:`search_candidates` (one thread, without the GIL)."""
    lanes = np.empty(t)
    for k in range(k0, k1):
        best = np.inf
        by, bx = cands[0, k, 0], cands[0, k, 1]
        for q in range(cands.shape[0]):
            cy, cx = cands[q, k, 0], cands[q, k, 1]
            dup = False
            for q2 in range(q):
                if cands[q2, k, 0] == cy and cands[q2, k, 1] == cx:
                    dup = True
            if dup:
                continue
            c = _tile_cost(ref, alt, ty[k], tx[k], t, cy, cx, l1, lanes)
            if c < best:
                best, by, bx = c, cy, cx
        oy, ox, best = _refine(ref, alt, ty[k], tx[k], t, by, bx, best, radius, l1, lanes)
        out[k, 0], out[k, 1] = oy, ox
        best_cost[k] = best


def l2_neighbourhood(ref, alt, ty, tx, t, disp):
    """3×3 L2 costs around each tile's integer displacement, (n, 3, 3) float64."""
    out = np.empty((ty.size, 3, 3), dtype=np.float64)
    on_row_threads(_l2_rows, (ref, alt, ty, tx, np.int64(t), disp, out), ty.size, _MIN_TILES)
    return out


@nb.njit(cache=True, nogil=True)
def _l2_rows(ref, alt, ty, tx, t, disp, out, k0, k1):  # pragma: no cover - jit
    """Tiles k0 … k1 − 1 of :func:`l2_neighbourhood` (one thread, without the GIL)."""
    lanes = np.empty(t)
    for k in range(k0, k1):
        for u in range(3):
            for v in range(3):
                out[k, u, v] = _tile_cost(ref, alt, ty[k], tx[k], t, disp[k, 0] + u - 1,
                                          disp[k, 1] + v - 1, False, lanes)


@nb.njit(cache=True, inline="always")
def _bilinear(img, y, x):
    h, w = img.shape
    if y < 0.0:
        y = 0.0
    if x < 0.0:
        x = 0.0
    if y > h - 1.0:
        y = h - 1.0
    if x > w - 1.0:
        x = w - 1.0
    y0 = min(int(y), h - 2) if h > 1 else 0
    x0 = min(int(x), w - 2) if w > 1 else 0
    a = y - y0
    b = x - x0
    y1 = min(y0 + 1, h - 1)
    x1 = min(x0 + 1, w - 1)
    return ((1 - a) * ((1 - b) * img[y0, x0] + b * img[y0, x1])
            + a * ((1 - b) * img[y1, x0] + b * img[y1, x1]))


@nb.njit(cache=True)
def _lk_normal_equations(ref, alt, gy, gx, ty, tx, t, dy, dx, lanes):
    """Σ g_y², Σ g_y·g_x, Σ g_x², Σ g_y·e, Σ g_x·e over the tile for displacement (dy, dx)
    (see :func:`lucas_kanade`); ``lanes``: (5, t) float64 scratch.

    The fractional part of the displacement, hence the bilinear weights, is the same for
    every pixel of the tile; tiles whose samples stay inside the image read row slices
    with fixed weights (vectorised), the others clamp each sample (:func:`_bilinear`).
    """
    h, w = alt.shape
    y0f = np.floor(ty + dy)
    x0f = np.floor(tx + dx)
    sums = np.zeros(5)
    if y0f >= 0 and x0f >= 0 and y0f + t + 1 <= h and x0f + t + 1 <= w:
        y0 = int(y0f)
        x0 = int(x0f)
        a = ty + dy - y0f
        b = tx + dx - x0f
        w00 = np.float32((1 - a) * (1 - b))
        w01 = np.float32((1 - a) * b)
        w10 = np.float32(a * (1 - b))
        w11 = np.float32(a * b)
        lanes[:, :t] = 0.0
        l0, l1, l2, l3, l4 = lanes[0], lanes[1], lanes[2], lanes[3], lanes[4]
        for i in range(t):
            rr = ref[ty + i, tx:]
            a0, a1 = alt[y0 + i, x0:], alt[y0 + i + 1, x0:]
            p0, p1 = gy[y0 + i, x0:], gy[y0 + i + 1, x0:]
            q0, q1 = gx[y0 + i, x0:], gx[y0 + i + 1, x0:]
            for j in range(t):
                av = w00 * a0[j] + w01 * a0[j + 1] + w10 * a1[j] + w11 * a1[j + 1]
                g1 = w00 * p0[j] + w01 * p0[j + 1] + w10 * p1[j] + w11 * p1[j + 1]
                g2 = w00 * q0[j] + w01 * q0[j + 1] + w10 * q1[j] + w11 * q1[j + 1]
                e = rr[j] - av
                l0[j] += g1 * g1
                l1[j] += g1 * g2
                l2[j] += g2 * g2
                l3[j] += g1 * e
                l4[j] += g2 * e
        for q in range(5):
            for j in range(t):
                sums[q] += lanes[q, j]
        return sums[0], sums[1], sums[2], sums[3], sums[4]
    for i in range(t):
        r = ty + i
        for j in range(t):
            c = tx + j
            yy = r + dy
            xx = c + dx
            av = _bilinear(alt, yy, xx)
            g1 = _bilinear(gy, yy, xx)
            g2 = _bilinear(gx, yy, xx)
            e = ref[r, c] - av
            sums[0] += g1 * g1
            sums[1] += g1 * g2
            sums[2] += g2 * g2
            sums[3] += g1 * e
            sums[4] += g2 * e
    return sums[0], sums[1], sums[2], sums[3], sums[4]


def lucas_kanade(ref, alt, gy, gx, ty, tx, t, disp, iterations, min_det):
    """Gauss–Newton refinement of a translation per tile (Lucas & Kanade 1981).

    With a(p) = alt(p + d) sampled bilinearly and g its gradient, each step solves
    [Σg_y² Σg_yg_x; Σg_yg_x Σg_x²]·δ = Σ g·(ref − a) and sets d ← d + δ (|δ| ≤ 0.5 per
    component). Tiles whose normal matrix is near-singular (det < ``min_det``, no texture
    in some direction) keep their displacement. Returns the refined copy of ``disp``
    (n, 2) float64. Blocks of tiles on numba's threads (:func:`_lucas_kanade_rows`).
    """
    out = np.array(disp, dtype=np.float64, copy=True)
    on_row_threads(_lucas_kanade_rows, (ref, alt, gy, gx, ty, tx, np.int64(t), out,
                                        np.int64(iterations), float(min_det)),
                   ty.size, _MIN_TILES)
    return out


@nb.njit(cache=True, nogil=True)
def _lucas_kanade_rows(ref, alt, gy, gx, ty, tx, t, out, iterations, min_det, k0,
                       k1):  # pragma: no cover - jit
    """Tiles k0 … k1 − 1 of :func:`lucas_kanade` (one thread, without the GIL)."""
    lanes = np.empty((5, t), dtype=np.float64)
    for k in range(k0, k1):
        dy, dx = out[k, 0], out[k, 1]
        for _ in range(iterations):
            syy, syx, sxx, by, bx = _lk_normal_equations(ref, alt, gy, gx, ty[k], tx[k], t,
                                                         dy, dx, lanes)
            det = syy * sxx - syx * syx
            if det < min_det:
                break
            sy = (sxx * by - syx * bx) / det
            sx = (syy * bx - syx * by) / det
            sy = max(-0.5, min(0.5, sy))
            sx = max(-0.5, min(0.5, sx))
            dy += sy
            dx += sx
            if abs(sy) < 1e-3 and abs(sx) < 1e-3:
                break
        out[k, 0], out[k, 1] = dy, dx


@nb.njit(parallel=True, cache=True)
def gather_windowed(planes, ty, tx, iy, ix, win, out):
    """out[p, k] = win · planes[p, ty_k + iy_k + (0..n), tx_k + ix_k + (0..n)] (clamped).

    NumPy reference: :func:`camtwin.burst.merge._gather` times the window.
    """
    n_p, h, w = planes.shape
    n = win.shape[0]
    for k in nb.prange(ty.size):
        r0 = ty[k] + iy[k]
        c0 = tx[k] + ix[k]
        inside = r0 >= 0 and c0 >= 0 and r0 + n <= h and c0 + n <= w
        for p in range(n_p):
            for i in range(n):
                wr = win[i]
                o = out[p, k, i]
                if inside:
                    src = planes[p, r0 + i, c0:]
                    for j in range(n):
                        o[j] = src[j] * wr[j]
                else:
                    r = _clamp(r0 + i, h)
                    for j in range(n):
                        o[j] = planes[p, r, _clamp(c0 + j, w)] * wr[j]


@nb.njit(inline="always")
def _symmetric(i, n):
    """Index into n samples extended by mirror reflection including the edge sample
    (``numpy.pad(mode="symmetric")``, ``cv2.BORDER_REFLECT``); |overhang| ≤ n."""
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - 1 - i
    return i


def padded_planes(dn, black, pad, out):
    """The four 2×2 polyphase planes of a raw mosaic, black removed, padded by symmetric
    reflection: ``out[p, y, x] = dn[2·s(y − pad) + p//2, 2·s(x − pad) + p%2] − black``
    with s the mirror index on the (H/2, W/2) plane grid (:func:`_symmetric`); ``out``:
    (4, hp, wp) float32, ``pad`` samples on the top/left. NumPy reference:
    ``numpy.pad(raw_planes(frame), …, mode="symmetric")``. Rows on numba's threads
    (:func:`_padded_planes_rows`).
    """
    on_row_threads(_padded_planes_rows, (dn, np.float32(black), np.int64(pad), out),
                   out.shape[1])


@nb.njit(cache=True, nogil=True, pipeline_class=NO_ALIAS)
def _padded_planes_rows(dn, blk, pad, out, y0, y1):  # pragma: no cover - jit
    """Padded rows y0 … y1 − 1 of :func:`padded_planes` (one thread, without the GIL)."""
    wp = out.shape[2]
    h2 = dn.shape[0] // 2
    w2 = dn.shape[1] // 2
    for y in range(y0, y1):
        sy = _symmetric(y - pad, h2)
        for p in range(4):
            src = dn[2 * sy + (p >> 1), (p & 1):]
            o = out[p, y]
            mid = o[pad:]
            for j in range(w2):
                mid[j] = np.float32(src[2 * j]) - blk
            for x in range(pad):
                o[x] = np.float32(src[2 * _symmetric(x - pad, w2)]) - blk
            for x in range(pad + w2, wp):
                o[x] = np.float32(src[2 * _symmetric(x - pad, w2)]) - blk


@nb.njit(parallel=True, cache=True)
def wiener_accumulate(t0, tz, thresh, fy, fx, ky, kx, acc, rejected):
    """Robust merge of one alternate frame into ``acc`` (Hasinoff et al. 2016, eqs. 6–7).

    Per plane p, tile k and frequency (u, v): T'_z = T_z·exp(2πi(k_y[u]·f_y + k_x[v]·f_x))
    (sub-pixel shift), D = T₀ − T'_z, A = |D|²/(|D|² + thresh[p, k]),
    acc += T'_z + A·D, rejected[k] += A. NumPy reference: :func:`camtwin.burst.merge.
    wiener_accumulate_reference`.

    ``t0``, ``tz``, ``acc``: float32 (P, m, 2·n·n_k) — the (n, n_k) complex64 spectra
    viewed as interleaved (re, im) pairs, frequency q = u·n_k + v; all arithmetic in
    float32 on real and imaginary parts (vectorised over q); the phase ramp of a tile is
    formed once (n + n_k sines and cosines) and shared by its planes.
    """
    n_p, m, _ = t0.shape
    n = ky.size
    nk = kx.size
    nq = n * nk
    for k in nb.prange(m):
        er = np.empty(nq, dtype=np.float32)
        ei = np.empty(nq, dtype=np.float32)
        lane = np.zeros(nq, dtype=np.float32)
        for u in range(n):
            ay = 2.0 * np.pi * ky[u] * fy[k]
            cy, sy = np.cos(ay), np.sin(ay)
            for v in range(nk):
                ax = 2.0 * np.pi * kx[v] * fx[k]
                cx, sx = np.cos(ax), np.sin(ax)
                er[u * nk + v] = cy * cx - sy * sx
                ei[u * nk + v] = cy * sx + sy * cx
        for p in range(n_p):
            th = thresh[p, k]
            a0 = t0[p, k]
            az = tz[p, k]
            ac = acc[p, k]
            for q in range(nq):
                zr = az[2 * q] * er[q] - az[2 * q + 1] * ei[q]
                zi = az[2 * q] * ei[q] + az[2 * q + 1] * er[q]
                dr = a0[2 * q] - zr
                di = a0[2 * q + 1] - zi
                pw = dr * dr + di * di
                aw = pw / (pw + th)
                ac[2 * q] += zr + aw * dr
                ac[2 * q + 1] += zi + aw * di
                lane[q] += aw
        rej = 0.0
        for q in range(nq):
            rej += lane[q]
        rejected[k] += rej


@nb.njit(parallel=True, cache=True)
def overlap_add(tiles, ty, tx, out):
    """``out[p, ty_k + i, tx_k + j] += tiles[p, k, i, j]`` for every tile k, in the order of
    k; ``tiles``: (P, m, n, n), ``out``: (P, hp, wp) float32. Parallel over planes (tiles
    of one plane overlap, so they are added one after the other)."""
    n_p, m, n, _ = tiles.shape
    for p in nb.prange(n_p):
        for k in range(m):
            for i in range(n):
                seg = tiles[p, k, i]
                dst = out[p, ty[k] + i, tx[k]:]
                for j in range(n):
                    dst[j] += seg[j]


@nb.njit(parallel=True, cache=True)
def planes_to_mosaic(planes, pad, black, mosaic):
    """``mosaic[2y + p//2, 2x + p%2] = planes[p, y + pad, x + pad] + black`` for the
    (H//2, W//2) plane samples (an odd last raw row/column is left as it is)."""
    h2 = mosaic.shape[0] // 2
    w2 = mosaic.shape[1] // 2
    blk = np.float32(black)
    for y in nb.prange(h2):
        for p in range(planes.shape[0]):
            row = mosaic[2 * y + (p >> 1), (p & 1):]
            src = planes[p, y + pad, pad:]
            for x in range(w2):
                row[2 * x] = src[x] + blk
