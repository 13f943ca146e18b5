"""The EMVA 1288 measurement campaign, simulated on a camtwin sensor.

Setup of EMVA 1288 R4.0 Linear §6.1–6.5: the bare sensor (no lens) under homogeneous,
monochromatic light of wavelength λ (default 525 nm) and irradiance E [W/m²]. Per pixel

    μ_p = A·E·t_exp·λ/(h·c)                 photons, A = pixel area          [photons]
    μ_e = η_c(λ)·μ_p                        η_c = QE of the pixel's channel  [e⁻]
    μ_d = I_dark(T)·t_exp                   dark charge, I_dark(T) = I_ref·2^((T−T_ref)/T_d)

and :func:`camtwin.sensor.pixels.simulate_pixels` turns the uniform mean-electron image into
DN (PRNU, dark map, shot noise, full well, DSNU, read/row noise, FPN, gain, black level,
quantisation). η_c(λ) comes from :func:`camtwin.sensor.response.channel_qe` (measured curve
or pixel model × colour filter); inter-pixel crosstalk, CRA and shutter effects are not part
of this setup (no lens, uniform light, static scene).

Sequence (each item one pair of frames, or L frames for a stack):

1. photon transfer: ``n_steps`` (≥ 50) exposure times equally spaced from ``exposure_min_s``
   to ``exposure_max_s`` at a fixed irradiance — or, with ``vary = "irradiance"``, as many
   irradiances at a fixed exposure — reaching ``overexposure`` × the saturation signal at the
   last step; a bright pair and a dark pair at every step;
2. dark current: dark pairs at ``dark_steps`` (≥ 6) exposure times up to
   ``dark_exposure_max_s``; optionally at ``temperatures_c`` (a dark pair at the longest dark
   exposure and one at the shortest for the offset, per temperature);
3. nonuniformity: L ≥ 16 bright frames at ``spatial_fraction`` (50 %) of saturation and L dark
   frames at the same exposure;
4. optional spectral sweep: one bright and one dark frame per wavelength, exposure set for
   ≈ 50 % of saturation at the peak QE, giving η(λ) = (μ_y − μ_y.dark)/(K·μ_p).

For a colour sensor the analysed channel (default G) is the sub-image of its first site in
the CFA tile (e.g. row 0, column 1 of RGGB): a regular grid, as EMVA 1288 §1.4 asks for
colour cameras analysed per channel.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from ..._spec import FrozenSpec
from ...errors import ConfigError
from ...raw.cfa import cfa_channel_index, cfa_layout
from .dataset import (Dataset1288, SpatialStack, StackAccumulator, pair_statistics,
                      photons_per_pixel)

Progress = Callable[[str, int], None]


class MeasurementSpec(FrozenSpec):
    """Settings of the simulated EMVA 1288 campaign (see the module docstring).

    Attributes
    ----------
    wavelength_nm : float
        Wavelength of the monochromatic light [nm], 380–1000.
    n_steps : int
        Photon-transfer steps (≥ 50, EMVA 1288 §6.5).
    vary : "exposure" | "irradiance"
        What changes from step to step.
    exposure_min_s, exposure_max_s : float
        Exposure range [s] (``vary = "exposure"``); with ``vary = "irradiance"`` the fixed
        exposure is ``exposure_max_s``.
    overexposure : float
        Signal at the last step as a multiple of the saturation signal (> 1: beyond
        saturation, as the standard asks).
    dark_steps : int
        Exposure times of the dark-current series (≥ 6).
    dark_exposure_max_s : float
        Longest dark exposure [s] (capped so that the dark signal stays ≤ 40 % of
        saturation).
    temperatures_c : tuple of float
        Optional sensor temperatures [°C] for dark current vs temperature.
    spatial_frames : int
        L of the nonuniformity stacks (≥ 16).
    spatial_fraction : float
        Signal of the bright stack as a fraction of saturation (0.5 in the standard).
    spectral_wavelengths_nm : tuple of float
        Optional wavelengths [nm] of a spectral sweep.
    channel : str or None
        CFA channel analysed (default: G if present, else the first channel).
    temperature_c : float or None
        Sensor temperature [°C] of the campaign (default: the sensor's).
    """

    wavelength_nm: float = Field(525.0, ge=380.0, le=1000.0)
    n_steps: int = Field(50, ge=50, le=1000)
    vary: Literal["exposure", "irradiance"] = "exposure"
    exposure_min_s: float = Field(1e-5, gt=0, le=10.0)
    exposure_max_s: float = Field(1e-2, gt=0, le=10.0)
    overexposure: float = Field(1.2, gt=1.0, le=5.0)
    dark_steps: int = Field(8, ge=6, le=200)
    dark_exposure_max_s: float = Field(1.0, gt=0, le=1000.0)
    temperatures_c: tuple[float, ...] = ()
    spatial_frames: int = Field(16, ge=16, le=10000)
    spatial_fraction: float = Field(0.5, gt=0.0, lt=1.0)
    spectral_wavelengths_nm: tuple[float, ...] = ()
    channel: str | None = None
    temperature_c: float | None = Field(None, ge=-60, le=150)

    @field_validator("temperatures_c")
    @classmethod
    def _temps(cls, v):
        bad = [x for x in v if not -60 <= x <= 150]
        if bad:
            raise ValueError(f"temperature {bad[0]} °C is outside the valid range -60..150")
        if len(v) == 1:
            raise ValueError("give at least 2 temperatures for dark current vs temperature "
                             "(or none)")
        return v

    @field_validator("spectral_wavelengths_nm")
    @classmethod
    def _wls(cls, v):
        bad = [x for x in v if not 380 <= x <= 1000]
        if bad:
            raise ValueError(f"wavelength {bad[0]} nm is outside the valid range 380..1000")
        if any(b <= a for a, b in zip(v, v[1:])):
            raise ValueError("spectral_wavelengths_nm must be strictly ascending")
        return v

    @model_validator(mode="after")
    def _range(self):
        if self.vary == "exposure" and not self.exposure_max_s > self.exposure_min_s:
            raise ValueError(f"exposure_max_s = {self.exposure_max_s} must exceed "
                             f"exposure_min_s = {self.exposure_min_s}")
        return self


def channel_site(cfa: str, channel: str | None) -> tuple[str, int, int, int, int]:
    """(channel, row offset, column offset, row period, column period) of the first site
    of ``channel`` in the CFA tile; ``None`` → G if present, else the first channel."""
    lay = cfa_layout(cfa)
    if channel is None:
        channel = "G" if "G" in lay.channels else lay.channels[0]
    for r, row in enumerate(lay.tile):
        for c, name in enumerate(row):
            if name == channel:
                return channel, r, c, len(lay.tile), len(lay.tile[0])
    raise ConfigError(f"channel = {channel!r}: not in the {cfa} CFA; valid: "
                      f"{', '.join(lay.channels)}")


def channel_qe_at(sensor, wavelength_nm: float) -> np.ndarray:
    """QE of every CFA channel of ``sensor`` at ``wavelength_nm`` (linear interpolation of
    :func:`camtwin.sensor.response.channel_qe` on a 1 nm grid around λ), shape (C,)."""
    from ...sensor.response import channel_qe

    wl = float(wavelength_nm)
    grid = np.array([wl - 1.0, wl, wl + 1.0])
    return channel_qe(sensor, grid)[1]


def saturation_signal_e(sensor) -> float:
    """Electrons at which the output saturates: the full well, or the ADC white level
    (white − black)/K if that comes first [e⁻]."""
    adc = (sensor.white_level_dn - sensor.black_level_dn) / sensor.system_gain_dn_per_e
    return float(min(sensor.effective_full_well_e, adc))


def _check_key_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) < 2 ** 30:
        raise ConfigError(f"seed = {seed!r}: must be an int with 0 <= seed < 2**30")
    return int(seed)


def measurement_plan(sensor, spec: MeasurementSpec) -> dict:
    """Exposure times, irradiances and photon counts of the campaign (no frames).

    Returns a dict with ``eta`` (QE of the analysed channel), ``exposure_s`` and ``photons``
    (photon-transfer steps), ``irradiance_w_m2`` (per step), ``spatial_exposure_s``,
    ``spatial_photons``, ``dark_exposure_s`` and the channel site.
    """
    channel, r0, c0, ph, pw = channel_site(sensor.cfa, spec.channel)
    qe = channel_qe_at(sensor, spec.wavelength_nm)
    eta = float(qe[cfa_layout(sensor.cfa).channels.index(channel)])
    if not eta > 0:
        raise ConfigError(f"the {channel} channel of sensor {sensor.name!r} has QE = 0 at "
                          f"{spec.wavelength_nm} nm; choose another wavelength_nm")
    area = sensor.pixel_pitch_um ** 2
    sat_e = saturation_signal_e(sensor)
    t_temp = (sensor.temperature_c if spec.temperature_c is None else spec.temperature_c)
    dark_rate = sensor.dark_current_at(t_temp)
    n = spec.n_steps
    if spec.vary == "exposure":
        t = np.linspace(spec.exposure_min_s, spec.exposure_max_s, n)
        # irradiance so that the last step reaches overexposure × saturation
        target_p = spec.overexposure * sat_e / eta
        e_w = target_p / float(photons_per_pixel(1.0, spec.exposure_max_s, area,
                                                 spec.wavelength_nm))
        irr = np.full(n, e_w)
    else:
        t = np.full(n, spec.exposure_max_s)
        e_max = spec.overexposure * sat_e / eta / float(
            photons_per_pixel(1.0, spec.exposure_max_s, area, spec.wavelength_nm))
        irr = np.linspace(e_max / n, e_max, n)
    photons = photons_per_pixel(irr, t, area, spec.wavelength_nm)
    # nonuniformity stacks at spatial_fraction of saturation (same irradiance, shorter t)
    p_sp = spec.spatial_fraction * sat_e / eta
    if spec.vary == "exposure":
        t_sp = p_sp / float(photons_per_pixel(irr[0], 1.0, area, spec.wavelength_nm))
    else:
        t_sp = spec.exposure_max_s
    dark_max = spec.dark_exposure_max_s
    if dark_rate > 0:
        dark_max = min(dark_max, 0.4 * sat_e / dark_rate)
    t_dark = np.linspace(spec.exposure_min_s if spec.vary == "exposure" else 0.0,
                         dark_max, spec.dark_steps)
    t_dark[0] = max(t_dark[0], 1e-6)
    return {"eta": eta, "qe_channels": qe, "channel": channel, "site": (r0, c0, ph, pw),
            "exposure_s": t, "photons": photons, "irradiance_w_m2": irr,
            "spatial_exposure_s": float(t_sp), "spatial_photons": float(p_sp),
            "dark_exposure_s": t_dark, "dark_rate_e_per_s": dark_rate,
            "temperature_c": float(t_temp), "pixel_area_um2": area}


@contextmanager
def _numba_threads(n: int | None):
    """Run numba's parallel kernels with ``n`` threads inside the block (None: unchanged)."""
    if n is None:
        yield
        return
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


#: Frames up to this many pixels are simulated single-threaded (see simulate_measurement).
SINGLE_THREAD_MAX_PIXELS = 1_000_000


def simulate_measurement(sensor, spec: MeasurementSpec | None = None, *, seed: int = 0,
                         progress: Progress | None = None,
                         threads: int | None | Literal["auto"] = "auto") -> Dataset1288:
    """Simulate the EMVA 1288 campaign (module docstring) and reduce it to a
    :class:`Dataset1288`.

    Parameters
    ----------
    sensor : SensorSpec
    spec : MeasurementSpec, optional
        Default: ``MeasurementSpec()`` (525 nm, 50 exposure steps, L = 16).
    seed : int
        Seed of the temporal noise, 0 ≤ seed < 2³⁰; frame j uses key ``seed·2³² + j`` of
        :func:`camtwin.sensor.pixels.simulate_pixels`. (The fixed pattern comes from the
        sensor's own ``noise.fixed_pattern_seed``.)
    progress : callable, optional
        ``progress(message, frames_done)`` after every group of frames.
    threads : int, None or "auto"
        numba threads for the pixel kernels during the campaign. ``"auto"``: 1 for frames of
        up to :data:`SINGLE_THREAD_MAX_PIXELS` pixels, else numba's setting (None). The
        frames do not depend on it (counter-based random streams, see
        :mod:`camtwin.sensor.pixels`); it only avoids the OpenMP worker threads spin-waiting
        after every small kernel call while NumPy reduces the frame (measured here: 3–4×
        slower campaigns on 2 shared CPUs).

    Returns
    -------
    Dataset1288
        Reduced statistics of the analysed channel.

    Examples
    --------
    >>> from camtwin.sensor import SensorSpec
    >>> s = SensorSpec(width_px=64, height_px=48, pixel_pitch_um=3.0, cfa="mono",
    ...                full_well_e=8000, conversion_gain_dn_per_e=0.4, read_noise_e=3.0)
    >>> ds = simulate_measurement(s, seed=1)
    >>> ds.photons.size, ds.spatial_bright.frames
    (50, 16)
    """
    spec = MeasurementSpec() if spec is None else spec
    seed = _check_key_seed(seed)
    if threads == "auto":
        threads = 1 if sensor.width_px * sensor.height_px <= SINGLE_THREAD_MAX_PIXELS else None
    with _numba_threads(threads):
        return _simulate(sensor, spec, seed, progress)


def _simulate(sensor, spec, seed, progress) -> Dataset1288:
    from ...sensor.fixed_pattern import fixed_pattern
    from ...sensor.pixels import simulate_pixels

    plan = measurement_plan(sensor, spec)
    h, w = int(sensor.height_px), int(sensor.width_px)
    r0, c0, ph, pw = plan["site"]
    qe_map = plan["qe_channels"].astype(np.float32)[cfa_channel_index(sensor.cfa, (h, w))]
    area = plan["pixel_area_um2"]
    fp = fixed_pattern(sensor)
    # A frame whose every pixel is surely beyond full well cannot bloom (no pixel has room
    # for the excess, which collect_charge then discards): the clipping sensor gives the
    # same DN from the same draws in one fused pass, instead of the blooming iteration.
    # Likewise a frame whose every pixel is surely below full well takes the fused pass
    # anyway; giving it the clipping sensor skips simulate_pixels' extra max-mean pass.
    clip_sensor = sensor.replace(noise={"blooming": False}) if sensor.noise.blooming else sensor
    g_min = 1.0 if fp.photo_gain is None else float(fp.photo_gain.min())
    g_max = fp.max_photo_gain
    d_max = fp.max_dark_scale
    qe_min = float(qe_map.min())
    qe_max = float(qe_map.max())
    uniform_qe = qe_min == qe_max
    fw = float(sensor.effective_full_well_e)
    counter = [0]
    frames_done = [0]
    photo = np.empty((h, w), np.float32)
    zeros = np.zeros((h, w), np.float32)

    def grab(photons_per_px: float, exposure_s: float, dark_rate: float) -> np.ndarray:
        if photons_per_px > 0:
            if uniform_qe:
                photo.fill(np.float32(qe_min * photons_per_px))
            else:
                np.multiply(qe_map, np.float32(photons_per_px), out=photo)
            src = photo
        else:
            src = zeros
        key = (seed << 32) + counter[0]
        counter[0] += 1
        low = g_min * qe_min * photons_per_px          # smallest mean photo-charge [e⁻]
        high = g_max * qe_max * photons_per_px + d_max * dark_rate * exposure_s
        surely_full = low - 8.0 * np.sqrt(low) - 8.0 > fw
        # the bound simulate_pixels uses (BLOOM_SAFETY_SIGMA = 8)
        surely_below = high + 8.0 * (np.sqrt(high) + 1.0) <= fw
        dn = simulate_pixels(src, dark_rate * exposure_s,
                             clip_sensor if (surely_full or surely_below) else sensor,
                             key=key, fixed=fp)
        frames_done[0] += 1
        return dn[r0::ph, c0::pw]

    def tick(msg):
        if progress is not None:
            progress(msg, frames_done[0])

    rate = plan["dark_rate_e_per_s"]
    n = spec.n_steps
    mean = np.empty(n)
    var = np.empty(n)
    dmean = np.empty(n)
    dvar = np.empty(n)
    for i in range(n):
        p_i, t_i = float(plan["photons"][i]), float(plan["exposure_s"][i])
        mean[i], var[i] = pair_statistics(grab(p_i, t_i, rate), grab(p_i, t_i, rate))
        dmean[i], dvar[i] = pair_statistics(grab(0, t_i, rate), grab(0, t_i, rate))
        tick(f"photon transfer step {i + 1}/{n}")
    td = plan["dark_exposure_s"]
    dsm = np.empty(td.size)
    dsv = np.empty(td.size)
    for j, tj in enumerate(td):
        dsm[j], dsv[j] = pair_statistics(grab(0, tj, rate), grab(0, tj, rate))
    tick("dark current series")

    temp_kwargs = {}
    if spec.temperatures_c:
        tmax = float(td[-1])
        tm, tv, to = [], [], []
        for temp in spec.temperatures_c:
            r_t = sensor.dark_current_at(temp)
            m_, v_ = pair_statistics(grab(0, tmax, r_t), grab(0, tmax, r_t))
            o_, _ = pair_statistics(grab(0, float(td[0]), r_t), grab(0, float(td[0]), r_t))
            # offset at t = 0 from the short exposure, extrapolated along the dark rate
            tm.append(m_)
            tv.append(v_)
            to.append(o_ - (m_ - o_) * float(td[0]) / (tmax - float(td[0])))
        temp_kwargs = dict(dark_temperature_c=np.asarray(spec.temperatures_c, np.float64),
                           dark_temperature_mean=np.asarray(tm),
                           dark_temperature_variance=np.asarray(tv),
                           dark_temperature_exposure_s=tmax,
                           dark_temperature_offset=np.asarray(to))
        tick("dark current vs temperature")

    t_sp, p_sp = plan["spatial_exposure_s"], plan["spatial_photons"]
    acc_b, acc_d = StackAccumulator(), StackAccumulator()
    for _ in range(spec.spatial_frames):
        acc_b.add(grab(p_sp, t_sp, rate))
    tick("nonuniformity stack (bright)")
    for _ in range(spec.spatial_frames):
        acc_d.add(grab(0, t_sp, rate))
    tick("nonuniformity stack (dark)")

    spectral = {}
    if spec.spectral_wavelengths_nm:
        wls = np.asarray(spec.spectral_wavelengths_nm, np.float64)
        qe_c = np.array([channel_qe_at(sensor, wl) for wl in wls])        # (J, C)
        ci = cfa_layout(sensor.cfa).channels.index(plan["channel"])
        peak = max(float(qe_c[:, ci].max()), 1e-6)
        p_spec = 0.5 * saturation_signal_e(sensor) / peak
        sm, sd = [], []
        for j, wl in enumerate(wls):
            np.multiply(qe_c[j].astype(np.float32)[cfa_channel_index(sensor.cfa, (h, w))],
                        np.float32(p_spec), out=photo)
            key = (seed << 32) + counter[0]
            counter[0] += 1
            b = simulate_pixels(photo, rate * t_sp, sensor, key=key, fixed=fp)[r0::ph, c0::pw]
            d = grab(0, t_sp, rate)
            sm.append(float(b.mean(dtype=np.float64)))
            sd.append(float(d.mean(dtype=np.float64)))
        spectral = dict(spectral_wavelength_nm=wls, spectral_photons=np.full(wls.size, p_spec),
                        spectral_mean=np.asarray(sm), spectral_dark_mean=np.asarray(sd))
        tick("spectral sweep")

    sub = np.empty((h, w), np.uint8)[r0::ph, c0::pw]
    return Dataset1288(
        width=sub.shape[1], height=sub.shape[0], bits=int(sensor.adc_bits),
        pixel_area_um2=area, wavelength_nm=float(spec.wavelength_nm),
        temperature_c=plan["temperature_c"], exposure_s=np.asarray(plan["exposure_s"]),
        photons=np.asarray(plan["photons"]), mean=mean, variance=var, dark_mean=dmean,
        dark_variance=dvar, spatial_bright=SpatialStack.from_accumulator(acc_b),
        spatial_dark=SpatialStack.from_accumulator(acc_d), spatial_photons=float(p_sp),
        spatial_exposure_s=float(t_sp), dark_exposure_s=np.asarray(td),
        dark_series_mean=dsm, dark_series_variance=dsv, source=f"simulated: {sensor.name}",
        channel=plan["channel"], **temp_kwargs, **spectral,
        extra={"frames": frames_done[0], "seed": seed})


def count_frames(spec: MeasurementSpec) -> int:
    """Number of frames :func:`simulate_measurement` makes for ``spec``."""
    return (4 * spec.n_steps + 2 * spec.dark_steps + 4 * len(spec.temperatures_c)
            + 2 * spec.spatial_frames + 2 * len(spec.spectral_wavelengths_nm))
