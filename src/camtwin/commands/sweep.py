"""``camtwin sweep``, ``camtwin sweep-report`` and ``camtwin query``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..extras import require


def register(app, guard, fail, console) -> None:
    from rich.console import Console

    err = Console(stderr=True)

    @app.command()
    def sweep(
        spec: Path = typer.Argument(..., help="Sweep spec YAML (base module, parameters, "
                                              "measurements, seed)."),
        out: str = typer.Option(..., "--out", help="Results store: a folder or an fsspec "
                                                   "URL (s3://…, gs://…, memory://…)."),
        scheduler: Optional[str] = typer.Option(None, help="Dask scheduler tcp://HOST:PORT; "
                                                           "default: a local cluster."),
        workers: Optional[int] = typer.Option(None, help="Local worker processes (1 thread "
                                                         "each); default: the CPU count."),
        batch_size: Optional[int] = typer.Option(None, help="Points per task; default: "
                                                            "about 16 tasks per worker."),
        retry_errors: bool = typer.Option(False, help="Rerun points stored with status "
                                                      "error (their rows are replaced)."),
        check: bool = typer.Option(False, "--check", help="Validate the spec and every "
                                                          "point, print the count, run nothing."),
    ):
        """Run a design-space sweep on Dask into a resumable Parquet store (points already
        in the store are skipped)."""
        guard(require, "sweep", "camtwin sweep")
        code = guard(_sweep, spec, out, scheduler, workers, batch_size, retry_errors, check,
                     console, err)
        if code:
            raise typer.Exit(code=code)

    @app.command("sweep-report")
    def sweep_report(
        store: str = typer.Argument(..., help="Results store of 'camtwin sweep'."),
        out: Path = typer.Option(..., "--out", help="Output folder (report.html, PNGs, "
                                                    "summary.csv)."),
        pareto: Optional[str] = typer.Option(None, help="Pareto objectives COLUMN:min|max,… "
                                                        "(default: lux_at_snr10:min, "
                                                        "mtf50:max, sensor_area_mm2:min)."),
    ):
        """Plots (metric vs parameter, Pareto front) and a summary table of a sweep store."""
        guard(require, "sweep", "camtwin sweep-report")
        from .._io import check_outputs
        from ..sweep.report import write_sweep_report

        def run():
            check_outputs({"STORE": store}, {"--out": out})
            return write_sweep_report(store, out, objectives=pareto)

        path = guard(run)
        console.print(f"wrote {path}", markup=False, highlight=False)

    @app.command()
    def query(
        store: str = typer.Argument(..., help="Results store of 'camtwin sweep'."),
        sql: str = typer.Argument(..., help="DuckDB SQL over the view 'points'."),
        fmt: str = typer.Option("table", "--format", help="table, csv or json."),
        timeout: float = typer.Option(60.0, "--timeout",
                                      help="Stop the query after this many seconds."),
        max_rows: int = typer.Option(100_000, "--max-rows",
                                     help="Refuse results with more rows (add LIMIT)."),
        max_memory: str = typer.Option(None, "--max-memory",
                                       help="Memory budget, e.g. 2G (default: "
                                            "CAMTWIN_MAX_MEMORY or a fraction of free RAM)."),
    ):
        """Run DuckDB SQL over a sweep store (view ``points``: one row per point).

        Read-only and sandboxed: SELECT only, no file access, bounded time, memory and
        result size."""
        if fmt not in ("table", "csv", "json"):
            fail(f"--format = {fmt!r}: valid choices: csv, json, table")
        guard(require, "sweep", "camtwin query")
        from ..sweep.store import query as run_query

        cols, rows = guard(run_query, store, sql, timeout_s=timeout, max_rows=max_rows,
                           max_memory=max_memory)
        _print_rows(cols, rows, fmt, console)


def _sweep(spec_path, out, scheduler, workers, batch_size, retry_errors, check, console, err):
    import time

    from rich.markup import escape

    from . import points_progress
    from ..sweep import load_sweep, run_sweep

    from .._io import check_outputs

    check_outputs({"SPEC": spec_path}, {"--out": out})
    sw = load_sweep(spec_path)
    if check:
        console.print(f"{spec_path}: {len(sw.points)} points × {len(sw.measurements)} "
                      f"measurements — valid", markup=False, highlight=False)
        return 0
    t0 = time.perf_counter()
    # the bar starts with the first progress report: after the store's lock is taken and its
    # files are read, so a refusal is one line
    progress = points_progress(err)
    task = None

    def on_progress(n, total, errors):
        nonlocal task
        if task is None:
            skipped = len(sw.points) - total
            if skipped:
                err.print(f"resuming: {skipped} of {len(sw.points)} points already in {out}",
                          markup=False, highlight=False)
            progress.start()
            task = progress.add_task(escape(f"sweep {sw.spec.name}"), total=None, errors=0)
        progress.update(task, completed=n, total=total, errors=errors)

    try:
        outcome = run_sweep(sw, out, scheduler=scheduler, workers=workers,
                            batch_size=batch_size, retry_errors=retry_errors,
                            progress=on_progress,
                            notify=lambda m: err.print(m, markup=False, highlight=False))
    finally:
        if task is not None:
            progress.stop()
    console.print(escape(sw.spec.name)
                  + f": {outcome.total} points — {outcome.computed} computed "
                  f"({outcome.errors} errors), {outcome.skipped} already stored"
                  + (f", [red]{outcome.lost} lost[/]" if outcome.lost else "")
                  + f"; {time.perf_counter() - t0:.1f} s"
                  + (f" on {outcome.workers} workers" if outcome.workers else "")
                  + f" → [bold]{escape(str(out))}[/]")
    if outcome.lost:
        err.print(f"[bold red]error:[/] {outcome.lost} points not completed "
                  f"({escape(outcome.lost_messages[0])}); rerun the same command to resume",
                  highlight=False, soft_wrap=True)
        return 1
    return 0


def _print_rows(cols, rows, fmt, console):
    import csv
    import json
    import math
    import sys

    def plain(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None if math.isnan(v) else str(v)
        return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)

    if fmt == "json":
        print(json.dumps([{c: plain(v) for c, v in zip(cols, r)} for r in rows], indent=1))
    elif fmt == "csv":
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows([[plain(v) for v in r] for r in rows])
    else:
        from rich.table import Table

        t = Table()
        for c in cols:
            t.add_column(c)
        for r in rows:
            t.add_row(*("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
                        for v in r))
        console.print(t)
        console.print(f"{len(rows)} rows")
