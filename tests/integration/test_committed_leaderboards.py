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
    assert {p.stem for p in EXPORTS} >= {"digits", "digits-few-step"}


@pytest.mark.parametrize("export", EXPORTS, ids=[p.stem for p in EXPORTS])
@pytest.mark.parametrize("fmt,suffix", [("github", "md"), ("csv", "csv"), ("latex", "tex")])
def test_committed_table_equals_its_regeneration(export, fmt, suffix):
    runs = load_export(export)
    task = str(pd.read_csv(export)["tags.dfkd.task"].iloc[0])
    committed = (ROOT / "results" / "leaderboards" / f"{export.stem}.{suffix}").read_text()
    # `bench leaderboard --output` writes render()'s text as is.
    assert render(build(runs, task=task), fmt) == committed
