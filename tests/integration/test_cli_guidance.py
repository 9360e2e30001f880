"""The CLI guides a new user: a version, examples under every command, the commands in the
workflow's order with whole summaries, completion of the registry's names for both entry points,
and after `bench run` a summary of its cells, where they went and what to run next; progress in
a log is one line per epoch, not a redrawn bar."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from harness import __version__
from harness.cli import cli
from tests.conftest import bench

BIN = Path(sys.executable).parent


def commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def test_version():
    done = bench("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"dfkd-bench, version {__version__}"


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in commands(cli)])
def test_every_command_shows_examples_of_itself(path):
    done = bench(*path.split(), "--help")
    assert done.returncode == 0
    examples = done.stdout.split("Examples:\n")[1].splitlines()
    calls = [line.strip() for line in examples if line.strip().startswith("bench ")]
    assert calls and all(call.startswith(f"bench {path.split()[0]}") for call in calls), calls


def test_help_lists_the_commands_in_the_workflows_order_with_whole_summaries():
    done = bench("--help")
    listed = [line.split()[0] for line in done.stdout.split("Commands:\n")[1].split("\n\n")[0].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert listed == ["list", "config", "run", "sweep", "leaderboard", "plot", "export", "serve", "rerun",
                      "teacher", "profile"]
    assert "..." not in done.stdout.split("Commands:")[1]


def complete(program: str, words: str) -> list[str]:
    env_var = f"_{program.replace('-', '_').upper()}_COMPLETE"
    done = subprocess.run([str(BIN / program)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, env_var: "bash_complete", "COMP_WORDS": words,
                               "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))})
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


@pytest.mark.parametrize("program", ["bench", "dfkd-bench"])
def test_completion_offers_methods_tasks_and_the_tasks_pairs_for_both_entry_points(program):
    assert shutil.which(program, path=str(BIN)), f"{program} is not installed: pip install -e . makes both"
    assert set(complete(program, f"{program} run --methods fast5,cm")) == {"fast5,cmi"}
    assert {"fast2", "fast5", "fast10", "fast50", "fast"} <= set(complete(program, f"{program} run --methods fa"))
    assert "fashion-mnist" in complete(program, f"{program} run --task fa")
    assert complete(program, f"{program} run --task cifar100 --pairs resnet34-") == ["resnet34-resnet18"]
    source = subprocess.run([str(BIN / program)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, f"_{program.replace('-', '_').upper()}_COMPLETE": "bash_source"})
    assert f"complete -o nosort -F _{program.replace('-', '_')}_completion {program}" in source.stdout


def test_bench_run_ends_with_a_summary_and_logs_one_line_per_epoch(tmp_path):
    results = tmp_path / "results"
    done = bench("run", "--methods", "kd,fast2", "--task", "digits", "--budget", "smoke", "--device", "cpu",
                 "--results-dir", str(results))
    assert done.returncode == 0, done.stderr
    summary = done.stdout.split("\n\n", 1)[1]
    assert summary.splitlines()[0].split() == ["cell", "metric", "synthesis", "status", "run"]
    rows = {line.split()[0]: line for line in summary.splitlines()[2:4]}
    assert set(rows) == {"kd/s0/cnn_large-cnn_small", "fast2/s0/cnn_large-cnn_small"}
    assert "best acc " in rows["fast2/s0/cnn_large-cnn_small"] and " %" in rows["fast2/s0/cnn_large-cnn_small"]
    assert f"Runs are in sqlite:///{results.resolve()}/mlflow.db (experiment dfkd/digits). Next:" in summary
    assert f"bench leaderboard --task digits --results-dir {results}" in summary
    # stderr is a pipe here: one line per epoch, no carriage-return redraws
    assert "\r" not in done.stderr
    epochs = [line for line in done.stderr.splitlines() if line.startswith("fast2/s0/cnn_large-cnn_small: epoch ")]
    assert [line.split()[2] for line in epochs] == ["1/2", "2/2"]
