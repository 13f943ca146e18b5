"""ISO 12233:2017 edge-based spatial frequency response (e-SFR) from a slanted edge.

The algorithm follows ISO 12233:2017 Annex D and its reference implementation ``sfrmat3``
(P. D. Burns); every step is a plain NumPy operation:

1. **Orientation.** A near-vertical edge is analysed as is, a near-horizontal one after
   transposing the ROI; the edge is made dark → light left to right.
2. **Edge location.** For every row the derivative ``d[j] = a[j+1] − a[j]`` (FIR
   [−1, +1], located at j + ½) is weighted by a Hamming window and its centroid taken; a
   line ``x_e(y) = b₀ + b₁·y`` is fitted (least squares). Second pass: the Hamming window is
   centred on the fitted edge of each row, centroids and fit repeated (sfrmat3 ``findedge``).
3. **Phase-complete rows.** Only ``n' = floor(n·|b₁|)/|b₁|`` rows are used, an integer number
   of edge-phase cycles, so every sub-pixel phase is equally represented.
4. **Projection.** Each pixel centre (x, y) is projected on the edge normal,
   ``d = (x − x_e(y))·cos θ`` with θ = atan(b₁), and binned into bins of ¼ pixel (4×
   oversampled ESF, average per bin; empty bins are linearly interpolated).
5. **LSF.** ``lsf[k] = (esf[k+1] − esf[k−1]) / 2`` (FIR [−½, 0, ½]); the LSF is shifted so
   that its centroid sits at the array centre and multiplied by a symmetric Hamming window.
6. **SFR.** ``|DFT(lsf)|`` normalised to 1 at zero frequency; frequencies
   ``ν_k = k / (N·Δ)`` [cycles/pixel], Δ = ¼ px. The response of the discrete derivative is
   removed: ``SFR(ν) /= sinc(2νΔ)`` (``np.sinc``; the 3-tap central difference of spacing Δ
   has transfer function sin(2πνΔ)/(2πνΔ)), capped at 10 as in sfrmat3 ``fir2fix``.

Frequencies are in cycles per *sensor* pixel measured perpendicular to the edge (sfrmat3
corrects its horizontal projection by cos θ to the same end); a raw CFA colour is binned at
its own sensor sites through ``mask``, never subsampled to a colour plane, whose samples
are 2 pixels apart for Bayer R/B. The sampling Nyquist frequency is
0.5 cycles/pixel. ``MTF50`` is the first frequency where the SFR falls to 0.5 (linear
interpolation between samples).

References
----------
ISO 12233:2017, *Photography — Electronic still picture imaging — Resolution and spatial
frequency responses*, Annex D (e-SFR). P. D. Burns, "Slanted-edge MTF for digital camera and
scanner analysis", Proc. IS&T PICS 2000, 135–138; ``sfrmat3`` (2015).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from ..regions import check_box

#: ESF oversampling factor of ISO 12233 (bins of 1/4 pixel).
OVERSAMPLING = 4
#: Cap on the derivative correction 1/sinc (sfrmat3 ``fir2fix``).
MAX_DERIVATIVE_CORRECTION = 10.0
#: Smallest usable edge angle [°]: fewer than one phase cycle over a tall ROI below this.
MIN_EDGE_ANGLE_DEG = 1.0
#: Largest edge angle [°] away from vertical/horizontal that the method supports.
MAX_EDGE_ANGLE_DEG = 40.0


@dataclass(frozen=True, eq=False)
class SfrResult:
    """e-SFR of one slanted edge.

    Attributes
    ----------
    frequencies_cy_px : ndarray (K,)
        Spatial frequency [cycles/pixel] perpendicular to the edge, 0 … 1 (2× Nyquist).
    sfr : ndarray (K,)
        Spatial frequency response (dimensionless, 1 at ν = 0).
    mtf50_cy_px : float
        First frequency where the SFR falls to 0.5 [cycles/pixel] (NaN if it never does).
    mtf_at_nyquist_half : float
        SFR at 0.25 cycles/pixel (Nyquist/2).
    mtf_at_nyquist : float
        SFR at 0.5 cycles/pixel (Nyquist).
    edge_angle_deg : float
        Edge angle from the vertical (or horizontal, see ``orientation``) [°], signed.
    orientation : str
        ``"vertical"`` or ``"horizontal"``: which kind of edge was analysed.
    roi : tuple
        The box analysed, ``(row0, row1, col0, col1)`` in pixels of the input.
    esf, lsf : ndarray
        The 4× oversampled edge and line spread functions (bin width ¼ px).
    rows_used : int
        Rows kept for an integer number of phase cycles.
    """

    frequencies_cy_px: np.ndarray
    sfr: np.ndarray
    mtf50_cy_px: float
    mtf_at_nyquist_half: float
    mtf_at_nyquist: float
    edge_angle_deg: float
    orientation: str
    roi: tuple
    esf: np.ndarray = field(repr=False)
    lsf: np.ndarray = field(repr=False)
    rows_used: int = 0

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def mtf_at(self, frequency_cy_px) -> np.ndarray:
        """SFR interpolated at ``frequency_cy_px`` [cycles/pixel] (linear)."""
        return np.interp(frequency_cy_px, self.frequencies_cy_px, self.sfr)

    def to_dict(self) -> dict:
        """JSON-ready summary (curve included)."""
        return {"mtf50_cy_px": _finite(self.mtf50_cy_px),
                "mtf_at_nyquist_half": float(self.mtf_at_nyquist_half),
                "mtf_at_nyquist": float(self.mtf_at_nyquist),
                "edge_angle_deg": float(self.edge_angle_deg),
                "orientation": self.orientation,
                "roi": [int(v) for v in self.roi],
                "rows_used": int(self.rows_used),
                "frequencies_cy_px": [round(float(f), 6) for f in self.frequencies_cy_px],
                "sfr": [round(float(s), 6) for s in self.sfr]}


def _finite(v: float):
    return float(v) if np.isfinite(v) else None


def _hamming(n: int, centre: float | np.ndarray) -> np.ndarray:
    """Hamming window of total width ``n`` samples centred at ``centre`` (sfrmat3
    ``ahamming``): ``0.54 + 0.46·cos(2π(x − c)/n)`` for |x − c| ≤ n/2, else 0.08."""
    x = np.arange(n, dtype=np.float64)
    c = np.asarray(centre, dtype=np.float64)
    arg = (x[None, :] - np.atleast_1d(c)[:, None]) / n
    w = 0.54 + 0.46 * np.cos(2.0 * np.pi * arg)
    w[np.abs(arg) > 0.5] = 0.08
    return w if np.ndim(centre) else w[0]


def _tukey(n: int, width: float, alpha: float = 0.5) -> np.ndarray:
    """Tukey window of total ``width`` samples centred in an array of ``n`` (0 outside):
    flat over the central (1 − α) of its width, raised-cosine tapers on either side."""
    x = np.abs(np.arange(n, dtype=np.float64) - (n - 1) / 2.0) / (width / 2.0)  # 0 … 1 edge
    flat = 1.0 - alpha
    w = np.where(x <= flat, 1.0, 0.5 * (1.0 + np.cos(np.pi * (x - flat) / alpha)))
    w[x >= 1.0] = 0.0
    return w


def _centroids(deriv: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Centroid [px, in derivative-sample index] of ``deriv · window`` for each row."""
    wd = deriv * window
    s = wd.sum(axis=1)
    x = np.arange(deriv.shape[1], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (wd @ x) / s


def _fit_edge(loc: np.ndarray) -> tuple[float, float]:
    """Least-squares line ``x = b0 + b1·y`` through the finite row centroids."""
    y = np.arange(loc.size, dtype=np.float64)
    ok = np.isfinite(loc)
    if ok.sum() < 3:
        raise ConfigError("e-SFR: no edge found in the ROI (fewer than 3 rows with a transition)")
    b1, b0 = np.polyfit(y[ok], loc[ok], 1)
    return float(b0), float(b1)


def _fill_masked(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``a`` with the pixels outside ``m`` replaced by the mean of their valid 3 × 3
    neighbours (normalised convolution), repeated until every pixel is filled (sparse CFA
    colours such as Quad Bayer need two passes)."""
    from scipy.ndimage import convolve

    k = np.ones((3, 3))
    out, valid = a.copy(), m.copy()
    for _ in range(_FILL_PASSES):
        if valid.all():
            break
        num = convolve(np.where(valid, out, 0.0), k, mode="mirror")
        den = convolve(valid.astype(np.float64), k, mode="mirror")
        new = ~valid & (den > 0)
        out[new] = num[new] / den[new]
        valid = valid | new
    return out


#: Passes of :func:`_fill_masked` at most, and so the rows (its 3 × 3 kernel reaches one
#: row per pass) a block of :func:`_fill_masked_by_rows` reads beyond its own.
_FILL_PASSES = 16
#: Rows of a block of :func:`_fill_masked_by_rows`.
_FILL_ROWS = 256


def _fill_masked_by_rows(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """:func:`_fill_masked` of ``np.where(m, a, 0)``, made :data:`_FILL_ROWS` rows at a time
    from those rows and :data:`_FILL_PASSES` + 1 more on each side: a pixel filled in pass
    p takes its value from pixels within p rows, so the block's own rows come out as the
    whole frame's (the same sums, bit for bit), with frame-sized arrays only for the result
    (the whole-frame fill held six: 50 B per pixel of a raw frame for ``auto_roi``)."""
    h = a.shape[0]
    out = np.empty(a.shape, np.float64)
    halo = _FILL_PASSES + 1
    for r0 in range(0, h, _FILL_ROWS):
        r1 = min(h, r0 + _FILL_ROWS)
        s0, s1 = max(0, r0 - halo), min(h, r1 + halo)
        mb = m[s0:s1]
        out[r0:r1] = _fill_masked(np.where(mb, a[s0:s1], 0.0), mb)[r0 - s0:r1 - s0]
    return out


def _first_crossing(freq: np.ndarray, sfr: np.ndarray, level: float = 0.5) -> float:
    below = np.nonzero(sfr < level)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    k = int(below[0])
    f0, f1, s0, s1 = freq[k - 1], freq[k], sfr[k - 1], sfr[k]
    return float(f0 + (s0 - level) * (f1 - f0) / (s0 - s1))


def esfr(image_2d, *, roi=None, oversampling: int = OVERSAMPLING,
         max_frequency_cy_px: float = 1.0, lsf_window_px: float | None = None,
         mask=None) -> SfrResult:
    """ISO 12233:2017 e-SFR of a slanted edge in a single-channel image.

    Parameters
    ----------
    image_2d : array_like (H, W)
        Linear (or any monotonic) signal of one channel: a raw colour plane, the luminance
        of a rendered image, ... Any real dtype; NaN/inf are rejected.
    roi : (row0, row1, col0, col1), optional
        Half-open pixel box (the :mod:`camtwin.regions` convention) holding one edge that
        crosses it from top to bottom (near-vertical) or left to right (near-horizontal),
        tilted 1°…40°. Default: the whole image. ISO 12233 recommends ≥ 60 px across the edge.
    oversampling : int
        ESF bins per pixel (ISO 12233: 4).
    max_frequency_cy_px : float
        Highest frequency reported [cycles/pixel], ≤ oversampling/2.
    lsf_window_px : float, optional
        ``None`` (default, ISO 12233:2017): a Hamming window over the whole LSF. A number
        W: a Tukey window (flat over the central half) of total width 2W pixels centred on
        the LSF, zero beyond — the noise-limiting window of ISO 12233:2023 / ``sfrmat4``.
        Noise far from the edge then no longer reaches the SFR (its spread at edge SNR 40
        drops by ≈ √(ROI width / 2W)); W must exceed the LSF's extent (≥ 8 px).
    mask : array_like of bool (H, W), optional
        The pixels that hold a sample (e.g. the green sites of a Bayer mosaic, from
        :func:`camtwin.measure.imread.raw_channel`); the others are ignored. The edge is
        located on the plane filled by normalised 3 × 3 averaging of the valid neighbours
        (bilinear for a Bayer colour); the ESF bins only the valid samples, each at its own
        pixel position, so frequencies stay in cycles per *sensor pixel* (not per sample
        of the colour plane, which would halve them for a Bayer colour).

    Returns
    -------
    SfrResult

    Raises
    ------
    ConfigError
        Bad ROI, an image that is not 2-D or not finite, no edge, an edge angle outside
        1°…40°.

    Examples
    --------
    >>> import numpy as np
    >>> y, x = np.mgrid[0:100, 0:80]
    >>> edge = 0.2 + 0.6 * (x - 40 - 0.1 * (y - 50) > 0)
    >>> r = esfr(edge.astype(float))
    >>> round(r.edge_angle_deg, 1)
    5.7
    """
    a = np.asarray(image_2d)
    if a.ndim != 2:
        raise ConfigError(f"e-SFR needs a 2-D single-channel image, got shape {a.shape}")
    if not 2 <= int(oversampling) <= 16:
        raise ConfigError(f"oversampling = {oversampling}: valid range is 2..16")
    if not 0 < max_frequency_cy_px <= oversampling / 2:
        raise ConfigError(f"max_frequency_cy_px = {max_frequency_cy_px}: valid range is "
                          f"(0, {oversampling / 2}]")
    box = (0, a.shape[0], 0, a.shape[1]) if roi is None else check_box(roi, a.shape, "roi")
    r0, r1, c0, c1 = box
    a = np.asarray(a[r0:r1, c0:c1], dtype=np.float64)
    if a.shape[0] < 8 or a.shape[1] < 8:
        raise ConfigError(f"roi = {tuple(box)}: too small for e-SFR (need >= 8×8 pixels)")
    m = None
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != np.shape(image_2d):
            raise ConfigError(f"mask shape {m.shape} differs from the image {np.shape(image_2d)}")
        m = m[r0:r1, c0:c1]
        if m.sum() < 64:
            raise ConfigError(f"roi = {tuple(box)}: only {int(m.sum())} masked samples "
                              f"(need >= 64)")
        a = _fill_masked(np.where(m, a, 0.0), m)
    if not np.all(np.isfinite(a)):
        raise ConfigError("e-SFR: the ROI holds NaN or infinite values")

    # 1. orientation: vertical edges vary along x
    gx = np.abs(np.diff(a, axis=1)).mean()
    gy = np.abs(np.diff(a, axis=0)).mean()
    orientation = "vertical"
    if gy > gx:
        a = a.T
        m = None if m is None else m.T
        orientation = "horizontal"
    if a[:, -max(1, a.shape[1] // 8):].mean() < a[:, :max(1, a.shape[1] // 8)].mean():
        a = a[:, ::-1]
        m = None if m is None else m[:, ::-1]
        flipped = True
    else:
        flipped = False
    nlin, npix = a.shape

    # 2. edge location: centroid of the windowed row derivative, line fit, second pass
    deriv = np.diff(a, axis=1)  # sample j sits at x = j + 0.5
    nd = deriv.shape[1]
    loc = _centroids(deriv, _hamming(nd, (nd - 1) / 2.0)) + 0.5
    b0, b1 = _fit_edge(loc)
    place = b0 + b1 * np.arange(nlin) - 0.5
    loc = _centroids(deriv, _hamming(nd, place)) + 0.5
    b0, b1 = _fit_edge(loc)
    angle = float(np.degrees(np.arctan(b1)))
    if not MIN_EDGE_ANGLE_DEG <= abs(angle) <= MAX_EDGE_ANGLE_DEG:
        raise ConfigError(f"e-SFR: edge angle {angle:.2f}° is outside the usable range "
                          f"{MIN_EDGE_ANGLE_DEG:g}°…{MAX_EDGE_ANGLE_DEG:g}° (tilt the edge)")

    # 3. integer number of phase cycles
    cycles = int(np.floor(nlin * abs(b1)))
    nlin1 = int(round(cycles / abs(b1))) if cycles >= 1 else nlin
    nlin1 = max(8, min(nlin, nlin1))
    a = a[:nlin1]
    keep_samples = None if m is None else m[:nlin1].ravel()

    # 4. project onto the edge normal and bin at 1/oversampling px
    cos_t = 1.0 / np.sqrt(1.0 + b1 * b1)
    yy = np.arange(nlin1, dtype=np.float64)[:, None]
    xx = np.arange(npix, dtype=np.float64)[None, :]
    dist = (xx - (b0 + b1 * yy)) * cos_t
    bins = np.floor(dist * oversampling).astype(np.int64).ravel()
    values = a.ravel()
    if keep_samples is not None:
        bins, values = bins[keep_samples], values[keep_samples]
    lo = int(bins.min())
    bins -= lo
    nbins = int(bins.max()) + 1
    counts = np.bincount(bins, minlength=nbins)
    sums = np.bincount(bins, weights=values, minlength=nbins)
    # keep the distance span that every row covers: [−min x_e, npix − 1 − max x_e]·cos θ
    xe = b0 + b1 * np.array([0.0, nlin1 - 1.0])
    reach = min(xe.min(), npix - 1 - xe.max()) * cos_t
    zero_bin = -lo  # bin of d ∈ [0, 1/os)
    half = min(int(np.floor(reach * oversampling)), zero_bin, nbins - zero_bin - 1)
    if half < 4 * oversampling:
        raise ConfigError(f"e-SFR: the edge is too close to the ROI side (needs >= 4 px of "
                          f"flat field on both sides, has {max(reach, 0):.1f} px)")
    sel = slice(zero_bin - half, zero_bin + half)
    c, s = counts[sel], sums[sel]
    ok = c > 0
    if ok.sum() < 8:
        raise ConfigError("e-SFR: too few samples across the edge (ROI too narrow)")
    idx = np.arange(c.size)
    esf = np.interp(idx, idx[ok], s[ok] / c[ok])

    # 5. LSF (central difference), centred on its centroid, Hamming window
    lsf = np.zeros_like(esf)
    lsf[1:-1] = 0.5 * (esf[2:] - esf[:-2])
    n = lsf.size
    total = lsf.sum()
    if not total > 0:
        raise ConfigError("e-SFR: the edge has no contrast in the ROI")
    mid = float((lsf * idx).sum() / total)
    lsf = np.roll(lsf, int(round((n - 1) / 2.0 - mid)))
    if lsf_window_px is None:
        lsf = lsf * _hamming(n, (n - 1) / 2.0)
    else:
        if not lsf_window_px >= 8:
            raise ConfigError(f"lsf_window_px = {lsf_window_px}: must be >= 8 pixels")
        lsf = lsf * _tukey(n, 2.0 * lsf_window_px * oversampling)

    # 6. SFR with derivative correction
    spec = np.abs(np.fft.rfft(lsf))
    spec /= spec[0]
    delta = 1.0 / oversampling
    freq = np.arange(spec.size) / (n * delta)
    corr = np.minimum(1.0 / np.sinc(2.0 * freq * delta).clip(1e-12), MAX_DERIVATIVE_CORRECTION)
    sfr = spec * corr
    keep = freq <= max_frequency_cy_px + 1e-12
    freq, sfr = freq[keep], sfr[keep]
    signed_angle = -angle if flipped else angle
    return SfrResult(frequencies_cy_px=freq, sfr=sfr,
                     mtf50_cy_px=_first_crossing(freq, sfr),
                     mtf_at_nyquist_half=float(np.interp(0.25, freq, sfr)),
                     mtf_at_nyquist=float(np.interp(0.5, freq, sfr)),
                     edge_angle_deg=signed_angle, orientation=orientation, roi=box,
                     esf=esf, lsf=lsf, rows_used=nlin1)


#: Width across the edge of the automatic ROI [px] (ISO 12233 recommends >= 60 px).
AUTO_ROI_ACROSS_PX = 128


def _mean_abs_diff(a: np.ndarray, axis: int) -> float:
    """``np.abs(np.diff(a, axis=axis)).mean()`` of a 2-D array, a block of rows at a time
    (the whole-array differences were two frame-sized float64 temporaries: 16 B per pixel
    of a 48 MP image read for ``camtwin sfr``); NaN when there are none."""
    h, w = a.shape
    step = max(2, (1 << 20) // max(w, 1))
    total = 0.0
    if axis == 1:
        n = h * (w - 1)
        for i in range(0, h, step):
            total += float(np.abs(np.diff(a[i:i + step], axis=1)).sum())
    else:
        n = (h - 1) * w
        for i in range(0, h - 1, step):
            total += float(np.abs(np.diff(a[i:i + step + 1], axis=0)).sum())
    return total / n if n > 0 else float("nan")


def auto_roi(image_2d, *, across_px: int = AUTO_ROI_ACROSS_PX,
             mask=None) -> tuple[int, int, int, int]:
    """A ROI ``(row0, row1, col0, col1)`` centred on the slanted edge in the middle of an
    image.

    The edge's orientation is the axis of the larger mean absolute difference; its position
    the column (row) where the mean absolute difference across it peaks in the central band
    ``4 × across_px`` long. The ROI is ``across_px`` pixels across the edge and
    ``4 × across_px`` along it (at most 90 % of the image), so a 5° edge travels 45 px in
    it. A whole-frame ROI would let the lens's shading (a slow gradient over the frame) and
    a long edge's travel bias the SFR low.
    """
    a = np.asarray(image_2d, dtype=np.float64)
    if a.ndim != 2:
        raise ConfigError(f"e-SFR needs a 2-D single-channel image, got shape {a.shape}")
    if mask is not None:
        a = _fill_masked_by_rows(a, np.asarray(mask, dtype=bool))
    if _mean_abs_diff(a, 1) >= _mean_abs_diff(a, 0):     # (a vertical edge)
        return _roi_across_columns(a, across_px)
    r = _roi_across_columns(a.T, across_px)      # (the orientation is not measured again)
    return (r[2], r[3], r[0], r[1])


def _roi_across_columns(a: np.ndarray, across_px: int) -> tuple[int, int, int, int]:
    """:func:`auto_roi` of an image whose edge runs along its columns."""
    h, w = a.shape
    along = min(int(0.9 * h), 4 * across_px)
    r0 = (h - along) // 2
    band = a[r0:r0 + along]
    prof = np.convolve(np.abs(np.diff(band, axis=1)).mean(axis=0), np.ones(5) / 5, mode="same")
    c = int(np.argmax(prof)) + 1
    half = across_px // 2
    c0 = min(max(0, c - half), max(0, w - across_px))
    return (r0, r0 + along, c0, min(w, c0 + across_px))


def mtf50(freq_cy_px, mtf) -> float:
    """First frequency where a sampled MTF curve falls to 0.5 (linear interpolation)."""
    return _first_crossing(np.asarray(freq_cy_px, float), np.asarray(mtf, float))
