"""End-to-end simulation of a camera module: scene → optics → sensor → raw → ISP.

These helpers wire the pure stage functions together for the CLI, the demo and notebooks;
each stage stays usable on its own (:mod:`camtwin.scene`, :mod:`camtwin.optics`,
:mod:`camtwin.sensor`, :mod:`camtwin.isp`).

:func:`shoot` takes the streamed path (:mod:`camtwin.optics.stream`): the spectrum is
summed into per-channel electron-rate densities band group by band group, so its memory
grows with the pixel count only (:mod:`camtwin.memory` checks it before anything is
allocated). A sensor window at its true field position (:mod:`camtwin.crop`) is imaged
from the part of the full scene that falls on it.
"""

from __future__ import annotations

import math

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .errors import ConfigError
from .isp import RenderedImage, calibrate_ccm, process
from .measure.color import reference_linear_srgb
from .module import ModuleSpec
from .crop import SensorWindow, crop_module, window_module  # noqa: F401 (public API)
from .optics import OpticalImage, form_image
from .optics.stream import DEFAULT_BAND_GROUP_NM, ChannelImage, form_channel_image
from .raw import RawFrame
from .regions import inset_box
from .scene import Scene, from_rgb, make_chart
from .sensor import auto_exposure_s, capture

#: Light level [lx] and seed of the ColorChecker capture used to fit a module's CCM.
CCM_CALIBRATION_LUX = 500.0
CCM_CALIBRATION_SEED = 20240601
#: Largest sensor [pixels] the CCM is fitted on; larger ones use a centre crop of this area.
CCM_CALIBRATION_MAX_PX = 1_300_000


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
                 illuminance_lux: float = 500.0, oversample: int = 1, fit: str = "crop",
                 lazy: bool = False, **chart_kwargs) -> Scene:
    """A chart (by name) or an image file (path) filling the module's field of view.

    A photo of another aspect ratio is fitted without stretching: ``fit="crop"`` fills the
    view (its excess cut centrally), ``"letterbox"`` shows all of it on black bars
    (:mod:`camtwin.scene.rgb`).

    The scene is sampled at ``oversample`` samples per sensor pixel (projected), so
    ``oversample=1`` puts one scene sample on each pixel.

    ``lazy``: a photo's planes on the grid are formed for the part a window reads only
    (:func:`camtwin.scene.from_rgb` ``lazy``; the same values), for a sensor window
    (:func:`shoot` ``window``): the scene then holds the decoded photo, not the grid.
    """
    if not 1 <= oversample <= 8:
        raise ConfigError(f"oversample = {oversample}: valid range is 1..8")
    shape, width_m = scene_extent(module, oversample=oversample)
    geom = dict(width_m=width_m, distance_m=module.lens.object_distance_m,
                illuminant=illuminant, illuminance_lux=illuminance_lux)
    path = Path(scene)
    if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp") or path.is_file():
        # (the photo's decoding and fitting checked with the part the grid uses; the
        # reader then checks the decoding alone)
        if not lazy:
            photo_build_bytes(path, shape, fit, check=True)
        return from_rgb(read_rgb_image(path, work_bytes_per_px=0), shape=shape,
                        name=path.stem, fit=fit, lazy=lazy, **geom)
    return make_chart(str(scene), shape=shape, **geom, **chart_kwargs)


#: Bytes per pixel an image file costs its readers beyond the decoded array, by default
#: (``camtwin privacy``'s reader; a scene checks its own build, :func:`photo_build_bytes`,
#: a measurement its own, :data:`camtwin.measure.imread.MEASURE_WORK_BYTES_PER_PX`).
IMAGE_WORK_BYTES_PER_PX = 96

#: Bytes per used source pixel a photo scene costs beyond its decoded array while it is
#: fitted to the scene grid: one channel of the used part as float32 and OpenCV's
#: area-resize buffers (:func:`camtwin.scene.rgb.fit_planes`; measured above the decoded
#: array, peak RSS: 4.1 B per pixel for a 12000 × 9000 8-bit PNG, 4.3 for an 8000 × 6000
#: 16-bit one, 4.7 for a 3000 × 8000 one letterboxed — its placed part included).
SCENE_IMAGE_WORK_BYTES_PER_PX = 5


class ImageHeader(NamedTuple):
    """What an image file's header says (:func:`image_header`)."""

    height: int
    width: int
    channels: int
    bytes_per_sample: int
    #: Pillow's format name (``"JPEG"``, ``"PNG"``, …); None beyond Pillow's pixel limit
    format: str | None


def image_header(path: Path) -> ImageHeader | None:
    """The :class:`ImageHeader` (size, channels, bytes per sample) of the image file
    ``path`` from its header alone (Pillow reads only the header on open; a PNG's bit
    depth from its IHDR chunk, which Pillow does not report for 16-bit colour; other
    formats than JPEG and PNG counted at 2 bytes per sample, the most
    :func:`read_rgb_image` decodes). Beyond Pillow's own pixel limit: a PNG's from its
    IHDR chunk, another format's as 1 × pixels (from Pillow's message) of 3 channels of
    2 bytes, ``format`` None. None for a format Pillow cannot parse (OpenCV may still
    read it).

    Raises
    ------
    ConfigError
        Missing or unreadable file.
    """
    import re
    import warnings

    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ConfigError(f"scene image {path} does not exist")
    try:
        with open(path, "rb") as f:
            head = f.read(26)
    except OSError as exc:
        raise ConfigError(f"scene image {path} is not a readable image ({exc})") from None
    png = (head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 and head[12:16] == b"IHDR")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:  # header only
                fmt, (w, h), bands = im.format, im.size, len(im.getbands())
                bps = 1 if fmt == "JPEG" or (png and head[24] <= 8) else 2
                return ImageHeader(int(h), int(w), bands, bps, fmt)
    except Image.DecompressionBombError as exc:  # beyond Pillow's own limit: the budget decides
        if png:  # (width, height, bit depth, colour type from the IHDR chunk)
            w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
            bands = {0: 1, 4: 2, 6: 4}.get(head[25], 3)
            return ImageHeader(h, w, bands, 2 if head[24] > 8 else 1, "PNG")
        pixels = [int(n) for n in re.findall(r"\((\d+) pixels\)", str(exc))]
        return ImageHeader(1, pixels[0] if pixels else 2**31, 3, 2, None)
    except UnidentifiedImageError:
        return None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ConfigError(f"scene image {path} is not a readable image "
                          f"({' '.join(str(exc).split())})") from None


def _decoded_bytes(header: ImageHeader) -> float:
    return float(header.height) * header.width * header.channels * header.bytes_per_sample


def _read_peak(header: ImageHeader) -> float:
    """Peak bytes of decoding an image of ``header`` (:func:`read_rgb_image`): OpenCV's
    decoder holds a second copy of the decoded array (0.61 GiB at the peak of reading a
    0.30 GiB PNG), a JPEG read through Pillow 2.5 copies (0.75 GiB for a 0.30 GiB one)."""
    return _decoded_bytes(header) * (2.5 if header.format == "JPEG" else 2.0)


def _held_after_read(header: ImageHeader) -> float:
    """Bytes the decoded image holds while the caller works on it: the array, and for a
    JPEG also Pillow's freed image blocks, which its allocator may keep (a 12 MP JPEG's
    scene grew 119.5 MB against a PNG's 98.1)."""
    return _decoded_bytes(header) * (2.0 if header.format == "JPEG" else 1.0)


def _decode_bytes(header: ImageHeader, work_bytes_per_px: float) -> float:
    """Peak bytes of reading an image of ``header`` and working on it: the larger of the
    decoding (:func:`_read_peak`) and the decoded image with ``work_bytes_per_px`` per
    pixel of the caller's copies."""
    return max(_read_peak(header), _held_after_read(header)
               + float(header.height) * header.width * work_bytes_per_px)


def photo_build_bytes(path, target_hw, fit: str = "crop", *, check: bool = False,
                      scene_bytes: float = 0) -> int:
    """Peak bytes of building a photo scene from the file ``path`` on a scene grid of
    ``target_hw``, beyond the scene's own samples (``scene_bytes``, allocated once the
    photo is decoded): the larger of reading it (:func:`read_rgb_image`, the decoder's
    copies) and fitting it (:func:`camtwin.scene.rgb.fit_planes`: the decoded image, one
    float32 channel of its used part at a time —
    :data:`SCENE_IMAGE_WORK_BYTES_PER_PX` — and, letterboxed, one channel of the placed
    part, next to the scene). 0 when the header is unreadable by Pillow (the reader checks
    what it decodes). ``check``: refuse it first if it alone (with the interpreter's own
    bytes) exceeds the memory budget — one line naming the file
    (:class:`camtwin.memory.MemoryBudgetError`)."""
    from .scene.rgb import plan_fit

    header = image_header(Path(path))
    if header is None:
        return 0
    h, w = header.height, header.width
    plan = plan_fit((h, w), target_hw, fit)
    r0, r1, c0, c1 = plan.used
    p0, p1, q0, q1 = plan.placed
    part = 0 if (p1 - p0, q1 - q0) == tuple(plan.target_hw) else 4 * (p1 - p0) * (q1 - q0)
    fitting = (_held_after_read(header) + SCENE_IMAGE_WORK_BYTES_PER_PX * (r1 - r0) * (c1 - c0)
               + part + scene_bytes)
    need = int(max(_read_peak(header), fitting) - scene_bytes)
    if check:
        _check_photo(path, header, need)
    return need


def photo_read_bytes(path, *, check: bool = False) -> tuple[int, int]:
    """(peak bytes of reading the photo file ``path``, bytes its decoded image holds
    afterwards) — a photo scene built for a window (:func:`module_scene` ``lazy``) holds
    the decoded image and forms the window's part of the grid from it. (0, 0) when the
    header is unreadable by Pillow (the reader checks what it decodes). ``check``: refuse
    the reading first if it exceeds the memory budget (one line naming the file)."""
    header = image_header(Path(path))
    if header is None:
        return 0, 0
    need = int(_read_peak(header))
    if check:
        _check_photo(path, header, need)
    return need, int(_held_after_read(header))


def _check_photo(path, header: ImageHeader, need: int) -> None:
    """Refuse reading the photo ``path`` if ``need`` bytes (with the interpreter's own)
    exceed the memory budget: one line naming the file."""
    from .memory import FIXED_BYTES, check_budget

    check_budget(need + FIXED_BYTES, f"reading image {path} ({_size_text(header)})",
                 "use a smaller image or raise --max-memory")


def _size_text(header: ImageHeader) -> str:
    w, h = header.width, header.height
    return f"{w} × {h} px" if header.format else f"{w / 1e6:.0f} megapixels"


def read_rgb_image(path: Path, *,
                   work_bytes_per_px: float = IMAGE_WORK_BYTES_PER_PX) -> np.ndarray:
    """Read an 8/16-bit RGB(A) or grey image as an (H, W, 3) array in RGB order ((H, W) for
    a grey image).

    The image's declared size is read from its header first (:func:`image_header`) and
    checked against the memory budget (:func:`camtwin.memory.check_budget`: the larger of
    decoding it and the decoded array with ``work_bytes_per_px`` per pixel of the caller's
    working copies, :func:`_decode_bytes` — :data:`IMAGE_WORK_BYTES_PER_PX` for a
    measurement; a scene checks its own first, :func:`photo_build_bytes`), so a small file
    that decodes to gigabytes is refused with one line before anything is decoded. JPEG
    is decoded by Pillow (which refuses a truncated file instead of filling the missing
    part with grey), everything else by OpenCV (16-bit PNG/TIFF); decoder messages that C
    libraries print on stderr are silenced.

    Raises
    ------
    ConfigError
        Missing, unreadable, truncated or corrupt file.
    camtwin.memory.MemoryBudgetError
        The decoded image and its working copies exceed the memory budget.
    """
    import cv2

    from ._io import quiet_stderr

    header = image_header(path)  # (None: not a format Pillow knows — OpenCV decides,
    fmt = None                   # within its own pixel limit)
    if header is not None:
        from .memory import check_budget

        fmt = header.format
        check_budget(_decode_bytes(header, work_bytes_per_px),
                     f"reading image {path} ({_size_text(header)})",
                     "use a smaller image or raise --max-memory")
    if fmt == "JPEG":
        try:
            return _read_jpeg(path)
        except (OSError, ValueError, SyntaxError) as exc:
            raise ConfigError(f"scene image {path} is truncated or corrupt "
                              f"({' '.join(str(exc).split())})") from None
    try:
        with quiet_stderr():
            img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        msg = " ".join(str(exc).split()).rsplit("error:", 1)[-1].strip()
        raise ConfigError(f"scene image {path} cannot be decoded ({msg})") from None
    if img is None:
        raise ConfigError(f"scene image {path} is not an image OpenCV can read "
                          "(unknown format, truncated or corrupt)")
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    elif img.ndim == 3:  # (in place: no second copy of a large photo)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)
    return img


def _read_jpeg(path: Path) -> np.ndarray:
    """A JPEG decoded by Pillow (a truncated file raises) as (H, W, 3) RGB or (H, W) grey
    uint8, copied out of Pillow's image a block of rows at a time: ``np.asarray`` of the
    whole image (its bytes joined from chunks) and a conversion to the mode it already
    had had peaked at 4.7× the decoded array (a 12000 × 9000 JPEG: +1.41 GiB), this at
    2.5× (+0.75 GiB)."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            mode = "L" if im.mode in ("L", "1") else "RGB"
            im.load()
            if im.mode != mode:      # (CMYK, YCbCr …: a converted copy)
                im = im.convert(mode)
            w, h = im.size
            out = np.empty((h, w) if mode == "L" else (h, w, 3), np.uint8)
            step = max(1, (16 << 20) // (3 * w))
            for r0 in range(0, h, step):
                r1 = min(h, r0 + step)
                out[r0:r1] = np.asarray(im.crop((0, r0, w, r1)))
            return out


class Shot:
    """One simulated capture: the raw frame and its rendering, with the optical image.

    ``optical_image`` is the spectral :class:`~camtwin.optics.OpticalImage`; a streamed
    shot never formed it and forms it on first access (checked against the memory
    budget). ``channel_image`` is what the sensor integrated (a
    :class:`~camtwin.optics.stream.ChannelImage`, or the optical image itself; None when
    :func:`shoot` released it, see its ``keep_optics``).
    """

    __slots__ = ("_oi", "raw", "rendered", "scene", "lens", "channel_image")

    def __init__(self, optical_image, raw: RawFrame, rendered: RenderedImage, *,
                 scene: Scene | None = None, lens=None, channel_image=None):
        self._oi = optical_image if isinstance(optical_image, OpticalImage) else None
        self.raw = raw
        self.rendered = rendered
        self.scene = scene
        self.lens = lens
        self.channel_image = channel_image if channel_image is not None else optical_image

    @property
    def optical_image(self) -> OpticalImage:
        if self._oi is None:
            if self.scene is None:
                raise ConfigError("this shot kept no scene to form its optical image from")
            sc = self.scene  # a LitScene (camtwin.scene.lights): its lights at their means
            self._oi = form_image(sc.mean_scene() if hasattr(sc, "mean_scene") else sc,
                                  self.lens)
        return self._oi

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from .report.notebook import short_repr
        return short_repr(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from .report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from .report.notebook import repr_png
        return repr_png(self)

    def to_xarray(self):
        """The raw frame as an ``xarray.DataArray`` of DN over (y, x), metadata and units
        in ``attrs`` (:func:`camtwin.report.notebook.shot_to_xarray`; needs xarray)."""
        from .report.notebook import shot_to_xarray
        return shot_to_xarray(self)


def window_margin(scene: Scene, module: ModuleSpec, window: SensorWindow) -> int:
    """The margin M [scene samples] :func:`scene_window` adds on every side of a sensor
    window: the blur's support and the largest shift of the lens's geometry (distortion,
    lateral colour) over the window."""
    from .optics.field import geometry_source, warp_maps
    from .optics.image import full_field_um

    s = module.sensor
    if tuple(scene.shape) != (s.height_px, s.width_px):
        raise ConfigError(f"a window needs the scene of the full sensor ({s.height_px} × "
                          f"{s.width_px} samples); got {scene.shape}")
    lens = module.lens
    pitch = s.pixel_pitch_um
    ff = full_field_um(scene.shape, pitch, lens)
    shift = 0.0
    if lens.moves_points or lens.lateral_color_um:
        step = max(1, min(window.width, window.height) // 32)
        xu, yu = geometry_source(scene.shape, pitch, lens, ff,
                                 rows=slice(window.y, window.y + window.height, step))
        gy, gx = np.mgrid[window.y:window.y + window.height:step,
                          window.x:window.x + window.width:step]
        scales = lens.lateral_color_scale(scene.wavelengths_nm, ff * 1e-3)
        for sc in {1.0, float(scales.min()), float(scales.max())}:
            mx, my = warp_maps(xu[:, window.x:window.x + window.width:step],
                               yu[:, window.x:window.x + window.width:step], sc, scene.shape,
                               pitch, ff)
            shift = max(shift, float(np.max(np.hypot(mx - gx, my - gy))))
    lam = float(scene.wavelengths_nm.max()) * 1e-3
    blur_px = 6 * 1.22 * lam * lens.working_f_number / pitch + 4
    if not lens.diffraction_limited:
        from .optics.pupil import geometric_blur_radius_um

        blur_px += 1.5 * max(geometric_blur_radius_um(lens.zernike_um(h), lens.working_f_number)
                             for h in (0.0, 1.0)) / pitch
    return int(np.ceil(shift + blur_px)) + 2


def scene_window(scene: Scene, module: ModuleSpec, window: SensorWindow,
                 margin: int | None = None) -> tuple[Scene, int]:
    """The part of ``scene`` (filling the full sensor of ``module`` at one sample per pixel,
    :func:`module_scene`) that a sensor window needs, with a margin of M samples on every
    side for the blur and the lens's geometry (points that distortion moves into the
    window; :func:`window_margin`, or ``margin`` when the caller has it); beyond the
    scene's edge it continues mirrored. Returns (scene, M)."""
    margin = window_margin(scene, module, window) if margin is None else int(margin)
    r0, r1 = window.y - margin, window.y + window.height + margin
    c0, c1 = window.x - margin, window.x + window.width + margin
    h, w = scene.shape
    pad = ((max(0, -r0), max(0, r1 - h)), (max(0, -c0), max(0, c1 - w)))
    rows, cols = slice(max(0, r0), min(h, r1)), slice(max(0, c0), min(w, c1))
    if scene.reflectance is not None and scene._radiance is None:
        refl = scene.reflectance.window(rows, cols)
        if any(v for p in pad for v in p):
            refl = refl.padded(pad)
        kw = dict(reflectance=refl)
    else:
        kw = dict(radiance=np.pad(scene.radiance[:, rows, cols], ((0, 0),) + pad,
                                  mode="symmetric"))
    n_cols = window.width + 2 * margin
    return Scene(wavelengths_nm=scene.wavelengths_nm, width_m=scene.sample_pitch_m * n_cols,
                 distance_m=scene.distance_m, name=scene.name, illuminant=scene.illuminant,
                 illuminance_lux=scene.illuminance_lux, layout={}, **kw), margin


def form_module_image(module: ModuleSpec, scene: Scene, *, window: SensorWindow | None = None,
                      band_group_nm: float | None = DEFAULT_BAND_GROUP_NM,
                      progress=None, mean_spectrum=None,
                      margin: int | None = None) -> ChannelImage:
    """The streamed optical image (:class:`~camtwin.optics.stream.ChannelImage`) of
    ``scene`` through ``module``'s lens, for its sensor's channels.

    With ``window`` (from :func:`camtwin.crop.window_module`; ``module`` is then the
    *full* module and ``scene`` fills its full sensor) only the window is imaged, with the
    field-dependent optics of its true position (``margin``: the window's
    :func:`window_margin`, when the caller has computed it).
    """
    if window is None or (window.width, window.height) == (window.full_width,
                                                             window.full_height):
        return form_channel_image(scene, module.lens, module.sensor,
                                  band_group_nm=band_group_nm, progress=progress,
                                  mean_spectrum=mean_spectrum)
    from .optics.image import full_field_um

    s = module.sensor
    pitch = s.pixel_pitch_um
    ff = full_field_um((s.height_px, s.width_px), pitch, module.lens)
    sub, _ = scene_window(scene, module, window, margin)
    dy, dx = window.offset_px
    return form_channel_image(sub, module.lens, s, band_group_nm=band_group_nm,
                              field_offset_um=(dy * pitch, dx * pitch),
                              full_field_um_override=ff, sensor_offset_px=(dy, dx),
                              full_sensor_px=window.full_shape, progress=progress,
                              mean_spectrum=mean_spectrum)


def expose(module: ModuleSpec, oi, *, exposure_s: float | None, rng) -> RawFrame:
    """Capture ``oi`` (an OpticalImage or a streamed ChannelImage) with the module's sensor;
    ``exposure_s=None`` runs auto exposure."""
    if exposure_s is None:
        exposure_s = auto_exposure_s(oi, module.sensor)
    return capture(oi, module.sensor, exposure_s, rng)


@lru_cache(maxsize=16)
def module_ccm(module: ModuleSpec) -> np.ndarray:
    """The module's colour-correction matrix, fitted on a simulated ColorChecker capture.

    The chart is lit by D65 at :data:`CCM_CALIBRATION_LUX` and auto-exposed; the ISP's
    black level, white balance and demosaic run on the raw; the 24 patch means are fitted
    (white-preserving least squares) to the reference linear sRGB values. Cached per module
    in memory and on disk (:func:`camtwin.cache.cached_array`, keyed by the whole module spec
    and camtwin's version), so a second process does not refit.
    """
    if module.sensor.cfa == "mono":
        return np.eye(3)
    from .cache import cached_array

    return cached_array("ccm", module, lambda: fit_module_ccm(module), shape=(3, 3))


def fit_module_ccm(module: ModuleSpec) -> np.ndarray:
    """Fit the module's CCM now (no cache): see :func:`module_ccm`."""
    scene = module_scene(module, "colorchecker", illuminance_lux=CCM_CALIBRATION_LUX)
    raw = expose(module, form_channel_image(scene, module.lens, module.sensor), exposure_s=None,
                 rng=CCM_CALIBRATION_SEED)
    return ccm_from_capture(module, raw)


def calibration_module(module: ModuleSpec) -> ModuleSpec:
    """The module the CCM is fitted on: ``module`` itself up to
    :data:`CCM_CALIBRATION_MAX_PX` pixels, else its centre crop of that area (same aspect,
    pitch, lens and pixels) — the colour fit depends on the spectral response, not on the
    pixel count, and a 48 MP sensor need not be simulated twice per capture."""
    s = module.sensor
    n = s.width_px * s.height_px
    if n <= CCM_CALIBRATION_MAX_PX:
        return module
    f = (CCM_CALIBRATION_MAX_PX / n) ** 0.5
    return crop_module(module, int(s.width_px * f), int(s.height_px * f))


def ccm_from_capture(module: ModuleSpec, raw: RawFrame) -> np.ndarray:
    """Fit the CCM from a raw ColorChecker capture carrying ``layout_px["patches"]``."""
    boxes = raw.metadata.get("layout_px", {}).get("patches")
    if not boxes:
        raise ConfigError("this raw frame carries no ColorChecker patch layout")
    return calibrate_ccm(raw, [inset_box(b) for b in boxes], reference_linear_srgb(),
                         spec=module.isp, lens=module.lens, sensor=module.sensor)


def render(module: ModuleSpec, raw: RawFrame, *, ccm: np.ndarray | None = None,
           window: SensorWindow | None = None) -> RenderedImage:
    """Run the module's ISP on ``raw``; a fitted CCM is computed (and cached) when needed.

    ``raw`` of a sensor ``window`` (``module`` then the window's module) gets the
    lens-shading correction of the window's true field position."""
    spec = module.isp
    if spec.ccm == "fitted" and ccm is None:
        ccm = module_ccm(calibration_module(module))
    gain = None
    if window is not None and spec.lens_shading == "lens":
        from .isp.config import LensShadingStage
        from .isp.shading import gain_from_lens

        gain = gain_from_lens(raw.shape, module.sensor.pixel_pitch_um, module.lens,
                              module.sensor, max_gain=LensShadingStage().max_gain,
                              offset_px=window.offset_px, full_sensor_px=window.full_shape)
    return process(raw, spec, ccm=ccm if spec.ccm == "fitted" else None, lens=module.lens,
                   sensor=module.sensor, shading_gain=gain)


def shoot(module: ModuleSpec, scene: Scene, *, exposure_s: float | None = None, rng=None,
          ccm: np.ndarray | None = None, window: SensorWindow | None = None,
          band_group_nm: float | None = DEFAULT_BAND_GROUP_NM, check_memory: bool = True,
          timings: dict | None = None, progress=None, keep_optics: bool = False,
          start_s: float = 0.0, shake=None, ois="module") -> Shot:
    """Scene → optical image → raw → rendered image with ``module`` (streamed optics).

    ``window`` images a window of the sensor at its true field position (``module`` the
    full module, ``scene`` filling its full sensor; :func:`camtwin.crop.window_module`).
    ``band_group_nm=None`` sums the spectrum band by band (full sampling; the default
    groups differ by < 0.5 %, :mod:`camtwin.optics.stream`). The working set is checked
    against the memory budget first (:func:`camtwin.memory.check_capture`); ``timings``
    (a dict) receives the seconds of each stage; ``progress(stage, done, total)`` is
    called as the optics advance. The streamed optical image (per-channel planes, 12 bytes
    per pixel) is released before the ISP runs unless ``keep_optics`` (then it is
    ``Shot.channel_image``); ``Shot.optical_image`` re-forms the spectral image on demand.

    ``scene`` may be a :class:`~camtwin.scene.lights.LitScene` (light sources with
    waveforms: traffic lights, LED headlamps, signs): each light is imaged on its own and
    integrated with its waveform over each row's window (:func:`camtwin.scene.lights.
    expose_lit`), ``start_s`` [s] being row 0's integration start (the phase against the
    waveforms); with ``window`` only the lights that reach the window are imaged. The raw's
    ``metadata["lights"]`` gives each light's box, signal and whether it was seen
    (:func:`camtwin.scene.lights.light_signals`). ``channel_image`` is then the steady part.

    ``shake`` (a preset of :data:`camtwin.motion.SHAKE_PRESETS`, a ShakeSpec or a camera
    rotation :class:`~camtwin.motion.Trajectory`) rotates the camera during the exposure:
    the channel image is warped rigidly at each time sample and every row integrates it
    over its own window — blur, and on a rolling shutter the row-to-row wobble
    (:mod:`camtwin.motion.capture`). ``ois``: ``"module"`` (the module's
    ``stabiliser.ois``; none without one), a preset of :data:`camtwin.motion.OIS_PRESETS`,
    an OisSpec or None. The trajectory and gyro noise come from a generator spawned from
    ``rng``, so the frame noise is that of the unshaken capture of the same seed. The raw's
    ``metadata["shake"]`` records the shake, the OIS and the blur and wobble in pixels.
    Not combined with light sources (a LitScene).
    """
    import time

    from .memory import check_capture
    from .scene.lights import LitScene

    lit = scene if isinstance(scene, LitScene) else None
    if shake is None and not (ois is None or ois in ("module", "none")):
        raise ConfigError(f"ois = {ois!r} needs a shake (shake = None: the camera is still)")
    if shake is not None:
        from .motion.capture import shake_option
        from .motion.stabilise import resolve_ois

        shake = shake_option(shake, option="shake")
        resolve_ois(module, ois)  # an unknown preset fails before any work
        if lit is not None:
            raise ConfigError("shake with light sources (a LitScene) is not supported: "
                              "capture the lights without shake")
    if lit is not None:
        from .scene.lights import lights_reaching_window

        if not np.isfinite(start_s):
            raise ConfigError(f"start_s = {start_s}: must be finite")
        lit_win = lights_reaching_window(module, lit, window)
        scene = lit.scene

    mod = module if window is None else window_module(module, window.x, window.y,
                                                      window.width, window.height)[0]
    if check_memory:
        kind = "index" if (scene.reflectance is not None
                           and scene.reflectance.index is not None) else "rgb"
        extra, what = 0, None
        if shake is not None:
            from .motion.capture import shake_extra_bytes

            extra = shake_extra_bytes(mod)
            what = (f"shaken capture of {mod.name} ({mod.sensor.width_px} × "
                    f"{mod.sensor.height_px} px)")
        need = check_capture(mod, scene_kind=kind, extra_bytes=extra, what=what)
        if lit is not None and lit_win.lights:
            from .memory import capture_hint, check_budget
            from .scene.lights import extra_light_bytes

            check_budget(need + extra_light_bytes(mod, len(lit_win.lights)),
                         f"capture of {mod.name} with {len(lit_win.lights)} light source(s)",
                         capture_hint(mod))
    t = {} if timings is None else timings

    def note(stage: str, done: int = 0, total: int | None = None) -> None:
        if progress is not None:
            progress(stage, done, total)

    t0 = time.perf_counter()
    note("optics")
    if lit is None:
        oi = form_module_image(module, scene, window=window, band_group_nm=band_group_nm,
                               progress=lambda d, n: note("optics", d, n))
    else:
        from .scene.lights import lit_images

        oi, light_ois = lit_images(module, lit_win, window=window, band_group_nm=band_group_nm,
                                   progress=lambda d, n: note("optics", d, n))
    t["optics_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    note("sensor")
    if shake is not None:
        from .motion.capture import capture_moving, shake_motion, shake_rng

        gen, shake_gen = shake_rng(rng)
        if exposure_s is None:
            exposure_s = auto_exposure_s(oi, mod.sensor)
        motion = shake_motion(module, exposure_s, shake_gen, shake=shake, ois=ois,
                              sensor=mod.sensor, start_s=start_s)
        raw = capture_moving(oi, mod.sensor, exposure_s, gen, motion, start_s=start_s,
                             progress=lambda d, n: note("sensor", d, n))
    elif lit is None:
        raw = expose(mod, oi, exposure_s=exposure_s, rng=rng)
    else:
        from .scene.lights import expose_lit

        raw = expose_lit(module, lit, (oi, light_ois), exposure_s=exposure_s, rng=rng,
                         start_s=start_s, window=window)
        light_ois = None
    t["sensor_s"] = time.perf_counter() - t0
    if not keep_optics:
        oi = None  # the planes are not needed by the ISP: free them before it allocates
    if mod.isp.ccm == "fitted" and ccm is None and mod.sensor.cfa != "mono":
        t0 = time.perf_counter()
        note("colour matrix")
        ccm = module_ccm(calibration_module(mod))
        t["ccm_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    note("isp")
    rendered = render(mod, raw, ccm=ccm, window=window)
    t["isp_s"] = time.perf_counter() - t0
    return Shot(None, raw, rendered, scene=(scene if lit is None else lit) if window is None
                else None, lens=mod.lens, channel_image=oi)
