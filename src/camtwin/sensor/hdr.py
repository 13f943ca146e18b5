"""HDR sensor modes: staggered (DOL) exposures, split pixel, LOFIC, dual conversion gain in
one frame, on-sensor combination and piecewise-linear (PWL) companding.

Every mode turns one scene (an electron-rate mosaic ė [e⁻/s], CFA, QE and optics already
applied; :func:`camtwin.sensor.capture.electron_rate`) into several *components* — raw DN
frames of the same pixels read with different exposure, photodiode or gain — each drawn
with the per-pixel chain of :mod:`camtwin.sensor.pixels` (PRNU, dark map, shot noise,
full well, read/row noise, FPN, gain, black, quantisation) and its own frame key. A
component that differs in full well, read noise or conversion gain is read with a derived
:class:`~camtwin.sensor.spec.SensorSpec` (``model_copy(update=...)``).

Implementation: every independent charge (*group*: a DOL exposure, a photodiode, the very
short capture) and each of its reads are drawn in one parallel pass over the rows by
:func:`camtwin.sensor._hdr_kernels.hdr_chain` — the same equations, the same
counter-based noise streams as :func:`~camtwin.sensor.pixels.simulate_pixels` (so the same
DN, except that rows whose means are all below 16 e⁻ take the read noise of two columns
from one Box–Muller pair), with the on-sensor combination in the same pass. A group
whose charge can reach the full well of a blooming sensor (the test of
:func:`~camtwin.sensor.pixels.blooming_possible`, on an upper bound of its means) is drawn
by the per-component chain instead (``generate_charge`` → ``collect_charge`` →
``read_out``), blooming included.

Reference channel. All combined values are in electrons of the *reference channel* — the
long exposure (DOL), the large photodiode (split pixel), the high-gain read (LOFIC, DCG) —
i.e. the linear scene-referred signal x [e⁻] the reference channel would collect without
saturation. Component k with signal e_k [e⁻ of its own] estimates x_k = s_k·e_k, scale s_k:

==============  ====================================================  ==================
mode            components (most sensitive first)                     scale s_k
==============  ====================================================  ==================
``dol``         exposures T_0 > T_1 > … (2–4)                          T_0 / T_k
``split_pixel`` large photodiode (LPD; or LPD-HCG, LPD-LCG), small    1 (1), ρ (sens.
                photodiode (SPD)                                      ratio)
``lofic``       high-gain read of the PD, low-gain read of PD + cap.  1, 1
``dcg``         HCG read and LCG read of the same charge              1, 1
(+ ``vs``)      a very short exposure T/ratio after the main one      ratio (very_short)
``pwl``         one linear exposure (companded output only)           1
==============  ====================================================  ==================

Equations per mode (n ~ Poisson(μ) electrons; σ_k, K_k [DN/e⁻], FWC_k of component k):

* **DOL** (digital overlap / staggered HDR): exposure k of row r integrates the window
  [e_k(r) − T_k, e_k(r)], with T_k = T_0 / Π_{j≤k} r_j (``exposure_ratios`` r_j are the
  ratios of *consecutive* exposures) or the given ``short_exposures_s``, and the
  line-interleaved readout ends

      e_0(r) = t_0(r) + T_0,     e_k(r) = e_{k−1}(r) + o_k·t_line      (k ≥ 1)

  t_0(r) = start_s + r·t_line (rolling shutter), o_k = ``readout_offset_lines`` (default
  ⌈T_k / t_line⌉: exposure k starts when exposure k−1 of the same row has been read — the
  photodiode is reset by that read, so the windows never overlap). Each exposure is an
  independent frame of the full chain: μ_k = ∫_{window_k(r)} ė dt + I_dark·T_k, so moving
  objects and flickering light differ between the exposures of one row.
* **Split pixel**: the large photodiode has the sensor's own FWC, σ and K; the small one
  collects μ_SPD = ė·T/ρ + I_dark·T/ρ (dark current assumed to scale with the
  photodiode's sensitivity), is clipped at its own ``full_well_e`` and read with its own
  ``read_noise_e`` and ``conversion_gain_dn_per_e`` (independent shot noise: different
  photons). Saturation in reference electrons: x_sat = ρ·min(FWC_SPD, (white − black)/K_SPD).
  With ``lpd_dual_gain`` the LPD's charge is read at HCG and LCG as in DCG below.
* **LOFIC** (lateral overflow integration capacitor; Akahane, Sugawa et al., IEEE JSSC
  41(4), 851–858, 2006): one charge n, q_pd = min(n, FWC_pd), overflow
  q_ov = min((n − FWC_pd)⁺, C_cap) (beyond it the anti-blooming drain takes the excess);
  the high-gain read sees q_pd (sensor's K, σ), the low-gain read sees the total
  q_pd + q_ov on floating diffusion + capacitor (``lofic.conversion_gain_dn_per_e``,
  ``lofic.read_noise_e``; full well FWC_pd + C_cap). Same charge → common shot noise,
  independent read noise.
* **DCG in one frame**: one charge n, limited (with blooming if on) at the LCG full well;
  read at HCG (sensor's K, σ; clipped at the HCG full well) and at LCG (the sensor's
  ``lcg`` block) with independent read noise. Common shot noise.
* **PWL only**: a single linear exposure whose DN are companded.
* **Very short exposure** (``very_short``, with split pixel, LOFIC or DCG): one more
  exposure T_VS = T/ratio of the reference photodiode, read (at LCG or the active gain)
  o·t_line after the main read of its row (window [e_0(r) + o·t_line − T_VS,
  e_0(r) + o·t_line], o = ⌈T_VS/t_line⌉ by default), scale = ratio, its own charge.

On-sensor combination (what the sensor sends as its linear HDR value): the first
component k (most sensitive first) whose signal e_k is below ``switch_fraction`` of its
saturation e_sat,k = min(FWC_k, (white − black)/K_k) is selected, x = s_k·e_k; the last
component is used when all are above. Deciding on the component's own noisy value, as
sensors do, lowers the mean by σ_k·φ(z) within a few σ_k of the switch (analysis in
:mod:`camtwin.isp.hdr`, which merges the same way or by noise-optimal weights).

PWL companding (:class:`PwlSpec`): the combined value becomes the linear code
c = clip(rint(K_0·x) + black, 0, 2^input_bits − 1) (K_0 [DN/e⁻] and black level of the
reference channel) and is companded through the knee table (x_i, y_i):

    y = y_i + ⌊(c − x_i)·(y_{i+1} − y_i) / (x_{i+1} − x_i)⌋     for x_i ≤ c < x_{i+1}

(integer arithmetic; y = y_last for c ≥ x_last). Slopes ≤ 1, so every output code has at
least one input code; :func:`camtwin.isp.hdr.decompand` inverts it exactly.

Not modelled here (integration is in :func:`camtwin.sensor.capture.capture`'s hands):
global-shutter storage-node light and CCD smear/CTI; blooming between LOFIC pixels (the
capacitor takes the overflow); crosstalk between the two photodiodes of a split pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec
from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .timing import Flicker

HDR_MODES = ("dol", "split_pixel", "lofic", "dcg", "pwl")

#: Largest number of exposures of one DOL frame.
MAX_DOL_EXPOSURES = 4


# --------------------------------------------------------------------------------------
# specs
# --------------------------------------------------------------------------------------
class DolSpec(FrozenSpec):
    """Staggered / DOL multi-exposure: 2–4 exposures per frame, line-interleaved readout.

    Give either ``exposure_ratios`` (consecutive ratios T_{k−1}/T_k, each > 1) or
    ``short_exposures_s`` (absolute short exposures [s], strictly decreasing; each must be
    shorter than the long exposure given at capture time).
    ``readout_offset_lines`` (one per short exposure, ≥ 1): readout delay of exposure k
    after exposure k−1 of the same row, in line times (default ⌈T_k / t_line⌉).
    """

    exposure_ratios: tuple[float, ...] | None = None
    short_exposures_s: tuple[float, ...] | None = None
    readout_offset_lines: tuple[int, ...] | None = None

    @field_validator("exposure_ratios")
    @classmethod
    def _ratios(cls, v):
        if v is None:
            return v
        _check_count(len(v), "exposure_ratios")
        for i, r in enumerate(v):
            if not (math.isfinite(r) and 1.0 < r <= 1e4):
                raise ValueError(f"exposure_ratios[{i}] = {r}: each ratio T(k-1)/T(k) must "
                                 f"be > 1 and <= 10000 (a short exposure is shorter than "
                                 f"the one before)")
        return v

    @field_validator("short_exposures_s")
    @classmethod
    def _shorts(cls, v):
        if v is None:
            return v
        _check_count(len(v), "short_exposures_s")
        for i, t in enumerate(v):
            if not (math.isfinite(t) and 0.0 < t <= 10.0):
                raise ValueError(f"short_exposures_s[{i}] = {t}: valid range 0 < t <= 10 s")
        for i in range(1, len(v)):
            if not v[i] < v[i - 1]:
                raise ValueError(f"short_exposures_s[{i}] = {v[i]} s is not shorter than "
                                 f"short_exposures_s[{i - 1}] = {v[i - 1]} s (must decrease)")
        return v

    @field_validator("readout_offset_lines")
    @classmethod
    def _offsets(cls, v):
        if v is None:
            return v
        for i, o in enumerate(v):
            if not 1 <= o <= 100000:
                raise ValueError(f"readout_offset_lines[{i}] = {o}: valid range 1..100000")
        return v

    @model_validator(mode="after")
    def _one_source(self):
        if (self.exposure_ratios is None) == (self.short_exposures_s is None):
            raise ValueError("give exactly one of exposure_ratios (T(k-1)/T(k), each > 1) "
                             "and short_exposures_s [s]")
        n_short = len(self.exposure_ratios or self.short_exposures_s)
        if self.readout_offset_lines is not None and len(self.readout_offset_lines) != n_short:
            raise ValueError(f"readout_offset_lines has {len(self.readout_offset_lines)} "
                             f"entries; needs one per short exposure ({n_short})")
        return self

    @property
    def n_exposures(self) -> int:
        return 1 + len(self.exposure_ratios or self.short_exposures_s)

    def exposures_s(self, long_s: float) -> tuple[float, ...]:
        """(T_0, T_1, …) [s] for the long exposure ``long_s``; raises if a given short
        exposure is not shorter than the long one."""
        if self.exposure_ratios is not None:
            out = [float(long_s)]
            for r in self.exposure_ratios:
                out.append(out[-1] / r)
            return tuple(out)
        if not self.short_exposures_s[0] < long_s:
            raise ConfigError(f"hdr.dol.short_exposures_s[0] = {self.short_exposures_s[0]} s "
                              f"is not shorter than the long exposure_s = {long_s} s "
                              f"(valid: 0 < short < long)")
        return (float(long_s),) + tuple(float(t) for t in self.short_exposures_s)


def _check_count(n: int, name: str) -> None:
    if not 1 <= n <= MAX_DOL_EXPOSURES - 1:
        raise ValueError(f"{name} has {n} entries ({n + 1} exposures): a DOL frame has "
                         f"2..{MAX_DOL_EXPOSURES} exposures, i.e. 1..{MAX_DOL_EXPOSURES - 1} "
                         f"entries")


class SplitPixelSpec(FrozenSpec):
    """The small photodiode (SPD) of a split pixel; the large one is the sensor's own.

    ``sensitivity_ratio`` ρ = LPD / SPD sensitivity (> 1); the SPD has its own full well,
    read noise and conversion gain (the sensor's ``analog_gain`` applies to both).
    ``lpd_dual_gain``: the large photodiode's charge is read twice, at HCG (the sensor's
    own conversion gain, read noise, full well) and at LCG (the sensor's ``lcg`` block),
    as in split-pixel sensors that send LPD-HCG, LPD-LCG and SPD reads.
    """

    sensitivity_ratio: float = Field(gt=1.0, le=1e5)
    full_well_e: float = Field(gt=0, le=1e7)
    read_noise_e: float = Field(ge=0, le=1e4)
    conversion_gain_dn_per_e: float = Field(gt=0, le=1000)
    lpd_dual_gain: bool = False

    @model_validator(mode="after")
    def _fw(self):
        if self.full_well_e <= self.read_noise_e:
            raise ValueError(f"split_pixel.full_well_e = {self.full_well_e} e- must exceed "
                             f"its read_noise_e = {self.read_noise_e} e-")
        return self


class LoficSpec(FrozenSpec):
    """Lateral overflow integration capacitor: capacity [e⁻] and the low-gain read of
    floating diffusion + capacitor (its conversion gain and read noise)."""

    capacitor_e: float = Field(gt=0, le=1e8)
    conversion_gain_dn_per_e: float = Field(gt=0, le=1000)
    read_noise_e: float = Field(ge=0, le=1e4)


class PwlSpec(FrozenSpec):
    """Piecewise-linear companding of a linear code (``input_bits``) to ``output_bits``.

    ``knees``: (input code, output code) pairs, starting at (0, 0), strictly increasing in
    both, each segment's slope Δout/Δin ≤ 1 (compression: no missing output codes), the
    last input ≤ 2^input_bits − 1 and the last output ≤ 2^output_bits − 1. Inputs beyond
    the last knee give the last output.
    """

    input_bits: int = Field(20, ge=12, le=32)
    output_bits: int = Field(12, ge=12, le=16)
    knees: tuple[tuple[int, int], ...] = Field(min_length=2, max_length=64)

    @model_validator(mode="after")
    def _check(self):
        k = self.knees
        if k[0] != (0, 0):
            raise ValueError(f"knees[0] = {list(k[0])}: the table must start at [0, 0]")
        for i in range(1, len(k)):
            (x0, y0), (x1, y1) = k[i - 1], k[i]
            if not x1 > x0:
                raise ValueError(f"knees[{i}] input = {x1} is not above knees[{i - 1}] input "
                                 f"= {x0}: the knee table must be strictly increasing")
            if not y1 > y0:
                raise ValueError(f"knees[{i}] output = {y1} is not above knees[{i - 1}] "
                                 f"output = {y0}: the knee table must be strictly increasing")
            if y1 - y0 > x1 - x0:
                raise ValueError(f"knees[{i - 1}]..[{i}] slope = {(y1 - y0) / (x1 - x0):g}: "
                                 f"valid range 0 < slope <= 1 (companding compresses)")
        if k[-1][0] > 2**self.input_bits - 1:
            raise ValueError(f"knees[{len(k) - 1}] input = {k[-1][0]} exceeds the "
                             f"{self.input_bits}-bit input range 0..{2**self.input_bits - 1}")
        if k[-1][1] > 2**self.output_bits - 1:
            raise ValueError(f"knees[{len(k) - 1}] output = {k[-1][1]} exceeds the "
                             f"{self.output_bits}-bit output range 0..{2**self.output_bits - 1}")
        return self

    @property
    def knee_inputs(self) -> np.ndarray:
        return np.array([a for a, _ in self.knees], dtype=np.int64)

    @property
    def knee_outputs(self) -> np.ndarray:
        return np.array([b for _, b in self.knees], dtype=np.int64)

    @property
    def max_input(self) -> int:
        return int(self.knees[-1][0])

    @property
    def max_output(self) -> int:
        return int(self.knees[-1][1])


class VeryShortSpec(FrozenSpec):
    """A very short exposure (VS) of the reference photodiode after the main one, added to
    a split-pixel, LOFIC or DCG mode to extend its range (as sensors that combine a
    dual-gain or split pixel with a very short capture do).

    ``ratio`` = T / T_VS (> the largest scale of the mode's other components: 1, or ρ for
    a split pixel); read at ``gain`` (``"lcg"``: the sensor's ``lcg`` block; ``"hcg"``:
    the sensor's active mode) ``readout_offset_lines`` after the main read (default
    ⌈T_VS / t_line⌉, as in DOL: it starts when the main exposure of its row is read).
    """

    ratio: float = Field(gt=1.0, le=1e6)
    gain: Literal["hcg", "lcg"] = "lcg"
    readout_offset_lines: int | None = Field(None, ge=1, le=100000)


class HdrSpec(FrozenSpec):
    """An HDR readout mode (module docstring: equations per mode).

    ``mode`` selects the block that must be given (``dol``, ``split_pixel``, ``lofic``;
    ``dcg`` uses the sensor's ``lcg`` block; ``pwl`` a single exposure with ``pwl``
    companding). ``pwl`` may be added to any mode: the combined value is then also sent
    companded. ``very_short`` adds a very short exposure to ``split_pixel``, ``lofic`` or
    ``dcg``. ``switch_fraction``: the on-sensor combination leaves a component when its
    signal reaches this fraction of its saturation.
    """

    mode: Literal["dol", "split_pixel", "lofic", "dcg", "pwl"]
    dol: DolSpec | None = None
    split_pixel: SplitPixelSpec | None = None
    lofic: LoficSpec | None = None
    pwl: PwlSpec | None = None
    very_short: VeryShortSpec | None = None
    switch_fraction: float = Field(0.9, ge=0.25, le=1.0)

    @model_validator(mode="after")
    def _blocks(self):
        blocks = {"dol": self.dol, "split_pixel": self.split_pixel, "lofic": self.lofic}
        if self.mode in blocks and blocks[self.mode] is None:
            raise ValueError(f"mode = {self.mode!r} needs a {self.mode!r} block")
        if self.mode == "pwl" and self.pwl is None:
            raise ValueError("mode = 'pwl' needs a 'pwl' block (input_bits, output_bits, knees)")
        for name, b in blocks.items():
            if b is not None and name != self.mode:
                raise ValueError(f"a {name!r} block is given but mode = {self.mode!r}; "
                                 f"valid: the block of the selected mode only")
        if self.very_short is not None:
            if self.mode in ("dol", "pwl"):
                raise ValueError(f"very_short is given but mode = {self.mode!r}; valid with "
                                 f"split_pixel, lofic, dcg (use dol's exposures instead)")
            top = self.split_pixel.sensitivity_ratio if self.mode == "split_pixel" else 1.0
            if not self.very_short.ratio > top:
                raise ValueError(f"very_short.ratio = {self.very_short.ratio} must exceed the "
                                 f"split pixel's sensitivity_ratio = {top} (the very short "
                                 f"exposure must be the least sensitive component)")
        return self

    @property
    def n_components(self) -> int:
        return len(component_names(self))

    # --- checks against the sensor (called by SensorSpec and hdr_expose) ---------------
    def check_sensor(self, sensor) -> None:
        """Raise :class:`ConfigError` (ValueError) if this mode does not fit ``sensor``."""
        if sensor.shutter.type == "ccd":
            raise ConfigError(f"hdr.mode = {self.mode!r}: HDR modes are modelled for CMOS "
                              f"sensors; shutter.type = 'ccd' is not supported")
        dual = self.mode == "dcg" or (self.mode == "split_pixel"
                                      and self.split_pixel.lpd_dual_gain)
        what = ("hdr.mode = 'dcg'" if self.mode == "dcg"
                else "hdr.split_pixel.lpd_dual_gain = true")
        if self.very_short is not None and self.very_short.gain == "lcg" and sensor.lcg is None:
            raise ConfigError("hdr.very_short.gain = 'lcg' needs the sensor's 'lcg' block "
                              "(or gain: hcg)")
        if dual:
            if sensor.lcg is None:
                raise ConfigError(f"{what} needs the sensor's 'lcg' block "
                                  "(conversion_gain_dn_per_e, read_noise_e, full_well_e)")
            if not sensor.lcg.conversion_gain_dn_per_e < sensor.conversion_gain_dn_per_e:
                raise ConfigError(f"{what}: lcg.conversion_gain_dn_per_e = "
                                  f"{sensor.lcg.conversion_gain_dn_per_e} must be below the "
                                  f"HCG conversion_gain_dn_per_e = "
                                  f"{sensor.conversion_gain_dn_per_e}")
            if not sensor.lcg.full_well_e >= sensor.full_well_e:
                raise ConfigError(f"{what}: lcg.full_well_e = {sensor.lcg.full_well_e}"
                                  f" e- must be at least the HCG full_well_e = "
                                  f"{sensor.full_well_e} e-")
        if self.mode == "lofic":
            k_hg = sensor.active_mode.conversion_gain_dn_per_e
            if not self.lofic.conversion_gain_dn_per_e < k_hg:
                raise ConfigError(f"hdr.lofic.conversion_gain_dn_per_e = "
                                  f"{self.lofic.conversion_gain_dn_per_e} must be below the "
                                  f"photodiode's (high) conversion gain {k_hg} DN/e-")
        if self.pwl is not None:
            full = self.full_scale_e(sensor)
            if full is not None:
                code = full * _reference_gain(sensor, self) + sensor.black_level_dn
                if code > 2**self.pwl.input_bits - 1:
                    need = int(math.ceil(math.log2(code + 1)))
                    raise ConfigError(f"hdr.pwl.input_bits = {self.pwl.input_bits}: the "
                                      f"combined full scale {code:.4g} DN needs {need} bits "
                                      f"(valid: input_bits >= {need})")

    def full_scale_e(self, sensor, exposure_s: float | None = None) -> float | None:
        """Largest combined value [reference e⁻] (None if it needs the exposure time)."""
        sats = _saturations_e(sensor, self)
        if self.mode == "dol":
            if self.dol.exposure_ratios is None:
                if exposure_s is None:
                    return None
                t = self.dol.exposures_s(exposure_s)
                return sats[-1] * t[0] / t[-1]
            return sats[-1] * float(np.prod(self.dol.exposure_ratios))
        if self.very_short is not None:
            return sats[-1] * self.very_short.ratio
        if self.mode == "split_pixel":
            return sats[-1] * self.split_pixel.sensitivity_ratio
        return sats[-1]


def _reference_gain(sensor, hdr: HdrSpec) -> float:
    """K_0 [DN/e⁻] of the reference channel."""
    return component_sensors(sensor, hdr)[0].system_gain_dn_per_e


def _saturation_e(full_well_e: float, gain: float, sensor) -> float:
    return min(float(full_well_e), (sensor.white_level_dn - sensor.black_level_dn) / gain)


def _saturations_e(sensor, hdr: HdrSpec) -> list[float]:
    return [_saturation_e(s.effective_full_well_e, s.system_gain_dn_per_e, s)
            for s in component_sensors(sensor, hdr)]


# --------------------------------------------------------------------------------------
# derived sensors, one per component
# --------------------------------------------------------------------------------------
#: Added to ``noise.fixed_pattern_seed`` for the fixed-pattern maps of a second photodiode.
SPD_SEED_OFFSET = 7919


def _derived(sensor, *, full_well_e, read_noise_e, conversion_gain_dn_per_e, seed=None):
    update: dict[str, Any] = {"full_well_e": float(full_well_e),
                              "read_noise_e": float(read_noise_e),
                              "conversion_gain_dn_per_e": float(conversion_gain_dn_per_e),
                              "lcg": None, "conversion_mode": "hcg"}
    if "hdr" in type(sensor).model_fields:
        update["hdr"] = None
    if seed is not None:
        update["noise"] = sensor.noise.model_copy(update={"fixed_pattern_seed": int(seed)})
    return sensor.model_copy(update=update)


@lru_cache(maxsize=32)
def component_sensors(sensor, hdr: HdrSpec) -> tuple:
    """The SensorSpec each component is read with (most sensitive first)."""
    main = _main_sensors(sensor, hdr)
    vs = hdr.very_short
    if vs is None:
        return main
    if vs.gain == "lcg":
        return main + (_hcg_lcg(sensor)[1],)
    am = sensor.active_mode
    return main + (_derived(sensor, full_well_e=am.full_well_e, read_noise_e=am.read_noise_e,
                            conversion_gain_dn_per_e=am.conversion_gain_dn_per_e),)


def _main_sensors(sensor, hdr: HdrSpec) -> tuple:
    am = sensor.active_mode
    base = _derived(sensor, full_well_e=am.full_well_e, read_noise_e=am.read_noise_e,
                    conversion_gain_dn_per_e=am.conversion_gain_dn_per_e)
    if hdr.mode == "dol":
        return (base,) * hdr.dol.n_exposures
    if hdr.mode == "pwl":
        return (base,)
    if hdr.mode == "split_pixel":
        sp = hdr.split_pixel
        spd = _derived(sensor, full_well_e=sp.full_well_e, read_noise_e=sp.read_noise_e,
                       conversion_gain_dn_per_e=sp.conversion_gain_dn_per_e,
                       seed=sensor.noise.fixed_pattern_seed + SPD_SEED_OFFSET)
        if sp.lpd_dual_gain:
            return (*_hcg_lcg(sensor), spd)
        return (base, spd)
    if hdr.mode == "lofic":
        lo = hdr.lofic
        lg = _derived(sensor, full_well_e=am.full_well_e + lo.capacitor_e,
                      read_noise_e=lo.read_noise_e,
                      conversion_gain_dn_per_e=lo.conversion_gain_dn_per_e)
        return (base, lg)
    return _hcg_lcg(sensor)  # dcg


def _hcg_lcg(sensor) -> tuple:
    hcg = _derived(sensor, full_well_e=sensor.full_well_e, read_noise_e=sensor.read_noise_e,
                   conversion_gain_dn_per_e=sensor.conversion_gain_dn_per_e)
    lcg = _derived(sensor, full_well_e=sensor.lcg.full_well_e,
                   read_noise_e=sensor.lcg.read_noise_e,
                   conversion_gain_dn_per_e=sensor.lcg.conversion_gain_dn_per_e)
    return (hcg, lcg)


# --------------------------------------------------------------------------------------
# PWL companding
# --------------------------------------------------------------------------------------
def compand(code, pwl: PwlSpec) -> np.ndarray:
    """Linear code → PWL output code (module docstring), integer arithmetic, uint16.

    Parameters
    ----------
    code : array_like of int
        Linear input codes (clipped to 0 … last knee input).
    pwl : PwlSpec

    Returns
    -------
    numpy.ndarray, uint16, same shape.
    """
    from ._hdr_kernels import compand_flat

    x = np.ascontiguousarray(code, dtype=np.int64)
    lut = _pwl_table(pwl)
    if lut is not None:       # every input code's output, computed once per knee table
        return lut[np.clip(x, 0, pwl.max_input)]
    out = np.empty(x.shape, np.uint16)
    compand_flat(x.reshape(-1), pwl.knee_inputs, pwl.knee_outputs, np.int64(pwl.max_input),
                 out.reshape(-1))
    return out


#: Knee tables up to this last input code get a lookup table of every code (uint16;
#: 32 MiB at 2²⁴ codes, built once per knee table).
PWL_TABLE_MAX_INPUT = 2**24


@lru_cache(maxsize=4)
def _pwl_table(pwl: PwlSpec) -> np.ndarray | None:
    """The companded value of every input code 0 … last knee (uint16), or None when the
    table would exceed ``PWL_TABLE_MAX_INPUT`` codes."""
    from ._hdr_kernels import compand_flat

    if pwl.max_input > PWL_TABLE_MAX_INPUT:
        return None
    x = np.arange(pwl.max_input + 1, dtype=np.int64)
    out = np.empty(x.shape, np.uint16)
    compand_flat(x, pwl.knee_inputs, pwl.knee_outputs, np.int64(pwl.max_input), out)
    out.flags.writeable = False
    return out


# --------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class HdrComponent:
    """One raw component of an HDR frame.

    Attributes
    ----------
    name : str
        ``"T0"``, ``"T1"``… (DOL), ``"lpd"``/``"spd"``, ``"hg"``/``"lg"``,
        ``"hcg"``/``"lcg"``, ``"linear"``.
    dn : uint16 (H, W)
        Raw DN.
    gain_dn_per_e, black_level_dn, white_level_dn
        K_k [DN/e⁻] (conversion gain × analog gain), black and white level [DN].
    scale : float
        s_k: reference electrons per electron of this component.
    saturation_e : float
        min(FWC_k, (white − black)/K_k) [e⁻ of this component].
    read_noise_e : float
        σ_k [e⁻] (temporal, of this component's read).
    exposure_s : float
        Integration time [s].
    charge_group : int
        Components with the same group read the same charge (DCG, LOFIC, the two gains of
        a large photodiode): their shot noise is common. Different groups: independent.
    window_end_s : float64 (H,) or None
        End of each row's integration window [s].
    mean_e : float32 (H, W) or None
        Ground truth: expected electrons of this component (photo + dark, before noise,
        full well and the fixed-pattern maps).

    ``dn``, ``window_end_s`` and ``mean_e`` are None in the noise-free models of
    :func:`component_models` (for analytic SNR curves without a capture).
    """

    name: str
    dn: np.ndarray
    gain_dn_per_e: float
    black_level_dn: float
    white_level_dn: int
    scale: float
    saturation_e: float
    read_noise_e: float
    exposure_s: float
    charge_group: int
    window_end_s: np.ndarray | None = None
    mean_e: np.ndarray | None = None

    def electrons(self) -> np.ndarray:
        """e_k = (DN − black)/K_k [e⁻], float32."""
        return ((self.dn.astype(np.float32) - np.float32(self.black_level_dn))
                / np.float32(self.gain_dn_per_e))

    def reference_e(self) -> np.ndarray:
        """x_k = s_k·e_k [reference e⁻], float32."""
        return self.electrons() * np.float32(self.scale)


@dataclass(frozen=True, eq=False)
class HdrRaw:
    """An HDR frame: its components, the on-sensor combined value and the PWL output.

    Attributes
    ----------
    components : tuple of HdrComponent
        Most sensitive first.
    combined_e : float32 (H, W)
        On-sensor combined linear value [reference e⁻] (switch selection).
    linear_code : int64 (H, W) or None
        With PWL: c = clip(rint(K_0·combined_e) + black, 0, 2^input_bits − 1).
    pwl_dn : uint16 (H, W) or None
        With PWL: the companded code.
    hdr, sensor : HdrSpec, SensorSpec
    exposure_s : float
        Long (reference) exposure [s].
    key : int
        Frame key.
    """

    components: tuple
    combined_e: np.ndarray
    linear_code: np.ndarray | None
    pwl_dn: np.ndarray | None
    hdr: HdrSpec
    sensor: Any
    exposure_s: float
    key: int
    metadata: dict = field(default_factory=dict)

    @property
    def cfa(self) -> str:
        return self.sensor.cfa

    @property
    def reference_gain_dn_per_e(self) -> float:
        return self.components[0].gain_dn_per_e

    @property
    def black_level_dn(self) -> float:
        return self.components[0].black_level_dn

    @property
    def full_scale_e(self) -> float:
        """Largest combined value [reference e⁻]: s_last · e_sat,last."""
        c = self.components[-1]
        return c.scale * c.saturation_e


# --------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------
def component_key(key: int, index: int) -> int:
    """A 63-bit frame key for component ``index`` of frame ``key`` (SeedSequence mix;
    distinct components never share a noise stream)."""
    s = np.random.SeedSequence([int(key), 0x48445221, int(index)]).generate_state(2, np.uint32)
    return int(((int(s[0]) << 32) | int(s[1])) & (2**63 - 1))


def dol_windows(sensor, dol: DolSpec, exposure_s: float, start_s: float = 0.0):
    """Exposure times and the integration window of every row for each DOL exposure.

    Returns
    -------
    exposures_s : tuple of float
        (T_0, T_1, …) [s].
    starts_s : tuple of float
        Start of row 0's window of each exposure [s] (row r starts r·t_line later for a
        rolling shutter): e_k(0) − T_k.
    offsets_lines : tuple of int
        o_k (k ≥ 1).
    """
    ts = dol.exposures_s(exposure_s)
    t_line = sensor.shutter.line_time_s
    if dol.readout_offset_lines is None:
        offs = tuple(int(math.ceil(t / t_line - 1e-9)) for t in ts[1:])
    else:
        offs = tuple(int(o) for o in dol.readout_offset_lines)
        for k, (o, t) in enumerate(zip(offs, ts[1:]), start=1):
            if o * t_line < t * (1 - 1e-9):
                raise ConfigError(f"hdr.dol.readout_offset_lines[{k - 1}] = {o} lines = "
                                  f"{o * t_line:.4g} s is shorter than exposure {k} "
                                  f"({t:.4g} s): it can start only after exposure {k - 1} of "
                                  f"its row is read (valid: >= {math.ceil(t / t_line - 1e-9)})")
    ends = [start_s + ts[0]]
    for o in offs:
        ends.append(ends[-1] + o * t_line)
    return ts, tuple(e - t for e, t in zip(ends, ts)), offs


def hdr_expose(rate_e_per_s, sensor, hdr: HdrSpec | None = None,
               exposure_s: float = 0.01, *, key: int,
               dark_current_e_per_s: float | None = None, start_s: float = 0.0,
               motion_px_per_s: tuple[float, float] = (0.0, 0.0),
               flicker: Flicker | None = None, n_time_samples: int = 64,
               fixed=None) -> HdrRaw:
    """Expose ``sensor`` in its HDR mode and read every component (module docstring).

    Parameters
    ----------
    rate_e_per_s : array_like (H, W) or callable
        Mean photo-electron rate of the reference channel [e⁻/s] per pixel (the large
        photodiode for a split pixel), or ``rate_at(t_s) -> (H, W)`` for a scene that
        changes in time (integrated per row and exposure window with
        :func:`camtwin.sensor.timing.integrate_time_varying`).
    sensor : SensorSpec
    hdr : HdrSpec, optional
        Default ``sensor.hdr``.
    exposure_s : float
        Long / reference exposure T_0 [s], > 0.
    key : int
        Frame key 0 ≤ key < 2⁶³; component k uses :func:`component_key` (key, k).
    dark_current_e_per_s : float, optional
        Mean dark current of the reference photodiode [e⁻/s] (default
        ``sensor.dark_current_at()``); each component collects it over its own exposure
        (÷ ρ for the small photodiode).
    start_s : float
        Start of row 0's long exposure [s] (phase against ``flicker``).
    motion_px_per_s, flicker
        As for :func:`camtwin.sensor.timing.integrate_photo` (each exposure over its own
        windows). Not with a callable rate.
    n_time_samples : int
        Samples of a callable rate over all windows of one exposure.
    fixed : FixedPattern, optional
        Maps of the reference photodiode (default ``fixed_pattern(sensor)``).

    Returns
    -------
    HdrRaw

    Raises
    ------
    ConfigError
        No HDR mode, a mode that does not fit the sensor, a DOL short exposure not shorter
        than ``exposure_s``, readout offsets shorter than the exposure they read, or a rate
        of the wrong shape.

    Examples
    --------
    >>> import numpy as np
    >>> from camtwin.sensor import SensorSpec
    >>> s = SensorSpec(width_px=64, height_px=48, pixel_pitch_um=3.0, full_well_e=10000,
    ...                conversion_gain_dn_per_e=0.3, read_noise_e=2.0)
    >>> hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16]})
    >>> raw = hdr_expose(np.full((48, 64), 5e6, np.float32), s, hdr, 0.01, key=1)
    >>> [c.name for c in raw.components], round(float(raw.combined_e.mean()), -3)
    (['T0', 'T1'], 50000.0)
    """
    from .fixed_pattern import fixed_pattern
    from .timing import integrate_photo, integrate_time_varying

    hdr = sensor.hdr if hdr is None and hasattr(sensor, "hdr") else hdr
    if hdr is None:
        raise ConfigError("hdr_expose needs an HdrSpec (argument hdr or sensor.hdr); "
                          f"valid modes: {', '.join(HDR_MODES)}")
    if not isinstance(hdr, HdrSpec):
        hdr = HdrSpec.from_dict(hdr)
    hdr.check_sensor(sensor)
    if not (np.isfinite(exposure_s) and exposure_s > 0):
        raise ConfigError(f"exposure_s = {exposure_s}: must be > 0")
    if not np.isfinite(start_s):
        raise ConfigError(f"start_s = {start_s}: must be finite")
    h, w = sensor.height_px, sensor.width_px
    from ..memory import BYTES_PER_PIXEL_MOSAIC, check_budget, format_bytes

    need = h * w * (BYTES_PER_PIXEL_MOSAIC + 14 * hdr.n_components)
    check_budget(need, f"the HDR chain ({hdr.n_components} components) of a {w} × {h} px "
                 f"frame ({format_bytes(need)})", "crop the sensor (camtwin.crop_module)")
    sensors = component_sensors(sensor, hdr)
    fp = fixed_pattern(sensor) if fixed is None else fixed
    i_dark = sensor.dark_current_at() if dark_current_e_per_s is None else float(
        dark_current_e_per_s)
    if not (np.isfinite(i_dark) and i_dark >= 0):
        raise ConfigError(f"dark_current_e_per_s = {dark_current_e_per_s}: must be >= 0")

    time_varying = callable(rate_e_per_s)
    if time_varying:
        if flicker is not None or any(float(v) != 0 for v in motion_px_per_s):
            raise ConfigError("a callable rate cannot be combined with motion_px_per_s or "
                              "flicker; put the motion or the modulation into the callback")
        rate = None
    else:
        rate = np.ascontiguousarray(rate_e_per_s, dtype=np.float32)
        if rate.shape != (h, w):
            raise ConfigError(f"rate_e_per_s has shape {rate.shape}; the sensor needs "
                              f"({h}, {w}) (height_px, width_px)")

    def photo(t_exp: float, t_start: float) -> np.ndarray:
        if time_varying:
            return integrate_time_varying(rate_e_per_s, sensor, t_exp,
                                          n_samples=n_time_samples, start_s=t_start)
        return integrate_photo(rate, sensor, t_exp, motion_px_per_s=motion_px_per_s,
                               flicker=flicker, start_s=t_start)

    from .timing import row_start_times

    rows0 = row_start_times(sensor, 0.0)
    names = component_names(hdr)
    keys = [component_key(key, i) for i in range(len(names))]
    static = not time_varying and all(float(v) == 0 for v in motion_px_per_s)
    groups = _plan_groups(hdr, sensor, sensors, names, exposure_s, start_s, i_dark, fp)
    comps = _expose_groups(groups, names, keys, sensors, rate, photo, static, flicker,
                           sensor, rows0, hdr.switch_fraction)
    combined = comps.pop() if isinstance(comps[-1], np.ndarray) else None
    comps_t = tuple(comps)
    if combined is None:
        combined = combine_on_sensor(comps_t, hdr.switch_fraction)
    code = pwl_dn = None
    if hdr.pwl is not None:
        k0, black = comps_t[0].gain_dn_per_e, comps_t[0].black_level_dn
        full = hdr.full_scale_e(sensor, exposure_s) * k0 + black
        if full > 2**hdr.pwl.input_bits - 1:
            raise ConfigError(f"hdr.pwl.input_bits = {hdr.pwl.input_bits}: the combined full "
                              f"scale {full:.4g} DN needs {int(math.ceil(math.log2(full + 1)))}"
                              f" bits")
        if hdr.mode == "pwl":
            code = comps_t[0].dn.astype(np.int64)
            np.clip(code, 0, 2**hdr.pwl.input_bits - 1, out=code)
            pwl_dn = compand(code, hdr.pwl)
        else:     # clip(rint(K_0·x) + black, 0, 2^bits − 1) and its PWL code, one pass
            from ._hdr_kernels import linear_code, linear_code_lut

            code = np.empty(combined.shape, np.int64)
            args = (np.ascontiguousarray(combined, dtype=np.float32), float(k0),
                    np.int64(int(black)), np.int64(2**hdr.pwl.input_bits - 1))
            lut = _pwl_table(hdr.pwl)
            if lut is None:
                linear_code(*args, code)
                pwl_dn = compand(code, hdr.pwl)
            else:
                pwl_dn = np.empty(combined.shape, np.uint16)
                linear_code_lut(*args, lut, code, pwl_dn)
    return HdrRaw(components=comps_t, combined_e=combined, linear_code=code, pwl_dn=pwl_dn,
                  hdr=hdr, sensor=sensor, exposure_s=float(exposure_s), key=int(key),
                  metadata={"mode": hdr.mode,
                            "exposures_s": [c.exposure_s for c in comps_t],
                            "scales": [c.scale for c in comps_t]})


# --------------------------------------------------------------------------------------
# charge groups: the fused kernel (sensor/_hdr_kernels.py) or the per-component chain
# --------------------------------------------------------------------------------------
@dataclass
class _Group:
    """One independent charge of an HDR frame and its reads (component indices)."""

    t: float                  # integration time [s]
    t0: float                 # start of row 0's window [s]
    div: np.float32           # ρ (small photodiode) or 1
    dark: np.float32          # mean dark electrons of this photodiode [e⁻]
    fixed: Any                # FixedPattern of the charge (PRNU, dark map)
    kind: str                 # "single", "shared" (DCG-like, may bloom), "lofic"
    reads: tuple              # ((component index, FixedPattern of the read), ...)
    scale: float
    number: int               # HdrComponent.charge_group


def _plan_groups(hdr, sensor, sensors, names, exposure_s, start_s, i_dark, fp):
    """The charge groups of ``hdr`` (module docstring: equations per mode)."""
    from .fixed_pattern import fixed_pattern

    one = np.float32(1.0)
    dark0 = np.float32(i_dark * exposure_s)
    idx = {n: i for i, n in enumerate(names)}
    out = []
    if hdr.mode == "dol":
        ts, starts, _ = dol_windows(sensor, hdr.dol, exposure_s, start_s)
        for k, (t, t0) in enumerate(zip(ts, starts)):
            out.append(_Group(t, t0, one, np.float32(i_dark * t), fp, "single",
                              ((k, fp),), ts[0] / t, k))
    elif hdr.mode == "pwl" or (hdr.mode == "split_pixel"
                               and not hdr.split_pixel.lpd_dual_gain):
        out.append(_Group(exposure_s, start_s, one, dark0, fp, "single", ((0, fp),), 1.0, 0))
    else:   # one charge read twice: LPD at HCG and LCG, LOFIC, DCG
        kind = "lofic" if hdr.mode == "lofic" else "shared"
        out.append(_Group(exposure_s, start_s, one, dark0, fp, kind,
                          ((0, fp), (1, fixed_pattern(sensors[1]))), 1.0, 0))
    if hdr.mode == "split_pixel":       # the small photodiode: 1/ρ of light and dark
        rho = np.float32(hdr.split_pixel.sensitivity_ratio)
        i = idx["spd"]
        f_spd = fixed_pattern(sensors[i])
        out.append(_Group(exposure_s, start_s, rho, dark0 / rho, f_spd, "single",
                          ((i, f_spd),), float(rho), 1))
    vs = hdr.very_short
    if vs is not None:        # after the main read of its row, like a DOL exposure
        t_vs = exposure_s / vs.ratio
        t_line = sensor.shutter.line_time_s
        need = int(math.ceil(t_vs / t_line - 1e-9))
        offs = need if vs.readout_offset_lines is None else int(vs.readout_offset_lines)
        if offs < need:
            raise ConfigError(f"hdr.very_short.readout_offset_lines = {offs} lines = "
                              f"{offs * t_line:.4g} s is shorter than the very short exposure "
                              f"({t_vs:.4g} s) (valid: >= {need})")
        t0 = start_s + exposure_s + offs * t_line - t_vs
        out.append(_Group(t_vs, t0, one, np.float32(i_dark * t_vs), fp, "single",
                          ((idx["vs"], fp),), vs.ratio, 2))
    return out


def _row_coef(sensor, flicker, t: float, t0: float) -> np.ndarray:
    """c(i) = T·(window mean of the modulation) per row, float32 — the factor of
    :func:`camtwin.sensor.timing.integrate_photo` without motion (same operations)."""
    from .timing import row_start_times, window_means

    r0 = row_start_times(sensor, t0)
    return np.float32(t) * window_means(flicker, r0, r0 + t).astype(np.float32)


def _may_bloom(g: _Group, sensors, bound_photo: float) -> bool:
    """Whether the charge of ``g`` can reach the full well that blooms (the pixels' test:
    λ_max + 8(√λ_max + 1) > FWC), from an upper bound of its largest photo mean."""
    if g.kind == "lofic":
        return False                      # the capacitor takes the overflow
    s = sensors[g.reads[-1][0]]           # LCG full well for a shared charge
    if not s.noise.blooming:
        return False
    from .pixels import BLOOM_SAFETY_SIGMA

    m = max(bound_photo * g.fixed.max_photo_gain + float(g.dark) * g.fixed.max_dark_scale,
            0.0)
    return m + BLOOM_SAFETY_SIGMA * (math.sqrt(m) + 1.0) > s.effective_full_well_e


def _stack(maps, shape, fill, dtype):
    """Stack optional maps to (n, *shape) with ``fill`` for the missing; None if none."""
    if all(m is None for m in maps):
        return None
    out = np.empty((len(maps),) + shape, dtype)
    for k, m in enumerate(maps):
        out[k] = fill if m is None else m
    return out


def _expose_groups(groups, names, keys, sensors, rate, photo, static, flicker, sensor,
                   rows0, switch_fraction):
    """Components (in ``names`` order) of every group; the combined value appended when
    the fused kernel drew all of them. Groups that can bloom take the per-component chain
    of :mod:`camtwin.sensor.pixels` (blooming there); the others one pass of
    :func:`camtwin.sensor._hdr_kernels.hdr_chain`."""
    from . import _kernels as K
    from ._hdr_kernels import hdr_chain
    from .pixels import (_readout_scalars, collect_charge, generate_charge, read_out,
                         simulate_pixels)

    h, w = sensor.height_px, sensor.width_px
    blooms = any(sensors[i].noise.blooming for g in groups for i, _ in g.reads)
    # sources and per-row factors of every group
    coefs, srcs = [], []
    row_max = None
    for g in groups:
        if static:
            c = _row_coef(sensor, flicker, g.t, g.t0)
            coefs.append(c)
            srcs.append(None)
            if blooms and row_max is None:
                row_max = rate.max(axis=1)
        else:
            coefs.append(None)
            srcs.append(photo(g.t, g.t0))
    fused, slow = [], []
    for k, g in enumerate(groups):
        if not blooms:
            fused.append(k)
            continue
        if static:
            bound = float(np.max(row_max * coefs[k])) / float(g.div)
        else:
            bound = float(srcs[k].max(initial=0.0)) / float(g.div)
        (slow if _may_bloom(g, sensors, bound) else fused).append(k)

    comps: dict[int, HdrComponent] = {}

    def add(i, dn, g, mean):
        s = sensors[i]
        comps[i] = _component(names[i], dn, s, g.scale, g.t, g.number,
                              window_end_s=rows0 + g.t0 + g.t, mean_e=mean)

    for k in slow:             # the per-component chain, with blooming
        g = groups[k]
        mu = srcs[k] if srcs[k] is not None else (rate * coefs[k][:, None])
        if g.div != 1:
            mu = mu / g.div
        mean = mu + g.dark
        (i0, f0), *rest = g.reads
        if not rest:
            add(i0, simulate_pixels(mu, g.dark, sensors[i0], key=keys[i0], fixed=f0), g, mean)
            continue
        (i1, f1), = rest
        s_hi, s_lo = sensors[i0], sensors[i1]
        q = collect_charge(generate_charge(mu, g.dark, s_hi, key=keys[i0], fixed=g.fixed),
                           s_lo, in_place=True)
        add(i0, read_out(q, s_hi, key=keys[i0], fixed=f0), g, mean)
        add(i1, read_out(q, s_lo, key=keys[i1], fixed=f1), g, mean)
        del q

    combined = None
    if fused:
        fg = [groups[k] for k in fused]
        if static:
            src_arr = rate[None]
            src = np.zeros(len(fg), np.int64)
            coef = np.stack([coefs[k] for k in fused])
        else:
            src_arr = np.stack([srcs[k] for k in fused])
            src = np.arange(len(fg), dtype=np.int64)
            coef = np.ones((len(fg), h), np.float32)
        reads = [(gi, i, f) for gi, g in enumerate(fg) for i, f in g.reads]
        n_r = len(reads)
        first = np.array([fg[gi].reads[0][0] == i for gi, i, _ in reads])
        read_group = np.array([gi for gi, _, _ in reads], np.int64)
        gkeys = [keys[g.reads[0][0]] for g in fg]
        inf = np.float32(np.inf)
        clip = np.array([np.float32(sensors[g.reads[-1][0]].effective_full_well_e)
                         if len(g.reads) > 1 else inf for g in fg], np.float32)
        read_par = np.array([_readout_scalars(sensors[i]) for _, i, _ in reads], np.float32)
        do_comb = len(fused) == len(groups)
        comb_par = np.zeros((n_r, 4), np.float32)
        for r, (gi, i, _) in enumerate(reads):
            s = sensors[i]
            gain = float(s.system_gain_dn_per_e)
            sat = _saturation_e(s.effective_full_well_e, gain, s)
            comb_par[r] = (np.float32(float(s.black_level_dn)), np.float32(gain),
                           np.float32(switch_fraction * sat), np.float32(fg[gi].scale))
        out_dn = np.empty((n_r, h, w), np.uint16)
        out_mean = np.empty((len(fg), h, w), np.float32)
        out_comb = np.empty((h, w) if do_comb else (1, 1), np.float32)
        hdr_chain(src_arr, src, coef, np.array([g.div for g in fg], np.float32),
                  np.array([g.dark for g in fg], np.float32),
                  _stack([g.fixed.photo_gain for g in fg], (h, w), 1.0, np.float32),
                  _stack([g.fixed.dark_scale for g in fg], (h, w), 1.0, np.float32),
                  np.array([K.stream_seed(k, K.STREAM_PIXEL) for k in gkeys], np.uint64),
                  np.array([K.stream_seed(k, K.STREAM_EXACT_POISSON) for k in gkeys],
                           np.uint64),
                  clip, read_group, first,
                  np.array([K.stream_seed(keys[i], K.STREAM_PIXEL) for _, i, _ in reads],
                           np.uint64),
                  np.array([K.stream_seed(keys[i], K.STREAM_ROW) for _, i, _ in reads],
                           np.uint64),
                  read_par,
                  _stack([f.offset_e for _, _, f in reads], (h, w), 0.0, np.float32),
                  _stack([f.row_offset_e for _, _, f in reads], (h,), 0.0, np.float32),
                  _stack([f.column_offset_e for _, _, f in reads], (w,), 0.0, np.float32),
                  _stack([f.rtn for _, _, f in reads], (h, w), False, np.bool_),
                  bool(sensor.noise.shot),
                  comb_par, do_comb, np.int64(0), out_dn, out_mean, out_comb)
        for r, (gi, i, _) in enumerate(reads):
            add(i, out_dn[r], fg[gi], out_mean[gi])
        if do_comb:
            combined = out_comb
    out: list = [comps[i] for i in range(len(names))]
    if combined is not None:
        out.append(combined)
    return out


def capture_hdr(oi, sensor, exposure_s: float, rng, *, hdr: HdrSpec | None = None,
                motion_px_per_s: tuple[float, float] = (0.0, 0.0),
                flicker: Flicker | None = None, start_s: float = 0.0, scene_at=None,
                n_time_samples: int = 64) -> HdrRaw:
    """OpticalImage → HdrRaw: :func:`camtwin.sensor.capture.electron_rate` (CFA, QE,
    CRA, crosstalk) then :func:`hdr_expose` — the HDR counterpart of
    :func:`camtwin.sensor.capture.capture` (same arguments; one 63-bit frame key drawn
    from ``rng``). Storage-node light (global shutter) is not added.

    ``metadata`` gets ``scene``, ``illuminance_lux``, ``layout_px`` (patch boxes in sensor
    pixels), ``frame_key`` and, with a known illuminant, ``as_shot_neutral`` and
    ``xyz_to_camera`` as in a RawFrame.
    """
    from .capture import _as_rng, electron_rate, layout_to_pixels

    gen = _as_rng(rng)
    key = int(gen.integers(0, 2**63 - 1))
    if scene_at is not None:
        if flicker is not None or any(float(v) != 0 for v in motion_px_per_s):
            raise ConfigError("scene_at cannot be combined with motion_px_per_s or flicker; "
                              "put the motion or the modulation into the callback")

        def rate(t):
            return electron_rate(scene_at(t), sensor)
    else:
        rate = electron_rate(oi, sensor)
    raw = hdr_expose(rate, sensor, hdr, exposure_s, key=key, start_s=start_s,
                     motion_px_per_s=motion_px_per_s, flicker=flicker,
                     n_time_samples=n_time_samples)
    if getattr(oi, "illuminant", None) is not None:
        from .characterize import camera_characterization

        neutral, xyz_to_cam = camera_characterization(sensor, oi.lens, oi.illuminant)
        raw.metadata.update({"illuminant": oi.illuminant, "as_shot_neutral": neutral,
                             "xyz_to_camera": xyz_to_cam})
    raw.metadata.update({"scene": oi.scene_name, "illuminance_lux": oi.illuminance_lux,
                         "layout_px": layout_to_pixels(oi.layout, oi, sensor),
                         "frame_key": key,
                         "flicker_hz": None if flicker is None else flicker.frequency_hz})
    return raw


def _component(name, dn, s, scale, t_exp, group, **arrays) -> HdrComponent:
    g = float(s.system_gain_dn_per_e)
    return HdrComponent(
        name=name, dn=dn, gain_dn_per_e=g, black_level_dn=float(s.black_level_dn),
        white_level_dn=int(s.white_level_dn), scale=float(scale),
        saturation_e=_saturation_e(s.effective_full_well_e, g, s),
        read_noise_e=float(s.effective_read_noise_e) if s.noise.read else 0.0,
        exposure_s=float(t_exp), charge_group=int(group), **arrays)


def component_names(hdr: HdrSpec) -> tuple[str, ...]:
    """Names of the components of ``hdr``, most sensitive first."""
    if hdr.mode == "dol":
        return tuple(f"T{k}" for k in range(hdr.dol.n_exposures))
    if hdr.mode == "split_pixel":
        out = ("lpd_hcg", "lpd_lcg", "spd") if hdr.split_pixel.lpd_dual_gain else ("lpd", "spd")
    else:
        out = {"pwl": ("linear",), "lofic": ("hg", "lg"), "dcg": ("hcg", "lcg")}[hdr.mode]
    return out + (("vs",) if hdr.very_short is not None else ())


def component_models(sensor, hdr: HdrSpec | None = None,
                     exposure_s: float = 0.01) -> tuple[HdrComponent, ...]:
    """The components of ``hdr`` on ``sensor`` without a capture (``dn`` etc. None): scale,
    gain, saturation, read noise and charge group, for analytic SNR curves and transition
    signals (:func:`camtwin.isp.hdr.merged_variance`, :func:`camtwin.isp.hdr.switch_points_e`).
    """
    hdr = sensor.hdr if hdr is None else hdr
    if hdr is None:
        raise ConfigError("component_models needs an HdrSpec (argument hdr or sensor.hdr)")
    hdr.check_sensor(sensor)
    sensors = component_sensors(sensor, hdr)
    names = component_names(hdr)
    if hdr.mode == "dol":
        ts = hdr.dol.exposures_s(exposure_s)
        return tuple(_component(n, None, s, ts[0] / t, t, k)
                     for k, (n, s, t) in enumerate(zip(names, sensors, ts)))
    groups = {"lpd": 0, "spd": 1, "lpd_hcg": 0, "lpd_lcg": 0, "vs": 2}
    rho = hdr.split_pixel.sensitivity_ratio if hdr.mode == "split_pixel" else 1.0
    vs_ratio = hdr.very_short.ratio if hdr.very_short is not None else 1.0
    scales = {"spd": rho, "vs": vs_ratio}
    times = {"vs": exposure_s / vs_ratio}
    return tuple(_component(n, None, s, scales.get(n, 1.0), times.get(n, exposure_s),
                            groups.get(n, 0)) for n, s in zip(names, sensors))


def combine_on_sensor(components, switch_fraction: float) -> np.ndarray:
    """On-sensor switch selection (module docstring) → combined value [reference e⁻].

    Component k is used where its own e_k < ``switch_fraction``·e_sat,k and no more
    sensitive component was; the last component elsewhere. float32 (H, W).
    """
    out = components[-1].reference_e()
    chosen = np.zeros(out.shape, bool)
    for c in components[:-1]:
        e = c.electrons()
        use = (e < np.float32(switch_fraction * c.saturation_e)) & ~chosen
        out = np.where(use, e * np.float32(c.scale), out)
        chosen |= use
    return out.astype(np.float32, copy=False)
