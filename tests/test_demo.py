"""``camtwin.demo.run_demo`` is all or nothing: a run that fails midway (or is
interrupted) leaves the output folder exactly as it was and no staging folder behind; a
run that succeeds writes every file, keeping unrelated files in an existing folder.

Runs on a 160 × 120 centre crop of the default module (about 2 s each)."""

import json

import pytest

import camtwin.demo as demo
from camtwin.demo import run_demo

CROP = (160, 120)
FILES = {"colorchecker_1000lux.png", "colorchecker_1000lux.dng", "colorchecker_10lux.png",
         "colorchecker_10lux.dng", "colorchecker_1lux.png", "colorchecker_1lux.dng",
         "slanted_edge_1000lux.png", "slanted_edge_1000lux.dng", "slanted_edge_10lux.png",
         "slanted_edge_10lux.dng", "slanted_edge_1lux.png", "slanted_edge_1lux.dng",
         "qe.png", "snr_vs_lux.png", "contact_sheet.png", "summary.json"}


def _tree(folder):
    """{relative path: bytes} of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _fail_on_call(monkeypatch, name, n):
    """Make ``camtwin.demo.<name>`` raise on its n-th call (after n − 1 real ones)."""
    real = getattr(demo, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise RuntimeError(f"injected failure in {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(demo, name, wrapper)
    return calls


@pytest.mark.parametrize("name, n", [("save_raw", 3), ("plot_contact_sheet", 1)],
                         ids=["third raw", "last figure"])
def test_a_failed_run_leaves_no_output_folder(tmp_path, monkeypatch, name, n):
    calls = _fail_on_call(monkeypatch, name, n)
    out = tmp_path / "demo-out"
    with pytest.raises(RuntimeError, match="injected failure"):
        run_demo(out, crop=CROP)
    assert len(calls) == n                       # the failure came midway, files were written
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []        # no staging folder left behind


def test_a_failed_run_keeps_the_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "demo-out"
    out.mkdir()
    (out / "summary.json").write_text('{"previous": true}\n')
    (out / "colorchecker_1000lux.png").write_bytes(b"previous image")
    (out / "notes.txt").write_text("mine\n")
    before = _tree(tmp_path)
    _fail_on_call(monkeypatch, "write_image", 4)
    with pytest.raises(RuntimeError, match="injected failure"):
        run_demo(out, crop=CROP)
    assert _tree(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo-out"]


def test_an_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "plot_qe", interrupt)
    out = tmp_path / "demo-out"
    with pytest.raises(KeyboardInterrupt):
        run_demo(out, crop=CROP)
    assert list(tmp_path.iterdir()) == []


def test_a_successful_run_writes_everything_and_keeps_other_files(tmp_path):
    out = tmp_path / "demo-out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    (out / "summary.json").write_text('{"previous": true}\n')
    summary = run_demo(out, crop=CROP)
    assert {p.name for p in out.iterdir()} == FILES | {"notes.txt"}
    assert (out / "notes.txt").read_text() == "mine\n"
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert [p.name for p in tmp_path.iterdir()] == ["demo-out"]
    # a new folder is made by one rename of the staging folder, with the usual permissions
    fresh = tmp_path / "fresh"
    run_demo(fresh, crop=CROP)
    assert {p.name for p in fresh.iterdir()} == FILES
    assert fresh.stat().st_mode & 0o777 == out.stat().st_mode & 0o777
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-out", "fresh"]


def test_an_output_that_is_a_file_is_refused_before_any_work(tmp_path):
    target = tmp_path / "demo-out"
    target.write_text("a file\n")
    with pytest.raises(ValueError, match="is a file"):
        run_demo(target, crop=CROP)
    assert target.read_text() == "a file\n"
    assert [p.name for p in tmp_path.iterdir()] == ["demo-out"]


def test_a_quad_bayer_module_writes_its_raws_as_tiff(tmp_path):
    # the catalog's phone modules (Quad Bayer) ended the demo with "cfa = 'QUADBAYER'
    # cannot be written as DNG" after every capture had run: their raws are TIFFs with all
    # of camtwin's metadata (camtwin.raw.save_raw), named in the summary, read back as
    # the frames they were
    from camtwin.raw import load_raw

    out = tmp_path / "qb"
    summary = run_demo(out, module="catalog:phone-imx586-main", crop=CROP)
    want = {n.replace(".dng", ".tif") for n in FILES}
    assert {p.name for p in out.iterdir()} == want
    raws = [img["raw"] for img in summary["images"]]
    assert raws and all(r.endswith(".tif") for r in raws)
    frame = load_raw(out / raws[0])
    assert frame.cfa == "QUADBAYER" and frame.dn.shape == (CROP[1], CROP[0])


def test_a_window_without_the_grey_patch_prints_its_table(tmp_path):
    # a window that holds no grey patch has no grey SNR: the CLI's table printed it with
    # a format for numbers and ended in a traceback after the run had written everything
    from typer.testing import CliRunner

    from camtwin.cli import app

    res = CliRunner().invoke(app, ["demo", "--window", "0,0,160,120", "--out",
                                   str(tmp_path / "w")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert any(img["grey_snr_db"] is None for img in summary["images"])
    assert "n/a" in res.output
