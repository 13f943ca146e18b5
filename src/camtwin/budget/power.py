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
  column-parallel ADCs the conversion rate is ``columns × line rate = W·H·fps``;
* ``e_digital`` [nJ per pixel] — digital pipeline (black level, defect correction,
  packing, HDR combination);
* ``e_io`` [pJ/bit] × ``R_link`` [Gb/s, :func:`camtwin.budget.link.required_gbps`] — the
  high-speed transmitters, plus ``P_lane`` [mW] per active data lane (and the D-PHY clock
  lane) for their bias.

Standby (``standby_mw``) is what the part draws when not streaming (software standby).

Generic figures (:data:`GENERIC_POWER`) are calibrated to one published total: onsemi
AR0130CS, 1.2 MP 1/3-inch, "Power Consumption 270 mW (1280 x 720 60 fps)" (AR0130CS/D
datasheet Rev. 15, Table 1, https://www.onsemi.com/pdf/datasheet/ar0130cs-d.pdf), with the
static share (50 mW) and the analog : digital split (60 : 40) *estimated*; the I/O figures
(5 pJ/bit, 2 mW per lane) are engineering estimates for a D-PHY transmitter. The AR0130 is
a 2012-generation part with a parallel output: stacked sensors of later generations spend
less energy per pixel, so for a specific part use :func:`calibrate_power` with its published
total (a catalog ``power_mw`` figure where one exists).
"""

from __future__ import annotations

from pydantic import Field

from .._spec import FrozenSpec
from .link import LinkSpec, ReadoutMode, required_gbps

#: Calibration point of the generic model: AR0130CS datasheet (see module docstring).
GENERIC_CALIBRATION = {"power_mw": 270.0, "width_px": 1280, "height_px": 720, "fps": 60.0,
                       "source": "https://www.onsemi.com/pdf/datasheet/ar0130cs-d.pdf"}


class PowerSpec(FrozenSpec):
    """Coefficients of the sensor power model (module docstring)."""

    static_mw: float = Field(50.0, ge=0, le=1e5)
    analog_nj_per_px: float = Field(2.28, ge=0, le=1e3)
    digital_nj_per_px: float = Field(1.52, ge=0, le=1e3)
    io_pj_per_bit: float = Field(5.0, ge=0, le=1e3)
    lane_mw: float = Field(2.0, ge=0, le=1e3)
    standby_mw: float = Field(2.0, ge=0, le=1e5)


def _generic() -> PowerSpec:
    c = GENERIC_CALIBRATION
    e_px_nj = (c["power_mw"] - 50.0) * 1e-3 / (c["width_px"] * c["height_px"] * c["fps"]) * 1e9
    return PowerSpec(static_mw=50.0, analog_nj_per_px=0.6 * e_px_nj,
                     digital_nj_per_px=0.4 * e_px_nj)


#: The generic model, calibrated to the AR0130CS total (3.80 nJ per pixel read).
GENERIC_POWER = _generic()


def power_breakdown_mw(mode: ReadoutMode, link: LinkSpec | None = None,
                       spec: PowerSpec = GENERIC_POWER) -> dict[str, float]:
    """Power of each part [mW] while streaming ``mode`` over ``link`` (None: no high-speed
    serial link, I/O lumped into the per-pixel energies as for the calibration part)."""
    px_rate = mode.width_px * mode.height_px * mode.fps
    out = {"static": spec.static_mw,
           "analog": spec.analog_nj_per_px * 1e-9 * px_rate * 1e3,
           "digital": spec.digital_nj_per_px * 1e-9 * px_rate * 1e3,
           "io": 0.0}
    if link is not None:
        n = link.lanes + (1 if link.phy == "dphy" else 0)     # + the D-PHY clock lane
        out["io"] = spec.io_pj_per_bit * 1e-12 * required_gbps(mode) * 1e9 * 1e3 \
            + spec.lane_mw * n
    out["total"] = sum(out.values())
    return out


def sensor_power_mw(mode: ReadoutMode, link: LinkSpec | None = None,
                    spec: PowerSpec = GENERIC_POWER) -> float:
    """Total sensor power while streaming [mW] (module docstring)."""
    return power_breakdown_mw(mode, link, spec)["total"]


def calibrate_power(total_mw: float, mode: ReadoutMode, link: LinkSpec | None = None,
                    spec: PowerSpec = GENERIC_POWER) -> PowerSpec:
    """``spec`` with its per-pixel energies scaled so that the model gives the published
    ``total_mw`` for ``mode`` (static and I/O parts kept)."""
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


__all__ = ["PowerSpec", "GENERIC_POWER", "GENERIC_CALIBRATION", "power_breakdown_mw",
           "sensor_power_mw", "calibrate_power"]
