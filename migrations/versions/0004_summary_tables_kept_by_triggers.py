"""Summary tables kept exact by triggers: communities, streets, kinds, completion months,
deadlines; the kinds' weights in the database; partial indexes for overdue and completions.

Every write to items, communities or streets, whatever path it takes (ORM, raw SQL, a
spreadsheet or GIS import), updates the summaries in the same transaction, by triggers
on both backends (PL/pgSQL on PostgreSQL, SQLite triggers on SpatiaLite). The trigger
SQL is generated below from one description of each sum, so the two backends cannot
drift apart. What the columns hold: renovation.summaries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

#: The catalogue's weights when this migration was written (renovation.catalogue.KINDS);
#: a test checks that the database still equals the catalogue.
WEIGHTS = {
    "water_supply": 4, "drainage": 4, "power": 3, "overhead_wires": 2, "gas": 3, "heating": 3,
    "road": 2, "fire_safety": 2, "access_control": 1, "garbage_sorting": 1, "stairwell": 1,
    "roof_facade": 3, "lift_retrofit": 5, "parking": 2, "ev_charging": 1, "barrier_free": 2,
    "public_space": 2, "greening_lighting": 1, "energy_retrofit": 4, "illegal_structures": 2,
    "service_centre": 3, "health_station": 3, "elderly_care": 3, "childcare": 3,
    "convenience": 2,
}
STATUSES = ("planned", "consulting", "design", "construction", "completed", "accepted",
            "suspended")
DONE = "('completed', 'accepted')"
#: A street's share of work done (unrounded percent), computed by the database in IEEE
#: doubles as Python would: renovation.dashboard ranks the streets by it, through its index.
STREET_RATIO = ("(CASE WHEN items > 0 THEN CAST(weighted_progress_sum AS DOUBLE PRECISION) "
                "/ weight_sum END)")
#: Rows the district's sums are spread over, by street id.
DISTRICT_SHARDS = 16
#: Rows each global sum (kinds, completion months) is spread over, by item id.
SHARDS = 16

ITEM_TRIGGERS = ("renovation_items_summaries_insert", "renovation_items_summaries_delete",
                 "renovation_items_summaries_update_same",
                 "renovation_items_summaries_update_moved")
COMMUNITY_TRIGGERS = ("communities_summaries_insert", "communities_summaries_update",
                      "communities_summaries_pilot", "communities_summaries_delete")
STREET_TRIGGERS = ("streets_summaries_insert", "streets_summaries_delete")
DISTRICT_TRIGGERS = ("street_summaries_insert", "street_summaries_delete",
                     "street_summaries_update")
SUMMARY_TRIGGERS = ("community_summaries_insert", "community_summaries_delete",
                    "community_summaries_update_same", "community_summaries_update_moved")


def _count(name):
    return sa.Column(name, sa.Integer(), server_default='0', nullable=False)


def _big(name):
    return sa.Column(name, sa.BigInteger(), server_default='0', nullable=False)


def _area(name):
    return sa.Column(name, sa.Double(), server_default='0', nullable=False)


# --- What each sum adds, per row of the table below it ------------------------------------
# Each expression is written for one row, "{p}" standing for OLD or NEW.

def _weight(p):
    return f"COALESCE((SELECT weight FROM item_kinds WHERE kind = {p}.kind), 1)"


def _is_done(p):
    return f"(CASE WHEN {p}.status IN {DONE} THEN 1 ELSE 0 END)"


def _item_sums(p):
    """What an item adds to its community's and its kind's sums."""
    return {"items": "1", "weight_sum": _weight(p),
            "weighted_progress_sum": f"{_weight(p)} * {p}.progress_pct",
            "done_items": _is_done(p)}


def _status_counts(p):
    return {f"{s}_items": f"(CASE WHEN {p}.status = '{s}' THEN 1 ELSE 0 END)" for s in STATUSES}


def _community_sums(p):
    """What a community summary adds to its street's sums (integers)."""
    in_programme = f"(CASE WHEN {p}.items > 0 THEN 1 ELSE 0 END)"
    renovated = f"(CASE WHEN {p}.items > 0 AND {p}.done_items = {p}.items THEN 1 ELSE 0 END)"
    pilot = f"(CASE WHEN {p}.is_pilot THEN 1 ELSE 0 END)"
    return {
        "communities": "1",
        "communities_in_programme": in_programme,
        "communities_renovated": renovated,
        "communities_without_area":
            f"(CASE WHEN {p}.items > 0 AND {p}.building_area_m2 IS NULL THEN 1 ELSE 0 END)",
        "items": f"{p}.items", "weight_sum": f"{p}.weight_sum",
        "weighted_progress_sum": f"{p}.weighted_progress_sum", "done_items": f"{p}.done_items",
        "pilot_communities": pilot,
        "pilot_communities_in_programme": f"{pilot} * {in_programme}",
        "pilot_items": f"{pilot} * {p}.items", "pilot_weight_sum": f"{pilot} * {p}.weight_sum",
        "pilot_weighted_progress_sum": f"{pilot} * {p}.weighted_progress_sum",
        "pilot_done_items": f"{pilot} * {p}.done_items",
    }


def _community_areas(p):
    """What a community summary adds to its street's areas (floating point)."""
    area = f"COALESCE({p}.building_area_m2, 0)"
    return {"building_area_m2": area,
            "programme_area_m2": f"(CASE WHEN {p}.items > 0 THEN {area} ELSE 0 END)",
            "renovated_area_m2":
                f"(CASE WHEN {p}.items > 0 AND {p}.done_items = {p}.items THEN {area} ELSE 0 END)"}


def _add(sums, sign):
    return ", ".join(f"{c} = {c} {sign} {e}" for c, e in sums.items())


def _delta(new, old, *, exact_when_equal=False):
    """col = col + (new - old); areas only move when they differ, so that a status update
    never adds and subtracts the same floating-point area (which would drift)."""
    parts = []
    for column in new:
        if exact_when_equal:
            parts.append(f"{column} = {column} + CASE WHEN {new[column]} = {old[column]} THEN 0 "
                         f"ELSE {new[column]} - {old[column]} END")
        else:
            parts.append(f"{column} = {column} + ({new[column]}) - ({old[column]})")
    return ", ".join(parts)


# --- Statements, shared by both backends ---------------------------------------------------

def _insert_key(dialect, table, columns, values, condition, *, distinct=False, source=""):
    ignore = "INSERT OR IGNORE" if dialect == "sqlite" else "INSERT"
    tail = "" if dialect == "sqlite" else " ON CONFLICT DO NOTHING"
    select = "SELECT DISTINCT" if distinct else "SELECT"
    return (f"{ignore} INTO {table} ({', '.join(columns)}) {select} {', '.join(values)}"
            f"{source} WHERE {condition}{tail}")


def _month(dialect, day):
    if dialect == "sqlite":
        return f"strftime('%Y-%m', {day})"
    return f"to_char({day}, 'YYYY-MM')"


def _shard(p):
    """Spreads a global sum over SHARDS rows, so concurrent writers rarely wait on one row."""
    return f"({p}.id % {SHARDS})"


def _pilot(p):
    """The item's community's pilot flag (NULL once the community's summary is gone: its
    deletion took its items' deadlines away already)."""
    return (f"(SELECT cs.is_pilot FROM community_summaries cs "
            f"WHERE cs.community_id = {p}.community_id)")


def _is_open(p):
    return f"{p}.status NOT IN {DONE} AND {p}.planned_end IS NOT NULL"


def _same(dialect, a, b):
    return f"{a} IS {b}" if dialect == "sqlite" else f"{a} IS NOT DISTINCT FROM {b}"


def _deadline_unchanged(dialect):
    """An update that leaves an item's deadline rows as they were skips them (no lock)."""
    return (f"(OLD.kind = NEW.kind AND OLD.community_id = NEW.community_id "
            f"AND {_same(dialect, 'OLD.planned_end', 'NEW.planned_end')} "
            f"AND (OLD.status IN {DONE}) = (NEW.status IN {DONE}))")


def _deadline_keys(dialect, p):
    """(table, key columns, key values) of the day and month deadline rows of item `p`."""
    return [("deadline_summaries", ["kind", "is_pilot", "planned_end"],
             [f"{p}.kind", _pilot(p), f"{p}.planned_end"]),
            ("deadline_months", ["kind", "is_pilot", "month"],
             [f"{p}.kind", _pilot(p), _month(dialect, f"{p}.planned_end")])]


def _keyed_item_statements(dialect, p, sign, *, update=False):
    """Kind, completion month and deadline rows of one item, added (+) or taken away (-).

    Kinds and completion months are global, so they are sharded by item id; deadline rows
    are spread by kind, pilot and day or month already, and an update that does not move
    the item's deadline (most status steps) does not touch them.
    """
    completed = f"{p}.status IN {DONE} AND {p}.actual_end IS NOT NULL"
    month = _month(dialect, f"{p}.actual_end")
    open_deadline = _is_open(p)
    if update:
        open_deadline += f" AND NOT {_deadline_unchanged(dialect)}"
    kind_sums = {**_item_sums(p), **_status_counts(p)}
    shard = _shard(p)
    statements = []
    if sign == "+":
        statements += [
            _insert_key(dialect, "kind_summaries", ["kind", "shard"], [f"{p}.kind", shard],
                        "1 = 1"),
            _insert_key(dialect, "completion_months", ["month", "shard"], [month, shard],
                        completed)]
        statements += [_insert_key(dialect, table, columns, values,
                                   f"{open_deadline} AND {values[1]} IS NOT NULL")
                       for table, columns, values in _deadline_keys(dialect, p)]
    statements += [
        f"UPDATE kind_summaries SET {_add(kind_sums, sign)} "
        f"WHERE kind = {p}.kind AND shard = {shard}",
        f"UPDATE completion_months SET items = items {sign} 1 "
        f"WHERE month = {month} AND shard = {shard} AND {completed}"]
    statements += [f"UPDATE {table} SET items = items {sign} 1 WHERE "
                   + " AND ".join(f"{c} = {v}" for c, v in zip(columns, values, strict=True))
                   + f" AND {open_deadline}"
                   for table, columns, values in _deadline_keys(dialect, p)]
    if sign == "-":
        statements += [
            f"DELETE FROM kind_summaries WHERE kind = {p}.kind AND shard = {shard} "
            "AND items = 0",
            f"DELETE FROM completion_months WHERE month = {month} AND shard = {shard} "
            "AND items = 0"]
        statements += [f"DELETE FROM {table} WHERE "
                       + " AND ".join(f"{c} = {v}" for c, v in zip(columns, values, strict=True))
                       + " AND items = 0"
                       for table, columns, values in _deadline_keys(dialect, p)]
    return statements


def _community_deadline_statements(dialect, p, sign):
    """A community's open items' deadline rows, moved in (+) or out (-) of its pilot flag
    `{p}.is_pilot` at once: when the flag changes, and before the community is deleted
    (its items' own triggers then find no community summary and leave deadlines alone)."""
    items = (f" FROM renovation_items r WHERE r.community_id = {p}.id AND {_is_open('r')}")
    statements = []
    for table, key, day in (("deadline_summaries", "planned_end", "r.planned_end"),
                            ("deadline_months", "month", _month(dialect, "r.planned_end"))):
        mine = f"(kind, {key}) IN (SELECT r.kind, {day}{items})"
        if sign == "+":
            statements.append(_insert_key(dialect, table, ["kind", "is_pilot", key],
                                          ["r.kind", f"{p}.is_pilot", day],
                                          f"r.community_id = {p}.id AND {_is_open('r')}",
                                          distinct=True, source=" FROM renovation_items r"))
        statements.append(
            f"UPDATE {table} SET items = items {sign} (SELECT COUNT(*){items} "
            f"AND r.kind = {table}.kind AND {day} = {table}.{key}) "
            f"WHERE is_pilot = {p}.is_pilot AND {mine}")
        if sign == "-":
            statements.append(f"DELETE FROM {table} WHERE is_pilot = {p}.is_pilot "
                              f"AND items = 0 AND {mine}")
    return statements


def _item_statements(dialect, event):
    """What an insert, a delete or an update of an item does to the summaries."""
    if event == "insert":
        return ([f"UPDATE community_summaries SET {_add(_item_sums('NEW'), '+')} "
                 "WHERE community_id = NEW.community_id"]
                + _keyed_item_statements(dialect, "NEW", "+"))
    if event == "delete":
        return ([f"UPDATE community_summaries SET {_add(_item_sums('OLD'), '-')} "
                 "WHERE community_id = OLD.community_id"]
                + _keyed_item_statements(dialect, "OLD", "-"))
    if event == "update_same":
        community = [f"UPDATE community_summaries SET "
                     f"{_delta(_item_sums('NEW'), _item_sums('OLD'))} "
                     "WHERE community_id = NEW.community_id"]
    else:
        community = [f"UPDATE community_summaries SET {_add(_item_sums('NEW'), '+')} "
                     "WHERE community_id = NEW.community_id",
                     f"UPDATE community_summaries SET {_add(_item_sums('OLD'), '-')} "
                     "WHERE community_id = OLD.community_id"]
    # Add the new before taking the old away, so an unchanged key never drops to zero.
    return (community + _keyed_item_statements(dialect, "NEW", "+", update=True)
            + _keyed_item_statements(dialect, "OLD", "-", update=True))


def _summary_statements(event):
    """What a community summary's insert, delete or update does to its street's sums."""
    if event == "insert":
        sets = f"{_add(_community_sums('NEW'), '+')}, {_add(_community_areas('NEW'), '+')}"
        return [f"UPDATE street_summaries SET {sets} WHERE street_id = NEW.street_id"]
    if event == "delete":
        sets = f"{_add(_community_sums('OLD'), '-')}, {_add(_community_areas('OLD'), '-')}"
        return [f"UPDATE street_summaries SET {sets} WHERE street_id = OLD.street_id"]
    if event == "update_same":
        areas = _delta(_community_areas('NEW'), _community_areas('OLD'), exact_when_equal=True)
        sets = f"{_delta(_community_sums('NEW'), _community_sums('OLD'))}, {areas}"
        return [f"UPDATE street_summaries SET {sets} WHERE street_id = NEW.street_id"]
    return _summary_statements("insert") + _summary_statements("delete")


def _street_sums(p):
    """What a street summary adds to the district's sums (integers; areas below)."""
    return {"streets": "1",
            "streets_in_programme": f"(CASE WHEN {p}.items > 0 THEN 1 ELSE 0 END)",
            **{c: f"{p}.{c}" for c in _community_sums(p)}}


def _street_areas(p):
    return {c: f"{p}.{c}" for c in _community_areas(p)}


def _district_statements(dialect, event):
    """What a street summary's insert, delete or update does to the district's sums, kept
    in DISTRICT_SHARDS rows (by street id) so that writers in different streets seldom
    meet."""
    shard = f"({{p}}.street_id % {DISTRICT_SHARDS})"
    if event == "insert":
        sets = f"{_add(_street_sums('NEW'), '+')}, {_add(_street_areas('NEW'), '+')}"
        return [_insert_key(dialect, "district_summaries", ["shard"],
                            [shard.format(p="NEW")], "1 = 1"),
                f"UPDATE district_summaries SET {sets} WHERE shard = {shard.format(p='NEW')}"]
    if event == "delete":
        sets = f"{_add(_street_sums('OLD'), '-')}, {_add(_street_areas('OLD'), '-')}"
        return [f"UPDATE district_summaries SET {sets} WHERE shard = {shard.format(p='OLD')}",
                f"DELETE FROM district_summaries WHERE shard = {shard.format(p='OLD')} "
                "AND streets = 0"]
    areas = _delta(_street_areas('NEW'), _street_areas('OLD'), exact_when_equal=True)
    sets = f"{_delta(_street_sums('NEW'), _street_sums('OLD'))}, {areas}"
    return [f"UPDATE district_summaries SET {sets} WHERE shard = {shard.format(p='NEW')}"]


COMMUNITY_INSERT = ("INSERT INTO community_summaries (community_id, street_id, is_pilot, "
                    "building_area_m2) VALUES (NEW.id, NEW.street_id, NEW.is_pilot, "
                    "NEW.building_area_m2)")
COMMUNITY_UPDATE = ("UPDATE community_summaries SET street_id = NEW.street_id, "
                    "is_pilot = NEW.is_pilot, building_area_m2 = NEW.building_area_m2 "
                    "WHERE community_id = OLD.id")
COMMUNITY_DELETE = "DELETE FROM community_summaries WHERE community_id = OLD.id"
STREET_INSERT = "INSERT INTO street_summaries (street_id) VALUES (NEW.id)"
STREET_DELETE = "DELETE FROM street_summaries WHERE street_id = OLD.id"
ITEM_COLUMNS = "community_id, kind, status, progress_pct, actual_end, planned_end"
COMMUNITY_COLUMNS = "street_id, is_pilot, building_area_m2"


# --- SQLite: one trigger per event, WHEN telling the cases apart ----------------------------

def _sqlite_trigger(name, when, table, statements, condition=None, *, before=False):
    body = ";\n    ".join(statements)
    guard = f"\n  WHEN {condition}" if condition else ""
    timing = "BEFORE" if before else "AFTER"
    return (f"CREATE TRIGGER {name} {timing} {when} ON {table}{guard}\n  BEGIN\n    {body};\n"
            "  END")


def _sqlite_triggers():
    item_update = f"UPDATE OF {ITEM_COLUMNS}"
    return [
        _sqlite_trigger("renovation_items_summaries_insert", "INSERT", "renovation_items",
                        _item_statements("sqlite", "insert")),
        _sqlite_trigger("renovation_items_summaries_delete", "DELETE", "renovation_items",
                        _item_statements("sqlite", "delete")),
        _sqlite_trigger("renovation_items_summaries_update_same", item_update,
                        "renovation_items", _item_statements("sqlite", "update_same"),
                        "OLD.community_id = NEW.community_id"),
        _sqlite_trigger("renovation_items_summaries_update_moved", item_update,
                        "renovation_items", _item_statements("sqlite", "update_moved"),
                        "OLD.community_id <> NEW.community_id"),
        _sqlite_trigger("communities_summaries_insert", "INSERT", "communities",
                        [COMMUNITY_INSERT]),
        _sqlite_trigger("communities_summaries_update", f"UPDATE OF {COMMUNITY_COLUMNS}",
                        "communities", [COMMUNITY_UPDATE]),
        _sqlite_trigger("communities_summaries_pilot", "UPDATE OF is_pilot", "communities",
                        _community_deadline_statements("sqlite", "OLD", "-")
                        + _community_deadline_statements("sqlite", "NEW", "+"),
                        "OLD.is_pilot IS NOT NEW.is_pilot"),
        # Before: the items' deadlines go while the community's items are still there.
        _sqlite_trigger("communities_summaries_delete", "DELETE", "communities",
                        _community_deadline_statements("sqlite", "OLD", "-")
                        + [COMMUNITY_DELETE], before=True),
        _sqlite_trigger("streets_summaries_insert", "INSERT", "streets", [STREET_INSERT]),
        _sqlite_trigger("streets_summaries_delete", "DELETE", "streets", [STREET_DELETE]),
        _sqlite_trigger("street_summaries_insert", "INSERT", "street_summaries",
                        _district_statements("sqlite", "insert")),
        _sqlite_trigger("street_summaries_delete", "DELETE", "street_summaries",
                        _district_statements("sqlite", "delete")),
        _sqlite_trigger("street_summaries_update", "UPDATE", "street_summaries",
                        _district_statements("sqlite", "update")),
        _sqlite_trigger("community_summaries_insert", "INSERT", "community_summaries",
                        _summary_statements("insert")),
        _sqlite_trigger("community_summaries_delete", "DELETE", "community_summaries",
                        _summary_statements("delete")),
        _sqlite_trigger("community_summaries_update_same", "UPDATE", "community_summaries",
                        _summary_statements("update_same"), "OLD.street_id = NEW.street_id"),
        _sqlite_trigger("community_summaries_update_moved", "UPDATE", "community_summaries",
                        _summary_statements("update_moved"), "OLD.street_id <> NEW.street_id"),
    ]


# --- PostgreSQL: one function per table, IF telling the cases apart -------------------------

def _block(statements):
    return "\n        ".join(f"{s};" for s in statements)


def _pg_function(name, body, returns="NULL"):
    return (f"CREATE FUNCTION {name}() RETURNS trigger AS $$\n    BEGIN\n        {body}\n"
            f"        RETURN {returns};\n    END $$ LANGUAGE plpgsql")


def _pg_functions():
    items = f"""IF TG_OP = 'INSERT' THEN
        {_block(_item_statements("postgresql", "insert"))}
        ELSIF TG_OP = 'DELETE' THEN
        {_block(_item_statements("postgresql", "delete"))}
        ELSIF OLD.community_id = NEW.community_id THEN
        {_block(_item_statements("postgresql", "update_same"))}
        ELSE
        {_block(_item_statements("postgresql", "update_moved"))}
        END IF;"""
    summaries = f"""IF TG_OP = 'INSERT' THEN
        {_block(_summary_statements("insert"))}
        ELSIF TG_OP = 'DELETE' THEN
        {_block(_summary_statements("delete"))}
        ELSIF OLD.street_id = NEW.street_id THEN
        {_block(_summary_statements("update_same"))}
        ELSE
        {_block(_summary_statements("update_moved"))}
        END IF;"""
    communities = f"""IF TG_OP = 'INSERT' THEN {COMMUNITY_INSERT};
        ELSE {COMMUNITY_UPDATE};
        IF OLD.is_pilot IS DISTINCT FROM NEW.is_pilot THEN
        {_block(_community_deadline_statements("postgresql", "OLD", "-")
                + _community_deadline_statements("postgresql", "NEW", "+"))}
        END IF;
        END IF;"""
    # Before: the items' deadlines go while the community's items are still there.
    community_deleted = _block(_community_deadline_statements("postgresql", "OLD", "-")
                               + [COMMUNITY_DELETE])
    district = f"""IF TG_OP = 'INSERT' THEN
        {_block(_district_statements("postgresql", "insert"))}
        ELSIF TG_OP = 'DELETE' THEN
        {_block(_district_statements("postgresql", "delete"))}
        ELSE
        {_block(_district_statements("postgresql", "update"))}
        END IF;"""
    streets = f"""IF TG_OP = 'INSERT' THEN {STREET_INSERT};
        ELSE {STREET_DELETE};
        END IF;"""
    return [
        _pg_function("renovation_items_summaries", items),
        _pg_function("community_summaries_streets", summaries),
        _pg_function("communities_summaries", communities),
        _pg_function("communities_summaries_deleted", community_deleted, returns="OLD"),
        _pg_function("streets_summaries", streets),
        _pg_function("street_summaries_district", district),
        # The same trigger names as SQLite's, so a bulk loader disables them by name.
        "CREATE TRIGGER renovation_items_summaries_insert AFTER INSERT ON renovation_items "
        "FOR EACH ROW EXECUTE FUNCTION renovation_items_summaries()",
        "CREATE TRIGGER renovation_items_summaries_delete AFTER DELETE ON renovation_items "
        "FOR EACH ROW EXECUTE FUNCTION renovation_items_summaries()",
        f"CREATE TRIGGER renovation_items_summaries_update AFTER UPDATE OF {ITEM_COLUMNS} "
        "ON renovation_items FOR EACH ROW EXECUTE FUNCTION renovation_items_summaries()",
        "CREATE TRIGGER communities_summaries_insert AFTER INSERT ON communities "
        "FOR EACH ROW EXECUTE FUNCTION communities_summaries()",
        f"CREATE TRIGGER communities_summaries_update AFTER UPDATE OF {COMMUNITY_COLUMNS} "
        "ON communities FOR EACH ROW EXECUTE FUNCTION communities_summaries()",
        "CREATE TRIGGER communities_summaries_delete BEFORE DELETE ON communities "
        "FOR EACH ROW EXECUTE FUNCTION communities_summaries_deleted()",
        "CREATE TRIGGER streets_summaries_insert AFTER INSERT ON streets "
        "FOR EACH ROW EXECUTE FUNCTION streets_summaries()",
        "CREATE TRIGGER streets_summaries_delete AFTER DELETE ON streets "
        "FOR EACH ROW EXECUTE FUNCTION streets_summaries()",
        "CREATE TRIGGER street_summaries_district AFTER INSERT OR UPDATE OR DELETE "
        "ON street_summaries FOR EACH ROW EXECUTE FUNCTION street_summaries_district()",
        "CREATE TRIGGER community_summaries_streets AFTER INSERT OR UPDATE OR DELETE "
        "ON community_summaries FOR EACH ROW EXECUTE FUNCTION community_summaries_streets()",
    ]


def upgrade():
    op.create_table('item_kinds',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_item_kinds'))
    )
    op.create_table('community_summaries',
    sa.Column('community_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('is_pilot', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('building_area_m2', sa.Double(), nullable=True),
    _count('items'), _big('weight_sum'), _big('weighted_progress_sum'), _count('done_items'),
    sa.PrimaryKeyConstraint('community_id', name=op.f('pk_community_summaries'))
    )
    with op.batch_alter_table('community_summaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_community_summaries_street_id'), ['street_id'],
                              unique=False)

    op.create_table('street_summaries',
    sa.Column('street_id', sa.Integer(), autoincrement=False, nullable=False),
    _count('communities'), _count('communities_in_programme'), _count('communities_renovated'),
    _count('communities_without_area'), _count('items'), _big('weight_sum'),
    _big('weighted_progress_sum'), _count('done_items'), _area('building_area_m2'),
    _area('programme_area_m2'), _area('renovated_area_m2'), _count('pilot_communities'),
    _count('pilot_communities_in_programme'), _count('pilot_items'), _big('pilot_weight_sum'),
    _big('pilot_weighted_progress_sum'), _count('pilot_done_items'),
    sa.Column('percent_complete', sa.Double(), sa.Computed(STREET_RATIO, persisted=True),
              nullable=True),
    sa.PrimaryKeyConstraint('street_id', name=op.f('pk_street_summaries'))
    )
    # The streets ranked by share of work done: the top and bottom ones read from an index.
    with op.batch_alter_table('street_summaries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_street_summaries_percent_complete'),
                              ['percent_complete'], unique=False)
    op.create_table('district_summaries',
    sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
    _count('streets'), _count('streets_in_programme'),
    _count('communities'), _count('communities_in_programme'), _count('communities_renovated'),
    _count('communities_without_area'), _count('items'), _big('weight_sum'),
    _big('weighted_progress_sum'), _count('done_items'), _area('building_area_m2'),
    _area('programme_area_m2'), _area('renovated_area_m2'), _count('pilot_communities'),
    _count('pilot_communities_in_programme'), _count('pilot_items'), _big('pilot_weight_sum'),
    _big('pilot_weighted_progress_sum'), _count('pilot_done_items'),
    sa.PrimaryKeyConstraint('shard', name=op.f('pk_district_summaries'))
    )
    op.create_table('kind_summaries',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
    _count('items'), _big('weight_sum'), _big('weighted_progress_sum'), _count('done_items'),
    *[_count(f'{s}_items') for s in STATUSES],
    sa.PrimaryKeyConstraint('kind', 'shard', name=op.f('pk_kind_summaries'))
    )
    op.create_table('completion_months',
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
    _count('items'),
    sa.PrimaryKeyConstraint('month', 'shard', name=op.f('pk_completion_months'))
    )
    op.create_table('deadline_summaries',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('is_pilot', sa.Boolean(), nullable=False),
    sa.Column('planned_end', sa.Date(), nullable=False),
    _count('items'),
    sa.PrimaryKeyConstraint('kind', 'is_pilot', 'planned_end',
                            name=op.f('pk_deadline_summaries'))
    )
    op.create_table('deadline_months',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('is_pilot', sa.Boolean(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    _count('items'),
    sa.PrimaryKeyConstraint('kind', 'is_pilot', 'month', name=op.f('pk_deadline_months'))
    )
    # The overdue items of a day: the months before it, then the days of its month.
    with op.batch_alter_table('deadline_summaries', schema=None) as batch_op:
        batch_op.create_index('ix_deadline_summaries_planned_end', ['planned_end'],
                              unique=False)
    with op.batch_alter_table('deadline_months', schema=None) as batch_op:
        batch_op.create_index('ix_deadline_months_month', ['month'], unique=False)
    not_done = sa.text("status NOT IN ('completed', 'accepted')")
    done_without_end = sa.text("actual_end IS NULL AND status IN ('completed', 'accepted')")
    with op.batch_alter_table('renovation_items', schema=None) as batch_op:
        batch_op.create_index('ix_renovation_items_open_deadlines',
                              ['community_id', 'planned_end'], unique=False,
                              postgresql_where=not_done, sqlite_where=not_done)
        batch_op.create_index('ix_renovation_items_done_without_end', ['id'], unique=False,
                              postgresql_where=done_without_end, sqlite_where=done_without_end)

    op.bulk_insert(sa.table('item_kinds', sa.column('kind'), sa.column('weight')),
                   [{"kind": k, "weight": w} for k, w in WEIGHTS.items()])
    dialect = op.get_bind().dialect.name
    for statement in (_sqlite_triggers() if dialect == "sqlite" else _pg_functions()):
        op.execute(statement)
    # The data already there, summed once (renovation.summaries.rebuild does the same).
    from renovation import summaries
    summaries.rebuild_connection(op.get_bind())


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in (ITEM_TRIGGERS + COMMUNITY_TRIGGERS + STREET_TRIGGERS + SUMMARY_TRIGGERS
                     + DISTRICT_TRIGGERS):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, table in [("renovation_items_summaries_insert", "renovation_items"),
                            ("renovation_items_summaries_delete", "renovation_items"),
                            ("renovation_items_summaries_update", "renovation_items"),
                            ("communities_summaries_insert", "communities"),
                            ("communities_summaries_update", "communities"),
                            ("communities_summaries_pilot", "communities"),
                            ("communities_summaries_delete", "communities"),
                            ("streets_summaries_insert", "streets"),
                            ("streets_summaries_delete", "streets"),
                            ("community_summaries_streets", "community_summaries"),
                            ("street_summaries_district", "street_summaries")]:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in ("renovation_items_summaries", "community_summaries_streets",
                         "communities_summaries", "communities_summaries_deleted",
                         "streets_summaries", "street_summaries_district"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    with op.batch_alter_table('renovation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_renovation_items_done_without_end')
        batch_op.drop_index('ix_renovation_items_open_deadlines')
    op.drop_table('deadline_months')
    op.drop_table('deadline_summaries')
    op.drop_table('completion_months')
    op.drop_table('kind_summaries')
    op.drop_table('district_summaries')
    op.drop_table('street_summaries')
    op.drop_table('community_summaries')
    op.drop_table('item_kinds')
