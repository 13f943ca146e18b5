"""End to end: ColorChecker through the default module's optics, sensor and ISP."""

from __future__ import annotations

import numpy as np
import pytest

from camtwin.camera import ccm_from_capture, expose, module_scene, render
from camtwin.measure.color import colorchecker_delta_e
from camtwin.measure.snr import region_snr
from camtwin.optics import form_image
from camtwin.regions import inset_box


@pytest.fixture(scope="module")
def cc_oi(small_module):
    return form_image(module_scene(small_module, "colorchecker", illuminance_lux=500.0),
                      small_module.lens)


def test_colorchecker_delta_e00_at_500_lux(small_module, cc_oi):
    """Mean CIEDE2000 of the 24 patches vs colour-science's reference values < 4.

    The CCM is fitted on one capture (seed 1) and evaluated on another (seed 2).
    """
    ccm = ccm_from_capture(small_module, expose(small_module, cc_oi, exposure_s=None, rng=1))
    raw = expose(small_module, cc_oi, exposure_s=None, rng=2)
    assert raw.clipped_fraction() == 0.0
    rendered = render(small_module, raw, ccm=ccm)
    de = colorchecker_delta_e(rendered.linear, raw.metadata["layout_px"]["patches"])
    print(f"\nColorChecker @500 lx D65: mean ΔE00 = {de['mean']:.2f}, max = {de['max']:.2f}, "
          f"exposure error {de['exposure_error_stops']:+.2f} EV")
    assert de["mean"] < 4.0
    # the identity CCM (no colour correction) must be clearly worse — the fit does work
    de_id = colorchecker_delta_e(render(small_module.replace(isp={"ccm": "identity"}), raw).linear,
                                 raw.metadata["layout_px"]["patches"])
    assert de_id["mean"] > de["mean"] + 1.0


@pytest.mark.parametrize("illuminant", ["D65", "A", "F11"])
def test_spectrally_flat_grey_renders_neutral(small_module, illuminant):
    """White balance from the known illuminant makes a spectrally flat grey neutral."""
    scene = module_scene(small_module, "uniform", illuminant=illuminant, illuminance_lux=300.0)
    raw = expose(small_module, form_image(scene, small_module.lens), exposure_s=None, rng=3)
    rendered = render(small_module, raw)
    r0, r1, c0, c1 = inset_box((0, raw.shape[0], 0, raw.shape[1]), 0.35)
    rgb = rendered.linear[r0:r1, c0:c1].reshape(-1, 3).mean(axis=0)
    assert np.ptp(rgb) / rgb.mean() < 0.01, rgb


def test_snr_follows_shot_noise_in_grey_patch(small_module, cc_oi):
    """Grey-patch SNR ≈ μ/√(μ + σ_read²) (shot + read noise only in this sensor)."""
    raw = expose(small_module, cc_oi, exposure_s=0.01, rng=4)
    s = region_snr(raw, raw.metadata["layout_px"]["patches"][21])
    expected = s["mean_e"] / np.sqrt(s["mean_e"] + small_module.sensor.read_noise_e ** 2)
    assert s["snr"] == pytest.approx(expected, rel=0.08)
