"""Stored runs (a ``Tracker.runs`` frame or a read-back export) -> one tidy row per finished run,
with the numbers tables and plots need; the direction of every ranked number.

Robust to where a frame came from: tags may be strings (store, exports) or numbers (a frame built
by hand). Units (docs/methods.md#decision-units): fractions, as stored.
"""

from __future__ import annotations

import math

import pandas as pd

from harness.core.errors import BenchError

# The direction of every number a table or plot ranks, declared once: bold cells, the Pareto
# front of the plots and anything else that asks "which is better" derive from it.
METRIC_DIRECTIONS: dict[str, str] = {
    "acc": "max", "top5": "max", "miou": "max", "pixel_acc": "max",
    "synthesis_s": "min", "kd_s": "min", "total_s": "min", "projected_paper_synthesis_h": "min",
    "speedup": "max",
}


PERCENT_METRICS = {"acc", "top5", "pixel_acc"}


WHICH = ("best", "final")


TIMES = ("synthesis", "total")


FIXED_COLUMNS = ["run_id", "run_name", "status", "start_time"]


def higher_is_better(name: str) -> bool:
    """Whether larger values of ``name`` (``acc``, ``time/synthesis_s``, ...) are better."""
    return METRIC_DIRECTIONS[name.rsplit("/", 1)[-1]] == "max"


def best_mask(values: pd.Series, name: str) -> pd.Series:
    """True where ``values`` holds the best (ties included) non-missing value for ``name``."""
    valid = values.dropna()
    if valid.empty:
        return pd.Series(False, index=values.index)
    target = valid.max() if higher_is_better(name) else valid.min()
    return values.notna() & (values == target)


def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    return runs[name] if name in runs.columns else pd.Series([None] * len(runs), index=runs.index, dtype=object)


def tag_text(values: pd.Series) -> pd.Series:
    """Tags as plain strings whatever the source (store, csv or parquet); missing or "" -> None."""
    def one(value):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            return None
        text = str(value)
        return text if text else None
    return pd.Series([one(v) for v in values], index=values.index, dtype=object)


def as_strings(values: pd.Series) -> pd.Series:
    """Values as strings ("" kept), missing as missing; the dtype pandas infers, as ``Tracker.runs``."""
    def one(value):
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None
        return str(value)
    converted = [one(v) for v in values]
    if all(v is None for v in converted):  # nothing to infer from
        return pd.Series(math.nan, index=values.index, dtype=float)
    return pd.Series(converted, index=values.index)


def metric_of(runs: pd.DataFrame) -> str:
    """``miou`` for segmentation runs (a ``best/miou`` or ``final/miou`` metric), else ``acc``."""
    for which in WHICH:
        name = f"metrics.{which}/miou"
        if name in runs.columns and runs[name].notna().any():
            return "miou"
    return "acc"


def check_selection(which: str, time: str) -> None:
    if which not in WHICH:
        raise BenchError(f"invalid metric selection {which!r}: use one of {', '.join(WHICH)}")
    if time not in TIMES:
        raise BenchError(f"invalid time {time!r}: use one of {', '.join(TIMES)}")


# Deviation notes recorded before docs/methods.md existed cite sections of a specification users
# do not have; tables show them with the anchors of docs/methods.md that describe the same
# decisions (the text current code records), the record itself unchanged.
LEGACY_CITATIONS = {
    "(spec §12, §8.5 proposal for Fast)":
        "(docs/methods.md#decision-embedded-tasks, docs/methods.md#data-free-segmentation proposal for Fast)",
    "generator and budgets chosen (spec §12)":
        "generator and budgets chosen (docs/methods.md#decision-budgets-and-schedule-scaling)",
    "lr_g 1e-3, lr_z 0.01 chosen (spec §12)": "lr_g 1e-3, lr_z 0.01 chosen (docs/methods.md#decision-lr-schedule)",
    "Fast-5's settings chosen (spec §2.2)": "Fast-5's settings chosen (docs/methods.md#fast-sequential)",
    "(spec §12)": "(docs/methods.md#decisions)",
    "schedules scaled (§12)": "schedules scaled (docs/methods.md#decision-budgets-and-schedule-scaling)",
}


def current_citations(deviations: str) -> str:
    for old, new in LEGACY_CITATIONS.items():
        deviations = deviations.replace(old, new)
    return deviations


def tidy(runs: pd.DataFrame, metric: str, which: str = "best", time: str = "synthesis") -> pd.DataFrame:
    """One row per finished run with the numbers a leaderboard needs.

    Robust to where the frame came from: tags may be strings (store, exports) or numbers (a frame
    built by hand). A seed that ran more than once counts once: its latest run.
    """
    check_selection(which, time)
    if "status" in runs.columns:
        status = tag_text(runs["status"])
        runs = runs[status.isna() | (status == "FINISHED")]
    variant, method = tag_text(_column(runs, "tags.dfkd.variant")), tag_text(_column(runs, "tags.dfkd.method"))
    variant = variant.where(variant.notna(), method)
    method = method.where(method.notna(), variant.map(lambda v: v.split(":")[0] if v else None))
    deviations = tag_text(_column(runs, "tags.dfkd.deviations")).map(current_citations, na_action="ignore")
    rows = pd.DataFrame({
        "variant": variant, "method": method, "pair": tag_text(_column(runs, "tags.dfkd.pair")),
        "budget": tag_text(_column(runs, "tags.dfkd.budget")).fillna(""),
        "task": tag_text(_column(runs, "tags.dfkd.task")),
        "seed": pd.to_numeric(_column(runs, "tags.dfkd.seed"), errors="coerce").astype("Int64"),
        "start_time": pd.to_numeric(_column(runs, "start_time"), errors="coerce"),
        "value": pd.to_numeric(_column(runs, f"metrics.{which}/{metric}"), errors="coerce").astype(float),
        "seconds": pd.to_numeric(_column(runs, f"metrics.time/{time}_s"), errors="coerce").astype(float),
        "projected_h": pd.to_numeric(_column(runs, "metrics.time/projected_paper_synthesis_h"),
                                     errors="coerce").astype(float),
        "images": pd.to_numeric(_column(runs, "metrics.synth/images"), errors="coerce").astype(float),
        "device": tag_text(_column(runs, "tags.dfkd.device")),
        "deviations": deviations.where(deviations.notna(), "none"),
        "teacher_metric": pd.to_numeric(_column(runs, "tags.dfkd.teacher_metric"), errors="coerce").astype(float),
    }, index=runs.index)
    rows = rows[rows["variant"].notna() & rows["pair"].notna()]
    rows = rows.sort_values("start_time", kind="stable", na_position="first")
    seeded = rows[rows["seed"].notna()].drop_duplicates(["variant", "pair", "budget", "seed"], keep="last")
    return pd.concat([seeded, rows[rows["seed"].isna()]]).reset_index(drop=True)
