"""The pool for data that does not fit in memory (ImageNet: 140k x 3 x 224 x 224 uint8 is 21 GB):
each round's images stay in their shard on disk, the one a checkpoint keeps for resume, and KD
batches are read back through a DataLoader with worker processes and pinned memory."""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from harness.core.pool import ImagePool
from harness.engine.checkpoint import atomic_save


class _Shards(Dataset):
    """The images of a run's round shards, by global index; each worker memory-maps the shards."""

    def __init__(self, paths: list[Path], sizes: list[int]) -> None:
        self.paths, self.starts = paths, [0]
        for size in sizes:
            self.starts.append(self.starts[-1] + size)
        self._open: dict[int, Tensor] = {}

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, index: int) -> Tensor:
        shard = bisect.bisect_right(self.starts, index) - 1
        if shard not in self._open:
            self._open[shard] = torch.load(self.paths[shard], mmap=True, weights_only=True)
        return self._open[shard][index - self.starts[shard]]


class DiskPool(ImagePool):
    """The pool for data that does not fit in memory (ImageNet: 140k x 3 x 224 x 224 uint8 is
    21 GB): each round's images stay in their shard on disk, the one a checkpoint keeps for resume
    (``attach`` names the folder), and KD batches are read back through a DataLoader with worker
    processes and pinned memory. Same quantisation, passes and order as ``ImagePool`` (the same
    permutation), so a run's numbers do not depend on where its pool lives."""

    def __init__(self, device: torch.device, generator: torch.Generator | None = None,
                 workers: int | None = None) -> None:
        super().__init__(device, generator)
        # Readers beside the training process: up to 4, none when the process has one core.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.workers = min(4, cores - 1) if workers is None else workers
        self.folder: Path | None = None
        self._paths: list[Path] = []
        self._sizes: list[int] = []
        self._batches: Iterator[Tensor] | None = None

    def attach(self, folder: Path) -> None:
        """Keep the shards in ``folder`` (the run's checkpoint pool folder)."""
        self.folder = folder

    def shard(self, round_idx: int) -> Path:
        assert self.folder is not None, "attach the disk pool to its folder before the first round"
        return self.folder / f"round_{round_idx:06d}.pt"

    def __len__(self) -> int:
        return sum(self._sizes)

    def add_quantized(self, images: Tensor) -> None:
        path = self.shard(len(self._paths))
        atomic_save(images.cpu().contiguous(), path)
        self._register(path, images.shape[0])

    def adopt(self, rounds: int) -> None:
        """Resume: the first ``rounds`` shards already in the folder are the pool; later ones (a
        round the interrupted attempt synthesised after its last checkpoint) are dropped."""
        self._paths, self._sizes = [], []
        for round_idx in range(rounds):
            path = self.shard(round_idx)
            self._register(path, torch.load(path, mmap=True, weights_only=True).shape[0])
        for stale in sorted(self.folder.glob("round_*.pt"))[rounds:] if self.folder else []:
            stale.unlink()

    def _register(self, path: Path, size: int) -> None:
        self._paths.append(path)
        self._sizes.append(size)
        self._batches = None  # a new shuffled pass, as the in-memory pool starts one

    def sample(self, batch_size: int) -> Tensor:
        if not self._paths:
            raise RuntimeError("the pool is empty: synthesise before sampling")
        batch = next(self._batches, None) if self._batches is not None else None
        if batch is None:
            order = torch.randperm(len(self), generator=self.generator)
            # The loader's own generator seeds its workers: the run's random stream stays the
            # in-memory pool's.
            loader = DataLoader(_Shards(list(self._paths), list(self._sizes)), batch_sampler=order.split(batch_size),
                                num_workers=self.workers, pin_memory=self.device.type == "cuda",
                                generator=torch.Generator().manual_seed(0))
            self._batches = iter(loader)
            batch = next(self._batches)
        return batch.to(self.device, non_blocking=True).float() / 255

    def state_dict(self) -> dict:
        return {"images": None}  # on disk, in the checkpoint's own shards

    def load_state_dict(self, state: dict) -> None:
        pass
