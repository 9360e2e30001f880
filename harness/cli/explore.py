"""The commands that show what is registered and how a cell resolves: `bench list`, `bench config show`."""

from __future__ import annotations

import click

from harness.cli.completion import complete_methods, complete_pairs, complete_tasks
from harness.core.config import BUDGETS


@click.command("list", epilog="""\b
Examples:
  bench list methods --details
  bench list pairs --task cifar100""")
@click.argument("what", type=click.Choice(["methods", "baselines", "tasks", "pairs"]))
@click.option("--task", "task_name", default=None, help="For pairs: only this task's.",
              shell_complete=complete_tasks)
@click.option("--details", is_flag=True,
              help="methods, baselines: also the task kinds each supports and where docs/methods.md describes it "
                   "(imports the methods).")
def list_(what: str, task_name: str | None, details: bool) -> None:
    """List registered methods, baselines, tasks or teacher-student pairs."""
    from harness.core.registry import BASELINES, METHODS, TASKS

    if what == "tasks":
        for name in TASKS.names():
            click.echo(name)
    elif what in ("methods", "baselines"):
        from tabulate import tabulate

        registry = METHODS if what == "methods" else BASELINES
        rows = []
        for name in registry.names():
            row = [name, registry.label(name), registry.family(name), registry.about(name).paper]
            if details:
                cls = registry.get(name).cls
                row += [", ".join(sorted(cls.supports)) + (f" (task {', '.join(sorted(cls.tasks))} only)"
                                                           if cls.tasks else ""),
                        f"docs/methods.md#{registry.about(name).docs}" if registry.about(name).docs else ""]
            rows.append(row)
        headers = ["name", "label", "family", "paper"] + (["supports", "described in"] if details else [])
        click.echo(tabulate(rows, headers=headers, tablefmt="plain"))
    else:
        for name in [TASKS.canonical(task_name)] if task_name else TASKS.names():
            for pair, (teacher, student) in TASKS.get(name).pairs.items():
                click.echo(f"{name}\t{pair}\t(teacher {teacher}, student {student})")


@click.group(epilog="""\b
Examples:
  bench config show --method fast5 --task cifar100 --budget quick""")
def config() -> None:
    """Inspect resolved configurations."""


@config.command("show", epilog="""\b
Examples:
  bench config show --method fast5 --task cifar100 --budget quick
  bench config show --method cmi:g_steps=5 --task digits --set lr=0.05""")
@click.option("--method", "method", required=True, help="A method or variant, e.g. cmi:g_steps=5.",
              shell_complete=complete_methods)
@click.option("--task", "task_name", default="digits", show_default=True,
              shell_complete=complete_tasks)
@click.option("--pair", default=None,
              shell_complete=complete_pairs)
@click.option("--budget", type=click.Choice(BUDGETS), default=None)
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE")
def config_show(method, task_name, pair, budget, sets) -> None:
    """Print a cell's resolved config, each field with the layer that set it."""
    from tabulate import tabulate

    from harness.engine.plan import plan_runs

    spec = plan_runs(method, task_name, pair, "0", budget, sets)[0]
    rows = [(name, value, spec.resolved.sources[name]) for name, value in vars(spec.config).items()]
    click.echo(f"{spec.variant} on {spec.task}, pair {spec.pair}, budget {spec.budget}")
    click.echo(tabulate(rows, headers=["field", "value", "from"], tablefmt="github"))
    click.echo(f"schedule: {spec.config.schedule()}")
    click.echo(f"deviations: {'; '.join(spec.deviations) or 'none'}")
