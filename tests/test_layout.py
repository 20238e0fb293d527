"""The shape of the code (issue 12): faces (web/, api/, commands/) parse, call one domain or
analysis function and render; they run no SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SQL = re.compile(r"(?<![\w])(select|text)\(|\.execute\(|get_session\(\)\.query")
BUDGET = re.compile(r"^_FACE_SQL_BUDGET = (\d+)", re.M)


def test_faces_run_no_sql():
    over = []
    for face in ("web", "api", "commands", "ogc"):
        for path in sorted((ROOT / "geo_crm" / face).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            hits = [i for i, line in enumerate(text.splitlines(), 1) if SQL.search(line)]
            allowed = int(m.group(1)) if (m := BUDGET.search(text)) else 0
            if len(hits) > allowed:
                over.append(f"{path.relative_to(ROOT)}: SQL on lines {hits} (budget {allowed})")
    assert not over, "faces call domain/analysis functions; they run no SQL:\n" + "\n".join(over)


# -- the layer rule, as data, checked on the real import graph ---------------------------------

FACES = ("geo_crm.web", "geo_crm.api", "geo_crm.commands", "geo_crm.ogc")
HTTP = ("flask", "werkzeug", "flask_wtf", "click")

# package -> what nothing inside it may import (a module or anything below it). Faces may import
# domain, analysis, io and maps; the layers below them never reach up.
NEVER_IMPORTS: dict[str, tuple[str, ...]] = {
    "geo_crm.domain": (*FACES, "geo_crm.auth", "geo_crm.maps", "geo_crm.reports", "geo_crm.jobs"),
    "geo_crm.analysis": (*FACES, "geo_crm.auth", "geo_crm.reports", "geo_crm.jobs"),
    "geo_crm.io": (*FACES, "geo_crm.auth"),
    "geo_crm.demo": (*FACES, "geo_crm.auth"),
    "geo_crm.maps": (*FACES, "geo_crm.auth", "geo_crm.db", "geo_crm.domain"),
    "geo_crm.analysis.geometry": ("geo_crm.domain", "geo_crm.db", "geo_crm.maps"),
    "geo_crm.auth": ("geo_crm.web", "geo_crm.api", "geo_crm.commands", "geo_crm.ogc"),
}
# HTTP stays in the faces and auth/; below them only the Flask glue may import it, lazily
HTTP_FREE = ("geo_crm.domain", "geo_crm.analysis", "geo_crm.io", "geo_crm.demo", "geo_crm.maps")
HTTP_GLUE = {"geo_crm.maps.assets": "blueprint() serves the vendored Leaflet files"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only(tree: ast.AST) -> set[int]:
    """Nodes under ``if TYPE_CHECKING:``: annotations only, nothing runs them."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inside.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return inside


def import_graph() -> dict[str, set[str]]:
    """Module -> every module it imports at run time (function-level imports included)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / "geo_crm").rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_only(tree)
        targets = graph.setdefault(module, set())
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                targets.add(target)
                # ``from . import x`` names modules too
                targets.update(f"{target}.{alias.name}" for alias in node.names)
    return graph


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of ``graph`` that :data:`NEVER_IMPORTS` or :data:`HTTP_FREE` forbids."""
    broken = []
    for module, targets in sorted(graph.items()):
        for package, forbidden in NEVER_IMPORTS.items():
            if not _within(module, package):
                continue
            for target in sorted(targets):
                for banned in forbidden:
                    if _within(target, banned) and not _within(module, banned):
                        broken.append(f"{module} imports {target} ({package} ↛ {banned})")
        if any(_within(module, p) for p in HTTP_FREE) and module not in HTTP_GLUE:
            for target in sorted(targets):
                if target.split(".")[0] in HTTP:
                    broken.append(f"{module} imports {target} (HTTP stays in faces and auth/)")
    return sorted(set(broken))


def test_import_layers():
    graph = import_graph()
    assert len(graph) > 100 and "geo_crm.db.hotpath" in graph["geo_crm.domain.outlets"]
    broken = layer_violations(graph)
    assert not broken, "the layer rule (docs/layout.md):\n" + "\n".join(broken)


def test_the_layer_rule_catches_wrong_imports():
    graph = {
        "geo_crm.domain.x": {"geo_crm.web.maps", "flask", "geo_crm.analysis.geometry.hexgrid"},
        "geo_crm.maps.y": {"geo_crm.db.hotpath", "geo_crm.analysis.region_maps"},
        "geo_crm.analysis.z": {"geo_crm.api.framework"},
        "geo_crm.web.w": {"geo_crm.domain.outlets", "geo_crm.maps.base", "flask"},
    }
    assert layer_violations(graph) == [
        "geo_crm.analysis.z imports geo_crm.api.framework (geo_crm.analysis ↛ geo_crm.api)",
        "geo_crm.domain.x imports flask (HTTP stays in faces and auth/)",
        "geo_crm.domain.x imports geo_crm.web.maps (geo_crm.domain ↛ geo_crm.web)",
        "geo_crm.maps.y imports geo_crm.db.hotpath (geo_crm.maps ↛ geo_crm.db)",
    ]
