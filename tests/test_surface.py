"""Every route, OpenAPI operation and CLI command stays as recorded (issue 12 moved the code
under them, not the surface). Re-record deliberately: python tests/test_surface.py --write."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from geo_crm import create_app

GOLDEN = Path(__file__).parent / "golden" / "surface.json"


def _app():
    return create_app({"DATABASE_URL": "postgresql://surface@localhost/none", "SECRET_KEY": "x"})


def _cli_tree(command: click.Command, path: str = "geo-crm") -> list:
    out = [[path, sorted(p.name for p in command.params), (command.help or "").split("\n")[0]]]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            out += _cli_tree(command.commands[name], f"{path} {name}")
    return out


def surface() -> dict:
    from geo_crm import __version__
    from geo_crm.api.openapi import build_spec

    app = _app()
    routes = sorted(
        [rule.rule, rule.endpoint, sorted(rule.methods - {"HEAD", "OPTIONS"})]
        for rule in app.url_map.iter_rules()
    )
    with app.test_request_context():
        spec = build_spec(__version__)
    return {"routes": routes, "openapi": spec, "cli": _cli_tree(app.cli)}


def test_routes_openapi_and_cli_are_unchanged():
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = json.loads(json.dumps(surface(), sort_keys=True, ensure_ascii=False))
    assert now["routes"] == recorded["routes"]
    assert now["cli"] == recorded["cli"]
    assert now["openapi"] == recorded["openapi"]


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.write_text(
        json.dumps(surface(), sort_keys=True, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"wrote {GOLDEN}")
