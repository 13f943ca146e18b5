"""Scene: spectral radiance on a plane at a known distance.

A Lambertian surface of spectral reflectance ρ(λ) lit by spectral irradiance E(λ) has
radiance L(λ) = ρ(λ)·E(λ)/π [W·sr⁻¹·m⁻²·nm⁻¹]. E is the illuminant's relative SPD scaled so
that its illuminance on the chart equals ``illuminance_lux`` (:func:`camtwin.spectra.scale_to_illuminance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..spectra import as_grid, illuminant_spd, scale_to_illuminance


@dataclass(frozen=True, eq=False)
class ReflectanceMap:
    """A scene stored as a few radiance spectra and where they are, not as a cube.

    ``L(λ, y, x) = base(λ) + Σ_k table[k, λ] · weights[k, y, x]`` (weights form), or
    ``L(λ, y, x) = table[index[y, x], λ]`` (index form). ``base`` is None or (L,),
    ``table`` (K, L) float32 radiance [W·sr⁻¹·m⁻²·nm⁻¹], ``index`` (H, W) uint8/uint16,
    ``weights`` (K, H, W) float32. A chart costs 1 (index) to 4 (two-tone coverage) bytes
    per sample instead of 4 × L.
    """

    table: np.ndarray
    index: np.ndarray | None = None
    weights: np.ndarray | None = None
    base: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.index if self.index is not None else self.weights[0]).shape

    def collapse(self, matrix: np.ndarray, rows=slice(None), cols=slice(None)) -> np.ndarray:
        """``Σ_λ matrix[p, λ] · L(λ, y, x)`` for every row p of ``matrix`` (P, L): (P, h, w)
        float32 over ``[rows, cols]``, without forming the (L, H, W) cube."""
        m = np.asarray(matrix, dtype=np.float64)
        per_k = (m @ self.table.astype(np.float64).T).astype(np.float32)  # (P, K)
        if self.index is not None:
            idx = self.index[rows, cols]
            out = np.empty((m.shape[0],) + idx.shape, dtype=np.float32)
            for p in range(m.shape[0]):  # into place: no list of planes and stacked copy
                np.take(per_k[p], idx, out=out[p], mode="clip")  # clip: no buffer
            return out
        wts = self.weights[:, rows, cols]
        k, h, w = wts.shape
        out = (per_k @ wts.reshape(k, h * w)).reshape(-1, h, w)
        if self.base is not None:
            out += (m @ self.base.astype(np.float64)).astype(np.float32)[:, None, None]
        return out

    def mean_spectrum(self) -> np.ndarray:
        """Mean radiance spectrum over the scene (L,) float64."""
        t = self.table.astype(np.float64)
        if self.index is not None:
            idx = self.index.reshape(self.index.shape[0], -1)
            step = max(1, 2**20 // max(1, idx.shape[1]))  # bincount casts to int64: in blocks
            frac = np.zeros(max(t.shape[0], 256), dtype=np.int64)
            for r in range(0, idx.shape[0], step):
                blk = np.bincount(idx[r:r + step].ravel(), minlength=frac.size)
                if blk.size > frac.size:
                    frac = np.concatenate([frac, np.zeros(blk.size - frac.size, np.int64)])
                frac[:blk.size] += blk
            return (frac[: t.shape[0]] / self.index.size) @ t
        mean_w = self.weights.reshape(self.weights.shape[0], -1).mean(axis=1, dtype=np.float64)
        out = mean_w @ t
        return out if self.base is None else out + self.base

    def window(self, rows: slice, cols: slice) -> "ReflectanceMap":
        """The same description over a sub-window (views, no copy)."""
        if self.index is not None:
            return ReflectanceMap(self.table, index=self.index[rows, cols], base=self.base)
        return ReflectanceMap(self.table, weights=self.weights[:, rows, cols], base=self.base)

    def padded(self, pad: tuple[tuple[int, int], tuple[int, int]]) -> "ReflectanceMap":
        """Extended by mirror reflection (numpy ``symmetric``, OpenCV ``BORDER_REFLECT``):
        the scene continues beyond its edge as the lens image does in :func:`form_image`."""
        if self.index is not None:
            return ReflectanceMap(self.table, index=np.pad(self.index, pad, mode="symmetric"),
                                  base=self.base)
        return ReflectanceMap(self.table, weights=np.pad(self.weights, ((0, 0),) + tuple(pad),
                                                         mode="symmetric"), base=self.base)


@dataclass(frozen=True, eq=False)
class PhotoReflectance(ReflectanceMap):
    """A photo scene (:func:`camtwin.scene.from_rgb` with ``lazy=True``) whose weights —
    the photo's linear sRGB planes on the scene grid — are computed for the part asked for
    only: ``photo`` is the decoded image (H, W, C) and ``plan`` its
    :class:`camtwin.scene.rgb.Fit` on the grid; a window (:meth:`window`, what
    :func:`camtwin.camera.scene_window` takes) resizes (:func:`camtwin.scene.rgb.fit_region`,
    equal to the whole grid's ``INTER_AREA`` resize) and decodes its own samples. A
    1024 × 768 window of a 200 MP sensor no longer builds 2.4 GB of planes (RESULTS.md
    "Capture at real size", twentieth session). Everything else works as on the whole
    map, formed for the part it reads (:meth:`collapse`) or a block of rows at a time
    (:meth:`mean_spectrum`)."""

    photo: np.ndarray | None = None
    plan: object = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.plan.target_hw)

    def window(self, rows: slice, cols: slice) -> ReflectanceMap:
        """The weights of ``[rows, cols]`` (slices of step 1), formed now."""
        from .rgb import fit_region, srgb_to_linear_inplace

        planes = srgb_to_linear_inplace(fit_region(self.photo, self.plan, rows, cols))
        return ReflectanceMap(self.table, weights=planes, base=self.base)

    def collapse(self, matrix: np.ndarray, rows=slice(None), cols=slice(None)) -> np.ndarray:
        return self.window(rows, cols).collapse(matrix)

    def mean_spectrum(self) -> np.ndarray:
        h, w = self.shape
        step = max(1, (1 << 22) // max(w, 1))      # (4 M samples of weights at a time)
        total = np.zeros(self.table.shape[0], np.float64)
        for r in range(0, h, step):
            wts = self.window(slice(r, min(r + step, h)), slice(0, w)).weights
            total += wts.reshape(wts.shape[0], -1).sum(axis=1, dtype=np.float64)
        out = (total / (h * w)) @ self.table.astype(np.float64)
        return out if self.base is None else out + self.base

    def padded(self, pad: tuple[tuple[int, int], tuple[int, int]]) -> ReflectanceMap:
        return self.window(slice(None), slice(None)).padded(pad)


class Scene:
    """Spectral radiance of a flat scene.

    Attributes
    ----------
    radiance : ndarray float32, shape (L, H, W)
        Spectral radiance [W·sr⁻¹·m⁻²·nm⁻¹], band-first so each band is contiguous. A
        scene built from reflectances (:func:`scene_from_reflectance`, every chart) keeps
        only its :class:`ReflectanceMap` and forms this cube on first access (checked
        against the memory budget, :mod:`camtwin.memory`); the streamed capture path
        (:mod:`camtwin.optics.stream`) never forms it.
    wavelengths_nm : ndarray (L,)
    width_m : float
        Physical width of the scene plane [m]; square samples, pitch = width_m / W.
    distance_m : float
        Distance from the lens to the scene plane [m].
    name, illuminant, illuminance_lux : provenance.
    layout : dict
        Named regions (chart patches, edge ROI) as lists of boxes ``(y0, y1, x0, x1)`` in
        fractions of the scene height/width.
    reflectance : ReflectanceMap, optional
        The compact description (instead of ``radiance``).
    """

    __slots__ = ("_radiance", "wavelengths_nm", "width_m", "distance_m", "name",
                 "illuminant", "illuminance_lux", "layout", "reflectance")

    def __init__(self, radiance: np.ndarray | None = None, wavelengths_nm=None,
                 width_m: float = 0.0, distance_m: float = 0.0, name: str = "scene",
                 illuminant: str | None = None, illuminance_lux: float | None = None,
                 layout: dict | None = None, *, reflectance: ReflectanceMap | None = None):
        set_ = object.__setattr__
        set_(self, "_radiance", radiance)
        set_(self, "wavelengths_nm", np.asarray(wavelengths_nm))
        set_(self, "width_m", width_m)
        set_(self, "distance_m", distance_m)
        set_(self, "name", name)
        set_(self, "illuminant", illuminant)
        set_(self, "illuminance_lux", illuminance_lux)
        set_(self, "layout", dict(layout or {}))
        set_(self, "reflectance", reflectance)
        n_l = len(self.wavelengths_nm)
        if radiance is None and reflectance is None:
            raise ConfigError("Scene needs radiance or a reflectance map")
        if radiance is not None and (radiance.ndim != 3 or radiance.shape[0] != n_l):
            raise ConfigError("Scene.radiance must have shape (len(wavelengths_nm), H, W)")
        if reflectance is not None and reflectance.table.shape[1] != n_l:
            raise ConfigError("Scene reflectance table must have len(wavelengths_nm) columns")
        if not (self.width_m > 0 and self.distance_m > 0):
            raise ConfigError(f"Scene width_m = {self.width_m} and distance_m = "
                              f"{self.distance_m} must both be > 0")

    def __setattr__(self, name, value):
        raise AttributeError(f"Scene is immutable: cannot set {name}")

    def replace(self, **changes) -> "Scene":
        """A new Scene with ``changes`` (any constructor argument: ``radiance``,
        ``wavelengths_nm``, ``width_m``, ``distance_m``, ``name``, ``illuminant``,
        ``illuminance_lux``, ``layout``, ``reflectance``), validated like a new one; the
        Scene is immutable (the role ``dataclasses.replace`` had when it was a dataclass).
        Giving ``radiance`` drops the reflectance map unless ``reflectance`` is given too."""
        args = {"radiance": self._radiance, "wavelengths_nm": self.wavelengths_nm,
                "width_m": self.width_m, "distance_m": self.distance_m, "name": self.name,
                "illuminant": self.illuminant, "illuminance_lux": self.illuminance_lux,
                "layout": self.layout, "reflectance": self.reflectance}
        unknown = set(changes) - set(args)
        if unknown:
            raise ConfigError(f"Scene.replace: unknown field(s) {sorted(unknown)}; valid: "
                              f"{', '.join(args)}")
        if "radiance" in changes and "reflectance" not in changes:
            args["reflectance"] = None
        args.update(changes)
        radiance = args.pop("radiance")
        wavelengths = args.pop("wavelengths_nm")
        return Scene(radiance, wavelengths, **args)

    def __reduce__(self):  # pickling (Dask workers, multiprocessing) through __init__
        return (_rebuild_scene, (self._radiance, self.wavelengths_nm, self.width_m,
                                 self.distance_m, self.name, self.illuminant,
                                 self.illuminance_lux, self.layout, self.reflectance))

    def __repr__(self) -> str:
        return (f"Scene(name={self.name!r}, shape={self.shape}, bands={len(self.wavelengths_nm)}, "
                f"width_m={self.width_m:g}, illuminant={self.illuminant!r}, "
                f"illuminance_lux={self.illuminance_lux})")

    @property
    def radiance(self) -> np.ndarray:
        """The (L, H, W) float32 cube (formed from the reflectance map on first access)."""
        if self._radiance is None:
            from ..memory import check_budget, format_bytes

            n = len(self.wavelengths_nm) * self.shape[0] * self.shape[1] * 4
            check_budget(n, f"the spectral cube of scene {self.name!r} "
                            f"({len(self.wavelengths_nm)} bands × {self.shape[0]} × "
                            f"{self.shape[1]}, {format_bytes(n)})",
                         "use camtwin.shoot / the streamed path (camtwin.optics.stream), "
                         "or crop the module")
            eye = np.eye(len(self.wavelengths_nm))
            object.__setattr__(self, "_radiance", self.reflectance.collapse(eye))
        return self._radiance

    @property
    def shape(self) -> tuple[int, int]:
        if self._radiance is not None:
            return self._radiance.shape[1:]
        return self.reflectance.shape

    def collapse(self, matrix: np.ndarray, rows=slice(None), cols=slice(None)) -> np.ndarray:
        """``Σ_λ matrix[p, λ] · L(λ)`` per sample: (P, h, w) float32 over ``[rows, cols]``
        (:meth:`ReflectanceMap.collapse`; a band at a time for a stored cube)."""
        if self.reflectance is not None and self._radiance is None:
            return self.reflectance.collapse(matrix, rows, cols)
        m = np.asarray(matrix, dtype=np.float32)
        rad = self._radiance[:, rows, cols]
        out = np.zeros((m.shape[0],) + rad.shape[1:], dtype=np.float32)
        for b in range(rad.shape[0]):
            for p in range(m.shape[0]):
                if m[p, b] != 0:
                    out[p] += m[p, b] * rad[b]
        return out

    def mean_spectrum(self) -> np.ndarray:
        """Mean radiance spectrum (L,) float64 over the scene."""
        if self.reflectance is not None and self._radiance is None:
            return self.reflectance.mean_spectrum()
        return self._radiance.mean(axis=(1, 2), dtype=np.float64)

    @property
    def sample_pitch_m(self) -> float:
        return self.width_m / self.shape[1]

    @property
    def height_m(self) -> float:
        return self.sample_pitch_m * self.shape[0]

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from ..report.notebook import repr_png
        return repr_png(self)


def _rebuild_scene(radiance, wavelengths_nm, width_m, distance_m, name, illuminant,
                   illuminance_lux, layout, reflectance) -> Scene:
    return Scene(radiance, wavelengths_nm, width_m, distance_m, name, illuminant,
                 illuminance_lux, layout, reflectance=reflectance)


def illuminant_irradiance(illuminant: str, illuminance_lux: float, wavelengths_nm=None):
    """Absolute spectral irradiance [W·m⁻²·nm⁻¹] of ``illuminant`` giving ``illuminance_lux``."""
    if not illuminance_lux > 0:
        raise ConfigError(f"illuminance_lux = {illuminance_lux}: must be > 0")
    wl = as_grid(wavelengths_nm)
    return scale_to_illuminance(illuminant_spd(illuminant, wl), illuminance_lux, wl)


def radiance_table(spectra, illuminant: str, illuminance_lux: float, wavelengths_nm) -> np.ndarray:
    """Radiance spectra (K, L) float32 [W·sr⁻¹·m⁻²·nm⁻¹] of Lambertian reflectances
    ``spectra`` (K, L) in 0..1 lit by ``illuminant`` at ``illuminance_lux``: ρ·E/π."""
    wl = np.asarray(wavelengths_nm)
    spectra = np.asarray(spectra, dtype=np.float64)
    if spectra.ndim != 2 or spectra.shape[1] != wl.size:
        raise ConfigError("spectra must have shape (K, len(wavelengths_nm))")
    if np.any(spectra < 0) or np.any(spectra > 1):
        raise ConfigError("reflectance spectra must lie in 0..1")
    e = illuminant_irradiance(illuminant, illuminance_lux, wl)
    return (spectra * (e / np.pi)[None, :]).astype(np.float32)  # (K, L)


def scene_from_reflectance(*, spectra: np.ndarray, index: np.ndarray | None = None,
                           weights: np.ndarray | None = None,
                           coverage: np.ndarray | None = None, illuminant: str,
                           illuminance_lux: float, width_m: float, distance_m: float,
                           wavelengths_nm=None, name: str, layout: dict | None = None) -> Scene:
    """Build a Lambertian scene ``L = ρ·E/π`` from reflectance spectra.

    Either ``index`` (H, W) int picks one of the K rows of ``spectra`` (K, L) per sample, or
    ``weights`` (K, H, W) mixes them linearly (anti-aliased edges, RGB-derived scenes), or
    ``coverage`` (H, W) mixes two spectra as ``(1 − c)·ρ₀ + c·ρ₁``. The scene keeps this
    compact form (:class:`ReflectanceMap`); its radiance cube is formed only on demand.
    """
    wl = as_grid(wavelengths_nm)
    rad_table = radiance_table(spectra, illuminant, illuminance_lux, wl)
    if index is not None:
        index = np.asarray(index)
        dtype = np.uint8 if rad_table.shape[0] <= 256 else np.uint16
        refl = ReflectanceMap(rad_table, index=index.astype(dtype, copy=False))
    elif coverage is not None:  # two spectra: L = t0 + (t1 − t0)·coverage
        if rad_table.shape[0] != 2:
            raise ConfigError("coverage needs exactly two spectra")
        refl = ReflectanceMap((rad_table[1:] - rad_table[:1]).astype(np.float32),
                              weights=np.asarray(coverage, dtype=np.float32)[None],
                              base=rad_table[0])
    elif weights is not None:
        refl = ReflectanceMap(rad_table, weights=np.asarray(weights, dtype=np.float32))
    else:
        raise ConfigError("give either index, coverage or weights")
    return Scene(wavelengths_nm=wl, width_m=width_m, distance_m=distance_m, name=name,
                 illuminant=illuminant, illuminance_lux=float(illuminance_lux),
                 layout=layout or {}, reflectance=refl)
