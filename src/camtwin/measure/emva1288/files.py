"""Real EMVA 1288 data: a folder of images and a YAML descriptor → :class:`Dataset1288`.

Descriptor (YAML, validated by :class:`FramesDescriptor`; paths relative to the image
folder)::

    camera:
      name: my-camera
      bits: 12                     # ADC bits of the pixel values (8..16)
      pixel_pitch_um: 3.45         # or pixel_area_um2
      cfa: mono                    # optional; a Bayer name to analyse one channel
      channel: G                   # optional (default G / the only channel)
      shift_bits: 0                # optional: values stored left-shifted (e.g. 4 for
                                   # 12-bit data in 16-bit files)
    wavelength_nm: 525             # light of the campaign (default for every entry)
    temperature_c: 25
    temporal:                      # photon-transfer steps (>= 3; the standard asks >= 50)
      - exposure_s: 1.0e-4
        irradiance_w_m2: 0.05      # or photons_per_pixel
        bright: [b000a.png, b000b.png]
        dark: [d000a.png, d000b.png]
    spatial:                       # nonuniformity stacks, L >= 16 each
      exposure_s: 2.0e-3
      irradiance_w_m2: 0.05        # or photons_per_pixel
      bright: [s_b00.png, ...]
      dark: [s_d00.png, ...]
    dark_current:                  # optional, >= 2 exposure times (the standard: >= 6)
      - {exposure_s: 0.01, dark: [dc0a.png, dc0b.png]}
    spectral:                      # optional
      - {wavelength_nm: 450, exposure_s: 2.0e-3, irradiance_w_m2: 0.05,
         bright: [q450.png], dark: [q450d.png]}

Every entry may override ``wavelength_nm`` and ``temperature_c``. Photons per pixel, when
given as irradiance: μ_p = A·E·t·λ/(h·c) (:func:`photons_per_pixel`). Images: TIFF
(tifffile), PNG (OpenCV, 8/16 bit), DNG and other camera raws (LibRaw, the visible raw
area), NPZ/TIFF written by camtwin; one grey channel each.

Checks (each a one-line :class:`~camtwin.errors.ConfigError` naming the field or file):
missing fields, a pair that is not two images, stacks with L < 16, photon counts that do not
increase from step to step, unreadable files, images of different sizes or with values
above 2^bits − 1, a colour image where a raw one is expected.

:func:`load_reference_descriptor` reads the text descriptor of the EMVA 1288 reference
implementation (``v``/``n``/``b``/``d``/``i`` lines; exposure in ns) into the same
:class:`Dataset1288`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..._spec import FrozenSpec, read_text
from ...errors import ConfigError
from .campaign import channel_site
from .dataset import (Dataset1288, SpatialStack, StackAccumulator, pair_statistics,
                      photons_per_pixel)

#: Minimum frames of a nonuniformity stack (EMVA 1288 R4.0 §8.1 asks for L >= 16).
MIN_STACK_FRAMES = 16


class CameraInfo(FrozenSpec):
    """Camera block of the descriptor."""

    name: str = "camera"
    bits: int = Field(ge=8, le=16)
    pixel_pitch_um: float | None = Field(None, gt=0.3, le=50.0)
    pixel_area_um2: float | None = Field(None, gt=0.09, le=2500.0)
    cfa: str = "mono"
    channel: str | None = None
    shift_bits: int = Field(0, ge=0, le=8)

    @model_validator(mode="after")
    def _check(self):
        if self.pixel_pitch_um is not None and self.pixel_area_um2 is not None:
            raise ValueError("give pixel_pitch_um or pixel_area_um2, not both")
        if self.bits + self.shift_bits > 16:
            raise ValueError(f"bits + shift_bits = {self.bits + self.shift_bits}: must be <= 16")
        channel_site(self.cfa, self.channel)   # raises for an unknown CFA or channel
        return self

    @property
    def area_um2(self) -> float | None:
        if self.pixel_area_um2 is not None:
            return self.pixel_area_um2
        return None if self.pixel_pitch_um is None else self.pixel_pitch_um ** 2


class _Light(FrozenSpec):
    exposure_s: float = Field(ge=0, le=1e4)
    irradiance_w_m2: float | None = Field(None, ge=0, le=1e6)
    photons_per_pixel: float | None = Field(None, ge=0, le=1e9)
    wavelength_nm: float | None = Field(None, ge=200, le=2000)
    temperature_c: float | None = Field(None, ge=-100, le=200)

    @model_validator(mode="after")
    def _one_light(self):
        if (self.irradiance_w_m2 is None) == (self.photons_per_pixel is None):
            raise ValueError("give exactly one of irradiance_w_m2 and photons_per_pixel")
        return self


class TemporalStep(_Light):
    """One photon-transfer step: a bright pair and a dark pair."""

    bright: tuple[str, str]
    dark: tuple[str, str]


class SpatialStacks(_Light):
    """The nonuniformity stacks (L ≥ 16 bright frames and L ≥ 16 dark frames)."""

    bright: tuple[str, ...]
    dark: tuple[str, ...]

    @field_validator("bright", "dark")
    @classmethod
    def _enough(cls, v):
        if len(v) < MIN_STACK_FRAMES:
            raise ValueError(f"{len(v)} images; EMVA 1288 needs a stack of at least "
                             f"{MIN_STACK_FRAMES}")
        return v


class DarkStep(FrozenSpec):
    """One dark pair of the dark-current series."""

    exposure_s: float = Field(ge=0, le=1e4)
    temperature_c: float | None = Field(None, ge=-100, le=200)
    dark: tuple[str, str]


class SpectralStep(_Light):
    """One wavelength of the spectral sweep: bright and dark image(s)."""

    wavelength_nm: float = Field(ge=200, le=2000)
    bright: tuple[str, ...] = Field(min_length=1)
    dark: tuple[str, ...] = Field(min_length=1)


class FramesDescriptor(FrozenSpec):
    """The YAML descriptor of a real EMVA 1288 data set (module docstring)."""

    camera: CameraInfo
    wavelength_nm: float = Field(525.0, ge=200, le=2000)
    temperature_c: float | None = Field(None, ge=-100, le=200)
    temporal: tuple[TemporalStep, ...] = Field(min_length=3)
    spatial: SpatialStacks | None = None
    dark_current: tuple[DarkStep, ...] = ()
    spectral: tuple[SpectralStep, ...] = ()

    @model_validator(mode="after")
    def _consistent(self):
        area = self.camera.area_um2
        entries = list(self.temporal) + ([self.spatial] if self.spatial else []) + list(
            self.spectral)
        if area is None and any(e.irradiance_w_m2 is not None for e in entries):
            raise ValueError("camera.pixel_pitch_um or camera.pixel_area_um2 is needed to "
                             "turn irradiance_w_m2 into photons per pixel")
        p = self.temporal_photons()
        bad = np.flatnonzero(np.diff(p) <= 0)
        if bad.size:
            i = int(bad[0]) + 1
            raise ValueError(f"temporal.{i}: photons per pixel {p[i]:.6g} do not increase "
                             f"over step {i - 1} ({p[i - 1]:.6g}); order the steps by "
                             f"increasing exposure / irradiance")
        return self

    def photons(self, entry: _Light, wavelength_nm: float | None = None) -> float:
        if entry.photons_per_pixel is not None:
            return float(entry.photons_per_pixel)
        wl = wavelength_nm or entry.wavelength_nm or self.wavelength_nm
        return float(photons_per_pixel(entry.irradiance_w_m2, entry.exposure_s,
                                       self.camera.area_um2, wl))

    def temporal_photons(self) -> np.ndarray:
        return np.array([self.photons(s) for s in self.temporal])


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one raw grey image (TIFF, PNG, DNG/camera raw, camtwin NPZ) as a 2-D array.

    Raises
    ------
    ConfigError
        Missing or unreadable file, or not a single-channel image.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"image {p}: file not found")
    suffix = p.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            import tifffile

            img = tifffile.imread(p)
        elif suffix in (".png", ".pgm", ".bmp"):
            import cv2

            img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError("OpenCV cannot decode it")
        elif suffix == ".npz":
            from ...raw import load_raw

            img = load_raw(p).dn
        else:
            import rawpy

            with rawpy.imread(str(p)) as raw:
                img = np.array(raw.raw_image_visible)
    except ConfigError:
        raise
    except Exception as exc:  # any decoder error: one line naming the file
        raise ConfigError(f"image {p}: cannot read ({type(exc).__name__}: {exc})") from None
    img = np.asarray(img)
    if img.ndim != 2:
        raise ConfigError(f"image {p}: shape {img.shape}; EMVA 1288 needs single-channel raw "
                          f"images (H, W)")
    if not (np.issubdtype(img.dtype, np.integer) or np.issubdtype(img.dtype, np.floating)):
        raise ConfigError(f"image {p}: unsupported pixel type {img.dtype}")
    return img


class _FrameReader:
    """Reads frames in a small thread pool (decoders release the GIL), checks size and
    range, shifts, and extracts the analysed CFA channel."""

    def __init__(self, folder: Path, bits: int, shift: int, site, threads: int = 2,
                 progress: Callable[[str, int], None] | None = None):
        self.folder = folder
        self.white = 2 ** (bits + shift) - 1
        self.shift = shift
        self.site = site
        self.shape = None
        self.done = 0
        self.progress = progress
        self.pool = ThreadPoolExecutor(max_workers=max(1, threads))

    def _one(self, name: str) -> np.ndarray:
        path = self.folder / name.replace("\\", "/")
        img = read_image(path)
        return path, img

    def read(self, names) -> list[np.ndarray]:
        out = []
        for path, img in self.pool.map(self._one, names):
            if self.shape is None:
                self.shape = img.shape
            elif img.shape != self.shape:
                raise ConfigError(f"image {path}: size {img.shape[1]}x{img.shape[0]} differs "
                                  f"from the first image ({self.shape[1]}x{self.shape[0]})")
            mx = img.max()
            if mx > self.white:
                raise ConfigError(f"image {path}: value {mx} exceeds 2^bits - 1 = "
                                  f"{self.white}; check camera.bits / shift_bits")
            if self.shift:
                img = img >> self.shift if np.issubdtype(img.dtype, np.integer) \
                    else img / 2 ** self.shift
            r0, c0, ph, pw = self.site
            out.append(img[r0::ph, c0::pw] if (ph, pw) != (1, 1) else img)
            self.done += 1
        if self.progress is not None:
            self.progress(f"read {self.done} images", self.done)
        return out

    def stack(self, names) -> SpatialStack:
        acc = StackAccumulator()
        for i in range(0, len(names), 8):
            for f in self.read(names[i:i + 8]):
                acc.add(f)
        return SpatialStack.from_accumulator(acc)

    def close(self):
        self.pool.shutdown()


def count_images(desc: FramesDescriptor) -> int:
    """Number of image files the descriptor lists."""
    n = 4 * len(desc.temporal) + 2 * len(desc.dark_current)
    if desc.spatial:
        n += len(desc.spatial.bright) + len(desc.spatial.dark)
    return n + sum(len(s.bright) + len(s.dark) for s in desc.spectral)


def load_frames(folder: str | os.PathLike, descriptor: str | os.PathLike | FramesDescriptor,
                *, progress: Callable[[str, int], None] | None = None,
                threads: int = 2) -> Dataset1288:
    """Read and reduce a real EMVA 1288 data set (module docstring).

    Parameters
    ----------
    folder : path
        Folder the image paths of the descriptor are relative to.
    descriptor : path or FramesDescriptor
        The YAML descriptor (validated with :class:`FramesDescriptor`).
    progress : callable, optional
        ``progress(message, images_read)``.
    threads : int
        Decoder threads.

    Returns
    -------
    Dataset1288

    Raises
    ------
    ConfigError
        See the module docstring.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"--frames = {str(folder)!r}: not a folder")
    desc = (descriptor if isinstance(descriptor, FramesDescriptor)
            else FramesDescriptor.from_yaml(descriptor))
    cam = desc.camera
    channel, r0, c0, ph, pw = channel_site(cam.cfa, cam.channel)
    rd = _FrameReader(folder, cam.bits, cam.shift_bits, (r0, c0, ph, pw), threads, progress)
    try:
        n = len(desc.temporal)
        mean, var, dmean, dvar = (np.empty(n) for _ in range(4))
        for i, st in enumerate(desc.temporal):
            a, b, c, d = rd.read(list(st.bright) + list(st.dark))
            mean[i], var[i] = pair_statistics(a, b)
            dmean[i], dvar[i] = pair_statistics(c, d)
        kw = {}
        if desc.spatial is not None:
            sp = desc.spatial
            kw.update(spatial_bright=rd.stack(list(sp.bright)),
                      spatial_dark=rd.stack(list(sp.dark)),
                      spatial_photons=desc.photons(sp), spatial_exposure_s=sp.exposure_s)
        if desc.dark_current:
            dc = sorted(desc.dark_current, key=lambda s: s.exposure_s)
            temps = {s.temperature_c for s in dc}
            if len(temps) > 1:
                raise ConfigError("dark_current: mixed temperature_c values; give one "
                                  "temperature per series")
            stats = [pair_statistics(*rd.read(list(s.dark))) for s in dc]
            kw.update(dark_exposure_s=np.array([s.exposure_s for s in dc]),
                      dark_series_mean=np.array([s[0] for s in stats]),
                      dark_series_variance=np.array([s[1] for s in stats]))
        if desc.spectral:
            sm, sdm, sp_ = [], [], []
            for s in desc.spectral:
                b = [float(f.mean(dtype=np.float64)) for f in rd.read(list(s.bright))]
                d = [float(f.mean(dtype=np.float64)) for f in rd.read(list(s.dark))]
                sm.append(np.mean(b))
                sdm.append(np.mean(d))
                sp_.append(desc.photons(s, s.wavelength_nm))
            kw.update(spectral_wavelength_nm=np.array([s.wavelength_nm for s in desc.spectral]),
                      spectral_photons=np.array(sp_), spectral_mean=np.array(sm),
                      spectral_dark_mean=np.array(sdm))
    finally:
        rd.close()
    h, w = rd.shape
    sub = np.empty((h, w), np.uint8)[r0::ph, c0::pw]
    return Dataset1288(
        width=sub.shape[1], height=sub.shape[0], bits=cam.bits, pixel_area_um2=cam.area_um2,
        wavelength_nm=desc.wavelength_nm, temperature_c=desc.temperature_c,
        exposure_s=np.array([s.exposure_s for s in desc.temporal]),
        photons=desc.temporal_photons(), mean=mean, variance=var, dark_mean=dmean,
        dark_variance=dvar, source=f"frames: {cam.name}", channel=channel, **kw)


def load_reference_descriptor(path: str | os.PathLike, *, pixel_area_um2: float | None = None,
                              wavelength_nm: float = 525.0, threads: int = 2,
                              progress: Callable[[str, int], None] | None = None
                              ) -> Dataset1288:
    """Read a data set in the text format of the EMVA 1288 reference implementation
    (PyPI ``emva1288``): ``v`` version, ``n bits width height``, ``b t_ns photons`` or
    ``d t_ns`` followed by its ``i path`` lines. Groups of 2 images are photon-transfer
    pairs, larger groups the nonuniformity stacks.

    Raises
    ------
    ConfigError
        Malformed lines, a bright step without its dark pair, missing images.
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    bits = None
    groups: list[tuple[str, float, float, list[str]]] = []
    for ln, raw in enumerate(lines, 1):
        parts = raw.split()
        if not parts:
            continue
        tag = parts[0]
        try:
            if tag == "n":
                bits = int(parts[1])
            elif tag == "b":
                groups.append(("b", float(parts[1].replace(",", ".")),
                               float(parts[2].replace(",", ".")), []))
            elif tag == "d":
                groups.append(("d", float(parts[1].replace(",", ".")), 0.0, []))
            elif tag == "i":
                groups[-1][3].append(parts[1])
        except (IndexError, ValueError):
            raise ConfigError(f"{path} line {ln}: cannot parse {raw.strip()!r}") from None
    if bits is None:
        raise ConfigError(f"{path}: no 'n bits width height' line")
    temporal: dict[float, dict] = {}
    spatial: dict[str, tuple] = {}
    for kind, t_ns, photons, names in groups:
        if len(names) == 2:
            temporal.setdefault(t_ns, {})["dark" if kind == "d" else photons] = names
        elif len(names) > 2:
            spatial[kind] = (t_ns, photons, names)
        else:
            raise ConfigError(f"{path}: a '{kind} {t_ns}' group has {len(names)} image(s)")
    rd = _FrameReader(path.parent, bits, 0, (0, 0, 1, 1), threads, progress)
    rows = []
    try:
        for t_ns in sorted(temporal):
            g = temporal[t_ns]
            if "dark" not in g:
                raise ConfigError(f"{path}: exposure {t_ns} ns has no dark pair")
            d = pair_statistics(*rd.read(g["dark"]))
            for ph_, names in g.items():
                if ph_ == "dark":
                    continue
                b = pair_statistics(*rd.read(names))
                rows.append((ph_, t_ns * 1e-9, b[0], b[1], d[0], d[1]))
        rows.sort()
        arr = np.array(rows)
        kw = {}
        if "b" in spatial and "d" in spatial:
            kw.update(spatial_bright=rd.stack(spatial["b"][2]),
                      spatial_dark=rd.stack(spatial["d"][2]),
                      spatial_photons=spatial["b"][1], spatial_exposure_s=spatial["b"][0] * 1e-9)
    finally:
        rd.close()
    h, w = rd.shape
    return Dataset1288(width=w, height=h, bits=bits, pixel_area_um2=pixel_area_um2,
                       wavelength_nm=wavelength_nm, temperature_c=None,
                       photons=arr[:, 0], exposure_s=arr[:, 1], mean=arr[:, 2],
                       variance=arr[:, 3], dark_mean=arr[:, 4], dark_variance=arr[:, 5],
                       source=f"EMVA 1288 reference descriptor: {path.name}", **kw)


def write_reference_dataset(sensor, spec, folder: str | os.PathLike, *, seed: int = 0,
                            image_format: str = "png") -> Path:
    """Simulate the campaign of :func:`camtwin.measure.emva1288.simulate_measurement`
    (photon-transfer pairs and nonuniformity stacks; mono sensors) and write it as image
    files plus the text descriptor of the EMVA 1288 reference implementation
    (``EMVA1288descriptor.txt``: exposure in ns, photons per pixel with 3 decimals), so that
    the reference package and :func:`load_reference_descriptor` read the same data.

    Returns the descriptor path. Frame j uses ``simulate_pixels`` key ``seed·2³² + j``.
    """
    import cv2

    from ...sensor.fixed_pattern import fixed_pattern
    from ...sensor.pixels import simulate_pixels
    from .campaign import measurement_plan

    if sensor.cfa != "mono":
        raise ConfigError("write_reference_dataset writes monochrome sensors only")
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    plan = measurement_plan(sensor, spec)
    fp = fixed_pattern(sensor)
    rate = plan["dark_rate_e_per_s"]
    h, w = int(sensor.height_px), int(sensor.width_px)
    eta = plan["eta"]
    photo = np.empty((h, w), np.float32)
    zeros = np.zeros((h, w), np.float32)
    lines = ["v 4.0", f"n {sensor.adc_bits} {w} {h}"]
    counter = 0
    dtype = np.uint8 if sensor.adc_bits <= 8 else np.uint16

    def frames(tag, t_s, photons, count):
        nonlocal counter
        src = zeros
        if photons > 0:
            photo.fill(np.float32(eta * photons))
            src = photo
        lines.append(f"b {t_s * 1e9:.1f} {photons:.3f}" if tag == "b" else f"d {t_s * 1e9:.1f}")
        for _ in range(count):
            dn = simulate_pixels(src, rate * t_s, sensor, key=(seed << 32) + counter, fixed=fp)
            name = f"image{counter}.{image_format}"
            if not cv2.imwrite(str(folder / "images" / name), dn.astype(dtype)):
                raise ConfigError(f"cannot write {folder / 'images' / name}")
            lines.append(f"i images/{name}")
            counter += 1

    for t_s, p in zip(plan["exposure_s"], plan["photons"]):
        frames("b", float(t_s), round(float(p), 3), 2)
        frames("d", float(t_s), 0.0, 2)
    t_sp = plan["spatial_exposure_s"]
    frames("b", t_sp, round(plan["spatial_photons"], 3), spec.spatial_frames)
    frames("d", t_sp, 0.0, spec.spatial_frames)
    path = folder / "EMVA1288descriptor.txt"
    path.write_text("\n".join(lines) + "\n")
    return path
