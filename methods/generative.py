"""The generative family: DAFL, ZSKT, DFQ and DFAD as four loss recipes over one adversarial
generator loop (docs/methods.md#generative-family), as the reference implements them.

* DAFL, "Data-Free Learning of Student Networks" (Chen et al., ICCV 2019), arXiv:1904.01186:
  one-hot, activation and information-entropy losses from the teacher.
* ZSKT, "Zero-shot Knowledge Transfer via Adversarial Belief Matching" (Micaelli & Storkey,
  NeurIPS 2019), arXiv:1905.09768: the generator maximises KL(teacher || student). The student's
  attention-transfer term is an option (``at``, off by default as in the reference).
* DFQ: adversarial KL plus BN-statistics, one-hot and entropy terms (Choi et al., CVPRW 2020).
* DFAD, "Data-Free Adversarial Distillation" (Fang et al., 2019), arXiv:1912.11006: a min-max
  game on the L1 distance between logits; the student is distilled with L1 too.

A persistent generator is updated ``g_steps`` times per round; there is no pool: every KD batch
is generated in ``sample()``, whose time counts as synthesis. The adversarial term compares the
real student with the teacher: REF-FAST passes the teacher as the student
(docs/methods.md#generative-family, docs/methods.md#decisions).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from harness.core.config import DistillConfig, option
from harness.core.losses import AttentionTransfer, BNStatistics, kd_loss
from harness.core.synthesizer import MethodSpec, SynthesisRound, Synthesizer, frozen
from methods.generators import make_generator


@dataclass(frozen=True)
class GenerativeConfig(DistillConfig):
    kd_steps: int = 5
    T: float = 1.0  # the reference overrides its KD criterion with KL at T = 1 (docs/methods.md#kd-loss)
    g_steps: int = option(1, min=1, help="generator updates per round")
    lr_g: float = option(1e-3, min=0, help="generator Adam learning rate")
    adv: float = option(0.0, min=0, help="adversarial weight")
    adv_loss: str = option("kl", choices=("kl", "l1", "log_l1"),
                           help="generator's adversarial loss: -KL (T=1), -L1, or DFAD's NYUv2 -ln(1 + L1)")
    bn: float = option(0.0, min=0, help="BN-statistics weight")
    oh: float = option(0.0, min=0, help="pseudo-label one-hot weight")
    act: float = option(0.0, min=0, help="activation weight (DAFL)")
    balance: float = option(0.0, min=0, help="information-entropy (class balance) weight")
    nz: int = option(256, min=1, help="latent size")
    ngf: int = option(64, min=1, help="generator width")
    generator: str = option("large", choices=("large", "g32", "dcgan", "dfad"),
                            help="large: G32-Large (REF-CMI); g32: G32 (REF-FAST); dcgan: large images; "
                                 "dfad: DFAD's tanh GeneratorB")
    beta1: float = option(0.5, min=0, max=0.999, help="generator Adam beta1 (REF-FAST 0.5; DFAD's NYUv2 code 0.9)")
    sample_mode: str = option("eval", choices=("eval", "train"),
                              help="generator BN mode while sampling KD batches: eval (REF-CMI) or train (REF-FAST)")


def activation_loss(features: Tensor) -> Tensor:
    """DAFL: ``-mean |phi|`` over the teacher's penultimate features (docs/methods.md#activation-loss)."""
    return -features.abs().mean()


def balance_loss(teacher_logits: Tensor) -> Tensor:
    """``sum_c p_c ln p_c`` of the mean prediction: the negative entropy (docs/methods.md#class-balance-loss).

    The mean runs over the batch, and over pixels too for segmentation (per-pixel class mean).
    """
    probs = F.softmax(teacher_logits, dim=1)
    mean = probs.transpose(0, 1).reshape(probs.shape[1], -1).mean(dim=1)
    return (mean * mean.log()).sum()


def adversarial_loss(student_logits: Tensor, teacher_logits: Tensor, kind: str) -> Tensor:
    """The generator's term: it maximises the teacher-student discrepancy
    (docs/methods.md#generative-adversarial-loss, docs/methods.md#data-free-segmentation)."""
    if kind == "log_l1":
        return -torch.log1p(kd_loss(student_logits, teacher_logits, "l1"))
    return -kd_loss(student_logits, teacher_logits, kind, 1.0)


def pseudo_label_loss(teacher_logits: Tensor) -> Tensor:
    """``CE(t, argmax t)``: the teacher's own prediction as target (docs/methods.md#pseudo-label-loss)."""
    return F.cross_entropy(teacher_logits, teacher_logits.argmax(dim=1))


class GenerativeSynthesizer(Synthesizer):
    Config = GenerativeConfig
    generates_on_sample = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        c = self.config
        self.generator = self.place(make_generator(c.generator, c.nz, c.ngf, self.task.image_shape))
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=c.lr_g, betas=(c.beta1, 0.999))
        # DFAD steps its generator's rate with the student's (StepLR); the others keep it constant.
        self.scheduler = c.lr_scheduler(self.optimizer) if c.lr_schedule == "step" else None
        self.bn_stats = BNStatistics(self.teacher)

    def synthesize(self, round_idx: int) -> SynthesisRound:
        c = self.config
        self.generator.train()
        zero = torch.zeros((), device=self.device)
        with frozen(self.teacher, self.student):
            for _ in range(c.g_steps):
                z = torch.randn(c.synthesis_batch_size, c.nz, device=self.device)
                images = self.task.normalize(self.generator(z))
                with self.bn_stats.capture():
                    teacher_logits, features = self.teacher(images, return_features=True)
                terms = {
                    "bn": self.bn_stats.loss() if c.bn > 0 else zero,
                    "oh": pseudo_label_loss(teacher_logits) if c.oh > 0 else zero,
                    "act": activation_loss(features) if c.act > 0 else zero,
                    "balance": balance_loss(teacher_logits) if c.balance > 0 else zero,
                    "adv": adversarial_loss(self.student(images), teacher_logits, c.adv_loss) if c.adv > 0 else zero,
                }
                loss = sum(getattr(c, name) * value for name, value in terms.items())
                self.optimizer.zero_grad(set_to_none=True)
                self.precision.backward(loss)
                self.precision.step(self.optimizer)
        return SynthesisRound(None, {"loss": loss.detach(), **{k: v.detach() for k, v in terms.items()}},
                              generated=c.g_steps * c.synthesis_batch_size)

    @torch.no_grad()
    def sample(self, batch_size: int) -> Tensor:
        self.generator.train(self.config.sample_mode == "train")
        z = torch.randn(batch_size, self.config.nz, device=self.device)
        return self.task.normalize(self.generator(z))

    def end_kd_epoch(self) -> None:
        if self.scheduler is not None:
            self.scheduler.step()

    def state_dict(self) -> dict:
        state = {"generator": self.generator.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    @classmethod
    def deviations(cls, config: GenerativeConfig, task) -> list[str]:
        notes = []
        if config.adv > 0:
            notes.append("generative adversarial term uses the real student (REF-FAST passes the teacher: "
                         "Fast-Datafree issue #11)")
        if config.generator == "g32" or (config.sample_mode == "train" and config.generator != "dfad"):
            notes.append(f"generator={config.generator}, sample_mode={config.sample_mode}: REF-FAST parity option")
        return notes


@dataclass(frozen=True)
class ZSKTConfig(GenerativeConfig):
    at: float = option(0.0, min=0, help="student attention-transfer weight over matched stages "
                                        "(0 as in the reference; the ZSKT paper uses 250)")


class ZSKTSynthesizer(GenerativeSynthesizer):
    """ZSKT: the adversarial recipe, plus the paper's attention-transfer term on the student
    when ``at > 0`` (teacher and student need as many stages, of matching spatial sizes)."""

    settings_key = "zskt"
    Config = ZSKTConfig

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.config.at > 0:
            self.kd_penalty = AttentionTransfer(self.teacher, self.student, self.config.at)

    @classmethod
    def deviations(cls, config: ZSKTConfig, task) -> list[str]:
        notes = super().deviations(config, task)
        if config.at > 0:
            notes.append(f"at={config.at:g}: ZSKT's attention-transfer term is on (the reference omits it)")
        return notes


class DAFLSynthesizer(GenerativeSynthesizer):
    """DAFL: the teacher's one-hot, activation and information-entropy losses train the generator."""

    settings_key = "dafl"
    supports = frozenset({"classification", "segmentation"})


class DFQSynthesizer(GenerativeSynthesizer):
    """DFQ: the adversarial KL plus BN-statistics, one-hot and entropy terms."""

    settings_key = "dfq"


class DFADSynthesizer(GenerativeSynthesizer):
    """DFAD: the min-max game on the L1 distance between the logits."""

    settings_key = "dfad"
    supports = frozenset({"classification", "segmentation"})


dafl = MethodSpec(DAFLSynthesizer, {"oh": 1.0, "act": 0.001, "balance": 20.0, "nz": 512})
zskt = MethodSpec(ZSKTSynthesizer, {"adv": 1.0})
dfq = MethodSpec(DFQSynthesizer, {"adv": 1.0, "bn": 1.0, "oh": 1.0, "balance": 20.0, "kd_steps": 10})
dfad = MethodSpec(DFADSynthesizer, {"adv": 1.0, "adv_loss": "l1", "kd_loss": "l1"})
