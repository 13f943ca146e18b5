"""Geofence geometry: GeoJSON polygons (with holes, MultiPolygons) and point-in-polygon.

Conventions (the tests pin each one):

* **Coordinates** are GeoJSON positions ``[lon, lat]`` in degrees (RFC 7946 §3.1.1, WGS 84),
  ``-180 ≤ lon ≤ 180``, ``-90 ≤ lat ≤ 90``. Rings must be closed (first position = last) with
  ≥ 4 positions (RFC 7946 §3.1.6); the first ring of a polygon is its exterior, the others
  are holes. Winding order is not required.
* **Edges** are straight lines in the (lon, lat) plane, as RFC 7946 §3.1.1 prescribes, and
  always take the *shorter* way in longitude: an edge whose endpoints differ by more than
  180° of longitude crosses the antimeridian (``[179, 0] → [-179, 0]`` is 2° long, not 358°).
  So a zone across the antimeridian may be written either split into a MultiPolygon (RFC
  7946 §3.1.9) or as one ring. An edge spanning exactly 180° is ambiguous and rejected; a
  ring that winds around a pole (its longitudes unwrap to a net 360°) is rejected too.
* **Boundary**: a zone is a *closed* set. A point on an edge or a vertex of the exterior
  is inside; a point on the edge or vertex of a hole is inside too (only the open interior
  of a hole is excluded). "On" means within ``tol_deg`` (default 1e-9°, ≈ 0.1 mm) of the
  boundary in the (lon, lat) plane. The convention errs on the side of the zone: for a
  restrictive (e.g. school) zone, a camera exactly on the fence is treated as inside.
* ``lon = -180`` and ``lon = 180`` are the same meridian.

The point test is the crossing-number rule (Shimrat 1962, Algorithm 112, CACM 5(8) 434;
the half-open edge rule of Haines 1994, "Point in Polygon Strategies", Graphics Gems IV)
after the on-boundary check, run on the ring with its longitudes unwrapped and the point
shifted by multiples of 360°.

Distances to a zone (for a GPS accuracy radius) use a local equirectangular projection
around the point (error < 0.5 % below ~100 km); the mean Earth radius is 6 371 008.8 m
(IUGG, Moritz 2000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._spec import read_json
from ..errors import ConfigError

#: Mean Earth radius [m] (IUGG R1).
EARTH_RADIUS_M = 6_371_008.8

#: Default boundary tolerance [deg] (≈ 0.11 mm of latitude).
BOUNDARY_TOL_DEG = 1e-9


def _wrap180(d: float) -> float:
    """``d`` [deg] reduced to [-180, 180]."""
    return d - 360.0 * math.floor((d + 180.0) / 360.0) if not -180.0 <= d <= 180.0 else d


@dataclass(frozen=True)
class Ring:
    """A closed ring with its longitudes unwrapped (consecutive vertices < 180° apart).

    ``lon``, ``lat`` : float64 arrays of the closed ring (first = last) [deg]."""

    lon: np.ndarray
    lat: np.ndarray

    @property
    def lon_range(self) -> tuple[float, float]:
        return float(self.lon.min()), float(self.lon.max())

    def on_boundary(self, lon: float, lat: float, tol: float) -> bool:
        ax, ay, bx, by = self.lon[:-1], self.lat[:-1], self.lon[1:], self.lat[1:]
        dx, dy = bx - ax, by - ay
        seg2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(seg2 > 0, ((lon - ax) * dx + (lat - ay) * dy) / seg2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        px, py = ax + t * dx - lon, ay + t * dy - lat
        return bool(np.any(px * px + py * py <= tol * tol))

    def contains_strict(self, lon: float, lat: float) -> bool:
        """Crossing-number test (call only for points not on the boundary)."""
        xi, yi, xj, yj = self.lon[:-1], self.lat[:-1], self.lon[1:], self.lat[1:]
        straddle = (yi > lat) != (yj > lat)
        with np.errstate(invalid="ignore", divide="ignore"):
            x_cross = xi + (lat - yi) * (xj - xi) / (yj - yi)
        return bool(np.count_nonzero(straddle & (lon < x_cross)) % 2)


@dataclass(frozen=True)
class Polygon:
    """Exterior ring and holes, all unwrapped into one longitude frame."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()

    def _shifts(self, lon: float, tol: float):
        lo, hi = self.exterior.lon_range
        for k in (-2, -1, 0, 1, 2):
            x = lon + 360.0 * k
            if lo - tol <= x <= hi + tol:
                yield x

    def covers(self, lon: float, lat: float, *, tol: float = BOUNDARY_TOL_DEG) -> bool:
        """True if (lon, lat) is inside or on the boundary (closed-set convention)."""
        for x in self._shifts(lon, tol):
            ext = self.exterior
            if not (ext.on_boundary(x, lat, tol) or ext.contains_strict(x, lat)):
                continue
            if any(h.contains_strict(x, lat) and not h.on_boundary(x, lat, tol)
                   for h in self.holes):
                continue
            return True
        return False

    def distance_m(self, lon: float, lat: float) -> float:
        """Distance [m] from the point to the polygon (0 inside or on the boundary)."""
        if self.covers(lon, lat):
            return 0.0
        best = math.inf
        kx = math.cos(math.radians(lat)) * math.radians(1.0) * EARTH_RADIUS_M
        ky = math.radians(1.0) * EARTH_RADIUS_M
        for ring in (self.exterior, *self.holes):
            # vertex 0 relative to the point, the rest follows the ring's own unwrapping
            x = (_wrap180(ring.lon[0] - lon) + (ring.lon - ring.lon[0])) * kx
            y = (ring.lat - lat) * ky
            ax, ay, bx, by = x[:-1], y[:-1], x[1:], y[1:]
            dx, dy = bx - ax, by - ay
            seg2 = dx * dx + dy * dy
            with np.errstate(invalid="ignore", divide="ignore"):
                t = np.where(seg2 > 0, -(ax * dx + ay * dy) / seg2, 0.0)
            t = np.clip(t, 0.0, 1.0)
            d = np.hypot(ax + t * dx, ay + t * dy)
            best = min(best, float(d.min()))
        return best


def _ring(coords, where: str) -> Ring:
    if not isinstance(coords, list) or len(coords) < 4:
        raise ConfigError(f"{where}: a linear ring needs at least 4 positions "
                          "(RFC 7946 §3.1.6)")
    pts = []
    for i, p in enumerate(coords):
        if (not isinstance(p, list) or len(p) < 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)):
            raise ConfigError(f"{where}, position {i}: expected [lon, lat] numbers, got {p!r}"[:200])
        lon, lat = float(p[0]), float(p[1])
        if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
            raise ConfigError(f"{where}, position {i}: longitude {p[0]!r} outside [-180, 180]")
        if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
            raise ConfigError(f"{where}, position {i}: latitude {p[1]!r} outside [-90, 90]")
        pts.append((lon, lat))
    if pts[0] != pts[-1]:
        raise ConfigError(f"{where}: ring is not closed (first position {list(pts[0])} != last "
                          f"{list(pts[-1])})")
    lon = np.array([p[0] for p in pts])
    lat = np.array([p[1] for p in pts])
    d = np.diff(lon)
    d = d - 360.0 * np.round(d / 360.0)
    if np.any(np.abs(np.abs(d) - 180.0) < 1e-12):
        raise ConfigError(f"{where}: an edge spans exactly 180° of longitude (ambiguous "
                          "direction); add a vertex")
    un = np.concatenate([[lon[0]], lon[0] + np.cumsum(d)])
    if abs(un[-1] - un[0]) > 1.0:
        raise ConfigError(f"{where}: ring winds around a pole; polar caps are not supported")
    if len({p for p in pts[:-1]}) < 3:
        raise ConfigError(f"{where}: ring has fewer than 3 distinct positions")
    return Ring(un, lat)


def polygon_from_coords(coords, where: str = "Polygon") -> Polygon:
    """A :class:`Polygon` from GeoJSON ``Polygon.coordinates`` (list of rings)."""
    if not isinstance(coords, list) or not coords:
        raise ConfigError(f"{where}: coordinates must be a non-empty list of rings")
    ext = _ring(coords[0], f"{where}, exterior ring")
    centre = 0.5 * sum(ext.lon_range)
    holes = []
    for i, c in enumerate(coords[1:], start=1):
        h = _ring(c, f"{where}, hole {i}")
        shift = 360.0 * round((centre - h.lon[0]) / 360.0)
        holes.append(Ring(h.lon + shift, h.lat))
    return Polygon(ext, tuple(holes))


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
                          geometry_polygons(f.get("geometry"), f"{where} ({name})")))
    return tuple(zones)


def read_geojson(path: str | Path) -> tuple[Zone, ...]:
    """Read and validate a GeoJSON zones file; any problem is a one-line ConfigError."""
    p = Path(path)
    return zones_from_geojson(read_json(p), source=str(p))
