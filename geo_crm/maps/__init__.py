"""Electronic maps (Folium/Leaflet) built from service results; this package knows no SQL.

``base`` draws the region skeleton, ``coverage``/``gaps``/``density``/``network``/``history``
build one map each, ``points`` and ``aggregate`` keep large networks fast, ``safe`` escapes
user text, ``assets`` serves Leaflet from installed packages (no CDN). See docs/maps.md.
"""
