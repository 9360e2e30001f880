"""Compatibility import: this module moved to ``harness.core.task`` (plugins written against the
old flat layout keep working)."""

from harness.core.task import *  # noqa: F401,F403
