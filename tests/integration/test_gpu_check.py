"""scripts/gpu_check.sh, the one script for a lent GPU machine: without CUDA it refuses in one line
and writes nothing; every `bench` command in it names a real subcommand and real options (a typo
would otherwise surface only on the GPU, where time is scarce)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
import torch

from harness.cli import cli

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.sh"


def bench_commands() -> list[list[str]]:
    text = re.sub(r"\\\n\s*", " ", SCRIPT.read_text())  # join continued lines
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("bench ")]
    return [shlex.split(line.split("|")[0].replace("$", ""))[1:] for line in lines]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for a machine without CUDA")
def test_without_cuda_the_script_refuses_in_one_line(tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == "Error: no CUDA device here; scripts/gpu_check.sh is for a machine with a GPU"
    assert not (tmp_path / "out").exists()


def test_every_bench_command_in_the_script_exists_with_its_options():
    commands = bench_commands()
    assert [words[0] for words in commands] == ["profile", "run", "leaderboard"]
    for words in commands:
        command = cli.commands[words[0]]
        known = {opt for param in command.params for opt in param.opts}
        flags = [word for word in words[1:] if word.startswith("--")]
        assert flags and set(flags) <= known, (words[0], set(flags) - known)
