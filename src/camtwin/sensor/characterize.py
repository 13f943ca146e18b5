"""Colour characterisation of a sensor behind a lens, from spectra (noise-free).

* Camera neutral under illuminant S: ``n_c = Σ_λ S(λ)·T(λ)·w_c(λ)``, normalised to G = 1
  (w_c the photon-counting QE weights), i.e. the DNG ``AsShotNeutral``.
* ``xyz_to_camera`` (DNG ``ColorMatrix1``, calibration illuminant D65): the 3×3 least-squares
  map from CIE 1931 XYZ of the 24 ColorChecker patches under D65 to the camera's responses,
  scaled so that D65 white (Y = 1) maps to a camera neutral whose largest entry is 1
  (Adobe DNG Specification 1.4, "Camera to XYZ (D50) Transform").
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..spectra import DEFAULT_WAVELENGTHS_NM, cie1931_cmfs, illuminant_spd
from ..units import wavelength_step_nm
from .response import electron_weights


@lru_cache(maxsize=32)
def camera_characterization(sensor, lens, illuminant: str):
    """Return ``(as_shot_neutral (3-tuple), xyz_to_camera (3, 3))`` or ``(None, None)`` for
    a mono sensor. Cached per (sensor, lens, illuminant); specs are frozen and hashable."""
    if sensor.cfa == "mono":
        return None, None
    from ..scene.charts import colorchecker_reflectances

    wl = DEFAULT_WAVELENGTHS_NM
    w = electron_weights(sensor, wl, transmission=lens.spectral_transmission(wl))  # (L, 3)
    s = illuminant_spd(illuminant, wl)
    neutral = s @ w
    neutral = tuple(float(v) for v in neutral / neutral[1])

    d65 = illuminant_spd("D65", wl)
    refl = colorchecker_reflectances(wl)  # (24, L)
    cam = (refl * d65) @ w  # (24, 3)
    cmf = cie1931_cmfs(wl) * wavelength_step_nm(wl)[:, None]
    k = 1.0 / (d65 @ cmf[:, 1])
    xyz = (refl * d65) @ cmf * k  # (24, 3), Y(white diffuser) = 1
    m, *_ = np.linalg.lstsq(xyz, cam, rcond=None)  # cam ≈ xyz @ m
    xyz_to_cam = m.T
    white_cam = xyz_to_cam @ ((d65 @ cmf) * k)
    xyz_to_cam = xyz_to_cam / white_cam.max()
    xyz_to_cam.setflags(write=False)
    return neutral, xyz_to_cam
