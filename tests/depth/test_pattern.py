"""Dot projector: validation, layout, where dots land, radiometry of one dot (eq. (3) of
camtwin.depth.pattern recomputed here from h, c and the lens geometry), spot size, and the
projector's shadow at a depth edge."""

from __future__ import annotations

import math

import numpy as np
import pytest

from camtwin.depth.pattern import (DotPattern, Surface, dot_hits, dot_image,
                                   view_from_offset)
from camtwin.depth.scene import DepthScene, PinholeGeometry, plane, step_edge
from camtwin.errors import ConfigError

H_J_S = 6.62607015e-34  # Planck constant, exact (SI 2019)
C_M_S = 299792458.0     # speed of light, exact


@pytest.fixture(scope="module")
def geom():
    return PinholeGeometry(width_px=160, height_px=120, pixel_pitch_um=6.0,
                           focal_length_mm=1.2, f_number=2.0, lens_transmission=0.9,
                           fill_factor=0.8)


def test_pattern_larger_than_field_is_one_line_error():
    with pytest.raises(ConfigError) as e:
        DotPattern(n_dots=200000, fov_h_deg=10, fov_v_deg=10, dot_divergence_mrad=2.0)
    msg = str(e.value)
    assert msg.startswith("DotPattern: n_dots = 200000: ") and "cells" in msg
    assert "\n" not in msg
    with pytest.raises(ConfigError, match=r"fov_h_deg = 200: .*\(0, 180\)"):
        DotPattern(fov_h_deg=200)
    with pytest.raises(ConfigError, match="optical_power_w"):
        DotPattern(optical_power_w=0)
    # 30k dots of 1 mrad in 60° × 45° fit easily (≈ 9.6e5 cells)
    assert DotPattern(n_dots=30000).resolvable_cells > 9e5


@pytest.mark.parametrize("kw, text", [
    (dict(optical_power_w=20), "optical_power_w = 20: valid range (0, 10] W"),
    (dict(optical_power_w=math.nan), "optical_power_w = nan: valid range (0, 10] W"),
    (dict(wavelength_nm=math.inf), "wavelength_nm = inf: valid range [400, 2000] nm"),
    (dict(exit_diameter_mm=-1e-3), "exit_diameter_mm = -0.001: valid range [0, 10] mm"),
    (dict(n_dots=0), "n_dots = 0: valid range 1..10000000 dots"),
    (dict(n_dots=10**30), "valid range 1..10000000 dots"),  # no int → float overflow
    (dict(seed=-1), "seed = -1: valid range >= 0"),
])
def test_out_of_range_names_field_value_and_whole_range(kw, text):
    """Every numeric field (one shared constraint, camtwin._spec.valid_range) rejects NaN,
    ±inf and out-of-range values in one line with both ends of the valid range."""
    with pytest.raises(ConfigError) as e:
        DotPattern(**kw)
    msg = str(e.value)
    assert msg.startswith("DotPattern: ") and text in msg and "\n" not in msg


def test_layouts_fill_the_field():
    p = DotPattern(n_dots=20000, fov_h_deg=60, fov_v_deg=40, seed=3)
    t = p.tangents()
    tx, ty = math.tan(math.radians(30)), math.tan(math.radians(20))
    assert t.shape == (20000, 2)
    assert np.all(np.abs(t[:, 0]) <= tx) and np.all(np.abs(t[:, 1]) <= ty)
    # uniform in tan space: mean 0, variance (2a)²/12 (within 5 % for 20k samples)
    assert abs(t[:, 0].var() / (tx**2 / 3) - 1) < 0.05
    assert np.array_equal(t, DotPattern(n_dots=20000, fov_h_deg=60, fov_v_deg=40,
                                        seed=3).tangents())
    assert not np.array_equal(t, p.replace(seed=4).tangents())
    g = DotPattern(n_dots=1200, layout="grid", fov_h_deg=60, fov_v_deg=40).tangents()
    assert abs(len(g) - 1200) < 60
    xs = np.unique(np.round(g[:, 0], 12))
    assert np.allclose(np.diff(xs), 2 * tx / len(xs))  # regular spacing


def test_dots_land_on_the_plane(geom):
    p = DotPattern(n_dots=5000, fov_h_deg=50, fov_v_deg=40)
    surf = Surface.from_scene(plane(geom, 1.3, 0.5))
    hits = dot_hits(p, surf, 0.025)
    assert hits.n > 3000
    assert np.allclose(hits.points_m[:, 2], 1.3, rtol=1e-9)
    # the point lies on the dot's ray from the projector: X = p + Z·tan θx
    t = p.tangents()
    xs = (hits.points_m[:, 0] - 0.025) / 1.3
    assert np.isin(np.round(xs, 9), np.round(t[:, 0], 9)).all()


def _one_dot(**kw):
    return DotPattern(n_dots=1, layout="grid", fov_h_deg=5, fov_v_deg=5,
                      dot_divergence_mrad=2.0, optical_power_w=0.01, wavelength_nm=940, **kw)


@pytest.mark.parametrize("z", [0.5, 1.0, 2.0])
def test_one_dot_photons_follow_the_camera_equation(geom, z):
    """Total photons/s of one on-axis dot: Φ = T·ρ·Φ_dot·cosθe·(D²/4)·cosα/r²·FF·λ/(hc),
    D = f/N; recomputed here from first principles (pupil area over distance²)."""
    p, rho, px = _one_dot(), 0.6, 0.02
    surf = Surface.from_scene(plane(geom, z, rho))
    img = dot_image(p, dot_hits(p, surf, px), surf)
    r = math.hypot(px, z)                     # dot at (px, 0, z), camera at the origin
    cos_e = cos_a = z / r
    pupil_area = math.pi * (1.2e-3 / 2.0 / 2) ** 2          # f = 1.2 mm, N = 2
    watts = 0.9 * rho * 0.01 / math.pi * cos_e * pupil_area * cos_a / r**2
    expected = watts * 0.8 * 940e-9 / (H_J_S * C_M_S)
    assert img.sum() == pytest.approx(expected, rel=1e-6)


def test_spot_size_grows_with_divergence(geom):
    """Second moment of the dot image = (D(R)/4·f/Z)² + σ_diff² + 1/12 (pixel box)."""
    z = 1.0
    p = _one_dot().replace(dot_divergence_mrad=30.0, exit_diameter_mm=0.5)
    surf = Surface.from_scene(plane(geom, z, 0.5))
    img = dot_image(p, dot_hits(p, surf, 0.0), surf)
    cols = np.arange(img.shape[1])
    prof = img.sum(axis=0)
    m = (prof * cols).sum() / prof.sum()
    var = (prof * (cols - m) ** 2).sum() / prof.sum()
    f = geom.focal_px
    sig_spot = math.hypot(0.5e-3, 30e-3 * z) / 4 * f / z
    sig_diff = 0.42 * 0.94 * 2.0 / 6.0
    expected = sig_spot**2 + sig_diff**2 + 1 / 12
    assert var == pytest.approx(expected, rel=0.05)
    assert m == pytest.approx((geom.width_px - 1) / 2, abs=1e-3)  # on axis (window ±4σ)


def test_dot_power_falls_with_distance_squared(geom):
    p = _one_dot()
    s = [dot_image(p, dot_hits(p, Surface.from_scene(plane(geom, z, 0.5)), 0.0),
                   Surface.from_scene(plane(geom, z, 0.5))).sum() for z in (0.8, 1.6)]
    assert s[0] / s[1] == pytest.approx(4.0, rel=1e-9)


def _mirrored(scene):
    """The scene mirrored left↔right (near half-plane on the right)."""
    n = scene.normal[:, ::-1].copy()
    n[..., 0] *= -1
    return DepthScene(scene.geometry, scene.distance_m[:, ::-1], n,
                      scene.reflectance[:, ::-1])


def test_projector_shadow_at_a_depth_edge(geom):
    """Near half-plane on the right, projector at +p: the far plane just left of the edge
    is seen by the left camera but hidden from the projector — a band of
    f·p·(1/z_n − 1/z_f) px without dots."""
    zn, zf, pp = 0.5, 1.0, 0.04
    scene = _mirrored(step_edge(geom, zn, zf, 0.5))
    surf = Surface.from_scene(scene)
    p = DotPattern(n_dots=20000, fov_h_deg=80, fov_v_deg=70, dot_divergence_mrad=0.5)
    img = dot_image(p, dot_hits(p, surf, pp), surf)
    f = geom.focal_px
    edge = geom.width_px / 2 - 0.5               # the edge between the two middle columns
    width = f * pp * (1 / zn - 1 / zf)           # ≈ 8 px
    band = img[:, int(edge - width + 2):int(edge - 1)]
    far = img[:, 10:int(edge - width - 2)]
    assert band.mean() < 0.01 * far.mean()
    near = img[:, int(edge + 2):]
    assert near.mean() > 0.5 * far.mean()


def test_offset_view_shifts_a_plane_by_its_disparity(geom):
    surf = Surface.from_scene(plane(geom, 0.9, 0.5))
    v = view_from_offset(surf, 0.05)
    d = geom.focal_px * 0.05 / 0.9
    src = v.owner + np.where(v.nbr > v.owner, v.t, -v.t)
    ok = ~v.hole & (v.owner < geom.width_px - 1)  # the last cell is extrapolated flat
    jj = np.broadcast_to(np.arange(geom.width_px), ok.shape)
    assert np.allclose(src[ok] - jj[ok], d, atol=1e-9)
    # the right margin of ⌈d⌉ columns sees what the reference camera does not: holes
    assert v.hole.sum() == geom.height_px * math.ceil(d - 0.5)


def test_numba_view_kernel_matches_numpy_reference(geom):
    """The numba scanline kernel and the pure-NumPy reference give the same view of a
    scene with occlusions and disocclusions (a box in front of a wall)."""
    from camtwin.depth.scene import box

    scene = box(geom, 0.6, (0.3, 0.2, 0.2), 0.5, wall_distance_m=1.4)
    surf = Surface.from_scene(scene)
    for s, col0, width in ((0.05, 0, geom.width_px), (-0.03, -5, geom.width_px + 30)):
        a = view_from_offset(surf, s, col0=col0, width=width)
        b = view_from_offset(surf, s, col0=col0, width=width, use_numba=False)
        assert a.hole.sum() > 0
        assert np.array_equal(a.owner, b.owner) and np.array_equal(a.nbr, b.nbr)
        assert np.allclose(a.t, b.t, atol=1e-12)
        assert np.allclose(a.inv_z, b.inv_z, equal_nan=True, rtol=1e-12)
        assert np.allclose(a.x_ref, b.x_ref, equal_nan=True, atol=1e-12)
