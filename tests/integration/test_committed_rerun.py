"""A committed run re-runs on a fresh clone: its record comes from the committed export, its
teacher is the shipped one (same sha256), no tracking store or teacher cache is needed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.record.tracking import Tracker
from tests.conftest import bench

EXPORT = Path(__file__).resolve().parents[2] / "results" / "runs" / "digits-few-step.csv"
SHORTER = ["--set", "epochs=2", "--set", "kd_steps=2", "--set", "ep_steps=2", "--set", "synthesis_batch_size=16",
           "--set", "batch_size=16"]


def test_a_committed_run_reruns_from_its_export_with_the_shipped_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("DFKD_HOME", str(tmp_path / "fresh-home"))
    committed = pd.read_csv(EXPORT, dtype=str)
    original = committed[committed["tags.dfkd.variant"] == "fast2"].iloc[0]
    results = tmp_path / "results"
    done = bench("rerun", original["run_id"], "--from", str(EXPORT), *SHORTER, "--device", "cpu", "--quiet",
                 "--results-dir", str(results))
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"re-run of {original['run_id']}" in done.stdout
    rerun = Tracker(results).runs("digits").iloc[0]
    assert rerun["tags.dfkd.rerun_of"] == original["run_id"]
    for tag in ("teacher_sha256", "variant", "seed", "pair", "budget"):
        assert rerun[f"tags.dfkd.{tag}"] == original[f"tags.dfkd.{tag}"], tag
    assert rerun["params.epochs"] == "2" and rerun["params.g_steps"] == original["params.g_steps"]


def test_rerun_of_a_run_the_export_lacks_is_one_line(tmp_path):
    done = bench("rerun", "0123456789abcdef", "--from", str(EXPORT), "--results-dir", str(tmp_path / "r"))
    assert done.returncode == 2
    assert done.stderr == f"Error: no run '0123456789abcdef' in the export '{EXPORT}'\n"
    assert not (tmp_path / "r").exists()
