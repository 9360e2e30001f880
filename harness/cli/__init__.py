"""``bench``: the command line. Thin: parse flags, call the harness, print.

One module per group of commands (running cells, reading tables, teachers, exploring the
registry, serving, profiling); this one assembles them into the ``bench`` group, in the order
``bench --help`` lists them. Heavy imports (torch, mlflow) happen inside commands, so
``bench --help`` and ``bench list`` answer instantly. Bad input raises ``BenchError``: one line on
stderr, exit code 2.
"""

from __future__ import annotations

import click

from harness.cli import explore, profile, running, serve, tables, teacher
from harness.cli.group import BenchGroup


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """dfkd-bench: benchmark data-free knowledge distillation methods, tracked in MLflow."""


for command in (running.run, running.sweep, running.rerun, tables.leaderboard, tables.export, tables.plot,
                teacher.teacher, explore.list_, explore.config, serve.serve, profile.profile):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="bench")
