"""One cell of a sweep, wherever it runs: what it is (plain data that travels to Slurm jobs and
Ray tasks), how its `bench run` subprocess starts and ends, and the progress lines it reports.
Module level imports no torch, mlflow, submitit or ray: a missing extra is an error only for the
launcher that needs it."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from harness.core.errors import BenchError

if TYPE_CHECKING:
    from harness.engine.plan import RunSpec
    from harness.record.tracking import Tracker

FORWARDED = ("DFKD_", "MLFLOW_")  # teacher cache, data root, tracking credentials: every cell needs them
EXTRAS = {"slurm": ("submitit", "submitit"), "ray": ("ray", "Ray")}  # launcher -> (module, what it is)
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
    nodes: int = 1

    @property
    def world_size(self) -> int:
        """Processes per cell: on Slurm one task per GPU of every node of the job (one DDP process
        group, which the tasks join through srun's environment), else one."""
        if self.launcher != "slurm":
            return 1
        return max(self.gpus_per_job or 1, 1) * self.nodes


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


def make_cell(spec: RunSpec, tracker: Tracker, resume: bool = False, force: bool = False, device: str = "auto",
              sets: tuple[str, ...] = (), data_root: str | None = None) -> Cell:
    """The cell's `bench run` flags. Only the --set fields its method has: `bench run` refuses the others."""
    from harness.core.config import parse_assignment

    own_sets = [s for s in sets if parse_assignment(s, "--set")[0] in spec.resolved.sources]
    results = tracker.results_dir.resolve()
    args = ("--methods", spec.variant, "--task", spec.task, "--pairs", spec.pair, "--seeds", str(spec.seed),
            "--budget", spec.budget, "--device", device, "--precision", spec.precision,
            *(["--compile"] if spec.compile else []), "--pool", spec.pool, "--quiet", "--no-summary",
            "--results-dir", str(results),
            "--tracking-uri", tracker.uri, *[word for s in own_sets for word in ("--set", s)],
            *(["--data-root", data_root] if data_root else []),
            *(["--world-size", str(spec.world_size)] if spec.world_size > 1 else []))
    log = results / "sweep-logs" / spec.task / f"{spec.run_name.replace('/', '_')}.log"
    env = tuple((k, v) for k, v in os.environ.items() if k.startswith(FORWARDED))
    return Cell(f"{spec.task} {spec.run_name}", spec.task, spec.grid_key, args, resume, force, str(results),
                tracker.uri, str(log), env)


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
