"""harness.core.config and harness.engine.plan: layering with provenance, schedules, errors, grid keys
(docs/methods.md#decision-config-layering)."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.core.config import DistillConfig, Schedule, resolve
from harness.core.errors import BenchError
from harness.engine.plan import plan_runs
from methods.fast import FastMetaConfig, FastMetaSynthesizer
from tasks.digits import Digits

ROOT = Path(__file__).resolve().parents[2]


def one(*args, **kwargs):
    cells = plan_runs(*args, **kwargs)
    assert len(cells) == 1
    return cells[0]


def test_layers_record_their_source():
    """fast5 on digits: epochs from the budget, nz from the task, g_steps from the method preset."""
    cell = one("fast5", "digits")
    cfg, src = cell.config, cell.resolved.sources
    assert cell.budget == "quick"  # the digits default
    assert (cfg.epochs, src["epochs"]) == (44, "budget")
    assert (cfg.nz, src["nz"]) == (64, "task")
    assert (cfg.g_steps, src["g_steps"]) == (5, "method default")
    assert (cfg.lr_g, src["lr_g"]) == (3e-3, "method default")
    assert cell.variant == "fast5"
    assert cell.resolved.overridden() == {}


def test_variant_and_set_layers_win_and_are_deviations():
    cell = one("fast5:g_steps=3", "digits", sets=("lr=0.05",))
    cfg, src = cell.config, cell.resolved.sources
    assert (cfg.g_steps, src["g_steps"]) == (3, "variant")
    assert (cfg.lr, src["lr"]) == (0.05, "--set")
    assert cell.variant == "fast5:g_steps=3"
    assert cell.resolved.overridden() == {"g_steps": 3, "lr": 0.05}
    assert "g_steps=3 (variant)" in cell.deviations
    assert "lr=0.05 (--set)" in cell.deviations


def test_set_overrides_variant():
    """--set is the last layer: it beats the variant for the same field."""
    cell = one("fast5:g_steps=3", "digits", sets=("g_steps=4",))
    assert (cell.config.g_steps, cell.resolved.sources["g_steps"]) == (4, "--set")


def test_budget_overrides_task_and_method():
    cell = one("fast5", "digits", budget="smoke")
    cfg, src = cell.config, cell.resolved.sources
    assert (cfg.g_steps, src["g_steps"]) == (2, "budget")
    assert (cfg.epochs, src["epochs"]) == (2, "budget")
    assert (cfg.nz, src["nz"]) == (64, "task")


def test_resolve_applies_layers_in_order():
    """Later layers win; each field's source is the last layer that set it."""
    resolved = resolve(DistillConfig, [("method default", {"lr": 0.3}), ("task", {"lr": 0.2, "T": 4}),
                                       ("budget", {"epochs": "7"})])
    assert resolved.config.lr == 0.2 and resolved.sources["lr"] == "task"
    assert resolved.config.T == 4.0 and isinstance(resolved.config.T, float)
    assert resolved.config.epochs == 7 and resolved.sources["epochs"] == "budget"
    assert resolved.sources["batch_size"] == "method default"


def test_schedule_of_paper_settings():
    """epochs 220 with warmup 20/220 -> warmup 20, 200 KD epochs, one round per epoch."""
    sched = DistillConfig(epochs=220, warmup_frac=20 / 220, kd_steps=400, ep_steps=400).schedule()
    assert sched == Schedule(epochs=220, warmup=20, rounds_per_epoch=1, kd_epochs=200)


def test_schedule_scales_and_keeps_one_kd_epoch():
    assert DistillConfig(epochs=44, warmup_frac=20 / 220).schedule().warmup == 4
    assert DistillConfig(epochs=2, warmup_frac=0.99).schedule().warmup == 1  # at least one KD epoch
    assert DistillConfig(kd_steps=40, ep_steps=120).schedule().rounds_per_epoch == 3


def test_fast_meta_reset_round_with_paper_settings():
    """The partial reset happens at ep 140 = 20 warmup + 120 of 200 KD epochs
    (docs/methods.md#fast-meta-partial-reset)."""
    cell = one("fast5", "digits", budget="paper", sets=("nz=8", "ngf=4"))
    assert cell.config.epochs == 220
    task = Digits()
    synth = FastMetaSynthesizer(task.build_model("cnn_large").eval(), task.build_model("cnn_small"), task,
                                cell.config, torch.device("cpu"))
    assert synth.reset_round == 140


def test_set_field_applies_only_to_methods_that_have_it():
    """--set select=best reaches deepinv and is silently skipped for fast5."""
    fast, deepinv = plan_runs("fast5,deepinv", "digits", sets=("select=best",))
    assert fast.method == "fast5" and deepinv.method == "deepinv"
    assert not hasattr(fast.config, "select")
    assert "select" not in fast.resolved.sources
    assert deepinv.config.select == "best"
    assert deepinv.resolved.sources["select"] == "--set"


def test_grid_expands_pairs_and_seeds():
    cells = plan_runs("fast5,deepinv", "digits", seeds="0,3")
    assert [(c.method, c.seed) for c in cells] == [("fast5", 0), ("fast5", 3), ("deepinv", 0), ("deepinv", 3)]
    assert cells[0].run_name == "fast5/s0/cnn_large-cnn_small"


@pytest.mark.parametrize("kwargs, message", [
    (dict(sets=("nope=1",)), "unknown config field 'nope' in --set: no selected method has it. Valid: "),
    (dict(sets=("lr",)), "malformed --set 'lr': expected field=value"),
    (dict(sets=("lr=",)), "malformed --set 'lr=': expected field=value"),
    (dict(methods="fast5:g_steps"), "malformed variant field in 'fast5:g_steps', 'g_steps': expected field=value"),
    (dict(methods="fast5:g_steps=abc"), "invalid value 'abc' for g_steps: expected int"),
    (dict(sets=("g_steps=2.5",)), "invalid value '2.5' for g_steps: expected int"),
    (dict(methods="fast5:g_steps=0"), "invalid value 0 for g_steps: must be >= 1"),
    (dict(sets=("batch_size=0",)), "invalid value 0 for batch_size: must be >= 1"),
    (dict(sets=("kd_loss=l2",)), "invalid value 'l2' for kd_loss. Valid: kl, l1"),
    (dict(budget="huge"), "unknown budget 'huge'. Valid: paper, quick, smoke"),
    (dict(pairs="resnet-vgg"), "unknown pair for task digits 'resnet-vgg'. Valid: cnn_large-cnn_small"),
    (dict(methods="fast6"), "unknown method 'fast6'. Did you mean 'fast5'? Valid: "),
    (dict(methods="deepinvv"), "unknown method 'deepinvv'. Did you mean 'deepinv'?"),
    (dict(seeds="a,b"), "malformed seed list 'a,b': expected comma-separated integers"),
    (dict(methods="fast5,"), "malformed method list 'fast5,'"),
    (dict(task_name="digitz"), "unknown task 'digitz'. Did you mean 'digits'? Valid: cifar10"),
    (dict(methods="fast5:select=best"), "unknown config field 'select' for FastMetaConfig (from variant)"),
])
def test_bad_input_raises_bench_error(kwargs, message):
    """Every user mistake is a BenchError with a one-line, specific message."""
    args = {"methods": "fast5", "task_name": "digits", **kwargs}
    with pytest.raises(BenchError) as info:
        plan_runs(**args)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_grid_key_is_stable_and_distinguishes_cells():
    key = one("fast5", "digits").grid_key
    assert key == one("fast5", "digits").grid_key
    assert len(key) == 16
    assert key != one("fast5", "digits", seeds="1").grid_key
    assert key != one("fast5", "digits", budget="smoke").grid_key
    assert key != one("fast5", "digits", sets=("lr=0.05",)).grid_key
    assert key != one("fast10", "digits").grid_key


def test_grid_key_ignores_variant_field_order():
    a = one("fast5:g_steps=3:lr_g=0.01", "digits")
    b = one("fast5:lr_g=0.01:g_steps=3", "digits")
    assert a.variant == b.variant == "fast5:g_steps=3:lr_g=0.01"
    assert a.grid_key == b.grid_key


def test_grid_key_is_independent_of_process_and_device():
    """A fresh process with no visible GPU and another working directory computes the same key."""
    key = one("fast5", "digits", seeds="2").grid_key
    code = "from harness.engine.plan import plan_runs; print(plan_runs('fast5', 'digits', seeds='2')[0].grid_key)"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONHASHSEED": "123"}
    result = subprocess.run([sys.executable, "-c", code], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == key


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FastMetaConfig().g_steps = 3
