"""Device selection and synchronisation."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from harness.core.cpu import this_cpu
from harness.core.errors import BenchError

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N"


def resolve_device(spec: str) -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N`` into a device that exists on this machine."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2]
        if index and not index.isdigit():
            raise BenchError(f"invalid device {spec!r}. Valid: {DEVICE_CHOICES}")
        if not torch.cuda.is_available():
            raise BenchError(f"device {spec!r} is not available: this machine has no CUDA device. "
                             f"Valid: auto, cpu")
        if index and int(index) >= torch.cuda.device_count():
            raise BenchError(f"device {spec!r} does not exist: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        return torch.device(spec if index else "cuda:0")
    raise BenchError(f"invalid device {spec!r}. Valid: {DEVICE_CHOICES}")


def describe(device: torch.device) -> str:
    """The device and the hardware behind it, as a run records it (``dfkd.device``): timings are
    comparable only between runs on the same hardware, so a CPU is named by its model, not by
    ``platform.processor()`` (which on Linux says only ``x86_64``)."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else this_cpu().model
    return f"{device} ({name})"


def synchronize(device: torch.device) -> None:
    """Wait for queued kernels so that host clocks measure the device's work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak device memory for CUDA; peak resident set size of the process on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PhaseMemory:
    """The peak memory of one stretch of work, measured so that runs can be compared: on CUDA the
    peak of torch's tensor allocations (``*_peak_alloc_mb``); on CPU the growth of this
    process's resident set over what it held when the stretch began (``*_rss_growth_mb``: Linux
    resets the peak through /proc/self/clear_refs). A process-lifetime peak RSS would be the same
    for every cell one ``bench run`` runs; elsewhere (no /proc) there is no CPU figure."""

    STATUS, CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda" and torch.cuda.is_available()
        self.cpu = device.type == "cpu" and self.CLEAR.exists() and os.access(self.CLEAR, os.W_OK)
        self._start_kb = 0

    @property
    def available(self) -> bool:
        return self.cuda or self.cpu

    def suffix(self) -> str:
        return "peak_alloc_mb" if self.cuda else "rss_growth_mb"

    def start(self) -> None:
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.cpu:
            self.CLEAR.write_text("5")  # VmHWM := VmRSS
            self._start_kb = self._status_kb("VmRSS")

    def stop(self) -> float:
        """MB since ``start``: the peak allocation (CUDA) or the resident set's peak growth (CPU)."""
        if self.cuda:
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if not self.cpu:
            return 0.0
        return max(0, self._status_kb("VmHWM") - self._start_kb) / 1024

    def _status_kb(self, field: str) -> int:
        for line in self.STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0
