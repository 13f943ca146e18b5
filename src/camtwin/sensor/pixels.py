"""The per-pixel noise and defect chain: mean electrons → charge → DN.

Per pixel (i, j), with the fixed maps of :mod:`camtwin.sensor.fixed_pattern` (g — PRNU
gain, 0 on dead pixels; d — dark map; o — DSNU offset; r_i, c_j — row/column FPN) and the
active conversion-gain mode of the sensor (FWC, σ_read, K = conversion gain × analog gain):

    μ(i,j)  = g(i,j)·μ_photo(i,j) + d(i,j)·μ_dark(i,j)                          [e⁻]
    n(i,j)  ~ Poisson(μ)                        (``noise.shot``; else n = μ)    [e⁻]
    q(i,j)  = n, clipped to FWC — or, with ``noise.blooming``, the excess spilled into the
              neighbours minus the anti-blooming drain (:func:`collect_charge`)  [e⁻]
    v(i,j)  = q·(1 − nl·(q/FWC)²)                       (``noise.nonlinearity``) [e⁻]
              + o(i,j) + r_i + c_j + σ_row·ζ_i + σ_read·z(i,j) ± A/2 (RTN pixels)
    DN(i,j) = clip(rint(K·v + black), 0, 2^bits − 1)                            [DN]

with ζ_i, z(i,j) ~ N(0, 1) new every frame (row noise, read noise) and the RTN sign a fair
coin per frame. μ_dark is the caller's mean dark charge before the map (dark current at
the sensor temperature × integration time, e.g. ``sensor.dark_current_at() · t``).

Two implementations of the same chain:

* numba kernels (:mod:`camtwin.sensor._kernels`): parallel over rows, float32, a
  counter-based SplitMix64 stream keyed on (``key``, pixel, stream) — the output depends
  on ``key`` only, never on the thread count. Exact Poisson below 16 e⁻, a fourth-order
  Cornish–Fisher approximation above (validated in ``tests/test_noise.py``).
  :func:`simulate_pixels` runs everything in one fused pass; when blooming can occur the
  pass also keeps the charge, and only the blooms' footprints are read out again.
* :func:`simulate_pixels_reference`: plain NumPy with a ``numpy.random.Generator`` seeded
  from ``key`` (exact Poisson everywhere). Same distribution, different samples.

Blooming (:func:`collect_charge`) is a deterministic numba kernel (:mod:`camtwin.sensor._bloom`)
shared by both; :func:`collect_charge_reference` is its whole-frame NumPy/SciPy formulation.

References: EMVA Standard 1288 R4.0 (2021), §2 (linear sensor model: shot noise,
K, dark current, DSNU/PRNU); J. Janesick, *Photon Transfer* (SPIE, 2007), ch. 4–5.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from ..errors import ConfigError
from . import _kernels as K
from .fixed_pattern import FixedPattern, fixed_pattern

#: The fused pass alone is used (with blooming on) when every mean μ has
#: μ + s·(√μ + 1) ≤ FWC, s = BLOOM_SAFETY_SIGMA: a draw then exceeds full well with
#: probability < 10⁻¹⁵ per pixel (and never for μ ≥ 16 e⁻, whose sampler is bounded at
#: ≈ μ + 6.7√μ + 8); otherwise it also keeps the charge for blooming.
BLOOM_SAFETY_SIGMA = 8.0

#: Default bound on the steps and tolerance [e⁻] of the blooming (:func:`collect_charge`).
BLOOM_MAX_ITERATIONS = 10000
BLOOM_TOLERANCE_E = 1e-3

ChargeHook = Callable[[np.ndarray], np.ndarray]

_f32 = np.float32


# --------------------------------------------------------------------------------------
# argument preparation
# --------------------------------------------------------------------------------------
def _shape(sensor) -> tuple[int, int]:
    return int(sensor.height_px), int(sensor.width_px)


def _readonly(a: np.ndarray) -> np.ndarray:
    """``a``, read-only (a view when it was writable). numba compiles a kernel once per
    combination of argument types, and a read-only array is a type of its own: the
    kernels' inputs all go in read-only, so a writable row map or a caller's read-only
    photo no longer compiles the pixel chain again (10–13 s each)."""
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def _as_image(a, sensor, name: str) -> np.ndarray:
    """Input frame ``a`` as a read-only C-contiguous float32 (H, W) array."""
    arr = np.ascontiguousarray(a, dtype=np.float32)
    if arr.shape != _shape(sensor):
        raise ConfigError(f"{name} has shape {arr.shape}; the sensor needs "
                          f"{_shape(sensor)} (height_px, width_px)")
    return _readonly(arr)


def _as_dark(dark_e, sensor):
    """Scalar, (H,) or (H, 1) → float32 (H,); (H, W) → float32 (H, W). (A scalar as a
    row of equal values: the kernels then compile one variant for both — each variant of
    the pixel chain takes numba seconds, ``benchmarks/bench_blooming.py --first-use`` —,
    and read it once per row.)"""
    h, w = _shape(sensor)
    if np.ndim(dark_e) == 0:
        return _readonly(np.full(h, _f32(dark_e), np.float32))
    arr = np.asarray(dark_e, dtype=np.float32)
    if arr.shape in ((h,), (h, 1)):
        return _readonly(np.ascontiguousarray(arr.reshape(h)))
    if arr.shape == (h, w):
        return _readonly(np.ascontiguousarray(arr))
    raise ConfigError(f"dark_e has shape {arr.shape}; valid: a scalar, ({h},), ({h}, 1) or "
                      f"({h}, {w})")


def _key(key) -> int:
    if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)) \
            or not 0 <= int(key) < 2**63:
        raise ConfigError(f"key = {key!r}: must be an int with 0 <= key < 2**63")
    return int(key)


def _fixed(sensor, fixed: FixedPattern | None) -> FixedPattern:
    """The sensor's cached maps, or the caller's after checking their shapes (the kernels
    index them without bounds checks)."""
    if fixed is None:
        return fixed_pattern(sensor)
    if not isinstance(fixed, FixedPattern):
        raise ConfigError(f"fixed must be a FixedPattern, got {type(fixed).__name__}")
    h, w = _shape(sensor)
    want = {"prnu_gain": (h, w), "dark_scale": (h, w), "offset_e": (h, w),
            "row_offset_e": (h,), "column_offset_e": (w,), "dead": (h, w), "rtn": (h, w)}
    for name, shape in want.items():
        m = getattr(fixed, name)
        if m is not None and np.shape(m) != shape:
            raise ConfigError(f"fixed.{name} has shape {np.shape(m)}; the sensor needs {shape}")
    return fixed


def _row0(row0) -> np.int64:
    """Sensor row of an array's first row (a strip of a larger frame: the noise draws are
    keyed on the sensor's pixel and row indices, :mod:`camtwin.strips`)."""
    if isinstance(row0, (bool, np.bool_)) or not isinstance(row0, (int, np.integer)) \
            or int(row0) < 0:
        raise ConfigError(f"row0 = {row0!r}: must be an int >= 0")
    return np.int64(row0)


def _row_map(fp: FixedPattern, h: int) -> np.ndarray:
    """The row-FPN map [e⁻] for the kernels, zeros when the sensor has none (read-only, as
    the sensor's maps are): read once per row (no per-pixel cost), and one compiled
    variant serves both (numba compiles one per combination of maps present)."""
    return _readonly(np.zeros(h, np.float32) if fp.row_offset_e is None
                     else fp.row_offset_e)


def _col_map(fp: FixedPattern, w: int) -> np.ndarray:
    """The column-FPN map [e⁻] for the kernels, zeros when the sensor has none (read-only):
    one load and add per pixel from a row of W floats that stays in cache, and one compiled
    variant of each kernel serves both."""
    return _readonly(np.zeros(w, np.float32) if fp.column_offset_e is None
                     else fp.column_offset_e)


def _readout_scalars(sensor) -> tuple:
    """(FWC, 1/FWC, nl, σ_read, A/2, σ_row, K, black, white) as float32."""
    n = sensor.noise
    fw = float(sensor.effective_full_well_e)
    read_e = float(sensor.effective_read_noise_e) if n.read else 0.0
    rtn_half = 0.5 * float(n.rtn_amplitude_e)
    return tuple(_f32(v) for v in (fw, 1.0 / fw, n.nonlinearity, read_e, rtn_half,
                                   n.row_noise_e, sensor.system_gain_dn_per_e,
                                   sensor.black_level_dn, sensor.white_level_dn))


# --------------------------------------------------------------------------------------
# public API (numba)
# --------------------------------------------------------------------------------------
def generate_charge(photo_e, dark_e, sensor, *, key: int,
                    fixed: FixedPattern | None = None, row0: int = 0,
                    out: np.ndarray | None = None) -> np.ndarray:
    """Collected charge before full well: n ~ Poisson(g·μ_photo + d·μ_dark) [e⁻].

    Parameters
    ----------
    photo_e : array_like (H, W)
        Mean photo-electrons per pixel [e⁻] (QE, CFA and shutter effects included), ≥ 0.
    dark_e : float or array_like (H,), (H, 1) or (H, W)
        Mean dark electrons before the dark map [e⁻], ≥ 0 (e.g.
        ``sensor.dark_current_at() * exposure_s``; per row for a storage-node dark).
    sensor : SensorSpec
    key : int
        Frame key, 0 ≤ key < 2⁶³; the same key gives the same charge.
    fixed : FixedPattern, optional
        Default: ``fixed_pattern(sensor)``. Uses ``photo_gain`` (PRNU, dead → 0) and
        ``dark_scale``.
    out : numpy.ndarray, optional
        A C-contiguous float32 (H, W) array to write the charge into (and return).

    Returns
    -------
    numpy.ndarray, float32 (H, W)
        Integer electron counts [e⁻] (the mean itself when ``sensor.noise.shot`` is off),
        not yet limited by full well.

    Notes
    -----
    Exact Poisson for means < 16 e⁻, Cornish–Fisher approximation above
    (:mod:`camtwin.sensor._kernels`). Inputs are not checked for NaN or negative values
    (they would yield 0 e⁻).
    """
    fp = _fixed(sensor, fixed)
    photo = _as_image(photo_e, sensor, "photo_e")
    dark = _as_dark(dark_e, sensor)
    k = _key(key)
    if out is None:
        out = np.empty(photo.shape, np.float32)
    elif not (isinstance(out, np.ndarray) and out.dtype == np.float32
              and out.shape == photo.shape and out.flags.c_contiguous
              and out.flags.writeable):
        raise ConfigError(f"out must be a writeable C-contiguous float32 array of shape "
                          f"{photo.shape}")
    K.charge_chain(photo, dark, fp.photo_gain, fp.dark_scale,
                   K.stream_seed(k, K.STREAM_PIXEL), K.stream_seed(k, K.STREAM_EXACT_POISSON),
                   bool(sensor.noise.shot), _row0(row0), out)
    return out


def collect_charge(charge, sensor, *, along_columns: bool = False,
                   max_iterations: int = BLOOM_MAX_ITERATIONS,
                   tolerance_e: float = BLOOM_TOLERANCE_E,
                   in_place: bool = False,
                   max_work_bytes: float | None = None) -> np.ndarray:
    """Limit charge to the full well of the active mode, blooming the excess.

    With ``sensor.noise.blooming`` off: q = min(n, FWC) (the excess is lost). With it on:

    1. every pixel keeps q = min(n, FWC); the anti-blooming drain removes the fraction
       d = ``noise.antiblooming_drain`` of its excess e = (n − FWC)⁺ and the rest,
       (1 − d)·e, is *pending* charge held in the (full) pixel;
    2. repeat: the pending charge of each connected region of full pixels (4-connected for
       CMOS; runs along a column when ``along_columns`` — a CCD, whose barriers only lie
       between the pixels of a column) is shared among the edges that region has with
       non-full pixels, equally per edge; a receiving pixel absorbs up to its free
       capacity FWC − q and holds the rest as pending (it is now full and joins the
       region). Stop when the pending charge is ≤ ``tolerance_e`` in total.

    Charge is conserved apart from the drained d·Σe: Σq_out = Σn − d·Σ(n − FWC)⁺. Each
    step fills at least one ring of pixels around every bright region, so the number of
    steps is about the radius (CMOS) or half-length (CCD) of the largest bloom. Pending
    charge of a region without any non-full neighbour (a fully saturated frame or column)
    and whatever is still pending after ``max_iterations`` steps is lost.

    Parameters
    ----------
    charge : array_like (H, W)
        Charge [e⁻], e.g. from :func:`generate_charge` (not modified unless ``in_place``).
    sensor : SensorSpec
    along_columns : bool
        Bloom along the column only (CCD).
    max_iterations : int
        Bound on the steps.
    tolerance_e : float
        Total pending charge [e⁻] below which the iteration stops.
    in_place : bool
        Work in ``charge`` itself (a writeable C-contiguous float32 array) and return it.
    max_work_bytes : float, optional
        The most the blooming kernel's work space may grow to [bytes], checked as it
        grows (:func:`camtwin.sensor._bloom.bloom`); beyond it
        :class:`camtwin.memory.MemoryBudgetError` is raised (``charge`` is then partly
        bloomed when ``in_place``).

    Returns
    -------
    numpy.ndarray, float32 (H, W)
        Charge [e⁻], every pixel ≤ FWC.

    Notes
    -----
    A numba kernel (:func:`camtwin.sensor._bloom.bloom`: independent blooms run in
    parallel, each by its frontier — regions in a union-find that only merges, each step
    one pass over the non-full pixels next to them, nothing per full pixel), used by both
    the numba chain and the reference chain. It matches the whole-frame
    NumPy/SciPy formulation :func:`collect_charge_reference` to float rounding
    (``tests/test_bloom.py``).
    """
    from ._bloom import bloom

    if in_place:  # the caller's C-contiguous float32 frame (a 200 MP frame is 800 MB)
        if not (isinstance(charge, np.ndarray) and charge.dtype == np.float32
                and charge.flags.c_contiguous and charge.flags.writeable):
            raise ConfigError("in_place needs a writeable C-contiguous float32 array")
        q = charge
    else:
        q = np.array(charge, dtype=np.float32, order="C", copy=True)
    if q.ndim != 2:
        raise ConfigError(f"charge must be 2-D (H, W), got shape {q.shape}")
    fw32 = _f32(sensor.effective_full_well_e)
    if not sensor.noise.blooming:
        np.minimum(q, fw32, out=q)
        return q
    bloom(q, fw32, float(sensor.noise.antiblooming_drain), bool(along_columns),
          int(max_iterations), float(tolerance_e), max_work_bytes=max_work_bytes)
    return q


def collect_charge_reference(charge, sensor, *, along_columns: bool = False,
                             max_iterations: int = BLOOM_MAX_ITERATIONS,
                             tolerance_e: float = BLOOM_TOLERANCE_E) -> np.ndarray:
    """Whole-frame NumPy/SciPy formulation of :func:`collect_charge` (the same physics;
    connected regions relabelled by ``scipy.ndimage.label`` at every step): the reference
    the numba kernel is tested against. O(bounding box of the bloom) per step.
    """
    q = np.array(charge, dtype=np.float32, order="C", copy=True)
    if q.ndim != 2:
        raise ConfigError(f"charge must be 2-D (H, W), got shape {q.shape}")
    fw32 = _f32(sensor.effective_full_well_e)
    over = q > fw32
    if not sensor.noise.blooming or not over.any():
        np.minimum(q, fw32, out=q)
        return q
    fw = float(fw32)
    work = q.astype(np.float64)
    pending = np.zeros_like(work)
    pending[over] = (work[over] - fw) * (1.0 - sensor.noise.antiblooming_drain)
    np.minimum(work, fw, out=work)
    structure = (np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]]) if along_columns
                 else np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]))
    box = _box(over, 0, 0)
    pending_total = float(pending.sum())
    for _ in range(int(max_iterations)):
        if pending_total <= tolerance_e:
            break
        box = _whole_regions(work, fw, _grow(box, q.shape, along_columns), structure,
                             along_columns)
        win = (slice(box[0], box[1]), slice(box[2], box[3]))
        pending_total = _bloom_step(work[win], pending[win], fw, structure, along_columns)
        if pending_total > tolerance_e:
            box = _box(work[win] >= fw, box[0], box[2])
    q[...] = work
    return q


def _box(mask, r_off, c_off):
    """(r0, r1, c0, c1) bounding box of ``mask`` offset by (r_off, c_off)."""
    rr, cc = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return r_off + rr[0], r_off + rr[-1] + 1, c_off + cc[0], c_off + cc[-1] + 1


def _grow(box, shape, along_columns):
    """The box with a margin of one pixel (rows only for a CCD), clipped to the frame."""
    r0, r1, c0, c1 = box
    h, w = shape
    if along_columns:
        return max(r0 - 1, 0), min(r1 + 1, h), c0, c1
    return max(r0 - 1, 0), min(r1 + 1, h), max(c0 - 1, 0), min(c1 + 1, w)


def _whole_regions(work, fw, box, structure, along_columns):
    """Grow ``box`` until no full pixel (≥ ``fw``) connected to its inside lies on its
    border (unless that border is the frame edge): every region in the window is whole."""
    from scipy import ndimage

    h, w = work.shape
    while True:
        r0, r1, c0, c1 = box
        edge = ((r0 > 0 and (work[r0, c0:c1] >= fw).any())
                or (r1 < h and (work[r1 - 1, c0:c1] >= fw).any()))
        if not along_columns:
            edge = edge or ((c0 > 0 and (work[r0:r1, c0] >= fw).any())
                            or (c1 < w and (work[r0:r1, c1 - 1] >= fw).any()))
        if not edge:
            return box
        lab, _ = ndimage.label(work >= fw, structure=structure)      # rare: whole frame
        inside = np.unique(lab[r0:r1, c0:c1])
        sel = np.isin(lab, inside[inside > 0])
        rr, cc = np.flatnonzero(sel.any(axis=1)), np.flatnonzero(sel.any(axis=0))
        box = _grow((min(r0, rr[0]), max(r1, rr[-1] + 1), min(c0, cc[0]),
                     max(c1, cc[-1] + 1)), (h, w), along_columns)


def _bloom_step(q, pending, fw, structure, along_columns) -> float:
    """One step of :func:`collect_charge` in place on a window holding whole regions of
    full pixels and their non-full neighbours; returns the pending total [e⁻]."""
    from scipy import ndimage

    full = q >= fw
    lab, n = ndimage.label(full, structure=structure)
    if n == 0:
        return float(pending.sum())
    per_region = np.bincount(lab.ravel(), weights=pending.ravel(), minlength=n + 1)
    # neighbour labels of every non-full pixel in each direction (0 = none)
    shifts = []
    for axis, step in ((0, 1), (0, -1)) + (() if along_columns else ((1, 1), (1, -1))):
        nb = np.zeros_like(lab)
        src = [slice(None), slice(None)]
        dst = [slice(None), slice(None)]
        src[axis] = slice(None, -1) if step == 1 else slice(1, None)
        dst[axis] = slice(1, None) if step == 1 else slice(None, -1)
        nb[tuple(dst)] = lab[tuple(src)]
        nb[full] = 0
        shifts.append(nb)
    edges = np.zeros(n + 1)
    for nb in shifts:
        edges += np.bincount(nb.ravel(), minlength=n + 1)
    edges[0] = 0
    share = np.divide(per_region, edges, out=np.zeros(n + 1), where=edges > 0)
    incoming = np.zeros_like(q)
    for nb in shifts:
        incoming += share[nb]
    # regions with pending charge but no free neighbour: lost; others: handed out
    pending[full] = 0.0
    q += incoming
    np.maximum(q - fw, 0.0, out=pending)
    np.minimum(q, fw, out=q)
    return float(pending.sum())


def read_out(charge, sensor, *, key: int, fixed: FixedPattern | None = None,
             row0: int = 0) -> np.ndarray:
    """Charge → DN: nonlinearity, DSNU, read noise, RTN, row noise, row/column FPN, gain,
    black level, rounding and clipping (equations in the module docstring).

    Parameters
    ----------
    charge : array_like (H, W)
        Collected charge [e⁻] (≤ FWC after :func:`collect_charge`; clipped here again).
    sensor : SensorSpec
        Read noise: ``effective_read_noise_e`` (active mode, × √2 for a voltage-domain
        global shutter) if ``noise.read``; K = ``system_gain_dn_per_e``.
    key : int
        Frame key (the same key as :func:`generate_charge` for the same frame).
    fixed : FixedPattern, optional

    Returns
    -------
    numpy.ndarray, uint16 (H, W)
        DN in [0, 2^adc_bits − 1].
    """
    q = _as_image(charge, sensor, "charge")
    fp = _fixed(sensor, fixed)
    k = _key(key)
    fw, inv_fw, nl, read_e, rtn_half, row_e, k_dn, black, white = _readout_scalars(sensor)
    out = np.empty(q.shape, np.uint16)
    K.readout_chain(q, fp.offset_e, _row_map(fp, q.shape[0]), _col_map(fp, q.shape[1]),
                    fp.rtn, K.stream_seed(k, K.STREAM_PIXEL), K.stream_seed(k, K.STREAM_ROW),
                    fw, inv_fw, nl, read_e, rtn_half, row_e, k_dn, black, white,
                    _row0(row0), out)
    return out


def blooming_possible(photo_e, dark_e, sensor, *, fixed: FixedPattern | None = None) -> bool:
    """Whether any pixel could exceed full well: max μ + 8√μ + 8 > FWC (False when
    ``noise.blooming`` is off, since then the excess is simply clipped)."""
    if not sensor.noise.blooming:
        return False
    fp = _fixed(sensor, fixed)
    thr = bloom_threshold_mean_e(sensor.effective_full_well_e)
    if thr < 0:
        return True
    return bool(K.any_mean_above(_as_image(photo_e, sensor, "photo_e"),
                                 _as_dark(dark_e, sensor), fp.photo_gain, fp.dark_scale,
                                 thr))


def bloom_threshold_mean_e(full_well_e: float) -> np.float32:
    """The largest float32 below the root μ* [e⁻] of μ + s(√μ + 1) = FWC (s =
    :data:`BLOOM_SAFETY_SIGMA`): a pixel of mean μ can exceed full well (in the sense of
    :func:`blooming_possible`) when μ > μ*, taken as μ > this; −1 when every mean can
    (FWC < s). √μ* = (−s + √(s² + 4(FWC − s)))/2; rounded down, so that no such pixel
    is missed (a mean just below μ* takes the blooming path, which then finds nothing
    above full well and gives the same DN)."""
    s = BLOOM_SAFETY_SIGMA
    if full_well_e < s:
        return np.float32(-1.0)
    r = (-s + np.sqrt(s * s + 4.0 * (full_well_e - s))) / 2.0
    t = np.float32(r * r)
    return np.nextafter(t, np.float32(-np.inf)) if float(t) >= r * r else t


def simulate_pixels(photo_e, dark_e, sensor, *, key: int, fixed: FixedPattern | None = None,
                    charge_hook: ChargeHook | None = None, row0: int = 0) -> np.ndarray:
    """The whole per-pixel chain, mean electrons → DN (uint16).

    One fused numba pass (shot + dark + PRNU + DSNU + read + RTN + row/column FPN +
    full-well clip + nonlinearity + quantisation). When blooming can matter (it is on
    and some mean is within 8√μ + 8 e⁻ of full well) the pass also keeps the charge and
    counts the pixels above full well; blooming (the kernel of :func:`collect_charge`,
    along the column for a CCD shutter) then changes the charge of its footprints only,
    and those alone are read out again (from the lists of their pixels' charges the
    kernel hands back, or inside their bounding boxes). With ``charge_hook``:
    :func:`generate_charge` → :func:`collect_charge` → ``charge_hook(charge)`` →
    :func:`read_out`. Every path uses the same draws: the same charge gives the same DN
    (``generate_charge`` → ``collect_charge`` → ``read_out`` returns exactly this).

    Parameters
    ----------
    photo_e, dark_e, sensor, key, fixed
        As for :func:`generate_charge`.
    charge_hook : callable, optional
        ``charge_hook(charge) -> charge``: float32 (H, W) [e⁻] after full well/blooming,
        before read-out (e.g. CCD smear and CTI). Must return an array of the same shape.
    row0 : int
        Sensor row of the arrays' first row when they are a strip of a taller frame (with
        ``fixed`` the strip's maps, :class:`~camtwin.sensor.fixed_pattern.FixedPatternRows`):
        the draws are keyed on sensor pixel and row indices, so the strips of a frame give
        exactly the DN of the whole frame. Blooming is then confined to the strip.

    Returns
    -------
    numpy.ndarray, uint16 (H, W)
        DN in [0, 2^adc_bits − 1]; black level ``sensor.black_level_dn``.

    Examples
    --------
    >>> import numpy as np
    >>> from camtwin.sensor import SensorSpec
    >>> s = SensorSpec(width_px=64, height_px=48, pixel_pitch_um=2.0, full_well_e=10000,
    ...                conversion_gain_dn_per_e=0.4, read_noise_e=2.0)
    >>> dn = simulate_pixels(np.full((48, 64), 1000, np.float32), 0.0, s, key=1)
    >>> dn.dtype, round(float(dn.mean()) - 64)   # 0.4 DN/e⁻ × 1000 e⁻ above black
    (dtype('uint16'), 400)
    """
    fp = _fixed(sensor, fixed)
    if charge_hook is not None:     # the hook gets the charge frame after blooming
        q = generate_charge(photo_e, dark_e, sensor, key=key, fixed=fp, row0=row0)
        q = charge_hook(collect_charge(q, sensor, along_columns=sensor.shutter.type == "ccd",
                                       in_place=True))
        return read_out(q, sensor, key=key, fixed=fp, row0=row0)
    photo = _as_image(photo_e, sensor, "photo_e")
    dark = _as_dark(dark_e, sensor)
    row_map, col_map = _row_map(fp, photo.shape[0]), _col_map(fp, photo.shape[1])
    k = _key(key)
    fw, inv_fw, nl, read_e, rtn_half, row_e, k_dn, black, white = _readout_scalars(sensor)
    out = np.empty(photo.shape, np.uint16)
    seeds = (K.stream_seed(k, K.STREAM_PIXEL), K.stream_seed(k, K.STREAM_EXACT_POISSON),
             K.stream_seed(k, K.STREAM_ROW))
    if not blooming_possible(photo, dark, sensor, fixed=fp):
        K.fused_chain(photo, dark, fp.photo_gain, fp.dark_scale, fp.offset_e, row_map,
                      col_map, fp.rtn, *seeds, bool(sensor.noise.shot), fw, inv_fw,
                      nl, read_e, rtn_half, row_e, k_dn, black, white, _row0(row0), out)
        return out
    # the same pass also keeps the charge (in a reused per-thread buffer for frames up to
    # 16 MP) and counts the pixels above full well per row; blooming then changes the
    # charge of its footprints only, which alone are read out again
    from ._bloom import bloom

    q = _charge_buffer(photo.shape)
    if q is None:
        q = np.empty(photo.shape, np.float32)
    counts = np.zeros(photo.shape[0] + 1, np.int64)
    bits = np.empty((photo.shape[0], -(-photo.shape[1] // 64)), np.uint64)
    K.fused_chain_keep(photo, dark, fp.photo_gain, fp.dark_scale, fp.offset_e,
                       row_map, col_map, fp.rtn, *seeds,
                       bool(sensor.noise.shot), fw, inv_fw, nl, read_e, rtn_half, row_e, k_dn,
                       black, white, _row0(row0), out, q, counts, bits)
    if counts[1:].any():
        # the grouped (or one-group) blooms' footprints come back as lists of their
        # pixels' final charges (not written into q) and are read out from them; the other
        # paths' boxes from q
        *_, boxes, lists = bloom(q, fw, float(sensor.noise.antiblooming_drain),
                                 sensor.shutter.type == "ccd", BLOOM_MAX_ITERATIONS,
                                 BLOOM_TOLERANCE_E, counts, boxes=True, bits=bits,
                                 footprints=True)
        rest = (fp.offset_e, row_map, col_map, fp.rtn, seeds[0], seeds[2], fw,
                inv_fw, nl, read_e, rtn_half, row_e, k_dn, black, white, _row0(row0), out)
        if boxes.shape[0]:
            K.readout_boxes(q, boxes, *rest)
        if lists[0].shape[0]:       # (after the boxes: a footprint's charge is final)
            K.readout_lists(*lists, *rest)
    return out


#: Frames of at most this many pixels reuse one float32 charge buffer per thread in
#: :func:`simulate_pixels` (a fresh 48 MB array costs ~5 ms of page faults per 12 MP frame).
_CHARGE_BUFFER_MAX = 1 << 24
_tls = threading.local()


def _charge_buffer(shape) -> np.ndarray | None:
    """This thread's float32 work frame of ``shape`` (None above the size limit: allocate)."""
    if len(shape) != 2 or shape[0] * shape[1] > _CHARGE_BUFFER_MAX:
        return None
    buf = getattr(_tls, "charge", None)
    if buf is None or buf.shape != tuple(shape):
        buf = _tls.charge = np.empty(shape, np.float32)
    return buf


# --------------------------------------------------------------------------------------
# plain-NumPy reference
# --------------------------------------------------------------------------------------
def generate_charge_reference(photo_e, dark_e, sensor, *, rng: np.random.Generator,
                              fixed: FixedPattern | None = None) -> np.ndarray:
    """NumPy reference of :func:`generate_charge`: ``rng.poisson`` (exact for all means)."""
    photo = _as_image(photo_e, sensor, "photo_e")
    dark = _as_dark(dark_e, sensor)
    fp = _fixed(sensor, fixed)
    lam = photo if fp.photo_gain is None else photo * fp.photo_gain
    d = dark[:, None] if np.ndim(dark) == 1 else dark
    lam = lam + (d if fp.dark_scale is None else d * fp.dark_scale)
    lam = np.broadcast_to(lam, photo.shape)
    if not sensor.noise.shot:
        return np.array(lam, dtype=np.float32)
    return rng.poisson(lam).astype(np.float32)


def read_out_reference(charge, sensor, *, rng: np.random.Generator,
                       fixed: FixedPattern | None = None) -> np.ndarray:
    """NumPy reference of :func:`read_out`."""
    q = _as_image(charge, sensor, "charge")
    fp = _fixed(sensor, fixed)
    fw, inv_fw, nl, read_e, rtn_half, row_e, k_dn, black, white = _readout_scalars(sensor)
    h, w = q.shape
    q = np.minimum(q, fw)
    t = q * inv_fw
    v = q * (_f32(1) - nl * t * t)
    if fp.offset_e is not None:
        v += fp.offset_e
    rows = rng.standard_normal(h, dtype=np.float32) * row_e
    if fp.row_offset_e is not None:
        rows += fp.row_offset_e
    v += rows[:, None]
    if fp.column_offset_e is not None:
        v += fp.column_offset_e[None, :]
    if read_e > 0:
        v += rng.standard_normal((h, w), dtype=np.float32) * read_e
    if fp.rtn is not None:
        sign = rng.integers(0, 2, size=(h, w), dtype=np.int8) * 2 - 1
        v += np.where(fp.rtn, sign * rtn_half, _f32(0)).astype(np.float32)
    dn = np.rint(v * k_dn + black)
    np.clip(dn, 0, white, out=dn)
    return dn.astype(np.uint16)


def simulate_pixels_reference(photo_e, dark_e, sensor, *, key: int,
                              fixed: FixedPattern | None = None,
                              charge_hook: ChargeHook | None = None) -> np.ndarray:
    """Plain-NumPy reference of :func:`simulate_pixels` (same parameters and result type).

    ``numpy.random.default_rng(key)`` supplies, in this order: the Poisson charge, the row
    noise (H), the read noise (H, W) and the RTN signs. Exact Poisson (NumPy's PTRS) at
    every mean; float32 arithmetic like the kernels.
    """
    rng = np.random.default_rng(_key(key))
    fp = _fixed(sensor, fixed)
    q = generate_charge_reference(photo_e, dark_e, sensor, rng=rng, fixed=fp)
    q = collect_charge(q, sensor, along_columns=sensor.shutter.type == "ccd")
    if charge_hook is not None:
        q = charge_hook(q)
    return read_out_reference(q, sensor, rng=rng, fixed=fp)
