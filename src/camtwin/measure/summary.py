"""The per-capture numbers camtwin reports (CLI, demo summary.json)."""

from __future__ import annotations

import numpy as np

from .color import colorchecker_delta_e
from .snr import region_snr

#: Layout region used for the "grey patch" SNR of each chart (ColorChecker: neutral 5).
GREY_REGION = {"colorchecker": ("patches", 21), "slanted_edge": ("light_roi", 0),
               "uniform": ("center", 0)}


def grey_box(raw) -> tuple[int, int, int, int]:
    """Pixel box of the chart's mid-grey region (central quarter if the chart has none)."""
    key, i = GREY_REGION.get(raw.metadata.get("scene", ""), (None, 0))
    layout = raw.metadata.get("layout_px", {})
    if key in layout:
        return tuple(layout[key][i])
    h, w = raw.shape
    return (h * 3 // 8, h * 5 // 8, w * 3 // 8, w * 5 // 8)


def shot_summary(shot, **extra) -> dict:
    """Mean signal [e⁻, DN], grey-patch SNR, clipped fraction (and ΔE00 for a ColorChecker)."""
    raw = shot.raw
    e = raw.electrons()
    snr = region_snr(raw, grey_box(raw), channel="G")
    out = {
        "scene": raw.metadata.get("scene"),
        "lux": raw.metadata.get("illuminance_lux"),
        "illuminant": raw.illuminant,
        "exposure_ms": raw.exposure_s * 1e3,
        "mean_signal_e": float(np.mean(e, dtype=np.float64)),
        "mean_signal_dn": float(np.mean(raw.dn, dtype=np.float64) - raw.black_level_dn),
        "grey_mean_e": snr["mean_e"],
        "grey_snr": snr["snr"],
        "grey_snr_db": snr["snr_db"],
        "clipped_fraction": raw.clipped_fraction(),
    }
    patches = raw.metadata.get("layout_px", {}).get("patches")
    if raw.metadata.get("scene") == "colorchecker" and patches:
        de = colorchecker_delta_e(shot.rendered.linear, patches)
        out["delta_e00_mean"] = de["mean"]
        out["delta_e00_max"] = de["max"]
        out["exposure_error_stops"] = de["exposure_error_stops"]
    out.update({k: v for k, v in extra.items() if v is not None})
    return out
