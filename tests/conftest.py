"""Fixtures: a fresh database per test on SpatiaLite and on PostGIS, apps, clients, a browser.

Each backend gets one template database per test session (migrated, demo loaded);
every test then works on its own copy: a file copy for SpatiaLite, ``CREATE
DATABASE ... TEMPLATE`` for PostGIS. In CI (``CI=true``) a missing PostGIS server
or Chromium fails the run; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from renovation import demo
from renovation.db import Database, migrate

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_URL = os.environ.get("GENGXIN_TEST_POSTGRES_URL", "")
CHROMIUM = os.environ.get("GENGXIN_CHROMIUM", "/usr/bin/chromium")
BACKENDS = ("spatialite", "postgis")
TRANSLATIONS = Path(__file__).resolve().parents[1] / "renovation" / "translations"
_counter = itertools.count()


def _missing(what: str) -> None:
    """Fail in CI, skip elsewhere: a missing backend must never pass silently in CI."""
    if IN_CI:
        pytest.fail(f"{what} is required in CI (make test sets it up)", pytrace=False)
    pytest.skip(f"{what} is not available; run the tests with 'make test'")


# --- PostgreSQL administration --------------------------------------------------------------

def _admin_engine() -> sa.Engine:
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql+psycopg",
                                      database=database).render_as_string(hide_password=False)


def _pg_execute(statement: str) -> None:
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _create_pg_database(name: str, template: str | None = None) -> str:
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return _pg_url(name)


def _drop_pg_database(name: str) -> None:
    _pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgis_available() -> bool:
    if not POSTGRES_URL:
        return False
    try:
        _pg_execute("SELECT 1")
    except sa.exc.OperationalError:
        return False
    return True


# --- Template databases ---------------------------------------------------------------------

def _populate(url: str) -> None:
    database = Database(url)
    try:
        migrate(database.engine)
        with database.session() as session:
            demo.load_demo(session, demo.generate_demo())
            session.commit()
    finally:
        database.dispose()


@pytest.fixture(scope="session")
def demo_data() -> demo.DemoData:
    """The demo data as generated in memory (the same the template databases hold)."""
    return demo.generate_demo()


@pytest.fixture(scope="session")
def spatialite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "demo.sqlite"
    _populate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgis_template(postgis_available):
    if not postgis_available:
        _missing("PostgreSQL with PostGIS (GENGXIN_TEST_POSTGRES_URL)")
    name = f"gengxin_template_{os.getpid()}"
    url = _create_pg_database(name)
    _pg_execute_in(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    _populate(url)
    yield name
    _drop_pg_database(name)


def _pg_execute_in(url: str, statement: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


# --- Per-test databases ---------------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    """The database backend of this test: every database test runs on both."""
    return request.param


@pytest.fixture
def db_url(backend, request, tmp_path) -> str:
    """A fresh database holding the demo data, on `backend`."""
    if backend == "spatialite":
        template = request.getfixturevalue("spatialite_template")
        path = tmp_path / "gengxin.sqlite"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    template = request.getfixturevalue("postgis_template")
    name = f"gengxin_test_{os.getpid()}_{next(_counter)}"
    yield _create_pg_database(name, template)
    _drop_pg_database(name)


@pytest.fixture
def empty_db_url(backend, request, tmp_path) -> str:
    """A fresh database with nothing in it (PostGIS has the extension), on `backend`."""
    if backend == "spatialite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    if not request.getfixturevalue("postgis_available"):
        _missing("PostgreSQL with PostGIS (GENGXIN_TEST_POSTGRES_URL)")
    name = f"gengxin_empty_{os.getpid()}_{next(_counter)}"
    url = _create_pg_database(name)
    _pg_execute_in(url, "CREATE EXTENSION IF NOT EXISTS postgis")
    yield url
    _drop_pg_database(name)


@pytest.fixture
def database(db_url):
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def session(database):
    with database.session() as session:
        yield session


# --- The app --------------------------------------------------------------------------------

@pytest.fixture
def app_config(db_url, tmp_path) -> dict:
    """Settings for the app under test; a test may change them before using `app`."""
    return {"DATABASE_URL": db_url, "TESTING": True, "SECRET_KEY": "test-secret",
            "PROPAGATE_EXCEPTIONS": False, "INSTANCE_PATH": str(tmp_path / "instance")}


@pytest.fixture
def app(app_config):
    from server import create_app

    app = create_app(app_config)
    yield app
    app.extensions["gengxin.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def translated_client(app_config, tmp_path, request):
    """A client of an app whose Chinese catalogue is compiled here from the .po file.

    So that tests of the Chinese interface do not depend on a .mo left by `make`.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
    assert po.exists(), "the Chinese catalogue is part of the app"
    target = tmp_path / "translations" / "zh" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with po.open("rb") as source:
        catalogue = read_po(source, locale="zh")
    with (target / "messages.mo").open("wb") as out:
        write_mo(out, catalogue)
    app_config["BABEL_TRANSLATION_DIRECTORIES"] = str(tmp_path / "translations")
    return request.getfixturevalue("client")


@pytest.fixture
def app_session(app):
    """A session on the app's own database, for arranging and checking data."""
    with app.extensions["gengxin.db"].session() as session:
        yield session


# --- A live server and a browser ------------------------------------------------------------

@pytest.fixture
def live_server(app):
    """The app served over HTTP on a free port, in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium at {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
