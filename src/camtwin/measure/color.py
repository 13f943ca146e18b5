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
