"""The CIFAR model zoo (docs/methods.md#cifar-architectures): CIFAR ResNet-18/34, VGG-11-BN and WRN-d-w.

Module names follow the reference state_dict key layout exactly, so that checkpoints trained by
the reference code (after stripping a DataParallel ``module.`` prefix) load without renaming.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def _init_conv_he(module: nn.Module) -> None:
    """The VGG/WRN conv init: N(0, sqrt(2 / (k*k*out_channels))), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                m.bias.data.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()


# -- ResNet (CIFAR, DAFL version) ----------------------------------------------------------------

class BasicBlock(nn.Module):
    """Post-activation residual block; the shortcut has parameters only where the shape changes."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet for 32x32 inputs: 3x3 stem without max-pool, four stages, global average pooling."""

    def __init__(self, num_blocks: tuple[int, int, int, int], num_classes: int = 10) -> None:
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(64, num_blocks[0], 1)
        self.layer2 = self._make_layer(128, num_blocks[1], 2)
        self.layer3 = self._make_layer(256, num_blocks[2], 2)
        self.layer4 = self._make_layer(512, num_blocks[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(512, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for s in [stride] + [1] * (blocks - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def stages(self) -> list[nn.Module]:
        """The modules whose outputs are the stages' feature maps, shallow to deep."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def forward(self, x: Tensor, return_features: bool = False):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        features = self.avgpool(out).flatten(1)
        logits = self.linear(features)
        return (logits, features) if return_features else logits


def resnet18(num_classes: int = 10) -> ResNet:
    """Student of pairs 1 and 2."""
    return ResNet((2, 2, 2, 2), num_classes)


def resnet34(num_classes: int = 10) -> ResNet:
    """Teacher of pair 1."""
    return ResNet((3, 4, 6, 3), num_classes)


# -- VGG-11-BN (RepDistiller version) ------------------------------------------------------------

class VGG(nn.Module):
    """VGG with BN in five conv groups; each group's last ReLU is applied in ``forward`` (the
    reference's layout, which fixes the ``blockG.i`` indices)."""

    def __init__(self, cfg: list[list[int]], num_classes: int = 10) -> None:
        super().__init__()
        cin = 3
        for g, widths in enumerate(cfg):
            layers: list[nn.Module] = []
            for cout in widths:
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
                cin = cout
            setattr(self, f"block{g}", nn.Sequential(*layers[:-1]))
        self.pool0 = nn.MaxPool2d(2)
        self.pool1 = nn.MaxPool2d(2)
        self.pool2 = nn.MaxPool2d(2)
        self.pool3 = nn.MaxPool2d(2)
        self.pool4 = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)
        _init_conv_he(self)
        self.classifier.weight.data.normal_(0, 0.01)
        self.classifier.bias.data.zero_()

    def stages(self) -> list[nn.Module]:
        """The five conv groups (their outputs before the group's last ReLU), shallow to deep."""
        return [self.block0, self.block1, self.block2, self.block3, self.block4]

    def forward(self, x: Tensor, return_features: bool = False):
        h = x.shape[2]
        x = self.pool0(torch.relu(self.block0(x)))
        x = self.pool1(torch.relu(self.block1(x)))
        x = self.pool2(torch.relu(self.block2(x)))
        x = torch.relu(self.block3(x))
        if h == 64:  # the fourth pool only runs for 64x64 inputs, as in the reference
            x = self.pool3(x)
        x = self.pool4(torch.relu(self.block4(x)))
        features = x.flatten(1)
        logits = self.classifier(features)
        return (logits, features) if return_features else logits


def vgg11(num_classes: int = 10) -> VGG:
    """Teacher of pair 2 (VGG-11 with BN)."""
    return VGG([[64], [128], [256, 256], [512, 512], [512, 512]], num_classes)


# -- WRN-d-w (ZSKT version) ----------------------------------------------------------------------

class WRNBlock(nn.Module):
    """Pre-activation block; when channels change, the pre-activated input also feeds the 1x1
    shortcut (so only then does the raw input bypass the residual add)."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, stride=1, padding=1, bias=False)
        self.equal_in_out = in_planes == out_planes
        if not self.equal_in_out:
            self.convShortcut = nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        preact = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(preact))))  # dropout rate 0: omitted
        return (x if self.equal_in_out else self.convShortcut(preact)) + out


class WRNStage(nn.Module):
    """A stage of ``n`` blocks, kept under ``layer`` for the reference key layout."""

    def __init__(self, n: int, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.layer = nn.Sequential(
            *[WRNBlock(in_planes if i == 0 else out_planes, out_planes, stride if i == 0 else 1) for i in range(n)]
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-depth-width for 32x32 inputs: stem conv, three pre-activation stages, final BN-ReLU."""

    def __init__(self, depth: int, widen_factor: int, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        ch = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.conv1 = nn.Conv2d(3, ch[0], 3, stride=1, padding=1, bias=False)
        self.block1 = WRNStage(n, ch[0], ch[1], 1)
        self.block2 = WRNStage(n, ch[1], ch[2], 2)
        self.block3 = WRNStage(n, ch[2], ch[3], 2)
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch[3], num_classes)
        _init_conv_he(self)
        self.fc.bias.data.zero_()

    def stages(self) -> list[nn.Module]:
        """The three pre-activation stages, shallow to deep (ZSKT's attention points)."""
        return [self.block1, self.block2, self.block3]

    def forward(self, x: Tensor, return_features: bool = False):
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        features = self.avgpool(torch.relu(self.bn1(out))).flatten(1)
        logits = self.fc(features)
        return (logits, features) if return_features else logits


def wrn16_1(num_classes: int = 10) -> WideResNet:
    """Student of pair 3."""
    return WideResNet(16, 1, num_classes)


def wrn16_2(num_classes: int = 10) -> WideResNet:
    """Student of pair 5."""
    return WideResNet(16, 2, num_classes)


def wrn40_1(num_classes: int = 10) -> WideResNet:
    """Student of pair 4."""
    return WideResNet(40, 1, num_classes)


def wrn40_2(num_classes: int = 10) -> WideResNet:
    """Teacher of pairs 3 to 5."""
    return WideResNet(40, 2, num_classes)


ARCHS: dict[str, Callable[[int], nn.Module]] = {
    "resnet18": resnet18,
    "resnet34": resnet34,
    "vgg11": vgg11,
    "wrn16_1": wrn16_1,
    "wrn16_2": wrn16_2,
    "wrn40_1": wrn40_1,
    "wrn40_2": wrn40_2,
}


def build(arch: str, num_classes: int) -> nn.Module:
    """Build a zoo model by registry name; unknown names fail with the list of known ones."""
    try:
        builder = ARCHS[arch]
    except KeyError:
        raise ValueError(f"unknown CIFAR arch {arch!r}; known: {sorted(ARCHS)}") from None
    return builder(num_classes)
