"""Against a real ``mlflow server`` process on 127.0.0.1 (sqlite backend): a run logged over HTTP
is found by ``bench leaderboard --tracking-uri http://...``; and ``bench rerun`` of a smoke run
reproduces its resolved config and seed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.engine.plan import plan_runs
from harness.engine.runner import execute
from harness.record.tracking import Tracker
from tests.conftest import bench, free_port, wait_until_healthy


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    process = subprocess.Popen([mlflow, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                                "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                                "--artifacts-destination", str(tmp_path / "server-artifacts")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    if not wait_until_healthy(uri, process, timeout=120):
        process.terminate()
        pytest.fail("mlflow server did not start within 120 s")
    yield uri
    process.terminate()
    process.wait(timeout=30)


def test_a_run_logged_over_http_is_on_the_leaderboard(mlflow_server, tmp_path, digits_teacher):
    spec = plan_runs("fast2", "digits", budget="smoke")[0]
    run_id = execute(spec, Tracker(tmp_path / "unused", mlflow_server), "cpu", show_progress=False)
    board = bench("leaderboard", "--task", "digits", "--format", "csv", "--tracking-uri", mlflow_server)
    assert board.returncode == 0, board.stderr
    assert "fast2" in board.stdout
    assert Tracker(tmp_path, mlflow_server).get_run(run_id).info.status == "FINISHED"


def test_rerun_reproduces_config_and_seed(tmp_path, digits_teacher):
    results = tmp_path / "results"
    tracker = Tracker(results)
    spec = plan_runs("fast2:adv=0.5", "digits", seeds="3", budget="smoke", sets=("lr=0.07",))[0]
    original = execute(spec, tracker, "cpu", show_progress=False)
    done = bench("rerun", original, "--device", "cpu", "--quiet", "--results-dir", str(results))
    assert done.returncode == 0, done.stderr[-2000:]
    runs = tracker.runs("digits").set_index("run_id")
    rerun = runs[runs["tags.dfkd.rerun_of"] == original]
    assert len(rerun) == 1
    params = [c for c in runs.columns if c.startswith("params.")]
    assert rerun[params].iloc[0].equals(runs.loc[original, params])
    for tag in ("dfkd.seed", "dfkd.grid_key", "dfkd.variant", "dfkd.teacher_sha256"):
        assert rerun[f"tags.{tag}"].iloc[0] == runs.loc[original, f"tags.{tag}"]


def test_rerun_of_an_unknown_run_is_a_one_line_error(tmp_path):
    Tracker(tmp_path / "results").experiment_id("digits")
    done = bench("rerun", "0123456789abcdef", "--results-dir", str(tmp_path / "results"))
    assert done.returncode == 2
    assert done.stderr.strip().startswith("Error: no run '0123456789abcdef' in the tracking store")
