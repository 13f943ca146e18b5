"""Row-strip rendering: a full-size RawFrame → the final 8/16-bit RGB image, strip by strip.

:func:`render_strips` gives the image of ``to_uint(process(raw, spec, …).srgb, bits)``
(:func:`camtwin.isp.process`) without ever holding a full-size float array: only the raw
mosaic (2 B/px, the input) and the output image (3 or 6 B/px) are full size; everything in
between lives in one strip of rows at a time. For a 200 MP frame that is ≈ 1.6 GB instead
of the ≈ 8 GB (≈ 40 B/px) of :func:`~camtwin.isp.process` (GitHub issue 17).

Method
------
1. **Global parameters first**, each computed as the full-frame code computes it, but
   accumulated over strips:

   * white-balance gains — gray world: per-colour sums and counts of the unsaturated
     samples (additive); white patch: the samples of the same regular subsample
     (:func:`~camtwin.isp.stages.white_patch_step`), gathered strip by strip (< 16 M
     float32 samples, < 64 MB), then the percentile;
   * the denoise noise σ ("auto", :func:`~camtwin.isp.denoise.estimate_noise_sigma`): the
     sum of ``|N ⊛ I|`` over the valid region and its count (additive); for the bilateral
     filter also the global min/max of its input — OpenCV's bilateral filter scales its
     range-weight table by the image's min..max, so each strip is given the same range
     (below);
   * the auto-exposure gain: the luminance percentile on the regular subsample
     ``linear[::k, ::k]`` with k from the *full* image size (exactly those rows and
     columns are gathered from each strip, ≤ 4 M px, ≤ 48 MB); the Reinhard tone curve's
     log-average luminance from the same subsample and its L_white (the global maximum
     luminance) from the brightest pixels of each strip.

2. **Then each strip** ``[r0, r1)`` is rendered from the raw rows
   ``[r0 − halo, r1 + halo)`` clipped to the frame (``halo``: :func:`strip_halo_rows`, the
   summed support of every local stage, a multiple of the CFA period so that each strip
   starts on the same colour phase), and its interior rows are written into the
   preallocated output.

A strip is the pipeline's own front end (:func:`camtwin.isp.pipeline._front_end`, with the
global white-balance gains passed in), the same denoise, CCM, exposure, tone and
sharpening functions, on fewer rows: every local stage computes each pixel from its
neighbourhood only, and the rows a strip's edge corrupts (reflected borders) lie in the
halo that is thrown away. So the output equals the full-frame output pixel for pixel,
except where a global sum (gray-world means, noise σ) or OpenCV's running box sums
(guided filter) are summed in another order — a last-bit difference that moves a code
value by at most 1, rarely (``tests/test_isp_strips.py`` checks every option).

Because the auto-exposure gain (and the denoise σ) need the front end of every strip
before any strip can be finished, the front end either runs again for each later pass
(``spill=False``) or the RGB of each strip (12 B/px: the denoise input after the σ pass,
the linear RGB after the exposure pass) is written to an unlinked temporary file with plain
file writes (not a memory map: mapped pages would count in the resident set) and read back
(``spill=True``): the front end then runs once. Measured (``render_strips`` docstring):
spilling pays when the front end is costly (denoise, ``directional_ri``) and costs time
for the plain bilinear pipeline, so the default spills only then.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from ..raw import RawFrame
from ._cfa import cfa_period, interpolation_radius, ir_phases
from .demosaic import _bayer_like
from .denoise import _IMMERKAER, denoise
from .pipeline import _auto_gain, _front_end, _resolve_ccm
from .spec import IspSpec
from .stages import (gray_world_from_sums, to_uint, wb_gains_from_neutral,
                     white_patch_from_samples)
from .tone import SRGB_LUMINANCE, srgb_encode_fast, tone_map, unsharp_mask

#: Default working-set budget of one strip [bytes]: the default strip height keeps
#: :func:`strip_working_bytes` near this.
STRIP_BUDGET_BYTES = 256 * 2**20

#: :func:`camtwin.isp.tone.tone_reinhard` takes its log-average luminance on every k-th
#: pixel in each direction, k = ⌊√(H·W / this)⌋.
REINHARD_SAMPLES = 1_000_000

#: Pixels with the highest pre-gain luminance kept per strip to find the global maximum
#: luminance after the exposure gain (Reinhard's L_white) exactly.
_TOP_CANDIDATES = 64

#: Support [rows] of the demosaic methods on a Bayer-like mosaic (one side).
_DEMOSAIC_SUPPORT = {"bilinear": 1, "malvar2004": 2, "directional_ri": 12}

#: Bytes per pixel of a strip (with its halo) at the peak, from tracemalloc on 2000-px-wide
#: strips (``tests/test_isp_strips.py`` checks the estimate against a measurement): the
#: front end, CCM, tone and quantisation of a Bayer mosaic, plus the extra of each costlier
#: option (summed, although their peaks do not coincide).
_BYTES_PER_PX = {"base": 32, "periodic": 16, "guided": 48, "bilateral": 20,
                 "directional_ri": 4, "filmic": 36, "reinhard": 48, "sharpen": 12}

#: Bytes per sample of the global statistics: the auto-exposure subsample (12 B) and its
#: luminance and percentile copies; Reinhard's luminance in float32 and float64 and its
#: log; the white-patch samples, their per-colour concatenation and percentile copy.
_STATS_BYTES_PER_SAMPLE = {"exposure": 20, "reinhard": 32, "white_patch": 12}


@dataclass(frozen=True, eq=False)
class StripRendering:
    """Output of :func:`render_strips`.

    Attributes
    ----------
    image : ndarray of uint8 or uint16, shape (H, W, 3)
        Display-encoded RGB, ``round(display · (2**bits − 1))``.
    wb_gains : ndarray of float64, shape (3,)
        White-balance gains applied to (R, G, B) sites (G = 1).
    ccm : ndarray of float64, shape (3, 3)
        Colour matrix applied (camera RGB → linear sRGB).
    exposure_gain : float
        Digital gain applied after the CCM.
    notes : tuple of str
        As :attr:`camtwin.isp.RenderedImage.notes`.
    spec : IspSpec
    strip_rows, halo_rows : int
        Rows per strip and halo rows on each side.
    passes : int
        Front-end passes over the raw frame (statistics and rendering).
    box_means : ndarray of float64, shape (N, 3), or None
        Mean linear sRGB in each of ``mean_boxes`` (:func:`render_strips`).
    """

    image: np.ndarray
    wb_gains: np.ndarray
    ccm: np.ndarray
    exposure_gain: float
    notes: tuple[str, ...] = ()
    spec: IspSpec | None = None
    strip_rows: int = 0
    halo_rows: int = 0
    passes: int = 1
    box_means: np.ndarray | None = None

    def __post_init__(self):
        for name in ("image", "wb_gains", "ccm"):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                arr.setflags(write=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]


# ------------------------------------------------------------------------------ geometry

def _round_up(n: int, p: int) -> int:
    return -(-int(n) // p) * p


def _supports(spec: IspSpec, cfa: str) -> dict[str, int]:
    """One-sided support [rows] of each local stage group (before rounding)."""
    pipe = spec.to_pipeline()
    ph, _ = cfa_period(cfa)
    mosaic = 0
    if pipe.stage("defect_pixel") is not None:
        mosaic += ph
    if ir_phases(cfa):
        mosaic += interpolation_radius(cfa, 255) + 1
    if cfa == "mono":
        dem = 0
    elif _bayer_like(cfa):  # Bayer phases and RCCB: the method's own kernels
        dem = _DEMOSAIC_SUPPORT.get(spec.demosaic, 16)
    else:  # normalised convolution of any periodic layout, whatever the method
        dem = max(interpolation_radius(cfa, s) for s in range(3)) + 1
    st = pipe.stage("denoise")
    den = 0
    if st is not None:
        r = st.radius_px if st.radius_px is not None else (3 if st.method == "bilateral" else 2)
        den = r if st.method == "bilateral" else 2 * r
    st = pipe.stage("sharpen")
    sharp = 0
    if st is not None and st.amount > 0:
        sharp = int(math.ceil(4 * st.sigma_px)) + 2  # OpenCV: ksize = round(8σ + 1) | 1
    return {"mosaic": mosaic, "demosaic": dem, "denoise": den, "sharpen": sharp}


def strip_halo_rows(spec: IspSpec, cfa: str) -> int:
    """Halo [rows] on each side of a strip: the summed support of the local stages (defect
    correction, IR interpolation, demosaic, denoise, sharpening) + 1 (the noise estimate's
    3×3 operator), rounded up to the CFA period."""
    s = _supports(spec, cfa)
    return _round_up(sum(s.values()) + 1, cfa_period(cfa)[0])


def _bytes_per_px(spec: IspSpec, cfa: str = "RGGB") -> int:
    b = _BYTES_PER_PX["base"]
    if cfa != "mono" and not _bayer_like(cfa):
        b += _BYTES_PER_PX["periodic"]
    if spec.denoise != "none":
        b += _BYTES_PER_PX[spec.denoise]
    if spec.demosaic == "directional_ri":
        b += _BYTES_PER_PX["directional_ri"]
    if spec.tone in ("filmic", "reinhard"):
        b += _BYTES_PER_PX[spec.tone]
    if spec.sharpen > 0:
        b += _BYTES_PER_PX["sharpen"]
    return b


def _subsample_size(n_px: int | None, target: float) -> float:
    """Samples of ``x[::k, ::k]`` with k = ⌊√(N/target)⌋: N/k² < 4·target (N unknown:
    that bound)."""
    if n_px is None:
        return 4 * target
    k = max(1, int(math.sqrt(n_px / target)))
    return n_px / k**2


def stats_bytes(spec: IspSpec, n_px: int | None = None) -> int:
    """Bytes of the global statistics of :func:`render_strips` for a frame of ``n_px``
    pixels (None: the bound for any size, ≤ 0.4 GB): auto-exposure and Reinhard
    subsamples (≤ 4 M px each), or the white-patch samples (≤ 16 M), whichever is larger."""
    from . import pipeline

    b = [0.0]  # the white-patch samples are freed before the exposure statistics start
    if spec.exposure_gain is None or spec.tone == "reinhard":
        ae = _subsample_size(n_px, pipeline.PERCENTILE_SAMPLES)
        b.append((_STATS_BYTES_PER_SAMPLE["exposure"] if spec.exposure_gain is None else 12)
                 * ae)
        if spec.tone == "reinhard":
            b[-1] += _STATS_BYTES_PER_SAMPLE["reinhard"] * _subsample_size(n_px,
                                                                           REINHARD_SAMPLES)
    if spec.white_balance == "white_patch":
        b.append(_STATS_BYTES_PER_SAMPLE["white_patch"] * _subsample_size(n_px, 4e6))
    return int(max(b))


def strip_working_bytes(width_px: int, strip_rows: int, spec: IspSpec, *,
                        cfa: str = "RGGB", height_px: int | None = None) -> int:
    """Peak working set [bytes] of :func:`render_strips` besides its input and output.

    Parameters
    ----------
    width_px : int
        Frame width [px].
    strip_rows : int
        Rows per strip (the halo is added).
    spec : IspSpec
        The ISP settings (denoise, demosaic, tone and sharpening change the cost).
    cfa : str
        CFA layout (larger periods need a larger halo and the normalised-convolution
        demosaic).
    height_px : int, optional
        Frame height [px]; sizes the global statistics (default: their bound for any
        frame, :func:`stats_bytes`).

    Returns
    -------
    int
        ``(strip_rows + 2·halo) · width_px · b`` with b ≈ 32–190 B/px by option
        (:data:`_BYTES_PER_PX`), plus :func:`stats_bytes`. The caller adds the raw frame
        (2 B/px) and the output image (3 B/px at 8 bits, 6 B/px at 16 bits).
    """
    if not isinstance(spec, IspSpec):
        raise ConfigError(f"spec must be an IspSpec, got {type(spec).__name__}")
    rows = int(strip_rows) + 2 * strip_halo_rows(spec, cfa)
    n_px = None if height_px is None else int(height_px) * int(width_px)
    return rows * int(width_px) * _bytes_per_px(spec, cfa) + stats_bytes(spec, n_px)


def default_strip_rows(width_px: int, spec: IspSpec, *, cfa: str = "RGGB",
                       budget_bytes: int = STRIP_BUDGET_BYTES) -> int:
    """Rows per strip that keep :func:`strip_working_bytes` near ``budget_bytes``
    (a multiple of the CFA period, at least 4 periods)."""
    ph = cfa_period(cfa)[0]
    per_row = max(1, int(width_px)) * _bytes_per_px(spec, cfa)
    rows = budget_bytes // per_row - 2 * strip_halo_rows(spec, cfa)
    return max(4 * ph, int(rows) // ph * ph)


# ------------------------------------------------------------------------------ strips

class _Frame:
    """The frame, its pipeline and the lens-shading geometry: renders blocks of rows."""

    def __init__(self, raw, spec, lens, sensor, offset_px, full_sensor_px):
        self.raw = raw
        self.spec = spec
        self.pipe = spec.to_pipeline()
        self.lens, self.sensor = lens, sensor
        self.h, self.w = raw.shape
        self.offset_px = (float(offset_px[0]), float(offset_px[1]))
        self.full_sensor_px = full_sensor_px
        self.shading = self.pipe.stage("lens_shading")
        if self.shading is not None and lens is None:
            raise ConfigError("lens_shading source 'lens' needs the module's lens: pass lens= "
                              "(camtwin.camera.render does), or use source flat_field/gain_map")
        self.wb_gains = None
        self.front_notes = None  # notes of the front end (IR, demosaic, RCCB), once

    def block(self, a: int, b: int) -> RawFrame:
        return self.raw.with_(dn=self.raw.dn[a:b], mean_electrons=None)

    def _shading_gain(self, a: int, b: int):
        if self.shading is None:
            return None
        from .shading import gain_from_lens

        pitch = self.raw.pixel_pitch_um
        if not (math.isfinite(pitch) and pitch > 0):
            pitch = getattr(self.sensor, "pixel_pitch_um", float("nan"))
        return gain_from_lens((self.h, self.w), float(pitch), self.lens, self.sensor,
                              max_gain=self.shading.max_gain, offset_px=self.offset_px,
                              full_sensor_px=self.full_sensor_px, rows=slice(a, b))

    def front(self, a: int, b: int, until: str):
        """Front end of raw rows [a, b) up to ``until`` (see ``_front_end``)."""
        out, _, notes = _front_end(self.block(a, b), self.pipe, lens=self.lens,
                                   sensor=self.sensor, shading_gain=self._shading_gain(a, b),
                                   wb_gains=self.wb_gains, until=until)
        if until == "denoise" and self.front_notes is None:
            self.front_notes = list(notes)
        return out, notes


def _gather_rows(r0: int, r1: int, phase: int, step: int) -> slice:
    """Rows of [r0, r1), relative to r0, whose global index ≡ phase (mod step)."""
    first = phase + _round_up(max(r0 - phase, 0), step)
    return slice(first - r0, r1 - r0, step)


def _wb_gains_strips(fr: _Frame, strips, halo: int, notes: list[str]) -> tuple[np.ndarray, int]:
    """White-balance gains as :func:`camtwin.isp.pipeline._wb_gains`, statistics gathered
    over strips; returns (gains, passes over the frame)."""
    from ._cfa import cfa_phases

    raw, st = fr.raw, fr.pipe.stage("white_balance")
    if raw.cfa == "mono" or st is None or st.method == "none":
        return np.ones(3), 0
    if st.method == "manual":
        g = np.asarray(st.gains, dtype=np.float64)
        return g / g[1], 0
    if st.method == "illuminant" and raw.as_shot_neutral is not None:
        try:
            return wb_gains_from_neutral(raw.as_shot_neutral), 0
        except ConfigError as exc:
            neutral_note = f"as_shot_neutral unusable ({exc}): used gray_world"
    elif st.method == "illuminant":
        neutral_note = ("white_balance='illuminant' but the frame has no as_shot_neutral: "
                        "used gray_world")
    else:
        neutral_note = None
    ph, pw = cfa_period(raw.cfa)
    sat = np.float32(0.98)  # the default saturation of gray_world_gains/white_patch_gains
    sums, counts = np.zeros(3), np.zeros(3)
    patch = st.method == "white_patch"
    from . import stages as _stages

    step = _stages.white_patch_step((fr.h, fr.w))
    values: list[list[np.ndarray]] = [[], [], []]
    for r0, r1 in strips:
        a, b = max(0, r0 - halo), min(fr.h, r1 + halo)
        mos, _ = fr.front(a, b, "white_balance")
        m = mos[r0 - a:r1 - a]
        for r, c, ch in cfa_phases(raw.cfa):
            view = m[r::ph, c::pw]
            ok = view < sat
            sums[ch] += np.sum(view, where=ok, dtype=np.float64)
            counts[ch] += np.count_nonzero(ok)
            if patch:  # white_patch_gains' sample m[r::ph·k, c::pw·k], these rows of it
                v = m[_gather_rows(r0, r1, r, ph * step), c::pw * step].ravel()
                values[ch].append(v[v < sat])
        del mos
    if patch:
        try:
            return white_patch_from_samples(values, st.percentile), 1
        except ConfigError as exc:
            notes.append(f"white-patch white balance impossible ({exc}): used gray_world")
    if neutral_note is not None:
        notes.append(neutral_note)
    try:
        return gray_world_from_sums(sums, counts), 1
    except ConfigError as exc:
        notes.append(f"gray-world white balance impossible ({exc}): used unit gains")
        return np.ones(3), 1


def _denoise_stats(fr: _Frame, strips, halo: int, st,
                   store=None) -> tuple[float | None, tuple | None]:
    """(noise σ or None, (min, max) of the denoise input or None), over strips; the
    denoise input is written to ``store`` (a :class:`_Spill`) if given."""
    need_sigma = isinstance(st.sigma, str)
    need_range = st.method == "bilateral"
    if not (need_sigma or need_range):
        return None, None
    if need_sigma and min(fr.h, fr.w) < 3:
        raise ConfigError(f"image shape {(fr.h, fr.w, 3)}: noise estimation needs at least "
                          "3×3 px")
    abs_sum, count = 0.0, 0
    lo, hi = np.inf, -np.inf
    for r0, r1 in strips:
        a, b = max(0, r0 - halo), min(fr.h, r1 + halo)
        rgb, _ = fr.front(a, b, "denoise")
        x = np.ascontiguousarray(rgb, dtype=np.float32)
        if need_sigma:  # estimate_noise_sigma: valid region rows/cols 1 .. n−2
            resp = cv2.filter2D(x, -1, _IMMERKAER, borderType=cv2.BORDER_REFLECT_101)
            y0, y1 = max(r0, 1), min(r1, fr.h - 1)
            if y1 > y0:
                part = resp[y0 - a:y1 - a, 1:-1]
                abs_sum += float(np.sum(np.abs(part), dtype=np.float64))
                count += part.size
            del resp
        inner = x[r0 - a:r1 - a]
        if need_range:
            lo, hi = min(lo, float(inner.min())), max(hi, float(inner.max()))
        if store is not None:
            store.write(r0, inner)
        del rgb, x, inner
    sigma = (float(math.sqrt(math.pi / 2.0) * (abs_sum / count) / 6.0) if need_sigma
             else None)
    return sigma, ((lo, hi) if need_range else None)


def _denoise_block(x: np.ndarray, fr: _Frame, a: int, b: int, st, sigma, value_range,
                   exact_from_edge: int) -> np.ndarray:
    """Denoise a block of rows [a, b) of camera RGB as the full frame would be.

    OpenCV's bilateral filter builds its range-weight table over the min..max of its input:
    rows near a cut edge (``exact_from_edge`` rows, not yet equal to the full frame's) are
    clipped to the full frame's range and one pixel of the outermost row is set to its
    min and max, so the table is the full frame's; those rows lie in the halo.
    """
    if st is None:
        return x
    kwargs = {} if st.radius_px is None else {"radius_px": st.radius_px}
    if st.method == "bilateral" and (a > 0 or b < fr.h):
        lo, hi = np.float32(value_range[0]), np.float32(value_range[1])
        d = max(exact_from_edge, 1)
        if a > 0:
            np.clip(x[:d], lo, hi, out=x[:d])
        if b < fr.h:
            np.clip(x[-d:], lo, hi, out=x[-d:])
        edge = 0 if a > 0 else x.shape[0] - 1
        x[edge, 0, 0], x[edge, 0, 1] = lo, hi
    return denoise(x, st.method, sigma=st.sigma if sigma is None else sigma,
                   strength=st.strength, **kwargs)


def _reinhard(x: np.ndarray, key: float, log_avg: float, lw: float) -> np.ndarray:
    """:func:`camtwin.isp.tone.tone_reinhard` with its two global parameters given."""
    lum = x @ np.asarray(SRGB_LUMINANCE, dtype=np.float32)
    np.maximum(lum, np.float32(0), out=lum)
    lm = lum * np.float32(key / log_avg)
    ld = lm * (np.float32(1) + lm / np.float32(lw * lw)) / (np.float32(1) + lm)
    scale = np.divide(ld, lum, out=np.zeros_like(lum), where=lum > 0)
    return srgb_encode_fast(x * scale[:, :, None])


class _Spill:
    """Rows of linear RGB (float32, 12 B/px) in an unlinked temporary file, written and
    read with plain file I/O (page cache, not the resident set)."""

    def __init__(self, width: int):
        self.row_bytes = width * 3 * 4
        self.width = width
        self.failed = False
        self.f = tempfile.TemporaryFile(prefix="camtwin-strips-")

    def write(self, r0: int, rows: np.ndarray) -> None:
        """Write rows from row ``r0``; on an OS error (disk full) the file is dropped and
        ``failed`` set: the caller recomputes instead."""
        if self.failed:
            return
        try:
            self.f.seek(r0 * self.row_bytes)
            self.f.write(memoryview(np.ascontiguousarray(rows)).cast("B"))
        except OSError:
            self.failed = True
            self.close()

    def read(self, a: int, b: int) -> np.ndarray:
        out = np.empty((b - a, self.width, 3), dtype=np.float32)
        self.f.seek(a * self.row_bytes)
        n = self.f.readinto(memoryview(out).cast("B"))
        if n != out.nbytes:
            raise OSError(f"strip spill file: read {n} of {out.nbytes} bytes")
        return out

    def close(self) -> None:
        self.f.close()


def _spill_fits(h: int, w: int) -> bool:
    import shutil

    try:
        free = shutil.disk_usage(tempfile.gettempdir()).free
    except OSError:
        return False
    return free > 1.25 * h * w * 12 + 2**30


def pipeline_as_spec(pipe, raw: RawFrame, ccm=None, notes: list | None = None
                     ) -> IspSpec | None:
    """The :class:`IspSpec` whose pipeline (:meth:`IspSpec.to_pipeline`) is ``pipe`` — a
    ``ccm: camera`` stage taken as the literal matrix it resolves to on ``raw`` — so that
    :func:`render_strips` renders what :func:`camtwin.isp.run_pipeline` renders with it
    (``camtwin process`` of a large raw); None when ``pipe`` has a stage or a parameter an
    IspSpec cannot say (a flat field, a tone curve's own key, no output stage, …) or
    ``raw`` is an HDR frame (its pipeline runs on the reference component only), or a
    ``ccm`` is passed to a pipeline whose matrix is not ``fitted``. ``notes``: gets what
    resolving ``ccm: camera`` says (a frame without a colour matrix: identity), as
    :func:`camtwin.isp.run_pipeline` would note it."""
    from pydantic import ValidationError

    from .config import CcmStage

    if raw.is_hdr:
        return None
    st = dict(pipe.stages)
    if ccm is not None and ("ccm" not in st or st["ccm"].matrix != "fitted"):
        return None             # (run_pipeline refuses that, with its own message)
    if "demosaic" not in st or "output" not in st:
        return None
    kw: dict = {"defect_pixel": "defect_pixel" in st, "demosaic": st["demosaic"].method,
                "output_bits": st["output"].bits}
    if "lens_shading" in st:
        return None             # (a flat field, or the lens, which a raw file does not carry)
    kw["white_balance"] = st["white_balance"].method if "white_balance" in st else "none"
    if "denoise" in st:
        kw["denoise"] = st["denoise"].method
    matrix = st["ccm"].matrix if "ccm" in st else "identity"
    if matrix == "camera":
        said: list[str] = []
        matrix = tuple(tuple(float(v) for v in row)
                       for row in _resolve_ccm(raw, st["ccm"], None, said))
    kw["ccm"] = matrix
    if "exposure" in st:
        e = st["exposure"]
        kw.update(exposure_gain=None if e.gain == "auto" else e.gain,
                  auto_bright_percentile=e.percentile, auto_bright_white=e.white)
    if "tone" in st:
        kw["tone"] = st["tone"].curve
    if "sharpen" in st:
        kw["sharpen"] = st["sharpen"].amount
    try:
        spec = IspSpec(**kw)
    except ValidationError:
        return None
    want = tuple((n, CcmStage(matrix=matrix) if n == "ccm" else s) for n, s in pipe.stages)
    if spec.to_pipeline().stages != want:
        return None
    if notes is not None and st.get("ccm") is not None and st["ccm"].matrix == "camera":
        notes.extend(said)
    return spec


def render_strips(raw: RawFrame, spec: IspSpec, *, ccm=None, lens=None, sensor=None,
                  bits: int | None = None, strip_rows: int | None = None,
                  offset_px=(0.0, 0.0), full_sensor_px=None,
                  spill: bool | None = None, mean_boxes=None) -> StripRendering:
    """Render a raw frame to 8/16-bit RGB in row strips (no full-size float array).

    Parameters
    ----------
    raw : RawFrame
        Raw capture, any CFA layout.
    spec : IspSpec
        ISP settings, as for :func:`camtwin.isp.process`.
    ccm : array_like (3, 3), optional
        Fitted matrix, required when ``spec.ccm == "fitted"`` (not allowed otherwise).
    lens, sensor : LensSpec, SensorSpec, optional
        For ``spec.lens_shading == "lens"``.
    bits : {8, 16}, optional
        Output depth; default ``spec.output_bits``.
    strip_rows : int, optional
        Rows per strip (rounded up to the CFA period); default: a working set of about
        :data:`STRIP_BUDGET_BYTES` (:func:`default_strip_rows`).
    offset_px : (dy, dx)
        When the frame is a window of a larger sensor: the offset [px] of its centre from
        the full sensor's centre (:attr:`camtwin.crop.SensorWindow.offset_px`); lens
        shading then uses the gain of the window's true field position.
    full_sensor_px : (H, W), optional
        The full sensor's size for such a window (:attr:`camtwin.crop.SensorWindow.full_shape`).
    mean_boxes : sequence of (y0, y1, x0, x1), optional
        Pixel boxes whose mean linear sRGB (after CCM and exposure gain, unclipped: what
        ``process(...).linear`` holds there) is accumulated strip by strip into
        ``box_means`` — e.g. the ColorChecker patches for ΔE00, since no full-size linear
        image exists.
    spill : bool, optional
        When a second pass over the frame is needed (auto exposure, Reinhard tone curve),
        keep the first pass's linear RGB in a temporary file (True) or recompute the front
        end (False). Default: spill if the temporary directory has room.

    Returns
    -------
    StripRendering
        ``image`` equals ``to_uint(process(raw, spec, ccm=…, lens=…, sensor=…).srgb, bits)``
        up to 1 code value at rare last-bit differences (module docstring).

    Raises
    ------
    ConfigError
        Bad arguments (the message names the value and the valid range), or what
        :func:`camtwin.isp.process` raises (missing fitted CCM, missing lens).

    Notes
    -----
    Peak memory: the raw frame, the output image and one strip's working set
    (:func:`strip_working_bytes`). Time: the front end (black level … denoise) runs once
    per statistics pass — white balance from the image, auto denoise σ or the bilateral
    filter, auto exposure or Reinhard — plus once to render (``spill=False``); ``passes``
    in the result counts them.

    Measured (2 shared cores, synthetic RGGB raw, ccm identity; peak RSS above the
    interpreter's ≈ 0.22–0.29 GiB baseline with the raw frame; 2026-12-02):

    ==========  ===================================  ==================  ==================
    frame       spec                                 process()           render_strips
    ==========  ===================================  ==================  ==================
    12 MP       default (bilinear, auto exposure)    0.8 s, +0.31 GiB    0.4 s, +0.27 GiB
    12 MP       directional_ri + guided + sharpen    3.2 s, +0.85 GiB    1.8 s, +0.24 GiB
    48 MP       default                              7.8 s, +1.23 GiB    4.0 s, +0.40 GiB
    48 MP       directional_ri + guided + sharpen    21 s, +3.41 GiB     11 s, +0.27 GiB
    200 MP      default                              (≈ 5 GiB, not run)  15 s, +0.86 GiB
    ==========  ===================================  ==================  ==================

    Recomputing instead of spilling: 48 MP default 4.0 s (spilled: 7.0 s); 48 MP with
    directional_ri + guided + sharpen 15.6 s (spilled: 11 s).
    """
    if not isinstance(raw, RawFrame):
        raise ConfigError(f"raw must be a RawFrame, got {type(raw).__name__}")
    if not isinstance(spec, IspSpec):
        raise ConfigError(f"spec must be an IspSpec, got {type(spec).__name__}")
    bits = spec.output_bits if bits is None else bits
    if bits not in (8, 16):
        raise ConfigError(f"bits = {bits!r}: must be 8 or 16")
    if len(tuple(offset_px)) != 2 or not all(math.isfinite(float(v)) for v in offset_px):
        raise ConfigError(f"offset_px = {offset_px!r}: must be two finite numbers (dy, dx)")
    if full_sensor_px is not None and (len(tuple(full_sensor_px)) != 2
                                       or min(int(v) for v in full_sensor_px) < 1):
        raise ConfigError(f"full_sensor_px = {full_sensor_px!r}: must be two integers ≥ 1 "
                          "(H, W)")
    fr = _Frame(raw, spec, lens, sensor, offset_px, full_sensor_px)
    pipe, h, w = fr.pipe, fr.h, fr.w
    ph = cfa_period(raw.cfa)[0]
    sup = _supports(spec, raw.cfa)
    halo = strip_halo_rows(spec, raw.cfa)
    if strip_rows is None:
        rows = default_strip_rows(w, spec, cfa=raw.cfa)
    else:
        if isinstance(strip_rows, bool) or not isinstance(strip_rows, (int, np.integer)) \
                or strip_rows < 1:
            raise ConfigError(f"strip_rows = {strip_rows!r}: must be an integer ≥ 1")
        rows = _round_up(int(strip_rows), ph)
    strips = [(r0, min(h, r0 + rows)) for r0 in range(0, h, rows)]

    ccm_notes: list[str] = []
    m = _resolve_ccm(raw, pipe.stage("ccm"), ccm, ccm_notes)
    identity = bool(np.array_equal(m, np.eye(3)))
    m32 = m.astype(np.float32)

    # 1. global parameters
    wb_notes: list[str] = []
    fr.wb_gains, passes = _wb_gains_strips(fr, strips, _round_up(sup["mosaic"], ph), wb_notes)
    st_dn = pipe.stage("denoise")
    st_exp, st_tone = pipe.stage("exposure"), pipe.stage("tone")
    st_sharp = pipe.stage("sharpen")
    sharpen = st_sharp is not None and st_sharp.amount > 0
    auto = st_exp is not None and st_exp.gain == "auto"
    reinhard = st_tone is not None and st_tone.curve == "reinhard"
    if spill is None:  # a spill pays when the front end is costlier than the file I/O
        spill = ((st_dn is not None or spec.demosaic == "directional_ri")
                 and _spill_fits(h, w))
    exact_pre = sup["mosaic"] + sup["demosaic"]  # rows of a cut edge not yet exact
    sigma = value_range = None
    pre = None  # spilled camera RGB before denoise (after the denoise statistics)
    if st_dn is not None and (isinstance(st_dn.sigma, str) or st_dn.method == "bilateral"):
        pre = _Spill(w) if spill else None
        sigma, value_range = _denoise_stats(fr, strips, _round_up(exact_pre + 1, ph), st_dn,
                                            pre)
        passes += 1
        if pre is not None and pre.failed:
            pre = None

    def linear_block(a: int, b: int) -> np.ndarray:
        """Linear sRGB before the exposure gain, rows [a, b) (exact away from a cut edge
        by the summed support of the stages run here)."""
        if pre is not None:
            rgb, edge = pre.read(a, b), 0
        else:
            rgb, _ = fr.front(a, b, "denoise")
            rgb, edge = np.ascontiguousarray(rgb, dtype=np.float32), exact_pre
        rgb = _denoise_block(rgb, fr, a, b, st_dn, sigma, value_range, edge)
        if identity:
            return rgb
        from ._kernels import ccm_kernel

        lin = np.empty_like(rgb)
        ccm_kernel(np.ascontiguousarray(rgb), m32, lin)
        return lin

    # halo of linear_block's rows: the denoise support (+ 1 row for the bilateral filter's
    # range sentinel at the block edge), plus the front end's unless spilled
    den = sup["denoise"] + int(st_dn is not None and st_dn.method == "bilateral")
    halo_lin = den if pre is not None else _round_up(exact_pre + den, ph)
    gain = 1.0 if st_exp is None or auto else float(st_exp.gain)
    ae_notes: list[str] = []
    log_avg = lw = None
    store = None
    if auto or reinhard:  # 2. the statistics of linear RGB: auto exposure, Reinhard
        from . import pipeline as _pipeline

        steps = {}  # subsampling steps of _auto_gain and tone_reinhard (full-image size)
        if auto:
            steps["ae"] = max(1, int(math.sqrt(h * w / _pipeline.PERCENTILE_SAMPLES)))
        if reinhard:
            steps["rh"] = max(1, int(math.sqrt(h * w / REINHARD_SAMPLES)))
        store = _Spill(w) if spill else None
        used_pre = pre is not None
        # the subsamples linear[::k, ::k], filled strip by strip (≤ 4 M px each)
        samples = {k: np.empty((-(-h // k), -(-w // k), 3), dtype=np.float32)
                   for k in set(steps.values())}
        cands = []
        w32 = np.asarray(SRGB_LUMINANCE, dtype=np.float32)
        for r0, r1 in strips:
            a, b = max(0, r0 - halo_lin), min(h, r1 + halo_lin)
            inner = linear_block(a, b)[r0 - a:r1 - a]
            for k, sub in samples.items():
                rows_k = _gather_rows(r0, r1, 0, k)
                i0 = (r0 + rows_k.start) // k
                part = inner[rows_k, ::k]
                sub[i0:i0 + part.shape[0]] = part
            if reinhard and (st_tone.white is None):
                lum = (inner @ w32).ravel()
                k = min(_TOP_CANDIDATES, lum.size)
                idx = np.argpartition(lum, lum.size - k)[lum.size - k:]
                cands.append(inner.reshape(-1, 3)[idx])
                del lum
            if store is not None:
                store.write(r0, inner)
            del inner
        if pre is not None and store is not None and not store.failed:
            pre.close()
            pre = None
        if store is not None and store.failed:
            store = None
        passes += int(not used_pre)
        if auto:
            gain = _auto_gain(samples[steps["ae"]], st_exp, ae_notes, step=1)
        if reinhard:
            xs = samples.pop(steps["rh"])
            if gain != 1.0:
                xs *= np.float32(gain)  # as linear *= gain in run_pipeline
            lum = xs @ w32
            del xs
            np.maximum(lum, np.float32(0), out=lum)
            log_avg = float(np.exp(np.mean(np.log(1e-6 + lum.astype(np.float64)))))
            if st_tone.white is None:
                c = np.concatenate(cands)
                c = c * np.float32(gain) if gain != 1.0 else c
                lc = c @ w32
                np.maximum(lc, np.float32(0), out=lc)
                lw = float((lc * np.float32(st_tone.key / log_avg)).max())
            else:
                lw = float(st_tone.white)
            lw = max(lw, 1e-6)
        del samples

    # 3. render the strips
    out = np.empty((h, w, 3), dtype=np.uint8 if bits == 8 else np.uint16)
    hs = sup["sharpen"]
    from ..regions import check_box

    boxes = [check_box(bx, (h, w), f"mean_boxes[{i}]")
             for i, bx in enumerate(mean_boxes or ())]
    box_sums = np.zeros((len(boxes), 3))
    try:
        for r0, r1 in strips:
            if store is not None:
                a, b = max(0, r0 - hs), min(h, r1 + hs)
                lin = store.read(a, b)
            else:
                hd = halo_lin + hs if pre is not None else halo  # whole CFA periods
                a, b = max(0, r0 - hd), min(h, r1 + hd)
                lin = linear_block(a, b)
            if gain != 1.0:
                lin *= np.float32(gain)
            for i, (y0, y1, x0, x1) in enumerate(boxes):  # rows of the box in this strip
                ya, yb = max(y0, r0), min(y1, r1)
                if ya < yb:
                    box_sums[i] += lin[ya - a:yb - a, x0:x1].reshape(-1, 3).sum(
                        axis=0, dtype=np.float64)
            if st_tone is None:
                disp = tone_map(lin, "linear")
            elif reinhard:
                disp = _reinhard(lin, st_tone.key, log_avg, lw)
            elif st_tone.curve == "filmic":
                disp = tone_map(lin, "filmic", exposure_bias=st_tone.exposure_bias,
                                **({} if st_tone.white is None else {"white": st_tone.white}))
            else:
                disp = tone_map(lin, st_tone.curve)
            del lin
            if sharpen:
                disp = unsharp_mask(disp, amount=st_sharp.amount, sigma_px=st_sharp.sigma_px,
                                    threshold=st_sharp.threshold)
            out[r0:r1] = to_uint(disp[r0 - a:r1 - a], bits)
            del disp
    finally:
        for f in (store, pre):
            if f is not None:
                f.close()
    passes += int(store is None and pre is None)
    fe = list(fr.front_notes or [])
    ir = [n for n in fe if n.startswith("RGB-IR")]
    notes = ir + wb_notes + [n for n in fe if n not in ir] + ccm_notes + ae_notes
    return StripRendering(image=out, wb_gains=np.asarray(fr.wb_gains, np.float64), ccm=m,
                          exposure_gain=float(gain), notes=tuple(notes), spec=spec,
                          strip_rows=rows, halo_rows=halo, passes=passes,
                          box_means=(box_sums / np.array([[(y1 - y0) * (x1 - x0)] for
                                                          y0, y1, x0, x1 in boxes])
                                     if boxes else None))


__all__ = ["REINHARD_SAMPLES", "STRIP_BUDGET_BYTES", "StripRendering", "default_strip_rows",
           "render_strips", "stats_bytes", "strip_halo_rows", "strip_working_bytes"]
