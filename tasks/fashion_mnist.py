"""Fashion-MNIST: real photographs of clothes (Zalando), 70,000 1x28x28 grayscale images in 10
classes, official 60k/10k split; reachable offline and harder than the digits.

The data root holds torchvision's layout, ``<root>/FashionMNIST/raw/`` with the four standard idx
files (gzipped or not). When the root has none, the gzipped files are taken from the folder that
Debian's ``dataset-fashion-mnist`` package installs (``/usr/share/datasets/fashion-mnist``), and
``--download`` fetches them through torchvision. Gzipped files are unpacked once into the root's
raw folder, which torchvision reads. No reference settings exist for this task
(docs/methods.md#decision-embedded-tasks).
"""

from __future__ import annotations

import gzip
import shutil
from functools import cached_property
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset, TensorDataset

from harness.core.errors import BenchError
from harness.core.task import Recipe, Task
from tasks.budgets import GENERATORS, embedded_classification
from tasks.models.small import SmallCNN

DEBIAN_FOLDER = Path("/usr/share/datasets/fashion-mnist")
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# Mean and standard deviation of the training split's pixels in [0, 1].
MEAN, STD = (0.2860,), (0.3530,)


def fmnist_teacher(num_classes: int = 10, in_channels: int = 1) -> SmallCNN:
    """Three stages of two 3x3 conv-BN-ReLU blocks, 32/64/128 channels (287k parameters)."""
    return SmallCNN(((32, 32), (64, 64), (128, 128)), num_classes, in_channels)


def fmnist_student(num_classes: int = 10, in_channels: int = 1) -> SmallCNN:
    """One block per stage, 24/48/96 channels: about a sixth of the teacher's parameters."""
    return SmallCNN(((24,), (48,), (96,)), num_classes, in_channels)


ARCHS = {"fmnist_teacher": fmnist_teacher, "fmnist_student": fmnist_student}

# CMI: 8 rounds of 128 images (digits: 4 of 64), so that it is not judged on 256 images.
_BUDGETS = embedded_classification(
    cmi={"epochs": 8, "kd_steps": 40, "ep_steps": 40, "batch_size": 128, "synthesis_batch_size": 128},
    scratch={"epochs": 10, "batch_size": 128}, kd={"epochs": 10, "batch_size": 128})


class FashionMNIST(Task):
    name = "fashion-mnist"
    version = "1"
    kind = "classification"
    num_classes = 10
    image_shape = (1, 28, 28)
    mean, std = MEAN, STD
    crop_padding = 3  # CIFAR's 4 of 32, scaled
    hflip = True  # clothes are flip-invariant
    pairs = {"fmnist_teacher-fmnist_student": ("fmnist_teacher", "fmnist_student")}
    architectures = ARCHS
    default_budget = "quick"
    budgets = _BUDGETS
    shipped_teachers = {"fmnist_teacher": "70b7dae48ec06fa53015adcee742fc1056dae40540a3b23a66965c28fc7cdcfe"}
    notes = ("task fashion-mnist: no reference settings; models, generator and budgets chosen "
             "(docs/methods.md#decision-budgets-and-schedule-scaling)",)

    @property
    def raw(self) -> Path:
        return self.root / "FashionMNIST" / "raw"

    def _unpack(self) -> None:
        """Unpack gzipped idx files (from the root's raw folder, else Debian's) into the raw folder."""
        if all((self.raw / name).is_file() for name in FILES):
            return
        for folder in (self.raw, DEBIAN_FOLDER):
            if all((folder / f"{name}.gz").is_file() for name in FILES):
                self.raw.mkdir(parents=True, exist_ok=True)
                for name in FILES:
                    if not (self.raw / name).is_file():
                        tmp = self.raw / f".{name}.partial"
                        with gzip.open(folder / f"{name}.gz", "rb") as src, open(tmp, "wb") as dst:
                            shutil.copyfileobj(src, dst)
                        tmp.replace(self.raw / name)
                return

    def _load(self, train: bool) -> TensorDataset:
        import torchvision

        self._unpack()
        try:
            data = torchvision.datasets.FashionMNIST(str(self.root), train=train, download=self.download)
        except RuntimeError as error:
            raise BenchError(
                f"fashion-mnist not found under {self.raw} ({error}). Install Debian's dataset-fashion-mnist "
                f"(apt-get install dataset-fashion-mnist), or pass --download (torchvision), or point "
                f"--data-root / DFKD_DATA at a folder holding FashionMNIST/raw/") from None
        images = data.data.unsqueeze(1).float().div_(255)
        return TensorDataset(images, data.targets.long())

    @cached_property
    def _train(self) -> TensorDataset:
        return self._load(train=True)

    @cached_property
    def _test(self) -> TensorDataset:
        return self._load(train=False)

    def train_set(self) -> Dataset:
        return self._train

    def test_set(self) -> Dataset:
        return self._test

    def teacher_recipe(self, arch: str) -> Recipe:
        return Recipe(epochs=12, batch_size=128, lr=0.05, weight_decay=5e-4)

    def method_defaults(self, key: str) -> dict[str, Any]:
        # The digits' generator size (nz 64, 32 channels) for 28x28 images.
        return {"nz": 64, "ngf": 32} if key in GENERATORS else {}
