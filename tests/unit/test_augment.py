"""harness.core.augment: per-sample crops and flips, batch-wide DeepInversion jitter
(docs/methods.md#synthesis-augmentations)."""

import torch
import torch.nn.functional as F

from harness.core.augment import jitter_flip, random_crop, random_hflip


def crop_offset(out, padded, h, w, p):
    """The (dy, dx) at which ``out`` is a window of ``padded``, or None."""
    for dy in range(2 * p + 1):
        for dx in range(2 * p + 1):
            if torch.equal(out, padded[:, dy:dy + h, dx:dx + w]):
                return dy, dx
    return None


def test_random_crop_is_a_window_of_the_zero_padded_input():
    """Same shape; each sample is a window of its zero-padded self; offsets vary per sample."""
    torch.manual_seed(0)
    p, n, h, w = 2, 64, 6, 5
    x = torch.rand(n, 3, h, w) + 0.1  # strictly positive, so padding zeros are recognisable
    out = random_crop(x, p)
    assert out.shape == x.shape
    padded = F.pad(x, (p, p, p, p))
    offsets = [crop_offset(out[i], padded[i], h, w, p) for i in range(n)]
    assert all(o is not None for o in offsets)
    assert len(set(offsets)) > 1
    # Both extremes of the offset range are reachable in 64 draws (each has probability 1/5 per axis).
    assert {o[0] for o in offsets} >= {0, 2 * p}
    assert {o[1] for o in offsets} >= {0, 2 * p}


def test_random_crop_without_padding_is_identity():
    x = torch.rand(2, 1, 4, 4)
    assert random_crop(x, 0) is x


def test_random_crop_passes_gradients():
    """Each input pixel lands in at most one output pixel: gradient entries are 0 or 1."""
    x = torch.rand(8, 2, 5, 5, requires_grad=True)
    random_crop(x, 2).sum().backward()
    assert x.grad is not None
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}
    assert x.grad.sum() > 0


def test_random_hflip_flips_about_half_per_sample():
    torch.manual_seed(1)
    x = torch.rand(1000, 1, 2, 3)
    out = random_hflip(x)
    flipped = (out == x.flip(3)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert bool((flipped | kept).all())
    assert 400 <= int(flipped.sum()) <= 600


def test_random_hflip_probability_extremes():
    x = torch.rand(20, 1, 2, 3)
    assert torch.equal(random_hflip(x, p=0.0), x)
    assert torch.equal(random_hflip(x, p=1.0), x.flip(3))


def find_batch_shift(out, x, max_shift, flips):
    for dy in range(-max_shift, max_shift + 1):
        for dx in range(-max_shift, max_shift + 1):
            rolled = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            for flip in flips:
                if torch.equal(out, rolled.flip(3) if flip else rolled):
                    return dy, dx, flip
    return None


def test_jitter_rolls_the_whole_batch_by_one_shift():
    """Every sample gets the same circular shift, bounded by max_shift; no flip when hflip=False."""
    torch.manual_seed(2)
    x = torch.rand(16, 1, 8, 8)
    shifts = set()
    for _ in range(20):
        found = find_batch_shift(jitter_flip(x, 2, hflip=False), x, 2, flips=(False,))
        assert found is not None
        shifts.add(found[:2])
    assert len(shifts) > 1


def test_jitter_flip_flips_the_whole_batch_sometimes():
    torch.manual_seed(3)
    x = torch.rand(8, 2, 6, 6)
    flips = []
    for _ in range(30):
        found = find_batch_shift(jitter_flip(x, 1, hflip=True), x, 1, flips=(False, True))
        assert found is not None
        flips.append(found[2])
    assert any(flips) and not all(flips)
