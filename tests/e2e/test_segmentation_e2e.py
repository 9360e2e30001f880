"""Segmentation end to end: Fast-5 learns digits-seg through the CLI (the teacher trained on first
use); DFAD runs on an NYUv2-layout fixture and logs an mIoU; methods without segmentation support
refuse it."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from harness.cli import cli
from harness.record.tracking import Tracker
from tests.conftest import bench
from tests.fixtures_nyuv2 import write_nyuv2


@pytest.mark.slow
def test_fast5_learns_digits_seg_from_its_teacher_alone(tmp_path):
    """CI-sized: the quick budget cut to 24 rounds (the cosine schedule scaled to them)."""
    results = tmp_path / "results"
    done = bench("run", "--methods", "fast5", "--task", "digits-seg", "--device", "cpu", "--set", "epochs=24",
                 "--results-dir", str(results), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    run = Tracker(results).runs("digits-seg").iloc[0]
    assert float(run["tags.dfkd.teacher_metric"]) >= 0.90  # the bar for the teacher
    assert run["metrics.best/miou"] >= 0.35
    assert run["metrics.final/miou"] <= run["metrics.best/miou"]
    assert 0 < run["metrics.eval/pixel_acc"] <= 1
    assert run["metrics.time/synthesis_s"] > 0 and run["metrics.synth/images"] == 24 * 64


@pytest.mark.slow
def test_dfad_on_the_nyuv2_fixture_logs_an_miou(tmp_path, monkeypatch):
    from tasks.models.deeplab import build

    monkeypatch.setenv("DFKD_HOME", str(tmp_path / "home"))
    root = tmp_path / "data"
    write_nyuv2(root, n_train=4, n_test=2)
    teacher = tmp_path / "teacher.pth"
    torch.save({"state_dict": build("deeplabv3_resnet50", 13).state_dict()}, teacher)
    runner = CliRunner()
    imported = runner.invoke(cli, ["teacher", "import", str(teacher), "--task", "nyuv2", "--arch",
                                   "deeplabv3_resnet50", "--device", "cpu", "--data-root", str(root)])
    assert imported.exit_code == 0, imported.output
    results = tmp_path / "results"
    done = runner.invoke(cli, ["run", "--methods", "dfad", "--task", "nyuv2", "--budget", "smoke", "--device", "cpu",
                               "--data-root", str(root), "--results-dir", str(results), "--quiet"])
    assert done.exit_code == 0, done.output
    run = Tracker(results).runs("nyuv2").iloc[0]
    assert run["tags.dfkd.method"] == "dfad"
    assert 0.0 <= run["metrics.best/miou"] <= 1.0
    assert run["metrics.synth/images"] > 0


def test_methods_without_segmentation_refuse_it():
    outcome = CliRunner().invoke(cli, ["run", "--methods", "cmi", "--task", "nyuv2", "--quiet"])
    assert outcome.exit_code == 2
    assert outcome.stderr.startswith("Error: method 'cmi' does not support segmentation (task nyuv2). "
                                     "Methods that do: deepinv, dafl, dfad, fast, fast2, fast5, fast10, fast50")
