"""Yield of a tolerance run: pass fraction with its confidence interval, the failure modes
ranked by the tolerances that drive them, active alignment, plots and a report.

* **Run** (:func:`run_yield`): the draws of a :class:`~.tolerance.CompiledTolerance` are
  sweep points; they run on Dask through :func:`~camtwin.sweep.runner.run_sweep` (a
  LocalCluster of ``workers`` processes, default 2) into the Parquet/DuckDB store, or
  in this process (``executor="inline"``, the same :func:`~.runner.run_batch` and store;
  for small runs and tests). Draws already in the store are not run again.
* **Yield** (:func:`analyse_yield`): a draw passes when every judged column lies within
  its limits (``min ≤ value ≤ max``); a draw whose measurement failed (status ``error``)
  or gave NaN counts as a failure. The yield Ŷ = k/n comes with a 95 % **Wilson score
  interval** (Wilson 1927, *JASA* 22:209–212; recommended over the Wald interval by Brown,
  Cai & DasGupta 2001, *Statistical Science* 16:101–133)::

      centre = (Ŷ + z²/2n) / (1 + z²/n),   half = z/(1 + z²/n) · √(Ŷ(1 − Ŷ)/n + z²/4n²)

  with z = Φ⁻¹(0.975); ``method="clopper-pearson"`` gives the exact interval
  [B(α/2; k, n − k + 1), B(1 − α/2; k + 1, n − k)] (Clopper & Pearson 1934, *Biometrika*
  26:404–413).
* **Failure modes ranked by contribution** (:func:`sensitivity`): for each failure mode
  (a measurement — its four corners together — failing its limits; and "any"), a
  logistic regression of fail on the standardised draws, with a linear and a centred
  quadratic term per tolerance, [z_k, (z_k² − 1)/√2] (z_k the draw's normal score; the
  quadratic term catches symmetric effects such as |tilt|, which a linear term misses),
  fitted by iteratively reweighted least squares with a small ridge penalty (λ = 0.1,
  so that perfectly separated cases converge). The contribution of tolerance k is the
  **likelihood-ratio drop**: the increase of the deviance when k's two terms are removed
  (refit without them), ΔD_k = D(without k) − D(full) (Hosmer, Lemeshow & Sturdivant,
  *Applied Logistic Regression*, 3rd ed. 2013, §1.3); the report gives each ΔD_k and its
  share of ΣΔD. A tolerance with ΔD_k < 5.99 (χ²₂ 95 %: two terms) is not
  distinguishable from noise at this n (the ridge-penalised fit of a nearly separable
  case inflates small drops somewhat; read the shares, not the flag, for weak drivers).
* **Active alignment**: the same analysis on the ``aa_`` columns; the report shows both
  yields, each with its interval, and the paired gain (draws failing as built that pass
  after alignment, and the reverse).
* **Report** (:func:`write_yield_report`): ``yield.png`` (yield with its interval, as built
  and aligned), ``sensitivity.png`` (ΔD share per tolerance and failure mode),
  ``scatter.png`` (the dominant tolerance against the metric it drives, pass/fail and
  the limit), ``yield.json`` and ``report.html`` (showing the PNGs next to it).

Example (Python; ``camtwin yield SPEC --draws N --out STORE`` does the same)::

    from camtwin.sweep.tolerance import load_tolerance
    from camtwin.sweep.yields import analyse_yield, run_yield, write_yield_report

    c = load_tolerance("examples/yield_phone_1inch.yaml", draws=100)
    run_yield(c, "yield-store", workers=2)          # Dask; resumable
    r = analyse_yield(c, "yield-store")
    r.built.value, (r.built.low, r.built.high)       # yield and its 95 % Wilson interval
    r.aligned.value, r.dominant("any")               # after active alignment; main driver
    write_yield_report(c, r, "yield-store/report")
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError

#: Ridge penalty of the logistic fits (on standardised features; not on the intercept).
RIDGE = 0.1
#: χ²₂ 95 % quantile (two terms per tolerance): a likelihood-ratio drop below it is not
#: significant.
CHI2_2_95 = 5.991464547107979


# --------------------------------------------------------------------------------------
# intervals
# --------------------------------------------------------------------------------------
def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (module docstring)."""
    from scipy.stats import norm

    if n <= 0:
        return (0.0, 1.0)
    z = float(norm.ppf(0.5 + confidence / 2))
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z / den * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    # k = 0 or k = n: the bound is exact (rounding would leave it a hair inside)
    return (0.0 if k == 0 else min(lo, p), 1.0 if k == n else max(hi, p))


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval of a binomial proportion k/n."""
    from scipy.stats import beta

    if n <= 0:
        return (0.0, 1.0)
    a = 1 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return (lo, hi)


INTERVALS = {"wilson": wilson_interval, "clopper-pearson": clopper_pearson_interval}


def binomial_interval(k: int, n: int, *, method: str = "wilson",
                      confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of k/n by ``method`` (wilson, clopper-pearson)."""
    if method not in INTERVALS:
        from ..errors import unknown_name

        raise unknown_name("interval method", method, INTERVALS)
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence = {confidence}: valid range is (0, 1)")
    return INTERVALS[method](int(k), int(n), confidence)


# --------------------------------------------------------------------------------------
# sensitivity: logistic regression, likelihood-ratio drops
# --------------------------------------------------------------------------------------
def _logistic_deviance(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> float:
    """Deviance −2·log L of a ridge-penalised logistic fit of y on [1, x] (IRLS)."""
    from scipy.special import expit

    n = y.size
    a = np.column_stack([np.ones(n), x])
    pen = np.full(a.shape[1], ridge)
    pen[0] = 0.0
    beta = np.zeros(a.shape[1])
    ybar = min(max(y.mean(), 1e-6), 1 - 1e-6)
    beta[0] = math.log(ybar / (1 - ybar))
    def objective(b):   # penalised log-likelihood (to maximise)
        eta = a @ b
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)) - 0.5 * np.sum(pen * b * b))

    obj = objective(beta)
    for _ in range(200):
        p = expit(a @ beta)
        w = np.clip(p * (1 - p), 1e-10, None)
        grad = a.T @ (y - p) - pen * beta
        hess = (a * w[:, None]).T @ a + np.diag(pen)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-6:   # step halving: Newton on a near-separable set overshoots
            new = objective(beta + t * step)
            if new >= obj - 1e-12:
                break
            t *= 0.5
        beta = beta + t * step
        gain, obj = new - obj, new
        if np.max(np.abs(t * step)) < 1e-9 or abs(gain) < 1e-10:
            break
    p = np.clip(expit(a @ beta), 1e-15, 1 - 1e-15)
    return float(-2 * np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))


def sensitivity(scores: np.ndarray, fail: np.ndarray, names: list[str]) -> dict:
    """Likelihood-ratio contribution of each tolerance to ``fail`` (module docstring).

    Returns ``{name: {"delta_deviance": ΔD, "share": ΔD/ΣΔD, "significant": ΔD ≥ 5.99}}``
    sorted by ΔD (largest first); empty when every draw passes or every draw fails.
    """
    y = np.asarray(fail, dtype=np.float64)
    z = np.asarray(scores, dtype=np.float64)
    if y.size == 0 or y.min() == y.max() or z.shape[1] == 0:
        return {}
    sd = z.std(axis=0)
    zs = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    feats = [np.column_stack([zs[:, k], (zs[:, k] ** 2 - 1) / math.sqrt(2)])
             for k in range(z.shape[1])]
    full = _logistic_deviance(np.hstack(feats), y)
    out = {}
    for k, name in enumerate(names):
        rest = [f for j, f in enumerate(feats) if j != k]
        d = _logistic_deviance(np.hstack(rest) if rest else np.zeros((y.size, 0)), y)
        out[name] = max(0.0, d - full)
    total = sum(out.values()) or 1.0
    ranked = sorted(out.items(), key=lambda kv: -kv[1])
    return {n: {"delta_deviance": round(v, 4), "share": round(v / total, 4),
                "significant": bool(v >= CHI2_2_95)} for n, v in ranked}


# --------------------------------------------------------------------------------------
# run
# --------------------------------------------------------------------------------------
def run_yield(compiled, store_url, *, workers: int = 2, scheduler: str | None = None,
              executor: str = "dask", batch_size: int | None = None, progress=None,
              notify=None):
    """Run the draws of ``compiled`` into the store (see the module docstring); returns the
    runner's :class:`~.runner.SweepOutcome`."""
    from .runner import SweepOutcome, run_batch, run_sweep

    if executor not in ("dask", "inline"):
        raise ConfigError(f"executor = {executor!r}: valid choices: dask, inline")
    if executor == "dask":
        return run_sweep(compiled.sweep, store_url, scheduler=scheduler, workers=workers,
                         batch_size=batch_size, progress=progress, notify=notify)
    from .store import open_store

    sw = compiled.sweep
    t0 = time.perf_counter()
    store = open_store(store_url)
    with store.lock():
        store.prepare()
        done = store.completed()
        todo = [p for p in sw.points if p.hash not in done]
        out = SweepOutcome(store=store.url, total=len(sw.points),
                           skipped=len(sw.points) - len(todo), workers=1)
        store.write_meta(sw.spec_dict())
        bs = int(batch_size or 16)
        out.batch_size = bs
        if progress is not None:
            progress(0, len(todo), 0)
        for i in range(0, len(todo), bs):
            rows = run_batch(todo[i:i + bs], sw.measurements, sw.spec.seed, sw.spec.name,
                             sw.param_columns)
            store.write_batch(rows, sw.schema)
            out.computed += len(rows)
            out.errors += sum(r["status"] == "error" for r in rows)
            if progress is not None:
                progress(out.computed, len(todo), out.errors)
        store.write_meta(sw.spec_dict(), run={
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **out.as_dict(),
            "seconds": round(time.perf_counter() - t0, 3)})
        store.write_duckdb_view()
    out.seconds = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------------------
# analysis
# --------------------------------------------------------------------------------------
@dataclass
class YieldEstimate:
    """Pass fraction of n draws with its interval."""

    passed: int
    n: int
    low: float
    high: float
    method: str = "wilson"
    confidence: float = 0.95

    @property
    def value(self) -> float:
        return self.passed / self.n if self.n else math.nan

    def as_dict(self) -> dict:
        return {"yield": self.value, "passed": self.passed, "n": self.n,
                "interval": [self.low, self.high], "method": self.method,
                "confidence": self.confidence}


@dataclass
class YieldResult:
    """What :func:`analyse_yield` found (``as_dict`` for JSON)."""

    name: str
    n: int
    errors: int
    built: YieldEstimate
    aligned: YieldEstimate | None
    modes: dict                       # mode → {"fail_rate", "columns", "limits"}
    sensitivity: dict                 # mode → ranking (as built)
    sensitivity_aligned: dict
    tolerances: list                  # [{"name", "column", "describe", "unit"}]
    aa_gain: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict, repr=False)   # arrays for the plots

    def dominant(self, mode: str = "any", aligned: bool = False) -> str | None:
        ranking = (self.sensitivity_aligned if aligned else self.sensitivity).get(mode) or {}
        return next(iter(ranking), None)

    def as_dict(self) -> dict:
        return {"name": self.name, "draws": self.n, "errors": self.errors,
                "as_built": self.built.as_dict(),
                "aligned": None if self.aligned is None else self.aligned.as_dict(),
                "active_alignment_gain": self.aa_gain, "failure_modes": self.modes,
                "sensitivity": self.sensitivity,
                "sensitivity_aligned": self.sensitivity_aligned,
                "tolerances": self.tolerances,
                "sensitivity_method": "logistic regression of fail on [z, (z²−1)/√2] per "
                                      "tolerance; contribution = deviance increase when the "
                                      "tolerance's terms are removed (likelihood-ratio drop)"}


def _passes(values: np.ndarray, lower, upper) -> np.ndarray:
    ok = np.isfinite(values)
    if lower is not None:
        ok &= values >= lower
    if upper is not None:
        ok &= values <= upper
    return ok


def analyse_yield(compiled, store_url, *, method: str = "wilson",
                  confidence: float = 0.95) -> YieldResult:
    """Yield, failure modes and sensitivity of the draws of ``compiled`` in the store."""
    from .store import open_store

    store = open_store(store_url, must_exist=True)
    cols = ["point_hash", "status", "draw",
            *(m.column for m in compiled.measurements)]
    t = store.read_table(cols)
    if t.num_rows == 0:
        raise ConfigError(f"store {store_url}: no draws yet")
    hashes = {p.hash: p.index for p in compiled.sweep.points}
    ph = t.column("point_hash").to_pylist()
    keep = [i for i, h in enumerate(ph) if h in hashes]
    if not keep:
        raise ConfigError(f"store {store_url}: none of the {len(hashes)} draws of this spec "
                          "is stored (another spec or seed wrote it)")
    idx = np.array([hashes[ph[i]] for i in keep])
    order = np.argsort(idx)
    keep = [keep[i] for i in order]
    draw_idx = idx[order]
    status = np.array(t.column("status").to_pylist(), dtype=object)[keep]
    ok_row = status == "ok"
    n = len(keep)
    scores = compiled.scores[draw_idx]
    values = compiled.values[draw_idx]
    names = [tol.name for tol in compiled.tolerances]

    def column(c):
        if c not in t.column_names:
            return np.full(n, np.nan)
        v = np.array(t.column(c).to_pylist(), dtype=object)[keep]
        return np.array([np.nan if x is None else float(x) for x in v], dtype=np.float64)

    data = {"scores": scores, "values": values, "columns": {}}
    result_modes, sens, sens_aa, estimates, fails = {}, {}, {}, {}, {}
    for aligned in ((False, True) if compiled.alignment is not None else (False,)):
        fail_any = ~ok_row
        groups: dict[str, list] = {}
        for m in compiled.judged(aligned):
            groups.setdefault(m.base.column, []).append(m)
        per_mode = {}
        for mode, ms in groups.items():
            f = ~ok_row.copy()
            for m in ms:
                v = column(m.column)
                data["columns"][m.column] = v
                f |= ~_passes(v, m.lower, m.upper)
            per_mode[mode] = f
            fail_any = fail_any | f
        k = int((~fail_any).sum())
        lo, hi = binomial_interval(k, n, method=method, confidence=confidence)
        estimates[aligned] = YieldEstimate(k, n, lo, hi, method, confidence)
        fails[aligned] = fail_any
        ranking = {"any": sensitivity(scores, fail_any, names)}
        for mode, f in per_mode.items():
            ranking[mode] = sensitivity(scores, f, names)
            if not aligned:
                ms = groups[mode]
                result_modes[mode] = {"columns": [m.column for m in ms],
                                      "min": ms[0].lower, "max": ms[0].upper,
                                      "fail_rate": float(f.mean())}
            else:
                result_modes[mode]["fail_rate_aligned"] = float(f.mean())
        (sens_aa if aligned else sens).update(ranking)
    gain = {}
    if compiled.alignment is not None:
        gain = {"rescued": int((fails[False] & ~fails[True]).sum()),
                "lost": int((~fails[False] & fails[True]).sum()),
                "limits": asdict(compiled.alignment)}
        # paired (McNemar) view of the gain: the draws that changed
        b, c = gain["rescued"], gain["lost"]
        if b + c:
            from scipy.stats import binomtest

            gain["mcnemar_p"] = float(binomtest(b, b + c, 0.5).pvalue)
    data["fail"] = fails
    tol_info = [{"name": tol.name, "column": tol.column, "unit": tol.unit,
                 "distribution": tol.describe()} for tol in compiled.tolerances]
    return YieldResult(name=compiled.spec.name, n=n, errors=int((~ok_row).sum()),
                       built=estimates[False], aligned=estimates.get(True), modes=result_modes,
                       sensitivity=sens, sensitivity_aligned=sens_aa, tolerances=tol_info,
                       aa_gain=gain, data=data)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------
def _worst(compiled, mode: str, aligned: bool, data: dict) -> tuple[np.ndarray, object]:
    ms = [m for m in compiled.judged(aligned) if m.base.column == mode]
    v = np.column_stack([data["columns"][m.column] for m in ms])
    m0 = ms[0]
    worst = np.nanmin(v, axis=1) if m0.lower is not None else np.nanmax(v, axis=1)
    return worst, m0


def plot_yield(result: YieldResult, path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est = [("as built", result.built)] + ([("after active alignment", result.aligned)]
                                          if result.aligned is not None else [])
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for i, (label, e) in enumerate(est):
        ax.bar(i, 100 * e.value, color=("#4477aa", "#228833")[i], width=0.6)
        err = [[100 * max(0.0, e.value - e.low)], [100 * max(0.0, e.high - e.value)]]
        ax.errorbar(i, 100 * e.value, yerr=err, color="k", capsize=6)
        ax.text(i, 100 * e.high + 2, f"{100 * e.value:.1f} %\n[{100 * e.low:.1f}, "
                f"{100 * e.high:.1f}]", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(est)), [label for label, _ in est])
    ax.set_ylim(0, 119)
    ax.set_ylabel(f"yield [%] ({result.built.method}, {100 * result.built.confidence:g} % CI)")
    ax.set_title(f"{result.name}: {result.n} draws")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_sensitivity(result: YieldResult, path, *, aligned: bool = False) -> Path:
    """Share of the likelihood-ratio drop per tolerance, one panel per failure mode (as
    built, or after active alignment with ``aligned``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sens = result.sensitivity_aligned if aligned else result.sensitivity
    modes = [m for m, r in sens.items() if r]
    names = [t["name"] for t in result.tolerances]
    fig, axes = plt.subplots(1, max(1, len(modes)), figsize=(3.2 * max(1, len(modes)) + 1.5,
                                                             0.35 * len(names) + 1.6),
                             sharey=True, squeeze=False)
    for ax, mode in zip(axes[0], modes or ["any"]):
        r = sens.get(mode) or {}
        share = [100 * r.get(nm, {}).get("share", 0.0) for nm in names]
        sig = [r.get(nm, {}).get("significant", False) for nm in names]
        ax.barh(range(len(names)), share, color=["#cc3311" if s else "#bbbbbb" for s in sig])
        ax.set_title(f"fails: {mode}", fontsize=9)
        ax.set_xlabel("share of ΔD [%]")
        ax.set_xlim(0, 100)
    axes[0][0].set_yticks(range(len(names)), names, fontsize=8)
    axes[0][0].invert_yaxis()
    fig.suptitle(("after active alignment — " if aligned else "as built — ")
                 + "failure drivers (likelihood-ratio drop; grey: ΔD < 5.99, not "
                 "significant)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_scatter(compiled, result: YieldResult, path) -> Path | None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dom = result.dominant("any")
    if dom is None:
        return None
    k = [t.name for t in compiled.tolerances].index(dom)
    # the failure mode this tolerance drives most
    best = max((m for m in result.sensitivity if m != "any"),
               key=lambda m: (result.sensitivity[m] or {}).get(dom, {}).get("delta_deviance", 0))
    worst, m0 = _worst(compiled, best, False, result.data)
    x = result.data["values"][:, k]
    fail = result.data["fail"][False]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.scatter(x[~fail], worst[~fail], s=9, color="#4477aa", label="pass (as built)")
    ax.scatter(x[fail], worst[fail], s=9, color="#cc3311", label="fail (any limit, as built)")
    if result.aligned is not None:
        wa, _ = _worst(compiled, best, True, result.data)
        ax.scatter(x, wa, s=5, marker="x", color="#228833", alpha=0.6,
                   label="after active alignment")
    for lim in (m0.lower, m0.upper):
        if lim is not None:
            ax.axhline(lim, color="k", ls="--", lw=1)
    tol = compiled.tolerances[k]
    ax.set_xlabel(f"{dom} [{tol.unit}]" if tol.unit else dom)
    ax.set_ylabel(f"{best} (worst corner)" if len([m for m in compiled.judged()
                                                  if m.base.column == best]) > 1 else best)
    ax.legend(fontsize=7)
    ax.set_title("dominant tolerance vs the metric it drives", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def write_yield_report(compiled, result: YieldResult, out_dir) -> Path:
    """Write ``yield.png``, ``sensitivity.png``, ``scatter.png``, ``yield.json`` and
    ``report.html`` into ``out_dir``; returns the HTML path."""
    import json

    from .._io import write_bytes_atomic
    from ..report.html import escape, table, write_page

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from ..errors import OutputError

        raise OutputError(f"cannot create {out}: {exc.strerror or exc}") from None
    figs = [plot_yield(result, out / "yield.png"),
            plot_sensitivity(result, out / "sensitivity.png"),
            plot_scatter(compiled, result, out / "scatter.png")]
    if result.aligned is not None and any(result.sensitivity_aligned.values()):
        figs.insert(2, plot_sensitivity(result, out / "sensitivity_aligned.png",
                                        aligned=True))
    write_bytes_atomic(out / "yield.json",
                       json.dumps(result.as_dict(), indent=1, default=float).encode())

    def pct(e):
        return f"{100 * e.value:.1f} % [{100 * e.low:.1f}, {100 * e.high:.1f}]"

    body = [f"<p>{escape(compiled.spec.description)}</p>",
            f"<p>base <code>{escape(compiled.spec.base)}</code>, seed {compiled.spec.seed}, "
            f"{result.n} draws ({result.errors} measurement errors, counted as failures). "
            f"Yield as built: <b>{pct(result.built)}</b>"
            + (f"; after active alignment: <b>{pct(result.aligned)}</b> "
               f"({result.aa_gain.get('rescued', 0)} draws rescued, "
               f"{result.aa_gain.get('lost', 0)} lost)" if result.aligned else "")
            + f" — {escape(result.built.method)} {100 * result.built.confidence:g} % "
              "interval.</p>"]
    body.append(table(["tolerance", "distribution", "unit"],
                      [[escape(t["name"]), escape(t["distribution"]), escape(t["unit"])]
                       for t in result.tolerances]))
    rows = []
    for mode, info in result.modes.items():
        lim = " ".join(s for s in (f"≥ {info['min']:g}" if info["min"] is not None else "",
                                   f"≤ {info['max']:g}" if info["max"] is not None else "") if s)
        top = next(iter(result.sensitivity.get(mode) or {}), "—")
        rows.append([escape(mode), escape(lim), f"{100 * info['fail_rate']:.1f} %",
                     (f"{100 * info['fail_rate_aligned']:.1f} %"
                      if "fail_rate_aligned" in info else "—"), escape(top)])
    body.append("<h2>Failure modes</h2>" + table(
        ["measurement", "limit", "fail as built", "fail aligned", "main driver"], rows))
    for f in figs:
        if f is not None:
            body.append(f'<p><img alt="{f.stem}" src="{f.name}"></p>')
    body.append("<p>Sensitivity: logistic regression of fail on each tolerance's normal "
                "score and its centred square; a tolerance's contribution is the deviance "
                "increase when its terms are removed (likelihood-ratio drop, χ² with 2 "
                "degrees of freedom; ≥ 5.99 significant at 95 %).</p>")
    return write_page(out / "report.html", f"camtwin yield — {compiled.spec.name}",
                      "\n".join(body))
