"""The cluster set-up on one machine: `bench serve` on PostgreSQL, and a 4-cell local sweep
(`--jobs 2`) logging to it over HTTP; the leaderboard read back has every cell and its metrics.

`.ci/run` starts PostgreSQL and sets DFKD_TEST_POSTGRES_URI (a server URI whose user may create
databases); without it (e.g. a laptop) the test skips."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import uuid

import pytest

from harness.record.tracking import Tracker
from tests.conftest import bench, free_port, wait_until_healthy

SERVER_URI = os.environ.get("DFKD_TEST_POSTGRES_URI")
pytestmark = pytest.mark.skipif(not SERVER_URI, reason="DFKD_TEST_POSTGRES_URI is not set "
                                                       "(.ci/run starts PostgreSQL and sets it)")


@pytest.fixture
def database():
    """A fresh database, dropped afterwards: a re-run must not find the cells of the last one."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"dfkd_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(SERVER_URI, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    yield make_url(SERVER_URI).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def server(database, tmp_path):
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--backend-store-uri", database,
                                "--port", str(port), "--results-dir", str(tmp_path / "server")],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    if not wait_until_healthy(uri, process, timeout=180):
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("bench serve did not start: " + (tmp_path / "serve.log").read_text()[-2000:])
    yield uri
    os.killpg(process.pid, signal.SIGTERM)  # the server and its workers
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


def test_a_sweep_logs_over_http_to_a_postgresql_backed_server(server, tmp_path, digits_teacher):
    done = bench("sweep", "--methods", "fast2,dafl", "--tasks", "digits", "--seeds", "0,1", "--budget", "smoke",
                 "--device", "cpu", "--jobs", "2", "--results-dir", str(tmp_path / "results"),
                 "--tracking-uri", server, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not (tmp_path / "results" / "mlflow.db").exists()  # everything went to the server

    runs = Tracker(tmp_path / "client", server).runs("digits")
    assert sorted(zip(runs["tags.dfkd.method"], runs["tags.dfkd.seed"])) == [
        ("dafl", "0"), ("dafl", "1"), ("fast2", "0"), ("fast2", "1")]
    for metric in ("best/acc", "final/acc", "time/synthesis_s", "time/total_s", "synth/images"):
        assert runs[f"metrics.{metric}"].notna().all(), metric

    board = bench("leaderboard", "--task", "digits", "--format", "csv", "--tracking-uri", server)
    assert board.returncode == 0, board.stderr
    rows = {row["Method"]: row for row in csv.DictReader(io.StringIO(board.stdout))}
    for method in ("fast2", "dafl"):
        assert "(n=2)" in rows[method]["cnn_large-cnn_small"], rows
