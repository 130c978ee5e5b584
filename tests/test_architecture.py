"""The shape docs/design.md draws holds: no import circles, edges that point one way, small modules.

Read from the source with `ast`, so a rule broken anywhere in `src/tenantry` fails here with
the modules that break it named, before a reviewer has to find it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tenantry

PACKAGE = Path(tenantry.__file__).parent
# Folders that hold one domain each: models, service, API router, pages, CLI.
DOMAINS = {
    "auth",
    "directory",
    "domains",
    "guests",
    "engagements",
    "licensing",
    "partner",
    "scim",
    "signup",
    "tenants",
}
# Modules that only the assemblers (app.py, cli/) may import: the edges of a domain.
EDGES = {"router", "pages", "cli"}
ASSEMBLERS = {"tenantry.app", "tenantry.cli"}
MAX_LINES = 700


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "migrations" not in path.relative_to(PACKAGE).parts
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, known: set[str]) -> set[str]:
    """Every tenantry module the code imports, at the top or inside functions alike."""
    found: set[str] = set()

    def resolve(name: str) -> None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        # Importing `a.b.c` runs the packages `a` and `a.b` first: they are imported too.
        while name:
            if name in known:
                found.add(name)
            name = name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:  # only annotations live under TYPE_CHECKING
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tenantry"):
                    resolve(alias.name)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").startswith("tenantry")
        ):
            for alias in node.names:
                resolve(f"{node.module}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    graph = {}
    for name, path in sources.items():
        targets = _imported(ast.parse(path.read_text(encoding="utf-8")), known)
        # The packages a module sits in have started running before it did.
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
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
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in DOMAINS else None


def _edge_kind(module: str) -> str | None:
    """`router`, `pages` or `cli` when the module is one of a domain's edges."""
    if _domain_of(module) is None:
        return None
    for part in module.split(".")[2:]:
        stem = part.rpartition("_")[2]  # group_router, group_cli: edges too
        if stem in EDGES:
            return stem
    return None


def _assembler(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in ASSEMBLERS)


def test_no_import_circle() -> None:
    cycles = _cycles(_graph())
    assert cycles == [], "import circles (each line: modules that import each other):\n" + (
        "\n".join(" <-> ".join(cycle) for cycle in cycles)
    )


def test_core_and_shared_cli_support_import_no_domain() -> None:
    graph = _graph()
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.startswith("tenantry.core") or module == "tenantry.cli.support"
        for target in targets
        if _domain_of(target) is not None
    )
    assert offenders == []


def test_a_domain_never_imports_another_domains_router_or_pages() -> None:
    """A domain calls another's services; its API and its pages are its own business.

    A domain's CLI may reuse another's public lookups (a group by name): those run over the
    API like every command, and the CLI package is where they meet.
    """
    graph = _graph()
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if not _assembler(module)
        for target in targets
        if _edge_kind(target) in {"router", "pages"} and _domain_of(target) != _domain_of(module)
    )
    assert offenders == []


def test_services_know_nothing_of_their_edges() -> None:
    """Routers, pages and the CLI call services; a service never reaches back out."""
    graph = _graph()
    offenders = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _domain_of(module) is not None and _edge_kind(module) is None
        for target in targets
        if _edge_kind(target) is not None or target.startswith("tenantry.web")
    )
    assert offenders == []


def test_no_module_passes_the_size_limit() -> None:
    too_long = {
        name: count
        for name, path in _sources().items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these along their seams (limit {MAX_LINES} lines)"


def test_the_rules_catch_what_they_are_for() -> None:
    """The checks themselves: a circle, a reach into another domain's router, a long module."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _edge_kind("tenantry.directory.router") == "router"
    assert _edge_kind("tenantry.directory.pages.users") == "pages"
    assert _edge_kind("tenantry.licensing.group_router") == "router"
    assert _edge_kind("tenantry.licensing.group_cli") == "cli"
    assert _edge_kind("tenantry.directory.users") is None
    tree = ast.parse(
        "from tenantry.directory import router\ndef f():\n    import tenantry.core.db\n"
    )
    known = {"tenantry.directory.router", "tenantry.core.db", "tenantry.directory"}
    assert _imported(tree, known) == {
        "tenantry.directory",
        "tenantry.directory.router",
        "tenantry.core.db",
    }
    # A package that builds the CLI app would import itself back through its submodules.
    assert _cycles({"tenantry.cli": {"tenantry.cli.main"}, "tenantry.cli.main": {"tenantry.cli"}})
    guarded = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tenantry.core import db\n"
    )
    assert _imported(guarded, {"tenantry.core.db"}) == set()
