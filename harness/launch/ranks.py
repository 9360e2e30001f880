"""``bench run --nproc-per-node N``: a cell's ranks on this machine, started through PyTorch's own
launcher.

The command runs again as ``python -m torch.distributed.run --standalone --nproc-per-node N -m
harness.cli run ... --world-size N``: N processes, each of which joins the cell's process group
(``harness.engine.distributed.detect``). This process only waits for the launcher. A stop it
receives (SIGTERM from a scheduler, Ctrl-C) goes to the launcher, once: the launcher runs in a
session of its own, so a terminal's Ctrl-C does not reach it a second time, and it passes the stop
to every rank; the ranks stop together at their next round boundary (the run KILLED, resumable).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

# How long the launcher waits for stopping ranks before it kills them: a rank stops at its next
# round boundary, not at once (torchrun's own default is 30 s). Read by torchrun >= 2.9.
SHUTDOWN_S = 900
STOPS = (signal.SIGTERM, signal.SIGINT)
INTERRUPTED = 130  # what `bench run` exits with when stopped, on one process or on many


def command(nproc: int, cli_args: list[str]) -> list[str]:
    """The launcher's command line: ``cli_args`` are `bench`'s words, ``run`` and its flags."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "-m", "harness.cli", *cli_args, "--world-size", str(nproc)]


def relaunch(nproc: int, cli_args: list[str]) -> int:
    """Run ``bench`` ``cli_args`` on ``nproc`` ranks and wait; the exit code: the launcher's, or
    130 when this process was stopped and passed the stop on."""
    env = {**os.environ, "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": os.environ.get("TORCH_ELASTIC_SHUTDOWN_TIMEOUT",
                                                                           str(SHUTDOWN_S))}
    launcher = subprocess.Popen(command(nproc, cli_args), env=env, start_new_session=True)
    stopped: list[int] = []

    def forward(signum: int, frame: object) -> None:
        if not stopped:  # one stop is enough; a second would interrupt the launcher's own shutdown
            launcher.send_signal(signum)
        stopped.append(signum)

    previous = {stop: signal.signal(stop, forward) for stop in STOPS}
    try:
        code = launcher.wait()  # a handled signal does not interrupt the wait (PEP 475)
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
    return INTERRUPTED if stopped and code != 0 else code
