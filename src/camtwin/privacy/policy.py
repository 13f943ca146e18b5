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
  *strictest* combination of their rules, field by field; where the accuracy disc may also
  reach outside every zone, the default rule joins that combination;
* a frame whose fix cannot be trusted gets the strictest combination of *all* rules of the
  policy: no position; a latitude/longitude that is not a finite number in range; an
  accuracy radius that is not a finite number ≥ 0 or exceeds :data:`MAX_ACCURACY_M`; a
  missing or non-finite frame time or fix time (the fix's age cannot be checked); a fix
  more than ``max_fix_age_s`` from the frame's time;
* every decision lists its reasons (:attr:`Decision.reasons`) and is logged on the
  ``camtwin.privacy`` logger.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from .._spec import FrozenSpec, read_json, read_yaml
from ..errors import ConfigError
from .geo import Zone, locate, read_geojson, zones_from_geojson

log = logging.getLogger("camtwin.privacy")

#: Largest usable GPS accuracy radius [m]: a vaguer fix is no position (and the local
#: distance frame of :mod:`camtwin.privacy.geo` is only characterised up to 50 km).
MAX_ACCURACY_M = 50_000.0

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
    ``fix_time_s`` the fix time (POSIX seconds; both are needed to prove the fix fresh),
    ``accuracy_m`` the fix's horizontal accuracy radius [m] (zones within it apply),
    ``consent`` a recorded consent of the people in view (e.g. an enrolment), as the
    controller's legal basis. Nothing is validated here: :func:`decide` gives any missing,
    non-finite, negative or out-of-range value the strictest rule (fail closed).
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
        "accuracy_m"}`` (e.g. :attr:`RawFrame.metadata`). A missing value is None, a missing
        accuracy is unknown (NaN: a fix of unknown accuracy is not an exact fix), and a value
        that is not a number becomes NaN. :func:`decide` fails closed on all of them."""
        gps = (metadata or {}).get("gps") or {}
        if not isinstance(gps, dict):
            gps = {}

        def num(key, missing=None):
            v = gps.get(key)
            if v is None:
                return missing
            return float(v) if _finite(v) else math.nan

        return cls(num("lat"), num("lon"), num("time_s"), num("fix_time_s"),
                   num("accuracy_m", math.nan), bool(consent))


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


def _is_real(v) -> bool:
    """A real number (int, float, NumPy scalar), not a bool."""
    return isinstance(v, Real) and not isinstance(v, (bool, np.bool_))


def _finite(v) -> bool:
    try:
        return _is_real(v) and math.isfinite(float(v))
    except OverflowError:  # an int beyond the float range
        return False


def _untrusted_fix(policy: Policy, ctx: FrameContext) -> str | None:
    """Why the fix of ``ctx`` cannot place the frame, or None if it can."""
    if ctx.lat is None or ctx.lon is None:
        return "no GPS position"
    if not (_finite(ctx.lat) and _finite(ctx.lon) and -90.0 <= ctx.lat <= 90.0
            and -180.0 <= ctx.lon <= 180.0):
        return f"GPS position ({ctx.lat!r}, {ctx.lon!r}) is invalid or out of range"
    if not (_finite(ctx.accuracy_m) and ctx.accuracy_m >= 0.0):
        return f"GPS accuracy {ctx.accuracy_m!r} m is not a finite number ≥ 0"
    if ctx.accuracy_m > MAX_ACCURACY_M:
        return (f"GPS accuracy {ctx.accuracy_m:g} m exceeds {MAX_ACCURACY_M:g} m (no usable "
                "position)")
    if ctx.time_s is None or ctx.fix_time_s is None:
        missing = "frame time" if ctx.time_s is None else "fix time"
        return f"no {missing}: the age of the GPS fix cannot be checked"
    if not (_finite(ctx.time_s) and _finite(ctx.fix_time_s)):
        return (f"frame time {ctx.time_s!r} / fix time {ctx.fix_time_s!r} s is not a finite "
                "number: the age of the GPS fix cannot be checked")
    age = float(ctx.time_s) - float(ctx.fix_time_s)
    if abs(age) > policy.spec.max_fix_age_s:
        return (f"GPS fix is {age:.1f} s from the frame time (limit "
                f"{policy.spec.max_fix_age_s:g} s)")
    return None


def decide(policy: Policy, ctx: FrameContext) -> Decision:
    """The rule that applies to a frame taken at ``ctx``; fails closed (see module doc)."""
    reasons: list[str] = []
    zones_hit: tuple[Zone, ...] = ()
    problem = _untrusted_fix(policy, ctx)
    known = problem is None
    if not known:
        reasons.append(f"{problem}: strictest rule of the policy applies (fail closed)")
        rule = strictest(policy.rules.values())
    else:
        lon, lat, acc = float(ctx.lon), float(ctx.lat), float(ctx.accuracy_m)
        loc = locate(policy.zones, lon, lat, acc)
        zones_hit = loc.inside + loc.near
        reasons += [f"inside zone {z.name!r} (rule {z.rule!r})" for z in loc.inside]
        reasons += [f"within the {acc:g} m fix accuracy of zone {z.name!r} (rule {z.rule!r})"
                    for z in loc.near]
        rules = [policy.rules[z.rule] for z in zones_hit]
        if loc.maybe_outside:
            rules.append(policy.rules[policy.spec.default_rule])
            reasons.append(f"outside every zone: rule {policy.spec.default_rule!r}"
                           if not zones_hit else
                           f"the {acc:g} m fix accuracy also reaches outside every zone: "
                           f"rule {policy.spec.default_rule!r} too")
        rule = strictest(rules)
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
