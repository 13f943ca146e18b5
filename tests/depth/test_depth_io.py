"""camtwin.depth.io: depth maps, PLY point clouds, metrics JSON and false colour.

Every file is read back with an independent reader: OpenCV for the 16-bit PNG (besides
Pillow, which wrote it), numpy for NPY, ``json`` with strict parsing for the metrics, and a
small PLY parser written here from the PLY format description (Greg Turk, "The PLY Polygon
File Format", 1994; Paul Bourke's copy at paulbourke.net/dataformats/ply/): an ASCII header
of lines ending in ``end_header``; ``element <name> <count>``; ``property <type> <name>``
with types char/uchar (1 byte), short/ushort (2), int/uint/float (4), double (8) — also
spelled int8, uint8, ..., float32, float64 — packed in header order without padding.
"""

from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import pytest

from camtwin.depth import io as dio
from camtwin.errors import ConfigError, OutputError

_PLY_TYPES = {"char": "b", "int8": "b", "uchar": "B", "uint8": "B", "short": "h", "int16": "h",
              "ushort": "H", "uint16": "H", "int": "i", "int32": "i", "uint": "I", "uint32": "I",
              "float": "f", "float32": "f", "double": "d", "float64": "d"}


def read_ply(path):
    """Minimal binary PLY reader from the spec (vertex element, scalar properties only)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    end = raw.index(b"end_header\n") + len(b"end_header\n")
    lines = raw[:end].decode("ascii").splitlines()
    assert lines[0] == "ply"
    fmt = lines[1].split()
    assert fmt[0] == "format" and fmt[2] == "1.0"
    endian = {"binary_little_endian": "<", "binary_big_endian": ">"}[fmt[1]]
    count, names, codes = None, [], ""
    for ln in lines[2:]:
        w = ln.split()
        if w[0] == "element":
            assert w[1] == "vertex"
            count = int(w[2])
        elif w[0] == "property":
            codes += _PLY_TYPES[w[1]]
            names.append(w[2])
    rec = struct.Struct(endian + codes)
    body = raw[end:]
    assert len(body) == count * rec.size, "body length must equal count × record size"
    rows = [rec.unpack_from(body, i * rec.size) for i in range(count)]
    return {n: np.array([r[k] for r in rows]) for k, n in enumerate(names)}, lines


# ------------------------------------------------------------------------------ depth maps

def test_png16_millimetres_zero_invalid_and_scale_metadata(tmp_path):
    import cv2
    from PIL import Image

    d = np.array([[1.0, np.nan, 0.0004], [2.5, 65.535, np.inf]])
    p = dio.write_depth_png16(tmp_path / "d.png", d)
    counts = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)       # independent decoder
    assert counts.dtype == np.uint16
    # 1 m → 1000; NaN/inf → 0; 0.4 mm rounds to 0 but is valid → 1; 65.535 m → 65535
    np.testing.assert_array_equal(counts, [[1000, 0, 1], [2500, 65535, 0]])
    with Image.open(p) as im:
        assert float(im.info[dio.PNG16_SCALE_KEY]) == 0.001
    back = dio.read_depth_png16(p)
    np.testing.assert_allclose(back, [[1.0, np.nan, 0.001], [2.5, 65.535, np.nan]])


def test_png16_scale_and_range_errors(tmp_path):
    d = np.full((2, 2), 100.0)
    with pytest.raises(ConfigError, match="mm_per_count >= 1.53"):
        dio.write_depth_png16(tmp_path / "far.png", d)
    assert not (tmp_path / "far.png").exists()
    p = dio.write_depth_png16(tmp_path / "far.png", d, mm_per_count=2.0)
    np.testing.assert_allclose(dio.read_depth_png16(p), 100.0)
    with pytest.raises(ConfigError, match=">= 0 m"):
        dio.write_depth_png16(tmp_path / "neg.png", -d)


def test_npy_float32_metres(tmp_path):
    d = np.array([[1.25, np.nan], [3.0, 0.5]])
    p = dio.write_depth(tmp_path / "d.npy", d)
    back = np.load(p)
    assert back.dtype == np.float32 and back.shape == (2, 2)
    np.testing.assert_array_equal(back, d.astype(np.float32))


def test_exr_support_reported_and_clean_error(tmp_path):
    ok, why = dio.exr_supported()
    assert isinstance(why, str) and why
    if ok:
        import cv2

        p = dio.write_depth_exr(tmp_path / "d.exr", np.full((3, 3), 1.5))
        np.testing.assert_allclose(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), 1.5)
    else:
        with pytest.raises(ConfigError, match=r"EXR.*\.npy") as e:
            dio.write_depth(tmp_path / "d.exr", np.ones((3, 3)))
        assert "\n" not in str(e.value)
        assert not (tmp_path / "d.exr").exists()


def test_write_depth_unknown_suffix(tmp_path):
    with pytest.raises(ConfigError, match="valid suffixes"):
        dio.write_depth(tmp_path / "d.tif", np.ones((2, 2)))


def test_atomic_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    from PIL import Image

    target = tmp_path / "d.png"
    dio.write_depth_png16(target, np.ones((4, 4)))
    before = target.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as fh:
            fh.write(b"\x89PNG half")             # a half-written file under the temp name
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OutputError, match="no space left"):
        dio.write_depth_png16(target, np.full((4, 4), 2.0))
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["d.png"]


# ------------------------------------------------------------------------------ PLY

def test_ply_xyz_round_trip_with_independent_parser(tmp_path):
    pts = np.array([[0.0, 0.0, 1.0], [-0.5, 0.25, 2.0], [1e-3, -7.5, 3.25]])
    p = dio.write_point_cloud_ply(tmp_path / "c.ply", pts)
    v, header = read_ply(p)
    assert "format binary_little_endian 1.0" in header and "element vertex 3" in header
    assert list(v) == ["x", "y", "z"]
    np.testing.assert_array_equal(np.stack([v["x"], v["y"], v["z"]], 1),
                                  pts.astype(np.float32))


def test_ply_with_intensity_confidence_and_rgb(tmp_path):
    rng = np.random.default_rng(1)
    pts = rng.uniform(-2, 2, (50, 3))
    inten = rng.uniform(0, 1000, 50)
    conf = rng.uniform(0, 1, 50)
    rgb_f = rng.uniform(0, 1, (50, 3))
    p = dio.write_point_cloud_ply(tmp_path / "c.ply", pts, intensity=inten, confidence=conf,
                                  rgb=rgb_f)
    v, header = read_ply(p)
    assert list(v) == ["x", "y", "z", "intensity", "confidence", "red", "green", "blue"]
    assert "property uchar red" in header and "property float confidence" in header
    np.testing.assert_array_equal(v["y"], pts[:, 1].astype(np.float32))
    np.testing.assert_array_equal(v["intensity"], inten.astype(np.float32))
    np.testing.assert_array_equal(v["confidence"], conf.astype(np.float32))
    np.testing.assert_array_equal(v["green"], np.rint(rgb_f[:, 1] * 255).astype(int))
    # record size: 5 floats + 3 bytes = 23 (no padding), checked by read_ply's length assert
    assert os.path.getsize(p) == len("\n".join(header) + "\n") + 50 * 23


def test_ply_empty_and_bad_input(tmp_path):
    v, header = read_ply(dio.write_point_cloud_ply(tmp_path / "e.ply", np.zeros((0, 3))))
    assert "element vertex 0" in header and v["x"].size == 0
    with pytest.raises(ConfigError, match="one per point"):
        dio.write_point_cloud_ply(tmp_path / "b.ply", np.zeros((3, 3)), intensity=[1, 2])
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        dio.write_point_cloud_ply(tmp_path / "b.ply", np.zeros((1, 3)), rgb=[[2.0, 0, 0]])
    with pytest.raises(ConfigError, match=r"\(N, 3\)"):
        dio.write_point_cloud_ply(tmp_path / "b.ply", np.zeros((3, 2)))


def test_ply_readable_by_plyfile_or_open3d_if_installed(tmp_path):
    pts = np.array([[0.1, 0.2, 0.3], [1.0, 2.0, 3.0]])
    p = dio.write_point_cloud_ply(tmp_path / "c.ply", pts, confidence=[0.5, 1.0])
    try:
        import plyfile
    except ImportError:
        plyfile = None
    try:
        import open3d
    except ImportError:
        open3d = None
    if plyfile is None and open3d is None:
        pytest.skip("neither plyfile nor open3d installed (not project dependencies)")
    if plyfile is not None:
        el = plyfile.PlyData.read(str(p))["vertex"]
        np.testing.assert_allclose(el["z"], [0.3, 3.0], rtol=1e-6)
    if open3d is not None:
        pc = open3d.io.read_point_cloud(str(p))
        np.testing.assert_allclose(np.asarray(pc.points), pts, rtol=1e-6)


# ------------------------------------------------------------------------------ JSON

def test_metrics_json_nan_and_inf_become_null(tmp_path):
    from camtwin.depth.metrics import depth_accuracy

    acc = depth_accuracy(np.full((2, 2, 2), np.nan), np.ones((2, 2)))   # NaN errors
    metrics = {"accuracy": acc, "max_range_m": math.inf, "precision_pct": np.float32(0.25),
               "n": np.int64(3), "ok": np.bool_(True), "curve": np.array([1.0, np.nan])}
    p = dio.write_metrics_json(tmp_path / "m.json", metrics)

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    back = json.loads(p.read_text(), parse_constant=no_constants)
    assert back["accuracy"]["mean_error_m"] is None
    assert back["accuracy"]["n_pixels"] == 0
    assert back["max_range_m"] is None
    assert back["precision_pct"] == pytest.approx(0.25)
    assert back["n"] == 3 and back["ok"] is True and back["curve"] == [1.0, None]
    with pytest.raises(ConfigError, match="cannot be written to JSON"):
        dio.write_metrics_json(tmp_path / "x.json", {"f": object()})
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------------------ false colour

def test_colormap_values_invalid_black_and_png(tmp_path):
    import matplotlib
    from PIL import Image

    d = np.array([[1.0, 2.0, 3.0], [np.nan, 2.0, 5.0]])
    rgb = dio.depth_colormap(d, vmin_m=1.0, vmax_m=3.0, cmap="viridis")
    cm = matplotlib.colormaps["viridis"]
    # 1 m → 0, 2 m → 0.5, 3 m → 1, 5 m clipped to 1; NaN → black
    expect = np.rint(np.array([cm(0.0), cm(0.5), cm(1.0)])[:, :3] * 255).astype(np.uint8)
    np.testing.assert_array_equal(rgb[0], expect)
    np.testing.assert_array_equal(rgb[1, 2], expect[2])
    np.testing.assert_array_equal(rgb[1, 0], [0, 0, 0])
    p = dio.write_depth_colormap_png(tmp_path / "c.png", d, vmin_m=1.0, vmax_m=3.0,
                                     cmap="viridis")
    with Image.open(p) as im:
        assert im.mode == "RGB" and float(im.info["camtwin:vmax_m"]) == 3.0
        np.testing.assert_array_equal(np.asarray(im), rgb)
    with pytest.raises(ConfigError, match="colormap"):
        dio.depth_colormap(d, cmap="nope")


def test_png16_round_trip_through_scene_from_files(tmp_path):
    scene_mod = pytest.importorskip("camtwin.depth.scene")
    g = scene_mod.PinholeGeometry(width_px=32, height_px=24, pixel_pitch_um=5.0,
                                  focal_length_mm=2.0, f_number=1.2)
    sc = scene_mod.slanted_plane(g, 1.2, 20.0)
    p = dio.write_depth_png16(tmp_path / "d.png", sc.distance_m)
    back = scene_mod.scene_from_files(p, 0.5, g, unit="mm", depth_type="radial")
    # 1 mm counts: rounding error ≤ 0.5 mm
    np.testing.assert_allclose(back.distance_m, sc.distance_m, atol=0.5e-3 + 1e-12)
