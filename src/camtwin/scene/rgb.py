"""Fitting a photo to the sensor's aspect ratio: crop to fill (default) or letterbox.

A photo given as a scene (``camtwin capture --scene photo.jpg``, a web upload) rarely has
the sensor's aspect ratio. Resizing it to the scene grid directly stretches it (a 3:2 photo
on a 4:3 sensor: everything 12.5 % too narrow). Instead:

``crop`` (default)
    scale by s = max(H/h, W/w) (the photo covers the whole grid) and keep the centre:
    the columns (or rows) that do not fit are cut off equally on both sides.
``letterbox``
    scale by s = min(H/h, W/w) (the whole photo is seen) and centre it on black
    (reflectance 0) bars above and below (or left and right).

Either way one photo pixel stays square on the scene grid (same scale on both axes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

#: Ways to fit a photo to the scene grid.
FITS = ("crop", "letterbox")


@dataclass(frozen=True)
class Fit:
    """How a photo of ``source_hw`` was placed on a grid of ``target_hw``.

    ``used`` (row0, row1, col0, col1): the part of the photo kept [photo pixels];
    ``placed`` (row0, row1, col0, col1): where it lands on the grid [grid samples]."""

    mode: str
    source_hw: tuple[int, int]
    target_hw: tuple[int, int]
    used: tuple[int, int, int, int]
    placed: tuple[int, int, int, int]

    def describe(self) -> str:
        """One line saying what was done (for the CLI / web page)."""
        h, w = self.source_hw
        th, tw = self.target_hw
        r0, r1, c0, c1 = self.used
        if self.mode == "crop":
            if (r1 - r0, c1 - c0) == (h, w):
                return f"photo {w}×{h} fills the {tw}×{th} sensor view (same aspect ratio)"
            return (f"photo {w}×{h} cropped to fill the {tw}×{th} sensor view: its centre "
                    f"{c1 - c0}×{r1 - r0} px kept (--scene-fit letterbox shows all of it)")
        p0, p1, q0, q1 = self.placed
        if (p1 - p0, q1 - q0) == (th, tw):
            return f"photo {w}×{h} fills the {tw}×{th} sensor view (same aspect ratio)"
        return (f"photo {w}×{h} letterboxed in the {tw}×{th} sensor view: placed at "
                f"{q1 - q0}×{p1 - p0}, black bars {'left/right' if q1 - q0 < tw else 'top/bottom'}")

    def layout_box(self) -> tuple[float, float, float, float]:
        """``placed`` as fractions of the grid (a scene layout box)."""
        th, tw = self.target_hw
        p0, p1, q0, q1 = self.placed
        return (p0 / th, p1 / th, q0 / tw, q1 / tw)


def plan_fit(source_hw, target_hw, fit: str = "crop") -> Fit:
    """The crop/placement of :func:`fit_image` without touching pixels."""
    if fit not in FITS:
        raise ConfigError(f"fit = {fit!r}: valid choices are {', '.join(FITS)}")
    h, w = (int(v) for v in source_hw)
    th, tw = (int(v) for v in target_hw)
    if min(h, w, th, tw) < 1:
        raise ConfigError(f"fit: empty image or grid ({w}×{h} → {tw}×{th})")
    if fit == "crop":
        s = max(th / h, tw / w)
        uh, uw = min(h, max(1, round(th / s))), min(w, max(1, round(tw / s)))
        r0, c0 = (h - uh) // 2, (w - uw) // 2
        return Fit(fit, (h, w), (th, tw), (r0, r0 + uh, c0, c0 + uw), (0, th, 0, tw))
    s = min(th / h, tw / w)
    ph, pw = min(th, max(1, round(h * s))), min(tw, max(1, round(w * s)))
    p0, q0 = (th - ph) // 2, (tw - pw) // 2
    return Fit(fit, (h, w), (th, tw), (0, h, 0, w), (p0, p0 + ph, q0, q0 + pw))


def fit_image(image: np.ndarray, target_hw, fit: str = "crop") -> tuple[np.ndarray, Fit]:
    """``image`` (H, W, C) float resized to ``target_hw`` without distortion (see module
    docstring); area interpolation; letterbox bars are 0. Returns (image, :class:`Fit`);
    the image is (H', W', C), a view of :func:`fit_planes`' channel planes."""
    img = np.asarray(image)
    planes, plan = fit_planes(img if img.ndim == 3 else img[..., None], target_hw, fit)
    return (np.moveaxis(planes, 0, 2) if img.ndim == 3 else planes[0]), plan


def fit_planes(image: np.ndarray, target_hw, fit: str = "crop") -> tuple[np.ndarray, Fit]:
    """:func:`fit_image` as channel planes: (C, H', W') float32, C-contiguous, resized one
    channel at a time into the result (OpenCV area interpolation; the same values as
    resizing all channels at once), so the only array of the target's size is the result
    (a letterbox: plus one channel of the placed part). A 200 MP scene from a photo is
    2.4 GB of planes; resizing the (H', W', 3) image and decoding it with whole-array
    temporaries had peaked at 9.7 GiB (``camtwin capture --module
    catalog:phone-isocell-hp2-main --scene coffee.png``).

    An integer image (8/16-bit codes) is taken as code / its dtype's maximum, converted
    one channel of the used part at a time (:func:`unit_channel`): the source is never
    held as float32 whole (a 108 MP photo is 1.3 GB of float32 per copy; converting,
    scaling and clipping it whole before the resize had peaked at 4.33 GiB on the 200 MP
    module, RESULTS.md "Capture at real size", run 7)."""
    import cv2

    img = np.asarray(image)
    if not (np.issubdtype(img.dtype, np.integer) or img.dtype == np.float32):
        img = img.astype(np.float32)
    plan = plan_fit(img.shape[:2], target_hw, fit)
    r0, r1, c0, c1 = plan.used
    p0, p1, q0, q1 = plan.placed
    th, tw = plan.target_hw
    whole = (p1 - p0, q1 - q0) == (th, tw)
    out = (np.empty if whole else np.zeros)((img.shape[2], th, tw), np.float32)
    part = None if whole else np.empty((p1 - p0, q1 - q0), np.float32)  # (one, reused)
    for c in range(img.shape[2]):
        src = unit_channel(img[r0:r1, c0:c1, c])
        dst = out[c] if whole else part
        got = cv2.resize(src, (q1 - q0, p1 - p0), dst=dst, interpolation=cv2.INTER_AREA)
        if not np.shares_memory(got, dst):      # (OpenCV allocated after all)
            dst[...] = got
        if not whole:
            out[c, p0:p1, q0:q1] = dst
        del src, got        # (before the next channel's: one source channel at a time)
    return out, plan


def area_taps(n_src: int, n_dst: int, area: bool, lo: int = 0, hi: int | None = None):
    """The taps of OpenCV's ``INTER_AREA`` resize of one axis from ``n_src`` to ``n_dst``
    samples, for the output samples ``lo`` … ``hi`` − 1: (indptr, src, weight) — output
    sample ``lo + i`` is Σ weight[t]·input[src[t]] over t in indptr[i] … indptr[i + 1] − 1
    (int64, int64, float32).

    OpenCV (``modules/imgproc/src/resize.cpp``, 4.x) resizes in two ways, chosen for both
    axes together:

    ``area`` (both axes shrink or keep their size, s = n_src/n_dst ≥ 1): each output sample
    is the mean of the input interval [d·s, (d + 1)·s) — whole samples with weight 1/c, a
    partly covered one at each end with the covered fraction/c (c = min(s, n_src − d·s);
    ends covered by less than 10⁻³ are left out), as its ``computeResizeAreaTab`` gives them.

    otherwise (an axis grows): linear interpolation with OpenCV's "area mode" weights on
    both axes: sx = ⌊d·s⌋, f = (d + 1) − (sx + 1)/s, then f − ⌊f⌋ (0 when f ≤ 0), taps
    (sx, 1 − f) and (sx + 1, f), clamped at the last sample — nearest-neighbour except
    where an output sample straddles two input samples.

    Tested against ``cv2.resize`` on random sizes (``tests/test_scene_fit.py``)."""
    hi = n_dst if hi is None else hi
    s = n_src / n_dst
    ptr, src, wt = [0], [], []
    for d in range(lo, hi):
        if area:
            f1 = d * s
            f2 = f1 + s
            cell = min(s, n_src - f1)
            s1, s2 = math.ceil(f1), math.floor(f2)
            s2 = min(s2, n_src - 1)
            s1 = min(s1, s2)
            if s1 - f1 > 1e-3:
                src.append(s1 - 1)
                wt.append((s1 - f1) / cell)
            for k in range(s1, s2):
                src.append(k)
                wt.append(1.0 / cell)
            if f2 - s2 > 1e-3:
                src.append(s2)
                wt.append(min(f2 - s2, 1.0, cell) / cell)
        else:
            inv = n_dst / n_src
            sx = math.floor(d * (1.0 / inv))
            f = float(np.float32((d + 1) - (sx + 1) * inv))
            f = 0.0 if f <= 0 else float(np.float32(f - math.floor(f)))
            if sx >= n_src - 1:
                f, sx = 0.0, n_src - 1
            src.append(sx)
            wt.append(float(np.float32(1.0) - np.float32(f)))
            if f != 0.0:
                src.append(sx + 1)
                wt.append(f)
        ptr.append(len(src))
    return (np.asarray(ptr, np.int64), np.asarray(src, np.int64),
            np.asarray(wt, np.float32))


def area_matrix(n_src: int, n_dst: int, area: bool, lo: int, hi: int):
    """:func:`area_taps` of outputs lo … hi − 1 as a sparse (hi − lo, span) matrix over the
    inputs they read, and the first of those inputs."""
    from scipy import sparse

    ptr, src, wt = area_taps(n_src, n_dst, area, lo, hi)
    s0 = int(src.min()) if src.size else 0
    span = int(src.max()) + 1 - s0 if src.size else 0
    return sparse.csr_matrix((wt, src - s0, ptr), shape=(hi - lo, span)), s0


def area_apply(my, mx, plane: np.ndarray) -> np.ndarray:
    """``my · plane · mxᵀ`` (:func:`area_matrix` of the rows and of the columns) as float32,
    along the rows first as OpenCV resizes: a part of ``cv2.resize(plane, …, INTER_AREA)``
    from the input samples it reads."""
    rows_x = np.asarray((mx @ plane.T).T, np.float32)
    return np.asarray(my @ rows_x, np.float32)


def fit_region(image: np.ndarray, plan: Fit, rows: slice, cols: slice) -> np.ndarray:
    """Rows ``rows`` and columns ``cols`` (slices with step 1 inside the grid) of
    :func:`fit_planes`' channel planes for ``plan`` (from :func:`plan_fit` on ``image``'s
    size), computed from the input samples those outputs read only: (C, h, w) float32
    (code / its dtype's maximum for integer images; black outside the placed part). The
    whole grid's planes of a 200 MP sensor are 2.4 GB and 6.5 s; a window of it needs its
    own samples and a margin (:func:`camtwin.camera.scene_window`).

    Equal to the same part of :func:`fit_planes` (OpenCV's ``INTER_AREA``) up to float32
    rounding (the weights of :func:`area_taps`; the sums in another order)."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    th, tw = plan.target_hw
    r0, r1, _ = rows.indices(th)
    c0, c1, _ = cols.indices(tw)
    out = np.zeros((img.shape[2], max(r1 - r0, 0), max(c1 - c0, 0)), np.float32)
    u0, u1, v0, v1 = plan.used
    p0, p1, q0, q1 = plan.placed
    a0, a1 = max(r0, p0), min(r1, p1)       # (the part of the region the photo covers)
    b0, b1 = max(c0, q0), min(c1, q1)
    if a1 <= a0 or b1 <= b0:
        return out
    area = (u1 - u0) >= (p1 - p0) and (v1 - v0) >= (q1 - q0)
    my, sy = area_matrix(u1 - u0, p1 - p0, area, a0 - p0, a1 - p0)
    mx, sx = area_matrix(v1 - v0, q1 - q0, area, b0 - q0, b1 - q0)
    for c in range(img.shape[2]):
        src = unit_channel(img[u0 + sy:u0 + sy + my.shape[1], v0 + sx:v0 + sx + mx.shape[1], c])
        out[c, a0 - r0:a1 - r0, b0 - c0:b1 - c0] = area_apply(my, mx, src)
    return out


def unit_channel(channel: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """One channel of an image as a float32 array (``out``, or a new C-contiguous one):
    integer codes divided by their dtype's maximum (0..1), float values as they are."""
    if out is None:
        out = np.empty(channel.shape, np.float32)
    if np.issubdtype(channel.dtype, np.integer):
        np.divide(channel, np.float32(np.iinfo(channel.dtype).max), out=out,
                  dtype=np.float32)
    else:
        out[...] = channel
    return out


#: Rows of a channel plane decoded at a time by :func:`srgb_to_linear_inplace` (its
#: temporaries: three such blocks).
_DECODE_ROWS = 256


def srgb_to_linear_inplace(planes: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding of float32 values V in 0..1, in place, a block of rows
    at a time: L = V/12.92 for V ≤ 0.04045, else ((V + 0.055)/1.055)^2.4 (the same
    function as ``colour.cctf_decoding(V, "sRGB")``; float32 arithmetic, the same values
    as the whole-array expression). ``planes``: a C-contiguous float32 array; returned."""
    if planes.dtype != np.float32 or not planes.flags.c_contiguous:
        raise ValueError("srgb_to_linear_inplace needs a C-contiguous float32 array")
    rows = planes.reshape(-1, planes.shape[-1]) if planes.ndim > 1 else planes[None]
    for i in range(0, rows.shape[0], _DECODE_ROWS):
        v = rows[i:i + _DECODE_ROWS]
        low = v <= 0.04045
        lin_low = v / np.float32(12.92)
        v += np.float32(0.055)
        v /= np.float32(1.055)
        v **= np.float32(2.4)
        np.copyto(v, lin_low, where=low)
    return planes


def describe_photo_fit(path, target_hw, fit: str = "crop") -> str:
    """:meth:`Fit.describe` for the photo file ``path`` (size from its header) placed on a
    scene grid of ``target_hw``."""
    from pathlib import Path

    from ..camera import image_header, read_rgb_image

    header = image_header(Path(path))  # (Pillow's size warning for a large photo silenced)
    if header is not None and header.format is not None:
        h, w = header.height, header.width
    else:  # a format or a size Pillow cannot parse: decode it the way the scene did
        h, w = read_rgb_image(Path(path)).shape[:2]
    return plan_fit((h, w), target_hw, fit).describe()
