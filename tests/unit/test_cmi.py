"""methods.cmi on a tiny digits setting: contrastive loss, memory bank, features and rounds
(docs/methods.md#cmi, docs/methods.md#decision-cmi-bank-boundary)."""

import math

import pytest
import torch
from torch import nn

import methods.cmi
from harness.core.augment import random_resized_crop
from methods.cmi import (
    CMIConfig,
    CMISynthesizer,
    InstanceFeatures,
    MemoryBank,
    contrastive_loss,
)
from tasks.digits import Digits

CPU = torch.device("cpu")
SMALL = dict(synthesis_batch_size=4, g_steps=2, nz=8, ngf=4, n_neg=16, bank_size=64, head_dim=8)
ATOL = 1e-5


@pytest.fixture(scope="module")
def task():
    return Digits()




def make_synth(task, seed=0, **overrides):
    torch.manual_seed(seed)
    teacher = task.build_model("cnn_large").eval().requires_grad_(False)
    student = task.build_model("cnn_small")
    return CMISynthesizer(teacher, student, task, CMIConfig(**{**SMALL, **overrides}), CPU)


def hand_contrastive(head, local, global_, bank_local, bank_global, T, bank_written):
    """docs/methods.md#cmi by hand: normalised projections, square logits, per-row CE with label i, two means."""
    with torch.no_grad():
        z = head(torch.cat([local, bank_local, global_, bank_global])).double()
    rows = z.tolist()
    unit = [[v / math.sqrt(sum(w * w for w in r)) for v in r] for r in rows]
    m = len(unit) // 2
    p_l, p_g = unit[:m], unit[m:]
    ce = []
    for i in range(m):
        logits = [sum(a * b for a, b in zip(p_l[i], p_g[j])) / T for j in range(m)]
        top = max(logits)
        lse = top + math.log(sum(math.exp(v - top) for v in logits))
        ce.append(lse - logits[i])
    n = local.shape[0]
    if bank_written and m > n:
        return sum(ce[:n]) / n + sum(ce[n:]) / (m - n)
    return sum(ce) / m


def contrastive_inputs(n=3, k=4, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    head = nn.Linear(d, 6)
    with torch.no_grad():
        head.weight.copy_(torch.randn(6, d, generator=g))
        head.bias.copy_(torch.randn(6, generator=g))
    local = torch.randn(n, d, generator=g).requires_grad_(True)
    global_ = torch.randn(n, d, generator=g).requires_grad_(True)
    bank_local, bank_global = torch.randn(k, d, generator=g), torch.randn(k, d, generator=g)
    return head, local, global_, bank_local, bank_global


# -- contrastive loss ---------------------------------------------------------------------------

def test_contrastive_loss_with_bank_rows_averages_batch_and_bank_separately():
    """bank written and k>0 rows: L = mean(ce[:N]) + mean(ce[N:]) (docs/methods.md#cmi)."""
    head, local, global_, bl, bg = contrastive_inputs()
    got = contrastive_loss(head, local, global_, bl, bg, 0.2, True)
    expected = hand_contrastive(head, local, global_, bl, bg, 0.2, True)
    assert got.item() == pytest.approx(expected, abs=ATOL)
    plain = hand_contrastive(head, local, global_, bl, bg, 0.2, False)
    assert abs(expected - plain) > 1e-3  # the two branches really differ on these inputs


def test_contrastive_loss_before_bank_written_is_plain_mean():
    """Bank never written: L = mean of ce over all rows."""
    head, local, global_, bl, bg = contrastive_inputs(seed=1)
    got = contrastive_loss(head, local, global_, bl, bg, 0.5, False)
    assert got.item() == pytest.approx(hand_contrastive(head, local, global_, bl, bg, 0.5, False), abs=ATOL)


def test_contrastive_loss_without_bank_rows_is_plain_mean():
    """bank_written but zero rows drawn: no empty-slice mean, L = mean(ce) over the N batch rows."""
    head, local, global_, bl, bg = contrastive_inputs(k=0, seed=2)
    got = contrastive_loss(head, local, global_, bl, bg, 0.2, True)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(hand_contrastive(head, local, global_, bl, bg, 0.2, False), abs=ATOL)


def test_contrastive_loss_gradients_flow_through_local_branch_only():
    """P_g is detached: global features get no gradient; local features and the head do."""
    head, local, global_, bl, bg = contrastive_inputs(seed=3)
    loss = contrastive_loss(head, local, global_, bl, bg, 0.2, True)
    g_local, g_global, g_w, g_b = torch.autograd.grad(loss, [local, global_, head.weight, head.bias],
                                                      allow_unused=True)
    assert g_global is None or torch.count_nonzero(g_global) == 0
    assert g_local is not None and g_local.abs().sum() > 0
    assert g_w.abs().sum() > 0 and g_b.abs().sum() > 0


# -- memory bank --------------------------------------------------------------------------------

def rows_of(values, width=2):
    return torch.tensor([[float(v)] * width for v in values])


def test_memory_bank_ring_buffer_wraps_around():
    """Writes go to (written + i) mod size; later rows overwrite the oldest."""
    bank = MemoryBank(5, 2, CPU)
    bank.add(rows_of([0, 1, 2]))
    bank.add(rows_of([3, 4, 5, 6]))
    assert bank.written == 7 and bank.available == 5
    assert torch.equal(bank.rows, rows_of([5, 6, 2, 3, 4]))


def test_memory_bank_available_equals_written_until_full():
    """available = written while written < size, then size."""
    bank = MemoryBank(8, 2, CPU)
    assert bank.available == 0 and bank.draw(4).shape == (0, 2)
    seen = []
    for count in (3, 4, 1, 2):
        bank.add(torch.randn(count, 2))
        seen.append(bank.available)
    assert seen == [3, 7, 8, 8]


@pytest.mark.parametrize("chunks", [(8,), (5, 3)])
def test_memory_bank_filled_exactly_once_draws_rows(chunks):
    """bank_size 8, 8 rows written: available 8 and draw(4) gives 4 real rows (the reference draws 0: NaN)."""
    bank = MemoryBank(8, 2, CPU)
    start = 0
    for c in chunks:
        bank.add(rows_of(range(start, start + c)))
        start += c
    assert bank.written == 8 and bank.available == 8
    drawn = bank.draw(4)
    assert drawn.shape == (4, 2)
    values = drawn[:, 0].tolist()
    assert len(set(values)) == 4 and set(values) <= set(map(float, range(8)))
    head, local, global_, _, _ = contrastive_inputs(n=3, d=1)
    loss = contrastive_loss(head, local, global_, drawn[:, :1], drawn[:, 1:], 0.2, bank.written > 0)
    assert torch.isfinite(loss)
    assert loss.item() == pytest.approx(hand_contrastive(head, local, global_, drawn[:, :1], drawn[:, 1:], 0.2,
                                                         True), abs=ATOL)


def test_memory_bank_draw_is_capped_and_without_replacement():
    """draw(k) returns min(k, available) distinct rows from the written part only."""
    torch.manual_seed(0)
    bank = MemoryBank(8, 2, CPU)
    bank.add(rows_of([10, 11, 12]))
    drawn = bank.draw(10)
    assert drawn.shape == (3, 2)
    assert sorted(drawn[:, 0].tolist()) == [10.0, 11.0, 12.0]  # all three, no unwritten zero rows
    bank.add(rows_of(range(20, 30)))  # wrapped: all 8 slots hold data
    for _ in range(5):
        drawn = bank.draw(6)
        assert drawn.shape == (6, 2)
        assert len(set(drawn[:, 0].tolist())) == 6
    assert bank.draw(0).shape == (0, 2)


# -- full rounds --------------------------------------------------------------------------------

def test_bank_filled_exactly_by_one_round_gives_finite_losses(task, monkeypatch):
    """bank_size = one round's rows: round 1 draws those 4 rows as negatives and its losses are finite."""
    drawn = []
    real = methods.cmi.contrastive_loss

    def recording(head, local, global_, bank_local, bank_global, T, written):
        drawn.append((bank_local.shape[0], written))
        return real(head, local, global_, bank_local, bank_global, T, written)

    monkeypatch.setattr(methods.cmi, "contrastive_loss", recording)
    synth = make_synth(task, bank_size=4)
    first = synth.synthesize(0)
    assert synth.bank.written == 4 and synth.bank.available == 4
    assert drawn == [(0, False), (0, False)]
    second = synth.synthesize(1)
    assert drawn[2:] == [(4, True), (4, True)]
    for result in (first, second):
        assert result.images.shape == (4, 1, 16, 16)
        assert all(torch.isfinite(v) for v in result.losses.values()), result.losses
    assert second.losses["cr"].item() > 0
    assert synth.bank.written == 8 and torch.isfinite(synth.bank.rows).all()


def test_bank_rows_are_best_iterate_local_and_global_features(task):
    """After a round the bank holds N rows of width 2D = [local 320 | global 320]."""
    synth = make_synth(task, g_steps=1)
    synth.synthesize(0)
    assert synth.bank.rows.shape == (64, 640)
    assert synth.bank.written == 4
    assert torch.count_nonzero(synth.bank.rows[:4].abs().sum(1)) == 4
    assert torch.count_nonzero(synth.bank.rows[4:]) == 0
    assert isinstance(synth.head[0], nn.Linear) and synth.head[0].in_features == 320
    assert synth.head[2].out_features == 8


# -- instance features --------------------------------------------------------------------------

def test_instance_features_are_spatial_means_of_bn_inputs(task):
    """cnn_large: D = 32+32+64+64+128 = 320, each entry the H x W mean of that BN layer's input."""
    torch.manual_seed(0)
    teacher = task.build_model("cnn_large").eval()
    features = InstanceFeatures(teacher)
    bn_inputs = []
    for m in teacher.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(lambda m, i, o: bn_inputs.append(i[0].detach()))
    x = torch.randn(3, 1, 16, 16)
    with torch.no_grad():
        logits, feats = features.collect(lambda: teacher(x))
    assert logits.shape == (3, 10)
    assert [a.shape[1] for a in bn_inputs] == [32, 32, 64, 64, 128]
    assert feats.shape == (3, 320)
    expected = torch.cat([a.sum(dim=(2, 3)) / (a.shape[2] * a.shape[3]) for a in bn_inputs], dim=1)
    torch.testing.assert_close(feats, expected, atol=ATOL, rtol=0)
    # Forwards outside collect() record nothing.
    with torch.no_grad():
        teacher(x)
    assert len(features.values) == 5


class Tiny(nn.Module):
    """Two convs and a BN; naming the convs as the feature modules leaves the BN unhooked."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.conv2 = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv2(torch.relu(self.bn(self.conv1(x)))).mean(dim=(2, 3))


def test_instance_features_use_the_given_modules_inputs():
    """Given feature modules, the hooks read those modules' inputs: [mean(x) | mean(conv2 input)]."""
    torch.manual_seed(0)
    model = Tiny().eval()
    features = InstanceFeatures(model, [model.conv1, model.conv2])
    x = torch.randn(2, 2, 5, 5)
    with torch.no_grad():
        out, feats = features.collect(lambda: model(x))
        conv2_input = torch.relu(model.bn(model.conv1(x)))
    assert feats.shape == (2, 2 + 3)
    expected = torch.cat([x.sum(dim=(2, 3)) / 25, conv2_input.sum(dim=(2, 3)) / 25], dim=1)
    torch.testing.assert_close(feats, expected, atol=ATOL, rtol=0)
    assert out.shape == (2, 4)


# -- cr = 0, reset and head persistence ----------------------------------------------------------

def test_cr_zero_skips_head_bank_and_local_forward(task):
    """cr=0: no head, no bank, one teacher forward per step, and synthesize works (the reference crashes)."""
    synth = make_synth(task, cr=0.0, g_steps=3)
    calls = []
    synth.teacher.register_forward_hook(lambda m, i, o: calls.append(1))
    for round_idx in range(2):
        result = synth.synthesize(round_idx)
        assert result.images.shape == (4, 1, 16, 16)
        assert result.losses["cr"].item() == 0.0
        assert all(torch.isfinite(v) for v in result.losses.values())
    assert synth.head is None and synth.bank is None
    assert len(calls) == 2 * 3
    assert "head" not in synth.state_dict()


def test_generator_fully_reset_each_round_and_head_persists(task, monkeypatch):
    """reset_all(generator) once per synthesize; the head is the same object and keeps training."""
    resets = []
    real_reset = methods.cmi.reset_all

    def counting(model):
        real_reset(model)
        resets.append((model, model.l1[0].bias.detach().clone(), model.conv_blocks[0].bias.detach().clone()))

    monkeypatch.setattr(methods.cmi, "reset_all", counting)
    synth = make_synth(task)
    synth.synthesize(0)
    assert len(resets) == 1 and resets[0][0] is synth.generator
    head = synth.head
    head_params = [p.detach().clone() for p in head.parameters()]
    generator_after_0 = [p.detach().clone() for p in synth.generator.parameters()]
    assert torch.count_nonzero(generator_after_0[1]) > 0  # l1 bias moved during round 0
    synth.synthesize(1)
    assert len(resets) == 2 and resets[1][0] is synth.generator
    for _, l1_bias, bn_bias in resets:  # right after the reset: biases are zero again
        assert torch.count_nonzero(l1_bias) == 0 and torch.count_nonzero(bn_bias) == 0
    assert synth.head is head
    assert any(not torch.equal(a, b) for a, b in zip(head_params, head.parameters()))
    steps = {int(s["step"]) for s in synth.head_optimizer.state.values()}
    assert steps == {2 * synth.config.g_steps}


# -- config ----------------------------------------------------------------------------------------

def test_config_defaults_match_spec(task):
    """docs/methods.md#cmi/docs/methods.md#decision-cmi-bank-boundary defaults; deviations mention the memory-bank
    fix and CMI-500."""
    c = CMIConfig()
    assert (c.g_steps, c.lr_g, c.adv, c.bn, c.oh) == (500, 1e-3, 0.5, 1.0, 1.0)
    assert (c.cr, c.cr_T, c.bank_size, c.n_neg, c.head_dim) == (0.8, 0.2, 40960, 4096, 256)
    assert (c.nz, c.ngf, c.T, c.kd_steps, c.ep_steps, c.batch_size, c.lr) == (256, 64, 20.0, 400, 400, 256, 0.1)
    notes = CMISynthesizer.deviations(c, task)
    assert any("memory bank" in n for n in notes)
    assert any("CMI-500" in n for n in notes)
    released = CMISynthesizer.deviations(CMIConfig(g_steps=200), task)
    assert not any("CMI-500" in n for n in released) and any("memory bank" in n for n in released)


# -- random resized crop ---------------------------------------------------------------------------

def test_random_resized_crop_keeps_shape():
    """Output shape equals input shape, for square and non-square images."""
    torch.manual_seed(0)
    for shape in [(4, 3, 8, 8), (2, 1, 6, 10)]:
        assert random_resized_crop(torch.rand(*shape)).shape == shape


def test_random_resized_crop_full_square_crop_is_identity():
    """scale (1, 1), ratio (1, 1) on a square image: the whole image (align_corners=True identity)."""
    torch.manual_seed(0)
    x = torch.rand(3, 2, 7, 7)
    out = random_resized_crop(x, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    torch.testing.assert_close(out, x, atol=ATOL, rtol=0)


def test_random_resized_crop_passes_gradients():
    """Gradients reach the input; for the identity crop each pixel gets gradient 1."""
    torch.manual_seed(0)
    x = torch.rand(2, 1, 8, 8, requires_grad=True)
    random_resized_crop(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    y = torch.rand(2, 1, 8, 8, requires_grad=True)
    random_resized_crop(y, scale=(1.0, 1.0), ratio=(1.0, 1.0)).sum().backward()
    torch.testing.assert_close(y.grad, torch.ones_like(y), atol=ATOL, rtol=0)
