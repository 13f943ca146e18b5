"""The Python API (issue 18): public entry points, short reprs, notebook displays,
pandas/xarray conversion, runnable examples on public API only, and one region convention
(x, y, w, h) shared by the CLI and Python."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import camtwin
from camtwin.cli import app

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def small():
    """A 96 × 72 px module with the default module's field of view."""
    return camtwin.load_module("default").replace(
        sensor={"width_px": 96, "height_px": 72}, lens={"focal_length_mm": 2.8 * 96 / 1280})


@pytest.fixture(scope="module")
def shot(small):
    scene = camtwin.module_scene(small, "colorchecker", illuminance_lux=100)
    return camtwin.shoot(small, scene, rng=1)


@pytest.fixture(scope="module")
def evaluation(small):
    """A real evaluation with requirements that are quick to measure (field of view,
    pixel density), one passing and one failing."""
    from camtwin.evaluate import ApplicationSpec, Requirement

    app_spec = ApplicationSpec(name="api_test", title="API test", requirements=(
        Requirement(metric="hfov_deg", min=10.0, basis="practice", source="test: passes"),
        Requirement(metric="resolution_mp", min=1.0, basis="practice",
                    source="test: a 96 × 72 sensor fails"),
    ))
    return camtwin.evaluate.evaluate(small, app_spec, seed=0)


@pytest.fixture(scope="module")
def emva(small):
    from camtwin.measure import emva1288

    return emva1288.analyse(emva1288.simulate_measurement(
        camtwin.crop_module(small, 64, 48).sensor, seed=1))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A sweep store with three points written through the store's own writer, units in
    the Parquet field metadata (as the runner writes them)."""
    import pyarrow as pa

    from camtwin.sweep import SweepStore
    from camtwin.sweep.measurements import field_with_unit

    schema = pa.schema([pa.field("point_index", pa.int64()), pa.field("point_hash", pa.string()),
                        field_with_unit("pixel_pitch_um", pa.float64(), "pixel pitch", "µm"),
                        field_with_unit("lux_at_snr10", pa.float64(), "light for SNR 10", "lx")])
    st = SweepStore(tmp_path_factory.mktemp("sweep") / "store")
    st.prepare()
    st.write_batch([{"point_index": i, "point_hash": f"h{i}", "pixel_pitch_um": p,
                     "lux_at_snr10": 10.0 / p ** 2} for i, p in enumerate((1.0, 1.4, 2.0))],
                   schema)
    return st


# ---------------------------------------------------------------------------------------
# short text reprs
# ---------------------------------------------------------------------------------------
def assert_short(obj, *must_contain):
    r = repr(obj)
    assert len(r) < 400, r
    assert r.count("\n") <= 3, r
    # no array dump: numpy prints arrays as "array([...", "[[..." or long runs of numbers
    assert "array(" not in r and "[[" not in r and "..." not in r, r
    assert len(re.findall(r"\d+\.\d+", r)) < 20, r
    for text in must_contain:
        assert text in r, (text, r)
    return r


def test_reprs_are_short(small, shot, evaluation, emva):
    assert_short(small, "96 × 72 px", "RGGB", "f/2")
    assert_short(shot, "Shot(", "96 × 72 px", "exposure")
    assert_short(shot.raw, "RawFrame(", "uint16", "black 64", "DN")
    assert_short(shot.rendered, "RenderedImage(", "float32")
    assert_short(shot.optical_image, "OpticalImage(", "bands")
    assert_short(shot.scene, "Scene(")
    assert_short(evaluation, "FAIL", "1 of 2", "resolution_mp")
    assert_short(evaluation.verdicts[0], "hfov_deg", "pass")
    assert_short(emva, "Emva1288Results(", f"K {emva.summary['system_gain_dn_per_e']:.4g}")


def test_repr_of_a_large_frame_stays_short():
    # the default repr of a dataclass would print the whole DN array and ground truth
    from camtwin.raw import RawFrame

    dn = np.full((3000, 4000), 100, np.uint16)
    raw = RawFrame(dn=dn, cfa="RGGB", black_level_dn=64, white_level_dn=4095,
                   exposure_s=0.01, conversion_gain_dn_per_e=0.5,
                   mean_electrons=np.zeros(dn.shape, np.float32))
    assert_short(raw, "4000 × 3000 px", "mean 100.0 DN")


def test_result_reprs_are_short(small, shot, tmp_path):
    from camtwin.evaluate import measure, snr_curve
    from camtwin.isp import BUILTIN_PIPELINES, load_pipeline, run_pipeline
    from camtwin.measure.sfr import esfr

    assert_short(measure(small, "hfov_deg"), "MetricResult(")
    assert_short(snr_curve(small, levels=[1.0, 10.0, 100.0], rng=0), "3 levels", "lx")
    assert_short(run_pipeline(shot.raw, load_pipeline(sorted(BUILTIN_PIPELINES)[0])),
                 "PipelineResult(", "96 × 72 px")
    tif = tmp_path / "grey.tif"
    tifffile.imwrite(tif, np.full((40, 50), 1000, np.uint16))
    assert_short(camtwin.read_measured_image(tif), "rendered 50 × 40 px", "16-bit",
                 "encoding linear")

    y, x = np.mgrid[0:100, 0:80]
    r = esfr((0.2 + 0.6 * (x - 40 - 0.1 * (y - 50) > 0)).astype(float))
    assert_short(r, "MTF50", "cy/px", "roi (row0, row1, col0, col1)")
    from camtwin.sweep import SweepOutcome

    assert_short(SweepOutcome(store="s", total=10, skipped=2, computed=8, seconds=1.5),
                 "8 computed", "2 skipped")


def test_burst_and_af_reprs_are_short(shot):
    """Burst, merge, HDR and AF results built from their documented fields (the repr is
    what is under test, not the algorithms)."""
    from camtwin.burst.align import Alignment, tile_grid
    from camtwin.burst.hdr import HdrResult
    from camtwin.burst.merge import MergeResult
    from camtwin.burst.simulate import Burst
    from camtwin.focus.af import AfResult

    raw = shot.raw
    h, w = raw.shape
    assert_short(Burst(frames=[raw] * 8, poses=np.zeros((8, 3))), "8 frames", "96 × 72 px")
    grid = tile_grid((h // 2, w // 2))
    ny, nx = grid.n_tiles
    align = Alignment(displacement=np.full((8, ny, nx, 2), 0.25), grid=grid)
    assert_short(align, "8 frames", "max |d| 0.25")
    assert_short(MergeResult(mosaic_dn=raw.dn.astype(np.float32), alignment=align,
                             mean_weight=np.full(8, 0.9), reference=0, frame=raw),
                 "8 frames", "0.90")
    valid = np.ones((h, w), np.uint8)
    valid[:6] = 0                                    # 6 of 72 rows clipped in every frame
    assert_short(HdrResult(electrons=np.zeros((h, w), np.float32), valid_frames=valid,
                           exposures_s=(0.001, 0.004, 0.016), saturation_e=1e5, frame=raw),
                 "ratio 16", f"{100 * 6 / 72:.2g} % all clipped")
    assert_short(AfResult(method="hybrid", measure="tenengrad", target_um=20.0, final_um=21.0,
                          dof_um=8.0, frames=5, lens_moves=3, time_s=0.2, distance_m=0.5,
                          illuminance_lux=100.0, exposure_s=0.01,
                          extra={"trace": np.arange(1000)}),
                 "error +1 µm", "0.12 DOF", "in focus")


# ---------------------------------------------------------------------------------------
# notebook displays
# ---------------------------------------------------------------------------------------
def test_notebook_html(small, shot, evaluation, store):
    h = small._repr_html_()
    assert "<table>" in h and "96 × 72 px" in h and "field of view" in h
    h = shot._repr_html_()
    assert "data:image/png;base64," in h and "96 × 72" in h and "colorchecker" in h
    assert shot._repr_png_().startswith(b"\x89PNG")
    h = evaluation._repr_html_()
    assert h.count("<tr class='fail'>") == 1 and h.count("<tr class='pass'>") == 1
    h = store._repr_html_()
    assert "3 points" in h and "pixel_pitch_um [µm]" in h and "lux_at_snr10 [lx]" in h
    from camtwin.sweep import SweepOutcome

    h = SweepOutcome(store="s", total=10, skipped=2, computed=8)._repr_html_()
    assert "<table>" in h and "computed" in h


# ---------------------------------------------------------------------------------------
# pandas / xarray
# ---------------------------------------------------------------------------------------
def test_evaluation_to_pandas(evaluation):
    df = evaluation.to_pandas()
    assert list(df.columns[:10]) == ["metric", "conditions", "value", "unit", "threshold",
                                     "min", "max", "margin", "relative_margin", "pass"]
    assert len(df) == len(evaluation.verdicts) == 2
    row = df.set_index("metric").loc["resolution_mp"]
    # 96 × 72 px = 0.006912 MP against ≥ 1 MP: margin = value − limit
    assert row["value"] == pytest.approx(96 * 72 / 1e6)
    assert row["margin"] == pytest.approx(96 * 72 / 1e6 - 1.0)
    assert row["unit"] == "MP" and not row["pass"] and row["threshold"].startswith("≥ 1")
    assert row["status"] == "fail" and row["not_applicable"] is None
    assert bool(df.set_index("metric").loc["hfov_deg", "pass"])
    assert df.attrs["application"] == "api_test"


def test_emva_to_pandas_and_xarray(emva):
    s = emva.to_pandas()
    assert list(s.columns) == ["key", "quantity", "value", "unit"]
    k = s.set_index("key").loc["system_gain_dn_per_e"]
    assert k["value"] == pytest.approx(emva.summary["system_gain_dn_per_e"])
    assert k["unit"] == "DN/e⁻"
    qe = s.set_index("key").loc["quantum_efficiency"]  # a fraction in the summary, % here
    assert qe["unit"] == "%" and qe["value"] == pytest.approx(
        100 * emva.summary["quantum_efficiency"])
    ptc = emva.to_pandas("ptc")
    assert len(ptc) == emva.summary["steps"]
    assert ptc.attrs["units"]["variance_dn2"] == "DN²"
    np.testing.assert_allclose(ptc["signal_dn"], emva.curves["signal_dn"])
    ds = emva.to_xarray()
    assert ds["signal_dn"].dims == ("step",) and ds["signal_dn"].attrs["units"] == "DN"
    assert ds.attrs["system_gain_dn_per_e"] == emva.summary["system_gain_dn_per_e"]
    with pytest.raises(camtwin.ConfigError, match="table = 'bogus'"):
        emva.to_pandas("bogus")


def test_sweep_store_to_pandas(store):
    df = store.to_pandas()
    assert len(df) == 3 and df.attrs["units"]["pixel_pitch_um"] == "µm"
    assert df.attrs["units"]["lux_at_snr10"] == "lx"
    np.testing.assert_allclose(df.sort_values("point_index")["lux_at_snr10"],
                               [10.0, 10.0 / 1.96, 2.5])


def test_raw_and_shot_to_xarray(shot):
    da = shot.raw.to_xarray()
    assert da.dims == ("y", "x") and da.shape == (72, 96) and da.dtype == np.uint16
    assert da.attrs["units"] == "DN" and da.attrs["cfa"] == "RGGB"
    assert da.attrs["black_level_dn"] == shot.raw.black_level_dn
    assert da.attrs["white_level_dn"] == shot.raw.white_level_dn
    assert da.attrs["exposure_s"] == shot.raw.exposure_s
    assert int(da.isel(y=5, x=7)) == int(shot.raw.dn[5, 7])
    ds = shot.to_xarray()
    assert ds.attrs["scene"] == "colorchecker" and ds.attrs["illuminance_lux"] == 100.0


def test_missing_optional_package_is_one_clear_line(evaluation, shot, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas → ImportError
    monkeypatch.setitem(sys.modules, "xarray", None)
    with pytest.raises(ImportError, match=r"^Evaluation.to_pandas\(\) needs pandas: "
                                          r"pip install pandas$"):
        evaluation.to_pandas()
    with pytest.raises(ImportError, match=r"needs xarray: pip install xarray$"):
        shot.raw.to_xarray()


def test_import_camtwin_stays_lean():
    code = ("import sys, camtwin; heavy = [m for m in ('fastapi', 'dask', 'duckdb', "
            "'cryptography', 'pandas', 'xarray', 'pyarrow') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip() == "[]"


def test_public_entry_points():
    for name in ("resolve_module", "resolve_sensor", "resolve_lens", "crop_module",
                 "window_module", "measure_file", "read_measured_image", "load_application"):
        assert name in camtwin.__all__ and callable(getattr(camtwin, name))
        assert getattr(camtwin, name).__doc__
    assert camtwin.resolve_module("default") == camtwin.load_module("default")
    with pytest.raises(camtwin.ConfigError, match="kind = 'mtf'"):
        camtwin.measure_file(__file__, "mtf")
    with pytest.raises(AttributeError):
        camtwin.no_such_name  # noqa: B018


# ---------------------------------------------------------------------------------------
# examples: public API only, and they run
# ---------------------------------------------------------------------------------------
def _example_imports(path: Path) -> list[tuple[str, str]]:
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    else:
        src = path.read_text(encoding="utf-8")
    out = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.module, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names]
    return out


#: camtwin modules an example may import from: the package and its documented subpackages
#: (their __init__ exports), plus the few documented modules the tour uses.
PUBLIC_MODULES = {"camtwin", "camtwin.evaluate", "camtwin.optics", "camtwin.sensor",
                  "camtwin.spectra", "camtwin.measure", "camtwin.isp", "camtwin.crop",
                  "camtwin.measure.summary", "camtwin.web.server", "camtwin.scene"}


@pytest.mark.parametrize("name", ["bsi_vs_fsi_low_light.py", "shutters_on_a_moving_target.py",
                                  "notebook_tour.py", "notebook_tour.ipynb", "led_flicker.py"])
def test_examples_use_public_api_only(name):
    for module, attr in _example_imports(EXAMPLES / name):
        if not module.startswith("camtwin"):
            continue
        assert module in PUBLIC_MODULES, (name, module)
        assert not attr.startswith("_"), (name, module, attr)
        if attr and module != "camtwin":
            mod = importlib.import_module(module)
            exported = getattr(mod, "__all__", None)
            submodule = (hasattr(mod, "__path__")
                         and importlib.util.find_spec(f"{module}.{attr}") is not None)
            assert exported is None or attr in exported or submodule \
                or module.count(".") > 1, (name, module, attr)
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    assert not re.search(r"camtwin(\.\w+)*\._\w", text), name


def _load_example(name: str):
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), EXAMPLES / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bsi_example_runs(tmp_path, capsys):
    out = tmp_path / "bsi.png"
    with np.errstate(all="ignore"):
        res = _load_example("bsi_vs_fsi_low_light.py").main(["--levels", "13", "--out",
                                                              str(out)])
    # BSI collects more light per pixel: it reaches SNR 10 at a lower illuminance
    assert 0 < res["bsi_lux_at_snr10"] < res["fsi_lux_at_snr10"] < math.inf
    assert out.stat().st_size > 10_000 and "BSI needs" in capsys.readouterr().out


def test_shutters_example_runs(tmp_path):
    out = tmp_path / "shutters.png"
    rows = _load_example("shutters_on_a_moving_target.py").main(
        ["--crop", "96,72", "--out", str(out)])
    by = {r[0]: r for r in rows}
    # rolling shutter skews by v·t_line per row (analytic column), global/CCD do not
    assert by["rolling CMOS"][1] == pytest.approx(by["rolling CMOS"][2], rel=0.1)
    assert abs(by["global CMOS"][1]) < 0.5 and abs(by["CCD"][1]) < 0.5
    # the CCD's frame-transfer smear against its analytic value (h·t_tr/H)/T
    assert by["CCD"][3] == pytest.approx(by["CCD"][4], rel=0.35)
    assert out.stat().st_size > 10_000


def test_led_flicker_example_runs(tmp_path):
    out = tmp_path / "led_flicker.png"
    res = _load_example("led_flicker.py").main(["--phases", "40", "--crop", "96,64", "--out",
                                                 str(out)])
    # 90 Hz, 10 % PWM: 1 ms sees it with probability D + T·f = 0.19 (40 random phases:
    # binomial σ 0.062), 11 ms always
    assert res["analytic_1ms"] == pytest.approx(0.19)
    assert abs(res["seen_1ms"] - 0.19) < 4 * 0.062
    assert res["seen_11ms"] == 1.0 and out.stat().st_size > 10_000


def test_notebook_tour_runs_small(tmp_path):
    shown = _load_example("notebook_tour.py").main(["--crop", "96,72", "--out",
                                                    str(tmp_path)])
    types = [e["type"] for e in shown]
    for t in ("ModuleSpec", "Shot", "RawFrame", "DataArray", "Evaluation", "DataFrame",
              "Emva1288Results"):
        assert t in types, t
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "CROP = (96, 72)   # injected" in page and "96 × 72" in page


# ---------------------------------------------------------------------------------------
# one region convention: (x, y, w, h) in CLI and Python
# ---------------------------------------------------------------------------------------
def test_xywh_box_conversion():
    from camtwin.regions import box_to_xywh, xywh_to_box

    img = np.arange(20 * 30).reshape(20, 30)
    x, y, w, h = 4, 3, 10, 6
    r0, r1, c0, c1 = xywh_to_box((x, y, w, h))
    np.testing.assert_array_equal(img[r0:r1, c0:c1], img[y:y + h, x:x + w])
    assert img[r0:r1, c0:c1].shape == (h, w)
    assert box_to_xywh((r0, r1, c0, c1)) == (x, y, w, h)
    with pytest.raises(camtwin.ConfigError, match=r"roi = \(1, 2, 0, 5\): need"):
        xywh_to_box((1, 2, 0, 5), "roi")


def _edges_image() -> np.ndarray:
    """Two slanted edges, Gaussian blur σ = 0.7 px on the left half and 2 px on the right
    (linear float)."""
    from scipy.ndimage import gaussian_filter

    yy, xx = np.mgrid[0:200, 0:320].astype(float)
    img = np.where(xx < 160, 0.2 + 0.6 * (xx - 80 - 0.1 * (yy - 100) > 0),
                   0.2 + 0.6 * (xx - 240 - 0.1 * (yy - 100) > 0))
    sharp, soft = gaussian_filter(img, 0.7), gaussian_filter(img, 2.0)
    return np.where(xx < 160, sharp, soft).astype(np.float32)


def _cli(*args) -> dict:
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_one_region_convention_sfr(tmp_path):
    from camtwin.measure.sfr import esfr

    img = _edges_image()
    path = tmp_path / "edges.tif"
    tifffile.imwrite(path, img)
    xywh = (180, 20, 120, 160)          # the blurred edge only
    x, y, w, h = xywh
    py = camtwin.measure_file(path, "sfr", roi=xywh, channel="y")
    ref = esfr(img.astype(np.float64), roi=(y, y + h, x, x + w))
    assert py["roi_xywh"] == list(xywh)
    assert py["mtf50_cy_px"] == pytest.approx(ref.mtf50_cy_px, rel=1e-9)
    cli = _cli("sfr", str(path), "--roi", ",".join(map(str, xywh)), "--channel", "y", "--json")
    assert cli["roi_xywh"] == list(xywh) and cli["mtf50_cy_px"] == py["mtf50_cy_px"]
    # the region really selects the blurred edge, not the sharp one
    sharp = camtwin.measure_file(path, "sfr", roi=(20, 20, 120, 160), channel="y")
    # Gaussian MTF50 = sqrt(ln 2 / 2) / (π σ): 0.265 cy/px at σ = 0.7, 0.0937 at σ = 2
    assert sharp["mtf50_cy_px"] == pytest.approx(0.2650, rel=0.1)
    assert py["mtf50_cy_px"] == pytest.approx(0.0937, rel=0.1)


def test_same_box_selects_same_pixels_in_sfr_colour_and_window(small, shot, tmp_path):
    """One (x, y, w, h) given to sfr, colour and the sensor window selects the same pixels."""
    from camtwin.isp import write_rgb

    x, y, w, h = 30, 20, 96, 72
    canvas = np.full((140, 180, 3), 0.5, np.float32)
    canvas[y:y + h, x:x + w] = np.asarray(shot.rendered.srgb)
    canvas8 = np.rint(canvas * 255).astype(np.uint8)
    png = write_rgb(tmp_path / "chart.png", canvas8)
    colour = camtwin.measure_file(png, "colour", chart_box=(x, y, w, h))
    # the same chart cut out at [y:y+h, x:x+w] and measured whole: same patches, shifted
    alone = camtwin.measure_file(write_rgb(tmp_path / "alone.png", canvas8[y:y + h, x:x + w]),
                                 "colour", chart_box=(0, 0, w, h))
    boxes = np.array(colour["boxes"])         # (row0, row1, col0, col1) of the patches
    np.testing.assert_array_equal(boxes, np.array(alone["boxes"]) + [y, y, x, x])
    assert colour["delta_e00"] == alone["delta_e00"] and colour["mean"] < 5.0
    cx, cy, cw, ch = colour["chart"]["xywh"]  # the patches' outline, inside the chart box
    assert x <= cx and y <= cy and cx + cw <= x + w and cy + ch <= y + h
    cli = _cli("colour", str(png), "--chart-box", f"{x},{y},{w},{h}", "--json")
    assert cli["boxes"] == colour["boxes"] and cli["mean"] == colour["mean"]

    edge = np.full((140, 180), 0.2, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    edge[y:y + h, x:x + w] = 0.2 + 0.6 * (xx - w / 2 - 0.1 * (yy - h / 2) > 0)
    tif = tmp_path / "edge.tif"
    tifffile.imwrite(tif, edge)
    sfr = camtwin.measure_file(tif, "sfr", roi=(x, y, w, h), channel="y")
    assert sfr["roi_xywh"] == [x, y, w, h]

    full = small.replace(sensor={"width_px": 180, "height_px": 140})
    _, win = camtwin.window_module(full, x, y, w, h)
    assert (win.x, win.y, win.width, win.height) == (x, y, w, h)
