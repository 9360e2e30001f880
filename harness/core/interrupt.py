"""Stop requests (SIGTERM from a scheduler, Ctrl-C) that cannot be lost, and never tear a store write.

A handler that only raises ``KeyboardInterrupt`` can fire inside a weakref callback or a
``__del__`` (SQLAlchemy's, MLflow's), where Python prints the exception and drops it; the run
would then carry on and finish. The handler therefore also records the request, and the training
loops call :func:`check` at every step boundary, which raises it again there. Raised in the middle
of a tracking-store write, it could leave an sqlite transaction open that locks the store for the
rest of the process; store writes run inside :func:`deferred`, where a stop request waits until
the write is complete.

A run across processes must stop on every rank at the same step boundary, or one rank would leave
a collective the others wait in. There (:func:`share`) a signal only records the request, and
:func:`check` raises on every rank at once when any of them has one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_requested = False
_pending = False  # requested inside a deferred block: raised when the block ends
_critical = 0
_agree: Callable[[bool], bool] | None = None  # a run across processes: whether any rank has a request


def _request(signum, frame) -> None:
    global _requested, _pending
    _requested = True
    if _agree is not None:  # raised at the next check, on every rank together
        return
    if _critical:
        _pending = True
        return
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGTERM and SIGINT to a recorded stop request (ends the run KILLED, resumable)."""
    global _requested, _pending
    _requested = _pending = False
    signal.signal(signal.SIGTERM, _request)
    signal.signal(signal.SIGINT, _request)


def share(agree: Callable[[bool], bool] | None) -> None:
    """Make stops collective: ``agree`` takes this process's request and returns whether any rank
    has one (a collective every rank calls at the same :func:`check`); None ends that."""
    global _agree
    _agree = agree


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was requested, even one whose first raise was dropped;
    in a run across processes, if any rank's was."""
    global _requested
    if _agree is not None:
        _requested = _agree(_requested)
    if _requested:
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """A block the main thread completes before a stop request is raised (signals only reach the
    main thread; other threads' blocks are not deferred)."""
    global _critical, _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _critical += 1
    try:
        yield
    finally:
        _critical -= 1
    if not _critical and _pending:
        _pending = False
        raise KeyboardInterrupt
