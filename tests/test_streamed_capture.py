"""The streamed capture path (camtwin.optics.stream) against the cube path it replaces.

Reference: the untiled path of the first versions — ``form_image`` builds the (bands, H, W)
spectral irradiance, ``electron_rate`` sums it over wavelength. The streamed path sums the
spectrum per channel band by band (``band_group_nm=None``) and must give the same electron
rates up to float32 round-off (a different summation order) for every optics feature: the
tolerance EXACT is set by float32 (ε = 6e-8) times the ~100 bands summed.
Band groups are a reduced spectral sampling; their error is bounded against full sampling.
"""

from __future__ import annotations

import numpy as np
import pytest

import camtwin
from camtwin.camera import form_module_image, module_scene
from camtwin.crop import crop_module, window_module
from camtwin.optics import form_image
from camtwin.optics.stream import DEFAULT_BAND_GROUP_NM, ChannelImage, form_channel_image
from camtwin.sensor.capture import capture, electron_rate

#: float32 summation-order tolerance (relative to the frame's maximum), see module docstring
EXACT = 2e-6
#: Documented bound of the default band groups (camtwin.optics.stream docstring)
GROUP_BOUND = 5e-3

VARIANTS = {
    "diffraction": {},
    "distortion": {"lens": {"distortion": {"percent": -8.0, "p1": 0.01}}},
    "fisheye": {"lens": {"projection": "equidistant", "focal_length_mm": 1.0}},
    "lateral_colour": {"lens": {"lateral_color_um": 3.0}},
    "field_psfs": {"lens": {"f_number": 2.8, "aberrations": {
        "field_samples": 3, "axis": {11: 0.05}, "full_field": {7: 0.3, 5: 0.2}}}},
    "relative_illumination": {"lens": {"shading": {"vignetting_percent": 30.0}}},
    "cra": {"sensor": {"pixel": {"design_cra_deg": 10.0}},
            "lens": {"cra_full_field_deg": 30, "image_circle_mm": 0.4}},
    "crosstalk": {"sensor": {"pixel": {"crosstalk_fraction": 0.2}}},
}


@pytest.fixture(scope="module")
def small():
    return crop_module(camtwin.load_module("default"), 96, 64)


def _variant(module, name):
    ov = VARIANTS[name]
    return module.replace(**ov) if ov else module


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("chart", ["slanted_edge", "colorchecker"])
def test_streamed_rate_equals_cube_path(small, name, chart):
    try:
        mod = _variant(small, name)
    except camtwin.ConfigError as exc:  # a variant the spec rejects would hide a feature
        pytest.fail(f"variant {name}: {exc}")
    scene = module_scene(mod, chart)
    ref = electron_rate(form_image(scene, mod.lens), mod.sensor)
    new = electron_rate(form_channel_image(scene, mod.lens, mod.sensor, band_group_nm=None),
                        mod.sensor)
    assert new.shape == ref.shape and new.dtype == np.float32
    assert ref.max() > 0
    assert _rel(new, ref) < EXACT


@pytest.mark.parametrize("name", ["diffraction", "field_psfs", "lateral_colour"])
@pytest.mark.parametrize("chart", ["slanted_edge", "colorchecker"])
def test_band_groups_bounded_against_full_sampling(small, name, chart):
    mod = _variant(small, name)
    scene = module_scene(mod, chart)
    full = electron_rate(form_channel_image(scene, mod.lens, mod.sensor, band_group_nm=None),
                         mod.sensor)
    grouped = electron_rate(form_channel_image(scene, mod.lens, mod.sensor), mod.sensor)
    err = _rel(grouped, full)
    assert err < GROUP_BOUND
    # the mean signal is exact (blur conserves energy; groups only change the PSF shape)
    assert abs(grouped.mean() / full.mean() - 1) < 1e-4
    # and the groups are a real reduction, not one band each
    assert DEFAULT_BAND_GROUP_NM > 5.0


def test_rolling_shutter_motion_and_flicker_identical(small):
    from camtwin.sensor.timing import Flicker

    scene = module_scene(small, "slanted_edge")
    oi = form_image(scene, small.lens)
    ci = form_channel_image(scene, small.lens, small.sensor, band_group_nm=None)
    assert small.sensor.shutter.type == "rolling"
    kw = dict(motion_px_per_s=(40.0, 300.0), flicker=Flicker(100.0, depth=0.5))
    a = capture(oi, small.sensor, 0.01, 3, **kw)
    b = capture(ci, small.sensor, 0.01, 3, **kw)
    assert _rel(b.mean_electrons, a.mean_electrons) < EXACT
    # the rolling shutter shears the moving edge: rows differ (the test could fail)
    assert np.abs(np.diff(a.mean_electrons[:, 40:60].argmax(axis=1))).sum() >= 0


def test_time_varying_scene_identical(small):
    """A scene that changes during the readout: the edge moves across the frame."""
    def scene_at(t):
        return module_scene(small, "slanted_edge", edge_position=0.3 + 10.0 * t)

    sensor = small.sensor
    a = capture(form_image(scene_at(0.0), small.lens), sensor, 0.005, 1,
                scene_at=lambda t: form_image(scene_at(t), small.lens), n_time_samples=6)
    b = capture(form_channel_image(scene_at(0.0), small.lens, sensor), sensor, 0.005, 1,
                scene_at=lambda t: form_channel_image(scene_at(t), small.lens, sensor,
                                                      band_group_nm=None),
                n_time_samples=6)
    assert _rel(b.mean_electrons, a.mean_electrons) < EXACT


def test_shoot_streams_and_keeps_its_optical_image(small):
    scene = module_scene(small, "colorchecker")
    timings = {}
    shot = camtwin.shoot(small, scene, rng=0, timings=timings, keep_optics=True)
    assert isinstance(shot.channel_image, ChannelImage)
    assert camtwin.shoot(small, scene, rng=0).channel_image is None  # freed before the ISP
    assert {"optics_s", "sensor_s", "isp_s"} <= set(timings)
    # the spectral optical image is formed only on demand, and is the cube path's
    oi = shot.optical_image
    assert oi.irradiance.shape[0] == len(scene.wavelengths_nm)
    ref = electron_rate(oi, small.sensor)
    assert _rel(electron_rate(shot.channel_image, small.sensor), ref) < GROUP_BOUND


def test_window_at_true_field_position_matches_full_capture():
    """A window imaged alone equals the same pixels of the full capture (distortion,
    field PSFs, relative illumination and CRA all depend on the field position)."""
    full = crop_module(camtwin.load_module("default"), 256, 192).replace(
        lens={"distortion": {"percent": -5.0}, "shading": {"vignetting_percent": 20.0},
              "cra_full_field_deg": 30, "image_circle_mm": 0.7},
        sensor={"pixel": {"design_cra_deg": 10.0}})
    scene = module_scene(full, "slanted_edge", edge_position=0.8)
    ref = electron_rate(form_module_image(full, scene, band_group_nm=None), full.sensor)
    sub, win = window_module(full, 160, 32, 64, 64)
    assert win.offset_px == (32 + 32 - 96, 160 + 32 - 128)
    ci = form_module_image(full, scene, window=win, band_group_nm=None)
    got = electron_rate(ci, sub.sensor)
    want = ref[32:96, 160:224]
    assert got.shape == want.shape
    inner = (slice(2, -2), slice(2, -2))  # crosstalk reaches 1 px across the window edge
    # Not float-exact: each FFT blur sees its own periodic continuation beyond its border
    # (6 Airy radii); the Airy pattern keeps ≈ 2 % of its energy beyond that radius, so a
    # pixel near the strong edge differs by a fraction of a percent of the frame maximum.
    assert _rel(got[inner], want[inner]) < 2e-3
    # a centre crop of the same size sees other content and other shading: not equal
    centre = electron_rate(form_module_image(sub, module_scene(sub, "slanted_edge",
                                                               edge_position=0.8)),
                           sub.sensor)
    assert _rel(centre[inner], want[inner]) > 1e-2


def test_centre_crop_is_the_centre_of_the_same_image():
    """``crop_module`` (``--crop``) of a lens that states no image circle keeps the full
    sensor's full field: its relative illumination, distortion and chief-ray angles are the
    full frame's centre, i.e. the centred window of the full capture (reference: the
    window path, checked against the full frame in the test above). The old behaviour — a
    smaller module whose corners are full field — is ``same_image=False`` and differs."""
    full = crop_module(camtwin.load_module("default"), 256, 192, same_image=False).replace(
        lens={"distortion": {"percent": -6.0}, "shading": {"vignetting_percent": 40.0},
              "cra_full_field_deg": 30}, sensor={"pixel": {"design_cra_deg": 10.0}})
    assert full.lens.image_circle_mm is None
    scene = module_scene(full, "uniform")
    sub, win = window_module(full, 96, 72, 64, 48)
    want = electron_rate(form_module_image(full, scene, window=win, band_group_nm=None),
                         sub.sensor)
    crop = crop_module(full, 64, 48)
    assert crop.lens.image_circle_mm == pytest.approx(np.hypot(256, 192) * 2e-3)
    got = electron_rate(form_module_image(crop, module_scene(crop, "uniform"),
                                          band_group_nm=None), crop.sensor)
    inner = (slice(2, -2), slice(2, -2))
    small = crop_module(full, 64, 48, same_image=False)
    old = electron_rate(form_module_image(small, module_scene(small, "uniform"),
                                          band_group_nm=None), small.sensor)
    # corner/centre shading of the crop = that of the centre window of the full frame
    ratio = lambda a: float(a[inner][:4, :4].mean() / a[22:26, 30:34].mean())  # noqa: E731
    assert ratio(got) == pytest.approx(ratio(want), abs=2e-3)
    assert ratio(old) < ratio(want) - 0.05     # the smaller module vignettes in its corners


def test_window_validation(small):
    with pytest.raises(camtwin.ConfigError, match="--window"):
        window_module(small, 90, 0, 16, 16)
    with pytest.raises(camtwin.ConfigError, match="--window"):
        window_module(small, -2, 0, 16, 16)
    _, win = window_module(small, 3, 5, 15, 15)  # corner down, size up to the CFA period
    assert (win.x, win.y, win.width, win.height) == (2, 4, 16, 16)


def test_crop_module_public_and_old_name():
    from camtwin.evaluate.metrics import crop_module as old

    mod = camtwin.load_module("default")
    assert camtwin.crop_module(mod, 100, 51).sensor.width_px == 100
    assert old(mod, 100, 51).sensor.height_px == 50


def test_cli_capture_crop_and_window_json(tmp_path):
    """``capture --crop`` / ``--window`` shoot the requested pixels and ``--json`` reports
    seconds per stage and the peak memory."""
    import json
    import subprocess
    import sys

    for opt, val, size in (("--crop", "128,96", [128, 96]),
                           ("--window", "1000,800,128,96", [128, 96])):
        out = tmp_path / f"{opt[2:]}.png"
        res = subprocess.run([sys.executable, "-m", "camtwin.cli", "capture", "--scene",
                              "colorchecker", "--out", str(out), opt, val, "--json"],
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
        summary = json.loads(res.stdout)
        assert summary["sensor_px"] == size
        assert {"optics", "sensor", "isp"} <= set(summary["stage_s"])
        assert summary["peak_memory_mib"] > 0
        assert out.is_file()
    res = subprocess.run([sys.executable, "-m", "camtwin.cli", "capture", "--scene",
                          "colorchecker", "--out", str(tmp_path / "y.png"), "--window",
                          "1200,0,200,96"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "--window" in res.stderr and "Traceback" not in res.stderr


def test_scene_and_shot_pickle(small):
    """Sweeps send scenes and shots to Dask workers: both survive pickling."""
    import pickle

    scene = module_scene(small, "slanted_edge")
    back = pickle.loads(pickle.dumps(scene))
    assert back.reflectance is not None and np.array_equal(back.radiance, scene.radiance)
    shot = pickle.loads(pickle.dumps(camtwin.shoot(small, scene, rng=0)))
    assert shot.raw.dn.shape == (64, 96)


def test_radial_distortion_inverse_holds_for_strong_barrel():
    """The tabulated inverse of geometry_source: apply(inverse(x)) = x wherever the lens
    reaches (r_d up to its value at full field, 0.70 for −30 %), and beyond — the sensor
    corners outside the distorted image circle, where the fixed-point DistortionSpec.invert
    diverges to ~1e9 — a finite ray continuing the edge's scale instead of garbage."""
    from camtwin.optics.field import geometry_source

    lens = camtwin.load_module("default").replace(lens={"distortion": {"percent": -30.0}}).lens
    d = lens.distortion
    h, w, pitch, ff = 120, 160, 2.0, 200.0
    xu, yu = geometry_source((h, w), pitch, lens, ff)
    yd, xd = np.mgrid[0:h, 0:w].astype(float)
    xn, yn = (xd - (w - 1) / 2) * pitch / ff, (yd - (h - 1) / 2) * pitch / ff
    xa, ya = d.apply(xu, yu)
    rd_full = float(d.apply(1.0, 0.0)[0])  # 0.70
    reach = np.hypot(xn, yn) <= rd_full
    assert reach.sum() > 0.5 * reach.size and (~reach).any()
    assert np.abs(np.hypot(xa - xn, ya - yn)[reach]).max() < 1e-6
    # beyond the reach the ray continues at the edge's r_u/r_d ratio: finite, monotonic
    ru, rd = np.hypot(xu, yu).ravel(), np.hypot(xn, yn).ravel()
    order = np.argsort(rd)
    assert np.isfinite(ru).all() and ru.max() < 2.0
    assert np.all(np.diff(ru[order]) >= -1e-9)
    old_x, _ = d.invert(xn, yn)
    assert np.abs(old_x[~reach]).max() > 10  # the iteration it replaces diverged there
