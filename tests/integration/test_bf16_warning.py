"""`bench run --precision bf16` on a CPU without bf16 units says so once, on stderr, and still runs
(the user asked for it); with fp32 it says nothing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import cli
from harness.core import cpu


@pytest.fixture
def no_bf16_units(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Old Xeon\nflags\t\t: fpu avx2 avx512f\n")
    monkeypatch.setattr(cpu, "CPUINFO", info)


@pytest.mark.parametrize("precision, warned", [("bf16", True), ("fp32", False)])
def test_run_warns_before_bf16_on_a_cpu_without_bf16_units(tmp_path, no_bf16_units, digits_teacher, precision,
                                                            warned):
    outcome = CliRunner().invoke(cli, ["run", "--methods", "fast2", "--task", "digits", "--budget", "smoke",
                                       "--device", "cpu", "--precision", precision, "--quiet",
                                       "--results-dir", str(tmp_path / "results")])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stderr.count("has no bf16 hardware") == int(warned)
    assert "FINISHED" in outcome.stdout
