"""camtwin frame metadata <-> JSON, shared by the DNG, TIFF and NPZ writers and readers.

The JSON object carries every :class:`RawFrame` field except the arrays ``dn`` and
``mean_electrons``, plus the marker key ``"camtwin_raw"`` (format version). It is written by
Python's :mod:`json` (ASCII only, so it fits a TIFF ``ImageDescription``; NaN is spelled
``NaN``). Pydantic models (``sensor``) are stored via ``model_dump(mode="json")`` and come back
as plain dicts; NumPy scalars and arrays become numbers and lists.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields

import numpy as np

from ..errors import ConfigError
from .frame import RawFrame

FORMAT_KEY = "camtwin_raw"
FORMAT_VERSION = 1
_ARRAYS = ("dn", "mean_electrons")
_FIELDS = tuple(f.name for f in fields(RawFrame) if f.name not in _ARRAYS)


def _to_jsonable(obj):
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def frame_to_json(raw: RawFrame) -> str:
    """All non-array fields of ``raw`` as a JSON string (see module docstring).

    Raises
    ------
    ConfigError
        If ``raw.metadata`` or ``raw.sensor`` holds something JSON cannot represent.
    """
    obj = {FORMAT_KEY: FORMAT_VERSION, **{name: getattr(raw, name) for name in _FIELDS}}
    try:
        return json.dumps(obj, default=_to_jsonable)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"RawFrame metadata cannot be stored as JSON: {exc}") from None


def frame_from_json(text: str | bytes | None) -> dict | None:
    """:class:`RawFrame` keyword arguments (all but ``dn``/``mean_electrons``) from
    :func:`frame_to_json` output, or ``None`` if ``text`` is not camtwin metadata."""
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(obj, dict) or FORMAT_KEY not in obj:
        return None
    kwargs = {name: obj[name] for name in _FIELDS if name in obj}
    if kwargs.get("as_shot_neutral") is not None:
        kwargs["as_shot_neutral"] = tuple(float(v) for v in kwargs["as_shot_neutral"])
    if kwargs.get("xyz_to_camera") is not None:
        kwargs["xyz_to_camera"] = np.asarray(kwargs["xyz_to_camera"], dtype=float).reshape(3, 3)
    return kwargs
