"""The office package's shape, from its source: what it may import, who may import it, no cycles,
small modules."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE_ROOT = REPO_ROOT / "sputnik_edge"
OFFICE = "sputnik_edge.office"
# The stages and shared modules the office server builds on (attendance.types: the event type the
# central push takes; web: the pages' templates, translations and rendering).
ALLOWED = (
    "api",
    "central",
    "recognition",
    "vision",
    "config",
    "logging",
    "redaction",
    "attendance.types",
    "liveness.types",  # the "not checked" verdict its gateway reports
    "web",
)
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every sputnik_edge module named by an import anywhere in the file (functions included)."""
    found: set[str] = set()
    package = module_name(path).rsplit(".", 0 if path.name == "__init__.py" else 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {name for name in found if name == "sputnik_edge" or name.startswith("sputnik_edge.")}


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE_ROOT.rglob("*.py")}


def test_nothing_outside_the_office_the_cli_and_the_tools_imports_it() -> None:
    offenders = [
        f"{name} -> {target}"
        for name, path in modules().items()
        # The CLI starts it; the tools benchmark it.
        if not name.startswith((OFFICE, "sputnik_edge.cli", "sputnik_edge.tools"))
        for target in imports(path)
        if target == OFFICE or target.startswith(OFFICE + ".")
    ]
    assert not offenders


def test_the_office_imports_only_what_it_builds_on() -> None:
    known = modules()
    offenders = []
    for name, path in known.items():
        if not name.startswith(OFFICE):
            continue
        for target in imports(path):
            if target not in known and target != "sputnik_edge":
                continue  # `from pkg import name` also lists pkg.name, which may not be a module
            inside = target.removeprefix("sputnik_edge.")
            ok = (
                target == "sputnik_edge"  # __version__
                or target.startswith(OFFICE)
                or any(inside == a or inside.startswith(a + ".") for a in ALLOWED)
            )
            if not ok:
                offenders.append(f"{name} -> {target}")
    assert not offenders


def test_no_import_cycle_inside_the_office() -> None:
    known = {n: p for n, p in modules().items() if n.startswith(OFFICE)}
    graph = {n: {t for t in imports(p) if t in known and t != n} for n, p in known.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_office_modules_stay_small() -> None:
    big = {
        name: n
        for name, path in modules().items()
        if name.startswith(OFFICE) and (n := len(path.read_text().splitlines())) >= MAX_LINES
    }
    assert not big
