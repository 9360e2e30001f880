"""harness.core.losses against hand computations of docs/methods.md#loss-building-blocks and §3."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.core.losses import (
    BNStatistics,
    jensen_shannon_adversarial,
    kd_loss,
    masked_adversarial,
    total_variation,
)


def toy_net():
    """Two BN layers with hand-set, non-trivial running statistics; eval mode."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4))
    with torch.no_grad():
        net[1].running_mean.copy_(torch.tensor([0.3, -0.2, 0.5]))
        net[1].running_var.copy_(torch.tensor([1.5, 0.7, 2.0]))
        net[4].running_mean.copy_(torch.tensor([0.1, 0.2, -0.4, 0.0]))
        net[4].running_var.copy_(torch.tensor([0.9, 1.1, 0.4, 3.0]))
        net[1].weight.copy_(torch.tensor([1.2, 0.8, -0.5]))
        net[1].bias.copy_(torch.tensor([0.1, -0.3, 0.2]))
    return net.eval()


def bn_inputs(net, x):
    """The inputs of the two BN layers, computed by running the sub-layers by hand."""
    a1 = net[0](x)
    a2 = net[3](net[2](net[1](a1)))
    return [a1, a2]


def channel_stats(a):
    """Per-channel mean and biased variance (a different code path from the source)."""
    flat = a.transpose(0, 1).reshape(a.shape[1], -1)
    return flat.mean(dim=1), flat.var(dim=1, unbiased=False)


def hand_bn_loss(net, stats):
    total = 0.0
    for layer, (mean, var) in zip((net[1], net[4]), stats):
        total += (torch.sqrt(((layer.running_var - var) ** 2).sum())
                  + torch.sqrt(((layer.running_mean - mean) ** 2).sum()))
    return total


def test_bn_loss_matches_hand_computation():
    """L_bn = sum over BN layers of ||v - var(input)||_2 + ||m - mean(input)||_2
    (docs/methods.md#bn-statistics-loss)."""
    net = toy_net()
    x = torch.randn(5, 2, 6, 6) * 2 + 0.5
    bn = BNStatistics(net)
    with bn.capture():
        net(x)
    with torch.no_grad():
        expected = hand_bn_loss(net, [channel_stats(a) for a in bn_inputs(net, x)])
    assert len(bn.layers) == 2
    assert bn.loss().item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-5)


def test_bn_loss_is_differentiable_in_the_input():
    """The loss carries a gradient back to the input batch."""
    net = toy_net()
    x = torch.randn(4, 2, 6, 6, requires_grad=True)
    bn = BNStatistics(net)
    with bn.capture():
        net(x)
    bn.loss().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_momentum_buffers_and_blended_loss():
    """Buffers: first stats, then 0.9*buf + 0.1*stats; loss uses (1-beta)*cur + beta*buf
    (docs/methods.md#momentum-bn-loss)."""
    net = toy_net()
    bn = BNStatistics(net, momentum=0.9)
    x1, x2, x3 = (torch.randn(4, 2, 6, 6) + k for k in range(3))

    with bn.capture():
        net(x1)
    s1 = bn.snapshot()
    # Before any update the plain loss is used.
    with torch.no_grad():
        plain = hand_bn_loss(net, [channel_stats(a) for a in bn_inputs(net, x1)])
    assert bn.loss().item() == pytest.approx(plain.item(), rel=1e-5)
    bn.update_momentum(s1)
    for (bm, bv), (m, v) in zip(bn.buffers, s1):
        torch.testing.assert_close(bm, m)
        torch.testing.assert_close(bv, v)

    with bn.capture():
        net(x2)
    s2 = bn.snapshot()
    bn.update_momentum(s2)
    with torch.no_grad():
        h1 = [channel_stats(a) for a in bn_inputs(net, x1)]
        h2 = [channel_stats(a) for a in bn_inputs(net, x2)]
    expected_buffers = [(0.9 * m1 + 0.1 * m2, 0.9 * v1 + 0.1 * v2) for (m1, v1), (m2, v2) in zip(h1, h2)]
    for (bm, bv), (em, ev) in zip(bn.buffers, expected_buffers):
        torch.testing.assert_close(bm, em, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(bv, ev, atol=1e-5, rtol=1e-5)

    with bn.capture():
        net(x3)
    with torch.no_grad():
        h3 = [channel_stats(a) for a in bn_inputs(net, x3)]
        blended = [(0.1 * m3 + 0.9 * bm, 0.1 * v3 + 0.9 * bv) for (m3, v3), (bm, bv) in zip(h3, expected_buffers)]
        expected = hand_bn_loss(net, blended)
    assert bn.loss().item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-5)


def test_momentum_zero_never_creates_buffers():
    """With beta = 0 update_momentum is a no-op and the plain loss is used throughout."""
    net = toy_net()
    bn = BNStatistics(net, momentum=0.0)
    with bn.capture():
        net(torch.randn(3, 2, 6, 6))
    bn.update_momentum(bn.snapshot())
    assert bn.buffers is None


def test_snapshot_is_detached():
    """Snapshots (and therefore the buffers) carry no gradient."""
    net = toy_net()
    bn = BNStatistics(net, momentum=0.9)
    with bn.capture():
        net(torch.randn(3, 2, 6, 6, requires_grad=True))
    assert all(not m.requires_grad and not v.requires_grad for m, v in bn.snapshot())


def test_hooks_record_nothing_outside_capture():
    """Forwards outside capture() record no statistics; loss() then raises RuntimeError."""
    net = toy_net()
    bn = BNStatistics(net)
    net(torch.randn(3, 2, 6, 6))
    with pytest.raises(RuntimeError, match="BN statistics missing"):
        bn.loss()


def test_forward_outside_capture_does_not_overwrite_stats():
    """A KD-style forward after a capture leaves the captured statistics untouched."""
    net = toy_net()
    bn = BNStatistics(net)
    x = torch.randn(3, 2, 6, 6)
    with bn.capture():
        net(x)
    before = bn.loss().item()
    net(torch.randn(3, 2, 6, 6) * 5 + 3)
    assert bn.loss().item() == before


def test_new_capture_clears_old_stats_and_remove_detaches():
    """Entering capture() forgets the previous statistics; remove() unhooks the layers."""
    net = toy_net()
    bn = BNStatistics(net)
    with bn.capture():
        net(torch.randn(3, 2, 6, 6))
    with bn.capture():
        pass
    with pytest.raises(RuntimeError):
        bn.loss()
    bn.remove()
    with bn.capture():
        net(torch.randn(3, 2, 6, 6))
    with pytest.raises(RuntimeError):
        bn.loss()


def test_kd_kl_2d_matches_torch_batchmean():
    """kd_loss kl = T^2 * KL(softmax(t/T) || softmax(s/T)), batchmean, for (N, C) logits."""
    torch.manual_seed(1)
    s, t, T = torch.randn(7, 5) * 3, torch.randn(7, 5) * 3, 4.0
    expected = T * T * F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean")
    assert kd_loss(s, t, "kl", T).item() == pytest.approx(expected.item(), rel=1e-5)
    assert kd_loss(t, t, "kl", T).item() == pytest.approx(0.0, abs=1e-6)


def test_kd_kl_4d_is_per_pixel_kl_averaged_over_pixels():
    """For (N, C, H, W) logits: KL summed over classes, averaged over N*H*W."""
    torch.manual_seed(2)
    s, t, T = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 3, 5), 1.0
    total = 0.0
    for n in range(2):
        for h in range(3):
            for w in range(5):
                p = F.softmax(t[n, :, h, w] / T, dim=0)
                log_r = F.log_softmax(s[n, :, h, w] / T, dim=0)
                total += (p * (p.log() - log_r)).sum().item()
    expected = T * T * total / (2 * 3 * 5)
    assert kd_loss(s, t, "kl", T).item() == pytest.approx(expected, rel=1e-5)


def test_kd_l1_is_mean_absolute_difference():
    """kd_loss l1 = mean |s - t| (DFAD), independent of T."""
    s = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    t = torch.tensor([[0.0, 0.0], [1.5, 1.0]])
    assert kd_loss(s, t, "l1", T=20.0).item() == pytest.approx((1 + 2 + 1 + 2) / 4)


def test_masked_adversarial_matches_hand_loop():
    """-(1/N) sum over samples whose argmaxes agree of KL(t || s) at T = 1 (docs/methods.md#masked-adversarial-loss)."""
    torch.manual_seed(3)
    s = torch.randn(6, 4)
    t = torch.randn(6, 4)
    # Force the first three samples to agree and the last three to disagree.
    for i in range(6):
        s[i, i % 4] += 10
        t[i, i % 4 if i < 3 else (i + 1) % 4] += 10
    total = 0.0
    agreeing = 0
    for i in range(6):
        if s[i].argmax() == t[i].argmax():
            agreeing += 1
            p = torch.softmax(t[i], 0)
            total += sum(p[c].item() * (math.log(p[c].item()) - math.log(torch.softmax(s[i], 0)[c].item()))
                         for c in range(4))
    assert agreeing == 3
    expected = -total / 6
    assert masked_adversarial(s, t).item() == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_masked_adversarial_has_no_stop_gradient():
    """Gradients reach both the student and the teacher logits."""
    s = torch.tensor([[2.0, 0.0, 1.0]], requires_grad=True)
    t = torch.tensor([[3.0, 1.0, 0.0]], requires_grad=True)
    masked_adversarial(s, t).backward()
    assert s.grad.abs().sum() > 0 and t.grad.abs().sum() > 0


def test_masked_adversarial_is_zero_when_nothing_agrees():
    s = torch.tensor([[5.0, 0.0], [0.0, 5.0]])
    t = torch.tensor([[0.0, 5.0], [5.0, 0.0]])
    assert masked_adversarial(s, t).item() == 0.0


def test_jensen_shannon_matches_spec_formula():
    """-(1/2)(KL(M||P) + KL(M||Q)) with P, Q, M clamped to [0.01, 0.99], T = 3 (docs/methods.md#deepinversion)."""
    torch.manual_seed(4)
    s = torch.randn(5, 4) * 10  # large logits so that the clamps are active
    t = torch.randn(5, 4) * 10
    T = 3.0
    n, k = s.shape
    kl_p = kl_q = 0.0
    for i in range(n):
        P = torch.softmax(s[i] / T, 0).tolist()
        Q = torch.softmax(t[i] / T, 0).tolist()
        for c in range(k):
            m = min(max((P[c] + Q[c]) / 2, 0.01), 0.99)
            p = min(max(P[c], 0.01), 0.99)
            q = min(max(Q[c], 0.01), 0.99)
            kl_p += m * (math.log(m) - math.log(p))
            kl_q += m * (math.log(m) - math.log(q))
    expected = -0.5 * (kl_p / n + kl_q / n)
    assert jensen_shannon_adversarial(s, t).item() == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # The temperature matters: T = 1 gives a different value.
    assert jensen_shannon_adversarial(s, t, T=1.0).item() != pytest.approx(expected, rel=1e-3)


def test_total_variation_matches_hand_computation():
    """Horizontal, vertical and both diagonal absolute differences, each averaged (docs/methods.md#image-priors)."""
    torch.manual_seed(5)
    x = torch.randn(2, 2, 3, 4)
    n, c, h, w = x.shape
    v = x.tolist()
    sums = [0.0, 0.0, 0.0, 0.0]
    counts = [0, 0, 0, 0]
    for a in range(n):
        for b in range(c):
            for i in range(h):
                for j in range(w):
                    if j + 1 < w:
                        sums[0] += abs(v[a][b][i][j] - v[a][b][i][j + 1])
                        counts[0] += 1
                    if i + 1 < h:
                        sums[1] += abs(v[a][b][i][j] - v[a][b][i + 1][j])
                        counts[1] += 1
                    if i + 1 < h and j + 1 < w:
                        sums[2] += abs(v[a][b][i + 1][j] - v[a][b][i][j + 1])
                        counts[2] += 1
                        sums[3] += abs(v[a][b][i][j] - v[a][b][i + 1][j + 1])
                        counts[3] += 1
    expected = sum(s / k for s, k in zip(sums, counts))
    assert total_variation(x).item() == pytest.approx(expected, rel=1e-5)
    assert total_variation(torch.full((1, 1, 4, 4), 0.7)).item() == 0.0
