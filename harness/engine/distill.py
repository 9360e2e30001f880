"""The distillation loop (docs/methods.md#common-loop): synthesis rounds, warmup, KD steps, evaluation.

The harness, not the method, adds each round's images to the pool, outside the synthesis
stopwatch. Generative methods make every KD batch in ``sample()``, which is timed as synthesis.

Across ranks (:mod:`harness.engine.distributed`) each rank synthesises its share of every round
into its own pool and the student's KD steps run under DistributedDataParallel; a round's
synthesis time is the slowest rank's, and rank 0 evaluates for all.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable

import torch
from torch import nn

from harness.core import interrupt
from harness.core.errors import NonFinite
from harness.core.job import EpochReport, Progress
from harness.core.losses import kd_loss
from harness.core.pool import ImagePool
from harness.core.precision import FP32, Precision
from harness.core.synthesizer import SynthesisRound, Synthesizer
from harness.core.task import Task
from harness.core.timing import EVALUATION, SYNTHESIS, TRAINING, Stopwatch
from harness.engine.distributed import SOLO, Ranks


def check_round(result: SynthesisRound, epoch: int, round_idx: int) -> None:
    """Stop a run whose synthesis diverged before anything of the round is pooled or saved: every
    loss term finite, the images finite and not all one value (a saturated generator). One host
    synchronisation per round, at its end."""
    names = list(result.losses)
    flags = [result.losses[name].detach().float().isfinite().all() for name in names]
    if result.images is not None:
        images = result.images.detach()
        flags += [images.isfinite().all(), images.amax() > images.amin()]
    if not flags:
        return
    ok = torch.stack(flags).tolist()
    where = f"at epoch {epoch}, round {round_idx}"
    bad = [name for name, fine in zip(names, ok) if not fine]
    if bad:
        raise NonFinite(f"non-finite synthesis loss term {', '.join(bad)} {where}")
    if result.images is not None and not ok[len(names)]:
        raise NonFinite(f"non-finite synthesised images {where}")
    if result.images is not None and not ok[len(names) + 1]:
        raise NonFinite(f"the synthesised images {where} are all one value (a diverged or saturated synthesis)")


class Distiller:
    """Drives one run's epochs; the runner owns tracking, checkpoint files and progress display.
    ``config`` is this rank's (its share of the batches, ``plan.per_rank``)."""

    # What DDP keeps identical on every rank: a checkpoint of a run across ranks holds it once, and
    # the rest of the state (synthesizer, stopwatch, loss scale, progress) for every rank.
    SHARED_STATE = ("student", "optimizer", "scheduler")

    def __init__(self, synthesizer: Synthesizer, teacher: nn.Module, student: nn.Module, task: Task,
                 config, device: torch.device, pool: ImagePool | None, stopwatch: Stopwatch,
                 precision: Precision = FP32, ranks: Ranks = SOLO) -> None:
        self.synthesizer, self.teacher, self.student, self.task = synthesizer, teacher, student, task
        self.config, self.device, self.pool, self.stopwatch = config, device, pool, stopwatch
        self.ranks = ranks
        self.trained = ranks.data_parallel(student)  # what KD steps run: the student, under DDP across ranks
        if synthesizer.precision is not precision:
            raise ValueError("the synthesizer must be built with the run's precision (build_synthesizer)")
        self.precision = precision
        self.schedule = config.schedule()
        self.optimizer = torch.optim.SGD(student.parameters(), lr=config.lr, momentum=config.momentum,
                                         weight_decay=config.weight_decay)
        # Over the budget's KD epochs, stepped only on KD epochs (REF-FAST, scaled per
        # docs/methods.md#decision-budgets-and-schedule-scaling).
        self.scheduler = config.lr_scheduler(self.optimizer)
        self.progress = Progress()
        self._last_generated: torch.Tensor | None = None  # a generative method's last KD batch

    def kd_step(self, images: torch.Tensor) -> torch.Tensor:
        """One student update on a normalised batch; returns the detached loss (no host sync)."""
        self.student.train()
        penalty = self.synthesizer.kd_penalty
        with self.precision.autocast(), penalty.capture() if penalty else contextlib.nullcontext():
            with torch.no_grad():
                teacher_logits = self.teacher(images)
            loss = kd_loss(self.trained(images), teacher_logits, self.config.kd_loss, self.config.T)
            if penalty:
                loss = loss + penalty.loss()
        self.optimizer.zero_grad(set_to_none=True)
        self.precision.backward(loss)
        self.precision.step(self.optimizer)
        return loss.detach()

    def _kd_phase(self) -> torch.Tensor:
        c, synth, sw = self.config, self.synthesizer, self.stopwatch
        total = torch.zeros((), device=self.device)
        if synth.generates_on_sample:
            for _ in range(c.kd_steps):
                with sw.phase(SYNTHESIS), self.precision.autocast():
                    batch = synth.sample(c.batch_size)
                self.progress.images_synthesized += batch.shape[0]
                self._last_generated = batch.detach()
                with sw.phase(TRAINING):
                    total += self.kd_step(batch)
        else:
            with sw.phase(TRAINING):
                for _ in range(c.kd_steps):
                    total += self.kd_step(synth.sample(c.batch_size))
        self.ranks.sync_buffers(self.student)  # every rank synthesises against, and saves, rank 0's student
        return total / c.kd_steps

    def run_epoch(self, on_round: Callable[[int, torch.Tensor], None] | None = None) -> EpochReport:
        """One epoch: ``rounds_per_epoch`` x (synthesis round, then KD unless warming up), then eval."""
        epoch, synth, sw = self.progress.epoch, self.synthesizer, self.stopwatch
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch's KD steps use (logged as such)
        kd_losses = []
        for _ in range(self.schedule.rounds_per_epoch):
            interrupt.check()
            round_idx = self.progress.rounds
            with self.ranks.slowest(sw, SYNTHESIS):  # a generative method's KD batches count too
                with sw.phase(SYNTHESIS), self.precision.autocast():
                    result = synth.synthesize(round_idx)
                self.ranks.agree(functools.partial(check_round, result, epoch, round_idx))
                self.progress.rounds += 1
                self.progress.images_synthesized += result.count
                if result.images is not None:
                    assert self.pool is not None, "a method that returns images needs a pool"
                    self.pool.add(result.images)
                    if on_round is not None:
                        on_round(round_idx, result.images)
                if epoch >= self.schedule.warmup:
                    kd_losses.append(self._kd_phase())
        if epoch >= self.schedule.warmup:
            self.scheduler.step()
            synth.end_kd_epoch()
        with sw.phase(EVALUATION), self.precision.autocast():
            metrics = {f"eval/{k}": v for k, v in self.ranks.on_main(self._evaluate).items()}
        if kd_losses:
            metrics["train/kd_loss"] = self.ranks.mean(float(torch.stack(kd_losses).mean()))
        if "loss" in result.losses:
            metrics["synth/loss"] = self.ranks.mean(float(result.losses["loss"]))
        metrics["time/synthesis_s_cum"] = sw[SYNTHESIS]
        metrics["train/lr"] = lr
        checked = ("train/kd_loss", f"eval/{self.task.metric}")
        bad = [k for k in checked if k in metrics and not math.isfinite(metrics[k])]
        if bad:
            raise NonFinite(f"non-finite {', '.join(bad)} at epoch {epoch}")
        score = metrics[f"eval/{self.task.metric}"]
        self.progress.best = max(self.progress.best, score)
        self.progress.history.append(score)
        self.progress.epoch += 1
        return EpochReport(epoch, metrics, result, self._shown(result))

    def _evaluate(self) -> dict[str, float]:
        return self.task.evaluate(self.student, self.device, self.config.eval_batch_size)

    def _shown(self, result) -> torch.Tensor | None:
        """What the epoch synthesised, for the record's sample grid: a pool method's last round,
        a generative method's last KD batch (back in [0, 1])."""
        if result.images is not None:
            return result.images
        last = self._last_generated
        return None if last is None else self.task.denormalize(last.float()).clamp(0, 1)

    def state_dict(self) -> dict:
        return {"student": self.student.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "synthesizer": self.synthesizer.state_dict(),
                "stopwatch": self.stopwatch.state_dict(), "loss_scale": self.precision.state_dict(),
                "progress": self.progress.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.student.load_state_dict(state["student"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.synthesizer.load_state_dict(state["synthesizer"])
        self.stopwatch.totals.update(state["stopwatch"])
        self.precision.load_state_dict(state["loss_scale"])
        self.progress = Progress.from_state(state["progress"])
