"""Test charts as spectral scenes: ColorChecker 24, slanted edge, uniform field, Siemens star,
dot grid (distortion), and any RGB image.

Every chart takes the scene geometry (``shape`` in samples, ``width_m``, ``distance_m``) and
the lighting (``illuminant`` name, ``illuminance_lux`` on the chart). Edges are anti-aliased by
exact area coverage approximated with 8×8 supersampling, so the scene itself does not alias.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, unknown_name
from ..spectra import as_grid, cie_table
from .scene import PhotoReflectance, Scene, radiance_table, scene_from_reflectance

#: ColorChecker patch names in chart order (row-major, dark skin top-left).
COLORCHECKER_NAMES = (
    "dark skin", "light skin", "blue sky", "foliage", "blue flower", "bluish green",
    "orange", "purplish blue", "moderate red", "purple", "yellow green", "orange yellow",
    "blue", "green", "red", "yellow", "magenta", "cyan",
    "white 9.5 (.05 D)", "neutral 8 (.23 D)", "neutral 6.5 (.44 D)", "neutral 5 (.70 D)",
    "neutral 3.5 (1.05 D)", "black 2 (1.5 D)",
)
#: The colour-science data set used for ColorChecker spectral reflectances (BabelColor
#: average of 30 charts, 380–730 nm at 10 nm); its colorimetry is in CCS_COLOURCHECKERS too.
COLORCHECKER_DATASET = "BabelColor Average"
#: Reflectance of the ColorChecker's black frame (neutral).
FRAME_REFLECTANCE = 0.03


def _neutral(reflectance: float, wl) -> np.ndarray:
    return np.full((1, wl.size), float(reflectance))


def colorchecker_reflectances(wavelengths_nm=None) -> np.ndarray:
    """Spectral reflectances of the 24 patches, shape (24, L), from colour-science
    (``SDS_COLOURCHECKERS[COLORCHECKER_DATASET]``, shipped as the ``COLORCHECKER`` table of
    :func:`camtwin.spectra.cie_table`).

    Beyond 730 nm the last measured value is held (the data set stops at 730 nm).
    """
    wl = as_grid(wavelengths_nm)
    x, values = cie_table("COLORCHECKER")
    out = [np.interp(wl, x, v) for v in values]
    return np.clip(np.array(out), 0.0, 1.0)


def _check_shape(shape) -> tuple[int, int]:
    h, w = (int(shape[0]), int(shape[1]))
    if h < 8 or w < 8:
        raise ConfigError(f"scene shape {shape} is too small (minimum 8×8 samples)")
    return h, w


def _coverage(h: int, w: int, inside, ss: int = 8) -> np.ndarray:
    """Fraction of each sample's area where ``inside(y, x)`` holds; y, x in sample units
    with the scene centre at 0. Computed row-block-wise with ss×ss supersampling."""
    offs = (np.arange(ss) + 0.5) / ss - 0.5
    out = np.empty((h, w), dtype=np.float32)
    xs = (np.arange(w) - (w - 1) / 2.0)[None, :, None] + offs[None, None, :]
    block = max(1, 2_000_000 // (w * ss * ss))
    for r0 in range(0, h, block):
        r1 = min(h, r0 + block)
        ys = (np.arange(r0, r1) - (h - 1) / 2.0)[:, None, None, None] + offs[None, None, None, :]
        hit = inside(ys, xs[..., None])  # (rows, w, ss, ss)
        out[r0:r1] = hit.mean(axis=(2, 3))
    return out


#: Fraction of each ColorChecker grid cell (per axis) covered by its patch, centred.
COLORCHECKER_PATCH_FILL = 0.7


def colorchecker_patch_fractions() -> list[tuple[float, float, float, float]]:
    """The 24 patch boxes (y0, y1, x0, x1) as fractions of the chart's height/width, chart
    order: a 4 × 6 grid of cells, each patch the central 70 % of its cell per axis. The one
    place the chart geometry lives (rendering and patch finding both use it)."""
    m = (1.0 - COLORCHECKER_PATCH_FILL) / 2.0
    out = []
    for k in range(24):
        r, c = divmod(k, 6)
        out.append(((r + m) / 4, (r + 1 - m) / 4, (c + m) / 6, (c + 1 - m) / 6))
    return out


def colorchecker(*, shape, width_m, distance_m, illuminant="D65", illuminance_lux=500.0,
                 wavelengths_nm=None) -> Scene:
    """X-Rite ColorChecker Classic (24 patches, 6×4) filling the scene on a black frame.

    Each patch occupies the central 70 % of its grid cell; ``layout["patches"]`` holds the
    24 patch boxes (fractions of height/width) in chart order.
    """
    h, w = _check_shape(shape)
    wl = as_grid(wavelengths_nm)
    spectra = np.vstack([colorchecker_reflectances(wl), _neutral(FRAME_REFLECTANCE, wl)])
    index = np.full((h, w), 24, dtype=np.uint8)
    boxes = colorchecker_patch_fractions()
    for k, (y0, y1, x0, x1) in enumerate(boxes):
        index[int(round(y0 * h)):int(round(y1 * h)), int(round(x0 * w)):int(round(x1 * w))] = k
    return scene_from_reflectance(spectra=spectra, index=index, illuminant=illuminant,
                                  illuminance_lux=illuminance_lux, width_m=width_m,
                                  distance_m=distance_m, wavelengths_nm=wl, name="colorchecker",
                                  layout={"patches": boxes})


def _two_tone(light, light_reflectance: float, contrast: float, wl, **scene_kwargs) -> Scene:
    """A neutral two-level chart: ``light`` (H, W) is the coverage of the light level
    (reflectance ``light_reflectance``; the rest ``light_reflectance / contrast``)."""
    spectra = np.vstack([_neutral(light_reflectance / contrast, wl),
                         _neutral(light_reflectance, wl)])
    return scene_from_reflectance(spectra=spectra, coverage=light, wavelengths_nm=wl,
                                  **scene_kwargs)


def slanted_edge(*, shape, width_m, distance_m, illuminant="D65", illuminance_lux=500.0,
                 angle_deg: float = 5.0, contrast: float = 4.0, light_reflectance: float = 0.6,
                 edge_position: float = 0.5, wavelengths_nm=None) -> Scene:
    """ISO 12233 style slanted edge: a near-vertical edge tilted by ``angle_deg`` (default
    5°), dark on the left, crossing the middle row at ``edge_position`` × the width (default
    0.5: through the centre; 0.9 puts it near the right side, to probe the field).
    ``contrast`` is the light/dark reflectance ratio (ISO 12233:2017 recommends 4:1).
    ``layout`` holds ``edge_roi`` (centre) and the uniform ``dark_roi`` / ``light_roi`` on
    either side (for the default position)."""
    if not 0.0 < edge_position < 1.0:
        raise ConfigError(f"edge_position = {edge_position}: valid range is (0, 1)")
    if not 1.0 < contrast <= 1000.0:
        raise ConfigError(f"contrast = {contrast}: valid range is (1, 1000]")
    if not 0.0 < light_reflectance <= 1.0:
        raise ConfigError(f"light_reflectance = {light_reflectance}: valid range is (0, 1]")
    if not -45.0 < angle_deg < 45.0:
        raise ConfigError(f"angle_deg = {angle_deg}: valid range is (-45, 45)")
    h, w = _check_shape(shape)
    wl = as_grid(wavelengths_nm)
    t = np.tan(np.deg2rad(angle_deg))
    x0 = (edge_position - 0.5) * w
    light = _coverage(h, w, lambda y, x: x - x0 - y * t > 0)
    return _two_tone(light, light_reflectance, contrast, wl, name="slanted_edge",
                     illuminant=illuminant, illuminance_lux=illuminance_lux, width_m=width_m,
                     distance_m=distance_m,
                     layout={"edge_roi": [(0.3, 0.7, 0.35, 0.65)],
                             "dark_roi": [(0.3, 0.7, 0.08, 0.3)],
                             "light_roi": [(0.3, 0.7, 0.7, 0.92)]})


def uniform(*, shape, width_m, distance_m, illuminant="D65", illuminance_lux=500.0,
            reflectance: float = 0.18, wavelengths_nm=None) -> Scene:
    """A uniform Lambertian field of neutral ``reflectance`` (default 18 % grey)."""
    if not 0.0 <= reflectance <= 1.0:
        raise ConfigError(f"reflectance = {reflectance}: valid range is 0..1")
    h, w = _check_shape(shape)
    wl = as_grid(wavelengths_nm)
    return scene_from_reflectance(spectra=_neutral(reflectance, wl),
                                  index=np.zeros((h, w), dtype=np.uint8), illuminant=illuminant,
                                  illuminance_lux=illuminance_lux, width_m=width_m,
                                  distance_m=distance_m, wavelengths_nm=wl, name="uniform",
                                  layout={"center": [(0.25, 0.75, 0.25, 0.75)]})


def siemens_star(*, shape, width_m, distance_m, illuminant="D65", illuminance_lux=500.0,
                 cycles: int = 36, contrast: float = 20.0, light_reflectance: float = 0.8,
                 wavelengths_nm=None) -> Scene:
    """Siemens star of ``cycles`` black/white sector pairs on a light background."""
    if not 4 <= cycles <= 720:
        raise ConfigError(f"cycles = {cycles}: valid range is 4..720")
    h, w = _check_shape(shape)
    wl = as_grid(wavelengths_nm)
    radius = 0.48 * min(h, w)

    def light_at(y, x):
        phase = np.arctan2(y, x) * cycles / (2 * np.pi)
        return ((np.floor(phase * 2) % 2) == 0) | (x * x + y * y > radius * radius)

    light = _coverage(h, w, light_at)
    return _two_tone(light, light_reflectance, contrast, wl, name="siemens_star",
                     illuminant=illuminant, illuminance_lux=illuminance_lux, width_m=width_m,
                     distance_m=distance_m)


def dot_grid(*, shape, width_m, distance_m, illuminant="D65", illuminance_lux=500.0,
             pitch_fraction: float = 1 / 16, dot_radius_fraction: float = 0.2,
             contrast: float = 10.0, light_reflectance: float = 0.8,
             wavelengths_nm=None) -> Scene:
    """A square grid of dark dots on a light background (distortion target, ISO 17850 style).

    Dot centres sit at multiples of ``pitch`` = ``pitch_fraction`` × the scene width from the
    scene centre (a dot at the centre), in both directions; dot radius =
    ``dot_radius_fraction`` × pitch. ``layout["center"]`` is a central box.
    """
    if not 0.005 <= pitch_fraction <= 0.5:
        raise ConfigError(f"pitch_fraction = {pitch_fraction}: valid range is 0.005..0.5")
    if not 0.02 <= dot_radius_fraction <= 0.45:
        raise ConfigError(f"dot_radius_fraction = {dot_radius_fraction}: valid range is 0.02..0.45")
    if not 1.0 < contrast <= 1000.0:
        raise ConfigError(f"contrast = {contrast}: valid range is (1, 1000]")
    h, w = _check_shape(shape)
    wl = as_grid(wavelengths_nm)
    pitch = pitch_fraction * w  # samples
    rad = dot_radius_fraction * pitch

    def dark(y, x):
        dy = y - pitch * np.round(y / pitch)
        dx = x - pitch * np.round(x / pitch)
        return dx * dx + dy * dy <= rad * rad

    light = 1.0 - _coverage(h, w, dark)
    return _two_tone(light, light_reflectance, contrast, wl, name="dot_grid",
                     illuminant=illuminant, illuminance_lux=illuminance_lux, width_m=width_m,
                     distance_m=distance_m, layout={"center": [(0.4, 0.6, 0.4, 0.6)]})


def from_rgb(image, *, width_m, distance_m, illuminant="D65", illuminance_lux=500.0,
             shape=None, wavelengths_nm=None, name: str = "image", fit: str = "crop",
             lazy: bool = False) -> Scene:
    """A scene from an sRGB image via Mallett & Yuksel (2019) spectral primary decomposition.

    The sRGB values (8/16-bit integers or floats in 0..1) are linearised (IEC 61966-2-1) and
    taken as *reflectances*: each pixel's reflectance is ``r·B_r(λ) + g·B_g(λ) + b·B_b(λ)``
    with the three basis spectra from colour-science (380–780 nm; held constant beyond;
    shipped as the ``MALLETT2019`` table of :func:`camtwin.spectra.cie_table`). The
    basis is bounded in 0..1, so every sRGB colour maps to a physically valid reflectance, and
    under illuminant E the spectrum reproduces the sRGB colour. ``shape`` resizes first
    (area interpolation) without stretching: ``fit="crop"`` (default) fills the grid and
    cuts the photo's excess centrally, ``"letterbox"`` shows all of it on black bars
    (:mod:`camtwin.scene.rgb`); ``layout["image"]`` is where the photo lies.

    ``lazy`` (with ``shape``): the planes on the grid are not formed; the scene keeps the
    image and forms the part a window reads (:class:`camtwin.scene.scene.PhotoReflectance`;
    the same values) — for a window of a large sensor.

    Reference: I. Mallett, C. Yuksel, "Spectral Primary Decomposition for Rendering with sRGB
    Reflectance", EGSR 2019.
    """
    img = np.asarray(image)
    if img.ndim == 2:  # (a view: the grey plane read for each channel, not copied)
        img = np.broadcast_to(img[..., None], img.shape + (3,))
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ConfigError(f"image must be H×W, H×W×3 or H×W×4, got shape {img.shape}")
    img = img[..., :3]
    if not np.issubdtype(img.dtype, np.integer):  # (codes / their maximum lie in 0..1)
        img = np.clip(img.astype(np.float32, copy=False), 0.0, 1.0)
    layout = {}
    # (3, H, W) planes, then IEC 61966-2-1 sRGB decoding in place: the planes are the only
    # array of the scene grid's size, integer codes converted a channel at a time
    # (camtwin.scene.rgb.fit_planes)
    from .rgb import fit_planes, plan_fit, srgb_to_linear_inplace, unit_channel

    wl = as_grid(wavelengths_nm)
    bx, bv = cie_table("MALLETT2019")
    b = np.clip(np.stack([np.interp(wl, bx, bv[:, i]) for i in range(3)]), 0, 1)
    if lazy and shape is not None:
        plan = plan_fit(img.shape[:2], _check_shape(shape), fit)
        refl = PhotoReflectance(radiance_table(b, illuminant, illuminance_lux, wl),
                                photo=img, plan=plan)
        return Scene(wavelengths_nm=wl, width_m=width_m, distance_m=distance_m, name=name,
                     illuminant=illuminant, illuminance_lux=float(illuminance_lux),
                     layout={"image": [plan.layout_box()]}, reflectance=refl)
    if shape is not None:
        lin, placed = fit_planes(img, _check_shape(shape), fit)
        layout["image"] = [placed.layout_box()]
    else:
        lin = np.empty((3,) + img.shape[:2], np.float32)
        for c in range(3):
            unit_channel(img[..., c], out=lin[c])

    weights = srgb_to_linear_inplace(lin)
    return scene_from_reflectance(spectra=b, weights=weights,
                                  illuminant=illuminant, illuminance_lux=illuminance_lux,
                                  width_m=width_m, distance_m=distance_m, wavelengths_nm=wl,
                                  name=name, layout=layout)


#: Chart name → constructor.
CHARTS = {
    "colorchecker": colorchecker,
    "slanted_edge": slanted_edge,
    "uniform": uniform,
    "siemens_star": siemens_star,
    "dot_grid": dot_grid,
}


def make_chart(name: str, **kwargs) -> Scene:
    """Build the chart ``name`` (one of :data:`CHARTS`)."""
    if name not in CHARTS:
        raise unknown_name("scene", name, CHARTS)
    return CHARTS[name](**kwargs)
