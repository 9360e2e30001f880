"""``bench profile`` on the digits shapes with random weights: every method and operation is
timed, and the figures keep the methods' cost order (many-step inversion far above Fast-5)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.core import cpu as cpu_module
from harness.core.cpu import this_cpu
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


def test_profile_prints_one_table_per_precision_under_the_cpu_it_ran_on():
    outcome = CliRunner().invoke(cli, ["profile", "--task", "digits", "--methods", "fast2", "--batch-size", "4",
                                       "--device", "cpu", "--precision", "fp32,bf16"])
    assert outcome.exit_code == 0, outcome.output
    found = this_cpu()
    assert outcome.stdout.startswith(f"CPU: {found.model}, {found.bf16}\n")
    headers = [line for line in outcome.stdout.splitlines() if line.startswith("digits on cpu")]
    assert [h.split(",")[1].strip() for h in headers] == ["fp32", "bf16"]
    assert all("dense matmul peak measured" in h for h in headers)
    assert outcome.stdout.count("| fast2") == 2 and outcome.stdout.count("KD step") == 2
    # The warning goes to stderr exactly when this CPU lacks bf16 units.
    assert (found.bf16_warning() or "") in outcome.stderr


def test_profile_warns_that_bf16_is_slow_on_a_cpu_without_bf16_units(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Old Xeon\nflags\t\t: fpu avx2\n")
    monkeypatch.setattr(cpu_module, "CPUINFO", info)
    outcome = CliRunner().invoke(cli, ["profile", "--task", "digits", "--methods", "fast2", "--batch-size", "4",
                                       "--device", "cpu", "--precision", "bf16"])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.startswith("CPU: Old Xeon, no bf16 hardware\n")
    assert outcome.stderr.strip() == ("warning: this CPU (Old Xeon) has no bf16 hardware (neither AMX-BF16 nor "
                                      "AVX512-BF16): bf16 is emulated through fp32 and runs slower than "
                                      "--precision fp32")


def test_profile_rejects_an_unknown_precision_before_timing_anything():
    outcome = CliRunner().invoke(cli, ["profile", "--task", "digits", "--precision", "fp32,bf17"])
    assert outcome.exit_code == 2
    assert outcome.stderr.strip() == "Error: unknown precision 'bf17'. Did you mean 'bf16'? Valid: bf16, fp16, fp32"
    assert outcome.stdout == ""


def test_profile_rejects_a_zero_batch():
    outcome = CliRunner().invoke(cli, ["profile", "--task", "digits", "--batch-size", "0"])
    assert outcome.exit_code == 2
    assert outcome.stderr.strip() == "Error: invalid value 0 for --batch-size: must be >= 1"
