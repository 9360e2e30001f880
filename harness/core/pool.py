"""In-memory data pool of synthesised images (docs/methods.md#data-pool), held as uint8 on the run's device.

Equivalent to the reference's PNG folder: the same truncating quantisation, no eviction, a new
shuffled pass after every round, short final batches; without the disk round trip.
"""

from __future__ import annotations

import torch
from torch import Tensor


def quantize(images01: Tensor) -> Tensor:
    """``uint8(floor(255 * clamp(x, 0, 1)))``: truncation, as PNG writing does in the reference."""
    return (images01.detach().float().clamp(0, 1) * 255).floor().to(torch.uint8)


class ImagePool:
    """Grows by each round's images; ``sample`` walks shuffled passes over everything stored."""

    def __init__(self, device: torch.device, generator: torch.Generator | None = None) -> None:
        self.device = device
        self.generator = generator
        self._chunks: list[Tensor] = []
        self._data: Tensor | None = None
        self._order: Tensor | None = None
        self._cursor = 0

    def __len__(self) -> int:
        return sum(c.shape[0] for c in self._chunks)

    def add(self, images01: Tensor) -> None:
        """Append a round's ``[0, 1]`` images and start a new shuffled pass (a fresh loader)."""
        self.add_quantized(quantize(images01))

    def add_quantized(self, images: Tensor) -> None:
        """Append already-quantised uint8 images (e.g. a checkpoint's pool shard)."""
        self._chunks.append(images.to(self.device))
        self._data = None
        self._order = None

    @property
    def data(self) -> Tensor:
        if self._data is None:
            self._data = torch.cat(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
            self._chunks = [self._data]
        return self._data

    def sample(self, batch_size: int) -> Tensor:
        """The next ``batch_size`` images of the current pass, as float ``[0, 1]``."""
        if not self._chunks:
            raise RuntimeError("the pool is empty: synthesise before sampling")
        data = self.data
        if self._order is None or self._cursor >= len(self._order):
            self._order = torch.randperm(len(data), generator=self.generator).to(self.device)
            self._cursor = 0
        index = self._order[self._cursor:self._cursor + batch_size]
        self._cursor += batch_size
        return data[index].float() / 255

    def state_dict(self) -> dict:
        return {"images": self.data.cpu() if self._chunks else None}

    def load_state_dict(self, state: dict) -> None:
        self._chunks = [] if state["images"] is None else [state["images"].to(self.device)]
        self._data, self._order, self._cursor = None, None, 0

