"""methods.deepinv on digits: clamping, kept iterate, student-BN term and adv = 0
(docs/methods.md#deepinversion, docs/methods.md#decisions)."""

import pytest
import torch

import methods.deepinv
from harness.core.pool import ImagePool
from harness.core.synthesizer import BestIterate
from methods.deepinv import DeepInvConfig, DeepInvSynthesizer
from tasks.digits import Digits

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def task():
    return Digits()




def make_synth(task, **overrides):
    torch.manual_seed(0)
    teacher = task.build_model("cnn_large").eval().requires_grad_(False)
    student = task.build_model("cnn_small")
    cfg = DeepInvConfig(**{"g_steps": 4, "synthesis_batch_size": 6, **overrides})
    return DeepInvSynthesizer(teacher, student, task, cfg, CPU, pool=ImagePool(CPU))


@pytest.fixture
def pixels(monkeypatch):
    """Captures the optimised pixel tensor by recording what Adam is built over."""
    captured = []
    real_adam = torch.optim.Adam

    class RecordingAdam(real_adam):
        def __init__(self, params, *args, **kwargs):
            params = list(params)
            super().__init__(params, *args, **kwargs)
            captured.append((params[0], self.param_groups[0]))

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    return captured


def test_last_iterate_is_the_final_clamped_variable(task, pixels):
    """select=last returns denormalize(final x) and x stays within the valid normalised range."""
    synth = make_synth(task, lr_g=5.0)  # a large step that would leave the valid range without the clamp
    result = synth.synthesize(0)
    ((x, group),) = pixels  # one new Adam per round over the pixels: lr_g, betas (0.5, 0.99)
    assert group["lr"] == 5.0 and group["betas"] == (0.5, 0.99)
    assert x.shape == (6, 1, 16, 16)
    low, high = synth.low, synth.high
    assert torch.all(x >= low) and torch.all(x <= high)
    assert result.images.shape == (6, 1, 16, 16)
    assert result.images.min() >= 0 and result.images.max() <= 1
    torch.testing.assert_close(result.images, task.denormalize(x.detach()).clamp(0, 1), atol=1e-6, rtol=0)
    # The clamp bounds are the images of 0 and 1 in normalised space.
    torch.testing.assert_close(task.denormalize(low), torch.zeros_like(low), atol=1e-6, rtol=0)
    torch.testing.assert_close(task.denormalize(high), torch.ones_like(high), atol=1e-6, rtol=0)


def test_teacher_sees_clamped_pixels_after_the_first_step(task):
    """The initial N(0, 1) batch leaves the valid range; every later iterate is inside it."""
    synth = make_synth(task, lr_g=5.0)
    views = []
    synth.teacher.register_forward_pre_hook(lambda m, inputs: views.append(inputs[0].detach().clone()))
    synth.synthesize(0)
    assert len(views) == 4
    low, high = synth.low.item(), synth.high.item()
    assert views[0].min() < low or views[0].max() > high
    for view in views[1:]:  # jitter is a roll (and flip): values are permuted, not changed
        assert view.min() >= low - 1e-6 and view.max() <= high + 1e-6


def test_select_best_keeps_lowest_loss_iterate(task, monkeypatch):
    """select=best returns the offered iterate with the lowest loss; select=last offers nothing."""
    offers = []

    class Recording(BestIterate):
        def offer(self, loss, *items):
            offers.append((loss.detach().clone(), items[0].detach().clone()))
            super().offer(loss, *items)

    monkeypatch.setattr(methods.deepinv, "BestIterate", Recording)
    last = make_synth(task, select="last").synthesize(0)
    assert offers == []
    best_synth = make_synth(task, select="best")
    best = best_synth.synthesize(0)
    assert len(offers) == 4
    i = min(range(4), key=lambda j: offers[j][0].item())
    torch.testing.assert_close(best.images, task.denormalize(offers[i][1]).clamp(0, 1), atol=1e-6, rtol=0)
    # Same seed, same trajectory: the final iterate is never a candidate, so the outputs differ.
    assert not torch.allclose(best.images, last.images)


def test_adv_zero_still_runs_student_for_its_bn_term(task):
    """adv = 0 with bn_student > 0: the student runs every step, L_adv is 0, no crash (docs/methods.md#decisions)."""
    synth = make_synth(task, adv=0.0, bn_student=0.001)
    calls = []
    synth.student.register_forward_hook(lambda m, i, o: calls.append(m.training))
    result = synth.synthesize(0)
    assert calls == [False] * 4  # in eval mode
    assert result.losses["adv"].item() == 0.0
    assert all(torch.isfinite(v) for v in result.losses.values())
    assert synth.student.training  # restored


def test_no_student_forward_when_no_term_needs_it(task):
    synth = make_synth(task, adv=0.0, bn_student=0.0)
    calls = []
    synth.student.register_forward_hook(lambda m, i, o: calls.append(1))
    synth.synthesize(0)
    assert calls == []


def test_bn_loss_subtracts_the_student_term(task):
    """Reported L_bn = teacher R - bn_student * student R on the last step's statistics
    (docs/methods.md#deepinversion)."""
    synth = make_synth(task, g_steps=2, bn_student=0.5)
    result = synth.synthesize(0)
    # Both hooks still hold the last step's statistics; the networks' running stats are unchanged.
    expected = synth.teacher_bn.loss() - 0.5 * synth.student_bn.loss()
    assert result.losses["bn"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert synth.student_bn.loss().item() > 0


def test_adversarial_term_is_the_jensen_shannon_form(task, monkeypatch):
    """With adv > 0 the JS term is computed once per step on the student's and teacher's logits."""
    calls = []
    real = methods.deepinv.jensen_shannon_adversarial

    def counting(s, t):
        calls.append((s.shape, t.shape))
        return real(s, t)

    monkeypatch.setattr(methods.deepinv, "jensen_shannon_adversarial", counting)
    result = make_synth(task, adv=1.0).synthesize(0)
    assert calls == [((6, 10), (6, 10))] * 4
    assert result.losses["adv"].item() <= 0.0


def test_deviations_name_the_departures():
    notes = DeepInvSynthesizer.deviations(DeepInvConfig(adv=0.0, select="best"), None)
    assert any("adv=0" in n for n in notes)
    assert any("select=best" in n for n in notes)
    assert DeepInvSynthesizer.deviations(DeepInvConfig(g_steps=10), None) == []
