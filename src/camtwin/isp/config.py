"""PipelineSpec: an ordered, validated list of ISP stages, each with its own spec.

A pipeline YAML file lists the stages to run, in order, each either by name (default
parameters) or as a one-key mapping ``name: {parameter: value, ...}``::

    name: fast
    stages:
      - black_level
      - white_balance: {method: illuminant}
      - demosaic: {method: malvar2004}
      - ccm: {matrix: camera}
      - exposure: {gain: auto}
      - tone: {curve: srgb}
      - output: {bits: 8}

Rules (checked once, at construction; a violation raises :class:`ConfigError` with one line
naming the stage, the parameter, the value and the valid choices):

* stage names come from :data:`STAGE_ORDER`, and appear in that order, each at most once;
* ``black_level`` and ``demosaic`` are required;
* every stage's parameters are validated by its spec class (:data:`STAGE_SPECS`; unknown
  parameters are errors).

Stages that only make sense for some sensors run automatically where the layout needs them
(RGB-IR: NIR subtraction after ``black_level``; RCCB: clear-to-green after ``demosaic``).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, FiniteFloat, PositiveFloat, field_validator, model_validator

from .._spec import FrozenSpec, read_yaml
from ..errors import ConfigError
from .demosaic import DEMOSAIC_METHODS

#: The stages a pipeline may contain, in the only order they may appear.
STAGE_ORDER = ("black_level", "defect_pixel", "lens_shading", "white_balance", "demosaic",
               "denoise", "ccm", "exposure", "tone", "sharpen", "output")

#: Stages every pipeline must contain.
REQUIRED_STAGES = ("black_level", "demosaic")

Matrix3x3 = tuple[tuple[FiniteFloat, FiniteFloat, FiniteFloat],
                  tuple[FiniteFloat, FiniteFloat, FiniteFloat],
                  tuple[FiniteFloat, FiniteFloat, FiniteFloat]]


def check_matrix_choice(value, choices: tuple[str, ...]):
    """A CCM given as one of ``choices`` or a finite 3×3 matrix (rows → output channels)."""
    import numpy as np

    msg = f"must be {', '.join(repr(c) for c in choices)} or a 3×3 matrix of finite numbers"
    if isinstance(value, str):
        if value not in choices:
            raise ValueError(msg)
        return value
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(msg) from None
    if arr.shape != (3, 3) or not np.all(np.isfinite(arr)):
        raise ValueError(msg)
    return tuple(tuple(float(x) for x in row) for row in arr)


class BlackLevelStage(FrozenSpec):
    """Subtract the black level, normalise to the white level (no parameters)."""


class DefectPixelStage(FrozenSpec):
    """Dynamic defect-pixel correction (:func:`camtwin.isp.defects.correct_defects`).

    ``threshold``: margin [normalised units, 1 = white] beyond the same-colour neighbours'
    range that marks a pixel as defective.
    """

    threshold: float = Field(0.05, gt=0, le=1, allow_inf_nan=False)


class LensShadingStage(FrozenSpec):
    """Lens-shading correction (:mod:`camtwin.isp.shading`).

    ``source``: ``"lens"`` — the module's lens (cos⁴) and sensor (CRA) passed to the
    pipeline run; ``"flat_field"`` — ``path`` is a raw capture of a uniform target;
    ``"gain_map"`` — ``path`` is a ``.npy``/``.tif`` gain map. ``max_gain`` caps the gain;
    ``degree`` is that of the polynomial surface fitted to each colour plane of the flat.
    """

    source: Literal["lens", "flat_field", "gain_map"] = "lens"
    path: str | None = None
    max_gain: float = Field(4.0, ge=1, le=64, allow_inf_nan=False)
    degree: int = Field(6, ge=2, le=10)

    @model_validator(mode="after")
    def _path_matches_source(self):
        if self.source in ("flat_field", "gain_map") and not self.path:
            raise ValueError(f"source = {self.source!r} needs 'path' (a file)")
        if self.source == "lens" and self.path:
            raise ValueError("source = 'lens' takes no 'path' (use flat_field or gain_map)")
        return self


class WhiteBalanceStage(FrozenSpec):
    """White balance on the mosaic.

    ``method``: ``"illuminant"`` — the known illuminant, as the frame's ``as_shot_neutral``
    (DNG AsShotNeutral; gray world when the frame has none, noted); ``"gray_world"``;
    ``"white_patch"`` (``percentile`` of each colour); ``"manual"`` (``gains`` R, G, B);
    ``"none"``. ``clip_highlights`` clips every channel at the level all can reach.
    """

    method: Literal["illuminant", "gray_world", "white_patch", "manual", "none"] = "illuminant"
    gains: tuple[PositiveFloat, PositiveFloat, PositiveFloat] | None = None
    percentile: float = Field(99.0, gt=50, le=100, allow_inf_nan=False)
    clip_highlights: bool = True

    @model_validator(mode="after")
    def _gains_match_method(self):
        if self.method == "manual" and self.gains is None:
            raise ValueError("method = 'manual' needs 'gains' (three numbers > 0: R, G, B)")
        if self.method != "manual" and self.gains is not None:
            raise ValueError(f"'gains' is only used with method = 'manual', not {self.method!r}")
        if self.gains is not None and not all(math.isfinite(g) for g in self.gains):
            raise ValueError("gains must be finite")
        return self


def check_demosaic_method(value: str) -> str:
    """A key of :data:`camtwin.isp.DEMOSAIC_METHODS` (else a message naming the choices)."""
    if value not in DEMOSAIC_METHODS:
        raise ValueError(f"unknown demosaic method; valid choices: "
                         f"{', '.join(sorted(DEMOSAIC_METHODS))}")
    return value


class DemosaicStage(FrozenSpec):
    """Demosaic with a method of :data:`camtwin.isp.DEMOSAIC_METHODS`."""

    method: str = "malvar2004"

    @field_validator("method")
    @classmethod
    def _known(cls, value: str) -> str:
        return check_demosaic_method(value)


class DenoiseStage(FrozenSpec):
    """Edge-preserving denoising of camera RGB (:mod:`camtwin.isp.denoise`).

    ``sigma``: noise std [normalised units] or ``"auto"``; ``strength`` scales the range /
    regularisation; ``radius_px``: window half-width (default 3 for bilateral, 2 guided).
    """

    method: Literal["bilateral", "guided"] = "guided"
    sigma: Literal["auto"] | float = "auto"
    strength: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)
    radius_px: int | None = Field(None, ge=1, le=15)

    @field_validator("sigma")
    @classmethod
    def _sigma_range(cls, value):
        if isinstance(value, float) and not (math.isfinite(value) and value >= 0):
            raise ValueError("must be 'auto' or a finite number >= 0")
        return value


class CcmStage(FrozenSpec):
    """Colour correction, camera RGB → linear sRGB.

    ``matrix``: ``"camera"`` — from the frame's colour matrix (DNG ColorMatrix,
    :func:`camtwin.isp.ccm.ccm_from_color_matrix`); ``"fitted"`` — passed to the run (a
    ColorChecker fit, :func:`camtwin.isp.calibrate_ccm`); ``"identity"``; or a 3×3 matrix.
    """

    matrix: Literal["camera", "fitted", "identity"] | Matrix3x3 = "camera"

    @field_validator("matrix", mode="before")
    @classmethod
    def _form(cls, value):
        return check_matrix_choice(value, ("camera", "fitted", "identity"))


class ExposureStage(FrozenSpec):
    """Digital gain on linear sRGB: a number, or ``"auto"`` — the ``percentile`` of the
    luminance is mapped to ``white`` (dcraw's auto brightness)."""

    gain: Literal["auto"] | PositiveFloat = "auto"
    percentile: float = Field(99.0, gt=50, le=100, allow_inf_nan=False)
    white: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)

    @field_validator("gain")
    @classmethod
    def _finite(cls, value):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be 'auto' or a finite number > 0")
        return value


class ToneStage(FrozenSpec):
    """Tone curve to display values (:mod:`camtwin.isp.tone`).

    ``curve``: srgb, linear, reinhard (``key``, ``white`` = L_white), filmic
    (``exposure_bias``, ``white`` = W).
    """

    curve: Literal["srgb", "linear", "reinhard", "filmic"] = "srgb"
    key: float = Field(0.18, gt=0, lt=1, allow_inf_nan=False)
    white: float | None = Field(None, gt=0, allow_inf_nan=False)
    exposure_bias: float = Field(2.0, gt=0, le=100, allow_inf_nan=False)


class SharpenStage(FrozenSpec):
    """Unsharp mask of the display luminance (:func:`camtwin.isp.tone.unsharp_mask`)."""

    amount: float = Field(0.5, ge=0, le=5, allow_inf_nan=False)
    sigma_px: float = Field(1.0, gt=0, le=10, allow_inf_nan=False)
    threshold: float = Field(0.0, ge=0, lt=1, allow_inf_nan=False)


class OutputStage(FrozenSpec):
    """Quantise the display values to ``bits`` (8 or 16) per channel."""

    bits: Literal[8, 16] = 8


#: Stage name → spec class.
STAGE_SPECS: dict[str, type[FrozenSpec]] = {
    "black_level": BlackLevelStage, "defect_pixel": DefectPixelStage,
    "lens_shading": LensShadingStage, "white_balance": WhiteBalanceStage,
    "demosaic": DemosaicStage, "denoise": DenoiseStage, "ccm": CcmStage,
    "exposure": ExposureStage, "tone": ToneStage, "sharpen": SharpenStage,
    "output": OutputStage,
}
assert tuple(STAGE_SPECS) == STAGE_ORDER


def parse_stages(items) -> tuple[tuple[str, FrozenSpec], ...]:
    """Validate a stage list (see the module docstring); raise :class:`ConfigError`."""
    if isinstance(items, tuple) and all(isinstance(i, tuple) and len(i) == 2
                                        and isinstance(i[1], FrozenSpec) for i in items):
        items = [{name: spec.model_dump()} for name, spec in items]
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigError("stages must be a non-empty list of stage names or "
                          "{name: {parameters}} mappings")
    valid = ", ".join(STAGE_ORDER)
    out: list[tuple[str, FrozenSpec]] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            params = {} if params is None else params
        else:
            raise ConfigError(f"stages[{i}] = {item!r}: must be a stage name or a one-key "
                              "mapping {name: {parameters}}")
        if name not in STAGE_SPECS:
            raise ConfigError(f"stages[{i}]: unknown stage {name!r}; valid stages (in order): "
                              f"{valid}")
        if not isinstance(params, dict):
            raise ConfigError(f"stages[{i}] {name}: parameters must be a mapping, got "
                              f"{params!r}")
        cls = STAGE_SPECS[name]
        try:
            spec = cls.from_dict(params)
        except ConfigError as exc:
            msg = str(exc).removeprefix(f"{cls.__name__}: ")
            raise ConfigError(f"stages[{i}] {name}: {msg}") from None
        if out:
            prev = out[-1][0]
            if name == prev or name in (n for n, _ in out):
                raise ConfigError(f"stages[{i}]: stage {name!r} appears twice")
            if STAGE_ORDER.index(name) < STAGE_ORDER.index(prev):
                raise ConfigError(f"stages[{i}]: {name!r} cannot come after {prev!r}; the "
                                  f"order is {' → '.join(STAGE_ORDER)}")
        out.append((name, spec))
    names = [n for n, _ in out]
    missing = [n for n in REQUIRED_STAGES if n not in names]
    if missing:
        raise ConfigError(f"stages: required stage(s) missing: {', '.join(missing)}")
    return tuple(out)


class PipelineSpec(FrozenSpec):
    """An ISP pipeline: a name, a description and the validated, ordered stages.

    ``stages`` holds ``(name, stage spec)`` pairs after validation; it is given as a list
    of names or one-key mappings (module docstring). :meth:`from_dict` also accepts the
    bare list.
    """

    name: str = "custom"
    description: str = ""
    stages: tuple[Any, ...]

    @field_validator("stages", mode="before")
    @classmethod
    def _parse(cls, value):
        try:
            return parse_stages(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> "PipelineSpec":
        """Validate a mapping (or a bare stage list); one-line :class:`ConfigError`."""
        if isinstance(data, list):
            data = {"stages": data}
        if not isinstance(data, dict):
            raise ConfigError(f"{source + ': ' if source else ''}a pipeline must be a mapping "
                              "with 'stages' (or a list of stages)")
        if "stages" in data:  # parse first: its messages are cleaner than pydantic's wrapper
            try:
                data = {**data, "stages": parse_stages(data["stages"])}
            except ConfigError as exc:
                raise ConfigError(f"{source + ': ' if source else ''}{exc}") from None
        return super().from_dict(data, source=source)

    @classmethod
    def from_yaml(cls, path) -> "PipelineSpec":
        return cls.from_dict(read_yaml(path), source=str(path))

    def stage(self, name: str):
        """The spec of stage ``name``, or None when the pipeline does not run it."""
        if name not in STAGE_SPECS:
            raise ConfigError(f"unknown stage {name!r}; valid stages: {', '.join(STAGE_ORDER)}")
        return next((spec for n, spec in self.stages if n == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.stages)

    def to_list(self) -> list:
        """The stage list in YAML form (``[{name: parameters}, ...]``)."""
        return [{n: s.model_dump()} for n, s in self.stages]


#: Built-in pipelines (``camtwin process --pipeline fast`` etc.).
BUILTIN_PIPELINES: dict[str, list] = {
    "fast": ["black_level", {"white_balance": {"method": "illuminant"}},
             {"demosaic": {"method": "malvar2004"}}, {"ccm": {"matrix": "camera"}},
             {"exposure": {"gain": "auto"}}, {"tone": {"curve": "srgb"}},
             {"output": {"bits": 8}}],
    "hq": ["black_level", {"white_balance": {"method": "illuminant"}},
           {"demosaic": {"method": "directional_ri"}}, {"ccm": {"matrix": "camera"}},
           {"exposure": {"gain": "auto"}}, {"tone": {"curve": "srgb"}},
           {"output": {"bits": 8}}],
}


def load_pipeline(name_or_path) -> PipelineSpec:
    """A built-in pipeline by name (:data:`BUILTIN_PIPELINES`) or a YAML file."""
    from pathlib import Path

    if isinstance(name_or_path, str) and name_or_path in BUILTIN_PIPELINES:
        return PipelineSpec.from_dict({"name": name_or_path,
                                       "stages": BUILTIN_PIPELINES[name_or_path]})
    p = Path(name_or_path)
    if not p.is_file():
        raise ConfigError(f"pipeline {str(name_or_path)!r}: not a file and not a built-in "
                          f"pipeline ({', '.join(BUILTIN_PIPELINES)})")
    return PipelineSpec.from_yaml(p)
