"""``camtwin market claims|forecast|audit|segments`` — the market model of the seed reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def register(app, guard, fail, console) -> None:
    market_app = typer.Typer(no_args_is_help=True, help="Market model from the seed reports: "
                             "claims with provenance, forecasts, contradiction audit, "
                             "catalog segments.")
    app.add_typer(market_app, name="market")

    @market_app.command("claims")
    def claims_cmd(
        tag: Optional[str] = typer.Option(None, help="Only claims with this tag "
                                                     "(e.g. technology, market_size)."),
        market: Optional[str] = typer.Option(None, help="Only claims about this market id."),
        json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
    ):
        """Every quantitative claim of the seed reports, with its source sentence."""
        guard(_claims, tag, market, json_out, console)

    @market_app.command("forecast")
    def forecast_cmd(
        market: str = typer.Option(..., help="Market (series) name, e.g. "
                                             "miniature_camera_modules, camera_modules:asia."),
        to: int = typer.Option(..., "--to", help="Last year of the projection."),
        from_year: Optional[int] = typer.Option(None, "--from",
                                                help="First year (default: first data year)."),
        plot: Optional[Path] = typer.Option(None, help="Write the forecast plot (.png)."),
        json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
    ):
        """Project a market with every rate the sources give (stated and implied CAGRs)."""
        guard(_forecast, market, to, from_year, plot, json_out, console)

    @market_app.command("audit")
    def audit_cmd(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")):
        """Contradictions between the claims: each finding with its size and both sources."""
        guard(_audit, json_out, console)

    @market_app.command("segments")
    def segments_cmd(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")):
        """Which catalog sensors and modules sit in which report segment."""
        guard(_segments, json_out, console)


def _claims(tag, market, json_out, console):
    from rich.markup import escape

    from ..market.data import load_market_data

    data = load_market_data()
    rows = data.select(tag=tag, market=market)
    if json_out:
        console.print_json(json.dumps([c.model_dump(mode="json") for c in rows],
                                      ensure_ascii=False))
        return
    console.print(f"[bold]{len(rows)} claims[/]" + (f" tagged {tag}" if tag else "")
                  + (f" about {market}" if market else ""), highlight=False)
    for c in rows:
        where = " / ".join(x for x in (c.market or "", "" if c.region == "global" else c.region,
                                       ", ".join(c.companies), c.product) if x)
        console.print(f"[bold]{escape(c.id)}[/]  {c.metric} = [bold]{escape(c.value_text)}[/]"
                      f"{'  ' + c.when if c.when else ''}  ({escape(where)}) "
                      f"\\[{', '.join(c.tags)}]", highlight=False, soft_wrap=True)
        console.print(f"    {c.source}: “{escape(c.quote)}”", style="dim", highlight=False,
                      soft_wrap=True)


def _forecast(market, to_year, from_year, plot, json_out, console):
    from rich.table import Table

    from ..errors import ConfigError
    from ..market.forecast import forecast, plot_forecast

    if plot is not None and plot.suffix.lower() != ".png":
        raise ConfigError(f"--plot = {str(plot)!r}: extension must be .png")
    fc = forecast(market, to_year, from_year=from_year)
    if plot is not None:
        plot_forecast(fc, plot)
    if json_out:
        payload = fc.as_dict()
        payload["plot"] = str(plot) if plot else None
        console.print_json(json.dumps(payload, ensure_ascii=False))
        return
    unit = "US$ bn" if fc.unit == "USD_bn" else f"index ({fc.base_year} = 1)"
    t = Table(title=f"{fc.market_name} ({fc.series}) — {unit}")
    t.add_column("year", justify="right")
    for r in fc.rates:
        t.add_column(f"{r.label}\n{r.cagr_pct:.2f} %/yr", justify="right")
    t.add_column("low", justify="right")
    t.add_column("high", justify="right")
    t.add_column("stated", justify="right")
    stated = {p.year: p for p in fc.stated}
    for i, y in enumerate(fc.years):
        p = stated.get(y)
        t.add_row(str(y), *(f"{fc.values[r.label][i]:.3f}" for r in fc.rates),
                  f"{fc.low[i]:.3f}", f"{fc.high[i]:.3f}",
                  f"{p.value:g} ({', '.join(s[:3] for s in p.sources)})" if p else "")
    console.print(t)
    for n in fc.notes:
        console.print(f"note: {n}", highlight=False)
    if plot is not None:
        console.print(f"wrote [bold]{plot}[/]")


def _audit(json_out, console):
    from rich.markup import escape

    from ..market.audit import audit

    report = audit()
    if json_out:
        console.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    colour = {"inconsistent": "red", "warning": "yellow", "info": "cyan"}
    for i, f in enumerate(report.findings, 1):
        console.print(f"[bold {colour[f.severity]}]{i}. {f.severity.upper()} {f.check}[/]: "
                      f"{escape(f.summary)}  [dim](magnitude {f.magnitude:g} "
                      f"{f.magnitude_unit})[/]", highlight=False, soft_wrap=True)
        for c in f.citations:
            console.print(f"     {c['source']}: “{escape(c['quote'])}”", highlight=False,
                          soft_wrap=True, style="dim")
    summary = ", ".join(f"{c['check']} {c['findings']}/{c['examined']}"
                        for c in report.as_dict()["checks"])
    console.print(f"{len(report.findings)} findings (check findings/examined: {summary})",
                  highlight=False)


def _segments(json_out, console):
    from ..market.segments import segment_table

    rows = segment_table()
    if json_out:
        console.print_json(json.dumps([r.as_dict() for r in rows], ensure_ascii=False))
        return
    from . import name_table

    t = name_table("report segments and the catalog parts in them", "market",
                   [r.segment.market for r in rows],
                   ("by", "segment", "stated size / growth / share", "catalog sensors",
                    "catalog modules"))
    for r in rows:
        stated = "; ".join(f"{s['value']} {s['when']}".strip() + f" ({s['source'][:3]})"
                           for s in r.stated) or "—"
        t.add_row(r.segment.market, r.segment.dimension, r.segment.label, stated,
                  "\n".join(r.sensors) or "—", "\n".join(r.modules) or "—")
    console.print(t)
