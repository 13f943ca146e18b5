"""Geofence geometry: GeoJSON polygons (with holes, MultiPolygons), tested with GEOS.

Conventions (the tests pin each one):

* **Coordinates** are GeoJSON positions ``[lon, lat]`` in degrees (RFC 7946 §3.1.1, WGS 84),
  ``-180 ≤ lon ≤ 180``, ``-90 ≤ lat ≤ 90``. Rings must be closed (first position = last) with
  ≥ 4 positions (RFC 7946 §3.1.6); the first ring of a polygon is its exterior, the others
  are holes. Winding order is not required.
* **Edges are straight lines in the (lon, lat) plane, taken literally** (RFC 7946 §3.1.1):
  there is no implicit antimeridian crossing, so ``[-100, -10] → [100, -10]`` runs 200°
  east through lon 0, and ``[170, 0] → [-170, 0]`` runs 340° west through lon 0 (it does
  *not* cross the antimeridian). A zone across the antimeridian must be cut there into a
  MultiPolygon whose parts meet at lon ±180 (RFC 7946 §3.1.9); a longitude beyond ±180
  (the other common way of writing such a zone) is refused with that advice.
* **Valid polygons only** (OGC Simple Features, as GEOS checks them): a self-intersecting
  ring, a hole outside its exterior or crossing it has no defined inside and is refused
  with GEOS's reason.
* **Boundary**: a zone is a *closed* set. A point on an edge or a vertex of the exterior
  is inside; a point on the edge or vertex of a hole is inside too (only the open interior
  of a hole is excluded). "On" means within ``tol_deg`` (default 1e-9°, ≈ 0.1 mm) of the
  zone in the (lon, lat) plane. The convention errs on the side of the zone: for a
  restrictive (e.g. school) zone, a camera exactly on the fence is treated as inside.
* ``lon = -180`` and ``lon = 180`` are the same meridian, and ``lat = ±90`` is one point
  (the pole) whatever its longitude: such points are tested at every alias.

The point test is GEOS's (shapely ≥ 2.0): intersection with the closed polygon, or a
distance ≤ ``tol_deg`` from it.

Distances to a zone (for a GPS accuracy radius) are measured in a local equirectangular
frame around the point, ``x = R cos φ₀ (λ − λ₀ + 360° m)``, ``y = R (φ − φ₀)`` (radians,
m ∈ {−1, 0, 1} so a zone just across the antimeridian is near), with GEOS's planar
distance. The map is affine in (lon, lat), so RFC 7946's straight edges stay straight.
Against the haversine great-circle distance (mean Earth radius R = 6 371 008.8 m, IUGG,
Moritz 2000) its relative error, measured over random offsets, is ≤ 0.26 % up to 50 km
below 60° latitude, ≤ 1.7 % up to 50 km below 85°, ≤ 1.6 % up to 10 km below 89°;
:func:`locate` widens every radius by :data:`DISTANCE_REL_ERROR` (2 %) to stay on the
side of the zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely import affinity
from shapely.geometry import LineString, Point
from shapely.validation import explain_validity

from .._spec import read_json
from ..errors import ConfigError

#: Mean Earth radius [m] (IUGG R1).
EARTH_RADIUS_M = 6_371_008.8

#: Default boundary tolerance [deg] (≈ 0.11 mm of latitude).
BOUNDARY_TOL_DEG = 1e-9

#: Relative error bound of the local equirectangular distance used by :func:`locate`
#: (measured ≤ 1.7 % up to 50 km below 85° latitude against haversine; see module doc).
DISTANCE_REL_ERROR = 0.02

#: Segments per quarter circle of the polygonal accuracy disc in :func:`locate`.
_QUAD_SEGS = 16


def _probes(lon: float, lat: float, tol: float):
    """The geometries standing for the point (lon, lat): its aliases across ±180° of
    longitude, or the whole line of latitude at a pole."""
    if abs(lat) >= 90.0 - tol:
        return [LineString([(-180.0, lat), (180.0, lat)])]
    xs = [lon]
    if lon >= 180.0 - tol:
        xs.append(lon - 360.0)
    if lon <= -180.0 + tol:
        xs.append(lon + 360.0)
    return [Point(x, lat) for x in xs]


def _local_frame(geom, lon: float, lat: float) -> list:
    """``geom`` in metres in the equirectangular frame centred on (lon, lat), in its three
    copies 360° apart (see module doc)."""
    ky = math.radians(1.0) * EARTH_RADIUS_M
    kx = math.cos(math.radians(lat)) * ky
    return [affinity.affine_transform(geom, [kx, 0.0, 0.0, ky, kx * (s - lon), -ky * lat])
            for s in (-360.0, 0.0, 360.0)]


@dataclass(frozen=True, eq=False)
class Polygon:
    """One GeoJSON polygon (exterior ring and holes) as a valid GEOS polygon in the
    (lon, lat) plane [deg]."""

    geometry: shapely.Polygon

    def covers(self, lon: float, lat: float, *, tol: float = BOUNDARY_TOL_DEG) -> bool:
        """True if (lon, lat) is inside or on the boundary (closed-set convention)."""
        return any(self.geometry.intersects(p) or self.geometry.distance(p) <= tol
                   for p in _probes(lon, lat, tol))

    def distance_m(self, lon: float, lat: float) -> float:
        """Distance [m] from the point to the polygon (0 inside or on the boundary), in the
        local equirectangular frame of the module doc."""
        if self.covers(lon, lat):
            return 0.0
        origin = Point(0.0, 0.0)
        return min(g.distance(origin) for g in _local_frame(self.geometry, lon, lat))


def _position(p, where: str, i: int) -> tuple[float, float]:
    if (not isinstance(p, list) or len(p) < 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)):
        raise ConfigError(f"{where}, position {i}: expected [lon, lat] numbers, got {p!r}"[:200])
    lon, lat = (float(v) if abs(v) < 1e300 else math.inf for v in p[:2])  # no int overflow
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        hint = ("; a zone across the antimeridian must be split at ±180 into a MultiPolygon "
                "(RFC 7946 §3.1.9)") if math.isfinite(lon) and abs(lon) <= 540.0 else ""
        raise ConfigError(f"{where}, position {i}: longitude {repr(p[0])[:40]} outside [-180, 180]"
                          + hint)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ConfigError(f"{where}, position {i}: latitude {repr(p[1])[:40]} outside [-90, 90]")
    return lon, lat


def _ring(coords, where: str) -> list[tuple[float, float]]:
    if not isinstance(coords, list) or len(coords) < 4:
        raise ConfigError(f"{where}: a linear ring needs at least 4 positions "
                          "(RFC 7946 §3.1.6)")
    pts = [_position(p, where, i) for i, p in enumerate(coords)]
    if pts[0] != pts[-1]:
        raise ConfigError(f"{where}: ring is not closed (first position {list(pts[0])} != last "
                          f"{list(pts[-1])})")
    if len(set(pts[:-1])) < 3:
        raise ConfigError(f"{where}: ring has fewer than 3 distinct positions")
    return pts


def polygon_from_coords(coords, where: str = "Polygon") -> Polygon:
    """A :class:`Polygon` from GeoJSON ``Polygon.coordinates`` (list of rings).

    Raises
    ------
    ConfigError
        One line: a malformed ring, a position out of range, or an invalid polygon (with
        GEOS's reason and location)."""
    if not isinstance(coords, list) or not coords:
        raise ConfigError(f"{where}: coordinates must be a non-empty list of rings")
    ext = _ring(coords[0], f"{where}, exterior ring")
    holes = [_ring(c, f"{where}, hole {i}") for i, c in enumerate(coords[1:], start=1)]
    geom = shapely.Polygon(ext, holes)
    if not geom.is_valid:
        raise ConfigError(f"{where}: not a valid polygon ({explain_validity(geom)}); its inside "
                          "is undefined — fix the ring (edges are straight in lon/lat, RFC "
                          "7946 §3.1.1)")
    shapely.prepare(geom)
    return Polygon(geom)


def geometry_polygons(geom, where: str = "geometry") -> tuple[Polygon, ...]:
    """Polygons of a GeoJSON ``Polygon`` or ``MultiPolygon`` geometry object."""
    if not isinstance(geom, dict):
        raise ConfigError(f"{where}: expected a GeoJSON geometry object")
    kind = geom.get("type")
    if kind == "Polygon":
        return (polygon_from_coords(geom.get("coordinates"), f"{where} (Polygon)"),)
    if kind == "MultiPolygon":
        parts = geom.get("coordinates")
        if not isinstance(parts, list) or not parts:
            raise ConfigError(f"{where} (MultiPolygon): coordinates must be a non-empty list")
        return tuple(polygon_from_coords(p, f"{where} (MultiPolygon part {i})")
                     for i, p in enumerate(parts))
    raise ConfigError(f"{where}: geometry type {kind!r} is not supported; use Polygon or "
                      "MultiPolygon")


@dataclass(frozen=True)
class Zone:
    """A named policy zone: its rule name and polygons."""

    name: str
    rule: str
    polygons: tuple[Polygon, ...]

    def covers(self, lon: float, lat: float, *, tol: float = BOUNDARY_TOL_DEG) -> bool:
        return any(p.covers(lon, lat, tol=tol) for p in self.polygons)

    def distance_m(self, lon: float, lat: float) -> float:
        return min(p.distance_m(lon, lat) for p in self.polygons)


@dataclass(frozen=True)
class Location:
    """Where a fix may be: zones it is in, zones within its accuracy radius, and whether
    the accuracy disc may reach outside every zone (then the default rule applies too)."""

    inside: tuple[Zone, ...]
    near: tuple[Zone, ...]
    maybe_outside: bool


def locate(zones, lon: float, lat: float, accuracy_m: float = 0.0, *,
           tol: float = BOUNDARY_TOL_DEG) -> Location:
    """The zones a fix at (lon, lat) [deg] with horizontal accuracy radius ``accuracy_m``
    [m] (finite, ≥ 0) may lie in, erring towards the zones.

    The radius is widened by :data:`DISTANCE_REL_ERROR`; the disc is a circumscribed
    64-gon, so "the disc lies inside the zones" is only claimed when it does."""
    inside = tuple(z for z in zones if z.covers(lon, lat, tol=tol))
    if not accuracy_m > 0:
        return Location(inside, (), not inside)
    # at least 1 mm: GEOS cannot buffer a subnormal radius (NaN vertices); a larger disc
    # errs towards the zones
    radius = max(accuracy_m * (1.0 + DISTANCE_REL_ERROR), 1e-3)
    ids = {id(z) for z in inside}
    near = tuple(z for z in zones if id(z) not in ids and z.distance_m(lon, lat) <= radius)
    hit = inside + near
    if not hit:
        return Location((), (), True)
    disc = Point(0.0, 0.0).buffer(radius / math.cos(math.pi / (4 * _QUAD_SEGS)),
                                  quad_segs=_QUAD_SEGS)
    union = shapely.union_all([g for z in hit for p in z.polygons
                               for g in _local_frame(p.geometry, lon, lat)])
    return Location(inside, near, not union.covers(disc))


def zones_from_geojson(obj, *, source: str = "GeoJSON") -> tuple[Zone, ...]:
    """Zones of a GeoJSON FeatureCollection (or a single Feature).

    Each feature needs ``properties.rule`` (the policy rule that applies inside it) and may
    have ``properties.name``; its geometry is a Polygon or MultiPolygon.
    """
    if not isinstance(obj, dict):
        raise ConfigError(f"{source}: expected a GeoJSON object")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise ConfigError(f"{source}: FeatureCollection without a 'features' list")
    elif kind == "Feature":
        feats = [obj]
    else:
        raise ConfigError(f"{source}: top-level type {kind!r}; expected FeatureCollection or "
                          "Feature")
    zones = []
    for i, f in enumerate(feats):
        where = f"{source}: feature {i}"
        if not isinstance(f, dict) or f.get("type") != "Feature":
            raise ConfigError(f"{where}: not a GeoJSON Feature")
        props = f.get("properties") or {}
        if not isinstance(props, dict) or not isinstance(props.get("rule"), str):
            raise ConfigError(f"{where}: properties.rule (the policy rule name) is missing")
        name = str(props.get("name", f"zone {i}"))
        zones.append(Zone(name, props["rule"],
                          geometry_polygons(f.get("geometry"), f"{where} ({name!r})")))
    return tuple(zones)


def read_geojson(path: str | Path) -> tuple[Zone, ...]:
    """Read and validate a GeoJSON zones file; any problem is a one-line ConfigError."""
    p = Path(path)
    return zones_from_geojson(read_json(p), source=str(p))
