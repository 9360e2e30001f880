"""Interruptions lose nothing: SIGKILL mid-epoch (taken over only once its process is gone),
SIGTERM, SIGTERM before the first epoch checkpoint, a truncated checkpoint, a diverging run, and
four runs started at once on a fresh sqlite store. A resumed run ends with the numbers of an
uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from harness.core.cpu import this_cpu
from harness.engine.plan import plan_runs
from harness.engine.runner import execute
from harness.record.tracking import Tracker

EPOCHS = 6
ARGS = ["run", "--methods", "fast2", "--task", "digits", "--budget", "smoke", "--device", "cpu", "--quiet",
        "--set", f"epochs={EPOCHS}", "--set", "kd_steps=15", "--set", "ep_steps=15",
        "--set", "synthesis_batch_size=32", "--set", "batch_size=32"]
HERE = f"cpu ({this_cpu().model})"  # dfkd.device of a CPU run on this machine
# The default staleness threshold (10 minutes): a same-machine takeover must not wait for it.
ENV = {**{k: v for k, v in os.environ.items() if k != "DFKD_STALE_AFTER_S"}, "OMP_NUM_THREADS": "1",
       "PYTHONUNBUFFERED": "1"}
# Epochs long enough (seconds each) that a signal lands inside the first one, and that a second
# process can start while the first still runs.
LONG_EPOCHS = 4
LONG = ["--set", "kd_steps=300", "--set", "ep_steps=300", "--set", f"epochs={LONG_EPOCHS}"]


def start(results: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *ARGS, "--results-dir", str(results), *extra],
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(results: Path, epoch: int, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not list(results.glob(f"checkpoints/*/epoch_{epoch:05d}.pt")):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "no checkpoint in time"
        time.sleep(0.05)


def wait_for(results: Path, pattern: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not list(results.glob(pattern)):
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, f"no {pattern} in time"
        time.sleep(0.02)


def resume(results: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *ARGS, "--results-dir", str(results), "--resume",
                           *extra], env=ENV, capture_output=True, text=True, timeout=600)


def only_run(results: Path):
    runs = Tracker(results).runs("digits", status=None)
    assert len(runs) == 1, runs[["run_id", "status"]]
    return runs.iloc[0]


def steps(results: Path, run_id: str) -> list[int]:
    return sorted(step for step, _ in Tracker(results).metric_history(run_id, "eval/acc"))


def uninterrupted_run(results: Path, *extra: str):
    done = subprocess.run([sys.executable, "-m", "harness.cli", *ARGS, "--results-dir", str(results), *extra],
                          env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return only_run(results)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, digits_teacher):
    return uninterrupted_run(tmp_path_factory.mktemp("uninterrupted"))


@pytest.fixture(scope="module")
def uninterrupted_long(tmp_path_factory, digits_teacher):
    return uninterrupted_run(tmp_path_factory.mktemp("uninterrupted-long"), *LONG)


def assert_same_numbers(run, reference) -> None:
    """Same seed, CPU, every RNG state and the pool restored from the checkpoint: the same numbers."""
    for metric in ("best/acc", "final/acc", "synth/images"):
        assert run[f"metrics.{metric}"] == reference[f"metrics.{metric}"], metric


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, uninterrupted_long):
    results = tmp_path / "results"
    process = start(results, *LONG)
    wait_for_checkpoint(results, 0, process)
    # Paused, the owner stays mid-run however slow the takeover attempt is to start (its heartbeat
    # stays fresh: the threshold is minutes); killed while paused, it dies mid-epoch.
    process.send_signal(signal.SIGSTOP)
    refused = resume(results, *LONG, "--force")  # the owner is alive: its heartbeat is fresh, its pid runs
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "is RUNNING and not taken over: its process" in refused.stderr
    assert "on this machine is still running" in refused.stderr
    assert process.poll() is None, "the run ended before the takeover was tried: no test"
    process.kill()
    process.wait()
    assert only_run(results)["status"] == "RUNNING"  # SIGKILL leaves no chance to say anything
    # Its pid is gone: taken over at once. ENV keeps the default 10-minute staleness threshold, so
    # a takeover decided by the heartbeat's age alone would be refused here.
    done = resume(results, *LONG, "--force")
    assert done.returncode == 0, done.stderr[-2000:]
    run = only_run(results)
    assert run["status"] == "FINISHED"
    assert steps(results, run["run_id"]) == list(range(LONG_EPOCHS))
    assert int(run["tags.dfkd.resumed_from_epoch"]) >= 0
    assert run["tags.dfkd.device"] == HERE and "resumes on" not in done.stderr  # same machine: one device
    assert_same_numbers(run, uninterrupted_long)


def test_sigterm_marks_killed_and_resumable_then_resumes(tmp_path, uninterrupted):
    results = tmp_path / "results"
    process = start(results)
    wait_for_checkpoint(results, 1, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert "continue with the same command and --resume" in err
    run = only_run(results)
    assert run["status"] == "KILLED" and run["tags.dfkd.resumable"] == "true"
    assert run["tags.dfkd.device"] == HERE
    # The run started on another machine (a grid continued on the next loan): its record says so.
    Tracker(results).set_tags(run["run_id"], {"dfkd.device": "cpu (Earlier CPU)"})
    done = resume(results)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resumed" in done.stdout
    assert (f"warning: run {run['run_id']} ran on cpu (Earlier CPU) and resumes on {HERE}: its times add "
            f"seconds from both (dfkd.device lists them)") in done.stderr
    run = only_run(results)
    assert run["status"] == "FINISHED"
    assert run["tags.dfkd.device"] == f"cpu (Earlier CPU) + {HERE}"
    assert steps(results, run["run_id"]) == list(range(EPOCHS))
    assert_same_numbers(run, uninterrupted)
    again = resume(results)
    assert again.returncode == 0 and "already FINISHED" in again.stdout  # never a FINISHED run


def test_sigterm_before_the_first_epoch_checkpoint_is_resumable(tmp_path, uninterrupted_long):
    results = tmp_path / "results"
    process = start(results, *LONG)
    wait_for(results, "checkpoints/*/pool/round_000000.pt", process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert not list(results.glob("checkpoints/*/epoch_*.pt")), "the signal landed after epoch 0: no test"
    assert only_run(results)["status"] == "KILLED"
    done = resume(results, *LONG)
    assert done.returncode == 0, done.stderr[-2000:]
    run = only_run(results)  # the same MLflow run, started again from scratch
    assert run["status"] == "FINISHED" and run["tags.dfkd.resumed_from_epoch"] == "-1"
    assert steps(results, run["run_id"]) == list(range(LONG_EPOCHS))
    assert_same_numbers(run, uninterrupted_long)


def test_a_truncated_checkpoint_is_never_picked(tmp_path, uninterrupted):
    results = tmp_path / "results"
    process = start(results)
    wait_for_checkpoint(results, 2, process)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    checkpoints = sorted(results.glob("checkpoints/*/epoch_*.pt"))
    newest = checkpoints[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    done = resume(results)
    assert done.returncode == 0, done.stderr[-2000:]
    run = only_run(results)
    assert run["status"] == "FINISHED"
    # From the complete checkpoint before the truncated one, not from scratch.
    assert int(run["tags.dfkd.resumed_from_epoch"]) == int(checkpoints[-2].stem.split("_")[1])
    assert steps(results, run["run_id"]) == list(range(EPOCHS))
    assert_same_numbers(run, uninterrupted)


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


DIVERGING = [("fast2", "bn=1e38", "non-finite synthesis loss term loss, bn, oh, adv at epoch 0, round 0"),
             ("fast2", "lr_g=1e9", "the synthesised images at epoch 0, round 0 are all one value"),
             ("dafl", "lr_g=1e9", "at epoch 0")]


@pytest.mark.parametrize("method,setting,reason", DIVERGING, ids=[f"{m} {s}" for m, s, _ in DIVERGING])
def test_a_diverging_synthesis_fails_the_run_and_writes_nothing_of_it(method, setting, reason, tmp_path):
    results = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--methods", method, "--budget", "smoke",
                           "--device", "cpu", "--quiet", "--results-dir", str(results), "--set", setting],
                          env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-2000:]
    assert reason in done.stderr
    run = only_run(results)
    assert run["status"] == "FAILED" and reason in run["tags.dfkd.error"]
    for path in results.glob("checkpoints/**/*.pt"):  # whatever was written before it is finite
        state = torch.load(path, weights_only=True)
        from harness.engine.resume import non_finite
        assert not non_finite(state), path
    assert not list(results.glob("checkpoints/*/pool/round_000000.pt"))  # the diverged round is not pooled


def test_four_runs_started_at_once_on_a_fresh_store(tmp_path, digits_teacher):
    results = tmp_path / "results"  # nothing exists yet: the four race to create the store
    processes = [subprocess.Popen([sys.executable, "-m", "harness.cli", "run", "--methods", "fast2", "--task", "digits",
                                   "--budget", "smoke", "--seeds", str(seed), "--device", "cpu", "--quiet",
                                   "--results-dir", str(results)], env=ENV, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for seed in range(4)]
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    runs = Tracker(results).runs("digits")
    assert sorted(runs["tags.dfkd.seed"].astype(int)) == [0, 1, 2, 3]
    assert (runs["status"] == "FINISHED").all()
    for run_id in runs["run_id"]:
        assert steps(results, run_id) == [0, 1]  # every step present once
    assert runs["metrics.best/acc"].notna().all() and runs["metrics.time/synthesis_s"].notna().all()
