"""The commands that read finished runs: `bench leaderboard`, `bench export` and `bench plot`."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.completion import complete_tasks
from harness.cli.options import PART_HELP, checked_output, make_tracker, task_runs, tracking_options, write_or_echo
from harness.core.config import BUDGETS
from harness.core.errors import BenchError


@click.command(epilog="""\b
Examples:
  bench leaderboard --task digits
  bench leaderboard --task digits --format html --output digits.html
  bench leaderboard --task digits --from results/runs/digits.csv --vs-paper""")
@click.option("--task", "task_name", required=True,
              shell_complete=complete_tasks)
@click.option("--format", "fmt", type=click.Choice(["github", "csv", "latex", "html", "json"]), default="github",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="Write to a file instead of stdout.")
@click.option("--budget", type=click.Choice(BUDGETS), default=None, help="Only runs of this budget.")
@click.option("--metric", "which", type=click.Choice(["best", "final"]), default="best", show_default=True,
              help="Best epoch or final epoch metric.")
@click.option("--time", "time_kind", type=click.Choice(["synthesis", "total"]), default="synthesis",
              show_default=True, help="Time shown in the cells.")
@click.option("--vs-paper", is_flag=True,
              help="Also show the published number and the difference (docs/methods.md#published-numbers).")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None,
              help="Render from a `bench export` file instead of the tracking store.")
@tracking_options
def leaderboard(task_name, fmt, output, budget, which, time_kind, vs_paper, source, results_dir,
                tracking_uri) -> None:
    """Tabulate a task's finished runs in the paper's layout: rows = teacher, baselines, methods;
    columns = pairs; cells = metric mean ± std over seeds [synthesis time]."""
    from harness.report.leaderboard import build
    from harness.report.render import render

    if output:
        checked_output(output)
    runs = task_runs(task_name, source, results_dir, tracking_uri)
    board = build(runs, budget=budget, which=which, time=time_kind, vs_paper=vs_paper, task=task_name)
    if fmt == "html":
        from harness.report.page import leaderboard_page

        tracker = None if source else make_tracker(results_dir, tracking_uri, create=False)
        origin = source or (tracker.uri if tracker else "")
        write_or_echo(leaderboard_page(board, runs, origin, tracker), output)
    else:
        write_or_echo(render(board, fmt), output)


@click.command(epilog="""\b
Examples:
  bench export --task digits --output results/runs/digits.csv""")
@click.option("--task", "task_name", required=True,
              shell_complete=complete_tasks)
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="A .csv or .parquet file.")
@click.option("--part", type=click.Path(dir_okay=False), default=None, help=PART_HELP + " Its runs are exported too.")
@tracking_options
def export(task_name, output, part, results_dir, tracking_uri) -> None:
    """Write a task's finished runs (tags, params, final metrics) to CSV or parquet."""
    from harness.report.exports import export as export_runs
    from harness.report.parts import load_part, merge

    checked_output(output)
    earlier = load_part(part) if part else None
    runs = task_runs(task_name, None, results_dir, tracking_uri)
    if earlier is not None:
        runs = merge(runs, earlier)
    if runs.empty:
        raise BenchError(f"no finished runs of task {task_name} in the store under {results_dir!r}: nothing to export")
    try:
        path = export_runs(runs, output)
    except OSError as error:
        raise BenchError(f"--output {output!r} cannot be written ({error.strerror})") from None
    click.echo(f"wrote {len(runs)} runs to {path}")


@click.command(epilog="""\b
Examples:
  bench plot --task digits
  bench plot --task digits --from results/runs/digits.csv --output digits-pareto""")
@click.option("--task", "task_name", required=True,
              shell_complete=complete_tasks)
@click.option("--output", default=None, type=click.Path(dir_okay=False),
              help="Output path without suffix (default: <results-dir>/leaderboards/<task>-pareto).")
@click.option("--budget", type=click.Choice(BUDGETS), default=None, help="Only runs of this budget.")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None, help="A `bench export` file.")
@tracking_options
def plot(task_name, output, budget, source, results_dir, tracking_uri) -> None:
    """Metric against synthesis time (log axis), error bars over seeds, the Pareto front; PNG and SVG,
    also logged to MLflow (experiment dfkd/<task>/reports) when read from the store."""
    from harness.report.plots import plot as make_plot

    runs = task_runs(task_name, source, results_dir, tracking_uri)
    base = Path(output) if output else Path(results_dir) / "leaderboards" / f"{task_name}-pareto"
    base.parent.mkdir(parents=True, exist_ok=True)
    data = make_plot(runs, task_name, base, budget=budget)
    if not source:
        make_tracker(results_dir, tracking_uri, create=False).log_report(task_name, [data.png, data.svg])
    click.echo(f"wrote {data.png} and {data.svg} ({len(data.points)} points)")
