"""Application profiles: what a product needs from its camera module, with the source of
every number.

A profile (``camtwin/data/applications/<name>.yaml``) lists requirements. Each requirement
names a *metric* that :mod:`camtwin.evaluate.metrics` can measure on a simulated module, a
limit (``min`` and/or ``max``, in the metric's unit), the measurement conditions, and where
the number comes from (``basis``: ``standard`` — a published standard or regulation —, or
``practice`` — common engineering practice, with a reference that shows it).

Example::

    name: industrial
    title: Industrial machine vision (inspection on a conveyor)
    requirements:
      - metric: motion_skew_px
        max: 1.0
        conditions: {object_speed_m_s: 2.0, object_distance_m: 0.5}
        basis: practice
        source: "..."
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .._spec import FrozenSpec
from ..errors import unknown_name


class Requirement(FrozenSpec):
    """One requirement: ``min ≤ metric(conditions) ≤ max``.

    ``state`` (optional): the state a day/night module is measured in ("day": IR-cut in,
    "night": IR-cut out, NIR illuminator on). None: "night" for an NIR illuminant
    (IR850/IR940) or a night metric, "day" otherwise (:func:`camtwin.daynight.
    requirement_state`). Modules without day/night switching ignore it.
    """

    metric: str
    min: float | None = None
    max: float | None = None
    conditions: dict[str, Any] = Field(default_factory=dict)
    basis: Literal["standard", "practice"]
    source: str = Field(min_length=3)
    note: str = ""
    state: Literal["day", "night"] | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        from .metrics import METRICS

        if value not in METRICS:
            raise ValueError(f"unknown metric; valid choices: {', '.join(sorted(METRICS))}")
        return value

    @model_validator(mode="after")
    def _has_limit(self):
        if self.min is None and self.max is None:
            raise ValueError(f"requirement on {self.metric} needs a min or a max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"{self.metric}: min = {self.min} exceeds max = {self.max}")
        allowed = self._allowed_conditions()
        bad = set(self.conditions) - set(allowed)
        if bad:
            raise ValueError(f"{self.metric}: unknown condition {sorted(bad)[0]!r}; valid: "
                             f"{', '.join(allowed) or 'none'}")
        return self

    def _allowed_conditions(self) -> tuple[str, ...]:
        """Condition names ``metric`` accepts (a subclass with other metrics overrides)."""
        from .metrics import METRICS

        return METRICS[self.metric].conditions

    @property
    def limit_text(self) -> str:
        unit = self.unit
        if self.min is not None and self.max is not None:
            return f"{self.min:g}–{self.max:g} {unit}".strip()
        if self.min is not None:
            return f"≥ {self.min:g} {unit}".strip()
        return f"≤ {self.max:g} {unit}".strip()

    @property
    def unit(self) -> str:
        from .metrics import METRICS

        return METRICS[self.metric].unit

    def margin(self, value: float) -> float:
        """Signed margin in the metric's unit: > 0 passes, < 0 fails (distance to the
        nearest violated or binding limit)."""
        margins = []
        if self.min is not None:
            margins.append(value - self.min)
        if self.max is not None:
            margins.append(self.max - value)
        return min(margins)

    def passes(self, value: float) -> bool:
        return value == value and self.margin(value) >= 0  # NaN fails


class ApplicationSpec(FrozenSpec):
    """An application (product class) and its camera requirements."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    title: str
    description: str = ""
    requirements: tuple[Requirement, ...] = Field(min_length=1)


def _packaged() -> dict[str, Path]:
    root = resources.files("camtwin") / "data" / "applications"
    return {Path(p.name).stem: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def builtin_applications() -> list[str]:
    """Names of the application profiles shipped with camtwin."""
    return sorted(_packaged())


def load_application(name_or_path: str | Path) -> ApplicationSpec:
    """An application profile by built-in name or from a YAML file."""
    p = Path(name_or_path)
    if p.suffix.lower() in (".yaml", ".yml") or p.exists():
        return ApplicationSpec.from_yaml(p)
    shipped = _packaged()
    if str(name_or_path) not in shipped:
        raise unknown_name("application (not a YAML file either)", str(name_or_path), shipped)
    return ApplicationSpec.from_yaml(shipped[str(name_or_path)])
