"""Colour characterisation of a sensor behind a lens, from spectra (noise-free).

* Camera neutral under illuminant S: ``n_c = Σ_λ S(λ)·T(λ)·w_c(λ)``, normalised to the
  second channel = 1 (w_c the photon-counting QE weights), i.e. the DNG ``AsShotNeutral``.
* ``xyz_to_camera`` (DNG ``ColorMatrix1``, calibration illuminant D65): the 3×3 least-squares
  map from CIE 1931 XYZ of the 24 ColorChecker patches under D65 to the camera's responses,
  scaled so that D65 white (Y = 1) maps to a camera neutral whose largest entry is 1
  (Adobe DNG Specification 1.4, "Camera to XYZ (D50) Transform").

What "camera channels" means per CFA layout (the same three channels the ISP white-balances):

* Bayer (all phases), Quad Bayer: (R, G, B).
* RCCB: (R, C, B) — the native channels; the neutral is normalised to C = 1 and the matrix
  maps XYZ to (R, C, B), as a DNG with CFAPlaneColor (R, White, B) declares it. The ISP's
  C → G estimate (:func:`clear_to_green_weights`) comes after white balance.
* RGB-IR: the IR-corrected (R', G', B') = (R, G, B) − k·IR that the ISP produces before
  white balance, k = :func:`ir_leakage` of the sensor alone (per-channel NIR leakage from
  the filter spectra; the ISP does not know the lens, so neither does k).
* mono: no colour — ``(None, None)``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..spectra import DEFAULT_WAVELENGTHS_NM, cie1931_cmfs, illuminant_spd
from ..units import wavelength_step_nm
from .response import electron_weights

#: Band [nm] over which the NIR leakage of R, G, B relative to the IR pixel is measured: the
#: IR pixel's filter passes from ≈780 nm; below 750 nm it is black.
NIR_BAND_NM = (780.0, 1000.0)


def flat_field_weights(sensor, wavelengths_nm, transmission=None) -> np.ndarray:
    """(L, C) photon-counting weights of each channel *as measured in a flat field*: the
    pixel's own weights (:func:`camtwin.sensor.response.electron_weights`) mixed by the
    inter-pixel crosstalk (:func:`camtwin.sensor.optical.flat_field_mixing`)."""
    from .optical import flat_field_mixing

    w = electron_weights(sensor, wavelengths_nm, transmission=transmission)
    return w @ flat_field_mixing(sensor).T


def _nir_weights(wl: np.ndarray, transmission) -> np.ndarray:
    t = np.ones_like(wl) if transmission is None else np.asarray(transmission, dtype=np.float64)
    return np.where((wl >= NIR_BAND_NM[0]) & (wl <= NIR_BAND_NM[1]), t, 0.0)


def ir_leakage_from_weights(weights, wavelengths_nm, transmission=None) -> np.ndarray:
    """NIR leakage k_c of (R, G, B) relative to IR from (L, 4) channel weights (R, G, B, IR).

    ``k_c = Σ_λ u(λ) w_c(λ) w_IR(λ) / Σ_λ u(λ) w_IR(λ)²`` — the least-squares scale that best
    predicts the NIR part of channel c from the IR pixel, over the NIR band
    (:data:`NIR_BAND_NM`) weighted by the lens transmission u (flat if None). Returns (3,).
    """
    w = np.asarray(weights, dtype=np.float64)
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    u = _nir_weights(wl, transmission)
    ir = w[:, 3]
    den = float(np.sum(u * ir * ir))
    if den <= 0:
        return np.zeros(3)
    return np.array([float(np.sum(u * w[:, c] * ir)) / den for c in range(3)])


@functools.lru_cache(maxsize=32)
def ir_leakage(sensor, lens=None) -> tuple[float, float, float]:
    """NIR leakage (k_R, k_G, k_B) of an RGB-IR sensor: R, G, B pixels see k_c × the IR signal
    of the NIR light (see :func:`ir_leakage_from_weights`); ``lens`` (optional) weights the
    NIR band by its transmission. Cached per (sensor, lens).

    Raises
    ------
    ConfigError
        If the sensor's channels are not (R, G, B, IR).
    """
    from ..errors import ConfigError

    if tuple(sensor.channels) != ("R", "G", "B", "IR"):
        raise ConfigError(f"ir_leakage needs an RGB-IR sensor, got cfa = {sensor.cfa!r}")
    wl = DEFAULT_WAVELENGTHS_NM
    t = None if lens is None else lens.spectral_transmission(wl)
    k = ir_leakage_from_weights(flat_field_weights(sensor, wl), wl, t)
    return tuple(float(x) for x in k)


def clear_to_green_weights_from_responses(cam_rcb, cam_g) -> tuple[float, float, float]:
    """White-balanced C → G weights (w_R, w_G, w_B) from patch responses.

    ``cam_rcb`` (N, 3) are the (R, C, B) responses of N patches and ``cam_g`` (N,) the
    response a green pixel would give; patch 0 must be the white. The clear response is
    modelled as ``C ≈ x_R R + x_G G + x_B B`` (least squares over the patches); in white-
    balanced units (white = 1 in every channel) this becomes ``C' = w_R R' + w_G G' + w_B B'``
    with ``w_c = x_c · c_white / C_white`` (so that the white gives C' = 1 when
    Σ w = 1), and the ISP estimates ``G' = (C' − w_R R' − w_B B') / w_G``. The weights are
    renormalised to sum to 1 so a neutral stays exactly neutral.
    """
    cam = np.asarray(cam_rcb, dtype=np.float64)
    g = np.asarray(cam_g, dtype=np.float64)
    a = np.stack([cam[:, 0], g, cam[:, 2]], axis=1)
    x, *_ = np.linalg.lstsq(a, cam[:, 1], rcond=None)
    white = np.array([cam[0, 0], g[0], cam[0, 2]])
    w = x * white / cam[0, 1]
    w = w / w.sum()
    return float(w[0]), float(w[1]), float(w[2])


@functools.lru_cache(maxsize=32)
def clear_to_green_weights(sensor, lens=None, illuminant: str = "D65") -> tuple[float, float, float]:
    """(w_R, w_G, w_B) of an RCCB sensor's clear channel in white-balanced units.

    The green a Bayer pixel of the same silicon would measure is modelled as the bare-pixel
    QE (the C channel's QE, which has no filter) × the generic green pigment. The fit uses
    the white and the 24 ColorChecker patches under ``illuminant`` behind ``lens`` (flat if
    None). See :func:`clear_to_green_weights_from_responses`.
    """
    from ..errors import ConfigError
    from ..scene.charts import colorchecker_reflectances
    from .qe import cfa_filter_transmission

    if tuple(sensor.channels) != ("R", "C", "B"):
        raise ConfigError(f"clear_to_green_weights needs an RCCB sensor, got cfa = {sensor.cfa!r}")
    wl = DEFAULT_WAVELENGTHS_NM
    t = None if lens is None else lens.spectral_transmission(wl)
    w = flat_field_weights(sensor, wl, transmission=t)               # (L, 3): R, C, B
    bare = electron_weights(sensor, wl, transmission=t)[:, 1]       # C: no filter
    w_g = bare * cfa_filter_transmission(("G",), wl)[:, 0]
    s = illuminant_spd(illuminant, wl)
    refl = np.vstack([np.ones((1, wl.size)), colorchecker_reflectances(wl)])  # white first
    lit = refl * s
    return clear_to_green_weights_from_responses(lit @ w, lit @ w_g)


def _colour_weights(sensor, lens, wl) -> np.ndarray:
    """(L, 3) weights of the three camera channels the ISP white-balances (module doc)."""
    t = lens.spectral_transmission(wl)
    w = flat_field_weights(sensor, wl, transmission=t)
    if tuple(sensor.channels) == ("R", "G", "B", "IR"):
        # the ISP knows the sensor but not the lens: use the same (lens-free) k it uses
        k = np.asarray(ir_leakage(sensor))
        return w[:, :3] - w[:, 3:4] * k[None, :]
    return w


@functools.lru_cache(maxsize=32)
def camera_characterization(sensor, lens, illuminant: str):
    """Return ``(as_shot_neutral (3-tuple), xyz_to_camera (3, 3))`` or ``(None, None)`` for
    a mono sensor. Cached per (sensor, lens, illuminant); specs are frozen and hashable.

    The three channels are those listed in the module docstring for each CFA layout."""
    if sensor.cfa == "mono":
        return None, None
    from ..scene.charts import colorchecker_reflectances

    wl = DEFAULT_WAVELENGTHS_NM
    w = _colour_weights(sensor, lens, wl)  # (L, 3)
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
