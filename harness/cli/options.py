"""What several commands share: the flag groups, the tracking store, checked output paths and
the runs a table is built from."""

from __future__ import annotations

import os
from pathlib import Path

import click

from harness.cli.completion import complete_methods
from harness.core.config import BUDGETS
from harness.core.errors import BenchError

RESULTS_HELP = "Holds the default tracking store (mlflow.db), artifacts and checkpoints."
PART_HELP = ("A `bench export` of this grid's cells finished on an earlier machine, from this same commit "
             "(a committed table too long for one machine).")



def data_options(func):
    func = click.option("--download", is_flag=True, help="Fetch the dataset if missing (torchvision).")(func)
    return click.option("--data-root", default=None, type=click.Path(file_okay=False),
                        help="Dataset root (default: $DFKD_DATA, else the user cache).")(func)


def grid_options(func):
    """The flags that pick and configure cells, the same for `run` and `sweep`."""
    func = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                        help="Override a config field for every selected method that has it (repeatable).")(func)
    func = click.option("--budget", type=click.Choice(BUDGETS), default=None,
                        help="How long each cell runs (default: the task's; "
                             "docs/methods.md#decision-budgets-and-schedule-scaling).")(func)
    func = click.option("--seeds", default="0", show_default=True, help="Comma-separated seeds.")(func)
    return click.option("--methods", required=True, shell_complete=complete_methods,
                        help="Comma-separated methods or variants, e.g. fast5,deepinv:g_steps=5.")(func)


def pool_option(func):
    return click.option("--pool", type=click.Choice(["memory", "disk"]), default="memory", show_default=True,
                        help="Where pool methods keep their images: on the device, or in the run's checkpoint "
                             "shards read back by DataLoader workers (data larger than memory, e.g. ImageNet). "
                             "Same numbers.")(func)


def ranks_option(func):
    return click.option("--nproc-per-node", type=click.IntRange(min=1), default=1, show_default=True,
                        help="Run each cell on this many processes of this machine (one GPU each, or CPU "
                             "processes): DistributedDataParallel through torch.distributed.run. A run started "
                             "by torchrun or srun joins its launch without it.")(func)


def compile_option(func):
    return click.option("--compile", "compile_", is_flag=True,
                        help="torch.compile the teacher's and student's forward passes.")(func)


def performance_options(func):
    func = compile_option(func)
    return click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32",
                        show_default=True,
                        help="Autocast forward passes (fp32 master weights; fp16 with loss scaling).")(func)


def tracking_options(func):
    func = click.option(
        "--tracking-uri", default=None,
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite under --results-dir).")(func)
    return click.option("--results-dir", default="results", show_default=True, type=click.Path(file_okay=False),
                        help=RESULTS_HELP)(func)


def make_tracker(results_dir: str, tracking_uri: str | None, create: bool = True):
    """The tracking store; read-only commands pass ``create=False`` and never create one."""
    from harness.record.tracking import Tracker
    try:
        tracker = Tracker(results_dir, tracking_uri, create=create)
    except OSError as error:
        raise BenchError(f"results directory {results_dir!r} cannot be written ({error.strerror})") from None
    tracker.check()
    return tracker


def checked_output(output: str) -> Path:
    """An ``--output`` path whose folder exists and can be written, checked before any work."""
    path = Path(output)
    folder = path.parent
    if not folder.is_dir():
        raise BenchError(f"the folder of --output {output!r} does not exist: create {str(folder)!r} first")
    if path.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BenchError(f"--output {output!r} cannot be written")
    return path


def write_or_echo(text: str, output: str | None) -> None:
    if output:
        try:
            checked_output(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise BenchError(f"--output {output!r} cannot be written ({error.strerror})") from None
        click.echo(f"wrote {output}")
    else:
        click.echo(text)


def task_runs(task_name: str, source: str | None, results_dir: str, tracking_uri: str | None):
    """A task's finished runs, from an export file (``--from``) or from the tracking store."""
    from harness.core.registry import TASKS, task_of
    from harness.report.exports import load_export

    TASKS.canonical(task_of(task_name))  # an unknown task is an error, never an empty table
    if source:
        runs = load_export(source)
        if "tags.dfkd.task" in runs.columns:
            runs = runs[runs["tags.dfkd.task"].astype(str) == task_name]
        return runs
    return make_tracker(results_dir, tracking_uri, create=False).runs(task_name)
