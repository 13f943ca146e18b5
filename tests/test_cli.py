"""The ``camtwin`` command line as a user meets it.

Every command runs in a fresh ``python -W error -m camtwin.cli`` subprocess, so exit status,
stdout and stderr are exactly what a shell would see, and any warning raised by camtwin or
a dependency on the way is an error (a traceback and status 1) rather than noise.

Most tests use a small module (the shipped ``default`` module at 160×120 px; every other
setting unchanged) so that one capture takes about two seconds. The ``demo`` test runs the
full-size default module once (about 20 s).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest
import rawpy
import yaml

from camtwin._io import atomic_path

SMALL_W, SMALL_H = 160, 120
DEMO_W, DEMO_H = 1280, 960          # the default module's sensor
CHARTS = ("colorchecker", "siemens_star", "slanted_edge", "uniform")
SUMMARY_KEYS = ("mean_signal_e", "grey_snr_db", "clipped_fraction", "delta_e00_mean")


def run_cli(*args, cwd: Path, timeout: float = 180.0,
            env_columns: int | None = None) -> subprocess.CompletedProcess:
    """Run ``python -W error -m camtwin.cli *args`` in ``cwd``; never raises on exit status.
    ``env_columns`` sets the terminal width (COLUMNS) the tables are laid out for."""
    cmd = [sys.executable, "-W", "error", "-m", "camtwin.cli", *map(str, args)]
    env = None if env_columns is None else {**os.environ, "COLUMNS": str(env_columns)}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)


def default_module_dict() -> dict:
    text = (resources.files("camtwin") / "data" / "modules" / "default.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def small_module_dict() -> dict:
    data = default_module_dict()
    data["sensor"]["width_px"] = SMALL_W
    data["sensor"]["height_px"] = SMALL_H
    return data


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def all_names(folder: Path) -> list[str]:
    """Every file and folder name below ``folder`` (recursive), relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def assert_one_line_error(result: subprocess.CompletedProcess) -> str:
    """Status 2, exactly one line on stderr, nothing on stdout, no traceback anywhere."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, repr(result.stderr)
    assert result.stderr.startswith("error: ")
    return result.stderr


@pytest.fixture(scope="module")
def small_module_yaml(tmp_path_factory) -> Path:
    return write_yaml(tmp_path_factory.mktemp("module") / "small.yaml", small_module_dict())


# --------------------------------------------------------------------------- bad input

def _pitch_negative(d):
    d["sensor"]["pixel_pitch_um"] = -2.0


def _qe_above_one(d):
    d["sensor"]["qe"] = {"curve": {"wavelengths_nm": [400, 700], "values": [0.5, 1.3]}}


def _pitch_typo(d):
    d["sensor"]["pixel_pich_um"] = d["sensor"].pop("pixel_pitch_um")


# (id, how to spoil the module dict or raw YAML text, extra CLI args, words stderr must contain).
# Spec errors carry the full dotted path of the field (sensor.pixel_pitch_um), not only its name.
BAD_INPUTS = [
    ("negative_pixel_pitch", _pitch_negative, (), ("sensor.pixel_pitch_um", "-2")),
    ("qe_above_one", _qe_above_one, (), ("sensor.qe", "1.3")),
    ("unknown_scene", None, ("--scene", "rainbow_chart"), ("rainbow_chart", *CHARTS)),
    ("unknown_yaml_key", _pitch_typo, (), ("sensor.pixel_pich_um", "unknown field")),
    ("invalid_yaml", "sensor: [width_px: 160\n  height_px: : 120\n", (), ("bad.yaml", "YAML")),
    ("negative_lux", None, ("--lux", "-5"), ("--lux", "-5")),
    ("jpeg_output", None, ("--out", "out.jpg"), ("--out", "out.jpg", ".png")),
]


@pytest.mark.parametrize("spoil, extra, words", [b[1:] for b in BAD_INPUTS],
                         ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_status_2_and_writes_nothing(tmp_path, spoil, extra, words):
    if isinstance(spoil, str):
        (tmp_path / "bad.yaml").write_text(spoil, encoding="utf-8")
    else:
        data = small_module_dict()
        if spoil is not None:
            spoil(data)
        write_yaml(tmp_path / "bad.yaml", data)
    before = all_names(tmp_path)
    opts = {"--module": "bad.yaml", "--scene": "colorchecker", "--out": "out.png",
            "--raw": "out.dng"}
    opts.update(dict(zip(extra[::2], extra[1::2])))
    result = run_cli("capture", *[x for kv in opts.items() for x in kv], cwd=tmp_path)
    message = assert_one_line_error(result)
    for word in words:
        assert word in message, (word, message)
    assert all_names(tmp_path) == before  # no image, no raw, no temporary file


# --------------------------------------------------------------------------- failed writes

def test_failed_raw_write_leaves_no_temp_file(tmp_path, small_module_yaml):
    # --raw lies under a regular file: its folder cannot be created.
    out = tmp_path / "out"
    out.mkdir()
    (out / "blocker").write_text("a regular file\n")
    result = run_cli("capture", "--module", small_module_yaml, "--scene", "colorchecker",
                     "--out", out / "x.png", "--raw", out / "blocker" / "x.dng", cwd=tmp_path)
    message = assert_one_line_error(result)
    assert "blocker" in message
    assert not any(".tmp" in name for name in all_names(out)), all_names(out)
    assert not any(name.endswith(".dng") for name in all_names(out))
    assert (out / "blocker").read_text() == "a regular file\n"


@pytest.mark.parametrize("which", ["--out", "--raw"])
def test_failed_final_rename_removes_the_temp_file(tmp_path, small_module_yaml, which):
    # The target name is an existing folder: the temporary file is written in full, then the
    # rename over the target fails, and the temporary file must go.
    out = tmp_path / "out"
    out.mkdir()
    target = out / ("x.png" if which == "--out" else "x.dng")
    target.mkdir()
    result = run_cli("capture", "--module", small_module_yaml, "--scene", "colorchecker",
                     "--out", out / "x.png", "--raw", out / "x.dng", cwd=tmp_path)
    assert_one_line_error(result)
    assert not any(".tmp" in name for name in all_names(out)), all_names(out)
    assert target.is_dir() and not any(target.iterdir())


def test_failed_write_message_names_the_users_path(tmp_path, small_module_yaml):
    out = tmp_path / "out"
    (out / "x.dng").mkdir(parents=True)
    result = run_cli("capture", "--module", small_module_yaml, "--scene", "colorchecker",
                     "--out", out / "x.png", "--raw", out / "x.dng", cwd=tmp_path)
    message = assert_one_line_error(result)
    assert ".tmp" not in message and "x.dng" in message, message


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_atomic_path_exception_leaves_nothing(tmp_path, exc_type):
    target = tmp_path / "image.png"
    with pytest.raises(exc_type):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp != target
            tmp.write_bytes(b"half-written")
            raise exc_type("interrupted")
    assert not tmp.exists()
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_exception_keeps_existing_target(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old\n")
    with pytest.raises(OSError):
        with atomic_path(target) as tmp:
            tmp.write_text("new, half-writ")
            raise OSError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_atomic_path_success_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "image.png"     # the folder is created as needed
    old_mask = os.umask(0o022)
    try:
        with atomic_path(target) as tmp:
            assert ".tmp" in tmp.name and tmp.suffix == ".png" and tmp.parent == target.parent
            assert tmp.exists() and not target.exists()  # nothing under the final name yet
            tmp.write_bytes(b"complete")
    finally:
        os.umask(old_mask)
    assert target.read_bytes() == b"complete"
    assert not tmp.exists()
    assert [p.name for p in target.parent.iterdir()] == ["image.png"]
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode & 0o644 == 0o644, oct(mode)   # not mkstemp's 0600
    assert mode == 0o644, oct(mode)           # 0666 & ~022: nothing more either


# --------------------------------------------------------------------------- capture

@pytest.fixture(scope="module")
def captures(tmp_path_factory, small_module_yaml) -> dict:
    """Three captures of the ColorChecker at 200 lx: seed 3 twice, seed 4 once."""
    folder = tmp_path_factory.mktemp("capture")
    runs = {}
    for tag, seed in (("a", 3), ("b", 3), ("c", 4)):
        result = run_cli("capture", "--module", small_module_yaml, "--scene", "colorchecker",
                         "--lux", "200", "--out", f"{tag}.png", "--raw", f"{tag}.dng", "--json",
                         "--seed", seed, cwd=folder)
        runs[tag] = result
    return {"folder": folder, "runs": runs}


def read_dng(path: Path) -> np.ndarray:
    with rawpy.imread(str(path)) as rp:
        return rp.raw_image_visible.copy()


def test_capture_exits_0_quietly(captures):
    for result in captures["runs"].values():
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""   # no warning, no progress noise


def test_capture_png(captures):
    img = cv2.imread(str(captures["folder"] / "a.png"), cv2.IMREAD_UNCHANGED)
    assert img is not None
    assert img.shape == (SMALL_H, SMALL_W, 3)
    assert img.dtype == np.uint8
    assert img.std() > 5


def test_capture_dng(captures):
    dn = read_dng(captures["folder"] / "a.dng")
    assert dn.shape == (SMALL_H, SMALL_W)
    assert dn.std() > 0


def test_capture_json(captures):
    summary = json.loads(captures["runs"]["a"].stdout)
    for key in SUMMARY_KEYS:
        assert key in summary, key
        assert np.isfinite(summary[key]), (key, summary[key])
    assert summary["scene"] == "colorchecker"
    assert summary["lux"] == 200
    assert summary["mean_signal_e"] > 0
    assert 0 <= summary["clipped_fraction"] <= 1
    assert summary["image"] == "a.png" and summary["raw"] == "a.dng"


def test_capture_seed_reproducible(captures):
    folder = captures["folder"]
    a, b, c = (read_dng(folder / f"{tag}.dng") for tag in "abc")
    np.testing.assert_array_equal(a, b)       # same seed: identical raw pixels
    assert not np.array_equal(a, c)           # another seed: another noise draw
    def measured(tag):
        summary = json.loads(captures["runs"][tag].stdout)
        # stage times and peak memory (--json) are measurements of the run, not of the image
        return {k: v for k, v in summary.items()
                if k not in ("image", "raw", "stage_s", "peak_memory_mib")}
    assert measured("a") == measured("b")
    assert measured("a")["grey_snr_db"] != measured("c")["grey_snr_db"]


def test_exposure_ms_is_honoured(tmp_path, small_module_yaml):
    summaries = {}
    for ms in (5, 10):
        result = run_cli("capture", "--module", small_module_yaml, "--scene", "colorchecker",
                         "--lux", "200", "--exposure-ms", ms, "--out", f"e{ms}.png", "--json",
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        summaries[ms] = json.loads(result.stdout)
    assert summaries[5]["exposure_ms"] == pytest.approx(5, rel=1e-12)
    assert summaries[10]["exposure_ms"] == pytest.approx(10, rel=1e-12)
    # Signal is linear in exposure time (nothing clips at 200 lx): 19 200 pixels average the
    # shot and read noise to well below 1 %; dark current (5 e⁻/s) adds < 0.1 e⁻.
    assert summaries[5]["clipped_fraction"] == 0 and summaries[10]["clipped_fraction"] == 0
    ratio = summaries[10]["mean_signal_e"] / summaries[5]["mean_signal_e"]
    assert ratio == pytest.approx(2.0, rel=0.02)


# --------------------------------------------------------------------------- demo

@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("demo")
    result = run_cli("demo", "--out", "demo-out", cwd=folder, timeout=600)
    return {"result": result, "out": folder / "demo-out"}


def test_demo_writes_images_raws_and_summary(demo_run):
    result, out = demo_run["result"], demo_run["out"]
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["module"] == "default"
    assert len(summary["images"]) == 6
    pngs = {entry["image"] for entry in summary["images"]}
    dngs = {entry["raw"] for entry in summary["images"]}
    assert len(pngs) == 6 and all(name.endswith(".png") for name in pngs), pngs
    assert len(dngs) == 6 and all(name.endswith(".dng") for name in dngs), dngs
    figures = set(summary.get("figures", []))
    assert not figures & (pngs | dngs)
    # Exactly these files and nothing else: no temporary or stray files.
    assert set(all_names(out)) == pngs | dngs | figures | {"summary.json"}, all_names(out)
    for name in dngs:
        assert read_dng(out / name).shape == (DEMO_H, DEMO_W), name


def test_demo_snr_falls_with_light(demo_run):
    summary = json.loads((demo_run["out"] / "summary.json").read_text())
    by_scene: dict[str, dict[float, float]] = {}
    for entry in summary["images"]:
        by_scene.setdefault(entry["scene"], {})[entry["lux"]] = entry["grey_snr_db"]
    assert sorted(by_scene) == ["colorchecker", "slanted_edge"]
    for scene, snr in by_scene.items():
        assert sorted(snr) == [1.0, 10.0, 1000.0], scene
        assert snr[1000.0] > snr[10.0] > snr[1.0], (scene, snr)


def test_demo_pngs_full_size(demo_run):
    summary = json.loads((demo_run["out"] / "summary.json").read_text())
    pngs = [demo_run["out"] / entry["image"] for entry in summary["images"]]
    assert len(pngs) == 6
    for png in pngs:
        img = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert img is not None, png
        assert img.shape == (DEMO_H, DEMO_W, 3), png
        assert img.dtype == np.uint8
        assert img.std() > 1, png   # a picture, not a constant frame


# --------------------------------------------------------------------------- help, modules

@pytest.mark.parametrize("args", [("--help",), ("capture", "--help"), ("demo", "--help")],
                         ids=["main", "capture", "demo"])
def test_help_exits_0(tmp_path, args):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    if args[0] == "capture":
        assert "--scene" in result.stdout and "--exposure-ms" in result.stdout


def test_console_script_help(tmp_path):
    script = Path(sys.executable).with_name("camtwin")
    if not script.is_file():
        pytest.skip(f"no console script next to {sys.executable}")
    result = subprocess.run([str(script), "--help"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "capture" in result.stdout and "demo" in result.stdout


def test_modules_lists_default(tmp_path):
    result = run_cli("modules", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^│ default\s+│", result.stdout, flags=re.MULTILINE), result.stdout


def test_failed_raw_write_removes_the_image_too(tmp_path, small_module_yaml):
    """All or nothing: when --raw cannot be written, --out is not left behind either."""
    out = tmp_path / "out"
    (out / "x.dng").mkdir(parents=True)
    result = run_cli("capture", "--module", small_module_yaml, "--scene", "colorchecker",
                     "--out", out / "x.png", "--raw", out / "x.dng", cwd=tmp_path)
    assert result.returncode == 2
    assert not (out / "x.png").exists()


@pytest.mark.parametrize("args, word", [(("capture", "--lux", "abc"), "--lux"),
                                        (("capture", "--no-such-option"), "no-such-option"),
                                        (("capture",), "--scene")])
def test_usage_errors_are_one_line(tmp_path, args, word):
    result = run_cli(*args, cwd=tmp_path)
    message = assert_one_line_error(result)
    assert word in message


# --------------------------------------------------------------- issue 18: naming and conventions

def test_modules_lists_builtin_and_catalog_modules(tmp_path):
    """`camtwin modules` lists every module a user can name (it listed only `default`), and
    each listed name works as --module."""
    from camtwin.catalog import load_catalog

    result = run_cli("modules", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = [r["name"] for r in json.loads(result.stdout)]
    assert names == ["default", *(f"catalog:{n}" for n in sorted(load_catalog().modules))]
    table = run_cli("modules", cwd=tmp_path, env_columns=60)
    for n in names:      # the name column is never truncated, even on a narrow terminal
        assert re.search(rf"^│ {re.escape(n)}\s", table.stdout, flags=re.MULTILINE), n


def test_emva1288_accepts_a_catalog_sensor(tmp_path):
    """`emva1288 --sensor catalog:omnivision-ox03c10` failed ('not a YAML file ...')."""
    result = run_cli("emva1288", "--sensor", "catalog:omnivision-ox03c10", "--width", "32",
                     "--height", "24", "--out", tmp_path / "e", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    res = json.loads((tmp_path / "e" / "results.json").read_text("utf-8"))
    assert res["saturation_capacity_e"] > 0
    assert "omnivision-ox03c10" in (tmp_path / "e" / "report.html").read_text("utf-8")


def test_emva1288_old_name_shows_the_canonical_one(tmp_path):
    result = run_cli("emva1288", "--sensor", "python1300", "--width", "32", "--height", "24",
                     "--out", tmp_path / "e", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "'python1300' is now named 'emva:onsemi-python1300'" in result.stderr


def test_catalog_show_accepts_the_prefix(tmp_path):
    """`catalog show catalog:sony-imx273` failed ('unknown catalog entry')."""
    a = run_cli("catalog", "show", "catalog:sony-imx273", "--json", cwd=tmp_path)
    b = run_cli("catalog", "show", "sony-imx273", "--json", cwd=tmp_path)
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout) == json.loads(b.stdout)


def test_ambiguous_sensor_is_one_line_with_candidates(tmp_path):
    result = run_cli("emva1288", "--sensor", "onsemi-python1300", "--out", tmp_path / "e",
                     cwd=tmp_path)
    message = assert_one_line_error(result)
    assert "catalog:onsemi-python1300" in message and "emva:onsemi-python1300" in message


def test_version(tmp_path):
    import camtwin

    result = run_cli("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"camtwin {camtwin.__version__}"


@pytest.mark.parametrize("args, hint", [(("--bogus",), "'camtwin --help'"),
                                        (("catalog", "list", "--bogus"),
                                         "'camtwin catalog list --help'")])
def test_usage_hint_names_the_command(tmp_path, args, hint):
    """`camtwin --bogus` said "see 'camtwin camtwin --help'"."""
    message = assert_one_line_error(run_cli(*args, cwd=tmp_path))
    assert hint in message and "camtwin camtwin" not in message


def test_capture_nir_illuminant_hint_names_no_missing_option(tmp_path, small_module_yaml):
    """`capture --illuminant IR850` told the user to give W/m², which capture cannot take."""
    result = run_cli("capture", "--module", small_module_yaml, "--scene", "uniform",
                     "--illuminant", "IR850", "--out", tmp_path / "x.png", cwd=tmp_path)
    message = assert_one_line_error(result)
    assert "--illuminant" in message and "W/m" not in message
    options = run_cli("capture", "--help", cwd=tmp_path).stdout
    for opt in re.findall(r"--[a-z][a-z-]+", message):
        assert opt in options, opt
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("extra, code", [((), 1), (("--no-fail",), 0)])
def test_evaluate_exit_status_gates_ci(tmp_path, extra, code):
    """evaluate exits 1 when a requirement fails (0 with --no-fail), 0 when all pass."""
    app = {"name": "gate", "title": "gate", "requirements": [
        {"metric": "hfov_deg", "min": 170, "basis": "practice", "source": "test"}]}
    path = write_yaml(tmp_path / "gate.yaml", app)
    result = run_cli("evaluate", "--module", "default", "--application", path, *extra,
                     cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert "FAIL" in result.stdout
    app["requirements"][0]["min"] = 10
    write_yaml(path, app)
    result = run_cli("evaluate", "--module", "default", "--application", path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("args, kind", [(("catalog", "list"), "sensors"),
                                        (("catalog", "list", "--kind", "lenses"), "lenses"),
                                        (("catalog", "list", "--kind", "modules"), "modules"),
                                        (("applications",), None)])
def test_listing_names_are_never_truncated(tmp_path, args, kind):
    """At 80 columns `catalog list` showed 'ams-…' and 'koda…': a name the user must type
    back was cut. Every name appears whole on one line; --json gives the same names."""
    table = run_cli(*args, cwd=tmp_path, env_columns=80)
    assert table.returncode == 0, table.stderr
    listed = run_cli(*args, "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = [r["name"] for r in json.loads(listed.stdout)]
    assert names
    for n in names:
        assert re.search(rf"^│ {re.escape(n)}\s+│", table.stdout, flags=re.MULTILINE), n


def test_capture_with_a_copied_catalog_module_yaml(tmp_path):
    """A catalog module YAML copied out of the package (sensor, lens and ISP preset by name)
    failed with 'Input should be a valid dictionary'; it now captures like catalog:NAME."""
    src = resources.files("camtwin") / "data" / "catalog" / "modules" / "industrial-imx273-c16.yaml"
    path = tmp_path / "mine.yaml"
    path.write_text(src.read_text("utf-8"), encoding="utf-8")
    runs = [run_cli("capture", "--module", m, "--scene", "uniform", "--crop", "96,64",
                    "--out", tmp_path / f"{i}.png", "--json", cwd=tmp_path)
            for i, m in enumerate((path, "catalog:industrial-imx273-c16"))]
    for r in runs:
        assert r.returncode == 0, r.stderr
    a, b = (json.loads(r.stdout) for r in runs)
    assert a["exposure_ms"] == b["exposure_ms"] and a["mean_signal_e"] == b["mean_signal_e"]
