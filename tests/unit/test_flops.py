"""Synthesis computes gradients only for what it optimises: an inner step's FLOPs, counted with
``torch.utils.flop_counter``, are at most 0.70x those of the same step with the frozen networks'
weight gradients computed too (the reference's waste, issue "Performance"), for every pool method,
at CIFAR shapes (ResNet-34 -> ResNet-18, where the issue measured 439 vs 659 GFLOP, tiny batch).
On WRN-40-2 -> WRN-16-1 Fast's ratio is 0.73: the generator, whose gradients are needed, is a
larger share of a step there."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import harness.core.synthesizer
from harness.core.pool import ImagePool
from harness.engine.plan import lookup_method, plan_runs
from tasks.cifar import Cifar10
from tasks.models.cifar import build

POOL_METHODS = ["fast5", "fast", "deepinv", "cmi"]


class with_weight_grads(harness.core.synthesizer.frozen):
    """Eval mode as usual, but the networks' parameters keep requiring gradients."""

    def __enter__(self) -> None:
        self._saved = [(m.training, [p.requires_grad for p in m.parameters()]) for m in self.modules]
        for m in self.modules:
            m.eval()
            m.requires_grad_(True)


def step_flops(method: str, monkeypatch, weight_grads: bool) -> int:
    torch.manual_seed(0)
    task = Cifar10()
    spec = plan_runs(method, "cifar10", "resnet34-resnet18", budget="paper")[0]
    config = dataclasses.replace(spec.config, g_steps=1, synthesis_batch_size=4, bank_size=64, n_neg=8) \
        if method == "cmi" else dataclasses.replace(spec.config, g_steps=1, synthesis_batch_size=4)
    teacher = build("resnet34", 10).eval().requires_grad_(False)
    student = build("resnet18", 10)
    cls = lookup_method(method)[1].cls
    synth = cls(teacher, student, task, config, torch.device("cpu"), ImagePool(torch.device("cpu")))
    module = {"fast5": "methods.fast", "fast": "methods.fast", "deepinv": "methods.deepinv", "cmi": "methods.cmi"}
    if weight_grads:
        monkeypatch.setattr(f"{module[method]}.frozen", with_weight_grads)
    round_idx = config.schedule().warmup  # past warmup: the adversarial term is on
    synth.synthesize(round_idx)  # CMI sizes its head on the first round
    with FlopCounterMode(display=False) as counter:
        synth.synthesize(round_idx)
    return counter.get_total_flops()


@pytest.mark.parametrize("method", POOL_METHODS)
def test_synthesis_step_skips_weight_gradients(method, monkeypatch):
    lean = step_flops(method, monkeypatch, weight_grads=False)
    wasteful = step_flops(method, monkeypatch, weight_grads=True)
    print(f"{method}: {lean / 1e9:.2f} vs {wasteful / 1e9:.2f} GFLOP per step ({lean / wasteful:.2f}x)")
    assert lean <= 0.70 * wasteful, f"{method}: {lean:,} vs {wasteful:,} FLOPs ({lean / wasteful:.2f}x)"
