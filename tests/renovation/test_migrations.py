"""Migrations build the same schema on SpatiaLite and PostGIS, with spatial indexes."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from renovation.db import Database, downgrade, include_object, is_up_to_date, migrate
from renovation.models import Base

GEOMETRY_COLUMNS = {("streets", "boundary"), ("communities", "footprint"),
                    ("renovation_items", "geometry")}


def spatial_indexes(conn) -> set[tuple[str, str]]:
    if conn.dialect.name == "sqlite":
        rows = conn.execute(sa.text(
            "SELECT f_table_name, f_geometry_column FROM geometry_columns "
            "WHERE spatial_index_enabled = 1"))
        return {(t, c) for t, c in rows}
    rows = conn.execute(sa.text(
        "SELECT t.relname, a.attname FROM pg_index i "
        "JOIN pg_class ix ON ix.oid = i.indexrelid JOIN pg_am am ON am.oid = ix.relam "
        "JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
        "WHERE am.amname = 'gist'"))
    return {(t, c) for t, c in rows}


def test_upgrade_creates_tables_with_spatial_indexes(empty_db_url):
    database = Database(empty_db_url)
    try:
        assert not is_up_to_date(database.engine)
        migrate(database.engine)
        assert is_up_to_date(database.engine)
        with database.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            assert {"streets", "communities", "renovation_items"} <= tables
            assert GEOMETRY_COLUMNS <= spatial_indexes(conn)
    finally:
        database.dispose()


def test_models_and_migrations_agree(empty_db_url):
    """Autogenerate finds nothing to do: the migrations build exactly the models' schema."""
    database = Database(empty_db_url)
    try:
        migrate(database.engine)
        with database.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_object": include_object, "compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        database.dispose()


def test_downgrade_to_base_removes_everything_and_upgrade_restores(empty_db_url):
    database = Database(empty_db_url)
    try:
        migrate(database.engine)
        downgrade(database.engine, "base")
        with database.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        assert not {"streets", "communities", "renovation_items"} & tables
        migrate(database.engine)
        assert is_up_to_date(database.engine)
    finally:
        database.dispose()
