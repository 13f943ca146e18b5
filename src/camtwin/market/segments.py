"""Link the reports' segments to the catalog: which catalog sensors and modules sit in which
segment, next to the segment's stated size and growth.

Placement rules (data in ``claims.yaml``, ``segments[].catalog`` and ``vendors``):

* **type** (CCD / CMOS Imaging, seed 000): the sensor's ``shutter`` figure (``ccd`` vs
  ``global``/``rolling``).
* **resolution** (<2MP / 2-5MP / >5MP, seed 002): the catalog's derived resolution class
  (:func:`camtwin.catalog.resolution_class`; 2 and 5 MP fall in "2–5 MP").
* **application**: the catalog's derived application tags (sensor tags; for modules the tags
  its lens does not rule out), mapped to each report's application segments.
* **region**: the region of the sensor vendor's headquarters (``vendors`` table; not from the
  seeds). A module is placed by its sensor's vendor (the module maker is not catalogued).

A market may restrict which parts belong to it at all (``markets[].catalog_scope``): the
back-illuminated global-shutter CMOS report only covers sensors with ``shutter: global`` and
``illumination: bsi``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .data import MarketData, Segment, load_market_data

#: Metrics shown as a segment's stated figures.
SEGMENT_METRICS = ("market_size", "cagr", "market_share")


@dataclass(frozen=True)
class SegmentRow:
    segment: Segment
    market_name: str
    stated: tuple[dict, ...]
    sensors: tuple[str, ...]
    modules: tuple[str, ...]

    def as_dict(self) -> dict:
        s = self.segment
        return {"segment": s.id, "market": s.market, "market_name": self.market_name,
                "dimension": s.dimension, "label": s.label, "source": s.source,
                "quote": s.quote, "stated": list(self.stated), "sensors": list(self.sensors),
                "modules": list(self.modules)}


def _sensor_facts(sensor) -> dict:
    from ..catalog import resolution_class, sensor_applications

    return {"shutter": str(sensor.value("shutter")),
            "illumination": str(sensor.value("illumination")),
            "resolution_class": resolution_class(sensor.value("width_px"),
                                                 sensor.value("height_px")),
            "applications": set(sensor_applications(sensor)),
            "vendor": sensor.vendor}


def _in_scope(data: MarketData, market_id: str, facts: dict) -> bool:
    scope = data.market(market_id).catalog_scope
    return all(facts.get(k) in v for k, v in scope.items())


def _fits(data: MarketData, seg: Segment, facts: dict) -> bool:
    if not _in_scope(data, seg.market, facts):
        return False
    if seg.dimension == "region":
        vendors = {v.name: v for v in data.vendors}
        v = vendors.get(facts["vendor"])
        return v is not None and seg.region in v.regions
    rule = seg.catalog
    if "shutter" in rule and facts["shutter"] not in rule["shutter"]:
        return False
    if "resolution_class" in rule and facts["resolution_class"] not in rule["resolution_class"]:
        return False
    if "applications" in rule and not facts["applications"] & set(rule["applications"]):
        return False
    return bool(rule)


def _stated(data: MarketData, seg: Segment) -> tuple[dict, ...]:
    out = []
    for c in data.claims:
        if c.market != seg.market or c.metric not in SEGMENT_METRICS or c.companies:
            continue
        if c.segment == seg.id or (seg.dimension == "region" and c.segment is None
                                   and c.region == seg.region):
            out.append({"claim": c.id, "metric": c.metric, "value": c.value_text,
                        "when": c.when, "source": c.source})
    return tuple(out)


def segment_table(data: MarketData | None = None, catalog=None) -> tuple[SegmentRow, ...]:
    """Every segment with its stated figures and the catalog parts placed in it."""
    from ..catalog import load_catalog, module_applications

    data = data or load_market_data()
    cat = catalog or load_catalog()
    sensor_facts = {name: _sensor_facts(s) for name, s in cat.sensors.items()}
    module_facts = {}
    for name, m in cat.modules.items():
        f = dict(sensor_facts[m.sensor])
        f["applications"] = set(module_applications(cat.sensors[m.sensor], cat.lenses[m.lens],
                                                    m))
        module_facts[name] = f
    rows = []
    for seg in data.segments:
        rows.append(SegmentRow(
            seg, data.market(seg.market).name, _stated(data, seg),
            tuple(sorted(n for n, f in sensor_facts.items() if _fits(data, seg, f))),
            tuple(sorted(n for n, f in module_facts.items() if _fits(data, seg, f)))))
    return tuple(rows)


def unplaced_vendors(data: MarketData | None = None, catalog=None) -> tuple[str, ...]:
    """Catalog sensor vendors missing from the ``vendors`` table (should be empty)."""
    from ..catalog import load_catalog

    data = data or load_market_data()
    cat = catalog or load_catalog()
    known = {v.name for v in data.vendors}
    return tuple(sorted({s.vendor for s in cat.sensors.values()} - known))
