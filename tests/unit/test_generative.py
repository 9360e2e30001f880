"""methods.generative (DAFL, ZSKT, DFQ, DFAD) on a tiny digits setting, against hand computations
(docs/methods.md#loss-building-blocks, docs/methods.md#generative-family)."""

import copy
import math

import pytest
import torch

import methods.generative as gen
from harness.core.losses import kd_loss
from harness.core.synthesizer import SynthesisRound
from methods.generative import (
    GenerativeConfig,
    activation_loss,
    balance_loss,
    pseudo_label_loss,
)
from tasks.digits import Digits

CPU = torch.device("cpu")
SMALL = dict(synthesis_batch_size=6, nz=8, ngf=4)
ATOL = 1e-5


@pytest.fixture(scope="module")
def task():
    return Digits()




def make_synth(task, spec, seed=0, random_bn=False, **overrides):
    """A synthesizer from a registered recipe (its preset, then tiny overrides)."""
    torch.manual_seed(seed)
    teacher = task.build_model("cnn_large").eval().requires_grad_(False)
    if random_bn:  # non-trivial running statistics, so the BN term is not just about (0, 1)
        for m in teacher.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    student = task.build_model("cnn_small")
    cfg = spec.cls.Config(**{**spec.preset, **SMALL, **overrides})
    return spec.cls(teacher, student, task, cfg, CPU)


def fix_generator(synth, monkeypatch, fixed):
    """Make the generator return ``fixed`` while staying in the graph (its gradients are zero)."""
    real = synth.generator.forward
    monkeypatch.setattr(synth.generator, "forward", lambda z: real(z) * 0.0 + fixed)


def capture_teacher_inputs(synth):
    """Record every batch the teacher sees (a forward pre-hook)."""
    seen = []
    synth.teacher.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].detach().clone()))
    return seen


def hand_softmax(logits):
    e = [[math.exp(v) for v in row] for row in logits.tolist()]
    return [[v / sum(row) for v in row] for row in e]


def hand_kl_batchmean(student_logits, teacher_logits):
    """mean_i sum_c p_t (ln p_t - ln p_s), with plain Python arithmetic."""
    pt, ps = hand_softmax(teacher_logits), hand_softmax(student_logits)
    rows = [sum(a * (math.log(a) - math.log(b)) for a, b in zip(rt, rs)) for rt, rs in zip(pt, ps)]
    return sum(rows) / len(rows)


def hand_l1(student_logits, teacher_logits):
    diffs = [abs(a - b) for rs, rt in zip(student_logits.tolist(), teacher_logits.tolist()) for a, b in zip(rs, rt)]
    return sum(diffs) / len(diffs)


def hand_pseudo_label(logits):
    total = 0.0
    for row in logits.tolist():
        k = max(range(len(row)), key=lambda c: row[c])
        total += -(row[k] - math.log(sum(math.exp(v) for v in row)))
    return total / logits.shape[0]


def hand_balance(logits):
    p = hand_softmax(logits)
    pbar = [sum(col) / len(p) for col in zip(*p)]
    return sum(v * math.log(v) for v in pbar)


def hand_bn_loss(teacher, x):
    """sum_l ||running_var - biased var(input)||_2 + ||running_mean - mean(input)||_2, own hooks."""
    inputs = []
    layers = [m for m in teacher.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    handles = [m.register_forward_hook(lambda m, i, o: inputs.append(i[0].detach().double())) for m in layers]
    with torch.no_grad():
        teacher(x)
    for h in handles:
        h.remove()
    assert len(inputs) == len(layers) == 5
    total = 0.0
    for layer, a in zip(layers, inputs):
        count = a.shape[0] * a.shape[2] * a.shape[3]
        mean = a.sum(dim=(0, 2, 3)) / count
        var = ((a - mean[None, :, None, None]) ** 2).sum(dim=(0, 2, 3)) / count
        total += float(((layer.running_var.double() - var) ** 2).sum().sqrt())
        total += float(((layer.running_mean.double() - mean) ** 2).sum().sqrt())
    return total


# -- loss building blocks ---------------------------------------------------------------------

def test_activation_loss_is_minus_mean_absolute_feature():
    """L_act = -mean |phi| over N x D (docs/methods.md#activation-loss)."""
    features = torch.tensor([[1.0, -2.0, 0.5], [-0.25, 0.0, 3.0]])
    expected = -(1.0 + 2.0 + 0.5 + 0.25 + 0.0 + 3.0) / 6
    assert activation_loss(features).item() == pytest.approx(expected, abs=ATOL)


def test_balance_loss_is_negative_entropy_of_batch_mean_prediction():
    """L_bal = sum_c pbar_c ln pbar_c with pbar the batch mean of softmax (docs/methods.md#class-balance-loss)."""
    torch.manual_seed(1)
    logits = torch.randn(5, 4) * 2
    expected = hand_balance(logits)
    assert balance_loss(logits).item() == pytest.approx(expected, abs=ATOL)
    assert expected > -math.log(4) + 1e-3  # a non-uniform mean prediction is above the minimum


def test_balance_loss_is_minus_ln_k_for_uniform_mean_prediction():
    """Confident but class-balanced predictions (one row per class) reach the minimum -ln K."""
    k = 5
    logits = 4.0 * torch.eye(k)  # each softmax row is peaked, their mean is uniform by symmetry
    assert balance_loss(logits).item() == pytest.approx(-math.log(k), abs=ATOL)
    assert balance_loss(torch.zeros(3, k)).item() == pytest.approx(-math.log(k), abs=ATOL)


def test_pseudo_label_loss_is_cross_entropy_with_own_argmax():
    """L_oh = mean_i -ln softmax(t_i)[argmax t_i] (docs/methods.md#pseudo-label-loss)."""
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2], [-2.0, -3.0, 1.5], [0.0, 0.0, -1.0]])
    expected = hand_pseudo_label(logits)
    assert pseudo_label_loss(logits).item() == pytest.approx(expected, abs=ATOL)


def test_kd_loss_as_adversarial_criteria():
    """kd_loss(s, t, 'kl', 1) is KL(t||s) batchmean at T=1; kd_loss(s, t, 'l1') is mean |s - t|
    (docs/methods.md#generative-adversarial-loss)."""
    torch.manual_seed(2)
    s, t = torch.randn(4, 6), torch.randn(4, 6) * 2
    assert (-kd_loss(s, t, "kl", 1.0)).item() == pytest.approx(-hand_kl_batchmean(s, t), abs=ATOL)
    assert (-kd_loss(s, t, "l1", 1.0)).item() == pytest.approx(-hand_l1(s, t), abs=ATOL)


# -- the synthesizer's terms ------------------------------------------------------------------

@pytest.mark.parametrize("name", ["zskt", "dfq"])
def test_kl_adversarial_term_is_minus_kl_on_the_step_batch(task, name):
    """zskt/dfq: losses['adv'] = -KL(teacher || student) batchmean at T=1 on the step's normalised batch."""
    synth = make_synth(task, getattr(gen, name))
    assert synth.config.adv_loss == "kl" and synth.config.adv == 1.0
    seen = capture_teacher_inputs(synth)
    result = synth.synthesize(0)
    assert len(seen) == 1
    student = synth.student.eval()  # synthesis runs the student in eval mode
    with torch.no_grad():
        expected = -hand_kl_batchmean(student(seen[0]), synth.teacher(seen[0]))
    assert result.losses["adv"].item() == pytest.approx(expected, abs=ATOL)
    assert expected < 0


def test_dfad_adversarial_term_is_minus_l1_on_the_step_batch(task):
    """dfad: losses['adv'] = -mean |student(x) - teacher(x)| for the images of that step."""
    synth = make_synth(task, gen.dfad)
    assert synth.config.adv_loss == "l1"
    seen = capture_teacher_inputs(synth)
    result = synth.synthesize(0)
    assert len(seen) == 1
    student = synth.student.eval()
    with torch.no_grad():
        expected = -hand_l1(student(seen[0]), synth.teacher(seen[0]))
    assert result.losses["adv"].item() == pytest.approx(expected, abs=ATOL)
    assert result.losses["loss"].item() == pytest.approx(expected, abs=ATOL)  # adv is DFAD's only term


def test_dfad_adversarial_term_with_fixed_generator_output(task, monkeypatch):
    """With G(z) fixed, losses['adv'] = -mean |s - t| on task.normalize(fixed), computed by hand."""
    synth = make_synth(task, gen.dfad)
    fixed = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    fix_generator(synth, monkeypatch, fixed)
    result = synth.synthesize(0)
    x = task.normalize(fixed)
    with torch.no_grad():
        expected = -hand_l1(synth.student.eval()(x), synth.teacher(x))
    assert result.losses["adv"].item() == pytest.approx(expected, abs=ATOL)


def test_dfq_bn_term_matches_hand_computation(task, monkeypatch):
    """dfq: losses['bn'] = sum over teacher BN layers of ||v - biased var||_2 + ||m - mean||_2
    (docs/methods.md#bn-statistics-loss)."""
    synth = make_synth(task, gen.dfq, random_bn=True)
    fixed = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(4))
    fix_generator(synth, monkeypatch, fixed)
    result = synth.synthesize(0)
    x = task.normalize(fixed)
    expected_bn = hand_bn_loss(synth.teacher, x)
    assert result.losses["bn"].item() == pytest.approx(expected_bn, abs=ATOL * max(1.0, expected_bn))
    with torch.no_grad():
        t, s = synth.teacher(x), synth.student.eval()(x)
    oh, bal, adv = hand_pseudo_label(t), hand_balance(t), -hand_kl_batchmean(s, t)
    assert result.losses["oh"].item() == pytest.approx(oh, abs=ATOL)
    assert result.losses["balance"].item() == pytest.approx(bal, abs=ATOL)
    assert result.losses["adv"].item() == pytest.approx(adv, abs=ATOL)
    assert result.losses["act"].item() == 0.0
    total = expected_bn + oh + 20 * bal + adv
    assert result.losses["loss"].item() == pytest.approx(total, abs=1e-4)


def test_dafl_total_is_weighted_sum_of_its_terms(task, monkeypatch):
    """dafl: loss = 1*oh + 0.001*act + 20*balance on the fixed batch; no adv, no bn."""
    synth = make_synth(task, gen.dafl)
    fixed = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(5))
    fix_generator(synth, monkeypatch, fixed)
    student_calls = []
    synth.student.register_forward_hook(lambda m, i, o: student_calls.append(1))
    result = synth.synthesize(0)
    x = task.normalize(fixed)
    with torch.no_grad():
        t, phi = synth.teacher(x, return_features=True)
    oh, bal = hand_pseudo_label(t), hand_balance(t)
    act = -sum(abs(v) for v in phi.flatten().tolist()) / phi.numel()
    assert result.losses["oh"].item() == pytest.approx(oh, abs=ATOL)
    assert result.losses["act"].item() == pytest.approx(act, abs=ATOL)
    assert result.losses["balance"].item() == pytest.approx(bal, abs=ATOL)
    assert result.losses["adv"].item() == 0.0 and result.losses["bn"].item() == 0.0
    assert result.losses["loss"].item() == pytest.approx(1 * oh + 0.001 * act + 20 * bal, abs=1e-4)
    assert student_calls == []  # adv 0: the student never runs


# -- the real student, one Adam step -----------------------------------------------------------

def test_student_must_not_be_the_teacher(task):
    """The generative synthesizer refuses student is teacher (REF-FAST's bug, docs/methods.md#generative-family)."""
    teacher = task.build_model("cnn_small")
    with pytest.raises(ValueError):
        gen.zskt.cls(teacher, teacher, task, GenerativeConfig(**SMALL, adv=1.0), CPU)


def test_synthesize_steps_the_generator_once_and_leaves_the_student(task):
    """adv>0: one Adam step on the generator; the student's parameters, buffers and mode are unchanged."""
    synth = make_synth(task, gen.zskt)
    student_state = {k: v.clone() for k, v in synth.student.state_dict().items()}
    generator_before = [p.detach().clone() for p in synth.generator.parameters()]
    student_calls = []
    synth.student.register_forward_hook(lambda m, i, o: student_calls.append(1))
    assert synth.student.training
    synth.synthesize(0)
    assert student_calls == [1]
    for name, value in synth.student.state_dict().items():
        assert torch.equal(value, student_state[name]), name
    assert all(p.grad is None for p in synth.student.parameters())
    assert synth.student.training and all(p.requires_grad for p in synth.student.parameters())
    changed = [not torch.equal(a, b) for a, b in zip(generator_before, synth.generator.parameters())]
    assert any(changed)
    steps = {int(state["step"]) for state in synth.optimizer.state.values()}
    assert steps == {1} and len(synth.optimizer.state) == len(generator_before)


# -- sample() and the round record -------------------------------------------------------------

@pytest.mark.parametrize("mode", ["eval", "train"])
def test_sample_returns_normalised_generator_output_in_the_configured_mode(task, mode):
    """sample(B): task.normalize(G(z)) with z ~ N(0, I) of shape (B, nz), no grad, G in the configured mode."""
    synth = make_synth(task, gen.dafl, sample_mode=mode)
    synth.synthesize(0)  # gives the generator non-trivial running statistics
    reference = copy.deepcopy(synth.generator).train(mode == "train")
    torch.manual_seed(7)
    with torch.no_grad():
        expected = task.normalize(reference(torch.randn(5, synth.config.nz)))
    modes = []
    synth.generator.register_forward_pre_hook(lambda m, i: modes.append(m.training))
    torch.manual_seed(7)
    out = synth.sample(5)
    assert out.shape == (5, 1, 16, 16) and not out.requires_grad
    assert modes == [mode == "train"]
    assert synth.generator.training == (mode == "train")
    torch.testing.assert_close(out, expected, atol=ATOL, rtol=0)
    synth.sample(2)
    synth.synthesize(1)
    assert synth.generator.training  # synthesize() switches back to training mode
    assert modes[-1] is True


def test_synthesis_round_counts_generated_images(task):
    """SynthesisRound: images None, generated = count = g_steps * synthesis_batch_size."""
    synth = make_synth(task, gen.dfad, g_steps=3, synthesis_batch_size=4)
    result = synth.synthesize(0)
    assert isinstance(result, SynthesisRound)
    assert result.images is None
    assert result.generated == 12 and result.count == 12
    assert set(result.losses) == {"loss", "bn", "oh", "act", "balance", "adv"}
    assert all(v.dim() == 0 and not v.requires_grad for v in result.losses.values())


# -- presets and defaults ------------------------------------------------------------------------

def test_presets_match_spec_table():
    """The four recipes hold docs/methods.md#generative-family's loss weights, nz, kd_steps and criteria."""
    def cfg(spec):
        return spec.cls.Config(**spec.preset)

    dafl, zskt, dfq, dfad = cfg(gen.dafl), cfg(gen.zskt), cfg(gen.dfq), cfg(gen.dfad)
    weights = lambda c: (c.adv, c.bn, c.oh, c.act, c.balance)  # noqa: E731
    assert weights(dafl) == (0.0, 0.0, 1.0, 0.001, 20.0) and dafl.nz == 512 and dafl.kd_steps == 5
    assert weights(zskt) == (1.0, 0.0, 0.0, 0.0, 0.0) and zskt.nz == 256 and zskt.adv_loss == "kl"
    assert weights(dfq) == (1.0, 1.0, 1.0, 0.0, 20.0) and dfq.kd_steps == 10 and dfq.adv_loss == "kl"
    assert weights(dfad) == (1.0, 0.0, 0.0, 0.0, 0.0) and dfad.adv_loss == "l1" and dfad.kd_loss == "l1"
    for c in (dafl, zskt, dfq):
        assert c.kd_loss == "kl" and c.T == 1.0
    assert [s.settings_key for s in (gen.dafl, gen.zskt, gen.dfq, gen.dfad)] == ["dafl", "zskt", "dfq", "dfad"]


def test_config_defaults_match_spec():
    """Common to all four: g_steps 1, lr_g 1e-3, T 1, kd_steps 5, ep_steps 400, batch 256, lr 0.1, epochs 200."""
    c = GenerativeConfig()
    assert (c.g_steps, c.lr_g, c.T, c.kd_steps, c.ep_steps) == (1, 1e-3, 1.0, 5, 400)
    assert (c.batch_size, c.synthesis_batch_size, c.lr, c.epochs) == (256, 256, 0.1, 200)
    assert (c.nz, c.ngf, c.generator, c.sample_mode) == (256, 64, "large", "eval")
    assert (c.adv, c.bn, c.oh, c.act, c.balance) == (0.0, 0.0, 0.0, 0.0, 0.0)
