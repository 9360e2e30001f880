"""Name -> object registries for methods, baselines and tasks.

Entries are lazy ``"module:attr"`` strings so that listing names (``bench list``, ``bench
--help``) imports neither torch nor mlflow. Built-in entries are declared by the ``methods`` and
``tasks`` packages' ``__init__`` modules; third-party plugins add theirs through the entry-point
groups ``dfkd_bench.methods`` and ``dfkd_bench.tasks``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from harness.core.errors import BenchError, unknown

T = TypeVar("T")


@dataclass(frozen=True)
class About:
    """What tables and ``bench list`` say about an entry, known without importing it."""

    label: str = ""  # the display name ("Fast-5"); the registered name when empty
    paper: str = ""  # where the method comes from: authors, venue, year
    # The method whose projected paper-budget hours the speed-up column divides by (DeepInv's,
    # the slowest of the paper's comparisons).
    speedup_reference: bool = False
    docs: str = ""  # the anchor of the section of docs/methods.md that describes it


class Registry(Generic[T]):
    """A typed mapping from names (and aliases) to lazily imported objects."""

    def __init__(self, kind: str, builtins: str | None = None, entry_point_group: str | None = None,
                 check: Callable[[Any], bool] | None = None) -> None:
        self.kind = kind
        self._builtins = builtins
        self._group = entry_point_group
        self._check = check
        self._entries: dict[str, Any] = {}
        self._aliases: dict[str, str] = {}
        self._about: dict[str, About] = {}
        self._families: dict[str, str] = {}
        self._loaded_builtins = False

    def register(self, name: str, target: Any, aliases: tuple[str, ...] = (), about: About = About()) -> None:
        """Register ``target`` (an object or a lazy ``"module:attr"`` string) under ``name``.
        Registration order is the order of the paper's rows."""
        for key in (name, *aliases):
            if key in self._entries or key in self._aliases:
                raise ValueError(f"duplicate {self.kind} name {key!r}")
        if not isinstance(target, str):
            self._check_type(name, target)
        self._entries[name] = target
        self._about[name] = about
        module = target.partition(":")[0] if isinstance(target, str) else getattr(target, "__module__", "")
        self._families[name] = module.rpartition(".")[2]
        for alias in aliases:
            self._aliases[alias] = name

    def _ensure_loaded(self) -> None:
        if self._loaded_builtins:
            return
        self._loaded_builtins = True
        if self._builtins:
            importlib.import_module(self._builtins)
        if self._group:
            for ep in entry_points(group=self._group):
                if ep.name not in self._entries:
                    self.register(ep.name, ep.value)

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        self._ensure_loaded()
        return list(self._entries)

    def about(self, name: str) -> About:
        return self._about[self.canonical(name)]

    def label(self, name: str) -> str:
        return self.about(name).label or self.canonical(name)

    def family(self, name: str) -> str:
        """The module that implements the entry (a method's family is its file), without importing it."""
        return self._families[self.canonical(name)]

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases; unknown names raise."""
        self._ensure_loaded()
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        raise BenchError(unknown(self.kind, name, [*self._entries, *self._aliases]))

    def __contains__(self, name: str) -> bool:
        self._ensure_loaded()
        return name in self._entries or name in self._aliases

    def get(self, name: str) -> T:
        key = self.canonical(name)
        target = self._entries[key]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._check_type(key, target)
            self._entries[key] = target
        return target

    def _check_type(self, name: str, target: Any) -> None:
        if self._check is not None and not self._check(target):
            raise TypeError(f"{self.kind} {name!r} has the wrong type ({type(target).__name__})")


def _is_method_spec(obj: Any) -> bool:
    from harness.core.synthesizer import MethodSpec
    return isinstance(obj, MethodSpec)


def _is_task_class(obj: Any) -> bool:
    from harness.core.task import Task
    return isinstance(obj, type) and issubclass(obj, Task)


METHODS: Registry = Registry("method", "methods", "dfkd_bench.methods", _is_method_spec)
BASELINES: Registry = Registry("baseline", "methods", None, _is_method_spec)
TASKS: Registry = Registry("task", "tasks", "dfkd_bench.tasks", _is_task_class)


def task_of(spec: str) -> str:
    """The registered task of a task spec: ``imagenet`` for ``imagenet:image_size=64``."""
    return spec.split(":")[0]
