"""``camtwin evaluate``, ``camtwin compare`` and ``camtwin applications``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ..parts import MODULE_HELP
from . import seed_option


_FAIL_HELP = ("Exit with status 1 when a requirement fails (--no-fail: exit 0 whenever the "
              "evaluation ran).")
_STATE_HELP = ("day or night: measure a day/night module (IR-cut switcher, NIR illuminator) "
               "in this state for every requirement; default: NIR requirements at night "
               "(IR-cut out), the others by day.")


def register(app, guard, fail, console) -> None:
    from rich.console import Console

    err = Console(stderr=True)

    @app.command()
    def evaluate(
        module: str = typer.Option(..., help=MODULE_HELP),
        application: str = typer.Option(..., help="Application profile name or YAML file "
                                                  "(see 'camtwin applications')."),
        json_out: bool = typer.Option(False, "--json", help="Print the verdicts as JSON."),
        report: Optional[Path] = typer.Option(None, help="Write report.html and "
                                                         "evaluation.json into this folder."),
        seed: int = seed_option("Seed of all simulated captures."),
        fail_exit: bool = typer.Option(True, "--fail/--no-fail", help=_FAIL_HELP),
        state: Optional[str] = typer.Option(None, "--state", help=_STATE_HELP),
    ):
        """Does MODULE fit APPLICATION? Simulate the captures each requirement needs and
        print requirement, measured value, margin and pass/fail. Exit status 1 when a
        requirement fails (for CI gates; --no-fail turns that off)."""
        passed = guard(_run, [module], application, json_out, report, seed, console, err,
                       state=state)
        if fail_exit and not passed:
            raise typer.Exit(code=1)

    @app.command()
    def compare(
        modules: List[str] = typer.Argument(..., help="Two or more modules (built-in name, "
                                                      "catalog:NAME, bare catalog name or "
                                                      "YAML file)."),
        application: str = typer.Option(..., help="Application profile name or YAML file."),
        report: Optional[Path] = typer.Option(None, help="Write report.html and "
                                                         "evaluation.json into this folder."),
        json_out: bool = typer.Option(False, "--json", help="Print the verdicts as JSON."),
        seed: int = seed_option("Seed of all simulated captures."),
        fail_exit: bool = typer.Option(True, "--fail/--no-fail", help=_FAIL_HELP),
        state: Optional[str] = typer.Option(None, "--state", help=_STATE_HELP),
    ):
        """Evaluate several modules for one application, side by side. Exit status 1 when a
        module fails a requirement (--no-fail turns that off)."""
        if len(modules) < 2:
            fail("compare needs at least two modules")
        passed = guard(_run, list(modules), application, json_out, report, seed, console, err,
                       state=state)
        if fail_exit and not passed:
            raise typer.Exit(code=1)

    @app.command("applications")
    def applications_cmd(json_out: bool = typer.Option(False, "--json",
                                                       help="Print as JSON.")):
        """List the application profiles and their requirements."""
        guard(_list, json_out, console)


def _list(json_out, console):
    import json

    from ..evaluate import builtin_applications, load_application

    from ..depth.catalog import builtin_depth_applications, depth_application

    apps = [load_application(n) for n in builtin_applications()]
    depth_apps = [depth_application(n) for n in builtin_depth_applications()]
    if json_out:
        console.print_json(json.dumps([a.model_dump() for a in apps] +
                                      [dict(a.model_dump(), kind="depth") for a in depth_apps]))
        return
    from . import name_table

    for title, group in (("application profiles", apps),
                         ("depth application profiles (for depth modules)", depth_apps)):
        t = name_table(title, "name", [a.name for a in group], ("title", "requirements"))
        for a in group:
            t.add_row(a.name, a.title, "; ".join(f"{r.metric} {r.limit_text}"
                                                 for r in a.requirements))
        console.print(t)


def _requirement_label(r) -> str:
    """A table row's name: the metric and its conditions."""
    return r.metric + (f" ({', '.join(f'{a}={b}' for a, b in r.conditions.items())})"
                       if r.conditions else "")


def _is_depth_module(name: str) -> bool:
    """A catalog depth module (``NAME``/``catalog:NAME``) or a YAML module of kind
    itof/dtof/stereo."""
    from pathlib import Path as _P

    from ..depth.twin import depth_module_names

    text = str(name)
    bare = text.split(":", 1)[1] if text.startswith("catalog:") else text
    if bare in depth_module_names():
        return True
    p = _P(text)
    if p.suffix.lower() in (".yaml", ".yml") and p.is_file():
        import yaml

        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            return False
        return isinstance(data, dict) and data.get("kind") in ("itof", "dtof", "stereo")
    return False


def _run(module_names, application, json_out, report, seed, console, err, state=None):
    import json

    depth = [_is_depth_module(m) for m in module_names]
    if any(depth):
        from ..errors import ConfigError

        if not all(depth):
            raise ConfigError("--module: depth modules (" + ", ".join(
                m for m, d in zip(module_names, depth) if d) + ") cannot be compared with "
                "2D camera modules in one evaluation")
        if state is not None:
            raise ConfigError(f"--state = {state!r}: depth modules have no day/night state")
        return _run_depth(module_names, application, json_out, report, seed, console, err)

    from rich.progress import Progress
    from rich.table import Table

    from .._io import check_outputs
    from ..parts import resolve_module

    from ..evaluate import load_application
    from ..evaluate.verdict import evaluate, format_value

    if state is not None and state not in ("day", "night"):
        from ..errors import ConfigError

        raise ConfigError(f"--state = {state!r}: valid choices are day, night")
    check_outputs({"--module": module_names, "--application": application},
                  {"--report": report})
    app = load_application(application)
    modules = [resolve_module(m) for m in module_names]
    evals = []
    with Progress(console=err, transient=True) as progress:
        for m in modules:
            task = progress.add_task(f"{m.name}: measuring", total=len(app.requirements))
            evals.append(evaluate(m, app, seed=seed, state=state,
                                  progress=lambda i, n, name, task=task:
                                  progress.update(task, completed=i,
                                                  description=f"{m.name}: {name}")))
        if report is not None:
            task = progress.add_task("report: curves and sample frames", total=len(evals))
            from ..report.evaluation import write_evaluation_report

            write_evaluation_report(evals, report, rng=seed,
                                    progress=lambda i, n: progress.update(task, completed=i))
    if json_out:
        payload = evals[0].as_dict() if len(evals) == 1 else [e.as_dict() for e in evals]
        console.print_json(json.dumps(payload, ensure_ascii=False))
    else:
        t = Table(title=f"{app.title} — " + ", ".join(
            f"{e.module.name}: {'PASS' if e.passed else 'FAIL'}" for e in evals))
        t.add_column("requirement")
        t.add_column("limit", justify="right")
        for e in evals:
            t.add_column(f"{e.module.name}", justify="right")
            t.add_column("margin", justify="right")
        for k, v0 in enumerate(evals[0].verdicts):
            r = v0.requirement
            cells = [_requirement_label(r), r.limit_text]
            for e in evals:
                v = e.verdicts[k]
                if v.status == "n/a":
                    cells += [f"[yellow]n/a[/] ({escape(str(v.result.reason))})", ""]
                    continue
                colour = "green" if v.passed else "red"
                st = f" ({v.state})" if getattr(v, "state", None) else ""
                cells += [f"[{colour}]{format_value(v.value, r.unit)} "
                          f"{'pass' if v.passed else 'FAIL'}[/]{st}",
                          format_value(v.margin, r.unit)]
            t.add_row(*cells)
        console.print(t)
        for e in evals:
            for v in e.verdicts:
                if getattr(v, "note", None):
                    console.print(f"{escape(e.module.name)}: {v.requirement.metric}: "
                                  f"{escape(v.note)}")
        console.print(" ".join(f"{e.module.name}: {e.seconds:.1f} s" for e in evals))
    if report is not None:
        console.print(f"wrote [bold]{Path(report) / 'report.html'}[/]")
    return all(e.passed for e in evals)


def _run_depth(module_names, application, json_out, report, seed, console, err):
    """evaluate / compare for depth modules against a depth application profile."""
    import json

    from rich.progress import Progress
    from rich.table import Table

    from .._io import check_outputs, write_json_atomic
    from ..depth.catalog import builtin_depth_applications, depth_application
    from ..depth.evaluate import evaluate_depth
    from ..depth.twin import load_depth_module
    from ..errors import ConfigError

    check_outputs({"--module": module_names, "--application": application},
                  {"--report": report})
    text = str(application)
    if not (text.lower().endswith((".yaml", ".yml")) or text in builtin_depth_applications()):
        raise ConfigError(f"--application = {text!r}: a depth module is judged against a depth "
                          f"application; valid choices: {', '.join(builtin_depth_applications())}"
                          " (or a depth profile YAML)")
    app = depth_application(application)
    modules = [load_depth_module(m) for m in module_names]
    evals = []
    with Progress(console=err, transient=True) as progress:
        for m in modules:
            task = progress.add_task(f"{m.name}: measuring", total=len(app.requirements))
            evals.append(evaluate_depth(m, app, seed=seed,
                                        progress=lambda i, n, name, task=task, m=m:
                                        progress.update(task, completed=i,
                                                        description=f"{m.name}: {name}")))
    payload = evals[0].as_dict() if len(evals) == 1 else [e.as_dict() for e in evals]
    if report is not None:
        Path(report).mkdir(parents=True, exist_ok=True)
        write_json_atomic(Path(report) / "evaluation.json", payload)
        _depth_report_plots(evals, Path(report))
    if json_out:
        console.print_json(json.dumps(payload, ensure_ascii=False, allow_nan=False,
                                      default=str))
    else:
        t = Table(title=f"{app.title} — " + ", ".join(
            f"{e.module}: {'PASS' if e.passed else 'FAIL'}" for e in evals))
        t.add_column("requirement")
        t.add_column("limit", justify="right")
        for e in evals:
            t.add_column(e.module, justify="right")
        for k, v0 in enumerate(evals[0].verdicts):
            r = v0.requirement
            cells = [_requirement_label(r), r.limit_text]
            for e in evals:
                v = e.verdicts[k]
                d = v.as_dict()
                if v.status == "n/a":
                    cells.append(f"[yellow]n/a[/] ({escape(str(v.result.reason))})")
                    continue
                colour = "green" if v.passed else "red"
                cells.append(f"[{colour}]{d['value_text']} {r.unit} "
                             f"{'pass' if v.passed else 'FAIL'}[/]")
            t.add_row(*cells)
        console.print(t)
        console.print(" ".join(f"{e.module}: {e.seconds:.1f} s" for e in evals))
        if report is not None:
            console.print(f"wrote [bold]{Path(report) / 'evaluation.json'}[/]")
    return all(e.passed for e in evals)


def _depth_report_plots(evals, folder: Path) -> None:
    """precision vs distance of every max-range requirement, one PNG per module."""
    from ..depth.plots import plot_depth_vs_distance
    from ..report.figures import save_figure

    for e in evals:
        for i, v in enumerate(e.verdicts):
            det = v.result.details
            if v.requirement.metric != "max_range_m" or "distances_m" not in det:
                continue
            prec = [float("nan") if p is None else p for p in det["precision_pct"]]
            fig = plot_depth_vs_distance(det["distances_m"], precision_pct=prec,
                                         precision_limit_pct=v.requirement.conditions.get(
                                             "precision_pct"),
                                         max_range_m=v.value if v.value == v.value else None)
            save_figure(fig, folder / f"{e.module}_max_range_{i}.png")
            import matplotlib.pyplot as plt

            plt.close(fig)
