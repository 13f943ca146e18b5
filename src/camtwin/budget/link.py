"""MIPI CSI-2 link budget: the readout data rate of a sensor mode against the link.

Data rate of a mode (bits per second on the wire, all lanes together)::

    R = [8·⌈W·b/8⌉ + 8·O_line] · (W + HB)/W · (H + VB) · fps + 8·O_frame · fps

* ``W × H`` active pixels per line × lines, ``b`` bits per pixel (RAW10: 10);
* ``HB`` horizontal blanking [pixels]: the part of each line period the sensor does not
  send (the line's data must fit in the rest, so it is sent ``(W + HB)/W`` times faster
  than its average; ``HB = 0``: a line-buffered output spreads each line over the whole
  line period); ``VB`` vertical blanking [lines] — with both, ``R`` is the familiar
  ``(W + HB)·(H + VB)·b·fps`` of sensor vendors' and SoC makers' bandwidth notes plus the
  packet overhead below;
* ``O_line`` CSI-2 protocol bytes per line: one *long packet* per line carries the
  pixel data between a 4-byte packet header (data identifier, 16-bit word count, ECC) and
  a 2-byte packet footer (CRC-16), so 6 bytes; optional line-start / line-end *short
  packets* (4 bytes each) add 8 more (``line_sync_packets``);
* ``O_frame`` = 8 bytes: the frame-start and frame-end short packets.

Reference: MIPI Alliance, *Specification for Camera Serial Interface 2 (CSI-2)* v1.3–v3.0,
§9 "Low Level Protocol": long packet = 32-bit header + payload + 16-bit footer (§9.1.1);
short packet = 32 bits (§9.1.2); frame start/end and line start/end are the
synchronization short packets (data types 0x00–0x03). Lane distribution (§8) stripes the packet bytes over the lanes, so the lanes share
``R`` equally. Not modelled: the D-PHY low-power ↔ high-speed transitions between packets
(SoT/EoT, a few hundred ns per line, which the horizontal blanking normally covers) and
embedded-data / PDAF lines (add them to ``v_blank_lines`` as extra sent lines if needed).

Link capacity::

    D-PHY: C = N_lanes · r_lane             (r_lane in Gb/s per data lane, 8 bits/byte, no
                                             line coding; v1.2: ≤ 2.5, v2.0–2.5: ≤ 4.5 Gb/s)
    C-PHY: C = N_trios · r_sym · 16/7       (r_sym in Gsym/s per trio; 16 bits per 7
                                             symbols = 2.28 bits/symbol; v1.0: ≤ 2.5,
                                             v1.2: ≤ 3.5, v2.0: ≤ 6 Gsym/s)

(MIPI Alliance D-PHY and C-PHY specifications: the C-PHY maps each 16-bit word onto 7
three-level symbols of a trio.) Lane counts: 1–4 data lanes (D-PHY), 1–3 trios (C-PHY),
what CSI-2 image sensors use.

Example::

    >>> from camtwin.budget import LinkSpec, ReadoutMode, link_max_fps
    >>> link = LinkSpec(phy="dphy", lanes=4, lane_rate_gbps=0.891)   # IMX415, Linux driver
    >>> mode = ReadoutMode(width_px=3864, height_px=2192, bits_per_pixel=10, fps=30,
    ...                    v_blank_lines=58)
    >>> round(link_max_fps(mode, link), 2)
    40.94

The maximum frame rate the link allows is ``C / (R/fps)`` (the bits of one frame, blanking
included); a mode whose ``R > C`` cannot be streamed: :func:`check_link` raises a one-line
:class:`~camtwin.errors.ConfigError` naming the mode, the Gb/s it needs and the link's.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from .._spec import FrozenSpec
from ..errors import ConfigError

#: CSI-2 long-packet header + footer [bytes] (MIPI CSI-2 §9.1.1: 4-byte PH, 2-byte PF).
LONG_PACKET_OVERHEAD_BYTES = 6
#: One CSI-2 short packet [bytes] (§9.1.2): FS, FE, LS, LE.
SHORT_PACKET_BYTES = 4
#: C-PHY mapping: 16 bits per 7 symbols (2.2857 bits/symbol).
CPHY_BITS_PER_SYMBOL = 16.0 / 7.0
#: Valid lane (D-PHY) / trio (C-PHY) counts.
LANE_RANGE = {"dphy": (1, 4), "cphy": (1, 3)}


class LinkSpec(FrozenSpec):
    """A CSI-2 link: PHY, number of data lanes (D-PHY) or trios (C-PHY) and per-lane rate.

    ``lane_rate_gbps``: D-PHY bit rate per data lane [Gb/s] (twice the DDR link frequency
    of a Linux driver); C-PHY symbol rate per trio [Gsym/s].
    """

    phy: Literal["dphy", "cphy"] = "dphy"
    lanes: int = Field(4, ge=1, le=4,
                       description="data lanes (D-PHY, 1..4) or trios (C-PHY, 1..3)")
    lane_rate_gbps: float = Field(1.5, gt=0, le=10.0,
                                  description="Gb/s per lane (D-PHY) or Gsym/s per trio")

    @field_validator("lanes")
    @classmethod
    def _lanes_for_phy(cls, v: int, info: ValidationInfo) -> int:
        lo, hi = LANE_RANGE.get(info.data.get("phy", "dphy"), (1, 4))
        if not lo <= v <= hi:
            unit = "data lanes" if info.data.get("phy") != "cphy" else "trios"
            raise ValueError(f"valid range for {info.data.get('phy')} is {lo}..{hi} {unit}")
        return v

    @property
    def capacity_gbps(self) -> float:
        """Payload capacity of the link [Gb/s] (see the module docstring)."""
        if self.phy == "cphy":
            return self.lanes * self.lane_rate_gbps * CPHY_BITS_PER_SYMBOL
        return self.lanes * self.lane_rate_gbps

    def describe(self) -> str:
        if self.phy == "cphy":
            return (f"{self.lanes}-trio C-PHY at {self.lane_rate_gbps:g} Gsym/s/trio = "
                    f"{self.capacity_gbps:.3f} Gb/s")
        return (f"{self.lanes}-lane D-PHY at {self.lane_rate_gbps:g} Gb/s/lane = "
                f"{self.capacity_gbps:.3f} Gb/s")


class ReadoutMode(FrozenSpec):
    """A sensor output mode: active size, bits per pixel, frame rate and blanking."""

    name: str = "mode"
    width_px: int = Field(gt=0, le=20000)
    height_px: int = Field(gt=0, le=20000)
    bits_per_pixel: int = Field(10, ge=6, le=32, description="RAW6…RAW20, 24-bit HDR")
    fps: float = Field(30.0, gt=0, le=1e5)
    h_blank_px: int = Field(0, ge=0, le=100000)
    v_blank_lines: int = Field(0, ge=0, le=100000)
    line_sync_packets: bool = False
    reads_per_pixel: int = Field(1, ge=1, le=8, description=(
        "ADC conversions per output pixel (HDR components read and combined on the sensor); "
        "used by the power model, not by the link"))

    def describe(self) -> str:
        return (f"{self.name} {self.width_px}x{self.height_px} RAW{self.bits_per_pixel} "
                f"@ {self.fps:g} fps")


def line_bits(mode: ReadoutMode) -> float:
    """Bits sent for one active line: payload rounded up to whole bytes + packet overhead."""
    payload_bytes = math.ceil(mode.width_px * mode.bits_per_pixel / 8)
    overhead = LONG_PACKET_OVERHEAD_BYTES + (2 * SHORT_PACKET_BYTES if mode.line_sync_packets
                                             else 0)
    return 8.0 * (payload_bytes + overhead)


def frame_bits(mode: ReadoutMode) -> float:
    """Link bits per frame period, blanking included (R / fps)."""
    lines = mode.height_px + mode.v_blank_lines
    stretch = (mode.width_px + mode.h_blank_px) / mode.width_px
    return line_bits(mode) * stretch * lines + 8.0 * 2 * SHORT_PACKET_BYTES


def required_gbps(mode: ReadoutMode) -> float:
    """Data rate the mode needs on the link [Gb/s] (module docstring)."""
    return frame_bits(mode) * mode.fps / 1e9


def link_utilisation(mode: ReadoutMode, link: LinkSpec) -> float:
    """Needed / available data rate (≤ 1: the mode can be streamed)."""
    return required_gbps(mode) / link.capacity_gbps


def link_max_fps(mode: ReadoutMode, link: LinkSpec) -> float:
    """Highest frame rate the link carries for this mode's size, bits and blanking [fps]."""
    return link.capacity_gbps * 1e9 / frame_bits(mode)


def check_link(mode: ReadoutMode, link: LinkSpec) -> float:
    """Return the utilisation, or raise a one-line ConfigError if the mode cannot stream."""
    u = link_utilisation(mode, link)
    if u > 1.0:
        raise ConfigError(
            f"mode {mode.describe()} cannot be streamed: it needs "
            f"{required_gbps(mode):.3f} Gb/s but the link ({link.describe()}) carries "
            f"{link.capacity_gbps:.3f} Gb/s (max {link_max_fps(mode, link):.2f} fps)")
    return u


def readout_limited_fps(sensor) -> float:
    """The sensor's own frame rate 1/(H·t_line) (+ CCD transfer), as ``frame_rate_fps``."""
    t = sensor.height_px * sensor.shutter.line_time_s
    if sensor.shutter.type == "ccd":
        t += sensor.shutter.transfer_time_s
    return 1.0 / t


def mode_for(sensor, *, fps: float | None = None, bits_per_pixel: int | None = None,
             h_blank_px: int = 0, v_blank_lines: int = 0) -> ReadoutMode:
    """The full-resolution output mode of a :class:`~camtwin.sensor.spec.SensorSpec`.

    ``bits_per_pixel`` defaults to the sensor's ``adc_bits`` (RAW10/RAW12 output), ``fps``
    to its readout-limited frame rate. An HDR sensor (``sensor.hdr``) is taken to combine
    its components on the chip and send one stream of ``bits_per_pixel`` (give the width
    of its PWL output if it differs); each component is one ADC read (``reads_per_pixel``,
    for the power model). Line-interleaved output of every exposure is not modelled.
    """
    reads = sensor.hdr.n_components if sensor.hdr is not None else 1
    return ReadoutMode(name=sensor.name, width_px=sensor.width_px, height_px=sensor.height_px,
                       bits_per_pixel=bits_per_pixel or sensor.adc_bits,
                       fps=fps or readout_limited_fps(sensor), h_blank_px=h_blank_px,
                       v_blank_lines=v_blank_lines, reads_per_pixel=max(1, min(reads, 8)))


def catalog_link(sensor_name: str) -> LinkSpec | None:
    """The published CSI-2 link of a catalog sensor (figures ``interface``, ``mipi_lanes``,
    ``mipi_lane_rate_gbps``), or None when the sensor is not in the catalog or its link is
    not published."""
    from ..catalog.loader import get_sensor

    try:
        entry = get_sensor(sensor_name)
    except (KeyError, ValueError):
        return None
    iface = entry.value("interface")
    lanes, rate = entry.value("mipi_lanes"), entry.value("mipi_lane_rate_gbps")
    if iface not in ("mipi_dphy", "mipi_cphy") or lanes is None or rate is None:
        return None
    return LinkSpec(phy=iface.removeprefix("mipi_"), lanes=int(lanes),
                    lane_rate_gbps=float(rate))


def module_link(module, *, phy=None, lanes=None, lane_rate_gbps=None) -> LinkSpec | None:
    """The link of a module: explicit arguments win over the catalog figures; None when
    neither gives a complete link."""
    cat = catalog_link(module.sensor.name)
    if lanes is None and lane_rate_gbps is None and phy is None:
        return cat
    base = cat.model_dump() if cat is not None else {}
    for k, v in (("phy", phy), ("lanes", lanes), ("lane_rate_gbps", lane_rate_gbps)):
        if v is not None:
            base[k] = v
    if "lanes" not in base or "lane_rate_gbps" not in base:
        return None
    return LinkSpec(**base)


def check_module_link(module, *, fps: float | None = None,
                      bits_per_pixel: int | None = None, h_blank_px: int = 0,
                      v_blank_lines: int = 0, link: LinkSpec | None = None) -> float | None:
    """Check that a module's full-resolution mode streams over its link (``link`` or the
    catalog sensor's published one): the utilisation, None when no link is known, or a
    one-line :class:`ConfigError` naming the mode, the Gb/s it needs and the link's."""
    link = link if link is not None else module_link(module)
    if link is None:
        return None
    mode = mode_for(module.sensor, fps=fps, bits_per_pixel=bits_per_pixel,
                    h_blank_px=h_blank_px, v_blank_lines=v_blank_lines)
    return check_link(mode, link)


__all__ = ["check_module_link", "LinkSpec", "ReadoutMode", "line_bits", "frame_bits", "required_gbps",
           "link_utilisation", "link_max_fps", "check_link", "mode_for", "catalog_link",
           "module_link", "readout_limited_fps", "CPHY_BITS_PER_SYMBOL"]
