"""Factories for test data: ``make_street``, ``make_community``, ``make_item`` with overrides.

Shapes are standard squares near Shijingshan so that expected answers can be worked
out by hand: a street is a 0.01-degree square, a community a 0.001-degree square in it.
"""

from __future__ import annotations

import datetime as dt
import itertools

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Point, box

from renovation.models import Community, DataSource, RenovationItem, Street
from renovation.status import Status

_numbers = itertools.count(1)

#: An origin well away from the demo's streets so factory data never mixes with them.
ORIGIN = (117.0, 40.5)


def street_square(i: int = 0) -> MultiPolygon:
    x, y = ORIGIN[0] + 0.02 * i, ORIGIN[1]
    return MultiPolygon([box(x, y, x + 0.01, y + 0.01)])


def community_square(street_index: int = 0, i: int = 0) -> MultiPolygon:
    x = ORIGIN[0] + 0.02 * street_index + 0.001 + 0.002 * (i % 4)
    y = ORIGIN[1] + 0.001 + 0.002 * (i // 4)
    return MultiPolygon([box(x, y, x + 0.001, y + 0.001)])


def make_street(session, index: int = 0, **overrides) -> Street:
    n = next(_numbers)
    values = {"code": f"9{n:011d}", "name_zh": f"测试{n}街道", "name_en": f"Test {n} Subdistrict",
              "boundary": from_shape(street_square(index), srid=4326),
              "data_source": DataSource.OFFICIAL}
    values.update(overrides)
    street = Street(**values)
    session.add(street)
    session.flush()
    return street


def make_community(session, street: Street, footprint=None, **overrides) -> Community:
    n = next(_numbers)
    footprint = footprint if footprint is not None else community_square()
    values = {"code": f"9{n:014d}", "name": f"测试{n}社区", "street": street,
              "footprint": from_shape(footprint, srid=4326),
              "location": from_shape(footprint.representative_point(), srid=4326),
              "building_area_m2": 10000.0, "data_source": DataSource.IMPORTED}
    values.update(overrides)
    community = Community(**values)
    session.add(community)
    session.flush()
    return community


def make_item(session, community: Community, geometry=None, **overrides) -> RenovationItem:
    values = {"community": community, "kind": "lift_retrofit", "title": "1号楼加装电梯",
              "status": Status.PLANNED, "progress_pct": 0, "planned_end": dt.date(2030, 1, 1)}
    values.update(overrides)
    if geometry is None:
        geometry = Point(*community_centre(session, community))
    values["geometry"] = from_shape(geometry, srid=4326)
    item = RenovationItem(**values)
    session.add(item)
    session.flush()
    return item


def community_centre(session, community: Community) -> tuple[float, float]:
    from geoalchemy2.shape import to_shape

    point = to_shape(community.location)
    return point.x, point.y
