"""PixelSpec: the pixel architecture behind the spectral QE (BSI vs FSI).

Field meanings (a model for the QE, crosstalk and chief-ray-angle behaviour; the functions
that evaluate it live in :mod:`camtwin.sensor.qe`):

* ``epi_thickness_um`` — depth of silicon that collects photo-charge [µm]. BSI parts are
  thin (≈2.5–3 µm) unless NIR-enhanced (≈5–8 µm, e.g. ams OSRAM Mira, ST VD55G1);
  FSI epi is typically 4–6 µm.
* ``ar_transmission`` — transmission of the anti-reflection stack into silicon.
* ``fill_factor`` — photodiode area / pixel area (FSI only; BSI collects over the whole
  pixel, so it is 1). ``None`` = the architecture's default.
* ``microlens_efficiency`` — fraction of the light falling outside the photodiode that the
  microlens still steers into it.
* ``metal_stack_transmission`` — FSI only: light lost in the metal/dielectric stack above
  the photodiode.
* ``deep_trench_isolation`` — trenches between pixels that block optical and diffusion
  crosstalk (standard in modern BSI).
* ``crosstalk_fraction`` — fraction of each pixel's photo-charge that ends up in its four
  neighbours. ``None`` = architecture default.
* ``cra_tolerance_deg`` — Gaussian width of the QE loss when the chief ray misses the
  microlens design angle [°]; FSI's tall stack is less tolerant. ``None`` = default.
* ``design_cra_deg`` — chief-ray angle the microlens shift is designed for at the image
  corner [°]; ``None`` = matched to the lens (no CRA loss).
"""

from __future__ import annotations

from pydantic import Field

from .._spec import FrozenSpec


class PixelSpec(FrozenSpec):
    """Pixel architecture parameters (see the module docstring for each field)."""

    epi_thickness_um: float = Field(3.0, gt=0, le=50)
    ar_transmission: float = Field(0.95, gt=0, le=1)
    fill_factor: float | None = Field(None, gt=0, le=1)
    microlens_efficiency: float = Field(0.8, ge=0, le=1)
    metal_stack_transmission: float = Field(0.85, gt=0, le=1)
    deep_trench_isolation: bool = True
    crosstalk_fraction: float | None = Field(None, ge=0, le=0.5)
    cra_tolerance_deg: float | None = Field(None, gt=0, le=90)
    design_cra_deg: float | None = Field(None, ge=0, le=60)
