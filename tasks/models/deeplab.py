"""DeepLabV3 segmentation models for NYUv2 (docs/methods.md#nyuv2-models,
docs/methods.md#decision-segmentation-kd "Segmentation models").

Both are assembled from torchvision parts and never download weights unless asked to:

* ``deeplabv3_resnet50``: torchvision's DeepLabV3-ResNet-50 (output stride 8, ASPP rates
  12/24/36), no auxiliary head: 39,636,813 parameters at 13 classes.
* ``deeplabv3_mobilenetv2`` (alias ``deeplabv3_mobilenet``): MobileNetV2 ``features[:-1]``
  (320 channels) made output-stride 8 with dilated depthwise convolutions, plus torchvision's
  ``DeepLabHead(320, num_classes)``: 5,111,821 parameters at 13 classes.

Like the classifiers, ``forward(x, return_features=False)`` returns the logits, here upsampled
bilinearly to the input size, ``(N, K, H, W)``; with ``return_features=True`` it also returns the
penultimate feature vector: the global average of the input to the head's final 1x1 conv
(256 channels). State-dict keys are torchvision's (``backbone.*``, ``classifier.*``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn


class DeepLabV3(nn.Module):
    """A backbone (a tensor, or torchvision's ``{"out": tensor}``) followed by a DeepLab head whose
    last layer is the 1x1 classifier conv; the logits are upsampled to the input size."""

    def __init__(self, backbone: nn.Module, classifier: nn.Sequential) -> None:
        super().__init__()
        self.backbone = backbone
        self.classifier = classifier

    def forward(self, x: Tensor, return_features: bool = False):
        out = self.backbone(x)
        if isinstance(out, dict):
            out = out["out"]
        *body, last = self.classifier
        for layer in body:
            out = layer(out)
        logits = F.interpolate(last(out), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return (logits, out.mean(dim=(2, 3))) if return_features else logits


def deeplabv3_resnet50(num_classes: int = 13, pretrained_backbone: bool = False) -> DeepLabV3:
    """The NYUv2 teacher. ``pretrained_backbone`` loads torchvision's ImageNet ResNet-50 (download)."""
    from torchvision.models import ResNet50_Weights
    from torchvision.models.segmentation import (
        deeplabv3_resnet50 as tv_deeplabv3_resnet50,
    )

    weights_backbone = ResNet50_Weights.IMAGENET1K_V1 if pretrained_backbone else None
    model = tv_deeplabv3_resnet50(weights=None, weights_backbone=weights_backbone, num_classes=num_classes,
                                  aux_loss=False)
    return DeepLabV3(model.backbone, model.classifier)


def _dilate(features: nn.Sequential, output_stride: int) -> nn.Sequential:
    """Replace each stride-2 stage that would take the stride past ``output_stride`` by a stride-1
    stage whose 3x3 convolutions (this block's and every later one's) are dilated instead."""
    stride, dilation = 1, 1
    for block in features:
        convs = [m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
        step = max((m.stride[0] for m in convs), default=1)
        if step > 1 and stride * step > output_stride:
            dilation *= step
            for conv in convs:
                conv.stride = (1, 1)
        else:
            stride *= step
        if dilation > 1:
            for conv in convs:
                conv.dilation = (dilation, dilation)
                conv.padding = (dilation, dilation)
    return features


def deeplabv3_mobilenetv2(num_classes: int = 13, pretrained_backbone: bool = False) -> DeepLabV3:
    """The NYUv2 student: output-stride-8 MobileNetV2 features (320 channels) + DeepLabHead."""
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2
    from torchvision.models.segmentation.deeplabv3 import DeepLabHead

    weights = MobileNet_V2_Weights.IMAGENET1K_V1 if pretrained_backbone else None
    backbone = _dilate(mobilenet_v2(weights=weights).features[:-1], output_stride=8)
    return DeepLabV3(backbone, DeepLabHead(320, num_classes))


ARCHS: dict[str, Callable[..., nn.Module]] = {
    "deeplabv3_resnet50": deeplabv3_resnet50,
    "deeplabv3_mobilenetv2": deeplabv3_mobilenetv2,
    "deeplabv3_mobilenet": deeplabv3_mobilenetv2,  # the reference's registry name (docs/methods.md#nyuv2-models)
}


def build(arch: str, num_classes: int, pretrained_backbone: bool = False) -> nn.Module:
    """Build a segmentation model by registry name; unknown names fail with the known ones."""
    try:
        builder = ARCHS[arch]
    except KeyError:
        raise ValueError(f"unknown segmentation arch {arch!r}; known: {sorted(ARCHS)}") from None
    return builder(num_classes, pretrained_backbone=pretrained_backbone)
