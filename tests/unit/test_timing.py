"""harness.core.timing.Stopwatch: per-phase totals and device synchronisation at start and stop."""

import mmap
import time

import pytest
import torch

import harness.core.devices
import harness.core.timing
from harness.core.timing import Stopwatch


def test_phases_accumulate():
    """Two 0.05 s sleeps in one phase add up; other phases are separate."""
    sw = Stopwatch(torch.device("cpu"))
    for _ in range(2):
        with sw.phase("synthesis"):
            time.sleep(0.05)
    with sw.phase("kd"):
        pass
    assert 0.1 <= sw["synthesis"] < 1.0
    assert 0.0 <= sw["kd"] < 0.5
    assert sw["never"] == 0.0
    assert set(sw.state_dict()) == {"synthesis", "kd"}


def test_totals_resume_from_state():
    sw = Stopwatch(torch.device("cpu"), totals={"synthesis": 2.0})
    with sw.phase("synthesis"):
        time.sleep(0.01)
    assert 2.01 <= sw["synthesis"] < 3.0


def test_phase_counts_time_when_the_body_raises():
    sw = Stopwatch(torch.device("cpu"))
    with pytest.raises(KeyError):
        with sw.phase("eval"):
            time.sleep(0.02)
            raise KeyError("boom")
    assert sw["eval"] >= 0.02


def record_synchronize(monkeypatch, forward=False):
    calls = []
    real = harness.core.timing.synchronize

    def fake(device):
        calls.append(device)
        if forward:
            real(device)

    monkeypatch.setattr(harness.core.timing, "synchronize", fake)
    return calls


@pytest.mark.parametrize("name", ["cpu", "cuda:0"])  # the device is only passed along; nothing runs on it
def test_synchronize_called_at_start_and_stop(monkeypatch, name):
    """One synchronisation before the clock starts and one before it stops, with the run's device."""
    calls = record_synchronize(monkeypatch)
    device = torch.device(name)
    sw = Stopwatch(device)
    with sw.phase("synthesis"):
        assert calls == [device]
    assert calls == [device, device]


def test_devices_synchronize_waits_only_for_cuda(monkeypatch):
    """harness.core.devices.synchronize calls torch.cuda.synchronize for CUDA devices only."""
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    harness.core.devices.synchronize(torch.device("cpu"))
    assert calls == []
    harness.core.devices.synchronize(torch.device("cuda:1"))
    assert calls == [torch.device("cuda:1")]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_synchronize_called_at_start_and_stop_on_cuda(monkeypatch):
    """On a real CUDA device the stopwatch synchronises twice and times queued work."""
    calls = record_synchronize(monkeypatch, forward=True)
    device = torch.device("cuda")
    sw = Stopwatch(device)
    a = torch.randn(2048, 2048, device=device)
    with sw.phase("kd"):
        for _ in range(10):
            a = a @ a / 2048
    assert calls == [device, device]
    assert sw["kd"] > 0
    assert torch.isfinite(a).all()


@pytest.mark.skipif(not harness.core.devices.PhaseMemory(torch.device("cpu")).available,
                    reason="no /proc/self/clear_refs to reset the peak resident set")
def test_cpu_memory_is_each_phases_own_growth_not_the_process_peak():
    """A phase that touches 200 MB reports about that; a later phase that touches nothing reports
    little, although the process's lifetime peak still holds the 200 MB. The 200 MB are a fresh
    anonymous mapping, written page by page and unmapped: memory an allocator kept resident from
    earlier tests would not be growth."""
    sw = Stopwatch(torch.device("cpu"))
    with sw.phase("synthesis"):
        block = mmap.mmap(-1, 200 * 2**20)
        for page in range(0, len(block), mmap.PAGESIZE):
            block[page] = 1
        block.close()
    with sw.phase("kd"):
        torch.zeros(16).sum()
    metrics = sw.memory_metrics()
    assert set(metrics) == {"mem/synthesis_rss_growth_mb", "mem/kd_rss_growth_mb", "mem/eval_rss_growth_mb"}
    assert metrics["mem/eval_rss_growth_mb"] == 0.0  # no evaluation phase ran
    assert 180 <= metrics["mem/synthesis_rss_growth_mb"] <= 260
    assert metrics["mem/kd_rss_growth_mb"] < 20
