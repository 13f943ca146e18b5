"""Scene: spectral radiance on a plane at a known distance.

A Lambertian surface of spectral reflectance ρ(λ) lit by spectral irradiance E(λ) has
radiance L(λ) = ρ(λ)·E(λ)/π [W·sr⁻¹·m⁻²·nm⁻¹]. E is the illuminant's relative SPD scaled so
that its illuminance on the chart equals ``illuminance_lux`` (:func:`camtwin.spectra.scale_to_illuminance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..spectra import as_grid, illuminant_spd, scale_to_illuminance


@dataclass(frozen=True, eq=False)
class Scene:
    """Spectral radiance of a flat scene.

    Attributes
    ----------
    radiance : ndarray float32, shape (L, H, W)
        Spectral radiance [W·sr⁻¹·m⁻²·nm⁻¹], band-first so each band is contiguous.
    wavelengths_nm : ndarray (L,)
    width_m : float
        Physical width of the scene plane [m]; square samples, pitch = width_m / W.
    distance_m : float
        Distance from the lens to the scene plane [m].
    name, illuminant, illuminance_lux : provenance.
    layout : dict
        Named regions (chart patches, edge ROI) as lists of boxes ``(y0, y1, x0, x1)`` in
        fractions of the scene height/width.
    """

    radiance: np.ndarray
    wavelengths_nm: np.ndarray
    width_m: float
    distance_m: float
    name: str = "scene"
    illuminant: str | None = None
    illuminance_lux: float | None = None
    layout: dict = field(default_factory=dict)

    def __post_init__(self):
        r = self.radiance
        if r.ndim != 3 or r.shape[0] != len(self.wavelengths_nm):
            raise ConfigError("Scene.radiance must have shape (len(wavelengths_nm), H, W)")
        if not (self.width_m > 0 and self.distance_m > 0):
            raise ConfigError(f"Scene width_m = {self.width_m} and distance_m = "
                              f"{self.distance_m} must both be > 0")

    @property
    def shape(self) -> tuple[int, int]:
        return self.radiance.shape[1:]

    @property
    def sample_pitch_m(self) -> float:
        return self.width_m / self.radiance.shape[2]

    @property
    def height_m(self) -> float:
        return self.sample_pitch_m * self.radiance.shape[1]

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from ..report.notebook import repr_png
        return repr_png(self)


def illuminant_irradiance(illuminant: str, illuminance_lux: float, wavelengths_nm=None):
    """Absolute spectral irradiance [W·m⁻²·nm⁻¹] of ``illuminant`` giving ``illuminance_lux``."""
    if not illuminance_lux > 0:
        raise ConfigError(f"illuminance_lux = {illuminance_lux}: must be > 0")
    wl = as_grid(wavelengths_nm)
    return scale_to_illuminance(illuminant_spd(illuminant, wl), illuminance_lux, wl)


def scene_from_reflectance(*, spectra: np.ndarray, index: np.ndarray | None = None,
                           weights: np.ndarray | None = None, illuminant: str,
                           illuminance_lux: float, width_m: float, distance_m: float,
                           wavelengths_nm=None, name: str, layout: dict | None = None) -> Scene:
    """Build a Lambertian scene ``L = ρ·E/π`` from reflectance spectra.

    Either ``index`` (H, W) int picks one of the K rows of ``spectra`` (K, L) per sample, or
    ``weights`` (K, H, W) mixes them linearly (anti-aliased edges, RGB-derived scenes).
    """
    wl = as_grid(wavelengths_nm)
    spectra = np.asarray(spectra, dtype=np.float64)
    if spectra.ndim != 2 or spectra.shape[1] != wl.size:
        raise ConfigError("spectra must have shape (K, len(wavelengths_nm))")
    if np.any(spectra < 0) or np.any(spectra > 1):
        raise ConfigError("reflectance spectra must lie in 0..1")
    e = illuminant_irradiance(illuminant, illuminance_lux, wl)
    rad_table = (spectra * (e / np.pi)[None, :]).astype(np.float32)  # (K, L)
    if index is not None:
        index = np.asarray(index)
        radiance = np.empty((wl.size,) + index.shape, dtype=np.float32)
        for band in range(wl.size):  # per-band np.take is ~15x faster than one fancy index
            np.take(rad_table[:, band], index, out=radiance[band])
    elif weights is not None:
        k, h, w = weights.shape
        radiance = (rad_table.T @ weights.reshape(k, h * w).astype(np.float32)).reshape(-1, h, w)
    else:
        raise ConfigError("give either index or weights")
    return Scene(radiance=radiance, wavelengths_nm=wl, width_m=width_m, distance_m=distance_m,
                 name=name, illuminant=illuminant, illuminance_lux=float(illuminance_lux),
                 layout=layout or {})
