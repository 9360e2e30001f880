"""A table continued on another machine: a part file is accepted only from the code that runs now,
its cells are skipped by the sweep and kept by the export."""

import pandas as pd
import pytest

from harness.core.errors import BenchError
from harness.record.provenance import GitState
from harness.report import parts
from harness.report.exports import export

HERE = GitState("a" * 40, "false", "")


def write_part(path, rows):
    frame = pd.DataFrame([{"run_id": run_id, "run_name": f"fast5/seed{i}", "status": "FINISHED", "start_time": i,
                           parts.SHA: sha, parts.DIRTY: dirty, parts.KEY: key, "metrics.eval/acc": 0.9}
                          for i, (run_id, key, sha, dirty) in enumerate(rows)])
    export(frame, path)
    return str(path)


@pytest.fixture
def here(monkeypatch):
    monkeypatch.setattr(parts, "git_state", lambda: HERE)


def test_part_of_this_commit_lists_its_cells(tmp_path, here):
    path = write_part(tmp_path / "p.csv", [("r1", "k1", HERE.sha, "false"), ("r2", "k2", HERE.sha, "false")])
    assert parts.finished_cells(parts.load_part(path)) == {"k1": "r1", "k2": "r2"}


@pytest.mark.parametrize("sha, dirty", [("b" * 40, "false"), ("a" * 40, "true")])
def test_part_of_other_code_is_refused_naming_the_commit(tmp_path, here, sha, dirty):
    path = write_part(tmp_path / "p.csv", [("r1", "k1", HERE.sha, "false"), ("r2", "k2", sha, dirty)])
    with pytest.raises(BenchError, match="continue it from a clean checkout of that commit") as error:
        parts.load_part(path)
    assert sha[:12] in str(error.value)


def test_dirty_tree_cannot_continue_a_part(tmp_path, monkeypatch):
    monkeypatch.setattr(parts, "git_state", lambda: GitState(HERE.sha, "true", "0123"))
    path = write_part(tmp_path / "p.csv", [("r1", "k1", HERE.sha, "false")])
    with pytest.raises(BenchError, match="working tree must be clean"):
        parts.load_part(path)


def test_merge_keeps_the_store_run_of_a_cell_in_both(tmp_path, here):
    part = parts.load_part(write_part(tmp_path / "p.csv", [("old1", "k1", HERE.sha, "false"),
                                                           ("old2", "k2", HERE.sha, "false")]))
    store = pd.DataFrame({"run_id": ["new2", "new3"], parts.KEY: ["k2", "k3"]})
    merged = parts.merge(store, part)
    assert sorted(merged["run_id"]) == ["new2", "new3", "old1"]
