"""Reading the CPU's model and bf16 units from /proc/cpuinfo, and the warning bf16 gets without them."""

from __future__ import annotations

import pytest
import torch

from harness.core import cpu
from harness.core.cpu import Cpu, bf16_warning_for, parse_cpuinfo
from harness.core.devices import describe

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
model name\t: a second processor that is never read
flags\t\t: fpu
"""
SKYLAKE = """processor\t: 0
model name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
flags\t\t: fpu vme avx2 avx512f avx512bw
"""


def test_amx_and_avx512_bf16_are_found_in_the_first_processor():
    found = parse_cpuinfo(SAPPHIRE_RAPIDS)
    assert found == Cpu("Intel(R) Xeon(R) Platinum 8480+", ("AMX-BF16", "AVX512-BF16"))
    assert found.bf16 == "bf16 in hardware (AMX-BF16, AVX512-BF16)"
    assert found.bf16_warning() is None


def test_a_cpu_without_bf16_units_gets_the_warning():
    found = parse_cpuinfo(SKYLAKE)
    assert found.bf16_units == () and found.bf16 == "no bf16 hardware"
    assert found.bf16_warning() == (
        "warning: this CPU (Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz) has no bf16 hardware (neither AMX-BF16 "
        "nor AVX512-BF16): bf16 is emulated through fp32 and runs slower than --precision fp32")


def test_unknown_hardware_is_said_to_be_unknown_and_not_warned_about():
    unknown = Cpu("arm64", None)
    assert unknown.bf16 == "bf16 hardware unknown" and unknown.bf16_warning() is None


@pytest.fixture
def skylake(tmp_path, monkeypatch):
    """This machine as if its /proc/cpuinfo were a Skylake's."""
    info = tmp_path / "cpuinfo"
    info.write_text(SKYLAKE)
    monkeypatch.setattr(cpu, "CPUINFO", info)


def test_only_bf16_on_a_cpu_is_warned_about(skylake):
    assert bf16_warning_for("cpu", ["fp32", "bf16"]).startswith("warning: this CPU (Intel(R) Xeon(R) Gold 6130")
    assert bf16_warning_for("cpu", ["fp32", "fp16"]) is None
    assert bf16_warning_for("cuda", ["bf16"]) is None


def test_a_run_records_the_cpu_by_its_model(tmp_path, monkeypatch):
    """dfkd.device names the hardware that timed the run, not the architecture (``x86_64``)."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(SAPPHIRE_RAPIDS)
    monkeypatch.setattr(cpu, "CPUINFO", cpuinfo)
    assert describe(torch.device("cpu")) == "cpu (Intel(R) Xeon(R) Platinum 8480+)"
