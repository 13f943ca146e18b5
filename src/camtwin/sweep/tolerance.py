"""Manufacturing tolerances → Monte-Carlo draws of built modules, run as sweep points.

A **tolerance spec** (YAML) names a base module, the tolerances of its manufacture as
distributions, the measurements with their pass/fail limits and, optionally, an
active-alignment step::

    name: phone-yield
    base: default                 # any part the resolver takes (camtwin.parts)
    seed: 1
    draws: 500                    # default number of Monte-Carlo draws (--draws overrides)
    crop: [640, 480]              # optional: every draw on this centre crop (crop_module)
    tolerances:
      - field: assembly.tilt_x_deg            # a pseudo-field of the assembly (see below)
        normal: {sd: 0.15}                    # mean 0 by default
      - field: lens.f_number
        uniform: {lo: -0.05, hi: 0.05}        # added to the nominal value (apply: add)
      - field: sensor.read_noise_e
        truncnormal: {mean: 0, sd: 0.3, lo: -0.5, hi: 1.0}
      - name: z5_spread                       # optional name (for correlations, columns)
        field: [lens.aberrations.axis.5, lens.aberrations.full_field.5]   # one draw, 2 paths
        normal: {sd: 0.03}                    # [waves RMS]
      - field: sensor.pixel.ar_transmission   # QE scale (see below)
        normal: {sd: 0.02}
        apply: scale                          # nominal × (1 + draw)
    correlation:                              # optional: Gaussian copula
      tolerances: [assembly.tilt_x_deg, assembly.tilt_y_deg]
      matrix: [[1, 0.3], [0.3, 1]]
    measurements:
      - {metric: mtf50_cy_px, conditions: {field: 0}, as: mtf50_centre, min: 0.30}
      - {metric: mtf50_cy_px, conditions: {field: 0.8}, corners: true, as: mtf50_corner,
         min: 0.22}                           # four columns: _tl _tr _bl _br
      - {metric: lux_at_snr10, max: 40}
    active_alignment: {decenter_um: 30, tilt_deg: 0.5, focus_um: 15}

Tolerances
----------
``field`` is a dotted path into the module spec (``lens.f_number``, ``lens.focal_length_mm``,
``lens.cra_full_field_deg``, ``lens.ir_cut.cutoff_nm``, ``sensor.read_noise_e``,
``sensor.dark_current_e_per_s``, ``sensor.noise.prnu_fraction``, …), a Zernike term
``lens.aberrations.axis.<j>`` / ``lens.aberrations.full_field.<j>`` (Noll j = 4…, RMS waves;
a term the lens does not have is nominally 0), or a list of such paths that share one draw.
``apply``: ``add`` (default; value = nominal + x), ``scale`` (nominal × (1 + x)) or ``set``
(value = x). Distributions: ``normal {mean=0, sd}``, ``uniform {lo, hi}``,
``truncnormal {mean=0, sd, lo, hi}`` (the normal restricted to [lo, hi]) and
``fixed {value}``. A draw that takes a field out of its valid range stops the compile with
one line naming draw, field and value (truncate the distribution to keep draws valid).

Mappings of physical tolerances that have no field of their own (stated, because the
optics model is a rotationally symmetric thin lens with Zernike aberrations):

* **Sensor QE scale** → ``sensor.pixel.ar_transmission`` with ``apply: scale``: the pixel
  model's QE is proportional to it (flat AR transmission; :mod:`camtwin.sensor.qe`). It
  has no effect on a sensor whose QE is given as measured channel curves.
* **Assembly errors** (pseudo-fields ``assembly.*``, not in ModuleSpec):

  ``assembly.decenter_x_um``, ``assembly.decenter_y_um`` — the lens's optical axis off the
  sensor centre by d [µm]. The image of a rigidly shifted rotationally symmetric lens
  moves with it, so a field point at sensor position p [µm from the sensor centre] sees
  the lens's field-dependent aberrations and shading at field height |p − d| / r_half
  (r_half = the sensor's half-diagonal; clipped to 1). Element decenter *inside* the lens
  (on-axis coma) is a Zernike tolerance on ``lens.aberrations.axis.7/8`` instead.

  ``assembly.tilt_x_deg``, ``assembly.tilt_y_deg`` (lens tilt θ about the x / y axis) and
  ``assembly.sensor_tilt_x_deg``, ``assembly.sensor_tilt_y_deg`` (sensor tilt φ) — the
  image plane of a tilted thin lens is tilted by (1 − m)·θ relative to its original
  orientation (Scheimpflug condition tan ψ = m·tan θ for the object plane, small angles;
  m = lateral magnification), so the image plane is tilted against the sensor by
  τ = (1 − m)·θ − φ about each axis. A point p = (x, y) [µm] then sits off focus by
  δ(p) = δ₀ + x·tan τ_y + y·tan τ_x [µm] (pivot at the sensor centre).

  ``assembly.focus_um`` — δ₀, the axial (back-focal) error of the sensor against the
  image plane [µm] (focus shift).

  δ enters the lens as the thin-lens defocus does (:meth:`LensSpec.zernike_um`): a Noll
  Z₄ term c₄ += δ/(8 N_w²)/(2√3) [µm of OPD] (Goodman, *Fourier Optics*, 3rd ed., §6.4),
  added to ``aberrations.axis[4]`` (and ``full_field[4]`` where the lens has one), at the
  field point that is measured. A metric with a ``field`` condition (``mtf50_cy_px``) is
  measured at its field position — at the four corners with ``corners: true`` (field f
  along each diagonal: p = (±f·W/2, ±f·H/2)) — with that point's δ and field height;
  metrics without a field (centre crops) see δ₀ only.

* **Active alignment** (``active_alignment``, optional): after assembly the lens is
  re-centred, re-tilted and re-focused against the sensor within stated limits — it
  removes up to ``decenter_um`` of each decenter component, up to ``tilt_deg`` of each
  component of the relative tilt τ and up to ``focus_um`` of δ₀: residual e − clip(e, −L, L).
  It cannot undo lens-internal aberrations, f-number, sensor or IR-cut spread. Every
  measurement is taken twice per draw, as built and after alignment (columns ``aa_<col>``),
  with the same random numbers (common random numbers: the difference is the alignment's).

Draws
-----
Draw *i* uses ``SeedSequence(seed).spawn(N)[i]`` (= ``SeedSequence(seed, spawn_key=(i,))``,
independent of N): its first child gives the standard normal scores z of all tolerances
(correlated through the Cholesky factor of ``correlation``: a Gaussian copula — Nelsen,
*An Introduction to Copulas*, 2nd ed. 2006, §2.9), each mapped to its distribution by
x = F⁻¹(Φ(z)); its second child the key of the measurement noise. A draw is one sweep
point (:class:`~camtwin.sweep.spec.Point`): it runs on Dask through
:func:`~camtwin.sweep.runner.run_sweep` into the Parquet/DuckDB store, one row per draw with
columns ``draw``, ``tol_<name>`` (the drawn deviation, in the field's unit), ``z_<name>``
(its normal score) and the results — so a larger N reuses the draws already stored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from .._spec import FrozenSpec, read_yaml
from ..errors import ConfigError
from .measurements import Measurement, column_name, field_with_unit, parse_measurement
from .spec import CompiledSweep

#: Most Monte-Carlo draws of one run (each draw's module is built while compiling).
MAX_DRAWS = 100_000
#: Pseudo-fields of the assembly (module docstring) → (unit, description).
ASSEMBLY_FIELDS = {
    "decenter_x_um": ("µm", "lens optical axis − sensor centre, x"),
    "decenter_y_um": ("µm", "lens optical axis − sensor centre, y"),
    "tilt_x_deg": ("°", "lens tilt about x"),
    "tilt_y_deg": ("°", "lens tilt about y"),
    "sensor_tilt_x_deg": ("°", "sensor tilt about x"),
    "sensor_tilt_y_deg": ("°", "sensor tilt about y"),
    "focus_um": ("µm", "axial (back-focal) error of the sensor"),
}
#: Distribution names and their parameters (required, optional with default).
DISTRIBUTIONS = {"normal": ({"sd"}, {"mean": 0.0}),
                 "uniform": ({"lo", "hi"}, {}),
                 "truncnormal": ({"sd", "lo", "hi"}, {"mean": 0.0}),
                 "fixed": ({"value"}, {})}
APPLY = ("add", "scale", "set")
#: The four corners (name, sign x, sign y) of ``corners: true`` (y down, as in images).
CORNERS = (("tl", -1, -1), ("tr", 1, -1), ("bl", -1, 1), ("br", 1, 1))
#: Limits of active alignment (module docstring).
ALIGNMENT_KEYS = ("decenter_um", "tilt_deg", "focus_um")


class ToleranceSpec(FrozenSpec):
    """The YAML tolerance spec (module docstring); parsed further by :func:`compile_tolerance`."""

    name: str = Field("yield", min_length=1, max_length=200)
    description: str = ""
    base: str = "default"
    seed: int = Field(0, ge=0, lt=2**63)
    draws: int = Field(200, ge=1, le=MAX_DRAWS)
    crop: tuple[int, int] | None = None
    tolerances: list[Any] = Field(min_length=1)
    correlation: dict | None = None
    measurements: list[Any] = Field(min_length=1)
    active_alignment: dict | None = None
    batch_size: int | None = Field(None, ge=1, le=10_000)


@dataclass(frozen=True)
class Tolerance:
    """One parsed tolerance: the paths it changes, how, and its distribution."""

    name: str
    paths: tuple[str, ...]
    dist: str
    params: tuple            # sorted (key, value) pairs
    apply: str = "add"

    @property
    def column(self) -> str:
        return "tol_" + column_name(self.name)

    @property
    def z_column(self) -> str:
        return "z_" + column_name(self.name)

    @property
    def unit(self) -> str:
        p = self.paths[0]
        if self.apply == "scale":
            return ""
        if p.startswith("assembly."):
            return ASSEMBLY_FIELDS[p.split(".", 1)[1]][0]
        if ".aberrations." in p:
            return "waves"
        from .measurements import label_from_name

        return label_from_name(p)[1]

    def quantile(self, z: np.ndarray) -> np.ndarray:
        """x = F⁻¹(Φ(z)) of standard normal scores ``z``."""
        from scipy import special, stats

        p = dict(self.params)
        z = np.asarray(z, dtype=np.float64)
        if self.dist == "normal":
            return p["mean"] + p["sd"] * z
        if self.dist == "fixed":
            return np.full_like(z, p["value"])
        u = special.ndtr(z)
        if self.dist == "uniform":
            return p["lo"] + (p["hi"] - p["lo"]) * u
        if p["sd"] == 0:
            return np.clip(np.full_like(z, p["mean"]), p["lo"], p["hi"])
        a, b = (p["lo"] - p["mean"]) / p["sd"], (p["hi"] - p["mean"]) / p["sd"]
        return stats.truncnorm.ppf(u, a, b, loc=p["mean"], scale=p["sd"])

    def describe(self) -> str:
        p = dict(self.params)
        how = {"add": "+", "scale": "× (1 +", "set": "="}[self.apply]
        if self.dist == "normal":
            d = f"N({p['mean']:g}, {p['sd']:g}²)"
        elif self.dist == "uniform":
            d = f"U({p['lo']:g}, {p['hi']:g})"
        elif self.dist == "truncnormal":
            d = f"N({p['mean']:g}, {p['sd']:g}²) on [{p['lo']:g}, {p['hi']:g}]"
        else:
            d = f"{p['value']:g}"
        return f"{', '.join(self.paths)} {how} {d}{')' if self.apply == 'scale' else ''}"


def _number(where: str, key: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{where}: {key} = {v!r}: must be a finite number")
    return float(v)


def parse_tolerance(item, index: int, base_dump: dict) -> Tolerance:
    """One entry of ``tolerances`` (module docstring) → :class:`Tolerance`; bad input is a
    one-line :class:`ConfigError` naming the field, the value and the valid range."""
    where = f"tolerances[{index}]"
    if not isinstance(item, dict):
        raise ConfigError(f"{where} = {item!r}: expected a mapping (field, a distribution)")
    extra = sorted(set(item) - {"name", "field", "apply", *DISTRIBUTIONS})
    if extra:
        raise ConfigError(f"{where}: unknown key {extra[0]!r}; valid: name, field, apply, "
                          f"{', '.join(DISTRIBUTIONS)}")
    paths = item.get("field")
    paths = [paths] if isinstance(paths, str) else paths
    if not paths or not isinstance(paths, list) or not all(isinstance(p, str) and p
                                                            for p in paths):
        raise ConfigError(f"{where}.field = {item.get('field')!r}: expected a dotted module "
                          "path (e.g. lens.f_number, assembly.tilt_x_deg) or a list of them")
    for p in paths:
        check_path(p, base_dump, f"{where}.field")
    name = item.get("name", paths[0])
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}.name = {name!r}: expected a non-empty string")
    where = f"tolerance {name}"
    apply = item.get("apply", "add")
    if apply not in APPLY:
        raise ConfigError(f"{where}: apply = {apply!r}; valid choices: {', '.join(APPLY)}")
    if apply != "add" and any(p.startswith("assembly.") for p in paths):
        raise ConfigError(f"{where}: apply = {apply!r}: assembly errors are deviations "
                          "(nominal 0); valid: add")
    dists = [d for d in DISTRIBUTIONS if d in item]
    if len(dists) != 1:
        raise ConfigError(f"{where}: give exactly one distribution of "
                          f"{', '.join(DISTRIBUTIONS)} (got {len(dists)})")
    dist = dists[0]
    raw = item[dist]
    if dist == "fixed" and not isinstance(raw, dict):
        raw = {"value": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {dist} = {raw!r}: expected a mapping of its parameters")
    required, optional = DISTRIBUTIONS[dist]
    extra = sorted(set(raw) - required - set(optional))
    if extra:
        raise ConfigError(f"{where}: {dist}.{extra[0]}: unknown parameter; valid: "
                          f"{', '.join(sorted(required | set(optional)))}")
    missing = sorted(required - set(raw))
    if missing:
        raise ConfigError(f"{where}: {dist} needs {missing[0]!r} "
                          f"({', '.join(sorted(required))})")
    params = {**optional, **{k: _number(where, f"{dist}.{k}", v) for k, v in raw.items()}}
    if "sd" in params and params["sd"] < 0:
        raise ConfigError(f"{where}: {dist}.sd = {params['sd']:g}: a standard deviation "
                          "must be ≥ 0")
    if "lo" in params and not params["lo"] < params["hi"]:
        raise ConfigError(f"{where}: {dist}.lo = {params['lo']:g}, hi = {params['hi']:g}: "
                          "needs lo < hi")
    if dist == "truncnormal" and params["sd"] > 0:
        from scipy import special

        a = (params["lo"] - params["mean"]) / params["sd"]
        b = (params["hi"] - params["mean"]) / params["sd"]
        if special.ndtr(b) - special.ndtr(a) < 1e-12:
            raise ConfigError(f"{where}: truncnormal [lo, hi] = [{params['lo']:g}, "
                              f"{params['hi']:g}] holds no probability of "
                              f"N({params['mean']:g}, {params['sd']:g}²)")
    return Tolerance(name=name, paths=tuple(paths), dist=dist,
                     params=tuple(sorted(params.items())), apply=apply)


_ZERNIKE_DICTS = ("lens.aberrations.axis", "lens.aberrations.full_field")


def check_path(path: str, dump: dict, where: str) -> None:
    """Raise a one-line ConfigError unless ``path`` names a numeric field of the module, a
    Zernike term or an assembly pseudo-field."""
    from ..optics.zernike import MAX_NOLL

    if path.startswith("assembly."):
        key = path.split(".", 1)[1]
        if key not in ASSEMBLY_FIELDS:
            raise ConfigError(f"{where} = {path!r}: unknown assembly error {key!r}; valid: "
                              f"{', '.join('assembly.' + k for k in ASSEMBLY_FIELDS)}")
        return
    head, _, last = path.rpartition(".")
    if head in _ZERNIKE_DICTS:
        if not (last.isdigit() and 4 <= int(last) <= MAX_NOLL):
            raise ConfigError(f"{where} = {path!r}: Zernike term {last!r}: valid Noll "
                              f"indices are 4..{MAX_NOLL}")
        return
    node = dump
    parts = path.split(".")
    for i, key in enumerate(parts):
        if not isinstance(node, dict) or key not in node:
            at = ".".join(parts[:i]) or "module"
            keys = sorted(str(k) for k in node) if isinstance(node, dict) else []
            if at == "module":
                keys.append("assembly.*")
            raise ConfigError(f"{where} = {path!r}: unknown field {key!r} of {at}; valid: "
                              + (", ".join(keys) if keys else "(not a nested spec)"))
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, (int, float)) and node is not None:
        raise ConfigError(f"{where} = {path!r}: not a numeric field (value {node!r}); "
                          "tolerances apply to numbers")


def _set_path(data: dict, path: str, value) -> None:
    parts = path.split(".")
    node = data
    for key in parts[:-1]:
        node = node[key]
    last = parts[-1]
    if ".".join(parts[:-1]) in _ZERNIKE_DICTS:
        last = int(last)
    node[last] = value


def _get_path(data: dict, path: str):
    parts = path.split(".")
    node = data
    for key in parts[:-1]:
        node = node[key]
    last = parts[-1]
    if ".".join(parts[:-1]) in _ZERNIKE_DICTS:
        return node.get(int(last), node.get(last, 0.0))
    return node[last]


def parse_correlation(raw, tolerances: list[Tolerance]) -> np.ndarray | None:
    """The lower Cholesky factor L (R = L·Lᵀ) over all tolerances, or None (independent)."""
    if raw is None:
        return None
    extra = sorted(set(raw) - {"tolerances", "matrix"})
    if extra:
        raise ConfigError(f"correlation: unknown key {extra[0]!r}; valid: tolerances, matrix")
    names = raw.get("tolerances")
    known = [t.name for t in tolerances]
    if not isinstance(names, list) or len(names) < 2:
        raise ConfigError(f"correlation.tolerances = {names!r}: expected a list of ≥ 2 "
                          "tolerance names")
    for n in names:
        if n not in known:
            raise ConfigError(f"correlation.tolerances: unknown tolerance {n!r}; valid: "
                              f"{', '.join(known)}")
    if len(set(names)) != len(names):
        raise ConfigError("correlation.tolerances: a tolerance is listed twice")
    try:
        m = np.array(raw.get("matrix"), dtype=np.float64)
    except (TypeError, ValueError):
        m = np.zeros(0)
    k = len(names)
    if m.shape != (k, k) or not np.all(np.isfinite(m)):
        raise ConfigError(f"correlation.matrix: expected a {k} × {k} matrix of numbers "
                          f"(one row per listed tolerance)")
    if not np.allclose(m, m.T, atol=1e-12):
        raise ConfigError("correlation.matrix: must be symmetric")
    if not np.allclose(np.diag(m), 1.0):
        raise ConfigError(f"correlation.matrix: the diagonal must be 1 (got {np.diag(m)})")
    off = m[~np.eye(k, dtype=bool)]
    if off.size and np.max(np.abs(off)) > 1:
        raise ConfigError(f"correlation.matrix: entry {off[np.argmax(np.abs(off))]:g}: "
                          "valid range is -1..1")
    eig = float(np.linalg.eigvalsh(m).min())
    if eig < -1e-10:
        raise ConfigError(f"correlation.matrix: not positive semi-definite (smallest "
                          f"eigenvalue {eig:.3g}); not a correlation matrix")
    full = np.eye(len(tolerances))
    idx = [known.index(n) for n in names]
    full[np.ix_(idx, idx)] = m
    # a tiny ridge lets a singular (|ρ| = 1) matrix factorise
    return np.linalg.cholesky(full + 1e-12 * np.eye(len(tolerances)))


def draw_scores(seed: int, index: int, n_tol: int, chol: np.ndarray | None) -> np.ndarray:
    """Standard normal scores of draw ``index`` (correlated by ``chol``)."""
    ss = np.random.SeedSequence(seed, spawn_key=(int(index),))
    tol_ss = ss.spawn(2)[0]
    z = np.random.default_rng(tol_ss).standard_normal(n_tol)
    return z if chol is None else chol @ z


def noise_key(seed: int, index: int) -> int:
    """Key of the measurement noise of draw ``index`` (the second child of its seed)."""
    ss = np.random.SeedSequence(seed, spawn_key=(int(index),)).spawn(2)[1]
    return int(ss.generate_state(2, dtype=np.uint32).astype(np.uint64) @ [1, 2**32])


# --------------------------------------------------------------------------------------
# assembly state and active alignment
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Alignment:
    """Active-alignment limits (module docstring); None: that axis is not corrected."""

    decenter_um: float | None = None
    tilt_deg: float | None = None
    focus_um: float | None = None


def parse_alignment(raw) -> Alignment | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"active_alignment = {raw!r}: expected a mapping of limits "
                          f"({', '.join(ALIGNMENT_KEYS)})")
    extra = sorted(set(raw) - set(ALIGNMENT_KEYS))
    if extra:
        raise ConfigError(f"active_alignment: unknown key {extra[0]!r}; valid: "
                          f"{', '.join(ALIGNMENT_KEYS)}")
    vals = {}
    for k, v in raw.items():
        v = _number("active_alignment", k, v)
        if v < 0:
            raise ConfigError(f"active_alignment.{k} = {v:g}: a correction range must be ≥ 0")
        vals[k] = v
    return Alignment(**vals)


def assembly_state(values: dict, magnification: float) -> dict:
    """The assembly errors that act on the image (module docstring): decenter d [µm],
    relative image-plane tilt τ [°] and axial error δ₀ [µm]."""
    g = values.get
    return {"dx_um": g("decenter_x_um", 0.0), "dy_um": g("decenter_y_um", 0.0),
            "tau_x_deg": (1 - magnification) * g("tilt_x_deg", 0.0) - g("sensor_tilt_x_deg", 0.0),
            "tau_y_deg": (1 - magnification) * g("tilt_y_deg", 0.0) - g("sensor_tilt_y_deg", 0.0),
            "focus_um": g("focus_um", 0.0)}


def aligned_state(state: dict, aa: Alignment) -> dict:
    """What active alignment leaves: e − clip(e, −L, L) on every corrected axis."""
    def residual(e, lim):
        return e if lim is None else float(e - np.clip(e, -lim, lim))

    return {"dx_um": residual(state["dx_um"], aa.decenter_um),
            "dy_um": residual(state["dy_um"], aa.decenter_um),
            "tau_x_deg": residual(state["tau_x_deg"], aa.tilt_deg),
            "tau_y_deg": residual(state["tau_y_deg"], aa.tilt_deg),
            "focus_um": residual(state["focus_um"], aa.focus_um)}


def defocus_waves(lens, delta_um: float) -> float:
    """Noll Z₄ RMS coefficient [waves at the lens's reference wavelength] of an axial focus
    error ``delta_um``: c₄ = δ/(8 N_w²)/(2√3) (as :meth:`LensSpec.zernike_um`)."""
    w020 = delta_um / (8.0 * lens.working_f_number ** 2)
    return w020 / (2.0 * math.sqrt(3.0)) / (lens.aberrations.reference_wavelength_nm * 1e-3)


def module_at_point(module, state: dict, pos_um: tuple[float, float] | None):
    """``(module with the local defocus of sensor point pos_um, field height of the point)``
    under the assembly ``state``; ``pos_um`` None: a metric without a field (δ₀ only)."""
    s = module.sensor
    half_diag_um = 0.5 * math.hypot(s.width_mm, s.height_mm) * 1e3
    if pos_um is None:
        x = y = 0.0
    else:
        x, y = pos_um
    delta = (state["focus_um"] + x * math.tan(math.radians(state["tau_y_deg"]))
             + y * math.tan(math.radians(state["tau_x_deg"])))
    field_h = min(1.0, math.hypot(x - state["dx_um"], y - state["dy_um"]) / half_diag_um)
    if delta == 0.0:
        return module, field_h
    ab = module.lens.aberrations
    dc = defocus_waves(module.lens, delta)
    axis = dict(ab.axis)
    axis[4] = axis.get(4, 0.0) + dc
    full = dict(ab.full_field)
    if 4 in full:
        full[4] = full[4] + dc
    if max(abs(axis[4]), abs(full.get(4, 0.0))) > 20:
        raise ConfigError(f"local defocus {delta:.4g} µm = {dc:.3g} waves of Z4: beyond the "
                          "optics model's ±20 waves")
    lens = module.lens.model_copy(update={"aberrations": ab.model_copy(
        update={"axis": axis, "full_field": full})})
    return module.model_copy(update={"lens": lens}), field_h


@dataclass(frozen=True)
class YieldMeasurement:
    """One judged column of a tolerance run: a metric (at one corner), as built or after
    active alignment. Duck-types :class:`~camtwin.sweep.measurements.Measurement` for the
    sweep runner (``column``, ``run``, ``fields``, ``identity``)."""

    base: Measurement
    column: str
    label: str
    corner: tuple | None = None     # (name, sx, sy) or None
    aligned: bool = False
    noise_index: int = 0            # shared by the as-built and aligned column (CRN)
    lower: float | None = None
    upper: float | None = None

    @property
    def kind(self) -> str:
        return self.base.kind

    def columns(self):
        return [(f.name, f.type) for f in self.fields()]

    def fields(self) -> list[pa.Field]:
        from ..evaluate.metrics import METRICS

        unit = METRICS[self.base.kind].unit if self.base.kind in METRICS else ""
        return [field_with_unit(self.column, pa.float64(), self.label, unit)]

    def identity(self) -> dict:
        return {"base": self.base.identity(), "column": self.column,
                "corner": None if self.corner is None else list(self.corner),
                "aligned": self.aligned, "noise_index": self.noise_index}

    @property
    def has_field(self) -> bool:
        from ..evaluate.metrics import METRICS

        return (self.base.kind in METRICS and "field" in METRICS[self.base.kind].conditions)

    def run(self, module, swept: dict, rng) -> dict:
        """Measure on ``module`` under the point's assembly errors (``swept['assembly']``
        or, aligned, ``swept['aligned']``); the noise comes from the draw's key and
        :attr:`noise_index`, not from ``rng`` (as built and aligned share it)."""
        state = swept.get("aligned" if self.aligned else "assembly") or {}
        state = {**{k: 0.0 for k in ("dx_um", "dy_um", "tau_x_deg", "tau_y_deg",
                                     "focus_um")}, **state}
        gen = np.random.default_rng([int(swept.get("noise_key", 0)), self.noise_index])
        if self.has_field:
            from ..evaluate.metrics import METRICS, measure

            cond = dict(self.base.conditions)
            f = float(cond.get("field", METRICS[self.base.kind].conditions["field"]))
            s = module.sensor
            sx, sy = (self.corner[1], self.corner[2]) if self.corner else (1, 1)
            pos = (sx * f * s.width_mm * 500.0, sy * f * s.height_mm * 500.0)   # µm
            mod, field_h = module_at_point(module, state, pos)
            res = measure(mod, self.base.kind, {**cond, "field": field_h}, rng=gen)
            return {self.column: float(res.value)}
        mod, _ = module_at_point(module, state, None)
        out = self.base.run(mod, {}, gen)
        return {self.column: float(next(iter(out.values())))}


def parse_judged(item, index: int, aa: bool) -> list[YieldMeasurement]:
    """One entry of ``measurements``: a metric (as in a sweep spec) with ``min``/``max``
    limits and ``corners``; → its columns (and the aligned ones when ``aa``)."""
    where = f"measurements[{index}]"
    if isinstance(item, str):
        item = {"metric": item}
    if not isinstance(item, dict):
        raise ConfigError(f"{where} = {item!r}: expected a metric name or a mapping")
    item = dict(item)
    lo, hi = item.pop("min", None), item.pop("max", None)
    corners = item.pop("corners", False)
    if "evaluate" in item or item.get("metric") in ("evaluate", "emva1288"):
        raise ConfigError(f"{where}: a tolerance run judges single metrics; valid: a name of "
                          "camtwin.evaluate.metrics.METRICS or snr_at_lux/mtf50_centre/"
                          "mtf50_corner")
    base = parse_measurement(item, index)
    for key, v in (("min", lo), ("max", hi)):
        if v is not None:
            _number(where, key, v)
    if lo is None and hi is None:
        raise ConfigError(f"{where} ({base.kind}): give a pass/fail limit: min and/or max")
    if lo is not None and hi is not None and not lo < hi:
        raise ConfigError(f"{where}: min = {lo:g} must be below max = {hi:g}")
    if not isinstance(corners, bool):
        raise ConfigError(f"{where}.corners = {corners!r}: expected true or false")
    probe = YieldMeasurement(base=base, column=base.column, label="")
    if base.kind in ("mtf50_centre", "mtf50_corner"):   # the sweep aliases → the metric
        f = 0.0 if base.kind == "mtf50_centre" else 0.8
        base = parse_measurement({"metric": "mtf50_cy_px", "as": base.column,
                                  "conditions": {**dict(base.conditions), "field": f}}, index)
        probe = YieldMeasurement(base=base, column=base.column, label="")
    if corners and not probe.has_field:
        raise ConfigError(f"{where}: corners: true needs a metric with a field position "
                          "(mtf50_cy_px)")
    from ..evaluate.metrics import METRICS

    desc = METRICS[base.kind].description if base.kind in METRICS else base.kind
    cond = ", ".join(f"{k} = {v}" for k, v in base.conditions)
    out = []
    for aligned in ((False, True) if aa else (False,)):
        for ci, corner in enumerate(CORNERS if corners else (None,)):
            col = base.column + (f"_{corner[0]}" if corner else "")
            label = (f"{desc}{f' ({cond})' if cond else ''}"
                     f"{f' corner {corner[0]}' if corner else ''}"
                     f"{', after active alignment' if aligned else ''}")
            out.append(YieldMeasurement(base=base, column=("aa_" if aligned else "") + col,
                                        label=label, corner=corner, aligned=aligned,
                                        noise_index=index * 8 + ci,
                                        lower=None if lo is None else float(lo),
                                        upper=None if hi is None else float(hi)))
    return out


@dataclass(frozen=True)
class CompiledTolerance:
    """A tolerance spec ready to run: the sweep the runner takes, and what judging needs."""

    spec: ToleranceSpec
    source: str
    tolerances: tuple[Tolerance, ...]
    alignment: Alignment | None
    sweep: Any                         # CompiledSweep (points = draws)
    scores: np.ndarray                 # (N, n_tol) normal scores
    values: np.ndarray                 # (N, n_tol) drawn deviations
    measurements: tuple = field(default=())

    @property
    def n_draws(self) -> int:
        return len(self.sweep.points)

    def judged(self, aligned: bool = False) -> list[YieldMeasurement]:
        return [m for m in self.measurements if m.aligned == aligned]


def load_tolerance(path: str | Path, *, draws: int | None = None,
                   seed: int | None = None) -> CompiledTolerance:
    """Read and compile a tolerance spec YAML file (``draws``/``seed`` override the spec's)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping (base, tolerances, measurements)")
    spec = ToleranceSpec.from_dict(data, source=str(path))
    return compile_tolerance(spec, base_dir=Path(path).parent, source=str(path), draws=draws,
                             seed=seed)


def compile_tolerance(spec: ToleranceSpec | dict, *, base_dir=None, source: str = "<spec>",
                      draws: int | None = None, seed: int | None = None) -> CompiledTolerance:
    """Validate the spec, draw every module, and build the sweep of draws."""
    from ..parts import resolve_module
    from ..module import ModuleSpec
    from .spec import DESCRIPTOR_COLUMNS, META_COLUMNS, Point, SweepSpec, point_hash

    if isinstance(spec, dict):
        spec = ToleranceSpec.from_dict(spec, source=source)
    if draws is not None:
        if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
            raise ConfigError(f"--draws = {draws!r}: must be an integer in 1..{MAX_DRAWS}")
        spec = spec.model_copy(update={"draws": draws})
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise ConfigError(f"--seed = {seed!r}: must be an integer in 0..2^63-1")
        spec = spec.model_copy(update={"seed": seed})
    try:
        base = resolve_module(spec.base, base_dir)
    except ConfigError as exc:
        raise ConfigError(f"base: {exc}") from None
    if spec.crop is not None:
        w, h = spec.crop
        if w < 16 or h < 16:
            raise ConfigError(f"crop = {list(spec.crop)}: width and height must be ≥ 16")
        from ..crop import crop_module

        base = crop_module(base, w, h, same_image=False)   # a smaller module (spec 'crop')
    dump = base.model_dump()
    tols = [parse_tolerance(t, i, dump) for i, t in enumerate(spec.tolerances)]
    names = [t.name for t in tols]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"tolerances: name {sorted(dup)[0]!r} is used twice; give each a "
                          "distinct 'name'")
    paths = [p for t in tols for p in t.paths]
    dupp = {p for p in paths if paths.count(p) > 1}
    if dupp:
        raise ConfigError(f"tolerances: field {sorted(dupp)[0]!r} has two tolerances; "
                          "combine them into one")
    for t in tols:
        for p in t.paths:
            if not p.startswith("assembly.") and _get_path(dump, p) is None \
                    and t.apply != "set":
                raise ConfigError(f"tolerance {t.name}: {p} is not set on the base module "
                                  "(None); use apply: set, or give it a nominal value")
    chol = parse_correlation(spec.correlation, tols)
    aa = parse_alignment(spec.active_alignment)
    judged = [m for i, item in enumerate(spec.measurements)
              for m in parse_judged(item, i, aa is not None)]
    cols = [m.column for m in judged]
    dupc = {c for c in cols if cols.count(c) > 1}
    if dupc:
        raise ConfigError(f"measurements: column {sorted(dupc)[0]!r} twice; rename one "
                          "(as: NAME)")

    n = spec.draws
    scores = np.array([draw_scores(spec.seed, i, len(tols), chol) for i in range(n)]
                      ).reshape(n, len(tols))
    values = np.column_stack([t.quantile(scores[:, k]) for k, t in enumerate(tols)]
                             ) if tols else np.zeros((n, 0))
    m_lens = base.lens.magnification
    points = []
    param_columns = {"draw": "draw",
                     **{f"tol:{t.name}": t.column for t in tols},
                     **{f"z:{t.name}": t.z_column for t in tols}}
    for i in range(n):
        data = base.model_dump()
        asm = {}
        for k, t in enumerate(tols):
            x = float(values[i, k])
            for p in t.paths:
                if p.startswith("assembly."):
                    asm[p.split(".", 1)[1]] = x
                    continue
                nominal = _get_path(data, p)
                v = (nominal + x if t.apply == "add" else
                     nominal * (1.0 + x) if t.apply == "scale" else x)
                if isinstance(nominal, int) and not isinstance(nominal, bool):
                    v = int(round(v))
                _set_path(data, p, v)
        try:
            module = ModuleSpec.from_dict(data)
        except ConfigError as exc:
            shown = ", ".join(f"{t.name} = {values[i, k]:+.4g}" for k, t in enumerate(tols)
                              if not t.paths[0].startswith("assembly."))
            raise ConfigError(f"draw {i} ({shown}): {exc} — truncate the distribution "
                              "(truncnormal lo/hi) to keep draws valid") from None
        state = assembly_state(asm, m_lens)
        conditions = {"assembly": state, "noise_key": noise_key(spec.seed, i)}
        if aa is not None:
            conditions["aligned"] = aligned_state(state, aa)
        params = {"draw": i, **{f"tol:{t.name}": float(values[i, k]) for k, t in enumerate(tols)},
                  **{f"z:{t.name}": float(scores[i, k]) for k, t in enumerate(tols)}}
        points.append(Point(index=i, params=params, module=module, conditions=conditions,
                            hash=point_hash(module, conditions, params, judged, spec.seed)))

    def described(name, dtype, label, unit=""):
        return field_with_unit(name, dtype, label, unit)

    schema = pa.schema(
        [*(described(c, t, c) if t == pa.float64() else pa.field(c, t)
           for c, t in META_COLUMNS),
         pa.field("draw", pa.int64()),
         *(described(t.column, pa.float64(), f"{t.name} (drawn deviation)", t.unit)
           for t in tols),
         *(described(t.z_column, pa.float64(), f"{t.name} (normal score)") for t in tols),
         *(described(c, t, c) for c, t in DESCRIPTOR_COLUMNS),
         *(f for m in judged for f in m.fields())])
    sweep_spec = SweepSpec(name=spec.name, description=spec.description, base=spec.base,
                           seed=spec.seed, measurements=[m.column for m in judged],
                           batch_size=spec.batch_size)
    sweep = _ToleranceSweep(spec=sweep_spec, source=source, base=base,
                            measurements=tuple(judged), param_columns=param_columns,
                            points=tuple(points), schema=schema,
                            tolerance_spec=spec.model_dump(mode="json"))
    return CompiledTolerance(spec=spec, source=source, tolerances=tuple(tols), alignment=aa,
                             sweep=sweep, scores=scores, values=values,
                             measurements=tuple(judged))


@dataclass(frozen=True)
class _ToleranceSweep(CompiledSweep):
    """A CompiledSweep whose points are Monte-Carlo draws; the store's ``sweep.json``
    records the tolerance spec."""

    tolerance_spec: dict = field(default_factory=dict)

    def spec_dict(self) -> dict:
        return {"source": self.source, "kind": "tolerance",
                **json.loads(json.dumps(self.tolerance_spec, default=str))}
