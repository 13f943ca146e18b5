"""Issue 22, "Inputs destroyed": an output that resolves to one of the command's inputs (or to
another of its outputs) is refused before any work, with one line naming both options.

Reported: ``capture --scene in.png --out in.png``, ``process in.tif --out in.tif`` and
``sfr in.png --plot in.png`` overwrote their input; ``capture --out same.tif --raw same.tif``
said "wrote same.tif and same.tif" and kept only one. Every test checks that the input is
byte-identical afterwards and that nothing new was written.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from _inputs_cli import assert_one_line_error, invoke, tiny_module_dict, write_yaml
from camtwin._io import check_outputs
from camtwin.errors import ConfigError


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A tiny module, a captured PNG/TIFF/DNG of it, a CSV of events."""
    d = tmp_path_factory.mktemp("outputs")
    write_yaml(d / "tiny.yaml", tiny_module_dict())
    run = invoke("capture", "--module", d / "tiny.yaml", "--scene", "slanted_edge",
                 "--out", d / "shot.png", "--raw", d / "shot.tif", "--quiet")
    assert run.code == 0, run.stderr
    run = invoke("capture", "--module", d / "tiny.yaml", "--scene", "slanted_edge",
                 "--out", d / "shot2.png", "--raw", d / "shot.dng", "--quiet")
    assert run.code == 0, run.stderr
    (d / "events.csv").write_text("time,lat,lon,label\n1700000000,47.1,8.5,person\n",
                                  encoding="utf-8")
    assert invoke("privacy", "vault", "keygen", d / "module.key").code == 0
    assert invoke("privacy", "vault", "init", d / "vault", "--key-file", d / "module.key").code == 0
    return d


def snapshot(folder):
    """{relative name: bytes} of every file below ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


CASES = {
    "capture --scene in.png --out in.png": (
        ["capture", "--module", "tiny.yaml", "--scene", "shot.png", "--out", "shot.png"],
        ["--out", "--scene"]),
    "capture --out same.tif --raw same.tif": (
        ["capture", "--module", "tiny.yaml", "--scene", "uniform", "--out", "same.tif",
         "--raw", "same.tif"], ["--raw", "--out"]),
    "capture --out ./x/../same.tif --raw same.tif": (
        ["capture", "--module", "tiny.yaml", "--scene", "uniform", "--out", "./x/../same.tif",
         "--raw", "same.tif"], ["--raw", "--out"]),
    "capture --scene in.tif --raw in.tif": (
        ["capture", "--module", "tiny.yaml", "--scene", "shot.tif", "--out", "o.png",
         "--raw", "shot.tif"], ["--raw", "--scene"]),
    "process in.tif --out in.tif": (["process", "shot.tif", "--out", "shot.tif"],
                                    ["--out", "RAW"]),
    "process in.dng --save-stages in.dng": (
        ["process", "shot.dng", "--out", "p.png", "--save-stages", "shot.dng"],
        ["--save-stages", "RAW"]),
    "process --ccm m --out m": (["process", "shot.dng", "--out", "shot.png", "--ccm",
                                 "shot.png"], ["--out", "--ccm"]),
    "sfr in.png --plot in.png": (["sfr", "shot.png", "--plot", "shot.png"],
                                 ["--plot", "IMAGE"]),
    "burst --scene in.png --out in.png": (
        ["burst", "--module", "tiny.yaml", "--scene", "shot.png", "--out", "shot.png"],
        ["--out", "--scene"]),
    "privacy anonymise IN IN": (["privacy", "anonymise", "shot.png", "shot.png"],
                                ["OUT", "IN"]),
    "privacy export EVENTS EVENTS": (["privacy", "export", "events.csv", "events.csv"],
                                     ["OUT.csv", "EVENTS.csv"]),
    "evaluate --report MODULE": (["evaluate", "--module", "tiny.yaml", "--application", "x",
                                  "--report", "tiny.yaml"], ["--report", "--module"]),
    "privacy vault read --out KEY": (["privacy", "vault", "read", "vault", "r1", "--key-file",
                                      "module.key", "--out", "module.key"],
                                     ["--out", "--key-file"]),
    "sweep SPEC --out SPEC": (["sweep", "tiny.yaml", "--out", "tiny.yaml"], ["--out", "SPEC"]),
    "demo --out MODULE": (["demo", "--module", "tiny.yaml", "--out", "tiny.yaml"],
                          ["--out", "--module"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_output_onto_an_input_is_refused(work, monkeypatch, case):
    args, options = CASES[case]
    monkeypatch.chdir(work)
    before = snapshot(work)
    err = assert_one_line_error(invoke(*args), *options)
    assert "same file" in err
    assert snapshot(work) == before  # inputs byte-identical, nothing written


def test_links_to_an_input_are_refused(work, monkeypatch):
    monkeypatch.chdir(work)
    os.link(work / "shot.png", work / "hard.png")
    os.symlink(work / "shot.png", work / "soft.png")
    try:
        before = snapshot(work)
        for scene, out in (("shot.png", "hard.png"), ("soft.png", "shot.png"),
                           ("shot.png", "soft.png")):
            run = invoke("capture", "--module", "tiny.yaml", "--scene", scene, "--out", out)
            assert_one_line_error(run, "--out", "--scene")
        assert snapshot(work) == before
    finally:
        (work / "hard.png").unlink()
        (work / "soft.png").unlink()


def test_output_folder_onto_an_input_folder_is_refused(work, monkeypatch):
    monkeypatch.chdir(work)
    frames = work / "frames"
    frames.mkdir()
    (frames / "keep.txt").write_text("frames\n", encoding="utf-8")
    before = snapshot(work)
    run = invoke("emva1288", "--frames", "frames", "--descriptor", "tiny.yaml", "--out", "frames")
    assert_one_line_error(run, "--out", "--frames", "same folder")
    run = invoke("sweep-report", "frames", "--out", "frames")
    assert_one_line_error(run, "--out", "STORE", "same folder")
    assert snapshot(work) == before


def test_distinct_outputs_still_work(work, monkeypatch):
    monkeypatch.chdir(work)
    run = invoke("capture", "--module", "tiny.yaml", "--scene", "shot.png", "--out", "new.tif",
                 "--raw", "new.npz", "--quiet")
    assert run.code == 0, run.stderr
    assert (work / "new.tif").is_file() and (work / "new.npz").is_file()


def test_check_outputs_rules(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    # names that are not files (a chart, a built-in module) are not inputs to protect
    check_outputs({"--scene": "colorchecker", "--module": "default"}, {"--out": "colorchecker"})
    check_outputs({"--scene": a, "--other": None}, {"--out": tmp_path / "b.png", "--raw": None})
    # one option may list several files; the same file twice in one option is one output
    check_outputs({}, {"--out": [tmp_path / "x", tmp_path / "x"]})
    with pytest.raises(ConfigError, match=r"^--out = .* is the same file as --scene"):
        check_outputs({"--scene": str(a)}, {"--out": tmp_path / "." / "a.png"})
    with pytest.raises(ConfigError, match=r"^--raw = .* is the same file as --out"):
        check_outputs({}, {"--out": tmp_path / "n.tif", "--raw": tmp_path / "sub" / ".." / "n.tif"})


def test_process_of_a_distinct_output_leaves_the_input_intact(work, monkeypatch):
    monkeypatch.chdir(work)
    before = (work / "shot.tif").read_bytes()
    run = invoke("process", "shot.tif", "--out", "proc.png")
    assert run.code == 0, run.stderr
    assert (work / "shot.tif").read_bytes() == before
    import cv2

    img = cv2.imread(str(work / "proc.png"))
    assert img is not None and img.shape[:2] == (72, 96) and np.ptp(img) > 0
