"""Summary tables: the programme's sums kept exact by database triggers on every write.

The dashboard and the maps read these few rows instead of summing 1.2 million items.
Triggers (migration 0004; PL/pgSQL on PostgreSQL, SQLite triggers on SpatiaLite) update
them in the same transaction as any insert, update or delete of an item, a community or
a street, whichever path wrote it (ORM, API, imports, raw SQL). A bulk loader may
suspend the triggers (:func:`suspended`) and rebuild afterwards (:func:`rebuild`);
:func:`check` compares every table with a fresh computation.

Progress is ``weighted_progress_sum / weight_sum`` (the effort-weighted mean of
:mod:`renovation.progress`, never a mean of means); "done" is completed or accepted.

Tables and columns
------------------
item_kinds (kind, weight)
    The catalogue's weight of each kind (:data:`renovation.catalogue.KINDS`); a kind not
    listed weighs 1.
community_summaries, one row per community (items 0 when not in the programme)
    community_id; street_id, is_pilot, building_area_m2 (copies of the community's);
    items (count), weight_sum (Σ weight), weighted_progress_sum (Σ weight × progress_pct),
    done_items (completed or accepted).
street_summaries, one row per street
    street_id; communities; communities_in_programme (with items);
    communities_renovated (with items, all done); communities_without_area (in the
    programme, no building area); items, weight_sum, weighted_progress_sum, done_items
    (over all the street's items); building_area_m2 (all communities, m²),
    programme_area_m2 (in the programme), renovated_area_m2 (renovated);
    pilot_communities, pilot_communities_in_programme, pilot_items, pilot_weight_sum,
    pilot_weighted_progress_sum, pilot_done_items (the same over pilot communities only).
    percent_complete: weighted_progress_sum / weight_sum as the database divides it (a
    generated, indexed column; NULL without items), so the top and bottom streets of the
    ranking are read through its index instead of every street.
district_summaries, the whole district in DISTRICT_SHARDS rows (street id % 16)
    shard; streets, streets_in_programme (with items), and the sums of every
    street_summaries column above but percent_complete: the dashboard's totals are the
    sum of 16 rows, not of every street.
kind_summaries, one row per kind and shard that has items
    kind, shard (item id % :data:`SHARDS`); items, weight_sum, weighted_progress_sum,
    done_items; <status>_items for each status (planned_items ... suspended_items). A
    kind's figures are the sum of its shards.
completion_months, one row per month and shard with completions
    month ("2024-05"), shard; items: done items whose actual_end falls in it.
deadline_summaries, one row per kind, pilot flag and day
    kind, is_pilot (the community's), planned_end; items: items not done whose planned
    end is that day.
deadline_months, the same per month
    kind, is_pilot, month (of planned_end); items. The items overdue on a day are the
    months before its month plus the days of its month before it: a few thousand rows
    whatever the size, and the pilots' share without reading their items.
street_deadline_months, one row per street and month with open items (migration 0005)
    street_id, month (of planned_end); items: items not done whose planned end falls in
    it. A street's overdue items are its months before today's, plus its items due this
    month before today (a partial index on the open items' planned end): the comparison
    of every street without counting its 140,000 overdue items.

Why shards: every status update changes its kind's sums, and completions all fall in the
current month; with one row per kind or month, concurrent updates queued on that row's
lock. Spread over 16 rows by item id, two writers seldom meet (readers sum 16 × 25 rows).
The deadline rows are spread by kind, flag and day or month already, and an update that
does not move an item's deadline (most status steps) does not touch them.

A community's open items follow it between the pilot and non-pilot deadline rows when
its flag changes; its deletion takes them away *before* the row goes (a BEFORE DELETE
trigger), so the cascade that then deletes its items finds no community summary and
leaves the deadlines alone.

Areas are floating-point sums: exact to well under a square metre, which is how they are
shown; every count and weighted sum is an exact integer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session

from renovation.catalogue import KINDS
from renovation.status import Status

LOGGER = logging.getLogger(__name__)

#: The triggers that keep the summaries, by table, as each backend names them.
TRIGGERS = {
    "postgresql": {
        "renovation_items": ("renovation_items_summaries_insert",
                             "renovation_items_summaries_delete",
                             "renovation_items_summaries_update",
                             "renovation_items_summaries_sd"),
        "communities": ("communities_summaries_insert", "communities_summaries_update",
                        "communities_summaries_delete", "communities_summaries_sd_moved",
                        "communities_summaries_sd_delete"),
        "streets": ("streets_summaries_insert", "streets_summaries_delete"),
        "community_summaries": ("community_summaries_streets",),
        "street_summaries": ("street_summaries_district",),
    },
    "sqlite": {
        "renovation_items": ("renovation_items_summaries_insert",
                             "renovation_items_summaries_delete",
                             "renovation_items_summaries_update_same",
                             "renovation_items_summaries_update_moved",
                             "renovation_items_summaries_sd_insert",
                             "renovation_items_summaries_sd_delete",
                             "renovation_items_summaries_sd_update"),
        "communities": ("communities_summaries_insert", "communities_summaries_update",
                        "communities_summaries_pilot", "communities_summaries_delete",
                        "communities_summaries_sd_moved", "communities_summaries_sd_delete"),
        "streets": ("streets_summaries_insert", "streets_summaries_delete"),
        "community_summaries": ("community_summaries_insert", "community_summaries_delete",
                                "community_summaries_update_same",
                                "community_summaries_update_moved"),
        "street_summaries": ("street_summaries_insert", "street_summaries_delete",
                             "street_summaries_update"),
    },
}

_DONE = "('completed', 'accepted')"
#: Rows each global sum is spread over (by item id), as migration 0004 writes them.
SHARDS = 16
_WEIGHT = "COALESCE(k.weight, 1)"
_STATUS_COLUMNS = [f"{s.value}_items" for s in Status]

#: Rows the district's sums are spread over (by street id).
DISTRICT_SHARDS = 16
_STREET_COLUMNS = (
    "communities", "communities_in_programme", "communities_renovated",
    "communities_without_area", "items", "weight_sum", "weighted_progress_sum", "done_items",
    "building_area_m2", "programme_area_m2", "renovated_area_m2", "pilot_communities",
    "pilot_communities_in_programme", "pilot_items", "pilot_weight_sum",
    "pilot_weighted_progress_sum", "pilot_done_items")

#: Fresh computations, one SELECT per table; rebuild inserts them, check compares them.
#: Each gives the key column(s) first.
FRESH = {
    "community_summaries": (
        ("community_id",),
        f"""SELECT c.id, c.street_id, c.is_pilot, c.building_area_m2,
                   COALESCE(i.items, 0), COALESCE(i.weight_sum, 0),
                   COALESCE(i.weighted_progress_sum, 0), COALESCE(i.done_items, 0)
            FROM communities c LEFT JOIN (
                SELECT r.community_id, COUNT(*) AS items, SUM({_WEIGHT}) AS weight_sum,
                       SUM({_WEIGHT} * r.progress_pct) AS weighted_progress_sum,
                       SUM(CASE WHEN r.status IN {_DONE} THEN 1 ELSE 0 END) AS done_items
                FROM renovation_items r LEFT JOIN item_kinds k ON k.kind = r.kind
                GROUP BY r.community_id) i ON i.community_id = c.id""",
        ("community_id", "street_id", "is_pilot", "building_area_m2", "items", "weight_sum",
         "weighted_progress_sum", "done_items")),
    "street_summaries": (
        ("street_id",),
        """SELECT s.id, COALESCE(a.communities, 0), COALESCE(a.communities_in_programme, 0),
                  COALESCE(a.communities_renovated, 0), COALESCE(a.communities_without_area, 0),
                  COALESCE(a.items, 0), COALESCE(a.weight_sum, 0),
                  COALESCE(a.weighted_progress_sum, 0), COALESCE(a.done_items, 0),
                  COALESCE(a.building_area_m2, 0), COALESCE(a.programme_area_m2, 0),
                  COALESCE(a.renovated_area_m2, 0), COALESCE(a.pilot_communities, 0),
                  COALESCE(a.pilot_communities_in_programme, 0), COALESCE(a.pilot_items, 0),
                  COALESCE(a.pilot_weight_sum, 0), COALESCE(a.pilot_weighted_progress_sum, 0),
                  COALESCE(a.pilot_done_items, 0)
           FROM streets s LEFT JOIN (
               SELECT street_id, COUNT(*) AS communities,
                   SUM(CASE WHEN items > 0 THEN 1 ELSE 0 END) AS communities_in_programme,
                   SUM(CASE WHEN items > 0 AND done_items = items THEN 1 ELSE 0 END)
                       AS communities_renovated,
                   SUM(CASE WHEN items > 0 AND building_area_m2 IS NULL THEN 1 ELSE 0 END)
                       AS communities_without_area,
                   SUM(items) AS items, SUM(weight_sum) AS weight_sum,
                   SUM(weighted_progress_sum) AS weighted_progress_sum,
                   SUM(done_items) AS done_items,
                   SUM(COALESCE(building_area_m2, 0)) AS building_area_m2,
                   SUM(CASE WHEN items > 0 THEN COALESCE(building_area_m2, 0) ELSE 0 END)
                       AS programme_area_m2,
                   SUM(CASE WHEN items > 0 AND done_items = items
                            THEN COALESCE(building_area_m2, 0) ELSE 0 END) AS renovated_area_m2,
                   SUM(CASE WHEN is_pilot THEN 1 ELSE 0 END) AS pilot_communities,
                   SUM(CASE WHEN is_pilot AND items > 0 THEN 1 ELSE 0 END)
                       AS pilot_communities_in_programme,
                   SUM(CASE WHEN is_pilot THEN items ELSE 0 END) AS pilot_items,
                   SUM(CASE WHEN is_pilot THEN weight_sum ELSE 0 END) AS pilot_weight_sum,
                   SUM(CASE WHEN is_pilot THEN weighted_progress_sum ELSE 0 END)
                       AS pilot_weighted_progress_sum,
                   SUM(CASE WHEN is_pilot THEN done_items ELSE 0 END) AS pilot_done_items
               FROM community_summaries GROUP BY street_id) a ON a.street_id = s.id""",
        ("street_id", "communities", "communities_in_programme", "communities_renovated",
         "communities_without_area", "items", "weight_sum", "weighted_progress_sum",
         "done_items", "building_area_m2", "programme_area_m2", "renovated_area_m2",
         "pilot_communities", "pilot_communities_in_programme", "pilot_items",
         "pilot_weight_sum", "pilot_weighted_progress_sum", "pilot_done_items")),
    "district_summaries": (
        ("shard",),
        f"""SELECT street_id % {DISTRICT_SHARDS}, COUNT(*),
                   SUM(CASE WHEN items > 0 THEN 1 ELSE 0 END),
                   {", ".join(f"SUM({c})" for c in _STREET_COLUMNS)}
            FROM street_summaries GROUP BY street_id % {DISTRICT_SHARDS}""",
        ("shard", "streets", "streets_in_programme", *_STREET_COLUMNS)),
    "kind_summaries": (
        ("kind", "shard"),
        f"""SELECT r.kind, r.id % {SHARDS}, COUNT(*), SUM({_WEIGHT}),
                   SUM({_WEIGHT} * r.progress_pct),
                   SUM(CASE WHEN r.status IN {_DONE} THEN 1 ELSE 0 END),
                   {", ".join(f"SUM(CASE WHEN r.status = '{s.value}' THEN 1 ELSE 0 END)"
                              for s in Status)}
            FROM renovation_items r LEFT JOIN item_kinds k ON k.kind = r.kind
            GROUP BY r.kind, r.id % {SHARDS}""",
        ("kind", "shard", "items", "weight_sum", "weighted_progress_sum", "done_items",
         *_STATUS_COLUMNS)),
    "completion_months": (
        ("month", "shard"),
        f"""SELECT {{month:actual_end}} AS month, id % {SHARDS}, COUNT(*) FROM renovation_items
            WHERE status IN {_DONE} AND actual_end IS NOT NULL
            GROUP BY {{month:actual_end}}, id % {SHARDS}""",
        ("month", "shard", "items")),
    "deadline_summaries": (
        ("kind", "is_pilot", "planned_end"),
        f"""SELECT r.kind, c.is_pilot, r.planned_end, COUNT(*)
            FROM renovation_items r JOIN communities c ON c.id = r.community_id
            WHERE r.status NOT IN {_DONE} AND r.planned_end IS NOT NULL
            GROUP BY r.kind, c.is_pilot, r.planned_end""",
        ("kind", "is_pilot", "planned_end", "items")),
    "deadline_months": (
        ("kind", "is_pilot", "month"),
        f"""SELECT r.kind, c.is_pilot, {{month:r.planned_end}}, COUNT(*)
            FROM renovation_items r JOIN communities c ON c.id = r.community_id
            WHERE r.status NOT IN {_DONE} AND r.planned_end IS NOT NULL
            GROUP BY r.kind, c.is_pilot, {{month:r.planned_end}}""",
        ("kind", "is_pilot", "month", "items")),
    "street_deadline_months": (
        ("street_id", "month"),
        f"""SELECT c.street_id, {{month:r.planned_end}}, COUNT(*)
            FROM renovation_items r JOIN communities c ON c.id = r.community_id
            WHERE r.status NOT IN {_DONE} AND r.planned_end IS NOT NULL
            GROUP BY c.street_id, {{month:r.planned_end}}""",
        ("street_id", "month", "items")),
}
#: Dependency order: the street sums are read from the community sums, the district's
#: from the streets'.
ORDER = ("community_summaries", "street_summaries", "district_summaries", "kind_summaries",
         "completion_months", "deadline_summaries", "deadline_months", "street_deadline_months")
_FLOAT_COLUMNS = {"building_area_m2", "programme_area_m2", "renovated_area_m2"}


def month_of(dialect: str, day: str) -> str:
    """SQL: the month ("2024-05") of the date column `day`, as the triggers write it."""
    if dialect == "sqlite":
        return f"strftime('%Y-%m', {day})"  # dates are stored as ISO text
    return f"to_char({day}, 'YYYY-MM')"


def _fresh_sql(connection, table: str) -> str:
    sql = FRESH[table][1]
    for day in ("actual_end", "r.planned_end"):
        sql = sql.replace(f"{{month:{day}}}", month_of(connection.dialect.name, day))
    return sql


@contextmanager
def suspended(connection: sa.Connection, *, rebuild_after: bool = True) -> Iterator[None]:
    """Suspend the summary triggers for a bulk load on `connection`, then rebuild.

    PostgreSQL: ``ALTER TABLE ... DISABLE TRIGGER`` by name (transactional; other
    connections wait on the table lock until this transaction ends). SQLite, which cannot
    disable a trigger: drop them, keeping their SQL, and create them again afterwards.
    """
    saved = _suspend(connection)
    try:
        yield
    finally:
        _resume(connection, saved)
    if rebuild_after:
        rebuild_connection(connection)


def _suspend(connection: sa.Connection, tables=None) -> list[tuple[str, str]]:
    """Switch off the summary triggers on `tables` (default: all); return what resumes them."""
    triggers = TRIGGERS[connection.dialect.name]
    tables = tuple(triggers) if tables is None else tables
    if connection.dialect.name == "sqlite":
        wanted = [n for table in tables for n in triggers[table]]
        saved = connection.execute(sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
            f"({', '.join(repr(n) for n in wanted)})")).all()
        for name, _sql in saved:
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
        return [(name, sql) for name, sql in saved]
    for table in tables:
        for name in triggers[table]:
            connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
    return []


def _resume(connection: sa.Connection, saved: list[tuple[str, str]], tables=None) -> None:
    if connection.dialect.name == "sqlite":
        for _name, sql in saved:
            connection.exec_driver_sql(sql)
        return
    triggers = TRIGGERS["postgresql"]
    for table in tuple(triggers) if tables is None else tables:
        for name in triggers[table]:
            connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER {name}")


def rebuild(session: Session) -> None:
    """Recompute every summary table from the items, one INSERT ... SELECT per table.

    For bulk loaders that suspended the triggers; runs in the session's transaction.
    """
    rebuild_connection(session.connection())


def rebuild_connection(connection: sa.Connection) -> None:
    """:func:`rebuild` on a connection (for migrations and bulk loaders)."""
    connection.execute(sa.text("DELETE FROM item_kinds"))
    connection.execute(sa.text("INSERT INTO item_kinds (kind, weight) VALUES (:kind, :weight)"),
                       [{"kind": k.code, "weight": k.weight} for k in KINDS])
    # The street sums are written from the community sums, and the district's from the
    # streets', in one statement each below, so the triggers carrying each community's
    # change to its street and each street's to the district are left out meanwhile.
    saved = _suspend(connection, _SUMMING)
    # A migration rebuilds the tables of its time: later ones are not there yet.
    existing = set(sa.inspect(connection).get_table_names())
    try:
        for table in (t for t in ORDER if t in existing):
            columns = FRESH[table][2]
            connection.execute(sa.text(f"DELETE FROM {table}"))
            connection.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) "
                                       f"{_fresh_sql(connection, table)}"))
    finally:
        _resume(connection, saved, _SUMMING)
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ANALYZE {', '.join(t for t in ORDER if t in existing)}")


#: The summaries that sum other summaries through triggers; rebuild writes each in one
#: statement instead.
_SUMMING = ("community_summaries", "street_summaries")


def check(session: Session) -> list[str]:
    """Every difference between the summary tables and a fresh computation (none: ``[]``).

    Also reports a weight in ``item_kinds`` that differs from the catalogue.
    """
    connection = session.connection()
    differences = []
    weights = dict(connection.execute(sa.text("SELECT kind, weight FROM item_kinds")).all())
    if weights != {k.code: k.weight for k in KINDS}:
        differences.append(f"item_kinds: {weights} is not the catalogue's weights")
    for table in ORDER:
        keys, _sql, columns = FRESH[table]
        fresh = _rows(connection.execute(sa.text(_fresh_sql(connection, table))), len(keys))
        stored = _rows(connection.execute(sa.text(
            f"SELECT {', '.join(columns)} FROM {table}")), len(keys))
        for key in sorted(set(fresh) | set(stored), key=repr):
            if key not in stored:
                differences.append(f"{table}{list(key)}: missing, should be {fresh[key]}")
            elif key not in fresh:
                differences.append(f"{table}{list(key)}: should not exist, holds {stored[key]}")
            else:
                for name, got, want in zip(columns[len(keys):], stored[key], fresh[key],
                                           strict=True):
                    if not _same(name, got, want):
                        differences.append(f"{table}{list(key)}.{name}: {got!r}, "
                                           f"should be {want!r}")
    return differences


def _rows(result, n_keys: int) -> dict:
    rows = {}
    for row in result:
        key = tuple(str(v) for v in row[:n_keys])
        rows[key] = tuple(row[n_keys:])
    return rows


def _same(name: str, got, want) -> bool:
    if name in _FLOAT_COLUMNS or isinstance(got, float) or isinstance(want, float):
        if got is None or want is None:
            return got is want
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-6)
    if isinstance(want, bool) or isinstance(got, bool):
        return bool(got) == bool(want)
    return got == want
