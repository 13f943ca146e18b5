"""The reduced EMVA 1288 data set: what the analysis needs from every image pair and stack.

An EMVA 1288 campaign produces hundreds of frames; the analysis only needs, per frame pair
or stack, a handful of float64 statistics (EMVA 1288 Release 4.0 Linear, §6–§8). Both the
simulated measurement (:mod:`.campaign`) and the loader of real images (:mod:`.files`)
reduce their frames on the fly with :func:`pair_statistics` and :class:`StackAccumulator`
and hand the analysis a :class:`Dataset1288` — so simulated and real data go through
exactly the same code.

Equations (y in DN, an M×N image, float64 accumulation):

* image pair A, B (§6.5 of the standard):

      μ_y  = ½ (⟨y_A⟩ + ⟨y_B⟩)                                              [DN]
      σ²_y = 1/(2MN) Σ ((y_A − y_B) − (⟨y_A⟩ − ⟨y_B⟩))²                      [DN²]

  The second form subtracts the difference of the two frame means, which removes a
  common-mode drift of illumination or offset between the two frames.
* stack of L frames y_l (§8.1):

      ⟨y⟩(m,n)   = 1/L Σ_l y_l(m,n)                       mean image           [DN]
      σ²_y.stack = 1/(MN) Σ_mn 1/(L−1) Σ_l (y_l − ⟨y⟩)²   mean temporal variance [DN²]

Photons per pixel during the exposure (§3.1, eq. 2 of the standard):

      μ_p = A·E·t_exp / (h·c/λ)        A [m²], E [W/m²], t_exp [s], λ [m]   [photons]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ConfigError
from ...units import PLANCK_J_S, SPEED_OF_LIGHT_M_S


def photons_per_pixel(irradiance_w_m2, exposure_s, pixel_area_um2, wavelength_nm):
    """Mean photons per pixel μ_p = A·E·t·λ/(h·c) [photons].

    Parameters
    ----------
    irradiance_w_m2 : float or array_like
        Irradiance on the sensor [W/m²], ≥ 0.
    exposure_s : float or array_like
        Exposure time [s], ≥ 0.
    pixel_area_um2 : float
        Pixel area [µm²] (pitch² for a square pixel).
    wavelength_nm : float or array_like
        Wavelength of the monochromatic light [nm].

    Returns
    -------
    float or numpy.ndarray
        Photons per pixel (float64).

    Examples
    --------
    >>> round(float(photons_per_pixel(1.0, 1e-3, 25.0, 525.0)))  # 1 W/m², 1 ms, 5 µm pixel
    66064
    """
    energy_j = PLANCK_J_S * SPEED_OF_LIGHT_M_S / (np.asarray(wavelength_nm, np.float64) * 1e-9)
    return (np.asarray(irradiance_w_m2, np.float64) * np.asarray(exposure_s, np.float64)
            * pixel_area_um2 * 1e-12 / energy_j)


def pair_statistics(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean [DN] and drift-corrected temporal variance [DN²] of an image pair (module
    docstring; EMVA 1288 R4.0 §6.5).

    Both frames must have the same shape; any integer or float dtype. Accumulation in float64.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ConfigError(f"image pair shapes differ: {a.shape} vs {b.shape}")
    n = a.size
    d = np.subtract(a, b, dtype=np.float64).ravel()      # exact for integer frames
    dm = float(d.sum()) / n                               # ⟨y_A⟩ − ⟨y_B⟩
    # 1/(2n) Σ (d − dm)² = ½ (Σd²/n − dm²)   (algebraically identical, one pass)
    # (einsum, not np.dot: a BLAS call here is up to 50x slower when the BLAS threads
    # compete with other processes for the CPUs)
    var = 0.5 * (float(np.einsum("i,i->", d, d)) / n - dm * dm)
    mb = float(b.mean(dtype=np.float64))
    return mb + 0.5 * dm, var


class StackAccumulator:
    """Running float64 sum and sum of squares of a stack of frames (module docstring).

    ``add(frame)`` for each of the L frames, then :meth:`mean_image` and
    :meth:`temporal_variance` (mean over pixels of the per-pixel variance, ddof = 1).
    Frames hold integers below 2¹⁶, so the float64 sums are exact up to L ≈ 10⁶.
    """

    def __init__(self):
        self.n = 0
        self._sum = None
        self._sq = None

    def add(self, frame: np.ndarray) -> None:
        f = np.asarray(frame, dtype=np.float64)
        if self._sum is None:
            self._sum = f.copy()
            self._sq = f * f
        else:
            if f.shape != self._sum.shape:
                raise ConfigError(f"stack frame has shape {f.shape}, earlier frames "
                                  f"{self._sum.shape}")
            self._sum += f
            self._sq += f * f
        self.n += 1

    def mean_image(self) -> np.ndarray:
        """⟨y⟩ [DN], float64 (M, N)."""
        if self.n == 0:
            raise ConfigError("empty image stack")
        return self._sum / self.n

    def temporal_variance(self) -> float:
        """σ²_y.stack [DN²]: per-pixel variance (ddof = 1) averaged over the pixels."""
        if self.n < 2:
            raise ConfigError(f"a stack needs at least 2 frames for its temporal variance, "
                              f"got {self.n}")
        var = (self._sq - self._sum * self._sum / self.n) / (self.n - 1)
        return float(var.mean())


@dataclass(frozen=True)
class SpatialStack:
    """One nonuniformity stack (L frames at one exposure): mean image and σ²_y.stack."""

    mean_image: np.ndarray            # ⟨y⟩ [DN], float64 (M, N)
    temporal_variance: float          # σ²_y.stack [DN²]
    frames: int                       # L

    @classmethod
    def from_accumulator(cls, acc: StackAccumulator) -> "SpatialStack":
        return cls(acc.mean_image(), acc.temporal_variance(), acc.n)


@dataclass(frozen=True)
class Dataset1288:
    """Everything the EMVA 1288 analysis needs, reduced from the frames.

    Temporal (photon-transfer) steps, index i (ascending μ_p):

    ``exposure_s``, ``photons`` μ_p [photons/pixel], ``mean`` μ_y and ``variance`` σ²_y of the
    bright pair [DN, DN²], ``dark_mean`` μ_y.dark and ``dark_variance`` σ²_y.dark of the dark
    pair at the same exposure time.

    Optional series: dark current vs exposure time (``dark_exposure_s``, ``dark_series_mean``,
    ``dark_series_variance``), vs temperature (``dark_temperature_c`` with
    ``dark_temperature_mean``/``_variance`` at ``dark_temperature_exposure_s`` and the zero-
    exposure offset from the same temperature if given), spectral sweep (``spectral_*``).
    Spatial stacks: ``spatial_bright`` (≈ 50 % saturation, ``spatial_photons``) and
    ``spatial_dark`` at ``spatial_exposure_s``.
    """

    width: int
    height: int
    bits: int
    pixel_area_um2: float | None
    wavelength_nm: float
    temperature_c: float | None
    exposure_s: np.ndarray
    photons: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    dark_mean: np.ndarray
    dark_variance: np.ndarray
    spatial_bright: SpatialStack | None = None
    spatial_dark: SpatialStack | None = None
    spatial_photons: float | None = None
    spatial_exposure_s: float | None = None
    dark_exposure_s: np.ndarray | None = None
    dark_series_mean: np.ndarray | None = None
    dark_series_variance: np.ndarray | None = None
    dark_temperature_c: np.ndarray | None = None
    dark_temperature_mean: np.ndarray | None = None
    dark_temperature_variance: np.ndarray | None = None
    dark_temperature_exposure_s: float | None = None
    dark_temperature_offset: np.ndarray | None = None
    spectral_wavelength_nm: np.ndarray | None = None
    spectral_photons: np.ndarray | None = None
    spectral_mean: np.ndarray | None = None
    spectral_dark_mean: np.ndarray | None = None
    source: str = ""
    channel: str = "M"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.photons)
        for name in ("exposure_s", "mean", "variance", "dark_mean", "dark_variance"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"Dataset1288.{name} has {len(getattr(self, name))} entries, "
                                  f"photons has {n}")
        if n < 3:
            raise ConfigError(f"the photon-transfer series has {n} steps; the analysis needs "
                              f"at least 3 (EMVA 1288 asks for >= 50)")
        p = np.asarray(self.photons)
        if np.any(np.diff(p) <= 0):
            i = int(np.flatnonzero(np.diff(p) <= 0)[0]) + 1
            raise ConfigError(f"photons per pixel must increase from step to step; step {i} "
                              f"has {p[i]:.6g} after {p[i - 1]:.6g}")

    @property
    def white_level(self) -> int:
        return 2 ** int(self.bits) - 1
