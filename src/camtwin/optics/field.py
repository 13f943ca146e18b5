"""Field-dependent (shift-variant) blur and image geometry: distortion and lateral colour.

Shift-variant blur
------------------
The PSF is computed at an ``n × n`` grid of field points p_k spanning the image
(:class:`camtwin.optics.lens.AberrationSpec.field_samples`; one point if the lens is the same
everywhere). The image is the bilinear blend of the images blurred by each node's PSF:

    E'(λ, x) = Σ_k w_k(x) · (PSF_k(λ) ⊛ E(λ))(x),   w_k(x) = hat_y(y − y_k) · hat_x(x − x_k)

with hat functions that fall from 1 at the node to 0 at its neighbours, so Σ_k w_k = 1 and
the PSF seen at x is the bilinear interpolation of the node PSFs (Nagy & O'Leary, SIAM J.
Sci. Comput. 19(4), 1998, the "interpolated PSF" model). A uniform field stays uniform (each
PSF integrates to 1). Each term is only needed where w_k > 0, so node k convolves only its
support (± the PSF extent); the cost is ≈ 4 full-image FFT convolutions per band.

Each node's OTF comes from its pupil (:mod:`camtwin.optics.pupil`) at every band's own
wavelength — polychromatic blur before the sensor integrates over wavelength.

Geometry
--------
Distortion (Brown–Conrady, :class:`~camtwin.optics.lens.DistortionSpec`) and lateral colour
(:meth:`~camtwin.optics.lens.LensSpec.lateral_color_scale`) move image points: an ideal
point at normalised height ρ (full field = 1) lands at D(s(λ)·ρ). Each band is resampled at
the inverse map, ρ = D⁻¹(x_d)/s(λ), with bilinear interpolation (OpenCV ``remap``). The warp
carries irradiance unchanged (no area Jacobian): the lens's relative illumination is applied
afterwards, at the final image position, and is taken to include that effect, as the RI
curves of lens datasheets do.

A fisheye projection (:data:`~camtwin.optics.lens.PROJECTIONS`) is applied in the same
resampling: the scene arrives as the rectilinear image of the scene plane (r_u = v·tan θ),
the lens puts the angle θ at r_p = v·P(θ), and Brown–Conrady then describes the residual
distortion against that ideal projection, so the inverse map of an image point r_d is
r_p = D⁻¹(r_d), θ = P⁻¹(r_p/v), r_u = v·tan θ.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sfft

from ._kernels import multiply_otf_bilinear
from .lens import LensSpec
from .pupil import geometric_blur_radius_um, otf_grid, pupil_samples_for

_BAND_BATCH = 8


def _nodes(n: int, size: int) -> np.ndarray:
    return np.linspace(0.0, size - 1.0, n) if n > 1 else np.array([(size - 1) / 2.0])


def _hat(coord: np.ndarray, nodes: np.ndarray, k: int, step: float | None = None) -> np.ndarray:
    """Bilinear weight of node k at ``coord`` (1 everywhere for a single node of a
    one-node grid); ``step`` the node spacing when ``nodes`` is part of a larger grid."""
    if nodes.size == 1 and step is None:
        return np.ones_like(coord)
    step = nodes[1] - nodes[0] if step is None else step
    w = np.clip(1.0 - np.abs(coord - nodes[k]) / step, 0.0, 1.0)
    if k == 0:
        w[coord < nodes[0]] = 1.0
    if k == nodes.size - 1:
        w[coord > nodes[-1]] = 1.0
    return w


def field_points(shape, pitch_um: float, lens: LensSpec, full_field_um: float,
                 offset_um=(0.0, 0.0), grid_shape=None):
    """Field nodes as a list of ``(row, col, h, azimuth_rad)``: pixel position, normalised
    field height and azimuth of each PSF node (row-major, ``n × n`` or a single node).
    ``offset_um`` (dy, dx) is the position of the array centre relative to the optical
    axis (a crop of a larger image).

    ``grid_shape`` (H, W): the array is a window of an H × W image (same pitch) and takes
    that image's node grid — the nodes of the whole image whose interpolation support
    reaches into the window — so a window (or strip) interpolates the same PSFs at each
    point as the whole image does."""
    h_px, w_px = shape
    ab = lens.aberrations
    n = ab.field_samples if ab.field_dependent else 1
    if grid_shape is None or n == 1:
        ys, xs = _nodes(n, h_px), _nodes(n, w_px)
    else:
        def local(n_full: int, n_loc: int, off: float) -> np.ndarray:
            g = _nodes(n, n_full) - (n_full - 1) / 2.0 + (n_loc - 1) / 2.0 - off / pitch_um
            step = g[1] - g[0]
            keep = (g + step > 0) & (g - step < n_loc - 1)
            return g[keep]

        ys = local(int(grid_shape[0]), h_px, offset_um[0])
        xs = local(int(grid_shape[1]), w_px, offset_um[1])
    out = []
    for y in ys:
        for x in xs:
            dy = (y - (h_px - 1) / 2.0) * pitch_um + offset_um[0]
            dx = (x - (w_px - 1) / 2.0) * pitch_um + offset_um[1]
            out.append((y, x, math.hypot(dx, dy) / full_field_um, math.atan2(dy, dx)))
    return out, ys, xs


def apply_lens_blur(irradiance: np.ndarray, wavelengths_nm, pitch_um: float, lens: LensSpec,
                    full_field_um: float, *, workers: int = -1,
                    offset_um=(0.0, 0.0), pad_for_nm: float | None = None,
                    grid_shape=None) -> np.ndarray:
    """Blur (L, H, W) spectral irradiance with the lens's field-dependent pupil PSFs.

    Parameters
    ----------
    irradiance : ndarray float32 (L, H, W) [W·m⁻²·nm⁻¹]
    wavelengths_nm : (L,) band centres [nm]
    pitch_um : sample pitch of the image [µm]
    lens : LensSpec — aberrations, defocus and working f-number
    full_field_um : image height of the full field (h = 1) [µm]
    offset_um : (dy, dx) of the array centre from the optical axis [µm] (a crop)
    pad_for_nm : wavelength [nm] the reflected border is sized for (default: the longest
        of ``wavelengths_nm``); the streamed path passes its longest band so that a plane
        blurred alone gets the border the whole cube would.
    grid_shape : (H, W) of the whole image when the array is a window of it: the PSF nodes
        are the whole image's (:func:`field_points`), so the window interpolates the same
        field PSFs at each point.

    Returns
    -------
    ndarray float32 (L, H, W), same unit; negative FFT round-off clipped to 0.
    """
    n_bands, h, w = irradiance.shape
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    nw = lens.working_f_number
    nodes, ys, xs = field_points((h, w), pitch_um, lens, full_field_um, offset_um,
                                 grid_shape=grid_shape)
    coeffs = [lens.zernike_um(hn) for _, _, hn, _ in nodes]
    blur_um = max(geometric_blur_radius_um(c, nw) for c in coeffs)
    lam_pad = wl.max() if pad_for_nm is None else float(pad_for_nm)
    pad = int(np.ceil((6 * 1.22 * lam_pad * 1e-3 * nw + 1.5 * blur_um) / pitch_um)) + 1
    pad = min(pad, max(h, w))
    step_y = (ys[1] - ys[0]) if ys.size > 1 else h
    step_x = (xs[1] - xs[0]) if xs.size > 1 else w
    out = np.zeros((n_bands, h, w), dtype=np.float32)
    yy = np.arange(h, dtype=np.float64)
    xx = np.arange(w, dtype=np.float64)
    for b0 in range(0, n_bands, _BAND_BATCH):
        b1 = min(b0 + _BAND_BATCH, n_bands)
        padded = np.pad(irradiance[b0:b1], ((0, 0), (pad, pad), (pad, pad)), mode="symmetric")
        for (y_k, x_k, h_k, phi_k), c_k in zip(nodes, coeffs):
            iy = int(np.argmin(np.abs(ys - y_k)))
            ix = int(np.argmin(np.abs(xs - x_k)))
            r0 = 0 if ys.size == 1 else max(0, int(np.floor(y_k - step_y)) + 1)
            r1 = h if ys.size == 1 else min(h, int(np.ceil(y_k + step_y)))
            c0 = 0 if xs.size == 1 else max(0, int(np.floor(x_k - step_x)) + 1)
            c1 = w if xs.size == 1 else min(w, int(np.ceil(x_k + step_x)))
            if iy == 0:
                r0 = 0
            if iy == ys.size - 1:
                r1 = h
            if ix == 0:
                c0 = 0
            if ix == xs.size - 1:
                c1 = w
            block = padded[:, r0:r1 + 2 * pad, c0:c1 + 2 * pad]
            bh, bw = block.shape[1:]
            fh, fw = sfft.next_fast_len(bh, real=True), sfft.next_fast_len(bw, real=True)
            if (fh, fw) != (bh, bw):  # grow to the FFT size by reflection, never by zeros
                block = np.pad(block, ((0, 0), (0, fh - bh), (0, fw - bw)), mode="symmetric")
            spec = sfft.rfft2(block, workers=workers).astype(np.complex64, copy=False)
            # each band's own pupil sampling: a band's OTF does not depend on which other
            # bands share its FFT batch (the streamed path blurs bands or groups alone)
            grids = [otf_grid(c_k, float(lam), nw, samples=pupil_samples_for(c_k, float(lam)),
                              rotation_rad=phi_k) for lam in wl[b0:b1]]
            n_max = max(g[0].shape[0] for g in grids)  # centre smaller grids in zeros
            otf = np.stack([np.pad(g[0], n_max // 2 - g[0].shape[0] // 2) if
                            g[0].shape[0] != n_max else g[0] for g in grids])
            inv_dnu = np.array([1.0 / g[1] for g in grids], dtype=np.float32)
            fy = sfft.fftfreq(fh, d=pitch_um).astype(np.float32)
            fx = sfft.rfftfreq(fw, d=pitch_um).astype(np.float32)
            multiply_otf_bilinear(spec, fy, fx, otf.real.astype(np.float32),
                                  otf.imag.astype(np.float32), inv_dnu)
            blurred = sfft.irfft2(spec, s=(fh, fw), workers=workers)
            part = blurred[:, pad:pad + (r1 - r0), pad:pad + (c1 - c0)]
            wgt = (_hat(yy[r0:r1], ys, iy)[:, None] * _hat(xx[c0:c1], xs, ix)[None, :])
            out[b0:b1, r0:r1, c0:c1] += part * wgt.astype(np.float32)[None]
    np.maximum(out, 0.0, out=out)
    return out


def geometry_source(shape, pitch_um: float, lens: LensSpec, full_field_um: float,
                    offset_um=(0.0, 0.0), rows: slice = slice(None)):
    """Normalised ideal-image coordinates (xu, yu) float64 that every sample of an image of
    ``shape`` comes from (the inverse of :func:`forward_geometry`, module docstring), for
    the rows ``rows`` (to build the maps in strips)."""
    d = lens.distortion
    h, w = shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    k = pitch_um / full_field_um  # pixels → normalised field
    oy, ox = offset_um[0] / full_field_um, offset_um[1] / full_field_um  # centre, normalised
    r = np.arange(h, dtype=np.float64)[rows]
    yd, xd = np.meshgrid(r, np.arange(w, dtype=np.float64), indexing="ij")
    xn, yn = (xd - cx) * k + ox, (yd - cy) * k + oy
    if d.p1 == 0 and d.p2 == 0:
        # radial distortion: the inverse scales the distorted radius alone. The forward map
        # r_d = r_u·(1 + k₁r_u² + k₂r_u⁴) is tabulated on INVERT_TABLE_SAMPLES radii and
        # inverted by interpolation (error ~1e-10, the fixed-point solver's tolerance); no
        # iteration; beyond the largest r_d the lens reaches (strong barrel distortion turns
        # over past full field) the ray keeps the edge's r_u/r_d ratio instead of diverging.
        rd = np.hypot(xn, yn)
        rd_max = float(rd.max(initial=0.0)) + 1e-12
        top = rd_max
        for _ in range(40):  # r_u range that reaches rd_max (barrel: r_u > r_d)
            if top * (1 + d.k1 * top**2 + d.k2 * top**4) >= rd_max or top > 50:
                break
            top *= 1.25
        ru_t = np.linspace(0.0, top, INVERT_TABLE_SAMPLES)
        rd_t = ru_t * (1 + d.k1 * ru_t**2 + d.k2 * ru_t**4)
        rising = np.flatnonzero(np.diff(rd_t) <= 0)
        n = rising[0] + 1 if rising.size else rd_t.size
        ratio = np.ones(n)
        ratio[1:] = ru_t[1:n] / rd_t[1:n]
        scale = np.interp(rd, rd_t[:n], ratio)
        xu, yu = xn * scale, yn * scale
    else:
        xu, yu = d.invert(xn, yn)
    if not lens.rectilinear:  # ideal projection r_p → rectilinear r_u = v·tan(P⁻¹(r_p/v))
        r_mm = np.hypot(xu, yu) * (full_field_um * 1e-3)
        theta = np.minimum(lens.field_angle_rad(r_mm), np.radians(89.5))
        with np.errstate(invalid="ignore", divide="ignore"):
            stretch = np.where(r_mm > 1e-15, lens.image_distance_mm * np.tan(theta) / r_mm, 1.0)
        xu, yu = xu * stretch, yu * stretch
    return xu, yu


#: Radii of the table on which a radial distortion is inverted (:func:`geometry_source`).
INVERT_TABLE_SAMPLES = 65537


def warp_maps(xu, yu, scale: float, shape, pitch_um: float, full_field_um: float,
              offset_um=(0.0, 0.0)):
    """OpenCV ``remap`` maps (map_x, map_y) float32 in samples of the source image for
    the ideal coordinates (xu, yu) of :func:`geometry_source` at lateral-colour scale s."""
    h, w = shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    k = pitch_um / full_field_um
    oy, ox = offset_um[0] / full_field_um, offset_um[1] / full_field_um
    return ((cx + (xu / scale - ox) / k).astype(np.float32),
            (cy + (yu / scale - oy) / k).astype(np.float32))


def remap_plane(plane: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Bilinear resampling of one (H, W) plane at (map_x, map_y), mirrored border
    (OpenCV ``BORDER_REFLECT``): the resampling step of :func:`warp_geometry`."""
    import cv2

    return cv2.remap(np.ascontiguousarray(plane, dtype=np.float32), map_x, map_y,
                     interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def warp_geometry(irradiance: np.ndarray, wavelengths_nm, pitch_um: float, lens: LensSpec,
                  full_field_um: float, offset_um=(0.0, 0.0)) -> np.ndarray:
    """Apply distortion and lateral colour to (L, H, W) irradiance (see module docstring).

    ``offset_um`` (dy, dx): position of the array centre relative to the optical axis.
    Returns the input unchanged (same object) when the lens has neither.
    """
    scale = lens.lateral_color_scale(wavelengths_nm, full_field_um * 1e-3)
    if not lens.moves_points and np.all(scale == 1.0):
        return irradiance
    shape = irradiance.shape[1:]
    xu, yu = geometry_source(shape, pitch_um, lens, full_field_um, offset_um)
    out = np.empty_like(irradiance, dtype=np.float32)
    for b, s in enumerate(scale):
        out[b] = remap_plane(irradiance[b], *warp_maps(xu, yu, s, shape, pitch_um,
                                                       full_field_um, offset_um))
    return out


def forward_geometry(y_um, x_um, lens: LensSpec, full_field_um: float):
    """Where the lens puts points (y_um, x_um) [µm from the axis] of the ideal rectilinear
    image of the scene plane: the projection r_p = v·P(atan(r_u/v)), then Brown–Conrady
    distortion — the forward map whose inverse :func:`warp_geometry` resamples with."""
    y = np.asarray(y_um, dtype=np.float64)
    x = np.asarray(x_um, dtype=np.float64)
    if not lens.rectilinear:
        r_mm = np.hypot(x, y) * 1e-3
        with np.errstate(invalid="ignore", divide="ignore"):
            shrink = np.where(r_mm > 1e-15, lens.image_height_mm(
                np.arctan(r_mm / lens.image_distance_mm)) / r_mm, 1.0)
        y, x = y * shrink, x * shrink
    xd, yd = lens.distortion.apply(x / full_field_um, y / full_field_um)
    return yd * full_field_um, xd * full_field_um


def relative_illumination_map(shape, pitch_um: float, lens: LensSpec,
                              full_field_um: float, offset_um=(0.0, 0.0), *,
                              rows: slice | None = None) -> np.ndarray:
    """Relative illumination (H, W) float32 of the lens: cos⁴θ_CRA × mechanical vignetting
    (:meth:`LensSpec.relative_illumination`), optical axis at the array centre shifted by
    ``offset_um`` (dy, dx).

    RI depends on the image height only: it is evaluated on :data:`RI_TABLE_SAMPLES` radii
    from 0 to the farthest sample and interpolated linearly (error < 1e-7 for the smooth
    falloff, below float32 resolution), in row strips — a 48 MP map costs one table and one
    interpolation instead of the lens model on every sample. ``rows`` (a slice) evaluates
    only those rows of the map — bit-identical to slicing the whole map (same table), for
    row-strip processing (:mod:`camtwin.isp.strips`)."""
    y = (np.arange(shape[0], dtype=np.float64) - (shape[0] - 1) / 2.0) * pitch_um + offset_um[0]
    x = (np.arange(shape[1], dtype=np.float64) - (shape[1] - 1) / 2.0) * pitch_um + offset_um[1]
    r_max_mm = float(np.hypot(np.abs(y).max(), np.abs(x).max())) * 1e-3
    grid = np.linspace(0.0, r_max_mm * (1 + 1e-9) + 1e-12, RI_TABLE_SAMPLES)
    table = lens.relative_illumination(grid, full_field_um * 1e-3)
    if rows is not None:
        y = y[rows]
    out = np.empty((len(y), shape[1]), dtype=np.float32)
    x2 = (x * 1e-3) ** 2
    step = max(1, 4_000_000 // max(1, shape[1]))
    for r0 in range(0, len(y), step):
        r_mm = np.sqrt((y[r0:r0 + step, None] * 1e-3) ** 2 + x2[None, :])
        out[r0:r0 + step] = np.interp(r_mm, grid, table)
    return out


#: Radii at which :func:`relative_illumination_map` evaluates the lens model.
RI_TABLE_SAMPLES = 16385
