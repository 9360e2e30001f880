"""Training on the task's real training split: teachers, and the scratch and KD baselines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from harness.losses import kd_loss
from harness.task import Task


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum and step decay (spec §7.5: MultiStep at 60/75/90% of training, x0.1)."""

    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: tuple[float, ...] = (0.6, 0.75, 0.9)
    gamma: float = 0.1


def fit(model: nn.Module, task: Task, device: torch.device, recipe: Recipe,
        teacher: nn.Module | None = None, alpha: float = 1.0, beta: float = 0.1, T: float = 1.0,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, float]:
    """Train ``model`` on the real training split and keep its best test-metric weights.

    Without a teacher the loss is cross-entropy; with one it is vanilla KD (spec §7.6):
    ``alpha * KL_T + beta * CE``. Returns the best test metrics.
    """
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    milestones = [int(m * recipe.epochs) for m in recipe.milestones]
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, recipe.gamma)
    loader = task.loader(task.train_set(), recipe.batch_size, shuffle=True)
    best: dict[str, float] = {}
    best_state = None
    for epoch in range(recipe.epochs):
        model.train()
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            inputs = task.augment(images)
            logits = model(inputs)
            loss = F.cross_entropy(logits, labels, ignore_index=255)
            if teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(inputs)
                loss = alpha * kd_loss(logits, teacher_logits, "kl", T) + beta * loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        metrics = task.evaluate(model, device)
        if not best or metrics[task.metric] > best[task.metric]:
            best = metrics
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if on_epoch is not None:
            on_epoch(epoch, metrics)
    model.load_state_dict(best_state)
    return best
