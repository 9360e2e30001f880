"""Small U-Net-like encoder-decoders for the embedded digits-seg task (1x32x32 inputs).

Only Conv/BN/ReLU, max-pooling and bilinear upsampling: every 3x3 convolution is followed by a
BatchNorm, so BN-statistics losses see many layers. The last layer is a 1x1 classifier conv.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _block(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 conv-BN-ReLU layers."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder stages at full, 1/2, 1/4 ... resolution (``widths`` channels each, the last one the
    bottleneck), a decoder that upsamples x2 and concatenates the matching encoder output, then a
    1x1 conv to per-pixel logits at input resolution. Inputs must be divisible by 2^(stages-1).

    ``forward(x, return_features=True)`` also returns the global-average-pooled output of the last
    decoder block, the layer before the classifier conv (``widths[0]`` features).
    """

    def __init__(self, widths: tuple[int, ...], num_classes: int = 11, in_channels: int = 1) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError("a U-Net needs at least two stages")
        self.encoders = nn.ModuleList()
        cin = in_channels
        for width in widths:
            self.encoders.append(_block(cin, width))
            cin = width
        self.pool = nn.MaxPool2d(2)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.decoders = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.decoders.append(_block(cin + width, width))
            cin = width
        self.classifier = nn.Conv2d(cin, num_classes, 1)

    def forward(self, x: Tensor, return_features: bool = False):
        skips = []
        for i, encoder in enumerate(self.encoders):
            if i > 0:
                x = self.pool(x)
            x = encoder(x)
            skips.append(x)
        skips.pop()  # the bottleneck output is x itself
        for decoder in self.decoders:
            x = decoder(torch.cat([self.up(x), skips.pop()], dim=1))
        logits = self.classifier(x)
        return (logits, x.mean(dim=(2, 3))) if return_features else logits


def unet_large(num_classes: int = 11, in_channels: int = 1) -> UNet:
    """The digits-seg teacher: about 185k parameters."""
    return UNet((20, 40, 80), num_classes, in_channels)


def unet_small(num_classes: int = 11, in_channels: int = 1) -> UNet:
    """The digits-seg student: about 12.5k parameters, a fifteenth of the teacher."""
    return UNet((8, 12, 14), num_classes, in_channels)
