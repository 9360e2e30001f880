"""A committed table whose grid takes longer than one machine is lent for: its finished cells are
exported into a *part* file, committed, and the grid continues on the next machine from the same
commit, skipping those cells; the final export is the part plus the new runs.

A part only continues the grid of the commit that made it: its runs and the ones still to come
must have run exactly the same code, so a part from another commit (or a dirty tree) is an error
that names the commit to check out.
"""

from __future__ import annotations

import pandas as pd

from harness.core.errors import BenchError
from harness.record.provenance import git_state
from harness.report.exports import load_export

SHA, DIRTY, KEY = "tags.dfkd.git_sha", "tags.dfkd.git_dirty", "tags.dfkd.grid_key"


def load_part(path: str) -> pd.DataFrame:
    """The finished runs of a part file, checked to come from the code that runs now."""
    part = load_export(path)
    if part.empty:
        return part
    missing = [c for c in (SHA, DIRTY, KEY) if c not in part.columns]
    if missing:
        raise BenchError(f"--part {path!r} is not a bench export of runs (no {', '.join(missing)} column)")
    commits = sorted(set(part[SHA]))
    here = git_state()
    if (part[DIRTY] != "false").any() or commits != [here.sha]:
        raise BenchError(f"--part {path!r} holds runs of commit(s) {', '.join(c[:12] for c in commits)} "
                         f"(dirty: {', '.join(sorted(set(part[DIRTY])))}), this code is {here.sha[:12]} "
                         f"(dirty: {here.dirty}): continue it from a clean checkout of that commit")
    if here.dirty != "false":
        raise BenchError(f"--part {path!r} continues a committed table: the working tree must be clean "
                         f"(commit or stash the changes)")
    return part


def finished_cells(part: pd.DataFrame) -> dict[str, str]:
    """Grid key -> run id of every cell the part already holds."""
    return dict(zip(part[KEY], part["run_id"])) if not part.empty else {}


def merge(runs: pd.DataFrame, part: pd.DataFrame) -> pd.DataFrame:
    """The part's runs plus the store's; a cell in both keeps the store's run (the newer one)."""
    if part.empty:
        return runs
    if runs.empty:
        return part
    earlier = part[~part[KEY].isin(set(runs[KEY]))]
    return pd.concat([earlier, runs], ignore_index=True)
