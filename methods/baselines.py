"""Baselines that use the real training data (docs/methods.md#baselines): they head every leaderboard.

* ``teacher``: the teacher's own test metric.
* ``scratch``: the student trained on the real training split with cross-entropy.
* ``kd``: vanilla KD on the real training split, ``alpha * KL_T + beta * CE`` (alpha 1, beta 0.1,
  T 1, batch 128: REF-CMI's ``vanilla_kd.py``).

They log the same MLflow record as the data-free methods, with zero synthesis time and images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from harness.core.config import option
from harness.core.job import Baseline, EpochReport, Progress
from harness.core.synthesizer import MethodSpec
from harness.core.task import Recipe, Task
from harness.core.timing import EVALUATION, Stopwatch
from harness.engine.supervised import SupervisedTrainer


@dataclass(frozen=True)
class TeacherConfig:
    epochs: int = option(1, min=1, max=1, help="one evaluation pass")
    eval_batch_size: int = option(1024, min=1)


@dataclass(frozen=True)
class ScratchConfig:
    epochs: int = option(200, min=1)
    batch_size: int = option(256, min=1)
    lr: float = option(0.1, min=0)
    momentum: float = option(0.9, min=0, max=1)
    weight_decay: float = option(1e-4, min=0)
    eval_batch_size: int = option(1024, min=1)

    def recipe(self) -> Recipe:
        return Recipe(self.epochs, self.batch_size, self.lr, self.momentum, self.weight_decay)


@dataclass(frozen=True)
class KDConfig(ScratchConfig):
    batch_size: int = option(128, min=1)
    alpha: float = option(1.0, min=0, help="weight of the KL to the teacher")
    beta: float = option(0.1, min=0, help="weight of the cross-entropy to the labels")
    T: float = option(1.0, min=1e-3, help="KD temperature")


class TeacherEvaluation:
    """One "epoch": evaluate the frozen teacher on the test split."""

    def __init__(self, teacher: nn.Module, task: Task, device: torch.device, config: TeacherConfig) -> None:
        self.teacher, self.task, self.device, self.config = teacher, task, device, config
        self.stopwatch = Stopwatch(device)
        self.progress = Progress()

    def run_epoch(self, on_round=None) -> EpochReport:
        with self.stopwatch.phase(EVALUATION):
            metrics = self.task.evaluate(self.teacher, self.device, self.config.eval_batch_size)
        self.progress.best = metrics[self.task.metric]
        self.progress.history.append(self.progress.best)
        self.progress.epoch += 1
        return EpochReport(0, {f"eval/{k}": v for k, v in metrics.items()}, None, None)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class TeacherBaseline(Baseline):
    settings_key = "teacher"
    Config = TeacherConfig

    @classmethod
    def make_job(cls, config, task, teacher, student, device, precision):
        return TeacherEvaluation(teacher, task, device, config)


class ScratchBaseline(Baseline):
    settings_key = "scratch"
    Config = ScratchConfig
    needs_teacher = False

    @classmethod
    def make_job(cls, config, task, teacher, student, device, precision):
        return SupervisedTrainer(student, task, device, config.recipe(), precision=precision)


class KDBaseline(Baseline):
    settings_key = "kd"
    Config = KDConfig

    @classmethod
    def make_job(cls, config, task, teacher, student, device, precision):
        return SupervisedTrainer(student, task, device, config.recipe(), teacher=teacher,
                                 alpha=config.alpha, beta=config.beta, T=config.T, precision=precision)


teacher = MethodSpec(TeacherBaseline)
scratch = MethodSpec(ScratchBaseline)
kd = MethodSpec(KDBaseline)
