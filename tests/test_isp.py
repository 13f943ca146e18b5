"""Tests of camtwin.isp: stages, demosaic, CCM fitting, pipeline and image output.

Tolerances: ``RTOL_F32`` for float32 kernels compared with float64 references (float32 has
~7 significant digits; a few roundings accumulate), ``TIGHT`` for float64 algebra that is
exact up to rounding.
"""

from __future__ import annotations

import warnings

import colour
import cv2
import numpy as np
import pytest
import tifffile

import camtwin.isp.pipeline as isp_pipeline
from camtwin.errors import ConfigError, UnknownNameError
from camtwin.isp import (
    DEMOSAIC_METHODS, IspSpec, RenderedImage, apply_ccm, apply_white_balance, black_level,
    calibrate_ccm, clip_highlights, demosaic, demosaic_bilinear, fit_ccm, gray_world_gains,
    patch_means, process, srgb_encode, to_uint, wb_gains_from_neutral, write_image,
)
from camtwin.raw import RawFrame, cfa_channel_index

with warnings.catch_warnings():
    # colour-demosaicing 0.2.x imports scipy.ndimage.filters, deprecated in SciPy >= 1.8.
    warnings.filterwarnings("ignore", category=DeprecationWarning,
                            message=".*scipy.ndimage.filters.*")
    from colour_demosaicing import demosaicing_CFA_Bayer_bilinear

RTOL_F32 = 1e-5   # float32 result vs float64 reference
TIGHT = 1e-12     # float64 identities

BAYER = ("RGGB", "GRBG", "GBRG", "BGGR")

# A white-preserving CCM (rows sum to 1) of the size typical for phone sensors.
M_WP = np.array([[1.62, -0.45, -0.17],
                 [-0.28, 1.51, -0.23],
                 [0.04, -0.61, 1.57]])


def make_raw(camera_rgb, cfa="RGGB", *, black=64.0, white=4095, neutral=None,
             noise_dn=0.0, rng=None) -> RawFrame:
    """RawFrame whose normalised mosaic samples ``camera_rgb`` (H, W, 3) at the CFA sites."""
    camera_rgb = np.asarray(camera_rgb, dtype=np.float64)
    h, w = camera_rgb.shape[:2]
    idx = cfa_channel_index(cfa, (h, w))
    mosaic = np.take_along_axis(camera_rgb, idx[:, :, None].astype(np.intp), axis=2)[:, :, 0]
    dn = black + mosaic * (white - black)
    if noise_dn:
        dn = dn + rng.normal(0.0, noise_dn, dn.shape)
    dn = np.clip(np.rint(dn), 0, white).astype(np.uint16)
    return RawFrame(dn, cfa, black, white, exposure_s=0.01, conversion_gain_dn_per_e=0.5,
                    as_shot_neutral=neutral)


# --------------------------------------------------------------------------- demosaic

@pytest.mark.parametrize("cfa", BAYER)
@pytest.mark.parametrize("shape", [(32, 48), (31, 45)])
def test_bilinear_matches_colour_demosaicing(cfa, shape):
    # Reference: colour_demosaicing.demosaicing_CFA_Bayer_bilinear (colour-science, float64,
    # scipy.ndimage.convolve with mode="reflect"); borders differ by design, so compare
    # away from a 2-pixel border.
    mosaic = np.random.default_rng(1).uniform(0.0, 1.0, shape).astype(np.float32)
    ours = demosaic_bilinear(mosaic, cfa)
    ref = demosaicing_CFA_Bayer_bilinear(mosaic.astype(np.float64), cfa)
    assert ours.dtype == np.float32 and ours.shape == shape + (3,)
    np.testing.assert_allclose(ours[2:-2, 2:-2], ref[2:-2, 2:-2], rtol=RTOL_F32, atol=1e-7)


@pytest.mark.parametrize("cfa", BAYER + ("mono",))
@pytest.mark.parametrize("shape", [(16, 20), (15, 17)])
def test_flat_grey_mosaic_demosaics_flat(cfa, shape):
    # Law: interpolation with convex weights reproduces a constant, borders included
    # (BORDER_REFLECT_101 keeps the Bayer parity).
    rgb = demosaic(np.full(shape, 0.37, np.float32), cfa)
    np.testing.assert_allclose(rgb, 0.37, rtol=0, atol=1e-6)


def test_demosaic_keeps_measured_samples():
    mosaic = np.random.default_rng(2).uniform(0, 1, (10, 12)).astype(np.float32)
    rgb = demosaic_bilinear(mosaic, "GBRG")
    idx = cfa_channel_index("GBRG", mosaic.shape)
    picked = np.take_along_axis(rgb, idx[:, :, None].astype(np.intp), axis=2)[:, :, 0]
    np.testing.assert_allclose(picked, mosaic, rtol=1e-6)


def test_demosaic_unknown_method_lists_choices():
    with pytest.raises(UnknownNameError, match="bilinear") as info:
        demosaic(np.zeros((4, 4), np.float32), "RGGB", method="ahd")
    assert "ahd" in str(info.value)
    assert isinstance(info.value, ConfigError)
    assert set(DEMOSAIC_METHODS) == {"bilinear", "malvar2004", "directional_ri"}


def test_demosaic_unknown_cfa():
    with pytest.raises(ConfigError, match="RGGB"):
        demosaic(np.zeros((4, 4), np.float32), "RGBW")


# --------------------------------------------------------------------------- stages

def test_srgb_encode_matches_colour():
    # Reference: colour.cctf_encoding(x, "sRGB") (IEC 61966-2-1 inverse EOTF), float64.
    x = np.concatenate([np.linspace(0, 0.01, 1001), np.linspace(0, 1, 4001),
                        [0.0031308, 0.00313, 0.0031316]])
    ours = srgb_encode(x)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, colour.cctf_encoding(x, "sRGB"), rtol=0, atol=1e-6)
    # clipping to [0, 1] first; scalar and array agree; NaN propagates
    np.testing.assert_array_equal(srgb_encode([-0.5, 1.7]), [0.0, 1.0])
    assert float(srgb_encode(0.2)) == ours[1001 + 800]  # linspace(0,1,4001)[800] == 0.2
    assert np.isnan(srgb_encode(np.nan))


def test_to_uint_rounds_and_clips():
    v = to_uint(np.array([-1.0, 0.0, 0.49 / 255, 0.51 / 255, 0.5, 1.0, 2.0, np.nan]), 8)
    assert v.dtype == np.uint8
    assert v.tolist() == [0, 0, 0, 1, 128, 255, 255, 0]
    w = to_uint(np.array([0.5, 1.0]), 16)
    assert w.dtype == np.uint16 and w.tolist() == [32768, 65535]
    with pytest.raises(ConfigError, match="bits"):
        to_uint([0.5], 12)


def test_black_level_normalises_and_keeps_negative_noise():
    dn = np.array([[64, 4095], [2079, 60]], np.uint16)
    raw = RawFrame(dn, "RGGB", 64.0, 4095, exposure_s=0.01, conversion_gain_dn_per_e=0.5)
    out = black_level(raw)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 1.0], [2015 / 4031, -4 / 4031]], rtol=1e-6)
    assert out[1, 1] < 0  # below-black noise is kept, not clipped


def test_wb_gains_from_neutral_is_g_normalised_reciprocal():
    # DNG spec: white-balance gains are the reciprocal of AsShotNeutral.
    np.testing.assert_allclose(wb_gains_from_neutral((0.5, 1.0, 0.7)), [2.0, 1.0, 1 / 0.7],
                               rtol=TIGHT)
    np.testing.assert_allclose(wb_gains_from_neutral((1.0, 2.0, 1.4)), [2.0, 1.0, 1 / 0.7],
                               rtol=TIGHT)
    with pytest.raises(ConfigError, match="neutral"):
        wb_gains_from_neutral((0.5, 0.0, 0.7))


@pytest.mark.parametrize("cfa", BAYER)
def test_gray_world_gains_recover_neutral(cfa):
    # A neutral scene (same luminance in R, G, B over each 2x2 tile) seen through a camera
    # with neutral n: gray world must give gains 1/n, ignoring a clipped highlight.
    neutral = np.array([0.55, 1.0, 0.72])
    rng = np.random.default_rng(3)
    lum = np.kron(rng.uniform(0.1, 0.9, (30, 40)), np.ones((2, 2)))
    mosaic = (lum * neutral[cfa_channel_index(cfa, lum.shape)]).astype(np.float32)
    mosaic[10:30, 20:50] = 1.0  # clipped highlight in all channels
    gains = gray_world_gains(mosaic, cfa)
    np.testing.assert_allclose(gains, 1.0 / neutral, rtol=1e-6)
    # the highlight would bias an unguarded estimate (checks the test can fail)
    naive = gray_world_gains(mosaic, cfa, saturation=2.0)
    assert np.max(np.abs(naive * neutral - 1.0)) > 0.01


def test_gray_world_black_frame_raises():
    with pytest.raises(ConfigError, match="positive"):
        gray_world_gains(np.zeros((8, 8), np.float32), "RGGB")


def test_apply_white_balance_and_highlight_clip():
    mosaic = np.full((4, 4), 0.4, np.float32)
    out = apply_white_balance(mosaic, "GRBG", (2.0, 1.0, 1.5))
    idx = cfa_channel_index("GRBG", (4, 4))
    np.testing.assert_allclose(out, 0.4 * np.array([2.0, 1.0, 1.5])[idx], rtol=1e-6)
    assert mosaic[0, 0] == np.float32(0.4)  # input untouched
    # a fully clipped raw pixel becomes the same level in every channel
    sat = clip_highlights(apply_white_balance(np.ones((4, 4), np.float32), "GRBG",
                                              (2.0, 1.0, 1.5)), (2.0, 1.0, 1.5))
    np.testing.assert_array_equal(sat, 1.0)


def test_apply_ccm_float32_matches_float64():
    rgb = np.random.default_rng(4).uniform(0, 1, (7, 9, 3)).astype(np.float32)
    out = apply_ccm(rgb, M_WP)
    assert out.dtype == np.float32 and out.shape == rgb.shape
    np.testing.assert_allclose(out, np.einsum("ij,hwj->hwi", M_WP, rgb.astype(np.float64)),
                               rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- CCM

def _kkt_fit(cam, tgt, w):
    """Independent reference: the KKT system of min Σ w‖t − M c‖² s.t. M·1 = 1, per row."""
    a = (cam * w[:, None]).T @ cam
    m = np.empty((3, 3))
    for i in range(3):
        kkt = np.zeros((4, 4))
        kkt[:3, :3] = 2 * a
        kkt[:3, 3] = kkt[3, :3] = 1.0
        rhs = np.concatenate([2 * (cam * w[:, None]).T @ tgt[:, i], [1.0]])
        m[i] = np.linalg.solve(kkt, rhs)[:3]
    return m


def test_fit_ccm_recovers_white_preserving_matrix_exactly():
    cam = np.random.default_rng(5).uniform(0.02, 1.0, (24, 3))
    m = fit_ccm(cam, cam @ M_WP.T)
    np.testing.assert_allclose(m, M_WP, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=0, atol=TIGHT)
    # neutral stays neutral
    np.testing.assert_allclose(m @ [0.3, 0.3, 0.3], 0.3, rtol=0, atol=TIGHT)


def test_fit_ccm_with_noise_beats_identity_and_obeys_constraint():
    rng = np.random.default_rng(6)
    cam = rng.uniform(0.02, 1.0, (24, 3))
    tgt = cam @ M_WP.T + rng.normal(0, 0.01, (24, 3))
    m = fit_ccm(cam, tgt)

    def resid(mat):
        return float(np.sum((cam @ mat.T - tgt) ** 2))

    assert resid(m) < resid(np.eye(3))
    # constrained optimum: no worse than the true matrix (which satisfies the constraint)
    assert resid(m) <= resid(M_WP)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=0, atol=TIGHT)
    # agrees with an independent KKT solve, also with weights
    w = rng.uniform(0.5, 2.0, 24)
    np.testing.assert_allclose(fit_ccm(cam, tgt), _kkt_fit(cam, tgt, np.ones(24)), atol=1e-10)
    np.testing.assert_allclose(fit_ccm(cam, tgt, weights=w), _kkt_fit(cam, tgt, w), atol=1e-10)
    # the unconstrained fit is at least as good in the residual and its rows need not sum to 1
    free = fit_ccm(cam, tgt, white_preserving=False)
    assert resid(free) <= resid(m)
    assert np.max(np.abs(free.sum(axis=1) - 1.0)) > 1e-6


def test_fit_ccm_unconstrained_recovers_general_matrix():
    m_true = 1.3 * M_WP  # rows sum to 1.3
    cam = np.random.default_rng(7).uniform(0.02, 1.0, (12, 3))
    np.testing.assert_allclose(fit_ccm(cam, cam @ m_true.T, white_preserving=False), m_true,
                               atol=1e-12)


def test_fit_ccm_degenerate_patches_raise():
    grey = np.outer(np.linspace(0.1, 0.9, 6), [1.0, 1.0, 1.0])
    with pytest.raises(ConfigError, match="rank"):
        fit_ccm(grey, grey)


def test_patch_means_and_bad_box():
    img = np.zeros((10, 10, 3), np.float32)
    img[2:5, 3:7] = (0.1, 0.2, 0.3)
    np.testing.assert_allclose(patch_means(img, [(2, 5, 3, 7)]), [[0.1, 0.2, 0.3]], rtol=1e-6)
    with pytest.raises(ConfigError, match="boxes\\[0\\]"):
        patch_means(img, [(2, 12, 3, 7)])


def _chart(neutral, rng):
    """Raw capture of a 4×6 chart whose white-balanced camera RGB maps to targets via M_WP.

    Physical like a reflective chart: no patch exceeds the white patch in any camera channel.
    """
    cam_wb = rng.uniform(0.05, 0.9, (24, 3))        # camera RGB after white balance
    cam_wb[0] = 0.9                                 # the white patch
    targets = cam_wb @ M_WP.T
    scale = 0.8                                     # white at 0.8 of the ADC range
    size, inset = 12, 3
    img = np.zeros((4 * size, 6 * size, 3))
    boxes = []
    for k in range(24):
        r, c = divmod(k, 6)
        img[r * size:(r + 1) * size, c * size:(c + 1) * size] = cam_wb[k] * neutral * scale
        boxes.append((r * size + inset, (r + 1) * size - inset,
                      c * size + inset, (c + 1) * size - inset))
    raw = make_raw(img, "BGGR", black=256.0, white=65535, neutral=tuple(neutral))
    return raw, boxes, targets


def test_calibrate_ccm_end_to_end():
    neutral = np.array([0.48, 1.0, 0.66])
    raw, boxes, targets = _chart(neutral, np.random.default_rng(8))
    spec = IspSpec(exposure_gain=1.0, tone="linear")
    m = calibrate_ccm(raw, boxes, targets, spec)
    # 16-bit quantisation is the only error source
    np.testing.assert_allclose(m, M_WP, atol=1e-4)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=TIGHT)
    out = process(raw, spec, ccm=m)
    got = patch_means(out.linear, boxes)
    s = np.sum(got * targets) / np.sum(got * got)
    np.testing.assert_allclose(got * s, targets, atol=1e-4)


# --------------------------------------------------------------------------- pipeline

def _grey_patch_raw(neutral, *, cfa="RGGB", rng=None):
    # Uniform grey patch (0.5 of the surround's reflectance ratio) on a grey surround,
    # both neutral, seen by a camera whose response to white is `neutral`.
    rng = rng or np.random.default_rng(9)
    lum = np.full((64, 80), 0.15)
    lum[16:48, 20:60] = 0.35
    return make_raw(lum[:, :, None] * np.asarray(neutral), cfa, neutral=tuple(neutral),
                    noise_dn=2.0, rng=rng), (20, 44, 24, 56)


def test_process_neutral_patch_renders_neutral():
    neutral = (0.5, 1.0, 0.7)
    raw, box = _grey_patch_raw(neutral)
    out = process(raw, IspSpec(ccm="identity"))
    rgb = patch_means(out.linear, [box])[0]
    np.testing.assert_allclose(rgb / rgb.mean(), 1.0, atol=0.01)
    np.testing.assert_allclose(out.wb_gains, [2.0, 1.0, 1 / 0.7], rtol=1e-12)
    assert out.notes == ()
    assert out.linear.dtype == np.float32 and out.srgb.dtype == np.float32
    assert 0.0 <= out.srgb.min() and out.srgb.max() <= 1.0
    # auto brightness: the 99th luminance percentile maps to 1.0
    y = out.linear @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert abs(np.percentile(y, 99.0) - 1.0) < 1e-4
    # without the white balance the patch is clearly not neutral (the test can fail)
    raw_rgb = patch_means(process(raw, IspSpec(ccm="identity", white_balance="none")).linear,
                          [box])[0]
    assert raw_rgb[0] / raw_rgb[1] < 0.6


def test_process_falls_back_to_gray_world_and_records_it():
    raw, box = _grey_patch_raw((0.5, 1.0, 0.7), cfa="GBRG")
    out = process(raw.with_(as_shot_neutral=None), IspSpec(ccm="identity"))
    rgb = patch_means(out.linear, [box])[0]
    np.testing.assert_allclose(rgb / rgb.mean(), 1.0, atol=0.01)
    assert any("gray_world" in n for n in out.notes)


def test_process_fixed_gain_and_saturated_highlight_is_neutral():
    neutral = np.array([0.5, 1.0, 0.7])
    lum = np.full((32, 32), 0.2)
    lum[8:24, 8:24] = 5.0  # far over-exposed: every channel clips at the ADC white
    raw = make_raw(lum[:, :, None] * neutral, "RGGB", neutral=tuple(neutral))
    out = process(raw, IspSpec(ccm="identity", exposure_gain=1.0, tone="linear"))
    hi = out.linear[12:20, 12:20]
    np.testing.assert_allclose(hi, 1.0, rtol=1e-6)  # white, not pink
    assert out.exposure_gain == 1.0


def test_process_mono_skips_colour():
    lum = np.random.default_rng(10).uniform(0.1, 0.8, (20, 24))
    raw = make_raw(lum[:, :, None] * np.ones(3), "mono")
    out = process(raw)  # default spec.ccm="fitted" does not apply to mono
    assert np.array_equal(out.linear[..., 0], out.linear[..., 1])
    assert np.array_equal(out.linear[..., 1], out.linear[..., 2])
    assert any("monochrome" in n for n in out.notes)


def test_process_fitted_ccm_missing_or_conflicting():
    raw, _ = _grey_patch_raw((0.5, 1.0, 0.7))
    with pytest.raises(ConfigError, match="calibrate_ccm"):
        process(raw)
    with pytest.raises(ConfigError, match="fitted"):
        process(raw, IspSpec(ccm="identity"), ccm=np.eye(3))
    out = process(raw, IspSpec(ccm=M_WP.tolist()))
    np.testing.assert_array_equal(out.ccm, M_WP)


# --------------------------------------------------------------------------- output files

def _red_image(spec=None):
    srgb = np.zeros((6, 8, 3), np.float32)
    srgb[..., 0] = 1.0
    return RenderedImage(linear=srgb.copy(), srgb=srgb, wb_gains=np.ones(3), ccm=np.eye(3),
                         exposure_gain=1.0, spec=spec)


@pytest.mark.parametrize("bits,dtype,top", [(8, np.uint8, 255), (16, np.uint16, 65535)])
def test_write_png_channel_order(tmp_path, bits, dtype, top):
    # cv2.imread returns BGR: a red image must come back with only channel 2 set.
    path = write_image(tmp_path / "red.png", _red_image(), bits=bits)
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert back.dtype == dtype and back.shape == (6, 8, 3)
    assert np.all(back[..., 2] == top) and np.all(back[..., :2] == 0)


def test_write_tiff_rgb_and_default_bits_from_spec(tmp_path):
    path = write_image(tmp_path / "red.tiff", _red_image(IspSpec(output_bits=16)))
    back = tifffile.imread(path)  # tifffile returns RGB order
    assert back.dtype == np.uint16
    assert np.all(back[..., 0] == 65535) and np.all(back[..., 1:] == 0)
    assert write_image(tmp_path / "d.png", _red_image()).exists()
    assert cv2.imread(str(tmp_path / "d.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint8


def test_write_image_failure_leaves_no_file(tmp_path, monkeypatch):
    def broken_imwrite(path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"II*\0partial")
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", broken_imwrite)
    with pytest.raises(OSError, match="disk full"):
        write_image(tmp_path / "x.tif", _red_image())
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(isp_pipeline.cv2, "imencode", lambda *a, **k: (False, None))
    (tmp_path / "keep.png").write_bytes(b"old")
    with pytest.raises(OSError):
        write_image(tmp_path / "keep.png", _red_image())
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]
    assert (tmp_path / "keep.png").read_bytes() == b"old"


def test_write_image_unknown_extension(tmp_path):
    with pytest.raises(ConfigError, match=r"\.png") as info:
        write_image(tmp_path / "x.jpg", _red_image())
    assert ".jpg" in str(info.value)
    assert not (tmp_path / "x.jpg").exists()


# --------------------------------------------------------------------------- spec

def test_isp_spec_errors_name_the_field():
    with pytest.raises(ConfigError, match="demosaic") as info:
        IspSpec(demosaic="ahd")
    assert "bilinear" in str(info.value) and "'ahd'" in str(info.value)
    with pytest.raises(ConfigError, match="demosaic"):
        IspSpec.from_dict({"demosaic": "ahd"})
    with pytest.raises(ConfigError, match="auto_bright_percentile") as info:
        IspSpec(auto_bright_percentile=150)
    assert "150" in str(info.value) and "100" in str(info.value)
    with pytest.raises(ConfigError, match="auto_bright_percentile"):
        IspSpec.from_dict({"auto_bright_percentile": 150})
    with pytest.raises(ConfigError, match="exposure_gain"):
        IspSpec(exposure_gain=0)
    with pytest.raises(ConfigError, match="output_bits"):
        IspSpec(output_bits=12)


def test_isp_spec_yaml_and_matrix(tmp_path):
    p = tmp_path / "isp.yaml"
    p.write_text("white_balance: gray_world\nccm: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n"
                 "tone: linear\n", encoding="utf-8")
    spec = IspSpec.from_yaml(p)
    assert spec.white_balance == "gray_world" and spec.tone == "linear"
    assert np.array_equal(np.array(spec.ccm), np.eye(3))
    assert spec.replace(output_bits=16).output_bits == 16
    with pytest.raises(ConfigError, match="ccm.*3×3"):
        IspSpec(ccm=[[1, 0], [0, 1]])
    with pytest.raises(ConfigError, match="ccm.*'fitted'"):
        IspSpec(ccm="fited")
