"""Numba kernel for :func:`camtwin.depth.pattern.view_from_offset` (the scanline inversion
of x_s = x − f·s/Z with a z-buffer). The pure-NumPy reference is
``camtwin.depth.pattern._view_numpy``; ``tests/depth/test_pattern.py`` asserts they agree.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np


@nb.njit(cache=True, parallel=True)
def view_kernel(w, w_l, w_r, cont_l, cont_r, fs, col0, width, owner, nbr, tt, inv, xref):
    """Fill owner/nbr/tt/inv/xref (H, width) in place; inv must start at −inf.

    For each reference pixel i with 1/Z = w[r, i] > 0, the half-segments [i−½, i] and
    [i, i+½] (1/Z linear from w_l to w, and w to w_r) map to target coordinates
    x − fs·(1/Z) − col0; each target pixel centre j inside [t_a, t_b) takes the candidate
    if its 1/Z is larger than the one stored (nearest surface wins).
    """
    h, wd = w.shape
    for r in nb.prange(h):
        for i in range(wd):
            wi = w[r, i]
            if not wi > 0:
                continue
            for side in range(2):
                if side == 0:
                    xa = i - 0.5
                    xb = float(i)
                    wa = w_l[r, i]
                    wb = wi
                    nb_i = i - 1 if cont_l[r, i] else i
                else:
                    xa = float(i)
                    xb = i + 0.5
                    wa = wi
                    wb = w_r[r, i]
                    nb_i = i + 1 if cont_r[r, i] else i
                ta = xa - fs * wa - col0
                tb = xb - fs * wb - col0
                if not tb > ta:
                    continue
                j0 = max(int(math.ceil(ta)), 0)
                j1 = min(int(math.ceil(tb)), width)
                for j in range(j0, j1):
                    u = (j - ta) / (tb - ta)
                    wc = wa + u * (wb - wa)
                    if wc > inv[r, j]:
                        x = xa + u * (xb - xa)
                        inv[r, j] = wc
                        owner[r, j] = i
                        nbr[r, j] = nb_i
                        tt[r, j] = 0.0 if nb_i == i else abs(x - i)
                        xref[r, j] = x


def run(w, w_l, w_r, cont_l, cont_r, fs, col0, width):
    h = w.shape[0]
    owner = np.full((h, width), -1, np.int32)
    nbr = np.full((h, width), -1, np.int32)
    tt = np.zeros((h, width), np.float64)
    inv = np.full((h, width), -np.inf)
    xref = np.full((h, width), np.nan)
    view_kernel(np.ascontiguousarray(w), np.ascontiguousarray(w_l), np.ascontiguousarray(w_r),
                np.ascontiguousarray(cont_l), np.ascontiguousarray(cont_r), float(fs),
                float(col0), int(width), owner, nbr, tt, inv, xref)
    inv[owner < 0] = np.nan
    return owner, nbr, tt, inv, xref
