"""The committed leaderboards are exactly what the committed run exports render to
(``scripts/render_leaderboards.sh``), so every number in them can be traced to a run record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.leaderboard import build, load_export, render

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
