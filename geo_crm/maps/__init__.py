"""Electronic maps (Folium/Leaflet) built from analysis and domain results; this package knows
no SQL and never opens a Session.

``base`` draws the region skeleton, ``coverage``/``gaps``/``density``/``network``/``history``
build one map each (``region`` picks the one of a kind), ``points`` and ``aggregate`` keep
large networks fast, ``safe`` escapes user text, ``assets`` serves Leaflet from installed
packages (no CDN); ``elements`` inlines the maps' own script and styles
(``geo_crm/static/maps``). See docs/maps.md.
"""

from .templates import install as _compile_templates_once

_compile_templates_once()  # maps.templates: Folium's per-map templates compiled once a process
