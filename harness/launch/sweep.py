"""``bench sweep``: a grid of cells, each one ``bench run`` subprocess, on this machine, on Slurm
(submitit) or on Ray.

Scheduling across machines belongs to Slurm and Ray; this module only plans the grid and watches
the cells. The sweep process creates the tracking store and every experiment before any cell
starts (cells must never create a sqlite store concurrently), skips cells FINISHED in the store
(same grid key), resumes resumable ones, and reports each change. Module level imports no torch,
mlflow, submitit or ray: the runner imports it for one tag, and a missing extra is an error only
for the launcher that needs it.
"""

from __future__ import annotations

import importlib
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from harness.core.errors import BenchError
from harness.record.provenance import CONCURRENT_ENV

if TYPE_CHECKING:
    from submitit.helpers import DelayedSubmission

    from harness.engine.plan import RunSpec
    from harness.record.tracking import Tracker

FORWARDED = ("DFKD_", "MLFLOW_")  # teacher cache, data root, tracking credentials: every cell needs them
EXTRAS = {"slurm": ("submitit", "submitit"), "ray": ("ray", "Ray")}  # launcher -> (module, what it is)
DEVICES = ("auto", "cpu", "cuda")
# submitit has Slurm send USR2 before a job's time limit or pre-emption, and Slurm signals every
# process of the job step, the cell's too. The job's callable (SlurmCell.checkpoint) stops the cell
# cleanly; the cell must not die of USR2 first. An ignored signal stays ignored across exec.
IGNORE_USR2 = ("sh", "-c", 'trap "" USR2; exec "$@"', "sh")


@dataclass(frozen=True)
class Launch:
    """How cells start: the launcher and its options (``bench sweep -h``)."""

    launcher: str = "local"
    device: str = "auto"
    jobs: int | None = None
    slurm_partition: str | None = None
    gpus_per_job: int | None = None
    timeout_min: int = 1440
    slurm_cluster: str | None = None  # submitit's "debug" runs the jobs in-process (tests)
    ray_address: str | None = None


@dataclass(frozen=True)
class Cell:
    """One cell as a worker needs it: plain data, so that it travels to Slurm jobs and Ray tasks."""

    label: str  # "<task> <run name>", for progress lines
    task: str
    grid_key: str
    args: tuple[str, ...]  # `bench run` flags for exactly this cell, without --resume
    resume: bool  # a KILLED resumable run of this cell is in the store
    force: bool
    results_dir: str
    tracking_uri: str
    log: str  # the cell's output, appended over its attempts
    env: tuple[tuple[str, str], ...] = ()

    def command(self, resume: bool) -> list[str]:
        """With the worker's own Python: a Slurm or Ray worker may be another machine."""
        flags = ["--resume", *(["--force"] if self.force else [])] if resume else []
        return [sys.executable, "-m", "harness.cli", "run", *self.args, *flags]


@dataclass(frozen=True)
class Outcome:
    returncode: int
    last_line: str  # the cell's last output line: `bench run`'s one-line error when it failed

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Report:
    budgets: dict[str, str]  # each swept task and its budget, for its leaderboard
    failed: list[tuple[Cell, Outcome]]


class CellProgress:
    """One line per change of a cell, with the counts of cells done, running, failed and skipped."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(("done", "running", "failed", "skipped"), 0)
        self._lock = threading.Lock()  # the local launcher reports from its threads

    def __call__(self, label: str, state: str, detail: str = "") -> None:
        with self._lock:
            if state in ("done", "failed"):
                self.counts["running"] -= 1
            self.counts[state] += 1
            counts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
            click.echo(f"[{counts}] {label}: {state}" + (f" ({detail})" if detail else ""))

    def finished(self, cell: Cell, outcome: Outcome) -> None:
        if outcome.ok:
            self(cell.label, "done", outcome.last_line)
        else:
            self(cell.label, "failed", f"exit {outcome.returncode}: {outcome.last_line}")


def require(launcher: str) -> ModuleType:
    """The engine of a launcher with an extra (slurm, ray); a one-line error naming the install
    command when the extra is missing."""
    module, name = EXTRAS[launcher]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BenchError(f"--launcher {launcher} needs {name}: pip install 'dfkd-bench[{launcher}]'") from None


def expand(methods: str, tasks: str, pairs: str | None, seeds: str, budget: str | None, sets: tuple[str, ...],
           data_root: str | None, launch: Launch, precision: str = "fp32", compile: bool = False) -> list[RunSpec]:
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
    if launch.launcher == "slurm" and not launch.slurm_cluster and not shutil.which("sbatch"):
        raise BenchError("--launcher slurm: no Slurm on this machine (sbatch not found); run the sweep on a "
                         "login node of the cluster")
    specs = [spec for task in split_list(tasks, "task")
             for spec in plan_runs(methods, task, pairs, seeds, budget, sets, data_root, precision=precision,
                                   compile=compile)]
    return list({spec.grid_key: spec for spec in specs}.values())


def make_cell(spec: RunSpec, tracker: Tracker, resume: bool = False, force: bool = False, device: str = "auto",
              sets: tuple[str, ...] = (), data_root: str | None = None) -> Cell:
    """The cell's `bench run` flags. Only the --set fields its method has: `bench run` refuses the others."""
    from harness.core.config import parse_assignment

    own_sets = [s for s in sets if parse_assignment(s, "--set")[0] in spec.resolved.sources]
    results = tracker.results_dir.resolve()
    args = ("--methods", spec.variant, "--task", spec.task, "--pairs", spec.pair, "--seeds", str(spec.seed),
            "--budget", spec.budget, "--device", device, "--precision", spec.precision,
            *(["--compile"] if spec.compile else []), "--quiet", "--results-dir", str(results),
            "--tracking-uri", tracker.uri, *[word for s in own_sets for word in ("--set", s)],
            *(["--data-root", data_root] if data_root else []))
    log = results / "sweep-logs" / spec.task / f"{spec.run_name.replace('/', '_')}.log"
    env = tuple((k, v) for k, v in os.environ.items() if k.startswith(FORWARDED))
    return Cell(f"{spec.task} {spec.run_name}", spec.task, spec.grid_key, args, resume, force, str(results),
                tracker.uri, str(log), env)


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


# -- one cell, wherever it runs ---------------------------------------------------------------

def start_cell(cell: Cell, resume: bool, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    log = Path(cell.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **dict(cell.env), **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    with log.open("a") as out:
        return subprocess.Popen([*IGNORE_USR2, *cell.command(resume)], stdout=out, stderr=subprocess.STDOUT,
                                env=env)


def finish(cell: Cell, process: subprocess.Popen) -> Outcome:
    """Polls rather than blocks in ``wait()``, so that a signal handler (Slurm's checkpoint) can wait too."""
    while process.poll() is None:
        time.sleep(0.2)
    return Outcome(process.returncode, last_line(Path(cell.log).read_text(errors="replace")))


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_cell(cell: Cell, resume: bool, extra_env: dict[str, str] | None = None) -> Outcome:
    """One `bench run` of the cell; a failed run is an outcome, never an exception."""
    return finish(cell, start_cell(cell, resume, extra_env))


def stored_resume(cell: Cell) -> bool:
    """Whether `bench run --resume` applies: the store has a run of this cell to continue (or a
    finished one, which --resume skips); without one, --resume is an error."""
    from harness.engine.resume import Action, choose
    from harness.record.tracking import Tracker

    try:
        action, _ = choose(Tracker(cell.results_dir, cell.tracking_uri).cell_runs(cell.task, cell.grid_key),
                           cell.force)
    except BenchError:  # still RUNNING: `bench run --resume` explains what to do
        return True
    return action is not Action.NEW


# -- launchers ----------------------------------------------------------------------------------

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
                               tasks_per_node=1, slurm_partition=launch.slurm_partition)
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
