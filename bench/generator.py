"""Realistic large programmes for the benchmarks: cities, districts, streets, communities, items.

Everything comes from one seed, vectorised with numpy and shapely 2, so 170,000 communities and
their 1.3 million items take seconds and the same seed gives the same rows.

The country is laid out as cities scattered over eastern China; a city is a grid of districts, a
district a grid of streets (square cells about 2 km wide), and a street a grid of slots, one
compound per slot. A compound's footprint is a star-shaped polygon inside its slot, so footprints
never overlap and always lie inside their street, like a real import. Its vertex count runs from
10 to 200 (most between 12 and 60, as surveyed compound outlines do) and its area from about
1 to 12 ha, the size of real compounds (小区). Codes follow the national administrative pattern:
12-digit street codes whose first six digits are the district's.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from renovation.catalogue import KINDS
from renovation.status import PROGRESS_RANGE, Status

METRES_PER_DEGREE = 111_320.0
STREET_SIZE_M = 2_000.0
SLOTS = (5, 4)  # columns × rows of compound slots in a street
STREETS_PER_DISTRICT = (3, 3)
DISTRICTS_PER_CITY = (4, 4)
REFERENCE_DAY = dt.date(2026, 11, 1)
_STATUS_ORDER = [Status.PLANNED, Status.CONSULTING, Status.DESIGN, Status.CONSTRUCTION,
                 Status.COMPLETED, Status.ACCEPTED, Status.SUSPENDED]
_SUSPENDED = 6
_STATUS_VALUES = np.array([s.value for s in _STATUS_ORDER])
_LOWEST = np.array([PROGRESS_RANGE[s][0] for s in _STATUS_ORDER])
_HIGHEST = np.array([PROGRESS_RANGE[s][1] for s in _STATUS_ORDER])


@dataclass
class Programme:
    """The generated rows, as frames whose columns are the tables' columns.

    Geometry columns hold shapely geometries in EPSG:4326; the loader encodes them.
    """

    streets: pd.DataFrame
    communities: pd.DataFrame
    items: pd.DataFrame
    changes: pd.DataFrame

    def summary(self) -> str:
        return (f"{len(self.streets):,} streets, {len(self.communities):,} communities, "
                f"{len(self.items):,} items, {len(self.changes):,} history rows")


def _street_count(n_communities: int, rng) -> np.ndarray:
    """How many compounds each street holds: 8 to 20, about 14 on average."""
    counts = []
    total = 0
    while total < n_communities:
        k = int(min(rng.integers(8, 21), n_communities - total))
        counts.append(k)
        total += k
    return np.array(counts, dtype=np.int64)


def _layout_streets(n_streets: int, rng):
    """Street cell centres (lon, lat), district and city of each street."""
    per_district = STREETS_PER_DISTRICT[0] * STREETS_PER_DISTRICT[1]
    per_city = per_district * DISTRICTS_PER_CITY[0] * DISTRICTS_PER_CITY[1]
    n_cities = math.ceil(n_streets / per_city)
    city_lon = rng.uniform(102.0, 121.0, n_cities)
    city_lat = rng.uniform(22.5, 41.0, n_cities)
    index = np.arange(n_streets)
    city = index // per_city
    within_city = index % per_city
    district_in_city = within_city // per_district
    street_in_district = within_city % per_district
    # Position in metres from the city's south-west corner.
    dcol = district_in_city % DISTRICTS_PER_CITY[0]
    drow = district_in_city // DISTRICTS_PER_CITY[0]
    scol = street_in_district % STREETS_PER_DISTRICT[0]
    srow = street_in_district // STREETS_PER_DISTRICT[0]
    x_m = (dcol * STREETS_PER_DISTRICT[0] + scol + 0.5) * STREET_SIZE_M
    y_m = (drow * STREETS_PER_DISTRICT[1] + srow + 0.5) * STREET_SIZE_M
    lat = city_lat[city] + y_m / METRES_PER_DEGREE
    lon = city_lon[city] + x_m / (METRES_PER_DEGREE * np.cos(np.radians(lat)))
    district = city * DISTRICTS_PER_CITY[0] * DISTRICTS_PER_CITY[1] + district_in_city
    return lon, lat, city, district, street_in_district


def _boxes(lon, lat, half_width_m, half_height_m):
    """Axis-aligned rectangles around centres, sized in metres."""
    dlat = half_height_m / METRES_PER_DEGREE
    dlon = half_width_m / (METRES_PER_DEGREE * np.cos(np.radians(lat)))
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def _footprints(lon, lat, radius_m, vertices, rng):
    """Star-shaped compounds: sorted angles, radii with smooth noise, so always simple."""
    n = len(lon)
    offsets = np.concatenate([[0], np.cumsum(vertices)])
    total = int(offsets[-1])
    owner = np.repeat(np.arange(n), vertices)
    position = np.arange(total) - offsets[owner]
    fraction = position / vertices[owner]
    angle = 2 * np.pi * fraction
    # Two low harmonics with random phase give blocky but irregular outlines.
    phase1 = rng.uniform(0, 2 * np.pi, n)[owner]
    phase2 = rng.uniform(0, 2 * np.pi, n)[owner]
    wobble = (0.12 * np.sin(2 * angle + phase1) + 0.08 * np.sin(3 * angle + phase2)
              + rng.uniform(-0.03, 0.03, total))
    r = radius_m[owner] * (0.85 + wobble)
    # Squarish: pull points towards the square through the circle.
    square = 1.0 / np.maximum(np.abs(np.cos(angle)), np.abs(np.sin(angle)))
    r = r * (0.55 + 0.25 * square)
    dx = r * np.cos(angle)
    dy = r * np.sin(angle)
    plat = lat[owner] + dy / METRES_PER_DEGREE
    plon = lon[owner] + dx / (METRES_PER_DEGREE * np.cos(np.radians(lat[owner])))
    # Close each ring: repeat its first vertex.
    closing = offsets[:-1]
    coords = np.column_stack([plon, plat])
    ring_coords = np.insert(coords, offsets[1:], coords[closing], axis=0)
    ring_index = np.repeat(np.arange(n), vertices + 1)
    rings = shapely.linearrings(ring_coords, indices=ring_index)
    polygons = shapely.polygons(rings)
    return shapely.multipolygons(polygons, indices=np.arange(n))


def _vertex_counts(n: int, rng) -> np.ndarray:
    """10 to 200 vertices, most of them 12 to 60 (log-normal, clipped)."""
    return np.clip(np.round(rng.lognormal(math.log(30), 0.55, n)), 10, 200).astype(np.int64)


def generate(n_communities: int, seed: int) -> Programme:
    """A programme of `n_communities` compounds; the same seed gives the same rows."""
    rng = np.random.default_rng(seed)
    per_street = _street_count(n_communities, rng)
    n_streets = len(per_street)
    lon, lat, city, district, street_in_district = _layout_streets(n_streets, rng)
    district_code = np.char.add(np.char.zfill((110000 + district).astype(str), 6), "")
    street_code = np.char.add(district_code,
                              np.char.zfill((street_in_district + 1).astype(str), 3))
    street_code = np.char.add(street_code, "000")
    streets = pd.DataFrame({
        "id": np.arange(1, n_streets + 1),
        "code": street_code,
        "name_zh": [f"样例{c + 1}市{d % 16 + 1}区{s + 1}街道"
                    for c, d, s in zip(city, district, street_in_district, strict=True)],
        "name_en": [f"Sample city {c + 1} district {d % 16 + 1} street {s + 1}"
                    for c, d, s in zip(city, district, street_in_district, strict=True)],
        "boundary": shapely.multipolygons(
            _boxes(lon, lat, STREET_SIZE_M / 2, STREET_SIZE_M / 2), indices=np.arange(n_streets)),
        "label_point": shapely.points(lon, lat),
        "data_source": "generated",
    })

    # Communities: one per slot of their street.
    street_of = np.repeat(np.arange(n_streets), per_street)
    slot = np.concatenate([rng.permutation(SLOTS[0] * SLOTS[1])[:k] for k in per_street])
    slot_w = STREET_SIZE_M / SLOTS[0]
    slot_h = STREET_SIZE_M / SLOTS[1]
    x_m = (slot % SLOTS[0] + 0.5) * slot_w - STREET_SIZE_M / 2
    y_m = (slot // SLOTS[0] + 0.5) * slot_h - STREET_SIZE_M / 2
    clat = lat[street_of] + y_m / METRES_PER_DEGREE
    clon = lon[street_of] + x_m / (METRES_PER_DEGREE * np.cos(np.radians(clat)))
    n = len(street_of)
    # The largest compound fits its slot: radius × 1.0 (wobble) × 0.8 (square) < slot/2.
    radius_m = rng.uniform(60.0, min(slot_w, slot_h) / 2 * 0.95, n)
    vertices = _vertex_counts(n, rng)
    footprints = _footprints(clon, clat, radius_m, vertices, rng)
    area_m2 = shapely.area(footprints) * METRES_PER_DEGREE ** 2 * np.cos(np.radians(clat))
    building_area = np.round(area_m2 * rng.uniform(1.0, 2.4, n), -1)
    number_in_street = np.concatenate([np.arange(1, k + 1) for k in per_street])
    codes = np.char.add(street_code[street_of], np.char.zfill(number_in_street.astype(str), 3))
    is_pilot = rng.random(n) < 0.05
    communities = pd.DataFrame({
        "id": np.arange(1, n + 1),
        "code": codes,
        "name": [f"样例{s % 1000 + 1}路{k}号院"
                 for s, k in zip(street_of, number_in_street, strict=True)],
        "street_id": street_of + 1,
        "footprint": footprints,
        "location": shapely.points(clon, clat),
        "year_built": rng.integers(1960, 2001, n),
        "building_area_m2": building_area,
        "households": np.maximum(1, (building_area / rng.uniform(55, 85, n)).astype(int)),
        "building_count": np.maximum(1, (area_m2 / rng.uniform(1800, 3500, n)).astype(int)),
        "is_pilot": is_pilot,
        "is_district_pilot": False,
        "data_source": "generated",
        "source_note": f"Generated for the benchmarks (seed {seed}).",
    })
    items, changes = _items(rng, communities, clon, clat, radius_m, is_pilot)
    return Programme(streets, communities, items, changes)


def _items(rng, communities: pd.DataFrame, clon, clat, radius_m, is_pilot):
    """5 to 10 items of distinct kinds per community, in every status, with their history."""
    n = len(communities)
    per_community = rng.integers(5, 11, n)
    total = int(per_community.sum())
    owner = np.repeat(np.arange(n), per_community)
    kinds = list(KINDS)
    # Distinct kinds per community: the first k of a random permutation of the catalogue.
    order = np.argsort(rng.random((n, len(kinds))), axis=1)
    position = np.arange(total) - np.repeat(np.cumsum(per_community) - per_community,
                                            per_community)
    kind_index = order[owner, position]
    kind_codes = np.array([k.code for k in kinds])[kind_index]
    geometry_type = np.array([k.geometry for k in kinds])[kind_index]

    # Status: how long the community's programme has run, pilots ahead.
    years_running = rng.uniform(0, 5, n)[owner]
    expected = np.clip(years_running * 1.1 + np.where(is_pilot[owner], 1.5, 0.0), 0, 5)
    step = np.clip(np.round(rng.normal(expected, 1.2)), 0, 5).astype(int)
    suspended = rng.random(total) < 0.04
    status_index = np.where(suspended, _SUSPENDED, step)
    status = _STATUS_VALUES[status_index]
    low = _LOWEST[status_index]
    high = _HIGHEST[status_index]
    progress = np.floor(low + rng.random(total) * (high - low + 1)).astype(int)
    progress = np.minimum(progress, high)

    start = np.array(REFERENCE_DAY - dt.timedelta(days=5 * 365), dtype="datetime64[D]")
    planned_start = start + (years_running * 365 * rng.random(total)).astype("timedelta64[D]")
    planned_end = planned_start + rng.integers(90, 900, total).astype("timedelta64[D]")
    done = (status_index == 4) | (status_index == 5)
    # Work not yet done is mostly due in the coming years; about one item in seven is late.
    ahead = (np.datetime64(REFERENCE_DAY)
             + rng.integers(-150, 900, total).astype("timedelta64[D]"))
    planned_end = np.where(done, planned_end,
                           np.maximum(ahead, planned_start + np.timedelta64(90, "D")))
    begun = step >= 3
    actual_start = np.where(begun | done, planned_start + rng.integers(0, 60, total)
                            .astype("timedelta64[D]"), np.datetime64("NaT"))
    actual_end = np.where(done, np.minimum(planned_end + rng.integers(-60, 120, total)
                                           .astype("timedelta64[D]"),
                                           np.datetime64(REFERENCE_DAY)),
                          np.datetime64("NaT"))
    actual_end = np.where(done & (actual_end < actual_start), actual_start, actual_end)

    # Geometry: a point, a short run or a small area inside the compound.
    angle = rng.uniform(0, 2 * np.pi, total)
    dist = radius_m[owner] * rng.uniform(0.0, 0.4, total)
    ilat = clat[owner] + dist * np.sin(angle) / METRES_PER_DEGREE
    coslat = np.cos(np.radians(ilat))
    ilon = clon[owner] + dist * np.cos(angle) / (METRES_PER_DEGREE * coslat)
    geometry = np.empty(total, dtype=object)
    points = geometry_type == "point"
    geometry[points] = shapely.points(ilon[points], ilat[points])
    lines = geometry_type == "line"
    half = 15.0 / (METRES_PER_DEGREE * coslat[lines])
    geometry[lines] = shapely.linestrings(
        np.stack([np.column_stack([ilon[lines] - half, ilat[lines]]),
                  np.column_stack([ilon[lines] + half, ilat[lines]])], axis=1))
    areas = geometry_type == "polygon"
    geometry[areas] = _boxes(ilon[areas], ilat[areas], 10.0, 8.0)

    items = pd.DataFrame({
        "id": np.arange(1, total + 1),
        "community_id": owner + 1,
        "kind": kind_codes,
        "title": np.array([k.name_zh for k in kinds])[kind_index],
        "geometry": geometry,
        "status": status,
        "progress_pct": progress,
        "quantity": np.round(rng.uniform(1, 500, total), 1),
        "unit": np.array([k.unit_zh for k in kinds])[kind_index],
        "planned_start": planned_start,
        "planned_end": planned_end,
        "actual_start": actual_start,
        "actual_end": actual_end,
    })
    changes = _history(items, step, status_index, suspended)
    # An item's version counts its accepted changes, plus the one it was created with.
    items["version"] = 1 + np.bincount(changes["item_id"].to_numpy() - 1,
                                       minlength=total)
    return items, changes


def _history(items: pd.DataFrame, step: np.ndarray, status_index: np.ndarray,
             suspended: np.ndarray) -> pd.DataFrame:
    """One history row per status an item has moved through since it was planned."""
    moves = np.where(suspended, np.maximum(step, 1), step)
    item_index = np.repeat(np.arange(len(items)), moves)
    number = np.arange(len(item_index)) - np.repeat(np.cumsum(moves) - moves, moves)
    last = number == np.repeat(moves, moves) - 1
    final_progress = items["progress_pct"].to_numpy()[item_index]
    before = np.minimum(number, 5)
    after = np.where(last, status_index[item_index], np.minimum(number + 1, 5))
    before_progress = _LOWEST[before]
    after_progress = np.where(last, final_progress, _LOWEST[after])
    planned_start = items["planned_start"].to_numpy()[item_index]
    effective = planned_start + (number * 40).astype("timedelta64[D]")
    changed_at = (effective.astype("datetime64[s]") + np.timedelta64(9 * 3600, "s"))
    return pd.DataFrame({
        "id": np.arange(1, len(item_index) + 1),
        "item_id": item_index + 1,
        "changed_at": changed_at,
        "effective_date": effective,
        "status_before": _STATUS_VALUES[before],
        "status_after": _STATUS_VALUES[after],
        "progress_before": before_progress,
        "progress_after": after_progress,
        "note": "",
        "version_after": number + 2,
        "source": "spreadsheet",
    })
