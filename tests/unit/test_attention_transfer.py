"""ZSKT's attention-transfer term (``at``): the map against a hand computation, its place in the
KD step, the default that keeps the reference's behaviour, and the errors for unmatched pairs."""

import math

import pytest
import torch

from harness.core.errors import BenchError
from harness.core.losses import (
    AttentionTransfer,
    attention_map,
    attention_transfer,
    kd_loss,
)
from harness.engine.build import build
from harness.engine.plan import plan_runs
from tasks.models.small import SmallCNN, cnn_large, cnn_small


def test_attention_map_by_hand():
    """One sample, two channels, 1x2 pixels: channel mean of squares, then L2-normalised."""
    x = torch.tensor([[[[1.0, 2.0]], [[3.0, 0.0]]]])  # (1, 2, 1, 2)
    raw = [(1 + 9) / 2, (4 + 0) / 2]  # 5, 2
    norm = math.sqrt(sum(v * v for v in raw))
    assert attention_map(x)[0].tolist() == pytest.approx([v / norm for v in raw], abs=1e-7)


def test_attention_transfer_sums_stage_means():
    torch.manual_seed(0)
    s = [torch.randn(3, 4, 8, 8), torch.randn(3, 5, 4, 4)]
    t = [torch.randn(3, 7, 8, 8), torch.randn(3, 2, 4, 4)]
    expected = sum(((attention_map(a) - attention_map(b)) ** 2).mean() for a, b in zip(s, t))
    assert float(attention_transfer(s, t)) == pytest.approx(float(expected), rel=1e-6)
    assert float(attention_transfer(t, t)) == 0.0


def test_stage_outputs_are_the_stage_feature_maps():
    """The digits CNNs' stages() are the last ReLU of each resolution: 16, 8 and 4 pixels."""
    torch.manual_seed(0)
    teacher, student = cnn_large(), cnn_small()
    penalty = AttentionTransfer(teacher, student, 1.0)
    x = torch.randn(2, 1, 16, 16)
    with penalty.capture():
        teacher(x), student(x)
    assert [tuple(o.shape[1:]) for o in penalty.teacher.values] == [(32, 16, 16), (64, 8, 8), (128, 4, 4)]
    assert [tuple(o.shape[1:]) for o in penalty.student.values] == [(16, 16, 16), (32, 8, 8), (64, 4, 4)]
    teacher(x)  # outside capture(): nothing is kept
    assert len(penalty.teacher.values) == 3


def zskt(cpu, *sets):
    spec = plan_runs("zskt", "digits", budget="smoke", sets=("warmup_frac=0", *sets))[0]
    return spec, build(spec, cpu)


def test_zskt_default_is_the_reference_without_attention(cpu, digits_teacher):
    spec, built = zskt(cpu)
    assert spec.config.at == 0.0 and built.synthesizer.kd_penalty is None
    assert not any("attention" in note for note in spec.deviations)


def test_zskt_kd_step_adds_weighted_attention_transfer(cpu, digits_teacher):
    """With at=250 the KD step's loss is KL(T=1) + 250 * AT on the same forward, and its gradient
    differs from the KL-only step's."""
    spec, built = zskt(cpu, "at=250")
    assert any("at=250" in note for note in spec.deviations)
    synth, distiller = built.synthesizer, built.distiller
    batch = synth.sample(spec.config.batch_size)

    student_state = {k: v.clone() for k, v in built.student.state_dict().items()}
    built.student.train()
    probe = AttentionTransfer(built.teacher, built.student, 1.0)
    with torch.no_grad(), probe.capture():
        teacher_logits = built.teacher(batch)
        student_logits = built.student(batch)
    expected = kd_loss(student_logits, teacher_logits, "kl", 1.0) + 250 * probe.loss()
    built.student.load_state_dict(student_state)  # the probe's train-mode forward moved BN statistics

    loss = distiller.kd_step(batch)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert float(probe.loss()) > 0  # the term is not trivially zero at initialisation


def test_unmatched_stages_are_refused():
    two_stages = SmallCNN(((8,), (16,)))
    with pytest.raises(BenchError, match="as many teacher as student stages, got 3 and 2"):
        AttentionTransfer(cnn_large(), two_stages, 1.0)
    with pytest.raises(BenchError, match="does not declare its stages"):
        AttentionTransfer(cnn_large(), torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1)), 1.0)
