"""Robust frequency-domain merge of an aligned raw burst (Hasinoff et al. 2016, §5).

Each 2×2 polyphase plane of the CFA (R, G₁, G₂, B for Bayer) is merged on its own, in
tiles of n × n plane samples (n = 16) overlapping by half. For reference tile T₀ and the
aligned tiles T_z of the other frames (all multiplied by the raised-cosine window
w(x) = ½ − ½·cos(2π(x + ½)/n), whose shifted copies sum to 1), in the DFT domain:

    D_z(ω)  = T₀(ω) − T_z(ω)
    A_z(ω)  = |D_z(ω)|² / (|D_z(ω)|² + c·σ_D²)                 (paper eq. 6, Wiener-style)
    T̃₀(ω)  = (1/N) Σ_z [ T_z(ω) + A_z(ω)·(T₀(ω) − T_z(ω)) ]      (paper eq. 7)

A_z → 0 where frame z only differs from the reference by noise (it is averaged in) and
→ 1 where it differs by more (misalignment, a moving object: the reference is kept, so
nothing ghosts). σ_D² is the expected |D_z(ω)|² of pure noise: with the tile's per-sample
noise variance σ² from the sensor's affine noise model σ² = a·x + b (x the reference
tile's mean signal [DN above black]; a = K, b = K²·(σ_read² + σ_row² + σ_DSNU² +
σ_colFPN² + σ_rowFPN²) + 1/12 [DN²]; EMVA 1288 eq. 9) and Parseval,

    σ_D² = 2·σ²·Σ_x w(x)²,

so ``c`` is a dimensionless threshold in units of the noise (the paper's c = 8 is stated
in its own, differently normalised units). For pure noise |D|²/σ_D² is Exp(1) and
E[A] = 1 − c·e^c·E₁(c) (0.105 at c = 8, 0.057 at c = 16). Measured on a static 1 lux burst
of 8 frames (flat patch, relative to a plain average): c = 8 keeps 85 % of the √N noise
reduction, c = 16 (the default, :data:`MERGE_C`) 94 %, c = 32 97 %; a 3× brighter moving
square still does not ghost at c = 16 (tests/test_burst.py).

Sub-pixel displacements are applied to T_z as a Fourier phase ramp
exp(−2πi·(k_y·δ_y + k_x·δ_x)/n) after gathering the tile at the integer displacement
(this implementation; the paper merges at integer offsets). The merged tiles are inverse
transformed and overlap-added.

References
----------
Hasinoff et al., "Burst photography for high dynamic range and low-light imaging on
mobile cameras", ACM TOG 35(6) 2016, §5 (eqs. 6–7). EMVA Standard 1288 R4.0, eq. 9
(σ_y² = K²σ_d² + σ_q² + K·(μ_y − μ_y.dark)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sfft

from ..errors import ConfigError
from . import _kernels
from .align import Alignment, _align_planes, check_burst, frame_planes, tile_grid

#: Default noise threshold c of the Wiener-style weight (σ_D²-normalised; see module doc).
MERGE_C = 16.0
#: Tiles merged per FFT batch (bounds memory; batches of ≲ 10 MB per array are reused by
#: the allocator instead of being faulted in afresh from the kernel every time).
_BATCH_TILES = 2048


def noise_model_dn(sensor) -> tuple[float, float]:
    """(a, b) of the temporal + fixed-pattern noise model σ²[DN²] = a·x + b, x the mean
    signal [DN above black] (module docstring). The fixed-pattern terms are included:
    after handheld alignment they differ from frame to frame like noise."""
    k = sensor.system_gain_dn_per_e
    n = sensor.noise
    rn = sensor.effective_read_noise_e if n.read else 0.0
    var_e = rn**2 + n.row_noise_e**2 + n.dsnu_offset_e**2 + n.column_fpn_e**2 + n.row_fpn_e**2
    return float(k if n.shot else 0.0), float(k * k * var_e + 1.0 / 12.0)


def raised_cosine(n: int) -> np.ndarray:
    """w(x) = ½ − ½·cos(2π(x + ½)/n), x = 0…n−1: copies shifted by n/2 sum to 1."""
    x = np.arange(n, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2 * np.pi * (x + 0.5) / n)


@dataclass(frozen=True, eq=False)
class MergeResult:
    """A merged burst.

    ``mosaic_dn`` float32 (H, W): merged raw [DN, black level included, like the frames];
    ``alignment``: the :class:`Alignment` used; ``mean_weight`` (N,): mean of 1 − A_z per
    frame (1 = fully averaged in, 0 = fully rejected).
    """

    mosaic_dn: np.ndarray
    alignment: Alignment
    mean_weight: np.ndarray
    reference: int
    frame: object  # the reference RawFrame (metadata donor)

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def to_raw(self, *, headroom_bits: int = 4):
        """The merge as a 16-bit :class:`RawFrame` for the ISP: DN scaled by 2^headroom_bits
        (the averaged signal has finer steps than the ADC) with black, white and gain
        scaled alike; ground truth taken from the reference frame."""
        f = self.frame
        g = float(2 ** headroom_bits)
        white = min(65535, int(round(f.white_level_dn * g)))
        dn = np.clip(np.rint(self.mosaic_dn * g), 0, white).astype(np.uint16)
        return f.with_(dn=dn, black_level_dn=f.black_level_dn * g, white_level_dn=white,
                       conversion_gain_dn_per_e=f.conversion_gain_dn_per_e * g,
                       metadata={**f.metadata, "burst_frames": int(self.mean_weight.size)})


def _gather(planes_p: np.ndarray, ty, tx, n: int, iy, ix) -> np.ndarray:
    """Tiles (P, n_t, n, n) of padded planes at origins (ty + iy, tx + ix), clamped."""
    _, hp, wp = planes_p.shape
    ar = np.arange(n)
    rows = np.clip(ty[:, None] + iy[:, None] + ar[None, :], 0, hp - 1)
    cols = np.clip(tx[:, None] + ix[:, None] + ar[None, :], 0, wp - 1)
    return planes_p[:, rows[:, :, None], cols[:, None, :]]


def wiener_accumulate_reference(t0, tz, thresh, fy, fx, ky, kx):
    """NumPy reference of :func:`camtwin.burst._kernels.wiener_accumulate`: returns
    (T'_z + A·D, A) for one alternate frame."""
    ramp = np.exp(2j * np.pi * (ky[None, :, None] * fy[:, None, None]
                                + kx[None, None, :] * fx[:, None, None]))
    z = tz * ramp[None]
    d = t0 - z
    p = np.abs(d) ** 2
    a = p / (p + thresh[:, :, None, None])
    return z + a * d, a


def _interleaved(spec: np.ndarray) -> np.ndarray:
    """(P, m, n, n_k) complex64 spectra as a float32 (P, m, 2·n·n_k) view of (re, im)."""
    return spec.view(np.float32).reshape(spec.shape[0], spec.shape[1], -1)


def overlap_add_reference(tiles: np.ndarray, grid, black: float, mosaic: np.ndarray):
    """NumPy reference of :func:`camtwin.burst._kernels.overlap_add` over all tiles of
    ``grid`` (row-major) followed by :func:`camtwin.burst._kernels.planes_to_mosaic`
    (returns the new mosaic)."""
    ny, nx = grid.n_tiles
    n, s = grid.tile, grid.stride
    hp, wp = grid.padded_shape
    out = np.zeros((4, hp, wp), dtype=np.float64)
    t = tiles.reshape(4, ny, nx, n, n)
    for iy in range(ny):
        for ix in range(nx):
            out[:, iy * s:iy * s + n, ix * s:ix * s + n] += t[:, iy, ix]
    h2, w2 = grid.plane_shape
    planes = out[:, grid.pad:grid.pad + h2, grid.pad:grid.pad + w2] + black
    res = np.array(mosaic, dtype=np.float64)
    for p in range(4):
        res[p // 2:2 * h2:2, p % 2:2 * w2:2] = planes[p]
    return res


def merge_burst(frames, *, alignment: Alignment | None = None, reference: int = 0,
                c: float = MERGE_C, noise_model: tuple[float, float] | None = None,
                subpixel: bool = True, workers: int = -1) -> MergeResult:
    """Merge a raw burst into one low-noise raw frame (module docstring).

    Parameters
    ----------
    frames : sequence of RawFrame
        N ≥ 2 frames of equal size, 2×2-periodic CFA, same exposure and gain.
    alignment : Alignment, optional
        From :func:`camtwin.burst.align_burst`; computed when not given.
    reference : int
        Reference frame index.
    c : float > 0
        Noise threshold of the merge weight (larger: more averaging, more ghosting risk).
    noise_model : (a, b), optional
        σ² = a·x + b [DN², x in DN above black]; default from the frames' SensorSpec
        (:func:`noise_model_dn`), else estimated a = K, b = 1/12 + (read noise unknown → 0).
    subpixel : bool
        Apply the sub-pixel part of the displacement as a phase ramp.

    Returns
    -------
    MergeResult

    Raises
    ------
    ConfigError
        Bad burst (:func:`camtwin.burst.align.check_burst`), c ≤ 0, frames with different
        exposure or gain.
    """
    check_burst(frames)
    if not (np.isfinite(c) and c > 0):
        raise ConfigError(f"c = {c}: must be > 0")
    f0 = frames[0]
    for z, f in enumerate(frames[1:], start=1):
        if (abs(f.exposure_s - f0.exposure_s) > 1e-9 * f0.exposure_s
                or f.conversion_gain_dn_per_e != f0.conversion_gain_dn_per_e):
            raise ConfigError(f"frame {z} has exposure {f.exposure_s} s / gain "
                              f"{f.conversion_gain_dn_per_e} DN/e-, frame 0 {f0.exposure_s} s "
                              f"/ {f0.conversion_gain_dn_per_e}: a merge needs equal settings "
                              "(use merge_hdr for brackets)")
    if alignment is None:
        if not 0 <= reference < len(frames):
            raise ConfigError(f"reference = {reference}: valid range is 0..{len(frames) - 1}")
        grid = tile_grid((f0.shape[0] // 2, f0.shape[1] // 2))
        planes = [frame_planes(f, grid) for f in frames]  # shared with the alignment
        alignment = _align_planes(planes, grid, reference)
    else:
        grid = alignment.grid
        planes = [frame_planes(f, grid) for f in frames]
    n = grid.tile
    n_frames = len(frames)
    if alignment.displacement.shape[0] != n_frames:
        raise ConfigError(f"alignment has {alignment.displacement.shape[0]} frames, burst "
                          f"has {n_frames}")
    if noise_model is None:
        if f0.sensor is not None:
            noise_model = noise_model_dn(f0.sensor)
        else:
            noise_model = (float(f0.conversion_gain_dn_per_e), 1.0 / 12.0)
    a_nm, b_nm = noise_model
    ty_all, tx_all = grid.tile_origins()
    disp_all = alignment.displacement.reshape(n_frames, -1, 2)
    w1 = raised_cosine(n)
    win = np.outer(w1, w1).astype(np.float32)
    sum_w2 = float((win.astype(np.float64) ** 2).sum())
    ky = sfft.fftfreq(n).astype(np.float64)
    kx = sfft.rfftfreq(n).astype(np.float64)
    n_tiles = ty_all.size
    merged = np.zeros((4,) + tuple(grid.padded_shape), dtype=np.float32)  # overlap-added
    rejected = np.zeros((n_frames, n_tiles))
    buf = np.empty((4, min(_BATCH_TILES, n_tiles), n, n), dtype=np.float32)
    for s0 in range(0, n_tiles, _BATCH_TILES):
        sl = slice(s0, min(s0 + _BATCH_TILES, n_tiles))
        m = sl.stop - sl.start
        ty, tx = ty_all[sl], tx_all[sl]
        zero = np.zeros(m, dtype=np.int64)
        tiles = buf[:, :m]
        _kernels.gather_windowed(planes[reference], ty, tx, zero, zero, win, tiles)
        mean_sig = np.maximum(tiles.sum(axis=(2, 3)) / np.float32(win.sum()), 0.0)   # (4, m)
        thresh = (np.float32(c) * 2.0 * (a_nm * mean_sig + b_nm) * sum_w2).astype(np.float32)
        t0 = sfft.rfft2(tiles, workers=workers)
        acc = t0.copy()
        t0_f, acc_f = _interleaved(t0), _interleaved(acc)
        for z in range(n_frames):
            if z == reference:
                continue
            d = disp_all[z, sl]
            iy = np.rint(d[:, 0]).astype(np.int64)
            ix = np.rint(d[:, 1]).astype(np.int64)
            _kernels.gather_windowed(planes[z], ty, tx, iy, ix, win, tiles)
            tz = sfft.rfft2(tiles, workers=workers)
            fy = (d[:, 0] - iy) if subpixel else np.zeros(m)
            fx = (d[:, 1] - ix) if subpixel else np.zeros(m)
            _kernels.wiener_accumulate(t0_f, _interleaved(tz), thresh, fy, fx, ky, kx, acc_f,
                                       rejected[z, sl])
        acc *= np.float32(1.0 / n_frames)
        # overlap-add (the windows were applied once; their shifted copies sum to 1)
        _kernels.overlap_add(sfft.irfft2(acc, s=(n, n), workers=workers), ty, tx, merged)
    mean_weight = 1.0 - rejected.sum(axis=1) / (4 * n_tiles * n * (n // 2 + 1))
    mean_weight[reference] = 1.0
    mosaic = f0.dn.astype(np.float32)
    _kernels.planes_to_mosaic(merged, grid.pad, float(f0.black_level_dn), mosaic)
    return MergeResult(mosaic_dn=mosaic, alignment=alignment, mean_weight=mean_weight,
                       reference=reference, frame=frames[reference])
