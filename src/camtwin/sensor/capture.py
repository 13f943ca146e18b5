"""capture(): OpticalImage → RawFrame — the whole sensor signal chain.

Per pixel p = (r, c) with colour channel ch(p), exposure T [s]:

    ė(p)    = A_pix · ⟨Σ_λ E(λ, x) · QE_ch(λ) · λ/(hc) · Δλ⟩_pixel                [e⁻/s]
    ė'(p)   = crosstalk(ė · CRA(p))             (:mod:`camtwin.sensor.optical`)      [e⁻/s]
    μ_ph(p) = ∫_{window(r)} ė'(p − v t)·m(t) dt  (shutter window of row r, motion v,
                                                  flicker m; :mod:`.timing`)        [e⁻]
            + PLS·ė'(p)·w_r                      (global shutter: storage-node wait w_r)
            + (t_tr/H)·Σ_r ė'(r, c)              (CCD frame-transfer smear)
    μ_d(p)  = I_dark(T_sensor)·T  (+ I_storage·w_r for a global shutter)              [e⁻]
    DN(p)   = pixel chain(μ_ph, μ_d)  — PRNU, dark map, shot noise, full well / blooming,
              CTI (CCD), nonlinearity, DSNU, read/row/RTN noise, FPN, gain, black,
              quantisation (:mod:`camtwin.sensor.pixels`)

QE_ch comes from a measured curve if given, else from the pixel-architecture model
(:mod:`camtwin.sensor.qe`). ⟨·⟩_pixel is the exact area average of the piecewise-constant
optical image over the pixel aperture; the sensor is centred on the optical axis and pixels
outside the optical image receive no light.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..errors import ConfigError
from ..optics.image import OpticalImage
from ..raw.cfa import cfa_layout
from ..raw.frame import RawFrame
from .characterize import camera_characterization
from .optical import apply_crosstalk, cra_map
from .pixels import simulate_pixels
from .response import electron_weights
from .spec import SensorSpec
from .timing import (Flicker, apply_cti, ccd_smear, integrate_photo, integrate_time_varying,
                     storage_node_charge)


def _overlap_matrix(n_out: int, pitch_out: float, n_in: int, pitch_in: float) -> sparse.csr_matrix:
    """Rows: output cells, columns: input cells, entries: overlap length / output pitch.

    Both grids are centred on 0. Multiplying averages a piecewise-constant input over each
    output cell (exact; conserves ∫ within the common support).
    """
    e_out = (np.arange(n_out + 1) - n_out / 2.0) * pitch_out
    e_in = (np.arange(n_in + 1) - n_in / 2.0) * pitch_in
    # candidate input cells for each output cell
    first = np.clip(np.searchsorted(e_in, e_out[:-1], side="right") - 1, 0, n_in - 1)
    last = np.clip(np.searchsorted(e_in, e_out[1:], side="left") - 1, 0, n_in - 1)
    span = int(np.max(last - first)) + 1 if n_out else 1
    rows = np.repeat(np.arange(n_out), span)
    cols = (first[:, None] + np.arange(span)[None, :]).ravel()
    ok = cols <= np.repeat(last, span)
    rows, cols = rows[ok], cols[ok]
    lo = np.maximum(e_out[rows], e_in[cols])
    hi = np.minimum(e_out[rows + 1], e_in[cols + 1])
    vals = np.clip(hi - lo, 0.0, None) / pitch_out
    keep = vals > 0
    return sparse.csr_matrix((vals[keep].astype(np.float32), (rows[keep], cols[keep])),
                             shape=(n_out, n_in))


def electron_rate(oi, sensor: SensorSpec) -> np.ndarray:
    """Expected photo-electron rate per pixel [e⁻/s], shape (H, W) float32.

    ``oi`` is an :class:`~camtwin.optics.OpticalImage` (spectral irradiance, summed over
    wavelength here) or a :class:`~camtwin.optics.stream.ChannelImage` (already summed
    per channel by the streamed path). CFA, chief-ray-angle loss and inter-pixel crosstalk
    applied (ė' in the module docstring).
    """
    from ..optics.stream import ChannelImage

    if isinstance(oi, ChannelImage):
        if tuple(oi.channels) != tuple(sensor.channels):
            raise ConfigError(f"the channel image was formed for channels {oi.channels}; "
                              f"this sensor has {tuple(sensor.channels)}")
        density = oi.density
        offset, full = oi.sensor_offset_px, oi.full_sensor_px
    else:
        w = electron_weights(sensor, oi.wavelengths_nm).astype(np.float32)  # (L, C)
        n_b, h_oi, w_oi = oi.irradiance.shape
        density = (w.T @ oi.irradiance.reshape(n_b, -1)).reshape(-1, h_oi, w_oi)  # e⁻/s/m²
        offset, full = (0.0, 0.0), None
    return rate_from_density(density, oi.sample_pitch_um, sensor, oi.lens,
                             offset_px=offset, full_sensor_px=full)


def rate_from_density(density: np.ndarray, sample_pitch_um: float, sensor: SensorSpec, lens, *,
                      offset_px=(0.0, 0.0), full_sensor_px=None) -> np.ndarray:
    """Pixel-aperture average of per-channel electron-rate densities (C, H_oi, W_oi)
    [e⁻·s⁻¹·m⁻²] → the CFA mosaic [e⁻/s] (H, W) float32, with CRA loss and crosstalk.

    The exact area average over each pixel (:func:`_overlap_matrix`) is skipped when the
    optical-image grid is the pixel grid (then it is the identity). ``offset_px`` /
    ``full_sensor_px`` place a sensor window in a larger sensor for the CRA map.
    """
    h, w = sensor.height_px, sensor.width_px
    area = np.float32(sensor.pixel_area_m2)
    same_pitch = abs(sample_pitch_um / sensor.pixel_pitch_um - 1.0) < 1e-9
    dh, dw = density.shape[1] - h, density.shape[2] - w
    if same_pitch and dh >= 0 and dw >= 0 and dh % 2 == 0 and dw % 2 == 0 and (dh or dw):
        # the pixel grid is the middle of the sample grid (a window's margin): the exact
        # area average is a crop
        density = density[:, dh // 2:dh // 2 + h, dw // 2:dw // 2 + w]
    same_grid = density.shape[1:] == (h, w) and same_pitch
    if not same_grid:
        ry = _overlap_matrix(h, sensor.pixel_pitch_um, density.shape[1], sample_pitch_um)
        rx = _overlap_matrix(w, sensor.pixel_pitch_um, density.shape[2], sample_pitch_um)
    lay = cfa_layout(sensor.cfa)
    ph, pw = lay.period
    rate = np.empty((h, w), dtype=np.float32)
    tile = [[lay.channels.index(c) for c in row] for row in lay.tile]
    for c in range(density.shape[0]):
        plane = density[c] if same_grid else (ry @ (rx @ density[c].T).T)
        for i in range(ph):
            for j in range(pw):
                if tile[i][j] == c:
                    rate[i::ph, j::pw] = plane[i::ph, j::pw] * area
    rate *= cra_map(sensor, lens, offset_px=offset_px, full_sensor_px=full_sensor_px)
    return apply_crosstalk(rate, sensor)


def auto_exposure_s(oi: OpticalImage, sensor: SensorSpec, *, percentile: float = 99.0,
                    target_fraction: float = 0.6, max_exposure_s: float = 0.033,
                    min_exposure_s: float = 10e-6) -> float:
    """Exposure that puts the ``percentile`` of the expected signal at ``target_fraction`` of
    the usable range (min of full well and ADC range), clamped to [min, max] exposure."""
    return exposure_for_rate(electron_rate(oi, sensor), sensor, percentile=percentile,
                             target_fraction=target_fraction, max_exposure_s=max_exposure_s,
                             min_exposure_s=min_exposure_s)


def exposure_for_rate(rate: np.ndarray, sensor: SensorSpec, *, percentile: float = 99.0,
                      target_fraction: float = 0.6, max_exposure_s: float = 0.033,
                      min_exposure_s: float = 10e-6) -> float:
    """:func:`auto_exposure_s` from the electron-rate mosaic [e⁻/s] itself."""
    usable_e = min(sensor.effective_full_well_e,
                   (sensor.white_level_dn - sensor.black_level_dn) / sensor.system_gain_dn_per_e)
    p = float(np.percentile(rate, percentile)) + sensor.dark_current_at()
    if p <= 0:
        return max_exposure_s
    return float(np.clip(target_fraction * usable_e / p, min_exposure_s, max_exposure_s))


def layout_to_pixels(layout: dict, oi: OpticalImage, sensor: SensorSpec) -> dict:
    """Map layout boxes (fractions of the optical image) to integer pixel boxes.

    With a lens that moves image points (distortion, fisheye projection), every box edge is
    sampled at 5 points, carried through the lens's geometry, and the largest axis-aligned
    box inside the curved outline is returned (so a measurement box stays inside its
    patch).
    """
    from ..optics.field import forward_geometry
    from ..optics.image import full_field_um

    moves = oi.lens.moves_points
    if moves:
        ff = full_field_um(oi.shape, oi.sample_pitch_um, oi.lens)

        def lens_px(fy, fx):  # fractions of the optical image → sensor pixels (y, x)
            y, x = forward_geometry((np.asarray(fy) - 0.5) * oi.height_um,
                                    (np.asarray(fx) - 0.5) * oi.width_um, oi.lens, ff)
            return (y / sensor.pixel_pitch_um + sensor.height_px / 2,
                    x / sensor.pixel_pitch_um + sensor.width_px / 2)
    t = np.linspace(0.0, 1.0, 5)
    out = {}
    for key, boxes in layout.items():
        px = []
        for y0, y1, x0, x1 in boxes:
            if moves:
                xs = x0 + (x1 - x0) * t
                ys = y0 + (y1 - y0) * t
                vals = (lens_px(np.full(5, y0), xs)[0].max(),   # top edge
                        lens_px(np.full(5, y1), xs)[0].min(),   # bottom edge
                        lens_px(ys, np.full(5, x0))[1].max(),   # left edge
                        lens_px(ys, np.full(5, x1))[1].min())   # right edge
                px.append(tuple(int(round(float(v))) for v in vals))
                continue

            def row(f):
                return (f - 0.5) * oi.height_um / sensor.pixel_pitch_um + sensor.height_px / 2
            def col(f):
                return (f - 0.5) * oi.width_um / sensor.pixel_pitch_um + sensor.width_px / 2
            px.append(tuple(int(round(v)) for v in (row(y0), row(y1), col(x0), col(x1))))
        out[key] = px
    return out


def _as_rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ConfigError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


def capture(oi: OpticalImage, sensor: SensorSpec, exposure_s: float, rng, *,
            motion_px_per_s: tuple[float, float] = (0.0, 0.0), flicker: Flicker | None = None,
            start_s: float = 0.0, scene_at=None, n_time_samples: int = 64,
            modulated_light=()) -> RawFrame:
    """Expose ``sensor`` to ``oi`` for ``exposure_s`` seconds and read it out.

    Parameters
    ----------
    oi : OpticalImage
    sensor : SensorSpec
    exposure_s : float
        Integration time [s], > 0.
    rng : numpy.random.Generator or int
        Source of all temporal noise (one 63-bit frame key is drawn from it); the same seed
        gives the same frame. Fixed-pattern maps come from ``sensor.noise.fixed_pattern_seed``.
    motion_px_per_s : (float, float)
        Image motion (v_y, v_x) [pixels/s] during the exposure (rolling-shutter skew, blur).
    flicker : Flicker, optional
        Light modulation with time mean 1 (banding on a rolling shutter).
    start_s : float
        Time of row 0's integration start [s] (phase against the flicker).
    scene_at : callable, optional
        ``scene_at(t_s) -> OpticalImage``: a scene that changes during the readout (objects
        moving or lights switching). Sampled ``n_time_samples`` times over all rows'
        windows (:func:`camtwin.sensor.timing.integrate_time_varying`); ``oi`` then only
        supplies metadata and the storage-node / smear light (its state at t = start_s).
        Cannot be combined with ``motion_px_per_s`` or ``flicker`` (fold them into the
        callback).
    n_time_samples : int
        Samples of ``scene_at``.
    modulated_light : sequence of (optical image, waveform), optional
        Light sources with their own time modulation (:mod:`camtwin.scene.lights`): each
        optical image holds one source alone at its time-mean radiance, each waveform is its
        mean-1 m_k(t); row r adds ∫_window(r) ė_k·m_k dt exactly (``flicker`` modulates
        ``oi`` only; storage node and smear see the time-mean light).
        :func:`camtwin.scene.lights.capture_lit` builds them from a ``LitScene``.

    Returns
    -------
    RawFrame
        ``mean_electrons`` is the ground truth: expected e⁻ per pixel (μ_ph + μ_d of the
        module docstring, before the fixed-pattern maps, noise, full well and quantisation).
        A sensor with an HDR mode (``sensor.hdr``) is read by
        :func:`camtwin.sensor.hdr.capture_hdr` instead (:func:`hdr_frame`): ``dn`` is the
        reference component, ``hdr_electrons`` the combined HDR value, ``hdr`` all
        components (``exposure_s`` is the long / reference exposure).
    """
    if not (np.isfinite(exposure_s) and exposure_s > 0):
        raise ConfigError(f"exposure_s = {exposure_s}: must be > 0")
    if not np.isfinite(start_s):
        raise ConfigError(f"start_s = {start_s}: must be finite")
    if getattr(sensor, "hdr", None) is not None:
        if len(modulated_light):
            raise ConfigError("modulated_light is not supported with an HDR mode "
                              f"(sensor.hdr.mode = {sensor.hdr.mode!r}); use flicker or "
                              "scene_at with camtwin.sensor.hdr.capture_hdr")
        from .hdr import capture_hdr

        return hdr_frame(capture_hdr(oi, sensor, exposure_s, rng,
                                     motion_px_per_s=motion_px_per_s, flicker=flicker,
                                     start_s=start_s, scene_at=scene_at,
                                     n_time_samples=n_time_samples))
    from ..memory import BYTES_PER_PIXEL_MOSAIC, check_budget, format_bytes

    n_px = sensor.width_px * sensor.height_px
    check_budget(n_px * BYTES_PER_PIXEL_MOSAIC, f"the sensor chain of a {sensor.width_px} × "
                 f"{sensor.height_px} px frame ({format_bytes(n_px * BYTES_PER_PIXEL_MOSAIC)})",
                 "crop the sensor (camtwin.crop_module) or shoot fewer frames at once")
    gen = _as_rng(rng)
    key = int(gen.integers(0, 2**63 - 1))
    rate = electron_rate(oi, sensor)
    lit = [(electron_rate(o, sensor), w) for o, w in modulated_light]
    if lit and scene_at is not None:
        raise ConfigError("scene_at cannot be combined with modulated_light; put the sources "
                          "into the callback")
    if scene_at is None:
        photo = integrate_photo(rate, sensor, exposure_s, motion_px_per_s=motion_px_per_s,
                                flicker=flicker, start_s=start_s)
        for rate_k, wave_k in lit:  # integration is linear in the rate: one source at a time
            photo += integrate_photo(rate_k, sensor, exposure_s, motion_px_per_s=motion_px_per_s,
                                     flicker=wave_k, start_s=start_s)
            rate = rate + rate_k  # time-mean light for the storage node / smear below
    else:
        if flicker is not None or any(float(v) != 0 for v in motion_px_per_s):
            raise ConfigError("scene_at cannot be combined with motion_px_per_s or flicker; "
                              "put the motion or the modulation into the callback")
        photo = integrate_time_varying(lambda t: electron_rate(scene_at(t), sensor), sensor,
                                       exposure_s, n_samples=n_time_samples, start_s=start_s)
    dark = np.float32(sensor.dark_current_at() * exposure_s)
    hook = None
    shutter = sensor.shutter.type
    if shutter == "global":
        pls_e, storage_dark_e = storage_node_charge(rate, sensor, exposure_s)
        photo += pls_e
        dark = dark + storage_dark_e  # (H, 1): row r waited r·line_time
    elif shutter == "ccd":
        photo += ccd_smear(rate, sensor)
        cti = sensor.shutter.cti
        if cti > 0:
            def hook(q):
                return apply_cti(q, cti)
    dn = simulate_pixels(photo, dark, sensor, key=key, charge_hook=hook)
    mean_e = photo + dark
    neutral, xyz_to_cam = (None, None)
    if oi.illuminant is not None:
        neutral, xyz_to_cam = camera_characterization(sensor, oi.lens, oi.illuminant)
    k = sensor.system_gain_dn_per_e
    return RawFrame(
        dn=dn, cfa=sensor.cfa, black_level_dn=float(sensor.black_level_dn),
        white_level_dn=sensor.white_level_dn, exposure_s=float(exposure_s),
        conversion_gain_dn_per_e=float(k), analog_gain=sensor.analog_gain,
        temperature_c=sensor.temperature_c, pixel_pitch_um=sensor.pixel_pitch_um,
        illuminant=oi.illuminant, as_shot_neutral=neutral, xyz_to_camera=xyz_to_cam,
        sensor=sensor, mean_electrons=np.ascontiguousarray(mean_e, dtype=np.float32),
        metadata={"scene": oi.scene_name, "illuminance_lux": oi.illuminance_lux,
                  "layout_px": layout_to_pixels(oi.layout, oi, sensor),
                  "shutter": shutter, "frame_key": key,
                  "motion_px_per_s": [float(v) for v in motion_px_per_s],
                  "flicker_hz": None if flicker is None else flicker.frequency_hz})


def hdr_frame(raw) -> RawFrame:
    """An :class:`~camtwin.sensor.hdr.HdrRaw` as a :class:`RawFrame`: ``dn`` = component 0
    (the reference channel: long exposure, large photodiode or high-gain read, with its
    black/white level and gain K_0), ``mean_electrons`` = its ground truth (photo + dark
    [reference e⁻], which is also the truth of the combined signal), ``hdr_electrons`` =
    the on-sensor combined value [reference e⁻], ``hdr`` = the HdrRaw itself."""
    c0 = raw.components[0]
    s = raw.sensor
    md = dict(raw.metadata)
    neutral = md.pop("as_shot_neutral", None)
    xyz_to_cam = md.pop("xyz_to_camera", None)
    illuminant = md.pop("illuminant", None)
    md.update({"shutter": s.shutter.type, "hdr_mode": raw.hdr.mode,
               "hdr_components": [c.name for c in raw.components]})
    mean = None if c0.mean_e is None else np.ascontiguousarray(c0.mean_e, dtype=np.float32)
    return RawFrame(
        dn=c0.dn, cfa=s.cfa, black_level_dn=float(c0.black_level_dn),
        white_level_dn=int(c0.white_level_dn), exposure_s=float(raw.exposure_s),
        conversion_gain_dn_per_e=float(c0.gain_dn_per_e), analog_gain=s.analog_gain,
        temperature_c=s.temperature_c, pixel_pitch_um=s.pixel_pitch_um,
        illuminant=illuminant, as_shot_neutral=None if neutral is None else tuple(
            float(v) for v in neutral),
        xyz_to_camera=xyz_to_cam, sensor=s, mean_electrons=mean, metadata=md,
        hdr_electrons=np.ascontiguousarray(raw.combined_e, dtype=np.float32), hdr=raw)
