"""Pixel-level optics below the lens: inter-pixel crosstalk and chief-ray-angle (CRA) loss.

Both act on the mosaiced photo-electron rate in :func:`camtwin.sensor.capture` — CRA first
(light the microlens fails to deliver), then crosstalk (charge that ends up next door)::

    rate = apply_crosstalk(rate * cra_map(sensor, lens), sensor)

Crosstalk
---------
A fraction f of the photo-charge generated under a pixel is collected by its four nearest
neighbours (f/4 each): optical crosstalk (light crossing the pixel boundary in the stack or
the silicon) plus diffusion crosstalk (carriers generated outside a depletion region that
wander sideways). The 3×3 kernel is ``[[0, f/4, 0], [f/4, 1 − f, f/4], [0, f/4, 0]]``; it
sums to 1, so charge is conserved.

Default f (for green light, at the reference pitch 1.4 µm; ``pixel.crosstalk_fraction``
overrides it, pitch scaling included):

* BSI without DTI: 0.10 — blue/green is absorbed at the back surface, ≈3 µm away from the
  front-side junction, and diffuses sideways on the way; the worst case.
* BSI with DTI: 0.05 — backside DTI halves crosstalk (Kitamura et al., IEDM 2012, 1.12 µm
  pixel: "about 50 % reduction"; their 1.12 µm DTI pixel beats a 1.4 µm non-DTI one).
* FSI: 0.07 — light is absorbed next to the junction (little diffusion for green) but the
  tall stack leaks light sideways; between the two BSI cases. The DTI flag is ignored
  (FSI pixels use shallow trench isolation).

These are engineering estimates consistent with the relative figures above, not
measurements of a given part. f grows as the pitch p shrinks, ``f(p) = f_ref · 1.4 µm / p``
(capped at 0.5): the charge that crosses a boundary comes from a strip of roughly fixed
width (the lateral diffusion length / optical spill) along the perimeter, and perimeter /
area = 4/p. Anzagira & Fossum (JOSA A 32(1), 2015) discuss the steep growth of crosstalk
in sub-micron pixels.

Crosstalk depends on wavelength, in opposite directions for the two architectures:

* BSI: short wavelengths are absorbed at the back surface, far from the front-side
  collection region, so they diffuse the furthest; red/NIR is generated throughout the
  layer, on average closer to the junction. Blue crosstalk > red (without DTI).
* FSI: blue is absorbed next to the junction; red/NIR is generated deep in the epi (and
  the substrate) and diffuses up and sideways. Red crosstalk > blue.

:func:`crosstalk_spectral_factor` models this as ``g(λ) = ½ + ½ · D(λ)/D(550 nm)``: half of
the crosstalk (optical) is flat, half (diffusion) scales with the mean vertical distance D a
carrier travels to the junction — ``d − z̄`` for BSI, ``z̄`` for FSI, z̄ the mean generation
depth of the absorbed photons within the collection depth d. The per-channel fraction is
f · ⟨g⟩_c, averaged over the channel's QE (equal-energy light); :func:`apply_crosstalk`
uses one kernel per channel of the *source* pixel. NIR optical crosstalk from light that
crosses thin BSI silicon and reflects off the front-side metal is not modelled.

Chief-ray angle
---------------
A thin lens focused at distance s has image distance v = f (1 + m); the chief ray to image
height r arrives at θ(r) = atan(r / v). A lens with a design chief-ray angle θ_c at full
field (``lens.cra_full_field_deg``, typical of non-telecentric phone lenses: 25–35°) has
tan θ(r) = tan θ_c · r / r_full (:meth:`camtwin.optics.LensSpec.chief_ray_angle_deg`).
Microlenses are shifted towards the optical axis so
that each pixel accepts a design angle θ_d(r); for a linear shift designed for the corner
CRA θ_c (``pixel.design_cra_deg``) at the half diagonal r_c: tan θ_d(r) = tan θ_c · r / r_c.
``design_cra_deg = None`` means matched to the lens (θ_d = θ, no loss). The relative QE for
a mismatch Δθ = θ − θ_d is a Gaussian ``exp(−Δθ² / (2σ²))``, σ = ``cra_tolerance_deg``
(default BSI 20°, FSI 12°: the short BSI stack is more tolerant, see
:data:`camtwin.sensor.pixel.ARCHITECTURE_DEFAULTS`). It is taken independent of wavelength.
The cos⁴ relative illumination of the lens is separate (:mod:`camtwin.optics`).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ..errors import ConfigError
from ..raw.cfa import cfa_channel_index
from .qe import silicon_absorption_cm

#: Pitch [µm] at which the architecture default crosstalk fractions apply.
CROSSTALK_REFERENCE_PITCH_UM = 1.4

#: Default neighbour fraction at the reference pitch (green light): (illumination, DTI) → f.
CROSSTALK_DEFAULTS = {("bsi", False): 0.10, ("bsi", True): 0.05,
                      ("fsi", False): 0.07, ("fsi", True): 0.07}

#: Upper bound of the neighbour fraction (a pixel keeps at least half its charge).
MAX_CROSSTALK_FRACTION = 0.5

_REFERENCE_NM = 550.0


def crosstalk_fraction(sensor) -> float:
    """Fraction of a pixel's photo-charge (green light) collected by its 4 neighbours.

    ``sensor.pixel.crosstalk_fraction`` if given (used as is), else the architecture
    default of :data:`CROSSTALK_DEFAULTS` × 1.4 µm / pitch, capped at 0.5.
    """
    px = sensor.pixel
    if px.crosstalk_fraction is not None:
        return float(px.crosstalk_fraction)
    f_ref = CROSSTALK_DEFAULTS[(sensor.illumination, bool(px.deep_trench_isolation))]
    return float(min(MAX_CROSSTALK_FRACTION,
                     f_ref * CROSSTALK_REFERENCE_PITCH_UM / sensor.pixel_pitch_um))


def _kernel(f: float) -> np.ndarray:
    k = np.zeros((3, 3), dtype=np.float64)
    k[0, 1] = k[2, 1] = k[1, 0] = k[1, 2] = f / 4.0
    k[1, 1] = 1.0 - f
    return k.astype(np.float32)


def _mean_depth_um(alpha_um: np.ndarray, d_um: float) -> np.ndarray:
    """Mean absorption depth of the photons absorbed within [0, d] [µm]."""
    x = alpha_um * d_um
    safe = np.where(x > 1e-9, x, 1.0)
    mean = np.where(x > 1e-9, 1.0 / np.where(alpha_um > 0, alpha_um, 1.0)
                    - d_um * np.exp(-safe) / -np.expm1(-safe), d_um / 2.0)
    return np.clip(mean, 0.0, d_um)


def crosstalk_spectral_factor(wavelengths_nm, pixel, illumination: str) -> np.ndarray:
    """Relative crosstalk vs wavelength, 1 at 550 nm: ``½ + ½·D(λ)/D(550 nm)``.

    D = mean vertical distance to the collecting junction: ``d − z̄(λ)`` for BSI (light
    enters at the back), ``z̄(λ)`` for FSI; z̄ = mean absorption depth within the epi d.
    """
    if illumination not in ("bsi", "fsi"):
        raise ConfigError(f"illumination = {illumination!r}: must be 'bsi' or 'fsi'")
    d = float(pixel.epi_thickness_um)
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    alpha = silicon_absorption_cm(np.append(wl, _REFERENCE_NM)) * 1e-4
    z = _mean_depth_um(alpha, d)
    dist = d - z if illumination == "bsi" else z
    return 0.5 + 0.5 * dist[:-1] / dist[-1]


@functools.lru_cache(maxsize=64)
def channel_crosstalk_fractions(sensor) -> tuple[float, ...]:
    """Neighbour fraction per CFA channel (``sensor.channels`` order), read-only tuple.

    ``f · ⟨g⟩_c`` with g from :func:`crosstalk_spectral_factor` averaged over the channel's
    photon-counting QE weights for equal-energy light; each capped at 0.5. An explicit
    ``pixel.crosstalk_fraction`` is the value for green light, scaled the same way.
    """
    from .response import electron_weights

    f = crosstalk_fraction(sensor)
    wl = np.arange(380.0, 1000.0 + 1e-9, 5.0)
    w = electron_weights(sensor, wl)  # (L, C)
    g = crosstalk_spectral_factor(wl, sensor.pixel, sensor.illumination)
    tot = w.sum(axis=0)
    mean_g = np.where(tot > 0, (g[:, None] * w).sum(axis=0) / np.where(tot > 0, tot, 1.0), 1.0)
    return tuple(float(min(MAX_CROSSTALK_FRACTION, f * m)) for m in mean_g)


@functools.lru_cache(maxsize=64)
def flat_field_mixing(sensor) -> np.ndarray:
    """Channel mixing of crosstalk under uniform light, (C, C) float64 (read-only).

    In a flat field every pixel of channel c' carries the same signal s_c'; after
    crosstalk the mean signal of the channel-c pixels is ``Σ_c' M[c, c'] s_c'`` with

        M[c, c'] = (1 − f_c)·δ_cc' + ⟨Σ_{n ∈ N4(p)} (f_c'/4)·[ch(n) = c']⟩_{p ∈ c}

    (f per channel from :func:`channel_crosstalk_fractions`, ⟨·⟩ the mean over the
    channel-c pixels of one CFA period). Rows need not sum to 1; columns, weighted by the
    channel's pixel share, do (charge is conserved). The colour characterisation
    (:mod:`camtwin.sensor.characterize`) uses it so that white balance and colour matrices
    describe the sensor as it really responds, crosstalk included.
    """
    f = np.asarray(channel_crosstalk_fractions(sensor), dtype=np.float64)
    n = len(f)
    idx = cfa_channel_index(sensor.cfa, (8, 8))  # 8 is a multiple of every CFA period
    m = np.zeros((n, n))
    for c in range(n):
        m[c, c] += (1.0 - f[c]) * np.count_nonzero(idx == c)
    for axis in (0, 1):
        for shift in (1, -1):
            nb = np.roll(idx, shift, axis=axis)  # periodic tile: the neighbour's channel
            np.add.at(m, (idx.ravel(), nb.ravel()), f[nb.ravel()] / 4.0)
    m /= np.bincount(idx.ravel(), minlength=n)[:, None]
    m.setflags(write=False)
    return m


def crosstalk_kernel(sensor, channel: str | None = None) -> np.ndarray:
    """3×3 crosstalk kernel, float32, sums to 1 (centre 1 − f, four neighbours f/4 each).

    Parameters
    ----------
    sensor : SensorSpec
    channel : str, optional
        A channel of ``sensor.channels``: the kernel for charge generated under a pixel of
        that colour (:func:`channel_crosstalk_fractions`). Default: the green-light kernel
        (:func:`crosstalk_fraction`).

    Examples
    --------
    >>> from camtwin.sensor import SensorSpec
    >>> s = SensorSpec(width_px=8, height_px=8, pixel_pitch_um=1.4, full_well_e=5000,
    ...                conversion_gain_dn_per_e=0.5, read_noise_e=2, illumination="bsi",
    ...                pixel={"deep_trench_isolation": False})
    >>> crosstalk_kernel(s).astype(float).round(3).tolist()
    [[0.0, 0.025, 0.0], [0.025, 0.9, 0.025], [0.0, 0.025, 0.0]]
    """
    if channel is None:
        return _kernel(crosstalk_fraction(sensor))
    if channel not in sensor.channels:
        raise ConfigError(f"channel {channel!r} is not in this sensor's CFA "
                          f"({', '.join(sensor.channels)})")
    return _kernel(channel_crosstalk_fractions(sensor)[sensor.channels.index(channel)])


def _spread(img: np.ndarray, f: float) -> np.ndarray:
    """Scatter f/4 of every pixel to each 4-neighbour; charge that would leave the array
    stays in its pixel (the charge of the whole array is conserved exactly)."""
    out = cv2.filter2D(img, -1, _kernel(f), borderType=cv2.BORDER_CONSTANT)
    q = np.float32(f / 4.0)
    out[0, :] += q * img[0, :]
    out[-1, :] += q * img[-1, :]
    out[:, 0] += q * img[:, 0]
    out[:, -1] += q * img[:, -1]
    return out


def apply_crosstalk(photo_rate, sensor) -> np.ndarray:
    """Redistribute photo-charge between neighbouring pixels.

    Parameters
    ----------
    photo_rate : array_like, shape (H, W)
        Mosaiced photo-electron rate [e⁻/s] (or electrons), each pixel behind its own filter.
    sensor : SensorSpec
        Gives the crosstalk fraction per CFA channel (:func:`channel_crosstalk_fractions`).

    Returns
    -------
    ndarray of float32, shape (H, W)
        ``Σ_c K_c ⊛ (rate · [channel = c])`` — each pixel's charge spread with the kernel of
        its own channel. Sum over the array equals the input sum (charge that would leave
        the array at the border stays in the edge pixel). Same unit as the input.

    Notes
    -----
    With a single channel (mono) this is one ``cv2.filter2D`` call; with C channels, C
    calls (a few ms for 10⁷ pixels).
    """
    img = np.asarray(photo_rate, dtype=np.float32)
    if img.ndim != 2:
        raise ConfigError(f"photo_rate must be a 2-D mosaic, got shape {img.shape}")
    fractions = channel_crosstalk_fractions(sensor)
    if len(set(fractions)) == 1:
        return _spread(img, fractions[0]) if fractions[0] > 0 else img.copy()
    idx = cfa_channel_index(sensor.cfa, img.shape)
    out = np.zeros_like(img)
    for ch, f in enumerate(fractions):
        part = np.where(idx == ch, img, np.float32(0))
        out += _spread(part, f) if f > 0 else part
    return out


# --- chief-ray angle -------------------------------------------------------------------------

def cra_tolerance_deg(sensor) -> float:
    """σ [°] of the Gaussian CRA loss: ``pixel.cra_tolerance_deg`` or the architecture default."""
    return sensor.pixel.resolved(sensor.illumination, "cra_tolerance_deg")


def cra_relative_qe(theta_deg, sensor) -> np.ndarray:
    """Relative QE (0..1) for a chief ray arriving ``theta_deg`` [°] away from the angle
    the pixel's microlens is designed for: ``exp(−θ² / (2σ²))``, σ from
    :func:`cra_tolerance_deg`. Even in θ; 1 at θ = 0; NaN stays NaN.
    """
    th = np.asarray(theta_deg, dtype=np.float64)
    s = cra_tolerance_deg(sensor)
    return np.exp(-0.5 * (th / s) ** 2)


def image_distance_mm(lens) -> float:
    """Thin-lens image distance v_s [mm]: the lens-to-sensor distance for its focus setting
    (``lens.image_distance_mm``; = f (1 + m) when focused on the scene)."""
    return lens.image_distance_mm


def chief_ray_angle_deg(image_height_mm, lens, full_field_mm: float | None = None) -> np.ndarray:
    """Chief-ray angle [°] at image height r [mm], from the lens's CRA model.

    Thin lens (``lens.cra_full_field_deg is None``): ``atan(r / v_s)``. A lens with a design
    CRA: ``atan(tan θ_c · r / r_full)`` with r_full = ``lens.image_circle_mm / 2`` or, if the
    lens does not give it, ``full_field_mm`` (e.g. the sensor's half-diagonal).
    """
    if lens.cra_full_field_deg is not None and not lens.image_circle_mm and full_field_mm is None:
        raise ConfigError("lens.cra_full_field_deg needs the full-field image height: set "
                          "lens.image_circle_mm or pass full_field_mm")
    return lens.chief_ray_angle_deg(image_height_mm, lens.full_field_mm(full_field_mm or 1.0))


@functools.lru_cache(maxsize=16)
def _cra_map_cached(sensor, lens, offset_px=(0.0, 0.0), full_sensor_px=None) -> np.ndarray:
    h, w = sensor.height_px, sensor.width_px
    pitch_mm = sensor.pixel_pitch_um * 1e-3
    y = (((np.arange(h) + 0.5) - h / 2.0 + offset_px[0]) * pitch_mm).astype(np.float32)
    x = (((np.arange(w) + 0.5) - w / 2.0 + offset_px[1]) * pitch_mm).astype(np.float32)
    r2 = y[:, None] ** 2 + x[None, :] ** 2  # squared image height of each pixel [mm²]
    if full_sensor_px is None:
        r_corner = 0.5 * np.hypot(sensor.height_mm, sensor.width_mm)
    else:
        r_corner = 0.5 * np.hypot(full_sensor_px[0], full_sensor_px[1]) * pitch_mm
    a = lens.cra_tan_per_mm(lens.full_field_mm(r_corner))           # tan θ = a·r
    b = np.tan(np.radians(sensor.pixel.design_cra_deg)) / r_corner   # tan θ_d = b·r
    # θ − θ_d = atan((a − b)·r / (1 + a·b·r²))  (difference of two arctangents)
    diff = np.arctan(np.float32(a - b) * np.sqrt(r2) / (np.float32(1.0) + np.float32(a * b) * r2))
    sigma = np.float32(np.radians(cra_tolerance_deg(sensor)))
    out = np.exp(np.float32(-0.5) * (diff / sigma) ** 2).astype(np.float32, copy=False)
    out.setflags(write=False)
    return out


def cra_map(sensor, lens, *, offset_px=(0.0, 0.0), full_sensor_px=None) -> np.ndarray:
    """Relative QE per pixel from the chief-ray-angle mismatch, shape (H, W) float32 (read-only).

    Parameters
    ----------
    sensor : SensorSpec
        Pixel grid (centred on the optical axis) and ``pixel.design_cra_deg`` /
        ``pixel.cra_tolerance_deg``.
    lens : LensSpec
        Focal length and focus distance give the image distance (module docstring).
    offset_px : (dy, dx)
        For a window of a larger sensor: the window centre's offset from the full sensor's
        centre [pixels] (the window sees the chief rays of its true field position).
    full_sensor_px : (H, W), optional
        The full sensor's size: the microlens shift is designed for *its* corner.

    Returns
    -------
    ndarray of float32, shape (height_px, width_px)
        1 on axis and everywhere when ``design_cra_deg`` is None (microlenses matched to the
        lens); otherwise ``exp(−(θ(r) − θ_d(r))² / (2σ²))``, values in (0, 1]. Cached per
        (sensor, lens, window).
    """
    if sensor.pixel.design_cra_deg is None:
        out = np.ones((sensor.height_px, sensor.width_px), dtype=np.float32)
        out.setflags(write=False)
        return out
    off = (float(offset_px[0]), float(offset_px[1]))
    full = None if full_sensor_px is None else (int(full_sensor_px[0]), int(full_sensor_px[1]))
    return _cra_map_cached(sensor, lens, off, full)
