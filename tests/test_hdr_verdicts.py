"""Verdict-relevant physics of the catalog HDR twins: anti-blooming drain, the HDR chart
metrics and the LED-flicker signal.

References used here, each independent of the code under test:

* the expected mean charge of a linear pixel, μ = ė·T (rate × exposure; EMVA 1288 R4.0
  §2 eq. 1 with the quantum efficiency already in the rate), for every exposure
  T_k = T_0 / Π r_j of a DOL frame and for the small photodiode of a split pixel
  (ė·T/ρ);
* charge conservation of the blooming model written out here: a region of N pixels
  overexposed X times keeps (1 − d)·(X − 1)·N full wells to share with its neighbours
  (``camtwin.sensor.pixels.collect_charge`` docstring), so the ring of pixels around a
  48 px patch (4·48 + 4 pixels) takes at most that much;
* the analytic SNR dip of a switch from a component of saturation S to one of ratio r:
  10·log10[r(S + rσ²)/(S + σ²)] dB (Yang & El Gamal, SPIE 3649, 1999; the formula in
  ``camtwin.measure.p2020.snr_vs_luminance``), evaluated here by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from camtwin.catalog.convert import to_sensor_spec
from camtwin.sensor import SensorSpec
from camtwin.sensor.hdr import HdrSpec, hdr_expose
from camtwin.sensor.pixels import collect_charge

HDR_SENSORS = ("omnivision-ox03c10", "sony-imx490", "onsemi-ar0820at")


# --------------------------------------------------------------------------- capture
def _box_rate(h=48, w=64, rate=1e5):
    r = np.zeros((h, w), np.float32)
    r[16:32, 24:40] = rate
    return r


@pytest.mark.parametrize("hdr", [
    {"mode": "dol", "dol": {"exposure_ratios": [16]}},
    {"mode": "split_pixel", "split_pixel": {"sensitivity_ratio": 20.0, "full_well_e": 8000,
                                            "read_noise_e": 2.0,
                                            "conversion_gain_dn_per_e": 0.4}},
])
def test_hdr_components_of_a_bright_box_collect_rate_times_exposure(hdr):
    """A lit box on a dark field: inside it every component collects ė·T_k (T_k its
    exposure, or ė·T/ρ for the small photodiode); outside, nothing. The chart and the
    LED of the P2020 metrics are such scenes (a uniform field hides row/column mix-ups)."""
    s = SensorSpec(width_px=64, height_px=48, pixel_pitch_um=3.0, full_well_e=10000,
                   conversion_gain_dn_per_e=0.4, read_noise_e=2.0)
    spec = HdrSpec.model_validate(hdr)
    t, rate = 0.01, 1e5                      # 1000 e⁻ in the reference read
    raw = hdr_expose(_box_rate(rate=rate), s, spec, t, key=3)
    ratios = ([1.0, 16.0] if spec.mode == "dol" else [1.0, 20.0])
    for comp, r in zip(raw.components, ratios):
        e = comp.electrons()
        inside, outside = e[18:30, 26:38], np.concatenate([e[:12].ravel(), e[36:].ravel()])
        expect = rate * t / r
        # mean of 144 pixels: shot noise √(μ/144) plus read noise 2/12 e⁻ → 6σ tolerance
        tol = 6 * math.sqrt((expect + 4.0) / inside.size) + 0.5
        assert abs(float(inside.mean()) - expect) < tol, (comp.name, float(inside.mean()),
                                                          expect)
        assert abs(float(outside.mean())) < 1.0, (comp.name, float(outside.mean()))


# --------------------------------------------------------------------------- drain
@pytest.mark.parametrize("name", HDR_SENSORS)
def test_catalog_hdr_sensors_drain_their_overflow(name):
    s = to_sensor_spec(name)
    assert s.noise.blooming and s.noise.antiblooming_drain >= 0.9999


def test_single_exposure_catalog_sensor_keeps_the_default_drain():
    assert to_sensor_spec("sony-imx462").noise.antiblooming_drain == 0.5


def _spill(sensor, over: float, size: int, frame: int = 160) -> tuple[np.ndarray, int]:
    """Charge after blooming of a size×size block ``over`` × full well in a dark frame."""
    fw = sensor.effective_full_well_e
    n = np.zeros((frame, frame), np.float32)
    a = (frame - size) // 2
    n[a:a + size, a:a + size] = over * fw
    return collect_charge(n, sensor), a


def test_a_patch_thousands_of_times_over_full_well_stays_in_its_ring():
    """The P2020 chart puts 48 px patches up to ~7200× over the long exposure's full well
    (AR0820AT: 2 × the 3600× range). With the catalog drain its spill is bounded by
    charge conservation, (1 − d)·(X − 1)·N full wells, less than the one-pixel ring."""
    s = to_sensor_spec("onsemi-ar0820at").model_copy(update={"width_px": 160,
                                                            "height_px": 160})
    d, x, size = s.noise.antiblooming_drain, 7200.0, 48
    q, a = _spill(s, x, size)
    fw = s.effective_full_well_e
    spill_fw = (1 - d) * (x - 1) * size * size
    ring = 4 * size + 4
    assert spill_fw < ring                                   # the reference bound itself
    beyond = q.copy()
    beyond[a - 1:a + size + 1, a - 1:a + size + 1] = 0       # the patch and its ring
    assert float(beyond.max()) < 0.01 * fw
    # the default drain (0.5) floods the neighbours already at 3×: (1 − d)·2·N = N full
    # wells spread over rings of 4·(48 + 2k) pixels reach k ≈ 10
    flood = s.model_copy(update={"noise": s.noise.model_copy(
        update={"antiblooming_drain": 0.5})})
    qf, _ = _spill(flood, 3.0, size)
    assert float(qf[a - 5, a + size // 2]) >= 0.99 * fw


def test_the_sun_still_blooms_a_split_pixel_reference_read():
    """A sun disc (~8 px, 1.6·10⁹ cd/m², ≈ 3.5·10⁶ × the OX03C10 LPD's LCG well at
    11 ms with 48.7 e⁻ per cd/m²) keeps (1 − d)·X·N ≈ 2000 full wells to spill: blooming
    reaches well beyond the ring, as around the sun in real frames."""
    s = to_sensor_spec("omnivision-ox03c10").model_copy(update={"width_px": 160,
                                                                "height_px": 160})
    q, a = _spill(s, 3.5e6, 8)
    fw = s.effective_full_well_e
    assert float(q[a - 5, a + 4]) >= 0.99 * fw           # 5 px above the disc: bloomed


# --------------------------------------------------------------------------- PWL
def test_ox03c10_pwl_table_keeps_quantisation_under_a_quarter_of_the_shot_noise():
    """The estimated knee table (catalog note): on every segment the step Δ = Δx/Δy DN
    adds Δ²/12 DN² of quantisation noise, which must stay ≤ (σ_shot/4)² with the HCG shot
    noise σ_shot² = K_0·(c − black) DN² at the segment's start c (EMVA 1288 R4.0 §2:
    σ_q² = Δ²/12); slope-1 segments add nothing. The combined full scale fits the table
    and every output code decompands to a code that compands back to it."""
    from camtwin.isp.hdr import decompand
    from camtwin.sensor.hdr import compand

    s = to_sensor_spec("omnivision-ox03c10")
    pwl = s.hdr.pwl
    k0, black = s.system_gain_dn_per_e, s.black_level_dn
    kx, ky = pwl.knee_inputs, pwl.knee_outputs
    for i in range(len(kx) - 1):
        step = (kx[i + 1] - kx[i]) / (ky[i + 1] - ky[i])
        if step > 1:
            assert step**2 / 12 <= k0 * (kx[i] - black) / 16 + 1e-9, (i, step)
    assert s.hdr.full_scale_e(s) * k0 + black <= pwl.max_input
    y = np.arange(pwl.max_output + 1)
    assert np.array_equal(compand(decompand(y, pwl), pwl), y)


# --------------------------------------------------------------------------- verdict metrics
def test_ox03c10_led_flicker_on_its_own_output_is_the_small_photodiodes_window():
    """At 10⁴ cd/m² the OX03C10's large photodiode is saturated and its on-chip
    combination selects the small photodiode, which integrates the whole 11 ms: a 90 Hz,
    10 % PWM LED (T·f = 0.99) is captured with on-time between D/f − (1/f − T) and D/f,
    q = on-time/(D·T) ∈ [0.909, 1.010], so FMI = (1.010 − 0.909)/(1.010 + 0.909) = 0.053
    (worked by hand from the PWM waveform) and every capture is seen (MMP = 1)."""
    from camtwin.catalog.convert import to_module
    from camtwin.evaluate import measure

    m = to_module("adas-ox03c10-surround")
    t, f, d = 0.011, 90.0, 0.1
    q_max = d / f / (d * t)
    q_min = (d / f - (1 / f - t)) / (d * t)
    fmi_ref = (q_max - q_min) / (q_max + q_min)
    cond = {"frequency_hz": f, "duty": d, "exposure_s": t, "luminance_cd_m2": 1e4,
            "phases": 40, "merge": "on_sensor"}
    r = measure(m, "flicker_modulation_index", cond)
    assert abs(r.value - fmi_ref) < 0.02, (r.value, fmi_ref)
    assert r.details["q_min"] > 0.85
    assert measure(m, "led_mmp", cond).value == 1.0


def test_ox03c10_chart_is_not_flooded_and_its_worst_snr_is_the_dark_end():
    """With the catalog drain the P2020 chart's dark patches are not flooded by the
    patches far above full well: the lowest SNR over 1–10⁴ cd/m² is at the dark end, where
    the large photodiode's shot + read noise sets it: SNR = kL/√(kL + σ²) with k the
    chart's reference electrons per cd/m² and σ = 0.83 e⁻ (HCG read noise, catalog)."""
    from camtwin.catalog.convert import to_module
    from camtwin.evaluate import measure

    r = measure(to_module("adas-ox03c10-surround"), "hdr_snr_min_db",
                {"merge": "on_sensor"})
    k, lum = r.details["electrons_per_cd_m2"], r.details["at_luminance_cd_m2"]
    assert lum < 1.3
    s = k * lum
    ref = 20 * math.log10(s / math.sqrt(s + 0.83**2))
    # per-patch SNR estimate from ~500 G pixels: σ(SNR_dB) ≈ 8.7/√(2n) ≈ 0.3 dB
    assert abs(r.value - ref) < 1.2, (r.value, ref)
