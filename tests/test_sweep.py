"""Design-space sweeps: spec validation, point identity, the store, determinism across
worker counts and fault tolerance on a real Dask LocalCluster, the CLI.

The sweeps are tiny (a handful of points of cheap centre-crop metrics) so the whole file runs
in well under a minute; the Dask tests start real worker processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.errors import ConfigError
from camtwin.sweep import compile_sweep, load_sweep, open_store, query, run_sweep
from camtwin.sweep.report import pareto_mask
from camtwin.sweep.runner import run_point
from camtwin.sweep.spec import SweepSpec

runner = CliRunner()

#: The default module's sensor cropped to 96 × 72 (the metrics below crop to ≤ 96 px anyway).
SMALL = {"sensor.width_px": 96, "sensor.height_px": 72}


def _write(tmp_path: Path, spec: dict, name: str = "sweep.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return p


def _spec(**overrides) -> dict:
    spec = {"name": "t", "base": "default", "seed": 7,
            "parameters": {**SMALL, "sensor.pixel_pitch_um": [1.4, 2.0, 2.8],
                           "exposure_s": [0.002, 20.0]},
            "measurements": ["dynamic_range_db", {"metric": "snr_at_lux",
                                                  "conditions": {"lux": 50}},
                             "frame_rate_fps"]}
    spec.update(overrides)
    return spec


def _sorted_rows(table: pa.Table, drop=("seconds", "cpu_seconds")) -> list[dict]:
    rows = [{k: v for k, v in r.items() if k not in drop} for r in table.to_pylist()]
    return sorted(rows, key=lambda r: r["point_hash"])


# --------------------------------------------------------------------------------------
# spec: validation before anything runs
# --------------------------------------------------------------------------------------
def _compile(**overrides):
    return compile_sweep(SweepSpec.from_dict(_spec(**overrides)))


def test_spec_enumerates_product_zip_and_ranges():
    sw = _compile()
    assert len(sw.points) == 3 * 2
    assert [p.params["sensor.pixel_pitch_um"] for p in sw.points[:2]] == [1.4, 1.4]
    assert sw.points[1].conditions == {"exposure_s": 20.0}
    assert sw.points[2].module.sensor.pixel_pitch_um == 2.0
    assert sw.points[0].module.sensor.width_px == 96
    z = _compile(combine="zip", parameters={"lens.f_number": [1.8, 2.8],
                                            "sensor.temperature_c": [0.0, 60.0]})
    assert [(p.module.lens.f_number, p.module.sensor.temperature_c) for p in z.points] == \
        [(1.8, 0.0), (2.8, 60.0)]
    r = _compile(parameters={"lens.f_number": {"start": 1.4, "stop": 5.6, "num": 3,
                                               "spacing": "log"},
                             "sensor.illumination": ["bsi", "fsi"]})
    got = sorted({p.module.lens.f_number for p in r.points})
    np.testing.assert_allclose(got, [1.4, 2.8, 5.6], rtol=1e-12)
    assert {p.module.sensor.illumination for p in r.points} == {"bsi", "fsi"}
    lin = _compile(parameters={"lux": {"start": 10, "stop": 30, "num": 3}},
                   measurements=[{"metric": "snr_at_lux"}])
    assert [p.conditions["lux"] for p in lin.points] == [10, 20, 30]


@pytest.mark.parametrize("overrides, message", [
    ({"parameters": {"sensor.pixel_pich_um": [1.0]}}, "unknown field 'pixel_pich_um'"),
    ({"parameters": {"sensor.pixel_pitch_um": [2.0, -1.0]}},
     "point 1 (sensor.pixel_pitch_um=-1.0)"),
    ({"parameters": {"lens.f_number": {"start": 0, "stop": 2, "num": 3, "spacing": "log"}}},
     "log spacing needs start > 0"),
    ({"parameters": {"lens.f_number": {"start": 1, "stop": 2}}}, "a range needs 'num'"),
    ({"combine": "zip", "parameters": {"lens.f_number": [1, 2], "exposure_s": [1, 2, 3]}},
     "zip needs equal numbers"),
    ({"measurements": ["lux_at_snr_10"]}, "unknown measurement"),
    ({"measurements": [{"metric": "dynamic_range_db", "conditions": {"lux": 3}}]},
     "unknown condition 'lux'"),
    ({"parameters": {"bogus": [1]}}, "parameters.bogus: not a module field path"),
    ({"measurements": [{"evaluate": "no-such-application"}]}, "no-such-application"),
    ({"parameters": {"sensor": {"catalog": "sensors", "where": {"shutter": "quantum"}}}},
     "no sensors entry matches"),
    ({"parameters": {"lens": {"catalog": "sensors"}}}, "selects from catalog 'lenses'"),
    ({"measurements": ["frame_rate_fps", {"metric": "dynamic_range_db",
                                          "as": "frame_rate_fps"}]}, "also used by"),
    ({"seed": -1}, "seed"),
])
def test_invalid_specs_fail_before_running_with_one_line(overrides, message):
    with pytest.raises(ConfigError) as info:
        _compile(**overrides)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_catalog_selection_and_module_lists():
    sw = _compile(parameters={"sensor": {"catalog": "sensors",
                                         "where": {"shutter": "global",
                                                   "pixel_pitch_um": {"max": 3.5}}}},
                  measurements=["frame_rate_fps"])
    from camtwin.catalog import load_catalog

    sensors = load_catalog().sensors
    names = [p.params["sensor"] for p in sw.points]
    assert names and names == sorted(names)
    for n in names:
        assert sensors[n].value("shutter") == "global"
        assert sensors[n].value("pixel_pitch_um") <= 3.5
    expected = {n for n, e in sensors.items()
                if e.value("shutter") == "global" and e.value("pixel_pitch_um") <= 3.5}
    assert set(names) == expected
    assert {p.module.sensor.name for p in sw.points} == expected
    mods = _compile(parameters={"module": ["default", "catalog:drone-ov9281-nav"],
                                "sensor.temperature_c": [20.0, 40.0]},
                    measurements=["frame_rate_fps"])
    assert len(mods.points) == 4
    assert mods.points[3].module.name != "default"
    assert mods.points[3].module.sensor.temperature_c == 40.0


def test_point_identity_is_independent_of_position_and_grid():
    a = _compile()
    b = _compile(parameters={**SMALL, "sensor.pixel_pitch_um": [2.8, 2.0, 1.0],
                             "exposure_s": [20.0, 0.002, 0.004]})
    pa_ = {(p.params["sensor.pixel_pitch_um"], p.conditions["exposure_s"]): p for p in a.points}
    pb = {(p.params["sensor.pixel_pitch_um"], p.conditions["exposure_s"]): p for p in b.points}
    common = set(pa_) & set(pb)
    assert len(common) == 4
    for k in common:
        assert pa_[k].hash == pb[k].hash
    assert any(pa_[k].index != pb[k].index for k in common)
    # ... and so is its result (same random stream)
    k = (2.0, 0.002)
    ra = run_point(pa_[k], a.measurements, a.spec.seed)
    rb = run_point(pb[k], b.measurements, b.spec.seed)
    assert ra["status"] == "ok"
    assert ra["dynamic_range_db"] == rb["dynamic_range_db"]
    assert ra["snr_at_lux"] == rb["snr_at_lux"]
    # another seed is another experiment
    c = compile_sweep(SweepSpec.from_dict(_spec(seed=8)))
    assert c.points[0].hash != a.points[0].hash
    rc = run_point(c.points[2], c.measurements, c.spec.seed)
    assert rc["snr_at_lux"] != run_point(a.points[2], a.measurements, 7)["snr_at_lux"]


def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(3)
    v = rng.normal(size=(60, 3))
    v[5] = v[4]  # ties: neither dominates the other
    expected = [not any(np.all(v[j] <= v[i]) and np.any(v[j] < v[i]) for j in range(60))
                for i in range(60)]
    assert pareto_mask(v).tolist() == expected
    assert pareto_mask(np.array([[1.0, 1.0], [2.0, 2.0], [0.5, 3.0]])).tolist() == \
        [True, False, True]


# --------------------------------------------------------------------------------------
# store
# --------------------------------------------------------------------------------------
def test_store_on_fsspec_memory_url_roundtrip():
    sw = _compile(parameters={**SMALL, "sensor.pixel_pitch_um": [1.4, 2.0]},
                  measurements=["frame_rate_fps"])
    from camtwin.sweep.runner import run_batch

    url = f"memory://camtwin-test-{os.getpid()}/store"
    store = open_store(url)
    store.prepare()
    rows = run_batch(list(sw.points), sw.measurements, 0, "t", sw.param_columns)
    store.write_batch(rows[:1], sw.schema)
    store.write_batch(rows[1:], sw.schema)
    store.write_batch(rows[1:], sw.schema)      # rewriting a batch is idempotent
    assert set(store.completed()) == {p.hash for p in sw.points}
    cols, got = query(url, "SELECT sensor_pixel_pitch_um, frame_rate_fps FROM points "
                           "ORDER BY 1")
    assert cols == ["sensor_pixel_pitch_um", "frame_rate_fps"]
    assert [r[0] for r in got] == [1.4, 2.0]
    assert got[0][1] == pytest.approx(1 / (72 * 30e-6))
    assert store.drop_points({sw.points[0].hash}) == 1
    assert set(store.completed()) == {sw.points[1].hash}


# --------------------------------------------------------------------------------------
# Dask: determinism, errors, worker loss, resume
# --------------------------------------------------------------------------------------
def test_same_results_with_one_and_two_workers_and_errors_recorded(tmp_path):
    sw = load_sweep(_write(tmp_path, _spec()))
    o1 = run_sweep(sw, tmp_path / "one", workers=1, batch_size=3)
    o2 = run_sweep(sw, tmp_path / "two", workers=2, batch_size=1)
    assert (o1.computed, o2.computed, o1.errors, o2.errors) == (6, 6, 3, 3)
    t1 = open_store(tmp_path / "one").read_table()
    t2 = open_store(tmp_path / "two").read_table()
    assert len(list((tmp_path / "one" / "points").glob("part-*.parquet"))) == 2
    assert len(list((tmp_path / "two" / "points").glob("part-*.parquet"))) == 6
    r1, r2 = _sorted_rows(t1), _sorted_rows(t2)
    assert r1 == r2                                    # bit-identical results
    ok = [r for r in r1 if r["status"] == "ok"]
    bad = [r for r in r1 if r["status"] == "error"]
    assert len(ok) == 3 and len(bad) == 3
    assert all(r["exposure_s"] == 20.0 for r in bad)
    assert all(r["error"].startswith("dynamic_range_db: exposure_s") or
               r["error"].startswith("snr_at_lux: exposure_s = 20.0") for r in bad)
    assert all(r["dynamic_range_db"] > 40 and r["snr_at_lux"] > 0 for r in ok)
    # bigger pixels collect more light: SNR at a fixed lux grows with pitch
    snr = [r["snr_at_lux"] for r in sorted(ok, key=lambda r: r["sensor_pixel_pitch_um"])]
    assert snr == sorted(snr)
    # the Dask results equal an in-process run of the same point
    p = next(p for p in sw.points if p.hash == ok[0]["point_hash"])
    direct = run_point(p, sw.measurements, sw.spec.seed)
    assert direct["dynamic_range_db"] == ok[0]["dynamic_range_db"]
    # rerun: nothing to do, no duplicates
    again = run_sweep(sw, tmp_path / "two", workers=1)
    assert (again.skipped, again.computed) == (6, 0)
    assert open_store(tmp_path / "two").read_table().num_rows == 6
    # --retry-errors: the 3 error points run again and replace their rows
    retry = run_sweep(sw, tmp_path / "two", workers=1, retry_errors=True)
    assert (retry.skipped, retry.computed, retry.errors) == (3, 3, 3)
    assert _sorted_rows(open_store(tmp_path / "two").read_table()) == r2

    # plain DuckDB and pyarrow read the store without camtwin
    import duckdb

    glob = str(tmp_path / "two" / "points" / "*.parquet")
    n, n_err = duckdb.sql(f"SELECT count(*), count(*) FILTER (status = 'error') "
                          f"FROM read_parquet('{glob}')").fetchall()[0]
    assert (n, n_err) == (6, 3)
    con = duckdb.connect(str(tmp_path / "two" / "points.duckdb"), read_only=True)
    assert con.execute("SELECT count(DISTINCT point_hash) FROM points").fetchall() == [(6,)]
    con.close()
    tab = pq.read_table(tmp_path / "two" / "points")
    assert tab.num_rows == 6 and "snr_at_lux" in tab.column_names
    assert tab.schema.field("dynamic_range_db").type == pa.float64()


def test_killed_worker_is_retried_without_loss_or_duplicates(tmp_path):
    spec = _spec(parameters={**SMALL, "sensor.pixel_pitch_um": [1.2, 1.6, 2.0, 2.4, 2.8, 3.2]},
                 measurements=["dynamic_range_db"])
    sw = load_sweep(_write(tmp_path, spec))
    killed = []

    def kill_one(n_batches, client):
        if not killed:
            pids = client.run(os.getpid)          # worker address → worker process id
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    out = run_sweep(sw, tmp_path / "store", workers=2, batch_size=1, on_batch=kill_one)
    assert killed
    assert (out.computed, out.lost, out.errors) == (6, 0, 0)
    t = open_store(tmp_path / "store").read_table()
    assert t.num_rows == 6
    assert sorted(t.column("point_hash").to_pylist()) == sorted(p.hash for p in sw.points)


def test_killed_sweep_resumes_only_the_missing_points(tmp_path):
    spec = _spec(parameters={**SMALL, "sensor.pixel_pitch_um":
                             [round(1.0 + 0.2 * i, 2) for i in range(12)]},
                 measurements=["dynamic_range_db"])
    path = _write(tmp_path, spec)
    store = tmp_path / "store"
    parts = store / "points"
    proc = subprocess.Popen([sys.executable, "-m", "camtwin.cli", "sweep", str(path), "--out",
                             str(store), "--workers", "2", "--batch-size", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.is_dir() and len(list(parts.glob("part-*.parquet"))) >= 2:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
        os.killpg(proc.pid, signal.SIGKILL)      # driver and its worker processes
    finally:
        proc.wait(timeout=30)
    before = open_store(store).read_table()
    n_before = before.num_rows
    assert 2 <= n_before < 12
    sw = load_sweep(path)
    out = run_sweep(sw, store, workers=2)
    assert (out.skipped, out.computed) == (n_before, 12 - n_before)
    after = open_store(store).read_table()
    hashes = after.column("point_hash").to_pylist()
    assert len(hashes) == len(set(hashes)) == 12
    assert set(hashes) == {p.hash for p in sw.points}
    assert not [f for f in parts.iterdir() if f.name.startswith(".")]   # no temp files left
    # the rows written before the kill are kept as they were
    keep = {r["point_hash"]: r for r in _sorted_rows(before)}
    for r in _sorted_rows(after):
        if r["point_hash"] in keep:
            assert r == keep[r["point_hash"]]


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------
def test_cli_sweep_query_report(tmp_path):
    spec = _write(tmp_path, _spec(parameters={**SMALL, "sensor.pixel_pitch_um": [1.4, 2.8],
                                              "lens.f_number": [1.8, 2.8]},
                                  measurements=["frame_rate_fps",
                                                {"metric": "snr_at_lux",
                                                 "conditions": {"lux": 20}}]))
    store = tmp_path / "store"
    res = runner.invoke(app, ["sweep", str(spec), "--out", str(store), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "4 computed (0 errors)" in res.output
    res = runner.invoke(app, ["query", str(store), "SELECT count(*) AS n, "
                              "min(snr_at_lux) < max(snr_at_lux) AS spread FROM points",
                              "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[:2] == ["n,spread", "4,True"]
    res = runner.invoke(app, ["sweep-report", str(store), "--out", str(tmp_path / "rep"),
                              "--pareto", "snr_at_lux:max,sensor_area_mm2:min"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "Pareto front" in html and "snr_at_lux" in html
    for name in ("pareto.png", "metrics_vs_sensor_pixel_pitch_um.png",
                 "metrics_vs_lens_f_number.png", "summary.csv"):
        assert (tmp_path / "rep" / name).stat().st_size > 0
    # bad input: one line, exit 2
    for args in (["query", str(store), "SELECT nope FROM points"],
                 ["query", str(tmp_path / "missing"), "SELECT 1"],
                 ["sweep-report", str(store), "--out", str(tmp_path / "r2"), "--pareto", "x:up"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, args
        assert "error:" in res.output
    bad = _write(tmp_path, _spec(parameters={"sensor.pixel_pitch_um": [2.0, 0.0]}), "bad.yaml")
    res = runner.invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "s2")])
    assert res.exit_code == 2
    assert "point 1 (sensor.pixel_pitch_um=0.0)" in res.output
    assert not (tmp_path / "s2").exists()                # nothing ran


# --------------------------------------------------------------------------------------
# units: evaluation margins and report labels (issue 18, "Reports")
# --------------------------------------------------------------------------------------
def _profile(tmp_path: Path) -> Path:
    """An application with cheap, spec-derived metrics, two of them on one metric."""
    prof = {"name": "cheap", "title": "Cheap", "requirements": [
        {"metric": "frame_rate_fps", "min": 25.0, "basis": "practice", "source": "test"},
        {"metric": "frame_rate_fps", "max": 60.0, "basis": "practice", "source": "test"},
        {"metric": "hfov_deg", "min": 120.0, "basis": "practice", "source": "test"}]}
    return _write(tmp_path, prof, "cheap.yaml")


def test_evaluation_margins_are_one_column_per_requirement_in_its_unit(tmp_path):
    """The old ``<app>_min_margin`` took the smallest margin ÷ limit over requirements in
    different units (lx, dB, fps, …) into one column. Now each requirement has its margin,
    in its metric's unit."""
    from camtwin.evaluate.metrics import METRICS
    from camtwin.sweep.measurements import field_label_unit

    sw = _compile(parameters=SMALL, measurements=[{"evaluate": str(_profile(tmp_path))}])
    fields = {f.name: f for f in sw.schema}
    assert not [c for c in fields if c.endswith("_min_margin")]
    margins = {"cheap_margin_frame_rate_fps": "fps", "cheap_margin_frame_rate_fps_2": "fps",
               "cheap_margin_hfov_deg": "°"}
    for col, unit in margins.items():
        assert field_label_unit(fields[col])[1] == unit
    assert {u for u in margins.values()} <= {m.unit for m in METRICS.values()}
    row = run_point(sw.points[0], sw.measurements, sw.spec.seed)
    m = sw.points[0].module
    fps = 1 / (m.sensor.height_px * m.sensor.shutter.line_time_s)   # readout-limited rate
    hfov = float(np.degrees(2 * np.arctan(m.sensor.width_mm / 2 / m.lens.focal_length_mm)))
    assert row["cheap_margin_frame_rate_fps"] == pytest.approx(fps - 25.0, rel=1e-9)
    assert row["cheap_margin_frame_rate_fps_2"] == pytest.approx(60.0 - fps, rel=1e-9)
    assert row["cheap_margin_hfov_deg"] == pytest.approx(hfov - 120.0, rel=2e-2)
    assert row["cheap_failed"] == sum(row[c] < 0 for c in margins)
    assert row["cheap_passed"] == (row["cheap_failed"] == 0)


def test_report_axes_name_the_quantity_and_its_unit(tmp_path, monkeypatch):
    """The Pareto plot said ``frame_rate_fps (max)`` against ``sensor_area_mm2 (min)``: raw
    column names, no units. Now every axis names the quantity, the unit and the better end;
    the summary has a unit column."""
    import csv

    import camtwin.sweep.report as report
    from camtwin.sweep.runner import run_batch

    sw = _compile(parameters={**SMALL, "sensor.pixel_pitch_um": [1.4, 2.0, 2.8],
                              "lens.f_number": [1.8, 2.8]},
                  measurements=["frame_rate_fps", "hfov_deg"])
    store = open_store(tmp_path / "store")
    store.prepare()
    store.write_batch(run_batch(list(sw.points), sw.measurements, 7, "t", sw.param_columns),
                      sw.schema)
    store.write_meta(sw.spec_dict())
    figs = {}
    save = report._save

    def keep(fig, path):
        figs[Path(path).name] = fig
        return save(fig, path)

    monkeypatch.setattr(report, "_save", keep)
    report.write_sweep_report(tmp_path / "store", tmp_path / "rep",
                              objectives="frame_rate_fps:max,sensor_area_mm2:min,hfov_deg:max")
    ax = figs["pareto.png"].axes[0]
    x, y = ax.get_xlabel().replace("\n", " "), ax.get_ylabel().replace("\n", " ")
    assert x == "readout-limited frame rate [fps], higher is better"
    assert y == "sensor area [mm²], lower is better"
    colour = figs["pareto.png"].axes[1].get_ylabel().replace("\n", " ")
    assert colour == "horizontal field of view [°], higher is better"
    grid = figs["metrics_vs_sensor_pixel_pitch_um.png"].axes
    assert {a.get_xlabel().replace("\n", " ") for a in grid} == {"sensor pixel pitch [µm]"}
    assert "horizontal field of view [°]" in {a.get_ylabel().replace("\n", " ") for a in grid}
    text = (tmp_path / "rep" / "summary.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(text.splitlines()))
    assert rows[0][:2] == ["metric", "unit"]
    assert {r[0]: r[1] for r in rows[1:]} == {"frame_rate_fps": "fps", "hfov_deg": "°"}


# --------------------------------------------------------------------------------------
# part names: the same forms as everywhere (issue 18, "One way to name a part")
# --------------------------------------------------------------------------------------
def test_sweep_part_lists_accept_every_part_name_form(tmp_path):
    """``sensor: [catalog:X]`` failed (the sweep looked the value up as a bare catalog key),
    and so did EMVA twins, YAML sensors/lenses and bare catalog module names. Every form of
    :mod:`camtwin.parts` now works in ``base`` and in the ``module``/``sensor``/``lens``
    lists, YAML paths relative to the spec's folder."""
    from camtwin.catalog import load_catalog, to_lens_spec, to_sensor_spec, to_module
    from camtwin.measure.emva1288.datasheet import load_summary, sensor_from_emva
    from camtwin.module import load_module

    default = load_module("default")
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    own_sensor = {**default.sensor.model_dump(mode="json"), "name": "own",
                  "pixel_pitch_um": 2.2}
    (spec_dir / "own_sensor.yaml").write_text(yaml.safe_dump(own_sensor), encoding="utf-8")
    own_lens = {**default.lens.model_dump(mode="json"), "name": "own-lens", "f_number": 3.5}
    (spec_dir / "own_lens.yaml").write_text(yaml.safe_dump(own_lens), encoding="utf-8")
    own_module = {**default.model_dump(mode="json"), "name": "own-module"}
    (spec_dir / "own_module.yaml").write_text(yaml.safe_dump(own_module), encoding="utf-8")

    def compile_(spec):
        return load_sweep(_write(spec_dir, {"name": "parts", "seed": 1,
                                            "measurements": ["frame_rate_fps"], **spec}))

    sensors = compile_({"parameters": {"sensor": [
        "catalog:sony-imx273", "sony-imx296", "emva:onsemi-python1300", "own_sensor.yaml"]}})
    got = [p.module.sensor for p in sensors.points]
    assert got[0] == to_sensor_spec("sony-imx273")
    assert got[1] == to_sensor_spec("sony-imx296")
    assert got[2] == sensor_from_emva(load_summary("onsemi-python1300"))
    assert (got[3].name, got[3].pixel_pitch_um) == ("own", 2.2)

    lenses = compile_({"parameters": {"lens": ["catalog:rpi-16mm-c-mount", "default",
                                               "own_lens.yaml"]}})
    got = [p.module.lens for p in lenses.points]
    d = default.lens.object_distance_m
    assert got[0] == to_lens_spec("rpi-16mm-c-mount", object_distance_m=d)
    assert got[1] == default.lens
    assert (got[2].name, got[2].f_number) == ("own-lens", 3.5)

    modules = compile_({"base": "own_module.yaml", "parameters": {"module": [
        "default", "drone-ov9281-nav", "catalog:cabin-vd56g3-dms", "own_module.yaml"]}})
    assert modules.base.name == "own-module"
    got = [p.module for p in modules.points]
    assert got[0] == default
    assert got[1] == to_module("drone-ov9281-nav")
    assert got[2] == to_module("cabin-vd56g3-dms")
    assert got[3].name == "own-module"
    assert compile_({"base": "catalog:drone-ov9281-nav", "parameters": {
        "lens.f_number": [2.0]}}).base.sensor == to_module("drone-ov9281-nav").sensor

    # a catalog selection resolves in the catalog, even for a name an EMVA twin shares
    sel = compile_({"parameters": {"sensor": {"catalog": "sensors",
                                              "where": {"name": "onsemi-python1300"}}}})
    assert sel.points[0].module.sensor == to_sensor_spec("onsemi-python1300")
    assert "onsemi-python1300" in load_catalog().sensors
    # an ambiguous bare name and an unknown one: one line naming the choices
    for value, message in (("onsemi-python1300", "ambiguous"), ("no-such-part", "valid")):
        with pytest.raises(ConfigError) as info:
            compile_({"parameters": {"sensor": [value]}})
        assert message in str(info.value) and "\n" not in str(info.value)
