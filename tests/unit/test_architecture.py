"""The shape of the package, checked from its source with ``ast``: no import cycle, no module over
500 lines, shared modules free of stages, attendance free of the store, tools out of the runtime.

What counts as an import: every ``import`` / ``from ... import`` statement anywhere in a module
(module level, inside functions and classes, inside ``try``) and also the ones under
``if TYPE_CHECKING:``. Those do not run, but they are still a dependency a reader has to follow
(the API typed against the daemon's concrete class is exactly the coupling this layout removes),
so they are kept, and a failure marks them ``TYPE_CHECKING``. Two run-time imports are seen too:
``importlib.import_module("sputnik_edge....")`` with a literal name, and the CLI's
``load_tool(command, "<module>")``, which imports ``sputnik_edge.tools.<module>``. Other names built
at run time (an f-string, module paths inside a subprocess's command line) are not seen.

Importing ``a.b.c`` runs the ``__init__`` of ``a`` and ``a.b`` first; those implicit parent
imports are not edges (a package's ``__init__`` importing its own submodules would otherwise be a
cycle). Importing a package itself (``import pkg``, ``from pkg import name`` where ``name`` is not
a submodule) is an edge to that package's ``__init__`` module, named like the package.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = "sputnik_edge"
MAX_LINES = 500
SHARED = ("config", "logging", "metrics", "redaction", "backoff", "health")
# Shared modules import none of these; every other subpackage (office, ...) counts as a stage too.
STAGES = ("capture", "vision", "recognition", "attendance", "pipeline", "store", "central", "daemon", "api")
STAGES += ("cli", "tools")
ATTENDANCE_MUST_NOT_REACH = ("store", "pipeline", "daemon", "api")
# Functions that import a module named by a literal argument: name -> (argument index, prefix).
LOADERS = {"import_module": (0, ""), "load_tool": (1, f"{PACKAGE}.tools.")}


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    line: int
    type_only: bool  # under `if TYPE_CHECKING:`
    in_function: bool
    loader: str | None = None  # set when imported by a call such as load_tool(...)

    def describe(self) -> str:
        where = [f"line {self.line}"]
        if self.in_function:
            where.append("in a function")
        if self.type_only:
            where.append("TYPE_CHECKING")
        if self.loader:
            where.append(f"through {self.loader}()")
        return f"{self.source} -> {self.target} ({', '.join(where)})"


@dataclass
class ImportGraph:
    root: Path
    files: dict[str, Path]  # module name -> file
    edges: list[Edge]
    unresolved: list[str]  # internal imports naming no module of the package

    def targets(self, module: str) -> set[str]:
        return {e.target for e in self.edges if e.source == module}

    def edge(self, source: str, target: str) -> Edge:
        """The plainest of the imports from ``source`` of ``target`` (module level over the rest)."""
        found = [e for e in self.edges if e.source == source and e.target == target]
        return min(found, key=lambda e: (e.type_only, e.loader is not None, e.in_function, e.line))


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@dataclass(frozen=True, slots=True)
class _Found:
    module: str  # as written (relative when level > 0)
    level: int
    names: list[str] | None  # from `from module import names`; None for `import module`
    line: int
    type_only: bool
    in_function: bool
    loader: str | None = None


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, loaders: dict[str, tuple[int, str]]) -> None:
        self.loaders = loaders
        self.found: list[_Found] = []
        self._type_only = 0
        self._functions = 0

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._type_only += 1
            for child in node.body:
                self.visit(child)
            self._type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _function(self, node: ast.AST) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(
        self, module: str, level: int, names: list[str] | None, line: int, loader: str | None = None
    ) -> None:
        self.found.append(
            _Found(module, level, names, line, self._type_only > 0, self._functions > 0, loader)
        )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, 0, None, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._add(node.module or "", node.level, [a.name for a in node.names], node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in self.loaders:
            index, prefix = self.loaders[name]
            arg = node.args[index] if len(node.args) > index else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._add(prefix + arg.value, 0, None, node.lineno, loader=name)
        self.generic_visit(node)


def build_graph(root: Path, package: str, loaders: dict[str, tuple[int, str]] | None = None) -> ImportGraph:
    """The import graph of ``package`` whose folder is ``root / package``."""
    files = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    edges: list[Edge] = []
    unresolved: list[str] = []
    for source, path in files.items():
        visitor = _ImportVisitor(LOADERS if loaders is None else loaders)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        # The package a relative import starts from: the module itself for an __init__.
        base = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for f in visitor.found:
            name = f.module
            if f.level:
                up = base.split(".")
                up = up[: len(up) - (f.level - 1)] if f.level > 1 else up
                name = ".".join([*up, name]) if name else ".".join(up)
            if name != package and not name.startswith(package + "."):
                continue
            if f.names is None:  # import a.b.c
                targets = [name]
            else:  # from a.b import c: the submodule a.b.c if there is one, else a.b itself
                targets = [f"{name}.{n}" if f"{name}.{n}" in files else name for n in f.names]
            for target in dict.fromkeys(targets):
                if target not in files:
                    unresolved.append(f"{source} line {f.line}: {target}")
                    continue
                edges.append(Edge(source, target, f.line, f.type_only, f.in_function, f.loader))
    return ImportGraph(root, files, edges, unresolved)


def strongly_connected(graph: ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in no particular order."""
    succ = {m: sorted(graph.targets(m)) for m in graph.files}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in succ:
        if start in index:
            continue
        work = [(start, iter(succ[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out


def shortest_path(
    graph: ImportGraph, start: str, goals: Iterable[str], within: set[str] | None = None
) -> list[str]:
    """Modules from ``start`` to the nearest of ``goals`` (``start`` excluded as a goal unless
    reached again), or [] when none is reachable."""
    goal_set = set(goals)
    previous: dict[str, str] = {}
    frontier = [start]
    seen: set[str] = set()
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph.targets(node)):
                if within is not None and (child not in within or child == node):
                    continue  # a cycle through other modules, not a self-import
                if child in goal_set:
                    path = [child, node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return path[::-1]
                if child not in seen:
                    seen.add(child)
                    previous[child] = node
                    nxt.append(child)
        frontier = nxt
    return []


def describe_path(graph: ImportGraph, path: list[str]) -> str:
    return "\n      ".join(graph.edge(a, b).describe() for a, b in itertools.pairwise(path))


def cycles(graph: ImportGraph) -> list[str]:
    """One readable cycle per strongly connected component of more than one module, and every
    module importing itself."""
    found = []
    for component in strongly_connected(graph):
        if len(component) > 1:
            members = set(component)
            cycle = shortest_path(graph, component[0], [component[0]], within=members)
            found.append(f"cycle among {', '.join(component)}:\n      {describe_path(graph, cycle)}")
    for edge in graph.edges:
        if edge.source == edge.target:
            found.append(f"self-import: {edge.describe()}")
    return found


def in_package(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    g = build_graph(REPO_ROOT, PACKAGE)
    # Guard against a walk that sees nothing (wrong root, renamed package): the test would pass.
    assert len(g.files) > 40 and len(g.edges) > 100, (len(g.files), len(g.edges))
    assert f"{PACKAGE}.pipeline.engine" in g.files
    return g


# ---- the checker itself, on a made-up package (so a pass above means something) ----------------


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_checker_finds_cycles_through_every_kind_of_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a/__init__.py": "from pkg.a import b\n",  # a package importing its submodule
            "pkg/a/b.py": "def f():\n    from ..c import thing\n",  # relative, in a function
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a.b\n",
            "pkg/d.py": "from . import e\nimport os\n",
            "pkg/e.py": "from pkg import d\n",  # d <-> e through `from pkg import <submodule>`
            "pkg/f.py": "from pkg.f import x\n",  # self-import
            "pkg/g.py": "from pkg import VERSION\nfrom pkg.a import b, helper\n",
            "pkg/h.py": "from pkg.missing import x\n",
            "pkg/tools/__init__.py": "",
            "pkg/tools/t.py": "import pkg.i\n",
            "pkg/i.py": "import importlib\nimportlib.import_module('pkg.c')\nload_tool('t', 't')\n",
        },
    )
    g = build_graph(tmp_path, "pkg", loaders={"import_module": (0, ""), "load_tool": (1, "pkg.tools.")})
    assert g.targets("pkg.i") == {"pkg.c", "pkg.tools.t"}
    assert g.edge("pkg.i", "pkg.tools.t").loader == "load_tool"
    assert g.targets("pkg.g") == {"pkg", "pkg.a", "pkg.a.b"}  # a name of pkg.a is pkg.a's __init__
    assert g.targets("pkg.d") == {"pkg.e"}  # os is not ours
    assert g.edge("pkg.a.b", "pkg.c").in_function
    assert g.edge("pkg.c", "pkg.a.b").type_only
    assert g.unresolved == ["pkg.h line 1: pkg.missing"]
    found = cycles(g)
    assert len(found) == 4, found
    assert any("pkg.i, pkg.tools.t" in c and "through load_tool()" in c for c in found)
    assert any("pkg.a.b, pkg.c" in c and "TYPE_CHECKING" in c for c in found)
    assert any("pkg.d, pkg.e" in c for c in found)
    assert any(c.startswith("self-import: pkg.f -> pkg.f") for c in found)
    # pkg.a -> pkg.a.b is not a cycle: the implicit import of a parent package is no edge.
    assert not any("pkg.a," in c for c in found)


# ---- the package ---------------------------------------------------------------------------------


def test_every_internal_import_names_a_module(graph: ImportGraph) -> None:
    assert graph.unresolved == [], "\n".join(graph.unresolved)


def test_no_import_cycles(graph: ImportGraph) -> None:
    found = cycles(graph)
    assert not found, "import cycles:\n  " + "\n  ".join(found)


def test_no_module_over_500_lines(graph: ImportGraph) -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in graph.files.items()}
    over = sorted(((n, m) for m, n in sizes.items() if n > MAX_LINES), reverse=True)
    assert not over, f"modules over {MAX_LINES} lines:\n  " + "\n  ".join(f"{m}: {n}" for n, m in over)


def test_shared_modules_reach_no_stage(graph: ImportGraph) -> None:
    shared = [f"{PACKAGE}.{name}" for name in SHARED if f"{PACKAGE}.{name}" in graph.files]
    assert f"{PACKAGE}.config" in shared and f"{PACKAGE}.logging" in shared
    packages = {p.parent.name for p in (graph.root / PACKAGE).glob("*/__init__.py")}
    assert set(STAGES) <= packages, set(STAGES) - packages
    stages = {m for m in graph.files for s in packages if in_package(m, f"{PACKAGE}.{s}")}
    # Through any chain of imports, so a helper module in between does not hide a stage.
    bad = [path for m in shared if (path := shortest_path(graph, m, stages))]
    assert not bad, "shared modules importing a stage:\n  " + "\n  ".join(
        describe_path(graph, p) for p in bad
    )


def test_attendance_reaches_no_store_pipeline_daemon_or_api(graph: ImportGraph) -> None:
    attendance = [m for m in graph.files if in_package(m, f"{PACKAGE}.attendance")]
    assert len(attendance) >= 3, attendance  # types, tracker, policy
    forbidden = {m for m in graph.files for s in ATTENDANCE_MUST_NOT_REACH if in_package(m, f"{PACKAGE}.{s}")}
    bad = [path for m in attendance if (path := shortest_path(graph, m, forbidden))]
    assert not bad, "attendance depends on:\n  " + "\n  ".join(describe_path(graph, p) for p in bad)


def test_only_the_cli_imports_tools(graph: ImportGraph) -> None:
    """The runtime does not import ``sputnik_edge.tools``; the CLI's tool commands do, and the rest
    of the CLI only the light loader ``tools.extra``."""
    tools = f"{PACKAGE}.tools"
    extra = f"{tools}.extra"
    bad = []
    for e in graph.edges:
        if in_package(e.source, tools) or not in_package(e.target, tools):
            continue
        if e.source == f"{PACKAGE}.cli.tools":
            continue
        if in_package(e.source, f"{PACKAGE}.cli") and e.target == extra:
            continue
        bad.append(e.describe())
    assert not bad, "imports of tools outside the CLI's tool commands:\n  " + "\n  ".join(bad)
