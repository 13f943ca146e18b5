"""Depth modules in sweeps: catalog depth modules × depth metrics × conditions.

A sweep is a *depth sweep* when it names a depth module (``base`` or ``parameters.module``:
a catalog depth module ``NAME`` / ``catalog:NAME``, or a depth module YAML — one whose
``kind`` is ``itof``, ``dtof`` or ``stereo``) or a depth-only measurement. Example::

    name: itof-precision-vs-distance
    seed: 3
    parameters:
      module: [phone-rear-itof-imx556, incabin-itof-mlx75027]   # or {catalog: depth_modules,
                                                                 #     where: {kind: itof}}
      distance_m: {start: 0.3, stop: 5.0, num: 8, spacing: log} # conditions of the metrics
      reflectance: [0.1, 0.5, 0.9]
      pixel.integration_time_s: [0.0002, 0.0005]                # paths into the built specs
    measurements:
      - precision_pct                                  # any name of DEPTH_METRICS
      - {metric: accuracy_pct, conditions: {frames: 4}, as: accuracy}
      - {evaluate: phone_face_unlock}                  # a depth application profile

Every point is measured with :func:`camtwin.depth.evaluate.measure_depth_metric` under the
point's conditions (the metric's own conditions of :data:`~camtwin.depth.catalog.DEPTH_METRICS`,
plus ``frames``: captures per condition, default
:data:`~camtwin.depth.evaluate.DEFAULT_FRAMES`), seeded from the point's random stream
(:func:`camtwin.sweep.runner.run_point`), and stored like every other point (one column per
metric in its unit; a condition where the metric gives no value — no valid depth — marks the
point ``error`` with the reason). Dotted parameters reach into the module's built specs:
``geometry.*`` (:class:`~camtwin.depth.scene.PinholeGeometry`), ``pixel.*`` (``ITofSpec`` /
``DTofSpec`` / ``StereoSpec``) and ``illuminator.*`` (``Illuminator``), validated like the
specs themselves. Depth and 2D parts do not mix in one sweep: a depth metric with a 2D module,
or a 2D metric with a depth module, is a one-line :class:`~camtwin.errors.ConfigError` naming
the field, the value and the valid choices.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from .._spec import deep_merge, read_yaml
from ..errors import ConfigError, unknown_name
from .measurements import Measurement, column_name, field_with_unit

#: Condition defaults of the depth measurements (None: the metric's own default, see
#: :func:`camtwin.depth.evaluate.measure_depth_metric`); ``frames`` is captures per condition.
DEPTH_CONDITION_DEFAULTS = {"distance_m": 1.0, "reflectance": 0.5, "ambient_klx": 0.0,
                            "precision_pct": 1.0, "detection_rate": 0.9, "opening_deg": 90.0,
                            "near_m": 1.0, "far_m": None, "frame_rate_fps": None,
                            "frames": 8}
#: Readable labels of the depth metrics (the result columns' ``label`` metadata).
DEPTH_LABELS = {"accuracy_pct": "depth accuracy |mean error| / distance",
                "precision_pct": "depth precision temporal σ / distance",
                "precision_pct_ambient": "depth precision under ambient light",
                "max_range_m": "maximum range at a precision",
                "multipath_error_pct": "multipath error on a corner",
                "flying_pixel_fraction": "flying-pixel fraction at a step edge",
                "power_mw": "module power", "energy_per_frame_mj": "energy per depth frame",
                "frame_rate_fps": "depth frame rate"}
#: Most captures per condition a sweep measurement may ask for.
MAX_FRAMES = 1000
#: Sections of a depth module a dotted parameter may reach into.
DEPTH_SECTIONS = ("geometry", "pixel", "illuminator")
#: Value of ``{catalog: ...}`` that selects catalog depth modules.
DEPTH_CATALOG = "depth_modules"
_DEPTH_KINDS = ("itof", "dtof", "stereo")


def depth_metric_names() -> list[str]:
    from ..depth.catalog import DEPTH_METRICS

    return list(DEPTH_METRICS)


def depth_module_names() -> list[str]:
    from ..depth.twin import depth_module_names as names

    return names()


def _path(ref: str, base_dir) -> Path:
    p = Path(ref)
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def is_depth_module_ref(ref, base_dir=None) -> bool:
    """True for a catalog depth module (``NAME``, ``catalog:NAME``) or a depth module YAML
    (a mapping whose ``kind`` is itof, dtof or stereo)."""
    if not isinstance(ref, str):
        return False
    if ref.lower().endswith((".yaml", ".yml")):
        p = _path(ref, base_dir)
        if not p.is_file():
            return False
        try:
            data = read_yaml(p)
        except ConfigError:
            return False
        return isinstance(data, dict) and data.get("kind") in _DEPTH_KINDS
    name = ref.split(":", 1)[1] if ref.startswith("catalog:") else ref
    return name in depth_module_names()


def _measurement_name(item) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        if "evaluate" in item:
            app = item["evaluate"]
            from ..depth.catalog import builtin_depth_applications

            return "evaluate:depth" if app in builtin_depth_applications() else "evaluate"
        m = item.get("metric")
        return m if isinstance(m, str) else None
    return None


def is_depth_sweep(spec, base_dir=None) -> bool:
    """Does ``spec`` name a depth module or a depth-only measurement?"""
    from ..depth.catalog import DEPTH_METRICS
    from .measurements import valid_kinds

    two_d = set(valid_kinds())
    for item in spec.measurements:
        name = _measurement_name(item)
        if name == "evaluate:depth" or (name in DEPTH_METRICS and name not in two_d):
            return True
    mod = spec.parameters.get("module")
    if isinstance(mod, dict) and mod.get("catalog") == DEPTH_CATALOG:
        return True
    refs = mod if isinstance(mod, list) else [mod] if isinstance(mod, str) else []
    return any(is_depth_module_ref(r, base_dir) for r in [spec.base, *refs])


# --------------------------------------------------------------------------------------
# measurements
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DepthMeasurement(Measurement):
    """A depth metric (``kind`` in :data:`~camtwin.depth.catalog.DEPTH_METRICS`) or a
    depth application's verdict (``kind == "evaluate"``) measured at every point: a
    :class:`camtwin.sweep.measurements.Measurement` (same fields, result columns and
    margin columns of an evaluation) with the depth metrics' conditions and runs."""

    def condition_defaults(self) -> dict:
        from ..depth.catalog import DEPTH_METRICS

        if self.kind == "evaluate":
            return {"frames": DEPTH_CONDITION_DEFAULTS["frames"]}
        return {**{c: DEPTH_CONDITION_DEFAULTS.get(c) for c in DEPTH_METRICS[self.kind][1]},
                "frames": DEPTH_CONDITION_DEFAULTS["frames"]}

    def fields(self) -> list[pa.Field]:
        from ..depth.catalog import DEPTH_METRICS

        if self.kind == "evaluate":   # passed, failed, one margin per requirement
            return super().fields()
        cond = ", ".join(f"{k} = {v}" for k, v in self.conditions)
        at = f" ({cond})" if cond else ""
        unit = DEPTH_METRICS[self.kind][0]
        return [field_with_unit(self.column, pa.float64(), f"{DEPTH_LABELS[self.kind]}{at}",
                                unit)]

    def identity(self) -> dict:
        # the kind is prefixed: a depth and a 2D metric of one name never share a hash
        return {**super().identity(), "kind": f"depth:{self.kind}"}

    def run(self, module, swept: dict, rng: np.random.Generator) -> dict:
        """Measure on the :class:`~camtwin.depth.twin.DepthModule` ``module`` with the
        point's swept conditions this measurement accepts; column → value."""
        from ..depth.evaluate import evaluate_depth, measure_depth_metric

        accepted = self.condition_defaults()
        cond = {**dict(self.conditions), **{k: v for k, v in swept.items() if k in accepted}}
        frames = _frames(cond.pop("frames", DEPTH_CONDITION_DEFAULTS["frames"]), self.kind)
        seed = int(rng.integers(0, 2**63))
        if self.kind == "evaluate":
            ev = evaluate_depth(module, self._app, frames=frames, seed=seed)
            return {f"{self.column}_passed": bool(ev.passed),
                    f"{self.column}_failed": int(sum(v.status == "fail" for v in ev.verdicts)),
                    **{col: _margin(v) for (col, _), v in zip(self._margin_columns(),
                                                                ev.verdicts)}}
        for k, v in cond.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{self.kind}: {k} = {v!r}: must be a finite number")
        res = measure_depth_metric(module, self.kind, cond, frames=frames, seed=seed)
        if res.reason is not None:
            raise ConfigError(f"{self.kind}: {res.reason}")
        return {self.column: float(res.value)}


def _margin(verdict) -> float:
    v = verdict.value
    if verdict.result.reason is not None or not (math.isfinite(v) or v == math.inf):
        return math.nan
    return float(verdict.requirement.margin(v))


def _frames(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FRAMES:
        raise ConfigError(f"{where}: frames = {value!r}: must be an integer in 1..{MAX_FRAMES}")
    return value


def parse_depth_measurement(item, index: int) -> DepthMeasurement:
    """One entry of a depth sweep's ``measurements``: a depth metric name,
    ``{metric: NAME, conditions: {...}, as: COLUMN}`` or ``{evaluate: DEPTH_APPLICATION}``."""
    from ..depth.catalog import DEPTH_METRICS, builtin_depth_applications, depth_application

    where = f"measurements[{index}]"
    if isinstance(item, str):
        item = {"metric": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{where} = {item!r}: expected a depth metric name or a mapping")
    item = dict(item)
    app = None
    if "evaluate" in item:
        if "metric" in item:
            raise ConfigError(f"{where}: give either 'metric' or 'evaluate', not both")
        name = item.pop("evaluate")
        if not isinstance(name, str) or name not in builtin_depth_applications():
            raise ConfigError(f"{where}.evaluate = {name!r}: not a depth application "
                              "(the modules are depth modules); valid choices: "
                              f"{', '.join(builtin_depth_applications())}")
        app = depth_application(name)
        item["metric"] = "evaluate"
    extra = sorted(set(item) - {"metric", "conditions", "as"})
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r}; valid: metric, conditions, as, "
                          "evaluate")
    kind = item.get("metric")
    if kind != "evaluate" and kind not in DEPTH_METRICS:
        raise ConfigError(f"{where} = {kind!r}: not a depth metric (the modules are depth "
                          f"modules); valid choices: {', '.join(DEPTH_METRICS)}, "
                          "{evaluate: DEPTH_APPLICATION}")
    conditions = item.get("conditions") or {}
    if not isinstance(conditions, dict):
        raise ConfigError(f"{where}.conditions = {conditions!r}: expected a mapping")
    column = column_name(item.get("as", app.name if app is not None else kind))
    m = DepthMeasurement(kind=kind, column=column, conditions=tuple(sorted(conditions.items())),
                         application=None if app is None else app.name, _app=app)
    bad = sorted(set(conditions) - set(m.condition_defaults()))
    if bad:
        raise ConfigError(f"{where} ({kind}): unknown condition {bad[0]!r}; valid: "
                          f"{', '.join(m.condition_defaults())}")
    if "frames" in conditions:
        _frames(conditions["frames"], f"{where}.conditions")
    return m


# --------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------
def _load(ref: str, base_dir, where: str):
    from ..depth.twin import load_depth_module

    text = str(_path(ref, base_dir)) if ref.lower().endswith((".yaml", ".yml")) else ref
    try:
        return load_depth_module(text)
    except ConfigError as exc:
        raise ConfigError(f"{where} = {ref!r}: {exc}") from None


def _not_depth(where: str, value, metric_where: str | None) -> ConfigError:
    why = (f"a depth measurement ({metric_where}) needs depth modules" if metric_where
           else "a depth sweep needs depth modules")
    return ConfigError(f"{where} = {value!r}: not a depth module; {why}; valid choices: "
                       f"{', '.join(depth_module_names())} (or a depth module YAML)")


def _entry_value(entry, key: str, where: str):
    if key not in type(entry).model_fields:
        raise unknown_name(f"depth module field ({where})", key, type(entry).model_fields)
    v = getattr(entry, key)
    return v.value if hasattr(v, "source") and hasattr(v, "value") else v


def _depth_catalog_selection(raw: dict) -> list[str]:
    """``{catalog: depth_modules, where: {field: condition}}`` → depth module names."""
    from ..depth.catalog import depth_module_entry
    from .spec import _matches

    where = "parameters.module"
    extra = sorted(set(raw) - {"catalog", "where"})
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r} in a catalog selection "
                          "(catalog, where)")
    conds = raw.get("where") or {}
    if not isinstance(conds, dict):
        raise ConfigError(f"{where}.where = {conds!r}: expected a mapping of field: condition")
    chosen = [n for n in sorted(depth_module_names())
              if all(_matches(_entry_value(depth_module_entry(n), k, f"{where}.where"), c,
                              f"{where}.where.{k}") for k, c in conds.items())]
    if not chosen:
        raise ConfigError(f"{where}: no depth module matches {conds}")
    return chosen


def _with_paths(module, paths: dict):
    """``module`` with dotted parameters applied to its geometry / pixel / illuminator."""
    if not paths:
        return module
    data = {s: (None if getattr(module, s) is None else getattr(module, s).model_dump())
            for s in DEPTH_SECTIONS}
    for name, value in paths.items():
        sec, *rest = name.split(".")
        node = data[sec]
        if node is None:
            raise ConfigError(f"parameters.{name}: module {module.name!r} has no {sec}")
        for i, key in enumerate(rest):
            if not isinstance(node, dict) or key not in node:
                valid = sorted(node) if isinstance(node, dict) else []
                raise ConfigError(f"parameters.{name}: unknown field {key!r} of "
                                  f"{'.'.join([sec, *rest[:i]])} ({module.kind} module); "
                                  f"valid: {', '.join(valid) or '(not a nested spec)'}")
            node = node[key]
        from .spec import _nested

        deep_merge(data[sec], _nested(rest, value))
    changes = {}
    for sec in {n.split(".")[0] for n in paths}:
        spec = getattr(module, sec)
        changes[sec] = type(spec).from_dict(data[sec], source=f"{module.name} {sec}")
    return replace(module, **changes)


def depth_module_identity(module) -> dict:
    """What a point hash sees of a depth module: its built specs and module figures."""
    dump = {s: (None if getattr(module, s) is None else getattr(module, s).model_dump(
        mode="json")) for s in DEPTH_SECTIONS}
    return {"name": module.name, "kind": module.kind, **dump,
            "filter_bandwidth_nm": module.filter_bandwidth_nm,
            "frame_rate_fps": module.frame_rate_fps, "power_mw": module.power_mw,
            "sensor_power_mw": module.sensor_power_mw,
            "illuminator_electrical_w": module.illuminator_electrical_w}


def depth_point_hash(module, conditions: dict, params: dict, measurements, seed: int) -> str:
    """:func:`camtwin.sweep.spec.point_hash` of a depth point."""
    from .spec import HASH_VERSION, _canonical

    ident = {"v": HASH_VERSION, "depth_module": depth_module_identity(module),
             "conditions": conditions, "params": params,
             "measurements": [m.identity() for m in measurements], "seed": int(seed)}
    return hashlib.sha256(_canonical(ident).encode()).hexdigest()[:32]


def depth_descriptors(module) -> dict:
    """The descriptor columns of a depth module (from its pinhole camera geometry)."""
    g = module.geometry
    pitch_mm = g.pixel_pitch_um * 1e-3
    return {"module_name": module.name,
            "sensor_area_mm2": float(g.width_px * pitch_mm * g.height_px * pitch_mm),
            "pixel_pitch_um": float(g.pixel_pitch_um),
            "megapixels": g.width_px * g.height_px / 1e6,
            "f_number": float(g.f_number), "focal_length_mm": float(g.focal_length_mm)}


# --------------------------------------------------------------------------------------
# compile
# --------------------------------------------------------------------------------------
def compile_depth_sweep(spec, *, base_dir=None, source: str = "<spec>"):
    """:func:`camtwin.sweep.spec.compile_sweep` for a depth sweep (module docstring)."""
    from .spec import (Point, _column_value, _combinations, _compiled, _expand_values,
                       _param_columns)

    base_dir = Path(base_dir) if base_dir is not None else None
    metric_where = None
    from ..depth.catalog import DEPTH_METRICS
    from .measurements import valid_kinds

    two_d = set(valid_kinds())
    for i, item in enumerate(spec.measurements):
        name = _measurement_name(item)
        if name == "evaluate:depth" or (name in DEPTH_METRICS and name not in two_d):
            metric_where = f"measurements[{i}] = {name.replace('evaluate:depth', 'evaluate')!r}"
            break

    raw_mod = spec.parameters.get("module")
    if raw_mod is None:
        if not is_depth_module_ref(spec.base, base_dir):
            raise _not_depth("base", spec.base, metric_where)
        refs = [spec.base]
    else:
        if spec.base != "default" and not is_depth_module_ref(spec.base, base_dir):
            raise _not_depth("base", spec.base, metric_where)
        if isinstance(raw_mod, dict) and raw_mod.get("catalog") == DEPTH_CATALOG:
            refs = _depth_catalog_selection(raw_mod)
        elif isinstance(raw_mod, dict) and "catalog" in raw_mod:
            raise ConfigError(f"parameters.module.catalog = {raw_mod['catalog']!r}: a depth "
                              f"sweep selects from catalog {DEPTH_CATALOG!r}")
        else:
            refs = _expand_values("module", raw_mod, base_dir)
        for r in refs:
            if not is_depth_module_ref(r, base_dir):
                raise _not_depth("parameters.module", r, metric_where)
    measurements = tuple(parse_depth_measurement(m, i) for i, m in enumerate(spec.measurements))
    cond_names: dict[str, list[str]] = {}
    for m in measurements:
        for c in m.condition_defaults():
            cond_names.setdefault(c, []).append(m.column)
    modules = {r: _load(r, base_dir, "parameters.module" if raw_mod is not None else "base")
               for r in refs}
    base = modules[refs[0]]

    kinds, values = {}, {}
    for name, raw in spec.parameters.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"parameters: invalid name {name!r}")
        if name == "module":
            kinds[name], values[name] = "module", list(refs)
            continue
        if name in ("sensor", "lens"):
            raise ConfigError(f"parameters.{name}: a depth sweep swaps whole modules "
                              "(parameters.module) or specs by path (geometry.*, pixel.*, "
                              "illuminator.*)")
        if "." in name:
            if name.split(".")[0] not in DEPTH_SECTIONS:
                raise ConfigError(f"parameters.{name}: unknown section {name.split('.')[0]!r} "
                                  f"of a depth module; valid: {', '.join(DEPTH_SECTIONS)}")
            kinds[name] = "path"
        elif name in cond_names:
            fixed = [m.column for m in measurements if name in dict(m.conditions)]
            if fixed:
                raise ConfigError(f"parameters.{name}: condition is both swept and fixed in "
                                  f"measurement {fixed[0]!r}")
            kinds[name] = "condition"
        else:
            raise ConfigError(
                f"parameters.{name}: not a depth module path (geometry.*, pixel.*, "
                f"illuminator.*), 'module', or a condition of the depth measurements "
                f"({', '.join(sorted(cond_names))})")
        values[name] = _expand_values(name, raw, base_dir)

    names = list(values)
    combos = _combinations(spec.combine, values)
    param_columns = _param_columns(names, measurements)

    points = []
    for idx, combo in enumerate(combos):
        params = dict(zip(names, combo))
        module = modules[params["module"]] if "module" in params else base
        paths = {n: copy.deepcopy(v) for n, v in params.items() if kinds[n] == "path"}
        conditions = {n: v for n, v in params.items() if kinds[n] == "condition"}
        try:
            module = _with_paths(module, paths)
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            raise ConfigError(f"point {idx} ({shown}): {exc}") from None
        stored = {n: _column_value(v) for n, v in params.items()}
        points.append(Point(index=idx, params=stored, module=module, conditions=conditions,
                            hash=depth_point_hash(module, conditions, stored, measurements,
                                                  spec.seed)))
    return _compiled(spec, source, base, measurements, param_columns, values, points)
