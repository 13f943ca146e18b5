"""ShutterSpec: how and when the pixels integrate and are read out.

* ``rolling`` — row r starts (and is read) ``r·line_time_s`` after row 0.
* ``global`` — all rows integrate together, then wait in an in-pixel storage node until
  their turn to be read (row r waits ``r·line_time_s``). While waiting, the storage node
  still collects light with the parasitic light sensitivity ``pls`` (PLS, e.g. 1/5000 =
  2e-4) and dark charge at ``storage_dark_current_e_per_s``. A voltage-domain pixel
  (``pixel_domain: voltage``) reads a reset frame and subtracts it: read noise × √2.
* ``ccd`` — interline/frame-transfer CCD: all pixels integrate together; during the
  vertical transfer (``transfer_time_s`` for the whole frame) every pixel keeps being
  exposed (smear); every transfer leaves ``cti`` of the charge behind (trailing); one
  output amplifier reads everything (no column FPN).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .._spec import FrozenSpec


class ShutterSpec(FrozenSpec):
    """Shutter type and readout timing (see the module docstring)."""

    type: Literal["rolling", "global", "ccd"] = "rolling"
    line_time_s: float = Field(10e-6, gt=0, le=1e-2, description="row-to-row readout time [s]")
    pls: float = Field(2e-4, ge=0, le=1, description="global shutter parasitic light sensitivity")
    storage_dark_current_e_per_s: float = Field(0.0, ge=0, le=1e7)
    pixel_domain: Literal["charge", "voltage"] = "charge"
    transfer_time_s: float = Field(1e-3, ge=0, le=1.0, description="CCD frame transfer [s]")
    cti: float = Field(0.0, ge=0, le=0.1, description="CCD charge transfer inefficiency")
