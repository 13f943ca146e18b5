"""Catalog of 3D-sensing parts: ToF sensors, active illuminators and depth modules, and the
depth application profiles — every figure with its source.

Layout under ``camtwin/data/`` (or any ``root`` given explicitly)::

    catalog/depth/sensors/<name>.yaml        one DepthSensorEntry (kind itof | dtof)
    catalog/depth/illuminators/<name>.yaml   one IlluminatorEntry (VCSEL/LED flood, dot projector)
    catalog/depth/modules/<name>.yaml        one DepthModuleEntry (kind itof | dtof | stereo)
    depth_applications/<name>.yaml           one DepthApplicationSpec (sourced requirements)

Figures use :class:`camtwin.catalog.schema.Figure` (``value``, ``source``, ``confidence``
published | derived | estimated, ``note``), exactly like the 2D catalog; figures the simulator
needs but no datasheet publishes are ``estimated`` with a note saying from what. Each entry may
carry ``published_performance``: the part's own precision/range claims with their conditions
(target reflectance, ambient light, distance, mode), so a twin can be checked against them.

Conversions to the simulator's specs (field names fixed in the shared contract
``DEPTH_API.md``):

* :func:`itof_spec_fields` → ``ITofSpec`` keyword arguments (``modulation_frequencies_mhz``,
  ``phases``, ``demodulation_contrast``, ``quantum_efficiency`` at the illuminator wavelength,
  ``full_well_e``, ``read_noise_e``, ``dark_current_e_s``, ``integration_time_s``,
  ``phase_frame_interval_s``, ``ambient_suppression``, ``adc_bits``, ``waveform``);
* :func:`dtof_spec_fields` → ``DTofSpec`` keyword arguments (``photon_detection_efficiency``,
  ``dead_time_ns``, ``dark_count_rate_hz``, ``tdc_bin_ps``, ``n_bins``, ``pulses_per_frame``,
  ``zone_size_px``, ``detection``, ``crosstalk``);
* :func:`illuminator_fields` → ``Illuminator`` keyword arguments;
* :func:`geometry_fields` → ``PinholeGeometry`` keyword arguments of a module;
* :func:`stereo_spec_fields` → the sourced part of ``StereoSpec`` of a stereo module.

Units: as in the field names (``_mhz`` in YAML only; the spec objects take what the contract
fixes). Unknown names raise :class:`~camtwin.errors.UnknownNameError` (one line listing the valid
names); a malformed file raises :class:`~camtwin.errors.ConfigError` naming file, entry, field.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec, read_yaml
from ..catalog.schema import Figure, _check_value, _Entry
from ..errors import ConfigError, unknown_name
from ..evaluate.profiles import Requirement

_NUM = (int, float)

# ----------------------------------------------------------------------------------------
# Depth metrics (names shared with depth/metrics.py, see DEPTH_API.md): unit and the
# conditions a requirement or a published claim may state.
# ----------------------------------------------------------------------------------------
#: metric name → (unit, allowed condition names)
DEPTH_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "accuracy_pct": ("%", ("distance_m", "reflectance", "ambient_klx")),
    "precision_pct": ("%", ("distance_m", "reflectance", "ambient_klx")),
    "max_range_m": ("m", ("precision_pct", "reflectance", "ambient_klx", "detection_rate")),
    "precision_pct_ambient": ("%", ("distance_m", "reflectance", "ambient_klx")),
    "multipath_error_pct": ("%", ("distance_m", "opening_deg", "reflectance")),
    "flying_pixel_fraction": ("", ("near_m", "far_m", "reflectance")),
    "power_mw": ("mW", ("frame_rate_fps",)),
    "energy_per_frame_mj": ("mJ", ()),
    "frame_rate_fps": ("fps", ()),
}

#: Extra quantities a datasheet claim may state (absolute errors, the unambiguous range of
#: a modulation mode); only in ``published_performance``, not in application profiles.
CLAIM_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    **DEPTH_METRICS,
    "accuracy_mm": ("mm", ("distance_m", "reflectance", "ambient_klx")),
    "precision_mm": ("mm", ("distance_m", "reflectance", "ambient_klx")),
    "unambiguous_range_m": ("m", ()),
}

#: Condition names any claim may add to say how the part was set up.
_SETUP_CONDITIONS = ("mode", "modulation_frequencies_mhz", "zones", "timing_budget_ms",
                     "exposure_us", "frame_rate_fps", "target", "cover_glass")


class PerformanceClaim(FrozenSpec):
    """One published performance claim of a part: ``metric`` is ``bound`` ``value`` under
    ``conditions`` (e.g. max_range_m ≥ 4.0 at reflectance 0.88, ambient_klx 0)."""

    metric: str
    value: float
    bound: Literal["max", "min", "typical"]
    conditions: dict[str, Any] = Field(default_factory=dict)
    source: str = Field(min_length=3)
    confidence: Literal["published", "derived"] = "published"
    note: str = ""

    @field_validator("metric")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in CLAIM_METRICS:
            raise ValueError(f"unknown metric; valid choices: {', '.join(sorted(CLAIM_METRICS))}")
        return v

    @model_validator(mode="after")
    def _conds(self):
        allowed = set(CLAIM_METRICS[self.metric][1]) | set(_SETUP_CONDITIONS)
        bad = sorted(set(self.conditions) - allowed)
        if bad:
            raise ValueError(f"{self.metric}: unknown condition {bad[0]!r}; valid: "
                             f"{', '.join(sorted(allowed))}")
        if self.confidence == "derived" and not self.note.strip():
            raise ValueError("a derived claim needs a note saying how it was obtained")
        return self

    @property
    def unit(self) -> str:
        return CLAIM_METRICS[self.metric][0]


# ----------------------------------------------------------------------------------------
# Typed figures: name → (types, min, max) or (types, choices, None), as catalog.schema
# ----------------------------------------------------------------------------------------
def _freq_list(v) -> bool:
    return (isinstance(v, list) and 1 <= len(v) <= 3
            and all(isinstance(f, _NUM) and not isinstance(f, bool) and 0 < f <= 500
                    for f in v))


DEPTH_SENSOR_FIGURES: dict[str, tuple] = {
    # geometry and readout
    "width_px": ((int,), 1, 20000),
    "height_px": ((int,), 1, 20000),
    "pixel_pitch_um": (_NUM, 0.3, 100.0),
    "optical_format": ((str,), None, None),
    "illumination": ((str,), ("bsi", "fsi"), None),
    "pixel_type": ((str,), None, None),
    "interface": ((str,), None, None),
    "mipi_lanes": ((int,), 1, 8),
    "max_fps": (_NUM, 0.01, 1e5),
    "power_mw": (_NUM, 0.01, 1e5),
    "adc_bits": ((int,), 1, 16),
    "qe_850nm": (_NUM, 0.0, 1.0),
    "qe_940nm": (_NUM, 0.0, 1.0),
    "fill_factor": (_NUM, 0.01, 1.0),
    # iToF pixel and timing
    "modulation_frequencies_mhz": ((list,), None, None),
    "modulation_frequency_min_mhz": (_NUM, 0.001, 500.0),
    "modulation_frequency_max_mhz": (_NUM, 0.001, 500.0),
    "phases": ((int,), (4, 8), None),
    "demodulation_contrast": (_NUM, 1e-6, 1.0),
    "demodulation_contrast_at_mhz": (_NUM, 0.001, 500.0),
    "full_well_e": (_NUM, 10.0, 1e8),
    "read_noise_e": (_NUM, 0.0, 1e4),
    "dark_current_e_s": (_NUM, 0.0, 1e8),
    "integration_time_s": (_NUM, 1e-8, 1.0),
    "phase_frame_interval_s": (_NUM, 1e-8, 10.0),
    "ambient_suppression": (_NUM, 0.0, 0.999999),
    "waveform": ((str,), ("sine", "square"), None),
    # dToF (SPAD) pixel, TDC and histogram
    "photon_detection_efficiency": (_NUM, 1e-6, 1.0),
    "pde_wavelength_nm": (_NUM, 350.0, 1700.0),
    "dead_time_ns": (_NUM, 0.0, 1e5),
    "dark_count_rate_hz": (_NUM, 0.0, 1e8),
    "tdc_bin_ps": (_NUM, 1e-3, 1e6),
    "n_bins": ((int,), 2, 1_000_000),
    "pulses_per_frame": ((int,), 1, 10**10),
    "zone_size_px": ((int,), 1, 100000),
    "detection": ((str,), ("first_photon", "multi_event"), None),
    "crosstalk": (_NUM, 0.0, 1.0),
    "spad_count": ((int,), 1, 10**8),
    "zones_h": ((int,), 1, 10000),
    "zones_v": ((int,), 1, 10000),
    "fov_h_deg": (_NUM, 0.1, 180.0),
    "fov_v_deg": (_NUM, 0.1, 180.0),
    "fov_diag_deg": (_NUM, 0.1, 180.0),
    "max_range_m": (_NUM, 0.001, 10000.0),
    "emitter_wavelength_nm": (_NUM, 350.0, 1700.0),
}

_ITOF_REQUIRED = ("modulation_frequencies_mhz", "phases", "demodulation_contrast", "full_well_e",
                  "read_noise_e", "dark_current_e_s", "integration_time_s",
                  "phase_frame_interval_s", "ambient_suppression", "adc_bits", "waveform")
_DTOF_REQUIRED = ("photon_detection_efficiency", "dead_time_ns", "dark_count_rate_hz",
                  "tdc_bin_ps", "n_bins", "pulses_per_frame", "zone_size_px", "detection")


def _check(field: str, fig: Figure, rules: dict) -> None:
    if field == "modulation_frequencies_mhz":
        if not _freq_list(fig.value):
            raise ValueError(f"{field}.value = {fig.value!r}: must be a list of 1-3 "
                             "frequencies, each in (0, 500] MHz")
        return
    types, lo, hi = rules[field]
    if isinstance(lo, tuple) and lo and not isinstance(lo[0], str):   # numeric choices
        if isinstance(fig.value, bool) or fig.value not in lo:
            raise ValueError(f"{field}.value = {fig.value!r}: valid choices are "
                             f"{', '.join(map(str, lo))}")
        return
    _check_value(field, fig, (types, lo, hi))


class _DepthEntry(_Entry):
    """The 2D catalog's entry (name, description, figures(), value()) with the part's own
    performance claims."""

    published_performance: tuple[PerformanceClaim, ...] = ()


class DepthSensorEntry(_DepthEntry):
    """A ToF sensor: ``kind`` itof (CW demodulation pixel) or dtof (SPAD + TDC)."""

    vendor: str = Field(min_length=1)
    part: str = Field(min_length=1)
    kind: Literal["itof", "dtof"]
    width_px: Figure
    height_px: Figure
    pixel_pitch_um: Figure
    optical_format: Figure | None = None
    illumination: Figure | None = None
    pixel_type: Figure | None = None
    interface: Figure | None = None
    mipi_lanes: Figure | None = None
    max_fps: Figure | None = None
    power_mw: Figure | None = None
    adc_bits: Figure | None = None
    qe_850nm: Figure | None = None
    qe_940nm: Figure | None = None
    fill_factor: Figure | None = None
    modulation_frequencies_mhz: Figure | None = None
    modulation_frequency_min_mhz: Figure | None = None
    modulation_frequency_max_mhz: Figure | None = None
    phases: Figure | None = None
    demodulation_contrast: Figure | None = None
    demodulation_contrast_at_mhz: Figure | None = None
    full_well_e: Figure | None = None
    read_noise_e: Figure | None = None
    dark_current_e_s: Figure | None = None
    integration_time_s: Figure | None = None
    phase_frame_interval_s: Figure | None = None
    ambient_suppression: Figure | None = None
    waveform: Figure | None = None
    photon_detection_efficiency: Figure | None = None
    pde_wavelength_nm: Figure | None = None
    dead_time_ns: Figure | None = None
    dark_count_rate_hz: Figure | None = None
    tdc_bin_ps: Figure | None = None
    n_bins: Figure | None = None
    pulses_per_frame: Figure | None = None
    zone_size_px: Figure | None = None
    detection: Figure | None = None
    crosstalk: Figure | None = None
    spad_count: Figure | None = None
    zones_h: Figure | None = None
    zones_v: Figure | None = None
    fov_h_deg: Figure | None = None
    fov_v_deg: Figure | None = None
    fov_diag_deg: Figure | None = None
    max_range_m: Figure | None = None
    emitter_wavelength_nm: Figure | None = None

    @model_validator(mode="after")
    def _typed(self):
        for field, fig in self.figures().items():
            _check(field, fig, DEPTH_SENSOR_FIGURES)
        required = _ITOF_REQUIRED if self.kind == "itof" else _DTOF_REQUIRED + ("zones_h",
                                                                                "zones_v")
        missing = [f for f in required if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} sensor needs {missing[0]} (required: "
                             f"{', '.join(required)})")
        if self.kind == "itof":
            if self.qe_850nm is None and self.qe_940nm is None:
                raise ValueError("an itof sensor needs qe_850nm or qe_940nm")
            if self.value("read_noise_e") >= self.value("full_well_e"):
                raise ValueError(f"read_noise_e ({self.value('read_noise_e')}) must be below "
                                 f"full_well_e ({self.value('full_well_e')})")
            if self.value("phase_frame_interval_s") < self.value("integration_time_s"):
                raise ValueError(f"phase_frame_interval_s ({self.value('phase_frame_interval_s')})"
                                 f" must be >= integration_time_s "
                                 f"({self.value('integration_time_s')})")
            lo = self.value("modulation_frequency_min_mhz", 0.0)
            hi = self.value("modulation_frequency_max_mhz", 500.0)
            for f in self.value("modulation_frequencies_mhz"):
                if not lo <= f <= hi:
                    raise ValueError(f"modulation_frequencies_mhz.value: {f} MHz outside the "
                                     f"part's range {lo}..{hi} MHz")
        else:   # dToF: the geometry grid is the SPAD array, zones of zone_size_px² SPADs
            z = self.value("zone_size_px")
            for axis, n_px, n_zones in (("width_px", self.value("width_px"), self.value("zones_h")),
                                        ("height_px", self.value("height_px"),
                                         self.value("zones_v"))):
                if n_zones * z > n_px:
                    raise ValueError(f"{axis} ({n_px} SPADs) is smaller than zones x "
                                     f"zone_size_px = {n_zones} x {z}")
        return self


ILLUMINATOR_FIGURES: dict[str, tuple] = {
    "kind": ((str,), ("vcsel", "led"), None),
    "pattern": ((str,), ("flood", "dots"), None),
    "optical_power_w": (_NUM, 1e-6, 100.0),
    "peak_power_w": (_NUM, 1e-6, 1000.0),
    "electrical_power_w": (_NUM, 1e-6, 200.0),
    "wavelength_nm": (_NUM, 350.0, 1700.0),
    "bandwidth_nm": (_NUM, 0.01, 200.0),
    "fov_h_deg": (_NUM, 0.1, 179.0),
    "fov_v_deg": (_NUM, 0.1, 179.0),
    "profile": ((str,), ("flat", "gaussian"), None),
    "modulation": ((str,), ("cw_sine", "cw_square", "pulsed"), None),
    "max_modulation_mhz": (_NUM, 0.001, 1000.0),
    "pulse_width_ns": (_NUM, 0.01, 1e6),
    "repetition_rate_hz": (_NUM, 1.0, 1e10),
    "duty_cycle": (_NUM, 1e-9, 1.0),
    "n_dots": ((int,), 1, 10**7),
    "laser_class": ((str,), None, None),
}

#: Fields handed to the ``Illuminator`` spec (depth/illuminator.py).
ILLUMINATOR_SPEC_FIELDS = ("kind", "optical_power_w", "wavelength_nm", "bandwidth_nm",
                           "fov_h_deg", "fov_v_deg", "profile", "modulation", "pulse_width_ns",
                           "repetition_rate_hz", "duty_cycle")


class IlluminatorEntry(_DepthEntry):
    """A VCSEL/LED flood illuminator or a dot projector."""

    vendor: str = Field(min_length=1)
    part: str = Field(min_length=1)
    kind: Figure
    pattern: Figure
    optical_power_w: Figure
    wavelength_nm: Figure
    bandwidth_nm: Figure
    fov_h_deg: Figure
    fov_v_deg: Figure
    profile: Figure
    modulation: Figure
    peak_power_w: Figure | None = None
    electrical_power_w: Figure | None = None
    max_modulation_mhz: Figure | None = None
    pulse_width_ns: Figure | None = None
    repetition_rate_hz: Figure | None = None
    duty_cycle: Figure | None = None
    n_dots: Figure | None = None
    laser_class: Figure | None = None

    @model_validator(mode="after")
    def _typed(self):
        for field, fig in self.figures().items():
            _check(field, fig, ILLUMINATOR_FIGURES)
        if self.value("modulation") == "pulsed":
            for f in ("pulse_width_ns", "repetition_rate_hz"):
                if getattr(self, f) is None:
                    raise ValueError(f"a pulsed illuminator needs {f}")
        if self.value("pattern") == "dots" and self.n_dots is None:
            raise ValueError("a dot projector (pattern: dots) needs n_dots")
        return self


LENS_BLOCK_FIGURES: dict[str, tuple] = {
    "focal_length_mm": (_NUM, 0.05, 500.0),
    "f_number": (_NUM, 0.5, 64.0),
    "hfov_deg": (_NUM, 0.1, 179.0),
    "vfov_deg": (_NUM, 0.1, 179.0),
    "dfov_deg": (_NUM, 0.1, 179.0),
    "lens_transmission": (_NUM, 0.01, 1.0),
}


class DepthLensBlock(FrozenSpec):
    """The receiver lens of a depth module."""

    focal_length_mm: Figure
    f_number: Figure
    hfov_deg: Figure | None = None
    vfov_deg: Figure | None = None
    dfov_deg: Figure | None = None
    lens_transmission: Figure | None = None

    @model_validator(mode="after")
    def _typed(self):
        for field in type(self).model_fields:
            fig = getattr(self, field)
            if fig is not None:
                _check(field, fig, LENS_BLOCK_FIGURES)
        return self

    def value(self, field: str, default=None):
        fig = getattr(self, field, None)
        return default if fig is None else fig.value


MODULE_FIGURES: dict[str, tuple] = {
    "filter_center_nm": (_NUM, 350.0, 1700.0),
    "filter_bandwidth_nm": (_NUM, 0.1, 500.0),
    "baseline_mm": (_NUM, 1e-3, 10000.0),
    "illuminator_offset_mm": (_NUM, 0.0, 1000.0),
    "quantum_efficiency": (_NUM, 1e-4, 1.0),
    "exposure_s": (_NUM, 1e-7, 10.0),
    "frame_rate_fps": (_NUM, 0.01, 1e5),
    "power_mw": (_NUM, 0.01, 1e6),
    "n_illuminators": ((int,), 1, 64),
}


class DepthModuleEntry(_DepthEntry):
    """A depth module: sensor + illuminator + receiver lens + NIR band-pass filter.

    ``sensor`` names a depth sensor (itof/dtof modules) or a 2D catalog sensor
    (:mod:`camtwin.catalog`, stereo modules: the two NIR cameras); ``illuminator`` an
    illuminator entry (the dot projector of a stereo module; None = passive stereo).
    ``n_illuminators`` emitters of that part are driven together.
    """

    kind: Literal["itof", "dtof", "stereo"]
    sensor: str = Field(min_length=1)
    illuminator: str | None = None
    lens: DepthLensBlock
    filter_center_nm: Figure | None = None
    filter_bandwidth_nm: Figure | None = None
    baseline_mm: Figure | None = None
    illuminator_offset_mm: Figure | None = None
    quantum_efficiency: Figure | None = None
    exposure_s: Figure | None = None
    frame_rate_fps: Figure | None = None
    power_mw: Figure | None = None
    n_illuminators: Figure | None = None
    modulation_frequencies_mhz: Figure | None = None

    @model_validator(mode="after")
    def _typed(self):
        for field, fig in self.figures().items():
            if field == "modulation_frequencies_mhz":
                _check(field, fig, DEPTH_SENSOR_FIGURES)
            else:
                _check(field, fig, MODULE_FIGURES)
        if self.kind == "stereo" and self.baseline_mm is None:
            raise ValueError("a stereo module needs baseline_mm")
        if self.kind != "stereo" and self.illuminator is None:
            raise ValueError(f"an {self.kind} module needs an illuminator")
        return self


# ----------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------
#: Kinds of depth catalog entries.
DEPTH_KINDS = ("sensors", "illuminators", "modules")
_MODELS = {"sensors": DepthSensorEntry, "illuminators": IlluminatorEntry,
           "modules": DepthModuleEntry}


def depth_catalog_root() -> Path:
    """The depth catalog shipped with camtwin (``camtwin/data/catalog/depth``)."""
    return Path(str(resources.files("camtwin") / "data" / "catalog" / "depth"))


def _root(root) -> Path:
    return Path(root).resolve() if root is not None else depth_catalog_root()


def depth_catalog_names(kind: str, root=None) -> list[str]:
    """Names (file stems) of the ``kind`` entries."""
    if kind not in DEPTH_KINDS:
        raise unknown_name("depth catalog kind", kind, DEPTH_KINDS)
    return sorted(p.stem for p in (_root(root) / kind).glob("*.yaml"))


def _read(path: Path, kind: str):
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    label = f"{path} ({kind[:-1]} {data.get('name', path.stem)!r})"
    entry = _MODELS[kind].from_dict(data, source=label)
    if entry.name != path.stem:
        raise ConfigError(f"{path}: name {entry.name!r} must equal the file name {path.stem!r}")
    return entry


@lru_cache(maxsize=256)
def _entry(root: Path, kind: str, name: str):
    names = depth_catalog_names(kind, root)
    if name not in names:
        raise unknown_name(f"depth {kind[:-1]}", name, names)
    return _read(root / kind / f"{name}.yaml", kind)


def depth_sensor_entry(name: str, root=None) -> DepthSensorEntry:
    """The depth sensor ``name``; unknown names list the valid ones."""
    return _entry(_root(root), "sensors", name)


def illuminator_entry(name: str, root=None) -> IlluminatorEntry:
    """The illuminator ``name``."""
    return _entry(_root(root), "illuminators", name)


def depth_module_entry(name: str, root=None) -> DepthModuleEntry:
    """The depth module ``name``."""
    return _entry(_root(root), "modules", name)


def load_depth_catalog(root=None) -> dict[str, dict]:
    """Every entry by kind and name, validated, with module references checked (a module's
    sensor must exist — in the depth catalog, or for stereo modules in the 2D catalog — and
    its illuminator in the depth catalog)."""
    r = _root(root)
    cat = {kind: {n: _entry(r, kind, n) for n in depth_catalog_names(kind, r)}
           for kind in DEPTH_KINDS}
    for m in cat["modules"].values():
        where = r / "modules" / f"{m.name}.yaml"
        if m.kind == "stereo":
            from ..catalog.loader import catalog_names

            pool = catalog_names("sensors")
            what = "sensor (2D catalog)"
        else:
            pool = cat["sensors"]
            what = "depth sensor"
            if m.sensor in pool and pool[m.sensor].kind != m.kind:
                raise ConfigError(f"{where}: sensor {m.sensor!r} is {pool[m.sensor].kind}, the "
                                  f"module is {m.kind}")
        if m.sensor not in pool:
            raise ConfigError(f"{where}: {what} {m.sensor!r} is not in the catalog; valid "
                              f"choices: {', '.join(sorted(pool))}")
        if m.illuminator is not None and m.illuminator not in cat["illuminators"]:
            raise ConfigError(f"{where}: illuminator {m.illuminator!r} is not in the catalog; "
                              f"valid choices: {', '.join(sorted(cat['illuminators']))}")
    return cat


def clear_depth_cache() -> None:
    """Forget loaded entries (for tests that edit files)."""
    _entry.cache_clear()
    _applications.cache_clear()


# ----------------------------------------------------------------------------------------
# Entries → spec keyword arguments
# ----------------------------------------------------------------------------------------
def _as_sensor(entry_or_name, root=None) -> DepthSensorEntry:
    if isinstance(entry_or_name, DepthSensorEntry):
        return entry_or_name
    if isinstance(entry_or_name, DepthModuleEntry):
        return depth_sensor_entry(entry_or_name.sensor, root)
    return depth_sensor_entry(str(entry_or_name), root)


def _as_module(entry_or_name, root=None) -> DepthModuleEntry:
    if isinstance(entry_or_name, DepthModuleEntry):
        return entry_or_name
    return depth_module_entry(str(entry_or_name), root)


def _qe_at(sensor: DepthSensorEntry, wavelength_nm: float) -> float:
    """QE of ``sensor`` at the illuminator wavelength: the published figure nearest to it
    (850 or 940 nm; the bands are ≤ 50 nm wide, within which a silicon QE changes little)."""
    known = {850.0: sensor.value("qe_850nm"), 940.0: sensor.value("qe_940nm")}
    known = {wl: q for wl, q in known.items() if q is not None}
    if not known:
        raise ConfigError(f"sensor {sensor.name!r}: no qe_850nm/qe_940nm figure")
    return known[min(known, key=lambda wl: abs(wl - wavelength_nm))]


def itof_spec_fields(entry, *, wavelength_nm: float | None = None, root=None) -> dict:
    """``ITofSpec`` keyword arguments of an iToF sensor or module (by entry or name).

    ``quantum_efficiency`` is taken at ``wavelength_nm`` (default: the module's illuminator
    wavelength; 940 nm for a bare sensor). A module's ``modulation_frequencies_mhz`` (its
    operating mode) overrides the sensor's default.
    """
    module = None
    if isinstance(entry, DepthModuleEntry) or (isinstance(entry, str)
                                               and entry in depth_catalog_names("modules", root)):
        module = _as_module(entry, root)
        if module.kind != "itof":
            raise ConfigError(f"module {module.name!r} is {module.kind}, not itof")
    sensor = _as_sensor(module if module is not None else entry, root)
    if sensor.kind != "itof":
        raise ConfigError(f"sensor {sensor.name!r} is {sensor.kind}, not itof")
    if wavelength_nm is None:
        wavelength_nm = (illuminator_entry(module.illuminator, root).value("wavelength_nm")
                         if module is not None else 940.0)
    fields = {k: sensor.value(k) for k in _ITOF_REQUIRED}
    fields["modulation_frequencies_mhz"] = list(fields["modulation_frequencies_mhz"])
    if module is not None and module.modulation_frequencies_mhz is not None:
        fields["modulation_frequencies_mhz"] = list(module.value("modulation_frequencies_mhz"))
    fields["quantum_efficiency"] = _qe_at(sensor, wavelength_nm)
    return fields


def dtof_spec_fields(entry, root=None) -> dict:
    """``DTofSpec`` keyword arguments of a dToF sensor or module (by entry or name)."""
    if isinstance(entry, str) and entry in depth_catalog_names("modules", root):
        entry = depth_module_entry(entry, root)
    sensor = _as_sensor(entry, root)
    if sensor.kind != "dtof":
        raise ConfigError(f"sensor {sensor.name!r} is {sensor.kind}, not dtof")
    fields = {k: sensor.value(k) for k in _DTOF_REQUIRED}
    if sensor.crosstalk is not None:
        fields["crosstalk"] = sensor.value("crosstalk")
    return fields


def illuminator_fields(entry, *, count: int = 1, root=None) -> dict:
    """``Illuminator`` keyword arguments (by entry or name); ``count`` emitters driven
    together multiply the optical power (a module's ``n_illuminators``)."""
    ill = entry if isinstance(entry, IlluminatorEntry) else illuminator_entry(str(entry), root)
    out = {k: ill.value(k) for k in ILLUMINATOR_SPEC_FIELDS if getattr(ill, k) is not None}
    out["optical_power_w"] = out["optical_power_w"] * int(count)
    return out


def module_illuminator_fields(module, root=None) -> dict | None:
    """``Illuminator`` keyword arguments of a module's illuminator(s); None for passive."""
    m = _as_module(module, root)
    if m.illuminator is None:
        return None
    return illuminator_fields(m.illuminator, count=m.value("n_illuminators", 1), root=root)


def _pixel_grid(m: DepthModuleEntry, root=None) -> tuple[int, int, float, float | None]:
    if m.kind == "stereo":
        from ..catalog.loader import get_sensor

        s = get_sensor(m.sensor)
        return s.value("width_px"), s.value("height_px"), s.value("pixel_pitch_um"), None
    s = depth_sensor_entry(m.sensor, root)
    return (s.value("width_px"), s.value("height_px"), s.value("pixel_pitch_um"),
            s.value("fill_factor"))


def geometry_fields(module, root=None) -> dict:
    """``PinholeGeometry`` keyword arguments of a module (by entry or name): the sensor's
    pixel grid and the receiver lens (``lens_transmission`` and ``fill_factor`` only when the
    catalog states them; otherwise the geometry's defaults apply)."""
    m = _as_module(module, root)
    w, h, pitch, ff = _pixel_grid(m, root)
    out = {"width_px": w, "height_px": h, "pixel_pitch_um": pitch,
           "focal_length_mm": m.lens.value("focal_length_mm"),
           "f_number": m.lens.value("f_number")}
    if m.lens.lens_transmission is not None:
        out["lens_transmission"] = m.lens.value("lens_transmission")
    if ff is not None:
        out["fill_factor"] = ff
    return out


def module_hfov_deg(module, root=None) -> float:
    """Horizontal field of view of the pinhole geometry, 2·atan(w·p / 2f) [deg]."""
    g = geometry_fields(module, root)
    half = g["width_px"] * g["pixel_pitch_um"] * 1e-3 / 2.0
    return math.degrees(2.0 * math.atan(half / g["focal_length_mm"]))


def stereo_spec_fields(module, root=None) -> dict:
    """The catalog-sourced ``StereoSpec`` keyword arguments of a stereo module: baseline and
    the camera pixel (QE at the projector wavelength, full well, read noise, ADC bits from
    the 2D catalog sensor; exposure). Matcher settings are simulation choices, left out."""
    m = _as_module(module, root)
    if m.kind != "stereo":
        raise ConfigError(f"module {m.name!r} is {m.kind}, not stereo")
    from ..catalog.loader import get_sensor

    s = get_sensor(m.sensor)
    out = {"baseline_mm": m.value("baseline_mm"), "full_well_e": s.value("full_well_e"),
           "read_noise_e": s.value("read_noise_e"), "adc_bits": s.value("adc_bits")}
    if s.value("dark_current_e_per_s") is not None:
        out["dark_current_e_per_s"] = s.value("dark_current_e_per_s")
    if m.quantum_efficiency is not None:
        out["quantum_efficiency"] = m.value("quantum_efficiency")
    if m.exposure_s is not None:
        out["exposure_s"] = m.value("exposure_s")
    if m.illuminator is not None:
        out["wavelength_nm"] = illuminator_entry(m.illuminator, root).value("wavelength_nm")
    elif m.filter_center_nm is not None:
        out["wavelength_nm"] = m.value("filter_center_nm")
    if m.illuminator_offset_mm is not None:
        out["projector_x_mm"] = m.value("illuminator_offset_mm")
    return out


def dot_pattern_fields(entry, root=None) -> dict:
    """``DotPattern`` keyword arguments (depth/pattern.py) of a dot projector (by entry or
    name): number of dots, field of projection, optical power while on, wavelength."""
    ill = entry if isinstance(entry, IlluminatorEntry) else illuminator_entry(str(entry), root)
    if ill.value("pattern") != "dots":
        raise ConfigError(f"illuminator {ill.name!r} is a {ill.value('pattern')} emitter, not a "
                          "dot projector")
    return {"n_dots": ill.value("n_dots"), "fov_h_deg": ill.value("fov_h_deg"),
            "fov_v_deg": ill.value("fov_v_deg"), "optical_power_w": ill.value("optical_power_w"),
            "wavelength_nm": ill.value("wavelength_nm")}


# ----------------------------------------------------------------------------------------
# Real spec objects (when the pixel-model modules exist)
# ----------------------------------------------------------------------------------------
def build_depth_specs(module, root=None) -> dict:
    """The simulator's spec objects of a module: ``geometry`` (PinholeGeometry),
    ``illuminator`` (Illuminator or None) and ``pixel`` (ITofSpec / DTofSpec / StereoSpec —
    the stereo matcher keeps StereoSpec's defaults, a simulation choice; its dot projector
    becomes a DotPattern)."""
    from .illuminator import Illuminator
    from .scene import PinholeGeometry

    m = _as_module(module, root)
    out = {"geometry": PinholeGeometry(**geometry_fields(m, root))}
    ill = module_illuminator_fields(m, root)
    out["illuminator"] = Illuminator(**ill) if ill is not None else None
    if m.kind == "itof":
        from .itof import ITofSpec

        out["pixel"] = ITofSpec(**itof_spec_fields(m, root=root))
    elif m.kind == "dtof":
        from .dtof import DTofSpec

        out["pixel"] = DTofSpec(**dtof_spec_fields(m, root=root))
    else:
        from .pattern import DotPattern
        from .stereo import StereoSpec

        fields = stereo_spec_fields(m, root)
        if m.illuminator is not None and illuminator_entry(m.illuminator, root).value(
                "pattern") == "dots":
            fields["projector"] = DotPattern(**dot_pattern_fields(m.illuminator, root))
        out["pixel"] = StereoSpec(**fields)
    return out


# ----------------------------------------------------------------------------------------
# Depth application profiles
# ----------------------------------------------------------------------------------------
class DepthRequirement(Requirement):
    """A requirement on a depth metric (:data:`DEPTH_METRICS`): the 2D profiles'
    :class:`~camtwin.evaluate.profiles.Requirement` (limits, basis, source, margin/passes)
    with the depth metric names and their conditions."""

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in DEPTH_METRICS:
            raise ValueError(f"unknown depth metric; valid choices: "
                             f"{', '.join(sorted(DEPTH_METRICS))}")
        return value

    def _allowed_conditions(self) -> tuple[str, ...]:
        return DEPTH_METRICS[self.metric][1]

    @property
    def unit(self) -> str:
        return DEPTH_METRICS[self.metric][0]


class DepthApplicationSpec(FrozenSpec):
    """A depth application (product class) and its sourced depth requirements."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    description: str = ""
    requirements: tuple[DepthRequirement, ...] = Field(min_length=1)


def _apps_root() -> Path:
    return Path(str(resources.files("camtwin") / "data" / "depth_applications"))


def builtin_depth_applications() -> list[str]:
    """Names of the depth application profiles shipped with camtwin."""
    return sorted(p.stem for p in _apps_root().glob("*.yaml"))


@lru_cache(maxsize=32)
def _applications(path: Path) -> DepthApplicationSpec:
    return DepthApplicationSpec.from_yaml(path)


def depth_application(name_or_path) -> DepthApplicationSpec:
    """A depth application profile by built-in name or from a YAML file."""
    p = Path(str(name_or_path))
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        return _applications(p.resolve())
    names = builtin_depth_applications()
    if str(name_or_path) not in names:
        raise unknown_name("depth application (not a YAML file either)", str(name_or_path),
                           names)
    return _applications(_apps_root() / f"{name_or_path}.yaml")


__all__ = ["CLAIM_METRICS", "DEPTH_KINDS", "DEPTH_METRICS", "DepthApplicationSpec",
           "DepthLensBlock", "DepthModuleEntry", "DepthRequirement", "DepthSensorEntry",
           "IlluminatorEntry", "PerformanceClaim", "build_depth_specs",
           "builtin_depth_applications", "clear_depth_cache", "depth_application",
           "depth_catalog_names", "depth_catalog_root", "depth_module_entry",
           "depth_sensor_entry", "dot_pattern_fields", "dtof_spec_fields", "geometry_fields", "illuminator_entry",
           "illuminator_fields", "itof_spec_fields", "load_depth_catalog",
           "module_hfov_deg", "module_illuminator_fields", "stereo_spec_fields"]
