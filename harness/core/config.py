"""Typed, frozen run configuration and the layering of docs/methods.md#decision-config-layering.

Layers, later wins: method defaults -> task defaults -> the pair's paper values -> budget ->
variant (``deepinv:g_steps=5``) -> ``--set``. Every resolved field remembers which layer set it,
so ``bench config show`` can explain each value and ``dfkd.deviations`` can list user overrides.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from harness.core.errors import BenchError

# The layers of a cell's config, applied in this order (later wins); each field records the
# layer that set it (``bench config show``, the budget deviation note).
LAYERS = (METHOD_DEFAULT, TASK, PAIR, BUDGET, VARIANT, SET) = ("method default", "task", "pair", "budget",
                                                               "variant", "--set")
BUDGETS = ("paper", "quick", "smoke")


def option(default: Any, *, min: float | None = None, max: float | None = None,
           choices: tuple[str, ...] | None = None, nonfinite: bool = False, help: str = "") -> Any:
    """A config field with its valid range or choices, checked after every layer is applied. A
    float field rejects NaN and infinities unless it says ``nonfinite=True``."""
    return field(default=default, metadata={"min": min, "max": max, "choices": choices, "nonfinite": nonfinite,
                                            "help": help})


@dataclass(frozen=True)
class DistillConfig:
    """What every method shares: the student's optimisation and the outer loop (docs/methods.md#common-loop)."""

    epochs: int = option(200, min=1, help="outer-loop epochs (one synthesis round each for pool methods)")
    warmup_frac: float = option(0.0, min=0, max=0.99, help="fraction of epochs that only synthesise (Fast: 20/220)")
    kd_steps: int = option(400, min=1, help="student updates per synthesis round")
    ep_steps: int = option(400, min=1, help="student updates per epoch (rounds per epoch = ep_steps // kd_steps)")
    batch_size: int = option(256, min=1, help="KD batch size")
    synthesis_batch_size: int = option(256, min=1, help="images synthesised per round")
    lr: float = option(0.1, min=0, help="student SGD learning rate")
    momentum: float = option(0.9, min=0, max=1)
    weight_decay: float = option(1e-4, min=0)
    lr_min: float = option(2e-4, min=0, help="cosine eta_min (REF-FAST)")
    lr_schedule: str = option("cosine", choices=("cosine", "step"),
                              help="cosine over the KD epochs (REF-FAST), or step decay (DFAD's StepLR)")
    lr_step_frac: float = option(1 / 3, min=1e-3, max=1.0,
                                 help="step schedule: decay every this fraction of the KD epochs (DFAD: 100 of 300)")
    lr_step_gamma: float = option(0.3, min=0, max=1, help="step schedule: decay factor (DFAD: 0.3)")
    kd_loss: str = option("kl", choices=("kl", "l1"), help="kl: temperature-scaled KL; l1: mean |s - t| (DFAD)")
    T: float = option(20.0, min=1e-3, help="KD temperature (KL only)")
    eval_batch_size: int = option(1024, min=1)

    def schedule(self) -> Schedule:
        return Schedule.of(self)

    def lr_scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        """The per-KD-epoch learning-rate schedule of ``optimizer``, scaled to the budget's epochs."""
        import torch

        kd_epochs = self.schedule().kd_epochs
        if self.lr_schedule == "step":
            step = max(1, round(kd_epochs * self.lr_step_frac))
            return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=self.lr_step_gamma)
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=kd_epochs, eta_min=self.lr_min)


@dataclass(frozen=True)
class Schedule:
    """Integer schedule derived from a config; scales with the budget
    (docs/methods.md#decision-budgets-and-schedule-scaling)."""

    epochs: int
    warmup: int
    rounds_per_epoch: int
    kd_epochs: int

    @classmethod
    def of(cls, cfg: DistillConfig) -> Schedule:
        warmup = min(int(round(cfg.epochs * cfg.warmup_frac)), cfg.epochs - 1)
        return cls(cfg.epochs, warmup, max(1, cfg.ep_steps // cfg.kd_steps), cfg.epochs - warmup)


def fields_of(cfg_cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cfg_cls)}


def parse_value(cfg_cls: type, name: str, raw: Any) -> Any:
    """Coerce ``raw`` (a string from the command line, or a Python value) to the field's type."""
    f = fields_of(cfg_cls)[name]
    kind = type(f.default)
    try:
        if kind is bool:
            if isinstance(raw, str):
                lowered = raw.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return lowered in ("true", "1", "yes")
            return bool(raw)
        if kind is int:
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError
            value = float(raw) if isinstance(raw, str) and any(c in raw for c in ".eE") else raw
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            value = float(raw)
            if not math.isfinite(value) and not f.metadata.get("nonfinite"):
                raise BenchError(f"invalid value {raw!r} for {name}: must be a finite number")
            return value
        return str(raw)
    except (TypeError, ValueError):
        raise BenchError(f"invalid value {raw!r} for {name}: expected {kind.__name__}") from None


def check_value(cfg_cls: type, name: str, value: Any) -> None:
    meta = fields_of(cfg_cls)[name].metadata
    if meta.get("choices") and value not in meta["choices"]:
        raise BenchError(f"invalid value {value!r} for {name}. Valid: {', '.join(meta['choices'])}")
    if meta.get("min") is not None and value < meta["min"]:
        raise BenchError(f"invalid value {value!r} for {name}: must be >= {meta['min']}")
    if meta.get("max") is not None and value > meta["max"]:
        raise BenchError(f"invalid value {value!r} for {name}: must be <= {meta['max']}")


@dataclass(frozen=True)
class Resolved:
    """A config and, per field, the layer that set its value."""

    config: Any
    sources: dict[str, str]

    def overridden(self) -> dict[str, Any]:
        """Fields set by the user (variant or --set): they are departures from the presets."""
        return {k: getattr(self.config, k) for k, src in self.sources.items() if src in ("variant", "--set")}


def resolve(cfg_cls: type, layers: Iterable[tuple[str, dict[str, Any]]]) -> Resolved:
    """Apply layers in order; unknown fields are errors (callers drop ``--set`` fields a method lacks)."""
    known = fields_of(cfg_cls)
    values = {name: f.default for name, f in known.items()}
    sources = {name: METHOD_DEFAULT for name in known}
    for layer, overrides in layers:
        for name, raw in overrides.items():
            if name not in known:
                raise BenchError(f"unknown config field {name!r} for {cfg_cls.__name__} (from {layer}). "
                                 f"Valid: {', '.join(sorted(known))}")
            values[name] = parse_value(cfg_cls, name, raw)
            sources[name] = layer
    for name, value in values.items():
        check_value(cfg_cls, name, value)
    return Resolved(cfg_cls(**values), sources)


def parse_assignment(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise BenchError(f"malformed {what} {text!r}: expected field=value")
    return name.strip(), value.strip()


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    """``cmi:g_steps=5:cr=0`` -> (``cmi``, {g_steps: 5, cr: 0})."""
    method, *parts = text.strip().split(":")
    if not method:
        raise BenchError(f"malformed method variant {text!r}: expected name[:field=value...]")
    overrides: dict[str, str] = {}
    for part in parts:
        name, value = parse_assignment(part, f"variant field in {text!r},")
        overrides[name] = value
    return method, overrides


def canonical_variant(method: str, overrides: dict[str, Any]) -> str:
    """A stable spelling of a variant (fields sorted), used in tags and run names."""
    return ":".join([method, *(f"{k}={overrides[k]}" for k in sorted(overrides))])


def flatten(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
