"""Shared fixtures. Every test session gets its own, empty teacher cache (``DFKD_HOME``) unless one
is given, so runs use the shipped teachers and never a user's cached one."""

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
    """The shipped digits teacher."""
    from harness.engine import teachers
    from tasks.digits import Digits
    return teachers.load(Digits(), "cnn_large", cpu)


def bench(*args: str, cwd: Path | None = None, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def pytest_addoption(parser):
    """Options of the benchmark suite (tests/benchmarks): tiny fp32 shapes by default, as in CI."""
    group = parser.getgroup("dfkd-bench benchmarks")
    group.addoption("--bench-shapes", choices=["tiny", "cifar"], default="tiny",
                    help="tiny: digits shapes (CI); cifar: CIFAR-100 ResNet-34/18 paper shapes "
                         "(CUDA, or a CPU with --bench-batch)")
    group.addoption("--bench-precision", default="fp32",
                    help="comma-separated precisions, each a case of every benchmark (fp32, bf16, fp16)")
    group.addoption("--bench-batch", type=int, default=None,
                    help="synthesis and KD batch size (default: 32 at tiny shapes, the paper's at cifar)")
    group.addoption("--bench-compile", action="store_true", help="torch.compile teacher and student, as --compile")
    group.addoption("--bench-device", default=None, help="default: cuda when available, else cpu")


def bench_precisions(config) -> list[str]:
    return config.getoption("--bench-precision").split(",")


def pytest_configure(config):
    from harness.core.precision import DTYPES
    bad = [name for name in bench_precisions(config) if name not in DTYPES]
    if bad:
        raise pytest.UsageError(f"unknown --bench-precision {bad[0]!r}. Valid: {', '.join(DTYPES)}")


def pytest_generate_tests(metafunc):
    """Every benchmark runs once per precision named by --bench-precision."""
    if "bench_precision" in metafunc.fixturenames:
        metafunc.parametrize("bench_precision", bench_precisions(metafunc.config))


@pytest.fixture(scope="session")
def bench_settings(request):
    """The benchmarks' shapes, batch size (None: the shapes' default), compilation and device."""
    import torch
    device = request.config.getoption("--bench-device") or ("cuda" if torch.cuda.is_available() else "cpu")
    return (request.config.getoption("--bench-shapes"), request.config.getoption("--bench-batch"),
            request.config.getoption("--bench-compile"), torch.device(device))


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(uri: str, process: subprocess.Popen, timeout: float) -> bool:
    """Poll an MLflow server's /health until it answers 200; False if it died or took too long."""
    import time
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False
