"""Demosaicing: CFA mosaic (H, W) → RGB image (H, W, 3).

Methods are registered by name in :data:`DEMOSAIC_METHODS`; :func:`demosaic` dispatches and
rejects unknown names with the list of valid ones. Every method has the signature
``method(mosaic, cfa, **kwargs) -> ndarray (H, W, 3) float32`` and handles every layout of
:data:`camtwin.raw.CFA_LAYOUTS`: the four Bayer phases, Quad Bayer, RGB-IR, RCCB and mono.

The output channels are the three colour slots of :mod:`camtwin.isp._cfa`: (R, G, B), or
(R, C, B) for RCCB (the pipeline then estimates G, see
:func:`camtwin.isp.stages.clear_to_green`); IR pixels of an RGB-IR mosaic are treated as
missing samples (the pipeline has already used them to remove the NIR from R, G, B).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ..errors import ConfigError, unknown_name
from ..raw import cfa_layout
from ._cfa import cfa_phases, interpolate_sites, interpolation_radius, slot_index

# Bilinear interpolation kernels (Losson et al. 2010, §2.2; the same kernels as
# colour_demosaicing.demosaicing_CFA_Bayer_bilinear). Applied to the mosaic with the other
# colours zeroed, they reproduce each measured sample and average the nearest neighbours.
_K_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float32) / np.float32(4)
_K_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / np.float32(4)


def demosaic_periodic(mosaic, cfa: str) -> np.ndarray:
    """Bilinear-style demosaicing of any periodic CFA by normalised convolution.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Linear mosaic, any unit. Converted to float32.
    cfa : str
        Any name of :data:`camtwin.raw.CFA_LAYOUTS` except ``"mono"``.

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        The three colour slots (R, G, B) — (R, C, B) for RCCB. Measured samples are kept
        exactly; a missing one is the tent-weighted mean of the slot's samples within a
        (2r+1)² window, r = :func:`~camtwin.isp._cfa.interpolation_radius` (the smallest
        radius whose samples surround every pixel with a centre of gravity within ¼ pixel:
        1 for Bayer, RCCB and RGB-IR's G; 2 for RGB-IR's R and B and Quad Bayer's G; 3 for
        Quad Bayer's R and B).

    Notes
    -----
    For a Bayer mosaic this equals :func:`demosaic_bilinear` away from the border (the
    radius-1 tent is the bilinear kernel). Quad Bayer is interpolated directly, every sample
    at its true position: the common alternative — swapping pixels inside each 4×4 tile to
    "remosaic" it into a Bayer pattern and running Bayer bilinear — displaces samples by one
    pixel and produces zipper artefacts at edges; 2×2 binning to a half-resolution Bayer
    mosaic (the sensor's low-light mode) is a capture setting, not a demosaic. Values stay
    within the input range (convex weights) and a constant mosaic stays constant, borders
    included (data and sample mask are reflected alike).

    References
    ----------
    H. Knutsson, C.-F. Westin, "Normalized and differential convolution", CVPR 1993.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = demosaic_periodic(np.full((8, 8), 0.5, np.float32), "QUADBAYER")
    >>> float(rgb.min()), float(rgb.max())
    (0.5, 0.5)
    """
    m = np.asarray(mosaic, dtype=np.float32)
    if m.ndim != 2:
        raise ConfigError(f"mosaic must be a 2-D array, got shape {m.shape}")
    if cfa_layout(cfa).channels == ("M",):
        return np.repeat(m[:, :, None], 3, axis=2)
    slots = slot_index(cfa, m.shape)
    out = np.empty(m.shape + (3,), dtype=np.float32)
    for s in range(3):
        out[:, :, s] = interpolate_sites(m, slots == s, interpolation_radius(cfa, s))
    return out


def demosaic_bilinear(mosaic, cfa: str) -> np.ndarray:
    """Bilinear demosaicing: classic kernels for Bayer, normalised convolution otherwise.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Linear mosaic, any unit (typically normalised raw, white balanced). Converted to
        float32.
    cfa : str
        ``"RGGB"``, ``"GRBG"``, ``"GBRG"``, ``"BGGR"`` (top-left 2×2), ``"mono"``, or any
        other layout of :data:`camtwin.raw.CFA_LAYOUTS` (handled by
        :func:`demosaic_periodic`).

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        (R, G, B) in the unit of ``mosaic`` ((R, C, B) for RCCB). Measured samples are kept
        exactly; missing Bayer ones are the mean of the 2 or 4 nearest same-colour
        neighbours. For ``"mono"`` the mosaic is replicated to three channels.

    Notes
    -----
    Each colour plane (other colours zeroed) is filtered with ``cv2.filter2D`` using
    ``BORDER_REFLECT_101``. Reflecting about the edge pixel preserves the 2×2 Bayer
    parity, so the borders are interpolated from true same-colour neighbours and a flat
    field stays flat up to the edge (for even and odd image sizes). Output values stay
    within the input range (convex weights).

    References
    ----------
    O. Losson, L. Macaire, Y. Yang, "Comparison of color demosaicing methods", Advances in
    Imaging and Electron Physics 162, 173–265 (2010), doi:10.1016/S1076-5670(10)62005-8.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = demosaic_bilinear(np.full((4, 4), 0.25, np.float32), "RGGB")
    >>> rgb.shape, float(rgb.min()), float(rgb.max())
    ((4, 4, 3), 0.25, 0.25)
    """
    m = np.asarray(mosaic, dtype=np.float32)
    if m.ndim != 2:
        raise ConfigError(f"mosaic must be a 2-D array, got shape {m.shape}")
    lay = cfa_layout(cfa)  # validates cfa
    if cfa == "mono":
        return np.repeat(m[:, :, None], 3, axis=2)
    if not lay.is_bayer:
        return demosaic_periodic(m, cfa)
    phases = cfa_phases(cfa)
    planes = [np.zeros_like(m) for _ in range(3)]
    for r, c, ch in phases:
        planes[ch][r::2, c::2] = m[r::2, c::2]
    out = [cv2.filter2D(plane, -1, _K_G if ch == 1 else _K_RB,
                        borderType=cv2.BORDER_REFLECT_101)
           for ch, plane in enumerate(planes)]
    return np.ascontiguousarray(cv2.merge(out)).reshape(m.shape + (3,))


#: Name → demosaicing function ``f(mosaic, cfa, **kwargs) -> (H, W, 3) float32``.
DEMOSAIC_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "bilinear": demosaic_bilinear,
}


def demosaic(mosaic, cfa: str, method: str = "bilinear", **kwargs) -> np.ndarray:
    """Demosaic ``mosaic`` with the named method from :data:`DEMOSAIC_METHODS`.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Linear mosaic.
    cfa : str
        CFA layout (any name of :data:`camtwin.raw.CFA_LAYOUTS`).
    method : str
        Key of :data:`DEMOSAIC_METHODS`.
    **kwargs
        Passed to the method.

    Returns
    -------
    ndarray of float32, shape (H, W, 3)

    Raises
    ------
    UnknownNameError
        (a :class:`ConfigError`) if ``method`` is not a known name; the message lists the
        valid choices.
    """
    fn = DEMOSAIC_METHODS.get(method) if isinstance(method, str) else None
    if fn is None:
        raise unknown_name("demosaic method", method, DEMOSAIC_METHODS)
    return fn(mosaic, cfa, **kwargs)
