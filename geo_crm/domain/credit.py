"""Credit limits of distributors and the business settings an admin changes at run time.

A distributor's credit limit caps what it may owe the manufacturer (its unpaid sell-in). The
database enforces it (migration 0009's credit trigger): a sell-in that takes the debt over the
limit is refused, or stored with the flag ``over_credit_limit`` and a pending review, as the
setting ``credit_policy`` (``warn`` | ``refuse``) says. Settings live in ``app_settings`` so
every worker reads the same value at once; only the keys of :data:`SETTINGS` exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationError
from ..models import CREDIT_POLICIES, AppSetting, DistributorCredit, User
from .network import distributor
from .principal import Principal

SETTINGS_TABLE = AppSetting.__table__
CREDIT = DistributorCredit.__table__
USERS = User.__table__


@dataclass(frozen=True)
class SettingSpec:
    key: str
    choices: tuple[str, ...]
    default: str
    doc: str


SETTINGS: dict[str, SettingSpec] = {
    "credit_policy": SettingSpec(
        "credit_policy",
        CREDIT_POLICIES,
        "warn",
        "A sell-in over the distributor's credit limit: warn (stored, flagged for review) or "
        "refuse (an error naming the amount).",
    ),
    "stopped_buying_months": SettingSpec(
        "stopped_buying_months",
        tuple(str(n) for n in range(1, 25)),
        "3",
        "An outlet has stopped buying after this many months without a purchase (客户变动).",
    ),
}


def _spec(key: str) -> SettingSpec:
    spec = SETTINGS.get(key)
    if spec is None:
        raise NotFound(
            f"no setting {key!r} (settings: {', '.join(SETTINGS)})", fields={"key": "unknown"}
        )
    return spec


def list_settings(session: Session) -> list[dict]:
    """Every setting with its value (the default while never set), choices, who set it, when."""
    stored = {
        r.key: r
        for r in session.execute(
            select(
                SETTINGS_TABLE.c.key,
                SETTINGS_TABLE.c.value,
                SETTINGS_TABLE.c.updated_at,
                USERS.c.username,
            ).select_from(
                SETTINGS_TABLE.outerjoin(USERS, USERS.c.id == SETTINGS_TABLE.c.updated_by_id)
            )
        )
    }
    out = []
    for key, spec in SETTINGS.items():
        row = stored.get(key)
        out.append(
            {
                "key": key,
                "value": row.value if row else spec.default,
                "choices": list(spec.choices),
                "doc": spec.doc,
                "updated_at": row.updated_at if row else None,
                "updated_by": row.username if row else None,
            }
        )
    return out


def get_setting(session: Session, key: str) -> str:
    spec = _spec(key)
    value = session.scalar(select(SETTINGS_TABLE.c.value).where(SETTINGS_TABLE.c.key == key))
    return spec.default if value is None else value


def credit_policy(session: Session) -> str:
    return get_setting(session, "credit_policy")


def set_setting(session: Session, key: str, value: str, *, user: Principal | None) -> dict:
    """Set a setting (admins; the CLI acts as the system); a value outside its choices is a
    422 naming ``value``."""
    spec = _spec(key)
    value = (value or "").strip().lower()
    if value not in spec.choices:
        message = f"must be one of {', '.join(spec.choices)}"
        raise ValidationError(f"{key}: {message}", fields={"value": message})
    uid = user.id if user is not None else None
    stmt = insert(SETTINGS_TABLE).values(key=key, value=value, updated_by_id=uid)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SETTINGS_TABLE.c.key],
            set_={"value": value, "updated_by_id": uid, "updated_at": func.now()},
        )
    )
    return next(s for s in list_settings(session) if s["key"] == key)


# -- credit limits --------------------------------------------------------------------------


def credit_of(session: Session, distributor_id: int) -> dict:
    """The distributor's credit limit (None: no limit), what it owes the manufacturer now, and
    what is left (None without a limit)."""
    limit = session.scalar(
        select(CREDIT.c.credit_limit).where(CREDIT.c.distributor_id == distributor_id)
    )
    from .sales import SALES

    owed = session.scalar(
        select(func.coalesce(func.sum(SALES.c.amount - SALES.c.amount_paid), 0)).where(
            SALES.c.seller_id.is_(None),
            SALES.c.buyer_id == distributor_id,
            SALES.c.amount_paid < SALES.c.amount,
        )
    )
    return {
        "credit_limit": limit,
        "debt": owed,
        "available": None if limit is None else limit - owed,
        "over_limit": limit is not None and owed > limit,
        "policy": credit_policy(session),
    }


def set_credit_limit(
    session: Session,
    distributor_code: str,
    credit_limit: Decimal | None,
    *,
    user: Principal | None,
) -> dict:
    """Set (or, with None, remove) the credit limit of a distributor ``user`` may see. A limit
    below what it owes now is allowed: its next sell-in is then over the limit."""
    ref = distributor(session, distributor_code, user=user, field="distributor")
    if credit_limit is not None and (credit_limit.is_nan() or credit_limit < 0):
        raise ValidationError(
            "a credit limit is a number ≥ 0", fields={"credit_limit": "must be ≥ 0"}
        )
    if credit_limit is None:
        session.execute(CREDIT.delete().where(CREDIT.c.distributor_id == ref.id))
    else:
        uid = user.id if user is not None else None
        stmt = insert(CREDIT).values(
            distributor_id=ref.id, credit_limit=credit_limit, updated_by_id=uid
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[CREDIT.c.distributor_id],
                set_={"credit_limit": credit_limit, "updated_by_id": uid, "updated_at": func.now()},
            )
        )
    return {
        "distributor_code": ref.code,
        "distributor_name": ref.name,
        **credit_of(session, ref.id),
    }
