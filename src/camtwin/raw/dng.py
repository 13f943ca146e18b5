"""DNG writer and LibRaw-based reader for raw camera files.

:func:`write_dng` writes one uncompressed, little-endian, 16-bit DNG following the Adobe DNG
Specification 1.4.0.0 (DNGVersion 1.4.0.0, DNGBackwardVersion 1.1.0.0). IFD 0 holds the full
raw image with these tags (besides the TIFF baseline ones tifffile writes):

* NewSubFileType (254) = 0, Orientation (274) = 1, Make (271), Model (272),
  UniqueCameraModel (50708), ExposureTime (33434, if finite),
* BlackLevelRepeatDim (50713) = (1, 1), BlackLevel (50714, RATIONAL), WhiteLevel (50717),
* ImageDescription (270): the camtwin metadata as JSON (:mod:`camtwin.raw._meta`),
* Bayer frames: PhotometricInterpretation CFA (32803), CFARepeatPatternDim (33421) = (2, 2),
  CFAPattern (33422; 0 = R, 1 = G, 2 = B), CFAPlaneColor (50710) = (0, 1, 2),
  CFALayout (50711) = 1 (rectangular), ColorMatrix1 (50721, SRATIONAL 3×3),
  CalibrationIlluminant1 (50778) = 21 (D65), AsShotNeutral (50728, RATIONAL).
* RCCB frames: as Bayer, with CFAPattern = (0, 6, 6, 2) and CFAPlaneColor = (0, 6, 2) — red,
  *white*, blue in the TIFF/EP colour codes (0 = R, 1 = G, 2 = B, 3 = C, 4 = M, 5 = Y,
  6 = W) — and ColorMatrix1 mapping XYZ to (R, C, B). LibRaw reads it bit-exact as a
  three-colour camera whose second plane is the clear channel (it labels it "G" in
  ``color_desc`` but colour-converts with the matrix, so ``postprocess`` renders correctly);
  :func:`read_raw` recognises the pattern from the tags and returns ``cfa = "RCCB"``.
* Mono frames: PhotometricInterpretation LinearRaw (34892) with SamplesPerPixel = 1 and no
  colour tags (the spec requires ColorMatrix1 only for non-monochrome files). LibRaw 0.22 reads
  this bit-exact (``num_colors == 1``); a BlackIsZero (1) DNG is rejected by LibRaw as
  "not RAW". tifffile refuses to *write* 1-sample LinearRaw, so the file is written as
  BlackIsZero and the PhotometricInterpretation value is then overwritten in place.
* Quad Bayer and RGB-IR frames are refused with a :class:`ConfigError` that recommends
  ``.tif``/``.npz``. Quad Bayer is a legal 4×4 CFAPattern, but LibRaw stores a CFA in a
  32-bit map of 8 rows × 2 columns (dcraw's ``filters``), so a 4-column period is folded:
  LibRaw 0.22 reads the pixels bit-exact but assigns colours wrongly (whole rows of R, then
  G — see ``tests/test_cfa.py``). DNG has no colour code for infrared, so RGB-IR cannot be
  described at all.

:func:`read_raw` opens anything LibRaw (via rawpy) reads — camtwin DNGs and real camera files
(CR2, NEF, ARW, DNG, ...) — and restores camtwin's own fields from the JSON when present.

References
----------
Adobe Systems, *Digital Negative (DNG) Specification*, version 1.4.0.0, June 2012,
chapters 4 (tags) and 6 (mapping camera colour space to CIE XYZ).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import rawpy
import tifffile

from .._io import atomic_path
from ..errors import ConfigError
from ._meta import frame_from_json, frame_to_json
from .frame import RawFrame

#: CIE XYZ (D65) -> linear sRGB, IEC 61966-2-1:1999 eq. (F.7); maps the D65 white to ≈(1, 1, 1).
XYZ_TO_LINEAR_SRGB = np.array([[3.2406, -1.5372, -0.4986],
                               [-0.9689, 1.8758, 0.0415],
                               [0.0557, -0.2040, 1.0570]])

_D65 = 21  # EXIF LightSource code used by CalibrationIlluminant1/2
_INT32_MAX = 2**31 - 1

#: TIFF/EP CFA colour codes of the channels camtwin can put in a DNG.
_CFA_CODE = {"R": 0, "G": 1, "B": 2, "C": 6}

#: CFA layouts write_dng supports, and why the others are refused.
DNG_CFAS = ("RGGB", "GRBG", "GBRG", "BGGR", "RCCB", "mono")
_DNG_REFUSED = {
    "QUADBAYER": "LibRaw folds a 4-column CFAPattern into its 8x2 colour map and reads the "
                 "colours wrongly",
    "RGBIR": "DNG has no colour code for infrared pixels",
}


def _cfa_tags(cfa: str) -> list[tuple]:
    """CFARepeatPatternDim, CFAPattern and CFAPlaneColor tags of a supported colour layout."""
    from .cfa import cfa_layout

    lay = cfa_layout(cfa)
    if cfa in _DNG_REFUSED or cfa not in DNG_CFAS:
        reason = _DNG_REFUSED.get(cfa, "not supported")
        raise ConfigError(f"cfa = {cfa!r} cannot be written as DNG ({reason}); save the frame "
                          "as .tif or .npz instead (lossless, with all camtwin metadata)")
    codes = tuple(_CFA_CODE[c] for row in lay.tile for c in row)
    planes = tuple(_CFA_CODE[c] for c in lay.channels)
    return [(33421, 3, 2, lay.period), (33422, 1, len(codes), codes),
            (50710, 1, len(planes), planes), (50711, 3, 1, 1)]


def _rationals(values) -> list[int]:
    """Flat (numerator, denominator) pairs: best approximation with both within int32."""
    out = []
    for v in map(float, values):
        f = Fraction(v).limit_denominator(max(1, int(_INT32_MAX / max(abs(v), 1.0))))
        out += [f.numerator, f.denominator]
    return out


def write_dng(path: str | os.PathLike, raw: RawFrame, *, make: str = "camtwin",
              model: str | None = None) -> Path:
    """Write ``raw`` as an uncompressed DNG 1.4 file, atomically.

    Parameters
    ----------
    path : path-like
        Target file (conventionally ``*.dng``); parent folders are created.
    raw : RawFrame
        The frame. ``dn`` is stored verbatim (16 bits per sample, black level included).
    make, model : str
        Camera make and model tags. ``model`` defaults to ``raw.sensor.name`` or ``"simulated"``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        For a layout DNG/LibRaw cannot carry (Quad Bayer, RGB-IR; see the module
        docstring); the message recommends ``.tif``/``.npz``.

    Notes
    -----
    ``ColorMatrix1`` is ``raw.xyz_to_camera``; if that is ``None`` the XYZ → linear-sRGB
    matrix :data:`XYZ_TO_LINEAR_SRGB` is written as a neutral fallback (the camera is declared
    to *be* linear sRGB), so that raw converters still render plausible colour.
    ``AsShotNeutral`` is ``raw.as_shot_neutral`` or (1, 1, 1). Rationals are the best
    approximations with 32-bit numerator and denominator (relative error ≲ 1e-9).
    ``mean_electrons`` is not stored — use TIFF or NPZ to keep the ground truth.
    """
    model = model or getattr(raw.sensor, "name", None) or "simulated"
    mono = raw.cfa == "mono"
    cfa_tags = [] if mono else _cfa_tags(raw.cfa)  # refuses unsupported layouts first
    tags = [(271, 2, 0, make), (272, 2, 0, model), (274, 3, 1, 1),
            (50706, 1, 4, (1, 4, 0, 0)), (50707, 1, 4, (1, 1, 0, 0)),
            (50708, 2, 0, f"{make} {model}"), (50713, 3, 2, (1, 1)),
            (50714, 5, 1, _rationals([raw.black_level_dn])), (50717, 4, 1, int(raw.white_level_dn))]
    if np.isfinite(raw.exposure_s) and raw.exposure_s > 0:
        tags.append((33434, 5, 1, _rationals([raw.exposure_s])))
    if not mono:
        xyz_to_camera = XYZ_TO_LINEAR_SRGB if raw.xyz_to_camera is None else raw.xyz_to_camera
        tags += cfa_tags + [
                 (50721, 10, 9, _rationals(np.asarray(xyz_to_camera, dtype=float).ravel())),
                 (50728, 5, 3, _rationals((1.0, 1.0, 1.0) if raw.as_shot_neutral is None
                                          else raw.as_shot_neutral)),
                 (50778, 3, 1, _D65)]
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, raw.dn, photometric="minisblack" if mono else "cfa", subfiletype=0,
                         description=frame_to_json(raw), metadata=None, software="camtwin",
                         bigtiff=False, extratags=tags)
        if mono:  # tifffile will not write 1-sample LinearRaw: patch the tag value in place
            with tifffile.TiffFile(tmp, mode="r+b") as tif:
                tif.pages.first.tags[262].overwrite(34892)
    return Path(path)


def _ifd0_tags(path: Path) -> dict:
    """IFD 0 tags {code: value} of a TIFF-based raw file; {} if tifffile cannot parse it."""
    try:
        with tifffile.TiffFile(path) as tif:
            return {tag.code: tag.value for tag in tif.pages.first.tags}
    except Exception:  # best effort: non-TIFF raws (RAF, CRW, X3F...) or odd vendor IFDs
        return {}


def _dng_color_matrix(tags: dict) -> np.ndarray | None:
    """The DNG ColorMatrix calibrated for D65, else ColorMatrix1; None if there is none.

    tifffile returns an SRATIONAL array as flat (numerator, denominator) pairs.
    """
    matrices = {}
    for cm, ill in ((50721, 50778), (50722, 50779)):
        pairs = np.asarray(tags.get(cm, ()), dtype=float).reshape(-1, 2)
        if pairs.shape == (9, 2) and np.all(pairs[:, 1] != 0):
            matrices.setdefault(tags.get(ill), (pairs[:, 0] / pairs[:, 1]).reshape(3, 3))
    return matrices.get(_D65, next(iter(matrices.values()), None))


def _cfa_name(path: Path, pattern, color_desc: bytes, num_colors: int, tags: dict) -> str:
    if num_colors == 1:
        return "mono"
    plane = tags.get(50710)
    if plane is not None and bytes(plane) == bytes((0, 6, 2)) and num_colors == 3:
        if bytes(tags.get(33422, b"")) == bytes((0, 6, 6, 2)) and tuple(tags.get(33421, ())) == (2, 2):
            return "RCCB"
        raise ConfigError(f"{path}: red/white/blue CFA in a layout other than R C / C B "
                          "is not supported")
    desc = color_desc.decode("ascii", "replace")
    if pattern is not None and pattern.shape == (2, 2) and max(pattern.ravel()) < len(desc):
        name = "".join(desc[i] for i in pattern.ravel())
        if sorted(name) == ["B", "G", "G", "R"]:
            return name
    shape = "none" if pattern is None else "x".join(map(str, pattern.shape))
    raise ConfigError(
        f"{path}: colour filter layout is not a 2x2 RGB Bayer mosaic (raw_pattern {shape}, "
        f"colours {desc!r}); X-Trans, CMYG, Foveon and demosaiced DNGs are not supported")


def check_complete(path: str | os.PathLike) -> None:
    """Refuse a TIFF-based file (DNG, camtwin TIFF, most camera raws) whose image data is
    cut off.

    Every strip/tile of every image in the IFD chain must lie inside the file; LibRaw and
    tifffile would otherwise fill the missing part with zeros for some files (silent
    garbage). Files tifffile cannot parse (CRW, RAF, ...) are left to their reader.

    Raises
    ------
    ConfigError
        Naming the file, the last byte the image data needs and the file's size.
    """
    path = Path(path)
    size = path.stat().st_size
    try:
        with tifffile.TiffFile(path) as tif:
            ends = [o + n for page in tif.pages
                    for o, n in zip(page.dataoffsets, page.databytecounts)]
    except Exception:  # not TIFF-based, or too damaged to list its strips: the reader decides
        return
    if ends and max(ends) > size:
        raise ConfigError(f"raw file {path} is truncated: image data runs to byte "
                          f"{max(ends)} but the file has {size} bytes")


def read_raw(path: str | os.PathLike) -> RawFrame:
    """Read a raw file with LibRaw (rawpy) into a :class:`RawFrame`.

    Parameters
    ----------
    path : path-like
        A camtwin DNG or any raw file LibRaw opens (CR2, NEF, ARW, DNG, ...).

    Returns
    -------
    RawFrame
        ``dn`` = LibRaw's ``raw_image_visible`` (uint16 copy, masked borders removed); ``cfa``
        from ``raw_pattern``/``color_desc`` (``"mono"`` for 1-colour files); black level = mean
        of ``black_level_per_channel`` (the per-channel list is kept in
        ``metadata["black_level_per_channel"]`` when they differ); ``white_level``;
        ``as_shot_neutral`` = 1 / camera white-balance gains normalised to G = 1;
        ``xyz_to_camera`` from LibRaw's ``rgb_xyz_matrix`` or, since LibRaw leaves that zero for
        DNGs, from the file's ColorMatrix tags. A DNG whose CFAPlaneColor is (R, White, B)
        in the R C / C B layout is returned as ``cfa = "RCCB"``. For camtwin DNGs the JSON metadata restores
        exposure, conversion gain, analog gain, temperature, pixel pitch, illuminant, sensor
        (as a dict), metadata and the exact (fractional) black level. For other files unknown
        quantities are NaN: exposure falls back to LibRaw's shutter speed (EXIF), conversion
        gain and temperature are NaN.

    Raises
    ------
    ConfigError
        If the file is missing, truncated (:func:`check_complete`) or LibRaw cannot read it,
        or its colour filter array is not a 2×2 RGB Bayer mosaic, RCCB (as written by
        :func:`write_dng`) or monochrome (X-Trans, CMYG, ...).
    """
    path = Path(path)
    tags = {}
    if path.is_file():
        check_complete(path)
        tags = _ifd0_tags(path)
    try:
        with rawpy.imread(os.fspath(path)) as rp:
            # the header's sizes before LibRaw unpacks anything: a small file that decodes
            # to gigabytes is refused with one line (camtwin.memory)
            from ..memory import check_budget

            sz = rp.sizes
            check_budget(2 * sz.raw_height * sz.raw_width + 6 * sz.height * sz.width,
                         f"reading raw file {path} ({sz.width} × {sz.height} px)",
                         "use a smaller file or raise --max-memory")
            cfa = _cfa_name(path, rp.raw_pattern, rp.color_desc, rp.num_colors, tags)
            dn = np.array(rp.raw_image_visible, dtype=np.uint16, copy=True)
            blacks = [float(b) for b in rp.black_level_per_channel]
            white = int(rp.white_level)
            gains = [float(g) for g in rp.camera_whitebalance[:3]]
            xyz_to_camera = np.array(rp.rgb_xyz_matrix[:3], dtype=float)
            other = getattr(rp, "other", None)  # EXIF shutter/ISO; absent in old rawpy
    except rawpy.LibRawError as exc:
        msg = exc.args[0] if exc.args else exc
        msg = msg.decode(errors="replace") if isinstance(msg, bytes) else msg
        raise ConfigError(f"cannot read raw file {path}: {msg}") from None
    meta = frame_from_json(tags.get(270)) or {}
    black = float(np.mean(blacks))
    if abs(meta.get("black_level_dn", np.inf) - black) < 1:  # LibRaw truncates BlackLevel to int
        black = float(meta["black_level_dn"])
    metadata = dict(meta.get("metadata") or {})
    if len(set(blacks)) > 1:
        metadata["black_level_per_channel"] = blacks
    if not meta:
        metadata.update({key: str(tags[code]).strip()
                         for key, code in (("make", 271), ("model", 272)) if code in tags})
        if other is not None and other.iso_speed > 0:
            metadata["iso"] = float(other.iso_speed)
    neutral = None
    if cfa != "mono" and min(gains) > 0:
        neutral = tuple(gains[1] / g for g in gains)
    if cfa == "mono":
        xyz_to_camera = None
    elif not xyz_to_camera.any():
        xyz_to_camera = _dng_color_matrix(tags)
    nan = float("nan")
    shutter = float(other.shutter_speed) if other is not None and other.shutter_speed > 0 else nan
    return RawFrame(
        dn=dn, cfa=cfa, black_level_dn=black, white_level_dn=white,
        exposure_s=meta.get("exposure_s", shutter),
        conversion_gain_dn_per_e=meta.get("conversion_gain_dn_per_e", nan),
        analog_gain=meta.get("analog_gain", 1.0), temperature_c=meta.get("temperature_c", nan),
        pixel_pitch_um=meta.get("pixel_pitch_um", nan), illuminant=meta.get("illuminant"),
        as_shot_neutral=neutral, xyz_to_camera=xyz_to_camera, sensor=meta.get("sensor"),
        metadata=metadata)
