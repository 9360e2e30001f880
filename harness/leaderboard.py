"""Runs (read back from MLflow) -> pandas -> leaderboard tables in the paper's layout.

Rows: the teacher, then baselines, then data-free method variants; columns: teacher/student
pairs; cells: metric mean +- sample std over seeds (with the seed count) and synthesis time.
The speed-up column is the paper's: the mean over pairs of DeepInv's projected paper-budget
hours divided by the method's (spec §1.6 and §12), so it means the same at every budget.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd
from tabulate import tabulate

# The direction of every metric, declared once: sorting, "best" and plots derive from it.
HIGHER_IS_BETTER = {"acc": True, "top5": True, "miou": True, "pixel_acc": True,
                    "synthesis_s": False, "total_s": False, "projected_paper_synthesis_h": False}
PERCENT_METRICS = {"acc", "top5", "pixel_acc"}
ROW_ORDER = ["teacher", "scratch", "kd", "deepinv", "cmi", "dafl", "zskt", "dfq", "dfad",
             "fast", "fast2", "fast5", "fast10", "fast50"]
BASELINE_NAMES = {"teacher", "scratch", "kd"}
REFERENCE_METHOD = "deepinv"


@dataclass
class Leaderboard:
    cells: pd.DataFrame  # one row per (variant, pair): numbers
    table: pd.DataFrame  # the display table (strings)
    metric: str


def metric_of(runs: pd.DataFrame) -> str:
    return "miou" if "metrics.best/miou" in runs.columns and runs["metrics.best/miou"].notna().any() else "acc"


def tidy(runs: pd.DataFrame, metric: str, which: str = "best", time: str = "synthesis") -> pd.DataFrame:
    """One row per run with the numbers a leaderboard needs."""
    def col(name: str) -> pd.Series:
        return runs[name] if name in runs.columns else pd.Series([math.nan] * len(runs), index=runs.index)

    return pd.DataFrame({
        "variant": col("tags.dfkd.variant"), "method": col("tags.dfkd.method"), "pair": col("tags.dfkd.pair"),
        "seed": col("tags.dfkd.seed"), "budget": col("tags.dfkd.budget"),
        "value": pd.to_numeric(col(f"metrics.{which}/{metric}")),
        "seconds": pd.to_numeric(col(f"metrics.time/{time}_s")),
        "projected_h": pd.to_numeric(col("metrics.time/projected_paper_synthesis_h")),
        "images": pd.to_numeric(col("metrics.synth/images")),
        "deviations": col("tags.dfkd.deviations").fillna("none"),
        "teacher_metric": pd.to_numeric(col("tags.dfkd.teacher_metric"), errors="coerce"),
        "teacher": col("tags.dfkd.teacher"), "student": col("tags.dfkd.student"),
    })


def aggregate(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample std (ddof 1) over seeds per (variant, pair)."""
    grouped = rows.groupby(["variant", "method", "pair"], sort=False)
    cells = grouped.agg(mean=("value", "mean"), std=("value", lambda v: v.std(ddof=1)), n=("value", "count"),
                        seconds=("seconds", "mean"), projected_h=("projected_h", "mean"),
                        images=("images", "mean"),
                        deviations=("deviations", lambda d: any(x != "none" for x in d))).reset_index()
    return cells


def speedups(cells: pd.DataFrame) -> dict[str, float]:
    """Per variant: mean over pairs of DeepInv's projected hours / the variant's projected hours."""
    reference = cells[cells["variant"] == REFERENCE_METHOD].set_index("pair")["projected_h"]
    result = {}
    for variant, group in cells.groupby("variant", sort=False):
        ratios = [reference[p] / h for p, h in zip(group["pair"], group["projected_h"])
                  if p in reference.index and h > 0 and not math.isnan(h)]
        result[variant] = sum(ratios) / len(ratios) if ratios else math.nan
    return result


def format_seconds(seconds: float) -> str:
    if math.isnan(seconds):
        return ""
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.2f}h"


def format_value(mean: float, std: float, n: int, metric: str) -> str:
    scale, digits = (100, 1) if metric in PERCENT_METRICS else (1, 3)
    text = f"{mean * scale:.{digits}f}"
    if n > 1 and not math.isnan(std):
        text += f" ± {std * scale:.{digits}f}"
    return text + (f" (n={n})" if n > 1 else "")


def sort_key(variant: str) -> tuple[int, str]:
    base = variant.split(":")[0]
    return (ROW_ORDER.index(base) if base in ROW_ORDER else len(ROW_ORDER), variant)


def build(runs: pd.DataFrame, budget: str | None = None, which: str = "best", time: str = "synthesis") -> Leaderboard:
    if runs.empty:
        return Leaderboard(pd.DataFrame(), pd.DataFrame(), "acc")
    metric = metric_of(runs)
    rows = tidy(runs, metric, which, time)
    if budget:
        rows = rows[rows["budget"] == budget]
    cells = aggregate(rows)
    pairs = list(dict.fromkeys(cells["pair"]))
    ratio = speedups(cells)
    table_rows = []
    teacher = rows.groupby("pair")["teacher_metric"].first()
    if teacher.notna().any() and "teacher" not in set(cells["variant"]):  # else the baseline row says it
        table_rows.append({"Method": "Teacher", **{p: format_value(teacher.get(p, math.nan), math.nan, 1, metric)
                                                    for p in pairs}})
    for variant in sorted(cells["variant"].unique(), key=sort_key):
        group = cells[cells["variant"] == variant].set_index("pair")
        row = {"Method": variant}
        for p in pairs:
            if p not in group.index:
                row[p] = ""
                continue
            c = group.loc[p]
            cell = format_value(c["mean"], c["std"], int(c["n"]), metric)
            if variant.split(":")[0] not in BASELINE_NAMES:
                cell += f" [{format_seconds(c['seconds'])}]"
            row[p] = cell + ("*" if c["deviations"] else "")
        speed = ratio.get(variant, math.nan)
        row["Speed-up"] = "" if math.isnan(speed) else f"{speed:.1f}x"
        row["Images"] = f"{group['images'].mean():,.0f}" if group["images"].notna().any() else ""
        table_rows.append(row)
    table = pd.DataFrame(table_rows).fillna("")
    return Leaderboard(cells, table, metric)


FOOTNOTE = "* the run departs from the reference implementation: see its dfkd.deviations tag."


def render(board: Leaderboard, fmt: str) -> str:
    """Render as github (markdown), csv, latex (booktabs), html or json."""
    if board.table.empty:
        return "no finished runs" if fmt != "json" else "[]"
    if fmt == "csv":
        return board.table.to_csv(index=False)
    if fmt == "json":
        return json.dumps(json.loads(board.cells.to_json(orient="records")), indent=2)
    tablefmt = {"github": "github", "latex": "latex_booktabs", "html": "html"}[fmt]
    text = tabulate(board.table, headers="keys", tablefmt=tablefmt, showindex=False, disable_numparse=True)
    caption = f"{board.metric}: mean ± std over seeds [synthesis time]"
    if fmt == "github":
        return f"{text}\n\n{caption}. {FOOTNOTE}\n"
    return text + "\n"
