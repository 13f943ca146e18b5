"""End-to-end simulation of a camera module: scene → optics → sensor → raw → ISP.

These helpers wire the pure stage functions together for the CLI, the demo and notebooks;
each stage stays usable on its own (:mod:`camtwin.scene`, :mod:`camtwin.optics`,
:mod:`camtwin.sensor`, :mod:`camtwin.isp`).
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .isp import RenderedImage, calibrate_ccm, process
from .measure.color import reference_linear_srgb
from .module import ModuleSpec
from .optics import OpticalImage, form_image
from .raw import RawFrame
from .regions import inset_box
from .scene import Scene, from_rgb, make_chart
from .sensor import auto_exposure_s, capture

#: Light level [lx] and seed of the ColorChecker capture used to fit a module's CCM.
CCM_CALIBRATION_LUX = 500.0
CCM_CALIBRATION_SEED = 20240601


def scene_extent(module: ModuleSpec, *, oversample: int = 1,
                 margin_px: int = 0) -> tuple[tuple[int, int], float]:
    """Sample grid (rows, cols) and width [m] of the scene plane (at the lens's object
    distance) that fills the sensor plus ``margin_px`` on every side, at ``oversample``
    samples per pixel on the optical axis.

    Rectilinear lens: the sensor seen through the magnification m, ``(w + 2·margin)·p/m``
    wide. Fisheye projection (:data:`camtwin.optics.lens.PROJECTIONS`): the scene plane
    reaches the field angle the middle of each sensor edge sees, θ = P⁻¹(w/2v) (resp.
    h/2v), i.e. d·tan θ, a factor tan θ/(w/2v) ≥ 1 beyond the rectilinear extent; the grid
    grows by the same factor (an even number of samples, so the centre stays on the axis)
    at the on-axis sample pitch, where every projection has the magnification m. The whole
    plane then lands inside the sensor (the fisheye bends its edges inwards); the sensor's
    corners see beyond it, where the image continues mirrored at the border, as with strong
    barrel distortion.
    """
    s, lens = module.sensor, module.lens
    rows = (s.height_px + 2 * margin_px) * oversample
    cols = (s.width_px + 2 * margin_px) * oversample
    if lens.rectilinear:
        width_m = s.width_mm * 1e-3 / lens.magnification
        return (rows, cols), width_m * (s.width_px + 2 * margin_px) / s.width_px
    pitch_m = s.pixel_pitch_um * 1e-6 / lens.magnification / oversample  # on axis
    p_mm = s.pixel_pitch_um * 1e-3

    def grown(n_px: int, n: int) -> int:
        half_mm = 0.5 * n_px * p_mm
        ratio = math.tan(float(lens.field_angle_rad(half_mm))) / (half_mm
                                                                  / lens.image_distance_mm)
        return n + 2 * math.ceil(n * (ratio - 1.0) / 2.0)

    rows = grown(s.height_px + 2 * margin_px, rows)
    cols = grown(s.width_px + 2 * margin_px, cols)
    return (rows, cols), cols * pitch_m


def field_of_view_width_m(module: ModuleSpec) -> float:
    """Width [m] of the scene plane that fills the sensor at the focus distance (for a
    fisheye lens: reaches the field angle of the sensor's corners, :func:`scene_extent`)."""
    if module.lens.rectilinear:
        return module.sensor.width_mm * 1e-3 / module.lens.magnification
    return scene_extent(module)[1]


def module_scene(module: ModuleSpec, scene: str | Path, *, illuminant: str = "D65",
                 illuminance_lux: float = 500.0, oversample: int = 1, **chart_kwargs) -> Scene:
    """A chart (by name) or an image file (path) filling the module's field of view.

    The scene is sampled at ``oversample`` samples per sensor pixel (projected), so
    ``oversample=1`` puts one scene sample on each pixel.
    """
    if not 1 <= oversample <= 8:
        raise ConfigError(f"oversample = {oversample}: valid range is 1..8")
    shape, width_m = scene_extent(module, oversample=oversample)
    geom = dict(width_m=width_m, distance_m=module.lens.object_distance_m,
                illuminant=illuminant, illuminance_lux=illuminance_lux)
    path = Path(scene)
    if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp") or path.is_file():
        return from_rgb(read_rgb_image(path), shape=shape, name=path.stem, **geom)
    return make_chart(str(scene), shape=shape, **geom, **chart_kwargs)


def read_rgb_image(path: Path) -> np.ndarray:
    """Read an 8/16-bit RGB(A) or grey image as an (H, W, 3) array in RGB order."""
    import cv2

    if not path.is_file():
        raise ConfigError(f"scene image {path} does not exist")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ConfigError(f"scene image {path} is not an image OpenCV can read")
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return img


@dataclass(frozen=True, eq=False)
class Shot:
    """One simulated capture: the optical image, the raw frame and its rendering."""

    optical_image: OpticalImage
    raw: RawFrame
    rendered: RenderedImage


def expose(module: ModuleSpec, oi: OpticalImage, *, exposure_s: float | None, rng) -> RawFrame:
    """Capture ``oi`` with the module's sensor; ``exposure_s=None`` runs auto exposure."""
    if exposure_s is None:
        exposure_s = auto_exposure_s(oi, module.sensor)
    return capture(oi, module.sensor, exposure_s, rng)


@lru_cache(maxsize=16)
def module_ccm(module: ModuleSpec) -> np.ndarray:
    """The module's colour-correction matrix, fitted on a simulated ColorChecker capture.

    The chart is lit by D65 at :data:`CCM_CALIBRATION_LUX` and auto-exposed; the ISP's
    black level, white balance and demosaic run on the raw; the 24 patch means are fitted
    (white-preserving least squares) to the reference linear sRGB values. Cached per module.
    """
    if module.sensor.cfa == "mono":
        return np.eye(3)
    scene = module_scene(module, "colorchecker", illuminance_lux=CCM_CALIBRATION_LUX)
    raw = expose(module, form_image(scene, module.lens), exposure_s=None,
                 rng=CCM_CALIBRATION_SEED)
    return ccm_from_capture(module, raw)


def ccm_from_capture(module: ModuleSpec, raw: RawFrame) -> np.ndarray:
    """Fit the CCM from a raw ColorChecker capture carrying ``layout_px["patches"]``."""
    boxes = raw.metadata.get("layout_px", {}).get("patches")
    if not boxes:
        raise ConfigError("this raw frame carries no ColorChecker patch layout")
    return calibrate_ccm(raw, [inset_box(b) for b in boxes], reference_linear_srgb(),
                         spec=module.isp, lens=module.lens, sensor=module.sensor)


def render(module: ModuleSpec, raw: RawFrame, *, ccm: np.ndarray | None = None) -> RenderedImage:
    """Run the module's ISP on ``raw``; a fitted CCM is computed (and cached) when needed."""
    spec = module.isp
    if spec.ccm == "fitted" and ccm is None:
        ccm = module_ccm(module)
    return process(raw, spec, ccm=ccm if spec.ccm == "fitted" else None, lens=module.lens,
                   sensor=module.sensor)


def shoot(module: ModuleSpec, scene: Scene, *, exposure_s: float | None = None, rng=None,
          ccm: np.ndarray | None = None) -> Shot:
    """Scene → optical image → raw → rendered image with ``module``."""
    oi = form_image(scene, module.lens)
    raw = expose(module, oi, exposure_s=exposure_s, rng=rng)
    return Shot(oi, raw, render(module, raw, ccm=ccm))
