"""Publish an EMVA 1288 result: ``results.json`` and a self-contained ``report.html``.

The HTML embeds every plot as a base64 PNG (no external files): photon transfer,
sensitivity, SNR (measured, ideal √μ_p and the theoretical curve of the fitted linear model
SNR = η μ_p / √(σ²_d + σ²_q/K² + η μ_p)), linearity deviation, dark current vs exposure time
(and temperature), horizontal/vertical spectrograms of DSNU and PRNU, defect-pixel
histograms, spectral QE (if measured) and the summary table. Both files are written
atomically, the JSON last-but-one and the HTML last; if drawing fails nothing is written.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from ..._io import write_bytes_atomic
from ...errors import OutputError
from ...report.figures import new_figure
from ...report.html import figure_png_b64
from .analysis import SIGMA2_Q_DN2, Emva1288Results

#: Rows of the summary table: (key, label, unit, format).
SUMMARY_ROWS = (
    ("quantum_efficiency", "Quantum efficiency η", "%", "pct"),
    ("wavelength_nm", "Wavelength λ", "nm", ".0f"),
    ("system_gain_dn_per_e", "System gain K", "DN/e⁻", ".4g"),
    ("inverse_system_gain_e_per_dn", "1/K", "e⁻/DN", ".4g"),
    ("temporal_dark_noise_e", "Temporal dark noise σ_d", "e⁻", ".3g"),
    ("temporal_dark_noise_dn", "Temporal dark noise σ_y.dark", "DN", ".3g"),
    ("saturation_capacity_e", "Saturation capacity μ_e.sat", "e⁻", ".5g"),
    ("absolute_sensitivity_threshold_e", "Abs. sensitivity threshold μ_e.min (R4.0)", "e⁻", ".3g"),
    ("absolute_sensitivity_threshold_photons", "Abs. sensitivity threshold μ_p.min (R4.0)",
     "photons", ".3g"),
    ("snr_max_db", "SNR_max", "dB", ".2f"),
    ("dynamic_range_db", "Dynamic range", "dB", ".2f"),
    ("linearity_error_percent", "Linearity error LE", "%", ".3g"),
    ("dark_current_e_per_s", "Dark current (mean)", "e⁻/s", ".4g"),
    ("dark_current_var_e_per_s", "Dark current (variance)", "e⁻/s", ".4g"),
    ("dark_current_doubling_c", "Dark current doubling temperature", "°C", ".3g"),
    ("dsnu_e", "DSNU1288", "e⁻", ".3g"),
    ("dsnu_row_e", "DSNU1288 row", "e⁻", ".3g"),
    ("dsnu_column_e", "DSNU1288 column", "e⁻", ".3g"),
    ("dsnu_pixel_e", "DSNU1288 pixel", "e⁻", ".3g"),
    ("prnu_percent", "PRNU1288", "%", ".3g"),
    ("prnu_row_percent", "PRNU1288 row", "%", ".3g"),
    ("prnu_column_percent", "PRNU1288 column", "%", ".3g"),
    ("prnu_pixel_percent", "PRNU1288 pixel", "%", ".3g"),
)


def _fmt(value, fmt):
    if value is None:
        return "—"
    if fmt == "pct":
        return f"{100 * value:.1f}"
    return format(value, fmt)


def _figure():
    return new_figure((6.4, 4.0), dpi=100)


def make_plots(results: Emva1288Results) -> dict[str, str]:
    """Title → base64 PNG of every plot of the report."""
    s, c = results.summary, results.curves
    k, eta = s["system_gain_dn_per_e"], s["quantum_efficiency"]
    fit = c["fit_mask"]
    plots = {}

    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(c["signal_dn"], c["variance_dn2"], "o", ms=3, label="data")
    ax.plot(c["signal_dn"][fit], c["variance_dn2"][fit], "o", ms=3, label="fit range (0–70 %)")
    x = np.linspace(0, c["signal_dn"][fit].max(), 50)
    ax.plot(x, k * x, "-", label=f"K = {k:.4g} DN/e⁻")
    ax.axvline(c["signal_dn"][s["saturation_index"]], ls=":", c="grey", label="saturation")
    ax.set(xlabel="μ_y − μ_y.dark [DN]", ylabel="σ²_y − σ²_y.dark [DN²]",
           title="Photon transfer")
    ax.legend()
    plots["Photon transfer"] = figure_png_b64(fig)

    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(c["photons"], c["signal_dn"], "o", ms=3, label="data")
    x = np.linspace(0, c["photons"][fit].max(), 50)
    ax.plot(x, s["responsivity_dn_per_photon"] * x, "-",
            label=f"R = {s['responsivity_dn_per_photon']:.4g} DN/photon, η = {100 * eta:.1f} %")
    ax.set(xlabel="μ_p [photons/pixel]", ylabel="μ_y − μ_y.dark [DN]", title="Sensitivity")
    ax.legend()
    plots["Sensitivity"] = figure_png_b64(fig)

    fig = _figure()
    ax = fig.add_subplot()
    p = c["photons"]
    ok = (c["variance_total_dn2"] > 0) & (p > 0) & (np.arange(p.size) <= s["saturation_index"])
    snr = c["signal_dn"][ok] / np.sqrt(c["variance_total_dn2"][ok])
    ax.loglog(p[ok], np.clip(snr, 1e-3, None), "o", ms=3, label="measured")
    pp = np.geomspace(max(s["absolute_sensitivity_threshold_photons"] / 3, 0.1),
                      s["saturation_capacity_photons"], 200)
    sd2 = c["sigma2_y_dark"] / k ** 2
    ax.loglog(pp, eta * pp / np.sqrt(sd2 + eta * pp), "-", label="theoretical (fitted model)")
    ax.loglog(pp, np.sqrt(pp), "--", label="ideal √μ_p")
    ax.axvline(s["absolute_sensitivity_threshold_photons"], ls=":", c="grey",
               label="μ_p.min / μ_p.sat")
    ax.axvline(s["saturation_capacity_photons"], ls=":", c="grey")
    ax.set(xlabel="μ_p [photons/pixel]", ylabel="SNR", title="Signal-to-noise ratio")
    ax.legend()
    plots["SNR"] = figure_png_b64(fig)

    fig = _figure()
    ax = fig.add_subplot()
    lin = c["linearity_mask"]
    ax.plot(p, c["linearity_deviation_percent"], "o", ms=3, label="all steps")
    ax.plot(p[lin], c["linearity_deviation_percent"][lin], "o", ms=3, label="5–95 % range")
    ax.axhline(0, c="k", lw=0.8)
    lo = np.nanmin(c["linearity_deviation_percent"][lin]) if lin.any() else -1
    hi = np.nanmax(c["linearity_deviation_percent"][lin]) if lin.any() else 1
    pad = max(hi - lo, 0.1)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set(xlabel="μ_p [photons/pixel]", ylabel="δ_y [%]",
           title=f"Linearity error LE = {_fmt(s['linearity_error_percent'], '.3g')} %")
    ax.legend()
    plots["Linearity"] = figure_png_b64(fig)

    fig = _figure()
    ax = fig.add_subplot()
    td = c["dark_exposure_s"]
    ax.plot(td * 1e3, c["dark_series_mean"], "o", ms=4, label="μ_y.dark [DN]")
    sm, om = c["dark_mean_fit"]
    if np.isfinite(sm):
        ax.plot(td * 1e3, sm * td + om, "-", label=f"mean fit: {s['dark_current_e_per_s']:.4g} e⁻/s")
    ax2 = ax.twinx()
    ax2.plot(td * 1e3, c["dark_series_variance"], "s", ms=4, c="C3", label="σ²_y.dark [DN²]")
    sv, ov = c["dark_var_fit"]
    if np.isfinite(sv):
        ax2.plot(td * 1e3, sv * td + ov, "-", c="C3",
                 label=f"variance fit: {_fmt(s['dark_current_var_e_per_s'], '.4g')} e⁻/s")
    ax.set(xlabel="exposure time [ms]", ylabel="μ_y.dark [DN]", title="Dark current")
    ax2.set_ylabel("σ²_y.dark [DN²]")
    fig.legend(loc="outside lower center", ncols=2)
    plots["Dark current"] = figure_png_b64(fig)

    if "dark_temperature_c" in c:
        fig = _figure()
        ax = fig.add_subplot()
        ax.semilogy(c["dark_temperature_c"], np.clip(c["dark_current_vs_temperature"], 1e-6, None),
                    "o-")
        ax.set(xlabel="temperature [°C]", ylabel="dark current [e⁻/s]",
               title="Dark current vs temperature")
        plots["Dark current vs temperature"] = figure_png_b64(fig)

    if "spectrogram_horizontal_freq" in c:
        for what, name, unit in (("dsnu_e", "DSNU", "e⁻"), ("prnu_percent", "PRNU", "%")):
            plots[f"Spectrogram {name}"] = _spectrogram_png(s, c, what, name, unit)
        for what, unit in (("dsnu_e", "e⁻"), ("prnu_percent", "%")):
            h = c[f"histogram_{what}"]
            fig = _figure()
            ax = fig.add_subplot(1, 2, 1)
            ctr = 0.5 * (h["edges"][1:] + h["edges"][:-1])
            ax.semilogy(ctr, np.clip(h["counts"], 0.5, None), drawstyle="steps-mid")
            ax.set(xlabel=f"deviation [{unit}]", ylabel="pixels", title="histogram")
            ax = fig.add_subplot(1, 2, 2)
            ax.semilogy(h["accumulated_x"], np.clip(h["accumulated_percent"], 1e-4, None))
            ax.set(xlabel=f"|deviation| [{unit}]", ylabel="pixels ≥ x [%]", title="accumulated")
            name = "DSNU" if what == "dsnu_e" else "PRNU (5×5 highpass)"
            fig.suptitle(f"Defect pixels: {name}")
            plots[f"Histogram {name}"] = figure_png_b64(fig)

    if "spectral_qe" in c:
        fig = _figure()
        ax = fig.add_subplot()
        ax.plot(c["spectral_wavelength_nm"], 100 * c["spectral_qe"], "o-")
        ax.set(xlabel="wavelength [nm]", ylabel="QE [%]", title="Spectral quantum efficiency")
        plots["Spectral QE"] = figure_png_b64(fig)
    return plots


def _minor_log_label(value: float, _pos=None) -> str:
    """Label only the 2× and 5× minor ticks of a log axis (plain numbers)."""
    if not value > 0:
        return ""
    mantissa = value / 10 ** np.floor(np.log10(value))
    return f"{value:g}" if np.isclose(mantissa, 2) or np.isclose(mantissa, 5) else ""


def _spectrogram_png(s: dict, c: dict, what: str, name: str, unit: str) -> str:
    """Horizontal and vertical spectrograms of DSNU or PRNU, one panel each (EMVA 1288 R4.0
    §8.6): the amplitude √p(v) of the mean image's variation along rows / columns, against
    two reference lines — the spatial nonuniformity ``name``1288 (its white level: a flat
    spectrum on that line is white nonuniformity, peaks are periodic patterns) and the floor
    the temporal noise left in the mean image puts under every spectrum."""
    from matplotlib.ticker import FormatStrFormatter, FuncFormatter

    fig = new_figure((6.4, 5.0), dpi=100)
    axes = fig.subplots(2, 1, sharex=True, sharey=True)
    level, floor = s.get(what), c.get(f"spectrogram_floor_{what}")
    for ax, d in zip(axes, ("horizontal", "vertical")):
        f = c[f"spectrogram_{d}_freq"][1:]
        amp = c.get(f"spectrogram_{d}_{what.replace('_', '_total_', 1)}",
                    c[f"spectrogram_{d}_{what}"])[1:]
        positive = amp[amp > 0]
        low = float(positive.min()) if positive.size else 1e-6
        ax.semilogy(f, np.clip(amp, low, None), lw=0.7, c="C0", label="spatial + temporal")
        if level is not None and level > 0:
            ax.axhline(level, ls="--", c="C3", lw=1.2, label=f"{name}1288 = {level:.3g} {unit}")
        if floor is not None and floor > 0:
            ax.axhline(floor, ls="-.", c="C2", lw=1.2,
                       label=f"temporal floor {floor:.3g} {unit}")
        ax.set_ylabel(f"{d} [{unit}]")
        ax.grid(True, which="major", alpha=0.3)
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_log_label))
    axes[0].set_title(f"Spectrogram {name}")
    axes[-1].set_xlabel("spatial frequency [cycles/pixel]")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize="small")
    return figure_png_b64(fig)


def assumed_labels(assumed: dict) -> list[str]:
    """Short labels of the assumed quantities (summary-table order; row/column/pixel parts
    folded into their total)."""
    out = []
    for key, label, _, _ in SUMMARY_ROWS:
        if key in assumed and not any(label.startswith(o) for o in out):
            out.append(label)
    return out


def render_html(results: Emva1288Results, plots: dict[str, str], *, title: str = "") -> str:
    """The self-contained HTML report. Quantities listed in ``summary['assumed']`` (a twin's
    value that comes from an assumption, not a datasheet) are marked † with the reason."""
    s = results.summary
    assumed = s.get("assumed") or {}
    reasons = list(dict.fromkeys(assumed.values()))

    def mark(key):
        if key not in assumed:
            return ""
        n = reasons.index(assumed[key]) + 1
        return f" <span class=a title='{html.escape(assumed[key])}'>†{n} assumed</span>"

    rows = "\n".join(
        f"<tr><td>{html.escape(label)}</td><td class=n>{_fmt(s.get(key), fmt)}</td>"
        f"<td>{html.escape(unit)}{mark(key)}</td></tr>"
        for key, label, unit, fmt in SUMMARY_ROWS if key in s)
    notes = "".join(f"<li>†{i} {html.escape(r)}</li>" for i, r in enumerate(reasons, 1))
    if notes:
        notes = ("<p><b>Assumed values.</b> This is a twin built from a datasheet; the values "
                 "marked † do not come from it:</p><ul class=a>" + notes + "</ul>")
    figs = "\n".join(f"<figure><img alt='{html.escape(t)}' src='data:image/png;base64,{b}'>"
                     f"<figcaption>{html.escape(t)}</figcaption></figure>"
                     for t, b in plots.items())
    head = html.escape(title or f"EMVA 1288 — {s.get('source', '')}")
    note = ("σ_d is an upper limit (σ²_y.dark < 0.24 DN²). "
            if s.get("temporal_dark_noise_is_upper_limit") else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{head}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td{{border-bottom:1px solid #ddd;padding:3px 10px}}
td.n{{text-align:right;font-variant-numeric:tabular-nums}}
figure{{display:inline-block;margin:8px}}img{{max-width:470px}}
.a{{color:#a04000}}</style></head><body>
<h1>{head}</h1>
<p>{html.escape(s['standard'])}; channel {html.escape(str(s.get('channel')))},
{s['width_px']}×{s['height_px']} pixels, {s['adc_bits']} bit, λ = {s['wavelength_nm']:.0f} nm,
{s['steps']} photon-transfer steps. Sensitivity threshold:
{html.escape(s['sensitivity_threshold_formula'])}. {html.escape(note)}</p>
<table><tr><th>Quantity</th><th>Value</th><th>Unit</th></tr>
{rows}
</table>
{notes}
{figs}
</body></html>
"""


def _json_ready(obj):
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def write_report(results: Emva1288Results, out_dir, *, title: str = "",
                 extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``out_dir/results.json`` and ``out_dir/report.html`` (atomically; the plots are
    drawn before either file is written). Returns both paths."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out = {str(out)!r}: exists and is not a folder")
    summary = dict(results.summary)
    if extra:
        summary.update(extra)
    plots = make_plots(results)
    page = render_html(Emva1288Results(summary, results.curves), plots, title=title)
    text = json.dumps(_json_ready(summary), indent=2, ensure_ascii=False) + "\n"
    j = write_bytes_atomic(out / "results.json", text.encode("utf-8"))
    try:
        h = write_bytes_atomic(out / "report.html", page.encode("utf-8"))
    except BaseException:
        j.unlink(missing_ok=True)
        raise
    return j, h


__all__ = ["write_report", "make_plots", "render_html", "assumed_labels", "SUMMARY_ROWS",
           "SIGMA2_Q_DN2"]
