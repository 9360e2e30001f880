"""Shared fixtures. Every test session gets its own teacher cache (``DFKD_HOME``) unless one is
given, so the digits teacher is trained once per session and never read from a user's cache."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("DFKD_HOME", tempfile.mkdtemp(prefix="dfkd-home-"))
os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """In-process tests use tiny shapes: one thread is fastest, and keeps a busy 2-core machine
    (or CI running subprocesses beside them) from oversubscribing its cores."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def cpu():
    import torch
    return torch.device("cpu")


@pytest.fixture(scope="session")
def digits_teacher(cpu):
    """The cached digits teacher (trained on first use, about 20 s on 2 cores)."""
    from harness import teachers
    from tasks.digits import Digits
    return teachers.load(Digits(), "cnn_large", cpu)


def bench(*args: str, cwd: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})
