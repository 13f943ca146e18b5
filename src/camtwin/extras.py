"""Optional extras: what each needs, and the one-line error when one is missing.

The core install (``pip install camtwin``) simulates, renders and measures (``capture``,
``demo``, ``evaluate``, ``emva1288``, ``sfr``, ``colour``, ``process``, ``burst``...). Three
features pull large dependencies and come as extras::

    pip install 'camtwin[web]'       # camtwin serve: the web workbench and its JSON API
    pip install 'camtwin[sweep]'     # camtwin sweep / sweep-report / query (Dask, Parquet, DuckDB)
    pip install 'camtwin[privacy]'   # camtwin privacy ... (AES-GCM vault, geofence)
    pip install 'camtwin[all]'       # all three

:func:`require` is called where a feature starts (its CLI command and its package), so a
missing extra is one line naming the extra and the install command, never a traceback.
"""

from __future__ import annotations

import importlib

from .errors import CamtwinError

#: Extra → the top-level modules it provides (import names, not distribution names).
EXTRAS = {
    "web": ("fastapi", "starlette", "uvicorn", "python_multipart", "fastapi_offline",
            "imagesize"),
    "sweep": ("dask", "distributed", "pyarrow", "duckdb", "fsspec"),
    "privacy": ("cryptography", "shapely"),
}


class MissingExtraError(CamtwinError, ImportError):
    """A feature needs an optional extra that is not installed."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported (empty when it is installed)."""
    if extra not in EXTRAS:
        from .errors import unknown_name

        raise unknown_name("extra", extra, EXTRAS)
    out = []
    for name in EXTRAS[extra]:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            out.append(exc.name or name)
    return out


def require(extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` (one line) when ``extra`` is not installed.

    ``what`` names the feature, e.g. ``"camtwin serve"``.

    >>> require("sweep", "camtwin sweep")   # installed here: no error
    """
    gone = missing(extra)
    if gone:
        raise MissingExtraError(f"{what} needs the {extra} extra: pip install "
                                f"'camtwin[{extra}]' (missing: {', '.join(gone)})")
