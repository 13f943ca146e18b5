"""Figures for depth modules: precision/accuracy against distance with the requirement, the
photon-timing histogram of a dToF pixel, and a depth error map.

Same conventions as :mod:`camtwin.report.figures`: each function draws on a fresh
matplotlib Figure with the non-interactive Agg backend (no pyplot state) and returns it;
:func:`save_figure` (re-exported from report.figures) writes it as a PNG atomically. Lines
carry a ``gid`` ("precision:<label>", "accuracy:<label>", "limit:precision", ...) so callers
and tests can find the data they plotted.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import ConfigError
from ..report.figures import figure_png_bytes, new_figure, save_figure
from ..units import SPEED_OF_LIGHT_M_S

__all__ = ["plot_depth_vs_distance", "plot_dtof_histogram", "plot_depth_error_map",
           "save_figure", "figure_png_bytes"]


def _series(values, n: int, name: str) -> dict[str, np.ndarray]:
    """One curve (array) or several ({label: array}) → {label: float array of length n}."""
    if values is None:
        return {}
    items = values.items() if isinstance(values, Mapping) else [("", values)]
    out = {}
    for label, v in items:
        a = np.asarray(v, dtype=np.float64).ravel()
        if a.shape != (n,):
            raise ConfigError(f"{name}{'[' + repr(label) + ']' if label else ''}: {a.size} "
                              f"values for {n} distances; one per distance")
        out[str(label)] = a
    return out


def plot_depth_vs_distance(distances_m, *, precision_pct=None, accuracy_pct=None,
                           precision_limit_pct: float | None = None,
                           accuracy_limit_pct: float | None = None,
                           max_range_m: float | None = None, title: str = "",
                           logy: bool = False):
    """Precision and/or accuracy [% of distance] against distance [m], with requirement lines.

    Parameters
    ----------
    distances_m : (n,) m
    precision_pct, accuracy_pct : (n,) %, or {label: (n,)} for several curves (e.g. one per
        target reflectivity "10 %", "50 %", "90 %"); each gets its own panel.
    precision_limit_pct, accuracy_limit_pct : %, drawn as a dashed horizontal line labelled
        "requirement" (for accuracy, ±limit when the curve is signed).
    max_range_m : m, marked with a dotted vertical line on the precision panel
        (:func:`camtwin.depth.metrics.max_range_at_precision`); ignored if not finite.

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = np.asarray(distances_m, dtype=np.float64).ravel()
    if d.size == 0:
        raise ConfigError("distances_m: empty; at least one distance is required")
    prec = _series(precision_pct, d.size, "precision_pct")
    acc = _series(accuracy_pct, d.size, "accuracy_pct")
    if not prec and not acc:
        raise ConfigError("plot_depth_vs_distance: give precision_pct and/or accuracy_pct")
    panels = [(k, s) for k, s in (("precision", prec), ("accuracy", acc)) if s]
    fig = new_figure((5.0 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    order = np.argsort(d, kind="stable")
    for ax, (kind, series) in zip(axes, panels):
        for label, y in series.items():
            ax.plot(d[order], y[order], marker="o", ms=3,
                    label=label or kind, gid=f"{kind}:{label}")
        limit = precision_limit_pct if kind == "precision" else accuracy_limit_pct
        if limit is not None:
            ax.axhline(limit, color="tab:red", ls="--", lw=1.2, label=f"requirement {limit:g} %",
                       gid=f"limit:{kind}")
            signed = any(np.nanmin(y) < 0 for y in series.values() if np.isfinite(y).any())
            if kind == "accuracy" and signed:
                ax.axhline(-limit, color="tab:red", ls="--", lw=1.2, gid="limit:accuracy:low")
        if kind == "precision" and max_range_m is not None and np.isfinite(max_range_m):
            ax.axvline(max_range_m, color="grey", ls=":", lw=1.2,
                       label=f"max range {max_range_m:.2f} m", gid="max_range")
        ylabel = ("precision (temporal σ) [% of distance]" if kind == "precision"
                  else "accuracy (mean error) [% of distance]")
        ax.set(xlabel="distance [m]", ylabel=ylabel)
        if logy and kind == "precision":
            ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_dtof_histogram(counts, bin_width_s: float, *, corrected=None,
                        true_distance_m: float | None = None, title: str = ""):
    """Photon-timing histogram of one dToF pixel/zone: counts against arrival time.

    Bin k spans [k·Δt, (k+1)·Δt) and is drawn at its centre t_k = (k + ½)·Δt [ns]; the top
    axis converts time to distance d = c·t/2. ``corrected`` is overlaid in the same units
    (detections expected per bin without pile-up): ``camtwin.depth.dtof.coates_correct``
    returns λ̂ per bin per cycle, so pass ``coates_correct(h, N) * N``. ``true_distance_m`` is
    marked at t = 2d/c.

    References
    ----------
    Coates, "The correction for photon 'pile-up' in the measurement of radiative lifetimes",
    J. Phys. E 1, 878 (1968).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or c.size < 2:
        raise ConfigError(f"counts: shape {c.shape}; a 1-D histogram of >= 2 bins is required")
    if not (np.isfinite(bin_width_s) and bin_width_s > 0):
        raise ConfigError(f"bin_width_s = {bin_width_s!r}; valid range: > 0 s")
    t_ns = (np.arange(c.size) + 0.5) * bin_width_s * 1e9
    fig = new_figure((6.4, 3.6))
    ax = fig.add_subplot()
    ax.step(t_ns, c, where="mid", color="tab:blue", lw=1.2, label="measured counts",
            gid="counts")
    if corrected is not None:
        cc = np.asarray(corrected, dtype=np.float64).ravel()
        if cc.shape != c.shape:
            raise ConfigError(f"corrected: {cc.size} bins for a {c.size}-bin histogram")
        ax.step(t_ns, cc, where="mid", color="tab:orange", lw=1.2,
                label="Coates-corrected", gid="corrected")
    if true_distance_m is not None:
        ax.axvline(2.0 * true_distance_m / SPEED_OF_LIGHT_M_S * 1e9, color="k", ls=":",
                   lw=1.0, label=f"true distance {true_distance_m:g} m", gid="truth")
    ns_to_m = 0.5 * SPEED_OF_LIGHT_M_S * 1e-9
    top = ax.secondary_xaxis("top", functions=(lambda t: t * ns_to_m, lambda m: m / ns_to_m))
    top.set_xlabel("distance c·t/2 [m]")
    ax.set(xlabel="photon arrival time [ns]", ylabel="counts per bin",
           xlim=(0, c.size * bin_width_s * 1e9))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def plot_depth_error_map(depth_m, truth_m, *, limit_mm: float | None = None,
                         title: str = ""):
    """Map of the depth error (depth − truth) in mm, diverging colours, invalid = dark grey.

    The colour range is ±``limit_mm`` (default: the 99th percentile of |error|), so one
    glance shows where the error exceeds a requirement.
    """
    d = np.asarray(depth_m, dtype=np.float64)
    t = np.asarray(truth_m, dtype=np.float64)
    if d.ndim != 2 or d.size == 0:
        raise ConfigError(f"depth_m: shape {d.shape}; a depth map (H, W) is required")
    if t.shape != d.shape:
        raise ConfigError(f"truth_m: shape {t.shape} does not match depth_m {d.shape}")
    if limit_mm is not None and not (np.isfinite(limit_mm) and limit_mm > 0):
        raise ConfigError(f"limit_mm = {limit_mm!r}; valid range: > 0 mm or None")
    ok = np.isfinite(d) & np.isfinite(t)
    err = np.where(ok, (d - t) * 1000.0, 0.0)
    masked = np.ma.masked_array(err, mask=~ok)
    if limit_mm is None:
        limit_mm = float(np.percentile(np.abs(err[ok]), 99)) if ok.any() else 1.0
        limit_mm = limit_mm if limit_mm > 0 else 1.0
    import matplotlib

    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.2")
    h, w = d.shape
    fig = new_figure((5.6, 5.6 * h / w + 0.6))
    ax = fig.add_subplot()
    im = ax.imshow(masked, cmap=cmap, vmin=-limit_mm, vmax=limit_mm, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="depth error (measured − true) [mm]")
    n_ok = int(ok.sum())
    mean = float(err[ok].mean()) if n_ok else float("nan")
    ax.set(xlabel="column [px]", ylabel="row [px]",
           title=title or f"depth error: mean {mean:+.2f} mm, {n_ok / d.size:.1%} valid")
    return fig
