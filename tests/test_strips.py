"""Row-strip capture (camtwin.strips) against the whole-frame capture it replaces at scale.

Reference: ``camtwin.camera.shoot(...).raw`` — the streamed whole-frame path, itself tested
against the spectral-cube path in test_streamed_capture.py. The strip path must give

* the same electron means up to the truncation of the PSF's tails: each strip's FFT blur,
  like the whole frame's, sees a reflected continuation beyond its margin of 6 Airy radii
  (the Airy pattern keeps ≈ 2 % of its energy beyond that), so pixels differ by a few
  10⁻³ of the frame maximum (measured ≤ 6e-3 on these charts; TAIL). On a uniform scene,
  where the blur is exact, they are equal to the float32 round-off of FFTs of different
  sizes (FLOAT);
* the same DN for the same seed where the means are equal: the noise draws are keyed on
  the sensor's pixel and row index and the fixed-pattern maps are drawn strip after strip
  from the same generators; elsewhere the DN differ by no more than K·Δμ + 2 (the same
  uniform draws through a Poisson quantile of a slightly different mean);
* the same blooming (one whole-frame bloom across strip boundaries).
"""

from __future__ import annotations

import numpy as np
import pytest

import camtwin
from camtwin.camera import module_scene, shoot
from camtwin.crop import crop_module
from camtwin.sensor.fixed_pattern import FixedPatternRows, fixed_pattern
from camtwin.strips import capture_strips, strip_bounds, strip_supported
from test_streamed_capture import VARIANTS as _OPTICS_VARIANTS

TAIL = 1e-2
#: float32 FFTs of different sizes on a uniform plane (measured ≤ 6e-5)
FLOAT = 2e-4

#: every optics feature of the streamed-capture tests (fisheye: no off-axis windows, so not
#: striped) plus the sensor features the strips must key per sensor row and pixel
VARIANTS = {k: v for k, v in _OPTICS_VARIANTS.items() if k != "fisheye"} | {
    "global_shutter": {"sensor": {"shutter": {"type": "global", "pls": 1e-3,
                                              "storage_dark_current_e_per_s": 50.0}}},
    "fixed_pattern": {"sensor": {"noise": {"prnu_fraction": 0.02, "dsnu_offset_e": 3.0,
                                           "row_fpn_e": 1.0, "column_fpn_e": 1.0,
                                           "dark_current_nonuniformity": 0.3,
                                           "hot_pixel_fraction": 1e-3, "dead_pixel_fraction": 1e-3,
                                           "rtn_pixel_fraction": 1e-3, "rtn_amplitude_e": 4.0}}},
}


@pytest.fixture(scope="module")
def small():
    return crop_module(camtwin.load_module("default"), 96, 80)


def _compare(mod, chart, strip_rows=16, lux=500.0, exposure_s=None, band_group_nm=0,
             tol=TAIL):
    scene = module_scene(mod, chart, illuminance_lux=lux)
    ref = shoot(mod, scene, rng=7, exposure_s=exposure_s,
                band_group_nm=None if band_group_nm == 0 else band_group_nm).raw
    raw = capture_strips(mod, scene, rng=7, strip_rows=strip_rows, exposure_s=exposure_s,
                         band_group_nm=band_group_nm)
    assert raw.dn.shape == ref.dn.shape and raw.dn.dtype == np.uint16
    assert raw.exposure_s == pytest.approx(ref.exposure_s, rel=tol)
    me, mr = raw.mean_electrons, ref.mean_electrons
    dmu = np.abs(me - mr)
    assert float(dmu.max()) <= tol * float(np.abs(mr).max())
    k = mod.sensor.system_gain_dn_per_e
    ddn = np.abs(raw.dn.astype(float) - ref.dn.astype(float))
    assert np.all(ddn <= k * dmu + 2)
    # a DN rounding flips with probability ≈ K·Δμ: where the means agree, so do the DN
    assert np.mean(ddn > 0) <= 2 * k * float(dmu.mean()) + 1e-3
    assert raw.metadata["layout_px"] == ref.metadata["layout_px"]
    return raw, ref


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_strips_equal_whole_frame(small, name):
    mod = small.replace(**VARIANTS[name]) if VARIANTS[name] else small
    _compare(mod, "slanted_edge" if name != "global_shutter" else "colorchecker")


@pytest.mark.parametrize("name", ["fixed_pattern", "global_shutter"])
def test_strips_exact_on_uniform_scene(small, name):
    """No PSF tails to truncate: the strips give the whole frame's means and DN."""
    _compare(small.replace(**VARIANTS[name]), "uniform", strip_rows=8, tol=FLOAT,
             exposure_s=0.01)


def test_strips_with_band_groups_equal_whole_frame(small):
    """Band groups take their effective wavelengths from the whole scene's spectrum."""
    mod = small.replace(**VARIANTS["field_psfs"])
    _compare(mod, "colorchecker", band_group_nm=None)


def test_strips_bloom_across_boundaries(small):
    """An overexposed chart (blooming on) blooms as one frame: DN as the whole frame."""
    mod = small.replace(sensor={"noise": {"blooming": True, "antiblooming_drain": 0.5}})
    raw, ref = _compare(mod, "slanted_edge", strip_rows=8, exposure_s=0.5)
    fw_dn = mod.sensor.effective_full_well_e * mod.sensor.system_gain_dn_per_e
    assert np.mean(ref.dn > 0.9 * fw_dn) > 0.05  # it really saturates


def test_fixed_pattern_rows_stack_to_whole_frame(small):
    mod = small.replace(**VARIANTS["fixed_pattern"])
    s = mod.sensor
    whole = fixed_pattern(s)
    rows = FixedPatternRows(s.noise, s.height_px, s.width_px)
    parts = [rows.take(r1 - r0) for r0, r1 in strip_bounds(s.height_px, 24)]
    for name in ("prnu_gain", "dark_scale", "offset_e", "row_offset_e", "dead", "rtn"):
        got = np.concatenate([getattr(p, name) for p in parts])
        np.testing.assert_array_equal(got, getattr(whole, name), err_msg=name)
    np.testing.assert_array_equal(parts[-1].column_offset_e, whole.column_offset_e)
    with pytest.raises(camtwin.ConfigError, match="n_rows"):
        rows.take(1)


def test_strip_validation(small):
    scene = module_scene(small, "uniform")
    with pytest.raises(camtwin.ConfigError, match="strip_rows"):
        capture_strips(small, scene, rng=1, strip_rows=3)
    ccd = small.replace(sensor={"shutter": {"type": "ccd"}, "noise": {
        "row_fpn_e": 0.0, "column_fpn_e": 0.0, "row_noise_e": 0.0}})
    assert "CCD" in strip_supported(ccd)
    with pytest.raises(camtwin.ConfigError, match="strips"):
        capture_strips(ccd, module_scene(ccd, "uniform"), rng=1)


def test_shoot_strips_image_and_summary_match_shoot(small):
    """End to end: the strip image equals the whole-frame rendering of the strip raw, and
    the ColorChecker ΔE00 from the strip's patch means equals ΔE00 of process().linear."""
    from camtwin.isp import process
    from camtwin.isp.stages import to_uint
    from camtwin.measure.summary import shot_summary
    from camtwin.strips import shoot_strips
    from camtwin.camera import Shot, calibration_module, module_ccm

    mod = small.replace(isp={"lens_shading": "lens", "denoise": "bilateral", "sharpen": 0.5},
                        lens={"shading": {"vignetting_percent": 30.0}})
    scene = module_scene(mod, "colorchecker")
    st = shoot_strips(mod, scene, rng=3, strip_rows=16)
    ccm = module_ccm(calibration_module(mod))
    ren = process(st.raw, mod.isp, ccm=ccm, lens=mod.lens, sensor=mod.sensor)
    assert np.abs(st.image.astype(int) - to_uint(ren.srgb, 8).astype(int)).max() <= 1
    whole = shot_summary(Shot(None, st.raw, ren))
    strip = shot_summary(st)
    assert strip["delta_e00_mean"] == pytest.approx(whole["delta_e00_mean"], rel=1e-6)
    assert strip["grey_snr_db"] == pytest.approx(whole["grey_snr_db"])


def test_a_scene_built_by_the_strips_is_dropped_after_the_optics(small, tmp_path):
    """A scene given as a function is built by the strips and freed once the optics are
    done: the sensor and ISP stages of a 200 MP capture of a photo ran with its 2.4 GB of
    reflectance weights (`camtwin capture`, which passes the function: 5.2 → 3.7 GiB
    peak). Checked by a weak reference to the photo scene's weights at the first progress
    call of each stage; the raw equals that of the same scene passed as an object (which
    the caller still holds)."""
    import gc
    import weakref

    from PIL import Image

    from camtwin.strips import shoot_strips

    photo = tmp_path / "photo.png"
    rgb = np.random.default_rng(4).integers(0, 256, (60, 90, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(photo)
    built, alive_at = [], {}

    def build():
        sc = module_scene(small, photo, illuminance_lux=300.0)
        built.append(weakref.ref(sc.reflectance.weights))
        return sc

    def progress(stage, done, total):
        if stage not in alive_at:
            gc.collect()
            alive_at[stage] = built[0]() is not None

    st = shoot_strips(small, build, rng=3, strip_rows=16, progress=progress)
    assert alive_at["optics"] and not alive_at["sensor"] and not alive_at["isp"]
    ref = capture_strips(small, module_scene(small, photo, illuminance_lux=300.0), rng=3,
                         strip_rows=16)
    np.testing.assert_array_equal(st.raw.dn, ref.dn)
    assert st.raw.metadata == ref.metadata and st.raw.illuminant == ref.illuminant


@pytest.mark.parametrize("name", ["distortion", "field_psfs", "diffraction"])
def test_scene_rows_the_strips_have_passed_are_given_back_unread(tmp_path, monkeypatch, name):
    """``release_scene``: the rows of a scene built by the strips that no later strip reads
    (each strip's margin, :func:`camtwin.camera.window_margin`) go back to the system as
    the strips move down — read after that they would be 0. The raw equals, DN for DN,
    that of the same photo passed as an object (nothing released), with the lens's
    geometry moving points across strips; pages were released (a 1536-wide frame: 6 KiB
    per row of a weights plane); the scene the caller still holds is never released."""
    from PIL import Image

    import camtwin.memory as mem
    from camtwin.strips import shoot_strips

    mod = crop_module(camtwin.load_module("default"), 1536, 96)
    ov = VARIANTS[name]
    mod = mod.replace(**ov) if ov else mod
    photo = tmp_path / "photo.png"
    rgb = np.random.default_rng(5).integers(0, 256, (40, 600, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(photo)
    released = []
    real = mem.release_pages
    monkeypatch.setattr(mem, "release_pages", lambda a: released.append(real(a)) or 0)

    def build():
        return module_scene(mod, photo, illuminance_lux=300.0)

    st = shoot_strips(mod, build, rng=3, strip_rows=16, release_scene=True)
    assert sum(released) > 0
    kept = build()
    ref = capture_strips(mod, kept, rng=3, strip_rows=16)
    np.testing.assert_array_equal(st.raw.dn, ref.dn)
    np.testing.assert_array_equal(st.raw.mean_electrons, ref.mean_electrons)
    released.clear()
    capture_strips(mod, lambda: kept, rng=3, strip_rows=16, release_scene=True)
    assert not released             # (the caller holds it: nothing given back)
    np.testing.assert_array_equal(kept.reflectance.weights, build().reflectance.weights)


def test_cli_capture_takes_strips_above_threshold(tmp_path, monkeypatch):
    """``camtwin capture`` shoots sensors above STRIP_ABOVE_PX in strips: same report
    (ΔE00, grey SNR, stage times), an image of the sensor's size, close to the whole-frame
    capture (the optics' PSF-tail difference, module docstring)."""
    import json

    import cv2
    from typer.testing import CliRunner

    import camtwin.strips as strips
    from camtwin.cli import app

    def run(name):
        out = tmp_path / f"{name}.png"
        res = CliRunner().invoke(app, ["capture", "--scene", "colorchecker", "--crop", "160,120",
                                       "--out", str(out), "--json", "--seed", "5"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout), cv2.imread(str(out))

    whole, img_w = run("whole")
    monkeypatch.setattr(strips, "STRIP_ABOVE_PX", 10_000)
    monkeypatch.setattr(strips, "default_strip_rows", lambda module: 32)  # 4 strips
    strip, img_s = run("strips")
    assert img_s.shape == img_w.shape == (120, 160, 3)
    assert {"optics", "sensor", "isp"} <= set(strip["stage_s"])
    assert strip["delta_e00_mean"] == pytest.approx(whole["delta_e00_mean"], abs=0.3)
    assert strip["grey_snr_db"] == pytest.approx(whole["grey_snr_db"], abs=0.3)
    assert np.abs(img_s.astype(int) - img_w.astype(int)).mean() < 2.0


def test_strips_bloom_lists_are_checked_as_they_grow(small, monkeypatch):
    """The one-group path's lists grow with the bloom (a clipped 200 MP photo: 1.69 GiB
    of work space where the bound said 10.2 GiB, RESULTS.md "Capture at real size", run
    6): the strips check the part allocated before
    it runs (``work_bytes(guarded=True)``) and pass the rest of the budget to the kernel
    (``max_work_bytes``), which stops when its lists would outgrow it. An over-exposed
    ColorChecker, the floor taken as nothing: a budget 1 KiB above the memory in use
    and the charge frame (which leaves the kernel less than its cells) is refused with
    one line; 64 MB above it, the capture runs and its DN are those without a budget."""
    import camtwin.sensor._bloom as bloom_mod
    from camtwin.memory import MemoryBudgetError, using_budget

    mod = small.replace(sensor={"noise": {"blooming": True}})
    want = capture_strips(mod, module_scene(mod, "colorchecker", illuminance_lux=500.0),
                          rng=1, strip_rows=16, exposure_s=0.8).dn
    monkeypatch.setattr("camtwin.memory.current_rss_bytes", lambda: 10 ** 9)  # (steady)
    asked = []
    monkeypatch.setattr(bloom_mod, "work_bytes",
                        lambda *a, **k: asked.append((a[0], k.get("guarded"))) or 1.0)
    scene = module_scene(mod, "colorchecker", illuminance_lux=500.0)
    h, w = mod.sensor.height_px, mod.sensor.width_px
    with using_budget(10 ** 9 + 4 * h * w + 1024), pytest.raises(MemoryBudgetError) as exc:
        capture_strips(mod, scene, rng=1, strip_rows=16, exposure_s=0.8)
    n_over, guarded = asked[-1]
    assert guarded is True
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(
        f"blooming {n_over} pixels above full well in {mod.name} needs more than the ")
    with using_budget(10 ** 9 + 64 * 2 ** 20):
        got = capture_strips(mod, scene, rng=1, strip_rows=16, exposure_s=0.8).dn
    np.testing.assert_array_equal(got, want)


def test_clipped_fraction_is_counted_by_blocks_of_rows():
    """``RawFrame.clipped_fraction`` counts by blocks of rows (no mask of the frame): the
    same as the mean of the mask, on a frame of several blocks and a last partial one."""
    from camtwin.raw import RawFrame

    rng = np.random.default_rng(3)
    dn = rng.integers(3900, 4096, (1901, 5003)).astype(np.uint16)
    raw = RawFrame(dn=dn, cfa="RGGB", black_level_dn=64.0, white_level_dn=4095,
                   exposure_s=0.01, conversion_gain_dn_per_e=1.0)
    assert raw.clipped_fraction() == float(np.mean(dn >= 4095))
    assert 0 < raw.clipped_fraction() < 0.01


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_streamed_png_decodes_exactly(tmp_path, dtype, monkeypatch):
    """The row-block PNG writer (large images) against two independent decoders."""
    import cv2
    from PIL import Image

    from camtwin.isp import pipeline

    img = (np.random.default_rng(1).random((301, 203, 3)) * np.iinfo(dtype).max).astype(dtype)
    monkeypatch.setattr(pipeline, "STREAM_PNG_PX", 100)
    path = pipeline.write_rgb(tmp_path / "x.png", img)
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, ::-1]
    np.testing.assert_array_equal(back, img)
    if dtype == np.uint8:
        np.testing.assert_array_equal(np.asarray(Image.open(path)), img)


def test_window_lens_shading_uses_true_field_position():
    """A corner window of a vignetting lens is flat after the ISP's lens-shading correction
    only if the correction is the gain of the corner, not of a centred sensor."""
    from camtwin.crop import window_module

    full = crop_module(camtwin.load_module("default"), 640, 480).replace(
        lens={"shading": {"vignetting_percent": 40.0}},
        isp={"lens_shading": "lens", "exposure_gain": 1.0, "ccm": "identity"})
    scene = module_scene(full, "uniform", illuminance_lux=2000)
    _, win = window_module(full, 0, 0, 128, 96)
    lin = shoot(full, scene, rng=2, window=win, exposure_s=0.01).rendered.linear[..., 1]
    left, right = float(lin[:, 8:40].mean()), float(lin[:, -40:-8].mean())
    top, bottom = float(lin[8:30].mean()), float(lin[-30:-8].mean())
    assert right / left == pytest.approx(1.0, abs=0.02)
    assert bottom / top == pytest.approx(1.0, abs=0.02)


def test_strips_bloom_work_space_is_checked_against_the_budget(small, monkeypatch):
    """Once the charge shows how much blooms, the blooming kernel's work space
    (``camtwin.sensor._bloom.work_bytes``: 24 B per pixel that ends up full, 8 per over-full
    pixel, 256 per bloom, a fixed allowance — or the one-group path's terms) is checked
    against the memory budget before the kernel runs: an over-exposed ColorChecker (most
    pixels, not all, over full well) under a budget one byte short of the charge frame's
    resident set + that estimate is refused with one line; one byte more and the same
    capture runs. A frame all over full well needs no work
    space (the kernel's short path): it runs within the charge frame's budget."""
    import camtwin.sensor._bloom as bloom_mod
    from camtwin.memory import MemoryBudgetError, using_budget

    mod = small.replace(sensor={"noise": {"blooming": True}})
    h, w = mod.sensor.height_px, mod.sensor.width_px
    monkeypatch.setattr("camtwin.memory.current_rss_bytes", lambda: 10 ** 9)  # (steady)
    asked = []
    real = bloom_mod.work_bytes
    monkeypatch.setattr(bloom_mod, "work_bytes",
                        lambda *a, **k: asked.append((a[0], real(*a, **k))) or asked[-1][1])
    scene = module_scene(mod, "colorchecker", illuminance_lux=500.0)
    capture_strips(mod, scene, rng=1, strip_rows=16, exposure_s=0.8)
    n_over, work = asked[-1]
    assert 0.3 * h * w < n_over < h * w and work > bloom_mod.WORK_BYTES_FIXED
    need = 10 ** 9 + work
    with using_budget(need - 1), pytest.raises(MemoryBudgetError) as exc:
        capture_strips(mod, scene, rng=1, strip_rows=16, exposure_s=0.8)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"blooming {n_over} pixels above full well")
    with using_budget(need + 1):
        capture_strips(mod, scene, rng=1, strip_rows=16, exposure_s=0.8)
    uniform = module_scene(mod, "uniform", illuminance_lux=500.0)
    with using_budget(10 ** 9 + 4 * h * w + 1):
        raw = capture_strips(mod, uniform, rng=1, strip_rows=16, exposure_s=5.0)
    assert asked[-1] == (h * w, 0.0)
    fw_dn = mod.sensor.effective_full_well_e * mod.sensor.system_gain_dn_per_e
    assert np.mean(raw.dn > 0.9 * fw_dn) == 1.0     # it ran: every pixel full
