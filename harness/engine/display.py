"""How a run shows its progress: a redrawn bar on a terminal, one plain line per epoch when
stderr is a file or a pipe (a log stays readable: no carriage-return redraws), nothing when
quiet."""

from __future__ import annotations

import sys

from tqdm import tqdm


class EpochDisplay:
    def __init__(self, name: str, epochs: int, metric: str, show: bool) -> None:
        self.name, self.epochs, self.metric = name, epochs, metric
        self.lines = show and not sys.stderr.isatty()
        self.bar = tqdm(total=epochs, desc=name, disable=not show or self.lines, leave=True, dynamic_ncols=True)

    def skip_to(self, epoch: int) -> None:
        """A resumed run starts at ``epoch``."""
        self.bar.update(epoch)
        if self.lines and epoch:
            print(f"{self.name}: resumed after epoch {epoch}/{self.epochs}", file=sys.stderr, flush=True)

    def epoch(self, epoch: int, value: float, synthesis_s: float) -> None:
        """Epoch ``epoch`` (0-based) ended with ``value`` of the task's metric."""
        self.bar.update(1)
        self.bar.set_postfix({"epoch": epoch, self.metric: f"{value:.3f}", "syn_s": f"{synthesis_s:.1f}"})
        if self.lines:
            print(f"{self.name}: epoch {epoch + 1}/{self.epochs} {self.metric} {value:.4f} "
                  f"synthesis {synthesis_s:.1f}s", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.close()
