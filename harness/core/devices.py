"""Device selection and synchronisation."""

from __future__ import annotations

import torch

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
