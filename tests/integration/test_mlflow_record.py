"""The record reads well in the MLflow UI: experiments open in the model-training view, run names
show the seed early, sample grids are large enough to see (and the last one is a stable
artifact), memory figures say what they measure, plots live in a reports experiment beside the
runs, and `bench serve` prints the views to open and forwards the host and CORS allow-lists."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import urllib.request

import pytest
from PIL import Image

from harness.record.tracking import Tracker
from tests.conftest import bench, free_port, wait_until_healthy


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    results = tmp_path_factory.mktemp("record") / "results"
    done = bench("run", "--methods", "fast2,kd,dafl", "--task", "digits", "--budget", "smoke", "--quiet",
                 "--device", "cpu", "--results-dir", str(results))
    assert done.returncode == 0, done.stderr
    return results


def test_experiments_open_in_the_model_training_view_and_names_show_the_seed(store):
    tracker = Tracker(store, create=False)
    assert tracker.client.get_experiment_by_name("dfkd/digits").tags["mlflow.experimentKind"] == \
        "custom_model_development"
    names = set(tracker.runs("digits")["run_name"])
    assert names == {"fast2/s0/cnn_large-cnn_small", "kd/s0/cnn_large-cnn_small", "dafl/s0/cnn_large-cnn_small"}


def test_sample_grids_are_at_least_256_px_wide_and_the_last_is_an_artifact(store):
    tracker = Tracker(store, create=False)
    runs = tracker.runs("digits").set_index("tags.dfkd.variant")
    fast2 = runs.loc["fast2", "run_id"]
    last = Image.open(io.BytesIO(tracker.last_samples(fast2)))
    assert last.width >= 256 and last.height >= 64
    series = [a.path for a in tracker.client.list_artifacts(fast2, "images") if a.path.endswith(".png")]
    assert series
    with_images = tracker.client.download_artifacts(fast2, series[0], str(store.parent))
    assert Image.open(with_images).width >= 256
    assert tracker.last_samples(runs.loc["kd", "run_id"]) is None  # KD on real data synthesises nothing
    generated = Image.open(io.BytesIO(tracker.last_samples(runs.loc["dafl", "run_id"])))  # its last KD batch
    assert generated.width >= 256


def test_memory_figures_are_per_phase_and_named_for_what_they_measure(store):
    runs = Tracker(store, create=False).runs("digits").set_index("tags.dfkd.variant")
    assert "metrics.mem/peak_mb" not in runs.columns
    assert runs.loc["fast2", "metrics.mem/synthesis_rss_growth_mb"] >= 0
    assert runs.loc["kd", "metrics.mem/synthesis_rss_growth_mb"] == 0  # a baseline synthesises nothing
    assert runs.loc["kd", "metrics.mem/kd_rss_growth_mb"] >= 0


def test_plots_go_to_the_reports_experiment_not_among_the_runs(store):
    done = bench("plot", "--task", "digits", "--results-dir", str(store))
    assert done.returncode == 0, done.stderr
    client = Tracker(store, create=False).client
    reports = client.get_experiment_by_name("dfkd/digits/reports")
    (report,) = client.search_runs([reports.experiment_id])
    assert {a.path for a in client.list_artifacts(report.info.run_id, "plots")} >= {"plots/digits-pareto.png"}
    cells = client.search_runs([client.get_experiment_by_name("dfkd/digits").experiment_id])
    assert len(cells) == 3 and all(r.data.tags.get("dfkd.kind") != "report" for r in cells)


def test_serve_prints_the_views_and_answers_an_allowed_host_name(store):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--port", str(port),
                                "--results-dir", str(store), "--allowed-hosts", f"tracking-host:{port},tracking-host"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        base = f"http://127.0.0.1:{port}"
        assert wait_until_healthy(base, process, timeout=120), "bench serve did not start"
        # MLflow refuses a Host it does not know with 403 on the API and UI (not on /health)
        request = urllib.request.Request(f"{base}/api/2.0/mlflow/experiments/search?max_results=1",
                                         headers={"Host": f"tracking-host:{port}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        process.terminate()
        printed = process.communicate(timeout=30)[1]
    experiment = Tracker(store, create=False).experiment_id("digits", create=False)
    assert f"dfkd/digits runs: {base}/#/experiments/{experiment}/runs?workflowType=machine_learning" in printed
    assert f"dfkd/digits compare, latest run of each variant: {base}/#/compare-runs?runs=[" in printed
    assert '&workflowType=machine_learning' in printed.split("compare, latest run of each variant: ")[1]
    assert "reports" not in printed
