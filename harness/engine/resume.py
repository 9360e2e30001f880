"""Checkpoints that survive any interruption, and finding the run a ``--resume`` continues.

Each epoch writes ``epoch_NNNNN.pt`` atomically (the newest two are kept), holding the job's
state (student, synthesizer, optimisers, schedulers, stopwatch, progress) and every RNG state;
the pool is saved as append-only shards, one per round, never rewritten. A checkpoint that does
not load (truncated on disk) is skipped for the previous complete one.
"""

from __future__ import annotations

import random
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.core.errors import BenchError, NonFinite
from harness.core.pool import ImagePool, quantize
from harness.engine.checkpoint import atomic_save, safe_load
from harness.engine.disk_pool import DiskPool
from harness.engine.ownership import HEARTBEAT_TAG, OWNER_TAG, takeover_refusal

KEEP = 2

def non_finite(state: Any, path: str = "") -> list[str]:
    """The paths of floating-point tensors in a nested state that hold a NaN or an infinity."""
    if isinstance(state, torch.Tensor):
        return [path or "state"] if state.is_floating_point() and not bool(state.isfinite().all()) else []
    if isinstance(state, dict):
        return [bad for key, value in state.items() for bad in non_finite(value, f"{path}.{key}".strip("."))]
    if isinstance(state, (list, tuple)):
        return [bad for i, value in enumerate(state) for bad in non_finite(value, f"{path}[{i}]")]
    return []


def rng_state() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
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

    @property
    def pool_folder(self) -> Path:
        return self.root / "pool"

    def save_round(self, round_idx: int, images01: torch.Tensor) -> None:
        self.save_shard(round_idx, quantize(images01))

    def save_shard(self, round_idx: int, images: torch.Tensor) -> None:
        """A round's quantised images (of every rank, in rank order, for a run across ranks)."""
        atomic_save(images.cpu(), self.pool_folder / f"round_{round_idx:06d}.pt")

    def save_epoch(self, epoch: int, job_state: dict, elapsed_s: float, metrics: dict[str, float],
                   other_ranks: list[dict] | None = None) -> None:
        """Written before the epoch's metrics are logged: a resume re-logs them if they are missing.
        A state holding a NaN or infinity is refused: the last good checkpoint stays the newest.
        ``other_ranks``: a run across ranks' own states of ranks 1..N-1 (``harness.engine.rank_state``)."""
        bad = non_finite(job_state) + non_finite(other_ranks or [], "ranks")
        if bad:
            raise NonFinite(f"non-finite values in {', '.join(bad[:3])} after epoch {epoch}: not checkpointed")
        state = {"epoch": epoch, "job": job_state, "rng": rng_state(), "elapsed_s": elapsed_s, "metrics": metrics}
        if other_ranks is not None:
            state["ranks"] = other_ranks
        atomic_save(state, self.root / f"epoch_{epoch:05d}.pt")
        for old in self.epochs()[:-KEEP]:
            old.unlink(missing_ok=True)

    def epochs(self) -> list[Path]:
        return sorted(self.root.glob("epoch_*.pt"))

    def latest(self) -> dict | None:
        """The newest checkpoint that loads (truncated or corrupt files are skipped); None when
        the run was interrupted before its first complete epoch checkpoint."""
        for path in reversed(self.epochs()):
            try:
                return safe_load(path)
            except BenchError:
                continue
        return None

    def restore_pool(self, pool: ImagePool, rounds: int) -> None:
        """The pool of the first ``rounds`` rounds: read into memory, or adopted where it lies."""
        if isinstance(pool, DiskPool):
            pool.adopt(rounds)
            return
        for round_idx in range(rounds):
            pool.add_quantized(safe_load(self.pool_folder / f"round_{round_idx:06d}.pt"))


class Action(Enum):
    """What to do with a cell, given its earlier runs."""

    SKIP = "skip"  # it has a FINISHED run
    RESUME = "resume"  # continue that run from its last checkpoint
    NEW = "new"  # start a new run


def choose(runs, force: bool, now: float | None = None) -> tuple[Action, str | None]:
    """For one cell's earlier runs (a frame from ``Tracker.runs``): the action and the run it applies to.

    FINISHED -> skip; KILLED and resumable -> resume; RUNNING -> resume only with ``force`` and
    only once its owner is provably gone (:mod:`harness.engine.ownership`); FAILED or nothing -> a new run.
    """
    if runs.empty:
        return Action.NEW, None
    runs = runs.sort_values("start_time", ascending=False)
    if (runs["status"] == "FINISHED").any():
        return Action.SKIP, runs[runs["status"] == "FINISHED"]["run_id"].iloc[0]
    for _, run in runs.iterrows():
        resumable = str(run.get("tags.dfkd.resumable", "false")) == "true"
        if run["status"] == "KILLED" and resumable:
            return Action.RESUME, run["run_id"]
        if run["status"] == "RUNNING":
            refusal = takeover_refusal(str(run.get(f"tags.{OWNER_TAG}") or ""),
                                       float(run.get(f"tags.{HEARTBEAT_TAG}") or 0), now)
            if force and refusal is None:
                return Action.RESUME, run["run_id"]
            if force:
                raise BenchError(f"run {run['run_id']} of this cell is RUNNING and not taken over: {refusal}")
            raise BenchError(f"run {run['run_id']} of this cell is RUNNING; if its process is gone, take it over "
                             f"with --resume --force")
    return Action.NEW, None
