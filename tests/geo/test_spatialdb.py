"""Bounding-box queries through the spatial index, on SpatiaLite and PostGIS."""

import numpy as np
import pytest
import sqlalchemy as sa
from geoalchemy2 import Geometry
from geoalchemy2.shape import from_shape
from shapely.geometry import box

from geo.spatialdb import bbox_filter, create_spatial_engine, ensure_postgis, is_sqlite


def parcels_table() -> sa.Table:
    # A new Table each time: geoalchemy2's create hooks adjust the Table object per dialect.
    return sa.Table(
        "parcels", sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("shape", Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False),
    )


@pytest.fixture
def parcel_engine(empty_db_url):
    """2,000 small squares scattered over a 1-degree square, and their table."""
    engine = create_spatial_engine(empty_db_url)
    ensure_postgis(engine)
    parcels = parcels_table()
    parcels.metadata.create_all(engine)
    rng = np.random.default_rng(7)
    squares = {}
    for i, (x, y) in enumerate(rng.uniform(0, 1, size=(2000, 2)), start=1):
        squares[i] = box(116 + x, 39 + y, 116 + x + 0.002, 39 + y + 0.002)
    with engine.begin() as conn:
        conn.execute(parcels.insert(), [{"id": i, "shape": from_shape(g, srid=4326)}
                                        for i, g in squares.items()])
        if not is_sqlite(engine):
            conn.execute(sa.text("ANALYZE parcels"))
    yield engine, parcels, squares
    engine.dispose()


@pytest.mark.parametrize("bbox", [(116.2, 39.2, 116.3, 39.35), (116.0, 39.0, 117.0, 40.0),
                                  (115.0, 38.0, 115.5, 38.5), (116.5, 39.5, 116.5001, 39.5001)])
def test_bbox_filter_finds_exactly_the_boxes_that_meet(parcel_engine, bbox):
    engine, parcels, squares = parcel_engine
    with engine.connect() as conn:
        found = set(conn.scalars(sa.select(parcels.c.id).where(
            bbox_filter(conn, parcels, parcels.c.shape, bbox))))
    expected = {i for i, g in squares.items() if g.intersects(box(*bbox))}
    assert found == expected


def test_bbox_filter_uses_the_spatial_index(parcel_engine):
    engine, parcels, _ = parcel_engine
    query = sa.select(parcels.c.id).where(
        bbox_filter(engine, parcels, parcels.c.shape, (116.2, 39.2, 116.3, 39.3)))
    with engine.connect() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if is_sqlite(engine):
            plan = " ".join(str(r) for r in conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql)))
            assert "SpatialIndex" in plan or "idx_parcels_shape" in plan, plan
            assert "SCAN parcels" not in plan, plan
        else:
            # 2,000 rows are few enough for a sequential scan to be cheapest; forbidding it
            # shows that the predicate can use the GiST index, which a big table will.
            conn.execute(sa.text("SET enable_seqscan = off"))
            plan = " ".join(r[0] for r in conn.execute(sa.text("EXPLAIN " + sql)))
            assert "idx_parcels_shape" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_the_same_box_as_bound_parameters_finds_the_same(parcel_engine):
    """A statement built once with the box as parameters (the map's) answers any box."""
    engine, parcels, squares = parcel_engine
    corners = tuple(sa.bindparam(n, type_=sa.Float) for n in ("minx", "miny", "maxx", "maxy"))
    query = sa.select(parcels.c.id).where(bbox_filter(engine, parcels, parcels.c.shape, corners))
    with engine.connect() as conn:
        for bbox in [(116.2, 39.2, 116.3, 39.35), (115.0, 38.0, 115.5, 38.5)]:
            found = set(conn.scalars(query, dict(zip(("minx", "miny", "maxx", "maxy"), bbox,
                                                     strict=True))))
            assert found == {i for i, g in squares.items() if g.intersects(box(*bbox))}


@pytest.mark.parametrize("backend", ["postgis"])
def test_a_connection_is_pinged_only_after_sitting_idle(empty_db_url, monkeypatch):
    """No round trip before each request's query; a connection that died while idle is
    replaced before it is used, as with pool_pre_ping."""
    import geo.spatialdb

    engine = create_spatial_engine(empty_db_url)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    clock = [1000.0]
    monkeypatch.setattr(geo.spatialdb.time, "monotonic", lambda: clock[0])
    try:
        for _ in range(3):
            with engine.connect() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            clock[0] += 0.5
        assert pings == []
        killer = create_spatial_engine(empty_db_url, poolclass=sa.pool.NullPool)
        with killer.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        clock[0] += geo.spatialdb.PING_AFTER_IDLE_S + 1
        with engine.connect() as conn:  # the dead connection is found out and replaced
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
        assert len(pings) == 1
    finally:
        engine.dispose()
