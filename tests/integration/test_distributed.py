"""One cell across two processes (DistributedDataParallel over gloo on a CPU), started through
`bench run --nproc-per-node 2` as a user would: one MLflow run, every epoch logged once, images
counted over both ranks, the same student on both ranks, the same numbers for the same seed, and a
SIGTERM to the launcher that ends KILLED and resumes both ranks to the uninterrupted numbers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import torch

from harness.engine.rank_state import state_sha256
from harness.record.tracking import Tracker
from tests.integration.test_resume import wait_for_checkpoint

EPOCHS = 3
SETTINGS = ["--methods", "fast2", "--task", "digits", "--budget", "smoke", "--device", "cpu", "--quiet",
            "--set", f"epochs={EPOCHS}", "--set", "synthesis_batch_size=32", "--set", "batch_size=32"]
SHORT = [*SETTINGS, "--set", "kd_steps=15", "--set", "ep_steps=15"]
# Epochs of seconds each: a stop lands after the first epoch's checkpoint, before the run ends.
LONG = [*SETTINGS, "--set", "kd_steps=120", "--set", "ep_steps=120"]
ENV = {**{k: v for k, v in os.environ.items() if k != "DFKD_STALE_AFTER_S"}, "OMP_NUM_THREADS": "1",
       "PYTHONUNBUFFERED": "1"}


def bench_run(results, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", *args, "--results-dir", str(results)],
                          env=ENV, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def only_run(results):
    runs = Tracker(results).runs("digits", status=None)
    assert len(runs) == 1, runs[["run_id", "status"]]  # one run for the cell, not one per rank
    return runs.iloc[0]


def logged_steps(results, run_id: str) -> list[int]:
    return [step for step, _ in Tracker(results).metric_history(run_id, "eval/acc")]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory, digits_teacher):
    results = tmp_path_factory.mktemp("two-ranks")
    bench_run(results, *SHORT, "--nproc-per-node", "2")
    return results, only_run(results)


def test_one_run_every_epoch_once_images_of_both_ranks(two_ranks, tmp_path):
    results, run = two_ranks
    assert run["status"] == "FINISHED" and run["tags.dfkd.world_size"] == "2"
    assert logged_steps(results, run.run_id) == list(range(EPOCHS))
    assert run["tags.dfkd.ranks_agree"] == "true"  # DDP kept one student on both ranks
    student = torch.load(results / "checkpoints" / run.run_id / "student.pt", weights_only=True)
    assert state_sha256(student) == run["tags.dfkd.student_sha256"]
    # Each rank synthesises half of every 32-image round: the count is the single process's.
    bench_run(tmp_path, *SHORT)
    solo = only_run(tmp_path)
    images = EPOCHS * 32 * int(solo["params.schedule.rounds_per_epoch"])
    assert run["metrics.synth/images"] == solo["metrics.synth/images"] == images
    assert run["tags.dfkd.grid_key"] != solo["tags.dfkd.grid_key"]  # another cell: other numbers


def test_same_seed_same_numbers(two_ranks, tmp_path):
    results, run = two_ranks
    bench_run(tmp_path, *SHORT, "--nproc-per-node", "2")
    again = only_run(tmp_path)
    assert again["tags.dfkd.student_sha256"] == run["tags.dfkd.student_sha256"]
    assert again["metrics.best/acc"] == run["metrics.best/acc"]


def test_sigterm_to_the_launcher_resumes_every_rank(tmp_path, digits_teacher):
    command = [sys.executable, "-m", "harness.cli", "run", *LONG, "--nproc-per-node", "2",
               "--results-dir", str(tmp_path / "stopped")]
    launcher = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_checkpoint(tmp_path / "stopped", 1, launcher)
    launcher.send_signal(signal.SIGTERM)
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode == 130, err[-3000:]
    killed = only_run(tmp_path / "stopped")
    assert killed["status"] == "KILLED" and killed["tags.dfkd.resumable"] == "true"
    checkpoint = torch.load(sorted((tmp_path / "stopped" / "checkpoints" / killed.run_id).glob("epoch_*.pt"))[-1],
                            weights_only=False)
    assert len(checkpoint["ranks"]) == 1  # rank 1's own state beside rank 0's

    bench_run(tmp_path / "stopped", *LONG, "--nproc-per-node", "2", "--resume")
    resumed = only_run(tmp_path / "stopped")
    assert resumed["status"] == "FINISHED" and resumed.run_id == killed.run_id
    assert logged_steps(tmp_path / "stopped", resumed.run_id) == list(range(EPOCHS))
    bench_run(tmp_path / "whole", *LONG, "--nproc-per-node", "2")
    whole = only_run(tmp_path / "whole")
    assert resumed["tags.dfkd.student_sha256"] == whole["tags.dfkd.student_sha256"]
    assert resumed["metrics.best/acc"] == whole["metrics.best/acc"]
    assert resumed["metrics.synth/images"] == whole["metrics.synth/images"]


def test_bad_shares_are_one_line_errors(tmp_path):
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", *SHORT, "--set", "batch_size=33",
                           "--nproc-per-node", "2", "--results-dir", str(tmp_path)],
                          env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == ("Error: batch_size 33 is not divisible by the world size 2: each rank takes an "
                                   "equal share (set batch_size to a multiple of 2)")
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.cuda
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices (NCCL)")
def test_two_gpus_with_nccl(tmp_path, digits_teacher):
    bench_run(tmp_path, *[a if a != "cpu" else "cuda" for a in SHORT], "--nproc-per-node", "2")
    run = only_run(tmp_path)
    assert run["tags.dfkd.ranks_agree"] == "true" and run["tags.dfkd.world_size"] == "2"
