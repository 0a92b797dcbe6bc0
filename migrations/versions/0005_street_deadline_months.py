"""Street deadline months: each street's open items by month of planned end, kept by
triggers, so the comparison of every street counts its overdue items without the items;
covering indexes of the items' figures and the communities' years for the filtered
dashboard.

A street's items overdue on a day are its rows of the months before that day's month,
plus its open items due in that month before the day (read through the partial index
added here, a few thousand items at most). Triggers on items and communities keep the
rows exact on both backends, generated from one description below, like 0004's.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

DONE = "('completed', 'accepted')"
TABLE = "street_deadline_months"
#: Trigger names hold "summar" so that the bench loader's SQLite pattern finds them too.
SQLITE_TRIGGERS = ("renovation_items_summaries_sd_insert", "renovation_items_summaries_sd_delete",
                   "renovation_items_summaries_sd_update", "communities_summaries_sd_moved",
                   "communities_summaries_sd_delete")
PG_TRIGGERS = (("renovation_items_summaries_sd", "renovation_items"),
               ("communities_summaries_sd_moved", "communities"),
               ("communities_summaries_sd_delete", "communities"))


def _month(dialect, day):
    if dialect == "sqlite":
        return f"strftime('%Y-%m', {day})"
    return f"to_char({day}, 'YYYY-MM')"


def _is_open(p):
    return f"{p}.status NOT IN {DONE} AND {p}.planned_end IS NOT NULL"


def _street(p):
    """The item's community's street (NULL once the community's summary is gone: its
    deletion took its open items away already)."""
    return (f"(SELECT cs.street_id FROM community_summaries cs "
            f"WHERE cs.community_id = {p}.community_id)")


def _same(dialect, a, b):
    return f"{a} IS {b}" if dialect == "sqlite" else f"{a} IS NOT DISTINCT FROM {b}"


def _unchanged(dialect):
    """An update that leaves the item's row as it was (most status steps) skips it."""
    return (f"(OLD.community_id = NEW.community_id "
            f"AND {_same(dialect, 'OLD.planned_end', 'NEW.planned_end')} "
            f"AND (OLD.status IN {DONE}) = (NEW.status IN {DONE}))")


def _insert_key(dialect, select, condition):
    ignore = "INSERT OR IGNORE" if dialect == "sqlite" else "INSERT"
    tail = "" if dialect == "sqlite" else " ON CONFLICT DO NOTHING"
    return f"{ignore} INTO {TABLE} (street_id, month) {select} WHERE {condition}{tail}"


def _item_statements(dialect, p, sign, *, update=False):
    """Item `p`'s row added (+) or taken away (-)."""
    street, month = _street(p), _month(dialect, f"{p}.planned_end")
    condition = _is_open(p) + (f" AND NOT {_unchanged(dialect)}" if update else "")
    key = f"street_id = {street} AND month = {month}"
    if sign == "+":
        return [_insert_key(dialect, f"SELECT {street}, {month}",
                            f"{condition} AND {street} IS NOT NULL"),
                f"UPDATE {TABLE} SET items = items + 1 WHERE {key} AND {condition}"]
    return [f"UPDATE {TABLE} SET items = items - 1 WHERE {key} AND {condition}",
            f"DELETE FROM {TABLE} WHERE {key} AND items = 0"]


def _item_event(dialect, event):
    if event == "insert":
        return _item_statements(dialect, "NEW", "+")
    if event == "delete":
        return _item_statements(dialect, "OLD", "-")
    # Add the new before taking the old away, so an unchanged key never drops to zero.
    return (_item_statements(dialect, "NEW", "+", update=True)
            + _item_statements(dialect, "OLD", "-", update=True))


def _community_statements(dialect, p, sign):
    """A community's open items moved into (+) or out of (-) street `{p}.street_id` at once:
    when its street changes, and before it is deleted (its items' own triggers then find no
    community summary and leave the rows alone)."""
    day = _month(dialect, "r.planned_end")
    items = f" FROM renovation_items r WHERE r.community_id = {p}.id AND {_is_open('r')}"
    mine = f"street_id = {p}.street_id AND month IN (SELECT {day}{items})"
    statements = []
    if sign == "+":
        statements.append(_insert_key(dialect, f"SELECT DISTINCT {p}.street_id, {day} "
                                      "FROM renovation_items r",
                                      f"r.community_id = {p}.id AND {_is_open('r')}"))
    statements.append(f"UPDATE {TABLE} SET items = items {sign} (SELECT COUNT(*){items} "
                      f"AND {day} = {TABLE}.month) WHERE {mine}")
    if sign == "-":
        statements.append(f"DELETE FROM {TABLE} WHERE {mine} AND items = 0")
    return statements


def _community_moved(dialect):
    return _community_statements(dialect, "NEW", "+") + _community_statements(dialect, "OLD", "-")


def _sqlite_trigger(name, when, table, statements, condition=None, *, before=False):
    body = ";\n    ".join(statements)
    guard = f"\n  WHEN {condition}" if condition else ""
    timing = "BEFORE" if before else "AFTER"
    return (f"CREATE TRIGGER {name} {timing} {when} ON {table}{guard}\n  BEGIN\n    {body};\n"
            "  END")


def _sqlite_triggers():
    return [
        _sqlite_trigger("renovation_items_summaries_sd_insert", "INSERT", "renovation_items",
                        _item_event("sqlite", "insert")),
        _sqlite_trigger("renovation_items_summaries_sd_delete", "DELETE", "renovation_items",
                        _item_event("sqlite", "delete")),
        _sqlite_trigger("renovation_items_summaries_sd_update",
                        "UPDATE OF community_id, status, planned_end", "renovation_items",
                        _item_event("sqlite", "update")),
        _sqlite_trigger("communities_summaries_sd_moved", "UPDATE OF street_id", "communities",
                        _community_moved("sqlite"), "OLD.street_id <> NEW.street_id"),
        _sqlite_trigger("communities_summaries_sd_delete", "DELETE", "communities",
                        _community_statements("sqlite", "OLD", "-"), before=True),
    ]


def _block(statements):
    return "\n        ".join(f"{s};" for s in statements)


def _pg_functions():
    items = f"""IF TG_OP = 'INSERT' THEN
        {_block(_item_event("postgresql", "insert"))}
        ELSIF TG_OP = 'DELETE' THEN
        {_block(_item_event("postgresql", "delete"))}
        ELSE
        {_block(_item_event("postgresql", "update"))}
        END IF;
        RETURN NULL;"""
    # Before a delete (returning OLD lets it go on), after a move of street.
    communities = f"""IF TG_OP = 'DELETE' THEN
        {_block(_community_statements("postgresql", "OLD", "-"))}
        RETURN OLD;
        END IF;
        IF OLD.street_id IS DISTINCT FROM NEW.street_id THEN
        {_block(_community_moved("postgresql"))}
        END IF;
        RETURN NULL;"""
    return [
        f"CREATE FUNCTION renovation_items_street_deadlines() RETURNS trigger AS $$\n"
        f"    BEGIN\n        {items}\n    END $$ LANGUAGE plpgsql",
        f"CREATE FUNCTION communities_street_deadlines() RETURNS trigger AS $$\n"
        f"    BEGIN\n        {communities}\n    END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER renovation_items_summaries_sd AFTER INSERT OR DELETE OR UPDATE OF "
        "community_id, status, planned_end ON renovation_items "
        "FOR EACH ROW EXECUTE FUNCTION renovation_items_street_deadlines()",
        "CREATE TRIGGER communities_summaries_sd_moved AFTER UPDATE OF street_id "
        "ON communities FOR EACH ROW EXECUTE FUNCTION communities_street_deadlines()",
        "CREATE TRIGGER communities_summaries_sd_delete BEFORE DELETE ON communities "
        "FOR EACH ROW EXECUTE FUNCTION communities_street_deadlines()",
    ]


def upgrade():
    op.create_table(TABLE,
    sa.Column('street_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('items', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('street_id', 'month', name=op.f('pk_street_deadline_months'))
    )
    # The months before this one, every street: an index-only range.
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.create_index('ix_street_deadline_months_month', ['month', 'street_id', 'items'],
                              unique=False)
    not_done = sa.text("status NOT IN ('completed', 'accepted')")
    # This month's open items due before today, whatever their community.
    with op.batch_alter_table('renovation_items', schema=None) as batch_op:
        batch_op.create_index('ix_renovation_items_open_by_end', ['planned_end', 'community_id'],
                              unique=False, postgresql_where=not_done, sqlite_where=not_done)
    # The figures a filtered dashboard sums, by kind and status then by community, so that
    # it reads an index alone (index-only on PostgreSQL once vacuumed, covering on SQLite),
    # not the wide rows. Each serves whatever the index it replaces served.
    with op.batch_alter_table('renovation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_renovation_items_kind_status')
        batch_op.drop_index('ix_renovation_items_community_id')
        batch_op.create_index('ix_renovation_items_kind_status_figures',
                              ['kind', 'status', 'community_id', 'progress_pct', 'planned_end',
                               'actual_end', 'id'], unique=False)
        batch_op.create_index('ix_renovation_items_community_figures',
                              ['community_id', 'kind', 'status', 'progress_pct', 'planned_end',
                               'actual_end', 'id'], unique=False)
    # The communities built in some years, read from the index alone (dashboard filters).
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.create_index('ix_communities_year_built', ['year_built', 'id'], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in (_sqlite_triggers() if dialect == "sqlite" else _pg_functions()):
        op.execute(statement)
    op.execute(f"INSERT INTO {TABLE} (street_id, month, items) "
               f"SELECT c.street_id, {_month(dialect, 'r.planned_end')}, COUNT(*) "
               "FROM renovation_items r JOIN communities c ON c.id = r.community_id "
               f"WHERE {_is_open('r')} GROUP BY c.street_id, {_month(dialect, 'r.planned_end')}")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, table in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in ("renovation_items_street_deadlines", "communities_street_deadlines"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_index('ix_communities_year_built')
    with op.batch_alter_table('renovation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_renovation_items_open_by_end')
        batch_op.drop_index('ix_renovation_items_kind_status_figures')
        batch_op.drop_index('ix_renovation_items_community_figures')
        batch_op.create_index('ix_renovation_items_kind_status', ['kind', 'status'], unique=False)
        batch_op.create_index('ix_renovation_items_community_id', ['community_id'],
                              unique=False)
    op.drop_table(TABLE)
