"""What the runner drives, epoch after epoch: a data-free ``Distiller`` or a baseline's job
(teacher evaluation, training from scratch, KD on real data) alike; and ``Baseline``, the
interface of the registered classes that make such a job from real data."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from harness.core.precision import Precision
from harness.core.synthesizer import Method, SynthesisRound
from harness.core.task import Task
from harness.core.timing import Stopwatch


@dataclass
class EpochReport:
    epoch: int
    metrics: dict[str, float]
    round: SynthesisRound | None
    images: torch.Tensor | None  # the epoch's last synthesised [0, 1] batch, for sample grids


@dataclass
class Progress:
    """Everything about a run's position that must survive an interruption, apart from the
    modules' own states: saved in every checkpoint as a plain dict."""

    epoch: int = 0
    best: float = -math.inf
    images_synthesized: int = 0
    rounds: int = 0
    history: list[float] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Progress:
        return cls(**state)


class EpochJob(Protocol):
    """One run's loop. ``run_epoch`` does an epoch and reports its metrics; ``state_dict`` and
    ``load_state_dict`` round-trip everything a resumed run needs, ``progress`` included."""

    progress: Progress
    stopwatch: Stopwatch

    def run_epoch(self, on_round: Callable[[int, torch.Tensor], None] | None = None) -> EpochReport: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class Baseline(Method):
    """A registered run that learns from (or is) real data rather than synthesised images: the
    teacher's own evaluation, the student trained from scratch, vanilla KD."""

    supports = frozenset({"classification", "segmentation"})

    @classmethod
    def make_job(cls, config: Any, task: Task, teacher: nn.Module | None, student: nn.Module,
                 device: torch.device, precision: Precision) -> EpochJob:
        raise NotImplementedError
