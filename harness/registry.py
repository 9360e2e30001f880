"""Name -> object registries for methods, baselines and tasks.

Entries are lazy ``"module:attr"`` strings so that listing names (``bench list``, ``bench
--help``) imports neither torch nor mlflow. Built-in entries are declared by the ``methods`` and
``tasks`` packages' ``__init__`` modules; third-party plugins add theirs through the entry-point
groups ``dfkd_bench.methods`` and ``dfkd_bench.tasks``.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, TypeVar

from harness.errors import BenchError

T = TypeVar("T")


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
        self._loaded_builtins = False

    def register(self, name: str, target: Any, aliases: tuple[str, ...] = ()) -> None:
        """Register ``target`` (an object or a lazy ``"module:attr"`` string) under ``name``."""
        for key in (name, *aliases):
            if key in self._entries or key in self._aliases:
                raise ValueError(f"duplicate {self.kind} name {key!r}")
        if not isinstance(target, str):
            self._check_type(name, target)
        self._entries[name] = target
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
        self._ensure_loaded()
        return list(self._entries)

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


def unknown(kind: str, name: str, choices: list[str]) -> str:
    """The one-line message for an unknown name, with a suggestion and the valid choices."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.6)
    # Among similar names prefer the fewest edits, then the same length ('fast6' -> 'fast5').
    close.sort(key=lambda c: (_edits(name, c), abs(len(c) - len(name))))
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Valid: {', '.join(sorted(choices))}"


def _edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _is_method_spec(obj: Any) -> bool:
    from harness.synthesizer import MethodSpec
    return isinstance(obj, MethodSpec)


def _is_task_class(obj: Any) -> bool:
    from harness.task import Task
    return isinstance(obj, type) and issubclass(obj, Task)


METHODS: Registry = Registry("method", "methods", "dfkd_bench.methods", _is_method_spec)
BASELINES: Registry = Registry("baseline", "methods", None, _is_method_spec)
TASKS: Registry = Registry("task", "tasks", "dfkd_bench.tasks", _is_task_class)
