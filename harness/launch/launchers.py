"""The three ways cells start: on this machine (one slot per GPU, or shares of the cores), as a
Slurm job array (submitit, checkpointed before pre-emption) or as Ray tasks. Each takes the cells
and reports every change through the sweep's progress."""

from __future__ import annotations

import os
import queue
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import BenchError
from harness.launch.cells import (
    Cell,
    CellProgress,
    Launch,
    Outcome,
    finish,
    last_line,
    require,
    run_cell,
    start_cell,
    stored_resume,
)
from harness.record.provenance import CONCURRENT_ENV

if TYPE_CHECKING:
    from submitit.helpers import DelayedSubmission


def local_slots(device: str, jobs: int | None) -> list[dict[str, str]]:
    """One environment per concurrent cell: its own GPU, or its share of the cores (tagged concurrent)."""
    gpus: list[str] = []
    if device != "cpu":
        import torch
        if torch.cuda.is_available():
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            gpus = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    if gpus:
        if jobs and jobs > len(gpus):
            raise BenchError(f"--jobs {jobs}: this machine has {len(gpus)} GPU(s), and each cell gets its own")
        return [{"CUDA_VISIBLE_DEVICES": gpu} for gpu in gpus[:jobs or len(gpus)]]
    jobs = jobs or 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = str(max(1, cores // jobs))
    shared = {CONCURRENT_ENV: str(jobs)} if jobs > 1 else {}
    return [{"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, **shared}] * jobs


def launch_local(cells: list[Cell], progress: CellProgress, launch: Launch) -> list[tuple[Cell, Outcome]]:
    slots: queue.SimpleQueue = queue.SimpleQueue()
    environments = local_slots(launch.device, min(launch.jobs, len(cells)) if launch.jobs else None)
    for slot in environments:
        slots.put(slot)

    def work(cell: Cell) -> tuple[Cell, Outcome]:
        slot = slots.get()
        try:
            progress(cell.label, "running", ("resuming; " if cell.resume else "")
                     + ", ".join(f"{k}={v}" for k, v in slot.items()))
            outcome = run_cell(cell, cell.resume, slot)
        finally:
            slots.put(slot)
        progress.finished(cell, outcome)
        return cell, outcome

    with ThreadPoolExecutor(max_workers=len(environments)) as pool:
        return list(pool.map(work, cells))


class SlurmCell:
    """A Slurm job's callable, checkpointable in submitit's sense: before a pre-emption or the time
    limit, submitit calls ``checkpoint``, which stops the cell (SIGTERM: its run ends KILLED and
    resumable at its last epoch checkpoint) and resubmits the job to continue it with --resume."""

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.process: subprocess.Popen | None = None

    def __call__(self, resume: bool) -> Outcome:
        self.process = start_cell(self.cell, resume)
        return finish(self.cell, self.process)

    def checkpoint(self, resume: bool) -> DelayedSubmission:
        from submitit.helpers import DelayedSubmission

        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return DelayedSubmission(SlurmCell(self.cell), stored_resume(self.cell))


def launch_slurm(cells: list[Cell], progress: CellProgress, launch: Launch) -> list[tuple[Cell, Outcome]]:
    submitit = require("slurm")
    executor = submitit.AutoExecutor(folder=Path(cells[0].results_dir) / "submitit",
                                     cluster=launch.slurm_cluster or "slurm")
    gpus = launch.gpus_per_job if launch.gpus_per_job is not None else int(launch.device != "cpu")
    executor.update_parameters(name="dfkd-sweep", timeout_min=launch.timeout_min, gpus_per_node=gpus,
                               tasks_per_node=launch.world_size // launch.nodes, nodes=launch.nodes,
                               slurm_partition=launch.slurm_partition)
    with executor.batch():  # one job array
        jobs = [executor.submit(SlurmCell(cell), cell.resume) for cell in cells]
    for cell, job in zip(cells, jobs):
        progress(cell.label, "running", f"Slurm job {job.job_id}")
    outcomes = {}
    for job in submitit.helpers.as_completed(jobs, poll_frequency=0.2 if launch.slurm_cluster else 15):
        cell = cells[jobs.index(job)]
        try:
            outcome = job.result()
        except Exception as error:  # the job itself failed: cancelled, node failure, out of requeues
            outcome = Outcome(1, f"{type(error).__name__}: {last_line(str(error))}")
        progress.finished(cell, outcome)
        outcomes[cell] = outcome
    return [(cell, outcomes[cell]) for cell in cells]


def launch_ray(cells: list[Cell], progress: CellProgress, launch: Launch) -> list[tuple[Cell, Outcome]]:
    ray = require("ray")
    ray.init(address=launch.ray_address, num_cpus=None if launch.ray_address else launch.jobs,
             include_dashboard=False, log_to_driver=False)
    try:
        has_gpu = ray.cluster_resources().get("GPU", 0) >= 1
        if launch.device == "cuda" and not has_gpu:
            raise BenchError("--device cuda: the Ray cluster has no GPU")
        task = ray.remote(num_cpus=1, num_gpus=int(has_gpu and launch.device != "cpu"))(run_cell)
        pending = {task.remote(cell, cell.resume): cell for cell in cells}
        for cell in cells:
            progress(cell.label, "running", "Ray task" + ("; resuming" if cell.resume else ""))
        outcomes = {}
        while pending:
            (ref,), _ = ray.wait(list(pending))
            cell = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except ray.exceptions.RayError as error:  # the task itself failed: a worker or node died
                outcome = Outcome(1, f"{type(error).__name__}: {last_line(str(error))}")
            progress.finished(cell, outcome)
            outcomes[cell] = outcome
        return [(cell, outcomes[cell]) for cell in cells]
    finally:
        ray.shutdown()


LAUNCHERS: dict[str, Callable[[list[Cell], CellProgress, Launch], list[tuple[Cell, Outcome]]]] = {
    "local": launch_local, "slurm": launch_slurm, "ray": launch_ray}
