"""The configurable ISP: pipeline specs, the new stages, colour accuracy end to end, the
``camtwin process`` command and its bad-input handling.

Independent references: colour-science (sRGB encoding), LibRaw via rawpy (camera colour
matrix + white balance), camtwin's optics (relative illumination), ``measure.sfr.esfr``
(ISO 12233 e-SFR) and plain NumPy re-implementations written here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import colour
import cv2
import numpy as np
import pytest
import rawpy
import yaml

from camtwin.errors import ConfigError
from camtwin.isp import (BUILTIN_PIPELINES, STAGE_ORDER, IspSpec, PipelineSpec,
                         ccm_from_color_matrix, correct_defects, denoise, estimate_noise_sigma,
                         gain_from_flat_field, gain_from_lens, load_gain_map, load_pipeline,
                         run_pipeline, srgb_encode, to_uint, tone_map, unsharp_mask,
                         white_patch_gains)
from camtwin.isp.pipeline import _quantise
from camtwin.isp.tone import srgb_encode_fast
from camtwin.raw import RawFrame, cfa_channel_index, load_raw, write_dng

from _fresh import fresh_json

FAST = [{"black_level": None}, {"white_balance": {"method": "illuminant"}},
        {"demosaic": {"method": "malvar2004"}}, {"ccm": {"matrix": "camera"}},
        {"exposure": {"gain": "auto"}}, {"tone": {"curve": "srgb"}}, {"output": {"bits": 8}}]


def mosaic_raw(camera_rgb, cfa="RGGB", *, black=64.0, white=4095, neutral=None,
               xyz_to_camera=None, noise_dn=0.0, rng=None) -> RawFrame:
    """RawFrame sampling ``camera_rgb`` (H, W, 3, normalised) at the CFA sites."""
    camera_rgb = np.asarray(camera_rgb, dtype=np.float64)
    idx = cfa_channel_index(cfa, camera_rgb.shape[:2]).astype(np.intp)
    m = np.take_along_axis(camera_rgb, idx[:, :, None], axis=2)[:, :, 0]
    dn = black + m * (white - black)
    if noise_dn:
        dn = dn + rng.normal(0.0, noise_dn, dn.shape)
    dn = np.clip(np.rint(dn), 0, white).astype(np.uint16)
    return RawFrame(dn, cfa, black, white, exposure_s=0.01, conversion_gain_dn_per_e=0.5,
                    as_shot_neutral=neutral, xyz_to_camera=xyz_to_camera, pixel_pitch_um=2.0)


def smooth_scene(shape=(96, 128), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.uniform(0.1, 0.8, (6, 8, 3)).astype(np.float32)
    return cv2.resize(small, shape[::-1], interpolation=cv2.INTER_CUBIC).clip(0.05, 0.9)


# --------------------------------------------------------------------------- pipeline spec

def test_pipeline_yaml_round_trip(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump({"name": "mine", "stages": FAST}), encoding="utf-8")
    pipe = PipelineSpec.from_yaml(p)
    assert pipe.names == ("black_level", "white_balance", "demosaic", "ccm", "exposure",
                          "tone", "output")
    assert pipe.stage("demosaic").method == "malvar2004"
    assert pipe.stage("sharpen") is None
    assert PipelineSpec.from_dict({"stages": pipe.to_list()}).to_list() == pipe.to_list()
    assert load_pipeline(p).name == "mine"
    for name in BUILTIN_PIPELINES:
        assert load_pipeline(name).names[0] == "black_level"


@pytest.mark.parametrize("stages, pattern", [
    (["black_level", "demosiac"], r"stages\[1\]: unknown stage 'demosiac'.*black_level"),
    (["black_level", {"demosaic": {"methd": "bilinear"}}], r"stages\[1\] demosaic: methd: "
                                                            r"unknown field"),
    (["black_level", {"demosaic": {"method": "ahd"}}], r"method = 'ahd'.*malvar2004"),
    (["black_level", "demosaic", "white_balance"], r"'white_balance' cannot come after "
                                                    r"'demosaic'"),
    (["black_level", "demosaic", "demosaic"], "appears twice"),
    (["white_balance", "demosaic"], "required.*black_level"),
    (["black_level", "demosaic", {"exposure": {"gain": -1}}], r"exposure: gain"),
    (["black_level", {"white_balance": {"method": "manual"}}, "demosaic"], "gains"),
    (["black_level", {"lens_shading": {"source": "flat_field"}}, "demosaic"], "path"),
    (["black_level", "demosaic", {"output": {"bits": 12}}], r"output: bits = 12"),
    (["black_level", "demosaic", {"tone": {"curve": "aces"}}], r"curve = 'aces'"),
    ([], "non-empty"),
])
def test_bad_pipeline_gives_one_clear_line(stages, pattern):
    with pytest.raises(ConfigError, match=pattern) as info:
        PipelineSpec.from_dict({"stages": stages}, source="p.yaml")
    assert "\n" not in str(info.value) and str(info.value).startswith("p.yaml: ")
    with pytest.raises(ConfigError):  # direct construction validates too
        PipelineSpec(stages=stages)


def test_stage_order_constant_and_ispspec_conversion():
    assert STAGE_ORDER[0] == "black_level" and STAGE_ORDER[-1] == "output"
    pipe = IspSpec(lens_shading="lens", denoise="guided", sharpen=0.3,
                   defect_pixel=True).to_pipeline()
    assert pipe.names == ("black_level", "defect_pixel", "lens_shading", "white_balance",
                          "demosaic", "denoise", "ccm", "exposure", "tone", "sharpen",
                          "output")
    assert IspSpec().to_pipeline().stage("ccm").matrix == "fitted"


def test_run_keeps_intermediates_and_is_deterministic():
    scene = smooth_scene()
    raw = mosaic_raw(scene, "GRBG", neutral=(0.6, 1.0, 0.8), noise_dn=3.0,
                     rng=np.random.default_rng(1))
    pipe = PipelineSpec.from_dict({"stages": ["black_level", "defect_pixel",
                                              "white_balance", {"demosaic": {"method":
                                                                "directional_ri"}},
                                              "denoise", {"ccm": {"matrix": "identity"}},
                                              "exposure", "tone", "sharpen", "output"]})
    a = run_pipeline(raw, pipe, keep=True)
    b = run_pipeline(raw, pipe)
    assert np.array_equal(a.image, b.image) and a.image.dtype == np.uint8
    assert list(a.intermediates) == ["black_level", "defect_pixel", "white_balance",
                                     "demosaic", "denoise", "ccm", "exposure", "tone",
                                     "sharpen", "output"]
    assert a.intermediates["black_level"].shape == raw.shape
    assert a.intermediates["demosaic"].shape == raw.shape + (3,)
    # the kept demosaic output is not modified by later in-place steps
    np.testing.assert_allclose(a.intermediates["demosaic"][::2, 1::2, 0],
                               a.intermediates["white_balance"][::2, 1::2], rtol=1e-6)


def test_fast_pipeline_matches_the_numpy_stages():
    # black level → WB → (demosaic) → CCM → auto exposure → sRGB → 8 bit, recomputed with
    # the plain NumPy stage functions and colour-science's sRGB encoding.
    scene = smooth_scene(seed=4)
    neutral = (0.55, 1.0, 0.75)
    raw = mosaic_raw(scene * np.array(neutral), "BGGR", neutral=neutral)
    m = np.array([[1.5, -0.3, -0.2], [-0.2, 1.4, -0.2], [0.05, -0.45, 1.4]])
    pipe = PipelineSpec.from_dict({"stages": FAST[:3] + [{"ccm": {"matrix": m.tolist()}}]
                                   + FAST[4:]})
    res = run_pipeline(raw, pipe)
    from camtwin.isp import apply_ccm, apply_white_balance, black_level, clip_highlights, demosaic
    gains = 1 / np.array(neutral)
    mos = clip_highlights(apply_white_balance(black_level(raw), "BGGR", gains), gains)
    lin = apply_ccm(demosaic(mos, "BGGR", "malvar2004"), m)
    y = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    lin = lin / np.percentile(y, 99.0)
    ref = colour.cctf_encoding(np.clip(lin.astype(np.float64), 0, 1), "sRGB")
    full = run_pipeline(raw, pipe, keep=True)          # stage by stage, floats kept
    assert res.linear is None and full.linear is not None  # res took the fused 8-bit path
    np.testing.assert_allclose(full.linear, lin, rtol=1e-5, atol=1e-6)
    ref8 = np.rint(ref * 255).astype(int)
    assert np.max(np.abs(full.image.astype(int) - ref8)) <= 1
    assert np.max(np.abs(res.image.astype(int) - ref8)) <= 1
    assert np.mean(res.image == full.image) > 0.99


# --------------------------------------------------------------------------- stages

def _defects_reference(m: np.ndarray, step: int, thr: float) -> np.ndarray:
    """Plain NumPy: same-colour 8-neighbourhood via edge-mirrored shifts."""
    h, w = m.shape
    neigh = []
    for dy in (-step, 0, step):
        for dx in (-step, 0, step):
            if dy == dx == 0:
                continue
            ys = np.arange(h) + dy
            xs = np.arange(w) + dx
            ys = np.where((ys < 0) | (ys >= h), np.arange(h) - dy, ys)
            xs = np.where((xs < 0) | (xs >= w), np.arange(w) - dx, xs)
            neigh.append(m[np.ix_(ys, xs)])
    n = np.stack(neigh)
    bad = (m > n.max(0) + thr) | (m < n.min(0) - thr)
    return np.where(bad, np.median(n, axis=0), m)


def test_defect_correction_matches_numpy_reference_and_fixes_defects():
    rng = np.random.default_rng(2)
    truth = cv2.resize(rng.uniform(0.2, 0.6, (5, 6)).astype(np.float32), (60, 48))
    m = truth + rng.normal(0, 0.005, truth.shape).astype(np.float32)
    # isolated defects (≥ 5 px apart; clusters are out of scope of a single-pass detector),
    # on every Bayer phase and at the border
    ys = np.array([0, 5, 11, 17, 23, 30, 36, 41, 47, 8, 27, 44])
    xs = np.array([3, 10, 16, 23, 29, 36, 42, 49, 59, 0, 55, 20])
    m[ys[:6], xs[:6]] = 1.0   # hot
    m[ys[6:], xs[6:]] = 0.0   # dead
    out, mask = correct_defects(m, "RGGB", threshold=0.05, return_mask=True)
    np.testing.assert_allclose(out, _defects_reference(m, 2, 0.05), rtol=0, atol=1e-7)
    assert mask[ys, xs].all()
    assert np.abs(out - truth).max() < 0.05
    # a sharp edge in a clean image is not a defect
    edge = np.where(np.arange(40)[None, :] < 20, 0.1, 0.9).astype(np.float32) * np.ones((40, 1))
    assert np.array_equal(correct_defects(edge, "GBRG"), edge)
    with pytest.raises(ConfigError, match="threshold"):
        correct_defects(m, "RGGB", threshold=0)


def test_flat_field_gain_removes_vignetting_and_colour_shading():
    h, w = 120, 160
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (w / 2) ** 2
    shading = np.stack([1 / (1 + 0.4 * r2) ** 2, 1 / (1 + 0.3 * r2) ** 2,
                        1 / (1 + 0.2 * r2) ** 2], axis=2)   # colour-dependent fall-off
    rng = np.random.default_rng(0)
    flat = mosaic_raw(0.6 * shading, "RGGB", noise_dn=4.0, rng=rng)
    gain = gain_from_flat_field((flat.dn - 64.0) / (4095 - 64.0), "RGGB")
    scene = mosaic_raw(0.5 * shading, "RGGB")
    corrected = (scene.dn - 64.0) / (4095 - 64.0) * gain
    for r, c in ((0, 0), (0, 1), (1, 1)):
        plane = corrected[r::2, c::2][5:-5, 5:-5]
        assert np.ptp(plane) / plane.mean() < 0.015, (r, c)
    uncorrected = (scene.dn[::2, ::2] - 64.0)[5:-5, 5:-5]
    assert np.ptp(uncorrected) / uncorrected.mean() > 0.5
    with pytest.raises(ConfigError, match="dark"):
        gain_from_flat_field(np.zeros((40, 40), np.float32), "RGGB")


def test_lens_gain_is_the_inverse_of_the_optics_relative_illumination(small_module):
    from camtwin.optics import relative_illumination_cos4

    s, lens = small_module.sensor, small_module.lens
    g = gain_from_lens((s.height_px, s.width_px), s.pixel_pitch_um, lens)
    ri = relative_illumination_cos4((s.height_px, s.width_px), s.pixel_pitch_um, lens)
    np.testing.assert_allclose(g * ri, 1.0, rtol=1e-5)  # default lens: pure cos⁴
    # law: cos⁴ at the corner, tan θ = image height / image distance
    d_um = lens.focal_length_mm * 1e3 * (1 + lens.magnification)
    r_um = np.hypot(s.height_px - 1, s.width_px - 1) / 2 * s.pixel_pitch_um
    assert g[0, 0] == pytest.approx((1 + (r_um / d_um) ** 2) ** 2, rel=1e-5)


def test_gain_map_file_coarse_grid_and_per_colour(tmp_path):
    np.save(tmp_path / "g.npy", np.full((3, 4), 2.0, np.float32))
    assert np.allclose(load_gain_map(tmp_path / "g.npy", (30, 40), "RGGB"), 2.0)
    per = np.ones((5, 5, 3), np.float32) * np.array([1.5, 1.0, 3.0], np.float32)
    np.save(tmp_path / "c.npy", per)
    g = load_gain_map(tmp_path / "c.npy", (8, 8), "RGGB")
    assert g[0, 0] == 1.5 and g[0, 1] == 1.0 and g[1, 1] == 3.0
    with pytest.raises(ConfigError, match="> 0"):
        np.save(tmp_path / "z.npy", np.zeros((2, 2)))
        load_gain_map(tmp_path / "z.npy", (8, 8), "RGGB")


def test_white_patch_gains_and_pipeline_method():
    neutral = np.array([0.5, 1.0, 0.8])
    scene = smooth_scene() * 0.8
    scene[10:20, 10:20] = 0.9  # the white patch
    raw = mosaic_raw(scene * neutral, "GBRG")
    g = white_patch_gains((raw.dn - 64.0) / (4095 - 64.0), "GBRG", percentile=99.9)
    np.testing.assert_allclose(g, 1 / neutral / (1 / neutral[1]), rtol=0.01)
    pipe = PipelineSpec.from_dict({"stages": ["black_level",
                                              {"white_balance": {"method": "white_patch",
                                                                 "percentile": 99.9}},
                                              "demosaic"]})
    np.testing.assert_allclose(run_pipeline(raw, pipe).wb_gains, g, rtol=1e-9)


def test_camera_colour_matrix_agrees_with_libraw(tmp_path):
    # LibRaw's postprocess with the camera WB and its matrix from the DNG ColorMatrix1
    # (the reference) vs camtwin's ccm: camera on the same DNG; both linear, no auto-bright.
    xyz_to_cam = np.array([[0.9, 0.2, -0.15], [-0.3, 1.2, 0.1], [0.05, -0.2, 0.8]])
    d65_xyz = colour.xy_to_XYZ(colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]
                               ["D65"])
    cam_white = xyz_to_cam @ d65_xyz          # the camera's response to the D65 white
    neutral = tuple(cam_white / cam_white[1])
    scene = smooth_scene((120, 160), seed=9) * 0.5
    raw = mosaic_raw(scene * np.array(neutral), "RGGB", neutral=neutral,
                     xyz_to_camera=xyz_to_cam)
    np.testing.assert_allclose(ccm_from_color_matrix(xyz_to_cam).sum(axis=1), 1.0, atol=1e-12)
    path = write_dng(tmp_path / "c.dng", raw)
    pipe = PipelineSpec.from_dict({"stages": ["black_level", "white_balance",
                                              {"demosaic": {"method": "bilinear"}},
                                              {"ccm": {"matrix": "camera"}}]})
    ours = run_pipeline(load_raw(path), pipe).linear.astype(np.float64)
    with rawpy.imread(str(path)) as rp:
        ref = rp.postprocess(demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR,
                             use_camera_wb=True, no_auto_bright=True, gamma=(1, 1),
                             output_bps=16, output_color=rawpy.ColorSpace.sRGB,
                             highlight_mode=rawpy.HighlightMode.Clip) / 65535.0
    b = 4
    # LibRaw clips out-of-gamut values at 0 and scales to its own white level
    a, r = np.clip(ours[b:-b, b:-b], 0, None), ref[b:-b, b:-b]
    k = float((a * r).sum() / (r * r).sum())
    assert np.mean(np.abs(a - k * r)) / a.mean() < 0.005
    # and the matrix matters: without it the disagreement is much larger
    ident = PipelineSpec.from_dict({"stages": pipe.to_list()[:3]})
    a0 = np.clip(run_pipeline(load_raw(path), ident).linear[b:-b, b:-b], 0, None)
    assert np.mean(np.abs(a0 - k * r)) / a0.mean() > 0.03


def test_srgb_lut_and_quantiser_match_exact_references():
    x = np.concatenate([np.linspace(-0.1, 1.1, 200001), [np.nan, 0.0031308, 1.0]])
    x = x.astype(np.float32)
    ref = colour.cctf_encoding(np.clip(np.nan_to_num(x.astype(np.float64)), 0, 1), "sRGB")
    assert np.max(np.abs(srgb_encode_fast(x) - ref)) < 2e-6
    img = np.random.default_rng(0).uniform(-0.2, 1.2, (40, 50, 3)).astype(np.float32)
    for bits in (8, 16):
        assert np.array_equal(_quantise(img, bits), to_uint(img, bits))
    np.testing.assert_allclose(srgb_encode_fast(img), srgb_encode(img), atol=2e-6)


def test_tone_curves_obey_their_definitions():
    # Reinhard (2002) eqs. 1–4 on a uniform grey with a large L_white: L_d = a / (1 + a)
    grey = np.full((8, 8, 3), 0.3, np.float32)
    out = tone_map(grey, "reinhard", key=0.18, white=1e9)
    expected = colour.cctf_encoding(0.18 / 1.18, "sRGB")
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # HDR ramp: monotonic, within [0, 1], nothing clipped below the brightest pixel
    ramp = np.repeat(np.geomspace(1e-3, 50, 400, dtype=np.float32)[None, :, None], 3, 2)
    y = tone_map(ramp, "reinhard")[0, :, 1]          # L_white = the brightest pixel
    assert np.all(np.diff(y) >= 0) and y.max() <= 1 and y[-2] < 1.0
    y = tone_map(ramp, "filmic")[0, :, 1]            # white point W = 11.2 at bias 2
    below_white = ramp[0, :, 1] * 2.0 < 11.2
    assert np.all(np.diff(y) >= 0) and y[below_white].max() < 1.0 and y[-1] == 1.0
    # filmic: bias·x = W maps to exactly white
    w = tone_map(np.full((2, 2, 3), 11.2 / 2.0, np.float32), "filmic")
    np.testing.assert_allclose(w, 1.0, atol=1e-6)


def test_unsharp_mask_adds_overshoot_and_keeps_flat_areas():
    step = np.where(np.arange(64)[None, :] < 32, 0.3, 0.7).astype(np.float32)
    img = cv2.GaussianBlur(np.repeat((step * np.ones((16, 1), np.float32))[:, :, None], 3, 2),
                           (0, 0), 1.0)
    out = unsharp_mask(img, amount=1.0, sigma_px=1.5)
    assert out.max() > img.max() + 0.02 and out.min() < img.min() - 0.02
    np.testing.assert_allclose(out[:, :8], img[:, :8], atol=1e-4)
    np.testing.assert_array_equal(unsharp_mask(img, amount=0.0), img)


# --------------------------------------------------------------------------- denoise

def _slanted_edge(h=200, w=200, angle_deg=5.0, lo=0.25, hi=0.75, blur_px=0.6, ss=8):
    ys, xs = np.mgrid[0:h * ss, 0:w * ss].astype(np.float64) / ss + 0.5 / ss - 0.5
    a = np.deg2rad(angle_deg)
    d = (xs - w / 2) * np.cos(a) - (ys - h / 2) * np.sin(a)
    edge = np.where(d > 0, hi, lo).reshape(h, ss, w, ss).mean(axis=(1, 3)).astype(np.float32)
    edge = cv2.GaussianBlur(edge, (0, 0), blur_px)
    return np.repeat(edge[:, :, None], 3, axis=2)


def test_guided_filter_matches_scipy_reference():
    # He et al. (2010) eqs. 7–8 with I = p, written with scipy.ndimage.uniform_filter
    # (reflect-101 is scipy's "mirror" mode) in float64.
    from scipy.ndimage import uniform_filter

    img = smooth_scene((40, 48), seed=2) + np.random.default_rng(1).normal(
        0, 0.02, (40, 48, 3)).astype(np.float32)
    sigma, r = 0.02, 2
    eps = (1.5 * sigma) ** 2
    x = img.astype(np.float64)

    def box(a):
        return uniform_filter(a, size=(2 * r + 1, 2 * r + 1, 1), mode="mirror")

    mean = box(x)
    var = np.maximum(box(x * x) - mean * mean, 0)
    a = var / (var + eps)
    ref = box(a) * x + box((1 - a) * mean)
    np.testing.assert_allclose(denoise(img, "guided", sigma=sigma, radius_px=r), ref,
                               rtol=0, atol=2e-5)


def test_noise_estimate_on_white_noise():
    x = 0.5 + np.random.default_rng(0).normal(0, 0.03, (300, 300, 3))
    assert estimate_noise_sigma(x) == pytest.approx(0.03, rel=0.03)


def test_denoise_halves_noise_at_snr10_and_keeps_edge_mtf50():
    from camtwin.measure.sfr import esfr

    rng = np.random.default_rng(7)
    sigma = 0.05                                       # grey 0.5 at SNR 10
    flat = (0.5 + rng.normal(0, sigma, (200, 200, 3))).astype(np.float32)
    out = denoise(flat, "guided")                      # σ estimated from the image
    inner = (slice(20, -20), slice(20, -20))
    ratio = flat[inner].std() / out[inner].std()
    clean = _slanted_edge()
    roi = (20, 180, 40, 160)
    before = esfr(clean[:, :, 1], roi=roi).mtf50_cy_px
    after = esfr(denoise(clean, "guided", sigma=sigma)[:, :, 1], roi=roi).mtf50_cy_px
    noisy = clean + rng.normal(0, sigma, clean.shape).astype(np.float32)
    n_before = esfr(noisy[:, :, 1], roi=roi, lsf_window_px=10).mtf50_cy_px
    n_after = esfr(denoise(noisy, "guided")[:, :, 1], roi=roi, lsf_window_px=10).mtf50_cy_px
    print(f"\nguided denoise at SNR 10: noise /{ratio:.2f}; MTF50 clean edge {before:.4f} → "
          f"{after:.4f} cy/px, noisy edge {n_before:.4f} → {n_after:.4f} cy/px")
    assert ratio >= 2.0
    assert after >= 0.9 * before
    assert n_after >= 0.9 * n_before
    # the bilateral filter reduces the noise as well
    assert flat[inner].std() / denoise(flat, "bilateral")[inner].std() >= 2.0


# --------------------------------------------------------------------------- colour

@pytest.fixture(scope="module")
def d65_ccm(small_module):
    from camtwin.camera import module_ccm

    return module_ccm(small_module)


@pytest.mark.parametrize("illuminant, limit", [("D65", 3.0), ("A", 5.0)])
def test_colorchecker_delta_e_with_lens_shading_correction(small_module, d65_ccm,
                                                           illuminant, limit):
    """CCM fitted once under D65 (500 lx); capture at 1000 lx under D65 or A, white
    balance from the known illuminant; mean CIEDE2000 vs colour-science's references."""
    from camtwin.camera import expose, module_scene, render
    from camtwin.measure.color import colorchecker_delta_e
    from camtwin.optics import form_image

    assert small_module.isp.lens_shading == "lens"
    oi = form_image(module_scene(small_module, "colorchecker", illuminant=illuminant,
                                 illuminance_lux=1000.0), small_module.lens)
    raw = expose(small_module, oi, exposure_s=None, rng=2)
    patches = raw.metadata["layout_px"]["patches"]
    de = colorchecker_delta_e(render(small_module, raw, ccm=d65_ccm).linear, patches)
    no_shading = small_module.replace(isp={"lens_shading": "none"})
    from camtwin.camera import module_ccm
    de_off = colorchecker_delta_e(render(no_shading, raw, ccm=module_ccm(no_shading)).linear,
                                  patches)
    print(f"\n{illuminant}: mean ΔE00 {de['mean']:.2f} with lens-shading correction, "
          f"{de_off['mean']:.2f} without")
    assert de["mean"] < limit
    assert de["mean"] < de_off["mean"]


# --------------------------------------------------------------------------- CLI

def run_cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-W", "error", "-m", "camtwin.cli", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def assert_one_line_error(result) -> str:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, \
        repr(result.stderr)
    return result.stderr


@pytest.fixture(scope="module")
def dng_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("raws")
    neutral = (0.6, 1.0, 0.7)
    raw = mosaic_raw(smooth_scene((96, 128), seed=3) * np.array(neutral), "GRBG",
                     neutral=neutral, noise_dn=2.0, rng=np.random.default_rng(0))
    return write_dng(folder / "scene.dng", raw)


def test_cli_process_writes_png_and_stages(dng_file, tmp_path):
    pipe = tmp_path / "p.yaml"
    pipe.write_text(yaml.safe_dump({"name": "t", "stages": FAST}), encoding="utf-8")
    result = run_cli("process", dng_file, "--pipeline", pipe, "--out", "o.png",
                     "--save-stages", "stages", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    img = cv2.imread(str(tmp_path / "o.png"), cv2.IMREAD_UNCHANGED)
    assert img.shape == (96, 128, 3) and img.dtype == np.uint8
    assert len(list((tmp_path / "stages").glob("*.tiff"))) == 7
    result = run_cli("process", dng_file, "--pipeline", "hq", "--out", "o16.tif",
                     "--bits", "16", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    import tifffile
    assert tifffile.imread(tmp_path / "o16.tif").dtype == np.uint16


@pytest.mark.parametrize("case", ["truncated", "not_raw", "missing", "unknown_stage",
                                  "unknown_param", "wrong_order", "bad_out"])
def test_cli_process_bad_input(case, dng_file, tmp_path):
    raw, pipe, out = dng_file, "fast", "o.png"
    if case == "truncated":
        raw = tmp_path / "t.dng"
        data = dng_file.read_bytes()
        raw.write_bytes(data[: len(data) // 2])
    elif case == "not_raw":
        raw = tmp_path / "x.dng"
        raw.write_bytes(b"this is not a raw file\n" * 50)
    elif case == "missing":
        raw = tmp_path / "nope.dng"
    elif case == "bad_out":
        out = "o.jpg"
    else:
        stages = {"unknown_stage": ["black_level", "demosaic", "blur"],
                  "unknown_param": ["black_level", {"demosaic": {"algorithm": "x"}}],
                  "wrong_order": ["black_level", "demosaic", "white_balance"]}[case]
        pipe = tmp_path / "p.yaml"
        pipe.write_text(yaml.safe_dump({"stages": stages}), encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    err = assert_one_line_error(run_cli("process", raw, "--pipeline", pipe, "--out", out,
                                        cwd=tmp_path))
    expected = {"truncated": "truncated", "not_raw": "cannot read raw file",
                "missing": "does not exist", "unknown_stage": "unknown stage 'blur'",
                "unknown_param": "algorithm: unknown field",
                "wrong_order": "cannot come after", "bad_out": ".png"}[case]
    assert expected in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output, no temp file


def test_cli_process_checks_its_working_set_against_the_budget(tmp_path):
    # a 200 MP raw that camtwin itself wrote (capture --raw) took `process` to 8.95 GiB
    # with no check and no --max-memory; the check (PROCESS_BYTES_PER_PX per pixel, more
    # with --save-stages) runs once the raw is loaded, before the pipeline
    from camtwin.commands.isp import PROCESS_BYTES_PER_PX, PROCESS_STAGES_BYTES_PER_PX
    from camtwin.memory import FIXED_BYTES

    h, w = 1500, 2000
    raw = mosaic_raw(smooth_scene((h, w), seed=3), "RGGB", rng=np.random.default_rng(0))
    path = write_dng(tmp_path / "big.dng", raw)
    plain = (h * w * PROCESS_BYTES_PER_PX + FIXED_BYTES) / 2 ** 20
    stages = (h * w * PROCESS_STAGES_BYTES_PER_PX + FIXED_BYTES) / 2 ** 20
    budget = f"{int((plain + stages) / 2)}M"                 # between the two needs
    err = assert_one_line_error(run_cli("process", path, "--out", "o.png", "--save-stages",
                                        "st", "--max-memory", budget, cwd=tmp_path))
    assert "big.dng (2000 × 1500 px) needs about" in err and "--save-stages" in err
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "st").exists()
    ok = run_cli("process", path, "--out", "o.png", "--max-memory", budget, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    err = assert_one_line_error(run_cli("process", path, "--out", "o.png", "--max-memory",
                                        f"{int(plain) - 8}M", cwd=tmp_path))
    assert "raise --max-memory" in err


@pytest.mark.parametrize("cfa", ["RGGB", "QUADBAYER"])
def test_process_working_set_per_pixel_bounds_the_measured_growth(tmp_path, cfa):
    # reference: peak-RSS growth of process_file on a 3 MP raw in a fresh interpreter
    # (kernels compiled on a small raw first): at most PROCESS_BYTES_PER_PX per pixel for
    # both pipelines, and for a Quad Bayer raw (the normalised-convolution demosaic, the
    # catalog's phone sensors: 47 B per pixel measured) not far below it

    from camtwin.commands.isp import PROCESS_BYTES_PER_PX
    from camtwin.raw import save_raw

    if not sys.platform.startswith("linux"):
        pytest.skip("the peak is reset through /proc/self/clear_refs (Linux)")
    paths = []
    for h, w in ((96, 128), (1500, 2000)):
        raw = mosaic_raw(smooth_scene((h, w), seed=3), cfa, rng=np.random.default_rng(0))
        paths.append(str(save_raw(tmp_path / f"r{h}.tif", raw)))
    code = f"""
import json
from pathlib import Path
from camtwin.commands.isp import process_file
from camtwin.memory import call_peak_growth
out = []
for pipe in ("fast", "hq"):
    process_file(Path({paths[0]!r}), pipe, Path({str(tmp_path / "s.png")!r}))
    _, grew = call_peak_growth(process_file, Path({paths[1]!r}), pipe,
                               Path({str(tmp_path / "o.png")!r}))
    out.append(grew)
print(json.dumps(out))
"""
    n = 1500 * 2000
    for grew in fresh_json(code):
        assert grew <= n * PROCESS_BYTES_PER_PX, (cfa, grew / n)
        if cfa == "QUADBAYER":
            assert grew >= 0.6 * n * PROCESS_BYTES_PER_PX, (cfa, grew / n)


# ------------------------------------------------- `camtwin process` of a large raw, in strips
_DENOISED = ["black_level", "defect_pixel", {"white_balance": {"method": "gray_world"}},
             {"demosaic": {"method": "bilinear"}}, {"denoise": {"method": "guided"}},
             {"ccm": {"matrix": "camera"}}, {"exposure": {"gain": "auto", "percentile": 98.0}},
             {"tone": {"curve": "reinhard"}}, {"sharpen": {"amount": 0.8}},
             {"output": {"bits": 16}}]


@pytest.mark.parametrize("cfa, pipeline", [("RGGB", "fast"), ("RGGB", "hq"),
                                           ("QUADBAYER", "fast"), ("RGGB", "denoised")])
def test_a_large_raw_is_processed_in_strips_as_the_whole_frame_is(tmp_path, monkeypatch, cfa,
                                                                   pipeline):
    """``camtwin process`` above ``PROCESS_STRIPS_ABOVE_PX`` (lowered here to a 600 × 800
    raw with noise, in strips of 64 rows) renders in row strips (``render_strips``, the
    pipeline as an IspSpec); reference: the same raw processed on the whole frame
    (``run_pipeline``) — every code value within 1 and at most 1 % of them different
    (``render_strips``' last-bit rounding: 0.23 % of the 200 MP raw's values in
    RESULTS.md), the same white balance, colour matrix and exposure gain."""
    from camtwin.commands import isp as cmd
    from camtwin.isp import strips as isp_strips

    xyz = np.array([[0.9, 0.3, -0.1], [-0.3, 1.2, 0.1], [0.0, 0.2, 0.7]])
    raw = mosaic_raw(smooth_scene((600, 800), seed=4), cfa, neutral=np.array([0.5, 1.0, 0.7]),
                     xyz_to_camera=xyz, noise_dn=6.0, rng=np.random.default_rng(1))
    from camtwin.raw import save_raw

    path = (write_dng(tmp_path / "r.dng", raw) if cfa == "RGGB"    # (Quad Bayer: no DNG)
            else save_raw(tmp_path / "r.tif", raw))
    if pipeline == "denoised":
        pipeline = tmp_path / "p.yaml"
        pipeline.write_text(yaml.safe_dump({"stages": _DENOISED}), encoding="utf-8")
    pipeline = str(pipeline)
    whole = cmd.process_file(path, pipeline, tmp_path / "whole.tif")
    monkeypatch.setattr(cmd, "PROCESS_STRIPS_ABOVE_PX", 100_000)
    monkeypatch.setattr(isp_strips, "default_strip_rows", lambda *a, **k: 64)  # (10 strips)
    strips = cmd.process_file(path, pipeline, tmp_path / "strips.tif")
    assert "strip_rows" not in whole and strips["strip_rows"] == 64
    import tifffile

    a = tifffile.imread(tmp_path / "whole.tif").astype(np.int32)
    b = tifffile.imread(tmp_path / "strips.tif").astype(np.int32)
    assert a.shape == b.shape == (600, 800, 3) and a.dtype == b.dtype
    assert np.abs(a - b).max() <= 1 and (a != b).mean() <= 1e-2
    for key in ("wb_gains", "ccm"):
        np.testing.assert_allclose(strips[key], whole[key], rtol=1e-6, atol=1e-9)
    assert strips["exposure_gain"] == pytest.approx(whole["exposure_gain"], rel=1e-6)
    assert strips["bits"] == whole["bits"]


def test_a_raw_without_a_colour_matrix_is_noted_so_in_strips_too(tmp_path, monkeypatch):
    """``ccm: camera`` on a frame without a colour matrix uses identity and says so; the
    strip path (which takes the matrix as a literal) passes that note on. Reference: the
    whole frame's notes."""
    from camtwin.commands import isp as cmd
    from camtwin.raw import save_raw

    raw = mosaic_raw(smooth_scene((300, 400), seed=2), "RGGB", neutral=(0.5, 1.0, 0.7))
    path = save_raw(tmp_path / "r.tif", raw)        # (no colour matrix: DNG writes one)
    whole = cmd.process_file(path, "fast", tmp_path / "w.png")
    monkeypatch.setattr(cmd, "PROCESS_STRIPS_ABOVE_PX", 1000)
    strips = cmd.process_file(path, "fast", tmp_path / "s.png")
    assert "strip_rows" in strips
    note = "ccm 'camera': the frame has no colour matrix: used identity"
    assert note in whole["notes"] and note in strips["notes"]


def test_what_strips_cannot_say_is_processed_on_the_whole_frame(tmp_path, monkeypatch):
    """``--save-stages``, a flat field, an HDR frame, a ``--ccm`` given to a pipeline
    whose matrix is not ``fitted`` (refused as before) take the whole-frame path."""
    from camtwin.commands import isp as cmd
    from camtwin.isp.strips import pipeline_as_spec

    monkeypatch.setattr(cmd, "PROCESS_STRIPS_ABOVE_PX", 1000)
    raw = mosaic_raw(smooth_scene((96, 128)), "RGGB", neutral=np.array([0.5, 1.0, 0.7]))
    path = write_dng(tmp_path / "r.dng", raw)
    res = cmd.process_file(path, "fast", tmp_path / "o.png", save_stages=tmp_path / "st")
    assert "strip_rows" not in res
    assert "strip_rows" in cmd.process_file(path, "fast", tmp_path / "o2.png")
    flat = load_pipeline("fast").to_list()
    flat.insert(1, {"lens_shading": {"source": "flat_field", "path": "ff.tif"}})
    assert pipeline_as_spec(PipelineSpec.from_dict({"stages": flat}), raw) is None
    tone = [s if not (isinstance(s, dict) and "tone" in s) else
            {"tone": {"curve": "reinhard", "key": 0.3}} for s in load_pipeline("fast").to_list()]
    assert pipeline_as_spec(PipelineSpec.from_dict({"stages": tone}), raw) is None
    assert pipeline_as_spec(load_pipeline("fast"), raw, ccm=np.eye(3)) is None
    ccm = tmp_path / "m.txt"
    np.savetxt(ccm, np.eye(3))
    with pytest.raises(ConfigError, match="ccm"):
        cmd.process_file(path, "fast", tmp_path / "o3.png", ccm_path=ccm)
