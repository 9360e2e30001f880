"""The package layout is the pipeline: each stage imports only itself and the stages before it,
the plugins (methods, tasks) only the core and the engine, and no module imports in a cycle.
Every import counts, including those inside functions (they are still dependencies)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The stages in pipeline order; a module may import from its own stage and the ones before it.
STAGES = ["harness.core", "harness.record", "harness.engine", "harness.report", "harness.launch", "harness.cli"]
PLUGINS = {"methods": {"harness.core", "harness.engine"}, "tasks": {"harness.core", "harness.engine"}}
PACKAGES = ("harness", "methods", "tasks")
# Modules kept at their old flat paths for plugins written against them (the README's names).
COMPATIBILITY = {"harness.task", "harness.config", "harness.synthesizer"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every first-party module this file imports (``from a import b`` counts a.b when b is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES and module_exists(name)}


def module_exists(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


GRAPH = {module_name(p): imports_of(p) - {module_name(p)}
         for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def stage_of(module: str) -> int | None:
    for index, stage in enumerate(STAGES):
        if module == stage or module.startswith(stage + "."):
            return index
    return None


def test_stages_import_only_themselves_and_earlier_stages():
    backwards = [(m, dep) for m, deps in GRAPH.items() for dep in deps
                 if stage_of(m) is not None and stage_of(dep) is not None and stage_of(dep) > stage_of(m)]
    assert backwards == []


def test_the_harness_never_imports_a_plugin():
    assert [(m, d) for m, deps in GRAPH.items() for d in deps
            if m.startswith("harness") and d.split(".")[0] in PLUGINS] == []


@pytest.mark.parametrize("plugin", sorted(PLUGINS))
def test_plugins_import_only_the_core_and_the_engine(plugin):
    allowed = PLUGINS[plugin]
    stray = [(m, d) for m, deps in GRAPH.items() if m.split(".")[0] == plugin for d in deps
             if d.startswith("harness") and d != "harness"
             and not any(d == a or d.startswith(a + ".") for a in allowed)]
    assert stray == []


def test_every_harness_module_belongs_to_a_stage():
    assert [m for m in GRAPH if m.startswith("harness.") and stage_of(m) is None and m not in COMPATIBILITY] == []


def test_compatibility_modules_only_reexport_the_core():
    for name in COMPATIBILITY:
        assert GRAPH[name] == {name.replace("harness.", "harness.core.")}


def test_no_import_cycle():
    """Depth-first search over module -> module edges (a package's __init__ counts as its own node)."""
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(GRAPH.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep] if dep in path else [node, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node, [node])
    assert cycles == []
