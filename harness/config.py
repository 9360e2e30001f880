"""Compatibility import: this module moved to ``harness.core.config`` (plugins written against the
old flat layout keep working)."""

from harness.core.config import *  # noqa: F401,F403
