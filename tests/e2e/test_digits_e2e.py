"""End to end through the real CLI into a temporary sqlite store: fast5 at the quick budget and
one DeepInversion round at a full step count (1,000), then the leaderboard."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from harness.record.tracking import Tracker
from tests.conftest import bench

FINAL_METRICS = ["best/acc", "final/acc", "time/synthesis_s", "time/kd_s", "time/total_s",
                 "time/projected_paper_synthesis_h", "synth/images", "synth/images_per_s",
                 "mem/synthesis_rss_growth_mb", "mem/kd_rss_growth_mb"]
EPOCH_METRICS = ["eval/acc", "eval/top5", "train/kd_loss", "time/synthesis_s_cum"]


@pytest.mark.slow
def test_fast5_and_deepinv_on_digits(tmp_path):
    results = tmp_path / "results"
    done = bench("run", "--methods", "fast5,deepinv:g_steps=1000:epochs=1", "--task", "digits",
                 "--results-dir", str(results), "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]

    runs = Tracker(results).runs("digits", status=None).set_index("tags.dfkd.method")
    assert set(runs.index) == {"fast5", "deepinv"}
    assert (runs["status"] == "FINISHED").all()
    for metric in FINAL_METRICS + EPOCH_METRICS:
        assert runs[f"metrics.{metric}"].notna().all(), metric
    fast5, deepinv = runs.loc["fast5"], runs.loc["deepinv"]
    assert fast5["tags.dfkd.variant"] == "fast5"
    assert deepinv["tags.dfkd.variant"] == "deepinv:epochs=1:g_steps=1000"
    assert fast5["run_name"] == "fast5/s0/cnn_large-cnn_small"
    assert "budget quick" in fast5["tags.dfkd.deviations"]
    assert float(fast5["tags.dfkd.teacher_metric"]) >= 0.97
    assert len(fast5["tags.dfkd.teacher_sha256"]) == 64

    assert fast5["metrics.best/acc"] >= 0.85
    assert fast5["metrics.synth/images"] == 44 * 128
    per_image = runs["metrics.time/synthesis_s"] / runs["metrics.synth/images"]
    assert per_image["deepinv"] / per_image["fast5"] >= 50, per_image.to_dict()

    history = Tracker(results).metric_history(fast5["run_id"], "eval/acc")
    assert sorted(step for step, _ in history) == list(range(44))

    board = bench("leaderboard", "--task", "digits", "--format", "csv", "--results-dir", str(results))
    assert board.returncode == 0, board.stderr
    table = pd.read_csv(io.StringIO(board.stdout))
    assert list(table["Method"]) == ["Teacher", "deepinv:epochs=1:g_steps=1000", "fast5"]
