"""The per-capture numbers camtwin reports (CLI, demo summary.json, web page).

A number is reported only where it means something, and each says where it comes from
(``sources``): the grey-region SNR only for a chart with a uniform grey region (a photo or a
Siemens star has none: the central quarter of a photo is texture, not noise), ΔE00 only for
the ColorChecker seen by a colour sensor. Where a number is not meaningful its value is
``None`` and ``sources`` gives the reason.
"""

from __future__ import annotations

import numpy as np

from .color import colorchecker_delta_e
from .snr import region_snr

#: Layout region used for the "grey patch" SNR of each chart (ColorChecker: neutral 5).
GREY_REGION = {"colorchecker": ("patches", 21), "slanted_edge": ("light_roi", 0),
               "uniform": ("center", 0)}
#: What each of those regions is, for the ``sources`` text.
GREY_REGION_TEXT = {"colorchecker": "the neutral 5 patch", "slanted_edge":
                    "the light side of the edge", "uniform": "the central half of the field"}


def grey_box(raw) -> tuple[int, int, int, int] | None:
    """Pixel box of the chart's uniform grey region, or None if the scene has none (a
    photo, a Siemens star, a dot grid)."""
    key, i = GREY_REGION.get(raw.metadata.get("scene", ""), (None, 0))
    layout = raw.metadata.get("layout_px", {})
    if key in layout:
        return tuple(layout[key][i])
    return None


def shot_summary(shot, **extra) -> dict:
    """Mean signal [e⁻, DN], grey-region SNR, clipped fraction (and ΔE00 for a
    ColorChecker), with a ``sources`` entry per number (see the module docstring)."""
    raw = shot.raw
    mean_dn = float(np.mean(raw.dn, dtype=np.float64))  # no float copy of a 200 MP frame
    scene = raw.metadata.get("scene")
    chan = "G" if raw.cfa != "mono" and "G" in raw.channels else None
    out = {
        "scene": scene,
        "lux": raw.metadata.get("illuminance_lux"),
        "illuminant": raw.illuminant,
        "exposure_ms": raw.exposure_s * 1e3,
        "mean_signal_e": (mean_dn - raw.black_level_dn) / raw.conversion_gain_dn_per_e,
        "mean_signal_dn": mean_dn - raw.black_level_dn,
        "grey_mean_e": None, "grey_snr": None, "grey_snr_db": None,
        "clipped_fraction": raw.clipped_fraction(),
    }
    sources = {"mean_signal_e": "this capture: mean of every raw pixel (dark signal included)",
               "clipped_fraction": "this capture: raw pixels at the white level"}
    hdr = getattr(raw, "hdr", None)
    if hdr is not None:  # an HDR mode: dn is the reference component; add the HDR range
        full = float(hdr.full_scale_e)
        out.update(hdr_mode=hdr.hdr.mode, hdr_components=[c.name for c in hdr.components],
                   hdr_full_scale_e=full, hdr_clipped_fraction=float(
                       np.mean(hdr.combined_e >= np.float32(0.999 * full))))
        for k in ("mean_signal_e", "clipped_fraction"):
            sources[k] += f" of the reference component {hdr.components[0].name}"
        sources["hdr_clipped_fraction"] = ("this capture: pixels whose combined HDR value is "
                                           "at the mode's full scale")
    box = grey_box(raw)
    if box is None:
        sources["grey_snr"] = (f"not meaningful: the scene {scene!r} has no uniform grey "
                               f"region (use colorchecker, slanted_edge or uniform)")
    elif raw.cfa != "mono" and chan is None:
        sources["grey_snr"] = f"not meaningful: a {raw.cfa} sensor has no G pixels"
    else:
        snr = region_snr(raw, box, channel=chan or "G")
        out.update(grey_mean_e=snr["mean_e"], grey_snr=snr["snr"], grey_snr_db=snr["snr_db"])
        pixels = "raw G pixels" if chan else "raw pixels"
        sources["grey_snr"] = (f"this capture: mean / plane-detrended std of the {pixels} of "
                               f"{GREY_REGION_TEXT[scene]} (20 % inset), in e⁻")
    patches = raw.metadata.get("layout_px", {}).get("patches")
    if scene == "colorchecker" and patches:
        if raw.cfa == "mono" or not {"R", "G", "B"} <= set(raw.channels):
            out["delta_e00_mean"] = out["delta_e00_max"] = None
            sources["delta_e00_mean"] = (f"not meaningful: a {raw.cfa} sensor does not "
                                         f"reproduce colour")
        else:
            linear = getattr(shot.rendered, "linear", None)
            means = getattr(shot, "patch_linear_means", None)
            if linear is None and means is None:
                raise ValueError("shot has neither a linear rendering nor patch means")
            de = (colorchecker_delta_e(linear, patches) if linear is not None else
                  colorchecker_delta_e(None, patches, patch_rgb=means))  # strip capture
            out["delta_e00_mean"] = de["mean"]
            out["delta_e00_max"] = de["max"]
            out["exposure_error_stops"] = de["exposure_error_stops"]
            sources["delta_e00_mean"] = ("this capture: CIEDE2000 of the 24 patches (chart "
                                         "layout of the simulation) in the ISP's linear sRGB "
                                         "output vs BabelColor Average, exposure normalised")
    sources["grey_snr_db"] = sources["grey_snr"]
    if "delta_e00_mean" in sources:
        sources["delta_e00_max"] = sources["delta_e00_mean"]
    out["sources"] = sources
    out.update({k: v for k, v in extra.items() if v is not None})
    return out
