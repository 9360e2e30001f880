"""The one interface every data-free method implements (design.md, "The two interfaces")."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from torch import Tensor, nn

from harness.core.precision import FP32, Precision

if TYPE_CHECKING:
    from harness.core.pool import ImagePool
    from harness.core.task import Task


@dataclass
class SynthesisRound:
    """What one ``synthesize()`` call produced.

    ``images`` are ``[0, 1]`` images for the harness to add to the pool (``None`` for generative
    methods, which have no pool; they report how many images they generated instead). ``losses``
    are detached scalar tensors, left on the device so that the inner loop never waits for the host.
    """

    images: Tensor | None
    losses: dict[str, Tensor] = field(default_factory=dict)
    generated: int = 0  # images made but not pooled (generative methods' generator updates)

    @property
    def count(self) -> int:
        """Images this round synthesised (docs/methods.md#decision-data-amount's data amount)."""
        return self.images.shape[0] if self.images is not None else self.generated


class KDPenalty(Protocol):
    """A method's extra student-side term in every KD step (ZSKT's attention transfer): forwards of
    the step run inside ``capture()``, then ``loss()`` is added to the distillation loss."""

    def capture(self) -> AbstractContextManager: ...

    def loss(self) -> Tensor: ...


class Method:
    """What every registered class declares, a data-free synthesizer or a real-data baseline
    (``harness.core.job.Baseline``): read by the planner and the builder before anything is built."""

    # This class's key in a task's settings tables (budgets, method defaults, pair settings): the
    # presets registered on one class (fast2 ... fast50) share it. Not a name users see: a method's
    # name is the one it is registered under, its family is its file (``Registry.family``).
    settings_key: ClassVar[str]
    # task -> budget -> config overrides, for the tasks whose ``budgets`` do not list this method:
    # a method from another package cannot edit the tasks it runs on. A task's own entry wins.
    budgets: ClassVar[Mapping[str, Mapping[str, Mapping[str, Any]]]] = {}
    supports: ClassVar[frozenset[str]] = frozenset({"classification"})
    # The tasks, by name, a class is made for; None: every task of a kind it supports. FastDFKD's
    # ImageNet synthesizer, for one, is built around 224 px images and ImageNet's released settings.
    tasks: ClassVar[frozenset[str] | None] = None
    Config: ClassVar[type]
    generates_on_sample: ClassVar[bool] = False
    # Baselines that train from the labels alone set False: no teacher is loaded for them.
    needs_teacher: ClassVar[bool] = True

    @classmethod
    def runs_on(cls, task: Task | type[Task]) -> bool:
        """Whether this class can run on ``task`` (its kind, and its name where ``tasks`` is set)."""
        return task.kind in cls.supports and (cls.tasks is None or task.name in cls.tasks)

    @classmethod
    def deviations(cls, config: Any, task: Task) -> list[str]:
        """Where this configuration departs from the reference implementation (docs/methods.md#decisions)."""
        return []


class Synthesizer(Method, ABC):
    """A data-free synthesizer bound to one frozen teacher and one student.

    Pool methods return each round's images and draw KD batches from the harness's pool;
    generative methods (``generates_on_sample``) make every KD batch in ``sample``, whose time the
    harness counts as synthesis time (docs/methods.md#synthesis-time).
    """

    # Methods backpropagate and step through the run's precision (given at construction).
    precision: Precision
    # Added to the student's loss in every KD step when set (most methods distil with KD alone).
    kd_penalty: KDPenalty | None = None

    def __init__(self, teacher: nn.Module, student: nn.Module, task: Task, config: Any,
                 device: torch.device, pool: ImagePool | None = None, precision: Precision = FP32) -> None:
        if student is teacher:
            raise ValueError("the student must not be the teacher (REF-FAST's generative-baseline bug)")
        self.teacher, self.student, self.task = teacher, student, task
        self.config, self.device, self.pool, self.precision = config, device, pool, precision

    def place(self, module: nn.Module) -> nn.Module:
        """A module the method trains (its generator), on the run's device in the run's memory format
        (channels_last where the teacher and student have it), in train mode."""
        return self.precision.layout(module.to(self.device)).train()

    @abstractmethod
    def synthesize(self, round_idx: int) -> SynthesisRound:
        """Run synthesis round ``round_idx`` (0-based)."""

    def sample(self, batch_size: int) -> Tensor:
        """A normalised, KD-time-augmented batch from the pool."""
        assert self.pool is not None, f"{type(self).__name__} has no pool"
        return self.task.augment(self.pool.sample(batch_size))

    def end_kd_epoch(self) -> None:
        """Called after every KD epoch, when the student's schedule steps (e.g. a generator's own)."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its class plus preset fields (timm-style variants, e.g. fast5)."""

    cls: type[Method]
    preset: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def settings_key(self) -> str:
        return self.cls.settings_key


def require_no_class_targets(config: Any, task: Task) -> None:
    """Segmentation has no per-image class targets: a one-hot weight must be 0 there
    (docs/methods.md#data-free-segmentation)."""
    from harness.core.errors import BenchError
    if task.kind == "segmentation" and getattr(config, "oh", 0) > 0:
        raise BenchError(f"oh={config.oh} is not possible on {task.name}: segmentation has no class targets "
                         f"(use oh=0)")


class frozen:
    """Context: parameters of ``modules`` get no gradients; eval mode; restored on exit.

    Synthesis needs gradients only for what it optimises (docs/methods.md#fast-implementation-notes and
    docs/methods.md#pitfall-frozen-networks): the
    reference's weight gradients on the frozen networks are about a third of a step's FLOPs.
    """

    def __init__(self, *modules: nn.Module) -> None:
        self.modules = modules

    def __enter__(self) -> None:
        self._saved = [(m.training, [p.requires_grad for p in m.parameters()]) for m in self.modules]
        for m in self.modules:
            m.eval()
            m.requires_grad_(False)

    def __exit__(self, *exc: object) -> None:
        for m, (training, flags) in zip(self.modules, self._saved):
            m.train(training)
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)


class BestIterate:
    """Keeps the images of the lowest-loss iterate without a host synchronisation.

    The comparison and the selection stay on the device (``torch.where``), so an inner loop never
    waits for ``loss.item()``. The first offered iterate is always kept (docs/methods.md#fast-meta-best-iterate).
    """

    def __init__(self) -> None:
        self.loss: Tensor | None = None
        self.items: tuple[Tensor, ...] = ()

    def offer(self, loss: Tensor, *items: Tensor) -> None:
        loss = loss.detach()
        items = tuple(t.detach() for t in items)
        if self.loss is None:
            self.loss, self.items = loss, tuple(t.clone() for t in items)
            return
        better = loss < self.loss
        self.loss = torch.where(better, loss, self.loss)
        self.items = tuple(torch.where(better, new, old) for new, old in zip(items, self.items))
