"""``camtwin cache``: show or clear the on-disk cache of per-module calibration (fitted CCMs)."""

from __future__ import annotations

import json

import typer


def register(app, guard, fail, console) -> None:
    sub = typer.Typer(no_args_is_help=True,
                      help="The on-disk cache of per-module calibration (fitted CCMs).")
    app.add_typer(sub, name="cache")

    @sub.command("info")
    def info(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")):
        """Where the cache is, and how many entries and bytes it holds."""
        from ..cache import cache_info

        rep = guard(cache_info)
        if json_out:
            print(json.dumps(rep, indent=2))
            return
        console.print(f"cache folder: {rep['folder']}" + ("" if rep["enabled"] else
                                                           " (disabled by CAMTWIN_CACHE)"),
                      markup=False, highlight=False)
        for kind, k in rep["kinds"].items():
            console.print(f"  {kind}: {k['entries']} entries, {k['bytes']} bytes",
                          markup=False, highlight=False)

    @sub.command("clear")
    def clear():
        """Delete every cached entry (they are recomputed when next needed)."""
        from ..cache import cache_dir, clear_cache

        n, size = guard(clear_cache)
        console.print(f"removed {n} cache files ({size} bytes) from {cache_dir()}",
                      markup=False, highlight=False)
