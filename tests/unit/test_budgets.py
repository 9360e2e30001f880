"""Budget tables cannot fail silently: every (task, supported method, budget) resolves from an
explicit entry, the budgets are ordered smoke < quick <= paper in images synthesised, and the
budget's deviation note says exactly what it changed."""

from __future__ import annotations

import pytest

from harness.core.config import BUDGETS
from harness.core.errors import BenchError
from harness.core.registry import BASELINES, METHODS, TASKS
from harness.engine.plan import plan_runs, planned_images, supporting

CELLS = [(task, method) for task in TASKS.names() for method in supporting(TASKS.get(task))]


def test_the_registry_has_cells_of_every_kind():
    assert {"digits", "digits-seg", "cifar100", "nyuv2"} <= {task for task, _ in CELLS}
    assert len(CELLS) > 30


@pytest.mark.parametrize("task,method", CELLS)
def test_every_budget_has_an_explicit_entry_and_they_are_ordered(task, method):
    klass = TASKS.get(task)
    spec = METHODS.get(method) if method in METHODS else BASELINES.get(method)
    for budget in BUDGETS:
        assert spec.settings_key in klass.budgets[budget], f"{task} has no {budget} entry for {spec.settings_key}"
    cells = {budget: plan_runs(method, task, budget=budget)[0] for budget in BUDGETS}
    images = {budget: planned_images(spec, cell.config) for budget, cell in cells.items()}
    if images["paper"]:
        assert images["smoke"] < images["quick"] <= images["paper"], images
    epochs = {budget: getattr(cell.config, "epochs", 0) for budget, cell in cells.items()}
    assert epochs["smoke"] <= epochs["quick"] <= epochs["paper"], epochs


@pytest.mark.parametrize("task,method", CELLS)
def test_a_quick_runs_budget_note_names_exactly_the_fields_it_changed(task, method):
    quick, paper = plan_runs(method, task, budget="quick")[0], plan_runs(method, task, budget="paper")[0]
    changed = {name for name, value in vars(quick.config).items() if getattr(paper.config, name) != value}
    notes = [note for note in quick.deviations if note.startswith("budget quick:")]
    assert not [note for note in paper.deviations if note.startswith("budget")]
    if not changed:
        assert not notes
        return
    (note,) = notes
    for name in changed:
        assert f"{name} {getattr(quick.config, name)} (paper {getattr(paper.config, name)})" in note
    assert note.count("(paper ") == len(changed)


def test_a_missing_budget_entry_is_an_error_naming_the_task_and_family(monkeypatch):
    digits_seg = TASKS.get("digits-seg")
    monkeypatch.setitem(digits_seg.budgets, "quick", {k: v for k, v in digits_seg.budgets["quick"].items()
                                                      if k != "deepinv"})
    with pytest.raises(BenchError, match="task digits-seg has no 'quick' budget for deepinv"):
        plan_runs("deepinv", "digits-seg", budget="quick")
