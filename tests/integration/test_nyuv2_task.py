"""The NYUv2 task on a tiny dataset in the extracted layout (docs/methods.md#nyuv2-data-layout,
docs/methods.md#nyuv2-transforms, docs/methods.md#miou): reading it,
the synchronised transforms, the data root and its error messages, evaluation, and that every
family's layered settings resolve."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.core.errors import BenchError
from harness.core.synthesizer import require_no_class_targets
from harness.engine.plan import lookup_method, resolve_cell
from tasks.nyuv2 import NYUv2
from tests.fixtures_nyuv2 import halves, write_frame, write_nyuv2

N_TRAIN, N_TEST = 4, 3
VALID = set(range(13)) | {255}




@pytest.fixture
def nyu_root(tmp_path):
    return write_nyuv2(tmp_path / "data", N_TRAIN, N_TEST)


# -- reading the data -----------------------------------------------------------------------------

def test_constants():
    assert NYUv2.name == "nyuv2" and NYUv2.kind == "segmentation" and NYUv2.metric == "miou"
    assert NYUv2.num_classes == 13
    assert NYUv2.image_shape == (3, 128, 128)
    assert NYUv2.mean == (0.5, 0.5, 0.5) and NYUv2.std == (0.5, 0.5, 0.5)
    assert NYUv2.crop_padding == 16 and NYUv2.hflip is True
    assert NYUv2().pair(None) == ("deeplabv3_resnet50", "deeplabv3_mobilenetv2")


def test_train_items_are_128_crops_with_long_labels(nyu_root):
    train = NYUv2(data_root=str(nyu_root)).train_set()
    assert len(train) == N_TRAIN
    for index in range(N_TRAIN):
        image, label = train[index]
        assert image.dtype == torch.float32 and image.shape == (3, 128, 128)
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        assert label.dtype == torch.long and label.shape == (128, 128)
        assert set(label.unique().tolist()) <= VALID


def test_test_items_are_full_resized_frames(nyu_root):
    task = NYUv2(data_root=str(nyu_root))
    test = task.test_set()
    assert len(test) == N_TEST and task.has_test_set()
    image, label = test[0]
    assert image.shape == (3, 256, 341) and image.dtype == torch.float32
    assert label.shape == (256, 341) and label.dtype == torch.long
    assert set(label.unique().tolist()) <= VALID
    assert 255 in label.unique().tolist()


def test_loader_batches_for_training(nyu_root):
    task = NYUv2(data_root=str(nyu_root))
    images, labels = next(iter(task.loader(task.train_set(), 2, shuffle=True)))
    assert images.shape == (2, 3, 128, 128) and labels.shape == (2, 128, 128) and labels.dtype == torch.long
    # a last batch of one image would break train-mode BatchNorm: it is dropped, and only then
    assert len(task.loader(task.train_set(), 3, shuffle=True)) == 1
    assert len(task.loader(task.train_set(), 3, shuffle=False)) == 2
    assert len(task.loader(task.train_set(), 8, shuffle=True)) == 1


def test_transforms_keep_image_and_label_aligned(tmp_path):
    """Left half white = label 1, right half black = label 2: every crop and flip keeps that."""
    root = tmp_path / "data"
    write_frame(root, "train", 1, *halves())
    train = NYUv2(data_root=str(root)).train_set()
    torch.manual_seed(0)
    both = flipped = 0
    for _ in range(40):
        image, label = train[0]
        white, black = (image > 0.9).all(dim=0), (image < 0.1).all(dim=0)
        assert white.any() or black.any()
        assert (label[white] == 1).all() and (label[black] == 2).all()
        assert set(label.unique().tolist()) <= {1, 2, 255}
        if white.any() and black.any():
            both += 1
            columns = torch.arange(128)
            flipped += int(columns[white.any(0)].float().mean() > columns[black.any(0)].float().mean())
    assert both > 0 and 0 < flipped < both  # crops across the boundary, flipped and not


def test_labels_are_resized_by_nearest_neighbour(tmp_path):
    root = tmp_path / "data"
    write_frame(root, "test", 1, *halves())
    image, label = NYUv2(data_root=str(root)).test_set()[0]
    assert set(label.unique().tolist()) == {1, 2}
    assert (label[:, :160] == 1).all() and (label[:, 180:] == 2).all()
    assert (image[:, :, :160] > 0.99).all() and (image[:, :, 180:] < 0.01).all()


# -- data root and errors -------------------------------------------------------------------------

def test_dfkd_data_is_the_root_when_none_is_given(nyu_root, monkeypatch):
    monkeypatch.setenv("DFKD_DATA", str(nyu_root))
    task = NYUv2()
    assert task.root == nyu_root
    assert len(task.train_set()) == N_TRAIN


def test_missing_data_is_a_one_line_bench_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    task = NYUv2(data_root=str(empty))
    assert not task.has_test_set()
    with pytest.raises(BenchError, match="nyuv2 not found") as caught:
        task.train_set()
    message = str(caught.value)
    assert "\n" not in message
    assert str(empty / "NYUv2" / "image" / "train") in message
    assert "nyuv2-python-toolkit" in message and "--data-root" in message and "DFKD_DATA" in message


def test_missing_label_maps_are_reported(nyu_root):
    (nyu_root / "NYUv2" / "seg13" / "train" / "00002.png").unlink()
    with pytest.raises(BenchError, match="00002.png"):
        NYUv2(data_root=str(nyu_root)).train_set()


def test_download_is_refused_with_the_layout(nyu_root):
    task = NYUv2(data_root=str(nyu_root), download=True)
    for call in (task.train_set, task.test_set, task.has_test_set):
        with pytest.raises(BenchError, match="cannot be downloaded automatically") as caught:
            call()
        message = str(caught.value)
        assert "\n" not in message and "seg13" in message and str(nyu_root / "NYUv2") in message


def test_unknown_architecture_is_a_bench_error():
    with pytest.raises(BenchError, match="deeplabv3_mobilenetv2"):
        NYUv2().build_model("resnet18")


# -- device-side views and evaluation --------------------------------------------------------------

def test_train_batch_only_normalises(nyu_root):
    task = NYUv2(data_root=str(nyu_root))
    images, labels = torch.rand(2, 3, 128, 128), torch.randint(0, 13, (2, 128, 128))
    out_images, out_labels = task.train_batch(images, labels)
    assert torch.allclose(out_images, (images - 0.5) / 0.5)
    assert torch.equal(out_labels, labels)


class Constant(nn.Module):
    """Predicts class ``c`` everywhere, at half resolution (the evaluator upsamples)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 13, 1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.bias.zero_()
            self.conv.bias[c] = 1.0

    def forward(self, x):
        return self.conv(x[..., ::2, ::2])


def test_evaluate_scores_the_whole_resized_test_split(nyu_root, cpu):
    task = NYUv2(data_root=str(nyu_root))
    labels = torch.stack([task.test_set()[i][1] for i in range(N_TEST)])
    valid = labels != 255
    share = float((labels == 3).sum()) / float(valid.sum())
    metrics = task.evaluate(Constant(3), cpu, batch_size=2)
    assert metrics["pixel_acc"] == pytest.approx(share, abs=1e-6)
    assert metrics["miou"] == pytest.approx(share / 13, abs=1e-6)  # IoU_3 = hits / all valid pixels

    torch.manual_seed(0)
    model = nn.Conv2d(3, 13, 1).train()
    metrics = task.evaluate(model, cpu, batch_size=2)
    assert 0.0 <= metrics["miou"] <= 1.0 and 0.0 <= metrics["pixel_acc"] <= 1.0
    assert model.training  # restored


# -- layered settings ------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["fast5", "fast", "deepinv", "dafl", "dfad", "teacher", "scratch", "kd"])
@pytest.mark.parametrize("budget", ["paper", "quick", "smoke"])
def test_every_family_resolves_at_every_budget(method, budget):
    task = NYUv2()
    _, spec, _ = lookup_method(method)
    pair = next(iter(task.pairs))
    config = resolve_cell(task, spec, pair, budget, {}, {}).config
    if spec.settings_key in ("fast", "fast_meta", "deepinv"):
        require_no_class_targets(config, task)  # segmentation: oh must be 0
    if budget == "smoke":
        assert config.eval_batch_size == 2
    else:
        assert config.eval_batch_size == 16


def test_method_defaults_and_budgets():
    task = NYUv2()
    for key in ("fast_meta", "fast"):
        defaults = task.method_defaults(key)
        assert {k: defaults[k] for k in ("nz", "ngf", "oh", "adv", "bn", "batch_size", "synthesis_batch_size",
                                         "lr", "generator")} == {
            "nz": 256, "ngf": 64, "oh": 0.0, "adv": 1.0, "bn": 10.0, "batch_size": 64,
            "synthesis_batch_size": 64, "lr": 0.1, "generator": "dcgan"}
    assert task.method_defaults("dfad")["adv_loss"] == "log_l1"
    assert task.method_defaults("dafl")["generator"] == "dcgan"
    assert all(task.budget("paper", key) == {} for key in ("fast_meta", "dfad", "scratch"))
    assert task.budget("smoke", "fast_meta")["g_steps"] == 1
    assert task.budget("smoke", "kd") == {"epochs": 1, "batch_size": 2, "eval_batch_size": 2}
    assert task.teacher_recipe("deeplabv3_resnet50").batch_size == 16
