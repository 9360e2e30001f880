"""tasks.models.deeplab: parameter counts, output and feature shapes, output stride
(docs/methods.md#nyuv2-models, docs/methods.md#decisions)."""

from functools import cache

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tasks.models.deeplab import ARCHS, DeepLabV3, build

PARAMS = {"deeplabv3_resnet50": 39_636_813, "deeplabv3_mobilenetv2": 5_111_821}




@cache
def model13(arch):
    torch.manual_seed(0)
    return build(arch, 13)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("arch", sorted(PARAMS))
def test_parameter_counts_match_the_reference(arch):
    assert n_params(model13(arch)) == PARAMS[arch]


def test_alias_resolves_to_the_same_builder():
    assert ARCHS["deeplabv3_mobilenet"] is ARCHS["deeplabv3_mobilenetv2"]
    assert n_params(build("deeplabv3_mobilenet", 13)) == PARAMS["deeplabv3_mobilenetv2"]


def test_unknown_arch_lists_the_known_ones():
    with pytest.raises(ValueError, match="deeplabv3_resnet50"):
        build("deeplabv3_resnet101", 13)


def test_teacher_forward_in_train_mode_gives_logits_and_pooled_features():
    """One forward at batch 2 (the ASPP image-pooling BN needs >= 2 samples in train mode)."""
    model = model13("deeplabv3_resnet50").train()
    logits, features = model(torch.rand(2, 3, 128, 128), return_features=True)
    assert logits.shape == (2, 13, 128, 128)
    assert features.shape == (2, 256)
    assert not hasattr(model, "aux_classifier")


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_student_forward_shapes(train):
    model = model13("deeplabv3_mobilenetv2").train(train)
    x = torch.rand(2, 3, 128, 128)
    logits = model(x)
    assert logits.shape == (2, 13, 128, 128)
    logits, features = model(x, return_features=True)
    assert logits.shape == (2, 13, 128, 128)
    assert features.shape == (2, 256)


def test_features_are_the_mean_of_the_final_convs_input_and_logits_are_upsampled():
    model = model13("deeplabv3_mobilenetv2").eval()
    seen = {}
    handle = model.classifier[-1].register_forward_pre_hook(lambda module, args: seen.update(x=args[0]))
    x = torch.rand(2, 3, 72, 96)
    try:
        with torch.no_grad():
            logits, features = model(x, return_features=True)
            expected = F.interpolate(model.classifier(model.backbone(x)), size=(72, 96), mode="bilinear",
                                     align_corners=False)
    finally:
        handle.remove()
    assert seen["x"].shape[1] == 256
    assert torch.allclose(features, seen["x"].mean(dim=(2, 3)))
    assert torch.allclose(logits, expected, atol=1e-5)


def test_student_backbone_has_output_stride_8_with_dilation():
    model = model13("deeplabv3_mobilenetv2")
    assert isinstance(model, DeepLabV3)
    with torch.no_grad():
        assert model.eval().backbone(torch.zeros(1, 3, 64, 64)).shape == (1, 320, 8, 8)
    depthwise = [[m for m in block.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)][-1]
                 for block in model.backbone[1:]]
    strides = [m.stride[0] for m in depthwise]
    dilations = [m.dilation[0] for m in depthwise]
    assert strides == [1, 2, 1, 2, 1, 1] + [1] * 11  # features[1..17]: only the 1/4 and 1/8 stages downsample
    assert dilations == [1] * 6 + [2] * 7 + [4] * 4  # features[7..13] dilation 2, features[14..17] dilation 4
    assert all(m.padding[0] == m.dilation[0] for m in depthwise)
