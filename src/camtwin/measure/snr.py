"""Signal and temporal SNR of a uniform region of a single raw frame.

In a uniform region of a sensor without fixed-pattern noise (first-version sensor model),
the spatial spread of one CFA colour equals the temporal noise once slow illumination
gradients (cos⁴ falloff, lens shading) are removed. camtwin fits and subtracts a plane
a + b·x + c·y per colour before taking the standard deviation:

    SNR = μ_e / σ_e,   μ_e = mean of (DN − black)/K,  σ_e = std of the plane residual [e⁻]
    SNR_dB = 20·log10(SNR)

The region is inset by 20 % on every side so blurred patch edges are excluded.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..raw.frame import RawFrame
from ..regions import check_box, inset_box

_CHANNELS = {"R": 0, "G": 1, "B": 2}


def region_snr(raw: RawFrame, box, *, channel: str = "G", inset: float = 0.2,
               detrend: bool = True) -> dict:
    """Mean [e⁻, DN above black], noise [e⁻] and SNR of one colour inside ``box``
    ``(row0, row1, col0, col1)`` [px, half-open; :func:`camtwin.regions.xywh_to_box` converts
    an ``(x, y, w, h)`` region].

    ``channel`` is ``"R"``, ``"G"`` or ``"B"`` (ignored for mono). Returns a dict with
    ``mean_e``, ``mean_dn``, ``std_e``, ``snr``, ``snr_db``, ``n_pixels``.
    """
    if raw.cfa != "mono" and channel not in _CHANNELS:
        raise ConfigError(f"channel = {channel!r}: valid choices are R, G, B")
    r0, r1, c0, c1 = inset_box(check_box(box, raw.shape, "region"), inset)
    dn = raw.dn[r0:r1, c0:c1].astype(np.float64) - raw.black_level_dn
    yy, xx = np.mgrid[r0:r1, c0:c1]
    mask = np.ones(dn.shape, dtype=bool)
    if raw.cfa != "mono":
        mask = raw.channel_index[r0:r1, c0:c1] == _CHANNELS[channel]
    v, y, x = dn[mask], yy[mask].astype(np.float64), xx[mask].astype(np.float64)
    if v.size < 16:
        raise ConfigError(f"region {tuple(box)} holds only {v.size} {channel} pixels (need >= 16)")
    resid = v - v.mean()
    if detrend:
        a = np.column_stack([np.ones_like(x), x - x.mean(), y - y.mean()])
        resid = v - a @ np.linalg.lstsq(a, v, rcond=None)[0]
        dof = v.size - 3
    else:
        dof = v.size - 1
    k = raw.conversion_gain_dn_per_e
    mean_dn = float(v.mean())
    std_e = float(np.sqrt(np.sum(resid**2) / dof) / k)
    mean_e = mean_dn / k
    snr = mean_e / std_e if std_e > 0 else float("inf")
    return {"mean_e": mean_e, "mean_dn": mean_dn, "std_e": std_e, "snr": snr,
            "snr_db": float(20 * np.log10(snr)) if snr > 0 else float("-inf"),
            "n_pixels": int(v.size)}
