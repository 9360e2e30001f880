"""Cells whose settings come from a specific reference script resolve to that script's values,
and their deviation notes say which script (a term-by-term review against the method spec)."""

from __future__ import annotations

import pytest

from harness.engine.plan import plan_runs


def test_dfq_on_cifar100_resnet34_follows_ref_cmis_script():
    cell = plan_runs("dfq", "cifar100", pairs="resnet34-resnet18")[0]
    c = cell.config
    assert (c.lr, c.T, c.kd_steps, c.ep_steps, c.g_steps, c.lr_g) == (0.05, 1.0, 10, 400, 1, 1e-3)
    assert (c.adv, c.bn, c.oh, c.balance, c.epochs) == (1.0, 1.0, 1.0, 20.0, 200)
    assert cell.resolved.sources["lr"] == "pair"
    assert any("REF-CMI's DFQ ResNet-34 script" in note for note in cell.deviations)
    assert not any("no reference settings" in note for note in cell.deviations)


def test_other_baseline_cells_keep_the_wrn_fallback_and_say_so():
    cell = plan_runs("dfq", "cifar10", pairs="resnet34-resnet18")[0]
    assert cell.config.lr == 0.1
    assert any("no reference settings" in note for note in cell.deviations)


def test_dfad_on_nyuv2_follows_dfads_own_code():
    cell = plan_runs("dfad", "nyuv2")[0]
    c = cell.config
    assert (c.generator, c.nz, c.ngf, c.beta1, c.lr_g, c.sample_mode) == ("dfad", 256, 64, 0.9, 1e-3, "train")
    assert (c.lr_schedule, c.lr_step_gamma, c.epochs, c.ep_steps, c.kd_steps, c.batch_size) == \
        ("step", 0.3, 300, 250, 5, 64)
    assert (c.lr, c.momentum, c.weight_decay, c.kd_loss, c.adv_loss) == (0.1, 0.9, 5e-5, "l1", "log_l1")
    notes = " ".join(cell.deviations)
    assert "DFAD-REPO's NYUv2 script" in notes and "no reference code" not in notes
    assert "REF-FAST parity" not in notes


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)`")
def test_the_step_schedule_decays_student_and_generator_every_third_of_the_kd_epochs():
    import torch

    from harness.core.timing import Stopwatch
    from harness.engine.distill import Distiller
    from methods.generative import GenerativeSynthesizer
    from tasks.digits import Digits

    cell = plan_runs("dfad", "digits", budget="smoke", sets=("lr_schedule=step", "epochs=9"))[0]
    task = Digits()
    teacher, student = task.build_model("cnn_large"), task.build_model("cnn_small")
    cpu = torch.device("cpu")
    synthesizer = GenerativeSynthesizer(teacher, student, task, cell.config, cpu)
    distiller = Distiller(synthesizer, teacher, student, task, cell.config, cpu, None, Stopwatch(cpu))
    rates = []
    for _ in range(9):
        rates.append((distiller.optimizer.param_groups[0]["lr"], synthesizer.optimizer.param_groups[0]["lr"]))
        distiller.scheduler.step()
        synthesizer.end_kd_epoch()
    student_rates = [round(s, 6) for s, _ in rates]
    assert student_rates == [0.1] * 3 + [0.03] * 3 + [0.009] * 3
    assert [round(g, 8) for _, g in rates] == [1e-3] * 3 + [3e-4] * 3 + [9e-5] * 3


def test_dfads_generator_layout_tanh_output_and_init():
    import torch
    from torch import nn

    from methods.generators import make_generator

    torch.manual_seed(0)
    generator = make_generator("dfad", 256, 64, (3, 128, 128))
    linear = generator.l1[0]
    assert tuple(linear.weight.shape) == (512 * 8 * 8, 256)
    convt = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding) for m in convt] == \
        [(512, 256, (4, 4), (2, 2), (1, 1)), (256, 128, (4, 4), (2, 2), (1, 1)),
         (128, 64, (4, 4), (2, 2), (1, 1)), (64, 64, (4, 4), (2, 2), (1, 1))]
    assert isinstance(generator.conv_blocks[-1], nn.Tanh)
    weights = torch.cat([m.weight.detach().flatten() for m in generator.modules()
                         if isinstance(m, (nn.Conv2d, nn.Linear))])
    assert abs(float(weights.mean())) < 1e-3 and abs(float(weights.std()) - 0.02) < 1e-3
    bn = torch.cat([m.weight.detach() for m in generator.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(float(bn.mean()) - 1) < 0.01 and abs(float(bn.std()) - 0.02) < 0.005
    images = generator(torch.randn(2, 256))
    assert images.shape == (2, 3, 128, 128) and 0 <= float(images.min()) and float(images.max()) <= 1
