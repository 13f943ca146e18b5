"""Load the catalog data files (YAML, safe loader) into validated entries, once.

Layout under ``camtwin/data/catalog/`` (or any ``root`` given explicitly)::

    sensors/<name>.yaml     one SensorEntry per file, ``name`` equal to the file stem
    lenses/<name>.yaml      one LensEntry per file
    modules/<name>.yaml     one ModuleEntry per file (sensor, lens and ISP preset by name)
    isp_presets.yaml        preset name → {description, settings: IspSpec fields}

Every problem — unreadable or malformed YAML, a figure without source, a module naming an
unknown sensor — raises :class:`~camtwin.errors.ConfigError` with one line naming the file,
the entry and the field; an unknown name raises
:class:`~camtwin.errors.UnknownNameError` listing the valid names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .._spec import read_yaml
from ..errors import ConfigError, unknown_name
from ..isp.spec import IspSpec
from .schema import LensEntry, ModuleEntry, SensorEntry

#: Kinds of catalog entries, as used by ``camtwin catalog list --kind``.
KINDS = ("sensors", "lenses", "modules")

_MODELS = {"sensors": SensorEntry, "lenses": LensEntry, "modules": ModuleEntry}


@dataclass(frozen=True)
class IspPreset:
    """A named ISP setting for catalog modules."""

    name: str
    description: str
    spec: IspSpec


@dataclass(frozen=True)
class Catalog:
    """All entries of one catalog directory, by name."""

    root: Path
    sensors: dict[str, SensorEntry] = field(default_factory=dict)
    lenses: dict[str, LensEntry] = field(default_factory=dict)
    modules: dict[str, ModuleEntry] = field(default_factory=dict)
    isp_presets: dict[str, IspPreset] = field(default_factory=dict)

    def entries(self, kind: str) -> dict:
        if kind not in KINDS:
            raise unknown_name("catalog kind", kind, KINDS)
        return getattr(self, kind)


def catalog_root() -> Path:
    """The catalog shipped with camtwin (``camtwin/data/catalog``)."""
    return Path(str(resources.files("camtwin") / "data" / "catalog"))


def _read_entry(path: Path, kind: str):
    """The validated entry of one catalog file (its ``name`` must equal the file stem)."""
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got "
                          f"{type(data).__name__}")
    label = f"{path} ({kind[:-1]} {data.get('name', path.stem)!r})"
    entry = _MODELS[kind].from_dict(data, source=label)
    if entry.name != path.stem:
        raise ConfigError(f"{path}: name {entry.name!r} must equal the file name "
                          f"{path.stem!r}")
    return entry


def _load_kind(root: Path, kind: str) -> dict:
    folder = root / kind
    if not folder.is_dir():
        raise ConfigError(f"catalog {root}: folder {kind}/ is missing")
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        entry = _read_entry(path, kind)
        out[entry.name] = entry
    return out


def _root(root) -> Path:
    return Path(root).resolve() if root is not None else catalog_root()


def catalog_names(kind: str, root=None) -> list[str]:
    """Names of the ``kind`` entries at ``root`` without reading a file: a name is its file's
    stem (:func:`load_catalog` enforces that), so resolving one name needs no full load."""
    if kind not in KINDS:
        raise unknown_name("catalog kind", kind, KINDS)
    return sorted(p.stem for p in (_root(root) / kind).glob("*.yaml"))


@lru_cache(maxsize=256)
def _load_entry(root: Path, kind: str, name: str):
    path = root / kind / f"{name}.yaml"
    if name not in catalog_names(kind, root):
        what = kind[:-1] if kind != "lenses" else "lens"
        raise unknown_name(f"catalog {what}", name, catalog_names(kind, root))
    return _read_entry(path, kind)


@lru_cache(maxsize=8)
def _presets(root: Path) -> dict[str, IspPreset]:
    return _load_presets(root)


def isp_presets(root=None) -> dict[str, IspPreset]:
    """The catalog's ISP presets (``isp_presets.yaml`` only; cached)."""
    return _presets(_root(root))


def _load_presets(root: Path) -> dict[str, IspPreset]:
    path = root / "isp_presets.yaml"
    data = read_yaml(path)
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a mapping preset name -> {{description, settings}}")
    out = {}
    for name, body in data.items():
        if not isinstance(body, dict) or set(body) - {"description", "settings"}:
            raise ConfigError(f"{path}: preset {name!r} must be a mapping with keys "
                              "description and settings")
        spec = IspSpec.from_dict(body.get("settings") or {}, source=f"{path} (preset {name!r})")
        out[str(name)] = IspPreset(str(name), str(body.get("description", "")), spec)
    return out


@lru_cache(maxsize=8)
def _load(root: Path) -> Catalog:
    cat = Catalog(root=root, sensors=_load_kind(root, "sensors"),
                  lenses=_load_kind(root, "lenses"), modules=_load_kind(root, "modules"),
                  isp_presets=_load_presets(root))
    for m in cat.modules.values():
        where = f"{root / 'modules' / (m.name + '.yaml')}"
        for kind, ref, pool in (("sensor", m.sensor, cat.sensors), ("lens", m.lens, cat.lenses),
                                ("ISP preset", m.isp, cat.isp_presets)):
            if ref not in pool:
                raise ConfigError(f"{where}: {kind} {ref!r} is not in the catalog; valid "
                                  f"choices: {', '.join(sorted(pool))}")
    return cat


def load_catalog(root: str | Path | None = None) -> Catalog:
    """Load (once, cached per directory) and validate the catalog at ``root``."""
    return _load(_root(root))


def clear_cache() -> None:
    """Forget loaded catalogs (and fitted pixel models); for tests that edit files."""
    _load.cache_clear()
    _load_entry.cache_clear()
    _presets.cache_clear()
    from . import convert

    convert.fit_pixel.cache_clear()
    convert._module.cache_clear()


def _get(kind: str, name: str, root=None):
    """One entry, reading only its own file (the whole catalog is validated by
    :func:`load_catalog`, e.g. ``camtwin catalog``)."""
    return _load_entry(_root(root), kind, name)


def get_sensor(name: str, root=None) -> SensorEntry:
    """The catalog sensor ``name``; unknown names list the valid ones."""
    return _get("sensors", name, root)


def get_lens(name: str, root=None) -> LensEntry:
    """The catalog lens ``name``."""
    return _get("lenses", name, root)


def get_module(name: str, root=None) -> ModuleEntry:
    """The catalog module ``name``."""
    return _get("modules", name, root)


def find_entry(name: str, root=None) -> tuple[str, object]:
    """Look ``name`` up among sensors, lenses and modules → (kind, entry)."""
    cat = load_catalog(root)
    for kind in KINDS:
        if name in cat.entries(kind):
            return kind, cat.entries(kind)[name]
    every = [n for kind in KINDS for n in cat.entries(kind)]
    raise unknown_name("catalog entry", name, every)
