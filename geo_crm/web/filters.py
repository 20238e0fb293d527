"""The map filter form (tier, distributor, product, period, radius, cell size, measure), parsed
from a query string with an error naming the field and the problem; the bounds are the
analyses' own (``analysis.params.LIMITS``)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.datastructures import MultiDict

from ..analysis.params import LIMITS, MEASURES
from ..analysis.params import MapFilters as MapFilters
from ..analysis.region_maps import DistributorRequired
from ..domain import network
from ..errors import ValidationError
from ..i18n import Translator
from ..models import TIERS
from .page_words import field_label

MAX_RADIUS_KM = LIMITS.max_radius_m / 1000.0
MIN_CELL_KM = LIMITS.min_cell_km
MAX_CELL_KM = LIMITS.max_cell_km
DISTRIBUTOR = "query.distributor"


def default_period(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last twelve months including the current one."""
    today = today or dt.date.today()
    month = today.month - 11
    year = today.year
    if month <= 0:
        month += 12
        year -= 1
    return dt.date(year, month, 1), today


def _number(args: MultiDict, name: str, t: Translator, problems: dict, *, lo: float, hi: float):
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        problems[f"query.{name}"] = t("must be a number")
        return None
    if not math.isfinite(value) or value <= 0:
        problems[f"query.{name}"] = t("must be greater than 0")
        return None
    if value < lo:
        problems[f"query.{name}"] = t("must be at least {limit}", limit=f"{lo:g}")
        return None
    if value > hi:
        problems[f"query.{name}"] = t("must be at most {limit}", limit=f"{hi:g}")
        return None
    return value


def _date(args: MultiDict, name: str, t: Translator, problems: dict) -> dt.date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        problems[f"query.{name}"] = t("must be a date (YYYY-MM-DD)")
        return None


def parse_filters(args: MultiDict, t: Translator, *, today: dt.date | None = None) -> MapFilters:
    """Read the form; every problem is reported at once, by field (HTTP 422)."""
    problems: dict[str, str] = {}
    tiers = [v for v in args.getlist("tier") if v]
    unknown = [v for v in tiers if v not in TIERS]
    if unknown:
        problems["query.tier"] = f"{t('unknown tier')}: {', '.join(unknown)}"
    f = MapFilters(
        tiers=[v for v in TIERS if v in tiers],
        distributor=(args.get("distributor") or "").strip() or None,
        product=(args.get("product") or "").strip() or None,
        date_from=_date(args, "from", t, problems),
        date_to=_date(args, "to", t, problems),
        radius_km=_number(args, "radius_km", t, problems, lo=0, hi=MAX_RADIUS_KM),
        cell_km=_number(args, "cell_km", t, problems, lo=MIN_CELL_KM, hi=MAX_CELL_KM),
        measure=(args.get("measure") or "amount").strip(),
    )
    if f.measure not in MEASURES:
        problems["query.measure"] = f"{', '.join(MEASURES)}"
    start, end = default_period(today)
    f.date_from = f.date_from or (start if f.date_to is None else f.date_to.replace(day=1))
    f.date_to = f.date_to or max(end, f.date_from)
    if f.date_to < f.date_from:
        problems["query.to"] = t("must not be before the start")
    if problems:
        first = next(iter(problems.items()))
        raise ValidationError(
            t("{field}: {problem}", field=field_label(t, first[0]), problem=first[1]),
            fields=problems,
        )
    return f


@contextmanager
def form_errors(t: Translator, f: MapFilters) -> Iterator[None]:
    """The form's distributor problems as the pages word them, in the page's language."""
    try:
        yield
    except network.NotADistributor:
        raise ValidationError(
            t("{code} is not a distributor", code=f.distributor),
            fields={DISTRIBUTOR: "not a distributor"},
        ) from None
    except network.UnknownDistributor:
        raise ValidationError(
            t("Unknown distributor {code}", code=f.distributor), fields={DISTRIBUTOR: "not found"}
        ) from None
    except DistributorRequired:
        raise ValidationError(
            t("Choose a distributor to see its network map"),
            fields={DISTRIBUTOR: "required for the network map"},
        ) from None
