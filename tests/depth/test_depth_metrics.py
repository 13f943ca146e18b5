"""camtwin.depth.metrics against hand-computed values and statistics of known noise.

References: every expected value below is computed by hand (in the comment) from the
definition stated in the function's docstring, or from the statistics of the Gaussian noise
we inject (sample standard deviation of N draws: E[s] = c4(N)·σ, Var[s] ≈ σ²/(2(N−1))).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from camtwin.depth.metrics import (
    ambient_robustness_table,
    depth_accuracy,
    depth_precision,
    depth_to_point_cloud,
    flying_pixel_fraction,
    max_range_at_precision,
    multipath_error,
    plane_fit_residual,
    valid_fraction,
)
from camtwin.errors import ConfigError


def c4(n: int) -> float:
    """Bias of the sample standard deviation of n Gaussian draws: E[s] = c4·σ."""
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


# ------------------------------------------------------------------------------ accuracy

def test_accuracy_constant_offset_hand_value():
    truth = np.full((8, 10), 2.0)
    frames = np.full((5, 8, 10), 2.02)        # +20 mm on 2 m = +1 %
    a = depth_accuracy(frames, truth)
    assert a.mean_error_m == pytest.approx(0.02, abs=1e-12)
    assert a.mean_error_pct == pytest.approx(1.0, abs=1e-9)
    assert a.accuracy_pct == pytest.approx(1.0, abs=1e-9)
    assert a.distance_m == 2.0 and a.n_pixels == 80 and a.valid_fraction == 1.0


def test_accuracy_percent_is_per_pixel_relative():
    # two pixels: truth 1 m error +10 mm (1 %), truth 4 m error +20 mm (0.5 %) → mean 0.75 %
    truth = np.array([[1.0, 4.0]])
    depth = np.array([[1.01, 4.02]])
    a = depth_accuracy(depth, truth)
    assert a.mean_error_pct == pytest.approx(0.75, abs=1e-9)
    assert a.mean_error_m == pytest.approx(0.015, abs=1e-12)


def test_accuracy_averages_noise_out_and_skips_invalid_samples(rng):
    n, h, w, sigma = 64, 16, 16, 0.01
    truth = np.full((h, w), 1.5)
    frames = truth + 0.003 + sigma * rng.standard_normal((n, h, w))
    frames[::4, :, :3] = np.nan                # 16 of 64 frames invalid in 3 columns
    a = depth_accuracy(frames, truth)
    # the mean of ~n·h·w samples of σ = 10 mm has σ_mean ≈ 10 mm / √16000 ≈ 0.08 mm
    assert a.mean_error_m == pytest.approx(0.003, abs=5 * sigma / math.sqrt(n * h * w * 0.9))
    assert a.valid_fraction == pytest.approx(1 - (16 * 3) / (64 * 16), abs=1e-12)
    assert a.n_pixels == h * w


def test_accuracy_roi_rectangle_equals_mask_and_excludes_infinite_truth():
    truth = np.full((6, 6), 2.0)
    truth[0, :] = np.inf                      # no surface: never in the ROI
    depth = truth.copy()
    depth[2:4, 2:4] = 2.1                     # +5 % inside the ROI only
    mask = np.zeros((6, 6), bool)
    mask[2:4, 2:4] = True
    a1 = depth_accuracy(depth, truth, roi=(2, 4, 2, 4))
    a2 = depth_accuracy(depth, truth, roi=mask)
    assert a1 == a2
    assert a1.mean_error_pct == pytest.approx(5.0)
    assert depth_accuracy(depth, truth).n_pixels == 30


def test_accuracy_all_invalid_gives_nan_not_error():
    a = depth_accuracy(np.full((3, 4, 4), np.nan), np.ones((4, 4)))
    assert math.isnan(a.mean_error_m) and a.n_pixels == 0 and a.valid_fraction == 0.0


# ------------------------------------------------------------------------------ precision

def test_precision_matches_injected_gaussian_sigma(rng):
    n, h, w, sigma, dist = 50, 32, 32, 0.01, 2.0
    frames = dist + sigma * rng.standard_normal((n, h, w))
    p_mean = depth_precision(frames, np.full((h, w), dist), statistic="mean")
    # E[s] = c4(50)·σ = 0.99490·σ; the mean over 1024 pixels has sd ≈ σ/√(2·49·1024) ≈ 0.3 %
    assert p_mean.sigma_m == pytest.approx(c4(n) * sigma, rel=0.015)
    assert p_mean.sigma_pct == pytest.approx(100 * c4(n) * sigma / dist, rel=0.015)
    assert p_mean.precision_pct == p_mean.sigma_pct
    p_med = depth_precision(frames, np.full((h, w), dist))
    assert p_med.statistic == "median" and p_med.n_frames == n and p_med.n_pixels == h * w
    assert p_med.sigma_m == pytest.approx(sigma, rel=0.03)


def test_precision_percent_per_pixel_and_without_truth(rng):
    # σ ∝ distance: 1 % everywhere, on two distances; without truth the reference is the mean
    n = 400
    truth = np.array([[1.0, 3.0]])
    frames = truth * (1 + 0.01 * rng.standard_normal((n, 1, 2)))
    p = depth_precision(frames, truth, statistic="mean")
    assert p.sigma_pct == pytest.approx(1.0, rel=0.1)
    p2 = depth_precision(frames, None, statistic="mean")
    assert p2.sigma_pct == pytest.approx(p.sigma_pct, rel=1e-3)


def test_precision_hand_value_with_a_missing_frame():
    # pixel samples 1.0, 1.2, NaN, 1.4 → mean 1.2, s = √((0.04+0+0.04)/2) = 0.2
    frames = np.array([1.0, 1.2, np.nan, 1.4]).reshape(4, 1, 1)
    p = depth_precision(frames, np.array([[1.0]]))
    assert p.sigma_m == pytest.approx(0.2, abs=1e-12)
    assert p.sigma_pct == pytest.approx(20.0, abs=1e-9)
    assert p.valid_fraction == 0.75


def test_precision_bad_input_one_line():
    with pytest.raises(ConfigError, match="N >= 2"):
        depth_precision(np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(ConfigError, match="does not match"):
        depth_precision(np.ones((3, 4, 4)), np.ones((4, 5)))
    with pytest.raises(ConfigError, match="statistic"):
        depth_precision(np.ones((3, 4, 4)), np.ones((4, 4)), statistic="rms")
    with pytest.raises(ConfigError, match="selects no pixel"):
        depth_precision(np.ones((3, 4, 4)), np.ones((4, 4)), roi=(2, 2, 0, 4))
    with pytest.raises(ConfigError, match="empty ROI"):
        depth_precision(np.ones((3, 4, 4)), np.full((4, 4), np.inf))
    with pytest.raises(ConfigError, match="> 0 m"):
        depth_accuracy(np.ones((3, 4, 4)), np.zeros((4, 4)))
    with pytest.raises(ConfigError) as e:
        depth_accuracy(np.ones((3, 4, 4)), np.ones((4, 4)), roi=np.ones((3, 3), bool))
    assert "\n" not in str(e.value)


def test_valid_fraction_exact():
    d = np.ones((2, 4, 5))
    d[0, 0, :] = np.nan
    d[1, :, 0] = np.inf
    # invalid: 5 in frame 0, 4 in frame 1 → 31/40
    assert valid_fraction(d) == pytest.approx(31 / 40)
    assert valid_fraction(d[0], roi=(1, 4, 0, 5)) == 1.0
    with pytest.raises(ConfigError):
        valid_fraction(d, roi=np.zeros((4, 5), bool))


# ------------------------------------------------------------------------------ flying pixels

def _step(h=8, w=32, near=1.0, far=2.0):
    truth = np.full((h, w), far)
    truth[:, :16] = near                      # edge between columns 15 and 16
    return truth


def test_flying_pixel_fraction_hand_count():
    truth = _step()
    depth = truth.copy()
    depth[:, 15] = 1.5                        # flying: between 1.1 and 1.9 (τ = 10 % of 1 m)
    depth[:4, 16] = 1.5                       # half of column 16 flying too
    depth[4:, 16] = 1.95                      # within τ of the far surface: not flying
    depth[0, 14] = np.nan                     # invalid: in the band, not flying
    # band_px = 2: columns 14..17 see both surfaces → band = 4 columns × 8 rows = 32 pixels
    # flying = 8 (col 15) + 4 (col 16) = 12 → 12/32 = 0.375
    assert flying_pixel_fraction(depth, truth, band_px=2) == pytest.approx(0.375)
    # band_px = 1: columns 15, 16 only → 12/16
    assert flying_pixel_fraction(depth, truth, band_px=1) == pytest.approx(0.75)
    # an explicit tolerance of 0.5 m leaves nothing strictly between 1.5 and 1.5
    assert flying_pixel_fraction(depth, truth, tolerance_m=0.5) == 0.0
    # perfect depth: no flying pixel
    assert flying_pixel_fraction(truth, truth) == 0.0


def test_flying_pixel_fraction_stack_and_infinite_background():
    truth = _step(far=np.inf)
    d1 = truth.copy()
    d1[:, 15] = 3.0                           # beyond near + τ (τ = 0.1 m), finite: flying
    d2 = truth.copy()
    d2[:, 16] = np.nan                        # no return where there is no surface: correct
    # pooled over the two frames: 8 flying of 2 × 32 band samples
    assert flying_pixel_fraction(np.stack([d1, d2]), truth) == pytest.approx(8 / 64)


def test_flying_pixel_fraction_edge_band_mask_and_errors():
    truth = _step()
    depth = truth.copy()
    depth[:, 15] = 1.5
    band = np.zeros_like(truth, bool)
    band[:, 15:17] = True
    assert flying_pixel_fraction(depth, truth, edge_band=band) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="no depth edge"):
        flying_pixel_fraction(np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(ConfigError, match="band_px"):
        flying_pixel_fraction(depth, truth, band_px=0)
    with pytest.raises(ConfigError, match="does not match"):
        flying_pixel_fraction(depth, truth[:, :-1])


# ------------------------------------------------------------------------------ multipath

def test_multipath_error_hand_value():
    truth = np.linspace(1.0, 2.0, 16).reshape(4, 4)
    depth = truth * 1.03                      # +3 % everywhere in the ROI
    depth[0, 0] = truth[0, 0] * 1.05          # outside the ROI: must not count
    r = multipath_error(np.stack([depth, depth]), truth, roi=(1, 4, 0, 4))
    assert r.mean_error_pct == pytest.approx(3.0)
    assert r.multipath_error_pct == pytest.approx(3.0)
    assert r.max_abs_error_pct == pytest.approx(3.0)
    assert r.mean_error_m == pytest.approx(0.03 * truth[1:].mean())
    assert r.n_pixels == 12
    assert multipath_error(depth, truth).max_abs_error_pct == pytest.approx(5.0)


# ------------------------------------------------------------------------------ max range

def test_max_range_power_law_is_exact_in_loglog():
    d = np.array([1.0, 2.0, 4.0, 8.0])
    p = 0.1 * d ** 2                          # 0.1, 0.4, 1.6, 6.4 %
    # crossing of 0.35 %: 0.1·d² = 0.35 → d = √3.5 = 1.870829 m
    assert max_range_at_precision(d, p, 0.35) == pytest.approx(math.sqrt(3.5), rel=1e-12)
    # linear: 1 + (0.35 − 0.1)/(0.4 − 0.1) = 1.833333 m
    assert max_range_at_precision(d, p, 0.35, interpolation="linear") == pytest.approx(11 / 6)
    # log-linear: 1 + ln(3.5)/ln(4) = 1.903677 m
    assert max_range_at_precision(d, p, 0.35, interpolation="loglinear") == pytest.approx(
        1 + math.log(3.5) / math.log(4))
    # unsorted input: same answer
    assert max_range_at_precision(d[::-1], p[::-1], 0.35) == pytest.approx(math.sqrt(3.5))


def test_max_range_never_always_and_nan():
    d = [1.0, 2.0, 3.0]
    assert max_range_at_precision(d, [0.1, 0.2, 0.3], 1.0) == math.inf   # beyond the sweep
    assert math.isnan(max_range_at_precision(d, [2.0, 3.0, 4.0], 1.0))   # fails already at 1 m
    # no valid depth at 3 m: the range ends after the last good distance
    assert max_range_at_precision(d, [0.1, 0.2, np.nan], 1.0) == 2.0
    # first crossing wins over a later dip below the limit
    assert max_range_at_precision([1, 2, 3, 4], [0.5, 2.0, 0.5, 0.5], 1.0,
                                  interpolation="linear") == pytest.approx(1 + 0.5 / 1.5)
    # zero precision at the near end: log undefined, linear fallback 1 + (1 − 0)/(2 − 0) = 1.5
    assert max_range_at_precision([1, 2], [0.0, 2.0], 1.0) == pytest.approx(1.5)
    with pytest.raises(ConfigError, match=">= 0 %"):
        max_range_at_precision([1, 2], [-0.1, 0.2], 1.0)
    with pytest.raises(ConfigError, match="same length"):
        max_range_at_precision([1, 2], [0.1], 1.0)
    with pytest.raises(ConfigError, match="limit_pct"):
        max_range_at_precision([1, 2], [0.1, 0.2], 0.0)
    with pytest.raises(ConfigError, match="interpolation"):
        max_range_at_precision([1, 2], [0.1, 0.2], 1.0, interpolation="cubic")


def test_ambient_robustness_table_rows():
    rows = ambient_robustness_table([100, 0, 10], [0.9, 0.3, 0.45], limit_pct=0.5)
    assert [r["ambient_klx"] for r in rows] == [0.0, 10.0, 100.0]
    assert [r["ratio_to_darkest"] for r in rows] == pytest.approx([1.0, 1.5, 3.0])
    assert [r["meets_limit"] for r in rows] == [True, True, False]
    assert ambient_robustness_table([0], [np.nan])[0]["meets_limit"] is None
    with pytest.raises(ConfigError, match="klx"):
        ambient_robustness_table([-1, 0], [1, 1])


# ------------------------------------------------------------------------------ geometry

def test_point_cloud_hand_computed_points():
    depth = np.full((3, 3), 3.0)
    depth[1, 2] = 5.0
    depth[2, 2] = np.nan
    pts, idx = depth_to_point_cloud(depth, focal_px=2.0, return_index=True)  # cx = cy = 1
    assert pts.shape == (8, 3) and 8 not in idx
    s6, s5 = math.sqrt(6), math.sqrt(5)
    # (row 0, col 0): ray (−1, −1, 2)/√6, radial 3 m
    np.testing.assert_allclose(pts[idx == 0][0], [-3 / s6, -3 / s6, 6 / s6], rtol=1e-12)
    # centre pixel: straight ahead
    np.testing.assert_allclose(pts[idx == 4][0], [0, 0, 3.0], atol=1e-15)
    # (row 1, col 2): ray (1, 0, 2)/√5, radial 5 m → (√5, 0, 2√5)
    np.testing.assert_allclose(pts[idx == 5][0], [5 / s5, 0, 10 / s5], rtol=1e-12)
    # radial distance preserved: |P| = d; Z < d off axis
    np.testing.assert_allclose(np.linalg.norm(pts, axis=1), depth.ravel()[idx], rtol=1e-12)


def test_point_cloud_principal_point_fx_fy_and_rays_argument():
    depth = np.full((2, 4), 2.0)
    pts = depth_to_point_cloud(depth, focal_px=(4.0, 2.0), cx=0.0, cy=0.0)
    # (row 1, col 3): ray (3/4, 1/2, 1) normalised, × 2 m
    v = np.array([0.75, 0.5, 1.0])
    np.testing.assert_allclose(pts[7], 2 * v / np.linalg.norm(v), rtol=1e-12)
    rays = np.zeros((2, 4, 3))
    rays[..., 2] = 1.0
    np.testing.assert_allclose(depth_to_point_cloud(depth, rays=rays)[:, 2], 2.0)
    with pytest.raises(ConfigError, match="focal_px"):
        depth_to_point_cloud(depth, focal_px=0.0)
    with pytest.raises(ConfigError, match="rays"):
        depth_to_point_cloud(depth, rays=np.zeros((4, 2, 3)))


def test_plane_fit_checkerboard_offsets_give_rms_e():
    n = np.array([0.1, 0.0, -1.0])
    n /= np.linalg.norm(n)
    ii, jj = np.meshgrid(np.arange(10), np.arange(12), indexing="ij")
    base = np.stack([ii * 0.01, jj * 0.01, 2.0 + 0.1 * ii * 0.01], axis=-1).reshape(-1, 3)
    e = 0.002
    sign = np.where((ii + jj) % 2 == 0, 1.0, -1.0).ravel()
    pts = base + e * sign[:, None] * n         # ±2 mm along the normal, balanced
    fit = plane_fit_residual(pts)
    assert fit.rms_m == pytest.approx(e, rel=1e-9)
    assert fit.peak_to_valley_m == pytest.approx(2 * e, rel=1e-9)
    np.testing.assert_allclose(fit.normal, n, atol=1e-9)
    assert fit.n_points == 120


def test_plane_fit_of_flat_wall_through_point_cloud():
    # fronto-parallel wall at z = 2 m seen as radial distance d = 2/cos(θ)
    h, w, f = 9, 11, 8.0
    u = np.arange(w) - (w - 1) / 2
    v = np.arange(h) - (h - 1) / 2
    radial = 2.0 * np.sqrt(u[None, :] ** 2 + v[:, None] ** 2 + f ** 2) / f
    fit = plane_fit_residual(depth_to_point_cloud(radial, focal_px=f))
    assert fit.rms_m < 1e-12
    np.testing.assert_allclose(fit.normal, [0, 0, -1], atol=1e-12)
    assert fit.offset_m == pytest.approx(-2.0)
    with pytest.raises(ConfigError, match=">= 3"):
        plane_fit_residual(np.ones((2, 3)))


# ------------------------------------------------------------------------------ with depth.scene

def test_slanted_plane_scene_point_cloud_recovers_its_plane():
    scene_mod = pytest.importorskip("camtwin.depth.scene")
    g = scene_mod.PinholeGeometry(width_px=64, height_px=48, pixel_pitch_um=5.0,
                                  focal_length_mm=2.0, f_number=1.2)
    tilt, dist = 30.0, 1.5
    sc = scene_mod.slanted_plane(g, dist, tilt)
    pts = depth_to_point_cloud(sc.distance_m, g.focal_px)
    np.testing.assert_allclose(pts, depth_to_point_cloud(sc.distance_m, rays=g.ray_directions()),
                               atol=1e-12)
    fit = plane_fit_residual(pts)
    th = math.radians(tilt)
    # plane z = D + x·tanθ: normal (sinθ, 0, −cosθ), n·P = −D·cosθ (scene.slanted_plane docs)
    np.testing.assert_allclose(fit.normal, [math.sin(th), 0, -math.cos(th)], atol=1e-12)
    assert fit.offset_m == pytest.approx(-dist * math.cos(th), rel=1e-12)
    assert fit.rms_m < 1e-12


def test_step_edge_scene_perfect_depth_has_no_flying_pixels():
    scene_mod = pytest.importorskip("camtwin.depth.scene")
    g = scene_mod.PinholeGeometry(width_px=40, height_px=30, pixel_pitch_um=5.0,
                                  focal_length_mm=2.0, f_number=1.2)
    sc = scene_mod.step_edge(g, 1.0, 2.0)
    assert flying_pixel_fraction(sc.distance_m, sc.distance_m) == 0.0
    mixed = sc.distance_m.copy()
    band_cols = np.flatnonzero(np.abs(np.diff(sc.distance_m[15])) > 0.5)   # the edge column
    mixed[:, band_cols] = 1.5                 # mid-way: flying
    assert flying_pixel_fraction(mixed, sc.distance_m) > 0.0
