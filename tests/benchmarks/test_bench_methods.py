"""pytest-benchmark: one synthesis round and one KD step of every registered method, grouped by method.

Tiny digits shapes by default (CI runs them once with ``--benchmark-disable``, and the
assertions still check the results); ``--bench-shapes cifar`` uses the paper's CIFAR-100
ResNet-34 -> ResNet-18 settings (on a CPU with a small ``--bench-batch``), and
``--bench-precision fp32,bf16`` makes each precision a case of every benchmark. Methods whose paper
round takes thousands of steps (DeepInv, CMI) are timed over ``CAPPED_STEPS`` steps at tiny shapes
and on a CPU; ``extra_info`` gives both step counts.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from harness.core.precision import Precision, configure_backends, prepare
from harness.core.registry import METHODS, TASKS
from harness.core.timing import Stopwatch
from harness.engine.build import build_synthesizer, seed_everything
from harness.engine.distill import Distiller
from harness.engine.plan import lookup_method, make_task, plan_runs, supporting

# The methods that run at both shapes (digits and CIFAR-100): all but the ImageNet-only ones.
BENCHED = [name for name in supporting(TASKS.get("cifar100")) if name in METHODS]
CAPPED_STEPS = 10
TINY_BATCH = 32


def setup(method: str, shapes: str, batch: int | None, precision: str, device: torch.device,
          compile_forward: bool = False):
    """A synthesizer and distiller with random weights at the chosen shapes (no data, no teacher)."""
    seed_everything(0)
    task_name = "digits" if shapes == "tiny" else "cifar100"
    batch = batch or (TINY_BATCH if shapes == "tiny" else None)
    sets = (f"synthesis_batch_size={batch}", f"batch_size={batch}") if batch else ()
    spec = plan_runs(method, task_name, budget="paper", sets=sets, precision=precision,
                     compile=compile_forward)[0]
    config = spec.config
    if (shapes == "tiny" or device.type == "cpu") and getattr(config, "g_steps", 1) > CAPPED_STEPS:
        config = dataclasses.replace(config, g_steps=CAPPED_STEPS)
    task = make_task(task_name)
    configure_backends(device)
    amp = Precision(precision, device)
    if compile_forward:
        torch._dynamo.reset()  # each case compiles afresh, as a run does (dynamo's recompile limit)
    teacher = prepare(task.build_model(spec.teacher).to(device).eval().requires_grad_(False), amp, compile_forward)
    student = prepare(task.build_model(spec.student).to(device), amp, compile_forward)
    _, registered, _ = lookup_method(method)
    synth = build_synthesizer(registered, teacher, student, task, config, device, amp)
    distiller = Distiller(synth, teacher, student, task, config, device, synth.pool, Stopwatch(device), amp)
    return task, synth, distiller, spec


def describe(benchmark, method, spec, synth, device, precision, images: int) -> None:
    benchmark.group = method
    benchmark.extra_info.update(device=str(device), precision=precision, compiled=spec.compile, task=spec.task,
                                images=images,
                                g_steps=getattr(synth.config, "g_steps", None),
                                paper_g_steps=getattr(spec.config, "g_steps", None))


def record_images_per_s(benchmark, images: int) -> None:
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["images_per_s"] = images / benchmark.stats.stats.mean


@pytest.mark.parametrize("method", BENCHED)
def test_round(benchmark, method, bench_settings, bench_precision):
    """One synthesis round: a pool method's batch, or a generative method's generator steps."""
    shapes, batch, compiled, device = bench_settings
    precision = bench_precision
    task, synth, distiller, spec = setup(method, shapes, batch, precision, device, compiled)
    images = synth.config.g_steps * synth.config.synthesis_batch_size if synth.generates_on_sample \
        else synth.config.synthesis_batch_size
    describe(benchmark, method, spec, synth, device, precision, images)

    def one_round():
        with distiller.precision.autocast():
            return synth.synthesize(synth.config.schedule().warmup)

    if compiled:
        one_round()  # the first call compiles: not a figure
    result = benchmark(one_round)
    record_images_per_s(benchmark, images)
    assert all(torch.isfinite(v) for v in result.losses.values()), result.losses
    if result.images is not None:
        assert result.images.shape == (synth.config.synthesis_batch_size, *task.image_shape)
        assert 0 <= float(result.images.min()) and float(result.images.max()) <= 1
    else:
        assert result.generated == images


@pytest.mark.parametrize("method", BENCHED)
def test_kd_step(benchmark, method, bench_settings, bench_precision):
    """One student update on a KD batch (a generative method's batch is generated: synthesis time)."""
    shapes, batch, compiled, device = bench_settings
    precision = bench_precision
    task, synth, distiller, spec = setup(method, shapes, batch, precision, device, compiled)
    batch = synth.config.batch_size
    if synth.pool is not None:
        synth.pool.add(torch.rand(2 * batch, *task.image_shape, device=device))
    describe(benchmark, method, spec, synth, device, precision, batch)
    before = [p.detach().clone() for p in synth.student.parameters()]

    def kd_step():
        with distiller.precision.autocast():
            images = synth.sample(batch)
        return distiller.kd_step(images)

    if compiled:
        kd_step()
    loss = benchmark(kd_step)
    record_images_per_s(benchmark, batch)
    assert loss.dim() == 0 and torch.isfinite(loss) and not loss.requires_grad
    assert any(not torch.equal(a, b) for a, b in zip(before, synth.student.parameters()))
