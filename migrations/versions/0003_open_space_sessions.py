"""Open-space sessions: topics, comments with map pins (spatial index on both backends),
supports, flags, moderation, minutes and outcomes, invite codes, and residents' ratings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('community_invites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('uses >= 0 AND uses <= max_uses', name=op.f('ck_community_invites_uses')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_invites_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_community_invites_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_community_invites')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_community_invites_code_hash'))
    )
    with op.batch_alter_table('community_invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_community_invites_community_id'), ['community_id'], unique=False)

    op.create_table('item_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('comment IS NULL OR length(comment) <= 2000', name=op.f('ck_item_ratings_comment_length')),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_item_ratings_score')),
    sa.ForeignKeyConstraint(['item_id'], ['renovation_items.id'], name=op.f('fk_item_ratings_item_id_renovation_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_item_ratings_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_ratings')),
    sa.UniqueConstraint('item_id', 'user_id', name=op.f('uq_item_ratings_item_id_user_id'))
    )
    with op.batch_alter_table('item_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_item_ratings_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_item_ratings_user_id'), ['user_id'], unique=False)

    op.create_table('open_space_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('facilitator_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('upcoming', 'open', 'closed', name='session_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('attendees', sa.Integer(), nullable=True),
    sa.CheckConstraint("status != 'closed' OR closed_at IS NOT NULL", name=op.f('ck_open_space_sessions_closed_at')),
    sa.CheckConstraint('attendees IS NULL OR attendees >= 0', name=op.f('ck_open_space_sessions_attendees')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_open_space_sessions_closed_by_id_users')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_open_space_sessions_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_open_space_sessions_created_by_id_users')),
    sa.ForeignKeyConstraint(['facilitator_id'], ['users.id'], name=op.f('fk_open_space_sessions_facilitator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_open_space_sessions'))
    )
    with op.batch_alter_table('open_space_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_open_space_sessions_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_open_space_sessions_facilitator_id'), ['facilitator_id'], unique=False)
        batch_op.create_index('ix_open_space_sessions_status_starts_at', ['status', 'starts_at'], unique=False)

    op.create_table('session_outcomes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['open_space_sessions.id'], name=op.f('fk_session_outcomes_session_id_open_space_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_outcomes'))
    )
    with op.batch_alter_table('session_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_outcomes_session_id'), ['session_id'], unique=False)

    op.create_table('session_topics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['open_space_sessions.id'], name=op.f('fk_session_topics_session_id_open_space_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_topics'))
    )
    with op.batch_alter_table('session_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_topics_session_id'), ['session_id'], unique=False)

    op.create_geospatial_table('session_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('speaker_name', sa.String(length=100), nullable=True),
    sa.Column('is_official', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('visibility', sa.Enum('visible', 'pending', 'hidden', name='visibility', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(depth = 0) = (parent_id IS NULL)', name=op.f('ck_session_comments_parent_depth')),
    sa.CheckConstraint('depth BETWEEN 0 AND 2', name=op.f('ck_session_comments_depth')),
    sa.CheckConstraint('length(body) BETWEEN 1 AND 2000', name=op.f('ck_session_comments_body_length')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_session_comments_author_id_users')),
    sa.ForeignKeyConstraint(['parent_id'], ['session_comments.id'], name=op.f('fk_session_comments_parent_id_session_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['open_space_sessions.id'], name=op.f('fk_session_comments_session_id_open_space_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['session_topics.id'], name=op.f('fk_session_comments_topic_id_session_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_comments'))
    )
    with op.batch_alter_table('session_comments', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_session_comments_location', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_session_comments_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_comments_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_comments_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_comments_topic_id'), ['topic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_comments_visibility'), ['visibility'], unique=False)

    op.create_table('session_outcome_items',
    sa.Column('outcome_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('effect', sa.Enum('created', 'changed', name='effect', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['renovation_items.id'], name=op.f('fk_session_outcome_items_item_id_renovation_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outcome_id'], ['session_outcomes.id'], name=op.f('fk_session_outcome_items_outcome_id_session_outcomes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('outcome_id', 'item_id', name=op.f('pk_session_outcome_items'))
    )
    with op.batch_alter_table('session_outcome_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_outcome_items_item_id'), ['item_id'], unique=False)

    op.create_table('session_topic_items',
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['renovation_items.id'], name=op.f('fk_session_topic_items_item_id_renovation_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['session_topics.id'], name=op.f('fk_session_topic_items_topic_id_session_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('topic_id', 'item_id', name=op.f('pk_session_topic_items'))
    )
    with op.batch_alter_table('session_topic_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_topic_items_item_id'), ['item_id'], unique=False)

    op.create_table('comment_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['session_comments.id'], name=op.f('fk_comment_flags_comment_id_session_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_comment_flags_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment_flags')),
    sa.UniqueConstraint('comment_id', 'user_id', name=op.f('uq_comment_flags_comment_id_user_id'))
    )
    with op.batch_alter_table('comment_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_flags_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comment_flags_user_id'), ['user_id'], unique=False)

    op.create_table('comment_supports',
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['session_comments.id'], name=op.f('fk_comment_supports_comment_id_session_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_comment_supports_user_id_users')),
    sa.PrimaryKeyConstraint('comment_id', 'user_id', name=op.f('pk_comment_supports'))
    )
    with op.batch_alter_table('comment_supports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_supports_user_id'), ['user_id'], unique=False)

    op.create_table('moderation_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.Enum('hide', 'restore', name='decision', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['session_comments.id'], name=op.f('fk_moderation_actions_comment_id_session_comments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['moderator_id'], ['users.id'], name=op.f('fk_moderation_actions_moderator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_actions'))
    )
    with op.batch_alter_table('moderation_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_actions_comment_id'), ['comment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_actions_moderator_id'), ['moderator_id'], unique=False)

    # A comment's text is kept as written (moderation only hides it), and a moderator's
    # decision is a record: the database itself refuses to rewrite either.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("""
            CREATE TRIGGER session_comments_body_kept BEFORE UPDATE OF body ON session_comments
            WHEN NEW.body IS NOT OLD.body
            BEGIN SELECT RAISE(ABORT, 'the text of a comment is kept as written'); END""")
        op.execute("""
            CREATE TRIGGER moderation_actions_no_update BEFORE UPDATE ON moderation_actions
            BEGIN SELECT RAISE(ABORT, 'moderation_actions is append-only'); END""")
    else:
        op.execute("""
            CREATE FUNCTION session_comments_body_kept() RETURNS trigger AS $$
            BEGIN
                IF NEW.body IS DISTINCT FROM OLD.body THEN
                    RAISE EXCEPTION 'the text of a comment is kept as written';
                END IF;
                RETURN NEW;
            END $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER session_comments_body_kept BEFORE UPDATE ON session_comments
            FOR EACH ROW EXECUTE FUNCTION session_comments_body_kept()""")
        op.execute("""
            CREATE FUNCTION moderation_actions_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'moderation_actions is append-only'; END $$ LANGUAGE plpgsql""")
        op.execute("""
            CREATE TRIGGER moderation_actions_append_only BEFORE UPDATE ON moderation_actions
            FOR EACH ROW EXECUTE FUNCTION moderation_actions_append_only()""")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS session_comments_body_kept")
        op.execute("DROP TRIGGER IF EXISTS moderation_actions_no_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS session_comments_body_kept ON session_comments")
        op.execute("DROP FUNCTION IF EXISTS session_comments_body_kept()")
        op.execute("DROP TRIGGER IF EXISTS moderation_actions_append_only ON moderation_actions")
        op.execute("DROP FUNCTION IF EXISTS moderation_actions_append_only()")
    with op.batch_alter_table('moderation_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_actions_moderator_id'))
        batch_op.drop_index(batch_op.f('ix_moderation_actions_comment_id'))

    op.drop_table('moderation_actions')
    with op.batch_alter_table('comment_supports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_supports_user_id'))

    op.drop_table('comment_supports')
    with op.batch_alter_table('comment_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_flags_user_id'))
        batch_op.drop_index(batch_op.f('ix_comment_flags_comment_id'))

    op.drop_table('comment_flags')
    with op.batch_alter_table('session_topic_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_topic_items_item_id'))

    op.drop_table('session_topic_items')
    with op.batch_alter_table('session_outcome_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_outcome_items_item_id'))

    op.drop_table('session_outcome_items')
    with op.batch_alter_table('session_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_comments_visibility'))
        batch_op.drop_index(batch_op.f('ix_session_comments_topic_id'))
        batch_op.drop_index(batch_op.f('ix_session_comments_session_id'))
        batch_op.drop_index(batch_op.f('ix_session_comments_parent_id'))
        batch_op.drop_index(batch_op.f('ix_session_comments_author_id'))
        batch_op.drop_geospatial_index('idx_session_comments_location', postgresql_using='gist', column_name='location')

    op.drop_geospatial_table('session_comments')
    with op.batch_alter_table('session_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_topics_session_id'))

    op.drop_table('session_topics')
    with op.batch_alter_table('session_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_outcomes_session_id'))

    op.drop_table('session_outcomes')
    with op.batch_alter_table('open_space_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_open_space_sessions_status_starts_at')
        batch_op.drop_index(batch_op.f('ix_open_space_sessions_facilitator_id'))
        batch_op.drop_index(batch_op.f('ix_open_space_sessions_community_id'))

    op.drop_table('open_space_sessions')
    with op.batch_alter_table('item_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_item_ratings_user_id'))
        batch_op.drop_index(batch_op.f('ix_item_ratings_item_id'))

    op.drop_table('item_ratings')
    with op.batch_alter_table('community_invites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_community_invites_community_id'))

    op.drop_table('community_invites')
