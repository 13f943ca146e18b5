"""What a sweep measures at every point: metrics, SNR at a light level, EMVA 1288, verdicts.

A sweep spec lists measurements; each one becomes a :class:`Measurement` that declares its
result columns (name → Arrow type) up front, so every Parquet file of a store has the same
schema, and runs on one module with one random generator:

``<metric>`` (any name of :data:`camtwin.evaluate.metrics.METRICS`)
    One column, the metric's value in its unit; conditions as the metric's.
``snr_at_lux``
    SNR (signal / total noise, linear) of an 18 % grey target at ``lux`` (default 10) —
    one point of :func:`camtwin.evaluate.metrics.snr_curve`. Conditions ``lux``,
    ``illuminant``, ``reflectance``, ``exposure_s``. A saturated target is an error.
``mtf50_centre`` / ``mtf50_corner``
    ``mtf50_cy_px`` at field 0 / 0.8 (condition ``lux``).
``emva1288``
    The EMVA 1288 R4.0 campaign simulated on the sensor cropped to ``crop_px`` × ¾·``crop_px``
    (:func:`camtwin.measure.emva1288.simulate_measurement` + ``analyse``); columns
    ``emva_<figure>`` for the figures in :data:`EMVA_FIGURES`. Conditions ``crop_px`` (128),
    ``wavelength_nm`` (525).
``evaluate``
    The verdict of :func:`camtwin.evaluate.verdict.evaluate` for an application profile
    (``{evaluate: security}``): columns ``<app>_passed``, ``<app>_failed`` (number of
    failed requirements) and one ``<app>_margin_<metric>`` per requirement: the signed
    distance to its limit in the metric's own unit (> 0 passes; a second requirement on the
    same metric gets ``_2``). No column mixes units (the former ``<app>_min_margin``, the
    smallest margin ÷ limit, compared a fraction of lx with a fraction of dB). The point
    identity of an evaluation includes its columns, so a store written with the old
    columns recomputes those points.

Every result column carries its unit and a readable label in the Parquet field metadata
(``unit``, ``label``; see :func:`field_with_unit`), which the sweep report uses for its axes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from ..errors import ConfigError, unknown_name

#: EMVA 1288 summary figures stored by the ``emva1288`` measurement (column ``emva_<name>``).
EMVA_FIGURES = ("quantum_efficiency", "system_gain_dn_per_e", "temporal_dark_noise_e",
                "saturation_capacity_e", "absolute_sensitivity_threshold_e", "snr_max_db",
                "dynamic_range_db", "dark_current_e_per_s", "dsnu_e", "prnu_percent",
                "linearity_error_percent")

_SNR_CONDITIONS = {"lux": 10.0, "illuminant": "D65", "reflectance": 0.18, "exposure_s": 1 / 30}
_EMVA_CONDITIONS = {"crop_px": 128, "wavelength_nm": 525.0}
_MTF_ALIASES = {"mtf50_centre": 0.0, "mtf50_corner": 0.8}
#: Measurement kinds beyond the plain metric names.
EXTRA_KINDS = ("snr_at_lux", "mtf50_centre", "mtf50_corner", "emva1288", "evaluate")


#: Units of quantities named by the camtwin convention (the unit is the name's suffix);
#: longest suffixes first.
_SUFFIX_UNITS = (("_e_per_s", "e⁻/s"), ("_dn_per_e", "DN/e⁻"), ("_mw_m2", "mW/m²"),
                 ("_w_m2", "W/m²"), ("_px_m", "px/m"), ("_cy_px", "cy/px"),
                 ("_percent", "%"), ("_mm2", "mm²"), ("_fps", "fps"), ("_deg", "°"),
                 ("_lux", "lx"), ("_um", "µm"), ("_mm", "mm"), ("_nm", "nm"), ("_ms", "ms"),
                 ("_db", "dB"), ("_dn", "DN"), ("_px", "px"), ("_mp", "MP"), ("_hz", "Hz"),
                 ("_s", "s"), ("_e", "e⁻"), ("_c", "°C"), ("_m", "m"), ("_k", "K"))
#: Names whose unit is not a suffix (measurement conditions, descriptors).
_NAME_UNITS = {"lux": ("illuminance", "lx"), "f_number": ("f-number", ""),
               "percent": ("", "%"),
               "reflectance": ("reflectance", ""), "field": ("field position", ""),
               "megapixels": ("resolution", "MP"), "seconds": ("wall time per point", "s"),
               "cpu_seconds": ("CPU time per point", "s")}


def label_from_name(name: str) -> tuple[str, str]:
    """(label, unit) of a parameter, condition or descriptor named by the camtwin convention
    (``sensor.pixel_pitch_um`` → ``("sensor pixel pitch", "µm")``); unit ``""`` when the
    name carries none."""
    key = str(name).lower()
    last = key.replace(".", "_")
    if last in _NAME_UNITS:
        return _NAME_UNITS[last]
    for whole, (label, unit) in _NAME_UNITS.items():
        if last.endswith("_" + whole):
            prefix = last[:-len(whole)].replace("_", " ").strip()
            return (f"{prefix} {label}".strip(), unit)
    for suffix, unit in _SUFFIX_UNITS:
        if key.endswith(suffix):
            return key[:-len(suffix)].replace(".", " ").replace("_", " ").strip(), unit
    return key.replace(".", " ").replace("_", " "), ""


def field_with_unit(name: str, dtype: pa.DataType, label: str, unit: str) -> pa.Field:
    """An Arrow field with ``unit`` and ``label`` in its metadata."""
    return pa.field(name, dtype, metadata={"unit": unit, "label": label})


def field_label_unit(field: pa.Field) -> tuple[str, str]:
    """(label, unit) of a field written by :func:`field_with_unit`; for other fields (stores
    written before units were recorded) guessed from the column name."""
    meta = {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}
    if "label" in meta:
        return meta["label"], meta.get("unit", "")
    return label_from_name(field.name)


def axis_label(field: pa.Field) -> str:
    """``label [unit]`` (or the label alone for a dimensionless column)."""
    label, unit = field_label_unit(field)
    return f"{label} [{unit}]" if unit else label


def column_name(text: str) -> str:
    """A SQL-friendly column name: lower case, anything but [a-z0-9_] → ``_``."""
    name = re.sub(r"[^a-z0-9_]", "_", str(text).lower())
    return name if not name[:1].isdigit() else f"c_{name}"


def valid_kinds() -> list[str]:
    from ..evaluate.metrics import METRICS

    return [*METRICS, *EXTRA_KINDS]


@dataclass(frozen=True)
class Measurement:
    """One measurement of a sweep (see the module docstring)."""

    kind: str
    column: str
    conditions: tuple = ()           # fixed conditions: sorted (name, value) pairs
    application: str | None = None   # kind == "evaluate"
    _app: object = field(default=None, compare=False, repr=False)

    # -- declarations -------------------------------------------------------------------
    def condition_defaults(self) -> dict:
        """Every condition this measurement accepts, with its default."""
        from ..evaluate.metrics import METRICS

        if self.kind == "snr_at_lux":
            return dict(_SNR_CONDITIONS)
        if self.kind in _MTF_ALIASES:
            return {"lux": METRICS["mtf50_cy_px"].conditions["lux"]}
        if self.kind == "emva1288":
            return dict(_EMVA_CONDITIONS)
        if self.kind == "evaluate":
            return {}
        return dict(METRICS[self.kind].conditions)

    def columns(self) -> list[tuple[str, pa.DataType]]:
        return [(f.name, f.type) for f in self.fields()]

    def fields(self) -> list[pa.Field]:
        """The result columns as Arrow fields with their unit and label."""
        from ..evaluate.metrics import METRICS

        cond = ", ".join(f"{k} = {v}" for k, v in self.conditions)
        at = f" ({cond})" if cond else ""
        if self.kind == "emva1288":
            from ..measure.emva1288.report import SUMMARY_ROWS

            rows = {k: (label, unit) for k, label, unit, _ in SUMMARY_ROWS}
            rows["quantum_efficiency"] = ("Quantum efficiency η (fraction)", "")
            return [field_with_unit(f"{self.column}_{k}", pa.float64(),
                                    f"EMVA 1288 {rows[k][0]}{at}", rows[k][1])
                    for k in EMVA_FIGURES]
        if self.kind == "evaluate":
            app = self._app.name
            return [field_with_unit(f"{self.column}_passed", pa.bool_(),
                                    f"{app}: every requirement met", ""),
                    field_with_unit(f"{self.column}_failed", pa.int64(),
                                    f"{app}: requirements failed", "count"),
                    *(field_with_unit(col, pa.float64(),
                                      f"{app} margin: {r.metric} ({r.limit_text})", r.unit)
                      for col, r in self._margin_columns())]
        if self.kind == "snr_at_lux":
            return [field_with_unit(self.column, pa.float64(),
                                    f"SNR of 18 % grey (signal / total noise){at}", "")]
        if self.kind in _MTF_ALIASES:
            where = "the centre" if self.kind == "mtf50_centre" else "field 0.8"
            return [field_with_unit(self.column, pa.float64(), f"MTF50 at {where}{at}",
                                    METRICS["mtf50_cy_px"].unit)]
        m = METRICS[self.kind]
        return [field_with_unit(self.column, pa.float64(), f"{m.description}{at}", m.unit)]

    def _margin_columns(self) -> list[tuple[str, object]]:
        """(column, requirement) of every requirement of the evaluated application."""
        out, seen = [], {}
        for r in self._app.requirements:
            seen[r.metric] = seen.get(r.metric, 0) + 1
            suffix = "" if seen[r.metric] == 1 else f"_{seen[r.metric]}"
            out.append((f"{self.column}_margin_{column_name(r.metric)}{suffix}", r))
        return out

    def identity(self) -> dict:
        """What the point hash sees of this measurement (with the result columns of an
        evaluation, whose set changed with v1 of its margins)."""
        ident = {"kind": self.kind, "column": self.column,
                 "conditions": [list(c) for c in self.conditions],
                 "application": None if self._app is None else self._app.model_dump(mode="json")}
        if self.kind == "evaluate":
            ident["columns"] = [c for c, _ in self.columns()]
        return ident

    # -- execution ----------------------------------------------------------------------
    def run(self, module, swept: dict, rng: np.random.Generator) -> dict:
        """Measure on ``module``; ``swept`` holds the point's condition parameters (those
        this measurement accepts are applied). Returns column → value."""
        accepted = self.condition_defaults()
        cond = {**dict(self.conditions), **{k: v for k, v in swept.items() if k in accepted}}
        if self.kind == "snr_at_lux":
            return {self.column: _snr_at_lux(module, rng=rng, **{**_SNR_CONDITIONS, **cond})}
        if self.kind in _MTF_ALIASES:
            from ..evaluate.metrics import measure

            res = measure(module, "mtf50_cy_px", {**cond, "field": _MTF_ALIASES[self.kind]},
                          rng=rng)
            return {self.column: float(res.value)}
        if self.kind == "emva1288":
            return _emva(module, rng=rng, prefix=self.column,
                         **{**_EMVA_CONDITIONS, **cond})
        if self.kind == "evaluate":
            from ..evaluate.verdict import evaluate

            ev = evaluate(module, self._app, seed=int(rng.integers(0, 2**63)))
            return {f"{self.column}_passed": bool(ev.passed),
                    f"{self.column}_failed": int(ev.n_failed),
                    **{col: float(v.margin)
                       for (col, _), v in zip(self._margin_columns(), ev.verdicts)}}
        from ..evaluate.metrics import measure

        if getattr(module, "day_night", None) is not None:  # NIR metrics at night, as evaluate
            from ..daynight import metric_state

            module = module.in_state(metric_state(self.kind, cond))
        return {self.column: float(measure(module, self.kind, cond, rng=rng).value)}


def _snr_at_lux(module, *, rng, lux, illuminant, reflectance, exposure_s) -> float:
    from ..evaluate.metrics import snr_curve

    if not (isinstance(lux, (int, float)) and lux > 0):
        raise ConfigError(f"snr_at_lux: lux = {lux!r}: must be a number > 0")
    curve = snr_curve(module, illuminant=illuminant, reflectance=reflectance,
                      exposure_s=exposure_s, levels=[float(lux)], rng=rng)
    if curve.snr.size == 0:
        raise ConfigError(f"snr_at_lux: the target saturates at lux = {lux:g} "
                          f"(exposure_s = {exposure_s:g})")
    return float(curve.snr[0])


def _emva(module, *, rng, prefix, crop_px, wavelength_nm) -> dict:
    from ..evaluate.metrics import crop_module
    from ..measure.emva1288 import MeasurementSpec, analyse, simulate_measurement

    if not (isinstance(crop_px, int) and 16 <= crop_px <= 4096):
        raise ConfigError(f"emva1288: crop_px = {crop_px!r}: must be an integer in 16..4096")
    sensor = crop_module(module, crop_px, crop_px * 3 // 4).sensor
    res = analyse(simulate_measurement(sensor, MeasurementSpec(wavelength_nm=wavelength_nm),
                                       seed=int(rng.integers(0, 2**30))))
    out = {}
    for k in EMVA_FIGURES:
        v = res.summary.get(k)
        out[f"{prefix}_{k}"] = math.nan if v is None else float(v)
    return out


def parse_measurement(item, index: int) -> Measurement:
    """One entry of the spec's ``measurements`` list: a name, ``{metric: name, conditions:
    {...}, as: column}`` or ``{evaluate: application}``."""
    where = f"measurements[{index}]"
    if isinstance(item, str):
        item = {"metric": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{where} = {item!r}: expected a metric name or a mapping")
    item = dict(item)
    if "evaluate" in item:
        if "metric" in item:
            raise ConfigError(f"{where}: give either 'metric' or 'evaluate', not both")
        item["metric"] = "evaluate"
        item["application"] = item.pop("evaluate")
    allowed = {"metric", "conditions", "as", "application"}
    extra = sorted(set(item) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r}; valid: metric, conditions, as, "
                          "evaluate")
    kind = item.get("metric")
    if kind not in valid_kinds():
        raise unknown_name(f"measurement ({where})", str(kind), valid_kinds())
    conditions = item.get("conditions") or {}
    if not isinstance(conditions, dict):
        raise ConfigError(f"{where}.conditions = {conditions!r}: expected a mapping")
    app = None
    application = item.get("application")
    if kind == "evaluate":
        from ..evaluate.profiles import load_application

        if not isinstance(application, str):
            raise ConfigError(f"{where}: evaluate needs an application name or YAML path")
        app = load_application(application)
        if conditions:
            raise ConfigError(f"{where}: evaluate takes no conditions (the application "
                              "profile sets them)")
    elif application is not None:
        raise ConfigError(f"{where}: 'application' only goes with evaluate")
    default_col = app.name if app is not None else kind
    if kind == "emva1288" and "as" not in item:
        default_col = "emva"
    column = column_name(item.get("as", default_col))
    m = Measurement(kind=kind, column=column,
                    conditions=tuple(sorted(conditions.items())), application=application,
                    _app=app)
    bad = sorted(set(conditions) - set(m.condition_defaults()))
    if bad:
        raise ConfigError(f"{where} ({kind}): unknown condition {bad[0]!r}; valid: "
                          f"{', '.join(m.condition_defaults()) or 'none'}")
    return m
