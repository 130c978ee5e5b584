"""No import circle runs through the CLI: any of its modules can be imported first, alone."""

from __future__ import annotations

import ast
from pathlib import Path

import tenantry

SOURCE = Path(tenantry.__file__).parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in SOURCE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of the others, at module level or inside functions alike;
    importing `a.b.c` also runs the packages `a.b` and `a` first."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        names: list[str] = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0 and node.module, f"{module}: use absolute imports"
                names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        targets = {target for name in names if (target := known(name))}
        for target in list(targets):
            while target := target.rpartition(".")[0]:
                targets.add(target)
        graph[module] = {t for t in targets if t != module and not module.startswith(t + ".")}
    return graph


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += graph[module]
    return seen


def test_no_cli_module_imports_itself_back():
    graph = _imports(_modules())
    cli_modules = [m for m in graph if m.startswith("tenantry.cli") or m.endswith("cli")]
    assert {"tenantry.cli.main", "tenantry.cli.support", "tenantry.directory.cli"} <= set(
        cli_modules
    )
    circles = [m for m in cli_modules if m in _reaches(graph, m)]
    assert circles == []


def test_the_shared_cli_helpers_import_no_domain():
    reached = _reaches(_imports(_modules()), "tenantry.cli.support")
    outside_core = {m for m in reached if not m.startswith("tenantry.core.")}
    assert outside_core <= {"tenantry", "tenantry.cli"}  # the packages it sits in
