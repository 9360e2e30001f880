"""Bad input: a one-line error naming the bad value (and the valid choices), exit code 2, and
nothing written to the tracking store."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from harness.cli import cli

CASES = [
    (["--methods", "fast6"], "unknown method 'fast6'. Did you mean 'fast5'? Valid:"),
    (["--methods", "fast5", "--task", "digitz"], "unknown task 'digitz'. Did you mean 'digits'? Valid: cifar10"),
    (["--methods", "fast5", "--pairs", "resnet34-resnet18"], "unknown pair for task digits 'resnet34-resnet18'"),
    (["--methods", "fast5", "--budget", "huge"], "unknown budget 'huge'. Valid: paper, quick, smoke"),
    (["--methods", "fast5", "--set", "nope=1"], "unknown config field 'nope' in --set"),
    (["--methods", "fast5:nope=1"], "unknown config field 'nope' for FastMetaConfig (from variant)"),
    (["--methods", "fast5", "--set", "lr"], "malformed --set 'lr': expected field=value"),
    (["--methods", "fast5:g_steps"], "malformed variant field in 'fast5:g_steps'"),
    (["--methods", "fast5,,deepinv"], "malformed method list 'fast5,,deepinv'"),
    (["--methods", "fast5", "--set", "g_steps=abc"], "invalid value 'abc' for g_steps: expected int"),
    (["--methods", "fast5", "--set", "g_steps=-3"], "invalid value -3 for g_steps: must be >= 1"),
    (["--methods", "fast5", "--set", "batch_size=0"], "invalid value 0 for batch_size: must be >= 1"),
    (["--methods", "deepinv", "--set", "select=worst"], "invalid value 'worst' for select. Valid: last, best"),
    (["--methods", "fast5", "--seeds", "a,b"], "malformed seed list 'a,b'"),
    (["--methods", "fast5", "--device", "gpu"], "invalid device 'gpu'. Valid: auto, cpu, cuda, cuda:N"),
]
if not torch.cuda.is_available():
    CASES.append((["--methods", "fast5", "--device", "cuda:1"], "device 'cuda:1' is not available"))


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_logs_nothing(args, message, tmp_path):
    results = tmp_path / "results"
    outcome = CliRunner().invoke(cli, ["run", *args, "--results-dir", str(results), "--quiet"])
    assert outcome.exit_code == 2, outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert not (results / "mlflow.db").exists()


def test_config_show_names_the_source_of_every_field():
    outcome = CliRunner().invoke(cli, ["config", "show", "--method", "deepinv:g_steps=5", "--set", "lr=0.05"])
    assert outcome.exit_code == 0, outcome.output
    rows = {line.split("|")[1].strip(): line.split("|")[3].strip()
            for line in outcome.stdout.splitlines() if line.startswith("| ") and "field" not in line}
    assert rows["g_steps"] == "variant"
    assert rows["lr"] == "--set"
    assert rows["epochs"] == "budget"
    assert rows["bn"] == "method default"


def test_list_pairs_and_tasks():
    assert CliRunner().invoke(cli, ["list", "tasks"]).stdout.split() == ["digits", "cifar10", "cifar100", "nyuv2"]
    pairs = CliRunner().invoke(cli, ["list", "pairs", "--task", "digits"]).stdout
    assert "cnn_large-cnn_small" in pairs
