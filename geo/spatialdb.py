"""Spatial database plumbing shared by SQLite + SpatiaLite and PostgreSQL + PostGIS.

The same models and queries run on both backends. What differs is kept here:
how the engine is created (SpatiaLite is a loadable extension that the machine's
stdlib ``sqlite3`` cannot load, so we use ``pysqlite3``), and how a bounding-box
filter reaches the spatial index (SpatiaLite only uses its R*Tree when the query
names the ``SpatialIndex`` virtual table; PostGIS uses GiST for a plain ``&&``).
"""

from __future__ import annotations

import logging
import os
import time

import sqlalchemy as sa
from geoalchemy2.admin.dialects.sqlite import init_spatialite, load_spatialite_driver
from sqlalchemy.engine import URL, Engine, make_url

LOGGER = logging.getLogger(__name__)

#: Spatial reference systems every database must know besides WGS84:
#: CGCS2000 (China's official datum) and Web Mercator.
EXTRA_SRIDS = (4490, 3857)
#: A pooled server connection idle for longer than this is pinged before it is used again.
PING_AFTER_IDLE_S = 1.0


def is_sqlite(bind: Engine | sa.Connection | URL | str) -> bool:
    """Tell whether `bind` talks to SQLite (and so SpatiaLite)."""
    if isinstance(bind, str | URL):
        return make_url(bind).get_backend_name() == "sqlite"
    return bind.dialect.name == "sqlite"


def create_spatial_engine(url: str | URL, **kwargs) -> Engine:
    """Create an engine whose connections can run spatial SQL.

    For SQLite the connection loads ``mod_spatialite`` (Debian package
    ``libsqlite3-mod-spatialite``) and initialises the spatial metadata of a new
    file with the WGS84 SRIDs plus :data:`EXTRA_SRIDS`. For PostgreSQL the
    ``postgis`` extension must already exist (see :func:`ensure_postgis`), and a
    pooled connection is pinged only after :data:`PING_AFTER_IDLE_S` idle (see
    :func:`ping_after_idle`) unless `pool_pre_ping` is given.

    Parameters
    ----------
    url : str or URL
        A SQLAlchemy database URL, e.g. ``sqlite:///instance/gengxin.sqlite`` or
        ``postgresql://user@host/db``.
    **kwargs
        Passed on to :func:`sqlalchemy.create_engine`.
    """
    url = make_url(url)
    if not is_sqlite(url):
        if url.drivername == "postgresql":
            # SQLAlchemy 2.0 and 2.1 default to different drivers; name the one we install.
            url = url.set(drivername="postgresql+psycopg")
        if "pool_pre_ping" in kwargs:  # True: before every checkout; False: never
            return sa.create_engine(url, **kwargs)
        engine = sa.create_engine(url, **kwargs)
        ping_after_idle(engine, PING_AFTER_IDLE_S)
        return engine

    # pyogrio's GDAL must be loaded before SpatiaLite: SpatiaLite brings the system's
    # SQLite, GEOS and PROJ into the process, and a GDAL loaded after them crashes when it
    # writes a GeoPackage or GeoJSON.
    import pyogrio  # noqa: F401
    import pysqlite3.dbapi2 as pysqlite3  # the stdlib module cannot load extensions here

    os.environ.setdefault("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    connect_args = kwargs.pop("connect_args", {})
    # Several threads of one server share the pool; SQLite serialises writers itself.
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", 30)
    engine = sa.create_engine(url, module=pysqlite3, connect_args=connect_args, **kwargs)

    @sa.event.listens_for(engine, "connect")
    def _prepare(dbapi_conn, _record):
        try:
            load_spatialite_driver(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - re-raised with the fix in the message
            raise RuntimeError(
                "SpatiaLite could not be loaded. Install the Debian package "
                "libsqlite3-mod-spatialite (make run does this)."
            ) from exc
        dbapi_conn.execute("PRAGMA foreign_keys = ON")
        if url.database not in (None, "", ":memory:"):
            dbapi_conn.execute("PRAGMA journal_mode = WAL")
        init_spatialite(dbapi_conn, transaction=True, init_mode="WGS84")
        for srid in EXTRA_SRIDS:
            known = dbapi_conn.execute(
                "SELECT count(*) FROM spatial_ref_sys WHERE srid = ?", (srid,)
            ).fetchone()[0]
            if not known:
                dbapi_conn.execute("SELECT InsertEpsgSrid(?)", (srid,))

    return engine


def ping_after_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection before use only if it sat idle for more than `idle_s`.

    SQLAlchemy's ``pool_pre_ping`` pings before every checkout: one more round trip per
    request, as much as a small map view's query costs. A connection returned a moment
    ago is alive unless the server went away in that moment; one idle for longer (a
    restart, a firewall's timeout) is checked, and replaced if dead, as pre-ping would.
    """
    dialect = engine.dialect

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn, record):
        if record is not None:
            record.info["gengxin_idle_from"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):
        idle_from = record.info.get("gengxin_idle_from")
        if idle_from is None or time.monotonic() - idle_from <= idle_s:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            # The pool drops this connection and checks out another (a new one if need be).
            raise sa.exc.DisconnectionError(f"idle connection is dead: {error}") from error


def ensure_postgis(engine: Engine) -> None:
    """Create the ``postgis`` extension if the database lacks it (no-op on SQLite)."""
    if is_sqlite(engine):
        return
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))


def envelope(bind, bbox: tuple[float, float, float, float], srid: int = 4326):
    """Return a SQL expression for the rectangle `bbox` = (minx, miny, maxx, maxy).

    The corners are numbers, or SQL expressions such as bound parameters, for a
    statement built once and run with many boxes.
    """
    minx, miny, maxx, maxy = (v if isinstance(v, sa.ColumnElement) else float(v) for v in bbox)
    if is_sqlite(bind):
        return sa.func.BuildMbr(minx, miny, maxx, maxy, srid)
    return sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, srid)


def bbox_filter(bind, table: sa.Table, column: sa.Column, bbox):
    """A WHERE clause keeping rows whose geometry's box meets `bbox`, through the index.

    On PostGIS this is ``column && envelope`` (GiST). On SpatiaLite it names the
    ``SpatialIndex`` virtual table, the only way SpatiaLite's R*Tree is used; the
    table's integer primary key is its rowid. Both are box tests: follow with
    ``ST_Intersects`` when exact geometry matters.

    Parameters
    ----------
    bind : Engine, Connection or Session bind
        Decides the dialect.
    table : Table
        The table holding `column`.
    column : Column
        A geometry column that has a spatial index.
    bbox : tuple of float
        (minx, miny, maxx, maxy) in the column's SRID.
    """
    box = envelope(bind, bbox)
    if not is_sqlite(bind):
        return column.op("&&")(box)
    index_lookup = sa.select(sa.column("rowid")).select_from(sa.table("SpatialIndex")).where(
        sa.column("f_table_name", sa.String) == table.name,
        sa.column("f_geometry_column", sa.String) == column.name,
        sa.column("search_frame") == box,
    )
    primary_key = list(table.primary_key.columns)[0]
    return primary_key.in_(index_lookup)


def as_geojson(bind, column, decimals: int = 6):
    """SQL that renders `column` as a GeoJSON geometry string with `decimals` digits."""
    if is_sqlite(bind):
        return sa.func.AsGeoJSON(column, decimals)
    return sa.func.ST_AsGeoJSON(column, decimals)


def simplified(bind, column, tolerance_deg: float):
    """SQL for `column` simplified (Douglas-Peucker) to `tolerance_deg`, or as is if 0.

    For drawing, at a tolerance of half a pixel: plain Douglas-Peucker is what the
    eye needs and costs a tenth of the topology-preserving variant in PostGIS (which
    goes through GEOS), a third in SpatiaLite; a view of 200 footprints of 10-200
    vertices spent most of its time there. Polygons smaller than the tolerance are
    kept (PostGIS ``preserveCollapsed``), and a geometry SpatiaLite cannot simplify
    is drawn as it is.

    A bound parameter as `tolerance_deg` always simplifies (a statement built once).
    """
    if not isinstance(tolerance_deg, sa.ColumnElement) and tolerance_deg <= 0:
        return column
    if is_sqlite(bind):
        return sa.func.coalesce(sa.func.Simplify(column, tolerance_deg), column)
    return sa.func.ST_Simplify(column, tolerance_deg, True)
