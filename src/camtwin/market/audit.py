"""Contradiction audit of the market dataset: automatic checks, each finding with citations
(source file + quoted sentence) and the size of the discrepancy.

Checks (:data:`CHECKS`)
-----------------------
``cagr_vs_values``
    A stated CAGR with a stated period against the CAGR implied by the stated sizes at the
    period's start and end. Printed numbers are rounded, so each side is an interval (half a
    unit of the last printed digit); a finding means the intervals do not meet.
``forecast_period``
    A CAGR whose period differs from the forecast period in the title of its own report.
``shares_sum``
    Regional (or segment) shares given together that do not add up to 100 %.
``region_overlap``
    A share split that lists a country beside a region that contains it (membership from
    the reports' own region lists), or leaves out regions the same report segments by.
``region_lists``
    A country name that appears in more than one region list of a report.
``duplicate_quantity``
    The same quantity (metric, market scope, region, segment, companies, year) stated twice
    with values whose intervals do not meet; rates are compared over their common horizon.
``submarket_exceeds_parent``
    A regional or segment market size larger than the total of the same market scope
    (possibly from another report), the total projected to the same year with its rates.
``company_shares``
    Company shares of one market that add up to more than 100 %, or a company's share above
    the combined share of a group that contains it.
``repeated_figures``
    Two different quantities in one report with the same pair of figures (a copy error?).

Severities: ``inconsistent`` (the numbers cannot all be true), ``warning`` (ambiguous or
incomplete), ``info``.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

from .data import Claim, MarketData, load_market_data
from .forecast import forecast, implied_cagr, project, series_names, series_of, years_needed

CHECKS = {
    "cagr_vs_values": "stated CAGR vs the CAGR implied by the stated start and end values",
    "forecast_period": "CAGR period vs the forecast period of the same report",
    "shares_sum": "shares given together add up to 100 %",
    "region_overlap": "share splits neither double-count a country nor drop listed regions",
    "region_lists": "a country sits in one region list only",
    "duplicate_quantity": "the same quantity is not given twice with different values",
    "submarket_exceeds_parent": "a regional/segment market is not larger than its total",
    "company_shares": "company shares stay within the market total",
    "repeated_figures": "different quantities do not share the same figures",
}


@dataclass(frozen=True)
class Finding:
    """One discrepancy, with its size and the sentences it comes from."""

    check: str
    severity: str
    summary: str
    magnitude: float
    magnitude_unit: str
    citations: tuple[dict, ...]
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "summary": self.summary,
                "magnitude": self.magnitude, "magnitude_unit": self.magnitude_unit,
                "details": self.details, "citations": list(self.citations)}


@dataclass(frozen=True)
class AuditReport:
    findings: tuple[Finding, ...]
    examined: dict[str, int]

    def by_check(self, check: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.check == check)

    def as_dict(self) -> dict:
        return {"checks": [{"check": k, "description": v, "examined": self.examined.get(k, 0),
                            "findings": len(self.by_check(k))} for k, v in CHECKS.items()],
                "findings": [f.as_dict() for f in self.findings]}


def _cite(claims) -> tuple[dict, ...]:
    """Citations, one per distinct (source, quote)."""
    out, seen = [], set()
    for c in claims:
        d = c.citation() if isinstance(c, Claim) else c
        key = (d["source"], d["quote"])
        if key not in seen:
            seen.add(key)
            out.append(d)
    return tuple(out)


def _scope(data: MarketData, market_id: str | None) -> str | None:
    if market_id is None:
        return None
    m = data.market(market_id)
    return m.same_scope_as or m.id


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


# --- checks ---------------------------------------------------------------------------

def check_cagr_vs_values(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    groups: dict[tuple, list[Claim]] = {}
    for c in data.claims:
        if c.metric == "cagr" and c.period_start and c.period_end:
            groups.setdefault((series_of(c), c.value, c.period_start, c.period_end),
                              []).append(c)
    sizes = [c for c in data.claims if c.metric == "market_size" and not c.companies]
    for (series, rate, y0, y1), cagrs in groups.items():
        starts = [c for c in sizes if series_of(c) == series and c.year == y0]
        ends = [c for c in sizes if series_of(c) == series and c.year == y1]
        for v0, v1 in sorted({(s.value, e.value) for s in starts for e in ends}):
            n += 1
            s = [c for c in starts if c.value == v0]
            e = [c for c in ends if c.value == v1]
            years = y1 - y0
            implied = implied_cagr(v0, v1, years)
            lo0, hi0 = s[0].interval
            lo1, hi1 = e[0].interval
            implied_iv = (implied_cagr(hi0, lo1, years), implied_cagr(lo0, hi1, years))
            stated_iv = cagrs[0].interval
            if _overlap(implied_iv, stated_iv):
                continue
            end_from_rate = project(v0, rate, years)
            gap = stated_iv[0] - implied_iv[1] if stated_iv[0] > implied_iv[1] \
                else implied_iv[0] - stated_iv[1]
            out.append(Finding(
                "cagr_vs_values", "inconsistent",
                f"{series}: stated CAGR {rate:g} % ({y0}-{y1}) but {v0:g} → {v1:g} over "
                f"{years} years implies {implied:.2f} % ({rate - implied:+.2f} pp; "
                f"{implied_iv[0]:.2f}-{implied_iv[1]:.2f} % allowing for the rounding of the "
                f"printed values); "
                f"{rate:g} % from {v0:g} gives {end_from_rate:.2f} in {y1}, not {v1:g}",
                round(rate - implied, 4), "pp", _cite([*cagrs, *s, *e]),
                {"stated_cagr_pct": rate, "implied_cagr_pct": implied,
                 "implied_cagr_interval_pct": list(implied_iv),
                 "gap_beyond_rounding_pp": gap,
                 "start": {"year": y0, "value": v0}, "end": {"year": y1, "value": v1},
                 "end_value_from_stated_cagr": end_from_rate,
                 "end_value_difference": end_from_rate - v1,
                 "end_value_difference_pct": 100 * (end_from_rate / v1 - 1),
                 "years_the_stated_cagr_needs": years_needed(v0, v1, rate)}))
    return out, n


def _report_periods(data: MarketData) -> dict[str, Claim]:
    return {c.source: c for c in data.claims if c.metric == "forecast_period"}


def check_forecast_period(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    periods = _report_periods(data)
    seen = set()
    for c in data.claims:
        if c.metric != "cagr" or c.source not in periods or c.period_end is None:
            continue
        rp = periods[c.source]
        if c.note and "report title" in c.note:
            continue  # the period was taken from the title: agrees by construction
        n += 1
        key = (c.source, c.period_start, c.period_end)
        d0 = None if c.period_start is None else c.period_start - rp.period_start
        d1 = c.period_end - rp.period_end
        if (d0 in (0, None) and d1 == 0) or key in seen:
            continue
        seen.add(key)
        same = [x for x in data.claims if x.metric == "cagr" and x.source == c.source
                and (x.period_start, x.period_end) == (c.period_start, c.period_end)]
        shift = max(abs(d0 or 0), abs(d1))
        out.append(Finding(
            "forecast_period", "warning",
            f"{c.source}: CAGR period {c.when} differs from the report's forecast period "
            f"{rp.period_start}-{rp.period_end} ("
            + ("start not stated" if d0 is None else f"start {d0:+d} y") + f", end {d1:+d} y)",
            float(shift), "years", _cite([*same, rp]),
            {"cagr_period": [c.period_start, c.period_end],
             "report_period": [rp.period_start, rp.period_end]}))
    return out, n


def _share_groups(data: MarketData) -> dict[tuple, list[Claim]]:
    groups: dict[tuple, list[Claim]] = {}
    for c in data.claims:
        if c.metric == "market_share" and not c.companies and c.region != "global":
            groups.setdefault((c.source, c.market, c.year, c.quote), []).append(c)
    return groups


def check_shares_sum(data: MarketData) -> tuple[list[Finding], int]:
    out = []
    groups = [g for g in _share_groups(data).values() if len(g) > 1]
    for g in groups:
        lo = sum(c.interval[0] for c in g)
        hi = sum(c.interval[1] for c in g)
        total = sum(c.value for c in g)
        if lo <= 100.0 <= hi:
            continue
        out.append(Finding(
            "shares_sum", "inconsistent",
            f"{g[0].market}: shares {', '.join(f'{c.region} {c.value:g} %' for c in g)} add "
            f"up to {total:g} %, not 100 %", round(total - 100.0, 6), "pp", _cite(g),
            {"sum_pct": total}))
    return out, len(groups)


def _member_of(data: MarketData, inner: str, outer: str) -> list[dict]:
    """Evidence that region ``inner`` is a member of region ``outer`` (empty if none)."""
    r_in, r_out = data.region(inner), data.region(outer)
    names = {r_in.name, *r_in.aliases}
    if not names & set(r_out.members):
        return []
    return [e.model_dump() for e in r_out.evidence
            if any(nm in e.quote for nm in names)]


def check_region_overlap(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    for g in _share_groups(data).values():
        if len(g) < 2:
            continue
        n += 1
        for a, b in itertools.permutations(g, 2):
            ev = _member_of(data, b.region, a.region)
            if not ev:
                continue
            disjoint = sum(c.value for c in g if c is not b)
            out.append(Finding(
                "region_overlap", "inconsistent",
                f"{a.market}: {data.region(b.region).name} ({b.value:g} %) is listed beside "
                f"{data.region(a.region).name} ({a.value:g} %), which contains it by the "
                f"reports' own region lists: {b.value:g} pp are counted twice or "
                f"{data.region(a.region).name} is understated (disjoint regions sum to "
                f"{disjoint:g} %, or {data.region(a.region).name} is really "
                f"{a.value + b.value:g} %)",
                b.value, "pp", _cite([a, b, *ev]),
                {"region": a.region, "member": b.region, "double_counted_pp": b.value,
                 "sum_without_member_pct": disjoint,
                 "region_share_including_member_pct": a.value + b.value}))
        # regions the same report segments by, missing from its split
        listed = {s.region for s in data.segments if s.source == g[0].source
                  and s.market == g[0].market and s.dimension == "region"}
        given = {c.region for c in g}
        missing = sorted(r for r in listed - given
                         if data.region(r).kind == "region")
        if missing:
            segs = [s for s in data.segments if s.region in missing
                    and s.source == g[0].source]
            out.append(Finding(
                "region_overlap", "warning",
                f"{g[0].market}: the share split leaves out "
                f"{', '.join(data.region(r).name for r in missing)}, which the same report "
                f"lists as regions of the market: they get 0 % by implication",
                float(len(missing)), "regions",
                _cite([*g, *({"source": s.source, "quote": s.quote, "claim": s.id}
                             for s in segs)]),
                {"missing_regions": missing}))
    return out, n


def check_region_lists(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    by_source: dict[str, list] = {}
    for r in data.regions:
        for e in r.evidence:
            by_source.setdefault(e.source, []).append((r, e))
    for source, items in by_source.items():
        words: dict[str, set[str]] = {}
        for r, _ in items:
            for m in r.members:
                for w in re.findall(r"[A-Za-z][A-Za-z.]+", m):
                    words.setdefault(w, set()).add(r.id)
        n += len(items)
        for w, regs in sorted(words.items()):
            if len(regs) < 2:
                continue
            members = {r.id: [m for m in r.members if w in m.split()] for r, _ in items
                       if r.id in regs}
            out.append(Finding(
                "region_lists", "warning",
                f"{source}: '{w}' appears in {len(regs)} region lists: "
                + "; ".join(f"{data.region(k).name}: {', '.join(v)}"
                            for k, v in sorted(members.items())),
                float(len(regs)), "regions",
                _cite([{"source": e.source, "quote": e.quote, "claim": f"region:{r.id}"}
                       for r, e in items if r.id in regs]),
                {"name": w, "regions": sorted(regs)}))
    return out, n


def _horizon(data: MarketData, c: Claim) -> tuple[int | None, int | None]:
    start = c.period_start
    if start is None:
        rp = _report_periods(data).get(c.source)
        start = rp.period_start if rp else None
    return start, c.period_end


def check_duplicate_quantity(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    groups: dict[tuple, list[Claim]] = {}
    for c in data.claims:
        if c.metric == "forecast_period":
            continue
        when = None if c.metric in ("cagr", "company_growth") else (c.year, c.period_start,
                                                                    c.period_end)
        key = (c.metric, _scope(data, c.market), c.region, c.segment, c.companies,
               c.product, when)
        groups.setdefault(key, []).append(c)
    for key, g in groups.items():
        if len(g) < 2:
            continue
        n += 1
        distinct = {}
        for c in g:
            distinct.setdefault((c.value, c.value_low, c.value_high, c.bound), c)
        for a, b in itertools.combinations(distinct.values(), 2):
            if _overlap(a.interval, b.interval):
                continue
            diff = (b.value or 0) - (a.value or 0)
            details = {"values": [a.value, b.value], "difference": diff}
            text = (f"{key[1]}{'' if a.region == 'global' else ':' + a.region}: {a.metric} "
                    f"given as {a.value_text} ({a.when or 'no period'}, {a.source}) and "
                    f"{b.value_text} ({b.when or 'no period'}, {b.source}): "
                    f"{abs(diff):.2f} {'pp' if a.unit == '%' else a.unit} apart")
            if a.metric in ("cagr", "company_growth"):
                (sa, ea), (sb, eb) = _horizon(data, a), _horizon(data, b)
                if None not in (sa, ea, sb, eb) and max(sa, sb) < min(ea, eb):
                    h0, h1 = max(sa, sb), min(ea, eb)
                    ga, gb = project(1.0, a.value, h1 - h0), project(1.0, b.value, h1 - h0)
                    details.update({"common_horizon": [h0, h1], "growth_factors": [ga, gb],
                                    "growth_factor_gap_pct": 100 * (max(ga, gb) / min(ga, gb)
                                                                    - 1)})
                    text += (f"; over {h0}-{h1} the market grows ×{ga:.3f} vs ×{gb:.3f} "
                             f"({details['growth_factor_gap_pct']:.1f} % apart)")
                if (a.period_start, a.period_end) != (b.period_start, b.period_end):
                    text += f"; the periods differ ({a.when or '?'} vs {b.when or '?'})"
            out.append(Finding("duplicate_quantity", "inconsistent", text, round(abs(diff), 6),
                               "pp" if a.unit == "%" else a.unit, _cite([a, b]), details))
    return out, n


def _total_at(data: MarketData, scope: str, year: int):
    """(value, how, claims) of the global total of market scope ``scope`` in ``year``: a
    stated size of that year, else the highest projection of its stated rates."""
    candidates = [m.id for m in data.markets if (m.same_scope_as or m.id) == scope]
    totals = [c for c in data.claims if c.metric == "market_size" and c.market in candidates
              and c.region == "global" and c.segment is None]
    same_year = [c for c in totals if c.year == year]
    if same_year:
        return max(c.value for c in same_year), "stated", same_year
    for m in candidates:
        if m in series_names(data):
            try:
                fc = forecast(m, max(year, 1990), from_year=None, data=data)
            except Exception:  # noqa: BLE001 - no rate or year before the data: skip
                continue
            if year in fc.years:
                lo, hi = fc.at(year)
                used = [c for c in totals]
                return hi, (f"the higher projection of {fc.base_value:g} ({fc.base_year}) "
                            f"at {' / '.join(f'{r.cagr_pct:.2f} %' for r in fc.rates)}"), used
    return None, "", []


def check_submarket_exceeds_parent(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    for c in data.claims:
        if c.metric != "market_size" or c.companies or (c.region == "global"
                                                        and c.segment is None):
            continue
        scope = _scope(data, c.market)
        total, how, used = _total_at(data, scope, c.year)
        if total is None:
            continue
        n += 1
        if c.interval[0] <= total:
            continue
        cross = any(u.source != c.source for u in used)
        part = data.region(c.region).name if c.region != "global" else \
            data.segment(c.segment).label
        out.append(Finding(
            "submarket_exceeds_parent", "inconsistent",
            f"{part} {data.market(c.market).name}: US$ {c.value:g} bn ({c.year}, {c.source}) "
            f"is {c.value / total:.1f}× the whole {data.market(scope).name} in {c.year} "
            f"(US$ {total:.2f} bn, {how}{', ' + used[0].source if used else ''})",
            round(c.value / total, 4), "x", _cite([c, *used]),
            {"submarket_usd_bn": c.value, "total_usd_bn": total, "year": c.year,
             "excess_usd_bn": c.value - total, "across_reports": cross}))
    return out, n


def check_company_shares(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    by_market: dict[tuple, list[Claim]] = {}
    for c in data.claims:
        if c.metric == "market_share" and c.companies:
            by_market.setdefault((_scope(data, c.market), c.region, c.year), []).append(c)
    for key, g in by_market.items():
        n += 1
        for c in g:
            if c.interval[0] > 100.0:
                out.append(Finding("company_shares", "inconsistent",
                                   f"{', '.join(c.companies)}: share {c.value_text} > 100 %",
                                   c.interval[0] - 100.0, "pp", _cite([c])))
        # distinct companies: sum of lower bounds of disjoint company sets
        disjoint, used = [], set()
        for c in sorted(g, key=lambda c: -len(c.companies)):
            if not used & set(c.companies):
                disjoint.append(c)
                used |= set(c.companies)
        lo = sum(c.interval[0] for c in disjoint if math.isfinite(c.interval[0]))
        if lo > 100.0:
            out.append(Finding(
                "company_shares", "inconsistent",
                f"{key[0]}: company shares add up to at least {lo:g} % (> 100 %)",
                lo - 100.0, "pp", _cite(disjoint), {"sum_lower_bound_pct": lo}))
        for grp, single in itertools.permutations(g, 2):
            if len(grp.companies) > 1 and set(single.companies) < set(grp.companies) \
                    and single.interval[0] > grp.interval[1]:
                out.append(Finding(
                    "company_shares", "inconsistent",
                    f"{key[0]}: {', '.join(single.companies)} alone has {single.value_text}, "
                    f"more than the {grp.value_text} of the group that includes it",
                    single.interval[0] - grp.interval[1], "pp", _cite([single, grp])))
    return out, n


def check_repeated_figures(data: MarketData) -> tuple[list[Finding], int]:
    out, n = [], 0
    by_quote: dict[tuple[str, str], list[Claim]] = {}
    for c in data.claims:
        if c.value is not None:
            by_quote.setdefault((c.source, c.quote), []).append(c)
    for (qa, ca), (qb, cb) in itertools.combinations(by_quote.items(), 2):
        if qa[0] != qb[0]:
            continue
        n += 1
        fa = {(c.value, c.unit): c for c in ca}
        fb = {(c.value, c.unit): c for c in cb}
        shared = sorted(set(fa) & set(fb))
        if len(shared) < 2 or all(fa[k].metric == fb[k].metric for k in shared):
            continue
        def who(claims):
            names = sorted({n for k in shared for n in claims[k].companies})
            return f" ({', '.join(names)})" if names else ""

        out.append(Finding(
            "repeated_figures", "info",
            f"{qa[0]}: {' and '.join(fa[k].value_text for k in shared)} are given both for "
            f"{', '.join(fa[k].metric for k in shared)}{who(fa)} and for "
            f"{', '.join(fb[k].metric for k in shared)}{who(fb)}: "
            "the same pair of figures for different quantities",
            float(len(shared)), "figures", _cite([*(fa[k] for k in shared),
                                                 *(fb[k] for k in shared)]),
            {"figures": [fa[k].value_text for k in shared]}))
    return out, n


_RUNNERS = {
    "cagr_vs_values": check_cagr_vs_values,
    "forecast_period": check_forecast_period,
    "shares_sum": check_shares_sum,
    "region_overlap": check_region_overlap,
    "region_lists": check_region_lists,
    "duplicate_quantity": check_duplicate_quantity,
    "submarket_exceeds_parent": check_submarket_exceeds_parent,
    "company_shares": check_company_shares,
    "repeated_figures": check_repeated_figures,
}

_SEVERITY_ORDER = {"inconsistent": 0, "warning": 1, "info": 2}


def audit(data: MarketData | None = None) -> AuditReport:
    """Run every check of :data:`CHECKS` over the dataset (default: the shipped one)."""
    data = data or load_market_data()
    findings, examined = [], {}
    for name, fn in _RUNNERS.items():
        f, n = fn(data)
        findings += f
        examined[name] = n
    findings.sort(key=lambda f: (_SEVERITY_ORDER[f.severity], list(CHECKS).index(f.check)))
    return AuditReport(tuple(findings), examined)
