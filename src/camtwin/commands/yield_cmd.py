"""``camtwin yield``: Monte-Carlo manufacturing tolerances → yield, failure drivers, report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..extras import require


def register(app, guard, fail, console) -> None:
    from rich.console import Console

    err = Console(stderr=True)

    @app.command("yield")
    def yield_cmd(
        spec: Path = typer.Argument(..., help="Tolerance spec YAML (base module, tolerances, "
                                              "measurements with min/max, active_alignment)."),
        out: str = typer.Option(..., "--out", help="Results store (a folder or fsspec URL); "
                                                   "the draws are its points."),
        draws: Optional[int] = typer.Option(None, "--draws", help="Monte-Carlo draws "
                                                                  "(default: the spec's)."),
        workers: int = typer.Option(2, help="Local Dask worker processes (1 thread each)."),
        seed: Optional[int] = typer.Option(None, help="Seed of the draws (default: the "
                                                      "spec's)."),
        scheduler: Optional[str] = typer.Option(None, help="Dask scheduler tcp://HOST:PORT; "
                                                           "default: a local cluster."),
        report: Optional[Path] = typer.Option(None, help="Report folder (report.html, PNGs, "
                                                         "yield.json); default: OUT/report "
                                                         "for a local store."),
        interval: str = typer.Option("wilson", help="Confidence interval of the yield: "
                                                    "wilson or clopper-pearson."),
        check: bool = typer.Option(False, "--check", help="Validate the spec and every draw, "
                                                          "run nothing."),
    ):
        """Yield of a module under manufacturing tolerances: Monte-Carlo draws on Dask into
        a resumable store, yield with its 95 % interval (as built and after active
        alignment), failure modes ranked by the tolerances that drive them, and a report."""
        guard(require, "sweep", "camtwin yield")
        code = guard(_run, spec, out, draws, workers, seed, scheduler, report, interval,
                     check, console, err)
        if code:
            raise typer.Exit(code=code)


def _run(spec_path, out, draws, workers, seed, scheduler, report, interval, check, console,
         err):
    import time

    from rich.markup import escape

    from . import points_progress
    from .._io import check_outputs
    from ..errors import ConfigError
    from ..sweep.tolerance import load_tolerance
    from ..sweep.yields import INTERVALS, analyse_yield, run_yield, write_yield_report

    if interval not in INTERVALS:
        raise ConfigError(f"--interval = {interval!r}: valid choices: {', '.join(INTERVALS)}")
    if not 1 <= workers <= 4096:
        raise ConfigError(f"--workers = {workers}: must be in 1..4096")
    check_outputs({"SPEC": spec_path}, {"--out": out, "--report": report})
    t0 = time.perf_counter()
    compiled = load_tolerance(spec_path, draws=draws, seed=seed)
    if check:
        console.print(f"{spec_path}: {compiled.n_draws} draws × {len(compiled.tolerances)} "
                      f"tolerances × {len(compiled.measurements)} judged columns — valid",
                      markup=False, highlight=False)
        return 0
    progress = points_progress(err)
    task = None

    def on_progress(n, total, errors):
        nonlocal task
        if task is None:
            skipped = compiled.n_draws - total
            if skipped:
                err.print(f"resuming: {skipped} of {compiled.n_draws} draws already in {out}",
                          markup=False, highlight=False)
            progress.start()
            task = progress.add_task(escape(f"yield {compiled.spec.name}"), total=None,
                                     errors=0)
        progress.update(task, completed=n, total=total, errors=errors)

    try:
        outcome = run_yield(compiled, out, workers=workers, scheduler=scheduler,
                            progress=on_progress,
                            notify=lambda m: err.print(m, markup=False, highlight=False))
    finally:
        if task is not None:
            progress.stop()
    if outcome.lost:
        err.print(f"[bold red]error:[/] {outcome.lost} draws not completed "
                  f"({escape(outcome.lost_messages[0])}); rerun the same command to resume",
                  highlight=False, soft_wrap=True)
        return 1
    res = analyse_yield(compiled, out, method=interval)
    if report is None and "://" not in str(out):
        report = Path(out) / "report"
    html = write_yield_report(compiled, res, report) if report is not None else None

    def pct(e):
        return f"{100 * e.value:.1f} % [{100 * e.low:.1f}, {100 * e.high:.1f}]"

    console.print(f"{escape(compiled.spec.name)}: {res.n} draws ({outcome.computed} computed, "
                  f"{outcome.skipped} already stored, {res.errors} errors); "
                  f"{time.perf_counter() - t0:.1f} s", highlight=False)
    console.print(f"yield as built: [bold]{pct(res.built)}[/] ({interval} 95 %)"
                  + (f"; after active alignment: [bold]{pct(res.aligned)}[/]"
                     if res.aligned is not None else ""), highlight=False)
    dom = res.dominant("any")
    if dom is not None:
        share = res.sensitivity["any"][dom]["share"]
        console.print(f"main failure driver: {escape(dom)} ({100 * share:.0f} % of the "
                      "likelihood-ratio drop)", highlight=False)
    if html is not None:
        console.print(f"report → [bold]{escape(str(html))}[/]", highlight=False)
    return 0
