"""Depth scenes: pinhole geometry and analytic ray casting against hand-derived geometry."""

from __future__ import annotations

import numpy as np
import pytest

from camtwin.depth.scene import (
    DepthScene, PinholeGeometry, bin_pixels, box, corner, face_relief, plane,
    scene_from_files, slanted_plane, sphere, step_edge,
)
from camtwin.errors import ConfigError

# Tolerances: analytic geometry in float64 → tight; finite-difference normals → loose.
TIGHT = 1e-9


@pytest.fixture
def geom():
    # 64×48 px, 10 µm pitch, 0.5 mm focal length → f = 50 px, FOV ≈ 65°×51°
    return PinholeGeometry(width_px=64, height_px=48, pixel_pitch_um=10.0,
                           focal_length_mm=0.5, f_number=1.2)


def test_focal_px_and_rays(geom):
    assert geom.focal_px == pytest.approx(50.0)
    d = geom.ray_directions()
    assert d.shape == (48, 64, 3)
    np.testing.assert_allclose(np.linalg.norm(d, axis=-1), 1.0, atol=TIGHT)
    # the ray through pixel (i, j) has tan of its angle = u/f: pixel column 63 → u = 31.5
    assert d[0, 63, 0] / d[0, 63, 2] == pytest.approx(31.5 / 50.0)
    assert d[47, 0, 1] / d[47, 0, 2] == pytest.approx(23.5 / 50.0)
    # symmetric about the principal point
    np.testing.assert_allclose(d[:, ::-1, 0], -d[:, :, 0], atol=TIGHT)


def test_supersampled_keeps_field_of_view(geom):
    g3 = geom.supersampled(3)
    assert (g3.width_px, g3.height_px) == (192, 144)
    assert g3.pixel_pitch_um == pytest.approx(10.0 / 3)
    assert g3.fov_deg == pytest.approx(geom.fov_deg)
    # mean direction (tangent) of each 3×3 block = the original pixel's tangent
    d = g3.ray_directions()
    tan = d[..., :2] / d[..., 2:]
    d0 = geom.ray_directions()
    np.testing.assert_allclose(bin_pixels(tan, 3), d0[..., :2] / d0[..., 2:], atol=1e-12)
    with pytest.raises(ConfigError, match="k = 0"):
        geom.supersampled(0)


def test_plane_radial_distance(geom):
    s = plane(geom, 2.0, 0.3)
    d = geom.ray_directions()
    # r = D / d_z (radial distance to the plane z = D) and z = D everywhere
    np.testing.assert_allclose(s.distance_m, 2.0 / d[..., 2], rtol=TIGHT)
    np.testing.assert_allclose(s.z_m, 2.0, rtol=TIGHT)
    np.testing.assert_allclose(s.normal, np.broadcast_to([0, 0, -1.0], d.shape), atol=TIGHT)
    np.testing.assert_allclose(s.cos_incidence(), d[..., 2], rtol=TIGHT)
    assert (s.reflectance == 0.3).all()
    assert not s.distance_m.flags.writeable


def test_slanted_plane_points_lie_on_plane(geom):
    s = slanted_plane(geom, 1.5, 30.0)
    p = s.points_m()
    # plane z = D + x·tan θ
    np.testing.assert_allclose(p[..., 2], 1.5 + p[..., 0] * np.tan(np.radians(30)), atol=1e-12)
    np.testing.assert_allclose(s.normal[0, 0], [np.sin(np.radians(30)), 0, -np.cos(np.radians(30))],
                               atol=TIGHT)
    assert (s.cos_incidence() > 0).all()
    # right half farther than left half
    assert s.z_m[:, -1].mean() > s.z_m[:, 0].mean()


def test_slanted_plane_beyond_grazing_has_no_return(geom):
    # tilt 70° + half FOV 32.6° > 90°: the rightmost rays run away from the plane
    s = slanted_plane(geom, 1.0, 70.0)
    assert np.isinf(s.distance_m[:, -1]).all()
    assert np.isnan(s.normal[:, -1]).all()
    assert np.isfinite(s.distance_m[:, 0]).all()


def test_step_edge(geom):
    s = step_edge(geom, 0.5, 1.0, 0.8, far_reflectance=0.2)
    # even width: the edge lies between columns 31 and 32
    np.testing.assert_allclose(s.z_m[:, :32], 0.5, rtol=TIGHT)
    np.testing.assert_allclose(s.z_m[:, 32:], 1.0, rtol=TIGHT)
    assert (s.reflectance[:, :32] == 0.8).all() and (s.reflectance[:, 32:] == 0.2).all()
    sy = step_edge(geom, 0.5, 1.0, axis="y")
    np.testing.assert_allclose(sy.z_m[:24], 0.5, rtol=TIGHT)
    np.testing.assert_allclose(sy.z_m[24:], 1.0, rtol=TIGHT)


def test_step_edge_supersampled_mixed_pixels(geom):
    # edge moved by half a pixel footprint at 0.5 m (0.5·10 µm/0.5 mm/2 = 5 mm): with 4×
    # supersampling the edge pixel column sees half near and half far sub-rays
    k = 4
    s = step_edge(geom.supersampled(k), 0.5, 1.0, edge_offset_m=0.5 * 10e-6 / 0.5e-3 / 2)
    near_frac = bin_pixels((s.z_m < 0.75).astype(float), k)
    assert np.allclose(near_frac[:, 32], 0.5)
    assert np.allclose(near_frac[:, :32], 1.0) and np.allclose(near_frac[:, 33:], 0.0)


def test_box_front_face_and_wall(geom):
    s = box(geom, 0.8, (0.2, 0.2, 0.3), wall_distance_m=2.0)
    z = s.z_m
    assert z[24, 32] == pytest.approx(0.8)
    assert z[0, 0] == pytest.approx(2.0)
    # front face spans |x| ≤ 0.1 at z = 0.8 → |u| ≤ 0.1/0.8·50 = 6.25 px
    u = np.arange(64) - 31.5
    row = z[24]
    assert np.allclose(row[np.abs(u) < 6.0], 0.8) and np.allclose(row[np.abs(u) > 6.5], 2.0)


def test_box_side_face_normal(geom):
    # box to the right of the axis: its left side face (normal −x) is visible
    s = box(geom, 0.8, (0.2, 0.2, 0.4), center_xy_m=(0.3, 0.0), wall_distance_m=3.0)
    p = s.points_m()
    side = np.isclose(s.normal[..., 0], -1.0)
    assert side.any()
    np.testing.assert_allclose(p[side][:, 0], 0.2, atol=1e-12)  # x = cx − w/2
    z = p[side][:, 2]
    assert (z >= 0.8 - 1e-12).all() and (z <= 1.2 + 1e-12).all()


def test_sphere(geom):
    s = sphere(geom, 1.0, 0.2, wall_distance_m=2.0)
    c = np.array([0, 0, 1.0])
    p = s.points_m()
    on = s.z_m < 1.5
    # points on the sphere surface, normals radial and facing the camera
    np.testing.assert_allclose(np.linalg.norm(p[on] - c, axis=-1), 0.2, atol=1e-12)
    np.testing.assert_allclose(s.normal[on], (p[on] - c) / 0.2, atol=1e-12)
    assert (s.cos_incidence()[on] > 0).all()
    # near point on axis: the central 2×2 pixels are within 1% of 0.8 m
    assert s.distance_m[23:25, 31:33] == pytest.approx(0.8, rel=1e-3)


def test_corner_geometry(geom):
    s = corner(geom, 1.0, 90.0)
    p = s.points_m()
    # 90° corner: z = D − |x|·cot 45° = 1 − |x|
    np.testing.assert_allclose(p[..., 2], 1.0 - np.abs(p[..., 0]), atol=1e-12)
    assert np.allclose(s.normal[:, 0], [np.cos(np.pi / 4), 0, -np.sin(np.pi / 4)])
    assert np.allclose(s.normal[:, -1], [-np.cos(np.pi / 4), 0, -np.sin(np.pi / 4)])
    # 180° is a flat plane
    np.testing.assert_allclose(corner(geom, 1.0, 180.0).z_m, 1.0, rtol=1e-12)


def test_face_relief_solves_height_field(geom):
    from camtwin.depth.scene import _face_height

    g = geom.supersampled(4)
    s = face_relief(g, 0.5)
    p = s.points_m()
    h, hx, hy = _face_height(p[..., 0], p[..., 1], 0.15)
    np.testing.assert_allclose(p[..., 2], 0.5 - h, atol=1e-10)
    # nose tip ≈ 2 cm proud of the face oval (peak height ≈ 0.045 + 0.020 m)
    assert 0.06 < h.max() < 0.07
    # normals agree with the gradient and face the camera
    n_ref = -np.stack([hx, hy, np.ones_like(hx)], -1)
    n_ref /= np.linalg.norm(n_ref, axis=-1, keepdims=True)
    np.testing.assert_allclose(s.normal, n_ref, atol=1e-9)
    assert (s.cos_incidence() > 0).all()
    # the gradient is right: compare with a central difference
    e = 1e-6
    num = (_face_height(np.array(0.01 + e), np.array(0.02), 0.15)[0]
           - _face_height(np.array(0.01 - e), np.array(0.02), 0.15)[0]) / (2 * e)
    assert num == pytest.approx(_face_height(np.array(0.01), np.array(0.02), 0.15)[1], rel=1e-6)


def test_scene_from_files_roundtrip(tmp_path, geom):
    import tifffile
    from PIL import Image

    ref = slanted_plane(geom, 1.2, 20.0, 0.4)
    z_mm = np.round(ref.z_m * 1000).astype(np.uint16)
    Image.fromarray(z_mm).save(tmp_path / "d.png")
    np.save(tmp_path / "d.npy", ref.z_m)
    tifffile.imwrite(tmp_path / "r.tif", np.full(geom.shape, 0.4, np.float32))
    s_png = scene_from_files(tmp_path / "d.png", tmp_path / "r.tif", geom)
    s_npy = scene_from_files(tmp_path / "d.npy", 0.4, geom)
    np.testing.assert_allclose(s_npy.distance_m, ref.distance_m, rtol=1e-12)
    np.testing.assert_allclose(s_png.distance_m, ref.distance_m, atol=1e-3)  # mm rounding
    np.testing.assert_allclose(s_npy.normal, ref.normal, atol=1e-9)  # planar: exact differences
    np.testing.assert_allclose(s_png.reflectance, 0.4, rtol=1e-6)
    # radial input, in mm
    np.save(tmp_path / "r.npy", ref.distance_m * 1000)
    s_rad = scene_from_files(tmp_path / "r.npy", 0.4, geom, unit="mm", depth_type="radial")
    np.testing.assert_allclose(s_rad.distance_m, ref.distance_m, rtol=1e-12)


def test_scene_from_files_invalid_pixels(tmp_path, geom):
    z = np.full(geom.shape, 1.0)
    z[10, 10] = 0.0
    z[11, 11] = np.nan
    np.save(tmp_path / "d.npy", z)
    s = scene_from_files(tmp_path / "d.npy", 0.5, geom)
    assert np.isinf(s.distance_m[10, 10]) and np.isinf(s.distance_m[11, 11])
    ok = np.isfinite(s.distance_m)
    np.testing.assert_allclose(s.normal[ok], np.broadcast_to([0, 0, -1.0], s.normal[ok].shape),
                               atol=1e-9)


@pytest.mark.parametrize("make, match", [
    (lambda p, g: (np.save(p / "d.npy", np.ones((5, 5))), p / "d.npy")[1], "geometry is 64×48"),
    (lambda p, g: (p / "x.jpg").write_bytes(b"x") and p / "x.jpg", "unsupported file type"),
    (lambda p, g: (p / "bad.png").write_bytes(b"not a png") and p / "bad.png", "cannot read"),
    (lambda p, g: p / "missing.npy", "file not found"),
    (lambda p, g: (np.save(p / "n.npy", -np.ones(g.shape)), p / "n.npy")[1], "negative depth"),
])
def test_scene_from_files_errors(tmp_path, geom, make, match):
    path = make(tmp_path, geom)
    with pytest.raises(ConfigError, match=match) as exc:
        scene_from_files(path, 0.5, geom)
    assert "\n" not in str(exc.value)




def _npy_header_only(path, shape, dtype="<f8"):
    """A .npy file holding only a header that declares ``shape`` (no data: 80 GB of
    float64 at 100 000²): a reader that believed it would allocate it or fail on EOF."""
    with open(path, "wb") as f:     # (the magic string and the header)
        np.lib.format.write_array_header_2_0(f, {"descr": dtype, "fortran_order": False,
                                                 "shape": shape})
    return path


@pytest.mark.parametrize("kind", ["npy", "png", "tif"])
def test_a_file_of_another_size_is_refused_from_its_header(tmp_path, geom, kind,
                                                          monkeypatch):
    """The size a depth or reflectance file declares is checked before it is decoded: a
    header-only .npy of 100 000 × 100 000 float64 is refused by size (not by a failed read
    of 80 GB), and a PNG or TIFF of the wrong size is never decoded (the decoders are
    replaced by ones that fail the test)."""
    import tifffile
    from PIL import Image

    if kind == "npy":
        path = _npy_header_only(tmp_path / "d.npy", (100_000, 100_000))
    elif kind == "png":
        path = tmp_path / "d.png"
        Image.fromarray(np.ones((480, 640), np.uint16)).save(path)
    else:
        path = tmp_path / "d.tif"
        tifffile.imwrite(path, np.ones((480, 640), np.float32))
    np.save(tmp_path / "good.npy", np.ones(geom.shape))
    size = "100000×100000" if kind == "npy" else "640×480"
    with pytest.raises(ConfigError, match=f"reflectance_path: image is {size} px, "
                       "geometry is 64×48 px"):
        scene_from_files(tmp_path / "good.npy", path, geom)

    def never(*args, **kwargs):
        raise AssertionError("decoded a file of the wrong size")

    monkeypatch.setattr(np, "load", never)
    monkeypatch.setattr(tifffile, "imread", never)
    monkeypatch.setattr(Image.Image, "__array_interface__", property(never))
    with pytest.raises(ConfigError, match=f"depth_path: image is {size} px, "
                       "geometry is 64×48 px") as exc:
        scene_from_files(path, 0.5, geom)
    assert "\n" not in str(exc.value)

def test_geometry_validation_one_line():
    with pytest.raises(ConfigError) as exc:
        PinholeGeometry(width_px=0, height_px=10, pixel_pitch_um=3, focal_length_mm=2,
                        f_number=2)
    msg = str(exc.value)
    assert "width_px = 0" in msg and "greater than or equal to 1" in msg and "\n" not in msg
    with pytest.raises(ConfigError, match="fill_factor = 1.5"):
        PinholeGeometry(width_px=8, height_px=8, pixel_pitch_um=3, focal_length_mm=2,
                        f_number=2, fill_factor=1.5)


def test_builder_validation(geom):
    with pytest.raises(ConfigError, match=r"plane.distance_m = -1"):
        plane(geom, -1.0)
    with pytest.raises(ConfigError, match="reflectance"):
        plane(geom, 1.0, 1.5)
    with pytest.raises(ConfigError, match="far_m"):
        step_edge(geom, 1.0, 0.5)
    with pytest.raises(ConfigError, match="opening_deg = 10"):
        corner(geom, 1.0, 10.0)
    with pytest.raises(ConfigError, match="tilt_deg = 95"):
        slanted_plane(geom, 1.0, 95.0)
    with pytest.raises(ConfigError, match="wall_distance_m"):
        box(geom, 1.0, (0.2, 0.2, 0.2), wall_distance_m=1.1)


def test_depth_scene_shape_checks(geom):
    s = plane(geom, 1.0)
    with pytest.raises(ConfigError, match=r"distance_m: shape \(4, 4\)"):
        DepthScene(geom, np.ones((4, 4)), s.normal, s.reflectance)
    with pytest.raises(ConfigError, match="normal: shape"):
        DepthScene(geom, s.distance_m, s.normal[..., :2], s.reflectance)
    with pytest.raises(ConfigError, match="unit vectors"):
        DepthScene(geom, s.distance_m, 2 * s.normal, s.reflectance)
    with pytest.raises(ConfigError, match="> 0 m or inf"):
        DepthScene(geom, -s.distance_m, s.normal, s.reflectance)
