"""Row-strip ISP (camtwin.isp.strips.render_strips) against the full-frame pipeline.

Reference: ``to_uint(process(raw, spec, …).srgb, bits)`` — the full-frame ISP of
camtwin.isp.pipeline, an independent code path for everything global (white-balance
statistics, noise σ, auto exposure, Reinhard's log-average and white) and the same stage
functions for everything local. Frames are small (96×128 and 100×130) and strips short
(16 rows, some 4–10), so many strip boundaries fall inside every image; the tolerance is
"identical, or 1 code value where a global sum is added in another order" (module
docstring of camtwin.isp.strips).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from camtwin.errors import ConfigError
from camtwin.isp import IspSpec, process, to_uint
from camtwin.isp.shading import gain_from_lens
from camtwin.isp.strips import (STRIP_BUDGET_BYTES, StripRendering, default_strip_rows,
                                render_strips, stats_bytes, strip_halo_rows,
                                strip_working_bytes)
from camtwin.raw import CFA_PATTERNS, RawFrame, cfa_channel_index

#: Largest share of pixels allowed to differ (by one code) from the full-frame image.
MAX_DIFFERING_FRACTION = 1e-3

#: A colour matrix with the negative off-diagonal terms of a real camera CCM.
MATRIX = ((1.6, -0.4, -0.2), (-0.3, 1.5, -0.2), (0.0, -0.5, 1.5))


def make_raw(cfa="RGGB", h=96, w=128, *, seed=0, neutral=True, hot=12) -> RawFrame:
    """Texture (sinusoids and a checkerboard), white noise, a small saturated patch and
    hot pixels; the CFA colours get different levels so white balance matters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 0.25 + 0.2 * np.sin(x / 7.0) * np.cos(y / 11.0) + 0.3 * ((x // 16 + y // 12) % 2)
    base[40:44, 60:70] = 1.2  # < 1 % of the frame: auto exposure is not pinned at 1
    level = np.array([0.6, 1.0, 0.8, 0.5])
    sig = base * level[np.minimum(cfa_channel_index(cfa, (h, w)), 3)]
    sig = sig + rng.normal(0, 0.01, sig.shape)
    dn = np.clip(64 + sig * (1023 - 64), 0, 1023)
    dn[rng.integers(0, h, hot), rng.integers(0, w, hot)] = 1023
    return RawFrame(np.round(dn).astype(np.uint16), cfa, 64, 1023, exposure_s=0.01,
                    conversion_gain_dn_per_e=0.5, pixel_pitch_um=1.4,
                    as_shot_neutral=(0.6, 1.0, 0.8) if neutral else None)


def reference(raw, spec, bits=None, **kw):
    rendered = process(raw, spec, **kw)
    return rendered, to_uint(rendered.srgb, spec.output_bits if bits is None else bits)


def assert_matches(res: StripRendering, ref_img: np.ndarray):
    assert res.image.shape == ref_img.shape and res.image.dtype == ref_img.dtype
    d = np.abs(res.image.astype(np.int64) - ref_img.astype(np.int64))
    assert d.max() <= 1, f"{int((d > 1).sum())} pixels differ by more than one code"
    assert (d > 0).mean() <= MAX_DIFFERING_FRACTION


#: Every IspSpec option at least once (ccm "fitted" passes MATRIX as the fitted matrix).
OPTIONS = [
    {},
    {"white_balance": "gray_world"},
    {"white_balance": "white_patch", "output_bits": 16},
    {"white_balance": "none", "tone": "linear"},
    {"exposure_gain": 1.7, "tone": "filmic"},
    {"tone": "reinhard", "ccm": MATRIX},
    {"tone": "reinhard", "exposure_gain": 0.8, "output_bits": 16},
    {"demosaic": "malvar2004", "ccm": "fitted", "sharpen": 1.5},
    {"demosaic": "directional_ri", "denoise": "guided", "output_bits": 16},
    {"denoise": "bilateral", "defect_pixel": True},
    {"denoise": "bilateral", "demosaic": "malvar2004", "tone": "reinhard", "sharpen": 0.7},
    {"defect_pixel": True, "denoise": "guided", "sharpen": 2.0, "white_balance": "white_patch"},
]


@pytest.mark.parametrize("cfa", CFA_PATTERNS)
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                  o.items())[:60] or "default")
def test_strips_equal_full_frame(cfa, options):
    raw = make_raw(cfa)
    spec = IspSpec(**{"ccm": "identity", **options})
    ccm = np.array(MATRIX) if spec.ccm == "fitted" else None
    full, ref = reference(raw, spec, ccm=ccm)
    res = render_strips(raw, spec, ccm=ccm, strip_rows=16)
    assert_matches(res, ref)
    np.testing.assert_allclose(res.wb_gains, full.wb_gains, rtol=1e-12)
    np.testing.assert_array_equal(res.ccm, full.ccm)
    assert res.exposure_gain == pytest.approx(full.exposure_gain, rel=1e-12)
    assert res.notes == full.notes
    assert res.spec == spec and res.image.flags.writeable is False


@pytest.mark.parametrize("strip_rows", [4, 10, 48, 1000])
def test_any_strip_height(strip_rows):
    """Strips shorter than the halo, not dividing the height, or one strip for all."""
    raw = make_raw("GRBG", 100, 130, neutral=False)  # gray-world fallback, noted
    spec = IspSpec(ccm="identity", denoise="bilateral", tone="reinhard", sharpen=1.0)
    full, ref = reference(raw, spec)
    res = render_strips(raw, spec, strip_rows=strip_rows)
    assert_matches(res, ref)
    assert res.notes == full.notes and any("gray_world" in n for n in res.notes)
    assert res.strip_rows % 2 == 0 and res.strip_rows >= strip_rows


@pytest.mark.parametrize("options, passes", [
    ({"denoise": "guided", "sharpen": 1.0, "tone": "reinhard"}, (1, 3)),
    ({"denoise": "bilateral", "exposure_gain": 1.3, "white_balance": "gray_world"}, (2, 3)),
    ({"demosaic": "directional_ri", "white_balance": "white_patch"}, (2, 3)),
    ({"demosaic": "malvar2004", "tone": "filmic", "exposure_gain": 2.0}, (1, 1)),
])
def test_spill_and_recompute_agree(options, passes):
    """Later passes either read earlier passes' RGB back from temporary files or recompute
    the front end: the same image either way, with fewer front-end passes when spilled."""
    raw = make_raw("BGGR")
    spec = IspSpec(ccm="identity", **options)
    _, ref = reference(raw, spec)
    a = render_strips(raw, spec, strip_rows=16, spill=True)
    b = render_strips(raw, spec, strip_rows=16, spill=False)
    np.testing.assert_array_equal(a.image, b.image)
    assert_matches(a, ref)
    assert (a.passes, b.passes) == passes


def test_subsample_steps_of_a_large_frame(monkeypatch):
    """Above 1 MP (auto exposure) and 4 MP (white patch) the statistics are taken on every
    k-th row and column of the full frame; the strips gather exactly those. The limits are
    lowered so that k = 3 on a small frame."""
    import camtwin.isp.pipeline as pipeline
    import camtwin.isp.stages as stages

    monkeypatch.setattr(pipeline, "PERCENTILE_SAMPLES", 1000)
    monkeypatch.setattr(stages, "white_patch_step", lambda shape: 3)
    raw = make_raw("RGGB", 100, 130)
    for wb in ("white_patch", "gray_world"):
        spec = IspSpec(ccm="identity", white_balance=wb)
        full, ref = reference(raw, spec)
        res = render_strips(raw, spec, strip_rows=8)
        assert_matches(res, ref)
        assert res.exposure_gain == full.exposure_gain != 1.0
        np.testing.assert_allclose(res.wb_gains, full.wb_gains, rtol=1e-12)


@pytest.fixture(scope="module")
def shading_module():
    from camtwin.module import load_module

    m = load_module("default")
    return m.replace(sensor={"width_px": 128, "height_px": 96},
                     lens={"focal_length_mm": m.lens.focal_length_mm * 128 / 1280})


@pytest.mark.parametrize("design_cra_deg", [None, 25.0])
@pytest.mark.parametrize("bits", [8, 16])
def test_lens_shading(shading_module, design_cra_deg, bits):
    mod = shading_module.replace(sensor={"pixel": {"design_cra_deg": design_cra_deg}})
    raw = make_raw("RGGB")
    spec = IspSpec(ccm="identity", lens_shading="lens", output_bits=bits)
    _, ref = reference(raw, spec, lens=mod.lens, sensor=mod.sensor)
    res = render_strips(raw, spec, lens=mod.lens, sensor=mod.sensor, strip_rows=16)
    assert_matches(res, ref)
    with pytest.raises(ConfigError, match="needs the module's lens"):
        render_strips(raw, spec, strip_rows=16)


@pytest.mark.parametrize("design_cra_deg", [None, 25.0])
def test_shading_gain_rows_and_windows(shading_module, design_cra_deg):
    """Rows of the gain map are the rows of the whole map (bit for bit); a window placed
    by offset_px/full_sensor_px gets the gain of its true field position: the full
    sensor's map at the window's pixels."""
    from camtwin.crop import SensorWindow

    mod = shading_module.replace(sensor={"pixel": {"design_cra_deg": design_cra_deg}})
    pitch, lens, sensor = mod.sensor.pixel_pitch_um, mod.lens, mod.sensor
    full = gain_from_lens((96, 128), pitch, lens, sensor)
    assert full.min() >= 1.0 and full.max() > 1.2  # corners are corrected
    strips = [gain_from_lens((96, 128), pitch, lens, sensor, rows=slice(r, r + 16))
              for r in range(0, 96, 16)]
    np.testing.assert_array_equal(np.concatenate(strips), full)
    win = SensorWindow(x=64, y=32, width=48, height=40, full_width=128, full_height=96)
    g = gain_from_lens((40, 48), pitch, lens, sensor.replace(width_px=48, height_px=40),
                       offset_px=win.offset_px, full_sensor_px=win.full_shape)
    np.testing.assert_allclose(g, full[32:72, 64:112], rtol=1e-6)
    centred = gain_from_lens((40, 48), pitch, lens, sensor.replace(width_px=48, height_px=40))
    assert np.abs(centred - g).max() > 0.05  # the old behaviour: the window on the axis


def test_window_rendered_at_its_field_position(shading_module):
    """A window of the frame rendered with its offset equals the full frame's rendering at
    those pixels (away from the window's border, where the demosaic reflects); global
    parameters are fixed (manual-like: no white balance, fixed exposure) so both agree."""
    from camtwin.crop import SensorWindow

    raw = make_raw("RGGB")
    lens, sensor = shading_module.lens, shading_module.sensor
    spec = IspSpec(ccm="identity", lens_shading="lens", white_balance="none",
                   exposure_gain=1.0, output_bits=16)
    whole = render_strips(raw, spec, lens=lens, sensor=sensor, strip_rows=16).image
    win = SensorWindow(x=64, y=32, width=48, height=40, full_width=128, full_height=96)
    part = raw.with_(dn=raw.dn[32:72, 64:112])
    wsens = sensor.replace(width_px=48, height_px=40)
    at_field = render_strips(part, spec, lens=lens, sensor=wsens, strip_rows=8,
                             offset_px=win.offset_px, full_sensor_px=win.full_shape).image
    np.testing.assert_array_equal(at_field[2:-2, 2:-2], whole[34:70, 66:110])
    on_axis = render_strips(part, spec, lens=lens, sensor=wsens, strip_rows=8).image
    assert np.abs(on_axis[2:-2, 2:-2].astype(int) - whole[34:70, 66:110]).max() > 500


def test_halo_and_working_set():
    spec = IspSpec(ccm="identity")
    heavy = IspSpec(ccm="identity", demosaic="directional_ri", denoise="guided", sharpen=1.0)
    assert strip_halo_rows(spec, "RGGB") == 2  # bilinear ±1 row, +1 for the σ operator
    assert strip_halo_rows(heavy, "RGGB") > strip_halo_rows(spec, "RGGB")
    for cfa in ("QUADBAYER", "RGBIR"):
        assert strip_halo_rows(spec, cfa) % 4 == 0  # whole CFA periods
    assert strip_working_bytes(4000, 512, heavy) > strip_working_bytes(4000, 512, spec)
    rows = default_strip_rows(16320, heavy)  # a 200 MP sensor's width
    assert rows >= 64 and rows % 2 == 0
    assert strip_working_bytes(16320, rows, heavy) <= STRIP_BUDGET_BYTES + stats_bytes(heavy)
    assert stats_bytes(heavy) < 0.5e9  # whatever the frame size


@pytest.mark.parametrize("options", [{"exposure_gain": 1.0}, {}, {"denoise": "guided"},
                                     {"denoise": "bilateral", "tone": "filmic"},
                                     {"white_balance": "white_patch"},
                                     {"demosaic": "directional_ri", "denoise": "guided",
                                      "sharpen": 1.0, "tone": "reinhard"}])
@pytest.mark.parametrize("cfa", ["RGGB", "QUADBAYER"])
def test_working_set_estimate(cfa, options):
    """strip_working_bytes bounds the measured peak (tracemalloc, output image excluded)
    without overstating it more than 3×: a 1200 × 2000 frame in 200-row strips."""
    h, w, rows = 1200, 2000, 200
    raw = make_raw(cfa, h, w)
    spec = IspSpec(ccm="identity", **options)
    render_strips(make_raw(cfa), spec, strip_rows=16)  # compile (numba) before measuring
    tracemalloc.start()
    res = render_strips(raw, spec, strip_rows=rows, spill=False)
    peak = tracemalloc.get_traced_memory()[1] - res.image.nbytes
    tracemalloc.stop()
    est = strip_working_bytes(w, rows, spec, cfa=cfa, height_px=h)
    assert peak <= est <= 3 * peak


def test_peak_memory_far_below_full_frame():
    """tracemalloc peak (NumPy and OpenCV output arrays) of a 12 MP render: the strip
    renderer needs the output (3 B/px), one strip and the statistics; process() ~ 75 B/px
    with the guided filter."""
    h, w = 3000, 4000
    rng = np.random.default_rng(3)
    dn = (200 + rng.integers(0, 600, (h, w), dtype=np.uint16)).astype(np.uint16)
    raw = RawFrame(dn, "RGGB", 64, 1023, exposure_s=0.01, conversion_gain_dn_per_e=0.5,
                   as_shot_neutral=(0.6, 1.0, 0.8))
    spec = IspSpec(ccm="identity", denoise="guided")
    render_strips(make_raw(), spec, strip_rows=16)  # compile (numba) before measuring
    process(make_raw(), spec)
    peaks = {}
    rows = 256
    for name, fn in (("strips", lambda: render_strips(raw, spec, strip_rows=rows,
                                                      spill=False).image),
                     ("process", lambda: to_uint(process(raw, spec).srgb, 8))):
        tracemalloc.start()
        img = fn()
        peaks[name] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del img
    assert peaks["process"] > 30 * h * w  # the full-frame float arrays
    assert peaks["strips"] < peaks["process"] / 4
    assert peaks["strips"] < 3 * h * w + strip_working_bytes(w, rows, spec, height_px=h)


def test_bad_arguments():
    raw = make_raw("RGGB", 32, 32)
    spec = IspSpec(ccm="identity")
    for kw, match in (({"strip_rows": 0}, "strip_rows"), ({"bits": 12}, "bits"),
                      ({"offset_px": (0, float("nan"))}, "offset_px"),
                      ({"full_sensor_px": (0, 10)}, "full_sensor_px")):
        with pytest.raises(ConfigError, match=match):
            render_strips(raw, spec, **kw)
    with pytest.raises(ConfigError, match="fitted"):
        render_strips(raw, IspSpec())  # ccm 'fitted' without a matrix, as process()
    with pytest.raises(ConfigError, match="IspSpec"):
        render_strips(raw, {"ccm": "identity"})


@pytest.mark.parametrize("cfa", ["QUADBAYER", "RGBIR", "RCCB"])
def test_frame_size_not_a_multiple_of_the_period(cfa):
    """102 rows is not a multiple of the 4-row tiles: the last strip ends mid-tile."""
    raw = make_raw(cfa, 102, 126, neutral=False)
    spec = IspSpec(ccm="identity", defect_pixel=True, denoise="guided", sharpen=1.0)
    full, ref = reference(raw, spec)
    res = render_strips(raw, spec, strip_rows=12)
    assert_matches(res, ref)
    assert res.notes == full.notes


def test_black_frame_falls_back_as_the_full_frame():
    """No signal: gray world cannot work (unit gains) and auto exposure finds no level
    (gain 1) — the same decisions and notes as process()."""
    raw = RawFrame(np.full((48, 64), 64, np.uint16), "RGGB", 64, 1023, exposure_s=0.01,
                   conversion_gain_dn_per_e=0.5)
    spec = IspSpec(ccm="identity", white_balance="white_patch", denoise="bilateral")
    full, ref = reference(raw, spec)
    res = render_strips(raw, spec, strip_rows=8)
    np.testing.assert_array_equal(res.image, ref)
    assert res.notes == full.notes and len(res.notes) >= 2
    assert res.exposure_gain == 1.0 and np.all(res.wb_gains == 1.0)
