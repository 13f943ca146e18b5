"""``camtwin privacy …`` as a user meets it: outputs, one-line errors with exit status 2,
nothing lost on bad input, and the module key never printed."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data
from typer.testing import CliRunner

from camtwin.cli import app

KEY_HEX = "5c" * 32
runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


@pytest.fixture(scope="module")
def astro_png(tmp_path_factory):
    p = tmp_path_factory.mktemp("img") / "astronaut.png"
    cv2.imwrite(str(p), data.astronaut()[:, :, ::-1])
    return p


def _snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_anonymise_command(astro_png, tmp_path):
    out = tmp_path / "anon.png"
    r = invoke("privacy", "anonymise", astro_png, out, "--method", "pixelate", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["decision"]["anonymise"] and rep["anonymisation"]["n_regions"] >= 1
    a = cv2.imread(str(astro_png))
    b = cv2.imread(str(out))
    changed = np.any(a != b, axis=2)
    assert changed[76:167, 175:266].mean() > 0.5
    inside = np.zeros_like(changed)
    for reg in rep["anonymisation"]["regions"]:
        inside[reg["y"]:reg["y"] + reg["h"], reg["x"]:reg["x"] + reg["w"]] = True
    assert not changed[~inside].any()


def test_policy_position_and_vault_from_cli(astro_png, tmp_path):
    from camtwin.privacy.policy import example_policy  # noqa: F401 (package data present)
    from importlib import resources

    policy = resources.files("camtwin") / "data" / "privacy" / "example_policy.yaml"
    env = {"CAMTWIN_VAULT_KEY": KEY_HEX}
    v = tmp_path / "vault"
    assert invoke("privacy", "vault", "init", v, env=env).exit_code == 0
    # inside the school: anonymised, nothing stored even with consent
    r = invoke("privacy", "anonymise", astro_png, tmp_path / "s.png", "--policy", policy,
               "--lat", 47.3705, "--lon", 8.5405, "--consent", "--vault", v, "--json", env=env)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["decision"]["anonymise"] and rep["stored_records"] == []
    # elsewhere with consent: not anonymised, template stored encrypted
    r = invoke("privacy", "anonymise", astro_png, tmp_path / "e.png", "--policy", policy,
               "--lat", 46.0, "--lon", 7.0, "--consent", "--vault", v, "--json", env=env)
    rep = json.loads(r.stdout)
    assert not rep["decision"]["anonymise"] and len(rep["stored_records"]) >= 1
    rid = rep["stored_records"][0]
    r = invoke("privacy", "vault", "verify", v, "--json", env=env)
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"]
    r = invoke("privacy", "vault", "read", v, rid, env=env)
    assert r.exit_code == 0 and '"kind": "template"' in r.stdout
    assert invoke("privacy", "vault", "erase", v, rid, env=env).exit_code == 0
    r = invoke("privacy", "vault", "read", v, rid, env=env)
    assert r.exit_code == 2 and "erased" in r.output
    r = invoke("privacy", "vault", "verify", v, env=env)
    assert r.exit_code == 0 and "vault OK" in r.stdout
    # tamper → verify exits 1 and says so
    log = v / "audit.log"
    text = log.read_text()
    log.write_text(text.replace('"op":"read"', '"op":"rEad"', 1))
    r = invoke("privacy", "vault", "verify", v, env=env)
    assert r.exit_code == 1 and "TAMPERED" in r.stdout
    for res in (r,):
        assert KEY_HEX not in res.output


def test_vault_cli_key_file_store_wrong_key(tmp_path):
    kf = tmp_path / "module.key"
    r = invoke("privacy", "vault", "keygen", kf)
    assert r.exit_code == 0 and kf.read_text().strip() not in r.output
    v = tmp_path / "v"
    assert invoke("privacy", "vault", "init", v, "--key-file", kf).exit_code == 0
    payload = tmp_path / "template.bin"
    payload.write_bytes(b"T" * 300)
    r = invoke("privacy", "vault", "store", v, payload, "--key-file", kf)
    assert r.exit_code == 0
    rid = r.stdout.strip()
    before = _snapshot(v)
    r = invoke("privacy", "vault", "read", v, rid, env={"CAMTWIN_VAULT_KEY": "ab" * 32})
    assert r.exit_code == 2 and "wrong module key" in r.output
    assert _snapshot(v) == before  # nothing lost or changed
    r = invoke("privacy", "vault", "read", v, rid, "--key-file", kf, "--out", v / "x.bin")
    assert r.exit_code == 2 and "inside the vault" in r.output
    r = invoke("privacy", "vault", "read", v, rid, "--key-file", kf, "--out", tmp_path / "o")
    assert r.exit_code == 0 and (tmp_path / "o").read_bytes() == b"T" * 300


def test_export_and_check(tmp_path):
    rng = np.random.default_rng(5)
    src = tmp_path / "events.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "lat", "lon", "camera"])
        for _ in range(400):
            w.writerow([f"{1.7e9 + rng.normal(0, 7200):.0f}", f"{47.3 + rng.normal(0, .01):.6f}",
                        f"{8.5 + rng.normal(0, .01):.6f}", rng.choice(["a", "b"])])
    out = tmp_path / "release.csv"
    r = invoke("privacy", "export", "--k", 50, src, out, "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["released"] == 400 and s["min_class_size"] >= 50
    r = invoke("privacy", "check-k", out, "--k", 50)
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"]
    r = invoke("privacy", "check-k", out, "--k", 100000)
    assert r.exit_code == 1


POLICY_ERRORS = [
    ("zones.geojson", '{"type": "FeatureCollection", "features": [', "not valid JSON"),
    ("zones.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"rule": "school"}, "geometry": {
            "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}}]}),
     "not closed"),
    ("policy.yaml", "rules:\n  default: {anonymise: sometimes}\n", "rules.default.anonymise"),
]


@pytest.mark.parametrize("name, content, match", POLICY_ERRORS)
def test_bad_policy_exit_2_one_line_nothing_written(astro_png, tmp_path, name, content, match):
    (tmp_path / "zones.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                                        "features": []}))
    (tmp_path / "policy.yaml").write_text("rules:\n  default: {}\n  school: {}\n"
                                          "zones: zones.geojson\n")
    (tmp_path / name).write_text(content)
    out = tmp_path / "out.png"
    out.write_bytes(b"previous result")
    cmd = [sys.executable, "-W", "error", "-m", "camtwin.cli", "privacy", "anonymise",
           str(astro_png), str(out), "--policy", str(tmp_path / "policy.yaml"),
           "--lat", "1", "--lon", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert match in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert out.read_bytes() == b"previous result"  # nothing lost


def test_export_bad_csv_exit_2(tmp_path):
    src = tmp_path / "e.csv"
    src.write_text("time,lat,lon\n2025-01-01T00:00:00Z,47,8\nnoon,47,8\n")
    r = invoke("privacy", "export", src, tmp_path / "o.csv")
    assert r.exit_code == 2 and "row 3" in r.output and not (tmp_path / "o.csv").exists()
