"""The words of the business pages (issue 13b), in the one catalogue as section
``business_pages`` (the distributor business's own words are section ``business``)."""

from __future__ import annotations

from ..i18n import add_messages

add_messages("business_pages", {})
