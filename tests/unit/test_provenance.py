"""harness.record.provenance.git_state: a run's commit identifies its code exactly, the committed
results aside (a table script exports one table before it runs the next)."""

import subprocess
from pathlib import Path

import pytest

from harness.record.provenance import git_state


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture()
def checkout(tmp_path: Path) -> Path:
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "results" / "runs" / "digits.csv").write_text("a\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "init")
    return tmp_path


def test_a_clean_checkout_is_clean(checkout: Path) -> None:
    state = git_state(checkout)
    assert (state.dirty, state.diff_sha) == ("false", "")
    assert len(state.sha) == 40


def test_results_written_by_a_script_leave_the_code_clean(checkout: Path) -> None:
    (checkout / "results" / "runs" / "digits.csv").write_text("b\n")  # a table re-exported
    (checkout / "results" / "runs" / "fashion-mnist.csv").write_text("c\n")  # a new table
    assert git_state(checkout).dirty == "false"


def test_a_changed_or_new_code_file_is_dirty_with_a_hash_of_the_difference(checkout: Path) -> None:
    (checkout / "harness" / "code.py").write_text("x = 2\n")
    changed = git_state(checkout)
    assert changed.dirty == "true" and len(changed.diff_sha) == 12
    (checkout / "harness" / "new.py").write_text("y = 1\n")
    added = git_state(checkout)
    assert added.dirty == "true" and added.diff_sha != changed.diff_sha


def test_outside_a_checkout_everything_is_unknown(tmp_path: Path) -> None:
    state = git_state(tmp_path)
    assert (state.sha, state.dirty) == ("unknown", "unknown")
