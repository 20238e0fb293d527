"""Words of the maps added with the vector tiles and the legends' stack (zh-CN)."""

from ..i18n import add_messages

add_messages(
    "maps_legends",
    {
        "Legend": "图例",
        "Loading…": "加载中…",  # the region page's progress note (web/landing.py has it too)
    },
)
