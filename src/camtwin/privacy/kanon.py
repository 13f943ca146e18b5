"""k-anonymous export of detection events (time, place, attributes).

Quasi-identifiers (QIs) are the event time, its latitude and longitude and the attribute
columns (by default every column except time/lat/lon and the ``keep`` columns). Time,
latitude and longitude are released *only* as buckets: naming one of them as a ``keep``
column or an attribute is refused with a one-line error (an exact position or time beside
its bucket re-identifies the event; refusing, rather than silently dropping the column,
tells the user the release is not what they asked for). A column *derived* from them (a
rounded latitude, the date of the event) cannot be recognised by its name, so every
released column counts as a QI: a ``keep`` column is released unchanged but splits the
equivalence classes (events whose kept values differ are never in one class, and a
kept value shared by fewer than k events is suppressed), and an attribute column is
generalised to its value or ``*``.

The export generalises the QIs by top-down partitioning in the spirit of Mondrian
(LeFevre, DeWitt & Ramakrishnan 2006, "Mondrian multidimensional k-anonymity", ICDE),
restricted to a *hierarchy* so the released values are ordinary buckets:

* time: buckets of ``min_time_bucket_s`` × 2ⁿ aligned to a grid of ``min_time_bucket_s``;
* place: dyadic cells of the (lat, lon) grid — 180°/2ⁿ × 360°/2ᵐ, never finer than
  ``min_cell_deg``;
* attributes: the value, or ``*`` (suppressed) where the class mixes values.

A partition is split (time halves, lat halves, lon halves, or by the values of one
attribute) only if every non-empty part keeps at least ``k`` events; a half that would be
empty just narrows the box. Each final partition is one equivalence class, released with
its bucket bounds, fixed attributes and kept values, so every released record is
indistinguishable on *all* its columns from ≥ k − 1 others. Fewer than k events in total
release nothing. Rows are sorted by class, so the output order says nothing about the input
order.

:func:`check_k_anonymity` proves the property on any released table (it groups rows by
their QI columns — by default every column — and reports the smallest class) — use it on
the output file, not on trust. :func:`export_csv` runs the same check as
``camtwin privacy check-k`` (:func:`check_csv_text`, every column) on exactly the bytes it
is about to write, and the sizes it reports are that check's.

Event times must lie in [1970-01-01, 2200-01-01) UTC (POSIX [0, 7 258 118 400) s): every
bucket edge then stays a valid ISO 8601 date.

Limits: k-anonymity does not stop attribute disclosure when a class is homogeneous in a
``keep`` column (l-diversity, Machanavajjhala et al. 2007), nor linkage across several
releases of overlapping data.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from .._io import write_bytes_atomic
from .._spec import FrozenSpec, read_text
from ..errors import ConfigError

#: Columns of the released table that carry the generalised time and place.
RANGE_COLUMNS = ("time_start", "time_end", "lat_min", "lat_max", "lon_min", "lon_max")
SUPPRESSED = "*"

#: Valid event times [s, POSIX]: 1970-01-01T00:00:00Z … 2200-01-01T00:00:00Z (exclusive).
TIME_RANGE_S = (0.0, 7_258_118_400.0)


class ExportSpec(FrozenSpec):
    """Settings of the k-anonymous export.

    Attributes
    ----------
    k : int
        Minimum equivalence-class size (≥ 2; default 50).
    time_column, lat_column, lon_column : str
        Input columns: time as ISO 8601 (naive = UTC) or POSIX seconds; WGS 84 degrees.
    attributes : tuple of str or None
        Attribute QIs; None = every other column not in ``keep``.
    keep : tuple of str
        Columns released unchanged (e.g. an event type); they split the equivalence classes
        (see module doc). Never time/lat/lon. All other columns are dropped.
    min_time_bucket_s : float
        Finest time bucket [s] ever released.
    min_cell_deg : float
        Finest grid cell side [deg] ever released.
    """

    k: int = Field(50, ge=2, le=1_000_000)
    time_column: str = "time"
    lat_column: str = "lat"
    lon_column: str = "lon"
    attributes: tuple[str, ...] | None = None
    keep: tuple[str, ...] = ()
    min_time_bucket_s: float = Field(900.0, gt=0.0, le=3.2e7)
    min_cell_deg: float = Field(1.0 / 1024.0, gt=0.0, le=90.0)

    @field_validator("keep", "attributes")
    @classmethod
    def _release_columns(cls, cols, info: ValidationInfo):
        d = info.data
        for c in cols or ():
            problem = _release_column_problem(c, d.get("time_column", "time"),
                                              d.get("lat_column", "lat"),
                                              d.get("lon_column", "lon"))
            if problem:
                raise ValueError(problem)
        return cols


def _release_column_problem(c: str, time_column: str, lat_column: str,
                            lon_column: str) -> str | None:
    roles = {time_column: "event time", lat_column: "latitude", lon_column: "longitude"}
    if c in roles:
        return (f"column {c!r} is the {roles[c]}, a quasi-identifier released only as "
                "generalised buckets; it can never be kept or an attribute (remove it)")
    if c in RANGE_COLUMNS:
        return (f"column {c!r} clashes with a released bucket column "
                f"({', '.join(RANGE_COLUMNS)}); rename it")
    return None


def check_release_columns(keep, attributes, *, keep_name: str = "keep",
                          attribute_name: str = "attributes", time_column: str = "time",
                          lat_column: str = "lat", lon_column: str = "lon") -> None:
    """Refuse a ``keep`` column or attribute that is the time/lat/lon column (a
    quasi-identifier released only as buckets) or that would clash with a bucket column.

    :class:`ExportSpec` runs the same check; this function lets a caller name the options
    as its user spells them (``--keep`` / ``--attribute`` on the command line).

    Raises
    ------
    ConfigError
        One line naming the option, the column and why."""
    for name, cols in ((keep_name, keep), (attribute_name, attributes or ())):
        for c in cols:
            problem = _release_column_problem(c, time_column, lat_column, lon_column)
            if problem:
                raise ConfigError(f"{name} {c}: {problem}")


@dataclass(frozen=True)
class Events:
    """Parsed events: times [s, POSIX], lat/lon [deg], attribute and kept columns."""

    time_s: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    attributes: dict[str, tuple[str, ...]]
    keep: dict[str, tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.time_s)


def _parse_time(value: str, where: str, column: str = "time") -> float:
    v = value.strip()
    try:
        t = float(v)
    except ValueError:
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: {column} {value!r} is neither ISO 8601 nor POSIX "
                              "seconds") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        t = dt.timestamp()
    lo, hi = TIME_RANGE_S
    if not (math.isfinite(t) and lo <= t < hi):
        raise ConfigError(f"{where}: {column} = {value!r}: outside the valid range "
                          f"[{lo:.0f}, {hi:.0f}) s POSIX (1970-01-01 … 2200-01-01 UTC)")
    return t


def events_from_rows(rows: list[dict], spec: ExportSpec, *, source: str = "events") -> Events:
    """Validate rows (dicts of str) into :class:`Events`; errors name the row."""
    cols = list(rows[0].keys()) if rows else []
    needed = (spec.time_column, spec.lat_column, spec.lon_column)
    for c in needed + tuple(spec.keep) + tuple(spec.attributes or ()):
        if rows and c not in cols:
            raise ConfigError(f"{source}: column {c!r} is missing; columns: {', '.join(cols)}")
    attrs = spec.attributes if spec.attributes is not None else tuple(
        c for c in cols if c not in needed and c not in spec.keep)
    for a in attrs:
        if a in RANGE_COLUMNS:
            raise ConfigError(f"{source}: column {a!r} clashes with a released bucket column "
                              f"({', '.join(RANGE_COLUMNS)}); rename it")
    overlap = set(attrs) & set(spec.keep)
    if overlap:
        raise ConfigError(f"{source}: column(s) {', '.join(sorted(overlap))} cannot be both an "
                          "attribute and kept")
    t = np.empty(len(rows))
    lat = np.empty(len(rows))
    lon = np.empty(len(rows))
    for i, r in enumerate(rows):
        where = f"{source} row {i + 2}"  # header is line 1
        t[i] = _parse_time(str(r.get(spec.time_column) or ""), where, spec.time_column)
        for arr, col, lim in ((lat, spec.lat_column, 90.0), (lon, spec.lon_column, 180.0)):
            raw = r.get(col)
            try:
                v = float(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {col} = {raw!r}: not a number") from None
            if not (math.isfinite(v) and -lim <= v <= lim):
                raise ConfigError(f"{where}: {col} = {raw!r}: outside [-{lim:g}, {lim:g}]")
            arr[i] = v
    get = lambda c: tuple("" if r.get(c) is None else str(r.get(c)) for r in rows)  # noqa: E731
    return Events(t, lat, lon, {a: get(a) for a in attrs}, {c: get(c) for c in spec.keep})


def _csv_rows(text: str, source: str) -> tuple[tuple[str, ...], list[dict]]:
    """Header and rows (dicts of str) of CSV ``text``; one-line errors name ``source``."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ConfigError(f"{source}: empty file (a header row is needed)")
    rows = []
    for i, r in enumerate(reader):
        if None in r:
            raise ConfigError(f"{source} row {i + 2}: more fields than the header has")
        rows.append(r)
    return tuple(reader.fieldnames), rows


def read_events_csv(path: str | Path, spec: ExportSpec) -> Events:
    """Read an events CSV (header row required)."""
    p = Path(path)
    _, rows = _csv_rows(read_text(p, encoding="utf-8-sig"), str(p))
    if not rows:
        raise ConfigError(f"{p}: no events")
    return events_from_rows(rows, spec, source=str(p))


@dataclass
class _Part:
    idx: np.ndarray
    t0: float
    t1: float
    la0: float
    la1: float
    lo0: float
    lo1: float
    fixed: dict


@dataclass(frozen=True)
class ExportResult:
    """Released rows (dicts of str, in order), the source event of each, and a summary.

    ``qi_columns`` is every released column: a class is a set of identical rows."""

    rows: tuple[dict, ...]
    source_index: tuple[int, ...]
    columns: tuple[str, ...]
    qi_columns: tuple[str, ...]
    k: int
    n_events: int
    n_classes: int
    min_class_size: int

    @property
    def n_suppressed(self) -> int:
        return self.n_events - len(self.rows)

    def summary(self) -> dict:
        return {"k": self.k, "events_in": self.n_events, "released": len(self.rows),
                "suppressed": self.n_suppressed, "classes": self.n_classes,
                "min_class_size": self.min_class_size, "qi_columns": list(self.qi_columns)}


def _fmt(v: float) -> str:
    return repr(float(v))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def generalise(events: Events, spec: ExportSpec = ExportSpec()) -> ExportResult:
    """k-anonymise ``events`` (see module doc); returns rows ready to write."""
    k = spec.k
    n = len(events)
    attrs = tuple(events.attributes)
    columns = RANGE_COLUMNS + attrs + tuple(events.keep)
    qi = columns  # every released column, the kept ones too (see module doc)
    if n < k:
        return ExportResult((), (), columns, qi, k, n, 0, 0)
    B = spec.min_time_bucket_s
    t_lo = math.floor(events.time_s.min() / B) * B
    span = max(events.time_s.max() - t_lo, 0.0)
    levels = 0
    while B * 2 ** levels <= span:
        levels += 1
    t_hi = t_lo + B * 2 ** levels
    attr_arrays = {a: np.asarray(v, dtype=object) for a, v in events.attributes.items()}
    # kept columns are released unchanged, so they split the classes first; a combination
    # of kept values shared by fewer than k events is suppressed
    groups: dict[tuple, list[int]] = {}
    for i in range(n):
        groups.setdefault(tuple(events.keep[c][i] for c in events.keep), []).append(i)
    stack = [_Part(np.asarray(g), t_lo, t_hi, -90.0, 90.0, -180.0, 180.0, {})
             for _, g in sorted(groups.items()) if len(g) >= k]
    done: list[_Part] = []
    while stack:
        p = stack.pop()
        t, la, lo = events.time_s[p.idx], events.lat[p.idx], events.lon[p.idx]
        candidates = []  # (is_real_split, balance, order, children)
        if (p.t1 - p.t0) / 2 >= B * (1 - 1e-12):
            m = 0.5 * (p.t0 + p.t1)
            lower = t < m
            candidates.append((0, lower, [(p.t0, m), (m, p.t1)], "t"))
        if (p.la1 - p.la0) / 2 >= spec.min_cell_deg:
            m = 0.5 * (p.la0 + p.la1)
            candidates.append((1, la < m, [(p.la0, m), (m, p.la1)], "la"))
        if (p.lo1 - p.lo0) / 2 >= spec.min_cell_deg:
            m = 0.5 * (p.lo0 + p.lo1)
            candidates.append((2, lo < m, [(p.lo0, m), (m, p.lo1)], "lo"))
        best = None
        zoom = None
        for order, lower, bounds, dim in candidates:
            n_lo = int(lower.sum())
            n_hi = len(lower) - n_lo
            if n_lo and n_hi:
                if n_lo >= k and n_hi >= k:
                    key = (min(n_lo, n_hi), -order)
                    if best is None or key > best[0]:
                        kids = []
                        for mask, (a, b) in ((lower, bounds[0]), (~lower, bounds[1])):
                            kids.append(_split_child(p, p.idx[mask], dim, a, b))
                        best = (key, kids)
            elif zoom is None:
                mask = lower if n_lo else ~lower
                a, b = bounds[0] if n_lo else bounds[1]
                zoom = _split_child(p, p.idx[mask], dim, a, b)
        for order, a in enumerate(attrs, start=3):
            if a in p.fixed:
                continue
            counts = Counter(attr_arrays[a][p.idx])
            if len(counts) < 2:
                if len(counts) == 1:  # a single value: fix it without splitting
                    zoom = zoom or _Part(p.idx, p.t0, p.t1, p.la0, p.la1, p.lo0, p.lo1,
                                         {**p.fixed, a: next(iter(counts))})
                continue
            if min(counts.values()) >= k:
                key = (min(counts.values()), -order)
                if best is None or key > best[0]:
                    vals = attr_arrays[a][p.idx]
                    kids = [_Part(p.idx[vals == v], p.t0, p.t1, p.la0, p.la1, p.lo0, p.lo1,
                                  {**p.fixed, a: v}) for v in sorted(counts)]
                    best = (key, kids)
        if best is not None:
            stack.extend(best[1])
        elif zoom is not None:
            stack.append(zoom)
        else:
            done.append(p)
    rows: list[tuple] = []
    for p in done:
        qi_vals = (_iso(p.t0), _iso(p.t1), _fmt(p.la0), _fmt(p.la1), _fmt(p.lo0), _fmt(p.lo1),
                   *(p.fixed.get(a, SUPPRESSED) for a in attrs))
        for i in p.idx:
            rows.append((qi_vals, tuple(events.keep[c][i] for c in events.keep), int(i)))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    out = tuple(dict(zip(columns, r[0] + r[1])) for r in rows)
    sizes = [len(p.idx) for p in done]
    return ExportResult(out, tuple(r[2] for r in rows), columns, qi, k, n, len(done),
                        min(sizes) if sizes else 0)


def _split_child(p: _Part, idx, dim: str, a: float, b: float) -> _Part:
    c = _Part(idx, p.t0, p.t1, p.la0, p.la1, p.lo0, p.lo1, dict(p.fixed))
    if dim == "t":
        c.t0, c.t1 = a, b
    elif dim == "la":
        c.la0, c.la1 = a, b
    else:
        c.lo0, c.lo1 = a, b
    return c


def rows_to_csv(rows, columns) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def export_csv(events_csv: str | Path, out_csv: str | Path,
               spec: ExportSpec = ExportSpec()) -> ExportResult:
    """Read ``events_csv``, k-anonymise, check the result, write ``out_csv`` atomically.

    The exact bytes about to be written are parsed back and checked by
    :func:`check_csv_text` over every column — the code ``camtwin privacy check-k`` runs on
    the file — and the class count and smallest class the result reports must be that
    check's. A failed or disagreeing check (a bug) raises and writes nothing."""
    res = generalise(read_events_csv(events_csv, spec), spec)
    data = rows_to_csv(res.rows, res.columns)
    check = check_csv_text(data.decode(), spec.k, source=str(out_csv))
    if not check.ok or (check.n_rows, check.n_classes, check.min_class_size) != (
            len(res.rows), res.n_classes, res.min_class_size):  # pragma: no cover - a bug
        raise ConfigError("internal error: the export failed its own k-anonymity check "
                          f"(check-k finds {check.n_classes} classes, smallest "
                          f"{check.min_class_size}); nothing written")
    write_bytes_atomic(out_csv, data)
    return res


@dataclass(frozen=True)
class KCheck:
    """Result of :func:`check_k_anonymity`."""

    ok: bool
    k: int
    n_rows: int
    n_classes: int
    min_class_size: int
    violations: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"ok": self.ok, "k": self.k, "rows": self.n_rows, "classes": self.n_classes,
                "min_class_size": self.min_class_size, "violations": list(self.violations)}


def check_k_anonymity(rows, qi_columns, k: int) -> KCheck:
    """Group ``rows`` (dicts) by their ``qi_columns`` values; every class must have ≥ k rows.

    An empty table is k-anonymous (nothing released)."""
    if k < 1:
        raise ConfigError(f"k = {k}: must be ≥ 1")
    counts = Counter(tuple(str(r.get(c, "")) for c in qi_columns) for r in rows)
    bad = [f"class {dict(zip(qi_columns, key))} has {c} < {k} rows"
           for key, c in sorted(counts.items()) if c < k]
    return KCheck(not bad, k, sum(counts.values()), len(counts),
                  min(counts.values()) if counts else 0, tuple(bad))


def check_csv(path: str | Path, k: int, qi_columns=None) -> KCheck:
    """Check a released CSV file (see :func:`check_csv_text`)."""
    p = Path(path)
    return check_csv_text(read_text(p, encoding="utf-8-sig"), k, qi_columns, source=str(p))


def check_csv_text(text: str, k: int, qi_columns=None, *, source: str = "CSV") -> KCheck:
    """Check the text of a released CSV; QI columns default to every column (the strictest
    reading, and what :func:`export_csv` releases as one class)."""
    header, rows = _csv_rows(text, source)
    cols = tuple(qi_columns) if qi_columns else header
    missing = [c for c in cols if c not in header]
    if missing:
        raise ConfigError(f"{source}: QI column(s) {', '.join(missing)} not in the file")
    return check_k_anonymity(rows, cols, k)
