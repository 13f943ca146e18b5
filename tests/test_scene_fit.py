"""Photos as scenes keep their proportions (issue 18: a 3:2 photo on a 4:3 sensor was
stretched, every circle 11 % too narrow): crop to fill (default) or letterbox, and say which.

Reference: a disk stays a disk — its width/height ratio on the scene grid is 1 within a
sample; a stretch to the grid would make it (W/w)/(H/h) = (160/300)/(120/200) = 0.889.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.errors import ConfigError
from camtwin.scene import from_rgb
from camtwin.scene.rgb import fit_image, plan_fit

runner = CliRunner()


def disk_photo(h=200, w=300, r=60):
    y, x = np.mgrid[0:h, 0:w]
    img = np.full((h, w, 3), 0.2, np.float32)
    img[(y - h / 2 + 0.5) ** 2 + (x - w / 2 + 0.5) ** 2 <= r * r] = 0.9
    return img


def disk_aspect(img):
    m = img[..., 0] > 0.55
    rows, cols = np.nonzero(m.any(axis=1))[0], np.nonzero(m.any(axis=0))[0]
    return (cols[-1] - cols[0] + 1) / (rows[-1] - rows[0] + 1)


@pytest.mark.parametrize("fit", ["crop", "letterbox"])
def test_a_disk_stays_round(fit):
    out, plan = fit_image(disk_photo(), (120, 160), fit)
    assert out.shape == (120, 160, 3)
    assert disk_aspect(out) == pytest.approx(1.0, abs=0.03)
    if fit == "crop":   # all of the grid is photo, the sides of the photo are cut
        assert plan.placed == (0, 120, 0, 160) and plan.used == (0, 200, 16, 283)
    else:               # all of the photo is seen, black bars top and bottom
        assert plan.used == (0, 200, 0, 300) and plan.placed == (6, 113, 0, 160)
        assert np.all(out[:6] == 0) and np.all(out[113:] == 0)


def test_from_rgb_crops_by_default_and_records_where_the_photo_lies():
    sc = from_rgb(disk_photo(), width_m=1.0, distance_m=2.0, shape=(120, 160))
    assert sc.layout["image"] == [(0.0, 1.0, 0.0, 1.0)]
    lb = from_rgb(disk_photo(), width_m=1.0, distance_m=2.0, shape=(120, 160), fit="letterbox")
    assert lb.layout["image"][0] == pytest.approx((6 / 120, 113 / 120, 0.0, 1.0))
    with pytest.raises(ConfigError, match="crop, letterbox"):
        from_rgb(disk_photo(), width_m=1.0, distance_m=2.0, shape=(120, 160), fit="stretch")


def test_same_aspect_is_untouched_and_said_so():
    plan = plan_fit((120, 160), (240, 320), "crop")
    assert plan.used == (0, 120, 0, 160) and "same aspect ratio" in plan.describe()


def test_capture_says_how_the_photo_was_fitted(tmp_path):
    import cv2

    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), (disk_photo() * 255).astype(np.uint8))
    res = runner.invoke(app, ["capture", "--scene", str(photo), "--crop", "160,120",
                              "--scene-fit", "letterbox", "--out", str(tmp_path / "o.png"),
                              "--json", "-q"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert "letterboxed" in out["scene_fit"] and out["grey_snr_db"] is None
    res = runner.invoke(app, ["capture", "--scene", str(photo), "--crop", "160,120",
                              "--scene-fit", "stretch", "--out", str(tmp_path / "o.png")])
    assert res.exit_code == 2 and "--scene-fit" in res.output


@pytest.mark.parametrize("fit", ["crop", "letterbox"])
def test_planes_resized_one_channel_at_a_time_equal_the_whole_image_resized(fit):
    # reference: OpenCV's area interpolation of all three channels at once (what the scene
    # conversion did before it built channel planes), on a photo of another aspect ratio
    # upsampled ×4.1 and downsampled ×0.35
    import cv2

    from camtwin.scene.rgb import fit_planes

    img = np.random.default_rng(2).random((90, 140, 3), dtype=np.float32)
    for target in ((370, 410), (31, 49)):
        planes, plan = fit_planes(img, target, fit)
        assert planes.shape == (3, *target) and planes.flags.c_contiguous
        r0, r1, c0, c1 = plan.used
        p0, p1, q0, q1 = plan.placed
        want = np.zeros((*target, 3), np.float32)
        want[p0:p1, q0:q1] = cv2.resize(np.ascontiguousarray(img[r0:r1, c0:c1]),
                                        (q1 - q0, p1 - p0), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(np.moveaxis(planes, 0, 2), want)


def test_srgb_decoding_in_place_is_the_iec_eotf():
    # reference: colour-science's IEC 61966-2-1 decoding (float64) on a ramp of 463 k
    # values in 0..1, and the whole-array float32 expression the blocks replace (bit for bit)
    import colour

    from camtwin.scene.rgb import _DECODE_ROWS, srgb_to_linear_inplace

    # (3 planes of more rows than a block: the last block is partial)
    v = np.linspace(0, 1, 3 * (_DECODE_ROWS + 1) * 601, dtype=np.float32)
    v = v.reshape(3, _DECODE_ROWS + 1, 601)
    whole = np.where(v <= 0.04045, v / np.float32(12.92),
                     ((v + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4))
    got = srgb_to_linear_inplace(v.copy())
    np.testing.assert_array_equal(got, whole)
    np.testing.assert_allclose(got, colour.cctf_decoding(v.astype(np.float64), "sRGB"),
                               rtol=2e-6, atol=1e-8)
    with pytest.raises(ValueError, match="C-contiguous float32"):
        srgb_to_linear_inplace(v.astype(np.float64))


@pytest.mark.parametrize("fit", ["crop", "letterbox"])
def test_a_photo_scene_holds_its_planes_and_little_more(fit):
    """A photo on a large scene grid: the conversion's peak-RSS growth (fresh process, peak
    reset just before: ``camtwin.memory.call_peak_growth``) is the (3, H, W) float32
    reflectance weights, one more plane for a letterbox, and the decoding's row blocks.
    Before the planes it was ≈ 4× the weights (the resized (H, W, 3) image, then
    whole-array temporaries of the sRGB decoding: 9.7 GiB for the 200 MP
    ``phone-isocell-hp2-main`` with a photo, whose weights are 2.4 GB)."""
    import os
    import subprocess
    import sys

    code = f"""
import json, numpy as np
from camtwin.memory import call_peak_growth
from camtwin.scene import from_rgb
img = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
from_rgb(img, width_m=1.0, distance_m=2.0, shape=(30, 40), fit={fit!r})
sc, grew = call_peak_growth(from_rgb, img, width_m=1.0, distance_m=2.0, shape=(3000, 4100),
                            fit={fit!r})
print(json.dumps({{"grew": grew, "weights": sc.reflectance.weights.nbytes}}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env)   # (heap slack would hide the growth)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["grew"] is not None and r["weights"] == 3 * 3000 * 4100 * 4
    plane = r["weights"] / 3
    blocks = 3 * 256 * 4100 * 4
    allowed = r["weights"] + (plane if fit == "letterbox" else 0) + blocks + 16 * 2 ** 20
    assert r["grew"] <= allowed, (r, allowed)
    assert r["grew"] >= 0.8 * r["weights"], r      # (the measurement sees the planes)


@pytest.mark.parametrize("fit", ["crop", "letterbox"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_photo_converted_a_channel_at_a_time_equals_the_whole_conversion(dtype, fit):
    # reference: what from_rgb did before it converted the photo's codes a channel at a time
    # inside fit_planes — the whole (H, W, 3) image divided by its dtype's maximum in
    # float32 and clipped to 0..1, then fitted and decoded (the same scene, bit for bit);
    # and without a target grid (the photo's own samples)
    from camtwin.scene.rgb import fit_planes, srgb_to_linear_inplace

    top = np.iinfo(dtype).max
    img = np.random.default_rng(3).integers(0, top, (90, 140, 3), endpoint=True,
                                            dtype=dtype)
    img[0, :3] = (0, top, top // 2)             # (both ends of the code range)
    whole = np.clip(img.astype(np.float32) / np.float32(top), 0.0, 1.0)
    geom = dict(width_m=1.0, distance_m=1.0)
    for shape in ((370, 410), (31, 49), None):
        got = from_rgb(img, shape=shape, fit=fit, **geom).reflectance.weights
        want = (fit_planes(whole, shape, fit)[0] if shape is not None
                else np.ascontiguousarray(np.moveaxis(whole, 2, 0)))
        np.testing.assert_array_equal(got, srgb_to_linear_inplace(want))


def test_a_photo_beyond_pillows_pixel_limit_is_sized_from_its_header_without_a_warning(
        tmp_path, monkeypatch):
    # a 108 MP photo printed Pillow's DecompressionBombWarning on every capture (the fit
    # description's header read); beyond twice the limit Pillow refuses to open it at all —
    # a PNG's size and bit depth then come from its IHDR chunk (the PNG specification:
    # width, height, bit depth, colour type at bytes 16–25). The limit is lowered here to
    # 1000 pixels instead of writing a 90 MP file.
    import warnings
    from pathlib import Path

    import cv2
    from PIL import Image

    from camtwin.camera import image_header, read_rgb_image
    from camtwin.scene.rgb import describe_photo_fit

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    small, large = tmp_path / "warned.png", tmp_path / "refused.png"   # 1200 px, 6000 px
    cv2.imwrite(str(small), np.zeros((30, 40, 3), np.uint8))
    cv2.imwrite(str(large), np.zeros((60, 100, 3), np.uint16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tuple(image_header(Path(small))) == (30, 40, 3, 1, "PNG")
        assert tuple(image_header(Path(large))) == (60, 100, 3, 2, "PNG")
        assert describe_photo_fit(large, (60, 100)).startswith("photo 100×60 fills")
        assert describe_photo_fit(small, (60, 100)).startswith("photo 40×30")
        assert read_rgb_image(Path(large)).shape == (60, 100, 3)


def test_a_grey_photo_is_the_colour_photo_of_three_equal_channels():
    # the grey plane is read for each channel (a broadcast view, no three-channel copy):
    # the same scene as the grey photo repeated into R, G and B, bit for bit
    g = np.random.default_rng(4).integers(0, 65535, (90, 140), endpoint=True,
                                          dtype=np.uint16)
    geom = dict(width_m=1.0, distance_m=1.0)
    for img in (g, g.astype(np.float32) / np.float32(65535)):
        for shape in ((370, 410), None):
            np.testing.assert_array_equal(
                from_rgb(img, shape=shape, **geom).reflectance.weights,
                from_rgb(np.repeat(img[..., None], 3, axis=2), shape=shape,
                         **geom).reflectance.weights)


# --- a window's part of a photo scene, formed alone (twentieth session) -----------------
def _random_size_pairs(n, seed=3):
    """(source h, w), (grid h, w) pairs: shrinking, growing, mixed, integer factors, 1-px."""
    rng = np.random.default_rng(seed)
    for k in range(n):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        gh, gw = (int(v) for v in rng.integers(1, 180, 2))
        if k % 4 == 1:                          # integer enlargement
            gh, gw = h * int(rng.integers(1, 4)), w * int(rng.integers(1, 4))
        elif k % 4 == 2:                        # integer reduction
            gh, gw = max(1, h // int(rng.integers(1, 4))), max(1, w // int(rng.integers(1, 4)))
        yield (h, w), (gh, gw), rng


@pytest.mark.parametrize("fit", ["crop", "letterbox"])
def test_a_region_of_the_grid_equals_opencvs_inter_area_resize_of_the_whole_photo(fit):
    """Reference: OpenCV's ``cv2.resize(..., INTER_AREA)`` of the whole photo
    (:func:`fit_planes`) — its area weights when both axes shrink, its "area mode" linear
    weights when one grows; 120 random sizes, random regions, 8-bit codes."""
    from camtwin.scene.rgb import fit_planes, fit_region

    worst = 0.0
    for (h, w), (gh, gw), rng in _random_size_pairs(120):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        full, plan = fit_planes(img, (gh, gw), fit)
        r0 = int(rng.integers(0, gh))
        c0 = int(rng.integers(0, gw))
        r1, c1 = int(rng.integers(r0 + 1, gh + 1)), int(rng.integers(c0 + 1, gw + 1))
        got = fit_region(img, plan, slice(r0, r1), slice(c0, c1))
        assert got.shape == (3, r1 - r0, c1 - c0)
        worst = max(worst, float(np.abs(got - full[:, r0:r1, c0:c1]).max()))
    assert worst <= 1e-6, worst


@pytest.mark.parametrize("src, grid", [((400, 600), (3000, 4000)), ((3000, 4000), (1234, 1645)),
                                       ((1500, 2000), (1500, 2000)), ((600, 800), (300, 400))])
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_windows_at_the_corners_and_centre_of_a_large_grid_equal_the_whole_resize(src, grid,
                                                                                  dtype):
    """Real-size factors (a small photo on a large sensor, a large photo on a small one,
    equal sizes, exactly ½): the corners and the centre of the grid, 16-bit and float
    photos; reference: the whole photo resized by OpenCV."""
    from camtwin.scene.rgb import fit_planes, fit_region

    rng = np.random.default_rng(5)
    img = (rng.integers(0, 65536, src + (3,), dtype=np.uint16) if dtype == np.uint16
           else rng.random(src + (3,), dtype=np.float32))
    full, plan = fit_planes(img, grid, "crop")
    gh, gw = grid
    for r0, c0 in ((0, 0), (gh // 2 - 37, gw // 3), (gh - 200, gw - 256)):
        got = fit_region(img, plan, slice(r0, r0 + 200), slice(c0, c0 + 256))
        np.testing.assert_allclose(got, full[:, r0:r0 + 200, c0:c0 + 256], rtol=0,
                                   atol=1e-6)


def test_a_lazy_photo_scene_is_the_same_scene_formed_where_it_is_read():
    """``from_rgb(..., lazy=True)`` against the whole scene: shape, layout, a window's
    weights and collapsed channels, the mirrored margin, the mean spectrum."""
    from camtwin.scene.scene import PhotoReflectance

    img = (disk_photo(200, 300) * 255).astype(np.uint8)
    geom = dict(width_m=0.4, distance_m=1.0, shape=(480, 640), fit="letterbox")
    full = from_rgb(img, **geom)
    lazy = from_rgb(img, lazy=True, **geom)
    assert isinstance(lazy.reflectance, PhotoReflectance)
    assert lazy.reflectance.weights is None          # (no grid-sized array)
    assert lazy.shape == full.shape and lazy.layout == full.layout
    rows, cols = slice(100, 260), slice(7, 333)
    np.testing.assert_array_equal(lazy.reflectance.window(rows, cols).weights,
                                  full.reflectance.window(rows, cols).weights)
    m = np.random.default_rng(0).random((4, full.wavelengths_nm.size))
    np.testing.assert_allclose(lazy.collapse(m, rows, cols), full.collapse(m, rows, cols),
                               rtol=1e-6)
    pad = ((3, 0), (0, 5))
    np.testing.assert_array_equal(
        lazy.reflectance.window(slice(0, 20), slice(620, 640)).padded(pad).weights,
        full.reflectance.window(slice(0, 20), slice(620, 640)).padded(pad).weights)
    np.testing.assert_allclose(lazy.mean_spectrum(), full.mean_spectrum(), rtol=1e-6)
    import pickle                                   # (a Dask worker gets it pickled)

    again = pickle.loads(pickle.dumps(lazy))
    np.testing.assert_array_equal(again.reflectance.window(rows, cols).weights,
                                  full.reflectance.window(rows, cols).weights)


def test_a_window_shot_from_a_lazy_photo_scene_is_the_window_shot_from_the_whole_one(tmp_path):
    """The same raw frame and rendered image, DN for DN, whether the window's scene comes
    from the photo built for the whole sensor or only the window's part of it."""
    import cv2

    import camtwin
    from camtwin.camera import module_scene, shoot
    from camtwin.crop import window_module

    rng = np.random.default_rng(1)
    photo = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
    photo = cv2.GaussianBlur(photo, (5, 5), 1.5)
    path = tmp_path / "p.png"
    cv2.imwrite(str(path), photo)
    mod = camtwin.load_module("default")
    _, win = window_module(mod, 700, 90, 256, 192)
    full = module_scene(mod, path, illuminance_lux=300)
    lazy = module_scene(mod, path, illuminance_lux=300, lazy=True)
    a = shoot(mod, full, window=win, rng=7, exposure_s=0.01)
    b = shoot(mod, lazy, window=win, rng=7, exposure_s=0.01)
    np.testing.assert_array_equal(a.raw.dn, b.raw.dn)
    np.testing.assert_array_equal(a.rendered.srgb, b.rendered.srgb)


def test_the_taps_of_each_axis_are_opencvs_for_any_pair_of_sizes():
    """:func:`area_taps` as matrices, W_y · photo · W_xᵀ, against ``cv2.resize(...,
    INTER_AREA)`` for 150 random (independent) sizes per axis — one axis growing while the
    other shrinks included, where OpenCV uses its linear "area mode" weights on both."""
    import cv2

    from camtwin.scene.rgb import area_taps

    def matrix(n_src, n_dst, area):
        ptr, src, wt = area_taps(n_src, n_dst, area)
        m = np.zeros((n_dst, n_src))
        for d in range(n_dst):
            np.add.at(m[d], src[ptr[d]:ptr[d + 1]], wt[ptr[d]:ptr[d + 1]])
        return m

    rng = np.random.default_rng(11)
    for _ in range(150):
        h, w = (int(v) for v in rng.integers(1, 50, 2))
        gh, gw = (int(v) for v in rng.integers(1, 120, 2))
        img = rng.random((h, w), dtype=np.float32)
        area = h >= gh and w >= gw
        got = matrix(h, gh, area) @ img.astype(np.float64) @ matrix(w, gw, area).T
        ref = cv2.resize(img, (gw, gh), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("fit", ["crop", "letterbox"])
def test_a_photo_grown_along_one_axis_only_is_resized_as_opencv_does(fit):
    """100 columns placed on 101 while 20 rows stay 20 (the scale 1.01 rounds back to the
    same row count): OpenCV then interpolates both axes (its "area mode"), not averages."""
    from camtwin.scene.rgb import fit_planes, fit_region

    img = np.random.default_rng(2).integers(0, 256, (20, 100, 3), dtype=np.uint8)
    full, plan = fit_planes(img, (40, 101) if fit == "letterbox" else (20, 101), fit)
    p0, p1, q0, q1 = plan.placed
    assert (p1 - p0, q1 - q0) == (20, 101)
    got = fit_region(img, plan, slice(0, full.shape[1]), slice(0, 101))
    np.testing.assert_allclose(got, full, rtol=0, atol=1e-6)
