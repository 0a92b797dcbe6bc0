"""Alembic environment: runs the migrations on SpatiaLite or PostGIS.

The connection comes from :func:`renovation.db.migrate` (``flask db upgrade``), which
passes it in ``config.attributes["connection"]``; the geoalchemy2 helpers keep
autogenerate from dropping geometry imports or duplicating spatial indexes.
"""

from alembic import context
from geoalchemy2 import alembic_helpers

from renovation.models import Base

# SpatiaLite's own tables live beside ours; autogenerate must not try to drop them.
SPATIALITE_TABLES = {"data_licenses", "SpatialIndex", "ElementaryGeometries", "KNN", "KNN2",
                     "sql_statements_log", "spatial_ref_sys_aux", "SpatialIndex"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and (name in SPATIALITE_TABLES or name.startswith("idx_")):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


config = context.config
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    process_revision_directives=alembic_helpers.writer,
    render_item=alembic_helpers.render_item,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)

with context.begin_transaction():
    context.run_migrations()
