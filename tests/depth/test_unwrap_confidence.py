"""The iToF confidence filter for wrong unwraps (camtwin.depth.itof.unwrap_confidence_threshold,
``capture_depth(min_confidence=...)``, ``camtwin depth --min-confidence``).

Reference: the phase-torus geometry of two-frequency unwrapping (the threshold's docstring)
— for f₁ = 100 MHz, f₂ = 80 MHz (n₁ = 5, n₂ = 4 over g = 20 MHz) the wrong windings lie
2π/√41 from the true one, so P(error) ≤ 10⁻³ needs 1/σ_φ ≥ Q⁻¹(5·10⁻⁴)·√41/π
= 3.2905·6.4031/π = 6.707 (hand calculation; Q⁻¹ from the normal table).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from camtwin.depth.itof import unwrap_confidence_threshold
from camtwin.depth.twin import capture_depth, load_depth_module
from camtwin.errors import ConfigError


def test_threshold_matches_the_hand_calculation():
    m = load_depth_module("incabin-itof-mlx75027")
    assert list(m.pixel.modulation_frequencies_mhz) == [100.0, 80.0]
    assert unwrap_confidence_threshold(m.pixel) == pytest.approx(6.707, abs=2e-3)
    # a looser error budget needs less SNR; one frequency needs no unwrapping
    assert unwrap_confidence_threshold(m.pixel, 1e-2) < 6.707
    one = m.pixel.model_copy(update={"modulation_frequencies_mhz": [100.0]})
    assert unwrap_confidence_threshold(one) == 0.0
    with pytest.raises(ConfigError, match="p_error"):
        unwrap_confidence_threshold(m.pixel, 0.0)


def test_valid_pixels_unwrap_wrongly_at_most_at_the_stated_rate():
    """A dim plane (20 % at 1 m, ~70 % of pixels below the threshold): statistics over the
    307 200 pixels of three frames — wrong unwraps (≥ 1 m off) among the pixels the filter
    keeps stay within the 10⁻³ budget (binomial 99.9 % bound), while the filtered ones
    carry the errors; the raw output (min_confidence 0) keeps every pixel."""
    m = load_depth_module("incabin-itof-mlx75027")
    raw = capture_depth(m, "plane", distance_m=1.0, reflectance=0.2, seed=3, frames=3)
    kept = capture_depth(m, "plane", distance_m=1.0, reflectance=0.2, seed=3, frames=3,
                         min_confidence="auto")
    wrong = np.abs(raw.depth_m - raw.truth_m) > 1.0
    valid = np.isfinite(kept.depth_m)
    assert np.isfinite(raw.depth_m).all()
    n = int(valid.sum())
    assert 0.05 < valid.mean() < 0.95             # the case actually filters
    bound = 1e-3 + 3.1 * math.sqrt(1e-3 / n)      # one-sided 99.9 % binomial bound
    assert wrong[valid].mean() <= bound
    assert wrong[~valid].mean() > 20 * bound      # the errors are where the filter acts
    # the kept pixels are the raw ones: the filter only removes
    np.testing.assert_array_equal(kept.depth_m[valid], raw.depth_m[valid])


def test_cli_min_confidence(tmp_path):
    cmd = [sys.executable, "-m", "camtwin.cli", "depth", "--module", "incabin-itof-mlx75027",
           "--reflectance", "0.2", "--frames", "2", "--json"]
    res = subprocess.run(cmd + ["--out", str(tmp_path / "a"), "--min-confidence", "auto"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["min_confidence"] == pytest.approx(6.707, abs=2e-3)
    assert got["valid_fraction"] < 0.9
    for bad in ("-3", "abc"):
        res = subprocess.run(cmd + ["--out", str(tmp_path / "b"), "--min-confidence", bad],
                             capture_output=True, text=True, timeout=600)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1 and "--min-confidence" in lines[0]
