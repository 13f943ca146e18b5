"""SensorSpec: the frozen, validated description of an image sensor (first version).

Units travel in the field names: µm, e⁻, DN, s, °C. Validation happens once, here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec
from ..raw.frame import CFA_PATTERNS


class SpectralCurve(FrozenSpec):
    """A tabulated spectral curve: values at ascending wavelengths, linearly interpolated,
    zero outside the tabulated range."""

    wavelengths_nm: tuple[float, ...] = Field(min_length=2)
    values: tuple[float, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self):
        if len(self.wavelengths_nm) != len(self.values):
            raise ValueError(f"wavelengths_nm has {len(self.wavelengths_nm)} entries but values "
                             f"has {len(self.values)}")
        if any(b <= a for a, b in zip(self.wavelengths_nm, self.wavelengths_nm[1:])):
            raise ValueError("wavelengths_nm must be strictly ascending")
        return self

    def sample(self, wavelengths_nm) -> np.ndarray:
        return np.interp(np.asarray(wavelengths_nm, dtype=np.float64), self.wavelengths_nm,
                         self.values, left=0.0, right=0.0)


class QuantumEfficiencyCurve(SpectralCurve):
    """A tabulated QE curve; every value must lie in [0, 1]."""

    @field_validator("values")
    @classmethod
    def _in_unit_range(cls, v):
        bad = [x for x in v if not 0.0 <= x <= 1.0]
        if bad:
            raise ValueError(f"QE value {bad[0]} is outside the valid range 0..1")
        return v


class SiliconModel(FrozenSpec):
    """Photodiode QE from silicon absorption: ``T_AR·(1 − exp(−α(λ)·depth))``."""

    depth_um: float = Field(3.0, gt=0, le=50, description="carrier collection depth [µm]")
    ar_transmission: float = Field(0.95, gt=0, le=1, description="anti-reflection transmission")


class ChannelFilters(FrozenSpec):
    """Tabulated colour-filter transmissions for R, G, B (each 0..1)."""

    wavelengths_nm: tuple[float, ...] = Field(min_length=2)
    r: tuple[float, ...]
    g: tuple[float, ...]
    b: tuple[float, ...]

    @model_validator(mode="after")
    def _check(self):
        for name in "rgb":
            vals = getattr(self, name)
            if len(vals) != len(self.wavelengths_nm):
                raise ValueError(f"{name} has {len(vals)} entries, wavelengths_nm has "
                                 f"{len(self.wavelengths_nm)}")
            bad = [x for x in vals if not 0.0 <= x <= 1.0]
            if bad:
                raise ValueError(f"{name} transmission {bad[0]} is outside the valid range 0..1")
        return self


class QESpec(FrozenSpec):
    """Spectral QE = photodiode QE × colour filter.

    ``curve`` (a measured photodiode/mono QE) wins over the ``silicon`` model when given.
    ``filters`` is ``"pigment"`` (the generic model in :mod:`camtwin.sensor.qe`) or tabulated.
    """

    silicon: SiliconModel = SiliconModel()
    curve: QuantumEfficiencyCurve | None = None
    filters: Literal["pigment"] | ChannelFilters = "pigment"


class SensorSpec(FrozenSpec):
    """An image sensor (first version; a later issue adds architecture and defects).

    Signal chain: photons → electrons (QE) → + dark → shot noise → full-well clip → + read
    noise → × conversion gain × analog gain → + black level → round → clip to ADC range.
    """

    name: str = "sensor"
    width_px: int = Field(gt=0, le=20000)
    height_px: int = Field(gt=0, le=20000)
    pixel_pitch_um: float = Field(gt=0.3, le=50.0)
    cfa: Literal[CFA_PATTERNS] = "RGGB"  # type: ignore[valid-type]
    qe: QESpec = QESpec()
    full_well_e: float = Field(gt=0, le=1e7)
    conversion_gain_dn_per_e: float = Field(gt=0, le=1000)
    analog_gain: float = Field(1.0, ge=1.0, le=256.0)
    read_noise_e: float = Field(ge=0, le=1e4)
    dark_current_e_per_s: float = Field(0.0, ge=0, le=1e7)
    temperature_c: float = Field(25.0, ge=-60, le=150)
    adc_bits: int = Field(12, ge=8, le=16)
    black_level_dn: int = Field(64, ge=0)

    @model_validator(mode="after")
    def _check_levels(self):
        white = 2**self.adc_bits - 1
        if self.black_level_dn >= white:
            raise ValueError(f"black_level_dn = {self.black_level_dn} must be below the ADC "
                             f"white level {white} (adc_bits = {self.adc_bits})")
        return self

    @property
    def white_level_dn(self) -> int:
        return 2**self.adc_bits - 1

    @property
    def system_gain_dn_per_e(self) -> float:
        """Overall gain K [DN/e⁻] = conversion gain × analog gain."""
        return self.conversion_gain_dn_per_e * self.analog_gain

    @property
    def pixel_area_m2(self) -> float:
        return (self.pixel_pitch_um * 1e-6) ** 2

    @property
    def width_mm(self) -> float:
        return self.width_px * self.pixel_pitch_um * 1e-3

    @property
    def height_mm(self) -> float:
        return self.height_px * self.pixel_pitch_um * 1e-3

    @property
    def n_channels(self) -> int:
        return 1 if self.cfa == "mono" else 3
