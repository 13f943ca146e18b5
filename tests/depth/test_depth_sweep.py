"""Depth modules in sweeps (camtwin.sweep.depth): compile, validation of mixed 2D/depth specs,
the Dask run into the Parquet/DuckDB store, seeded determinism, resume.

Small and fast: iToF precision on the evaluation's 48 × 48 centre crop with 2 frames per
point; one real Dask LocalCluster of one worker.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from camtwin.errors import ConfigError
from camtwin.sweep import compile_sweep, load_sweep, open_store, query, run_sweep
from camtwin.sweep.runner import run_point
from camtwin.sweep.spec import SweepSpec

ITOF = ["phone-rear-itof-imx556", "incabin-itof-mlx75027"]
DISTANCES = [0.5, 1.0, 2.0, 4.0]


def _spec(**overrides) -> dict:
    spec = {"name": "depth", "seed": 11,
            "parameters": {"module": list(ITOF), "distance_m": list(DISTANCES),
                           "reflectance": [0.1, 0.9]},
            "measurements": [{"metric": "precision_pct", "conditions": {"frames": 2}},
                             "power_mw"]}
    spec.update(overrides)
    return spec


def _compile(**overrides):
    return compile_sweep(SweepSpec.from_dict(_spec(**overrides)))


def _write(tmp_path: Path, spec: dict) -> Path:
    p = tmp_path / "sweep.yaml"
    p.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return p


def test_depth_sweep_compiles_points_conditions_and_units():
    sw = _compile()
    assert len(sw.points) == 2 * 4 * 2
    p = sw.points[0]
    assert p.module.kind == "itof" and p.module.name == ITOF[0]
    assert p.conditions == {"distance_m": 0.5, "reflectance": 0.1}
    assert sw.result_columns == ["precision_pct", "power_mw"]
    units = {f.name: dict(f.metadata)[b"unit"].decode() for f in sw.schema
             if f.metadata and b"unit" in f.metadata}
    assert units["precision_pct"] == "%" and units["power_mw"] == "mW"
    assert units["distance_m"] == "m"
    # descriptors come from the pinhole geometry: 640 × 480 px of 10 µm (IMX556)
    from camtwin.sweep.spec import descriptors

    d = descriptors(p.module)
    assert d["megapixels"] == pytest.approx(0.3072)
    assert d["sensor_area_mm2"] == pytest.approx(6.4 * 4.8)
    # identity: from the module and conditions, not the position in the grid
    other = _compile(parameters={"module": list(reversed(ITOF)),
                                 "reflectance": [0.9, 0.1], "distance_m": DISTANCES})
    assert {q.hash for q in other.points} == {q.hash for q in sw.points}


def test_depth_catalog_selection_paths_and_evaluate():
    sw = _compile(parameters={"module": {"catalog": "depth_modules", "where": {"kind": "itof"}},
                              "pixel.integration_time_s": [1e-4, 2e-4]},
                  measurements=[{"metric": "precision_pct", "conditions": {"frames": 2}}])
    names = sorted({p.params["module"] for p in sw.points})
    assert names == ["incabin-itof-mlx75027", "industrial-itof-imx556",
                     "phone-rear-itof-imx556"]
    assert sorted({p.module.pixel.integration_time_s for p in sw.points}) == [1e-4, 2e-4]
    ev = _compile(parameters={}, base=ITOF[0],
                  measurements=[{"evaluate": "phone_face_unlock"}])
    assert len(ev.points) == 1
    cols = ev.result_columns
    assert cols[:2] == ["phone_face_unlock_passed", "phone_face_unlock_failed"]
    assert "phone_face_unlock_margin_precision_pct" in cols


@pytest.mark.parametrize("overrides, fragments", [
    # a depth metric with a 2D module
    ({"parameters": {"distance_m": [1.0]}}, ["base = 'default'", "not a depth module",
                                            "phone-rear-itof-imx556"]),
    ({"parameters": {"module": ["phone-rear-itof-imx556", "default"]}},
     ["parameters.module = 'default'", "measurements[0] = 'precision_pct'",
      "incabin-itof-mlx75027"]),
    # a 2D metric with a depth module
    ({"measurements": ["precision_pct", {"metric": "snr_at_lux"}]},
     ["measurements[1] = 'snr_at_lux'", "not a depth metric", "accuracy_pct",
      "multipath_error_pct"]),
    ({"measurements": [{"evaluate": "security"}]},
     ["measurements[0].evaluate = 'security'", "phone_face_unlock"]),
    ({"parameters": {"module": ITOF, "lux": [10]}}, ["parameters.lux", "distance_m"]),
    ({"parameters": {"module": ITOF, "sensor": ["imx219"]}}, ["parameters.sensor"]),
    ({"parameters": {"module": ITOF, "pixel.demodulation_contrast": [1.5]}},
     ["demodulation_contrast = 1.5", "less than or equal to 1"]),
    ({"parameters": {"module": ITOF, "pixel.no_such": [1]}},
     ["unknown field 'no_such'", "full_well_e"]),
    ({"measurements": [{"metric": "precision_pct", "conditions": {"lux": 5}}]},
     ["unknown condition 'lux'", "distance_m"]),
    ({"measurements": [{"metric": "precision_pct", "conditions": {"frames": 0}}]},
     ["frames = 0", "1..1000"]),
])
def test_mixed_or_bad_depth_specs_fail_with_one_line(overrides, fragments):
    with pytest.raises(ConfigError) as exc:
        _compile(**overrides)
    msg = str(exc.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg, msg


def test_2d_sweeps_are_unchanged():
    sw = compile_sweep(SweepSpec.from_dict({
        "name": "t", "parameters": {"sensor.width_px": 96, "sensor.height_px": 72},
        "measurements": ["frame_rate_fps"]}))
    assert sw.points[0].module.sensor.width_px == 96   # a 2D ModuleSpec, not a depth module


def test_depth_sweep_runs_on_dask_into_the_store(tmp_path):
    sw = load_sweep(_write(tmp_path, _spec()))
    out = run_sweep(sw, tmp_path / "store", workers=1)
    assert (out.computed, out.errors) == (16, 0)
    rows = open_store(tmp_path / "store").read_table().to_pylist()
    assert len(rows) == 16 and all(r["status"] == "ok" for r in rows)
    prec = {(r["module"], r["distance_m"], r["reflectance"]): r["precision_pct"] for r in rows}
    for m in ITOF:
        for rho in (0.1, 0.9):
            # less signal per pixel (∝ ρ/d²) → a larger temporal σ [m]: σ_d ∝ √B/A
            sigma_m = [prec[(m, d, rho)] * d for d in DISTANCES]
            assert sigma_m == sorted(sigma_m) and sigma_m[-1] > 2 * sigma_m[0], (m, rho)
        # in % of distance too, at low reflectance (at 90 % the auto-exposure caps the
        # close-range signal, so σ_d/d there is flat or falls: not asserted)
        assert prec[(m, 4.0, 0.1)] > 1.5 * prec[(m, 0.5, 0.1)], m
        for d in DISTANCES:
            assert prec[(m, d, 0.1)] > prec[(m, d, 0.9)], (m, d)
        assert all(0 < prec[(m, d, r)] < 100 for d in DISTANCES for r in (0.1, 0.9))
    # the catalog power figure of the modules (IMX556 phone module 800 mW, MLX75027 360 mW)
    power = {r["module"]: r["power_mw"] for r in rows}
    assert power == {ITOF[0]: 800.0, ITOF[1]: 360.0}
    # DuckDB view of the store
    cols, res = query(tmp_path / "store",
                      "SELECT module, max(precision_pct) FROM points WHERE reflectance = 0.1 "
                      "GROUP BY module ORDER BY module")
    assert [r[0] for r in res] == sorted(ITOF)
    # same seed → the same stored values as an in-process run of the point
    by_hash = {r["point_hash"]: r for r in rows}
    for p in sw.points[::5]:
        direct = run_point(p, sw.measurements, sw.spec.seed)
        assert direct["precision_pct"] == by_hash[p.hash]["precision_pct"]
    # another seed → other noise draws (other values), same physics
    p = sw.points[0]
    other = run_point(p, sw.measurements, sw.spec.seed + 1)
    assert other["precision_pct"] != by_hash[p.hash]["precision_pct"]
    assert other["precision_pct"] == pytest.approx(by_hash[p.hash]["precision_pct"], rel=0.3)
    # rerun: every point is already stored
    again = run_sweep(sw, tmp_path / "store", workers=1)
    assert (again.skipped, again.computed) == (16, 0)


def test_beyond_range_is_no_value_not_a_crash():
    # the VL53L5CX's histogram ends near 4 m: at 20 m no zone has a usable precision —
    # the point is an error naming the reason, or its precision is missing (NaN)
    sw = _compile(parameters={"module": ["dtof-vl53l5cx"], "distance_m": [1.0, 20.0]})
    rows = [run_point(p, sw.measurements, sw.spec.seed) for p in sw.points]
    assert rows[0]["status"] == "ok" and 0 < rows[0]["precision_pct"] < 10
    far = rows[1]
    assert (far["status"] == "error" and far["error"].startswith("precision_pct: ")
            and "no valid depth" in far["error"]) or math.isnan(far["precision_pct"]), far


def test_depth_module_yaml_path_in_a_sweep(tmp_path):
    from camtwin.depth.twin import load_depth_module

    entry = load_depth_module(ITOF[1]).entry.model_dump(mode="json", exclude_none=True)
    entry["name"] = "my-itof"
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(entry), encoding="utf-8")
    spec = _spec(parameters={"module": [ITOF[1], "my.yaml"], "distance_m": [1.0]})
    sw = load_sweep(_write(tmp_path, spec))
    assert [p.module.name for p in sw.points] == [ITOF[1], "my-itof"]
    assert sw.points[0].module.pixel == sw.points[1].module.pixel
    a, b = (run_point(p, sw.measurements, sw.spec.seed) for p in sw.points)
    assert a["status"] == b["status"] == "ok"
    # other point identity (the name), same physics
    assert a["precision_pct"] == pytest.approx(b["precision_pct"], rel=0.3)


def test_depth_evaluation_in_a_sweep_has_one_margin_per_requirement():
    from camtwin.depth.catalog import depth_application

    app = depth_application("ar_vr")
    req = next(r for r in app.requirements if r.metric == "max_range_m")
    sw = _compile(parameters={"frames": [2]}, base="dtof-vl53l5cx",
                  measurements=[{"evaluate": "ar_vr"},
                                {"metric": "max_range_m", "conditions": dict(req.conditions)}])
    row = run_point(sw.points[0], sw.measurements, sw.spec.seed)
    assert row["status"] == "ok", row["error"]
    margins = [v for k, v in row.items() if k.startswith("ar_vr_margin_")]
    assert len(margins) == len(app.requirements)
    # a requirement with a negative margin (in the metric's unit) fails; one without a
    # value (NaN margin: nothing measurable at its condition) fails or is n/a
    negative = sum(1 for m in margins if math.isfinite(m) and m < 0)
    unknown = sum(1 for m in margins if not math.isfinite(m))
    assert negative >= 1                       # the VL53L5CX reaches < 5 m (AR/VR limit)
    assert negative <= row["ar_vr_failed"] <= negative + unknown
    assert row["ar_vr_passed"] == all(math.isfinite(m) and m >= 0 for m in margins)
    # the max-range margin is the range measured under the same conditions (other noise
    # draws) minus the requirement's lower limit
    assert req.min is not None
    assert row["ar_vr_margin_max_range_m"] + req.min == pytest.approx(row["max_range_m"],
                                                                      rel=0.1)
