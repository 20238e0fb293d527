"""The domain schema: regions, outlets and their network, users, geotags, products, sales.

Rules that no client may break live in the database: CHECK constraints here, and the triggers
of the initial migration (tier order, parent cycles, region assignment, payments, evaluation
history). Tests insert bad rows with plain SQL to prove each one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .coords import CRS_NAMES

TIERS = ("distributor", "wholesaler_2", "wholesaler_3", "retail")
REGION_LEVELS = ("country", "province", "city", "district")
OUTLET_STATUSES = ("active", "inactive", "closed")
GEOTAG_SOURCES = ("gps", "map", "import", "geocode")
GEOTAG_STATES = ("accepted", "flagged", "rejected")
ROLES = ("admin", "manager", "rep")
REVIEW_STATES = ("pending", "accepted", "rejected")
SUPPORT_KINDS = ("promotion", "materials", "staff", "other")
CREDIT_POLICIES = ("warn", "refuse")
HISTORY_ACTIONS = ("insert", "update", "delete")

# Geometry columns carry the geometry type in their type and SRID 4326 in a CHECK constraint
# (migration 0010): a type of geometry(Point,4326) relabels an SRID-0 geometry (one written
# without a coordinate system) as 4326 before any rule sees it; geometry(Point) leaves it
# SRID 0 for the constraint to refuse. PostGIS's geometry_columns reads the SRID from the
# constraint, so tools still see 4326.
SRID = 4326

Money = Numeric(14, 2)
Quantity = Numeric(14, 3)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _point_ok(column: str) -> str:
    """A stored point is non-empty and inside lon [-180, 180] / lat [-90, 90]: NaN, infinities
    and POINT EMPTY (whose ST_X is NULL) fail. The column admits only a 2-D POINT, which is
    valid whenever its coordinates are numbers, so no ST_IsValid (migration 0022)."""
    return f"{column} IS NULL OR (abs(ST_X({column})) <= 180 AND abs(ST_Y({column})) <= 90) IS TRUE"


def _srid_ok(column: str) -> str:
    """The column's geometries are WGS-84 longitude/latitude: SRID 0 (none) or another fails."""
    return f"ST_SRID({column}) = {SRID}"


def _nonneg(column: str) -> str:
    # NUMERIC accepts 'NaN', which sorts above every number and so passes ">= 0"
    return f"{column} >= 0 AND {column} <> 'NaN'"


class Base(DeclarativeBase):
    pass


class Region(Base):
    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    boundary = mapped_column(Geometry("MULTIPOLYGON", spatial_index=False), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float)
    label_point = mapped_column(Geometry("POINT", spatial_index=False))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent")

    __table_args__ = (
        CheckConstraint(_in("level", REGION_LEVELS), name="region_level_known"),
        CheckConstraint(
            "ST_IsValid(boundary) AND NOT ST_IsEmpty(boundary) AND ST_XMin(boundary) >= -180 "
            "AND ST_XMax(boundary) <= 180 AND ST_YMin(boundary) >= -90 AND ST_YMax(boundary) <= 90",
            name="region_boundary_valid",
        ),
        CheckConstraint("parent_id <> id", name="region_not_own_parent"),
        CheckConstraint("area_m2 >= 0 AND area_m2 <> 'NaN'", name="region_area_nonneg"),
        CheckConstraint(_point_ok("label_point"), name="region_label_point_valid"),
        CheckConstraint(_srid_ok("boundary"), name="region_boundary_srid"),
        CheckConstraint(_srid_ok("label_point"), name="region_label_point_srid"),
        Index("ix_regions_boundary", "boundary", postgresql_using="gist"),
        Index("ix_regions_parent_id", "parent_id"),
    )


class RegionPart(Base):
    """Boundary pieces of at most 64 vertices (ST_Subdivide), kept by trigger: fast point
    lookups."""

    __tablename__ = "region_parts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    depth: Mapped[int] = mapped_column(SmallInteger)
    geom = mapped_column(Geometry("POLYGON", spatial_index=False), nullable=False)

    __table_args__ = (
        CheckConstraint(_srid_ok("geom"), name="region_part_geom_srid"),
        Index("ix_region_parts_geom", "geom", postgresql_using="gist"),
        Index("ix_region_parts_region_id", "region_id"),
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    locale: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="user_role_known"),
        CheckConstraint("username ~ '^[A-Za-z0-9_.@-]{2,64}$'", name="user_username_format"),
    )


class UserSession(Base):
    """A browser's sign-in, ended by signing out, a password change or disabling the user.

    The cookie carries a random secret; only its SHA-256 is stored (a copy of this table opens
    nothing). Nothing about the device is kept: no address, no user agent.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_user_sessions_user_id", "user_id"),)


class LoginFailure(Base):
    """A failed sign-in, kept for the throttling window (shared by every worker; see
    auth/throttle.py)."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(45))
    failed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        Index("ix_login_failures_ip_failed_at", "ip", "failed_at"),
        Index("ix_login_failures_username_ip", "username", "ip"),
    )


class UserRegion(Base):
    """A manager's scope: these regions and everything below them."""

    __tablename__ = "user_regions"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    region_id: Mapped[int] = mapped_column(
        ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_user_regions_region_id", "region_id"),)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)


class Outlet(Base):
    __tablename__ = "outlets"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id", ondelete="RESTRICT"))
    location = mapped_column(Geometry("POINT", spatial_index=False))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    address: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    # the search text (code, name, pinyin initials) lives in OutletSearch (migration 0019)

    parent: Mapped[Outlet | None] = relationship(remote_side=[id])
    region: Mapped[Region | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(_in("tier", TIERS), name="outlet_tier_known"),
        CheckConstraint(_in("status", OUTLET_STATUSES), name="outlet_status_known"),
        CheckConstraint(_point_ok("location"), name="outlet_location_valid"),
        CheckConstraint(_srid_ok("location"), name="outlet_location_srid"),
        CheckConstraint(
            "tier <> 'distributor' OR parent_id IS NULL", name="outlet_distributor_no_parent"
        ),
        CheckConstraint("parent_id <> id", name="outlet_not_own_parent"),
        CheckConstraint(
            "length(btrim(code)) > 0 AND length(btrim(name)) > 0", name="outlet_code_name_present"
        ),
        CheckConstraint("version >= 1", name="outlet_version_positive"),
        Index("ix_outlets_location", "location", postgresql_using="gist"),
        Index("ix_outlets_parent_id", "parent_id"),
        Index("ix_outlets_region_id", "region_id"),
        Index("ix_outlets_rep_id", "rep_id"),
        Index("ix_outlets_created_by_id", "created_by_id"),
        Index("ix_outlets_tier_status", "tier", "status"),
    )


class OutletRoot(Base):
    """The distributor at the top of each outlet's supply chain: itself for a distributor,
    NULL when the chain ends below that tier. Derived: written only by migration 0023's
    statement triggers on outlets (``geo_crm_outlet_roots_rebuild()`` after a load with
    triggers off), read by the detection of cross-territory sales and the recording trigger
    (``geo_crm_root_distributor``). A side table, so that a geotag writes no index for it."""

    __tablename__ = "outlet_roots"

    outlet_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root_id: Mapped[int | None] = mapped_column(BigInteger)


class OutletSearch(Base):
    """An outlet's code, name and the name's pinyin initials (both readings of polyphones),
    lower case, for the distributor list and the landing map's search ("hdz" finds 华东总经销).

    Kept by the triggers of migration 0019, written only when the outlet's code, name or tier
    changes: on ``outlets`` its trigram indexes were written again by every geotag.
    """

    __tablename__ = "outlet_search"

    outlet_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("outlets.id", ondelete="CASCADE"), primary_key=True
    )
    search_text: Mapped[str] = mapped_column(Text)
    is_distributor: Mapped[bool] = mapped_column(Boolean)

    __table_args__ = (
        # every outlet: the landing map's search
        Index(
            "ix_outlet_search_text",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ),
        # distributors: the distributor list's search
        Index(
            "ix_outlet_search_distributor",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
            postgresql_where="is_distributor",
        ),
    )


class GeotagEvent(Base):
    """Every location change of an outlet, kept forever (the migration forbids deleting them)."""

    __tablename__ = "geotag_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="RESTRICT"))
    old_location = mapped_column(Geometry("POINT", spatial_index=False))
    new_location = mapped_column(Geometry("POINT", spatial_index=False), nullable=False)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(16))
    crs: Mapped[str] = mapped_column(String(8), server_default="wgs84")
    state: Mapped[str] = mapped_column(String(16), server_default="accepted")
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    captured_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(_in("source", GEOTAG_SOURCES), name="geotag_source_known"),
        CheckConstraint(_in("crs", CRS_NAMES), name="geotag_crs_known"),
        CheckConstraint(_in("state", GEOTAG_STATES), name="geotag_state_known"),
        CheckConstraint(_point_ok("old_location"), name="geotag_old_location_valid"),
        CheckConstraint(_point_ok("new_location"), name="geotag_new_location_valid"),
        CheckConstraint(_srid_ok("old_location"), name="geotag_old_location_srid"),
        CheckConstraint(_srid_ok("new_location"), name="geotag_new_location_srid"),
        CheckConstraint(
            "accuracy_m IS NULL OR (accuracy_m >= 0 AND accuracy_m <> 'NaN' AND accuracy_m < "
            "'Infinity')",
            name="geotag_accuracy_nonneg",
        ),
        Index("ix_geotag_events_outlet_id", "outlet_id", "created_at"),
        Index("ix_geotag_events_user_id", "user_id"),
        # reviewed tags only: users' ON DELETE SET NULL looks it up (0022); no index on the
        # locations or on created_at alone, which no query reads (0022)
        Index(
            "ix_geotag_events_reviewed_by_id",
            "reviewed_by_id",
            postgresql_where="reviewed_by_id IS NOT NULL",
        ),
        Index("ix_geotag_events_flagged", "state", postgresql_where="state = 'flagged'"),
    )


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(Text)
    spec: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")

    __table_args__ = (
        CheckConstraint(
            "length(btrim(sku)) > 0 AND length(btrim(name)) > 0", name="product_sku_name_present"
        ),
    )


class SalesPlan(Base):
    """A distributor's monthly target for one product (销售计划), with its schedule within the
    month and its support lines. ``version`` bumps on every update (optimistic locking); a
    closed month refuses changes except by an admin, and every change is kept in
    ``sales_plan_history`` (triggers of migration 0009)."""

    __tablename__ = "sales_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="RESTRICT"))
    month: Mapped[dt.date] = mapped_column(Date)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    target_quantity: Mapped[Decimal] = mapped_column(Quantity)
    target_amount: Mapped[Decimal] = mapped_column(Money)
    support_notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        UniqueConstraint(
            "distributor_id", "month", "product_id", name="uq_sales_plan_distributor_month_product"
        ),
        CheckConstraint("extract(day from month) = 1", name="sales_plan_month_first_day"),
        CheckConstraint(_nonneg("target_quantity"), name="sales_plan_quantity_nonneg"),
        CheckConstraint(_nonneg("target_amount"), name="sales_plan_amount_nonneg"),
        CheckConstraint("version >= 1", name="sales_plan_version_positive"),
        Index("ix_sales_plans_month", "month"),
        Index("ix_sales_plans_product_id", "product_id"),
    )


class SalesPlanStep(Base):
    """A cumulative target within a plan's month: by day ``by_day`` (the month's last day for
    "end"), at least this quantity and amount sold in the month so far."""

    __tablename__ = "sales_plan_schedule"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sales_plans.id", ondelete="CASCADE"))
    by_day: Mapped[int] = mapped_column(SmallInteger)
    target_quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    target_amount: Mapped[Decimal | None] = mapped_column(Money)

    __table_args__ = (
        UniqueConstraint("plan_id", "by_day", name="uq_sales_plan_schedule_plan_day"),
        CheckConstraint("by_day BETWEEN 1 AND 31", name="sales_plan_schedule_day_range"),
        CheckConstraint(
            "target_quantity IS NOT NULL OR target_amount IS NOT NULL",
            name="sales_plan_schedule_target_present",
        ),
        CheckConstraint(
            "target_quantity IS NULL OR (" + _nonneg("target_quantity") + ")",
            name="sales_plan_schedule_quantity_nonneg",
        ),
        CheckConstraint(
            "target_amount IS NULL OR (" + _nonneg("target_amount") + ")",
            name="sales_plan_schedule_amount_nonneg",
        ),
    )


class SalesPlanSupport(Base):
    """Support for a plan (销售支援): a promotion, materials, staff or something else, with an
    optional amount."""

    __tablename__ = "sales_plan_support"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("sales_plans.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Money)

    __table_args__ = (
        CheckConstraint(_in("kind", SUPPORT_KINDS), name="sales_plan_support_kind_known"),
        CheckConstraint(
            "length(btrim(description)) > 0", name="sales_plan_support_description_present"
        ),
        CheckConstraint(
            "amount IS NULL OR (" + _nonneg("amount") + ")", name="sales_plan_support_amount_nonneg"
        ),
        Index("ix_sales_plan_support_plan_id", "plan_id"),
    )


class ClosedMonth(Base):
    """A month whose plans only an admin may still change."""

    __tablename__ = "closed_months"

    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    closed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint("extract(day from month) = 1", name="closed_month_first_day"),
    )


class SalesPlanChange(Base):
    """One insert, update or delete of a plan, a schedule step or a support line: who (the
    transaction's ``geo_crm.user_id``), when, and the row before and after. Written only by
    the triggers of migration 0009; never changed or deleted."""

    __tablename__ = "sales_plan_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(Integer)  # no foreign key: history outlives the plan
    table_name: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(8))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    old: Mapped[dict | None] = mapped_column(JSONB)
    new: Mapped[dict | None] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint(_in("action", HISTORY_ACTIONS), name="sales_plan_history_action_known"),
        Index("ix_sales_plan_history_plan_id", "plan_id", "id"),
        Index("ix_sales_plan_history_user_id", "user_id"),
    )


OUTLET_CHANGE_FIELDS = ("supplier", "status", "tier")


class OutletChange(Base):
    """One change of an outlet's supplier (parent; values are outlet ids as text), status or
    tier: who (the transaction's ``geo_crm.user_id``), when, from and to. Written only by the
    trigger of migration 0012 on every UPDATE of outlets; never changed or deleted. An
    outlet's first values are the oldest change's ``old_value`` (or its current ones)."""

    __tablename__ = "outlet_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(BigInteger)  # no foreign key: history outlives it
    field: Mapped[str] = mapped_column(String(8))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint(_in("field", OUTLET_CHANGE_FIELDS), name="outlet_change_field_known"),
        Index("ix_outlet_changes_outlet_id", "outlet_id", "id"),
        Index("ix_outlet_changes_changed_at", "changed_at"),
        Index("ix_outlet_changes_user_id", "user_id"),
    )


class DistributorTerritory(Base):
    """A distributor's assigned territory (经销区域): a set of regions (``region_ids``; ``geom``
    is the union of their boundaries when set) or a drawn polygon (``region_ids`` empty). An
    invalid or self-crossing shape is refused by the service and never stored (the CHECK)."""

    __tablename__ = "distributor_territories"

    distributor_id: Mapped[int] = mapped_column(
        ForeignKey("outlets.id", ondelete="RESTRICT"), primary_key=True
    )
    region_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default="{}")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint(
            "ST_IsValid(geom) AND NOT ST_IsEmpty(geom) AND ST_XMin(geom) >= -180 "
            "AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90",
            name="territory_geom_valid",
        ),
        Index("ix_distributor_territories_geom", "geom", postgresql_using="gist"),
        Index("ix_distributor_territories_updated_by_id", "updated_by_id"),
    )


class DistributorTerritoryPart(Base):
    """A territory cut into pieces of at most 128 vertices (ST_Subdivide), kept by trigger
    (migration 0014): point-in-territory over a spatial index and small polygons, whatever the
    size of the territory. Derived: only the trigger writes it."""

    __tablename__ = "distributor_territory_parts"

    distributor_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey(
            "distributor_territories.distributor_id", ondelete="CASCADE", onupdate="CASCADE"
        ),
        primary_key=True,
    )
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False), nullable=False)

    __table_args__ = (
        Index("ix_distributor_territory_parts_geom", "geom", postgresql_using="gist"),
    )


class TerritoryDistancesStale(Base):
    """The distributors whose territory was written since the detection of cross-territory
    sales over the whole history last ran (migration 0020's trigger): the distances kept in
    their records flagged ``outside_territory`` are re-measured by the next detection, which
    empties this list."""

    __tablename__ = "territory_distances_stale"

    distributor_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class DistributorCredit(Base):
    """A distributor's credit limit: what it may owe the manufacturer (sell-in debt)."""

    __tablename__ = "distributor_credit"

    distributor_id: Mapped[int] = mapped_column(
        ForeignKey("outlets.id", ondelete="RESTRICT"), primary_key=True
    )
    credit_limit: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (CheckConstraint(_nonneg("credit_limit"), name="credit_limit_nonneg"),)


class AppSetting(Base):
    """Business settings an admin changes at run time (``credit_policy``: warn | refuse)."""

    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint(
            "key <> 'credit_policy' OR " + _in("value", CREDIT_POLICIES),
            name="app_setting_credit_policy_known",
        ),
    )


class SalesRecord(Base):
    """One delivery to a buyer outlet; debt = amount − paid. The seller is an outlet of a
    higher tier, or nobody (``seller_id`` NULL): the manufacturer, for every sale to a
    distributor (sell-in, 进货)."""

    __tablename__ = "sales_records"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("outlets.id", ondelete="RESTRICT"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="RESTRICT"))
    sale_date: Mapped[dt.date] = mapped_column(Date)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    spec: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    amount_paid: Mapped[Decimal] = mapped_column(Money, server_default="0")
    # derived, so they can never disagree with the amounts
    debt: Mapped[Decimal] = mapped_column(Money, Computed("amount - amount_paid", persisted=True))
    settlement: Mapped[str] = mapped_column(
        String(16),
        Computed(
            "CASE WHEN amount_paid >= amount THEN 'paid' WHEN amount_paid > 0 THEN 'partial' "
            "ELSE 'unpaid' END",
            persisted=True,
        ),
    )
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # review flags (e.g. over_credit_limit; issue 14 adds cross-territory sales) with their
    # detail by flag code, and the review of a flagged record
    flags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    flag_detail: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    review_state: Mapped[str | None] = mapped_column(String(16))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(_nonneg("quantity"), name="sales_record_quantity_nonneg"),
        CheckConstraint(_nonneg("amount"), name="sales_record_amount_nonneg"),
        CheckConstraint(_nonneg("amount_paid"), name="sales_record_paid_nonneg"),
        CheckConstraint("amount_paid <= amount", name="sales_record_paid_not_above_amount"),
        CheckConstraint("seller_id <> buyer_id", name="sales_record_seller_not_buyer"),
        CheckConstraint(
            "unit_price IS NULL OR (" + _nonneg("unit_price") + " AND amount = "
            "round(quantity * unit_price, 2))",
            name="sales_record_unit_price_amount",
        ),
        CheckConstraint(
            _in("review_state", REVIEW_STATES) + " OR review_state IS NULL",
            name="sales_record_review_state_known",
        ),
        CheckConstraint(
            "(cardinality(flags) = 0) = (review_state IS NULL)",
            name="sales_record_flags_reviewed",
        ),
        # a seller's records, and the distinct (seller, buyer) pairs the cross-territory
        # detection judges (migration 0014)
        Index("ix_sales_records_seller_buyer", "seller_id", "buyer_id"),
        Index("ix_sales_records_buyer_id", "buyer_id"),
        Index("ix_sales_records_product_id", "product_id"),
        Index("ix_sales_records_sale_date", "sale_date"),
        Index("ix_sales_records_unpaid", "buyer_id", postgresql_where="amount_paid < amount"),
        # what a distributor owes the manufacturer, by age, read from the index alone
        Index(
            "ix_sales_records_sell_in_unpaid",
            "buyer_id",
            "sale_date",
            postgresql_include=["amount", "amount_paid"],
            postgresql_where="seller_id IS NULL AND amount_paid < amount",
        ),
        # what a seller's buyers owe it, by age
        Index(
            "ix_sales_records_seller_unpaid",
            "seller_id",
            "sale_date",
            postgresql_include=["amount", "amount_paid"],
            postgresql_where="seller_id IS NOT NULL AND amount_paid < amount",
        ),
        Index("ix_sales_records_reviewed_by_id", "reviewed_by_id"),
        # no index reads flags or review_state (migration 0021): the flagged records are
        # found through SalesFlagged, and a flag or review write can be a HOT update, in
        # the room fillfactor 90 leaves on each page
        {"postgresql_with": {"fillfactor": 90}},
    )


class SalesBuyerMonth(Base):
    """Rollup of sales_records per buyer, month and product (amounts in fen, quantities in
    thousandths, so sums stay exact integers). Derived: written only by the statement triggers
    of migration 0003, in the transaction that changes the records."""

    __tablename__ = "sales_buyer_months"

    # key in this order: a month range (and a product in it) is one range of the index
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # first day of the month
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    quantity_milli: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0",
            name="sales_buyer_month_nonneg",
        ),
        # one buyer's months (a distributor's sell-in) without scanning every buyer's
        Index("ix_sales_buyer_months_buyer", "buyer_id", "month"),
    )


class SalesSellerMonth(Base):
    """Rollup of sales_records per seller outlet, month and product (sell-out; sell-in, whose
    seller is the manufacturer, is the distributor's row of :class:`SalesBuyerMonth`).
    Derived: written only by the statement triggers of migration 0009."""

    __tablename__ = "sales_seller_months"

    # seller first: a distributor's months are one range of the index
    seller_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    quantity_milli: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0",
            name="sales_seller_month_nonneg",
        ),
        # one month of every seller (the distributor list's sell-out column)
        Index("ix_sales_seller_months_month", "month", "seller_id"),
    )


class SalesPair(Base):
    """Rollup of the sell-out records per (seller, buyer) pair: how many records, and how many
    of them carry each cross-territory flag. Derived: written only by the statement triggers
    of migration 0017; the detection of cross-territory sales over the whole history judges
    these pairs (analysis/cross_selling.py)."""

    __tablename__ = "sales_pairs"

    seller_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    other_network: Mapped[int] = mapped_column(BigInteger)
    outside_territory: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "records > 0 AND other_network BETWEEN 0 AND records "
            "AND outside_territory BETWEEN 0 AND records",
            name="sales_pair_counts",
        ),
        # room on each page for a detection's rewrite of the counts to be HOT (migration 0024)
        {"postgresql_with": {"fillfactor": 50}},
    )


class SalesFlagged(Base):
    """The flagged sales records (those with a review state) and their review state. Derived:
    written only by the statement triggers of migration 0021, so that no index of
    sales_records reads ``flags`` or ``review_state`` and writing them can be a HOT update;
    the review queue and the lists of flagged records start from it."""

    __tablename__ = "sales_flagged"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    review_state: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_sales_flagged_state", "review_state", "id"),)


class SalesBuyerYear(Base):
    """Rollup of sales_records per buyer and calendar year, every product together; derived
    like :class:`SalesBuyerMonth`."""

    __tablename__ = "sales_buyer_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    records: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    quantity_milli: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint(
            "records >= 0 AND amount_fen >= 0 AND quantity_milli >= 0",
            name="sales_buyer_year_nonneg",
        ),
    )


class OutletHexBin(Base):
    """Active located outlets per hexagon of the tile pyramid (zoom ``z`` 0–9; ST_Hexagon's
    ``i``, ``j`` in EPSG:3857, side = tile width / 16), region (0: none) and tier: what the
    outlets vector tiles draw below zoom 10. Derived: written only by the statement triggers
    of migration 0007."""

    __tablename__ = "outlet_hex_bins"

    z: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    i: Mapped[int] = mapped_column(Integer, primary_key=True)
    j: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    outlets: Mapped[int] = mapped_column(Integer)


class RegionOutletTotal(Base):
    """Active located outlets per region and tier, counting every region below it (the regions
    tiles' figures). Derived: kept by the triggers of migration 0007, recomputed when the
    region tree changes."""

    __tablename__ = "region_outlet_totals"

    region_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    outlets: Mapped[int] = mapped_column(Integer)


class Payment(Base):
    """A payment against a sales record; a trigger keeps the record's amount_paid the sum."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sales_record_id: Mapped[int] = mapped_column(ForeignKey("sales_records.id", ondelete="CASCADE"))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint("amount > 0 AND amount <> 'NaN'", name="payment_amount_positive"),
        Index("ix_payments_sales_record_id", "sales_record_id"),
        Index("ix_payments_user_id", "user_id"),
        Index("ix_payments_paid_on", "paid_on"),
    )


class Evaluation(Base):
    """A dated assessment of a distributor; a history, never overwritten (enforced by trigger)."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("outlets.id", ondelete="RESTRICT"))
    evaluated_on: Mapped[dt.date] = mapped_column(Date)
    initiative: Mapped[int] = mapped_column(SmallInteger)
    capital: Mapped[Decimal | None] = mapped_column(Money)
    brands_carried: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    warehouses: Mapped[int | None] = mapped_column(SmallInteger)
    warehouse_area_m2: Mapped[float | None] = mapped_column(Float)
    vehicles: Mapped[int | None] = mapped_column(SmallInteger)
    staff: Mapped[int | None] = mapped_column(SmallInteger)
    credit: Mapped[int] = mapped_column(SmallInteger)
    social_relations: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    # reach, computed from the network when the evaluation is recorded (migration 0011): active
    # downstream outlets per tier and in all, covered km², the territory and its sub-regions
    # reached (codes) out of ``reach_units``
    reach_by_tier: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    reach_outlets: Mapped[int] = mapped_column(Integer, server_default="0")
    reach_km2: Mapped[float | None] = mapped_column(Float)
    reach_territory: Mapped[str | None] = mapped_column(String(32))
    reach_regions: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    reach_units: Mapped[int] = mapped_column(Integer, server_default="0")
    evaluator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    __table_args__ = (
        CheckConstraint("initiative BETWEEN 1 AND 5", name="evaluation_initiative_range"),
        CheckConstraint("credit BETWEEN 1 AND 5", name="evaluation_credit_range"),
        CheckConstraint(
            "capital IS NULL OR (capital >= 0 AND capital <> 'NaN')",
            name="evaluation_capital_nonneg",
        ),
        CheckConstraint(
            "coalesce(warehouses, 0) >= 0 AND coalesce(vehicles, 0) >= 0 AND coalesce(staff, 0) >= "
            "0 "
            "AND (warehouse_area_m2 IS NULL OR (warehouse_area_m2 >= 0 AND warehouse_area_m2 < "
            "'Infinity'))",
            name="evaluation_counts_nonneg",
        ),
        CheckConstraint(
            "reach_outlets >= 0 AND reach_units >= 0 AND (reach_km2 IS NULL OR "
            "(reach_km2 >= 0 AND reach_km2 < 'Infinity'))",
            name="evaluation_reach_nonneg",
        ),
        Index("ix_evaluations_distributor_id", "distributor_id", "evaluated_on"),
        Index("ix_evaluations_evaluator_id", "evaluator_id"),
        Index("ix_evaluations_evaluated_on", "evaluated_on"),
    )


class EvaluationWeights(Base):
    """One version of the evaluation score's weights and of the values earning full marks
    (docs/business.md "Score and class"). Never changed or deleted (migration 0011): a new
    version is a new row, and the latest scores every evaluation on read."""

    __tablename__ = "evaluation_weights"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    initiative: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    capability: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    credit: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    reach: Mapped[Decimal] = mapped_column(Numeric(8, 3))
    full_capital: Mapped[Decimal] = mapped_column(Money)
    full_warehouse_m2: Mapped[float] = mapped_column(Float)
    full_vehicles: Mapped[int] = mapped_column(Integer)
    full_staff: Mapped[int] = mapped_column(Integer)
    full_brands: Mapped[int] = mapped_column(Integer)
    full_outlets: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        CheckConstraint("version >= 1", name="evaluation_weights_version_positive"),
        CheckConstraint(
            " AND ".join(_nonneg(c) for c in ("initiative", "capability", "credit", "reach")),
            name="evaluation_weights_nonneg",
        ),
        CheckConstraint(
            "initiative + capability + credit + reach > 0", name="evaluation_weights_sum_positive"
        ),
        CheckConstraint(
            "full_capital > 0 AND full_capital <> 'NaN' AND full_warehouse_m2 > 0 "
            "AND full_warehouse_m2 < 'Infinity' AND full_vehicles > 0 AND full_staff > 0 "
            "AND full_brands > 0 AND full_outlets > 0",
            name="evaluation_weights_full_positive",
        ),
        Index("ix_evaluation_weights_created_by_id", "created_by_id"),
    )


ANALYSIS_CACHE_KINDS = ("coverage", "gaps", "density")


class AnalysisResult(Base):
    """One cached analysis (``analysis.cache``): a kind, a region and a normalised filter key,
    the result, and the value of the change counter (sequence ``analysis_changes``, advanced by
    the statement triggers of migration 0016 on outlets, sales records and regions) it was
    computed at. Derived: rewritten whenever it is computed again."""

    __tablename__ = "analysis_results"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    filter_key: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(JSONB)
    result: Mapped[dict] = mapped_column(JSONB)
    shapes: Mapped[dict | None] = mapped_column(JSONB)  # coverage's outlines (a map's, only)
    change_count: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    compute_ms: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint(_in("kind", ANALYSIS_CACHE_KINDS), name="analysis_result_kind"),
        UniqueConstraint("kind", "region_id", "filter_key", name="uq_analysis_results_key"),
        Index("ix_analysis_results_region", "region_id"),
    )


class AnalysisGapCell(Base):
    """A gap cell of a cached gaps analysis (the worst first, ``rank`` 0 the worst), with its
    hexagon: what the gaps vector tiles and the OGC ``gaps`` collection read."""

    __tablename__ = "analysis_gap_cells"

    result_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_results.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    row: Mapped[int] = mapped_column(Integer)
    col: Mapped[int] = mapped_column(Integer)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    shortfall_m: Mapped[float | None] = mapped_column(Float)
    nearest_outlet: Mapped[str | None] = mapped_column(Text)
    nearest_tier: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("POLYGON", spatial_index=False), nullable=False)
    # one number per cell in (result, rank) order: what the OGC gaps collection pages by
    id: Mapped[int] = mapped_column(
        BigInteger, Computed("result_id * 10000 + rank", persisted=True)
    )

    __table_args__ = (
        CheckConstraint(_srid_ok("geom"), name="analysis_gap_cell_geom_srid"),
        CheckConstraint("rank BETWEEN 0 AND 9999", name="analysis_gap_cell_rank"),
        Index("ix_analysis_gap_cells_id", "id", unique=True),
        Index("ix_analysis_gap_cells_geom", "geom", postgresql_using="gist"),
    )


class AnalysisDensityCell(Base):
    """A cell of a cached density analysis (by amount, ``rank`` 0 the largest) with its
    hexagon: what the density vector tiles read."""

    __tablename__ = "analysis_density_cells"

    result_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_results.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    row: Mapped[int] = mapped_column(Integer)
    col: Mapped[int] = mapped_column(Integer)
    buyers: Mapped[int] = mapped_column(Integer)
    records: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2))
    quantity: Mapped[Decimal] = mapped_column(Numeric(17, 3))
    geom = mapped_column(Geometry("POLYGON", spatial_index=False), nullable=False)

    __table_args__ = (
        CheckConstraint(_srid_ok("geom"), name="analysis_density_cell_geom_srid"),
        Index("ix_analysis_density_cells_geom", "geom", postgresql_using="gist"),
    )
