"""End to end on CIFAR-10 through the command line, on a tiny dataset in torchvision's format:
import a (randomly initialised) WRN-40-2 teacher, run three data-free methods and vanilla KD at the
smoke budget into a temporary sqlite store, then read the leaderboard.

The fixture's md5 sums are not the official ones and the checksum bypass cannot cross into a
subprocess, so the CLI runs in process through ``CliRunner``."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from harness.cli import cli
from harness.engine import teachers
from harness.record.tracking import Tracker
from tasks.models.cifar import build
from tests.fixtures_cifar import bypass_checksum, write_cifar

METHODS = ["fast5", "cmi", "dafl", "kd"]
FINAL_METRICS = ["best/acc", "final/acc", "time/synthesis_s", "time/kd_s", "time/total_s", "synth/images",
                 "mem/synthesis_rss_growth_mb", "mem/kd_rss_growth_mb"]


def invoke(*args: str):
    outcome = CliRunner().invoke(cli, list(args))
    assert outcome.exit_code == 0, (outcome.output[-3000:], outcome.exception)
    return outcome


@pytest.mark.slow
def test_cifar10_methods_and_kd_to_the_leaderboard(tmp_path, monkeypatch):
    home, results = tmp_path / "home", tmp_path / "results"
    monkeypatch.setenv("DFKD_HOME", str(home))
    root = write_cifar(tmp_path / "data", "cifar10", n_train=40, n_test=20)
    bypass_checksum(monkeypatch)

    torch.manual_seed(0)
    source = tmp_path / "wrn40_2.pth"
    torch.save({"state_dict": build("wrn40_2", 10).state_dict(), "epoch": 0}, source)
    imported = invoke("teacher", "import", str(source), "--task", "cifar10", "--arch", "wrn40_2", "--device", "cpu",
                      "--data-root", str(root))
    assert "acc " in imported.stdout and "not evaluated" not in imported.stdout
    teacher_path = home / "teachers" / "cifar10" / "wrn40_2.pt"
    teacher_sha = teachers.sha256_of(teacher_path)
    teacher_acc = torch.load(teacher_path, weights_only=True)["metrics"]["acc"]

    done = invoke("run", "--methods", ",".join(METHODS), "--task", "cifar10", "--pairs", "wrn40_2-wrn16_1",
                  "--budget", "smoke", "--device", "cpu", "--data-root", str(root), "--results-dir", str(results),
                  "--quiet")
    assert done.stdout.count(": FINISHED (run ") == len(METHODS), done.stdout

    runs = Tracker(results).runs("cifar10", status=None)
    assert len(runs) == len(METHODS)
    runs = runs.set_index("tags.dfkd.method")
    assert set(runs.index) == set(METHODS)
    assert (runs["status"] == "FINISHED").all(), runs["status"].to_dict()
    for metric in FINAL_METRICS:
        assert runs[f"metrics.{metric}"].notna().all(), metric
    assert runs["metrics.best/acc"].between(0, 1).all()
    assert (runs["tags.dfkd.pair"] == "wrn40_2-wrn16_1").all()
    assert (runs["tags.dfkd.budget"] == "smoke").all()
    assert (runs["tags.dfkd.task"] == "cifar10").all()

    kd = runs.loc["kd"]
    assert kd["metrics.time/synthesis_s"] == 0
    assert kd["metrics.synth/images"] == 0
    for method in ("fast5", "cmi", "dafl"):
        assert runs.loc[method, "metrics.time/synthesis_s"] > 0, method
        assert runs.loc[method, "metrics.synth/images"] > 0, method

    fast5 = runs.loc["fast5"]
    assert fast5["run_name"] == "fast5/s0/wrn40_2-wrn16_1"
    assert fast5["tags.dfkd.teacher_sha256"] == teacher_sha
    assert (runs["tags.dfkd.teacher_sha256"] == teacher_sha).all()
    assert float(fast5["tags.dfkd.teacher_metric"]) == pytest.approx(teacher_acc)
    assert "budget smoke" in fast5["tags.dfkd.deviations"]
    assert "no reference settings" not in runs.loc["cmi", "tags.dfkd.deviations"]
    # fast5 smoke: 2 epochs x 1 round x 8 images.
    assert fast5["metrics.synth/images"] == 2 * 8

    board = invoke("leaderboard", "--task", "cifar10", "--results-dir", str(results), "--format", "csv")
    table = pd.read_csv(io.StringIO(board.stdout))
    # The teacher first, then baselines, then data-free methods (the leaderboard's row order).
    assert list(table["Method"]) == ["Teacher", "kd", "cmi", "dafl", "fast5"]
    assert "wrn40_2-wrn16_1" in table.columns
