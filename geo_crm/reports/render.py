"""What the PDF and the HTML pages share: the Jinja environment (autoescaped: every name a
user typed is text, never markup), the report's title and the cover's facts."""

from __future__ import annotations

import functools

import jinja2

from ..i18n import Translator
from ..resources import resource_dir
from . import (
    messages,  # noqa: F401 - adds the reports' words to the catalogue
    tables,
)
from .data import ReportData


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(resource_dir("templates"))),
        autoescape=True,  # .html or not: these templates only ever produce HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def translator(data: ReportData) -> Translator:
    return Translator(data.lang, data.zone)


def title(t, data: ReportData) -> str:
    if data.territory_of:
        return t("Distributor territory report")
    return t("Regional map report")


def facts(t, data: ReportData) -> list[tuple[str, str]]:
    items = tables.filter_items(t, data)
    if data.territory_of:
        name = data.distributor_name or data.territory_of
        items.insert(0, (t("Distributor"), t("Territory of {name}", name=name)))
    return items


def as_of(t, data: ReportData) -> str:
    return t.datetime(data.generated_at, "medium")  # in the display zone, its offset beside
