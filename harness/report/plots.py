"""Accuracy (or mIoU) against synthesis time: one marker per (variant, pair) with error bars over
seeds, and each pair's Pareto front (the best metric reachable within a time) as a step line.

The numbers come from ``harness.report.cells`` (the same cells as the tables), and
the directions (metric up, seconds down) from its ``METRIC_DIRECTIONS``. The real-data baselines
have no synthesis time: they are drawn as horizontal reference lines and are never on a front.
Matplotlib is imported here only, with the Agg canvas (no display needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from harness.core.errors import BenchError
from harness.report import rows as table_rows
from harness.report.cells import cells_of
from harness.report.runs import PERCENT_METRICS, higher_is_better, metric_of, tag_text, tidy

FRONT_STYLES: tuple[Literal["-", "--", ":", "-."], ...] = ("-", "--", ":", "-.")  # one per pair
POINT_COLUMNS = ["label", "variant", "pair", "budget", "x_mean", "x_std", "y_mean", "y_std", "n", "on_front"]


@dataclass
class PlotData:
    points: pd.DataFrame  # one row per plotted (variant, pair): POINT_COLUMNS; y in store units (fractions)
    references: pd.DataFrame  # baselines drawn as horizontal lines: label, variant, pair, y_mean, y_std, n
    metric: str
    png: Path
    svg: Path


def pareto_front(x: pd.Series, y: pd.Series, x_name: str = "synthesis_s", y_name: str = "acc") -> pd.Series:
    """True for the points no other point beats: at least as good on both axes and better on one."""
    sx = 1 if higher_is_better(x_name) else -1  # +1: larger is better
    sy = 1 if higher_is_better(y_name) else -1
    on = []
    for i in x.index:
        xi, yi = sx * x[i], sy * y[i]
        dominated = any(sx * x[j] >= xi and sy * y[j] >= yi and (sx * x[j] > xi or sy * y[j] > yi)
                        for j in x.index if j != i)
        on.append(not dominated)
    return pd.Series(on, index=x.index, dtype=bool)


def plot_data(runs: pd.DataFrame, task: str | None = None, budget: str | None = None,
              which: str = "best") -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The points and reference lines ``plot`` draws, without drawing them."""
    if runs is None or runs.empty:
        raise BenchError(f"nothing to plot for task {task!r}: no finished runs")
    if task is not None and "tags.dfkd.task" in runs.columns:
        tags = tag_text(runs["tags.dfkd.task"])
        runs = runs[tags.isna() | (tags == task)]
    metric = metric_of(runs)
    rows = tidy(runs, metric, which, "synthesis")
    if budget:
        rows = rows[rows["budget"] == budget]
    if rows.empty:
        raise BenchError(f"nothing to plot for task {task!r}: no finished runs"
                         + (f" of budget {budget!r}" if budget else ""))
    cells = cells_of(rows)
    baseline = cells["baseline"]
    drawable = ~baseline & cells["seconds"].gt(0) & cells["mean"].notna()
    points = cells[drawable].rename(columns={"seconds": "x_mean", "seconds_std": "x_std", "mean": "y_mean",
                                             "std": "y_std"})
    points = points.assign(on_front=False)
    for _, group in points.groupby("pair", sort=False):
        points.loc[group.index, "on_front"] = pareto_front(group["x_mean"], group["y_mean"], "synthesis_s", metric)
    order = {p: i for i, p in enumerate(table_rows.pair_order(points["pair"].unique(), task))}
    points = points.assign(_pair=points["pair"].map(order),
                           _row=[table_rows.row_key(m, v) for m, v in zip(points["method"], points["variant"])])
    points = points.sort_values(["_pair", "_row", "budget"], kind="stable")[POINT_COLUMNS].reset_index(drop=True)
    points["on_front"] = points["on_front"].astype(bool)
    references = cells[baseline].rename(columns={"mean": "y_mean", "std": "y_std"})
    all_pairs = table_rows.pair_order(cells["pair"].unique(), task)
    references = references.assign(
        _row=[table_rows.row_key(m, v) for m, v in zip(references["method"], references["variant"])],
        _pair=references["pair"].map(all_pairs.index))
    references = references.sort_values(["_row", "_pair"], kind="stable")
    references = references[["label", "variant", "pair", "y_mean", "y_std", "n"]].reset_index(drop=True)
    if points.empty:
        raise BenchError(f"nothing to plot for task {task!r}: no finished data-free runs with a synthesis time")
    return points, references, metric


def plot(runs: pd.DataFrame, task: str, output_base: Path, budget: str | None = None,
         which: str = "best") -> PlotData:
    """Draw ``task``'s runs and save ``output_base`` with the suffixes ``.png`` and ``.svg``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    points, references, metric = plot_data(runs, task, budget, which)
    scale = 100 if metric in PERCENT_METRICS else 1
    pairs = list(dict.fromkeys(points["pair"]))
    labels = list(dict.fromkeys(points["label"]))
    shapes = "osD^vP*Xh<>"
    figure = Figure(figsize=(8, 5.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colors = [f"C{i % 10}" for i in range(len(labels))]
    for _, p in points.iterrows():
        # On a log axis the lower x error bar must stay above zero.
        xerr = None if pd.isna(p["x_std"]) else [[min(p["x_std"], 0.9 * p["x_mean"])], [p["x_std"]]]
        axes.errorbar(p["x_mean"], p["y_mean"] * scale, xerr=xerr,
                      yerr=None if pd.isna(p["y_std"]) else p["y_std"] * scale,
                      fmt=shapes[pairs.index(p["pair"]) % len(shapes)], color=colors[labels.index(p["label"])],
                      markersize=7, capsize=3, markeredgecolor="black" if p["on_front"] else "none")
    for k, pair in enumerate(pairs):
        front = points[(points["pair"] == pair) & points["on_front"]].sort_values("x_mean")
        if len(front):
            axes.step(front["x_mean"], front["y_mean"] * scale, where="post", color="0.3",
                      linestyle=FRONT_STYLES[k % len(FRONT_STYLES)], linewidth=1, zorder=0)
    lines: dict[tuple[str, float], list[str]] = {}  # one line per (baseline, value), naming its pairs
    for _, r in references[references["y_mean"].notna()].iterrows():
        lines.setdefault((r["label"], round(r["y_mean"] * scale, 6)), []).append(table_rows.pair_label(r["pair"], task))
    for (label, y), names in lines.items():
        axes.axhline(y, color="0.6", linewidth=0.8, linestyle=":")
        axes.annotate(f"{label} ({', '.join(names)})", (0.995, y), xycoords=("axes fraction", "data"),
                      ha="right", va="bottom", fontsize=7, color="0.4")
    axes.set_xscale("log")
    axes.set_xlabel("synthesis time (s, log scale)")
    axes.set_ylabel({"acc": "top-1 accuracy (%)", "miou": "mIoU"}.get(metric, metric) + f" ({which} epoch)")
    axes.set_title(f"{task}: {metric} vs synthesis time (front: best {metric} within a time)")
    axes.grid(True, which="both", alpha=0.3)
    handles = [Line2D([], [], color=colors[i], marker="o", linestyle="", label=label) for i, label in enumerate(labels)]
    handles += [Line2D([], [], color="0.3", marker=shapes[k % len(shapes)],
                       linestyle=FRONT_STYLES[k % len(FRONT_STYLES)],
                       label=f"{table_rows.pair_label(pair, task)} (front)") for k, pair in enumerate(pairs)]
    axes.legend(handles=handles, fontsize=7, loc="best")
    output_base = Path(output_base)
    output_base.parent.mkdir(parents=True, exist_ok=True)
    png, svg = output_base.with_suffix(".png"), output_base.with_suffix(".svg")
    figure.savefig(png, dpi=150)
    figure.savefig(svg)
    return PlotData(points, references, metric, png, svg)


__all__ = ["PlotData", "plot", "plot_data", "pareto_front", "POINT_COLUMNS"]
