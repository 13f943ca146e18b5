"""Geometric distortion from a dot-grid capture and relative illumination from a flat field.

Distortion (ISO 17850:2015 style, fitted model)
-----------------------------------------------
Dark dots of a square grid (:func:`camtwin.scene.dot_grid`) are found by a local threshold
(half the local background maximum), labelled, and located by their darkness-weighted
centroid. Each dot gets integer grid indices (i, j) from the dot nearest the image centre
and the median neighbour spacing. The ideal (undistorted) dot positions
``g + p·R(α)·(i, j)`` (origin g, pitch p, rotation α) are mapped through the radial
Brown–Conrady model about the image centre c, in coordinates normalised by the full-field
height r_full (default: the half-diagonal),

    x_d = c + r_full · u · (1 + k₁|u|² + k₂|u|⁴),   u = (ideal − c) / r_full

and (g, p, α, k₁, k₂) are fitted by least squares to the measured centroids. The reported
**distortion at full field** is 100·(k₁ + k₂) % (the radial distortion of
:class:`camtwin.optics.DistortionSpec`, negative = barrel), and ``percent_at(h)``
100·(k₁h² + k₂h⁴).

Relative illumination
---------------------
From a capture of a uniform, Lambertian field: the mean signal in small boxes at the four
corners over the mean in a box at the centre, ×100 %. The field height of each box centre
is reported with it (normalised by the half-diagonal), so it can be compared with a lens's
RI curve at that height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import ConfigError


@dataclass(frozen=True, eq=False)
class DistortionResult:
    """Fitted radial distortion of a dot-grid capture."""

    k1: float
    k2: float
    pitch_px: float
    rotation_deg: float
    full_field_px: float
    n_dots: int
    rms_residual_px: float
    centroids_px: np.ndarray  # (N, 2) x, y

    @property
    def percent_at_full_field(self) -> float:
        return 100.0 * (self.k1 + self.k2)

    def percent_at(self, h) -> np.ndarray:
        """Radial distortion [%] at normalised field height ``h`` (undistorted)."""
        h = np.asarray(h, dtype=np.float64)
        return 100.0 * (self.k1 * h**2 + self.k2 * h**4)

    def to_dict(self) -> dict:
        return {"distortion_percent_full_field": self.percent_at_full_field,
                "k1": self.k1, "k2": self.k2, "pitch_px": self.pitch_px,
                "rotation_deg": self.rotation_deg, "full_field_px": self.full_field_px,
                "n_dots": self.n_dots, "rms_residual_px": self.rms_residual_px}


def find_dots(image_2d, *, min_area_px: int = 4) -> np.ndarray:
    """Centroids (N, 2) [x, y in pixels] of dark dots on a light background.

    A pixel belongs to a dot if it is below half the local background (the maximum over a
    window of 1/8 of the image size); dots touching the image border are dropped. Each
    centroid is weighted by the darkness ``background − value`` over the dot's dilated mask.
    """
    img = np.asarray(image_2d, dtype=np.float64)
    if img.ndim != 2:
        raise ConfigError(f"dot finding needs a 2-D image, got shape {img.shape}")
    size = max(5, min(img.shape) // 8)
    bg = ndimage.maximum_filter(ndimage.uniform_filter(img, 3), size=size, mode="nearest")
    mask = img < 0.5 * bg
    labels, n = ndimage.label(mask)
    if n == 0:
        raise ConfigError("no dots found: expected dark dots on a light background")
    grown = ndimage.grey_dilation(labels, size=(3, 3))
    dark = np.clip(bg - img, 0.0, None)
    idx = np.arange(1, n + 1)
    area = ndimage.sum(np.ones_like(img), labels, idx)
    cy = ndimage.sum(dark * np.arange(img.shape[0])[:, None], grown, idx)
    cx = ndimage.sum(dark * np.arange(img.shape[1])[None, :], grown, idx)
    wsum = ndimage.sum(dark, grown, idx)
    sl = ndimage.find_objects(labels)
    h, w = img.shape
    keep = []
    for k, s in enumerate(sl):
        touches = s[0].start == 0 or s[1].start == 0 or s[0].stop == h or s[1].stop == w
        if not touches and area[k] >= min_area_px and wsum[k] > 0:
            keep.append(k)
    if len(keep) < 9:
        raise ConfigError(f"found only {len(keep)} complete dots (need >= 9)")
    keep = np.array(keep)
    return np.column_stack([cx[keep] / wsum[keep], cy[keep] / wsum[keep]])


def _model(params, ij, centre, r_full):
    gx, gy, p, alpha, k1, k2 = params
    ca, sa = np.cos(alpha), np.sin(alpha)
    ideal = np.column_stack([gx + p * (ca * ij[:, 0] - sa * ij[:, 1]),
                             gy + p * (sa * ij[:, 0] + ca * ij[:, 1])])
    u = (ideal - centre) / r_full
    r2 = (u * u).sum(axis=1, keepdims=True)
    return centre + r_full * u * (1.0 + k1 * r2 + k2 * r2 * r2)


def measure_distortion(image_2d, *, full_field_px: float | None = None,
                       fit_k2: bool = True) -> DistortionResult:
    """Radial distortion of a dot-grid capture (module docstring).

    Parameters
    ----------
    image_2d : array_like (H, W)
        One channel of the capture (linear signal), dark dots on a light background.
    full_field_px : float, optional
        Image height of the full field [px]; default the half-diagonal ½·√(H² + W²).
    fit_k2 : bool
        Fit the r⁴ term too (needs dots out to the corners).
    """
    from scipy.optimize import least_squares

    img = np.asarray(image_2d, dtype=np.float64)
    h, w = img.shape
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    r_full = float(full_field_px or 0.5 * np.hypot(h, w))
    pts = find_dots(img)
    d0 = np.hypot(*(pts - centre).T)
    origin = pts[np.argmin(d0)]
    rel = pts - origin
    near = np.sort(np.hypot(*rel.T))[1:9]
    pitch = float(np.median(near[:4]))
    ij = np.round(rel / pitch)
    params = np.array([origin[0], origin[1], pitch, 0.0, 0.0, 0.0])

    def resid(p):
        q = p if fit_k2 else np.append(p[:5], 0.0)
        return (_model(q, ij, centre, r_full) - pts).ravel()

    for _ in range(3):  # fit, then re-assign indices with the fitted grid
        sol = least_squares(resid, params if fit_k2 else params[:5], method="lm")
        params = sol.x if fit_k2 else np.append(sol.x, 0.0)
        gx, gy, p, alpha = params[:4]
        # undistort the measured points approximately and re-index
        u = (pts - centre) / r_full
        r2 = (u * u).sum(axis=1, keepdims=True)
        und = centre + r_full * u / (1.0 + params[4] * r2 + params[5] * r2 * r2)
        ca, sa = np.cos(-alpha), np.sin(-alpha)
        rr = und - np.array([gx, gy])
        new_ij = np.round(np.column_stack([ca * rr[:, 0] - sa * rr[:, 1],
                                           sa * rr[:, 0] + ca * rr[:, 1]]) / p)
        if np.array_equal(new_ij, ij):
            break
        ij = new_ij
    res = resid(params if fit_k2 else params[:5]).reshape(-1, 2)
    return DistortionResult(k1=float(params[4]), k2=float(params[5]), pitch_px=float(params[2]),
                            rotation_deg=float(np.degrees(params[3])), full_field_px=r_full,
                            n_dots=len(pts), rms_residual_px=float(np.sqrt((res**2).mean())),
                            centroids_px=pts)


def relative_illumination(image_2d, *, box_fraction: float = 0.04) -> dict:
    """Corner-to-centre relative illumination [%] of a flat-field capture.

    Parameters
    ----------
    image_2d : array_like (H, W)
        Linear signal of one channel (black level removed) of a uniform, Lambertian field.
    box_fraction : float
        Side of each averaging box as a fraction of the image height/width (0 < f ≤ 0.25).

    Returns
    -------
    dict with ``corners_percent`` (top-left, top-right, bottom-left, bottom-right),
    ``mean_corner_percent``, ``corner_field_height`` (box centre height / half-diagonal) and
    ``centre_signal``.
    """
    img = np.asarray(image_2d, dtype=np.float64)
    if img.ndim != 2:
        raise ConfigError(f"relative illumination needs a 2-D image, got shape {img.shape}")
    if not 0 < box_fraction <= 0.25:
        raise ConfigError(f"box_fraction = {box_fraction}: valid range is (0, 0.25]")
    h, w = img.shape
    bh, bw = max(1, int(round(h * box_fraction))), max(1, int(round(w * box_fraction)))
    cy, cx = h // 2, w // 2
    centre = img[cy - bh // 2:cy - bh // 2 + bh, cx - bw // 2:cx - bw // 2 + bw].mean()
    if not centre > 0:
        raise ConfigError("relative illumination: the centre of the flat field has no signal")
    corners = [img[:bh, :bw], img[:bh, -bw:], img[-bh:, :bw], img[-bh:, -bw:]]
    pct = [100.0 * c.mean() / centre for c in corners]
    # field height of a corner box centre (pixel centres at index − (n − 1)/2)
    dy = (h - 1) / 2.0 - (bh - 1) / 2.0
    dx = (w - 1) / 2.0 - (bw - 1) / 2.0
    return {"corners_percent": pct, "mean_corner_percent": float(np.mean(pct)),
            "corner_field_height": float(np.hypot(dx, dy) / (0.5 * np.hypot(h, w))),
            "centre_signal": float(centre)}
