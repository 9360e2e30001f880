"""pytest-benchmark: KD-batch sampling throughput (images/s) from the in-memory pool and from the
disk pool (the run's uint8 shards read by DataLoader workers), at CIFAR shapes: 4,096 images of
3x32x32 in 16 rounds, batches of 256. CI runs each once (``--benchmark-disable``); the figures
are in the benchmark table's extra_info."""

from __future__ import annotations

import time

import pytest
import torch

from harness.core.pool import ImagePool
from harness.engine.disk_pool import DiskPool

ROUNDS, PER_ROUND, BATCH = 16, 256, 256


def filled(kind: str, folder) -> ImagePool:
    pool = ImagePool(torch.device("cpu")) if kind == "memory" else DiskPool(torch.device("cpu"))
    if isinstance(pool, DiskPool):
        pool.attach(folder)
    g = torch.Generator().manual_seed(0)
    for _ in range(ROUNDS):
        pool.add(torch.rand(PER_ROUND, 3, 32, 32, generator=g))
    return pool


@pytest.mark.parametrize("kind", ["memory", "disk"])
def test_kd_sampling_throughput(benchmark, kind, tmp_path):
    pool = filled(kind, tmp_path / "pool")
    batches = ROUNDS * PER_ROUND // BATCH  # one pass

    def one_pass():
        start = time.perf_counter()
        for _ in range(batches):
            batch = pool.sample(BATCH)
        return batch, time.perf_counter() - start

    batch, seconds = benchmark.pedantic(one_pass, rounds=1, iterations=1)
    assert batch.shape == (BATCH, 3, 32, 32) and batch.dtype == torch.float32
    benchmark.extra_info["images_per_s"] = round(batches * BATCH / seconds)
    print(f"\n{kind} pool: {batches * BATCH / seconds:,.0f} images/s")
