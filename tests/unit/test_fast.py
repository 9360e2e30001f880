"""methods.fast on a tiny digits setting: meta-gradients, reset, gating, frozen networks (docs/methods.md#fast-meta)."""

import copy

import pytest
import torch

import methods.fast
from harness.core.pool import ImagePool
from harness.core.synthesizer import BestIterate
from methods.fast import (
    REPTILE_SCALE,
    FastConfig,
    FastMetaConfig,
    FastMetaSynthesizer,
    FastSynthesizer,
)
from tasks.digits import Digits

CPU = torch.device("cpu")
SMALL = dict(g_steps=3, synthesis_batch_size=8, nz=16, ngf=8, epochs=10, warmup_frac=0.0)


@pytest.fixture(scope="module")
def task():
    return Digits()




def make_synth(task, cls=FastMetaSynthesizer, **overrides):
    torch.manual_seed(0)
    teacher = task.build_model("cnn_large").eval().requires_grad_(False)
    student = task.build_model("cnn_small")
    cfg = cls.Config(**{**SMALL, **overrides})
    return cls(teacher, student, task, cfg, CPU, pool=ImagePool(CPU))


def record_meta_steps(synth, monkeypatch):
    """Wrap the meta-optimizer's step to record the meta-gradient it is about to apply."""
    grads = []
    real_step = synth.meta_optimizer.step

    def step(*args, **kwargs):
        grads.append([p.grad.detach().clone() for p in synth.generator.parameters()])
        return real_step(*args, **kwargs)

    monkeypatch.setattr(synth.meta_optimizer, "step", step)
    return grads


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_maml_meta_gradient_is_sum_of_inner_gradients(task, monkeypatch):
    """First-order MAML: the meta-gradient is the sum of the clone's k inner gradients
    (docs/methods.md#fast-meta-first-order-maml)."""
    synth = make_synth(task)
    inner = []
    original = synth._after_backward

    def after_backward(it, clone):
        inner.append([p.grad.detach().clone() for p in clone.parameters()])
        original(it, clone)

    monkeypatch.setattr(synth, "_after_backward", after_backward)
    meta_grads = record_meta_steps(synth, monkeypatch)
    k = synth.config.g_steps
    for round_idx in range(2):  # the second round must restart the sum, not add to the first
        before = params(synth.generator)
        synth.synthesize(round_idx)
        assert len(meta_grads) == round_idx + 1 and len(inner) == k * (round_idx + 1)
        round_inner = inner[k * round_idx:k * (round_idx + 1)]
        for g, *parts in zip(meta_grads[round_idx], *round_inner):
            torch.testing.assert_close(g, sum(parts), atol=1e-6, rtol=0)
        assert any(not torch.equal(a, b) for a, b in zip(before, params(synth.generator)))
    assert not torch.allclose(inner[0][0], inner[1][0])  # the iterates' gradients really differ


def test_reptile_meta_gradient_is_scaled_parameter_difference(task, monkeypatch):
    """Reptile: one meta-step per round with gradient 67 * (theta - theta'_k) (docs/methods.md#fast-meta-reptile)."""
    synth = make_synth(task, is_maml=False)
    theta = params(synth.generator)
    clones = []
    original = synth._end_round

    def end_round(clone):
        clones.append(params(clone))
        original(clone)

    monkeypatch.setattr(synth, "_end_round", end_round)
    meta_grads = record_meta_steps(synth, monkeypatch)
    synth.synthesize(0)
    assert len(meta_grads) == 1 and len(clones) == 1
    assert REPTILE_SCALE == 67.0
    for g, th, cl in zip(meta_grads[0], theta, clones[0]):
        torch.testing.assert_close(g, 67.0 * (th - cl), atol=1e-6, rtol=1e-5)
    assert any((th - cl).abs().max() > 0 for th, cl in zip(theta, clones[0]))
    assert any(not torch.equal(a, b) for a, b in zip(theta, params(synth.generator)))


@pytest.mark.parametrize("is_maml", [True, False])
def test_meta_generator_never_runs_forward(task, is_maml):
    """Only clones run forward; the meta-generator is changed by meta-steps alone."""
    synth = make_synth(task, is_maml=is_maml)

    def hook(module, inputs):
        if module is synth.generator:  # the clone is a deep copy and inherits this hook
            raise AssertionError("the meta-generator ran forward")

    synth.generator.register_forward_pre_hook(hook)
    result = synth.synthesize(0)
    assert result.images.shape == (8, 1, 16, 16)
    assert result.images.min() >= 0 and result.images.max() <= 1


def test_best_iterate_keeps_lowest_loss_without_host_sync(monkeypatch):
    """Lowest offered loss wins, ties keep the earlier one, and nothing calls .item() or bool()."""
    images = [torch.full((2, 1, 2, 2), float(i)) for i in range(5)]
    losses = [3.0, 2.0, 2.0, 5.0, 2.5]

    def no_sync(self, *args):
        raise AssertionError("host synchronisation")

    best = BestIterate()
    monkeypatch.setattr(torch.Tensor, "item", no_sync)
    monkeypatch.setattr(torch.Tensor, "__bool__", no_sync)
    for loss, image in zip(losses, images):
        best.offer(torch.tensor(loss), image)
    monkeypatch.undo()
    assert torch.equal(best.items[0], images[1])
    assert best.loss.item() == 2.0 and best.loss.dim() == 0


def test_best_iterate_keeps_first_when_nothing_is_lower():
    best = BestIterate()
    a, z = torch.rand(3, 1, 2, 2), torch.rand(3, 4)
    best.offer(torch.tensor(1.0), a, z)
    best.offer(torch.tensor(1.0), torch.rand(3, 1, 2, 2), torch.rand(3, 4))
    best.offer(torch.tensor(4.0), torch.rand(3, 1, 2, 2), torch.rand(3, 4))
    assert torch.equal(best.items[0], a) and torch.equal(best.items[1], z)


def test_best_iterate_keeps_a_detached_copy():
    """Later in-place updates of the offered tensor do not change the kept images."""
    x = torch.rand(2, 1, 2, 2, requires_grad=True)
    best = BestIterate()
    best.offer(torch.tensor(1.0), x)
    kept = x.detach().clone()
    with torch.no_grad():
        x.add_(1.0)
    assert torch.equal(best.items[0], kept)
    assert not best.items[0].requires_grad


def test_round_returns_the_lowest_loss_iterate(task, monkeypatch):
    """The round's images are the offered iterate with the lowest loss, and that loss is reported."""
    offers = []

    class Recording(BestIterate):
        def offer(self, loss, *items):
            offers.append((loss.detach().clone(), items[0].detach().clone()))
            super().offer(loss, *items)

    monkeypatch.setattr(methods.fast, "BestIterate", Recording)
    synth = make_synth(task, g_steps=4)
    result = synth.synthesize(0)
    assert len(offers) == 4
    best = min(range(4), key=lambda i: offers[i][0].item())
    assert torch.equal(result.images, offers[best][1])
    assert result.losses["loss"].item() == offers[best][0].item()


def test_partial_reset_happens_once_at_reset_round(task, monkeypatch):
    """epochs 10, warmup 0, reset_frac 0.6: reset at ep 6 = round index 5, optimizer state kept."""
    synth = make_synth(task, g_steps=1, reset_frac=0.6)
    assert synth.reset_round == 6
    current, calls, biases = {}, [], {}
    real_reset = methods.fast.reset_first_layers

    def reset(generator):
        assert generator is synth.generator
        calls.append(current["round"])
        real_reset(generator)

    monkeypatch.setattr(methods.fast, "reset_first_layers", reset)
    original = synth._start_round

    def start_round(ep):
        original(ep)
        biases[current["round"]] = synth.round_generator.l1[0].bias.detach().clone()  # copies the meta state

    monkeypatch.setattr(synth, "_start_round", start_round)
    for round_idx in range(8):
        current["round"] = round_idx
        synth.synthesize(round_idx)
    assert calls == [5]
    assert torch.count_nonzero(biases[5]) == 0
    assert all(torch.count_nonzero(biases[r]) > 0 for r in range(8) if r != 5)
    state = synth.meta_optimizer.state[next(synth.generator.parameters())]
    assert int(state["step"]) == 8  # not reset with the layers


def test_no_partial_reset_when_disabled(task, monkeypatch):
    synth = make_synth(task, g_steps=1, reset_l0=False, epochs=3, reset_frac=0.0)
    assert synth.reset_round == 0 + 0
    calls = []
    monkeypatch.setattr(methods.fast, "reset_first_layers", lambda g: calls.append(g))
    for round_idx in range(3):
        synth.synthesize(round_idx)
    assert calls == []


def test_frozen_networks_are_untouched_and_restored(task):
    """Synthesis changes neither network and restores the student's flags and mode."""
    synth = make_synth(task)
    teacher, student = synth.teacher, synth.student
    student.fc.bias.requires_grad_(False)  # a mixed set of flags must come back as it was
    flags = [p.requires_grad for p in student.parameters()]
    teacher_state = {k: v.clone() for k, v in teacher.state_dict().items()}
    student_state = {k: v.clone() for k, v in student.state_dict().items()}
    student_calls = []
    student.register_forward_hook(lambda m, i, o: student_calls.append(1))
    assert student.training
    synth.synthesize(0)
    assert len(student_calls) == synth.config.g_steps  # warmup 0: the adversarial term ran the student
    for name, value in teacher.state_dict().items():
        assert torch.equal(value, teacher_state[name]), name
    for name, value in student.state_dict().items():
        assert torch.equal(value, student_state[name]), name  # BN running stats too: eval mode during synthesis
    assert [p.requires_grad for p in student.parameters()] == flags
    assert student.training and all(m.training for m in student.modules())
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    assert all(p.grad is None for p in [*teacher.parameters(), *student.parameters()])


def test_student_in_eval_mode_stays_in_eval_mode(task):
    synth = make_synth(task, g_steps=1)
    synth.student.eval()
    synth.synthesize(0)
    assert not synth.student.training


def test_adversarial_term_starts_at_ep_equal_warmup(task, monkeypatch):
    """warmup 3: rounds 0 and 1 have no adversarial term; round 2 (ep 3) has it (reference off-by-one)."""
    synth = make_synth(task, g_steps=2, warmup_frac=0.3)
    assert synth.schedule.warmup == 3
    adv_calls, student_calls = [], []
    real = methods.fast.masked_adversarial

    def counting(s, t):
        adv_calls.append(1)
        return real(s, t)

    monkeypatch.setattr(methods.fast, "masked_adversarial", counting)
    synth.student.register_forward_hook(lambda m, i, o: student_calls.append(1))
    first = synth.synthesize(0)
    assert first.losses["adv"].item() == 0.0
    synth.synthesize(1)
    assert adv_calls == [] and student_calls == []
    third = synth.synthesize(2)
    assert len(adv_calls) == 2 and len(student_calls) == 2
    assert third.losses["adv"].item() <= 0.0


def test_adversarial_weight_zero_never_runs_student(task):
    synth = make_synth(task, g_steps=2, adv=0.0)
    calls = []
    synth.student.register_forward_hook(lambda m, i, o: calls.append(1))
    result = synth.synthesize(3)
    assert calls == [] and result.losses["adv"].item() == 0.0


def test_momentum_buffers_use_each_rounds_last_teacher_forward(task):
    """Buffers: round 0's last stats, then 0.9*buf + 0.1*round 1's last stats; KD forwards in between don't count."""
    synth = make_synth(task, g_steps=2)
    first_bn = synth.bn_stats.layers[0]
    seen = []
    first_bn.register_forward_hook(lambda m, inputs, o: seen.append(inputs[0].detach().mean(dim=(0, 2, 3))))
    synth.synthesize(0)
    last0 = seen[-1]
    torch.testing.assert_close(synth.bn_stats.buffers[0][0], last0)
    with torch.no_grad():
        synth.teacher(torch.randn(4, 1, 16, 16) * 3)  # a KD forward between rounds
    synth.synthesize(1)
    last1 = seen[-1 - 0]
    assert len(seen) == 2 + 1 + 2
    torch.testing.assert_close(synth.bn_stats.buffers[0][0], 0.9 * last0 + 0.1 * last1, atol=1e-6, rtol=1e-5)


def test_sequential_fast_optimises_its_one_generator(task):
    """``fast``: the persistent generator itself is updated by the round and carried over."""
    synth = make_synth(task, cls=FastSynthesizer)
    assert isinstance(synth.config, FastConfig) and not hasattr(synth, "meta_optimizer")
    before = params(synth.generator)
    result = synth.synthesize(0)
    assert any(not torch.equal(a, b) for a, b in zip(before, params(synth.generator)))
    assert result.images.shape == (8, 1, 16, 16)
    assert all(torch.isfinite(v) for v in result.losses.values())


def test_state_dict_round_trip_restores_meta_state(task):
    synth = make_synth(task, g_steps=1)
    synth.synthesize(0)
    state = synth.state_dict()
    other = make_synth(task, g_steps=1)
    other.load_state_dict(state)
    for a, b in zip(synth.generator.parameters(), other.generator.parameters()):
        assert torch.equal(a, b)
    assert other.bn_stats.buffers is not None
    assert other.meta_optimizer.state_dict()["state"].keys() == synth.meta_optimizer.state_dict()["state"].keys()


def test_student_must_not_be_the_teacher(task):
    teacher = task.build_model("cnn_small")
    with pytest.raises(ValueError, match="the student must not be the teacher"):
        FastMetaSynthesizer(teacher, teacher, task, FastMetaConfig(**SMALL), CPU)


def test_optimizers_follow_the_reference_settings(task, monkeypatch):
    """Meta Adam: lr = lr_g * k, betas (0.5, 0.999); inner Adam: the round generator at lr_g and an
    (N, nz) latent at lr_z, both built once and refilled every round (a new latent each round)."""
    built = []
    real_adam = torch.optim.Adam

    class RecordingAdam(real_adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    synth = make_synth(task, g_steps=2, lr_g=4e-3, lr_z=0.02)
    assert len(built) == 2 and built[1] is synth.meta_optimizer and built[0] is synth.inner
    meta = synth.meta_optimizer.param_groups[0]
    assert meta["lr"] == pytest.approx(8e-3) and meta["betas"] == (0.5, 0.999)
    synth.synthesize(0)
    first_z = synth.z.detach().clone()
    synth.synthesize(1)
    assert len(built) == 2  # no optimiser per round
    gen_group, z_group = synth.inner.param_groups
    assert gen_group["lr"] == 4e-3 and z_group["lr"] == 0.02
    assert gen_group["betas"] == z_group["betas"] == (0.5, 0.999)
    assert len(gen_group["params"]) == len(list(synth.generator.parameters()))
    assert not any(p is q for p in gen_group["params"] for q in synth.generator.parameters())
    (z,) = z_group["params"]
    assert z is synth.z and z.shape == (8, 16)
    assert not torch.equal(first_z, synth.z.detach())


class DeepCopyRounds:
    """The round as it was before it was made capturable: a deep copy of the meta-generator, a new
    latent, new targets and a new inner Adam every round."""

    def _round_state(self, ep):
        if isinstance(self, FastMetaSynthesizer):
            if self.config.reset_l0 and ep == self.reset_round:
                methods.fast.reset_first_layers(self.generator)
            generator = copy.deepcopy(self.generator).train()
        else:
            generator = self.generator
        c = self.config
        z = torch.randn(c.synthesis_batch_size, c.nz, device=self.device, requires_grad=True)
        targets = torch.randint(self.task.num_classes, (c.synthesis_batch_size,), device=self.device)
        optimizer = torch.optim.Adam([{"params": generator.parameters(), "lr": c.lr_g},
                                      {"params": [z], "lr": c.lr_z}], betas=(0.5, 0.999))
        return generator, z, targets, optimizer


class DeepCopyMeta(DeepCopyRounds, FastMetaSynthesizer):
    pass


class DeepCopyFast(DeepCopyRounds, FastSynthesizer):
    pass


@pytest.mark.parametrize("cls, reference, overrides", [
    (FastMetaSynthesizer, DeepCopyMeta, dict(is_maml=True, reset_frac=0.2)),
    (FastMetaSynthesizer, DeepCopyMeta, dict(is_maml=False, reset_frac=0.2)),
    (FastSynthesizer, DeepCopyFast, {}),
])
def test_in_place_rounds_equal_fresh_copies(task, cls, reference, overrides):
    """Same seed, six rounds (a partial reset among them): images, losses and the generator agree
    within 1e-6 with the deep-copy rounds, and the round's tensors are the same objects throughout."""
    runs = []
    for klass in (cls, reference):
        synth = make_synth(task, klass, **overrides)
        torch.manual_seed(1)
        rounds = [synth.synthesize(i) for i in range(6)]
        runs.append((synth, rounds))
    (mine, ours), (ref, theirs) = runs
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.images, b.images, atol=1e-6, rtol=0)
        for key in a.losses:
            torch.testing.assert_close(a.losses[key], b.losses[key], atol=1e-6, rtol=1e-6)
    for p, q in zip(mine.generator.parameters(), ref.generator.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=0)
    assert any(not torch.equal(x, y) for x, y in zip(params(mine.generator), params(make_synth(task, cls).generator)))
    z, inner, clone = mine.z, mine.inner, mine.round_generator
    mine.synthesize(6)
    assert mine.z is z and mine.inner is inner and mine.round_generator is clone
