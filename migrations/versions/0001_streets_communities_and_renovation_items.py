"""Streets, communities and renovation items, with spatial indexes on both backends.

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_geospatial_table('streets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name_zh', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=False),
    sa.Column('boundary', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('label_point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('data_source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_streets')),
    sa.UniqueConstraint('code', name=op.f('uq_streets_code'))
    )
    with op.batch_alter_table('streets', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_streets_boundary', ['boundary'], unique=False, postgresql_using='gist', postgresql_ops={})

    op.create_geospatial_table('communities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('street_id', sa.Integer(), nullable=False),
    sa.Column('footprint', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('year_built', sa.Integer(), nullable=True),
    sa.Column('building_area_m2', sa.Double(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('building_count', sa.Integer(), nullable=True),
    sa.Column('is_pilot', sa.Boolean(), nullable=False),
    sa.Column('is_district_pilot', sa.Boolean(), nullable=False),
    sa.Column('data_source', sa.String(length=20), nullable=False),
    sa.Column('source_note', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('building_area_m2 IS NULL OR building_area_m2 >= 0', name=op.f('ck_communities_area')),
    sa.CheckConstraint('building_count IS NULL OR building_count >= 0', name=op.f('ck_communities_buildings')),
    sa.CheckConstraint('households IS NULL OR households >= 0', name=op.f('ck_communities_households')),
    sa.ForeignKeyConstraint(['street_id'], ['streets.id'], name=op.f('fk_communities_street_id_streets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communities')),
    sa.UniqueConstraint('code', name=op.f('uq_communities_code'))
    )
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_communities_footprint', ['footprint'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_communities_is_pilot'), ['is_pilot'], unique=False)
        batch_op.create_index(batch_op.f('ix_communities_street_id'), ['street_id'], unique=False)

    op.create_geospatial_table('renovation_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('geometry', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('status', sa.Enum('planned', 'consulting', 'design', 'construction', 'completed', 'accepted', 'suspended', name='status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('progress_pct', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Double(), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('planned_start', sa.Date(), nullable=True),
    sa.Column('planned_end', sa.Date(), nullable=True),
    sa.Column('actual_start', sa.Date(), nullable=True),
    sa.Column('actual_end', sa.Date(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('progress_pct BETWEEN 0 AND 100', name=op.f('ck_renovation_items_progress')),
    sa.CheckConstraint('quantity IS NULL OR quantity >= 0', name=op.f('ck_renovation_items_quantity')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_renovation_items_community_id_communities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_renovation_items'))
    )
    with op.batch_alter_table('renovation_items', schema=None) as batch_op:
        batch_op.create_geospatial_index('idx_renovation_items_geometry', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
        batch_op.create_index(batch_op.f('ix_renovation_items_community_id'), ['community_id'], unique=False)
        batch_op.create_index('ix_renovation_items_kind_status', ['kind', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_renovation_items_planned_end'), ['planned_end'], unique=False)



def downgrade():
    with op.batch_alter_table('renovation_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_renovation_items_planned_end'))
        batch_op.drop_index('ix_renovation_items_kind_status')
        batch_op.drop_index(batch_op.f('ix_renovation_items_community_id'))
        batch_op.drop_geospatial_index('idx_renovation_items_geometry', postgresql_using='gist', column_name='geometry')

    op.drop_geospatial_table('renovation_items')
    with op.batch_alter_table('communities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_communities_street_id'))
        batch_op.drop_index(batch_op.f('ix_communities_is_pilot'))
        batch_op.drop_geospatial_index('idx_communities_footprint', postgresql_using='gist', column_name='footprint')

    op.drop_geospatial_table('communities')
    with op.batch_alter_table('streets', schema=None) as batch_op:
        batch_op.drop_geospatial_index('idx_streets_boundary', postgresql_using='gist', column_name='boundary')

    op.drop_geospatial_table('streets')
