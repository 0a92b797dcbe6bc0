"""The benchmark data must be as sound as a real import, or the figures measure nothing real."""

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from bench import datasets
from bench.generator import generate
from geo.spatialdb import create_spatial_engine
from renovation.catalogue import BY_CODE
from renovation.status import PROGRESS_RANGE, Status


@pytest.fixture(scope="module")
def programme():
    return generate(600, seed=7)


def test_same_seed_same_rows_other_seed_other_rows():
    a, b, c = generate(50, seed=1), generate(50, seed=1), generate(50, seed=2)
    assert shapely.equals_exact(a.communities.footprint.to_numpy(),
                                b.communities.footprint.to_numpy(), 0).all()
    assert a.items.drop(columns="geometry").equals(b.items.drop(columns="geometry"))
    assert not shapely.equals(a.communities.footprint.to_numpy(),
                              c.communities.footprint.to_numpy()).all()


def test_footprints_valid_disjoint_inside_their_street(programme):
    footprints = programme.communities.footprint.to_numpy()
    assert len(footprints) == 600
    assert shapely.is_valid(footprints).all()
    streets = programme.streets.boundary.to_numpy()[programme.communities.street_id - 1]
    assert shapely.within(footprints, streets).all()
    left, right = shapely.STRtree(footprints).query(footprints, predicate="intersects")
    assert (left == right).all()


def test_footprints_have_real_compound_sizes_and_vertex_counts(programme):
    footprints = programme.communities.footprint.to_numpy()
    lat = shapely.get_y(shapely.centroid(footprints))
    area_ha = shapely.area(footprints) * 111_320.0 ** 2 * np.cos(np.radians(lat)) / 1e4
    assert 0.5 < area_ha.min() and area_ha.max() < 15
    vertices = shapely.get_num_coordinates(footprints) - 1  # the closing vertex repeats
    assert vertices.min() >= 10 and vertices.max() <= 200
    assert 20 < np.median(vertices) < 50


def test_items_in_every_status_with_fitting_progress_and_distinct_kinds(programme):
    items = programme.items
    per_community = items.groupby("community_id").size()
    assert per_community.min() >= 5 and per_community.max() <= 10
    assert set(items.status) == {s.value for s in Status}
    assert not items.duplicated(["community_id", "kind"]).any()
    for status, progress in zip(items.status, items.progress_pct, strict=True):
        low, high = PROGRESS_RANGE[Status(status)]
        assert low <= progress <= high
    expected_type = {"point": "Point", "line": "LineString", "polygon": "Polygon"}
    types = shapely.get_type_id(items.geometry.to_numpy())
    names = np.array(["Point", "LineString", "", "Polygon"])[types]
    assert all(names[i] == expected_type[BY_CODE[k].geometry]
               for i, k in enumerate(items.kind))


def test_history_leads_to_each_items_state(programme):
    items = programme.items.set_index("id")
    changes = programme.changes.sort_values(["item_id", "version_after"])
    last = changes.groupby("item_id").last()
    assert (last.status_after == items.loc[last.index, "status"]).all()
    assert (last.progress_after == items.loc[last.index, "progress_pct"]).all()
    assert (last.version_after == items.loc[last.index, "version"]).all()
    unchanged = items.index.difference(last.index)
    assert (items.loc[unchanged, "status"] == "planned").all()
    # Each change starts where the one before ended.
    same_item = changes.item_id.to_numpy()[1:] == changes.item_id.to_numpy()[:-1]
    assert (changes.status_before.to_numpy()[1:][same_item]
            == changes.status_after.to_numpy()[:-1][same_item]).all()


def test_loaded_database_agrees_with_the_app(backend, empty_db_url):
    """Loaded by COPY or executemany, the rows are what the ORM would have written."""
    datasets._build(empty_db_url, backend, 120, 3, with_communities=True)
    generated = generate(120, seed=3)
    engine = create_spatial_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            count = conn.execute(sa.text(
                "SELECT (SELECT count(*) FROM communities), (SELECT count(*) FROM "
                "renovation_items), (SELECT count(*) FROM item_changes)")).one()
            assert tuple(count) == (120, len(generated.items), len(generated.changes))
            outside = conn.execute(sa.text(
                "SELECT count(*) FROM communities c JOIN streets s ON s.id = c.street_id "
                "WHERE NOT ST_Within(c.footprint, s.boundary)")).scalar()
            assert outside == 0
            wrong_version = conn.execute(sa.text(
                "SELECT count(*) FROM renovation_items i WHERE i.version != 1 + "
                "(SELECT count(*) FROM item_changes h WHERE h.item_id = i.id)")).scalar()
            assert wrong_version == 0
            area = conn.execute(sa.text(
                "SELECT sum(building_area_m2) FROM communities")).scalar()
            assert area == pytest.approx(generated.communities.building_area_m2.sum())
        # New rows get new ids after the bulk load (the sequences moved on).
        with engine.begin() as conn:
            new_id = conn.execute(sa.text(
                "INSERT INTO streets (code, name_zh, name_en, boundary, data_source) VALUES "
                "('999999999999', 'x', 'x', ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)))',"
                " 4326), 'official') RETURNING id")).scalar()
            assert new_id == len(generated.streets) + 1
    finally:
        engine.dispose()
