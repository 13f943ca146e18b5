"""Validated models of catalog entries: every figure carries its source.

A *figure* is one number (or word) from a datasheet, a vendor page, a camera maker's
EMVA 1288 summary or a kernel binding, written in YAML as::

    full_well_e: {value: 10500, source: "https://docs.baslerweb.com/daa1440-220um/",
                  confidence: published, note: "Basler EMVA 1288 saturation capacity"}

``confidence`` says how the value was obtained:

* ``published`` — printed in the source as is (a rounded or second-hand transcription says
  so in ``note``);
* ``derived`` — computed from other published figures; ``note`` must say how;
* ``estimated`` — an engineering estimate where nothing is published, needed by the
  simulator; ``note`` must say why and from what. Estimates are never shown as published.

A figure without ``source`` (or given as a bare number) is rejected with a message that
names the entry and the field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec
from ..motion.stabilise import OIS_PRESETS
from ..optics.lens import PROJECTIONS

#: Allowed confidence levels of a figure (see the module docstring).
CONFIDENCE_LEVELS = ("published", "derived", "estimated")


class Figure(FrozenSpec):
    """One sourced figure: value, source (URL or document), confidence, note."""

    value: Any
    source: str = Field(min_length=3)
    confidence: Literal["published", "derived", "estimated"] = "published"
    note: str = ""

    @model_validator(mode="before")
    @classmethod
    def _must_be_mapping(cls, data):
        if not isinstance(data, dict):
            raise ValueError("a figure must be a mapping {value, source, confidence, note}; "
                             "a bare value has no source")
        return data

    @model_validator(mode="after")
    def _explained(self):
        if self.value is None:
            raise ValueError("value is missing (omit the figure when it is not published)")
        if self.confidence != "published" and not self.note.strip():
            raise ValueError(f"a {self.confidence} figure needs a note saying how it was "
                             "obtained")
        return self


# name → (python types, minimum, maximum) for the value of each typed figure; strings list
# their valid choices instead of a range.
_NUM = (int, float)
SENSOR_FIGURES: dict[str, tuple] = {
    "width_px": ((int,), 1, 20000),
    "height_px": ((int,), 1, 20000),
    "pixel_pitch_um": (_NUM, 0.3, 50.0),
    "optical_format": ((str,), None, None),
    "shutter": ((str,), ("global", "rolling", "ccd"), None),
    "illumination": ((str,), ("bsi", "fsi"), None),
    "cfa": ((str,), ("RGGB", "GRBG", "GBRG", "BGGR", "QUADBAYER", "RGBIR", "RCCB", "mono"),
            None),
    "qe_peak": (_NUM, 0.01, 1.0),
    "qe_peak_nm": (_NUM, 350.0, 1100.0),
    "qe_850nm": (_NUM, 0.0, 1.0),
    "qe_940nm": (_NUM, 0.0, 1.0),
    "qe_curve": ((dict,), None, None),
    "nir_sensitive": ((bool,), None, None),
    "full_well_e": (_NUM, 10.0, 1e7),
    "read_noise_e": (_NUM, 0.0, 1e4),
    "dark_current_e_per_s": (_NUM, 0.0, 1e7),
    "dark_reference_c": (_NUM, -60.0, 150.0),
    "adc_bits": ((int,), 8, 16),
    "max_fps": (_NUM, 0.01, 1e5),
    "dynamic_range_db": (_NUM, 10.0, 200.0),
    "snr_max_db": (_NUM, 10.0, 80.0),
    "hdr_output_bits": ((int,), 8, 32),
    "automotive_grade": ((bool,), None, None),
    "hdr": ((dict,), None, None),
    "led_flicker_mitigation": ((bool,), None, None),
    "antiblooming_drain": (_NUM, 0.0, 1.0),
    # output interface (camtwin.budget.link): PHY, data lanes / C-PHY trios, Gb/s per lane
    # (D-PHY) or Gsym/s per trio (C-PHY) of the published mode
    "interface": ((str,), ("mipi_dphy", "mipi_cphy", "parallel", "hispi", "lvds", "slvs-ec"),
                  None),
    "mipi_lanes": ((int,), 1, 4),
    "mipi_lane_rate_gbps": (_NUM, 0.01, 10.0),
    # typical power while streaming the mode ``power_mode`` (camtwin.budget.power.
    # catalog_power) and in software standby
    "power_mw": (_NUM, 0.01, 1e5),
    "power_mode": ((dict,), None, None),
    "standby_mw": (_NUM, 0.0, 1e4),
}

#: Keys of the ``power_mode`` figure (the mode a published power figure was measured in):
#: ``fps`` required; size defaults to the full array, bits to ``adc_bits``, one ADC read
#: per pixel (an HDR mode that converts each component states ``reads_per_pixel``).
POWER_MODE_KEYS: dict[str, tuple] = {
    "fps": (_NUM, 0.01, 1e5),
    "width_px": ((int,), 1, 20000),
    "height_px": ((int,), 1, 20000),
    "bits_per_pixel": ((int,), 6, 32),
    "reads_per_pixel": ((int,), 1, 8),
}

LENS_FIGURES: dict[str, tuple] = {
    "focal_length_mm": (_NUM, 0.2, 500.0),
    "f_number": (_NUM, 0.5, 64.0),
    "image_format": ((str,), None, None),
    "mount": ((str,), None, None),
    "hfov_deg": (_NUM, 0.1, 360.0),
    "vfov_deg": (_NUM, 0.1, 360.0),
    "dfov_deg": (_NUM, 0.1, 360.0),
    "tv_distortion_pct": (_NUM, -100.0, 100.0),
    "optical_distortion_pct": (_NUM, -100.0, 100.0),
    "relative_illumination_pct": (_NUM, 0.0, 100.0),
    "relative_contrast_pct": (_NUM, 0.0, 100.0),
    "resolution_mp": (_NUM, 0.001, 500.0),
    "cra_deg": (_NUM, 0.0, 60.0),
    "ir_cut": ((bool,), None, None),
    "ir_cut_nm": (_NUM, 550.0, 1000.0),
    "min_object_distance_m": (_NUM, 0.0005, 100.0),
    "projection": ((str,), PROJECTIONS, None),
}


#: Figures of a module's day/night block (:class:`DayNightEntry`).
DAY_NIGHT_FIGURES: dict[str, tuple] = {
    "ir_cut_switcher": ((bool,), None, None),
    "ir_cut_nm": (_NUM, 550.0, 1000.0),
    "illuminator_nm": ((int,), 850, 940),
    "illuminator_radiant_intensity_mw_sr": (_NUM, 0.001, 1e5),
    "illuminator_beam_angle_deg": (_NUM, 1.0, 179.0),
}

#: Figures of a module's stabiliser block (:class:`StabiliserEntry`): the OIS preset of
#: :data:`camtwin.motion.stabilise.OIS_PRESETS` the module's documented OIS is modelled by.
STABILISER_FIGURES: dict[str, tuple] = {
    "ois": ((str,), tuple(OIS_PRESETS), None),
}


def _check_value(field: str, fig: Figure, rule: tuple) -> None:
    _check_item(f"{field}.value", fig.value, rule)


def _check_item(name: str, v, rule: tuple) -> None:
    """One-line ValueError naming ``name``, the value and its valid type/range/choices."""
    types, lo, hi = rule
    if isinstance(v, bool) and bool not in types:
        raise ValueError(f"{name} = {v!r}: must be a number")
    if not isinstance(v, types) or (types == (int,) and isinstance(v, bool)):
        names = "/".join(t.__name__ for t in types)
        raise ValueError(f"{name} = {v!r}: must be of type {names}")
    if isinstance(lo, tuple):
        if v not in lo:
            raise ValueError(f"{name} = {v!r}: valid choices are {', '.join(lo)}")
    elif lo is not None and not lo <= v <= hi:
        raise ValueError(f"{name} = {v!r}: valid range is {lo}..{hi}")


def _check_power_mode(power_mw, power_mode) -> None:
    """``power_mw`` and ``power_mode`` come together; the mode's keys and values are valid."""
    if (power_mw is None) != (power_mode is None):
        given, missing = (("power_mw", "power_mode") if power_mode is None
                          else ("power_mode", "power_mw"))
        raise ValueError(f"{given} is given: {missing} is required (a power figure is only "
                         "usable with the mode it was measured in)")
    if power_mode is None:
        return
    mode = power_mode.value
    unknown = sorted(set(mode) - set(POWER_MODE_KEYS))
    if unknown or "fps" not in mode:
        raise ValueError(f"power_mode.value keys {sorted(mode)}: 'fps' is required, valid keys "
                         f"are {', '.join(POWER_MODE_KEYS)}")
    for k, v in mode.items():
        _check_item(f"power_mode.value.{k}", v, POWER_MODE_KEYS[k])


class _Entry(FrozenSpec):
    """Common part of sensor, lens and module entries."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    description: str = ""

    def figures(self) -> dict[str, Figure]:
        """The sourced figures of this entry, by field name (absent ones left out)."""
        return {k: getattr(self, k) for k in type(self).model_fields
                if isinstance(getattr(self, k), Figure)}

    def value(self, field: str, default=None):
        fig = getattr(self, field, None)
        return default if fig is None else fig.value


class SensorEntry(_Entry):
    """An image sensor of the catalog (see :data:`SENSOR_FIGURES` for the figures)."""

    vendor: str = Field(min_length=1)
    part: str = Field(min_length=1)
    # required figures: everything the simulator cannot do without
    width_px: Figure
    height_px: Figure
    pixel_pitch_um: Figure
    shutter: Figure
    illumination: Figure
    cfa: Figure
    full_well_e: Figure
    read_noise_e: Figure
    adc_bits: Figure
    # optional figures
    optical_format: Figure | None = None
    qe_peak: Figure | None = None
    qe_peak_nm: Figure | None = None
    qe_850nm: Figure | None = None
    qe_940nm: Figure | None = None
    qe_curve: Figure | None = None
    nir_sensitive: Figure | None = None
    dark_current_e_per_s: Figure | None = None
    dark_reference_c: Figure | None = None
    max_fps: Figure | None = None
    dynamic_range_db: Figure | None = None
    snr_max_db: Figure | None = None
    hdr_output_bits: Figure | None = None
    automotive_grade: Figure | None = None
    # HDR readout mode in catalog units (camtwin.catalog.convert.hdr_spec_for): mode,
    # its block, an optional LCG read {full_well_e, read_noise_e}; published DR above
    hdr: Figure | None = None
    led_flicker_mitigation: Figure | None = None
    # fraction of the charge beyond full well removed by the pixel's anti-blooming /
    # overflow drain (SensorSpec noise.antiblooming_drain; absent: the NoiseSpec default)
    antiblooming_drain: Figure | None = None
    # CSI-2 output link of a published mode (camtwin.budget.link.catalog_link)
    interface: Figure | None = None
    mipi_lanes: Figure | None = None
    mipi_lane_rate_gbps: Figure | None = None
    # typical power [mW] while streaming the mode ``power_mode`` ({fps, width_px, height_px,
    # bits_per_pixel, reads_per_pixel}: POWER_MODE_KEYS) and in standby
    # (camtwin.budget.power.catalog_power calibrates the power model to them)
    power_mw: Figure | None = None
    power_mode: Figure | None = None
    standby_mw: Figure | None = None

    @model_validator(mode="after")
    def _typed(self):
        for field, fig in self.figures().items():
            _check_value(field, fig, SENSOR_FIGURES[field])
        _check_power_mode(self.power_mw, self.power_mode)
        if self.hdr is not None:
            from .convert import hdr_spec_for

            hdr_spec_for(self)          # raises ConfigError (a ValueError) naming the field
        if self.qe_curve is not None:
            curve = self.qe_curve.value
            if set(curve) != {"wavelengths_nm", "values"}:
                raise ValueError("qe_curve.value must have exactly the keys wavelengths_nm "
                                 "and values")
        if self.value("read_noise_e") >= self.value("full_well_e"):
            raise ValueError(f"read_noise_e ({self.value('read_noise_e')}) must be below "
                             f"full_well_e ({self.value('full_well_e')})")
        return self

    # convenient derived quantities -----------------------------------------------------
    @property
    def megapixels(self) -> float:
        return self.value("width_px") * self.value("height_px") / 1e6

    @property
    def width_mm(self) -> float:
        return self.value("width_px") * self.value("pixel_pitch_um") * 1e-3

    @property
    def height_mm(self) -> float:
        return self.value("height_px") * self.value("pixel_pitch_um") * 1e-3

    @property
    def diagonal_mm(self) -> float:
        return (self.width_mm ** 2 + self.height_mm ** 2) ** 0.5


class LensEntry(_Entry):
    """A lens of the catalog (see :data:`LENS_FIGURES`)."""

    maker: str = Field(min_length=1)
    part: str = Field(min_length=1)
    focal_length_mm: Figure
    f_number: Figure
    ir_cut: Figure
    image_format: Figure | None = None
    mount: Figure | None = None
    hfov_deg: Figure | None = None
    vfov_deg: Figure | None = None
    dfov_deg: Figure | None = None
    tv_distortion_pct: Figure | None = None
    optical_distortion_pct: Figure | None = None
    relative_illumination_pct: Figure | None = None
    relative_contrast_pct: Figure | None = None
    resolution_mp: Figure | None = None
    cra_deg: Figure | None = None
    ir_cut_nm: Figure | None = None
    min_object_distance_m: Figure | None = None
    projection: Figure | None = None

    @model_validator(mode="after")
    def _typed(self):
        for field, fig in self.figures().items():
            _check_value(field, fig, LENS_FIGURES[field])
        return self


class DayNightEntry(FrozenSpec):
    """Day/night equipment of a catalog module (:mod:`camtwin.daynight`), sourced figures:
    an IR-cut switcher (ICR) in the body with the 50 % point of its day filter, and the
    module's NIR LEDs (peak wavelength 850/940 nm, on-axis radiant intensity of the array,
    full beam angle at half intensity)."""

    ir_cut_switcher: Figure
    ir_cut_nm: Figure | None = None
    illuminator_nm: Figure | None = None
    illuminator_radiant_intensity_mw_sr: Figure | None = None
    illuminator_beam_angle_deg: Figure | None = None

    @model_validator(mode="after")
    def _typed(self):
        for field in type(self).model_fields:
            fig = getattr(self, field)
            if fig is not None:
                _check_value(field, fig, DAY_NIGHT_FIGURES[field])
        if self.illuminator_nm is not None:
            if self.illuminator_nm.value not in (850, 940):
                raise ValueError(f"illuminator_nm.value = {self.illuminator_nm.value!r}: "
                                 "valid choices are 850, 940")
            if self.illuminator_radiant_intensity_mw_sr is None:
                raise ValueError("illuminator_nm is given: "
                                 "illuminator_radiant_intensity_mw_sr is required")
        return self

    def value(self, field: str, default=None):
        fig = getattr(self, field, None)
        return default if fig is None else fig.value


class StabiliserEntry(FrozenSpec):
    """Image stabilisation of a catalog module (:mod:`camtwin.motion.stabilise`), as sourced
    figures: ``ois`` is the preset (``phone``: lens-shift VCM OIS; ``sensor_shift``;
    ``none``) standing for the OIS a maker's page says the camera has — the source documents
    *that* it has OIS, the preset's parameters are its stated engineering assumptions."""

    ois: Figure

    @model_validator(mode="after")
    def _typed(self):
        _check_value("ois", self.ois, STABILISER_FIGURES["ois"])
        return self


class ModuleEntry(_Entry):
    """A catalog module: a catalog sensor + a catalog lens + an ISP preset.

    ``object_distance_m`` (where the scene plane sits) is a simulation setting, not a
    figure of a part, so it carries no source.
    """

    sensor: str = Field(min_length=1)
    lens: str = Field(min_length=1)
    isp: str = Field(min_length=1)
    object_distance_m: float = Field(1.0, gt=0, le=1000)
    day_night: DayNightEntry | None = None
    stabiliser: StabiliserEntry | None = None

    @field_validator("sensor", "lens", "isp")
    @classmethod
    def _lower(cls, v: str) -> str:
        return v.strip()
