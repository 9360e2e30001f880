"""Interruptions lose nothing: SIGKILL mid-epoch, SIGTERM, a truncated checkpoint, a diverging
run, and four runs at once against one sqlite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from harness.plan import plan_runs
from harness.runner import execute
from harness.tracking import Tracker

EPOCHS = 6
ARGS = ["run", "--methods", "fast2", "--task", "digits", "--budget", "smoke", "--device", "cpu", "--quiet",
        "--set", f"epochs={EPOCHS}", "--set", "kd_steps=15", "--set", "ep_steps=15",
        "--set", "synthesis_batch_size=32", "--set", "batch_size=32"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "DFKD_STALE_AFTER_S": "0", "PYTHONUNBUFFERED": "1"}


def start(results: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *ARGS, "--results-dir", str(results)],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(results: Path, epoch: int, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not list(results.glob(f"checkpoints/*/epoch_{epoch:05d}.pt")):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.05)


def resume(results: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *ARGS, "--results-dir", str(results), "--resume",
                           *extra], env=ENV, capture_output=True, text=True, timeout=600)


def only_run(results: Path):
    runs = Tracker(results).runs("digits", status=None)
    assert len(runs) == 1, runs[["run_id", "status"]]
    return runs.iloc[0]


def steps(results: Path, run_id: str) -> list[int]:
    return sorted(step for step, _ in Tracker(results).metric_history(run_id, "eval/acc"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, digits_teacher):
    results = tmp_path_factory.mktemp("uninterrupted")
    done = subprocess.run([sys.executable, "-m", "harness.cli", *ARGS, "--results-dir", str(results)], env=ENV,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return only_run(results)


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, uninterrupted):
    results = tmp_path / "results"
    process = start(results)
    wait_for_checkpoint(results, 1, process)
    time.sleep(0.2)  # into epoch 2
    process.kill()
    process.wait()
    assert only_run(results)["status"] == "RUNNING"  # SIGKILL leaves no chance to say anything
    done = resume(results, "--force")
    assert done.returncode == 0, done.stderr[-2000:]
    run = only_run(results)
    assert run["status"] == "FINISHED"
    assert steps(results, run["run_id"]) == list(range(EPOCHS))
    # Same seed, CPU, every RNG state and the pool restored from the checkpoint: the same numbers.
    assert run["metrics.best/acc"] == uninterrupted["metrics.best/acc"]
    assert run["metrics.final/acc"] == uninterrupted["metrics.final/acc"]
    assert run["metrics.synth/images"] == uninterrupted["metrics.synth/images"]


def test_sigterm_marks_killed_and_resumable_then_resumes(tmp_path):
    results = tmp_path / "results"
    process = start(results)
    wait_for_checkpoint(results, 1, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert "continue with the same command and --resume" in err
    run = only_run(results)
    assert run["status"] == "KILLED" and run["tags.dfkd.resumable"] == "true"
    done = resume(results)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed" in done.stdout
    run = only_run(results)
    assert run["status"] == "FINISHED"
    assert steps(results, run["run_id"]) == list(range(EPOCHS))
    again = resume(results)
    assert again.returncode == 0 and "already FINISHED" in again.stdout  # never a FINISHED run


def test_a_truncated_checkpoint_is_never_picked(tmp_path):
    results = tmp_path / "results"
    process = start(results)
    wait_for_checkpoint(results, 2, process)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    newest = sorted(results.glob("checkpoints/*/epoch_*.pt"))[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    done = resume(results)
    assert done.returncode == 0, done.stderr[-2000:]
    run = only_run(results)
    assert run["status"] == "FINISHED"
    assert steps(results, run["run_id"]) == list(range(EPOCHS))


def test_a_diverging_run_is_failed_with_the_reason(tmp_path, monkeypatch, digits_teacher):
    from methods.fast import FastMetaSynthesizer

    def nan_batch(self, batch_size):
        return torch.full((batch_size, *self.task.image_shape), float("nan"))

    monkeypatch.setattr(FastMetaSynthesizer, "sample", nan_batch)
    tracker = Tracker(tmp_path / "results")
    spec = plan_runs("fast2", "digits", budget="smoke", sets=("warmup_frac=0",))[0]
    with pytest.raises(Exception, match="non-finite train/kd_loss at epoch 0"):
        execute(spec, tracker, "cpu", show_progress=False)
    run = tracker.runs("digits", status="FAILED").iloc[0]
    assert "non-finite train/kd_loss at epoch 0" in run["tags.dfkd.error"]
    assert run["tags.dfkd.resumable"] == "false"


def test_four_runs_at_once_on_one_sqlite_store(tmp_path, digits_teacher):
    results = tmp_path / "results"
    Tracker(results).experiment_id("digits")  # the parent creates store and experiment first
    processes = [subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "--methods", "fast2", "--task", "digits",
                                   "--budget", "smoke", "--seeds", str(seed), "--device", "cpu", "--quiet",
                                   "--results-dir", str(results)], env=ENV, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for seed in range(4)]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    runs = Tracker(results).runs("digits")
    assert sorted(runs["tags.dfkd.seed"].astype(int)) == [0, 1, 2, 3]
    for run_id in runs["run_id"]:
        assert steps(results, run_id) == [0, 1]
    assert runs["metrics.best/acc"].notna().all() and runs["metrics.time/synthesis_s"].notna().all()
