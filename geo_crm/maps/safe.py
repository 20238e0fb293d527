"""One escape for user-typed text on maps, safe in every context such text lands in.

Folium puts popup and tooltip content inside JavaScript template literals, GeoJsonPopup and
GeoJsonTooltip set ``innerHTML`` from feature properties, and our own map scripts embed JSON in
``<script>``. Plain HTML escaping leaves `` ` ``, ``${``, ``\\`` and U+2028 live in those places,
so ``safe_text`` turns every character that is special in any of them into a numeric HTML
character reference. The result is HTML that displays the original text, and it contains no
character that can end or alter a JavaScript string, template literal, JSON string, HTML
attribute (quoted) or ``<script>`` element:

- HTML text and quoted attributes: ``& < > " '`` are references;
- JavaScript strings and template literals: no quote, backtick, ``$``, ``\\``, line break,
  U+2028/U+2029 is left;
- ``<script>`` content: no ``<``, so no ``</script>`` or ``<!--``;
- GeoJSON properties later given to ``innerHTML``: they are already HTML-escaped text.

The output must be *interpreted as HTML* (innerHTML, templates, attributes), never assigned with
``textContent``, where the references would show literally. Attributes must be quoted. Control
characters (other than tab and line breaks) and lone surrogates are dropped or replaced, so one
odd name cannot break a whole map's script.
"""

from __future__ import annotations

import math
from urllib.parse import quote

from markupsafe import Markup

_REFERENCES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "`": "&#96;",
    "$": "&#36;",
    "\\": "&#92;",
    "{": "&#123;",
    "}": "&#125;",
    "\n": "&#10;",
    "\r": "&#13;",
    "\t": "&#9;",
    "\u2028": "&#8232;",
    "\u2029": "&#8233;",
}
_TABLE: dict[int, str | None] = {ord(k): v for k, v in _REFERENCES.items()}
# other C0 controls, DEL and the C1 controls: invisible, and NUL upsets parsers
for _code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]:
    _TABLE.setdefault(_code, None)
# lone surrogates cannot be encoded as UTF-8 at all
for _code in range(0xD800, 0xE000):
    _TABLE[_code] = "\ufffd"


def safe_text(value: object) -> Markup:
    """User text as HTML that shows exactly that text, inert in HTML, JS and JSON contexts.

    ``None`` becomes an empty string; numbers are written with ``str``.
    """
    if value is None:
        return Markup("")
    if isinstance(value, float) and not math.isfinite(value):
        return Markup("")
    text = value if isinstance(value, str) else str(value)
    return Markup(text.translate(_TABLE))


def safe_href(prefix: str, key: object) -> Markup:
    """A link to ``prefix`` + one URL path segment made of user text (e.g. an outlet code).

    The segment is percent-encoded (so ``/``, ``?`` and ``#`` stay inside it) and the whole URL
    then goes through ``safe_text``; ``prefix`` is ours, a fixed path like ``/outlets/``.
    """
    segment = quote("" if key is None else str(key), safe="")
    return safe_text(prefix + segment)


def safe_link(prefix: str, key: object, label: object, *, target: str = "_top") -> Markup:
    """``<a href="prefix/key" target=…>label</a>`` with both parts escaped by this module."""
    return Markup(
        f'<a href="{safe_href(prefix, key)}" target="{safe_text(target)}">{safe_text(label)}</a>'
    )
