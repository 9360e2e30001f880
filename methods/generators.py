"""Generator networks (docs/methods.md#generators) and their re-initialisation routines."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Generator(nn.Module):
    """The reference "Generator" (G32), sized by task: nz, ngf, image size and channels.

    With ``nz=256, ngf=64, img_size=32, channels=3`` the state-dict keys and shapes are exactly the
    reference's (``l1.0``, ``conv_blocks.0`` ... ``conv_blocks.10``). ``width`` = 2 gives G32,
    4 gives G32-Large (first stage twice as wide).
    """

    def __init__(self, nz: int = 256, ngf: int = 64, img_size: int = 32, channels: int = 3,
                 width: int = 2) -> None:
        super().__init__()
        self.nz = nz
        self.init_size = img_size // 4
        first = width * ngf
        self.l1 = nn.Sequential(nn.Linear(nz, first * self.init_size ** 2))
        self.conv_blocks = nn.Sequential(
            nn.BatchNorm2d(first),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(first, 2 * ngf, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(2 * ngf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(2 * ngf, ngf, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ngf, channels, 3, stride=1, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, z: Tensor) -> Tensor:
        out = self.l1(z)
        out = out.view(out.shape[0], -1, self.init_size, self.init_size)
        return self.conv_blocks(out)


class DCGANGenerator(nn.Module):
    """The reference's DCGAN_Generator (docs/methods.md#generators), for large images such as NYUv2's 128x128.

    A linear map to ``8*ngf`` maps at 1/16 resolution, four transposed-convolution stages and a
    sigmoid. Its first two modules are named like G32's (``l1.0``, ``conv_blocks.0``), so the
    partial reset of Fast-k applies unchanged. ``tanh=True`` is DFAD's "GeneratorB"
    (docs/methods.md#data-free-segmentation):
    the same layout with a tanh output, which DFAD reads as an image normalised with mean and std
    0.5, so ``(tanh + 1) / 2`` is that image in [0, 1]; DFAD initialises it with ``reset_all``.
    """

    def __init__(self, nz: int = 256, ngf: int = 64, img_size: int = 128, channels: int = 3,
                 tanh: bool = False) -> None:
        super().__init__()
        self.nz = nz
        self.init_size = img_size // 16
        self.l1 = nn.Sequential(nn.Linear(nz, 8 * ngf * self.init_size ** 2))
        widths = [8 * ngf, 4 * ngf, 2 * ngf, ngf, ngf]
        blocks: list[nn.Module] = [nn.BatchNorm2d(widths[0])]
        for cin, cout in zip(widths, widths[1:]):
            blocks += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.LeakyReLU(0.2, inplace=True)]
        blocks += [nn.Conv2d(ngf, channels, 3, padding=1), nn.Tanh() if tanh else nn.Sigmoid()]
        self.conv_blocks = nn.Sequential(*blocks)
        self.tanh = tanh
        if tanh:
            reset_all(self)

    def forward(self, z: Tensor) -> Tensor:
        out = self.l1(z)
        out = self.conv_blocks(out.view(out.shape[0], -1, self.init_size, self.init_size))
        return (out + 1) / 2 if self.tanh else out


class DeepGenerator(nn.Module):
    """FastDFKD's ImageNet generator (docs/methods.md#fast-imagenet-variant): a latent *map* in, no linear layer.

    The latent is ``N x nz x (size/16) x (size/16)`` (14x14 at 224 px): a 3x3 convolution to ``2*ngf``
    maps, then four stages of (upsample x2, 3x3 convolution, BN, LeakyReLU) with widths
    2ngf -> 2ngf -> ngf -> ngf -> ngf, then a 3x3 convolution to the image and a sigmoid. Keeping
    space in the latent lets a meta-learned latent carry layout, which a vector cannot at 224 px.
    """

    def __init__(self, nz: int = 256, ngf: int = 64, img_size: int = 224, channels: int = 3) -> None:
        super().__init__()
        if img_size % 16:
            raise ValueError(f"the ImageNet generator upsamples x16: image size {img_size} is not a multiple of 16")
        self.nz = nz
        self.latent_size = img_size // 16
        widths = [2 * ngf, 2 * ngf, ngf, ngf, ngf]
        blocks: list[nn.Module] = [nn.Conv2d(nz, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]),
                                   nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in zip(widths, widths[1:]):
            blocks += [nn.Upsample(scale_factor=2), nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                       nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        blocks += [nn.Conv2d(ngf, channels, 3, padding=1), nn.Sigmoid()]
        self.conv_blocks = nn.Sequential(*blocks)

    def latent_shape(self, n: int) -> tuple[int, int, int, int]:
        return n, self.nz, self.latent_size, self.latent_size

    def forward(self, z: Tensor) -> Tensor:
        return self.conv_blocks(z)


def make_generator(kind: str, nz: int, ngf: int, image_shape: tuple[int, int, int]) -> nn.Module:
    """``g32`` / ``large`` (G32 and G32-Large, docs/methods.md#generators), ``dcgan`` or DFAD's ``dfad`` at the
    task's image shape."""
    channels, height, _ = image_shape
    if kind in ("dcgan", "dfad"):
        return DCGANGenerator(nz, ngf, height, channels, tanh=kind == "dfad")
    return Generator(nz, ngf, height, channels, width=4 if kind == "large" else 2)


@torch.no_grad()
def normal_in_logical_order(weight: Tensor, mean: float, std: float) -> None:
    """``nn.init.normal_`` fills memory in storage order, so a channels_last weight would get the
    same draws in other places: drawn into a contiguous tensor and copied, the values are those of
    the default layout, and a seed gives the same generator in every memory format."""
    weight.copy_(torch.empty(weight.shape, dtype=weight.dtype, device=weight.device).normal_(mean, std))


@torch.no_grad()
def reset_all(model: nn.Module) -> None:
    """Full reset ("reset_model", CMI): conv/linear N(0, 0.02) and bias 0; BN weight N(1, 0.02)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            normal_in_logical_order(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@torch.no_grad()
def reset_first_layers(generator: Generator) -> None:
    """Partial reset ("reset_l0", fast_meta): ``l1.0`` and ``conv_blocks.0``.

    The BN weight is drawn from N(0, 0.02), mean 0 not 1: that is what the reference does.
    """
    linear, bn = generator.l1[0], generator.conv_blocks[0]
    nn.init.normal_(linear.weight, 0.0, 0.02)
    nn.init.zeros_(linear.bias)
    nn.init.normal_(bn.weight, 0.0, 0.02)
    nn.init.zeros_(bn.bias)
