"""Loss building blocks shared by the methods (docs/methods.md#kd-loss and docs/methods.md#loss-building-blocks),
with exact definitions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.core.errors import BenchError


def kd_loss(student_logits: Tensor, teacher_logits: Tensor, kind: str, T: float = 1.0) -> Tensor:
    """Distillation loss, per sample for classification and per pixel for segmentation.

    ``kl``: ``T^2 * KL(softmax(t/T) || softmax(s/T))`` summed over classes (dim 1) and averaged over
    the remaining elements ("batchmean"). ``l1``: mean absolute logit difference (DFAD).
    """
    if kind == "l1":
        return (student_logits - teacher_logits).abs().mean()
    log_q = F.log_softmax(teacher_logits / T, dim=1)
    log_r = F.log_softmax(student_logits / T, dim=1)
    return (T * T) * (log_q.exp() * (log_q - log_r)).sum(dim=1).mean()


def masked_adversarial(student_logits: Tensor, teacher_logits: Tensor) -> Tensor:
    """docs/methods.md#masked-adversarial-loss: ``-(1/N) sum_i 1[argmax agree] * KL(t_i || s_i)`` at T = 1,
    no stop-gradient."""
    log_t = F.log_softmax(teacher_logits, dim=1)
    log_s = F.log_softmax(student_logits, dim=1)
    divergence = (log_t.exp() * (log_t - log_s)).sum(dim=1)
    agree = (student_logits.argmax(1) == teacher_logits.argmax(1)).float()
    return -(agree * divergence).mean()


def jensen_shannon_adversarial(student_logits: Tensor, teacher_logits: Tensor, T: float = 3.0) -> Tensor:
    """DeepInversion's competition term in the reference form (docs/methods.md#deepinversion): ``-JS'`` with
    clamping."""
    p = F.softmax(student_logits / T, dim=1)
    q = F.softmax(teacher_logits / T, dim=1)
    m = ((p + q) / 2).clamp(0.01, 0.99)
    p, q = p.clamp(0.01, 0.99), q.clamp(0.01, 0.99)

    def kl_from_m(other: Tensor) -> Tensor:
        return (m * (m.log() - other.log())).sum(dim=1).mean()

    return -0.5 * (kl_from_m(p) + kl_from_m(q))


def total_variation(x: Tensor) -> Tensor:
    """docs/methods.md#image-priors: horizontal, vertical and both diagonal differences, each averaged."""
    return ((x[:, :, :, :-1] - x[:, :, :, 1:]).abs().mean()
            + (x[:, :, :-1, :] - x[:, :, 1:, :]).abs().mean()
            + (x[:, :, 1:, :-1] - x[:, :, :-1, 1:]).abs().mean()
            + (x[:, :, :-1, :-1] - x[:, :, 1:, 1:]).abs().mean())


class BNStatistics:
    """Forward hooks on every BatchNorm2d of a network (docs/methods.md#bn-statistics-loss, #momentum-bn-loss).

    Each hook reads the BN *input* and computes its per-channel batch mean and biased variance,
    only while ``capture()`` is active, so KD forwards of the same network cost nothing extra.
    With ``momentum > 0`` the loss compares the running statistics with an exponential moving
    average of past rounds' statistics (FastDFKD's momentum BN loss); ``update_momentum`` folds
    in the statistics of the last captured forward.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.0) -> None:
        self.momentum = momentum
        self.layers = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        self._stats: list[tuple[Tensor, Tensor] | None] = [None] * len(self.layers)
        self.buffers: list[tuple[Tensor, Tensor]] | None = None
        self._active = False
        self._handles = [layer.register_forward_hook(self._hook(i)) for i, layer in enumerate(self.layers)]

    def _hook(self, index: int):
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            if self._active:
                a = inputs[0].float()  # statistics in fp32 under bf16/fp16 autocast
                mean = a.mean(dim=(0, 2, 3))
                var = (a - mean.view(1, -1, 1, 1)).pow(2).mean(dim=(0, 2, 3))
                self._stats[index] = (mean, var)
        return hook

    class _Capture:
        def __init__(self, owner: BNStatistics) -> None:
            self.owner = owner

        def __enter__(self) -> BNStatistics:
            self.owner._active = True
            self.owner._stats = [None] * len(self.owner.layers)
            return self.owner

        def __exit__(self, *exc: object) -> None:
            self.owner._active = False

    def capture(self) -> BNStatistics._Capture:
        """Context in which forwards record BN-input statistics."""
        return BNStatistics._Capture(self)

    def _captured(self) -> Iterator[tuple[nn.BatchNorm2d, Tensor, Tensor, int]]:
        for i, (layer, stats) in enumerate(zip(self.layers, self._stats)):
            if stats is None:
                raise RuntimeError("BN statistics missing: run a forward inside capture() first")
            yield layer, stats[0], stats[1], i

    def loss(self) -> Tensor:
        """``sum_l ||v_l - var_l||_2 + ||m_l - mean_l||_2`` (with the momentum blend when enabled)."""
        total: Tensor | float = 0.0
        beta = self.momentum
        for layer, mean, var, i in self._captured():
            assert layer.running_var is not None and layer.running_mean is not None  # hooked BNs track stats
            if beta > 0 and self.buffers is not None:
                mean = (1 - beta) * mean + beta * self.buffers[i][0]
                var = (1 - beta) * var + beta * self.buffers[i][1]
            total = total + torch.linalg.vector_norm(layer.running_var - var) \
                + torch.linalg.vector_norm(layer.running_mean - mean)
        return torch.as_tensor(total)

    def snapshot(self) -> list[tuple[Tensor, Tensor]]:
        """Detached statistics of the last captured forward (kept for the momentum update)."""
        return [(mean.detach(), var.detach()) for _, mean, var, _ in self._captured()]

    def update_momentum(self, stats: list[tuple[Tensor, Tensor]]) -> None:
        if self.momentum <= 0:
            return
        if self.buffers is None:
            self.buffers = stats
        else:
            beta = self.momentum
            self.buffers = [(beta * bm + (1 - beta) * m, beta * bv + (1 - beta) * v)
                            for (bm, bv), (m, v) in zip(self.buffers, stats)]

    def state_dict(self) -> dict:
        return {"buffers": self.buffers}

    def load_state_dict(self, state: dict) -> None:
        self.buffers = state["buffers"]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def attention_map(features: Tensor) -> Tensor:
    """Spatial attention of a feature map (Zagoruyko & Komodakis, ICLR 2017), as ZSKT uses it: the
    channel mean of the squared activations, flattened and L2-normalised per sample. In fp32 so
    that a bf16 forward does not lose the small normalised values."""
    return F.normalize(features.float().pow(2).mean(dim=1).flatten(1), dim=1)


def attention_transfer(student_maps: list[Tensor], teacher_maps: list[Tensor]) -> Tensor:
    """``sum_j mean((a(s_j) - a(t_j))^2)`` over matched stages, ZSKT's student-side term."""
    terms = [(attention_map(s) - attention_map(t)).pow(2).mean()
             for s, t in zip(student_maps, teacher_maps, strict=True)]
    return torch.stack(terms).sum()


class ForwardTap:
    """Forward hooks on ``modules`` that keep ``read(inputs, output)`` of each call made while
    ``capture()`` is active, in call order; other forwards of the same network (synthesis,
    evaluation) cost nothing."""

    def __init__(self, modules: list[nn.Module], read: Callable[[tuple[Tensor, ...], Tensor], Tensor]) -> None:
        self.modules, self.read = modules, read
        self.values: list[Tensor] = []
        self._active = False
        self._handles = [m.register_forward_hook(self._hook) for m in modules]

    def _hook(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        if self._active:
            self.values.append(self.read(inputs, output))

    @contextmanager
    def capture(self) -> Iterator[ForwardTap]:
        self.values, self._active = [], True
        try:
            yield self
        finally:
            self._active = False


def stage_outputs(model: nn.Module) -> ForwardTap:
    """A tap on the outputs of ``model.stages()``."""
    stages = getattr(model, "stages", None)
    if stages is None:
        raise BenchError(f"{type(model).__name__} does not declare its stages (a stages() method), "
                         f"which attention transfer needs")
    return ForwardTap(list(stages()), lambda inputs, output: output)


class AttentionTransfer:
    """ZSKT's student-side penalty: ``weight * attention_transfer`` between the student's and the
    teacher's stage outputs of the same KD forward. The pairs must have as many stages, with the
    same spatial sizes, for the maps to be compared point by point."""

    def __init__(self, teacher: nn.Module, student: nn.Module, weight: float) -> None:
        self.teacher, self.student = stage_outputs(teacher), stage_outputs(student)
        if len(self.teacher.modules) != len(self.student.modules):
            raise BenchError(f"attention transfer needs as many teacher as student stages, got "
                             f"{len(self.teacher.modules)} and {len(self.student.modules)}")
        self.weight = weight

    @contextmanager
    def capture(self) -> Iterator[AttentionTransfer]:
        with self.teacher.capture(), self.student.capture():
            yield self

    def loss(self) -> Tensor:
        for t, s in zip(self.teacher.values, self.student.values):
            if t.shape[2:] != s.shape[2:]:
                raise BenchError(f"attention transfer compares maps of one size; a stage gave the teacher "
                                 f"{tuple(t.shape[2:])} and the student {tuple(s.shape[2:])}")
        return self.weight * attention_transfer(self.student.values, self.teacher.values)
