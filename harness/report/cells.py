"""Tidy rows -> cells: the mean and sample std over seeds of each (variant, budget, pair), the
teacher's row from the runs' tags, the speed-up column and the row labels. Tables and plots take
their numbers from here."""

from __future__ import annotations

import math

import pandas as pd

from harness.core.registry import BASELINES, METHODS
from harness.report.rows import is_baseline, is_teacher, speedup_reference, teacher_name


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof 1) over seeds per (variant, budget, pair)."""
    if rows.empty:
        return pd.DataFrame(columns=["variant", "method", "pair", "budget", "task", "mean", "std", "n", "seconds",
                                     "seconds_std", "projected_h", "images", "deviations", "deviation_notes"])
    grouped = rows.groupby(["variant", "budget", "pair"], sort=False, dropna=False)
    cells = grouped.agg(
        method=("method", "first"), task=("task", "first"),
        mean=("value", "mean"), std=("value", lambda v: v.std(ddof=1)), n=("value", "count"),
        seconds=("seconds", "mean"), seconds_std=("seconds", lambda v: v.std(ddof=1)),
        projected_h=("projected_h", "mean"), images=("images", "mean"),
        deviation_notes=("deviations", lambda d: tuple(sorted({x for x in d if x != "none"}))),
    ).reset_index()
    cells["n"] = cells["n"].astype(int)
    cells["deviations"] = cells["deviation_notes"].map(bool)
    return cells


def teacher_cells(rows: pd.DataFrame) -> pd.DataFrame:
    """The teacher row from the runs' ``dfkd.teacher_metric`` tags (the latest run's, per pair)."""
    known = rows[rows["teacher_metric"].notna()]
    if known.empty:
        return pd.DataFrame()
    latest = known.groupby("pair", sort=False).last()  # rows are sorted by start time
    return pd.DataFrame({
        "variant": teacher_name(), "method": teacher_name(), "pair": latest.index, "budget": "",
        "task": latest["task"].values, "mean": latest["teacher_metric"].values, "std": math.nan, "n": 1,
        "seconds": math.nan, "seconds_std": math.nan, "projected_h": math.nan, "images": math.nan,
        "deviation_notes": [()] * len(latest), "deviations": False, "from_tag": True})


def speedups(cells: pd.DataFrame) -> pd.Series:
    """Per (variant, budget): mean over pairs of the reference method's (DeepInv's) projected hours
    / the variant's."""
    reference = cells[cells["variant"] == speedup_reference()].groupby("pair")["projected_h"].mean()
    result = {}
    for key, group in cells.groupby(["variant", "budget"], sort=False):
        ratios = [reference[p] / h for p, h in zip(group["pair"], group["projected_h"])
                  if p in reference.index and pd.notna(h) and h > 0 and pd.notna(reference[p]) and reference[p] > 0]
        result[key] = sum(ratios) / len(ratios) if ratios else math.nan
    return pd.Series(result, dtype=float)


def reference_label() -> str:
    reference = speedup_reference()
    return METHODS.label(reference) if reference else "the reference method"


def label_of(variant: str, budget: str, several_budgets: bool) -> str:
    name = BASELINES.label(variant) if is_teacher(variant) else variant
    return f"{name} @{budget}" if several_budgets and budget else name


def cells_of(rows: pd.DataFrame) -> pd.DataFrame:
    """The cells of tidy rows: aggregates, the teacher's row from the runs' tags when no run of
    the teacher baseline is among them (``from_tag``), each row's label and whether it is a
    baseline."""
    cells = aggregate(rows)
    cells["from_tag"] = False
    if not cells["method"].map(is_teacher).any():  # a run of the teacher baseline replaces the tags' row
        tagged = teacher_cells(rows)
        if not tagged.empty:
            cells = pd.concat([tagged, cells], ignore_index=True)
    several = rows["budget"].nunique() > 1
    cells["label"] = [label_of(v, b, several) for v, b in zip(cells["variant"], cells["budget"])]
    cells["baseline"] = cells["method"].map(is_baseline)
    return cells
