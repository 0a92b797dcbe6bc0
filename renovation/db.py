"""The database of one app: engine, sessions and migrations.

Services take a :class:`sqlalchemy.orm.Session` argument and never reach for a
global, so tests and the CLI call them with any session they like.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy.orm import Session, sessionmaker

from geo.spatialdb import create_spatial_engine, ensure_postgis

LOGGER = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


#: SpatiaLite's own tables live beside ours; autogenerate must neither drop nor create them.
SPATIALITE_TABLES = {"data_licenses", "SpatialIndex", "ElementaryGeometries", "KNN", "KNN2",
                     "sql_statements_log", "spatial_ref_sys_aux"}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: our tables only, geometry columns handled by geoalchemy2."""
    if type_ == "table" and (name in SPATIALITE_TABLES or name.startswith("idx_")):
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs):
        self.url = url
        self.engine = create_spatial_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the latest), on either backend."""
    ensure_postgis(engine)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: sa.Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def is_up_to_date(engine: sa.Engine) -> bool:
    """Tell whether the database has every migration applied."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads()) == heads
