"""pytest-benchmark: one synthesis round of fast5 and deepinv, and one KD step, on tiny digits shapes.

With ``--benchmark-disable`` each function runs once and the assertions still check the result.
"""

import pytest
import torch

from harness.distill import Distiller
from harness.pool import ImagePool
from harness.timing import Stopwatch
from methods.deepinv import DeepInvConfig, DeepInvSynthesizer
from methods.fast import FastMetaConfig, FastMetaSynthesizer
from tasks.digits import Digits

DEVICE = torch.device("cpu")
BATCH = 32


@pytest.fixture(scope="module")
def task():
    return Digits()


def networks(task):
    torch.manual_seed(0)
    teacher = task.build_model("cnn_large").to(DEVICE).eval().requires_grad_(False)
    student = task.build_model("cnn_small").to(DEVICE)
    return teacher, student


def fast5(task):
    teacher, student = networks(task)
    cfg = FastMetaConfig(g_steps=5, lr_g=3e-3, lr_z=0.01, synthesis_batch_size=BATCH, batch_size=BATCH,
                         nz=64, ngf=32, epochs=10, warmup_frac=0.0)
    return FastMetaSynthesizer(teacher, student, task, cfg, DEVICE, pool=ImagePool(DEVICE))


@pytest.mark.benchmark(group="synthesis")
def test_fast5_round(benchmark, task):
    """One Fast-5 round: 5 inner steps of a generator clone plus a meta-step."""
    synth = fast5(task)
    benchmark.extra_info.update(device=str(DEVICE), images_per_round=synth.images_per_round(),
                                g_steps=synth.config.g_steps)
    result = benchmark(synth.synthesize, 0)
    assert result.images.shape == (BATCH, 1, 16, 16)
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert all(torch.isfinite(v) for v in result.losses.values())


@pytest.mark.benchmark(group="synthesis")
def test_deepinv_iteration(benchmark, task):
    """One DeepInversion pixel-optimisation step on a batch of 32."""
    teacher, student = networks(task)
    cfg = DeepInvConfig(g_steps=1, synthesis_batch_size=BATCH, batch_size=BATCH)
    synth = DeepInvSynthesizer(teacher, student, task, cfg, DEVICE, pool=ImagePool(DEVICE))
    benchmark.extra_info.update(device=str(DEVICE), images_per_round=synth.images_per_round(),
                                g_steps=cfg.g_steps)
    result = benchmark(synth.synthesize, 0)
    assert result.images.shape == (BATCH, 1, 16, 16)
    assert all(torch.isfinite(v) for v in result.losses.values())


@pytest.mark.benchmark(group="kd")
def test_kd_step(benchmark, task):
    """One student update on a pool batch of 32 (KL at T = 20)."""
    synth = fast5(task)
    synth.pool.add(torch.rand(4 * BATCH, 1, 16, 16))
    distiller = Distiller(synth, synth.teacher, synth.student, task, synth.config, DEVICE, synth.pool,
                          Stopwatch(DEVICE))
    images = synth.sample(BATCH)
    before = [p.detach().clone() for p in synth.student.parameters()]
    benchmark.extra_info.update(device=str(DEVICE), batch_size=BATCH)
    loss = benchmark(distiller.kd_step, images)
    assert images.shape == (BATCH, 1, 16, 16)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0
    assert not loss.requires_grad
    assert any(not torch.equal(a, b) for a, b in zip(before, synth.student.parameters()))
