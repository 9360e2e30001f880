"""Checkpoints that survive any interruption, and finding the run a ``--resume`` continues.

Each epoch writes ``epoch_NNNNN.pt`` atomically (the newest two are kept), holding the job's
state (student, synthesizer, optimisers, schedulers, stopwatch, progress) and every RNG state;
the pool is saved as append-only shards, one per round, never rewritten. A checkpoint that does
not load (truncated on disk) is skipped for the previous complete one.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from harness.checkpoint import atomic_save, safe_load
from harness.errors import BenchError
from harness.pool import ImagePool, quantize

KEEP = 2

def stale_after_s() -> float:
    """A RUNNING run whose heartbeat is older than this may be taken over with --force."""
    return float(os.environ.get("DFKD_STALE_AFTER_S", 600))


def rng_state() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class CheckpointDir:
    """``<results-dir>/checkpoints/<run_id>/``: epoch checkpoints and pool shards."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save_round(self, round_idx: int, images01: torch.Tensor) -> None:
        atomic_save(quantize(images01).cpu(), self.root / "pool" / f"round_{round_idx:06d}.pt")

    def save_epoch(self, epoch: int, job_state: dict, elapsed_s: float, metrics: dict[str, float]) -> None:
        """Written before the epoch's metrics are logged: a resume re-logs them if they are missing."""
        atomic_save({"epoch": epoch, "job": job_state, "rng": rng_state(), "elapsed_s": elapsed_s,
                     "metrics": metrics}, self.root / f"epoch_{epoch:05d}.pt")
        for old in self.epochs()[:-KEEP]:
            old.unlink(missing_ok=True)

    def epochs(self) -> list[Path]:
        return sorted(self.root.glob("epoch_*.pt"))

    def latest(self) -> dict:
        """The newest checkpoint that loads; truncated or corrupt files are skipped."""
        for path in reversed(self.epochs()):
            try:
                return safe_load(path)
            except BenchError:
                continue
        raise BenchError(f"no complete checkpoint under {self.root}: nothing to resume from")

    def restore_pool(self, pool: ImagePool, rounds: int) -> None:
        for round_idx in range(rounds):
            pool.add_quantized(safe_load(self.root / "pool" / f"round_{round_idx:06d}.pt"))


def choose(runs, force: bool, now: float | None = None) -> tuple[str, str | None]:
    """For one cell's earlier runs (a frame from ``Tracker.runs``): ("skip"|"resume"|"new", run_id).

    FINISHED -> skip; KILLED and resumable -> resume; RUNNING with a stale heartbeat -> resume only
    with ``force``; FAILED or nothing -> a new run.
    """
    now = now or time.time()
    if runs.empty:
        return "new", None
    runs = runs.sort_values("start_time", ascending=False)
    if (runs["status"] == "FINISHED").any():
        return "skip", runs[runs["status"] == "FINISHED"]["run_id"].iloc[0]
    for _, run in runs.iterrows():
        resumable = str(run.get("tags.dfkd.resumable", "false")) == "true"
        if run["status"] == "KILLED" and resumable:
            return "resume", run["run_id"]
        if run["status"] == "RUNNING":
            age = now - float(run.get("tags.dfkd.heartbeat") or 0)
            if force and age > stale_after_s():
                return "resume", run["run_id"]
            raise BenchError(f"run {run['run_id']} of this cell is RUNNING (heartbeat {age:.0f} s ago); "
                             + ("it is not stale yet" if force else
                                "if its process is gone, take it over with --resume --force"))
    return "new", None
