"""NYUv2 13-class semantic segmentation (docs/methods.md#nyuv2): DeepLabV3-ResNet-50 -> DeepLabV3-MobileNetV2.

Data: the labelled frames extracted in the nyuv2-python-toolkit layout (docs/methods.md#nyuv2-data-layout) under
``<data root>/NYUv2/``: ``image/{train,test}/NNNNN.png`` (RGB) and ``seg13/{train,test}/NNNNN.png``
(uint8 class maps 0..12, 255 = ignore), matched by file name after sorting the image listing.
The data root is found as for CIFAR (``--data-root``, ``$DFKD_DATA``, the cache folder); NYUv2
cannot be downloaded automatically. Transforms (docs/methods.md#nyuv2-transforms), applied to image and label together:
train = resize the shorter side to 256, random 128x128 crop, horizontal flip; test = resize to 256
only (full 256x341 frames). Items are ``[0, 1]`` images and long label maps; normalisation (mean
and std 0.5) happens on device.

No reference code exists for data-free segmentation: the Fast and DeepInv settings follow the
docs/methods.md#data-free-segmentation proposal and DFAD follows DFAD-REPO's NYUv2 script; the rest is chosen
(docs/methods.md#decisions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from harness.core.errors import BenchError
from harness.core.segmentation import IGNORE_INDEX, SegmentationTask
from harness.core.task import Recipe
from tasks.models.deeplab import ARCHS, build

FOLDER = "NYUv2"
RESIZE = 256  # shorter side (docs/methods.md#nyuv2-transforms)
CROP = 128
LAYOUT_HINT = "see the README: extract NYUv2 with the nyuv2-python-toolkit layout"

_FAST_KEYS = ("fast_meta", "fast")
_GENERATIVE = ("dafl", "dfad")
_DATA_FREE = (*_FAST_KEYS, "deepinv", *_GENERATIVE)
_SUPERVISED = ("scratch", "kd")

# Every method's test-time batch: full 256x341 frames through DeepLab-R50 (the configs' 1024 is
# meant for 32x32 CIFAR images). Evaluation only, so results do not depend on it.
_EVAL_BATCH = {"eval_batch_size": 16}

_QUICK = {
    # Pool methods: one synthesis round of g_steps per epoch (never cut, docs/methods.md#decisions), 50 KD steps.
    **{key: {"epochs": 20, "kd_steps": 50, "ep_steps": 50} for key in _FAST_KEYS},
    # DeepInv's 2000 pixel steps per round dominate: two rounds of a half batch.
    "deepinv": {"epochs": 2, "kd_steps": 50, "ep_steps": 50, "synthesis_batch_size": 32},
    # Generative methods: 20 generator rounds of 5 student steps per epoch (DFAD: 50 rounds).
    **{key: {"epochs": 20, "ep_steps": 100} for key in _GENERATIVE},
    **{key: {"epochs": 20} for key in _SUPERVISED},
}
_SMOKE_DATA_FREE = {"epochs": 1, "kd_steps": 1, "ep_steps": 1, "batch_size": 2, "synthesis_batch_size": 2,
                    "eval_batch_size": 2, "g_steps": 1}
_SMOKE = {
    **{key: _SMOKE_DATA_FREE for key in _DATA_FREE},
    **{key: {"epochs": 1, "batch_size": 2, "eval_batch_size": 2} for key in _SUPERVISED},
    "teacher": {"eval_batch_size": 2},
}
_BUDGETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {key: {} for key in (*_DATA_FREE, "teacher", *_SUPERVISED)},
    "quick": {**_QUICK, "teacher": {}}, "smoke": _SMOKE}

# Task-level method defaults (docs/methods.md#data-free-segmentation and docs/methods.md#decision-segmentation-kd).
# Segmentation has no class targets (oh = 0) and
# its KD is a per-pixel KL at T = 1. DCGAN generators (nz 256, ngf 64) produce 128x128 images.
_GENERATOR = {"nz": 256, "ngf": 64, "batch_size": 64, "synthesis_batch_size": 64, "generator": "dcgan"}
_METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    **{key: {**_GENERATOR, "oh": 0.0, "adv": 1.0, "bn": 10.0, "lr": 0.1, "T": 1.0}
       for key in _FAST_KEYS},
    "deepinv": {"oh": 0.0, "T": 1.0, "batch_size": 64, "synthesis_batch_size": 64},
    "dafl": dict(_GENERATOR),
    # DFAD-REPO's NYUv2 script (docs/methods.md#data-free-segmentation): its tanh GeneratorB with N(0, 0.02) init,
    # Adam with
    # default betas, -ln(1 + L1) for the generator, student SGD wd 5e-5, StepLR(100 epochs, 0.3)
    # on student and generator, KD batches sampled in train mode, 300 epochs of 50 iterations of
    # 5 student steps.
    "dfad": {**_GENERATOR, "generator": "dfad", "beta1": 0.9, "sample_mode": "train", "lr_schedule": "step",
             "lr_step_frac": 1 / 3, "lr_step_gamma": 0.3, "adv_loss": "log_l1", "weight_decay": 5e-5,
             "epochs": 300, "ep_steps": 250},
    # The scratch ("Student") and KD rows train like the teacher (teacher_recipe).
    **{key: {"epochs": 100, "batch_size": 16, "lr": 0.05} for key in _SUPERVISED},
}


def _missing(folder: Path) -> BenchError:
    return BenchError(f"nyuv2 not found: expected {folder} with PNG frames and the matching seg13 label "
                      f"maps ({LAYOUT_HINT}) — pass --data-root or set DFKD_DATA")


def _no_download(root: Path) -> BenchError:
    return BenchError(f"nyuv2 cannot be downloaded automatically (--download): lay out the labelled frames as "
                      f"{root / FOLDER}/image/{{train,test}}/NNNNN.png and seg13/{{train,test}}/NNNNN.png "
                      f"({LAYOUT_HINT}), then pass --data-root or set DFKD_DATA")


def _transform(train: bool):
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    steps = [v2.Resize(RESIZE)]  # bilinear for the Image, nearest for the Mask
    if train:
        steps += [v2.RandomCrop(CROP, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}),
                  v2.RandomHorizontalFlip()]
    # A plain dtype would convert only the image; the mask keeps its values (no scaling).
    steps.append(v2.ToDtype({tv_tensors.Image: torch.float32, tv_tensors.Mask: torch.int64}, scale=True))
    return v2.Compose(steps)


class NYUv2Segmentation(Dataset):
    """One split of the extracted labelled frames: ``([0,1] float (3,H,W), long (H,W))`` items."""

    def __init__(self, root: Path, split: str, train: bool) -> None:
        self.image_dir = Path(root) / FOLDER / "image" / split
        self.label_dir = Path(root) / FOLDER / "seg13" / split
        self.images = sorted(self.image_dir.glob("*.png")) if self.image_dir.is_dir() else []
        if not self.images or not self.label_dir.is_dir():
            raise _missing(self.image_dir)
        self.labels = [self.label_dir / path.name for path in self.images]
        absent = [path.name for path in self.labels if not path.is_file()]
        if absent:
            raise BenchError(f"nyuv2: {len(absent)} label map(s) missing from {self.label_dir} "
                             f"(first: {absent[0]}; {LAYOUT_HINT})")
        self.transform = _transform(train)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image
        from torchvision import tv_tensors
        from torchvision.transforms.v2.functional import pil_to_tensor

        with Image.open(self.images[index]) as image, Image.open(self.labels[index]) as label:
            image = tv_tensors.Image(pil_to_tensor(image.convert("RGB")))
            label = tv_tensors.Mask(pil_to_tensor(label))
        if label.shape[0] != 1 or label.dtype != torch.uint8 or label.shape[-2:] != image.shape[-2:]:
            raise BenchError(f"nyuv2: {self.labels[index]} must be a single-channel uint8 map of the image's "
                             f"size {tuple(image.shape[-2:])}, got {label.dtype} {tuple(label.shape)}")
        image, label = self.transform(image, label)
        return image.as_subclass(torch.Tensor), label.as_subclass(torch.Tensor)[0]


class NYUv2(SegmentationTask):
    name = "nyuv2"
    version = "1"
    num_classes = 13
    image_shape = (3, CROP, CROP)
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    # synthesis/KD view of 128x128 images: CIFAR's 4/32 scaled (docs/methods.md#data-free-segmentation)
    crop_padding = 16
    hflip = True
    pairs = {"deeplabv3_resnet50-deeplabv3_mobilenetv2": ("deeplabv3_resnet50", "deeplabv3_mobilenetv2")}
    architectures = ARCHS
    pair_labels = {"deeplabv3_resnet50-deeplabv3_mobilenetv2": "DeepLabV3-R50 / DeepLabV3-MV2"}
    default_budget = "paper"
    loader_workers = 4
    budgets = _BUDGETS
    notes = ()

    def _dataset(self, split: str) -> Dataset:
        if self.download:
            raise _no_download(self.root)
        return NYUv2Segmentation(self.root, split, train=split == "train")

    def train_set(self) -> Dataset:
        return self._dataset("train")

    def test_set(self) -> Dataset:
        return self._dataset("test")

    def has_test_set(self) -> bool:
        if self.download:
            raise _no_download(self.root)
        return super().has_test_set()

    def loader(self, dataset: Dataset, batch_size: int, shuffle: bool = False, drop_last: bool = False) -> DataLoader:
        # A last training batch of one image would break BatchNorm (ASPP's image-pooling branch is
        # 1x1): drop it then, and only then, so every other image is still seen each epoch.
        drop_last = drop_last or (shuffle and len(dataset) % batch_size == 1 and len(dataset) > 1)
        return super().loader(dataset, batch_size, shuffle, drop_last)

    def train_batch(self, images01: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The dataset already cropped and flipped image and label together (docs/methods.md#nyuv2-transforms)."""
        return self.normalize(images01), labels

    def build_model(self, arch: str) -> torch.nn.Module:
        return build(self.architecture(arch), self.num_classes)

    def build_pretrained(self, arch: str) -> torch.nn.Module:
        self.build_model(arch)  # an unknown arch is the usual error
        try:
            return build(arch, self.num_classes, pretrained_backbone=True)
        except Exception as error:  # no network and nothing in the torch hub cache
            raise BenchError(f"could not load torchvision's ImageNet weights for {arch}'s backbone "
                             f"({type(error).__name__}: {error}); they download to the torch hub cache "
                             f"($TORCH_HOME), where they can also be put by hand") from None

    def teacher_recipe(self, arch: str) -> Recipe:
        # Chosen: DFAD-REPO trains its teacher with `train_teacher_seg.py --lr 0.05 --scheduler`
        # (docs/methods.md#nyuv2-models); batch 16 of 128x128 crops, 100 epochs (about 5,000 steps on 795 frames),
        # step decay at 60/75/90%. Backbones start from scratch (pretrained_backbone=False).
        return Recipe(epochs=100, batch_size=16, lr=0.05, weight_decay=1e-4)

    def method_defaults(self, key: str) -> dict[str, Any]:
        return {**_EVAL_BATCH, **_METHOD_DEFAULTS.get(key, {})}

    def cell_notes(self, pair: str, key: str) -> list[str]:
        if key == "dfad":
            return ["dfad on nyuv2: DFAD-REPO's NYUv2 script (docs/methods.md#data-free-segmentation); "
                    "its tanh output is read as an image "
                    "normalised with mean/std 0.5 and renormalised with the task's statistics"]
        if key in _DATA_FREE:
            return [f"{key} on nyuv2: data-free segmentation follows the "
                    f"docs/methods.md#data-free-segmentation proposal (no reference "
                    f"code); settings chosen"]
        return []

