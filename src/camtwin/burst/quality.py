"""Noise and SNR of raw mosaics (single frames or merges) on flat regions.

The noise of one CFA colour in a box is the standard deviation of its samples after a
least-squares plane a + b·x + c·y is removed (slow shading gradients are not noise), as in
:func:`camtwin.measure.snr.region_snr`, but on float mosaics so a merge is measured
without re-quantisation:

    σ_e = sqrt(Σ r² / (n − 3)) / K,   μ_e = mean / K,   SNR = μ_e / σ_e.

:func:`flat_box` finds the largest-signal square whose *noise-free* content is flat, from a
frame's ground truth (``mean_electrons``); without ground truth the centre box is used.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def _signal_mask(frame) -> np.ndarray:
    if frame.cfa == "mono":
        return np.ones(frame.shape, dtype=bool)
    chans = frame.channels
    name = "G" if "G" in chans else "C"
    return frame.channel_index == chans.index(name)


def region_noise(mosaic_dn: np.ndarray, frame, box) -> dict:
    """Mean [e⁻], plane-detrended std [e⁻] and SNR of the green (clear, mono) samples of
    ``mosaic_dn`` (float, black level included, gain of ``frame``) inside ``box``
    ``(row0, row1, col0, col1)`` [px, half-open; :mod:`camtwin.regions`]."""
    r0, r1, c0, c1 = box
    if not (0 <= r0 < r1 <= frame.shape[0] and 0 <= c0 < c1 <= frame.shape[1]):
        raise ConfigError(f"box {box} lies outside the {frame.shape[1]}×{frame.shape[0]} frame")
    mask = _signal_mask(frame)[r0:r1, c0:c1]
    v = (np.asarray(mosaic_dn, dtype=np.float64)[r0:r1, c0:c1] - frame.black_level_dn)[mask]
    if v.size < 16:
        raise ConfigError(f"box {box} holds only {v.size} samples (need >= 16)")
    yy, xx = np.nonzero(mask)
    a = np.column_stack([np.ones(v.size), xx - xx.mean(), yy - yy.mean()])
    resid = v - a @ np.linalg.lstsq(a, v, rcond=None)[0]
    k = frame.conversion_gain_dn_per_e
    std_e = float(np.sqrt(np.sum(resid**2) / (v.size - 3)) / k)
    mean_e = float(v.mean() / k)
    return {"mean_e": mean_e, "std_e": std_e, "snr": mean_e / std_e if std_e > 0 else np.inf,
            "n": int(v.size)}


def flat_box(frame, *, size_px: int | None = None, tolerance: float = 0.02) -> tuple:
    """A square box (r0, r1, c0, c1) over flat scene content.

    From ``frame.mean_electrons`` (ground truth), among squares of side ``size_px``
    (default: 1/5 of the shorter side, even) on a half-side grid, the one with the highest
    mean whose truth varies by less than ``tolerance`` × its mean (std of the green
    samples after plane removal). Raises ConfigError when the scene has none.
    """
    h, w = frame.shape
    side = size_px or max(16, min(h, w) // 5 // 2 * 2)
    if frame.mean_electrons is None:
        return ((h - side) // 2, (h + side) // 2, (w - side) // 2, (w + side) // 2)
    truth = frame.mean_electrons.astype(np.float64) * frame.conversion_gain_dn_per_e \
        + frame.black_level_dn
    best, best_mean = None, -np.inf
    step = max(2, side // 4 // 2 * 2)
    for r0 in range(0, h - side + 1, step):
        for c0 in range(0, w - side + 1, step):
            box = (r0, r0 + side, c0, c0 + side)
            st = region_noise(truth, frame, box)
            if st["mean_e"] > 0 and st["std_e"] < tolerance * st["mean_e"] \
                    and st["mean_e"] > best_mean:
                best, best_mean = box, st["mean_e"]
    if best is None:
        raise ConfigError(f"the scene has no flat {side}×{side} px region to measure noise on "
                          "(use a chart with patches, e.g. colorchecker or uniform)")
    return best
