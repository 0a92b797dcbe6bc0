"""The demo data: real names and boundaries, honest generated footprints, reproducible."""

import csv

import pytest
import sqlalchemy as sa
from pyproj import Geod

from geo import gcj02
from renovation import demo
from renovation.catalogue import KINDS
from renovation.models import Community, DataSource, RenovationItem, Street
from renovation.status import PROGRESS_RANGE, Status


def test_same_seed_same_shapes(demo_data):
    again = demo.generate_demo()
    assert [c.footprint.wkb for c in again.communities] == \
        [c.footprint.wkb for c in demo_data.communities]
    assert [i.geometry.wkb for c in again.communities for i in c.items] == \
        [i.geometry.wkb for c in demo_data.communities for i in c.items]


def test_another_seed_other_shapes(demo_data):
    other = demo.generate_demo(seed=demo.DEMO_SEED + 1)
    same = sum(a.footprint.equals(b.footprint)
               for a, b in zip(other.communities, demo_data.communities, strict=True))
    assert same == 0


def test_real_streets_and_community_names(demo_data):
    with open(demo.DATA_DIR / "shijingshan-communities.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(demo_data.streets) == 9
    assert {c.code for c in demo_data.communities} == {r["code"] for r in rows}
    assert all(c.street_code == c.code[:9] + "000" for c in demo_data.communities)
    assert "老山东里北社区" in {c.name for c in demo_data.communities}


def test_gcj02_points_are_converted_to_wgs84(demo_data):
    with open(demo.DATA_DIR / "shijingshan-communities.csv", encoding="utf-8") as f:
        source = {r["code"]: r for r in csv.DictReader(f) if r["lon_gcj02"]}
    converted = [c for c in demo_data.communities if c.location_source == "gcj02"]
    assert len(converted) >= 50
    geod = Geod(ellps="WGS84")
    for c in converted:
        row = source[c.code]
        lon, lat = gcj02.wgs84_to_gcj02(c.location.x, c.location.y)
        assert abs(lon - float(row["lon_gcj02"])) < 1e-6
        assert abs(lat - float(row["lat_gcj02"])) < 1e-6
        shift = geod.inv(c.location.x, c.location.y, float(row["lon_gcj02"]),
                         float(row["lat_gcj02"]))[2]
        assert 300 < shift < 700, c.name


def test_one_pilot_per_street_and_the_district_pilot(demo_data):
    pilots = [c for c in demo_data.communities if c.is_pilot]
    assert sorted(c.street_code for c in pilots) == sorted(s.code for s in demo_data.streets)
    assert [c.name for c in demo_data.communities if c.is_district_pilot] == ["老山东里北社区"]


def test_building_area_adds_up_to_the_district_figure(demo_data):
    total = sum(c.building_area_m2 for c in demo_data.communities)
    assert total == pytest.approx(demo.DISTRICT_BUILDING_AREA_M2, rel=1e-3)


def test_items_of_every_kind_and_status_with_consistent_progress(demo_data):
    items = [i for c in demo_data.communities for i in c.items]
    assert {i.kind for i in items} == {k.code for k in KINDS}
    assert {i.status for i in items} == set(Status)
    for i in items:
        low, high = PROGRESS_RANGE[i.status]
        assert low <= i.progress_pct <= high
        assert i.planned_start <= i.planned_end
        assert (i.actual_end is not None) == i.status.is_done


def within(bind, inner, outer):
    return sa.func.ST_Within(inner, outer) if bind.dialect.name != "sqlite" \
        else sa.func.Within(inner, outer)


def test_footprints_lie_in_their_street_and_never_overlap(session):
    bind = session.get_bind()
    outside = session.scalar(
        sa.select(sa.func.count()).select_from(Community).join(Street, Community.street)
        .where(sa.not_(within(bind, Community.footprint, Street.boundary))))
    assert outside == 0
    other = sa.orm.aliased(Community)
    overlaps = session.scalar(
        sa.select(sa.func.count()).select_from(Community)
        .join(other, Community.id < other.id)
        .where(sa.func.ST_Intersects(Community.footprint, other.footprint)))
    assert overlaps == 0


def test_items_lie_on_their_community(session):
    stray = session.scalar(
        sa.select(sa.func.count()).select_from(RenovationItem)
        .join(Community, RenovationItem.community)
        .where(sa.not_(sa.func.ST_Intersects(RenovationItem.geometry, Community.footprint))))
    assert stray == 0


def test_the_database_marks_generated_data(session):
    sources = set(session.scalars(sa.select(Community.data_source).distinct()))
    assert sources == {DataSource.GENERATED}
    assert session.scalar(sa.select(sa.func.count()).select_from(Community)
                          .where(Community.source_note.contains("generated"))) == 149


def test_loading_twice_is_refused(session, demo_data):
    with pytest.raises(ValueError, match="already"):
        demo.load_demo(session, demo_data)
