"""Stop requests (SIGTERM from a scheduler, Ctrl-C) that cannot be lost.

A handler that only raises ``KeyboardInterrupt`` can fire inside a weakref callback or a
``__del__`` (SQLAlchemy's, MLflow's), where Python prints the exception and drops it; the run
would then carry on and finish. The handler therefore also records the request, and the training
loops call :func:`check` at every step boundary, which raises it again there.
"""

from __future__ import annotations

import signal

_requested = False


def _request(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGTERM and SIGINT to a recorded stop request (ends the run KILLED, resumable)."""
    global _requested
    _requested = False
    signal.signal(signal.SIGTERM, _request)
    signal.signal(signal.SIGINT, _request)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was requested, even one whose first raise was dropped."""
    if _requested:
        raise KeyboardInterrupt
