"""Image formation: Scene (radiance) → OpticalImage (irradiance at the die).

Camera equation for a thin lens focused on the scene plane (Slater; ISETCam ``oiCompute``):

    E(λ, x') = π · L(λ, x) · T(λ) / (4 · N² · (1 + m)²) · RI(x')

L spectral radiance [W·sr⁻¹·m⁻²·nm⁻¹], T lens transmission (incl. IR-cut), N f-number,
m lateral magnification, RI the relative illumination (cos⁴ θ of the chief ray, tan θ =
r' / (f (1+m)) for a thin lens, × mechanical vignetting), E spectral irradiance
[W·m⁻²·nm⁻¹]. Image coordinates are x' = m·x (the inversion of a real image is undone, as
every camera does), moved by distortion and lateral colour if the lens has them. Then each
band is blurred at its own wavelength: by the analytic diffraction OTF
(:mod:`camtwin.optics.psf`) for a diffraction-limited lens, else by field-dependent pupil
PSFs (:mod:`camtwin.optics.field`, :mod:`camtwin.optics.pupil`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import fft as sfft

from ..scene.scene import Scene
from .lens import LensSpec
from ._kernels import multiply_diffraction_mtf

#: bands blurred per FFT batch (bounds memory: batch × padded image × 8 bytes)
_BAND_BATCH = 8


@dataclass(frozen=True, eq=False)
class OpticalImage:
    """Spectral irradiance at the sensor plane.

    Attributes
    ----------
    irradiance : ndarray float32, shape (L, H, W)
        Spectral irradiance [W·m⁻²·nm⁻¹]; the optical axis is at the array centre.
    wavelengths_nm : ndarray (L,)
    sample_pitch_um : float
        Sample spacing at the image plane [µm].
    lens : LensSpec
    scene_name, illuminant, illuminance_lux : scene metadata carried along.
    layout : dict
        Chart geometry (e.g. patch boxes) in fractions of the image width/height.
    """

    irradiance: np.ndarray
    wavelengths_nm: np.ndarray
    sample_pitch_um: float
    lens: LensSpec
    scene_name: str = ""
    illuminant: str | None = None
    illuminance_lux: float | None = None
    layout: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.irradiance.shape[1:]

    def scaled_to_illuminance(self, illuminance_lux: float) -> "OpticalImage":
        """The same optical image for the scene lit at ``illuminance_lux``.

        Exact: radiance is proportional to the illuminance (L = ρE/π) and every step of
        :func:`form_image` is linear in radiance, so the irradiance simply scales.
        """
        if self.illuminance_lux is None or not illuminance_lux > 0:
            raise ValueError("scaling needs a known, positive illuminance")
        factor = np.float32(illuminance_lux / self.illuminance_lux)
        return replace(self, irradiance=self.irradiance * factor,
                       illuminance_lux=float(illuminance_lux))

    @property
    def width_um(self) -> float:
        return self.irradiance.shape[2] * self.sample_pitch_um

    @property
    def height_um(self) -> float:
        return self.irradiance.shape[1] * self.sample_pitch_um

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from ..report.notebook import repr_png
        return repr_png(self)


def _centred_coords_um(n: int, pitch_um: float) -> np.ndarray:
    return (np.arange(n, dtype=np.float64) - (n - 1) / 2.0) * pitch_um


def relative_illumination_cos4(shape, pitch_um: float, lens: LensSpec) -> np.ndarray:
    """cos⁴θ natural vignetting map (H, W) of a thin lens, θ = atan(r / v_s)."""
    y = _centred_coords_um(shape[0], pitch_um)[:, None]
    x = _centred_coords_um(shape[1], pitch_um)[None, :]
    image_distance_um = lens.image_distance_mm * 1e3
    tan2 = (x * x + y * y) / image_distance_um**2
    return (1.0 / (1.0 + tan2) ** 2).astype(np.float32)


def _reflect_pad_into(src: np.ndarray, dst: np.ndarray, pad: int) -> None:
    """Write ``src`` (B, h, w) into ``dst`` (B, hp, wp) at offset ``pad`` and fill the border by
    mirror reflection (numpy ``mode="reflect"``), reusing ``dst`` to avoid page faults."""
    _, h, w = src.shape
    _, hp, wp = dst.shape
    nb, nr = hp - h - pad, wp - w - pad
    if max(pad, nb) >= h or max(pad, nr) >= w:  # image smaller than its border: let numpy do it
        dst[...] = np.pad(src, ((0, 0), (pad, nb), (pad, nr)), mode="reflect")
        return
    top, bottom, left, right = pad, pad + h, pad, pad + w
    dst[:, top:bottom, left:right] = src
    if pad:
        dst[:, :top, left:right] = dst[:, top + pad:top:-1, left:right]
    if nb:
        dst[:, bottom:, left:right] = dst[:, bottom - 2:bottom - 2 - nb:-1, left:right]
    if pad:
        dst[:, :, :left] = dst[:, :, left + pad:left:-1]
    if nr:
        dst[:, :, right:] = dst[:, :, right - 2:right - 2 - nr:-1]


def apply_diffraction(irradiance: np.ndarray, wavelengths_nm, pitch_um: float,
                      working_f_number: float, *, workers: int = -1,
                      pad_for_nm: float | None = None) -> np.ndarray:
    """Blur each band with its diffraction-limited OTF (FFT, reflect-padded), float32.

    The padding is 6 Airy radii (2.44·λ·N_w·6/2) at the longest wavelength (or at
    ``pad_for_nm``) so that the circular convolution does not wrap bright edges around.
    """
    n_bands, h, w = irradiance.shape
    lam_um = (np.asarray(wavelengths_nm, dtype=np.float32) * 1e-3)
    lam_pad = float(lam_um.max() if pad_for_nm is None
                    else (np.asarray([pad_for_nm], dtype=np.float32) * 1e-3)[0])
    pad = int(np.ceil(6 * 1.22 * lam_pad * working_f_number / pitch_um)) + 1
    hp, wp = sfft.next_fast_len(h + 2 * pad, real=True), sfft.next_fast_len(w + 2 * pad, real=True)
    fy = sfft.fftfreq(hp, d=pitch_um).astype(np.float32)
    fx = sfft.rfftfreq(wp, d=pitch_um).astype(np.float32)
    rho = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    out = np.empty_like(irradiance, dtype=np.float32)
    buf = np.empty((min(_BAND_BATCH, n_bands), hp, wp), dtype=np.float32)
    for b0 in range(0, n_bands, _BAND_BATCH):
        b1 = min(b0 + _BAND_BATCH, n_bands)
        block = buf[: b1 - b0]
        _reflect_pad_into(irradiance[b0:b1], block, pad)
        spec = sfft.rfft2(block, workers=workers)
        multiply_diffraction_mtf(spec, rho, lam_um[b0:b1], np.float32(working_f_number))
        blurred = sfft.irfft2(spec, s=(hp, wp), workers=workers)
        out[b0:b1] = blurred[:, pad:pad + h, pad:pad + w]
    np.maximum(out, 0.0, out=out)  # remove FFT round-off below zero
    return out


def full_field_um(shape, pitch_um: float, lens: LensSpec) -> float:
    """Image height of the full field [µm]: ``lens.image_circle_mm/2`` or the half-diagonal
    of an optical image of ``shape`` samples at ``pitch_um``."""
    return lens.full_field_mm(0.5 * np.hypot(shape[0], shape[1]) * pitch_um * 1e-3) * 1e3


def form_image(scene: Scene, lens: LensSpec, *, diffraction: bool = True,
               field_offset_um=(0.0, 0.0), full_field_um_override: float | None = None
               ) -> OpticalImage:
    """Scene → OpticalImage through ``lens``.

    Steps (each a no-op for the ideal default lens):

    1. camera equation per band, E = π·L·T(λ)/(4 N_w²) (module docstring);
    2. distortion and lateral colour (:func:`camtwin.optics.field.warp_geometry`);
    3. relative illumination: cos⁴ of the chief-ray angle × mechanical vignetting
       (:func:`camtwin.optics.field.relative_illumination_map`);
    4. blur per band: the analytic diffraction OTF for a diffraction-limited, in-focus lens
       (:func:`apply_diffraction`, unchanged from the first version), else the
       field-dependent pupil PSFs with Zernike aberrations and thin-lens defocus
       (:func:`camtwin.optics.field.apply_lens_blur`). ``diffraction=False`` skips the blur.

    The scene plane is at ``lens.object_distance_m``; the lens is focused at
    ``lens.focus_m`` (the same unless ``focus_distance_m`` is set).

    This forms the whole (bands, H, W) cube — about four of them at the peak — and is
    checked against the memory budget (:mod:`camtwin.memory`) first; the streamed
    :func:`camtwin.optics.stream.form_channel_image` (used by :func:`camtwin.shoot`) never
    forms it.

    ``field_offset_um`` (dy, dx) places the centre of the scene's image that far from the
    optical axis, and ``full_field_um_override`` sets the full-field image height: together
    they render a window of a larger image (e.g. a sensor crop in a corner) with the
    field-dependent effects (distortion, lateral colour, relative illumination, PSFs) of
    its true position. The diffraction-limited path is field independent.
    """
    from ..memory import check_budget, format_bytes
    from .field import apply_lens_blur, relative_illumination_map, warp_geometry

    cube = len(scene.wavelengths_nm) * scene.shape[0] * scene.shape[1] * 4
    check_budget(4 * cube, f"form_image of a {len(scene.wavelengths_nm)}-band "
                           f"{scene.shape[0]} × {scene.shape[1]} scene (spectral cubes of "
                           f"{format_bytes(cube)} each)",
                 "use camtwin.shoot or camtwin.optics.stream.form_channel_image (streamed), "
                 "or crop the module")
    m = lens.magnification
    pitch_um = scene.sample_pitch_m * m * 1e6
    wl = scene.wavelengths_nm
    ff_um = (full_field_um(scene.shape, pitch_um, lens) if full_field_um_override is None
             else float(full_field_um_override))
    off = (float(field_offset_um[0]), float(field_offset_um[1]))
    band_gain = (np.pi * lens.spectral_transmission(wl) / (4.0 * lens.working_f_number**2))
    irr = scene.radiance * band_gain.astype(np.float32)[:, None, None]
    irr = warp_geometry(irr, wl, pitch_um, lens, ff_um, off)
    irr *= relative_illumination_map(irr.shape[1:], pitch_um, lens, ff_um, off)[None]
    if diffraction:
        if lens.diffraction_limited:
            irr = apply_diffraction(irr, wl, pitch_um, lens.working_f_number)
        else:
            irr = apply_lens_blur(irr, wl, pitch_um, lens, ff_um, offset_um=off)
    return OpticalImage(irradiance=irr.astype(np.float32, copy=False), wavelengths_nm=wl,
                        sample_pitch_um=pitch_um, lens=lens, scene_name=scene.name,
                        illuminant=scene.illuminant, illuminance_lux=scene.illuminance_lux,
                        layout=dict(scene.layout))


def apply_gaussian_blur(irradiance: np.ndarray, pitch_um: float, sigma_um: float, *,
                        workers: int = -1) -> np.ndarray:
    """Blur every band with a circular Gaussian PSF of standard deviation ``sigma_um`` [µm]
    (OTF exp(−2π²σ²ν²), :func:`camtwin.optics.psf.gaussian_mtf`), by FFT with a reflected
    border of 6σ. A stand-in for a lens described only by its blur spot, and a test target
    with an analytic MTF."""
    from .psf import gaussian_mtf

    if not sigma_um > 0:
        raise ValueError(f"sigma_um = {sigma_um}: must be > 0")
    _, h, w = irradiance.shape
    pad = int(np.ceil(6 * sigma_um / pitch_um)) + 1
    block = np.pad(np.asarray(irradiance, dtype=np.float32), ((0, 0), (pad, pad), (pad, pad)),
                   mode="reflect" if pad < min(h, w) else "symmetric")
    hp, wp = sfft.next_fast_len(block.shape[1], real=True), sfft.next_fast_len(block.shape[2], real=True)
    fy = sfft.fftfreq(hp, d=pitch_um)
    fx = sfft.rfftfreq(wp, d=pitch_um)
    mtf = gaussian_mtf(np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2), sigma_um).astype(np.float32)
    spec = sfft.rfft2(block, s=(hp, wp), workers=workers) * mtf[None]
    out = sfft.irfft2(spec, s=(hp, wp), workers=workers)[:, pad:pad + h, pad:pad + w]
    return np.maximum(out, 0.0).astype(np.float32)
