"""Tolerances → yield (issue 21, item 1): Monte-Carlo yield against analytic yields, the
confidence interval against published values, the sensitivity ranking on constructed
cases, active alignment, reproducible draws, one-line errors, the CLI on Dask.

The analytic cases use metrics that are closed-form functions of one module field, measured
through the same machinery as any other (the sweep runner, the store, the judging):

* frame_rate_fps = 1/(H·t_line) (rolling shutter, H rows): with t_line ~ N(μ, σ²) the yield
  of "fps ≥ F" is P(t_line ≤ 1/(H·F)) = Φ((1/(H·F) − μ)/σ);
* hfov_deg = 2·atan((w/2)/v_s), v_s = f·s/(s − f) (thin lens focused at s): "hfov ≥ H₀"
  ⇔ v_s ≤ v₀ = (w/2)/tan(H₀/2) ⇔ f ≤ f₀ = v₀·s/(s + v₀); yield Φ((f₀ − f̄)/σ_f).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from camtwin.cli import app
from camtwin.errors import ConfigError
from camtwin.parts import resolve_module
from camtwin.sweep.tolerance import compile_tolerance, load_tolerance
from camtwin.sweep.yields import (analyse_yield, clopper_pearson_interval, run_yield,
                                  sensitivity, wilson_interval, write_yield_report)

runner = CliRunner()
DEFAULT = resolve_module("default")
H = DEFAULT.sensor.height_px                      # 960 rows
T_LINE = DEFAULT.sensor.shutter.line_time_s       # 30 µs
F_MM = DEFAULT.lens.focal_length_mm               # 2.8 mm
S_MM = DEFAULT.lens.object_distance_m * 1e3       # focused at the scene, 1 m
W_HALF_MM = DEFAULT.sensor.width_mm / 2


def fps_yield(f_min: float, sd_s: float) -> float:
    return float(stats.norm.cdf((1 / (H * f_min) - T_LINE) / sd_s))


def hfov_f0_mm(hfov_min_deg: float) -> float:
    v0 = W_HALF_MM / math.tan(math.radians(hfov_min_deg) / 2)
    return v0 * S_MM / (S_MM + v0)


def _spec(**kw) -> dict:
    base = {"name": "t", "base": "default", "seed": 11, "draws": 100,
            "tolerances": [{"field": "sensor.shutter.line_time_s", "normal": {"sd": 1e-6}}],
            "measurements": [{"metric": "frame_rate_fps", "min": 34.0}]}
    base.update(kw)
    return base


# --- the confidence interval ----------------------------------------------------------
def test_intervals_match_newcombe_1998():
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, example 81/263:
    # Wilson score 0.2553-0.3662, Clopper-Pearson ("exact") 0.2527-0.3676 (4 printed digits)
    lo, hi = wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    lo, hi = clopper_pearson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2527, 0.3676)
    # k = 0 and k = n: the interval touches the bound and stays inside [0, 1]
    assert wilson_interval(0, 50)[0] == 0.0 and clopper_pearson_interval(50, 50)[1] == 1.0


# --- Monte-Carlo yield against analytic yields ----------------------------------------
def test_one_gaussian_tolerance_cli_on_dask_matches_analytic(tmp_path):
    """One Gaussian tolerance against one threshold, through `camtwin yield` on a 2-worker
    Dask LocalCluster into the store: the analytic yield lies in the 95 % interval."""
    spec = tmp_path / "one.yaml"
    spec.write_text(yaml.safe_dump(_spec(draws=10)), encoding="utf-8")
    store = tmp_path / "store"
    res = runner.invoke(app, ["yield", str(spec), "--draws", "1500", "--out", str(store),
                              "--workers", "2", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "yield as built" in res.output
    out = json.loads((store / "report" / "yield.json").read_text())
    exact = fps_yield(34.0, 1e-6)                      # Φ((30.637 − 30)/1) = 0.738
    lo, hi = out["as_built"]["interval"]
    assert out["draws"] == 1500 and out["errors"] == 0
    assert lo <= exact <= hi, (lo, exact, hi)
    assert hi - lo < 0.05                               # n = 1500: ± 2.2 points
    for png in ("yield.png", "sensitivity.png", "scatter.png", "report.html"):
        assert (store / "report" / png).stat().st_size > 1000
    # rerun with more draws: the 1500 stored draws are reused, not recomputed
    res = runner.invoke(app, ["yield", str(spec), "--draws", "1600", "--out", str(store),
                              "--workers", "1", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert "100 computed, 1500 already stored" in res.output


def test_two_independent_tolerances_match_product_and_rank(tmp_path):
    """Two independent Gaussian tolerances, each against its own limit: Y = Φ₁·Φ₂; the
    failure of each limit is attributed to its own tolerance, and a third, irrelevant
    tolerance gets no significant share."""
    sd_f = 0.05
    hfov_min = 49.0
    spec = _spec(draws=2000, tolerances=[
        {"field": "sensor.shutter.line_time_s", "normal": {"sd": 1e-6}},
        {"field": "lens.focal_length_mm", "normal": {"sd": sd_f}},
        {"field": "sensor.read_noise_e", "normal": {"sd": 0.2}}],
        measurements=[{"metric": "frame_rate_fps", "min": 33.0},
                      {"metric": "hfov_deg", "min": hfov_min}])
    c = compile_tolerance(spec)
    run_yield(c, tmp_path / "s", executor="inline", batch_size=500)
    r = analyse_yield(c, tmp_path / "s")
    y1 = fps_yield(33.0, 1e-6)                                   # 0.941
    y2 = float(stats.norm.cdf((hfov_f0_mm(hfov_min) - F_MM) / sd_f))
    assert 0.3 < y1 * y2 < 0.8
    assert r.built.low <= y1 * y2 <= r.built.high, (r.built, y1 * y2)
    # per failure mode: its own tolerance dominates; read noise is not significant anywhere
    s = r.sensitivity
    assert next(iter(s["frame_rate_fps"])) == "sensor.shutter.line_time_s"
    assert next(iter(s["hfov_deg"])) == "lens.focal_length_mm"
    assert next(iter(s["any"])) == "lens.focal_length_mm"        # 50 % vs 6 % failures
    assert all(s[m]["sensor.read_noise_e"]["share"] < 0.05 for m in s)
    html = write_yield_report(c, r, tmp_path / "rep")
    assert "lens.focal_length_mm" in html.read_text()


def test_correlated_tolerances_gaussian_copula(tmp_path):
    """Two tolerances with ρ = 0.7 (Gaussian copula): the joint pass probability is the
    bivariate normal CDF (scipy.stats.multivariate_normal), not the product."""
    rho, sd_f = 0.7, 0.05
    spec = _spec(draws=2000, tolerances=[
        {"name": "t_line", "field": "sensor.shutter.line_time_s", "normal": {"sd": 1e-6}},
        {"name": "focal", "field": "lens.focal_length_mm", "normal": {"sd": sd_f}}],
        correlation={"tolerances": ["t_line", "focal"], "matrix": [[1, rho], [rho, 1]]},
        measurements=[{"metric": "frame_rate_fps", "min": 34.0},
                      {"metric": "hfov_deg", "min": 49.0}])
    c = compile_tolerance(spec)
    assert abs(np.corrcoef(c.scores.T)[0, 1] - rho) < 0.05
    a = (1 / (H * 34.0) - T_LINE) / 1e-6
    b = (hfov_f0_mm(49.0) - F_MM) / sd_f
    exact = float(stats.multivariate_normal(cov=[[1, rho], [rho, 1]]).cdf([a, b]))
    product = float(stats.norm.cdf(a) * stats.norm.cdf(b))
    run_yield(c, tmp_path / "s", executor="inline", batch_size=1000)
    r = analyse_yield(c, tmp_path / "s")
    assert r.built.low <= exact <= r.built.high
    assert not r.built.low <= product <= r.built.high      # independence is rejected


def test_distributions_and_reproducible_draws():
    spec = _spec(draws=4000, tolerances=[
        {"field": "sensor.read_noise_e", "truncnormal": {"mean": 0.1, "sd": 0.3, "lo": -0.2,
                                                         "hi": 0.5}},
        {"field": "lens.f_number", "uniform": {"lo": -0.1, "hi": 0.1}},
        {"field": "sensor.pixel.ar_transmission", "normal": {"sd": 0.01}, "apply": "scale"}])
    c = compile_tolerance(spec)
    tn = stats.truncnorm((-0.2 - 0.1) / 0.3, (0.5 - 0.1) / 0.3, loc=0.1, scale=0.3)
    x = c.values[:, 0]
    assert x.min() >= -0.2 and x.max() <= 0.5
    se = tn.std() / math.sqrt(x.size)
    assert abs(x.mean() - tn.mean()) < 4 * se
    assert abs(x.std() - tn.std()) < 0.05 * tn.std()
    u = c.values[:, 1]
    assert u.min() >= -0.1 and u.max() <= 0.1 and abs(u.std() - 0.2 / math.sqrt(12)) < 0.003
    p0 = c.sweep.points[7].module
    assert p0.lens.f_number == pytest.approx(DEFAULT.lens.f_number + c.values[7, 1])
    assert p0.sensor.pixel.ar_transmission == pytest.approx(
        DEFAULT.sensor.pixel.ar_transmission * (1 + c.values[7, 2]))
    # draw i depends on (seed, i) only: the same point from a run of another size
    small = compile_tolerance({**spec, "draws": 10})
    assert small.sweep.points[7].hash == c.sweep.points[7].hash
    assert np.array_equal(small.values, c.values[:10])
    other = compile_tolerance({**spec, "draws": 10, "seed": 12})
    assert not np.array_equal(other.values, c.values[:10])


def test_sensitivity_recovers_symmetric_driver():
    """A failure driven by |z| (tilt either way) has no linear signal; the quadratic term
    finds it."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((600, 4))
    fail = (np.abs(z[:, 2]) > 1.3) | (z[:, 0] > 2.0)
    s = sensitivity(z, fail, ["a", "b", "tilt", "d"])
    assert list(s)[:2] == ["tilt", "a"]
    assert s["tilt"]["share"] > 0.6 and s["tilt"]["significant"]
    assert s["b"]["share"] < 0.05 and s["d"]["share"] < 0.05


# --- assembly errors and active alignment ---------------------------------------------
def test_active_alignment_raises_yield_where_tilt_drives_failures(tmp_path):
    """Lens and sensor tilt defocus the corner (δ = x·tan τ_y + y·tan τ_x); MTF50 there
    fails its limit in many draws as built. Active alignment with a ±1° tilt range and
    ±10 µm focus range removes the cause: the yield rises, significantly (McNemar), and
    tilt — not read noise — is the driver."""
    spec = _spec(draws=20, seed=2, tolerances=[
        {"field": "assembly.tilt_y_deg", "normal": {"sd": 0.5}},
        {"field": "assembly.sensor_tilt_x_deg", "normal": {"sd": 0.4}},
        {"field": "assembly.focus_um", "normal": {"sd": 2.0}},
        {"field": "sensor.read_noise_e", "normal": {"sd": 0.2}}],
        measurements=[{"metric": "mtf50_cy_px", "conditions": {"field": 0.8}, "as": "mtf_br",
                       "min": 0.30}],
        active_alignment={"tilt_deg": 1.0, "focus_um": 10})
    c = compile_tolerance(spec)
    assert [m.column for m in c.measurements] == ["mtf_br", "aa_mtf_br"]
    run_yield(c, tmp_path / "s", executor="inline")
    r = analyse_yield(c, tmp_path / "s")
    assert r.errors == 0
    assert r.built.passed <= 14 and r.aligned.passed >= r.built.passed + 6
    assert r.aa_gain["lost"] == 0 and r.aa_gain["mcnemar_p"] < 0.05
    assert r.dominant("any") in ("assembly.tilt_y_deg", "assembly.sensor_tilt_x_deg")
    # the defocus is the analytic one: a draw's corner MTF50 equals the metric on the
    # module refocused by δ at that corner
    from camtwin.sweep.tolerance import module_at_point

    p = c.sweep.points[0]
    st = p.conditions["assembly"]
    s = p.module.sensor
    x, y = 0.8 * s.width_mm * 500, 0.8 * s.height_mm * 500
    delta = (st["focus_um"] + x * math.tan(math.radians(st["tau_y_deg"]))
             + y * math.tan(math.radians(st["tau_x_deg"])))
    m2, _ = module_at_point(p.module, {**st, "tau_x_deg": 0, "tau_y_deg": 0,
                                       "focus_um": delta}, None)
    assert m2.lens.aberrations.axis[4] == pytest.approx(
        delta / (8 * p.module.lens.working_f_number ** 2) / (2 * math.sqrt(3)) / 0.55)


def test_decenter_moves_the_field_point():
    from camtwin.sweep.tolerance import module_at_point

    s = DEFAULT.sensor
    half = 0.5 * math.hypot(s.width_mm, s.height_mm) * 1e3
    st = {"dx_um": 100.0, "dy_um": 0.0, "tau_x_deg": 0.0, "tau_y_deg": 0.0, "focus_um": 0.0}
    _, h = module_at_point(DEFAULT, st, (1000.0, 0.0))
    assert h == pytest.approx(900.0 / half)
    _, h0 = module_at_point(DEFAULT, st, (0.0, 0.0))
    assert h0 == pytest.approx(100.0 / half)


# --- bad input: one line naming field, value and valid range --------------------------
@pytest.mark.parametrize("tol, words", [
    ({"field": "lens.decenter_um", "normal": {"sd": 1}}, ["lens.decenter_um", "decenter_um",
                                                          "valid:"]),
    ({"field": "sensor.read_noise_e", "normal": {"sd": -0.1}}, ["sensor.read_noise_e",
                                                                "-0.1", "≥ 0"]),
    ({"field": "assembly.tilt_z_deg", "normal": {"sd": 1}}, ["tilt_z_deg", "assembly.tilt_x_deg"]),
    ({"field": "lens.aberrations.axis.2", "normal": {"sd": 1}}, ["Noll", "4.."]),
    ({"field": "lens.f_number", "uniform": {"lo": 1, "hi": 0}}, ["lo = 1", "hi = 0"]),
    ({"field": "lens.f_number", "gamma": {"k": 1}}, ["gamma", "normal"]),
])
def test_bad_tolerances_one_line(tol, words):
    with pytest.raises(ConfigError) as exc:
        compile_tolerance(_spec(tolerances=[tol]))
    msg = str(exc.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, msg


def test_bad_spec_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="draw .*f_number.*truncate"):
        compile_tolerance(_spec(draws=50, tolerances=[
            {"field": "lens.f_number", "normal": {"sd": 2.0}}]))
    with pytest.raises(ConfigError, match="positive semi-definite"):
        compile_tolerance(_spec(tolerances=[
            {"name": "a", "field": "lens.f_number", "normal": {"sd": 0.01}},
            {"name": "b", "field": "lens.focal_length_mm", "normal": {"sd": 0.01}},
            {"name": "c", "field": "sensor.read_noise_e", "normal": {"sd": 0.01}}],
            correlation={"tolerances": ["a", "b", "c"],
                         "matrix": [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]}))
    with pytest.raises(ConfigError, match="corners: true needs"):
        compile_tolerance(_spec(measurements=[{"metric": "frame_rate_fps", "min": 1,
                                               "corners": True}]))
    with pytest.raises(ConfigError, match="min and/or max"):
        compile_tolerance(_spec(measurements=["frame_rate_fps"]))
    with pytest.raises(ConfigError, match="active_alignment.tilt_deg = -1"):
        compile_tolerance(_spec(active_alignment={"tilt_deg": -1}))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_spec(tolerances=[{"field": "sensor.nope_e",
                                                     "normal": {"sd": 1}}])))
    res = runner.invoke(app, ["yield", str(bad), "--out", str(tmp_path / "s")])
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "nope_e" in lines[0], res.output


def test_phone_example_compiles():
    ex = Path(__file__).resolve().parents[1] / "examples" / "yield_phone_1inch.yaml"
    c = load_tolerance(ex, draws=20)
    assert c.alignment is not None and c.n_draws == 20
    assert c.sweep.base.sensor.width_mm > 12.0            # 1-inch class: 13.1 × 9.8 mm
    cols = [m.column for m in c.measurements]
    assert {"mtf50_corner_tl", "mtf50_corner_br", "aa_mtf50_centre"} <= set(cols)
