"""FastDFKD's ImageNet synthesizer (docs/methods.md#fast-imagenet-variant): Fast-50 of the paper's Table 2.

The CIFAR Fast-k (methods/fast.py) meta-learns only a generator initialisation and starts every
round from fresh noise. At 224 px the reference meta-learns the latent as well: a persistent
latent *map* that each round adapts from, updated by the same Reptile step as the generator (at
its own meta learning rate) and re-drawn with the meta-optimiser every ``reinit`` rounds. The
round keeps its last iterate (no best-iterate selection), sees RandomResizedCrop(scale 0.75-1) +
flip, and has the adversarial term from the first round on.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from harness.core import augment
from harness.core.config import DistillConfig, option
from harness.core.errors import BenchError
from harness.core.losses import BNStatistics, masked_adversarial
from harness.core.synthesizer import MethodSpec, SynthesisRound, Synthesizer, frozen
from methods.fast import copy_into, restart
from methods.generators import DeepGenerator


@dataclass(frozen=True)
class FastImageNetConfig(DistillConfig):
    """The defaults are the released ResNet-50 logs' settings (the ``paper`` budget)."""

    epochs: int = 400
    kd_steps: int = 100
    ep_steps: int = 1000
    batch_size: int = 100
    synthesis_batch_size: int = 100
    T: float = 5.0
    g_steps: int = option(50, min=1, help="inner synthesis steps per round (k)")
    lr_g: float = option(2e-4, min=0, help="inner generator learning rate")
    lr_z: float = option(0.01, min=0, help="inner latent learning rate")
    lr_g_meta: float = option(1e-4, min=0, help="meta learning rate of the generator (Reptile)")
    lr_z_meta: float = option(5e-3, min=0, help="meta learning rate of the persistent latent (Reptile)")
    reinit: int = option(50, min=1, help="rounds between re-draws of the latent and the meta-optimiser")
    adv: float = option(0.1, min=0, help="masked adversarial weight (on from the first round)")
    bn: float = option(0.1, min=0, help="BN-statistics weight")
    oh: float = option(0.1, min=0, help="one-hot weight")
    bn_mmt: float = option(0.9, min=0, max=0.999, help="BN-statistics momentum (0: plain BN loss)")
    crop_scale: float = option(0.75, min=0.01, max=1, help="smallest area fraction of the synthesis view's crop")
    nz: int = option(256, min=1, help="latent channels")
    ngf: int = option(64, min=1, help="generator width")


class FastImageNetSynthesizer(Synthesizer):
    """Fast-k with a meta-learned latent map, for 224 px ImageNet (its ``image_size`` option too)."""

    settings_key = "fast_imagenet"
    tasks = frozenset({"imagenet"})
    Config = FastImageNetConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        channels, size, _ = self.task.image_shape
        if size % 16:
            raise BenchError(f"fast50_imagenet needs an image size that is a multiple of 16 (its generator "
                             f"upsamples x16), not {size}: e.g. imagenet:image_size={max(16, size // 16 * 16)}")
        n = c.synthesis_batch_size
        # The meta-parameters: the generator and the latent, changed only by Reptile steps.
        self.generator = self.place(DeepGenerator(c.nz, c.ngf, size, channels))
        self.z = torch.empty(self.generator.latent_shape(n), device=self.device, requires_grad=True)
        # The round's state, refilled in place every round (as methods/fast.py does, for a fixed memory).
        self.round_generator = copy.deepcopy(self.generator)
        self.round_z = torch.empty_like(self.z, requires_grad=True)
        self.targets = torch.empty(n, dtype=torch.long, device=self.device)
        self.inner = torch.optim.Adam([{"params": self.round_generator.parameters(), "lr": c.lr_g},
                                       {"params": [self.round_z], "lr": c.lr_z}], betas=(0.5, 0.999))
        self.bn_stats = BNStatistics(self.teacher, c.bn_mmt)
        self._redraw()

    def _redraw(self) -> None:
        """A new latent and a new meta-optimiser (its moments gone), every ``reinit`` rounds."""
        c = self.config
        with torch.no_grad():
            self.z.normal_()
        self.meta_optimizer = torch.optim.Adam([{"params": self.generator.parameters(), "lr": c.lr_g_meta},
                                                {"params": [self.z], "lr": c.lr_z_meta}], betas=(0.5, 0.999))

    def _start_round(self, round_idx: int) -> None:
        if round_idx and round_idx % self.config.reinit == 0:
            self._redraw()
        copy_into(self.round_generator, self.generator)
        with torch.no_grad():
            self.round_z.copy_(self.z)
            self.targets.random_(0, self.task.num_classes)
        restart(self.inner)

    def view(self, images01: Tensor) -> Tensor:
        """The synthesis view: per-sample RandomResizedCrop(scale crop_scale-1) + flip, then normalise."""
        out = augment.random_resized_crop(images01, scale=(self.config.crop_scale, 1.0))
        return self.task.normalize(augment.random_hflip(out))

    def synthesize(self, round_idx: int) -> SynthesisRound:
        c = self.config
        self._start_round(round_idx)
        generator, zero = self.round_generator.train(), torch.zeros((), device=self.device)
        with frozen(self.teacher, self.student):
            for it in range(c.g_steps):
                images = generator(self.round_z)
                view = self.view(images)
                with self.bn_stats.capture():
                    teacher_logits = self.teacher(view)
                loss_bn = self.bn_stats.loss()
                loss_oh = F.cross_entropy(teacher_logits, self.targets) if c.oh > 0 else zero
                loss_adv = masked_adversarial(self.student(view), teacher_logits) if c.adv > 0 else zero
                loss = c.bn * loss_bn + c.oh * loss_oh + c.adv * loss_adv
                if it == c.g_steps - 1:  # the round keeps its last iterate, not the best one
                    last_stats, kept = self.bn_stats.snapshot(), images.detach()
                self.inner.zero_grad(set_to_none=True)
                self.precision.backward(loss)
                self.precision.step(self.inner)
        self.bn_stats.update_momentum(last_stats)
        self._reptile_step()
        return SynthesisRound(kept, {"loss": loss.detach(), "bn": loss_bn.detach(), "oh": loss_oh.detach(),
                                     "adv": loss_adv.detach()})

    def _reptile_step(self) -> None:
        """One meta-step towards the adapted generator and latent: gradient ``theta - theta'_k``
        (no x67 factor here, unlike the CIFAR synthesizer)."""
        with torch.no_grad():
            for meta, adapted in zip(self.generator.parameters(), self.round_generator.parameters()):
                meta.grad = meta - adapted
            self.z.grad = self.z - self.round_z
        self.meta_optimizer.step()

    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "z": self.z.detach(),
                "meta_optimizer": self.meta_optimizer.state_dict(), "bn_stats": self.bn_stats.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        with torch.no_grad():
            self.z.copy_(state["z"])
        self.meta_optimizer.load_state_dict(state["meta_optimizer"])
        self.bn_stats.load_state_dict(state["bn_stats"])


fast50_imagenet = MethodSpec(FastImageNetSynthesizer, {}, (
    "fast50_imagenet: the released ResNet-50 logs' settings; one batch size (100) for synthesis and KD, as the "
    "logs give one; nz 256 and ngf 64 chosen (not in the logs); no pre-synthesised initial image folder, so the "
    "pool starts empty and KD starts after the first round (docs/methods.md#fast-imagenet-variant)",))
