"""Accounts, API tokens, the append-only history of item changes, and their photos.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import geoalchemy2


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('admin', 'planner', 'official', 'moderator', 'resident', name='role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('session_epoch', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role != 'official' OR street_id IS NOT NULL", name=op.f('ck_users_official_street')),
    sa.CheckConstraint("role != 'resident' OR community_id IS NOT NULL", name=op.f('ck_users_resident_community')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_users_community_id_communities')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_users_street_id_streets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_street_id'), ['street_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('item_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('status_before', sa.Enum('planned', 'consulting', 'design', 'construction', 'completed', 'accepted', 'suspended', name='status_before', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status_after', sa.Enum('planned', 'consulting', 'design', 'construction', 'completed', 'accepted', 'suspended', name='status_after', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('progress_before', sa.Integer(), nullable=False),
    sa.Column('progress_after', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('version_after', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.CheckConstraint('progress_after BETWEEN 0 AND 100', name=op.f('ck_item_changes_progress_after')),
    sa.CheckConstraint('progress_before BETWEEN 0 AND 100', name=op.f('ck_item_changes_progress_before')),
    sa.ForeignKeyConstraint(['item_id'], ['renovation_items.id'], name=op.f('fk_item_changes_item_id_renovation_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_item_changes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_changes'))
    )
    with op.batch_alter_table('item_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_changes_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_changes_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_changes_user_id'), ['user_id'], unique=False)

    op.create_table('change_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['item_changes.id'], name=op.f('fk_change_photos_change_id_item_changes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_photos')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_change_photos_stored_name'))
    )
    with op.batch_alter_table('change_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_change_photos_change_id'), ['change_id'], unique=False)

    # The history is a record: the database itself refuses to rewrite or erase it.
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER item_changes_no_{action.lower()} BEFORE {action} ON item_changes
                BEGIN SELECT RAISE(ABORT, 'item_changes is append-only'); END""")
    else:
        op.execute("""
            CREATE FUNCTION item_changes_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'item_changes is append-only'; END $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER item_changes_append_only BEFORE UPDATE OR DELETE ON item_changes
            FOR EACH ROW EXECUTE FUNCTION item_changes_append_only()""")



def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS item_changes_no_update")
        op.execute("DROP TRIGGER IF EXISTS item_changes_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS item_changes_append_only ON item_changes")
        op.execute("DROP FUNCTION IF EXISTS item_changes_append_only()")
    with op.batch_alter_table('change_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_change_photos_change_id'))

    op.drop_table('change_photos')
    with op.batch_alter_table('item_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_changes_user_id'))
        batch_op.drop_index(batch_op.f('ix_item_changes_item_id'))
        batch_op.drop_index(batch_op.f('ix_item_changes_changed_at'))

    op.drop_table('item_changes')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_street_id'))

    op.drop_table('users')
