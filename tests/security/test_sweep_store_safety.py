"""Sweep store safety (issue 22): one writer per store, unreadable part files, huge grids.

Each test reproduced its failure against the first version of the sweep code:

* two sweeps into one store wrote every point twice (48 rows for 24 points) — now the
  second writer is refused with one line naming the first, and a lock left by a killed
  sweep is taken over with a notice;
* a zero-byte or garbage ``part-*.parquet`` made ``query``, ``sweep-report`` and a resumed
  ``sweep`` end in an ArrowInvalid / DuckDB traceback — now one line names the file and
  says how to fix it, and nothing is deleted;
* a 10¹⁰-point grid was expanded (``itertools.product`` into a list) until memory ran out
  — now it is refused before expansion with the count and the limit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.errors import ConfigError
from camtwin.sweep import SweepSpec, compile_sweep, load_sweep, open_store, query, run_sweep
from camtwin.sweep.report import write_sweep_report
from camtwin.sweep.runner import run_batch
from camtwin.sweep.spec import MAX_POINTS

runner = CliRunner()
SMALL = {"sensor.width_px": 96, "sensor.height_px": 72}


def _spec(pitches, measurements=("frame_rate_fps",)) -> dict:
    return {"name": "safety", "seed": 3,
            "parameters": {**SMALL, "sensor.pixel_pitch_um": list(pitches)},
            "measurements": list(measurements)}


def _write_spec(folder: Path, spec: dict) -> Path:
    p = folder / "sweep.yaml"
    p.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return p


def _store_in_process(folder: Path, spec: dict):
    """A store of ``spec`` written in this process (no Dask): one part file per point."""
    sw = compile_sweep(SweepSpec.from_dict(spec))
    store = open_store(folder)
    store.prepare()
    for row in run_batch(list(sw.points), sw.measurements, sw.spec.seed, sw.spec.name,
                         sw.param_columns):
        store.write_batch([row], sw.schema)
    store.write_meta(sw.spec_dict())
    return sw, store


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --------------------------------------------------------------------------------------
# one writer per store
# --------------------------------------------------------------------------------------
def test_second_sweep_is_refused_and_a_killed_sweeps_lock_is_taken_over(tmp_path):
    """The reported failure: a second sweep (other batch size) into a store that a first
    sweep is writing → every point twice. Now: refused; after the first is killed with
    SIGKILL its lock file is stale and the next run takes it over and completes."""
    n = 24
    spec = _spec([round(1.0 + 0.1 * i, 2) for i in range(n)], ["dynamic_range_db"])
    path = _write_spec(tmp_path, spec)
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "camtwin.cli", "sweep", str(path), "--out",
                             str(store), "--workers", "1", "--batch-size", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    sw = load_sweep(path)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list((store / "points").glob("part-*.parquet"))) >= 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the first sweep ended before the second started"
        with pytest.raises(ConfigError) as info:
            run_sweep(sw, store, workers=1, batch_size=5)
        text = str(info.value)
        assert "in use by another sweep" in text and f"pid {proc.pid}" in text
        assert "\n" not in text
        res = runner.invoke(app, ["sweep", str(path), "--out", str(store), "--workers", "1"])
        assert res.exit_code == 2
        assert f"pid {proc.pid}" in res.output
        os.killpg(proc.pid, signal.SIGKILL)      # driver and workers; the lock file stays
    finally:
        proc.wait(timeout=30)
    holder = json.loads((store / "sweep.lock").read_text())
    assert holder["pid"] == proc.pid and holder["host"] == socket.gethostname()
    notes = []
    out = run_sweep(sw, store, workers=1, notify=notes.append)
    assert notes == out.notices and len(notes) == 1
    assert f"pid {proc.pid}" in notes[0] and "no longer running" in notes[0]
    hashes = open_store(store).read_table(["point_hash"]).column("point_hash").to_pylist()
    assert len(hashes) == len(set(hashes)) == n          # no duplicates, none lost
    assert not (store / "sweep.lock").exists()           # released


def test_lock_held_in_this_process_refuses_a_writer_with_one_line(tmp_path):
    spec = _spec([1.4, 2.0])
    path = _write_spec(tmp_path, spec)
    store = open_store(tmp_path / "store")
    with store.lock():
        res = runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "store")])
        assert res.exit_code == 2
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and "in use by another sweep" in lines[0]
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in lines[0]
        with pytest.raises(ConfigError, match="in use by another sweep"):
            open_store(tmp_path / "store").lock().acquire()
    # released: the next writer gets it
    with store.lock() as lock:
        assert lock.notice is None


@pytest.mark.parametrize("where", ["local", "memory"])
def test_stale_and_foreign_lock_files(tmp_path, where):
    url = tmp_path / "store" if where == "local" else f"memory://lock-{os.getpid()}/store"
    store = open_store(url)
    store.prepare()
    path = store._join("sweep.lock")

    def put(holder):
        store._write(path, json.dumps(holder).encode())

    host = socket.gethostname()
    dead = _dead_pid()
    put({"pid": dead, "host": host, "started": "2026-01-01T00:00:00"})
    with store.lock() as lock:                       # a dead pid of this host: taken over
        assert f"pid {dead}" in lock.notice and "no longer running" in lock.notice
        assert json.loads(store.fs.cat_file(path))["pid"] == os.getpid()
    assert not store.fs.exists(path)
    put({"pid": 1, "host": host + "-elsewhere", "started": "2026-01-01T00:00:00"})
    with pytest.raises(ConfigError) as info:         # another host: cannot be checked
        store.lock().acquire()
    assert "another host" in str(info.value) and "delete" in str(info.value)
    assert store.fs.exists(path)                     # left alone
    store.fs.rm(path)
    if where == "memory":                            # no flock: a live pid holds it
        put({"pid": os.getppid(), "host": host, "started": "2026-01-01T00:00:00"})
        with pytest.raises(ConfigError, match=f"pid {os.getppid()}"):
            store.lock().acquire()
        store.fs.rm(path)


# --------------------------------------------------------------------------------------
# unreadable part files
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["zero bytes", "garbage", "truncated", "damaged page"])
def test_unreadable_part_file_gives_one_line_naming_it(tmp_path, damage):
    sw, store = _store_in_process(tmp_path / "store", _spec([1.4, 2.0, 2.8]))
    parts = sorted((tmp_path / "store" / "points").glob("part-*.parquet"))
    bad = parts[1]
    if damage == "zero bytes":
        bad.write_bytes(b"")
    elif damage == "garbage":
        bad.write_bytes(b"not parquet at all\n" * 20)
    elif damage == "truncated":
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    else:   # the footer reads, a page behind it does not
        data = bytearray(bad.read_bytes())
        data[70:1500] = bytes(b ^ 0x5A for b in data[70:1500])
        bad.write_bytes(bytes(data))
    good = {p: p.read_bytes() for p in parts if p != bad}
    bad_bytes = bad.read_bytes()
    name = f"points/{bad.name}"

    def check(text):
        assert name in text and "\n" not in text
        assert "move it out of points/" in text

    with pytest.raises(ConfigError) as info:
        query(tmp_path / "store", "SELECT count(*) FROM points")
    check(str(info.value))
    with pytest.raises(ConfigError) as info:
        write_sweep_report(tmp_path / "store", tmp_path / "rep")
    check(str(info.value))
    with pytest.raises(ConfigError) as info:    # resume: refused before any Dask work
        run_sweep(sw, tmp_path / "store", workers=1)
    check(str(info.value))
    with pytest.raises(ConfigError) as info:    # --retry-errors rewrites files: refused too
        store.drop_points({sw.points[0].hash})
    check(str(info.value))
    for args in (["query", str(tmp_path / "store"), "SELECT * FROM points"],
                 ["sweep-report", str(tmp_path / "store"), "--out", str(tmp_path / "r2")]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, res.output
        assert len(res.output.strip().splitlines()) == 1 and name in res.output
    # nothing deleted or rewritten, and the lock is released
    assert bad.read_bytes() == bad_bytes
    assert all(p.read_bytes() == b for p, b in good.items())
    assert not (tmp_path / "store" / "sweep.lock").exists()
    # the fix the message gives: move the file aside → the store reads again
    bad.rename(bad.with_name(bad.name + ".corrupt"))
    assert query(tmp_path / "store", "SELECT count(*) FROM points")[1] == [(2,)]


# --------------------------------------------------------------------------------------
# grid size
# --------------------------------------------------------------------------------------
def test_huge_grid_is_refused_before_it_is_expanded():
    spec = {"name": "huge", "parameters": {
        "sensor.pixel_pitch_um": {"start": 1.0, "stop": 3.0, "num": 100_000},
        "lens.f_number": {"start": 1.2, "stop": 8.0, "num": 100_000}},
        "measurements": ["frame_rate_fps"]}
    with pytest.raises(ConfigError) as info:   # the old code expanded it until out of memory
        compile_sweep(SweepSpec.from_dict(spec))
    text = str(info.value)
    assert "10000000000 points" in text and f"{MAX_POINTS}" in text and "\n" not in text
    zipped = {**spec, "combine": "zip", "parameters": {
        "sensor.pixel_pitch_um": [1.0 + i * 1e-6 for i in range(MAX_POINTS + 1)],
        "lens.f_number": [2.0] * (MAX_POINTS + 1)}}
    with pytest.raises(ConfigError, match=f"{MAX_POINTS + 1} points"):
        compile_sweep(SweepSpec.from_dict(zipped))

