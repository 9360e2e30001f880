"""Find, train and cache teacher checkpoints.

Cache layout: ``$DFKD_HOME/teachers/<task>/<arch>.pt`` (``DFKD_HOME`` defaults to the user's
cache directory). A checkpoint holds ``state_dict`` (the reference's key), ``arch``, ``task``,
``task_version``, ``metrics`` and how it was made; its sha256 and metric are logged as tags of every
run using it. Embedded tasks ship their teachers (package data, sha256 pinned in the task's code):
a run uses the cached teacher when there is one for the task's version, else the shipped one.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from harness.core.errors import BenchError
from harness.core.paths import home
from harness.core.task import Recipe, Task
from harness.engine.checkpoint import atomic_save, safe_load
from harness.engine.supervised import fit
from harness.record.provenance import git_state


def default_path(task: Task, arch: str) -> Path:
    return home() / "teachers" / task.name / f"{arch}.pt"


@dataclass(frozen=True)
class TeacherInfo:
    path: Path
    sha256: str
    metric: float | None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_weights(model: nn.Module, state_dict: dict, source: str) -> None:
    """Load reference-layout weights (a ``module.`` prefix is stripped) with a readable error."""
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
              if k in state_dict and state_dict[k].shape != v.shape]
    if missing or unexpected or shapes:
        parts = [f"{name}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
                 for name, items in (("missing keys", missing), ("unexpected keys", unexpected),
                                     ("shape mismatches", shapes)) if items]
        raise BenchError(f"{source} does not fit the architecture ({'; '.join(parts)})")
    model.load_state_dict(state_dict)


def train(task: Task, arch: str, device: torch.device, recipe: Recipe | None = None,
          path: Path | None = None, on_epoch=None, model: nn.Module | None = None) -> TeacherInfo:
    """Train a teacher (``model``, else a fresh ``arch``) on the task's real training split and
    cache it atomically."""
    model = (model or task.build_model(arch)).to(device)
    recipe = recipe or task.teacher_recipe(arch)
    metrics = fit(model, task, device, recipe, on_epoch=on_epoch)
    path = path or default_path(task, arch)
    atomic_save({"state_dict": model.state_dict(), "arch": arch, "task": task.name,
                 "task_version": task.version, "metrics": metrics,
                 "provenance": {**git_state().tags(), "recipe": json.dumps(asdict(recipe))}}, path)
    return TeacherInfo(path, sha256_of(path), metrics[task.metric])


def shipped_path(task: Task, arch: str) -> Path:
    """Where a task ships a teacher: ``teachers/<task>/<arch>.pt`` beside the task's module."""
    return Path(inspect.getfile(type(task))).parent / "teachers" / task.name / f"{arch}.pt"


def _shipped(task: Task, arch: str) -> Path:
    """The shipped teacher, checked against the sha256 pinned in the task's code."""
    path, pinned = shipped_path(task, arch), task.shipped_teachers[arch]
    actual = sha256_of(path) if path.is_file() else "missing"
    if actual != pinned:
        raise BenchError(f"the shipped {arch} teacher of task {task.name} at {path} is damaged or missing "
                         f"(sha256 {actual[:12]}, pinned {pinned[:12]}): reinstall dfkd-bench")
    return path


def locate(task: Task, arch: str) -> Path:
    """The checkpoint a run of ``task`` uses as its ``arch`` teacher.

    The cache wins (a teacher the user trained or imported) while it was made on this version of
    the task's data; otherwise the task's shipped teacher, so that every fresh install runs the
    very teacher the committed results were produced with.
    """
    cached = default_path(task, arch)
    stale = None
    if cached.is_file():
        checkpoint = safe_load(cached)
        version = checkpoint.get("task_version", task.version) if isinstance(checkpoint, dict) else task.version
        if version == task.version:
            return cached
        stale = (f"the cached {arch} teacher at {cached} was trained on version {version} of task {task.name} "
                 f"(now {task.version}): retrain it with 'bench teacher train --task {task.name} --arch {arch}'")
    if arch in task.shipped_teachers:
        return _shipped(task, arch)
    raise BenchError(stale or (
        f"no {arch} teacher for task {task.name} at {cached}. Train one with "
        f"'bench teacher train --task {task.name} --arch {arch}' or bring one with "
        f"'bench teacher import PATH --task {task.name} --arch {arch}'"))


def load(task: Task, arch: str, device: torch.device, path: str | Path | None = None) -> tuple[nn.Module, TeacherInfo]:
    """A frozen, eval-mode teacher from ``path``, else from :func:`locate`."""
    resolved = Path(path) if path else locate(task, arch)
    checkpoint = safe_load(resolved)
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise BenchError(f"teacher checkpoint {str(resolved)!r} holds no state_dict")
    model = task.build_model(arch)
    load_weights(model, state, f"teacher checkpoint {str(resolved)!r}")
    model.to(device).eval().requires_grad_(False)
    metrics = checkpoint.get("metrics") or {}
    return model, TeacherInfo(resolved, sha256_of(resolved), metrics.get(task.metric))


def import_checkpoint(task: Task, arch: str, source: str | Path, device: torch.device,
                      path: Path | None = None) -> TeacherInfo:
    """Bring a teacher from elsewhere: the reference's ``{'state_dict': ...}`` format or a bare
    state dict, loaded without executing anything. It is evaluated when the test split is
    present (its metric is then stored with it), and cached like a trained teacher."""
    checkpoint = safe_load(source)
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise BenchError(f"{str(source)!r} is not a checkpoint: expected a state dict or {{'state_dict': ...}}")
    state = checkpoint.get("state_dict", checkpoint)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BenchError(f"{str(source)!r} is not a checkpoint: its state_dict does not map names to tensors")
    model = task.build_model(arch)
    load_weights(model, state, f"checkpoint {str(source)!r}")
    metrics = task.evaluate(model.to(device), device) if task.has_test_set() else {}
    path = path or default_path(task, arch)
    atomic_save({"state_dict": model.state_dict(), "arch": arch, "task": task.name, "task_version": task.version,
                 "metrics": metrics, "source": str(source), "source_sha256": sha256_of(Path(source))}, path)
    return TeacherInfo(path, sha256_of(path), metrics.get(task.metric))


def torchvision_weights(arch: str) -> Path:
    """The file of torchvision's first released ImageNet weights for ``arch`` (``IMAGENET1K_V1``,
    what ``pretrained=True`` loads, as the reference does) in the torch hub cache, where
    ``torchvision.models`` puts a download; else the one-line error naming where to put it: no
    test and no run downloads."""
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(arch).IMAGENET1K_V1
    except (ValueError, AttributeError):
        raise BenchError(f"torchvision has no model {arch!r} with released weights") from None
    name = weights.url.rsplit("/", 1)[-1]
    path = Path(torch.hub.get_dir()) / "checkpoints" / name
    if not path.is_file():
        raise BenchError(f"torchvision's {arch} ImageNet weights ({weights}) are not in the torch hub cache: "
                         f"put {name} (from {weights.url}) at {path}")
    return path
