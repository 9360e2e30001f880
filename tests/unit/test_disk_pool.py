"""harness.engine.disk_pool.DiskPool: the pool kept in the run's shards on disk gives exactly the
in-memory pool's batches (same quantisation, passes and order; the run's random stream untouched
by its loader), stores uint8, and a resumed run adopts the shards it finds, dropping later ones."""

from __future__ import annotations

import torch

from harness.core.pool import ImagePool, quantize
from harness.engine.disk_pool import DiskPool

CPU = torch.device("cpu")


def rounds(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(n, 3, 8, 8, generator=g) for n in (10, 7, 12)]


def draw(pool: ImagePool, steps: int) -> list[torch.Tensor]:
    """Batches of 4, with a global-RNG draw between them (as synthesis makes)."""
    out = []
    for _ in range(steps):
        out += [pool.sample(4), torch.rand(2)]
    return out


def test_the_disk_pool_gives_the_memory_pools_batches_exactly(tmp_path):
    memory, disk = ImagePool(CPU), DiskPool(CPU, workers=1)  # a worker process reads the shards
    disk.attach(tmp_path / "pool")
    seen = []
    for pool in (memory, disk):
        torch.manual_seed(3)
        batches = []
        for images in rounds():
            pool.add(images)
            batches += draw(pool, 5)  # passes of 10, 17 and 29 images: short batches and new passes
        seen.append(batches)
    assert len(memory) == len(disk) == 29
    for a, b in zip(*seen):
        assert torch.equal(a, b)


def test_shards_are_the_quantised_rounds_in_uint8(tmp_path):
    disk = DiskPool(CPU, workers=0)
    disk.attach(tmp_path / "pool")
    for images in rounds():
        disk.add(images)
    for index, images in enumerate(rounds()):
        stored = torch.load(tmp_path / "pool" / f"round_{index:06d}.pt", weights_only=True)
        assert stored.dtype == torch.uint8 and torch.equal(stored, quantize(images))
    assert disk.state_dict() == {"images": None}  # nothing duplicated into the epoch checkpoint


def test_a_resumed_pool_adopts_its_shards_and_drops_later_ones(tmp_path):
    first = DiskPool(CPU, workers=0)
    first.attach(tmp_path / "pool")
    for images in rounds():
        first.add(images)  # three rounds written; the checkpoint the resume reads holds two
    resumed = DiskPool(CPU, workers=0)
    resumed.attach(tmp_path / "pool")
    resumed.adopt(2)
    assert len(resumed) == 17 and not (tmp_path / "pool" / "round_000002.pt").exists()
    memory = ImagePool(CPU)
    for images in rounds()[:2]:
        memory.add(images)
    torch.manual_seed(5)
    expected = draw(memory, 6)
    torch.manual_seed(5)
    assert all(torch.equal(a, b) for a, b in zip(expected, draw(resumed, 6)))

