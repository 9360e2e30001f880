"""tasks.models.cifar: parameter counts, shapes, state_dict key layout and CMI widths
(docs/methods.md#cifar-architectures, docs/methods.md#cmi-feature-dimensions)."""

import io
from functools import cache

import pytest
import torch
from torch import nn

from methods.cmi import InstanceFeatures
from tasks.cifar import Cifar10
from tasks.models.cifar import ARCHS, build

NAMES = ["resnet18", "resnet34", "vgg11", "wrn16_1", "wrn16_2", "wrn40_1", "wrn40_2"]

PARAMS = {  # arch: (10 classes, 100 classes)
    "resnet34": (21_282_122, 21_328_292),
    "resnet18": (11_173_962, 11_220_132),
    "vgg11": (9_231_114, 9_277_284),
    "wrn40_2": (2_243_546, 2_255_156),
    "wrn40_1": (563_930, 569_780),
    "wrn16_2": (691_674, 703_284),
    "wrn16_1": (175_066, 180_916),
}
FEATURE_WIDTH = {"resnet18": 512, "resnet34": 512, "vgg11": 512,
                 "wrn16_1": 64, "wrn16_2": 128, "wrn40_1": 64, "wrn40_2": 128}
BN_LAYERS = {"resnet34": 36, "vgg11": 8, "wrn40_2": 37, "resnet18": 20, "wrn16_1": 13}

RESNET_KEYS = ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
               "bn1.num_batches_tracked", "layer2.0.conv1.weight", "layer2.0.shortcut.0.weight",
               "layer2.0.shortcut.1.weight", "linear.weight", "linear.bias"]
VGG_KEYS = ["block0.0.weight", "block0.0.bias", "block0.1.running_var", "block2.0.weight", "block2.1.weight",
            "block2.3.weight", "block2.4.bias", "classifier.weight", "classifier.bias"]
WRN_KEYS = ["conv1.weight", "block1.layer.0.bn1.weight", "block1.layer.0.conv1.weight",
            "block1.layer.0.bn2.running_mean", "block1.layer.0.conv2.weight",
            "block2.layer.0.convShortcut.weight", "bn1.weight", "fc.weight", "fc.bias"]




@cache
def model10(arch):
    torch.manual_seed(0)
    return build(arch, 10).eval()


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("arch", NAMES)
def test_parameter_counts(arch):
    """Parameter counts match the reference exactly for 10 and 100 classes."""
    assert n_params(model10(arch)) == PARAMS[arch][0]
    assert n_params(build(arch, 100)) == PARAMS[arch][1]


@pytest.mark.parametrize("arch", NAMES)
def test_forward_shapes_and_features(arch):
    """A (2,3,32,32) batch gives (2,K) logits and, on request, the penultimate feature vector."""
    model = model10(arch)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
        logits2, features = model(x, return_features=True)
    assert logits.shape == (2, 10)
    assert features.shape == (2, FEATURE_WIDTH[arch])
    torch.testing.assert_close(logits, logits2, atol=0, rtol=0)


@pytest.mark.parametrize("arch", NAMES)
def test_state_dict_key_layout(arch):
    """The state_dict carries the reference key names, and parameter-free shortcuts leave no keys."""
    keys = set(model10(arch).state_dict())
    if arch.startswith("resnet"):
        assert set(RESNET_KEYS) <= keys
        assert "layer1.0.shortcut.0.weight" not in keys
    elif arch == "vgg11":
        assert set(VGG_KEYS) <= keys
        assert not any(k.startswith("pool") for k in keys)
    else:
        assert set(WRN_KEYS) <= keys
        widen = int(arch.split("_")[1])
        assert ("block1.layer.0.convShortcut.weight" in keys) == (widen != 1)
        assert "block2.layer.1.convShortcut.weight" not in keys


@pytest.mark.parametrize("arch", NAMES)
def test_state_dict_round_trip(arch):
    """A checkpoint saved as {'state_dict': sd} loads with weights_only into a fresh model, same outputs."""
    torch.manual_seed(1)
    source = build(arch, 10)
    source.train()
    with torch.no_grad():  # move the BN running statistics away from their defaults
        source(torch.randn(2, 3, 32, 32))
    source.eval()
    buffer = io.BytesIO()
    torch.save({"state_dict": source.state_dict()}, buffer)
    buffer.seek(0)
    torch.manual_seed(2)
    target = build(arch, 10)
    target.load_state_dict(torch.load(buffer, weights_only=True)["state_dict"])
    target.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(target(x), source(x), atol=0, rtol=0)


@pytest.mark.parametrize("arch", sorted(BN_LAYERS))
def test_batchnorm_layer_counts(arch):
    """The number of BatchNorm2d layers the L_bn hooks see matches docs/methods.md#bn-statistics-loss."""
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model10(arch).modules()) == BN_LAYERS[arch]


@pytest.mark.parametrize("arch,width", [("resnet34", 512), ("wrn40_2", 2704), ("vgg11", 2752)])
def test_cmi_feature_width(arch, width):
    """CMI's instance features have the docs/methods.md#cmi-feature-dimensions width: stage inputs for resnet34,
    BN inputs otherwise."""
    model = build(arch, 10).eval()  # a fresh model: InstanceFeatures leaves its hooks registered
    modules = Cifar10().feature_modules(model)
    if arch == "resnet34":
        assert modules == [model.layer1, model.layer2, model.layer3, model.layer4]
        assert sum(m[0].conv1.in_channels for m in modules) == width
    else:
        assert modules is None
        assert sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d)) == width
    features = InstanceFeatures(model, modules)
    with torch.no_grad():
        _, feats = features.collect(lambda: model(torch.randn(2, 3, 32, 32)))
    assert feats.shape == (2, width)


def test_vgg11_fourth_pool_only_for_64x64():
    """vgg11 skips pool3 on 32x32 inputs and applies it on 64x64 ones (both end in 512 features)."""
    model = model10("vgg11")
    seen = []
    handle = model.pool3.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[-1]))
    try:
        with torch.no_grad():
            model(torch.randn(2, 3, 32, 32))
            assert seen == []
            _, features = model(torch.randn(2, 3, 64, 64), return_features=True)
    finally:
        handle.remove()
    assert seen == [8] and features.shape == (2, 512)


def test_build_registry():
    """ARCHS lists the seven zoo names and build rejects unknown ones."""
    assert sorted(ARCHS) == sorted(NAMES)
    with pytest.raises(ValueError, match="unknown CIFAR arch"):
        build("resnet50", 10)
