"""Lens-shading (vignetting) correction: a per-pixel gain applied to the CFA mosaic.

The gain map ``g(x, y) ≥ 1`` undoes the fall-off of the signal towards the corners —
natural vignetting (cos⁴ law), the pixel's chief-ray-angle acceptance, mechanical
vignetting — and, when it is measured per colour, colour shading. It comes from one of:

* a **flat-field capture** (:func:`gain_from_flat_field`): a raw of a uniform, diffuse
  target; each CFA colour gets its own smooth gain (corrects colour shading too);
* a **relative-illumination map** (:func:`gain_from_relative_illumination`), e.g. the
  lens's cos⁴ law times the sensor's CRA acceptance (:func:`gain_from_lens`);
* a **gain-map file** (:func:`load_gain_map`): ``.npy`` or float TIFF, full size or any
  coarser grid (resized bilinearly), one plane or one per colour.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError
from ._cfa import cfa_period

#: Default largest gain [×]; more than 2 stops of correction would mostly amplify noise.
DEFAULT_MAX_GAIN = 4.0


def _check_gain(gain, shape=None) -> np.ndarray:
    g = np.asarray(gain, dtype=np.float32)
    if g.ndim != 2:
        raise ConfigError(f"shading gain map must be 2-D (H, W), got shape {g.shape}")
    if shape is not None and g.shape != tuple(shape):
        raise ConfigError(f"shading gain map shape {g.shape} differs from the mosaic "
                          f"{tuple(shape)}")
    if not np.all(np.isfinite(g)) or g.min() <= 0:
        raise ConfigError("shading gain map must be finite and > 0 everywhere")
    return g


def apply_shading_gain(mosaic, gain) -> np.ndarray:
    """Multiply the mosaic by the gain map: ``mosaic · gain`` (float32, new array).

    Parameters
    ----------
    mosaic : array_like, shape (H, W)
        Normalised mosaic (after :func:`camtwin.isp.stages.black_level`; the black level
        must be removed first or it would be amplified too).
    gain : array_like, shape (H, W)
        Per-pixel gain, finite and > 0.
    """
    m = np.asarray(mosaic, dtype=np.float32)
    if m.ndim != 2:
        raise ConfigError(f"mosaic must be a 2-D array, got shape {m.shape}")
    return cv2.multiply(m, _check_gain(gain, m.shape))


def gain_from_relative_illumination(relative_illumination, *,
                                    max_gain: float = DEFAULT_MAX_GAIN) -> np.ndarray:
    """Gain map ``min(1 / RI, max_gain)`` from a relative-illumination map.

    Parameters
    ----------
    relative_illumination : array_like, shape (H, W)
        Signal relative to the optical axis (1 on axis, < 1 towards the corners), e.g.
        :func:`camtwin.optics.relative_illumination_cos4`. Values ≤ 0 get ``max_gain``.
    max_gain : float ≥ 1
        Upper bound of the gain.

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    ri = np.asarray(relative_illumination, dtype=np.float32)
    if ri.ndim != 2:
        raise ConfigError(f"relative illumination must be 2-D, got shape {ri.shape}")
    _check_max_gain(max_gain)
    g = np.full(ri.shape, np.float32(max_gain), dtype=np.float32)
    ok = ri > np.float32(1.0 / max_gain)
    np.divide(np.float32(1), ri, out=g, where=ok)
    return g


def _check_max_gain(max_gain):
    if not (np.isfinite(max_gain) and max_gain >= 1):
        raise ConfigError(f"max_gain = {max_gain!r}: must be a finite number >= 1")


def gain_from_lens(shape, pixel_pitch_um: float, lens, sensor=None, *,
                   max_gain: float = DEFAULT_MAX_GAIN, offset_px=(0.0, 0.0),
                   full_sensor_px=None, rows: slice | None = None) -> np.ndarray:
    """Gain map of a module from its lens (and sensor) specs.

    Relative illumination = the lens's model — cos⁴ of the chief-ray angle × mechanical
    vignetting, :func:`camtwin.optics.relative_illumination_map` (the thin-lens
    :func:`~camtwin.optics.relative_illumination_cos4` with older optics) — × the sensor's
    chief-ray-angle acceptance (:func:`camtwin.sensor.cra_map`, when ``sensor`` is given and its
    shape matches); gain = its reciprocal, capped at ``max_gain``.

    Parameters
    ----------
    shape : (H, W)
        Mosaic shape [px]: the whole sensor (centred on the optical axis), or a window of
        a larger sensor placed by ``offset_px``.
    pixel_pitch_um : float
        Pixel pitch [µm].
    lens : LensSpec
        The module's lens.
    sensor : SensorSpec, optional
        The module's sensor (adds the CRA acceptance).
    max_gain : float ≥ 1
        Upper bound of the gain.
    offset_px : (dy, dx)
        Offset [px] of the mosaic's centre from the full sensor's centre (the optical
        axis), as :attr:`camtwin.crop.SensorWindow.offset_px`: a window gets the gain of its
        true field position.
    full_sensor_px : (H, W), optional
        Size of the full sensor a window belongs to: sets the full-field image height of
        the lens and the corner the microlens CRA design refers to (as
        :func:`camtwin.sensor.cra_map`). Default: ``shape``.
    rows : slice, optional
        Compute only these rows of the map (a row strip), equal to slicing the whole map.

    Returns
    -------
    ndarray of float32, shape (H, W) — or (len(rows), W)
    """
    if not (np.isfinite(pixel_pitch_um) and pixel_pitch_um > 0):
        raise ConfigError(f"pixel_pitch_um = {pixel_pitch_um!r}: lens-shading correction from "
                          "the lens needs the pixel pitch (> 0)")
    shape = tuple(int(n) for n in shape)
    pitch = float(pixel_pitch_um)
    dy, dx = float(offset_px[0]), float(offset_px[1])
    full = shape if full_sensor_px is None else tuple(int(n) for n in full_sensor_px)
    from ..optics import relative_illumination_map
    from ..optics.image import full_field_um

    ri = relative_illumination_map(shape, pitch, lens, full_field_um(full, pitch, lens),
                                   (dy * pitch, dx * pitch), rows=rows)
    ri = np.asarray(ri, dtype=np.float32)
    if sensor is not None and (sensor.height_px, sensor.width_px) == tuple(shape):
        from ..sensor import cra_map

        if rows is None:
            cra = cra_map(sensor, lens, offset_px=(dy, dx), full_sensor_px=full_sensor_px)
        else:  # the strip as a window of the frame: same pixel coordinates, no full map
            r0, r1, _ = rows.indices(shape[0])
            n = max(r1 - r0, 0)
            cra = cra_map(sensor.replace(height_px=n), lens,
                          offset_px=(dy + r0 + n / 2.0 - shape[0] / 2.0, dx),
                          full_sensor_px=full) if n else ri[:0]
        ri = ri * cra
    return gain_from_relative_illumination(ri, max_gain=max_gain)


def _poly_basis(t: np.ndarray, degree: int) -> np.ndarray:
    """Legendre polynomials P_0..P_degree at t ∈ [−1, 1], shape (len(t), degree + 1)."""
    return np.polynomial.legendre.legvander(t, degree)


def fit_smooth_surface(plane, degree: int = 6, *, max_samples: int = 64) -> np.ndarray:
    """Least-squares 2-D polynomial surface through a noisy, slowly varying image.

    ``S(x, y) = Σ_{i+j ≤ degree} c_ij P_i(x) P_j(y)`` (Legendre polynomials on the image
    normalised to [−1, 1]²), fitted to the plane averaged down to at most
    ``max_samples`` × ``max_samples`` cells (``cv2.INTER_AREA``), evaluated at every pixel.
    Unlike a low-pass filter it has no bias at the peak or in the corners for shading
    profiles, which are smooth; temporal noise and PRNU average out in the fit.
    """
    p = np.asarray(plane, dtype=np.float32)
    h, w = p.shape
    sh, sw = min(h, max_samples), min(w, max_samples)
    small = cv2.resize(p, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float64)
    # cell centres of the averaged grid, in the normalised coordinates of the full plane
    ty = ((np.arange(sh) + 0.5) * h / sh - 0.5) / max(h - 1, 1) * 2 - 1
    tx = ((np.arange(sw) + 0.5) * w / sw - 0.5) / max(w - 1, 1) * 2 - 1
    vy, vx = _poly_basis(ty, degree), _poly_basis(tx, degree)
    terms = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
    a = np.stack([np.outer(vy[:, i], vx[:, j]).ravel() for i, j in terms], axis=1)
    coef = np.linalg.lstsq(a, small.ravel(), rcond=None)[0]
    c = np.zeros((degree + 1, degree + 1))
    for (i, j), v in zip(terms, coef):
        c[i, j] = v
    fy = _poly_basis(np.linspace(-1, 1, h), degree)
    fx = _poly_basis(np.linspace(-1, 1, w), degree)
    return (fy @ c @ fx.T).astype(np.float32)


def gain_from_flat_field(flat_mosaic, cfa: str, *, degree: int = 6,
                         max_gain: float = DEFAULT_MAX_GAIN) -> np.ndarray:
    """Per-colour gain map from a normalised flat-field mosaic.

    Parameters
    ----------
    flat_mosaic : array_like, shape (H, W)
        Capture of a uniform diffuse target after :func:`~camtwin.isp.stages.black_level`
        (not clipped: every pixel below white).
    cfa : str
        CFA layout of the capture.
    degree : int in 2..10
        Total degree of the polynomial surface fitted to each colour plane
        (:func:`fit_smooth_surface`): removes the flat's temporal noise and PRNU, keeps
        the slow shading.
    max_gain : float ≥ 1
        Upper bound of the gain.

    Returns
    -------
    ndarray of float32, shape (H, W)
        For every position p of the CFA tile: ``max(S_p) / S_p`` with S_p the fitted
        surface of that position's plane — each colour (and each of Bayer's two greens, so
        a Gr/Gb imbalance goes too) is flattened to its own peak, so the colour balance at
        the brightest point (normally the centre) is unchanged and colour shading is
        removed.

    Raises
    ------
    ConfigError
        If a plane's fitted signal is not positive (dark or clipped flat).

    References
    ----------
    EMVA Standard 1288 Release 4.0 (2021), §8 (flat-field images); ISO 17957:2015,
    *Shading measurements*.
    """
    m = np.asarray(flat_mosaic, dtype=np.float32)
    if m.ndim != 2:
        raise ConfigError(f"flat-field mosaic must be 2-D, got shape {m.shape}")
    if not (isinstance(degree, (int, np.integer)) and 2 <= degree <= 10):
        raise ConfigError(f"degree = {degree!r}: must be an integer in 2..10")
    _check_max_gain(max_gain)
    ph, pw = cfa_period(cfa)
    out = np.empty(m.shape, dtype=np.float32)
    for r, c in ((r, c) for r in range(ph) for c in range(pw)):
        plane = m[r::ph, c::pw]
        smooth = fit_smooth_surface(plane, degree)
        peak = float(smooth.max())
        if not (peak > 0 and np.all(np.isfinite(smooth))):
            raise ConfigError("flat field: a colour plane has no positive signal (dark frame?)")
        out[r::ph, c::pw] = np.float32(peak) / np.maximum(smooth, np.float32(peak / max_gain))
    return out


def load_gain_map(path: str | os.PathLike, shape, cfa: str) -> np.ndarray:
    """Read a gain map (``.npy``, ``.tif``/``.tiff``) and bring it to the mosaic's shape.

    A 2-D map applies to every pixel; a 3-D map (h, w, 3) holds one gain per colour
    (R, G, B — RCCB: R, C, B) and each pixel takes its colour's plane. Maps of another
    size are resized bilinearly (``cv2.INTER_LINEAR``, pixel centres aligned), so a coarse
    grid — as ISPs store it — is fine.
    """
    from ._cfa import slot_index

    p = Path(path)
    try:
        if p.suffix.lower() == ".npy":
            g = np.load(p, allow_pickle=False)
        elif p.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            g = tifffile.imread(p)
        else:
            raise ConfigError(f"gain map {p}: extension must be .npy, .tif or .tiff")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read gain map {p}: {exc}") from None
    g = np.asarray(g, dtype=np.float32)
    h, w = shape
    if g.ndim == 2:
        g = g[:, :, None]
    if g.ndim != 3 or g.shape[2] not in (1, 3):
        raise ConfigError(f"gain map {p}: shape {g.shape}; need (h, w) or (h, w, 3)")
    if not np.all(np.isfinite(g)) or g.min() <= 0:
        raise ConfigError(f"gain map {p}: values must be finite and > 0")
    planes = [cv2.resize(np.ascontiguousarray(g[:, :, k]), (w, h),
                         interpolation=cv2.INTER_LINEAR) if g.shape[:2] != (h, w)
              else g[:, :, k] for k in range(g.shape[2])]
    if len(planes) == 1:
        return np.ascontiguousarray(planes[0])
    slots = np.minimum(slot_index(cfa, (h, w)), 2)  # IR pixels take the blue plane's gain
    return np.choose(slots, planes).astype(np.float32)
