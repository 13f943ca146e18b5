"""On-disk cache of one-off, per-module work (the fitted colour-correction matrix).

A fitted CCM costs a whole simulated ColorChecker capture (seconds for a 1.2 MP module); it
depends only on the module and on camtwin's code, so it is computed once and kept in the
user cache directory (``platformdirs.user_cache_dir("camtwin")``, or ``CAMTWIN_CACHE_DIR``)
under a key

    sha256(kind, camtwin version, CACHE_SCHEMA, canonical JSON of the module spec)

A changed module (any field) or another camtwin version misses the cache. Entries are
``.npy`` files written atomically (temporary file + rename), so concurrent processes never
see a half-written entry: two processes that miss at once both compute and the last
rename wins with identical content. A file that cannot be read, has the wrong shape or
holds a non-finite value is ignored and rewritten. ``camtwin cache clear`` empties it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ._io import atomic_path

#: Bump when the meaning of a cached value changes without a version change.
CACHE_SCHEMA = 1

#: Environment variable overriding the cache folder (tests, read-only homes).
CACHE_ENV = "CAMTWIN_CACHE_DIR"

#: Environment variable that turns the disk cache off ("0", "off", "false", "no").
CACHE_ENABLE_ENV = "CAMTWIN_CACHE"


def cache_dir() -> Path:
    """The cache folder (not created here)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("camtwin", appauthor=False))


def enabled() -> bool:
    """False when ``CAMTWIN_CACHE`` is 0/off/false/no."""
    return os.environ.get(CACHE_ENABLE_ENV, "1").strip().lower() not in ("0", "off", "false",
                                                                         "no")


def cache_key(kind: str, spec) -> str:
    """Hex key of ``spec`` (a pydantic model or JSON-able object) for the entry ``kind``."""
    from . import __version__

    payload = spec.model_dump(mode="json") if hasattr(spec, "model_dump") else spec
    text = json.dumps([kind, __version__, CACHE_SCHEMA, payload], sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _path(kind: str, key: str) -> Path:
    return cache_dir() / kind / f"{key}.npy"


def cached_array(kind: str, spec, compute: Callable[[], np.ndarray], *,
                 shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``compute()``'s array for ``spec``, from the disk cache when a valid entry exists.

    An unreadable entry, one of the wrong ``shape`` or with a non-finite value is
    recomputed and rewritten. Failing to write the cache (read-only or full disk) is not
    an error: the value is returned uncached.
    """
    if not enabled():
        return np.asarray(compute())
    path = _path(kind, cache_key(kind, spec))
    try:
        value = np.load(path, allow_pickle=False)
        if (shape is None or value.shape == tuple(shape)) and np.all(np.isfinite(value)):
            return value
    except (OSError, ValueError, EOFError):
        pass                                            # missing or corrupt: recompute
    value = np.asarray(compute())
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, value, allow_pickle=False)
    except OSError:
        pass                                            # cache is an optimisation only
    return value


def cache_info() -> dict:
    """Folder, number of entries and bytes used, per kind."""
    root = cache_dir()
    kinds: dict[str, dict] = {}
    if root.is_dir():
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            files = [f for f in sub.glob("*.npy") if f.is_file()]
            kinds[sub.name] = {"entries": len(files),
                               "bytes": sum(f.stat().st_size for f in files)}
    return {"folder": str(root), "enabled": enabled(), "kinds": kinds}


def clear_cache() -> tuple[int, int]:
    """Delete every cache entry (and stray temporary files); returns (files, bytes)."""
    root = cache_dir()
    n = size = 0
    if not root.is_dir():
        return 0, 0
    for sub in root.iterdir():
        if not sub.is_dir():
            continue
        for f in sub.iterdir():
            if f.is_file() and (f.suffix == ".npy" or ".tmp" in f.name):
                try:
                    size += f.stat().st_size
                    f.unlink()
                    n += 1
                except FileNotFoundError:
                    pass
    return n, size
