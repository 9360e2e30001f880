"""From command-line words to fully resolved run specifications, one per grid cell.

Everything a user can get wrong is checked here, before a run is created in the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from harness.core import config
from harness.core.config import (
    BUDGETS,
    Resolved,
    canonical_variant,
    fields_of,
    flatten,
    parse_assignment,
    parse_variant,
    resolve,
)
from harness.core.errors import BenchError, unknown
from harness.core.precision import DTYPES
from harness.core.registry import BASELINES, METHODS, TASKS
from harness.core.synthesizer import MethodSpec
from harness.core.task import Task

# Where a pool method keeps its images: on the run's device, or in its checkpoint shards on disk
# (harness.engine.disk_pool), read back through a DataLoader.
POOLS = ("memory", "disk")


@dataclass(frozen=True)
class RunSpec:
    """One cell of a grid: (task, method variant, pair, seed, budget) and its resolved config."""

    task: str
    method: str
    variant: str
    pair: str
    teacher: str
    student: str
    seed: int
    budget: str
    resolved: Resolved
    deviations: tuple[str, ...]
    is_baseline: bool = False
    data_root: str | None = None  # where the data is, not what the cell is: not in the grid key
    download: bool = False
    precision: str = "fp32"  # changes the numbers: in the grid key (when not fp32)
    compile: bool = False  # same numbers within tolerance, faster: not in the grid key
    pool: str = "memory"  # where a pool method keeps its images: same numbers, not in the grid key
    world_size: int = 1  # processes the cell runs on (DDP): changes the numbers, in the grid key (when > 1)

    @property
    def config(self) -> Any:
        return self.resolved.config

    @property
    def run_name(self) -> str:
        """``fast5/s0/resnet34-resnet18``: the seed early, where a narrow runs table still shows it."""
        return f"{self.variant}/s{self.seed}/{self.teacher}-{self.student}"

    @cached_property
    def grid_key(self) -> str:
        """Same cell, same key on every machine and commit: no device, path, URI or version."""
        cell = {"task": self.task, "variant": self.variant, "pair": self.pair, "seed": self.seed,
                "budget": self.budget, "config": flatten(self.config)}
        if self.precision != "fp32":  # fp32 cells keep the keys they had before precision existed
            cell["precision"] = self.precision
        if self.world_size > 1:  # single-process cells keep the keys they had before runs spanned processes
            cell["world_size"] = self.world_size
        payload = json.dumps(cell, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


# The batch sizes a run across processes shares out: each rank synthesises and distils its part.
SHARED_BATCHES = ("synthesis_batch_size", "batch_size")


def per_rank(config: Any, world_size: int) -> Any:
    """The config one of ``world_size`` ranks runs: the batch sizes divided among the ranks
    (``config`` itself for one process); a batch the ranks cannot share equally is an error."""
    if world_size == 1:
        return config
    shares = {}
    for name in SHARED_BATCHES:
        value = getattr(config, name)
        if value % world_size:
            raise BenchError(f"{name} {value} is not divisible by the world size {world_size}: each rank takes an "
                             f"equal share (set {name} to a multiple of {world_size})")
        shares[name] = value // world_size
    return dataclasses.replace(config, **shares)


def split_list(text: str | None, what: str, items_are: str = "names") -> list[str]:
    items = [item.strip() for item in (text or "").split(",")]
    if not text or not all(items):
        raise BenchError(f"malformed {what} list {text!r}: expected comma-separated {items_are}")
    return items


MAX_SEED = 2**32 - 1  # numpy's seeds are 32-bit


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in split_list(text, "seed", "integers")]
    except ValueError:
        raise BenchError(f"malformed seed list {text!r}: expected comma-separated integers") from None
    bad = [seed for seed in seeds if not 0 <= seed <= MAX_SEED]
    if bad:
        raise BenchError(f"invalid seed {bad[0]} in {text!r}: seeds are integers from 0 to {MAX_SEED}")
    return seeds


def lookup_method(name: str) -> tuple[str, MethodSpec, bool]:
    """Resolve a method or baseline name; unknown names suggest from both registries."""
    if name in METHODS:
        return METHODS.canonical(name), METHODS.get(name), False
    if name in BASELINES:
        return BASELINES.canonical(name), BASELINES.get(name), True
    raise BenchError(unknown("method", name, METHODS.names() + BASELINES.names()))


def make_task(spec: str, data_root: str | None = None, download: bool = False) -> Task:
    """The task of ``spec``: a registered name or alias, with options (``imagenet:image_size=64``)."""
    name, options = parse_task(spec)
    return TASKS.get(name)(data_root=data_root, download=download, options=options)


def parse_task(spec: str) -> tuple[str, dict[str, str]]:
    name, *parts = spec.strip().split(":")
    if not name:
        raise BenchError(f"malformed task {spec!r}: expected name[:option=value...]")
    return name, dict(parse_assignment(part, f"task option in {spec!r},") for part in parts)


def resolve_cell(task: Task, spec: MethodSpec, pair: str, budget: str, variant: dict[str, Any],
                 sets: dict[str, Any]) -> Resolved:
    """The layering of docs/methods.md#decision-config-layering:
    method -> task -> pair -> budget -> variant -> --set."""
    key = spec.settings_key
    known = fields_of(spec.cls.Config)
    return resolve(spec.cls.Config, [
        (config.METHOD_DEFAULT, spec.preset),
        (config.TASK, task.method_defaults(key)),
        (config.PAIR, task.pair_settings(pair, key)),
        (config.BUDGET, task.budget(budget, key, spec.cls.budgets.get(task.name))),
        (config.VARIANT, variant),
        (config.SET, {k: v for k, v in sets.items() if k in known}),
    ])


def planned_images(spec: MethodSpec, config: Any) -> int:
    """Images a run of ``config`` synthesises: the pool's rounds, or every generated batch
    (generator updates and KD batches) for generative methods; 0 for baselines."""
    if not hasattr(config, "synthesis_batch_size"):
        return 0
    schedule = config.schedule()
    per_round = config.synthesis_batch_size
    if spec.cls.generates_on_sample:
        per_round = config.g_steps * config.synthesis_batch_size + config.kd_steps * config.batch_size
    return schedule.epochs * schedule.rounds_per_epoch * per_round


def budget_note(budget: str, resolved: Resolved, paper: Resolved) -> str | None:
    """What a budget changes against the paper settings, field by field (true by construction)."""
    changed = [f"{name} {getattr(resolved.config, name)} (paper {getattr(paper.config, name)})"
               for name, source in resolved.sources.items()
               if source == config.BUDGET and getattr(resolved.config, name) != getattr(paper.config, name)]
    return (f"budget {budget}: {', '.join(changed)}; schedules scaled "
            "(docs/methods.md#decision-budgets-and-schedule-scaling)" if changed else None)


def deviations(task: Task, spec: MethodSpec, pair: str, budget: str, resolved: Resolved,
               paper: Resolved) -> tuple[str, ...]:
    """Every departure from the reference for this cell (docs/methods.md#decisions), for ``dfkd.deviations``."""
    notes = [*task.notes, *task.cell_notes(pair, spec.settings_key), *spec.notes,
             *spec.cls.deviations(resolved.config, task)]
    notes += filter(None, [budget_note(budget, resolved, paper)])
    notes += [f"{k}={v} ({resolved.sources[k]})" for k, v in resolved.overridden().items()]
    return tuple(notes)


def plan_runs(methods: str, task_name: str, pairs: str | None = None, seeds: str = "0",
              budget: str | None = None, sets: tuple[str, ...] = (), data_root: str | None = None,
              download: bool = False, precision: str = "fp32", compile: bool = False,
              pool: str = "memory", world_size: int = 1) -> list[RunSpec]:
    """Expand the flags of ``bench run`` into run specs; raises ``BenchError`` on any bad input."""
    if precision not in DTYPES:
        raise BenchError(unknown("precision", precision, list(DTYPES)))
    if pool not in POOLS:
        raise BenchError(unknown("pool", pool, list(POOLS)))
    task = make_task(task_name, data_root)
    budget = budget or task.default_budget
    if budget not in BUDGETS:
        raise BenchError(unknown("budget", budget, list(BUDGETS)))
    pair_names = split_list(pairs, "pair") if pairs else [next(iter(task.pairs))]
    for pair in pair_names:
        task.pair(pair)
    seed_values = parse_seeds(seeds)
    overrides = dict(parse_assignment(s, "--set") for s in sets)
    selected = []
    for word in split_list(methods, "method"):
        name, variant = parse_variant(word)
        canonical, spec, is_baseline = lookup_method(name)
        if not spec.cls.runs_on(task):
            where = (f"does not support {task.kind} (task {task.name})" if task.kind not in spec.cls.supports
                     else f"runs only on task {', '.join(sorted(spec.cls.tasks or ()))}, not {task.name}")
            raise BenchError(f"method {canonical!r} {where}. Methods that do: {', '.join(supporting(task))}")
        if is_baseline and world_size > 1:
            raise BenchError(f"baseline {canonical!r} runs in one process, not on {world_size}: run the baselines "
                             f"without --nproc-per-node")
        selected.append((canonical, spec, is_baseline, variant))
    for field_name in overrides:
        if not any(field_name in fields_of(spec.cls.Config) for _, spec, _, _ in selected):
            valid = sorted({f for _, spec, _, _ in selected for f in fields_of(spec.cls.Config)})
            raise BenchError(f"unknown config field {field_name!r} in --set: no selected method has it. "
                             f"Valid: {', '.join(valid)}")
    cells = []
    for canonical, spec, is_baseline, variant in selected:
        for pair in pair_names:
            teacher, student = task.pair(pair)
            resolved = resolve_cell(task, spec, pair, budget, variant, overrides)
            paper = resolve_cell(task, spec, pair, "paper", variant, overrides)
            label = canonical_variant(canonical, {k: getattr(resolved.config, k) for k in variant})
            notes = deviations(task, spec, pair, budget, resolved, paper)
            if precision != "fp32":
                notes += (f"precision {precision}: autocast forward passes, fp32 weights (the reference runs fp32)",)
            if world_size > 1:
                per_rank(resolved.config, world_size)
                notes += (f"world size {world_size}: each of {world_size} processes synthesises its share of every "
                          f"round with its own synthesizer and seed stream; KD by DistributedDataParallel",)
            for seed in seed_values:
                cells.append(RunSpec(task.spec, canonical, label, pair, teacher, student, seed, budget,
                                     resolved, notes, is_baseline, data_root, download, precision, compile, pool,
                                     world_size))
    return cells


def supporting(task: Task | type[Task]) -> list[str]:
    """The registered methods and baselines that run on ``task``, in the tables' row order."""
    return [name for registry in (METHODS, BASELINES) for name in registry.names()
            if registry.get(name).cls.runs_on(task)]
