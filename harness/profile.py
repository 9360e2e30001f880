"""``bench profile``: device-synchronised timings of each method's synthesis at a task's shapes.

Needs no dataset and no trained teacher: teacher and student are randomly initialised (the cost
of a step does not depend on the weights). Per-iteration timings of the many-step methods
(DeepInv, CMI) are extrapolated to their full rounds; the projected paper-budget hours use the
``paper`` budget's rounds and batch sizes, as the run record does (spec §12).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from harness.devices import peak_memory_mb
from harness.distill import Distiller
from harness.plan import lookup_method, make_task, plan_runs
from harness.pool import ImagePool
from harness.runner import seed_everything
from harness.timing import Stopwatch

DEFAULT_METHODS = "fast5,deepinv,cmi,dafl"
TIMED_ITERATIONS = 3  # inner iterations timed for methods whose rounds take thousands of steps


@dataclass(frozen=True)
class Figure:
    """One measured operation."""

    name: str
    operation: str
    seconds: float
    images: int
    peak_mb: float
    projected_paper_h: float | None = None

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")


def _timed(device: torch.device, fn, repeats: int = 1) -> float:
    fn()  # warm-up: first calls pay for allocation and kernel selection
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    watch = Stopwatch(device)
    with watch.phase("op"):
        for _ in range(repeats):
            fn()
    return watch["op"] / repeats


def profile(task_name: str, pair: str | None, methods: str, device: torch.device,
            batch_size: int | None = None, seed: int = 0) -> list[Figure]:
    """Time one synthesis round (or step) per method, one KD step and one evaluation pass."""
    seed_everything(seed)
    task = make_task(task_name)
    sets = (f"synthesis_batch_size={batch_size}", f"batch_size={batch_size}") if batch_size else ()
    specs = plan_runs(methods, task_name, pair, "0", "paper", sets)
    teacher_arch, student_arch = task.pair(specs[0].pair)
    teacher = task.build_model(teacher_arch).to(device).eval().requires_grad_(False)
    student = task.build_model(student_arch).to(device)
    figures: list[Figure] = []
    for spec in specs:
        _, method, _ = lookup_method(spec.method)
        paper = spec.config
        schedule = paper.schedule()
        rounds = schedule.epochs * schedule.rounds_per_epoch
        many_steps = getattr(paper, "g_steps", 1) > 50
        config = dataclasses.replace(paper, g_steps=TIMED_ITERATIONS) if many_steps else paper
        pool = None if method.cls.generates_on_sample else ImagePool(device)
        synth = method.cls(teacher, student, task, config, device, pool)
        round_idx = schedule.warmup  # past warmup: every loss term is on, as in most rounds
        seconds = _timed(device, lambda: synth.synthesize(round_idx))
        if many_steps:
            seconds = seconds / TIMED_ITERATIONS * paper.g_steps
        images = paper.g_steps * paper.synthesis_batch_size if method.cls.generates_on_sample \
            else paper.synthesis_batch_size
        if method.cls.generates_on_sample:
            sample_s = _timed(device, lambda: synth.sample(paper.batch_size), repeats=3)
            projected = rounds * (seconds + paper.kd_steps * sample_s) / 3600
            figures.append(Figure(spec.variant, "generator step", seconds, images, peak_memory_mb(device), projected))
            figures.append(Figure(spec.variant, "sample KD batch", sample_s, paper.batch_size, peak_memory_mb(device)))
        else:
            label = f"round ({paper.g_steps} steps{', extrapolated' if many_steps else ''})"
            figures.append(Figure(spec.variant, label, seconds, images, peak_memory_mb(device),
                                  rounds * seconds / 3600))
    kd_batch = specs[0].config.batch_size
    images = task.normalize(torch.rand(kd_batch, *task.image_shape, device=device))
    distiller = Distiller(synth, teacher, student, task, specs[0].config, device, pool, Stopwatch(device))
    figures.append(Figure("-", "KD step", _timed(device, lambda: distiller.kd_step(images), repeats=3),
                          kd_batch, peak_memory_mb(device)))
    eval_batch = specs[0].config.eval_batch_size if not batch_size else max(batch_size, 1)

    @torch.inference_mode()
    def evaluate() -> None:
        student.eval()
        student(task.normalize(torch.rand(eval_batch, *task.image_shape, device=device)))

    figures.append(Figure("-", "evaluation forward", _timed(device, evaluate, repeats=3), eval_batch,
                          peak_memory_mb(device)))
    return figures
