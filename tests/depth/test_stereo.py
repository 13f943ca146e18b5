"""Active stereo: spec validation, triangulation, OpenCV fixed-point handling, exact pair
geometry, sensor statistics, and the issue-20 goal — the depth noise of the matcher's output
grows as Z²·σ_d/(f·b) (first-order propagation of Z = f·b/d; Gallup et al., CVPR 2008)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from camtwin.depth.pattern import DotPattern
from camtwin.depth.scene import DepthScene, PinholeGeometry, plane, slanted_plane, step_edge
from camtwin.depth.stereo import (StereoSpec, analytic_depth_sigma_m, depth_from_disparity,
                                  disparity_map, render_stereo_pair, simulate_stereo)
from camtwin.errors import ConfigError

B_M = 0.05


@pytest.fixture(scope="module")
def geom():
    # 320×240, 6 µm, f = 1.93 mm → f ≈ 322 px (a binned RealSense-D4xx-like NIR camera)
    return PinholeGeometry(width_px=320, height_px=240, pixel_pitch_um=6.0,
                           focal_length_mm=1.93, f_number=2.0)


@pytest.fixture(scope="module")
def texture(geom):
    n = gaussian_filter(np.random.default_rng(5).normal(0, 1, geom.shape), 1.0)
    return np.clip(0.5 + 0.15 * n / n.std(), 0.05, 0.95)


def _spec(**kw):
    base = dict(baseline_mm=B_M * 1e3, num_disparities=48, read_noise_e=5.0)
    base.update(kw)
    return StereoSpec(**base)


PROJECTOR = DotPattern(n_dots=15000, fov_h_deg=70, fov_v_deg=55, optical_power_w=0.01)


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("kw, text", [
    (dict(baseline_mm=0), "baseline_mm = 0: valid range (0, 2000] mm"),
    (dict(baseline_mm=-5.0), "baseline_mm = -5.0"),
    (dict(baseline_mm=50, num_disparities=50), "num_disparities = 50: must be a multiple of 16"),
    (dict(baseline_mm=50, block_size=4), "block_size = 4: must be odd in 1..51"),
    (dict(baseline_mm=50, matcher="bm", block_size=3), "block_size = 3: must be odd in 5..255"),
    (dict(baseline_mm=50, quantum_efficiency=1.5), "quantum_efficiency = 1.5"),
])
def test_bad_spec_is_one_line_error(kw, text):
    with pytest.raises(ConfigError) as e:
        StereoSpec(**kw)
    assert text in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------- formulas

def test_analytic_sigma_matches_monte_carlo_propagation():
    """σ_Z = Z²σ_d/(f b) against the spread of f·b/d for d ~ N(f b/Z, σ_d²) (σ_d ≪ d)."""
    f, z, sd = 600.0, 2.0, 0.1
    d = np.random.default_rng(0).normal(f * B_M / z, sd, 400_000)
    assert np.std(f * B_M / d) == pytest.approx(analytic_depth_sigma_m(z, f, B_M, sd),
                                                rel=0.01)
    # Z² law and 1/b law
    s = analytic_depth_sigma_m(np.array([1.0, 2.0]), f, B_M, sd)
    assert s[1] / s[0] == pytest.approx(4.0)
    assert analytic_depth_sigma_m(1.0, f, 2 * B_M, sd) == pytest.approx(s[0] / 2)


def test_depth_from_disparity_z_and_radial(geom):
    f = geom.focal_px
    d = np.full(geom.shape, 16.0)
    d[0, 0] = np.nan
    d[1, 1] = 0.0
    z = depth_from_disparity(d, f, B_M, radial=False)
    assert z[5, 5] == pytest.approx(f * B_M / 16)
    assert np.isnan(z[0, 0]) and np.isnan(z[1, 1])
    r = depth_from_disparity(d, f, B_M)
    # independent: radial = Z / d_z with the scene geometry's own ray directions
    assert np.allclose(r[2:], z[2:] / geom.ray_directions()[2:, :, 2], rtol=1e-12)


def test_opencv_fixed_point_is_undone_and_invalid_is_nan():
    """A random texture and its copy shifted by 7.5 px: OpenCV returns 16·d in int16; the
    map must read ≈ 7.5 px, and the unmatched left border must be NaN (not −1)."""
    rng = np.random.default_rng(2)
    wide = gaussian_filter(rng.uniform(0, 255, (120, 401)), 0.8)
    # shift by 7.5 px: the average of shifts 7 and 8 of the same band-limited texture
    left = wide[:, 8:392]
    right = 0.5 * (wide[:, 15:399] + wide[:, 16:400])  # right[x − 7.5] = left[x]
    d = disparity_map(left.astype(np.uint16), right.astype(np.uint16),
                      _spec(num_disparities=32, speckle_window_size=0))
    assert d.dtype == np.float32
    assert np.isnan(d[:, :20]).all()
    inner = d[10:-10, 40:-10]
    assert np.nanmedian(inner) == pytest.approx(7.5, abs=0.15)
    assert np.isfinite(inner).mean() > 0.9


# --------------------------------------------------------------------------- rendering

def test_right_image_is_the_left_shifted_by_f_b_over_z(geom):
    """A bright vertical stripe at column c appears at c − f·b/Z in the right image."""
    z = 0.9
    refl = np.full(geom.shape, 0.2)
    refl[:, 200] = 0.9
    pair = render_stereo_pair(plane(geom, z, refl), _spec(read_noise_e=0.0),
                              np.random.default_rng(0), ambient_irradiance_w_m2=0.05)
    cols = np.arange(geom.width_px)

    def centroid(img):
        p = img[100:140].sum(axis=0)
        p = p - np.median(p)
        win = np.abs(cols - cols[np.argmax(p)]) <= 3
        return (p[win] * cols[win]).sum() / p[win].sum()

    shift = centroid(pair.left_e) - centroid(pair.right_e)
    assert shift == pytest.approx(geom.focal_px * B_M / z, abs=0.02)
    assert np.allclose(pair.disparity_true_px[50, 50], geom.focal_px * B_M / z)


def test_sensor_noise_is_shot_plus_read(geom):
    """Photon transfer on a uniform plane: var(e⁻) = μ + σ_read² (Poisson + Gaussian)."""
    spec = _spec(read_noise_e=4.0, adc_bits=16, full_well_e=60000.0)
    pair = render_stereo_pair(plane(geom, 1.0, 0.5), spec, np.random.default_rng(1),
                              ambient_irradiance_w_m2=0.05)
    e = pair.left_dn[60:180, 80:240] / spec.dn_per_e
    mu = pair.left_e[60:180, 80:240]
    resid = e - mu
    assert resid.mean() == pytest.approx(0.0, abs=0.05 * math.sqrt(mu.mean()))
    expected = mu.mean() + 16.0 + 1 / (12 * spec.dn_per_e**2)  # + ADC quantisation
    assert resid.var() == pytest.approx(expected, rel=0.05)


# --------------------------------------------------------------------------- goal (issue 20)

def test_depth_noise_grows_as_z_squared_sigma_d_over_fb(geom, texture):
    """Textured fronto-parallel plane, 0.5–3 m, 5 frames each: the temporal σ of the
    matcher's depth equals Z²·σ_d/(f·b) within 15 %, σ_d being the temporal σ of its
    disparity at that distance. Distances are chosen at the same fractional disparity
    (d = n + 0.25) so SGBM's sub-pixel (pixel-locking) behaviour is alike at all of them:
    then one pooled σ_d predicts σ_Z at every distance within 15 % too — the Z² law."""
    spec = _spec()
    rng = np.random.default_rng(11)
    f = geom.focal_px
    d_true = np.array([32.25, 20.25, 12.25, 8.25, 5.25])
    zs = f * B_M / d_true                                   # 0.50 … 3.07 m
    sig_z, sig_d = [], []
    for z in zs:
        scene = plane(geom, z, texture)
        ds, zz = [], []
        for _ in range(5):
            fr = simulate_stereo(scene, spec, rng, ambient_irradiance_w_m2=0.02)
            ds.append(fr.disparity_px[20:-20, 60:-20])
            zz.append(fr.z_m[20:-20, 60:-20])
        ds, zz = np.array(ds), np.array(zz)
        ok = np.isfinite(ds).all(axis=0)
        assert ok.mean() > 0.95
        sig_d.append(math.sqrt(np.mean(np.var(ds[:, ok], axis=0, ddof=1))))
        sig_z.append(math.sqrt(np.mean(np.var(zz[:, ok], axis=0, ddof=1))))
        # accuracy: SGBM's pixel locking biases the mean disparity by ≲ 0.2 px on a
        # fronto-parallel plane (slanted planes average it out, see the next test)
        assert abs(np.mean(ds[:, ok]) - f * B_M / z) < 0.2
    sig_z, sig_d = np.array(sig_z), np.array(sig_d)
    ratio = sig_z / analytic_depth_sigma_m(zs, f, B_M, sig_d)
    assert np.all(np.abs(ratio - 1) < 0.15), ratio
    pooled = math.sqrt(np.mean(sig_d**2))
    ratio_pooled = sig_z / analytic_depth_sigma_m(zs, f, B_M, pooled)
    assert np.all(np.abs(ratio_pooled - 1) < 0.15), (ratio_pooled, sig_d)
    assert sig_z[-1] / sig_z[0] > 25  # (3.07/0.5)² ≈ 38: depth noise grows steeply


@pytest.mark.parametrize("tilt", [20.0, 40.0])
def test_mean_depth_error_small_on_slanted_planes(geom, tilt):
    """On a slanted plane the disparity sweeps many fractional values, so SGBM's
    pixel-locking bias (sub-pixel estimates pulled toward integers; Shimizu & Okutomi,
    ICCV 2001) averages out: |mean error| < 0.5 % of the distance."""
    spec = _spec(projector=PROJECTOR)
    fr = simulate_stereo(slanted_plane(geom, 1.2, tilt, 0.5), spec, np.random.default_rng(3),
                         ambient_irradiance_w_m2=0.02)
    v = fr.valid[:, 60:]
    assert v.mean() > 0.95
    rel = (fr.z_m / fr.pair.z_true_m)[:, 60:][v] - 1
    assert abs(rel.mean()) < 0.005
    assert np.median(np.abs(rel)) < 0.02
    # the radial output agrees with the scene's radial distance the same way
    rel_r = (fr.depth_m / slanted_plane(geom, 1.2, tilt, 0.5).distance_m)[:, 60:][v] - 1
    assert abs(rel_r.mean()) < 0.005


def test_projector_makes_a_textureless_plane_matchable(geom):
    """Uniform plane under room light: without the dots almost no pixel gets a correct
    disparity (|d − d_true| < 1 px); with them almost all do — the point of active stereo."""
    spec = _spec(projector=PROJECTOR)
    rng = np.random.default_rng(4)
    for z in (0.6, 1.5):
        scene = plane(geom, z, 0.5)
        good = []
        for on in (False, True):
            fr = simulate_stereo(scene, spec, rng, ambient_irradiance_w_m2=0.02,
                                 projector_on=on)
            err = np.abs(fr.disparity_px - fr.pair.disparity_true_px)[:, 60:]
            good.append(np.mean(np.nan_to_num(err, nan=99.0) < 1.0))
        assert good[0] < 0.3 and good[1] > 0.95, (z, good)


def test_occlusion_at_a_step_edge_is_invalid(geom):
    """Near half-plane on the right: the far plane's strip of width f·b·(1/z_n − 1/z_f)
    just left of the edge is hidden from the right camera; the left-right check must leave
    it invalid while the rest of both surfaces matches."""
    zn, zf = 0.6, 1.2
    s = step_edge(geom, zn, zf, 0.5)
    n = s.normal[:, ::-1].copy()
    n[..., 0] *= -1
    scene = DepthScene(geom, s.distance_m[:, ::-1], n, s.reflectance[:, ::-1])
    spec = _spec(projector=PROJECTOR)
    fr = simulate_stereo(scene, spec, np.random.default_rng(5), ambient_irradiance_w_m2=0.02)
    occ = fr.pair.occluded
    width = geom.focal_px * B_M * (1 / zn - 1 / zf)          # ≈ 13.4 px
    edge = geom.width_px // 2
    band = occ[:, edge - 14:edge]
    assert band.mean() > 0.9 and occ[:, edge - 10:edge].all()
    assert (~occ[:, 60:edge - int(width) - 2]).all()
    assert (~fr.valid[:, edge - 12:edge - 1]).mean() > 0.8          # occluded → invalid
    elsewhere = np.concatenate([fr.valid[:, 60:edge - 18].ravel(),
                                fr.valid[:, edge + 4:].ravel()])
    assert elsewhere.mean() > 0.9


def test_ambient_photons_agree_with_depth_radiometry(geom):
    """Sunlight on a uniform plane: the left camera's mean signal equals QE·t times the
    ambient photon rate of camtwin.depth.radiometry.photon_rates (independent code, same
    camera equation, same sunlight table)."""
    from camtwin.depth.illuminator import Illuminator
    from camtwin.depth.radiometry import photon_rates

    scene = plane(geom, 1.5, 0.4)
    spec = _spec(filter_bandwidth_nm=30.0, wavelength_nm=940.0)
    pair = render_stereo_pair(scene, spec, np.random.default_rng(0), ambient_klx=20.0)
    ill = Illuminator(optical_power_w=0.0, wavelength_nm=940, fov_h_deg=60, fov_v_deg=45)
    ref = photon_rates(scene, ill, ambient_klx=20.0, filter_bandwidth_nm=30.0).ambient
    mine = pair.left_e / (spec.quantum_efficiency * spec.exposure_s)
    assert np.allclose(mine, ref, rtol=1e-6)


def test_block_matcher_works_on_the_dot_pattern(geom):
    """OpenCV StereoBM (no smoothness term) on the projected dots of a textureless plane:
    most pixels valid and within 1 px of the truth, mean depth within 1 %."""
    spec = _spec(projector=PROJECTOR, matcher="bm", block_size=11)
    fr = simulate_stereo(plane(geom, 1.0, 0.5), spec, np.random.default_rng(6),
                         ambient_irradiance_w_m2=0.02)
    err = np.abs(fr.disparity_px - fr.pair.disparity_true_px)[:, 60:]
    assert np.mean(np.nan_to_num(err, nan=99.0) < 1.0) > 0.8
    assert abs(np.nanmean(fr.z_m[:, 60:]) - 1.0) < 0.01
