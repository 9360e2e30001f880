"""``bench sweep``: a grid of cells, each one ``bench run`` subprocess, on this machine, on Slurm
(submitit) or on Ray (``harness.launch.launchers``).

Scheduling across machines belongs to Slurm and Ray; this module only plans the grid and watches
the cells. The sweep process creates the tracking store and every experiment before any cell
starts (cells must never create a sqlite store concurrently), skips cells FINISHED in the store
(same grid key), resumes resumable ones, and reports each change.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from harness.core.errors import BenchError
from harness.launch.cells import EXTRAS, Cell, CellProgress, Launch, Outcome, make_cell, require
from harness.launch.launchers import LAUNCHERS

if TYPE_CHECKING:
    from harness.engine.plan import RunSpec
    from harness.record.tracking import Tracker

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class Report:
    budgets: dict[str, str]  # each swept task and its budget, for its leaderboard
    failed: list[tuple[Cell, Outcome]]


def expand(methods: str, tasks: str, pairs: str | None, seeds: str, budget: str | None, sets: tuple[str, ...],
           data_root: str | None, launch: Launch, precision: str = "fp32", compile: bool = False,
           pool: str = "memory") -> list[RunSpec]:
    """Every cell of the grid, once; bad input or an unusable launcher fails here, before the store."""
    from harness.core.devices import resolve_device
    from harness.engine.plan import plan_runs, split_list

    if launch.launcher in EXTRAS:
        require(launch.launcher)
    if launch.device not in DEVICES:
        raise BenchError(f"invalid device {launch.device!r} for a sweep. Valid: {', '.join(DEVICES)} "
                         f"(each cell gets its own GPU)")
    if launch.launcher == "local":
        resolve_device(launch.device)
    if launch.launcher != "slurm" and (launch.nodes > 1 or launch.gpus_per_job is not None):
        raise BenchError(f"--nodes and --gpus-per-job apply to --launcher slurm, not {launch.launcher} (one cell "
                         f"across the GPUs of this machine: bench run --nproc-per-node N)")
    if launch.launcher == "slurm" and not launch.slurm_cluster and not shutil.which("sbatch"):
        raise BenchError("--launcher slurm: no Slurm on this machine (sbatch not found); run the sweep on a "
                         "login node of the cluster")
    specs = [spec for task in split_list(tasks, "task")
             for spec in plan_runs(methods, task, pairs, seeds, budget, sets, data_root, precision=precision,
                                   compile=compile, pool=pool, world_size=launch.world_size)]
    return list({spec.grid_key: spec for spec in specs}.values())


def run(specs: list[RunSpec], tracker: Tracker, launch: Launch, sets: tuple[str, ...] = (),
        data_root: str | None = None, force: bool = False, finished: dict[str, str] | None = None) -> Report:
    """Create the experiments, skip FINISHED cells (in the store, or ``finished``: grid key -> run id
    of an earlier machine's part of the grid) and RUNNING ones (another process has them), launch
    the rest and wait for them."""
    from harness.engine.resume import Action, choose

    for task in dict.fromkeys(spec.task for spec in specs):
        tracker.experiment_id(task)
    if launch.launcher != "local" and tracker.is_local:
        click.echo(f"note: cells log to {tracker.uri}; cells on other machines need a tracking server "
                   f"(bench serve --backend-store-uri postgresql://..., then --tracking-uri http://...)", err=True)
    progress, cells = CellProgress(), []
    for spec in specs:
        label = f"{spec.task} {spec.run_name}"
        if finished and spec.grid_key in finished:
            progress(label, "skipped", f"FINISHED run {finished[spec.grid_key]} (--part)")
            continue
        try:
            action, run_id = choose(tracker.cell_runs(spec.task, spec.grid_key), force)
        except BenchError as busy:
            progress(label, "skipped", str(busy))
            continue
        if action is Action.SKIP:
            progress(label, "skipped", f"FINISHED run {run_id}")
            continue
        cells.append(make_cell(spec, tracker, action is Action.RESUME, force, launch.device, sets, data_root))
    click.echo(f"sweep: {len(specs)} cells, {len(cells)} to launch ({sum(c.resume for c in cells)} to resume) "
               f"with the {launch.launcher} launcher")
    outcomes = LAUNCHERS[launch.launcher](cells, progress, launch) if cells else []
    return Report({spec.task: spec.budget for spec in specs}, [(c, o) for c, o in outcomes if not o.ok])
