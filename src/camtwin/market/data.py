"""The market dataset: claims of the seed reports with provenance, validated once.

``camtwin/data/market/claims.yaml`` holds every quantitative claim of the three seed market
reports (metric, value, unit, year or period, market/segment/region/companies, source file and
the exact quoted sentence), the segments and regions the reports define, the vendor → region
table used to place catalog parts, and the list of numbers in the seeds that are *not* claims
(phone numbers, list numbering, ...), each with its reason.

Every record is a :class:`~camtwin._spec.FrozenSpec`; :class:`MarketData` checks the cross
references (sources, markets, regions, segments) and unique ids, so a typo in the data file is
a one-line :class:`~camtwin.errors.ConfigError`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec, read_yaml
from ..errors import ConfigError, unknown_name

#: Metrics a claim may state; the unit each one must carry.
METRICS: dict[str, tuple[str, ...]] = {
    "forecast_period": ("year",),
    "market_size": ("USD_bn",),
    "cagr": ("%",),
    "company_growth": ("%",),
    "market_share": ("%",),
    "demand_coverage": ("%",),
    "quantum_efficiency": ("%",),
    "quantum_efficiency_above_average": ("pp",),
    "optical_format": ("inch",),
    "yield_rate": ("%",),
    "yield_rate_above_average": ("pp",),
    "snr_improvement": ("%",),
    "focus_accuracy": ("um",),
    "profit_margin": ("%",),
    "gross_margin": ("%",),
    "patent_count": ("count",),
    "patent_share": ("%",),
    "algorithm_bias_rate": ("%",),
    "k_anonymity": ("count",),
    "order_growth": ("%",),
    "compliance_spend": ("%",),
    "price_premium": ("%",),
}

#: Tags a claim may carry (``camtwin market claims --tag``).
TAGS = ("market_size", "growth", "share", "regional", "segment", "company", "technology",
        "finance", "patents", "regulation", "capacity", "report")

BOUNDS = ("exact", "approximately", "more_than", "less_than", "at_least")

_PACKAGED = "claims.yaml"


class Source(FrozenSpec):
    """One seed document."""

    file: str = Field(min_length=1)
    title: str
    publisher: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Evidence(FrozenSpec):
    """A quoted passage of a seed (exact text, whitespace-normalised)."""

    source: str
    quote: str = Field(min_length=1)


class Market(FrozenSpec):
    """A market named by a report. ``parent`` is a strictly larger market;
    ``same_scope_as`` names a market of another report that covers the same products."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    source: str
    parent: Optional[str] = None
    same_scope_as: Optional[str] = None
    catalog_scope: dict[str, tuple[str, ...]] = {}
    note: str = ""


class Region(FrozenSpec):
    """A country or region; ``members`` are the country names a report lists under it."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    kind: Literal["world", "region", "country"]
    aliases: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()


class Claim(FrozenSpec):
    """One quantitative statement of a seed, with the sentence it comes from."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    source: str
    quote: str = Field(min_length=10)
    metric: str
    value: Optional[float] = None
    value_low: Optional[float] = None
    value_high: Optional[float] = None
    bound: Literal["exact", "approximately", "more_than", "less_than", "at_least"] = "exact"
    unit: str
    #: decimals printed in the seed (filled in from the YAML number when not given)
    decimals: int = Field(0, ge=0, le=6)
    year: Optional[int] = Field(None, ge=1990, le=2100)
    period_start: Optional[int] = Field(None, ge=1990, le=2100)
    period_end: Optional[int] = Field(None, ge=1990, le=2100)
    market: Optional[str] = None
    segment: Optional[str] = None
    region: str = "global"
    companies: tuple[str, ...] = ()
    product: str = ""
    context: dict[str, float] = {}
    status: Literal["reported", "projection", "target"]
    tags: tuple[str, ...] = Field(min_length=1)
    note: str = ""

    @model_validator(mode="before")
    @classmethod
    def _printed_decimals(cls, data):
        if isinstance(data, dict) and "decimals" not in data:
            nums = [data.get(k) for k in ("value", "value_low", "value_high")]
            data = dict(data)
            data["decimals"] = max((_decimals(v) for v in nums if v is not None), default=0)
        return data

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str) -> str:
        if v not in METRICS:
            raise unknown_name("metric", v, METRICS)
        return v

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, v):
        bad = [t for t in v if t not in TAGS]
        if bad:
            raise unknown_name("tag", bad[0], TAGS)
        return v

    @model_validator(mode="after")
    def _consistent(self):
        if self.unit not in METRICS[self.metric]:
            raise ValueError(f"unit {self.unit!r} does not fit metric {self.metric!r} "
                             f"(expected {', '.join(METRICS[self.metric])})")
        has_range = self.value_low is not None or self.value_high is not None
        if self.metric == "forecast_period":
            if self.value is not None or has_range or None in (self.period_start,
                                                               self.period_end):
                raise ValueError("a forecast_period claim has period_start and period_end "
                                 "and no value")
        elif (self.value is None) == (not has_range) or (
                has_range and None in (self.value_low, self.value_high)):
            raise ValueError("give either value or both value_low and value_high")
        if has_range and not self.value_low <= self.value_high:
            raise ValueError(f"value_low {self.value_low} > value_high {self.value_high}")
        if (self.period_start is not None and self.period_end is not None
                and not self.period_start < self.period_end):
            raise ValueError(f"period {self.period_start}-{self.period_end}: start must be "
                             "before end")
        if self.metric in ("market_size", "market_share", "cagr") and self.market is None:
            raise ValueError(f"a {self.metric} claim names its market")
        return self

    # ---------------------------------------------------------------------------------
    @property
    def numbers(self) -> tuple[float, ...]:
        """Every number this claim accounts for in its quote (value(s), years, context)."""
        vals = [self.value, self.value_low, self.value_high, self.year, self.period_start,
                self.period_end, *self.context.values()]
        return tuple(float(v) for v in vals if v is not None)

    @property
    def interval(self) -> tuple[float, float]:
        """The range of true values the printed claim allows: half a unit of the last
        printed digit either side; open-ended for 'over'/'below'/'at least'."""
        half = 0.5 * 10.0 ** (-self.decimals)
        lo = self.value_low if self.value is None else self.value
        hi = self.value_high if self.value is None else self.value
        if lo is None or hi is None:
            raise ConfigError(f"claim {self.id!r} has no value")
        if self.bound == "more_than":
            return (lo, math.inf)
        if self.bound == "at_least":
            return (lo, math.inf)
        if self.bound == "less_than":
            return (-math.inf, hi)
        return (lo - half, hi + half)

    @property
    def value_text(self) -> str:
        """The value as a short text with bound and unit (``'> 47 %'``, ``'US$ 10.6 bn'``)."""
        if self.metric == "forecast_period":
            return f"{self.period_start}-{self.period_end}"
        prefix = {"exact": "", "approximately": "≈ ", "more_than": "> ", "less_than": "< ",
                  "at_least": "≥ "}[self.bound]
        fmt = f"{{:.{self.decimals}f}}"
        num = (fmt.format(self.value) if self.value is not None
               else f"{fmt.format(self.value_low)}–{fmt.format(self.value_high)}")
        if self.unit == "USD_bn":
            return f"{prefix}US$ {num} bn"
        unit = {"%": " %", "pp": " pp", "count": "", "um": " µm", "inch": " inch",
                "year": ""}[self.unit]
        return f"{prefix}{num}{unit}"

    @property
    def when(self) -> str:
        if self.year is not None:
            return str(self.year)
        if self.period_start is not None and self.period_end is not None:
            return f"{self.period_start}-{self.period_end}"
        if self.period_end is not None:
            return f"to {self.period_end}"
        if self.period_start is not None:
            return f"from {self.period_start}"
        return ""

    def citation(self) -> dict:
        return {"claim": self.id, "source": self.source, "quote": self.quote}


class Segment(FrozenSpec):
    """A segment a report defines (by type, resolution, application or region)."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    market: str
    dimension: Literal["type", "resolution", "application", "region"]
    label: str
    source: str
    quote: str = Field(min_length=1)
    #: the segment's entry in the report's bulleted list, when it differs from ``quote``
    list_item: str = ""
    mp_min: Optional[float] = None
    mp_max: Optional[float] = None
    region: Optional[str] = None
    catalog: dict[str, tuple[str, ...]] = {}
    note: str = ""

    @property
    def numbers(self) -> tuple[float, ...]:
        return tuple(float(v) for v in (self.mp_min, self.mp_max) if v is not None)


class Vendor(FrozenSpec):
    """Where a catalog sensor vendor is based (not from the seeds; see the data file)."""

    name: str
    country: str
    regions: tuple[str, ...]
    note: str = ""


class Ignored(FrozenSpec):
    """A number in a seed that is not a claim, with the reason."""

    source: str
    token: str = Field(pattern=r"^\d[\d.,]*$")
    context: str = Field(min_length=1)
    reason: str = Field(min_length=5)

    @model_validator(mode="after")
    def _token_in_context(self):
        if self.token not in self.context:
            raise ValueError(f"token {self.token!r} does not occur in context {self.context!r}")
        return self


class MarketData(FrozenSpec):
    """The whole dataset, with its cross references checked."""

    version: Literal[1]
    sources: tuple[Source, ...]
    markets: tuple[Market, ...]
    regions: tuple[Region, ...]
    claims: tuple[Claim, ...]
    segments: tuple[Segment, ...]
    vendors: tuple[Vendor, ...]
    ignored: tuple[Ignored, ...]

    @model_validator(mode="after")
    def _references(self):
        sources = {s.file for s in self.sources}
        markets = {m.id for m in self.markets}
        regions = {r.id for r in self.regions}
        segments = {s.id for s in self.segments}
        for kind, items in (("market", self.markets), ("region", self.regions),
                            ("claim", self.claims), ("segment", self.segments)):
            seen = set()
            for it in items:
                if it.id in seen:
                    raise ValueError(f"duplicate {kind} id {it.id!r}")
                seen.add(it.id)

        def need(pool, value, what, where):
            if value is not None and value not in pool:
                raise ValueError(f"{where}: {what} {value!r} is not defined; valid choices: "
                                 f"{', '.join(sorted(pool))}")

        for m in self.markets:
            need(sources, m.source, "source", f"market {m.id}")
            need(markets, m.parent, "parent market", f"market {m.id}")
            need(markets, m.same_scope_as, "market", f"market {m.id}")
        for r in self.regions:
            for e in r.evidence:
                need(sources, e.source, "source", f"region {r.id}")
        for c in self.claims:
            where = f"claim {c.id}"
            need(sources, c.source, "source", where)
            need(markets, c.market, "market", where)
            need(regions, c.region, "region", where)
            need(segments, c.segment, "segment", where)
        for s in self.segments:
            need(sources, s.source, "source", f"segment {s.id}")
            need(markets, s.market, "market", f"segment {s.id}")
            need(regions, s.region, "region", f"segment {s.id}")
        for v in self.vendors:
            for r in v.regions:
                need(regions, r, "region", f"vendor {v.name}")
        for i in self.ignored:
            need(sources, i.source, "source", f"ignored {i.token!r}")
        return self

    # lookups ---------------------------------------------------------------------------
    def market(self, market_id: str) -> Market:
        for m in self.markets:
            if m.id == market_id:
                return m
        raise unknown_name("market", market_id, [m.id for m in self.markets])

    def region(self, region_id: str) -> Region:
        for r in self.regions:
            if r.id == region_id:
                return r
        raise unknown_name("region", region_id, [r.id for r in self.regions])

    def segment(self, segment_id: str) -> Segment:
        for s in self.segments:
            if s.id == segment_id:
                return s
        raise unknown_name("segment", segment_id, [s.id for s in self.segments])

    def claim(self, claim_id: str) -> Claim:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise unknown_name("claim", claim_id, [c.id for c in self.claims])

    def select(self, *, tag: str | None = None, market: str | None = None,
               metric: str | None = None, source: str | None = None) -> tuple[Claim, ...]:
        """Claims filtered by tag, market, metric and source; unknown names are errors."""
        if tag is not None and tag not in TAGS:
            raise unknown_name("tag", tag, TAGS)
        if market is not None:
            self.market(market)
        if metric is not None and metric not in METRICS:
            raise unknown_name("metric", metric, METRICS)
        if source is not None and source not in {s.file for s in self.sources}:
            raise unknown_name("source", source, [s.file for s in self.sources])
        return tuple(c for c in self.claims
                     if (tag is None or tag in c.tags)
                     and (market is None or c.market == market)
                     and (metric is None or c.metric == metric)
                     and (source is None or c.source == source))


def _decimals(v) -> int:
    """Digits after the decimal point of a number as written in YAML (int → 0)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return 0
    text = v if isinstance(v, str) else repr(v)
    if isinstance(v, int) or "." not in text or "e" in text.lower():
        return 0
    return len(text.split(".", 1)[1])


def market_data_path() -> Path:
    """The dataset shipped with camtwin (``camtwin/data/market/claims.yaml``)."""
    return Path(str(resources.files("camtwin") / "data" / "market" / _PACKAGED))


@lru_cache(maxsize=4)
def _load(path: Path) -> MarketData:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with sources, markets, claims, ...")
    return MarketData.from_dict(data, source=str(path))


def load_market_data(path: str | Path | None = None) -> MarketData:
    """Load (once, cached) and validate the market dataset; default: the shipped file."""
    return _load(Path(path).resolve() if path is not None else market_data_path())
