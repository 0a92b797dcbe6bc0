"""Generated programmes loaded into real databases, built once and kept for later runs.

``ensure("postgis", 170_000)`` returns the URL of a PostGIS database holding the programme
:func:`bench.generator.generate` makes for that size and seed; ``ensure("spatialite", n)`` the
URL of a SpatiaLite file. Both are built through the app's own migrations, then filled by the
fastest path each backend has (COPY on PostgreSQL, executemany in one transaction on SQLite),
with the summary triggers switched off during the load and the summaries rebuilt after it.
Treat them as read-only; :func:`scratch_copy` gives a copy a benchmark may change.

A database counts as built only when it holds the ``bench_dataset`` marker table written last,
with the fingerprint of the migrations and generator that built it: an interrupted build, or
one by other migrations, is thrown away and redone.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from bench import common
from bench.generator import Programme, generate

DATA_DIR = Path(__file__).resolve().parent / ".data"
BENCH_PASSWORD_HASH = "!"  # no password signs in as the benchmark's users: they use tokens
_MARKER = "bench_dataset"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _server_url(postgres_url: str, database: str) -> str:
    return sa.make_url(postgres_url).set(database=database).render_as_string(hide_password=False)


def _admin_engine(postgres_url: str) -> sa.Engine:
    url = sa.make_url(postgres_url).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _database_exists(postgres_url: str, name: str) -> bool:
    engine = _admin_engine(postgres_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                {"n": name}).first() is not None
    finally:
        engine.dispose()


def _drop_database(postgres_url: str, name: str) -> None:
    engine = _admin_engine(postgres_url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def _create_database(postgres_url: str, name: str, template: str | None = None) -> None:
    engine = _admin_engine(postgres_url)
    clause = f' TEMPLATE "{template}"' if template else ""
    try:
        with engine.connect() as conn:
            for attempt in range(20):
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
                    return
                except sa.exc.OperationalError as error:
                    # A template may not be copied while someone is connected to it.
                    if "being accessed by other users" not in str(error) or attempt == 19:
                        raise
                    time.sleep(0.5)
    finally:
        engine.dispose()


def schema_fingerprint() -> str:
    """A hash of the migrations and the generator: a dataset built by others is stale."""
    from renovation.db import MIGRATIONS
    digest = hashlib.sha256()
    for path in sorted(MIGRATIONS.glob("versions/*.py")) + [Path(generate.__code__.co_filename)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _is_built(url: str) -> bool:
    """Built completely, by the migrations and generator of this checkout."""
    from geo.spatialdb import create_spatial_engine
    engine = create_spatial_engine(url)
    try:
        if not sa.inspect(engine).has_table(_MARKER):
            return False
        with engine.connect() as conn:
            built_by = conn.execute(sa.text(f"SELECT fingerprint FROM {_MARKER}")).scalar()
        return built_by == schema_fingerprint()
    except sa.exc.SQLAlchemyError:  # a marker from an older layout
        return False
    finally:
        engine.dispose()


def _mark_built(conn, programme: Programme) -> None:
    conn.execute(sa.text(f"CREATE TABLE {_MARKER} (summary TEXT, fingerprint TEXT)"))
    conn.execute(sa.text(f"INSERT INTO {_MARKER} VALUES (:s, :f)"),
                 {"s": programme.summary(), "f": schema_fingerprint()})


def database_name(kind: str, n: int, seed: int) -> str:
    return f"bench_{kind}_{n}_{seed}"


def sqlite_path(kind: str, n: int, seed: int) -> Path:
    return DATA_DIR / f"{kind}_{n}_{seed}.sqlite"


def ensure(backend: str, n: int, *, seed: int = common.DEFAULT_SEED,
           postgres_url: str = common.POSTGRES_URL) -> str:
    """The URL of a database holding the generated programme of `n` communities."""
    return _ensure("data", backend, n, seed, postgres_url, with_communities=True)


def empty_with_streets(backend: str, n: int, *, seed: int = common.DEFAULT_SEED,
                       postgres_url: str = common.POSTGRES_URL) -> str:
    """A migrated database with the streets of the `n` programme and no communities.

    Import benchmarks load :func:`footprints_gpkg` into a scratch copy of it.
    """
    return _ensure("streets", backend, n, seed, postgres_url, with_communities=False)


def _ensure(kind, backend, n, seed, postgres_url, *, with_communities: bool) -> str:
    if backend == "postgis":
        name = database_name(kind, n, seed)
        url = _server_url(postgres_url, name)
        if _database_exists(postgres_url, name):
            if _is_built(url):
                return url
            _drop_database(postgres_url, name)
        _create_database(postgres_url, name)
    elif backend == "spatialite":
        path = sqlite_path(kind, n, seed)
        url = f"sqlite:///{path}"
        if path.exists():
            if _is_built(url):
                return url
            path.unlink()
        DATA_DIR.mkdir(parents=True, exist_ok=True)
    else:
        raise ValueError(f"unknown backend {backend!r}: postgis or spatialite")
    _build(url, backend, n, seed, with_communities=with_communities)
    return url


def programme(n: int, seed: int) -> Programme:
    with common.Stopwatch() as watch:
        generated = generate(n, seed)
    log(f"generated {generated.summary()} in {watch.seconds:.1f} s")
    return generated


def _build(url: str, backend: str, n: int, seed: int, *, with_communities: bool) -> None:
    from geo.spatialdb import create_spatial_engine
    from renovation.db import migrate

    generated = programme(n, seed)
    if not with_communities:
        generated = Programme(generated.streets, generated.communities.iloc[:0],
                              generated.items.iloc[:0], generated.changes.iloc[:0])
    engine = create_spatial_engine(url)
    try:
        migrate(engine)
        with common.Stopwatch() as watch:
            with engine.begin() as conn:
                if backend == "postgis":
                    _load_postgis(conn, generated)
                else:
                    _load_spatialite(conn, generated)
                _rebuild_summaries(conn)
                _mark_built(conn, generated)
            with engine.connect() as conn:
                # A database in service is vacuumed by autovacuum; a freshly loaded one is
                # not yet, and its index-only scans would still read every row's page.
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    sa.text("VACUUM ANALYZE" if backend == "postgis" else "ANALYZE"))
        log(f"loaded into {backend} in {watch.seconds:.1f} s ({url})")
    finally:
        engine.dispose()


def _rebuild_summaries(conn) -> None:
    """Recompute the summary tables the app keeps by triggers, if this version has them."""
    try:
        from renovation import summaries
    except ImportError:
        return
    from sqlalchemy.orm import Session
    with Session(bind=conn) as session:
        summaries.rebuild(session)
        session.flush()


# -- rows ------------------------------------------------------------------------------------

def _admin_row() -> dict:
    return {"id": 1, "username": "bench-admin", "display_name": "Benchmark admin",
            "password_hash": BENCH_PASSWORD_HASH, "role": "admin", "street_id": None,
            "community_id": None, "is_active": True, "session_epoch": 0,
            "created_at": pd.Timestamp("2026-11-01 00:00:00")}


def _with_common_columns(p: Programme) -> dict[str, pd.DataFrame]:
    """The frames to load, in dependency order, with the columns the ORM fills by default."""
    now = pd.Timestamp("2026-11-01 00:00:00")
    communities = p.communities.assign(updated_at=now)
    items = p.items.assign(updated_at=now)
    changes = p.changes.assign(user_id=1)
    return {"streets": p.streets, "users": pd.DataFrame([_admin_row()]),
            "communities": communities, "renovation_items": items, "item_changes": changes}


_GEOMETRY_COLUMNS = {"boundary", "label_point", "footprint", "location", "geometry"}


# -- PostGIS ---------------------------------------------------------------------------------

def _load_postgis(conn, p: Programme) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        # Triggers (summaries, history guards) and foreign-key checks off for this load only;
        # the rows are consistent by construction and the summaries are rebuilt afterwards.
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL timezone = 'UTC'")
        for table, frame in _with_common_columns(p).items():
            if frame.empty:
                continue
            frame = frame.copy()
            for column in _GEOMETRY_COLUMNS & set(frame.columns):
                frame[column] = shapely.to_wkb(shapely.set_srid(frame[column].to_numpy(), 4326),
                                               hex=True, include_srid=True)
            text_columns = [c for c in frame.columns if c not in _GEOMETRY_COLUMNS
                            and isinstance(frame[c].iloc[0], str)]
            _copy(cursor, table, frame, text_columns)
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
        cursor.execute("SET LOCAL session_replication_role = origin")


def _copy(cursor, table: str, frame: pd.DataFrame, text_columns: list[str],
          chunk_rows: int = 200_000) -> None:
    columns = ", ".join(frame.columns)
    not_null = ", ".join(text_columns)
    options = "FORMAT csv" + (f", FORCE_NOT_NULL ({not_null})" if not_null else "")
    with common.Stopwatch() as watch:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH ({options})") as copy:
            for start in range(0, len(frame), chunk_rows):
                buffer = io.StringIO()
                frame.iloc[start:start + chunk_rows].to_csv(buffer, header=False, index=False)
                copy.write(buffer.getvalue())
    log(f"  COPY {table}: {len(frame):,} rows in {watch.seconds:.1f} s")


# -- SpatiaLite ------------------------------------------------------------------------------

def _load_spatialite(conn, p: Programme) -> None:
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA foreign_keys = OFF")
    triggers = _drop_summary_triggers(raw)
    for table, frame in _with_common_columns(p).items():
        if frame.empty:
            continue
        frame = frame.copy()
        placeholders = []
        for column in frame.columns:
            if column in _GEOMETRY_COLUMNS:
                frame[column] = shapely.to_wkb(frame[column].to_numpy())
                placeholders.append("GeomFromWKB(?, 4326)")
            else:
                placeholders.append("?")
            if frame[column].dtype.kind == "M":
                text = frame[column].dt.strftime(
                    "%Y-%m-%d" if column in _DATE_COLUMNS else "%Y-%m-%d %H:%M:%S.000000")
                frame[column] = text.where(frame[column].notna(), None)
            elif frame[column].dtype.kind == "b":
                frame[column] = frame[column].astype(int)
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
        with common.Stopwatch() as watch:
            raw.executemany(f"INSERT INTO {table} ({', '.join(frame.columns)}) "
                            f"VALUES ({', '.join(placeholders)})", rows)
        log(f"  INSERT {table}: {len(frame):,} rows in {watch.seconds:.1f} s")
    for sql in triggers:
        raw.execute(sql)
    raw.execute("PRAGMA foreign_keys = ON")


_DATE_COLUMNS = {"planned_start", "planned_end", "actual_start", "actual_end", "effective_date"}


def _drop_summary_triggers(raw) -> list[str]:
    """Drop the app's summary triggers for the load; return the SQL that recreates them."""
    rows = raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                       "AND name LIKE '%summar%'").fetchall()
    for name, _sql in rows:
        raw.execute(f'DROP TRIGGER "{name}"')
    return [sql for _name, sql in rows]


# -- copies and files ------------------------------------------------------------------------

def scratch_copy(backend: str, n: int, *, seed: int = common.DEFAULT_SEED,
                 postgres_url: str = common.POSTGRES_URL, kind: str = "data") -> str:
    """A fresh copy of a built dataset that a benchmark may change; drop it with drop_scratch."""
    source = _ensure(kind, backend, n, seed, postgres_url, with_communities=kind == "data")
    token = uuid.uuid4().hex[:8]
    if backend == "postgis":
        name = f"bench_scratch_{n}_{token}"
        _create_database(postgres_url, name, template=database_name(kind, n, seed))
        return _server_url(postgres_url, name)
    path = DATA_DIR / f"scratch_{n}_{token}.sqlite"
    shutil.copyfile(sa.make_url(source).database, path)
    return f"sqlite:///{path}"


def drop_scratch(url: str, *, postgres_url: str = common.POSTGRES_URL) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        _drop_database(postgres_url, parsed.database)
    else:
        Path(parsed.database).unlink(missing_ok=True)


def footprints_gpkg(n: int, *, seed: int = common.DEFAULT_SEED) -> Path:
    """A GeoPackage of the `n` programme's communities, as a surveyor would hand it over."""
    import geopandas as gpd

    path = DATA_DIR / f"communities_{n}_{seed}.gpkg"
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    generated = programme(n, seed)
    c = generated.communities
    street_codes = generated.streets["code"].to_numpy()[c["street_id"].to_numpy() - 1]
    frame = gpd.GeoDataFrame({
        "code": c["code"], "name": c["name"], "street_code": street_codes,
        "year_built": c["year_built"], "building_area_m2": c["building_area_m2"],
        "households": c["households"], "is_pilot": c["is_pilot"].astype(np.int32),
    }, geometry=gpd.GeoSeries(c["footprint"].to_numpy(), crs="EPSG:4326"))
    partial = path.with_suffix(".partial.gpkg")
    frame.to_file(partial, layer="communities", driver="GPKG", engine="pyogrio")
    partial.rename(path)
    return path


def main() -> None:
    parser = common.argument_parser("Build (or find) the generated datasets and say where.")
    parser.add_argument("--backends", default="postgis,spatialite")
    options = parser.parse_args()
    for n in options.sizes:
        for backend in options.backends.split(","):
            with common.Stopwatch() as watch:
                url = ensure(backend, n, seed=options.seed, postgres_url=options.postgres_url)
            print(f"{backend} {n:>7}: {url}  ({watch.seconds:.1f} s)")


if __name__ == "__main__":
    main()
