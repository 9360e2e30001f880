"""Segmentation tasks: per-pixel labels with an ignore index, scored by mIoU (docs/methods.md#miou)."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.core import augment
from harness.core.task import Task

IGNORE_INDEX = 255


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """``num_classes x num_classes`` int64 counts, rows = ground truth, columns = prediction.

    Pixels whose target is the ignore index, or whose prediction is out of range, are dropped.
    """
    target = target.long().flatten()
    pred = pred.long().flatten()
    keep = (target != IGNORE_INDEX) & (target >= 0) & (target < num_classes) & (pred >= 0) & (pred < num_classes)
    index = target[keep] * num_classes + pred[keep]
    return torch.bincount(index, minlength=num_classes ** 2).view(num_classes, num_classes)


def scores(matrix: Tensor) -> dict[str, float]:
    """mIoU as the plain mean over all classes (absent classes count as 0) and pixel accuracy."""
    matrix = matrix.double()
    diag = matrix.diag()
    iou = diag / (matrix.sum(1) + matrix.sum(0) - diag + 1e-9)
    total = matrix.sum()
    return {"miou": float(iou.mean()), "pixel_acc": float(diag.sum() / total) if total > 0 else 0.0}


class SegmentationTask(Task):
    """A task whose datasets yield ``([0,1] image, long label map)`` with 255 = ignore."""

    kind = "segmentation"
    metric: ClassVar[str] = "miou"

    def train_batch(self, images01: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """Crop and flip image and label together (labels padded with the ignore index)."""
        stacked = torch.cat([images01, labels.unsqueeze(1).float() - IGNORE_INDEX], dim=1)
        stacked = augment.random_crop(stacked, self.crop_padding)  # zero padding = ignore for labels
        if self.hflip:
            stacked = augment.random_hflip(stacked)
        images, labels = stacked[:, :-1], (stacked[:, -1] + IGNORE_INDEX).round().long()
        return self.normalize(images), labels

    @torch.inference_mode()
    def evaluate(self, model: nn.Module, device: torch.device, batch_size: int = 64) -> dict[str, float]:
        """mIoU and pixel accuracy from one confusion matrix over the whole test split, and the
        mean per-pixel cross-entropy over the labelled pixels."""
        was_training = model.training
        model.eval()
        matrix = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long, device=device)
        loss = torch.zeros((), dtype=torch.float64, device=device)
        for images, labels in self.loader(self.test_set(), batch_size):
            images, labels = images.to(device), labels.to(device)
            logits = model(self.normalize(images))
            if logits.shape[-2:] != labels.shape[-2:]:
                logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
            matrix += confusion_matrix(logits.argmax(1), labels, self.num_classes)
            loss += F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX, reduction="sum")
        model.train(was_training)
        labelled = int(matrix.sum())
        return {**scores(matrix.cpu()), "loss": float(loss) / labelled if labelled else 0.0}
