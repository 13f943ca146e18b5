"""Compound growth: implied CAGRs between stated values and projections of stated series.

A *series* is one market, optionally narrowed to a region or a segment, named
``<market>`` / ``<market>:<region>`` / ``<market>:<segment>`` (see :func:`series_names`),
e.g. ``miniature_camera_modules``, ``camera_modules:asia``,
``miniature_camera_modules:mcm_type_ccd``. Its *stated points* are the market-size claims
for it, its *rates* are the stated CAGRs plus the CAGR implied by each pair of stated points.
:func:`forecast` projects the series with every rate and reports the range.

Formulas
--------
* implied CAGR between value ``v0`` in year ``y0`` and ``v1`` in ``y1``:
  ``(v1 / v0) ** (1 / (y1 - y0)) - 1``
* projection of ``v0`` (year ``y0``) at rate ``r`` to year ``y``: ``v0 * (1 + r) ** (y - y0)``
  (``y < y0`` discounts backwards with the same formula).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ConfigError, unknown_name
from .data import Claim, MarketData, load_market_data

#: Latest year a projection may reach.
MAX_YEAR = 2100


def implied_cagr(value_start: float, value_end: float, years: float) -> float:
    """CAGR [%] that turns ``value_start`` into ``value_end`` in ``years`` years.

    Examples
    --------
    >>> round(implied_cagr(100.0, 121.0, 2), 6)
    10.0
    """
    if not (value_start > 0 and value_end > 0):
        raise ConfigError(f"implied CAGR needs positive values (got {value_start}, {value_end})")
    if not years > 0:
        raise ConfigError(f"implied CAGR needs a positive number of years (got {years})")
    return 100.0 * ((value_end / value_start) ** (1.0 / years) - 1.0)


def project(value: float, cagr_pct: float, years: float) -> float:
    """``value`` grown at ``cagr_pct`` % a year for ``years`` years (negative: backwards).

    Examples
    --------
    >>> round(project(100.0, 10.0, 2), 6)
    121.0
    """
    if not cagr_pct > -100.0:
        raise ConfigError(f"CAGR = {cagr_pct} %: must be > -100 %")
    return value * (1.0 + cagr_pct / 100.0) ** years


def years_needed(value_start: float, value_end: float, cagr_pct: float) -> float:
    """Years a rate of ``cagr_pct`` % needs to turn ``value_start`` into ``value_end``."""
    return math.log(value_end / value_start) / math.log1p(cagr_pct / 100.0)


# --- series -----------------------------------------------------------------------------

def series_of(claim: Claim) -> str:
    """The series name a market-size or CAGR claim belongs to."""
    if claim.segment is not None:
        return f"{claim.market}:{claim.segment}"
    if claim.region != "global":
        return f"{claim.market}:{claim.region}"
    return str(claim.market)


def _series_claims(data: MarketData) -> dict[str, list[Claim]]:
    out: dict[str, list[Claim]] = {}
    for c in data.claims:
        if c.metric in ("market_size", "cagr") and not c.companies:
            out.setdefault(series_of(c), []).append(c)
    return out


def series_names(data: MarketData | None = None) -> tuple[str, ...]:
    """Every series with a stated size or growth rate."""
    return tuple(sorted(_series_claims(data or load_market_data())))


def _normalise_name(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace("/", ":")


@dataclass(frozen=True)
class Rate:
    """A growth rate usable for a projection."""

    label: str
    cagr_pct: float
    kind: str  # "stated" | "implied"
    period_start: int | None
    period_end: int | None
    claims: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"label": self.label, "cagr_pct": self.cagr_pct, "kind": self.kind,
                "period_start": self.period_start, "period_end": self.period_end,
                "claims": list(self.claims)}


@dataclass(frozen=True)
class StatedPoint:
    year: int
    value: float
    status: str
    claims: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Forecast:
    """Projection of one series with every rate the sources give, and the range."""

    series: str
    market_name: str
    unit: str  # "USD_bn" or "index"
    base_year: int
    base_value: float
    years: tuple[int, ...]
    rates: tuple[Rate, ...]
    values: dict[str, tuple[float, ...]]  # rate label → value per year
    low: tuple[float, ...]
    high: tuple[float, ...]
    stated: tuple[StatedPoint, ...]
    notes: tuple[str, ...] = field(default=())

    def at(self, year: int) -> tuple[float, float]:
        """(low, high) in ``year``."""
        if year not in self.years:
            raise ConfigError(f"year {year} is outside this forecast "
                              f"({self.years[0]}..{self.years[-1]})")
        i = self.years.index(year)
        return self.low[i], self.high[i]

    def as_dict(self) -> dict:
        return {
            "series": self.series, "market": self.market_name, "unit": self.unit,
            "base_year": self.base_year, "base_value": self.base_value,
            "rates": [r.as_dict() for r in self.rates],
            "rows": [{"year": y, "low": self.low[i], "high": self.high[i],
                      **{r.label: self.values[r.label][i] for r in self.rates}}
                     for i, y in enumerate(self.years)],
            "stated": [{"year": p.year, "value": p.value, "status": p.status,
                        "claims": list(p.claims), "sources": list(p.sources)}
                       for p in self.stated],
            "notes": list(self.notes),
        }


def _stated_points(claims: list[Claim]) -> tuple[StatedPoint, ...]:
    by_key: dict[tuple[int, float], list[Claim]] = {}
    for c in claims:
        if c.metric == "market_size" and c.year is not None and c.value is not None:
            by_key.setdefault((c.year, c.value), []).append(c)
    return tuple(StatedPoint(y, v, cs[0].status, tuple(c.id for c in cs),
                             tuple(dict.fromkeys(c.source for c in cs)))
                 for (y, v), cs in sorted(by_key.items()))


def series_rates(data: MarketData, series: str) -> tuple[tuple[Rate, ...],
                                                         tuple[StatedPoint, ...]]:
    """The stated and implied rates of ``series`` and its stated points."""
    claims = _series_claims(data)[series]
    points = _stated_points(claims)
    stated: dict[tuple[float, int | None, int | None], list[Claim]] = {}
    for c in claims:
        if c.metric == "cagr":
            stated.setdefault((c.value, c.period_start, c.period_end), []).append(c)
    rates = []
    for (v, a, b), cs in stated.items():
        per = (f" {a}-{b}" if a and b else f" to {b}" if b else f" from {a}" if a else "")
        approx = "≈" if cs[0].bound == "approximately" else ""
        rates.append(Rate(f"stated {approx}{v:g} %{per}", v, "stated", a, b,
                          tuple(c.id for c in cs)))
    for i, p in enumerate(points):
        for q in points[i + 1:]:
            if q.year > p.year:
                r = implied_cagr(p.value, q.value, q.year - p.year)
                rates.append(Rate(f"implied {p.year}→{q.year}", r, "implied", p.year, q.year,
                                  p.claims[:1] + q.claims[:1]))
    return tuple(rates), points


def resolve_series(name: str, data: MarketData | None = None) -> str:
    """The canonical series name; an unknown name lists the valid ones."""
    data = data or load_market_data()
    key = _normalise_name(name)
    names = series_names(data)
    if key in names:
        return key
    raise unknown_name("market", name, names)


def forecast(name: str, to_year: int, *, from_year: int | None = None,
             data: MarketData | None = None) -> Forecast:
    """Project series ``name`` to ``to_year`` with every stated and implied rate.

    Parameters
    ----------
    name : str
        A series name (:func:`series_names`); ``-`` may stand for ``_``.
    to_year : int
        Last year of the projection; not before the first year of the series' data.
    from_year : int, optional
        First year shown (default: the first year of the data).

    Returns
    -------
    Forecast
        Values per rate, the low/high range per year and the stated points. Without any
        stated size the series is an index (first year = 1).

    Raises
    ------
    UnknownNameError
        Unknown series (the message lists the valid ones).
    ConfigError
        A year before the data, after 2100, or a series with a size but no rate.
    """
    data = data or load_market_data()
    series = resolve_series(name, data)
    rates, points = series_rates(data, series)
    market = data.market(series.split(":")[0])
    if not rates:
        with_rates = [s for s in series_names(data) if series_rates(data, s)[0]]
        raise ConfigError(f"market {series!r}: the sources give a size but no growth rate; "
                          f"markets with a rate: {', '.join(with_rates)}")
    starts = [p.year for p in points] + [r.period_start for r in rates if r.period_start]
    first = min(starts) if starts else min(r.period_end for r in rates if r.period_end) - 1
    if from_year is None:
        from_year = first
    for label, y in (("--to", to_year), ("--from", from_year)):
        if y < first:
            raise ConfigError(f"{label} = {y}: before the data of market {series!r} "
                              f"(first year {first})")
        if y > MAX_YEAR:
            raise ConfigError(f"{label} = {y}: after {MAX_YEAR}")
    if to_year < from_year:
        raise ConfigError(f"--to = {to_year}: before --from = {from_year}")
    notes = []
    if points:
        reported = [p for p in points if p.status == "reported"] or list(points)
        base = reported[0]
        unit, base_year, base_value = "USD_bn", base.year, base.value
    else:
        unit, base_year, base_value = "index", first, 1.0
        notes.append(f"no size is stated for {series}: values are an index, {first} = 1")
    years = tuple(range(from_year, to_year + 1))
    values = {r.label: tuple(project(base_value, r.cagr_pct, y - base_year) for y in years)
              for r in rates}
    low = tuple(min(v[i] for v in values.values()) for i in range(len(years)))
    high = tuple(max(v[i] for v in values.values()) for i in range(len(years)))
    for r in rates:
        if r.period_end is not None and to_year > r.period_end:
            notes.append(f"{r.label}: extrapolated beyond its period end {r.period_end}")
        if r.period_start is None and r.kind == "stated":
            notes.append(f"{r.label}: the source states no start year; applied from "
                         f"{base_year}")
    return Forecast(series, market.name, unit, base_year, base_value, years, rates, values,
                    low, high, points, tuple(notes))


def plot_forecast(fc: Forecast, path):
    """A PNG of the forecast: one line per rate, the range shaded, stated points marked."""
    from ..report.figures import _figure, _save

    fig = _figure((6.8, 4.0))
    ax = fig.add_subplot()
    ax.fill_between(fc.years, fc.low, fc.high, color="tab:blue", alpha=0.15,
                    label="range of the rates")
    styles = ["-", "--", "-.", ":"]
    for k, r in enumerate(fc.rates):
        ax.plot(fc.years, fc.values[r.label], ls=styles[k % len(styles)], lw=1.6,
                label=f"{r.label} ({r.cagr_pct:.2f} %/yr)")
    for p in fc.stated:
        if fc.years[0] <= p.year <= fc.years[-1]:
            ax.plot([p.year], [p.value], "o", color="black", ms=6, zorder=5)
            ax.annotate(f"{p.value:g} ({', '.join(s[:3] for s in p.sources)})",
                        (p.year, p.value), textcoords="offset points", xytext=(5, -12),
                        fontsize=7)
    ax.set(xlabel="year", ylabel="US$ billion" if fc.unit == "USD_bn"
           else f"index ({fc.base_year} = 1)", title=f"{fc.market_name}\n({fc.series})")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, path)
