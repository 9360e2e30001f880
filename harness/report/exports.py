"""Export files: a runs frame written to csv or parquet and read back the same, so that committed
tables regenerate from their exports without a tracking store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.core.errors import BenchError
from harness.report.runs import FIXED_COLUMNS, as_strings, tag_text

EXPORT_SUFFIXES = (".csv", ".parquet")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise BenchError(f"unknown export format {path.name!r}: use a file ending in "
                         f"{' or '.join(EXPORT_SUFFIXES)}")
    return suffix


def export(runs: pd.DataFrame, path: str | Path) -> Path:
    """Write a runs frame (run_id, run_name, status, start_time, tags.*, params.*, metrics.*) to
    csv or parquet, chosen by the suffix; tags and params are written as strings."""
    path = Path(path)
    suffix = _suffix(path)
    columns = [c for c in FIXED_COLUMNS if c in runs.columns]
    for prefix in ("tags.", "params.", "metrics."):
        columns += sorted(c for c in runs.columns if c.startswith(prefix))
    frame = runs[columns].copy()
    for c in columns:
        if c.startswith(("tags.", "params.")) or c in ("run_id", "run_name", "status"):
            frame[c] = as_strings(frame[c])
        elif c.startswith("metrics.") or c == "start_time":
            frame[c] = pd.to_numeric(frame[c], errors="coerce")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise BenchError(f"writing parquet needs pyarrow ({exc}); use a .csv file instead") from None
    return path


def load_export(path: str | Path) -> pd.DataFrame:
    """Read a file written by ``export`` back into a runs frame like ``Tracker.runs``'s: tags and
    params strings, metrics floats, ``start_time`` integers. csv cannot tell an empty tag from a
    missing one: both read back as missing (the leaderboard treats them alike)."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise BenchError(f"export file {str(path)!r} does not exist")
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        try:
            frame = pd.read_parquet(path)
        except ImportError as exc:
            raise BenchError(f"reading parquet needs pyarrow ({exc})") from None
    for c in frame.columns:
        if c.startswith("metrics.") or c == "start_time":
            frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)  # "" -> NaN
        else:
            frame[c] = tag_text(frame[c]) if suffix == ".csv" else as_strings(frame[c])
            frame[c] = as_strings(frame[c])  # the dtype pandas infers for strings
    if "start_time" in frame.columns and frame["start_time"].notna().all():
        frame["start_time"] = frame["start_time"].astype("int64")
    return frame
