"""Colour-correction matrices: fit camera RGB to linear sRGB from chart patches.

Convention everywhere: ``target ≈ camera @ M.T`` for (N, 3) rows of pixels, i.e. each
pixel is mapped as ``M @ rgb``; row i of M makes output channel i.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..regions import patch_means
from ..raw import RawFrame
from .spec import IspSpec


def _as_n3(name: str, a) -> np.ndarray:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 3:
        raise ConfigError(f"{name} must have shape (N, 3), got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"{name} contains NaN or infinite values")
    return x


def _sqrt_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
        raise ConfigError(f"weights must be {n} finite values >= 0 with a positive sum")
    return np.sqrt(w)


# Orthonormal basis of the plane {m : m·(1, 1, 1) = 0}: a white-preserving row is
# (1/3, 1/3, 1/3) + _NULL_BASIS @ y for free y ∈ R², so the constraint holds exactly.
_NULL_BASIS = np.linalg.svd(np.ones((1, 3)))[2][1:].T  # (3, 2)


def fit_ccm(camera_rgb, target_rgb, *, white_preserving: bool = True,
            weights=None) -> np.ndarray:
    """Least-squares 3×3 colour-correction matrix with ``target ≈ camera @ M.T``.

    Parameters
    ----------
    camera_rgb : array_like, shape (N, 3)
        Linear, white-balanced camera RGB of N patches.
    target_rgb : array_like, shape (N, 3)
        Linear target RGB (e.g. linear sRGB, white = (1, 1, 1)) of the same patches.
    white_preserving : bool
        If True, every row of M sums to 1 exactly, so a neutral camera input (c, c, c)
        maps to the neutral (c, c, c) — white balance is not undone by the CCM.
    weights : array_like, shape (N,), optional
        Non-negative per-patch weights of the squared residuals (default: all 1).

    Returns
    -------
    ndarray of float64, shape (3, 3)
        M minimising ``Σ_n w_n ‖target_n − M camera_n‖²`` (subject to the row sums).

    Raises
    ------
    ConfigError
        On bad shapes, non-finite values, bad weights, or patches that do not determine M
        (fewer than 3 — 2 when white preserving — linearly independent colours).

    Notes
    -----
    Rows are independent. The equality-constrained problem is solved exactly by
    substitution: each row is ``m = (1/3)(1, 1, 1) + Z y`` with Z an orthonormal basis of
    the plane orthogonal to (1, 1, 1), and y from an ordinary least-squares solve. There
    is no penalty weight, so the row sums are 1 to rounding error (~1e-16).

    References
    ----------
    G. D. Finlayson, M. S. Drew, "Constrained least-squares regression in color spaces",
    J. Electronic Imaging 6(4), 484–493 (1997) — white-point preserving regression.

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[1.5, -0.3, -0.2], [-0.2, 1.4, -0.2], [0.0, -0.5, 1.5]])
    >>> cam = np.random.default_rng(0).uniform(0.05, 1, (24, 3))
    >>> bool(np.allclose(fit_ccm(cam, cam @ M.T), M))
    True
    """
    cam = _as_n3("camera_rgb", camera_rgb)
    tgt = _as_n3("target_rgb", target_rgb)
    if cam.shape != tgt.shape:
        raise ConfigError(f"camera_rgb {cam.shape} and target_rgb {tgt.shape} differ in shape")
    n = cam.shape[0]
    sw = _sqrt_weights(weights, n)
    cam_w = cam * sw[:, None]
    tgt_w = tgt * sw[:, None]
    # rank threshold relative to the data scale (lstsq's own rcond is relative to the
    # projected matrix, which is ~1e-17 for all-grey patches and would pass)
    tol = 1e-12 * max(float(np.linalg.norm(cam_w, 2)), np.finfo(float).tiny)
    if white_preserving:
        # target_i − camera·(1/3) = (camera Z) y_i for each output channel i
        a = cam_w @ _NULL_BASIS                                   # (N, 2)
        b = tgt_w - cam_w.sum(axis=1, keepdims=True) / 3.0        # (N, 3)
        needed = 2
    else:
        a, b = cam_w, tgt_w
        needed = 3
    rank = int(np.sum(np.linalg.svd(a, compute_uv=False) > tol))
    if rank < needed:
        raise ConfigError(f"fit_ccm: the {n} patches do not determine the matrix (rank {rank} "
                          f"< {needed}); use more, differently coloured patches")
    sol = np.linalg.lstsq(a, b, rcond=None)[0]
    if white_preserving:
        m = (1.0 / 3.0 + (_NULL_BASIS @ sol)).T                   # rows = output channels
    else:
        m = sol.T                                                 # lstsq gives M.T
    return np.ascontiguousarray(m)


#: Linear sRGB → CIE XYZ (D65), IEC 61966-2-1:1999 eq. (F.6) / ITU-R BT.709 primaries.
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805],
                        [0.2126, 0.7152, 0.0722],
                        [0.0193, 0.1192, 0.9505]])


def ccm_from_color_matrix(xyz_to_camera) -> np.ndarray:
    """Camera RGB (white balanced) → linear sRGB matrix from a DNG ``ColorMatrix``.

    Parameters
    ----------
    xyz_to_camera : array_like, shape (3, 3)
        CIE XYZ → camera-native RGB (DNG ColorMatrix1/2 for a D65-like calibration
        illuminant; LibRaw's ``rgb_xyz_matrix``), any scale.

    Returns
    -------
    ndarray of float64, shape (3, 3)
        ``M = (N · C · S)⁻¹`` with ``C`` = ``xyz_to_camera``, ``S`` =
        :data:`SRGB_TO_XYZ` and ``N`` the diagonal matrix that makes every row of ``C·S``
        sum to 1. ``C·S`` maps linear sRGB to camera RGB; normalising its rows means the
        sRGB white (1, 1, 1) lands on the camera neutral (1, 1, 1) — which is what white
        balance produces from the scene white — so rows of M sum to 1 (white preserving).

    Raises
    ------
    ConfigError
        If the matrix is not 3×3, not finite, has a row summing to ≤ 0 after the product,
        or is singular.

    Notes
    -----
    This is how dcraw/LibRaw build their ``rgb_cam`` matrix (``cam_xyz_coeff``), so a
    camtwin render with ``ccm: camera`` and LibRaw's ``postprocess(use_camera_wb=True)``
    agree up to demosaic and tone (``tests/test_isp_pipeline.py``).

    References
    ----------
    Adobe, *Digital Negative (DNG) Specification* 1.4, ch. 6 "Mapping camera color space
    to CIE XYZ space"; D. Coffin, *dcraw.c*, ``cam_xyz_coeff()``.
    """
    c = np.asarray(xyz_to_camera, dtype=np.float64)
    if c.shape != (3, 3) or not np.all(np.isfinite(c)):
        raise ConfigError(f"xyz_to_camera must be a finite 3×3 matrix, got shape {c.shape}")
    cam_rgb = c @ SRGB_TO_XYZ
    sums = cam_rgb.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        raise ConfigError(f"xyz_to_camera: rows of ColorMatrix·sRGB sum to "
                          f"{sums.ravel().round(6).tolist()}; need > 0")
    cam_rgb = cam_rgb / sums
    if abs(np.linalg.det(cam_rgb)) < 1e-9:
        raise ConfigError("xyz_to_camera is singular: no colour matrix can be derived")
    return np.linalg.inv(cam_rgb)


# Equal row sums of a 3×3 matrix flattened row-major: sum(row0) − sum(row1) = 0 and
# sum(row1) − sum(row2) = 0; _EQUAL_ROWS_BASIS (9, 7) spans the matrices satisfying both.
_EQUAL_ROWS = np.kron(np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0]]), np.ones((1, 3)))
_EQUAL_ROWS_BASIS = np.linalg.svd(_EQUAL_ROWS)[2][2:].T


def _exposure_scale(cam: np.ndarray, tgt: np.ndarray, weights) -> float:
    """k of the least-squares fit ``tgt ≈ cam @ (k M).T`` with rows of M summing to 1."""
    sw = _sqrt_weights(weights, len(cam))
    a = np.kron(np.eye(3), cam * sw[:, None])       # (3N, 9): one block per output channel
    b = (tgt * sw[:, None]).T.reshape(-1)           # (3N,): target channel 0, then 1, 2
    y = np.linalg.lstsq(a @ _EQUAL_ROWS_BASIS, b, rcond=None)[0]
    m_scaled = (_EQUAL_ROWS_BASIS @ y).reshape(3, 3)
    return float(m_scaled[0].sum())


def calibrate_ccm(raw: RawFrame, boxes: Sequence[Sequence[int]], target_linear_rgb,
                  spec: IspSpec = IspSpec(), *, white_preserving: bool = True,
                  weights=None, lens=None, sensor=None, shading_gain=None) -> np.ndarray:
    """Fit a CCM from a raw capture of a chart with known linear-sRGB patch colours.

    Runs the same front end as :func:`camtwin.isp.process` (black level → white balance
    per ``spec`` → highlight clip → demosaic), takes the patch means, scales them by a
    least-squares scalar so that exposure does not matter, and fits M with :func:`fit_ccm`.

    The scalar is ``k`` of the joint least-squares problem ``target ≈ k · M · camera`` with
    M white preserving (equivalently: fit ``M' = k M`` whose rows have one common, free sum
    k). The naive scalar ``Σ c·t / Σ c·c`` would be biased whenever M is not the identity —
    a white-preserving M cannot absorb a scale error — and would bias M by several per cent
    for a typical phone CCM. With ``white_preserving=False`` M absorbs any scale and the
    naive scalar is used.

    Parameters
    ----------
    raw : RawFrame
        Capture of the chart (patches must not be clipped).
    boxes : sequence of (row0, row1, col0, col1)
        Patch boxes in pixels, see :func:`patch_means`.
    target_linear_rgb : array_like, shape (N, 3)
        Reference linear sRGB of each patch (e.g. white patch ≈ 0.9).
    spec : IspSpec or PipelineSpec
        Settings of the front end (black level … denoise); use the same spec in
        ``process``.
    white_preserving, weights
        Passed to :func:`fit_ccm`.
    lens, sensor, shading_gain
        Inputs of the lens-shading stage, as for :func:`camtwin.isp.process`.

    Returns
    -------
    ndarray of float64, shape (3, 3)
        M for ``process(raw, spec, ccm=M)``.
    """
    tgt = _as_n3("target_linear_rgb", target_linear_rgb)
    if tgt.shape[0] != len(boxes):
        raise ConfigError(f"{len(boxes)} boxes but {tgt.shape[0]} target colours")
    from .pipeline import camera_rgb as front_end  # the front end shared with process()

    rgb, _, _ = front_end(raw, spec, lens=lens, sensor=sensor, shading_gain=shading_gain)
    cam = patch_means(rgb, boxes)
    denom = float(np.sum(cam * cam))
    if not denom > 0:
        raise ConfigError("calibrate_ccm: the patches are black; cannot normalise exposure")
    if white_preserving:
        scale = _exposure_scale(cam, tgt, weights)
    else:
        scale = float(np.sum(cam * tgt)) / denom
    if not scale > 0:
        raise ConfigError("calibrate_ccm: camera means and targets are anti-correlated; "
                          "check that boxes and target colours are in the same order")
    cam *= scale
    return fit_ccm(cam, tgt, white_preserving=white_preserving, weights=weights)
