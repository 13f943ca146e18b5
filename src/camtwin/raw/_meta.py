"""camtwin frame metadata <-> JSON, shared by the DNG, TIFF and NPZ writers and readers.

The JSON object carries every :class:`RawFrame` field except the arrays ``dn``,
``mean_electrons`` and ``hdr_electrons``, plus the marker key ``"camtwin_raw"`` (format
version) and, for an HDR frame, ``"hdr_raw"``: the HdrRaw's spec and component scalars
(:func:`hdr_to_json`; the component arrays are stored by the file formats). It is written by
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
_ARRAYS = ("dn", "mean_electrons", "hdr_electrons", "hdr")
#: JSON key of the HDR block (:func:`hdr_to_json`): the HdrRaw's spec and component scalars.
HDR_KEY = "hdr_raw"
#: Scalar fields of an HdrComponent stored in the HDR block (its arrays are stored apart).
HDR_COMPONENT_FIELDS = ("name", "gain_dn_per_e", "black_level_dn", "white_level_dn", "scale",
                        "saturation_e", "read_noise_e", "exposure_s", "charge_group")
_FIELDS = tuple(f.name for f in fields(RawFrame) if f.name not in _ARRAYS)


def _to_jsonable(obj):
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def hdr_to_json(hdr) -> dict:
    """The scalars of an :class:`~camtwin.sensor.hdr.HdrRaw` (spec, exposure, key, metadata,
    per-component gains/levels/scales; no arrays) as a JSON-able dict."""
    return {"spec": hdr.hdr.model_dump(mode="json"), "exposure_s": float(hdr.exposure_s),
            "key": int(hdr.key), "metadata": hdr.metadata,
            "components": [{f: getattr(c, f) for f in HDR_COMPONENT_FIELDS}
                           for c in hdr.components]}


def hdr_from_json(block: dict | None, sensor, component_dn: list, pwl_dn=None,
                  combined_e=None):
    """Rebuild an :class:`~camtwin.sensor.hdr.HdrRaw` from :func:`hdr_to_json` output and
    the stored component DN arrays (None if anything is missing: the frame then keeps only
    ``hdr_electrons``). Per-component ground truth and window times are not stored."""
    if not block or not component_dn:
        return None
    from ..sensor.hdr import HdrComponent, HdrRaw, HdrSpec
    from ..sensor.spec import SensorSpec

    try:
        comps = block["components"]
        if len(comps) != len(component_dn):
            return None
        spec = HdrSpec.from_dict(block["spec"])
        if not isinstance(sensor, SensorSpec):
            sensor = SensorSpec.from_dict(sensor)
        components = tuple(HdrComponent(dn=np.asarray(dn, dtype=np.uint16), **{
            f: c[f] for f in HDR_COMPONENT_FIELDS}) for c, dn in zip(comps, component_dn))
    except (KeyError, TypeError, ValueError):
        return None
    if combined_e is None:
        from ..sensor.hdr import combine_on_sensor

        combined_e = combine_on_sensor(components, spec.switch_fraction)
    return HdrRaw(components=components, combined_e=combined_e, linear_code=None,
                  pwl_dn=None if pwl_dn is None else np.asarray(pwl_dn, dtype=np.uint16),
                  hdr=spec, sensor=sensor, exposure_s=float(block["exposure_s"]),
                  key=int(block["key"]), metadata=dict(block.get("metadata") or {}))


def frame_to_json(raw: RawFrame, extra: dict | None = None) -> str:
    """All non-array fields of ``raw`` as a JSON string (see module docstring), with the
    HDR block (:func:`hdr_to_json`) of an HDR frame and the entries of ``extra``.

    Raises
    ------
    ConfigError
        If ``raw.metadata`` or ``raw.sensor`` holds something JSON cannot represent.
    """
    obj = {FORMAT_KEY: FORMAT_VERSION, **{name: getattr(raw, name) for name in _FIELDS}}
    if raw.hdr is not None:
        obj[HDR_KEY] = hdr_to_json(raw.hdr)
    obj.update(extra or {})
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


def json_extras(text: str | bytes | None) -> dict:
    """The entries of camtwin metadata that are not RawFrame fields (``"hdr_raw"``, a
    file format's own keys such as ``"tiff_pages"``); {} if ``text`` is not camtwin
    metadata."""
    try:
        obj = json.loads(text)
    except (TypeError, ValueError):
        return {}
    if not isinstance(obj, dict) or FORMAT_KEY not in obj:
        return {}
    return {k: v for k, v in obj.items() if k not in _FIELDS and k != FORMAT_KEY}
