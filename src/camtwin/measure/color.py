"""Colour accuracy on a ColorChecker: CIEDE2000 against published reference values.

Reference colours are colour-science's ``CCS_COLOURCHECKERS["BabelColor Average"]`` (CIE xyY
under D50, computed by BabelColor from the same averaged spectra camtwin renders), adapted to
D65 with the Bradford transform and expressed in CIELAB relative to the D65 white (Y = 100).

The rendered image is linear sRGB (D65 white, 1.0 = perfect white diffuser). As in Imatest's
Colorcheck, exposure is normalised before ΔE: the measured luminances of the four middle
neutral patches (neutral 8 … neutral 3.5) are scaled by one factor k to match the reference
in least squares; ``exposure_error_stops = −log2(k)`` is reported alongside.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..regions import inset_box, patch_means

REFERENCE_SET = "BabelColor Average"
#: 0-based indices of the neutral patches used for exposure normalisation.
NEUTRAL_FOR_EXPOSURE = (19, 20, 21, 22)


def reference_xyz_d65() -> np.ndarray:
    """Reference XYZ (Y of white diffuser = 1) of the 24 patches under D65, shape (24, 3)."""
    import colour

    cc = colour.CCS_COLOURCHECKERS[REFERENCE_SET]
    xyy = np.array(list(cc.data.values()))
    xyz_d50 = colour.xyY_to_XYZ(xyy)
    d50 = colour.xy_to_XYZ(cc.illuminant)
    d65 = colour.xy_to_XYZ(colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"])
    return colour.chromatic_adaptation(xyz_d50, d50, d65, method="Von Kries", transform="Bradford")


def reference_linear_srgb() -> np.ndarray:
    """Reference linear sRGB of the 24 patches under D65 (may fall slightly outside 0..1)."""
    import colour

    return colour.XYZ_to_RGB(reference_xyz_d65(), "sRGB", apply_cctf_encoding=False)


def colorchecker_delta_e(linear_srgb: np.ndarray, patch_boxes, *,
                         normalize_exposure: bool = True) -> dict:
    """CIEDE2000 of the 24 patches of a rendered ColorChecker.

    Parameters
    ----------
    linear_srgb : ndarray (H, W, 3)
        Rendered image, linear sRGB, 1.0 = diffuse white.
    patch_boxes : sequence of 24 pixel boxes (y0, y1, x0, x1), chart order; each is inset
        by 20 % per side before averaging.

    Returns
    -------
    dict with ``delta_e00`` (24 values), ``mean``, ``max``, ``exposure_error_stops``.
    """
    import colour

    if len(patch_boxes) != 24:
        raise ConfigError(f"need 24 ColorChecker patch boxes, got {len(patch_boxes)}")
    rgb = patch_means(linear_srgb, [inset_box(b) for b in patch_boxes])
    xyz = colour.RGB_to_XYZ(rgb, "sRGB", apply_cctf_decoding=False)
    ref = reference_xyz_d65()
    k = 1.0
    if normalize_exposure:
        idx = list(NEUTRAL_FOR_EXPOSURE)
        k = float(np.dot(ref[idx, 1], xyz[idx, 1]) / np.dot(xyz[idx, 1], xyz[idx, 1]))
    white = colour.xy_to_XYZ(colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"])
    lab = colour.XYZ_to_Lab(xyz * k, colour.XYZ_to_xy(white))
    lab_ref = colour.XYZ_to_Lab(ref, colour.XYZ_to_xy(white))
    de = np.asarray(colour.delta_E(lab, lab_ref, method="CIE 2000"), dtype=np.float64)
    return {"delta_e00": de.tolist(), "mean": float(de.mean()), "max": float(de.max()),
            "exposure_error_stops": float(-np.log2(k)) if k > 0 else float("inf")}


def colorchecker_boxes(image_shape, chart_box=None) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (row0, row1, col0, col1) of the 24 patches of a ColorChecker Classic.

    The geometry is the chart's (:func:`camtwin.scene.charts.colorchecker_patch_fractions`:
    a 4 × 6 grid, each patch the central 70 % of its cell) placed in ``chart_box`` — the
    pixel box of the chart's outer edge in the image (default: the whole image, as camtwin
    renders it). Works on any capture of the chart once its box is known.
    """
    from ..regions import check_box
    from ..scene.charts import colorchecker_patch_fractions

    h, w = image_shape[:2]
    r0, r1, c0, c1 = (0, h, 0, w) if chart_box is None else check_box(chart_box, (h, w),
                                                                        "chart_box")
    if r1 - r0 < 8 or c1 - c0 < 12:
        raise ConfigError(f"chart_box = {(r0, r1, c0, c1)}: too small for 4 × 6 patches")
    out = []
    for y0, y1, x0, x1 in colorchecker_patch_fractions():
        out.append((int(round(r0 + y0 * (r1 - r0))), int(round(r0 + y1 * (r1 - r0))),
                    int(round(c0 + x0 * (c1 - c0))), int(round(c0 + x1 * (c1 - c0)))))
    return out


def patch_snr(linear_image, boxes, *, inset: float = 0.2) -> list[dict]:
    """Per-patch mean, standard deviation and SNR of a linear image.

    For an RGB image the statistic is taken on the luminance Y = 0.2126 R + 0.7152 G +
    0.0722 B (linear sRGB, IEC 61966-2-1). Each box is inset by ``inset`` per side. A plane
    a + b·x + c·y is fitted and removed before the standard deviation (illumination falloff
    is not noise). SNR = mean / std; SNR_dB = 20 log10(SNR).
    """
    img = np.asarray(linear_image, dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.2126, 0.7152, 0.0722])
    out = []
    for box in boxes:
        r0, r1, c0, c1 = inset_box(box, inset)
        v = img[r0:r1, c0:c1]
        yy, xx = np.mgrid[r0:r1, c0:c1]
        a = np.column_stack([np.ones(v.size), xx.ravel() - xx.mean(), yy.ravel() - yy.mean()])
        resid = v.ravel() - a @ np.linalg.lstsq(a, v.ravel(), rcond=None)[0]
        std = float(np.sqrt(np.sum(resid**2) / max(v.size - 3, 1)))
        mean = float(v.mean())
        snr = mean / std if std > 0 else float("inf")
        out.append({"mean": mean, "std": std, "snr": snr,
                    "snr_db": float(20 * np.log10(snr)) if 0 < snr < float("inf") else None})
    return out


def read_linear_srgb(path) -> np.ndarray:
    """Read an 8/16-bit sRGB image file as linear sRGB (H, W, 3) float64 in 0..1
    (IEC 61966-2-1 decoding)."""
    import colour
    from pathlib import Path

    from ..camera import read_rgb_image

    img = read_rgb_image(Path(path))
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    scale = float(np.iinfo(img.dtype).max) if np.issubdtype(img.dtype, np.integer) else 1.0
    return np.asarray(colour.cctf_decoding(np.clip(img / scale, 0, 1), function="sRGB"),
                      dtype=np.float64)


def colorchecker_report(linear_srgb, *, chart_box=None) -> dict:
    """ΔE00 (:func:`colorchecker_delta_e`) and per-patch SNR (:func:`patch_snr`) of a
    ColorChecker capture in linear sRGB, patches located from the chart geometry."""
    boxes = colorchecker_boxes(np.shape(linear_srgb), chart_box)
    out = colorchecker_delta_e(linear_srgb, boxes)
    snr = patch_snr(linear_srgb, boxes)
    from ..scene.charts import COLORCHECKER_NAMES

    out["patches"] = [{"name": n, "delta_e00": de, "snr": s["snr"], "snr_db": s["snr_db"]}
                      for n, de, s in zip(COLORCHECKER_NAMES, out["delta_e00"], snr)]
    out["boxes"] = [list(b) for b in boxes]
    return out
