"""Every CFA layout through camtwin: tiling, demosaic, ISP, characterisation and raw files.

References per test: layout definitions (Bayer 1976; Sony Quad Bayer; OmniVision RGB-IR;
onsemi RCCB, see camtwin.raw.cfa), LibRaw (rawpy) as the independent DNG reader, the
bilinear demosaic for Bayer as the reference of the generic one, and the ColorChecker
reference colours of colour-science for the end-to-end renders.
"""

from __future__ import annotations

import numpy as np
import pytest
import rawpy
import tifffile

import camtwin.isp.pipeline as isp_pipeline
from camtwin.camera import ccm_from_capture, expose, module_scene, render
from camtwin.errors import ConfigError
from camtwin.isp import IspSpec, demosaic, demosaic_bilinear, gray_world_gains, process
from camtwin.isp._cfa import cfa_phases, interpolation_radius, slot_index
from camtwin.isp.demosaic import demosaic_periodic
from camtwin.isp.stages import clear_to_green, subtract_ir
from camtwin.measure.color import colorchecker_delta_e
from camtwin.optics import form_image
from camtwin.raw import CFA_LAYOUTS, RawFrame, cfa_channel_index, load_raw, save_raw, write_dng
from camtwin.raw.dng import XYZ_TO_LINEAR_SRGB, read_raw
from camtwin.sensor.characterize import (camera_characterization, clear_to_green_weights,
                                         clear_to_green_weights_from_responses, ir_leakage)
from camtwin.sensor.qe import rgbir_filter_curves

ALL = tuple(CFA_LAYOUTS)
COLOUR = tuple(c for c in ALL if c != "mono")
BAYER = ("RGGB", "GRBG", "GBRG", "BGGR")
SHAPES = [(16, 24), (15, 17), (9, 11)]


def raw_from_slots(rgb, cfa, *, ir=None, black=64.0, white=4095, neutral=None, sensor=None):
    """RawFrame whose normalised mosaic samples slot values ``rgb`` (H, W, 3); IR pixels get
    ``ir`` (H, W) (default 0)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    h, w = rgb.shape[:2]
    slots = slot_index(cfa, (h, w)).astype(np.intp)
    m = np.take_along_axis(rgb, np.minimum(slots, 2)[:, :, None], axis=2)[:, :, 0]
    if ir is not None:
        m = np.where(slots == 255, ir, m)
    elif np.any(slots == 255):
        m = np.where(slots == 255, 0.0, m)
    dn = np.clip(np.rint(black + m * (white - black)), 0, white).astype(np.uint16)
    return RawFrame(dn, cfa, black, white, exposure_s=0.01, conversion_gain_dn_per_e=0.5,
                    as_shot_neutral=neutral, sensor=sensor)


# --------------------------------------------------------------------------- layouts

@pytest.mark.parametrize("cfa", ALL)
@pytest.mark.parametrize("shape", SHAPES)
def test_channel_index_tiles_the_layout(cfa, shape):
    # Definition: pixel (r, c) carries tile[r mod P_r][c mod P_c].
    lay = CFA_LAYOUTS[cfa]
    idx = cfa_channel_index(cfa, shape)
    assert idx.shape == shape and idx.dtype == np.uint8
    ph, pw = lay.period
    for r in range(shape[0]):
        for c in range(shape[1]):
            assert lay.channels[idx[r, c]] == lay.tile[r % ph][c % pw]


def test_layout_facts():
    # Published layouts: RGB-IR 4×4 has one IR pixel in four (OV2744/AR0237IR), half green;
    # Quad Bayer is Bayer with 2×2 clusters; RCCB has clear in both green positions.
    idx = cfa_channel_index("RGBIR", (4, 4))
    assert np.bincount(idx.ravel(), minlength=4).tolist() == [2, 8, 2, 4]
    quad = cfa_channel_index("QUADBAYER", (4, 4))
    np.testing.assert_array_equal(quad[::2, ::2], cfa_channel_index("RGGB", (2, 2)))
    assert CFA_LAYOUTS["RCCB"].channels == ("R", "C", "B")
    assert [interpolation_radius("RGGB", s) for s in range(3)] == [1, 1, 1]
    assert [interpolation_radius("QUADBAYER", s) for s in range(3)] == [3, 2, 3]
    assert [interpolation_radius("RCCB", s) for s in range(3)] == [1, 1, 1]
    assert [interpolation_radius("RGBIR", s) for s in range(3)] == [2, 1, 2]
    assert interpolation_radius("RGBIR", 255) == 1


# --------------------------------------------------------------------------- demosaic

@pytest.mark.parametrize("cfa", ALL)
@pytest.mark.parametrize("shape", SHAPES)
def test_flat_grey_demosaics_flat_in_every_channel(cfa, shape):
    # Law: convex interpolation weights reproduce a constant, borders included.
    rgb = demosaic(np.full(shape, 0.37, np.float32), cfa)
    assert rgb.shape == shape + (3,) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb, 0.37, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cfa", ALL)
def test_demosaic_keeps_samples_and_stays_in_range(cfa):
    m = np.random.default_rng(2).uniform(0.1, 0.9, (20, 28)).astype(np.float32)
    rgb = demosaic(m, cfa)
    slots = slot_index(cfa, m.shape)
    for s in range(3):
        sel = slots == s if cfa != "mono" else np.ones(m.shape, bool)
        np.testing.assert_array_equal(rgb[:, :, s][sel], m[sel])
    assert rgb.min() >= m.min() - 1e-6 and rgb.max() <= m.max() + 1e-6


@pytest.mark.parametrize("cfa", BAYER)
def test_generic_demosaic_reduces_to_bilinear_on_bayer(cfa):
    # Reference: the classic Bayer bilinear kernels (Losson et al. 2010); normalised
    # convolution with the radius-1 tent is the same interpolator away from the border.
    m = np.random.default_rng(3).uniform(0, 1, (24, 30)).astype(np.float32)
    np.testing.assert_allclose(demosaic_periodic(m, cfa)[1:-1, 1:-1],
                               demosaic_bilinear(m, cfa)[1:-1, 1:-1], rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("cfa", ["QUADBAYER", "RGBIR"])
def test_demosaic_of_a_ramp_is_not_shifted(cfa):
    # Law: normalised convolution reproduces a linear ramp to within (centroid offset ×
    # slope); the radius is chosen so the offset is < 0.25 px. A pixel-swap "remosaic" of
    # Quad Bayer would shift samples by 1 px (error = slope = 0.01 here).
    y, x = np.mgrid[0:48, 0:48].astype(np.float32)
    ramp = 0.2 + 0.01 * x
    rgb = demosaic(ramp, cfa)
    err = np.abs(rgb[6:-6, 6:-6] - ramp[6:-6, 6:-6, None]).max()
    assert err <= 0.25 * 0.01 + 1e-6


# --------------------------------------------------------------------------- stages

@pytest.mark.parametrize("cfa", COLOUR)
def test_gray_world_recovers_neutral_for_every_layout(cfa):
    neutral = np.array([0.55, 1.0, 0.72])
    lum = np.random.default_rng(3).uniform(0.1, 0.9, (32, 40))
    slots = slot_index(cfa, lum.shape)
    m = np.where(slots == 255, 0.5, lum * neutral[np.minimum(slots, 2)]).astype(np.float32)
    gains = gray_world_gains(m, cfa)
    # the scene is not neutral per pixel, so compare with the per-slot means
    means = np.array([m[slots == s].mean(dtype=np.float64) for s in range(3)])
    np.testing.assert_allclose(gains, means[1] / means, rtol=1e-6)


def test_subtract_ir_removes_a_known_leakage_exactly():
    # Synthetic RGB-IR mosaic: visible signal v_c plus k_c × a smooth NIR field n(x); the
    # IR pixels see n(x). With a linear n the interpolated IR is exact, so v is recovered.
    k = np.array([1.2, 0.9, 0.95])
    h, w = 24, 32
    y, x = np.mgrid[0:h, 0:w]
    nir = (0.1 + 0.004 * x + 0.002 * y).astype(np.float32)
    vis = np.array([0.3, 0.5, 0.2])
    slots = slot_index("RGBIR", (h, w))
    m = np.where(slots == 255, nir, vis[np.minimum(slots, 2)] + k[np.minimum(slots, 2)] * nir)
    out = subtract_ir(m.astype(np.float32), "RGBIR", k)
    colour_px = slots != 255
    inner = np.zeros((h, w), bool)
    inner[1:-1, 1:-1] = True  # the border reflection bends the ramp
    sel = colour_px & inner
    np.testing.assert_allclose(out[sel], vis[slots[sel]], atol=1e-5)
    np.testing.assert_array_equal(out[~colour_px], m[~colour_px].astype(np.float32))
    with pytest.raises(ConfigError, match="no IR pixels"):
        subtract_ir(m, "RGGB", k)


def test_clear_to_green_inverts_the_clear_model():
    # If C = w_R R + w_G G + w_B B exactly, G comes back exactly and a neutral stays neutral.
    w = (0.3, 0.45, 0.25)
    rgb = np.random.default_rng(4).uniform(0, 1, (8, 9, 3)).astype(np.float32)
    rcb = rgb.copy()
    rcb[:, :, 1] = w[0] * rgb[:, :, 0] + w[1] * rgb[:, :, 1] + w[2] * rgb[:, :, 2]
    np.testing.assert_allclose(clear_to_green(rcb, w), rgb, atol=1e-6)
    np.testing.assert_allclose(clear_to_green(np.full((2, 2, 3), 0.4, np.float32), w), 0.4,
                               rtol=1e-6)


def test_clear_to_green_weights_from_exact_responses():
    # Responses with C = 0.2 R + 0.5 G + 0.3 B (raw units) and white (1, 2, 0.5) for R, G, B:
    # white-balanced weights are x_c · c_white / C_white, renormalised.
    rng = np.random.default_rng(5)
    r, g, b = rng.uniform(0.1, 1, (3, 25))
    r[0], g[0], b[0] = 1.0, 2.0, 0.5
    c = 0.2 * r + 0.5 * g + 0.3 * b
    w = clear_to_green_weights_from_responses(np.stack([r, c, b], axis=1), g)
    c_white = 0.2 + 1.0 + 0.15
    np.testing.assert_allclose(w, [0.2 / c_white, 1.0 / c_white, 0.15 / c_white], rtol=1e-9)


# --------------------------------------------------------------------------- process()

@pytest.mark.parametrize("cfa", ALL)
@pytest.mark.parametrize("wb", ["illuminant", "gray_world", "none"])
def test_process_runs_and_is_finite_for_every_layout(cfa, wb):
    rng = np.random.default_rng(6)
    rgb = rng.uniform(0.05, 0.6, (33, 47, 3))
    raw = raw_from_slots(rgb, cfa, ir=rng.uniform(0, 0.05, (33, 47)),
                         neutral=(0.6, 1.0, 0.8))
    out = process(raw, IspSpec(ccm="identity", white_balance=wb))
    assert out.linear.shape == (33, 47, 3) and np.all(np.isfinite(out.linear))
    assert np.all(np.isfinite(out.srgb)) and out.srgb.min() >= 0 and out.srgb.max() <= 1


@pytest.mark.parametrize("cfa", COLOUR)
def test_process_neutral_grey_renders_neutral_for_every_layout(cfa):
    # A grey whose camera response is the as-shot neutral must render grey (R = G = B) for
    # every layout: RCCB's C→G keeps neutrals, RGB-IR without NIR subtracts nothing.
    neutral = np.array([0.6, 1.0, 0.8])
    rgb = np.broadcast_to(0.3 * neutral, (24, 32, 3))
    raw = raw_from_slots(rgb, cfa, neutral=tuple(neutral))
    out = process(raw, IspSpec(ccm="identity", exposure_gain=1.0))
    px = out.linear[4:-4, 4:-4].reshape(-1, 3)
    np.testing.assert_allclose(px, px[:, 1:2].repeat(3, axis=1), rtol=2e-3)


def test_process_notes_say_what_was_done():
    raw = raw_from_slots(np.full((8, 8, 3), 0.3), "RCCB", neutral=(1, 1, 1))
    assert any(n.startswith("RCCB: G = (C -") and "generic" in n
               for n in process(raw, IspSpec(ccm="identity")).notes)
    raw = raw_from_slots(np.full((8, 8, 3), 0.3), "RGBIR", neutral=(1, 1, 1))
    assert any(n.startswith("RGB-IR: subtracted IR") for n in
               process(raw, IspSpec(ccm="identity")).notes)


@pytest.fixture(scope="module")
def tiny_module(small_module):
    m = small_module
    return m.replace(sensor={"width_px": 240, "height_px": 180},
                     lens={"focal_length_mm": m.lens.focal_length_mm * 240 / 480})


@pytest.mark.parametrize("cfa", COLOUR)
def test_colorchecker_renders_well_for_every_layout(tiny_module, cfa):
    # End to end (scene → optics → sensor → ISP), CCM fitted on one capture and evaluated on
    # another: mean CIEDE2000 vs colour-science's ColorChecker reference < 4.5, and the
    # fitted CCM beats no colour correction.
    m = tiny_module.replace(sensor={"cfa": cfa})
    oi = form_image(module_scene(m, "colorchecker", illuminance_lux=500.0), m.lens)
    ccm = ccm_from_capture(m, expose(m, oi, exposure_s=None, rng=1))
    raw = expose(m, oi, exposure_s=None, rng=2)
    rendered = render(m, raw, ccm=ccm)
    assert np.all(np.isfinite(rendered.linear))
    patches = raw.metadata["layout_px"]["patches"]
    de = colorchecker_delta_e(rendered.linear, patches)["mean"]
    de_id = colorchecker_delta_e(render(m.replace(isp={"ccm": "identity"}), raw).linear,
                                 patches)["mean"]
    assert de < 4.5 and de < de_id, (de, de_id)


def test_rgbir_ir_subtraction_restores_colour_under_nir_rich_light(tiny_module, monkeypatch):
    # RGB-IR behind a 650/850 nm dual-band filter, tungsten light (CIE A, strong NIR): the
    # NIR reaching R, G, B must be subtracted, or no 3×3 CCM can undo the desaturation.
    m = tiny_module.replace(sensor={"cfa": "RGBIR",
                                    "qe": {"filters": rgbir_filter_curves().model_dump()}},
                            lens={"ir_cut": None})
    oi = form_image(module_scene(m, "colorchecker", illuminance_lux=500.0, illuminant="A"),
                    m.lens)
    raw1, raw2 = (expose(m, oi, exposure_s=None, rng=s) for s in (1, 2))
    patches = raw2.metadata["layout_px"]["patches"]
    de = colorchecker_delta_e(render(m, raw2, ccm=ccm_from_capture(m, raw1)).linear,
                              patches)["mean"]
    monkeypatch.setattr(isp_pipeline, "subtract_ir", lambda mosaic, cfa, k: mosaic)
    de_raw = colorchecker_delta_e(render(m, raw2, ccm=ccm_from_capture(m, raw1)).linear,
                                  patches)["mean"]
    assert de < 5.0 and de_raw > 2 * de, (de, de_raw)


# --------------------------------------------------------------------------- characterisation

@pytest.mark.parametrize("cfa", ALL)
def test_characterization_for_every_layout(small_module, cfa):
    s = small_module.sensor.replace(cfa=cfa)
    neutral, m = camera_characterization(s, small_module.lens, "D65")
    if cfa == "mono":
        assert neutral is None and m is None
        return
    assert len(neutral) == 3 and neutral[1] == 1.0 and min(neutral) > 0
    # D65 white (Y = 1) maps to a neutral whose largest entry is 1 (DNG ColorMatrix)
    white = np.linalg.solve(XYZ_TO_LINEAR_SRGB, np.ones(3))
    assert m.shape == (3, 3) and np.max(m @ white) == pytest.approx(1.0, abs=1e-3)
    if cfa == "RCCB":  # the clear channel collects more than R or B
        assert neutral[0] < 0.5 and neutral[2] < 0.5


def test_ir_leakage_and_clear_weights_from_spectra(small_module):
    k = ir_leakage(small_module.sensor.replace(cfa="RGBIR"))
    # pigments are about as transparent as the IR filter beyond 800 nm; R also passes
    # 700–800 nm, so its leakage is the largest
    assert all(0.7 < x < 1.5 for x in k) and k[0] > k[1]
    w = clear_to_green_weights(small_module.sensor.replace(cfa="RCCB"))
    assert sum(w) == pytest.approx(1.0) and all(x > 0.1 for x in w)
    with pytest.raises(ConfigError, match="RGB-IR"):
        ir_leakage(small_module.sensor)


# --------------------------------------------------------------------------- raw files

def random_frame(cfa, shape=(64, 96), seed=7):
    rng = np.random.default_rng(seed)
    return RawFrame(dn=rng.integers(0, 4096, shape, dtype=np.uint16), cfa=cfa,
                    black_level_dn=64.0, white_level_dn=4095, exposure_s=0.01,
                    conversion_gain_dn_per_e=0.5, as_shot_neutral=(0.4, 1.0, 0.35),
                    xyz_to_camera=np.array([[0.45, 0.05, -0.02], [0.55, 0.85, 0.6],
                                            [-0.05, 0.1, 0.55]]),
                    mean_electrons=rng.random(shape, dtype=np.float32))


@pytest.mark.parametrize("shape", [(64, 96), (65, 97)])
def test_rccb_dng_round_trip_in_libraw(tmp_path, shape):
    raw = random_frame("RCCB", shape)
    path = write_dng(tmp_path / "rccb.dng", raw)
    with tifffile.TiffFile(path) as tif:
        tags = {t.code: t.value for t in tif.pages.first.tags}
    assert tags[33422] == bytes([0, 6, 6, 2]) and tags[50710] == bytes([0, 6, 2])
    with rawpy.imread(str(path)) as rp:  # independent reader
        assert np.array_equal(rp.raw_image_visible, raw.dn)
        assert rp.num_colors == 3
        colours = rp.raw_colors_visible[:2, :2]
        assert colours[0, 1] != colours[0, 0] and colours[0, 1] != colours[1, 1]
    back = read_raw(path)
    assert back.cfa == "RCCB" and np.array_equal(back.dn, raw.dn)
    np.testing.assert_allclose(back.xyz_to_camera, raw.xyz_to_camera, rtol=1e-8)
    np.testing.assert_allclose(back.as_shot_neutral, raw.as_shot_neutral, rtol=1e-6)


@pytest.mark.parametrize("target", [(0.6, 0.2, 0.1), (0.1, 0.5, 0.2), (0.1, 0.2, 0.6)])
def test_libraw_renders_rccb_dng_colours(tmp_path, target):
    # LibRaw understands the RCCB encoding: a patch whose (R, C, B) response is
    # ColorMatrix1 @ XYZ(target) renders as the target linear sRGB colour (up to scale).
    m = np.array([[0.45, 0.05, -0.02], [0.55, 0.85, 0.60], [-0.05, 0.10, 0.55]])
    xyz_white = np.linalg.solve(XYZ_TO_LINEAR_SRGB, np.ones(3))
    m = m / (m @ xyz_white).max()
    neutral = m @ xyz_white / (m @ xyz_white)[1]
    cam = m @ np.linalg.solve(XYZ_TO_LINEAR_SRGB, np.array(target))
    idx = cfa_channel_index("RCCB", (64, 96))
    raw = RawFrame((64 + 3000 * cam[idx]).astype(np.uint16), "RCCB", 64.0, 4095, 0.01, 0.5,
                   as_shot_neutral=tuple(neutral), xyz_to_camera=m)
    path = write_dng(tmp_path / "patch.dng", raw)
    with rawpy.imread(str(path)) as rp:
        rgb = rp.postprocess(no_auto_bright=True, use_camera_wb=True, gamma=(1, 1),
                             output_bps=16, output_color=rawpy.ColorSpace.sRGB, user_flip=0)
    med = np.median(rgb[8:-8, 8:-8].reshape(-1, 3), axis=0)
    np.testing.assert_allclose(med / med.sum(), np.array(target) / sum(target), atol=0.01)


@pytest.mark.parametrize("cfa, reason", [("QUADBAYER", "LibRaw"), ("RGBIR", "infrared")])
def test_dng_refuses_layouts_libraw_cannot_read(tmp_path, cfa, reason):
    with pytest.raises(ConfigError, match=rf"{cfa}.*{reason}.*\.tif or \.npz"):
        save_raw(tmp_path / "f.dng", random_frame(cfa))
    assert list(tmp_path.iterdir()) == []


def test_libraw_misreads_a_4x4_cfa_pattern(tmp_path):
    # Why Quad Bayer is refused: a valid DNG with CFARepeatPatternDim (4, 4) is read
    # bit-exact, but LibRaw folds the pattern into its 8-row × 2-column colour map, so the
    # colours it assigns are not the Quad Bayer layout. If a future LibRaw gets this right,
    # this test fails and write_dng can accept QUADBAYER.
    dn = np.random.default_rng(8).integers(0, 4096, (32, 32), dtype=np.uint16)
    quad = tuple(int(i) for i in cfa_channel_index("QUADBAYER", (4, 4)).ravel())
    tags = [(50706, 1, 4, (1, 4, 0, 0)), (50708, 2, 0, "quad"), (33421, 3, 2, (4, 4)),
            (33422, 1, 16, quad), (50710, 1, 3, (0, 1, 2)), (50711, 3, 1, 1),
            (50717, 4, 1, 4095)]
    path = tmp_path / "quad.dng"
    tifffile.imwrite(path, dn, photometric="cfa", subfiletype=0, metadata=None, extratags=tags)
    with rawpy.imread(str(path)) as rp:
        assert np.array_equal(rp.raw_image_visible, dn)
        desc = rp.color_desc.decode()
        seen = np.array([["RGBG".index(desc[i]) % 3 if desc[i] != "G" else 1 for i in row]
                         for row in rp.raw_colors_visible[:4, :4]])
    assert not np.array_equal(seen, cfa_channel_index("QUADBAYER", (4, 4)))


@pytest.mark.parametrize("cfa", ["QUADBAYER", "RGBIR", "RCCB"])
@pytest.mark.parametrize("ext", [".tif", ".npz"])
def test_tiff_and_npz_round_trip_new_layouts(tmp_path, cfa, ext):
    raw = random_frame(cfa, (37, 53))
    back = load_raw(save_raw(tmp_path / f"f{ext}", raw))
    assert back.cfa == cfa and np.array_equal(back.dn, raw.dn)
    assert np.array_equal(back.mean_electrons, raw.mean_electrons)


def test_cfa_phases_cover_the_tile():
    # every non-IR position of the tile appears exactly once
    for cfa in ALL:
        ph, pw = CFA_LAYOUTS[cfa].period
        pos = {(r, c) for r, c, _ in cfa_phases(cfa)}
        n_ir = sum(ch == "IR" for row in CFA_LAYOUTS[cfa].tile for ch in row)
        assert len(pos) == len(cfa_phases(cfa)) == ph * pw - n_ir
