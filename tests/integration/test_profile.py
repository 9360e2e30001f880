"""``bench profile`` on the digits shapes with random weights: every method and operation is
timed, and the figures keep the methods' cost order (many-step inversion far above Fast-5)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.engine.profile import profile


def test_profile_figures(cpu):
    figures = profile("digits", None, "fast5,deepinv,cmi,dafl", cpu, batch_size=8)
    by_name = {(f.name, f.operation.split(" ")[0]): f for f in figures}
    assert {name for name, _ in by_name} == {"fast5", "deepinv", "cmi", "dafl", "-"}
    assert all(f.seconds > 0 and f.peak_mb > 0 for f in figures)
    fast5, deepinv = by_name[("fast5", "round")], by_name[("deepinv", "round")]
    # DeepInv's round is 2,000 steps against Fast-5's 5: per image it must cost far more.
    assert deepinv.seconds / deepinv.images >= 20 * fast5.seconds / fast5.images
    assert deepinv.projected_paper_h > fast5.projected_paper_h > 0
    # Measured at batch 8, projected to the paper's run (220 rounds of 256 images), not to 220 x 8.
    assert fast5.projected_paper_h == pytest.approx(fast5.seconds / 8 * 220 * 256 / 3600)
    assert by_name[("dafl", "sample")].projected_paper_h is None
    # FLOPs counted for every operation; achieved FLOP/s as a fraction of the measured matmul peak.
    assert all(f.flops > 0 and f.device_flops_per_s > 0 and 0 < f.peak_fraction < 5 for f in figures)
    # DeepInv's extrapolated round counts 2,000 steps' FLOPs, Fast-5's round 5 steps and a meta-step.
    assert deepinv.flops / deepinv.images > 100 * fast5.flops / fast5.images


def test_profile_command_prints_a_table():
    outcome = CliRunner().invoke(cli, ["profile", "--task", "digits", "--methods", "fast2", "--batch-size", "4",
                                       "--device", "cpu"])
    assert outcome.exit_code == 0, outcome.output
    assert "| fast2" in outcome.stdout and "KD step" in outcome.stdout


def test_profile_under_bf16_prints_its_precision_and_peak():
    outcome = CliRunner().invoke(cli, ["profile", "--task", "digits", "--methods", "fast2", "--batch-size", "4",
                                       "--device", "cpu", "--precision", "bf16"])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.startswith("digits on cpu, bf16, batch 4")
    assert "dense matmul peak measured" in outcome.stdout and "% of peak" in outcome.stdout


def test_profile_rejects_a_zero_batch():
    outcome = CliRunner().invoke(cli, ["profile", "--task", "digits", "--batch-size", "0"])
    assert outcome.exit_code == 2
    assert outcome.stderr.strip() == "Error: invalid value 0 for --batch-size: must be >= 1"
