"""Exposure bracketing and HDR merge in the raw domain.

Bracket
-------
n exposures t_i = t_max / r^i (i = 0 … n−1), ratio r > 1 between neighbours: the total
extension of the dynamic range is t_max/t_min = r^(n−1).

Merge (per raw pixel, static scene)
-----------------------------------
Each unclipped frame gives an estimate of the photo-electron rate φ [e⁻/s]:

    y_i = (DN_i − black)/K,   φ_i = y_i / t_i,   Var(φ_i) = (φ·t_i + σ₀²)/t_i²

(shot noise plus the signal-independent variance σ₀² of the read chain, EMVA 1288 eq. 9).
The minimum-variance unbiased combination weights each valid frame by its inverse
variance,

    φ̂ = Σ_i w_i φ_i / Σ_i w_i,   w_i = t_i² / (φ̃·t_i + σ₀²),

with φ̃ a pilot estimate from the longest valid exposure (weights computed from the same
noisy φ_i would bias the mean; Granados et al., CVPR 2010, "Optimal HDR reconstruction
with linear digital cameras", §3). A frame is *invalid* at a pixel where it is clipped:
DN ≥ white − 1 or y_i ≥ 0.95·full well (non-linearity and blooming start before the ADC
clips), and the 8 neighbours of such a pixel (blooming spills excess charge into them). Where every frame is clipped the output is the shortest frame's value (a lower
bound; the HDR saturation). The result is reported as electrons in the longest exposure,
x̂ = φ̂·t_max, so its dark noise is ≈ σ₀·t_max/√Σt_i² and its saturation is
≈ sat·t_max/t_min: the dynamic range grows by 20·log10(t_max/t_min) dB (+ the small
averaging gain of the first factor).

Tone mapping: the merged raw is handed to the module's ISP with the tone curve set to a
global HDR operator (``reinhard`` by default, Reinhard et al. 2002; or ``filmic``, Hable
2010) from :mod:`camtwin.isp.tone`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from .merge import noise_model_dn

#: Fraction of full well above which a pixel counts as clipped.
CLIP_FULL_WELL_FRACTION = 0.95


def bracket_exposures(longest_s: float, ratio: float, n: int = 3) -> list[float]:
    """[t_max, t_max/r, …, t_max/r^(n−1)] [s]; ConfigError for r ≤ 1, n < 2, t ≤ 0."""
    if not (math.isfinite(ratio) and ratio > 1):
        raise ConfigError(f"exposure ratio = {ratio}: must be > 1")
    if int(n) != n or n < 2:
        raise ConfigError(f"bracket of {n} exposures: need an integer >= 2")
    if not (math.isfinite(longest_s) and longest_s > 0):
        raise ConfigError(f"longest exposure = {longest_s} s: must be > 0")
    return [longest_s / ratio**i for i in range(int(n))]


def capture_bracket(sensor, oi, exposures_s, rng) -> list:
    """One raw frame per exposure of a static scene (same optical image)."""
    from ..sensor import capture

    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return [capture(oi, sensor, float(t), gen) for t in exposures_s]


@dataclass(frozen=True, eq=False)
class HdrResult:
    """``electrons`` float32 (H, W): φ̂·t_max [e⁻ in the longest exposure];
    ``valid_frames`` uint8 (H, W): frames used per pixel (0: all clipped);
    ``exposures_s``; ``saturation_e``: the largest value the merge can output [e⁻];
    ``frame``: the longest frame (metadata donor)."""

    electrons: np.ndarray
    valid_frames: np.ndarray
    exposures_s: tuple
    saturation_e: float
    frame: object

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    @property
    def exposure_ratio(self) -> float:
        return max(self.exposures_s) / min(self.exposures_s)

    def to_raw(self):
        """A 16-bit RawFrame of the merge for the ISP (black 0, white 65535, K chosen so the
        HDR saturation maps to 65535)."""
        f = self.frame
        k = 65535.0 / max(self.saturation_e, 1e-9)
        dn = np.clip(np.rint(self.electrons * k), 0, 65535).astype(np.uint16)
        return f.with_(dn=dn, black_level_dn=0.0, white_level_dn=65535,
                       conversion_gain_dn_per_e=k, mean_electrons=None,
                       metadata={**f.metadata, "hdr_exposures_s": list(self.exposures_s)})


def merge_hdr(frames, *, noise_model: tuple[float, float] | None = None) -> HdrResult:
    """Merge an exposure bracket of a static scene (module docstring).

    Parameters
    ----------
    frames : sequence of RawFrame
        ≥ 2 frames, same size, CFA and gain, exposures not all equal.
    noise_model : (a, b), optional
        σ² [DN²] = a·x + b; default from the SensorSpec (:func:`noise_model_dn`).

    Raises
    ------
    ConfigError
        Fewer than 2 frames, mismatched sizes/gain, or max/min exposure ratio ≤ 1.
    """
    import cv2

    if len(frames) < 2:
        raise ConfigError(f"an HDR bracket needs at least 2 frames, got {len(frames)}")
    f0 = frames[0]
    for z, f in enumerate(frames[1:], start=1):
        if f.shape != f0.shape:
            raise ConfigError(f"frame {z} is {f.shape[1]}×{f.shape[0]} px but frame 0 is "
                              f"{f0.shape[1]}×{f0.shape[0]} px: all bracket frames must match")
        if f.conversion_gain_dn_per_e != f0.conversion_gain_dn_per_e or f.cfa != f0.cfa:
            raise ConfigError(f"frame {z} differs from frame 0 in gain or CFA")
    t = np.array([f.exposure_s for f in frames], dtype=np.float64)
    if not t.max() / t.min() > 1.0 + 1e-9:
        raise ConfigError(f"exposure ratio = {t.max() / t.min():g}: a bracket needs "
                          "exposures that differ (ratio > 1)")
    k = f0.conversion_gain_dn_per_e
    if noise_model is None:
        noise_model = noise_model_dn(f0.sensor) if f0.sensor is not None else (k, 1.0 / 12)
    sigma0_e2 = noise_model[1] / (k * k)
    order = np.argsort(-t)  # longest first
    fw = (f0.sensor.effective_full_well_e if f0.sensor is not None else np.inf)
    ys, valid = [], []
    for i in order:
        f = frames[i]
        y = (f.dn.astype(np.float32) - np.float32(f.black_level_dn)) / np.float32(k)
        ys.append(y)
        clipped = (f.dn >= f.white_level_dn - 1) | (y >= CLIP_FULL_WELL_FRACTION * fw)
        # blooming spills the excess charge of a full pixel into its neighbours
        clipped = cv2.dilate(clipped.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        valid.append(~clipped)
    ts = t[order]
    # pilot: rate from the longest valid frame
    pilot = np.full(f0.shape, np.nan, dtype=np.float32)
    for y, v, ti in zip(ys, valid, ts):
        take = v & np.isnan(pilot)
        pilot[take] = y[take] / np.float32(ti)
    pilot = np.maximum(np.nan_to_num(pilot, nan=0.0), 0.0)
    num = np.zeros(f0.shape, dtype=np.float64)
    den = np.zeros(f0.shape, dtype=np.float64)
    count = np.zeros(f0.shape, dtype=np.uint8)
    for y, v, ti in zip(ys, valid, ts):
        w = ti * ti / (pilot * ti + sigma0_e2)
        num += np.where(v, w * y / ti, 0.0)
        den += np.where(v, w, 0.0)
        count += v
    t_max, t_min = float(ts[0]), float(ts[-1])
    rate = np.where(den > 0, num / np.maximum(den, 1e-30), ys[-1] / t_min)
    electrons = (rate * t_max).astype(np.float32)
    usable_e = min(fw, (f0.white_level_dn - f0.black_level_dn) / k)
    return HdrResult(electrons=electrons, valid_frames=count,
                     exposures_s=tuple(float(v) for v in t), saturation_e=usable_e * t_max / t_min,
                     frame=frames[int(order[0])])


def render_hdr(module, result: HdrResult, *, tone: str = "reinhard"):
    """Render the merge with the module's ISP and a global HDR tone curve
    (:data:`camtwin.isp.TONE_CURVES`: ``reinhard`` or ``filmic``)."""
    from ..camera import render
    from ..isp import TONE_CURVES
    from ..errors import unknown_name

    if tone not in TONE_CURVES:
        raise unknown_name("tone curve", tone, TONE_CURVES)
    return render(module.replace(isp={"tone": tone}), result.to_raw())


def dynamic_range_db(module, exposures_s, rng, *, illuminant: str = "D65") -> dict:
    """Measured dynamic range of one frame (the longest exposure) and of the HDR merge of
    the bracket, EMVA 1288 style: DR = 20·log10(μ_sat/σ_d) on the green samples of a
    uniform target's centre, μ_sat the mean output of a target driven 4× beyond the
    shortest frame's saturation [e⁻], σ_d = std(A − B)/√2 of two dark captures [e⁻].

    Returns ``{"single_db", "hdr_db", "gain_db", "expected_gain_db"}`` with
    expected = 20·log10(t_max/t_min) (EMVA 1288 R4.0 §8.7 for the definition).
    """
    from ..camera import module_scene
    from ..optics import form_image
    from ..sensor import capture
    from .quality import _signal_mask

    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    s = module.sensor
    t = sorted((float(v) for v in exposures_s), reverse=True)
    if len(t) < 2 or not t[0] / t[-1] > 1:
        raise ConfigError("dynamic_range_db needs >= 2 exposures with ratio > 1")
    oi1 = form_image(module_scene(module, "uniform", illuminant=illuminant,
                                  illuminance_lux=1.0, reflectance=0.9), module.lens)
    h, w = s.height_px, s.width_px
    box = (h // 4, 3 * h // 4, w // 4, 3 * w // 4)
    dark = oi1.scaled_to_illuminance(1e-12)
    probe = capture(oi1, s, t[-1], gen)
    m = _signal_mask(probe)[box[0]:box[1], box[2]:box[3]]
    rate_per_lux = max(float(np.mean(probe.mean_electrons[box[0]:box[1], box[2]:box[3]][m]))
                       / t[-1], 1e-12)
    usable = min(s.effective_full_well_e,
                 (s.white_level_dn - s.black_level_dn) / s.system_gain_dn_per_e)
    bright = oi1.scaled_to_illuminance(4.0 * usable / (rate_per_lux * t[-1]))

    def green(img):
        return np.asarray(img, dtype=np.float64)[box[0]:box[1], box[2]:box[3]][m]

    k = s.system_gain_dn_per_e
    # single frame (longest exposure)
    a, b = (capture(dark, s, t[0], gen) for _ in range(2))
    sd1 = float(np.std(green(a.dn) - green(b.dn), ddof=1) / math.sqrt(2) / k)
    sat = capture(bright, s, t[0], gen)
    mu1 = float(np.mean(green(sat.dn) - sat.black_level_dn) / k)
    # HDR merge of the bracket
    da = merge_hdr(capture_bracket(s, dark, t, gen)).electrons
    db = merge_hdr(capture_bracket(s, dark, t, gen)).electrons
    sdh = float(np.std(green(da) - green(db), ddof=1) / math.sqrt(2))
    muh = float(np.mean(green(merge_hdr(capture_bracket(s, bright, t, gen)).electrons)))
    single, hdr = 20 * math.log10(mu1 / sd1), 20 * math.log10(muh / sdh)
    return {"single_db": single, "hdr_db": hdr, "gain_db": hdr - single,
            "expected_gain_db": 20 * math.log10(t[0] / t[-1]),
            "single_dark_noise_e": sd1, "hdr_dark_noise_e": sdh,
            "single_saturation_e": mu1, "hdr_saturation_e": muh}
