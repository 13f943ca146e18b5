"""Coarse-to-fine tile alignment of a raw burst (Hasinoff et al. 2016, §4).

Algorithm
---------
1. **Grey image.** Each raw frame is reduced to a grey image by averaging every 2×2 CFA
   quad (black level removed), one sample per Bayer quad — the "plane" grid of the merge.
   The four planes are first equalised by the reference frame's plane means (grey-world
   gains; an addition to the paper: without it a raw shift by one pixel changes the binned
   value of a neutral texture, because R, G and B pixels respond differently).
   The grid is padded by reflection so that the finest tiles (``tile`` samples, stride
   ``tile/2``) cover every sample twice per axis (:func:`tile_grid`).
2. **Gaussian pyramid.** Level 0 is the grey image; each coarser level is downsampled by
   ``factors`` = (2, 4, 4) (Gaussian 5-tap pre-filter, OpenCV ``pyrDown`` once or twice)
   while it stays at least two coarse tiles large.
3. **Tile search, coarse to fine.** At each level every tile (size 16 with stride 8 at
   level 0 — the merge grid; size 8, not overlapping, at the coarser levels) searches
   integer displacements d within ±``radius`` (4 at coarse levels, 1 at level 0) of its
   initial guess, minimising D_q(d) = Σ_tile |ref(p) − alt(p + d)|^q with q = 2 (L2) at
   coarse levels and q = 1 (L1) at level 0, as the paper does. The guess comes from the
   next coarser level, scaled by the level factor; like the paper, the three nearest
   coarse tiles are tried as candidates and the one with the lowest cost at this level wins (protects tile borders
   that straddle a motion boundary).
4. **Sub-pixel.** A bivariate quadratic fitted to the 3×3 L2 costs around the best
   integer d (least squares on the 9 samples; paper §4, "Subpixel alignment") gives the
   sub-pixel minimum (kept only if the fit is convex and the step ≤ 1). This implementation
   then runs ``lk_iterations`` Gauss–Newton (Lucas–Kanade) steps on the tile: the quadratic
   fit alone is biased towards integer positions ("pixel locking") by up to ≈ 0.1 sample;
   the refinement runs on images pre-blurred with a Gaussian of σ = ``lk_sigma`` samples.
5. **Motion model** (optional, an addition): a robust global affine fit of the tile
   displacements (see :func:`align_burst`).

Displacements are in grey/plane samples (= 2 raw pixels for a Bayer CFA): tile k of the
reference at plane position p matches p + d_k in the alternate frame.

References
----------
S. W. Hasinoff, D. Sharlet, R. Geiss, A. Adams, J. T. Barron, F. Kainz, J. Chen,
M. Levoy, "Burst photography for high dynamic range and low-light imaging on mobile
cameras", ACM Trans. Graph. 35(6) 192 (SIGGRAPH Asia 2016), §4.
B. D. Lucas, T. Kanade, "An iterative image registration technique with an application to
stereo vision", IJCAI 1981.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from . import _kernels

#: Downsampling factor from each pyramid level to the next coarser one (paper: 2, 4, 4).
PYRAMID_FACTORS = (2, 4, 4)
#: Tile size [samples] at level 0 and at the coarser levels.
TILE_FINE, TILE_COARSE = 16, 8
#: Lucas–Kanade refinement steps and the σ [samples] of the Gaussian pre-blur they use.
LK_ITERATIONS, LK_SIGMA = 3, 1.0
#: Search radius [samples] at level 0 and at the coarser levels.
RADIUS_FINE, RADIUS_COARSE = 1, 4


def check_burst(frames) -> None:
    """ConfigError (one line) for a burst the aligner/merger cannot take."""
    if len(frames) < 2:
        raise ConfigError(f"a burst needs at least 2 frames, got {len(frames)}")
    shape, cfa = frames[0].shape, frames[0].cfa
    for z, f in enumerate(frames[1:], start=1):
        if f.shape != shape:
            raise ConfigError(f"frame {z} is {f.shape[1]}×{f.shape[0]} px but frame 0 is "
                              f"{shape[1]}×{shape[0]} px: all burst frames must match")
        if f.cfa != cfa:
            raise ConfigError(f"frame {z} has CFA {f.cfa} but frame 0 has {cfa}")
    from ..raw.cfa import cfa_layout

    if max(cfa_layout(cfa).period) > 2:
        raise ConfigError(f"CFA {cfa}: burst merge needs a 2×2-periodic CFA (Bayer, RCCB, "
                          "mono)")
    if shape[0] < 4 * TILE_FINE or shape[1] < 4 * TILE_FINE:
        raise ConfigError(f"frames of {shape[1]}×{shape[0]} px are too small: need at least "
                          f"{4 * TILE_FINE}×{4 * TILE_FINE}")


@dataclass(frozen=True)
class TileGrid:
    """The padded plane grid shared by the aligner and the merger.

    ``pad`` samples of reflection on top/left, the padded size (hp, wp) makes
    (hp − tile) and (wp − tile) multiples of the stride with at least ``pad`` samples of
    padding on the bottom/right; tiles start at multiples of ``stride``.
    """

    plane_shape: tuple[int, int]
    tile: int
    pad: int
    padded_shape: tuple[int, int]

    @property
    def stride(self) -> int:
        return self.tile // 2

    @property
    def n_tiles(self) -> tuple[int, int]:
        hp, wp = self.padded_shape
        return (hp - self.tile) // self.stride + 1, (wp - self.tile) // self.stride + 1

    def tile_origins(self) -> tuple[np.ndarray, np.ndarray]:
        ny, nx = self.n_tiles
        ty, tx = np.meshgrid(np.arange(ny) * self.stride, np.arange(nx) * self.stride,
                             indexing="ij")
        return ty.ravel().astype(np.int64), tx.ravel().astype(np.int64)

    def pad_plane(self, plane: np.ndarray) -> np.ndarray:
        """``plane`` (h, w) padded onto the grid by symmetric reflection (NumPy; the
        reference of :func:`frame_planes`)."""
        h, w = self.plane_shape
        hp, wp = self.padded_shape
        return np.pad(plane, ((self.pad, hp - h - self.pad), (self.pad, wp - w - self.pad)),
                      mode="symmetric")


def tile_grid(plane_shape, tile: int = TILE_FINE) -> TileGrid:
    h, w = plane_shape
    s = tile // 2

    def size(n):
        m = n + 2 * s
        return m + (-(m - tile)) % s

    return TileGrid((h, w), tile, s, (size(h), size(w)))


def raw_planes(frame) -> np.ndarray:
    """The four 2×2 polyphase planes of a raw frame, (4, H/2, W/2) float32 [DN above black],
    in the order (0,0), (0,1), (1,0), (1,1)."""
    img = frame.dn.astype(np.float32) - np.float32(frame.black_level_dn)
    h, w = img.shape
    img = img[: h // 2 * 2, : w // 2 * 2]
    return np.stack([img[0::2, 0::2], img[0::2, 1::2], img[1::2, 0::2], img[1::2, 1::2]])


def frame_planes(frame, grid: TileGrid) -> np.ndarray:
    """:func:`raw_planes` padded onto ``grid`` (``grid.pad_plane`` of each plane) in one
    pass: (4, hp, wp) float32 [DN above black], C-contiguous."""
    dn = np.ascontiguousarray(frame.dn)
    if (dn.shape[0] // 2, dn.shape[1] // 2) != tuple(grid.plane_shape):
        raise ConfigError(f"frame of {dn.shape[1]}x{dn.shape[0]} px does not fit the tile "
                          f"grid of {grid.plane_shape[1]}x{grid.plane_shape[0]} planes")
    out = np.empty((4,) + tuple(grid.padded_shape), dtype=np.float32)
    _kernels.padded_planes(dn, float(frame.black_level_dn), grid.pad, out)
    return out


def grey_from_planes(planes: np.ndarray, gains) -> np.ndarray:
    """Grey image from (padded) planes: mean over the four planes of ``gains[p]·plane``
    (as :func:`grey_image`), float32."""
    g = np.asarray(gains, dtype=np.float32) * np.float32(0.25)
    out = planes[0] * g[0]
    for p in range(1, 4):
        out += planes[p] * g[p]
    return out


def equalising_gains(planes: np.ndarray) -> np.ndarray:
    """Per-plane gains (4,) that equalise the means of polyphase planes (4, h, w) (a
    grey-world white balance of the raw, so a neutral texture bins to the same grey
    whichever CFA colour a scene point falls on)."""
    means = np.maximum(planes.mean(axis=(1, 2), dtype=np.float64), 1e-6)
    return (means.mean() / means).astype(np.float32)


def grey_image(frame, gains=None) -> np.ndarray:
    """2×2-binned grey image [DN above black], float32 (H/2, W/2); each plane is scaled by
    ``gains`` (4,) first when given (e.g. :func:`equalising_gains`)."""
    return grey_from_planes(raw_planes(frame), np.ones(4) if gains is None else gains)


def gaussian_pyramid(img: np.ndarray, *, min_size: int = 2 * TILE_COARSE) -> list:
    """[level 0, level 1, …]: each coarser by PYRAMID_FACTORS (OpenCV pyrDown, i.e. the
    5-tap binomial Gaussian then ×2 decimation, applied log2(factor) times)."""
    import cv2

    levels = [np.ascontiguousarray(img, dtype=np.float32)]
    for f in PYRAMID_FACTORS:
        nxt = levels[-1]
        for _ in range(int(round(np.log2(f)))):
            if min(nxt.shape) < 2:
                break
            nxt = cv2.pyrDown(nxt)
        if min(nxt.shape) < min_size:
            break
        levels.append(np.ascontiguousarray(nxt))
    return levels


def _level_tiles(shape, t):
    s = t  # coarse levels: non-overlapping tiles
    ny, nx = max(1, (shape[0] - t) // s + 1), max(1, (shape[1] - t) // s + 1)
    ty, tx = np.meshgrid(np.arange(ny) * s, np.arange(nx) * s, indexing="ij")
    return ty.ravel().astype(np.int64), tx.ravel().astype(np.int64), (ny, nx)


def _candidates(ty, tx, t, coarse_grid, coarse_t, coarse_disp, factor):
    """Initial guesses from the three nearest coarse tiles (paper §4): (3, n, 2) int32."""
    ny, nx = coarse_grid
    s = coarse_t  # coarse tiles do not overlap (:func:`_level_tiles`)
    cy = (ty + t / 2.0) / factor - coarse_t / 2.0  # fine centre → coarse tile origin units
    cx = (tx + t / 2.0) / factor - coarse_t / 2.0
    iy = np.clip(np.rint(cy / s).astype(np.int64), 0, ny - 1)
    ix = np.clip(np.rint(cx / s).astype(np.int64), 0, nx - 1)
    sy = np.where(cy / s >= iy, 1, -1)
    sx = np.where(cx / s >= ix, 1, -1)
    iy2 = np.clip(iy + sy, 0, ny - 1)
    ix2 = np.clip(ix + sx, 0, nx - 1)
    d = coarse_disp.reshape(ny, nx, 2)
    out = np.stack([d[iy, ix], d[iy2, ix], d[iy, ix2]]) * factor
    return out.astype(np.int32)


def _quad_pinv() -> np.ndarray:
    u, v = np.meshgrid([-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], indexing="ij")
    a = np.column_stack([np.ones(9), u.ravel(), v.ravel(), u.ravel() ** 2,
                         (u * v).ravel(), v.ravel() ** 2])
    return np.linalg.pinv(a)


_QUAD_PINV = _quad_pinv()


def quadratic_subpixel(costs: np.ndarray) -> np.ndarray:
    """Sub-pixel minimum of a bivariate quadratic least-squares fit to 3×3 costs.

    Fits f(u, v) = a + b·u + c·v + d·u² + e·u·v + g·v² (u rows, v columns, −1..1) to the
    nine samples (paper §4) and returns the stationary point (n, 2); 0 where the fit is not
    convex or the point lies more than 1 sample away.
    """
    coef = _QUAD_PINV @ costs.reshape(-1, 9).T  # least-squares fit, (6, n)
    _, b, c, d, e, g = coef
    det = 4 * d * g - e * e
    ok = (det > 0) & (d > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        du = np.where(ok, (-2 * g * b + e * c) / det, 0.0)
        dv = np.where(ok, (-2 * d * c + e * b) / det, 0.0)
    bad = ~np.isfinite(du) | ~np.isfinite(dv) | (np.abs(du) > 1) | (np.abs(dv) > 1)
    du[bad], dv[bad] = 0.0, 0.0
    return np.column_stack([du, dv])


def tile_search_reference(ref, alt, ty, tx, t, init, radius, l1):
    """Pure-NumPy reference of :func:`camtwin.burst._kernels.tile_search`."""
    h, w = alt.shape
    out = np.empty((ty.size, 2), dtype=np.int32)
    costs = np.empty(ty.size)
    for k in range(ty.size):
        patch = ref[ty[k]:ty[k] + t, tx[k]:tx[k] + t].astype(np.float64)
        best = (np.inf, 0, 0)
        for u in range(-radius, radius + 1):
            for v in range(-radius, radius + 1):
                dy, dx = init[k, 0] + u, init[k, 1] + v
                rows = np.clip(np.arange(ty[k], ty[k] + t) + dy, 0, h - 1)
                cols = np.clip(np.arange(tx[k], tx[k] + t) + dx, 0, w - 1)
                diff = patch - alt[np.ix_(rows, cols)]
                c = np.abs(diff).sum() if l1 else (diff * diff).sum()
                if c < best[0]:
                    best = (c, dy, dx)
        costs[k], out[k, 0], out[k, 1] = best
    return out, costs


def _noise_sigma(img: np.ndarray) -> float:
    """Robust noise std of an image: 1.4826·MAD of the horizontal first difference / √2."""
    step = max(1, int(np.sqrt(img.size / 250_000)))
    d = np.diff(img[::step], axis=1).ravel()  # every step-th row: ~250 k samples suffice
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


@dataclass(frozen=True)
class Alignment:
    """Per-tile displacements of every frame against the reference.

    ``displacement`` (N, ny, nx, 2) float64 [plane samples] (frame 0 ≡ 0); ``grid`` the
    shared :class:`TileGrid`; tile (i, j) covers padded-plane rows i·stride … +tile.
    """

    displacement: np.ndarray
    grid: TileGrid

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def tile_centres_raw(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre of every tile in raw pixel coordinates (rows, cols), (ny, nx) each."""
        g = self.grid
        ny, nx = g.n_tiles
        cy = (np.arange(ny) * g.stride + g.tile / 2.0 - 0.5 - g.pad) * 2.0 + 0.5
        cx = (np.arange(nx) * g.stride + g.tile / 2.0 - 0.5 - g.pad) * 2.0 + 0.5
        return np.meshgrid(cy, cx, indexing="ij")


def tile_texture(img: np.ndarray, grid: TileGrid) -> np.ndarray:
    """Smaller eigenvalue of the structure tensor Σ_tile ∇I∇Iᵀ of every level-0 tile,
    (n_tiles,) — how well the tile constrains a 2-D shift (Shi & Tomasi 1994)."""
    import cv2

    gy = cv2.Sobel(img, cv2.CV_64F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    gx = cv2.Sobel(img, cv2.CV_64F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
    ny, nx = grid.n_tiles
    s = grid.stride

    def tile_sums(v):
        blk = v[: (ny + 1) * s, : (nx + 1) * s].reshape(ny + 1, s, nx + 1, s).sum(axis=(1, 3))
        return (blk[:-1, :-1] + blk[1:, :-1] + blk[:-1, 1:] + blk[1:, 1:]).ravel()

    syy, sxx, sxy = tile_sums(gy * gy), tile_sums(gx * gx), tile_sums(gx * gy)
    tr, det = syy + sxx, syy * sxx - sxy * sxy
    return 0.5 * (tr - np.sqrt(np.maximum(tr * tr - 4 * det, 0.0)))


def _robust_affine(disp: np.ndarray, cy: np.ndarray, cx: np.ndarray, conf: np.ndarray,
                   *, iterations: int = 10):
    """Fit d(y, x) = A·(1, y, x) to the confident tiles by iteratively reweighted least
    squares with Tukey's biweight (c = 4.685·σ̂, σ̂ = 1.4826·MAD of the residuals), started
    from the median translation. Returns (coefficients (3, 2) of (1, y, x), σ̂), or None
    if too few tiles carry texture."""
    if conf.sum() < 6:
        return None
    a = np.column_stack([np.ones_like(cy), cy - cy.mean(), cx - cx.mean()]).astype(np.float64)
    # start from the median translation (robust to gross outliers), then IRLS
    coef = np.zeros((3, 2))
    coef[0] = np.median(disp[conf], axis=0)
    res = np.hypot(*(disp - a @ coef).T)
    scale = max(1.4826 * float(np.median(res[conf])), 1e-3)
    for _ in range(iterations):
        u = res / (4.685 * scale)
        w = np.where(conf & (u < 1), (1 - u * u) ** 2, 0.0)
        if np.count_nonzero(w) < 6:
            return None
        sw = np.sqrt(w)[:, None]
        coef = np.linalg.lstsq(a * sw, disp * sw, rcond=None)[0]
        res = np.hypot(*(disp - a @ coef).T)
        scale = max(1.4826 * float(np.median(res[w > 0])), 1e-3)
    # coefficients for absolute (1, y, x)
    my, mx = cy.mean(), cx.mean()
    abs_coef = coef.copy()
    abs_coef[0] = coef[0] - my * coef[1] - mx * coef[2]
    return abs_coef, scale


@dataclass(frozen=True)
class _Reference:
    """Everything :func:`align_frames` needs of the reference frame, computed once per
    burst: its pyramid, the Lucas–Kanade pre-blurred level 0, the noise std of both, and
    the level-0 tile texture (Shi–Tomasi eigenvalue)."""

    pyramid: list
    blurred: np.ndarray
    sigma: float  # of ``blurred``
    sigma0: float  # of level 0
    texture: np.ndarray | None


def _reference(ref_grey, grid: TileGrid, lk_sigma: float = LK_SIGMA,
               texture: bool = True) -> _Reference:
    import cv2

    pyr = ref_grey if isinstance(ref_grey, list) else gaussian_pyramid(ref_grey)
    r = pyr[0]
    if lk_sigma > 0:
        r = cv2.GaussianBlur(r, (0, 0), lk_sigma, borderType=cv2.BORDER_REFLECT)
    return _Reference(pyr, r, _noise_sigma(r), _noise_sigma(pyr[0]),
                      tile_texture(r, grid) if texture else None)


#: Motion models of :func:`align_burst`: per-tile only (the paper) or a robust global
#: affine fit that the tiles agreeing with it snap to.
MOTION_MODELS = ("tiles", "affine")


def align_frames(ref_grey: np.ndarray, alt_grey: np.ndarray, grid: TileGrid, *,
                 lk_iterations: int = LK_ITERATIONS, lk_sigma: float = LK_SIGMA,
                 motion_model: str = "affine") -> np.ndarray:
    """Displacements (ny, nx, 2) [samples] of ``alt`` against ``ref`` on ``grid``; both are
    *padded* grey images of ``grid.padded_shape`` (see the module docstring). ``ref_grey``
    may also be its :func:`gaussian_pyramid`, or the reference data :func:`align_burst`
    computes once per burst."""
    import cv2

    if not isinstance(ref_grey, _Reference):
        ref_grey = _reference(ref_grey, grid, lk_sigma, motion_model == "affine")
    rd = ref_grey
    pref = rd.pyramid
    palt = gaussian_pyramid(alt_grey)
    n_levels = len(pref)
    disp = None
    prev = None  # (grid, t) of the coarser level
    for lev in range(n_levels - 1, -1, -1):
        r, a = pref[lev], palt[lev]
        t = TILE_FINE if lev == 0 else TILE_COARSE
        if lev == 0:
            ty, tx = grid.tile_origins()
            shape = grid.n_tiles
        else:
            ty, tx, shape = _level_tiles(r.shape, t)
        fine = lev == 0
        radius = RADIUS_FINE if fine else RADIUS_COARSE
        if disp is None:
            init = np.zeros((ty.size, 2), dtype=np.int32)
            disp, _ = _kernels.tile_search(r, a, ty, tx, t, init, radius, fine)
        else:
            factor = PYRAMID_FACTORS[lev]
            cands = _candidates(ty, tx, t, prev[0], prev[1], disp, factor)
            # cost of each candidate as is, then search around the best (one kernel)
            disp, _ = _kernels.search_candidates(r, a, ty, tx, t, cands, radius, fine)
        prev = (shape, t)
    # sub-pixel at level 0: quadratic fit of the 3×3 L2 costs, then Lucas–Kanade
    r, a = pref[0], palt[0]
    ty, tx = grid.tile_origins()
    costs = _kernels.l2_neighbourhood(r, a, ty, tx, TILE_FINE, disp)
    sub = disp.astype(np.float64) + quadratic_subpixel(costs)
    r = rd.blurred
    if lk_sigma > 0:
        a = cv2.GaussianBlur(a, (0, 0), lk_sigma, borderType=cv2.BORDER_REFLECT)
    sigma = rd.sigma
    min_eig = 2.0 * TILE_FINE**2 * sigma**2  # ≈ 4× the noise-only structure-tensor eigenvalue
    ny, nx = grid.n_tiles
    if motion_model == "affine":
        # refine every other tile per axis (non-overlapping set) for the global fit
        sel = ((np.arange(ny)[:, None] % 2 == 0) & (np.arange(nx)[None, :] % 2 == 0)).ravel()
    else:
        sel = np.ones(ty.size, dtype=bool)
    if lk_iterations > 0:
        gy = cv2.Sobel(a, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
        gx = cv2.Sobel(a, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
        sub[sel] = _kernels.lucas_kanade(r, a, gy, gx, ty[sel], tx[sel], TILE_FINE,
                                         np.ascontiguousarray(sub[sel]), int(lk_iterations),
                                         float(min_eig**2))
    if motion_model == "affine":
        inner = ((ty >= grid.pad) & (tx >= grid.pad)
                 & (ty + TILE_FINE <= grid.pad + grid.plane_shape[0])
                 & (tx + TILE_FINE <= grid.pad + grid.plane_shape[1]))
        conf = (rd.texture >= min_eig) & inner  # textured, no padded samples
        fitted = _robust_affine(sub[sel], (ty[sel] + TILE_FINE / 2.0),
                                (tx[sel] + TILE_FINE / 2.0), conf[sel])
        if fitted is not None:
            coef, scale = fitted
            c0 = np.column_stack([np.ones(ty.size), ty + TILE_FINE / 2.0, tx + TILE_FINE / 2.0])
            fit = c0 @ coef
            res = np.hypot(*(sub - fit).T)
            agrees = ~conf | (res < np.where(sel, 4 * scale, max(4 * scale, 0.5)))
            # a disagreeing tile keeps its own estimate only if it matches significantly
            # better there: L2 cost at the fit vs at its own displacement, against the
            # std of a cost of pure noise, 2σ²·√(2t²) (σ² per sample of the unblurred image)
            r0, a0 = pref[0], palt[0]
            s0 = rd.sigma0
            c_fit = _kernels.tile_search(r0, a0, ty, tx, TILE_FINE,
                                         np.rint(fit).astype(np.int32), 0, False)[1]
            c_own = _kernels.tile_search(r0, a0, ty, tx, TILE_FINE,
                                         np.rint(sub).astype(np.int32), 0, False)[1]
            tol = 3.0 * 2.0 * s0**2 * np.sqrt(2.0) * TILE_FINE
            use_fit = agrees | (c_fit <= c_own + tol)
            sub = np.where(use_fit[:, None], fit, sub)
    ny, nx = grid.n_tiles
    return sub.reshape(ny, nx, 2)


def align_burst(frames, *, reference: int = 0, lk_iterations: int = LK_ITERATIONS,
                lk_sigma: float = LK_SIGMA, motion_model: str = "affine") -> Alignment:
    """Align every frame of a raw burst to frame ``reference`` (module docstring).

    Parameters
    ----------
    frames : sequence of RawFrame
        Same size and 2×2-periodic CFA; N ≥ 2.
    reference : int
        Index of the reference frame (HDR+ picks the sharpest of the first three; the
        simulator's frame 0 is the reference pose).
    lk_iterations : int
        Lucas–Kanade refinement steps after the paper's quadratic fit (0 = paper only).
    lk_sigma : float
        σ [samples] of the Gaussian pre-blur of the refinement (suppresses the aliasing of
        the binned image that biases sub-pixel estimates).
    motion_model : {"affine", "tiles"}
        ``"tiles"``: the paper's independent per-tile displacements. ``"affine"`` (default):
        a robust global affine fit (IRLS, Tukey biweight) over the textured tiles, taken
        by every tile that agrees with it within 4σ̂, has no texture, or matches about as
        well at the fitted displacement (L2 cost within 3 noise std); the remaining tiles
        (moving objects) keep their own estimate. Handshake of a distant scene is close to
        a global similarity transform, and the fit averages the per-tile noise over
        hundreds of tiles; with rolling-shutter wobble or parallax use ``"tiles"``.

    Returns
    -------
    Alignment
        Displacements [plane samples = 2 raw px] per frame and tile.

    Raises
    ------
    ConfigError
        Fewer than 2 frames, mismatched sizes or CFA, or frames too small.
    """
    check_burst(frames)
    if motion_model not in MOTION_MODELS:
        from ..errors import unknown_name

        raise unknown_name("motion model", motion_model, MOTION_MODELS)
    if not 0 <= reference < len(frames):
        raise ConfigError(f"reference = {reference}: valid range is 0..{len(frames) - 1}")
    h, w = frames[0].shape
    grid = tile_grid((h // 2, w // 2))
    planes = [frame_planes(f, grid) for f in frames]
    return _align_planes(planes, grid, reference, lk_iterations=lk_iterations,
                         lk_sigma=lk_sigma, motion_model=motion_model)


def _align_planes(planes: list, grid: TileGrid, reference: int, *,
                  lk_iterations: int = LK_ITERATIONS, lk_sigma: float = LK_SIGMA,
                  motion_model: str = "affine") -> Alignment:
    """:func:`align_burst` on the frames' padded planes (:func:`frame_planes`)."""
    h, w = grid.plane_shape
    p = grid.pad
    gains = equalising_gains(planes[reference][:, p:p + h, p:p + w])
    ref = _reference(grey_from_planes(planes[reference], gains), grid, lk_sigma,
                     motion_model == "affine")
    ny, nx = grid.n_tiles
    out = np.zeros((len(planes), ny, nx, 2))
    for z, p in enumerate(planes):
        if z != reference:
            out[z] = align_frames(ref, grey_from_planes(p, gains), grid,
                                  lk_iterations=lk_iterations, lk_sigma=lk_sigma,
                                  motion_model=motion_model)
    return Alignment(out, grid)
