"""tasks.digits_seg: the composed canvases, the U-Nets, joint augmentation, mIoU and the settings."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.core.errors import BenchError
from harness.core.segmentation import IGNORE_INDEX
from harness.engine.plan import BASELINES, METHODS, resolve_cell
from tasks.digits import digit_arrays
from tasks.digits_seg import SPLITS, DigitsSeg, canvases, compose
from tasks.models.unet import unet_large, unet_small


@pytest.fixture(scope="module")
def task():
    return DigitsSeg()


def split_digits(split):
    train_x, train_y, test_x, test_y = digit_arrays()
    return (train_x, train_y) if split == "train" else (test_x, test_y)


def paste_by_hand(digits, digit_labels, sources, positions):
    """One canvas, re-composed pixel by pixel from its recorded sources and positions."""
    image = torch.zeros(32, 32)
    label = torch.zeros(32, 32, dtype=torch.long)
    for src, (row, col) in zip(sources.tolist(), positions.tolist()):
        if src < 0:
            continue
        for i in range(16):
            for j in range(16):
                value = float(digits[src, 0, i, j])
                image[row + i, col + j] = max(float(image[row + i, col + j]), value)
                if value > 0.25:
                    label[row + i, col + j] = int(digit_labels[src]) + 1
    return image, label


def test_composition_is_deterministic():
    digits, digit_labels = split_digits("test")
    a, b = compose(digits, digit_labels, 50, 7), compose(digits, digit_labels, 50, 7)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert not torch.equal(a.images, compose(digits, digit_labels, 50, 8).images)
    # The cached split is exactly the seeded composition of its own digits.
    count, seed = SPLITS["test"]
    for x, y in zip(canvases("test"), compose(digits, digit_labels, count, seed)):
        assert torch.equal(x, y)


@pytest.mark.parametrize("split,count", [("train", 4000), ("test", 800)])
def test_shapes_ranges_and_labels(split, count):
    c = canvases(split)
    assert c.images.shape == (count, 1, 32, 32) and c.images.dtype == torch.float32
    assert c.labels.shape == (count, 32, 32) and c.labels.dtype == torch.long
    assert c.sources.shape == (count, 3) and c.positions.shape == (count, 3, 2)
    assert float(c.images.min()) == 0.0 and float(c.images.max()) <= 1.0
    assert set(c.labels.unique().tolist()) == set(range(11))
    # Digit labels exactly where the canvas is above 0.25; background 0 elsewhere.
    assert torch.equal(c.labels > 0, c.images[:, 0] > 0.25)
    # 1-3 digits per canvas, used slots first, positions inside the canvas.
    used = (c.sources >= 0).sum(1)
    assert used.min() == 1 and used.max() == 3 and set(used.tolist()) == {1, 2, 3}
    assert torch.equal(c.sources >= 0, torch.arange(3) < used[:, None])
    active = c.positions[c.sources >= 0]
    assert active.min() == 0 and active.max() == 16


@pytest.mark.parametrize("split", ["train", "test"])
def test_canvases_are_composed_from_their_own_split_only(split):
    """Re-pasting the recorded digits of the split's own digits reproduces the canvases exactly,
    so train canvases use only training digits and test canvases only test digits."""
    c = canvases(split)
    digits, digit_labels = split_digits(split)
    assert int(c.sources.max()) < len(digits)
    assert len(c.sources.unique()) > 0.6 * len(digits)  # the composition draws from the whole split
    for i in range(0, len(c.images), len(c.images) // 12):
        image, label = paste_by_hand(digits, digit_labels, c.sources[i], c.positions[i])
        assert torch.equal(c.images[i, 0], image)
        assert torch.equal(c.labels[i], label)
    # The check is discriminating: the other split's digits at the same indices do not match.
    other_digits, other_labels = split_digits("test" if split == "train" else "train")
    i = int((c.sources.max(1).values < len(other_digits)).nonzero()[0])
    image, _ = paste_by_hand(other_digits, other_labels, c.sources[i], c.positions[i])
    assert not torch.equal(c.images[i, 0], image)


@pytest.mark.parametrize("split", ["train", "test"])
def test_digit_inks_never_overlap_nor_touch(split):
    """Every labelled pixel's class is visible: no two digits' inks share or border a pixel."""
    c = canvases(split)
    digits, _ = split_digits(split)
    two_or_more = ((c.sources >= 0).sum(1) >= 2).nonzero().squeeze(1)
    assert len(two_or_more) > 0.3 * len(c.images)
    for i in two_or_more[:: max(1, len(two_or_more) // 40)].tolist():
        inks = []
        for src, (row, col) in zip(c.sources[i].tolist(), c.positions[i].tolist()):
            if src >= 0:
                ink = torch.zeros(1, 1, 32, 32)
                ink[0, 0, row:row + 16, col:col + 16] = (digits[src, 0] > 0.25).float()
                inks.append(ink)
        for a in range(len(inks)):
            grown = F.max_pool2d(inks[a], 3, stride=1, padding=1)
            for b in range(a + 1, len(inks)):
                assert not (grown * inks[b]).any(), f"canvas {i}: digits {a} and {b} touch"


def test_normalisation_uses_training_canvases(task):
    images = canvases("train").images
    assert task.mean == pytest.approx((float(images.mean()),))
    assert task.std == pytest.approx((float(images.std()),))
    assert task.image_shape == (1, 32, 32) and task.num_classes == 11 and task.kind == "segmentation"


@pytest.mark.parametrize("build,target,width", [(unet_large, 196_000, 20), (unet_small, 12_600, 8)])
def test_models(build, target, width):
    torch.manual_seed(0)
    model = build().eval()
    params = sum(p.numel() for p in model.parameters())
    assert 0.85 * target <= params <= 1.15 * target
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        logits = model(x)
        logits2, features = model(x, return_features=True)
    assert logits.shape == (2, 11, 32, 32)
    assert features.shape == (2, width)
    torch.testing.assert_close(logits, logits2, atol=0, rtol=0)
    # Every 3x3 conv is followed by a BatchNorm; only the 1x1 classifier is not.
    modules = list(model.modules())
    convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
    assert all(isinstance(modules[i + 1], nn.BatchNorm2d) for i in convs[:-1])
    assert modules[convs[-1]] is model.classifier and model.classifier.kernel_size == (1, 1)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in modules) == len(convs) - 1 >= 6


def test_build_model_and_pair(task):
    teacher, student = task.pair(None)
    assert (teacher, student) == ("unet_large", "unet_small")
    assert sum(p.numel() for p in task.build_model(teacher).parameters()) > \
        10 * sum(p.numel() for p in task.build_model(student).parameters())
    with pytest.raises(BenchError, match="unet_large"):
        task.build_model("cnn_large")


def test_train_batch_keeps_image_and_label_aligned(task):
    """Each sample's image and label are the same window of the padded canvas; padding is 255."""
    torch.manual_seed(0)
    c = canvases("train")
    images01, labels = c.images[:32], c.labels[:32]
    out_images, out_labels = task.train_batch(images01, labels)
    assert out_images.shape == (32, 1, 32, 32) and out_labels.shape == (32, 32, 32)
    assert out_labels.dtype == torch.long
    out01 = task.denormalize(out_images)
    p = task.crop_padding
    padded_images = F.pad(images01, (p, p, p, p))
    padded_labels = F.pad(labels, (p, p, p, p), value=IGNORE_INDEX)
    offsets = set()
    for i in range(32):
        found = [(dy, dx) for dy in range(2 * p + 1) for dx in range(2 * p + 1)
                 if torch.equal(out_labels[i], padded_labels[i, dy:dy + 32, dx:dx + 32])
                 and torch.allclose(out01[i], padded_images[i, :, dy:dy + 32, dx:dx + 32], atol=1e-5)]
        assert found, f"sample {i}: image and label are not the same window"
        offsets.add(found[0])
    assert len(offsets) > 1
    assert (out_labels == IGNORE_INDEX).any()
    assert set(out_labels.unique().tolist()) <= set(range(11)) | {IGNORE_INDEX}


class Constant(nn.Module):
    """Predicts class ``k`` everywhere."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 11, *x.shape[-2:])
        logits[:, self.k] = 1.0
        return logits


class Oracle(nn.Module):
    """Replays the test labels in loader order (evaluate does not shuffle)."""

    def __init__(self, labels):
        super().__init__()
        self.labels, self.seen = labels, 0

    def forward(self, x):
        labels = self.labels[self.seen:self.seen + len(x)]
        self.seen += len(x)
        return F.one_hot(labels, 11).permute(0, 3, 1, 2).float()


def test_evaluate_constant_background_and_oracle(task):
    cpu = torch.device("cpu")
    labels = canvases("test").labels
    background = float((labels == 0).double().mean())
    metrics = task.evaluate(Constant(0), cpu)
    assert metrics["pixel_acc"] == pytest.approx(background)
    assert metrics["miou"] == pytest.approx(background / 11)
    assert 0.7 < background < 0.9
    perfect = task.evaluate(Oracle(labels), cpu)
    assert perfect["miou"] == pytest.approx(1.0) and perfect["pixel_acc"] == pytest.approx(1.0)


def test_budgets_and_method_defaults(task):
    assert task.budget("paper", "fast") == {}
    assert task.budget("quick", "fast_meta") == {"epochs": 40, "kd_steps": 40, "ep_steps": 40, "batch_size": 64,
                                                 "synthesis_batch_size": 64}
    assert task.budget("quick", "dfad") == {"epochs": 20, "ep_steps": 40, "batch_size": 64,
                                            "synthesis_batch_size": 64}
    assert task.budget("quick", "kd") == {"epochs": 30, "batch_size": 64}
    assert task.budget("smoke", "fast")["g_steps"] == 2 and "g_steps" not in task.budget("smoke", "dafl")
    assert task.budget("smoke", "scratch") == {"epochs": 1, "batch_size": 64, "eval_batch_size": 256}
    assert task.method_defaults("fast")["oh"] == 0.0 and task.method_defaults("deepinv") == {"oh": 0.0, "T": 1.0}
    # Segmentation KD is a per-pixel KL at T = 1 (docs/methods.md#decision-segmentation-kd), not the pool
    # methods' T = 20.
    assert all(task.method_defaults(key)["T"] == 1.0 for key in ("fast", "fast_meta", "deepinv"))
    task.budget("quick", "fast")["epochs"] = 0  # callers get copies
    assert task.budget("quick", "fast")["epochs"] == 40


@pytest.mark.parametrize("budget", ["paper", "quick", "smoke"])
@pytest.mark.parametrize("method", ["fast", "fast5", "deepinv", "dafl", "dfad", "scratch", "kd", "teacher"])
def test_settings_resolve_for_every_segmentation_method(task, method, budget):
    """Every task and budget field is one the method's config knows (unknown fields are errors)."""
    spec = METHODS.get(method) if method in METHODS else BASELINES.get(method)
    assert "segmentation" in spec.cls.supports
    resolved = resolve_cell(task, spec, "unet_large-unet_small", budget, {}, {})
    for name, value in {**task.method_defaults(spec.settings_key), **task.budget(budget, spec.settings_key)}.items():
        assert getattr(resolved.config, name) == value
