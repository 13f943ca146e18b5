"""Numba kernel of blooming (charge spill from full pixels), the model of
:func:`camtwin.sensor.pixels.collect_charge`.

Physics (the same as the NumPy/SciPy reference ``collect_charge_reference``)
---------------------------------------------------------------------------
n — charge after generation [e⁻], FWC — full well [e⁻], d — anti-blooming drain fraction.

1. q = min(n, FWC); the drain removes d·(n − FWC)⁺, the rest p = (1 − d)·(n − FWC)⁺ is
   *pending* charge held in the (full) pixel.
2. One step: for every connected region R of full pixels (q ≥ FWC; 4-connected for a CMOS
   pixel array, runs along a column for a CCD, whose barriers lie only between the pixels
   of a column) with pending charge P_R and E_R edges to non-full pixels, every such edge
   carries P_R / E_R into its non-full pixel; all pending charge of full pixels is then
   spent. A receiving pixel keeps up to FWC and holds the excess as new pending charge
   (it is now full and joins the region). Regions without a non-full neighbour lose their
   pending charge. Repeat while the total pending charge exceeds the tolerance.

Charge is conserved apart from the drain and those losses:
Σq_out = Σn − d·Σ(n − FWC)⁺ − lost.

Algorithm
---------
The reference relabels every region of the frame (``scipy.ndimage.label``) at every step,
O(frame) per step. Here a pixel that is full stays full (its charge never decreases), so
regions only ever merge: they are kept in an incremental union-find (path halving,
union by index) over *compact node ids* (one per full pixel), and each step visits only

* the pixels holding pending charge (the ones that became full in the previous step),
* the *boundary* full pixels (those with a non-full neighbour; a pixel whose neighbours
  are all full never becomes a boundary pixel again and is dropped for good), and
* the non-full pixels that receive charge,

so a step costs O(boundary + new), not O(frame). The frame is scanned once at the start.
Sums are in float64, as in the reference; the charges stay float32.

Memory: one int32 per pixel (node id / receiver slot) plus O(#full pixels).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _find(parent, a):  # pragma: no cover - jit
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@nb.njit(cache=True, inline="always")
def _union(parent, a, b):  # pragma: no cover - jit
    ra = _find(parent, a)
    rb = _find(parent, b)
    if ra != rb:
        if ra < rb:
            parent[rb] = ra
        else:
            parent[ra] = rb


@nb.njit(cache=True)
def _grown(a, n):  # pragma: no cover - jit
    """``a``, or a copy with room for index ``n`` (doubling), same dtype."""
    if n < a.size:
        return a
    b = np.empty(max(2 * a.size, n + 1), a.dtype)
    b[:a.size] = a
    return b


@nb.njit(cache=True, inline="always")
def _neighbour(p, k, w, n_pix, along_columns):  # pragma: no cover - jit
    """Index of neighbour k (0: up, 1: down, 2: left, 3: right) of flat pixel p, or -1."""
    if k == 0:
        return p - w if p >= w else -1
    if k == 1:
        return p + w if p + w < n_pix else -1
    if along_columns:
        return -1
    if k == 2:
        return p - 1 if p % w != 0 else -1
    return p + 1 if (p + 1) % w != 0 else -1


@nb.njit(cache=True)
def bloom(q, full_well, drain, along_columns, max_iterations, tolerance_e):  # pragma: no cover - jit
    """Collect charge in place: q (H, W) float32 [e⁻] → every pixel ≤ ``full_well``, the
    excess bloomed as described in the module docstring.

    Returns (steps, pending charge left [e⁻], charge lost [e⁻] in regions without a
    non-full neighbour or after ``max_iterations`` steps).
    """
    h, w = q.shape
    n_pix = h * w
    flat = q.reshape(n_pix)
    fw = np.float64(full_well)
    fw32 = np.float32(full_well)
    keep = 1.0 - drain
    n_nodes = 0
    for p in range(n_pix):
        if flat[p] >= fw32:
            n_nodes += 1
    if n_nodes == 0:
        return 0, 0.0, 0.0
    lab = np.full(n_pix, -1, np.int32)       # ≥ 0: node id of a full pixel; −1: not full;
    #                                          ≤ −2: receiver slot (−2 − slot) in a step
    cap = max(16, 2 * n_nodes)
    node_pixel = np.empty(cap, np.int64)
    parent = np.empty(cap, np.int64)
    node_sum = np.zeros(cap, np.float64)
    node_edges = np.zeros(cap, np.int64)
    pend_pix = np.empty(cap, np.int64)
    pend_val = np.empty(cap, np.float64)
    n_pend = 0
    n_nodes = 0
    pending_total = 0.0
    for p in range(n_pix):
        v = flat[p]
        if v >= fw32:
            if v > fw32:
                e = (np.float64(v) - fw) * keep
                pend_pix[n_pend] = p
                pend_val[n_pend] = e
                n_pend += 1
                pending_total += e
                flat[p] = fw32
            lab[p] = n_nodes
            node_pixel[n_nodes] = p
            parent[n_nodes] = n_nodes
            n_nodes += 1
    for i in range(n_nodes):        # connect the initial regions
        p = node_pixel[i]
        for k in range(4):
            nbr = _neighbour(p, k, w, n_pix, along_columns)
            if nbr >= 0 and lab[nbr] >= 0:
                _union(parent, i, lab[nbr])
    boundary = node_pixel[:n_nodes].copy()
    n_bound = n_nodes
    marked = np.empty(cap, np.int64)
    recv_pix = np.empty(64, np.int64)
    recv_inc = np.empty(64, np.float64)
    new_full = np.empty(64, np.int64)
    b_mask = np.empty(64, np.int64)
    b_root = np.empty(64, np.int64)
    steps = 0
    lost = 0.0
    while steps < max_iterations and pending_total > tolerance_e:
        steps += 1
        # pending charge per region
        marked = _grown(marked, n_pend)
        n_marked = 0
        for i in range(n_pend):
            r = _find(parent, lab[pend_pix[i]])
            if node_sum[r] == 0.0 and node_edges[r] == 0:
                marked[n_marked] = r
                n_marked += 1
                node_edges[r] = -1          # "marked"; becomes the edge count below
            node_sum[r] += pend_val[i]
        for i in range(n_marked):
            node_edges[marked[i]] = 0
        # edges of each region to non-full pixels; drop pixels that are interior for good.
        # Each kept pixel remembers its non-full neighbours (bit k: neighbour k of
        # _neighbour) and, when its region has pending charge, the region's root.
        b_mask = _grown(b_mask, n_bound)
        b_root = _grown(b_root, n_bound)
        kept = 0
        for i in range(n_bound):
            p = boundary[i]
            col = p % w
            mask = 0
            if p >= w and lab[p - w] < 0:
                mask |= 1
            if p + w < n_pix and lab[p + w] < 0:
                mask |= 2
            if not along_columns:
                if col > 0 and lab[p - 1] < 0:
                    mask |= 4
                if col < w - 1 and lab[p + 1] < 0:
                    mask |= 8
            if mask == 0:
                continue
            boundary[kept] = p
            b_mask[kept] = mask
            r = _find(parent, lab[p])
            if node_sum[r] > 0.0:
                node_edges[r] += (mask & 1) + ((mask >> 1) & 1) + ((mask >> 2) & 1) + (mask >> 3)
                b_root[kept] = r
            else:
                b_root[kept] = -1
            kept += 1
        n_bound = kept
        # hand the pending charge out along the edges (≤ 4 receivers per boundary pixel)
        recv_pix = _grown(recv_pix, 4 * n_bound)
        recv_inc = _grown(recv_inc, 4 * n_bound)
        n_recv = 0
        for i in range(n_bound):
            r = b_root[i]
            if r < 0:
                continue
            share = node_sum[r] / node_edges[r]
            p = boundary[i]
            mask = b_mask[i]
            for k in range(4):
                if (mask >> k) & 1 == 0:
                    continue
                if k == 0:
                    nbr = p - w
                elif k == 1:
                    nbr = p + w
                elif k == 2:
                    nbr = p - 1
                else:
                    nbr = p + 1
                s = lab[nbr]
                if s == -1:
                    recv_pix[n_recv] = nbr
                    recv_inc[n_recv] = share
                    lab[nbr] = -2 - n_recv
                    n_recv += 1
                else:
                    recv_inc[-2 - s] += share
        for i in range(n_marked):
            r = marked[i]
            if node_edges[r] == 0:
                lost += node_sum[r]
            node_sum[r] = 0.0
            node_edges[r] = 0
        # receivers: absorb up to full well, the rest is the next step's pending charge
        pend_pix = _grown(pend_pix, n_recv)
        pend_val = _grown(pend_val, n_recv)
        parent = _grown(parent, n_nodes + n_recv)
        node_sum = _grown(node_sum, n_nodes + n_recv)
        node_edges = _grown(node_edges, n_nodes + n_recv)
        new_full = _grown(new_full, n_recv)
        boundary = _grown(boundary, n_bound + n_recv)
        n_pend = 0
        n_new = 0
        pending_total = 0.0
        for i in range(n_recv):
            p = recv_pix[i]
            v = np.float64(flat[p]) + recv_inc[i]
            if v >= fw:
                flat[p] = fw32
                if v > fw:
                    pend_pix[n_pend] = p
                    pend_val[n_pend] = v - fw
                    n_pend += 1
                    pending_total += v - fw
                parent[n_nodes] = n_nodes
                node_sum[n_nodes] = 0.0
                node_edges[n_nodes] = 0
                lab[p] = n_nodes
                n_nodes += 1
                new_full[n_new] = p
                n_new += 1
                boundary[n_bound] = p
                n_bound += 1
            else:
                flat[p] = np.float32(v)
                lab[p] = -1
        for i in range(n_new):          # new full pixels join their full neighbours
            p = new_full[i]
            for k in range(4):
                nbr = _neighbour(p, k, w, n_pix, along_columns)
                if nbr >= 0 and lab[nbr] >= 0:
                    _union(parent, lab[p], lab[nbr])
    return steps, pending_total, lost
