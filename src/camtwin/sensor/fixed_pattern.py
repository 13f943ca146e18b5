"""Fixed-pattern maps of one sensor: PRNU, dark-current map (non-uniformity and hot
pixels), DSNU offsets, row/column FPN, dead and RTN pixels.

Every map is drawn once from ``sensor.noise.fixed_pattern_seed`` and cached, so it is the
same in every frame of one sensor and differs between seeds. Each source has its own
sub-stream ``numpy.random.default_rng([fixed_pattern_seed, source id])``, so switching one
source on or off never changes another source's map.

Maps (float32 unless stated; ``None`` when the source is off):

==================  ========  =====================================================
field               shape     model
==================  ========  =====================================================
``prnu_gain``       (H, W)    g = max(0, 1 + σ_PRNU·N(0,1)),  σ_PRNU = ``prnu_fraction``
``dark_scale``      (H, W)    d = exp(s·N(0,1) − s²/2)·(M if hot else 1),
                              s² = ln(1 + c²), c = ``dark_current_nonuniformity``,
                              M = ``hot_pixel_dark_multiplier``; E[d] = 1 without hot
                              pixels (log-normal, mean preserving)
``offset_e``        (H, W)    DSNU offset ~ N(0, ``dsnu_offset_e``²) [e⁻]
``row_offset_e``    (H,)      ~ N(0, ``row_fpn_e``²) [e⁻]
``column_offset_e`` (W,)      ~ N(0, ``column_fpn_e``²) [e⁻] (SensorSpec allows no row or
                              column FPN for a CCD: one output amplifier)
``dead``            (H, W)    bool, Bernoulli(``dead_pixel_fraction``)
``rtn``             (H, W)    bool, Bernoulli(``rtn_pixel_fraction``); ``None`` also when
                              ``rtn_amplitude_e`` = 0
==================  ========  =====================================================

The arrays are read-only (they are shared by every frame through the cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .noise import NoiseSpec

#: Sub-stream id of each fixed-pattern source (the second word of the seed sequence).
SOURCE_IDS = {"prnu": 1, "dark_nonuniformity": 2, "hot": 3, "dsnu": 4, "row_fpn": 5,
              "column_fpn": 6, "dead": 7, "rtn": 8}


@dataclass(frozen=True, eq=False)
class FixedPattern:
    """The fixed-pattern maps of one sensor (see the module docstring for each model).

    Attributes
    ----------
    prnu_gain : float32 (H, W) or None
        Photo-response multiplier, mean 1 [1].
    dark_scale : float32 (H, W) or None
        Per-pixel dark-current multiplier incl. hot pixels [1].
    offset_e : float32 (H, W) or None
        DSNU offset [e⁻].
    row_offset_e : float32 (H,) or None
        Fixed row offsets [e⁻].
    column_offset_e : float32 (W,) or None
        Fixed column offsets [e⁻].
    dead : bool (H, W) or None
        Pixels with zero photo-response.
    rtn : bool (H, W) or None
        Pixels with random telegraph noise.
    """

    prnu_gain: np.ndarray | None = None
    dark_scale: np.ndarray | None = None
    offset_e: np.ndarray | None = None
    row_offset_e: np.ndarray | None = None
    column_offset_e: np.ndarray | None = None
    dead: np.ndarray | None = None
    rtn: np.ndarray | None = None

    def __post_init__(self):
        # the kernels need C-contiguous float32 / bool arrays; store read-only copies only
        # when the caller's arrays are not already so
        for name in ("prnu_gain", "dark_scale", "offset_e", "row_offset_e",
                     "column_offset_e", "dead", "rtn"):
            m = getattr(self, name)
            if m is None:
                continue
            dtype = np.bool_ if name in ("dead", "rtn") else np.float32
            a = np.ascontiguousarray(m, dtype=dtype)
            if a is m and not a.flags.writeable:
                continue
            a = a.copy() if a is m else a
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    @cached_property
    def photo_gain(self) -> np.ndarray | None:
        """Photo-response multiplier with dead pixels set to 0 (float32 (H, W) or None)."""
        if self.dead is None:
            return self.prnu_gain
        g = (np.ones(self.dead.shape, np.float32) if self.prnu_gain is None
             else np.array(self.prnu_gain, dtype=np.float32))
        g[self.dead] = 0.0
        g.setflags(write=False)
        return g

    @cached_property
    def max_photo_gain(self) -> float:
        """Largest entry of :attr:`photo_gain` (1 when there is none)."""
        return 1.0 if self.photo_gain is None else float(self.photo_gain.max(initial=0.0))

    @cached_property
    def max_dark_scale(self) -> float:
        """Largest entry of :attr:`dark_scale` (1 when there is none)."""
        return 1.0 if self.dark_scale is None else float(self.dark_scale.max(initial=0.0))


def _rng(seed: int, source: str) -> np.random.Generator:
    return np.random.default_rng([seed, SOURCE_IDS[source]])


def _ro(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def fixed_pattern(sensor) -> FixedPattern:
    """The :class:`FixedPattern` of ``sensor`` (a :class:`~camtwin.sensor.SensorSpec`),
    drawn from ``sensor.noise.fixed_pattern_seed`` only and cached.

    The cache key is what the maps depend on — the :class:`NoiseSpec` and the pixel
    counts — so sensors that differ only in other fields
    (QE, pixel pitch, …) share their maps. Up to 4 sensors are kept (a 12 MP sensor with
    every map on holds ~170 MB).

    Examples
    --------
    >>> from camtwin.sensor import SensorSpec
    >>> s = SensorSpec(width_px=8, height_px=4, pixel_pitch_um=2.0, full_well_e=1e4,
    ...                conversion_gain_dn_per_e=0.2, read_noise_e=2.0,
    ...                noise={"prnu_fraction": 0.01, "fixed_pattern_seed": 7})
    >>> fp = fixed_pattern(s)
    >>> fp.prnu_gain.shape, fp.offset_e is None
    ((4, 8), True)
    >>> fixed_pattern(s) is fp
    True
    """
    return _fixed_pattern(sensor.noise, int(sensor.height_px), int(sensor.width_px))


@lru_cache(maxsize=4)
def _fixed_pattern(noise: NoiseSpec, h: int, w: int) -> FixedPattern:
    return FixedPatternRows(noise, h, w).take(h)


class FixedPatternRows:
    """The fixed-pattern maps of an (h, w) sensor drawn strip by strip, top to bottom.

    ``take(n)`` returns a :class:`FixedPattern` of the next ``n`` rows (per-pixel maps of
    shape (n, w), ``row_offset_e`` of those n rows, ``column_offset_e`` of all columns).
    Each source keeps its own generator between strips, and NumPy's generators give the
    same numbers whether a sequence is drawn at once or in consecutive pieces, so the
    strips stacked are exactly :func:`fixed_pattern` of the whole sensor — without ever
    holding the whole-sensor maps (:mod:`camtwin.strips`).
    """

    def __init__(self, noise: NoiseSpec, h: int, w: int):
        self.noise, self.h, self.w = noise, int(h), int(w)
        self.row = 0
        seed = int(noise.fixed_pattern_seed)
        n = noise
        on = {"prnu": n.prnu_fraction > 0,
              "dark_nonuniformity": n.dark_current_nonuniformity > 0,
              "hot": n.hot_pixel_fraction > 0 and n.hot_pixel_dark_multiplier != 1.0,
              "dsnu": n.dsnu_offset_e > 0, "dead": n.dead_pixel_fraction > 0,
              "rtn": n.rtn_pixel_fraction > 0 and n.rtn_amplitude_e > 0}
        self._gen = {k: _rng(seed, k) for k, v in on.items() if v}
        f32 = np.float32
        self._rows = (_rng(seed, "row_fpn").standard_normal(self.h, dtype=f32)
                      * f32(n.row_fpn_e)) if n.row_fpn_e > 0 else None
        self._cols = (_ro(_rng(seed, "column_fpn").standard_normal(self.w, dtype=f32)
                          * f32(n.column_fpn_e))) if n.column_fpn_e > 0 else None

    def take(self, n_rows: int) -> FixedPattern:
        """Maps of the next ``n_rows`` rows (raises past the last row)."""
        from ..errors import ConfigError

        r0, r1 = self.row, self.row + int(n_rows)
        if not (0 < n_rows and r1 <= self.h):
            raise ConfigError(f"n_rows = {n_rows}: rows {r0}..{r1} outside the sensor's "
                              f"{self.h} rows")
        self.row = r1
        noise, g, f32, shape = self.noise, self._gen, np.float32, (int(n_rows), self.w)
        prnu = None
        if "prnu" in g:
            prnu = g["prnu"].standard_normal(shape, dtype=f32)
            prnu *= f32(noise.prnu_fraction)
            prnu += f32(1.0)
            np.maximum(prnu, f32(0.0), out=prnu)
        dark = None
        if "dark_nonuniformity" in g:
            s2 = np.log1p(noise.dark_current_nonuniformity ** 2)
            dark = g["dark_nonuniformity"].standard_normal(shape, dtype=f32)
            dark *= f32(np.sqrt(s2))
            dark -= f32(s2 / 2)
            np.exp(dark, out=dark)
        if "hot" in g:
            hot = g["hot"].random(shape, dtype=f32) < noise.hot_pixel_fraction
            if dark is None:
                dark = np.ones(shape, f32)
            dark[hot] *= f32(noise.hot_pixel_dark_multiplier)
        offset = None
        if "dsnu" in g:
            offset = g["dsnu"].standard_normal(shape, dtype=f32)
            offset *= f32(noise.dsnu_offset_e)
        rows = None if self._rows is None else np.array(self._rows[r0:r1])
        dead = g["dead"].random(shape, dtype=f32) < noise.dead_pixel_fraction if "dead" in g \
            else None
        rtn = g["rtn"].random(shape, dtype=f32) < noise.rtn_pixel_fraction if "rtn" in g \
            else None
        maps = [prnu, dark, offset, rows, self._cols, dead, rtn]
        return FixedPattern(*[None if m is None else _ro(m) for m in maps])  # no copies
