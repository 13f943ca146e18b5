"""Sweep specs: a base module, parameters with values, measurements and a seed → points.

Example (``sweep.yaml``)::

    name: pitch-vs-aperture
    base: default                   # a part: built-in, catalog:<name>, bare name or YAML
    seed: 1
    combine: product                # or zip (parameters advance together)
    parameters:
      sensor.pixel_pitch_um: [1.0, 1.4, 2.0]                      # a list of values
      lens.f_number: {start: 1.4, stop: 2.8, num: 3, spacing: log} # a range (lin or log)
      sensor: {catalog: sensors, where: {shutter: global}}         # catalog selection
      exposure_s: [0.01, 0.033]     # a measurement condition
    measurements:
      - lux_at_snr10
      - {metric: snr_at_lux, conditions: {lux: 5}}
      - {evaluate: security}

Parameters are dotted paths into the module spec (``sensor.temperature_c``,
``lens.f_number``, ``sensor.shutter.line_time_s``), whole sub-specs (``module`` /
``sensor`` / ``lens`` lists of part names in every form of :mod:`camtwin.parts`: a built-in
name, ``catalog:<name>``, ``emva:<name>`` for sensors, a bare catalog name when unambiguous,
or a YAML path relative to the spec's folder), or
measurement conditions (``lux``, ``exposure_s``, …: applied to every measurement that accepts
that condition). A catalog selection ``{catalog: sensors|lenses|modules, where: {...}}``
takes the entries whose figures match every ``where`` item: a value (equal; strings
case-insensitive), a list (one of), or ``{min: a, max: b}``; the keys are figure names,
``vendor``/``maker``, ``name`` and ``application`` (the derived application tags).

:func:`compile_sweep` validates everything before anything runs — unknown paths, bad ranges,
unknown metrics or conditions, and every point's module spec — and raises
:class:`~camtwin.errors.ConfigError` with one line. Values that only fail while measuring (a
condition out of a metric's range, a module a metric cannot handle) are recorded per point.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from .._spec import FrozenSpec, deep_merge, read_yaml
from ..errors import ConfigError, unknown_name
from .measurements import (Measurement, column_name, field_with_unit, label_from_name,
                           parse_measurement)

#: Version of the point identity: bump when the meaning of a stored result changes.
HASH_VERSION = 1
#: Most points a sweep may have: compiling builds and validates every point's module (about
#: 0.6 ms of CPU and 13 kB each, ``benchmarks/bench_sweep.py --compile``), so 10⁵ points take
#: a minute and 1.3 GB before anything runs; a grid is counted before it is expanded.
MAX_POINTS = 100_000
#: Parameters that replace a whole sub-spec, and the catalog kind each may select from.
WHOLE_SPEC_PARAMS = {"module": "modules", "sensor": "sensors", "lens": "lenses"}
#: Columns every row has, before parameters and results.
META_COLUMNS = [("point_hash", pa.string()), ("point_index", pa.int64()),
                ("sweep", pa.string()), ("status", pa.string()), ("error", pa.string()),
                ("seconds", pa.float64()), ("cpu_seconds", pa.float64())]
#: Module descriptors stored with every row (the cost proxy for Pareto fronts among them).
DESCRIPTOR_COLUMNS = [("module_name", pa.string()), ("sensor_area_mm2", pa.float64()),
                      ("pixel_pitch_um", pa.float64()), ("megapixels", pa.float64()),
                      ("f_number", pa.float64()), ("focal_length_mm", pa.float64())]


class SweepSpec(FrozenSpec):
    """The YAML sweep spec (see the module docstring)."""

    name: str = Field("sweep", min_length=1, max_length=200)
    description: str = ""
    base: str = "default"
    seed: int = Field(0, ge=0, lt=2**63)
    combine: Literal["product", "zip"] = "product"
    parameters: dict[str, Any] = Field(default_factory=dict)
    measurements: list[Any] = Field(min_length=1)
    batch_size: int | None = Field(None, ge=1, le=10_000)


@dataclass(frozen=True)
class Point:
    """One point of a sweep: its parameters, the module they make, the swept conditions."""

    index: int
    params: dict          # parameter name → value as stored (catalog/module entries by name)
    module: Any           # ModuleSpec
    conditions: dict      # swept measurement conditions
    hash: str             # stable identity (hex): module, conditions, params, measurements, seed

    @property
    def seed_key(self) -> int:
        """The spawn key of this point's random stream (from its identity, not position)."""
        return int(self.hash[:16], 16)


@dataclass(frozen=True)
class CompiledSweep:
    spec: SweepSpec
    source: str
    base: Any
    measurements: tuple[Measurement, ...]
    param_columns: dict   # parameter name → column name
    points: tuple[Point, ...]
    schema: pa.Schema

    @property
    def result_columns(self) -> list[str]:
        return [c for m in self.measurements for c, _ in m.columns()]

    def spec_dict(self) -> dict:
        return {"source": self.source, **self.spec.model_dump(mode="json")}


def load_sweep(path: str | Path) -> CompiledSweep:
    """Read and compile a sweep spec YAML file."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (name, base, parameters, measurements)")
    spec = SweepSpec.from_dict(data, source=str(path))
    return compile_sweep(spec, base_dir=Path(path).parent, source=str(path))


def _expand_values(name: str, raw, base_dir) -> list:
    """The values of one parameter: a list, a range mapping, a catalog selection or a
    single scalar."""
    where = f"parameters.{name}"
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"{where}: the list of values is empty")
        return list(raw)
    if isinstance(raw, dict) and "catalog" in raw:
        return _catalog_selection(name, raw)
    if isinstance(raw, dict):
        extra = sorted(set(raw) - {"start", "stop", "num", "spacing"})
        if extra:
            raise ConfigError(f"{where}: unknown key {extra[0]!r}; a range has start, stop, "
                              "num, spacing (lin|log); a catalog selection has catalog, where")
        missing = [k for k in ("start", "stop", "num") if k not in raw]
        if missing:
            raise ConfigError(f"{where}: a range needs {missing[0]!r} (start, stop, num)")
        start, stop, num = raw["start"], raw["stop"], raw["num"]
        spacing = raw.get("spacing", "lin")
        for key, v in (("start", start), ("stop", stop)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"{where}.{key} = {v!r}: must be a finite number")
        if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= 100_000:
            raise ConfigError(f"{where}.num = {num!r}: must be an integer in 1..100000")
        if spacing not in ("lin", "log"):
            raise ConfigError(f"{where}.spacing = {spacing!r}: valid choices: lin, log")
        if spacing == "log":
            if not (start > 0 and stop > 0):
                raise ConfigError(f"{where}: log spacing needs start > 0 and stop > 0 "
                                  f"(got {start}, {stop})")
            vals = np.geomspace(start, stop, num)
        else:
            vals = np.linspace(start, stop, num)
        if all(isinstance(v, int) for v in (start, stop)) and np.allclose(vals, np.round(vals)):
            return [int(round(v)) for v in vals]
        return [float(v) for v in vals]
    if name == "module" and isinstance(raw, str):
        return [raw]
    if isinstance(raw, (int, float, str, bool)) or raw is None:
        return [raw]
    raise ConfigError(f"{where} = {raw!r}: expected a list, a range "
                      "{start, stop, num, spacing}, a catalog selection or a single value")


def _catalog_selection(name: str, raw: dict) -> list[str]:
    """Entry names of a ``{catalog: kind, where: {...}}`` selection, sorted."""
    from .. import catalog as cat

    where = f"parameters.{name}"
    extra = sorted(set(raw) - {"catalog", "where"})
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r} in a catalog selection "
                          "(catalog, where)")
    kind = raw["catalog"]
    if name not in WHOLE_SPEC_PARAMS:
        raise ConfigError(f"{where}: a catalog selection only fits the parameters "
                          f"{', '.join(WHOLE_SPEC_PARAMS)}")
    if kind != WHOLE_SPEC_PARAMS[name]:
        raise ConfigError(f"{where}.catalog = {kind!r}: parameter {name!r} selects from "
                          f"catalog {WHOLE_SPEC_PARAMS[name]!r}")
    conds = raw.get("where") or {}
    if not isinstance(conds, dict):
        raise ConfigError(f"{where}.where = {conds!r}: expected a mapping of field: condition")
    entries = cat.load_catalog().entries(kind)
    chosen = [n for n, e in sorted(entries.items())
              if all(_matches(_entry_field(kind, e, k, where), c, f"{where}.where.{k}")
                     for k, c in conds.items())]
    if not chosen:
        raise ConfigError(f"{where}: no {kind} entry matches {conds}")
    return [("catalog:" + n) if kind == "modules" else n for n in chosen]


def _entry_field(kind: str, entry, key: str, where: str):
    from .. import catalog as cat

    if key == "application":
        if kind == "sensors":
            return list(cat.sensor_applications(entry))
        if kind == "modules":
            c = cat.load_catalog()
            return list(cat.module_applications(c.sensors[entry.sensor], c.lenses[entry.lens],
                                                entry))
        raise ConfigError(f"{where}.application: lenses carry no application tags")
    if key not in type(entry).model_fields:
        raise unknown_name(f"{kind[:-1]} field ({where})", key, type(entry).model_fields)
    value = getattr(entry, key)
    return value.value if hasattr(value, "source") and hasattr(value, "value") else value


def _matches(value, cond, where: str) -> bool:
    def eq(a, b):
        if isinstance(a, str) and isinstance(b, str):
            return a.lower() == b.lower()
        return a == b

    if isinstance(cond, dict):
        extra = sorted(set(cond) - {"min", "max"})
        if extra:
            raise ConfigError(f"{where}: unknown key {extra[0]!r}; a bound has min, max")
        if value is None or isinstance(value, (str, list, dict, bool)):
            return False
        lo, hi = cond.get("min"), cond.get("max")
        return (lo is None or value >= lo) and (hi is None or value <= hi)
    if isinstance(value, list):   # tags: the condition (or any of a list) is among them
        wanted = cond if isinstance(cond, list) else [cond]
        return any(eq(v, w) for v in value for w in wanted)
    if isinstance(cond, list):
        return any(eq(value, c) for c in cond)
    return eq(value, cond)


def _nested(path: list[str], value) -> dict:
    out = value
    for key in reversed(path):
        out = {key: out}
    return out


def _check_path(name: str, dump: dict) -> list[str]:
    path = name.split(".")
    node = dump
    for i, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(path[:i]) or "module"
            keys = sorted(node) if isinstance(node, dict) else []
            raise ConfigError(f"parameters.{name}: unknown field {key!r} of {where}; valid: "
                              f"{', '.join(keys) if keys else '(not a nested spec)'}")
        node = node[key]
    return path


def _column_value(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return json.dumps(v, sort_keys=True)


def _arrow_type(values: list) -> pa.DataType:
    vals = [_column_value(v) for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return pa.bool_()
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True, default=str)


def point_hash(module, conditions: dict, params: dict, measurements, seed: int) -> str:
    """Stable identity of a point: SHA-256 of the resolved module, the swept conditions, the
    parameter values, the measurements and the seed (canonical JSON)."""
    ident = {"v": HASH_VERSION, "module": module.model_dump(mode="json"),
             "conditions": conditions, "params": params,
             "measurements": [m.identity() for m in measurements], "seed": int(seed)}
    return hashlib.sha256(_canonical(ident).encode()).hexdigest()[:32]


def compile_sweep(spec: SweepSpec, *, base_dir: str | Path | None = None,
                  source: str = "<spec>") -> CompiledSweep:
    """Validate ``spec`` and enumerate its points (every point's module is built and
    validated here, before anything runs)."""
    from ..module import ModuleSpec
    from ..parts import resolve_lens, resolve_module, resolve_sensor
    from .depth import compile_depth_sweep, is_depth_sweep

    base_dir = Path(base_dir) if base_dir is not None else None
    if is_depth_sweep(spec, base_dir):   # depth modules × depth metrics (sweep/depth.py)
        return compile_depth_sweep(spec, base_dir=base_dir, source=source)
    try:
        base = resolve_module(spec.base, base_dir)
    except ConfigError as exc:
        raise ConfigError(f"base: {exc}") from None
    measurements = tuple(parse_measurement(m, i) for i, m in enumerate(spec.measurements))
    cond_names: dict[str, list[str]] = {}
    for m in measurements:
        for c in m.condition_defaults():
            cond_names.setdefault(c, []).append(m.column)
    base_dump = base.model_dump()

    kinds, values = {}, {}
    from_catalog: dict[str, set] = {}   # values a catalog selection chose, per parameter
    for name, raw in spec.parameters.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"parameters: invalid name {name!r}")
        if name in WHOLE_SPEC_PARAMS:
            kinds[name] = "whole"
        elif "." in name:
            kinds[name] = "path"
            _check_path(name, base_dump)
        elif name in cond_names:
            kinds[name] = "condition"
            fixed = [m.column for m in measurements if name in dict(m.conditions)]
            if fixed:
                raise ConfigError(f"parameters.{name}: condition is both swept and fixed in "
                                  f"measurement {fixed[0]!r}")
        elif name in base_dump:
            kinds[name] = "path"
        else:
            raise ConfigError(
                f"parameters.{name}: not a module field path (e.g. sensor.pixel_pitch_um), "
                f"'module'/'sensor'/'lens', or a condition of the measurements "
                f"({', '.join(sorted(cond_names)) or 'none'})")
        values[name] = _expand_values(name, raw, base_dir)
        if isinstance(raw, dict) and "catalog" in raw:
            from_catalog[name] = set(values[name])

    names = list(values)
    combos = _combinations(spec.combine, values)
    param_columns = _param_columns(names, measurements)

    whole_cache: dict = {}

    def whole(name, value):
        """The module / sensor / lens a part name stands for (camtwin.parts: built-in,
        catalog:NAME, emva:NAME, bare name, YAML path from the spec's folder); a swapped
        lens keeps the base module's object distance (the scene stays where it is)."""
        key = (name, value)
        if key not in whole_cache:
            if not isinstance(value, str):
                raise ConfigError(f"parameters.{name} = {value!r}: expected a part name")
            ref = (f"catalog:{value}" if value in from_catalog.get(name, ())
                   and not value.startswith("catalog:") else value)
            if name == "module":
                part = resolve_module(ref, base_dir)
            elif name == "sensor":
                part = resolve_sensor(ref, base_dir)
            else:
                part = resolve_lens(ref, base_dir,
                                    object_distance_m=base.lens.object_distance_m)
            whole_cache[key] = part.model_dump()
        return whole_cache[key]

    points = []
    for idx, combo in enumerate(combos):
        params = dict(zip(names, combo))
        data = base.model_dump()
        conditions = {}
        try:
            if "module" in params:
                data = copy.deepcopy(whole("module", params["module"]))
            for n in ("sensor", "lens"):
                if n in params:
                    data[n] = copy.deepcopy(whole(n, params[n]))
            for n, v in params.items():
                if kinds[n] == "path":
                    deep_merge(data, _nested(n.split("."), v))
                elif kinds[n] == "condition":
                    conditions[n] = v
            module = ModuleSpec.from_dict(data)
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            raise ConfigError(f"point {idx} ({shown}): {exc}") from None
        stored = {n: _column_value(v) for n, v in params.items()}
        points.append(Point(index=idx, params=stored, module=module, conditions=conditions,
                            hash=point_hash(module, conditions, stored, measurements,
                                            spec.seed)))
    return _compiled(spec, source, base, measurements, param_columns, values, points)


def _combinations(combine: str, values: dict[str, list]) -> list[tuple]:
    """The points' parameter values, one tuple per point in the order of ``values``:
    the grid (``combine: product``) or the values side by side (``zip``); at most
    :data:`MAX_POINTS` (counted before anything is expanded)."""
    names = list(values)
    lengths = {n: len(values[n]) for n in names}
    if combine == "zip" and names:
        if len(set(lengths.values())) > 1:
            raise ConfigError("combine: zip needs equal numbers of values; got " + ", ".join(
                f"{n}: {k}" for n, k in lengths.items()))
        n_points = next(iter(lengths.values()))
    else:
        n_points = math.prod(lengths.values())
    if n_points > MAX_POINTS:
        raise ConfigError(f"parameters: the grid has {n_points} points ("
                          + (" × ".join(f"{n}: {k}" for n, k in lengths.items())
                             if combine == "product" else "combine: zip") +
                          f"); at most {MAX_POINTS} points per sweep — split it into "
                          "several sweeps into one store")
    if combine == "zip" and names:
        return list(zip(*(values[n] for n in names)))
    return list(itertools.product(*(values[n] for n in names)))


def _param_columns(names: list[str], measurements) -> dict[str, str]:
    """Parameter name → result column; every parameter and measurement column must be
    unique and none may take a reserved (meta or descriptor) column's name."""
    param_columns = {n: column_name(n) for n in names}
    meta_names = {c for c, _ in META_COLUMNS + DESCRIPTOR_COLUMNS}
    seen: dict[str, str] = {}
    for label, col in [*((f"parameter {n}", c) for n, c in param_columns.items()),
                       *((f"measurement {m.kind}", c) for m in measurements
                         for c, _ in m.columns())]:
        if col in meta_names:
            raise ConfigError(f"{label}: column {col!r} is reserved; rename it (measurements "
                              "take 'as: NAME')")
        if col in seen:
            raise ConfigError(f"{label}: column {col!r} is also used by {seen[col]}; rename "
                              "one (measurements take 'as: NAME')")
        seen[col] = label
    return param_columns


def _compiled(spec, source: str, base, measurements, param_columns: dict, values: dict,
              points: list) -> CompiledSweep:
    """The compiled sweep (no two points alike) with its Arrow result schema: meta,
    parameter, descriptor and measurement columns, each with its label and unit."""
    dup = len(points) - len({p.hash for p in points})
    if dup:
        raise ConfigError(f"parameters: {dup} point(s) repeat another point exactly")

    def described(name, dtype, label_of=None):
        return field_with_unit(name, dtype, *label_from_name(label_of or name))

    schema = pa.schema(
        [*(described(c, t) if t == pa.float64() else pa.field(c, t) for c, t in META_COLUMNS),
         *(described(param_columns[n], _arrow_type(values[n]), n) for n in values),
         *(described(c, t) for c, t in DESCRIPTOR_COLUMNS),
         *(f for m in measurements for f in m.fields())])
    return CompiledSweep(spec=spec, source=source, base=base, measurements=measurements,
                         param_columns=param_columns, points=tuple(points), schema=schema)


def descriptors(module) -> dict:
    """The descriptor columns of a module (cost proxy: sensor area)."""
    if hasattr(module, "geometry"):      # a depth module (sweep/depth.py)
        from .depth import depth_descriptors

        return depth_descriptors(module)
    s, lens = module.sensor, module.lens
    return {"module_name": module.name,
            "sensor_area_mm2": float(s.width_mm * s.height_mm),
            "pixel_pitch_um": float(s.pixel_pitch_um),
            "megapixels": s.width_px * s.height_px / 1e6,
            "f_number": float(lens.f_number),
            "focal_length_mm": float(lens.focal_length_mm)}
