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
    failed requirements) and ``<app>_min_margin`` (smallest relative margin).
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
        if self.kind == "emva1288":
            return [(f"{self.column}_{k}", pa.float64()) for k in EMVA_FIGURES]
        if self.kind == "evaluate":
            return [(f"{self.column}_passed", pa.bool_()), (f"{self.column}_failed", pa.int64()),
                    (f"{self.column}_min_margin", pa.float64())]
        return [(self.column, pa.float64())]

    def identity(self) -> dict:
        """What the point hash sees of this measurement."""
        return {"kind": self.kind, "column": self.column,
                "conditions": [list(c) for c in self.conditions],
                "application": None if self._app is None else self._app.model_dump(mode="json")}

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
            margins = [v.relative_margin for v in ev.verdicts]
            finite = [m for m in margins if not math.isnan(m)]
            return {f"{self.column}_passed": bool(ev.passed),
                    f"{self.column}_failed": int(ev.n_failed),
                    f"{self.column}_min_margin": float(min(finite)) if finite else math.nan}
        from ..evaluate.metrics import measure

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
