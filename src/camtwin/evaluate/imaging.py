"""Sharpness of a module at a field position: ISO 12233 e-SFR on a simulated slanted edge.

The edge is captured on a crop of the sensor centred at the requested field position (a
fraction of the half-diagonal along the diagonal, 0 = centre, 1 = corner), so corners pay
the lens's field-dependent blur. The e-SFR runs on the *raw* mosaic: the green sites (both
greens of a Bayer quad; the clear sites of RCCB; every pixel of a mono sensor), each at its
own sensor position (:func:`camtwin.measure.sfr.esfr` with a sample mask), so the result is
in cycles per *sensor pixel* and equals ``camtwin sfr shot.dng --channel g`` on a raw of the
same capture. It measures lens + pixel aperture + crosstalk, before any ISP sharpening —
the module's own MTF — after dividing out the lens's relative illumination (a lab
flat-field correction). ROI: 128 px across the edge, 90 % of the crop's height along it.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .metrics import MetricResult, _channel_flat, _rng, _signal_channel_mask, crop_module

#: Side of the crop holding the slanted edge [pixels]; the e-SFR ROI is 128 px across.
EDGE_CROP_PX = 192


def field_centre_px(module, field: float) -> tuple[float, float]:
    """Pixel offset (dy, dx) from the sensor centre of field position ``field`` (0..1 of the
    half-diagonal, along the diagonal towards the bottom-right corner). The edge ROI is
    centred there; near the corner the rendered window may reach past the sensor's edge
    (the lens image continues; only the ROI's field height matters)."""
    s = module.sensor
    return field * s.height_px / 2.0, field * s.width_px / 2.0


def slanted_edge_mtf(module, *, field: float = 0.0, lux: float = 1000.0, rng=0,
                     band_group_nm: float | None = 160.0) -> MetricResult:
    """MTF50 [cy/px] of the module at ``field`` from a simulated slanted-edge capture.

    The edge is imaged by the streamed formation with spectral band groups of
    ``band_group_nm`` (:func:`camtwin.optics.stream.form_channel_image`, as
    :func:`camtwin.shoot`); ``None`` forms the full 125-band cube
    (:func:`camtwin.optics.form_image`). 160 nm groups change MTF50 by ≤ 3·10⁻⁴ relative
    (measured on defocused, tilted, aberrated and off-axis lenses; asserted < 10⁻³ in
    ``tests/test_lux_snr_fast.py``; the metric's seed-to-seed scatter is ~5 %) for 1/4 to
    1/20 of the cost."""
    from ..camera import module_scene
    from ..measure.sfr import esfr
    from ..sensor import auto_exposure_s, capture

    if not 0.0 <= field <= 1.0:
        raise ConfigError(f"field = {field}: valid range is 0..1 (0 centre, 1 corner)")
    if not lux > 0:
        raise ConfigError(f"lux = {lux}: must be > 0")
    if field > 0 and not module.lens.rectilinear:
        # the off-axis window would need the scene around the undistorted position of its
        # centre, stretched by the fisheye's local compression; not modelled yet
        raise ConfigError(f"field = {field}: off-axis MTF is not modelled for the "
                          f"{module.lens.projection!r} (fisheye) projection; valid: field = 0")
    gen = _rng(rng)
    crop = crop_module(module, EDGE_CROP_PX)
    offset = field_centre_px(module, field)
    scene = module_scene(crop, "slanted_edge", illuminance_lux=lux)
    oi = _form_at_field(scene, crop, module, offset, band_group_nm)
    s = crop.sensor
    raw = capture(oi, s, auto_exposure_s(oi, s), gen)
    h, w = s.height_px, s.width_px
    light = (int(h * 0.3), int(h * 0.7), int(w * 0.72), int(w * 0.9))
    flat = _channel_flat(raw, light) / _shading(module, crop, offset)
    roi = (int(h * 0.05), int(np.ceil(h * 0.95)), int(w / 2 - 64), int(w / 2 + 64))
    mask = _signal_channel_mask(raw)
    res = esfr(flat, roi=roi, mask=None if mask.all() else mask)
    site = ("every pixel (mono)" if raw.cfa == "mono" else
            f"the {'C' if 'C' in raw.channels else 'G'} sites of the {raw.cfa} mosaic")
    source = (f"simulated slanted-edge capture ({lux:g} lx, field {field:g}), raw e-SFR on "
              f"{site} at their sensor positions; cycles per sensor pixel")
    return MetricResult(float(res.mtf50_cy_px), source=source, details={
        "source": source, "field": field, "mtf_at_nyquist": float(res.mtf_at_nyquist),
        "mtf_at_nyquist_half": float(res.mtf_at_nyquist_half),
        "sfr": res, "offset_px_y": offset[0], "offset_px_x": offset[1]})


def _shading(module, crop, offset_px) -> np.ndarray:
    """Relative illumination of the lens over the crop at its field position: the e-SFR is
    taken on the flat-field-corrected raw, as in the lab (a shading gradient across the
    edge tilts the ESF and biases the SFR)."""
    from ..optics.field import relative_illumination_map
    from ..optics.image import full_field_um

    pitch = module.sensor.pixel_pitch_um
    s = crop.sensor
    ff = full_field_um((module.sensor.height_px, module.sensor.width_px), pitch, crop.lens)
    return relative_illumination_map((s.height_px, s.width_px), pitch, crop.lens, ff,
                                     (offset_px[0] * pitch, offset_px[1] * pitch))


def _form_at_field(scene, crop, module, offset_px, band_group_nm=None):
    """Optical image of ``scene`` seen by the crop of ``module`` displaced by ``offset_px``
    from the optical axis: the full spectral cube (``band_group_nm`` None) or the crop's
    channel image formed in band groups of ``band_group_nm``."""
    from ..optics import form_image
    from ..optics.stream import form_channel_image

    dy, dx = offset_px
    kw = {}
    if dy != 0 or dx != 0:
        from ..optics.image import full_field_um

        pitch = module.sensor.pixel_pitch_um
        kw = dict(field_offset_um=(dy * pitch, dx * pitch), full_field_um_override=full_field_um(
            (module.sensor.height_px, module.sensor.width_px), pitch, crop.lens))
    if band_group_nm is None:
        return form_image(scene, crop.lens, **kw)
    return form_channel_image(scene, crop.lens, crop.sensor, band_group_nm=band_group_nm, **kw)
