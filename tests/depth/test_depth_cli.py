"""``camtwin depth``, ``camtwin depth-modules`` and depth modules in ``evaluate`` /
``compare`` / ``applications``, run as a user would (``python -W error -m camtwin.cli`` in a
subprocess: exit status, one-line errors, the files written)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest


def run_cli(*args, cwd: Path, timeout: float = 300.0) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-W", "error", "-m", "camtwin.cli", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False)


def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    return r.stderr


def _ply_vertices(path: Path) -> int:
    head = path.read_bytes()[:512].split(b"end_header\n")[0].decode("ascii")
    assert head.startswith("ply\nformat binary_little_endian 1.0")
    return int(next(line.split()[-1] for line in head.splitlines()
                    if line.startswith("element vertex")))


def test_depth_writes_map_cloud_and_metrics(tmp_path):
    out = tmp_path / "d"
    r = run_cli("depth", "--module", "dtof-vl53l5cx", "--distance-m", "1.5", "--frames", "3",
                "--reflectance", "0.8", "--out", out, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    metrics = json.loads(r.stdout)
    assert metrics == json.loads((out / "metrics.json").read_text())
    assert metrics["grid"] == [8, 8] and metrics["valid_fraction"] == 1.0
    assert metrics["accuracy_pct"] < 1.0 and 0 < metrics["precision_pct"] < 2.0
    assert metrics["laser_class"] == "1"            # ST publishes its VCSEL as Class 1
    depth = np.load(out / "depth.npy")
    png = cv2.imread(str(out / "depth.png"), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape == depth.shape == (8, 8)
    np.testing.assert_allclose(png / 1000.0, depth, atol=0.0006)      # 1 mm counts
    assert _ply_vertices(out / "cloud.ply") == int(np.isfinite(depth).sum())
    colour = cv2.imread(str(out / "depth_color.png"))
    assert colour.shape == (8, 8, 3)


def test_depth_itof_step_edge_has_flying_pixels(tmp_path):
    r = run_cli("depth", "--module", "phone-rear-itof-imx556", "--scene", "step_edge",
                "--frames", "1", "--out", tmp_path / "e", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["grid"] == [480, 640]
    # one column of mixed pixels in a band of three (band_px = 1) per row
    assert 0.2 < m["flying_pixel_fraction"] < 0.45
    assert m["integration_time_s"] <= 0.001


@pytest.mark.parametrize("args, needle", [
    (("--reflectance", "0"), "--reflectance"),
    (("--scene", "table"), "--scene"),
    (("--frames", "0"), "--frames"),
    (("--ambient-klx", "500"), "--ambient-klx"),
    (("--module", "no-such-tof"), "no-such-tof"),
])
def test_depth_bad_input_is_one_line(tmp_path, args, needle):
    out = tmp_path / "bad"
    r = run_cli("depth", *args, "--out", out, cwd=tmp_path)
    assert needle in one_line_error(r)
    assert not out.exists()


def test_depth_modules_and_profiles_are_listed(tmp_path):
    r = run_cli("depth-modules", "--json", cwd=tmp_path)
    rows = json.loads(r.stdout)
    kinds = {row["kind"] for row in rows}
    assert kinds == {"itof", "dtof", "stereo"} and len(rows) >= 7
    r = run_cli("applications", "--json", cwd=tmp_path)
    names = {a["name"] for a in json.loads(r.stdout) if a.get("kind") == "depth"}
    assert {"phone_face_unlock", "robot_navigation"} <= names


def test_evaluate_and_compare_depth_modules(tmp_path):
    r = run_cli("evaluate", "--module", "phone-rear-itof-imx556", "--application",
                "phone_face_unlock", "--json", "--report", tmp_path / "rep", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    ev = json.loads(r.stdout)
    assert ev["application"] == "phone_face_unlock"
    by = {v["metric"]: v for v in ev["verdicts"]}
    assert by["precision_pct"]["status"] == "pass" and by["precision_pct"]["value"] < 1.0
    assert (tmp_path / "rep" / "evaluation.json").is_file()
    assert list((tmp_path / "rep").glob("*_max_range_*.png"))
    r = run_cli("evaluate", "--module", "dtof-vl53l5cx", "--application", "phone", cwd=tmp_path)
    assert "depth application" in one_line_error(r)
    r = run_cli("compare", "default", "dtof-vl53l5cx", "--application", "phone", cwd=tmp_path)
    assert "2D camera modules" in one_line_error(r)
