"""One cell across several processes (``torch.distributed``): which process this is, and the few
collectives a run needs.

A run joins a launch it was started in: ``torchrun`` (which ``bench run --nproc-per-node N``
starts, ``harness.launch.ranks``) or Slurm's ``srun``, recognised from their environment by
:func:`detect`. :func:`init` then joins the process group and returns the run's :class:`Ranks`.
The engine talks to the other ranks only through a ``Ranks``; the base class is a world of one
process, where every collective is the identity, so a single-process run does exactly what it did
before runs could span processes.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from harness.core import interrupt
from harness.core.errors import BenchError
from harness.core.timing import Stopwatch

T = TypeVar("T")

DEFAULT_PORT = 29500
# srun gives no rendezvous port: one is derived from the job id, the same on every task of a job.
SLURM_PORTS = (20000, 40000)


@dataclass(frozen=True)
class World:
    """This process's place in its launch; the defaults are a run of one process."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1
    master_addr: str = "127.0.0.1"
    master_port: int = DEFAULT_PORT
    launcher: str = "none"  # "torchrun" (its environment variables) or "slurm" (srun's)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def seed(self, seed: int) -> int:
        """This rank's seed: the cell's own in a world of one (single-process numbers unchanged),
        else one of independent streams, ``numpy.random.SeedSequence([seed, rank])``."""
        if self.size == 1:
            return seed
        return int(np.random.SeedSequence([seed, self.rank]).generate_state(1)[0])


def detect(env: Mapping[str, str]) -> World:
    """The launch this process is part of, from its environment: torchrun's ``RANK``,
    ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; else srun's ``SLURM_PROCID``,
    ``SLURM_LOCALID``, ``SLURM_NTASKS`` (rendezvous on the step's first node, or ``MASTER_ADDR``,
    at ``MASTER_PORT`` or a port derived from ``SLURM_JOB_ID``); else a world of one."""
    if "RANK" in env and "WORLD_SIZE" in env:
        rank = _int(env, "RANK")
        return _checked(World(rank, _int(env, "LOCAL_RANK", rank), _int(env, "WORLD_SIZE"),
                              env.get("MASTER_ADDR", "127.0.0.1"), _int(env, "MASTER_PORT", DEFAULT_PORT),
                              "torchrun"))
    if "SLURM_PROCID" in env and _int(env, "SLURM_NTASKS", 1) > 1:
        nodes = next((env[k] for k in ("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST") if env.get(k)),
                     None)
        addr = env.get("MASTER_ADDR") or (first_node(nodes) if nodes else None)
        if addr is None:
            raise BenchError("a Slurm launch without SLURM_JOB_NODELIST or MASTER_ADDR: no rendezvous address")
        port = _int(env, "MASTER_PORT") if "MASTER_PORT" in env else slurm_port(env.get("SLURM_JOB_ID", "0"))
        return _checked(World(_int(env, "SLURM_PROCID"), _int(env, "SLURM_LOCALID", 0), _int(env, "SLURM_NTASKS"),
                              addr, port, "slurm"))
    return World()


def first_node(nodelist: str) -> str:
    """The first host of a Slurm hostlist: ``node[03-05,09]`` -> ``node03``, ``a1,b2`` -> ``a1``."""
    match = re.match(r"([^,\[]*)(?:\[([^\]]*)\])?([^,]*)", nodelist.strip())
    assert match is not None  # the pattern matches any string
    prefix, ranges, rest = match.groups()
    if ranges is None:
        return prefix + rest
    return prefix + ranges.split(",")[0].split("-")[0] + (first_node(rest) if rest else "")


def slurm_port(job_id: str) -> int:
    """The rendezvous port of a Slurm job: the same on all of its tasks, different for most jobs."""
    low, high = SLURM_PORTS
    digits = re.sub(r"\D", "", job_id) or "0"
    return low + int(digits) % (high - low)


def _int(env: Mapping[str, str], key: str, default: int | None = None) -> int:
    if key not in env:
        if default is None:
            raise BenchError(f"{key} is not set: a distributed launch sets it")
        return default
    try:
        return int(env[key])
    except ValueError:
        raise BenchError(f"invalid {key}={env[key]!r} in the environment: expected an integer") from None


def _checked(world: World) -> World:
    if world.size < 1 or not 0 <= world.rank < world.size:
        raise BenchError(f"invalid launch: rank {world.rank} of a world of {world.size} processes")
    return world


class RankFailed(BenchError):
    """Another rank failed: every rank stops with it, and rank 0 records why."""


class Ranks:
    """The ranks of one run, as the engine talks to them. This base class is a world of one
    process: every collective is the identity and nothing waits."""

    world = World()

    @property
    def rank(self) -> int:
        return self.world.rank

    @property
    def size(self) -> int:
        return self.world.size

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that talks to MLflow and writes checkpoints."""
        return self.world.is_main

    def local(self, device: torch.device) -> torch.device:
        """This rank's device of the kind asked for."""
        return device

    def own(self, folder: Path) -> Path:
        """Where this rank keeps files of its own under a run's folder (a disk pool's shards)."""
        return folder

    def max(self, value: float) -> float:
        return value

    def mean(self, value: float) -> float:
        return value

    def sum(self, value: int) -> int:
        return value

    def any(self, flag: bool) -> bool:
        """Whether any rank's ``flag`` is set."""
        return flag

    def on_main(self, work: Callable[[], T]) -> T:
        """Rank 0 does ``work`` while the others wait; every rank returns its result (a small
        object), and an error of it is raised on every rank."""
        return work()

    def agree(self, check: Callable[[], None]) -> None:
        """Every rank runs ``check``; when it raises on any rank, every rank raises."""
        check()

    def all_gather(self, obj: T) -> list[T]:
        return [obj]

    def gather(self, obj: T) -> list[T] | None:
        """Every rank's ``obj`` on rank 0 (in rank order); None on the others."""
        return [obj]

    def scatter(self, objs: list[T] | None) -> T:
        """Rank r receives ``objs[r]`` of rank 0's list."""
        assert objs is not None
        return objs[0]

    def concat(self, tensor: Tensor) -> Tensor:
        """The ranks' tensors of one shape, concatenated in rank order (on every rank)."""
        return tensor

    def data_parallel(self, module: nn.Module) -> nn.Module:
        """The module the student's training steps run: itself, or under DistributedDataParallel."""
        return module

    def sync_buffers(self, module: nn.Module) -> None:
        """Make every rank's buffers (BatchNorm statistics) rank 0's."""

    def slowest(self, stopwatch: Stopwatch, phase: str) -> AbstractContextManager[None]:
        """A block whose ``phase`` seconds count as the slowest rank's (the ranks wait for it)."""
        return nullcontext()


SOLO = Ranks()


class Group(Ranks):
    """Ranks in a ``torch.distributed`` process group: NCCL on CUDA, gloo on a CPU."""

    def __init__(self, world: World, device: torch.device) -> None:
        self.world, self.device = world, device

    def local(self, device: torch.device) -> torch.device:
        return self.device if device.type == self.device.type else device

    def own(self, folder: Path) -> Path:
        return folder / f"rank{self.rank}"

    def _reduce(self, value: float, op: dist.ReduceOp.RedOpType, dtype: torch.dtype) -> float:
        tensor = torch.tensor(value, dtype=dtype, device=self.device)
        dist.all_reduce(tensor, op=op)
        return tensor.item()

    def max(self, value: float) -> float:
        return float(self._reduce(value, dist.ReduceOp.MAX, torch.float64))

    def mean(self, value: float) -> float:
        return float(self._reduce(value, dist.ReduceOp.SUM, torch.float64)) / self.size

    def sum(self, value: int) -> int:
        return int(self._reduce(value, dist.ReduceOp.SUM, torch.int64))

    def any(self, flag: bool) -> bool:
        return bool(self._reduce(int(flag), dist.ReduceOp.MAX, torch.int64))

    def on_main(self, work: Callable[[], T]) -> T:
        outcome: list[Any] = [None]
        error: BaseException | None = None
        if self.is_main:
            try:
                outcome = [("ok", work())]
            except Exception as failed:
                error, outcome = failed, [("error", f"{type(failed).__name__}: {failed}")]
        dist.broadcast_object_list(outcome, src=0)
        kind, value = outcome[0]
        if error is not None:
            raise error
        if kind == "error":
            raise RankFailed(f"rank 0 failed: {value}")
        return value

    def agree(self, check: Callable[[], None]) -> None:
        error: Exception | None = None
        try:
            check()
        except Exception as failed:
            error = failed
        if not self.any(error is not None):
            return
        reasons = self.all_gather(None if error is None else f"{type(error).__name__}: {error}")
        if error is not None:
            raise error
        rank, reason = next((r, text) for r, text in enumerate(reasons) if text is not None)
        raise RankFailed(f"rank {rank} failed: {reason}")

    def all_gather(self, obj: T) -> list[T]:
        gathered: list[Any] = [None] * self.size
        dist.all_gather_object(gathered, obj)
        return gathered

    def gather(self, obj: T) -> list[T] | None:
        gathered: list[Any] | None = [None] * self.size if self.is_main else None
        dist.gather_object(obj, gathered, dst=0)
        return gathered

    def scatter(self, objs: list[T] | None) -> T:
        received: list[Any] = [None]
        dist.scatter_object_list(received, objs if self.is_main else None, src=0)
        return received[0]

    def concat(self, tensor: Tensor) -> Tensor:
        parts = [torch.empty_like(tensor) for _ in range(self.size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    def data_parallel(self, module: nn.Module) -> nn.Module:
        # DDP makes every rank's buffers rank 0's at each forward, and sync_buffers after the last.
        if self.device.type == "cpu":
            # oneDNN's backward gives a one-input-channel kernel (grayscale digits) a gradient whose
            # size-1 dimension has another stride than the parameter's: the same bytes, copied right,
            # yet DDP warns at every step. On CUDA a real layout mismatch would cost time: kept there.
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def sync_buffers(self, module: nn.Module) -> None:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)

    @contextmanager
    def slowest(self, stopwatch: Stopwatch, phase: str) -> Iterator[None]:
        before = stopwatch[phase]
        yield  # not reached again when the block raises: no collective on the way out of an error
        stopwatch.totals[phase] = before + self.max(stopwatch[phase] - before)


def init(world: World, device: torch.device) -> Ranks:
    """Join the process group of ``world`` (NCCL on CUDA, this rank on ``cuda:<local rank>``;
    gloo on a CPU) and make stop requests collective; a world of one is :data:`SOLO`."""
    if world.size == 1:
        return SOLO
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                            init_method=f"tcp://{world.master_addr}:{world.master_port}",
                            rank=world.rank, world_size=world.size)
    ranks = Group(world, device)
    interrupt.share(ranks.any)
    return ranks


@contextmanager
def joined(world: World, device: torch.device) -> Iterator[Ranks]:
    """The run's ranks (:func:`init`) for the duration of the block; the group is left after it."""
    ranks = init(world, device)
    try:
        yield ranks
    finally:
        if ranks is not SOLO:
            interrupt.share(None)
            dist.destroy_process_group()
