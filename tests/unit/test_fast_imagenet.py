"""FastDFKD's ImageNet synthesizer against docs/methods.md#fast-imagenet-variant: the latent-map
generator's layout, the last iterate kept, the adversarial term from round 0, Reptile without the
x67 factor on both the generator and the persistent latent (each at its own meta rate), the
re-draw every ``reinit`` rounds, a resume that continues exactly, and where it may run."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from harness.core.errors import BenchError
from harness.engine.plan import make_task, plan_runs
from methods.fast_imagenet import FastImageNetConfig, FastImageNetSynthesizer
from methods.generators import DeepGenerator

CPU = torch.device("cpu")


def test_the_generator_reads_a_latent_map_through_four_upsampling_stages():
    generator = DeepGenerator(nz=8, ngf=4, img_size=64)
    assert generator.latent_shape(5) == (5, 8, 4, 4)  # 14x14 at 224 px
    layers = list(generator.conv_blocks)
    convs = [m for m in layers if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(8, 8), (8, 8), (8, 4), (4, 4), (4, 4), (4, 3)]
    assert sum(isinstance(m, nn.Upsample) for m in layers) == 4 and not any(isinstance(m, nn.Linear)
                                                                               for m in generator.modules())
    assert isinstance(layers[-1], nn.Sigmoid) and sum(isinstance(m, nn.BatchNorm2d) for m in layers) == 5
    images = generator(torch.randn(generator.latent_shape(5)))
    assert images.shape == (5, 3, 64, 64) and 0 < images.min() and images.max() < 1
    assert DeepGenerator(img_size=224).latent_shape(1) == (1, 256, 14, 14)


def make_synthesizer(seed: int = 0, **fields) -> FastImageNetSynthesizer:
    torch.manual_seed(seed)
    task = make_task("imagenet:image_size=32")
    teacher, student = task.build_model("resnet18").eval(), task.build_model("resnet18")
    config = FastImageNetConfig(**{"g_steps": 3, "synthesis_batch_size": 4, "nz": 8, "ngf": 8, **fields})
    return FastImageNetSynthesizer(teacher, student, task, config, CPU)


def test_a_round_keeps_its_last_iterate_and_runs_the_adversarial_term_from_round_zero():
    synth = make_synthesizer()
    outputs, student_calls = [], []
    synth.round_generator.register_forward_hook(lambda m, i, out: outputs.append(out.detach().clone()))
    synth.student.register_forward_hook(lambda m, i, out: student_calls.append(1))
    result = synth.synthesize(0)
    assert len(outputs) == 3 and torch.equal(result.images, outputs[-1])
    assert not torch.equal(outputs[0], outputs[-1])  # the inner steps changed the images
    assert len(student_calls) == 3  # the adversarial term, in every step of the first round


def test_reptile_moves_generator_and_latent_towards_the_adapted_ones_at_their_own_rates():
    synth = make_synthesizer(lr_g_meta=1e-3, lr_z_meta=5e-2)
    meta_before = [p.detach().clone() for p in synth.generator.parameters()]
    z_before = synth.z.detach().clone()
    synth.synthesize(0)
    for before, meta, adapted in zip(meta_before, synth.generator.parameters(), synth.round_generator.parameters()):
        assert torch.equal(meta.grad, before - adapted.detach())  # theta - theta'_k: no x67
    assert torch.equal(synth.z.grad, z_before - synth.round_z.detach())
    # Adam's first step moves each entry by its learning rate (where the gradient is far above eps).
    assert (synth.z - z_before).abs().max().item() == pytest.approx(5e-2, rel=1e-3)
    weight = next(synth.generator.parameters())
    assert (weight - meta_before[0]).abs().max().item() == pytest.approx(1e-3, rel=1e-3)


def test_the_latent_persists_across_rounds_and_is_redrawn_with_the_meta_optimiser_every_reinit_rounds():
    synth = make_synthesizer(reinit=2)
    starts = []
    synth.round_generator.register_forward_pre_hook(lambda m, inputs: starts.append(inputs[0].detach().clone()))
    latents = []
    for round_idx in range(3):
        synth.synthesize(round_idx)
        latents.append(synth.z.detach().clone())
    per_round = starts[::3]
    assert torch.equal(per_round[1], latents[0])  # round 1 adapts from the meta-learned latent
    assert not torch.allclose(per_round[2], latents[1], atol=0.5)  # round 2 (= reinit) starts from new noise
    steps = {int(state["step"]) for state in synth.meta_optimizer.state.values()}
    assert steps == {1}  # a new meta-optimiser at round 2, stepped once since


def test_a_restored_synthesizer_continues_exactly():
    first = make_synthesizer(seed=1)
    first.synthesize(0)
    state = copy.deepcopy(first.state_dict())  # as a checkpoint file holds it: not the live tensors
    rng = torch.get_rng_state()
    expected = first.synthesize(1).images
    second = make_synthesizer(seed=2)  # what a resumed run builds: its own draws, the run's networks
    second.teacher.load_state_dict(first.teacher.state_dict())
    second.student.load_state_dict(first.student.state_dict())
    second.load_state_dict(state)
    torch.set_rng_state(rng)
    assert torch.equal(second.synthesize(1).images, expected)


def test_it_runs_on_imagenet_only_with_the_released_logs_settings():
    with pytest.raises(BenchError, match="method 'fast50_imagenet' runs only on task imagenet, not digits. "
                                         "Methods that do: "):
        plan_runs("fast50_imagenet", "digits")
    paper = plan_runs("fast50_imagenet", "imagenet", pairs="resnet50-resnet50,resnet50-resnet18", budget="paper")
    r50, r18 = (cell.config for cell in paper)
    assert (r50.g_steps, r50.lr_g, r50.lr_z, r50.lr_g_meta, r50.lr_z_meta) == (50, 2e-4, 0.01, 1e-4, 5e-3)
    assert (r50.bn, r50.oh, r50.adv, r50.T, r50.batch_size, r50.kd_steps, r50.ep_steps, r50.epochs) == (
        0.1, 0.1, 0.1, 5.0, 100, 100, 1000, 400)
    assert (r50.reinit, r50.bn_mmt, r50.lr, r50.schedule().warmup) == (50, 0.9, 0.1, 0)
    assert (r18.adv, r18.lr) == (0.01, 0.01)
    assert paper[1].resolved.sources["adv"] == paper[1].resolved.sources["lr"] == "pair"
    task = make_task("imagenet:image_size=40")
    with pytest.raises(BenchError, match="a multiple of 16 .* not 40: e.g. imagenet:image_size=32"):
        FastImageNetSynthesizer(task.build_model("resnet18"), task.build_model("resnet18"), task,
                                FastImageNetConfig(), CPU)
