"""CLI commands of the later pipeline stages (SFR, colour, EMVA 1288, raw processing...).

Each module defines ``register(app, guard, fail, console)`` and is registered from
:mod:`camtwin.cli`; the shared error handling (one line, exit status 2) comes from there.
"""

#: Largest ``--seed``: numpy's SeedSequence takes any integer ≥ 0, the pixel kernels' noise
#: keys are signed 64-bit integers.
SEED_MAX = 2**63 - 1


def check_seed(value: int) -> int:
    """Callback of every ``--seed`` option: 0 ≤ seed ≤ :data:`SEED_MAX`, else a usage error
    naming the option, the value and the range (one line, exit status 2)."""
    import typer

    if not 0 <= value <= SEED_MAX:
        raise typer.BadParameter(f"{value} is outside the valid range 0..2**63-1")
    return value


def seed_option(help: str):
    """A ``--seed`` option (default 0) checked by :func:`check_seed`."""
    import typer

    return typer.Option(0, callback=check_seed, help=help)


def name_table(title: str, name_header: str, names, columns, **kwargs):
    """A :class:`rich.table.Table` whose first column holds names a user types back (never
    truncated or wrapped: as wide as the longest name) and whose other ``columns`` fold
    (a header starting with ``>`` is right-justified)."""
    from rich.table import Table

    table = Table(title=title, **kwargs)
    width = max([len(str(n)) for n in names] + [len(name_header)])
    table.add_column(name_header, no_wrap=True, min_width=width, overflow="ignore")
    for col in columns:
        right = col.startswith(">")
        table.add_column(col[1:] if right else col, overflow="fold",
                         justify="right" if right else "left")
    return table


def points_progress(console):
    """The progress bar of a run of sweep points (``sweep``, ``yield``): done / total,
    errors so far, elapsed and remaining time, on ``console`` (stderr)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[errors]} errors"), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False)
