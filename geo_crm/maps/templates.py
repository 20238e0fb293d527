"""Compile Folium's and branca's per-map Jinja templates once per process.

Rendering a map, branca wraps every element's rendered header, HTML and script in an
``Element(text)``, whose constructor compiles ``text`` as a Jinja template (``jinja2.Template``),
and folium's GeoJSON tooltips and popups compile their own constant template for each instance:
about 30 compilations per region map, the largest of them the page's embedded GeoJSON, which
Jinja lexes character by character only to write it out again unchanged.

:func:`install` (run when ``geo_crm.maps`` is imported) points the name ``Template`` in
``branca.element`` and ``folium.features`` at :func:`template`, which gives

- for a text without Jinja syntax (no ``{{``, ``{%``, ``{#``): what Jinja would render from it,
  without compiling — the text with its line breaks as ``\\n`` and one trailing line break
  dropped (Jinja's ``keep_trailing_newline=False``);
- for any other source: the template compiled once per process and kept (an LRU cache keyed by
  the source and the module's template class; Jinja templates may be rendered by many threads).

The page is the same string as before, byte for byte (``tests/test_map_templates.py``); the
classes' own templates, compiled when their modules are imported, are untouched.
"""

from __future__ import annotations

import functools
import re

import branca.element
import folium.features

_SYNTAX = re.compile(r"\{[{%#]")  # where Jinja's default delimiters start
_NEWLINES = re.compile(r"\r\n|\r|\n")  # jinja2.lexer.newline_re
_PATCHED = (branca.element, folium.features)  # the modules that compile while a map renders
_ORIGINAL = {module: module.Template for module in _PATCHED}


class Text:
    """A template without Jinja syntax: renders as Jinja would (default environment)."""

    __slots__ = ("text",)

    def __init__(self, source: str):
        text = _NEWLINES.sub("\n", source)
        self.text = text[:-1] if text.endswith("\n") else text

    def render(self, *args, **kwargs) -> str:
        return self.text


@functools.lru_cache(maxsize=512)
def _compiled(cls: type, source: str):
    return cls(source)


def _factory(cls: type):
    def template(source, *args, **kwargs):
        if args or kwargs or not isinstance(source, str):
            return cls(source, *args, **kwargs)  # an environment option: as asked, uncached
        if not _SYNTAX.search(source):
            return Text(source)
        return _compiled(cls, source)

    template.original = cls
    return template


def install() -> None:
    """Make rendering maps compile each template once per process (idempotent)."""
    for module in _PATCHED:
        if not hasattr(module.Template, "original"):
            module.Template = _factory(_ORIGINAL[module])


def uninstall() -> None:
    """Back to compiling per map (the benchmark's baseline and the equality test)."""
    for module in _PATCHED:
        module.Template = _ORIGINAL[module]


def installed() -> bool:
    return all(hasattr(module.Template, "original") for module in _PATCHED)
