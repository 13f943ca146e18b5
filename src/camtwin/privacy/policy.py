"""Geofenced privacy policy: which rule applies to a frame, decided from its GPS metadata.

A policy (YAML or JSON, validated as :class:`PolicySpec`) names its rules and its zones::

    name: example
    zones: example_zones.geojson      # path relative to this file, or inline GeoJSON
    default_rule: default             # applies outside every zone
    max_fix_age_s: 10                 # an older GPS fix counts as no fix
    rules:
      school:  {anonymise: always, biometric_templates: forbidden, face_crops: forbidden,
                facial_recognition: disabled}
      default: {anonymise: unless_consent, biometric_templates: with_consent,
                face_crops: forbidden, facial_recognition: with_consent}

Each zone feature carries ``properties.rule``. Decisions fail closed:

* a point inside several zones (or within the fix's accuracy radius of them) gets the
  *strictest* combination of their rules, field by field;
* a frame with no position, an invalid position, or a fix older than ``max_fix_age_s`` at
  the frame's time gets the strictest combination of *all* rules of the policy;
* every decision lists its reasons (:attr:`Decision.reasons`) and is logged on the
  ``camtwin.privacy`` logger.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from .._spec import FrozenSpec, read_json, read_yaml
from ..errors import ConfigError
from .geo import Zone, read_geojson, zones_from_geojson

log = logging.getLogger("camtwin.privacy")

#: Values of each rule field, most permissive first (the strictest is last).
RULE_ORDER = {
    "anonymise": ("never", "unless_consent", "always"),
    "biometric_templates": ("with_consent", "forbidden"),
    "face_crops": ("with_consent", "forbidden"),
    "facial_recognition": ("with_consent", "disabled"),
}


class Rule(FrozenSpec):
    """What may happen to faces in a frame.

    Attributes
    ----------
    anonymise : {"always", "unless_consent", "never"}
        Whether faces are anonymised before the frame leaves the module.
    biometric_templates : {"forbidden", "with_consent"}
        Whether face templates may be computed and stored (in the encrypted vault).
    face_crops : {"forbidden", "with_consent"}
        Whether face crops may be stored (in the encrypted vault).
    facial_recognition : {"disabled", "with_consent"}
        Whether downstream recognition may run (reported, enforced by the caller).
    """

    anonymise: Literal["always", "unless_consent", "never"] = "always"
    biometric_templates: Literal["forbidden", "with_consent"] = "forbidden"
    face_crops: Literal["forbidden", "with_consent"] = "forbidden"
    facial_recognition: Literal["disabled", "with_consent"] = "disabled"


def strictest(rules) -> Rule:
    """Field-by-field strictest combination of ``rules`` (the all-forbidding rule if empty)."""
    rules = list(rules)
    if not rules:
        return Rule()
    return Rule(**{k: max((getattr(r, k) for r in rules), key=order.index)
                   for k, order in RULE_ORDER.items()})


class PolicySpec(FrozenSpec):
    """A geofenced policy: rules by name, zones (GeoJSON) and the fallback rule."""

    name: str = "policy"
    rules: dict[str, Rule]
    zones: str | dict[str, Any] = Field(default_factory=lambda: {"type": "FeatureCollection",
                                                                 "features": []})
    default_rule: str = "default"
    max_fix_age_s: float = Field(10.0, gt=0.0, le=86400.0)

    @model_validator(mode="after")
    def _default_known(self):
        if self.default_rule not in self.rules:
            raise ValueError(f"default_rule {self.default_rule!r} is not one of the rules: "
                             + ", ".join(sorted(self.rules)))
        return self


@dataclass(frozen=True)
class Policy:
    """A validated policy with its zones parsed."""

    spec: PolicySpec
    zones: tuple[Zone, ...]
    source: str = "policy"

    @property
    def rules(self) -> dict[str, Rule]:
        return self.spec.rules


def build_policy(spec: PolicySpec, *, base_dir: str | Path | None = None,
                 source: str = "policy") -> Policy:
    """Parse the zones of ``spec`` and check every zone names a known rule."""
    if isinstance(spec.zones, str):
        path = Path(spec.zones)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        zones = read_geojson(path)
    else:
        zones = zones_from_geojson(spec.zones, source=f"{source}: zones")
    for z in zones:
        if z.rule not in spec.rules:
            raise ConfigError(f"{source}: zone {z.name!r} uses unknown rule {z.rule!r}; rules: "
                              + ", ".join(sorted(spec.rules)))
    return Policy(spec, zones, source)


def load_policy(path: str | Path) -> Policy:
    """Load a policy from a YAML or JSON file (zones path relative to that file)."""
    p = Path(path)
    data = read_json(p) if p.suffix.lower() == ".json" else read_yaml(p)
    spec = PolicySpec.from_dict(data, source=str(p))
    return build_policy(spec, base_dir=p.parent, source=str(p))


def example_policy() -> Policy:
    """The example policy shipped with camtwin (``data/privacy/example_policy.yaml``)."""
    from importlib import resources

    ref = resources.files("camtwin") / "data" / "privacy" / "example_policy.yaml"
    with resources.as_file(ref) as p:
        return load_policy(p)


@dataclass(frozen=True)
class FrameContext:
    """Where and when a frame was taken, and whether its subjects consented.

    ``lat``/``lon`` [deg] of the GPS fix (None = no fix), ``time_s`` the frame time and
    ``fix_time_s`` the fix time (POSIX seconds), ``accuracy_m`` the fix's horizontal
    accuracy radius [m] (zones within it apply), ``consent`` a recorded consent of the
    people in view (e.g. an enrolment), as the controller's legal basis.
    """

    lat: float | None = None
    lon: float | None = None
    time_s: float | None = None
    fix_time_s: float | None = None
    accuracy_m: float = 0.0
    consent: bool = False

    @classmethod
    def from_metadata(cls, metadata: dict | None, *, consent: bool = False) -> "FrameContext":
        """From a frame's ``metadata["gps"] = {"lat", "lon", "time_s", "fix_time_s",
        "accuracy_m"}`` (e.g. :attr:`RawFrame.metadata`). Missing or malformed values become
        None (no fix), which :func:`decide` treats as unknown position — fail closed."""
        gps = (metadata or {}).get("gps") or {}

        def num(key):
            v = gps.get(key) if isinstance(gps, dict) else None
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) \
                and math.isfinite(v) else None

        acc = num("accuracy_m")
        return cls(num("lat"), num("lon"), num("time_s"), num("fix_time_s"),
                   acc if acc is not None and acc >= 0 else 0.0, bool(consent))


@dataclass(frozen=True)
class Decision:
    """What the stage may do with one frame, and why."""

    anonymise: bool
    store_templates: bool
    store_crops: bool
    facial_recognition: bool
    rule: Rule
    zones: tuple[str, ...]
    reasons: tuple[str, ...]
    position_known: bool

    def as_dict(self) -> dict:
        return {"anonymise": self.anonymise, "store_templates": self.store_templates,
                "store_crops": self.store_crops, "facial_recognition": self.facial_recognition,
                "rule": self.rule.model_dump(), "zones": list(self.zones),
                "position_known": self.position_known, "reasons": list(self.reasons)}


def decide(policy: Policy, ctx: FrameContext) -> Decision:
    """The rule that applies to a frame taken at ``ctx``; fails closed (see module doc)."""
    reasons: list[str] = []
    zones_hit: list[Zone] = []
    known = ctx.lat is not None and ctx.lon is not None
    if not known:
        reasons.append("no GPS position: strictest rule of the policy applies (fail closed)")
    elif not (-90.0 <= ctx.lat <= 90.0 and -180.0 <= ctx.lon <= 180.0):
        known = False
        reasons.append(f"GPS position ({ctx.lat}, {ctx.lon}) out of range: strictest rule "
                       "applies (fail closed)")
    elif ctx.fix_time_s is not None and ctx.time_s is not None:
        age = ctx.time_s - ctx.fix_time_s
        if age > policy.spec.max_fix_age_s or age < -policy.spec.max_fix_age_s:
            known = False
            reasons.append(f"GPS fix is {age:.1f} s from the frame time (limit "
                           f"{policy.spec.max_fix_age_s:g} s): strictest rule applies "
                           "(fail closed)")
    if known:
        for z in policy.zones:
            if z.covers(ctx.lon, ctx.lat):
                zones_hit.append(z)
                reasons.append(f"inside zone {z.name!r} (rule {z.rule!r})")
            elif ctx.accuracy_m > 0 and z.distance_m(ctx.lon, ctx.lat) <= ctx.accuracy_m:
                zones_hit.append(z)
                reasons.append(f"within the {ctx.accuracy_m:g} m fix accuracy of zone "
                               f"{z.name!r} (rule {z.rule!r})")
        if zones_hit:
            rule = strictest(policy.rules[z.rule] for z in zones_hit)
        else:
            rule = policy.rules[policy.spec.default_rule]
            reasons.append(f"outside every zone: rule {policy.spec.default_rule!r}")
    else:
        rule = strictest(policy.rules.values())
    consent = bool(ctx.consent)
    anonymise = rule.anonymise == "always" or (rule.anonymise == "unless_consent"
                                               and not consent)
    templates = rule.biometric_templates == "with_consent" and consent
    crops = rule.face_crops == "with_consent" and consent
    recog = rule.facial_recognition == "with_consent" and consent
    reasons.append(f"anonymise={rule.anonymise}, templates={rule.biometric_templates}, "
                   f"crops={rule.face_crops}, recognition={rule.facial_recognition}, "
                   f"consent={'yes' if consent else 'no'}")
    d = Decision(anonymise, templates, crops, recog, rule, tuple(z.name for z in zones_hit),
                 tuple(reasons), known)
    log.info("privacy decision: anonymise=%s templates=%s crops=%s; %s", anonymise, templates,
             crops, "; ".join(reasons))
    return d
