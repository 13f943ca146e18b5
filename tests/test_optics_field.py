"""Field-dependent optics measured from camtwin captures: corner vs centre MTF50 of a lens
with field curvature, distortion from a dot grid, relative illumination from a flat field.
Each reference is what the lens spec implies, evaluated independently of the rendering."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq

from camtwin.camera import module_scene
from camtwin.measure.distortion import measure_distortion, relative_illumination
from camtwin.measure.sfr import esfr
from camtwin.module import ModuleSpec
from camtwin.optics import form_image
from camtwin.optics.pupil import mtf_radial
from camtwin.sensor.capture import electron_rate
from camtwin.sensor.response import electron_weights

BANDS_NM = np.array([540.0, 550.0, 560.0])


def module(lens: dict, *, width_px=320, height_px=240, pitch_um=2.0):
    sensor = dict(width_px=width_px, height_px=height_px, pixel_pitch_um=pitch_um,
                  full_well_e=1e6, conversion_gain_dn_per_e=0.01, read_noise_e=0.0,
                  illumination="bsi", cfa="mono", pixel={"crosstalk_fraction": 0.0})
    base = dict(focal_length_mm=3.0, f_number=2.0, object_distance_m=1.0, ir_cut=None)
    base.update(lens)
    return ModuleSpec(sensor=sensor, lens=base)


def capture(mod, chart, oversample=2, **kw):
    sc = module_scene(mod, chart, oversample=oversample, wavelengths_nm=BANDS_NM, **kw)
    oi = form_image(sc, mod.lens)
    return electron_rate(oi, mod.sensor), oi


def test_corner_mtf50_drops_as_the_field_curvature_spec_implies():
    # Field curvature: Noll Z4 = 0 on axis, 0.25 waves RMS at full field (∝ h²). The spec
    # implies, for each ROI row at field height h, the pupil OTF with c4(h); the e-SFR of the
    # ROI sees the mean of those OTFs (× pixel and scene-sample apertures). Compare the
    # measured corner/centre MTF50 ratio with the implied one.
    os_, pitch = 4, 2.0  # scene Nyquist 1 cy/µm above the optical cut-off 1/(λN) ≈ 0.9
    mod = module({"aberrations": {"full_field": {4: 0.25}, "field_samples": 7}}, pitch_um=pitch)
    h_px, w_px = mod.sensor.height_px, mod.sensor.width_px
    half_diag = 0.5 * np.hypot(h_px, w_px)
    t = np.tan(np.deg2rad(5.0))
    nw = mod.lens.working_f_number
    results = {}
    for name, pos, roi in (("centre", 0.5, (60, 180, 100, 220)),
                           ("corner", 0.85, (4, 84, 212, 316))):
        img, oi = capture(mod, "slanted_edge", oversample=os_, edge_position=pos)
        meas = esfr(img, roi=roi)
        # spec-implied MTF of this ROI: mean OTF over its rows at the edge position
        rows = np.arange(roi[0], roi[1]) + 0.5 - h_px / 2
        x_edge = (pos - 0.5) * w_px + rows * t
        hs = np.hypot(rows, x_edge) / half_diag
        w_band = electron_weights(mod.sensor, BANDS_NM)[:, 0] * oi.irradiance[:, 10, -10]
        w_band = w_band / w_band.sum()
        nus = np.linspace(0.0, 1.0, 201)
        hs_s = np.linspace(hs.min(), hs.max(), 9)
        otf = np.zeros_like(nus)
        for h in hs_s:
            c = mod.lens.zernike_um(float(h))
            otf += sum(wb * mtf_radial(c, lam, nw, nus / pitch) for wb, lam in zip(w_band, BANDS_NM))
        otf /= hs_s.size
        c5, s5 = np.cos(np.arctan(t)), np.sin(np.arctan(t))
        ap = (np.sinc(nus * c5) * np.sinc(nus * s5) * np.sinc(nus * c5 / os_)
              * np.sinc(nus * s5 / os_))
        curve = otf * ap
        ref = brentq(lambda v: np.interp(v, nus, curve) - 0.5, 1e-3, 0.99)
        results[name] = (meas.mtf50_cy_px, ref)
    m_c, r_c = results["centre"]
    m_k, r_k = results["corner"]
    assert r_k < 0.85 * r_c  # the spec really softens the corner
    assert m_k / m_c == pytest.approx(r_k / r_c, rel=0.03)
    assert m_k == pytest.approx(r_k, rel=0.03)


@pytest.mark.parametrize("percent, k2", [(-3.0, 0.0), (2.0, 0.005)])
def test_distortion_measured_from_dot_grid_matches_spec(percent, k2):
    mod = module({"distortion": {"percent": percent, "k2": k2}})
    img, _ = capture(mod, "dot_grid", pitch_fraction=1 / 14, dot_radius_fraction=0.18)
    res = measure_distortion(img)
    assert res.percent_at_full_field == pytest.approx(percent, abs=0.5)
    assert res.rms_residual_px < 0.1
    assert res.n_dots > 80


def test_no_distortion_measures_zero():
    img, _ = capture(module({}), "dot_grid", pitch_fraction=1 / 14, dot_radius_fraction=0.18)
    assert abs(measure_distortion(img).percent_at_full_field) < 0.1


@pytest.mark.parametrize("shading", [{"vignetting_percent": 25.0, "vignetting_onset": 0.5},
                                     {"cos4": True}])
def test_relative_illumination_measured_from_flat_matches_spec(shading):
    # wide-angle lens (f = 1.6 mm on a 0.64 × 0.48 mm die) so that cos⁴ matters
    mod = module({"focal_length_mm": 0.9, "shading": shading})
    img, oi = capture(mod, "uniform", oversample=1)
    meas = relative_illumination(img, box_fraction=0.04)
    # spec: the lens's RI averaged over the same boxes (pixel centres), over the centre box
    h, w = img.shape
    ys = (np.arange(h) + 0.5 - h / 2) * mod.sensor.pixel_pitch_um * 1e-3
    xs = (np.arange(w) + 0.5 - w / 2) * mod.sensor.pixel_pitch_um * 1e-3
    ri = mod.lens.relative_illumination(np.hypot(ys[:, None], xs[None, :]),
                                        0.5 * np.hypot(h, w) * mod.sensor.pixel_pitch_um * 1e-3)
    bh, bw = round(h * 0.04), round(w * 0.04)
    centre = ri[h // 2 - bh // 2:h // 2 - bh // 2 + bh, w // 2 - bw // 2:w // 2 - bw // 2 + bw].mean()
    corner = ri[:bh, :bw].mean() / centre * 100
    assert corner < 90  # a real falloff to measure
    for pct in meas["corners_percent"]:
        assert pct == pytest.approx(corner, abs=0.5)
