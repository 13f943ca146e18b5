"""The on-disk cache of fitted CCMs (camtwin.cache): a second process reuses the entry
without refitting, a changed module misses it, a corrupt entry is ignored and rewritten,
concurrent writers leave one valid entry, and ``camtwin cache clear`` empties it."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from camtwin.cache import cache_key, cached_array, clear_cache
from camtwin.cli import app
from camtwin.module import load_module

_SCRIPT = textwrap.dedent("""
    import json, sys
    import camtwin.camera as cam
    from camtwin.module import load_module
    if sys.argv[1] == "forbid":                 # any refit fails the process
        def boom(module):
            raise SystemExit("refit")
        cam.fit_module_ccm = boom
    m = load_module("default").replace(sensor={"width_px": 96, "height_px": 72},
                                       lens={"focal_length_mm": 2.8 * 96 / 1280},
                                       name=sys.argv[2])
    print(json.dumps(cam.module_ccm(m).tolist()))
""")


def _run(mode, name, cache):
    env = dict(os.environ, CAMTWIN_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-c", _SCRIPT, mode, name], env=env,
                          capture_output=True, text=True, timeout=600)


def test_second_process_reuses_the_fitted_ccm(tmp_path):
    first = _run("fit", "cache-a", tmp_path)
    assert first.returncode == 0, first.stderr
    ccm = np.array(json.loads(first.stdout))
    assert ccm.shape == (3, 3) and np.allclose(ccm.sum(axis=1), 1.0, atol=1e-6)  # white-preserving
    assert len(list((tmp_path / "ccm").glob("*.npy"))) == 1
    second = _run("forbid", "cache-a", tmp_path)          # would exit "refit" on a miss
    assert second.returncode == 0, second.stderr
    np.testing.assert_array_equal(np.array(json.loads(second.stdout)), ccm)
    changed = _run("forbid", "cache-b", tmp_path)         # another module: must refit
    assert changed.returncode != 0 and "refit" in changed.stderr


def test_changed_module_changes_the_key():
    m = load_module("default")
    assert cache_key("ccm", m) == cache_key("ccm", load_module("default"))
    assert cache_key("ccm", m) != cache_key("ccm", m.replace(sensor={"read_noise_e": 2.5}))
    assert cache_key("ccm", m) != cache_key("other", m)


def test_corrupt_or_wrong_entries_are_ignored_and_rewritten(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMTWIN_CACHE_DIR", str(tmp_path))
    spec = {"module": "x"}
    calls = []

    def compute():
        calls.append(1)
        return np.eye(3) * 2

    v = cached_array("ccm", spec, compute, shape=(3, 3))
    path = tmp_path / "ccm" / f"{cache_key('ccm', spec)}.npy"
    assert path.is_file() and len(calls) == 1
    np.testing.assert_array_equal(cached_array("ccm", spec, compute, shape=(3, 3)), v)
    assert len(calls) == 1                                   # hit
    for bad in (b"not a npy file", b"", None):
        if bad is None:                                      # valid npy, wrong content
            np.save(path, np.full((3, 3), np.nan))
        else:
            path.write_bytes(bad)
        np.testing.assert_array_equal(cached_array("ccm", spec, compute, shape=(3, 3)), v)
        np.testing.assert_array_equal(np.load(path), v)      # rewritten
    np.save(path, np.eye(4))                                 # wrong shape
    np.testing.assert_array_equal(cached_array("ccm", spec, compute, shape=(3, 3)), v)
    assert len(calls) == 5
    assert not [p for p in (tmp_path / "ccm").iterdir() if ".tmp" in p.name]


def test_unwritable_cache_is_not_an_error(tmp_path, monkeypatch):
    target = tmp_path / "file"
    target.write_text("a file where the folder should be")
    monkeypatch.setenv("CAMTWIN_CACHE_DIR", str(target))
    np.testing.assert_array_equal(cached_array("ccm", {"a": 1}, lambda: np.eye(3)), np.eye(3))


def test_disabled_cache_always_computes(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMTWIN_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CAMTWIN_CACHE", "off")
    calls = []
    for _ in range(2):
        cached_array("ccm", {"a": 1}, lambda: calls.append(1) or np.eye(3))
    assert len(calls) == 2 and not (tmp_path / "ccm").exists()


def test_concurrent_writers_leave_one_valid_entry(tmp_path):
    code = ("import sys, numpy as np; from camtwin.cache import cached_array; "
            "cached_array('ccm', {'k': 1}, lambda: np.arange(9.0).reshape(3, 3), shape=(3, 3))")
    env = dict(os.environ, CAMTWIN_CACHE_DIR=str(tmp_path))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(6)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    files = list((tmp_path / "ccm").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npy"
    np.testing.assert_array_equal(np.load(files[0]), np.arange(9.0).reshape(3, 3))


def test_cli_cache_info_and_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMTWIN_CACHE_DIR", str(tmp_path))
    cached_array("ccm", {"a": 1}, lambda: np.eye(3))
    runner = CliRunner()
    res = runner.invoke(app, ["cache", "info", "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["folder"] == str(tmp_path) and info["kinds"]["ccm"]["entries"] == 1
    res = runner.invoke(app, ["cache", "clear"])
    assert res.exit_code == 0 and "removed 1 cache files" in res.output
    assert clear_cache() == (0, 0)
