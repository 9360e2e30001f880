"""Compatibility import: this module moved to ``harness.core.synthesizer`` (plugins written against the
old flat layout keep working)."""

from harness.core.synthesizer import *  # noqa: F401,F403
