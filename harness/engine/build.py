"""Construct a cell: seed, load the teacher, build the student, the synthesizer and its loop.
``bench run`` and ``bench profile`` build synthesizers the same way, through ``build_synthesizer``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.core.job import Baseline, EpochJob
from harness.core.pool import ImagePool
from harness.core.precision import Precision, configure_backends, prepare
from harness.core.synthesizer import MethodSpec, Synthesizer
from harness.core.task import Task
from harness.core.timing import Stopwatch
from harness.engine import teachers
from harness.engine.disk_pool import DiskPool
from harness.engine.distill import Distiller
from harness.engine.distributed import SOLO, Ranks
from harness.engine.plan import RunSpec, lookup_method, make_task, per_rank


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_synthesizer(method: MethodSpec, teacher: nn.Module, student: nn.Module, task: Task, config: Any,
                      device: torch.device, precision: Precision, pool: str = "memory") -> Synthesizer:
    """A method's synthesizer with its pool (none for generative methods, which sample on demand):
    in memory on the device, or on disk (``pool="disk"``, attached to the run's folder later)."""
    cls = method.cls
    if not issubclass(cls, Synthesizer):
        raise TypeError(f"{cls.__name__} is not a Synthesizer")
    images = None if cls.generates_on_sample else DiskPool(device) if pool == "disk" else ImagePool(device)
    return cls(teacher, student, task, config, device, images, precision=precision)


@dataclass
class Built:
    """Everything one cell needs, constructed but not yet run.

    ``job`` drives the epochs: a ``Distiller`` for data-free methods, a baseline's own job
    otherwise.
    """

    task: Task
    teacher: nn.Module | None
    teacher_info: teachers.TeacherInfo | None
    student: nn.Module
    job: EpochJob
    synthesizer: Synthesizer | None = None

    @property
    def distiller(self) -> Distiller:
        assert isinstance(self.job, Distiller), "a baseline's job is not a Distiller"
        return self.job


def require_data(specs: list[RunSpec]) -> None:
    """Open each task's test split once: a missing dataset is then a one-line error before the
    command creates anything (the results folder, the store), not after."""
    for task, data_root, download in dict.fromkeys((s.task, s.data_root, s.download) for s in specs):
        make_task(task, data_root, download).test_set()


def build(spec: RunSpec, device: torch.device, ranks: Ranks = SOLO) -> Built:
    """Seed, load the teacher, and construct student, synthesizer, pool and loop: this rank's, with
    its own seed stream and share of the batches, when the cell runs across ranks."""
    seed_everything(ranks.world.seed(spec.seed))
    task = make_task(spec.task, spec.data_root, spec.download)
    task.test_set()  # a missing dataset is an error now, before any run exists in the store
    _, method, _ = lookup_method(spec.method)
    teacher = info = None
    if method.cls.needs_teacher:
        teacher, info = teachers.load(task, spec.teacher, device)
    student = task.build_model(spec.student).to(device)
    configure_backends(device)
    precision = Precision(spec.precision, device)
    for model in (teacher, student):
        if model is not None:
            prepare(model, precision, spec.compile)
    if issubclass(method.cls, Baseline):
        job = method.cls.make_job(spec.config, task, teacher, student, device, precision)
        return Built(task, teacher, info, student, job)
    assert teacher is not None, f"{spec.method} distils from the teacher"
    config = per_rank(spec.config, ranks.size)
    synthesizer = build_synthesizer(method, teacher, student, task, config, device, precision, spec.pool)
    distiller = Distiller(synthesizer, teacher, student, task, config, device, synthesizer.pool,
                          Stopwatch(device), precision, ranks)
    return Built(task, teacher, info, student, distiller, synthesizer)
