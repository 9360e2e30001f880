"""ImageNet (ILSVRC-2012, 1000 classes) in torchvision's ImageFolder layout, with the paper's
Table 2 pairs built from torchvision's models (docs/methods.md#fast-imagenet-variant).

Data: ``<data root>/imagenet/train/<wnid>/*.JPEG`` and ``<data root>/imagenet/val/<wnid>/*.JPEG``
(the validation images sorted into class folders, as torchvision's ``ImageFolder`` reads them).
ImageNet cannot be downloaded by a script: it is distributed on request (image-net.org). The
standard transforms: RandomResizedCrop + flip for training, resize to 256/224 of the side and a
centre crop for evaluation. The ``image_size`` option (``--task imagenet:image_size=64``) runs the
same pipeline at a smaller side, for tests and CPUs; it is its own task in the record.
Teachers: torchvision's released ImageNet weights (``bench teacher import --from-torchvision``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from harness.core.errors import BenchError
from harness.core.task import Task

PAIRS = {
    "resnet50-resnet50": ("resnet50", "resnet50"),
    "resnet50-resnet18": ("resnet50", "resnet18"),
    "resnet50-mobilenet_v2": ("resnet50", "mobilenet_v2"),
}
PAIR_LABELS = {
    "resnet50-resnet50": "ResNet-50 / ResNet-50",
    "resnet50-resnet18": "ResNet-50 / ResNet-18",
    "resnet50-mobilenet_v2": "ResNet-50 / MobileNetV2",
}


def _torchvision(name: str):
    def build(num_classes: int, in_channels: int = 3) -> nn.Module:
        import torchvision
        return torchvision.models.get_model(name, weights=None, num_classes=num_classes)
    return build


ARCHS = {name: _torchvision(name) for name in ("resnet50", "resnet18", "mobilenet_v2")}

_FAST_KEYS = ("fast_imagenet", "fast_meta", "fast")
_DATA_FREE_KEYS = (*_FAST_KEYS, "deepinv", "cmi", "dafl", "zskt", "dfq", "dfad")
_KEYS = (*_DATA_FREE_KEYS, "teacher", "scratch", "kd")
# DeepInv-2k, the speed-up reference of Table 2: 2,000 steps a batch and the paper's 140k images
# (350 a round over 400 epochs), distilled like fast50_imagenet (400 epochs x 1000 steps of 100).
_DEEPINV_2K = {"g_steps": 2000, "epochs": 400, "kd_steps": 1000, "ep_steps": 1000, "batch_size": 100,
               "synthesis_batch_size": 350, "T": 5.0}
# The released logs' ResNet-18 run: a tenth of the adversarial weight and of the student's rate.
_FAST_IMAGENET_PAIR = {"resnet50-resnet18": {"adv": 0.01, "lr": 0.01}}
_SMOKE_DATA_FREE = {"epochs": 2, "kd_steps": 2, "ep_steps": 2, "batch_size": 8, "synthesis_batch_size": 8,
                    "eval_batch_size": 64}
_BUDGETS = {
    "paper": {key: {} for key in _KEYS},
    # One epoch's worth of each method's rounds at its own step counts: hours on one GPU.
    "quick": {**{key: {"epochs": 20, "kd_steps": 100, "ep_steps": 100} for key in _FAST_KEYS},
              **{key: {"epochs": 4, "kd_steps": 100, "ep_steps": 100} for key in ("deepinv", "cmi")},
              **{key: {"epochs": 10, "ep_steps": 100} for key in ("dafl", "zskt", "dfq", "dfad")},
              "teacher": {}, "scratch": {"epochs": 10}, "kd": {"epochs": 10}},
    "smoke": {**{key: _SMOKE_DATA_FREE for key in _DATA_FREE_KEYS},
              **{key: {**_SMOKE_DATA_FREE, "g_steps": 2} for key in _FAST_KEYS},
              "deepinv": {**_SMOKE_DATA_FREE, "g_steps": 2},
              "cmi": {**_SMOKE_DATA_FREE, "g_steps": 2, "bank_size": 64, "n_neg": 16},
              "dfq": {**_SMOKE_DATA_FREE, "kd_steps": 1},
              "teacher": {"eval_batch_size": 64},
              **{key: {"epochs": 1, "batch_size": 8, "eval_batch_size": 64} for key in ("scratch", "kd")}},
}


class ImageNet(Task):
    name = "imagenet"
    version = "1"
    kind = "classification"
    num_classes = 1000
    image_shape = (3, 224, 224)
    mean = (0.485, 0.456, 0.406)
    std = (0.229, 0.224, 0.225)
    crop_padding = 28
    hflip = True
    pairs = PAIRS
    pair_labels = PAIR_LABELS
    architectures = ARCHS
    budgets = _BUDGETS
    default_budget = "paper"
    options = {"image_size": 224}
    loader_workers = 8  # JPEG decoding and resizing at 224 px

    def __init__(self, data_root: str | None = None, download: bool = False,
                 options: Mapping[str, str] | None = None) -> None:
        super().__init__(data_root, download, options)
        size = self.option_values["image_size"]
        self.image_shape = (3, size, size)
        self.crop_padding = max(1, size // 8)  # 28 px at 224: the CIFAR ratio (4 of 32)

    @property
    def folder(self):
        return self.root / "imagenet"

    def _dataset(self, split: str) -> Dataset:
        import torchvision
        from torchvision.transforms import v2

        if self.download:
            raise BenchError("ImageNet cannot be downloaded by a script: request it at https://image-net.org, then "
                             f"put its train/ and val/ class folders under {self.folder}")
        folder = self.folder / split
        if not folder.is_dir():
            raise BenchError(f"imagenet not found: no {folder} (torchvision's ImageFolder layout: "
                             f"{self.folder}/train/<wnid>/*.JPEG and {self.folder}/val/<wnid>/*.JPEG; --data-root or "
                             f"DFKD_DATA point at the folder that holds imagenet/)")
        size = self.option_values["image_size"]
        if split == "train":
            view = [v2.RandomResizedCrop(size, antialias=True), v2.RandomHorizontalFlip()]
        else:
            view = [v2.Resize(size * 256 // 224, antialias=True), v2.CenterCrop(size)]
        transform = v2.Compose([v2.ToImage(), *view, v2.ToDtype(torch.float32, scale=True)])
        return torchvision.datasets.ImageFolder(str(folder), transform=transform)

    def train_set(self) -> Dataset:
        return self._dataset("train")

    def test_set(self) -> Dataset:
        return self._dataset("val")

    def train_batch(self, images01: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.normalize(images01), labels  # the loader's RandomResizedCrop and flip are the training view

    def method_defaults(self, key: str) -> dict[str, Any]:
        if key == "deepinv":
            return dict(_DEEPINV_2K)
        return {"generator": "dcgan"} if key in ("fast_meta", "fast") else {}

    def pair_settings(self, pair: str, key: str) -> dict[str, Any]:
        return dict(_FAST_IMAGENET_PAIR.get(pair, {})) if key == "fast_imagenet" else {}

    def cell_notes(self, pair: str, key: str) -> list[str]:
        if key in ("fast_meta", "fast"):
            return [f"{key} on imagenet: the CIFAR synthesizer with the DCGAN generator; the reference's ImageNet "
                    "synthesizer is fast50_imagenet (docs/methods.md#fast-imagenet-variant)"]
        if key == "deepinv":
            return ["deepinv on imagenet: DeepInv-2k's 2,000 steps and the paper's 140k images (350 a round, 400 "
                    "epochs); the other settings are the CIFAR ones, not DeepInversion's own ImageNet recipe "
                    "(docs/methods.md#fast-imagenet-variant)"]
        return []
