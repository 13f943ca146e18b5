"""RawFrame: what a sensor delivers — digital numbers plus everything needed to interpret them.

``dn`` is the uint16 image [DN] exactly as the ADC produced it (black level included).
``mean_electrons`` (optional ground truth) is the noise-free expected signal [e⁻] per pixel
before full-well clipping, for evaluating ISP and measurement algorithms.

HDR frames (a sensor with an HDR mode, :mod:`camtwin.sensor.hdr`): ``dn`` is the
*reference component* (the long exposure, the large photodiode, the high-gain read — a
valid linear single-exposure frame with the frame's black/white level and gain),
``hdr_electrons`` the sensor's combined linear HDR value [reference e⁻] (float32, up to
the mode's full scale, far above the white level of ``dn``) and ``hdr`` the
:class:`~camtwin.sensor.hdr.HdrRaw` with every component (what the ISP merges).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import ConfigError
from .cfa import CFA_PATTERNS, cfa_channel_index, cfa_layout

@dataclass(frozen=True, eq=False)
class RawFrame:
    """One raw capture.

    Attributes
    ----------
    dn : ndarray of uint16, shape (H, W)
        Raw digital numbers [DN], black level included, ``0 ≤ dn ≤ white_level_dn``.
    cfa : str
        Name of the colour-filter layout (:data:`camtwin.raw.cfa.CFA_LAYOUTS`): a Bayer phase
        ``"RGGB"``, ``"GRBG"``, ``"GBRG"``, ``"BGGR"`` (top-left 2×2), ``"QUADBAYER"``,
        ``"RGBIR"``, ``"RCCB"`` or ``"mono"``.
    black_level_dn : float
        Offset added before quantisation [DN].
    white_level_dn : int
        Largest code the ADC can output [DN] (``2**adc_bits - 1``).
    exposure_s : float
        Integration time [s].
    conversion_gain_dn_per_e : float
        System gain K [DN/e⁻] including analog gain.
    analog_gain : float
        Analog gain applied (dimensionless, already included in K).
    temperature_c : float
        Die temperature [°C].
    pixel_pitch_um : float
        Pixel pitch [µm].
    illuminant : str or None
        Name of the scene illuminant when known (simulation), for white balance.
    as_shot_neutral : (3,) tuple or None
        Camera-native (R, G, B) response to the scene white, normalised to G = 1 — the DNG
        ``AsShotNeutral`` tag. White-balance gains are its reciprocal.
    xyz_to_camera : ndarray (3, 3) or None
        Matrix from CIE XYZ (D65-relative) to camera-native RGB, the DNG ``ColorMatrix1``
        (normalised so that the D65 white maps to a camera neutral whose largest entry is 1).
    sensor : SensorSpec or None
        The spec that produced the frame (simulation only).
    mean_electrons : ndarray of float32 or None
        Ground truth: expected signal [e⁻] per pixel (photo + dark), before noise and clipping.
    metadata : dict
        Free-form extra information (scene name, lux, seed, camera make/model for real files).
    hdr_electrons : ndarray of float32 or None
        HDR frames only: the sensor's combined linear HDR signal [reference e⁻] per pixel
        (:attr:`camtwin.sensor.hdr.HdrRaw.combined_e`), black removed, same CFA as ``dn``.
    hdr : HdrRaw or None
        HDR frames only: all components of the HDR readout (:mod:`camtwin.sensor.hdr`);
        ``dn`` is its component 0. Kept by NPZ and TIFF files (component DN and their
        scalars), not by DNG (see :mod:`camtwin.raw.files`).
    """

    dn: np.ndarray
    cfa: str
    black_level_dn: float
    white_level_dn: int
    exposure_s: float
    conversion_gain_dn_per_e: float
    analog_gain: float = 1.0
    temperature_c: float = 25.0
    pixel_pitch_um: float = float("nan")
    illuminant: str | None = None
    as_shot_neutral: tuple[float, float, float] | None = None
    xyz_to_camera: np.ndarray | None = None
    sensor: Any = None
    mean_electrons: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)
    hdr_electrons: np.ndarray | None = None
    hdr: Any = None

    def __post_init__(self):
        dn = self.dn
        if not isinstance(dn, np.ndarray) or dn.dtype != np.uint16 or dn.ndim != 2:
            raise ConfigError("RawFrame.dn must be a 2-D uint16 array")
        if self.cfa not in CFA_PATTERNS:
            raise ConfigError(f"RawFrame.cfa = {self.cfa!r}: must be one of {', '.join(CFA_PATTERNS)}")
        if not 0 <= self.black_level_dn < self.white_level_dn <= 65535:
            raise ConfigError(
                f"RawFrame levels black={self.black_level_dn}, white={self.white_level_dn}: "
                "need 0 <= black < white <= 65535")
        if self.mean_electrons is not None and self.mean_electrons.shape != dn.shape:
            raise ConfigError("RawFrame.mean_electrons must have the shape of dn")
        he = self.hdr_electrons
        if he is not None and (not isinstance(he, np.ndarray) or he.shape != dn.shape
                               or he.dtype != np.float32):
            raise ConfigError("RawFrame.hdr_electrons must be a float32 array of the shape "
                              "of dn")
        dn.setflags(write=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.dn.shape

    @property
    def nbytes(self) -> int:
        """Bytes of the frame's arrays (the DN, and the ground truth a camtwin raw carries:
        mean electrons, HDR electrons) — what holding it costs."""
        return sum(a.nbytes for a in (self.dn, self.xyz_to_camera, self.mean_electrons,
                                      self.hdr_electrons) if isinstance(a, np.ndarray))

    @property
    def channel_index(self) -> np.ndarray:
        """Per-pixel index into :attr:`channels` (Bayer: 0=R, 1=G, 2=B; all 0 for mono)."""
        return cfa_channel_index(self.cfa, self.dn.shape)

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names of the CFA, e.g. ``("R", "G", "B")`` or ``("R", "G", "B", "IR")``."""
        return cfa_layout(self.cfa).channels

    def electrons(self) -> np.ndarray:
        """Signal converted back to electrons: ``(dn − black) / K`` [e⁻], float32."""
        return ((self.dn.astype(np.float32) - np.float32(self.black_level_dn))
                / np.float32(self.conversion_gain_dn_per_e))

    @property
    def is_hdr(self) -> bool:
        """True for a frame of an HDR mode (``hdr`` or ``hdr_electrons`` present)."""
        return self.hdr is not None or self.hdr_electrons is not None

    def clipped_fraction(self) -> float:
        """Fraction of pixels at the white level (saturated ADC or full well); counted by
        blocks of rows (no mask of a 200 MP frame: 200 MB)."""
        dn = np.asarray(self.dn)
        if dn.size == 0:
            return float("nan")
        flat = dn.reshape(dn.shape[0], -1) if dn.ndim > 1 else dn.reshape(1, -1)
        rows = max(1, (1 << 22) // max(1, flat.shape[1]))
        n = sum(int(np.count_nonzero(flat[r:r + rows] >= self.white_level_dn))
                for r in range(0, flat.shape[0], rows))
        return n / dn.size

    def with_(self, **changes) -> "RawFrame":
        """A copy with some fields changed (the frame itself is immutable)."""
        return replace(self, **changes)

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def to_xarray(self):
        """``xarray.DataArray`` of DN over dims (y, x) with units, CFA, black/white level,
        exposure and gain in ``attrs`` (:func:`camtwin.report.notebook.raw_to_xarray`;
        needs xarray)."""
        from ..report.notebook import raw_to_xarray
        return raw_to_xarray(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from ..report.notebook import repr_png
        return repr_png(self)
