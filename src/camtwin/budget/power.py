"""Sensor power model: standby + analog (per ADC conversion) + digital + CSI-2 I/O.

While streaming at ``fps`` frames per second::

    P = P_static + (e_analog + e_digital) · W·H·fps + e_io · R_link + P_lane · n_lanes

* ``P_static`` [mW] — bias currents, references, PLL and sequencer: drawn whenever the
  sensor streams, whatever the frame rate (image sensors are *not* energy-proportional:
  LiKamWa, Priyantha, Philipose, Zhong & Bahl, "Energy characterization and optimization of
  image sensing toward continuous mobile vision", MobiSys 2013, who break sensor power into
  analog readout, digital control/processing, I/O and an idle part that does not shrink with
  the frame rate);
* ``e_analog`` [nJ per pixel read] — column amplifier + ADC energy per conversion; with
  column-parallel ADCs the conversion rate is ``columns × line rate = W·H·fps`` (× the
  reads per pixel ``n_r`` of an HDR mode that converts each component:
  ``ReadoutMode.reads_per_pixel``);
* ``e_digital`` [nJ per pixel] — digital pipeline (black level, defect correction,
  packing, HDR combination);
* ``e_io`` [pJ/bit] × ``R_link`` [Gb/s, :func:`camtwin.budget.link.required_gbps`] — the
  high-speed transmitters, plus ``P_lane`` [mW] per active data lane (and the D-PHY clock
  lane) for their bias.

Standby (``standby_mw``) is what the part draws when not streaming (software standby).

Two generic models (:data:`POWER_MODELS`), each calibrated to one published total; the
static share, the analog : digital split (60 : 40) and the I/O figures (5 pJ/bit, 2 mW per
lane incl. the D-PHY clock lane) are *engineering estimates*:

* ``stacked`` (default, :data:`GENERIC_POWER`) — a recent 3D-stacked BSI sensor:
  STMicroelectronics VD55G4/VD65G4, 804 × 704 px, 1-lane MIPI CSI-2 RAW10, "Consumption –
  35 mW typical @ 60 fps, … 0.8 mW in standby" (ST datasheet figures as listed by
  CNX Software, 30 Apr 2026, https://www.cnx-software.com/2026/04/30/stmicro-vd65g4-and-
  vd55g4-0-56mp-global-shutter-image-sensors-enable-ultra-low-power-always-on-event-driven-
  vision/); static share estimated 5 mW → 0.72 nJ per pixel read;
* ``legacy`` — a 2012-generation front-side-illuminated part with a parallel output:
  onsemi AR0130CS, 1.2 MP, "Power Consumption 270 mW (1280 x 720 60 fps)" (AR0130CS/D
  datasheet Rev. 15, Table 1, https://www.onsemi.com/pdf/datasheet/ar0130cs-d.pdf); static
  share estimated 50 mW, its parallel I/O lumped into the per-pixel energy → 3.8 nJ/px.

Sensor generations differ by ~5× in energy per pixel; for a specific part use
:func:`calibrate_power` with its published total. A catalog sensor with a sourced typical
power (figures ``power_mw`` + ``power_mode``, the mode it was measured in: frame rate, size,
bits, ADC reads per pixel; optional ``standby_mw``) gets that calibration automatically
(:func:`catalog_power`, :func:`module_power`): the per-pixel energies are scaled so that the
model gives the published total in the published mode, keeping the static share and the I/O
of the chosen generic model (and the part's published CSI-2 lane count, when known), so the
part's power at any other frame rate or size follows the affine law above. Power efficiency figures of merit of
sensors published 1999–2018 (Y. Yamashita & S. Sugawa, "Power efficiency figure of merit
for image sensors", IEEE Trans. Electron Devices 66(1), 512–517, 2019) show that power
grows less than linearly with the pixel rate across designs; within one design at fixed
clocks the linear model above holds.
"""

from __future__ import annotations

from pydantic import Field

from .._spec import FrozenSpec
from .link import LinkSpec, ReadoutMode, required_gbps

class PowerSpec(FrozenSpec):
    """Coefficients of the sensor power model (module docstring)."""

    name: str = "custom"
    static_mw: float = Field(5.0, ge=0, le=1e5)
    analog_nj_per_px: float = Field(0.43, ge=0, le=1e3)
    digital_nj_per_px: float = Field(0.29, ge=0, le=1e3)
    io_pj_per_bit: float = Field(5.0, ge=0, le=1e3)
    lane_mw: float = Field(2.0, ge=0, le=1e3)
    standby_mw: float = Field(1.0, ge=0, le=1e5)
    calibration: str = ""


#: Published totals the generic models are calibrated to (module docstring).
CALIBRATIONS = {
    "stacked": {"power_mw": 35.0, "width_px": 804, "height_px": 704, "fps": 60.0,
                "bits_per_pixel": 10, "lanes": 1, "static_mw": 5.0, "standby_mw": 0.8,
                "source": "ST VD55G4/VD65G4: 35 mW typical @ 60 fps (via CNX Software 2026)"},
    "legacy": {"power_mw": 270.0, "width_px": 1280, "height_px": 720, "fps": 60.0,
               "bits_per_pixel": 12, "lanes": None, "static_mw": 50.0, "standby_mw": 2.0,
               "source": "onsemi AR0130CS datasheet: 270 mW (1280 x 720 60 fps)"},
}


def _calibrated(name: str) -> PowerSpec:
    c = CALIBRATIONS[name]
    base = PowerSpec(name=name, static_mw=c["static_mw"], standby_mw=c["standby_mw"],
                     analog_nj_per_px=0.6, digital_nj_per_px=0.4, calibration=c["source"])
    mode = ReadoutMode(name=name, width_px=c["width_px"], height_px=c["height_px"],
                       bits_per_pixel=c["bits_per_pixel"], fps=c["fps"])
    link = LinkSpec(lanes=c["lanes"], lane_rate_gbps=1.0) if c["lanes"] else None
    return calibrate_power(c["power_mw"], mode, link, base)


def power_breakdown_mw(mode: ReadoutMode, link: LinkSpec | None = None,
                       spec: PowerSpec | None = None) -> dict[str, float]:
    """Power of each part [mW] while streaming ``mode`` over ``link`` (None: no high-speed
    serial link, I/O lumped into the per-pixel energies as for the calibration part)."""
    spec = GENERIC_POWER if spec is None else spec
    px_rate = mode.width_px * mode.height_px * mode.fps
    out = {"static": spec.static_mw,
           "analog": spec.analog_nj_per_px * 1e-9 * px_rate * mode.reads_per_pixel * 1e3,
           "digital": spec.digital_nj_per_px * 1e-9 * px_rate * 1e3,
           "io": 0.0}
    if link is not None:
        n = link.lanes + (1 if link.phy == "dphy" else 0)     # + the D-PHY clock lane
        out["io"] = spec.io_pj_per_bit * 1e-12 * required_gbps(mode) * 1e9 * 1e3 \
            + spec.lane_mw * n
    out["total"] = sum(out.values())
    return out


def sensor_power_mw(mode: ReadoutMode, link: LinkSpec | None = None,
                    spec: PowerSpec | None = None) -> float:
    """Total sensor power while streaming [mW] (module docstring)."""
    return power_breakdown_mw(mode, link, spec)["total"]


def calibrate_power(total_mw: float, mode: ReadoutMode, link: LinkSpec | None = None,
                    spec: PowerSpec | None = None) -> PowerSpec:
    """``spec`` with its per-pixel energies scaled so that the model gives the published
    ``total_mw`` for ``mode`` (static and I/O parts kept)."""
    spec = GENERIC_POWER if spec is None else spec
    b = power_breakdown_mw(mode, link, spec)
    px = b["analog"] + b["digital"]
    rest = b["total"] - px
    if not total_mw > rest or px <= 0:
        from ..errors import ConfigError
        raise ConfigError(f"total_mw = {total_mw}: must exceed the static + I/O power of the "
                          f"model ({rest:.1f} mW)")
    k = (total_mw - rest) / px
    return spec.replace(analog_nj_per_px=spec.analog_nj_per_px * k,
                        digital_nj_per_px=spec.digital_nj_per_px * k)


def published_power_mode(entry) -> ReadoutMode | None:
    """The readout mode a catalog sensor's published power was measured in (figure
    ``power_mode``: ``fps``; size default the full array, bits default ``adc_bits``, one ADC
    read per pixel unless ``reads_per_pixel`` is given), or None without a power figure."""
    if entry.power_mode is None:
        return None
    m = entry.power_mode.value
    return ReadoutMode(name=entry.name, width_px=int(m.get("width_px", entry.value("width_px"))),
                       height_px=int(m.get("height_px", entry.value("height_px"))),
                       bits_per_pixel=int(m.get("bits_per_pixel", entry.value("adc_bits"))),
                       fps=float(m["fps"]), reads_per_pixel=int(m.get("reads_per_pixel", 1)))


def catalog_power(sensor_name: str, base: PowerSpec | None = None) -> PowerSpec | None:
    """``base`` (default :data:`GENERIC_POWER`) calibrated to the published typical power of
    the catalog sensor ``sensor_name`` in its published mode (:func:`calibrate_power`, with
    the part's published CSI-2 link for the I/O term when known), with its published
    standby power when given; None when the sensor is not in the catalog or publishes no
    power figure. ``calibration`` of the result names the figure, its mode and source."""
    from ..catalog.loader import get_sensor
    from .link import catalog_link

    try:
        entry = get_sensor(sensor_name)
    except (KeyError, ValueError):
        return None
    mode = published_power_mode(entry)
    if mode is None:
        return None
    base = GENERIC_POWER if base is None else base
    fig = entry.power_mw
    total = float(fig.value)
    spec = base.replace(
        name=entry.name, standby_mw=float(entry.value("standby_mw", base.standby_mw)),
        calibration=(f"{entry.vendor} {entry.part}: {total:g} mW typical at "
                     f"{mode.width_px}x{mode.height_px} RAW{mode.bits_per_pixel} "
                     f"{mode.fps:g} fps ({fig.confidence}, {fig.source})"))
    return calibrate_power(total, mode, catalog_link(entry.name), spec)


def module_power(module, model="stacked") -> tuple[PowerSpec, str]:
    """The power model of a module's sensor and a sentence saying where it comes from.

    ``model``: a :class:`PowerSpec` (used as given) or a generic model name; a named model
    is calibrated to the sensor's published typical power when the catalog has one
    (:func:`catalog_power`), else used as is."""
    if isinstance(model, PowerSpec):
        return model, f"given sensor power model {model.name!r} (camtwin.budget.power)"
    base = power_model(model)
    part = catalog_power(module.sensor.name, base)
    if part is not None:
        return part, (f"sensor power model (camtwin.budget.power) calibrated to the part's "
                      f"published figure - {part.calibration}; static share and I/O of the "
                      f"generic model {base.name!r}")
    return base, (f"generic sensor power model {base.name!r} (camtwin.budget.power) "
                  f"calibrated to {base.calibration}; no published power figure for sensor "
                  f"{module.sensor.name!r}")


#: Generic models by name; ``stacked`` is the default (:data:`GENERIC_POWER`).
POWER_MODELS: dict[str, PowerSpec] = {n: _calibrated(n) for n in CALIBRATIONS}
GENERIC_POWER = POWER_MODELS["stacked"]


def power_model(name_or_spec) -> PowerSpec:
    """A :class:`PowerSpec` by name (``stacked``, ``legacy``) or the spec itself."""
    from ..errors import unknown_name

    if isinstance(name_or_spec, PowerSpec):
        return name_or_spec
    if name_or_spec not in POWER_MODELS:
        raise unknown_name("power model", str(name_or_spec), POWER_MODELS)
    return POWER_MODELS[name_or_spec]


__all__ = ["PowerSpec", "GENERIC_POWER", "POWER_MODELS", "CALIBRATIONS", "power_model",
           "power_breakdown_mw", "sensor_power_mw", "calibrate_power", "catalog_power",
           "module_power", "published_power_mode"]
