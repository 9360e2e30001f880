"""The embedded default task: scikit-learn's bundled 8x8 digits, offline, minutes on a CPU.

The 1,797 images are upsampled to 1x16x16 and split 80/20 with a fixed seed (stratified). No
reference settings exist for this task: its budgets are chosen so that ``quick`` runs in minutes
on a laptop CPU while keeping every method's per-round step count (docs/methods.md#decisions).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset, TensorDataset

from harness.core.task import Recipe, Task
from tasks.budgets import GENERATORS, embedded_classification
from tasks.models.small import cnn_large, cnn_small

SPLIT_SEED = 0
ARCHS = {"cnn_large": cnn_large, "cnn_small": cnn_small}

_BUDGETS = embedded_classification()


@cache
def digit_arrays() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(16, 16), mode="bilinear", align_corners=False).clamp(0, 1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(torch.arange(len(labels)).numpy(), test_size=0.2,
                                           random_state=SPLIT_SEED, stratify=labels.numpy())
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


class Digits(Task):
    name = "digits"
    version = "1"
    kind = "classification"
    num_classes = 10
    image_shape = (1, 16, 16)
    crop_padding = 2
    hflip = False  # digits are not flip-invariant
    pairs = {"cnn_large-cnn_small": ("cnn_large", "cnn_small")}
    architectures = ARCHS
    default_budget = "quick"
    budgets = _BUDGETS
    shipped_teachers = {"cnn_large": "a56730f632e472068de44cce84d1771ddbd91cfad642a593dda1577b56911f1a"}
    notes = ("task digits: embedded task, no reference settings; generator and budgets chosen "
             "(docs/methods.md#decision-budgets-and-schedule-scaling)",)

    def __init__(self, data_root: str | None = None, download: bool = False,
                 options: Mapping[str, str] | None = None) -> None:
        super().__init__(data_root, download, options)
        train_images = digit_arrays()[0]
        self.mean = (float(train_images.mean()),)
        self.std = (float(train_images.std()),)

    def train_set(self) -> Dataset:
        x, y, _, _ = digit_arrays()
        return TensorDataset(x, y)

    def test_set(self) -> Dataset:
        _, _, x, y = digit_arrays()
        return TensorDataset(x, y)

    def teacher_recipe(self, arch: str) -> Recipe:
        return Recipe(epochs=30, batch_size=64, lr=0.05, weight_decay=5e-4)

    def method_defaults(self, key: str) -> dict[str, Any]:
        # Generators scale with the task (docs/methods.md#decisions): nz 64, about 32 channels for 16x16 digits.
        return {"nz": 64, "ngf": 32} if key in GENERATORS else {}

