"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Tables come from the models; the rules no client may break (triggers) from sql/0001_rules.sql.
"""
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('spec', sa.Text(), nullable=True),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.CheckConstraint('length(btrim(sku)) > 0 AND length(btrim(name)) > 0', name='product_sku_name_present'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sku')
    )
    op.create_geospatial_table('regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('name_en', sa.Text(), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('boundary', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('label_point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("area_m2 >= 0 AND area_m2 <> 'NaN'", name='region_area_nonneg'),
    sa.CheckConstraint("level IN ('country', 'province', 'city', 'district')", name='region_level_known'),
    sa.CheckConstraint('ST_IsValid(boundary) AND NOT ST_IsEmpty(boundary) AND ST_XMin(boundary) >= -180 AND ST_XMax(boundary) <= 180 AND ST_YMin(boundary) >= -90 AND ST_YMax(boundary) <= 90', name='region_boundary_valid'),
    sa.CheckConstraint('label_point IS NULL OR (NOT ST_IsEmpty(label_point) AND ST_IsValid(label_point) AND ST_X(label_point) BETWEEN -180 AND 180 AND ST_Y(label_point) BETWEEN -90 AND 90)', name='region_label_point_valid'),
    sa.CheckConstraint('parent_id <> id', name='region_not_own_parent'),
    sa.ForeignKeyConstraint(['parent_id'], ['regions.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('ix_regions_boundary', 'regions', ['boundary'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_regions_parent_id', 'regions', ['parent_id'], unique=False)
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'manager', 'rep')", name='user_role_known'),
    sa.CheckConstraint("username ~ '^[A-Za-z0-9_.@-]{2,64}$'", name='user_username_format'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('token_hash', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_api_tokens_user_id', 'api_tokens', ['user_id'], unique=False)
    op.create_geospatial_table('outlets',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('tier', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.BigInteger(), nullable=True),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('contact', sa.Text(), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='active', nullable=False),
    sa.Column('rep_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("status IN ('active', 'inactive', 'closed')", name='outlet_status_known'),
    sa.CheckConstraint("tier <> 'distributor' OR parent_id IS NULL", name='outlet_distributor_no_parent'),
    sa.CheckConstraint("tier IN ('distributor', 'wholesaler_2', 'wholesaler_3', 'retail')", name='outlet_tier_known'),
    sa.CheckConstraint('length(btrim(code)) > 0 AND length(btrim(name)) > 0', name='outlet_code_name_present'),
    sa.CheckConstraint('location IS NULL OR (NOT ST_IsEmpty(location) AND ST_IsValid(location) AND ST_X(location) BETWEEN -180 AND 180 AND ST_Y(location) BETWEEN -90 AND 90)', name='outlet_location_valid'),
    sa.CheckConstraint('parent_id <> id', name='outlet_not_own_parent'),
    sa.CheckConstraint('version >= 1', name='outlet_version_positive'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['parent_id'], ['outlets.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rep_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index('ix_outlets_created_by_id', 'outlets', ['created_by_id'], unique=False)
    op.create_geospatial_index('ix_outlets_location', 'outlets', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_outlets_parent_id', 'outlets', ['parent_id'], unique=False)
    op.create_index('ix_outlets_region_id', 'outlets', ['region_id'], unique=False)
    op.create_index('ix_outlets_rep_id', 'outlets', ['rep_id'], unique=False)
    op.create_index('ix_outlets_tier_status', 'outlets', ['tier', 'status'], unique=False)
    op.create_geospatial_table('region_parts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('depth', sa.SmallInteger(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_geospatial_index('ix_region_parts_geom', 'region_parts', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_region_parts_region_id', 'region_parts', ['region_id'], unique=False)
    op.create_table('user_regions',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'region_id')
    )
    op.create_index('ix_user_regions_region_id', 'user_regions', ['region_id'], unique=False)
    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.BigInteger(), nullable=False),
    sa.Column('evaluated_on', sa.Date(), nullable=False),
    sa.Column('initiative', sa.SmallInteger(), nullable=False),
    sa.Column('capital', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('brands_carried', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('warehouses', sa.SmallInteger(), nullable=True),
    sa.Column('warehouse_area_m2', sa.Float(), nullable=True),
    sa.Column('vehicles', sa.SmallInteger(), nullable=True),
    sa.Column('staff', sa.SmallInteger(), nullable=True),
    sa.Column('credit', sa.SmallInteger(), nullable=False),
    sa.Column('social_relations', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('extra', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('evaluator_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("capital IS NULL OR (capital >= 0 AND capital <> 'NaN')", name='evaluation_capital_nonneg'),
    sa.CheckConstraint("coalesce(warehouses, 0) >= 0 AND coalesce(vehicles, 0) >= 0 AND coalesce(staff, 0) >= 0 AND (warehouse_area_m2 IS NULL OR (warehouse_area_m2 >= 0 AND warehouse_area_m2 < 'Infinity'))", name='evaluation_counts_nonneg'),
    sa.CheckConstraint('credit BETWEEN 1 AND 5', name='evaluation_credit_range'),
    sa.CheckConstraint('initiative BETWEEN 1 AND 5', name='evaluation_initiative_range'),
    sa.ForeignKeyConstraint(['distributor_id'], ['outlets.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['evaluator_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_evaluations_distributor_id', 'evaluations', ['distributor_id', 'evaluated_on'], unique=False)
    op.create_index('ix_evaluations_evaluated_on', 'evaluations', ['evaluated_on'], unique=False)
    op.create_index('ix_evaluations_evaluator_id', 'evaluations', ['evaluator_id'], unique=False)
    op.create_geospatial_table('geotag_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('outlet_id', sa.BigInteger(), nullable=False),
    sa.Column('old_location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('new_location', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('crs', sa.String(length=8), server_default='wgs84', nullable=False),
    sa.Column('state', sa.String(length=16), server_default='accepted', nullable=False),
    sa.Column('flags', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("accuracy_m IS NULL OR (accuracy_m >= 0 AND accuracy_m <> 'NaN' AND accuracy_m < 'Infinity')", name='geotag_accuracy_nonneg'),
    sa.CheckConstraint("crs IN ('wgs84', 'gcj02', 'bd09')", name='geotag_crs_known'),
    sa.CheckConstraint("source IN ('gps', 'map', 'import', 'geocode')", name='geotag_source_known'),
    sa.CheckConstraint("state IN ('accepted', 'flagged', 'rejected')", name='geotag_state_known'),
    sa.CheckConstraint('new_location IS NULL OR (NOT ST_IsEmpty(new_location) AND ST_IsValid(new_location) AND ST_X(new_location) BETWEEN -180 AND 180 AND ST_Y(new_location) BETWEEN -90 AND 90)', name='geotag_new_location_valid'),
    sa.CheckConstraint('old_location IS NULL OR (NOT ST_IsEmpty(old_location) AND ST_IsValid(old_location) AND ST_X(old_location) BETWEEN -180 AND 180 AND ST_Y(old_location) BETWEEN -90 AND 90)', name='geotag_old_location_valid'),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_geotag_events_created_at', 'geotag_events', ['created_at'], unique=False)
    op.create_index('ix_geotag_events_flagged', 'geotag_events', ['state'], unique=False, postgresql_where="state = 'flagged'")
    op.create_geospatial_index('ix_geotag_events_new_location', 'geotag_events', ['new_location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('ix_geotag_events_old_location', 'geotag_events', ['old_location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_geotag_events_outlet_id', 'geotag_events', ['outlet_id', 'created_at'], unique=False)
    op.create_index('ix_geotag_events_reviewed_by_id', 'geotag_events', ['reviewed_by_id'], unique=False)
    op.create_index('ix_geotag_events_user_id', 'geotag_events', ['user_id'], unique=False)
    op.create_table('sales_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.BigInteger(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('target_quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('target_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('support_notes', sa.Text(), nullable=True),
    sa.CheckConstraint("target_amount >= 0 AND target_amount <> 'NaN'", name='sales_plan_amount_nonneg'),
    sa.CheckConstraint("target_quantity >= 0 AND target_quantity <> 'NaN'", name='sales_plan_quantity_nonneg'),
    sa.CheckConstraint('extract(day from month) = 1', name='sales_plan_month_first_day'),
    sa.ForeignKeyConstraint(['distributor_id'], ['outlets.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('distributor_id', 'month', 'product_id', name='uq_sales_plan_distributor_month_product')
    )
    op.create_index('ix_sales_plans_month', 'sales_plans', ['month'], unique=False)
    op.create_index('ix_sales_plans_product_id', 'sales_plans', ['product_id'], unique=False)
    op.create_table('sales_records',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('seller_id', sa.BigInteger(), nullable=False),
    sa.Column('buyer_id', sa.BigInteger(), nullable=False),
    sa.Column('sale_date', sa.Date(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('spec', sa.Text(), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('amount_paid', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('debt', sa.Numeric(precision=14, scale=2), sa.Computed('amount - amount_paid', persisted=True), nullable=False),
    sa.Column('settlement', sa.String(length=16), sa.Computed("CASE WHEN amount_paid >= amount THEN 'paid' WHEN amount_paid > 0 THEN 'partial' ELSE 'unpaid' END", persisted=True), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("amount >= 0 AND amount <> 'NaN'", name='sales_record_amount_nonneg'),
    sa.CheckConstraint("amount_paid >= 0 AND amount_paid <> 'NaN'", name='sales_record_paid_nonneg'),
    sa.CheckConstraint("quantity >= 0 AND quantity <> 'NaN'", name='sales_record_quantity_nonneg'),
    sa.CheckConstraint('amount_paid <= amount', name='sales_record_paid_not_above_amount'),
    sa.CheckConstraint('seller_id <> buyer_id', name='sales_record_seller_not_buyer'),
    sa.ForeignKeyConstraint(['buyer_id'], ['outlets.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['seller_id'], ['outlets.id'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    op.create_index('ix_sales_records_buyer_id', 'sales_records', ['buyer_id'], unique=False)
    op.create_index('ix_sales_records_product_id', 'sales_records', ['product_id'], unique=False)
    op.create_index('ix_sales_records_sale_date', 'sales_records', ['sale_date'], unique=False)
    op.create_index('ix_sales_records_seller_id', 'sales_records', ['seller_id'], unique=False)
    op.create_index('ix_sales_records_unpaid', 'sales_records', ['buyer_id'], unique=False, postgresql_where='amount_paid < amount')
    op.create_table('payments',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('sales_record_id', sa.BigInteger(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("amount > 0 AND amount <> 'NaN'", name='payment_amount_positive'),
    sa.ForeignKeyConstraint(['sales_record_id'], ['sales_records.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_payments_paid_on', 'payments', ['paid_on'], unique=False)
    op.create_index('ix_payments_sales_record_id', 'payments', ['sales_record_id'], unique=False)
    op.create_index('ix_payments_user_id', 'payments', ['user_id'], unique=False)
    op.execute((SQL_DIR / "0001_rules.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    op.execute((SQL_DIR / "0001_rules_down.sql").read_text(encoding="utf-8"))
    op.drop_index('ix_payments_user_id', table_name='payments')
    op.drop_index('ix_payments_sales_record_id', table_name='payments')
    op.drop_index('ix_payments_paid_on', table_name='payments')
    op.drop_table('payments')
    op.drop_index('ix_sales_records_unpaid', table_name='sales_records', postgresql_where='amount_paid < amount')
    op.drop_index('ix_sales_records_seller_id', table_name='sales_records')
    op.drop_index('ix_sales_records_sale_date', table_name='sales_records')
    op.drop_index('ix_sales_records_product_id', table_name='sales_records')
    op.drop_index('ix_sales_records_buyer_id', table_name='sales_records')
    op.drop_table('sales_records')
    op.drop_index('ix_sales_plans_product_id', table_name='sales_plans')
    op.drop_index('ix_sales_plans_month', table_name='sales_plans')
    op.drop_table('sales_plans')
    op.drop_index('ix_geotag_events_user_id', table_name='geotag_events')
    op.drop_index('ix_geotag_events_reviewed_by_id', table_name='geotag_events')
    op.drop_index('ix_geotag_events_outlet_id', table_name='geotag_events')
    op.drop_geospatial_index('ix_geotag_events_old_location', table_name='geotag_events', postgresql_using='gist', column_name='old_location')
    op.drop_geospatial_index('ix_geotag_events_new_location', table_name='geotag_events', postgresql_using='gist', column_name='new_location')
    op.drop_index('ix_geotag_events_flagged', table_name='geotag_events', postgresql_where="state = 'flagged'")
    op.drop_index('ix_geotag_events_created_at', table_name='geotag_events')
    op.drop_geospatial_table('geotag_events')
    op.drop_index('ix_evaluations_evaluator_id', table_name='evaluations')
    op.drop_index('ix_evaluations_evaluated_on', table_name='evaluations')
    op.drop_index('ix_evaluations_distributor_id', table_name='evaluations')
    op.drop_table('evaluations')
    op.drop_index('ix_user_regions_region_id', table_name='user_regions')
    op.drop_table('user_regions')
    op.drop_index('ix_region_parts_region_id', table_name='region_parts')
    op.drop_geospatial_index('ix_region_parts_geom', table_name='region_parts', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('region_parts')
    op.drop_index('ix_outlets_tier_status', table_name='outlets')
    op.drop_index('ix_outlets_rep_id', table_name='outlets')
    op.drop_index('ix_outlets_region_id', table_name='outlets')
    op.drop_index('ix_outlets_parent_id', table_name='outlets')
    op.drop_geospatial_index('ix_outlets_location', table_name='outlets', postgresql_using='gist', column_name='location')
    op.drop_index('ix_outlets_created_by_id', table_name='outlets')
    op.drop_geospatial_table('outlets')
    op.drop_index('ix_api_tokens_user_id', table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_index('ix_regions_parent_id', table_name='regions')
    op.drop_geospatial_index('ix_regions_boundary', table_name='regions', postgresql_using='gist', column_name='boundary')
    op.drop_geospatial_table('regions')
    op.drop_table('products')
