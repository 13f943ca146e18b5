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
    Equivalent to filtering each colour plane (other colours zeroed) with the kernels
    ``[[0,1,0],[1,4,1],[0,1,0]]/4`` (G) and ``[[1,2,1],[2,4,2],[1,2,1]]/4`` (R, B); computed
    by one numba kernel (:func:`camtwin.isp._kernels.bilinear_kernel`) on a copy padded
    with ``BORDER_REFLECT_101``. Reflecting about the edge pixel preserves the 2×2 Bayer
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
    if min(m.shape) < 2:
        raise ConfigError(f"mosaic shape {m.shape}: Bayer demosaic needs at least 2×2 pixels")
    from ._kernels import bilinear_kernel

    out = np.empty(m.shape + (3,), dtype=np.float32)
    bilinear_kernel(_pad(np.ascontiguousarray(m), 1), _bayer_channels(cfa), out)
    return out


def _bayer_channels(cfa: str) -> np.ndarray:
    """(2, 2) int array: colour slot (0 = R, 1 = G, 2 = B) of each Bayer phase."""
    chan = np.empty((2, 2), dtype=np.int64)
    for r, c, ch in cfa_phases(cfa):
        chan[r, c] = ch
    return chan


def _bayer_like(cfa: str) -> bool:
    """2×2 tile with colour slots R, G, G, B in Bayer geometry — the four Bayer phases and
    RCCB (its clear channel sits in green's place, slot 1)."""
    lay = cfa_layout(cfa)
    if lay.period != (2, 2) or cfa == "mono":
        return False
    slots = {(r, c): ch for r, c, ch in cfa_phases(cfa)}
    if len(slots) != 4 or sorted(slots.values()) != [0, 1, 1, 2]:
        return False
    return slots[0, 0] == slots[1, 1] == 1 or slots[0, 1] == slots[1, 0] == 1


def _pad(m: np.ndarray, px: int) -> np.ndarray:
    return cv2.copyMakeBorder(m, px, px, px, px, cv2.BORDER_REFLECT_101)


def _check_mosaic(mosaic, min_size: int) -> np.ndarray:
    m = np.ascontiguousarray(mosaic, dtype=np.float32)
    if m.ndim != 2:
        raise ConfigError(f"mosaic must be a 2-D array, got shape {m.shape}")
    if min(m.shape) < min_size:
        raise ConfigError(f"mosaic shape {m.shape}: this demosaic method needs at least "
                          f"{min_size}×{min_size} pixels")
    return m


def demosaic_malvar2004(mosaic, cfa: str) -> np.ndarray:
    """Malvar–He–Cutler high-quality linear demosaicing (gradient-corrected bilinear).

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Linear mosaic, any unit; converted to float32. At least 3×3 pixels.
    cfa : str
        A Bayer phase (``"RGGB"``, ``"GRBG"``, ``"GBRG"``, ``"BGGR"``) or ``"RCCB"`` (the
        clear channel in green's place). ``"mono"`` is replicated; Quad Bayer and RGB-IR
        are demosaiced by :func:`demosaic_periodic`.

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        (R, G, B); measured samples kept exactly.

    Notes
    -----
    Each missing colour is the bilinear estimate plus a fraction of the Laplacian of the
    colour that *was* measured, with the paper's gains α = ½, β = ⅝, γ = ¾ folded into
    four 5×5 filters (Fig. 2 of the paper; c = centre, X1/X2 = the 4-neighbours at
    distance 1/2, D = the diagonal neighbours, H/V = their horizontal/vertical halves):

    * G at R/B: ``(4c + 2·X1 − X2)/8``
    * R at B and B at R: ``(6c + 2·D − 1.5·X2)/8``
    * R (B) at G where R (B) is the row neighbour: ``(5c + 4·H1 − H2 − D + ½·V2)/8``,
      transposed when it is the column neighbour.

    One fused numba kernel (:func:`camtwin.isp._kernels.malvar_kernel`) on a copy padded
    with ``BORDER_REFLECT_101`` (keeps the Bayer parity at the border). The filters have
    negative taps: outputs can leave the input range near edges (as in the paper).

    References
    ----------
    H. S. Malvar, L.-W. He, R. Cutler, "High-quality linear interpolation for demosaicing
    of Bayer-patterned color images", ICASSP 2004, vol. 3, pp. 485–488.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = demosaic_malvar2004(np.full((6, 6), 0.5, np.float32), "GRBG")
    >>> float(rgb.min()), float(rgb.max())
    (0.5, 0.5)
    """
    if not _bayer_like(cfa):
        return demosaic_bilinear(mosaic, cfa)
    m = _check_mosaic(mosaic, 3)
    from ._kernels import malvar_kernel

    out = np.empty(m.shape + (3,), dtype=np.float32)
    malvar_kernel(_pad(m, 2), _bayer_channels(cfa), out)
    return out


def demosaic_directional_ri(mosaic, cfa: str, *, radius: int = 2, eps: float = 1e-4,
                            eps_gradient: float = 1e-4) -> np.ndarray:
    """High-quality demosaicing: gradient-weighted directional green, then residual
    interpolation of red and blue.

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Linear mosaic, nominally in [0, 1] (``eps`` and ``eps_gradient`` are in that
        unit); converted to float32. At least 5×5 pixels.
    cfa : str
        A Bayer phase or ``"RCCB"`` (clear in green's place); ``"mono"`` is replicated,
        Quad Bayer and RGB-IR go to :func:`demosaic_periodic`.
    radius : int
        Half-width [px] of the guided-filter window of the residual interpolation (2 → 5×5).
    eps : float
        Guided-filter regulariser [unit²]: slopes ``a`` of windows whose green variance is
        below ~eps are shrunk towards 0.
    eps_gradient : float
        Floor [unit] of the directional activities (keeps the weights finite in flat areas).

    Returns
    -------
    ndarray of float32, shape (H, W, 3)
        (R, G, B); measured samples kept exactly.

    Notes
    -----
    1. **Green** (Hamilton & Adams 1997; Menon et al. 2007; Pekkucuksen & Altunbasak 2010):
       at R/B sites the horizontal and vertical second-order-corrected estimates
       ``G_H = ½(M[x−1] + M[x+1]) + ¼(2M[x] − M[x−2] − M[x+2])`` and ``G_V``; colour
       differences ``C_d = M − G_d``; gradients ``D_H = |C_H[x] − C_H[x+2]|`` (resp. rows);
       directional activities ``a_H``, ``a_V`` summed over Menon's 5×5 classifier window
       (eq. 7 of Menon et al.); ``G = (G_H/(a_H+ε)² + G_V/(a_V+ε)²)/(1/(a_H+ε)² +
       1/(a_V+ε)²)`` — GBTF's soft inverse-square weighting instead of Menon's hard
       decision, which avoids switching artefacts on oblique edges.
    2. **Red and blue** by residual interpolation (Kiku et al. 2013): a guided filter (He
       et al. 2010) with the full green plane as guide is fitted on the R (B) sites of
       every (2r+1)² window, ``a = cov(G, R)/(var(G) + ε)``, ``b = mean(R) − a·mean(G)``;
       the tentative estimate ``R̂ = ā·G + b̄`` (window means of a, b) leaves a residual
       ``R − R̂`` at the sites that is much smoother than the colour difference ``R − G``;
       it is interpolated bilinearly and added back.

    On scikit-image's astronaut, coffee, chelsea and rocket (RGGB, 10-px border excluded)
    the mean CPSNR is 36.40 dB, against 35.74 dB for colour-demosaicing's Menon (2007) and
    36.00 dB for LibRaw's AAHD (``tests/test_demosaic.py``, ``benchmarks/RESULTS.md``).
    Implemented as two float32 numba kernels: the green in bands of rows with band-local
    buffers, then R and B together streamed row by row through ring buffers (no full-size
    intermediates; output independent of the thread count); the float64 reference is
    :func:`camtwin.isp._reference.demosaic_ri_reference`.

    References
    ----------
    * J. F. Hamilton, J. E. Adams, "Adaptive color plan interpolation in single sensor
      color electronic camera", US patent 5,629,734 (1997).
    * D. Menon, S. Andriani, G. Calvagno, "Demosaicing with directional filtering and a
      posteriori decision", IEEE Trans. Image Process. 16(1), 132–141 (2007).
    * I. Pekkucuksen, Y. Altunbasak, "Gradient based threshold free color filter array
      interpolation", ICIP 2010, pp. 137–140.
    * D. Kiku, Y. Monno, M. Tanaka, M. Okutomi, "Residual interpolation for color image
      demosaicking", ICIP 2013, pp. 2304–2308.
    * K. He, J. Sun, X. Tang, "Guided image filtering", ECCV 2010.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = demosaic_directional_ri(np.full((8, 8), 0.25, np.float32), "BGGR")
    >>> bool(np.allclose(rgb, 0.25))
    True
    """
    if not _bayer_like(cfa):
        return demosaic_bilinear(mosaic, cfa)
    if not (isinstance(radius, (int, np.integer)) and 1 <= radius <= 8):
        raise ConfigError(f"radius = {radius!r}: must be an integer in 1..8")
    for name, v in (("eps", eps), ("eps_gradient", eps_gradient)):
        if not (np.isfinite(v) and v > 0):
            raise ConfigError(f"{name} = {v!r}: must be a finite number > 0")
    m = _check_mosaic(mosaic, 5)
    import numba

    from ._kernels import (HQ_BAND_ROWS, directional_green_kernel,
                           residual_interpolation_kernel)

    nchunks = numba.get_num_threads()

    chan = _bayer_channels(cfa)
    g = np.empty(m.shape, dtype=np.float32)
    directional_green_kernel(_pad(m, 4), chan == 1, np.float32(eps_gradient), HQ_BAND_ROWS,
                             nchunks, g)
    out = np.empty(m.shape + (3,), dtype=np.float32)
    # R and B together: rows (py, px) of their sites, output channels 0 and 2
    phases = np.array([np.argwhere(chan == ch)[0] for ch in (0, 2)], dtype=np.int64)
    channels = np.array([0, 2], dtype=np.int64)
    residual_interpolation_kernel(g, m, phases, channels, int(radius), np.float32(eps),
                                  nchunks, out)
    return out


#: Name → demosaicing function ``f(mosaic, cfa, **kwargs) -> (H, W, 3) float32``.
DEMOSAIC_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "bilinear": demosaic_bilinear,
    "malvar2004": demosaic_malvar2004,
    "directional_ri": demosaic_directional_ri,
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
