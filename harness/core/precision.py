"""How a run's arithmetic is done: fp32, or autocast bf16/fp16 with fp32 master weights.

Autocast covers the forward passes (synthesis, KD and evaluation, and so their backward passes);
parameters, optimiser state and BatchNorm statistics stay fp32. fp16's narrow range needs loss
scaling: every ``backward``/``step`` of a run goes through one ``torch.amp.GradScaler``, a no-op at
fp32 and bf16. The harness wraps each synthesis round, KD batch, KD step and evaluation in
:meth:`Precision.autocast`; methods call :meth:`Precision.backward` and :meth:`Precision.step`
instead of ``loss.backward()`` and ``optimizer.step()``. A reduced-precision run is scored in its
precision too (evaluation is part of its cost); the precision is in its grid key, so such a cell
is never taken for the fp32 one.
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

    @property
    def channels_last(self) -> bool:
        """Whether convolutions run in NHWC: on CUDA, where cuDNN's NHWC kernels are fastest; on a
        CPU in reduced precision, where oneDNN's bf16 (AMX) convolutions are NHWC kernels and NCHW
        tensors pay a reorder at every layer. fp32 on a CPU stays NCHW: NHWC measured no faster."""
        return self.device.type == "cuda" or self.reduced

    def layout(self, module: nn.Module) -> nn.Module:
        """``module`` in place in the run's memory format (generators as well as the networks: a
        channels_last weight makes its convolution's output channels_last too)."""
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        return module

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


def prepare(model: nn.Module, precision: Precision, compile_forward: bool = False) -> nn.Module:
    """Layout and compilation for speed, in place (state-dict keys unchanged): the run's memory
    format (:attr:`Precision.channels_last`), ``torch.compile`` of the forward pass when asked."""
    precision.layout(model)
    if compile_forward:
        model.compile()
    return model


def configure_backends(device: torch.device) -> None:
    """cuDNN autotuning: fixed shapes in every inner loop, so the search pays for itself."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32; reduced precision is explicit
        torch.backends.cudnn.allow_tf32 = False
