"""harness.core.pool: truncating quantisation and shuffled passes over the growing pool (docs/methods.md#data-pool)."""

import pytest
import torch

from harness.core.pool import ImagePool, quantize

CPU = torch.device("cpu")


@pytest.mark.parametrize("value, expected", [(0.999, 254), (1.0, 255), (1.5, 255), (-0.2, 0), (0.5, 127), (0.0, 0)])
def test_quantize_truncates(value, expected):
    """uint8(floor(255 * clamp(x, 0, 1))): truncation, not rounding."""
    out = quantize(torch.tensor([value]))
    assert out.dtype == torch.uint8
    assert out.item() == expected


def distinct_images(n, start=0):
    """n 1x2x2 images; image i has every pixel at level start + i (exactly recoverable)."""
    levels = torch.arange(start, start + n, dtype=torch.float32)
    return ((levels + 0.5) / 255).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def ids(batch):
    """The level of each sampled image."""
    return [int(round(v)) for v in (batch[:, 0, 0, 0] * 255).tolist()]


def test_pool_grows_by_each_add():
    pool = ImagePool(CPU)
    assert len(pool) == 0
    pool.add(distinct_images(3))
    assert len(pool) == 3
    pool.add(distinct_images(5, start=3))
    assert len(pool) == 8
    assert pool.data.dtype == torch.uint8 and pool.data.shape == (8, 1, 2, 2)


def test_sample_returns_float_images_in_unit_range():
    pool = ImagePool(CPU)
    pool.add(torch.rand(10, 3, 4, 4) * 1.4 - 0.2)
    batch = pool.sample(4)
    assert batch.shape == (4, 3, 4, 4)
    assert batch.dtype == torch.float32
    assert batch.min() >= 0 and batch.max() <= 1


def test_sampling_an_empty_pool_raises():
    with pytest.raises(RuntimeError, match="the pool is empty"):
        ImagePool(CPU).sample(2)


def test_a_pass_visits_every_image_once_with_short_final_batch():
    """Batches of 4 over 10 images: 4, 4, 2 covering each image once, then a new pass."""
    pool = ImagePool(CPU, generator=torch.Generator().manual_seed(0))
    pool.add(distinct_images(10))
    batches = [pool.sample(4) for _ in range(3)]
    assert [b.shape[0] for b in batches] == [4, 4, 2]
    seen = [i for b in batches for i in ids(b)]
    assert sorted(seen) == list(range(10))
    second = [i for _ in range(3) for i in ids(pool.sample(4))]
    assert sorted(second) == list(range(10))


def test_adding_starts_a_new_pass_over_everything():
    """After add(), the next pass covers old and new images from the start."""
    pool = ImagePool(CPU, generator=torch.Generator().manual_seed(1))
    pool.add(distinct_images(10))
    pool.sample(4)  # part-way through a pass
    pool.add(distinct_images(3, start=10))
    batch = pool.sample(13)
    assert sorted(ids(batch)) == list(range(13))


def test_seeded_generator_gives_reproducible_order():
    orders = []
    for _ in range(2):
        pool = ImagePool(CPU, generator=torch.Generator().manual_seed(7))
        pool.add(distinct_images(12))
        orders.append(ids(pool.sample(12)))
    assert orders[0] == orders[1]
    assert orders[0] != list(range(12))  # shuffled (probability 1/12! of a false failure)


def test_state_dict_round_trip():
    """A restored pool holds the same quantised images."""
    pool = ImagePool(CPU)
    pool.add(torch.rand(6, 1, 3, 3))
    pool.add(torch.rand(2, 1, 3, 3))
    state = pool.state_dict()
    restored = ImagePool(CPU)
    restored.load_state_dict(state)
    assert len(restored) == 8
    assert torch.equal(restored.data, pool.data)
    assert sorted(restored.sample(8).flatten().tolist()) == sorted(pool.data.float().div(255).flatten().tolist())


def test_state_dict_of_empty_pool_round_trips():
    restored = ImagePool(CPU)
    restored.load_state_dict(ImagePool(CPU).state_dict())
    assert len(restored) == 0
