"""Every registered data-free method that runs on digits (all but the ImageNet-only
fast50_imagenet, smoke-tested in test_imagenet_task.py), at the smoke budget (warmup 0):
one synthesis round and one KD step run, produce finite numbers, change the student and leave
the teacher alone. New methods are covered automatically through the registry."""

from __future__ import annotations

import pytest
import torch

from harness.core.registry import METHODS, TASKS
from harness.engine.build import build
from harness.engine.plan import plan_runs, supporting

DIGITS_METHODS = [name for name in supporting(TASKS.get("digits")) if name in METHODS]


def test_only_the_imagenet_synthesizer_is_left_out():
    assert set(METHODS.names()) - set(DIGITS_METHODS) == {"fast50_imagenet"}


@pytest.mark.parametrize("method", DIGITS_METHODS)
def test_one_round_and_one_kd_step(method, cpu, digits_teacher):
    spec = plan_runs(method, "digits", budget="smoke", sets=("warmup_frac=0",))[0]
    built = build(spec, cpu)
    synth, distiller = built.synthesizer, built.distiller
    assert synth.student is not synth.teacher
    teacher_before = [p.detach().clone() for p in built.teacher.parameters()]
    student_before = [p.detach().clone() for p in built.student.parameters()]

    result = synth.synthesize(0)
    for name, value in result.losses.items():
        assert torch.isfinite(value).all(), f"{method}: loss term {name} is not finite"
    if result.images is not None:
        assert result.images.shape == (spec.config.synthesis_batch_size, *built.task.image_shape)
        assert result.images.min() >= 0 and result.images.max() <= 1
        distiller.pool.add(result.images)
    batch = synth.sample(spec.config.batch_size)
    assert torch.isfinite(batch).all()
    loss = distiller.kd_step(batch)
    assert torch.isfinite(loss)

    assert all(torch.equal(a, b) for a, b in zip(teacher_before, built.teacher.parameters())), \
        f"{method} changed the teacher"
    assert any(not torch.equal(a, b) for a, b in zip(student_before, built.student.parameters())), \
        f"{method}: the KD step did not change the student"
