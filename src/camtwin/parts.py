"""One way to name a part: the resolver of modules, sensors and lenses.

Every place that takes a module, sensor or lens — the CLI commands, sweep specs, the web API
and the Python functions :func:`camtwin.load_module`, :func:`camtwin.load_sensor` and
:func:`camtwin.load_lens` — goes through :func:`resolve_module`, :func:`resolve_sensor` and
:func:`resolve_lens`, so they all accept the same forms:

=============================  ==============================================================
form                           meaning
=============================  ==============================================================
``default``                    a built-in part (``camtwin/data/modules/<name>.yaml``; as a
                               sensor or lens: that module's sensor or lens)
``catalog:sony-imx273``        an entry of the real-part catalog (:mod:`camtwin.catalog`)
``emva:onsemi-python1300``     (sensors) a twin of a published EMVA 1288 summary
                               (``camtwin/data/emva/<name>.yaml``,
                               :func:`~camtwin.measure.emva1288.sensor_from_emva`)
``builtin:default``            a built-in part, spelled explicitly
``sony-imx273``                a bare name: whichever source has it; a name that more than one
                               source has is an error listing the prefixed candidates
``path/to/part.yaml``          a YAML file (relative paths from ``base_dir``, default the
                               working directory)
=============================  ==============================================================

A module YAML may give its ``sensor`` and ``lens`` as a mapping of fields or as a reference in
any of the forms above (a relative path is taken from the YAML's folder), its ``isp`` as a
mapping or the name of a catalog ISP preset, and ``object_distance_m`` (where the scene plane
sits) at the top level — so a copied catalog module YAML
(``camtwin/data/catalog/modules/*.yaml``) loads as is. A sensor YAML may be a sensor mapping,
a module (its sensor is used), a catalog sensor entry (sourced figures) or an EMVA 1288
summary; a lens YAML a lens mapping, a module (its lens) or a catalog lens entry.

Old names keep working as aliases (``python1300`` → ``emva:onsemi-python1300``);
:func:`locate` tells which canonical name a reference stands for, so a caller can show it.

Examples
--------
>>> from camtwin.parts import resolve_sensor, locate
>>> resolve_sensor("catalog:sony-imx273").full_well_e
10500.0
>>> locate("sensor", "python1300").name
'emva:onsemi-python1300'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, UnknownNameError, unknown_name

if TYPE_CHECKING:  # pragma: no cover
    from .module import ModuleSpec
    from .optics.lens import LensSpec
    from .sensor.spec import SensorSpec

#: Kinds of parts the resolver knows.
KINDS = ("module", "sensor", "lens")

#: Prefix of each source; a bare name is looked up in all sources of its kind.
PREFIXES = {"builtin": "builtin:", "catalog": "catalog:", "emva": "emva:"}

#: Sources of each kind, in the order candidates are listed.
SOURCES = {"module": ("builtin", "catalog"), "sensor": ("builtin", "catalog", "emva"),
           "lens": ("builtin", "catalog")}

#: Old names → canonical reference (kept so that scripts and specs written with them work).
ALIASES = {
    "sensor": {"python1300": "emva:onsemi-python1300", "ev76c570": "emva:teledyne-ev76c570",
               "xgs20000": "emva:onsemi-xgs20000"},
    "module": {}, "lens": {},
}

_YAML_SUFFIXES = (".yaml", ".yml")

#: Help text of every CLI option that takes a module.
MODULE_HELP = ("Module: built-in name, catalog:NAME, bare catalog name or YAML file (see "
               "'camtwin modules').")


@dataclass(frozen=True)
class PartRef:
    """Where a reference points: ``source`` is builtin, catalog, emva or yaml; ``name`` the
    canonical reference (``catalog:NAME``, ``emva:NAME``, the built-in name, or the YAML
    path); ``alias`` the old name typed, when one was used."""

    kind: str
    source: str
    key: str
    name: str
    alias: str | None = None

    @property
    def note(self) -> str | None:
        """A one-line note when an old name was used, naming the canonical one."""
        if self.alias is None:
            return None
        return f"{self.kind} {self.alias!r} is now named {self.name!r}"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise unknown_name("part kind", kind, KINDS)


def _builtin_modules() -> dict[str, Path]:
    from .module import _packaged

    return _packaged()


def _names(kind: str, source: str) -> list[str]:
    """Names of ``kind`` in ``source`` (without prefix)."""
    if source == "builtin":
        return sorted(_builtin_modules())
    if source == "emva":
        from .measure.emva1288.datasheet import builtin_summaries

        return builtin_summaries()
    from .catalog.loader import catalog_names  # file stems: no catalog file is read

    return catalog_names({"module": "modules", "sensor": "sensors", "lens": "lenses"}[kind])


def known_parts(kind: str) -> list[str]:
    """Every name of ``kind`` a user can type, in canonical form: built-in names bare,
    catalog and EMVA names with their prefix (``catalog:sony-imx273``).

    >>> known_parts("module")[0]
    'default'
    """
    _check_kind(kind)
    out = []
    for source in SOURCES[kind]:
        prefix = "" if source == "builtin" else PREFIXES[source]
        out += [prefix + n for n in _names(kind, source)]
    return out


def _as_path(text: str, base_dir: Path | None) -> Path:
    p = Path(text)
    return Path(base_dir) / p if base_dir is not None and not p.is_absolute() else p


def locate(kind: str, ref: str | Path, base_dir: str | Path | None = None) -> PartRef:
    """Which part ``ref`` names (no file is read and no spec built).

    Raises
    ------
    UnknownNameError
        ``ref`` is no known name (the message lists the valid ones), or a bare name that
        several sources have (the message lists the prefixed candidates).
    """
    _check_kind(kind)
    text = str(ref).strip()
    if not text:
        raise ConfigError(f"{kind}: empty name; valid choices: {', '.join(known_parts(kind))}")
    alias = None
    if text in ALIASES[kind]:
        alias, text = text, ALIASES[kind][text]
    for source, prefix in PREFIXES.items():
        if text.startswith(prefix):
            name = text[len(prefix):]
            if source not in SOURCES[kind]:
                kinds = " and ".join(k + "s" for k in KINDS if source in SOURCES[k])
                raise UnknownNameError(f"{kind} {text!r}: {prefix} names only {kinds}")
            if name not in _names(kind, source):
                raise unknown_name(f"{kind}", text, known_parts(kind))
            canonical = name if source == "builtin" else prefix + name
            return PartRef(kind, source, name, canonical, alias)
    base = Path(base_dir) if base_dir is not None else None
    if Path(text).suffix.lower() in _YAML_SUFFIXES or "/" in text or "\\" in text:
        path = _as_path(text, base)
        return PartRef(kind, "yaml", str(path), str(path), alias)
    hits = [s for s in SOURCES[kind] if text in _names(kind, s)]
    if not hits:
        path = _as_path(text, base)
        if path.is_file():      # an existing file without .yaml (names win over such files)
            return PartRef(kind, "yaml", str(path), str(path), alias)
        raise unknown_name(f"{kind} (not a YAML file either)", text, known_parts(kind))
    if len(hits) > 1:
        cands = ", ".join(PREFIXES[s] + text for s in hits)
        raise UnknownNameError(f"{kind} {text!r} is ambiguous: it names {cands}; "
                               "give one of these")
    source = hits[0]
    canonical = text if source == "builtin" else PREFIXES[source] + text
    return PartRef(kind, source, text, canonical, alias)


def canonical_name(kind: str, ref: str | Path, base_dir: str | Path | None = None) -> str:
    """The canonical spelling of ``ref`` (see :func:`locate`)."""
    return locate(kind, ref, base_dir).name


# --- building specs --------------------------------------------------------------------------
def resolve_module(ref, base_dir: str | Path | None = None) -> "ModuleSpec":
    """The :class:`~camtwin.module.ModuleSpec` ``ref`` names (forms in the module docstring).

    A :class:`ModuleSpec` is returned as is; a mapping is validated as module fields (its
    ``sensor``/``lens``/``isp`` may be references, resolved from ``base_dir``).
    """
    from .module import ModuleSpec

    if isinstance(ref, ModuleSpec):
        return ref
    if isinstance(ref, dict):
        return _module_from_mapping(ref, Path(base_dir) if base_dir else None, "module")
    loc = locate("module", ref, base_dir)
    if loc.source == "builtin":
        return _module_from_yaml(_builtin_modules()[loc.key])
    if loc.source == "catalog":
        from .catalog import to_module

        return to_module(loc.key)
    return _module_from_yaml(Path(loc.key))


def resolve_sensor(ref, base_dir: str | Path | None = None) -> "SensorSpec":
    """The :class:`~camtwin.sensor.spec.SensorSpec` ``ref`` names (forms in the module
    docstring); a SensorSpec is returned as is, a mapping validated as sensor fields."""
    from .sensor.spec import SensorSpec

    if isinstance(ref, SensorSpec):
        return ref
    if isinstance(ref, dict):
        return SensorSpec.from_dict(ref, source="sensor")
    loc = locate("sensor", ref, base_dir)
    if loc.source == "builtin":
        return resolve_module(loc.key).sensor
    if loc.source == "catalog":
        from .catalog import to_sensor_spec

        return to_sensor_spec(loc.key)
    if loc.source == "emva":
        from .measure.emva1288.datasheet import load_summary, sensor_from_emva

        return sensor_from_emva(load_summary(loc.key))
    return _sensor_from_yaml(Path(loc.key))


def resolve_lens(ref, base_dir: str | Path | None = None, *,
                 object_distance_m: float | None = None) -> "LensSpec":
    """The :class:`~camtwin.optics.lens.LensSpec` ``ref`` names (forms in the module
    docstring); a LensSpec is returned as is, a mapping validated as lens fields.

    ``object_distance_m`` [m], when given, places the scene plane (catalog lenses default to
    1 m; other lenses keep their own value unless it is given).
    """
    from .optics.lens import LensSpec

    if isinstance(ref, LensSpec):
        lens = ref
    elif isinstance(ref, dict):
        lens = LensSpec.from_dict(ref, source="lens")
    else:
        loc = locate("lens", ref, base_dir)
        if loc.source == "builtin":
            lens = resolve_module(loc.key).lens
        elif loc.source == "catalog":
            from .catalog import to_lens_spec

            return to_lens_spec(loc.key, object_distance_m=1.0 if object_distance_m is None
                                else object_distance_m)
        else:
            lens = _lens_from_yaml(Path(loc.key))
    if object_distance_m is not None and lens.object_distance_m != object_distance_m:
        lens = lens.replace(object_distance_m=float(object_distance_m))
    return lens


def _mapping(path: Path) -> dict:
    from ._spec import read_yaml

    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    return data


def _module_from_yaml(path: Path) -> "ModuleSpec":
    return _module_from_mapping(_mapping(path), path.parent, str(path))


def _isp_preset(name: str, where: str):
    from .catalog.loader import isp_presets

    presets = isp_presets()
    key = name[len(PREFIXES["catalog"]):] if name.startswith(PREFIXES["catalog"]) else name
    if key not in presets:
        raise unknown_name(f"ISP preset ({where}: isp)", name, presets)
    return presets[key].spec


def _module_from_mapping(data: dict, base_dir: Path | None, where: str) -> "ModuleSpec":
    """Module fields whose sensor/lens/isp may be references (a copied catalog module)."""
    from .module import ModuleSpec

    data = dict(data)
    distance = data.pop("object_distance_m", None)
    if distance is not None and not (isinstance(distance, (int, float))
                                     and not isinstance(distance, bool) and 0 < distance <= 1000):
        raise ConfigError(f"{where}: object_distance_m = {distance!r}: must be a number in "
                          "(0, 1000] m")
    for field in ("sensor", "lens"):
        value = data.get(field)
        if isinstance(value, (str, Path)):
            try:
                spec = (resolve_sensor(value, base_dir) if field == "sensor" else
                        resolve_lens(value, base_dir, object_distance_m=distance))
            except UnknownNameError as exc:
                raise UnknownNameError(f"{where}: {field}: {exc}") from None
            data[field] = spec.model_dump()
        elif field == "lens" and distance is not None and isinstance(value, dict):
            data["lens"] = {**value, "object_distance_m": float(distance)}
    if isinstance(data.get("isp"), str):
        data["isp"] = _isp_preset(data["isp"], where).model_dump()
    dn = data.get("day_night")
    if isinstance(dn, dict) and "ir_cut_switcher" in dn:  # a copied catalog module's block
        from .catalog.convert import _day_night
        from .catalog.schema import DayNightEntry
        from .optics.lens import LensSpec

        lens = LensSpec.from_dict(data.get("lens"), source=f"{where}: lens")
        lens, spec = _day_night(DayNightEntry.from_dict(dn, source=f"{where}: day_night"),
                                lens)
        data["lens"], data["day_night"] = lens.model_dump(), spec.model_dump()
    st = data.get("stabiliser")
    if isinstance(st, dict) and isinstance(st.get("ois"), dict) and "value" in st["ois"]:
        from .catalog.convert import _stabiliser   # a copied catalog module's sourced block
        from .catalog.schema import StabiliserEntry

        entry = StabiliserEntry.from_dict(st, source=f"{where}: stabiliser")
        data["stabiliser"] = _stabiliser(entry).model_dump()
    return ModuleSpec.from_dict(data, source=where)


def _sensor_from_yaml(path: Path) -> "SensorSpec":
    from .sensor.spec import SensorSpec

    data = _mapping(path)
    if "lens" in data and "sensor" in data:
        return _module_from_mapping(data, path.parent, str(path)).sensor
    if "sensor" in data and isinstance(data["sensor"], dict):
        return SensorSpec.from_dict(data["sensor"], source=str(path))
    if "saturation_capacity_e" in data:
        from .measure.emva1288.datasheet import EmvaSummary, sensor_from_emva

        return sensor_from_emva(EmvaSummary.from_dict(data, source=str(path)))
    if "vendor" in data and "part" in data:
        from .catalog import to_sensor_spec
        from .catalog.schema import SensorEntry

        return to_sensor_spec(SensorEntry.from_dict(data, source=str(path)))
    return SensorSpec.from_dict(data, source=str(path))


def _lens_from_yaml(path: Path) -> "LensSpec":
    from .optics.lens import LensSpec

    data = _mapping(path)
    if "lens" in data and "sensor" in data:
        return _module_from_mapping(data, path.parent, str(path)).lens
    if "lens" in data and isinstance(data["lens"], dict):
        return LensSpec.from_dict(data["lens"], source=str(path))
    if "maker" in data and "part" in data:
        from .catalog import to_lens_spec
        from .catalog.schema import LensEntry

        return to_lens_spec(LensEntry.from_dict(data, source=str(path)))
    return LensSpec.from_dict(data, source=str(path))
