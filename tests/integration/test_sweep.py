"""`bench sweep`: the local launcher on CPU slots (finish a grid, skip it again, relaunch only a
deleted cell), submitit's in-process debug executor, a requeued Slurm job resuming its cell, a
local Ray instance, and the one-line errors. Every cell is a smoke-budget digits run."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.record.tracking import Tracker
from tests.conftest import bench

GRID = ("--tasks", "digits", "--budget", "smoke", "--device", "cpu")


def sweep(results: Path, *args: str) -> str:
    """`bench sweep` in a subprocess: Ray and submitit's debug executor set up process-wide state."""
    done = bench("sweep", *GRID, "--results-dir", str(results), *args, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def sweep_here(results: Path, *args: str, exit_code: int = 0):
    """`bench sweep` in this process (its cells are still `bench run` subprocesses): one interpreter
    start less per sweep, which on 2 cores is most of a cell's time."""
    outcome = CliRunner().invoke(cli, ["sweep", *GRID, "--results-dir", str(results), *args])
    assert outcome.exit_code == exit_code, outcome.output[-3000:] + repr(outcome.exception)
    return outcome


def cells(runs: pd.DataFrame) -> list[tuple[str, str]]:
    return sorted(zip(runs["tags.dfkd.method"], runs["tags.dfkd.seed"]))


def test_local_sweep_finishes_then_skips_then_relaunches_only_a_deleted_cell(tmp_path, digits_teacher):
    results = tmp_path / "results"
    out = sweep_here(results, "--methods", "fast2,dafl", "--seeds", "0,1", "--jobs", "2").stdout
    runs = Tracker(results).runs("digits")
    assert cells(runs) == [("dafl", "0"), ("dafl", "1"), ("fast2", "0"), ("fast2", "1")]
    assert runs["metrics.best/acc"].notna().all() and runs["metrics.time/synthesis_s"].notna().all()
    assert (runs["tags.dfkd.concurrent_jobs"] == "2").all()  # two CPU cells shared the cores
    assert "[4 done, 0 running, 0 failed, 0 skipped]" in out
    done = [line for line in out.splitlines() if ": done (" in line]  # each cell's own FINISHED line
    assert len(done) == 4 and all(": FINISHED (run " in line for line in done), done
    assert "| fast2" in out and "| dafl" in out  # the leaderboard

    again = sweep_here(results, "--methods", "fast2,dafl", "--seeds", "0,1", "--jobs", "2").stdout
    assert "4 cells, 0 to launch" in again and "[0 done, 0 running, 0 failed, 4 skipped]" in again
    assert len(Tracker(results).runs("digits", status=None)) == 4

    gone = runs.iloc[0]
    Tracker(results).client.delete_run(gone["run_id"])
    third = sweep_here(results, "--methods", "fast2,dafl", "--seeds", "0,1", "--jobs", "2").stdout
    assert "4 cells, 1 to launch" in third
    launched = [line for line in third.splitlines() if ": running (" in line]
    assert len(launched) == 1 and gone["run_name"] in launched[0]
    runs = Tracker(results).runs("digits")
    assert len(runs) == 4 and gone["run_id"] not in set(runs["run_id"])
    assert gone["tags.dfkd.grid_key"] in set(runs["tags.dfkd.grid_key"])


def test_submitit_debug_executor_runs_a_sweep(tmp_path, digits_teacher):
    results = tmp_path / "results"
    out = sweep(results, "--methods", "fast2", "--seeds", "0,1", "--launcher", "slurm", "--slurm-cluster", "debug",
                "--precision", "bf16")
    assert "Slurm job" in out and "[2 done, 0 running, 0 failed, 0 skipped]" in out
    runs = Tracker(results).runs("digits")
    assert cells(runs) == [("fast2", "0"), ("fast2", "1")]
    assert (runs["tags.dfkd.precision"] == "bf16").all()  # the sweep's precision reaches every cell
    assert list((results / "submitit").glob("*_log.out"))  # submitit ran the jobs


def test_a_preempted_slurm_job_stops_its_cell_and_requeues_itself_to_resume(tmp_path, digits_teacher):
    from harness.engine.plan import plan_runs
    from harness.launch.cells import make_cell
    from harness.launch.launchers import SlurmCell

    sets = ("epochs=6", "kd_steps=15", "ep_steps=15")  # long enough to be caught mid-run
    tracker = Tracker(tmp_path / "results")
    tracker.experiment_id("digits")
    cell = make_cell(plan_runs("fast2", "digits", budget="smoke", sets=sets)[0], tracker, device="cpu", sets=sets)
    job = SlurmCell(cell)
    first = {}
    thread = threading.Thread(target=lambda: first.update(outcome=job(False)))
    thread.start()
    deadline = time.time() + 300
    while not list(tracker.results_dir.glob("checkpoints/*/epoch_00000.pt")):
        assert thread.is_alive() and time.time() < deadline, first
        time.sleep(0.05)
    requeued = job.checkpoint(False)  # what submitit does when Slurm signals a pre-emption or the time limit
    thread.join(timeout=120)
    assert first["outcome"].returncode == 130  # the cell was stopped, not killed
    run = tracker.runs("digits", status=None).iloc[0]
    assert run["status"] == "KILLED" and run["tags.dfkd.resumable"] == "true"
    assert requeued.args == (True,)  # the requeued job resumes
    resumed = requeued.function(*requeued.args, **requeued.kwargs)
    assert resumed.ok and "resumed" in resumed.last_line, resumed
    runs = tracker.runs("digits", status=None)
    assert list(runs["run_id"]) == [run["run_id"]] and runs["status"].iloc[0] == "FINISHED"


def test_ray_local_instance_runs_a_sweep(tmp_path, digits_teacher):
    results = tmp_path / "results"
    out = sweep(results, "--methods", "fast2", "--seeds", "0,1", "--launcher", "ray", "--jobs", "2")
    assert "[2 done, 0 running, 0 failed, 0 skipped]" in out
    assert cells(Tracker(results).runs("digits")) == [("fast2", "0"), ("fast2", "1")]


def test_a_failed_cell_is_listed_and_the_sweep_exits_1(tmp_path):
    done = sweep_here(tmp_path / "results", "--methods", "fast2", "--tasks", "cifar10",
                      "--data-root", str(tmp_path / "no-data"), exit_code=1)
    assert "[0 done, 0 running, 1 failed, 0 skipped]" in done.stdout
    failed = done.stderr.splitlines()
    assert failed[0] == "1 cell(s) failed:"
    assert "cifar10 fast2/s0/resnet34-resnet18: exit 2: Error: cifar10 not found" in failed[1]


def test_local_slots_pin_one_gpu_per_cell_or_share_the_cores(monkeypatch):
    import torch

    from harness.core.errors import BenchError
    from harness.launch.launchers import local_slots

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert local_slots("auto", None) == [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert local_slots("cuda", 1) == [{"CUDA_VISIBLE_DEVICES": "3"}]
    with pytest.raises(BenchError, match="--jobs 3: this machine has 2 GPU"):
        local_slots("auto", 3)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert local_slots("cpu", 4) == [{"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "DFKD_CONCURRENT_JOBS": "4"}] * 4
    assert local_slots("cpu", None) == [{"OMP_NUM_THREADS": "8", "MKL_NUM_THREADS": "8"}]


@pytest.mark.parametrize("launcher,module,message", [
    ("ray", "ray", "Error: --launcher ray needs Ray: pip install 'dfkd-bench[ray]'"),
    ("slurm", "submitit", "Error: --launcher slurm needs submitit: pip install 'dfkd-bench[slurm]'"),
])
def test_a_launcher_without_its_extra_is_a_one_line_error(launcher, module, message, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # `import <module>` now raises ImportError
    outcome = CliRunner().invoke(cli, ["sweep", "--methods", "fast2", "--launcher", launcher,
                                       "--results-dir", str(tmp_path / "results")])
    assert outcome.exit_code == 2, outcome.output
    assert outcome.stderr.strip().splitlines() == [message]
    assert not (tmp_path / "results").exists()


def test_a_bad_launcher_is_exit_2_naming_the_choices(tmp_path):
    outcome = CliRunner().invoke(cli, ["sweep", "--methods", "fast2", "--launcher", "pbs",
                                       "--results-dir", str(tmp_path / "results")])
    assert outcome.exit_code == 2
    assert "'pbs' is not one of 'local', 'slurm', 'ray'" in outcome.stderr


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="this machine has Slurm")
def test_slurm_without_slurm_is_a_one_line_error(tmp_path):
    outcome = CliRunner().invoke(cli, ["sweep", "--methods", "fast2", "--launcher", "slurm",
                                       "--results-dir", str(tmp_path / "results")])
    assert outcome.exit_code == 2
    assert outcome.stderr.strip().splitlines() == [
        "Error: --launcher slurm: no Slurm on this machine (sbatch not found); run the sweep on a login node "
        "of the cluster"]
