"""capture(): OpticalImage → RawFrame (first-version sensor model).

Per pixel p with colour channel c(p), exposure t [s]:

    ė(p)   = A_pix · ⟨Σ_λ E(λ, x) · T_f(λ) · QE_c(λ) · λ/(hc) · Δλ⟩_pixel        [e⁻/s]
    μ(p)   = ė(p)·t + I_dark·t                                                   [e⁻]
    n(p)   ~ Poisson(μ(p))         (photon + dark shot noise, exact for any mean)
    n(p)   = min(n(p), FWC)        (full well)
    v(p)   = n(p) + N(0, σ_read²)
    DN(p)  = clip(round(K·v(p) + black), 0, 2^bits − 1),   K = conversion gain × analog gain

⟨·⟩_pixel is the exact area average of the piecewise-constant optical image over the pixel
aperture (100 % fill factor; a later issue adds fill factor, crosstalk and CRA). Pixels
outside the optical image receive no light.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import sparse

from ..errors import ConfigError
from ..optics.image import OpticalImage
from ..raw.frame import RawFrame, cfa_channel_index
from .characterize import camera_characterization
from .response import electron_weights
from .spec import SensorSpec


def _overlap_matrix(n_out: int, pitch_out: float, n_in: int, pitch_in: float) -> sparse.csr_matrix:
    """Rows: output cells, columns: input cells, entries: overlap length / output pitch.

    Both grids are centred on 0. Multiplying averages a piecewise-constant input over each
    output cell (exact; conserves ∫ within the common support).
    """
    e_out = (np.arange(n_out + 1) - n_out / 2.0) * pitch_out
    e_in = (np.arange(n_in + 1) - n_in / 2.0) * pitch_in
    # candidate input cells for each output cell
    first = np.clip(np.searchsorted(e_in, e_out[:-1], side="right") - 1, 0, n_in - 1)
    last = np.clip(np.searchsorted(e_in, e_out[1:], side="left") - 1, 0, n_in - 1)
    span = int(np.max(last - first)) + 1 if n_out else 1
    rows = np.repeat(np.arange(n_out), span)
    cols = (first[:, None] + np.arange(span)[None, :]).ravel()
    ok = cols <= np.repeat(last, span)
    rows, cols = rows[ok], cols[ok]
    lo = np.maximum(e_out[rows], e_in[cols])
    hi = np.minimum(e_out[rows + 1], e_in[cols + 1])
    vals = np.clip(hi - lo, 0.0, None) / pitch_out
    keep = vals > 0
    return sparse.csr_matrix((vals[keep].astype(np.float32), (rows[keep], cols[keep])),
                             shape=(n_out, n_in))


def electron_rate(oi: OpticalImage, sensor: SensorSpec) -> np.ndarray:
    """Expected photo-electron rate per pixel [e⁻/s], shape (H, W) float32 (CFA applied)."""
    w = electron_weights(sensor, oi.wavelengths_nm).astype(np.float32)  # (L, C)
    n_b, h_oi, w_oi = oi.irradiance.shape
    density = (w.T @ oi.irradiance.reshape(n_b, -1)).reshape(-1, h_oi, w_oi)  # e⁻/s/m²
    ry = _overlap_matrix(sensor.height_px, sensor.pixel_pitch_um, h_oi, oi.sample_pitch_um)
    rx = _overlap_matrix(sensor.width_px, sensor.pixel_pitch_um, w_oi, oi.sample_pitch_um)
    area = np.float32(sensor.pixel_area_m2)
    planes = [(ry @ (rx @ plane.T).T) * area for plane in density]  # (H, W) each
    if len(planes) == 1:
        return np.ascontiguousarray(planes[0], dtype=np.float32)
    idx = cfa_channel_index(sensor.cfa, (sensor.height_px, sensor.width_px))
    out = np.choose(idx, planes)
    return out.astype(np.float32, copy=False)


def auto_exposure_s(oi: OpticalImage, sensor: SensorSpec, *, percentile: float = 99.0,
                    target_fraction: float = 0.6, max_exposure_s: float = 0.033,
                    min_exposure_s: float = 10e-6) -> float:
    """Exposure that puts the ``percentile`` of the expected signal at ``target_fraction`` of
    the usable range (min of full well and ADC range), clamped to [min, max] exposure."""
    rate = electron_rate(oi, sensor)
    usable_e = min(sensor.effective_full_well_e,
                   (sensor.white_level_dn - sensor.black_level_dn) / sensor.system_gain_dn_per_e)
    p = float(np.percentile(rate, percentile)) + sensor.dark_current_at()
    if p <= 0:
        return max_exposure_s
    return float(np.clip(target_fraction * usable_e / p, min_exposure_s, max_exposure_s))


def layout_to_pixels(layout: dict, oi: OpticalImage, sensor: SensorSpec) -> dict:
    """Map layout boxes (fractions of the optical image) to integer pixel boxes."""
    out = {}
    for key, boxes in layout.items():
        px = []
        for y0, y1, x0, x1 in boxes:
            def row(f):
                return (f - 0.5) * oi.height_um / sensor.pixel_pitch_um + sensor.height_px / 2
            def col(f):
                return (f - 0.5) * oi.width_um / sensor.pixel_pitch_um + sensor.width_px / 2
            px.append(tuple(int(round(v)) for v in (row(y0), row(y1), col(x0), col(x1))))
        out[key] = px
    return out


def _as_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ConfigError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def capture(oi: OpticalImage, sensor: SensorSpec, exposure_s: float, rng) -> RawFrame:
    """Expose ``sensor`` to ``oi`` for ``exposure_s`` seconds and read it out.

    Parameters
    ----------
    oi : OpticalImage
    sensor : SensorSpec
    exposure_s : float
        Integration time [s], > 0.
    rng : numpy.random.Generator or int
        Source of all temporal noise; the same seed gives the same frame.

    Returns
    -------
    RawFrame
        With ``mean_electrons`` ground truth (expected e⁻ before noise and clipping).
    """
    if not (np.isfinite(exposure_s) and exposure_s > 0):
        raise ConfigError(f"exposure_s = {exposure_s}: must be > 0")
    gen = _as_rng(rng)
    mean_e = electron_rate(oi, sensor) * np.float32(exposure_s)
    mean_e += np.float32(sensor.dark_current_at() * exposure_s)
    electrons = gen.poisson(mean_e).astype(np.float32)
    np.minimum(electrons, np.float32(sensor.effective_full_well_e), out=electrons)
    if sensor.effective_read_noise_e > 0:
        electrons += gen.standard_normal(electrons.shape, dtype=np.float32) * np.float32(
            sensor.effective_read_noise_e)
    k = sensor.system_gain_dn_per_e
    dn = np.rint(electrons * np.float32(k) + np.float32(sensor.black_level_dn))
    np.clip(dn, 0, sensor.white_level_dn, out=dn)
    neutral, xyz_to_cam = (None, None)
    if oi.illuminant is not None:
        neutral, xyz_to_cam = camera_characterization(sensor, oi.lens, oi.illuminant)
    return RawFrame(
        dn=dn.astype(np.uint16), cfa=sensor.cfa, black_level_dn=float(sensor.black_level_dn),
        white_level_dn=sensor.white_level_dn, exposure_s=float(exposure_s),
        conversion_gain_dn_per_e=float(k), analog_gain=sensor.analog_gain,
        temperature_c=sensor.temperature_c, pixel_pitch_um=sensor.pixel_pitch_um,
        illuminant=oi.illuminant, as_shot_neutral=neutral, xyz_to_camera=xyz_to_cam,
        sensor=sensor, mean_electrons=mean_e,
        metadata={"scene": oi.scene_name, "illuminance_lux": oi.illuminance_lux,
                  "layout_px": layout_to_pixels(oi.layout, oi, sensor)})
