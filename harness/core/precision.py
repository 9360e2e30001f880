"""How a run's arithmetic is done: fp32, or autocast bf16/fp16 with fp32 master weights.

Autocast covers the forward passes (and so their backward passes); parameters and optimiser state
stay fp32. fp16's narrow range needs loss scaling: every ``backward``/``step`` of a run goes
through one ``torch.amp.GradScaler``, a no-op at fp32 and bf16. The harness wraps each
synthesis round, KD batch and KD step in :meth:`Precision.autocast`; methods call
:meth:`Precision.backward` and :meth:`Precision.step` instead of ``loss.backward()`` and
``optimizer.step()``. Evaluation stays fp32, so every precision is scored the same way.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

from harness.core.errors import BenchError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    """One run's precision: its autocast context and its (possibly disabled) loss scaler."""

    def __init__(self, name: str = "fp32", device: torch.device | str = "cpu") -> None:
        if name not in DTYPES:
            raise BenchError(f"unknown precision {name!r}. Valid: {', '.join(DTYPES)}")
        self.name, self.device = name, torch.device(device)
        self.dtype = DTYPES[name]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=name == "fp16")

    @property
    def reduced(self) -> bool:
        return self.name != "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.reduced:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def backward(self, loss: Tensor) -> None:
        self.scaler.scale(loss).backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Make ``optimizer``'s gradients true values, for code that reads them before ``step``."""
        self.scaler.unscale_(optimizer)

    def step(self, *optimizers: torch.optim.Optimizer) -> None:
        """Step every optimiser of one backward (an fp16 overflow skips them), then adapt the scale."""
        for optimizer in optimizers:
            self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict:
        return self.scaler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if state:
            self.scaler.load_state_dict(state)


FP32 = Precision()


def prepare(model: nn.Module, device: torch.device, compile_forward: bool = False) -> nn.Module:
    """Layout and compilation for speed, in place (state-dict keys unchanged).

    channels_last on CUDA, where cuDNN's NHWC convolution kernels are fastest (and on CPU a
    conversion cost with no gain); ``torch.compile`` of the forward pass when asked.
    """
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    if compile_forward:
        model.compile()
    return model


def configure_backends(device: torch.device) -> None:
    """cuDNN autotuning: fixed shapes in every inner loop, so the search pays for itself."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32; reduced precision is explicit
        torch.backends.cudnn.allow_tf32 = False
