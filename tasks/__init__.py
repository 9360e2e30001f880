"""Benchmark tasks, declared lazily so listing them imports no torch."""

from harness.registry import TASKS

TASKS.register("digits", "tasks.digits:Digits")
