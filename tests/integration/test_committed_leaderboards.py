"""The committed leaderboards are exactly what the committed run exports render to
(``scripts/render_leaderboards.sh``), so every number in them can be traced to a run record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.report.exports import load_export
from harness.report.leaderboard import build
from harness.report.render import render

ROOT = Path(__file__).resolve().parents[2]
EXPORTS = sorted((ROOT / "results" / "runs").glob("*.csv"))


def test_there_are_committed_exports():
    assert {p.stem for p in EXPORTS} >= {"digits", "digits-few-step", "digits-seg"}


@pytest.mark.parametrize("export", EXPORTS, ids=[p.stem for p in EXPORTS])
@pytest.mark.parametrize("fmt,suffix", [("github", "md"), ("csv", "csv"), ("latex", "tex")])
def test_committed_table_equals_its_regeneration(export, fmt, suffix):
    runs = load_export(export)
    task = str(pd.read_csv(export)["tags.dfkd.task"].iloc[0])
    committed = (ROOT / "results" / "leaderboards" / f"{export.stem}.{suffix}").read_text()
    # `bench leaderboard --output` writes render()'s text as is.
    assert render(build(runs, task=task), fmt) == committed


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("export", EXPORTS, ids=[p.stem for p in EXPORTS])
def test_committed_runs_identify_their_code_teacher_and_conditions(export):
    runs = load_export(export)
    from harness.core.registry import TASKS
    assert set(runs["tags.dfkd.git_dirty"]) == {"false"}  # every run from a clean tree ...
    assert runs["tags.dfkd.git_sha"].nunique() == 1  # ... of one commit
    task = TASKS.get(str(runs["tags.dfkd.task"].iloc[0]))
    sha = runs["tags.dfkd.teacher_sha256"]
    teacher_runs = runs[sha.notna() & (sha != "")]  # scratch loads no teacher: an empty tag
    shipped = task.shipped_teachers[str(runs["tags.dfkd.teacher"].iloc[0])]
    assert set(teacher_runs["tags.dfkd.teacher_sha256"]) == {shipped}
    assert "tags.dfkd.concurrent_jobs" not in runs.columns or set(runs["tags.dfkd.concurrent_jobs"]) == {""}
    assert runs["tags.dfkd.cpu_cores"].nunique() == 1 and runs["tags.dfkd.threads"].nunique() == 1
    seeds = runs.groupby("tags.dfkd.variant")["tags.dfkd.seed"].apply(lambda s: sorted(s.astype(int)))
    assert all(found == SEEDS for found in seeds), seeds


def test_digits_seg_table_holds_every_method_over_three_seeds():
    """The segmentation issue's committed table: data-free fast2/5/10, dafl, dfad and the baselines
    at the quick budget, seeds 0-2, on the version of the task they were run on; Fast-5 >= 0.50."""
    runs = load_export(ROOT / "results" / "runs" / "digits-seg.csv")
    assert set(runs["tags.dfkd.budget"]) == {"quick"} and set(runs["tags.dfkd.task_version"].astype(str)) == {"2"}
    seeds = runs.groupby("tags.dfkd.variant")["tags.dfkd.seed"].apply(lambda s: sorted(s.astype(int)))
    for variant in ("teacher", "scratch", "kd", "fast2", "fast5", "fast10", "dafl", "dfad"):
        assert seeds[variant] == [0, 1, 2], variant
    fast5 = runs.loc[runs["tags.dfkd.variant"] == "fast5", "metrics.best/miou"]
    assert fast5.mean() >= 0.50
