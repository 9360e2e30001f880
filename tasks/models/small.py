"""Small BatchNorm CNNs for the embedded digits task (1x16x16 inputs)."""

from __future__ import annotations

from torch import Tensor, nn


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Stages of 3x3 conv-BN-ReLU blocks with 2x2 max-pooling between stages, then global
    average pooling and a linear classifier. ``stages`` lists the channel widths per stage."""

    def __init__(self, stages: tuple[tuple[int, ...], ...], num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        self._stage_ends: list[int] = []  # index in ``features`` of each stage's last ReLU
        cin = in_channels
        for i, widths in enumerate(stages):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            for cout in widths:
                layers += _conv_bn(cin, cout)
                cin = cout
            self._stage_ends.append(len(layers) - 1)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def stages(self) -> list[nn.Module]:
        """The modules whose outputs are the stages' feature maps, shallow to deep."""
        return [self.features[i] for i in self._stage_ends]

    def forward(self, x: Tensor, return_features: bool = False):
        features = self.pool(self.features(x)).flatten(1)
        logits = self.fc(features)
        return (logits, features) if return_features else logits


def cnn_large(num_classes: int = 10, in_channels: int = 1) -> SmallCNN:
    """The digits teacher."""
    return SmallCNN(((32, 32), (64, 64), (128,)), num_classes, in_channels)


def cnn_small(num_classes: int = 10, in_channels: int = 1) -> SmallCNN:
    """The digits student: about a sixth of the teacher's parameters."""
    return SmallCNN(((16,), (32,), (64,)), num_classes, in_channels)
