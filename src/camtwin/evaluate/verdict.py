"""Module × application → verdict table (requirement, measured value, margin, pass/fail).

Every requirement of the application profile is measured on the module with
:func:`camtwin.evaluate.metrics.measure` under the requirement's conditions. Random streams
are independent per requirement and derived from one seed (``SeedSequence(seed).spawn``),
so a verdict does not depend on the order or number of requirements; identical
(metric, conditions) pairs are measured once.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .metrics import METRICS, MetricResult, measure
from .profiles import ApplicationSpec, Requirement


@dataclass(frozen=True)
class Verdict:
    """One row of the verdict table."""

    requirement: Requirement
    value: float
    result: MetricResult = field(repr=False)
    #: State of a day/night module the requirement was measured in ("day"/"night"); None
    #: for a module without day/night switching (:mod:`camtwin.daynight`).
    state: str | None = None
    #: Why a module cannot meet the requirement, when the physics says so (an IR-cut that
    #: blocks the NIR illuminant), else None.
    note: str | None = None

    @property
    def margin(self) -> float:
        """Signed distance to the limit in the metric's unit (> 0: passes)."""
        return self.requirement.margin(self.value)

    @property
    def relative_margin(self) -> float:
        """Margin as a fraction of the binding limit (NaN when the limit is 0)."""
        r = self.requirement
        limit = r.min if (r.min is not None and (r.max is None or
                                                 self.value - r.min <= r.max - self.value)) else r.max
        return self.margin / abs(limit) if limit else math.nan

    @property
    def passed(self) -> bool:
        """Whether the requirement is met. A metric that does not apply to the module (e.g.
        colour error of a mono sensor) does not meet it: the module cannot deliver what the
        application asks for; :attr:`status` says "n/a" and ``result.reason`` why."""
        return self.result.reason is None and self.requirement.passes(self.value)

    @property
    def status(self) -> str:
        """"pass", "fail", or "n/a" (the metric means nothing for this module; counted as
        not passed, with the reason in ``result.reason``)."""
        if self.result.reason is not None:
            return "n/a"
        return "pass" if self.passed else "fail"

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def as_dict(self) -> dict:
        r = self.requirement
        return {"metric": r.metric, "conditions": dict(r.conditions), "limit": r.limit_text,
                "min": r.min, "max": r.max, "unit": r.unit, "value": _num(self.value),
                "margin": _num(self.margin), "relative_margin": _num(self.relative_margin),
                "passed": self.passed, "status": self.status, "basis": r.basis, "source": r.source,
                "measured_from": self.result.source, "not_applicable": self.result.reason,
                "state": self.state, "note": self.note,
                "details": {k: _num(v) for k, v in self.result.details.items()
                            if isinstance(v, (int, float))}}


def _num(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return float(v) if isinstance(v, (float, np.floating)) else v


@dataclass(frozen=True)
class Evaluation:
    """The verdicts of one module for one application."""

    module: object
    application: ApplicationSpec
    verdicts: tuple[Verdict, ...]
    seed: int
    seconds: float

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def n_failed(self) -> int:
        return sum(not v.passed for v in self.verdicts)

    def verdict(self, metric: str, **conditions) -> Verdict:
        """The row for ``metric`` (whose conditions include ``conditions``)."""
        for v in self.verdicts:
            if v.requirement.metric == metric and all(
                    v.requirement.conditions.get(k) == c for k, c in conditions.items()):
                return v
        raise KeyError(f"no requirement on {metric} with {conditions}")

    def as_dict(self) -> dict:
        return {"module": getattr(self.module, "name", "module"),
                "application": self.application.name, "title": self.application.title,
                "passed": self.passed, "failed": self.n_failed, "seed": self.seed,
                "seconds": round(self.seconds, 3),
                "verdicts": [v.as_dict() for v in self.verdicts]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)

    def to_pandas(self):
        """One row per requirement: metric, conditions, value, unit, threshold, min, max,
        margin, relative_margin, pass, basis, source (needs pandas)."""
        from ..report.notebook import evaluation_to_pandas
        return evaluation_to_pandas(self)

    def __repr__(self) -> str:  # short: camtwin.report.notebook
        from ..report.notebook import short_repr
        return short_repr(self)

    def _repr_html_(self):  # notebook display: camtwin.report.notebook
        from ..report.notebook import repr_html
        return repr_html(self)

    def _repr_png_(self):
        from ..report.notebook import repr_png
        return repr_png(self)


def evaluate(module, application: ApplicationSpec, *, seed: int = 0,
             progress: Callable[[int, int, str], None] | None = None,
             state: str | None = None) -> Evaluation:
    """Measure every requirement of ``application`` on ``module``.

    A day/night module (``module.day_night``) is measured per requirement in the state
    :func:`camtwin.daynight.requirement_state` gives (NIR requirements at night: IR-cut
    out; everything else by day), or in ``state`` for all of them when given; each verdict
    says its state. A requirement on an NIR illuminant that the module's IR-cut blocks
    carries a :attr:`Verdict.note` saying so.

    Parameters
    ----------
    module : ModuleSpec
    application : ApplicationSpec
    seed : int
        Root of the per-requirement random streams.
    progress : callable, optional
        ``progress(done, total, metric_name)`` after each measurement.
    state : {"day", "night"}, optional
        Measure every requirement in this state (default: per requirement).
    """
    from ..daynight import STATES, nir_block_note, requirement_state

    if state is not None and state not in STATES:
        from ..errors import ConfigError

        raise ConfigError(f"state = {state!r}: valid choices are {', '.join(STATES)}")
    t0 = time.perf_counter()
    reqs = application.requirements
    children = np.random.SeedSequence(seed).spawn(len(reqs))
    switching = getattr(module, "day_night", None) is not None
    cache: dict = {}
    rows = []
    for i, (req, child) in enumerate(zip(reqs, children)):
        st = state or requirement_state(req)
        m = module.in_state(st) if switching else module
        key = (st if switching else None, req.metric, tuple(sorted(req.conditions.items())))
        if key not in cache:
            cache[key] = measure(m, req.metric, dict(req.conditions),
                                 rng=np.random.default_rng(child))
        res = cache[key]
        illuminant = req.conditions.get("illuminant",
                                        METRICS[req.metric].conditions.get("illuminant"))
        note = nir_block_note(m, illuminant) if hasattr(m, "lens") else None
        rows.append(Verdict(req, float(res.value), res, state=st if switching else None,
                            note=note))
        if progress is not None:
            progress(i + 1, len(reqs), req.metric)
    return Evaluation(module, application, tuple(rows), int(seed), time.perf_counter() - t0)


def format_value(value: float, unit: str) -> str:
    if value != value:
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    mag = abs(value)
    txt = f"{value:.3g}" if mag < 100 else f"{value:.0f}"
    return f"{txt} {unit}".strip()


def metric_unit(metric: str) -> str:
    return METRICS[metric].unit
