"""k-anonymous export: every equivalence class has ≥ k members (checked on the output, and
by hypothesis over random event sets); each released row truthfully generalises its event."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camtwin.errors import ConfigError
from camtwin.privacy.kanon import (ExportSpec, check_csv, check_csv_text, check_k_anonymity,
                                   check_release_columns, events_from_rows, export_csv,
                                   generalise, rows_to_csv)


def _events(rng, n, with_attrs=True):
    rows = []
    for _ in range(n):
        c = rng.integers(0, 3)  # three hot spots
        r = {"time": str(1.7e9 + rng.normal(c * 86400, 3600 * (1 + c))),
             "lat": str(np.clip(47.37 + c * 0.05 + rng.normal(0, 0.01), -90, 90)),
             "lon": str(np.clip(8.54 + rng.normal(0, 0.01 * (1 + c)), -180, 180))}
        if with_attrs:
            r["camera"] = str(rng.choice(["door", "hall", "yard"]))
            r["label"] = str(rng.choice(["person", "vehicle"]))
        rows.append(r)
    return rows


def _truthful(res, events):
    for row, i in zip(res.rows, res.source_index):
        t0 = datetime.fromisoformat(row["time_start"].replace("Z", "+00:00")).timestamp()
        t1 = datetime.fromisoformat(row["time_end"].replace("Z", "+00:00")).timestamp()
        assert t0 <= events.time_s[i] < t1 or t0 <= events.time_s[i] <= t1
        assert float(row["lat_min"]) <= events.lat[i] <= float(row["lat_max"])
        assert float(row["lon_min"]) <= events.lon[i] <= float(row["lon_max"])
        for a, vals in events.attributes.items():
            assert row[a] in ("*", vals[i])
        for c, vals in events.keep.items():
            assert row[c] == vals[i]


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_default_k50_export_file(tmp_path):
    rows = _events(np.random.default_rng(1), 3000)
    src = _write_csv(tmp_path / "events.csv", rows)
    out = tmp_path / "release.csv"
    res = export_csv(src, out, ExportSpec(keep=("label",)))
    assert res.k == 50 and len(res.rows) == 3000 and res.n_classes > 3
    # the file's own check (every column a QI, the kept label too) is the export's
    check = check_csv(out, 50)
    assert check.ok and check.min_class_size >= 50 and check.n_rows == 3000
    assert (check.n_classes, check.min_class_size) == (res.n_classes, res.min_class_size)
    assert res.qi_columns == res.columns
    _truthful(res, events_from_rows(rows, ExportSpec(keep=("label",))))
    header = out.read_text().splitlines()[0].split(",")
    assert header == ["time_start", "time_end", "lat_min", "lat_max", "lon_min", "lon_max",
                      "camera", "label"]


def test_checker_finds_a_small_class():
    rows = [{"a": "1"}] * 5 + [{"a": "2"}] * 4
    c = check_k_anonymity(rows, ("a",), 5)
    assert not c.ok and c.min_class_size == 4 and "has 4 < 5 rows" in c.violations[0]
    assert check_k_anonymity(rows, ("a",), 4).ok


def test_fewer_than_k_events_releases_nothing():
    ev = events_from_rows(_events(np.random.default_rng(2), 49), ExportSpec())
    res = generalise(ev, ExportSpec())
    assert res.rows == () and res.n_suppressed == 49


def test_granularity_limits_hold():
    spec = ExportSpec(k=2, min_time_bucket_s=3600, min_cell_deg=0.01)
    rows = [{"time": "2025-01-01T10:00:00Z", "lat": "47.0", "lon": "8.0"}] * 4
    res = generalise(events_from_rows(rows, spec), spec)
    for r in res.rows:
        t0 = datetime.fromisoformat(r["time_start"].replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(r["time_end"].replace("Z", "+00:00"))
        assert (t1 - t0).total_seconds() >= 3600
        assert float(r["lat_max"]) - float(r["lat_min"]) >= 0.01
        assert float(r["lon_max"]) - float(r["lon_min"]) >= 0.01


@pytest.mark.parametrize("rows, match", [
    ([{"time": "yesterday", "lat": "1", "lon": "2"}], "row 2: time 'yesterday'"),
    ([{"time": "0", "lat": "91", "lon": "2"}], r"lat = '91': outside \[-90, 90\]"),
    ([{"time": "0", "lat": "x", "lon": "2"}], "lat = 'x': not a number"),
    ([{"time": "0", "lon": "2"}], "column 'lat' is missing"),
    # issue 22: 1e15 s (year 31 690 708) was a traceback from datetime
    ([{"time": "1e15", "lat": "1", "lon": "2"}], r"row 2: time = '1e15': outside the valid "
                                                 r"range \[0, 7258118400\) s"),
    ([{"time": "-1", "lat": "1", "lon": "2"}], r"time = '-1': outside"),
    ([{"time": "nan", "lat": "1", "lon": "2"}], r"time = 'nan': outside"),
    ([{"time": "2200-01-01T00:00:00Z", "lat": "1", "lon": "2"}], r"2200-01-01 UTC\)"),
    ([{"time": "0", "lat": "1", "lon": "2", "lat_min": "3"}], "'lat_min' clashes"),
])
def test_bad_events_one_line_error(rows, match):
    with pytest.raises(ConfigError, match=match) as exc:
        events_from_rows(rows, ExportSpec())
    assert "\n" not in str(exc.value)


_event = st.fixed_dictionaries({
    "time": st.floats(1.6e9, 1.6e9 + 3e5).map(repr),
    "lat": st.one_of(st.floats(-90, 90), st.floats(47.0, 47.01)).map(repr),
    "lon": st.one_of(st.floats(-180, 180), st.sampled_from([-180.0, 180.0, 179.999]),
                     st.floats(8.0, 8.01)).map(repr),
    "sex": st.sampled_from(["f", "m", "x"]),
    "age": st.sampled_from(["<18", "18-65", ">65"]),
    "kind": st.sampled_from(["enter", "leave"]),
})


@settings(max_examples=150, deadline=None)
@given(events=st.lists(_event, max_size=250), k=st.integers(2, 60),
       bucket=st.sampled_from([60.0, 900.0, 3600.0]))
def test_property_every_class_has_k_members(events, k, bucket):
    spec = ExportSpec(k=k, keep=("kind",), min_time_bucket_s=bucket, min_cell_deg=1e-3)
    ev = events_from_rows(events, spec)
    res = generalise(ev, spec)
    # every released column is a QI (the kept "kind" too), on the written CSV text
    check = check_csv_text(rows_to_csv(res.rows, res.columns).decode(), k)
    assert check.ok, check.violations[:3]
    assert check.n_rows == len(res.rows)
    # a kept value shared by fewer than k events is suppressed, everything else released
    kinds = Counter(e["kind"] for e in events)
    assert len(res.rows) == sum(c for c in kinds.values() if c >= k)
    assert len(set(res.source_index)) == len(res.rows)
    if res.rows:
        assert check.min_class_size >= k and check.n_classes == res.n_classes
        assert check.min_class_size == res.min_class_size
    _truthful(res, ev)


# --- issue 22, item 1: nothing exact about time or place is ever released ---------------
@pytest.mark.parametrize("kw, match", [
    ({"keep": ("lat", "lon", "time")}, "keep = .*'lat' is the latitude"),
    ({"keep": ("time",)}, "'time' is the event time"),
    ({"attributes": ("lon",)}, "attributes = .*'lon' is the longitude"),
    ({"time_column": "t", "keep": ("t",)}, "'t' is the event time"),
    ({"keep": ("time_start",)}, "clashes with a released bucket column"),
])
def test_quasi_identifiers_can_never_be_kept(kw, match):
    with pytest.raises(ConfigError, match=match) as exc:
        ExportSpec(**kw)
    assert "\n" not in str(exc.value)


def test_release_column_check_names_the_callers_option():
    with pytest.raises(ConfigError, match=r"^--keep lat: column 'lat' is the latitude"):
        check_release_columns(["camera", "lat"], [], keep_name="--keep")
    check_release_columns(["camera"], ["label"])  # ordinary columns pass


def _derived(rows):
    for r in rows:
        r["date"] = datetime.fromtimestamp(float(r["time"]), tz=timezone.utc).date().isoformat()
        r["lat2"] = f"{float(r['lat']):.2f}"
    return rows


@pytest.mark.parametrize("keep", ["date", "lat2"])
def test_kept_derived_column_counts_in_every_class(tmp_path, keep):
    """A column derived from time/place cannot be recognised by name; kept, it splits the
    classes: each (buckets, attributes, kept value) combination still has ≥ k events."""
    rows = _derived(_events(np.random.default_rng(4), 600))
    src = _write_csv(tmp_path / "events.csv", rows)
    out = tmp_path / "release.csv"
    res = export_csv(src, out, ExportSpec(k=20, keep=(keep,)))
    check = check_csv(out, 20)  # every column, as check-k does
    assert check.ok and check.min_class_size == res.min_class_size >= 20
    # the reference: group the released rows by hand on every column
    with open(out, newline="") as f:
        released = list(csv.DictReader(f))
    sizes = Counter(tuple(r.values()) for r in released)
    assert min(sizes.values()) == res.min_class_size and len(sizes) == res.n_classes
    # suppressed: exactly the events whose kept value fewer than k events share
    counts = Counter(r[keep] for r in rows)
    assert res.n_suppressed == sum(c for c in counts.values() if c < 20)
    _truthful(res, events_from_rows(rows, ExportSpec(k=20, keep=(keep,))))
