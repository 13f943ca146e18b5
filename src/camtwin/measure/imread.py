"""The one reader for measured images: a file → linear signal, with the encoding it used.

Every measurement that reads an image file (``camtwin sfr``, ``camtwin colour``, Python's
:func:`read_measured_image`) goes through :func:`read_measured_image`. It knows how the
file's values relate to light and says which rule it applied, as Imatest asks for its
"gamma" setting before any measurement:

=============  ==========================================================================
encoding       decoding of a value V in 0..1 (full scale of the file's integer type)
=============  ==========================================================================
``srgb``       IEC 61966-2-1: L = V/12.92 for V ≤ 0.04045, else ((V + 0.055)/1.055)^2.4
``linear``     L = V (raw converters' linear TIFFs, scientific cameras, float TIFFs)
``gamma:G``    L = V^G, a pure power law with display gamma G (``gamma:2.2``; Imatest's
               "gamma" setting is the *encoding* exponent 1/G, e.g. 0.45 for G = 2.2)
=============  ==========================================================================

Raw files (DNG and other camera raws through LibRaw, camtwin's raw NPZ and raw TIFF) are
linear by definition: the signal is DN − black level, one CFA colour per pixel.

Default encoding (``encoding=None``): the first rule that applies, in this order

1. a raw file → ``linear``;
2. an ICC profile (TIFF tag 34675, PNG iCCP, JPEG APP2) whose tone curve (``rTRC``/``kTRC``:
   ``curv`` or ``para``) is the identity → ``linear``, the sRGB curve → ``srgb``, a pure
   power → ``gamma:G``;
3. a PNG ``sRGB`` chunk → ``srgb``; a PNG ``gAMA`` chunk of 1/G → ``gamma:G`` (1.0 →
   ``linear``);
4. EXIF ColorSpace = 1 (sRGB) → ``srgb``;
5. floating-point samples → ``linear``;
6. a TIFF of ≥ 12 bits per sample without any of the above (PhotometricInterpretation RGB
   or MinIsBlack; the usual output of raw converters such as dcraw ``-4 -T`` and of
   scientific cameras) → ``linear``;
7. anything else (8-bit files, JPEG, untagged 16-bit PNG) → ``srgb``, what a viewer assumes.

camtwin's own rendered TIFFs carry an sRGB ICC profile, so rule 2 reads them as sRGB.

Frequencies measured on what this reader returns are per *sensor pixel*: a raw colour plane
is returned at full sensor resolution with a mask of the sites that hold that colour
(:func:`raw_channel`), never subsampled.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError

#: Extensions read as rendered (encoded) images.
IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
#: Extensions read as raw frames (linear by definition); .tif/.tiff written by camtwin's raw
#: writer (camtwin metadata in the description) are raw too.
RAW_SUFFIXES = (".dng", ".npz", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf",
                ".pef", ".srw")
#: Bytes per pixel a measurement of a rendered image costs beyond its decoded array (checked
#: against the memory budget before decoding): the float64 linear RGB (24 B) and what the
#: measurement makes of it — GNU ``time -v`` of 48 MP captures, above the process's own
#: 0.16 GiB and the decoded image: ``camtwin colour`` 28 B per pixel, ``camtwin sfr
#: --channel y`` 33 (the luminance plane), ``sfr`` of one channel 28; a 200 MP rendering
#: then fits in 8 GiB (RESULTS.md "Capture at real size", run 8).
MEASURE_WORK_BYTES_PER_PX = 40
#: … and of a raw frame beyond its own arrays, checked once it is loaded: a colour plane
#: as float64 DN (8 B), the CFA's channel index and the plane's mask (1 + 1), the plane
#: filled between its sites for ``auto_roi`` (8): 18 B, measured 18 above the raw and the
#: process's own 0.16 GiB on a 48 MP one (RESULTS.md "Capture at real size", run 8).
MEASURE_RAW_WORK_BYTES_PER_PX = 24
#: Rec. 709 / sRGB luminance weights of linear R, G, B (IEC 61966-2-1).
LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
_RGB = {"r": 0, "g": 1, "b": 2}


@dataclass(frozen=True)
class Encoding:
    """How a file's values V (0..1) encode linear light L (see the module table)."""

    name: str                   # "srgb", "linear" or "gamma"
    gamma: float | None = None  # display gamma G for "gamma"

    def __str__(self) -> str:
        return f"gamma:{self.gamma:g}" if self.name == "gamma" else self.name

    def decode(self, v: np.ndarray) -> np.ndarray:
        """Linear light (float64) of encoded values ``v`` in 0..1 (clipped to 0..1 first)."""
        return self.decode_inplace(np.array(v, dtype=np.float64, order="C"))   # (a copy)

    def decode_inplace(self, v: np.ndarray) -> np.ndarray:
        """:meth:`decode` of the float64 array ``v``, in place (returned), a block of rows at
        a time: no full-size temporaries (the whole-array expression had held four float64
        copies, 127 B per pixel of a photo read for ``camtwin sfr``; the same values)."""
        if v.dtype != np.float64 or not v.flags.c_contiguous:
            raise ValueError("decode_inplace needs a C-contiguous float64 array")
        rows = v.reshape(-1, v.shape[-1]) if v.ndim > 1 else v.reshape(1, -1)
        step = max(1, (1 << 18) // max(1, rows.shape[1]))      # (2 MB blocks)
        for i in range(0, rows.shape[0], step):
            b = rows[i:i + step]
            np.clip(b, 0.0, 1.0, out=b)
            if self.name == "gamma":
                b **= self.gamma
            elif self.name != "linear":   # IEC 61966-2-1 sRGB
                low = b <= 0.04045
                lin_low = b / 12.92
                b += 0.055
                b /= 1.055
                b **= 2.4
                np.copyto(b, lin_low, where=low)
        return v


def parse_encoding(text: str | None, option: str = "--encoding") -> Encoding | None:
    """``"srgb"``, ``"linear"`` or ``"gamma:G"`` (0.2 ≤ G ≤ 5) → :class:`Encoding`;
    None stays None (choose from the file)."""
    if text is None:
        return None
    t = str(text).strip().lower()
    if t in ("srgb", "linear"):
        return Encoding(t)
    if t.startswith("gamma:"):
        try:
            g = float(t.split(":", 1)[1])
        except ValueError:
            g = float("nan")
        if 0.2 <= g <= 5.0:
            return Encoding("linear") if g == 1.0 else Encoding("gamma", g)
        raise ConfigError(f"{option} = {text!r}: gamma must be a number in 0.2..5 "
                          f"(e.g. gamma:2.2)")
    raise ConfigError(f"{option} = {text!r}: valid choices are srgb, linear, gamma:G "
                      f"(e.g. gamma:2.2)")


@dataclass(frozen=True, eq=False)
class MeasuredImage:
    """A measured image file, decoded to linear signal.

    Attributes
    ----------
    path : Path
    kind : str
        ``"rendered"`` (an encoded RGB/grey image: what an ISP made of the capture —
        demosaic, white balance, colour matrix, sharpening, tone curve) or ``"raw"``.
    encoding : str
        ``"srgb"``, ``"linear"`` or ``"gamma:G"``: the decoding applied.
    encoding_source : str
        Why: ``"--encoding"`` or the rule of the module docstring that chose it.
    linear : ndarray (H, W, 3) float64 or None
        Rendered images: linear signal, 1.0 = the file's full scale (grey files repeated
        into three channels). None for raw files.
    raw : RawFrame or None
        Raw files: the frame (DN, CFA, black/white level).
    bits : int
        Bits per sample of the file (16 for raw frames).
    srgb_primaries : bool or None
        Rendered images: False when an embedded ICC profile has other RGB colorants than
        sRGB (Adobe RGB, Display P3, ...), True when they match, None when the file does
        not say (taken as sRGB). Colour measurements need sRGB primaries.
    """

    path: Path
    kind: str
    encoding: str
    encoding_source: str
    linear: np.ndarray | None = None
    raw: object = None
    bits: int = 8
    srgb_primaries: bool | None = None

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def describe(self) -> str:
        """One line for the CLI: the encoding used and why."""
        return f"encoding {self.encoding} ({self.encoding_source})"


def read_measured_image(path, *, encoding: str | Encoding | None = None) -> MeasuredImage:
    """Read an image or raw file for measurement (see the module docstring for the rules).

    Parameters
    ----------
    path : path-like
        PNG, TIFF, JPEG, BMP (rendered), or DNG / camera raw / camtwin raw NPZ or TIFF.
    encoding : {"srgb", "linear", "gamma:G"} or Encoding, optional
        Override the encoding of a rendered image; None chooses it from the file. A raw
        file is linear whatever is asked (asking for another encoding is an error).

    Returns
    -------
    MeasuredImage

    Raises
    ------
    ConfigError
        Missing file, unknown extension, unreadable file, a non-linear encoding for a raw.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"IMAGE = {str(p)!r}: file does not exist")
    enc = parse_encoding(encoding) if isinstance(encoding, str) else encoding
    suffix = p.suffix.lower()
    if suffix not in RAW_SUFFIXES + IMAGE_SUFFIXES:
        raise ConfigError(f"IMAGE = {str(p)!r}: extension must be one of "
                          f"{', '.join(IMAGE_SUFFIXES + RAW_SUFFIXES)}")
    if suffix in RAW_SUFFIXES or (suffix in (".tif", ".tiff") and _is_camtwin_raw_tiff(p)):
        if enc is not None and enc.name != "linear":
            raise ConfigError(f"--encoding = {enc}: {p.name} is a raw file, linear by "
                              f"definition; valid: linear (or leave it out)")
        from ..memory import FIXED_BYTES, check_budget
        from ..raw import load_raw

        raw = load_raw(p)
        h, w = raw.dn.shape[:2]
        check_budget(raw.nbytes + h * w * MEASURE_RAW_WORK_BYTES_PER_PX + FIXED_BYTES,
                     f"measuring raw file {p} ({w} × {h} px)",
                     "measure a smaller raw (camtwin capture --crop/--window … --raw) or "
                     "raise --max-memory")
        return MeasuredImage(p, "raw", "linear", "raw file, linear by definition: DN − black "
                             "level", raw=raw, bits=16)
    values, meta = _read_pixels(p)
    if values.ndim == 3 and values.shape[2] == 4:
        values = values[..., :3]
    if values.ndim == 2:  # (a view: the grey plane read for each channel)
        values = np.broadcast_to(values[..., None], values.shape + (3,))
    if values.ndim != 3 or values.shape[2] != 3:
        raise ConfigError(f"IMAGE = {str(p)!r}: expected a grey or RGB image, got shape "
                          f"{values.shape}")
    v01 = np.empty(values.shape, np.float64)    # (the one float64 copy, decoded in place)
    if np.issubdtype(values.dtype, np.integer):
        np.divide(values, float(np.iinfo(values.dtype).max), out=v01)
        bits = int(np.iinfo(values.dtype).bits)
    else:
        v01[...] = values
        bits = int(values.dtype.itemsize * 8)
        if not np.all(np.isfinite(v01)):
            raise ConfigError(f"IMAGE = {str(p)!r}: holds NaN or infinite values")
    if enc is not None:
        source = "--encoding"
    else:
        enc, source = _default_encoding(suffix, values.dtype, meta)
    prim = icc_has_srgb_primaries(meta["icc"]) if meta.get("icc") else None
    return MeasuredImage(p, "rendered", str(enc), source, linear=enc.decode_inplace(v01),
                         bits=bits, srgb_primaries=prim)


def _is_camtwin_raw_tiff(path: Path) -> bool:
    """A TIFF written by :func:`camtwin.raw.files.write_tiff` (camtwin frame metadata)."""
    from ..raw._meta import frame_from_json

    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            desc = tif.pages.first.description
    except Exception:  # not a TIFF tifffile can parse: the image reader reports it
        return False
    try:
        return frame_from_json(desc) is not None
    except Exception:  # a description that is not camtwin's JSON
        return False


def _read_pixels(path: Path) -> tuple[np.ndarray, dict]:
    """Pixel values (native dtype) and colour metadata {icc, srgb_chunk, png_gamma,
    exif_colorspace, tiff}."""
    meta: dict = {}
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        from ..memory import check_budget

        try:
            with tifffile.TiffFile(path) as tif:
                page = tif.pages.first
                n_px = int(np.prod(page.shape[:2]))
                check_budget(n_px * (int(np.prod(page.shape[2:])) * page.dtype.itemsize
                                     + MEASURE_WORK_BYTES_PER_PX),
                             f"reading image {path} ({page.shape[1]} × {page.shape[0]} px)",
                             "use a smaller image or raise --max-memory")
                values = page.asarray()
                tags = page.tags
                icc = tags.get("InterColorProfile")
                meta["icc"] = bytes(icc.value) if icc is not None else None
                exif = tags.get("ExifTag")
                if exif is not None and isinstance(exif.value, dict):
                    meta["exif_colorspace"] = exif.value.get("ColorSpace")
                meta["tiff"] = True
        except (OSError, ValueError) as exc:  # tifffile.TiffFileError is a ValueError
            raise ConfigError(f"IMAGE = {str(path)!r}: cannot read TIFF: {exc}") from None
        return values, meta
    from ..camera import read_rgb_image  # memory budget, truncated files: one decoder

    values = read_rgb_image(path, work_bytes_per_px=MEASURE_WORK_BYTES_PER_PX)
    try:
        from PIL import Image

        with Image.open(path) as im:
            info = dict(im.info)
            meta["icc"] = info.get("icc_profile")
            meta["srgb_chunk"] = "srgb" in info
            meta["png_gamma"] = info.get("gamma")
            try:
                meta["exif_colorspace"] = im.getexif().get_ifd(0x8769).get(0xA001)
            except Exception:  # no or broken EXIF: no colour-space hint from it
                meta["exif_colorspace"] = None
    except Exception:  # Pillow cannot parse the header: decide without metadata
        pass
    return values, meta


def _default_encoding(suffix: str, dtype, meta: dict) -> tuple[Encoding, str]:
    """The module docstring's rules 2–7."""
    icc = meta.get("icc")
    if icc:
        found = icc_encoding(icc)
        if found is not None:
            enc, what = found
            return enc, f"ICC profile {what}"
    if meta.get("srgb_chunk"):
        return Encoding("srgb"), "PNG sRGB chunk"
    g = meta.get("png_gamma")
    if g:
        disp = 1.0 / float(g)
        if abs(disp - 1.0) < 0.01:
            return Encoding("linear"), f"PNG gAMA chunk {float(g):g}"
        return Encoding("gamma", round(disp, 3)), f"PNG gAMA chunk {float(g):g}"
    if meta.get("exif_colorspace") == 1:
        return Encoding("srgb"), "EXIF ColorSpace = sRGB"
    if np.issubdtype(dtype, np.floating):
        return Encoding("linear"), "floating-point samples without a colour-space tag"
    bits = int(np.iinfo(dtype).bits)
    if meta.get("tiff") and bits >= 12:
        return Encoding("linear"), (f"{bits}-bit TIFF without a colour-space tag: assumed "
                                    f"linear, as raw converters and scientific cameras "
                                    f"write; give --encoding srgb if it is not")
    return Encoding("srgb"), (f"{bits}-bit {suffix.lstrip('.').upper()} without a "
                              f"colour-space tag: assumed sRGB")


_SRGB_PARA = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)


def _icc_tags(profile: bytes) -> dict:
    """ICC tag table: signature → tag data (ICC.1:2010 §7.3)."""
    n = struct.unpack(">I", profile[128:132])[0]
    tags = {}
    for i in range(min(n, 200)):
        sig, off, size = struct.unpack(">4sII", profile[132 + 12 * i:144 + 12 * i])
        tags[sig] = profile[off:off + size]
    return tags


def _icc_colorants(profile: bytes) -> np.ndarray | None:
    """(3, 3) PCS XYZ (D50) of the red, green, blue colorants (``rXYZ``, ``gXYZ``,
    ``bXYZ``: s15Fixed16), or None (no matrix/TRC profile)."""
    try:
        tags = _icc_tags(profile)
        rows = []
        for sig in (b"rXYZ", b"gXYZ", b"bXYZ"):
            t = tags.get(sig)
            if t is None or t[:4] != b"XYZ ":
                return None
            rows.append([v / 65536.0 for v in struct.unpack(">3i", t[8:20])])
        return np.array(rows)
    except (struct.error, ValueError, IndexError):
        return None


def icc_has_srgb_primaries(profile: bytes) -> bool | None:
    """True when the profile's colorants are sRGB's (within 0.005 in XYZ), False when they
    differ (Adobe RGB, Display P3), None when the profile has none (grey, LUT-based)."""
    mine = _icc_colorants(profile)
    if mine is None:
        return None
    return bool(np.allclose(mine, _icc_colorants(srgb_icc_profile()), atol=5e-3))


def icc_encoding(profile: bytes) -> tuple[Encoding, str] | None:
    """Encoding of an ICC profile's tone curve (``rTRC``, else ``kTRC`` / ``gTRC``).

    ``curv`` with 0 entries = identity (linear), 1 entry = power law (u8Fixed8), n entries
    = a table compared with the identity, the sRGB curve and a fitted power law; ``para``
    (ICC.1:2010 §10.18) function 0 = power law, 3/4 with sRGB's constants = sRGB. Returns
    None when the profile has no tone curve or an unrecognised one (e.g. LUT-based).
    """
    try:
        tags = _icc_tags(profile)
        trc = tags.get(b"rTRC") or tags.get(b"kTRC") or tags.get(b"gTRC")
        if trc is None:
            return None
        kind = trc[:4]
        if kind == b"curv":
            count = struct.unpack(">I", trc[8:12])[0]
            if count == 0:
                return Encoding("linear"), "(identity tone curve)"
            if count == 1:
                g = struct.unpack(">H", trc[12:14])[0] / 256.0
                return _power(g)
            table = np.frombuffer(trc[12:12 + 2 * count], dtype=">u2") / 65535.0
            return _table_encoding(table)
        if kind == b"para":
            ftype = struct.unpack(">H", trc[8:10])[0]
            nparam = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(ftype)
            if nparam is None:
                return None
            params = [v / 65536.0 for v in struct.unpack(f">{nparam}i", trc[12:12 + 4 * nparam])]
            if ftype in (3, 4) and np.allclose(params[:5], _SRGB_PARA, rtol=2e-3, atol=2e-4):
                return Encoding("srgb"), "(sRGB tone curve)"
            x = np.linspace(0, 1, 256)
            return _table_encoding(_para(ftype, params, x))
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _power(g: float):
    if abs(g - 1.0) < 0.01:
        return Encoding("linear"), "(gamma 1.0 tone curve)"
    return Encoding("gamma", round(g, 3)), f"(gamma {g:.3g} tone curve)"


def _para(ftype: int, p, x):
    """ICC parametric curve Y(X) of function type ``ftype`` (ICC.1:2010 Table 68)."""
    g = p[0]
    if ftype == 0:
        return x ** g
    if ftype == 1:
        a, b = p[1], p[2]
        return np.where(x >= -b / a, np.clip(a * x + b, 0, None) ** g, 0.0)
    if ftype == 2:
        a, b, c = p[1], p[2], p[3]
        return np.where(x >= -b / a, np.clip(a * x + b, 0, None) ** g + c, c)
    a, b, c, d = p[1], p[2], p[3], p[4]
    e, f = (p[5], p[6]) if ftype == 4 else (0.0, 0.0)
    return np.where(x >= d, np.clip(a * x + b, 0, None) ** g + e, c * x + f)


def _table_encoding(table: np.ndarray):
    """Classify a sampled tone curve (encoded 0..1 → linear 0..1)."""
    x = np.linspace(0.0, 1.0, table.size)
    if np.max(np.abs(table - x)) < 0.01:
        return Encoding("linear"), "(identity tone curve)"
    if np.max(np.abs(table - Encoding("srgb").decode(x))) < 0.01:
        return Encoding("srgb"), "(sRGB tone curve)"
    mid = (x > 0.1) & (x < 0.9) & (table > 0)
    if mid.sum() >= 3:
        g = float(np.polyfit(np.log(x[mid]), np.log(table[mid]), 1)[0])
        if np.max(np.abs(table - x ** g)) < 0.02:
            return _power(g)
    return None


@lru_cache(maxsize=1)
def srgb_icc_profile() -> bytes:
    """An sRGB ICC profile (littleCMS's built-in, via Pillow) to embed in rendered TIFFs."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# --------------------------------------------------------------------------------------
# channels
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Plane:
    """One channel of a measured image at full sensor resolution.

    ``values`` (H, W) float64 linear signal; ``mask`` (H, W) bool of the sites that hold a
    sample of this channel (None = every pixel); ``description`` says what was taken
    (plane, interpolation, how frequencies relate to sensor pixels)."""

    values: np.ndarray
    mask: np.ndarray | None
    description: str


def image_channel(img: MeasuredImage, channel: str) -> Plane:
    """Channel ``channel`` of a :class:`MeasuredImage` as a :class:`Plane`.

    Rendered image: ``r``, ``g``, ``b`` or ``y`` (luminance 0.2126 R + 0.7152 G + 0.0722 B
    of the decoded linear values). Raw: a colour of the CFA (``r``, ``g``, ``b``, ``c``,
    ``ir`` as the layout has them) — every site of that colour at its own sensor position
    (both greens of a Bayer quad), no interpolation — or the whole frame of a mono sensor.
    """
    ch = channel.lower()
    if img.kind == "raw":
        return raw_channel(img.raw, ch)
    if ch == "y":
        vals = img.linear @ LUMINANCE_WEIGHTS
    elif ch in _RGB:
        vals = img.linear[..., _RGB[ch]]
    else:
        raise ConfigError(f"--channel = {channel!r}: valid choices for an image are r, g, b, y")
    return Plane(vals, None, f"rendered image, channel {ch} (decoded {img.encoding}): the "
                 f"processed image (demosaic, white balance, colour matrix, sharpening, tone "
                 f"curve of the ISP that wrote it), not the module's raw MTF")


def raw_channel(raw, channel: str) -> Plane:
    """One CFA colour of a raw frame (DN − black) at its sensor sites (see
    :func:`image_channel`)."""
    dn = raw.dn.astype(np.float64)
    dn -= raw.black_level_dn            # (in place: no second frame-sized float64 array)
    if raw.cfa == "mono":
        return Plane(dn, None, "raw mono frame (every pixel); frequencies per sensor pixel")
    from ..raw.cfa import cfa_layout

    layout = cfa_layout(raw.cfa)
    wanted = channel.upper()
    if wanted not in layout.channels:
        raise ConfigError(f"--channel = {channel!r}: valid choices for this raw "
                          f"({raw.cfa}) are {', '.join(c.lower() for c in layout.channels)}")
    mask = raw.channel_index == layout.channels.index(wanted)
    frac = float(mask.mean())
    return Plane(dn, mask, f"raw {raw.cfa} {wanted} sites ({frac:.0%} of the pixels, each "
                 f"at its own sensor position, no interpolation); frequencies per sensor "
                 f"pixel")
