"""Colour accuracy on a ColorChecker: CIEDE2000 against published reference values.

Reference colours are colour-science's ``CCS_COLOURCHECKERS["BabelColor Average"]`` (CIE xyY
under D50, computed by BabelColor from the same averaged spectra camtwin renders), adapted to
D65 with the Bradford transform and expressed in CIELAB relative to the D65 white (Y = 100).
The adapted XYZ, the D65 white and the sRGB matrices are colour-science's numbers, shipped
with camtwin (:func:`camtwin.spectra.cie_constant`, checked against colour-science in
tests/test_spectral_tables.py) so that a capture does not import colour-science (≈1.4 s,
it imports matplotlib). CIELAB is CIE 015:2018 eq. 8.1–8.3:

    L* = 116 f(Y/Yn) − 16,  a* = 500 (f(X/Xn) − f(Y/Yn)),  b* = 200 (f(Y/Yn) − f(Z/Zn)),
    f(t) = t^(1/3) for t > (24/116)³, else (841/108) t + 16/116;

CIEDE2000 (CIE 142-2001, Sharma et al. 2005) is scikit-image's ``deltaE_ciede2000``.

The rendered image is linear sRGB (D65 white, 1.0 = perfect white diffuser). As in Imatest's
Colorcheck, exposure is normalised before ΔE: the measured luminances of the four middle
neutral patches (neutral 8 … neutral 3.5) are scaled by one factor k to match the reference
in least squares; ``exposure_error_stops = −log2(k)`` is reported alongside.

The chart is found in any image by :func:`find_colorchecker` (uniform patch-like regions on
a 4 × 6 grid, OpenCV only) and every placement is checked by :func:`verify_colorchecker`
before a ΔE00 is reported. colour-checker-detection (0.2.3) was not used: it requires
opencv-python < 5 and OpenImageIO, which would pull a second, older OpenCV next to the
project's opencv-python-headless 5, and its learned detector downloads model weights.
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
    from ..spectra import cie_constant

    return cie_constant("COLORCHECKER_REF_XYZ_D65").copy()


def reference_linear_srgb() -> np.ndarray:
    """Reference linear sRGB of the 24 patches under D65 (may fall slightly outside 0..1)."""
    from ..spectra import cie_constant

    return reference_xyz_d65() @ cie_constant("SRGB_XYZ_TO_RGB").T


def xyz_to_lab(xyz, white_xyz) -> np.ndarray:
    """CIELAB (L* 0..100) of XYZ relative to the white ``white_xyz`` (module docstring)."""
    t = np.asarray(xyz, dtype=np.float64) / np.asarray(white_xyz, dtype=np.float64)
    f = np.where(t > (24 / 116) ** 3, np.cbrt(t), (841 / 108) * t + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def colorchecker_delta_e(linear_srgb: np.ndarray | None, patch_boxes, *,
                         normalize_exposure: bool = True, patch_rgb=None) -> dict:
    """CIEDE2000 of the 24 patches of a rendered ColorChecker.

    Parameters
    ----------
    linear_srgb : ndarray (H, W, 3)
        Rendered image, linear sRGB, 1.0 = diffuse white.
    patch_boxes : sequence of 24 pixel boxes (y0, y1, x0, x1), chart order; each is inset
        by 20 % per side before averaging.
    patch_rgb : array_like (24, 3), optional
        The inset patch means of linear sRGB, already taken (``linear_srgb`` is then not
        read; a strip capture keeps only these, :mod:`camtwin.strips`).

    Returns
    -------
    dict with ``delta_e00`` (24 values), ``mean``, ``max``, ``exposure_error_stops``.
    """
    from skimage.color import deltaE_ciede2000

    from ..spectra import cie_constant

    if len(patch_boxes) != 24:
        raise ConfigError(f"need 24 ColorChecker patch boxes, got {len(patch_boxes)}")
    rgb = (patch_means(linear_srgb, [inset_box(b) for b in patch_boxes]) if patch_rgb is None
           else np.asarray(patch_rgb, dtype=np.float64).reshape(24, 3))
    xyz = np.asarray(rgb, dtype=np.float64) @ cie_constant("SRGB_RGB_TO_XYZ").T
    ref = reference_xyz_d65()
    k = 1.0
    if normalize_exposure:
        idx = list(NEUTRAL_FOR_EXPOSURE)
        k = float(np.dot(ref[idx, 1], xyz[idx, 1]) / np.dot(xyz[idx, 1], xyz[idx, 1]))
    white = cie_constant("D65_WHITE_XYZ")
    lab = xyz_to_lab(xyz * k, white)
    lab_ref = xyz_to_lab(ref, white)
    de = np.asarray(deltaE_ciede2000(lab, lab_ref), dtype=np.float64)
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
    0.0722 B (linear sRGB, IEC 61966-2-1). Each box ``(row0, row1, col0, col1)`` [px] is
    inset by ``inset`` per side. A plane
    a + b·x + c·y is fitted and removed before the standard deviation (illumination falloff
    is not noise). SNR = mean / std; SNR_dB = 20 log10(SNR).
    """
    img = np.asarray(linear_image, dtype=np.float64)
    out = []
    for box in boxes:
        r0, r1, c0, c1 = inset_box(box, inset)
        v = _luminance(img[r0:r1, c0:c1])     # (per patch: no frame-sized luminance)
        yy, xx = np.mgrid[r0:r1, c0:c1]
        a = np.column_stack([np.ones(v.size), xx.ravel() - xx.mean(), yy.ravel() - yy.mean()])
        resid = v.ravel() - a @ np.linalg.lstsq(a, v.ravel(), rcond=None)[0]
        std = float(np.sqrt(np.sum(resid**2) / max(v.size - 3, 1)))
        mean = float(v.mean())
        snr = mean / std if std > 0 else float("inf")
        out.append({"mean": mean, "std": std, "snr": snr,
                    "snr_db": float(20 * np.log10(snr)) if 0 < snr < float("inf") else None})
    return out


#: Limits of :func:`verify_colorchecker` (see its docstring for what each tests).
MIN_NEUTRAL_RATIO = 3.0          # white / black luminance of the neutral row
MIN_LIGHTNESS_RANK_CORR = 0.8    # Spearman ρ of the 24 patch luminances vs the reference
MAX_MEDIAN_HUE_ERROR_DEG = 30.0  # median hue-angle error of the 18 chromatic patches
MIN_HUES_WITHIN_45_DEG = 14      # of 18
MIN_CHROMA = 0.02                # median opponent chroma of the chromatic patches (grey image)
MAX_PATCH_NONUNIFORMITY = 0.15   # detrended std inside a patch / (white − black)


class NoColorChecker(ConfigError):
    """No ColorChecker Classic in the image (or not where ``chart_box`` says)."""


def _opponent(rgb: np.ndarray) -> np.ndarray:
    """Opponent coordinates (a, b) = (R − G, (R + G)/2 − B) of white-balanced linear RGB
    normalised by the luminance, for hue angles."""
    y = np.maximum(rgb @ np.array([0.2126, 0.7152, 0.0722]), 1e-9)
    return np.stack([(rgb[:, 0] - rgb[:, 1]) / y,
                     (0.5 * (rgb[:, 0] + rgb[:, 1]) - rgb[:, 2]) / y], axis=1)


def _luminance(block: np.ndarray) -> np.ndarray:
    """Y = 0.2126 R + 0.7152 G + 0.0722 B of a block of a linear RGB image (the block
    itself when it is one plane)."""
    return block[..., :3] @ np.array([0.2126, 0.7152, 0.0722]) if block.ndim == 3 else block


def verify_colorchecker(linear_srgb, patch_boxes, *, clip: bool = False
                        ) -> tuple[bool, str, float]:
    """Is there a ColorChecker Classic at ``patch_boxes`` (24 boxes (row0, row1, col0, col1)
    [px], chart order)?

    Tests, each against the reference (:func:`reference_linear_srgb`):

    1. the neutral row (patches 19–24) gets darker from white to black, white/black ≥
       :data:`MIN_NEUTRAL_RATIO`;
    2. the lightness order of all 24 patches: Spearman rank correlation of the measured and
       reference luminances ≥ :data:`MIN_LIGHTNESS_RANK_CORR`;
    3. hue: after white balance on neutral 8 … 3.5, the opponent hue angle atan2(b, a),
       a = R − G, b = (R + G)/2 − B, of the 18 chromatic patches: median error ≤
       :data:`MAX_MEDIAN_HUE_ERROR_DEG`, ≥ :data:`MIN_HUES_WITHIN_45_DEG` within 45°
       (a grey image, median chroma < :data:`MIN_CHROMA`, fails: ΔE means nothing there);
    4. uniformity: inside each (20 % inset) patch the plane-detrended standard deviation
       ≤ :data:`MAX_PATCH_NONUNIFORMITY` × (white − black).

    Returns (ok, reason, score); ``score`` (lower is better: median hue error [°] − 20·ρ)
    ranks candidate readings of a grid. ``clip``: the image is taken as clipped at 0 (each
    patch clipped as it is read: no clipped copy of the frame).
    """
    img = np.asarray(linear_srgb, dtype=np.float64)
    boxes = [inset_box(b) for b in patch_boxes]
    rgb = patch_means(img, boxes, lower=0.0 if clip else None)
    ref = reference_linear_srgb()
    y = rgb @ np.array([0.2126, 0.7152, 0.0722])
    yref = ref @ np.array([0.2126, 0.7152, 0.0722])
    neutral = y[18:24]
    if not (np.all(np.diff(neutral) < 0) and neutral[0] >= MIN_NEUTRAL_RATIO *
            max(neutral[-1], 1e-9)):
        return False, ("the neutral row does not go from white to black "
                       f"(luminances {', '.join(f'{v:.3g}' for v in neutral)})"), np.inf
    rho = float(np.corrcoef(np.argsort(np.argsort(y)), np.argsort(np.argsort(yref)))[0, 1])
    if not rho >= MIN_LIGHTNESS_RANK_CORR:
        return False, (f"patch lightness order does not match a ColorChecker (rank "
                       f"correlation {rho:.2f} < {MIN_LIGHTNESS_RANK_CORR})"), np.inf
    idx = list(NEUTRAL_FOR_EXPOSURE)
    wb = rgb[idx].sum(axis=0)
    wb_ref = ref[idx].sum(axis=0)
    meas = _opponent(rgb / np.maximum(wb, 1e-12) * wb.mean())[:18]
    refo = _opponent(ref / wb_ref * wb_ref.mean())[:18]
    chroma = np.hypot(meas[:, 0], meas[:, 1])
    if np.median(chroma) < MIN_CHROMA:
        return False, "the image has no colour (grey or monochrome): ΔE00 means nothing", np.inf
    err = np.degrees(np.abs(np.angle(np.exp(1j * (np.arctan2(meas[:, 1], meas[:, 0])
                                                  - np.arctan2(refo[:, 1], refo[:, 0]))))))
    med = float(np.median(err))
    if not (med <= MAX_MEDIAN_HUE_ERROR_DEG and (err <= 45).sum() >= MIN_HUES_WITHIN_45_DEG):
        return False, (f"patch hues do not match a ColorChecker (median hue error "
                       f"{med:.0f}°, {(err <= 45).sum()}/18 within 45°)"), np.inf
    span = max(neutral[0] - neutral[-1], 1e-12)
    worst, k_worst = 0.0, 0
    for k, (r0, r1, c0, c1) in enumerate(boxes):
        v = _luminance(np.maximum(img[r0:r1, c0:c1], 0.0) if clip else img[r0:r1, c0:c1])
        yy, xx = np.mgrid[r0:r1, c0:c1]
        a = np.column_stack([np.ones(v.size), xx.ravel(), yy.ravel()])
        resid = v.ravel() - a @ np.linalg.lstsq(a, v.ravel(), rcond=None)[0]
        u = float(resid.std()) / span
        if u > worst:
            worst, k_worst = u, k
    if worst > MAX_PATCH_NONUNIFORMITY:
        return False, (f"patch {k_worst + 1} is not uniform (std {worst:.2f} of the "
                       f"white−black range > {MAX_PATCH_NONUNIFORMITY})"), np.inf
    return True, "24 patches: neutral row, lightness order, hues and uniformity verified", \
        med - 20.0 * rho


#: (long side [px], Gaussian σ [px]) of the searches :func:`find_colorchecker` tries in
#: turn: fine first, then coarser and smoother for noisy (low-light) captures.
SEARCH_SCALES = ((640, 1.0), (640, 2.5), (320, 2.0), (200, 1.5))


#: Output rows of :func:`_small_image` made at a time.
_SMALL_ROWS = 32


def _small_image(img: np.ndarray, h2: int, w2: int) -> np.ndarray:
    """``cv2.resize(np.clip(img[..., :3], 0, None).astype(np.float32), (w2, h2),
    INTER_AREA)`` (the image itself, clipped, when the size is its own) made a block of
    :data:`_SMALL_ROWS` output rows at a time from the input rows they read
    (:func:`camtwin.scene.rgb.area_matrix`, OpenCV's weights): no clipped float32 copy of the
    frame (12 B per pixel, on top of a 24 B float64 clip — 62 B per pixel of a 48 MP
    ColorChecker at the peak of ``camtwin colour``; RESULTS.md "Capture at real size",
    run 8)."""
    from ..scene.rgb import area_apply, area_matrix

    h, w = img.shape[:2]
    if (h2, w2) == (h, w):
        return np.clip(img[..., :3], 0, None).astype(np.float32)
    area = h >= h2 and w >= w2
    mx, c0 = area_matrix(w, w2, area, 0, w2)
    out = np.empty((h2, w2, 3), np.float32)
    for a in range(0, h2, _SMALL_ROWS):
        b = min(h2, a + _SMALL_ROWS)
        my, r0 = area_matrix(h, h2, area, a, b)
        block = np.clip(img[r0:r0 + my.shape[1], c0:c0 + mx.shape[1], :3], 0,
                        None).astype(np.float32)
        for c in range(3):
            out[a:b, :, c] = area_apply(my, mx, block[..., c])
    return out


def find_colorchecker(linear_srgb) -> dict:
    """Find and verify a ColorChecker Classic (4 × 6 patches) anywhere in an image.

    Tries :func:`_find_colorchecker_at` at each of :data:`SEARCH_SCALES` (the image
    downscaled and smoothed more each time, so noisy low-light captures segment) and keeps
    the first chart found and verified.

    Returns
    -------
    dict with ``boxes`` (24 pixel boxes (row0, row1, col0, col1), chart order), ``xywh``
    (the patches' bounding outline x, y, w, h [px]), ``rotation_deg``, ``reading`` and
    ``method``.

    Raises
    ------
    NoColorChecker
        "no ColorChecker found" with the reason (of the finest search).
    """
    img = np.asarray(linear_srgb, dtype=np.float64)    # (clipped at 0 where it is read)
    if img.ndim == 2:
        img = np.broadcast_to(img[..., None], img.shape + (3,))
    first = None
    for work_px, sigma in SEARCH_SCALES:
        try:
            return _find_colorchecker_at(img, work_px=work_px, sigma_px=sigma)
        except NoColorChecker as exc:
            first = first or exc
    raise first


def _find_colorchecker_at(img, *, work_px: int, sigma_px: float) -> dict:
    """One search of :func:`find_colorchecker`.

    Method: the image (downscaled to ≤ ``work_px`` on its long side, sRGB-encoded so dark
    patches count) is smoothed (Gaussian σ = ``sigma_px``) and split into regions without edges
    (colour gradient below max(0.03, 4 × its median)); regions of patch-like shape (their
    minimum-area rectangle filled ≥ 75 %, sides within 1:2.5, 64 px … 1/24 of the image)
    and similar area (the largest group within ×/÷ 1.8 of each other, ≥ 12 of them) are
    grouped into columns and rows along the chart's own axes; exactly 6 × 4 (or 4 × 6 for a
    chart on its side) must appear. An affine map (row, column) → pixel is fitted to the
    region centres (residual < 15 % of the pitch), which also places patches that did not
    segment (the black patch on a black frame). Each of the chart's readings (0°, 90°,
    180°, 270°) is verified (:func:`verify_colorchecker`) and the best that passes is kept.
    """
    import cv2

    h, w = img.shape[:2]
    scale = min(1.0, work_px / max(h, w))
    small = _small_image(img, max(1, round(h * scale)), max(1, round(w * scale)))
    top = float(np.percentile(small, 99.5)) or 1.0
    enc = np.sqrt(np.clip(small / top, 0, 1)).astype(np.float32)
    enc = cv2.GaussianBlur(enc, (0, 0), sigma_px)
    grad = np.zeros(enc.shape[:2], np.float32)
    for c in range(3):
        gx = cv2.Sobel(enc[..., c], cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(enc[..., c], cv2.CV_32F, 0, 1, ksize=3) / 8
        grad += gx * gx + gy * gy
    grad = np.sqrt(grad)
    thr = max(0.03, 4.0 * float(np.median(grad)))
    flat = (grad < thr).astype(np.uint8)
    flat = cv2.erode(flat, np.ones((3, 3), np.uint8))
    n, labels, stats, cents = cv2.connectedComponentsWithStats(flat, connectivity=4)
    hs, ws = flat.shape
    cand = []
    for i in range(1, n):
        area = stats[i, cv2.CC_STAT_AREA]
        if not 64 <= area <= hs * ws / 24:
            continue
        ys, xs = np.nonzero(labels[stats[i, 1]:stats[i, 1] + stats[i, 3],
                                   stats[i, 0]:stats[i, 0] + stats[i, 2]] == i)
        pts = np.column_stack([xs + stats[i, 0], ys + stats[i, 1]]).astype(np.float32)
        (cx, cy), (rw, rh), ang = cv2.minAreaRect(pts)
        if rw < 4 or rh < 4 or area < 0.75 * rw * rh or not 0.4 <= rw / rh <= 2.5:
            continue
        cand.append((float(area), float(cents[i, 0]), float(cents[i, 1]), ang, rw, rh))
    fail = "no ColorChecker found"
    if len(cand) < 12:
        raise NoColorChecker(f"{fail}: only {len(cand)} patch-like uniform regions (need a "
                             f"4 × 6 chart, ≥ 12 patches visible)")
    areas = np.array([c[0] for c in cand])
    group = max((np.nonzero((areas >= a / 1.8) & (areas <= a * 1.8))[0] for a in areas),
                key=len)
    if group.size < 12:
        raise NoColorChecker(f"{fail}: no group of ≥ 12 patch-like regions of similar size "
                             f"(largest: {group.size})")
    sel = [cand[i] for i in group]
    pts = np.array([[c[1], c[2]] for c in sel])
    side = float(np.sqrt(np.median(areas[group])))
    # chart axes: the mode of the regions' own rectangle angles (folded to −45°…45°)
    angs = np.array([((c[3] + 45.0) % 90.0) - 45.0 for c in sel])
    theta = float(np.median(angs))
    rot = np.array([[np.cos(np.radians(theta)), np.sin(np.radians(theta))],
                    [-np.sin(np.radians(theta)), np.cos(np.radians(theta))]])
    uv = (pts - pts.mean(axis=0)) @ rot.T

    def clusters(v):
        order = np.argsort(v)
        lab = np.zeros(v.size, int)
        k = 0
        for a, b in zip(order[:-1], order[1:]):
            if v[b] - v[a] > 0.6 * side:
                k += 1
            lab[b] = k
        return lab, k + 1

    cols, ncol = clusters(uv[:, 0])
    rows, nrow = clusters(uv[:, 1])
    if (ncol, nrow) not in ((6, 4), (4, 6)):
        raise NoColorChecker(f"{fail}: the patch-like regions form {ncol} × {nrow} columns × "
                             f"rows, not 6 × 4")
    design = np.column_stack([cols, rows, np.ones(cols.size)])
    coef, *_ = np.linalg.lstsq(design, pts, rcond=None)      # (3, 2): col, row, 1 → x, y
    pitch = float(min(np.hypot(*coef[0]), np.hypot(*coef[1])))
    resid = np.sqrt(np.mean(np.sum((design @ coef - pts) ** 2, axis=1)))
    if resid > 0.15 * pitch:
        raise NoColorChecker(f"{fail}: the regions do not lie on a regular grid (residual "
                             f"{resid:.1f} px of a {pitch:.1f} px pitch)")
    half = 0.5 * np.median([min(c[4], c[5]) for c in sel]) + 1.0  # eroded by 1 px
    best, reasons = None, []
    for name, grid in _readings(ncol, nrow):
        boxes = []
        for r, c in grid:
            x, y = np.array([c, r, 1.0]) @ coef
            boxes.append(tuple(int(round(v / scale)) for v in
                               (y - half, y + half, x - half, x + half)))
        if any(b[0] < 0 or b[2] < 0 or b[1] > h or b[3] > w for b in boxes):
            reasons.append(f"{name}: a patch lies outside the image")
            continue
        ok, why, score = verify_colorchecker(img, boxes, clip=True)
        reasons.append(f"{name}: {why}")
        if ok and (best is None or score < best[0]):
            best = (score, name, boxes)
    if best is None:
        raise NoColorChecker(f"{fail}: a 4 × 6 grid of patches fails verification "
                             f"({'; '.join(reasons)})")
    boxes = best[2]
    y0, y1 = min(b[0] for b in boxes), max(b[1] for b in boxes)
    x0, x1 = min(b[2] for b in boxes), max(b[3] for b in boxes)
    return {"boxes": boxes, "xywh": [x0, y0, x1 - x0, y1 - y0], "rotation_deg": theta,
            "reading": best[1], "method": "found automatically"}


def _readings(ncol: int, nrow: int):
    """(name, [(grid row, grid col) of chart patch k, k = 0…23]) for each way a chart on
    a grid of ``ncol`` × ``nrow`` can be read (rotations, no mirror images)."""
    rc = [divmod(k, 6) for k in range(24)]
    if (ncol, nrow) == (6, 4):
        return [("upright", rc), ("rotated 180°", [(3 - r, 5 - c) for r, c in rc])]
    return [("rotated 90° clockwise", [(c, 3 - r) for r, c in rc]),
            ("rotated 90° counter-clockwise", [(5 - c, r) for r, c in rc])]


def colorchecker_report(linear_srgb, *, chart_box=None, detect: bool | None = None) -> dict:
    """ΔE00 (:func:`colorchecker_delta_e`) and per-patch SNR (:func:`patch_snr`) of a
    ColorChecker capture in linear sRGB.

    The chart is found by :func:`find_colorchecker` (default when ``chart_box`` is None), or
    placed with ``chart_box`` (the box ``(row0, row1, col0, col1)`` [px] of the chart's outer
    edge — :func:`camtwin.measure_file` takes it as ``(x, y, w, h)`` — with camtwin's chart
    geometry :func:`colorchecker_boxes`); either way it is verified
    (:func:`verify_colorchecker`). ``detect=False`` without a box takes the whole image as
    the chart (camtwin's own renderings), still verified.

    Raises
    ------
    NoColorChecker
        "no ColorChecker found" (with the reason) when the verification fails.
    """
    if detect is None:
        detect = chart_box is None
    if detect and chart_box is None:
        chart = find_colorchecker(linear_srgb)
        boxes = chart["boxes"]
    else:
        boxes = colorchecker_boxes(np.shape(linear_srgb), chart_box)
        ok, why, _ = verify_colorchecker(linear_srgb, boxes)
        where = "in --chart-box" if chart_box is not None else "filling the image"
        if not ok:
            raise NoColorChecker(f"no ColorChecker found {where}: {why}")
        r0, r1, c0, c1 = (boxes[0][0], boxes[-1][1], boxes[0][2], boxes[-1][3])
        chart = {"xywh": [c0, r0, c1 - c0, r1 - r0], "rotation_deg": 0.0, "reading": "upright",
                 "method": "--chart-box" if chart_box is not None else "whole image"}
    out = colorchecker_delta_e(linear_srgb, boxes)
    snr = patch_snr(linear_srgb, boxes)
    from ..scene.charts import COLORCHECKER_NAMES

    out["patches"] = [{"name": n, "delta_e00": de, "snr": s["snr"], "snr_db": s["snr_db"]}
                      for n, de, s in zip(COLORCHECKER_NAMES, out["delta_e00"], snr)]
    out["boxes"] = [list(b) for b in boxes]
    out["chart"] = {k: v for k, v in chart.items() if k != "boxes"}
    out["verified"] = True
    return out
