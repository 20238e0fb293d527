"""Server-side forms of the business pages: read typed values from a posted form with errors
by field, and turn the domain's (and the database's) errors into errors beside the fields.

The domain names fields as the API's bodies do (``amount``, ``schedule.0.by_day``,
``support.1.kind``); a form maps those names to its inputs (``renames``), and anything it
cannot place is shown at the top of the form (``_form``). Messages are shown in the page's
language: the domain's fixed problems ("negative", "stale" …) have Chinese in the catalogue,
and the common sentences with values ("no product with SKU 'X'") are matched by pattern.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import MultiDict

from ..db.translate import translate
from ..errors import Conflict, GeoCrmError, NotFound
from ..i18n import Translator
from . import business_messages  # noqa: F401 - the pages' words in the catalogue

FORM = "_form"  # errors that belong to no one field
CONFLICT = "_conflict"  # a stale version: the form says so and shows what is stored now

CONFLICT_MESSAGE = (
    "Someone else changed this meanwhile. Nothing was saved: the form shows what is stored "
    "now; check it and apply your change again."
)

# sentences with values: English pattern -> catalogue phrase with the same placeholders
_PATTERNS = (
    (re.compile(r"^no outlet with code '(?P<code>.*)'$"), "No outlet with code {code}"),
    (re.compile(r"^no product with SKU '(?P<sku>.*)'$"), "No product with SKU {sku}"),
    (re.compile(r"^(?P<date>\d{4}-\d\d-\d\d) is in the future$"), "{date} is in the future"),
    (re.compile(r"^no region with code '(?P<code>.*)'$"), "No region with code {code}"),
    (re.compile(r"^no user '(?P<name>.*)'$"), "No user {name}"),
    (re.compile(r"^day (?P<day>\d+) is not in .*$"), "Day {day} is not in the month"),
    (
        re.compile(r"^outlet '(?P<code>.*)' is a (?P<tier>\w+), not a distributor$"),
        "{code} is not a distributor",
    ),
    (re.compile(r"^above the month's (?P<value>.*)$"), "Above the month's target {value}"),
    (
        re.compile(r"^(?P<amount>\S+) is not quantity × unit_price = (?P<computed>\S+)$"),
        "{amount} is not quantity × unit price = {computed}",
    ),
    (
        re.compile(r"^the month (?P<month>\S+) is closed: only an admin may change its plans$"),
        "The month {month} is closed: only an admin may change its plans",
    ),
    (
        re.compile(
            r"^this sale takes the distributor's debt to (?P<debt>\S+) over its credit limit "
            r"of (?P<limit>\S+)$"
        ),
        "This sale takes the distributor's debt to {debt}, over its credit limit of {limit}",
    ),
    (re.compile(r"^one of .*$"), "Not one of the choices"),
)


def problem_text(t: Translator, message: str) -> str:
    """A domain problem in the page's language (the English one when nothing matches)."""
    message = str(message)
    if t.lang == "en":
        return message
    for pattern, phrase in _PATTERNS:
        match = pattern.match(message)
        if match:
            values = {k: v for k, v in match.groupdict().items() if k != "tier"}
            return t(phrase, **values)
    head = message[:1].upper() + message[1:]
    for candidate in (message, head):
        translated = t(candidate)
        if translated != candidate:
            return translated
    return message


def _field_of(name: str, renames: Mapping[str, str]) -> str:
    for prefix in ("body.", "query.", "path."):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    if name in renames:
        return renames[name]
    for key, target in renames.items():  # "schedule" covers "schedule.0.by_day"
        if key.endswith(".") and name.startswith(key):
            return target
    return name


@contextlib.contextmanager
def collecting(
    session, errors: dict[str, str], t: Translator, *, renames: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Run a write; a validation error or conflict (the domain's, or a database rule's) rolls
    the session back and lands in ``errors`` by form field instead of propagating. A missing
    object (404) propagates: the page answers 404 as the API does."""
    renames = renames or {}
    try:
        yield
    except NotFound:
        session.rollback()
        raise
    except GeoCrmError as exc:
        session.rollback()
        _collect(exc, errors, t, renames)
    except DBAPIError as exc:
        translated = translate(exc)
        if translated is None:
            raise
        session.rollback()
        _collect(translated, errors, t, renames)


def _collect(exc: GeoCrmError, errors: dict, t: Translator, renames: Mapping[str, str]) -> None:
    if isinstance(exc, Conflict) and "version" in (exc.fields or {}):
        errors[CONFLICT] = t(CONFLICT_MESSAGE)
        return
    placed = False
    for name, problem in (exc.fields or {}).items():
        target = _field_of(name, renames)
        errors.setdefault(target, problem_text(t, problem))
        placed = True
    if not placed or isinstance(exc, Conflict):
        errors.setdefault(FORM, problem_text(t, exc.message))


# -- reading values --------------------------------------------------------------------------


class FormReader:
    """Typed values of a posted form; a malformed value lands in ``errors`` under its name."""

    def __init__(self, form: MultiDict, t: Translator, errors: dict[str, str] | None = None):
        self.form = form
        self.t = t
        self.errors: dict[str, str] = {} if errors is None else errors

    def string(self, name: str, *, required: bool = False, max_length: int = 200) -> str | None:
        value = (self.form.get(name) or "").strip()
        if not value:
            if required:
                self.errors[name] = self.t("Required")
            return None
        if len(value) > max_length:
            self.errors[name] = self.t("At most {n} characters", n=max_length)
            return None
        return value

    def decimal(
        self, name: str, *, required: bool = False, places: int = 2, positive: bool = False
    ) -> Decimal | None:
        raw = self.string(name, required=required, max_length=40)
        if raw is None:
            return None
        try:
            value = Decimal(raw.replace(",", "").replace("，", ""))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            self.errors[name] = self.t("Enter a number")
            return None
        if value < 0 or (positive and value == 0):
            self.errors[name] = self.t("Must be above 0") if positive else self.t("Negative")
            return None
        if value != value.quantize(Decimal(1).scaleb(-places)):
            self.errors[name] = self.t("At most {n} decimal places", n=places)
            return None
        return value

    def date(self, name: str, *, required: bool = False) -> dt.date | None:
        raw = self.string(name, required=required, max_length=10)
        if raw is None:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            self.errors[name] = self.t("Enter a date (YYYY-MM-DD)")
            return None

    def integer(
        self, name: str, *, required: bool = False, low: int = 1, high: int = 2**31 - 1
    ) -> int | None:
        raw = self.string(name, required=required, max_length=12)
        if raw is None:
            return None
        if not re.fullmatch(r"\d+", raw) or not low <= int(raw) <= high:
            self.errors[name] = self.t("Enter a whole number from {low} to {high}", low=low,
                                       high=high)  # fmt: skip
            return None
        return int(raw)
