"""CFA bookkeeping shared by the ISP stages (private).

A periodic mosaic of period (P_r, P_c) is P_r·P_c interleaved sub-images, one per position
in the tile. Working on the strided views ``mosaic[r::P_r, c::P_c]`` touches each pixel once
without building full-size index or mask arrays.

The ISP works in three colour *slots* (0, 1, 2), the output (R, G, B) of the demosaic:

* Bayer phases and Quad Bayer: R → 0, G → 1, B → 2.
* RCCB: R → 0, C → 1 (the clear channel takes green's place until the C → G estimate),
  B → 2.
* RGB-IR: R, G, B → 0, 1, 2; the IR channel has no slot (it is subtracted before white
  balance and then ignored).
* mono: M → every slot (replicated).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..errors import ConfigError
from ..raw import cfa_channel_index, cfa_layout

_SLOT_OF = {"R": 0, "G": 1, "C": 1, "B": 2}


@lru_cache(maxsize=None)
def cfa_period(cfa: str) -> tuple[int, int]:
    """(rows, cols) of the repeating tile; raises :class:`ConfigError` for an unknown name."""
    return cfa_layout(cfa).period


@lru_cache(maxsize=None)
def cfa_phases(cfa: str) -> tuple[tuple[int, int, int], ...]:
    """``((row_offset, col_offset, slot), ...)`` for every position of the tile that feeds
    a colour slot 0/1/2 (IR positions are left out).

    Bayer: the four positions of the 2×2 tile, slot 0=R, 1=G, 2=B. ``"mono"``: one entry
    with slot 0. Raises :class:`ConfigError` for an unknown pattern.
    """
    lay = cfa_layout(cfa)
    ph, pw = lay.period
    if lay.channels == ("M",):
        return ((0, 0, 0),)
    tile = cfa_channel_index(cfa, (ph, pw))
    out = []
    for r in range(ph):
        for c in range(pw):
            slot = _SLOT_OF.get(lay.channels[int(tile[r, c])])
            if slot is not None:
                out.append((r, c, slot))
    return tuple(out)


@lru_cache(maxsize=None)
def ir_phases(cfa: str) -> tuple[tuple[int, int], ...]:
    """``((row_offset, col_offset), ...)`` of the IR positions of the tile (empty if none)."""
    lay = cfa_layout(cfa)
    ph, pw = lay.period
    return tuple((r, c) for r in range(ph) for c in range(pw) if lay.tile[r][c] == "IR")


def slot_index(cfa: str, shape: tuple[int, int]) -> np.ndarray:
    """Per-pixel colour slot (0, 1, 2; 255 for IR pixels), shape ``shape``, uint8."""
    lay = cfa_layout(cfa)
    if lay.channels == ("M",):
        return np.zeros(shape, dtype=np.uint8)
    lut = np.array([_SLOT_OF.get(c, 255) for c in lay.channels], dtype=np.uint8)
    return lut[cfa_channel_index(cfa, shape)]


#: Largest offset [px] of the weighted centre of the samples from the interpolated pixel
#: that :func:`interpolation_radius` accepts: keeps the first-order (ramp) bias of the
#: interpolation below a quarter pixel.
MAX_CENTROID_OFFSET_PX = 0.25


@lru_cache(maxsize=None)
def interpolation_radius(cfa: str, slot: int) -> int:
    """Tent radius r used to interpolate ``slot`` (0, 1, 2, or 255 for IR) of ``cfa``.

    The smallest r such that, at every position of the (infinite) mosaic, the (2r+1)²
    window holds samples of the slot and the tent-weighted centre of those samples lies
    within :data:`MAX_CENTROID_OFFSET_PX` of the pixel (so a brightness ramp is not shifted
    by clustered samples). Bayer, RCCB: 1 for every slot. RGB-IR: G and IR 1, R and B 2.
    Quad Bayer: G 2, R and B 3 (its same-colour 2×2 clusters put all nearby samples on one
    side). Near an image border the window is one-sided and :func:`interpolate_sites`
    widens it where it finds no sample.
    """
    lay = cfa_layout(cfa)
    ph, pw = lay.period
    reach = 2 * max(ph, pw)
    idx = slot_index(cfa, ((2 * reach // ph + 1) * ph, (2 * reach // pw + 1) * pw))
    if not np.any(idx == slot):
        raise ConfigError(f"CFA {cfa!r} has no samples for colour slot {slot}")
    oy, ox = (reach // ph) * ph, (reach // pw) * pw  # a tile origin with room for the window
    for r in range(1, reach + 1):
        k = tent_kernel(r).astype(np.float64)
        d = np.arange(-r, r + 1)
        ok = True
        for r0 in range(oy, oy + ph):
            for c0 in range(ox, ox + pw):
                win = (idx[r0 - r:r0 + r + 1, c0 - r:c0 + r + 1] == slot) * k
                tot = win.sum()
                if tot == 0 or math.hypot(win.sum(1) @ d / tot, win.sum(0) @ d / tot) \
                        > MAX_CENTROID_OFFSET_PX:
                    ok = False
                    break
            if not ok:
                break
        if ok:
            return r
    return reach


def tent_kernel(radius: int) -> np.ndarray:
    """Separable tent (bilinear) kernel of half-width ``radius``, float32, peak 1.

    Per axis ``1 − |d|/(radius + 1)``; radius 1 gives ``[½, 1, ½] ⊗ [½, 1, ½]``, the
    Bayer R/B bilinear kernel up to scale.
    """
    d = np.arange(-radius, radius + 1, dtype=np.float64)
    t = 1.0 - np.abs(d) / (radius + 1.0)
    return np.outer(t, t).astype(np.float32)


def interpolate_sites(mosaic: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """Normalised convolution: fill every pixel from the ``mask`` samples around it.

    ``out = (K ⊛ (m·mask)) / (K ⊛ mask)`` with the tent kernel of ``radius``
    (``cv2.filter2D``, ``BORDER_REFLECT_101`` applied to data and mask alike, so a constant
    stays exactly constant up to the border); samples at ``mask`` pixels are kept exactly.
    Where the window holds no sample (at a border, where the window is one-sided) the
    radius is increased for those pixels until it does; in an image with no sample at all
    the result is 0.

    References
    ----------
    H. Knutsson, C.-F. Westin, "Normalized and differential convolution", CVPR 1993.
    """
    import cv2

    w = mask.astype(np.float32)
    data = mosaic * w
    out = np.zeros(mosaic.shape, dtype=np.float32)
    todo = np.ones(mosaic.shape, dtype=bool)
    r = max(int(radius), 1)
    limit = max(mosaic.shape)
    while np.any(mask) and r <= limit:
        k = tent_kernel(r)
        num = cv2.filter2D(data, -1, k, borderType=cv2.BORDER_REFLECT_101)
        den = cv2.filter2D(w, -1, k, borderType=cv2.BORDER_REFLECT_101)
        ok = todo & (den > np.float32(1e-6))
        np.divide(num, den, out=out, where=ok)
        todo &= ~ok
        if not np.any(todo):
            break
        r += 1
    np.copyto(out, mosaic, where=mask)
    return out
