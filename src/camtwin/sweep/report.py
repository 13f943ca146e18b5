"""``camtwin sweep-report``: plots and a summary table of a sweep store.

Writes into ``DIR``:

* ``metrics_vs_<parameter>.png`` — every result column against every swept numeric
  parameter (all ``ok`` points; a line joins the median per parameter value, one line per
  value of another swept parameter when one has ≤ 8 values; log axes when the values span
  more than a decade);
* ``pareto.png`` — the Pareto front of the chosen objectives (default: low-light
  ``lux_at_snr10`` ↓, ``mtf50_centre`` (or ``mtf50_cy_px``) ↑, cost proxy
  ``sensor_area_mm2`` ↓; those present in the store): all points, the non-dominated ones
  highlighted, the third objective as colour;
* ``report.html`` — the figures, a per-metric summary (unit, count, min, median, max and the
  parameters of the best point), the Pareto points and the errors; ``summary.csv`` — the
  per-metric summary as CSV.

Axes, legends and table headers name each quantity and its unit (``sensor pixel pitch
[µm]``, ``scene illuminance for SNR 10 on 18 % grey [lx], lower is better``) from the
``label`` / ``unit`` metadata the sweep writes into every Parquet field (see
:func:`camtwin.sweep.measurements.field_with_unit`); columns of older stores get the unit of
their name's suffix.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from .._io import write_bytes_atomic
from ..errors import ConfigError
from ..report.figures import new_figure, save_figure as _save
from .measurements import axis_label, field_label_unit
from .spec import DESCRIPTOR_COLUMNS, META_COLUMNS
from .store import open_store

#: Default Pareto objectives, in order of preference (column, "min"/"max"); the first two
#: low-light / sharpness columns found plus the cost proxy are used.
DEFAULT_OBJECTIVES = (("lux_at_snr10", "min"), ("mtf50_centre", "max"), ("mtf50_cy_px", "max"),
                      ("sensor_area_mm2", "min"))
_NON_RESULT = {c for c, _ in META_COLUMNS} | {c for c, _ in DESCRIPTOR_COLUMNS}


def parse_objectives(text: str | None, columns) -> list[tuple[str, str]]:
    """``"a:min,b:max"`` → [(a, min), (b, max)]; None → the defaults present in ``columns``."""
    if text is None:
        chosen, have_mtf = [], False
        for col, sense in DEFAULT_OBJECTIVES:
            if col in columns and not (col.startswith("mtf50") and have_mtf):
                chosen.append((col, sense))
                have_mtf = have_mtf or col.startswith("mtf50")
        return chosen
    out = []
    for part in text.split(","):
        name, _, sense = part.strip().partition(":")
        sense = sense or "min"
        if sense not in ("min", "max"):
            raise ConfigError(f"--pareto: {part.strip()!r}: write COLUMN:min or COLUMN:max")
        if name not in columns:
            raise ConfigError(f"--pareto: unknown column {name!r}; columns: "
                              f"{', '.join(sorted(columns))}")
        out.append((name, sense))
    if len(out) < 2:
        raise ConfigError("--pareto: give at least two objectives (COLUMN:min|max,...)")
    return out


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Non-dominated rows of ``values`` (n, k), every objective minimised: row i is
    dominated when some row is ≤ in all objectives and < in one."""
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[0]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        dominated = np.all(v <= v[i], axis=1) & np.any(v < v[i], axis=1)
        keep[i] = not dominated.any()
    return keep


def _figure(figsize):
    return new_figure(figsize, dpi=100)


def _numeric(col) -> np.ndarray | None:
    import pyarrow as pa

    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        return None
    return np.array([np.nan if v is None else float(v) for v in col.to_pylist()])


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.4g}"
    return str(v)


def write_sweep_report(store_url, out_dir, *, objectives: str | None = None) -> Path:
    """Write the report of the store at ``store_url`` into ``out_dir``; returns the HTML."""
    from ..report.html import escape, figure_img, table, write_page

    store = open_store(store_url, must_exist=True)
    t = store.read_table()
    if t.num_rows == 0:
        raise ConfigError(f"store {store_url}: no results yet")
    meta = store.read_meta() or {}
    spec = meta.get("spec", {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cols = t.column_names
    units = {c: field_label_unit(t.schema.field(c)) for c in cols}
    axis = {c: axis_label(t.schema.field(c)) for c in cols}
    status = t.column("status").to_pylist()
    ok = np.array([s == "ok" for s in status])
    param_cols = [c for c in cols if c not in _NON_RESULT and c in _param_columns(spec, cols)]
    result_cols = [c for c in cols if c not in _NON_RESULT and c not in param_cols]
    numeric = {c: _numeric(t.column(c)) for c in cols}
    varied = [c for c in param_cols if numeric[c] is not None
              and np.unique(numeric[c][~np.isnan(numeric[c])]).size > 1]
    metrics = [c for c in result_cols if numeric[c] is not None]

    body = [f"<p>{escape(spec.get('description') or '')}</p>",
            f"<p>store <code>{escape(store.url)}</code>: {t.num_rows} points, "
            f"{int(ok.sum())} ok, {int((~ok).sum())} errors.</p>"]
    figs: list[str] = []

    # metric vs parameter
    if varied and metrics:
        body.append("<h2>Metrics against parameters</h2><div class=\"row\">")
        for p in varied:
            x_all = numeric[p]
            fig = _figure((3.2 * min(len(metrics), 4), 2.8 * math.ceil(len(metrics) / 4)))
            for k, mcol in enumerate(metrics):
                ax = fig.add_subplot(math.ceil(len(metrics) / 4), min(len(metrics), 4), k + 1)
                y_all = numeric[mcol]
                sel = ok & np.isfinite(x_all) & np.isfinite(y_all)
                x, y = x_all[sel], y_all[sel]
                group = next((g for g in varied if g != p and
                              np.unique(numeric[g][sel]).size <= 8), None)
                if group is None:
                    ax.scatter(x, y, s=12, alpha=0.6)
                    groups = [(None, np.ones(x.size, dtype=bool))]
                else:
                    gv = numeric[group][sel]
                    groups = [(f"{u:g} {units[group][1]}".strip(), gv == u)
                              for u in np.unique(gv)]
                for label, gm in groups:
                    if not gm.any():
                        continue
                    ux = np.unique(x[gm])
                    med = [np.median(y[gm][x[gm] == u]) for u in ux]
                    if label is None:
                        ax.plot(ux, med, "-", lw=1.2, color="k")
                    else:
                        ax.plot(x[gm], y[gm], ".", alpha=0.5)
                        ax.plot(ux, med, "-", lw=1.2, color=ax.lines[-1].get_color(),
                                label=label)
                if group is not None and k == 0:
                    ax.legend(fontsize=7, loc="best", title=_wrap(units[group][0], 24),
                              title_fontsize=7)
                if x.size:
                    ux = np.unique(x)
                    if ux.size and ux.min() > 0 and ux.max() / ux.min() > 10:
                        ax.set_xscale("log")
                    if y.size and y.min() > 0 and y.max() / y.min() > 30:
                        ax.set_yscale("log")
                ax.set_xlabel(_wrap(axis[p], 34), fontsize=8)
                ax.set_ylabel(_wrap(axis[mcol], 30), fontsize=8)
                ax.grid(alpha=0.3)
            name = f"metrics_vs_{p}.png"
            _save(fig, out / name)
            figs.append(name)
            body.append(f"<figure>{figure_img(fig, f'metrics vs {p}')}"
                        f"<figcaption>{escape(name)}</figcaption></figure>")
        body.append("</div>")

    # Pareto front
    objs = parse_objectives(objectives, [c for c in cols if numeric.get(c) is not None])
    pareto_rows = []
    if len(objs) >= 2:
        v = np.column_stack([numeric[c] if s == "min" else -numeric[c] for c, s in objs])
        sel = ok & np.all(np.isfinite(v), axis=1)
        idx = np.nonzero(sel)[0]
        if idx.size:
            front = idx[pareto_mask(v[sel])]
            fig = _figure((6.4, 4.6))
            ax = fig.add_subplot()
            (c0, s0), (c1, s1) = objs[0], objs[1]
            colour = numeric[objs[2][0]][idx] if len(objs) > 2 else None
            style = {"c": colour, "cmap": "viridis"} if colour is not None else {}
            sc = ax.scatter(numeric[c0][idx], numeric[c1][idx], s=18, alpha=0.7,
                            label="points", **style)
            ax.scatter(numeric[c0][front], numeric[c1][front], s=70, facecolors="none",
                       edgecolors="r", linewidths=1.4, label="Pareto front")
            if colour is not None:
                fig.colorbar(sc, ax=ax, label=_wrap(_objective(axis, *objs[2]), 40))
            ax.set_xlabel(_wrap(_objective(axis, c0, s0), 60))
            ax.set_ylabel(_wrap(_objective(axis, c1, s1), 45))
            x0 = numeric[c0][idx]
            if x0.min() > 0 and x0.max() / x0.min() > 30:
                ax.set_xscale("log")
            ax.legend(loc="best", fontsize=8)
            ax.grid(alpha=0.3)
            _save(fig, out / "pareto.png")
            figs.append("pareto.png")
            body.append("<h2>Pareto front</h2><p>Objectives: " + ", ".join(
                f"{escape(_objective(axis, c, s))} (<code>{escape(c)}</code>)"
                for c, s in objs) + f"; {front.size} of {idx.size} points are "
                "non-dominated.</p>" + figure_img(fig, "Pareto front"))
            show = ["point_index", *param_cols, *(c for c, _ in objs if c not in param_cols)]
            order = front[np.argsort(numeric[objs[0][0]][front])]
            for i in order:
                pareto_rows.append([_py(t.column(c)[int(i)].as_py()) for c in show])
            body.append(table([_header(c, units) for c in show], pareto_rows))
    else:
        body.append("<p class=\"muted\">No Pareto front: fewer than two objectives among the "
                    "stored columns (use --pareto COLUMN:min,COLUMN:max).</p>")

    # summary
    header = ["metric", "unit", "n ok", "min", "median", "max", "best",
              "parameters of the best"]
    summary = []
    for mcol in metrics:
        y = numeric[mcol]
        sel = ok & np.isfinite(y)
        if not sel.any():
            summary.append([mcol, units[mcol][1], 0, "", "", "", "", ""])
            continue
        sense = dict(objs).get(mcol, _default_sense(mcol))
        ys = y[sel]
        best = np.nonzero(sel)[0][int(np.argmin(ys) if sense == "min" else np.argmax(ys))]
        params = ", ".join(f"{p}={_fmt(t.column(p)[int(best)].as_py())} {units[p][1]}".strip()
                           for p in param_cols)
        summary.append([mcol, units[mcol][1], int(sel.sum()), float(ys.min()),
                        float(np.median(ys)),
                        float(ys.max()), f"{sense} → {_fmt(float(y[best]))}", params])
    body.insert(2, "<h2>Summary</h2>" + table(header, [[_py(v) for v in r] for r in summary]))
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *summary])
    write_bytes_atomic(out / "summary.csv", buf.getvalue().encode())

    errs = [(int(t.column("point_index")[i].as_py()), t.column("error")[i].as_py())
            for i in np.nonzero(~ok)[0]]
    if errs:
        body.append(f"<h2>Errors ({len(errs)})</h2>" + table(
            ["point", "error"], sorted(errs)[:200]))
    return write_page(out / "report.html", f"camtwin sweep — {spec.get('name', store.url)}",
                      "\n".join(body))


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


def _objective(axis: dict, column: str, sense: str) -> str:
    """An axis title: the column's label and unit, and which end is better."""
    return f"{axis[column]}, {'lower' if sense == 'min' else 'higher'} is better"


def _header(column: str, units: dict) -> str:
    unit = units[column][1]
    return f"{column} [{unit}]" if unit else column


def _py(v):
    if isinstance(v, float):
        return float(f"{v:.6g}") if math.isfinite(v) else str(v)
    return v


def _default_sense(column: str) -> str:
    """Which end of a metric is better when no objective says so."""
    if "_margin_" in column:          # an evaluation's margin: > 0 passes
        return "max"
    low = ("lux_at", "irradiance_at", "skew", "delta_e", "noise", "threshold", "dark",
           "dsnu", "prnu", "linearity", "failed", "area")
    return "min" if any(k in column for k in low) else "max"


def _param_columns(spec: dict, cols) -> list[str]:
    from .measurements import column_name

    names = [column_name(n) for n in (spec.get("parameters") or {})]
    return [c for c in names if c in cols]
