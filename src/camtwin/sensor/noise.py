"""NoiseSpec: every noise source and defect of the sensor, each switchable.

Units are in the names. Fixed-pattern maps (DSNU, PRNU, row/column offsets, hot/dead pixels,
RTN pixels) are drawn from ``fixed_pattern_seed`` only, so they are identical in every frame
of one sensor and differ between sensors (seeds).
"""

from __future__ import annotations

from pydantic import Field

from .._spec import FrozenSpec


class NoiseSpec(FrozenSpec):
    """Noise sources and defects (defaults: an ideal sensor apart from shot and read noise).

    Attributes
    ----------
    shot : bool
        Photon and dark-current shot noise (Poisson).
    read : bool
        Temporal read noise (Gaussian with ``SensorSpec.read_noise_e``).
    rtn_pixel_fraction, rtn_amplitude_e : float
        Fraction of pixels with random telegraph noise and its step amplitude [e⁻]
        (two-level, equal occupancy per frame).
    dsnu_offset_e : float
        Std of a fixed per-pixel offset [e⁻] (exposure independent).
    dark_current_nonuniformity : float
        Relative std of the per-pixel dark current (log-normal map, mean preserved).
    prnu_fraction : float
        Relative std of the per-pixel photo-response (gain) map.
    row_fpn_e, column_fpn_e : float
        Std of fixed row / column offsets [e⁻].
    row_noise_e : float
        Std of temporal row noise [e⁻] (a new offset per row per frame).
    hot_pixel_fraction, hot_pixel_dark_multiplier : float
        Fraction of pixels whose dark current is multiplied by the multiplier.
    dead_pixel_fraction : float
        Fraction of pixels with zero photo-response.
    blooming : bool
        Charge beyond full well spills into neighbours (CMOS: 4 neighbours; CCD: along
        the column) instead of being lost.
    antiblooming_drain : float
        Fraction of the excess charge removed by the anti-blooming drain (0..1).
    nonlinearity : float
        Relative signal compression at full well (output = q·(1 − nl·(q/FWC)²)); at most
        1/3, where the slope 1 − 3·nl·(q/FWC)² reaches 0 at full well (beyond it the
        response would fall with more light).
    fixed_pattern_seed : int
        Seed of every fixed-pattern map.
    """

    shot: bool = True
    read: bool = True
    rtn_pixel_fraction: float = Field(0.0, ge=0, le=1)
    rtn_amplitude_e: float = Field(0.0, ge=0, le=1e4)
    dsnu_offset_e: float = Field(0.0, ge=0, le=1e5)
    dark_current_nonuniformity: float = Field(0.0, ge=0, le=10)
    prnu_fraction: float = Field(0.0, ge=0, le=0.5)
    row_fpn_e: float = Field(0.0, ge=0, le=1e5)
    column_fpn_e: float = Field(0.0, ge=0, le=1e5)
    row_noise_e: float = Field(0.0, ge=0, le=1e5)
    hot_pixel_fraction: float = Field(0.0, ge=0, le=0.1)
    hot_pixel_dark_multiplier: float = Field(100.0, ge=1, le=1e6)
    dead_pixel_fraction: float = Field(0.0, ge=0, le=0.1)
    blooming: bool = True
    antiblooming_drain: float = Field(0.5, ge=0, le=1)
    nonlinearity: float = Field(0.0, ge=0, le=1 / 3)
    fixed_pattern_seed: int = Field(0, ge=0)
