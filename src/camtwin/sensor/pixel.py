"""PixelSpec: the pixel architecture behind the spectral QE, crosstalk and CRA response.

The functions that evaluate these fields live in :mod:`camtwin.sensor.qe` (spectral QE) and
:mod:`camtwin.sensor.optical` (crosstalk kernel, chief-ray-angle response). A field left at
``None`` takes the default of the sensor's illumination architecture (``"bsi"`` or
``"fsi"``, :attr:`SensorSpec.illumination`), listed in :data:`ARCHITECTURE_DEFAULTS` with
the reasoning behind each value.

Silicon and charge collection
-----------------------------
* ``epi_thickness_um`` [µm] — depth of silicon that collects photo-charge, d. BSI parts
  are thinned to ≈2.5–4 µm (TechInsights, IISW 2019: 2.5–3.9 µm active Si in 1.0 µm DTI
  pixels) unless NIR-enhanced (≈5–8 µm, e.g. ams OSRAM Mira, ST VD55G1; Tower's 2.2 µm BSI
  GS pixel uses 8.5 µm, Sensors 25, 6997 (2025)); FSI epi is typically 4–6 µm.
* ``dead_layer_um`` [µm] — width W of the surface layer (from the illuminated surface)
  where photo-charge is only partly collected: FSI the p⁺ pinning implant and junction
  region under the gate oxide; BSI the passivated back surface (a few nm to tens of nm).
  ``None`` = architecture default.
* ``dead_layer_collection`` — collection probability η₀ at the illuminated surface (0..1);
  it rises linearly to 1 at depth W (Stern, Shing & Blouke 1994). 0 = fully dead surface.
* ``nir_path_factor`` — optical path multiplier m ≥ 1 for weakly absorbed (red/NIR) light:
  1 = single pass; ≈2 with a reflector behind the silicon; 2–6 with the diffractive
  (pyramid) back-surface structures of NIR-enhanced BSI pixels (Oshiyama et al., IEDM
  2017). Bounded by the Yablonovitch 4n² ≈ 50 light-trapping limit.

Optics above the silicon
------------------------
* ``ar_transmission`` — transmission into silicon of the anti-reflection stack: flat
  (all wavelengths) when ``ar_design_nm`` is None, otherwise its value at ``ar_design_nm``.
* ``ar_design_nm`` [nm] — if set, the AR stack is modelled as one quarter-wave film of index
  ``ar_index`` designed for this wavelength (spectral ripple from thin-film interference).
* ``ar_index`` — refractive index of that film (2.0 ≈ Si₃N₄ / HfO₂).
* ``fill_factor`` — photodiode (or light-shield aperture) area / pixel area. ``None`` =
  architecture default: FSI 0.5; BSI 1.0 (the whole back surface collects). A BSI
  global-shutter pixel with a light shield over its storage node has < 1.
* ``microlens_efficiency`` — fraction of the light falling outside the aperture that a
  large-pixel microlens still steers into it (its diffraction-limited spot is handled
  separately from the pitch, see :func:`camtwin.sensor.qe.optical_efficiency`).
* ``stack_height_um`` [µm] — optical stack between microlens and silicon surface (the
  microlens focal distance). ``None`` = default: FSI 3.0 (metal + dielectric layers), BSI
  1.0 (colour filter + planarisation).
* ``metal_stack_transmission`` — FSI only: mean transmission of the metal/dielectric stack
  above the photodiode (absorption, scatter; its thin-film fringes average out, see qe).

Crosstalk and angle
-------------------
* ``deep_trench_isolation`` — trenches between pixels that block optical and diffusion
  crosstalk (backside/full DTI of modern BSI processes; no effect for FSI).
* ``crosstalk_fraction`` — fraction of each pixel's photo-charge (for green light) that ends
  up in its four nearest neighbours. ``None`` = architecture default scaled with pitch.
* ``cra_tolerance_deg`` [°] — standard deviation σ of the Gaussian QE loss when the chief ray
  misses the microlens design angle. ``None`` = default (BSI more tolerant than FSI).
* ``design_cra_deg`` [°] — chief-ray angle the microlens shift is designed for at the image
  corner (the shift is linear in image height). ``None`` = matched to the lens (no loss).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from .._spec import FrozenSpec

#: Values taken by ``None`` fields, per illumination architecture, and why:
#:
#: * ``fill_factor`` — FSI 0.5: the photodiode shares the pixel with 3–4 transistors and
#:   metal routing (typical 4T FSI pixels report 30–60 %); BSI 1.0: the light enters the
#:   back side, the circuitry sits under the photodiode.
#: * ``dead_layer_um`` — FSI 0.15 µm: depth of the p⁺ pinning implant of a pinned
#:   photodiode (≈0.1–0.2 µm); BSI 0.01 µm: a passivated back surface (negative-charge
#:   HfO₂/Al₂O₃ field-effect passivation) loses charge only in the first ≈10 nm.
#: * ``stack_height_um`` — FSI 3.0 µm (three to four Cu levels and dielectrics, Catrysse &
#:   Wandell 2002 discuss the "optical tunnel"); BSI 1.0 µm (filter + planarisation only).
#: * ``cra_tolerance_deg`` (σ) — FSI 12°: the microlens must focus through the tall
#:   tunnel, relative response ≈ 50 % at ≈14° mismatch; BSI 20° (≈ 50 % at ≈24°): short
#:   stack. Representative values in the range reported for angular response of 1.4–3 µm
#:   pixels (e.g. Agranov et al., IEEE TED 50(1), 2003; Huo et al., Opt. Express 18(6),
#:   2010); replace with a measured angular response where known.
ARCHITECTURE_DEFAULTS: dict[str, dict[str, float]] = {
    "bsi": {"fill_factor": 1.0, "dead_layer_um": 0.01, "stack_height_um": 1.0,
            "cra_tolerance_deg": 20.0},
    "fsi": {"fill_factor": 0.5, "dead_layer_um": 0.15, "stack_height_um": 3.0,
            "cra_tolerance_deg": 12.0},
}


class PixelSpec(FrozenSpec):
    """Pixel architecture parameters (see the module docstring for each field and unit)."""

    epi_thickness_um: float = Field(3.0, gt=0, le=50)
    dead_layer_um: float | None = Field(None, ge=0, le=5)
    dead_layer_collection: float = Field(0.0, ge=0, le=1)
    nir_path_factor: float = Field(1.0, ge=1, le=50)
    ar_transmission: float = Field(0.95, gt=0, le=1)
    ar_design_nm: float | None = Field(None, ge=350, le=1100)
    ar_index: float = Field(2.0, ge=1.2, le=3.0)
    fill_factor: float | None = Field(None, gt=0, le=1)
    microlens_efficiency: float = Field(0.8, ge=0, le=1)
    stack_height_um: float | None = Field(None, gt=0, le=20)
    metal_stack_transmission: float = Field(0.85, gt=0, le=1)
    deep_trench_isolation: bool = True
    crosstalk_fraction: float | None = Field(None, ge=0, le=0.5)
    cra_tolerance_deg: float | None = Field(None, gt=0, le=90)
    design_cra_deg: float | None = Field(None, ge=0, le=60)

    @model_validator(mode="after")
    def _dead_layer_inside_epi(self):
        if self.dead_layer_um is not None and self.dead_layer_um >= self.epi_thickness_um:
            raise ValueError(f"dead_layer_um = {self.dead_layer_um} must be thinner than "
                             f"epi_thickness_um = {self.epi_thickness_um}")
        return self

    def resolved(self, illumination: str, name: str) -> float:
        """The value of field ``name``, or the ``illumination`` default when it is None."""
        value = getattr(self, name)
        return ARCHITECTURE_DEFAULTS[illumination][name] if value is None else float(value)
