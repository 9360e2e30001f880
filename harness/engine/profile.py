"""``bench profile``: device-synchronised timings of each method's synthesis at a task's shapes.

Needs no dataset and no trained teacher: teacher and student are randomly initialised (the cost
of a step does not depend on the weights). Per-iteration timings of the many-step methods
(DeepInv, CMI) are extrapolated to their full rounds; the projected paper-budget hours are the
measured cost per image times the images of a ``paper``-budget run at its own batch sizes, as the
run record projects them (docs/methods.md#decision-budgets-and-schedule-scaling), so a small
``--batch-size`` on a CPU still projects the paper's run.

Each operation's FLOPs are counted once with ``torch.utils.flop_counter`` (convolutions and
matmuls, forward and backward) and divided by its time; the fraction is of the device's own
dense-matmul FLOP/s at the same precision, measured here, not a datasheet figure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from harness.core.devices import peak_memory_mb
from harness.core.precision import Precision, configure_backends, prepare
from harness.core.timing import Stopwatch
from harness.engine.build import build_synthesizer, seed_everything
from harness.engine.distill import Distiller
from harness.engine.plan import lookup_method, make_task, plan_runs, planned_images

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
    flops: float = 0.0
    device_flops_per_s: float = float("nan")

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")

    @property
    def per_s(self) -> float:
        """Operations per second: rounds, KD steps or evaluation batches."""
        return 1 / self.seconds if self.seconds > 0 else float("nan")

    @property
    def flops_per_s(self) -> float:
        return self.flops / self.seconds if self.seconds > 0 else float("nan")

    @property
    def peak_fraction(self) -> float:
        return self.flops_per_s / self.device_flops_per_s


def matmul_flops_per_s(device: torch.device, precision: Precision, size: int | None = None,
                       trials: int = 5) -> float:
    """The device's dense-matmul FLOP/s at ``precision``'s dtype: the ceiling we compare against.

    The best of ``trials`` timings, so that a moment of contention does not lower the ceiling.
    """
    size = size or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(size, size, device=device, dtype=precision.dtype)
    b = torch.randn(size, size, device=device, dtype=precision.dtype)
    return max(2 * size**3 / _timed(device, lambda: a @ b, repeats=3) for _ in range(trials))


def _timed(device: torch.device, fn: Callable[[], object], repeats: int = 1) -> float:
    fn()  # warm-up: first calls pay for allocation, kernel selection and compilation
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    watch = Stopwatch(device)
    with watch.phase("op"):
        for _ in range(repeats):
            fn()
    return watch["op"] / repeats


def _counted(fn: Callable[[], object]) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def profile(task_name: str, pair: str | None, methods: str, device: torch.device,
            batch_size: int | None = None, seed: int = 0, precision: str = "fp32",
            compile_forward: bool = False) -> list[Figure]:
    """Time one synthesis round (or step) per method, one KD step and one evaluation pass."""
    if compile_forward:
        # Compiled code from an earlier call (another precision) would count against dynamo's
        # recompile limit and leave some of this call's forwards eager: start afresh, as a run does.
        torch._dynamo.reset()
    seed_everything(seed)
    task = make_task(task_name)
    sets = (f"synthesis_batch_size={batch_size}", f"batch_size={batch_size}") if batch_size else ()
    specs = plan_runs(methods, task_name, pair, "0", "paper", sets, precision=precision, compile=compile_forward)
    paper_specs = plan_runs(methods, task_name, pair, "0", "paper", precision=precision) if sets else specs
    amp = Precision(precision, device)
    peak = matmul_flops_per_s(device, amp)
    configure_backends(device)
    teacher_arch, student_arch = task.pair(specs[0].pair)
    teacher = prepare(task.build_model(teacher_arch).to(device).eval().requires_grad_(False), amp, compile_forward)
    student = prepare(task.build_model(student_arch).to(device), amp, compile_forward)
    figures: list[Figure] = []

    def measure(name: str, operation: str, fn: Callable[[], object], images: int, repeats: int = 1,
                scale: float = 1.0, paper_images: int | None = None) -> Figure:
        seconds = _timed(device, fn, repeats) * scale
        flops = _counted(fn) * scale
        projected = None if paper_images is None else seconds / images * paper_images / 3600
        return Figure(name, operation, seconds, images, peak_memory_mb(device), projected, flops, peak)

    for spec, paper_spec in zip(specs, paper_specs):
        _, method, _ = lookup_method(spec.method)
        paper = spec.config
        schedule = paper.schedule()
        run_images = planned_images(method, paper_spec.config)
        many_steps = getattr(paper, "g_steps", 1) > 50
        config = dataclasses.replace(paper, g_steps=TIMED_ITERATIONS) if many_steps else paper
        synth = build_synthesizer(method, teacher, student, task, config, device, amp)
        round_idx = schedule.warmup  # past warmup: every loss term is on, as in most rounds

        def synthesize(synth=synth, round_idx=round_idx) -> None:
            with amp.autocast():
                synth.synthesize(round_idx)

        scale = paper.g_steps / TIMED_ITERATIONS if many_steps else 1.0
        if method.cls.generates_on_sample:
            def sample(synth=synth, batch_size=paper.batch_size) -> None:
                with amp.autocast():
                    synth.sample(batch_size)

            step = measure(spec.variant, "generator step", synthesize, paper.g_steps * paper.synthesis_batch_size)
            batch = measure(spec.variant, "sample KD batch", sample, paper.batch_size, repeats=3)
            round_images = paper.g_steps * paper.synthesis_batch_size + paper.kd_steps * paper.batch_size
            hours = (step.seconds + paper.kd_steps * batch.seconds) / round_images * run_images / 3600
            figures += [dataclasses.replace(step, projected_paper_h=hours), batch]
        else:
            label = f"round ({paper.g_steps} steps{', extrapolated' if many_steps else ''})"
            figures.append(measure(spec.variant, label, synthesize, paper.synthesis_batch_size, scale=scale,
                                   paper_images=run_images))

    kd_batch = specs[0].config.batch_size
    images = task.normalize(torch.rand(kd_batch, *task.image_shape, device=device))
    distiller = Distiller(synth, teacher, student, task, specs[0].config, device, synth.pool, Stopwatch(device), amp)
    figures.append(measure("-", "KD step", lambda: distiller.kd_step(images), kd_batch, repeats=3))
    eval_batch = specs[0].config.eval_batch_size if not batch_size else max(batch_size, 1)
    eval_images = task.normalize(torch.rand(eval_batch, *task.image_shape, device=device))

    @torch.inference_mode()
    def evaluate() -> None:  # as a run evaluates: under the precision's autocast
        student.eval()
        with amp.autocast():
            student(eval_images)

    figures.append(measure("-", "evaluation forward", evaluate, eval_batch, repeats=3))
    return figures
