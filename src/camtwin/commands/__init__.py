"""CLI commands of the later pipeline stages (SFR, colour, EMVA 1288, raw processing...).

Each module defines ``register(app, guard, fail, console)`` and is registered from
:mod:`camtwin.cli`; the shared error handling (one line, exit status 2) comes from there.
"""


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
