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
O(frame) per step. Here:

*Per frame* (:func:`bloom`). Charge only moves between a region and its neighbours, so
blooms that never come within reach of each other are independent. The over-full pixels
are split into *groups* (their 4-connected components, labelled by runs — a row's adjacent
over-full pixels —; along columns for a CCD), merged up front when their expected blooms
can meet (an estimate of each bloom's reach from its pending charge and the room the frame
has around it, in rows plus columns from its bounding box: :func:`_first_margin`,
:func:`_premerge`).
Every group is bloomed alone, in parallel, in a window around it of the unmodified frame,
where other groups' over-full pixels are walls. Its
*footprint* — the full pixels of the regions that held its charge plus their
neighbours, i.e. every pixel the group read or wrote — must not touch the window's inner
edge (else the window is doubled and the group rerun). Two accepted groups whose
footprints share a pixel interacted (or might have), so they are merged and rerun
together; a group next to another's over-full pixel always lists that pixel, so it always
conflicts. Candidate pairs are the footprints whose bounding boxes overlap (binned on a
coarse grid) and whose octagons (least and greatest row + column and row − column) do,
checked pixel by pixel on their boxes' intersection — no per-frame map.
Repeat until no footprints overlap, then write the footprints into the frame (or hand
them back as lists of their pixels' charges, for a caller that reads only those pixels
out: :func:`bloom` ``footprints``). Each
accepted group's result is what the whole-frame algorithm computes for its pixels (same
steps, same sums up to their order; the stop tolerance is shared out in proportion to the
groups' pending charge), which ``tests/test_bloom.py`` checks against the reference.

*Short paths.* A frame entirely above full well is one region (a column each for a CCD)
with nowhere to spill: every pixel goes to full well, the pending charge is lost in step 1.
Over-full pixels that each stand alone (no full neighbour) and whose receivers all stay
below full well bloom in exactly one step: a stencil over the over-full pixels (each
receiver gets Σ P/E from its over-full neighbours, summed in direction order as the
frontier step sums it), without groups — the case of hot pixels and of a Bayer channel
just over full well, where every pixel was a group of its own.
*Speckle* (at least :data:`_FIRST_STEP_MIN_GROUPS` components of at most
:data:`_FIRST_STEP_MAX_SIZE` pixels on average, a quarter of the over-full pixels less
than a quarter of full well over — a sky or a wall exposed to full well, whose shot
noise puts part of its pixels over): every component whose receivers all stay below
full well in the first step, even with every other component's share, blooms in that
one step as a stencil (:func:`_first_step_alone`; its pixels are then exactly full with
nothing pending, as after the whole-frame first step); the rest go on in groups on the
frame it left — a bloom reaching a stencil component later finds it exactly full and
joins it, as in the whole-frame steps — with their share of the stop tolerance.

*Many components* (more than :func:`dense_groups`: a Bayer channel over full well whose
neighbours fill too, every pixel a component), more than 5 % of the frame over full
well, at least :data:`_DENSE_BAND_GROUPS` components with more than 5 % of the rows
holding them over full well (a strip of sky exposed at full well, whose speckle the
premerge would join into one group anyway), or one group, after the premerge, holding
more than :data:`_DENSE_SHARE` of the pending charge and more than
:data:`_DENSE_SHARE_MIN` full wells (a photo's highlight among smaller ones: it runs on
one thread either way, and its bloom outgrew its window and met the small groups' round
after round — each time rerun whole; known before the premerge when one of the largest
components with those it joins directly already holds that share:
:func:`_premerged_dominant`): one group (:func:`_run_dense`, the same frontier
steps, over the band of rows that holds the over-full pixels and a margin; for a caller
that reads out only the changed pixels, its footprint handed back as one list). When a
row or a column that no component crosses keeps two window margins from every
component's box and splits the work no worse than 20:80, the two sides are two such
groups bloomed at once on two threads, each with the other's over-full pixels as walls
(:func:`_split`, :func:`_dense_two_sides`); if their footprints share a pixel, the frame
is bloomed as one group after all (nothing is written before). In that group the
frontier slots of regions left with nothing pending *sleep* (moved aside, not visited by
the steps) until their region has charge to hand out again (:func:`_grow` ``sleepy``):
most of a frame exposed at full well is done after a step or two while a few blooms go
on for tens of steps.
Per-group bookkeeping, pairing and the reruns of ever larger merged groups cost +2.2 GB
and 14.6 s on 12 MP in the Bayer case, 37 s for 5×5 blobs on 12 % of 12 MP
(``benchmarks/bench_blooming.py --hostile`` against git 948e1f4).

*Per group* (:func:`_run_one`): by its *frontier*. A pixel that is full stays full (its
charge never decreases), so regions only ever merge: they start as the group's
components and are kept in a union-find over regions (a full cell's label is its region).
Only the cells next to full pixels are ever looked at, each classified from the frame the
first time (no copy of the window): non-full → frontier, exactly full → joins the region
it touches, another group's over-full pixel → listed (a conflict), window edge → the
window was too small. Each frontier pixel keeps the number of its edges from full pixels
(and, while the group has several regions, which region they come from), each region its
edge count E_R and pending charge P_R, so a step is one pass over the frontier (P_R / E_R
per edge; vectorised once one region is left) plus the pixels that filled —
O(frontier + new) per step, nothing per full pixel. The window's cells are a
power-of-two-wide array padded with a ring of walls (no bounds checks; row and column by
shift and mask); its frame rows are prefetched.

:func:`_bloom_window` is the previous per-window kernel (boundary scan, union-find over
pixels, the window copied first); :func:`bloom_whole_frame` runs it as one window over the
whole frame on one thread: the oracle of the grouping and of the frontier steps in the
tests.

*Threads.* No kernel here is a ``prange``: each is a serial kernel without the GIL that
:func:`camtwin._jit.on_row_threads` runs on numba's threads — over blocks of rows, blocks
of pixels or groups (:func:`_blocks`: fixed blocks, so a sum over blocks does not depend
on the number of threads), the grouped path's chunks of groups (its rounds orchestrated
in Python: :func:`_bloom_groups`) or the two sides of a cut. A first saturated frame then
compiles none of numba's parallel passes: the first over-exposed ``camtwin capture`` of a
photo 57.6–63.2 → 37.6–39.4 s, the first bloom of two lamps (grouped path) 51.6 → 29.2 CPU
s (RESULTS.md "First run after a fresh install" and "Blooming", twenty-first session).

Sums are in float64, as in the reference; the charges stay float32.

Memory: O(#over-full pixels) for the groups and the windows' footprints (a few times the
bloomed area) and one int32 cell per window pixel; nothing per frame pixel.
"""

from __future__ import annotations

import threading

import numba as nb
import numpy as np

from .._jit import on_row_threads
from ._intrinsics import _cttz, _prefetch


@nb.njit(cache=True, inline="always")
def _u(i):  # pragma: no cover - jit
    """``i`` (≥ 0) as an unsigned index: numba tests a signed index for a negative value
    (wrap-around) at every access; the hot loops of :func:`_grow` and the write-back
    index by these (blob frame of ``benchmarks/bench_blooming.py``, kernel alone on one
    thread, 21 alternating calls: 0.92× in two runs, the same kernel against itself
    1.01×)."""
    return np.uint64(i)


@nb.njit(cache=True, inline="always")
def _find(parent, a):  # pragma: no cover - jit
    """Root of ``a`` (≥ 0) in the union-find ``parent``, halving the path (indices
    unsigned: :func:`_u`)."""
    while parent[_u(a)] != a:
        parent[_u(a)] = parent[_u(parent[_u(a)])]
        a = parent[_u(a)]
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
    for i in range(a.size):     # (a loop: an array assigned to a slice compiles numba's
        b[i] = a[i]             # shape check and its error message: RESULTS.md, Blooming)
    return b


@nb.njit(cache=True, inline="always")
def _copy_row(dst, i, src, j):  # pragma: no cover - jit
    """dst[i, :] = src[j, :] as a loop (see :func:`_grown`)."""
    for c in range(dst.shape[1]):
        dst[i, c] = src[j, c]


#: Label of a padding cell at the frame edge (no neighbour there) and at a window edge
#: inside the frame (a region reaching it makes the window too small); of another group's
#: over-full pixel, listed in the footprint (a wall: its footprint then overlaps that
#: group's, so the two are merged and rerun); frontier slot s (receiver slot s during a
#: step of :func:`_bloom_window`) is −8 − s.
_WALL_FRAME = -2
_LISTED = -3
_WALL_WINDOW = -5
_SLOT0 = -8

#: Lowest set bit of a 4-bit neighbour mask (bit 0 up, 1 down, 2 left, 3 right) and the
#: sign of that neighbour's offset.
_LOWEST_BIT = np.array([0, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0], np.int64)
_OFFSET_SIGN = np.array([-1, 1, -1, 1], np.int64)

#: Windows of at most this many cells share their chunk's work space, sized for the largest
#: of them (a bloom cannot outgrow it: one entry per cell); a larger one gets its own.
_SMALL = 1 << 16

#: Windows of at most this many cells have all their frame rows prefetched (L2-sized).
_PREFETCH_CELLS = 1 << 14

#: Groups are run in this many chunks (each with one work space), shared by the threads.
_CHUNKS = 64


@nb.njit(cache=True)
def _bloom_window(flat, lab, node_pixel, n_nodes, stride, full_well, drain, along_columns,
                  max_iterations, tolerance_e):  # pragma: no cover - jit
    """The steps of the module docstring on one padded window, in place, by the previous
    kernel's method (the oracle of :func:`bloom_whole_frame`): a union-find over the full
    *pixels*, and per step a scan of the region boundaries (the full pixels with a non-full
    neighbour; one whose neighbours are all full is dropped for good), the pixels holding
    pending charge and the receivers — O(boundary + new) per step.

    ``flat`` — charge [e⁻] of the window with a one-pixel padding ring, row stride
    ``stride``; ``lab`` — per cell: node id (≥ 0) of a full pixel, −1 for a non-full pixel,
    ``_WALL_FRAME`` / ``_WALL_WINDOW`` on the ring; ``node_pixel[:n_nodes]`` — the full
    pixels. Pixels above ``full_well`` hold pending charge (after the drain). The walls
    make neighbour look-ups free of bounds checks and divisions.

    Returns (steps, pending left [e⁻], lost [e⁻], parent, node_pixel, n_nodes): the
    union-find forest over the nodes and the node list, grown by the pixels that filled.
    """
    fw32 = np.float32(full_well)
    fw = np.float64(fw32)
    keep = 1.0 - drain
    cap = max(16, 2 * n_nodes)
    node_pixel = _grown(node_pixel, cap - 1)
    parent = np.empty(cap, np.int64)
    node_edges = np.empty(cap, np.int64)
    pend_pix = np.empty(cap, np.int64)
    boundary = np.empty(cap, np.int64)
    marked = np.empty(cap, np.int64)
    recv_pix = np.empty(64, np.int64)
    new_full = np.empty(64, np.int64)
    b_mask = np.empty(64, np.int64)
    b_root = np.empty(64, np.int64)
    node_sum = np.empty(cap, np.float64)
    pend_val = np.empty(cap, np.float64)
    recv_inc = np.empty(64, np.float64)
    n_pend = 0
    pending_total = 0.0
    for i in range(n_nodes):
        parent[i] = i
        node_sum[i] = 0.0
        node_edges[i] = 0
        p = node_pixel[i]
        v = flat[p]
        if v > fw32:
            e = (np.float64(v) - fw) * keep
            pend_pix[n_pend] = p
            pend_val[n_pend] = e
            n_pend += 1
            pending_total += e
            flat[p] = fw32
    for i in range(n_nodes):   # connect the initial regions (up, left)
        p = node_pixel[i]
        if lab[p - stride] >= 0:
            _union(parent, i, lab[p - stride])
        if not along_columns and lab[p - 1] >= 0:
            _union(parent, i, lab[p - 1])
    boundary[:n_nodes] = node_pixel[:n_nodes]
    n_bound = n_nodes
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
        # Each kept pixel remembers its non-full neighbours (bit 0 up, 1 down, 2 left,
        # 3 right) and, when its region has pending charge, the region's root.
        b_mask = _grown(b_mask, n_bound)
        b_root = _grown(b_root, n_bound)
        kept = 0
        for i in range(n_bound):
            p = boundary[i]
            e_up = np.int64(lab[p - stride] == -1)
            e_dn = np.int64(lab[p + stride] == -1)
            if along_columns:
                e_lf = np.int64(0)
                e_rt = np.int64(0)
            else:
                e_lf = np.int64(lab[p - 1] == -1)
                e_rt = np.int64(lab[p + 1] == -1)
            n_e = e_up + e_dn + e_lf + e_rt
            if n_e == 0:
                continue
            boundary[kept] = p
            b_mask[kept] = e_up | (e_dn << 1) | (e_lf << 2) | (e_rt << 3)
            r = _find(parent, lab[p])
            if node_sum[r] > 0.0:
                node_edges[r] += n_e
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
            while mask != 0:
                k = _LOWEST_BIT[mask]
                mask &= mask - 1
                nbr = p + _OFFSET_SIGN[k] * (stride if k < 2 else 1)
                s = lab[nbr]
                if s == -1:
                    recv_pix[n_recv] = nbr
                    recv_inc[n_recv] = share
                    lab[nbr] = _SLOT0 - n_recv
                    n_recv += 1
                else:
                    recv_inc[_SLOT0 - s] += share
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
        node_pixel = _grown(node_pixel, n_nodes + n_recv)
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
                node_pixel[n_nodes] = p
                n_nodes += 1
                new_full[n_new] = p
                n_new += 1
                boundary[n_bound] = p
                n_bound += 1
            else:
                flat[p] = np.float32(v)
                lab[p] = -1
        for i in range(n_new):   # new full pixels join their neighbours
            p = new_full[i]
            a = lab[p]
            if lab[p - stride] >= 0:
                _union(parent, a, lab[p - stride])
            if lab[p + stride] >= 0:
                _union(parent, a, lab[p + stride])
            if not along_columns:
                if lab[p - 1] >= 0:
                    _union(parent, a, lab[p - 1])
                if lab[p + 1] >= 0:
                    _union(parent, a, lab[p + 1])
    return steps, pending_total, lost, parent, node_pixel, n_nodes


@nb.njit(cache=True, inline="always")
def _row_of(lp, stride, inv_stride):  # pragma: no cover - jit
    """lp // stride by a float reciprocal (exact after the ±1 correction)."""
    i = int(lp * inv_stride)
    if i * stride > lp:
        i -= 1
    elif (i + 1) * stride <= lp:
        i += 1
    return i


@nb.njit(cache=True, inline="always")
def _row_col(p, w, inv_w):  # pragma: no cover - jit
    """(row, column) of flat pixel index ``p`` of rows ``w`` wide (:func:`_row_of`)."""
    i = _row_of(p, w, inv_w)
    return i, p - i * w


#: Label of a window cell not looked at yet (:func:`_run_one`; the cells of the window
#: kernel :func:`_bloom_window` use −1 for a non-full pixel instead).
_UNSEEN = -1


#: Charge of a free frontier slot: never reaches full well, whatever it receives (none).
_DEAD = -1e300


@nb.njit(cache=True, inline="always")
def _init_cells(lab, hw, ww, sh, top, bottom, left, right):  # pragma: no cover - jit
    """Cells of an hw × ww window padded with a ring (row stride 2^sh): the ring's labels
    ``top`` … ``right``, the inside not looked at yet. (No return value: an inlined
    function taking arrays that returned one kept their reference counts — atomic —
    updated at every call in a hot loop, 3× slower.)"""
    last = (hw + 1) << sh
    for j in range(ww + 2):
        lab[j] = top
        lab[last + j] = bottom
    for i in range(1, hw + 1):
        base = i << sh
        lab[base] = left
        lab[base + 1:base + ww + 1] = _UNSEEN
        lab[base + ww + 1] = right


@nb.njit(cache=True, inline="always")
def _window_shape(win, k):  # pragma: no cover - jit
    """(rows, columns, log2 row stride) of the padded cell array of window ``win[k]``: the
    stride is a power of two ≥ columns + 2, so a cell's row and column are a shift and a
    mask."""
    return win[k, 1] - win[k, 0], win[k, 3] - win[k, 2], _stride_shift(win[k, 3] - win[k, 2])


@nb.njit(cache=True, inline="always")
def _stride_shift(cols):  # pragma: no cover - jit
    """log2 of the row stride of a padded cell array of ``cols`` columns: the least
    power of two ≥ cols + 2 (at least 4)."""
    sh = 2
    while (1 << sh) < cols + 2:
        sh += 1
    return sh


#: Free frontier slots above which, when they are most of the slots, :func:`_grow` moves
#: the live ones down (30 % of a 12 MP frame exposed at full well, counted in a one-off
#: instrumented copy: 1.68 M slots, 69 000 live after five steps, all visited at every
#: step before; small groups never get there, their slots stay as they are).
_COMPACT_FREE = 2048

#: The neighbour pass of :func:`_grow` asks for the cells and frame values of the node
#: this many places ahead in its list (a prefetch: the pass waited on those loads —
#: 19 % of the one-group path's samples on ``page``, ``perf`` on the JIT code; kernel
#: 1.04–1.07× on ``moon``, 1.08× on ``immunohistochemistry``, 1.11–1.18× on ``page``, the
#: same lists; RESULTS.md "Blooming", eighteenth session). The slots and regions those cells name,
#: prefetched in a second stage, made it slower (0.84–0.91×).
_AHEAD = 16


#: Outcomes of :func:`_grow` (0 and 2 are also :func:`_run_one`'s statuses).
_WINDOW_EDGE = 0
_DONE = 1
_NO_ROOM = 2
_MERGED = 3


#: :func:`_grow` puts regions' slots to sleep when at least this many slots, and half of
#: them, received nothing in a step.
_SLEEP_MIN = 2048


@nb.njit(cache=True)
def _wake_all(n_front, d_lo, cap, front, fval, fmask, freg, lab, dhead, rlist,
              n_live):  # pragma: no cover - jit
    """Every sleeping slot of :func:`_grow` (``d_lo`` … ``cap`` − 1, the live ones) moved
    back to the slots visited, from ``n_front`` on, in order (a slot is written at or below
    the one read); the regions' lists emptied. Returns the new ``n_front``."""
    for d in range(d_lo, cap):
        m = fmask[d]
        if m != 0 and freg[d] >= -1:        # (a proxy, freg ≤ −2, goes)
            lpf = front[d]
            front[n_front] = lpf
            fval[n_front] = fval[d]
            fmask[n_front] = m
            freg[n_front] = freg[d]
            lab[_u(lpf)] = _SLOT0 - n_front
            n_front += 1
    for t in range(n_live):
        dhead[rlist[t]] = -1
    return n_front


@nb.njit(cache=True)
def _wake_one(su, n_front, n_free, d_lo, n_dead, cap, n_live, rlist, dhead, front, fval,
              fmask, freg, free, lab):  # pragma: no cover - jit
    """Sleeping slot ``su`` of :func:`_grow` moved back down to the slots visited (its
    entry left dead); everything wakes when the two ends meet (``d_lo`` then ``cap``).
    Returns (n_front, n_free, d_lo, n_dead)."""
    if n_free == 0 and n_front >= d_lo:
        n_front = _wake_all(n_front, d_lo, cap, front, fval, fmask, freg, lab, dhead, rlist,
                            n_live)
        return n_front, n_free, cap, np.int64(0)
    if n_free > 0:
        n_free -= 1
        sl = free[_u(n_free)]
    else:
        sl = n_front
        n_front += 1
    s2 = _u(sl)
    lpf = front[su]
    front[s2] = lpf
    fval[s2] = fval[su]
    fmask[s2] = fmask[su]
    freg[s2] = freg[su]
    lab[_u(lpf)] = _SLOT0 - sl
    fmask[su] = 0
    return n_front, n_free, d_lo, n_dead + 1


@nb.njit(cache=True)
def _wake_charged(n_front, n_free, d_lo, n_dead, cap, n_live, rlist, dhead, dnext, pend,
                  front, fval, fmask, freg, free, lab):  # pragma: no cover - jit
    """The sleeping slots of :func:`_grow`'s regions that have charge to hand out, moved
    back down to the slots visited (a proxy wakes the slot it points to); everything when
    the two ends meet or the dead entries outnumber the live ones. (The wake and sleep
    passes are functions of their own, called, not inlined: inlined when every path
    inlined the steps, the first bloom compiled in 89.6 s of CPU against 47.7 s without
    them; RESULTS.md "Blooming", thirteenth session.) Returns (n_front, n_free, d_lo,
    n_dead)."""
    for t in range(n_live):
        r = rlist[t]
        d = dhead[r]
        if d < 0 or pend[r] <= 0.0:
            continue
        dhead[r] = -1
        while d >= 0 and d_lo < cap:
            ds = d
            if fmask[_u(d)] != 0 and freg[_u(d)] <= -2:   # a proxy: its slot's entry
                fmask[_u(d)] = 0
                n_dead += 1
                ds = -2 - freg[_u(d)]
            if fmask[_u(ds)] != 0:
                n_front, n_free, d_lo, n_dead = _wake_one(
                    _u(ds), n_front, n_free, d_lo, n_dead, cap, n_live, rlist, dhead, front,
                    fval, fmask, freg, free, lab)
            d = dnext[_u(d)]
        if d_lo == cap:         # (everything woke)
            break
    if d_lo < cap and 2 * n_dead > cap - d_lo:     # (the dead ones would pile up)
        n_front = _wake_all(n_front, d_lo, cap, front, fval, fmask, freg, lab,
                            dhead, rlist, n_live)
        d_lo, n_dead = cap, np.int64(0)
    return n_front, n_free, d_lo, n_dead


@nb.njit(cache=True)
def _sleep_pass(n_front, d_lo, hi_front, cap, n_dirs, sh, front, fval, fmask, freg, lab,
                parent, pend, dnext, dhead, dtail, rs):  # pragma: no cover - jit
    """:func:`_grow`'s sleep pass: the live slots of regions with nothing pending (of a
    slot between regions: of every one of them) move to the sleeping end of the slot
    lists, listed by each of their regions; the others move down, the free ones go
    (``rs``: four int32 cells for a slot's regions). Returns (n_front, d_lo, hi_front)."""
    # the slots of regions with nothing pending go to sleep (the free ones go);
    # the sleeping range never outgrows the most slots visited, so the slot
    # lists touch at most twice the pages of the frontier's largest extent
    hi_front = max(hi_front, n_front)
    j = 0
    for i in range(n_front):
        m = fmask[i]
        if m == 0:
            continue
        fr = freg[i]
        lpf = front[i]
        k = 0               # its regions (roots, to ``rs``), none with charge
        home = d_lo
        if fr >= 0:
            if pend[_u(fr)] == 0.0:
                rs[0] = fr
                k = 1
        else:               # between regions: each gets an entry (a proxy)
            for d in range(n_dirs):
                cl = lab[_u(lpf + (_OFFSET_SIGN[d] << sh if d < 2
                                   else _OFFSET_SIGN[d]))]
                if cl >= 0:
                    rc = _find(parent, cl)
                    if pend[_u(rc)] != 0.0:
                        k = 0
                        break
                    new = True
                    for t in range(k):
                        new &= rs[t] != rc
                    if new:
                        rs[k] = rc
                        k += 1
        if k > 0 and d_lo - k >= n_front and cap - d_lo + k <= hi_front:
            for t in range(k):
                d_lo -= 1
                r = rs[t]
                if t == 0:      # the slot's entry
                    front[d_lo] = lpf
                    fval[d_lo] = fval[i]
                    fmask[d_lo] = m
                    freg[d_lo] = fr
                    home = d_lo
                else:           # a proxy of it in another region's list
                    fmask[d_lo] = 1
                    freg[d_lo] = -2 - home
                dnext[d_lo] = dhead[_u(r)]
                if dhead[_u(r)] < 0:
                    dtail[_u(r)] = d_lo
                dhead[_u(r)] = d_lo
            lab[_u(lpf)] = _SLOT0 - home
        else:
            if j != i:
                front[j] = lpf
                fval[j] = fval[i]
                fmask[j] = m
                freg[j] = fr
                lab[_u(lpf)] = _SLOT0 - j
            j += 1
    return j, d_lo, hi_front


#: Bytes of a frontier slot in the slot lists (``front``, ``fmask``, ``freg``, ``free``:
#: int32; ``fval``: float64), and of a sleeping one (+ ``dnext``, int32).
_SLOT_BYTES = 24
_SLEEPER_BYTES = 28
#: Nodes looked around between two checks of the work lists against their room.
_ROOM_CHUNK = 1 << 16


@nb.njit(cache=True)
def _out_of_room(room, n_nodes, n_front, top, n_fg):  # pragma: no cover - jit
    """Whether the work lists of :func:`_grow` have outgrown ``room[0]`` bytes (< 0: no
    limit): ``room[1:4]`` keep the most entries the node list, the bottom and the top
    (sleeping) end of the slot lists have held — pages once touched stay resident —,
    updated here with the current ``n_nodes``, ``n_front`` and ``top`` (cap − d_lo);
    ``n_fg`` foreign pixels listed."""
    if room[0] < 0:
        return False
    room[1] = max(room[1], n_nodes)
    room[2] = max(room[2], n_front)
    room[3] = max(room[3], top)
    return (4 * room[1] + _SLOT_BYTES * room[2] + _SLEEPER_BYTES * room[3]
            + 4 * n_fg) > room[0]


def _grow_kernel(single, sleepy, name, limited=False):
    """:func:`_grow` (the frontier steps) compiled for one mode: ``single`` (one region
    left) and ``sleepy`` (:func:`_run_dense`'s regions sleep) are constants of the
    closure, so numba prunes the other modes' branches and never compiles what they
    call (a literal argument is not pruned, inlined or not: the grouped path compiled
    the sleeping passes); ``name`` is its own, so each mode has a cache file of its own.
    ``limited``: the work lists are checked against ``room`` (the one-group path's
    modes; the grouped path sizes its lists per window and compiles no check).
    """

    def _grow(state, qf, w, sh, msk, gbase, lab, fw32, n_dirs, max_iterations, tol, node,
              front, fmask, freg, foreign, free, parent, edges, pend, share, fval, rlist,
              dnext, dhead, dtail, rs, flush, room):  # pragma: no cover - jit
        """The steps of :func:`_run_one` from ``state`` (n_nodes, n_seen, n_front, n_free,
        n_fg, first, steps, lost, pending_total, n_live) until the stop rule
        (:data:`_DONE`), a window edge (:data:`_WINDOW_EDGE`), full work lists
        (:data:`_NO_ROOM`) or — several regions, ``single`` False — all regions merged into
        region 0 (:data:`_MERGED`; union by index: 0 is the last root), after which the caller
        goes on with ``single`` True. Compiled once per mode (:func:`_grow_kernel`), each
        without the other modes' branches.

        A frontier slot keeps the number of its edges from full pixels (``fmask``) and, with
        several regions, the region they come from (``freg``; −1 once they come from two
        regions not merged then: its share is then summed over its full neighbours).

        With ``sleepy`` (several regions; :func:`_run_dense`), the slots of regions left
        without pending charge *sleep*: most of a speckle frame's regions are done after a
        step or two while a few go on for tens of steps (``page`` of ``bench_blooming.py
        --photos``: a quarter of the frontier visits were to slots of regions with charge to
        hand out), and a region's slots receive nothing while it has none. When at least
        :data:`_SLEEP_MIN` slots, and half of them, received nothing in a step, the slots
        of regions with no pending charge after it move to the top of the slot arrays
        (from ``cap`` down; ``dnext`` links each region's sleeping slots from ``dhead`` to
        ``dtail``); the steps visit the slots below only. A slot between regions sleeps when
        none of them has charge, listed by each (one entry holds the slot, the others —
        *proxies*, ``freg`` = −2 − that entry — point to it). A region gets pending charge
        again only by merging with one that has some (the lists are joined at the union) or
        when a pixel it shares with another region fills: its root's sleeping slots wake
        (move back down) before the step that hands the charge out. A sleeping slot that a
        new node of another region touches wakes at once (its share is then summed over its
        neighbours). The sleeping end never holds more entries than the most slots visited
        at a sleep pass. ``page``, 23 steps (instrumented copy): 4.60 M slot visits without
        sleeping, 1.89 M with single regions' slots asleep, 1.32 M with the proxies (visits to
        slots between regions 634 k → 208 k); share and filled-pixel passes 94 → 46 M cycles,
        the three sleep passes 11 M. Each slot receives what it would have received awake
        (the same sums); only the order in which a region's fills add up its next P_R
        changes. Everything wakes before :data:`_MERGED` and :data:`_DONE`, or when the two
        ends of the slot arrays meet. (``rs``: four int32 cells for :func:`_sleep_pass`;
        without ``sleepy`` the sleepers' arrays are dummies, never read.)

        With ``flush`` (:func:`_run_dense` on the whole frame, written in place), the nodes
        are written into ``qf`` (at full well) as soon as their neighbours have been
        looked at, and their list starts again: nothing reads a full pixel's charge in
        the frame again, and the list holds only the pixels waiting for their neighbour
        pass instead of every pixel that ends up full (the 200 MP ``page`` frame, 43 %
        over full: 642 → 326 MiB; RESULTS.md "Capture at real size", run 6).

        ``room`` (int64 (4), :func:`_out_of_room`; ``limited`` modes only): the bytes the
        work lists may take — checked every :data:`_ROOM_CHUNK` nodes looked around, after
        each step's neighbour pass and after each sleep pass; :data:`_NO_ROOM` when they
        have outgrown it (``room[0]`` < 0: no limit)."""
        n_nodes, n_seen, n_front, n_free, n_fg, first, steps, lost, pending_total, n_live = state
        fw = np.float64(fw32)
        cap = np.int64(node.size)
        d_lo = cap                  # sleeping slots: d_lo … cap − 1 (woken ones dead: mask 0)
        n_dead = np.int64(0)        # (how many of those entries are dead)
        hi_front = np.int64(0)      # (the most slots visited at a sleep pass: bounds cap − d_lo)
        while True:
            # the new nodes' neighbours (a pixel exactly at full well joins and is looked
            # around in turn)
            qi = first
            q_chk = qi + _ROOM_CHUNK
            while qi < n_nodes:
                if limited and qi >= q_chk:     # (the lists' room, every _ROOM_CHUNK nodes)
                    q_chk = qi + _ROOM_CHUNK
                    if _out_of_room(room, n_nodes, n_front, cap - d_lo, n_fg):
                        return _NO_ROOM, (n_nodes, n_seen, n_front, n_free, n_fg, first,
                                          steps, lost, pending_total, n_live)
                if qi + _AHEAD < n_nodes:
                    # (the cells and frame values this pass reads for a node a few ahead)
                    lpa = node[_u(qi + _AHEAD)]
                    _prefetch(lab, lpa - (1 << sh))
                    _prefetch(lab, lpa)
                    _prefetch(lab, lpa + (1 << sh))
                    fa = gbase + (lpa >> sh) * w + (lpa & msk)
                    _prefetch(qf, fa - w)
                    _prefetch(qf, fa)
                    _prefetch(qf, fa + w)
                lpn = node[_u(qi)]
                rq = lab[_u(lpn)]
                rr = 0 if single else _find(parent, rq)   # (the node's region, kept current)
                for d in range(n_dirs):
                    gp = lpn + (_OFFSET_SIGN[d] << sh if d < 2 else _OFFSET_SIGN[d])
                    gu = _u(gp)
                    cl = lab[gu]
                    if cl >= 0:
                        if not single and cl != rq:
                            rc = _find(parent, cl)
                            if rc != rr:    # (union by index: the smaller root stays)
                                ra, rb = min(rr, rc), max(rr, rc)
                                parent[_u(rb)] = ra
                                edges[_u(ra)] += edges[_u(rb)]
                                pend[_u(ra)] += pend[_u(rb)]
                                if sleepy and dhead[_u(rb)] >= 0:   # (join the sleepers)
                                    if dhead[_u(ra)] < 0:
                                        dhead[_u(ra)] = dhead[_u(rb)]
                                    else:
                                        dnext[_u(dtail[_u(ra)])] = dhead[_u(rb)]
                                    dtail[_u(ra)] = dtail[_u(rb)]
                                    dhead[_u(rb)] = -1
                                rr = ra
                    elif cl <= _SLOT0:
                        su = _u(_SLOT0 - cl)
                        fmask[su] += 1
                        if single:
                            edges[0] += 1
                        else:
                            edges[_u(rr)] += 1
                            fr = freg[su]
                            if fr >= 0 and fr != rr:
                                if _find(parent, fr) != rr:
                                    freg[su] = -1
                                    fr = -1
                            if sleepy and fr == -1 and _SLOT0 - cl >= d_lo:
                                # asleep and (now) between regions: woken at once
                                n_front, n_free, d_lo, n_dead = _wake_one(
                                    su, n_front, n_free, d_lo, n_dead, cap, n_live, rlist,
                                    dhead, front, fval, fmask, freg, free, lab)
                    elif cl == _UNSEEN:
                        if n_seen >= cap:
                            return _NO_ROOM, (n_nodes, n_seen, n_front, n_free, n_fg, first,
                                              steps, lost, pending_total, n_live)
                        n_seen += 1
                        v = qf[_u(gbase + (gp >> sh) * w + (gp & msk))]
                        if v > fw32:
                            lab[gu] = _LISTED
                            foreign[_u(n_fg)] = gp
                            n_fg += 1
                        elif v == fw32:
                            lab[gu] = rq
                            node[_u(n_nodes)] = gp
                            n_nodes += 1
                        else:
                            if n_free > 0:
                                n_free -= 1
                                sl = free[_u(n_free)]
                            else:
                                if sleepy and n_front >= d_lo:
                                    n_front = _wake_all(n_front, d_lo, cap, front, fval, fmask,
                                                        freg, lab, dhead, rlist, n_live)
                                    d_lo, n_dead = cap, np.int64(0)
                                sl = n_front
                                n_front += 1
                            su = _u(sl)
                            lab[gu] = _SLOT0 - sl
                            front[su] = gp
                            fval[su] = v
                            fmask[su] = 1
                            if single:
                                edges[0] += 1
                            else:
                                freg[su] = rr
                                edges[_u(rr)] += 1
                    elif cl == _WALL_WINDOW:
                        return _WINDOW_EDGE, (n_nodes, n_seen, n_front, n_free, n_fg, first,
                                              steps, lost, pending_total, n_live)
                qi += 1
            if limited and _out_of_room(room, n_nodes, n_front, cap - d_lo, n_fg):
                return _NO_ROOM, (n_nodes, n_seen, n_front, n_free, n_fg, first, steps, lost,
                                  pending_total, n_live)
            first = n_nodes
            if flush:
                # (the whole frame, written in place: the nodes looked around are done —
                # written now, their list reused: see the docstring)
                for t in range(n_nodes):
                    lp = node[_u(t)]
                    qf[_u(gbase + (lp >> sh) * w + (lp & msk))] = fw32
                n_nodes = first = np.int64(0)
            if n_free > _COMPACT_FREE and 2 * n_free > n_front:
                # most slots still free after the new nodes took theirs (the frontier shrank
                # as it filled): the steps would go on visiting them — move the live ones
                # down, in order (amortised: each such pass costs at most the slots freed
                # since the last one; a growing bloom reuses its freed slots and never
                # gets here)
                j = 0
                for i in range(n_front):
                    m = fmask[i]
                    if m != 0:
                        if j != i:
                            lpf = front[i]
                            front[j] = lpf
                            fval[j] = fval[i]
                            fmask[j] = m
                            if not single:
                                freg[j] = freg[i]
                            lab[lpf] = _SLOT0 - j
                        j += 1
                n_front = j
                n_free = 0
            if not single:  # the roots (the list compacted as regions merge)
                nl = np.int64(0)     # (not a literal: one signature of the wake passes)
                for t in range(n_live):
                    r = rlist[t]
                    if parent[r] == r:
                        rlist[nl] = r
                        nl += 1
                n_live = nl
            if sleepy and d_lo < cap and (n_live == 1 or steps >= max_iterations
                                          or pending_total <= tol):
                n_front = _wake_all(n_front, d_lo, cap, front, fval, fmask, freg, lab, dhead,
                                    rlist, n_live)
                d_lo, n_dead = cap, np.int64(0)
            if not single and n_live == 1:
                return _MERGED, (n_nodes, n_seen, n_front, n_free, n_fg, first, steps, lost,
                                 pending_total, n_live)
            if steps >= max_iterations or pending_total <= tol:
                return _DONE, (n_nodes, n_seen, n_front, n_free, n_fg, first, steps, lost,
                               pending_total, n_live)
            if sleepy and d_lo < cap:      # the sleepers of regions with charge wake
                n_front, n_free, d_lo, n_dead = _wake_charged(
                    n_front, n_free, d_lo, n_dead, cap, n_live, rlist, dhead, dnext, pend,
                    front, fval, fmask, freg, free, lab)
            steps += 1
            # hand out the pending charge (spent now) over the frontier's edges
            idle = 0                        # (slots that receive nothing: sleepy only)
            if single:
                if edges[0] == 0:
                    lost += pend[0]
                else:
                    share0 = pend[0] / edges[0]
                    for i in range(n_front):        # (vectorised)
                        fval[i] += share0 * fmask[i]
                pend[0] = 0.0
            else:
                for t in range(n_live):     # the roots' shares
                    r = rlist[t]
                    if pend[r] > 0.0:
                        if edges[r] == 0:
                            lost += pend[r]
                        else:
                            share[r] = pend[r] / edges[r]
                        pend[r] = 0.0
                for i in range(n_front):
                    fr = freg[i]
                    if fr >= 0:
                        if parent[_u(fr)] != fr:     # its region merged: keep the root
                            fr = _find(parent, fr)
                            freg[i] = fr
                        s_fr = share[_u(fr)]
                        fval[i] += s_fr * fmask[i]
                        if sleepy:
                            idle += s_fr == 0.0
                    else:                       # edges from several regions
                        lpf = front[i]
                        inc = 0.0
                        r1 = -1                 # (their roots: one left once they merged)
                        for d in range(n_dirs):
                            cl = lab[_u(lpf + (_OFFSET_SIGN[d] << sh if d < 2
                                               else _OFFSET_SIGN[d]))]
                            if cl >= 0:
                                rc = _find(parent, cl)
                                inc += share[_u(rc)]
                                r1 = rc if r1 == -1 or r1 == rc else -2
                        fval[i] += inc
                        if r1 >= 0:             # its regions merged: one region's slot again
                            freg[i] = r1
                        if sleepy:
                            idle += inc == 0.0
                for t in range(n_live):
                    share[rlist[t]] = 0.0
            # the pixels that filled become nodes of their region (their edges from full
            # pixels are gone, their excess is the region's), their slots free
            pending_total = 0.0
            free0 = n_free
            for i in range(n_front):
                v = fval[i]
                if v >= fw:
                    lpf = front[i]
                    m = fmask[i]
                    fmask[i] = 0
                    fval[i] = _DEAD
                    free[_u(n_free)] = i
                    n_free += 1
                    if single:
                        r = 0
                        edges[0] -= m
                        lab[_u(lpf)] = 0
                    else:   # (labelled below: a full neighbour here had its edge counted)
                        r = freg[i]
                        if r >= 0:
                            edges[_u(r)] -= m   # (a root: resolved in the step above)
                        else:
                            for d in range(n_dirs):
                                cl = lab[_u(lpf + (_OFFSET_SIGN[d] << sh if d < 2
                                                   else _OFFSET_SIGN[d]))]
                                if cl >= 0:
                                    r = _find(parent, cl)
                                    edges[_u(r)] -= 1
                            freg[i] = r
                    node[_u(n_nodes)] = lpf
                    n_nodes += 1
                    pend[_u(r)] += v - fw
                    pending_total += v - fw
            if not single:
                for t in range(free0, n_free):
                    i = free[t]
                    lab[_u(front[i])] = freg[i]
                    freg[i] = 0
            if (sleepy and idle >= _SLEEP_MIN and 2 * idle >= n_front and d_lo > n_front
                    and cap - d_lo + _SLEEP_MIN <= max(hi_front, n_front)):
                n_front, d_lo, hi_front = _sleep_pass(
                    n_front, d_lo, hi_front, cap, n_dirs, sh, front, fval, fmask, freg, lab,
                    parent, pend, dnext, dhead, dtail, rs)
                n_free = 0
                if limited and _out_of_room(room, n_nodes, n_front, cap - d_lo, n_fg):
                    return _NO_ROOM, (n_nodes, n_seen, n_front, n_free, n_fg, first, steps,
                                      lost, pending_total, n_live)

    _grow.__name__ = _grow.__qualname__ = name
    return nb.njit(cache=True, _nrt=False)(_grow)


#: The modes of :func:`_grow_kernel`: several regions (the grouped path), several
#: regions whose slots sleep (the one-group path), one region (the grouped path; the
#: one-group path's, which checks its room, ``_grow_last``).
_grow_regions = _grow_kernel(False, False, "_grow_regions")
_grow_sleepy = _grow_kernel(False, True, "_grow_sleepy", limited=True)
_grow_single = _grow_kernel(True, False, "_grow_single")
_grow_last = _grow_kernel(True, False, "_grow_last", limited=True)     # (one-group path)


def _run_groups(q, active, win, off, head, nxt, idx, val, runs, cfirst,
                full_well, drain, along_columns, max_iterations, tol, buf_pix, buf_val,
                status, fp_off, fp_len, fbox, foct, st_steps, st_pend, st_lost):
    """Bloom each group ``active[k]`` alone in its window ``win[k]`` (r0, r1, c0, c1) of the
    unmodified frame ``q`` (:func:`_run_one`). The footprint — the full pixels of the
    regions that held the group's charge and their neighbours (the only pixels the group
    read or wrote) — goes to ``buf_pix``/``buf_val`` from ``fp_off[k]`` (packed one after
    the other within a chunk's share ``off[k0]`` … of the buffer, which bounds them by the
    windows' sizes: only the footprints' pages are touched), its bounding box (r0, r1, c0,
    c1) to ``fbox[k]``, the least and greatest row + column and row − column of its pixels
    (or of a few more: an octagon around it) to ``foct[k]``; ``status[k]`` = 0 when the
    bloom reached a window edge inside the
    frame (the window was too small), else 1. Chunks
    of the groups (at most :data:`_CHUNKS`, each with its work space) on numba's threads
    (:func:`camtwin._jit.on_row_threads`, :func:`_run_group_chunks`)."""
    n_chunks = min(active.size, _CHUNKS)
    on_row_threads(_run_group_chunks, (q, active, win, off, head, nxt, idx, val, runs, cfirst,
                                       full_well, drain, along_columns, max_iterations, tol,
                                       buf_pix, buf_val, status, fp_off, fp_len, fbox, foct,
                                       st_steps, st_pend, st_lost, np.int64(n_chunks)),
                   n_chunks, min_rows=1)


@nb.njit(cache=True, nogil=True)
def _run_group_chunks(q, active, win, off, head, nxt, idx, val, runs, cfirst,
                      full_well, drain, along_columns, max_iterations, tol, buf_pix, buf_val,
                      status, fp_off, fp_len, fbox, foct, st_steps, st_pend, st_lost,
                      n_chunks, c0, c1):  # pragma: no cover - jit
    """Chunks c0 … c1 − 1 of :func:`_run_groups` (one thread, without the GIL)."""
    h, w = q.shape
    qf = q.reshape(h * w)
    n_act = active.size
    for ch in range(c0, c1):
        k0 = ch * n_act // n_chunks
        k1 = (ch + 1) * n_act // n_chunks
        cells = 16
        for k in range(k0, k1):
            hw, ww, sh = _window_shape(win, k)
            n2 = (hw + 2) << sh
            if n2 <= _SMALL:
                cells = max(cells, n2)
        # work space for the chunk's windows (a larger window allocates its own cells);
        # the lists hold one entry per cell looked at: doubled, and the group rerun, when
        # a group needs more
        lab_ws = np.empty(cells, np.int32)
        no_limit = np.full(4, -1, np.int64)     # (the steps' room: none — see the lists)
        cap = cells
        iw = np.empty((9, cap), np.int32)
        fw_ = np.empty((3, cap), np.float64)
        cursor = off[k0]
        for k in range(k0, k1):
            fp_off[k] = cursor
            hw, ww, sh = _window_shape(win, k)
            n2 = (hw + 2) * (ww + 2)
            if n2 > cap:    # a large window: its margin leaves room for twice the bloom
                cap = max(cap, n2 // 2)
                iw = np.empty((9, cap), np.int32)
                fw_ = np.empty((3, cap), np.float64)
            if (hw + 2) << sh > lab_ws.size:
                lab_ws = np.empty((hw + 2) << sh, np.int32)
            while True:
                _run_one(qf, h, w, k, active[k], win, cursor, head, nxt, idx, val, runs,
                         cfirst, full_well, drain, along_columns,
                         max_iterations, tol, buf_pix, buf_val, status, fp_len, fbox, foct,
                         st_steps, st_pend, st_lost, lab_ws, iw, fw_, no_limit)
                if status[k] != 2:
                    break
                cap *= 2
                iw = np.empty((9, cap), np.int32)
                fw_ = np.empty((3, cap), np.float64)
            if status[k] == 1:
                cursor += fp_len[k]


@nb.njit(cache=True, _nrt=False)
def _run_one(qf, h, w, k, g, win, o, head, nxt, idx, val, runs, cfirst,
             full_well, drain, along_columns, max_iterations, tol, buf_pix, buf_val, status,
             fp_len, fbox, foct, st_steps, st_pend, st_lost, lab_ws, iw,
             fw_, no_limit):  # pragma: no cover - jit
    """Group ``g`` = ``active[k]`` of :func:`_run_groups`, bloomed by its *frontier*;
    footprint written from ``o``. The work lists hold one entry per window cell looked at
    (``node`` … ``free``, ``fval``) or per region (``parent`` … ``share``), all of one
    length; ``status[k]`` = 2 when that is too short (the caller doubles them and reruns
    the group: no array is grown in here, whose reassignment in a loop costs reference
    counting at every iteration).

    Only cells next to the group's full pixels are ever looked at: a window cell is
    classified from the frame ``qf`` the first time a full pixel is next to it — a
    non-full pixel joins the *frontier*, a pixel exactly at full well (full, nothing
    pending) joins the region it touches, another group's over-full pixel is listed (its
    footprint then meets this one's: the two are merged and rerun), a window edge inside
    the frame stops the run (window too small). The regions start as the group's
    components and only ever merge (a union-find over them, not over pixels: a full cell's
    label is its region); each keeps its pending charge P_R and its number of edges E_R
    to the frontier, and each frontier pixel the number of its edges from full pixels
    and, while there are several regions, the region they come from (or that they come
    from several: :func:`_grow`). Once all regions have merged, the steps go on in the
    one-region form, compiled separately (no region look-ups). A step is one pass over
    the frontier — a pixel receives, per edge, its region's share P_R / E_R — plus the
    pixels that filled: their edges from full pixels go, their edges to the frontier
    come, their excess is their region's next P_R. A frontier pixel keeps its slot until
    it fills (the slot is then free for the next new one): no relabelling of cells
    (scattered writes) per step. The same steps and stop rule as :func:`_bloom_window`
    (the charges are summed in float64 throughout)."""
    r0, r1, c0, c1 = win[k, 0], win[k, 1], win[k, 2], win[k, 3]
    hw, ww, sh = _window_shape(win, k)
    stride = 1 << sh
    msk = stride - 1
    n2 = (hw + 2) << sh
    gbase = (r0 - 1) * w + c0 - 1           # frame index of cell 0 (row << sh | column)
    if n2 <= _PREFETCH_CELLS:
        # the frame's window rows are read in no particular order below: ask for all of
        # their cache lines at once (independent loads overlap; one by one, each waits)
        for i in range(hw):
            base = (r0 + i) * w + c0
            for j in range(0, ww, 16):
                _prefetch(qf, base + j)
            _prefetch(qf, base + ww - 1)
    lab = lab_ws[:n2]
    node, front, fmask, freg, foreign, free, parent, edges, rlist = (
        iw[0], iw[1], iw[2], iw[3], iw[4], iw[5], iw[6], iw[7], iw[8])
    pend, share, fval = fw_[0], fw_[1], fw_[2]
    top = _WALL_FRAME if r0 == 0 else _WALL_WINDOW
    bottom = _WALL_FRAME if r1 == h else _WALL_WINDOW
    left = _WALL_FRAME if c0 == 0 else _WALL_WINDOW
    right = _WALL_FRAME if c1 == w else _WALL_WINDOW
    _init_cells(lab, hw, ww, sh, top, bottom, left, right)
    fw32 = np.float32(full_well)
    fw = np.float64(fw32)
    keep = 1.0 - drain
    n_dirs = 2 if along_columns else 4
    cap = node.size
    inv_w = 1.0 / w
    # the group's own over-full pixels: the first nodes, one region per component, their
    # excess pending
    n_nodes = 0
    n_reg = 0
    pending_total = 0.0
    c = head[g]
    while c >= 0:
        parent[n_reg] = n_reg
        edges[n_reg] = 0
        pend[n_reg] = 0.0
        share[n_reg] = 0.0
        r = cfirst[c]
        while r >= 0:           # the component's runs (a row's adjacent pixels each)
            i0, i1 = runs[r, 0], runs[r, 1]
            if n_nodes + i1 - i0 > cap:
                status[k] = 2
                return
            p = idx[i0]
            row = _row_of(p, w, inv_w)
            lp = ((row - r0 + 1) << sh) + p - row * w - c0 + 1
            for t in range(i0, i1):
                lab[lp] = n_reg
                node[n_nodes] = lp
                n_nodes += 1
                lp += 1
                e = (np.float64(val[t]) - fw) * keep
                pend[n_reg] += e
                pending_total += e
            r = runs[r, 2]
        n_reg += 1
        c = nxt[c]
    n_seen = n_nodes
    n_front = 0                 # frontier slots in use or free (free: count 0, charge _DEAD)
    n_free = 0
    n_fg = 0
    first = 0                   # nodes first … n_nodes − 1 are new: look around them
    steps = 0
    lost = 0.0
    n_live = n_reg              # rlist[:n_live] holds every region root (and some merged)
    for r in range(n_reg):
        rlist[r] = r
    i0 = np.int64(0)            # (not literals: one compiled signature of _grow per mode)
    state = (np.int64(n_nodes), np.int64(n_seen), i0, i0, i0, i0, i0, lost, pending_total,
             np.int64(n_live))
    code = _MERGED
    if n_reg > 1:   # several regions: until they have all merged into region 0
        code, state = _grow_regions(state, qf, w, sh, msk, gbase, lab, fw32, n_dirs,
                                    max_iterations, tol[k], node, front, fmask, freg,
                                    foreign, free, parent, edges, pend, share, fval, rlist,
                                    free, free, free, free, np.bool_(False), no_limit)
    if code == _MERGED:
        code, state = _grow_single(state, qf, w, sh, msk, gbase, lab, fw32, n_dirs,
                                   max_iterations, tol[k], node, front, fmask, freg, foreign,
                                   free, parent, edges, pend, share, fval, rlist, free, free,
                                   free, free, np.bool_(False), no_limit)
    if code != _DONE:
        status[k] = code
        return
    n_nodes, n_seen, n_front, n_free, n_fg, first, steps, lost, pending_total = state[:9]
    # footprint: the nodes (full), the frontier, the listed foreign pixels — or, with no
    # footprint buffer, written straight into the frame
    direct = buf_pix.size == 0
    n = 0
    b0, b1, b2, b3 = n2, 0, stride, 0
    s0, s1, d0, d1 = 2 * n2, -n2, n2, -n2     # (row ± column: of the nodes only)
    # (three loops, not one with a branch per kind of entry)
    if direct:                  # the frame's only group: its result is final (no octagon:
        for t in range(n_nodes):  # there is no other footprint to compare it with)
            lp = node[t]
            i = lp >> sh
            j = lp & msk
            b0, b1, b2, b3 = min(b0, i), max(b1, i), min(b2, j), max(b3, j)
            qf[gbase + i * w + j] = fw32
    else:
        # a loop without a branch and with unsigned indices (no wrap-around test), which
        # LLVM vectorises: the nodes are most of a footprint (blob frame, one thread,
        # cycle counters in a one-off instrumented copy: 17 → 3–9 Mcycles for 1.04 M nodes)
        for t in range(n_nodes):
            lp = node[t]
            i = lp >> sh
            j = lp & msk
            b0, b1, b2, b3 = min(b0, i), max(b1, i), min(b2, j), max(b3, j)
            s0, s1, d0, d1 = min(s0, i + j), max(s1, i + j), min(d0, i - j), max(d1, i - j)
            buf_pix[_u(o + t)] = gbase + i * w + j
            buf_val[_u(o + t)] = fw32
        n = n_nodes
    if direct or n_seen >= hw * ww:
        for t in range(n_front):
            if fmask[t] == 0:       # a free slot
                continue
            lp = front[t]
            i = lp >> sh
            j = lp & msk
            b0, b1, b2, b3 = min(b0, i), max(b1, i), min(b2, j), max(b3, j)
            gi = gbase + i * w + j
            if direct:
                qf[gi] = np.float32(fval[t])
            else:
                buf_pix[o + n] = gi
                buf_val[o + n] = np.float32(fval[t])
                n += 1
    else:
        # every slot written, counted when live (no branch): a free slot's pixel filled
        # and is a node, inside the box already; one entry past the footprint may be
        # written, inside this group's share of the buffer (its window's cells, off[k]
        # … off[k + 1] of _run_groups) while fewer cells were looked at than it has
        for t in range(n_front):
            lp = front[t]
            i = lp >> sh
            j = lp & msk
            b0, b1, b2, b3 = min(b0, i), max(b1, i), min(b2, j), max(b3, j)
            buf_pix[_u(o + n)] = gbase + i * w + j
            buf_val[_u(o + n)] = np.float32(fval[t])
            n += fmask[t] != 0
    for t in range(n_fg):       # (none when direct: no other group)
        lp = foreign[t]
        i = lp >> sh
        j = lp & msk
        b0, b1, b2, b3 = min(b0, i), max(b1, i), min(b2, j), max(b3, j)
        gi = gbase + i * w + j
        buf_pix[o + n] = gi
        buf_val[o + n] = qf[gi]
        n += 1
    status[k] = 1
    fp_len[k] = n
    fbox[k, 0] = r0 - 1 + b0
    fbox[k, 1] = r0 + b1
    fbox[k, 2] = c0 - 1 + b2
    fbox[k, 3] = c0 + b3
    # every other footprint pixel is a neighbour of a node: row ± column one further out
    foct[k, 0] = r0 + c0 - 3 + s0
    foct[k, 1] = r0 + c0 - 1 + s1
    foct[k, 2] = r0 - c0 - 1 + d0
    foct[k, 3] = r0 - c0 + 1 + d1
    st_steps[k] = steps
    st_pend[k] = pending_total
    st_lost[k] = lost


def _over_full(q, fw32, known, bits):
    """Sorted flat indices of the pixels above full well and — when at most 1/_DENSE_OVER
    of the frame is (the grouped path then reads them in order, not scattered over the
    frame) — their charges (else an empty array). Two passes over rows on numba's
    threads (:func:`camtwin._jit.on_row_threads`); the first, a count per row, is skipped
    when ``known`` (H + 1) holds those counts in ``known[1:]``, e.g. from
    :func:`camtwin.sensor._kernels.fused_chain_keep`; the second reads the frame only at
    the set bits of ``bits`` (uint64 (H, ⌈W/64⌉), that pass's mask of the same pixels)
    when given with the counts, else every pixel of each row that has some."""
    h, w = q.shape
    if known.size == h + 1:
        counts = known.copy()
        counts[0] = 0
    else:
        counts = np.zeros(h + 1, np.int64)
        on_row_threads(_count_over_rows, (q, fw32, counts), h)
    np.cumsum(counts, out=counts)
    n = int(counts[h])
    idx = np.empty(n, np.int32)     # (frames of < 2³¹ pixels: see bloom)
    val = np.empty(n if n * _DENSE_OVER <= h * w else 0, np.float32)
    by_bits = known.size == h + 1 and bits.shape[0] == h
    on_row_threads(_over_full_rows, (q, fw32, counts, bits, by_bits, idx, val), h)
    return idx, val


@nb.njit(cache=True, nogil=True)
def _count_over_rows(q, fw32, counts, i0, i1):  # pragma: no cover - jit
    """``counts[i + 1]`` ← the number of pixels of row i above ``fw32``, rows i0 … i1 − 1."""
    w = q.shape[1]
    for i in range(i0, i1):
        c = 0
        for j in range(w):
            c += q[i, j] > fw32
        counts[i + 1] = c


@nb.njit(cache=True, nogil=True)
def _over_full_rows(q, fw32, counts, bits, by_bits, idx, val, i0,
                    i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of :func:`_over_full`'s second pass (row i's pixels from
    ``counts[i]``, a prefix sum)."""
    w = q.shape[1]
    keep_val = val.size > 0
    for i in range(i0, i1):
        k = counts[i]
        end = counts[i + 1]
        if end == k:
            continue
        if by_bits:
            for b in range(bits.shape[1]):
                word = bits[i, b]
                while word != 0 and k < end:    # (bounded: the mask may be given)
                    j = b * 64 + np.int64(_cttz(word))
                    idx[_u(k)] = i * w + j
                    if keep_val:
                        val[_u(k)] = q[i, _u(j)]
                    k += 1
                    word &= word - np.uint64(1)
        else:
            for j in range(w):
                if q[i, j] > fw32 and k < end:    # (bounded: counts may be given)
                    idx[k] = i * w + j
                    if keep_val:
                        val[k] = q[i, j]
                    k += 1


@nb.njit(cache=True, inline="always")
def _neighbour(i, j, d, h, w):  # pragma: no cover - jit
    """(row, column, inside the frame) of neighbour d (0 up, 1 down, 2 left, 3 right)."""
    ni = i - 1 if d == 0 else (i + 1 if d == 1 else i)
    nj = j - 1 if d == 2 else (j + 1 if d == 3 else j)
    return ni, nj, 0 <= ni < h and 0 <= nj < w


@nb.njit(cache=True, inline="always")
def _n_edges(i, j, h, w, n_dirs):  # pragma: no cover - jit
    """Number of in-frame neighbours of pixel (i, j) (up, down[, left, right])."""
    e = (i > 0) + (i < h - 1)
    if n_dirs == 4:
        e += (j > 0) + (j < w - 1)
    return e


@nb.njit(cache=True, inline="always")
def _income(q, i, j, fw32, keep, n_dirs):  # pragma: no cover - jit
    """Charge [e⁻, float64] pixel (i, j) receives in one step from its over-full
    neighbours when each is a region of its own: Σ_d (q_n − FWC)·keep / E_n over the
    directions d in order (the sum of the kernel's frontier step)."""
    h, w = q.shape
    fw = np.float64(fw32)
    inc = 0.0
    for d in range(n_dirs):
        ni, nj, inside = _neighbour(i, j, d, h, w)
        if inside and q[ni, nj] > fw32:
            inc += (np.float64(q[ni, nj]) - fw) * keep / _n_edges(ni, nj, h, w, n_dirs)
    return inc


#: Pixels per block of the kernels over lists of pixels run by :func:`_blocks`.
_BLOCK = 1 << 16


def _blocks(kernel, args, n, block=None):
    """``kernel(*args, n_blocks, b0, b1)`` over blocks b0 … b1 − 1 of ``n`` items on
    numba's threads (:func:`camtwin._jit.on_row_threads`): ⌈n / ``block``⌉ (default
    :data:`_BLOCK`) blocks, at
    least one, block b holding items ⌊b·n / n_blocks⌋ … (the blocks do not depend on the
    number of threads: per-block sums add up the same). A nogil serial kernel in place of
    a ``prange``: a first use compiles it without numba's parallel passes (RESULTS.md
    "Blooming", twenty-first session)."""
    n_blocks = _n_blocks(n, block)
    on_row_threads(kernel, (*args, np.int64(n_blocks)), n_blocks, min_rows=1)


def _n_blocks(n, block=None) -> int:
    """Number of blocks of :func:`_blocks` for ``n`` items."""
    return max(1, -(-int(n) // (_BLOCK if block is None else block)))


@nb.njit(cache=True, inline="always")
def _block(b, n, n_blocks):  # pragma: no cover - jit
    """Items of block b of :func:`_blocks`: (first, end)."""
    return b * n // n_blocks, (b + 1) * n // n_blocks


def _one_step(q, idx, fw32, keep, along_columns):
    """Whether blooming is one step of independent pixels: every over-full pixel has only
    neighbours below full well (4, or along its column for a CCD; so it is a region of
    its own) and at least one, and no pixel receiving its charge reaches full well (so
    nothing is pending after the step). Stops at the first pixel that is not so (a
    block at its next pixel once another block found one)."""
    ok = np.ones(1, np.bool_)
    _blocks(_one_step_rows, (q, idx, fw32, keep, along_columns, ok), idx.size)
    return bool(ok[0])


@nb.njit(cache=True, nogil=True)
def _one_step_rows(q, idx, fw32, keep, along_columns, ok, n_blocks, b0,
                   b1):  # pragma: no cover - jit
    """Blocks b0 … b1 − 1 of :func:`_one_step`: ``ok[0]`` ← False at a pixel that is not
    so."""
    h, w = q.shape
    n_dirs = 2 if along_columns else 4
    fw = np.float64(fw32)
    inv_w = 1.0 / w
    for b in range(b0, b1):
        t0, t1 = _block(b, idx.size, n_blocks)
        for t in range(t0, t1):
            if not ok[0]:
                return
            p = idx[t]
            i, j = _row_col(p, w, inv_w)
            if _n_edges(i, j, h, w, n_dirs) == 0:
                ok[0] = False
            for d in range(n_dirs):
                ni, nj, inside = _neighbour(i, j, d, h, w)
                if inside and (q[ni, nj] >= fw32 or np.float64(q[ni, nj])
                               + _income(q, ni, nj, fw32, keep, n_dirs) >= fw):
                    ok[0] = False


@nb.njit(cache=True, nogil=True)
def _spill_rows(q, idx, fw32, keep, along_columns, n_blocks, b0, b1):  # pragma: no cover - jit
    """Blocks b0 … b1 − 1 of the step :func:`_one_step` allows: each receiver gets its
    :func:`_income` (in float64, rounded once), written by its first over-full neighbour
    in direction order (one writer per pixel; the over-full pixels are only read here)."""
    h, w = q.shape
    n_dirs = 2 if along_columns else 4
    inv_w = 1.0 / w
    for b in range(b0, b1):
        t0, t1 = _block(b, idx.size, n_blocks)
        for t in range(t0, t1):
            p = idx[t]
            i, j = _row_col(p, w, inv_w)
            for d in range(n_dirs):
                ri, rj, inside = _neighbour(i, j, d, h, w)
                if not inside:
                    continue
                owner = -1
                for e in range(n_dirs):
                    ni, nj, ins = _neighbour(ri, rj, e, h, w)
                    if ins and q[ni, nj] > fw32:
                        owner = ni * w + nj
                        break
                if owner == p:
                    q[ri, rj] = np.float32(np.float64(q[ri, rj])
                                           + _income(q, ri, rj, fw32, keep, n_dirs))


@nb.njit(cache=True, nogil=True)
def _pending_rows(flat, idx, fw32, keep, sums, n_blocks, b0, b1):  # pragma: no cover - jit
    """``sums[b]`` ← Σ (q − FWC)·keep [e⁻] over block b of the pixels ``idx``."""
    fw = np.float64(fw32)
    for b in range(b0, b1):
        t0, t1 = _block(b, idx.size, n_blocks)
        total = 0.0
        for t in range(t0, t1):
            total += (np.float64(flat[idx[t]]) - fw) * keep
        sums[b] = total


@nb.njit(cache=True, nogil=True)
def _scatter_rows(flat, pix, val, n_blocks, b0, b1):  # pragma: no cover - jit
    """flat[pix] = val over blocks b0 … b1 − 1 (``val`` of one element: that value for
    every pixel)."""
    one = val.size == 1
    for b in range(b0, b1):
        t0, t1 = _block(b, pix.size, n_blocks)
        for t in range(t0, t1):
            flat[pix[t]] = val[0] if one else val[t]


def _scatter(flat, pix, val):
    """flat[pix] = val (``val``: one value per pixel, or one float32 for them all)."""
    val = np.asarray(val, np.float32).reshape(-1)
    _blocks(_scatter_rows, (flat, pix, val), pix.size)


@nb.njit(cache=True)
def _one_step_boxes(idx, h, w, along_columns):  # pragma: no cover - jit
    """Footprint boxes of the one-step path: each over-full pixel with its receivers
    (3 × 3, or 3 × 1 for a CCD, clipped); the whole frame when they are many (more than
    1 px in 32: a read-out of the frame is then cheaper than of the boxes)."""
    n = idx.size
    if n > h * w // 32:
        return np.array([[0, h, 0, w]], np.int64)
    out = np.empty((n, 4), np.int64)
    dc = 0 if along_columns else 1
    inv_w = 1.0 / w
    for t in range(n):
        p = idx[t]
        i, j = _row_col(p, w, inv_w)
        out[t, 0] = max(i - 1, 0)
        out[t, 1] = min(i + 2, h)
        out[t, 2] = max(j - dc, 0)
        out[t, 3] = min(j + dc + 1, w)
    return out


@nb.njit(cache=True, inline="always")
def _step_income(flat, r, ri, rj, h, w, p, c, idx, comp, share, bad, fw32, n_dirs,
                 good_only):  # pragma: no cover - jit
    """Charge [e⁻, float64] non-full pixel r = (ri, rj) receives in the first step from its
    over-full neighbours: Σ_d share of the neighbour's component, in direction order
    (only from components not ``bad`` when ``good_only``); and whether over-full pixel
    ``p`` (component ``c``) is the first such neighbour (the one that writes it). A
    neighbour's component other than p's is looked up in the sorted list ``idx``."""
    inc = 0.0
    first = -1
    for d in range(n_dirs):
        ni, nj, inside = _neighbour(ri, rj, d, h, w)
        x = ni * w + nj
        if inside and flat[x] > fw32:
            cx = c if x == p else comp[np.searchsorted(idx, x)]
            if good_only and bad[cx]:
                continue
            inc += share[cx]
            if first < 0:
                first = x
    return inc, first == p


@nb.njit(cache=True, nogil=True)
def _first_step_edge_rows(idx, q, fw32, along_columns, edges, n_blocks, b0,
                          b1):  # pragma: no cover - jit
    """Blocks b0 … b1 − 1 (:func:`_blocks`) of the over-full pixels ``idx``: ``edges[t]``
    ← pixel t's number of in-frame neighbours below full well — its edges to receivers
    (4, or up and down for a CCD) — or −1 when a neighbour is exactly at full well (full,
    so part of its region: not a component that blooms alone)."""
    h, w = q.shape
    flat = q.reshape(h * w)
    n_dirs = 2 if along_columns else 4
    inv_w = 1.0 / w
    for b in range(b0, b1):
        t0, t1 = _block(b, idx.size, n_blocks)
        for t in range(t0, t1):
            p = np.int64(idx[t])
            i, j = _row_col(p, w, inv_w)
            e = 0
            exact = False
            for d in range(n_dirs):
                ni, nj, inside = _neighbour(i, j, d, h, w)
                if inside:
                    v = flat[ni * w + nj]
                    e += v < fw32
                    exact |= v == fw32
            edges[t] = -1 if exact else e


@nb.njit(cache=True, nogil=True)
def _first_step_rows(q, idx, comp, share, bad, fw32, along_columns, apply, n_blocks, b0,
                     b1):  # pragma: no cover - jit
    """Blocks b0 … b1 − 1 (:func:`_blocks`) of the receivers of the components not
    ``bad``: without ``apply``, mark ``bad`` every component a receiver of which reaches
    full well in the first step, counting every component's share (so also when the
    others' shares are added later); with ``apply``, their first (and only) step — each
    receiver gets their shares (float64, rounded once), written by its first such
    over-full neighbour (their pixels go to full well after every block:
    :func:`_first_step_full_rows`)."""
    h, w = q.shape
    flat = q.reshape(h * w)
    n_dirs = 2 if along_columns else 4
    fw = np.float64(fw32)
    inv_w = 1.0 / w
    for b in range(b0, b1):
        t0, t1 = _block(b, idx.size, n_blocks)
        for t in range(t0, t1):
            c = comp[t]
            if bad[c]:
                continue
            p = np.int64(idx[t])
            i, j = _row_col(p, w, inv_w)
            for d in range(n_dirs):
                ri, rj, inside = _neighbour(i, j, d, h, w)
                r = ri * w + rj
                if inside and flat[r] < fw32:
                    inc, mine = _step_income(flat, r, ri, rj, h, w, p, c, idx,
                                             comp, share, bad, fw32, n_dirs, apply)
                    if not apply:
                        if np.float64(flat[r]) + inc >= fw:
                            bad[c] = True
                    elif mine:
                        flat[r] = np.float32(np.float64(flat[r]) + inc)


@nb.njit(cache=True, nogil=True)
def _first_step_full_rows(q, idx, comp, bad, fw32, n_blocks, b0, b1):  # pragma: no cover - jit
    """Blocks b0 … b1 − 1 (:func:`_blocks`): the pixels of the components not ``bad`` go
    to full well."""
    flat = q.reshape(q.size)
    for b in range(b0, b1):
        t0, t1 = _block(b, idx.size, n_blocks)
        for t in range(t0, t1):
            if not bad[comp[t]]:
                flat[idx[t]] = fw32


@nb.njit(cache=True)
def _first_step_shares(q, idx, comp, n_comp, fw32, keep, edges):  # pragma: no cover - jit
    """Of :func:`_first_step_alone`: (``bad`` — components with a pixel next to one exactly
    at full well, or without an edge —, each component's pending charge per edge, its
    number of edges, the total pending charge [e⁻])."""
    flat = q.reshape(q.size)
    fw = np.float64(fw32)
    share = np.zeros(n_comp, np.float64)        # pending charge, then per edge
    n_edges = np.zeros(n_comp, np.int32)
    bad = np.zeros(n_comp, np.bool_)
    total = 0.0
    for t in range(idx.size):
        c = comp[t]
        e = (np.float64(flat[idx[t]]) - fw) * keep
        share[c] += e
        total += e
        if edges[t] < 0:
            bad[c] = True
        else:
            n_edges[c] += edges[t]
    for c in range(n_comp):
        if n_edges[c] == 0:
            bad[c] = True           # (nowhere to spill: its charge is lost in the steps)
        else:
            share[c] /= n_edges[c]
    return bad, share, n_edges, total


@nb.njit(cache=True)
def _first_step_rest(bad, share, n_edges, total, tolerance_e):  # pragma: no cover - jit
    """Of :func:`_first_step_alone`: the stop tolerance of the components left ``bad`` —
    their share of the pending charge, as the groups share it (and less than the rest's
    pending charge: it makes its first step, as here) —, and the number of the others."""
    rest = 0.0
    n_good = 0
    for c in range(bad.size):
        if bad[c]:
            rest += share[c] * n_edges[c] if n_edges[c] > 0 else share[c]
        else:
            n_good += 1
    return tolerance_e * rest / total, n_good


def _first_step_alone(q, idx, comp, n_comp, fw32, keep, along_columns, tolerance_e):
    """Bloom, in one stencil step, every component (``comp``: of each over-full pixel
    ``idx``, 0 … ``n_comp`` − 1) whose receivers all stay below full well in the first
    step even with every component's share — those blooms end there: their pixels go to
    full well with nothing pending, and any later step of another bloom that reaches
    them finds them exactly full, as in the whole-frame steps. The frame of speckle just
    over full well (a sky or a wall exposed to full well: its shot noise puts part of its
    pixels over) is mostly such components, tens of thousands of groups for the grouped
    path.

    Needs the total pending charge above ``tolerance_e`` (else no step is made at all:
    nothing is changed). Kernels of its own, compiled when first taken. Returns
    (``bad``: per component, True when it was not bloomed here; the number of pixels
    bloomed; the footprint boxes (r0, r1, c0, c1) of those blooms: per component its
    bounding box and the receivers' ring, or one band of whole rows when that is less
    to read out again; the stop tolerance of the other components' steps: the share of
    ``tolerance_e`` of their pending charge)."""
    n = idx.size
    edges = np.empty(n, np.int8)
    _blocks(_first_step_edge_rows, (idx, q, fw32, along_columns, edges), n)
    bad, share, n_edges, total = _first_step_shares(q, idx, comp, n_comp, fw32, keep, edges)
    none = np.empty((0, 4), np.int64)
    if total <= tolerance_e:
        bad[:] = True
        return bad, 0, none, tolerance_e
    # (np.bool_: not a literal, one compiled signature for both passes)
    _blocks(_first_step_rows, (q, idx, comp, share, bad, fw32, along_columns, np.bool_(False)),
            n)
    tol_rest, n_good = _first_step_rest(bad, share, n_edges, total, tolerance_e)
    if n_good == 0:
        return bad, 0, none, tolerance_e
    _blocks(_first_step_rows, (q, idx, comp, share, bad, fw32, along_columns, np.bool_(True)),
            n)
    _blocks(_first_step_full_rows, (q, idx, comp, bad, fw32), n)
    n_done, box = _first_step_boxes(q.shape[0], q.shape[1], idx, comp, n_comp, bad, n_good,
                                    along_columns)
    return bad, n_done, box, tol_rest


@nb.njit(cache=True)
def _first_step_boxes(h, w, idx, comp, n_comp, bad, n_good,
                      along_columns):  # pragma: no cover - jit
    """Of :func:`_first_step_alone`: the number of pixels bloomed and the footprint boxes
    (r0, r1, c0, c1) of those blooms: the rows holding bloomed pixels, ± the receivers'
    ring, whole — or, when that is more to read out (by rows of 16 pixels) than the
    components' own boxes (each at least 3 rows of 16), per component its bounding box
    and ring."""
    n = idx.size
    inv_w = 1.0 / w
    n_done = 0
    lo = h
    hi = -1
    for t in range(n):
        if not bad[comp[t]]:
            n_done += 1
            i = _row_of(np.int64(idx[t]), w, inv_w)
            lo = min(lo, i)
            hi = max(hi, i)
    lo = max(lo - 1, 0)
    hi = min(hi + 2, h)
    if (hi - lo) * w <= 48 * n_good:
        return n_done, np.array([[lo, hi, 0, w]], np.int64)
    box = np.empty((n_comp, 4), np.int64)
    box[:, 0] = h
    box[:, 1] = -1
    box[:, 2] = w
    box[:, 3] = -1
    for t in range(n):
        c = comp[t]
        if bad[c]:
            continue
        p = np.int64(idx[t])
        i, j = _row_col(p, w, inv_w)
        box[c, 0] = min(box[c, 0], i)
        box[c, 1] = max(box[c, 1], i)
        box[c, 2] = min(box[c, 2], j)
        box[c, 3] = max(box[c, 3], j)
    dc = 0 if along_columns else 1
    nb_ = 0
    for c in range(n_comp):
        if not bad[c]:
            r0 = max(box[c, 0] - 1, 0)
            r1 = min(box[c, 1] + 2, h)
            c0 = max(box[c, 2] - dc, 0)
            c1 = min(box[c, 3] + 1 + dc, w)
            box[nb_, 0] = r0
            box[nb_, 1] = r1
            box[nb_, 2] = c0
            box[nb_, 3] = c1
            nb_ += 1
    return n_done, box[:nb_].copy()


#: Above this many components (at least), a frame is bloomed as one group
#: (:func:`_run_dense`): one per 64 pixels, at least 2^16 …
_DENSE_MIN_GROUPS = 1 << 16
#: … or with more than one pixel in this many over full well (5 %: chosen from 5×5 blobs
#: on 12 MP, kernel alone, where the two paths cross; benchmarks/RESULTS.md "Blooming").
_DENSE_OVER = 20


#: … or with at least this many components and more than one pixel in _DENSE_OVER over
#: full well in the rows that hold them (a strip of sky exposed at full well: 3 % of the
#: rows of 12 MP, 25 000 components that the premerge joins into one group; with the band
#: of :func:`_run_dense`, kernel 0.058 → 0.035 s, RESULTS.md "Blooming", sixth session).
_DENSE_BAND_GROUPS = 1024


#: … or when, after the premerge, one group holds more than this fraction of the pending
#: charge, and more than :data:`_DENSE_SHARE_MIN` full wells of it (and there are other
#: groups): chosen on 15 photos of skimage.data at 12 MP with 1.5 % over full well
#: (RESULTS.md "Blooming", tenth session), where the grouped path reran such a group
#: round after round (four rounds on ``coffee``, six on ``page``; the largest groups:
#: 3.6 k – 308 k full wells, 5.5–99.9 % of the charge; the grouped path was faster up to
#: 8 %, the one-group path on 11 of the 12 photos from 13.7 % up — not on ``brick``, 18 %).
_DENSE_SHARE = 0.10
_DENSE_SHARE_MIN = 1024


@nb.njit(cache=True, inline="always")
def _dominant(largest, total, dense_share, full_well):  # pragma: no cover - jit
    """Whether a group (or component) of pending charge ``largest`` [e⁻] makes a frame
    of ``total`` one group: more than ``dense_share`` of it and more than
    :data:`_DENSE_SHARE_MIN` full wells."""
    return largest > dense_share * total and largest > _DENSE_SHARE_MIN * full_well


def dense_groups(n_px: int) -> int:
    """Number of components above which a frame of ``n_px`` pixels is bloomed as one
    group (:func:`_run_dense`)."""
    return max(_DENSE_MIN_GROUPS, n_px // 64)


@nb.njit(cache=True)
def _region_pending(qf, idx, rstart, rcomp, pend, fw, keep):  # pragma: no cover - jit
    """``pend[c]`` ← the pending charge (1 − d)·(q − FWC) of region c's over-full pixels
    ``idx`` (run r: ``idx[rstart[r]:rstart[r + 1]]``, region ``rcomp[r]``), summed in list
    order; returns their total."""
    pend[:] = 0.0
    total = 0.0
    for r in range(rcomp.size):
        c = rcomp[r]
        for t in range(rstart[r], rstart[r + 1]):
            e = (np.float64(qf[idx[t]]) - fw) * keep
            pend[c] += e
            total += e
    return total


@nb.njit(cache=True, nogil=True)
def _run_dense(q, n, rstart, rcomp, n_reg, fw32, along_columns, max_iterations, tol, keep,
               write, limit, lab, node, front, fmask, freg, free, fval, foreign,
               dnext):  # pragma: no cover - jit
    """The frame bloomed as one group (one thread, written in place): the over-full
    pixels are the first nodes, ``node[:n]`` on the call (int32 flat frame indices in
    increasing order, turned into cell indices here: no second list of them — 4 bytes
    per over-full pixel; RESULTS.md, capture at real size, run 5), their regions given
    by runs (``node[rstart[r]:rstart[r + 1]]`` in region ``rcomp[r]``: a row's run of
    over-full pixels as :func:`_components` finds them, or part of one; regions 0 …
    n_reg − 1 numbered in order of first appearance; no region per pixel — 4 bytes per
    over-full pixel, run 6), the frame's edges are walls; then :func:`_grow` as in
    :func:`_run_one`. The cells cover the band of rows holding the over-full pixels with a
    margin of √(2·P/FWC) + 8 rows (P: their pending charge — the radius of a disc that
    holds it if its pixels were half full), walls at a band edge inside the frame; a bloom
    reaching one reruns with four times the margin (nothing is written to the frame before
    the end): a strip of sky at full well no longer initialises a cell per frame pixel
    (RESULTS.md "Blooming", sixth session). While several regions are left, those with
    nothing pending sleep (:func:`_grow` ``sleepy``). Work space: one int32 cell per band
    pixel (padded rows), the lists of the cells looked at (≤ 28 B each; sleeping slots
    and the dead entries of woken ones at the top of the slot lists, 28 B each, at most
    as many as the most slots visited) and ~36 B per region.
    ``limit``: the bytes the work space may take (< 0: no limit) — the band's cells and
    the regions' arrays, checked before they are written, and the lists as they grow
    (:func:`_out_of_room`); when they would outgrow it, ``steps`` is −1 (the frame is then
    partly bloomed when ``write``: the caller gives up). The lists touch only the pages
    they use (allocated, not written, by :func:`_dense_work`), so the work space's
    resident memory stays within ``limit`` whatever the frame.

    Returns (steps, pending, lost, pix, val, n_foreign, box): with ``write`` the result is
    written into ``q`` and pix, val are empty (when the band is the whole frame — no rerun can need
    the frame as it was — the full pixels are written step by step and their list
    reused: :func:`_grow` ``flush``); else ``q`` is left as it was and pix (int32 flat pixel
    indices), val (float32 final charges [e⁻]) list every pixel the bloom changed — the
    pixels that are full at the end and the frontier's — for a caller that reads only
    those out (:func:`bloom` ``footprints``: one footprint) and ``box`` (int64 (4)) their
    bounding box, rows r0…r1 and columns c0…c1, half-open (zeros when there are none or
    with ``write``), taken from the cells' rows and columns (a shift and a mask) as the
    list is made: :func:`_lists_meet` then divides no index (`moon` of
    ``bench_blooming.py --photos``: 4.6 ms for the two sides' 2.0 M pixels). ``lab`` …
    ``fval``: the work space, as :func:`_dense_work` allocates it.

    The over-full pixels may be some of them only (one side of a cut,
    :func:`_dense_two_sides`): the others are then walls that the footprint lists
    (``foreign``; their number is a sixth return value). Runs without the GIL
    (``nogil``): the two sides run at once, on two threads."""
    h, w = q.shape
    qf = q.reshape(h * w)
    sh = _stride_shift(w)
    msk = (1 << sh) - 1
    parent = np.empty(n_reg, np.int32)
    rlist = np.empty(n_reg, np.int32)
    edges = np.empty(n_reg, np.int32)
    pend = np.empty(n_reg, np.float64)
    share = np.empty(n_reg, np.float64)
    dhead = np.empty(n_reg, np.int32)
    dtail = np.empty(n_reg, np.int32)
    rs = np.empty(4, np.int32)
    fw = np.float64(fw32)
    inv_w = 1.0 / w
    n_dirs = 2 if along_columns else 4
    pending0 = _region_pending(qf, node, rstart, rcomp, pend, fw, keep)
    r_lo = _row_of(node[0], w, inv_w)
    r_hi = _row_of(node[n - 1], w, inv_w) + 1
    pad = 8 + int(np.sqrt(2.0 * max(pending0, 0.0) / fw))
    room = np.zeros(4, np.int64)        # (_out_of_room; the first n nodes are listed)
    room[1] = n
    while True:
        b0 = max(r_lo - pad, 0)
        b1 = min(r_hi + pad, h)
        room[0] = -1
        if limit >= 0:      # (the cells of the band and the regions' arrays, then the lists)
            room[0] = max(limit - 4 * ((b1 - b0 + 2) << sh) - 36 * n_reg, 0)
            if _out_of_room(room, n, 0, 0, 0):
                return (-1, 0.0, 0.0, np.empty(0, np.int32), np.empty(0, np.float32),
                        np.int64(0), np.zeros(4, np.int64))
        _init_cells(lab, b1 - b0, w, sh, _WALL_FRAME if b0 == 0 else _WALL_WINDOW,
                    _WALL_FRAME if b1 == h else _WALL_WINDOW, _WALL_FRAME, _WALL_FRAME)
        for r in range(n_reg):
            parent[r] = r
            rlist[r] = r
            edges[r] = 0
            share[r] = 0.0
            dhead[r] = -1
        for r in range(rcomp.size):     # (a run of several pixels lies in one row)
            c = rcomp[r]
            i, e = rstart[r], rstart[r + 1]
            row = _row_of(node[i], w, inv_w)
            d = ((row - b0 + 1) << sh) - row * w + 1
            for t in range(i, e):
                lp = node[t] + d
                lab[lp] = c
                node[t] = lp            # (the frame index back below, for a rerun)
        flush = write and b0 == 0 and b1 == h
        gbase = (b0 - 1) * w - 1       # frame index of cell 0
        i0 = np.int64(0)        # (not literals: one compiled signature of _grow per mode)
        state = (np.int64(n), np.int64(n), i0, i0, i0, i0, i0, 0.0, pending0, np.int64(n_reg))
        code = _MERGED
        if n_reg > 1:
            code, state = _grow_sleepy(state, qf, w, sh, msk, gbase, lab, fw32,
                                       n_dirs, max_iterations, tol, node, front, fmask, freg,
                                       foreign, free, parent, edges, pend, share, fval, rlist,
                                       dnext, dhead, dtail, rs, flush, room)
        if code == _MERGED:
            code, state = _grow_last(state, qf, w, sh, msk, gbase, lab, fw32,
                                     n_dirs, max_iterations, tol, node, front, fmask, freg,
                                     foreign, free, parent, edges, pend, share, fval, rlist,
                                     dnext, dhead, dtail, rs, flush, room)
        if code == _NO_ROOM:
            return (-1, 0.0, 0.0, np.empty(0, np.int32), np.empty(0, np.float32),
                    np.int64(0), np.zeros(4, np.int64))
        if code != _WINDOW_EDGE:
            break
        pad *= 4                        # (a band edge inside the frame was reached)
        for t in range(n):              # (the first nodes: appended to, never changed)
            lp = node[t]
            node[t] = gbase + (lp >> sh) * w + (lp & msk)
        _region_pending(qf, node, rstart, rcomp, pend, fw, keep)    # (spent by the steps)
    n_nodes, n_seen, n_front, n_free, n_fg, first, steps, lost, pending_total = state[:9]
    if write:
        for t in range(n_nodes):
            lp = node[t]
            qf[gbase + (lp >> sh) * w + (lp & msk)] = fw32
        for t in range(n_front):
            if fmask[t] != 0:
                lp = front[t]
                qf[gbase + (lp >> sh) * w + (lp & msk)] = np.float32(fval[t])
        return (steps, pending_total, lost, np.empty(0, np.int32), np.empty(0, np.float32),
                n_fg, np.zeros(4, np.int64))
    n_live = 0
    for t in range(n_front):
        n_live += fmask[t] != 0
    if _out_of_room(room, n_nodes + 2 * (n_nodes + n_live), n_front, 0, n_fg):
        # (the lists handed back: int32 + float32 per pixel, on top of the node list)
        return (-1, 0.0, 0.0, np.empty(0, np.int32), np.empty(0, np.float32), np.int64(0),
                np.zeros(4, np.int64))
    pix = np.empty(n_nodes + n_live, np.int32)
    val = np.empty(n_nodes + n_live, np.float32)
    lo_r, hi_r, lo_c, hi_c = 1 << 62, -1, 1 << 62, -1     # (cell rows and columns)
    for t in range(n_nodes):
        lp = node[t]
        pix[t] = gbase + (lp >> sh) * w + (lp & msk)
        val[t] = fw32
        lo_r, hi_r = min(lo_r, lp >> sh), max(hi_r, lp >> sh)
        lo_c, hi_c = min(lo_c, lp & msk), max(hi_c, lp & msk)
    n = n_nodes
    for t in range(n_front):
        if fmask[t] != 0:
            lp = front[t]
            pix[n] = gbase + (lp >> sh) * w + (lp & msk)
            val[n] = np.float32(fval[t])
            n += 1
            lo_r, hi_r = min(lo_r, lp >> sh), max(hi_r, lp >> sh)
            lo_c, hi_c = min(lo_c, lp & msk), max(hi_c, lp & msk)
    box = np.zeros(4, np.int64)     # (frame rows and columns, half-open; empty: zeros)
    if hi_r >= 0:
        box[0], box[1] = b0 - 1 + lo_r, b0 + hi_r
        box[2], box[3] = lo_c - 1, hi_c
    return steps, pending_total, lost, pix, val, n_fg, box


def _dense_work(h, w):
    """Work space of :func:`_run_dense` for an h × w frame (or side of a cut): the cells
    (int32, (h + 2) rows of a power-of-two stride ≥ w + 2; only the band's part is
    written) and the lists of
    the cells looked at (at most the frame's: h·w + 1 each; int32 ``node``, ``front``,
    ``fmask``, ``freg``, ``free``, float64 ``fval``, int32 ``foreign``, ``dnext``: the
    sleeping slots' lists), untouched until used.

    Allocated by NumPy, not in the kernel: NumPy asks the kernel for transparent huge
    pages on arrays of 4 MiB and more (``madvise``), numba's allocator does not, and the
    first touch of fresh 4 KiB pages can cost the one-group path as much as its steps
    (initialising the cells of a 12 MP band: 26–29 ms in the kernel's own array against
    2 ms in one already touched; RESULTS.md "Blooming", eleventh session)."""
    sh = _stride_shift(w)
    cap = h * w + 1
    return (np.empty((h + 2) << sh, np.int32), np.empty(cap, np.int32),
            np.empty(cap, np.int32), np.empty(cap, np.int32), np.empty(cap, np.int32),
            np.empty(cap, np.int32), np.empty(cap, np.float64), np.empty(cap, np.int32),
            np.empty(cap, np.int32))


#: The one-group path tries two sides of a cut (:func:`_split`) when the frame has at
#: least this many over-full pixels and two components or more, at most
#: :func:`dense_groups` (more are speckle everywhere, where no cut falls between
#: blooms, and its bookkeeping — 65 B per component — would grow with them) …
_SPLIT_MIN_OVER = 1 << 14
#: … and the lighter side holds at least this share of the estimated work.
_SPLIT_MIN_SHARE = 0.2
#: A cut keeps this many window margins (:func:`_first_margin`) from every component's
#: bounding box: on the photos of ``bench_blooming.py --photos``, cuts next to the boxes
#: had the two sides' blooms meet on 6 of 7 photos, cuts one margin away on 2 of 7
#: (`moon`, `clock`), two margins away on none (RESULTS.md "Blooming", twelfth session).
_SPLIT_REACH = 2


def _split(q, idx, rstart, rcomp, n_reg, fw32, keep, along_columns):
    """Two sides of the frame for the one-group path on two threads: the components on
    either side of a row or a column that none crosses (a cut), chosen to balance the
    sides' work. Returns (side of each component (0 or 1), the lighter side's share of
    the work — 0 without a cut —, pending charge [e⁻] of side 0, of both).

    Work of component k: its n_k over-full pixels plus the 2·P_k/FWC pixels its pending
    charge P_k = (1 − d)·Σ(q − FWC) fills if they were half full — the nodes the steps
    go through. A cut keeps :data:`_SPLIT_REACH` window margins (:func:`_first_margin`)
    from every component's box (rows only for a CCD, whose blooms stay in their
    columns). (Clusters of components whose boxes, grown so, overlap, shared out to two
    sides instead: on ``page`` they were one, found in 74 ms.) Whether the two sides'
    blooms stay apart is not predicted but checked
    (:func:`_dense_two_sides`); the result never depends on the choice. The components
    are the runs' (``idx[rstart[r]:rstart[r + 1]]`` in ``rcomp[r]``)."""
    h, w = q.shape
    box, pend, work_r, work_c, total = _split_work(q, idx, rstart, rcomp, n_reg, fw32, keep)
    none = np.zeros(n_reg, np.uint8)
    # boxes alone, then grown by their margins (the second can only do worse)
    best_axis, best_cut, best = _best_cut(box, np.zeros(n_reg, np.int64), work_r, work_c,
                                          total, h, w, along_columns)
    if best < _SPLIT_MIN_SHARE * total:
        return none, 0.0, 0.0, 0.0
    # (full well as float64, as _bloom_groups passes it)
    margin = _margins(q.reshape(h * w), box, pend, h, w, np.float64(fw32), along_columns, 1.0)
    best_axis, best_cut, best = _best_cut(box, margin, work_r, work_c, total, h, w,
                                          along_columns)
    if best < _SPLIT_MIN_SHARE * total:
        return none, 0.0, 0.0, 0.0
    side, p0, p_all = _split_sides(box, pend, best_axis, best_cut)
    return side, best / total, p0, p_all


@nb.njit(cache=True)
def _split_work(q, idx, rstart, rcomp, n_reg, fw32, keep):  # pragma: no cover - jit
    """Of :func:`_split`: each component's bounding box and pending charge [e⁻], the work
    of the components by the row and by the column their boxes start at, the total."""
    h, w = q.shape
    qf = q.reshape(h * w)
    fw = np.float64(fw32)
    inv_w = 1.0 / w
    box = np.empty((n_reg, 4), np.int64)
    box[:, 0] = h
    box[:, 1] = 0
    box[:, 2] = w
    box[:, 3] = 0
    pend = np.zeros(n_reg, np.float64)
    cnt = np.zeros(n_reg, np.float64)
    for r in range(rcomp.size):
        k = rcomp[r]
        i, e = rstart[r], rstart[r + 1]
        p = np.int64(idx[i])
        row = _row_of(p, w, inv_w)      # (a run lies in one row)
        col = p - row * w
        box[k, 0] = min(box[k, 0], row)
        box[k, 1] = max(box[k, 1], row + 1)
        box[k, 2] = min(box[k, 2], col)
        box[k, 3] = max(box[k, 3], col + e - i)
        for t in range(i, e):
            pend[k] += (np.float64(qf[idx[t]]) - fw) * keep
        cnt[k] += e - i
    work_r = np.zeros(h + 1, np.float64)
    work_c = np.zeros(w + 1, np.float64)
    total = 0.0
    for k in range(n_reg):
        wk = cnt[k] + 2.0 * pend[k] / fw
        work_r[box[k, 0]] += wk
        work_c[box[k, 2]] += wk
        total += wk
    return box, pend, work_r, work_c, total


@nb.njit(cache=True)
def _best_cut(box, margin, work_r, work_c, total, h, w,
              along_columns):  # pragma: no cover - jit
    """Of :func:`_split`: the cut (axis 0 rows, 1 columns; the cut between c − 1 and c)
    that no component's box grown by :data:`_SPLIT_REACH` times its ``margin`` crosses and
    that balances the work best, and the lighter side's work (axis −1, 0: none)."""
    cover_r = np.zeros(h + 1, np.int64)
    cover_c = np.zeros(w + 1, np.int64)
    for k in range(box.shape[0]):
        m = _SPLIT_REACH * margin[k]
        a, b = max(box[k, 0] - m, 0), min(box[k, 1] + m, h)
        if a + 1 < b:       # (cuts a + 1 … b − 1 fall inside)
            cover_r[a + 1] += 1
            cover_r[b] -= 1
        m = 0 if along_columns else m
        a, b = max(box[k, 2] - m, 0), min(box[k, 3] + m, w)
        if a + 1 < b:
            cover_c[a + 1] += 1
            cover_c[b] -= 1
    best_axis, best_cut, best = -1, 0, 0.0
    for axis in range(2):
        n = h if axis == 0 else w
        cover = cover_r if axis == 0 else cover_c
        work = work_r if axis == 0 else work_c
        c_run = 0
        w_run = 0.0
        for c in range(1, n):   # (the cut between c − 1 and c)
            c_run += cover[c]
            w_run += work[c - 1]
            if c_run == 0:
                s = min(w_run, total - w_run)
                if s > best:
                    best_axis, best_cut, best = axis, c, s
    return best_axis, best_cut, best


@nb.njit(cache=True)
def _split_sides(box, pend, best_axis, best_cut):  # pragma: no cover - jit
    """Of :func:`_split`: the side of each component of the cut, the pending charge of
    side 0 and of both [e⁻]."""
    n_reg = box.shape[0]
    side = np.zeros(n_reg, np.uint8)
    p0 = 0.0
    p_all = 0.0
    for k in range(n_reg):
        side[k] = box[k, 2 * best_axis] >= best_cut
        p0 += 0.0 if side[k] else pend[k]
        p_all += pend[k]
    return side, p0, p_all


@nb.njit(cache=True)
def _sides(idx, rstart, rcomp, n_reg, side_of):  # pragma: no cover - jit
    """The over-full pixels ``idx`` (raster order) and their runs (starts ``rstart``,
    components ``rcomp``) on each side (``side_of`` a component, :func:`_split`) —
    (pixels, runs' starts, runs' components, number of components) of side 0, then of
    side 1 —, the components renumbered 0 … in order of first appearance."""
    n_a = 0
    r_a = 0
    for r in range(rcomp.size):
        if side_of[rcomp[r]] == 0:
            n_a += rstart[r + 1] - rstart[r]
            r_a += 1
    new = np.full(n_reg, -1, np.int64)
    out = []
    for s in range(2):
        m = n_a if s == 0 else idx.size - n_a
        mr = r_a if s == 0 else rcomp.size - r_a
        si = np.empty(m, np.int32)
        ss = np.empty(mr + 1, np.int32)
        sc = np.empty(mr, np.int32)
        nr = 0
        j = 0
        jr = 0
        for r in range(rcomp.size):
            k = rcomp[r]
            if (side_of[k] != 0) == (s == 1):
                if new[k] < 0:
                    new[k] = nr
                    nr += 1
                ss[jr] = j
                sc[jr] = new[k]
                jr += 1
                for t in range(rstart[r], rstart[r + 1]):
                    si[j] = idx[t]
                    j += 1
        ss[jr] = j
        out.append((si, ss, sc, np.int64(nr)))
    return out[0], out[1]


@nb.njit(cache=True)
def _lists_meet(pix_a, pix_b, w, box_a, box_b):  # pragma: no cover - jit
    """Whether two lists of flat pixel indices share a pixel, given their bounding boxes
    (r0, r1, c0, c1, half-open, as :func:`_run_dense` hands them back; zeros for an empty
    list): a bitmap of the first's pixels inside the intersection of the boxes, the
    second's tested against it; boxes that do not meet answer at once."""
    inv_w = 1.0 / w
    r0, r1 = max(box_a[0], box_b[0]), min(box_a[1], box_b[1])
    c0, c1 = max(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    if r0 >= r1 or c0 >= c1 or pix_a.size == 0 or pix_b.size == 0:
        return False
    bits = np.zeros(((r1 - r0) * (c1 - c0) + 63) >> 6, np.uint64)
    for t in range(pix_a.size):
        b = _bit_in_box(pix_a[t], w, inv_w, r0, r1, c0, c1)
        if b >= 0:
            bits[b >> 6] |= np.uint64(1) << np.uint64(b & 63)
    for t in range(pix_b.size):
        b = _bit_in_box(pix_b[t], w, inv_w, r0, r1, c0, c1)
        if b >= 0 and bits[b >> 6] & (np.uint64(1) << np.uint64(b & 63)):
            return True
    return False


@nb.njit(cache=True, inline="always")
def _bit_in_box(p, w, inv_w, r0, r1, c0, c1):  # pragma: no cover - jit
    """Index of flat pixel ``p`` (row stride ``w``) in the box rows r0…r1, columns c0…c1
    (half-open) read row by row, or −1 outside it."""
    row = _row_of(p, w, inv_w)
    col = p - row * w
    if r0 <= row < r1 and c0 <= col < c1:
        return (row - r0) * (c1 - c0) + col - c0
    return -1


#: Pixels per footprint segment handed back by the one-group path: the readout
#: (:func:`camtwin.sensor._kernels.readout_lists`) runs its segments in parallel, and one
#: segment of a frame's whole bloom ran on one thread.
_SEGMENT = 1 << 16


def _segments(n0: int, n1: int) -> np.ndarray:
    """``seg`` rows (buffer, offset, length) covering lists of n0 and n1 pixels in pieces
    of at most :data:`_SEGMENT`."""
    rows = [(b, o, min(_SEGMENT, n - o)) for b, n in ((0, n0), (1, n1))
            for o in range(0, n, _SEGMENT)]
    return np.array(rows, np.int64).reshape(-1, 3)


def _dense_two_sides(q, idx, rstart, rcomp, n_reg, fw32, along_columns, max_iterations, tol,
                     keep, write, limit=-1):
    """The one-group path as two groups, the components on each side of a cut
    (:func:`_split`), bloomed at once on two threads (:func:`_run_dense` runs without the
    GIL), each on the whole frame with the other's over-full pixels as walls. As in the
    grouped path, two groups whose footprints (every pixel each read or wrote) share no
    pixel never interacted: each result is what the whole frame's steps give its pixels,
    the stop tolerance shared in proportion to the groups' pending charge. Returns None
    when there is no cut or the footprints meet (then the caller blooms the whole frame
    as one group; nothing has been written), else (steps, pending, lost, lists):
    ``lists`` the two footprints as :func:`bloom` ``footprints`` hands them back (with
    ``write``, also written into ``q``). ``limit`` (bytes, < 0: none): each side's work
    space within half of it (:func:`_run_dense`); a side that would need more gives None
    too (the one-group path then has the whole limit)."""
    h, w = q.shape
    side_of, lighter, p0, p_all = _split(q, idx, rstart, rcomp, n_reg, fw32, keep,
                                         along_columns)
    if lighter < _SPLIT_MIN_SHARE:      # (else both sides hold components)
        return None
    sides = _sides(idx, rstart, rcomp, n_reg, side_of)
    pend = (p0, p_all - p0)

    def run(s):
        si, ss, sc, nr = sides[s]
        t = tol * pend[s] / p_all if p_all > 0 else tol
        work = _dense_work(h, w)
        work[1][:si.size] = si          # (the node list starts with the side's pixels)
        lim = -1 if limit < 0 else max(limit // 2 - si.nbytes - ss.nbytes - sc.nbytes, 0)
        return _run_dense(q, si.size, ss, sc, nr, fw32, along_columns, max_iterations, t,
                          keep, False, np.int64(lim), *work)

    got = [None, None]

    def other():
        try:
            got[1] = run(1)
        except BaseException as e:      # (handed to the caller's thread below)
            got[1] = e

    # a thread per call (start and join: 0.13 ms, median of 200; a side of the photos
    # with a cut takes 10–40 ms), not a pool: a process forked after a pool's thread
    # started would wait on it forever
    worker = threading.Thread(target=other, name="camtwin-bloom", daemon=True)
    worker.start()
    try:
        a = run(0)
    finally:
        worker.join()
    b = got[1]
    if isinstance(b, BaseException):
        raise b
    if a[0] < 0 or b[0] < 0 or a[5] or b[5] or _lists_meet(a[3], b[3], w, a[6], b[6]):
        return None
    if write:
        flat = q.reshape(-1)
        _scatter(flat, a[3], a[4])
        _scatter(flat, b[3], b[4])
    lists = (_segments(a[3].size, b[3].size), a[3], a[4], b[3], b[4])
    return max(a[0], b[0]), a[1] + b[1], a[2] + b[2], lists


@nb.njit(cache=True)
def _all_over_full(q, fw32, known):  # pragma: no cover - jit
    """Whether every pixel of ``q`` is above full well (from the per-row counts ``known``
    when given; else a scan that stops at the first pixel that is not)."""
    h, w = q.shape
    if known.size == h + 1:
        return known[1:].sum() == h * w
    for i in range(h):
        for j in range(w):
            if not q[i, j] > fw32:
                return False
    return True


def _clip_all(q, fw32, keep):
    """Every pixel set to full well; returns Σ(q − FWC)·keep [e⁻] (float64, summed per
    row, then over rows). Rows on numba's threads."""
    sums = np.empty(q.shape[0], np.float64)
    on_row_threads(_clip_rows, (q, fw32, keep, sums), q.shape[0])
    return float(sums.sum())


@nb.njit(cache=True, nogil=True)
def _clip_rows(q, fw32, keep, sums, i0, i1):  # pragma: no cover - jit
    """Rows i0 … i1 − 1 of :func:`_clip_all`."""
    fw = np.float64(fw32)
    w = q.shape[1]
    for i in range(i0, i1):
        total = 0.0
        for j in range(w):
            total += (np.float64(q[i, j]) - fw) * keep
            q[i, j] = fw32
        sums[i] = total


@nb.njit(cache=True, inline="always")
def _run_breaks(p, prev, row_end, along_columns):  # pragma: no cover - jit
    """Whether over-full pixel ``p`` (after ``prev`` in raster order) starts a new run: a
    row's maximal sequence of adjacent over-full pixels (a pixel alone for a CCD, whose
    blooms do not cross columns); ``row_end`` is the frame index one past the row of
    ``prev``."""
    return along_columns or p != prev + 1 or p == row_end


@nb.njit(cache=True)
def _components(idx, w, along_columns):  # pragma: no cover - jit
    """The runs of over-full pixels (:func:`_run_breaks`; a 12 MP blob frame's 178 000
    over-full pixels are 35 000 runs) and their components, 4-connected or along columns
    only: a run joins every run of the row above whose columns overlap its own. Returns
    (``rstart``: the runs' first positions in ``idx`` and n, int32 (runs + 1); each run's
    component: the smallest run index in it, int32 (runs)), by which the set-up and the
    groups' first nodes go run by run."""
    n = idx.size
    inv_w = 1.0 / w
    rstart = np.empty(n + 1, np.int32)      # runs: first positions in idx
    nr = 0
    prev = np.int64(-2)
    row_end = np.int64(0)
    for i in range(n):
        p = np.int64(idx[i])
        if _run_breaks(p, prev, row_end, along_columns):
            rstart[_u(nr)] = i
            nr += 1
            if p >= row_end:
                row_end = (_row_of(p, w, inv_w) + 1) * w
        prev = p
    rstart[nr] = n
    parent = np.empty(nr, np.int32)
    for r in range(nr):
        parent[r] = r
    j = 0                       # the first run that may overlap the row above
    for r in range(nr):
        lo = np.int64(idx[_u(rstart[r])]) - w       # the columns of run r, one row up
        hi = np.int64(idx[_u(rstart[r + 1] - 1)]) - w
        if hi < 0:
            continue
        while j < r and idx[_u(rstart[_u(j + 1)] - 1)] < lo:
            j += 1
        k = j
        while k < r and idx[_u(rstart[_u(k)])] <= hi:
            _union(parent, r, k)
            k += 1
    for r in range(nr):
        parent[r] = _find(parent, r)
    return rstart[:nr + 1].copy(), parent


@nb.njit(cache=True)
def _merge(gp, a, b, head, tail, nxt, bbox, excess, margin):  # pragma: no cover - jit
    """Union of groups a and b (roots kept in ``gp``), with their pixel lists, bounding
    boxes, pending charge and margins."""
    ra = _find(gp, a)
    rb = _find(gp, b)
    if ra == rb:
        return
    if rb < ra:
        ra, rb = rb, ra
    gp[rb] = ra
    nxt[tail[ra]] = head[rb]
    tail[ra] = tail[rb]
    bbox[ra, 0] = min(bbox[ra, 0], bbox[rb, 0])
    bbox[ra, 1] = max(bbox[ra, 1], bbox[rb, 1])
    bbox[ra, 2] = min(bbox[ra, 2], bbox[rb, 2])
    bbox[ra, 3] = max(bbox[ra, 3], bbox[rb, 3])
    excess[ra] += excess[rb]
    margin[ra] = max(margin[ra], margin[rb])


#: Pixels a group's pending charge fills, half full, from which :func:`_first_margin`
#: samples the room around it (16 reads, mostly cache misses, cost about what rerunning
#: so small a bloom in a wider window does: from 8, the 180 000 isolated pixels of
#: ``bench_blooming.py --patterns`` — 4 full wells each — took 0.127 s against 0.116 s;
#: from 16, ``grass`` sends 300 of its 2133 groups into a window edge in the first round,
#: 230 from 8, 721 with the half-full rule alone: RESULTS.md "Blooming", eleventh session).
_ROOM_MIN = 16

#: The grouped path's windows hold this many times a group's pending charge at the room
#: sampled around it (:func:`_first_margin`): the ring halfway out has more room than the
#: pixels nearer a highlight, which fill first. From 1: first-round window-edge reruns
#: ``grass`` 300 → 119 groups, ``gravel`` 236 → 90, their thrown-away work 654 k → 179 k
#: and 550 k → 128 k pixels; from 3, ``gravel``'s premerge made one group dominant
#: (RESULTS.md "Blooming", twelfth session).
_ROOM_FACTOR = 2.0


@nb.njit(cache=True)
def _first_margin(qf, r0, r1, c0, c1, h, w, pending_e, full_well, along_columns,
                  room_factor):  # pragma: no cover - jit
    """Window margin [px] for a group with bounding box rows r0…r1, columns c0…c1 in an
    H × W frame ``qf`` (flat, as generated): d + 2, where d ≥ 1 is the least distance
    such that the box grown by d (rows only for a CCD) holds A more pixels — or covers
    the frame —, plus two (a bloom against the frame edge spreads the other way).

    A = max(f·P / ρ, 2P / FWC): room for f (``room_factor``) times its pending charge P
    [e⁻] at a room of ρ per pixel — never less than if the pixels were half full on
    average (the rule before,
    and the only one for a group of less than :data:`_ROOM_MIN` such pixels). ρ is the
    mean of (FWC − q)⁺ over 16 reads on the ring halfway out (4 evenly spaced along each
    side, its ends included: the ring's corners are read for both of their sides; 8
    along the rows for a CCD), taken only when one of the pixels in the middle of the
    sides has less room than half a full well (else the rule before stands: four reads
    for most groups). On photos a highlight's surroundings are often
    nearly full, and the half-full rule sent a third of a frame's groups into their
    windows' edges in the first round (``grass``: 721 of 2261 groups; 300 of 2133 with
    the room at f = 1, 119 of 1992 at f = 2; RESULTS.md "Blooming", eleventh and twelfth
    sessions). The grouped path's windows and premerge
    take f = :data:`_ROOM_FACTOR`, the cut of :func:`_split` f = 1. (A bloom that
    outgrows its window is rerun in one twice as wide; a tighter first guess costs more
    reruns, a wider one more pixels per window.)"""
    fw = np.float64(full_well)
    need = 2.0 * pending_e / fw
    area0 = (r1 - r0) * (c1 - c0)
    for rnd in range(2):        # (the half-full distance, then with the room sampled)
        d = 1
        while True:
            rows = min(r1 + d, h) - max(r0 - d, 0)
            cols = (c1 - c0) if along_columns else min(c1 + d, w) - max(c0 - d, 0)
            if rows * cols - area0 >= need:
                break
            if (r0 - d <= 0 and r1 + d >= h
                    and (along_columns or (c0 - d <= 0 and c1 + d >= w))):
                break
            d += 1
        if rnd == 1 or need < _ROOM_MIN:
            break
        e = max(1, (d + 1) // 2)        # the ring halfway out, clipped to the frame
        a0, a1 = max(r0 - e, 0), min(r1 + e, h) - 1
        b0, b1 = (c0, c1 - 1) if along_columns else (max(c0 - e, 0), min(c1 + e, w) - 1)
        # the middle of each side first: all with room for half a full well or more —
        # so is their mean — and the half-full rule stands (most groups: four reads)
        um, vm = (b0 + b1) // 2, (a0 + a1) // 2
        low = min(fw - np.float64(qf[a0 * w + um]), fw - np.float64(qf[a1 * w + um]))
        if not along_columns:
            low = min(low, fw - np.float64(qf[vm * w + b0]), fw - np.float64(qf[vm * w + b1]))
        if low >= 0.5 * fw:
            break
        room = 0.0
        n = 0
        for k in range(4):
            u = b0 + (b1 - b0) * k // 3     # (along the top and bottom rows)
            room += max(fw - np.float64(qf[a0 * w + u]), 0.0)
            room += max(fw - np.float64(qf[a1 * w + u]), 0.0)
            n += 2
            if not along_columns:           # (down the left and right columns)
                v = a0 + (a1 - a0) * k // 3
                room += max(fw - np.float64(qf[v * w + b0]), 0.0)
                room += max(fw - np.float64(qf[v * w + b1]), 0.0)
                n += 2
        rho = room / n
        if rho >= 0.5 * fw:
            break
        need = min(room_factor * pending_e / max(rho, 1e-3 * fw), np.float64(h) * w)
    return d + 2


def _margins(qf, bbox, excess, h, w, full_well, along_columns, room_factor):
    """:func:`_first_margin` of every group (bounding boxes ``bbox``, pending charge
    ``excess`` [e⁻]), blocks of groups on numba's threads (:func:`_blocks`)."""
    margin = np.empty(bbox.shape[0], np.int64)
    _blocks(_margin_rows, (qf, bbox, excess, np.int64(h), np.int64(w), np.float64(full_well),
                           bool(along_columns), float(room_factor), margin),
            bbox.shape[0], _MARGIN_BLOCK)
    return margin


#: Groups per block of :func:`_margins`.
_MARGIN_BLOCK = 1 << 12


@nb.njit(cache=True, nogil=True)
def _margin_rows(qf, bbox, excess, h, w, full_well, along_columns, room_factor, margin,
                 n_blocks, b0, b1):  # pragma: no cover - jit
    """Blocks b0 … b1 − 1 of :func:`_margins`."""
    for b in range(b0, b1):
        g0, g1 = _block(b, bbox.shape[0], n_blocks)
        for g in range(g0, g1):
            margin[g] = _first_margin(qf, bbox[g, 0], bbox[g, 1], bbox[g, 2], bbox[g, 3], h,
                                      w, excess[g], full_well, along_columns, room_factor)


@nb.njit(cache=True, nogil=True)
def _write_back_rows(flat, acc, res, pix0, val0, pix1, val1, n_blocks, b0,
                     b1):  # pragma: no cover - jit
    """Blocks b0 … b1 − 1 (:func:`_blocks`) of the accepted footprints ``acc`` (pairwise
    disjoint; ``res``: buffer, offset, length of each group's) written into the frame."""
    for b in range(b0, b1):
        k0, k1 = _block(b, acc.size, n_blocks)
        for k in range(k0, k1):
            g = acc[k]
            pix = pix0 if res[0, g] == 0 else pix1
            val = val0 if res[0, g] == 0 else val1
            for t in range(res[1, g], res[1, g] + res[2, g]):
                flat[_u(pix[t])] = val[t]


@nb.njit(cache=True)
def _box_pairs(box, is_new, h, w):  # pragma: no cover - jit
    """Pairs (a, b) of overlapping boxes ``box[k]`` = (r0, r1, c0, c1) (half-open) of which
    at least one ``is_new``, each pair once: boxes are binned into square cells (a power of
    two near twice the mean box side, 8…256 px: a cell holds a few boxes, a box a few
    cells; cell coordinates by shifts, not divisions) and a pair is reported in the cell
    that holds the corner (max r0, max c0) of their intersection."""
    n = box.shape[0]
    side = 0.0
    for k in range(n):
        side += max(box[k, 1] - box[k, 0], box[k, 3] - box[k, 2])
    sh = 3
    while sh < 8 and (1 << (sh + 1)) <= 2.0 * side / max(n, 1):
        sh += 1
    ny = ((h - 1) >> sh) + 1
    nx = ((w - 1) >> sh) + 1
    cnt = np.zeros(ny * nx + 1, np.int64)
    for k in range(n):
        for cy in range(box[k, 0] >> sh, ((box[k, 1] - 1) >> sh) + 1):
            for cx in range(box[k, 2] >> sh, ((box[k, 3] - 1) >> sh) + 1):
                cnt[cy * nx + cx + 1] += 1
    for c in range(ny * nx):
        cnt[c + 1] += cnt[c]
    members = np.empty(cnt[ny * nx], np.int64)
    fill = cnt[:ny * nx].copy()
    for k in range(n):
        for cy in range(box[k, 0] >> sh, ((box[k, 1] - 1) >> sh) + 1):
            for cx in range(box[k, 2] >> sh, ((box[k, 3] - 1) >> sh) + 1):
                members[fill[cy * nx + cx]] = k
                fill[cy * nx + cx] += 1
    pairs = np.empty(32, np.int64)     # (a, b) after one another
    n_pairs = 0
    for cy in range(ny):
        for cx in range(nx):
            c = cy * nx + cx
            for i in range(cnt[c], cnt[c + 1]):
                a = members[i]
                for j in range(i + 1, cnt[c + 1]):
                    b = members[j]
                    if not (is_new[a] or is_new[b]):
                        continue
                    if box[a, 0] < box[b, 1] and box[b, 0] < box[a, 1] and \
                            box[a, 2] < box[b, 3] and box[b, 2] < box[a, 3] and \
                            max(box[a, 0], box[b, 0]) >> sh == cy and \
                            max(box[a, 2], box[b, 2]) >> sh == cx:
                        if 2 * n_pairs + 1 >= pairs.size:
                            # (grown by a call, only when full: a 2-D copy written out
                            # in this loop nest is slow to compile; a call per pair pays
                            # the refcounts of its array argument and result)
                            pairs = _grown(pairs, 2 * n_pairs + 1)
                        pairs[2 * n_pairs] = a
                        pairs[2 * n_pairs + 1] = b
                        n_pairs += 1
    return pairs[:2 * n_pairs].reshape((n_pairs, 2))


@nb.njit(cache=True)
def _footprints_meet(a, b, g_box, w, where, off, length, pix0, pix1, seen,
                     stamp):  # pragma: no cover - jit
    """Whether the footprints of accepted groups a and b (whose boxes overlap) share a
    pixel. Small footprints are compared pixel by pixel; otherwise a's pixels inside the
    boxes' intersection are stamped (``stamp``, unique per call) on ``seen``, a map of
    that intersection reused between calls (returned, grown when too small), and b's are
    looked up. Returns (meet, seen)."""
    pa = pix0 if where[a] == 0 else pix1
    pb = pix0 if where[b] == 0 else pix1
    if max(length[a], length[b]) > _SORTED_MIN:
        # the longer footprint is sorted: look the shorter one's pixels up in it (a large
        # bloom meets many small ones: stamping it for each cost O(its length) per pair)
        if length[a] < length[b]:
            a, b, pa, pb = b, a, pb, pa
        seg = pa[off[a]:off[a] + length[a]]
        r0 = max(g_box[a, 0], g_box[b, 0])
        r1 = min(g_box[a, 1], g_box[b, 1])
        c0 = max(g_box[a, 2], g_box[b, 2])
        c1 = min(g_box[a, 3], g_box[b, 3])
        inv_w = 1.0 / w
        for t in range(off[b], off[b] + length[b]):
            x = pb[t]
            r = _row_of(x, w, inv_w)
            c = x - r * w
            if r0 <= r < r1 and c0 <= c < c1:
                i = np.searchsorted(seg, x)
                if i < seg.size and seg[i] == x:
                    return True, seen
        return False, seen
    if length[a] * length[b] <= 1024:
        for t in range(off[a], off[a] + length[a]):
            x = pa[t]
            for u in range(off[b], off[b] + length[b]):
                if pb[u] == x:
                    return True, seen
        return False, seen
    r0 = max(g_box[a, 0], g_box[b, 0])
    r1 = min(g_box[a, 1], g_box[b, 1])
    c0 = max(g_box[a, 2], g_box[b, 2])
    c1 = min(g_box[a, 3], g_box[b, 3])
    cw = c1 - c0
    if (r1 - r0) * cw > seen.size:
        seen = np.zeros(2 * (r1 - r0) * cw, np.int64)
    inv_w = 1.0 / w
    for t in range(off[a], off[a] + length[a]):
        r = _row_of(pa[t], w, inv_w)
        c = pa[t] - r * w
        if r0 <= r < r1 and c0 <= c < c1:
            seen[(r - r0) * cw + c - c0] = stamp
    for t in range(off[b], off[b] + length[b]):
        r = _row_of(pb[t], w, inv_w)
        c = pb[t] - r * w
        if r0 <= r < r1 and c0 <= c < c1 and seen[(r - r0) * cw + c - c0] == stamp:
            return True, seen
    return False, seen


#: Accepted footprints longer than this are kept sorted by pixel (:func:`_footprints_meet`).
_SORTED_MIN = 4096


@nb.njit(cache=True)
def _sort_footprint(pix, val, o, n):  # pragma: no cover - jit
    """Sort the footprint pix[o:o + n] (its pixel indices: distinct, 0 ≤ p < 2³¹) and its
    charges val by pixel index, in place: a least-significant-digit radix sort, three
    passes of 11 bits (np.argsort's quicksort is far slower for numba to compile)."""
    p, v = pix[o:o + n], val[o:o + n]
    tp = np.empty(n, np.int32)
    tv = np.empty(n, np.float32)
    cnt = np.empty(2048, np.int64)
    for shift in (0, 11, 22):
        cnt[:] = 0
        for t in range(n):
            cnt[(p[t] >> shift) & 2047] += 1
        acc = 0
        for d in range(2048):
            c = cnt[d]
            cnt[d] = acc
            acc += c
        for t in range(n):
            d = (p[t] >> shift) & 2047
            tp[cnt[d]] = p[t]
            tv[cnt[d]] = v[t]
            cnt[d] += 1
        p, tp = tp, p
        v, tv = tv, v
    # three passes: the sorted lists are in the work arrays; copy them back (loops: see
    # _grown)
    for t in range(n):
        pix[o + t] = p[t]
        val[o + t] = v[t]


@nb.njit(cache=True)
def _reach_boxes(roots, n_groups, bbox, margin, h, w, along_columns):  # pragma: no cover - jit
    """(box, own, reach) of groups ``roots[k]`` for the premerge rule (:func:`_premerge`):
    each group's expected reach d = margin − 2 (≥ 0), its bounding box grown by d (rows
    only for a CCD) and clipped to the frame, and its own box (a copy: ``bbox`` changes
    as groups merge)."""
    box = np.empty((n_groups, 4), np.int64)
    own = np.empty((n_groups, 4), np.int64)
    reach = np.empty(n_groups, np.int64)
    for k in range(n_groups):
        r = roots[k]
        d = max(margin[r] - 2, 0)
        reach[k] = d
        _copy_row(own, k, bbox, r)
        box[k, 0] = max(bbox[r, 0] - d, 0)
        box[k, 1] = min(bbox[r, 1] + d, h)
        dc = 0 if along_columns else d
        box[k, 2] = max(bbox[r, 2] - dc, 0)
        box[k, 3] = min(bbox[r, 3] + dc, w)
    return box, own, reach


@nb.njit(cache=True, inline="always")
def _within_reach(own, reach, a, b, along_columns):  # pragma: no cover - jit
    """The premerge rule for groups a, b whose grown boxes overlap: the row gap plus the
    column gap between their own boxes is at most the sum of their reaches (always, for
    a CCD: its blooms stay in their columns)."""
    if along_columns:
        return True
    gap_r = max(own[a, 0] - own[b, 1], own[b, 0] - own[a, 1], 0)
    gap_c = max(own[a, 2] - own[b, 3], own[b, 2] - own[a, 3], 0)
    return gap_r + gap_c <= reach[a] + reach[b]


@nb.njit(cache=True)
def _premerge(roots, n_groups, bbox, margin, h, w, along_columns, gp, head, tail, nxt,
              excess):  # pragma: no cover - jit
    """Merge, before any run, the groups whose expected footprints can meet: they would
    most likely conflict and run twice. A group's expected reach d is its margin less two;
    4-connected spill moves one pixel a step, so a bloom lies within d steps, rows plus
    columns, of its bounding box (a diamond-cornered box, not the box grown by d on every
    side): two groups are merged when the row gap plus the column gap between their boxes
    is at most the sum of their reaches (a CCD's blooms stay in their columns: there the
    grown boxes' overlap). Any grouping is exact (merging is always allowed); this one only
    saves work. (Merging on the grown boxes' overlap instead joined 1174 of the 5305 groups
    of the 12 MP blob frame of ``benchmarks/bench_blooming.py`` into groups of several
    blobs, run by the slower several-region steps; this rule 1017 of 5651.)"""
    box, own, reach = _reach_boxes(roots, n_groups, bbox, margin, h, w, along_columns)
    pairs = _box_pairs(box, np.ones(n_groups, np.bool_), h, w)
    for i in range(pairs.shape[0]):
        ka = pairs[i, 0]
        kb = pairs[i, 1]
        if _within_reach(own, reach, ka, kb, along_columns):
            _merge(gp, roots[ka], roots[kb], head, tail, nxt, bbox, excess, margin)
    n_new = 0
    out = np.empty(n_groups, np.int64)
    for k in range(n_groups):
        if _find(gp, roots[k]) == roots[k]:
            out[n_new] = roots[k]
            n_new += 1
    return out[:n_new].copy()


#: :func:`_premerged_dominant` looks around this many of the components with the most
#: pending charge.
_SEEDS = 8


@nb.njit(cache=True)
def _premerged_dominant(n_groups, bbox, margin, excess, total, dense_share, full_well, h, w,
                        along_columns):  # pragma: no cover - jit
    """Whether the premerge (:func:`_premerge`, components ``0 … n_groups − 1``) will make
    one group dominant (:func:`_dominant`), known without it: the group of a component
    holds at least the component and every component the premerge merges with it
    directly (their grown boxes overlap and :func:`_within_reach`), so when that sum is
    dominant for one of the :data:`_SEEDS` components with the most pending charge, so is
    the premerge's largest group (the same answer, O(n_groups) per seed instead of the
    pairing and merging: ``immunohistochemistry`` of ``bench_blooming.py --photos``,
    28 057 components, whose premerge took 13.6 ms; RESULTS.md "Blooming", nineteenth
    session). False says nothing: the premerge then decides. (Where the premerge would
    have joined every component into that one group — the grouped path then runs it
    alone, in a window — the one-group path runs it: the same steps, in a band of rows.)"""
    roots = np.arange(n_groups)
    box, own, reach = _reach_boxes(roots, n_groups, bbox, margin, h, w, along_columns)
    seeds = np.argsort(-excess)[:_SEEDS]
    for s in seeds:
        held = excess[s]
        for k in range(n_groups):
            if (k != s and box[s, 0] < box[k, 1] and box[k, 0] < box[s, 1]
                    and box[s, 2] < box[k, 3] and box[k, 2] < box[s, 3]
                    and _within_reach(own, reach, s, k, along_columns)):
                held += excess[k]
        if _dominant(held, total, dense_share, full_well):
            return True
    return False


def bloom(q, full_well, drain, along_columns, max_iterations, tolerance_e, counts=None,
          boxes=False, dense_at=None, bits=None, footprints=False, dense_share=None,
          max_work_bytes=None):
    """Collect charge in place: q (H, W) C-contiguous float32 [e⁻] → every pixel ≤
    ``full_well``, the excess bloomed as described in the module docstring. ``counts``
    (int64, H + 1): optional per-row numbers of pixels above full well in ``counts[1:]``;
    ``bits`` (uint64 (H, ⌈W/64⌉), with ``counts`` only): optionally where they are, bit
    u of word b of row i for column 64·b + u (both as
    :func:`camtwin.sensor._kernels.fused_chain_keep` gives them).

    Returns (steps, pending charge left [e⁻], charge lost [e⁻] in regions without a
    non-full neighbour or after ``max_iterations`` steps); with ``boxes`` also the
    bounding boxes (r0, r1, c0, c1), int64 (n, 4), half-open, of the blooms' footprints:
    every pixel whose charge blooming changed lies in one of them (any other pixel only
    had its charge limited to ``full_well``). ``dense_at``: number of components above
    which the frame is one group (default :func:`dense_groups`; tests lower it);
    ``dense_share``: the share of the pending charge above which one group (of more than
    :data:`_DENSE_SHARE_MIN` full wells) makes the frame one group (default
    :data:`_DENSE_SHARE`; tests of the grouped path raise it to 1).

    ``footprints`` (with ``boxes``): the blooms bloomed in groups (or as one group) are
    not written into ``q`` but handed back as a fifth element, their pixels' final
    charges as lists (seg, pix0, val0, pix1, val1): footprint k is ``pix[o:o + n]``
    (int32 flat pixel indices) and ``val[o:o + n]`` (float32 charges [e⁻]) of buffer 0 or
    1, (buffer, o, n) = ``seg[k]``; no pixel is in two footprints. ``q`` holds every
    other pixel's final charge (the pixels of the footprints are left as they were before
    those blooms, any pixel over full well among them included) and the boxes bound the
    pixels the other paths changed (they may overlap footprints: a footprint's charge is
    the final one). For a caller that only reads the changed pixels out
    (:func:`camtwin.sensor._kernels.readout_lists`): no write-back pass.

    ``max_work_bytes``: the most the one-group path's work space may take (its cells,
    regions and lists, which grow with the bloom and are checked as they do:
    :func:`_run_dense`); a frame that would need more raises
    :class:`camtwin.memory.MemoryBudgetError` — with ``q`` then partly bloomed. The other
    paths' work space is bounded beforehand by :func:`work_bytes`.
    """
    if q.size >= 2 ** 31:   # pixel indices are int32 (half the memory of a saturated frame)
        from ..errors import ConfigError
        raise ConfigError(f"blooming works on frames of fewer than 2^31 pixels, got "
                          f"{q.shape[0]}×{q.shape[1]}")
    known = _NO_COUNTS if counts is None else np.ascontiguousarray(counts, np.int64)
    at = dense_groups(q.size) if dense_at is None else int(dense_at)
    share = _DENSE_SHARE if dense_share is None else float(dense_share)
    mask = _NO_BITS
    if bits is not None and counts is not None:
        want = (q.shape[0], -(-q.shape[1] // 64))
        if not (isinstance(bits, np.ndarray) and bits.dtype == np.uint64
                and bits.shape == want):
            raise ValueError(f"bits must be a uint64 array of shape {want}")
        mask = bits
    # one specialisation of each kernel whatever number types the caller passes (the
    # kernels take full well as float32 anyway)
    fw32, drain, along_columns = np.float32(full_well), float(drain), bool(along_columns)
    max_iterations, tolerance_e = int(max_iterations), float(tolerance_e)
    write = not (boxes and footprints)
    out = _path(q, fw32, drain, along_columns, max_iterations, tolerance_e, known, at, mask,
                True, write, share)
    lists = out[7:]
    first = None
    if out[0] == _TO_FIRST_STEP:
        bad, n_done, first_boxes, tol_rest = _first_step_alone(
            q, out[4], _pixel_comp(out[5], out[8], out[4].size), out[6], fw32, 1.0 - drain,
            along_columns, tolerance_e)
        if n_done == out[4].size:
            out = (1, 0.0, 0.0, first_boxes)
        else:
            if n_done:      # the rest, on the frame the step left (counts, bits now stale)
                first = first_boxes
                known, mask, tolerance_e = _NO_COUNTS, _NO_BITS, tol_rest
            out = _path(q, fw32, drain, along_columns, max_iterations, tolerance_e, known,
                        at, mask, False, write, share)
            lists = out[7:]
    if out[0] == _TO_ONE_STEP:
        out = _bloom_one_step(q, out[4], fw32, 1.0 - drain, along_columns, max_iterations,
                              tolerance_e)
    elif out[0] == _TO_DENSE:
        two = None
        limit = -1 if max_work_bytes is None else max(int(max_work_bytes), 0)
        if 2 <= out[6] <= dense_groups(q.size) and out[4].size >= _SPLIT_MIN_OVER:
            held = out[4].nbytes + out[5].nbytes + out[8].nbytes    # (alive meanwhile)
            two = _dense_two_sides(q, out[4], out[5], out[8], out[6], fw32, along_columns,
                                   max_iterations, tolerance_e, 1.0 - drain, write,
                                   -1 if limit < 0 else max(limit - held, 0))
        if two is not None:
            steps, pending, lost, dense_lists = two
        else:
            work = _dense_work(*q.shape)
            n_over, rstart, rcomp, n_reg = out[4].size, out[5], out[8], out[6]
            work[1][:n_over] = out[4]   # (the node list starts with the over-full pixels;
            out = None                  # their own list is freed before the steps)
            if limit >= 0:
                limit = max(limit - rstart.nbytes - rcomp.nbytes, 0)
            steps, pending, lost, pix, val, _, _ = _run_dense(
                q, n_over, rstart, rcomp, n_reg, fw32, along_columns, max_iterations,
                tolerance_e, 1.0 - drain, write, np.int64(limit), *work)
            if steps < 0:
                from ..memory import MemoryBudgetError, format_bytes

                raise MemoryBudgetError(
                    f"blooming {n_over} pixels above full well needs more than "
                    f"{format_bytes(max_work_bytes)} of work space")
            dense_lists = (_segments(pix.size, 0), pix, val, pix[:0], val[:0])
        if write:
            out = steps, pending, lost, np.array([[0, q.shape[0], 0, q.shape[1]]], np.int64)
        else:           # (one footprint: every pixel the bloom changed)
            out = steps, pending, lost, np.empty((0, 4), np.int64)
            lists = dense_lists
    if first is not None:       # (the stencil step was the first step of every bloom)
        out = (max(int(out[0]), 1), out[1], out[2], np.concatenate([out[3], first]))
    if boxes and footprints:
        return (*out[:4], lists)
    return out[:4] if boxes else out[:3]


def _path(q, fw32, drain, along_columns, max_iterations, tolerance_e, known, dense_at, bits,
          first_step, write, dense_share):
    """:func:`_bloom_frame`, and the grouped path (:func:`_bloom_groups`) when it chooses
    that: done, or the path :func:`bloom` runs next (:data:`_TO_ONE_STEP`,
    :data:`_TO_DENSE`, :data:`_TO_FIRST_STEP`) and its inputs."""
    out = _bloom_frame(q, fw32, drain, along_columns, max_iterations, tolerance_e, known,
                       dense_at, bits, first_step, write, dense_share)
    if out[0] == _TO_GROUPS:
        out = _bloom_groups(q, fw32, drain, along_columns, max_iterations, tolerance_e,
                            out[4], out[9], out[5], out[8], out[6], write, dense_share)
    return out


_NO_COUNTS = np.zeros(0, np.int64)
_NO_BITS = np.zeros((0, 1), np.uint64)

#: ``steps`` of :func:`_bloom_frame` handing a frame to the one-step / one-group / speckle
#: path.
_TO_ONE_STEP = -1
_TO_DENSE = -2
_TO_FIRST_STEP = -3
_TO_GROUPS = -4


def _bloom_one_step(q, idx, fw32, keep, along_columns, max_iterations, tolerance_e):
    """The one-step path: over-full pixels that each stand alone (no full neighbour) and
    whose receivers all stay below full well (:func:`_one_step`) bloom in one step, done
    as a stencil (hot pixels, a colour channel just over full well) — no groups (a Bayer
    green channel over full made each pixel a group: 13.8 s and +2.2 GB on 12 MP,
    bench_blooming.py --hostile). Returns (steps, pending, lost, boxes) as :func:`bloom`."""
    h, w = q.shape
    flat = q.reshape(h * w)
    sums = np.zeros(_n_blocks(idx.size), np.float64)
    _blocks(_pending_rows, (flat, idx, fw32, keep, sums), idx.size)
    pending = float(sums.sum())
    steps = 0
    if max_iterations >= 1 and pending > tolerance_e:
        _blocks(_spill_rows, (q, idx, fw32, keep, along_columns), idx.size)
        steps, pending = 1, 0.0
    _scatter(flat, idx, fw32)
    return steps, pending, 0.0, _one_step_boxes(idx, h, w, along_columns)

#: Work space of :func:`bloom` per pixel that ends up full [bytes], an upper bound: the
#: int32 lists of the over-full pixels and their runs (≈ 12), the windows' int32 cells
#: (a power of two wide: up to 8 per pixel) and the node list (4). Measured peak-RSS
#: growth: 554 MB with all of a 8000×6000 frame over full well (11.5 B/px; stride 8192),
#: 152 MB for a lamp there that fills 14.5 M (10.5 B/px) (``benchmarks/bench_blooming.py
#: --large``); 13 B/px for a 4100 × 4000 frame all over full (cells 8192 wide, the most
#: padding) and 18 B/px for a lamp there (``tests/test_bloom.py``, which checks measured
#: ≤ estimate).
WORK_BYTES_PER_FULL_PIXEL = 24

#: Plus, per over-full pixel on the grouped path [bytes]: its charge, kept in list order
#: (float32, :func:`_over_full`), and the runs' lists beyond the ≈ 12 above when runs are
#: short (:func:`_components`: three int32 per run; a lone pixel is a run).
WORK_BYTES_PER_OVER_PIXEL = 8

#: Plus, when the stencil step of speckle is tried (:func:`_first_step_alone`), per
#: over-full pixel [bytes]: its component and edge count (per component 13 more, within
#: :data:`WORK_BYTES_PER_GROUP` and the one-group path's per-region bytes).
FIRST_STEP_BYTES_PER_OVER_PIXEL = 5

#: Plus a fixed allowance [bytes] for the per-thread work spaces and the allocator's
#: granularity (seen once: a 400×400 lamp on a 2100 × 2000 frame grew 22.8 MB alone and
#: 37.5 MB in a full test run, 17 and 28 B per full pixel).
WORK_BYTES_FIXED = 64 * 2 ** 20


#: Plus, per group [bytes]: its bookkeeping (boxes, lists, per-round state), an upper
#: bound (a one-off measurement: 149 000 two-pixel groups on a 12 MP frame grew 22 MB).
WORK_BYTES_PER_GROUP = 256

#: Work space of the one-group path (:func:`_run_dense`) [bytes]: per frame pixel (its
#: int32 cell, padded rows), per over-full pixel (its index; its run's start and
#: component, at most a run per pixel), per region (union-find, edges, charge), per pixel
#: that ends up full (the node list; an upper bound when the whole frame is bloomed in
#: place: the list then holds the pixels waiting for their neighbour pass) and per
#: frontier pixel (at most every pixel not over full, at most the full ones: its slot —
#: 24 B — and, in the slot lists' top end, the entries of sleeping slots, 28 B each:
#: :func:`_grow` keeps that end no longer than the most slots visited).
#: Measured: +519 MB for a 12 MP Bayer green channel at 3× full well (6 M regions;
#: ``bench_blooming.py --hostile``, thirteenth session), against 940 MB from
#: :func:`work_bytes` (734 MB before the sleeping slots' terms).
#: With two components or more, the two sides of a cut (:func:`_dense_two_sides`): a
#: second set of cells (each side's band may span the frame's rows), the lists of pixels
#: handed back (int32 + float32 per full and frontier pixel) and the cut's bookkeeping
#: per component (``split_*``).
DENSE_BYTES = {"px": 4.5, "over": 8, "region": 36, "full": 4, "front": 52,
               "split_px": 4.5, "split_list": 8, "split_region": 65}


def work_bytes(n_over: int, excess_e: float, full_well_e: float, n_px: int,
               drain: float = 0.0, n_starts: int | None = None,
               guarded: bool = False) -> float:
    """Estimated work space [bytes] of :func:`bloom` on a frame of ``n_px`` pixels of which
    ``n_over`` hold ``excess_e`` [e⁻] above full well in total: the pixels that end up full
    are taken as the over-full ones plus the room the pending charge (1 − drain)·excess
    needs if the receivers were half full on average (the least window of
    :func:`_first_margin`), at most the frame, × :data:`WORK_BYTES_PER_FULL_PIXEL`, plus
    :data:`WORK_BYTES_PER_OVER_PIXEL` per over-full pixel (and
    :data:`FIRST_STEP_BYTES_PER_OVER_PIXEL` when there may be speckle enough for the
    stencil step), :data:`WORK_BYTES_PER_GROUP` per component and
    :data:`WORK_BYTES_FIXED`; when there may be more than one component (one may hold
    most of the charge: :data:`_DENSE_SHARE`) or more than 5 % of the frame is over
    full, the larger of that and the one-group path's :data:`DENSE_BYTES`.
    ``n_starts``: an upper bound on the number of components (e.g. the over-full pixels
    without an over-full neighbour above or to the left — above only for a CCD — every
    component has at least one); default ``n_over``. Zero when nothing is over full or
    everything is (the short path of a frame with nowhere to spill: no lists). The
    one-step stencil path needs less than either.

    ``guarded``: for a call of :func:`bloom` with ``max_work_bytes`` (the strips pass the
    budget left), whose one-group path checks its work space against that as it grows:
    the one-group path's terms are then those allocated before it runs (cells, the
    over-full pixels, the regions and the cut's bookkeeping), not the lists nor the two
    sides' (a side that would outgrow half of that room gives way to one group) — the
    frontier of a clipped photo is far below the bound above (the 200 MP ``page`` frame,
    43 % over full: 1.69 GiB grown against 10.2 GiB estimated, RESULTS.md "Capture at
    real size", run 6) — and the grouped path's only when the frame may take it (not
    when more than one pixel in :data:`_DENSE_OVER` is over full in components of more
    than :data:`_FIRST_STEP_MAX_SIZE` pixels on average: the one-group path, or the
    cheaper one-step one)."""
    if n_over <= 0 or n_over >= n_px:
        return 0.0
    full = min(float(n_px), n_over + 2.0 * (1.0 - drain) * excess_e / full_well_e)
    groups = n_over if n_starts is None else min(int(n_starts), n_over)
    at = dense_groups(n_px)
    first = (FIRST_STEP_BYTES_PER_OVER_PIXEL * n_over
             if groups >= _FIRST_STEP_MIN_GROUPS
             and n_over <= _FIRST_STEP_MAX_SIZE * groups else 0)
    grouped = (WORK_BYTES_PER_FULL_PIXEL * full + WORK_BYTES_PER_OVER_PIXEL * n_over
               + WORK_BYTES_PER_GROUP * min(groups, at) + WORK_BYTES_FIXED + first)
    if groups <= 1 and n_over * _DENSE_OVER <= n_px:
        return grouped      # (with two groups or more, one may hold most of the charge)
    d = DENSE_BYTES
    front = 0.0 if guarded else min(n_px - n_over, full)
    lists = 0.0 if guarded else full
    split = 0.0
    if groups >= 2:     # (guarded: each side's cells and lists are checked as it runs)
        split = (0.0 if guarded else d["split_px"] * n_px + d["split_list"] * (lists + front)
                 ) + d["split_region"] * min(groups, at)
    dense = (d["px"] * n_px + d["over"] * n_over + d["region"] * groups + d["full"] * lists
             + d["front"] * front + split + WORK_BYTES_FIXED + first)
    if guarded and n_over * _DENSE_OVER > n_px and n_over > _FIRST_STEP_MAX_SIZE * groups:
        return dense
    return max(grouped, dense)


@nb.njit(cache=True)
def _compact_ids(rcomp):  # pragma: no cover - jit
    """Renumber the runs' components (each the smallest run index in it, as
    :func:`_components` gives them) 0 … n − 1 in place (a root run precedes its members,
    so its new id is there first); returns n."""
    n_groups = np.int64(0)      # not a literal: one compiled signature downstream
    for r in range(rcomp.size):
        c = rcomp[r]
        if c == r:
            rcomp[r] = n_groups
            n_groups += 1
        else:
            rcomp[r] = rcomp[c]
    return n_groups


@nb.njit(cache=True)
def _pixel_comp(rstart, rcomp, n):  # pragma: no cover - jit
    """Each of the ``n`` over-full pixels' component (int32), from the runs' starts and
    components (:func:`_components`, :func:`_compact_ids`)."""
    comp = np.empty(n, np.int32)
    for r in range(rcomp.size):
        comp[rstart[r]:rstart[r + 1]] = rcomp[r]
    return comp


#: :func:`_first_step_alone` is tried on frames of at least this many components …
_FIRST_STEP_MIN_GROUPS = 1024
#: … of at most this many pixels on average (speckle; not a band of sky over full well,
#: one large component, nor clusters that mostly fill their receivers)
_FIRST_STEP_MAX_SIZE = 2


@nb.njit(cache=True)
def _mostly_small_excess(q, idx, val, fw32, keep):  # pragma: no cover - jit
    """Whether at least a quarter of the over-full pixels hold less than a quarter of
    full well pending: speckle just over full well, worth trying
    :func:`_first_step_alone` on (not lamps or blobs far over it, whose receivers fill)."""
    n = idx.size
    flat = q.reshape(q.size)
    limit = np.float64(fw32) + 0.25 * np.float64(fw32) / max(keep, 1e-300)
    small = 0
    for t in range(n):
        v = val[t] if val.size == n else flat[idx[t]]
        small += np.float64(v) < limit
    return 4 * small >= n


def _bloom_frame(q, full_well, drain, along_columns, max_iterations, tolerance_e,
                 known, dense_at, bits, first_step, write, dense_share):
    """:func:`bloom`'s choice of path (``known``: the per-row counts, or empty;
    ``dense_at``, ``bits``, ``dense_share``: see there): a frame with nothing over full well
    or all of it over is done here (steps, pending, lost and the footprints' bounding boxes
    as the first four elements); else ``steps`` = :data:`_TO_ONE_STEP` /
    :data:`_TO_DENSE` / :data:`_TO_FIRST_STEP` or :data:`_TO_GROUPS` and their inputs:
    the over-full pixels, the runs' starts (:func:`_components`), the number of
    components as fifth to seventh elements, the runs' components as ninth (and for the
    grouped path the pixels' charges as tenth; :data:`_TO_ONE_STEP`: the pixels only):
    :func:`bloom` runs those paths, kernels of their own, so that a first call compiles
    them only when it takes them (the first bloom of a frame
    that takes the one-group path no longer compiles the grouped one: RESULTS.md
    "Blooming", fourteenth session). The grouped path (:func:`_bloom_groups`) returns
    what this returns, its eighth to twelfth elements with ``write`` False its
    footprints as lists instead of written into ``q`` (seg, pix0, val0, pix1, val1, as
    :func:`bloom` ``footprints`` hands them back; its boxes are then empty); else
    empty."""
    h, w = q.shape
    fw32 = np.float32(full_well)
    keep = 1.0 - drain
    none, no_seg, no_val = _NONE, _NO_SEG, _NO_VAL
    if _all_over_full(q, fw32, known):
        # one region (a column each for a CCD) with nowhere to spill: its pending charge is
        # lost in the first step — without the lists, work space and time of the general
        # path (16.8 s and +2.4 GB for an over-exposed 200 MP frame)
        pending = _clip_all(q, fw32, keep)
        box = np.array([[0, h, 0, w]], np.int64)
        if max_iterations < 1 or pending <= tolerance_e:
            return (0, pending, 0.0, box, none, none, 0,
                    no_seg, none, no_val, none, no_val)
        return (1, 0.0, pending, box, none, none, 0,
                no_seg, none, no_val, none, no_val)
    idx, val = _over_full(q, fw32, known, bits)
    if idx.size == 0:
        return (0, 0.0, 0.0, np.empty((0, 4), np.int64), none, none, 0,
                no_seg, none, no_val, none, no_val)
    if _one_step(q, idx, fw32, keep, along_columns):
        return (_TO_ONE_STEP, 0.0, 0.0, np.empty((0, 4), np.int64), idx, none, 0,
                no_seg, none, no_val, none, no_val)
    return _frame_path(q, fw32, keep, along_columns, max_iterations, idx, val, dense_at,
                       first_step, dense_share)


#: The empty pixel lists, footprint segments and charges :func:`_bloom_frame` hands back.
_NONE = np.empty(0, np.int32)
_NO_SEG = np.empty((0, 3), np.int64)
_NO_VAL = np.empty(0, np.float32)


@nb.njit(cache=True)
def _frame_path(q, fw32, keep, along_columns, max_iterations, idx, val, dense_at, first_step,
                dense_share):  # pragma: no cover - jit
    """The rest of :func:`_bloom_frame` once some pixels are over full well and the
    one-step path does not do: the runs and components, and the path they take."""
    h, w = q.shape
    fw = np.float64(fw32)
    none = np.empty(0, np.int32)
    no_seg = np.empty((0, 3), np.int64)
    no_val = np.empty(0, np.float32)
    n = idx.size
    rstart, rcomp = _components(idx, w, along_columns)
    n_groups = _compact_ids(rcomp)
    band = _row_of(idx[n - 1], w, 1.0 / w) - _row_of(idx[0], w, 1.0 / w) + 1
    to = 0
    if (first_step and max_iterations >= 1 and n_groups >= _FIRST_STEP_MIN_GROUPS
            and n <= _FIRST_STEP_MAX_SIZE * n_groups
            and _mostly_small_excess(q, idx, val, fw32, keep)):
        # speckle just over full well: bloom() tries the stencil step of its components
        # (:func:`_first_step_alone`) and calls back for the rest
        to = _TO_FIRST_STEP
    elif (n_groups > dense_at or n * _DENSE_OVER > h * w
            or (n_groups >= _DENSE_BAND_GROUPS and n * _DENSE_OVER > band * w)):
        # so many components (a colour channel over full well whose neighbours fill too)
        # or over-full pixels — in the frame, or in the rows that hold them: a strip of
        # sky at full well, whose speckle the premerge joins into one group — that
        # per-group bookkeeping, pairing and reruns of merged groups would cost more than
        # the blooms (module docstring): one group, its components the regions
        to = _TO_DENSE
    if to != 0:                 # (the runs and their components, for those paths)
        return (to, 0.0, 0.0, np.empty((0, 4), np.int64), idx, rstart, n_groups, no_seg,
                rcomp, no_val, none, no_val)
    if n_groups > 1:
        # one component holding much of the charge already: so will its group after the
        # premerge (merging only adds to it) — the one-group path, without the grouped
        # path's set-up, margins and premerge (``page``: 52 857 components, 14 ms of
        # premerge), and without compiling it (most photos: ``bench_blooming.py
        # --photos`` names each one's path); the components' excess summed as
        # :func:`_bloom_groups` sums it
        excess = np.zeros(n_groups, np.float64)
        for r in range(rcomp.size):
            g = _u(rcomp[r])
            for u in range(rstart[r], rstart[r + 1]):
                excess[g] += (np.float64(val[_u(u)]) - fw) * keep
        total_excess = 0.0
        largest = 0.0
        for g in range(n_groups):
            total_excess += excess[g]
            largest = max(largest, excess[g])
        if _dominant(largest, total_excess, dense_share, fw):
            return (_TO_DENSE, 0.0, 0.0, np.empty((0, 4), np.int64), idx, rstart, n_groups,
                    no_seg, rcomp, no_val, none, no_val)
    # the grouped path: a kernel of its own (:func:`_bloom_groups`), compiled only when a
    # frame takes it
    return (_TO_GROUPS, 0.0, 0.0, np.empty((0, 4), np.int64), idx, rstart, n_groups,
            no_seg, rcomp, val, none, no_val)


def _bloom_groups(q, full_well, drain, along_columns, max_iterations, tolerance_e, idx, val,
                  rstart, rcomp, n_groups, write, dense_share):
    """The grouped path of :func:`_bloom_frame` (module docstring), from the over-full
    pixels ``idx`` (their charges ``val``) and their runs' starts and components
    (``rstart``, ``rcomp``; ``n_groups`` components): returns what :func:`_bloom_frame`
    returns — or :data:`_TO_DENSE` and its inputs when one group holds much of the
    charge after the premerge. A kernel of its own, not part of :func:`_bloom_frame`: a
    frame that takes another path (most photos with a highlight go to the one-group path
    as :func:`_bloom_frame` sends them) does not compile it (``_run_groups``,
    ``_run_one``, the steps, the premerge, the pairing: most of the first bloom of a frame
    of groups, ``bench_blooming.py --first-use``). Orchestrated here, in Python, round by
    round — jitted pieces (:func:`_groups_setup`, :func:`_round_windows`,
    :func:`_round_accept`) and the groups run on numba's threads (:func:`_run_groups`) —
    instead of one kernel calling ``prange`` kernels: a first use compiles no parallel
    passes (RESULTS.md "Blooming", twenty-first session)."""
    h, w = q.shape
    fw32 = np.float32(full_well)
    fw = np.float64(fw32)
    keep = 1.0 - drain
    flat = q.reshape(h * w)
    none, no_seg, no_val = _NONE, _NO_SEG, _NO_VAL
    dense = (_TO_DENSE, 0.0, 0.0, np.empty((0, 4), np.int64), idx, rstart, n_groups,
             no_seg, rcomp, no_val, none, no_val)
    cfirst, runs, bbox, excess, total_excess = _groups_setup(idx, val, rstart, rcomp,
                                                             n_groups, w, fw32, keep)
    margin = _margins(flat, bbox, excess, h, w, fw, along_columns, _ROOM_FACTOR)
    if n_groups > 1 and _premerged_dominant(n_groups, bbox, margin, excess, total_excess,
                                            dense_share, fw, h, w, along_columns):
        # the premerge would make one group dominant (below): the one-group path at once
        return dense
    head = np.arange(n_groups)
    tail = np.arange(n_groups)
    nxt = np.full(n_groups, -1, np.int64)
    gp = np.arange(n_groups)
    active = _premerge(np.arange(n_groups), n_groups, bbox, margin, h, w, along_columns, gp,
                       head, tail, nxt, excess)
    if active.size > 1 and _dominant(float(excess[active].max()), total_excess, dense_share,
                                     fw):
        # one group holds much of the charge: it runs on one thread whatever the others
        # do, and a large bloom among smaller groups meets them — window edges and
        # conflicts, the large group rerun round after round (photos with highlights:
        # RESULTS.md "Blooming", tenth session) — one group instead
        return dense
    valid = np.zeros(n_groups, np.bool_)
    # accepted footprints: the first round's buffers as they are, later rounds' copied
    # per group: its buffer (0: pix0/val0, 1: pix1/val1), offset, length
    res = np.zeros((3, n_groups), np.int64)
    pix0, val0 = none, no_val
    pix1 = np.empty(16, np.int32)
    val1 = np.empty(16, np.float32)
    n1 = np.int64(0)
    g_steps = np.zeros(n_groups, np.int64)
    g_pend = np.zeros(n_groups, np.float64)
    g_lost = np.zeros(n_groups, np.float64)
    g_box = np.empty((n_groups, 4), np.int64)    # footprint box of an accepted group
    g_oct = np.empty((n_groups, 4), np.int64)    # and its octagon (_run_groups' foct)
    flags = np.zeros((2, n_groups), np.bool_)    # accepted in this round; scheduled
    seen = np.zeros(4096, np.int64)       # footprint map of _footprints_meet (stamped)
    n_checks = np.int64(0)
    rnd = 0
    while active.size > 0:
        n_act = active.size
        win, off, tol = _round_windows(active, bbox, margin, excess, total_excess,
                                       float(tolerance_e), h, w, along_columns)
        # the frame's only group (nothing accepted, nothing else to run) writes its result
        # straight into the frame: no footprint buffer, no write-back
        direct = n_act == 1 and not valid.any()
        buf_pix = np.empty(0 if direct else off[n_act], np.int32)
        buf_val = np.empty(0 if direct else off[n_act], np.float32)
        status = np.zeros(n_act, np.int64)
        fp = np.zeros((2, n_act), np.int64)      # footprint offset, length
        fbox = np.zeros((n_act, 4), np.int64)
        foct = np.zeros((n_act, 4), np.int64)
        st_steps = np.zeros(n_act, np.int64)
        st_pend = np.zeros(n_act, np.float64)
        st_lost = np.zeros(n_act, np.float64)
        _run_groups(q, active, win, off, head, nxt, idx, val, runs, cfirst,
                    fw32, drain, along_columns, max_iterations, tol, buf_pix, buf_val, status,
                    fp[0], fp[1], fbox, foct, st_steps, st_pend, st_lost)
        if direct and status[0] == 1:
            return (st_steps[0], st_pend[0], st_lost[0], fbox[:1].copy(), none, none, 0,
                    no_seg, none, no_val, none, no_val)
        if rnd == 0:
            pix0, val0 = buf_pix, buf_val
        active, pix1, val1, n1, seen, n_checks = _round_accept(
            rnd, active, status, fp, fbox, foct, st_steps, st_pend, st_lost, buf_pix, buf_val,
            valid, flags, res, g_box, g_oct, g_steps, g_pend, g_lost, pix0, val0, pix1, val1,
            n1, seen, n_checks, gp, head, tail, nxt, bbox, excess, margin, h, w)
        rnd += 1
    steps, pending, lost = _groups_totals(valid, g_steps, g_pend, g_lost)
    acc = np.flatnonzero(valid)
    if not write:   # the footprints as lists (buffer, first entry, length) instead
        return (steps, pending, lost, np.empty((0, 4), np.int64), none, none, 0,
                np.ascontiguousarray(res[:, acc].T), pix0, val0, pix1[:n1], val1[:n1])
    _blocks(_write_back_rows, (flat, acc, res, pix0, val0, pix1, val1), acc.size,
            _WRITE_BACK_BLOCK)
    return (steps, pending, lost, g_box[acc], none, none, 0, no_seg, none, no_val, none,
            no_val)


#: Footprints per block of the write-back (:func:`_write_back_rows`).
_WRITE_BACK_BLOCK = 256


@nb.njit(cache=True)
def _groups_setup(idx, val, rstart, rcomp, n_groups, w, fw32, keep):  # pragma: no cover - jit
    """Of :func:`_bloom_groups`: each component's runs as a list (first run ``cfirst``;
    ``runs`` r: its first and end positions in idx and its component's next run, −1:
    none, in raster order, side by side, so that a group finds its first nodes one cache
    line per run away), its bounding box and pending excess [e⁻], and their total."""
    fw = np.float64(fw32)
    n_runs = rcomp.size
    cfirst = np.full(n_groups, -1, np.int32)
    clast = np.empty(n_groups, np.int32)
    runs = np.empty((n_runs, 3), np.int32)
    bbox = np.empty((n_groups, 4), np.int64)
    excess = np.zeros(n_groups, np.float64)
    inv_w = 1.0 / w
    for r in range(n_runs):
        i, e = rstart[r], rstart[r + 1]
        p0 = np.int64(idx[_u(i)])
        row = _row_of(p0, w, inv_w)     # (a 64-bit division costs ~40 cycles)
        col = p0 - row * w
        g = _u(rcomp[r])
        runs[r, 0] = i
        runs[r, 1] = e
        runs[r, 2] = -1
        if cfirst[g] < 0:
            cfirst[g] = r
            bbox[g, 0] = row
            bbox[g, 1] = row + 1
            bbox[g, 2] = col
            bbox[g, 3] = col + e - i
        else:
            runs[_u(clast[g]), 2] = r
            bbox[g, 0] = min(bbox[g, 0], row)
            bbox[g, 1] = max(bbox[g, 1], row + 1)
            bbox[g, 2] = min(bbox[g, 2], col)
            bbox[g, 3] = max(bbox[g, 3], col + e - i)
        clast[g] = r
        for u in range(i, e):
            excess[g] += (np.float64(val[_u(u)]) - fw) * keep
    total_excess = 0.0
    for g in range(n_groups):
        total_excess += excess[g]
    return cfirst, runs, bbox, excess, total_excess


@nb.njit(cache=True)
def _round_windows(active, bbox, margin, excess, total_excess, tolerance_e, h, w,
                   along_columns):  # pragma: no cover - jit
    """Of a round of :func:`_bloom_groups`: each active group's window (its box grown by
    its margin, rows only for a CCD), the windows' offsets in the footprint buffer (their
    areas summed) and the groups' stop tolerances (their share of ``tolerance_e``)."""
    n_act = active.size
    win = np.empty((n_act, 4), np.int64)
    off = np.zeros(n_act + 1, np.int64)
    tol = np.empty(n_act, np.float64)
    for k in range(n_act):
        g = active[k]
        m = margin[g]
        win[k, 0] = max(bbox[g, 0] - m, 0)
        win[k, 1] = min(bbox[g, 1] + m, h)
        if along_columns:
            win[k, 2] = bbox[g, 2]
            win[k, 3] = bbox[g, 3]
        else:
            win[k, 2] = max(bbox[g, 2] - m, 0)
            win[k, 3] = min(bbox[g, 3] + m, w)
        off[k + 1] = off[k] + (win[k, 1] - win[k, 0]) * (win[k, 3] - win[k, 2])
        tol[k] = tolerance_e * excess[g] / total_excess if total_excess > 0 else tolerance_e
    return win, off, tol


@nb.njit(cache=True)
def _round_accept(rnd, active, status, fp, fbox, foct, st_steps, st_pend, st_lost, buf_pix,
                  buf_val, valid, flags, res, g_box, g_oct, g_steps, g_pend, g_lost, pix0,
                  val0, pix1, val1, n1, seen, n_checks, gp, head, tail, nxt, bbox, excess,
                  margin, h, w):  # pragma: no cover - jit
    """The end of a round of :func:`_bloom_groups`: accept the footprints (a group whose
    bloom reached its window's edge runs again with twice the margin); groups whose
    footprints share a pixel may have interacted: merge them (and drop their results),
    run the merged group next round. Returns (the next round's groups, the footprint
    buffer 1 and its length, the stamped map and count of :func:`_footprints_meet`)."""
    fresh = flags[0]
    scheduled = flags[1]
    n_act = active.size
    next_active = np.empty(n_act, np.int64)
    n_next = np.int64(0)     # (not a literal: one signature of _grown)
    for k in range(n_act):
        g = active[k]
        if status[k] == 0:
            margin[g] *= 2
            next_active[n_next] = g
            n_next += 1
            continue
        valid[g] = True
        fresh[g] = True
        _copy_row(g_box, g, fbox, k)
        _copy_row(g_oct, g, foct, k)
        res[2, g] = fp[1, k]
        if rnd == 0:
            res[0, g] = 0
            res[1, g] = fp[0, k]
        else:
            res[0, g] = 1
            res[1, g] = n1
            pix1 = _grown(pix1, n1 + fp[1, k])
            val1 = _grown(val1, n1 + fp[1, k])
            for t in range(fp[1, k]):              # (loops: see _grown)
                pix1[n1 + t] = buf_pix[fp[0, k] + t]
                val1[n1 + t] = buf_val[fp[0, k] + t]
            n1 += fp[1, k]
        if fp[1, k] > _SORTED_MIN:     # (looked up by binary search in _footprints_meet)
            if rnd == 0:
                _sort_footprint(pix0, val0, res[1, g], fp[1, k])
            else:
                _sort_footprint(pix1, val1, res[1, g], fp[1, k])
        g_steps[g] = st_steps[k]
        g_pend[g] = st_pend[k]
        g_lost[g] = st_lost[k]
    n_groups = valid.size
    n_acc = 0
    for g in range(n_groups):
        n_acc += valid[g]
    acc = np.empty(n_acc, np.int64)
    n_acc = 0
    for g in range(n_groups):
        if valid[g]:
            acc[n_acc] = g
            n_acc += 1
    pairs = _box_pairs(g_box[acc], fresh[acc], h, w)
    conflicted = np.empty(2 * pairs.shape[0], np.int64)
    n_conf = 0
    for i in range(pairs.shape[0]):
        a = acc[pairs[i, 0]]
        b = acc[pairs[i, 1]]
        if (g_oct[a, 0] > g_oct[b, 1] or g_oct[b, 0] > g_oct[a, 1]
                or g_oct[a, 2] > g_oct[b, 3] or g_oct[b, 2] > g_oct[a, 3]):
            continue    # (their octagons are apart: 325 of the blob frame's 378 pairs)
        n_checks += 1
        meet, seen = _footprints_meet(a, b, g_box, w, res[0], res[1], res[2], pix0, pix1,
                                      seen, n_checks)
        if not meet:
            continue
        conflicted[n_conf] = a
        conflicted[n_conf + 1] = b
        n_conf += 2
        _merge(gp, a, b, head, tail, nxt, bbox, excess, margin)
    for g in range(n_acc):
        fresh[acc[g]] = False
    for i in range(n_conf):
        c = conflicted[i]
        valid[c] = False
        r = _find(gp, c)
        if not scheduled[r]:
            scheduled[r] = True
            next_active = _grown(next_active, n_next)
            next_active[n_next] = r
            n_next += 1
    for i in range(n_next):
        scheduled[next_active[i]] = False
    return next_active[:n_next].copy(), pix1, val1, n1, seen, n_checks


@nb.njit(cache=True)
def _groups_totals(valid, g_steps, g_pend, g_lost):  # pragma: no cover - jit
    """(steps, pending, lost) of the accepted groups (the most steps; the sums in group
    order)."""
    steps = 0
    pending = 0.0
    lost = 0.0
    for g in range(valid.size):
        if valid[g]:
            steps = max(steps, g_steps[g])
            pending += g_pend[g]
            lost += g_lost[g]
    return steps, pending, lost


@nb.njit(cache=True)
def bloom_whole_frame(q, full_well, drain, along_columns, max_iterations,
                      tolerance_e):  # pragma: no cover - jit
    """The same as :func:`bloom`, as one window over the whole frame on one thread (the
    kernel before the frame was split into groups): the oracle of the grouping in
    ``tests/test_bloom.py``."""
    h, w = q.shape
    stride = w + 2
    n2 = (h + 2) * stride
    fw32 = np.float32(full_well)
    lq = np.zeros(n2, np.float32)
    lab = np.full(n2, _WALL_FRAME, np.int32)
    node_pixel = np.empty(16, np.int64)
    n_nodes = np.int64(0)
    for i in range(h):
        for j in range(w):
            lp = (i + 1) * stride + j + 1
            lq[lp] = q[i, j]
            if q[i, j] >= fw32:
                node_pixel = _grown(node_pixel, n_nodes)
                node_pixel[n_nodes] = lp
                lab[lp] = n_nodes
                n_nodes += 1
            else:
                lab[lp] = -1
    steps, pend, lost, parent, node_pixel, n_nodes = _bloom_window(
        lq, lab, node_pixel, n_nodes, stride, fw32, drain, along_columns, max_iterations,
        tolerance_e)
    for i in range(h):
        for j in range(w):
            q[i, j] = lq[(i + 1) * stride + j + 1]
    return steps, pend, lost
