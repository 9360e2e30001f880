"""Shell completion of the registry's names: methods (and baselines), tasks, and the pairs of the
task on the command line so far. Comma-separated lists complete their last item. Listing names
imports no torch, so completion answers at once."""

from __future__ import annotations

import click
from click.shell_completion import CompletionItem


def _last_of_list(incomplete: str, names: list[str]) -> list[CompletionItem]:
    done, _, last = incomplete.rpartition(",")
    prefix = f"{done}," if done else ""
    return [CompletionItem(prefix + name) for name in names if name.startswith(last)]


def complete_methods(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from harness.core.registry import BASELINES, METHODS
    return _last_of_list(incomplete, [*BASELINES.names(), *METHODS.names()])


def complete_tasks(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from harness.core.registry import TASKS
    return _last_of_list(incomplete, TASKS.names())


def complete_pairs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from harness.core.errors import BenchError
    from harness.core.registry import TASKS, task_of
    given = ctx.params.get("task_name") or (ctx.params.get("tasks") or "").split(",")[0] or "digits"
    try:
        pairs = list(TASKS.get(task_of(given)).pairs)
    except BenchError:  # a mistyped --task: nothing to offer
        return []
    return _last_of_list(incomplete, pairs)
