"""Numba kernels of the burst aligner; :mod:`camtwin.burst.align` holds the NumPy
references they must match (tested).

Images are float32 (H, W); tiles are ``t × t`` blocks with top-left corners (ty, tx);
displaced samples outside the image are clamped to the border (replicate).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _clamp(v, n):
    return 0 if v < 0 else (n - 1 if v > n - 1 else v)


@nb.njit(cache=True)
def _tile_cost(ref, alt, ty, tx, t, dy, dx, l1):
    h, w = alt.shape
    acc = 0.0
    if ty + dy >= 0 and tx + dx >= 0 and ty + dy + t <= h and tx + dx + t <= w:
        for i in range(t):  # fast path: no clamping
            for j in range(t):
                d = ref[ty + i, tx + j] - alt[ty + dy + i, tx + dx + j]
                acc += abs(d) if l1 else d * d
        return acc
    for i in range(t):
        r = ty + i
        ra = _clamp(r + dy, h)
        for j in range(t):
            c = tx + j
            d = ref[r, c] - alt[ra, _clamp(c + dx, w)]
            acc += abs(d) if l1 else d * d
    return acc


@nb.njit(cache=True, inline="always")
def _refine(ref, alt, ty, tx, t, by, bx, best, radius, l1):
    """Best of the integer displacements within ±radius of (by, bx), starting from the
    cost ``best`` of (by, bx) itself (inf: not evaluated yet, so the centre is tried too).
    Returns (dy, dx, cost)."""
    oy, ox = by, bx
    centre_known = best < np.inf
    for u in range(-radius, radius + 1):
        for v in range(-radius, radius + 1):
            if centre_known and u == 0 and v == 0:
                continue
            c = _tile_cost(ref, alt, ty, tx, t, by + u, bx + v, l1)
            if c < best:
                best, oy, ox = c, by + u, bx + v
    return oy, ox, best


@nb.njit(parallel=True, cache=True)
def tile_search(ref, alt, ty, tx, t, init, radius, l1):
    """Best integer displacement per tile within ±radius of ``init`` (n, 2) int32.

    Returns (disp (n, 2) int32, cost (n,) float64): argmin over d of
    Σ_tile |ref(p) − alt(p + d)|^q, q = 1 (``l1``) or 2.
    """
    n = ty.size
    out = np.empty((n, 2), dtype=np.int32)
    best_cost = np.empty(n, dtype=np.float64)
    for k in nb.prange(n):
        oy, ox, best = _refine(ref, alt, ty[k], tx[k], t, init[k, 0], init[k, 1], np.inf,
                               radius, l1)
        out[k, 0], out[k, 1] = oy, ox
        best_cost[k] = best
    return out, best_cost


@nb.njit(parallel=True, cache=True)
def search_candidates(ref, alt, ty, tx, t, cands, radius, l1):
    """Per tile: the cheapest of the candidate displacements ``cands`` (c, n, 2) int32,
    then the best integer displacement within ±radius of it (as :func:`tile_search`)."""
    n = ty.size
    out = np.empty((n, 2), dtype=np.int32)
    best_cost = np.empty(n, dtype=np.float64)
    for k in nb.prange(n):
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
            c = _tile_cost(ref, alt, ty[k], tx[k], t, cy, cx, l1)
            if c < best:
                best, by, bx = c, cy, cx
        oy, ox, best = _refine(ref, alt, ty[k], tx[k], t, by, bx, best, radius, l1)
        out[k, 0], out[k, 1] = oy, ox
        best_cost[k] = best
    return out, best_cost


@nb.njit(parallel=True, cache=True)
def l2_neighbourhood(ref, alt, ty, tx, t, disp):
    """3×3 L2 costs around each tile's integer displacement, (n, 3, 3) float64."""
    n = ty.size
    out = np.empty((n, 3, 3), dtype=np.float64)
    for k in nb.prange(n):
        for u in range(3):
            for v in range(3):
                out[k, u, v] = _tile_cost(ref, alt, ty[k], tx[k], t, disp[k, 0] + u - 1,
                                          disp[k, 1] + v - 1, False)
    return out


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


@nb.njit(parallel=True, cache=True)
def lucas_kanade(ref, alt, gy, gx, ty, tx, t, disp, iterations, min_det):
    """Gauss–Newton refinement of a translation per tile (Lucas & Kanade 1981).

    With a(p) = alt(p + d) sampled bilinearly and g its gradient, each step solves
    [Σg_y² Σg_yg_x; Σg_yg_x Σg_x²]·δ = Σ g·(ref − a) and sets d ← d + δ (|δ| ≤ 0.5 per
    component). Tiles whose normal matrix is near-singular (det < ``min_det``, no texture
    in some direction) keep their displacement. ``disp`` (n, 2) float64 is updated.
    """
    n = ty.size
    out = disp.copy()
    for k in nb.prange(n):
        dy, dx = out[k, 0], out[k, 1]
        for _ in range(iterations):
            syy = 0.0
            syx = 0.0
            sxx = 0.0
            by = 0.0
            bx = 0.0
            for i in range(t):
                r = ty[k] + i
                for j in range(t):
                    c = tx[k] + j
                    yy = r + dy
                    xx = c + dx
                    a = _bilinear(alt, yy, xx)
                    g1 = _bilinear(gy, yy, xx)
                    g2 = _bilinear(gx, yy, xx)
                    e = ref[r, c] - a
                    syy += g1 * g1
                    syx += g1 * g2
                    sxx += g2 * g2
                    by += g1 * e
                    bx += g2 * e
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
    return out


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
        for p in range(n_p):
            for i in range(n):
                r = _clamp(r0 + i, h)
                for j in range(n):
                    out[p, k, i, j] = planes[p, r, _clamp(c0 + j, w)] * win[i, j]


@nb.njit(parallel=True, cache=True)
def wiener_accumulate(t0, tz, thresh, fy, fx, ky, kx, acc, rejected):
    """Robust merge of one alternate frame into ``acc`` (Hasinoff et al. 2016, eqs. 6–7).

    Per plane p, tile k and frequency (u, v): T'_z = T_z·exp(2πi(k_y[u]·f_y + k_x[v]·f_x))
    (sub-pixel shift), D = T₀ − T'_z, A = |D|²/(|D|² + thresh[p, k]),
    acc += T'_z + A·D, rejected[k] += A. NumPy reference: :func:`camtwin.burst.merge.
    wiener_accumulate_reference`.
    """
    n_p, m, n, nk = t0.shape
    for k in nb.prange(m):
        ey = np.empty(n, dtype=np.complex64)
        ex = np.empty(nk, dtype=np.complex64)
        for u in range(n):
            a = 2.0 * np.pi * ky[u] * fy[k]
            ey[u] = complex(np.cos(a), np.sin(a))
        for v in range(nk):
            a = 2.0 * np.pi * kx[v] * fx[k]
            ex[v] = complex(np.cos(a), np.sin(a))
        rej = 0.0
        for p in range(n_p):
            th = thresh[p, k]
            for u in range(n):
                for v in range(nk):
                    z = tz[p, k, u, v] * ey[u] * ex[v]
                    d = t0[p, k, u, v] - z
                    pw = d.real * d.real + d.imag * d.imag
                    aw = pw / (pw + th)
                    acc[p, k, u, v] += z + aw * d
                    rej += aw
        rejected[k] += rej
