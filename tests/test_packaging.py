"""The wheel carries every subpackage and the root-level folders the app needs at run time; the
runtime dependencies are exactly what the code imports; requirements.lock pins them all."""

from __future__ import annotations

import ast
import functools
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from geo_crm.resources import resource_dir

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = CONFIG["project"]
# the code shipped in the wheel: the package and the migrations (geo_crm.migrations)
SHIPPED_CODE = ("geo_crm", "migrations")
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def _requirements(*extras: str) -> list[Requirement]:
    found = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return found


def _third_party_imports(*folders: str) -> dict[str, set[str]]:
    """Top-level module → the files importing it (lazy imports inside functions and
    ``importlib.import_module("literal")`` included), stdlib and relative imports left out."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif _imported_by_name(node):
                    names = [node.args[0].value]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top != "geo_crm":
                        found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _imported_by_name(node: ast.AST) -> bool:
    """``importlib.import_module("name")`` or ``import_module("name")`` with a literal name."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = node.args[0]
    return (
        called == "import_module"
        and isinstance(first, ast.Constant)
        and isinstance(first.value, str)
        and not first.value.startswith(".")
    )


@functools.cache
def _distributions_of_modules() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    return {canonicalize_name(d) for d in _distributions_of_modules().get(module, ())}


def _pins() -> dict[str, str]:
    return {canonicalize_name(n): v for n, v in PIN.findall(LOCK.read_text(encoding="utf-8"))}


def test_every_subpackage_is_listed_for_the_wheel():
    listed = set(CONFIG["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "geo_crm").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found <= listed, f"add to pyproject [tool.setuptools] packages: {sorted(found - listed)}"


def test_every_static_file_is_package_data():
    """geo_crm/static/ (and any folder under it, e.g. static/maps/) goes into the wheel."""
    patterns = CONFIG["tool"]["setuptools"]["package-data"]["geo_crm"]
    package = ROOT / "geo_crm"
    shipped = {p for pattern in patterns for p in package.glob(pattern) if p.is_file()}
    files = {
        p for p in (package / "static").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert files, "geo_crm/static/ is empty"
    missing = sorted(str(p.relative_to(package)) for p in files - shipped)
    assert not missing, f"not package data (pyproject [tool.setuptools.package-data]): {missing}"


def test_resource_folders_resolve():
    assert (resource_dir("templates") / "base.html").is_file()
    assert (resource_dir("migrations") / "env.py").is_file()
    assert resource_dir("regions_data").is_dir()


def test_runtime_dependencies_are_exactly_what_the_shipped_code_imports():
    declared = {canonicalize_name(r.name) for r in _requirements()}
    imports = _third_party_imports(*SHIPPED_CODE)
    undeclared = {
        module: sorted(files)[:3]
        for module, files in imports.items()
        if not _distributions(module) & declared
    }
    assert not undeclared, (
        f"imported but not a runtime dependency in pyproject.toml: {undeclared}"
        " (a module of no installed distribution is listed too)"
    )
    used = set().union(*(_distributions(module) for module in imports))
    assert declared <= used, (
        f"runtime dependencies nothing in {', '.join(SHIPPED_CODE)} imports: "
        f"{sorted(declared - used)} (move them to an extra or drop them)"
    )


def test_every_installed_dependency_is_pinned_in_the_lock_within_its_specifier():
    """setup.sh installs requirements.lock only (--no-deps): the runtime dependencies and the
    test and serve extras must all be there, with extras of a dependency (psycopg[binary])."""
    pins = _pins()
    assert pins, "requirements.lock has no pins: run scripts/lock.sh"
    wrong = []
    for req in _requirements("test", "serve"):
        name = canonicalize_name(req.name)
        if name not in pins or not req.specifier.contains(pins[name], prereleases=True):
            wrong.append(f"{req} (lock: {pins.get(name, 'none')})")
        for extra in req.extras:
            for sub in map(Requirement, metadata.requires(req.name) or ()):
                if sub.marker and sub.marker.evaluate({"extra": extra}):
                    if canonicalize_name(sub.name) not in pins:
                        wrong.append(f"{sub.name} (from {req})")
    assert not wrong, f"regenerate requirements.lock with scripts/lock.sh: {wrong}"


def test_the_lock_is_hashed_and_names_no_local_index():
    text = LOCK.read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.strip())
    assert len(entries) == len(_pins())
    assert all("--hash=sha256:" in entry for entry in entries)
    assert not re.search(r"file:|/opt/|--index-url|--extra-index-url|--find-links|^-e ", text, re.M)


def test_the_tests_import_only_what_setup_installs():
    """A fresh .venv holds requirements.lock, nothing more: a test importing geopandas (the
    bench extra) or pypinyin (the build extra) would fail there."""
    pins = set(_pins())
    local = {p.stem for p in (ROOT / "tests").glob("*.py")}
    missing = {
        module: sorted(files)[:3]
        for module, files in _third_party_imports("tests").items()
        if module not in local and not _distributions(module) & pins
    }
    assert not missing, f"imported by tests but not in requirements.lock: {missing}"
