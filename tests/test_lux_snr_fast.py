"""The two yield metrics' cheap optics against the full optics path they replaced.

lux_at_snr10 from the closed-form uniform-target image; mtf50_cy_px from the slanted edge
formed in 160 nm band groups (last tests of this file).

The low-light metric images a *uniform* grey target. ``snr_curve`` forms its sensor-channel
image in closed form (:func:`camtwin.evaluate.metrics._uniform_channel_image`: the
spectral sum Σ_λ w_c(λ)·πT(λ)/(4N_w²)·L(λ) times the relative-illumination map, no
spectral cube, no warp, no PSF blur); ``full_optics=True`` keeps the old path through
:func:`camtwin.optics.form_image` (every band warped, shaded and blurred). The reference
here is that full path, run with the same seed: with common random numbers the two curves
differ only by the difference of the expected signals, so the comparison is tight.

Tolerances (why):

* electron-rate map in the measured box (centre 2/3 of the 96 px crop): 2e-3 relative —
  float32 round-off (~1e-5) for ordinary lenses; the f = 0.236 mm fisheye endoscope's RI
  curves so fast that the omitted PSF blur of RI(x) moves it by 0.13 % (measured);
* lux at SNR 10: 0.5 % relative — the rate difference above propagates ~1:1 into lux;
  the seed-to-seed scatter of the metric itself is ≈ 4 % (rel. SD over 8 seeds), which
  the last test checks is far larger than the fast-vs-full difference.

The modules: the default (diffraction-limited), the default with a yield draw's defocus
and tilt (aberrated pupil PSFs, as in ``benchmarks/bench_yield.py``), the default with
every shading feature turned up (35° chief ray, vignetting, distortion, lateral colour),
and catalog modules: security-imx462-night (design CRA, distortion), endoscope-ov6948
(equidistant fisheye), drone-ov9281-nav (mono, global shutter). In the centre box the
relative illumination varies by ≤ 0.3 % except for the endoscope, where RI drops 7 %
across the box: a fast path without RI misses its rate map by 7 % and its lux by 5 %
(measured), which the comparison catches.
"""

from __future__ import annotations

import numpy as np
import pytest

from camtwin.catalog.convert import to_module
from camtwin.evaluate import level_at_snr, measure, snr_curve
from camtwin.evaluate.imaging import slanted_edge_mtf
from camtwin.evaluate.metrics import (CROP_PX, _centre_box, _uniform_channel_image,
                                      _uniform_oi, crop_module)
from camtwin.module import load_module
from camtwin.sensor.capture import electron_rate
from camtwin.sweep.tolerance import assembly_state, module_at_point

RATE_RTOL = 2e-3
LUX_RTOL = 5e-3


def _drawn(module):
    """The default module as one yield draw leaves it: 6 µm back-focal error and 0.4° lens
    tilt, the defocus at the centre pixel (:func:`module_at_point`)."""
    state = assembly_state({"focus_um": 6.0, "tilt_x_deg": 0.4, "tilt_y_deg": -0.3},
                           module.lens.magnification)
    return module_at_point(module, state, None)[0]


def _shaded(module):
    """35° chief ray and 30 % vignetting at full field, −8 % distortion, 3 µm lateral
    colour. The image circle is the sensor diagonal, so the full field is the full
    sensor's corner, not the 96 px crop's (without ``image_circle_mm`` the crop's own
    half-diagonal would count as full field and its corners would see RI 0.45)."""
    s = module.sensor
    return module.replace(lens={"cra_full_field_deg": 35.0, "lateral_color_um": 3.0,
                                "image_circle_mm": float(np.hypot(s.width_mm, s.height_mm)),
                                "shading": {"vignetting_percent": 30.0},
                                "distortion": {"percent": -8.0}})


MODULES = {
    "default": lambda: load_module("default"),
    "default-drawn": lambda: _drawn(load_module("default")),
    "default-shaded": lambda: _shaded(load_module("default")),
    "security-imx462-night": lambda: to_module("security-imx462-night"),
    "endoscope-ov6948": lambda: to_module("endoscope-ov6948"),
    "drone-ov9281-nav": lambda: to_module("drone-ov9281-nav"),
}


@pytest.fixture(scope="module", params=sorted(MODULES))
def module(request):
    return MODULES[request.param]()


def test_the_variants_exercise_what_they_claim():
    drawn, shaded = _drawn(load_module("default")), _shaded(load_module("default"))
    assert not drawn.lens.diffraction_limited            # pupil PSFs, not the analytic OTF
    assert shaded.lens.moves_points and shaded.lens.lateral_color_um > 0
    assert shaded.lens.cra_full_field_deg == 35.0
    assert not to_module("endoscope-ov6948").lens.rectilinear


def test_closed_form_rate_map_matches_the_full_optics_in_the_measured_box(module):
    crop = crop_module(module, CROP_PX)
    kw = dict(illuminant="D65", reflectance=0.18)
    full = electron_rate(_uniform_oi(crop, **kw), crop.sensor)
    fast = electron_rate(_uniform_channel_image(crop, **kw), crop.sensor)
    r0, r1, c0, c1 = _centre_box(full.shape)
    assert full.shape == fast.shape
    assert np.all(full[r0:r1, c0:c1] > 0)
    np.testing.assert_allclose(fast[r0:r1, c0:c1], full[r0:r1, c0:c1], rtol=RATE_RTOL)


def test_lux_at_snr10_matches_the_full_optics_path(module):
    fast = snr_curve(module, rng=7)
    full = snr_curve(module, rng=7, full_optics=True)
    assert fast.level.size == full.level.size > 10
    np.testing.assert_allclose(fast.signal_e, full.signal_e, rtol=LUX_RTOL, atol=0.05)
    assert level_at_snr(fast) == pytest.approx(level_at_snr(full), rel=LUX_RTOL)


def test_nir_irradiance_at_snr10_matches_the_full_optics_path():
    night = to_module("security-imx462-night").in_state("night")
    kw = dict(illuminant="IR850", reflectance=0.5, nir=True, rng=2)
    fast, full = snr_curve(night, **kw), snr_curve(night, full_optics=True, **kw)
    assert level_at_snr(fast) == pytest.approx(level_at_snr(full), rel=LUX_RTOL)


def test_lux_at_snr10_is_seeded_and_the_fast_path_error_is_far_below_its_scatter():
    m = _drawn(load_module("default"))
    a = measure(m, "lux_at_snr10", rng=3).value
    assert measure(m, "lux_at_snr10", rng=3).value == a          # same seed, same number
    seeds = [level_at_snr(snr_curve(m, rng=s)) for s in range(8)]
    assert len(set(seeds)) == 8                                 # the seed reaches the noise
    scatter = float(np.std(seeds) / np.mean(seeds))
    assert 0.01 < scatter < 0.10
    err = abs(level_at_snr(snr_curve(m, rng=3, full_optics=True)) / a - 1)
    assert err < 0.1 * scatter


# --- mtf50_cy_px: slanted edge in 160 nm band groups vs the full 125-band cube -------------
# Reference: slanted_edge_mtf(band_group_nm=None), the full cube through form_image, same
# seed. The streamed band groups blur each group at its centroid wavelength, an error of
# order Δλ/(2λ̄) in PSF size on part of the spectrum (camtwin.optics.stream); measured
# ≤ 3e-4 relative in MTF50 on these cases, asserted < 1e-3 — 50× below the metric's own
# seed-to-seed scatter (≈ 5 %, checked below).
MTF_RTOL = 1e-3
MTF_CASES = {
    "default-drawn-centre": (lambda: _drawn(load_module("default")), 0.0),
    "default-drawn-field-0.7": (lambda: _drawn(load_module("default")), 0.7),
    "security-imx462-night": (lambda: to_module("security-imx462-night"), 0.0),
    "endoscope-ov6948": (lambda: to_module("endoscope-ov6948"), 0.0),
    "drone-ov9281-nav": (lambda: to_module("drone-ov9281-nav"), 0.0),
}


@pytest.mark.parametrize("case", sorted(MTF_CASES))
def test_mtf50_in_band_groups_matches_the_full_spectral_cube(case):
    make, field = MTF_CASES[case]
    m = make()
    full = slanted_edge_mtf(m, field=field, rng=5, band_group_nm=None)
    grouped = slanted_edge_mtf(m, field=field, rng=5)
    assert 0.1 < full.value < 0.7
    assert grouped.value == pytest.approx(full.value, rel=MTF_RTOL)
    assert grouped.details["mtf_at_nyquist"] == pytest.approx(full.details["mtf_at_nyquist"],
                                                              rel=0.02, abs=2e-3)


def test_mtf50_is_seeded_and_the_grouping_error_is_far_below_its_scatter():
    m = _drawn(load_module("default"))
    assert measure(m, "mtf50_cy_px", rng=4).value == measure(m, "mtf50_cy_px", rng=4).value
    seeds = [slanted_edge_mtf(m, rng=s).value for s in range(6)]
    scatter = float(np.std(seeds) / np.mean(seeds))
    assert len(set(seeds)) == 6 and 0.005 < scatter < 0.2
    err = abs(slanted_edge_mtf(m, rng=0).value
              / slanted_edge_mtf(m, rng=0, band_group_nm=None).value - 1)
    assert err < 0.02 * scatter
