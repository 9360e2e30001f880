"""FastDFKD: "Up to 100x Faster Data-free Knowledge Distillation" (Fang et al., AAAI 2022).

https://arxiv.org/abs/2112.06253. A generator is reused across synthesis rounds. ``fast``
(docs/methods.md#fast-sequential) keeps optimising one generator from batch to batch; ``fast_meta``
(Fast-k, docs/methods.md#fast-meta)
meta-learns a generator initialisation, first-order MAML or Reptile, so that k inner steps of a
fresh clone (and of a fresh latent) synthesise a batch. Both use the momentum BN-statistics loss,
the one-hot loss and the masked adversarial loss, and keep the best of the k pre-update iterates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from harness.core.config import DistillConfig, option
from harness.core.losses import BNStatistics, masked_adversarial
from harness.core.synthesizer import (
    BestIterate,
    MethodSpec,
    SynthesisRound,
    Synthesizer,
    frozen,
    require_no_class_targets,
)
from methods.generators import make_generator, reset_first_layers

REPTILE_SCALE = 67.0  # the reference's constant; with Adam it matters only through epsilon


@dataclass(frozen=True)
class FastConfig(DistillConfig):
    epochs: int = 220
    warmup_frac: float = 20 / 220
    lr: float = 0.2
    g_steps: int = option(5, min=1, help="inner synthesis steps per round (k)")
    lr_g: float = option(3e-3, min=0, help="inner generator learning rate")
    lr_z: float = option(0.01, min=0, help="inner latent learning rate")
    adv: float = option(1.1, min=0, help="masked adversarial weight")
    bn: float = option(10.0, min=0, help="BN-statistics weight")
    oh: float = option(0.4, min=0, help="one-hot weight")
    bn_mmt: float = option(0.9, min=0, max=0.999, help="BN-statistics momentum (0: plain BN loss)")
    nz: int = option(256, min=1, help="latent size")
    ngf: int = option(64, min=1, help="generator width")
    generator: str = option("g32", choices=("g32", "dcgan"),
                            help="G32 (CIFAR) or DCGAN (large images, docs/methods.md#data-free-segmentation)")


@dataclass(frozen=True)
class FastMetaConfig(FastConfig):
    is_maml: bool = option(True, help="true: first-order MAML meta-gradient; false: Reptile")
    reset_l0: bool = option(True, help="partial generator reset once, late in training")
    reset_frac: float = option(0.6, min=0, max=1, help="reset at warmup + this fraction of KD epochs (120/200)")


@torch.no_grad()
def copy_into(clone: nn.Module, source: nn.Module) -> None:
    """Make ``clone`` (same layout) equal to ``source``, parameters and buffers, without allocating."""
    for mine, theirs in zip(clone.state_dict().values(), source.state_dict().values()):
        mine.copy_(theirs)


def restart(optimizer: torch.optim.Optimizer) -> None:
    """Zero an Adam's moments and step counts in place: it then steps exactly as a new one would."""
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                value.zero_()


class FastSynthesizer(Synthesizer):
    """``fast``: one generator optimised round after round, its inner Adam restarted each round."""

    settings_key = "fast"
    supports = frozenset({"classification", "segmentation"})
    Config = FastConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        require_no_class_targets(c, self.task)
        self.generator = self.place(make_generator(c.generator, c.nz, c.ngf, self.task.image_shape))
        self.bn_stats = BNStatistics(self.teacher, c.bn_mmt)
        self.schedule = c.schedule()
        # The round's state persists and is refilled in place every round: the generator it
        # optimises, the latent, the targets and the inner Adam (its moments zeroed, as a new one
        # would start). No tensor or optimiser is made per round, so a round's memory is fixed,
        # which capturing it (CUDA graphs) needs; results equal those of fresh ones (a test checks).
        n = c.synthesis_batch_size
        self.round_generator = self._make_round_generator()
        self.z = torch.empty(n, c.nz, device=self.device, requires_grad=True)
        self.targets = torch.empty(n, dtype=torch.long, device=self.device)
        self.inner = torch.optim.Adam([{"params": self.round_generator.parameters(), "lr": c.lr_g},
                                       {"params": [self.z], "lr": c.lr_z}], betas=(0.5, 0.999))

    def _make_round_generator(self) -> nn.Module:
        return self.generator  # ``fast`` optimises its one generator

    def _start_round(self, ep: int) -> None:
        """Make ``round_generator`` this round's starting point (``fast``: it already is)."""

    def _round_state(self, ep: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor, torch.optim.Optimizer]:
        """This round's generator, a new latent and targets, and an inner Adam as if new."""
        self._start_round(ep)
        with torch.no_grad():
            self.z.normal_()
            self.targets.random_(0, self.task.num_classes)
        restart(self.inner)
        return self.round_generator.train(), self.z, self.targets, self.inner

    def _after_backward(self, it: int, generator: nn.Module) -> None:
        pass

    def _end_round(self, generator: nn.Module) -> None:
        pass

    def synthesize(self, round_idx: int) -> SynthesisRound:
        c = self.config
        ep = round_idx + 1  # the reference counts rounds from 1
        generator, z, targets, optimizer = self._round_state(ep)
        zero = torch.zeros((), device=self.device)
        # The reference's off-by-one: the adversarial term starts at epoch index warmup - 1.
        use_adv = c.adv > 0 and ep >= self.schedule.warmup
        best = BestIterate()
        with frozen(self.teacher, self.student):
            for it in range(c.g_steps):
                images = generator(z)
                view = self.task.augment(images)
                with self.bn_stats.capture():
                    teacher_logits = self.teacher(view)
                loss_bn = self.bn_stats.loss()
                loss_oh = F.cross_entropy(teacher_logits, targets) if c.oh > 0 else zero
                loss_adv = masked_adversarial(self.student(view), teacher_logits) if use_adv else zero
                loss = c.bn * loss_bn + c.oh * loss_oh + c.adv * loss_adv
                best.offer(loss, images)
                if it == c.g_steps - 1:
                    last_stats = self.bn_stats.snapshot()
                optimizer.zero_grad(set_to_none=True)
                self.precision.backward(loss)
                self.precision.unscale(optimizer)  # the meta-gradient reads true inner gradients
                self._after_backward(it, generator)
                self.precision.step(optimizer)
        self.bn_stats.update_momentum(last_stats)
        self._end_round(generator)
        return SynthesisRound(best.items[0], {"loss": best.loss, "bn": loss_bn.detach(),
                                              "oh": loss_oh.detach(), "adv": loss_adv.detach()})

    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "bn_stats": self.bn_stats.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.bn_stats.load_state_dict(state["bn_stats"])


class FastMetaSynthesizer(FastSynthesizer):
    """``fast_meta`` (Fast-k): each round adapts a clone of a meta-learned generator for k steps."""

    settings_key = "fast_meta"
    Config = FastMetaConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        # self.generator is the meta-generator: never run forward, changed only by meta-steps.
        self.meta_optimizer = torch.optim.Adam(self.generator.parameters(), lr=c.lr_g * c.g_steps,
                                               betas=(0.5, 0.999))
        kd_epochs = self.schedule.kd_epochs
        self.reset_round = self.schedule.warmup + int(round(c.reset_frac * kd_epochs))

    def _make_round_generator(self) -> nn.Module:
        return copy.deepcopy(self.generator)  # the clone each round starts from the meta-generator

    def _start_round(self, ep: int) -> None:
        if self.config.reset_l0 and ep == self.reset_round:
            reset_first_layers(self.generator)  # the meta-optimiser's state is kept, as in the reference
        copy_into(self.round_generator, self.generator)

    def _after_backward(self, it: int, clone: nn.Module) -> None:
        """First-order MAML: the meta-gradient is the sum of the clone's inner gradients."""
        if not self.config.is_maml:
            return
        for meta, inner in zip(self.generator.parameters(), clone.parameters()):
            if it == 0:
                meta.grad = inner.grad.detach().clone()
            else:
                meta.grad.add_(inner.grad)
        if it == self.config.g_steps - 1:
            self.meta_optimizer.step()

    def _end_round(self, clone: nn.Module) -> None:
        """Reptile: meta-gradient ``67 * (theta - theta'_k)``, one meta-optimiser step."""
        if self.config.is_maml:
            return
        with torch.no_grad():
            for meta, inner in zip(self.generator.parameters(), clone.parameters()):
                meta.grad = REPTILE_SCALE * (meta - inner)
        self.meta_optimizer.step()

    def state_dict(self) -> dict:
        return {**super().state_dict(), "meta_optimizer": self.meta_optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.meta_optimizer.load_state_dict(state["meta_optimizer"])


def _fast_k(k: int, lr_g: float, lr_z: float, *notes: str) -> MethodSpec:
    return MethodSpec(FastMetaSynthesizer, {"g_steps": k, "lr_g": lr_g, "lr_z": lr_z}, notes)


fast = MethodSpec(FastSynthesizer, {"g_steps": 5},
                  ("fast: no reference script; Fast-5's settings chosen (docs/methods.md#fast-sequential)",))
fast2 = _fast_k(2, 5e-3, 0.015)
fast5 = _fast_k(5, 3e-3, 0.01)
fast10 = _fast_k(10, 2e-3, 0.01)
fast50 = _fast_k(50, 1e-3, 0.01, "fast50: no reference CIFAR settings; lr_g 1e-3, lr_z 0.01 chosen "
                 "(docs/methods.md#decision-lr-schedule)")
