"""LensSpec: a miniature camera lens (first version: thin lens, diffraction limited).

Later issues add Zernike aberrations, field-dependent PSFs, distortion and lateral colour.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from .._spec import FrozenSpec


class IRCutSpec(FrozenSpec):
    """Interference IR-cut filter: a logistic edge with an optical-density floor.

    T(λ) = T_pass · [1 − 1/(1 + exp(−(λ − λ_50)/w))] + T_block, with ``w = width_nm / 4.4``
    so that ``width_nm`` is the 10 %→90 % transition width.
    """

    cutoff_nm: float = Field(650.0, ge=550, le=1000, description="50 % transmission point")
    width_nm: float = Field(20.0, gt=0, le=200, description="10–90 % edge width")
    passband_transmission: float = Field(0.95, gt=0, le=1)
    blocking_transmission: float = Field(1e-3, ge=0, le=0.1)

    def transmission(self, wavelengths_nm) -> np.ndarray:
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
        w = self.width_nm / 4.394449154672439  # 2·ln(9)
        edge = 1.0 / (1.0 + np.exp(-(wl - self.cutoff_nm) / w))
        return self.passband_transmission * (1.0 - edge) + self.blocking_transmission * edge


class LensSpec(FrozenSpec):
    """A camera lens.

    Attributes carry units in their names. ``object_distance_m`` is where the lens is
    focused and where the scene plane sits (first version: always in focus).
    """

    name: str = "lens"
    focal_length_mm: float = Field(gt=0.2, le=500)
    f_number: float = Field(ge=0.5, le=64)
    transmission: float = Field(0.9, gt=0, le=1, description="flat glass/coating transmission")
    object_distance_m: float = Field(1.0, gt=0, description="distance to the scene plane [m]")
    ir_cut: IRCutSpec | None = IRCutSpec()

    @model_validator(mode="after")
    def _beyond_focal_length(self):
        if self.object_distance_m * 1e3 <= self.focal_length_mm:
            raise ValueError(f"object_distance_m = {self.object_distance_m} must exceed the "
                             f"focal length ({self.focal_length_mm} mm) to form a real image")
        return self

    @property
    def magnification(self) -> float:
        """Lateral magnification |m| = f / (d − f) of the thin lens focused at d."""
        f = self.focal_length_mm * 1e-3
        return f / (self.object_distance_m - f)

    @property
    def working_f_number(self) -> float:
        """Image-side working f-number N_w = N · (1 + m)."""
        return self.f_number * (1.0 + self.magnification)

    def spectral_transmission(self, wavelengths_nm) -> np.ndarray:
        """Total lens transmission T(λ): flat transmission × IR-cut (if fitted)."""
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
        t = np.full(wl.shape, self.transmission)
        if self.ir_cut is not None:
            t = t * self.ir_cut.transmission(wl)
        return t
