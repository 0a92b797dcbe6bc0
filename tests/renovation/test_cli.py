"""The set-up commands make run uses: flask db upgrade, flask demo load --if-empty."""

import pytest
import sqlalchemy as sa

from renovation.db import Database
from renovation.models import Community


@pytest.fixture
def empty_app(empty_db_url):
    from server import create_app

    app = create_app({"DATABASE_URL": empty_db_url, "TESTING": True, "SECRET_KEY": "x"})
    yield app
    app.extensions["gengxin.db"].dispose()


def test_upgrade_then_load_then_load_again_keeps_the_data(empty_app, empty_db_url):
    runner = empty_app.test_cli_runner()
    result = runner.invoke(args=["db", "current"])
    assert "migrations pending" in result.output
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in runner.invoke(args=["db", "current"]).output

    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "149 communities" in result.output

    database = Database(empty_db_url)
    try:
        with database.session() as session:
            first = session.scalars(sa.select(Community.id).order_by(Community.id)).all()
            session.get(Community, first[0]).name = "改过的名字"
            session.commit()
        # A second `make run`: upgrade is a no-op and the data stays as it was.
        assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
        result = runner.invoke(args=["demo", "load", "--if-empty"])
        assert result.exit_code == 0 and "not loaded" in result.output
        with database.session() as session:
            assert session.scalars(sa.select(Community.id).order_by(Community.id)).all() == first
            assert session.get(Community, first[0]).name == "改过的名字"
    finally:
        database.dispose()

    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code != 0 and "already holds data" in result.output
