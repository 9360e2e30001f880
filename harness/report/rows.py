"""What a table's rows and columns are, from the registry and the task: which rows are
baselines, their order, the speed-up reference, the pairs' order and headers. Nothing here
names a method or a pair; registering one is enough for every table and plot to place it."""

from __future__ import annotations

from functools import cache

from harness.core.errors import BenchError
from harness.core.registry import BASELINES, METHODS, TASKS, task_of


@cache
def row_names() -> tuple[str, ...]:
    """Every registered name in the paper's row order: baselines first, then methods."""
    return (*BASELINES.names(), *METHODS.names())


def teacher_name() -> str:
    """The first registered baseline is the teacher's row."""
    return BASELINES.names()[0]


def is_baseline(method: str | None) -> bool:
    return method is not None and method in BASELINES


def is_teacher(method: str | None) -> bool:
    return method == teacher_name()


def speedup_reference() -> str | None:
    """The method the speed-up column divides by (marked in the registry)."""
    return next((name for name in METHODS.names() if METHODS.about(name).speedup_reference), None)


def row_key(method: str | None, variant: str) -> tuple[int, int, str]:
    """Sort key: the method's place in the registry, then the plain method before its variants
    (``deepinv:g_steps=1000`` follows ``deepinv``), unknown methods last."""
    names = row_names()
    base = method or variant.split(":")[0]
    rank = names.index(base) if base in names else len(names)
    return (rank, 0 if variant == base else 1, variant)


def _pair_labels(task: str | None) -> dict[str, str]:
    """The task's pairs, in its column order, with their headers (empty for an unknown task)."""
    if not task:
        return {}
    try:
        task_cls = TASKS.get(task_of(task))
    except BenchError:  # runs of a task whose plugin is not installed here: ids, sorted
        return {}
    return {pair: task_cls.pair_labels.get(pair, pair) for pair in task_cls.pairs}


def pair_order(pairs, task: str | None) -> list[str]:
    known = [p for p in _pair_labels(task) if p in set(pairs)]
    return known + sorted(set(pairs) - set(known))


def pair_label(pair: str, task: str | None) -> str:
    return _pair_labels(task).get(pair, pair)
