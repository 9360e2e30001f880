"""Knowledge about methods, baselines and pairs lives in the registry and in the method and task
files: no other module of the harness names one as a string literal (a new method or pair then
reaches every table, plot and command by being registered)."""

import ast
import re
from pathlib import Path

from harness.core.registry import BASELINES, METHODS, TASKS

ROOT = Path(__file__).resolve().parents[2]
# Literals that equal a registered name by coincidence: the student-training phase of the
# stopwatch (metric time/kd_s) is named like the KD baseline.
COINCIDENCES = {("harness/core/timing.py", "kd")}


def registered_literals() -> set[str]:
    names = {*METHODS.names(), *BASELINES.names()}
    for task in TASKS.names():
        names.update(TASKS.get(task).pairs)
    return names


def test_no_method_baseline_or_pair_name_outside_the_registry():
    names = registered_literals()
    found = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names
                    and (rel, node.value) not in COINCIDENCES):
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert found == []


def test_the_registry_knows_every_method_and_baseline():
    for registry in (METHODS, BASELINES):
        for name in registry.names():
            about = registry.about(name)
            assert registry.label(name) and about.paper, name
            assert registry.family(name) == registry.get(name).cls.__module__.rpartition(".")[2]
    assert [name for name in METHODS.names() if METHODS.about(name).speedup_reference] == ["deepinv"]


def test_every_method_links_to_its_section_of_the_methods_reference():
    anchors = set(re.findall(r'<a id="([^"]+)"', (ROOT / "docs" / "methods.md").read_text()))
    for registry in (METHODS, BASELINES):
        assert {name: registry.about(name).docs for name in registry.names()
                if registry.about(name).docs not in anchors} == {}


def test_every_citation_of_the_methods_reference_resolves():
    """Code, tests and the README cite docs/methods.md#anchor; each anchor must exist."""
    anchors = set(re.findall(r'<a id="([^"]+)"', (ROOT / "docs" / "methods.md").read_text()))
    cited = {}
    for path in [ROOT / "README.md", *ROOT.glob("harness/**/*.py"), *ROOT.glob("methods/*.py"),
                 *ROOT.glob("tasks/**/*.py")]:
        for anchor in re.findall(r"docs/methods\.md#([a-z0-9-]+)", path.read_text()):
            cited.setdefault(anchor, path.relative_to(ROOT).as_posix())
    assert {a: where for a, where in cited.items() if a not in anchors} == {}
