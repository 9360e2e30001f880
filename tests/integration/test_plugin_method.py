"""A method from another package takes one file and one registry line (an entry point): it lists,
runs through the whole pipeline into the store and its leaderboard, with its own budget for a task
it cannot edit, and a budget it does not declare is the usual one-line error."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.record.tracking import Tracker

PLUGIN = '''"""KD on uniform noise: the simplest pool method, from outside dfkd-bench."""

from dataclasses import dataclass

import torch

from harness.core.config import DistillConfig
from harness.core.synthesizer import MethodSpec, SynthesisRound, Synthesizer


@dataclass(frozen=True)
class NoiseConfig(DistillConfig):
    pass


class NoiseSynthesizer(Synthesizer):
    settings_key = "noise"
    Config = NoiseConfig
    budgets = {"digits": {"paper": {}, "smoke": {"epochs": 2, "kd_steps": 4, "ep_steps": 4, "batch_size": 32,
                                               "synthesis_batch_size": 32, "eval_batch_size": 512}}}

    def synthesize(self, round_idx):
        n = self.config.synthesis_batch_size
        return SynthesisRound(torch.rand(n, *self.task.image_shape, device=self.device))


spec = MethodSpec(NoiseSynthesizer)
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> dict[str, str]:
    """An installed distribution in the making: the method's file and its entry-point line."""
    site = tmp_path_factory.mktemp("site")
    (site / "dfkd_noise.py").write_text(PLUGIN)
    dist = site / "dfkd_noise-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dfkd-noise\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[dfkd_bench.methods]\nnoise = dfkd_noise:spec\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
            "PYTHONUNBUFFERED": "1"}


def bench(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def test_the_plugin_is_listed_after_the_builtins(plugin):
    listing = bench(plugin, "list", "methods")
    assert listing.returncode == 0, listing.stderr
    names = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    assert names[-1] == "noise" and "fast5" in names


def test_the_plugin_runs_into_the_store_and_the_leaderboard(plugin, tmp_path):
    results = tmp_path / "results"
    done = bench(plugin, "run", "--methods", "noise", "--task", "digits", "--budget", "smoke", "--quiet",
                 "--device", "cpu", "--results-dir", str(results))
    assert done.returncode == 0, done.stderr
    assert "noise/s0/cnn_large-cnn_small: FINISHED" in done.stdout
    runs = Tracker(results, create=False).runs("digits")
    assert list(runs["tags.dfkd.method"]) == ["noise"]
    assert 0.0 <= float(runs["metrics.best/acc"].iloc[0]) <= 1.0
    assert runs["params.epochs"].iloc[0] == "2"  # the plugin's own smoke budget for digits
    board = bench(plugin, "leaderboard", "--task", "digits", "--results-dir", str(results))
    assert board.returncode == 0, board.stderr
    assert any(line.startswith("| noise") for line in board.stdout.splitlines())


def test_a_budget_the_plugin_does_not_declare_is_a_one_line_error(plugin, tmp_path):
    refused = bench(plugin, "run", "--methods", "noise", "--task", "digits", "--budget", "quick",
                    "--results-dir", str(tmp_path / "results"))
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "Error: task digits has no 'quick' budget for noise: add an entry to Digits.budgets (its 'quick' "
        "entries: " + refused.stderr.split("entries: ")[1].split(")")[0] + ") or to the method class's "
        "budgets['digits']")
    assert not (tmp_path / "results" / "mlflow.db").exists()
