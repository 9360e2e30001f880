"""The Task base class: data, models, normalisation, augmentation, metric and budgets."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from harness.core import augment, paths
from harness.core.errors import BenchError, unknown


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum and step decay x0.1 at 60/75/90% of training
    (docs/methods.md#teacher-training: 120/150/180 of 200)."""

    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[float, ...] = (0.6, 0.75, 0.9)
    gamma: float = 0.1


class Task(ABC):
    """One benchmark task. Datasets yield ``[0, 1]`` images; normalisation happens on device."""

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    kind: ClassVar[Literal["classification", "segmentation"]] = "classification"
    num_classes: ClassVar[int]
    image_shape: ClassVar[tuple[int, int, int]]
    mean: ClassVar[tuple[float, ...]]
    std: ClassVar[tuple[float, ...]]
    crop_padding: ClassVar[int]
    hflip: ClassVar[bool]
    pairs: ClassVar[dict[str, tuple[str, str]]]  # pair id -> (teacher, student), in the paper's column order
    pair_labels: ClassVar[dict[str, str]] = {}  # a pair's column header in tables (its id when absent)
    default_budget: ClassVar[str] = "paper"
    metric: ClassVar[str] = "acc"
    # arch -> sha256 of the teacher checkpoint the task ships (``teachers/<task>/<arch>.pt`` beside
    # its module): every install then runs the teacher its committed results were produced with.
    shipped_teachers: ClassVar[dict[str, str]] = {}
    notes: ClassVar[tuple[str, ...]] = ()
    # budget (paper, quick, smoke) -> method settings key (``Method.settings_key``) -> config
    # overrides; every method the task supports needs an entry in every budget (``paper`` entries
    # are usually empty).
    budgets: ClassVar[dict[str, dict[str, dict[str, Any]]]]

    # arch -> builder(num_classes, in_channels); ``build_model`` checks the name against it.
    architectures: ClassVar[Mapping[str, Callable[..., nn.Module]]]
    # The integer options a task variant may set, with their defaults (``--task
    # imagenet:image_size=64``). A variant is its own task in the record: its runs, experiment and
    # tables are those of ``spec``, apart from the default task's.
    options: ClassVar[dict[str, int]] = {}
    # DataLoader worker processes on CUDA: decoding image files keeps up with the GPU (0: in memory).
    loader_workers: ClassVar[int] = 0

    def __init__(self, data_root: str | None = None, download: bool = False,
                 options: Mapping[str, str] | None = None) -> None:
        self.data_root, self.download = data_root, download
        self._stats: dict[torch.device, tuple[Tensor, Tensor]] = {}
        self.option_values = {**self.options, **{k: self._option(k, v) for k, v in (options or {}).items()}}

    def _option(self, key: str, value: str) -> int:
        if key not in self.options:
            raise BenchError(unknown(f"option for task {self.name}", key, list(self.options))
                             if self.options else f"task {self.name} has no options (got {key}={value})")
        try:
            number = int(value)
        except ValueError:
            raise BenchError(f"invalid value {value!r} for task option {key}: expected an integer") from None
        if number < 1:
            raise BenchError(f"invalid value {number} for task option {key}: must be >= 1")
        return number

    @property
    def spec(self) -> str:
        """The task as the record names it: ``imagenet``, or ``imagenet:image_size=64`` for a variant."""
        changed = {k: v for k, v in self.option_values.items() if v != self.options[k]}
        return ":".join([self.name, *(f"{k}={changed[k]}" for k in sorted(changed))])

    @cached_property
    def root(self) -> Path:
        """This task's dataset root: ``--data-root``, else ``$DFKD_DATA``, else the user cache."""
        return paths.data_root(self.data_root)

    # -- models -----------------------------------------------------------------------------
    def architecture(self, arch: str) -> str:
        """``arch`` if the task has it, else the one-line error with a suggestion."""
        if arch not in self.architectures:
            raise BenchError(unknown(f"architecture for task {self.name}", arch, list(self.architectures)))
        return arch

    def build_model(self, arch: str) -> nn.Module:
        """A freshly initialised ``arch`` for this task's classes and channels."""
        return self.architectures[self.architecture(arch)](self.num_classes, self.image_shape[0])

    # -- data -----------------------------------------------------------------------------
    @abstractmethod
    def train_set(self) -> Dataset: ...

    @abstractmethod
    def test_set(self) -> Dataset: ...

    def feature_modules(self, model: nn.Module) -> list[nn.Module] | None:
        """The modules whose inputs carry ``model``'s intermediate features where the reference
        reads them (CMI's instance features: the stages of the CIFAR ResNets); ``None``: read them
        at the BatchNorm inputs."""
        return None

    def build_pretrained(self, arch: str) -> nn.Module:
        """``arch`` with an ImageNet-pretrained backbone, for teacher training (NYUv2's DeepLabs)."""
        raise BenchError(f"task {self.name} has no ImageNet-pretrained backbones: train without --pretrained-backbone")

    def pair(self, name: str | None) -> tuple[str, str]:
        name = name or next(iter(self.pairs))
        if name not in self.pairs:
            raise BenchError(unknown(f"pair for task {self.name}", name, list(self.pairs)))
        return self.pairs[name]

    def has_test_set(self) -> bool:
        """Whether the test split is available (e.g. to evaluate an imported teacher)."""
        try:
            self.test_set()
            return True
        except BenchError:
            return False

    def teacher_recipe(self, arch: str):
        """How ``bench teacher train`` trains ``arch`` on this task ."""
        return Recipe()

    # -- layered settings (docs/methods.md#decision-config-layering) ---------------------------
    def method_defaults(self, key: str) -> dict[str, Any]:
        """Task-level defaults for the methods of settings key ``key`` (e.g. generator size)."""
        return {}

    def pair_settings(self, pair: str, key: str) -> dict[str, Any]:
        """The reference's per-pair values (e.g. Fast's adv/bn/oh)."""
        return {}

    def cell_notes(self, pair: str, key: str) -> list[str]:
        """Deviations specific to a (pair, method settings key) cell, e.g. settings the reference never gave."""
        return []

    def budget(self, budget: str, key: str, method_budgets: Mapping[str, Mapping[str, Any]] | None = None
               ) -> dict[str, Any]:
        """Overrides for ``budget`` (paper, quick, smoke) and a method settings key, from an explicit
        entry of ``budgets``, else from the method's own entry for this task (``method_budgets``:
        budget -> overrides, for a method from another package, which cannot edit the task): a
        missing one is an error, never a silent fall back to the paper settings (days on a CPU)."""
        table = self.budgets.get(budget, {})
        if key in table:
            return dict(table[key])
        if method_budgets and budget in method_budgets:
            return dict(method_budgets[budget])
        raise BenchError(f"task {self.name} has no {budget!r} budget for {key}: add an entry to "
                         f"{type(self).__name__}.budgets (its {budget!r} entries: {', '.join(table) or 'none'}) "
                         f"or to the method class's budgets[{self.name!r}]")

    # -- on-device image handling -----------------------------------------------------------
    def _mean_std(self, device: torch.device) -> tuple[Tensor, Tensor]:
        if device not in self._stats:
            shape = (1, -1, 1, 1)
            self._stats[device] = (torch.tensor(self.mean, device=device).view(shape),
                                   torch.tensor(self.std, device=device).view(shape))
        return self._stats[device]

    def normalize(self, images01: Tensor) -> Tensor:
        mean, std = self._mean_std(images01.device)
        return (images01 - mean) / std

    def denormalize(self, images: Tensor) -> Tensor:
        mean, std = self._mean_std(images.device)
        return images * std + mean

    def augment(self, images01: Tensor) -> Tensor:
        """The KD- and synthesis-time view: per-sample padded crop (+ flip), then normalise."""
        out = augment.random_crop(images01, self.crop_padding)
        if self.hflip:
            out = augment.random_hflip(out)
        return self.normalize(out)

    def train_batch(self, images01: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """The training view of a real batch (teachers, scratch and KD baselines)."""
        return self.augment(images01), labels

    def augment_local(self, images01: Tensor) -> Tensor:
        """CMI's local view: per-sample random resized crop (+ flip), then normalise."""
        out = augment.random_resized_crop(images01)
        if self.hflip:
            out = augment.random_hflip(out)
        return self.normalize(out)

    # -- evaluation ---------------------------------------------------------------------------
    def loader(self, dataset: Dataset, batch_size: int, shuffle: bool = False, drop_last: bool = False) -> DataLoader:
        """Batches of ``dataset``; ``loader_workers`` processes read a file dataset beside a GPU (none
        on a CPU, where they would take the cores the run itself uses)."""
        workers = self.loader_workers if torch.cuda.is_available() else 0
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=workers, pin_memory=workers > 0,
                          drop_last=drop_last, persistent_workers=workers > 0)

    @torch.inference_mode()
    def evaluate(self, model: nn.Module, device: torch.device, batch_size: int = 1024) -> dict[str, float]:
        """Top-1 / top-5 accuracy (fractions) and the mean cross-entropy over the whole test split,
        model in eval mode (the reference's evaluator reports the loss too)."""
        was_training = model.training
        model.eval()
        correct1 = correct5 = total = 0
        loss = torch.zeros((), dtype=torch.float64, device=device)
        k = min(5, self.num_classes)
        for images, labels in self.loader(self.test_set(), batch_size):
            images, labels = images.to(device), labels.to(device)
            logits = model(self.normalize(images))
            loss += F.cross_entropy(logits.float(), labels, reduction="sum")
            hits = logits.topk(k, dim=1).indices == labels[:, None]
            correct1 += hits[:, 0].sum()
            correct5 += hits.any(dim=1).sum()
            total += labels.numel()
        model.train(was_training)
        return {"acc": float(correct1) / total, "top5": float(correct5) / total, "loss": float(loss) / total}
