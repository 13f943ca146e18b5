"""PWL companding (camtwin.sensor.hdr.compand) and its exact inverse
(camtwin.isp.hdr.decompand).

References: the companding law is the one in the module docstring of camtwin.sensor.hdr
(integer floor on each segment, slopes <= 1); the reference below re-evaluates it with
exact rational arithmetic (fractions.Fraction), independent of the NumPy implementation.
Round trips are bit-exact by construction, so they are compared with ==, no tolerance.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from camtwin.errors import ConfigError
from camtwin.isp.hdr import decompand, decompand_table, pwl_to_linear_e
from camtwin.sensor import SensorSpec
from camtwin.sensor.hdr import HdrSpec, PwlSpec, compand, hdr_expose


def compand_reference(x: int, knees) -> int:
    """Exact rational evaluation of y = y_i + floor((x − x_i)·Δy/Δx), clipped at the ends."""
    x = min(max(int(x), 0), knees[-1][0])
    for (x0, y0), (x1, y1) in zip(knees, knees[1:]):
        if x < x1:
            return y0 + math.floor(Fraction(x - x0) * Fraction(y1 - y0, x1 - x0))
    return knees[-1][1]


@st.composite
def knee_tables(draw):
    """Random valid knee tables: (0, 0) start, strictly increasing, slopes <= 1."""
    out_bits = draw(st.integers(12, 16))
    in_bits = draw(st.integers(max(out_bits, 12), 32))
    n_seg = draw(st.integers(1, 8))
    y_max, x_max = 2**out_bits - 1, 2**in_bits - 1
    knees = [(0, 0)]
    for _ in range(n_seg):
        x0, y0 = knees[-1]
        if y0 >= y_max or x0 >= x_max:
            break
        dy = draw(st.integers(1, max(1, min(y_max - y0, y_max // n_seg + 1))))
        dy = min(dy, y_max - y0, x_max - x0)
        # Δx >= Δy: a power-of-two expansion (sensor tables) or any integer
        if draw(st.booleans()):
            dx = dy << draw(st.integers(0, 10))
        else:
            dx = dy + draw(st.integers(0, 50 * dy))
        dx = min(dx, x_max - x0)
        if dx < dy:
            break
        knees.append((x0 + dx, y0 + dy))
    if len(knees) < 2:
        knees.append((1, 1))
    return PwlSpec(input_bits=in_bits, output_bits=out_bits, knees=knees)


PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(knee_tables())
def test_compand_of_decompand_is_identity_on_every_code(pwl):
    y = np.arange(pwl.max_output + 1)
    assert np.array_equal(compand(decompand(y, pwl), pwl), y)
    centre = decompand(y, pwl, representative="centre")
    assert np.array_equal(compand(np.floor(centre).astype(np.int64), pwl), y)


@PROPERTY
@given(knee_tables())
def test_decompand_exact_at_every_knee(pwl):
    assert np.array_equal(decompand(pwl.knee_outputs, pwl), pwl.knee_inputs)
    assert np.array_equal(compand(pwl.knee_inputs, pwl), pwl.knee_outputs)


@PROPERTY
@given(knee_tables(), st.integers(0, 2**32 - 1))
def test_decompand_returns_the_bin_of_every_input(pwl, seed):
    """lower(y) <= x < lower(y + 1) with y = compand(x): decompand gives the first code of
    the bin that x fell into, and the centre lies inside that bin."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.integers(0, pwl.max_input + 1, 2000),
                        np.clip(pwl.knee_inputs[:, None] + np.arange(-2, 3), 0,
                                pwl.max_input).ravel()])
    y = compand(x, pwl).astype(np.int64)
    lo = decompand(y, pwl)
    assert np.all(lo <= x)
    inner = y < pwl.max_output
    assert np.all(x[inner] < decompand(y[inner] + 1, pwl))
    centre = decompand(y, pwl, representative="centre")
    assert np.all((centre >= lo) & (compand(np.floor(centre).astype(np.int64), pwl) == y))


@PROPERTY
@given(knee_tables(), st.integers(0, 2**32 - 1))
def test_compand_matches_exact_rational_reference(pwl, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, pwl.max_input + 1, 300)
    ref = [compand_reference(v, pwl.knees) for v in x]
    assert compand(x, pwl).tolist() == ref
    assert np.all(np.diff(compand(np.sort(x), pwl).astype(np.int64)) >= 0)   # monotonic


def test_hand_computed_table():
    """Worked by hand: on segment (512, 512)–(4096, 1024), Δy/Δx = 512/3584 = 1/7, so
    x = 1000 → 512 + ⌊488/7⌋ = 581, and the codes 995 … 1001 all give 581
    (995 = 512 + ⌈69·7⌉ = 512 + 483)."""
    pwl = PwlSpec(input_bits=20, output_bits=12,
                  knees=[(0, 0), (512, 512), (4096, 1024), (65536, 2048), (1048575, 4095)])
    assert compand([1000, 994, 995, 1001, 1002], pwl).tolist() == [581, 580, 581, 581, 582]
    assert decompand([581], pwl).tolist() == [995]
    assert decompand([581], pwl, representative="centre").tolist() == [998.0]
    assert compand([2**20 - 1, 2**24], pwl).tolist() == [4095, 4095]   # beyond: last code
    assert decompand([4095, 5000], pwl).tolist() == [1048575, 1048575]
    assert decompand_table(pwl).flags.writeable is False


@pytest.mark.parametrize("knees, bits, message", [
    ([(0, 0), (100, 50), (90, 60)], {}, "knees[2] input = 90 is not above"),
    ([(0, 0), (100, 50), (200, 50)], {}, "knees[2] output = 50 is not above"),
    ([(0, 0), (100, 150)], {}, "slope = 1.5: valid range 0 < slope <= 1"),
    ([(5, 0), (100, 50)], {}, "knees[0] = [5, 0]: the table must start at [0, 0]"),
    ([(0, 0), (2**20, 4000)], {"input_bits": 20}, "exceeds the 20-bit input range"),
    ([(0, 0), (2**20 - 1, 4096)], {"output_bits": 12}, "exceeds the 12-bit output range"),
])
def test_bad_knee_tables_are_one_line_errors(knees, bits, message):
    with pytest.raises(ConfigError) as exc:
        PwlSpec(knees=knees, **bits)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_output_bits_outside_12_to_16_rejected():
    with pytest.raises(ConfigError, match="output_bits"):
        PwlSpec(output_bits=10, knees=[(0, 0), (10, 10)])


def test_sensor_pwl_stream_decompands_to_its_linear_code():
    """End to end: a DOL frame companded on the sensor; decompanding in the ISP recovers
    the bin of every linear code bit-exactly, and the centre reconstruction the mean."""
    s = SensorSpec(width_px=64, height_px=64, pixel_pitch_um=3.0, full_well_e=10000,
                   conversion_gain_dn_per_e=0.4, read_noise_e=2.0, adc_bits=12)
    pwl = PwlSpec(input_bits=20, output_bits=12,
                  knees=[(0, 0), (2048, 2048), (16384, 2944), (131072, 3520),
                         (1048575, 4095)])
    hdr = HdrSpec(mode="dol", dol={"exposure_ratios": [16, 16]}, pwl=pwl)
    rate = np.geomspace(1e2, 2e8, 64 * 64).reshape(64, 64).astype(np.float32)
    raw = hdr_expose(rate, s, hdr, 0.01, key=7)
    code, y = raw.linear_code, raw.pwl_dn.astype(np.int64)
    lo = decompand(y, pwl)
    assert np.all(lo <= code)
    assert np.all(code[y < 4095] < decompand(y[y < 4095] + 1, pwl))
    lin = pwl_to_linear_e(raw)
    # centre of the bin vs the combined value: within half a bin (+ rounding) [e-], where
    # the linear code is not clipped at 0 (blooming from the saturated long exposures can
    # leave a dark pixel only the shortest exposure, whose read noise goes below black)
    half_bin = (decompand(np.minimum(y + 1, 4095), pwl) - lo) / 2 / 0.4 + 2
    inside = code > 0
    assert inside.mean() > 0.99
    assert np.all(np.abs(lin - raw.combined_e)[inside] <= half_bin[inside])


def test_pwl_input_bits_too_small_for_the_combined_range():
    with pytest.raises(ConfigError, match=r"hdr.pwl.input_bits = 16: .* needs 20 bits"):
        SensorSpec(width_px=64, height_px=64, pixel_pitch_um=3.0, full_well_e=10000,
                   conversion_gain_dn_per_e=0.4, read_noise_e=2.0, adc_bits=12,
                   hdr={"mode": "dol", "dol": {"exposure_ratios": [16, 16]},
                        "pwl": {"input_bits": 16, "knees": [(0, 0), (65535, 4095)]}})
