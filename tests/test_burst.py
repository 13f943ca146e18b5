"""Burst alignment, robust merge and HDR bracketing (camtwin.burst).

Analytic references:
* averaging N frames of independent noise divides its std by √N (Var of a mean of N
  i.i.d. variables = σ²/N); the Wiener-style merge of Hasinoff et al. 2016 (§5) may lose a
  few per cent of that, so ≥ 0.9·√N static and ≥ 0.8·√N handheld are required;
* an HDR bracket with t_max/t_min = R extends the EMVA 1288 dynamic range
  20·log10(μ_sat/σ_d) by 20·log10(R) dB (saturation × R, dark noise unchanged);
* the fixed-pattern-free sensor is used for the √N checks because fixed-pattern noise is
  identical in every frame of a static burst and is not averaged away (it would cap the
  gain at √((σ_t² + σ_f²)/(σ_t²/N + σ_f²)), tested separately).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from camtwin.burst import (HandheldMotion, MovingObject, align_burst, burst_optical_image,
                           burst_target, merge_burst, simulate_burst)
from camtwin.burst import _kernels
from camtwin.burst.align import (frame_planes, quadratic_subpixel, raw_planes, tile_grid,
                                 tile_search_reference)
from camtwin.burst.hdr import bracket_exposures, dynamic_range_db, merge_hdr
from camtwin.burst.merge import (_gather, _interleaved, overlap_add_reference, raised_cosine,
                                 wiener_accumulate_reference)
from camtwin.burst.quality import region_noise
from camtwin.errors import ConfigError
from camtwin.evaluate.metrics import crop_module
from camtwin.module import load_module

LUX = 1.0
EXPOSURE_S = 0.1          # a night-mode frame (HDR+ caps frames near 1/10 s handheld)
N = 8
FLAT = (104, 152, 104, 152)  # inside the burst target's central flat grey square
NO_FPN = {"noise": {"prnu_fraction": 0.0, "dsnu_offset_e": 0.0, "column_fpn_e": 0.0,
                    "hot_pixel_fraction": 0.0, "dark_current_nonuniformity": 0.0}}


@pytest.fixture(scope="module")
def module_256():
    return crop_module(load_module("default"), 256).replace(sensor=NO_FPN)


@pytest.fixture(scope="module")
def target_oi(module_256):
    sc = burst_target(module_256, illuminance_lux=LUX, seed=3, margin_px=32)
    return burst_optical_image(module_256, sc, illuminance_lux=LUX, margin_px=32)


def _noise_vs_truth(img_dn, frame, box=FLAT):
    """Std [DN] of (image − ground truth) on the green samples of ``box``."""
    truth = frame.mean_electrons * frame.conversion_gain_dn_per_e + frame.black_level_dn
    r0, r1, c0, c1 = box
    g = (frame.channel_index == 1)[r0:r1, c0:c1]
    return float((np.asarray(img_dn, np.float64) - truth)[r0:r1, c0:c1][g].std())


def test_tile_search_kernel_matches_numpy_reference():
    gen = np.random.default_rng(0)
    ref = gen.random((64, 64)).astype(np.float32)
    alt = np.roll(ref, (2, -3), axis=(0, 1)) + 0.01 * gen.random((64, 64)).astype(np.float32)
    ty = np.array([8, 16, 24, 40], dtype=np.int64)
    tx = np.array([8, 24, 16, 32], dtype=np.int64)
    init = np.zeros((4, 2), dtype=np.int32)
    for l1 in (True, False):
        d_nb, c_nb = _kernels.tile_search(ref, alt, ty, tx, 8, init, 4, l1)
        d_np, c_np = tile_search_reference(ref, alt, ty, tx, 8, init, 4, l1)
        np.testing.assert_array_equal(d_nb, d_np)
        np.testing.assert_allclose(c_nb, c_np, rtol=1e-5)
        assert np.all(d_nb == [2, -3])  # np.roll by (2, −3): ref(p) = alt(p + (2, −3))


def test_padded_planes_kernel_matches_numpy_pad():
    """frame_planes (one numba pass) = numpy.pad(mode="symmetric") of raw_planes."""
    from types import SimpleNamespace

    gen = np.random.default_rng(1)
    for shape in ((38, 52), (41, 63)):  # even, and odd (last row/column dropped)
        frame = SimpleNamespace(dn=gen.integers(0, 4096, shape).astype(np.uint16),
                                black_level_dn=64.0)
        grid = tile_grid((shape[0] // 2, shape[1] // 2))
        ref = np.stack([grid.pad_plane(p) for p in raw_planes(frame)])
        np.testing.assert_array_equal(frame_planes(frame, grid), ref)


def test_gather_windowed_kernel_matches_numpy_reference():
    gen = np.random.default_rng(2)
    planes = gen.random((4, 40, 50)).astype(np.float32)
    n = 16
    win = gen.random((n, n)).astype(np.float32)
    ty = np.array([0, 8, 24, 16, 32], dtype=np.int64)
    tx = np.array([0, 16, 34, 8, 40], dtype=np.int64)
    iy = np.array([-3, 1, 2, 0, 5], dtype=np.int64)  # some tiles reach outside: clamped
    ix = np.array([-2, 0, 3, -1, 4], dtype=np.int64)
    out = np.empty((4, ty.size, n, n), dtype=np.float32)
    _kernels.gather_windowed(planes, ty, tx, iy, ix, win, out)
    np.testing.assert_array_equal(out, _gather(planes, ty, tx, n, iy, ix) * win)


def test_wiener_accumulate_kernel_matches_numpy_reference():
    gen = np.random.default_rng(3)
    n, m = 16, 7
    ky = np.fft.fftfreq(n)
    kx = np.fft.rfftfreq(n)
    shape = (4, m, n, kx.size)

    def spectrum():
        return (gen.normal(size=shape) + 1j * gen.normal(size=shape)).astype(np.complex64)

    t0, tz = spectrum(), spectrum()
    thresh = gen.uniform(0.5, 3.0, (4, m)).astype(np.float32)
    fy, fx = gen.uniform(-0.5, 0.5, m), gen.uniform(-0.5, 0.5, m)
    acc = t0.copy()
    rejected = np.zeros(m)
    _kernels.wiener_accumulate(_interleaved(t0), _interleaved(tz), thresh, fy, fx, ky, kx,
                               _interleaved(acc), rejected)
    inc, a = wiener_accumulate_reference(t0, tz, thresh, fy, fx, ky, kx)
    np.testing.assert_allclose(acc, t0 + inc, rtol=0, atol=2e-5)  # float32 arithmetic
    np.testing.assert_allclose(rejected, a.sum(axis=(0, 2, 3)), rtol=1e-5)


def test_overlap_add_kernels_match_numpy_reference():
    gen = np.random.default_rng(4)
    grid = tile_grid((21, 30))
    ny, nx = grid.n_tiles
    n = grid.tile
    tiles = gen.random((4, ny * nx, n, n)).astype(np.float32)
    ty, tx = grid.tile_origins()
    merged = np.zeros((4,) + tuple(grid.padded_shape), dtype=np.float32)
    _kernels.overlap_add(tiles[:, :5], ty[:5], tx[:5], merged)  # two batches
    _kernels.overlap_add(tiles[:, 5:], ty[5:], tx[5:], merged)
    mosaic = gen.random((43, 61)).astype(np.float32)  # odd: last row/column kept
    expected = overlap_add_reference(tiles, grid, 64.0, mosaic)
    _kernels.planes_to_mosaic(merged, grid.pad, 64.0, mosaic)
    np.testing.assert_allclose(mosaic, expected, rtol=0, atol=1e-4)


def test_lucas_kanade_recovers_a_known_subpixel_shift_inside_and_at_the_border():
    """A smooth analytic pattern sampled at p and at p + d: Gauss–Newton must return d
    for tiles inside the image (fixed-weight fast path) and touching its edge (clamped
    path)."""
    yy, xx = np.mgrid[0:96, 0:96].astype(np.float64)

    def pattern(y, x):
        return (np.sin(y / 3.1) * np.cos(x / 4.3) + 0.5 * np.sin((x + y) / 5.7)).astype(
            np.float32)

    d = (0.37, -0.61)
    ref = pattern(yy, xx)
    alt = pattern(yy - d[0], xx - d[1])  # ref(p) = alt(p + d)
    gy = np.gradient(alt, axis=0).astype(np.float32)
    gx = np.gradient(alt, axis=1).astype(np.float32)
    ty = np.array([40, 24, 0, 80], dtype=np.int64)
    tx = np.array([40, 56, 0, 80], dtype=np.int64)  # the last two touch the border
    init = np.zeros((ty.size, 2))
    out = _kernels.lucas_kanade(ref, alt, gy, gx, ty, tx, 16, init, 20, 1e-12)
    np.testing.assert_allclose(out[:2], [d, d], atol=0.01)
    np.testing.assert_allclose(out[2:], [d, d], atol=0.05)


def test_quadratic_subpixel_recovers_the_minimum_of_a_quadratic():
    u, v = np.meshgrid([-1.0, 0, 1], [-1.0, 0, 1], indexing="ij")
    costs = 3 + 2 * (u - 0.3) ** 2 + 0.5 * (u - 0.3) * (v + 0.2) + 1.5 * (v + 0.2) ** 2
    np.testing.assert_allclose(quadratic_subpixel(costs[None])[0], [0.3, -0.2], atol=1e-9)


def test_raised_cosine_partition_of_unity():
    w = raised_cosine(16)
    np.testing.assert_allclose(w[:8] + w[8:], 1.0, atol=1e-12)


def test_merging_identical_frames_returns_the_frame(module_256, target_oi):
    b = simulate_burst(module_256, target_oi, 1, EXPOSURE_S, 0)
    f = b.frames[0]
    m = merge_burst([f, f, f])
    np.testing.assert_allclose(m.mosaic_dn, f.dn.astype(np.float32), atol=2e-3)


@pytest.fixture(scope="module")
def static_burst(module_256, target_oi):
    return simulate_burst(module_256, target_oi, N, EXPOSURE_S, 11)


def test_static_burst_noise_falls_as_sqrt_n(static_burst):
    frames = static_burst.frames
    f0 = frames[0]
    single = _noise_vs_truth(f0.dn, f0)
    for n in (2, 4, 8):
        merged = merge_burst(frames[:n])
        gain = single / _noise_vs_truth(merged.mosaic_dn, f0)
        # √N (mean of N i.i.d. frames); ≥ 0.9·√N allows the Wiener weight's residual
        assert gain >= 0.9 * math.sqrt(n), (n, gain)
        assert gain <= 1.05 * math.sqrt(n), (n, gain)  # cannot beat averaging


def test_static_burst_with_fixed_pattern_noise_follows_the_fpn_bound(target_oi):
    """With DSNU/column FPN the gain saturates: √((σ_t² + σ_f²)/(σ_t²/N + σ_f²))."""
    mod = crop_module(load_module("default"), 256).replace(
        sensor={"noise": {"hot_pixel_fraction": 0.0, "dark_current_nonuniformity": 0.0}})
    b = simulate_burst(mod, target_oi, N, EXPOSURE_S, 5)
    f0 = b.frames[0]
    s = mod.sensor
    sig_e = float(f0.mean_electrons[FLAT[0]:FLAT[1], FLAT[2]:FLAT[3]].mean())
    var_f = (s.noise.dsnu_offset_e**2 + s.noise.column_fpn_e**2
             + (s.noise.prnu_fraction * sig_e) ** 2)
    var_t = sig_e + s.read_noise_e**2 + s.noise.row_noise_e**2
    expected = math.sqrt((var_t + var_f) / (var_t / N + var_f))
    single = region_noise(f0.dn.astype(np.float32), f0, FLAT)["std_e"]
    merged = region_noise(merge_burst(b.frames).mosaic_dn, f0, FLAT)["std_e"]
    gain = single / merged
    assert gain < 0.9 * math.sqrt(N)            # the fixed pattern stays
    assert gain == pytest.approx(expected, rel=0.12)


@pytest.fixture(scope="module")
def handheld_burst(module_256, target_oi):
    obj = MovingObject(start_px=(60.0, 40.0), size_px=24.0, velocity_px_per_frame=(0.0, 20.0),
                       brightness=3.0)
    return simulate_burst(module_256, target_oi, N, EXPOSURE_S, 2,
                          motion=HandheldMotion(shift_px=20.0, rotation_deg=0.3), objects=[obj])


def test_handheld_alignment_error_below_a_tenth_pixel(handheld_burst):
    b = handheld_burst
    assert np.abs(b.poses[:, 1:]).max() > 10  # the shake is real
    al = align_burst(b.frames)
    cy, cx = al.tile_centres_raw()
    h, w = b.frames[0].shape
    obj = b.object_boxes[0]

    def hits(rows, cols, box, margin=20):  # tile (32 raw px) overlaps an object box
        return ((rows + 16 > box[0] - margin) & (rows - 16 < box[1] + margin)
                & (cols + 16 > box[2] - margin) & (cols - 16 < box[3] + margin))

    interior = (cy > 24) & (cy < h - 24) & (cx > 24) & (cx < w - 24)
    err2 = []
    for z in range(1, N):
        ty, tx = b.true_displacement_px(z, cy, cx)
        # tiles whose content is occluded by the object in frame 0 or in frame z have no
        # camera-motion answer; they are excluded
        use = interior & ~hits(cy, cx, obj[0]) & ~hits(cy + ty, cx + tx, obj[z])
        ey = 2 * al.displacement[z, ..., 0] - ty  # plane samples → raw pixels
        ex = 2 * al.displacement[z, ..., 1] - tx
        err2.append((ey**2 + ex**2)[use])
    err2 = np.concatenate(err2)
    assert err2.size > 7 * 100
    rms = math.sqrt(float(np.mean(err2)))
    assert rms < 0.1, rms


def test_handheld_merge_keeps_most_of_the_sqrt_n_gain(handheld_burst):
    f0 = handheld_burst.frames[0]
    merged = merge_burst(handheld_burst.frames)
    gain = _noise_vs_truth(f0.dn, f0) / _noise_vs_truth(merged.mosaic_dn, f0)
    assert gain >= 0.8 * math.sqrt(N), gain


def test_moving_object_does_not_ghost(handheld_burst):
    b = handheld_burst
    f0 = b.frames[0]
    boxes = b.object_boxes[0]
    region = (max(0, min(o[0] for o in boxes)), max(o[1] for o in boxes),
              max(0, min(o[2] for o in boxes)), min(f0.shape[1], max(o[3] for o in boxes)))
    truth = f0.mean_electrons * f0.conversion_gain_dn_per_e + f0.black_level_dn
    r0, r1, c0, c1 = region

    def rms(img):
        return float(np.sqrt(np.mean((np.asarray(img, np.float64) - truth)[r0:r1, c0:c1] ** 2)))

    single = rms(f0.dn)
    merged = rms(merge_burst(b.frames).mosaic_dn)
    naive = rms(np.mean([f.dn.astype(np.float64) for f in b.frames], axis=0))
    assert naive > 2 * single      # a plain average ghosts: the test region is sensitive
    assert merged <= single        # the robust merge does not


def test_hdr_bracket_extends_dynamic_range_by_the_exposure_ratio():
    mod = crop_module(load_module("default"), 64)
    t = bracket_exposures(0.016, 4.0, 3)  # 16, 4, 1 ms: ratio 16 → +24.08 dB
    dr = dynamic_range_db(mod, t, 7)
    expected = 20 * math.log10(16.0)
    assert dr["expected_gain_db"] == pytest.approx(expected)
    assert abs(dr["gain_db"] - expected) < 1.0, dr


def test_hdr_merge_is_unbiased_below_saturation(module_256, target_oi):
    from camtwin.burst.hdr import capture_bracket

    t = bracket_exposures(0.05, 4.0, 3)
    oi = target_oi.scaled_to_illuminance(800.0)
    frames = capture_bracket(module_256.sensor, oi, t, 1)
    res = merge_hdr(frames)
    truth = frames[0].mean_electrons  # longest exposure first
    ok = res.valid_frames == 3
    assert ok.mean() > 0.1
    rel = float(np.mean(res.electrons[ok]) / np.mean(truth[ok]))
    assert rel == pytest.approx(1.0, abs=0.01)
    clipped = res.valid_frames < 3
    assert clipped.any()  # the bracket was needed: the long frame clips somewhere


@pytest.mark.parametrize("call, match", [
    (lambda f: merge_burst(f[:1]), "at least 2 frames"),
    (lambda f: align_burst([f[0], f[0].with_(dn=f[0].dn[:-2, :-2].copy(),
                                             mean_electrons=None)]), "must match"),
    (lambda f: merge_hdr([f[0], f[0]]), "ratio"),
    (lambda f: bracket_exposures(0.01, 1.0, 3), "ratio"),
    (lambda f: bracket_exposures(0.01, 0.5, 3), "ratio"),
])
def test_bad_input_is_one_line_config_error(static_burst, call, match):
    with pytest.raises(ConfigError, match=match) as exc:
        call(static_burst.frames)
    assert "\n" not in str(exc.value)
