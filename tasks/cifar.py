"""CIFAR-10 and CIFAR-100 on torchvision's datasets, with the reference's pairs and budgets.

Data root: ``--data-root``, else ``$DFKD_DATA``, else ``<cache>/dfkd-bench/data``; torchvision's
``cifar-10-batches-py`` / ``cifar-100-python`` folders live directly under it. ``--download``
fetches them through torchvision. The ``paper`` budget is the reference's (docs/methods.md#cifar-reference-settings,
docs/methods.md#decision-budgets-and-schedule-scaling);
baseline methods on pairs and datasets the reference never ran use its WRN-40-2 -> WRN-16-1
CIFAR-10 settings, recorded as chosen in ``dfkd.deviations``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset

from harness.core.errors import BenchError
from harness.core.task import Recipe, Task
from tasks.models.cifar import ARCHS, ResNet, build

PAIRS = {
    "resnet34-resnet18": ("resnet34", "resnet18"),
    "vgg11-resnet18": ("vgg11", "resnet18"),
    "wrn40_2-wrn16_1": ("wrn40_2", "wrn16_1"),
    "wrn40_2-wrn40_1": ("wrn40_2", "wrn40_1"),
    "wrn40_2-wrn16_2": ("wrn40_2", "wrn16_2"),
}
PAIR_LABELS = {
    "resnet34-resnet18": "ResNet-34 / ResNet-18",
    "vgg11-resnet18": "VGG-11 / ResNet-18",
    "wrn40_2-wrn16_1": "WRN-40-2 / WRN-16-1",
    "wrn40_2-wrn40_1": "WRN-40-2 / WRN-40-1",
    "wrn40_2-wrn16_2": "WRN-40-2 / WRN-16-2",
}
REFERENCE_BASELINE_PAIR = "wrn40_2-wrn16_1"  # the only pair the reference's baseline scripts ran

# Fast's per-pair weights (docs/methods.md#fast-meta, docs/methods.md#cifar-fast-settings); the method defaults are
# the WRN values.
_FAST_PAIR = {"resnet34-resnet18": {"adv": 1.33, "oh": 0.5}, "vgg11-resnet18": {"adv": 1.0, "oh": 0.5}}
# Baseline cells a reference script gives beyond WRN-40-2 -> WRN-16-1 on CIFAR-10: (task, pair,
# settings key) -> (settings that differ from the method's defaults, the script). REF-CMI's
# dfq_cifar10_res34_res18.sh runs CIFAR-100 despite its name (docs/methods.md#ref-cmi-scripts).
_BASELINE_SCRIPTS = {("cifar100", "resnet34-resnet18", "dfq"): ({"lr": 0.05}, "REF-CMI's DFQ ResNet-34 script")}
_FAST_KEYS = ("fast", "fast_meta")
_BASELINE_KEYS = ("deepinv", "cmi", "dafl", "zskt", "dfq", "dfad")

_QUICK = {
    "fast_meta": {"epochs": 22, "kd_steps": 100, "ep_steps": 100},
    "fast": {"epochs": 22, "kd_steps": 100, "ep_steps": 100},
    "deepinv": {"epochs": 10, "kd_steps": 100, "ep_steps": 100},
    "cmi": {"epochs": 10, "kd_steps": 100, "ep_steps": 100},
    **{key: {"epochs": 20, "ep_steps": 100} for key in ("dafl", "zskt", "dfad")},
    "dfq": {"epochs": 20, "ep_steps": 100},
    "teacher": {},
    "scratch": {"epochs": 30},
    "kd": {"epochs": 30},
}
_SMOKE_DATA_FREE = {"epochs": 2, "kd_steps": 2, "ep_steps": 2, "batch_size": 8, "synthesis_batch_size": 8,
                    "eval_batch_size": 256}
_SMOKE = {
    **{key: _SMOKE_DATA_FREE for key in (*_FAST_KEYS, *_BASELINE_KEYS)},
    "fast_meta": {**_SMOKE_DATA_FREE, "g_steps": 2},
    "fast": {**_SMOKE_DATA_FREE, "g_steps": 2},
    "deepinv": {**_SMOKE_DATA_FREE, "g_steps": 2},
    "cmi": {**_SMOKE_DATA_FREE, "g_steps": 2, "bank_size": 256, "n_neg": 64},
    "dfq": {**_SMOKE_DATA_FREE, "kd_steps": 1},
    "teacher": {"eval_batch_size": 256},
    "scratch": {"epochs": 1, "batch_size": 64, "eval_batch_size": 256},
    "kd": {"epochs": 1, "batch_size": 64, "eval_batch_size": 256},
}
_BASELINES = ("teacher", "scratch", "kd")
_BUDGETS = {"paper": {key: {} for key in (*_FAST_KEYS, *_BASELINE_KEYS, *_BASELINES)},
            "quick": _QUICK, "smoke": _SMOKE}


class _Cifar(Task):
    dataset_cls: ClassVar[str]
    folder: ClassVar[str]
    version = "1"
    kind = "classification"
    image_shape = (3, 32, 32)
    crop_padding = 4
    hflip = True
    pairs = PAIRS
    architectures = ARCHS
    pair_labels = PAIR_LABELS
    budgets = _BUDGETS
    default_budget = "paper"
    loader_workers = 4

    def _dataset(self, train: bool) -> Dataset:
        import torchvision
        from torchvision.transforms import v2

        transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
        cls = getattr(torchvision.datasets, self.dataset_cls)
        try:
            return cls(str(self.root), train=train, transform=transform, download=self.download)
        except RuntimeError as error:
            raise BenchError(
                f"{self.name} not found: expected torchvision's '{self.folder}' folder under {self.root} "
                f"({error}). Pass --download to fetch it, or --data-root / DFKD_DATA to point at it") from None

    def train_set(self) -> Dataset:
        return self._dataset(train=True)

    def test_set(self) -> Dataset:
        return self._dataset(train=False)

    def feature_modules(self, model: torch.nn.Module) -> list[torch.nn.Module] | None:
        """REF-CMI reads a ResNet's instance features at the inputs of its four stages
        (docs/methods.md#cmi-feature-dimensions); the other networks at their BN inputs."""
        return model.stages() if isinstance(model, ResNet) else None

    def build_model(self, arch: str) -> torch.nn.Module:
        return build(self.architecture(arch), self.num_classes)

    def teacher_recipe(self, arch: str) -> Recipe:
        # docs/methods.md#teacher-training (REF-CMI)
        return Recipe(epochs=200, batch_size=256, lr=0.1, weight_decay=1e-4)

    def pair_settings(self, pair: str, key: str) -> dict[str, Any]:
        if key in _FAST_KEYS:
            return dict(_FAST_PAIR.get(pair, {}))
        settings, _ = _BASELINE_SCRIPTS.get((self.name, pair, key), ({}, ""))
        return dict(settings)

    def cell_notes(self, pair: str, key: str) -> list[str]:
        if (self.name, pair, key) in _BASELINE_SCRIPTS:
            return [f"{key} on {self.name} {pair}: the settings of {_BASELINE_SCRIPTS[self.name, pair, key][1]} "
                    f"(docs/methods.md#ref-cmi-scripts)"]
        if key in _BASELINE_KEYS and (pair != REFERENCE_BASELINE_PAIR or self.name != "cifar10"):
            return [f"{key} on {self.name} {pair}: no reference settings; the WRN-40-2 -> WRN-16-1 "
                    f"CIFAR-10 settings are used (docs/methods.md#ref-cmi-scripts)"]
        return []



class Cifar10(_Cifar):
    name = "cifar10"
    dataset_cls = "CIFAR10"
    folder = "cifar-10-batches-py"
    num_classes = 10
    mean = (0.4914, 0.4822, 0.4465)
    std = (0.2023, 0.1994, 0.2010)


class Cifar100(_Cifar):
    name = "cifar100"
    dataset_cls = "CIFAR100"
    folder = "cifar-100-python"
    num_classes = 100
    mean = (0.5071, 0.4867, 0.4408)
    std = (0.2675, 0.2565, 0.2761)
