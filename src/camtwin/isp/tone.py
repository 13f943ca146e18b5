"""Tone reproduction and sharpening: linear sRGB → display values in [0, 1].

Curves (:data:`TONE_CURVES`, dispatcher :func:`tone_map`):

* ``"srgb"`` — IEC 61966-2-1 encoding after clipping at 1 (diffuse white = 1);
* ``"linear"`` — clipping only;
* ``"reinhard"`` — Reinhard et al. (2002) global photographic operator on luminance, then
  sRGB encoding: compresses HDR scenes instead of clipping them;
* ``"filmic"`` — Hable's (2010) filmic curve per channel, then sRGB encoding: a toe and a
  soft shoulder.

The sRGB encoding of the hot path is a 65536-entry table with linear interpolation
(numba), within 10⁻⁶ of the exact power law (:func:`camtwin.isp.stages.srgb_encode`).
Sharpening (:func:`unsharp_mask`) works on display values.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import cv2
import numpy as np

from ..errors import ConfigError, unknown_name
from .stages import srgb_encode

#: Relative luminance weights of linear sRGB (IEC 61966-2-1, Y row of RGB → XYZ).
SRGB_LUMINANCE = (0.2126, 0.7152, 0.0722)

#: Table size − 1 of the sRGB lookup (interpolation error < 2e-6 everywhere).
SRGB_LUT_STEPS = 65535


@lru_cache(maxsize=1)
def _srgb_lut() -> np.ndarray:
    x = np.linspace(0.0, 1.0, SRGB_LUT_STEPS + 1)
    lut = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    lut = lut.astype(np.float32)
    lut.setflags(write=False)
    return lut


def _as_rgb(img) -> np.ndarray:
    x = np.ascontiguousarray(img, dtype=np.float32)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ConfigError(f"image must have shape (H, W, 3), got {x.shape}")
    return x


def srgb_encode_fast(linear) -> np.ndarray:
    """sRGB encoding (IEC 61966-2-1) by table lookup; same contract as
    :func:`camtwin.isp.stages.srgb_encode` (clip to [0, 1], NaN → 0 here), float32.

    The table samples the exact curve at 65536 points and is interpolated linearly; the
    largest error (at the kink of the linear/power junction, 0.0031308) is below 10⁻⁶, i.e.
    0.07 LSB at 16 bits.
    """
    from ._kernels import lut_kernel

    x = np.ascontiguousarray(linear, dtype=np.float32)
    out = np.empty_like(x)
    lut_kernel(x.reshape(-1), _srgb_lut(), out.reshape(-1))
    return out


def tone_srgb(linear) -> np.ndarray:
    """``srgb_encode_fast(clip(linear, 0, 1))`` (see module docstring)."""
    return srgb_encode_fast(_as_rgb(linear))


def tone_linear(linear) -> np.ndarray:
    """``clip(linear, 0, 1)``; NaN → 0."""
    x = _as_rgb(linear)
    return np.nan_to_num(np.clip(x, np.float32(0), np.float32(1)), nan=0.0)


def tone_reinhard(linear, *, key: float = 0.18, white: float | None = None) -> np.ndarray:
    """Reinhard et al. global photographic tone reproduction, then sRGB encoding.

    Parameters
    ----------
    linear : array_like, shape (H, W, 3)
        Linear sRGB, any positive scale (HDR allowed).
    key : float in (0, 1)
        Target "middle grey" a: the log-average luminance is mapped to ``a``.
    white : float > 0 or None
        L_white: the smallest scaled luminance that maps to 1 (burn-out); ``None`` = the
        largest scaled luminance of the image (nothing burns out).

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        Display values in [0, 1].

    Notes
    -----
    ``L̄ = exp(mean(log(δ + L)))`` (δ = 1e-6), ``L_m = a·L/L̄``,
    ``L_d = L_m (1 + L_m/L_white²)/(1 + L_m)`` (eqs. 1–4 of the paper); each pixel's RGB is
    scaled by ``L_d/L`` (hue and saturation kept), clipped to [0, 1] and sRGB-encoded.
    The log-average is taken on every 4th pixel in each direction for images above 1 MP.

    References
    ----------
    E. Reinhard, M. Stark, P. Shirley, J. Ferwerda, "Photographic tone reproduction for
    digital images", ACM Trans. Graphics 21(3) (SIGGRAPH 2002), 267–276.
    """
    x = _as_rgb(linear)
    if not (math.isfinite(key) and 0 < key < 1):
        raise ConfigError(f"key = {key!r}: valid range is (0, 1)")
    if white is not None and not (math.isfinite(white) and white > 0):
        raise ConfigError(f"white = {white!r}: must be a finite number > 0 or None")
    lum = x @ np.asarray(SRGB_LUMINANCE, dtype=np.float32)
    np.maximum(lum, np.float32(0), out=lum)
    step = max(1, int(math.sqrt(lum.size / 1e6)))
    sample = lum[::step, ::step]
    log_avg = float(np.exp(np.mean(np.log(1e-6 + sample.astype(np.float64)))))
    lm = lum * np.float32(key / log_avg)
    lw = float(lm.max()) if white is None else float(white)
    lw = max(lw, 1e-6)
    ld = lm * (np.float32(1) + lm / np.float32(lw * lw)) / (np.float32(1) + lm)
    scale = np.divide(ld, lum, out=np.zeros_like(lum), where=lum > 0)
    return srgb_encode_fast(x * scale[:, :, None])


def _hable(x):
    a, b, c, d, e, f = 0.15, 0.50, 0.10, 0.20, 0.02, 0.30
    return (x * (a * x + c * b) + d * e) / (x * (a * x + b) + d * f) - e / f


def tone_filmic(linear, *, exposure_bias: float = 2.0, white: float = 11.2) -> np.ndarray:
    """Hable's filmic curve per channel, normalised to map ``white`` to 1, then sRGB.

    Parameters
    ----------
    linear : array_like, shape (H, W, 3)
        Linear sRGB (1.0 = diffuse white), HDR allowed.
    exposure_bias : float > 0
        Scale applied before the curve (Hable uses 2).
    white : float > 0
        Linear white point W of the curve (Hable: 11.2).

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        ``srgb(f(bias·x)/f(W))`` with ``f(x) = (x(Ax + CB) + DE)/(x(Ax + B) + DF) − E/F``,
        A = 0.15, B = 0.50, C = 0.10, D = 0.20, E = 0.02, F = 0.30 (negative inputs → 0).

    References
    ----------
    J. Hable, "Uncharted 2: HDR lighting", Game Developers Conference 2010; "Filmic
    tonemapping operators", filmicworlds.com (2010).
    """
    x = _as_rgb(linear)
    for name, v in (("exposure_bias", exposure_bias), ("white", white)):
        if not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} = {v!r}: must be a finite number > 0")
    y = np.maximum(x, np.float32(0)) * np.float32(exposure_bias)
    out = _hable(y) / np.float32(_hable(np.float32(white)))
    return srgb_encode_fast(out.astype(np.float32, copy=False))


#: Name → tone function ``f(linear, **kwargs) -> display (H, W, 3) float32``.
TONE_CURVES: dict[str, Callable[..., np.ndarray]] = {
    "srgb": tone_srgb,
    "linear": tone_linear,
    "reinhard": tone_reinhard,
    "filmic": tone_filmic,
}


def tone_map(linear, curve: str = "srgb", **kwargs) -> np.ndarray:
    """Apply the named curve of :data:`TONE_CURVES` (unknown name → error listing them)."""
    fn = TONE_CURVES.get(curve) if isinstance(curve, str) else None
    if fn is None:
        raise unknown_name("tone curve", curve, TONE_CURVES)
    return fn(linear, **kwargs)


def unsharp_mask(display, *, amount: float = 0.5, sigma_px: float = 1.0,
                 threshold: float = 0.0) -> np.ndarray:
    """Unsharp masking of the luminance of a display-encoded RGB image.

    Parameters
    ----------
    display : array_like, shape (H, W, 3)
        Display values in [0, 1].
    amount : float in [0, 5]
        Gain k of the high-pass detail.
    sigma_px : float in (0, 10]
        σ [px] of the Gaussian blur that defines "detail".
    threshold : float in [0, 1)
        Details with |Y − G_σ ⊛ Y| ≤ threshold are left alone (keeps noise from being
        amplified in flat areas).

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        ``clip(I + k·D, 0, 1)`` with ``D = Y − G_σ ⊛ Y`` (Y = Rec. 709 weighted sum of the
        encoded channels), the same D added to R, G and B so that edges get no colour
        fringes.

    References
    ----------
    R. C. Gonzalez, R. E. Woods, *Digital Image Processing*, 4th ed., §3.6 (unsharp
    masking and highboost filtering).
    """
    x = _as_rgb(display)
    if not (math.isfinite(amount) and 0 <= amount <= 5):
        raise ConfigError(f"amount = {amount!r}: valid range is [0, 5]")
    if not (math.isfinite(sigma_px) and 0 < sigma_px <= 10):
        raise ConfigError(f"sigma_px = {sigma_px!r}: valid range is (0, 10]")
    if not (math.isfinite(threshold) and 0 <= threshold < 1):
        raise ConfigError(f"threshold = {threshold!r}: valid range is [0, 1)")
    y = cv2.transform(x, np.asarray([SRGB_LUMINANCE], dtype=np.float32))
    detail = y - cv2.GaussianBlur(y, (0, 0), sigmaX=sigma_px, borderType=cv2.BORDER_REFLECT_101)
    if threshold > 0:
        detail[np.abs(detail) <= np.float32(threshold)] = 0
    out = x + np.float32(amount) * detail[:, :, None]
    return np.clip(out, np.float32(0), np.float32(1), out=out)


__all__ = ["SRGB_LUMINANCE", "TONE_CURVES", "srgb_encode", "srgb_encode_fast", "tone_filmic",
           "tone_linear", "tone_map", "tone_reinhard", "tone_srgb", "unsharp_mask"]
