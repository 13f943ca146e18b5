"""HDR in the ISP: PWL decompanding, merge of HDR components into one linear raw mosaic
(with motion-artefact handling for staggered exposures), local tone mapping for display.

Inputs come from :func:`camtwin.sensor.hdr.hdr_expose` (an :class:`HdrRaw`): components k
(most sensitive first) with DN, gain K_k [DN/e⁻], black level, scale s_k (reference
electrons per own electron), saturation e_sat,k [e⁻], read noise σ_k [e⁻]. Every value
here is in *reference electrons* x [e⁻] (the long exposure / large photodiode / high-gain
read), i.e. linear in scene exposure.

Noise model of one component as an estimate x_k = s_k·e_k of x (shot + read +
quantisation; EMVA 1288 R4.0 §2, eq. 9 with σ_q² = 1/12 DN²):

    var(x_k | x) = s_k·x + s_k²·(σ_k² + 1/(12·K_k²))                             [e⁻²]

Components reading *the same charge* (one ``charge_group``: DCG, LOFIC, the two gains of
a large photodiode) share the shot term; only their read terms are independent.
Different groups (the exposures of DOL, the two photodiodes of a split pixel) are
independent.

Merge methods (:data:`HDR_MERGE_METHODS`):

* ``"selection"`` — the most sensitive component that is valid (below the switch
  threshold ``switch_fraction``·e_sat,k and not clipped), as the sensors do on chip.
* ``"noise_optimal"`` (default) — every valid component, weighted by the inverse of its
  noise variance (x̂: the selection estimate). Why: in the overlap each valid component is
  an unbiased estimate of the same x, and the inverse-variance weighted mean is the
  minimum-variance unbiased linear combination (Gauss–Markov); components above the
  switch threshold get weight 0, because near saturation they are biased (clipped)
  whatever their nominal variance. With charge groups this is done in two steps, which is
  the generalised-least-squares solution for the block covariance (common shot noise
  inside a group, independent groups):

      group g:   X_g = Σ_k x_k/r_k / Σ_k 1/r_k,   r_k = s_k²(σ_k² + 1/(12K_k²)),
                 var(X_g) = s_g·x + 1/Σ_k 1/r_k          (the shot term cannot be averaged)
      merged:    Σ_g X_g/var(X_g) / Σ_g 1/var(X_g),     var = 1/Σ_g 1/var(X_g).

  DOL / split pixel without dual gain: one component per group, w_k ∝ 1/var(x_k | x);
  DCG / LOFIC: one group, weights ∝ 1/r_k (only the read noise averages).

Selection bias. A component is left when its *own* value e_k reaches the threshold t_k,
so near t_k the pixels that fluctuated up are replaced by a less sensitive (unbiased)
component: E[merged] = x − σ_k·φ(z), z = (t_k − x)/σ_k (Gaussian approximation, σ_k the
standard deviation of x_k, φ the normal density) — at most 0.40·σ_k at the threshold and
negligible a few σ_k away. Deciding on the *less* sensitive component instead would bias
by its σ_{k+1}, which is larger, so the own value is the better decision variable.
The last component is weighted in only while it is not clipped (e < (1 + f)/2·e_sat).

Motion (DOL): where the selected exposure k (the most sensitive valid one) disagrees
with the next shorter one, |x_k − x_{k+1}| > k_σ·√(var(x_k | x_k⁺) + var(x_{k+1} | x_k⁺)),
a moving object (or flicker) is assumed; such pixels — dilated to whole CFA tiles so that
colours stay consistent — fall back to the shorter exposure x_{k+1} alone (valid wherever
the longer one is, with the least motion blur). False alarms per pixel: 2·Φ(−k_σ) for
Gaussian noise (2·10⁻⁹ for the default k_σ = 6); the Poisson tails of exposures with few
electrons make it larger (measured: ≈ 10⁻⁷, ``tests/test_hdr_modes.py``).

Local tone mapping (:data:`LOCAL_TONE_METHODS`): ``"Durand 2002"`` (bilateral base/detail
decomposition of log luminance) and ``"Mertens 2007"`` (exposure fusion of synthetic
exposures of the HDR image, OpenCV's implementation).

References
----------
EMVA Standard 1288 Release 4.0 (2021), §2 (linear noise model, quantisation noise) and
the definitions of dynamic range and absolute sensitivity threshold (SNR = 1).
D. X. D. Yang, A. El Gamal, "Comparative analysis of SNR for image sensors with enhanced
dynamic range", Proc. SPIE 3649 (1999): DR = largest non-saturating signal / dark noise,
and the SNR dips of multiple-exposure sensors.
N. Akahane, S. Sugawa et al., IEEE J. Solid-State Circuits 41(4), 851–858 (2006) (LOFIC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from ..errors import ConfigError, unknown_name
from ..sensor.hdr import HdrRaw, PwlSpec


# --------------------------------------------------------------------------------------
# PWL decompanding
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def decompand_table(pwl: PwlSpec, representative: str = "lower") -> np.ndarray:
    """Decompanding table indexed by output code 0 … y_last (read-only).

    ``"lower"`` (int64): the smallest linear code c with compand(c) = y,
    c = x_i + ⌈(y − y_i)·(x_{i+1} − x_i)/(y_{i+1} − y_i)⌉ on segment i — equal to x_i at
    every knee and to the inverse PWL line wherever Δx/Δy is an integer (power-of-two
    slopes, as in sensor knee tables). ``"centre"`` (float64): the middle of the range of
    linear codes that compand to y, (lower(y) + lower(y + 1) − 1)/2 (x_last for y_last):
    the unbiased reconstruction of a code uniformly distributed in its bin.
    """
    kx, ky = pwl.knee_inputs, pwl.knee_outputs
    y = np.arange(pwl.max_output + 1, dtype=np.int64)
    i = np.clip(np.searchsorted(ky, y, side="right") - 1, 0, len(ky) - 2)
    dx, dy = kx[i + 1] - kx[i], ky[i + 1] - ky[i]
    lower = kx[i] + (-((-(y - ky[i]) * dx) // dy))          # ceil division, exact integers
    if representative == "lower":
        out = lower
    elif representative == "centre":
        nxt = np.append(lower[1:], lower[-1] + 1)            # y_last: a bin of one code
        out = (lower + nxt - 1) / 2.0
    else:
        raise unknown_name("decompanding representative", representative, ("lower", "centre"))
    out.setflags(write=False)
    return out


def decompand(codes, pwl: PwlSpec, *, representative: str = "lower") -> np.ndarray:
    """PWL output codes → linear codes (exact inverse at every code; see
    :func:`decompand_table`).

    Parameters
    ----------
    codes : array_like of int
        Companded codes (values above the last knee's output are clipped to it).
    pwl : PwlSpec
    representative : {"lower", "centre"}

    Returns
    -------
    numpy.ndarray
        int64 (``"lower"``) or float64 (``"centre"``), same shape.

    Notes
    -----
    compand(decompand(y)) = y for every y in 0 … y_last, and decompand(y_i) = x_i at every
    knee (``"lower"``), bit-exact (integer arithmetic, ``tests/test_pwl.py``).
    """
    c = np.clip(np.asarray(codes, dtype=np.int64), 0, pwl.max_output)
    return decompand_table(pwl, representative)[c]


def pwl_to_linear_e(raw: HdrRaw, *, representative: str = "centre") -> np.ndarray:
    """The sensor's companded stream → linear HDR mosaic [reference e⁻], float32:
    x = (decompand(y) − black)/K_0."""
    if raw.pwl_dn is None:
        raise ConfigError(f"this HDR frame (mode {raw.hdr.mode!r}) has no PWL output; "
                          "give the hdr spec a 'pwl' block")
    lin = decompand(raw.pwl_dn, raw.hdr.pwl, representative=representative)
    return ((lin - raw.black_level_dn) / raw.reference_gain_dn_per_e).astype(np.float32)


# --------------------------------------------------------------------------------------
# noise model
# --------------------------------------------------------------------------------------
def read_variance_e2(component) -> float:
    """s_k²·(σ_k² + 1/(12 K_k²)) [reference e⁻²]: read + quantisation of one component."""
    c = component
    return c.scale**2 * (c.read_noise_e**2 + 1.0 / (12.0 * c.gain_dn_per_e**2))


def component_variance(x_e, component) -> np.ndarray:
    """var(x_k | x) = s_k·x⁺ + s_k²(σ_k² + 1/(12K_k²)) [reference e⁻²]."""
    x = np.maximum(np.asarray(x_e, dtype=np.float64), 0.0)
    return component.scale * x + read_variance_e2(component)


def _groups(components) -> dict[int, list[int]]:
    """charge group → indices of its components (in order)."""
    out: dict[int, list[int]] = {}
    for k, c in enumerate(components):
        out.setdefault(int(c.charge_group), []).append(k)
    return out


def switch_points_e(components, switch_fraction: float = 0.9) -> np.ndarray:
    """Signals x [reference e⁻] at which the merge leaves component k (k < n−1):
    t_k = ``switch_fraction``·s_k·e_sat,k — where the SNR dips. The last entry of the
    returned array is the saturation of the last component, s_n·e_sat,n."""
    t = [switch_fraction * c.scale * c.saturation_e for c in components[:-1]]
    last = components[-1]
    return np.array(t + [last.scale * last.saturation_e])


def valid_at(x_e, components, switch_fraction: float) -> list[np.ndarray]:
    """Which components a noise-free signal x [reference e⁻] leaves valid: x below
    ``switch_fraction``·s_k·e_sat,k (the last component is always valid)."""
    x = np.asarray(x_e, dtype=np.float64)
    out = [x < switch_fraction * c.scale * c.saturation_e for c in components[:-1]]
    return out + [np.ones_like(x, dtype=bool)]


def merged_variance(x_e, components, *, method: str = "noise_optimal",
                    switch_fraction: float = 0.9) -> np.ndarray:
    """Analytic variance [reference e⁻²] of the merged value at signal x (module
    docstring), for a signal that sits deterministically on one side of each threshold.

    ``"selection"``: var(x_k* | x), k* the first valid component. ``"noise_optimal"``:
    the charge-group formula of the module docstring over the valid components.
    """
    x = np.asarray(x_e, dtype=np.float64)
    valid = valid_at(x, components, switch_fraction)
    if method == "selection":
        out = np.full(x.shape, np.nan)
        for v, c in zip(valid[::-1], components[::-1]):
            out = np.where(v, component_variance(x, c), out)
        return out
    if method != "noise_optimal":
        raise unknown_name("HDR merge method", method, HDR_MERGE_METHODS)
    inv_total = np.zeros(x.shape)
    for idx in _groups(components).values():
        inv_read = sum(np.where(valid[k], 1.0 / read_variance_e2(components[k]), 0.0)
                       for k in idx)
        any_valid = inv_read > 0
        var_g = (components[idx[0]].scale * np.maximum(x, 0.0)
                 + 1.0 / np.where(any_valid, inv_read, 1.0))
        inv_total = inv_total + np.where(any_valid, 1.0 / var_g, 0.0)
    return 1.0 / inv_total


def analytic_snr_db(x_e, components, **kwargs) -> np.ndarray:
    """20·log10(x / √var(merged | x)) [dB] (dark current and fixed pattern neglected)."""
    x = np.asarray(x_e, dtype=np.float64)
    return 20.0 * np.log10(x / np.sqrt(merged_variance(x, components, **kwargs)))


def snr_dips(components, *, method: str = "noise_optimal",
             switch_fraction: float = 0.9) -> list[dict]:
    """Analytic SNR dips at every switch point t_k (:func:`switch_points_e`): the SNR just
    below and just above t_k [dB] and the dip depth = below − above [dB] (IEEE P2020 "SNR
    drop at HDR transitions"; noise model of the module docstring)."""
    out = []
    for t in switch_points_e(components, switch_fraction)[:-1]:
        lo, hi = np.nextafter(t, 0.0), np.nextafter(t, np.inf)
        below = float(analytic_snr_db(lo, components, method=method,
                                      switch_fraction=switch_fraction))
        above = float(analytic_snr_db(hi, components, method=method,
                                      switch_fraction=switch_fraction))
        out.append({"signal_e": float(t), "snr_below_db": below, "snr_above_db": above,
                    "depth_db": below - above})
    return out


def analytic_dynamic_range_db(components, *, method: str = "noise_optimal",
                              switch_fraction: float = 0.9,
                              criterion: str = "snr1") -> float:
    """Dynamic range of the merged HDR signal [dB] from the noise model.

    x_sat = s_n·e_sat,n (the last component's saturation, reference e⁻). The floor:

    * ``"snr1"`` — the signal with SNR = 1 (ISO 15739 / EMVA 1288 R4.0 absolute
      sensitivity threshold): var(x) = a·x + b near 0, so x_min = (a + √(a² + 4b))/2
      (EMVA 1288 writes it for a = 1 as 1/2 + √(1/4 + σ_d²)) — a, b of the merged
      variance at x → 0;
    * ``"noise_floor"`` — the temporal dark noise √var(merged | 0).

    DR = 20·log10(x_sat / floor).
    """
    x_sat = switch_points_e(components, switch_fraction)[-1]
    b = float(merged_variance(0.0, components, method=method, switch_fraction=switch_fraction))
    if criterion == "noise_floor":
        floor = math.sqrt(b)
    elif criterion == "snr1":
        a = float(merged_variance(1.0, components, method=method,
                                  switch_fraction=switch_fraction)) - b   # slope at 0
        floor = 0.5 * (a + math.sqrt(a * a + 4.0 * b))
    else:
        raise unknown_name("dynamic-range criterion", criterion, ("snr1", "noise_floor"))
    return 20.0 * math.log10(x_sat / floor)


# --------------------------------------------------------------------------------------
# merge
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class HdrMerge:
    """Result of :func:`merge_hdr`.

    Attributes
    ----------
    linear_e : float32 (H, W)
        Linear HDR mosaic [reference e⁻] (black removed; CFA as the sensor's).
    source : uint8 (H, W)
        Index of the selected component (``"selection"``) or of the one with the largest
        weight (``"noise_optimal"``).
    motion : bool (H, W) or None
        Pixels that fell back to one exposure because the exposures disagreed (DOL).
    method : str
    """

    linear_e: np.ndarray
    source: np.ndarray
    motion: np.ndarray | None
    method: str


def _decisions(xs, es, components, switch_fraction):
    """use_k for k < n−1: e_k below the switch threshold (module docstring)."""
    return [es[k] < np.float32(switch_fraction * c.saturation_e)
            for k, c in enumerate(components[:-1])]


def _select(xs, uses):
    out = xs[-1].copy()
    src = np.full(out.shape, len(xs) - 1, np.uint8)
    for k in range(len(uses) - 1, -1, -1):          # most sensitive last: it wins
        out = np.where(uses[k], xs[k], out)
        src[uses[k]] = k
    return out, src


def merge_selection(xs, es, components, switch_fraction):
    """Switch selection (module docstring) → (merged, source)."""
    return _select(xs, _decisions(xs, es, components, switch_fraction))


def merge_noise_optimal(xs, es, components, switch_fraction):
    """Inverse-variance weighting of the valid components (module docstring).

    Component k < n−1 is valid where its own e_k is below the switch threshold (the same
    decision as the selection); the last one where it is not clipped, or where nothing else
    is valid. The variances are evaluated at the selection estimate x̂ (≥ 0).
    """
    uses = _decisions(xs, es, components, switch_fraction)
    x_hat, sel = _select(xs, uses)
    x_hat = np.maximum(x_hat, np.float32(0))
    n = len(components)
    last = components[-1]
    oks = list(uses) + [(sel == n - 1) | (es[-1] < np.float32(0.5 * (1.0 + switch_fraction)
                                                             * last.saturation_e))]
    src = sel.copy()
    num = np.zeros(x_hat.shape, np.float32)
    den = np.zeros(x_hat.shape, np.float32)
    best = np.zeros(x_hat.shape, np.float32)
    for idx in _groups(components).values():
        g_num = np.zeros(x_hat.shape, np.float32)
        g_inv = np.zeros(x_hat.shape, np.float32)
        for k in idx:
            wr = np.where(oks[k], np.float32(1.0 / read_variance_e2(components[k])),
                          np.float32(0))
            g_num += wr * xs[k]
            g_inv += wr
        has = g_inv > 0
        safe_inv = np.where(has, g_inv, np.float32(1))
        x_g = g_num / safe_inv
        var_g = np.float32(components[idx[0]].scale) * x_hat + np.float32(1) / safe_inv
        w_g = np.where(has, np.float32(1) / var_g, np.float32(0))
        num += w_g * x_g
        den += w_g
        better = w_g > best                 # source: the component of the heaviest group
        if better.any():                    # its most sensitive valid member
            src[better] = _lead(oks, idx, better)
        best = np.maximum(best, w_g)
    return (num / den).astype(np.float32), src


def _lead(oks, idx, where):
    """Index of the first valid component of group ``idx`` at the pixels ``where``."""
    out = np.full(int(where.sum()), idx[-1], np.uint8)
    for k in reversed(idx):
        out = np.where(oks[k][where], np.uint8(k), out)
    return out


#: Name → merge function ``f(xs, es, components, switch_fraction) -> (merged, source)``.
HDR_MERGE_METHODS: dict[str, Callable] = {
    "selection": merge_selection,
    "noise_optimal": merge_noise_optimal,
}


def _dilate_to_tiles(mask: np.ndarray, cfa: str) -> np.ndarray:
    """Grow ``mask`` to whole CFA tiles (every pixel of a touched tile is set)."""
    from ._cfa import cfa_period

    ph, pw = cfa_period(cfa)
    h, w = mask.shape
    hh, ww = -(-h // ph) * ph, -(-w // pw) * pw
    m = np.zeros((hh, ww), bool)
    m[:h, :w] = mask
    tiles = m.reshape(hh // ph, ph, ww // pw, pw).any(axis=(1, 3))
    return np.repeat(np.repeat(tiles, ph, axis=0), pw, axis=1)[:h, :w]


def merge_hdr(raw: HdrRaw, *, method: str = "noise_optimal",
              switch_fraction: float | None = None,
              motion_k_sigma: float | None = 6.0,
              implementation: str = "numba") -> HdrMerge:
    """Merge the components of an HDR frame into one linear HDR raw mosaic.

    Parameters
    ----------
    raw : HdrRaw
        From :func:`camtwin.sensor.hdr.hdr_expose`.
    method : str
        Key of :data:`HDR_MERGE_METHODS` (``"noise_optimal"`` or ``"selection"``).
    switch_fraction : float, optional
        Fraction of each component's saturation above which it is not used, in (0, 1]
        (default: the sensor's ``hdr.switch_fraction``).
    motion_k_sigma : float or None
        DOL only: disagreement threshold k_σ (> 0) of the motion handling; None: off.
    implementation : {"numba", "numpy"}
        The fused kernel (:mod:`camtwin.isp._hdr_kernels`) or the NumPy reference
        (:data:`HDR_MERGE_METHODS`); they agree to float32 rounding.

    Returns
    -------
    HdrMerge
        ``linear_e`` [reference e⁻] float32 (H, W), CFA of the sensor.

    Raises
    ------
    ConfigError
        Unknown method (the message lists them), switch_fraction or k_σ out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from camtwin.sensor import SensorSpec
    >>> from camtwin.sensor.hdr import HdrSpec, hdr_expose
    >>> s = SensorSpec(width_px=64, height_px=48, pixel_pitch_um=3.0, full_well_e=10000,
    ...                conversion_gain_dn_per_e=0.3, read_noise_e=2.0)
    >>> raw = hdr_expose(np.full((48, 64), 5e6, np.float32), s,
    ...                  HdrSpec(mode="dol", dol={"exposure_ratios": [16]}), 0.01, key=1)
    >>> round(float(merge_hdr(raw).linear_e.mean()), -3)      # 5e6 e⁻/s × 10 ms
    50000.0
    """
    fn = HDR_MERGE_METHODS.get(method) if isinstance(method, str) else None
    if fn is None:
        raise unknown_name("HDR merge method", method, HDR_MERGE_METHODS)
    sf = raw.hdr.switch_fraction if switch_fraction is None else float(switch_fraction)
    if not (math.isfinite(sf) and 0 < sf <= 1):
        raise ConfigError(f"switch_fraction = {switch_fraction}: valid range 0 < f <= 1")
    if motion_k_sigma is not None and not (math.isfinite(motion_k_sigma) and motion_k_sigma > 0):
        raise ConfigError(f"motion_k_sigma = {motion_k_sigma}: must be > 0 (or None: off)")
    if implementation not in ("numba", "numpy"):
        raise unknown_name("merge implementation", implementation, ("numba", "numpy"))
    comps = raw.components
    if len(comps) == 1:
        x0 = comps[0].reference_e()
        return HdrMerge(linear_e=x0, source=np.zeros(x0.shape, np.uint8), motion=None,
                        method=method)
    detect = raw.hdr.mode == "dol" and motion_k_sigma is not None
    if implementation == "numpy":
        es = [c.electrons() for c in comps]
        xs = [e * np.float32(c.scale) for e, c in zip(es, comps)]
        merged, src = fn(xs, es, comps, sf)
        sel = _select(xs, _decisions(xs, es, comps, sf))[1]
        flag = _motion_flags(sel, xs, comps, float(motion_k_sigma)) if detect else None
    else:
        merged, src, sel, flag = _merge_numba(comps, method, sf,
                                              float(motion_k_sigma) if detect else 0.0)
    motion = None
    if detect:
        merged, src, motion = _motion_fallback(merged, src, sel, flag, comps, raw.cfa)
    return HdrMerge(linear_e=merged, source=src, motion=motion, method=method)


def _merge_numba(comps, method, sf, k_sigma):
    """:func:`camtwin.isp._hdr_kernels.merge_kernel` on the components →
    (merged, src, sel, motion flags)."""
    from ._hdr_kernels import merge_kernel

    groups = [int(c.charge_group) for c in comps]
    if any(g in groups[:i] and groups[i - 1] != g for i, g in enumerate(groups) if i):
        raise ConfigError(f"charge groups {groups} are not contiguous")
    f32 = np.float32
    dn = np.ascontiguousarray(np.stack([c.dn for c in comps]))
    h, w = dn.shape[1:]
    out = np.empty((h, w), f32)
    src = np.empty((h, w), np.uint8)
    sel = np.empty((h, w), np.uint8)
    flag = np.empty((h, w), np.uint8)
    merge_kernel(dn, np.array([c.black_level_dn for c in comps], f32),
                 np.array([1.0 / c.gain_dn_per_e for c in comps], f32),
                 np.array([c.scale for c in comps], f32),
                 np.array([sf * c.saturation_e for c in comps], f32),
                 np.array([0.5 * (1.0 + sf) * c.saturation_e for c in comps], f32),
                 np.array([read_variance_e2(c) for c in comps], f32),
                 np.array(groups, np.int64), method == "noise_optimal", f32(k_sigma), out,
                 src, sel, flag)
    return out, src, sel, flag


def _motion_flags(sel, xs, comps, k_sigma):
    """k + 1 where the selected exposure k disagrees with exposure k+1 beyond
    k_σ·√(var_k(x_k⁺) + var_{k+1}(x_k⁺)), else 0 (NumPy reference of the kernel's flags).

    Both variances at the more sensitive (less noisy) estimate x_k: with no motion it
    estimates the common x best; evaluating each at its own noisy value under-estimates σ
    where the short one fluctuated low (false alarms)."""
    flag = np.zeros(sel.shape, np.uint8)
    for k in range(len(comps) - 1):
        c0, c1 = comps[k], comps[k + 1]
        here = sel == k
        if c0.charge_group == c1.charge_group or not here.any():
            continue
        x0 = np.maximum(xs[k][here], np.float32(0))
        var = (np.float32(c0.scale + c1.scale) * x0
               + np.float32(read_variance_e2(c0) + read_variance_e2(c1)))
        d = xs[k][here] - xs[k + 1][here]
        flag[here] = np.where(d * d > np.float32(k_sigma * k_sigma) * var, k + 1, 0)
    return flag


def _motion_fallback(merged, src, sel, flag, comps, cfa):
    """Flagged pixels, dilated to whole CFA tiles, take exposure k+1 alone (never a more
    sensitive one than their own selection) → (merged, src, motion)."""
    motion = np.zeros(merged.shape, bool)
    if not flag.any():
        return merged, src, motion
    fallback = np.zeros(merged.shape, np.int16)
    for v in np.unique(flag[flag > 0]):
        grown = _dilate_to_tiles(flag == v, cfa)
        fallback[grown] = np.maximum(fallback[grown], v)
    motion = fallback > 0
    idx = np.maximum(fallback[motion], sel[motion].astype(np.int16))
    pick = np.empty(idx.shape, np.float32)
    for k, c in enumerate(comps):
        at = idx == k
        if at.any():
            dn = c.dn[motion][at].astype(np.float32)
            pick[at] = ((dn - np.float32(c.black_level_dn)) / np.float32(c.gain_dn_per_e)
                        * np.float32(c.scale))
    merged = merged.copy()
    src = src.copy()
    merged[motion] = pick
    src[motion] = idx.astype(np.uint8)
    return merged, src, motion


# --------------------------------------------------------------------------------------
# to RGB and local tone mapping
# --------------------------------------------------------------------------------------
def hdr_to_rgb(linear_e, cfa: str, *, demosaic_method: str = "bilinear",
               wb_gains=None, ccm=None) -> np.ndarray:
    """Linear HDR mosaic [e⁻] → linear RGB (H, W, 3) float32, normalised so that the
    largest value before white balance is 1 (relative scene-referred; no clipping).

    ``wb_gains``: per-channel gains (R, G, B); ``ccm``: 3×3 camera → linear sRGB.
    """
    from .demosaic import demosaic

    m = np.maximum(np.asarray(linear_e, dtype=np.float32), np.float32(0))
    peak = float(m.max()) or 1.0
    rgb = demosaic(m / np.float32(peak), cfa, demosaic_method)
    if wb_gains is not None:
        rgb = rgb * np.asarray(wb_gains, dtype=np.float32)[None, None, :]
    if ccm is not None:
        rgb = rgb @ np.asarray(ccm, dtype=np.float32).T
    return np.maximum(rgb, np.float32(0)).astype(np.float32, copy=False)


def _luminance(rgb: np.ndarray) -> np.ndarray:
    from .tone import SRGB_LUMINANCE

    return rgb @ np.asarray(SRGB_LUMINANCE, dtype=np.float32)


def tone_map_durand2002(rgb, *, base_contrast: float = 50.0, sigma_space_frac: float = 0.02,
                        sigma_range_log10: float = 0.4, detail_gain: float = 1.0,
                        max_work_px: int = 512) -> np.ndarray:
    """Bilateral base/detail local tone mapping (Durand & Dorsey 2002) → display sRGB.

    log L = B + D with the base B = bilateral(log10 L) (spatial σ_s =
    ``sigma_space_frac``·max(H, W), range σ_r = ``sigma_range_log10`` decades); the base
    is compressed to the contrast ``base_contrast`` (the 0.5–99.5 % range of B maps to
    log10 of it) and the detail kept (× ``detail_gain``):

        log10 L_out = c·(B − B_max) + g·D,   c = log10(base_contrast)/(B_99.5 − B_0.5),

    B_max = B's 99.5th percentile (→ display white); each pixel's RGB is scaled by
    L_out/L (hue kept), clipped to [0, 1] and sRGB-encoded (IEC 61966-2-1).

    Parameters
    ----------
    rgb : array_like (H, W, 3)
        Linear RGB, any positive scale.
    max_work_px : int
        The bilateral filter runs on log L downsampled so that its longer side is at most
        this (σ_s scaled alike); the base is upsampled bilinearly (halo width ≤ the
        downsampling factor in pixels).

    Returns
    -------
    float32 (H, W, 3), display values in [0, 1].

    References
    ----------
    F. Durand, J. Dorsey, "Fast bilateral filtering for the display of high-dynamic-range
    images", ACM Trans. Graphics 21(3) (SIGGRAPH 2002), 257–266, §§3, 6.
    """
    import cv2

    from .tone import srgb_encode_fast

    x = _rgb(rgb)
    for name, v in (("base_contrast", base_contrast), ("sigma_space_frac", sigma_space_frac),
                    ("sigma_range_log10", sigma_range_log10), ("detail_gain", detail_gain)):
        if not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} = {v!r}: must be a finite number > 0")
    if base_contrast <= 1:
        raise ConfigError(f"base_contrast = {base_contrast}: must be > 1")
    lum = _luminance(x)
    floor = max(float(lum.max()) * 1e-7, 1e-12)
    log_l = np.log10(np.maximum(lum, np.float32(floor))).astype(np.float32)
    h, w = log_l.shape
    f = max(1.0, max(h, w) / float(max_work_px))
    small = log_l if f == 1.0 else cv2.resize(log_l, (max(1, round(w / f)), max(1, round(h / f))),
                                               interpolation=cv2.INTER_AREA)
    sigma_s = max(1.0, sigma_space_frac * max(small.shape))
    base_s = cv2.bilateralFilter(small, d=int(2 * math.ceil(2 * sigma_s) + 1),
                                 sigmaColor=float(sigma_range_log10), sigmaSpace=float(sigma_s))
    base = base_s if f == 1.0 else cv2.resize(base_s, (w, h), interpolation=cv2.INTER_LINEAR)
    detail = log_l - base
    lo, hi = np.percentile(base, [0.5, 99.5])
    c = math.log10(base_contrast) / max(float(hi - lo), 1e-6)
    log_out = np.float32(c) * (base - np.float32(hi)) + np.float32(detail_gain) * detail
    ratio = np.power(np.float32(10), log_out) / np.maximum(lum, np.float32(floor))
    return srgb_encode_fast(np.clip(x * ratio[:, :, None], 0, 1).astype(np.float32))


def tone_map_mertens2007(rgb, *, stops_step: float = 2.0, max_exposures: int = 10,
                         contrast_weight: float = 1.0, saturation_weight: float = 0.0,
                         exposure_weight: float = 1.0) -> np.ndarray:
    """Exposure fusion of synthetic exposures of an HDR image (Mertens et al. 2007).

    Exposures E_j = srgb(clip(g_j·RGB, 0, 1)), g_j = 2^(j·``stops_step``)/P_99.9 for j = 0 …
    until the 1st-percentile luminance reaches middle grey (0.18) or ``max_exposures``;
    fused with per-pixel weights contrast^ω_c · saturation^ω_s · well-exposedness^ω_e over a
    Laplacian pyramid (``cv2.createMergeMertens``, which reads its inputs on a 0–255
    scale). Output divided by max(1, its 99.9th percentile) and clipped to [0, 1] (display
    values, sRGB-encoded like the exposures).
    ω_s defaults to 0 (the paper uses 1): the saturation measure (std of R, G, B) is 0 for
    neutral content in every exposure, and a product weight of 0 everywhere degenerates
    the fusion into a plain average of the exposures.

    References
    ----------
    T. Mertens, J. Kautz, F. Van Reeth, "Exposure fusion", Pacific Graphics 2007, 382–390.
    """
    import cv2

    from .tone import srgb_encode_fast

    x = _rgb(rgb)
    if not (math.isfinite(stops_step) and 0.25 <= stops_step <= 8):
        raise ConfigError(f"stops_step = {stops_step}: valid range 0.25..8")
    if not 2 <= int(max_exposures) <= 32:
        raise ConfigError(f"max_exposures = {max_exposures}: valid range 2..32")
    lum = _luminance(x)
    hi = max(float(np.percentile(lum, 99.9)), 1e-12)
    lo = max(float(np.percentile(lum, 1.0)), hi * 1e-7)
    n = int(np.clip(math.ceil(math.log2(0.18 * hi / lo) / stops_step) + 1, 2, max_exposures))
    stack = [255 * srgb_encode_fast(np.clip(x * np.float32(2.0 ** (j * stops_step) / hi), 0, 1)
                              .astype(np.float32)) for j in range(n)]
    fuse = cv2.createMergeMertens(float(contrast_weight), float(saturation_weight),
                                  float(exposure_weight))
    out = fuse.process(stack)
    # the pyramid blend overshoots 1 next to strong weight changes (≈ 20 % at a 80 dB
    # step): scale its 99.9th percentile back to 1 before clipping
    top = max(1.0, float(np.percentile(out, 99.9)))
    return np.clip(out / np.float32(top), 0, 1).astype(np.float32)


def _rgb(img) -> np.ndarray:
    x = np.ascontiguousarray(img, dtype=np.float32)
    if x.ndim != 3 or x.shape[2] != 3:
        raise ConfigError(f"image must have shape (H, W, 3), got {x.shape}")
    if not np.isfinite(x).all():
        raise ConfigError("image has NaN or infinite values")
    return np.maximum(x, np.float32(0))


def render_hdr(raw: HdrRaw, *, merge_method: str = "noise_optimal",
               tone: str = "Durand 2002", demosaic_method: str = "bilinear",
               wb_gains=None, **tone_kwargs) -> np.ndarray:
    """HdrRaw → display image: :func:`merge_hdr` → :func:`hdr_to_rgb` (white balance
    ``wb_gains`` or 1/``as_shot_neutral`` from the capture's metadata) →
    :func:`tone_map_local`. Returns float32 (H, W, 3) display values in [0, 1]."""
    merged = merge_hdr(raw, method=merge_method).linear_e
    if wb_gains is None and raw.metadata.get("as_shot_neutral") is not None:
        wb_gains = 1.0 / np.asarray(raw.metadata["as_shot_neutral"], dtype=np.float64)
    rgb = hdr_to_rgb(merged, raw.cfa, demosaic_method=demosaic_method, wb_gains=wb_gains)
    return tone_map_local(rgb, tone, **tone_kwargs)


#: Name → local tone operator ``f(linear_rgb, **kwargs) -> display (H, W, 3) in [0, 1]``.
LOCAL_TONE_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "Durand 2002": tone_map_durand2002,
    "Mertens 2007": tone_map_mertens2007,
}


def tone_map_local(rgb, method: str = "Durand 2002", **kwargs) -> np.ndarray:
    """Local tone mapping of linear HDR RGB with the named method of
    :data:`LOCAL_TONE_METHODS` (unknown name → error listing them)."""
    fn = LOCAL_TONE_METHODS.get(method) if isinstance(method, str) else None
    if fn is None:
        raise unknown_name("local tone mapping method", method, LOCAL_TONE_METHODS)
    return fn(rgb, **kwargs)


def process_hdr(raw, spec=None, *, ccm=None, lens=None, sensor=None, shading_gain=None,
                merge_method: str = "noise_optimal", tone: str = "Durand 2002"):
    """An HDR :class:`~camtwin.raw.RawFrame` → :class:`~camtwin.isp.RenderedImage`: the ISP
    path :func:`camtwin.isp.process` takes for a frame of an HDR mode.

    merge (:func:`merge_hdr` of ``raw.hdr``'s components, or the sensor's combined
    ``raw.hdr_electrons`` when the frame was read from a file without components) →
    demosaic → white balance → CCM (:func:`hdr_to_rgb`) → local tone mapping
    (:func:`tone_map_local`, ``tone``) → display sRGB.

    White balance per ``spec.white_balance``: ``"illuminant"`` 1/``raw.as_shot_neutral``
    (gray world on the merged mosaic when the frame has none, noted), ``"gray_world"`` /
    ``"white_patch"`` gray world (the mean of each CFA colour of the merged mosaic, G = 1),
    ``"none"`` unit gains. CCM per ``spec.ccm`` as in :func:`camtwin.isp.process`
    (``"fitted"`` needs ``ccm``). Mono frames: neither. Lens shading (``spec.lens_shading``
    = ``"lens"``, or ``shading_gain``) multiplies the merged mosaic by the same gain map
    as the single-exposure path (needs ``lens``/``sensor``). ``spec.exposure_gain``,
    ``tone``, ``sharpen`` and denoise of the single-exposure path do not apply (the local
    tone map sets the brightness).

    Returns
    -------
    RenderedImage
        ``linear``: scene-referred linear RGB normalised to the merged peak (= 1 before white
        balance), float32 (H, W, 3); ``srgb``: the tone-mapped display image in [0, 1].
    """
    from ..raw.cfa import cfa_layout
    from .pipeline import RenderedImage
    from .spec import IspSpec

    spec = IspSpec() if spec is None else spec
    notes = []
    if raw.hdr is not None:
        merged = merge_hdr(raw.hdr, method=merge_method).linear_e
        notes.append(f"HDR {raw.hdr.hdr.mode}: {len(raw.hdr.components)} components merged "
                     f"({merge_method}), local tone map {tone}")
    elif raw.hdr_electrons is not None:
        merged = raw.hdr_electrons
        notes.append(f"HDR: the sensor's combined value rendered (no components in the "
                     f"frame), local tone map {tone}")
    else:
        raise ConfigError("process_hdr needs an HDR frame (raw.hdr or raw.hdr_electrons)")
    stage = spec.to_pipeline().stage("lens_shading")
    if stage is not None or shading_gain is not None:
        from .pipeline import _shading_gain
        from .shading import apply_shading_gain

        g = _shading_gain(raw, stage, lens, sensor, shading_gain, notes)
        merged = apply_shading_gain(merged, g)
        notes.append("lens shading corrected on the merged mosaic")
    mono = raw.cfa == "mono"
    gains = np.ones(3)
    if not mono and spec.white_balance != "none":
        if spec.white_balance == "illuminant" and raw.as_shot_neutral is not None:
            gains = 1.0 / np.asarray(raw.as_shot_neutral, dtype=np.float64)
        else:
            lay = cfa_layout(raw.cfa)
            idx = raw.channel_index
            m = np.asarray(merged, dtype=np.float64)
            means = {c: float(m[idx == lay.channels.index(c)].mean())
                     for c in ("R", "G", "B") if c in lay.channels}
            if len(means) == 3 and all(v > 0 for v in means.values()):
                gains = np.array([means["G"] / means["R"], 1.0, means["G"] / means["B"]])
            if spec.white_balance == "illuminant":
                notes.append("white balance: the frame has no as-shot neutral; gray world "
                             "used")
    if mono or spec.ccm == "identity":
        matrix = None
    elif spec.ccm == "fitted":
        if ccm is None:
            raise ConfigError("spec.ccm = 'fitted' needs a matrix: process(raw, spec, ccm=M) "
                              "(camtwin.camera.render fits one)")
        matrix = np.asarray(ccm, dtype=np.float64)
    else:
        matrix = np.asarray(spec.ccm, dtype=np.float64)
    if ccm is not None and spec.ccm != "fitted":
        raise ConfigError(f"a ccm was given but spec.ccm = {spec.ccm!r}; valid: "
                          "spec.ccm = 'fitted' with ccm=M")
    rgb = hdr_to_rgb(merged, raw.cfa, demosaic_method=spec.demosaic if raw.cfa in (
        "RGGB", "GRBG", "GBRG", "BGGR", "mono") else "bilinear",
                     wb_gains=None if mono else gains, ccm=matrix)
    display = tone_map_local(rgb, tone)
    return RenderedImage(linear=rgb, srgb=display, wb_gains=gains,
                         ccm=np.eye(3) if matrix is None else matrix, exposure_gain=1.0,
                         notes=tuple(notes), spec=spec)
