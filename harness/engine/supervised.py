"""Training on the task's real training split: teachers, and the scratch and KD baselines."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from harness.core import interrupt
from harness.core.job import EpochReport, Progress
from harness.core.losses import kd_loss
from harness.core.precision import FP32, Precision
from harness.core.task import Recipe, Task
from harness.core.timing import EVALUATION, TRAINING, Stopwatch


class SupervisedTrainer:
    """Epoch-by-epoch training with cross-entropy, or vanilla KD when a teacher is given.

    With a teacher the loss is ``alpha * KL_T + beta * CE`` (docs/methods.md#kd-baseline). Training time is the
    stopwatch's ``kd`` phase; ``best_state`` holds the weights of the best test epoch.
    """

    def __init__(self, model: nn.Module, task: Task, device: torch.device, recipe: Recipe,
                 teacher: nn.Module | None = None, alpha: float = 1.0, beta: float = 0.1, T: float = 1.0,
                 stopwatch: Stopwatch | None = None, precision: Precision = FP32) -> None:
        self.model, self.task, self.device, self.recipe = model, task, device, recipe
        self.precision = precision
        self.teacher, self.alpha, self.beta, self.T = teacher, alpha, beta, T
        self.stopwatch = stopwatch or Stopwatch(device)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                         weight_decay=recipe.weight_decay)
        milestones = [int(m * recipe.epochs) for m in recipe.milestones]
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones, recipe.gamma)
        self.loader = task.loader(task.train_set(), recipe.batch_size, shuffle=True)
        self.progress = Progress()
        self.best_state: dict | None = None
        self.best_metrics: dict[str, float] = {}

    def _loss(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = self.model(inputs)
        loss = F.cross_entropy(logits, labels, ignore_index=255)
        if self.teacher is None:
            return loss
        with torch.no_grad():
            teacher_logits = self.teacher(inputs)
        return self.alpha * kd_loss(logits, teacher_logits, "kl", self.T) + self.beta * loss

    def run_epoch(self, on_round=None) -> EpochReport:
        epoch, lr = self.progress.epoch, self.optimizer.param_groups[0]["lr"]  # this epoch's rate
        total = torch.zeros((), device=self.device)
        with self.stopwatch.phase(TRAINING):
            self.model.train()
            for images, labels in self.loader:
                interrupt.check()
                with self.precision.autocast():
                    loss = self._loss(*self.task.train_batch(images.to(self.device), labels.to(self.device)))
                self.optimizer.zero_grad(set_to_none=True)
                self.precision.backward(loss)
                self.precision.step(self.optimizer)
                total += loss.detach()
            self.scheduler.step()
        with self.stopwatch.phase(EVALUATION), self.precision.autocast():
            metrics = self.task.evaluate(self.model, self.device)
        score = metrics[self.task.metric]
        if score > self.progress.best:
            self.progress.best = score
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.best_metrics = metrics
        self.progress.history.append(score)
        self.progress.epoch += 1
        report = {f"eval/{k}": v for k, v in metrics.items()}
        report["train/loss"] = float(total) / max(1, len(self.loader))
        report["train/lr"] = lr
        return EpochReport(epoch, report, None, None)

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "stopwatch": self.stopwatch.state_dict(),
                "loss_scale": self.precision.state_dict(), "best_state": self.best_state,
                "best_metrics": self.best_metrics,
                "progress": self.progress.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.stopwatch.totals.update(state["stopwatch"])
        self.precision.load_state_dict(state["loss_scale"])
        self.best_state, self.best_metrics = state["best_state"], state["best_metrics"]
        self.progress = Progress.from_state(state["progress"])


def fit(model: nn.Module, task: Task, device: torch.device, recipe: Recipe, on_epoch=None,
        **kd) -> dict[str, float]:
    """Train for the whole recipe, keep the best test-epoch weights, return their metrics."""
    trainer = SupervisedTrainer(model, task, device, recipe, **kd)
    for _ in range(recipe.epochs):
        report = trainer.run_epoch()
        if on_epoch is not None:
            on_epoch(report.epoch, {k.removeprefix("eval/"): v for k, v in report.metrics.items()})
    if trainer.best_state is None:
        raise RuntimeError(f"training {type(model).__name__} never produced a finite {task.metric}")
    model.load_state_dict(trainer.best_state)
    return trainer.best_metrics
