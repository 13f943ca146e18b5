"""SensorSpec: the frozen, validated description of an image sensor (first version).

Units travel in the field names: µm, e⁻, DN, s, °C. Validation happens once, here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec
from ..errors import ConfigError
from ..raw.cfa import CFA_LAYOUTS, cfa_layout
from .hdr import HdrSpec
from .noise import NoiseSpec
from .pixel import PixelSpec
from .shutter import ShutterSpec


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


class ChannelCurves(FrozenSpec):
    """Tabulated curves per CFA channel (0..1), e.g. filter transmissions or measured QE.

    ``values`` maps a channel name (R, G, B, IR, C, M) to its samples at ``wavelengths_nm``.
    """

    wavelengths_nm: tuple[float, ...] = Field(min_length=2)
    values: dict[str, tuple[float, ...]]

    @model_validator(mode="after")
    def _check(self):
        if any(b <= a for a, b in zip(self.wavelengths_nm, self.wavelengths_nm[1:])):
            raise ValueError("wavelengths_nm must be strictly ascending")
        for name, vals in self.values.items():
            if name not in ("R", "G", "B", "IR", "C", "M"):
                raise ValueError(f"channel {name!r} is not one of R, G, B, IR, C, M")
            if len(vals) != len(self.wavelengths_nm):
                raise ValueError(f"{name} has {len(vals)} entries, wavelengths_nm has "
                                 f"{len(self.wavelengths_nm)}")
            bad = [x for x in vals if not 0.0 <= x <= 1.0]
            if bad:
                raise ValueError(f"{name} value {bad[0]} is outside the valid range 0..1")
        return self

    def sample(self, channel: str, wavelengths_nm) -> np.ndarray:
        if channel not in self.values:
            raise ConfigError(f"no curve for channel {channel!r}; given: "
                              f"{', '.join(self.values)}")
        return np.interp(np.asarray(wavelengths_nm, dtype=np.float64), self.wavelengths_nm,
                         self.values[channel], left=0.0, right=0.0)

class QESpec(FrozenSpec):
    """Where the spectral QE comes from; measured data always wins over the model.

    * ``channel_curves`` — measured QE of each CFA channel (wins over everything).
    * ``curve`` — measured QE of the bare pixel (no colour filter); multiplied by the
      colour filters. Without it the pixel-architecture model (:class:`PixelSpec`) is used.
    * ``filters`` — colour-filter transmissions: ``"pigment"`` (generic model, see
      :func:`camtwin.sensor.qe.cfa_filter_transmission`) or tabulated per channel.
    """

    curve: QuantumEfficiencyCurve | None = None
    channel_curves: ChannelCurves | None = None
    filters: Literal["pigment"] | ChannelCurves = "pigment"


class ConversionMode(FrozenSpec):
    """One conversion-gain mode of a dual-conversion-gain pixel."""

    conversion_gain_dn_per_e: float = Field(gt=0, le=1000)
    read_noise_e: float = Field(ge=0, le=1e4)
    full_well_e: float = Field(gt=0, le=1e7)


class SensorSpec(FrozenSpec):
    """An image sensor: pixel architecture, CFA, noise, shutter and readout.

    Signal chain (see :mod:`camtwin.sensor.capture`): photons → photo-electrons (QE,
    crosstalk, CRA) → + dark (temperature) → shot noise → full well / blooming → CTI (CCD)
    → nonlinearity → + read noise, row/column noise → × gain → + black → quantise → clip.

    The base ``conversion_gain_dn_per_e`` / ``read_noise_e`` / ``full_well_e`` describe the
    high-conversion-gain (HCG) mode; a dual-conversion-gain pixel adds ``lcg`` and selects
    the mode with ``conversion_mode``.
    """

    name: str = "sensor"
    width_px: int = Field(gt=0, le=20000)
    height_px: int = Field(gt=0, le=20000)
    pixel_pitch_um: float = Field(gt=0.3, le=50.0)
    illumination: Literal["bsi", "fsi"] = "bsi"
    pixel: PixelSpec = PixelSpec()
    cfa: str = "RGGB"
    qe: QESpec = QESpec()
    full_well_e: float = Field(gt=0, le=1e7)
    conversion_gain_dn_per_e: float = Field(gt=0, le=1000)
    analog_gain: float = Field(1.0, ge=1.0, le=256.0)
    read_noise_e: float = Field(ge=0, le=1e4)
    lcg: ConversionMode | None = None
    conversion_mode: Literal["hcg", "lcg"] = "hcg"
    dark_current_e_per_s: float = Field(0.0, ge=0, le=1e7, description="at dark_reference_c")
    dark_reference_c: float = Field(25.0, ge=-60, le=150)
    dark_doubling_c: float = Field(6.5, gt=0, le=50)
    temperature_c: float = Field(25.0, ge=-60, le=150)
    adc_bits: int = Field(12, ge=8, le=16)
    black_level_dn: int = Field(64, ge=0)
    noise: NoiseSpec = NoiseSpec()
    shutter: ShutterSpec = ShutterSpec()
    hdr: HdrSpec | None = None  # HDR readout mode (camtwin.sensor.hdr); None: single exposure

    @field_validator("cfa")
    @classmethod
    def _known_cfa(cls, value: str) -> str:
        if value not in CFA_LAYOUTS:
            raise ValueError(f"unknown CFA; valid choices: {', '.join(CFA_LAYOUTS)}")
        return value

    @model_validator(mode="after")
    def _check_consistency(self):
        white = 2**self.adc_bits - 1
        if self.black_level_dn >= white:
            raise ValueError(f"black_level_dn = {self.black_level_dn} must be below the ADC "
                             f"white level {white} (adc_bits = {self.adc_bits})")
        for mode, fw, rn in (("hcg", self.full_well_e, self.read_noise_e),
                             ("lcg", *((self.lcg.full_well_e, self.lcg.read_noise_e)
                                       if self.lcg else (1.0, 0.0)))):
            if fw <= rn:
                raise ValueError(f"{mode} full well ({fw} e-) must exceed its read noise "
                                 f"({rn} e-)")
        n = self.noise
        if self.shutter.type == "ccd" and (n.column_fpn_e or n.row_fpn_e or n.row_noise_e):
            raise ValueError("a CCD reads every pixel through one output amplifier: "
                             "noise.column_fpn_e, row_fpn_e and row_noise_e must be 0")
        if self.conversion_mode == "lcg" and self.lcg is None:
            raise ValueError("conversion_mode = 'lcg' needs an 'lcg' block "
                             "(conversion_gain_dn_per_e, read_noise_e, full_well_e)")
        if self.hdr is not None:
            self.hdr.check_sensor(self)
        return self

    # --- the active conversion-gain mode -------------------------------------------------
    @property
    def active_mode(self) -> ConversionMode:
        if self.conversion_mode == "lcg":
            return self.lcg  # type: ignore[return-value]
        return ConversionMode(conversion_gain_dn_per_e=self.conversion_gain_dn_per_e,
                              read_noise_e=self.read_noise_e, full_well_e=self.full_well_e)

    @property
    def effective_full_well_e(self) -> float:
        return self.active_mode.full_well_e

    @property
    def effective_read_noise_e(self) -> float:
        """Read noise of the active mode [e⁻], × √2 for a voltage-domain global shutter."""
        rn = self.active_mode.read_noise_e
        if self.shutter.type == "global" and self.shutter.pixel_domain == "voltage":
            rn *= 2 ** 0.5
        return rn

    @property
    def white_level_dn(self) -> int:
        return 2**self.adc_bits - 1

    @property
    def system_gain_dn_per_e(self) -> float:
        """Overall gain K [DN/e⁻] = conversion gain of the active mode × analog gain."""
        return self.active_mode.conversion_gain_dn_per_e * self.analog_gain

    def dark_current_at(self, temperature_c: float | None = None) -> float:
        """Mean dark current [e⁻/s] at ``temperature_c`` (default: the spec's temperature):
        ``I(T) = I_ref · 2^((T − T_ref)/T_double)``."""
        t = self.temperature_c if temperature_c is None else temperature_c
        return self.dark_current_e_per_s * 2.0 ** ((t - self.dark_reference_c)
                                                   / self.dark_doubling_c)

    @property
    def channels(self) -> tuple[str, ...]:
        return cfa_layout(self.cfa).channels

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
        return len(self.channels)
