"""EMVA 1288 Release 4.0 Linear analysis of a reduced data set (:class:`Dataset1288`).

Notation of the standard: μ_p photons per pixel, μ_y / σ²_y mean [DN] / temporal variance
[DN²] of a bright pair, μ_y.dark / σ²_y.dark of the dark pair at the same exposure,
σ²_q = 1/12 DN² the quantisation noise. Equations (section numbers of EMVA 1288 R4.0
Linear, 2021; see also R3.1, 2016, §2–§4, §6–§8):

* Saturation (§6.6): the step with the largest temporal variance σ²_y — the maximum of the
  photon-transfer curve; μ_y.sat, μ_p.sat are its mean and photon count.
* Responsivity R [DN/photon] (§6.6): least-squares line through the origin of
  μ_y − μ_y.dark versus μ_p over the steps with 0 < μ_y − μ_y.dark ≤ 0.7 (μ_y.sat − μ_y.dark).
* System gain K [DN/e⁻] (§6.6, photon transfer): line through the origin of
  σ²_y − σ²_y.dark versus μ_y − μ_y.dark over the same range (Poisson: σ²_e = μ_e, so
  σ²_y − σ²_y.dark = K (μ_y − μ_y.dark)).
* Quantum efficiency η = R / K (§2.1).
* Temporal dark noise (§2.3, §6.6): σ²_y.dark at zero exposure — the intercept of a line
  fitted to σ²_y.dark(t_exp) when the exposure time varies (removes dark-current shot
  noise), else the mean; σ_d = √(σ²_y.dark − σ²_q) / K [e⁻]. Below σ²_y.dark = 0.24 DN²
  the standard reports only the upper limit σ_d < 0.40 / K (flag
  ``temporal_dark_noise_is_upper_limit``).
* Saturation capacity μ_e.sat = η μ_p.sat [e⁻]; SNR_max = √μ_e.sat (§2.5).
* Absolute sensitivity threshold (§2.5), the irradiation giving SNR = 1 in
  SNR(μ_p) = η μ_p / √(σ²_d + σ²_q/K² + η μ_p):

      R4.0 (used):  μ_e.min = ½ + √(σ²_y.dark / K² + ¼),   μ_p.min = μ_e.min / η
      R3.1 (also reported): μ_p.min = (σ_y.dark / K + ½) / η

  R4.0 solves SNR = 1 exactly; R3.1 used the approximation √(x² + ¼) ≈ x. Both are in
  ``results.json`` (``absolute_sensitivity_threshold_e`` is R4.0).
* Dynamic range DR = μ_p.sat / μ_p.min, in dB 20 log₁₀ DR (§2.5).
* Linearity (§6.7): weighted fit μ_y − μ_y.dark = a₀ + a₁ μ_p minimising the relative
  deviation Σ ((Y − a₀ − a₁ μ_p) / Y)² over 5 %–95 % of saturation;
  δ_y = (Y − fit)/fit × 100 %, linearity error LE = (max δ_y − min δ_y) / 2 [%].
* Dark current (§7.1): mean method μ_I = slope(μ_y.dark vs t)/K [e⁻/s]; variance method
  μ_I.var = slope(σ²_y.dark vs t)/K² [e⁻/s] (dark shot noise: variance = mean). With
  several temperatures (§7.2): doubling temperature from a fit of log₂ μ_I(T).
* Nonuniformity (§8.1, §8.2) from stacks of L frames (mean image ⟨y⟩, M rows × N
  columns, σ²_y.stack the mean temporal variance):

      s²_y     = 1/(MN − 1) Σ (⟨y⟩ − μ_y)² − σ²_y.stack / L               [DN²]
      s²_y.cav = 1/N Σ_n (μ_y[n] − μ_y)² − σ²_y.stack / (L M)   (column means μ_y[n])
      s²_y.rav = 1/M Σ_m (μ_y[m] − μ_y)² − σ²_y.stack / (L N)   (row means μ_y[m])
      s²_y.col = (MN − M)/(MN − M − N) s²_y.cav − N/(MN − M − N) (s²_y − s²_y.rav)
      s²_y.row = (MN − N)/(MN − M − N) s²_y.rav − M/(MN − M − N) (s²_y − s²_y.cav)
      s²_y.pixel = MN/(MN − M − N) (s²_y − s²_y.cav − s²_y.rav)
      DSNU1288 = √s²_y.dark / K [e⁻],   PRNU1288 = √(s²_y − s²_y.dark) / (μ_y − μ_y.dark) [%]

  (the same for .row/.col/.pixel). The row/column/pixel split removes the bias each
  partial variance gets from the others (the standard's unbiased estimators).
* Spectrograms (§8.3): p(v) = 1/N |FFT_n(⟨y⟩ − μ_y)|² averaged over the rows
  (horizontal) or columns (vertical), minus the temporal residual σ²_y.stack/L; shown as
  √p [DN] → e⁻ (dark, /K) or % (bright − dark, /(μ_y − μ_y.dark)).
* Defect pixels (§8.4): logarithmic histograms of the dark image ⟨y_dark⟩ − μ (in e⁻) and
  of the 5×5-box highpass-filtered PRNU image (in %), and accumulated histograms (share of
  pixels whose absolute deviation ≥ x).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ConfigError
from .dataset import Dataset1288

#: Name of the standard and module the analysis follows.
STANDARD = "EMVA 1288 Release 4.0 Linear"

#: Quantisation noise of a uniform quantiser with a 1 DN step [DN²].
SIGMA2_Q_DN2 = 1.0 / 12.0

#: Upper end of the sensitivity / photon-transfer fit range (fraction of μ_y.sat − μ_y.dark).
FIT_MAX_FRACTION = 0.70

#: Linearity fit range (fractions of μ_y.sat − μ_y.dark).
LINEARITY_RANGE = (0.05, 0.95)

#: Below this dark variance [DN²] quantisation dominates; σ_d is only an upper limit.
MIN_DARK_VARIANCE_DN2 = 0.24


def _fit_origin(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of y = k·x (line through the origin)."""
    return float(np.dot(x, y) / np.dot(x, x))


def _fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y = a·x + b."""
    a, b = np.polyfit(np.asarray(x, np.float64), np.asarray(y, np.float64), 1)
    return float(a), float(b)


@dataclass(frozen=True)
class NonuniformityVariances:
    """Spatial variances of one stack [DN²] (module docstring, §8.1–8.2)."""

    mean: float
    total: float
    row: float
    column: float
    pixel: float
    cav: float
    rav: float


def nonuniformity_variances(mean_image: np.ndarray, temporal_variance: float,
                            frames: int) -> NonuniformityVariances:
    """Spatial variance of a mean image and its row / column / pixel split, each with the
    temporal residual σ²_y.stack/L removed (equations in the module docstring).

    Parameters
    ----------
    mean_image : array_like (M, N)
        ⟨y⟩ [DN], the mean of L frames.
    temporal_variance : float
        σ²_y.stack [DN²].
    frames : int
        L.
    """
    y = np.asarray(mean_image, dtype=np.float64)
    m, n = y.shape
    mu = float(y.mean())
    res = temporal_variance / frames
    s2 = float(np.var(y, ddof=1)) - res
    col_means = y.mean(axis=0)           # μ_y[n], one per column
    row_means = y.mean(axis=1)           # μ_y[m], one per row
    cav = float(np.mean((col_means - mu) ** 2)) - res / m
    rav = float(np.mean((row_means - mu) ** 2)) - res / n
    den = m * n - m - n
    col = (m * n - m) / den * cav - n / den * (s2 - rav)
    row = (m * n - n) / den * rav - m / den * (s2 - cav)
    pix = m * n / den * (s2 - cav - rav)
    return NonuniformityVariances(mu, s2, row, col, pix, cav, rav)


def spectrogram(image: np.ndarray, residual_dn2: float = 0.0, *,
                vertical: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum of the spatial variation along rows (horizontal) or columns.

    p(v) = mean over lines of |FFT(line − μ)|² / N  −  ``residual_dn2``, frequencies
    v = k/N [cycles/pixel] for k = 0..N/2. By Parseval Σ_k p(k) / N ≈ the spatial
    variance [DN²]. Returns (v, p).
    """
    y = np.asarray(image, dtype=np.float64)
    if vertical:
        y = y.T
    n = y.shape[1]
    f = np.fft.rfft(y - y.mean(), axis=1)
    p = (f.real ** 2 + f.imag ** 2).mean(axis=0) / n - residual_dn2
    return np.arange(p.size) / n, p


def _box5(img: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    return uniform_filter(img, size=5, mode="reflect")


def log_histogram(values: np.ndarray, bins: int = 256) -> dict:
    """Histogram with ``bins`` equal bins between min and max, counts as given (the
    standard plots them on a log axis), and the accumulated histogram of |values| —
    percentage of pixels with |value| ≥ x."""
    v = np.asarray(values, np.float64).ravel()
    counts, edges = np.histogram(v, bins=bins)
    a = np.sort(np.abs(v))
    x = np.linspace(0.0, a[-1] if a.size else 1.0, bins)
    share = 100.0 * (a.size - np.searchsorted(a, x, side="left")) / max(a.size, 1)
    return {"edges": edges, "counts": counts, "accumulated_x": x,
            "accumulated_percent": share}


@dataclass(frozen=True)
class Emva1288Results:
    """Results of the analysis: the summary numbers (``summary``, JSON-ready) and the
    curves for the plots (``curves``)."""

    summary: dict
    curves: dict = field(repr=False)

    def __getitem__(self, key):
        return self.summary[key]

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ...report.notebook import short_repr
        return short_repr(self)

    def to_pandas(self, table: str = "summary"):
        """``"summary"``: one row per EMVA 1288 quantity (key, quantity, value, unit);
        ``"ptc"``: the photon-transfer data, one row per step, units in
        ``df.attrs['units']`` (needs pandas)."""
        from ...report.notebook import emva_ptc_to_pandas, emva_summary_to_pandas
        if table not in ("summary", "ptc"):
            from ...errors import ConfigError
            raise ConfigError(f"table = {table!r}: valid choices are summary, ptc")
        return emva_summary_to_pandas(self) if table == "summary" else emva_ptc_to_pandas(self)

    def to_xarray(self):
        """The photon-transfer data as an ``xarray.Dataset`` over ``step`` (units in each
        variable's attrs, summary numbers in the dataset's attrs; needs xarray)."""
        from ...report.notebook import emva_to_xarray
        return emva_to_xarray(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ...report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from ...report.notebook import repr_png
        return repr_png(self)


def _finite(x):
    x = float(x)
    return x if np.isfinite(x) else None


def analyse(ds: Dataset1288) -> Emva1288Results:
    """Run the EMVA 1288 R4.0 Linear analysis on a reduced data set.

    Parameters
    ----------
    ds : Dataset1288
        From :func:`camtwin.measure.emva1288.simulate_measurement` or
        :func:`camtwin.measure.emva1288.load_frames`.

    Returns
    -------
    Emva1288Results
        ``summary`` holds (units in the names): ``quantum_efficiency`` (0..1),
        ``wavelength_nm``, ``system_gain_dn_per_e``, ``temporal_dark_noise_e``,
        ``saturation_capacity_e``, ``absolute_sensitivity_threshold_e`` (R4.0) and
        ``..._photons``, ``snr_max_db``, ``dynamic_range_db``, ``dark_current_e_per_s``
        (mean method) and ``dark_current_var_e_per_s``, ``dsnu_e``, ``prnu_percent`` (+
        row/column/pixel), ``linearity_error_percent``, and ``standard``.

    Raises
    ------
    ConfigError
        When the data cannot support a fit (no step below 70 % of saturation, saturation at
        the first step, non-positive gain).

    Notes
    -----
    Equations and sections of the standard: module docstring.
    """
    p = np.asarray(ds.photons, np.float64)
    y = np.asarray(ds.mean, np.float64) - np.asarray(ds.dark_mean, np.float64)
    v = np.asarray(ds.variance, np.float64) - np.asarray(ds.dark_variance, np.float64)
    t = np.asarray(ds.exposure_s, np.float64)

    i_sat = int(np.argmax(ds.variance))
    if i_sat == 0:
        raise ConfigError("the temporal variance is largest at the first step: no "
                          "photon-transfer curve below saturation (is the first step "
                          "already saturated?)")
    y_sat = y[i_sat]
    fit = (np.arange(p.size) < i_sat) & (y > 0) & (y <= FIT_MAX_FRACTION * y_sat)
    if fit.sum() < 2:
        raise ConfigError(f"only {int(fit.sum())} steps lie between 0 and 70 % of "
                          f"saturation; the sensitivity fit needs at least 2")
    r = _fit_origin(p[fit], y[fit])
    k = _fit_origin(y[fit], v[fit])
    if not (k > 0 and r > 0):
        raise ConfigError(f"fitted system gain K = {k:.4g} DN/e- or responsivity "
                          f"R = {r:.4g} DN/photon is not positive")
    eta = r / k

    # temporal dark noise: extrapolate σ²_y.dark to t = 0 when the exposure time varies
    if np.unique(t).size >= 3:
        slope_v, s2_dark = _fit_line(t, ds.dark_variance)
    else:
        s2_dark = float(np.mean(ds.dark_variance))
    upper_limit = s2_dark < MIN_DARK_VARIANCE_DN2
    sigma_d = (0.40 / k if upper_limit
               else float(np.sqrt(s2_dark - SIGMA2_Q_DN2)) / k)
    sigma_y_dark = float(np.sqrt(max(s2_dark, 0.0)))

    mu_p_sat = float(p[i_sat])
    mu_e_sat = eta * mu_p_sat
    mu_e_min = 0.5 + float(np.sqrt(s2_dark / k ** 2 + 0.25))           # R4.0
    mu_p_min = mu_e_min / eta
    mu_p_min_31 = (sigma_y_dark / k + 0.5) / eta                        # R3.1
    snr_max = float(np.sqrt(mu_e_sat))
    dr = mu_p_sat / mu_p_min

    # linearity (weighted by 1/Y², i.e. relative deviations)
    lo, hi = LINEARITY_RANGE
    lin = (y >= lo * y_sat) & (y <= hi * y_sat) & (np.arange(p.size) <= i_sat)
    if lin.sum() >= 2:
        w = 1.0 / y[lin]
        a1, a0 = np.polyfit(p[lin], y[lin], 1, w=w)
        model = a0 + a1 * p
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 100.0 * (y - model) / model
        le = float((dev[lin].max() - dev[lin].min()) / 2.0)
        le_min, le_max = float(dev[lin].min()), float(dev[lin].max())
    else:
        a0 = a1 = float("nan")
        dev = np.full_like(y, np.nan)
        le = le_min = le_max = float("nan")

    # dark current (dedicated series if measured, else the temporal dark pairs)
    if ds.dark_exposure_s is not None and len(ds.dark_exposure_s) >= 2:
        td, md, vd = (np.asarray(ds.dark_exposure_s, np.float64),
                      np.asarray(ds.dark_series_mean, np.float64),
                      np.asarray(ds.dark_series_variance, np.float64))
    else:
        td, md, vd = t, np.asarray(ds.dark_mean), np.asarray(ds.dark_variance)
    if np.unique(td).size >= 2:
        slope_m, off_m = _fit_line(td, md)
        slope_v2, off_v = _fit_line(td, vd)
        dc_mean = slope_m / k
        dc_var = slope_v2 / k ** 2
    else:
        slope_m = off_m = slope_v2 = off_v = dc_mean = dc_var = float("nan")

    doubling = None
    dc_temp = None
    if ds.dark_temperature_c is not None and len(ds.dark_temperature_c) >= 2:
        tt = np.asarray(ds.dark_temperature_c, np.float64)
        off = (np.asarray(ds.dark_temperature_offset, np.float64)
               if ds.dark_temperature_offset is not None else off_m)
        dc_temp = (np.asarray(ds.dark_temperature_mean, np.float64) - off) / (
            k * ds.dark_temperature_exposure_s)
        good = dc_temp > 0
        if good.sum() >= 2:
            sl, _ = _fit_line(tt[good], np.log2(dc_temp[good]))
            doubling = 1.0 / sl if sl > 0 else None

    summary = {
        "standard": STANDARD,
        "sensitivity_threshold_formula": "R4.0: mu_e.min = 1/2 + sqrt(sigma_y.dark^2/K^2 + 1/4)",
        "source": ds.source,
        "channel": ds.channel,
        "width_px": int(ds.width), "height_px": int(ds.height), "adc_bits": int(ds.bits),
        "pixel_area_um2": ds.pixel_area_um2,
        "temperature_c": ds.temperature_c,
        "wavelength_nm": float(ds.wavelength_nm),
        "steps": int(p.size),
        "quantum_efficiency": float(eta),
        "responsivity_dn_per_photon": float(r),
        "system_gain_dn_per_e": float(k),
        "inverse_system_gain_e_per_dn": float(1.0 / k),
        "temporal_dark_noise_dn": sigma_y_dark,
        "temporal_dark_noise_e": float(sigma_d),
        "temporal_dark_noise_is_upper_limit": bool(upper_limit),
        "saturation_index": i_sat,
        "saturation_capacity_photons": mu_p_sat,
        "saturation_capacity_e": float(mu_e_sat),
        "saturation_mean_dn": float(ds.mean[i_sat]),
        "absolute_sensitivity_threshold_e": float(mu_e_min),
        "absolute_sensitivity_threshold_photons": float(mu_p_min),
        "absolute_sensitivity_threshold_photons_r31": float(mu_p_min_31),
        "snr_max": snr_max,
        "snr_max_db": float(20 * np.log10(snr_max)),
        "snr_max_bits": float(np.log2(snr_max)),
        "dynamic_range": float(dr),
        "dynamic_range_db": float(20 * np.log10(dr)),
        "dynamic_range_bits": float(np.log2(dr)),
        "dynamic_range_db_r31": float(20 * np.log10(mu_p_sat / mu_p_min_31)),
        "linearity_error_percent": _finite(le),
        "linearity_error_min_percent": _finite(le_min),
        "linearity_error_max_percent": _finite(le_max),
        "dark_current_e_per_s": _finite(dc_mean),
        "dark_current_var_e_per_s": _finite(dc_var),
        "dark_current_doubling_c": doubling,
        "fit_range_steps": [int(np.flatnonzero(fit)[0]), int(np.flatnonzero(fit)[-1])],
    }
    if ds.pixel_area_um2:
        summary["saturation_capacity_e_per_um2"] = mu_e_sat / ds.pixel_area_um2
        summary["absolute_sensitivity_threshold_photons_per_um2"] = mu_p_min / ds.pixel_area_um2

    curves = {
        "photons": p, "signal_dn": y, "variance_dn2": v, "mean_dn": np.asarray(ds.mean),
        "dark_mean_dn": np.asarray(ds.dark_mean), "variance_total_dn2": np.asarray(ds.variance),
        "dark_variance_dn2": np.asarray(ds.dark_variance), "exposure_s": t,
        "fit_mask": fit, "linearity_mask": lin, "linearity_deviation_percent": dev,
        "linearity_fit": (float(a0), float(a1)),
        "dark_exposure_s": td, "dark_series_mean": md, "dark_series_variance": vd,
        "dark_mean_fit": (slope_m, off_m), "dark_var_fit": (slope_v2, off_v),
        "sigma2_y_dark": s2_dark,
    }
    if dc_temp is not None:
        curves["dark_temperature_c"] = np.asarray(ds.dark_temperature_c)
        curves["dark_current_vs_temperature"] = dc_temp

    if ds.spatial_bright is not None and ds.spatial_dark is not None:
        _spatial(ds, k, summary, curves)
    if ds.spectral_wavelength_nm is not None:
        sig = np.asarray(ds.spectral_mean) - np.asarray(ds.spectral_dark_mean)
        qe = sig / (k * np.asarray(ds.spectral_photons))
        curves["spectral_wavelength_nm"] = np.asarray(ds.spectral_wavelength_nm)
        curves["spectral_qe"] = qe
        summary["spectral_qe"] = {"wavelength_nm": [float(x) for x in
                                                    ds.spectral_wavelength_nm],
                                  "quantum_efficiency": [float(x) for x in qe]}
    return Emva1288Results(summary, curves)


def _spatial(ds: Dataset1288, k: float, summary: dict, curves: dict) -> None:
    b, d = ds.spatial_bright, ds.spatial_dark
    sb = nonuniformity_variances(b.mean_image, b.temporal_variance, b.frames)
    sd = nonuniformity_variances(d.mean_image, d.temporal_variance, d.frames)
    signal = sb.mean - sd.mean

    def e(var):
        return _finite(np.sqrt(var) / k) if var >= 0 else None

    def pct(var_b, var_d):
        x = var_b - var_d
        return _finite(100.0 * np.sqrt(x) / signal) if x >= 0 and signal > 0 else None

    summary.update({
        "dsnu_e": e(sd.total), "dsnu_row_e": e(sd.row), "dsnu_column_e": e(sd.column),
        "dsnu_pixel_e": e(sd.pixel),
        "dsnu_dn": _finite(np.sqrt(sd.total)) if sd.total >= 0 else None,
        "prnu_percent": pct(sb.total, sd.total), "prnu_row_percent": pct(sb.row, sd.row),
        "prnu_column_percent": pct(sb.column, sd.column),
        "prnu_pixel_percent": pct(sb.pixel, sd.pixel),
        "spatial_frames_bright": int(b.frames), "spatial_frames_dark": int(d.frames),
        "spatial_signal_dn": float(signal),
        "spatial_signal_fraction_of_saturation": float(
            signal / (summary["saturation_mean_dn"] - float(ds.dark_mean[summary[
                "saturation_index"]]))),
    })
    # spectrograms: dark (→ e⁻) and bright − dark (→ % of the signal)
    res_d = d.temporal_variance / d.frames
    res_b = b.temporal_variance / b.frames + res_d
    diff = b.mean_image - d.mean_image
    for name, vertical in (("horizontal", False), ("vertical", True)):
        f, pd_ = spectrogram(d.mean_image, res_d, vertical=vertical)
        _, pb = spectrogram(diff, res_b, vertical=vertical)
        curves[f"spectrogram_{name}_freq"] = f
        curves[f"spectrogram_{name}_dsnu_e"] = np.sqrt(np.clip(pd_, 0, None)) / k
        curves[f"spectrogram_{name}_prnu_percent"] = 100 * np.sqrt(np.clip(pb, 0, None)) / signal
        # uncorrected amplitude (spatial + the temporal noise left in the mean image), as the
        # standard's plots show it against the temporal floor √residual
        curves[f"spectrogram_{name}_dsnu_total_e"] = np.sqrt(np.clip(pd_ + res_d, 0, None)) / k
        curves[f"spectrogram_{name}_prnu_total_percent"] = (
            100 * np.sqrt(np.clip(pb + res_b, 0, None)) / signal)
    curves["spectrogram_floor_dsnu_e"] = float(np.sqrt(res_d) / k)
    curves["spectrogram_floor_prnu_percent"] = float(100 * np.sqrt(res_b) / signal)
    # defect-pixel histograms: DSNU in e⁻, PRNU (5×5 highpass) in %
    dsnu_img = (d.mean_image - d.mean_image.mean()) / k
    hp = diff - _box5(diff)
    prnu_img = 100.0 * hp / signal
    curves["histogram_dsnu_e"] = log_histogram(dsnu_img)
    curves["histogram_prnu_percent"] = log_histogram(prnu_img)
    curves["nonuniformity_bright"] = sb
    curves["nonuniformity_dark"] = sd
