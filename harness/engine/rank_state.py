"""What a checkpoint of a run across ranks holds of each rank, and how it travels between them.

Rank 0 alone writes checkpoints. DDP keeps the student, its optimiser and its scheduler identical
on every rank (``Distiller.SHARED_STATE``), so a checkpoint holds them once, in rank 0's job
state, where a single-process checkpoint has them; the rest of each rank's state (its
synthesizer, stopwatch, loss scale and progress) and its RNG states are gathered to rank 0 and
saved beside it, under ``ranks`` (ranks 1..N-1). A memory pool's round shard holds the round's
images of every rank, in rank order (the union of the pools); a disk pool keeps each rank's
shards in the rank's own folder. A resume reverses all of it, so that every rank continues
exactly where it stopped. With one process every function here is what a single process does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from harness.core.errors import BenchError
from harness.core.pool import ImagePool, quantize
from harness.engine.checkpoint import safe_load
from harness.engine.disk_pool import DiskPool
from harness.engine.distributed import Ranks
from harness.engine.resume import CheckpointDir, rng_state


def on_cpu(state: Any) -> Any:
    """``state`` with every tensor copied to the CPU: what travels between ranks and into a file."""
    if isinstance(state, Tensor):
        return state.detach().cpu()
    if isinstance(state, dict):
        return {key: on_cpu(value) for key, value in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(on_cpu(value) for value in state)
    return state


def gather(ranks: Ranks, job_state: dict, shared: tuple[str, ...]) -> list[dict] | None:
    """On rank 0, the own states of ranks 1..N-1 (their job states without the ``shared`` keys,
    and their RNG states); None on the other ranks, and for one process. Every rank calls it."""
    if ranks.size == 1:
        return None
    mine = on_cpu({"job": {k: v for k, v in job_state.items() if k not in shared}, "rng": rng_state()})
    states = ranks.gather(mine)
    return None if states is None else states[1:]


def load(ranks: Ranks, checkpoints: CheckpointDir) -> dict | None:
    """This rank's view of the newest complete checkpoint, which rank 0 reads: rank 0's state with
    this rank's own job state and RNG states in place of rank 0's; None when there is none."""
    if ranks.size == 1:
        return checkpoints.latest()
    newest: dict | None = None

    def read() -> dict | None:
        nonlocal newest
        newest = checkpoints.latest()
        if newest is None:
            return None
        others = newest.get("ranks") or []
        if len(others) != ranks.size - 1:
            raise BenchError(f"checkpoint of epoch {newest['epoch']} holds {len(others) + 1} rank(s), "
                             f"not {ranks.size}")
        return {key: value for key, value in newest.items() if key != "ranks"}

    shared = ranks.on_main(read)
    if shared is None:
        return None
    own = ranks.scatter([None, *newest["ranks"]] if newest is not None else None)
    if own is None:  # rank 0: its own state is the checkpoint's
        return shared
    return {**shared, "job": {**shared["job"], **own["job"]}, "rng": own["rng"]}


def round_saver(ranks: Ranks, checkpoints: CheckpointDir) -> Callable[[int, Tensor], None]:
    """What saves a round of a memory pool: the images of every rank in one shard, by rank 0."""
    def save(round_idx: int, images01: Tensor) -> None:
        shard = ranks.concat(quantize(images01))
        ranks.on_main(lambda: checkpoints.save_shard(round_idx, shard))
    return save


def restore_pool(ranks: Ranks, checkpoints: CheckpointDir, pool: ImagePool, rounds: int) -> None:
    """This rank's pool of the first ``rounds`` rounds: a disk pool adopts the shards in its own
    folder; a memory pool gets its part of every round's shard, which rank 0 reads."""
    if ranks.size == 1 or isinstance(pool, DiskPool):
        checkpoints.restore_pool(pool, rounds)
        return
    parts: list[list[Tensor]] | None = None

    def read() -> None:
        nonlocal parts
        if ranks.is_main:
            parts = [[] for _ in range(ranks.size)]
            for round_idx in range(rounds):
                for rank, images in enumerate(safe_load(checkpoints.pool_folder / f"round_{round_idx:06d}.pt")
                                              .chunk(ranks.size)):
                    parts[rank].append(images)

    ranks.agree(read)
    for images in ranks.scatter(parts):
        pool.add_quantized(images)


def state_sha256(state: dict[str, Tensor]) -> str:
    """A hash of a state dict's names and tensor bytes: equal states, equal hashes."""
    digest = hashlib.sha256()
    for name, tensor in state.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def student_tags(ranks: Ranks, student: nn.Module) -> dict[str, str]:
    """``dfkd.student_sha256``, rank 0's final student, and ``dfkd.ranks_agree``: whether every
    rank ends with that same student (DDP's promise, checked). Every rank calls it."""
    hashes = ranks.all_gather(state_sha256(student.state_dict()))
    return {"dfkd.student_sha256": hashes[0], "dfkd.ranks_agree": str(len(set(hashes)) == 1).lower()}
