"""Numba kernel of the HDR merge (float32, blocks of rows on numba's threads by
:func:`camtwin._jit.on_row_threads`; no ``prange``: a first use compiles no parallel passes).

:func:`merge_kernel` fuses, per pixel, what :func:`camtwin.isp.hdr.merge_selection` and
:func:`camtwin.isp.hdr.merge_noise_optimal` (the pure-NumPy references) do in several
whole-frame passes: DN → electrons → reference electrons, the switch selection, and the
charge-group inverse-variance weighting. ``tests/test_hdr_modes.py`` asserts they agree.
Components of one charge group must be contiguous (they are, for every mode).

No ``fastmath``; every row is independent, so the result does not depend on the thread count.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .._jit import NO_ALIAS, on_rows

_JIT = dict(cache=True, error_model="numpy", nogil=True)


@nb.njit(pipeline_class=NO_ALIAS, **_JIT)
def _merge_rows(dn, black, inv_gain, scale, thr_e, guard_e, read_var, group,
                noise_optimal, k_sigma, out, src, sel_out, flag, i0,
                i1):  # pragma: no cover - jit
    """Merge rows i0 … i1 − 1 of ``dn`` (n, H, W) uint16 into ``out`` (H, W) float32
    [reference e⁻] (:data:`merge_kernel`: blocks of rows on numba's threads).

    Per component k: ``black`` [DN], ``inv_gain`` 1/K_k [e⁻/DN], ``scale`` s_k, ``thr_e``
    switch threshold f·e_sat,k [e⁻], ``guard_e`` (1 + f)/2·e_sat,k [e⁻], ``read_var``
    s_k²(σ_k² + 1/(12K_k²)) [e⁻²], ``group`` charge group (float32/int64 arrays of length
    n). ``src``: selected (selection) or heaviest-group lead component (noise-optimal);
    ``sel_out``: the selection index in both cases. ``flag`` (motion, DOL): k + 1 where the
    selected component k and component k+1 (another charge group) disagree by more than
    ``k_sigma``·√(var_k(x_k⁺) + var_{k+1}(x_k⁺)), else 0 (``k_sigma`` ≤ 0: never).
    """
    n, w = dn.shape[0], dn.shape[2]
    e = np.empty(n, np.float32)
    x = np.empty(n, np.float32)
    for y in range(i0, i1):
        for c in range(w):
            for k in range(n):
                e[k] = (np.float32(dn[k, y, c]) - black[k]) * inv_gain[k]
                x[k] = e[k] * scale[k]
            sel = n - 1
            for k in range(n - 1):
                if e[k] < thr_e[k]:
                    sel = k
                    break
            sel_out[y, c] = sel
            flag[y, c] = 0
            if k_sigma > 0 and sel < n - 1 and group[sel] != group[sel + 1]:
                x0 = max(x[sel], np.float32(0))
                var = (scale[sel] + scale[sel + 1]) * x0 + read_var[sel] + read_var[sel + 1]
                d = x[sel] - x[sel + 1]
                if d * d > k_sigma * k_sigma * var:
                    flag[y, c] = sel + 1
            if not noise_optimal:
                out[y, c] = x[sel]
                src[y, c] = sel
                continue
            xh = max(x[sel], np.float32(0))
            num = np.float32(0)
            den = np.float32(0)
            best = np.float32(0)
            lead_best = sel
            k = 0
            while k < n:
                g = group[k]
                g_num = np.float32(0)
                g_inv = np.float32(0)
                lead = -1
                g_scale = scale[k]
                while k < n and group[k] == g:
                    if k < n - 1:
                        ok = e[k] < thr_e[k]
                    else:
                        ok = sel == k or e[k] < guard_e[k]
                    if ok:
                        wr = np.float32(1) / read_var[k]
                        g_num += wr * x[k]
                        g_inv += wr
                        if lead < 0:
                            lead = k
                    k += 1
                if g_inv > 0:
                    x_g = g_num / g_inv
                    w_g = np.float32(1) / (g_scale * xh + np.float32(1) / g_inv)
                    num += w_g * x_g
                    den += w_g
                    if w_g > best:
                        best = w_g
                        lead_best = lead
            out[y, c] = num / den
            src[y, c] = lead_best


merge_kernel = on_rows(_merge_rows, lambda dn, *args: dn.shape[1], "merge_kernel")
