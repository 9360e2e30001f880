"""Who is running a cell, and whether that process is provably gone.

A heartbeat's age alone cannot tell a dead run from a slow one (a DeepInv epoch on a CPU can take
longer than any sensible threshold). So a run records its owner, ``host/boot/pid/start-time``, and
refreshes its heartbeat on a timer. ``--resume --force`` takes a RUNNING run over only when the
owner is gone: on the same machine (same host and boot), when no process with that pid and start
time exists; on another machine, when its heartbeat is older than the staleness threshold.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HEARTBEAT_TAG = "dfkd.heartbeat"
OWNER_TAG = "dfkd.owner"
HEARTBEAT_S = 30.0


def stale_after_s() -> float:
    """A RUNNING run of another machine whose heartbeat is older than this may be taken over."""
    return float(os.environ.get("DFKD_STALE_AFTER_S", 600))


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        return "-"


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None if no such process runs
    (a zombie, killed but not yet reaped, runs no more). Together with the pid it names one
    process: a recycled pid has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return "-"
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


@dataclass(frozen=True)
class Owner:
    host: str
    boot: str
    pid: int
    started: str

    def __str__(self) -> str:
        return f"{self.host}/{self.boot}/{self.pid}/{self.started}"

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        parts = str(text or "").rsplit("/", 3)
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]), parts[3])

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), _boot_id(), pid, process_start(pid) or "-")

    def on_this_machine(self) -> bool:
        me = Owner.me()
        return self.host == me.host and self.boot == me.boot

    def alive(self) -> bool:
        """Whether this owner's process still runs (only decidable on its own machine)."""
        if self.started == "-":  # no /proc: the pid alone
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return process_start(self.pid) == self.started


def takeover_refusal(owner_text: str, heartbeat: float, now: float | None = None) -> str | None:
    """Why a RUNNING run may not be taken over, or None when its owner is provably gone."""
    age = (now or time.time()) - heartbeat
    owner = Owner.parse(owner_text)
    if owner is not None and owner.on_this_machine():
        if owner.alive():
            return f"its process {owner.pid} on this machine is still running (heartbeat {age:.0f} s ago)"
        return None
    if age > stale_after_s():
        return None
    where = f"on {owner.host}" if owner else "of an unknown owner"
    return (f"its process {where} sent a heartbeat {age:.0f} s ago (taken over only after "
            f"{stale_after_s():.0f} s, DFKD_STALE_AFTER_S)")


class Heartbeat:
    """Refreshes a run's heartbeat every ``interval`` seconds from a daemon thread while a run is
    in progress, however long its epochs; a failed refresh is retried at the next beat."""

    def __init__(self, beat: Callable[[], None], interval: float = HEARTBEAT_S) -> None:
        self._beat, self._interval = beat, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dfkd-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception:  # the store is briefly unavailable: the next beat tries again
                pass

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """No beat is sent after this returns (a beat in flight finishes first)."""
        self._stop.set()
        self._thread.join(timeout=60)
