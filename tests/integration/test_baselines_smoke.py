"""The data-backed baselines (teacher, scratch, kd) at the smoke budget through the real runner:
each finishes with the full MLflow record, zero synthesis time and zero synthesised images."""

from __future__ import annotations

import pytest

from harness.core.registry import BASELINES
from harness.engine.plan import plan_runs
from harness.engine.runner import execute
from harness.record.tracking import Tracker


def test_registry_lists_the_three_baselines():
    assert BASELINES.names() == ["teacher", "scratch", "kd"]


@pytest.mark.parametrize("name", ["teacher", "scratch", "kd"])
def test_baseline_logs_the_same_record(name, tmp_path, digits_teacher):
    tracker = Tracker(tmp_path / "results")
    spec = plan_runs(name, "digits", budget="smoke")[0]
    assert spec.is_baseline
    run_id = execute(spec, tracker, "cpu", show_progress=False)
    run = tracker.get_run(run_id)
    assert run.info.status == "FINISHED"
    metrics = run.data.metrics
    assert metrics["time/synthesis_s"] == 0.0
    assert metrics["synth/images"] == 0.0
    assert 0.0 <= metrics["best/acc"] <= 1.0
    assert metrics["best/acc"] >= metrics["final/acc"]
    assert run.data.tags["dfkd.method"] == name
    if name == "teacher":
        assert metrics["best/acc"] == pytest.approx(digits_teacher[1].metric)
    else:
        assert metrics["time/kd_s"] > 0


def test_baselines_refuse_data_free_only_fields():
    from harness.core.errors import BenchError
    with pytest.raises(BenchError, match="unknown config field 'g_steps'"):
        plan_runs("scratch:g_steps=3", "digits")
