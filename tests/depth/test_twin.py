"""The depth module twin (camtwin.depth.twin): catalog modules end to end, auto-exposure,
the wiggling calibration, the one-bounce interreflection against an independent
world-grid integration, the stereo disparity search, power, and evaluation verdicts."""

import math

import numpy as np
import pytest

from camtwin.depth.illuminator import Illuminator
from camtwin.depth.scene import PinholeGeometry, corner, plane
from camtwin.depth.twin import (AE_TARGET_FULL_WELL, capture_depth, depth_module_names,
                                emitter_on_fraction, interreflection, load_depth_module,
                                module_power_mw, stereo_for_distance)
from camtwin.errors import ConfigError


def _small(name):
    m = load_depth_module(name)
    if m.kind == "itof":
        return m.cropped(24, 24)
    if m.kind == "stereo":
        return m.cropped(320, 96)
    return m


@pytest.mark.parametrize("name", depth_module_names())
def test_every_catalog_depth_module_measures_a_plane(name):
    m = _small(name)
    c = capture_depth(m, "plane", distance_m=1.0, reflectance=0.5, frames=2, seed=3)
    h, w = c.truth_m.shape
    centre = c.depth_m[:, h // 4: h - h // 4 or None, w // 4: w - w // 4 or None]
    assert np.isfinite(centre).mean() > 0.9
    err = np.nanmean(centre) - np.nanmean(c.truth_m[h // 4: h - h // 4 or None,
                                                    w // 4: w - w // 4 or None])
    assert abs(err) < 0.01 * 1.0, f"{name}: mean error {err * 1e3:.1f} mm at 1 m"
    again = capture_depth(m, "plane", distance_m=1.0, reflectance=0.5, frames=2, seed=3)
    np.testing.assert_array_equal(c.depth_m, again.depth_m)       # same seed, same frames


def test_auto_exposure_keeps_a_close_target_below_full_well():
    from camtwin.depth.itof import itof_tap_means_e
    from camtwin.depth.radiometry import photon_rates

    m = load_depth_module("phone-rear-itof-imx556").cropped(16, 16)
    raw = capture_depth(m, "plane", distance_m=0.12, frames=1, auto_exposure=False)
    assert np.isnan(raw.depth_m).mean() > 0.9          # the catalog exposure saturates
    c = capture_depth(m, "plane", distance_m=0.12, frames=1)
    assert np.isfinite(c.depth_m).all()
    t = c.module.pixel.integration_time_s
    assert t < m.pixel.integration_time_s
    # the fullest tap sits at the AE target (charge is linear in the integration time)
    sc = plane(m.geometry, 0.12, 0.5)
    mu = itof_tap_means_e(photon_rates(sc, m.illuminator, filter_bandwidth_nm=m.filter_bandwidth_nm),
                          sc.distance_m, c.module.pixel)
    held = mu.max(axis=1) - c.module.pixel.ambient_suppression * mu.min(axis=1)
    assert held.max() == pytest.approx(AE_TARGET_FULL_WELL * m.pixel.full_well_e, rel=1e-6)


def test_wiggling_calibration_removes_the_cyclic_error_of_square_waves():
    """Square-wave modulation sampled at 4 phases has a cyclic depth error (harmonics
    alias onto the fundamental); the module's calibration table removes it."""
    m = load_depth_module("industrial-itof-imx556").cropped(24, 24)
    assert m.pixel.waveform == "square"
    raw_err, cal_err = [], []
    for d in (0.37, 0.61, 0.93, 1.29):
        kw = dict(distance_m=d, frames=3, seed=1)
        raw = capture_depth(m, "plane", calibrated=False, **kw)
        cal = capture_depth(m, "plane", **kw)
        truth = np.mean(raw.truth_m)
        raw_err.append(abs(np.nanmean(raw.depth_m) - truth) / d)
        cal_err.append(abs(np.nanmean(cal.depth_m) - truth) / d)
    assert max(raw_err) > 0.003            # the uncalibrated wiggle is > 0.3 % somewhere
    assert max(cal_err) < 0.001            # calibrated: < 0.1 % of distance (issue 20 goal)


def _geom():
    return PinholeGeometry(width_px=96, height_px=72, pixel_pitch_um=10.0, focal_length_mm=2.0,
                           f_number=1.2)


def _flood():
    return Illuminator(optical_power_w=1.0, wavelength_nm=940.0, fov_h_deg=110.0,
                       fov_v_deg=95.0, profile="flat", modulation="cw_square")


def test_interreflection_is_zero_on_a_plane():
    alpha, extra = interreflection(plane(_geom(), 1.0, 0.5), _flood())
    assert np.all(alpha == 0) and np.all(extra == 0)


def test_interreflection_matches_a_world_grid_integration_in_a_corner():
    """Independent reference: the left wall is integrated on a fine uniform grid in world
    coordinates (not the camera's pixel grid), restricted to what the camera sees,

        E_ind(P) = ∫ ρ E_dir(Q)/π · cos θ_Q cos θ_P / |PQ|² dA_Q,

    for a point P on the right wall; α = E_ind/E_dir(P), ℓ = the weighted mean of
    |Q| + |QP| − |P|."""
    g, ill, d0, rho = _geom(), _flood(), 1.0, 0.5
    sc = corner(g, d0, 90.0, rho)
    alpha, extra = interreflection(sc, ill, samples=96)
    r, c = g.height_px // 2, int(g.width_px * 0.7)
    P = sc.distance_m[r, c] * g.ray_directions()[r, c]
    h = math.radians(45.0)
    n_l, n_r = np.array([math.cos(h), 0, -math.sin(h)]), np.array([-math.cos(h), 0, -math.sin(h)])
    assert P[0] > 0                                          # P is on the right wall
    t_l = np.array([-math.sin(h), 0, -math.cos(h)])          # along the left wall, away from the apex
    u = (np.arange(1500) + 0.5) / 1500 * 1.5
    y = (np.arange(1200) + 0.5) / 1200 * 2.4 - 1.2
    U, Y = np.meshgrid(u, y)
    Q = np.array([0, 0, d0]) + U[..., None] * t_l + Y[..., None] * np.array([0, 1.0, 0])
    tan_x = g.width_px * g.pixel_pitch_um * 1e-3 / 2 / g.focal_length_mm
    tan_y = g.height_px * g.pixel_pitch_um * 1e-3 / 2 / g.focal_length_mm
    seen = (np.abs(Q[..., 0] / Q[..., 2]) <= tan_x) & (np.abs(Q[..., 1] / Q[..., 2]) <= tan_y)
    dQ = np.linalg.norm(Q, axis=-1)
    e_q = ill.radiant_intensity_w_sr(Q) * (-(Q @ n_l) / dQ) / dQ ** 2
    v = Q - P
    rr = np.linalg.norm(v, axis=-1)
    cos_p = (v @ n_r) / rr
    cos_q = -(v @ n_l) / rr
    wgt = np.where(seen & (cos_p > 0) & (cos_q > 0), rho * e_q / np.pi * cos_p * cos_q / rr ** 2,
                   0.0) * (u[1] - u[0]) * (y[1] - y[0])
    dP = np.linalg.norm(P)
    e_p = ill.radiant_intensity_w_sr(P[None])[0] * (-(P @ n_r) / dP) / dP ** 2
    alpha_ref = wgt.sum() / e_p
    ell_ref = (wgt * (dQ + rr - dP)).sum() / wgt.sum()
    assert alpha[r, c] == pytest.approx(alpha_ref, rel=0.1)
    assert extra[r, c] == pytest.approx(ell_ref, rel=0.1)
    assert 0.05 < alpha_ref < 1.0


def test_a_corner_biases_itof_depth_long_and_a_plane_does_not():
    m = load_depth_module("incabin-itof-mlx75027").cropped(24, 24)
    cor = capture_depth(m, "corner", distance_m=1.0, frames=2, seed=2)
    flat = capture_depth(m, "corner", distance_m=1.0, frames=2, seed=2, multipath=False)
    bias = np.nanmean(cor.depth_m - cor.truth_m)
    assert bias > 0.002                                         # multipath: longer paths
    assert abs(np.nanmean(flat.depth_m - flat.truth_m)) < bias / 3


def test_stereo_search_widens_for_near_targets():
    m = load_depth_module("active-stereo-ov9281")
    near = stereo_for_distance(m, 0.4)
    need = m.geometry.focal_px * m.pixel.baseline_mm * 1e-3 / 0.4
    assert near.pixel.num_disparities % 16 == 0
    assert near.pixel.num_disparities + near.pixel.min_disparity >= need
    assert stereo_for_distance(m, 50.0) is m


def test_power_is_sensor_plus_illuminator_duty():
    m = load_depth_module("phone-rear-itof-imx556")
    p = m.pixel
    on = len(p.modulation_frequencies_mhz) * p.phases * p.integration_time_s * 10.0
    assert emitter_on_fraction(m, 10.0) == pytest.approx(on)
    elec = (m.illuminator_electrical_w if m.illuminator_electrical_w is not None
            else m.illuminator.optical_power_w / 0.30)
    want = (m.sensor_power_mw or 0.0) + 1e3 * elec * on
    assert module_power_mw(m, 10.0) == pytest.approx(want)
    assert module_power_mw(m, 20.0) > module_power_mw(m, 10.0)


def test_bad_requests_are_one_line_errors():
    with pytest.raises(ConfigError, match="unknown depth module"):
        load_depth_module("no-such-tof")
    with pytest.raises(ConfigError, match="frames"):
        capture_depth("dtof-vl53l1x", "plane", frames=0)
    with pytest.raises(ConfigError, match="ambient_klx"):
        capture_depth("dtof-vl53l1x", "plane", ambient_klx=-1)
    with pytest.raises(ConfigError, match="depth scene"):
        capture_depth("dtof-vl53l1x", "table")


def test_depth_image_normals_stay_on_their_surface_at_a_step(tmp_path):
    """A z-depth image with a step: the pixels on both sides of the step keep the normal of
    their own (fronto-parallel) surface, not the grazing one a central difference across
    the step would give — those pixels then range like their neighbours."""
    from camtwin.depth.scene import scene_from_files

    g = _geom()
    z = np.full((g.height_px, g.width_px), 1.5)
    z[:, g.width_px // 2:] = 2.5
    np.save(tmp_path / "z.npy", z)
    sc = scene_from_files(tmp_path / "z.npy", 0.5, g)
    cols = [g.width_px // 2 - 1, g.width_px // 2]
    nz = sc.normal[:, cols, 2]
    np.testing.assert_allclose(nz, -1.0, atol=1e-9)


def test_interreflection_on_a_sub_grid_matches_every_pixel(monkeypatch):
    """Above INTERREFLECTION_MAX_P receiving pixels, α and ℓ come from a sub-grid
    interpolated bilinearly: within 3 % of computing every pixel (a corner's α and ℓ vary
    slowly along each wall)."""
    import camtwin.depth.twin as T

    g = PinholeGeometry(width_px=192, height_px=144, pixel_pitch_um=5.0, focal_length_mm=2.0,
                        f_number=1.2)
    sc = corner(g, 1.0, 90.0, 0.5)
    a_sub, l_sub = interreflection(sc, _flood())
    monkeypatch.setattr(T, "INTERREFLECTION_MAX_P", 10 ** 9)
    a, l = interreflection(sc, _flood())
    inner = (slice(4, -4), np.r_[4:90, 102:188])        # away from the apex line and rims
    np.testing.assert_allclose(a_sub[inner], a[inner], rtol=0.03)
    np.testing.assert_allclose(l_sub[inner], l[inner], rtol=0.03)
