"""Device-synchronised wall-clock per phase (docs/methods.md#synthesis-time, benchmark rule)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from harness.core.devices import PhaseMemory, synchronize

# The phases a run's time is split into (metrics time/synthesis_s, time/kd_s: student training
# on the synthesised or real batches, and evaluation).
SYNTHESIS, TRAINING, EVALUATION = "synthesis", "kd", "eval"


class Stopwatch:
    """Accumulates seconds per named phase; synchronises the device at every start and stop.

    Without synchronisation, host clocks around asynchronous GPU work measure kernel launches,
    not the work (the reference's generative timings are under-reported for this reason).
    """

    def __init__(self, device: torch.device, totals: dict[str, float] | None = None) -> None:
        self.device = device
        self.totals: dict[str, float] = defaultdict(float, totals or {})
        # The largest memory figure of each phase in this process (PhaseMemory says which figure).
        self.memory = PhaseMemory(device)
        self.peaks_mb: dict[str, float] = defaultdict(float)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        synchronize(self.device)
        self.memory.start()
        start = time.perf_counter()
        try:
            yield
        finally:
            synchronize(self.device)
            self.totals[name] += time.perf_counter() - start
            self.peaks_mb[name] = max(self.peaks_mb[name], self.memory.stop())

    def memory_metrics(self) -> dict[str, float]:
        """``mem/<phase>_peak_alloc_mb`` (CUDA) or ``mem/<phase>_rss_growth_mb`` (CPU) for every
        phase (0 for one the run never had, e.g. a baseline's synthesis: the same columns for all)."""
        if not self.memory.available:
            return {}
        phases = dict.fromkeys((SYNTHESIS, TRAINING, EVALUATION, *self.peaks_mb))
        return {f"mem/{name}_{self.memory.suffix()}": self.peaks_mb.get(name, 0.0) for name in phases}

    def __getitem__(self, name: str) -> float:
        return self.totals.get(name, 0.0)

    def state_dict(self) -> dict[str, float]:
        return dict(self.totals)
