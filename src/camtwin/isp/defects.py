"""Defect-pixel correction on the CFA mosaic (before white balance and demosaic).

A pixel is declared defective when it lies outside the range of its eight same-colour
neighbours by more than a threshold, and is then replaced by their median — the
"min/max of the neighbourhood" detector of dynamic defect-pixel correction in camera ISPs.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from numba import prange

from ..errors import ConfigError
from ..raw import cfa_layout


@nb.njit(parallel=True, cache=True, error_model="numpy", nogil=True)
def _dpc_kernel(m, sy, sx, thr, out, flags):  # pragma: no cover - jit
    h, w = m.shape
    for y in prange(h):
        nb8 = np.empty(8, np.float32)
        for x in range(w):
            k = 0
            for dy in (-sy, 0, sy):
                for dx in (-sx, 0, sx):
                    if dy == 0 and dx == 0:
                        continue
                    yy = y + dy
                    xx = x + dx
                    # reflect onto the same phase (a neighbour beyond the edge is replaced
                    # by the one on the other side); stays in range for h, w >= 2 periods
                    if yy < 0 or yy >= h:
                        yy = y - dy
                    if xx < 0 or xx >= w:
                        xx = x - dx
                    nb8[k] = m[yy, xx]
                    k += 1
            lo = nb8.min()
            hi = nb8.max()
            v = m[y, x]
            if v > hi + thr or v < lo - thr:
                s = np.sort(nb8)
                out[y, x] = np.float32(0.5) * (s[3] + s[4])
                flags[y, x] = True
            else:
                out[y, x] = v
                flags[y, x] = False


def correct_defects(mosaic, cfa: str, *, threshold: float = 0.05,
                    return_mask: bool = False):
    """Replace isolated hot, dead and stuck pixels of a normalised mosaic.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Black-level-subtracted mosaic normalised to the white level (0 = black, 1 = white).
        At least two CFA periods in each direction.
    cfa : str
        CFA layout; neighbours are taken one period away (2 px for Bayer and RCCB, 4 px for
        Quad Bayer and RGB-IR, 1 px for mono), so they share the pixel's colour.
    threshold : float in (0, 1]
        Margin [normalised units] by which a pixel must exceed the largest (or fall below
        the smallest) of its 8 same-colour neighbours to be corrected.
    return_mask : bool
        Also return the boolean map of corrected pixels.

    Returns
    -------
    ndarray of float32, shape (H, W)
        The corrected mosaic: defective pixels hold the median (mean of the 4th and 5th
        order statistics) of their 8 neighbours, all others are unchanged.
    ndarray of bool, shape (H, W)
        Only with ``return_mask=True``.

    Notes
    -----
    A pixel inside its neighbours' range — any pixel on a real edge or in smooth texture —
    is never touched; a lone defect in a flat area is caught when it is off by more than
    ``threshold`` plus the local spread. Clusters (two adjacent defects of one colour) can
    escape detection, as in any single-pass dynamic correction; a static defect map from a
    dark/flat calibration is the remedy. At a border the missing neighbour is the mirror
    image of the one on the other side (same colour). Implemented as one numba kernel.

    References
    ----------
    A. El Gamal, H. Eltoukhy, "CMOS image sensors", IEEE Circuits & Devices Magazine
    21(3), 6–20 (2005), §"Defect correction"; Y.-C. Chang et al., "Dynamic defective pixel
    detection and correction", US patent 7,623,163 (2009) — min/max neighbourhood test.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.full((8, 8), 0.2, np.float32); m[4, 4] = 1.0
    >>> float(correct_defects(m, "RGGB")[4, 4])
    0.20000000298023224
    """
    m = np.ascontiguousarray(mosaic, dtype=np.float32)
    if m.ndim != 2:
        raise ConfigError(f"mosaic must be a 2-D array, got shape {m.shape}")
    if not (np.isfinite(threshold) and 0 < threshold <= 1):
        raise ConfigError(f"threshold = {threshold!r}: valid range is (0, 1]")
    sy, sx = cfa_layout(cfa).period
    if m.shape[0] < 2 * sy or m.shape[1] < 2 * sx:
        raise ConfigError(f"mosaic shape {m.shape}: defect correction needs at least two "
                          f"CFA periods ({2 * sy}×{2 * sx} px)")
    out = np.empty_like(m)
    flags = np.empty(m.shape, dtype=np.bool_)
    _dpc_kernel(m, sy, sx, np.float32(threshold), out, flags)
    return (out, flags) if return_mask else out
