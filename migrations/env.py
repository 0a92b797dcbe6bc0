"""Alembic environment: runs the migrations on SpatiaLite or PostGIS.

The connection comes from :func:`renovation.db.migrate` (``flask db upgrade``), which
passes it in ``config.attributes["connection"]``; the geoalchemy2 helpers keep
autogenerate from dropping geometry imports or duplicating spatial indexes.
"""

from alembic import context
from geoalchemy2 import alembic_helpers

from renovation.db import include_object
from renovation.models import Base

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
