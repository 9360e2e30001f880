"""``bench``: the command line. Thin: parse flags, call the harness, print.

One module per group of commands (running cells, reading tables, teachers, exploring the
registry, serving, profiling); this one assembles them into the ``bench`` group, in the order
``bench --help`` lists them. Heavy imports (torch, mlflow) happen inside commands, so
``bench --help`` and ``bench list`` answer instantly. Bad input raises ``BenchError``: one line on
stderr, exit code 2.
"""

from __future__ import annotations

import os
import sys

import click

from harness import __version__
from harness.cli import explore, profile, running, serve, tables, teacher
from harness.cli.group import BenchGroup

PROGRAMS = ("bench", "dfkd-bench")  # the two entry points (pyproject's [project.scripts])


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
             epilog="""\b
Start here:
  bench run --methods fast5,deepinv --task digits     # two methods on the embedded task, CPU minutes
  bench leaderboard --task digits                      # their table, in the paper's layout
  bench serve                                          # the MLflow UI on the same store
Every command has examples: bench COMMAND -h""")
@click.version_option(__version__, "--version", prog_name="dfkd-bench")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def cli(debug: bool) -> None:
    """dfkd-bench: benchmark data-free knowledge distillation methods, tracked in MLflow."""


# The workflow: what is there, running cells, reading the results, then the tools around them.
for command in (explore.list_, explore.config, running.run, running.sweep, tables.leaderboard, tables.plot,
                tables.export, serve.serve, running.rerun, teacher.teacher, profile.profile):
    cli.add_command(command)


def main() -> None:
    """Named as it was called (``bench`` or ``dfkd-bench``): shell completion registers that name."""
    name = os.path.basename(sys.argv[0])
    cli(prog_name=name if name in PROGRAMS else "bench")
