"""The commands that run cells: `bench run` (cells here, one after another), `bench sweep` (a grid,
here, on Slurm or on Ray) and `bench rerun` (a stored run from its record)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from harness.cli.completion import complete_pairs, complete_tasks
from harness.cli.options import (
    PART_HELP,
    data_options,
    grid_options,
    make_tracker,
    performance_options,
    pool_option,
    ranks_option,
    tracking_options,
)
from harness.core.errors import BenchError

if TYPE_CHECKING:
    from harness.engine.distributed import Ranks, World
    from harness.engine.plan import RunSpec
    from harness.engine.resume import Action
    from harness.record.tracking import Tracker


@click.command(epilog="""\b
Examples:
  bench run --methods fast5,deepinv --task digits --seeds 0,1,2
  bench run --methods cmi:g_steps=5 --task cifar100 --pairs resnet34-resnet18 --device cuda
  bench run --methods fast5,deepinv --task digits --seeds 0,1,2 --resume   # after an interruption
  bench run --methods fast50_imagenet --task imagenet --device cuda --nproc-per-node 8   # one cell, 8 GPUs""")
@grid_options
@click.option("--task", "task_name", default="digits", show_default=True, help="Task name (see `bench list tasks`).",
              shell_complete=complete_tasks)
@click.option("--pairs", default=None, help="Comma-separated teacher-student pairs (default: the task's first).",
              shell_complete=complete_pairs)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--resume", is_flag=True,
              help="Continue KILLED resumable runs of these cells, skip FINISHED ones, start the rest.")
@click.option("--force", is_flag=True, help="With --resume: also take over RUNNING runs whose heartbeat is stale.")
# A sweep's cells end with their FINISHED line, which the sweep reports: no summary after it.
@click.option("--summary/--no-summary", default=True, hidden=True)
@performance_options
@pool_option
@ranks_option
# Set by --nproc-per-node for the ranks it starts; a launch by torchrun or srun is detected without it.
@click.option("--world-size", type=click.IntRange(min=1), default=None, hidden=True)
@data_options
@tracking_options
def run(methods, task_name, pairs, seeds, budget, device, sets, quiet, resume, force, summary, precision, compile_,
        pool, nproc_per_node, world_size, data_root, download, results_dir, tracking_uri) -> None:
    """Run every (method, pair, seed) cell and log each as an MLflow run."""
    from harness.core import interrupt
    from harness.core.cpu import bf16_warning_for
    from harness.core.devices import resolve_device
    from harness.engine import distributed
    from harness.engine.build import require_data
    from harness.engine.plan import plan_runs
    from harness.engine.resume import Action
    from harness.engine.runner import execute
    from harness.launch.ranks import relaunch

    if force and not resume:
        raise BenchError("--force only applies with --resume")
    world = launched_world(world_size)
    size = world.size if world.size > 1 else nproc_per_node
    specs = plan_runs(methods, task_name, pairs, seeds, budget, sets, data_root, download, precision, compile_, pool,
                      size)
    rank_device = resolve_device(device)
    require_data(specs)
    if world.is_main and size == world.size and (warning := bf16_warning_for(rank_device.type, [precision])):
        click.echo(warning, err=True)
    if size > world.size:  # start the ranks, which run this command again as one of them each
        enough_devices(rank_device, size)
        cell_plans(specs, make_tracker(results_dir, tracking_uri), resume, force, methods, task_name)  # errors now
        root = click.get_current_context().find_root()
        words = ["--debug"] * bool(root.params.get("debug")) + ["run", *command_words(("nproc_per_node",
                                                                                       "world_size"))]
        sys.exit(relaunch(size, words))

    interrupt.install()  # SIGTERM (pre-emption) ends like Ctrl-C: KILLED, resumable
    with distributed.joined(world, rank_device) as ranks, spoken_by_rank_zero(ranks):
        tracker = record_keeper(ranks, results_dir, tracking_uri)
        plans = ranks.on_main(lambda: cell_plans(specs, tracker, resume, force, methods, task_name))
        finished = []
        for spec, (action, previous) in zip(specs, plans):
            if action is Action.SKIP:
                click.echo(f"{spec.run_name}: already FINISHED (run {previous}), skipped")
                finished.append((spec, previous, "skipped (FINISHED before)"))
                continue
            try:
                interrupt.check()  # a stop that arrived between cells ends the command before the next
                run_id = execute(spec, tracker, device, show_progress=not quiet, resume_run=previous, ranks=ranks)
            except KeyboardInterrupt:
                click.echo(f"{spec.run_name}: interrupted; continue with the same command and --resume", err=True)
                sys.exit(130)
            click.echo(f"{spec.run_name}: FINISHED (run {run_id}{', resumed' if previous else ''})")
            finished.append((spec, run_id, "FINISHED, resumed" if previous else "FINISHED"))
        if summary:
            ranks.on_main(lambda: click.echo("\n" + summary_of(finished, tracker, results_dir, tracking_uri)))


def cell_plans(specs: list[RunSpec], tracker: Tracker, resume: bool, force: bool, methods: str,
               task_name: str) -> list[tuple[Action, str | None]]:
    """What to do with each cell, given the store: start it, or with --resume continue or skip it."""
    from harness.engine.resume import Action, choose

    plans = [choose(tracker.cell_runs(spec.task, spec.grid_key), force) if resume else (Action.NEW, None)
             for spec in specs]
    if resume and all(action is Action.NEW for action, _ in plans):
        raise BenchError(f"--resume: nothing to resume for {methods} on {task_name} (no KILLED resumable or "
                         f"FINISHED run of these cells in {tracker.uri})")
    return plans


def launched_world(world_size: int | None) -> World:
    """The launch this process is one of (torchrun, srun, or none), checked against --world-size."""
    from harness.engine.distributed import detect

    world = detect(os.environ)
    if world_size is not None and world_size != world.size:
        raise BenchError(f"--world-size {world_size}, but this process is one of {world.size} in its launch "
                         f"({world.launcher})")
    return world


def enough_devices(device, nproc: int) -> None:
    """One GPU per rank on this machine."""
    import torch

    if device.type == "cuda" and torch.cuda.device_count() < nproc:
        raise BenchError(f"--nproc-per-node {nproc}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                         f"one per process is needed")


def command_words(leave_out: tuple[str, ...]) -> list[str]:
    """The flags that give the running command its parameters again (defaults included), but those
    named in ``leave_out``: what the ranks it starts run."""
    ctx = click.get_current_context()
    words: list[str] = []
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name in leave_out:
            continue
        value = ctx.params[param.name]
        if param.is_flag and param.secondary_opts:
            words.append(param.opts[0] if value else param.secondary_opts[0])
        elif param.is_flag:
            words += [param.opts[0]] * bool(value)
        elif param.multiple:
            words += [word for item in value for word in (param.opts[0], str(item))]
        elif value is not None:
            words += [param.opts[0], str(value)]
    return words


def record_keeper(ranks: Ranks, results_dir: str, tracking_uri: str | None) -> Tracker:
    """Rank 0's tracking store (an error opening it stops every rank); the other ranks' MutedTracker."""
    from harness.record.tracking import MutedTracker

    opened: list[Tracker] = []
    ranks.on_main(lambda: opened.append(make_tracker(results_dir, tracking_uri)))
    return opened[0] if opened else MutedTracker(results_dir, tracking_uri)


@contextlib.contextmanager
def spoken_by_rank_zero(ranks: Ranks) -> Iterator[None]:
    """Rank 0 speaks for a run across ranks: the others' output and one-line errors (exit code 2)
    are dropped, their tracebacks are not (printed once the block is left)."""
    if ranks.is_main:
        yield
        return
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        try:
            yield
        except BenchError:
            sys.exit(2)


def summary_of(cells: list, tracker, results_dir: str, tracking_uri: str | None) -> str:
    """The cells of this `bench run`, their metric and synthesis time, where they are and what to
    run next."""
    from tabulate import tabulate

    from harness.report.leaderboard import format_seconds, format_value
    from harness.report.runs import PERCENT_METRICS

    rows = []
    for spec, run_id, status in cells:
        metrics = tracker.get_run(run_id).data.metrics
        metric = next((k.split("/")[1] for k in metrics if k.startswith("best/")), "acc")
        unit = " %" if metric in PERCENT_METRICS else ""
        rows.append((spec.run_name, f"best {metric} {format_value(metrics.get(f'best/{metric}'), 0, 1, metric)}{unit}",
                     format_seconds(metrics.get("time/synthesis_s")) if not spec.is_baseline else "",
                     status, run_id))
    where = [] if results_dir == "results" else ["--results-dir", results_dir]
    where += ["--tracking-uri", tracking_uri] if tracking_uri else []
    tasks = sorted({spec.task for spec, _, _ in cells})
    flags = " ".join(where)
    lines = [tabulate(rows, headers=["cell", "metric", "synthesis", "status", "run"], tablefmt="simple"),
             f"\nRuns are in {tracker.uri} (experiment {', '.join(f'dfkd/{t}' for t in tasks)}). Next:"]
    lines += [f"  bench leaderboard --task {task} {flags}".rstrip() for task in tasks]
    lines += [f"  bench serve {flags}".rstrip() + "                # the MLflow UI: compare runs, curves, samples"]
    return "\n".join(lines)


@click.command(epilog="""\b
Examples:
  bench sweep --methods fast5,cmi --tasks digits,fashion-mnist --seeds 0,1,2 --jobs 2
  bench sweep --methods fast5 --tasks cifar100 --launcher slurm --slurm-partition gpu \\
      --tracking-uri http://tracking-host:5000""")
@grid_options
@click.option("--tasks", default="digits", show_default=True, help="Comma-separated tasks.",
              shell_complete=complete_tasks)
@click.option("--pairs", default=None, help="Comma-separated pairs, for every task (default: each task's first).",
              shell_complete=complete_pairs)
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (each cell gets its own GPU).")
@click.option("--launcher", type=click.Choice(["local", "slurm", "ray"]), default="local", show_default=True,
              help="Where cells run: this machine, Slurm (submitit) or Ray.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="local: cells at once (default: one per GPU, else 1); ray: CPUs of the local Ray instance.")
@click.option("--force", is_flag=True, help="Also take over RUNNING cells whose heartbeat is stale.")
@click.option("--part", type=click.Path(dir_okay=False), default=None,
              help=PART_HELP + " Its cells are not run again.")
@click.option("--slurm-partition", default=None, help="slurm: the partition.")
@click.option("--gpus-per-job", type=click.IntRange(min=0), default=None,
              help="slurm: GPUs per node of a cell (default: 1, or 0 with --device cpu); more than one runs "
                   "the cell across them (DDP, one task per GPU).")
@click.option("--nodes", type=click.IntRange(min=1), default=1, show_default=True,
              help="slurm: nodes per cell; more than one runs the cell across all of their GPUs.")
@click.option("--timeout-min", type=click.IntRange(min=1), default=1440, show_default=True,
              help="slurm: a job's time limit; a job that reaches it is requeued (up to 3 times) and resumes.")
@click.option("--slurm-cluster", default=None, hidden=True)  # submitit's in-process "debug" cluster (tests)
@click.option("--ray-address", default=None, help="ray: the cluster to join (default: a local Ray instance).")
@click.option("--data-root", default=None, type=click.Path(file_okay=False),
              help="Dataset root (default: $DFKD_DATA, else the user cache).")
@performance_options
@pool_option
@tracking_options
def sweep(methods, tasks, pairs, seeds, budget, device, sets, launcher, jobs, force, part, slurm_partition,
          gpus_per_job, nodes, timeout_min, slurm_cluster, ray_address, data_root, precision, compile_, pool,
          results_dir, tracking_uri) -> None:
    """Run a grid (methods x tasks x pairs x seeds), each cell one `bench run`, here, on Slurm or on Ray;
    cells FINISHED in the store are skipped, resumable ones resumed. Ends with each task's leaderboard."""
    from harness.launch.sweep import Launch, expand
    from harness.launch.sweep import run as run_sweep
    from harness.report.leaderboard import build
    from harness.report.parts import finished_cells, load_part
    from harness.report.render import render

    launch = Launch(launcher, device, jobs, slurm_partition, gpus_per_job, timeout_min, slurm_cluster, ray_address,
                    nodes)
    specs = expand(methods, tasks, pairs, seeds, budget, sets, data_root, launch, precision, compile_, pool)
    finished = finished_cells(load_part(part)) if part else {}
    tracker = make_tracker(results_dir, tracking_uri)
    try:
        report = run_sweep(specs, tracker, launch, sets, data_root, force, finished)
    except KeyboardInterrupt:
        click.echo("sweep interrupted: the same command resumes it", err=True)
        sys.exit(130)
    for task, task_budget in report.budgets.items():
        click.echo(f"\n{task}, budget {task_budget}:\n"
                   + render(build(tracker.runs(task), budget=task_budget, task=task), "github"))
    if report.failed:
        click.echo(f"{len(report.failed)} cell(s) failed:", err=True)
        for cell, outcome in report.failed:
            click.echo(f"  {cell.label}: exit {outcome.returncode}: {outcome.last_line} (log: {cell.log})", err=True)
        sys.exit(1)


@click.command(epilog="""\b
Examples:
  bench rerun 0123abcd...                              # a run of this store
  bench rerun 0123abcd... --from results/runs/digits.csv  # a committed run, on a fresh clone""")
@click.argument("run_id")
@click.option("--from", "source", type=click.Path(dir_okay=False), default=None,
              help="Read the run's record from a `bench export` file (e.g. results/runs/digits.csv).")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
              help="Override a recorded config field (the re-run is then another cell).")
@click.option("--device", default="auto", show_default=True)
@click.option("--quiet", is_flag=True)
@data_options
@tracking_options
def rerun(run_id, source, sets, device, quiet, data_root, download, results_dir, tracking_uri) -> None:
    """Re-run a cell from its record alone (config, seed, teacher hash), as a new run."""
    from harness.core.devices import resolve_device
    from harness.engine.runner import execute
    from harness.launch.rerun import (
        record_from_export,
        record_from_store,
        spec_from_record,
    )

    if source:
        tags, params = record_from_export(source, run_id)
    else:
        tags, params = record_from_store(make_tracker(results_dir, tracking_uri, create=False), run_id)
    spec = spec_from_record(tags, params, run_id, data_root, download, sets)
    resolve_device(device)
    tracker = make_tracker(results_dir, tracking_uri)
    new_id = execute(spec, tracker, device, show_progress=not quiet, extra_tags={"dfkd.rerun_of": run_id})
    click.echo(f"{spec.run_name}: FINISHED (run {new_id}, re-run of {run_id})")
