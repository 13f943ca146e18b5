"""Float64 NumPy/SciPy references of the high-quality demosaic (private, for tests).

Written for clarity, not speed: whole-image convolutions with :mod:`scipy.ndimage`. The
numba kernels in :mod:`camtwin.isp._kernels` must agree with these away from a border of a
few pixels (the two use different border extensions); ``tests/test_demosaic.py`` checks it.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve, convolve1d, uniform_filter

from ._cfa import cfa_phases

# Menon et al. (2007) directional classifier window (their eq. 7 as implemented in
# colour-demosaicing's demosaicing_CFA_Bayer_Menon2007), applied with scipy's convolve.
_MENON_K = np.array([[0, 0, 1, 0, 1],
                     [0, 0, 0, 1, 0],
                     [0, 0, 3, 0, 3],
                     [0, 0, 0, 1, 0],
                     [0, 0, 1, 0, 1]], dtype=np.float64)


def bayer_masks(cfa: str, shape) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boolean site masks (R, G, B) of a Bayer layout."""
    masks = [np.zeros(shape, bool) for _ in range(3)]
    for r, c, ch in cfa_phases(cfa):
        masks[ch][r::2, c::2] = True
    return masks[0], masks[1], masks[2]


def directional_green(mosaic, cfa: str, eps: float = 1e-4) -> np.ndarray:
    """Green plane: Hamilton–Adams estimates fused with Menon-classifier weights.

    ``G_H = ½(M[x−1] + M[x+1]) + ¼(2M[x] − M[x−2] − M[x+2])`` (and ``G_V`` along columns)
    at R/B sites; colour differences ``C_d = M − G_d`` (0 at G sites); gradients
    ``D_H = |C_H[x] − C_H[x+2]|``, ``D_V = |C_V[y] − C_V[y+2]|``; directional activities
    ``a_H = K ⊛ D_H``, ``a_V = Kᵀ ⊛ D_V`` (Menon's window K); output
    ``G = (G_H/(a_H+ε)² + G_V/(a_V+ε)²) / (1/(a_H+ε)² + 1/(a_V+ε)²)`` — the soft,
    inverse-square-gradient weighting of Pekkucuksen & Altunbasak (2010) in place of
    Menon's hard decision.
    """
    m = np.asarray(mosaic, dtype=np.float64)
    _, g_mask, _ = bayer_masks(cfa, m.shape)
    h0 = np.array([0.0, 0.5, 0.0, 0.5, 0.0])
    h1 = np.array([-0.25, 0.0, 0.5, 0.0, -0.25])
    gh = np.where(g_mask, m, convolve1d(m, h0, axis=1, mode="mirror")
                  + convolve1d(m, h1, axis=1, mode="mirror"))
    gv = np.where(g_mask, m, convolve1d(m, h0, axis=0, mode="mirror")
                  + convolve1d(m, h1, axis=0, mode="mirror"))
    ch = np.where(g_mask, 0.0, m - gh)
    cv = np.where(g_mask, 0.0, m - gv)
    dh = np.abs(ch - np.pad(ch, ((0, 0), (0, 2)), mode="reflect")[:, 2:])
    dv = np.abs(cv - np.pad(cv, ((0, 2), (0, 0)), mode="reflect")[2:, :])
    a_h = convolve(dh, _MENON_K, mode="constant")
    a_v = convolve(dv, _MENON_K.T, mode="constant")
    wh = 1.0 / (a_h + eps) ** 2
    wv = 1.0 / (a_v + eps) ** 2
    return np.where(g_mask, m, (wh * gh + wv * gv) / (wh + wv))


def residual_interpolation(mosaic, green, site_mask, radius: int = 2,
                           eps: float = 1e-4) -> np.ndarray:
    """One colour plane by residual interpolation guided by the full green plane.

    Guided filter (He et al. 2010) fitted on the sites only: over each (2r+1)² window,
    ``a = cov(G, M)/(var(G) + ε)``, ``b = mean(M) − a·mean(G)`` (means over the window's
    sites); tentative ``M̂ = mean_window(a)·G + mean_window(b)``; the residual ``M − M̂`` at
    the sites is interpolated bilinearly and added back (Kiku et al. 2013).
    """
    m = np.asarray(mosaic, dtype=np.float64)
    g = np.asarray(green, dtype=np.float64)
    w = site_mask.astype(np.float64)
    size = 2 * radius + 1

    def mean(x):
        return uniform_filter(x * w, size, mode="mirror") / uniform_filter(w, size, mode="mirror")

    mg, mm = mean(g), mean(m)
    a = (mean(g * m) - mg * mm) / (np.maximum(mean(g * g) - mg * mg, 0.0) + eps)
    b = mm - a * mg
    est = uniform_filter(a, size, mode="mirror") * g + uniform_filter(b, size, mode="mirror")
    k = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 4.0
    res = convolve(np.where(site_mask, m - est, 0.0), k, mode="mirror")
    return est + res


def demosaic_ri_reference(mosaic, cfa: str, *, eps_gradient: float = 1e-4,
                          radius: int = 2, eps: float = 1e-4) -> np.ndarray:
    """Float64 reference of :func:`camtwin.isp.demosaic.demosaic_directional_ri`."""
    r_mask, _, b_mask = bayer_masks(cfa, np.shape(mosaic))
    g = directional_green(mosaic, cfa, eps_gradient)
    r = residual_interpolation(mosaic, g, r_mask, radius, eps)
    b = residual_interpolation(mosaic, g, b_mask, radius, eps)
    return np.dstack([r, g, b])
