"""Differentiable, per-sample augmentations on device (docs/methods.md#synthesis-augmentations).

Written by hand because torchvision's v2 transforms draw one set of parameters per call, while
the reference (kornia, ``same_on_batch=False``) draws crop and flip parameters per sample.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_crop(x: Tensor, padding: int) -> Tensor:
    """Random crop back to the input size after zero padding, each sample its own offset."""
    if padding <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy).expand(n, h, w)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx).expand(n, h, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_hflip(x: Tensor, p: float = 0.5) -> Tensor:
    """Flip each sample horizontally with probability ``p``."""
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < p
    return torch.where(flip, x.flip(3), x)


def jitter_flip(x: Tensor, max_shift: int, hflip: bool) -> Tensor:
    """DeepInversion's jitter: one circular shift (and one flip) for the whole batch."""
    dx, dy = torch.randint(-max_shift, max_shift + 1, (2,)).tolist()
    out = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if hflip and torch.rand(()) < 0.5:
        out = out.flip(3)
    return out


def random_resized_crop(x: Tensor, scale: tuple[float, float] = (0.25, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> Tensor:
    """Per-sample random resized crop back to the input size (CMI's local view,
    docs/methods.md#synthesis-augmentations).

    Area fraction uniform in ``scale``, log aspect ratio uniform in ``ratio``; boxes that would
    not fit are clamped to the image (torchvision retries instead). Bilinear sampling with
    ``align_corners=True``, kornia's default, through ``grid_sample`` so gradients reach ``x``.
    """
    n, _, h, w = x.shape
    device = x.device
    area = torch.empty(n, device=device).uniform_(*scale) * h * w
    log_ratio = torch.empty(n, device=device).uniform_(math.log(ratio[0]), math.log(ratio[1]))
    aspect = log_ratio.exp()
    crop_w = (area * aspect).sqrt().clamp(1, w)
    crop_h = (area / aspect).sqrt().clamp(1, h)
    x0 = torch.rand(n, device=device) * (w - crop_w)
    y0 = torch.rand(n, device=device) * (h - crop_h)
    steps_x = torch.linspace(0, 1, w, device=device)
    steps_y = torch.linspace(0, 1, h, device=device)
    px = x0[:, None] + steps_x[None] * (crop_w[:, None] - 1)  # input pixel coordinates
    py = y0[:, None] + steps_y[None] * (crop_h[:, None] - 1)
    gx = 2 * px / (w - 1) - 1
    gy = 2 * py / (h - 1) - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
