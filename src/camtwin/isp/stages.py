"""ISP stages: pure array functions, float32 and vectorised.

Each stage takes arrays (or a :class:`~camtwin.raw.RawFrame`) and returns a new array; no
stage mutates its input. Images are float32 in "normalised raw" units until the CCM
(0 = black level, 1 = ADC white level) and in linear sRGB afterwards.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from ..raw import RawFrame
from ._cfa import cfa_period, cfa_phases, interpolate_sites, interpolation_radius, slot_index

#: Linear-segment threshold and slope of the sRGB encoding (IEC 61966-2-1:1999, §5.2).
SRGB_LINEAR_THRESHOLD = 0.0031308
SRGB_LINEAR_SLOPE = 12.92


def _as_mosaic(mosaic) -> np.ndarray:
    m = np.asarray(mosaic, dtype=np.float32)
    if m.ndim != 2:
        raise ConfigError(f"mosaic must be a 2-D array, got shape {m.shape}")
    return m


def _as_gains(gains) -> np.ndarray:
    g = np.asarray(gains, dtype=np.float64)
    if g.shape != (3,) or not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise ConfigError(f"white-balance gains = {np.asarray(gains).tolist()}: "
                          "need three finite values > 0 (R, G, B)")
    return g


def black_level(raw: RawFrame) -> np.ndarray:
    """Subtract the black level and normalise to the white level.

    Parameters
    ----------
    raw : RawFrame
        Raw capture; ``raw.dn`` is uint16 [DN] with the black level included.

    Returns
    -------
    ndarray of float32, shape (H, W)
        ``(dn − black_level_dn) / (white_level_dn − black_level_dn)`` (dimensionless):
        0 = black level, 1 = ADC white level.

    Notes
    -----
    Output range is ``[−black/(white−black), 1]``. Values below 0 come from read noise
    around the black level and are **kept**: the noise is symmetric about the true signal,
    so clipping at 0 would bias dark regions upwards (raising shadows, tinting them after
    white balance and biasing gray-world and patch means). Clipping happens once, at the
    output encoding.

    Examples
    --------
    >>> import numpy as np
    >>> from camtwin.raw import RawFrame
    >>> raw = RawFrame(np.array([[64, 1023], [543, 60]], np.uint16), "RGGB", 64, 1023,
    ...                exposure_s=0.01, conversion_gain_dn_per_e=0.5)
    >>> black_level(raw).astype(float).round(4).tolist()
    [[0.0, 1.0], [0.4995, -0.0042]]
    """
    out = raw.dn.astype(np.float32)
    out -= np.float32(raw.black_level_dn)
    out /= np.float32(raw.white_level_dn - raw.black_level_dn)
    return out


def wb_gains_from_neutral(neutral) -> np.ndarray:
    """White-balance gains from a camera neutral (DNG ``AsShotNeutral``).

    Parameters
    ----------
    neutral : array_like, shape (3,)
        Camera-native (R, G, B) response to the scene white, any positive scale.

    Returns
    -------
    ndarray of float64, shape (3,)
        Gains ``1 / neutral`` normalised so that the G gain is 1.

    Raises
    ------
    ConfigError
        If ``neutral`` is not three finite values > 0.

    References
    ----------
    Adobe, *Digital Negative (DNG) Specification* 1.6, tag AsShotNeutral (0xC628).

    Examples
    --------
    >>> wb_gains_from_neutral((0.5, 1.0, 0.8)).tolist()
    [2.0, 1.0, 1.25]
    """
    n = np.asarray(neutral, dtype=np.float64)
    if n.shape != (3,) or not np.all(np.isfinite(n)) or np.any(n <= 0):
        raise ConfigError(f"neutral = {np.asarray(neutral).tolist()}: "
                          "need three finite values > 0 (R, G, B)")
    gains = 1.0 / n
    return gains / gains[1]


def gray_world_gains(mosaic, cfa: str, *, saturation: float = 0.98) -> np.ndarray:
    """Gray-world white-balance gains from a normalised mosaic.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Black-level-subtracted mosaic normalised to the white level (see
        :func:`black_level`).
    cfa : str
        CFA layout (any name of :data:`camtwin.raw.CFA_LAYOUTS`). For RCCB the middle
        slot is the clear channel; RGB-IR's IR pixels are ignored.
    saturation : float
        Pixels at or above this normalised level (and NaN pixels) are excluded: clipped
        highlights carry no colour information.

    Returns
    -------
    ndarray of float64, shape (3,)
        ``mean_G / mean_c`` for c = R, G, B (so the G gain is 1; RCCB: C in G's place).
        All ones for ``"mono"``.

    Raises
    ------
    ConfigError
        If a colour has no unsaturated pixels or a mean that is not positive (e.g. a
        black frame), so no gain can be derived.

    References
    ----------
    G. Buchsbaum, "A spatial processor model for object colour perception", J. Franklin
    Inst. 310(1), 1–26 (1980).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.tile(np.array([[0.2, 0.4], [0.4, 0.3]], np.float32), (2, 2))
    >>> gray_world_gains(m, "RGGB").round(4).tolist()
    [2.0, 1.0, 1.3333]
    """
    m = _as_mosaic(mosaic)
    if cfa == "mono":
        cfa_phases(cfa)  # validates the name
        return np.ones(3)
    sums = np.zeros(3)
    counts = np.zeros(3)
    ph, pw = cfa_period(cfa)
    for r, c, ch in cfa_phases(cfa):
        view = m[r::ph, c::pw]
        ok = view < np.float32(saturation)
        sums[ch] += np.sum(view, where=ok, dtype=np.float64)
        counts[ch] += np.count_nonzero(ok)
    return gray_world_from_sums(sums, counts)


def gray_world_from_sums(sums, counts) -> np.ndarray:
    """Gray-world gains ``mean_G / mean_c`` from per-colour sums and counts of the
    unsaturated samples (the last step of :func:`gray_world_gains`; sums over row strips
    add up, :mod:`camtwin.isp.strips`)."""
    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if np.any(counts == 0):
        raise ConfigError("gray_world_gains: a colour channel has no unsaturated pixels")
    means = sums / counts
    if np.any(means <= 0):
        raise ConfigError(f"gray_world_gains: channel means {means.round(6).tolist()} are not "
                          "all positive (black or empty frame?)")
    return means[1] / means


def white_patch_gains(mosaic, cfa: str, *, percentile: float = 99.0,
                      saturation: float = 0.98) -> np.ndarray:
    """White-patch (max-RGB) white-balance gains from a normalised mosaic.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Black-level-subtracted mosaic normalised to the white level.
    cfa : str
        CFA layout (RCCB: C in G's place; RGB-IR's IR pixels are ignored).
    percentile : float in (50, 100]
        Percentile [%] of each colour's unsaturated samples taken as that colour's response
        to white — a robust stand-in for the maximum (single hot pixels and noise do not
        decide it).
    saturation : float
        Samples at or above this level (and NaN) are excluded: a clipped channel no longer
        measures the illuminant.

    Returns
    -------
    ndarray of float64, shape (3,)
        ``p_G / p_c`` for c = R, G, B (G gain 1); all ones for ``"mono"``.

    Raises
    ------
    ConfigError
        If a colour has no unsaturated samples or a non-positive percentile.

    References
    ----------
    E. H. Land, J. J. McCann, "Lightness and retinex theory", J. Opt. Soc. Am. 61(1), 1–11
    (1971) — the brightest surface is taken as white; B. Funt, L. Shi, "The rehabilitation
    of MaxRGB", Color and Imaging Conference 2010 — percentile instead of the maximum.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.tile(np.array([[0.2, 0.4], [0.4, 0.3]], np.float32), (4, 4))
    >>> white_patch_gains(m, "RGGB").round(4).tolist()
    [2.0, 1.0, 1.3333]
    """
    m = _as_mosaic(mosaic)
    if not (np.isfinite(percentile) and 50 < percentile <= 100):
        raise ConfigError(f"percentile = {percentile!r}: valid range is (50, 100]")
    if cfa == "mono":
        cfa_phases(cfa)
        return np.ones(3)
    ph, pw = cfa_period(cfa)
    step = white_patch_step(m.shape)
    values: list[list[np.ndarray]] = [[], [], []]
    for r, c, ch in cfa_phases(cfa):
        view = m[r::ph * step, c::pw * step].ravel()
        values[ch].append(view[view < np.float32(saturation)])
    return white_patch_from_samples(values, percentile)


def white_patch_step(shape) -> int:
    """Subsampling step k of :func:`white_patch_gains`: every k-th tile in each direction
    (≥ ~1 M samples per colour is plenty)."""
    return max(1, int(np.sqrt(shape[0] * shape[1] / 4e6)))


def white_patch_from_samples(values, percentile: float) -> np.ndarray:
    """White-patch gains ``p_G / p_c`` from the unsaturated samples of each colour
    (``values[c]``: list of 1-D arrays; the last step of :func:`white_patch_gains`)."""
    p = np.empty(3)
    for ch in range(3):
        v = np.concatenate(values[ch]) if len(values[ch]) else np.empty(0, np.float32)
        if v.size == 0:
            raise ConfigError("white_patch_gains: a colour channel has no unsaturated pixels")
        p[ch] = np.percentile(v, percentile)
    if np.any(p <= 0):
        raise ConfigError(f"white_patch_gains: channel percentiles {p.round(6).tolist()} are "
                          "not all positive (black frame?)")
    return p[1] / p


def apply_white_balance(mosaic, cfa: str, gains) -> np.ndarray:
    """Multiply every CFA site by the gain of its colour.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Normalised mosaic (dimensionless).
    cfa : str
        CFA layout; for ``"mono"`` the mosaic is returned unchanged (as a float32 copy).
        RCCB's C sites take the middle gain; RGB-IR's IR sites are left unchanged.
    gains : array_like, shape (3,)
        (R, G, B) gains, finite and > 0.

    Returns
    -------
    ndarray of float32, shape (H, W)
        White-balanced mosaic. Not clipped: a channel with gain > 1 can exceed 1 (see
        :func:`clip_highlights`).
    """
    m = _as_mosaic(mosaic)
    g = _as_gains(gains).astype(np.float32)
    out = m.copy()
    if cfa == "mono":
        cfa_phases(cfa)
        return out
    ph, pw = cfa_period(cfa)
    for r, c, ch in cfa_phases(cfa):
        out[r::ph, c::pw] *= g[ch]
    return out


def subtract_ir(mosaic, cfa: str, leakage) -> np.ndarray:
    """Remove the NIR signal from the R, G, B pixels of an RGB-IR mosaic.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Normalised mosaic after :func:`black_level` (dimensionless).
    cfa : str
        A layout with IR pixels (``"RGBIR"``).
    leakage : array_like, shape (3,)
        NIR leakage (k_R, k_G, k_B): a colour pixel sees k_c × the IR pixel's signal from
        NIR light (:func:`camtwin.sensor.characterize.ir_leakage`, from the filter spectra).

    Returns
    -------
    ndarray of float32, shape (H, W)
        ``c − k_c · IR(x)`` at colour pixels, IR(x) interpolated from the IR pixels by
        normalised convolution (radius 1: in the 4×4 RGB-IR tile every colour pixel has an
        IR pixel among its 8 neighbours); IR pixels unchanged. Not clipped (noise and an
        imperfect k can make dark pixels negative, as after the black level).

    Notes
    -----
    The IR pixel is assumed to see only NIR. Its filter's small visible leak (≈1 %) is
    subtracted along with it; :func:`camtwin.sensor.characterize.camera_characterization`
    describes the IR-corrected channels so white balance and colour matrices stay
    consistent. Clipped colour pixels (bright NIR highlights) cannot be corrected.

    References
    ----------
    Y. Monno, H. Teranaka, K. Yoshizaki, M. Tanaka, M. Okutomi, "Single-sensor RGB-NIR
    imaging: high-quality system design and prototype implementation", IEEE Sensors J.
    19(2), 497–507 (2019) — colour correction by subtracting the NIR estimate.
    """
    m = _as_mosaic(mosaic)
    k = np.asarray(leakage, dtype=np.float64)
    if k.shape != (3,) or not np.all(np.isfinite(k)):
        raise ConfigError(f"IR leakage = {np.asarray(leakage).tolist()}: need three finite "
                          "values (R, G, B)")
    slots = slot_index(cfa, m.shape)
    is_ir = slots == 255
    if not np.any(is_ir):
        raise ConfigError(f"cfa = {cfa!r} has no IR pixels to subtract")
    ir = interpolate_sites(m, is_ir, interpolation_radius(cfa, 255))
    lut = np.append(k, 0.0).astype(np.float32)  # slot 255 (IR) → index 3 → 0
    per_pixel = lut[np.minimum(slots, 3)]
    return m - per_pixel * ir


def clear_to_green(rgb, weights) -> np.ndarray:
    """Estimate green from the clear channel of a white-balanced, demosaiced RCCB image.

    Parameters
    ----------
    rgb : array_like, shape (H, W, 3)
        (R, C, B) after white balance (white = 1 in every channel) and demosaic.
    weights : array_like, shape (3,)
        (w_R, w_G, w_B), summing to 1: the white-balanced clear channel is modelled as
        ``C = w_R R + w_G G + w_B B`` (:func:`camtwin.sensor.characterize.clear_to_green_weights`).

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        (R, G, B) with ``G = (C − w_R R − w_B B) / w_G``; R and B unchanged. A neutral
        (R = C = B) stays neutral.

    Notes
    -----
    The approximation: the clear pixel's spectral response is a linear combination of the
    R, G, B pigment responses over the visible (exact only if the three pigments tile the
    spectrum). It is demosaiced like green (it sits in green's Bayer positions), then
    converted. The subtraction amplifies the noise of G by roughly ``1/w_G`` (≈2–3): the
    known SNR cost of RCCB colour. A fitted CCM absorbs any residual linear error.
    """
    img = np.asarray(rgb, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ConfigError(f"rgb must have shape (H, W, 3), got {img.shape}")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (3,) or not np.all(np.isfinite(w)) or not w[1] > 0:
        raise ConfigError(f"clear-to-green weights = {np.asarray(weights).tolist()}: need "
                          "three finite values with w_G > 0")
    out = img.copy()
    g = img[:, :, 1] - np.float32(w[0]) * img[:, :, 0] - np.float32(w[2]) * img[:, :, 2]
    out[:, :, 1] = g / np.float32(w[1])
    return out


def clip_highlights(mosaic, gains) -> np.ndarray:
    """Clip a white-balanced mosaic at the level every channel can still reach.

    After white balance, channel c saturates at ``gains[c]`` (normalised raw white × gain).
    Above ``min(gains)`` at least one channel is clipped, so the colour is unknown; clipping
    all channels there keeps saturated highlights neutral instead of pink or cyan.

    Reflective surfaces are never brighter than the scene white in any camera channel, and
    the white itself reaches ``min(gains)`` exactly when its most sensitive channel hits
    the ADC white; so the clip only touches pixels at or beyond the exposure where a white
    surface would clip (speculars, light sources), never a correctly exposed chart.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        White-balanced mosaic (dimensionless).
    gains : array_like, shape (3,)
        The gains that were applied.

    Returns
    -------
    ndarray of float32, shape (H, W)
        ``minimum(mosaic, min(gains))``; negative values are kept.

    References
    ----------
    D. Coffin, *dcraw.c*, ``scale_colors()`` with the default ``-H 0`` (clip) highlight mode.
    """
    m = _as_mosaic(mosaic)
    g = _as_gains(gains)
    return np.minimum(m, np.float32(g.min()))


def apply_ccm(rgb, ccm) -> np.ndarray:
    """Apply a 3×3 colour-correction matrix to every pixel: ``rgb @ ccm.T``.

    Parameters
    ----------
    rgb : array_like, shape (H, W, 3)
        Linear camera RGB (white balanced), float32 (other dtypes are converted).
    ccm : array_like, shape (3, 3)
        Matrix M with ``out_pixel = M @ in_pixel`` (rows → output channels).

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        Linear output RGB. Computed in float32 as one matrix product (no float64 copy of
        the image).
    """
    img = np.asarray(rgb, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ConfigError(f"rgb must have shape (H, W, 3), got {img.shape}")
    m = np.asarray(ccm, dtype=np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ConfigError(f"ccm must be a finite 3×3 matrix, got shape {m.shape}")
    flat = img.reshape(-1, 3)
    return (flat @ m.T.astype(np.float32)).reshape(img.shape)


def srgb_encode(linear) -> np.ndarray:
    """sRGB opto-electronic encoding (IEC 61966-2-1), after clipping to [0, 1].

    Parameters
    ----------
    linear : array_like
        Linear sRGB values (1.0 = white). Values outside [0, 1] are clipped first.

    Returns
    -------
    ndarray of float32, same shape
        Encoded values V' in [0, 1]: ``12.92·L`` for ``L ≤ 0.0031308``, else
        ``1.055·L^(1/2.4) − 0.055``. NaN stays NaN.

    References
    ----------
    IEC 61966-2-1:1999, *Default RGB colour space — sRGB*, §5.2 eq. (5).

    Examples
    --------
    >>> round(float(srgb_encode(0.5)), 6)
    0.735357
    """
    arr = np.asarray(linear, dtype=np.float32)
    # explicit out= arrays keep 0-d inputs as arrays, so the in-place steps work for them too
    x = np.clip(arr, np.float32(0), np.float32(1), out=np.empty(arr.shape, np.float32))
    out = np.power(x, np.float32(1 / 2.4), out=np.empty_like(x))
    # 1.055·p − 0.055 written as p + 0.055·(p − 1): same value, but exactly 1 at p = 1
    t = np.subtract(out, np.float32(1), out=np.empty_like(out))
    t *= np.float32(0.055)
    out += t
    np.multiply(x, np.float32(SRGB_LINEAR_SLOPE), out=out,
                where=x <= np.float32(SRGB_LINEAR_THRESHOLD))
    return out


def to_uint(img01, bits: int) -> np.ndarray:
    """Quantise a [0, 1] image to unsigned integers with rounding.

    Parameters
    ----------
    img01 : array_like
        Values nominally in [0, 1]; clipped to that range, NaN maps to 0.
    bits : {8, 16}
        Output depth.

    Returns
    -------
    ndarray of uint8 or uint16
        ``round(clip(img01, 0, 1) · (2**bits − 1))`` (round half to even).

    Examples
    --------
    >>> to_uint([0.0, 0.5, 1.0], 8).tolist()
    [0, 128, 255]
    """
    if bits not in (8, 16):
        raise ConfigError(f"bits = {bits!r}: must be 8 or 16")
    dtype = np.uint8 if bits == 8 else np.uint16
    arr = np.asarray(img01, dtype=np.float32)
    x = np.clip(arr, np.float32(0), np.float32(1), out=np.empty(arr.shape, np.float32))
    np.copyto(x, np.float32(0), where=np.isnan(x))
    np.multiply(x, np.float32(2**bits - 1), out=x)
    np.rint(x, out=x)
    return x.astype(dtype)
